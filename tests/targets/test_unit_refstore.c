/*
 * refstore behaviour on loopback, with real replica processes: each preset's
 * normal behaviour, key-vault failover to read-only (exactly the seed's
 * read-only set), failback, each cosmos consistency level's acknowledgement
 * rule, zone quorum, multi-write last-writer-wins, priority failover with the
 * conflict feed, and each bug switch doing exactly its damage. A region is
 * "lost" by SIGSTOPping its replicas: heartbeats then time out exactly as in
 * a silent partition (the netns test does it with a real link cut).
 * Also: a returning write region catches up before it takes the write role
 * back, and the failback handover loses no acknowledged write; the set
 * model and compare-and-set of the client API.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
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

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    size_t have = strlen(arg), add = sz * n;

    if (have + add >= 65536)
        add = 65535 - have;
    memcpy((char *)arg + have, p, add);
    ((char *)arg)[have + add] = '\0';
    return sz * n;
}

/* POST body to node's path; returns the HTTP status, *out the parsed answer (or NULL). */
static long post(struct rsh_node *node, const char *path, const char *body, json_t **out)
{
    static __thread char buf[65536];
    char url[256];
    long status = 0;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    CURL *c = curl_easy_init();

    buf[0] = '\0';
    snprintf(url, sizeof(url), "http://%s:%d%s", node->addr, node->port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 4000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, buf);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (out)
        *out = status ? json_loads(buf, 0, NULL) : NULL;
    return status;
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
    /*
     * Failover after failover_after (600ms) since the last heartbeat, which
     * came at most one heartbeat (100ms) before the pause, and at the next
     * monitor tick (heartbeat / 2 = 50ms): in [500ms, 650ms], + 150ms margin.
     */
    fprintf(stderr, "key-vault failover %.0f ms after the pause (bounds 500-800 ms)\n",
            (double)(fo - t0) / 1e6);
    assert_true(fo - t0 >= 500000000LL);
    assert_true(fo - t0 <= 800000000LL);
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

/*
 * Three regions: a region that hears neither of the others cannot tell its
 * own isolation from the write region's loss, so it waits for a majority;
 * with one other region in touch it takes over.
 */
static void lone_region_should_not_take_the_write_role_without_a_majority(void **state)
{
    uint64_t v;
    char code[64], region[64];

    add("west-z1-h1", "west", "z1");
    add("north-z1-h1", "north", "z1");
    add("east-z1-h1", "east", "z1");
    start("{\"preset\":\"cosmos\",\"priority\":[\"west\",\"north\",\"east\"],"
          "\"consistency\":\"session\",\"lag\":\"10ms\",\"failover_after\":\"600ms\","
          "\"heartbeat\":\"100ms\"}");
    assert_int_equal(rsh_op(&nodes[0], "upsert", "k", 1, &v, code, region), 200);
    rsh_pause(&nodes[0]);
    rsh_pause(&nodes[2]);
    rsh_sleep_ms(1500);
    assert_int_equal(rsh_status_int(&nodes[1], "failovers"), 0);
    assert_int_equal(rsh_status_int(&nodes[1], "epoch"), 0);
    rsh_resume(&nodes[2]);
    assert_true(rsh_wait_str(&nodes[1], "write_region", "north", 3000));
    assert_true(rsh_wait_str(&nodes[2], "write_region", "north", 2000));
    assert_int_equal(rsh_op(&nodes[2], "upsert", "k", 2, &v, code, region), 200);
    assert_string_equal(region, "north");
    rsh_resume(&nodes[0]);
}

/*
 * Two regions: north took the write role while cut off from west (here:
 * west paused, then north paused while west goes on), but acknowledged
 * nothing. When they meet, west has everything north has: it takes the role
 * back instead of fencing the writes it acknowledged meanwhile.
 */
static void write_region_should_reclaim_the_role_from_a_region_that_wrote_nothing(void **state)
{
    uint64_t v;
    char code[64], region[64], buf[64];

    cosmos_two("session", "\"lag\":\"50ms\"");
    assert_int_equal(rsh_op(&nodes[0], "upsert", "k", 1, &v, code, region), 200);
    rsh_sleep_ms(300);
    rsh_pause(&nodes[0]);
    assert_true(rsh_wait_str(&nodes[1], "write_region", "north", 3000));
    rsh_pause(&nodes[1]);
    rsh_resume(&nodes[0]);
    /* west still serves, unaware of north's promotion */
    assert_int_equal(rsh_op(&nodes[0], "upsert", "k", 2, &v, code, region), 200);
    assert_string_equal(region, "west");
    rsh_resume(&nodes[1]);
    assert_true(rsh_wait_str(&nodes[1], "write_region", "west", 3000));
    assert_string_equal(rsh_status_str(&nodes[0], "write_region", buf, sizeof(buf)), "west");
    assert_int_equal(rsh_status_int(&nodes[0], "epoch"), 2);
    assert_int_equal(rsh_status_int(&nodes[0], "conflicts"), 0);
    assert_int_equal(rsh_op(&nodes[0], "read", "k", 0, &v, code, region), 200);
    assert_int_equal(v, 2);
    rsh_sleep_ms(500);
    assert_int_equal(rsh_op(&nodes[1], "read", "k", 0, &v, code, region), 200);
    assert_int_equal(v, 2);
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

/* "e1,e2,..." of an answer's elements (or "none"). */
static const char *elems(json_t *o, char *buf, size_t len)
{
    json_t *a = json_object_get(o, "elements"), *x;
    size_t i, n = 0;

    if (!json_is_array(a))
        return "none";
    buf[0] = '\0';
    json_array_foreach(a, i, x)
    {
        n += (size_t)snprintf(buf + n, len - n, "%s%" JSON_INTEGER_FORMAT, i ? "," : "",
                              json_integer_value(x));
        if (n >= len)
            break;
    }
    return buf;
}

/* POST /v1/op body; the answer's status, elements into buf, region into region. */
static long op_set(struct rsh_node *n, const char *body, char *buf, size_t len, char *region)
{
    json_t *o;
    long st = post(n, "/v1/op", body, &o);

    elems(o, buf, len);
    if (region)
        snprintf(region, 64, "%s", json_string_value(json_object_get(o, "region")) ?: "");
    json_decref(o);
    return st;
}

/*
 * The race of a returning write region, pinned: west learns that north is
 * the write region from a third replica (the test's heartbeat as "east")
 * before it has heard north itself. It must not take the write role back
 * with its stale store (north would then fence its acknowledged writes into
 * its conflict feed and resync from west); it stays a read region, catches
 * up from north when north answers, and the role comes back by a handover
 * that loses nothing.
 */
static void returning_write_region_should_catch_up_before_taking_the_role(void **state)
{
    uint64_t v;
    char code[64], region[64], buf[256];
    json_t *st, *ev;
    size_t i;

    cosmos_two("session", "\"lag\":\"400ms\"");
    assert_int_equal(rsh_op(&nodes[0], "upsert", "k0", 1, &v, code, region), 200);
    rsh_sleep_ms(700);
    rsh_pause(&nodes[0]);
    assert_true(rsh_wait_str(&nodes[1], "write_region", "north", 3000));
    assert_int_equal(rsh_op(&nodes[1], "upsert", "k1", 7, &v, code, region), 200);
    assert_string_equal(region, "north");
    assert_int_equal(op_set(&nodes[1],
                            "{\"op\":\"upsert\",\"key\":\"s\",\"value\":11,"
                            "\"model\":\"set\"}",
                            buf, sizeof(buf), region),
                     200);
    rsh_pause(&nodes[1]);
    rsh_resume(&nodes[0]);
    assert_int_equal(post(&nodes[0], "/v1/internal/heartbeat",
                          "{\"id\":\"east-z1-h1\",\"region\":\"east\",\"write_region\":\"north\","
                          "\"epoch\":1,\"current\":true}",
                          NULL),
                     200);
    /* Longer than failover_after: west has not heard north since before its pause. */
    rsh_sleep_ms(1000);
    assert_string_equal(rsh_status_str(&nodes[0], "write_region", buf, sizeof(buf)), "north");
    assert_string_equal(rsh_status_str(&nodes[0], "role", buf, sizeof(buf)), "read");
    assert_false(rsh_status_bool(&nodes[0], "current"));
    assert_int_equal(rsh_status_int(&nodes[0], "failovers"), 0);
    rsh_resume(&nodes[1]);
    assert_true(rsh_wait_str(&nodes[0], "write_region", "west", 5000));
    assert_true(rsh_wait_str(&nodes[1], "write_region", "west", 2000));
    assert_int_equal(rsh_status_int(&nodes[0], "failbacks"), 1);
    assert_int_equal(rsh_status_int(&nodes[0], "failovers"), 0);
    assert_int_equal(rsh_status_int(&nodes[1], "conflicts"), 0);
    /* north was never demoted, and never resynced its store from west's */
    st = rsh_get(&nodes[1], "/v1/status");
    assert_non_null(st);
    json_array_foreach(json_object_get(st, "events"), i, ev)
    {
        const char *what = json_string_value(json_object_get(ev, "event"));

        if (strcmp(what, "demote") == 0 || strcmp(what, "resync") == 0)
            fail_msg("north: %s (%s)", what, json_string_value(json_object_get(ev, "detail")));
    }
    json_decref(st);
    assert_int_equal(rsh_op(&nodes[0], "read", "k1", 0, &v, code, region), 200);
    assert_int_equal(v, 7);
    assert_int_equal(op_set(&nodes[0], "{\"op\":\"read\",\"key\":\"s\",\"model\":\"set\"}", buf,
                            sizeof(buf), region),
                     200);
    assert_string_equal(buf, "11");
    rsh_sleep_ms(700);
    assert_int_equal(rsh_op(&nodes[1], "read", "k1", 0, &v, code, region), 200);
    assert_int_equal(v, 7);
}

#define WKEYS 10

struct writer {
    struct rsh_node *node;
    volatile int stop;
    uint64_t acked[WKEYS];
    int ok, fails, infos;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    uint64_t val = 1;
    char key[16], code[64];

    while (!w->stop) {
        int k = (int)(val % WKEYS), st;

        snprintf(key, sizeof(key), "h%d", k);
        st = rsh_op(w->node, "upsert", key, val, NULL, code, NULL);
        if (st == 200) {
            w->acked[k] = val;
            w->ok++;
        } else if (st == 504 || st == 0) {
            w->infos++;
        } else {
            fprintf(stderr, "write %s=%" PRIu64 ": %d %s\n", key, val, st, code);
            w->fails++;
        }
        val++;
        rsh_sleep_ms(4);
    }
    return NULL;
}

/*
 * Failback under load: writes keep arriving at north (the write region
 * after the failover) while west returns, catches up and takes the role
 * back. Every acknowledged write is still there afterwards, in both
 * regions; no write was refused; nothing went to a conflict feed.
 */
static void failback_handover_should_lose_no_acknowledged_write(void **state)
{
    struct writer w;
    pthread_t t;
    uint64_t v;
    char code[64], region[64], key[16];
    int k;

    cosmos_two("session", "\"lag\":\"400ms\"");
    rsh_pause(&nodes[0]);
    assert_true(rsh_wait_str(&nodes[1], "write_region", "north", 3000));
    memset(&w, 0, sizeof(w));
    w.node = &nodes[1];
    assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
    rsh_sleep_ms(500);
    rsh_resume(&nodes[0]);
    if (!rsh_wait_str(&nodes[0], "write_region", "west", 6000)) {
        w.stop = 1;
        pthread_join(t, NULL);
        fail_msg("west did not take the write role back while writes went on");
    }
    rsh_sleep_ms(700);
    w.stop = 1;
    pthread_join(t, NULL);
    fprintf(stderr, "writes: %d acknowledged, %d refused, %d unknown\n", w.ok, w.fails, w.infos);
    rsh_sleep_ms(1000);
    for (k = 0; k < WKEYS; k++) {
        snprintf(key, sizeof(key), "h%d", k);
        assert_int_equal(rsh_op(&nodes[0], "read", key, 0, &v, code, region), 200);
        if (v < w.acked[k])
            fail_msg("west: %s = %" PRIu64 ", acknowledged %" PRIu64, key, v, w.acked[k]);
        assert_int_equal(rsh_op(&nodes[1], "read", key, 0, &v, code, region), 200);
        if (v < w.acked[k])
            fail_msg("north: %s = %" PRIu64 ", acknowledged %" PRIu64, key, v, w.acked[k]);
    }
    assert_true(w.ok > 100);
    assert_int_equal(w.fails, 0);
    assert_int_equal(rsh_status_int(&nodes[0], "conflicts"), 0);
    assert_int_equal(rsh_status_int(&nodes[1], "conflicts"), 0);
    assert_int_equal(rsh_status_int(&nodes[0], "failbacks"), 1);
}

static void set_model_should_accumulate_and_replicate(void **state)
{
    char buf[256], region[64];
    uint64_t v;
    char code[64];

    cosmos_two("session", "\"lag\":\"10ms\"");
    assert_int_equal(op_set(&nodes[0],
                            "{\"op\":\"upsert\",\"key\":\"s\",\"value\":5,"
                            "\"model\":\"set\"}",
                            buf, sizeof(buf), region),
                     200);
    assert_int_equal(op_set(&nodes[0],
                            "{\"op\":\"create\",\"key\":\"s\",\"value\":3,"
                            "\"model\":\"set\"}",
                            buf, sizeof(buf), region),
                     200);
    /* idempotent per element */
    assert_int_equal(op_set(&nodes[0],
                            "{\"op\":\"upsert\",\"key\":\"s\",\"value\":5,"
                            "\"model\":\"set\"}",
                            buf, sizeof(buf), region),
                     200);
    /* a read region forwards set writes like writes */
    assert_int_equal(op_set(&nodes[1],
                            "{\"op\":\"replace\",\"key\":\"s\",\"value\":9,"
                            "\"model\":\"set\"}",
                            buf, sizeof(buf), region),
                     200);
    assert_string_equal(region, "west");
    assert_int_equal(op_set(&nodes[0], "{\"op\":\"read\",\"key\":\"s\",\"model\":\"set\"}", buf,
                            sizeof(buf), region),
                     200);
    assert_string_equal(buf, "3,5,9");
    rsh_sleep_ms(300);
    assert_int_equal(op_set(&nodes[1], "{\"op\":\"read\",\"key\":\"s\",\"model\":\"set\"}", buf,
                            sizeof(buf), region),
                     200);
    assert_string_equal(region, "north");
    assert_string_equal(buf, "3,5,9");
    /* a key nobody added to is an empty set; set adds leave the register alone */
    assert_int_equal(op_set(&nodes[1], "{\"op\":\"read\",\"key\":\"none\",\"model\":\"set\"}", buf,
                            sizeof(buf), region),
                     200);
    assert_string_equal(buf, "");
    assert_int_equal(rsh_op(&nodes[0], "read", "s", 0, &v, code, region), 200);
    assert_int_equal(v, 0);
    assert_int_equal(op_set(&nodes[0],
                            "{\"op\":\"upsert\",\"key\":\"s\",\"value\":0,"
                            "\"model\":\"set\"}",
                            buf, sizeof(buf), region),
                     400);
    assert_int_equal(op_set(&nodes[0],
                            "{\"op\":\"upsert\",\"key\":\"s\",\"value\":1,"
                            "\"model\":\"bag\"}",
                            buf, sizeof(buf), region),
                     400);
}

/* cas: status, swapped, value after. */
static long cas(struct rsh_node *n, const char *key, uint64_t expected, uint64_t value,
                bool *swapped, uint64_t *after, char *region)
{
    char body[256], exp[32];
    json_t *o;
    long st;

    if (expected)
        snprintf(exp, sizeof(exp), "%" PRIu64, expected);
    else
        snprintf(exp, sizeof(exp), "null");
    snprintf(body, sizeof(body),
             "{\"op\":\"cas\",\"key\":\"%s\",\"expected\":%s,\"value\":%" PRIu64 "}", key, exp,
             value);
    st = post(n, "/v1/op", body, &o);
    *swapped = json_is_true(json_object_get(o, "swapped"));
    *after = (uint64_t)json_integer_value(json_object_get(o, "value"));
    if (region)
        snprintf(region, 64, "%s", json_string_value(json_object_get(o, "region")) ?: "");
    json_decref(o);
    return st;
}

struct incr {
    struct rsh_node *node;
    int done, tries;
};

static void *incr_main(void *arg)
{
    struct incr *c = arg;
    uint64_t cur = 1, after;
    bool swapped;

    while (c->done < 25 && c->tries < 2000) {
        c->tries++;
        if (cas(c->node, "n", cur, cur + 1, &swapped, &after, NULL) != 200)
            continue;
        if (swapped) {
            c->done++;
            cur++;
        } else {
            cur = after;
        }
    }
    return NULL;
}

static void cas_should_compare_and_set_atomically(void **state)
{
    bool sw;
    uint64_t after, v;
    char region[64], code[64], buf[128];
    struct incr inc[4];
    pthread_t t[4];
    int i;

    cosmos_two("session", "\"lag\":\"10ms\",\"replication\":\"sync\"");
    assert_int_equal(cas(&nodes[0], "c", 0, 1, &sw, &after, region), 200);
    assert_true(sw);
    assert_int_equal(after, 1);
    /* null expected: the key must be absent */
    assert_int_equal(cas(&nodes[0], "c", 0, 2, &sw, &after, region), 200);
    assert_false(sw);
    assert_int_equal(after, 1);
    assert_int_equal(cas(&nodes[0], "c", 5, 2, &sw, &after, region), 200);
    assert_false(sw);
    assert_int_equal(after, 1);
    /* forwarded to the write region like every write */
    assert_int_equal(cas(&nodes[1], "c", 1, 2, &sw, &after, region), 200);
    assert_true(sw);
    assert_int_equal(after, 2);
    assert_string_equal(region, "west");
    assert_int_equal(rsh_op(&nodes[1], "read", "c", 0, &v, code, region), 200);
    assert_int_equal(v, 2); /* sync: replicated before it was acknowledged */
    assert_int_equal(
        op_set(&nodes[0], "{\"op\":\"cas\",\"key\":\"c\",\"value\":3}", buf, sizeof(buf), region),
        400);
    assert_int_equal(op_set(&nodes[0], "{\"op\":\"cas\",\"key\":\"c\",\"expected\":2,\"value\":0}",
                            buf, sizeof(buf), region),
                     400);
    /* four clients through both regions: every swap counts exactly once */
    assert_int_equal(cas(&nodes[0], "n", 0, 1, &sw, &after, region), 200);
    for (i = 0; i < 4; i++) {
        inc[i] = (struct incr){.node = &nodes[i % 2]};
        assert_int_equal(pthread_create(&t[i], NULL, incr_main, &inc[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(inc[i].done, 25);
    }
    assert_int_equal(rsh_op(&nodes[0], "read", "n", 0, &v, code, region), 200);
    assert_int_equal(v, 101);
}

static void key_vault_read_only_should_refuse_set_writes_and_cas(void **state)
{
    char buf[128], region[64];
    bool sw;
    uint64_t after;

    kv_pair("\"replication\":\"sync\"");
    assert_int_equal(op_set(&nodes[1],
                            "{\"op\":\"set-secret\",\"key\":\"s\",\"value\":4,"
                            "\"model\":\"set\"}",
                            buf, sizeof(buf), region),
                     200);
    assert_string_equal(region, "west");
    assert_int_equal(cas(&nodes[1], "c", 0, 8, &sw, &after, region), 200);
    assert_true(sw);
    assert_string_equal(region, "west");
    rsh_pause(&nodes[0]);
    assert_true(rsh_wait_bool(&nodes[1], "read_only", true, 3000));
    assert_int_equal(op_set(&nodes[1],
                            "{\"op\":\"set-secret\",\"key\":\"s\",\"value\":5,"
                            "\"model\":\"set\"}",
                            buf, sizeof(buf), region),
                     403);
    assert_int_equal(cas(&nodes[1], "c", 8, 9, &sw, &after, region), 403);
    assert_int_equal(op_set(&nodes[1], "{\"op\":\"get-secret\",\"key\":\"s\",\"model\":\"set\"}",
                            buf, sizeof(buf), region),
                     200);
    assert_string_equal(region, "north");
    assert_string_equal(buf, "4");
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
        cmocka_unit_test_teardown(lone_region_should_not_take_the_write_role_without_a_majority,
                                  teardown),
        cmocka_unit_test_teardown(
            write_region_should_reclaim_the_role_from_a_region_that_wrote_nothing, teardown),
        cmocka_unit_test_teardown(returning_write_region_should_catch_up_before_taking_the_role,
                                  teardown),
        cmocka_unit_test_teardown(failback_handover_should_lose_no_acknowledged_write, teardown),
        cmocka_unit_test_teardown(set_model_should_accumulate_and_replicate, teardown),
        cmocka_unit_test_teardown(cas_should_compare_and_set_atomically, teardown),
        cmocka_unit_test_teardown(key_vault_read_only_should_refuse_set_writes_and_cas, teardown),
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
