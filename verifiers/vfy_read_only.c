/*
 * read_only: while the service is failed over, every allowed operation is
 * served (failures only within a transition grace) and every other
 * operation is refused; an operation outside the allowed set that succeeds
 * is a violation, listed with its record. One pass over the records of each
 * fault's interval.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/err.h"
#include "vfy_internal.h"

struct ro_count {
    uint32_t allowed_ok, allowed_not_served, allowed_grace_failed, allowed_unknown;
    uint32_t other_refused, other_unknown, other_accepted, straddling;
};

static json_t *ro_counts_json(const struct ro_count *k)
{
    return json_pack("{s:{s:i,s:i,s:i,s:i},s:{s:i,s:i,s:i},s:i}", "allowed", "served",
                     (int)k->allowed_ok, "not_served", (int)k->allowed_not_served,
                     "failed_in_grace", (int)k->allowed_grace_failed, "unknown",
                     (int)k->allowed_unknown, "others", "refused", (int)k->other_refused, "unknown",
                     (int)k->other_unknown, "accepted", (int)k->other_accepted, "straddling_heal",
                     (int)k->straddling);
}

int vfy_read_only_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                      struct fl_err *err)
{
    const struct vfy_read_only_cfg *ro = &cfg->read_only;
    uint8_t *allowed = NULL;
    json_t *faults_j = NULL, *names;
    struct fl_buf d, bad;
    uint64_t tot_accepted = 0, tot_not_served = 0;
    size_t fi, i;
    char t1[48], t2[48];
    int r;

    if ((r = vfy_result_begin(out, "read_only")) < 0)
        return fl_errf(err, r, "out of memory");
    fl_buf_init(&d, VFY_DETAIL_MAX);
    fl_buf_init(&bad, VFY_DETAIL_MAX / 2);
    names = json_array();
    for (i = 0; i < ro->allowed.n; i++)
        json_array_append_new(names, json_string(ro->allowed.name[i]));
    json_object_set_new(out->bound, "allowed",
                        ro->allowed.n ? names : (json_decref(names), json_string("every read")));
    json_object_set_new(out->bound, "grace_ms", vfy_json_ms(ro->grace_ns));
    json_object_set_new(out->bound, "writes_accepted", json_integer(0));
    if (c->nfaults == 0) {
        r = vfy_result_skip(out, "read_only: no fault in the timeline, so no read-only period.");
        goto out;
    }
    allowed = calloc(c->h->op_names.n + 1, 1);
    faults_j = json_array();
    if (allowed == NULL || faults_j == NULL) {
        r = fl_errf(err, -ENOMEM, "out of memory");
        goto out;
    }
    if (ro->allowed.n > 0) {
        for (i = 1; i < c->h->op_names.n; i++)
            allowed[i] = vfy_names_has(&ro->allowed, c->h->op_names.s[i]);
    } else {
        /* Every name that appears only on reads is allowed. */
        memset(allowed, 1, c->h->op_names.n);
        for (i = 0; i < c->n; i++) {
            if (c->ops[i].is_write)
                allowed[c->ops[i].op] = 0;
        }
    }

    for (fi = 0; fi < c->nfaults; fi++) {
        const struct hist_fault *f = c->faults[fi];
        int64_t A = f->apply_done_ns;
        int64_t E = f->heal_sent_ns ? f->heal_sent_ns : INT64_MAX;
        int64_t R = -1;
        struct ro_count k;
        json_t *fj, *acc = json_array(), *ns = json_array();
        size_t p = vfy_lower_bound(c, A), j;
        const char *how;

        memset(&k, 0, sizeof(k));
        if (ro->start_after_ns >= 0) {
            R = A + ro->start_after_ns;
            how = "configured";
        } else {
            how = "first operation served after apply_done";
            for (j = p; j < c->n && c->ops[j].invoke_ns < E; j++) {
                if (!c->ops[j].is_final && c->ops[j].outcome == HIST_OK) {
                    R = c->ops[j].invoke_ns;
                    break;
                }
            }
            /*
             * Nothing served, yet the fault outlasted the failover bound: the
             * service promised read-only mode by then, so hold it to that
             * (allowed operations refused after it are not served).
             */
            if (R < 0 && cfg->failover.enabled && cfg->failover.max_ns >= 0 &&
                E - A > cfg->failover.max_ns) {
                R = A + cfg->failover.max_ns;
                how = "failover.max after apply_done (nothing was served)";
            }
        }
        if (R >= 0 && R < E) {
            for (j = vfy_lower_bound(c, R); j < c->n && c->ops[j].invoke_ns < E; j++) {
                const struct hist_op *o = &c->ops[j];

                if (o->is_final)
                    continue;
                if (o->complete_ns > E) {
                    k.straddling++;
                    continue;
                }
                if (allowed[o->op]) {
                    if (o->outcome == HIST_OK) {
                        k.allowed_ok++;
                    } else if (o->outcome == HIST_INFO) {
                        /* Unknown (a timeout): never a violation; availability judges it. */
                        k.allowed_unknown++;
                    } else if (o->invoke_ns < R + ro->grace_ns) {
                        k.allowed_grace_failed++;
                    } else {
                        k.allowed_not_served++;
                        if (k.allowed_not_served <= VFY_LIST_MAX) {
                            json_array_append_new(ns, vfy_record_json(c, j));
                            if (k.allowed_not_served == 1) {
                                fl_buf_printf(&bad,
                                              " Fault %s: allowed operation not served: ", f->id);
                                vfy_record_text(c, j, &bad);
                                fl_buf_addstr(&bad, ".");
                            }
                        }
                    }
                } else if (o->outcome == HIST_FAIL) {
                    k.other_refused++;
                } else if (o->outcome == HIST_INFO) {
                    k.other_unknown++; /* unknown outcome: never a violation */
                } else {
                    k.other_accepted++;
                    if (k.other_accepted <= VFY_LIST_MAX) {
                        json_array_append_new(acc, vfy_record_json(c, j));
                        if (k.other_accepted <= 3) {
                            fl_buf_printf(&bad, " Fault %s: accepted while read-only: ", f->id);
                            vfy_record_text(c, j, &bad);
                            fl_buf_addstr(&bad, ".");
                        }
                    }
                }
            }
        }
        tot_accepted += k.other_accepted;
        tot_not_served += k.allowed_not_served;
        fj = json_pack("{s:s,s:o,s:o,s:s,s:o,s:o,s:o}", "id", f->id, "read_only_start_ms",
                       R >= 0 && R < E ? vfy_json_ms(R - A) : json_null(), "period_ms",
                       R >= 0 && R < E && E != INT64_MAX ? vfy_json_ms(E - R) : json_null(),
                       "detected_by", how, "counts", ro_counts_json(&k), "accepted", acc,
                       "not_served", ns);
        json_array_append_new(faults_j, fj);
        if (R < 0 || R >= E)
            fl_buf_printf(&d,
                          " Fault %s: the service served nothing between apply_done and "
                          "heal_sent, so no read-only period was observed (see failover).",
                          f->id);
        else {
            char span[64] = " to the end of the history";

            if (E != INT64_MAX)
                snprintf(span, sizeof(span), " for %s", vfy_dur(E - R, t2, sizeof(t2)));
            fl_buf_printf(&d,
                          " Fault %s: read-only from %s after the fault%s: %u allowed served, "
                          "%u not served (%u more failed within the grace, %u unknown), %u "
                          "others refused, %u accepted, %u unknown.",
                          f->id, vfy_dur(R - A, t1, sizeof(t1)), span, k.allowed_ok,
                          k.allowed_not_served, k.allowed_grace_failed, k.allowed_unknown,
                          k.other_refused, k.other_accepted, k.other_unknown);
        }
    }
    out->pass = tot_accepted == 0 && tot_not_served == 0;
    json_object_set_new(out->measured, "writes_accepted", json_integer((json_int_t)tot_accepted));
    json_object_set_new(out->measured, "allowed_not_served",
                        json_integer((json_int_t)tot_not_served));
    json_object_set_new(out->measured, "faults", faults_j);
    faults_j = NULL;
    {
        struct fl_buf head;
        char *body = fl_buf_take(&d);

        fl_buf_init(&head, VFY_DETAIL_MAX);
        fl_buf_printf(&head,
                      "read_only %s: the read-only period of a fault starts at the invocation of "
                      "the first operation served after apply_done (a served operation is the "
                      "first sign of the failed-over service; refusals may come from the network "
                      "in reject mode)%s and ends at heal_sent (the fault was certainly still in "
                      "effect); an operation counts when invoked and completed inside it. Allowed "
                      "operations (%s) must be served except within a %s grace; every other "
                      "operation must be refused; unknown (info) outcomes never count.",
                      out->pass ? "passed" : "FAILED",
                      ro->start_after_ns >= 0 ? ", or at the configured start," : "",
                      ro->allowed.n ? "the allowed list" : "every read",
                      vfy_dur(ro->grace_ns, t1, sizeof(t1)));
        if (!out->pass)
            fl_buf_printf(&head,
                          " %" PRIu64 " operation(s) accepted while read-only, %" PRIu64
                          " allowed operation(s) not served.",
                          tot_accepted, tot_not_served);
        if (body)
            fl_buf_addstr(&head, body);
        if (bad.len)
            fl_buf_addstr(&head, bad.p);
        free(body);
        vfy_result_set_detail(out, &head);
        fl_buf_free(&head);
    }
    r = 0;
out:
    if (r < 0)
        vfy_result_free(out);
    json_decref(faults_j);
    fl_buf_free(&d);
    fl_buf_free(&bad);
    free(allowed);
    return r;
}
