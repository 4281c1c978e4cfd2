/*
 * One refstore replica: the data, replication to its peers, failure
 * detection, failover/failback and the preset semantics (key-vault read-only
 * secondary; cosmos consistency levels, single/multi-write, priority-ordered
 * automatic failover, conflict feed, zone quorum), the client operations
 * (register writes and reads, set-model adds and reads, compare-and-set),
 * and the bug switches.
 *
 * Threads: per peer a heartbeat thread (POST /v1/internal/heartbeat every
 * heartbeat interval, short timeout) and a replication thread (pushes this
 * replica's own writes, in order, after the configured lag, and records the
 * peer's acknowledgement); one monitor thread that decides failover and
 * failback; client requests run on libmicrohttpd's connection threads. One
 * mutex protects everything; replies are built outside it where they involve
 * network I/O. Replication is full mesh: each replica pushes only the writes
 * it accepted itself; receivers apply last-writer-wins on (write time, origin).
 * In cosmos single-write mode a (write region, epoch) pair fences stale write
 * regions: a returning old write region learns the higher epoch, moves its
 * unreplicated writes to the conflict feed and resyncs from the new one.
 *
 * Catching up: a replica is "current" when it holds what the write region
 * has sent it (it agrees on the epoch, no resync is pending, and the write
 * region reports nothing older than the replication lag queued for it). Only
 * a current replica takes the write role on failover, and peers skip
 * regions that are not current when they decide who is next in priority
 * order. Failback is a handover driven by the current write region: once a
 * higher-priority region is current and has been in contact for
 * failover_after, the write region holds new writes, sends everything queued
 * for that region without lag, waits for its acknowledgements, then passes
 * the role on (epoch + 1) and tells it directly; held writes are then
 * forwarded to the new write region. Nothing acknowledged is fenced.
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
#include "refstore.h"

#define MS           1000000LL
#define BATCH_MAX    512
#define EVENTS_MAX   64
#define CONFLICT_MAX 100000

struct peer {
    struct rs_peer_addr a;
    struct rs_replica *r;
    int idx;
    pthread_t hb_thr, repl_thr;
    bool hb_started, repl_started;
    pthread_cond_t cv;    /* wakes the replication thread */
    int64_t last_seen_ns; /* last successful exchange, either direction */
    int64_t up_since_ns;  /* start of the current run of contact */
    long long pending_to_me;
    int64_t behind_to_me_ns; /* age of the oldest write it has queued for us */
    uint64_t epoch;          /* its view: (write region, epoch), caught up or not */
    char wr[RS_NAME_MAX];
    bool current;
    int64_t lag_ns;
    struct rs_repl *q;
    size_t qhead, qtail, qcap; /* entries [qhead, qtail) */
    uint64_t acked_seq;
};

struct event {
    char what[16];
    char detail[96];
    int64_t at_ns;
};

struct rs_replica {
    struct rs_config c;
    char id[RS_NAME_MAX], region[RS_NAME_MAX], zone[RS_NAME_MAX];
    struct peer peers[RS_MAX_PEERS];
    int npeers;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* acknowledgements, stop */
    struct rs_store store;
    uint64_t next_seq;
    uint64_t drop_upto_seq; /* queued writes <= this were moved to the conflict feed */
    bool read_only;
    char write_region[RS_NAME_MAX];
    uint64_t epoch;
    int64_t started_ns, failover_at_ns, failback_at_ns;
    int failovers, failbacks;
    uint64_t writes_seen, lost_writes;
    struct rs_conflict *conf;
    size_t nconf, capconf;
    int resync_peer;       /* peer to fetch a snapshot from, -1 none */
    bool current;          /* caught up with the write region (see the top of this file) */
    bool handover_epoch;   /* the current epoch fences nothing (a handover or a reclaim) */
    bool reclaim_epoch;    /* ... and began with a reclaim */
    uint64_t epoch_writes; /* writes this replica acknowledged as write region this epoch */
    bool handing_over;     /* write region: new writes held while the role moves */
    int64_t handover_retry_ns;
    struct event ev[EVENTS_MAX];
    int nev;
    bool stop;
    pthread_t mon_thr;
    bool mon_started;
};

/* ---------- HTTP client helpers (libcurl) ---------- */

struct http_resp {
    struct fl_buf body;
    long status;
    bool sent; /* the request reached the wire (so a write may have happened) */
    CURLcode rc;
};

/* One request on handle c; body NULL means GET. resp->body must be freed. */
static void http_call(CURL *c, const char *url, const char *body, int64_t timeout_ns, int hops,
                      struct http_resp *resp)
{
    struct curl_slist *h = NULL;
    long ms = (long)(timeout_ns / MS);
    curl_off_t reqsz = 0;
    char fwd[48];

    if (ms < 1)
        ms = 1;
    fl_buf_init(&resp->body, 64 << 20);
    resp->status = 0;
    resp->sent = false;
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    if (hops > 0) {
        snprintf(fwd, sizeof(fwd), "X-Refstore-Forwarded: %d", hops);
        h = curl_slist_append(h, fwd);
    }
    fl_http_setup(c, url, ms, &resp->body, NULL);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    resp->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &reqsz);
    resp->sent = reqsz > 0;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
}

static pthread_key_t fwd_key;
static pthread_once_t fwd_once = PTHREAD_ONCE_INIT;

static void fwd_free(void *p)
{
    curl_easy_cleanup(p);
}

static void fwd_init(void)
{
    pthread_key_create(&fwd_key, fwd_free);
}

/* The calling thread's own keep-alive handle for forwarding. */
static CURL *fwd_handle(void)
{
    CURL *c;

    pthread_once(&fwd_once, fwd_init);
    c = pthread_getspecific(fwd_key);
    if (!c) {
        c = curl_easy_init();
        pthread_setspecific(fwd_key, c);
    }
    return c;
}

/* ---------- small helpers (lock held) ---------- */

static bool is_cosmos_single(const struct rs_replica *r)
{
    return r->c.preset == RS_COSMOS && !r->c.multi_write;
}

static int prio(const struct rs_replica *r, const char *region)
{
    int i;

    for (i = 0; i < r->c.npriority; i++)
        if (strcmp(r->c.priority[i], region) == 0)
            return i;
    return RS_MAX_REGIONS + 1;
}

static void event_add(struct rs_replica *r, const char *what, int64_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void event_add(struct rs_replica *r, const char *what, int64_t at, const char *fmt, ...)
{
    struct event *e;
    va_list ap;

    if (r->nev == EVENTS_MAX) {
        memmove(&r->ev[0], &r->ev[1], sizeof(r->ev[0]) * (EVENTS_MAX - 1));
        r->nev--;
    }
    e = &r->ev[r->nev++];
    snprintf(e->what, sizeof(e->what), "%s", what);
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
    va_end(ap);
    e->at_ns = at;
    log_info("event %s at_ns=%" PRId64 " id=%s region=%s %s", what, at, r->id, r->region,
             e->detail);
}

static int64_t detect_ns(const struct rs_replica *r)
{
    int64_t d = r->c.failover_after_ns;

    if (r->c.bugs & RS_BUG_SLOW_FAILOVER)
        d *= r->c.slow_factor;
    return d;
}

/* Contact "recently": within three heartbeats, and sooner than failover_after. */
static int64_t recent_ns(const struct rs_replica *r)
{
    int64_t x = 3 * r->c.heartbeat_ns;

    if (x >= r->c.failover_after_ns)
        x = r->c.failover_after_ns / 2;
    return x;
}

static int64_t region_last_seen(const struct rs_replica *r, const char *region, bool *exists)
{
    int64_t best = 0;
    int i;

    *exists = false;
    for (i = 0; i < r->npeers; i++) {
        if (strcmp(r->peers[i].a.region, region) != 0)
            continue;
        *exists = true;
        if (r->peers[i].last_seen_ns > best)
            best = r->peers[i].last_seen_ns;
    }
    return best;
}

static void contact(struct rs_replica *r, struct peer *p, int64_t now)
{
    bool exists;

    /*
     * Back in touch with the write region after longer than the detection
     * time: this replica was cut off, and is not caught up until the write
     * region says nothing old is queued for it (recompute_current).
     */
    if (is_cosmos_single(r) && r->current && strcmp(p->a.region, r->write_region) == 0 &&
        strcmp(r->write_region, r->region) != 0 &&
        now - region_last_seen(r, r->write_region, &exists) > detect_ns(r)) {
        r->current = false;
        event_add(r, "cut-off", now, "write_region=%s back after %" PRId64 " ms", r->write_region,
                  (int64_t)((now - region_last_seen(r, r->write_region, &exists)) / MS));
    }
    if (now - p->last_seen_ns > recent_ns(r))
        p->up_since_ns = now;
    p->last_seen_ns = now;
}

static struct peer *peer_by_id(struct rs_replica *r, const char *id)
{
    int i;

    for (i = 0; id && i < r->npeers; i++)
        if (strcmp(r->peers[i].a.name, id) == 0)
            return &r->peers[i];
    return NULL;
}

/* The freshest peer of a region (to forward to, to resync from); NULL if none. */
static struct peer *best_peer(struct rs_replica *r, const char *region)
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

static size_t qlen(const struct peer *p)
{
    return p->qtail - p->qhead;
}

static int enqueue(struct peer *p, const struct rs_repl *e)
{
    if (p->qtail == p->qcap) {
        if (p->qhead > 0 && p->qhead >= p->qcap / 2) {
            memmove(p->q, p->q + p->qhead, qlen(p) * sizeof(*p->q));
            p->qtail -= p->qhead;
            p->qhead = 0;
        } else {
            size_t ncap = p->qcap ? p->qcap * 2 : 1024;
            struct rs_repl *nq = realloc(p->q, ncap * sizeof(*nq));

            if (!nq)
                return -ENOMEM;
            p->q = nq;
            p->qcap = ncap;
        }
    }
    p->q[p->qtail++] = *e;
    return 0;
}

static void conflict_add(struct rs_replica *r, const struct rs_repl *e, int64_t now)
{
    if (r->nconf == r->capconf) {
        size_t ncap = r->capconf ? r->capconf * 2 : 64;
        struct rs_conflict *n;

        if (ncap > CONFLICT_MAX)
            return;
        n = realloc(r->conf, ncap * sizeof(*n));
        if (!n)
            return;
        r->conf = n;
        r->capconf = ncap;
    }
    r->conf[r->nconf].e = *e;
    r->conf[r->nconf].at_ns = now;
    r->nconf++;
}

/*
 * This replica was a write region and learned of a newer one: writes still
 * queued for that region never reached it; they go to the conflict feed, are
 * never sent, and the store is resynced from the new write region.
 */
static void demote(struct rs_replica *r, const char *new_wr, int64_t now)
{
    struct peer *src = best_peer(r, new_wr);
    size_t i, n = 0;

    if (src) {
        for (i = src->qhead; i < src->qtail; i++) {
            if (src->q[i].seq > r->drop_upto_seq) {
                conflict_add(r, &src->q[i], now);
                n++;
            }
        }
        r->resync_peer = src->idx;
    }
    r->drop_upto_seq = r->next_seq;
    r->current = false;
    event_add(r, "demote", now, "new_write_region=%s epoch=%" PRIu64 " conflicts=%zu", new_wr,
              r->epoch, n);
    for (i = 0; i < (size_t)r->npeers; i++)
        pthread_cond_signal(&r->peers[i].cv);
    pthread_cond_broadcast(&r->cv);
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
static void peer_state(struct rs_replica *r, json_t *o, const char *from_region, bool fresh,
                       int64_t now)
{
    const char *wr = json_string_value(json_object_get(o, "write_region"));
    uint64_t epoch = (uint64_t)json_integer_value(json_object_get(o, "epoch"));
    bool handover = json_is_true(json_object_get(o, "handover"));
    bool reclaim = json_is_true(json_object_get(o, "reclaim"));
    json_t *ew = json_object_get(o, "epoch_writes");
    bool was;

    if (!is_cosmos_single(r) || !wr || !wr[0])
        return;
    if (epoch < r->epoch)
        return;
    if (epoch == r->epoch &&
        (strcmp(wr, r->write_region) == 0 || prio(r, wr) >= prio(r, r->write_region)))
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
        event_add(r, "reclaim", now,
                  "epoch=%" PRIu64 ": %s took over at %" PRIu64 " and acknowledged nothing",
                  r->epoch, wr, epoch);
        return;
    }
    snprintf(r->write_region, sizeof(r->write_region), "%s", wr);
    r->epoch = epoch;
    r->handover_epoch = handover;
    r->reclaim_epoch = reclaim;
    event_add(r, "adopt", now, "write_region=%s epoch=%" PRIu64 "%s", wr, epoch,
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
            event_add(r, "failback", now, "write_region=%s epoch=%" PRIu64 " handover", r->region,
                      epoch);
        }
        return;
    }
    /* Not caught up with the new write region until it says so. */
    r->current = false;
    if (was && !handover)
        demote(r, wr, now);
}

/* Slack on top of the replication lag before a queue counts as behind. */
static int64_t behind_slack_ns(const struct rs_replica *r)
{
    return 2 * r->c.heartbeat_ns + 100 * MS;
}

/* Age of the oldest write queued for p (0: nothing queued). */
static int64_t behind_ns(const struct rs_replica *r, const struct peer *p, int64_t now)
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
 * after being cut off from the write region (contact()). It is caught up
 * again once every replica of the write region heard lately agrees on the
 * epoch and has nothing queued for it older than the lag. Being slow while
 * in touch does not un-catch a replica: a read region that was following
 * the write region when it was lost may take over (losing what was not
 * replicated, as the seed allows).
 */
static void recompute_current(struct rs_replica *r, int64_t now)
{
    bool any = false, ok = true;
    int i;

    if (!is_cosmos_single(r) || strcmp(r->write_region, r->region) == 0) {
        r->current = true;
        return;
    }
    if (r->resync_peer >= 0) {
        r->current = false;
        return;
    }
    for (i = 0; i < r->npeers; i++) {
        struct peer *p = &r->peers[i];

        if (strcmp(p->a.region, r->write_region) != 0 || now - p->last_seen_ns > recent_ns(r) ||
            !p->wr[0])
            continue; /* not heard lately, or not yet told us its view */
        any = true;
        if (p->epoch != r->epoch || strcmp(p->wr, r->write_region) != 0 ||
            p->behind_to_me_ns > p->lag_ns + behind_slack_ns(r))
            ok = false;
    }
    if (any && ok && !r->current) {
        r->current = true;
        event_add(r, "caught-up", now, "write_region=%s epoch=%" PRIu64, r->write_region, r->epoch);
    }
}

/* The heartbeat this replica sends to (or answers) p; lock held. */
static json_t *hb_json(struct rs_replica *r, const struct peer *p, int64_t now)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:b, s:b, s:b, s:b, s:I, s:I, s:I}", "id", r->id,
                     "region", r->region, "write_region", r->write_region, "epoch",
                     (json_int_t)r->epoch, "read_only", r->read_only, "current", r->current,
                     "handover", r->handover_epoch, "reclaim", r->reclaim_epoch, "epoch_writes",
                     (json_int_t)r->epoch_writes, "pending", (json_int_t)(p ? qlen(p) : 0),
                     "behind_ns", (json_int_t)(p ? behind_ns(r, p, now) : 0));
}

/* ---------- timed waits ---------- */

static void abstime(struct timespec *ts, int64_t mono_deadline)
{
    ts->tv_sec = (time_t)(mono_deadline / 1000000000LL);
    ts->tv_nsec = (long)(mono_deadline % 1000000000LL);
}

static void wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline)
{
    struct timespec ts;

    abstime(&ts, deadline);
    pthread_cond_timedwait(cv, mu, &ts);
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---------- peer threads ---------- */

/* Load one snapshot entry into the (cleared) store. */
static void load_entry(struct rs_replica *r, json_t *e)
{
    struct rs_entry *x = rs_store_upsert(&r->store, json_string_value(json_array_get(e, 0)) ?: "");
    json_t *els = json_array_get(e, 7), *v;
    size_t i;

    if (!x)
        return;
    x->value = (uint64_t)json_integer_value(json_array_get(e, 1));
    x->version = (uint64_t)json_integer_value(json_array_get(e, 2));
    x->ts_ns = (int64_t)json_integer_value(json_array_get(e, 3));
    snprintf(x->origin, sizeof(x->origin), "%s", json_string_value(json_array_get(e, 4)) ?: "");
    x->deleted = json_is_true(json_array_get(e, 5));
    x->first_value = (uint64_t)json_integer_value(json_array_get(e, 6));
    json_array_foreach(els, i, v)
    {
        if (rs_entry_add_elem(x, (uint64_t)json_integer_value(v)) < 0)
            break;
    }
    x->first_elem = (uint64_t)json_integer_value(json_array_get(e, 8)) ?: x->first_elem;
}

/*
 * Replace the store with a snapshot of p. Only a snapshot of the write
 * region this replica follows, at its epoch, is taken: a replica never
 * resyncs from a store that is not the write region's. Replication into this
 * replica is refused while the resync is pending (the sender keeps it
 * queued), so nothing applied between the snapshot and the load is lost.
 */
static void resync(struct rs_replica *r, struct peer *p, CURL *c)
{
    struct http_resp resp;
    char url[RS_URL_MAX + 64];
    json_t *o = NULL, *ents, *e;
    const char *src_wr;
    uint64_t src_epoch;
    size_t i;

    snprintf(url, sizeof(url), "%s/v1/internal/snapshot", p->a.url);
    http_call(c, url, NULL, 5000 * MS, 0, &resp);
    if (resp.rc == CURLE_OK && resp.status == 200)
        o = json_loads(resp.body.p ? resp.body.p : "", 0, NULL);
    fl_buf_free(&resp.body);
    ents = json_object_get(o, "entries");
    src_wr = json_string_value(json_object_get(o, "write_region"));
    src_epoch = (uint64_t)json_integer_value(json_object_get(o, "epoch"));
    pthread_mutex_lock(&r->mu);
    if (json_is_array(ents) && r->resync_peer == p->idx) {
        if (!src_wr || strcmp(src_wr, p->a.region) != 0 || strcmp(src_wr, r->write_region) != 0 ||
            src_epoch != r->epoch) {
            /* Not the write region we follow (any more): ask the right one. */
            struct peer *w = best_peer(r, r->write_region);

            r->resync_peer = strcmp(r->write_region, r->region) != 0 && w ? w->idx : -1;
        } else {
            rs_store_clear(&r->store);
            json_array_foreach(ents, i, e)
            {
                load_entry(r, e);
            }
            r->resync_peer = -1;
            event_add(r, "resync", fl_now_ns(), "from=%s keys=%zu", p->a.name,
                      json_array_size(ents));
            recompute_current(r, fl_now_ns());
        }
    }
    pthread_mutex_unlock(&r->mu);
    json_decref(o);
}

static void *hb_main(void *arg)
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
        req = hb_json(r, p, t0);
        pthread_mutex_unlock(&r->mu);
        body = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        http_call(c, url, body, timeout, 0, &resp);
        free(body);
        if (resp.rc == CURLE_OK && resp.status == 200)
            rep = json_loads(resp.body.p ? resp.body.p : "", 0, NULL);
        fl_buf_free(&resp.body);
        now = fl_now_ns();
        pthread_mutex_lock(&r->mu);
        if (rep) {
            contact(r, p, now);
            peer_view(p, rep);
            peer_state(r, rep, p->a.region, true, now);
            recompute_current(r, now);
        }
        do_resync = r->resync_peer == p->idx && rep != NULL;
        pthread_mutex_unlock(&r->mu);
        json_decref(rep);
        if (do_resync)
            resync(r, p, c);
        now = fl_now_ns();
        if (now - t0 < r->c.heartbeat_ns)
            sleep_ns(r->c.heartbeat_ns - (now - t0));
    }
    curl_easy_cleanup(c);
    return NULL;
}

static json_t *repl_entry_json(const struct rs_repl *e)
{
    return json_pack("[s, I, I, I, s, b, b]", e->key, (json_int_t)e->value, (json_int_t)e->version,
                     (json_int_t)e->ts_ns, e->origin, e->deleted, e->set_add);
}

static void *repl_main(void *arg)
{
    struct peer *p = arg;
    struct rs_replica *r = p->r;
    CURL *c = curl_easy_init();
    char url[RS_URL_MAX + 64];

    snprintf(url, sizeof(url), "%s/v1/internal/replicate", p->a.url);
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        struct http_resp resp;
        json_t *req, *ents, *rep;
        int64_t now = fl_now_ns();
        /* A handover sends everything at once: the new write region must have it all. */
        int64_t lag = r->handing_over ? 0 : p->lag_ns;
        size_t n = 0, i;
        uint64_t last = 0;
        char *body;

        /* Writes fenced by a demotion are never sent. */
        while (qlen(p) > 0 && p->q[p->qhead].seq <= r->drop_upto_seq) {
            p->acked_seq = p->q[p->qhead].seq;
            p->qhead++;
        }
        if (qlen(p) == 0) {
            wait_until(&p->cv, &r->mu, now + 200 * MS);
            continue;
        }
        if (p->q[p->qhead].enq_ns + lag > now) {
            wait_until(&p->cv, &r->mu, p->q[p->qhead].enq_ns + lag);
            continue;
        }
        ents = json_array();
        for (i = p->qhead; i < p->qtail && n < BATCH_MAX; i++, n++) {
            if (p->q[i].enq_ns + lag > now)
                break;
            json_array_append_new(ents, repl_entry_json(&p->q[i]));
            last = p->q[i].seq;
        }
        req = json_pack("{s:s, s:s, s:s, s:I, s:b, s:b, s:I, s:o}", "from", r->id, "region",
                        r->region, "write_region", r->write_region, "epoch", (json_int_t)r->epoch,
                        "handover", r->handover_epoch, "reclaim", r->reclaim_epoch, "epoch_writes",
                        (json_int_t)r->epoch_writes, "entries", ents);
        pthread_mutex_unlock(&r->mu);
        body = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        http_call(c, url, body, 1000 * MS, 0, &resp);
        free(body);
        rep = NULL;
        if (resp.rc == CURLE_OK && (resp.status == 200 || resp.status == 409))
            rep = json_loads(resp.body.p ? resp.body.p : "", 0, NULL);
        fl_buf_free(&resp.body);
        pthread_mutex_lock(&r->mu);
        now = fl_now_ns();
        if (rep && resp.status == 200) {
            contact(r, p, now);
            /* Only entries still at the head were sent (a demotion may have fenced some). */
            while (qlen(p) > 0 && p->q[p->qhead].seq <= last) {
                p->acked_seq = p->q[p->qhead].seq;
                p->qhead++;
            }
            pthread_cond_broadcast(&r->cv);
        } else if (rep) {
            contact(r, p, now);
            peer_state(r, rep, p->a.region, true, now);
        } else {
            int64_t back = r->c.heartbeat_ns < 100 * MS ? r->c.heartbeat_ns : 100 * MS;

            wait_until(&p->cv, &r->mu, now + back);
        }
        json_decref(rep);
    }
    pthread_mutex_unlock(&r->mu);
    curl_easy_cleanup(c);
    return NULL;
}

/* ---------- failover / failback ---------- */

/* Failover: this region takes the write role of a lost write region. */
static void promote(struct rs_replica *r, int64_t now)
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
    event_add(r, "failover", now, "write_region=%s epoch=%" PRIu64, r->region, r->epoch);
}

static void tick_key_vault(struct rs_replica *r, int64_t now)
{
    bool exists;
    int64_t last;

    if (strcmp(r->region, r->c.primary) == 0)
        return;
    last = region_last_seen(r, r->c.primary, &exists);
    if (!exists)
        return;
    if (!r->read_only && now - last > detect_ns(r)) {
        r->read_only = true;
        r->failover_at_ns = now;
        r->failovers++;
        event_add(r, "failover", now, "primary=%s unreachable; read-only", r->c.primary);
    } else if (r->read_only && now - last <= recent_ns(r) && !(r->c.bugs & RS_BUG_NO_FAILBACK)) {
        r->read_only = false;
        r->failback_at_ns = now;
        r->failbacks++;
        event_add(r, "failback", now, "primary=%s reachable; read-write", r->c.primary);
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

        if (strcmp(p->a.region, region) == 0 && now - p->last_seen_ns <= detect_ns(r) &&
            p->current && p->epoch == r->epoch && strcmp(p->wr, r->write_region) == 0)
            return true;
    }
    return false;
}

/* Is our queue to p no further behind than the replication lag? */
static bool queue_steady(const struct rs_replica *r, const struct peer *p, int64_t now)
{
    return behind_ns(r, p, now) <= p->lag_ns + behind_slack_ns(r);
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

        if (strcmp(p->a.region, region) != 0 || now - p->last_seen_ns > recent_ns(r))
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

        if (strcmp(p->a.region, region) != 0 || now - p->last_seen_ns > recent_ns(r))
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
        wait_until(&r->cv, &r->mu, deadline);
        now = fl_now_ns();
    }
    if (r->stop || strcmp(r->write_region, r->region) != 0 || !drained(r, dst, upto, now)) {
        r->handing_over = false;
        r->handover_retry_ns = now + r->c.failover_after_ns;
        event_add(r, "handover-abort", now, "to=%s", dst);
        pthread_cond_broadcast(&r->cv);
        return;
    }
    snprintf(r->write_region, sizeof(r->write_region), "%s", dst);
    r->epoch++;
    r->handover_epoch = true;
    r->reclaim_epoch = false;
    r->current = true;
    event_add(r, "handover", now, "write_region=%s epoch=%" PRIu64 " acked_seq=%" PRIu64, dst,
              r->epoch, upto);
    hb = hb_json(r, NULL, now);
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

        http_call(c, urls[i], body, timeout, 0, &resp);
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
static bool hears_majority(const struct rs_replica *r, int64_t now)
{
    char seen[RS_MAX_PEERS + 1][RS_NAME_MAX];
    bool alive[RS_MAX_PEERS + 1];
    int i, j, n = 1, up = 1;

    snprintf(seen[0], RS_NAME_MAX, "%s", r->region);
    alive[0] = true;
    for (i = 0; i < r->npeers; i++) {
        const struct peer *p = &r->peers[i];
        bool a = now - p->last_seen_ns <= recent_ns(r);

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
    wlast = region_last_seen(r, r->write_region, &exists);
    if (!exists || now - wlast <= detect_ns(r))
        return;
    /*
     * A replica that has not caught up with the write region never takes its
     * role, nor does one that hears only a minority of the regions.
     */
    if (!r->current || !hears_majority(r, now))
        return;
    /* The write region is lost: the first caught-up live region in priority order takes over. */
    for (i = 0; i < r->c.npriority; i++) {
        const char *reg = r->c.priority[i];

        if (strcmp(reg, r->region) == 0) {
            promote(r, now);
            return;
        }
        if (strcmp(reg, r->write_region) == 0)
            continue;
        if (region_eligible(r, reg, now))
            return; /* a higher-priority caught-up region will take over */
    }
}

static void *mon_main(void *arg)
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
        wait_until(&r->cv, &r->mu, now + step);
    }
    pthread_mutex_unlock(&r->mu);
    curl_easy_cleanup(c);
    return NULL;
}

/* ---------- lifecycle ---------- */

struct rs_replica *rs_replica_new(const struct rs_config *c, const char *id, const char *region,
                                  const char *zone, const struct rs_peer_addr *peers, int npeers,
                                  struct fl_err *err)
{
    struct rs_replica *r;
    pthread_condattr_t ca;
    int i;

    if (npeers > RS_MAX_PEERS) {
        fl_errf(err, -E2BIG, "at most %d peers", RS_MAX_PEERS);
        return NULL;
    }
    r = calloc(1, sizeof(*r));
    if (!r || rs_store_init(&r->store) < 0) {
        free(r);
        fl_errf(err, -ENOMEM, "out of memory");
        return NULL;
    }
    r->c = *c;
    snprintf(r->id, sizeof(r->id), "%s", id);
    snprintf(r->region, sizeof(r->region), "%s", region);
    snprintf(r->zone, sizeof(r->zone), "%s", zone);
    snprintf(r->write_region, sizeof(r->write_region), "%s", c->primary);
    r->resync_peer = -1;
    r->current = true; /* every store starts empty at epoch 0 */
    r->started_ns = fl_now_ns();
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    r->npeers = npeers;
    for (i = 0; i < npeers; i++) {
        struct peer *p = &r->peers[i];
        bool same = strcmp(peers[i].region, region) == 0;
        bool required;

        p->a = peers[i];
        p->r = r;
        p->idx = i;
        pthread_cond_init(&p->cv, &ca);
        p->last_seen_ns = p->up_since_ns = r->started_ns;
        if (c->preset == RS_KEY_VAULT)
            required = c->sync;
        else if (same)
            required = (c->zone_redundant && !(c->bugs & RS_BUG_ZONE_QUORUM)) || c->sync;
        else
            required = c->consistency == RS_STRONG || c->sync;
        p->lag_ns = required ? 0 : c->lag_ns;
    }
    pthread_condattr_destroy(&ca);
    return r;
}

int rs_replica_start(struct rs_replica *r, struct fl_err *err)
{
    int i;

    for (i = 0; i < r->npeers; i++) {
        struct peer *p = &r->peers[i];

        if (pthread_create(&p->hb_thr, NULL, hb_main, p) != 0)
            return fl_errf(err, -EAGAIN, "cannot start heartbeat thread");
        p->hb_started = true;
        if (pthread_create(&p->repl_thr, NULL, repl_main, p) != 0)
            return fl_errf(err, -EAGAIN, "cannot start replication thread");
        p->repl_started = true;
    }
    if (pthread_create(&r->mon_thr, NULL, mon_main, r) != 0)
        return fl_errf(err, -EAGAIN, "cannot start monitor thread");
    r->mon_started = true;
    return 0;
}

void rs_replica_free(struct rs_replica *r)
{
    int i;

    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->cv);
    for (i = 0; i < r->npeers; i++)
        pthread_cond_broadcast(&r->peers[i].cv);
    pthread_mutex_unlock(&r->mu);
    if (r->mon_started)
        pthread_join(r->mon_thr, NULL);
    for (i = 0; i < r->npeers; i++) {
        struct peer *p = &r->peers[i];

        if (p->hb_started)
            pthread_join(p->hb_thr, NULL);
        if (p->repl_started)
            pthread_join(p->repl_thr, NULL);
        pthread_cond_destroy(&p->cv);
        free(p->q);
    }
    rs_store_free(&r->store);
    free(r->conf);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

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
    p = best_peer(r, region);
    if (p)
        snprintf(url, sizeof(url), "%s/v1/op", p->a.url);
    pthread_mutex_unlock(&r->mu);
    if (!p) {
        refuse(res, 503, "no_route", "no replica of region %s is known", region);
        return;
    }
    c = fwd_handle();
    if (!c) {
        refuse(res, 500, "internal", "out of memory");
        return;
    }
    http_call(c, url, raw, r->c.forward_timeout_ns, hops, &resp);
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

        if (strcmp(p->a.region, r->region) == 0 || now - p->last_seen_ns > detect_ns(r))
            continue;
        if (qlen(p) >= r->c.bounded_versions)
            return false;
        if (qlen(p) > 0 && now - p->q[p->qhead].enq_ns >= r->c.bounded_ns)
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
            wait_until(&r->cv, &r->mu, deadline);
            now = fl_now_ns();
        }
        if (!bound_ok(r, now)) {
            refuse(res, 429, "bounded_staleness",
                   "%s refused: a region is more than the staleness bound behind", d->name);
            return;
        }
        if (is_cosmos_single(r) && (r->handing_over || strcmp(r->write_region, r->region) != 0)) {
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
        if (enqueue(&r->peers[i], &q) < 0) {
            refuse(res, 500, "internal", "out of memory");
            return;
        }
        pthread_cond_signal(&r->peers[i].cv);
    }
    while (!acks_ok(r, q.seq, now) && now < deadline && !r->stop) {
        wait_until(&r->cv, &r->mu, deadline);
        now = fl_now_ns();
    }
    if (q.seq <= r->drop_upto_seq && is_cosmos_single(r) &&
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

    if (!is_cosmos_single(r) || strcmp(r->write_region, r->region) == 0 ||
        (r->c.bugs & RS_BUG_OFFLINE_SERVES))
        return false;
    wlast = region_last_seen(r, r->write_region, &exists);
    return exists && now - wlast > r->c.failover_after_ns && !hears_majority(r, now);
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
    wlast = region_last_seen(r, r->write_region, &exists);
    if (exists && now - wlast <= recent_ns(r) && r->current)
        return;
    if (r->c.bugs & RS_BUG_MANUAL_FAILOVER) {
        promote(r, now);
        event_add(r, "manual-failover", now, "write region %s unreachable; promoted anyway",
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
            wait_until(&r->cv, &r->mu, deadline);
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
    } else if (is_cosmos_single(r) && d->write && strcmp(r->write_region, r->region) != 0) {
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

/* ---------- internal endpoints ---------- */

json_t *rs_replica_heartbeat(struct rs_replica *r, json_t *req, int *status)
{
    struct peer *p;
    json_t *rep;
    int64_t now = fl_now_ns();

    pthread_mutex_lock(&r->mu);
    p = peer_by_id(r, json_string_value(json_object_get(req, "id")));
    if (p) {
        contact(r, p, now);
        peer_view(p, req);
    }
    peer_state(r, req, p ? p->a.region : NULL, false, now);
    recompute_current(r, now);
    rep = hb_json(r, p, now);
    pthread_mutex_unlock(&r->mu);
    *status = 200;
    return rep;
}

json_t *rs_replica_replicate(struct rs_replica *r, json_t *req, int *status)
{
    json_t *ents = json_object_get(req, "entries"), *e, *rep;
    uint64_t epoch = (uint64_t)json_integer_value(json_object_get(req, "epoch"));
    struct peer *p;
    int64_t now = fl_now_ns();
    size_t i, applied = 0;

    if (!json_is_array(ents)) {
        *status = 400;
        return json_pack("{s:s, s:s}", "error", "entries: expected a list", "code", "bad_request");
    }
    pthread_mutex_lock(&r->mu);
    p = peer_by_id(r, json_string_value(json_object_get(req, "from")));
    if (p)
        contact(r, p, now);
    peer_state(r, req, p ? p->a.region : NULL, false, now);
    if (is_cosmos_single(r) && epoch < r->epoch) {
        /* A stale write region: its writes go to its conflict feed, not here. */
        rep = json_pack("{s:s, s:s, s:s, s:s, s:I, s:b, s:b, s:I}", "error", "stale epoch", "code",
                        "stale_epoch", "region", r->region, "write_region", r->write_region,
                        "epoch", (json_int_t)r->epoch, "handover", r->handover_epoch, "reclaim",
                        r->reclaim_epoch, "epoch_writes", (json_int_t)r->epoch_writes);
        pthread_mutex_unlock(&r->mu);
        *status = 409;
        return rep;
    }
    if (r->resync_peer >= 0 || (is_cosmos_single(r) && epoch > r->epoch)) {
        /*
         * Resyncing, or a newer epoch not adopted yet (decided by this replica's
         * own next exchange with the sender's region): the sender keeps these
         * queued and sends them again.
         */
        pthread_mutex_unlock(&r->mu);
        *status = 503;
        return json_pack("{s:s, s:s}", "error",
                         r->resync_peer >= 0 ? "resyncing from the write region"
                                             : "newer epoch not adopted yet",
                         "code", r->resync_peer >= 0 ? "resyncing" : "not_ready");
    }
    json_array_foreach(ents, i, e)
    {
        const char *key = json_string_value(json_array_get(e, 0));
        const char *origin = json_string_value(json_array_get(e, 4));
        int64_t ts = (int64_t)json_integer_value(json_array_get(e, 3));
        struct rs_entry *x;

        if (!key || !origin || strlen(key) >= RS_KEY_MAX)
            continue;
        x = rs_store_upsert(&r->store, key);
        if (!x)
            break;
        if (json_is_true(json_array_get(e, 6))) {
            /* set model: adding an element commutes; no last-writer-wins */
            if (rs_entry_add_elem(x, (uint64_t)json_integer_value(json_array_get(e, 1))) > 0)
                applied++;
            continue;
        }
        if (x->version != 0 &&
            (ts < x->ts_ns || (ts == x->ts_ns && strcmp(origin, x->origin) <= 0)))
            continue; /* last writer wins */
        x->value = (uint64_t)json_integer_value(json_array_get(e, 1));
        x->version = (uint64_t)json_integer_value(json_array_get(e, 2));
        x->ts_ns = ts;
        snprintf(x->origin, sizeof(x->origin), "%s", origin);
        x->deleted = json_is_true(json_array_get(e, 5));
        if (x->first_value == 0)
            x->first_value = x->value;
        applied++;
    }
    pthread_mutex_unlock(&r->mu);
    *status = 200;
    return json_pack("{s:b, s:I}", "ok", 1, "applied", (json_int_t)applied);
}

json_t *rs_replica_snapshot(struct rs_replica *r)
{
    json_t *ents = json_array(), *o;
    size_t i;

    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->store.nb; i++) {
        struct rs_entry *e = r->store.b[i];

        for (; e; e = e->next) {
            json_t *els = json_array();
            size_t j;

            for (j = 0; j < e->nelems; j++)
                json_array_append_new(els, json_integer((json_int_t)e->elems[j]));
            json_array_append_new(
                ents, json_pack("[s, I, I, I, s, b, I, o, I]", e->key, (json_int_t)e->value,
                                (json_int_t)e->version, (json_int_t)e->ts_ns, e->origin, e->deleted,
                                (json_int_t)e->first_value, els, (json_int_t)e->first_elem));
        }
    }
    o = json_pack("{s:s, s:s, s:s, s:I, s:b, s:o}", "id", r->id, "region", r->region,
                  "write_region", r->write_region, "epoch", (json_int_t)r->epoch, "current",
                  r->current, "entries", ents);
    pthread_mutex_unlock(&r->mu);
    return o;
}

/*
 * Is a role change or a catch-up still to come? A cosmos single-write
 * replica that has not caught up, one a peer disagrees with on the write
 * region, a write region handing over, or one that will hand over to a
 * higher-priority region it hears. Lock held.
 */
static bool converging(const struct rs_replica *r, int64_t now)
{
    int i, j;

    if (!is_cosmos_single(r))
        return false;
    if (!r->current || r->handing_over)
        return true;
    for (j = 0; j < r->npeers; j++)
        if (now - r->peers[j].last_seen_ns <= recent_ns(r) && r->peers[j].wr[0] &&
            (r->peers[j].epoch != r->epoch || strcmp(r->peers[j].wr, r->write_region) != 0))
            return true; /* a peer heard lately sees another write region */
    if (strcmp(r->write_region, r->region) != 0 || !r->c.auto_failback ||
        (r->c.bugs & RS_BUG_NO_FAILBACK))
        return false;
    for (i = 0; i < r->c.npriority && strcmp(r->c.priority[i], r->region) != 0; i++)
        for (j = 0; j < r->npeers; j++)
            if (strcmp(r->peers[j].a.region, r->c.priority[i]) == 0 &&
                now - r->peers[j].last_seen_ns <= recent_ns(r))
                return true;
    return false;
}

static const char *role(const struct rs_replica *r)
{
    if (r->c.preset == RS_KEY_VAULT)
        return strcmp(r->region, r->c.primary) == 0 ? "primary" : "secondary";
    if (r->c.multi_write || strcmp(r->write_region, r->region) == 0)
        return "write";
    return "read";
}

json_t *rs_replica_status(struct rs_replica *r)
{
    json_t *o, *peers = json_array(), *ev = json_array(), *bugs = json_array();
    int64_t now = fl_now_ns();
    int i;

    pthread_mutex_lock(&r->mu);
    for (i = 0; i < FL_REFSTORE_NBUGS; i++)
        if (r->c.bugs & (1u << i))
            json_array_append_new(bugs, json_string(fl_refstore_bugs[i]));
    for (i = 0; i < r->npeers; i++) {
        struct peer *p = &r->peers[i];

        json_array_append_new(
            peers, json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I}", "name", p->a.name,
                             "region", p->a.region, "zone", p->a.zone, "url", p->a.url, "alive",
                             now - p->last_seen_ns <= recent_ns(r), "last_seen_ns",
                             (json_int_t)p->last_seen_ns, "pending", (json_int_t)qlen(p),
                             "acked_seq", (json_int_t)p->acked_seq));
    }
    for (i = 0; i < r->nev; i++)
        json_array_append_new(ev, json_pack("{s:s, s:I, s:s}", "event", r->ev[i].what, "at_ns",
                                            (json_int_t)r->ev[i].at_ns, "detail", r->ev[i].detail));
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:I, s:I, s:I, s:i, s:i, s:I, "
                  "s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o}",
                  "id", r->id, "region", r->region, "zone", r->zone, "preset",
                  rs_preset_name(r->c.preset), "consistency", rs_consistency_name(r->c.consistency),
                  "writes", r->c.multi_write ? "multi" : "single", "role", role(r), "read_only",
                  r->read_only, "write_region", r->write_region, "epoch", (json_int_t)r->epoch,
                  "failover_at_ns", (json_int_t)r->failover_at_ns, "failback_at_ns",
                  (json_int_t)r->failback_at_ns, "failovers", r->failovers, "failbacks",
                  r->failbacks, "started_ns", (json_int_t)r->started_ns, "now_ns", (json_int_t)now,
                  "keys", (json_int_t)rs_store_live(&r->store), "conflicts", (json_int_t)r->nconf,
                  "writes_accepted", (json_int_t)r->writes_seen, "lost_writes",
                  (json_int_t)r->lost_writes, "bugs", bugs, "peers", peers, "events", ev);
    json_object_set_new(o, "current", json_boolean(r->current));
    json_object_set_new(o, "handing_over", json_boolean(r->handing_over));
    json_object_set_new(o, "converging", json_boolean(converging(r, now)));
    pthread_mutex_unlock(&r->mu);
    return o;
}

json_t *rs_replica_conflicts(struct rs_replica *r)
{
    json_t *a = json_array();
    size_t i;

    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->nconf; i++) {
        const struct rs_conflict *c = &r->conf[i];

        json_array_append_new(a, json_pack("{s:s, s:I, s:I, s:I, s:s, s:b, s:I}", "key", c->e.key,
                                           "value", (json_int_t)c->e.value, "version",
                                           (json_int_t)c->e.version, "ts_ns",
                                           (json_int_t)c->e.ts_ns, "origin", c->e.origin, "deleted",
                                           c->e.deleted, "at_ns", (json_int_t)c->at_ns));
    }
    pthread_mutex_unlock(&r->mu);
    return json_pack("{s:s, s:o}", "region", r->region, "conflicts", a);
}
