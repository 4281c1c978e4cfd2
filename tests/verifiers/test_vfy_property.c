/*
 * Property tests: random histories from a simulated service, judged by the
 * verifiers and by a reference written here from the rules in
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
#include "vfy_testlib.h"

#define NINF INT64_MIN
#define PINF INT64_MAX
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

static bool names_has(const struct vfy_names *n, const char *s)
{
    size_t i;

    for (i = 0; i < n->n; i++) {
        if (strcmp(n->name[i], s) == 0)
            return true;
    }
    return false;
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
/* The reference: each rule of docs/internals/verifiers.md, brute force */
/* ------------------------------------------------------------------ */

struct ref {
    const struct hist *h;
    const struct hist_op **ops; /* non-final records by invoke time */
    size_t n;
    const struct hist_fault **f; /* by apply_sent */
    size_t nf;
    size_t ncls;                  /* read, write, then one per operation name */
    const struct hist_op ***kops; /* per key: its non-final records by invoke time */
    size_t *kn;
    int8_t *okind; /* per record of h: observed() result, -1 not yet */
    const struct hist_op **owx;
};

static int cmp_inv(const void *a, const void *b)
{
    const struct hist_op *x = *(const struct hist_op *const *)a,
                         *y = *(const struct hist_op *const *)b;

    if (x->invoke_ns != y->invoke_ns)
        return x->invoke_ns < y->invoke_ns ? -1 : 1;
    return x < y ? -1 : x > y;
}

static void ref_init(struct ref *rf, const struct hist *h, const struct hist_faults *fs)
{
    size_t i;

    memset(rf, 0, sizeof(*rf));
    rf->h = h;
    rf->ops = calloc(h->n + 1, sizeof(*rf->ops));
    assert_non_null(rf->ops);
    for (i = 0; i < h->n; i++) {
        if (!h->ops[i].is_final)
            rf->ops[rf->n++] = &h->ops[i];
    }
    qsort(rf->ops, rf->n, sizeof(*rf->ops), cmp_inv);
    rf->f = calloc(fs->n + 1, sizeof(*rf->f));
    for (i = 0; i < fs->n; i++)
        rf->f[i] = &fs->f[i]; /* generated in apply_sent order */
    rf->nf = fs->n;
    rf->ncls = 2 + h->op_names.n;
    rf->kops = calloc(h->keys.n + 1, sizeof(*rf->kops));
    rf->kn = calloc(h->keys.n + 1, sizeof(*rf->kn));
    rf->okind = malloc(h->n + 1);
    rf->owx = calloc(h->n + 1, sizeof(*rf->owx));
    assert_true(rf->kops && rf->kn && rf->okind && rf->owx);
    memset(rf->okind, -1, h->n + 1);
    for (i = 0; i < h->keys.n; i++) {
        rf->kops[i] = calloc(rf->n + 1, sizeof(**rf->kops));
        assert_non_null(rf->kops[i]);
    }
    for (i = 0; i < rf->n; i++)
        rf->kops[rf->ops[i]->key][rf->kn[rf->ops[i]->key]++] = rf->ops[i];
}

static void ref_free(struct ref *rf)
{
    size_t i;

    for (i = 0; i < rf->h->keys.n; i++)
        free(rf->kops[i]);
    free(rf->kops);
    free(rf->kn);
    free(rf->okind);
    free(rf->owx);
    free(rf->ops);
    free(rf->f);
}

static bool in_class(const struct hist_op *o, size_t cls)
{
    return cls == 0 ? !o->is_write : cls == 1 ? o->is_write : o->op == cls - 2;
}

static const char *cls_name(const struct ref *rf, size_t cls)
{
    return cls == 0 ? "read" : cls == 1 ? "write" : rf->h->op_names.s[cls - 2];
}

static bool cls_occurs(const struct ref *rf, size_t cls)
{
    size_t i;

    for (i = 0; i < rf->n; i++) {
        if (in_class(rf->ops[i], cls))
            return true;
    }
    return false;
}

static bool cls_writes(const struct ref *rf, size_t cls)
{
    size_t i;

    if (cls < 2)
        return cls == 1;
    for (i = 0; i < rf->n; i++) {
        if (in_class(rf->ops[i], cls) && rf->ops[i]->is_write)
            return true;
    }
    return false;
}

/* Recovery of class cls after anchor a within [a, e): RTO or -1; attempts. */
static int64_t ref_recovery(const struct ref *rf, size_t cls, int64_t a, int64_t e,
                            const struct vfy_sustain *sus, uint64_t *attempts)
{
    int64_t best = -1, best_cmp = PINF;
    size_t i, j;

    *attempts = 0;
    for (i = 0; i < rf->n; i++) {
        const struct hist_op *s = rf->ops[i];

        *attempts += in_class(s, cls) && s->invoke_ns >= a && s->invoke_ns < e;
    }
    for (i = 0; i < rf->n; i++) {
        const struct hist_op *s = rf->ops[i];
        int64_t wend;
        uint64_t n = 0, ok = 0;

        if (!in_class(s, cls) || s->invoke_ns < a || s->invoke_ns >= e || s->outcome != HIST_OK)
            continue;
        if (s->invoke_ns > best_cmp)
            break; /* a later candidate completes later still */
        wend = s->complete_ns + sus->window_ns < e ? s->complete_ns + sus->window_ns : e;
        for (j = i; j > 0 && rf->ops[j - 1]->invoke_ns == s->invoke_ns; j--)
            ;
        for (; j < rf->n && rf->ops[j]->invoke_ns < wend; j++) {
            const struct hist_op *o = rf->ops[j];

            if (in_class(o, cls)) {
                n++;
                ok += o->outcome == HIST_OK;
            }
        }
        if ((double)ok + 1e-9 >= sus->min_ratio * (double)n &&
            (best < 0 || s->complete_ns - a < best)) {
            best = s->complete_ns - a;
            best_cmp = s->complete_ns;
        }
    }
    return best;
}

struct rec_truth {
    enum vfy_status st;
    int64_t rto[2][16]; /* per fault, per class; -2 = not evaluated */
    int64_t worst;      /* worst RTO over required classes and faults; -1 never */
};

/* failover (back = false) and failback (back = true). */
static void ref_rec(const struct ref *rf, const struct vfy_config *cfg, bool back,
                    struct rec_truth *t)
{
    const struct vfy_sustain *sus = back ? &cfg->failback.sustain : &cfg->failover.sustain;
    int64_t max = back ? cfg->failback.max_ns : cfg->failover.max_ns;
    size_t fi, cls, evaluated = 0, attempted = 0, fails = 0, nowrite = 0;

    t->worst = 0;
    for (fi = 0; fi < 2; fi++)
        for (cls = 0; cls < 16; cls++)
            t->rto[fi][cls] = -2;
    for (fi = 0; fi < rf->nf; fi++) {
        const struct hist_fault *f = rf->f[fi];
        int64_t a, e;

        if (back) {
            if (f->heal_sent_ns == 0)
                continue; /* never healed: no failback */
            a = cfg->failback.anchor == VFY_ANCHOR_SENT ? f->heal_sent_ns : f->heal_done_ns;
            e = fi + 1 < rf->nf ? rf->f[fi + 1]->apply_sent_ns : PINF;
        } else {
            a = cfg->failover.anchor == VFY_ANCHOR_SENT ? f->apply_sent_ns : f->apply_done_ns;
            e = f->heal_sent_ns ? f->heal_sent_ns : PINF;
        }
        evaluated++;
        for (cls = 0; cls < rf->ncls; cls++) {
            uint64_t att;
            int64_t rto;
            bool required;

            if (!cls_occurs(rf, cls))
                continue;
            if (back)
                required = !cls_writes(rf, cls) || cfg->failback.writes_required;
            else
                required = !(cfg->read_only.enabled &&
                             (cls == 1 || (cls >= 2 && !names_has(&cfg->read_only.allowed,
                                                                  cls_name(rf, cls)))));
            rto = ref_recovery(rf, cls, a, e, sus, &att);
            if (back && cls == 1 && cfg->failback.writes_required && att == 0)
                nowrite++;
            if (att == 0)
                continue;
            t->rto[fi][cls] = rto;
            if (!required)
                continue;
            attempted++;
            if (rto < 0 || (max >= 0 && rto > max))
                fails++;
            if (t->worst >= 0 && (rto < 0 || rto > t->worst))
                t->worst = rto;
        }
        if (back && cfg->failback.writes_required && !cls_occurs(rf, 1))
            nowrite++;
    }
    if (fails)
        t->st = VFY_FAIL;
    else if (evaluated == 0 || attempted == 0 || nowrite > 0)
        t->st = VFY_INCONCLUSIVE;
    else
        t->st = VFY_PASS;
}

struct ro_truth {
    enum vfy_status st;
    uint64_t accepted, not_served;
};

static void ref_read_only(const struct ref *rf, const struct vfy_config *cfg, struct ro_truth *t)
{
    const struct vfy_read_only_cfg *ro = &cfg->read_only;
    bool fo_bound = cfg->failover.enabled && cfg->failover.max_ns >= 0;
    size_t fi, i, unjudged = 0;

    memset(t, 0, sizeof(*t));
    for (fi = 0; fi < rf->nf; fi++) {
        const struct hist_fault *f = rf->f[fi];
        int64_t a = f->apply_done_ns, e = f->heal_sent_ns ? f->heal_sent_ns : PINF, r0 = -1;
        uint64_t served = 0, ns = 0, acc = 0;

        for (i = 0; i < rf->n && r0 < 0; i++) {
            if (rf->ops[i]->invoke_ns >= a && rf->ops[i]->invoke_ns < e &&
                rf->ops[i]->outcome == HIST_OK)
                r0 = rf->ops[i]->invoke_ns;
        }
        if (r0 < 0 && fo_bound && e - a > cfg->failover.max_ns)
            r0 = a + cfg->failover.max_ns;
        if (r0 < 0 && !fo_bound)
            r0 = a;
        for (i = 0; r0 >= 0 && i < rf->n; i++) {
            const struct hist_op *o = rf->ops[i];
            bool allowed = names_has(&ro->allowed, rf->h->op_names.s[o->op]);

            if (o->invoke_ns < r0 || o->invoke_ns >= e || o->complete_ns > e)
                continue;
            if (allowed && o->outcome == HIST_OK)
                served++;
            else if (allowed && o->outcome == HIST_FAIL && o->invoke_ns >= r0 + ro->grace_ns)
                ns++;
            else if (!allowed && o->outcome == HIST_OK)
                acc++;
        }
        t->accepted += acc;
        t->not_served += ns;
        unjudged += served + ns + acc == 0;
    }
    t->st = t->accepted || t->not_served ? VFY_FAIL : unjudged ? VFY_INCONCLUSIVE : VFY_PASS;
}

struct dl_truth {
    enum vfy_status st;
    uint64_t lost, before, after, checked;
    int64_t window, window_after;
    bool set;
    uint64_t lost_f[2], before_f[2], after_f[2];
    int64_t reach_b[2], reach_a[2];
};

static bool set_contains(const struct hist *h, const struct hist_op *rd, uint64_t e)
{
    size_t n, i;
    const uint64_t *el = hist_set_elems(h, rd, &n);

    for (i = 0; i < n; i++) {
        if (el[i] == e)
            return true;
    }
    return false;
}

static void ref_data_loss(const struct hist *h, const struct hist_faults *fs,
                          const struct vfy_data_loss_cfg *dl, struct dl_truth *t)
{
    size_t i, g, nf = fs->n, nk = h->keys.n;
    const struct hist_op **fins = calloc(nk + 1, sizeof(*fins));
    int64_t *fcs = malloc((nk + 1) * sizeof(*fcs));
    bool fail = false;

    assert_true(fins != NULL && fcs != NULL);
    memset(t, 0, sizeof(*t));
    /* per key: the last ok final read (by invocation), then the latest completion of a
     * write of its value */
    for (i = 0; i < h->n; i++) {
        const struct hist_op *o = &h->ops[i];

        if (o->is_final && o->outcome == HIST_OK &&
            (fins[o->key] == NULL || o->invoke_ns >= fins[o->key]->invoke_ns))
            fins[o->key] = o;
    }
    for (i = 0; i < nk; i++)
        fcs[i] = NINF;
    for (i = 0; i < h->n; i++) {
        const struct hist_op *o = &h->ops[i];

        if (o->is_write && fins[o->key] != NULL && o->value == fins[o->key]->value &&
            o->complete_ns > fcs[o->key])
            fcs[o->key] = o->complete_ns;
    }
    for (g = 0; g < 2; g++)
        t->reach_b[g] = t->reach_a[g] = -1;
    for (i = 0; i < h->n; i++) {
        const struct hist_op *w = &h->ops[i], *fin;
        bool absent;

        if (!w->is_write || w->outcome == HIST_FAIL || (fin = fins[w->key]) == NULL)
            continue;
        if (w->outcome == HIST_OK) {
            t->checked++;
            t->set |= (w->flags & HIST_F_SET) != 0;
        }
        if (fin->flags & HIST_F_SET) {
            absent = !((w->flags & HIST_F_SET) && set_contains(h, fin, w->value));
        } else {
            absent = w->value != fin->value && fcs[w->key] < w->invoke_ns;
        }
        if (!absent || w->outcome != HIST_OK)
            continue;
        t->lost++;
        if (nf == 0)
            continue;
        for (g = 0; g + 1 < nf; g++) { /* the first fault not healed when it completed */
            if (fs->f[g].heal_done_ns == 0 || w->complete_ns <= fs->f[g].heal_done_ns)
                break;
        }
        t->lost_f[g]++;
        if (w->complete_ns > fs->f[g].apply_done_ns) { /* certainly in effect */
            int64_t d = w->complete_ns - fs->f[g].apply_sent_ns;

            t->after++;
            t->after_f[g]++;
            if (d > t->reach_a[g])
                t->reach_a[g] = d;
        } else {
            int64_t d = fs->f[g].apply_sent_ns - w->complete_ns; /* <= 0 in the apply window */

            t->before++;
            t->before_f[g]++;
            if (d > t->reach_b[g])
                t->reach_b[g] = d;
        }
    }
    for (g = 0; g < nf; g++) {
        if (t->reach_b[g] > t->window)
            t->window = t->reach_b[g];
        if (t->reach_a[g] > t->window_after)
            t->window_after = t->reach_a[g];
        fail |= dl->max_updates >= 0 && t->lost_f[g] > (uint64_t)dl->max_updates;
        fail |= dl->max_window_ns >= 0 && t->reach_b[g] > dl->max_window_ns;
        fail |= dl->max_after_ns >= 0 && t->reach_a[g] > dl->max_after_ns;
    }
    if (nf == 0)
        fail = t->lost > 0;
    free(fins);
    free(fcs);
    t->st = fail ? VFY_FAIL : t->checked == 0 ? VFY_INCONCLUSIVE : VFY_PASS;
}

struct st_truth {
    enum vfy_status st;
    uint64_t reads, stale, max_behind, over, ryw, mono, unknown, unjudged;
    int64_t max_lag;
};

/* The write a read of value x observed: 0 judged (*wx, NULL = initial), 1 unknown, 2 unjudged. */
static int observed(struct ref *rf, const struct hist_op *rd, const struct hist_op **wx)
{
    size_t at = (size_t)(rd - rf->h->ops), i;
    bool deletes = false;
    int kind;

    if (rf->okind[at] >= 0) {
        *wx = rf->owx[at];
        return rf->okind[at];
    }
    *wx = NULL;
    for (i = 0; i < rf->kn[rd->key]; i++) {
        const struct hist_op *w = rf->kops[rd->key][i];

        if (!w->is_write)
            continue;
        if (w->value == 0 && w->outcome != HIST_FAIL)
            deletes = true;
        if (rd->value != 0 && w->value == rd->value && *wx == NULL)
            *wx = w;
    }
    if (rd->value == 0)
        kind = deletes ? 2 : 0;
    else if (*wx == NULL)
        kind = 1;
    else if ((*wx)->outcome == HIST_FAIL || (*wx)->invoke_ns > rd->complete_ns)
        kind = 2;
    else
        kind = 0;
    rf->okind[at] = (int8_t)kind;
    rf->owx[at] = *wx;
    return kind;
}

static void ref_staleness(struct ref *rf, const struct vfy_staleness_cfg *sc, struct st_truth *t)
{
    size_t i, j;

    memset(t, 0, sizeof(*t));
    for (i = 0; i < rf->n; i++) {
        const struct hist_op *rd = rf->ops[i], *wx, *own = NULL;
        int64_t wcmp, first = PINF;
        uint64_t behind = 0;
        int kind;

        if (rd->is_write || rd->outcome != HIST_OK)
            continue;
        t->reads++;
        kind = observed(rf, rd, &wx);
        if (kind != 0) {
            t->unknown += kind == 1;
            t->unjudged += kind == 2;
            continue;
        }
        if (wx != NULL && wx->outcome != HIST_OK)
            continue; /* an info write's effect time is unknown */
        wcmp = wx ? wx->complete_ns : NINF;
        for (j = 0; j < rf->kn[rd->key]; j++) {
            const struct hist_op *w = rf->kops[rd->key][j];

            if (w->is_write && w->outcome == HIST_OK && w->complete_ns < rd->invoke_ns &&
                w->invoke_ns > wcmp) {
                behind++;
                if (w->complete_ns < first)
                    first = w->complete_ns;
            }
        }
        if (behind > 0) {
            int64_t lag = rd->invoke_ns - first;

            t->stale++;
            if (behind > t->max_behind)
                t->max_behind = behind;
            if (lag > t->max_lag)
                t->max_lag = lag;
            t->over += (sc->max_versions >= 0 && behind > (uint64_t)sc->max_versions) ||
                       (sc->max_lag_ns >= 0 && lag > sc->max_lag_ns);
        }
        /* the client's latest own ok write to the key, and its earlier reads */
        for (j = 0; j < rf->kn[rd->key] && rf->kops[rd->key][j] != rd; j++) {
            const struct hist_op *o = rf->kops[rd->key][j], *wy;

            if (o->client != rd->client)
                continue;
            if (o->is_write && o->outcome == HIST_OK)
                own = o;
            if (!o->is_write && o->outcome == HIST_OK && o->complete_ns < rd->invoke_ns &&
                observed(rf, o, &wy) == 0 && (wy ? wy->invoke_ns : NINF) > wcmp) {
                t->mono++;
                break;
            }
        }
        for (; j < rf->kn[rd->key] && rf->kops[rd->key][j] != rd; j++) {
            const struct hist_op *o = rf->kops[rd->key][j];

            if (o->client == rd->client && o->is_write && o->outcome == HIST_OK)
                own = o;
        }
        if (own != NULL && own->complete_ns < rd->invoke_ns && own->invoke_ns > wcmp)
            t->ryw++;
    }
    if (t->over || (sc->read_your_writes && t->ryw) || (sc->monotonic_reads && t->mono))
        t->st = VFY_FAIL;
    else
        t->st = t->reads == t->unknown + t->unjudged ? VFY_INCONCLUSIVE : VFY_PASS;
}

struct av_cell {
    uint64_t ok, total;
};

struct av_truth {
    enum vfy_status st;
    struct av_cell cell[2][3][16]; /* fault, phase, class */
    uint64_t below;
};

static void ref_availability(const struct ref *rf, const struct vfy_availability_cfg *av,
                             struct av_truth *t)
{
    size_t i, fi, p, fl, cls;
    bool unjudged = false;

    memset(t, 0, sizeof(*t));
    for (i = 0; i < rf->n; i++) {
        const struct hist_op *o = rf->ops[i];
        int64_t x = o->invoke_ns;

        for (fi = 0; fi < rf->nf; fi++) {
            const struct hist_fault *f = rf->f[fi];
            int64_t from = fi ? rf->f[fi - 1]->heal_done_ns : NINF;
            int64_t next = fi + 1 < rf->nf ? rf->f[fi + 1]->apply_sent_ns : PINF;
            int ph = -1;

            if (x >= from && x < f->apply_sent_ns)
                ph = 0;
            else if (x >= f->apply_done_ns && (f->heal_sent_ns == 0 || x < f->heal_sent_ns))
                ph = 1;
            else if (f->heal_sent_ns != 0 && x >= f->heal_done_ns && x < next)
                ph = 2;
            if (ph < 0)
                continue;
            for (cls = 0; cls < rf->ncls; cls++) {
                if (in_class(o, cls)) {
                    t->cell[fi][ph][cls].total++;
                    t->cell[fi][ph][cls].ok += o->outcome == HIST_OK;
                }
            }
        }
    }
    for (fl = 0; fl < av->nfloors; fl++) {
        const struct vfy_floor *fr = &av->floors[fl];
        bool judged = false;

        for (cls = 0; cls < rf->ncls && strcmp(cls_name(rf, cls), fr->cls) != 0; cls++)
            ;
        for (fi = 0; cls < rf->ncls && fi < rf->nf; fi++) {
            for (p = 0; p < 3; p++) {
                const struct av_cell *x = &t->cell[fi][p][cls];

                if ((fr->phase >= 0 && (size_t)fr->phase != p) || x->total == 0)
                    continue;
                judged = true;
                t->below += (double)x->ok / (double)x->total + 1e-12 < fr->min_ratio;
            }
        }
        unjudged |= !judged;
    }
    t->st = t->below ? VFY_FAIL : unjudged ? VFY_INCONCLUSIVE : VFY_PASS;
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

static void run_seed(uint32_t seed)
{
    struct rng r = {(uint64_t)seed * 0xD1B54A32D192ED03ULL + 7};
    struct hist h;
    struct hist_faults fs;
    struct plan p;
    struct vfy_config cfg;
    struct vfy_results rs = {0};
    const struct vfy_result *fo, *fb, *dl, *st, *av, *ro;
    struct rec_truth tfo, tfb;
    struct ro_truth tro;
    struct dl_truth tdl;
    struct st_truth tst;
    struct av_truth tav;
    struct ref rf;
    struct fl_err e;
    enum vfy_status want_all = VFY_PASS;
    size_t fi, cls;

    generate(seed, &h, &fs, &p);
    ref_init(&rf, &h, &fs);
    seed_config(&r, &p, &cfg);

    /* figures first (bounds unset), then bounds at their edges, then verdicts */
    ref_rec(&rf, &cfg, false, &tfo);
    ref_rec(&rf, &cfg, true, &tfb);
    ref_data_loss(&h, &fs, &cfg.data_loss, &tdl);
    ref_staleness(&rf, &cfg.staleness, &tst);
    ref_availability(&rf, &cfg.availability, &tav);
    if (tfo.worst >= 0 && chance(&r, 80))
        cfg.failover.max_ns = edge(&r, tfo.worst);
    else if (chance(&r, 50))
        cfg.failover.max_ns = rin(&r, 0, 20000) * MS;
    if (tfb.worst >= 0 && chance(&r, 80))
        cfg.failback.max_ns = edge(&r, tfb.worst);
    for (fi = 0; fi < fs.n; fi++) {
        uint64_t lost = tdl.lost_f[fi];

        if (lost && (cfg.data_loss.max_updates < 0 || lost < (uint64_t)cfg.data_loss.max_updates ||
                     chance(&r, 50)))
            cfg.data_loss.max_updates = chance(&r, 50) ? (int64_t)lost : (int64_t)lost - 1;
    }
    if (tdl.before)
        cfg.data_loss.max_window_ns = edge(&r, tdl.window);
    cfg.data_loss.max_after_ns = tdl.after ? edge(&r, tdl.window_after) : chance(&r, 50) ? 0 : -1;
    if (tst.stale) {
        cfg.staleness.max_versions =
            chance(&r, 50) ? (int64_t)tst.max_behind - (int64_t)rin(&r, 0, 1) : VFY_UNBOUNDED;
        cfg.staleness.max_lag_ns = edge(&r, tst.max_lag);
    }
    seed_floors(&r, &rf, &tav, &cfg.availability);
    if (chance(&r, 20)) {
        cfg.allow_inconclusive.n = 1;
        strcpy(cfg.allow_inconclusive.name[0], chance(&r, 50) ? "failback" : "availability");
    }
    ref_rec(&rf, &cfg, false, &tfo);
    ref_rec(&rf, &cfg, true, &tfb);
    ref_read_only(&rf, &cfg, &tro);
    ref_data_loss(&h, &fs, &cfg.data_loss, &tdl);
    ref_staleness(&rf, &cfg.staleness, &tst);
    ref_availability(&rf, &cfg.availability, &tav);

    fl_err_clear(&e);
    if (vfy_run_all(&h, &fs, &cfg, &rs, &e) < 0)
        fail_msg("seed %u: vfy_run_all: %s", seed, e.msg);
    vfy_results_allow(&rs, &cfg);
    fo = vfy_results_find(&rs, "failover");
    fb = vfy_results_find(&rs, "failback");
    dl = vfy_results_find(&rs, "data_loss");
    st = vfy_results_find(&rs, "staleness");
    av = vfy_results_find(&rs, "availability");
    ro = vfy_results_find(&rs, "read_only");
    assert_non_null(fo);
    assert_non_null(fb);
    assert_non_null(dl);
    assert_non_null(st);
    assert_non_null(av);
    assert_true(p.ro == (ro != NULL));

    /* every verdict */
    check_status(seed, fo, tfo.st);
    check_status(seed, fb, tfb.st);
    check_status(seed, dl, tdl.st);
    check_status(seed, st, tst.st);
    check_status(seed, av, tav.st);
    if (ro != NULL)
        check_status(seed, ro, tro.st);
    {
        const enum vfy_status all[] = {tfo.st, tfb.st, tdl.st,
                                       tst.st, tav.st, p.ro ? tro.st : VFY_PASS};
        const char *const names[] = {"failover",  "failback",     "data_loss",
                                     "staleness", "availability", "read_only"};
        size_t i;

        for (i = 0; i < 6; i++) {
            if (all[i] == VFY_FAIL)
                want_all = VFY_FAIL;
            else if (all[i] == VFY_INCONCLUSIVE && want_all == VFY_PASS &&
                     !names_has(&cfg.allow_inconclusive, names[i]))
                want_all = VFY_INCONCLUSIVE;
        }
        if (strcmp(vfy_results_verdict(&rs), vfy_status_name(want_all)) != 0)
            fail_msg("seed %u: run verdict %s, the reference says %s", seed,
                     vfy_results_verdict(&rs), vfy_status_name(want_all));
        assert_int_equal(vfy_results_pass(&rs), want_all == VFY_PASS);
        tally_status(0, tfo.st);
        tally_status(1, tfb.st);
        tally_status(2, p.ro ? tro.st : VFY_PASS);
        tally_status(3, tdl.st);
        tally_status(4, tst.st);
        tally_status(5, tav.st);
        tally_status(6, want_all);
    }

    /* and the figures */
    for (fi = 0; fi < fs.n; fi++) {
        for (cls = 0; cls < rf.ncls && cls < 16; cls++) {
            char path[96];

            if (tfo.rto[fi][cls] != -2 && fo->measured != NULL &&
                tl_get(fo->measured, "faults") != NULL) {
                snprintf(path, sizeof(path), "faults.%zu.rto_ms.%s", fi, cls_name(&rf, cls));
                if (tl_get(fo->measured, path) != NULL)
                    check_ms(seed, fo->measured, path, tfo.rto[fi][cls]);
                else if (!p.ro || cls == 0 || strcmp(cls_name(&rf, cls), "get") == 0)
                    fail_msg("seed %u: failover %s missing", seed, path);
            }
            if (tfb.rto[fi][cls] != -2) {
                snprintf(path, sizeof(path), "faults.%zu.rto_ms.%s", fi, cls_name(&rf, cls));
                check_ms(seed, fb->measured, path, tfb.rto[fi][cls]);
            }
        }
    }
    check_int(seed, dl->measured, "lost_updates", tdl.lost);
    check_int(seed, dl->measured, "lost_before", tdl.before);
    check_int(seed, dl->measured, "lost_after", tdl.after);
    check_int(seed, dl->measured, "checked_writes", tdl.checked);
    check_ms(seed, dl->measured, "window_ms", tdl.window);
    check_ms(seed, dl->measured, "window_after_ms", tdl.window_after);
    if (strcmp(json_string_value(json_object_get(dl->measured, "model")),
               tdl.set ? "set" : "register") != 0)
        fail_msg("seed %u: data_loss model %s", seed,
                 json_string_value(json_object_get(dl->measured, "model")));
    for (fi = 0; fi < fs.n; fi++) {
        char path[64];

        snprintf(path, sizeof(path), "faults.%zu.lost_before", fi);
        check_int(seed, dl->measured, path, tdl.before_f[fi]);
        snprintf(path, sizeof(path), "faults.%zu.lost_after", fi);
        check_int(seed, dl->measured, path, tdl.after_f[fi]);
    }
    check_int(seed, st->measured, "reads_checked", tst.reads);
    check_int(seed, st->measured, "stale_reads", tst.stale);
    check_int(seed, st->measured, "max_versions_behind", tst.max_behind);
    check_ms(seed, st->measured, "max_lag_ms", tst.max_lag);
    check_int(seed, st->measured, "over_bound", tst.over);
    check_int(seed, st->measured, "read_your_writes_violations", tst.ryw);
    check_int(seed, st->measured, "monotonic_reads_violations", tst.mono);
    check_int(seed, st->measured, "unknown_values", tst.unknown);
    check_int(seed, st->measured, "unjudged_reads", tst.unjudged);
    check_int(seed, av->measured, "below_floor", tav.below);
    for (fi = 0; fi < fs.n; fi++) {
        static const char *const ph[] = {"before", "during", "after"};
        size_t pi;

        for (pi = 0; pi < 3; pi++) {
            for (cls = 0; cls < rf.ncls && cls < 16; cls++) {
                const struct av_cell *x = &tav.cell[fi][pi][cls];
                char path[96];

                if (cls_name(&rf, cls)[0] == '\0')
                    continue; /* the unnamed operation: no record */
                snprintf(path, sizeof(path), "faults.%zu.%s.%s", fi, ph[pi], cls_name(&rf, cls));
                if (x->total == 0) {
                    if (tl_get(av->measured, path) != NULL)
                        fail_msg("seed %u: %s reported with no operation", seed, path);
                    continue;
                }
                snprintf(path, sizeof(path), "faults.%zu.%s.%s.total", fi, ph[pi],
                         cls_name(&rf, cls));
                check_int(seed, av->measured, path, x->total);
                snprintf(path, sizeof(path), "faults.%zu.%s.%s.ok", fi, ph[pi], cls_name(&rf, cls));
                check_int(seed, av->measured, path, x->ok);
            }
        }
    }
    if (ro != NULL) {
        check_int(seed, ro->measured, "writes_accepted", tro.accepted);
        check_int(seed, ro->measured, "allowed_not_served", tro.not_served);
    }

    tally.fo_never += tfo.st == VFY_FAIL && tfo.worst < 0;
    tally.fo_slow += tfo.st == VFY_FAIL && tfo.worst >= 0;
    tally.lost_before += tdl.before;
    tally.lost_after += tdl.after;
    tally.set_lost += tdl.set && tdl.lost;
    tally.ryw += tst.ryw;
    tally.mono += tst.mono;
    tally.stale += tst.stale;
    tally.accepted += p.ro ? tro.accepted : 0;
    vfy_results_free(&rs);
    ref_free(&rf);
    hist_free(&h);
    hist_faults_free(&fs);
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
