/*
 * history.jsonl read into memory (faults.jsonl: faults_read.c). The reader
 * names "path:line: what" for every bad line and never keeps a half-parsed
 * record.
 *
 * history.jsonl can hold tens of millions of records, so its reader streams:
 * the file is read in large blocks, split into lines here, and each line is
 * fed to one long-lived yajl parser (event callbacks, no tree, no allocation
 * per value). The callbacks only note what each known field holds; the
 * record is checked and built when the line ends, in a fixed field order, so
 * the first error a line reports does not depend on the order of its keys.
 * jansson, which builds a tree per line, reads about 0.4M records/s on one
 * core; this reader several times that (bench/verifiers/bench_load.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_parse.h>

#include "faultline/err.h"
#include "faultline/history.h"

/* ---- history.jsonl ----------------------------------------------------- */

/* The fields of a record this reader knows; others are skipped. */
enum field {
    F_CLIENT,
    F_OP,
    F_TYPE,
    F_MODEL,
    F_KEY,
    F_VALUE,
    F_REGION,
    F_INVOKE,
    F_COMPLETE,
    F_OUTCOME,
    F_ERROR,
    F_SWAPPED,
    F_FINAL,
    F_GROUP,
    F_COUNT
};

static const char *const field_names[F_COUNT] = {
    "client",    "op",          "type",    "model", "key",     "value", "region",
    "invoke_ns", "complete_ns", "outcome", "error", "swapped", "final", "group",
};

/* What a field held on the line. */
enum kind { K_ABSENT, K_NULL, K_INT, K_BIG, K_REAL, K_STR, K_BOOL, K_ARRAY, K_OBJECT };

struct fval {
    uint8_t kind; /* enum kind */
    bool b;
    int64_t i;
    uint32_t off; /* K_STR: NUL-terminated text at rd->str + off */
};

/* The problems an element of a "value" array can have, first one kept. */
enum elem_problem { E_OK, E_NOT_INT, E_NEGATIVE, E_NULL_AT };

/* Reader state: one per load, reused from line to line. */
struct reader {
    struct hist *h;
    yajl_handle y;
    struct fval f[F_COUNT];
    int cur;        /* field of the next value at depth 1, -1 = unknown key */
    int depth;      /* 0 = outside the record, 1 = inside its object */
    bool seen;      /* the line's record object was opened */
    bool done;      /* ... and closed */
    bool in_values; /* inside the "value" array (depth 2) */
    /* "value" array elements: the numbers, and where null stood */
    uint64_t *elem;
    size_t nelem, elem_cap;
    uint64_t null_mask;   /* bit i: element i was null (i < 64) */
    uint8_t elem_problem; /* enum elem_problem of the first bad element */
    /* text of the line's string fields, NUL-terminated, reset per line */
    char *str;
    size_t nstr, str_cap;
    /* a problem found by a callback; the parse is cancelled */
    const char *fail;
    char fail_buf[96];
};

/* Number text (already valid JSON syntax) to an integer kind. */
static enum kind number_kind(const char *s, size_t len, int64_t *v)
{
    uint64_t acc = 0, lim;
    bool neg = len > 0 && s[0] == '-';
    size_t i = neg ? 1 : 0;

    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (len - i <= 18) { /* cannot overflow: no check per digit (nanosecond times have 19) */
        for (; i < len; i++) {
            unsigned d = (unsigned char)s[i] - '0';

            if (d > 9)
                return K_REAL;
            acc = acc * 10 + d;
        }
    }
    for (; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';

        if (d > 9)
            return K_REAL; /* a fraction or an exponent */
        if (acc > (lim - d) / 10)
            return K_BIG;
        acc = acc * 10 + d;
    }
    *v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return K_INT;
}

static int elem_add(struct reader *rd, uint64_t v)
{
    if (rd->nelem == rd->elem_cap) {
        size_t ncap = rd->elem_cap ? rd->elem_cap * 2 : 64;
        uint64_t *ne;

        if (ncap > (SIZE_MAX / 2) / sizeof(*ne))
            return -ENOMEM;
        ne = realloc(rd->elem, ncap * sizeof(*ne));
        if (ne == NULL)
            return -ENOMEM;
        rd->elem = ne;
        rd->elem_cap = ncap;
    }
    rd->elem[rd->nelem++] = v;
    return 0;
}

/* An element of the "value" array: an integer, null, or anything else. */
static int on_elem(struct reader *rd, enum kind k, int64_t v)
{
    size_t at = rd->nelem;

    if (k == K_NULL && at < 64)
        rd->null_mask |= 1ULL << at;
    else if (rd->elem_problem == E_OK && k == K_NULL)
        rd->elem_problem = E_NULL_AT;
    else if (rd->elem_problem == E_OK && k != K_INT)
        rd->elem_problem = E_NOT_INT;
    else if (rd->elem_problem == E_OK && v < 0)
        rd->elem_problem = E_NEGATIVE;
    if (elem_add(rd, k == K_INT && v > 0 ? (uint64_t)v : 0) < 0) {
        rd->fail = "out of memory";
        return 0;
    }
    return 1;
}

/* Keep a string field's text in rd->str (NUL-terminated). */
static int keep_str(struct reader *rd, struct fval *fv, const unsigned char *s, size_t len)
{
    if (memchr(s, '\0', len) != NULL) {
        rd->fail = "bad JSON: \\u0000 in a string";
        return 0;
    }
    if (rd->nstr + len + 1 > rd->str_cap) {
        size_t ncap = rd->str_cap ? rd->str_cap : 1024;
        char *ns;

        while (ncap < rd->nstr + len + 1)
            ncap *= 2;
        ns = realloc(rd->str, ncap);
        if (ns == NULL) {
            rd->fail = "out of memory";
            return 0;
        }
        rd->str = ns;
        rd->str_cap = ncap;
    }
    memcpy(rd->str + rd->nstr, s, len);
    rd->str[rd->nstr + len] = '\0';
    fv->off = (uint32_t)rd->nstr;
    rd->nstr += len + 1;
    return 1;
}

/* A value: at depth 1 it belongs to the current field, at depth 2 in the
 * "value" array it is an element, deeper it is skipped. */
static int on_value(struct reader *rd, enum kind k, int64_t v, const unsigned char *s, size_t len)
{
    struct fval *fv;

    if (rd->depth == 0) {
        rd->fail = "expected a JSON object";
        return 0;
    }
    if (rd->in_values && rd->depth == 2)
        return on_elem(rd, k, v);
    if (rd->depth != 1 || rd->cur < 0)
        return 1;
    fv = &rd->f[rd->cur];
    fv->kind = (uint8_t)k;
    fv->i = v;
    fv->b = v != 0;
    if (k == K_STR)
        return keep_str(rd, fv, s, len);
    return 1;
}

static int cb_null(void *ctx)
{
    return on_value(ctx, K_NULL, 0, NULL, 0);
}

static int cb_boolean(void *ctx, int b)
{
    return on_value(ctx, K_BOOL, b != 0, NULL, 0);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
    int64_t v = 0;
    enum kind k = number_kind(s, len, &v);

    return on_value(ctx, k, v, NULL, 0);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    return on_value(ctx, K_STR, 0, s, len);
}

/* Open an object or array: the record itself, a field's value, or deeper. */
static int on_open(struct reader *rd, enum kind k)
{
    if (rd->depth == 0) {
        if (k != K_OBJECT) {
            rd->fail = "expected a JSON object";
            return 0;
        }
        if (rd->seen) {
            rd->fail = "bad JSON: more than one value on the line";
            return 0;
        }
        rd->seen = true;
    } else if (rd->in_values && rd->depth == 2) {
        if (on_elem(rd, k, 0) == 0)
            return 0;
    } else if (rd->depth == 1 && rd->cur >= 0) {
        rd->f[rd->cur].kind = (uint8_t)k;
        rd->in_values = k == K_ARRAY && rd->cur == F_VALUE;
    }
    rd->depth++;
    return 1;
}

static int on_close(struct reader *rd)
{
    rd->depth--;
    if (rd->depth == 1)
        rd->in_values = false;
    else if (rd->depth == 0)
        rd->done = true;
    return 1;
}

static int cb_start_map(void *ctx)
{
    return on_open(ctx, K_OBJECT);
}

static int cb_start_array(void *ctx)
{
    return on_open(ctx, K_ARRAY);
}

static int cb_end(void *ctx)
{
    return on_close(ctx);
}

/* The field named s[0..len), or -1: one candidate by length and first
 * letter, then one comparison (this runs for every key of every line). */
static int field_of(const unsigned char *s, size_t len)
{
    int c;

    switch (len) {
    case 2:
        c = F_OP;
        break;
    case 3:
        c = F_KEY;
        break;
    case 4:
        c = F_TYPE;
        break;
    case 5:
        c = s[0] == 'v'   ? F_VALUE
            : s[0] == 'm' ? F_MODEL
            : s[0] == 'e' ? F_ERROR
            : s[0] == 'g' ? F_GROUP
                          : F_FINAL;
        break;
    case 6:
        c = s[0] == 'c' ? F_CLIENT : F_REGION;
        break;
    case 7:
        c = s[0] == 'o' ? F_OUTCOME : F_SWAPPED;
        break;
    case 9:
        c = F_INVOKE;
        break;
    case 11:
        c = F_COMPLETE;
        break;
    default:
        return -1;
    }
    return memcmp(field_names[c], s, len) == 0 ? c : -1;
}

static int cb_map_key(void *ctx, const unsigned char *s, size_t len)
{
    struct reader *rd = ctx;

    if (rd->depth != 1)
        return 1;
    rd->cur = field_of(s, len);
    if (rd->cur >= 0 && rd->f[rd->cur].kind != K_ABSENT) {
        snprintf(rd->fail_buf, sizeof(rd->fail_buf), "bad JSON: duplicate object key \"%s\"",
                 field_names[rd->cur]);
        rd->fail = rd->fail_buf;
        return 0;
    }
    return 1;
}

static const yajl_callbacks reader_callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_boolean,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end,
};

/* Forget the previous line's record. */
static void reader_reset(struct reader *rd)
{
    memset(rd->f, 0, sizeof(rd->f));
    rd->cur = -1;
    rd->depth = 0;
    rd->seen = rd->done = rd->in_values = false;
    rd->nelem = 0;
    rd->null_mask = 0;
    rd->elem_problem = E_OK;
    rd->nstr = 0;
    rd->fail = NULL;
}

/* ---- checking one record (the same rules and texts for every key order) */

static int want_i64(const struct fval *fv, bool required, int64_t *v, const char **why)
{
    if (fv->kind == K_ABSENT || fv->kind == K_NULL) {
        if (required) {
            *why = "missing";
            return -1;
        }
        *v = 0;
        return 0;
    }
    if (fv->kind == K_BIG) {
        *why = "is out of range";
        return -1;
    }
    if (fv->kind != K_INT) {
        *why = "must be an integer";
        return -1;
    }
    *v = fv->i;
    return 0;
}

static int want_str(const struct reader *rd, const struct fval *fv, bool required, const char **v,
                    const char **why)
{
    if (fv->kind == K_ABSENT || fv->kind == K_NULL) {
        if (required) {
            *why = "missing";
            return -1;
        }
        *v = "";
        return 0;
    }
    if (fv->kind != K_STR) {
        *why = "must be a string";
        return -1;
    }
    *v = rd->str + fv->off;
    return 0;
}

/*
 * The "value" field in the record's form: a number or null (register, set
 * write), [expected_or_null, new_or_null] (cas), an array of elements (set
 * read). Sets op->value and *expected; *has_set when a set was read.
 */
static int check_value(const struct reader *rd, struct hist_op *op, uint64_t *expected,
                       bool *has_set, const char **why)
{
    const struct fval *fv = &rd->f[F_VALUE];
    bool set_read = (op->flags & HIST_F_SET) && !op->is_write;
    int64_t v;

    if (op->flags & HIST_F_CAS) {
        if (fv->kind != K_ARRAY || rd->nelem != 2) {
            *why = "must be [expected, new] on a cas (expected null when the key is absent)";
            return -1;
        }
        if (rd->elem_problem != E_OK) {
            *why = rd->elem_problem == E_NEGATIVE ? "elements must not be negative"
                                                  : "elements must be integers or null";
            return -1;
        }
        *expected = rd->elem[0];
        op->value = rd->elem[1];
        return 0;
    }
    if (fv->kind == K_ARRAY && set_read) {
        if (rd->null_mask != 0 || rd->elem_problem == E_NULL_AT || rd->elem_problem == E_NOT_INT) {
            *why = "elements must be integers";
            return -1;
        }
        if (rd->elem_problem == E_NEGATIVE) {
            *why = "elements must not be negative";
            return -1;
        }
        *has_set = true;
        return 0;
    }
    if (fv->kind == K_ARRAY) {
        *why = (op->flags & HIST_F_SET) ? "must be a number or null on a set write"
                                        : "must be a number or null (an array only on a cas or "
                                          "a read with \"model\":\"set\")";
        return -1;
    }
    if (want_i64(fv, false, &v, why) < 0)
        return -1;
    if (v < 0) {
        *why = "must not be negative";
        return -1;
    }
    if (set_read && fv->kind != K_ABSENT && fv->kind != K_NULL) {
        *why = "must be an array of elements on a read with \"model\":\"set\"";
        return -1;
    }
    op->value = (uint64_t)v;
    return 0;
}

static int intern16(struct hist_strtab *t, const char *s, uint16_t *out, const char *what,
                    const char *path, size_t line, struct fl_err *err)
{
    int idx = hist_intern(t, s);

    if (idx < 0)
        return fl_errf(err, idx, "%s:%zu: out of memory", path, line);
    if (idx > UINT16_MAX)
        return fl_errf(err, -E2BIG, "%s:%zu: more than 65535 %s", path, line, what);
    *out = (uint16_t)idx;
    return 0;
}

/* Check the line's record and append it to rd->h. */
/*
 * One record being read: the operation so far and, when a field is wrong,
 * which one and why. The rec_* steps below return 0, 1 for a wrong field
 * (R->field, R->why set), or < 0 with err set.
 */
struct rec {
    struct hist_op op;
    uint64_t expected; /* cas: the expected value */
    bool has_set;      /* a set read: its elements are in rd->elem */
    int field;
    const char *why;
};

/* client, op, type and model. */
static int rec_what(struct reader *rd, struct rec *R, const char *path, size_t line,
                    struct fl_err *err)
{
    const struct fval *f = rd->f;
    const char *s;
    int64_t v;
    int r;

    R->field = F_CLIENT;
    if (want_i64(&f[R->field], true, &v, &R->why) < 0)
        return 1;
    if (v < 0 || v > UINT32_MAX) {
        R->why = "out of range";
        return 1;
    }
    R->op.client = (uint32_t)v;

    R->field = F_OP;
    if (want_str(rd, &f[R->field], true, &s, &R->why) < 0)
        return 1;
    if (*s == '\0') {
        R->why = "must not be empty";
        return 1;
    }
    if ((r = intern16(&rd->h->op_names, s, &R->op.op, "operation names", path, line, err)) < 0)
        return r;

    R->field = F_TYPE;
    if (want_str(rd, &f[R->field], true, &s, &R->why) < 0)
        return 1;
    if (strcmp(s, "write") == 0) {
        R->op.is_write = 1;
    } else if (strcmp(s, "cas") == 0) {
        R->op.is_write = 1;
        R->op.flags |= HIST_F_CAS;
    } else if (strcmp(s, "read") != 0) {
        R->why = "must be \"read\" or \"write\" (or \"cas\" for a compare-and-set)";
        return 1;
    }

    R->field = F_MODEL;
    if (want_str(rd, &f[R->field], false, &s, &R->why) < 0)
        return 1;
    if (strcmp(s, "set") == 0) {
        R->op.flags |= HIST_F_SET;
    } else if (*s != '\0' && strcmp(s, "register") != 0) {
        R->why = "must be \"register\" or \"set\"";
        return 1;
    }
    if ((R->op.flags & HIST_F_SET) && (R->op.flags & HIST_F_CAS)) {
        R->why = "\"set\" does not take a cas (compare-and-set is a register operation)";
        return 1;
    }
    return 0;
}

/* key, value and region. */
static int rec_where(struct reader *rd, struct rec *R, const char *path, size_t line,
                     struct fl_err *err)
{
    const struct fval *f = rd->f;
    const char *s;
    char keybuf[32];
    int idx, r;

    R->field = F_KEY;
    if (f[R->field].kind == K_INT) {
        snprintf(keybuf, sizeof(keybuf), "%" PRId64, f[R->field].i);
        s = keybuf;
    } else if (want_str(rd, &f[R->field], true, &s, &R->why) < 0) {
        return 1;
    }
    if ((idx = hist_intern(&rd->h->keys, s)) < 0)
        return fl_errf(err, idx, "%s:%zu: out of memory", path, line);
    R->op.key = (uint32_t)idx;

    R->field = F_VALUE;
    if (check_value(rd, &R->op, &R->expected, &R->has_set, &R->why) < 0)
        return 1;

    R->field = F_REGION;
    if (want_str(rd, &f[R->field], false, &s, &R->why) < 0)
        return 1;
    if ((r = intern16(&rd->h->regions, s, &R->op.region, "regions", path, line, err)) < 0)
        return r;
    return 0;
}

/* invoke_ns, complete_ns, outcome and error. */
static int rec_when(struct reader *rd, struct rec *R, const char *path, size_t line,
                    struct fl_err *err)
{
    const struct fval *f = rd->f;
    const char *s;
    int idx;

    R->field = F_INVOKE;
    if (want_i64(&f[R->field], true, &R->op.invoke_ns, &R->why) < 0)
        return 1;
    R->field = F_COMPLETE;
    if (want_i64(&f[R->field], true, &R->op.complete_ns, &R->why) < 0)
        return 1;
    if (R->op.complete_ns < R->op.invoke_ns) {
        R->why = "is before invoke_ns";
        return 1;
    }

    R->field = F_OUTCOME;
    if (want_str(rd, &f[R->field], true, &s, &R->why) < 0)
        return 1;
    if (strcmp(s, "ok") == 0) {
        R->op.outcome = HIST_OK;
    } else if (strcmp(s, "fail") == 0) {
        R->op.outcome = HIST_FAIL;
    } else if (strcmp(s, "info") == 0) {
        R->op.outcome = HIST_INFO;
    } else {
        R->why = "must be \"ok\", \"fail\" or \"info\"";
        return 1;
    }

    R->field = F_ERROR;
    if (want_str(rd, &f[R->field], false, &s, &R->why) < 0)
        return 1;
    if (*s != '\0') {
        if ((idx = hist_intern(&rd->h->errors, s)) < 0)
            return fl_errf(err, idx, "%s:%zu: out of memory", path, line);
        R->op.error = (uint32_t)idx;
    }
    return 0;
}

/* swapped, final and group. */
static int rec_flags(struct reader *rd, struct rec *R, const char *path, size_t line,
                     struct fl_err *err)
{
    const struct fval *f = rd->f;
    const char *s;
    int r;

    R->field = F_SWAPPED;
    if (f[R->field].kind != K_ABSENT && f[R->field].kind != K_NULL) {
        if (!(R->op.flags & HIST_F_CAS)) {
            R->why = "is only allowed on a cas";
            return 1;
        }
        if (f[R->field].kind != K_BOOL) {
            R->why = "must be true or false";
            return 1;
        }
        if (f[R->field].b && R->op.outcome == HIST_OK)
            R->op.flags |= HIST_F_SWAPPED;
    } else if ((R->op.flags & HIST_F_CAS) && R->op.outcome == HIST_OK) {
        R->why = "missing (required on a cas with outcome ok)";
        return 1;
    }

    R->field = F_FINAL;
    if (f[R->field].kind != K_ABSENT && f[R->field].kind != K_NULL) {
        if (f[R->field].kind != K_BOOL) {
            R->why = "must be true or false";
            return 1;
        }
        R->op.is_final = f[R->field].b ? 1 : 0;
        if (R->op.is_final && R->op.is_write) {
            R->why = "is only allowed on reads";
            return 1;
        }
    }

    R->field = F_GROUP;
    if (want_str(rd, &f[R->field], false, &s, &R->why) < 0)
        return 1;
    if (*s != '\0' && (r = hist_set_group(rd->h, R->op.client, s)) < 0) {
        if (r == -ENOMEM)
            return fl_errf(err, r, "%s:%zu: out of memory", path, line);
        R->why = r == -EEXIST
                     ? "differs from an earlier record of the same client"
                     : "cannot be given to a client number this large (or too many groups)";
        return 1;
    }
    return 0;
}

static int record_build(struct reader *rd, const char *path, size_t line, struct fl_err *err)
{
    struct rec R;
    int r;

    memset(&R, 0, sizeof(R));
    if ((r = rec_what(rd, &R, path, line, err)) != 0 ||
        (r = rec_where(rd, &R, path, line, err)) != 0 ||
        (r = rec_when(rd, &R, path, line, err)) != 0 ||
        (r = rec_flags(rd, &R, path, line, err)) != 0)
        return r < 0 ? r
                     : fl_errf(err, -EINVAL, "%s:%zu: \"%s\" %s", path, line, field_names[R.field],
                               R.why);

    if (R.op.flags & HIST_F_CAS)
        r = hist_append_cas(rd->h, &R.op, R.expected);
    else if (R.has_set)
        r = hist_append_set_read(rd->h, &R.op, rd->elem, rd->nelem);
    else
        r = hist_append(rd->h, &R.op);
    if (r < 0)
        return fl_errf(err, r, "%s:%zu: %s", path, line,
                       r == -ENOMEM ? "out of memory" : "history too large");
    return 0;
}

static bool blank(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    }
    return true;
}

/*
 * Parse one line (text[0..len), text[len] is its '\n') and append its
 * record. The '\n' goes to the parser too: it ends a number at the end of
 * the line, so every value is complete when the call returns.
 */
static int reader_line(struct reader *rd, const char *text, size_t len, const char *path,
                       size_t line, struct fl_err *err)
{
    yajl_status st;

    if (blank(text, len))
        return 0;
    reader_reset(rd);
    st = yajl_parse(rd->y, (const unsigned char *)text, len + 1);
    if (st == yajl_status_client_canceled)
        return fl_errf(
            err, rd->fail == NULL || strcmp(rd->fail, "out of memory") != 0 ? -EINVAL : -ENOMEM,
            "%s:%zu: %s", path, line, rd->fail ? rd->fail : "bad JSON");
    if (st != yajl_status_ok) {
        unsigned char *msg = yajl_get_error(rd->y, 0, (const unsigned char *)text, len);
        size_t n = msg ? strcspn((const char *)msg, "\n") : 0;
        int r = fl_errf(err, -EINVAL, "%s:%zu: bad JSON: %.*s", path, line, (int)n,
                        msg ? (const char *)msg : "");

        if (msg != NULL)
            yajl_free_error(rd->y, msg);
        return r;
    }
    if (!rd->done)
        return fl_errf(err, -EINVAL, "%s:%zu: bad JSON: the object does not end on its line", path,
                       line);
    return record_build(rd, path, line, err);
}

#define READ_BLOCK   (4u << 20) /* bytes asked of read(2) at a time */
#define LINE_MAX_LEN (1u << 30) /* longest line accepted (a huge set read) */

/*
 * Read path in blocks, hand every complete line to reader_line. The buffer
 * holds one block plus the unfinished line carried over; it grows only for a
 * line longer than a block, up to LINE_MAX_LEN.
 */
static int read_lines(struct reader *rd, const char *path, struct fl_err *err)
{
    size_t cap = READ_BLOCK + 1, have = 0, line = 0;
    char *buf = malloc(cap);
    int fd, r = 0;
    bool eof = false;

    if (buf == NULL)
        return fl_errf(err, -ENOMEM, "%s: out of memory", path);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        r = fl_errf(err, -errno, "%s: %s", path, strerror(errno));
        free(buf);
        return r;
    }
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    while (r == 0 && !eof) {
        size_t start = 0;
        char *nl;
        ssize_t got;

        if (cap - 1 - have < READ_BLOCK / 2 && have > 0 && cap - 1 < LINE_MAX_LEN) {
            char *nb = realloc(buf, (cap - 1) * 2 + 1);

            if (nb == NULL) {
                r = fl_errf(err, -ENOMEM, "%s:%zu: out of memory", path, line + 1);
                break;
            }
            buf = nb;
            cap = (cap - 1) * 2 + 1;
        }
        got = read(fd, buf + have, cap - 1 - have);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            r = fl_errf(err, -errno, "%s: %s", path, strerror(errno));
            break;
        }
        if (got == 0) {
            eof = true;
            if (have == 0)
                break;
            buf[have++] = '\n'; /* the last line had no newline; cap keeps room */
        } else {
            have += (size_t)got;
        }
        while (r == 0 && (nl = memchr(buf + start, '\n', have - start)) != NULL) {
            size_t len = (size_t)(nl - (buf + start));

            line++;
            r = reader_line(rd, buf + start, len, path, line, err);
            start += len + 1;
        }
        if (r == 0 && have - start >= LINE_MAX_LEN)
            r = fl_errf(err, -E2BIG, "%s:%zu: line longer than %u bytes", path, line + 1,
                        LINE_MAX_LEN);
        memmove(buf, buf + start, have - start);
        have -= start;
    }
    close(fd);
    free(buf);
    return r;
}

int hist_load_jsonl(const char *path, struct hist *h, struct fl_err *err)
{
    struct reader rd;
    int r;

    memset(&rd, 0, sizeof(rd));
    rd.h = h;
    rd.y = yajl_alloc(&reader_callbacks, NULL, &rd);
    if (rd.y == NULL)
        return fl_errf(err, -ENOMEM, "%s: out of memory", path);
    yajl_config(rd.y, yajl_allow_multiple_values, 1);
    r = read_lines(&rd, path, err);
    yajl_free(rd.y);
    free(rd.elem);
    free(rd.str);
    return r;
}
