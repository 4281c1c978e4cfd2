/*
 * Adapter between the experiment parser and the verifiers. The parser keeps
 * verify: in a YAML-shaped JSON (durations as integer milliseconds,
 * availability keyed by phase first, one shared sustain/grace); the verifiers
 * read duration strings, availability floors keyed by class first, and a
 * sustain/grace per verifier. Converting here keeps both sides simple and
 * lets `faultline validate` report verifier-level errors with file:line:col.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "verify_cfg.h"

/* Integer ms -> "Nms" at the keys the parser converts (every VT_DUR key). */
static json_t *dur(const json_t *v)
{
    char b[32];

    if (!json_is_integer(v))
        return json_deep_copy(v);
    snprintf(b, sizeof(b), "%lldms", (long long)json_integer_value(v));
    return json_string(b);
}

static bool is_dur_key(const char *k)
{
    static const char *const keys[] = {"max",   "window", "max_window", "max_lag",
                                       "grace", "start",  NULL};
    size_t i;

    for (i = 0; keys[i] != NULL; i++)
        if (strcmp(k, keys[i]) == 0)
            return true;
    return false;
}

/* Copy an object converting duration keys, recursively. */
static json_t *conv(const json_t *o)
{
    json_t *out, *v;
    const char *k;

    if (!json_is_object(o))
        return json_deep_copy(o);
    out = json_object();
    json_object_foreach((json_t *)o, k, v)
    {
        if (is_dur_key(k))
            json_object_set_new(out, k, dur(v));
        else
            json_object_set_new(out, k, conv(v));
    }
    return out;
}

json_t *exp_verify_json(const struct experiment *exp)
{
    const json_t *in = exp->verify, *sus = json_object_get(in, "sustain"),
                 *grace = json_object_get(in, "grace");
    json_t *out = json_object(), *v;
    const char *k;

    json_object_foreach((json_t *)in, k, v)
    {
        if (strcmp(k, "sustain") == 0 || strcmp(k, "grace") == 0)
            continue;
        if (strcmp(k, "availability") == 0) {
            json_t *floors = json_object(), *cls, *ratio;
            const char *phase, *c;

            json_object_foreach(v, phase, cls)
            {
                json_object_foreach(cls, c, ratio)
                {
                    json_t *per = json_object_get(floors, c);

                    if (per == NULL) {
                        per = json_object();
                        json_object_set_new(floors, c, per);
                    }
                    json_object_set(per, phase, ratio);
                }
            }
            json_object_set_new(out, k, json_pack("{s:o}", "floors", floors));
            continue;
        }
        json_object_set_new(out, k, conv(v));
    }
    /* The shared sustain/grace apply where a verifier has none of its own. */
    if (sus != NULL) {
        static const char *const with_sustain[] = {"failover", "failback", NULL};
        size_t i;

        for (i = 0; with_sustain[i] != NULL; i++) {
            json_t *sec = json_object_get(out, with_sustain[i]);

            if (sec != NULL && json_object_get(sec, "sustain") == NULL)
                json_object_set_new(sec, "sustain", conv(sus));
        }
    }
    if (grace != NULL) {
        json_t *ro = json_object_get(out, "read_only");

        if (ro != NULL && json_object_get(ro, "grace") == NULL)
            json_object_set_new(ro, "grace", dur(grace));
    }
    return out;
}

int exp_verify_config(const struct experiment *exp, struct vfy_config *cfg, struct fl_err *err)
{
    struct fl_err e;
    json_t *j;
    int r, line = 0, col = 0;

    vfy_config_init_defaults(cfg);
    if (exp->verify == NULL)
        return 0;
    j = exp_verify_json(exp);
    if (j == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    fl_err_clear(&e);
    r = vfy_config_from_json(j, cfg, &e);
    json_decref(j);
    if (r < 0) {
        /* The verifiers name "section.key"; point at it in the file if we can. */
        char ptr[FL_ERR_MAX + 2], *p;
        size_t i;

        snprintf(ptr, sizeof(ptr), "/%s", e.msg);
        p = strchr(ptr, ':');
        if (p != NULL)
            *p = '\0';
        for (i = 0; ptr[i] != '\0'; i++)
            if (ptr[i] == '.')
                ptr[i] = '/';
        while (experiment_verify_mark(exp, ptr, &line, &col) < 0 && (p = strrchr(ptr, '/')) &&
               p != ptr)
            *p = '\0';
        if (line > 0)
            return fl_errf(err, -EINVAL, "%s:%d:%d: verify: %s", exp->file, line, col, e.msg);
        return fl_errf(err, -EINVAL, "%s: verify: %s", exp->file, e.msg);
    }
    return 0;
}
