/*
 * The emergency halt against a real faultline-agent: POST /v1/halt reverts
 * every fault at once (the kernel snapshot back to what it was, no faultline
 * nf_tables table left), then apply, renew and captures answer 409 with a
 * JSON error naming when and by whom, while DELETE and revert-all keep
 * working; health and /metrics say halted; POST /v1/resume accepts faults
 * again. The halt is kept in the state directory: SIGTERM or kill -9 and a
 * restart leave the agent halted, and its start-up log says so.
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
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "agent_fixture.h"
#include "netns.h"
#include "testutil.h"

static struct fx_agent ag;
static char *pre;

static const char *const loss_spec =
    "{\"kind\":\"loss\",\"percent\":30,\"from\":[\"198.18.1.0/24\"]}";

static int group_setup(void **state)
{
    if (!tu_is_root())
        return 0;
    if (tn_create("x") < 0)
        return -1;
    tn_exec("x", "sysctl -qw net.ipv6.conf.default.accept_dad=0");
    if (tn_veth("x", "vx", "198.18.2.1/24", NULL, "vx2", NULL) < 0)
        return -1;
    fx_settle("x");
    pre = tn_snapshot("x");
    return pre != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
    tn_cleanup();
    free(pre);
    return 0;
}

static int setup(void **state)
{
    if (!tu_is_root())
        return 0;
    return fx_init(&ag, "x", "127.0.0.1:7350");
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

static long apply(const char *id, const char *spec)
{
    return req("POST", "/v1/faults", fx_apply_body(id, spec, 60000), NULL);
}

/* The kernel is as before the test: snapshot equal, no faultline table. */
static void assert_clean(const char *when)
{
    char *now = tn_snapshot("x");

    assert_non_null(now);
    if (strcmp(now, pre) != 0) {
        tn_print_diff(pre, now);
        fail_msg("faultline objects left %s", when);
    }
    free(now);
    assert_int_not_equal(tn_exec("x", "nft list table inet faultline >/dev/null 2>&1"), 0);
}

/* Send a request that must be refused with want and a JSON error containing part. */
static void expect_error(long want, const char *method, const char *path, const char *body,
                         const char *part)
{
    char *resp = NULL;
    json_t *j;
    long st;

    st = req(method, path, body, &resp);
    if (st != want)
        fail_msg("%s %s: want %ld, got %ld: %s", method, path, want, st, resp);
    j = json_loads(resp, 0, NULL);
    if (j == NULL || !json_is_string(json_object_get(j, "error")))
        fail_msg("%s %s: %ld without a JSON error: %s", method, path, st, resp);
    if (part != NULL && strstr(json_string_value(json_object_get(j, "error")), part) == NULL)
        fail_msg("%s %s: error '%s' does not mention '%s'", method, path,
                 json_string_value(json_object_get(j, "error")), part);
    json_decref(j);
    free(resp);
}

/* GET /v1/health as JSON (new reference). */
static json_t *health(void)
{
    char *resp = NULL;
    json_t *j;

    assert_int_equal(req("GET", "/v1/health", NULL, &resp), 200);
    j = json_loads(resp, 0, NULL);
    assert_non_null(j);
    free(resp);
    return j;
}

static bool metrics_say(const char *line)
{
    char *m = NULL;
    bool found;

    assert_int_equal(fx_http(&ag, NULL, "GET", "/metrics", NULL, "", false, &m), 200);
    found = strstr(m, line) != NULL;
    free(m);
    return found;
}

static void halt_should_revert_every_fault_and_refuse_new_ones_with_409(void **state)
{
    char *resp = NULL;
    json_t *j;

    TU_REQUIRE_ROOT();
    assert_int_equal(fx_start(&ag, NULL), 0);
    assert_true(metrics_say("\nfaultline_agent_halted 0\n"));
    assert_int_equal(apply("h1", fx_partition("drop")), 201);
    assert_int_equal(apply("h2", loss_spec), 201);
    assert_int_equal(tn_exec("x", "nft list table inet faultline >/dev/null 2>&1"), 0);

    assert_int_equal(req("POST", "/v1/halt", "{\"reason\":\"pager: error budget\"}", &resp), 200);
    j = json_loads(resp, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "halted")));
    assert_int_equal(json_integer_value(json_object_get(j, "reverted")), 2);
    json_decref(j);
    free(resp);
    assert_clean("after POST /v1/halt");

    /* Refused while halted, with the kernel untouched. */
    expect_error(409, "POST", "/v1/faults", fx_apply_body("h3", fx_partition("drop"), 60000),
                 "halted since ");
    expect_error(409, "POST", "/v1/faults", fx_apply_body("h3", fx_partition("drop"), 60000),
                 "by 127.0.0.1: POST /v1/resume accepts faults again");
    expect_error(409, "POST", "/v1/faults/h1/renew", "{\"ttl_ms\":60000}", "halted since ");
    expect_error(409, "POST", "/v1/captures", "{\"id\":\"c1\",\"dev\":\"lo\"}", "halted since ");
    assert_clean("after refused requests");
    /* Healing keeps working. */
    expect_error(404, "DELETE", "/v1/faults/h1", NULL, "h1");
    assert_int_equal(req("POST", "/v1/revert-all", NULL, NULL), 200);
    assert_int_equal(req("GET", "/v1/faults", NULL, NULL), 200);

    j = health();
    assert_true(json_is_true(json_object_get(j, "halted")));
    assert_true(json_is_string(json_object_get(j, "halted_since")));
    assert_non_null(strchr(json_string_value(json_object_get(j, "halted_since")), 'T'));
    json_decref(j);
    assert_true(metrics_say("\nfaultline_agent_halted 1\n"));

    /* Idempotent: a second halt answers 200 and reverts nothing. */
    assert_int_equal(req("POST", "/v1/halt", NULL, &resp), 200);
    assert_non_null(strstr(resp, "\"reverted\":0"));
    free(resp);

    assert_int_equal(req("POST", "/v1/resume", "{}", &resp), 200);
    assert_string_equal(resp, "{\"halted\":false}");
    free(resp);
    j = health();
    assert_true(json_is_false(json_object_get(j, "halted")));
    assert_null(json_object_get(j, "halted_since"));
    json_decref(j);
    assert_true(metrics_say("\nfaultline_agent_halted 0\n"));
    assert_int_equal(apply("h4", fx_partition("drop")), 201);
    assert_int_equal(req("POST", "/v1/faults/h4/renew", NULL, NULL), 200);
    assert_int_equal(req("DELETE", "/v1/faults/h4", NULL, NULL), 200);
    assert_int_equal(fx_stop(&ag, SIGTERM), 0);
    assert_clean("at the end");
}

static void halt_should_survive_a_restart_and_say_so_at_start(void **state)
{
    char path[256];
    json_t *j;

    TU_REQUIRE_ROOT();
    assert_int_equal(fx_start(&ag, NULL), 0);
    assert_int_equal(apply("r1", fx_partition("reject")), 201);
    assert_int_equal(req("POST", "/v1/halt", NULL, NULL), 200);
    snprintf(path, sizeof(path), "%s/state/halted", ag.dir);
    assert_int_equal(access(path, F_OK), 0);

    /* SIGTERM and start again: still halted, and the log says so. */
    assert_int_equal(fx_stop(&ag, SIGTERM), 0);
    assert_int_equal(fx_start(&ag, NULL), 0);
    assert_true(fx_log_contains(&ag, "start-up: HALTED since "));
    j = health();
    assert_true(json_is_true(json_object_get(j, "halted")));
    json_decref(j);
    expect_error(409, "POST", "/v1/faults", fx_apply_body("r2", fx_partition("drop"), 60000),
                 "halted since ");

    /* kill -9 and start again: the same. */
    assert_int_equal(fx_stop(&ag, SIGKILL), 128 + SIGKILL);
    assert_int_equal(fx_start(&ag, NULL), 0);
    assert_true(metrics_say("\nfaultline_agent_halted 1\n"));
    expect_error(409, "POST", "/v1/faults", fx_apply_body("r2", fx_partition("drop"), 60000),
                 "POST /v1/resume");
    assert_clean("while halted across restarts");

    /* Resumed: the file goes, and the next start accepts faults. */
    assert_int_equal(req("POST", "/v1/resume", NULL, NULL), 200);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(fx_stop(&ag, SIGTERM), 0);
    assert_int_equal(fx_start(&ag, NULL), 0);
    assert_int_equal(apply("r3", fx_partition("drop")), 201);
    assert_int_equal(fx_stop(&ag, SIGTERM), 0);
    assert_clean("at the end");
}

static void halt_should_check_its_request(void **state)
{
    char reason[400];

    TU_REQUIRE_ROOT();
    assert_int_equal(fx_start(&ag, NULL), 0);
    expect_error(400, "POST", "/v1/halt", "{\"force\":true}", "force");
    expect_error(400, "POST", "/v1/halt", "{\"reason\":7}", "reason");
    memset(reason, 'a', sizeof(reason));
    memcpy(reason, "{\"reason\":\"", 11);
    memcpy(reason + sizeof(reason) - 3, "\"}", 3);
    expect_error(400, "POST", "/v1/halt", reason, "reason");
    expect_error(400, "POST", "/v1/halt", "[", "malformed");
    expect_error(405, "GET", "/v1/halt", NULL, NULL);
    expect_error(405, "GET", "/v1/resume", NULL, NULL);
    assert_int_equal(fx_http(&ag, NULL, "POST", "/v1/halt", NULL, "", false, NULL), 401);
    assert_int_equal(fx_http(&ag, NULL, "POST", "/v1/resume", NULL, "", false, NULL), 401);
    /* None of these halted anything. */
    assert_int_equal(apply("q1", fx_partition("drop")), 201);
    /* Resume when not halted: 200, nothing changes. */
    assert_int_equal(req("POST", "/v1/resume", NULL, NULL), 200);
    assert_int_equal(req("GET", "/v1/faults/q1", NULL, NULL), 200);
    assert_int_equal(fx_stop(&ag, SIGTERM), 0);
    assert_clean("at the end");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(halt_should_revert_every_fault_and_refuse_new_ones_with_409,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(halt_should_survive_a_restart_and_say_so_at_start, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(halt_should_check_its_request, setup, teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
