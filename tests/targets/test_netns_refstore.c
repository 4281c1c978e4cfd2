/*
 * refstore across a real network cut: primary "west" and secondary "north"
 * in their own namespaces joined by a veth pair; the test downs the link so
 * the secondary really loses the primary, checks the measured failover time
 * against the replica's own failover_at_ns, the read-only period seen by a
 * workload running inside north's namespace (reads served, writes refused,
 * none succeeded), and failback once the link is back. Needs root.
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

#include <curl/curl.h>

#include "faultline/err.h"
#include "faultline/workload.h"
#include "netns.h"
#include "rs_helper.h"
#include "testutil.h"

static struct rsh_node nodes[2];

static int setup(void **state)
{
    if (!tu_is_root())
        return 0;
    if (tn_create("w") < 0 || tn_create("n") < 0 ||
        tn_veth("w", "w0", "10.99.0.1/24", "n", "n0", "10.99.0.2/24") < 0)
        return -1;
    memset(nodes, 0, sizeof(nodes));
    nodes[0] = (struct rsh_node){
        .id = "west-z1-h1", .region = "west", .zone = "z1", .port = 7000, .ns = "w"};
    snprintf(nodes[0].addr, sizeof(nodes[0].addr), "10.99.0.1");
    nodes[1] = (struct rsh_node){
        .id = "north-z1-h1", .region = "north", .zone = "z1", .port = 7000, .ns = "n"};
    snprintf(nodes[1].addr, sizeof(nodes[1].addr), "10.99.0.2");
    return 0;
}

static int teardown(void **state)
{
    rsh_stop(&nodes[0]);
    rsh_stop(&nodes[1]);
    tn_cleanup();
    return 0;
}

struct cut {
    int down_at_ms, up_at_ms;
    int64_t down_ns, up_ns;
};

static void *cutter(void *arg)
{
    struct cut *c = arg;

    rsh_sleep_ms(c->down_at_ms);
    c->down_ns = rsh_now_ns();
    tn_exec("w", "ip link set dev w0 down");
    rsh_sleep_ms(c->up_at_ms - c->down_at_ms);
    tn_exec("w", "ip link set dev w0 up");
    c->up_ns = rsh_now_ns();
    return NULL;
}

static void key_vault_should_fail_over_read_only_and_back_across_a_cut(void **state)
{
    struct wl_config c;
    struct wl_stats s;
    struct hist h;
    struct cut cut = {800, 2800, 0, 0};
    pthread_t t;
    struct fl_err err = {0};
    char url[64];
    size_t i;
    int64_t fo, fb;
    int ro_reads = 0, ro_writes_refused = 0, ro_writes_ok = 0, writes_after = 0;

    TU_REQUIRE_ROOT();
    assert_int_equal(rsh_start_all(nodes, 2,
                                   "{\"preset\":\"key-vault\",\"primary\":\"west\","
                                   "\"failover_after\":\"600ms\",\"heartbeat\":\"100ms\","
                                   "\"lag\":\"20ms\",\"forward_timeout\":\"300ms\"}"),
                     0);
    wl_config_init(&c);
    c.clients = 2;
    c.rate = 200;
    c.duration_ns = 4500000000LL;
    c.timeout_ns = 250000000LL;
    c.retry_preferred_ns = 400000000LL;
    snprintf(c.regions[0], FL_REGION_MAX, "west");
    snprintf(c.regions[1], FL_REGION_MAX, "north");
    c.nregions = 2;
    wl_config_add_mix(&c, "get-secret", 2, NULL);
    wl_config_add_mix(&c, "set-secret", 2, NULL);
    wl_config_add_mix(&c, "encrypt", 1, NULL);
    snprintf(url, sizeof(url), "http://10.99.0.1:7000");
    wl_config_add_endpoint(&c, "west", url, NULL);
    snprintf(url, sizeof(url), "http://10.99.0.2:7000");
    wl_config_add_endpoint(&c, "north", url, NULL);
    assert_int_equal(hist_init(&h), 0);
    /* The clients live in north's namespace: they reach west over the veth. */
    assert_int_equal(tn_enter("n"), 0);
    pthread_create(&t, NULL, cutter, &cut);
    assert_int_equal(wl_run(&c, &fl_driver_refstore, &h, &s, NULL, NULL, NULL, &err), 0);
    pthread_join(t, NULL);
    tn_leave();
    fo = rsh_status_int(&nodes[1], "failover_at_ns");
    fb = rsh_status_int(&nodes[1], "failback_at_ns");
    printf("failover %.0f ms after the cut, failback %.0f ms after the repair\n",
           (fo - cut.down_ns) / 1e6, (fb - cut.up_ns) / 1e6);
    assert_true(fo - cut.down_ns >= 550000000LL && fo - cut.down_ns <= 1200000000LL);
    assert_true(fb > cut.up_ns && fb - cut.up_ns <= 1000000000LL);
    for (i = 0; i < h.n; i++) {
        const struct hist_op *o = &h.ops[i];
        bool in_ro = o->invoke_ns > fo + 50000000LL && o->complete_ns < fb;

        if (in_ro && !o->is_write && o->outcome == HIST_OK &&
            strcmp(h.regions.s[o->region], "north") == 0)
            ro_reads++;
        if (in_ro && o->is_write && o->outcome == HIST_FAIL &&
            strstr(h.errors.s[o->error], "read_only"))
            ro_writes_refused++;
        /* no write may succeed on the read-only secondary (west itself may serve
           writes again between the repair and north's failback) */
        if (in_ro && o->is_write && o->outcome == HIST_OK &&
            strcmp(h.regions.s[o->region], "north") == 0)
            ro_writes_ok++;
        if (o->invoke_ns > fb + 500000000LL && o->is_write && o->outcome == HIST_OK)
            writes_after++;
    }
    printf("read-only: %d reads served, %d writes refused, %d writes ok; %d writes after\n",
           ro_reads, ro_writes_refused, ro_writes_ok, writes_after);
    assert_true(ro_reads > 20);
    assert_true(ro_writes_refused > 20);
    assert_int_equal(ro_writes_ok, 0);
    assert_true(writes_after > 20);
    hist_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(key_vault_should_fail_over_read_only_and_back_across_a_cut,
                                        setup, teardown),
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
