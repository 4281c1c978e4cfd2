/*
 * Benchmark: loading history.jsonl. hist_load_jsonl against the loader the
 * project had before (kept here only as a reference: getline, one
 * json_loadb per line, a field lookup per key, interning with strdup), on the
 * same generated file in the same run (runs interleaved): median of several
 * runs, records per second, and the ratio. Also the new loader on a history of compare-and-set
 * and set-model records (forms the reference loader does not know).
 *
 * usage: bench_load [records (default 1000000)] [runs (default 5)]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <jansson.h>

#include "faultline/err.h"
#include "faultline/history.h"
#include "faultline/timeutil.h"

/* ---- the reference loader (the project's loader before the rewrite) ---- */

/* Parse one history object into op (names interned into h). */
static int ref_parse_op(json_t *o, struct hist *h, struct hist_op *op, const char *path,
                        size_t line, struct fl_err *err)
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
    if (hist_json_i64(o, field, true, &v, &why) < 0)
        goto bad;
    if (v < 0 || v > UINT32_MAX) {
        why = "out of range";
        goto bad;
    }
    op->client = (uint32_t)v;

    field = "op";
    if (hist_json_str(o, field, true, &s, &why) < 0)
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
    if (hist_json_str(o, field, true, &s, &why) < 0)
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
    } else if (hist_json_str(o, field, true, &s, &why) < 0) {
        goto bad;
    }
    if ((idx = hist_intern(&h->keys, s)) < 0)
        return fl_errf(err, idx, "%s:%zu: out of memory", path, line);
    op->key = (uint32_t)idx;

    field = "value";
    if (hist_json_i64(o, field, false, &v, &why) < 0)
        goto bad;
    if (v < 0) {
        why = "must not be negative";
        goto bad;
    }
    op->value = (uint64_t)v;

    field = "region";
    if (hist_json_str(o, field, false, &s, &why) < 0)
        goto bad;
    if ((idx = hist_intern(&h->regions, s)) < 0)
        return fl_errf(err, idx, "%s:%zu: out of memory", path, line);
    if (idx > UINT16_MAX)
        return fl_errf(err, -E2BIG, "%s:%zu: more than 65535 regions", path, line);
    op->region = (uint16_t)idx;

    field = "invoke_ns";
    if (hist_json_i64(o, field, true, &op->invoke_ns, &why) < 0)
        goto bad;
    field = "complete_ns";
    if (hist_json_i64(o, field, true, &op->complete_ns, &why) < 0)
        goto bad;
    if (op->complete_ns < op->invoke_ns) {
        why = "is before invoke_ns";
        goto bad;
    }

    field = "outcome";
    if (hist_json_str(o, field, true, &s, &why) < 0)
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
    if (hist_json_str(o, field, false, &s, &why) < 0)
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

static int ref_history_line(json_t *o, void *arg, const char *path, size_t line, struct fl_err *err)
{
    struct hist *h = arg;
    struct hist_op op;
    int r;

    if ((r = ref_parse_op(o, h, &op, path, line, err)) < 0)
        return r;
    if ((r = hist_append(h, &op)) < 0)
        return fl_errf(err, r, "%s:%zu: out of memory", path, line);
    return 0;
}

static int ref_load_jsonl(const char *path, struct hist *h, struct fl_err *err)
{
    return hist_jsonl_each(path, ref_history_line, h, err);
}

/* ---- generated histories ------------------------------------------------ */

static uint64_t rs = 88172645463325252ULL;

static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

/*
 * n records as the workload writes them: 64 clients, n/100 keys, four
 * operation names, three regions, 0.5% info outcomes with an error text.
 * With mixed, a third of the keys hold sets and a tenth of the register
 * writes are compare-and-sets.
 */
static void generate(size_t n, bool mixed, struct hist *h)
{
    size_t nkeys = n / 100 + 16, i;
    uint16_t ops[5], reg[3];
    uint32_t errs;
    uint64_t value = 1, *last = calloc(nkeys, sizeof(*last)), set[8];
    char name[32];

    if (hist_init(h) < 0 || last == NULL)
        exit(3);
    for (i = 1; i <= nkeys; i++) {
        snprintf(name, sizeof(name), "key-%zu", i);
        hist_intern(&h->keys, name);
    }
    ops[0] = (uint16_t)hist_intern(&h->op_names, "get-secret");
    ops[1] = (uint16_t)hist_intern(&h->op_names, "list-secrets");
    ops[2] = (uint16_t)hist_intern(&h->op_names, "set-secret");
    ops[3] = (uint16_t)hist_intern(&h->op_names, "delete-secret");
    ops[4] = (uint16_t)hist_intern(&h->op_names, "cas");
    reg[0] = (uint16_t)hist_intern(&h->regions, "west");
    reg[1] = (uint16_t)hist_intern(&h->regions, "north");
    reg[2] = (uint16_t)hist_intern(&h->regions, "east");
    errs = (uint32_t)hist_intern(&h->errors, "timeout after 5000 ms");
    for (i = 0; i < n; i++) {
        struct hist_op o;
        uint64_t x = rnd();
        uint32_t k = 1 + (uint32_t)(x % nkeys);
        int kind = (int)((x >> 32) % 100), r;
        int64_t t = 1700000000000000000LL + (int64_t)i * 1000;
        bool is_set = mixed && k % 3 == 0;

        memset(&o, 0, sizeof(o));
        o.client = (uint32_t)(i % 64);
        o.key = k;
        o.invoke_ns = t;
        o.complete_ns = t + 200000 + (int64_t)((x >> 40) % 3000000);
        o.region = reg[(x >> 50) % 3];
        o.outcome = (x >> 24) % 200 == 0 ? HIST_INFO : HIST_OK;
        if (o.outcome == HIST_INFO)
            o.error = errs;
        if (kind < 50) {
            o.op = kind < 45 ? ops[0] : ops[1];
            o.value = last[k - 1];
            if (is_set) {
                size_t m = (x >> 8) % 8, j;

                o.flags = HIST_F_SET;
                for (j = 0; j < m && value > 1 + j * 7; j++)
                    set[j] = value - 1 - j * 7;
                m = j;
                r = hist_append_set_read(h, &o, set, m);
            } else {
                r = hist_append(h, &o);
            }
        } else {
            o.is_write = 1;
            o.op = kind < 92 ? ops[2] : ops[3];
            o.value = kind < 92 || is_set ? value++ : 0;
            if (o.outcome == HIST_OK)
                last[k - 1] = o.value;
            if (is_set) {
                o.flags = HIST_F_SET;
                r = hist_append(h, &o);
            } else if (mixed && kind >= 90) {
                o.op = ops[4];
                o.value = o.value ? o.value : value++;
                o.flags = (x >> 12) % 2 ? HIST_F_SWAPPED : 0;
                r = hist_append_cas(h, &o, last[k - 1]);
            } else {
                r = hist_append(h, &o);
            }
        }
        if (r < 0)
            exit(3);
    }
    free(last);
}

static char *write_history(size_t n, bool mixed)
{
    char *path = strdup("/tmp/bench-load-XXXXXX");
    struct hist h;
    FILE *f;
    int fd;

    if (path == NULL || (fd = mkstemp(path)) < 0 || (f = fdopen(fd, "w")) == NULL)
        exit(3);
    generate(n, mixed, &h);
    if (hist_write_jsonl(f, &h) < 0)
        exit(3);
    fclose(f);
    hist_free(&h);
    return path;
}

typedef int (*load_fn)(const char *path, struct hist *h, struct fl_err *err);

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Seconds one load of path takes; exits when the load fails. */
static double load_once(load_fn load, const char *path, size_t n)
{
    struct hist h;
    struct fl_err e;
    int64_t t0;
    double s;

    fl_err_clear(&e);
    if (hist_init(&h) < 0)
        exit(3);
    t0 = fl_now_ns();
    if (load(path, &h, &e) < 0) {
        fprintf(stderr, "bench_load: %s\n", e.msg);
        exit(1);
    }
    s = (double)(fl_now_ns() - t0) / 1e9;
    if (h.n != n) {
        fprintf(stderr, "bench_load: read %zu records of %zu\n", h.n, n);
        exit(1);
    }
    hist_free(&h);
    return s;
}

/* Records/s of the median of runs samples (sorted in place). */
static double median_rate(double *t, int runs, size_t n)
{
    qsort(t, (size_t)runs, sizeof(t[0]), dcmp);
    return (double)n / t[runs / 2];
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    char *reg, *mix;
    double old_rate, new_rate, mix_rate, t_old[16], t_new[16], t_mix[16];
    int i;

    if (n == 0 || runs < 1 || runs > 16) {
        fprintf(stderr, "usage: bench_load [records] [runs 1..16]\n");
        return 2;
    }
    reg = write_history(n, false);
    mix = write_history(n, true);
    /* Interleaved, so that both loaders see the same machine load. */
    for (i = 0; i < runs; i++) {
        t_old[i] = load_once(ref_load_jsonl, reg, n);
        t_new[i] = load_once(hist_load_jsonl, reg, n);
        t_mix[i] = load_once(hist_load_jsonl, mix, n);
    }
    old_rate = median_rate(t_old, runs, n);
    new_rate = median_rate(t_new, runs, n);
    mix_rate = median_rate(t_mix, runs, n);
    printf("history.jsonl load, %zu records, median of %d runs\n", n, runs);
    printf("  reference loader (before)  %10.0f records/s\n", old_rate);
    printf("  hist_load_jsonl            %10.0f records/s  (%.1fx the reference)\n", new_rate,
           new_rate / old_rate);
    printf("  hist_load_jsonl, cas + set %10.0f records/s\n", mix_rate);
    unlink(reg);
    unlink(mix);
    free(reg);
    free(mix);
    return 0;
}
