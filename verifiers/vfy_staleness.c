/*
 * staleness: reads that return a value older than the newest write
 * acknowledged before the read began, in versions and in seconds behind,
 * against bounded-staleness bounds; and the session guarantees per client:
 * read-your-writes and monotonic reads. The records are grouped by key once
 * (a CSR of positions); each key is then handled on its own with small
 * scratch arrays that stay in cache: its writes with a value index (an
 * open-addressing table reset by stamp, not by clearing), its ok writes in
 * acknowledgement order, and per-client state reset by epoch. No allocation
 * per record.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/err.h"
#include "vfy_internal.h"

struct dense {
    uint32_t *id;  /* client id + 1, 0 = empty */
    uint32_t *val; /* dense number */
    size_t mask, n;
};

static int dense_init(struct dense *d, size_t want)
{
    size_t cap = 64;

    while (cap < want * 2)
        cap *= 2;
    d->id = calloc(cap, sizeof(*d->id));
    d->val = malloc(cap * sizeof(*d->val));
    d->mask = cap - 1;
    d->n = 0;
    return d->id && d->val ? 0 : -ENOMEM;
}

static int dense_get(struct dense *d, uint32_t client, uint32_t *out)
{
    size_t j = (client * 0x9E3779B1u) & d->mask;

    while (d->id[j] != 0) {
        if (d->id[j] == client + 1) {
            *out = d->val[j];
            return 0;
        }
        j = (j + 1) & d->mask;
    }
    if (d->n * 2 >= d->mask)
        return -E2BIG; /* sized from the record count: cannot happen */
    d->id[j] = client + 1;
    d->val[j] = (uint32_t)d->n;
    *out = (uint32_t)d->n++;
    return 0;
}

struct worst {
    uint64_t n;
    size_t pos[VFY_LIST_MAX];
    size_t npos;
};

static void worst_add(struct worst *w, size_t pos)
{
    if (w->npos < VFY_LIST_MAX)
        w->pos[w->npos++] = pos;
    w->n++;
}

static json_t *worst_json(const struct vfy_ctx *c, const struct worst *w)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a && i < w->npos; i++)
        json_array_append_new(a, vfy_record_json(c, w->pos[i]));
    return a;
}

/* One write of the key being processed. */
struct kw {
    int64_t inv, cmp;
    uint64_t value;
    uint32_t rank; /* position in ack order (ok writes only) */
    uint8_t outcome;
};

struct vslot {
    uint64_t value;
    uint32_t idx;   /* index into the key's writes */
    uint32_t stamp; /* key stamp: slots of other keys read as empty */
};

/* Per-client state for the current key (reset when epoch differs). */
struct cstate {
    int64_t own_inv, own_cmp;   /* latest own ok write */
    int64_t seen_inv, seen_cmp; /* newest observed write (invoke) and when that read completed */
    uint32_t epoch;
};

/*
 * A record copied into its key's group: the copy is written once while the
 * records are read in order, so the per-key passes stream through memory
 * instead of gathering 40-byte records at random.
 */
struct kop {
    int64_t inv, cmp;
    uint64_t value;
    uint32_t pos : 30; /* sorted position (histories are < 2^30 records) */
    uint32_t outcome : 2;
    uint32_t client : 31; /* dense client number */
    uint32_t is_write : 1;
};

/* What the verifier measured; the JSON and the text read only this. */
struct st_measure {
    uint64_t reads, stale, unknown, unjudged, max_behind;
    int64_t max_lag;
    size_t worst_v_pos, worst_l_pos;
    struct worst over, ryw, mono;
};

/* The records grouped by key, and scratch sized for the busiest key. */
struct st_work {
    uint32_t *kstart, *kfill, *ack, *cmap;
    struct kop *kops;
    struct kw *w;
    struct vslot *vs;
    struct cstate *cs;
    struct dense dn;
    uint8_t *judged; /* per op name: a point read to judge */
    size_t mask;
    uint32_t ncl;
};

static void st_work_free(struct st_work *x)
{
    free(x->kstart);
    free(x->kfill);
    free(x->ack);
    free(x->cmap);
    free(x->kops);
    free(x->w);
    free(x->vs);
    free(x->cs);
    free(x->dn.id);
    free(x->dn.val);
    free(x->judged);
}

static bool st_keep(const struct st_work *x, const struct hist_op *o)
{
    return o->is_write || (o->outcome == HIST_OK && !o->is_final && x->judged[o->op]);
}

/* Dense client numbers: a direct map for small ids, else a hash. */
static int st_client(struct st_work *x, uint32_t client, uint32_t *out)
{
    if (x->cmap == NULL)
        return dense_get(&x->dn, client, out);
    if (x->cmap[client] == UINT32_MAX)
        x->cmap[client] = x->ncl++;
    *out = x->cmap[client];
    return 0;
}

/* Group writes and judged reads by key, in invoke order (a CSR of copies). */
static int st_group(const struct vfy_ctx *c, struct st_work *x)
{
    size_t nk = c->h->keys.n, i, m = 0;
    uint32_t maxc = 0, run = 0, cnt, dc;

    x->kstart = calloc(nk + 1, sizeof(*x->kstart));
    x->kfill = malloc((nk + 1) * sizeof(*x->kfill));
    if (x->kstart == NULL || x->kfill == NULL)
        return -ENOMEM;
    for (i = 0; i < c->n; i++) {
        if (c->ops[i].client > maxc)
            maxc = c->ops[i].client;
        if (st_keep(x, &c->ops[i])) {
            x->kstart[c->ops[i].key]++;
            m++;
        }
    }
    for (i = 0; i <= nk; i++) {
        cnt = x->kstart[i];
        x->kstart[i] = x->kfill[i] = run;
        run += cnt;
    }
    x->kops = malloc((m ? m : 1) * sizeof(*x->kops));
    if (x->kops == NULL)
        return -ENOMEM;
    if (maxc < (1u << 22)) {
        x->cmap = malloc(((size_t)maxc + 1) * sizeof(*x->cmap));
        if (x->cmap == NULL)
            return -ENOMEM;
        memset(x->cmap, 0xff, ((size_t)maxc + 1) * sizeof(*x->cmap));
    } else if (dense_init(&x->dn, c->n + 16) < 0) {
        return -ENOMEM;
    }
    for (i = 0; i < c->n; i++) {
        const struct hist_op *o = &c->ops[i];
        struct kop *ko;

        if (!st_keep(x, o))
            continue;
        ko = &x->kops[x->kfill[o->key]++];
        ko->inv = o->invoke_ns;
        ko->cmp = o->complete_ns;
        ko->value = o->value;
        ko->pos = (uint32_t)i;
        ko->outcome = o->outcome;
        ko->is_write = o->is_write;
        if (st_client(x, o->client, &dc) < 0)
            return -ENOMEM;
        ko->client = dc;
    }
    if (x->cmap == NULL)
        x->ncl = (uint32_t)x->dn.n;
    return 0;
}

/* Scratch sized for the busiest key. */
static int st_scratch(const struct vfy_ctx *c, struct st_work *x)
{
    size_t maxw = 0, slots = 16, k;

    for (k = 0; k < c->h->keys.n; k++) {
        if (x->kstart[k + 1] - x->kstart[k] > maxw)
            maxw = x->kstart[k + 1] - x->kstart[k];
    }
    while (slots < 2 * maxw + 16)
        slots *= 2;
    x->mask = slots - 1;
    x->w = malloc((maxw + 1) * sizeof(*x->w));
    x->ack = malloc((maxw + 1) * sizeof(*x->ack));
    x->vs = calloc(slots, sizeof(*x->vs));
    x->cs = calloc((size_t)x->ncl + 1, sizeof(*x->cs));
    return x->w && x->ack && x->vs && x->cs ? 0 : -ENOMEM;
}

static size_t vslot_find(const struct st_work *x, uint64_t value, uint32_t stamp)
{
    size_t j = (size_t)(value * 0x9E3779B97F4A7C15ULL >> 17) & x->mask;

    while (x->vs[j].stamp == stamp && x->vs[j].value != value)
        j = (j + 1) & x->mask;
    return j;
}

/* Pass A over key k: its writes, their value index, ok writes in ack order.
 * Returns the number of ok writes; *has_delete when a write may have deleted. */
static uint32_t st_key_writes(struct st_work *x, uint32_t k, uint32_t *nw_out, bool *has_delete)
{
    uint32_t a, b, nw = 0, nack = 0, stamp = k + 1;

    *has_delete = false;
    for (a = x->kstart[k]; a < x->kstart[k + 1]; a++) {
        const struct kop *o = &x->kops[a];
        struct kw *w = &x->w[nw];

        if (!o->is_write)
            continue;
        w->inv = o->inv;
        w->cmp = o->cmp;
        w->value = o->value;
        w->outcome = o->outcome;
        w->rank = UINT32_MAX;
        if (o->value != 0) {
            size_t j = vslot_find(x, o->value, stamp);

            if (x->vs[j].stamp != stamp) { /* first write of a value wins */
                x->vs[j].stamp = stamp;
                x->vs[j].value = o->value;
                x->vs[j].idx = nw;
            }
        } else if (o->outcome != HIST_FAIL) {
            *has_delete = true;
        }
        if (o->outcome == HIST_OK) {
            /* insert by completion: nearly sorted, only overlapping writes move */
            for (b = nack; b > 0 && x->w[x->ack[b - 1]].cmp > o->cmp; b--)
                x->ack[b] = x->ack[b - 1];
            x->ack[b] = nw;
            nack++;
        }
        nw++;
    }
    for (a = 0; a < nack; a++)
        x->w[x->ack[a]].rank = a;
    *nw_out = nw;
    return nack;
}

/* The write a read observed: 0 judged (*wx set, NULL = initial value), 1 unknown, 2 unjudged. */
static int st_observed(const struct st_work *x, const struct kop *o, uint32_t stamp,
                       bool has_delete, const struct kw **wx)
{
    size_t j;

    *wx = NULL;
    if (o->value == 0)
        return has_delete ? 2 : 0;
    j = vslot_find(x, o->value, stamp);
    if (x->vs[j].stamp != stamp)
        return 1;
    *wx = &x->w[x->vs[j].idx];
    if ((*wx)->outcome == HIST_FAIL || (*wx)->inv > o->cmp)
        return 2; /* a refused write's value, or a write from the future */
    return 0;
}

/* Versions and time behind for a read of (w_cmp, rank): ok writes acked before the read
 * began that started after the observed write finished definitely superseded it. */
static uint64_t st_behind(const struct st_work *x, uint32_t nack, const struct kop *o,
                          int64_t w_cmp, uint32_t rank, int64_t *lag)
{
    uint64_t behind = 0;
    uint32_t b;

    *lag = 0;
    for (b = rank == UINT32_MAX ? 0 : rank + 1; b < nack; b++) {
        const struct kw *w = &x->w[x->ack[b]];

        if (w->cmp >= o->inv)
            break;
        if (w->inv > w_cmp) {
            if (behind == 0)
                *lag = o->inv - w->cmp;
            behind++;
        }
    }
    return behind;
}

/* Judge one read of an ok observed write against the bounds and the client's session. */
static void st_judge_read(const struct vfy_staleness_cfg *sc, const struct st_work *x,
                          uint32_t nack, const struct kop *o, const struct kw *wx,
                          struct cstate *st, struct st_measure *m)
{
    int64_t w_cmp = wx ? wx->cmp : INT64_MIN, lag;
    uint64_t behind = st_behind(x, nack, o, w_cmp, wx ? wx->rank : UINT32_MAX, &lag);
    size_t pos = o->pos;

    if (behind > 0) {
        m->stale++;
        if (behind > m->max_behind) {
            m->max_behind = behind;
            m->worst_v_pos = pos;
        }
        if (lag > m->max_lag) {
            m->max_lag = lag;
            m->worst_l_pos = pos;
        }
        if ((sc->max_versions >= 0 && behind > (uint64_t)sc->max_versions) ||
            (sc->max_lag_ns >= 0 && lag > sc->max_lag_ns))
            worst_add(&m->over, pos);
    }
    /* read-your-writes: an own acked write that definitely follows the observed
     * one, finished before this read began */
    if (st->own_cmp != INT64_MIN && st->own_cmp < o->inv && st->own_inv > w_cmp)
        worst_add(&m->ryw, pos);
    /* monotonic reads: an earlier read saw a write that began after the one
     * observed now had finished */
    if (st->seen_cmp != INT64_MIN && st->seen_cmp < o->inv && st->seen_inv > w_cmp)
        worst_add(&m->mono, pos);
}

/* Pass B over key k: reads and the per-client session state, in invoke order. */
static void st_key_reads(const struct vfy_staleness_cfg *sc, struct st_work *x, uint32_t k,
                         uint32_t nack, bool has_delete, struct st_measure *m)
{
    uint32_t a, stamp = k + 1;

    for (a = x->kstart[k]; a < x->kstart[k + 1]; a++) {
        const struct kop *o = &x->kops[a];
        struct cstate *st = &x->cs[o->client];
        const struct kw *wx;
        int64_t w_inv;
        int kind;

        if (st->epoch != stamp) {
            st->epoch = stamp;
            st->own_inv = st->own_cmp = INT64_MIN;
            st->seen_inv = st->seen_cmp = INT64_MIN;
        }
        if (o->is_write) {
            if (o->outcome == HIST_OK) {
                st->own_inv = o->inv;
                st->own_cmp = o->cmp;
            }
            continue;
        }
        m->reads++;
        kind = st_observed(x, o, stamp, has_delete, &wx);
        if (kind == 1 || kind == 2) {
            m->unknown += kind == 1;
            m->unjudged += kind == 2;
            continue;
        }
        if (wx == NULL || wx->outcome == HIST_OK)
            st_judge_read(sc, x, nack, o, wx, st, m);
        w_inv = wx ? wx->inv : INT64_MIN;
        if (w_inv > st->seen_inv || st->seen_cmp == INT64_MIN) {
            if (w_inv > st->seen_inv)
                st->seen_inv = w_inv;
            st->seen_cmp = o->cmp;
        }
    }
}

static int st_measure(const struct vfy_ctx *c, const struct vfy_staleness_cfg *sc,
                      struct st_measure *m)
{
    struct st_work x;
    uint32_t k, nw, nack;
    bool has_delete;
    size_t i;
    int r = -ENOMEM;

    memset(&x, 0, sizeof(x));
    memset(m, 0, sizeof(*m));
    m->worst_v_pos = m->worst_l_pos = SIZE_MAX;
    x.judged = calloc(c->h->op_names.n + 1, 1);
    if (x.judged == NULL)
        goto out;
    for (i = 0; i < c->h->op_names.n; i++)
        x.judged[i] = sc->ops.n == 0 || vfy_names_has(&sc->ops, c->h->op_names.s[i]);
    if (st_group(c, &x) < 0 || st_scratch(c, &x) < 0)
        goto out;
    for (k = 0; k < c->h->keys.n; k++) {
        if (x.kstart[k] == x.kstart[k + 1])
            continue;
        nack = st_key_writes(&x, k, &nw, &has_delete);
        st_key_reads(sc, &x, k, nack, has_delete, m);
    }
    r = 0;
out:
    st_work_free(&x);
    return r;
}

/* ---- JSON and text ---- */

static void st_json(const struct vfy_ctx *c, const struct vfy_staleness_cfg *sc,
                    const struct st_measure *m, struct vfy_result *out)
{
    json_t *mj = out->measured;

    json_object_set_new(out->bound, "max_versions",
                        sc->max_versions < 0 ? json_null() : json_integer(sc->max_versions));
    json_object_set_new(out->bound, "max_lag_ms", vfy_json_ms_or_null(sc->max_lag_ns));
    json_object_set_new(out->bound, "read_your_writes", json_boolean(sc->read_your_writes));
    json_object_set_new(out->bound, "monotonic_reads", json_boolean(sc->monotonic_reads));
    json_object_set_new(mj, "reads_checked", json_integer((json_int_t)m->reads));
    json_object_set_new(mj, "stale_reads", json_integer((json_int_t)m->stale));
    json_object_set_new(mj, "max_versions_behind", json_integer((json_int_t)m->max_behind));
    json_object_set_new(mj, "max_lag_ms", vfy_json_ms(m->max_lag));
    json_object_set_new(mj, "over_bound", json_integer((json_int_t)m->over.n));
    json_object_set_new(mj, "read_your_writes_violations", json_integer((json_int_t)m->ryw.n));
    json_object_set_new(mj, "monotonic_reads_violations", json_integer((json_int_t)m->mono.n));
    json_object_set_new(mj, "unknown_values", json_integer((json_int_t)m->unknown));
    json_object_set_new(mj, "unjudged_reads", json_integer((json_int_t)m->unjudged));
    json_object_set_new(mj, "over_bound_records", worst_json(c, &m->over));
    json_object_set_new(mj, "read_your_writes_records", worst_json(c, &m->ryw));
    json_object_set_new(mj, "monotonic_reads_records", worst_json(c, &m->mono));
}

static void st_example(const struct vfy_ctx *c, const char *what, size_t pos, struct fl_buf *d)
{
    fl_buf_addstr(d, what);
    vfy_record_text(c, pos, d);
    fl_buf_addstr(d, ".");
}

static void st_text(const struct vfy_ctx *c, const struct vfy_staleness_cfg *sc,
                    const struct st_measure *m, const struct vfy_result *out, struct fl_buf *d)
{
    char t1[48], t2[48];

    fl_buf_printf(
        d,
        "staleness %s: a read is stale when, among the acknowledged writes to its key "
        "that finished before the read began, some started after the write it "
        "observed had finished; versions behind counts those, seconds behind is the "
        "time from the first of them to the read. Reads of writes with unknown outcome "
        "and of deleted keys are not judged; final reads belong to data_loss. Bound: %s versions, "
        "%s lag",
        vfy_status_word(out->status),
        sc->max_versions < 0 ? "any" : (snprintf(t1, sizeof(t1), "%" PRId64, sc->max_versions), t1),
        sc->max_lag_ns < 0 ? "any" : vfy_dur(sc->max_lag_ns, t2, sizeof(t2)));
    fl_buf_printf(d,
                  "%s%s. Checked %" PRIu64 " reads: %" PRIu64 " stale, at most %" PRIu64
                  " versions and %s behind; %" PRIu64 " over the bound.",
                  sc->read_your_writes ? ", read-your-writes" : "",
                  sc->monotonic_reads ? ", monotonic reads" : "", m->reads, m->stale, m->max_behind,
                  vfy_dur(m->max_lag, t1, sizeof(t1)), m->over.n);
    if (m->worst_v_pos != SIZE_MAX)
        st_example(c, " Most versions behind: ", m->worst_v_pos, d);
    if (m->worst_l_pos != SIZE_MAX && m->worst_l_pos != m->worst_v_pos)
        st_example(c, " Longest behind: ", m->worst_l_pos, d);
    if (m->ryw.n) {
        fl_buf_printf(d, " %" PRIu64 " reads missed the client's own earlier write%s, e.g. ",
                      m->ryw.n, sc->read_your_writes ? "" : " (not required)");
        st_example(c, "", m->ryw.pos[0], d);
    }
    if (m->mono.n) {
        fl_buf_printf(d, " %" PRIu64 " reads went back in time for their client%s, e.g. ",
                      m->mono.n, sc->monotonic_reads ? "" : " (not required)");
        st_example(c, "", m->mono.pos[0], d);
    }
    if (m->unknown)
        fl_buf_printf(d, " %" PRIu64 " reads returned a value no recorded write wrote.",
                      m->unknown);
    if (out->status == VFY_INCONCLUSIVE)
        fl_buf_printf(d, " Inconclusive: %s.", out->reason);
}

int vfy_staleness_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                      struct fl_err *err)
{
    const struct vfy_staleness_cfg *sc = &cfg->staleness;
    struct st_measure m;
    struct fl_buf d;
    int r;

    if ((r = vfy_result_begin(out, "staleness")) < 0)
        return fl_errf(err, r, "out of memory");
    fl_buf_init(&d, VFY_DETAIL_MAX);
    if ((r = st_measure(c, sc, &m)) < 0)
        goto out;
    st_json(c, sc, &m, out);
    if (m.over.n > 0 || (sc->read_your_writes && m.ryw.n > 0) ||
        (sc->monotonic_reads && m.mono.n > 0))
        r = vfy_result_set_status(out, VFY_FAIL, NULL);
    else if (m.reads == m.unknown + m.unjudged)
        r = vfy_result_set_status(out, VFY_INCONCLUSIVE,
                                  m.reads ? "no read could be judged (every value read is unknown "
                                            "or from a refused, deleted or later write)"
                                          : "no read to judge");
    if (r < 0)
        goto out;
    st_text(c, sc, &m, out, &d);
    vfy_result_set_detail(out, &d);
out:
    if (r < 0) {
        vfy_result_free(out);
        r = fl_errf(err, r, "out of memory in the staleness verifier");
    }
    fl_buf_free(&d);
    return r;
}
