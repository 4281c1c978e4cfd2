/*
 * routing: which region served each read, against the clients' preferred
 * order, per phase of each fault. Before a fault and after its heal the
 * first preferred region should serve the reads; while the fault is in
 * effect, the first preferred region not in `lost` (the regions the fault
 * takes away). Reads invoked within `settle` after the fault takes effect or
 * is healed are not judged (the clients' move). A phase passes when at least
 * `ratio` of its ok reads came from the expected region; a phase with no ok
 * read to judge is not judged, and a fault none of whose phases could be
 * judged makes the verdict inconclusive. Failed reads count nowhere (their
 * availability is the availability verifier's business): this checks where
 * the reads that worked were served.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/err.h"
#include "vfy_internal.h"

static const char *const phase_name[] = {"before", "during", "after"};

/* The region index (in the history) of name, or 0 (unknown) when absent. */
static uint32_t region_index(const struct vfy_ctx *c, const char *name)
{
    size_t i;

    for (i = 1; i < c->h->regions.n; i++)
        if (strcmp(c->h->regions.s[i], name) == 0)
            return (uint32_t)i;
    return 0;
}

/* The region the clients should be served by while regions of `lost` are gone. */
static const char *expected_region(const struct vfy_routing_cfg *rc, bool during)
{
    size_t i;

    for (i = 0; i < rc->preferred.n; i++)
        if (!during || !vfy_names_has(&rc->lost, rc->preferred.name[i]))
            return rc->preferred.name[i];
    return NULL;
}

struct phase {
    int64_t from, to; /* invoke times judged: [from, to) */
    const char *expect;
    uint64_t ok, hit;
    uint64_t *by_region; /* ok reads per region index */
};

static bool judged_read(const struct vfy_ctx *c, const struct vfy_routing_cfg *rc,
                        const struct hist_op *o)
{
    if (o->is_final || o->is_write || o->outcome != HIST_OK)
        return false;
    return rc->ops.n == 0 || vfy_names_has(&rc->ops, c->h->op_names.s[o->op]);
}

int vfy_routing_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                    struct fl_err *err)
{
    const struct vfy_routing_cfg *rc = &cfg->routing;
    struct fl_buf b = {0};
    json_t *faults;
    size_t fi, p, i, nreg = c->h->regions.n;
    bool failed = false, any_judged = false, fault_unjudged = false;
    char d1[32];
    int r;

    fl_buf_init(&b, VFY_DETAIL_MAX);
    if ((r = vfy_result_begin(out, "routing")) < 0)
        return fl_errf(err, r, "out of memory");
    faults = json_array();
    json_object_set_new(out->bound, "preferred", vfy_names_json(&rc->preferred));
    json_object_set_new(out->bound, "lost", vfy_names_json(&rc->lost));
    json_object_set_new(out->bound, "ratio", json_real(rc->min_ratio));
    json_object_set_new(out->bound, "settle_ms", vfy_json_ms(rc->settle_ns));
    if (faults == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    json_object_set_new(out->measured, "faults", faults);
    if (rc->preferred.n == 0 || expected_region(rc, true) == NULL)
        return vfy_result_inconclusive(
            out, "routing: no preferred region is left outside `lost`: nothing to expect");
    if (c->nfaults == 0)
        return vfy_result_inconclusive(out, "routing: no fault took effect: nothing to judge");
    fl_buf_printf(&b,
                  "Each ok read's serving region, per phase of each fault, against the clients' "
                  "preferred order: the first preferred region before the fault and after its "
                  "heal, the first one outside `lost` while it is in effect; reads within %s of "
                  "the fault taking effect or healing are not judged. A phase passes when at "
                  "least %.0f%% of its ok reads came from the expected region.",
                  vfy_dur(rc->settle_ns, d1, sizeof(d1)), rc->min_ratio * 100);
    for (fi = 0; fi < c->nfaults; fi++) {
        const struct hist_fault *f = c->faults[fi];
        int64_t prev_end =
            fi ? (c->faults[fi - 1]->heal_done_ns ? c->faults[fi - 1]->heal_done_ns : INT64_MAX)
               : INT64_MIN;
        int64_t next = fi + 1 < c->nfaults ? c->faults[fi + 1]->apply_sent_ns : INT64_MAX;
        struct phase ph[3] = {
            /* after an unhealed fault (prev_end INT64_MAX) there is no "before" phase */
            {prev_end == INT64_MIN || prev_end == INT64_MAX ? prev_end : prev_end + rc->settle_ns,
             f->apply_sent_ns, expected_region(rc, false), 0, 0, NULL},
            {f->apply_done_ns + rc->settle_ns, f->heal_sent_ns ? f->heal_sent_ns : INT64_MAX,
             expected_region(rc, true), 0, 0, NULL},
            {f->heal_done_ns ? f->heal_done_ns + rc->settle_ns : INT64_MAX, next,
             expected_region(rc, false), 0, 0, NULL},
        };
        json_t *fo = json_pack("{s:s}", "id", f->id);
        bool judged_here = false;

        for (p = 0; p < 3; p++) {
            ph[p].by_region = calloc(nreg ? nreg : 1, sizeof(uint64_t));
            if (ph[p].by_region == NULL) {
                while (p-- > 0)
                    free(ph[p].by_region);
                json_decref(fo);
                fl_buf_free(&b);
                return fl_errf(err, -ENOMEM, "out of memory");
            }
        }
        for (i = 0; i < c->n; i++) {
            const struct hist_op *o = &c->ops[i];

            if (!judged_read(c, rc, o))
                continue;
            for (p = 0; p < 3; p++) {
                if (o->invoke_ns < ph[p].from || o->invoke_ns >= ph[p].to)
                    continue;
                ph[p].ok++;
                if (o->region < nreg)
                    ph[p].by_region[o->region]++;
                if (o->region == region_index(c, ph[p].expect) && o->region != 0)
                    ph[p].hit++;
            }
        }
        for (p = 0; p < 3; p++) {
            json_t *served = json_object(), *po;
            double ratio = ph[p].ok ? (double)ph[p].hit / (double)ph[p].ok : 0;
            bool pass = ph[p].ok && ratio >= rc->min_ratio;
            size_t k;

            for (k = 0; k < nreg; k++)
                if (ph[p].by_region[k])
                    json_object_set_new(served, k ? c->h->regions.s[k] : "(unknown)",
                                        json_integer((json_int_t)ph[p].by_region[k]));
            po = json_pack("{s:s,s:I,s:o}", "expected", ph[p].expect, "ok_reads",
                           (json_int_t)ph[p].ok, "served", served);
            if (ph[p].ok) {
                json_object_set_new(po, "ratio", json_real(ratio));
                json_object_set_new(po, "status", json_string(pass ? "pass" : "fail"));
                judged_here = any_judged = true;
                if (!pass) {
                    failed = true;
                    fl_buf_printf(&b,
                                  " Fault %s, %s: %.1f%% of %" PRIu64
                                  " ok reads came from %s (expected at least %.0f%%).",
                                  f->id, phase_name[p], ratio * 100, ph[p].ok, ph[p].expect,
                                  rc->min_ratio * 100);
                }
            } else {
                json_object_set_new(po, "status", json_string("not judged"));
            }
            json_object_set_new(fo, phase_name[p], po);
            free(ph[p].by_region);
        }
        fault_unjudged |= !judged_here;
        json_array_append_new(faults, fo);
    }
    if (failed) {
        vfy_result_set_status(out, VFY_FAIL, NULL);
    } else if (!any_judged || fault_unjudged) {
        fl_buf_free(&b);
        return vfy_result_inconclusive(
            out, "routing: a fault had no ok read in any judged phase: nothing to judge");
    } else {
        fl_buf_printf(&b, " Every judged phase was served as the preferred order says.");
    }
    vfy_result_set_detail(out, &b);
    return 0;
}
