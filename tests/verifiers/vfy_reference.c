/*
 * The property test's reference: each rule of docs/internals/verifiers.md,
 * brute force (see vfy_reference.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vfy_reference.h"

bool names_has(const struct vfy_names *n, const char *s)
{
    size_t i;

    for (i = 0; i < n->n; i++) {
        if (strcmp(n->name[i], s) == 0)
            return true;
    }
    return false;
}

static int cmp_inv(const void *a, const void *b)
{
    const struct hist_op *x = *(const struct hist_op *const *)a,
                         *y = *(const struct hist_op *const *)b;

    if (x->invoke_ns != y->invoke_ns)
        return x->invoke_ns < y->invoke_ns ? -1 : 1;
    return x < y ? -1 : x > y;
}

void ref_init(struct ref *rf, const struct hist *h, const struct hist_faults *fs)
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

void ref_free(struct ref *rf)
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

const char *cls_name(const struct ref *rf, size_t cls)
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

/* failover (back = false) and failback (back = true). */
void ref_rec(const struct ref *rf, const struct vfy_config *cfg, bool back, struct rec_truth *t)
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

void ref_read_only(const struct ref *rf, const struct vfy_config *cfg, struct ro_truth *t)
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

void ref_data_loss(const struct hist *h, const struct hist_faults *fs,
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
        /* an info write may take effect at any time after its invocation */
        int64_t c = o->outcome == HIST_INFO ? PINF : o->complete_ns;

        if (o->is_write && fins[o->key] != NULL && o->value == fins[o->key]->value &&
            c > fcs[o->key])
            fcs[o->key] = c;
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

void ref_staleness(struct ref *rf, const struct vfy_staleness_cfg *sc, struct st_truth *t)
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

void ref_availability(const struct ref *rf, const struct vfy_availability_cfg *av,
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
