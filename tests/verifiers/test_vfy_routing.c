/*
 * The routing verifier: reads follow the clients' preferred-regions order
 * per phase (the first region before a fault and after its heal, the first
 * one outside `lost` while it is in effect). Histories that must fail: a
 * read region whose clients kept being served there during the outage, and
 * reads that never came back after the heal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "faultline/err.h"
#include "vfy_testlib.h"

/* One ok read every 100 ms from 0 to 30 s: before the fault (at 10 s) from
 * `before`, during it (10..20 s) from `during`, after it from `after`. */
static void reads(struct hist *h, const char *before, const char *during, const char *after)
{
    int64_t t;

    for (t = 0; t < 30000; t += 100) {
        const char *r = t < 10000 ? before : t < 20000 ? during : after;

        tl_op(h, 0, "read", false, "k1", 0, r, t, t + 1, HIST_OK);
        /* failed reads count nowhere */
        tl_op(h, 1, "read", false, "k2", 0, "north", t + 50, t + 60, HIST_FAIL);
    }
    tl_op(h, 2, "upsert", true, "k1", 5, "west", 100, 101, HIST_OK);
}

static int check(const char *before, const char *during, const char *after, struct vfy_result *out)
{
    struct hist h;
    struct hist_faults fs = {0};
    struct vfy_config cfg;
    struct fl_err err = {0};
    json_t *j = json_loads("{\"routing\":{\"preferred\":[\"north\",\"west\",\"south\"],"
                           "\"lost\":[\"north\"],\"ratio\":0.9,\"settle\":\"1s\"}}",
                           0, NULL);
    int r;

    hist_init(&h);
    reads(&h, before, during, after);
    tl_fault(&fs, "f1", 10000, 10005, 20000, 20005);
    vfy_config_init_defaults(&cfg);
    assert_non_null(j);
    assert_int_equal(vfy_config_from_json(j, &cfg, &err), 0);
    json_decref(j);
    assert_true(cfg.routing.enabled);
    memset(out, 0, sizeof(*out));
    r = vfy_routing_check(&h, &fs, &cfg, out, &err);
    hist_free(&h);
    hist_faults_free(&fs);
    return r;
}

static void routing_should_pass_when_reads_follow_the_preferred_order(void **state)
{
    struct vfy_result out;

    (void)state;
    assert_int_equal(check("north", "west", "north", &out), 0);
    assert_int_equal(out.status, VFY_PASS);
    assert_string_equal(json_string_value(tl_get(out.measured, "faults.0.during.expected")),
                        "west");
    assert_int_equal((int)tl_num(out.measured, "faults.0.during.served.west"), 89);
    assert_int_equal((int)tl_num(out.measured, "faults.0.before.served.north"), 100);
    assert_int_equal((int)tl_num(out.measured, "faults.0.after.served.north"), 89);
    vfy_result_free(&out);
}

static void routing_should_fail_when_clients_are_not_redirected(void **state)
{
    struct vfy_result out;

    (void)state;
    assert_int_equal(check("north", "north", "north", &out), 0);
    assert_int_equal(out.status, VFY_FAIL);
    assert_string_equal(json_string_value(tl_get(out.measured, "faults.0.during.status")), "fail");
    assert_string_equal(json_string_value(tl_get(out.measured, "faults.0.before.status")), "pass");
    assert_non_null(strstr(out.detail, "Fault f1, during: 0.0% of 89 ok reads came from west"));
    vfy_result_free(&out);
}

static void routing_should_fail_when_reads_never_come_back(void **state)
{
    struct vfy_result out;

    (void)state;
    assert_int_equal(check("north", "west", "west", &out), 0);
    assert_int_equal(out.status, VFY_FAIL);
    assert_string_equal(json_string_value(tl_get(out.measured, "faults.0.after.status")), "fail");
    vfy_result_free(&out);
}

static void routing_should_fail_when_the_next_region_is_skipped(void **state)
{
    struct vfy_result out;

    (void)state;
    assert_int_equal(check("north", "south", "north", &out), 0);
    assert_int_equal(out.status, VFY_FAIL);
    vfy_result_free(&out);
}

static void routing_should_be_inconclusive_without_a_fault(void **state)
{
    struct hist h;
    struct hist_faults fs = {0};
    struct vfy_config cfg;
    struct vfy_result out = {0};
    struct fl_err err = {0};

    (void)state;
    hist_init(&h);
    reads(&h, "north", "north", "north");
    vfy_config_init_defaults(&cfg);
    cfg.routing.enabled = true;
    cfg.routing.preferred.n = 1;
    strcpy(cfg.routing.preferred.name[0], "north");
    assert_int_equal(vfy_routing_check(&h, &fs, &cfg, &out, &err), 0);
    assert_int_equal(out.status, VFY_INCONCLUSIVE);
    vfy_result_free(&out);
    hist_free(&h);
}

static void routing_config_should_refuse_unknown_keys_and_bad_ratios(void **state)
{
    struct vfy_config cfg;
    struct fl_err err = {0};
    json_t *j = json_loads("{\"routing\":{\"prefered\":[\"north\"],\"lost\":[]}}", 0, NULL);

    (void)state;
    vfy_config_init_defaults(&cfg);
    assert_int_equal(vfy_config_from_json(j, &cfg, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "prefered"));
    json_decref(j);
    j = json_loads("{\"routing\":{\"preferred\":[\"north\"],\"lost\":[],\"ratio\":1.5}}", 0, NULL);
    vfy_config_init_defaults(&cfg);
    assert_int_equal(vfy_config_from_json(j, &cfg, &err), -EINVAL);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routing_should_pass_when_reads_follow_the_preferred_order),
        cmocka_unit_test(routing_should_fail_when_clients_are_not_redirected),
        cmocka_unit_test(routing_should_fail_when_reads_never_come_back),
        cmocka_unit_test(routing_should_fail_when_the_next_region_is_skipped),
        cmocka_unit_test(routing_should_be_inconclusive_without_a_fault),
        cmocka_unit_test(routing_config_should_refuse_unknown_keys_and_bad_ratios),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
