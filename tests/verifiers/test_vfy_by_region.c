/*
 * The per-region breakdown of availability and failover (measured.by_region,
 * and by_group.<group>.by_region when the history has client groups), on
 * hand-written histories with exact expected numbers. The breakdown is
 * report-only: the histories that must fail still fail, and the breakdown is
 * the same whatever the verdict.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "faultline/err.h"
#include "vfy_testlib.h"

/*
 * Fault f1: apply 10000..10005 ms, heal 20000..20005 ms. West (client 0)
 * reads ok before and after but fails during the fault; north (client 1)
 * reads ok throughout. One record has no region and is in no breakdown.
 */
static void two_regions(struct hist *h)
{
    tl_op(h, 0, "get", false, "k1", 0, "west", 1000, 1001, HIST_OK);
    tl_op(h, 1, "get", false, "k1", 0, "north", 2000, 2001, HIST_OK);
    tl_op(h, 0, "get", false, "k1", 0, "west", 15000, 15001, HIST_FAIL);
    tl_op(h, 0, "get", false, "k1", 0, "west", 16000, 16001, HIST_FAIL);
    tl_op(h, 1, "get", false, "k1", 0, "north", 15000, 15001, HIST_OK);
    tl_op(h, 1, "get", false, "k1", 0, NULL, 15500, 15501, HIST_FAIL);
    tl_op(h, 0, "get", false, "k1", 0, "west", 25000, 25001, HIST_OK);
    tl_op(h, 1, "get", false, "k1", 0, "north", 25000, 25001, HIST_OK);
}

/*
 * Failover: west's reads (client 0) succeed from the start of the fault;
 * north's writes (client 1) fail until 12000 ms and succeed after. Write
 * recovers at north (12051 - 10005 = 2046 ms), read at west (96 ms).
 */
static void split_recovery(struct hist *h)
{
    int64_t t;

    tl_op(h, 0, "put", true, "k1", 1, "west", 5000, 5001, HIST_OK);
    for (t = 10100; t < 20000; t += 200)
        tl_op(h, 0, "get", false, "k1", 1, "west", t, t + 1, HIST_OK);
    for (t = 10050; t < 20000; t += 200)
        tl_op(h, 1, "put", true, "k2", (uint64_t)t, "north", t, t + 1,
              t < 12000 ? HIST_FAIL : HIST_OK);
}

static void set_groups(struct hist *h)
{
    assert_int_equal(hist_set_group(h, 0, "west-app"), 0);
    assert_int_equal(hist_set_group(h, 1, "north-app"), 0);
}

/* Run every verifier the config text enables over fill's history (and groups). */
static void run(void (*fill)(struct hist *), bool groups, const char *config,
                struct vfy_results *rs)
{
    struct hist h;
    struct hist_faults fs = {0};
    struct vfy_config cfg;
    struct fl_err err = {0};
    json_t *j = json_loads(config, 0, NULL);

    assert_non_null(j);
    hist_init(&h);
    fill(&h);
    if (groups)
        set_groups(&h);
    tl_fault(&fs, "f1", 10000, 10005, 20000, 20005);
    vfy_config_init_defaults(&cfg);
    assert_int_equal(vfy_config_from_json(j, &cfg, &err), 0);
    json_decref(j);
    memset(rs, 0, sizeof(*rs));
    assert_int_equal(vfy_run_all(&h, &fs, &cfg, rs, &err), 0);
    assert_int_equal(rs->n, 1);
    hist_free(&h);
    hist_faults_free(&fs);
}

static void availability_should_report_each_region_per_phase(void **state)
{
    struct vfy_results rs;
    json_t *m;

    (void)state;
    run(two_regions, false, "{\"availability\":{\"during\":{\"read\":0.9}}}", &rs);
    m = rs.r[0].measured;
    /* must fail: west's reads failed during the fault (1 of 4 ok overall) */
    assert_int_equal(rs.r[0].status, VFY_FAIL);
    assert_int_equal((int)tl_num(m, "by_region.west.during.read.total"), 2);
    assert_int_equal((int)tl_num(m, "by_region.west.during.read.ok"), 0);
    assert_int_equal((int)tl_num(m, "by_region.west.before.read.ok"), 1);
    assert_int_equal((int)tl_num(m, "by_region.west.after.get.total"), 1);
    assert_int_equal((int)tl_num(m, "by_region.north.during.read.total"), 1);
    assert_true(tl_num(m, "by_region.north.during.read.ratio") == 1.0);
    /* the record with no region counts in the whole run only */
    assert_int_equal((int)tl_num(m, "faults.0.during.read.total"), 4);
    assert_int_equal((int)json_object_size(json_object_get(m, "by_region")), 2);
    /* no group in the history: no per-group breakdown */
    assert_null(json_object_get(m, "by_group"));
    vfy_results_free(&rs);
}

static void availability_breakdown_should_not_change_the_verdict(void **state)
{
    struct vfy_results rs;

    (void)state;
    /* a floor the whole run meets (1 of 4 reads ok during) passes, though west had none ok */
    run(two_regions, false, "{\"availability\":{\"during\":{\"read\":0.2}}}", &rs);
    assert_int_equal(rs.r[0].status, VFY_PASS);
    assert_int_equal((int)tl_num(rs.r[0].measured, "by_region.west.during.read.ok"), 0);
    vfy_results_free(&rs);
}

static void availability_should_report_regions_within_each_group(void **state)
{
    struct vfy_results rs;
    json_t *m;

    (void)state;
    run(two_regions, true, "{\"availability\":{\"during\":{\"read\":0.9}}}", &rs);
    m = rs.r[0].measured;
    assert_int_equal(rs.r[0].status, VFY_FAIL);
    assert_int_equal((int)tl_num(m, "by_group.west-app.by_region.west.during.read.total"), 2);
    assert_int_equal((int)tl_num(m, "by_group.north-app.by_region.north.during.read.ok"), 1);
    /* each group's breakdown holds only the regions its clients used */
    assert_null(tl_get(m, "by_group.west-app.by_region.north"));
    assert_null(tl_get(m, "by_group.north-app.by_region.west"));
    /* the same object as the group's measured.by_region */
    assert_ptr_equal(tl_get(m, "by_group.west-app.by_region"),
                     tl_get(m, "by_group.west-app.measured.by_region"));
    vfy_results_free(&rs);
}

static void failover_should_report_the_region_of_each_first_sustained_success(void **state)
{
    struct vfy_results rs;
    json_t *m;

    (void)state;
    run(split_recovery, false, "{\"failover\":{\"max\":\"5s\"}}", &rs);
    m = rs.r[0].measured;
    assert_int_equal(rs.r[0].status, VFY_PASS);
    assert_int_equal((int)tl_num(m, "by_region.north.recovered.write"), 1);
    assert_true(tl_num(m, "by_region.north.rto_ms.write") == 2046.0);
    assert_int_equal((int)tl_num(m, "by_region.north.attempts.write.total"), 50);
    assert_int_equal((int)tl_num(m, "by_region.north.attempts.write.ok"), 40);
    assert_int_equal((int)tl_num(m, "by_region.west.recovered.read"), 1);
    assert_true(tl_num(m, "by_region.west.rto_ms.read") == 96.0);
    assert_int_equal((int)tl_num(m, "by_region.west.attempts.read.total"), 50);
    /* west wrote before the fault only; north never read */
    assert_null(tl_get(m, "by_region.west.attempts.write"));
    assert_null(tl_get(m, "by_region.north.recovered.read"));
    vfy_results_free(&rs);
}

static void failover_should_fail_over_the_bound_with_the_same_breakdown(void **state)
{
    struct vfy_results rs;
    json_t *m;

    (void)state;
    /* must fail: write took 2046 ms, over 1 s */
    run(split_recovery, false, "{\"failover\":{\"max\":\"1s\"}}", &rs);
    m = rs.r[0].measured;
    assert_int_equal(rs.r[0].status, VFY_FAIL);
    assert_int_equal((int)tl_num(m, "by_region.north.recovered.write"), 1);
    assert_true(tl_num(m, "by_region.north.rto_ms.write") == 2046.0);
    vfy_results_free(&rs);
}

static void failover_should_report_regions_within_each_group(void **state)
{
    struct vfy_results rs;
    json_t *m;

    (void)state;
    run(split_recovery, true, "{\"failover\":{\"max\":\"1s\"}}", &rs);
    m = rs.r[0].measured;
    assert_int_equal(rs.r[0].status, VFY_FAIL);
    assert_true(tl_num(m, "by_group.north-app.by_region.north.rto_ms.write") == 2046.0);
    assert_true(tl_num(m, "by_group.west-app.by_region.west.rto_ms.read") == 96.0);
    assert_null(tl_get(m, "by_group.west-app.by_region.north"));
    assert_string_equal(json_string_value(tl_get(m, "by_group.north-app.status")), "fail");
    assert_string_equal(json_string_value(tl_get(m, "by_group.west-app.status")), "pass");
    vfy_results_free(&rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(availability_should_report_each_region_per_phase),
        cmocka_unit_test(availability_breakdown_should_not_change_the_verdict),
        cmocka_unit_test(availability_should_report_regions_within_each_group),
        cmocka_unit_test(failover_should_report_the_region_of_each_first_sustained_success),
        cmocka_unit_test(failover_should_fail_over_the_bound_with_the_same_breakdown),
        cmocka_unit_test(failover_should_report_regions_within_each_group),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
