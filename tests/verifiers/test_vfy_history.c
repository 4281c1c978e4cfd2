/*
 * The history contract: interning, appending, merging, stable sorting, the
 * history.jsonl / faults.jsonl round trip (register, compare-and-set and
 * set-model records), and "path:line: what" errors for bad lines. Also:
 * verifiers give the same verdicts on an unsorted history and name records
 * by their number in the caller's history.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "faultline/err.h"
#include "faultline/history.h"
#include "faultline/verify.h"
#include "vfy_testlib.h"

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/vfy-test-XXXXXX");
    int fd = mkstemp(path);
    FILE *f;

    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void history_should_intern_and_merge_names(void **state)
{
    struct hist a, b;

    assert_int_equal(hist_init(&a), 0);
    assert_int_equal(hist_init(&b), 0);
    assert_int_equal(hist_intern(&a.keys, ""), 0);
    assert_int_equal(hist_intern(&a.keys, "k1"), 1);
    assert_int_equal(hist_intern(&a.keys, "k2"), 2);
    assert_int_equal(hist_intern(&a.keys, "k1"), 1);
    for (int i = 0; i < 5000; i++) {
        char k[16];

        snprintf(k, sizeof(k), "x%d", i);
        assert_int_equal(hist_intern(&b.keys, k), i + 1);
    }
    assert_int_equal(hist_intern(&b.keys, "x4321"), 4322);
    tl_op(&b, 4, "put", true, "x7", 9, "north", 5, 6, HIST_OK);
    tl_op(&a, 1, "get", false, "k2", 0, "west", 1, 2, HIST_OK);
    assert_int_equal(hist_merge(&a, &b), 0);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.keys.s[a.ops[1].key], "x7");
    assert_string_equal(hist_op_name(&a, &a.ops[1]), "put");
    assert_string_equal(a.regions.s[a.ops[1].region], "north");
    hist_free(&a);
    hist_free(&b);
    hist_free(NULL);
}

static void history_should_sort_stably_by_invoke(void **state)
{
    struct hist h;

    assert_int_equal(hist_init(&h), 0);
    tl_op(&h, 1, "get", false, "k", 1, "", 30, 31, HIST_OK);
    tl_op(&h, 2, "get", false, "k", 2, "", 10, 11, HIST_OK);
    tl_op(&h, 3, "get", false, "k", 3, "", 30, 32, HIST_OK);
    tl_op(&h, 4, "get", false, "k", 4, "", 20, 21, HIST_OK);
    hist_sort(&h);
    assert_int_equal(h.ops[0].client, 2);
    assert_int_equal(h.ops[1].client, 4);
    assert_int_equal(h.ops[2].client, 1);
    assert_int_equal(h.ops[3].client, 3);
    hist_free(&h);
}

static void history_should_round_trip_through_jsonl(void **state)
{
    struct hist h, back;
    struct hist_faults fs = {0}, fback = {0};
    char *path, *fpath, buf[] = "/tmp/vfy-rt-XXXXXX", fbuf[] = "/tmp/vfy-rtf-XXXXXX";
    struct fl_err e;
    FILE *f;
    size_t i;

    assert_int_equal(hist_init(&h), 0);
    tl_op(&h, 1, "set-secret", true, "k\"1", 42, "west", 1, 2, HIST_OK);
    tl_op(&h, 2, "get-secret", false, "k\"1", 0, "", 3, 9, HIST_INFO);
    h.ops[1].error = (uint32_t)hist_intern(&h.errors, "timeout\n\xff after 5s");
    tl_final(&h, "k\"1", 42, 100);
    tl_fault(&fs, "f1", 10, 11, 20, 21);
    tl_fault(&fs, "f2", 30, 31, 0, 0);
    path = buf;
    fpath = fbuf;
    f = fdopen(mkstemp(path), "w");
    assert_int_equal(hist_write_jsonl(f, &h), 0);
    fclose(f);
    f = fdopen(mkstemp(fpath), "w");
    assert_int_equal(hist_faults_write_jsonl(f, &fs), 0);
    fclose(f);
    assert_int_equal(hist_init(&back), 0);
    fl_err_clear(&e);
    assert_int_equal(hist_load_jsonl(path, &back, &e), 0);
    assert_int_equal(back.n, h.n);
    for (i = 0; i < h.n; i++) {
        assert_int_equal(back.ops[i].client, h.ops[i].client);
        assert_int_equal(back.ops[i].value, h.ops[i].value);
        assert_int_equal(back.ops[i].invoke_ns, h.ops[i].invoke_ns);
        assert_int_equal(back.ops[i].complete_ns, h.ops[i].complete_ns);
        assert_int_equal(back.ops[i].outcome, h.ops[i].outcome);
        assert_int_equal(back.ops[i].is_write, h.ops[i].is_write);
        assert_int_equal(back.ops[i].is_final, h.ops[i].is_final);
        assert_string_equal(back.keys.s[back.ops[i].key], h.keys.s[h.ops[i].key]);
        assert_string_equal(back.regions.s[back.ops[i].region], h.regions.s[h.ops[i].region]);
    }
    assert_string_equal(back.errors.s[back.ops[1].error], "timeout\n\xef\xbf\xbd after 5s");
    assert_int_equal(hist_faults_load_jsonl(fpath, &fback, &e), 0);
    assert_int_equal(fback.n, 2);
    assert_string_equal(fback.f[1].id, "f2");
    assert_int_equal(fback.f[0].heal_done_ns, 21 * MS);
    assert_int_equal(fback.f[1].heal_sent_ns, 0);
    unlink(path);
    unlink(fpath);
    hist_free(&h);
    hist_free(&back);
    hist_faults_free(&fs);
    hist_faults_free(&fback);
}

static void expect_bad(const char *text, const char *want)
{
    struct hist h;
    struct fl_err e;
    char *path = write_tmp(text), expect[256];

    assert_int_equal(hist_init(&h), 0);
    fl_err_clear(&e);
    assert_int_equal(hist_load_jsonl(path, &h, &e), -EINVAL);
    snprintf(expect, sizeof(expect), "%s:%s", path, want);
    if (strstr(e.msg, expect) == NULL)
        fail_msg("got '%s', want '%s'", e.msg, expect);
    unlink(path);
    free(path);
    hist_free(&h);
}

#define GOOD                                                                       \
    "{\"client\":1,\"op\":\"get\",\"type\":\"read\",\"key\":\"k\",\"value\":null," \
    "\"invoke_ns\":1,\"complete_ns\":2,\"outcome\":\"ok\"}\n"

static void history_should_name_path_and_line_of_bad_records(void **state)
{
    expect_bad(GOOD "\n{\"client\":1", "3: bad JSON");
    expect_bad(GOOD "[1,2]\n", "2: expected a JSON object");
    expect_bad("{\"op\":\"get\",\"type\":\"read\",\"key\":\"k\",\"invoke_ns\":1,\"complete_ns\":2,"
               "\"outcome\":\"ok\"}\n",
               "1: \"client\" missing");
    expect_bad(GOOD "{\"client\":1,\"op\":\"get\",\"type\":\"read\",\"key\":\"k\",\"invoke_ns\":5,"
                    "\"complete_ns\":2,\"outcome\":\"ok\"}\n",
               "2: \"complete_ns\" is before invoke_ns");
    expect_bad("{\"client\":1,\"op\":\"get\",\"type\":\"read\",\"key\":\"k\",\"invoke_ns\":1,"
               "\"complete_ns\":2,\"outcome\":\"maybe\"}\n",
               "1: \"outcome\" must be \"ok\", \"fail\" or \"info\"");
    expect_bad("{\"client\":1,\"op\":\"get\",\"type\":\"scan\",\"key\":\"k\",\"invoke_ns\":1,"
               "\"complete_ns\":2,\"outcome\":\"ok\"}\n",
               "1: \"type\" must be \"read\" or \"write\"");
    expect_bad("{\"client\":1,\"op\":\"get\",\"type\":\"read\",\"key\":\"k\",\"value\":-4,"
               "\"invoke_ns\":1,\"complete_ns\":2,\"outcome\":\"ok\"}\n",
               "1: \"value\" must not be negative");
    expect_bad("{\"client\":1,\"op\":\"put\",\"type\":\"write\",\"key\":\"k\",\"value\":4,"
               "\"invoke_ns\":1,\"complete_ns\":2,\"outcome\":\"ok\",\"final\":true}\n",
               "1: \"final\" is only allowed on reads");
}

/* A record like tl_op's, for hist_append_cas / hist_append_set_read. */
static struct hist_op rec(struct hist *h, uint32_t client, const char *op, bool is_write,
                          const char *key, uint64_t value, int64_t at_ms, int outcome)
{
    struct hist_op o;

    memset(&o, 0, sizeof(o));
    o.client = client;
    o.op = (uint16_t)hist_intern(&h->op_names, op);
    o.is_write = is_write;
    o.key = (uint32_t)hist_intern(&h->keys, key);
    o.value = value;
    o.invoke_ns = at_ms * MS;
    o.complete_ns = (at_ms + 1) * MS;
    o.outcome = (uint8_t)outcome;
    return o;
}

/* Write h to a temporary history.jsonl and load it into back. */
static void write_and_load(const struct hist *h, struct hist *back)
{
    char path[] = "/tmp/vfy-rt2-XXXXXX";
    struct fl_err e;
    FILE *f = fdopen(mkstemp(path), "w");

    assert_non_null(f);
    assert_int_equal(hist_write_jsonl(f, h), 0);
    fclose(f);
    assert_int_equal(hist_init(back), 0);
    fl_err_clear(&e);
    if (hist_load_jsonl(path, back, &e) != 0)
        fail_msg("load: %s", e.msg);
    unlink(path);
}

static void assert_same_history(const struct hist *a, const struct hist *b)
{
    size_t i, j, na, nb;

    assert_int_equal(a->n, b->n);
    for (i = 0; i < a->n; i++) {
        const struct hist_op *x = &a->ops[i], *y = &b->ops[i];
        const uint64_t *ea = hist_set_elems(a, x, &na), *eb = hist_set_elems(b, y, &nb);

        assert_int_equal(x->value, y->value);
        assert_int_equal(x->is_write, y->is_write);
        assert_int_equal(x->outcome, y->outcome);
        assert_int_equal(x->flags, y->flags);
        assert_int_equal(hist_cas_expected(a, x), hist_cas_expected(b, y));
        assert_string_equal(a->keys.s[x->key], b->keys.s[y->key]);
        assert_int_equal(na, nb);
        assert_int_equal(ea == NULL, eb == NULL);
        for (j = 0; j < na; j++)
            assert_int_equal(ea[j], eb[j]);
    }
}

static void history_should_round_trip_cas_and_set_records(void **state)
{
    const uint64_t elems[] = {30, 10, 20, 10}; /* unsorted, one duplicate */
    struct hist h, back, merged;
    struct hist_op o;
    const uint64_t *e;
    size_t n;

    assert_int_equal(hist_init(&h), 0);
    o = rec(&h, 1, "cas", true, "r", 7, 1, HIST_OK);
    o.flags = HIST_F_SWAPPED;
    assert_int_equal(hist_append_cas(&h, &o, 5), 0); /* 0: swapped 5 -> 7 */
    o = rec(&h, 2, "cas", true, "r", 8, 2, HIST_OK);
    assert_int_equal(hist_append_cas(&h, &o, 0), 0); /* 1: absent -> 8, no match */
    o = rec(&h, 3, "cas", true, "r", 9, 3, HIST_INFO);
    o.flags = HIST_F_SWAPPED;                        /* dropped: only an ok cas can have swapped */
    assert_int_equal(hist_append_cas(&h, &o, 7), 0); /* 2 */
    o = rec(&h, 4, "add", true, "s", 10, 4, HIST_OK);
    o.flags = HIST_F_SET;
    assert_int_equal(hist_append(&h, &o), 0); /* 3: set write */
    o = rec(&h, 5, "members", false, "s", 0, 5, HIST_OK);
    assert_int_equal(hist_append_set_read(&h, &o, elems, 4), 0); /* 4 */
    o = rec(&h, 5, "members", false, "s", 0, 6, HIST_OK);
    assert_int_equal(hist_append_set_read(&h, &o, NULL, 0), 0); /* 5: the empty set */
    o = rec(&h, 5, "members", false, "s", 0, 7, HIST_FAIL);
    o.flags = HIST_F_SET;
    assert_int_equal(hist_append(&h, &o), 0);              /* 6: no answer */
    tl_op(&h, 6, "put", true, "r", 11, "", 8, 9, HIST_OK); /* 7: register */

    assert_true(h.ops[0].is_write && (h.ops[0].flags & HIST_F_CAS));
    assert_int_equal(h.ops[0].flags & HIST_F_SWAPPED, HIST_F_SWAPPED);
    assert_int_equal(h.ops[1].flags & HIST_F_SWAPPED, 0);
    assert_int_equal(h.ops[2].flags & HIST_F_SWAPPED, 0);
    assert_int_equal(hist_cas_expected(&h, &h.ops[0]), 5);
    assert_int_equal(hist_cas_expected(&h, &h.ops[1]), 0);
    assert_int_equal(hist_cas_expected(&h, &h.ops[7]), 0);
    e = hist_set_elems(&h, &h.ops[4], &n);
    assert_int_equal(n, 3);
    assert_int_equal(e[0], 10);
    assert_int_equal(e[1], 20);
    assert_int_equal(e[2], 30);
    assert_non_null(hist_set_elems(&h, &h.ops[5], &n));
    assert_int_equal(n, 0);
    assert_null(hist_set_elems(&h, &h.ops[6], &n));
    assert_null(hist_set_elems(&h, &h.ops[3], &n));

    write_and_load(&h, &back);
    assert_same_history(&h, &back);

    assert_int_equal(hist_init(&merged), 0);
    tl_op(&merged, 9, "get", false, "other", 0, "", 0, 1, HIST_OK);
    assert_int_equal(hist_merge(&merged, &back), 0);
    assert_int_equal(merged.n, h.n + 1);
    assert_int_equal(hist_cas_expected(&merged, &merged.ops[1]), 5);
    e = hist_set_elems(&merged, &merged.ops[5], &n);
    assert_int_equal(n, 3);
    assert_int_equal(e[2], 30);
    hist_free(&h);
    hist_free(&back);
    hist_free(&merged);
}

#define REC(type, extra)                                                              \
    "{\"client\":1,\"op\":\"x\",\"type\":\"" type "\",\"key\":\"k\",\"invoke_ns\":1," \
    "\"complete_ns\":2,\"outcome\":\"ok\"" extra "}\n"

static void history_should_name_bad_cas_and_set_records(void **state)
{
    expect_bad(GOOD REC("cas", ",\"value\":[1],\"swapped\":true"),
               "2: \"value\" must be [expected, new] on a cas");
    expect_bad(REC("cas", ",\"value\":[1,2,3],\"swapped\":true"),
               "1: \"value\" must be [expected, new] on a cas");
    expect_bad(REC("cas", ",\"value\":7,\"swapped\":true"),
               "1: \"value\" must be [expected, new] on a cas");
    expect_bad(REC("cas", ",\"value\":[\"a\",2],\"swapped\":true"),
               "1: \"value\" elements must be integers or null");
    expect_bad(REC("cas", ",\"value\":[1,2.5],\"swapped\":true"),
               "1: \"value\" elements must be integers or null");
    expect_bad(REC("cas", ",\"value\":[-1,2],\"swapped\":true"),
               "1: \"value\" elements must not be negative");
    expect_bad(REC("cas", ",\"value\":[1,2]"),
               "1: \"swapped\" missing (required on a cas with outcome ok)");
    expect_bad(REC("cas", ",\"value\":[1,2],\"swapped\":\"yes\""),
               "1: \"swapped\" must be true or false");
    expect_bad(REC("write", ",\"value\":2,\"swapped\":true"),
               "1: \"swapped\" is only allowed on a cas");
    expect_bad(REC("read", ",\"value\":2,\"swapped\":false"),
               "1: \"swapped\" is only allowed on a cas");
    expect_bad(REC("write", ",\"value\":[1,2]"), "1: \"value\" must be a number or null");
    expect_bad(REC("read", ",\"model\":\"set\",\"value\":[1,\"x\"]"),
               "1: \"value\" elements must be integers");
    expect_bad(REC("read", ",\"model\":\"set\",\"value\":[1,null]"),
               "1: \"value\" elements must be integers");
    expect_bad(REC("read", ",\"model\":\"set\",\"value\":[1,[2]]"),
               "1: \"value\" elements must be integers");
    expect_bad(REC("read", ",\"model\":\"set\",\"value\":[3,-1]"),
               "1: \"value\" elements must not be negative");
    expect_bad(REC("read", ",\"model\":\"set\",\"value\":4"),
               "1: \"value\" must be an array of elements on a read with \"model\":\"set\"");
    expect_bad(REC("write", ",\"model\":\"set\",\"value\":[4]"),
               "1: \"value\" must be a number or null on a set write");
    expect_bad(REC("write", ",\"model\":\"bag\",\"value\":4"),
               "1: \"model\" must be \"register\" or \"set\"");
    expect_bad(REC("cas", ",\"model\":\"set\",\"value\":[1,2],\"swapped\":true"),
               "1: \"model\" \"set\" does not take a cas");
}

/* The loader reads any key order, skips unknown keys whatever they hold, and
 * takes CRLF, blank lines, a last line without newline and lines of megabytes. */
static void history_should_read_any_layout_of_lines(void **state)
{
    const size_t big = 400000;
    size_t len = 0, cap = big * 12 + 4096, i, n;
    char *text = malloc(cap), *path;
    const uint64_t *e;
    struct fl_err err;
    struct hist h;

    assert_non_null(text);
    len += (size_t)snprintf(text + len, cap - len,
                            "{\"outcome\":\"ok\",\"extra\":{\"a\":[1,{\"b\":null}]},\"value\":"
                            "[null,5],\"swapped\":false,\"type\":\"cas\",\"key\":17,"
                            "\"complete_ns\":2,\"invoke_ns\":1,\"op\":\"c\",\"client\":3}\r\n\n");
    len += (size_t)snprintf(text + len, cap - len,
                            "{\"client\":1,\"op\":\"m\",\"type\":\"read\",\"model\":\"set\","
                            "\"key\":\"s\",\"invoke_ns\":1,\"complete_ns\":2,\"outcome\":\"ok\","
                            "\"value\":[");
    for (i = big; i > 0; i--)
        len += (size_t)snprintf(text + len, cap - len, "%zu%s", i * 3, i > 1 ? "," : "]}\n");
    len += (size_t)snprintf(text + len, cap - len, "%s", GOOD);
    text[len - 1] = '\0'; /* no newline after the last record */
    path = write_tmp(text);
    assert_int_equal(hist_init(&h), 0);
    fl_err_clear(&err);
    if (hist_load_jsonl(path, &h, &err) != 0)
        fail_msg("load: %s", err.msg);
    assert_int_equal(h.n, 3);
    assert_string_equal(h.keys.s[h.ops[0].key], "17");
    assert_int_equal(h.ops[0].client, 3);
    assert_int_equal(h.ops[0].value, 5);
    assert_int_equal(h.ops[0].flags, HIST_F_CAS);
    e = hist_set_elems(&h, &h.ops[1], &n);
    assert_int_equal(n, big);
    assert_int_equal(e[0], 3);
    assert_int_equal(e[big - 1], big * 3);
    assert_int_equal(h.ops[2].invoke_ns, 1);
    unlink(path);
    free(path);
    free(text);
    hist_free(&h);

    expect_bad(GOOD "{\"client\":1,\"client\":2}\n", "2: bad JSON: duplicate object key");
    expect_bad("{\"client\":1,\"op\":\"a\\u0000b\"}\n", "1: bad JSON");
    expect_bad(GOOD GOOD "42\n", "3: expected a JSON object");
    expect_bad("{\"client\":1} {\"client\":2}\n", "1: bad JSON");
    expect_bad("{\"client\":99999999999999999999}\n", "1: \"client\" is out of range");
}

static void faults_should_name_path_and_line_of_bad_records(void **state)
{
    struct hist_faults fs = {0};
    struct fl_err e;
    char *path = write_tmp("{\"id\":\"f1\",\"apply_sent_ns\":1,\"apply_done_ns\":2}\n"
                           "{\"id\":\"f2\",\"apply_sent_ns\":5,\"apply_done_ns\":4}\n");

    fl_err_clear(&e);
    assert_int_equal(hist_faults_load_jsonl(path, &fs, &e), -EINVAL);
    assert_non_null(strstr(e.msg, ":2: \"apply_done_ns\" is before apply_sent_ns"));
    hist_faults_free(&fs);
    unlink(path);
    free(path);
    fl_err_clear(&e);
    assert_true(hist_faults_load_jsonl("/nonexistent/faults.jsonl", &fs, &e) < 0);
    assert_non_null(strstr(e.msg, "/nonexistent/faults.jsonl"));
}

static void verifiers_should_accept_unsorted_histories_and_keep_record_numbers(void **state)
{
    struct hist h;
    struct hist_faults fs = {0};
    struct vfy_config cfg;
    struct vfy_result r;

    assert_int_equal(hist_init(&h), 0);
    tl_fault(&fs, "f1", 1000, 1000, 5000, 5000);
    tl_final(&h, "k", 1, 9000);                                   /* record 0 */
    tl_op(&h, 1, "put", true, "k", 2, "west", 800, 810, HIST_OK); /* record 1: lost */
    tl_op(&h, 1, "put", true, "k", 1, "west", 100, 110, HIST_OK); /* record 2 */
    vfy_config_init_defaults(&cfg);
    assert_int_equal(vfy_data_loss_preset(&cfg.data_loss, "strong", NULL), 0);
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_false(r.pass);
    assert_int_equal((int)tl_num(r.measured, "lost_updates"), 1);
    assert_int_equal((int)tl_num(r.measured, "faults.0.earliest.record"), 1);
    assert_int_equal((int)tl_num(r.measured, "window_ms"), 190);
    assert_int_equal(h.ops[0].is_final, 1); /* the caller's history is untouched */
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(history_should_intern_and_merge_names),
        cmocka_unit_test(history_should_sort_stably_by_invoke),
        cmocka_unit_test(history_should_round_trip_through_jsonl),
        cmocka_unit_test(history_should_name_path_and_line_of_bad_records),
        cmocka_unit_test(history_should_round_trip_cas_and_set_records),
        cmocka_unit_test(history_should_name_bad_cas_and_set_records),
        cmocka_unit_test(history_should_read_any_layout_of_lines),
        cmocka_unit_test(faults_should_name_path_and_line_of_bad_records),
        cmocka_unit_test(verifiers_should_accept_unsorted_histories_and_keep_record_numbers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
