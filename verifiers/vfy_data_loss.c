/*
 * data_loss (RPO): after healing and convergence, an acknowledged write
 * whose effect is absent from the final reads and that was not superseded is
 * lost. Three passes over the records with key-indexed arrays: the final
 * value of each key, the latest completion of any write that wrote that
 * value, then the verdict on every ok write. Lost writes are attributed to a
 * fault and measured against it: how many, and how far before the fault took
 * effect they reach.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/err.h"
#include "vfy_internal.h"

enum {
    FIN_NONE = 0,     /* no ok final read: the key cannot be judged */
    FIN_HAS = 1,      /* final value known */
    FIN_DIVERGED = 2, /* flag: final reads disagreed (the last one is used) */
    FIN_WRITER = 4,   /* flag: some recorded write wrote the final value */
};

struct loss_group {
    uint64_t lost;
    size_t earliest, latest; /* sorted positions, valid when lost > 0 */
};

/* The fault a lost write completing at t belongs to: the first not healed by t, else the last. */
static size_t attribute(const struct vfy_ctx *c, int64_t t)
{
    size_t i;

    for (i = 0; i < c->nfaults; i++) {
        if (c->faults[i]->heal_done_ns == 0 || t <= c->faults[i]->heal_done_ns)
            return i;
    }
    return c->nfaults - 1;
}

int vfy_data_loss_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                      struct fl_err *err)
{
    static const char *const cons_name[] = {"",        "strong", "bounded",
                                            "session", "prefix", "eventual"};
    const struct vfy_data_loss_cfg *dl = &cfg->data_loss;
    size_t nk = c->h->keys.n, ng = c->nfaults ? c->nfaults : 1, i, g;
    uint64_t *fin = NULL;
    int64_t *fc = NULL;
    uint8_t *st = NULL;
    struct loss_group *grp = NULL;
    uint64_t checked = 0, unchecked = 0, info_absent = 0, total = 0, keys_checked = 0, diverged = 0,
             unknown_final = 0;
    int64_t worst_window = 0;
    json_t *faults_j = NULL;
    struct fl_buf d, bad;
    char t1[48], t2[48];
    int r;

    if ((r = vfy_result_begin(out, "data_loss")) < 0)
        return fl_errf(err, r, "out of memory");
    fl_buf_init(&d, VFY_DETAIL_MAX);
    fl_buf_init(&bad, VFY_DETAIL_MAX / 2);
    json_object_set_new(out->bound, "max_updates",
                        dl->max_updates < 0 ? json_null() : json_integer(dl->max_updates));
    json_object_set_new(out->bound, "max_window_ms",
                        dl->max_window_ns < 0 ? json_null() : vfy_json_ms(dl->max_window_ns));
    if (dl->consistency != VFY_CONS_NONE)
        json_object_set_new(out->bound, "consistency", json_string(cons_name[dl->consistency]));

    fin = malloc(nk * sizeof(*fin));
    fc = malloc(nk * sizeof(*fc));
    st = calloc(nk, 1);
    grp = calloc(ng, sizeof(*grp));
    faults_j = json_array();
    if ((nk && (fin == NULL || fc == NULL || st == NULL)) || grp == NULL || faults_j == NULL) {
        r = fl_errf(err, -ENOMEM, "out of memory");
        goto out;
    }
    /* 1: final values (records are in invoke order, so the last final read wins). */
    for (i = 0; i < c->n; i++) {
        const struct hist_op *o = &c->ops[i];

        if (!o->is_final || o->outcome != HIST_OK)
            continue;
        if ((st[o->key] & FIN_HAS) && fin[o->key] != o->value)
            st[o->key] |= FIN_DIVERGED;
        st[o->key] |= FIN_HAS;
        fin[o->key] = o->value;
    }
    /* 2: latest completion of a write (any outcome) whose value is final. */
    for (i = 0; i < nk; i++)
        fc[i] = INT64_MIN;
    for (i = 0; i < c->n; i++) {
        const struct hist_op *o = &c->ops[i];

        if (o->is_write && (st[o->key] & FIN_HAS) && o->value == fin[o->key]) {
            st[o->key] |= FIN_WRITER;
            if (o->complete_ns > fc[o->key])
                fc[o->key] = o->complete_ns;
        }
    }
    /* 3: every ok write: present, superseded (the final value's writer did not
     * finish before this write began) or lost. */
    for (i = 0; i < c->n; i++) {
        const struct hist_op *o = &c->ops[i];
        struct loss_group *lg;

        if (!o->is_write || o->outcome == HIST_FAIL)
            continue;
        if (!(st[o->key] & FIN_HAS)) {
            unchecked += o->outcome == HIST_OK;
            continue;
        }
        checked += o->outcome == HIST_OK;
        if (o->value == fin[o->key] || fc[o->key] >= o->invoke_ns)
            continue; /* present, or superseded by (or concurrent with) the final writer */
        if (o->outcome == HIST_INFO) {
            info_absent++; /* unknown outcome: never lost */
            continue;
        }
        total++;
        lg = &grp[c->nfaults ? attribute(c, o->complete_ns) : 0];
        if (lg->lost == 0 || o->complete_ns < c->ops[lg->earliest].complete_ns)
            lg->earliest = i;
        if (lg->lost == 0 || o->complete_ns > c->ops[lg->latest].complete_ns)
            lg->latest = i;
        lg->lost++;
    }
    for (i = 0; i < nk; i++) {
        if (st[i] & FIN_HAS) {
            keys_checked++;
            diverged += (st[i] & FIN_DIVERGED) != 0;
            unknown_final += fin[i] != 0 && !(st[i] & FIN_WRITER);
        }
    }

    out->pass = true;
    for (g = 0; g < ng; g++) {
        const struct hist_fault *f = c->nfaults ? c->faults[g] : NULL;
        struct loss_group *lg = &grp[g];
        int64_t anchor = f ? f->apply_sent_ns : 0, window = 0;
        bool over_n, over_w;
        json_t *fj;

        if (lg->lost > 0 && f != NULL) {
            window = anchor - c->ops[lg->earliest].complete_ns;
            if (window < 0)
                window = 0;
        }
        if (window > worst_window)
            worst_window = window;
        over_n = lg->lost > 0 &&
                 (f == NULL || (dl->max_updates >= 0 && lg->lost > (uint64_t)dl->max_updates));
        over_w = f != NULL && lg->lost > 0 && dl->max_window_ns >= 0 && window > dl->max_window_ns;
        if (over_n || over_w)
            out->pass = false;
        fj =
            json_pack("{s:s,s:I,s:o}", "id", f ? f->id : "(no fault)", "lost", (json_int_t)lg->lost,
                      "window_ms", lg->lost && f ? vfy_json_ms(window) : json_null());
        if (lg->lost > 0) {
            json_t *e = vfy_record_json(c, lg->earliest), *l = vfy_record_json(c, lg->latest);

            if (f && e)
                json_object_set_new(e, "before_fault_ms",
                                    vfy_json_ms(anchor - c->ops[lg->earliest].complete_ns));
            if (f && l)
                json_object_set_new(l, "before_fault_ms",
                                    vfy_json_ms(anchor - c->ops[lg->latest].complete_ns));
            json_object_set_new(fj, "earliest", e);
            json_object_set_new(fj, "latest", l);
            fl_buf_printf(&bad, " %s %s: %" PRIu64 " lost", f ? "Fault" : "With",
                          f ? f->id : "no fault at all", lg->lost);
            if (f)
                fl_buf_printf(&bad, ", reaching %s before the fault",
                              vfy_dur(window, t1, sizeof(t1)));
            if (over_n && f == NULL)
                fl_buf_addstr(&bad, " (no loss is acceptable without an outage)");
            else if (over_n)
                fl_buf_printf(&bad, " (over max_updates %" PRId64 ")", dl->max_updates);
            if (over_w)
                fl_buf_printf(&bad, " (over max_window %s)",
                              vfy_dur(dl->max_window_ns, t2, sizeof(t2)));
            fl_buf_addstr(&bad, "; earliest ");
            vfy_record_text(c, lg->earliest, &bad);
            if (lg->latest != lg->earliest) {
                fl_buf_addstr(&bad, ", latest ");
                vfy_record_text(c, lg->latest, &bad);
            }
            fl_buf_addstr(&bad, ".");
        }
        json_array_append_new(faults_j, fj);
    }
    json_object_set_new(out->measured, "anchor", json_string("apply_sent_ns"));
    json_object_set_new(out->measured, "lost_updates", json_integer((json_int_t)total));
    json_object_set_new(out->measured, "window_ms", vfy_json_ms(worst_window));
    json_object_set_new(out->measured, "checked_writes", json_integer((json_int_t)checked));
    json_object_set_new(out->measured, "unchecked_writes", json_integer((json_int_t)unchecked));
    json_object_set_new(out->measured, "keys_checked", json_integer((json_int_t)keys_checked));
    json_object_set_new(out->measured, "diverged_keys", json_integer((json_int_t)diverged));
    json_object_set_new(out->measured, "unknown_final_values",
                        json_integer((json_int_t)unknown_final));
    json_object_set_new(out->measured, "info_writes_absent", json_integer((json_int_t)info_absent));
    json_object_set_new(out->measured, "faults", faults_j);
    faults_j = NULL;

    fl_buf_printf(&d,
                  "data_loss %s: an acknowledged (ok) write is lost when the key's final read "
                  "shows another value and the write that produced that value finished before "
                  "this one began (a final value from a later or concurrent write supersedes "
                  "it); info writes never count. The window is how far before the fault's "
                  "apply_sent (the earliest moment it could act, so controller latency never "
                  "inflates the window) the earliest lost write completed. Bound: %s updates, "
                  "window %s%s%s%s.",
                  out->pass ? "passed" : "FAILED",
                  dl->max_updates < 0 ? "any number of"
                                      : (snprintf(t1, sizeof(t1), "%" PRId64, dl->max_updates), t1),
                  dl->max_window_ns < 0 ? "unbounded" : vfy_dur(dl->max_window_ns, t2, sizeof(t2)),
                  dl->consistency ? " (consistency " : "",
                  dl->consistency ? cons_name[dl->consistency] : "", dl->consistency ? ")" : "");
    fl_buf_printf(&d,
                  " Checked %" PRIu64 " acknowledged writes over %" PRIu64 " keys with a final "
                  "read: %" PRIu64 " lost, worst window %s.",
                  checked, keys_checked, total, vfy_dur(worst_window, t1, sizeof(t1)));
    if (unchecked)
        fl_buf_printf(&d,
                      " %" PRIu64 " acknowledged writes went to keys without a final read "
                      "and were not checked.",
                      unchecked);
    if (diverged)
        fl_buf_printf(&d,
                      " %" PRIu64 " keys had disagreeing final reads (not converged); the "
                      "last read was used.",
                      diverged);
    if (unknown_final)
        fl_buf_printf(&d,
                      " %" PRIu64 " keys ended on a value no recorded write wrote (taken as "
                      "the state before the history).",
                      unknown_final);
    if (info_absent)
        fl_buf_printf(&d, " %" PRIu64 " writes with unknown outcome are absent; not counted.",
                      info_absent);
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
    free(fin);
    free(fc);
    free(st);
    free(grp);
    return r;
}
