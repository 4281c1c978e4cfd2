/*
 * refstore behaviour on loopback, with real replica processes: each preset's
 * normal behaviour, key-vault failover to read-only (exactly the seed's
 * read-only set), failback, each cosmos consistency level's acknowledgement
 * rule, zone quorum, multi-write last-writer-wins, priority failover with the
 * conflict feed, and each bug switch doing exactly its damage. A region is
 * "lost" by SIGSTOPping its replicas: heartbeats then time out exactly as in
 * a silent partition (the netns test does it with a real link cut).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <curl/curl.h>

#include "rs_helper.h"
#include "testutil.h"

#define MAXN 6

static struct rsh_node nodes[MAXN];
static int nn;

static const char *const kv_ro[] = {
    "list-vaults", "get-vault", "list-secrets", "get-secret", "list-keys", "get-key", "encrypt",
    "decrypt",     "wrap",      "unwrap",       "verify",     "sign",      "backup",  NULL};
static const char *const kv_rw[] = {
    "set-secret", "update-secret", "delete-secret", "purge-secret", "recover-secret", "create-key",
    "import-key", "update-key",    "delete-key",    "purge-key",    "restore",        NULL};

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

    for (i = 0; i < nn; i++)
        rsh_stop(&nodes[i]);
    nn = 0;
    return 0;
}

static void start(const char *config)
{
    assert_int_equal(rsh_start_all(nodes, nn, config), 0);
}

static void kv_pair(const char *extra)
{
    char cfg[1024];

    add("west-z1-h1", "west", "z1");
    add("north-z1-h1", "north", "z1");
    snprintf(cfg, sizeof(cfg),
             "{\"preset\":\"key-vault\",\"primary\":\"west\",\"failover_after\":\"600ms\","
             "\"heartbeat\":\"100ms\",\"lag\":\"20ms\",\"forward_timeout\":\"300ms\"%s%s}",
             extra ? "," : "", extra ? extra : "");
    start(cfg);
}

static int check_config(const char *cfg)
{
    char cmd[2048];

    snprintf(cmd, sizeof(cmd),
             "%s -n --id a --region west --listen 127.0.0.1:1 --config '%s' 2>/dev/null",
             rsh_binary(), cfg);
    return WEXITSTATUS(system(cmd));
}

static void refstore_should_check_config(void **state)
{
    assert_int_equal(check_config("{\"preset\":\"key-vault\",\"primary\":\"west\"}"), 0);
    assert_int_equal(check_config("{\"preset\":\"cosmos\",\"priority\":[\"a\",\"b\"],"
                                  "\"consistency\":\"bounded\",\"bugs\":[\"stale-reads\"]}"),
                     0);
    assert_int_equal(check_config("{\"preset\":\"nope\",\"primary\":\"west\"}"), 2);
    assert_int_equal(check_config("{\"primary\":\"west\",\"bugs\":[\"no-such-bug\"]}"), 2);
    assert_int_equal(check_config("{\"primary\":\"west\",\"consistency\":\"linear\"}"), 2);
    assert_int_equal(check_config("{\"preset\":\"key-vault\"}"), 2);
    assert_int_equal(check_config("{not json"), 2);
}

static void key_vault_should_serve_and_replicate_normally(void **state)
{
    uint64_t v;
    char code[64], region[64];

    kv_pair(NULL);
    assert_int_equal(rsh_op(&nodes[0], "set-secret", "s1", 11, &v, code, region), 200);
    assert_string_equal(region, "west");
    /* The secondary forwards to the primary: the client does nothing. */
    assert_int_equal(rsh_op(&nodes[1], "set-secret", "s2", 12, &v, code, region), 200);
    assert_string_equal(region, "west");
    assert_int_equal(rsh_op(&nodes[1], "get-secret", "s1", 0, &v, code, region), 200);
    assert_int_equal(v, 11);
    assert_int_equal(rsh_op(&nodes[0], "unknown-op", "s1", 0, &v, code, region), 400);
    assert_string_equal(code, "unknown_op");
    assert_int_equal(rsh_op(&nodes[0], "set-secret", "s1", 0, &v, code, region), 400);
    /* Replication reached the secondary's own store. */
    rsh_sleep_ms(300);
    assert_int_equal(rsh_status_int(&nodes[1], "keys"), 2);
    assert_false(rsh_status_bool(&nodes[1], "read_only"));
}

static void key_vault_should_go_read_only_then_fail_back(void **state)
{
    int i;
    uint64_t v;
    char code[64], region[64];
    int64_t t0, fo, fb;

    kv_pair(NULL);
    assert_int_equal(rsh_op(&nodes[0], "set-secret", "s1", 11, &v, code, region), 200);
    rsh_sleep_ms(200);
    t0 = rsh_now_ns();
    rsh_pause(&nodes[0]);
    assert_true(rsh_wait_bool(&nodes[1], "read_only", true, 3000));
    fo = rsh_status_int(&nodes[1], "failover_at_ns");
    /* Failover happened after failover_after (600ms), not much later. */
    assert_true(fo - t0 >= 500000000LL);
    assert_true(fo - t0 <= 1300000000LL);
    for (i = 0; kv_ro[i]; i++) {
        assert_int_equal(rsh_op(&nodes[1], kv_ro[i], "s1", 0, &v, code, region), 200);
        assert_string_equal(region, "north");
    }
    assert_int_equal(rsh_op(&nodes[1], "get-secret", "s1", 0, &v, code, region), 200);
    assert_int_equal(v, 11);
    for (i = 0; kv_rw[i]; i++) {
        assert_int_equal(rsh_op(&nodes[1], kv_rw[i], "s1", 99, &v, code, region), 403);
        assert_string_equal(code, "read_only");
    }
    rsh_resume(&nodes[0]);
    assert_true(rsh_wait_bool(&nodes[1], "read_only", false, 3000));
    fb = rsh_status_int(&nodes[1], "failback_at_ns");
    assert_true(fb > fo);
    assert_int_equal(rsh_status_int(&nodes[1], "failovers"), 1);
    assert_int_equal(rsh_status_int(&nodes[1], "failbacks"), 1);
    assert_int_equal(rsh_op(&nodes[1], "set-secret", "s1", 13, &v, code, region), 200);
    assert_string_equal(region, "west");
}

static void bug_writes_in_read_only_should_accept_writes(void **state)
{
    uint64_t v;
    char code[64], region[64];

    kv_pair("\"bugs\":[\"writes-in-read-only\"]");
    rsh_pause(&nodes[0]);
    assert_true(rsh_wait_bool(&nodes[1], "read_only", true, 3000));
    assert_int_equal(rsh_op(&nodes[1], "set-secret", "s1", 5, &v, code, region), 200);
    assert_string_equal(region, "north");
    assert_int_equal(rsh_op(&nodes[1], "get-secret", "s1", 0, &v, code, region), 200);
    rsh_resume(&nodes[0]);
}

static void bug_reads_refused_should_refuse_reads_in_read_only(void **state)
{
    uint64_t v;
    char code[64], region[64];

    kv_pair("\"bugs\":[\"reads-refused-in-read-only\"]");
    assert_int_equal(rsh_op(&nodes[1], "get-secret", "s1", 0, &v, code, region), 200);
    rsh_pause(&nodes[0]);
    assert_true(rsh_wait_bool(&nodes[1], "read_only", true, 3000));
    assert_int_equal(rsh_op(&nodes[1], "get-secret", "s1", 0, &v, code, region), 403);
    assert_string_equal(code, "read_only");
    /* writes are still refused: only the reads are damaged */
    assert_int_equal(rsh_op(&nodes[1], "set-secret", "s1", 3, &v, code, region), 403);
    rsh_resume(&nodes[0]);
}

static void bug_no_failback_should_stay_read_only(void **state)
{
    uint64_t v;
    char code[64], region[64];

    kv_pair("\"bugs\":[\"no-failback\"]");
    rsh_pause(&nodes[0]);
    assert_true(rsh_wait_bool(&nodes[1], "read_only", true, 3000));
    rsh_resume(&nodes[0]);
    assert_false(rsh_wait_bool(&nodes[1], "read_only", false, 1500));
    assert_int_equal(rsh_op(&nodes[1], "set-secret", "s1", 3, &v, code, region), 403);
    assert_int_equal(rsh_status_int(&nodes[1], "failbacks"), 0);
}

static void bug_slow_failover_should_take_ten_times_longer(void **state)
{
    int64_t t0, fo;

    add("west-z1-h1", "west", "z1");
    add("north-z1-h1", "north", "z1");
    start("{\"preset\":\"key-vault\",\"primary\":\"west\",\"failover_after\":\"300ms\","
          "\"heartbeat\":\"50ms\",\"bugs\":[\"slow-failover\"]}");
    t0 = rsh_now_ns();
    rsh_pause(&nodes[0]);
    assert_false(rsh_wait_bool(&nodes[1], "read_only", true, 1500));
    assert_true(rsh_wait_bool(&nodes[1], "read_only", true, 4000));
    fo = rsh_status_int(&nodes[1], "failover_at_ns");
    assert_true(fo - t0 >= 2500000000LL);
    rsh_resume(&nodes[0]);
}

static void bug_stale_reads_should_serve_the_first_value(void **state)
{
    uint64_t v;
    char code[64], region[64];

    kv_pair("\"bugs\":[\"stale-reads\"]");
    assert_int_equal(rsh_op(&nodes[0], "set-secret", "s1", 1, &v, code, region), 200);
    assert_int_equal(rsh_op(&nodes[0], "set-secret", "s1", 2, &v, code, region), 200);
    assert_int_equal(rsh_op(&nodes[0], "set-secret", "s1", 3, &v, code, region), 200);
    assert_int_equal(rsh_op(&nodes[0], "get-secret", "s1", 0, &v, code, region), 200);
    assert_int_equal(v, 1);
}

static void bug_lose_acked_writes_should_drop_every_nth_write(void **state)
{
    uint64_t v;
    char code[64], region[64], key[16];
    int i, missing = 0;

    add("west-z1-h1", "west", "z1");
    start("{\"preset\":\"key-vault\",\"primary\":\"west\",\"failover_after\":\"600ms\","
          "\"heartbeat\":\"100ms\",\"bugs\":[\"lose-acked-writes\"],\"lose_every\":2}");
    for (i = 0; i < 8; i++) {
        snprintf(key, sizeof(key), "s%d", i);
        assert_int_equal(rsh_op(&nodes[0], "set-secret", key, 100 + (uint64_t)i, &v, code, region),
                         200);
    }
    for (i = 0; i < 8; i++) {
        snprintf(key, sizeof(key), "s%d", i);
        assert_int_equal(rsh_op(&nodes[0], "get-secret", key, 0, &v, code, region), 200);
        if (v != 100 + (uint64_t)i)
            missing++;
    }
    assert_int_equal(missing, 4);
    assert_int_equal(rsh_status_int(&nodes[0], "lost_writes"), 4);
}

static void bugs_off_should_lose_nothing_and_read_fresh(void **state)
{
    uint64_t v;
    char code[64], region[64], key[16];
    int i;

    add("west-z1-h1", "west", "z1");
    start("{\"preset\":\"key-vault\",\"primary\":\"west\",\"failover_after\":\"600ms\","
          "\"heartbeat\":\"100ms\"}");
    for (i = 0; i < 8; i++) {
        snprintf(key, sizeof(key), "s%d", i);
        assert_int_equal(rsh_op(&nodes[0], "set-secret", key, 100 + (uint64_t)i, &v, code, region),
                         200);
        assert_int_equal(rsh_op(&nodes[0], "set-secret", key, 200 + (uint64_t)i, &v, code, region),
                         200);
    }
    for (i = 0; i < 8; i++) {
        snprintf(key, sizeof(key), "s%d", i);
        assert_int_equal(rsh_op(&nodes[0], "get-secret", key, 0, &v, code, region), 200);
        assert_int_equal(v, 200 + (uint64_t)i);
    }
}

static void cosmos_two(const char *consistency, const char *extra)
{
    char cfg[1024];

    add("west-z1-h1", "west", "z1");
    add("north-z1-h1", "north", "z1");
    snprintf(cfg, sizeof(cfg),
             "{\"preset\":\"cosmos\",\"priority\":[\"west\",\"north\"],\"consistency\":\"%s\","
             "\"failover_after\":\"600ms\",\"heartbeat\":\"100ms\",\"ack_timeout\":\"500ms\"%s%s}",
             consistency, extra ? "," : "", extra ? extra : "");
    start(cfg);
}

static void cosmos_strong_should_ack_only_after_other_regions_have_it(void **state)
{
    uint64_t v;
    char code[64], region[64];

    cosmos_two("strong", "\"lag\":\"2s\"");
    assert_int_equal(rsh_op(&nodes[0], "upsert", "d1", 7, &v, code, region), 200);
    /* acknowledged => the other region has it right now (no lag for strong) */
    assert_int_equal(rsh_op(&nodes[1], "read", "d1", 0, &v, code, region), 200);
    assert_int_equal(v, 7);
    assert_string_equal(region, "north");
    rsh_pause(&nodes[1]);
    assert_int_equal(rsh_op(&nodes[0], "upsert", "d1", 8, &v, code, region), 504);
    assert_string_equal(code, "replication_timeout");
    rsh_resume(&nodes[1]);
}

static void cosmos_eventual_should_ack_before_replication(void **state)
{
    uint64_t v;
    char code[64], region[64];

    cosmos_two("eventual", "\"lag\":\"700ms\"");
    assert_int_equal(rsh_op(&nodes[0], "upsert", "d1", 7, &v, code, region), 200);
    assert_int_equal(rsh_op(&nodes[1], "read", "d1", 0, &v, code, region), 200);
    assert_int_equal(v, 0); /* not there yet */
    rsh_sleep_ms(1200);
    assert_int_equal(rsh_op(&nodes[1], "read", "d1", 0, &v, code, region), 200);
    assert_int_equal(v, 7);
    /* the other region being gone does not block writes */
    rsh_pause(&nodes[1]);
    assert_int_equal(rsh_op(&nodes[0], "upsert", "d1", 9, &v, code, region), 200);
    rsh_resume(&nodes[1]);
}

static void cosmos_bounded_should_hold_writes_beyond_k_versions(void **state)
{
    uint64_t v;
    char code[64], region[64];

    cosmos_two("bounded", "\"lag\":\"1500ms\",\"bounded\":{\"versions\":3,\"time\":\"5s\"}");
    assert_int_equal(rsh_op(&nodes[0], "upsert", "d1", 1, &v, code, region), 200);
    assert_int_equal(rsh_op(&nodes[0], "upsert", "d2", 2, &v, code, region), 200);
    assert_int_equal(rsh_op(&nodes[0], "upsert", "d3", 3, &v, code, region), 200);
    /* a fourth would put north more than K=3 versions behind */
    assert_int_equal(rsh_op(&nodes[0], "upsert", "d4", 4, &v, code, region), 429);
    assert_string_equal(code, "bounded_staleness");
    rsh_sleep_ms(1500);
    assert_int_equal(rsh_op(&nodes[0], "upsert", "d4", 4, &v, code, region), 200);
}

static void cosmos_single_write_should_forward_writes_to_write_region(void **state)
{
    uint64_t v;
    char code[64], region[64];

    cosmos_two("session", "\"lag\":\"10ms\"");
    assert_int_equal(rsh_op(&nodes[1], "upsert", "d1", 5, &v, code, region), 200);
    assert_string_equal(region, "west");
    rsh_sleep_ms(200);
    assert_int_equal(rsh_op(&nodes[1], "read", "d1", 0, &v, code, region), 200);
    assert_string_equal(region, "north");
    assert_int_equal(v, 5);
}

static void cosmos_zone_redundant_should_need_a_majority(void **state)
{
    uint64_t v;
    char code[64], region[64];

    add("west-z1-h1", "west", "z1");
    add("west-z2-h1", "west", "z2");
    add("west-z3-h1", "west", "z3");
    start("{\"preset\":\"cosmos\",\"priority\":[\"west\"],\"consistency\":\"session\","
          "\"zone_redundant\":true,\"lag\":\"5s\",\"failover_after\":\"600ms\","
          "\"heartbeat\":\"100ms\",\"ack_timeout\":\"500ms\"}");
    assert_int_equal(rsh_op(&nodes[0], "upsert", "d1", 1, &v, code, region), 200);
    rsh_pause(&nodes[2]); /* one zone down: 2 of 3 is still a majority */
    assert_int_equal(rsh_op(&nodes[0], "upsert", "d1", 2, &v, code, region), 200);
    assert_int_equal(rsh_op(&nodes[1], "read", "d1", 0, &v, code, region), 200);
    assert_int_equal(v, 2);
    rsh_pause(&nodes[1]); /* two zones down: no quorum */
    assert_int_equal(rsh_op(&nodes[0], "upsert", "d1", 3, &v, code, region), 504);
    rsh_resume(&nodes[1]);
    rsh_resume(&nodes[2]);
}

static void cosmos_multi_write_should_resolve_last_writer_wins(void **state)
{
    uint64_t v;
    char code[64], region[64];

    cosmos_two("eventual", "\"writes\":\"multi\",\"lag\":\"300ms\"");
    assert_int_equal(rsh_op(&nodes[0], "upsert", "d1", 1, &v, code, region), 200);
    assert_string_equal(region, "west");
    assert_int_equal(rsh_op(&nodes[1], "upsert", "d1", 2, &v, code, region), 200);
    assert_string_equal(region, "north"); /* served locally: multi-write */
    rsh_sleep_ms(900);
    assert_int_equal(rsh_op(&nodes[0], "read", "d1", 0, &v, code, region), 200);
    assert_int_equal(v, 2);
    assert_int_equal(rsh_op(&nodes[1], "read", "d1", 0, &v, code, region), 200);
    assert_int_equal(v, 2);
}

static void cosmos_should_fail_over_in_priority_order_and_feed_conflicts(void **state)
{
    uint64_t v;
    char code[64], region[64], buf[64];
    json_t *c;

    add("west-z1-h1", "west", "z1");
    add("north-z1-h1", "north", "z1");
    add("east-z1-h1", "east", "z1");
    start("{\"preset\":\"cosmos\",\"priority\":[\"west\",\"north\",\"east\"],"
          "\"consistency\":\"session\",\"lag\":\"3s\",\"failover_after\":\"600ms\","
          "\"heartbeat\":\"100ms\"}");
    /* west acknowledges, then dies before replicating (lag 3s) */
    assert_int_equal(rsh_op(&nodes[0], "upsert", "lost1", 1, &v, code, region), 200);
    assert_int_equal(rsh_op(&nodes[0], "upsert", "lost2", 2, &v, code, region), 200);
    rsh_pause(&nodes[0]);
    assert_true(rsh_wait_str(&nodes[1], "write_region", "north", 3000));
    assert_true(rsh_wait_str(&nodes[2], "write_region", "north", 2000));
    assert_string_equal(rsh_status_str(&nodes[1], "role", buf, sizeof(buf)), "write");
    assert_int_equal(rsh_status_int(&nodes[1], "failovers"), 1);
    assert_int_equal(rsh_status_int(&nodes[2], "failovers"), 0);
    /* east forwards writes to the new write region */
    assert_int_equal(rsh_op(&nodes[2], "upsert", "k", 3, &v, code, region), 200);
    assert_string_equal(region, "north");
    assert_int_equal(rsh_op(&nodes[1], "read", "lost1", 0, &v, code, region), 200);
    assert_int_equal(v, 0); /* the unreplicated write is not there */
    rsh_resume(&nodes[0]);
    /* west learns it was replaced: its unreplicated writes go to the conflict feed */
    c = NULL;
    for (int t = 0; t < 100; t++) {
        json_decref(c);
        c = rsh_get(&nodes[0], "/v1/conflicts");
        if (c && json_array_size(json_object_get(c, "conflicts")) == 2)
            break;
        rsh_sleep_ms(30);
    }
    assert_non_null(c);
    assert_int_equal(json_array_size(json_object_get(c, "conflicts")), 2);
    json_decref(c);
    /* and then takes the write role back (failback), epoch 2 everywhere */
    assert_true(rsh_wait_str(&nodes[0], "write_region", "west", 4000));
    assert_true(rsh_wait_str(&nodes[1], "write_region", "west", 2000));
    assert_true(rsh_wait_str(&nodes[2], "write_region", "west", 2000));
    assert_int_equal(rsh_status_int(&nodes[0], "failbacks"), 1);
    assert_int_equal(rsh_op(&nodes[0], "read", "k", 0, &v, code, region), 200);
    assert_int_equal(v, 3); /* resynced from north */
    assert_int_equal(rsh_op(&nodes[0], "read", "lost1", 0, &v, code, region), 200);
    assert_int_equal(v, 0);
}

static void cosmos_without_auto_failover_should_lose_write_availability(void **state)
{
    uint64_t v;
    char code[64], region[64];

    cosmos_two("session", "\"auto_failover\":false,\"forward_timeout\":\"300ms\"");
    rsh_pause(&nodes[0]);
    rsh_sleep_ms(1200);
    assert_int_equal(rsh_status_int(&nodes[1], "failovers"), 0);
    assert_true(rsh_op(&nodes[1], "upsert", "d1", 1, &v, code, region) >= 503);
    assert_int_equal(rsh_op(&nodes[1], "read", "d1", 0, &v, code, region), 200);
    rsh_resume(&nodes[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(refstore_should_check_config, teardown),
        cmocka_unit_test_teardown(key_vault_should_serve_and_replicate_normally, teardown),
        cmocka_unit_test_teardown(key_vault_should_go_read_only_then_fail_back, teardown),
        cmocka_unit_test_teardown(bug_writes_in_read_only_should_accept_writes, teardown),
        cmocka_unit_test_teardown(bug_reads_refused_should_refuse_reads_in_read_only, teardown),
        cmocka_unit_test_teardown(bug_no_failback_should_stay_read_only, teardown),
        cmocka_unit_test_teardown(bug_slow_failover_should_take_ten_times_longer, teardown),
        cmocka_unit_test_teardown(bug_stale_reads_should_serve_the_first_value, teardown),
        cmocka_unit_test_teardown(bug_lose_acked_writes_should_drop_every_nth_write, teardown),
        cmocka_unit_test_teardown(bugs_off_should_lose_nothing_and_read_fresh, teardown),
        cmocka_unit_test_teardown(cosmos_strong_should_ack_only_after_other_regions_have_it,
                                  teardown),
        cmocka_unit_test_teardown(cosmos_eventual_should_ack_before_replication, teardown),
        cmocka_unit_test_teardown(cosmos_bounded_should_hold_writes_beyond_k_versions, teardown),
        cmocka_unit_test_teardown(cosmos_single_write_should_forward_writes_to_write_region,
                                  teardown),
        cmocka_unit_test_teardown(cosmos_zone_redundant_should_need_a_majority, teardown),
        cmocka_unit_test_teardown(cosmos_multi_write_should_resolve_last_writer_wins, teardown),
        cmocka_unit_test_teardown(cosmos_should_fail_over_in_priority_order_and_feed_conflicts,
                                  teardown),
        cmocka_unit_test_teardown(cosmos_without_auto_failover_should_lose_write_availability,
                                  teardown),
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
