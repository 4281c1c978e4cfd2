/*
 * faults.jsonl read into memory: short (one line per fault), so read with
 * jansson, a tree per line. Names "path:line: what" for every bad line and
 * never keeps a half-parsed fault. history.jsonl is history_read.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "faultline/err.h"
#include "faultline/history.h"

int hist_json_i64(struct json_t *o, const char *k, bool required, int64_t *v, const char **why)
{
    json_t *x = json_object_get(o, k);

    if (x == NULL || json_is_null(x)) {
        if (required) {
            *why = "missing";
            return -1;
        }
        *v = 0;
        return 0;
    }
    if (!json_is_integer(x)) {
        *why = "must be an integer";
        return -1;
    }
    *v = (int64_t)json_integer_value(x);
    return 0;
}

int hist_json_str(struct json_t *o, const char *k, bool required, const char **v, const char **why)
{
    json_t *x = json_object_get(o, k);

    if (x == NULL || json_is_null(x)) {
        if (required) {
            *why = "missing";
            return -1;
        }
        *v = "";
        return 0;
    }
    if (!json_is_string(x)) {
        *why = "must be a string";
        return -1;
    }
    *v = json_string_value(x);
    return 0;
}

static bool line_blank(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    return *s == '\0';
}

int hist_jsonl_each(const char *path, hist_jsonl_fn fn, void *arg, struct fl_err *err)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t cap = 0, line = 0;
    ssize_t len;
    int r = 0;

    if (f == NULL)
        return fl_errf(err, -errno, "%s: %s", path, strerror(errno));
    while ((len = getline(&buf, &cap, f)) >= 0) {
        json_error_t je;
        json_t *o;

        line++;
        if (line_blank(buf))
            continue;
        o = json_loadb(buf, (size_t)len, JSON_REJECT_DUPLICATES, &je);
        if (o == NULL) {
            r = fl_errf(err, -EINVAL, "%s:%zu: bad JSON: %s", path, line, je.text);
            break;
        }
        r = fn(o, arg, path, line, err);
        json_decref(o);
        if (r < 0)
            break;
    }
    if (r == 0 && ferror(f))
        r = fl_errf(err, -EIO, "%s: read error", path);
    free(buf);
    fclose(f);
    return r;
}

static int copy_name(char *dst, size_t cap, json_t *o, const char *k, bool required,
                     const char **why)
{
    const char *s;

    if (hist_json_str(o, k, required, &s, why) < 0)
        return -1;
    if (strlen(s) >= cap) {
        *why = "too long";
        return -1;
    }
    strcpy(dst, s);
    return 0;
}

static int fault_line(json_t *o, void *arg, const char *path, size_t line, struct fl_err *err)
{
    struct hist_faults *fs = arg;
    struct hist_fault f;
    const char *why = NULL, *field;
    int r;

    memset(&f, 0, sizeof(f));
    if (!json_is_object(o))
        return fl_errf(err, -EINVAL, "%s:%zu: expected a JSON object", path, line);
    field = "id";
    if (copy_name(f.id, sizeof(f.id), o, field, true, &why) < 0)
        goto bad;
    if (f.id[0] == '\0') {
        why = "must not be empty";
        goto bad;
    }
    field = "kind";
    if (copy_name(f.kind, sizeof(f.kind), o, field, false, &why) < 0)
        goto bad;
    field = "scope";
    if (copy_name(f.scope, sizeof(f.scope), o, field, false, &why) < 0)
        goto bad;
    field = "apply_sent_ns";
    if (hist_json_i64(o, field, true, &f.apply_sent_ns, &why) < 0)
        goto bad;
    field = "apply_done_ns";
    if (hist_json_i64(o, field, true, &f.apply_done_ns, &why) < 0)
        goto bad;
    if (f.apply_done_ns < f.apply_sent_ns) {
        why = "is before apply_sent_ns";
        goto bad;
    }
    field = "heal_sent_ns";
    if (hist_json_i64(o, field, false, &f.heal_sent_ns, &why) < 0)
        goto bad;
    field = "heal_done_ns";
    if (hist_json_i64(o, field, false, &f.heal_done_ns, &why) < 0)
        goto bad;
    if ((f.heal_sent_ns == 0) != (f.heal_done_ns == 0)) {
        field = "heal_done_ns";
        why = "and heal_sent_ns must both be set or both be absent";
        goto bad;
    }
    if (f.heal_sent_ns != 0 && f.heal_sent_ns < f.apply_sent_ns) {
        field = "heal_sent_ns";
        why = "is before apply_sent_ns";
        goto bad;
    }
    if (f.heal_done_ns < f.heal_sent_ns) {
        field = "heal_done_ns";
        why = "is before heal_sent_ns";
        goto bad;
    }
    if ((r = hist_faults_append(fs, &f)) < 0)
        return fl_errf(err, r, "%s:%zu: out of memory", path, line);
    return 0;
bad:
    return fl_errf(err, -EINVAL, "%s:%zu: \"%s\" %s", path, line, field, why);
}

int hist_faults_load_jsonl(const char *path, struct hist_faults *fs, struct fl_err *err)
{
    return hist_jsonl_each(path, fault_line, fs, err);
}
