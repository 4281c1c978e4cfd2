/*
 * Unit tests of the audit trail (agents/audit.c, no root): the spec hash
 * is SHA-256 of the sorted compact JSON (a known vector), lines carry only
 * the fields given and stay valid JSON with invalid UTF-8 in an error text,
 * reading filters by since and limit and includes the rotated file first,
 * rotation keeps at most one older file within the size, refusals without
 * the token are rate-limited, and --audit-max-bytes parses sizes with K, M, G.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent.h"
#include "audit.h"
#include "faultline/timeutil.h"
#include "testutil.h"

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/fl-audit-unit-XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static long long size_of(const char *name)
{
    char path[128];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Read everything since (at most limit lines) into a JSON array (new reference). */
static json_t *read_all(struct agent_audit *au, int64_t since, size_t limit)
{
    struct fl_err err;
    char *text = NULL, *line, *save = NULL;
    size_t len = 0;
    json_t *arr = json_array(), *e;

    fl_err_clear(&err);
    assert_int_equal(agent_audit_read(au, since, limit, &text, &len, &err), 0);
    assert_int_equal(len, strlen(text));
    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        e = json_loads(line, 0, NULL);
        if (e == NULL)
            fail_msg("not JSON: %s", line);
        json_array_append_new(arr, e);
    }
    free(text);
    return arr;
}

static void spec_hash_should_be_sha256_of_the_sorted_compact_json(void **state)
{
    char hex[AGENT_SHA256_HEX];
    json_t *spec = json_loads("{\"b\": [2, 3], \"a\": 1}", 0, NULL);

    assert_non_null(spec);
    assert_int_equal(agent_spec_sha256(spec, hex), 0);
    /* printf '%s' '{"a":1,"b":[2,3]}' | sha256sum */
    assert_string_equal(hex, "efbd0040190fb0871831e606c581f8a66db79d8e2bb836745a70051306956070");
    json_decref(spec);
}

static void audit_line_should_hold_the_given_fields_only(void **state)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct agent_audit au;
    struct fl_err err;
    json_t *arr, *e;
    char when[40];

    inet_pton(AF_INET, "198.19.0.1", &sin.sin_addr);
    fl_err_clear(&err);
    assert_int_equal(agent_audit_open(&au, dir, 0, &err), 0);
    assert_int_equal(agent_audit_write(&au, &(struct agent_audit_event){.event = "apply",
                                                                        .id = "f1",
                                                                        .kind = "isolate",
                                                                        .spec_sha256 = "ab",
                                                                        .caller = (void *)&sin,
                                                                        .status = 201,
                                                                        .reverted = -1}),
                     0);
    assert_int_equal(agent_audit_write(&au, &(struct agent_audit_event){.event = "expire",
                                                                        .id = "f1",
                                                                        .result = "bad \xff byte",
                                                                        .reverted = -1}),
                     0);
    arr = read_all(&au, 0, 100);
    assert_int_equal(json_array_size(arr), 2);
    e = json_array_get(arr, 0);
    assert_string_equal(json_string_value(json_object_get(e, "event")), "apply");
    assert_string_equal(json_string_value(json_object_get(e, "caller")), "198.19.0.1");
    assert_string_equal(json_string_value(json_object_get(e, "kind")), "isolate");
    assert_int_equal(json_integer_value(json_object_get(e, "status")), 201);
    assert_string_equal(json_string_value(json_object_get(e, "result")), "ok");
    assert_null(json_object_get(e, "reverted"));
    assert_true(json_integer_value(json_object_get(e, "time_ns")) > 0);
    assert_int_equal(strlen(json_string_value(json_object_get(e, "time"))), 24);
    e = json_array_get(arr, 1);
    assert_null(json_object_get(e, "caller"));
    assert_null(json_object_get(e, "status"));
    assert_string_equal(json_string_value(json_object_get(e, "result")), "bad ? byte");
    json_decref(arr);
    assert_int_equal(agent_audit_errors(&au), 0);
    agent_audit_close(&au);
    assert_string_equal(agent_iso_time(1500000000LL, when, sizeof(when)),
                        "1970-01-01T00:00:01.500Z");
    assert_int_equal(size_of("audit.jsonl") > 0, 1);
}

static void audit_read_should_filter_by_since_and_limit(void **state)
{
    struct agent_audit au;
    struct fl_err err;
    int64_t mid = 0;
    json_t *arr;
    int i;

    fl_err_clear(&err);
    assert_int_equal(agent_audit_open(&au, dir, 0, &err), 0);
    for (i = 0; i < 10; i++) {
        if (i == 6)
            mid = fl_wall_ns();
        agent_audit_write(&au, &(struct agent_audit_event){.event = "renew", .reverted = -1});
    }
    arr = read_all(&au, mid, 100);
    assert_int_equal(json_array_size(arr), 4);
    json_decref(arr);
    arr = read_all(&au, 0, 3);
    assert_int_equal(json_array_size(arr), 3);
    json_decref(arr);
    arr = read_all(&au, fl_wall_ns() + 1000000000LL, 100);
    assert_int_equal(json_array_size(arr), 0);
    json_decref(arr);
    agent_audit_close(&au);
}

static void audit_should_rotate_within_max_bytes_keeping_one_old_file(void **state)
{
    struct agent_audit au;
    struct fl_err err;
    int64_t prev = 0, t;
    json_t *arr;
    size_t i;
    int k;

    fl_err_clear(&err);
    assert_int_equal(agent_audit_open(&au, dir, 1024, &err), 0);
    for (k = 0; k < 100; k++)
        agent_audit_write(&au, &(struct agent_audit_event){
                                   .event = "revert", .id = "rotation-test", .reverted = -1});
    assert_true(size_of("audit.jsonl") <= 1024);
    assert_true(size_of("audit.jsonl.1") > 512);
    assert_true(size_of("audit.jsonl.1") <= 1024);
    assert_int_equal(size_of("audit.jsonl.2"), -1);
    arr = read_all(&au, 0, 1000);
    assert_true(json_array_size(arr) > 5);
    assert_true(json_array_size(arr) < 100);
    for (i = 0; i < json_array_size(arr); i++) {
        t = json_integer_value(json_object_get(json_array_get(arr, i), "time_ns"));
        assert_true(t >= prev);
        prev = t;
    }
    json_decref(arr);
    assert_int_equal(agent_audit_errors(&au), 0);
    agent_audit_close(&au);
}

static void audit_should_rate_limit_refusals_without_the_token(void **state)
{
    struct agent_audit au;
    struct fl_err err;
    json_t *arr;
    int k;

    fl_err_clear(&err);
    assert_int_equal(agent_audit_open(&au, dir, 0, &err), 0);
    /* Within one second (retried once if the second turned meanwhile). */
    for (k = 0; k < 2 * AGENT_AUDIT_UNAUTH_PER_SEC; k++)
        agent_audit_write(
            &au, &(struct agent_audit_event){
                     .event = "refused", .status = 401, .unauthenticated = true, .reverted = -1});
    arr = read_all(&au, 0, 1000);
    assert_true(json_array_size(arr) >= AGENT_AUDIT_UNAUTH_PER_SEC);
    assert_true(json_array_size(arr) < 2 * AGENT_AUDIT_UNAUTH_PER_SEC);
    json_decref(arr);
    /* Authenticated refusals are never limited. */
    for (k = 0; k < 2 * AGENT_AUDIT_UNAUTH_PER_SEC; k++)
        agent_audit_write(
            &au, &(struct agent_audit_event){.event = "refused", .status = 404, .reverted = -1});
    arr = read_all(&au, 0, 1000);
    assert_true(json_array_size(arr) >= 3 * AGENT_AUDIT_UNAUTH_PER_SEC);
    json_decref(arr);
    agent_audit_close(&au);
}

static int parse_max(const char *v, struct agent_config *cfg)
{
    char *argv[] = {(char *)"faultline-agent",
                    (char *)"--listen",
                    (char *)"127.0.0.1:1",
                    (char *)"--token-file",
                    (char *)"/t",
                    (char *)"--audit-max-bytes",
                    (char *)v,
                    NULL};
    struct fl_err err;

    fl_err_clear(&err);
    return agent_config_parse(cfg, 7, argv, &err);
}

static void audit_max_bytes_should_take_sizes_with_units(void **state)
{
    static const struct {
        const char *v;
        unsigned long long want;
    } good[] = {{"1024", 1024}, {"64K", 65536}, {"16M", 16ULL << 20}, {"1G", 1ULL << 30}};
    static const char *const bad[] = {"1000", "0", "2G", "12X", "-5", "K", "", "1.5M"};
    struct agent_config cfg;
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(parse_max(good[i].v, &cfg), 0);
        assert_int_equal(cfg.audit_max_bytes, good[i].want);
        agent_config_free(&cfg);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse_max(bad[i], &cfg) != -EINVAL)
            fail_msg("--audit-max-bytes '%s' accepted", bad[i]);
        agent_config_free(&cfg);
    }
    assert_int_equal(parse_max("2K", &cfg), 0);
    agent_config_free(&cfg);
    {
        char *argv[] = {(char *)"faultline-agent", (char *)"--listen", (char *)"127.0.0.1:1",
                        (char *)"--token-file",    (char *)"/t",       NULL};
        struct fl_err err;

        fl_err_clear(&err);
        assert_int_equal(agent_config_parse(&cfg, 5, argv, &err), 0);
        assert_int_equal(cfg.audit_max_bytes, AGENT_AUDIT_MAX_DEFAULT);
        agent_config_free(&cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_hash_should_be_sha256_of_the_sorted_compact_json),
        cmocka_unit_test_setup_teardown(audit_line_should_hold_the_given_fields_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(audit_read_should_filter_by_since_and_limit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(audit_should_rotate_within_max_bytes_keeping_one_old_file,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(audit_should_rate_limit_refusals_without_the_token, setup,
                                        teardown),
        cmocka_unit_test(audit_max_bytes_should_take_sizes_with_units),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
