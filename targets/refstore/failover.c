/*
 * Failure detection and failover: demotion of a fenced write region,
 * promotion, the key-vault and cosmos monitor ticks (priority-ordered
 * automatic failover, zone/majority checks), failback by handover to a
 * higher-priority region that is caught up, and the monitor thread.
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

/*
 * This replica was a write region and learned of a newer one: writes still
 * queued for that region never reached it; they go to the conflict feed, are
 * never sent, and the store is resynced from the new write region.
 */
void rs_demote(struct rs_replica *r, const char *new_wr, int64_t now)
{
    struct peer *src = rs_best_peer(r, new_wr);
    size_t i, n = 0;

    if (src) {
        for (i = src->qhead; i < src->qtail; i++) {
            if (src->q[i].seq > r->drop_upto_seq) {
                rs_conflict_add(r, &src->q[i], now);
                n++;
            }
        }
        r->resync_peer = src->idx;
    }
    r->drop_upto_seq = r->next_seq;
    r->current = false;
    rs_event_add(r, "demote", now, "new_write_region=%s epoch=%" PRIu64 " conflicts=%zu", new_wr,
                 r->epoch, n);
    for (i = 0; i < (size_t)r->npeers; i++)
        pthread_cond_signal(&r->peers[i].cv);
    pthread_cond_broadcast(&r->cv);
}

/* ---------- failover / failback ---------- */

/* Failover: this region takes the write role of a lost write region. */
void rs_promote(struct rs_replica *r, int64_t now)
{
    snprintf(r->write_region, sizeof(r->write_region), "%s", r->region);
    r->epoch++;
    r->handover_epoch = false;
    r->reclaim_epoch = false;
    r->epoch_writes = 0;
    r->current = true;
    r->resync_peer = -1;
    r->failover_at_ns = now;
    r->failovers++;
    rs_event_add(r, "failover", now, "write_region=%s epoch=%" PRIu64, r->region, r->epoch);
}

static void tick_key_vault(struct rs_replica *r, int64_t now)
{
    bool exists;
    int64_t last;

    if (strcmp(r->region, r->c.primary) == 0)
        return;
    last = rs_region_last_seen(r, r->c.primary, &exists);
    if (!exists)
        return;
    if (!r->read_only && now - last > rs_detect_ns(r)) {
        r->read_only = true;
        r->failover_at_ns = now;
        r->failovers++;
        rs_event_add(r, "failover", now, "primary=%s unreachable; read-only", r->c.primary);
    } else if (r->read_only && now - last <= rs_recent_ns(r) && !(r->c.bugs & RS_BUG_NO_FAILBACK)) {
        r->read_only = false;
        r->failback_at_ns = now;
        r->failbacks++;
        rs_event_add(r, "failback", now, "primary=%s reachable; read-write", r->c.primary);
    }
}

/*
 * May region take the write role on failover? Some replica of it was heard
 * within the detection time and says it is caught up at our epoch.
 */
static bool region_eligible(const struct rs_replica *r, const char *region, int64_t now)
{
    int i;

    for (i = 0; i < r->npeers; i++) {
        const struct peer *p = &r->peers[i];

        if (strcmp(p->a.region, region) == 0 && now - p->last_seen_ns <= rs_detect_ns(r) &&
            p->current && p->epoch == r->epoch && strcmp(p->wr, r->write_region) == 0)
            return true;
    }
    return false;
}

/* Is our queue to p no further behind than the replication lag? */
static bool queue_steady(const struct rs_replica *r, const struct peer *p, int64_t now)
{
    return rs_behind_ns(r, p, now) <= p->lag_ns + rs_behind_slack_ns(r);
}

/*
 * Write region: is region ready to take the role back? Every replica of it
 * heard recently is caught up at our epoch, has been in contact for
 * failover_after, and our queue to it is no more than the lag behind.
 */
static bool region_ready(const struct rs_replica *r, const char *region, int64_t now)
{
    int i, n = 0;

    for (i = 0; i < r->npeers; i++) {
        const struct peer *p = &r->peers[i];

        if (strcmp(p->a.region, region) != 0 || now - p->last_seen_ns > rs_recent_ns(r))
            continue;
        if (!p->current || p->epoch != r->epoch || strcmp(p->wr, r->write_region) != 0 ||
            now - p->up_since_ns < r->c.failover_after_ns || !queue_steady(r, p, now))
            return false;
        n++;
    }
    return n > 0;
}

/* Has every replica of region heard recently acknowledged our writes up to seq? */
static bool drained(const struct rs_replica *r, const char *region, uint64_t seq, int64_t now)
{
    int i, n = 0;

    for (i = 0; i < r->npeers; i++) {
        const struct peer *p = &r->peers[i];

        if (strcmp(p->a.region, region) != 0 || now - p->last_seen_ns > rs_recent_ns(r))
            continue;
        if (p->acked_seq < seq)
            return false;
        n++;
    }
    return n > 0;
}

/*
 * Failback as a handover (monitor thread, lock held; released while
 * waiting): hold new writes, send everything queued for `to` without lag,
 * wait for its acknowledgements (at most ack_timeout, else give up and stay
 * the write region), pass the role on with epoch + 1, tell `to`'s replicas
 * directly, then release the held writes, which are forwarded to `to`.
 */
static void hand_over(struct rs_replica *r, const char *to, int64_t now, CURL *c)
{
    char dst[RS_NAME_MAX], urls[RS_MAX_PEERS][RS_URL_MAX + 64];
    uint64_t upto = r->next_seq;
    int64_t deadline = now + r->c.ack_timeout_ns, timeout = 2 * r->c.heartbeat_ns;
    char *body;
    json_t *hb;
    int i, nurl = 0;

    snprintf(dst, sizeof(dst), "%s", to);
    r->handing_over = true;
    for (i = 0; i < r->npeers; i++)
        pthread_cond_signal(&r->peers[i].cv);
    while (!drained(r, dst, upto, now) && now < deadline && !r->stop &&
           strcmp(r->write_region, r->region) == 0) {
        rs_wait_until(&r->cv, &r->mu, deadline);
        now = fl_now_ns();
    }
    if (r->stop || strcmp(r->write_region, r->region) != 0 || !drained(r, dst, upto, now)) {
        r->handing_over = false;
        r->handover_retry_ns = now + r->c.failover_after_ns;
        rs_event_add(r, "handover-abort", now, "to=%s", dst);
        pthread_cond_broadcast(&r->cv);
        return;
    }
    snprintf(r->write_region, sizeof(r->write_region), "%s", dst);
    r->epoch++;
    r->handover_epoch = true;
    r->reclaim_epoch = false;
    r->current = true;
    rs_event_add(r, "handover", now, "write_region=%s epoch=%" PRIu64 " acked_seq=%" PRIu64, dst,
                 r->epoch, upto);
    hb = rs_hb_json(r, NULL, now);
    body = json_dumps(hb, JSON_COMPACT);
    json_decref(hb);
    for (i = 0; i < r->npeers; i++)
        if (strcmp(r->peers[i].a.region, dst) == 0)
            snprintf(urls[nurl++], sizeof(urls[0]), "%s/v1/internal/heartbeat", r->peers[i].a.url);
    if (timeout < 50 * MS)
        timeout = 50 * MS;
    if (timeout > 1000 * MS)
        timeout = 1000 * MS;
    pthread_mutex_unlock(&r->mu);
    for (i = 0; body && i < nurl; i++) {
        struct http_resp resp;

        rs_http_call(c, urls[i], body, timeout, 0, &resp);
        fl_buf_free(&resp.body);
    }
    free(body);
    pthread_mutex_lock(&r->mu);
    r->handing_over = false;
    pthread_cond_broadcast(&r->cv);
    for (i = 0; i < r->npeers; i++)
        pthread_cond_signal(&r->peers[i].cv);
}

/*
 * With three or more regions, does this replica hear a majority of them
 * (its own included) now (within three heartbeats)? A region cut off alone
 * cannot tell its isolation from the write region's loss by itself; the
 * others can. With one or two regions there is no majority to ask: true.
 */
bool rs_hears_majority(const struct rs_replica *r, int64_t now)
{
    char seen[RS_MAX_PEERS + 1][RS_NAME_MAX];
    bool alive[RS_MAX_PEERS + 1];
    int i, j, n = 1, up = 1;

    snprintf(seen[0], RS_NAME_MAX, "%s", r->region);
    alive[0] = true;
    for (i = 0; i < r->npeers; i++) {
        const struct peer *p = &r->peers[i];
        bool a = now - p->last_seen_ns <= rs_recent_ns(r);

        for (j = 0; j < n && strcmp(seen[j], p->a.region) != 0; j++)
            ;
        if (j == n) {
            snprintf(seen[n], RS_NAME_MAX, "%s", p->a.region);
            alive[n++] = a;
            up += a;
        } else if (a && !alive[j]) {
            alive[j] = true;
            up++;
        }
    }
    return n < 3 || 2 * up > n;
}

static void tick_cosmos(struct rs_replica *r, int64_t now, CURL *c)
{
    bool exists;
    int64_t wlast;
    int i;

    if (r->c.multi_write)
        return;
    if (strcmp(r->write_region, r->region) == 0) {
        /* Failback: hand the role to the first higher-priority region that is ready. */
        if (!r->c.auto_failback || (r->c.bugs & RS_BUG_NO_FAILBACK) || now < r->handover_retry_ns)
            return;
        for (i = 0; i < r->c.npriority && strcmp(r->c.priority[i], r->region) != 0; i++) {
            if (region_ready(r, r->c.priority[i], now)) {
                hand_over(r, r->c.priority[i], now, c);
                return;
            }
        }
        return;
    }
    if (!r->c.auto_failover)
        return;
    wlast = rs_region_last_seen(r, r->write_region, &exists);
    if (!exists || now - wlast <= rs_detect_ns(r))
        return;
    /*
     * A replica that has not caught up with the write region never takes its
     * role, nor does one that hears only a minority of the regions.
     */
    if (!r->current || !rs_hears_majority(r, now))
        return;
    /* The write region is lost: the first caught-up live region in priority order takes over. */
    for (i = 0; i < r->c.npriority; i++) {
        const char *reg = r->c.priority[i];

        if (strcmp(reg, r->region) == 0) {
            rs_promote(r, now);
            return;
        }
        if (strcmp(reg, r->write_region) == 0)
            continue;
        if (region_eligible(r, reg, now))
            return; /* a higher-priority caught-up region will take over */
    }
}

void *rs_mon_main(void *arg)
{
    struct rs_replica *r = arg;
    int64_t step = r->c.heartbeat_ns / 2;
    CURL *c = curl_easy_init();

    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        int64_t now = fl_now_ns();

        if (r->c.preset == RS_KEY_VAULT)
            tick_key_vault(r, now);
        else if (c)
            tick_cosmos(r, now, c);
        rs_wait_until(&r->cv, &r->mu, now + step);
    }
    pthread_mutex_unlock(&r->mu);
    curl_easy_cleanup(c);
    return NULL;
}
