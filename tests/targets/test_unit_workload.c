/*
 * The workload engine against real refstore replicas on loopback: the
 * achieved rate stays within 5% of the offered rate against a fast target; a
 * timeout is recorded as info; preferred routing moves to the next region and
 * back; the history is valid JSONL with monotonic times per client, unique
 * write values per key, and final reads of every written key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "faultline/err.h"
#include "faultline/workload.h"
#include "rs_helper.h"
#include "testutil.h"

static struct rsh_node nodes[4];
static int nn;

static void add(const char *id, const char *region)
{
    struct rsh_node *n = &nodes[nn++];

    memset(n, 0, sizeof(*n));
    n->id = id;
    n->region = region;
    n->zone = "z1";
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

static void endpoint(struct wl_config *c, int i)
{
    char url[128];

    snprintf(url, sizeof(url), "http://%s:%d", nodes[i].addr, nodes[i].port);
    assert_int_equal(wl_config_add_endpoint(c, nodes[i].region, url, NULL), 0);
}

static void kv_single(void)
{
    add("west-z1-h1", "west");
    assert_int_equal(rsh_start_all(nodes, nn,
                                   "{\"preset\":\"key-vault\",\"primary\":\"west\","
                                   "\"failover_after\":\"1s\",\"heartbeat\":\"100ms\"}"),
                     0);
}

static void workload_should_achieve_offered_rate_against_fast_target(void **state)
{
    struct wl_config c;
    struct wl_stats s;
    struct hist h;
    struct fl_err err = {0};

    kv_single();
    wl_config_init(&c);
    c.clients = 4;
    c.rate = 2000;
    c.duration_ns = 2000000000LL;
    c.keys = 50;
    c.timeout_ns = 500000000LL;
    wl_config_add_mix(&c, "get-secret", 50, NULL);
    wl_config_add_mix(&c, "set-secret", 40, NULL);
    wl_config_add_mix(&c, "list-secrets", 10, NULL);
    endpoint(&c, 0);
    assert_int_equal(hist_init(&h), 0);
    assert_int_equal(wl_run(&c, &fl_driver_refstore, &h, &s, NULL, NULL, NULL, &err), 0);
    printf("offered %.1f/s achieved %.1f/s issued %" PRIu64 " missed %" PRIu64 " late %" PRIu64
           " max lag %.2f ms ok %" PRIu64 "\n",
           s.offered_rate, s.achieved_rate, s.issued, s.missed, s.late, s.max_lag_ns / 1e6, s.ok);
    assert_true(fabs(s.offered_rate - 2000) / 2000 < 0.05);
    assert_true(fabs(s.achieved_rate - 2000) / 2000 < 0.05);
    assert_int_equal(s.ok, s.issued);
    assert_int_equal(h.n, s.issued);
    hist_free(&h);
}

static void workload_should_record_timeout_as_info(void **state)
{
    struct wl_config c;
    struct wl_stats s;
    struct hist h;
    size_t i;

    kv_single();
    rsh_pause(&nodes[0]); /* accepts connections (kernel) but never answers */
    wl_config_init(&c);
    c.clients = 2;
    c.rate = 20;
    c.duration_ns = 1000000000LL;
    c.timeout_ns = 150000000LL;
    wl_config_add_mix(&c, "set-secret", 1, NULL);
    endpoint(&c, 0);
    assert_int_equal(hist_init(&h), 0);
    assert_int_equal(wl_run(&c, &fl_driver_refstore, &h, &s, NULL, NULL, NULL, NULL), 0);
    rsh_resume(&nodes[0]);
    assert_true(h.n >= 5);
    for (i = 0; i < h.n; i++) {
        assert_int_equal(h.ops[i].outcome, HIST_INFO);
        assert_string_equal(h.errors.s[h.ops[i].error], "timeout");
        assert_true(h.ops[i].complete_ns - h.ops[i].invoke_ns >= 140000000LL);
        assert_true(h.ops[i].value != 0); /* the value we tried to write is kept */
    }
    assert_int_equal(s.info, h.n);
    assert_int_equal(s.ok + s.fail, 0);
    hist_free(&h);
}

struct flap {
    int64_t pause_at_ms, resume_at_ms;
};

static void *flapper(void *arg)
{
    struct flap *f = arg;

    rsh_sleep_ms((int)f->pause_at_ms);
    rsh_pause(&nodes[0]);
    rsh_sleep_ms((int)(f->resume_at_ms - f->pause_at_ms));
    rsh_resume(&nodes[0]);
    return NULL;
}

static void routing_should_move_to_next_region_and_back(void **state)
{
    struct wl_config c;
    struct wl_stats s;
    struct hist h;
    struct flap f = {600, 1600};
    pthread_t t;
    size_t i;
    int64_t t0;
    int west_before = 0, north_during = 0, west_after = 0, north_after = 0;

    add("west-z1-h1", "west");
    add("north-z1-h1", "north");
    assert_int_equal(rsh_start_all(nodes, nn,
                                   "{\"preset\":\"cosmos\",\"writes\":\"multi\","
                                   "\"priority\":[\"west\",\"north\"],\"consistency\":\"eventual\","
                                   "\"failover_after\":\"1s\",\"heartbeat\":\"100ms\"}"),
                     0);
    wl_config_init(&c);
    c.clients = 2;
    c.rate = 100;
    c.duration_ns = 3000000000LL;
    c.timeout_ns = 200000000LL;
    c.retry_preferred_ns = 300000000LL;
    c.routing = WL_ROUTE_PREFERRED;
    snprintf(c.regions[0], FL_REGION_MAX, "west");
    snprintf(c.regions[1], FL_REGION_MAX, "north");
    c.nregions = 2;
    wl_config_add_mix(&c, "read", 1, NULL);
    wl_config_add_mix(&c, "upsert", 1, NULL);
    endpoint(&c, 1); /* endpoints listed in the "wrong" order: regions decide */
    endpoint(&c, 0);
    assert_int_equal(hist_init(&h), 0);
    t0 = rsh_now_ns();
    pthread_create(&t, NULL, flapper, &f);
    assert_int_equal(wl_run(&c, &fl_driver_refstore, &h, &s, NULL, NULL, NULL, NULL), 0);
    pthread_join(t, NULL);
    for (i = 0; i < h.n; i++) {
        const struct hist_op *o = &h.ops[i];
        int64_t at = (o->invoke_ns - t0) / 1000000;
        const char *reg = h.regions.s[o->region];

        if (o->outcome != HIST_OK)
            continue;
        if (at < 550 && strcmp(reg, "west") == 0)
            west_before++;
        if (at > 1000 && at < 1550 && strcmp(reg, "north") == 0)
            north_during++;
        if (at > 2300 && strcmp(reg, "west") == 0)
            west_after++;
        if (at > 2300 && strcmp(reg, "north") == 0)
            north_after++;
    }
    printf("west before %d, north during %d, west after %d, north after %d, moves %" PRIu64
           ", info %" PRIu64 "\n",
           west_before, north_during, west_after, north_after, s.region_moves, s.info);
    assert_true(west_before > 20);
    assert_true(north_during > 50);
    assert_true(west_after > 50);
    assert_int_equal(north_after, 0);
    assert_true(s.region_moves >= 4);
    hist_free(&h);
}

static void history_should_be_valid_jsonl_with_monotonic_times(void **state)
{
    struct wl_config c;
    struct wl_stats s;
    struct hist h;
    struct fl_err err = {0};
    FILE *f;
    char *line = NULL;
    size_t cap = 0, n = 0, finals = 0, writes = 0;
    int64_t last_invoke[8] = {0};
    json_t *values = json_object();
    int client;

    kv_single();
    wl_config_init(&c);
    c.clients = 4;
    c.rate = 400;
    c.duration_ns = 1000000000LL;
    c.keys = 20;
    wl_config_add_mix(&c, "get-secret", 3, NULL);
    wl_config_add_mix(&c, "set-secret", 3, NULL);
    wl_config_add_mix(&c, "delete-secret", 1, NULL);
    wl_config_add_mix(&c, "encrypt", 1, NULL);
    endpoint(&c, 0);
    assert_int_equal(hist_init(&h), 0);
    assert_int_equal(wl_run(&c, &fl_driver_refstore, &h, &s, NULL, NULL, NULL, &err), 0);
    assert_int_equal(wl_final_reads(&c, &fl_driver_refstore, &h, &err), 0);
    f = tmpfile();
    assert_non_null(f);
    assert_int_equal(hist_write_jsonl(f, &h), 0);
    rewind(f);
    while (getline(&line, &cap, f) > 0) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        const char *outcome, *type;
        json_int_t inv, comp;

        assert_non_null(o);
        n++;
        assert_true(json_is_integer(json_object_get(o, "client")));
        assert_true(json_is_string(json_object_get(o, "op")));
        assert_true(json_is_string(json_object_get(o, "key")));
        assert_true(json_is_string(json_object_get(o, "region")));
        outcome = json_string_value(json_object_get(o, "outcome"));
        type = json_string_value(json_object_get(o, "type"));
        assert_non_null(outcome);
        assert_non_null(type);
        assert_true(strcmp(outcome, "ok") == 0 || strcmp(outcome, "fail") == 0 ||
                    strcmp(outcome, "info") == 0);
        inv = json_integer_value(json_object_get(o, "invoke_ns"));
        comp = json_integer_value(json_object_get(o, "complete_ns"));
        assert_true(inv > 0 && comp >= inv);
        client = (int)json_integer_value(json_object_get(o, "client"));
        assert_true(client >= 0 && client < 8);
        assert_true(inv >= last_invoke[client]); /* monotonic per client */
        last_invoke[client] = inv;
        if (json_is_true(json_object_get(o, "final"))) {
            finals++;
            assert_int_equal(client, 4);
            assert_string_equal(outcome, "ok");
        }
        if (strcmp(type, "write") == 0 &&
            strcmp(json_string_value(json_object_get(o, "op")), "set-secret") == 0) {
            char k[96];
            json_int_t v = json_integer_value(json_object_get(o, "value"));

            writes++;
            assert_true(v != 0);
            /* unique value per key */
            snprintf(k, sizeof(k), "%s/%" JSON_INTEGER_FORMAT,
                     json_string_value(json_object_get(o, "key")), v);
            assert_null(json_object_get(values, k));
            json_object_set_new(values, k, json_true());
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    json_decref(values);
    printf("%zu lines, %zu writes, %zu final reads\n", n, writes, finals);
    assert_int_equal(n, h.n);
    assert_true(writes > 50);
    assert_true(finals >= 1 && finals <= 20);
    hist_free(&h);
}

static void workload_should_reject_bad_config(void **state)
{
    struct wl_config c;
    struct fl_err err = {0};

    wl_config_init(&c);
    assert_true(wl_config_check(&c, &err) < 0); /* no mix */
    assert_true(wl_config_add_mix(&c, "get-secret", 0, NULL) < 0);
    wl_config_add_mix(&c, "get-secret", 1, NULL);
    fl_err_clear(&err);
    assert_true(wl_config_check(&c, &err) < 0); /* no endpoints */
    wl_config_add_endpoint(&c, "west", "http://127.0.0.1:1", NULL);
    snprintf(c.regions[0], FL_REGION_MAX, "mars");
    c.nregions = 1;
    fl_err_clear(&err);
    assert_true(wl_config_check(&c, &err) < 0);
    assert_non_null(strstr(err.msg, "mars"));
    c.nregions = 0;
    assert_int_equal(wl_config_check(&c, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(workload_should_reject_bad_config),
        cmocka_unit_test_teardown(workload_should_achieve_offered_rate_against_fast_target,
                                  teardown),
        cmocka_unit_test_teardown(workload_should_record_timeout_as_info, teardown),
        cmocka_unit_test_teardown(routing_should_move_to_next_region_and_back, teardown),
        cmocka_unit_test_teardown(history_should_be_valid_jsonl_with_monotonic_times, teardown),
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
