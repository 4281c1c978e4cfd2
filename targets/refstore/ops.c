/*
 * Client operations: POST /v1/op for register writes and reads, set-model
 * adds and reads, compare-and-set and the admin manual failover; forwarding
 * to the write region, bounded staleness, waiting for acknowledgements, the
 * offline check of a cut-off read region, and the bug switches they apply.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "faultline/buf.h"
#include "faultline/err.h"
#include "faultline/http.h"
#include "faultline/log.h"
#include "faultline/refstore_bugs.h"
#include "faultline/timeutil.h"
#include "replica_int.h"

/* ---------- client operations ---------- */

static void refuse(struct rs_result *res, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void refuse(struct rs_result *res, int status, const char *code, const char *fmt, ...)
{
    va_list ap;

    res->status = status;
    res->code = code;
    va_start(ap, fmt);
    vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
    va_end(ap);
}

/* Forward the raw request to the freshest replica of region; lock not held. */
static void forward(struct rs_replica *r, const char *region, const char *raw, const char *what,
                    int hops, struct rs_result *res)
{
    struct peer *p;
    char url[RS_URL_MAX + 16];
    struct http_resp resp;
    CURL *c;

    pthread_mutex_lock(&r->mu);
    p = rs_best_peer(r, region);
    if (p)
        snprintf(url, sizeof(url), "%s/v1/op", p->a.url);
    pthread_mutex_unlock(&r->mu);
    if (!p) {
        refuse(res, 503, "no_route", "no replica of region %s is known", region);
        return;
    }
    c = rs_fwd_handle();
    if (!c) {
        refuse(res, 500, "internal", "out of memory");
        return;
    }
    rs_http_call(c, url, raw, r->c.forward_timeout_ns, hops, &resp);
    if (resp.rc == CURLE_OK && resp.status > 0) {
        res->status = (int)resp.status;
        res->forwarded_body = fl_buf_take(&resp.body);
    } else if (!resp.sent) {
        /* Never reached the wire: definitely not applied. */
        refuse(res, 503, "unreachable", "%s %s unreachable: %s", what, region,
               curl_easy_strerror(resp.rc));
    } else {
        refuse(res, 504, "upstream_timeout", "%s %s did not answer: %s", what, region,
               curl_easy_strerror(resp.rc));
    }
    fl_buf_free(&resp.body);
}

/* Bounded staleness: no reachable region may fall K versions or T behind. */
static bool bound_ok(struct rs_replica *r, int64_t now)
{
    int i;

    if (r->c.bugs & RS_BUG_BOUNDED_IGNORED)
        return true;

    for (i = 0; i < r->npeers; i++) {
        struct peer *p = &r->peers[i];

        if (strcmp(p->a.region, r->region) == 0 || now - p->last_seen_ns > rs_detect_ns(r))
            continue;
        if (rs_qlen(p) >= r->c.bounded_versions)
            return false;
        if (rs_qlen(p) > 0 && now - p->q[p->qhead].enq_ns >= r->c.bounded_ns)
            return false;
    }
    return true;
}

/* Have the replicas this write must reach acknowledged seq? */
static bool acks_ok(struct rs_replica *r, uint64_t seq, int64_t now)
{
    int i, j, region_n = 1, region_acked = 0;

    for (i = 0; i < r->npeers; i++) {
        struct peer *p = &r->peers[i];
        bool same = strcmp(p->a.region, r->region) == 0;
        bool alive = now - p->last_seen_ns <= r->c.failover_after_ns;

        if (same) {
            region_n++;
            if (p->acked_seq >= seq)
                region_acked++;
        }
        if (r->c.preset == RS_KEY_VAULT || (r->c.sync && r->c.consistency != RS_STRONG)) {
            /* sync replication: every replica currently reachable */
            if (r->c.sync && alive && p->acked_seq < seq)
                return false;
            continue;
        }
        if (!same && r->c.consistency == RS_STRONG) {
            /* strong: at least one replica of every other region, reachable or not */
            bool any = false;

            for (j = 0; j < r->npeers; j++)
                if (strcmp(r->peers[j].a.region, p->a.region) == 0 && r->peers[j].acked_seq >= seq)
                    any = true;
            if (!any)
                return false;
        }
    }
    if (r->c.preset == RS_COSMOS && r->c.zone_redundant && !(r->c.bugs & RS_BUG_ZONE_QUORUM) &&
        region_acked + 1 < region_n / 2 + 1)
        return false;
    return true;
}

/*
 * A write at this replica (lock held): a register write, a set-model add, or
 * a compare-and-set. A cas that does not match writes nothing and answers at
 * once; one that matches is a register write. Every write is queued for
 * every peer and waits for the acknowledgements its consistency level needs.
 */
static void apply_write(struct rs_replica *r, const struct rs_opdef *d, const struct rs_req *rq,
                        struct rs_result *res)
{
    struct rs_entry *e;
    struct rs_repl q;
    int64_t now = fl_now_ns(), deadline = now + r->c.ack_timeout_ns;
    bool set_add = rq->set_model, del = d->kind == RS_K_DEL && !set_add;
    uint64_t value = rq->value;
    int i;

    if (r->c.preset == RS_COSMOS && r->c.consistency == RS_BOUNDED) {
        while (!bound_ok(r, now) && now < deadline && !r->stop) {
            rs_wait_until(&r->cv, &r->mu, deadline);
            now = fl_now_ns();
        }
        if (!bound_ok(r, now)) {
            refuse(res, 429, "bounded_staleness",
                   "%s refused: a region is more than the staleness bound behind", d->name);
            return;
        }
        if (rs_is_cosmos_single(r) &&
            (r->handing_over || strcmp(r->write_region, r->region) != 0)) {
            refuse(res, 503, "not_primary",
                   "%s: the write role moved while the write waited; not applied", d->name);
            return;
        }
    }
    if (d->kind == RS_K_CAS) {
        uint64_t cur;

        e = rs_store_get(&r->store, rq->key);
        cur = e && !e->deleted ? e->value : 0;
        res->is_cas = true;
        if (cur != rq->expected) {
            /* Compared, no match: a real answer; nothing written. */
            res->status = 200;
            res->has_value = true;
            res->value = (r->c.bugs & RS_BUG_STALE_READS) && e ? e->first_value : cur;
            res->version = e ? e->version : 0;
            return;
        }
        res->swapped = true;
    }
    r->writes_seen++;
    r->epoch_writes++;
    res->status = 200;
    res->has_value = !del;
    res->value = del ? 0 : value;
    if ((r->c.bugs & RS_BUG_LOSE_ACKED) && r->writes_seen % (uint64_t)r->c.lose_every == 0) {
        r->lost_writes++; /* acknowledged, never stored nor replicated */
        return;
    }
    e = rs_store_upsert(&r->store, rq->key);
    if (!e) {
        refuse(res, 500, "internal", "out of memory");
        return;
    }
    memset(&q, 0, sizeof(q));
    if (set_add) {
        /* Set model: add the element; the register value is left alone. */
        if (rs_entry_add_elem(e, value) < 0) {
            refuse(res, 500, "internal", "out of memory");
            return;
        }
        q.value = value;
        q.ts_ns = now;
        snprintf(q.origin, sizeof(q.origin), "%s", r->region);
        q.set_add = true;
    } else {
        e->version++;
        e->ts_ns = now > e->ts_ns ? now : e->ts_ns + 1;
        snprintf(e->origin, sizeof(e->origin), "%s", r->region);
        e->deleted = del;
        e->value = e->deleted ? 0 : value;
        if (e->first_value == 0)
            e->first_value = e->value;
        res->version = e->version;
        q.value = e->value;
        q.version = e->version;
        q.ts_ns = e->ts_ns;
        snprintf(q.origin, sizeof(q.origin), "%s", e->origin);
        q.deleted = e->deleted;
    }
    snprintf(q.key, sizeof(q.key), "%s", rq->key);
    q.enq_ns = now;
    q.seq = ++r->next_seq;
    for (i = 0; i < r->npeers; i++) {
        if (rs_enqueue(&r->peers[i], &q) < 0) {
            refuse(res, 500, "internal", "out of memory");
            return;
        }
        pthread_cond_signal(&r->peers[i].cv);
    }
    while (!acks_ok(r, q.seq, now) && now < deadline && !r->stop) {
        rs_wait_until(&r->cv, &r->mu, deadline);
        now = fl_now_ns();
    }
    if (q.seq <= r->drop_upto_seq && rs_is_cosmos_single(r) &&
        strcmp(r->write_region, r->region) != 0) {
        refuse(res, 504, "demoted", "%s: this region lost the write role; in the conflict feed",
               d->name);
        return;
    }
    if (!acks_ok(r, q.seq, now))
        refuse(res, 504, "replication_timeout",
               "%s applied locally but not acknowledged by the replicas it needs", d->name);
}

/* The set of e for a set-model read (malloc'd copy into res). */
static void read_set(struct rs_replica *r, const struct rs_entry *e, struct rs_result *res)
{
    res->has_elems = true;
    if (!e || e->nelems == 0)
        return;
    if (r->c.bugs & RS_BUG_STALE_READS) {
        res->elems = malloc(sizeof(*res->elems));
        if (res->elems) {
            res->elems[0] = e->first_elem;
            res->nelems = 1;
        }
        return;
    }
    res->elems = malloc(e->nelems * sizeof(*res->elems));
    if (!res->elems) {
        refuse(res, 500, "internal", "out of memory");
        return;
    }
    memcpy(res->elems, e->elems, e->nelems * sizeof(*res->elems));
    res->nelems = e->nelems;
}

static void read_local(struct rs_replica *r, const struct rs_opdef *d, const struct rs_req *rq,
                       struct rs_result *res)
{
    struct rs_entry *e;

    res->status = 200;
    if (rq->set_model && rq->key && rq->key[0]) {
        read_set(r, rs_store_get(&r->store, rq->key), res);
        if (d->kind == RS_K_LIST)
            res->count = (long long)rs_store_live(&r->store);
        return;
    }
    switch (d->kind) {
    case RS_K_GET:
        e = rs_store_get(&r->store, rq->key);
        res->has_value = true;
        if (e && !e->deleted) {
            res->value = (r->c.bugs & RS_BUG_STALE_READS) ? e->first_value : e->value;
            res->version = e->version;
        }
        break;
    case RS_K_LIST:
        res->count = (long long)rs_store_live(&r->store);
        break;
    case RS_K_CRYPTO:
        /* Simulated: looks the key up, computes nothing (documented as simulated). */
        e = rs_store_get(&r->store, rq->key);
        res->count = -1;
        res->version = e ? e->version : 0;
        break;
    default:
        break;
    }
}

/*
 * A cosmos read region that has not heard its write region for failover_after
 * and hears no majority of the regions (three or more) is cut off: it marks
 * itself offline and refuses reads, so that clients move to the next region
 * of their preferred list (the seed: the region is disconnected and marked
 * offline; SDKs route reads to the next available region). Lock held.
 */
static bool offline(const struct rs_replica *r, int64_t now)
{
    bool exists;
    int64_t wlast;

    if (!rs_is_cosmos_single(r) || strcmp(r->write_region, r->region) == 0 ||
        (r->c.bugs & RS_BUG_OFFLINE_SERVES))
        return false;
    wlast = rs_region_last_seen(r, r->write_region, &exists);
    return exists && now - wlast > r->c.failover_after_ns && !rs_hears_majority(r, now);
}

/*
 * A manual failover asked of this replica: make its region the write region.
 * The consistency check it needs reaches the write region; without it the
 * request is refused (the seed: a manual failover during an outage does not
 * succeed). With the check passed refstore answers ok and moves nothing (the
 * handover itself is not modelled); the region that already writes answers
 * ok. Bug manual-failover-in-outage: without the write region the replica
 * promotes itself. Lock held.
 */
static void manual_failover(struct rs_replica *r, struct rs_result *res, int64_t now)
{
    bool exists;
    int64_t wlast;

    if (r->c.preset != RS_COSMOS || r->c.multi_write) {
        refuse(res, 400, "bad_request", "failover: only a single-write cosmos account has one");
        return;
    }
    res->status = 200;
    if (strcmp(r->write_region, r->region) == 0)
        return;
    wlast = rs_region_last_seen(r, r->write_region, &exists);
    if (exists && now - wlast <= rs_recent_ns(r) && r->current)
        return;
    if (r->c.bugs & RS_BUG_MANUAL_FAILOVER) {
        rs_promote(r, now);
        rs_event_add(r, "manual-failover", now, "write region %s unreachable; promoted anyway",
                     r->write_region);
        return;
    }
    refuse(res, 503, "unreachable",
           "failover: the consistency check needs the write region %s, unreachable",
           r->write_region);
}

void rs_replica_op(struct rs_replica *r, const struct rs_req *rq, struct rs_result *res)
{
    const struct rs_opdef *d;
    int idx = 0;
    bool local = true;
    char target[RS_NAME_MAX] = "";
    const char *what = "";
    const char *op = rq->op, *key = rq->key;

    memset(res, 0, sizeof(*res));
    res->count = -1;
    snprintf(res->region, sizeof(res->region), "%s", r->region);
    d = op ? rs_config_op(&r->c, op, &idx) : NULL;
    if (!d) {
        refuse(res, 400, "unknown_op", "unknown operation '%s' for preset %s", op ? op : "",
               rs_preset_name(r->c.preset));
        return;
    }
    if ((d->kind == RS_K_GET || d->kind == RS_K_PUT || d->kind == RS_K_DEL ||
         d->kind == RS_K_CRYPTO || d->kind == RS_K_CAS || rq->set_model) &&
        (!key || !key[0] || strlen(key) >= RS_KEY_MAX)) {
        refuse(res, 400, "bad_request", "%s needs a key (1..%d bytes)", d->name, RS_KEY_MAX - 1);
        return;
    }
    if ((d->kind == RS_K_PUT || d->kind == RS_K_CAS || (d->write && rq->set_model)) &&
        rq->value == 0) {
        refuse(res, 400, "bad_request", "%s needs a non-zero integer value", d->name);
        return;
    }
    if (d->kind == RS_K_CAS && (!rq->has_expected || rq->set_model)) {
        refuse(res, 400, "bad_request", "%s",
               rq->set_model ? "cas: not in the set model"
                             : "cas needs \"expected\" (a value, or null: the key is absent)");
        return;
    }
    pthread_mutex_lock(&r->mu);
    if (d->kind == RS_K_ADMIN) {
        manual_failover(r, res, fl_now_ns());
        goto out;
    }
    if (!d->write && offline(r, fl_now_ns())) {
        refuse(res, 503, "offline", "%s: region %s is cut off from the write region %s: offline",
               d->name, r->region, r->write_region);
        goto out;
    }
    if (d->write && r->handing_over) {
        /* The write role is being handed over: hold the write, then route it. */
        int64_t deadline = fl_now_ns() + r->c.ack_timeout_ns + 2000 * MS;

        while (r->handing_over && !r->stop && fl_now_ns() < deadline)
            rs_wait_until(&r->cv, &r->mu, deadline);
        if (r->handing_over) {
            refuse(res, 503, "not_primary", "%s: the write role is being handed over", d->name);
            goto out;
        }
    }
    if (r->c.preset == RS_KEY_VAULT && strcmp(r->region, r->c.primary) != 0) {
        if (r->read_only) {
            bool allowed = (r->c.ro_mask >> idx) & 1;

            if (d->write && (r->c.bugs & RS_BUG_WRITES_IN_RO))
                allowed = true;
            if (!d->write && (r->c.bugs & RS_BUG_READS_REFUSED_RO))
                allowed = false;
            if (!allowed) {
                refuse(res, 403, "read_only", "read-only: %s refused", d->name);
                goto out;
            }
        } else {
            local = false;
            snprintf(target, sizeof(target), "%s", r->c.primary);
            what = "primary";
        }
    } else if (rs_is_cosmos_single(r) && d->write && strcmp(r->write_region, r->region) != 0) {
        local = false;
        snprintf(target, sizeof(target), "%s", r->write_region);
        what = "write region";
    }
    /* A forwarded request may be forwarded once more (the write role just moved), not again. */
    if (!local && rq->hops >= 2) {
        refuse(res, 503, "not_primary", "%s: this replica does not serve writes (%s is %s)",
               d->name, what, target);
        goto out;
    }
    if (!local) {
        pthread_mutex_unlock(&r->mu);
        forward(r, target, rq->raw_body, what, rq->hops + 1, res);
        return;
    }
    if (d->write)
        apply_write(r, d, rq, res);
    else
        read_local(r, d, rq, res);
out:
    pthread_mutex_unlock(&r->mu);
}
