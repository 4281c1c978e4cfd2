/*
 * Verdicts that cannot pass by not happening: set-model loss (a later write
 * never hides a lost element), loss on both sides of the fault start
 * (before: the RPO window; after: acknowledged during the outage and lost),
 * an inconclusive result for every verifier that had nothing to judge, the
 * run verdict and allow_inconclusive, and histories that must fail (a
 * read-only service that served nothing for the whole outage).
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

/* A set-model write of element e to key k. */
static size_t set_write(struct hist *h, uint32_t client, const char *key, uint64_t e,
                        int64_t inv_ms, int64_t cmp_ms, int outcome)
{
    size_t i = tl_op(h, client, "add", true, key, e, "west", inv_ms, cmp_ms, outcome);

    h->ops[i].flags |= HIST_F_SET;
    return i;
}

/* A set-model final read of key k returning elems. */
static void set_final(struct hist *h, const char *key, const uint64_t *elems, size_t n, int64_t at)
{
    size_t i = tl_final(h, key, 0, at);
    struct hist_op o = h->ops[i];

    h->n--; /* replaced by the same record carrying the set */
    assert_int_equal(hist_append_set_read(h, &o, elems, n), 0);
}

static void config_json(struct vfy_config *cfg, const char *text)
{
    struct fl_err e;
    json_t *j = json_loads(text, 0, NULL);

    assert_non_null(j);
    vfy_config_init_defaults(cfg);
    fl_err_clear(&e);
    if (vfy_config_from_json(j, cfg, &e) < 0)
        fail_msg("config: %s", e.msg);
    json_decref(j);
}

/*
 * Key s gets elements 1..5 before the fault; the final read lacks 3. Elements
 * 4 and 5 were written after 3: in the register model they would supersede it.
 */
static void data_loss_should_count_a_missing_set_element_whatever_came_later(void **state)
{
    static const uint64_t fin[] = {1, 2, 4, 5};
    struct hist h;
    struct hist_faults fs = {0};
    struct vfy_config cfg;
    struct vfy_result r;
    size_t lost = 0;
    uint64_t e;

    (void)state;
    assert_int_equal(hist_init(&h), 0);
    tl_fault(&fs, "f1", 10000, 10010, 20000, 20010);
    for (e = 1; e <= 5; e++) {
        size_t i = set_write(&h, 1, "s", e, 1000 * (int64_t)e, 1000 * (int64_t)e + 10, HIST_OK);

        if (e == 3)
            lost = i;
    }
    set_final(&h, "s", fin, 4, 30000);
    config_json(&cfg, "{\"data_loss\":{\"consistency\":\"eventual\"}}");
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_int_equal(r.status, VFY_PASS); /* one element lost 6.99 s before: within 15 min */
    assert_int_equal((int)tl_num(r.measured, "lost_updates"), 1);
    assert_string_equal(json_string_value(tl_get(r.measured, "model")), "set");
    assert_int_equal((int)tl_num(r.measured, "faults.0.earliest.record"), (int)lost);
    vfy_result_free(&r);

    /* strong: nothing may be lost, and the later elements hide nothing */
    config_json(&cfg, "{\"data_loss\":{\"consistency\":\"strong\"}}");
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_int_equal(r.status, VFY_FAIL);
    assert_false(r.pass);
    assert_non_null(strstr(r.detail, "over max_updates 0"));
    assert_non_null(strstr(r.detail, "add s=3"));
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

/*
 * The same writes as a register: the final value 5 supersedes the lost 3, so
 * the register model cannot see the loss (documented); the set model can.
 */
static void data_loss_register_model_should_not_see_an_overwritten_loss(void **state)
{
    struct hist h;
    struct hist_faults fs = {0};
    struct vfy_config cfg;
    struct vfy_result r;
    uint64_t e;

    (void)state;
    assert_int_equal(hist_init(&h), 0);
    tl_fault(&fs, "f1", 10000, 10010, 20000, 20010);
    for (e = 1; e <= 5; e++)
        tl_op(&h, 1, "put", true, "k", e, "west", 1000 * (int64_t)e, 1000 * (int64_t)e + 10,
              HIST_OK);
    tl_final(&h, "k", 5, 30000);
    config_json(&cfg, "{\"data_loss\":{\"consistency\":\"strong\"}}");
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_int_equal(r.status, VFY_PASS);
    assert_int_equal((int)tl_num(r.measured, "lost_updates"), 0);
    assert_string_equal(json_string_value(tl_get(r.measured, "model")), "register");
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

/*
 * Fault f1 applied at 100000 (sent), healed at 130000. Key a loses a write
 * completed 1 s before the fault (the RPO window); key b loses one the
 * service acknowledged 5 s after the fault began (split brain).
 */
static void build_two_sided(struct hist *h, struct hist_faults *fs, size_t *before, size_t *after)
{
    assert_int_equal(hist_init(h), 0);
    memset(fs, 0, sizeof(*fs));
    tl_fault(fs, "f1", 100000, 100010, 130000, 130010);
    tl_op(h, 1, "put", true, "a", 1, "west", 90000, 90010, HIST_OK);
    *before = tl_op(h, 1, "put", true, "a", 2, "west", 98990, 99000, HIST_OK);
    tl_op(h, 2, "put", true, "b", 10, "west", 90000, 90010, HIST_OK);
    *after = tl_op(h, 2, "put", true, "b", 11, "west", 104990, 105000, HIST_OK);
    tl_final(h, "a", 1, 140000);
    tl_final(h, "b", 10, 140000);
}

/*
 * Fault f1 sent at 100000, certainly in effect at 100010. Key a loses a write
 * acknowledged at 100010, the apply window's last instant: the fault may not have
 * acted yet, so it is the ordinary RPO loss (before, window 0), not a write
 * lost after the outage began. Key b holds a compare-and-set that compared
 * and did not swap at 105000: it wrote nothing, so it cannot be lost.
 */
static void
data_loss_should_give_the_apply_window_and_unswapped_cas_the_benefit_of_the_doubt(void **state)
{
    struct hist h;
    struct hist_faults fs;
    struct vfy_config cfg;
    struct vfy_result r;
    size_t cas;

    (void)state;
    assert_int_equal(hist_init(&h), 0);
    memset(&fs, 0, sizeof(fs));
    tl_fault(&fs, "f1", 100000, 100010, 130000, 130010);
    tl_op(&h, 1, "put", true, "a", 1, "west", 90000, 90010, HIST_OK);
    tl_op(&h, 1, "put", true, "a", 2, "west", 99990, 100010, HIST_OK);
    tl_op(&h, 2, "put", true, "b", 10, "west", 90000, 90010, HIST_OK);
    cas = tl_op(&h, 2, "cas", true, "b", 11, "west", 104990, 105000, HIST_OK);
    h.ops[cas].flags |= HIST_F_CAS; /* ok, not swapped */
    tl_final(&h, "a", 1, 140000);
    tl_final(&h, "b", 10, 140000);
    config_json(&cfg, "{\"data_loss\":{\"max_window\":\"0s\"}}");
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_int_equal(r.status, VFY_PASS);
    assert_int_equal((int)tl_num(r.measured, "lost_before"), 1);
    assert_int_equal((int)tl_num(r.measured, "lost_after"), 0);
    assert_int_equal((int)tl_num(r.measured, "window_ms"), 0);
    assert_int_equal((int)tl_num(r.measured, "checked_writes"), 3);
    assert_int_equal((int)tl_num(r.measured, "faults.0.earliest.before_fault_ms"), 0);
    vfy_result_free(&r);

    /* the same cas swapped: it wrote 11, the final read shows 10: lost after the start */
    h.ops[cas].flags |= HIST_F_SWAPPED;
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_int_equal(r.status, VFY_FAIL);
    assert_int_equal((int)tl_num(r.measured, "lost_after"), 1);
    assert_int_equal((int)tl_num(r.measured, "window_after_ms"), 5000);
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

static void data_loss_should_measure_both_sides_of_the_fault_start(void **state)
{
    struct hist h;
    struct hist_faults fs;
    struct vfy_config cfg;
    struct vfy_result r;
    size_t before, after;

    (void)state;
    build_two_sided(&h, &fs, &before, &after);
    /* the before side is within max_window; the after side is over the default 0 */
    config_json(&cfg, "{\"data_loss\":{\"max_window\":\"1s\"}}");
    assert_int_equal(cfg.data_loss.max_after_ns, 0);
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_int_equal(r.status, VFY_FAIL);
    assert_int_equal((int)tl_num(r.measured, "lost_updates"), 2);
    assert_int_equal((int)tl_num(r.measured, "lost_before"), 1);
    assert_int_equal((int)tl_num(r.measured, "lost_after"), 1);
    assert_int_equal((int)tl_num(r.measured, "window_ms"), 1000);
    assert_int_equal((int)tl_num(r.measured, "window_after_ms"), 5000);
    assert_int_equal((int)tl_num(r.measured, "faults.0.lost_before"), 1);
    assert_int_equal((int)tl_num(r.measured, "faults.0.lost_after"), 1);
    assert_int_equal((int)tl_num(r.measured, "faults.0.window_ms"), 1000);
    assert_int_equal((int)tl_num(r.measured, "faults.0.window_after_ms"), 5000);
    assert_int_equal((int)tl_num(r.measured, "faults.0.earliest.record"), (int)before);
    assert_int_equal((int)tl_num(r.measured, "faults.0.earliest.before_fault_ms"), 1000);
    assert_int_equal((int)tl_num(r.measured, "faults.0.latest.record"), (int)after);
    assert_int_equal((int)tl_num(r.measured, "faults.0.latest.after_fault_ms"), 5000);
    assert_int_equal((int)tl_num(r.bound, "max_after_ms"), 0);
    assert_non_null(strstr(r.detail, "over max_after 0s"));
    vfy_result_free(&r);

    /* the experiment says why writes after the start may go: 5 s is within it */
    config_json(&cfg, "{\"data_loss\":{\"max_window\":\"1s\",\"max_after\":\"5s\"}}");
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_int_equal(r.status, VFY_PASS);
    vfy_result_free(&r);

    /* every consistency preset keeps max_after at 0: session (15 min window) fails */
    config_json(&cfg, "{\"data_loss\":{\"consistency\":\"session\"}}");
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_int_equal(r.status, VFY_FAIL);
    assert_non_null(strstr(r.detail, "acknowledged after the fault began"));
    vfy_result_free(&r);

    /* the before side alone over max_window */
    config_json(&cfg, "{\"data_loss\":{\"max_window\":\"999ms\",\"max_after\":\"1m\"}}");
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_int_equal(r.status, VFY_FAIL);
    assert_non_null(strstr(r.detail, "over max_window"));
    assert_null(strstr(r.detail, "over max_after"));
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

/*
 * Every lost write is listed under its fault with its signed offset from the
 * fault start (sent at 100000, in effect at 100010): register key a loses
 * value 2 (1 s before), set key s loses elements 1..5 on both sides, one of
 * them inside the apply window (before, at 0). Then 2003 lost elements:
 * 2000 are listed and lost_truncated counts the rest.
 */
static void data_loss_should_list_every_lost_write_with_its_offset(void **state)
{
    static const struct {
        const char *key, *side;
        int value, offset_ms;
    } want[] = {{"s", "before", 1, -3000}, {"a", "before", 2, -1000}, {"s", "before", 2, -500},
                {"s", "before", 3, 0},     {"s", "after", 4, 2000},   {"s", "after", 5, 10000}};
    static const uint64_t keep[] = {6};
    struct hist h;
    struct hist_faults fs;
    struct vfy_config cfg;
    struct vfy_result r;
    size_t rec[6], i;
    char path[64];

    (void)state;
    assert_int_equal(hist_init(&h), 0);
    memset(&fs, 0, sizeof(fs));
    tl_fault(&fs, "f1", 100000, 100010, 130000, 130010);
    tl_op(&h, 1, "put", true, "a", 1, "west", 90000, 90010, HIST_OK);
    set_write(&h, 3, "s", 6, 94000, 95000, HIST_OK);
    rec[0] = set_write(&h, 3, "s", 1, 96000, 97000, HIST_OK);
    rec[1] = tl_op(&h, 1, "put", true, "a", 2, "west", 98990, 99000, HIST_OK);
    rec[2] = set_write(&h, 3, "s", 2, 99400, 99500, HIST_OK);
    rec[3] = set_write(&h, 3, "s", 3, 99990, 100005, HIST_OK);
    rec[4] = set_write(&h, 3, "s", 4, 101000, 102000, HIST_OK);
    rec[5] = set_write(&h, 3, "s", 5, 109000, 110000, HIST_OK);
    tl_final(&h, "a", 1, 140000);
    set_final(&h, "s", keep, 1, 140000);
    config_json(&cfg, "{\"data_loss\":{\"max_window\":\"5s\",\"max_after\":\"1m\"}}");
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_int_equal(r.status, VFY_PASS);
    assert_int_equal((int)tl_num(r.measured, "faults.0.lost"), 6);
    assert_int_equal((int)json_array_size(tl_get(r.measured, "faults.0.lost_writes")), 6);
    assert_int_equal((int)tl_num(r.measured, "faults.0.lost_truncated"), 0);
    for (i = 0; i < 6; i++) {
        json_t *e;

        snprintf(path, sizeof(path), "faults.0.lost_writes.%zu", i);
        e = tl_get(r.measured, path);
        assert_non_null(e);
        assert_int_equal((int)tl_num(e, "record"), (int)rec[i]);
        assert_string_equal(json_string_value(json_object_get(e, "key")), want[i].key);
        assert_int_equal((int)tl_num(e, "value"), want[i].value);
        assert_string_equal(json_string_value(json_object_get(e, "region")), "west");
        assert_string_equal(json_string_value(json_object_get(e, "side")), want[i].side);
        assert_int_equal((int)tl_num(e, "offset_ms"), want[i].offset_ms);
    }
    /* the existing keys keep their meaning */
    assert_int_equal((int)tl_num(r.measured, "faults.0.earliest.before_fault_ms"), 3000);
    assert_int_equal((int)tl_num(r.measured, "faults.0.latest.after_fault_ms"), 10000);
    vfy_result_free(&r);
    hist_free(&h);

    /* the cap: 2003 lost set elements before the fault, 2000 listed */
    assert_int_equal(hist_init(&h), 0);
    for (i = 0; i < 2003; i++)
        set_write(&h, 3, "s", 10 + i, 50000 + (int64_t)i, 50000 + (int64_t)i + 1, HIST_OK);
    set_final(&h, "s", keep, 1, 140000);
    config_json(&cfg, "{\"data_loss\":{\"max_updates\":2002}}");
    assert_int_equal(vfy_data_loss_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_int_equal((int)tl_num(r.measured, "faults.0.lost"), 2003);
    assert_int_equal((int)json_array_size(tl_get(r.measured, "faults.0.lost_writes")), 2000);
    assert_int_equal((int)tl_num(r.measured, "faults.0.lost_truncated"), 3);
    assert_int_equal((int)tl_num(r.measured, "faults.0.lost_writes.1999.value"), 2009);
    assert_int_equal((int)tl_num(r.measured, "faults.0.lost_writes.1999.offset_ms"), -48000);
    assert_int_equal(r.status, VFY_FAIL);
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

/* The Key Vault case: a secondary refusing every request while read-only. */
static void read_only_should_fail_when_the_service_served_nothing_at_all(void **state)
{
    struct hist h;
    struct hist_faults fs = {0};
    struct vfy_config cfg;
    struct vfy_result r;
    int64_t t;

    (void)state;
    assert_int_equal(hist_init(&h), 0);
    tl_fault(&fs, "f1", 5000, 5010, 13000, 13010);
    for (t = 0; t < 20000; t += 100) {
        bool down = t >= 5000 && t < 13000;

        tl_op(&h, 1, "get-secret", false, "s", 0, "west", t, t + 5, down ? HIST_FAIL : HIST_OK);
        tl_op(&h, 2, "set-secret", true, "s", (uint64_t)t + 1, "west", t + 50, t + 55,
              down ? HIST_FAIL : HIST_OK);
    }
    config_json(&cfg, "{\"read_only\":{\"allowed\":[\"get-secret\"]}}");
    assert_int_equal(vfy_read_only_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_int_equal(r.status, VFY_FAIL);
    assert_false(r.pass);
    /* reads from 5100 (after apply_done at 5010) to 12900 */
    assert_int_equal((int)tl_num(r.measured, "allowed_not_served"), 79);
    assert_true(json_is_false(tl_get(r.measured, "faults.0.served_anything")));
    assert_non_null(strstr(r.detail, "allowed operation not served"));
    vfy_result_free(&r);

    /* a grace longer than the outage leaves nothing to judge: inconclusive, not pass */
    cfg.read_only.grace_ns = 10000 * MS;
    assert_int_equal(vfy_read_only_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_int_equal(r.status, VFY_INCONCLUSIVE);
    assert_non_null(r.reason);
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

/* A history with reads and writes but no fault and no final read. */
static void build_quiet(struct hist *h, struct hist_faults *fs)
{
    int64_t t;

    assert_int_equal(hist_init(h), 0);
    memset(fs, 0, sizeof(*fs));
    for (t = 0; t < 5000; t += 100) {
        tl_op(h, 1, "get", false, "k", 0, "west", t, t + 5, HIST_OK);
        tl_op(h, 2, "put", true, "k", (uint64_t)t + 1, "west", t + 50, t + 55, HIST_OK);
    }
}

static void every_verifier_should_be_inconclusive_with_nothing_to_judge(void **state)
{
    struct hist h;
    struct hist_faults fs;
    struct vfy_config cfg;
    struct vfy_results rs = {0};
    json_t *j;
    size_t i;

    (void)state;
    build_quiet(&h, &fs);
    config_json(&cfg, "{\"failover\":{\"max\":\"10s\"},\"failback\":{\"max\":\"10s\"},"
                      "\"read_only\":{\"allowed\":[\"get\"]},\"data_loss\":\"strong\","
                      "\"staleness\":{\"max_versions\":0,\"ops\":[\"list\"]},"
                      "\"availability\":{\"floors\":{\"list\":0.5}}}");
    assert_int_equal(vfy_run_all(&h, &fs, &cfg, &rs, NULL), 0);
    assert_int_equal(rs.n, 6);
    for (i = 0; i < rs.n; i++) {
        if (rs.r[i].status != VFY_INCONCLUSIVE)
            fail_msg("%s: status %d, expected inconclusive: %s", rs.r[i].name, rs.r[i].status,
                     rs.r[i].detail);
        assert_false(rs.r[i].pass);
        assert_non_null(rs.r[i].reason);
        assert_non_null(strstr(rs.r[i].detail, "nconclusive"));
    }
    assert_string_equal(vfy_results_verdict(&rs), "inconclusive");
    assert_false(vfy_results_pass(&rs));
    j = vfy_results_to_json(&rs);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "status")),
                        "inconclusive");
    assert_non_null(json_object_get(json_array_get(j, 0), "reason"));
    assert_true(json_is_false(json_object_get(json_array_get(j, 0), "allowed")));
    json_decref(j);
    vfy_results_free(&rs);
    hist_free(&h);
    hist_faults_free(&fs);
}

static void failback_should_be_inconclusive_when_no_fault_was_healed(void **state)
{
    struct hist h;
    struct hist_faults fs;
    struct vfy_config cfg;
    struct vfy_result r;

    (void)state;
    build_quiet(&h, &fs);
    tl_fault(&fs, "f1", 1000, 1010, 0, 0); /* never healed */
    config_json(&cfg, "{\"failback\":{\"max\":\"10s\"},\"failover\":{\"max\":\"10s\"}}");
    assert_int_equal(vfy_failback_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_int_equal(r.status, VFY_INCONCLUSIVE);
    assert_non_null(strstr(r.detail, "never healed"));
    vfy_result_free(&r);
    /* failover was measured over the same fault: a real pass */
    assert_int_equal(vfy_failover_check(&h, &fs, &cfg, &r, NULL), 0);
    assert_int_equal(r.status, VFY_PASS);
    vfy_result_free(&r);
    hist_free(&h);
    hist_faults_free(&fs);
}

static void a_failure_should_outrank_an_inconclusive_result(void **state)
{
    struct hist h;
    struct hist_faults fs;
    struct vfy_config cfg;
    struct vfy_results rs = {0};

    (void)state;
    build_quiet(&h, &fs);
    tl_final(&h, "k", 1, 9000); /* the first write: every later one is lost */
    config_json(&cfg, "{\"data_loss\":{\"max_updates\":0},\"staleness\":{\"ops\":[\"list\"]},"
                      "\"allow_inconclusive\":[\"staleness\"]}");
    assert_int_equal(vfy_run_all(&h, &fs, &cfg, &rs, NULL), 0);
    assert_int_equal(vfy_results_find(&rs, "data_loss")->status, VFY_FAIL);
    assert_int_equal(vfy_results_find(&rs, "staleness")->status, VFY_INCONCLUSIVE);
    assert_true(vfy_results_find(&rs, "staleness")->allowed);
    assert_string_equal(vfy_results_verdict(&rs), "fail");
    vfy_results_free(&rs);
    hist_free(&h);
    hist_faults_free(&fs);
}

static void config_should_read_new_keys_and_refuse_unknown_verifiers(void **state)
{
    struct vfy_config cfg;
    struct fl_err e;
    json_t *j;

    (void)state;
    /* integer milliseconds (the experiment parser's form) and strings alike */
    config_json(&cfg, "{\"failover\":{\"max\":180000},\"data_loss\":{\"max_after\":\"2s\"},"
                      "\"linearizable\":{\"budget\":\"10s\",\"max_states\":1000},"
                      "\"allow_inconclusive\":[\"linearizable\",\"failover\"]}");
    assert_int_equal(cfg.failover.max_ns, 180000 * MS);
    assert_int_equal(cfg.data_loss.max_after_ns, 2000 * MS);
    assert_true(cfg.linearizable.enabled);
    assert_int_equal(cfg.linearizable.budget_ns, 10000 * MS);
    assert_int_equal(cfg.linearizable.max_states, 1000);
    assert_int_equal(cfg.allow_inconclusive.n, 2);
    assert_string_equal(cfg.allow_inconclusive.name[0], "linearizable");

    vfy_config_init_defaults(&cfg);
    j = json_loads("{\"allow_inconclusive\":[\"avail\"]}", 0, NULL);
    fl_err_clear(&e);
    assert_int_equal(vfy_config_from_json(j, &cfg, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "allow_inconclusive[0]: unknown verifier 'avail'"));
    json_decref(j);
    j = json_loads("{\"data_loss\":{\"max_afterr\":\"1s\"}}", 0, NULL);
    fl_err_clear(&e);
    assert_int_equal(vfy_config_from_json(j, &cfg, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "data_loss.max_afterr: unknown key"));
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(data_loss_should_count_a_missing_set_element_whatever_came_later),
        cmocka_unit_test(data_loss_register_model_should_not_see_an_overwritten_loss),
        cmocka_unit_test(data_loss_should_measure_both_sides_of_the_fault_start),
        cmocka_unit_test(
            data_loss_should_give_the_apply_window_and_unswapped_cas_the_benefit_of_the_doubt),
        cmocka_unit_test(data_loss_should_list_every_lost_write_with_its_offset),
        cmocka_unit_test(read_only_should_fail_when_the_service_served_nothing_at_all),
        cmocka_unit_test(every_verifier_should_be_inconclusive_with_nothing_to_judge),
        cmocka_unit_test(failback_should_be_inconclusive_when_no_fault_was_healed),
        cmocka_unit_test(a_failure_should_outrank_an_inconclusive_result),
        cmocka_unit_test(config_should_read_new_keys_and_refuse_unknown_verifiers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
