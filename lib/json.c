/*
 * Strict JSON objects (see faultline/json.h).
 */
#include <stddef.h>
#include <string.h>

#include "faultline/json.h"

const json_t *fl_json_find(const json_t *arr, const char *key, const char *value)
{
    const json_t *o;
    size_t i;

    json_array_foreach(arr, i, o)
    {
        const char *s = json_string_value(json_object_get(o, key));

        if (s && strcmp(s, value) == 0)
            return o;
    }
    return NULL;
}

const char *fl_json_unknown_key(const json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    size_t i;

    json_object_foreach((json_t *)obj, key, v)
    {
        for (i = 0; allowed[i] != NULL; i++)
            if (strcmp(allowed[i], key) == 0)
                break;
        if (allowed[i] == NULL)
            return key;
    }
    return NULL;
}
