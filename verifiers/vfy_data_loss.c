/*
 * data_loss (RPO): after healing and convergence, an acknowledged write
 * whose effect is absent from the final reads is lost.
 *
 * Register model (today's records): a write is lost when the key's final
 * read shows another value and the write that produced that value finished
 * before this one began. A lost write that a later write overwrote cannot
 * be told apart from one that was superseded, so the register model never
 * sees it; the set model and the linearizable verifier exist for that.
 * Set model (records flagged HIST_F_SET): every acknowledged element missing
 * from the final read of its key is lost, whatever was written afterwards.
 *
 * Each lost write is attributed to a fault and placed on one side of its
 * start: after when the service acknowledged it once the fault was
 * certainly in effect (complete > apply_done: split brain, a failback that
 * discards the new write region's writes; bounded by max_after, 0 by
 * default), before otherwise (the RPO window: unreplicated writes of the
 * failed region, bounded by max_window). Both offsets are measured from
 * apply_sent, the earliest moment the fault could act.
 * A write acknowledged while the fault was being applied may have preceded
 * it, so it is given the benefit of the doubt and counts as before.
 * A compare-and-set that compared and did not swap wrote nothing: it is
 * never a write here (an info cas is an info write: never lost).
 * Three passes over the records with key-indexed arrays. Every lost write
 * is also listed per fault (lost_writes, the first DL_LIST_MAX in record
 * order, lost_truncated beyond) with its signed offset from the fault start
 * under the same side rule, so that the report can draw each one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/err.h"
#include "vfy_internal.h"

enum {
    FIN_NONE = 0,     /* no ok final read: the key cannot be judged */
    FIN_HAS = 1,      /* final value known */
    FIN_DIVERGED = 2, /* flag: final reads disagreed (the last one is used) */
    FIN_WRITER = 4,   /* flag: some recorded write wrote the final value */
    FIN_SET = 8,      /* flag: the final read is a set-model read (fin = its position) */
};

struct loss_side {
    uint64_t lost;
    size_t earliest, latest; /* sorted positions, valid when lost > 0 */
    int64_t reach;           /* before: fault start - earliest; after: latest - fault start */
};

#define DL_LIST_MAX 2000 /* lost writes listed per fault */

struct loss_group {
    const struct hist_fault *f; /* NULL: no fault in the timeline */
    struct loss_side before, after;
    bool over_n, over_w, over_a;
    size_t *list, nlist; /* positions of the listed lost writes (record order) */
};

struct dl_measure {
    uint64_t checked, unchecked, info_absent, total, keys_checked, diverged, unknown_final;
    uint64_t set_writes, lost_before, lost_after;
    int64_t worst_window, worst_after;
    struct loss_group *grp;
    size_t ng;
};

/* Per-key state of the final reads. */
struct dl_keys {
    uint64_t *fin; /* register: final value; set: sorted position of the final read */
    int64_t *fc;   /* latest completion of a write whose value is final */
    uint8_t *st;   /* FIN_* */
};

static const char *const cons_name[] = {"", "strong", "bounded", "session", "prefix", "eventual"};

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

static bool same_set(const struct hist *h, const struct hist_op *a, const struct hist_op *b)
{
    size_t na, nb;
    const uint64_t *ea = hist_set_elems(h, a, &na), *eb = hist_set_elems(h, b, &nb);

    return na == nb && (na == 0 || memcmp(ea, eb, na * sizeof(*ea)) == 0);
}

/* 1: final values (records are in invoke order, so the last final read wins). */
static void final_values(const struct vfy_ctx *c, struct dl_keys *k)
{
    size_t i;

    for (i = 0; i < c->n; i++) {
        const struct hist_op *o = &c->ops[i];
        uint8_t *st = &k->st[o->key];

        if (!o->is_final || o->outcome != HIST_OK)
            continue;
        if (o->flags & HIST_F_SET) {
            if ((*st & FIN_HAS) && !((*st & FIN_SET) && same_set(c->h, &c->ops[k->fin[o->key]], o)))
                *st |= FIN_DIVERGED;
            *st |= FIN_HAS | FIN_SET;
            k->fin[o->key] = i;
            continue;
        }
        if ((*st & FIN_HAS) && ((*st & FIN_SET) || k->fin[o->key] != o->value))
            *st |= FIN_DIVERGED;
        *st = (uint8_t)((*st & ~FIN_SET) | FIN_HAS);
        k->fin[o->key] = o->value;
    }
}

/* Did o (maybe) write? A cas answered "no match" certainly did not. */
static bool dl_writes(const struct hist_op *o)
{
    return o->is_write &&
           !((o->flags & HIST_F_CAS) && o->outcome == HIST_OK && !(o->flags & HIST_F_SWAPPED));
}

/* 2: latest completion of a write (any outcome) whose value is final (register keys). */
static void final_writers(const struct vfy_ctx *c, struct dl_keys *k)
{
    size_t i;

    for (i = 0; i < c->h->keys.n; i++)
        k->fc[i] = INT64_MIN;
    for (i = 0; i < c->n; i++) {
        const struct hist_op *o = &c->ops[i];
        uint8_t st = k->st[o->key];

        if (dl_writes(o) && (st & FIN_HAS) && !(st & FIN_SET) && o->value == k->fin[o->key]) {
            /* an info write may take effect at any time after its invocation */
            int64_t t = o->outcome == HIST_INFO ? INT64_MAX : o->complete_ns;

            k->st[o->key] |= FIN_WRITER;
            if (t > k->fc[o->key])
                k->fc[o->key] = t;
        }
    }
}

/* Is write o (ok or info, key with a final read) absent from the final state? */
static bool write_absent(const struct vfy_ctx *c, const struct dl_keys *k, const struct hist_op *o)
{
    if (k->st[o->key] & FIN_SET)
        return !((o->flags & HIST_F_SET) && hist_set_has(c->h, &c->ops[k->fin[o->key]], o->value));
    /* present, or superseded by (or concurrent with) the final writer */
    return !(o->value == k->fin[o->key] || k->fc[o->key] >= o->invoke_ns);
}

static void side_add(struct loss_side *s, const struct vfy_ctx *c, size_t i)
{
    const struct hist_op *o = &c->ops[i];

    if (s->lost == 0 || o->complete_ns < c->ops[s->earliest].complete_ns)
        s->earliest = i;
    if (s->lost == 0 || o->complete_ns > c->ops[s->latest].complete_ns)
        s->latest = i;
    s->lost++;
}

/* List lost write i under its fault (the first DL_LIST_MAX only). */
static int list_add(struct loss_group *lg, size_t i)
{
    if (lg->nlist == DL_LIST_MAX)
        return 0;
    if (lg->list == NULL && (lg->list = malloc(DL_LIST_MAX * sizeof(*lg->list))) == NULL)
        return -ENOMEM;
    lg->list[lg->nlist++] = i;
    return 0;
}

/* 3: every ok write: present, superseded or lost, and on which side of its fault. */
static int judge_writes(const struct vfy_ctx *c, const struct dl_keys *k, struct dl_measure *m)
{
    size_t i;

    for (i = 0; i < c->n; i++) {
        const struct hist_op *o = &c->ops[i];
        struct loss_group *lg;

        if (!dl_writes(o) || o->outcome == HIST_FAIL)
            continue;
        if (!(k->st[o->key] & FIN_HAS)) {
            m->unchecked += o->outcome == HIST_OK;
            continue;
        }
        m->checked += o->outcome == HIST_OK;
        m->set_writes += o->outcome == HIST_OK && (o->flags & HIST_F_SET);
        if (!write_absent(c, k, o))
            continue;
        if (o->outcome == HIST_INFO) {
            m->info_absent++; /* unknown outcome: never lost */
            continue;
        }
        m->total++;
        lg = &m->grp[c->nfaults ? attribute(c, o->complete_ns) : 0];
        side_add(lg->f && o->complete_ns > lg->f->apply_done_ns ? &lg->after : &lg->before, c, i);
        if (list_add(lg, i) < 0)
            return -ENOMEM;
    }
    return 0;
}

static void key_totals(const struct vfy_ctx *c, const struct dl_keys *k, struct dl_measure *m)
{
    size_t i;

    for (i = 0; i < c->h->keys.n; i++) {
        if (!(k->st[i] & FIN_HAS))
            continue;
        m->keys_checked++;
        m->diverged += (k->st[i] & FIN_DIVERGED) != 0;
        m->unknown_final += !(k->st[i] & FIN_SET) && k->fin[i] != 0 && !(k->st[i] & FIN_WRITER);
    }
}

/* Per fault: how far each side reaches, and which bound it breaks. */
static void judge_groups(const struct vfy_ctx *c, const struct vfy_data_loss_cfg *dl,
                         struct dl_measure *m)
{
    size_t g;

    for (g = 0; g < m->ng; g++) {
        struct loss_group *lg = &m->grp[g];
        uint64_t lost = lg->before.lost + lg->after.lost;

        /* Offsets from the fault's start (apply_sent, the earliest moment it could act);
         * a before-side write acknowledged inside the apply window reaches 0. */
        if (lg->f && lg->before.lost &&
            c->ops[lg->before.earliest].complete_ns < lg->f->apply_sent_ns)
            lg->before.reach = lg->f->apply_sent_ns - c->ops[lg->before.earliest].complete_ns;
        if (lg->f && lg->after.lost)
            lg->after.reach = c->ops[lg->after.latest].complete_ns - lg->f->apply_sent_ns;
        if (lg->before.reach > m->worst_window)
            m->worst_window = lg->before.reach;
        if (lg->after.reach > m->worst_after)
            m->worst_after = lg->after.reach;
        m->lost_before += lg->before.lost;
        m->lost_after += lg->after.lost;
        lg->over_n = lost > 0 &&
                     (lg->f == NULL || (dl->max_updates >= 0 && lost > (uint64_t)dl->max_updates));
        lg->over_w = lg->f && lg->before.lost && dl->max_window_ns >= 0 &&
                     lg->before.reach > dl->max_window_ns;
        lg->over_a =
            lg->f && lg->after.lost && dl->max_after_ns >= 0 && lg->after.reach > dl->max_after_ns;
    }
}

static int dl_measure(const struct vfy_ctx *c, const struct vfy_config *cfg, struct dl_measure *m)
{
    size_t nk = c->h->keys.n, g;
    struct dl_keys k;
    int r = 0;

    m->ng = c->nfaults ? c->nfaults : 1;
    k.fin = malloc((nk ? nk : 1) * sizeof(*k.fin));
    k.fc = malloc((nk ? nk : 1) * sizeof(*k.fc));
    k.st = calloc(nk ? nk : 1, 1);
    m->grp = calloc(m->ng, sizeof(*m->grp));
    if (k.fin == NULL || k.fc == NULL || k.st == NULL || m->grp == NULL) {
        r = -ENOMEM;
        goto out;
    }
    for (g = 0; g < m->ng; g++)
        m->grp[g].f = c->nfaults ? c->faults[g] : NULL;
    final_values(c, &k);
    final_writers(c, &k);
    if (judge_writes(c, &k, m) < 0) {
        r = -ENOMEM;
        goto out;
    }
    key_totals(c, &k, m);
    judge_groups(c, &cfg->data_loss, m);
out:
    free(k.fin);
    free(k.fc);
    free(k.st);
    return r;
}

/* ---- JSON ---- */

static json_t *side_record(const struct vfy_ctx *c, const struct loss_group *lg, size_t pos)
{
    json_t *j = vfy_record_json(c, pos);
    int64_t off;

    if (j == NULL || lg->f == NULL)
        return j;
    if (c->ops[pos].complete_ns > lg->f->apply_done_ns) {
        off = c->ops[pos].complete_ns - lg->f->apply_sent_ns;
        json_object_set_new(j, "after_fault_ms", vfy_json_ms(off));
    } else {
        off = lg->f->apply_sent_ns - c->ops[pos].complete_ns;
        json_object_set_new(j, "before_fault_ms", vfy_json_ms(off > 0 ? off : 0));
    }
    return j;
}

/*
 * One listed lost write: offset_ms is signed from the fault start (apply_sent),
 * negative before it, by side_record's rule: after = acknowledged once the fault
 * was certainly in effect; a before write inside the apply window is at 0.
 * Without a fault in the timeline there is no offset and no side.
 */
static json_t *lost_entry_json(const struct vfy_ctx *c, const struct loss_group *lg, size_t pos)
{
    const struct hist_op *o = &c->ops[pos];
    const struct hist *h = c->h;
    json_t *j = json_pack("{s:I,s:s,s:o,s:s,s:I}", "record", (json_int_t)vfy_record_no(c, pos),
                          "key", h->keys.s[o->key], "value",
                          o->value ? json_integer((json_int_t)o->value) : json_null(), "region",
                          h->regions.s[o->region], "complete_ns", (json_int_t)o->complete_ns);
    int64_t off;

    if (j == NULL || lg->f == NULL)
        return j;
    if (o->complete_ns > lg->f->apply_done_ns) {
        off = o->complete_ns - lg->f->apply_sent_ns;
        json_object_set_new(j, "side", json_string("after"));
    } else {
        off = o->complete_ns - lg->f->apply_sent_ns;
        off = off < 0 ? off : 0;
        json_object_set_new(j, "side", json_string("before"));
    }
    json_object_set_new(j, "offset_ms", vfy_json_ms(off));
    return j;
}

static json_t *lost_list_json(const struct vfy_ctx *c, const struct loss_group *lg)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && i < lg->nlist; i++)
        json_array_append_new(a, lost_entry_json(c, lg, lg->list[i]));
    return a;
}

static json_t *group_json(const struct vfy_ctx *c, const struct loss_group *lg)
{
    const struct loss_side *b = &lg->before, *a = &lg->after;
    uint64_t lost = b->lost + a->lost;
    json_t *fj = json_pack(
        "{s:s,s:I,s:o,s:I,s:I,s:o}", "id", lg->f ? lg->f->id : "(no fault)", "lost",
        (json_int_t)lost, "window_ms", lost && lg->f ? vfy_json_ms(b->reach) : json_null(),
        "lost_before", (json_int_t)b->lost, "lost_after", (json_int_t)a->lost, "window_after_ms",
        a->lost && lg->f ? vfy_json_ms(a->reach) : json_null());
    size_t e, l;

    if (fj == NULL || lost == 0)
        return fj;
    e = b->lost ? b->earliest : a->earliest;
    l = a->lost ? a->latest : b->latest;
    json_object_set_new(fj, "earliest", side_record(c, lg, e));
    json_object_set_new(fj, "latest", side_record(c, lg, l));
    json_object_set_new(fj, "lost_writes", lost_list_json(c, lg));
    json_object_set_new(fj, "lost_truncated", json_integer((json_int_t)(lost - lg->nlist)));
    return fj;
}

static int dl_json(const struct vfy_ctx *c, const struct dl_measure *m, struct vfy_result *out)
{
    json_t *faults_j = json_array(), *mj = out->measured;
    size_t g;

    if (faults_j == NULL)
        return -ENOMEM;
    for (g = 0; g < m->ng; g++) {
        json_t *fj = group_json(c, &m->grp[g]);

        if (fj == NULL || json_array_append_new(faults_j, fj) < 0) {
            json_decref(faults_j);
            return -ENOMEM;
        }
    }
    json_object_set_new(mj, "anchor", json_string("apply_sent_ns"));
    json_object_set_new(mj, "after_anchor", json_string("apply_done_ns"));
    json_object_set_new(mj, "model", json_string(m->set_writes ? "set" : "register"));
    json_object_set_new(mj, "lost_updates", json_integer((json_int_t)m->total));
    json_object_set_new(mj, "lost_before", json_integer((json_int_t)m->lost_before));
    json_object_set_new(mj, "lost_after", json_integer((json_int_t)m->lost_after));
    json_object_set_new(mj, "window_ms", vfy_json_ms(m->worst_window));
    json_object_set_new(mj, "window_after_ms", vfy_json_ms(m->worst_after));
    json_object_set_new(mj, "checked_writes", json_integer((json_int_t)m->checked));
    json_object_set_new(mj, "unchecked_writes", json_integer((json_int_t)m->unchecked));
    json_object_set_new(mj, "keys_checked", json_integer((json_int_t)m->keys_checked));
    json_object_set_new(mj, "diverged_keys", json_integer((json_int_t)m->diverged));
    json_object_set_new(mj, "unknown_final_values", json_integer((json_int_t)m->unknown_final));
    json_object_set_new(mj, "info_writes_absent", json_integer((json_int_t)m->info_absent));
    json_object_set_new(mj, "faults", faults_j);
    return 0;
}

static void bound_json(const struct vfy_data_loss_cfg *dl, struct vfy_result *out)
{
    json_object_set_new(out->bound, "max_updates",
                        dl->max_updates < 0 ? json_null() : json_integer(dl->max_updates));
    json_object_set_new(out->bound, "max_window_ms", vfy_json_ms_or_null(dl->max_window_ns));
    json_object_set_new(out->bound, "max_after_ms", vfy_json_ms_or_null(dl->max_after_ns));
    if (dl->consistency != VFY_CONS_NONE)
        json_object_set_new(out->bound, "consistency", json_string(cons_name[dl->consistency]));
}

/* ---- text ---- */

static void group_text(const struct vfy_ctx *c, const struct vfy_data_loss_cfg *dl,
                       const struct loss_group *lg, struct fl_buf *b)
{
    const struct loss_side *bf = &lg->before, *af = &lg->after;
    char t1[48];

    fl_buf_printf(b, " %s %s: %" PRIu64 " lost", lg->f ? "Fault" : "With",
                  lg->f ? lg->f->id : "no fault at all", bf->lost + af->lost);
    if (lg->f && bf->lost)
        fl_buf_printf(b, ", %" PRIu64 " before it reaching %s before the fault", bf->lost,
                      vfy_dur(bf->reach, t1, sizeof(t1)));
    if (lg->f && af->lost)
        fl_buf_printf(b,
                      ", %" PRIu64 " acknowledged after the fault began (up to %s after its "
                      "start) and then lost",
                      af->lost, vfy_dur(af->reach, t1, sizeof(t1)));
    if (lg->over_n && lg->f == NULL)
        fl_buf_addstr(b, " (no loss is acceptable without an outage)");
    else if (lg->over_n)
        fl_buf_printf(b, " (over max_updates %" PRId64 ")", dl->max_updates);
    if (lg->over_w)
        fl_buf_printf(b, " (over max_window %s)", vfy_dur(dl->max_window_ns, t1, sizeof(t1)));
    if (lg->over_a)
        fl_buf_printf(b, " (over max_after %s)", vfy_dur(dl->max_after_ns, t1, sizeof(t1)));
    fl_buf_addstr(b, "; earliest ");
    vfy_record_text(c, bf->lost ? bf->earliest : af->earliest, b);
    if (bf->lost + af->lost > 1) {
        fl_buf_addstr(b, ", latest ");
        vfy_record_text(c, af->lost ? af->latest : bf->latest, b);
    }
    fl_buf_addstr(b, ".");
}

static void dl_rule(const struct vfy_data_loss_cfg *dl, const struct vfy_result *out,
                    struct fl_buf *d)
{
    char t1[48], t2[48], t3[48];

    fl_buf_printf(d,
                  "data_loss %s: an acknowledged (ok) write is lost when its effect is absent "
                  "from its key's final read: for a set-model key, its element is missing; for a "
                  "register key, the final read shows another value and the write that produced "
                  "that value finished before this one began (a final value from a later or "
                  "concurrent write supersedes it, so a lost write overwritten later is not "
                  "seen); info writes and compare-and-sets that did not swap never count. A lost "
                  "write acknowledged after the fault's apply_done (certainly in effect) is on "
                  "the after side, the others before; offsets are from apply_sent (the earliest "
                  "moment it could act): the window is how far before it the earliest lost write "
                  "completed, the after side how far after it the latest one did. Bound: %s "
                  "updates, window %s, after %s%s%s%s.",
                  vfy_status_word(out->status),
                  dl->max_updates < 0 ? "any number of"
                                      : (snprintf(t1, sizeof(t1), "%" PRId64, dl->max_updates), t1),
                  dl->max_window_ns < 0 ? "unbounded" : vfy_dur(dl->max_window_ns, t2, sizeof(t2)),
                  dl->max_after_ns < 0 ? "unbounded" : vfy_dur(dl->max_after_ns, t3, sizeof(t3)),
                  dl->consistency ? " (consistency " : "",
                  dl->consistency ? cons_name[dl->consistency] : "", dl->consistency ? ")" : "");
}

static void dl_text(const struct vfy_ctx *c, const struct vfy_data_loss_cfg *dl,
                    const struct dl_measure *m, const struct vfy_result *out, struct fl_buf *d)
{
    char t1[48];
    size_t g;

    dl_rule(dl, out, d);
    fl_buf_printf(d,
                  " Checked %" PRIu64 " acknowledged writes over %" PRIu64 " keys with a final "
                  "read: %" PRIu64 " lost (%" PRIu64 " before, %" PRIu64 " after the fault "
                  "start), worst window %s.",
                  m->checked, m->keys_checked, m->total, m->lost_before, m->lost_after,
                  vfy_dur(m->worst_window, t1, sizeof(t1)));
    if (m->unchecked)
        fl_buf_printf(d,
                      " %" PRIu64 " acknowledged writes went to keys without a final read "
                      "and were not checked.",
                      m->unchecked);
    if (m->diverged)
        fl_buf_printf(d,
                      " %" PRIu64 " keys had disagreeing final reads (not converged); the "
                      "last read was used.",
                      m->diverged);
    if (m->unknown_final)
        fl_buf_printf(d,
                      " %" PRIu64 " keys ended on a value no recorded write wrote (taken as "
                      "the state before the history).",
                      m->unknown_final);
    if (m->info_absent)
        fl_buf_printf(d, " %" PRIu64 " writes with unknown outcome are absent; not counted.",
                      m->info_absent);
    for (g = 0; g < m->ng; g++) {
        if (m->grp[g].before.lost + m->grp[g].after.lost > 0)
            group_text(c, dl, &m->grp[g], d);
    }
    if (out->status == VFY_INCONCLUSIVE)
        fl_buf_printf(d, " Inconclusive: %s.", out->reason);
}

int vfy_data_loss_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                      struct fl_err *err)
{
    struct dl_measure m = {0};
    struct fl_buf d;
    bool fail = false;
    size_t g;
    int r;

    if ((r = vfy_result_begin(out, "data_loss")) < 0)
        return fl_errf(err, r, "out of memory");
    fl_buf_init(&d, VFY_DETAIL_MAX);
    bound_json(&cfg->data_loss, out);
    if ((r = dl_measure(c, cfg, &m)) < 0 || (r = dl_json(c, &m, out)) < 0)
        goto out;
    for (g = 0; g < m.ng; g++)
        fail |= m.grp[g].over_n || m.grp[g].over_w || m.grp[g].over_a;
    if (fail)
        r = vfy_result_set_status(out, VFY_FAIL, NULL);
    else if (m.checked == 0)
        r = vfy_result_set_status(out, VFY_INCONCLUSIVE,
                                  "no acknowledged write had a final read to check it against");
    if (r < 0)
        goto out;
    dl_text(c, &cfg->data_loss, &m, out, &d);
    vfy_result_set_detail(out, &d);
out:
    if (r < 0) {
        vfy_result_free(out);
        r = fl_errf(err, r, "out of memory in the data_loss verifier");
    }
    for (g = 0; m.grp != NULL && g < m.ng; g++)
        free(m.grp[g].list);
    free(m.grp);
    fl_buf_free(&d);
    return r;
}

/*
 * The acknowledged writes absent from the final state, by data_loss's rule
 * (the conflict_feed verifier judges exactly these): their sorted positions
 * in *pos (malloc'd, *n of them) and the acknowledged writes that had a final
 * read to check them against in *checked. 0 or -ENOMEM.
 */
int vfy_data_loss_lost(const struct vfy_ctx *c, size_t **pos, size_t *n, uint64_t *checked)
{
    size_t nk = c->h->keys.n, i, cap = 0;
    struct dl_keys k;
    int r = 0;

    *pos = NULL;
    *n = 0;
    *checked = 0;
    k.fin = malloc((nk ? nk : 1) * sizeof(*k.fin));
    k.fc = malloc((nk ? nk : 1) * sizeof(*k.fc));
    k.st = calloc(nk ? nk : 1, 1);
    if (k.fin == NULL || k.fc == NULL || k.st == NULL) {
        r = -ENOMEM;
        goto out;
    }
    final_values(c, &k);
    final_writers(c, &k);
    for (i = 0; i < c->n; i++) {
        const struct hist_op *o = &c->ops[i];
        size_t *np;

        if (!dl_writes(o) || o->outcome != HIST_OK || !(k.st[o->key] & FIN_HAS))
            continue;
        (*checked)++;
        if (!write_absent(c, &k, o))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            np = realloc(*pos, cap * sizeof(**pos));
            if (np == NULL) {
                r = -ENOMEM;
                goto out;
            }
            *pos = np;
        }
        (*pos)[(*n)++] = i;
    }
out:
    if (r < 0) {
        free(*pos);
        *pos = NULL;
        *n = 0;
    }
    free(k.fin);
    free(k.fc);
    free(k.st);
    return r;
}
