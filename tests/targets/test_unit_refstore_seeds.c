/*
 * faultline-refstore's behaviour for the seeds' promises (issue 15), each
 * with the bug switch that breaks it: a cut-off read region marks itself
 * offline (offline-region-serves keeps serving), a manual failover needs
 * the write region (manual-failover-in-outage promotes anyway), bounded
 * staleness holds writes at K (bounded-staleness-ignored does not), zone
 * redundancy needs a zone majority (zone-quorum-ignored does not). Real
 * replicas on loopback, paused with SIGSTOP to cut them off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rs_helper.h"
#include "testutil.h"

#define MAXN 4

static struct rsh_node nodes[MAXN];
static int nn;

static void add(const char *id, const char *region, const char *zone)
{
    struct rsh_node *n = &nodes[nn++];

    memset(n, 0, sizeof(*n));
    n->id = id;
    n->region = region;
    n->zone = zone;
    snprintf(n->addr, sizeof(n->addr), "127.0.0.1");
    n->port = rsh_free_port();
}

static int teardown(void **state)
{
    int i;

    (void)state;
    for (i = 0; i < nn; i++) {
        rsh_resume(&nodes[i]);
        rsh_stop(&nodes[i]);
    }
    nn = 0;
    return 0;
}

/* west (write region), north, east; auto failover off unless extra says otherwise. */
static void three_regions(const char *extra)
{
    char cfg[1024];

    add("west-z1-h1", "west", "z1");
    add("north-z1-h1", "north", "z1");
    add("east-z1-h1", "east", "z1");
    snprintf(cfg, sizeof(cfg),
             "{\"preset\":\"cosmos\",\"priority\":[\"west\",\"north\",\"east\"],"
             "\"consistency\":\"session\",\"lag\":\"10ms\",\"failover_after\":\"600ms\","
             "\"heartbeat\":\"100ms\",\"auto_failover\":false%s%s}",
             extra ? "," : "", extra ? extra : "");
    assert_int_equal(rsh_start_all(nodes, nn, cfg), 0);
}

static void offline(const char *bugs, int want_cut_off)
{
    uint64_t v;
    char code[64], region[64];

    three_regions(bugs);
    assert_int_equal(rsh_op(&nodes[0], "upsert", "k", 1, &v, code, region), 200);
    rsh_sleep_ms(300);
    /* the write region alone gone: north hears east, a majority; it serves */
    rsh_pause(&nodes[0]);
    rsh_sleep_ms(1200);
    assert_int_equal(rsh_op(&nodes[1], "read", "k", 0, &v, code, region), 200);
    assert_int_equal(v, 1);
    /* north hears nobody: cut off */
    rsh_pause(&nodes[2]);
    rsh_sleep_ms(800);
    assert_int_equal(rsh_op(&nodes[1], "read", "k", 0, &v, code, region), want_cut_off);
    if (want_cut_off != 200)
        assert_string_equal(code, "offline");
    rsh_resume(&nodes[0]);
    rsh_resume(&nodes[2]);
    /* back in touch: it serves again */
    rsh_sleep_ms(600);
    assert_int_equal(rsh_op(&nodes[1], "read", "k", 0, &v, code, region), 200);
}

static void read_region_cut_off_should_go_offline(void **state)
{
    (void)state;
    offline(NULL, 503);
}

static void bug_offline_region_serves_should_keep_serving(void **state)
{
    (void)state;
    offline("\"bugs\":[\"offline-region-serves\"]", 200);
}

static void manual_failover(const char *bugs, int want, const char *write_region_after)
{
    uint64_t v;
    char code[64], region[64], buf[64];

    three_regions(bugs);
    /* with the write region in touch: the check passes, nothing moves */
    assert_int_equal(rsh_op(&nodes[1], "failover", "x", 0, &v, code, region), 200);
    assert_string_equal(rsh_status_str(&nodes[1], "write_region", buf, sizeof(buf)), "west");
    /* the write region cut off (east still heard: north is not offline) */
    rsh_pause(&nodes[0]);
    rsh_sleep_ms(1000);
    assert_int_equal(rsh_op(&nodes[1], "failover", "x", 0, &v, code, region), want);
    if (want != 200)
        assert_string_equal(code, "unreachable");
    assert_string_equal(rsh_status_str(&nodes[1], "write_region", buf, sizeof(buf)),
                        write_region_after);
    rsh_resume(&nodes[0]);
}

static void manual_failover_in_an_outage_should_be_refused(void **state)
{
    (void)state;
    manual_failover(NULL, 503, "west");
}

static void bug_manual_failover_in_outage_should_promote(void **state)
{
    (void)state;
    manual_failover("\"bugs\":[\"manual-failover-in-outage\"]", 200, "north");
}

static void bounded(const char *bugs, int want_last)
{
    char cfg[1024], code[64], region[64];
    uint64_t v;
    int i, st = 0;

    add("west-z1-h1", "west", "z1");
    add("north-z1-h1", "north", "z1");
    snprintf(cfg, sizeof(cfg),
             "{\"preset\":\"cosmos\",\"priority\":[\"west\",\"north\"],\"consistency\":"
             "\"bounded\",\"bounded\":{\"versions\":3,\"time\":\"10s\"},\"lag\":\"3s\","
             "\"failover_after\":\"2s\",\"heartbeat\":\"100ms\",\"ack_timeout\":\"300ms\"%s%s}",
             bugs ? "," : "", bugs ? bugs : "");
    assert_int_equal(rsh_start_all(nodes, nn, cfg), 0);
    rsh_sleep_ms(300);
    /* north is 3 s behind: the writes past K = 3 are held, then refused */
    for (i = 1; i <= 5; i++)
        st = rsh_op(&nodes[0], "upsert", "k", (uint64_t)i, &v, code, region);
    assert_int_equal(st, want_last);
}

static void bounded_staleness_should_hold_writes_at_k(void **state)
{
    (void)state;
    bounded(NULL, 429);
}

static void bug_bounded_staleness_ignored_should_accept_them(void **state)
{
    (void)state;
    bounded("\"bugs\":[\"bounded-staleness-ignored\"]", 200);
}

static void zone(const char *bugs, int want)
{
    char cfg[1024], code[64], region[64];
    uint64_t v;

    add("west-z1-h1", "west", "z1");
    add("west-z2-h1", "west", "z2");
    add("west-z3-h1", "west", "z3");
    snprintf(cfg, sizeof(cfg),
             "{\"preset\":\"cosmos\",\"priority\":[\"west\"],\"consistency\":\"session\","
             "\"zone_redundant\":true,\"lag\":\"5s\",\"failover_after\":\"600ms\","
             "\"heartbeat\":\"100ms\",\"ack_timeout\":\"500ms\"%s%s}",
             bugs ? "," : "", bugs ? bugs : "");
    assert_int_equal(rsh_start_all(nodes, nn, cfg), 0);
    rsh_pause(&nodes[1]);
    rsh_pause(&nodes[2]); /* two zones down: no majority */
    assert_int_equal(rsh_op(&nodes[0], "upsert", "d1", 3, &v, code, region), want);
}

static void zone_redundancy_should_need_the_zone_majority(void **state)
{
    (void)state;
    zone(NULL, 504);
}

static void bug_zone_quorum_ignored_should_acknowledge_alone(void **state)
{
    (void)state;
    zone("\"bugs\":[\"zone-quorum-ignored\"]", 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(read_region_cut_off_should_go_offline, teardown),
        cmocka_unit_test_teardown(bug_offline_region_serves_should_keep_serving, teardown),
        cmocka_unit_test_teardown(manual_failover_in_an_outage_should_be_refused, teardown),
        cmocka_unit_test_teardown(bug_manual_failover_in_outage_should_promote, teardown),
        cmocka_unit_test_teardown(bounded_staleness_should_hold_writes_at_k, teardown),
        cmocka_unit_test_teardown(bug_bounded_staleness_ignored_should_accept_them, teardown),
        cmocka_unit_test_teardown(zone_redundancy_should_need_the_zone_majority, teardown),
        cmocka_unit_test_teardown(bug_zone_quorum_ignored_should_acknowledge_alone, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
