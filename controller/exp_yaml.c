/*
 * Reading experiment files, the parts every section uses: positions of YAML
 * nodes and the one error format ("file:line:col: message"), structure checks
 * (a mapping, a list, known and required keys with a "did you mean" hint),
 * and typed scalars (string, name, integer, number, boolean, duration, rate,
 * enum). Each getter checks one value and explains what it found.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

#include "exp_int.h"
#include "faultline/hint.h"
#include "faultline/timeutil.h"

/*
 * snprintf for paths and names that may be cut short on purpose: a message
 * naming "faults[3].groups[1][0]" is bounded, and a truncated path is better
 * than none (and keeps -Wformat-truncation quiet about it).
 */
void pathf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}
/* ---- parse context and errors ------------------------------------------ */

/* 1-based position of a node: its scalar token, or the first scalar inside it. */
void node_pos(struct fy_node *n, int *line, int *col)
{
    int guard = 0;

    *line = 0;
    *col = 0;
    while (n != NULL && guard++ < 64) {
        void *it = NULL;

        switch (fy_node_get_type(n)) {
        case FYNT_SCALAR: {
            struct fy_token *t = fy_node_get_scalar_token(n);
            const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;

            if (m != NULL) {
                *line = m->line + 1;
                *col = m->column + 1;
            }
            return;
        }
        case FYNT_MAPPING: {
            struct fy_node_pair *pair = fy_node_mapping_iterate(n, &it);

            n = pair ? fy_node_pair_key(pair) : NULL;
            break;
        }
        case FYNT_SEQUENCE:
            n = fy_node_sequence_iterate(n, &it);
            break;
        default:
            return;
        }
    }
}

/*
 * Record "file:line:column: message" at node at (or at fallback when at has
 * no position, e.g. an empty value). Returns -EINVAL.
 */
int perr(struct pctx *p, struct fy_node *at, struct fy_node *fallback, const char *fmt, ...)
{
    char msg[FL_ERR_MAX];
    int line, col;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    node_pos(at, &line, &col);
    if (line == 0)
        node_pos(fallback, &line, &col);
    if (line == 0) {
        line = 1;
        col = 1;
    }
    return fl_errf(p->err, -EINVAL, "%s:%d:%d: %s", p->file, line, col, msg);
}

bool is_null(struct fy_node *n)
{
    const char *s;

    if (n == NULL)
        return true;
    if (fy_node_get_type(n) != FYNT_SCALAR || fy_node_get_style(n) != FYNS_PLAIN)
        return false;
    s = fy_node_get_scalar0(n);
    return s == NULL || *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0;
}

/* What a node is, for "found ..." in messages. */
const char *found(struct fy_node *n, char *buf, size_t len)
{
    const char *s;

    if (is_null(n))
        return "nothing";
    if (fy_node_get_type(n) == FYNT_MAPPING)
        return "a mapping";
    if (fy_node_get_type(n) == FYNT_SEQUENCE)
        return "a list";
    s = fy_node_get_scalar0(n);
    snprintf(buf, len, "'%.60s%s'", s ? s : "", s && strlen(s) > 60 ? "..." : "");
    return buf;
}

const char *joined(const char *const *list, char *buf, size_t len)
{
    size_t i, off = 0;

    buf[0] = '\0';
    for (i = 0; list[i] != NULL && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", list[i]);
    return buf;
}

const char *key_text(struct fy_node *k)
{
    const char *s = k && fy_node_get_type(k) == FYNT_SCALAR ? fy_node_get_scalar0(k) : NULL;

    return s ? s : "";
}

/* ---- structure checks -------------------------------------------------- */

int expect_map(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path)
{
    char b[80];

    if (v != NULL && fy_node_get_type(v) == FYNT_MAPPING)
        return 0;
    return perr(p, v, k, "%s: expected a mapping, found %s", path, found(v, b, sizeof(b)));
}

int expect_seq(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path)
{
    char b[80];

    if (v != NULL && fy_node_get_type(v) == FYNT_SEQUENCE)
        return 0;
    return perr(p, v, k, "%s: expected a list, found %s", path, found(v, b, sizeof(b)));
}

/* Value of key in map (and the key node into *kn), or NULL. */
struct fy_node *map_get(struct fy_node *map, const char *key, struct fy_node **kn)
{
    struct fy_node_pair *pair;
    void *it = NULL;

    if (kn)
        *kn = NULL;
    while ((pair = fy_node_mapping_iterate(map, &it)) != NULL) {
        if (strcmp(key_text(fy_node_pair_key(pair)), key) == 0) {
            if (kn)
                *kn = fy_node_pair_key(pair);
            return fy_node_pair_value(pair);
        }
    }
    return NULL;
}

bool in_list(const char *s, const char *const *list)
{
    size_t i;

    for (i = 0; list && list[i] != NULL; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/*
 * Every key of map must be in allowed, and every key in required present.
 * at is the key that holds map (for "missing" errors); what names the section
 * in messages ("workload", "the file" for the root).
 */
int map_check(struct pctx *p, struct fy_node *map, struct fy_node *at, const char *what,
              const char *const *allowed, const char *const *required)
{
    struct fy_node_pair *pair;
    void *it = NULL;
    char list[512];
    size_t i;

    while ((pair = fy_node_mapping_iterate(map, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(pair);
        const char *name, *near;

        if (k == NULL || fy_node_get_type(k) != FYNT_SCALAR)
            return perr(p, k, fy_node_pair_value(pair), "%s: keys must be plain words", what);
        name = key_text(k);
        if (in_list(name, allowed))
            continue;
        near = fl_hint_nearest(name, allowed);
        if (near != NULL)
            return perr(p, k, NULL, "unknown key '%s' in %s (did you mean '%s'?)", name, what,
                        near);
        return perr(p, k, NULL, "unknown key '%s' in %s; expected one of: %s", name, what,
                    joined(allowed, list, sizeof(list)));
    }
    for (i = 0; required && required[i] != NULL; i++) {
        struct fy_node *kn;

        if (map_get(map, required[i], &kn) == NULL && kn == NULL)
            return perr(p, at, map, "%s: missing required key '%s'", what, required[i]);
    }
    return 0;
}

/* ---- typed scalars ----------------------------------------------------- */

int get_str(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
            const char **out)
{
    char b[80];

    if (v == NULL || fy_node_get_type(v) != FYNT_SCALAR || is_null(v) ||
        (*out = fy_node_get_scalar0(v)) == NULL)
        return perr(p, v, k, "%s: expected a string, found %s", path, found(v, b, sizeof(b)));
    return 0;
}

bool name_ok(const char *s, size_t max, bool allow_dot)
{
    size_t i, n = strlen(s);

    if (n == 0 || n >= max || !isalnum((unsigned char)s[0]))
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!isalnum(c) && c != '-' && c != '_' && !(allow_dot && c == '.'))
            return false;
    }
    return true;
}

/* A name: letters, digits, '-' and '_', starting with a letter or digit, < max. */
int get_name(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path, size_t max,
             char *out)
{
    const char *s;
    int rc = get_str(p, v, k, path, &s);

    if (rc < 0)
        return rc;
    if (!name_ok(s, max, false))
        return perr(p, v, k,
                    "%s: bad name '%s': expected letters, digits, '-' or '_' (at most %zu "
                    "characters, starting with a letter or digit)",
                    path, s, max - 1);
    snprintf(out, max, "%s", s);
    return 0;
}

int get_uint(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
             unsigned long long min, unsigned long long max, unsigned long long *out)
{
    const char *s = NULL;
    char b[80], *end;
    unsigned long long x;

    if (v != NULL && fy_node_get_type(v) == FYNT_SCALAR && !is_null(v))
        s = fy_node_get_scalar0(v);
    if (s == NULL || !isdigit((unsigned char)s[0]))
        goto bad;
    errno = 0;
    x = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0 || x < min || x > max)
        goto bad;
    *out = x;
    return 0;
bad:
    if (min == 1 && max >= 1000000)
        return perr(p, v, k, "%s: expected a positive integer, found %s", path,
                    found(v, b, sizeof(b)));
    return perr(p, v, k, "%s: expected an integer from %llu to %llu, found %s", path, min, max,
                found(v, b, sizeof(b)));
}

int get_number(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path, double min,
               double max, bool min_open, double *out)
{
    const char *s = NULL;
    char b[80], *end;
    double x;

    if (v != NULL && fy_node_get_type(v) == FYNT_SCALAR && !is_null(v))
        s = fy_node_get_scalar0(v);
    if (s == NULL || (!isdigit((unsigned char)s[0]) && s[0] != '.'))
        goto bad;
    errno = 0;
    x = strtod(s, &end);
    if (*end != '\0' || errno != 0 || x > max || x < min || (min_open && x == min))
        goto bad;
    *out = x;
    return 0;
bad:
    return perr(p, v, k, "%s: expected a number %s %g and <= %g, found %s", path,
                min_open ? ">" : ">=", min, max, found(v, b, sizeof(b)));
}

int get_bool(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path, bool *out)
{
    const char *s = NULL;
    char b[80];

    if (v != NULL && fy_node_get_type(v) == FYNT_SCALAR && fy_node_get_style(v) == FYNS_PLAIN)
        s = fy_node_get_scalar0(v);
    if (s != NULL && strcmp(s, "true") == 0)
        *out = true;
    else if (s != NULL && strcmp(s, "false") == 0)
        *out = false;
    else
        return perr(p, v, k, "%s: expected true or false, found %s", path, found(v, b, sizeof(b)));
    return 0;
}

/* The text of scalar v, or an error "path: expected <what>, found ...". */
static int get_text(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
                    const char *what, const char **s)
{
    char b[80];

    *s = NULL;
    if (v != NULL && fy_node_get_type(v) == FYNT_SCALAR && !is_null(v))
        *s = fy_node_get_scalar0(v);
    if (*s == NULL)
        return perr(p, v, k, "%s: expected %s, found %s", path, what, found(v, b, sizeof(b)));
    return 0;
}

int get_duration(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
                 int64_t *ns)
{
    struct fl_err e = {0};
    const char *s;
    int rc;

    if ((rc = get_text(p, v, k, path, "a duration such as 250ms, 10s or 3m", &s)) < 0)
        return rc;
    return fl_duration_parse(s, ns, &e) < 0 ? perr(p, v, k, "%s: %s", path, e.msg) : 0;
}

int get_rate(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path, double *per_s)
{
    struct fl_err e = {0};
    const char *s;
    int rc;

    if ((rc = get_text(p, v, k, path, "a rate such as 500/s", &s)) < 0)
        return rc;
    return fl_rate_parse(s, per_s, &e) < 0 ? perr(p, v, k, "%s: %s", path, e.msg) : 0;
}

int get_enum(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
             const char *const *values, int *idx)
{
    const char *s = NULL, *near;
    char list[256], b[80];
    int i;

    if (v != NULL && fy_node_get_type(v) == FYNT_SCALAR && !is_null(v))
        s = fy_node_get_scalar0(v);
    if (s == NULL)
        return perr(p, v, k, "%s: expected one of %s, found %s", path,
                    joined(values, list, sizeof(list)), found(v, b, sizeof(b)));
    for (i = 0; values[i] != NULL; i++) {
        if (strcmp(s, values[i]) == 0) {
            *idx = i;
            return 0;
        }
    }
    near = fl_hint_nearest(s, values);
    if (near != NULL)
        return perr(p, v, k, "%s: unknown value '%s' (did you mean '%s'?)", path, s, near);
    return perr(p, v, k, "%s: unknown value '%s'; expected one of %s", path, s,
                joined(values, list, sizeof(list)));
}
