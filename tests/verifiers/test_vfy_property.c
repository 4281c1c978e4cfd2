/*
 * Property tests: random valid histories with a known ground truth (planted
 * outage length, planted lost writes, planted stale reads, planted writes
 * accepted while read-only), checked over many seeds; the verifiers must
 * recover every planted number exactly. The seed is printed on failure;
 * VFY_SEED=n replays one seed, VFY_SEEDS=n changes how many run.
 *
 * The model: clients run one operation at a time; each key is written by one
 * owner client only, so writes to a key never overlap and the truth is
 * unambiguous. One fault: ops invoked in [apply_sent, apply_done + outage)
 * fail (writes sometimes info); in read-only mode writes also fail until
 * heal_sent except planted violations. Planted-loss keys are never read and
 * never deleted; their final read shows a cut write, so every later ok write
 * is lost.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "faultline/err.h"
#include "faultline/verify.h"
#include "vfy_testlib.h"

struct rng {
    uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static int64_t rin(struct rng *r, int64_t lo, int64_t hi) /* [lo, hi] */
{
    return lo + (int64_t)(rnd(r) % (uint64_t)(hi - lo + 1));
}

struct gw {
    uint64_t value;
    int64_t inv, cmp;
    int outcome;
    bool applied; /* ok, or info that took effect */
};

struct gkey {
    struct gw *w;
    size_t n, cap;
    bool planted;
};

struct truth {
    bool ro;
    int64_t rto[2];  /* read, write; -1 none */
    uint64_t att[2]; /* attempts invoked in [apply_done, heal_sent) */
    int64_t fb[2];
    uint64_t lost;
    int64_t window;
    uint64_t accepted;
    uint64_t stale, max_behind;
    int64_t max_lag;
    uint64_t during_total, during_ok;
};

static void upd_min(int64_t *m, int64_t v)
{
    if (*m < 0 || v < *m)
        *m = v;
}

static void generate(uint32_t seed, struct hist *h, struct hist_faults *fs, struct truth *t)
{
    struct rng r = {(uint64_t)seed * 0x9E3779B97F4A7C15ULL + 1};
    int C = (int)rin(&r, 2, 8), K = C + (int)rin(&r, 0, 30), k;
    int64_t next[8], end = 20000 * MS;
    int64_t A_sent = rin(&r, 4000, 8000) * MS + rin(&r, 0, 999999);
    int64_t A_done = A_sent + rin(&r, 0, 50) * MS;
    int64_t outage = rin(&r, 500, 5000) * MS + rin(&r, 0, 999999);
    int64_t H_sent = A_done + outage + rin(&r, 1000, 3000) * MS;
    int64_t H_done = H_sent + rin(&r, 0, 30) * MS;
    int64_t R = -1; /* first ok op invoked after A_done */
    struct gkey *keys = calloc((size_t)K, sizeof(*keys));
    uint64_t value = 1;
    struct hist_fault f;
    int c;

    memset(t, 0, sizeof(*t));
    t->ro = seed % 2 == 1;
    t->rto[0] = t->rto[1] = t->fb[0] = t->fb[1] = -1;
    assert_int_equal(hist_init(h), 0);
    memset(fs, 0, sizeof(*fs));
    memset(&f, 0, sizeof(f));
    strcpy(f.id, "f1");
    f.apply_sent_ns = A_sent;
    f.apply_done_ns = A_done;
    f.heal_sent_ns = H_sent;
    f.heal_done_ns = H_done;
    assert_int_equal(hist_faults_append(fs, &f), 0);
    for (k = 0; k < K; k++)
        keys[k].planted = rnd(&r) % 10 < 3;
    for (c = 0; c < C; c++)
        next[c] = rin(&r, 0, 50) * MS;

    for (;;) {
        int64_t inv, cmp;
        bool is_write, down;
        struct gkey *gk;
        char kname[16];
        int out = HIST_OK;
        uint64_t v = 0;

        c = 0;
        for (k = 1; k < C; k++) {
            if (next[k] < next[c])
                c = k;
        }
        inv = next[c];
        if (inv >= end)
            break;
        cmp = inv + rin(&r, 1, 20) * MS + rin(&r, 0, 999999);
        next[c] = cmp + rin(&r, 1, 30) * MS;
        /* writes go to keys this client owns; reads to any unplanted key */
        is_write = rnd(&r) % 2 == 0;
        k = (int)(rnd(&r) % (uint64_t)K);
        if (is_write) {
            k = k - k % C + c;
            if (k >= K)
                k = c;
        } else if (keys[k].planted) {
            int tries;

            for (tries = 0; tries < K && keys[k].planted; tries++)
                k = (k + 1) % K;
            if (keys[k].planted)
                continue;
        }
        gk = &keys[k];
        snprintf(kname, sizeof(kname), "k%d", k);
        down = inv >= A_sent && inv < A_done + outage;
        if (down)
            out = (is_write && rnd(&r) % 10 < 3) ? HIST_INFO : HIST_FAIL;
        if (is_write && t->ro && !down && inv >= A_done + outage && inv < H_sent) {
            out = HIST_FAIL;
            if (rnd(&r) % 20 == 0) {
                out = HIST_OK; /* planted: accepted while read-only */
                if (cmp <= H_sent)
                    t->accepted++;
            }
        }
        if (is_write) {
            struct gw w;

            v = (!gk->planted && rnd(&r) % 10 == 0) ? 0 : value++;
            w.value = v;
            w.inv = inv;
            w.cmp = cmp;
            w.outcome = out;
            w.applied = out == HIST_OK || (out == HIST_INFO && rnd(&r) % 2 == 0);
            if (gk->n == gk->cap) {
                gk->cap = gk->cap ? gk->cap * 2 : 16;
                gk->w = realloc(gk->w, gk->cap * sizeof(*gk->w));
            }
            gk->w[gk->n++] = w;
        } else if (out == HIST_OK) {
            /* the last ok write completed before inv; planted stale reads go back b */
            size_t idx[64], n = 0, i;

            for (i = gk->n; i > 0 && n < 64; i--) {
                if (gk->w[i - 1].outcome == HIST_OK && gk->w[i - 1].cmp < inv)
                    idx[n++] = i - 1; /* idx[0] newest */
            }
            if (n > 0)
                v = gk->w[idx[0]].value;
            if (n >= 2 && rnd(&r) % 20 == 0) {
                uint64_t b = 1 + rnd(&r) % (n - 1 < 3 ? n - 1 : 3);

                if (gk->w[idx[b]].value != 0) {
                    int64_t lag = inv - gk->w[idx[b - 1]].cmp;

                    v = gk->w[idx[b]].value;
                    t->stale++;
                    if (b > t->max_behind)
                        t->max_behind = b;
                    if (lag > t->max_lag)
                        t->max_lag = lag;
                }
            }
        }
        {
            struct hist_op o;

            memset(&o, 0, sizeof(o));
            o.client = (uint32_t)c;
            o.op = (uint16_t)hist_intern(&h->op_names, is_write ? "put" : "get");
            o.is_write = is_write;
            o.key = (uint32_t)hist_intern(&h->keys, kname);
            o.value = v;
            o.region = (uint16_t)hist_intern(&h->regions, inv < A_sent ? "west" : "north");
            o.invoke_ns = inv;
            o.complete_ns = cmp;
            o.outcome = (uint8_t)out;
            assert_int_equal(hist_append(h, &o), 0);
        }
        /* truth for failover / failback / availability */
        if (out == HIST_OK && inv >= A_done && inv < H_sent) {
            if (R < 0 || inv < R)
                R = inv;
            upd_min(&t->rto[is_write], cmp - A_done);
        }
        if (inv >= A_done && inv < H_sent)
            t->att[is_write]++;
        if (out == HIST_OK && inv >= H_done)
            upd_min(&t->fb[is_write], cmp - H_done);
        if (!is_write && inv >= A_done && inv < H_sent) {
            t->during_total++;
            t->during_ok += out == HIST_OK;
        }
    }
    /* final reads and planted losses */
    for (k = 0; k < K; k++) {
        struct gkey *gk = &keys[k];
        char kname[16];
        uint64_t fin = 0;
        size_t i, cut = SIZE_MAX;

        snprintf(kname, sizeof(kname), "k%d", k);
        if (gk->planted) {
            int64_t lag = rin(&r, 0, 3000) * MS;

            for (i = 0; i < gk->n; i++) {
                if (gk->w[i].outcome == HIST_OK && gk->w[i].cmp < A_sent - lag)
                    cut = i;
            }
        }
        if (cut != SIZE_MAX) {
            int64_t first = -1;

            fin = gk->w[cut].value;
            for (i = cut + 1; i < gk->n; i++) {
                if (gk->w[i].outcome == HIST_OK) {
                    t->lost++;
                    if (first < 0)
                        first = gk->w[i].cmp;
                }
            }
            if (first >= 0 && A_sent - first > t->window)
                t->window = A_sent - first;
        } else {
            for (i = gk->n; i > 0; i--) {
                if (gk->w[i - 1].applied) {
                    fin = gk->w[i - 1].value;
                    break;
                }
            }
        }
        tl_final(h, kname, fin, 25000 + k);
        free(gk->w);
    }
    free(keys);
    (void)R;
}

static void check_ms(uint32_t seed, json_t *m, const char *path, int64_t want_ns)
{
    json_t *v = tl_get(m, path);

    if (want_ns < 0) {
        if (v != NULL && !json_is_null(v))
            fail_msg("seed %u: %s = %g, expected null", seed, path, json_number_value(v));
        return;
    }
    if (v == NULL || !json_is_number(v))
        fail_msg("seed %u: %s missing, expected %.6f ms", seed, path, (double)want_ns / 1e6);
    if (llround(json_number_value(v) * 1e6) != want_ns)
        fail_msg("seed %u: %s = %.6f ms, expected %.6f ms", seed, path, json_number_value(v),
                 (double)want_ns / 1e6);
}

static void check_int(uint32_t seed, json_t *m, const char *path, uint64_t want)
{
    json_t *v = tl_get(m, path);

    if (v == NULL || !json_is_integer(v) || (uint64_t)json_integer_value(v) != want)
        fail_msg("seed %u: %s = %lld, expected %llu", seed, path,
                 v ? (long long)json_integer_value(v) : -1LL, (unsigned long long)want);
}

static struct {
    uint64_t lost, stale, accepted, ro_seeds, unrecovered;
} planted;

static void run_seed(uint32_t seed)
{
    struct hist h;
    struct hist_faults fs;
    struct truth t;
    struct vfy_config cfg;
    struct vfy_results rs = {0};
    const struct vfy_result *fo, *fb, *dl, *st, *av, *ro;
    struct fl_err e;

    generate(seed, &h, &fs, &t);
    planted.lost += t.lost;
    planted.stale += t.stale;
    planted.accepted += t.accepted;
    planted.ro_seeds += t.ro;
    planted.unrecovered += t.rto[0] < 0 || t.rto[1] < 0;
    vfy_config_init_defaults(&cfg);
    cfg.failover.enabled = true;
    cfg.failback.enabled = true;
    cfg.failback.writes_required = true;
    cfg.data_loss.enabled = true;
    cfg.staleness.enabled = true;
    cfg.availability.enabled = true;
    if (t.ro) {
        cfg.read_only.enabled = true;
        cfg.read_only.allowed.n = 1;
        strcpy(cfg.read_only.allowed.name[0], "get");
    }
    fl_err_clear(&e);
    if (vfy_run_all(&h, &fs, &cfg, &rs, &e) < 0)
        fail_msg("seed %u: vfy_run_all: %s", seed, e.msg);
    fo = vfy_results_find(&rs, "failover");
    fb = vfy_results_find(&rs, "failback");
    dl = vfy_results_find(&rs, "data_loss");
    st = vfy_results_find(&rs, "staleness");
    av = vfy_results_find(&rs, "availability");
    ro = vfy_results_find(&rs, "read_only");
    assert_non_null(fo);
    check_ms(seed, fo->measured, "faults.0.rto_ms.read", t.rto[0]);
    check_ms(seed, fo->measured, "faults.0.rto_ms.get", t.rto[0]);
    if (!t.ro)
        check_ms(seed, fo->measured, "faults.0.rto_ms.write", t.rto[1]);
    if (fo->pass != ((t.att[0] == 0 || t.rto[0] >= 0) && (t.ro || t.att[1] == 0 || t.rto[1] >= 0)))
        fail_msg("seed %u: failover pass=%d: %s", seed, fo->pass, fo->detail);
    check_ms(seed, fb->measured, "faults.0.rto_ms.read", t.fb[0]);
    check_ms(seed, fb->measured, "faults.0.rto_ms.write", t.fb[1]);
    check_int(seed, dl->measured, "lost_updates", t.lost);
    check_ms(seed, dl->measured, "window_ms", t.window);
    check_int(seed, st->measured, "stale_reads", t.stale);
    check_int(seed, st->measured, "max_versions_behind", t.max_behind);
    check_ms(seed, st->measured, "max_lag_ms", t.max_lag);
    if (t.during_total > 0) {
        check_int(seed, av->measured, "faults.0.during.read.total", t.during_total);
        check_int(seed, av->measured, "faults.0.during.read.ok", t.during_ok);
    } else if (tl_get(av->measured, "faults.0.during.read") != NULL) {
        fail_msg("seed %u: a class with no operations must not be reported", seed);
    }
    if (t.ro) {
        check_int(seed, ro->measured, "writes_accepted", t.accepted);
        check_int(seed, ro->measured, "allowed_not_served", 0);
        if (ro->pass != (t.accepted == 0))
            fail_msg("seed %u: read_only pass=%d: %s", seed, ro->pass, ro->detail);
    }
    vfy_results_free(&rs);
    hist_free(&h);
    hist_faults_free(&fs);
}

static void verifiers_should_recover_planted_truth_over_many_seeds(void **state)
{
    const char *one = getenv("VFY_SEED"), *many = getenv("VFY_SEEDS");
    uint32_t n = many ? (uint32_t)strtoul(many, NULL, 10) : 300, s;

    if (one != NULL) {
        run_seed((uint32_t)strtoul(one, NULL, 10));
        return;
    }
    for (s = 1; s <= n; s++)
        run_seed(s);
    print_message("%u seeds: planted %llu lost writes, %llu stale reads, %llu writes accepted "
                  "while read-only (%llu read-only seeds), %llu seeds with a class not "
                  "recovered\n",
                  n, (unsigned long long)planted.lost, (unsigned long long)planted.stale,
                  (unsigned long long)planted.accepted, (unsigned long long)planted.ro_seeds,
                  (unsigned long long)planted.unrecovered);
    /* the generator must actually plant what the verifiers are checked on */
    assert_true(n < 50 || (planted.lost > 0 && planted.stale > 0 && planted.accepted > 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(verifiers_should_recover_planted_truth_over_many_seeds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
