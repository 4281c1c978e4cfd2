/*
 * Property tests: random histories from a simulated service, judged by the
 * verifiers and by a reference (vfy_reference.c) written from the rules in
 * docs/internals/verifiers.md (brute force over the records, none of the
 * verifiers' code). Every verdict (pass, fail, inconclusive) and the main
 * figures must agree, over many seeds. The seed is printed on failure;
 * VFY_SEED=n replays one seed, VFY_SEEDS=n changes how many run.
 *
 * The simulated service: one or two faults (the last one sometimes never
 * healed); the service is down from apply_sent until it fails over, with
 * sporadic successes (never sustained) in some seeds; it may relapse after
 * failing over or after the heal, be briefly down after the heal, never fail
 * over at all, or be partially available (some operations fail while up).
 * In read-only seeds writes are refused while a fault is in effect, except a
 * few that are accepted (violations). Reads return the newest write
 * acknowledged before they began, or (planted) an older one: stale reads,
 * and read-your-writes and monotonic-read violations when the reader wrote
 * or saw the newer value. Some register keys lose writes (their final read
 * shows an older value), before the fault only or on both sides of it; some
 * set-model keys lose elements. Bounds are placed exactly at the reference
 * figure (just inside) or one nanosecond / one update / a hair of ratio
 * beyond it (just outside), so every comparison's edge is exercised.
 *
 * Clients run one operation at a time; each register key is written by one
 * owner client only, so writes to a key never overlap.
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
#include "vfy_reference.h"
#include "vfy_testlib.h"

#define NVER 7 /* failover, failback, read_only, data_loss, staleness, availability, verdict */

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

static bool chance(struct rng *r, unsigned percent)
{
    return rnd(r) % 100 < percent;
}

/* ------------------------------------------------------------------ */
/* The simulated service and the history generator                     */
/* ------------------------------------------------------------------ */

struct span {
    int64_t from, to; /* [from, to) */
};

struct plan {
    int nclients, nkeys, nset;
    size_t nfaults;
    struct hist_fault f[2];
    struct span down[8];
    size_t ndown;
    unsigned sporadic; /* % ok while down */
    unsigned up_ok;    /* % ok while up */
    bool ro, writes_stop, no_finals;
    bool quiet; /* no operation while a fault is in effect: nothing to judge there */
    bool clean; /* no planted anomaly: no stale read, loss or accepted write, no relapse */
    int64_t end;
};

struct gw {
    uint64_t value;
    int64_t inv, cmp;
    int outcome;
    bool applied; /* ok, or info that took effect */
};

struct gkey {
    struct gw *w;
    size_t n, cap;
    int loss; /* 0 none, 1 loses writes before the fault only, 2 on both sides */
};

static bool is_down(const struct plan *p, int64_t t)
{
    size_t i;

    for (i = 0; i < p->ndown; i++) {
        if (t >= p->down[i].from && t < p->down[i].to)
            return true;
    }
    return false;
}

static bool in_fault(const struct plan *p, int64_t t)
{
    size_t i;

    for (i = 0; i < p->nfaults; i++) {
        if (t >= p->f[i].apply_sent_ns && (p->f[i].heal_sent_ns == 0 || t < p->f[i].heal_sent_ns))
            return true;
    }
    return false;
}

static void add_down(struct plan *p, int64_t from, int64_t to)
{
    if (p->ndown < 8 && to > from)
        p->down[p->ndown++] = (struct span){from, to};
}

/* The fault timeline and the service's down intervals. */
static void make_plan(struct rng *r, struct plan *p)
{
    int64_t t = rin(r, 3000, 5000) * MS + rin(r, 0, 999999);
    size_t i;

    memset(p, 0, sizeof(*p));
    p->nclients = (int)rin(r, 2, 6);
    p->nkeys = p->nclients + (int)rin(r, 0, 20);
    p->nset = chance(r, 60) ? (int)rin(r, 1, 3) : 0;
    p->clean = chance(r, 30);
    p->nfaults = chance(r, 40) ? 2 : 1;
    p->sporadic = chance(r, 35) ? (unsigned)rin(r, 5, 30) : 0;
    p->up_ok = !p->clean && chance(r, 30) ? (unsigned)rin(r, 85, 99) : 100;
    p->ro = chance(r, 50);
    p->writes_stop = chance(r, 10);
    p->no_finals = chance(r, 5);
    p->quiet = chance(r, 5);
    for (i = 0; i < p->nfaults; i++) {
        struct hist_fault *f = &p->f[i];
        bool last = i + 1 == p->nfaults, unhealed = last && chance(r, 15);
        bool no_failover = chance(r, 10);
        int64_t outage = rin(r, 300, 4000) * MS + rin(r, 0, 999999), up;

        snprintf(f->id, sizeof(f->id), "f%zu", i + 1);
        snprintf(f->kind, sizeof(f->kind), "isolate");
        f->apply_sent_ns = t;
        f->apply_done_ns = t + rin(r, 0, 50) * MS + rin(r, 0, 999999);
        up = f->apply_done_ns + outage;
        f->heal_sent_ns = up + rin(r, 1000, 3000) * MS + rin(r, 0, 999999);
        f->heal_done_ns = f->heal_sent_ns + rin(r, 0, 30) * MS + rin(r, 0, 999999);
        if (no_failover)
            up = f->heal_sent_ns + rin(r, 0, 200) * MS;
        add_down(p, f->apply_sent_ns, up);
        if (!p->clean && chance(r, 30)) { /* relapse after failing over */
            int64_t at = up + rin(r, 0, 1500) * MS + rin(r, 0, 999999);

            add_down(p, at, at + rin(r, 200, 1500) * MS);
        }
        if (unhealed) {
            f->heal_sent_ns = f->heal_done_ns = 0;
            t = up + rin(r, 2000, 4000) * MS;
            break;
        }
        if (chance(r, 40)) /* down briefly after the heal */
            add_down(p, f->heal_sent_ns, f->heal_done_ns + rin(r, 100, 2000) * MS);
        if (!p->clean && chance(r, 30)) { /* relapse after the heal */
            int64_t at = f->heal_done_ns + rin(r, 500, 2500) * MS;

            add_down(p, at, at + rin(r, 200, 1500) * MS);
        }
        t = f->heal_done_ns + rin(r, 3000, 5000) * MS + rin(r, 0, 999999);
    }
    p->end = t;
}

static void gk_add(struct gkey *gk, const struct gw *w)
{
    if (gk->n == gk->cap) {
        gk->cap = gk->cap ? gk->cap * 2 : 16;
        gk->w = realloc(gk->w, gk->cap * sizeof(*gk->w));
        assert_non_null(gk->w);
    }
    gk->w[gk->n++] = *w;
}

static void append(struct hist *h, const struct plan *p, int c, const char *op, bool is_write,
                   const char *key, uint64_t v, int64_t inv, int64_t cmp, int out, bool set)
{
    struct hist_op o;

    memset(&o, 0, sizeof(o));
    o.client = (uint32_t)c;
    o.op = (uint16_t)hist_intern(&h->op_names, op);
    o.is_write = is_write;
    o.key = (uint32_t)hist_intern(&h->keys, key);
    o.value = v;
    o.region = (uint16_t)hist_intern(&h->regions, inv < p->f[0].apply_sent_ns ? "west" : "north");
    o.invoke_ns = inv;
    o.complete_ns = cmp;
    o.outcome = (uint8_t)out;
    o.flags = set ? HIST_F_SET : 0;
    assert_int_equal(hist_append(h, &o), 0);
}

/* The value a read invoked at inv returns from key gk (0: initial state). */
static uint64_t read_value(struct rng *r, const struct plan *p, const struct gkey *gk, int64_t inv)
{
    size_t idx[64], n = 0, i;

    for (i = gk->n; i > 0 && n < 64; i--) {
        if (gk->w[i - 1].applied && gk->w[i - 1].cmp < inv)
            idx[n++] = i - 1; /* idx[0] newest */
    }
    if (n == 0)
        return 0;
    if (p->clean)
        return gk->w[idx[0]].value;
    if (chance(r, 1))
        return 1000000000ULL + rnd(r) % 1000; /* a value no write wrote */
    if (n >= 2 && chance(r, 6))               /* planted: 1 to 3 versions behind */
        return gk->w[idx[1 + rnd(r) % (n - 1 < 3 ? n - 1 : 3)]].value;
    return gk->w[idx[0]].value;
}

static int outcome_of(struct rng *r, const struct plan *p, bool is_write, int64_t inv)
{
    int out = HIST_OK;

    if (is_down(p, inv))
        out = chance(r, p->sporadic) ? HIST_OK : HIST_FAIL;
    else if (!chance(r, p->up_ok))
        out = HIST_FAIL;
    if (out == HIST_FAIL && is_write && chance(r, 30))
        out = HIST_INFO;
    if (p->ro && is_write && in_fault(p, inv) && out == HIST_OK && (p->clean || !chance(r, 4)))
        out = chance(r, 20) ? HIST_INFO : HIST_FAIL; /* refused (or timed out) while read-only;
                                                      * the rest are accepted: violations */
    return out;
}

static void generate(uint32_t seed, struct hist *h, struct hist_faults *fs, struct plan *p)
{
    struct rng r = {(uint64_t)seed * 0x9E3779B97F4A7C15ULL + 1};
    struct gkey *keys, *skeys;
    int64_t next[8];
    uint64_t value = 1;
    size_t i;
    int c, k;

    make_plan(&r, p);
    keys = calloc((size_t)p->nkeys, sizeof(*keys));
    skeys = calloc((size_t)p->nset + 1, sizeof(*skeys));
    assert_non_null(keys);
    assert_non_null(skeys);
    assert_int_equal(hist_init(h), 0);
    memset(fs, 0, sizeof(*fs));
    for (i = 0; i < p->nfaults; i++)
        assert_int_equal(hist_faults_append(fs, &p->f[i]), 0);
    for (k = 0; k < p->nkeys; k++)
        keys[k].loss = !p->clean && chance(&r, 30) ? (int)rin(&r, 1, 2) : 0;
    for (c = 0; c < p->nclients; c++)
        next[c] = rin(&r, 0, 50) * MS;

    for (;;) {
        int64_t inv, cmp;
        bool is_write;
        struct gkey *gk;
        char kname[16];
        int out;
        struct gw w;

        c = 0;
        for (k = 1; k < p->nclients; k++) {
            if (next[k] < next[c])
                c = k;
        }
        inv = next[c];
        if (inv >= p->end)
            break;
        cmp = inv + rin(&r, 1, 20) * MS + rin(&r, 0, 999999);
        next[c] = cmp + rin(&r, 1, 30) * MS;
        if (p->quiet && in_fault(p, inv))
            continue;
        is_write = chance(&r, 50);
        if (is_write && p->writes_stop && p->f[0].heal_sent_ns && inv >= p->f[0].heal_sent_ns)
            is_write = false;
        if (is_write && p->nset > 0 && chance(&r, 15)) { /* a set-model add */
            int s = (int)(rnd(&r) % (uint64_t)p->nset);

            out = outcome_of(&r, p, true, inv);
            w = (struct gw){value++, inv, cmp, out,
                            out == HIST_OK || (out == HIST_INFO && chance(&r, 50))};
            gk_add(&skeys[s], &w);
            snprintf(kname, sizeof(kname), "s%d", s);
            append(h, p, c, "add", true, kname, w.value, inv, cmp, out, true);
            continue;
        }
        k = (int)(rnd(&r) % (uint64_t)p->nkeys);
        if (is_write) {
            k = k - k % p->nclients + c;
            if (k >= p->nkeys)
                k = c;
            /* keys that lose writes before the fault only are not written after it */
            if (keys[k].loss == 1 && inv >= p->f[0].apply_sent_ns)
                is_write = false;
        }
        if (!is_write) {
            int tries;

            if (chance(&r, 30)) /* the reader's own key: read-your-writes is judged */
                k = c < p->nkeys ? c : k;
            for (tries = 0; tries < p->nkeys && keys[k].loss; tries++)
                k = (k + 1) % p->nkeys;
            if (keys[k].loss)
                continue;
        }
        gk = &keys[k];
        snprintf(kname, sizeof(kname), "k%d", k);
        out = outcome_of(&r, p, is_write, inv);
        if (is_write) {
            w.value = (!gk->loss && chance(&r, 10)) ? 0 : value++;
            w.inv = inv;
            w.cmp = cmp;
            w.outcome = out;
            w.applied = out == HIST_OK || (out == HIST_INFO && chance(&r, 50));
            gk_add(gk, &w);
            append(h, p, c, "put", true, kname, w.value, inv, cmp, out, false);
        } else {
            uint64_t v = out == HIST_OK ? read_value(&r, p, gk, inv) : 0;

            append(h, p, c, "get", false, kname, v, inv, cmp, out, false);
        }
    }
    /* final reads: register keys that lose writes show a write cut before the fault */
    for (k = 0; k < p->nkeys && !p->no_finals; k++) {
        struct gkey *gk = &keys[k];
        char kname[16];
        uint64_t fin = 0;
        size_t cut = SIZE_MAX;

        snprintf(kname, sizeof(kname), "k%d", k);
        if (gk->loss) {
            int64_t lag = rin(&r, 0, 2000) * MS;

            for (i = 0; i < gk->n; i++) {
                if (gk->w[i].outcome == HIST_OK && gk->w[i].cmp < p->f[0].apply_sent_ns - lag)
                    cut = i;
            }
        }
        if (cut != SIZE_MAX) {
            fin = gk->w[cut].value;
        } else {
            for (i = gk->n; i > 0; i--) {
                if (gk->w[i - 1].applied) {
                    fin = gk->w[i - 1].value;
                    break;
                }
            }
        }
        tl_final(h, kname, fin, p->end / MS + 1000 + k);
    }
    /* set keys: every applied element, minus a few planted losses */
    for (k = 0; k < p->nset && !p->no_finals; k++) {
        struct gkey *gk = &skeys[k];
        uint64_t *el = calloc(gk->n + 1, sizeof(*el));
        size_t n = 0, fi;
        bool drop = !p->clean && chance(&r, 40);
        char kname[16];
        struct hist_op o;

        assert_non_null(el);
        for (i = 0; i < gk->n; i++) {
            if (gk->w[i].applied && !(drop && gk->w[i].outcome == HIST_OK && chance(&r, 15)))
                el[n++] = gk->w[i].value;
        }
        snprintf(kname, sizeof(kname), "s%d", k);
        fi = tl_final(h, kname, 0, p->end / MS + 2000 + k);
        o = h->ops[fi];
        h->n--; /* replaced by the same record carrying the set */
        assert_int_equal(hist_append_set_read(h, &o, el, n), 0);
        free(el);
    }
    for (k = 0; k < p->nkeys; k++)
        free(keys[k].w);
    for (k = 0; k < p->nset; k++)
        free(skeys[k].w);
    free(keys);
    free(skeys);
}

/* ------------------------------------------------------------------ */
/* One seed                                                             */
/* ------------------------------------------------------------------ */

static const char *const vname[NVER] = {"failover",  "failback",     "read_only", "data_loss",
                                        "staleness", "availability", "verdict"};

static struct {
    uint64_t seen[NVER][3];
    uint64_t fo_never, fo_slow, lost_before, lost_after, set_lost, ryw, mono, stale, accepted;
} tally;

/* A bound at the figure (just inside) or one step past it (just outside). */
static int64_t edge(struct rng *r, int64_t figure)
{
    switch (rnd(r) % 4) {
    case 0:
        return figure;
    case 1:
        return figure > 0 ? figure - 1 : 0;
    case 2:
        return VFY_UNBOUNDED;
    default:
        return figure + (int64_t)(rnd(r) % (2000 * MS));
    }
}

static void check_status(uint32_t seed, const struct vfy_result *res, enum vfy_status want)
{
    if (res->status != want)
        fail_msg("seed %u: %s is %s, the reference says %s: %s", seed, res->name,
                 vfy_status_name(res->status), vfy_status_name(want), res->detail);
    if (res->pass != (want == VFY_PASS))
        fail_msg("seed %u: %s: pass flag %d with status %s", seed, res->name, res->pass,
                 vfy_status_name(res->status));
    if (want == VFY_INCONCLUSIVE && (res->reason == NULL || res->reason[0] == '\0'))
        fail_msg("seed %u: %s is inconclusive without a reason", seed, res->name);
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

/* The configuration of a seed, bounds unset (measure only). */
static void seed_config(struct rng *r, const struct plan *p, struct vfy_config *cfg)
{
    vfy_config_init_defaults(cfg);
    cfg->failover.enabled = cfg->failback.enabled = true;
    cfg->data_loss.enabled = cfg->staleness.enabled = cfg->availability.enabled = true;
    cfg->failover.max_ns = cfg->failback.max_ns = VFY_UNBOUNDED;
    cfg->data_loss.max_updates = cfg->data_loss.max_window_ns = VFY_UNBOUNDED;
    cfg->data_loss.max_after_ns = VFY_UNBOUNDED;
    cfg->staleness.max_versions = cfg->staleness.max_lag_ns = VFY_UNBOUNDED;
    cfg->failover.sustain.window_ns = rin(r, 500, 3000) * MS;
    cfg->failover.sustain.min_ratio = chance(r, 50) ? 0.95 : 0.8 + (double)rin(r, 0, 20) / 100;
    cfg->failback.sustain = cfg->failover.sustain;
    cfg->failover.anchor = chance(r, 25) ? VFY_ANCHOR_SENT : VFY_ANCHOR_DONE;
    cfg->failback.anchor = chance(r, 25) ? VFY_ANCHOR_SENT : VFY_ANCHOR_DONE;
    cfg->failback.writes_required = chance(r, 60);
    cfg->staleness.read_your_writes = chance(r, 50);
    cfg->staleness.monotonic_reads = chance(r, 50);
    if (p->ro) {
        cfg->read_only.enabled = true;
        cfg->read_only.allowed.n = 1;
        strcpy(cfg->read_only.allowed.name[0], "get");
        cfg->read_only.grace_ns = chance(r, 50) ? 0 : rin(r, 0, 3000) * MS;
    }
}

/* Availability floors: at a judged cell's ratio, a hair above it, or for an absent class. */
static void seed_floors(struct rng *r, const struct ref *rf, const struct av_truth *t,
                        struct vfy_availability_cfg *av)
{
    static const char *const cls[] = {"read", "write", "get", "put"};
    size_t i, n = (size_t)rin(r, 1, 3);

    av->nfloors = 0;
    for (i = 0; i < n; i++) {
        struct vfy_floor *fr = &av->floors[av->nfloors++];
        size_t c = (size_t)rin(r, 0, 3), cid, fi = (size_t)rin(r, 0, (int64_t)rf->nf - 1);
        const struct av_cell *x;

        fr->phase = (int)rin(r, -1, 2);
        snprintf(fr->cls, sizeof(fr->cls), "%s", cls[c]);
        if (chance(r, 5)) {
            snprintf(fr->cls, sizeof(fr->cls), "delete-secret"); /* never appears */
            fr->min_ratio = 0.5;
            continue;
        }
        for (cid = 0; cid < rf->ncls && strcmp(cls_name(rf, cid), fr->cls) != 0; cid++)
            ;
        x = cid < rf->ncls ? &t->cell[fi][fr->phase < 0 ? 1 : fr->phase][cid] : NULL;
        if (x == NULL || x->total == 0) {
            fr->min_ratio = 0.5;
            continue;
        }
        fr->min_ratio = (double)x->ok / (double)x->total;
        if (chance(r, 50))
            fr->min_ratio += 1e-6; /* just outside */
        if (fr->min_ratio > 1.0)
            fr->min_ratio = 1.0;
    }
}

static void tally_status(size_t v, enum vfy_status st)
{
    tally.seen[v][st]++;
}

/* Everything one seed works on: its history, configuration, results and the reference's truths. */
struct seed_run {
    uint32_t seed;
    struct rng r;
    struct hist h;
    struct hist_faults fs;
    struct plan p;
    struct vfy_config cfg;
    struct vfy_results rs;
    const struct vfy_result *fo, *fb, *dl, *st, *av, *ro;
    struct rec_truth tfo, tfb;
    struct ro_truth tro;
    struct dl_truth tdl;
    struct st_truth tst;
    struct av_truth tav;
    struct ref rf;
};

/* The reference's figures with the bounds unset (measure only). */
static void reference_figures(struct seed_run *s)
{
    ref_rec(&s->rf, &s->cfg, false, &s->tfo);
    ref_rec(&s->rf, &s->cfg, true, &s->tfb);
    ref_data_loss(&s->h, &s->fs, &s->cfg.data_loss, &s->tdl);
    ref_staleness(&s->rf, &s->cfg.staleness, &s->tst);
    ref_availability(&s->rf, &s->cfg.availability, &s->tav);
}

/* Bounds at the edges of the reference's figures, floors, and allowed inconclusives. */
static void place_bounds(struct seed_run *s)
{
    struct rng *r = &s->r;
    struct vfy_config *cfg = &s->cfg;
    size_t fi;

    if (s->tfo.worst >= 0 && chance(r, 80))
        cfg->failover.max_ns = edge(r, s->tfo.worst);
    else if (chance(r, 50))
        cfg->failover.max_ns = rin(r, 0, 20000) * MS;
    if (s->tfb.worst >= 0 && chance(r, 80))
        cfg->failback.max_ns = edge(r, s->tfb.worst);
    for (fi = 0; fi < s->fs.n; fi++) {
        uint64_t lost = s->tdl.lost_f[fi];

        if (lost && (cfg->data_loss.max_updates < 0 ||
                     lost < (uint64_t)cfg->data_loss.max_updates || chance(r, 50)))
            cfg->data_loss.max_updates = chance(r, 50) ? (int64_t)lost : (int64_t)lost - 1;
    }
    if (s->tdl.before)
        cfg->data_loss.max_window_ns = edge(r, s->tdl.window);
    cfg->data_loss.max_after_ns = s->tdl.after    ? edge(r, s->tdl.window_after)
                                  : chance(r, 50) ? 0
                                                  : -1;
    if (s->tst.stale) {
        cfg->staleness.max_versions =
            chance(r, 50) ? (int64_t)s->tst.max_behind - (int64_t)rin(r, 0, 1) : VFY_UNBOUNDED;
        cfg->staleness.max_lag_ns = edge(r, s->tst.max_lag);
    }
    seed_floors(r, &s->rf, &s->tav, &cfg->availability);
    if (chance(r, 20)) {
        cfg->allow_inconclusive.n = 1;
        strcpy(cfg->allow_inconclusive.name[0], chance(r, 50) ? "failback" : "availability");
    }
}

/* The reference's verdicts under the bounds. */
static void reference_verdicts(struct seed_run *s)
{
    ref_rec(&s->rf, &s->cfg, false, &s->tfo);
    ref_rec(&s->rf, &s->cfg, true, &s->tfb);
    ref_read_only(&s->rf, &s->cfg, &s->tro);
    ref_data_loss(&s->h, &s->fs, &s->cfg.data_loss, &s->tdl);
    ref_staleness(&s->rf, &s->cfg.staleness, &s->tst);
    ref_availability(&s->rf, &s->cfg.availability, &s->tav);
}

static void run_verifiers(struct seed_run *s)
{
    struct fl_err e;

    fl_err_clear(&e);
    if (vfy_run_all(&s->h, &s->fs, &s->cfg, &s->rs, &e) < 0)
        fail_msg("seed %u: vfy_run_all: %s", s->seed, e.msg);
    vfy_results_allow(&s->rs, &s->cfg);
    s->fo = vfy_results_find(&s->rs, "failover");
    s->fb = vfy_results_find(&s->rs, "failback");
    s->dl = vfy_results_find(&s->rs, "data_loss");
    s->st = vfy_results_find(&s->rs, "staleness");
    s->av = vfy_results_find(&s->rs, "availability");
    s->ro = vfy_results_find(&s->rs, "read_only");
    assert_non_null(s->fo);
    assert_non_null(s->fb);
    assert_non_null(s->dl);
    assert_non_null(s->st);
    assert_non_null(s->av);
    assert_true(s->p.ro == (s->ro != NULL));
}

/* Every verifier's verdict and the run's, against the reference; tallied. */
static void compare_verdicts(struct seed_run *s)
{
    const enum vfy_status all[] = {s->tfo.st, s->tfb.st, s->tdl.st,
                                   s->tst.st, s->tav.st, s->p.ro ? s->tro.st : VFY_PASS};
    const char *const names[] = {"failover",  "failback",     "data_loss",
                                 "staleness", "availability", "read_only"};
    enum vfy_status want_all = VFY_PASS;
    uint32_t seed = s->seed;
    size_t i;

    check_status(seed, s->fo, s->tfo.st);
    check_status(seed, s->fb, s->tfb.st);
    check_status(seed, s->dl, s->tdl.st);
    check_status(seed, s->st, s->tst.st);
    check_status(seed, s->av, s->tav.st);
    if (s->ro != NULL)
        check_status(seed, s->ro, s->tro.st);
    for (i = 0; i < 6; i++) {
        if (all[i] == VFY_FAIL)
            want_all = VFY_FAIL;
        else if (all[i] == VFY_INCONCLUSIVE && want_all == VFY_PASS &&
                 !names_has(&s->cfg.allow_inconclusive, names[i]))
            want_all = VFY_INCONCLUSIVE;
    }
    if (strcmp(vfy_results_verdict(&s->rs), vfy_status_name(want_all)) != 0)
        fail_msg("seed %u: run verdict %s, the reference says %s", seed,
                 vfy_results_verdict(&s->rs), vfy_status_name(want_all));
    assert_int_equal(vfy_results_pass(&s->rs), want_all == VFY_PASS);
    tally_status(0, s->tfo.st);
    tally_status(1, s->tfb.st);
    tally_status(2, s->p.ro ? s->tro.st : VFY_PASS);
    tally_status(3, s->tdl.st);
    tally_status(4, s->tst.st);
    tally_status(5, s->tav.st);
    tally_status(6, want_all);
}

/* Failover and failback: each fault's recovery time per operation class. */
static void compare_recovery_figures(const struct seed_run *s)
{
    const struct vfy_result *fo = s->fo;
    size_t fi, cls;

    for (fi = 0; fi < s->fs.n; fi++) {
        for (cls = 0; cls < s->rf.ncls && cls < 16; cls++) {
            char path[96];

            if (s->tfo.rto[fi][cls] != -2 && fo->measured != NULL &&
                tl_get(fo->measured, "faults") != NULL) {
                snprintf(path, sizeof(path), "faults.%zu.rto_ms.%s", fi, cls_name(&s->rf, cls));
                if (tl_get(fo->measured, path) != NULL)
                    check_ms(s->seed, fo->measured, path, s->tfo.rto[fi][cls]);
                else if (!s->p.ro || cls == 0 || strcmp(cls_name(&s->rf, cls), "get") == 0)
                    fail_msg("seed %u: failover %s missing", s->seed, path);
            }
            if (s->tfb.rto[fi][cls] != -2) {
                snprintf(path, sizeof(path), "faults.%zu.rto_ms.%s", fi, cls_name(&s->rf, cls));
                check_ms(s->seed, s->fb->measured, path, s->tfb.rto[fi][cls]);
            }
        }
    }
}

static void compare_data_loss_figures(const struct seed_run *s)
{
    json_t *m = s->dl->measured;
    const struct dl_truth *t = &s->tdl;
    uint32_t seed = s->seed;
    size_t fi;

    check_int(seed, m, "lost_updates", t->lost);
    check_int(seed, m, "lost_before", t->before);
    check_int(seed, m, "lost_after", t->after);
    check_int(seed, m, "checked_writes", t->checked);
    check_ms(seed, m, "window_ms", t->window);
    check_ms(seed, m, "window_after_ms", t->window_after);
    if (strcmp(json_string_value(json_object_get(m, "model")), t->set ? "set" : "register") != 0)
        fail_msg("seed %u: data_loss model %s", seed,
                 json_string_value(json_object_get(m, "model")));
    for (fi = 0; fi < s->fs.n; fi++) {
        char path[64];

        snprintf(path, sizeof(path), "faults.%zu.lost_before", fi);
        check_int(seed, m, path, t->before_f[fi]);
        snprintf(path, sizeof(path), "faults.%zu.lost_after", fi);
        check_int(seed, m, path, t->after_f[fi]);
    }
}

static void compare_staleness_figures(const struct seed_run *s)
{
    json_t *m = s->st->measured;
    const struct st_truth *t = &s->tst;
    uint32_t seed = s->seed;

    check_int(seed, m, "reads_checked", t->reads);
    check_int(seed, m, "stale_reads", t->stale);
    check_int(seed, m, "max_versions_behind", t->max_behind);
    check_ms(seed, m, "max_lag_ms", t->max_lag);
    check_int(seed, m, "over_bound", t->over);
    check_int(seed, m, "read_your_writes_violations", t->ryw);
    check_int(seed, m, "monotonic_reads_violations", t->mono);
    check_int(seed, m, "unknown_values", t->unknown);
    check_int(seed, m, "unjudged_reads", t->unjudged);
}

/* Availability: below_floor, then each fault's per-phase, per-class totals and successes. */
static void compare_availability_figures(const struct seed_run *s)
{
    static const char *const ph[] = {"before", "during", "after"};
    json_t *m = s->av->measured;
    uint32_t seed = s->seed;
    size_t fi, pi, cls;

    check_int(seed, m, "below_floor", s->tav.below);
    for (fi = 0; fi < s->fs.n; fi++) {
        for (pi = 0; pi < 3; pi++) {
            for (cls = 0; cls < s->rf.ncls && cls < 16; cls++) {
                const struct av_cell *x = &s->tav.cell[fi][pi][cls];
                const char *name = cls_name(&s->rf, cls);
                char path[96];

                if (name[0] == '\0')
                    continue; /* the unnamed operation: no record */
                snprintf(path, sizeof(path), "faults.%zu.%s.%s", fi, ph[pi], name);
                if (x->total == 0) {
                    if (tl_get(m, path) != NULL)
                        fail_msg("seed %u: %s reported with no operation", seed, path);
                    continue;
                }
                snprintf(path, sizeof(path), "faults.%zu.%s.%s.total", fi, ph[pi], name);
                check_int(seed, m, path, x->total);
                snprintf(path, sizeof(path), "faults.%zu.%s.%s.ok", fi, ph[pi], name);
                check_int(seed, m, path, x->ok);
            }
        }
    }
}

static void compare_read_only_figures(const struct seed_run *s)
{
    if (s->ro != NULL) {
        check_int(s->seed, s->ro->measured, "writes_accepted", s->tro.accepted);
        check_int(s->seed, s->ro->measured, "allowed_not_served", s->tro.not_served);
    }
}

static void tally_figures(const struct seed_run *s)
{
    tally.fo_never += s->tfo.st == VFY_FAIL && s->tfo.worst < 0;
    tally.fo_slow += s->tfo.st == VFY_FAIL && s->tfo.worst >= 0;
    tally.lost_before += s->tdl.before;
    tally.lost_after += s->tdl.after;
    tally.set_lost += s->tdl.set && s->tdl.lost;
    tally.ryw += s->tst.ryw;
    tally.mono += s->tst.mono;
    tally.stale += s->tst.stale;
    tally.accepted += s->p.ro ? s->tro.accepted : 0;
}

static void run_seed(uint32_t seed)
{
    struct seed_run s;

    memset(&s, 0, sizeof(s));
    s.seed = seed;
    s.r.s = (uint64_t)seed * 0xD1B54A32D192ED03ULL + 7;
    generate(seed, &s.h, &s.fs, &s.p);
    ref_init(&s.rf, &s.h, &s.fs);
    seed_config(&s.r, &s.p, &s.cfg);

    /* figures first (bounds unset), then bounds at their edges, then verdicts */
    reference_figures(&s);
    place_bounds(&s);
    reference_verdicts(&s);
    run_verifiers(&s);

    /* every verdict, and the figures */
    compare_verdicts(&s);
    compare_recovery_figures(&s);
    compare_data_loss_figures(&s);
    compare_staleness_figures(&s);
    compare_availability_figures(&s);
    compare_read_only_figures(&s);

    tally_figures(&s);
    vfy_results_free(&s.rs);
    ref_free(&s.rf);
    hist_free(&s.h);
    hist_faults_free(&s.fs);
}

static void verifiers_should_agree_with_the_reference_over_many_seeds(void **state)
{
    const char *one = getenv("VFY_SEED"), *many = getenv("VFY_SEEDS");
    uint32_t n = many ? (uint32_t)strtoul(many, NULL, 10) : 300, s;
    size_t v;

    if (one != NULL) {
        run_seed((uint32_t)strtoul(one, NULL, 10));
        return;
    }
    for (s = 1; s <= n; s++)
        run_seed(s);
    for (v = 0; v < NVER; v++)
        print_message("%-12s pass %4llu  fail %4llu  inconclusive %4llu\n", vname[v],
                      (unsigned long long)tally.seen[v][VFY_PASS],
                      (unsigned long long)tally.seen[v][VFY_FAIL],
                      (unsigned long long)tally.seen[v][VFY_INCONCLUSIVE]);
    print_message("failover failed %llu times never recovering, %llu times over the bound\n",
                  (unsigned long long)tally.fo_never, (unsigned long long)tally.fo_slow);
    print_message("%u seeds: %llu lost before, %llu lost after the fault start, %llu seeds with "
                  "set elements lost, %llu stale reads, %llu read-your-writes and %llu monotonic "
                  "violations, %llu writes accepted while read-only\n",
                  n, (unsigned long long)tally.lost_before, (unsigned long long)tally.lost_after,
                  (unsigned long long)tally.set_lost, (unsigned long long)tally.stale,
                  (unsigned long long)tally.ryw, (unsigned long long)tally.mono,
                  (unsigned long long)tally.accepted);
    if (n < 200)
        return;
    /* the generator must reach every verdict it is meant to exercise */
    for (v = 0; v < NVER; v++) {
        if (tally.seen[v][VFY_PASS] == 0 || tally.seen[v][VFY_FAIL] == 0)
            fail_msg("%s: never passed or never failed over %u seeds", vname[v], n);
    }
    assert_true(tally.seen[0][VFY_INCONCLUSIVE] > 0); /* failover */
    assert_true(tally.seen[1][VFY_INCONCLUSIVE] > 0); /* failback */
    assert_true(tally.seen[2][VFY_INCONCLUSIVE] > 0); /* read_only */
    assert_true(tally.seen[3][VFY_INCONCLUSIVE] > 0); /* data_loss */
    assert_true(tally.seen[5][VFY_INCONCLUSIVE] > 0); /* availability */
    assert_true(tally.seen[6][VFY_INCONCLUSIVE] > 0); /* the run */
    assert_true(tally.fo_never > 0 && tally.fo_slow > 0);
    assert_true(tally.lost_before > 0 && tally.lost_after > 0 && tally.set_lost > 0);
    assert_true(tally.ryw > 0 && tally.mono > 0 && tally.stale > 0 && tally.accepted > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(verifiers_should_agree_with_the_reference_over_many_seeds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
