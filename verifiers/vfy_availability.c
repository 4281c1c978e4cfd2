/*
 * availability: the ok ratio of each operation class in each phase (before,
 * during and after each fault), compared with optional floors. One pass over
 * the records with a cursor on the fault timeline and a flat counter array.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/err.h"
#include "vfy_internal.h"

static const char *const phase_name[] = {"before", "during", "after"};

struct cnt {
    uint64_t ok, total;
};

int vfy_availability_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                         struct fl_err *err)
{
    const struct vfy_availability_cfg *av = &cfg->availability;
    size_t ng = c->nfaults ? c->nfaults : 1, nc = c->nclasses, i, f, fl;
    struct cnt *k = NULL;
    size_t cur = 0;
    uint64_t excluded = 0, nviol = 0;
    json_t *faults_j = NULL, *floors_j;
    struct fl_buf d, bad;
    int r;

#define CNT(g, p, cls) k[((g)*3 + (p)) * nc + (cls)]

    if ((r = vfy_result_begin(out, "availability")) < 0)
        return fl_errf(err, r, "out of memory");
    fl_buf_init(&d, VFY_DETAIL_MAX);
    fl_buf_init(&bad, VFY_DETAIL_MAX / 2);
    floors_j = json_array();
    for (fl = 0; fl < av->nfloors; fl++)
        json_array_append_new(
            floors_j, json_pack("{s:s,s:s,s:f}", "class", av->floors[fl].cls, "phase",
                                av->floors[fl].phase < 0 ? "any" : phase_name[av->floors[fl].phase],
                                "min", av->floors[fl].min_ratio));
    json_object_set_new(out->bound, "floors", floors_j);
    k = calloc(ng * 3 * nc, sizeof(*k));
    faults_j = json_array();
    if (k == NULL || faults_j == NULL) {
        r = fl_errf(err, -ENOMEM, "out of memory");
        goto out;
    }
    for (i = 0; i < c->n; i++) {
        const struct hist_op *o = &c->ops[i];
        int64_t t = o->invoke_ns;
        uint32_t rw = o->is_write ? VFY_CLASS_WRITE : VFY_CLASS_READ, oc = 2u + o->op;
        size_t g[2], p[2], nb = 0, b;

        if (o->is_final)
            continue;
        while (cur < c->nfaults && c->faults[cur]->apply_sent_ns <= t)
            cur++;
        if (c->nfaults == 0 || cur == 0) {
            g[nb] = 0;
            p[nb++] = VFY_PHASE_BEFORE;
        } else {
            const struct hist_fault *ft = c->faults[cur - 1];

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
        }
        if (nb == 0)
            excluded++;
        for (b = 0; b < nb; b++) {
            CNT(g[b], p[b], rw).total++;
            CNT(g[b], p[b], rw).ok += o->outcome == HIST_OK;
            CNT(g[b], p[b], oc).total++;
            CNT(g[b], p[b], oc).ok += o->outcome == HIST_OK;
        }
    }
    for (f = 0; f < ng; f++) {
        json_t *fj = json_pack("{s:s}", "id", c->nfaults ? c->faults[f]->id : "(whole run)");
        size_t p;

        for (p = 0; p < (c->nfaults ? 3u : 1u); p++) {
            json_t *pj = json_object();
            uint32_t cls;

            for (cls = 0; cls < nc; cls++) {
                struct cnt *x = &CNT(f, p, cls);

                if (x->total == 0)
                    continue;
                json_object_set_new(pj, vfy_class_name(c, cls),
                                    json_pack("{s:I,s:I,s:f}", "ok", (json_int_t)x->ok, "total",
                                              (json_int_t)x->total, "ratio",
                                              (double)x->ok / (double)x->total));
            }
            json_object_set_new(fj, c->nfaults ? phase_name[p] : "whole_run", pj);
        }
        json_array_append_new(faults_j, fj);
        for (fl = 0; fl < av->nfloors; fl++) {
            const struct vfy_floor *fr = &av->floors[fl];
            int cls = vfy_class_find(c, fr->cls);

            if (cls < 0)
                continue;
            for (p = 0; p < 3; p++) {
                struct cnt *x;
                double ratio;

                if (fr->phase >= 0 && (size_t)fr->phase != p)
                    continue;
                if (c->nfaults == 0 && p != VFY_PHASE_BEFORE)
                    continue;
                x = &CNT(f, p, (size_t)cls);
                if (x->total == 0)
                    continue;
                ratio = (double)x->ok / (double)x->total;
                if (ratio + 1e-12 < fr->min_ratio) {
                    nviol++;
                    if (nviol <= 8)
                        fl_buf_printf(&bad,
                                      " %s %s: %s %.4f (%" PRIu64 "/%" PRIu64
                                      " ok) is below the floor %.4f.",
                                      c->nfaults ? c->faults[f]->id : "whole run",
                                      c->nfaults ? phase_name[p] : "", fr->cls, ratio, x->ok,
                                      x->total, fr->min_ratio);
                }
            }
        }
    }
    for (fl = 0; fl < av->nfloors; fl++) {
        if (vfy_class_find(c, av->floors[fl].cls) < 0)
            fl_buf_printf(&bad, " Floor for class %s: the class never appears; not checked.",
                          av->floors[fl].cls);
    }
    out->pass = nviol == 0;
    json_object_set_new(out->measured, "faults", faults_j);
    faults_j = NULL;
    json_object_set_new(out->measured, "below_floor", json_integer((json_int_t)nviol));
    json_object_set_new(out->measured, "excluded_uncertain", json_integer((json_int_t)excluded));
    fl_buf_printf(&d,
                  "availability %s: ok / attempted per class, per phase of each fault by "
                  "invocation time: before = from the previous heal_done to apply_sent, during = "
                  "apply_done to heal_sent, after = heal_done to the next apply_sent; operations "
                  "invoked while a fault was being applied or healed (%" PRIu64 ") are in no "
                  "phase, info outcomes count as not ok. %s",
                  out->pass ? "passed" : "FAILED", excluded,
                  av->nfloors ? "Floors were checked wherever the phase has operations."
                              : "No floors: measured only.");
    if (nviol > 8)
        fl_buf_printf(&bad, " ... %" PRIu64 " shortfalls in all.", nviol);
    if (bad.len)
        fl_buf_addstr(&d, bad.p);
    vfy_result_set_detail(out, &d);
    r = 0;
out:
    if (r < 0)
        vfy_result_free(out);
    json_decref(faults_j);
    fl_buf_free(&d);
    fl_buf_free(&bad);
    free(k);
    return r;
#undef CNT
}
