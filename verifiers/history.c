/*
 * The history in memory and as text: interned name tables, the record array,
 * merging per-client buffers, sorting, and history.jsonl / faults.jsonl read
 * and written with jansson. Readers name "path:line: what" for every bad line
 * and never keep a half-parsed record. See include/faultline/history.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "faultline/err.h"
#include "faultline/history.h"

/* Private hash index of a string table: open addressing, slot = index + 1. */
struct strtab_index {
    uint32_t *slot;
    size_t nslots; /* power of two */
};

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return h;
}

static int strtab_rehash(struct hist_strtab *t, size_t nslots)
{
    struct strtab_index *ix = t->index;
    uint32_t *slot = calloc(nslots, sizeof(*slot));
    size_t i;

    if (slot == NULL)
        return -ENOMEM;
    for (i = 0; i < t->n; i++) {
        size_t j = (size_t)str_hash(t->s[i]) & (nslots - 1);

        while (slot[j] != 0)
            j = (j + 1) & (nslots - 1);
        slot[j] = (uint32_t)(i + 1);
    }
    free(ix->slot);
    ix->slot = slot;
    ix->nslots = nslots;
    return 0;
}

static void strtab_free(struct hist_strtab *t)
{
    size_t i;

    if (t->s != NULL) {
        for (i = 0; i < t->n; i++)
            free(t->s[i]);
    }
    free(t->s);
    if (t->index != NULL)
        free(((struct strtab_index *)t->index)->slot);
    free(t->index);
    memset(t, 0, sizeof(*t));
}

int hist_intern(struct hist_strtab *t, const char *s)
{
    struct strtab_index *ix = t->index;
    size_t j;
    char *copy;
    int r;

    if (ix == NULL) {
        ix = calloc(1, sizeof(*ix));
        if (ix == NULL)
            return -ENOMEM;
        t->index = ix;
    }
    if (ix->nslots == 0 && (r = strtab_rehash(t, 16)) < 0)
        return r;
    j = (size_t)str_hash(s) & (ix->nslots - 1);
    while (ix->slot[j] != 0) {
        if (strcmp(t->s[ix->slot[j] - 1], s) == 0)
            return (int)(ix->slot[j] - 1);
        j = (j + 1) & (ix->nslots - 1);
    }
    if (t->n >= INT32_MAX - 1)
        return -E2BIG;
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        char **ns = realloc(t->s, ncap * sizeof(*ns));

        if (ns == NULL)
            return -ENOMEM;
        t->s = ns;
        t->cap = ncap;
    }
    copy = strdup(s);
    if (copy == NULL)
        return -ENOMEM;
    t->s[t->n] = copy;
    ix->slot[j] = (uint32_t)(t->n + 1);
    t->n++;
    if (t->n * 2 > ix->nslots && (r = strtab_rehash(t, ix->nslots * 2)) < 0)
        return r; /* the string is in; only the index failed to grow */
    return (int)(t->n - 1);
}

int hist_init(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    if (hist_intern(&h->op_names, "") < 0 || hist_intern(&h->keys, "") < 0 ||
        hist_intern(&h->regions, "") < 0 || hist_intern(&h->errors, "") < 0) {
        hist_free(h);
        return -ENOMEM;
    }
    return 0;
}

void hist_free(struct hist *h)
{
    if (h == NULL)
        return;
    free(h->ops);
    strtab_free(&h->op_names);
    strtab_free(&h->keys);
    strtab_free(&h->regions);
    strtab_free(&h->errors);
    memset(h, 0, sizeof(*h));
}

int hist_append(struct hist *h, const struct hist_op *op)
{
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 1024;
        struct hist_op *no = realloc(h->ops, ncap * sizeof(*no));

        if (no == NULL)
            return -ENOMEM;
        h->ops = no;
        h->cap = ncap;
    }
    h->ops[h->n++] = *op;
    return 0;
}

int hist_merge(struct hist *dst, const struct hist *src)
{
    size_t i;

    for (i = 0; i < src->n; i++) {
        struct hist_op o = src->ops[i];
        int a, b, c, d, r;

        if ((a = hist_intern(&dst->op_names, src->op_names.s[o.op])) < 0)
            return a;
        if ((b = hist_intern(&dst->keys, src->keys.s[o.key])) < 0)
            return b;
        if ((c = hist_intern(&dst->regions, src->regions.s[o.region])) < 0)
            return c;
        if ((d = hist_intern(&dst->errors, src->errors.s[o.error])) < 0)
            return d;
        if (a > UINT16_MAX || c > UINT16_MAX)
            return -E2BIG;
        o.op = (uint16_t)a;
        o.key = (uint32_t)b;
        o.region = (uint16_t)c;
        o.error = (uint32_t)d;
        if ((r = hist_append(dst, &o)) < 0)
            return r;
    }
    return 0;
}

/* Stable merge sort by invoke_ns; a and tmp hold n records. */
static void sort_merge(struct hist_op *a, struct hist_op *tmp, size_t n)
{
    size_t mid = n / 2, i = 0, j = mid, k = 0;

    if (n < 2)
        return;
    sort_merge(a, tmp, mid);
    sort_merge(a + mid, tmp, n - mid);
    if (a[mid - 1].invoke_ns <= a[mid].invoke_ns)
        return;
    while (i < mid && j < n)
        tmp[k++] = a[j].invoke_ns < a[i].invoke_ns ? a[j++] : a[i++];
    while (i < mid)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof(*a));
}

void hist_sort(struct hist *h)
{
    struct hist_op *tmp;
    size_t i;

    for (i = 1; i < h->n; i++) {
        if (h->ops[i].invoke_ns < h->ops[i - 1].invoke_ns)
            break;
    }
    if (i >= h->n)
        return; /* already sorted: the common case for a merged workload */
    tmp = malloc(h->n * sizeof(*tmp));
    if (tmp != NULL) {
        sort_merge(h->ops, tmp, h->n);
        free(tmp);
        return;
    }
    /* No memory for the merge: stable insertion sort, slow but correct. */
    for (i = 1; i < h->n; i++) {
        struct hist_op x = h->ops[i];
        size_t j = i;

        while (j > 0 && h->ops[j - 1].invoke_ns > x.invoke_ns) {
            h->ops[j] = h->ops[j - 1];
            j--;
        }
        h->ops[j] = x;
    }
}

/* ---- reading ---------------------------------------------------------- */

static int get_i64(json_t *o, const char *k, bool required, int64_t *v, const char **why)
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

static int get_str(json_t *o, const char *k, bool required, const char **v, const char **why)
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

/* Parse one history object into op (names interned into h). */
static int parse_op(json_t *o, struct hist *h, struct hist_op *op, const char *path, size_t line,
                    struct fl_err *err)
{
    const char *s, *why = NULL, *field;
    char keybuf[32];
    int64_t v;
    json_t *x;
    int idx;

    memset(op, 0, sizeof(*op));
    if (!json_is_object(o))
        return fl_errf(err, -EINVAL, "%s:%zu: expected a JSON object", path, line);

    field = "client";
    if (get_i64(o, field, true, &v, &why) < 0)
        goto bad;
    if (v < 0 || v > UINT32_MAX) {
        why = "out of range";
        goto bad;
    }
    op->client = (uint32_t)v;

    field = "op";
    if (get_str(o, field, true, &s, &why) < 0)
        goto bad;
    if (*s == '\0') {
        why = "must not be empty";
        goto bad;
    }
    if ((idx = hist_intern(&h->op_names, s)) < 0)
        return fl_errf(err, idx, "%s:%zu: out of memory", path, line);
    if (idx > UINT16_MAX)
        return fl_errf(err, -E2BIG, "%s:%zu: more than 65535 operation names", path, line);
    op->op = (uint16_t)idx;

    field = "type";
    if (get_str(o, field, true, &s, &why) < 0)
        goto bad;
    if (strcmp(s, "write") == 0)
        op->is_write = 1;
    else if (strcmp(s, "read") != 0) {
        why = "must be \"read\" or \"write\"";
        goto bad;
    }

    field = "key";
    x = json_object_get(o, field);
    if (json_is_integer(x)) {
        snprintf(keybuf, sizeof(keybuf), "%" JSON_INTEGER_FORMAT, json_integer_value(x));
        s = keybuf;
    } else if (get_str(o, field, true, &s, &why) < 0) {
        goto bad;
    }
    if ((idx = hist_intern(&h->keys, s)) < 0)
        return fl_errf(err, idx, "%s:%zu: out of memory", path, line);
    op->key = (uint32_t)idx;

    field = "value";
    if (get_i64(o, field, false, &v, &why) < 0)
        goto bad;
    if (v < 0) {
        why = "must not be negative";
        goto bad;
    }
    op->value = (uint64_t)v;

    field = "region";
    if (get_str(o, field, false, &s, &why) < 0)
        goto bad;
    if ((idx = hist_intern(&h->regions, s)) < 0)
        return fl_errf(err, idx, "%s:%zu: out of memory", path, line);
    if (idx > UINT16_MAX)
        return fl_errf(err, -E2BIG, "%s:%zu: more than 65535 regions", path, line);
    op->region = (uint16_t)idx;

    field = "invoke_ns";
    if (get_i64(o, field, true, &op->invoke_ns, &why) < 0)
        goto bad;
    field = "complete_ns";
    if (get_i64(o, field, true, &op->complete_ns, &why) < 0)
        goto bad;
    if (op->complete_ns < op->invoke_ns) {
        why = "is before invoke_ns";
        goto bad;
    }

    field = "outcome";
    if (get_str(o, field, true, &s, &why) < 0)
        goto bad;
    if (strcmp(s, "ok") == 0)
        op->outcome = HIST_OK;
    else if (strcmp(s, "fail") == 0)
        op->outcome = HIST_FAIL;
    else if (strcmp(s, "info") == 0)
        op->outcome = HIST_INFO;
    else {
        why = "must be \"ok\", \"fail\" or \"info\"";
        goto bad;
    }

    field = "error";
    if (get_str(o, field, false, &s, &why) < 0)
        goto bad;
    if ((idx = hist_intern(&h->errors, s)) < 0)
        return fl_errf(err, idx, "%s:%zu: out of memory", path, line);
    op->error = (uint32_t)idx;

    field = "final";
    x = json_object_get(o, field);
    if (x != NULL && !json_is_null(x)) {
        if (!json_is_boolean(x)) {
            why = "must be true or false";
            goto bad;
        }
        op->is_final = json_is_true(x) ? 1 : 0;
        if (op->is_final && op->is_write) {
            why = "is only allowed on reads";
            goto bad;
        }
    }
    return 0;
bad:
    return fl_errf(err, -EINVAL, "%s:%zu: \"%s\" %s", path, line, field, why);
}

static bool line_blank(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    return *s == '\0';
}

typedef int (*line_fn)(json_t *o, void *arg, const char *path, size_t line, struct fl_err *err);

/* Read path line by line, parse each non-blank line as JSON and hand it to fn. */
static int read_jsonl(const char *path, line_fn fn, void *arg, struct fl_err *err)
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

static int history_line(json_t *o, void *arg, const char *path, size_t line, struct fl_err *err)
{
    struct hist *h = arg;
    struct hist_op op;
    int r;

    if ((r = parse_op(o, h, &op, path, line, err)) < 0)
        return r;
    if ((r = hist_append(h, &op)) < 0)
        return fl_errf(err, r, "%s:%zu: out of memory", path, line);
    return 0;
}

int hist_load_jsonl(const char *path, struct hist *h, struct fl_err *err)
{
    return read_jsonl(path, history_line, h, err);
}

static int copy_name(char *dst, size_t cap, json_t *o, const char *k, bool required,
                     const char **why)
{
    const char *s;

    if (get_str(o, k, required, &s, why) < 0)
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
    if (get_i64(o, field, true, &f.apply_sent_ns, &why) < 0)
        goto bad;
    field = "apply_done_ns";
    if (get_i64(o, field, true, &f.apply_done_ns, &why) < 0)
        goto bad;
    if (f.apply_done_ns < f.apply_sent_ns) {
        why = "is before apply_sent_ns";
        goto bad;
    }
    field = "heal_sent_ns";
    if (get_i64(o, field, false, &f.heal_sent_ns, &why) < 0)
        goto bad;
    field = "heal_done_ns";
    if (get_i64(o, field, false, &f.heal_done_ns, &why) < 0)
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
    return read_jsonl(path, fault_line, fs, err);
}

int hist_faults_append(struct hist_faults *fs, const struct hist_fault *f)
{
    if (fs->n == fs->cap) {
        size_t ncap = fs->cap ? fs->cap * 2 : 8;
        struct hist_fault *nf = realloc(fs->f, ncap * sizeof(*nf));

        if (nf == NULL)
            return -ENOMEM;
        fs->f = nf;
        fs->cap = ncap;
    }
    fs->f[fs->n++] = *f;
    return 0;
}

void hist_faults_free(struct hist_faults *fs)
{
    if (fs == NULL)
        return;
    free(fs->f);
    memset(fs, 0, sizeof(*fs));
}

/* ---- writing ---------------------------------------------------------- */

/* Length of a valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s)
{
    size_t n, i;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xE0) == 0xC0) {
        n = 2;
        cp = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        n = 3;
        cp = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        n = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/*
 * Write s as a JSON string. Invalid UTF-8 bytes (error texts come from the
 * network) become U+FFFD so that every line we write can be read back.
 */
static void put_jstr(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    fputc('"', f);
    while (*p) {
        size_t n;

        if (*p == '"' || *p == '\\') {
            fputc('\\', f);
            fputc(*p++, f);
        } else if (*p < 0x20) {
            fprintf(f, "\\u%04x", *p++);
        } else if ((n = utf8_seq(p)) == 0) {
            fputs("\\ufffd", f);
            p++;
        } else {
            fwrite(p, 1, n, f);
            p += n;
        }
    }
    fputc('"', f);
}

static const char *outcome_name(unsigned o)
{
    return o == HIST_OK ? "ok" : o == HIST_FAIL ? "fail" : "info";
}

int hist_write_jsonl(FILE *f, const struct hist *h)
{
    size_t i;

    for (i = 0; i < h->n; i++) {
        const struct hist_op *o = &h->ops[i];

        fprintf(f, "{\"client\":%" PRIu32 ",\"op\":", o->client);
        put_jstr(f, h->op_names.s[o->op]);
        fprintf(f, ",\"type\":\"%s\",\"key\":", o->is_write ? "write" : "read");
        put_jstr(f, h->keys.s[o->key]);
        if (o->value != 0)
            fprintf(f, ",\"value\":%" PRIu64, o->value);
        else
            fputs(",\"value\":null", f);
        if (o->region != 0) {
            fputs(",\"region\":", f);
            put_jstr(f, h->regions.s[o->region]);
        }
        fprintf(f, ",\"invoke_ns\":%" PRId64 ",\"complete_ns\":%" PRId64 ",\"outcome\":\"%s\"",
                o->invoke_ns, o->complete_ns, outcome_name(o->outcome));
        if (o->error != 0) {
            fputs(",\"error\":", f);
            put_jstr(f, h->errors.s[o->error]);
        }
        if (o->is_final)
            fputs(",\"final\":true", f);
        fputs("}\n", f);
    }
    fflush(f);
    return ferror(f) ? -EIO : 0;
}

int hist_faults_write_jsonl(FILE *f, const struct hist_faults *fs)
{
    size_t i;

    for (i = 0; i < fs->n; i++) {
        const struct hist_fault *x = &fs->f[i];

        fputs("{\"id\":", f);
        put_jstr(f, x->id);
        fputs(",\"kind\":", f);
        put_jstr(f, x->kind);
        fputs(",\"scope\":", f);
        put_jstr(f, x->scope);
        fprintf(f, ",\"apply_sent_ns\":%" PRId64 ",\"apply_done_ns\":%" PRId64, x->apply_sent_ns,
                x->apply_done_ns);
        if (x->heal_sent_ns != 0)
            fprintf(f, ",\"heal_sent_ns\":%" PRId64 ",\"heal_done_ns\":%" PRId64, x->heal_sent_ns,
                    x->heal_done_ns);
        fputs("}\n", f);
    }
    fflush(f);
    return ferror(f) ? -EIO : 0;
}
