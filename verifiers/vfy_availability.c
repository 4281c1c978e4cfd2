/*
 * availability: the ok ratio of each operation class in each phase (before,
 * during and after each fault), compared with optional floors. One pass over
 * the records with a cursor on the fault timeline and a flat counter array.
 * A floor with no operation to judge anywhere (its class never appears, or
 * none of its phases saw an operation of the class) makes the verdict
 * inconclusive unless some other floor failed. The same pass counts each
 * record again under its region (measured.by_region, report only).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/err.h"
#include "vfy_internal.h"

static const char *const phase_name[] = {"before", "during", "after"};

struct cnt {
    uint64_t ok, total;
};

struct av_measure {
    struct cnt *k;  /* [ng][3][nclasses] */
    struct cnt *rg; /* [nregions][3][nclasses]: per serving region, phases summed over faults */
    size_t ng, nc, nr;
    uint64_t excluded, nviol, unjudged;
};

static struct cnt *cnt_at(const struct av_measure *m, size_t g, size_t p, size_t cls)
{
    return &m->k[(g * 3 + p) * m->nc + cls];
}

static struct cnt *rg_at(const struct av_measure *m, size_t reg, size_t p, size_t cls)
{
    return &m->rg[(reg * 3 + p) * m->nc + cls];
}

/* The (fault, phase) pairs a record invoked at t counts in: up to two. */
static size_t phases_of(const struct vfy_ctx *c, size_t cur, int64_t t, size_t *g, size_t *p)
{
    const struct hist_fault *ft;
    size_t nb = 0;

    if (c->nfaults == 0 || cur == 0) {
        g[nb] = 0;
        p[nb++] = VFY_PHASE_BEFORE;
        return nb;
    }
    ft = c->faults[cur - 1];
    if (t < ft->apply_done_ns) {
        /* uncertain: the fault may or may not be in effect yet */
    } else if (ft->heal_sent_ns == 0 || t < ft->heal_sent_ns) {
        g[nb] = cur - 1;
        p[nb++] = VFY_PHASE_DURING;
    } else if (t >= ft->heal_done_ns) {
        g[nb] = cur - 1;
        p[nb++] = VFY_PHASE_AFTER;
        if (cur < c->nfaults) {
            g[nb] = cur;
            p[nb++] = VFY_PHASE_BEFORE;
        }
    }
    return nb;
}

static void av_count(const struct vfy_ctx *c, struct av_measure *m)
{
    size_t cur = 0, i, b;

    for (i = 0; i < c->n; i++) {
        const struct hist_op *o = &c->ops[i];
        uint32_t rw = o->is_write ? VFY_CLASS_WRITE : VFY_CLASS_READ, oc = 2u + o->op;
        size_t g[2], p[2], nb;

        if (o->is_final)
            continue;
        while (cur < c->nfaults && c->faults[cur]->apply_sent_ns <= o->invoke_ns)
            cur++;
        nb = phases_of(c, cur, o->invoke_ns, g, p);
        m->excluded += nb == 0;
        for (b = 0; b < nb; b++) {
            cnt_at(m, g[b], p[b], rw)->total++;
            cnt_at(m, g[b], p[b], rw)->ok += o->outcome == HIST_OK;
            cnt_at(m, g[b], p[b], oc)->total++;
            cnt_at(m, g[b], p[b], oc)->ok += o->outcome == HIST_OK;
            if (o->region == 0 || o->region >= m->nr)
                continue; /* unknown region: not broken down */
            rg_at(m, o->region, p[b], rw)->total++;
            rg_at(m, o->region, p[b], rw)->ok += o->outcome == HIST_OK;
            rg_at(m, o->region, p[b], oc)->total++;
            rg_at(m, o->region, p[b], oc)->ok += o->outcome == HIST_OK;
        }
    }
}

/* Check every floor against fault group f; shortfalls go to bad, cells judged to judged[]. */
static void av_floors(const struct vfy_ctx *c, const struct vfy_availability_cfg *av, size_t f,
                      struct av_measure *m, uint32_t *judged, struct fl_buf *bad)
{
    size_t fl, p;

    for (fl = 0; fl < av->nfloors; fl++) {
        const struct vfy_floor *fr = &av->floors[fl];
        int cls = vfy_class_find(c, fr->cls);

        if (cls < 0)
            continue;
        for (p = 0; p < 3; p++) {
            struct cnt *x;
            double ratio;

            if ((fr->phase >= 0 && (size_t)fr->phase != p) ||
                (c->nfaults == 0 && p != VFY_PHASE_BEFORE))
                continue;
            x = cnt_at(m, f, p, (size_t)cls);
            if (x->total == 0)
                continue;
            judged[fl]++;
            ratio = (double)x->ok / (double)x->total;
            if (ratio + 1e-12 >= fr->min_ratio)
                continue;
            if (++m->nviol <= 8)
                fl_buf_printf(bad,
                              " %s %s: %s %.4f (%" PRIu64 "/%" PRIu64 " ok) is below the floor "
                              "%.4f.",
                              c->nfaults ? c->faults[f]->id : "whole run",
                              c->nfaults ? phase_name[p] : "", fr->cls, ratio, x->ok, x->total,
                              fr->min_ratio);
        }
    }
}

/* ---- JSON ---- */

/* One row of cells ([3][nclasses]) into fj as {phase: {class: {ok, total, ratio}}}. */
static json_t *cells_json(const struct vfy_ctx *c, const struct av_measure *m,
                          const struct cnt *row, json_t *fj)
{
    size_t p;
    uint32_t cls;

    for (p = 0; fj != NULL && p < (c->nfaults ? 3u : 1u); p++) {
        json_t *pj = json_object();

        for (cls = 0; cls < m->nc; cls++) {
            const struct cnt *x = &row[p * m->nc + cls];

            if (x->total == 0)
                continue;
            json_object_set_new(pj, vfy_class_name(c, cls),
                                json_pack("{s:I,s:I,s:f}", "ok", (json_int_t)x->ok, "total",
                                          (json_int_t)x->total, "ratio",
                                          (double)x->ok / (double)x->total));
        }
        json_object_set_new(fj, c->nfaults ? phase_name[p] : "whole_run", pj);
    }
    return fj;
}

static json_t *group_json(const struct vfy_ctx *c, const struct av_measure *m, size_t f)
{
    return cells_json(c, m, cnt_at(m, f, 0, 0),
                      json_pack("{s:s}", "id", c->nfaults ? c->faults[f]->id : "(whole run)"));
}

/* measured.by_region: per region with records, its phases summed over every fault. */
static json_t *region_json(const struct vfy_ctx *c, const struct av_measure *m)
{
    json_t *br = json_object();
    size_t reg, i;

    for (reg = 1; br != NULL && reg < m->nr; reg++) {
        bool any = false;

        for (i = 0; i < 3 * m->nc && !any; i++)
            any = m->rg[reg * 3 * m->nc + i].total > 0;
        if (any)
            json_object_set_new(br, c->h->regions.s[reg],
                                cells_json(c, m, rg_at(m, reg, 0, 0), json_object()));
    }
    return br;
}

static json_t *floors_json(const struct vfy_availability_cfg *av)
{
    json_t *a = json_array();
    size_t fl;

    for (fl = 0; a != NULL && fl < av->nfloors; fl++)
        json_array_append_new(
            a, json_pack("{s:s,s:s,s:f}", "class", av->floors[fl].cls, "phase",
                         av->floors[fl].phase < 0 ? "any" : phase_name[av->floors[fl].phase], "min",
                         av->floors[fl].min_ratio));
    return a;
}

/* Count, check every floor, and note the floors that judged nothing (text into bad). */
static int av_measure(const struct vfy_ctx *c, const struct vfy_availability_cfg *av,
                      struct av_measure *m, struct fl_buf *bad)
{
    uint32_t judged[VFY_FLOORS_MAX] = {0};
    size_t f, fl;

    m->ng = c->nfaults ? c->nfaults : 1;
    m->nc = c->nclasses;
    m->nr = c->nregions;
    m->k = calloc(m->ng * 3 * m->nc, sizeof(*m->k));
    m->rg = calloc((m->nr ? m->nr : 1) * 3 * m->nc, sizeof(*m->rg));
    if (m->k == NULL || m->rg == NULL)
        return -ENOMEM;
    av_count(c, m);
    for (f = 0; f < m->ng; f++)
        av_floors(c, av, f, m, judged, bad);
    for (fl = 0; fl < av->nfloors; fl++) {
        m->unjudged += judged[fl] == 0;
        if (vfy_class_find(c, av->floors[fl].cls) < 0)
            fl_buf_printf(bad, " Floor for class %s: the class never appears; not checked.",
                          av->floors[fl].cls);
        else if (judged[fl] == 0)
            fl_buf_printf(bad,
                          " Floor for class %s: no operation of it in the %s phase; not "
                          "checked.",
                          av->floors[fl].cls,
                          av->floors[fl].phase < 0 ? "any" : phase_name[av->floors[fl].phase]);
    }
    if (m->nviol > 8)
        fl_buf_printf(bad, " ... %" PRIu64 " shortfalls in all.", m->nviol);
    return 0;
}

static int av_json(const struct vfy_ctx *c, const struct av_measure *m, struct vfy_result *out)
{
    json_t *faults_j = json_array();
    size_t f;

    if (faults_j == NULL)
        return -ENOMEM;
    for (f = 0; f < m->ng; f++) {
        json_t *fj = group_json(c, m, f);

        if (fj == NULL || json_array_append_new(faults_j, fj) < 0) {
            json_decref(faults_j);
            return -ENOMEM;
        }
    }
    json_object_set_new(out->measured, "faults", faults_j);
    json_object_set_new(out->measured, "by_region", region_json(c, m));
    json_object_set_new(out->measured, "below_floor", json_integer((json_int_t)m->nviol));
    json_object_set_new(out->measured, "excluded_uncertain", json_integer((json_int_t)m->excluded));
    json_object_set_new(out->measured, "floors_unjudged", json_integer((json_int_t)m->unjudged));
    return 0;
}

static void av_text(const struct vfy_availability_cfg *av, const struct av_measure *m,
                    const struct vfy_result *out, const struct fl_buf *bad, struct fl_buf *d)
{
    fl_buf_printf(d,
                  "availability %s: ok / attempted per class, per phase of each fault by "
                  "invocation time: before = from the previous heal_done to apply_sent, during = "
                  "apply_done to heal_sent, after = heal_done to the next apply_sent; operations "
                  "invoked while a fault was being applied or healed (%" PRIu64 ") are in no "
                  "phase, info outcomes count as not ok. %s",
                  vfy_status_word(out->status), m->excluded,
                  av->nfloors ? "Floors were checked wherever the phase has operations."
                              : "No floors: measured only.");
    if (bad->len)
        fl_buf_addstr(d, bad->p);
    if (out->status == VFY_INCONCLUSIVE)
        fl_buf_printf(d, " Inconclusive: %s.", out->reason);
}

int vfy_availability_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                         struct fl_err *err)
{
    const struct vfy_availability_cfg *av = &cfg->availability;
    struct av_measure m = {0};
    struct fl_buf d, bad;
    int r;

    if ((r = vfy_result_begin(out, "availability")) < 0)
        return fl_errf(err, r, "out of memory");
    fl_buf_init(&d, VFY_DETAIL_MAX);
    fl_buf_init(&bad, VFY_DETAIL_MAX / 2);
    json_object_set_new(out->bound, "floors", floors_json(av));
    if ((r = av_measure(c, av, &m, &bad)) < 0 || (r = av_json(c, &m, out)) < 0)
        goto out;
    if (m.nviol)
        r = vfy_result_set_status(out, VFY_FAIL, NULL);
    else if (m.unjudged)
        r = vfy_result_set_status(out, VFY_INCONCLUSIVE,
                                  "a floor had no operation of its class in its phases to judge");
    if (r < 0)
        goto out;
    av_text(av, &m, out, &bad, &d);
    vfy_result_set_detail(out, &d);
out:
    if (r < 0) {
        vfy_result_free(out);
        r = fl_errf(err, r, "out of memory in the availability verifier");
    }
    fl_buf_free(&d);
    fl_buf_free(&bad);
    free(m.k);
    free(m.rg);
    return r;
}
