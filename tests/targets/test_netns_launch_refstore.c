/*
 * The refstore launcher (targets/services/refstore.c): replicas start inside
 * their hosts' namespaces on their data addresses, become healthy, report
 * their status, and stop leaving no process behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "faultline/err.h"
#include "faultline/target.h"
#include "netns.h"
#include "testutil.h"

static void launcher_should_start_report_and_stop_cleanly(void **state)
{
    struct fl_target_host hosts[2];
    struct fl_target_env env = {0};
    const struct fl_target_endpoint *eps;
    const struct fl_target_ops *ops = fl_target_find("refstore");
    char ns[2][64], rundir[64], *pids;
    json_t *cfg, *st;
    void *s = NULL;
    size_t n;
    struct fl_err e = {0};

    TU_REQUIRE_ROOT();
    assert_non_null(ops);
    assert_int_equal(tn_create("west"), 0);
    assert_int_equal(tn_create("north"), 0);
    assert_int_equal(tn_veth("west", "eth0", "198.18.1.33/16", "north", "eth0", "198.18.2.33/16"),
                     0);
    snprintf(ns[0], sizeof(ns[0]), "%s", tn_name("west"));
    snprintf(ns[1], sizeof(ns[1]), "%s", tn_name("north"));
    hosts[0] = (struct fl_target_host){"west-z1-h1", "west", "z1", ns[0], "198.18.1.33"};
    hosts[1] = (struct fl_target_host){"north-z1-h1", "north", "z1", ns[1], "198.18.2.33"};
    snprintf(rundir, sizeof(rundir), "/tmp/fl-t%d-launch", (int)getpid());
    tu_sh("mkdir -p %s", rundir);
    cfg = json_pack("{s:s, s:s, s:i, s:s}", "kind", "refstore", "preset", "key-vault",
                    "failover_after", 1000, "heartbeat", "100ms");
    env.hosts = hosts;
    env.n_hosts = 2;
    env.primary_region = "west";
    env.config = cfg;
    env.run_dir = rundir;
    env.ready_timeout_ns = 10000000000LL;
    if (ops->start(&env, &s, &e) < 0)
        fail_msg("start: %s", e.msg);
    assert_int_equal(ops->endpoints(s, &eps, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(eps[0].region, "west");
    assert_string_equal(eps[1].url, "http://198.18.2.33:7000");
    st = ops->status(s);
    /* Each replica's own view, keyed by host: the ground truth of failovers. */
    assert_true(json_is_object(json_object_get(json_object_get(st, "hosts"), "west-z1-h1")));
    assert_non_null(json_object_get(json_object_get(json_object_get(st, "hosts"), "north-z1-h1"),
                                    "failover_at_ns"));
    /* A process fault can signal and restart each replica. */
    {
        json_t *pt = ops->process_target(s, 1);

        assert_non_null(json_object_get(pt, "pidfile"));
        assert_true(json_array_size(json_object_get(pt, "restart_cmd")) > 8);
        json_decref(pt);
    }
    assert_int_equal(ops->settle(s, 5000000000LL, &e), 0);
    json_decref(st);
    ops->stop(s);
    pids = tu_sh_out("ip netns pids %s; ip netns pids %s", ns[0], ns[1]);
    assert_string_equal(pids, "");
    free(pids);
    /* Logs land in the run directory. */
    assert_int_equal(tu_sh("test -s %s/refstore-west-z1-h1.log", rundir), 0);
    tu_sh("rm -rf %s", rundir);
    json_decref(cfg);
    tn_cleanup();
}

static void launcher_should_fail_clearly_when_a_replica_cannot_start(void **state)
{
    struct fl_target_host host = {"west-z1-h1", "west", "z1", NULL, "198.18.9.9"};
    struct fl_target_env env = {0};
    const struct fl_target_ops *ops = fl_target_find("refstore");
    char ns[64], rundir[64];
    json_t *cfg;
    void *s = NULL;
    struct fl_err e = {0};

    TU_REQUIRE_ROOT();
    assert_int_equal(tn_create("lonely"), 0);
    snprintf(ns, sizeof(ns), "%s", tn_name("lonely"));
    host.netns = ns;
    snprintf(rundir, sizeof(rundir), "/tmp/fl-t%d-launch2", (int)getpid());
    tu_sh("mkdir -p %s", rundir);
    /* 198.18.9.9 is not an address of the namespace: the replica cannot bind. */
    cfg = json_pack("{s:s}", "preset", "key-vault");
    env.hosts = &host;
    env.n_hosts = 1;
    env.config = cfg;
    env.run_dir = rundir;
    env.ready_timeout_ns = 3000000000LL;
    assert_true(ops->start(&env, &s, &e) < 0);
    assert_null(s);
    assert_non_null(strstr(e.msg, "faultline-refstore on west-z1-h1"));
    tu_sh("rm -rf %s", rundir);
    json_decref(cfg);
    tn_cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(launcher_should_start_report_and_stop_cleanly),
        cmocka_unit_test(launcher_should_fail_clearly_when_a_replica_cannot_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
