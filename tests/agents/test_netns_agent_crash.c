/*
 * Crash safety of the agent: kill -9 while faults are active, restart, and
 * the faults must be gone before /v1/health answers (the kernel state equal
 * to the pre-test snapshot, the journal empty); then 100 random
 * apply/renew/revert/list/revert-all/kill -9/SIGTERM cycles against a model
 * of what should be applied, every answer checked, and zero residue at the
 * end. The seed is printed (FAULTLINE_SEED=N replays a run).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "agent_fixture.h"
#include "faultline/timeutil.h"
#include "netns.h"
#include "testutil.h"

static struct fx_agent ag;
static char *pre;

static int group_setup(void **state)
{
    if (!tu_is_root())
        return 0;
    if (tn_create("k") < 0)
        return -1;
    tn_exec("k", "sysctl -qw net.ipv6.conf.default.accept_dad=0");
    if (tn_veth("k", "vk", "198.18.2.1/24", NULL, "vk2", NULL) < 0)
        return -1;
    fx_settle("k");
    pre = tn_snapshot("k");
    if (pre == NULL || fx_init(&ag, "k", "127.0.0.1:7310") < 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    fx_cleanup(&ag);
    tn_cleanup();
    free(pre);
    return 0;
}

static int journal_entries(void)
{
    char path[256];
    struct dirent *de;
    DIR *d;
    int n = 0;

    snprintf(path, sizeof(path), "%s/state/journal", ag.dir);
    d = opendir(path);
    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void assert_clean(const char *when)
{
    char *now = tn_snapshot("k");

    assert_non_null(now);
    if (strcmp(now, pre) != 0)
        fail_msg("residue %s:\n%s", when, now);
    free(now);
}

static void kill9_should_leave_nothing_once_the_restarted_agent_answers(void **state)
{
    char *now;

    TU_REQUIRE_ROOT();
    assert_int_equal(fx_start(&ag, NULL), 0);
    assert_int_equal(fx_http(&ag, NULL, "POST", "/v1/faults",
                             fx_apply_body("k1", fx_partition("drop"), 60000), NULL, false, NULL),
                     201);
    assert_int_equal(fx_http(&ag, NULL, "POST", "/v1/faults",
                             fx_apply_body("k2",
                                           "{\"kind\":\"loss\",\"percent\":30,"
                                           "\"from\":[\"198.18.1.0/24\"]}",
                                           60000),
                             NULL, false, NULL),
                     201);
    assert_int_equal(fx_stop(&ag, SIGKILL), 128 + SIGKILL);
    /* The dead agent left its faults in the kernel and in the journal. */
    now = tn_snapshot("k");
    assert_string_not_equal(now, pre);
    free(now);
    assert_true(journal_entries() > 0);
    /* Restart: by the time /v1/health answers, everything is gone. */
    assert_true(fx_spawn(&ag, (const char *const[]){"--allow", "198.18.0.0/16", NULL}) > 0);
    assert_int_equal(fx_wait_ready(&ag, 5000), 0);
    assert_clean("after restart, at first /v1/health");
    assert_int_equal(journal_entries(), 0);
    assert_int_equal(fx_stop(&ag, SIGTERM), 0);
    assert_clean("after SIGTERM");
}

struct model {
    bool on[5];
    int mode[5]; /* index into modes[] */
};

static const char *const modes[] = {"drop", "reject"};

static void model_check_list(const struct model *m)
{
    char *resp = NULL;
    json_t *j, *arr;
    size_t want = 0, i;

    for (i = 0; i < 5; i++)
        want += m->on[i];
    assert_int_equal(fx_http(&ag, NULL, "GET", "/v1/faults", NULL, NULL, false, &resp), 200);
    j = json_loads(resp, 0, NULL);
    assert_non_null(j);
    arr = json_object_get(j, "faults");
    if (json_array_size(arr) != want)
        fail_msg("list has %zu faults, model %zu: %s", json_array_size(arr), want, resp);
    json_decref(j);
    free(resp);
}

static void cycles_should_leave_zero_residue(void **state)
{
    const char *seed_env = getenv("FAULTLINE_SEED");
    unsigned seed = seed_env ? (unsigned)strtoul(seed_env, NULL, 10) : (unsigned)time(NULL);
    struct model m = {0};
    char id[16], path[64];
    long st, want;
    int cycle, op, k, md, kills = 0;
    int64_t t0 = fl_now_ns();

    TU_REQUIRE_ROOT();
    fprintf(stderr, "cycles: FAULTLINE_SEED=%u\n", seed);
    srand(seed);
    assert_int_equal(fx_start(&ag, NULL), 0);
    for (cycle = 0; cycle < 100 && fl_now_ns() - t0 < 120000000000LL; cycle++) {
        op = rand() % 100;
        k = rand() % 5;
        md = rand() % 2;
        snprintf(id, sizeof(id), "r%d", k);
        if (op < 35) {
            char spec[256];

            snprintf(spec, sizeof(spec), "%s", fx_partition(modes[md]));
            want = !m.on[k] ? 201 : m.mode[k] == md ? 200 : 409;
            st = fx_http(&ag, NULL, "POST", "/v1/faults", fx_apply_body(id, spec, 60000), NULL,
                         false, NULL);
            if (st != want)
                fail_msg("cycle %d: apply %s %s: want %ld got %ld", cycle, id, modes[md], want, st);
            if (want == 201) {
                m.on[k] = true;
                m.mode[k] = md;
            }
        } else if (op < 55) {
            snprintf(path, sizeof(path), "/v1/faults/%s", id);
            want = m.on[k] ? 200 : 404;
            st = fx_http(&ag, NULL, "DELETE", path, NULL, NULL, false, NULL);
            if (st != want)
                fail_msg("cycle %d: delete %s: want %ld got %ld", cycle, id, want, st);
            m.on[k] = false;
        } else if (op < 65) {
            snprintf(path, sizeof(path), "/v1/faults/%s/renew", id);
            want = m.on[k] ? 200 : 404;
            st = fx_http(&ag, NULL, "POST", path, "{\"ttl_ms\":60000}", NULL, false, NULL);
            if (st != want)
                fail_msg("cycle %d: renew %s: want %ld got %ld", cycle, id, want, st);
        } else if (op < 75) {
            model_check_list(&m);
        } else if (op < 90) {
            assert_int_equal(fx_stop(&ag, SIGKILL), 128 + SIGKILL);
            kills++;
            assert_true(fx_spawn(&ag, (const char *const[]){"--allow", "198.18.0.0/16", NULL}) > 0);
            assert_int_equal(fx_wait_ready(&ag, 5000), 0);
            assert_clean("after kill -9 and restart");
            memset(&m, 0, sizeof(m));
        } else if (op < 95) {
            assert_int_equal(fx_stop(&ag, SIGTERM), 0);
            assert_clean("after SIGTERM");
            assert_int_equal(fx_start(&ag, NULL), 0);
            memset(&m, 0, sizeof(m));
        } else {
            assert_int_equal(fx_http(&ag, NULL, "POST", "/v1/revert-all", NULL, NULL, false, NULL),
                             200);
            assert_clean("after revert-all");
            memset(&m, 0, sizeof(m));
        }
    }
    assert_int_equal(cycle, 100);
    model_check_list(&m);
    assert_int_equal(fx_stop(&ag, SIGTERM), 0);
    assert_clean("at the end");
    assert_int_equal(journal_entries(), 0);
    fprintf(stderr, "cycles: 100 done (%d kill -9) in %.1f s\n", kills,
            (double)(fl_now_ns() - t0) / 1e9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kill9_should_leave_nothing_once_the_restarted_agent_answers),
        cmocka_unit_test(cycles_should_leave_zero_residue),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
