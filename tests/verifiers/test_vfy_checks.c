/*
 * Hand-written histories for every verifier with exact expected numbers,
 * including the histories that must fail: a write ok during read-only, a
 * lost write 1 s beyond the window, a class that never recovers, an info
 * write that is absent and must not count.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "faultline/err.h"
#include "faultline/verify.h"
#include "vfy_testlib.h"

/*
 * Key-vault outage: fault f1 applied [10000, 10050] ms, healed [40000, 40020].
 * Client 1 reads (get-secret, 10 ms each, every 100 ms): ok via west before
 * the fault, failing from 10100, one lucky success at 12000, ok via north from
 * 15000. Client 2 writes (set-secret, offset 50): ok before 10000, refused
 * during the fault, ok again from 42050.
 */
static void build_kv(struct hist *h, struct hist_faults *fs, bool write_during_ro,
                     bool reads_recover)
{
    int64_t t;
    uint64_t v = 1;

    assert_int_equal(hist_init(h), 0);
    memset(fs, 0, sizeof(*fs));
    tl_fault(fs, "f1", 10000, 10050, 40000, 40020);
    for (t = 0; t < 60000; t += 100) {
        int out = HIST_OK;
        const char *reg = t < 10000 ? "west" : "north";

        if (t >= 10000 && t < 15000 && t != 12000)
            out = HIST_FAIL;
        if (!reads_recover && t >= 10000)
            out = HIST_FAIL;
        tl_op(h, 1, "get-secret", false, "s1", 0, reg, t, t + 10, out);
    }
    for (t = 50; t < 60000; t += 100) {
        int out = (t < 10000 || t >= 42000) ? HIST_OK : HIST_FAIL;

        if (write_during_ro && t == 20050)
            out = HIST_OK;
        tl_op(h, 2, "set-secret", true, "s1", v++, out == HIST_OK ? "north" : "", t, t + 10, out);
    }
    hist_sort(h);
}

static void kv_config(struct vfy_config *cfg)
{
    struct fl_err e;
    json_t *j = json_loads("{\"failover\":{\"max\":\"180s\"},"
                           "\"read_only\":{\"allowed\":[\"get-secret\",\"list-secrets\"]},"
                           "\"failback\":{\"max\":\"60s\",\"writes\":\"required\"}}",
                           0, NULL);

    assert_non_null(j);
    vfy_config_init_defaults(cfg);
    fl_err_clear(&e);
    assert_int_equal(vfy_config_from_json(j, cfg, &e), 0);
    json_decref(j);
}

static void failover_should_measure_rto_from_apply_done_to_sustained_success(void **state)
{
    struct hist h;
    struct hist_faults fs;
    struct vfy_config cfg;
    struct vfy_result r;

    build_kv(&h, &fs, false, true);
    kv_config(&cfg);
    assert_int_equal(vfy_failover_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_true(r.pass);
    /* first ok read invoked after 10050 that is followed by sustained success:
     * the lucky one at 12000 is followed by 20 failures in 2 s, so 15000 -> 15010 */
    assert_int_equal((int)tl_num(r.measured, "rto_ms.get-secret"), 15010 - 10050);
    assert_int_equal((int)tl_num(r.measured, "rto_ms.read"), 4960);
    assert_int_equal((int)tl_num(r.measured, "faults.0.first_ok_ms.read"), 12010 - 10050);
    assert_int_equal((int)tl_num(r.measured, "faults.0.rto_ms_by_region.read.north"), 4960);
    assert_int_equal((int)tl_num(r.measured, "faults.0.anchor_uncertainty_ms"), 50);
    /* writes are refused in read-only mode: excluded, not failed */
    assert_string_equal(json_string_value(tl_get(r.measured, "faults.0.excluded_read_only.0")),
                        "write");
    assert_null(tl_get(r.measured, "rto_ms.write"));
    assert_string_equal(json_string_value(tl_get(r.measured, "anchor")), "apply_done_ns");
    assert_non_null(strstr(r.detail, "apply_done"));
    vfy_result_free(&r);

    /* bound below the measured value must fail and name the record */
    cfg.failover.max_ns = 4 * 1000 * MS;
    assert_int_equal(vfy_failover_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_false(r.pass);
    assert_non_null(strstr(r.detail, "over the bound 4s"));
    vfy_result_free(&r);

    /* apply_sent anchor: 50 ms longer */
    cfg.failover.max_ns = VFY_UNBOUNDED;
    cfg.failover.anchor = VFY_ANCHOR_SENT;
    assert_int_equal(vfy_failover_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_int_equal((int)tl_num(r.measured, "rto_ms.read"), 5010);
    vfy_result_free(&r);

    /* a ratio of 0 makes the lucky success count */
    cfg.failover.anchor = VFY_ANCHOR_DONE;
    cfg.failover.sustain.min_ratio = 0.0;
    assert_int_equal(vfy_failover_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_int_equal((int)tl_num(r.measured, "rto_ms.read"), 1960);
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

static void failover_should_fail_plainly_when_a_class_never_recovers(void **state)
{
    struct hist h;
    struct hist_faults fs;
    struct vfy_config cfg;
    struct vfy_result r;

    build_kv(&h, &fs, false, false);
    fs.f[0].heal_sent_ns = fs.f[0].heal_done_ns = 0; /* never healed */
    kv_config(&cfg);
    assert_int_equal(vfy_failover_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_false(r.pass);
    assert_true(tl_is_null(r.measured, "rto_ms.get-secret"));
    assert_true(tl_is_null(r.measured, "rto_ms.read"));
    assert_non_null(strstr(r.detail, "get-secret never recovered"));
    assert_int_equal((int)tl_num(r.measured, "faults.0.attempts.read.total"), 499);
    assert_int_equal((int)tl_num(r.measured, "faults.0.attempts.read.ok"), 0);
    vfy_result_free(&r);

    /* healed at 40000 but reads never came back before it: still a failure */
    fs.f[0].heal_sent_ns = 40000 * MS;
    fs.f[0].heal_done_ns = 40020 * MS;
    assert_int_equal(vfy_failover_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_false(r.pass);
    assert_non_null(strstr(r.detail, "did not recover before the fault was healed"));
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

static void failback_should_require_writes_within_max(void **state)
{
    struct hist h;
    struct hist_faults fs;
    struct vfy_config cfg;
    struct vfy_result r;

    build_kv(&h, &fs, false, true);
    kv_config(&cfg);
    assert_int_equal(vfy_failback_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_true(r.pass);
    /* first write invoked after heal_done 40020 that succeeds: 42050 -> 42060 */
    assert_int_equal((int)tl_num(r.measured, "rto_ms.write"), 42060 - 40020);
    assert_int_equal((int)tl_num(r.measured, "rto_ms.set-secret"), 2040);
    assert_int_equal((int)tl_num(r.measured, "rto_ms.read"), 40110 - 40020);
    vfy_result_free(&r);

    cfg.failback.max_ns = 2000 * MS;
    assert_int_equal(vfy_failback_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_false(r.pass);
    assert_non_null(strstr(r.detail, "write took 2.04s"));
    vfy_result_free(&r);

    /* writes optional: measured, not required */
    cfg.failback.writes_required = false;
    assert_int_equal(vfy_failback_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_true(r.pass);
    assert_int_equal((int)tl_num(r.measured, "faults.0.measured_only.write"), 2040);
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

static void read_only_should_pass_a_clean_failover(void **state)
{
    struct hist h;
    struct hist_faults fs;
    struct vfy_config cfg;
    struct vfy_result r;

    build_kv(&h, &fs, false, true);
    kv_config(&cfg);
    cfg.read_only.grace_ns = 3000 * MS;
    assert_int_equal(vfy_read_only_check(&h, &fs, &cfg, &r, NULL), 0);
    /* read-only starts at the first op served after 10050: the read at 12000;
     * it ends at heal_sent 40000. Reads 12000..39900 except 12100..14900. */
    assert_int_equal((int)tl_num(r.measured, "faults.0.read_only_start_ms"), 12000 - 10050);
    assert_int_equal((int)tl_num(r.measured, "faults.0.period_ms"), 28000);
    assert_int_equal((int)tl_num(r.measured, "faults.0.counts.allowed.served"), 1 + 250);
    assert_int_equal((int)tl_num(r.measured, "faults.0.counts.allowed.failed_in_grace"), 29);
    assert_int_equal((int)tl_num(r.measured, "faults.0.counts.others.refused"), 280);
    assert_int_equal((int)tl_num(r.measured, "writes_accepted"), 0);
    assert_true(r.pass);
    vfy_result_free(&r);

    /* with no grace, the 29 failed reads after the start are violations */
    cfg.read_only.grace_ns = 0;
    assert_int_equal(vfy_read_only_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_false(r.pass);
    assert_int_equal((int)tl_num(r.measured, "allowed_not_served"), 29);
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

/*
 * A timed-out allowed read (a client probing its isolated preferred region)
 * is unknown, not a refusal: counted, never a violation. A refused one after
 * the grace still is.
 */
static void read_only_should_count_unknown_reads_but_not_fail_on_them(void **state)
{
    struct hist h;
    struct hist_faults fs;
    struct vfy_config cfg;
    struct vfy_result r;

    build_kv(&h, &fs, false, true);
    tl_op(&h, 3, "get-secret", false, "s1", 0, "west", 20000, 20500, HIST_INFO);
    tl_op(&h, 3, "get-secret", false, "s1", 0, "west", 25000, 25500, HIST_INFO);
    hist_sort(&h);
    kv_config(&cfg);
    cfg.read_only.grace_ns = 3000 * MS;
    assert_int_equal(vfy_read_only_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_true(r.pass);
    assert_int_equal((int)tl_num(r.measured, "faults.0.counts.allowed.unknown"), 2);
    assert_int_equal((int)tl_num(r.measured, "allowed_not_served"), 0);
    vfy_result_free(&r);
    /* The same reads refused instead: violations. */
    hist_free(&h);
    hist_faults_free(&fs);
    build_kv(&h, &fs, false, true);
    tl_op(&h, 3, "get-secret", false, "s1", 0, "north", 20000, 20010, HIST_FAIL);
    hist_sort(&h);
    assert_int_equal(vfy_read_only_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_false(r.pass);
    assert_int_equal((int)tl_num(r.measured, "allowed_not_served"), 1);
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

/*
 * A secondary that refuses reads too serves nothing at all: once the fault
 * outlasts failover.max, read-only mode was due, and refused allowed reads
 * are violations (not a vacuous pass).
 */
static void read_only_should_fail_when_nothing_is_served_past_the_failover_bound(void **state)
{
    struct hist h;
    struct hist_faults fs;
    struct vfy_config cfg;
    struct vfy_result r;

    build_kv(&h, &fs, false, false); /* reads refused from the fault on */
    kv_config(&cfg);
    cfg.read_only.grace_ns = 0;
    /* failover.max 180s > the 30 s fault: nothing could be expected yet, so
     * nothing was judged: inconclusive, never a pass */
    assert_int_equal(vfy_read_only_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_false(r.pass);
    assert_int_equal(r.status, VFY_INCONCLUSIVE);
    assert_non_null(strstr(r.detail, "no read-only period was observed"));
    vfy_result_free(&r);
    /* failover.max 5s: read-only was due at 5 s; the refused reads after it fail */
    cfg.failover.max_ns = 5000 * MS;
    assert_int_equal(vfy_read_only_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_false(r.pass);
    assert_int_equal((int)tl_num(r.measured, "faults.0.read_only_start_ms"), 5000);
    /* reads every 100 ms from 15100 (after R = 10050 + 5000) to 39900 (before heal_sent) */
    assert_int_equal((int)tl_num(r.measured, "allowed_not_served"), 249);
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

static void read_only_should_fail_on_a_write_ok_during_read_only(void **state)
{
    struct hist h;
    struct hist_faults fs;
    struct vfy_config cfg;
    struct vfy_result r;
    size_t i, rec = 0;

    build_kv(&h, &fs, true, true);
    for (i = 0; i < h.n; i++) {
        if (h.ops[i].invoke_ns == 20050 * MS)
            rec = i;
    }
    kv_config(&cfg);
    cfg.read_only.grace_ns = 3000 * MS;
    assert_int_equal(vfy_read_only_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_false(r.pass);
    assert_int_equal((int)tl_num(r.measured, "writes_accepted"), 1);
    assert_int_equal((int)tl_num(r.measured, "faults.0.accepted.0.record"), (int)rec);
    assert_string_equal(json_string_value(tl_get(r.measured, "faults.0.accepted.0.op")),
                        "set-secret");
    assert_non_null(strstr(r.detail, "accepted while read-only"));
    assert_non_null(strstr(r.detail, "set-secret s1"));
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

/*
 * Data loss around fault f1 applied [100000, 100010], healed [130000, 130010].
 */
static void build_loss(struct hist *h, struct hist_faults *fs, size_t *w2, size_t *w3)
{
    assert_int_equal(hist_init(h), 0);
    memset(fs, 0, sizeof(*fs));
    tl_fault(fs, "f1", 100000, 100010, 130000, 130010);
    /* a: final is W1: W2 and W3 are lost */
    tl_op(h, 1, "put", true, "a", 1, "west", 90000, 90010, HIST_OK);
    *w2 = tl_op(h, 1, "put", true, "a", 2, "west", 93000, 93010, HIST_OK);
    *w3 = tl_op(h, 1, "put", true, "a", 3, "west", 99000, 99010, HIST_OK);
    /* b: an absent info write does not count */
    tl_op(h, 2, "put", true, "b", 10, "west", 95000, 95010, HIST_OK);
    tl_op(h, 2, "put", true, "b", 11, "west", 99500, 100500, HIST_INFO);
    /* c: concurrent with the final writer: conservative, not lost */
    tl_op(h, 3, "put", true, "c", 20, "west", 98000, 98500, HIST_OK);
    tl_op(h, 4, "put", true, "c", 21, "west", 98100, 98200, HIST_OK);
    /* d: superseded by a later write that is final */
    tl_op(h, 5, "put", true, "d", 30, "west", 97000, 97010, HIST_OK);
    tl_op(h, 5, "put", true, "d", 31, "west", 97100, 97110, HIST_OK);
    /* e: deleted after the write */
    tl_op(h, 6, "put", true, "e", 40, "west", 96000, 96010, HIST_OK);
    tl_op(h, 6, "delete", true, "e", 0, "west", 96100, 96110, HIST_OK);
    /* f: no final read */
    tl_op(h, 7, "put", true, "f", 50, "west", 96000, 96010, HIST_OK);
    /* a failed write is never lost */
    tl_op(h, 8, "put", true, "d", 32, "west", 99000, 99010, HIST_FAIL);
    tl_final(h, "a", 1, 140000);
    tl_final(h, "b", 10, 140000);
    tl_final(h, "c", 20, 140000);
    tl_final(h, "d", 31, 140000);
    tl_final(h, "e", 0, 140000);
    /* left unsorted on purpose: record numbers are those of the caller's history */
}

static void data_loss_should_count_lost_writes_and_their_window(void **state)
{
    struct hist h;
    struct hist_faults fs;
    struct vfy_config cfg;
    struct vfy_result r;
    size_t w2, w3;

    build_loss(&h, &fs, &w2, &w3);
    vfy_config_init_defaults(&cfg);
    cfg.data_loss.enabled = true;
    cfg.data_loss.max_updates = 2;
    cfg.data_loss.max_window_ns = 6990 * MS; /* exactly the window: inclusive */
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_true(r.pass);
    assert_int_equal((int)tl_num(r.measured, "lost_updates"), 2);
    assert_int_equal((int)tl_num(r.measured, "window_ms"), 100000 - 93010);
    assert_int_equal((int)tl_num(r.measured, "faults.0.earliest.record"), (int)w2);
    assert_int_equal((int)tl_num(r.measured, "faults.0.latest.record"), (int)w3);
    assert_int_equal((int)tl_num(r.measured, "faults.0.latest.before_fault_ms"), 990);
    assert_int_equal((int)tl_num(r.measured, "info_writes_absent"), 1);
    assert_int_equal((int)tl_num(r.measured, "checked_writes"), 10);
    assert_int_equal((int)tl_num(r.measured, "unchecked_writes"), 1);
    assert_int_equal((int)tl_num(r.measured, "keys_checked"), 5);
    vfy_result_free(&r);

    /* the lost write reaches 1 s beyond the window: must fail */
    cfg.data_loss.max_window_ns = 5990 * MS;
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_false(r.pass);
    assert_non_null(strstr(r.detail, "over max_window 5.99s"));
    vfy_result_free(&r);

    /* strong consistency: nothing may be lost */
    assert_int_equal(vfy_data_loss_preset(&cfg.data_loss, "strong", NULL), 0);
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_false(r.pass);
    assert_non_null(strstr(r.detail, "over max_updates 0"));
    vfy_result_free(&r);

    /* eventual: 15 minutes, any count */
    assert_int_equal(vfy_data_loss_preset(&cfg.data_loss, "eventual", NULL), 0);
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_true(r.pass);
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

static void data_loss_should_not_count_an_absent_info_write(void **state)
{
    struct hist h;
    struct hist_faults fs = {0};
    struct vfy_config cfg;
    struct vfy_result r;

    assert_int_equal(hist_init(&h), 0);
    tl_fault(&fs, "f1", 1000, 1000, 2000, 2000);
    tl_op(&h, 1, "put", true, "k", 1, "west", 100, 110, HIST_OK);
    tl_op(&h, 1, "put", true, "k", 2, "west", 900, 1500, HIST_INFO);
    tl_final(&h, "k", 1, 3000);
    vfy_config_init_defaults(&cfg);
    assert_int_equal(vfy_data_loss_preset(&cfg.data_loss, "strong", NULL), 0);
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_true(r.pass);
    assert_int_equal((int)tl_num(r.measured, "lost_updates"), 0);
    assert_int_equal((int)tl_num(r.measured, "info_writes_absent"), 1);
    vfy_result_free(&r);

    /* and an info write that is present is no violation either */
    h.ops[2].value = 2;
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_true(r.pass);
    assert_int_equal((int)tl_num(r.measured, "info_writes_absent"), 0);
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

/*
 * A write the client gave up on (info) may take effect at any time after its
 * invocation, even long after the client's timeout: a request sent into a
 * cut is retransmitted by the client's kernel and applied after the heal.
 * When its value is final, the ok writes between its timeout and the heal
 * may have been overwritten by it: not lost. The same history with that
 * write ok (it took effect before its answer) loses both.
 */
static void data_loss_should_not_count_writes_a_late_info_write_may_have_overwritten(void **state)
{
    struct hist h;
    struct hist_faults fs = {0};
    struct vfy_config cfg;
    struct vfy_result r;

    assert_int_equal(hist_init(&h), 0);
    tl_fault(&fs, "f1", 1000, 1000, 11000, 11000);
    tl_op(&h, 1, "put", true, "k", 1, "west", 100, 110, HIST_OK);
    tl_op(&h, 2, "put", true, "k", 5, "west", 1005, 2005, HIST_INFO);
    tl_op(&h, 3, "put", true, "k", 2, "north", 4000, 4010, HIST_OK);
    tl_op(&h, 3, "put", true, "k", 3, "north", 8000, 8010, HIST_OK);
    tl_final(&h, "k", 5, 15000);
    vfy_config_init_defaults(&cfg);
    assert_int_equal(vfy_data_loss_preset(&cfg.data_loss, "session", NULL), 0);
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_true(r.pass);
    assert_int_equal((int)tl_num(r.measured, "lost_updates"), 0);
    vfy_result_free(&r);

    h.ops[1].outcome = HIST_OK;
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_false(r.pass);
    assert_int_equal((int)tl_num(r.measured, "lost_updates"), 2);
    assert_int_equal((int)tl_num(r.measured, "lost_after"), 2);
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

static void data_loss_should_fail_any_loss_without_a_fault(void **state)
{
    struct hist h;
    struct vfy_config cfg;
    struct vfy_result r;

    assert_int_equal(hist_init(&h), 0);
    tl_op(&h, 1, "put", true, "k", 1, "west", 100, 110, HIST_OK);
    tl_op(&h, 1, "put", true, "k", 2, "west", 200, 210, HIST_OK);
    tl_final(&h, "k", 1, 3000);
    vfy_config_init_defaults(&cfg);
    assert_int_equal(vfy_data_loss_preset(&cfg.data_loss, "eventual", NULL), 0);
    assert_int_equal(vfy_data_loss_check(&h, NULL, &cfg, &r, NULL), 0);
    assert_false(r.pass);
    assert_int_equal((int)tl_num(r.measured, "lost_updates"), 1);
    assert_non_null(strstr(r.detail, "no loss is acceptable without an outage"));
    vfy_result_free(&r);
    hist_free(&h);
}

static void build_stale(struct hist *h, size_t *first_stale, size_t *ryw_read)
{
    assert_int_equal(hist_init(h), 0);
    tl_op(h, 1, "put", true, "k", 1, "west", 0, 10, HIST_OK);
    tl_op(h, 1, "put", true, "k", 2, "west", 100, 110, HIST_OK);
    tl_op(h, 1, "put", true, "k", 3, "west", 200, 210, HIST_OK);
    tl_op(h, 1, "put", true, "k", 4, "west", 300, 310, HIST_OK);
    *first_stale = tl_op(h, 2, "get", false, "k", 2, "north", 350, 360, HIST_OK); /* 2 behind */
    tl_op(h, 2, "get", false, "k", 4, "north", 400, 410, HIST_OK);                /* fresh */
    tl_op(h, 2, "get", false, "k", 3, "north", 500, 510, HIST_OK); /* 1 behind, goes back */
    *ryw_read = tl_op(h, 1, "get", false, "k", 3, "north", 600, 610, HIST_OK); /* misses own 4 */
    tl_op(h, 1, "put", true, "k", 5, "west", 700, 5000, HIST_INFO);
    tl_op(h, 2, "get", false, "k", 5, "north", 800, 810, HIST_OK);  /* info value: not judged */
    tl_op(h, 3, "get", false, "k", 77, "north", 900, 910, HIST_OK); /* nobody wrote 77 */
}

/*
 * A list-style read returns no value: judged as a point read it "misses" the
 * client's own write. ops: [get] leaves it out.
 */
static void staleness_should_judge_only_the_listed_point_reads(void **state)
{
    struct hist h;
    struct vfy_config cfg;
    struct vfy_result r;

    assert_int_equal(hist_init(&h), 0);
    tl_op(&h, 1, "put", true, "k", 7, "west", 100, 110, HIST_OK);
    tl_op(&h, 1, "get", false, "k", 7, "west", 200, 210, HIST_OK);
    tl_op(&h, 1, "query", false, "k", 0, "west", 300, 310, HIST_OK);
    hist_sort(&h);
    vfy_config_init_defaults(&cfg);
    cfg.staleness.enabled = true;
    cfg.staleness.read_your_writes = true;
    assert_int_equal(vfy_staleness_check(&h, NULL, &cfg, &r, NULL), 0);
    assert_false(r.pass); /* the query looks like a read that missed the write */
    assert_int_equal((int)tl_num(r.measured, "read_your_writes_violations"), 1);
    vfy_result_free(&r);
    snprintf(cfg.staleness.ops.name[0], VFY_NAME_LEN, "get");
    cfg.staleness.ops.n = 1;
    assert_int_equal(vfy_staleness_check(&h, NULL, &cfg, &r, NULL), 0);
    assert_true(r.pass);
    assert_int_equal((int)tl_num(r.measured, "reads_checked"), 1);
    vfy_result_free(&r);
    hist_free(&h);
}

static void staleness_should_measure_versions_and_time_behind(void **state)
{
    struct hist h;
    struct vfy_config cfg;
    struct vfy_result r;
    size_t first, ryw;

    build_stale(&h, &first, &ryw);
    vfy_config_init_defaults(&cfg);
    cfg.staleness.enabled = true;
    assert_int_equal(vfy_staleness_check(&h, NULL, &cfg, &r, NULL), 0);
    assert_true(r.pass); /* no bounds, no session guarantees required */
    assert_int_equal((int)tl_num(r.measured, "reads_checked"), 6);
    assert_int_equal((int)tl_num(r.measured, "stale_reads"), 3);
    assert_int_equal((int)tl_num(r.measured, "max_versions_behind"), 2);
    assert_int_equal((int)tl_num(r.measured, "max_lag_ms"), 600 - 310);
    assert_int_equal((int)tl_num(r.measured, "read_your_writes_violations"), 1);
    assert_int_equal((int)tl_num(r.measured, "monotonic_reads_violations"), 1);
    assert_int_equal((int)tl_num(r.measured, "unknown_values"), 1);
    vfy_result_free(&r);

    /* bounded staleness K = 1: the read 2 versions behind fails */
    cfg.staleness.max_versions = 1;
    assert_int_equal(vfy_staleness_check(&h, NULL, &cfg, &r, NULL), 0);
    assert_false(r.pass);
    assert_int_equal((int)tl_num(r.measured, "over_bound"), 1);
    assert_int_equal((int)tl_num(r.measured, "over_bound_records.0.record"), (int)first);
    vfy_result_free(&r);

    /* T = 200 ms: only the 290 ms read is over */
    cfg.staleness.max_versions = VFY_UNBOUNDED;
    cfg.staleness.max_lag_ns = 200 * MS;
    assert_int_equal(vfy_staleness_check(&h, NULL, &cfg, &r, NULL), 0);
    assert_false(r.pass);
    assert_int_equal((int)tl_num(r.measured, "over_bound"), 1);
    assert_int_equal((int)tl_num(r.measured, "over_bound_records.0.record"), (int)ryw);
    vfy_result_free(&r);

    /* session guarantees */
    cfg.staleness.max_lag_ns = VFY_UNBOUNDED;
    cfg.staleness.read_your_writes = true;
    assert_int_equal(vfy_staleness_check(&h, NULL, &cfg, &r, NULL), 0);
    assert_false(r.pass);
    assert_int_equal((int)tl_num(r.measured, "read_your_writes_records.0.record"), (int)ryw);
    assert_non_null(strstr(r.detail, "missed the client's own earlier write"));
    vfy_result_free(&r);
    cfg.staleness.read_your_writes = false;
    cfg.staleness.monotonic_reads = true;
    assert_int_equal(vfy_staleness_check(&h, NULL, &cfg, &r, NULL), 0);
    assert_false(r.pass);
    assert_non_null(strstr(r.detail, "went back in time"));
    vfy_result_free(&r);
    hist_free(&h);
}

static void availability_should_report_ratios_per_phase_against_floors(void **state)
{
    struct hist h;
    struct hist_faults fs = {0};
    struct vfy_config cfg;
    struct vfy_result r;
    struct fl_err e;
    json_t *j;
    int i;

    assert_int_equal(hist_init(&h), 0);
    tl_fault(&fs, "f1", 1000, 1010, 2000, 2010);
    for (i = 0; i < 10; i++)
        tl_op(&h, 1, "get", false, "k", 0, "west", 100 + 10 * i, 101 + 10 * i, HIST_OK);
    tl_op(&h, 1, "get", false, "k", 0, "west", 1005, 1006, HIST_FAIL); /* while applying */
    for (i = 0; i < 10; i++)
        tl_op(&h, 1, "get", false, "k", 0, "west", 1100 + 10 * i, 1101 + 10 * i,
              i < 3   ? HIST_FAIL
              : i < 4 ? HIST_INFO
                      : HIST_OK);
    for (i = 0; i < 10; i++)
        tl_op(&h, 1, "get", false, "k", 0, "west", 2100 + 10 * i, 2101 + 10 * i, HIST_OK);
    tl_op(&h, 2, "put", true, "k", 1, "west", 1500, 1510, HIST_FAIL);
    vfy_config_init_defaults(&cfg);
    j = json_loads("{\"availability\":{\"floors\":{\"read\":{\"during\":0.7},\"put\":0.5}}}", 0,
                   NULL);
    fl_err_clear(&e);
    assert_int_equal(vfy_config_from_json(j, &cfg, &e), 0);
    json_decref(j);
    assert_int_equal(vfy_availability_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_false(r.pass);
    assert_int_equal((int)tl_num(r.measured, "faults.0.during.read.total"), 10);
    assert_int_equal((int)tl_num(r.measured, "faults.0.during.read.ok"), 6);
    assert_int_equal((int)tl_num(r.measured, "faults.0.before.read.ok"), 10);
    assert_int_equal((int)tl_num(r.measured, "faults.0.after.get.total"), 10);
    assert_int_equal((int)tl_num(r.measured, "excluded_uncertain"), 1);
    assert_int_equal((int)tl_num(r.measured, "below_floor"), 2); /* read during, put during */
    assert_non_null(strstr(r.detail, "read 0.6000"));
    vfy_result_free(&r);

    cfg.availability.floors[0].min_ratio = 0.6;
    cfg.availability.floors[1].min_ratio = 0.0;
    assert_int_equal(vfy_availability_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_true(r.pass);
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

static void run_all_should_run_enabled_verifiers_and_conjoin(void **state)
{
    struct hist h;
    struct hist_faults fs;
    struct vfy_config cfg;
    struct vfy_results rs = {0};
    json_t *j;

    build_kv(&h, &fs, true, true);
    kv_config(&cfg);
    assert_int_equal(vfy_run_all(&h, &fs, &cfg, &rs, NULL), 0);
    assert_int_equal(rs.n, 3);
    assert_string_equal(rs.r[0].name, "failover");
    assert_string_equal(rs.r[1].name, "failback");
    assert_string_equal(rs.r[2].name, "read_only");
    assert_true(vfy_results_find(&rs, "failover")->pass);
    assert_false(vfy_results_find(&rs, "read_only")->pass);
    assert_false(vfy_results_pass(&rs));
    j = vfy_results_to_json(&rs);
    assert_non_null(j);
    assert_int_equal(json_array_size(j), 3);
    assert_true(json_is_false(json_object_get(json_array_get(j, 2), "pass")));
    assert_non_null(json_object_get(json_array_get(j, 0), "measured"));
    json_decref(j);
    vfy_results_free(&rs);

    /* no faults: fault-bound verifiers are inconclusive, not failed, and the
     * run does not pass unless allow_inconclusive names them */
    fs.n = 0;
    assert_int_equal(vfy_run_all(&h, &fs, &cfg, &rs, NULL), 0);
    assert_true(rs.r[0].skipped);
    assert_int_equal(rs.r[0].status, VFY_INCONCLUSIVE);
    assert_false(vfy_results_pass(&rs));
    assert_string_equal(vfy_results_verdict(&rs), "inconclusive");
    vfy_results_free(&rs);
    cfg.allow_inconclusive.n = 3;
    strcpy(cfg.allow_inconclusive.name[0], "failover");
    strcpy(cfg.allow_inconclusive.name[1], "failback");
    strcpy(cfg.allow_inconclusive.name[2], "read_only");
    assert_int_equal(vfy_run_all(&h, &fs, &cfg, &rs, NULL), 0);
    assert_true(rs.r[0].allowed);
    assert_true(vfy_results_pass(&rs));
    assert_string_equal(vfy_results_verdict(&rs), "pass");
    vfy_results_free(&rs);
    hist_free(&h);
    hist_faults_free(&fs);
}

static void multi_fault_should_be_judged_per_fault(void **state)
{
    struct hist h;
    struct hist_faults fs = {0};
    struct vfy_config cfg;
    struct vfy_result r;
    int64_t t;

    /* f1 [1000, 5000): reads back at 2000. f2 [10000, 20000): back at 16000. */
    assert_int_equal(hist_init(&h), 0);
    tl_fault(&fs, "f2", 10000, 10000, 20000, 20000);
    tl_fault(&fs, "f1", 1000, 1000, 5000, 5000);
    for (t = 0; t < 25000; t += 100) {
        bool down = (t >= 1000 && t < 2000) || (t >= 10000 && t < 16000);

        tl_op(&h, 1, "get", false, "k", 0, "north", t, t + 5, down ? HIST_FAIL : HIST_OK);
    }
    vfy_config_init_defaults(&cfg);
    cfg.failover.enabled = true;
    cfg.failover.max_ns = 5000 * MS;
    assert_int_equal(vfy_failover_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_false(r.pass); /* f2 took 6005 ms */
    assert_string_equal(json_string_value(tl_get(r.measured, "faults.0.id")), "f1");
    assert_int_equal((int)tl_num(r.measured, "faults.0.rto_ms.read"), 1005);
    assert_int_equal((int)tl_num(r.measured, "faults.1.rto_ms.read"), 6005);
    assert_int_equal((int)tl_num(r.measured, "rto_ms.read"), 6005); /* worst */
    assert_non_null(strstr(r.detail, "Fault f2: read took"));
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

static void config_should_parse_the_json_form_and_name_bad_keys(void **state)
{
    struct vfy_config cfg;
    struct fl_err e;
    json_t *j;

    vfy_config_init_defaults(&cfg);
    assert_false(cfg.failover.enabled);
    assert_int_equal(cfg.failover.sustain.window_ns, 2000 * MS);
    j = json_loads("{\"failover\":{\"max\":\"180s\",\"sustain\":{\"window\":\"5s\",\"ratio\":0.9},"
                   "\"anchor\":\"apply_sent\"},"
                   "\"failback\":{\"max\":\"60s\",\"writes\":\"required\"},"
                   "\"read_only\":{\"allowed\":[\"get-secret\",\"sign\"],\"grace\":\"2s\"},"
                   "\"data_loss\":{\"consistency\":\"bounded\",\"max_window\":\"1m\"},"
                   "\"staleness\":{\"consistency\":\"session\",\"max_versions\":10},"
                   "\"availability\":{\"floors\":{\"write\":{\"after\":0.99}}}}",
                   0, NULL);
    fl_err_clear(&e);
    assert_int_equal(vfy_config_from_json(j, &cfg, &e), 0);
    json_decref(j);
    assert_true(cfg.failover.enabled);
    assert_int_equal(cfg.failover.max_ns, 180000 * MS);
    assert_int_equal(cfg.failover.sustain.window_ns, 5000 * MS);
    assert_true(cfg.failover.anchor == VFY_ANCHOR_SENT);
    assert_true(cfg.failback.writes_required);
    assert_int_equal(cfg.read_only.allowed.n, 2);
    assert_string_equal(cfg.read_only.allowed.name[1], "sign");
    assert_int_equal(cfg.read_only.grace_ns, 2000 * MS);
    assert_int_equal(cfg.data_loss.max_updates, 100000);
    assert_int_equal(cfg.data_loss.max_window_ns, 60000 * MS); /* explicit beats preset */
    assert_true(cfg.staleness.read_your_writes && cfg.staleness.monotonic_reads);
    assert_int_equal(cfg.staleness.max_versions, 10);
    assert_int_equal(cfg.availability.nfloors, 1);
    assert_int_equal(cfg.availability.floors[0].phase, VFY_PHASE_AFTER);

    vfy_config_init_defaults(&cfg);
    j = json_loads("{\"failover\":{\"maxx\":\"1s\"}}", 0, NULL);
    fl_err_clear(&e);
    assert_int_equal(vfy_config_from_json(j, &cfg, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "failover.maxx: unknown key"));
    json_decref(j);
    j = json_loads("{\"data_loss\":{\"max_window\":\"5 minutes\"}}", 0, NULL);
    fl_err_clear(&e);
    assert_int_equal(vfy_config_from_json(j, &cfg, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "data_loss.max_window"));
    json_decref(j);
    j = json_loads("{\"data_loss\":\"linearizable\"}", 0, NULL);
    fl_err_clear(&e);
    assert_int_equal(vfy_config_from_json(j, &cfg, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "unknown consistency level 'linearizable'"));
    json_decref(j);
    j = json_loads("{\"avail\":{}}", 0, NULL);
    fl_err_clear(&e);
    assert_int_equal(vfy_config_from_json(j, &cfg, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "verify.avail: unknown verifier"));
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failover_should_measure_rto_from_apply_done_to_sustained_success),
        cmocka_unit_test(failover_should_fail_plainly_when_a_class_never_recovers),
        cmocka_unit_test(failback_should_require_writes_within_max),
        cmocka_unit_test(read_only_should_pass_a_clean_failover),
        cmocka_unit_test(read_only_should_fail_on_a_write_ok_during_read_only),
        cmocka_unit_test(read_only_should_count_unknown_reads_but_not_fail_on_them),
        cmocka_unit_test(read_only_should_fail_when_nothing_is_served_past_the_failover_bound),
        cmocka_unit_test(staleness_should_judge_only_the_listed_point_reads),
        cmocka_unit_test(data_loss_should_count_lost_writes_and_their_window),
        cmocka_unit_test(data_loss_should_not_count_an_absent_info_write),
        cmocka_unit_test(data_loss_should_not_count_writes_a_late_info_write_may_have_overwritten),
        cmocka_unit_test(data_loss_should_fail_any_loss_without_a_fault),
        cmocka_unit_test(staleness_should_measure_versions_and_time_behind),
        cmocka_unit_test(availability_should_report_ratios_per_phase_against_floors),
        cmocka_unit_test(run_all_should_run_enabled_verifiers_and_conjoin),
        cmocka_unit_test(multi_fault_should_be_judged_per_fault),
        cmocka_unit_test(config_should_parse_the_json_form_and_name_bad_keys),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
