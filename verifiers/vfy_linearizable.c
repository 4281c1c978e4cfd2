/*
 * linearizable: every key's register operations (reads, writes, deletes and
 * compare-and-set) must have a linearization: a total order consistent with
 * real time in which each read returns the latest write and each cas
 * compares against it (Jepsen's cas-register model, as Knossos and
 * Porcupine check it). Linearizability is compositional, so the records are
 * grouped by key once and each key is searched on its own (linearize.c) under
 * a per-key budget. `fail` records never happened and are dropped; `info`
 * writes and cas may have taken effect at any time after their invocation,
 * or never; `info` reads constrain nothing. A key whose budget runs out is
 * inconclusive, never passed; set-model records are not register operations
 * and make their key inconclusive. A violation names the key, the longest
 * linearizable prefix found, the operation that cannot follow it and the
 * operations overlapping that one, with times, values, clients and regions.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/err.h"
#include "faultline/timeutil.h"
#include "linearize.h"
#include "vfy_internal.h"

#define LIN_BUDGET_DEFAULT_NS (10 * VFY_NS_S)
#define LIN_STATES_DEFAULT    1000000ULL
#define LIN_TEXT_WINDOW       12 /* window operations spelled out in the paragraph */
#define LIN_PREFIX_TAIL       5  /* last prefix operations listed */

struct lin_key_note {
    uint32_t key;
    uint64_t states;
    int64_t elapsed_ns;
};

/* The record at sorted position pos as JSON, with cas details and times relative to t0. */
static json_t *op_json(const struct vfy_ctx *c, size_t pos, int64_t t0)
{
    const struct hist_op *o = &c->ops[pos];
    json_t *j = vfy_record_json(c, pos);

    if (j == NULL)
        return NULL;
    if (o->flags & HIST_F_CAS) {
        uint64_t ex = hist_cas_expected(c->h, o);

        json_object_set_new(j, "type", json_string("cas"));
        json_object_set_new(j, "expected", ex ? json_integer((json_int_t)ex) : json_null());
        if (o->outcome == HIST_OK)
            json_object_set_new(j, "swapped", json_boolean(o->flags & HIST_F_SWAPPED));
    }
    json_object_set_new(j, "invoke_ms", vfy_json_ms(o->invoke_ns - t0));
    if (o->outcome == HIST_INFO)
        json_object_set_new(j, "complete_ms", json_null()); /* may take effect any time later */
    else
        json_object_set_new(j, "complete_ms", vfy_json_ms(o->complete_ns - t0));
    return j;
}

/* One operation in words: "client 3 cas k1 5->9 (swapped) ok via west, 10.5..12ms". */
static void op_text(const struct vfy_ctx *c, size_t pos, int64_t t0, struct fl_buf *b)
{
    static const char *const oc[] = {"ok", "fail", "info"};
    const struct hist_op *o = &c->ops[pos];
    const struct hist *h = c->h;
    char t1[48], t2[48];

    fl_buf_printf(b, "record %" PRIu32 ": client %" PRIu32 " %s %s ", vfy_record_no(c, pos),
                  o->client, h->op_names.s[o->op], h->keys.s[o->key]);
    if (o->flags & HIST_F_CAS) {
        uint64_t ex = hist_cas_expected(h, o);

        if (ex)
            fl_buf_printf(b, "cas %" PRIu64, ex);
        else
            fl_buf_printf(b, "cas absent");
        if (o->value)
            fl_buf_printf(b, "->%" PRIu64, o->value);
        else
            fl_buf_printf(b, "->absent");
        if (o->outcome == HIST_OK)
            fl_buf_printf(b, o->flags & HIST_F_SWAPPED ? " swapped" : " no-match");
    } else if (o->is_write) {
        if (o->value)
            fl_buf_printf(b, "write %" PRIu64, o->value);
        else
            fl_buf_printf(b, "delete");
    } else if (o->value) {
        fl_buf_printf(b, "read %" PRIu64, o->value);
    } else {
        fl_buf_printf(b, "read absent");
    }
    fl_buf_printf(b, " %s", o->outcome < 3 ? oc[o->outcome] : "?");
    if (o->region != 0)
        fl_buf_printf(b, " via %s", h->regions.s[o->region]);
    vfy_dur(o->invoke_ns - t0, t1, sizeof(t1));
    if (o->outcome == HIST_INFO)
        fl_buf_printf(b, ", from %s on", t1);
    else
        fl_buf_printf(b, ", %s..%s", t1, vfy_dur(o->complete_ns - t0, t2, sizeof(t2)));
}

/* The violation of one key as JSON (and, for the first key, as text). */
static json_t *violation_json(const struct vfy_ctx *c, uint32_t key, const struct lin_op *lops,
                              const struct lin_report *rep, int64_t t0, struct fl_buf *d)
{
    json_t *v, *win, *tail;
    size_t i, from;

    v = json_pack("{s:s,s:I,s:I}", "key", c->h->keys.s[key], "prefix_length",
                  (json_int_t)rep->nprefix, "window_total", (json_int_t)rep->window_total);
    win = json_array();
    tail = json_array();
    if (v == NULL || win == NULL || tail == NULL) {
        json_decref(v);
        json_decref(win);
        json_decref(tail);
        return NULL;
    }
    json_object_set_new(v, "value_after_prefix",
                        rep->prefix_value ? json_integer((json_int_t)rep->prefix_value)
                                          : json_null());
    json_object_set_new(v, "blocker", op_json(c, lops[rep->blocker].id, t0));
    for (i = 0; i < rep->nwindow; i++) {
        json_t *o = op_json(c, lops[rep->window[i].op].id, t0);

        if (o != NULL)
            json_object_set_new(o, "in_prefix", json_boolean(rep->window[i].in_prefix));
        json_array_append_new(win, o);
    }
    from = rep->nprefix > LIN_PREFIX_TAIL ? rep->nprefix - LIN_PREFIX_TAIL : 0;
    for (i = from; i < rep->nprefix; i++)
        json_array_append_new(tail, op_json(c, lops[rep->prefix[i]].id, t0));
    json_object_set_new(v, "window", win);
    json_object_set_new(v, "prefix_tail", tail);
    if (rep->upfront) {
        json_t *bc = json_array();

        for (i = 0; bc && i < rep->ncause; i++) {
            if (rep->cause[i] == UINT32_MAX)
                json_array_append_new(bc, json_string("initial state (absent)"));
            else
                json_array_append_new(bc, op_json(c, lops[rep->cause[i]].id, t0));
        }
        json_object_set_new(v, "because", bc);
    }
    if (d == NULL)
        return v;

    fl_buf_printf(d,
                  " Key %s: the longest linearizable prefix has %zu operation(s), leaving the "
                  "register ",
                  c->h->keys.s[key], rep->nprefix);
    if (rep->prefix_value)
        fl_buf_printf(d, "at %" PRIu64, rep->prefix_value);
    else
        fl_buf_printf(d, "absent");
    fl_buf_printf(d, "; no order places ");
    op_text(c, lops[rep->blocker].id, t0, d);
    fl_buf_printf(d, " after it");
    if (rep->upfront && rep->ncause == 0)
        fl_buf_printf(d, " (no operation writes the value it needs)");
    else if (rep->upfront && rep->ncause == 1 && rep->cause[0] != UINT32_MAX) {
        fl_buf_printf(d, " (the only write of that value, ");
        op_text(c, lops[rep->cause[0]].id, t0, d);
        fl_buf_printf(d, ", began after it returned)");
    } else if (rep->upfront && rep->ncause == 2) {
        fl_buf_printf(d, " (the value it needs, ");
        if (rep->cause[0] == UINT32_MAX)
            fl_buf_printf(d, "the initial absent state");
        else
            op_text(c, lops[rep->cause[0]].id, t0, d);
        fl_buf_printf(d, ", was overwritten by ");
        op_text(c, lops[rep->cause[1]].id, t0, d);
        fl_buf_printf(d, " before it began)");
    }
    fl_buf_printf(d, ". Operations overlapping it (%zu, itself included; * = in the prefix):",
                  rep->window_total);
    for (i = 0; i < rep->nwindow && i < LIN_TEXT_WINDOW; i++) {
        fl_buf_printf(d, "\n  %s ", rep->window[i].in_prefix ? "*" : "-");
        op_text(c, lops[rep->window[i].op].id, t0, d);
    }
    if (rep->window_total > i)
        fl_buf_printf(d, "\n  ... %zu more (see measured.violations)", rep->window_total - i);
    return v;
}

/* What the search found over every key (the measure step's result). */
struct lin_measure {
    int64_t budget;
    uint64_t max_states;
    uint64_t keys, keys_checked, keys_ok, keys_bad, keys_unknown, keys_set;
    uint64_t ops_checked, ops_info, ops_fail, ops_info_read, states;
    int64_t slowest, search_ns;
    struct lin_key_note unknown[VFY_LIST_MAX];
    size_t nunknown;
    json_t *viol;     /* the first VFY_LIST_MAX violations */
    struct fl_buf vt; /* the first violation in words */
};

/*
 * The register operations of one key (sorted positions idx[from..to)) as
 * lops[], failed operations and info reads left out. Returns how many, or
 * SIZE_MAX when the key holds set-model records. *nfin: those with a known
 * outcome.
 */
static size_t key_ops(const struct vfy_ctx *c, const uint32_t *idx, size_t from, size_t to,
                      struct lin_op *lops, size_t *nfin, struct lin_measure *m)
{
    size_t n = 0, p;

    *nfin = 0;
    for (p = from; p < to; p++) {
        const struct hist_op *o = &c->ops[idx[p]];
        struct lin_op *l = &lops[n];

        if (o->flags & HIST_F_SET) {
            return SIZE_MAX;
        }
        if (o->outcome == HIST_FAIL) {
            m->ops_fail++;
            continue;
        }
        if (o->outcome == HIST_INFO && !o->is_write) {
            m->ops_info_read++;
            continue;
        }
        memset(l, 0, sizeof(*l));
        l->call_ns = o->invoke_ns;
        l->ret_ns = o->outcome == HIST_INFO ? LIN_NEVER : o->complete_ns;
        l->info = o->outcome == HIST_INFO;
        l->value = o->value;
        l->id = idx[p];
        if (o->flags & HIST_F_CAS) {
            l->kind = LIN_CAS;
            l->expected = hist_cas_expected(c->h, o);
            l->swapped = (o->flags & HIST_F_SWAPPED) != 0;
        } else {
            l->kind = o->is_write ? LIN_WRITE : LIN_READ;
        }
        *nfin += !l->info;
        n++;
    }
    return n;
}

/* Search key k's n operations lops[] under the budget and count the verdict in m. */
static int check_key(const struct vfy_ctx *c, uint32_t k, const struct lin_op *lops, size_t n,
                     struct lin_ws *ws, struct lin_measure *m, struct fl_err *err)
{
    int64_t t0 = c->n ? c->ops[0].invoke_ns : 0, t = fl_now_ns();
    struct lin_limits lim;
    struct lin_report rep;
    int r;

    lim.deadline_ns = t + m->budget;
    lim.max_states = m->max_states;
    if ((r = lin_check(ws, lops, n, &lim, &rep)) < 0)
        return fl_errf(err, r, "linearizable: key %s: %s", c->h->keys.s[k],
                       r == -ENOMEM ? "out of memory" : "too many operations");
    t = fl_now_ns() - t;
    m->states += rep.states;
    if (t > m->slowest)
        m->slowest = t;
    if (rep.verdict == LIN_OK) {
        m->keys_ok++;
    } else if (rep.verdict == LIN_UNKNOWN) {
        if (m->nunknown < VFY_LIST_MAX) {
            m->unknown[m->nunknown].key = k;
            m->unknown[m->nunknown].states = rep.states;
            m->unknown[m->nunknown++].elapsed_ns = t;
        }
        m->keys_unknown++;
    } else {
        if (m->keys_bad < VFY_LIST_MAX) {
            json_t *v = violation_json(c, k, lops, &rep, t0, m->keys_bad == 0 ? &m->vt : NULL);

            if (v == NULL) {
                lin_report_free(&rep);
                return fl_errf(err, -ENOMEM, "out of memory");
            }
            json_array_append_new(m->viol, v);
        }
        m->keys_bad++;
    }
    lin_report_free(&rep);
    return 0;
}

/* Measure: group the records by key (stable: each key's stay in invoke order), search each. */
static int lin_measure(const struct vfy_ctx *c, struct lin_measure *m, struct fl_err *err)
{
    size_t nk = c->h->keys.n, i, k;
    uint32_t *start = NULL, *idx = NULL;
    struct lin_op *lops = NULL;
    struct lin_ws *ws = NULL;
    int64_t began = fl_now_ns();
    int r = 0;

    start = calloc(nk + 2, sizeof(*start));
    idx = malloc((c->n ? c->n : 1) * sizeof(*idx));
    lops = malloc((c->n ? c->n : 1) * sizeof(*lops));
    ws = lin_ws_new();
    if (start == NULL || idx == NULL || lops == NULL || ws == NULL) {
        r = fl_errf(err, -ENOMEM, "out of memory");
        goto out;
    }
    for (i = 0; i < c->n; i++)
        start[c->ops[i].key + 2]++;
    for (k = 0; k < nk; k++)
        start[k + 2] += start[k + 1];
    for (i = 0; i < c->n; i++)
        idx[start[c->ops[i].key + 1]++] = (uint32_t)i;

    for (k = 0; k < nk; k++) {
        size_t n, nfin;

        if (start[k] == start[k + 1])
            continue;
        m->keys++;
        n = key_ops(c, idx, start[k], start[k + 1], lops, &nfin, m);
        if (n == SIZE_MAX) {
            m->keys_set++;
            continue;
        }
        if (nfin == 0)
            continue; /* only failed or unknown operations: nothing constrains the key */
        m->keys_checked++;
        m->ops_checked += n;
        m->ops_info += n - nfin;
        if ((r = check_key(c, (uint32_t)k, lops, n, ws, m, err)) < 0)
            goto out;
    }
    m->search_ns = fl_now_ns() - began;
out:
    lin_ws_free(ws);
    free(start);
    free(idx);
    free(lops);
    return r;
}

/* The measurements as out->measured (takes m->viol). */
static void lin_json(const struct vfy_ctx *c, struct lin_measure *m, struct vfy_result *out)
{
    json_t *inc = json_array();
    size_t i;

    for (i = 0; inc != NULL && i < m->nunknown; i++) {
        json_array_append_new(inc,
                              json_pack("{s:s,s:I,s:o}", "key", c->h->keys.s[m->unknown[i].key],
                                        "states", (json_int_t)m->unknown[i].states, "elapsed_ms",
                                        vfy_json_ms(m->unknown[i].elapsed_ns)));
    }
    json_object_set_new(out->measured, "keys", json_integer((json_int_t)m->keys));
    json_object_set_new(out->measured, "keys_checked", json_integer((json_int_t)m->keys_checked));
    json_object_set_new(out->measured, "keys_linearizable", json_integer((json_int_t)m->keys_ok));
    json_object_set_new(out->measured, "keys_violating", json_integer((json_int_t)m->keys_bad));
    json_object_set_new(out->measured, "keys_inconclusive",
                        json_integer((json_int_t)m->keys_unknown));
    json_object_set_new(out->measured, "keys_set_model", json_integer((json_int_t)m->keys_set));
    json_object_set_new(out->measured, "ops_checked", json_integer((json_int_t)m->ops_checked));
    json_object_set_new(out->measured, "ops_info", json_integer((json_int_t)m->ops_info));
    json_object_set_new(out->measured, "ops_fail_dropped", json_integer((json_int_t)m->ops_fail));
    json_object_set_new(out->measured, "ops_info_reads_dropped",
                        json_integer((json_int_t)m->ops_info_read));
    json_object_set_new(out->measured, "states", json_integer((json_int_t)m->states));
    json_object_set_new(out->measured, "search_ms", vfy_json_ms(m->search_ns));
    json_object_set_new(out->measured, "slowest_key_ms", vfy_json_ms(m->slowest));
    json_object_set_new(out->measured, "violations", m->viol);
    json_object_set_new(out->measured, "inconclusive_keys", inc);
    m->viol = NULL;
}

/* Why the verdict is inconclusive, into why[n]. */
static void inconclusive_why(const struct vfy_ctx *c, const struct lin_measure *m, char *why,
                             size_t n)
{
    size_t w = 0;
    char b1[48];

    why[0] = '\0';
    if (m->keys_unknown > 0)
        w += (size_t)snprintf(why + w, n - w,
                              "%" PRIu64 " of %" PRIu64
                              " key(s) exceeded the search budget (%s or %" PRIu64
                              " states per key) before a linearization was found or ruled "
                              "out, e.g. %s",
                              m->keys_unknown, m->keys_checked, vfy_dur(m->budget, b1, sizeof(b1)),
                              m->max_states, c->h->keys.s[m->unknown[0].key]);
    if (m->keys_set > 0 && w < n)
        w += (size_t)snprintf(why + w, n - w,
                              "%s%" PRIu64 " key(s) hold set-model records, which the "
                              "register model does not judge (data_loss checks set histories)",
                              w ? "; " : "", m->keys_set);
    if (w == 0)
        snprintf(why, n, "no register operation with a known outcome to check");
}

/* The verdict and the detail paragraph. */
static int lin_text(const struct vfy_ctx *c, const struct lin_measure *m, struct vfy_result *out,
                    struct fl_buf *d)
{
    char why[512];
    int r;

    if (m->keys_bad > 0) {
        r = vfy_result_set_status(out, VFY_FAIL, NULL);
        fl_buf_printf(d,
                      "FAILED: %" PRIu64 " of %" PRIu64
                      " key(s) have no linearization (cas-register model, %" PRIu64
                      " operations checked).",
                      m->keys_bad, m->keys_checked, m->ops_checked);
        fl_buf_addstr(d, m->vt.p ? m->vt.p : "");
    } else if (m->keys_unknown > 0 || m->keys_set > 0 || m->keys_checked == 0) {
        inconclusive_why(c, m, why, sizeof(why));
        r = vfy_result_set_status(out, VFY_INCONCLUSIVE, why);
        fl_buf_printf(d, "INCONCLUSIVE: %s; %" PRIu64 " key(s) linearizable.", why, m->keys_ok);
    } else {
        r = vfy_result_set_status(out, VFY_PASS, NULL);
        fl_buf_printf(d,
                      "passed: all %" PRIu64 " key(s) linearizable (cas-register model, %" PRIu64
                      " operations, %" PRIu64 " with unknown outcome, %" PRIu64
                      " failed ones dropped).",
                      m->keys_checked, m->ops_checked, m->ops_info, m->ops_fail);
    }
    return r;
}

int vfy_linearizable_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                         struct fl_err *err)
{
    const struct vfy_linearizable_cfg *lc = &cfg->linearizable;
    struct lin_measure m;
    struct fl_buf d;
    int r;

    if ((r = vfy_result_begin(out, "linearizable")) < 0)
        return fl_errf(err, r, "out of memory");
    memset(&m, 0, sizeof(m));
    m.budget = lc->budget_ns > 0 ? lc->budget_ns : LIN_BUDGET_DEFAULT_NS;
    m.max_states = lc->max_states ? lc->max_states : LIN_STATES_DEFAULT;
    fl_buf_init(&d, VFY_DETAIL_MAX);
    fl_buf_init(&m.vt, VFY_DETAIL_MAX);
    json_object_set_new(out->bound, "budget_ms", vfy_json_ms(m.budget));
    json_object_set_new(out->bound, "max_states", json_integer((json_int_t)m.max_states));
    json_object_set_new(out->bound, "model", json_string("cas-register"));

    if ((m.viol = json_array()) == NULL) {
        r = fl_errf(err, -ENOMEM, "out of memory");
        goto out;
    }
    if ((r = lin_measure(c, &m, err)) < 0)
        goto out;
    lin_json(c, &m, out);
    if ((r = lin_text(c, &m, out, &d)) < 0) {
        r = fl_errf(err, r, "out of memory");
        goto out;
    }
    vfy_result_set_detail(out, &d);
    r = 0;
out:
    fl_buf_free(&d);
    fl_buf_free(&m.vt);
    json_decref(m.viol);
    return r;
}

int vfy_linearizable_check(const struct hist *h, const struct hist_faults *faults,
                           const struct vfy_config *cfg, struct vfy_result *out, struct fl_err *err)
{
    struct vfy_ctx c;
    int r;

    memset(out, 0, sizeof(*out));
    if ((r = vfy_ctx_init(&c, h, faults, err)) < 0)
        return r;
    r = vfy_linearizable_run(&c, cfg, out, err);
    vfy_ctx_free(&c);
    return r;
}
