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

int vfy_staleness_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                      struct fl_err *err)
{
    const struct vfy_staleness_cfg *sc = &cfg->staleness;
    size_t nk = c->h->keys.n, i, m = 0, maxw = 0, slots = 16;
    uint32_t *kstart = NULL, *kfill = NULL, *ack = NULL, *cmap = NULL;
    struct kop *kops = NULL;
    struct kw *w = NULL;
    struct vslot *vs = NULL;
    struct cstate *cs = NULL;
    struct dense dn = {0};
    uint64_t reads = 0, stale = 0, unknown = 0, unjudged = 0, max_behind = 0;
    int64_t max_lag = 0;
    size_t worst_v_pos = SIZE_MAX, worst_l_pos = SIZE_MAX, mask;
    struct worst over = {0}, ryw = {0}, mono = {0};
    struct fl_buf d;
    char t1[48], t2[48];
    uint32_t ncl = 0, k, maxc = 0;
    uint8_t *judged = NULL; /* per op name: a point read to judge */
    int r = 0;

    if ((r = vfy_result_begin(out, "staleness")) < 0)
        return fl_errf(err, r, "out of memory");
    judged = calloc(c->h->op_names.n + 1, 1);
    if (judged == NULL)
        goto oom;
    for (i = 0; i < c->h->op_names.n; i++)
        judged[i] = sc->ops.n == 0 || vfy_names_has(&sc->ops, c->h->op_names.s[i]);
    fl_buf_init(&d, VFY_DETAIL_MAX);
    json_object_set_new(out->bound, "max_versions",
                        sc->max_versions < 0 ? json_null() : json_integer(sc->max_versions));
    json_object_set_new(out->bound, "max_lag_ms",
                        sc->max_lag_ns < 0 ? json_null() : vfy_json_ms(sc->max_lag_ns));
    json_object_set_new(out->bound, "read_your_writes", json_boolean(sc->read_your_writes));
    json_object_set_new(out->bound, "monotonic_reads", json_boolean(sc->monotonic_reads));

    /* Group by key: writes and judged reads (ok, not final), in invoke order. */
    kstart = calloc(nk + 1, sizeof(*kstart));
    kfill = malloc((nk + 1) * sizeof(*kfill));
    if (kstart == NULL || kfill == NULL)
        goto oom;
    for (i = 0; i < c->n; i++) {
        const struct hist_op *o = &c->ops[i];

        if (o->client > maxc)
            maxc = o->client;
        if (o->is_write || (o->outcome == HIST_OK && !o->is_final && judged[o->op])) {
            kstart[o->key]++;
            m++;
        }
    }
    {
        uint32_t run = 0, cnt;

        for (i = 0; i <= nk; i++) {
            cnt = kstart[i];
            kstart[i] = kfill[i] = run;
            run += cnt;
        }
    }
    kops = malloc((m ? m : 1) * sizeof(*kops));
    if (kops == NULL)
        goto oom;
    if (maxc < (1u << 22)) {
        cmap = malloc(((size_t)maxc + 1) * sizeof(*cmap));
        if (cmap == NULL)
            goto oom;
        memset(cmap, 0xff, ((size_t)maxc + 1) * sizeof(*cmap));
    } else if (dense_init(&dn, c->n + 16) < 0) {
        goto oom;
    }
    for (i = 0; i < c->n; i++) {
        const struct hist_op *o = &c->ops[i];
        struct kop *ko;

        if (!(o->is_write || (o->outcome == HIST_OK && !o->is_final && judged[o->op])))
            continue;
        ko = &kops[kfill[o->key]++];
        ko->inv = o->invoke_ns;
        ko->cmp = o->complete_ns;
        ko->value = o->value;
        ko->pos = (uint32_t)i;
        ko->outcome = o->outcome;
        ko->is_write = o->is_write;
        if (cmap != NULL) {
            if (cmap[o->client] == UINT32_MAX)
                cmap[o->client] = ncl++;
            ko->client = cmap[o->client];
        } else {
            uint32_t dc;

            if (dense_get(&dn, o->client, &dc) < 0)
                goto oom;
            ko->client = dc;
        }
    }
    if (cmap == NULL)
        ncl = (uint32_t)dn.n;
    /* Scratch sized for the busiest key. */
    for (k = 0; k < nk; k++) {
        if (kstart[k + 1] - kstart[k] > maxw)
            maxw = kstart[k + 1] - kstart[k];
    }
    while (slots < 2 * maxw + 16)
        slots *= 2;
    mask = slots - 1;
    w = malloc((maxw + 1) * sizeof(*w));
    ack = malloc((maxw + 1) * sizeof(*ack));
    vs = calloc(slots, sizeof(*vs));
    cs = calloc((size_t)ncl + 1, sizeof(*cs));
    if (w == NULL || ack == NULL || vs == NULL || cs == NULL)
        goto oom;

    for (k = 0; k < nk; k++) {
        uint32_t a, b, nw = 0, nack = 0, stamp = k + 1;
        bool has_delete = false;

        if (kstart[k] == kstart[k + 1])
            continue;
        /* A: the key's writes, their value index, ok writes in ack order */
        for (a = kstart[k]; a < kstart[k + 1]; a++) {
            const struct kop *o = &kops[a];

            if (!o->is_write)
                continue;
            w[nw].inv = o->inv;
            w[nw].cmp = o->cmp;
            w[nw].value = o->value;
            w[nw].outcome = o->outcome;
            w[nw].rank = UINT32_MAX;
            if (o->value != 0) {
                size_t j = (size_t)(o->value * 0x9E3779B97F4A7C15ULL >> 17) & mask;

                while (vs[j].stamp == stamp && vs[j].value != o->value)
                    j = (j + 1) & mask;
                if (vs[j].stamp != stamp) { /* first write of a value wins */
                    vs[j].stamp = stamp;
                    vs[j].value = o->value;
                    vs[j].idx = nw;
                }
            } else if (o->outcome != HIST_FAIL) {
                has_delete = true;
            }
            if (o->outcome == HIST_OK) {
                /* insert by completion: nearly sorted, only overlapping writes move */
                for (b = nack; b > 0 && w[ack[b - 1]].cmp > o->cmp; b--)
                    ack[b] = ack[b - 1];
                ack[b] = nw;
                nack++;
            }
            nw++;
        }
        for (a = 0; a < nack; a++)
            w[ack[a]].rank = a;
        /* B: reads and the per-client session state, in invoke order */
        for (a = kstart[k]; a < kstart[k + 1]; a++) {
            const struct kop *o = &kops[a];
            size_t pos = o->pos;
            struct cstate *st = &cs[o->client];
            int64_t w_inv, w_cmp;
            uint32_t rank = UINT32_MAX;
            int kind = 0; /* 0 judged, 1 unknown value, 2 unjudgeable */

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
            reads++;
            w_inv = w_cmp = INT64_MIN;
            if (o->value == 0) {
                if (has_delete)
                    kind = 2;
            } else {
                size_t j = (size_t)(o->value * 0x9E3779B97F4A7C15ULL >> 17) & mask;

                while (vs[j].stamp == stamp && vs[j].value != o->value)
                    j = (j + 1) & mask;
                if (vs[j].stamp != stamp) {
                    kind = 1;
                } else {
                    const struct kw *x = &w[vs[j].idx];

                    w_inv = x->inv;
                    w_cmp = x->outcome == HIST_OK ? x->cmp : INT64_MAX;
                    rank = x->rank;
                    if (x->outcome == HIST_FAIL || x->inv > o->cmp)
                        kind = 2; /* a refused write's value, or a write from the future */
                }
            }
            if (kind == 1) {
                unknown++;
                continue;
            }
            if (kind == 2) {
                unjudged++;
                continue;
            }
            if (w_cmp != INT64_MAX) {
                uint64_t behind = 0;
                int64_t lag = 0;

                /* ok writes acked before the read began that started after the
                 * observed write finished: they definitely superseded it */
                for (b = rank == UINT32_MAX ? 0 : rank + 1; b < nack; b++) {
                    const struct kw *x = &w[ack[b]];

                    if (x->cmp >= o->inv)
                        break;
                    if (x->inv > w_cmp) {
                        if (behind == 0)
                            lag = o->inv - x->cmp;
                        behind++;
                    }
                }
                if (behind > 0) {
                    stale++;
                    if (behind > max_behind) {
                        max_behind = behind;
                        worst_v_pos = pos;
                    }
                    if (lag > max_lag) {
                        max_lag = lag;
                        worst_l_pos = pos;
                    }
                    if ((sc->max_versions >= 0 && behind > (uint64_t)sc->max_versions) ||
                        (sc->max_lag_ns >= 0 && lag > sc->max_lag_ns))
                        worst_add(&over, pos);
                }
                /* read-your-writes: an own acked write that definitely follows
                 * the observed one, finished before this read began */
                if (st->own_cmp != INT64_MIN && st->own_cmp < o->inv && st->own_inv > w_cmp)
                    worst_add(&ryw, pos);
                /* monotonic reads: an earlier read saw a write that began after
                 * the one observed now had finished */
                if (st->seen_cmp != INT64_MIN && st->seen_cmp < o->inv && st->seen_inv > w_cmp)
                    worst_add(&mono, pos);
            }
            if (w_inv > st->seen_inv || st->seen_cmp == INT64_MIN) {
                if (w_inv > st->seen_inv)
                    st->seen_inv = w_inv;
                st->seen_cmp = o->cmp;
            }
        }
    }

    out->pass = over.n == 0 && (!sc->read_your_writes || ryw.n == 0) &&
                (!sc->monotonic_reads || mono.n == 0);
    json_object_set_new(out->measured, "reads_checked", json_integer((json_int_t)reads));
    json_object_set_new(out->measured, "stale_reads", json_integer((json_int_t)stale));
    json_object_set_new(out->measured, "max_versions_behind", json_integer((json_int_t)max_behind));
    json_object_set_new(out->measured, "max_lag_ms", vfy_json_ms(max_lag));
    json_object_set_new(out->measured, "over_bound", json_integer((json_int_t)over.n));
    json_object_set_new(out->measured, "read_your_writes_violations",
                        json_integer((json_int_t)ryw.n));
    json_object_set_new(out->measured, "monotonic_reads_violations",
                        json_integer((json_int_t)mono.n));
    json_object_set_new(out->measured, "unknown_values", json_integer((json_int_t)unknown));
    json_object_set_new(out->measured, "unjudged_reads", json_integer((json_int_t)unjudged));
    json_object_set_new(out->measured, "over_bound_records", worst_json(c, &over));
    json_object_set_new(out->measured, "read_your_writes_records", worst_json(c, &ryw));
    json_object_set_new(out->measured, "monotonic_reads_records", worst_json(c, &mono));

    fl_buf_printf(
        &d,
        "staleness %s: a read is stale when, among the acknowledged writes to its key "
        "that finished before the read began, some started after the write it "
        "observed had finished; versions behind counts those, seconds behind is the "
        "time from the first of them to the read. Reads of writes with unknown outcome "
        "and of deleted keys are not judged; final reads belong to data_loss. Bound: %s versions, "
        "%s lag",
        out->pass ? "passed" : "FAILED",
        sc->max_versions < 0 ? "any" : (snprintf(t1, sizeof(t1), "%" PRId64, sc->max_versions), t1),
        sc->max_lag_ns < 0 ? "any" : vfy_dur(sc->max_lag_ns, t2, sizeof(t2)));
    fl_buf_printf(&d,
                  "%s%s. Checked %" PRIu64 " reads: %" PRIu64 " stale, at most %" PRIu64
                  " versions and %s behind; %" PRIu64 " over the bound.",
                  sc->read_your_writes ? ", read-your-writes" : "",
                  sc->monotonic_reads ? ", monotonic reads" : "", reads, stale, max_behind,
                  vfy_dur(max_lag, t1, sizeof(t1)), over.n);
    if (worst_v_pos != SIZE_MAX) {
        fl_buf_addstr(&d, " Most versions behind: ");
        vfy_record_text(c, worst_v_pos, &d);
        fl_buf_addstr(&d, ".");
    }
    if (worst_l_pos != SIZE_MAX && worst_l_pos != worst_v_pos) {
        fl_buf_addstr(&d, " Longest behind: ");
        vfy_record_text(c, worst_l_pos, &d);
        fl_buf_addstr(&d, ".");
    }
    if (ryw.n) {
        fl_buf_printf(&d, " %" PRIu64 " reads missed the client's own earlier write%s, e.g. ",
                      ryw.n, sc->read_your_writes ? "" : " (not required)");
        vfy_record_text(c, ryw.pos[0], &d);
        fl_buf_addstr(&d, ".");
    }
    if (mono.n) {
        fl_buf_printf(&d, " %" PRIu64 " reads went back in time for their client%s, e.g. ", mono.n,
                      sc->monotonic_reads ? "" : " (not required)");
        vfy_record_text(c, mono.pos[0], &d);
        fl_buf_addstr(&d, ".");
    }
    if (unknown)
        fl_buf_printf(&d, " %" PRIu64 " reads returned a value no recorded write wrote.", unknown);
    vfy_result_set_detail(out, &d);
    r = 0;
    goto out;
oom:
    r = fl_errf(err, -ENOMEM, "out of memory in the staleness verifier");
    vfy_result_free(out);
out:
    fl_buf_free(&d);
    free(kstart);
    free(judged);
    free(kfill);
    free(kops);
    free(cmap);
    free(w);
    free(ack);
    free(vs);
    free(cs);
    free(dn.id);
    free(dn.val);
    return r;
}
