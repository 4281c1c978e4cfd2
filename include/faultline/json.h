/*
 * Strict JSON objects: every request body and spec is checked against the
 * keys it may hold, so a misspelt key is an error instead of a default.
 */
#ifndef FAULTLINE_JSON_H
#define FAULTLINE_JSON_H

#include <jansson.h>

/*
 * The first key of obj that is not in allowed (NULL-terminated), or NULL
 * when every key is known (or obj is not an object). The result points
 * into obj. Callers word the error their own way ("unknown key", "unknown
 * field") and may add fl_hint_nearest(key, allowed).
 */
const char *fl_json_unknown_key(const json_t *obj, const char *const *allowed);

/*
 * The first object of array arr whose string member key equals value
 * (report.json's "verifiers" by "name", summary.json's "experiments" by
 * "experiment"), or NULL. Borrowed reference into arr; arr may be NULL.
 */
const json_t *fl_json_find(const json_t *arr, const char *key, const char *value);

#endif
