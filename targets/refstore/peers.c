/*
 * Peers: contact bookkeeping, what a heartbeat says and what this replica
 * learns from one (write region, epoch, caught-up state), the per-peer
 * heartbeat thread and the heartbeat endpoint.
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

void rs_contact(struct rs_replica *r, struct peer *p, int64_t now)
{
    bool exists;

    /*
     * Back in touch with the write region after longer than the detection
     * time: this replica was cut off, and is not caught up until the write
     * region says nothing old is queued for it (recompute_current).
     */
    if (rs_is_cosmos_single(r) && r->current && strcmp(p->a.region, r->write_region) == 0 &&
        strcmp(r->write_region, r->region) != 0 &&
        now - rs_region_last_seen(r, r->write_region, &exists) > rs_detect_ns(r)) {
        r->current = false;
        rs_event_add(r, "cut-off", now, "write_region=%s back after %" PRId64 " ms",
                     r->write_region,
                     (int64_t)((now - rs_region_last_seen(r, r->write_region, &exists)) / MS));
    }
    if (now - p->last_seen_ns > rs_recent_ns(r))
        p->up_since_ns = now;
    p->last_seen_ns = now;
}

struct peer *rs_peer_by_id(struct rs_replica *r, const char *id)
{
    int i;

    for (i = 0; id && i < r->npeers; i++)
        if (strcmp(r->peers[i].a.name, id) == 0)
            return &r->peers[i];
    return NULL;
}

/* The freshest peer of a region (to forward to, to resync from); NULL if none. */
struct peer *rs_best_peer(struct rs_replica *r, const char *region)
{
    struct peer *best = NULL;
    int i;

    for (i = 0; i < r->npeers; i++) {
        struct peer *p = &r->peers[i];

        if (strcmp(p->a.region, region) != 0)
            continue;
        if (!best || p->last_seen_ns > best->last_seen_ns)
            best = p;
    }
    return best;
}

/*
 * A peer told us (heartbeat, replication, or a 409 answer: o) its view of
 * (write region, epoch): adopt a newer one. from_region is the region of the
 * replica that said it (NULL if unknown); fresh: o answers a request of ours
 * (a request from a peer may have waited in a socket buffer while this
 * replica was stopped, so its counts may be old).
 *
 * A handover or reclaim epoch fences nothing: in a handover the old write
 * region sent everything before passing the role on; in a reclaim the
 * region that had taken over acknowledged nothing. Other replicas keep
 * sending what they queued (last-writer-wins merges it).
 *
 * Reclaim: this replica is the write region and learns, from a replica of
 * the region that took the role while they were apart, that it acknowledged
 * no write in its epoch. Then this replica has everything that region has
 * (it is caught up with it) and takes the role back (epoch + 1) instead of
 * fencing its own writes: with two regions, a read region cut off alone
 * cannot tell that from the write region's loss and promotes itself; the
 * writes the write region went on acknowledging are not lost.
 */
void rs_peer_state(struct rs_replica *r, json_t *o, const char *from_region, bool fresh,
                   int64_t now)
{
    const char *wr = json_string_value(json_object_get(o, "write_region"));
    uint64_t epoch = (uint64_t)json_integer_value(json_object_get(o, "epoch"));
    bool handover = json_is_true(json_object_get(o, "handover"));
    bool reclaim = json_is_true(json_object_get(o, "reclaim"));
    json_t *ew = json_object_get(o, "epoch_writes");
    bool was;

    if (!rs_is_cosmos_single(r) || !wr || !wr[0])
        return;
    if (epoch < r->epoch)
        return;
    if (epoch == r->epoch &&
        (strcmp(wr, r->write_region) == 0 || rs_prio(r, wr) >= rs_prio(r, r->write_region)))
        return;
    was = strcmp(r->write_region, r->region) == 0;
    if (was && !handover && strcmp(wr, r->region) != 0 && from_region &&
        strcmp(from_region, wr) == 0 && !fresh)
        return; /* a request may have waited in a buffer: our own exchange with it decides */
    if (was && !handover && strcmp(wr, r->region) != 0 && from_region &&
        strcmp(from_region, wr) == 0 && json_is_integer(ew) && json_integer_value(ew) == 0) {
        r->epoch = epoch + 1;
        r->handover_epoch = true;
        r->reclaim_epoch = true;
        r->epoch_writes = 0;
        r->current = true;
        rs_event_add(r, "reclaim", now,
                     "epoch=%" PRIu64 ": %s took over at %" PRIu64 " and acknowledged nothing",
                     r->epoch, wr, epoch);
        return;
    }
    snprintf(r->write_region, sizeof(r->write_region), "%s", wr);
    r->epoch = epoch;
    r->handover_epoch = handover;
    r->reclaim_epoch = reclaim;
    rs_event_add(r, "adopt", now, "write_region=%s epoch=%" PRIu64 "%s", wr, epoch,
                 reclaim    ? " reclaim"
                 : handover ? " handover"
                            : "");
    if (strcmp(wr, r->region) == 0) {
        /* The role was handed to this region: it was caught up before it was asked. */
        r->current = true;
        r->resync_peer = -1;
        r->epoch_writes = 0;
        if (handover && !reclaim) {
            r->failback_at_ns = now;
            r->failbacks++;
            rs_event_add(r, "failback", now, "write_region=%s epoch=%" PRIu64 " handover",
                         r->region, epoch);
        }
        return;
    }
    /* Not caught up with the new write region until it says so. */
    r->current = false;
    if (was && !handover)
        rs_demote(r, wr, now);
}

/* Slack on top of the replication lag before a queue counts as behind. */
int64_t rs_behind_slack_ns(const struct rs_replica *r)
{
    return 2 * r->c.heartbeat_ns + 100 * MS;
}

/* Age of the oldest write queued for p (0: nothing queued). */
int64_t rs_behind_ns(const struct rs_replica *r, const struct peer *p, int64_t now)
{
    size_t i;

    for (i = p->qhead; i < p->qtail; i++)
        if (p->q[i].seq > r->drop_upto_seq)
            return now - p->q[i].enq_ns;
    return 0;
}

/* What p said about itself in a heartbeat (request or reply). */
static void peer_view(struct peer *p, json_t *o)
{
    const char *wr = json_string_value(json_object_get(o, "write_region"));

    if (!p)
        return;
    p->epoch = (uint64_t)json_integer_value(json_object_get(o, "epoch"));
    snprintf(p->wr, sizeof(p->wr), "%s", wr ? wr : "");
    p->current = json_is_true(json_object_get(o, "current"));
    p->pending_to_me = (long long)json_integer_value(json_object_get(o, "pending"));
    p->behind_to_me_ns = (int64_t)json_integer_value(json_object_get(o, "behind_ns"));
}

/*
 * Is this replica caught up with the write region? It stops being caught up
 * when it adopts a new write region, is demoted, resyncs, or comes back
 * after being cut off from the write region (rs_contact()). It is caught up
 * again once every replica of the write region heard lately agrees on the
 * epoch and has nothing queued for it older than the lag. Being slow while
 * in touch does not un-catch a replica: a read region that was following
 * the write region when it was lost may take over (losing what was not
 * replicated, as the seed allows).
 */
void rs_recompute_current(struct rs_replica *r, int64_t now)
{
    bool any = false, ok = true;
    int i;

    if (!rs_is_cosmos_single(r) || strcmp(r->write_region, r->region) == 0) {
        r->current = true;
        return;
    }
    if (r->resync_peer >= 0) {
        r->current = false;
        return;
    }
    for (i = 0; i < r->npeers; i++) {
        struct peer *p = &r->peers[i];

        if (strcmp(p->a.region, r->write_region) != 0 || now - p->last_seen_ns > rs_recent_ns(r) ||
            !p->wr[0])
            continue; /* not heard lately, or not yet told us its view */
        any = true;
        if (p->epoch != r->epoch || strcmp(p->wr, r->write_region) != 0 ||
            p->behind_to_me_ns > p->lag_ns + rs_behind_slack_ns(r))
            ok = false;
    }
    if (any && ok && !r->current) {
        r->current = true;
        rs_event_add(r, "caught-up", now, "write_region=%s epoch=%" PRIu64, r->write_region,
                     r->epoch);
    }
}

/* The heartbeat this replica sends to (or answers) p; lock held. */
json_t *rs_hb_json(struct rs_replica *r, const struct peer *p, int64_t now)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:b, s:b, s:b, s:b, s:I, s:I, s:I}", "id", r->id,
                     "region", r->region, "write_region", r->write_region, "epoch",
                     (json_int_t)r->epoch, "read_only", r->read_only, "current", r->current,
                     "handover", r->handover_epoch, "reclaim", r->reclaim_epoch, "epoch_writes",
                     (json_int_t)r->epoch_writes, "pending", (json_int_t)(p ? rs_qlen(p) : 0),
                     "behind_ns", (json_int_t)(p ? rs_behind_ns(r, p, now) : 0));
}

void *rs_hb_main(void *arg)
{
    struct peer *p = arg;
    struct rs_replica *r = p->r;
    CURL *c = curl_easy_init();
    char url[RS_URL_MAX + 64];
    int64_t timeout = 2 * r->c.heartbeat_ns;

    if (timeout < 50 * MS)
        timeout = 50 * MS;
    if (timeout > 1000 * MS)
        timeout = 1000 * MS;
    snprintf(url, sizeof(url), "%s/v1/internal/heartbeat", p->a.url);
    for (;;) {
        struct http_resp resp;
        json_t *req, *rep = NULL;
        char *body;
        int64_t t0 = fl_now_ns(), now;
        bool do_resync;

        pthread_mutex_lock(&r->mu);
        if (r->stop) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        req = rs_hb_json(r, p, t0);
        pthread_mutex_unlock(&r->mu);
        body = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        rs_http_call(c, url, body, timeout, 0, &resp);
        free(body);
        if (resp.rc == CURLE_OK && resp.status == 200)
            rep = json_loads(resp.body.p ? resp.body.p : "", 0, NULL);
        fl_buf_free(&resp.body);
        now = fl_now_ns();
        pthread_mutex_lock(&r->mu);
        if (rep) {
            rs_contact(r, p, now);
            peer_view(p, rep);
            rs_peer_state(r, rep, p->a.region, true, now);
            rs_recompute_current(r, now);
        }
        do_resync = r->resync_peer == p->idx && rep != NULL;
        pthread_mutex_unlock(&r->mu);
        json_decref(rep);
        if (do_resync)
            rs_resync(r, p, c);
        now = fl_now_ns();
        if (now - t0 < r->c.heartbeat_ns)
            rs_sleep_ns(r->c.heartbeat_ns - (now - t0));
    }
    curl_easy_cleanup(c);
    return NULL;
}

/* ---------- internal endpoints ---------- */

json_t *rs_replica_heartbeat(struct rs_replica *r, json_t *req, int *status)
{
    struct peer *p;
    json_t *rep;
    int64_t now = fl_now_ns();

    pthread_mutex_lock(&r->mu);
    p = rs_peer_by_id(r, json_string_value(json_object_get(req, "id")));
    if (p) {
        rs_contact(r, p, now);
        peer_view(p, req);
    }
    rs_peer_state(r, req, p ? p->a.region : NULL, false, now);
    rs_recompute_current(r, now);
    rep = rs_hb_json(r, p, now);
    pthread_mutex_unlock(&r->mu);
    *status = 200;
    return rep;
}
