/*
 * read_only: while the service is failed over, every allowed operation is
 * served (failures only within a transition grace) and every other
 * operation is refused; an operation outside the allowed set that succeeds
 * is a violation, listed with its record. One pass over the records of each
 * fault's interval. A fault during which the service served nothing at all
 * is still judged: the experiment promised read-only mode, so allowed
 * operations refused after the grace are not served; a fault with no
 * operation to judge leaves the verdict inconclusive, never passed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/err.h"
#include "vfy_internal.h"

struct ro_count {
    uint32_t allowed_ok, allowed_not_served, allowed_grace_failed, allowed_unknown;
    uint32_t other_refused, other_unknown, other_accepted, straddling;
};

/* One fault measured. */
struct ro_fault {
    const struct hist_fault *f;
    int64_t A, E, R; /* apply_done, heal_sent (or INT64_MAX), read-only start (-1: none) */
    bool served;     /* some operation was served after A (before E) */
    const char *how; /* how R was found */
    struct ro_count k;
    size_t acc[VFY_LIST_MAX], ns[VFY_LIST_MAX]; /* first offending positions */
};

struct ro_measure {
    struct ro_fault *faults;
    size_t nfaults;
    uint64_t accepted, not_served;
    size_t unjudged; /* faults with no operation to judge */
};

/* Per op name: allowed while read-only (the list, else every name seen only on reads). */
static uint8_t *allowed_names(const struct vfy_ctx *c, const struct vfy_read_only_cfg *ro)
{
    uint8_t *allowed = calloc(c->h->op_names.n + 1, 1);
    size_t i;

    if (allowed == NULL)
        return NULL;
    if (ro->allowed.n > 0) {
        for (i = 1; i < c->h->op_names.n; i++)
            allowed[i] = vfy_names_has(&ro->allowed, c->h->op_names.s[i]);
        return allowed;
    }
    memset(allowed, 1, c->h->op_names.n);
    for (i = 0; i < c->n; i++) {
        if (c->ops[i].is_write)
            allowed[c->ops[i].op] = 0;
    }
    return allowed;
}

/* The read-only start of a fault: configured, or the first operation served after A. */
static void ro_start(const struct vfy_ctx *c, const struct vfy_config *cfg, struct ro_fault *rf)
{
    const struct vfy_read_only_cfg *ro = &cfg->read_only;
    size_t j;

    rf->R = -1;
    if (ro->start_after_ns >= 0) {
        rf->R = rf->A + ro->start_after_ns;
        rf->how = "configured";
    } else {
        rf->how = "first operation served after apply_done";
        for (j = vfy_lower_bound(c, rf->A); j < c->n && c->ops[j].invoke_ns < rf->E; j++) {
            if (!c->ops[j].is_final && c->ops[j].outcome == HIST_OK) {
                rf->R = c->ops[j].invoke_ns;
                rf->served = true;
                break;
            }
        }
        /*
         * Nothing served, yet the fault outlasted the failover bound: the
         * service promised read-only mode by then, so hold it to that.
         */
        if (rf->R < 0 && cfg->failover.enabled && cfg->failover.max_ns >= 0 &&
            rf->E - rf->A > cfg->failover.max_ns) {
            rf->R = rf->A + cfg->failover.max_ns;
            rf->how = "failover.max after apply_done (nothing was served)";
        }
    }
    /*
     * Nothing served at all and no failover bound to wait for: read-only
     * mode was promised from apply_done (the grace covers the transition).
     * With a failover bound the outage was shorter than it: nothing to judge.
     */
    if (rf->R < 0 && !(cfg->failover.enabled && cfg->failover.max_ns >= 0)) {
        rf->R = rf->A;
        rf->how = "apply_done (nothing was served while the fault was in effect)";
    }
}

/* Count one record of the read-only period. */
static void ro_count_op(const struct vfy_ctx *c, const uint8_t *allowed, int64_t grace_ns, size_t j,
                        struct ro_fault *rf)
{
    const struct hist_op *o = &c->ops[j];
    struct ro_count *k = &rf->k;

    if (o->complete_ns > rf->E) {
        k->straddling++;
    } else if (allowed[o->op]) {
        if (o->outcome == HIST_OK)
            k->allowed_ok++;
        else if (o->outcome == HIST_INFO)
            k->allowed_unknown++; /* unknown (a timeout): never a violation */
        else if (o->invoke_ns < rf->R + grace_ns)
            k->allowed_grace_failed++;
        else if (k->allowed_not_served++ < VFY_LIST_MAX)
            rf->ns[k->allowed_not_served - 1] = j;
    } else if (o->outcome == HIST_FAIL) {
        k->other_refused++;
    } else if (o->outcome == HIST_INFO) {
        k->other_unknown++; /* unknown outcome: never a violation */
    } else if (k->other_accepted++ < VFY_LIST_MAX) {
        rf->acc[k->other_accepted - 1] = j;
    }
}

static int ro_measure(const struct vfy_ctx *c, const struct vfy_config *cfg, struct ro_measure *m)
{
    uint8_t *allowed = allowed_names(c, &cfg->read_only);
    size_t fi, j;

    m->faults = calloc(c->nfaults, sizeof(*m->faults));
    if (allowed == NULL || m->faults == NULL) {
        free(allowed);
        return -ENOMEM;
    }
    m->nfaults = c->nfaults;
    for (fi = 0; fi < c->nfaults; fi++) {
        struct ro_fault *rf = &m->faults[fi];
        const struct ro_count *k = &rf->k;

        rf->f = c->faults[fi];
        rf->A = rf->f->apply_done_ns;
        rf->E = rf->f->heal_sent_ns ? rf->f->heal_sent_ns : INT64_MAX;
        ro_start(c, cfg, rf);
        if (rf->R >= 0 && rf->R < rf->E) {
            for (j = vfy_lower_bound(c, rf->R); j < c->n && c->ops[j].invoke_ns < rf->E; j++) {
                if (!c->ops[j].is_final)
                    ro_count_op(c, allowed, cfg->read_only.grace_ns, j, rf);
            }
        }
        m->accepted += k->other_accepted;
        m->not_served += k->allowed_not_served;
        /* Nothing judged unless some allowed operation was (a refused write alone
         * says nothing about reads being served), or a write was accepted. */
        m->unjudged += k->allowed_ok + k->allowed_not_served + k->other_accepted == 0;
    }
    free(allowed);
    return 0;
}

/* ---- JSON ---- */

static json_t *ro_counts_json(const struct ro_count *k)
{
    return json_pack("{s:{s:i,s:i,s:i,s:i},s:{s:i,s:i,s:i},s:i}", "allowed", "served",
                     (int)k->allowed_ok, "not_served", (int)k->allowed_not_served,
                     "failed_in_grace", (int)k->allowed_grace_failed, "unknown",
                     (int)k->allowed_unknown, "others", "refused", (int)k->other_refused, "unknown",
                     (int)k->other_unknown, "accepted", (int)k->other_accepted, "straddling_heal",
                     (int)k->straddling);
}

static json_t *records_json(const struct vfy_ctx *c, const size_t *pos, uint32_t n)
{
    json_t *a = json_array();
    uint32_t i;

    for (i = 0; a != NULL && i < n && i < VFY_LIST_MAX; i++)
        json_array_append_new(a, vfy_record_json(c, pos[i]));
    return a;
}

static int ro_json(const struct vfy_ctx *c, const struct ro_measure *m, struct vfy_result *out)
{
    json_t *faults_j = json_array();
    size_t fi;

    if (faults_j == NULL)
        return -ENOMEM;
    for (fi = 0; fi < m->nfaults; fi++) {
        const struct ro_fault *rf = &m->faults[fi];
        bool in = rf->R >= 0 && rf->R < rf->E;
        json_t *fj = json_pack(
            "{s:s,s:o,s:o,s:s,s:b,s:o,s:o,s:o}", "id", rf->f->id, "read_only_start_ms",
            in ? vfy_json_ms(rf->R - rf->A) : json_null(), "period_ms",
            in && rf->E != INT64_MAX ? vfy_json_ms(rf->E - rf->R) : json_null(), "detected_by",
            rf->how, "served_anything", rf->served, "counts", ro_counts_json(&rf->k), "accepted",
            records_json(c, rf->acc, rf->k.other_accepted), "not_served",
            records_json(c, rf->ns, rf->k.allowed_not_served));

        if (fj == NULL || json_array_append_new(faults_j, fj) < 0) {
            json_decref(faults_j);
            return -ENOMEM;
        }
    }
    json_object_set_new(out->measured, "writes_accepted", json_integer((json_int_t)m->accepted));
    json_object_set_new(out->measured, "allowed_not_served",
                        json_integer((json_int_t)m->not_served));
    json_object_set_new(out->measured, "faults", faults_j);
    return 0;
}

/* ---- text ---- */

static void ro_fault_text(const struct vfy_ctx *c, const struct ro_fault *rf, struct fl_buf *d,
                          struct fl_buf *bad)
{
    const struct ro_count *k = &rf->k;
    char t1[48], t2[48], span[64] = " to the end of the history";
    uint32_t i;

    if (rf->R < 0 || rf->R >= rf->E) {
        fl_buf_printf(d,
                      " Fault %s: the service served nothing between apply_done and heal_sent, "
                      "within the failover bound, so no read-only period was observed (see "
                      "failover).",
                      rf->f->id);
        return;
    }
    if (!rf->served)
        fl_buf_printf(d, " Fault %s: the service served nothing; read-only from %s", rf->f->id,
                      rf->how);
    else
        fl_buf_printf(d, " Fault %s: read-only from %s after the fault", rf->f->id,
                      vfy_dur(rf->R - rf->A, t1, sizeof(t1)));
    if (rf->E != INT64_MAX && rf->R < rf->E)
        snprintf(span, sizeof(span), " for %s", vfy_dur(rf->E - rf->R, t2, sizeof(t2)));
    fl_buf_printf(d,
                  "%s: %u allowed served, %u not served (%u more failed within the grace, %u "
                  "unknown), %u others refused, %u accepted, %u unknown.",
                  span, k->allowed_ok, k->allowed_not_served, k->allowed_grace_failed,
                  k->allowed_unknown, k->other_refused, k->other_accepted, k->other_unknown);
    if (k->allowed_not_served > 0) {
        fl_buf_printf(bad, " Fault %s: allowed operation not served: ", rf->f->id);
        vfy_record_text(c, rf->ns[0], bad);
        fl_buf_addstr(bad, ".");
    }
    for (i = 0; i < k->other_accepted && i < 3; i++) {
        fl_buf_printf(bad, " Fault %s: accepted while read-only: ", rf->f->id);
        vfy_record_text(c, rf->acc[i], bad);
        fl_buf_addstr(bad, ".");
    }
}

static void ro_text(const struct vfy_ctx *c, const struct vfy_config *cfg,
                    const struct ro_measure *m, const struct vfy_result *out, struct fl_buf *d)
{
    const struct vfy_read_only_cfg *ro = &cfg->read_only;
    struct fl_buf bad;
    char t1[48];
    size_t fi;

    fl_buf_init(&bad, VFY_DETAIL_MAX / 2);
    fl_buf_printf(d,
                  "read_only %s: the read-only period of a fault starts at the invocation of "
                  "the first operation served after apply_done (a served operation is the "
                  "first sign of the failed-over service; refusals may come from the network "
                  "in reject mode)%s, or at apply_done when nothing was served at all (read-only "
                  "mode was promised), and ends at heal_sent (the fault was certainly still in "
                  "effect); an operation counts when invoked and completed inside it. Allowed "
                  "operations (%s) must be served except within a %s grace; every other "
                  "operation must be refused; unknown (info) outcomes never count.",
                  vfy_status_word(out->status),
                  ro->start_after_ns >= 0 ? ", or at the configured start," : "",
                  ro->allowed.n ? "the allowed list" : "every read",
                  vfy_dur(ro->grace_ns, t1, sizeof(t1)));
    if (out->status == VFY_FAIL)
        fl_buf_printf(d,
                      " %" PRIu64 " operation(s) accepted while read-only, %" PRIu64
                      " allowed operation(s) not served.",
                      m->accepted, m->not_served);
    for (fi = 0; fi < m->nfaults; fi++)
        ro_fault_text(c, &m->faults[fi], d, &bad);
    if (bad.len)
        fl_buf_addstr(d, bad.p);
    if (out->status == VFY_INCONCLUSIVE)
        fl_buf_printf(d, " Inconclusive: %s.", out->reason);
    fl_buf_free(&bad);
}

int vfy_read_only_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                      struct fl_err *err)
{
    const struct vfy_read_only_cfg *ro = &cfg->read_only;
    struct ro_measure m = {0};
    struct fl_buf d;
    char why[128];
    int r;

    if ((r = vfy_result_begin(out, "read_only")) < 0)
        return fl_errf(err, r, "out of memory");
    fl_buf_init(&d, VFY_DETAIL_MAX);
    json_object_set_new(out->bound, "allowed",
                        ro->allowed.n ? vfy_names_json(&ro->allowed) : json_string("every read"));
    json_object_set_new(out->bound, "grace_ms", vfy_json_ms(ro->grace_ns));
    json_object_set_new(out->bound, "writes_accepted", json_integer(0));
    if (c->nfaults == 0) {
        r = vfy_result_inconclusive(out,
                                    "read_only: no fault in the timeline, so no read-only period.");
        goto out;
    }
    if ((r = ro_measure(c, cfg, &m)) < 0 || (r = ro_json(c, &m, out)) < 0)
        goto out;
    snprintf(why, sizeof(why),
             "%zu of %zu faults had no allowed operation to judge in read-only mode", m.unjudged,
             m.nfaults);
    if (m.accepted > 0 || m.not_served > 0)
        r = vfy_result_set_status(out, VFY_FAIL, NULL);
    else
        r = vfy_result_set_status(out, m.unjudged ? VFY_INCONCLUSIVE : VFY_PASS, why);
    if (r < 0)
        goto out;
    ro_text(c, cfg, &m, out, &d);
    vfy_result_set_detail(out, &d);
out:
    if (r < 0) {
        vfy_result_free(out);
        r = fl_errf(err, r, "out of memory in the read_only verifier");
    }
    free(m.faults);
    fl_buf_free(&d);
    return r;
}
