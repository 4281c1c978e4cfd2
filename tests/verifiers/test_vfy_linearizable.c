/*
 * Tests of the linearizable verifier: the search engine (linearize.c) on
 * hand-written single-register histories that must pass and must fail, the
 * budget paths (states and time, the time one within its budget plus slack),
 * the verifier over struct hist (fail dropped, info reads ignored, set-model
 * keys and empty histories inconclusive, the violation's report), and public
 * histories from Knossos and Porcupine with their known verdicts
 * (tests/verifiers/data/linearizable/README.md).
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
#include "faultline/timeutil.h"
#include "faultline/verify.h"
#include "linearize.h"
#include "vfy_testlib.h"

#define NEVER LIN_NEVER

/* ---- engine helpers: times in ms ---- */

static struct lin_op R(uint64_t v, int64_t a, int64_t b) {
    struct lin_op o = {.call_ns = a * MS, .ret_ns = b * MS, .value = v, .kind = LIN_READ};
    return o;
}

static struct lin_op
W(uint64_t v, int64_t a, int64_t b) {
    struct lin_op o = {.call_ns = a * MS, .ret_ns = b * MS, .value = v, .kind = LIN_WRITE};
    return o;
}

static struct lin_op
WI(uint64_t v, int64_t a) /* write with unknown outcome */
{
    struct lin_op o = {
        .call_ns = a * MS, .ret_ns = NEVER, .value = v, .kind = LIN_WRITE, .info = 1};
    return o;
}

static struct lin_op
C(uint64_t ex, uint64_t nv, bool swapped, int64_t a, int64_t b) {
    struct lin_op o = {.call_ns = a * MS,
                       .ret_ns = b * MS,
                       .value = nv,
                       .expected = ex,
                       .kind = LIN_CAS,
                       .swapped = swapped};
    return o;
}

static struct lin_op
CI(uint64_t ex, uint64_t nv, int64_t a) {
    struct lin_op o = {.call_ns = a * MS,
                       .ret_ns = NEVER,
                       .value = nv,
                       .expected = ex,
                       .kind = LIN_CAS,
                       .info = 1};
    return o;
}

static enum lin_verdict
check(const struct lin_op *ops, size_t n, struct lin_report *rep)
{
    struct lin_ws *ws = lin_ws_new();
    struct lin_report local;
    enum lin_verdict v;

    assert_non_null(ws);
    if (rep == NULL)
        rep = &local;
    assert_int_equal(lin_check(ws, ops, n, NULL, rep), 0);
    v = rep->verdict;
    if (rep == &local)
        lin_report_free(rep);
    lin_ws_free(ws);
    return v;
}

#define CHECK(expect, ...)                                                           \
    do {                                                                             \
        const struct lin_op ops_[] = {__VA_ARGS__};                                  \
        assert_int_equal(check(ops_, sizeof(ops_) / sizeof(ops_[0]), NULL), expect); \
    } while (0)

static void empty_history_should_be_linearizable(void **state)
{
    struct lin_report rep;

    (void)state;
    assert_int_equal(check(NULL, 0, &rep), LIN_OK);
    /* reads of an absent key, and of a deleted one */
    CHECK(LIN_OK, R(0, 0, 1), W(5, 2, 3), R(5, 4, 5), W(0, 6, 7), R(0, 8, 9));
}

static void stale_read_after_acknowledged_write_should_fail(void **state)
{
    const struct lin_op ops[] = {W(1, 0, 10), W(2, 20, 30), R(1, 40, 50)};
    struct lin_report rep;

    (void)state;
    assert_int_equal(check(ops, 3, &rep), LIN_VIOLATION);
    /* both writes linearize; the read cannot follow them */
    assert_int_equal(rep.nprefix, 2);
    assert_int_equal(rep.prefix_value, 2);
    assert_int_equal(rep.blocker, 2);
    assert_int_equal(rep.nwindow, 1);
    assert_int_equal(rep.window[0].op, 2);
    /* the proof: 1 was written by op 0 and overwritten by op 1 before the read began */
    assert_int_equal(rep.ncause, 2);
    assert_int_equal(rep.cause[0], 0);
    assert_int_equal(rep.cause[1], 1);
    lin_report_free(&rep);
}

static void searched_violation_should_report_longest_prefix(void **state)
{
    /* two readers disagree on the order of one long write: found by the search, not up front */
    const struct lin_op ops[] = {W(1, 0, 10), W(2, 20, 100), R(2, 30, 40), R(1, 50, 60)};
    struct lin_report rep;

    (void)state;
    assert_int_equal(check(ops, 4, &rep), LIN_VIOLATION);
    assert_int_equal(rep.ncause, 0);
    assert_int_equal(rep.nprefix, 3);
    assert_int_equal(rep.prefix[0], 0);
    assert_int_equal(rep.prefix[1], 1);
    assert_int_equal(rep.prefix[2], 2);
    assert_int_equal(rep.prefix_value, 2);
    assert_int_equal(rep.blocker, 3);
    assert_int_equal(rep.window_total, 2); /* the read and the write still in flight */
    assert_int_equal(rep.window[0].op, 1);
    assert_int_equal(rep.window[0].in_prefix, 1);
    assert_int_equal(rep.window[1].op, 3);
    lin_report_free(&rep);
}

static void concurrent_read_should_see_either_value(void **state)
{
    (void)state;
    CHECK(LIN_OK, W(1, 0, 10), W(2, 20, 40), R(1, 25, 35));
    CHECK(LIN_OK, W(1, 0, 10), W(2, 20, 40), R(2, 25, 35));
    /* touching intervals are concurrent */
    CHECK(LIN_OK, W(1, 0, 10), W(2, 20, 30), R(1, 30, 40));
    /* two readers disagreeing on the order of one write */
    CHECK(LIN_VIOLATION, W(1, 0, 10), W(2, 20, 100), R(2, 30, 40), R(1, 50, 60));
    /* a value nobody wrote */
    CHECK(LIN_VIOLATION, W(1, 0, 10), W(2, 20, 40), R(3, 25, 35));
}

static void lost_write_overwritten_later_should_fail(void **state)
{
    const struct lin_op ops[] = {W(1, 0, 10), R(0, 20, 30), W(3, 40, 50), R(3, 60, 70)};
    struct lin_report rep;

    (void)state;
    /* the acknowledged write 1 is not seen (absent), then 3 overwrites it: the final read alone
     * would look fine, the order cannot */
    assert_int_equal(check(ops, 4, &rep), LIN_VIOLATION);
    assert_int_equal(rep.blocker, 1);
    assert_int_equal(rep.nprefix, 1);
    lin_report_free(&rep);
    /* a value observed, replaced, then observed again */
    CHECK(LIN_VIOLATION, W(1, 0, 10), R(1, 20, 30), W(2, 40, 50), R(2, 60, 70), R(1, 80, 90));
}

static void info_write_should_pass_applied_or_not(void **state)
{
    (void)state;
    CHECK(LIN_OK, W(1, 0, 10), WI(2, 20), R(2, 30, 40)); /* applied */
    CHECK(LIN_OK, W(1, 0, 10), WI(2, 20), R(1, 30, 40)); /* not (yet) applied */
    /* applied long after the client gave up */
    CHECK(LIN_OK, W(1, 0, 10), WI(2, 20), R(1, 30, 40), R(1, 50, 60), R(2, 100, 110));
    /* applied at most once: not undone */
    CHECK(LIN_VIOLATION, W(1, 0, 10), WI(2, 20), R(2, 30, 40), R(1, 50, 60));
    /* never before its invocation */
    CHECK(LIN_VIOLATION, W(1, 0, 10), R(2, 20, 30), WI(2, 40));
}

static void cas_swapped_false_impossible_should_fail(void **state)
{
    (void)state;
    /* the register certainly holds 1, so a cas expecting 1 must match */
    CHECK(LIN_VIOLATION, W(1, 0, 10), C(1, 5, false, 20, 30));
    /* possible once a concurrent write can come first */
    CHECK(LIN_OK, W(1, 0, 10), W(2, 15, 35), C(1, 5, false, 20, 30));
    /* expecting absent on an absent key must match */
    CHECK(LIN_VIOLATION, C(0, 5, false, 0, 10));
    CHECK(LIN_OK, W(1, 0, 10), C(3, 5, false, 20, 30), R(1, 40, 50));
}

static void cas_swapped_true_impossible_should_fail(void **state)
{
    (void)state;
    CHECK(LIN_VIOLATION, W(1, 0, 10), C(7, 5, true, 20, 30));
    CHECK(LIN_OK, W(1, 0, 10), C(1, 5, true, 20, 30), R(5, 40, 50));
    CHECK(LIN_VIOLATION, W(1, 0, 10), C(1, 5, true, 20, 30), R(1, 40, 50));
    CHECK(LIN_OK, C(0, 5, true, 0, 10), R(5, 20, 30)); /* create-if-absent */
    /* two clients cannot both swap from the same value */
    CHECK(LIN_VIOLATION, W(1, 0, 10), C(1, 5, true, 20, 30), C(1, 6, true, 20, 30));
}

static void info_cas_should_pass_applied_or_not(void **state)
{
    (void)state;
    CHECK(LIN_OK, W(1, 0, 10), CI(1, 5, 20), R(5, 30, 40));
    CHECK(LIN_OK, W(1, 0, 10), CI(1, 5, 20), R(1, 30, 40));
    /* it can only apply where the comparison matches */
    CHECK(LIN_VIOLATION, W(1, 0, 10), CI(2, 5, 20), R(5, 30, 40));
}

static void info_read_should_be_ignored(void **state)
{
    struct lin_op r = R(42, 20, 30);

    (void)state;
    r.info = 1;
    {
        const struct lin_op ops[] = {W(1, 0, 10), r, R(1, 40, 50)};

        assert_int_equal(check(ops, 3, NULL), LIN_OK);
    }
}

static void violation_window_should_name_overlapping_ops(void **state)
{
    /* rethink-style: value 1, concurrently write 4 and read 3: the read is the culprit, a
     * later read of 4 is not */
    const struct lin_op ops[] = {W(1, 0, 1), R(3, 2, 5), W(4, 3, 6), R(4, 7, 8)};
    struct lin_report rep;

    (void)state;
    assert_int_equal(check(ops, 4, &rep), LIN_VIOLATION);
    assert_int_equal(rep.blocker, 1);
    assert_int_equal(rep.window_total, 2);
    assert_int_equal(rep.nwindow, 2);
    assert_int_equal(rep.window[0].op, 1);
    assert_int_equal(rep.window[1].op, 2);
    lin_report_free(&rep);
}

/*
 * n concurrent writes of 1..n and, after them all, reads of 1 then of 2: no
 * order has both last, but every order of the other n - 2 writes must be
 * ruled out first (2^(n-2) states): the search is exponential. Returns n + 2
 * operations.
 */
static struct lin_op *hard_history(size_t n)
{
    struct lin_op *ops = calloc(n + 2, sizeof(*ops));
    size_t i;

    assert_non_null(ops);
    for (i = 0; i < n; i++)
        ops[i] = W(i + 1, 0, 1000);
    ops[n] = R(1, 2000, 2001);
    ops[n + 1] = R(2, 2002, 2003);
    return ops;
}

static void state_budget_should_give_unknown(void **state)
{
    struct lin_op *ops = hard_history(30);
    struct lin_ws *ws = lin_ws_new();
    struct lin_limits lim = {.deadline_ns = 0, .max_states = 1000};
    struct lin_report rep;

    (void)state;
    assert_int_equal(lin_check(ws, ops, 32, &lim, &rep), 0);
    assert_int_equal(rep.verdict, LIN_UNKNOWN);
    assert_int_equal(rep.states, 1000);
    lin_report_free(&rep);
    free(ops);
    /* the same shape with 6 writes decides within the budget */
    ops = hard_history(6);
    assert_int_equal(lin_check(ws, ops, 8, &lim, &rep), 0);
    assert_int_equal(rep.verdict, LIN_VIOLATION);
    assert_true(rep.states < 1000);
    lin_report_free(&rep);
    lin_ws_free(ws);
    free(ops);
}

static void time_budget_should_stop_within_slack(void **state)
{
    struct lin_op *ops = hard_history(40);
    struct lin_ws *ws = lin_ws_new();
    const int64_t budget = 100 * MS, slack = 150 * MS;
    struct lin_limits lim;
    struct lin_report rep;
    int64_t t0 = fl_now_ns(), took;

    (void)state;
    lim.deadline_ns = t0 + budget;
    lim.max_states = 0;
    assert_int_equal(lin_check(ws, ops, 42, &lim, &rep), 0);
    took = fl_now_ns() - t0;
    assert_int_equal(rep.verdict, LIN_UNKNOWN);
    print_message("budget 100 ms: stopped after %.1f ms, %llu states\n", (double)took / 1e6,
                  (unsigned long long)rep.states);
    assert_true(took >= budget);
    assert_true(took <= budget + slack);
    lin_report_free(&rep);
    lin_ws_free(ws);
    free(ops);
}

/* ---- against a brute force on small random histories ---- */

static uint64_t bf_rs = 0x9E3779B97F4A7C15ULL;

static uint64_t bf_rnd(void)
{
    bf_rs ^= bf_rs << 13;
    bf_rs ^= bf_rs >> 7;
    bf_rs ^= bf_rs << 17;
    return bf_rs;
}

/* Every order, no cache, no pruning: can the ops not yet in `placed` follow from value v? */
static bool brute(const struct lin_op *ops, size_t n, unsigned placed, uint64_t v)
{
    size_t i, j;
    bool finite_left = false;

    for (i = 0; i < n; i++)
        finite_left |= !(placed & (1u << i)) && !ops[i].info;
    if (!finite_left)
        return true;
    for (i = 0; i < n; i++) {
        const struct lin_op *o = &ops[i];
        bool ok = true;
        uint64_t nv = v;

        if (placed & (1u << i))
            continue;
        /* real time: nothing left may have returned before o was called */
        for (j = 0; j < n && ok; j++)
            ok = (placed & (1u << j)) || j == i || ops[j].info || ops[j].ret_ns >= o->call_ns;
        if (!ok)
            continue;
        if (o->kind == LIN_READ)
            ok = o->value == v;
        else if (o->kind == LIN_WRITE)
            nv = o->value;
        else if (o->info || o->swapped)
            ok = v == o->expected, nv = o->value;
        else
            ok = v != o->expected;
        if (ok && brute(ops, n, placed | (1u << i), nv))
            return true;
    }
    return false;
}

/*
 * A register run for real: intervals, a linearization point inside each (an
 * info write may apply late or never), reads and cas outcomes from applying
 * them in that order; then, one time in three, one value corrupted.
 */
static void simulated(struct lin_op *ops, size_t n, uint64_t vals)
{
    int64_t at[8];
    size_t i, j, order[8];
    uint64_t reg = 0;

    for (i = 0; i < n; i++) {
        uint64_t x = bf_rnd();
        int64_t a = (int64_t)(x % 12), d = 1 + (int64_t)((x >> 8) % 8);

        ops[i].call_ns = a;
        ops[i].ret_ns = a + d;
        ops[i].kind = (uint8_t)((x >> 16) % 3);
        ops[i].value = 1 + (x >> 20) % vals;
        ops[i].expected = (x >> 28) % (vals + 1);
        ops[i].info = ops[i].kind != LIN_READ && (x >> 33) % 4 == 0;
        at[i] = a + (int64_t)((x >> 36) % (uint64_t)d);
        if (ops[i].info) {
            ops[i].ret_ns = LIN_NEVER;
            at[i] = (x >> 40) % 2 ? INT64_MAX : a + (int64_t)((x >> 44) % 20);
        }
        order[i] = i;
    }
    for (i = 1; i < n; i++) /* insertion sort by linearization point */
        for (j = i; j > 0 && at[order[j - 1]] > at[order[j]]; j--) {
            size_t t = order[j];

            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (i = 0; i < n && at[order[i]] != INT64_MAX; i++) {
        struct lin_op *o = &ops[order[i]];

        if (o->kind == LIN_READ)
            o->value = reg;
        else if (o->kind == LIN_WRITE)
            reg = o->value;
        else if (reg == o->expected)
            reg = o->value, o->swapped = 1;
    }
    if (bf_rnd() % 3 == 0) {
        i = bf_rnd() % n;
        ops[i].value = (ops[i].value + 1) % (vals + 1);
    }
}

static void search_should_agree_with_brute_force(void **state)
{
    struct lin_ws *ws = lin_ws_new();
    struct lin_op ops[8];
    size_t round, bad = 0, good = 0;

    (void)state;
    for (round = 0; round < 60000; round++) {
        size_t n = 2 + bf_rnd() % 7, i;
        uint64_t vals = 1 + bf_rnd() % 4; /* few values: deletes, repeats, cas hits */
        struct lin_report rep;
        bool want;

        memset(ops, 0, sizeof(ops));
        if (round % 2 == 1) {
            simulated(ops, n, vals);
            goto check;
        }
        for (i = 0; i < n; i++) {
            uint64_t x = bf_rnd();
            int64_t a = (int64_t)(x % 20), d = (int64_t)((x >> 8) % 8);

            ops[i].call_ns = a;
            ops[i].ret_ns = a + d;
            ops[i].kind = (uint8_t)((x >> 16) % 3);
            ops[i].value = (x >> 20) % (vals + 1);
            ops[i].expected = (x >> 28) % (vals + 1);
            ops[i].swapped = (x >> 32) & 1;
            ops[i].info = (x >> 33) % 5 == 0;
            if (ops[i].info)
                ops[i].ret_ns = LIN_NEVER;
        }
    check:
        /* info reads constrain nothing: start with them placed */
        {
            unsigned m = 0;

            for (i = 0; i < n; i++)
                m |= (ops[i].info && ops[i].kind == LIN_READ) ? 1u << i : 0;
            want = brute(ops, n, m, 0);
        }
        assert_int_equal(lin_check(ws, ops, n, NULL, &rep), 0);
        if ((rep.verdict == LIN_OK) != want) {
            print_error("round %zu: engine %d, brute force %d\n", round, rep.verdict, want);
            for (i = 0; i < n; i++)
                print_error("  op %zu: kind %d [%lld,%lld] value %llu expected %llu swapped %d "
                            "info %d\n",
                            i, ops[i].kind, (long long)ops[i].call_ns, (long long)ops[i].ret_ns,
                            (unsigned long long)ops[i].value, (unsigned long long)ops[i].expected,
                            ops[i].swapped, ops[i].info);
            fail();
        }
        if (rep.verdict == LIN_VIOLATION) {
            assert_true(rep.nwindow >= 1);
            bad++;
        } else {
            good++;
        }
        lin_report_free(&rep);
    }
    print_message("%zu linearizable, %zu not\n", good, bad);
    assert_true(good > 1000 && bad > 1000);
    lin_ws_free(ws);
}

/* ---- the verifier over struct hist ---- */

static void cfg_on(struct vfy_config *cfg)
{
    vfy_config_init_defaults(cfg);
    cfg->linearizable.enabled = true;
}

static size_t cas(struct hist *h, uint32_t client, const char *key, uint64_t ex, uint64_t nv,
                  int64_t a, int64_t b, int outcome, bool swapped)
{
    struct hist_op o;

    memset(&o, 0, sizeof(o));
    o.client = client;
    o.op = (uint16_t)hist_intern(&h->op_names, "cas");
    o.key = (uint32_t)hist_intern(&h->keys, key);
    o.region = (uint16_t)hist_intern(&h->regions, "west");
    o.value = nv;
    o.invoke_ns = a * MS;
    o.complete_ns = b * MS;
    o.outcome = (uint8_t)outcome;
    if (swapped)
        o.flags = HIST_F_SWAPPED;
    assert_int_equal(hist_append_cas(h, &o, ex), 0);
    return h->n - 1;
}

static void run(const struct hist *h, struct vfy_result *r)
{
    struct hist_faults fs = {0};
    struct vfy_config cfg;
    struct fl_err e;

    cfg_on(&cfg);
    fl_err_clear(&e);
    assert_int_equal(vfy_linearizable_check(h, &fs, &cfg, r, &e), 0);
}

static void verifier_should_pass_per_key_histories(void **state)
{
    struct hist h;
    struct vfy_result r;

    (void)state;
    assert_int_equal(hist_init(&h), 0);
    /* k1 and k2 interleave in time; each alone is linearizable */
    tl_op(&h, 1, "put", true, "k1", 1, "west", 0, 10, HIST_OK);
    tl_op(&h, 2, "put", true, "k2", 7, "east", 5, 15, HIST_OK);
    tl_op(&h, 1, "get", false, "k1", 1, "west", 20, 30, HIST_OK);
    cas(&h, 3, "k2", 7, 8, 20, 30, HIST_OK, true);
    tl_op(&h, 2, "get", false, "k2", 8, "east", 40, 50, HIST_OK);
    tl_op(&h, 4, "put", true, "k1", 9, "west", 40, 50, HIST_FAIL);  /* never happened */
    tl_op(&h, 5, "get", false, "k1", 0, "west", 45, 55, HIST_INFO); /* no answer */
    tl_final(&h, "k1", 1, 100);
    tl_final(&h, "k2", 8, 100);
    run(&h, &r);
    assert_int_equal(r.status, VFY_PASS);
    assert_true(r.pass);
    assert_int_equal(tl_num(r.measured, "keys_checked"), 2);
    assert_int_equal(tl_num(r.measured, "ops_fail_dropped"), 1);
    assert_int_equal(tl_num(r.measured, "ops_info_reads_dropped"), 1);
    assert_int_equal(tl_num(r.measured, "ops_checked"), 7);
    vfy_result_free(&r);
    hist_free(&h);
}

static void verifier_should_fail_with_key_and_window(void **state)
{
    struct hist h;
    struct vfy_result r;
    json_t *v;

    (void)state;
    assert_int_equal(hist_init(&h), 0);
    tl_op(&h, 1, "put", true, "good", 1, "west", 0, 10, HIST_OK);
    tl_op(&h, 1, "get", false, "good", 1, "west", 20, 30, HIST_OK);
    /* bad: 5 acknowledged, then a read of the earlier value (split brain), then 6 */
    tl_op(&h, 1, "put", true, "bad", 4, "west", 0, 10, HIST_OK);
    tl_op(&h, 2, "put", true, "bad", 5, "east", 20, 30, HIST_OK);
    tl_op(&h, 3, "get", false, "bad", 4, "west", 40, 50, HIST_OK);
    tl_op(&h, 2, "put", true, "bad", 6, "east", 45, 60, HIST_OK);
    tl_final(&h, "bad", 6, 100);
    run(&h, &r);
    assert_int_equal(r.status, VFY_FAIL);
    assert_false(r.pass);
    assert_int_equal(tl_num(r.measured, "keys_violating"), 1);
    v = tl_get(r.measured, "violations.0");
    assert_non_null(v);
    assert_string_equal(json_string_value(tl_get(v, "key")), "bad");
    /* 4 and 5 linearize; the read of 4 cannot follow: 5 overwrote it before it began */
    assert_int_equal(tl_num(v, "prefix_length"), 2);
    assert_int_equal(tl_num(v, "value_after_prefix"), 5);
    assert_int_equal(tl_num(v, "because.0.record"), 2);
    assert_int_equal(tl_num(v, "because.1.record"), 3);
    assert_int_equal(tl_num(v, "blocker.record"), 4);
    assert_int_equal(tl_num(v, "blocker.value"), 4);
    assert_int_equal(tl_num(v, "blocker.client"), 3);
    assert_string_equal(json_string_value(tl_get(v, "blocker.region")), "west");
    assert_int_equal(tl_num(v, "blocker.invoke_ms"), 40);
    /* the read and the concurrent write of 6 */
    assert_int_equal(tl_num(v, "window_total"), 2);
    assert_int_equal(tl_num(v, "window.1.value"), 6);
    assert_non_null(strstr(r.detail, "Key bad"));
    assert_non_null(strstr(r.detail, "read 4"));
    print_message("%s\n", r.detail);
    vfy_result_free(&r);
    hist_free(&h);
}

static void verifier_should_report_cas_in_window(void **state)
{
    struct hist h;
    struct vfy_result r;

    (void)state;
    assert_int_equal(hist_init(&h), 0);
    tl_op(&h, 1, "put", true, "k", 1, "west", 0, 10, HIST_OK);
    cas(&h, 2, "k", 1, 5, 20, 30, HIST_OK, false); /* impossible: must have matched */
    run(&h, &r);
    assert_int_equal(r.status, VFY_FAIL);
    assert_string_equal(json_string_value(tl_get(r.measured, "violations.0.blocker.type")), "cas");
    assert_int_equal(tl_num(r.measured, "violations.0.blocker.expected"), 1);
    assert_true(json_is_false(tl_get(r.measured, "violations.0.blocker.swapped")));
    assert_non_null(strstr(r.detail, "cas 1->5 no-match"));
    vfy_result_free(&r);
    hist_free(&h);
}

static void verifier_should_be_inconclusive_without_register_ops(void **state)
{
    struct hist h;
    struct vfy_result r;
    struct hist_op o;
    const uint64_t el[] = {3};

    (void)state;
    assert_int_equal(hist_init(&h), 0);
    run(&h, &r); /* empty */
    assert_int_equal(r.status, VFY_INCONCLUSIVE);
    assert_non_null(r.reason);
    vfy_result_free(&r);

    tl_op(&h, 1, "put", true, "k", 1, "west", 0, 10, HIST_FAIL);
    run(&h, &r); /* only a failed write */
    assert_int_equal(r.status, VFY_INCONCLUSIVE);
    vfy_result_free(&r);

    /* set-model records are not register operations */
    memset(&o, 0, sizeof(o));
    o.key = (uint32_t)hist_intern(&h.keys, "s");
    o.op = (uint16_t)hist_intern(&h.op_names, "smembers");
    o.invoke_ns = 20 * MS;
    o.complete_ns = 30 * MS;
    assert_int_equal(hist_append_set_read(&h, &o, el, 1), 0);
    tl_op(&h, 1, "put", true, "k2", 1, "west", 0, 10, HIST_OK);
    run(&h, &r);
    assert_int_equal(r.status, VFY_INCONCLUSIVE);
    assert_int_equal(tl_num(r.measured, "keys_set_model"), 1);
    assert_non_null(strstr(r.reason, "set-model"));
    vfy_result_free(&r);
    hist_free(&h);
}

static void verifier_budget_should_be_inconclusive_not_pass(void **state)
{
    struct hist h;
    struct hist_faults fs = {0};
    struct vfy_config cfg;
    struct vfy_result r;
    struct fl_err e;
    int i;

    (void)state;
    assert_int_equal(hist_init(&h), 0);
    for (i = 0; i < 30; i++)
        tl_op(&h, (uint32_t)i, "put", true, "hot", (uint64_t)i + 1, "west", 0, 1000, HIST_OK);
    tl_op(&h, 98, "get", false, "hot", 1, "west", 2000, 2001, HIST_OK);
    tl_op(&h, 99, "get", false, "hot", 2, "west", 2002, 2003, HIST_OK);
    tl_op(&h, 1, "put", true, "cold", 1, "west", 0, 10, HIST_OK);
    cfg_on(&cfg);
    cfg.linearizable.max_states = 5000;
    fl_err_clear(&e);
    assert_int_equal(vfy_linearizable_check(&h, &fs, &cfg, &r, &e), 0);
    assert_int_equal(r.status, VFY_INCONCLUSIVE);
    assert_false(r.pass);
    assert_int_equal(tl_num(r.measured, "keys_inconclusive"), 1);
    assert_int_equal(tl_num(r.measured, "keys_linearizable"), 1);
    assert_string_equal(json_string_value(tl_get(r.measured, "inconclusive_keys.0.key")), "hot");
    assert_int_equal(tl_num(r.bound, "max_states"), 5000);
    assert_non_null(strstr(r.reason, "budget"));
    vfy_result_free(&r);
    hist_free(&h);
}

static void run_all_should_include_linearizable_from_json(void **state)
{
    struct hist h;
    struct hist_faults fs = {0};
    struct vfy_config cfg;
    struct vfy_results rs = {0};
    const struct vfy_result *r;
    struct fl_err e;
    json_t *j;
    int i;

    (void)state;
    assert_int_equal(hist_init(&h), 0);
    for (i = 0; i < 30; i++)
        tl_op(&h, (uint32_t)i, "put", true, "hot", (uint64_t)i + 1, "west", 0, 1000, HIST_OK);
    tl_op(&h, 98, "get", false, "hot", 1, "west", 2000, 2001, HIST_OK);
    tl_op(&h, 99, "get", false, "hot", 2, "west", 2002, 2003, HIST_OK);
    vfy_config_init_defaults(&cfg);
    j = json_loads("{\"linearizable\":{\"budget\":\"1s\",\"max_states\":50}}", 0, NULL);
    assert_non_null(j);
    fl_err_clear(&e);
    assert_int_equal(vfy_config_from_json(j, &cfg, &e), 0);
    json_decref(j);
    assert_true(cfg.linearizable.enabled);
    assert_int_equal(cfg.linearizable.max_states, 50);
    assert_int_equal(cfg.linearizable.budget_ns, 1000 * MS);
    assert_int_equal(vfy_run_all(&h, &fs, &cfg, &rs, &e), 0);
    r = vfy_results_find(&rs, "linearizable");
    assert_non_null(r);
    assert_int_equal(r->status, VFY_INCONCLUSIVE);
    assert_string_equal(vfy_results_verdict(&rs), "inconclusive");
    assert_false(vfy_results_pass(&rs));
    vfy_results_free(&rs);
    hist_free(&h);
}

/* ---- public histories ---- */

static enum vfy_status fixture(const char *name)
{
    const char *src = getenv("FAULTLINE_SOURCE_DIR");
    char path[1024];
    struct hist h;
    struct vfy_result r;
    struct fl_err e;
    enum vfy_status st;

    if (src != NULL)
        snprintf(path, sizeof(path), "%s/tests/verifiers/data/linearizable/%s.jsonl", src, name);
    else /* run by hand: next to this source file */
        snprintf(path, sizeof(path), "%.*sdata/linearizable/%s.jsonl",
                 (int)(strrchr(__FILE__, '/') ? strrchr(__FILE__, '/') - __FILE__ + 1 : 0),
                 __FILE__, name);
    assert_int_equal(hist_init(&h), 0);
    fl_err_clear(&e);
    if (hist_load_jsonl(path, &h, &e) < 0) {
        print_error("%s\n", e.msg);
        fail();
    }
    run(&h, &r);
    st = r.status;
    if (st == VFY_FAIL)
        print_message("%s: %.300s\n", name, r.detail);
    vfy_result_free(&r);
    hist_free(&h);
    return st;
}

static void knossos_histories_should_match_known_verdicts(void **state)
{
    (void)state;
    assert_int_equal(fixture("knossos-bad-immediate-failure"), VFY_FAIL);
    assert_int_equal(fixture("knossos-bad-rethink-fail-minimal"), VFY_FAIL);
    assert_int_equal(fixture("knossos-bad-bad-analysis"), VFY_FAIL);
    assert_int_equal(fixture("knossos-bad-cas-failure"), VFY_FAIL);
    assert_int_equal(fixture("knossos-good-cas-register-bug"), VFY_PASS);
    assert_int_equal(fixture("knossos-good-memstress3-33"), VFY_PASS);
    /* valid for Knossos, but every operation failed: nothing was checked */
    assert_int_equal(fixture("knossos-good-mongodb-v0-ack-rollback-9"), VFY_INCONCLUSIVE);
}

static void porcupine_histories_should_match_known_verdicts(void **state)
{
    (void)state;
    assert_int_equal(fixture("porcupine-etcd_002-good"), VFY_PASS);
    assert_int_equal(fixture("porcupine-etcd_005-good"), VFY_PASS);
    assert_int_equal(fixture("porcupine-etcd_067-good"), VFY_PASS);
    assert_int_equal(fixture("porcupine-etcd_000-bad"), VFY_FAIL);
    assert_int_equal(fixture("porcupine-etcd_039-bad"), VFY_FAIL);
    assert_int_equal(fixture("porcupine-etcd_097-bad"), VFY_FAIL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_history_should_be_linearizable),
        cmocka_unit_test(stale_read_after_acknowledged_write_should_fail),
        cmocka_unit_test(searched_violation_should_report_longest_prefix),
        cmocka_unit_test(concurrent_read_should_see_either_value),
        cmocka_unit_test(lost_write_overwritten_later_should_fail),
        cmocka_unit_test(info_write_should_pass_applied_or_not),
        cmocka_unit_test(cas_swapped_false_impossible_should_fail),
        cmocka_unit_test(cas_swapped_true_impossible_should_fail),
        cmocka_unit_test(info_cas_should_pass_applied_or_not),
        cmocka_unit_test(info_read_should_be_ignored),
        cmocka_unit_test(violation_window_should_name_overlapping_ops),
        cmocka_unit_test(search_should_agree_with_brute_force),
        cmocka_unit_test(state_budget_should_give_unknown),
        cmocka_unit_test(time_budget_should_stop_within_slack),
        cmocka_unit_test(verifier_should_pass_per_key_histories),
        cmocka_unit_test(verifier_should_fail_with_key_and_window),
        cmocka_unit_test(verifier_should_report_cas_in_window),
        cmocka_unit_test(verifier_should_be_inconclusive_without_register_ops),
        cmocka_unit_test(verifier_budget_should_be_inconclusive_not_pass),
        cmocka_unit_test(run_all_should_include_linearizable_from_json),
        cmocka_unit_test(knossos_histories_should_match_known_verdicts),
        cmocka_unit_test(porcupine_histories_should_match_known_verdicts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
