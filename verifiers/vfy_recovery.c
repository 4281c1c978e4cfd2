/*
 * failover and failback: the time from a fault taking effect (or being
 * healed) to the first successful operation of each class after which
 * success is sustained, per class and per serving region, against a bound.
 * Both are one search over the per-class index lists: for each ok record
 * after the anchor, the ok ratio of the class over the sustain window is a
 * difference of two running counts, so a class costs O(k log n) for the k
 * records looked at before recovery is found.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/err.h"
#include "vfy_internal.h"

struct recovery {
    bool found;
    int64_t rto_ns;      /* S.complete - anchor */
    uint32_t pos;        /* sorted position of S */
    uint32_t attempts;   /* records of the class invoked in [anchor, end) */
    uint32_t ok;         /* of which ok */
    int64_t first_ok_ns; /* first ok completion - anchor, -1 if none */
};

/* First list position in [lo, hi) whose record was invoked at or after t. */
static size_t list_lb(const struct vfy_ctx *c, size_t lo, size_t hi, int64_t t)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (c->ops[c->lidx[mid]].invoke_ns < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*
 * Search list L for recovery after anchor, considering records invoked in
 * [anchor, end). S qualifies when it is ok and, among the class's records
 * invoked in [S.invoke, min(S.complete + window, end)), S included, the ok
 * share is at least ratio. The earliest-completing qualifying S wins.
 */
static void recover(const struct vfy_ctx *c, size_t L, int64_t anchor, int64_t end,
                    const struct vfy_sustain *sus, struct recovery *r)
{
    size_t lo = c->lstart[L], hi = c->lstart[L + 1];
    size_t p = list_lb(c, lo, hi, anchor);
    size_t q = list_lb(c, p, hi, end);
    int64_t best = INT64_MAX;
    size_t i;

    memset(r, 0, sizeof(*r));
    r->first_ok_ns = -1;
    r->attempts = (uint32_t)(q - p);
    r->ok = vfy_ok_before(c, L, q) - vfy_ok_before(c, L, p);
    for (i = p; i < q; i++) {
        const struct hist_op *o = &c->ops[c->lidx[i]];
        int64_t wend;
        size_t j;
        uint32_t n, ok;

        if (o->invoke_ns >= best)
            break; /* every later candidate completes later still */
        if (o->outcome != HIST_OK)
            continue;
        if (r->first_ok_ns < 0 || o->complete_ns - anchor < r->first_ok_ns)
            r->first_ok_ns = o->complete_ns - anchor;
        wend = o->complete_ns > INT64_MAX - sus->window_ns ? INT64_MAX
                                                           : o->complete_ns + sus->window_ns;
        if (wend > end)
            wend = end;
        j = list_lb(c, i + 1, q, wend);
        n = (uint32_t)(j - i);
        ok = vfy_ok_before(c, L, j) - vfy_ok_before(c, L, i);
        if ((double)ok + 1e-9 >= sus->min_ratio * (double)n && o->complete_ns < best) {
            best = o->complete_ns;
            r->found = true;
            r->rto_ns = o->complete_ns - anchor;
            r->pos = c->lidx[i];
        }
    }
}

/* Does class cls carry writes? (op-name classes: their records' is_write) */
static bool class_is_write(const struct vfy_ctx *c, uint32_t cls, const uint8_t *opw)
{
    if (cls == VFY_CLASS_WRITE)
        return true;
    if (cls == VFY_CLASS_READ)
        return false;
    return opw[cls - 2] != 0;
}

enum cls_role {
    ROLE_SKIP = 0,     /* not evaluated */
    ROLE_REQUIRED = 1, /* part of the verdict */
    ROLE_MEASURED = 2, /* reported only */
    ROLE_EXCLUDED = 3, /* refused while read-only: not expected to fail over */
};

int vfy_recovery_run(struct vfy_ctx *c, const struct vfy_config *cfg, bool back,
                     struct vfy_result *out, struct fl_err *err)
{
    const char *name = back ? "failback" : "failover";
    const struct vfy_names *classes = back ? &cfg->failback.classes : &cfg->failover.classes;
    const struct vfy_sustain *sus = back ? &cfg->failback.sustain : &cfg->failover.sustain;
    enum vfy_anchor anchor_end = back ? cfg->failback.anchor : cfg->failover.anchor;
    int64_t max = back ? cfg->failback.max_ns : cfg->failover.max_ns;
    uint32_t stride = c->nregions + 1, cls, reg;
    const uint8_t *opw;
    uint8_t *role = NULL;
    uint32_t *present = NULL;
    json_t *faults_j = NULL, *worst = NULL, *cls_j;
    struct fl_buf d, bad;
    char t1[48], t2[48];
    size_t fi, i, nfail = 0, nevaluated = 0, nattempted = 0;
    int r;

    if ((r = vfy_result_begin(out, name)) < 0)
        return fl_errf(err, r, "out of memory");
    fl_buf_init(&d, VFY_DETAIL_MAX);
    fl_buf_init(&bad, VFY_DETAIL_MAX / 2);
    json_object_set_new(out->bound, "max_ms", max < 0 ? json_null() : vfy_json_ms(max));
    json_object_set_new(
        out->bound, "sustain",
        json_pack("{s:o,s:f}", "window_ms", vfy_json_ms(sus->window_ns), "ratio", sus->min_ratio));
    if (back)
        json_object_set_new(out->bound, "writes",
                            json_string(cfg->failback.writes_required ? "required" : "optional"));
    if (c->nfaults == 0) {
        r = vfy_result_skip(out, back ? "failback: no fault in the timeline, nothing to measure."
                                      : "failover: no fault in the timeline, nothing to measure.");
        goto out;
    }
    if ((r = vfy_ctx_lists(c, err)) < 0)
        goto out;

    role = calloc(c->nclasses, 1);
    present = calloc(c->nclasses, sizeof(*present));
    faults_j = json_array();
    worst = json_object();
    cls_j = json_array();
    if (role == NULL || present == NULL || faults_j == NULL || worst == NULL || cls_j == NULL) {
        json_decref(cls_j);
        r = fl_errf(err, -ENOMEM, "out of memory");
        goto out;
    }
    opw = c->opw;
    for (cls = 0; cls < c->nclasses; cls++)
        present[cls] = c->ccount[cls];

    /* Which classes count. */
    for (cls = 0; cls < c->nclasses; cls++) {
        const char *cn = vfy_class_name(c, cls);
        bool w = class_is_write(c, cls, opw);

        if (present[cls] == 0)
            continue;
        if (classes->n > 0) {
            role[cls] = vfy_names_has(classes, cn) ? ROLE_REQUIRED : ROLE_SKIP;
        } else if (back) {
            role[cls] = (w && !cfg->failback.writes_required) ? ROLE_MEASURED : ROLE_REQUIRED;
        } else if (cfg->read_only.enabled &&
                   (cls == VFY_CLASS_WRITE ||
                    (cls >= 2 &&
                     (cfg->read_only.allowed.n > 0 ? !vfy_names_has(&cfg->read_only.allowed, cn)
                                                   : w)))) {
            role[cls] = ROLE_EXCLUDED;
        } else {
            role[cls] = ROLE_REQUIRED;
        }
        if (role[cls] == ROLE_REQUIRED)
            json_array_append_new(cls_j, json_string(cn));
    }
    json_object_set_new(out->bound, "classes", cls_j);
    /* Explicitly named classes that never appear fail plainly. */
    for (i = 0; i < classes->n; i++) {
        int k = vfy_class_find(c, classes->name[i]);

        if (k < 0 || present[k] == 0) {
            nfail++;
            fl_buf_printf(&bad,
                          " Class %s never appears in the history, so its %s cannot be shown.",
                          classes->name[i], name);
            json_object_set_new(worst, classes->name[i], json_null());
        }
    }

    for (fi = 0; fi < c->nfaults; fi++) {
        const struct hist_fault *f = c->faults[fi];
        int64_t anchor, end, width;
        json_t *fj, *rto, *byreg, *first, *att, *notrec, *noatt, *excl, *meas;

        if (back && f->heal_sent_ns == 0) {
            fj = json_pack("{s:s,s:s}", "id", f->id, "skipped", "never healed");
            json_array_append_new(faults_j, fj);
            fl_buf_printf(&d, " Fault %s was never healed: no failback to measure.", f->id);
            continue;
        }
        if (back) {
            anchor = anchor_end == VFY_ANCHOR_SENT ? f->heal_sent_ns : f->heal_done_ns;
            width = f->heal_done_ns - f->heal_sent_ns;
            end = fi + 1 < c->nfaults ? c->faults[fi + 1]->apply_sent_ns : INT64_MAX;
        } else {
            anchor = vfy_fault_start(f, anchor_end);
            width = f->apply_done_ns - f->apply_sent_ns;
            end = f->heal_sent_ns ? f->heal_sent_ns : INT64_MAX;
        }
        nevaluated++;
        rto = json_object();
        byreg = json_object();
        first = json_object();
        att = json_object();
        notrec = json_array();
        noatt = json_array();
        excl = json_array();
        meas = json_object();
        fj = json_pack("{s:s,s:s,s:s,s:I,s:o,s:o}", "id", f->id, "kind", f->kind, "scope", f->scope,
                       "anchor_ns", (json_int_t)anchor, "anchor_uncertainty_ms", vfy_json_ms(width),
                       "searched_ms", end == INT64_MAX ? json_null() : vfy_json_ms(end - anchor));
        if (fj == NULL || rto == NULL || byreg == NULL || first == NULL || att == NULL ||
            notrec == NULL || noatt == NULL || excl == NULL || meas == NULL) {
            json_decref(fj);
            json_decref(rto);
            json_decref(byreg);
            json_decref(first);
            json_decref(att);
            json_decref(notrec);
            json_decref(noatt);
            json_decref(excl);
            json_decref(meas);
            r = fl_errf(err, -ENOMEM, "out of memory");
            goto out;
        }
        json_object_set_new(fj, "rto_ms", rto);
        json_object_set_new(fj, "rto_ms_by_region", byreg);
        json_object_set_new(fj, "first_ok_ms", first);
        json_object_set_new(fj, "attempts", att);
        json_object_set_new(fj, "not_recovered", notrec);
        json_object_set_new(fj, "not_attempted", noatt);
        if (!back)
            json_object_set_new(fj, "excluded_read_only", excl);
        else
            json_decref(excl);
        if (back)
            json_object_set_new(fj, "measured_only", meas);
        else
            json_decref(meas);
        json_array_append_new(faults_j, fj);

        for (cls = 0; cls < c->nclasses; cls++) {
            const char *cn = vfy_class_name(c, cls);
            struct recovery rc;
            json_t *rj, *wv;

            if (role[cls] == ROLE_SKIP)
                continue;
            if (role[cls] == ROLE_EXCLUDED) {
                json_array_append_new(excl, json_string(cn));
                continue;
            }
            recover(c, (size_t)cls * stride, anchor, end, sus, &rc);
            json_object_set_new(
                att, cn, json_pack("{s:i,s:i}", "total", (int)rc.attempts, "ok", (int)rc.ok));
            if (rc.attempts == 0) {
                json_array_append_new(noatt, json_string(cn));
                continue;
            }
            if (role[cls] == ROLE_REQUIRED)
                nattempted++;
            json_object_set_new(first, cn,
                                rc.first_ok_ns < 0 ? json_null() : vfy_json_ms(rc.first_ok_ns));
            json_object_set_new(rto, cn, rc.found ? vfy_json_ms(rc.rto_ns) : json_null());
            if (role[cls] == ROLE_MEASURED) {
                json_object_set_new(meas, cn, rc.found ? vfy_json_ms(rc.rto_ns) : json_null());
            } else {
                /* worst across faults: null (never) beats any number */
                wv = json_object_get(worst, cn);
                if (!rc.found)
                    json_object_set_new(worst, cn, json_null());
                else if (wv == NULL ||
                         (!json_is_null(wv) && json_number_value(wv) < (double)rc.rto_ns / 1e6))
                    json_object_set_new(worst, cn, vfy_json_ms(rc.rto_ns));
            }
            /* per serving region (the unknown region "" is not reported) */
            for (reg = 1; reg < c->nregions; reg++) {
                struct recovery rr;
                size_t L = (size_t)cls * stride + 1 + reg;

                if (c->lstart[L + 1] == c->lstart[L])
                    continue;
                recover(c, L, anchor, end, sus, &rr);
                if (rr.attempts == 0)
                    continue;
                rj = json_object_get(byreg, cn);
                if (rj == NULL) {
                    rj = json_object();
                    json_object_set_new(byreg, cn, rj);
                }
                json_object_set_new(rj, c->h->regions.s[reg],
                                    rr.found ? vfy_json_ms(rr.rto_ns) : json_null());
            }
            if (role[cls] != ROLE_REQUIRED)
                continue;
            if (!rc.found) {
                nfail++;
                json_array_append_new(notrec, json_string(cn));
                if (end == INT64_MAX)
                    fl_buf_printf(&bad,
                                  " Fault %s: %s never recovered (%u attempts after the anchor, "
                                  "%u ok, none followed by sustained success).",
                                  f->id, cn, rc.attempts, rc.ok);
                else
                    fl_buf_printf(&bad,
                                  " Fault %s: %s did not recover %s (%u attempts in the %s "
                                  "searched, %u ok, none followed by sustained success).",
                                  f->id, cn,
                                  back ? "before the next fault" : "before the fault was healed",
                                  rc.attempts, vfy_dur(end - anchor, t1, sizeof(t1)), rc.ok);
            } else if (max >= 0 && rc.rto_ns > max) {
                nfail++;
                fl_buf_printf(&bad, " Fault %s: %s took %s, over the bound %s; it recovered at ",
                              f->id, cn, vfy_dur(rc.rto_ns, t1, sizeof(t1)),
                              vfy_dur(max, t2, sizeof(t2)));
                vfy_record_text(c, rc.pos, &bad);
                fl_buf_addstr(&bad, ".");
            }
        }
    }
    json_object_set_new(
        out->measured, "anchor",
        json_string(back ? (anchor_end == VFY_ANCHOR_SENT ? "heal_sent_ns" : "heal_done_ns")
                         : (anchor_end == VFY_ANCHOR_SENT ? "apply_sent_ns" : "apply_done_ns")));
    json_object_set_new(out->measured, "rto_ms", worst);
    worst = NULL;
    json_object_set_new(out->measured, "faults", faults_j);
    faults_j = NULL;
    out->pass = nfail == 0;

    /* The paragraph: rule, anchor, values, then the offenders. */
    fl_buf_printf(&d, "%s %s: ", name, out->pass ? "passed" : "FAILED");
    if (back)
        fl_buf_printf(&d,
                      "measured from %s of each healed fault (%s) to the completion of the "
                      "first successful operation of each class after which at least %.0f%% of "
                      "that class's operations over the next %s succeeded",
                      anchor_end == VFY_ANCHOR_SENT ? "heal_sent" : "heal_done",
                      anchor_end == VFY_ANCHOR_SENT
                          ? "the earliest moment the heal could act"
                          : "the moment the heal was certainly in effect, so the controller's own "
                            "latency is never charged to the service",
                      sus->min_ratio * 100.0, vfy_dur(sus->window_ns, t1, sizeof(t1)));
    else
        fl_buf_printf(&d,
                      "measured from %s of each fault (%s) to the completion of the first "
                      "successful operation of each class, invoked while the fault was in effect, "
                      "after which at least %.0f%% of that class's operations over the next %s "
                      "succeeded",
                      anchor_end == VFY_ANCHOR_SENT ? "apply_sent" : "apply_done",
                      anchor_end == VFY_ANCHOR_SENT
                          ? "the earliest moment the fault could have taken effect: the longest "
                            "possible outage"
                          : "the moment the fault was certainly in effect, so the controller's own "
                            "latency is never charged to the service; the true outage may have "
                            "begun up to anchor_uncertainty_ms earlier",
                      sus->min_ratio * 100.0, vfy_dur(sus->window_ns, t1, sizeof(t1)));
    fl_buf_printf(&d, "; bound %s.",
                  max < 0 ? "none (measure only)" : vfy_dur(max, t2, sizeof(t2)));
    {
        const char *k;
        json_t *v;
        int shown = 0;

        fl_buf_addstr(&d, " Worst per class:");
        json_object_foreach(json_object_get(out->measured, "rto_ms"), k, v)
        {
            if (shown++ >= 12) {
                fl_buf_addstr(&d, " ...");
                break;
            }
            if (json_is_null(v))
                fl_buf_printf(&d, " %s never", k);
            else
                fl_buf_printf(&d, " %s %s", k,
                              vfy_dur((int64_t)(json_number_value(v) * 1e6), t1, sizeof(t1)));
        }
        if (shown == 0)
            fl_buf_addstr(&d, " no class was attempted after the anchor");
        fl_buf_addstr(&d, ".");
    }
    if (!back && cfg->read_only.enabled && classes->n == 0)
        fl_buf_addstr(&d, " Classes refused in read-only mode are not expected to fail over and "
                          "are listed as excluded_read_only.");
    if (back && !cfg->failback.writes_required && classes->n == 0)
        fl_buf_addstr(&d, " Write classes are measured but not required (writes: optional).");
    if (bad.len > 0)
        fl_buf_addstr(&d, bad.p);
    if (nfail == 0 && (nevaluated == 0 || nattempted == 0)) {
        out->skipped = true;
        fl_buf_addstr(&d, " Nothing was evaluated: no checked class was attempted in the "
                          "measured intervals.");
    }
    vfy_result_set_detail(out, &d);
    r = 0;
out:
    if (r < 0)
        vfy_result_free(out);
    json_decref(faults_j);
    json_decref(worst);
    fl_buf_free(&d);
    fl_buf_free(&bad);
    free(role);
    free(present);
    return r;
}
