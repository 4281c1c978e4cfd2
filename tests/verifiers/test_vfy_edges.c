/*
 * The edges of each verifier's rule, one small hand-written history each:
 * a bound met exactly (inclusive) and missed by the smallest step, the
 * interval ends (heal_sent, the next fault, the sustain window's last
 * instant, apply_sent for the side of a lost write), concurrency that the
 * rules resolve in favour of the service (a write concurrent with the
 * observed one, a client's own write concurrent with it, an earlier read
 * still in flight), and the paths that must not pass: failback with
 * `writes: required` and no write after the heal, failback when the fault
 * never healed, a named class that never appears, availability below its
 * floor. Each test states the expected verdict and the figures that decide
 * it; scripts/mutate.sh checks that these tests notice the plausible
 * mistakes at each edge.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "faultline/err.h"
#include "faultline/verify.h"
#include "vfy_testlib.h"

typedef int (*check_fn)(const struct hist *, const struct hist_faults *, const struct vfy_config *,
                        struct vfy_result *, struct fl_err *);

struct fixture {
    struct hist h;
    struct hist_faults fs;
    struct vfy_config cfg;
    struct vfy_result r;
};

static void fx_init(struct fixture *x)
{
    memset(x, 0, sizeof(*x));
    assert_int_equal(hist_init(&x->h), 0);
    vfy_config_init_defaults(&x->cfg);
}

/* Run one verifier into x->r (freeing an earlier result) and check its status. */
static void fx_check(struct fixture *x, check_fn fn, enum vfy_status want)
{
    struct fl_err e;

    vfy_result_free(&x->r);
    fl_err_clear(&e);
    if (fn(&x->h, &x->fs, &x->cfg, &x->r, &e) < 0)
        fail_msg("verifier: %s", e.msg);
    if (x->r.status != want)
        fail_msg("%s is %s, expected %s: %s", x->r.name, vfy_status_name(x->r.status),
                 vfy_status_name(want), x->r.detail ? x->r.detail : "");
    assert_int_equal(x->r.pass, want == VFY_PASS);
}

static void fx_free(struct fixture *x)
{
    vfy_result_free(&x->r);
    hist_free(&x->h);
    hist_faults_free(&x->fs);
}

static void assert_contains(const char *s, const char *want)
{
    if (s == NULL || strstr(s, want) == NULL)
        fail_msg("\"%s\" not in \"%s\"", want, s ? s : "(null)");
}

/* ---- failback ---- */

/*
 * One fault healed at 5000 ms. Before it a write and a read; after the heal
 * only reads (ok from 6000), and a write at 7000 when with_write.
 */
static void build_heal_reads_only(struct fixture *x, bool with_write)
{
    tl_fault(&x->fs, "f1", 1000, 1000, 5000, 5000);
    tl_op(&x->h, 1, "put", true, "k", 1, "west", 100, 110, HIST_OK);
    tl_op(&x->h, 2, "get", false, "k", 1, "west", 200, 210, HIST_OK);
    tl_op(&x->h, 2, "get", false, "k", 0, "", 1500, 1510, HIST_FAIL);
    tl_op(&x->h, 1, "put", true, "k", 2, "", 1600, 1610, HIST_FAIL);
    tl_op(&x->h, 2, "get", false, "k", 1, "west", 6000, 6010, HIST_OK);
    tl_op(&x->h, 2, "get", false, "k", 1, "west", 6100, 6110, HIST_OK);
    if (with_write)
        tl_op(&x->h, 1, "put", true, "k", 3, "west", 7000, 7010, HIST_OK);
}

static void
failback_with_writes_required_should_not_pass_without_a_write_after_the_heal(void **state)
{
    struct fixture x;

    fx_init(&x);
    build_heal_reads_only(&x, false);
    x.cfg.failback.enabled = true;
    x.cfg.failback.writes_required = true;
    fx_check(&x, vfy_failback_check, VFY_INCONCLUSIVE);
    assert_contains(x.r.reason, "writes: required, but no write was attempted after the heal");
    assert_int_equal(tl_num(x.r.measured, "heals_without_write"), 1);
    assert_int_equal(tl_num(x.r.measured, "faults.0.rto_ms.read"), 1010);
    /* writes optional: the reads recovered, nothing else was promised */
    x.cfg.failback.writes_required = false;
    fx_check(&x, vfy_failback_check, VFY_PASS);
    assert_null(tl_get(x.r.measured, "heals_without_write"));
    fx_free(&x);

    /* with a write after the heal, writes: required judges it */
    fx_init(&x);
    build_heal_reads_only(&x, true);
    x.cfg.failback.enabled = true;
    x.cfg.failback.writes_required = true;
    fx_check(&x, vfy_failback_check, VFY_PASS);
    assert_int_equal(tl_num(x.r.measured, "heals_without_write"), 0);
    assert_int_equal(tl_num(x.r.measured, "faults.0.rto_ms.write"), 2010);
    x.cfg.failback.max_ns = 2009 * MS; /* the write took 2010 ms: just over */
    fx_check(&x, vfy_failback_check, VFY_FAIL);
    x.cfg.failback.max_ns = 2010 * MS;
    fx_check(&x, vfy_failback_check, VFY_PASS);
    fx_free(&x);
}

/* f1 healed at 3000 ms, f2 applied at 8000 ms and never healed. */
static void failback_should_judge_healed_faults_and_skip_the_unhealed_one(void **state)
{
    struct fixture x;

    fx_init(&x);
    tl_fault(&x.fs, "f1", 1000, 1000, 3000, 3000);
    tl_fault(&x.fs, "f2", 8000, 8000, 0, 0);
    tl_op(&x.h, 1, "get", false, "k", 0, "west", 500, 510, HIST_OK);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 1500, 1510, HIST_FAIL);
    tl_op(&x.h, 1, "get", false, "k", 0, "west", 3500, 3510, HIST_OK);
    tl_op(&x.h, 1, "get", false, "k", 0, "west", 3600, 3610, HIST_OK);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 8500, 8510, HIST_FAIL);
    x.cfg.failback.enabled = true;
    fx_check(&x, vfy_failback_check, VFY_PASS);
    assert_int_equal(tl_num(x.r.measured, "faults.0.rto_ms.read"), 510);
    assert_string_equal(json_string_value(tl_get(x.r.measured, "faults.1.skipped")),
                        "never healed");
    assert_contains(x.r.detail, "Fault f2 was never healed: no failback to measure.");
    /* the unhealed fault does not hide a slow failback of the healed one */
    x.cfg.failback.max_ns = 509 * MS;
    fx_check(&x, vfy_failback_check, VFY_FAIL);
    fx_free(&x);

    /* only the unhealed fault: nothing to judge */
    fx_init(&x);
    tl_fault(&x.fs, "f1", 1000, 1000, 0, 0);
    tl_op(&x.h, 1, "get", false, "k", 0, "west", 500, 510, HIST_OK);
    tl_op(&x.h, 1, "get", false, "k", 0, "west", 9500, 9510, HIST_OK);
    x.cfg.failback.enabled = true;
    fx_check(&x, vfy_failback_check, VFY_INCONCLUSIVE);
    assert_contains(x.r.reason, "no fault was healed");
    fx_free(&x);
}

/* f1 healed at 2000; reads fail until f2 is applied at 5000 and only then succeed. */
static void failback_should_end_at_the_next_fault(void **state)
{
    struct fixture x;

    fx_init(&x);
    tl_fault(&x.fs, "f1", 1000, 1000, 2000, 2000);
    tl_fault(&x.fs, "f2", 5000, 5000, 9000, 9000);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 2500, 2510, HIST_FAIL);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 4000, 4010, HIST_FAIL);
    tl_op(&x.h, 1, "get", false, "k", 0, "north", 6000, 6010, HIST_OK);
    tl_op(&x.h, 1, "get", false, "k", 0, "west", 9500, 9510, HIST_OK);
    x.cfg.failback.enabled = true;
    fx_check(&x, vfy_failback_check, VFY_FAIL);
    assert_true(tl_is_null(x.r.measured, "faults.0.rto_ms.read"));
    assert_int_equal(tl_num(x.r.measured, "faults.0.searched_ms"), 3000);
    assert_int_equal(tl_num(x.r.measured, "faults.1.rto_ms.read"), 510);
    assert_contains(x.r.detail, "Fault f1: read did not recover before the next fault");
    fx_free(&x);
}

/* ---- failover ---- */

/*
 * Fault 1000..5000 ms. The one success before the heal (4900) is followed,
 * after heal_sent, by failures: the sustain window ends at heal_sent, so it
 * counts as recovery (what follows the heal is failback's business).
 */
static void failover_sustain_window_should_end_at_heal_sent(void **state)
{
    struct fixture x;

    fx_init(&x);
    tl_fault(&x.fs, "f1", 1000, 1000, 5000, 5000);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 1100, 1110, HIST_FAIL);
    tl_op(&x.h, 1, "get", false, "k", 0, "north", 4900, 4910, HIST_OK);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 5100, 5110, HIST_FAIL);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 5200, 5210, HIST_FAIL);
    tl_op(&x.h, 1, "get", false, "k", 0, "west", 6000, 6010, HIST_OK);
    x.cfg.failover.enabled = true;
    x.cfg.failover.max_ns = 3910 * MS; /* exactly the RTO: inclusive */
    fx_check(&x, vfy_failover_check, VFY_PASS);
    assert_int_equal(tl_num(x.r.measured, "rto_ms.read"), 3910);
    x.cfg.failover.max_ns = 3910 * MS - 1;
    fx_check(&x, vfy_failover_check, VFY_FAIL);
    assert_contains(x.r.detail, "read took 3.91s, over the bound");
    fx_free(&x);
}

/*
 * Sustain 2 s at 100 %: the success completing at 2010 is followed by a
 * failure invoked at 4009, the last millisecond of its window, so recovery
 * is the next success (4110), not the first.
 */
static void failover_sustain_window_should_include_its_last_instant(void **state)
{
    struct fixture x;

    fx_init(&x);
    tl_fault(&x.fs, "f1", 1000, 1000, 9000, 9000);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 1100, 1110, HIST_FAIL);
    tl_op(&x.h, 1, "get", false, "k", 0, "north", 2000, 2010, HIST_OK);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 4009, 4019, HIST_FAIL);
    tl_op(&x.h, 1, "get", false, "k", 0, "north", 4100, 4110, HIST_OK);
    x.cfg.failover.enabled = true;
    x.cfg.failover.sustain.min_ratio = 1.0;
    fx_check(&x, vfy_failover_check, VFY_PASS);
    assert_int_equal(tl_num(x.r.measured, "rto_ms.read"), 3110);
    assert_int_equal(tl_num(x.r.measured, "faults.0.first_ok_ms.read"), 1010);
    fx_free(&x);
}

static void failover_should_fail_a_named_class_that_never_appears(void **state)
{
    struct fixture x;

    fx_init(&x);
    tl_fault(&x.fs, "f1", 1000, 1000, 5000, 5000);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 1100, 1110, HIST_FAIL);
    tl_op(&x.h, 1, "get", false, "k", 0, "north", 2000, 2010, HIST_OK);
    x.cfg.failover.enabled = true;
    x.cfg.failover.classes.n = 2;
    strcpy(x.cfg.failover.classes.name[0], "get");
    strcpy(x.cfg.failover.classes.name[1], "delete");
    fx_check(&x, vfy_failover_check, VFY_FAIL);
    assert_true(tl_is_null(x.r.measured, "rto_ms.delete"));
    assert_int_equal(tl_num(x.r.measured, "rto_ms.get"), 1010);
    assert_contains(x.r.detail, "Class delete never appears in the history, so its failover "
                                "cannot be shown.");
    fx_free(&x);
}

static void
failover_should_be_inconclusive_when_nothing_was_attempted_during_the_fault(void **state)
{
    struct fixture x;

    fx_init(&x);
    tl_fault(&x.fs, "f1", 1000, 1000, 5000, 5000);
    tl_op(&x.h, 1, "get", false, "k", 0, "west", 500, 510, HIST_OK);
    tl_op(&x.h, 1, "get", false, "k", 0, "west", 6000, 6010, HIST_OK);
    x.cfg.failover.enabled = true;
    fx_check(&x, vfy_failover_check, VFY_INCONCLUSIVE);
    assert_string_equal(x.r.reason, "no checked class was attempted in the measured intervals");
    assert_string_equal(json_string_value(tl_get(x.r.measured, "faults.0.not_attempted.0")),
                        "read");
    fx_free(&x);
}

/* ---- read_only ---- */

/* Read-only from 2000 (first served), grace 1 s: a refusal at 2999 is tolerated, at 3000 not. */
static void read_only_grace_should_end_exactly_at_start_plus_grace(void **state)
{
    struct fixture x;

    fx_init(&x);
    tl_fault(&x.fs, "f1", 1000, 1000, 9000, 9000);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 1500, 1510, HIST_FAIL);
    tl_op(&x.h, 1, "get", false, "k", 0, "north", 2000, 2010, HIST_OK);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 2999, 3009, HIST_FAIL);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 3000, 3010, HIST_FAIL);
    tl_op(&x.h, 2, "put", true, "k", 7, "", 2500, 2510, HIST_INFO); /* unknown: no violation */
    tl_op(&x.h, 2, "put", true, "k", 8, "", 2600, 2610, HIST_FAIL);
    x.cfg.read_only.enabled = true;
    x.cfg.read_only.allowed.n = 1;
    strcpy(x.cfg.read_only.allowed.name[0], "get");
    x.cfg.read_only.grace_ns = 1000 * MS;
    fx_check(&x, vfy_read_only_check, VFY_FAIL);
    assert_int_equal(tl_num(x.r.measured, "allowed_not_served"), 1);
    assert_int_equal(tl_num(x.r.measured, "writes_accepted"), 0);
    assert_int_equal(tl_num(x.r.measured, "faults.0.counts.allowed.failed_in_grace"), 1);
    assert_int_equal(tl_num(x.r.measured, "faults.0.counts.others.unknown"), 1);
    assert_int_equal(tl_num(x.r.measured, "faults.0.counts.others.refused"), 1);
    assert_int_equal(tl_num(x.r.measured, "faults.0.not_served.0.record"), 3);
    /* one more millisecond of grace covers it */
    x.cfg.read_only.grace_ns = 1001 * MS;
    fx_check(&x, vfy_read_only_check, VFY_PASS);
    fx_free(&x);
}

/* ---- data_loss ---- */

/*
 * The final writer of 3 completed at 300 exactly when the write of 2 began:
 * not before it, so 2 is superseded, not lost. The write of 4 began after 3
 * was acknowledged and completed exactly at apply_sent: lost, before the fault.
 */
static void data_loss_edges_should_be_inclusive(void **state)
{
    struct fixture x;

    fx_init(&x);
    tl_fault(&x.fs, "f1", 1000, 1010, 3000, 3010);
    tl_op(&x.h, 1, "put", true, "k", 2, "west", 300, 400, HIST_OK);
    tl_op(&x.h, 2, "put", true, "k", 3, "west", 250, 300, HIST_OK);
    tl_op(&x.h, 2, "put", true, "k", 4, "west", 900, 1000, HIST_OK);
    tl_final(&x.h, "k", 3, 5000);
    x.cfg.data_loss.enabled = true;
    x.cfg.data_loss.max_updates = 1;
    x.cfg.data_loss.max_window_ns = 0;
    x.cfg.data_loss.max_after_ns = 0;
    fx_check(&x, vfy_data_loss_check, VFY_PASS);
    assert_int_equal(tl_num(x.r.measured, "lost_updates"), 1);
    assert_int_equal(tl_num(x.r.measured, "lost_before"), 1);
    assert_int_equal(tl_num(x.r.measured, "lost_after"), 0);
    assert_int_equal(tl_num(x.r.measured, "window_ms"), 0);
    assert_int_equal(tl_num(x.r.measured, "faults.0.earliest.record"), 2);
    assert_int_equal(tl_num(x.r.measured, "faults.0.earliest.before_fault_ms"), 0);
    x.cfg.data_loss.max_updates = 0;
    fx_check(&x, vfy_data_loss_check, VFY_FAIL);
    assert_contains(x.r.detail, "(over max_updates 0)");
    fx_free(&x);
}

/*
 * Two faults. A write lost completing at 1500 (f1 not healed yet) belongs to
 * f1, after its start; one completing at 3000 (f1 healed at 2000) to f2,
 * before its start.
 */
static void data_loss_should_attribute_each_loss_to_the_fault_in_effect(void **state)
{
    struct fixture x;

    fx_init(&x);
    tl_fault(&x.fs, "f1", 1000, 1000, 2000, 2000);
    tl_fault(&x.fs, "f2", 5000, 5000, 6000, 6000);
    tl_op(&x.h, 1, "put", true, "k", 1, "west", 100, 110, HIST_OK);
    tl_op(&x.h, 1, "put", true, "k", 2, "north", 1400, 1500, HIST_OK);
    tl_op(&x.h, 1, "put", true, "k", 3, "west", 2900, 3000, HIST_OK);
    tl_final(&x.h, "k", 1, 9000);
    x.cfg.data_loss.enabled = true;
    x.cfg.data_loss.max_updates = 1;
    x.cfg.data_loss.max_window_ns = 2000 * MS;
    x.cfg.data_loss.max_after_ns = 500 * MS;
    fx_check(&x, vfy_data_loss_check, VFY_PASS);
    assert_int_equal(tl_num(x.r.measured, "faults.0.lost_after"), 1);
    assert_int_equal(tl_num(x.r.measured, "faults.0.lost_before"), 0);
    assert_int_equal(tl_num(x.r.measured, "faults.0.window_after_ms"), 500);
    assert_int_equal(tl_num(x.r.measured, "faults.1.lost_before"), 1);
    assert_int_equal(tl_num(x.r.measured, "faults.1.lost_after"), 0);
    assert_int_equal(tl_num(x.r.measured, "faults.1.window_ms"), 2000);
    x.cfg.data_loss.max_after_ns = 499 * MS;
    fx_check(&x, vfy_data_loss_check, VFY_FAIL);
    assert_contains(x.r.detail, "(over max_after 499ms)");
    x.cfg.data_loss.max_after_ns = 500 * MS;
    x.cfg.data_loss.max_window_ns = 1999 * MS;
    fx_check(&x, vfy_data_loss_check, VFY_FAIL);
    assert_contains(x.r.detail, "(over max_window ");
    assert_int_equal(tl_num(x.r.bound, "max_window_ms"), 1999);
    assert_int_equal(tl_num(x.r.measured, "window_ms"), 2000);
    fx_free(&x);
}

/* ---- staleness ---- */

static void staleness_config(struct vfy_config *cfg)
{
    cfg->staleness.enabled = true;
    cfg->staleness.max_versions = 0;
    cfg->staleness.max_lag_ns = 0;
    cfg->staleness.read_your_writes = true;
    cfg->staleness.monotonic_reads = true;
}

/*
 * Reads that are not stale by the rule: a later write that began before the
 * observed one finished (concurrent, 1 ms before), a write acknowledged
 * exactly when the read began, a reader's own write concurrent with the
 * observed one, an earlier read of the same client still in flight.
 */
static void staleness_should_resolve_concurrency_in_favour_of_the_service(void **state)
{
    struct fixture x;

    /* concurrent with the observed write */
    fx_init(&x);
    staleness_config(&x.cfg);
    tl_op(&x.h, 1, "put", true, "k", 1, "west", 0, 100, HIST_OK);
    tl_op(&x.h, 2, "put", true, "k", 2, "west", 99, 150, HIST_OK);
    tl_op(&x.h, 3, "get", false, "k", 1, "west", 200, 210, HIST_OK);
    fx_check(&x, vfy_staleness_check, VFY_PASS);
    assert_int_equal(tl_num(x.r.measured, "stale_reads"), 0);
    fx_free(&x);

    /* acknowledged exactly when the read began */
    fx_init(&x);
    staleness_config(&x.cfg);
    tl_op(&x.h, 1, "put", true, "k", 1, "west", 0, 10, HIST_OK);
    tl_op(&x.h, 1, "put", true, "k", 2, "west", 20, 100, HIST_OK);
    tl_op(&x.h, 2, "get", false, "k", 1, "west", 100, 110, HIST_OK);
    fx_check(&x, vfy_staleness_check, VFY_PASS);
    assert_int_equal(tl_num(x.r.measured, "stale_reads"), 0);
    /* one millisecond later it is stale: 1 version, 1 ms behind */
    x.h.ops[2].invoke_ns = 101 * MS;
    x.h.ops[2].complete_ns = 111 * MS;
    fx_check(&x, vfy_staleness_check, VFY_FAIL);
    assert_int_equal(tl_num(x.r.measured, "stale_reads"), 1);
    assert_int_equal(tl_num(x.r.measured, "max_lag_ms"), 1);
    x.cfg.staleness.max_versions = 1;
    x.cfg.staleness.max_lag_ns = 1 * MS; /* both bounds met exactly */
    fx_check(&x, vfy_staleness_check, VFY_PASS);
    fx_free(&x);

    /* the reader's own write concurrent with the observed one */
    fx_init(&x);
    staleness_config(&x.cfg);
    tl_op(&x.h, 2, "put", true, "k", 1, "west", 0, 20, HIST_OK);
    tl_op(&x.h, 1, "put", true, "k", 2, "west", 10, 30, HIST_OK);
    tl_op(&x.h, 1, "get", false, "k", 1, "west", 40, 50, HIST_OK);
    fx_check(&x, vfy_staleness_check, VFY_PASS);
    assert_int_equal(tl_num(x.r.measured, "read_your_writes_violations"), 0);
    fx_free(&x);

    /* an earlier read of the same client still in flight */
    fx_init(&x);
    staleness_config(&x.cfg);
    tl_op(&x.h, 2, "put", true, "k", 1, "west", 0, 5, HIST_OK);
    tl_op(&x.h, 3, "put", true, "k", 2, "west", 20, 35, HIST_OK);
    tl_op(&x.h, 1, "get", false, "k", 2, "west", 10, 50, HIST_OK);
    tl_op(&x.h, 1, "get", false, "k", 1, "west", 30, 40, HIST_OK);
    fx_check(&x, vfy_staleness_check, VFY_PASS);
    assert_int_equal(tl_num(x.r.measured, "monotonic_reads_violations"), 0);
    /* once the first read has completed, the second goes back in time */
    x.h.ops[2].complete_ns = 29 * MS;
    fx_check(&x, vfy_staleness_check, VFY_FAIL);
    assert_int_equal(tl_num(x.r.measured, "monotonic_reads_violations"), 1);
    fx_free(&x);
}

/* A read of a refused write's value is not judged (and makes nothing stale). */
static void staleness_should_not_judge_a_read_of_a_refused_write(void **state)
{
    struct fixture x;

    fx_init(&x);
    staleness_config(&x.cfg);
    tl_op(&x.h, 1, "put", true, "k", 5, "west", 0, 10, HIST_FAIL);
    tl_op(&x.h, 1, "put", true, "k", 6, "west", 20, 30, HIST_OK);
    tl_op(&x.h, 2, "get", false, "k", 5, "west", 100, 110, HIST_OK);
    fx_check(&x, vfy_staleness_check, VFY_INCONCLUSIVE);
    assert_int_equal(tl_num(x.r.measured, "unjudged_reads"), 1);
    assert_int_equal(tl_num(x.r.measured, "stale_reads"), 0);
    fx_free(&x);
}

/* ---- availability ---- */

static void add_floor(struct vfy_config *cfg, const char *cls, int phase, double min)
{
    struct vfy_floor *f = &cfg->availability.floors[cfg->availability.nfloors++];

    snprintf(f->cls, sizeof(f->cls), "%s", cls);
    f->phase = phase;
    f->min_ratio = min;
    cfg->availability.enabled = true;
}

/*
 * Fault applied 1000..1010, healed 3000..3050: reads at 1005 and 3020 are in
 * no phase. During: 1 of 4 reads ok. Before: every read fails (a floor for
 * "during" does not look there).
 */
static void availability_should_fail_below_its_floor_and_only_in_its_phase(void **state)
{
    struct fixture x;

    fx_init(&x);
    tl_fault(&x.fs, "f1", 1000, 1010, 3000, 3050);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 100, 110, HIST_FAIL);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 200, 210, HIST_FAIL);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 1005, 1015, HIST_OK);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 1100, 1110, HIST_OK);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 1200, 1210, HIST_FAIL);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 1300, 1310, HIST_FAIL);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 1400, 1410, HIST_FAIL);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 3020, 3030, HIST_OK);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 3100, 3110, HIST_OK);
    add_floor(&x.cfg, "read", VFY_PHASE_DURING, 0.5);
    fx_check(&x, vfy_availability_check, VFY_FAIL);
    assert_int_equal(tl_num(x.r.measured, "below_floor"), 1);
    assert_int_equal(tl_num(x.r.measured, "excluded_uncertain"), 2);
    assert_int_equal(tl_num(x.r.measured, "faults.0.during.read.total"), 4);
    assert_int_equal(tl_num(x.r.measured, "faults.0.during.read.ok"), 1);
    assert_int_equal(tl_num(x.r.measured, "faults.0.after.read.total"), 1);
    assert_int_equal(tl_num(x.r.measured, "faults.0.before.read.ok"), 0);
    assert_contains(x.r.detail, "f1 during: read 0.2500 (1/4 ok) is below the floor 0.5000.");
    x.cfg.availability.floors[0].min_ratio = 0.25; /* exactly the ratio */
    fx_check(&x, vfy_availability_check, VFY_PASS);
    assert_int_equal(tl_num(x.r.measured, "below_floor"), 0);
    fx_free(&x);
}

/* A record between f1's heal and f2's apply is f1's "after" and f2's "before". */
static void availability_should_count_between_faults_on_both_sides(void **state)
{
    struct fixture x;

    fx_init(&x);
    tl_fault(&x.fs, "f1", 1000, 1000, 2000, 2000);
    tl_fault(&x.fs, "f2", 5000, 5000, 6000, 6000);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 2500, 2510, HIST_FAIL);
    tl_op(&x.h, 1, "get", false, "k", 0, "", 5500, 5510, HIST_OK);
    add_floor(&x.cfg, "read", VFY_PHASE_BEFORE, 0.5);
    fx_check(&x, vfy_availability_check, VFY_FAIL);
    assert_int_equal(tl_num(x.r.measured, "faults.0.after.read.total"), 1);
    assert_int_equal(tl_num(x.r.measured, "faults.1.before.read.total"), 1);
    assert_int_equal(tl_num(x.r.measured, "faults.1.during.read.ok"), 1);
    assert_contains(x.r.detail, "f2 before: read 0.0000 (0/1 ok)");
    fx_free(&x);
}

/* ---- linearizable ---- */

/*
 * An info write may take effect at any time after its invocation, even after
 * its recorded completion: write 2 (info) then write 3 (ok), then a read of
 * 2 is linearizable (2 took effect last). Were 2 known to have completed by
 * 30 ms, 3 would follow it and the read would have to return 3.
 */
static void linearizable_should_let_an_info_write_take_effect_after_its_recorded_end(void **state)
{
    struct fixture x;

    fx_init(&x);
    x.cfg.linearizable.enabled = true;
    tl_op(&x.h, 1, "put", true, "k", 1, "west", 0, 10, HIST_OK);
    tl_op(&x.h, 2, "put", true, "k", 2, "west", 20, 30, HIST_INFO);
    tl_op(&x.h, 1, "put", true, "k", 3, "west", 40, 50, HIST_OK);
    tl_op(&x.h, 1, "get", false, "k", 2, "west", 60, 70, HIST_OK);
    fx_check(&x, vfy_linearizable_check, VFY_PASS);
    x.h.ops[1].outcome = HIST_OK;
    fx_check(&x, vfy_linearizable_check, VFY_FAIL);
    fx_free(&x);
}

/* ---- routing ---- */

static void routing_config(struct vfy_config *cfg, const char *second)
{
    cfg->routing.enabled = true;
    cfg->routing.preferred.n = 2;
    strcpy(cfg->routing.preferred.name[0], "north");
    snprintf(cfg->routing.preferred.name[1], VFY_NAME_LEN, "%s", second);
    cfg->routing.lost.n = 1;
    strcpy(cfg->routing.lost.name[0], "north");
    cfg->routing.min_ratio = 0.9;
    cfg->routing.settle_ns = 1000 * MS;
}

/* n ok reads from region, one every 100 ms from from_ms. */
static void routed_reads(struct hist *h, const char *region, int64_t from_ms, int n)
{
    int i;

    for (i = 0; i < n; i++)
        tl_op(h, 1, "get", false, "k", 0, region, from_ms + 100 * i, from_ms + 100 * i + 5,
              HIST_OK);
}

/*
 * Fault 10000..20000 ms, settle 1 s, ratio 0.9. The clients are still on
 * north during the first second of the fault and on west during the first
 * second after the heal: not judged. Judged: 9 of 10 reads from west while
 * the fault is in effect, exactly the ratio.
 */
static void routing_should_judge_after_settle_with_an_inclusive_ratio(void **state)
{
    struct fixture x;

    fx_init(&x);
    routing_config(&x.cfg, "west");
    tl_fault(&x.fs, "f1", 10000, 10000, 20000, 20000);
    routed_reads(&x.h, "north", 0, 10);
    routed_reads(&x.h, "north", 10100, 5); /* settling */
    routed_reads(&x.h, "west", 11000, 9);
    routed_reads(&x.h, "north", 12000, 1);
    routed_reads(&x.h, "west", 20100, 5); /* settling */
    routed_reads(&x.h, "north", 21000, 10);
    tl_op(&x.h, 1, "get", false, "k", 0, "north", 15000, 15005, HIST_FAIL); /* counts nowhere */
    fx_check(&x, vfy_routing_check, VFY_PASS);
    assert_int_equal(tl_num(x.r.measured, "faults.0.during.ok_reads"), 10);
    assert_int_equal(tl_num(x.r.measured, "faults.0.during.served.west"), 9);
    assert_int_equal(tl_num(x.r.measured, "faults.0.after.ok_reads"), 10);
    assert_int_equal(tl_num(x.r.measured, "faults.0.before.ok_reads"), 10);
    x.cfg.routing.min_ratio = 0.91;
    fx_check(&x, vfy_routing_check, VFY_FAIL);
    assert_contains(x.r.detail, "Fault f1, during: 90.0% of 10 ok reads came from west (expected "
                                "at least 91%).");
    fx_free(&x);
}

/* A second fault with no ok read in any of its phases leaves the verdict inconclusive. */
static void routing_should_be_inconclusive_when_a_fault_had_nothing_to_judge(void **state)
{
    struct fixture x;

    fx_init(&x);
    routing_config(&x.cfg, "west");
    tl_fault(&x.fs, "f1", 10000, 10000, 20000, 20000);
    tl_fault(&x.fs, "f2", 40000, 40000, 50000, 50000);
    routed_reads(&x.h, "north", 0, 10);
    routed_reads(&x.h, "west", 11000, 10);
    fx_check(&x, vfy_routing_check, VFY_INCONCLUSIVE);
    assert_contains(x.r.reason, "a fault had no ok read in any judged phase");
    assert_string_equal(json_string_value(tl_get(x.r.measured, "faults.1.during.status")),
                        "not judged");
    fx_free(&x);
}

/* The expected region never appears: reads of an unknown region are not hits. */
static void routing_should_not_count_unknown_regions_as_the_expected_one(void **state)
{
    struct fixture x;

    fx_init(&x);
    routing_config(&x.cfg, "south");
    tl_fault(&x.fs, "f1", 10000, 10000, 20000, 20000);
    routed_reads(&x.h, "north", 0, 10);
    routed_reads(&x.h, "", 11000, 10);
    routed_reads(&x.h, "north", 21000, 10);
    fx_check(&x, vfy_routing_check, VFY_FAIL);
    assert_int_equal(tl_num(x.r.measured, "faults.0.during.served.(unknown)"), 10);
    assert_contains(x.r.detail, "Fault f1, during: 0.0% of 10 ok reads came from south");
    fx_free(&x);
}

/* After a fault that was never healed there is no "before" phase for the next one. */
static void routing_should_not_judge_a_before_phase_after_an_unhealed_fault(void **state)
{
    struct fixture x;

    fx_init(&x);
    routing_config(&x.cfg, "west");
    tl_fault(&x.fs, "f1", 10000, 10000, 0, 0);
    tl_fault(&x.fs, "f2", 15000, 15000, 20000, 20000);
    routed_reads(&x.h, "north", 0, 10);
    routed_reads(&x.h, "west", 11000, 80);
    fx_check(&x, vfy_routing_check, VFY_PASS);
    assert_string_equal(json_string_value(tl_get(x.r.measured, "faults.1.before.status")),
                        "not judged");
    assert_int_equal(tl_num(x.r.measured, "faults.1.during.ok_reads"), 30);
    fx_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            failback_with_writes_required_should_not_pass_without_a_write_after_the_heal),
        cmocka_unit_test(failback_should_judge_healed_faults_and_skip_the_unhealed_one),
        cmocka_unit_test(failback_should_end_at_the_next_fault),
        cmocka_unit_test(failover_sustain_window_should_end_at_heal_sent),
        cmocka_unit_test(failover_sustain_window_should_include_its_last_instant),
        cmocka_unit_test(failover_should_fail_a_named_class_that_never_appears),
        cmocka_unit_test(
            failover_should_be_inconclusive_when_nothing_was_attempted_during_the_fault),
        cmocka_unit_test(read_only_grace_should_end_exactly_at_start_plus_grace),
        cmocka_unit_test(data_loss_edges_should_be_inclusive),
        cmocka_unit_test(data_loss_should_attribute_each_loss_to_the_fault_in_effect),
        cmocka_unit_test(staleness_should_resolve_concurrency_in_favour_of_the_service),
        cmocka_unit_test(staleness_should_not_judge_a_read_of_a_refused_write),
        cmocka_unit_test(availability_should_fail_below_its_floor_and_only_in_its_phase),
        cmocka_unit_test(availability_should_count_between_faults_on_both_sides),
        cmocka_unit_test(linearizable_should_let_an_info_write_take_effect_after_its_recorded_end),
        cmocka_unit_test(routing_should_judge_after_settle_with_an_inclusive_ratio),
        cmocka_unit_test(routing_should_be_inconclusive_when_a_fault_had_nothing_to_judge),
        cmocka_unit_test(routing_should_not_count_unknown_regions_as_the_expected_one),
        cmocka_unit_test(routing_should_not_judge_a_before_phase_after_an_unhealed_fault),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
