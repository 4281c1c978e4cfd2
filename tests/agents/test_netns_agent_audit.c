/*
 * The audit trail of a real faultline-agent, read back through
 * GET /v1/audit: one line per apply, renew, revert, revert-all, halt,
 * resume, lease expiry, start-up sweep (after a kill -9) and refused
 * request (wrong token, 409 while halted), each with its time, caller,
 * status and result, and for faults the SHA-256 of the canonical spec
 * (checked against sha256sum of the spec the agent lists); `since` and
 * `limit` filtering and their 400s; the endpoint's 401; rotation at a small
 * --audit-max-bytes with one older file kept; and an audit trail that
 * cannot rotate never failing an apply (counted in /metrics).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "agent_fixture.h"
#include "faultline/timeutil.h"
#include "netns.h"
#include "testutil.h"

static struct fx_agent ag;

static int group_setup(void **state)
{
    if (!tu_is_root())
        return 0;
    if (tn_create("u") < 0)
        return -1;
    tn_exec("u", "sysctl -qw net.ipv6.conf.default.accept_dad=0");
    if (tn_veth("u", "vu", "198.18.2.1/24", NULL, "vu2", NULL) < 0)
        return -1;
    fx_settle("u");
    return 0;
}

static int group_teardown(void **state)
{
    tn_cleanup();
    return 0;
}

static int setup(void **state)
{
    if (!tu_is_root())
        return 0;
    return fx_init(&ag, "u", "127.0.0.1:7360");
}

static int teardown(void **state)
{
    fx_cleanup(&ag);
    return 0;
}

static long req(const char *method, const char *path, const char *body, char **resp)
{
    return fx_http(&ag, NULL, method, path, body, NULL, false, resp);
}

/* The audit entries since (wall ns) as a JSON array (new reference); every line must parse. */
static json_t *audit_since(int64_t since)
{
    char path[128], *resp = NULL, *line, *save = NULL;
    json_t *arr = json_array(), *e;

    snprintf(path, sizeof(path), "/v1/audit?since=%lld", (long long)since);
    assert_int_equal(req("GET", path, NULL, &resp), 200);
    for (line = strtok_r(resp, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        e = json_loads(line, 0, NULL);
        if (e == NULL || !json_is_integer(json_object_get(e, "time_ns")) ||
            !json_is_string(json_object_get(e, "time")) ||
            !json_is_string(json_object_get(e, "event")) ||
            !json_is_string(json_object_get(e, "result")))
            fail_msg("bad audit line: %s", line);
        json_array_append_new(arr, e);
    }
    free(resp);
    return arr;
}

static const char *str(const json_t *e, const char *key)
{
    const json_t *v = json_object_get(e, key);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * The first entry at or after *from with this event and id (NULL: any id);
 * *from moves past it, so successive calls check the order. Fails when absent.
 */
static json_t *expect_entry(json_t *arr, size_t *from, const char *event, const char *id)
{
    size_t i;
    json_t *e;

    for (i = *from; i < json_array_size(arr); i++) {
        e = json_array_get(arr, i);
        if (strcmp(str(e, "event"), event) != 0)
            continue;
        if (id != NULL && (str(e, "id") == NULL || strcmp(str(e, "id"), id) != 0))
            continue;
        *from = i + 1;
        return e;
    }
    fail_msg("no '%s' entry for %s after entry %zu in:\n%s", event, id ? id : "-", *from,
             json_dumps(arr, JSON_INDENT(1)));
    return NULL;
}

/* sha256sum of the canonical (sorted, compact) spec the agent lists for id. */
static char *listed_spec_sha256(const char *id)
{
    char path[128], file[256], *resp = NULL, *text, *out;
    json_t *j;
    FILE *fp;

    snprintf(path, sizeof(path), "/v1/faults/%s", id);
    assert_int_equal(req("GET", path, NULL, &resp), 200);
    j = json_loads(resp, 0, NULL);
    assert_non_null(j);
    text = json_dumps(json_object_get(j, "spec"), JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(text);
    snprintf(file, sizeof(file), "%s/spec.json", ag.dir);
    fp = fopen(file, "we");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    out = tu_sh_out("sha256sum %s | cut -c1-64", file);
    assert_non_null(out);
    out[strcspn(out, "\n")] = '\0';
    free(text);
    free(resp);
    json_decref(j);
    return out;
}

static void assert_caller(const json_t *e)
{
    assert_non_null(str(e, "caller"));
    assert_string_equal(str(e, "caller"), "127.0.0.1");
}

static void audit_should_record_every_change_and_refusal(void **state)
{
    char wrong[96], *hash;
    size_t at = 0;
    int64_t t0;
    json_t *arr, *e;

    TU_REQUIRE_ROOT();
    assert_int_equal(fx_start(&ag, NULL), 0);
    t0 = fl_wall_ns();
    assert_int_equal(
        req("POST", "/v1/faults", fx_apply_body("a1", fx_partition("drop"), 60000), NULL), 201);
    hash = listed_spec_sha256("a1");
    assert_int_equal(
        req("POST", "/v1/faults", fx_apply_body("a1", fx_partition("drop"), 60000), NULL), 200);
    assert_int_equal(req("POST", "/v1/faults/a1/renew", "{\"ttl_ms\":30000}", NULL), 200);
    assert_int_equal(req("DELETE", "/v1/faults/a1", NULL, NULL), 200);
    assert_int_equal(req("POST", "/v1/revert-all", NULL, NULL), 200);
    snprintf(wrong, sizeof(wrong), "Bearer %sx", ag.token);
    assert_int_equal(fx_http(&ag, NULL, "POST", "/v1/faults",
                             fx_apply_body("a2", fx_partition("drop"), 60000), wrong, false, NULL),
                     401);
    assert_int_equal(req("POST", "/v1/halt", "{\"reason\":\"drill\"}", NULL), 200);
    assert_int_equal(
        req("POST", "/v1/faults", fx_apply_body("a3", fx_partition("reject"), 60000), NULL), 409);
    assert_int_equal(req("POST", "/v1/resume", NULL, NULL), 200);
    /* A short lease, left to expire. */
    assert_int_equal(
        req("POST", "/v1/faults", fx_apply_body("a4", fx_partition("drop"), 300), NULL), 201);
    usleep(900000);
    assert_int_equal(req("GET", "/v1/faults/a4", NULL, NULL), 404);

    arr = audit_since(t0);
    e = expect_entry(arr, &at, "apply", "a1");
    assert_caller(e);
    assert_int_equal(json_integer_value(json_object_get(e, "status")), 201);
    assert_string_equal(str(e, "kind"), "partition");
    assert_string_equal(str(e, "spec_sha256"), hash);
    assert_string_equal(str(e, "result"), "ok");
    assert_true(json_integer_value(json_object_get(e, "time_ns")) >= t0);
    e = expect_entry(arr, &at, "apply", "a1");
    assert_int_equal(json_integer_value(json_object_get(e, "status")), 200);
    e = expect_entry(arr, &at, "renew", "a1");
    assert_caller(e);
    assert_string_equal(str(e, "spec_sha256"), hash);
    e = expect_entry(arr, &at, "revert", "a1");
    assert_caller(e);
    assert_string_equal(str(e, "spec_sha256"), hash);
    e = expect_entry(arr, &at, "revert-all", NULL);
    assert_caller(e);
    assert_int_equal(json_integer_value(json_object_get(e, "reverted")), 0);
    e = expect_entry(arr, &at, "refused", NULL);
    assert_caller(e);
    assert_int_equal(json_integer_value(json_object_get(e, "status")), 401);
    assert_non_null(strstr(str(e, "result"), "token"));
    assert_string_equal(str(e, "request"), "POST /v1/faults");
    e = expect_entry(arr, &at, "halt", NULL);
    assert_caller(e);
    assert_string_equal(str(e, "reason"), "drill");
    e = expect_entry(arr, &at, "refused", "a3");
    assert_int_equal(json_integer_value(json_object_get(e, "status")), 409);
    assert_non_null(strstr(str(e, "result"), "halted since"));
    assert_string_equal(str(e, "kind"), "partition");
    assert_non_null(str(e, "spec_sha256"));
    assert_string_not_equal(str(e, "spec_sha256"), hash); /* reject, not drop */
    e = expect_entry(arr, &at, "resume", NULL);
    assert_caller(e);
    expect_entry(arr, &at, "apply", "a4");
    e = expect_entry(arr, &at, "expire", "a4");
    assert_null(json_object_get(e, "caller"));
    assert_null(json_object_get(e, "status"));
    assert_string_equal(str(e, "spec_sha256"), hash); /* the same spec as a1 */
    assert_string_equal(str(e, "result"), "ok");
    json_decref(arr);
    free(hash);
    assert_int_equal(fx_stop(&ag, SIGTERM), 0);
}

static void audit_should_record_the_startup_sweep_after_kill9(void **state)
{
    size_t at = 0;
    int64_t t0;
    json_t *arr, *e;

    TU_REQUIRE_ROOT();
    assert_int_equal(fx_start(&ag, NULL), 0);
    assert_int_equal(
        req("POST", "/v1/faults", fx_apply_body("s1", fx_partition("drop"), 60000), NULL), 201);
    assert_int_equal(req("POST", "/v1/faults",
                         fx_apply_body("s2",
                                       "{\"kind\":\"loss\",\"percent\":30,"
                                       "\"from\":[\"198.18.1.0/24\"]}",
                                       60000),
                         NULL),
                     201);
    assert_int_equal(fx_stop(&ag, SIGKILL), 128 + SIGKILL);
    t0 = fl_wall_ns();
    assert_int_equal(fx_start(&ag, NULL), 0);
    arr = audit_since(t0);
    e = expect_entry(arr, &at, "sweep", "s1");
    assert_null(json_object_get(e, "caller"));
    assert_string_equal(str(e, "kind"), "partition");
    assert_non_null(str(e, "spec_sha256"));
    assert_string_equal(str(e, "result"), "ok");
    at = 0;
    e = expect_entry(arr, &at, "sweep", "s2");
    assert_string_equal(str(e, "kind"), "loss");
    json_decref(arr);
    /* SIGTERM's revert-all is the agent's own: no caller. */
    t0 = fl_wall_ns();
    assert_int_equal(fx_stop(&ag, SIGTERM), 0);
    assert_int_equal(fx_start(&ag, NULL), 0);
    arr = audit_since(t0);
    at = 0;
    e = expect_entry(arr, &at, "revert-all", NULL);
    assert_null(json_object_get(e, "caller"));
    json_decref(arr);
    assert_int_equal(fx_stop(&ag, SIGTERM), 0);
}

static void audit_should_filter_by_since_and_limit(void **state)
{
    char path[128], *resp = NULL, *out;
    int64_t mid;
    json_t *all, *some;
    size_t i;
    int k;

    TU_REQUIRE_ROOT();
    assert_int_equal(fx_start(&ag, NULL), 0);
    for (k = 0; k < 6; k++)
        assert_int_equal(req("DELETE", "/v1/faults/none", NULL, NULL), 404);
    all = audit_since(0);
    assert_true(json_array_size(all) >= 6);
    mid = json_integer_value(
        json_object_get(json_array_get(all, json_array_size(all) - 3), "time_ns"));
    some = audit_since(mid);
    assert_int_equal(json_array_size(some), 3);
    for (i = 0; i < json_array_size(some); i++)
        assert_true(json_integer_value(json_object_get(json_array_get(some, i), "time_ns")) >= mid);
    assert_string_equal(str(json_array_get(some, 0), "request"), "DELETE /v1/faults/none");
    assert_string_equal(str(json_array_get(some, 0), "id"), "none");
    json_decref(some);
    json_decref(all);
    /* limit: the first N entries from since. */
    assert_int_equal(req("GET", "/v1/audit?since=0&limit=2", NULL, &resp), 200);
    for (k = 0, out = resp; *out; out++)
        k += *out == '\n';
    assert_int_equal(k, 2);
    free(resp);
    /* A since in the future: nothing, still 200. */
    snprintf(path, sizeof(path), "/v1/audit?since=%lld", (long long)(fl_wall_ns() + 3600e9));
    assert_int_equal(req("GET", path, NULL, &resp), 200);
    assert_string_equal(resp, "");
    free(resp);
    /* Bad values: 400 with a JSON error naming the parameter. */
    assert_int_equal(req("GET", "/v1/audit?since=yesterday", NULL, &resp), 400);
    assert_non_null(strstr(resp, "{\"error\":\"bad since 'yesterday'"));
    free(resp);
    assert_int_equal(req("GET", "/v1/audit?since=-5", NULL, NULL), 400);
    assert_int_equal(req("GET", "/v1/audit?since=", NULL, NULL), 400);
    assert_int_equal(req("GET", "/v1/audit?limit=0", NULL, &resp), 400);
    assert_non_null(strstr(resp, "limit"));
    free(resp);
    assert_int_equal(req("GET", "/v1/audit?since=5&colour=red", NULL, &resp), 400);
    assert_non_null(strstr(resp, "colour"));
    free(resp);
    assert_int_equal(req("POST", "/v1/audit", "{}", NULL), 405);
    /* Only for the token's holders; the refusal is itself audited. */
    assert_int_equal(fx_http(&ag, NULL, "GET", "/v1/audit", NULL, "", false, NULL), 401);
    all = audit_since(0);
    assert_string_equal(str(json_array_get(all, json_array_size(all) - 1), "request"),
                        "GET /v1/audit");
    json_decref(all);
    /* The content type. */
    out = tu_sh_out("ip netns exec %s curl -s -D - -o /dev/null -H 'Authorization: Bearer %s' "
                    "http://%s/v1/audit",
                    tn_name(ag.ns), ag.token, ag.listen);
    assert_non_null(out);
    assert_non_null(strcasestr(out, "content-type: application/jsonl"));
    free(out);
    assert_int_equal(fx_stop(&ag, SIGTERM), 0);
}

static void audit_should_rate_limit_refusals_without_the_token(void **state)
{
    json_t *all, *e;
    long long written = 0, suppressed = 0;
    size_t i;
    int k;

    TU_REQUIRE_ROOT();
    assert_int_equal(fx_start(&ag, NULL), 0);
    /* Wrong or no token, and /metrics misused (no token needed to try). */
    for (k = 0; k < 60; k++) {
        if (k % 3 == 2)
            assert_int_equal(fx_http(&ag, NULL, "POST", "/metrics", "{}", "", false, NULL), 405);
        else
            assert_int_equal(fx_http(&ag, NULL, "GET", "/v1/faults", NULL, "", false, NULL), 401);
    }
    usleep(1100000);
    assert_int_equal(fx_http(&ag, NULL, "GET", "/v1/faults", NULL, "", false, NULL), 401);
    all = audit_since(0);
    json_array_foreach(all, i, e)
    {
        if (json_integer_value(json_object_get(e, "status")) != 401 &&
            json_integer_value(json_object_get(e, "status")) != 405)
            continue;
        written++;
        suppressed += json_integer_value(json_object_get(e, "suppressed"));
    }
    json_decref(all);
    /* Fewer lines than requests, and every one of them accounted for. */
    assert_true(written < 61);
    assert_int_equal(written + suppressed, 61);
    assert_int_equal(fx_stop(&ag, SIGTERM), 0);
}

static long long file_size(const char *name)
{
    char path[256];
    struct stat st;

    snprintf(path, sizeof(path), "%s/state/%s", ag.dir, name);
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void audit_should_rotate_at_max_bytes_and_keep_one_old_file(void **state)
{
    json_t *all;
    size_t i;
    int64_t prev = 0, t;
    char *lines;
    int k, n;

    TU_REQUIRE_ROOT();
    assert_int_equal(fx_start(&ag, (const char *const[]){"--audit-max-bytes", "2K", NULL}), 0);
    for (k = 0; k < 40; k++)
        assert_int_equal(req("DELETE", "/v1/faults/rotate-me", NULL, NULL), 404);
    assert_true(file_size("audit.jsonl") > 0);
    assert_true(file_size("audit.jsonl") <= 2048);
    assert_true(file_size("audit.jsonl.1") > 1024);
    assert_true(file_size("audit.jsonl.1") <= 2048);
    assert_int_equal(file_size("audit.jsonl.2"), -1);
    /* The answer is both files, older first, exactly their lines. */
    lines = tu_sh_out("cat %s/state/audit.jsonl.1 %s/state/audit.jsonl | wc -l", ag.dir, ag.dir);
    assert_non_null(lines);
    n = atoi(lines);
    free(lines);
    all = audit_since(0);
    assert_int_equal((int)json_array_size(all), n);
    for (i = 0; i < json_array_size(all); i++) {
        t = json_integer_value(json_object_get(json_array_get(all, i), "time_ns"));
        assert_true(t >= prev);
        prev = t;
    }
    json_decref(all);
    assert_int_equal(fx_stop(&ag, SIGTERM), 0);
    /* A bad size is a usage error. */
    assert_int_equal(
        tu_sh(
            "%s -n --listen 127.0.0.1:7399 --token-file %s/token --audit-max-bytes 10 2>/dev/null",
            getenv("FAULTLINE_AGENT"), ag.dir),
        2);
}

static void audit_failure_should_not_fail_an_apply(void **state)
{
    char *m = NULL;

    TU_REQUIRE_ROOT();
    assert_int_equal(fx_start(&ag, (const char *const[]){"--audit-max-bytes", "1K", NULL}), 0);
    /* A directory where the rotated file goes: rotation cannot happen. */
    assert_int_equal(tu_sh("mkdir -p %s/state/audit.jsonl.1/blocker", ag.dir), 0);
    while (file_size("audit.jsonl") < 1024)
        assert_int_equal(req("DELETE", "/v1/faults/fill", NULL, NULL), 404);
    assert_int_equal(
        req("POST", "/v1/faults", fx_apply_body("ok1", fx_partition("drop"), 60000), NULL), 201);
    assert_int_equal(req("DELETE", "/v1/faults/ok1", NULL, NULL), 200);
    assert_int_equal(fx_http(&ag, NULL, "GET", "/metrics", NULL, "", false, &m), 200);
    assert_non_null(strstr(m, "faultline_agent_audit_errors_total "));
    assert_null(strstr(m, "faultline_agent_audit_errors_total 0\n"));
    free(m);
    assert_true(fx_log_contains(&ag, "cannot rotate"));
    assert_int_equal(fx_stop(&ag, SIGTERM), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(audit_should_record_every_change_and_refusal, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(audit_should_record_the_startup_sweep_after_kill9, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(audit_should_filter_by_since_and_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(audit_should_rotate_at_max_bytes_and_keep_one_old_file,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(audit_should_rate_limit_refusals_without_the_token, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(audit_failure_should_not_fail_an_apply, setup, teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
