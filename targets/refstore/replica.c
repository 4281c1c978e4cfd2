/*
 * One refstore replica: the data, replication to its peers, failure
 * detection, failover/failback and the preset semantics (key-vault read-only
 * secondary; cosmos consistency levels, single/multi-write, priority-ordered
 * automatic failover, conflict feed, zone quorum), and the bug switches.
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
#include "faultline/log.h"
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
    int resync_peer; /* peer to fetch a snapshot from, -1 none */
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

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    struct fl_buf *b = arg;

    return fl_buf_add(b, p, sz * n) == 0 ? sz * n : 0;
}

/* One request on handle c; body NULL means GET. resp->body must be freed. */
static void http_call(CURL *c, const char *url, const char *body, int64_t timeout_ns,
                      bool forwarded, struct http_resp *resp)
{
    struct curl_slist *h = NULL;
    long ms = (long)(timeout_ns / MS);
    curl_off_t reqsz = 0;

    if (ms < 1)
        ms = 1;
    fl_buf_init(&resp->body, 64 << 20);
    resp->status = 0;
    resp->sent = false;
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    if (forwarded)
        h = curl_slist_append(h, "X-Refstore-Forwarded: 1");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp->body);
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
    event_add(r, "demote", now, "new_write_region=%s epoch=%" PRIu64 " conflicts=%zu", new_wr,
              r->epoch, n);
    for (i = 0; i < (size_t)r->npeers; i++)
        pthread_cond_signal(&r->peers[i].cv);
    pthread_cond_broadcast(&r->cv);
}

/* A peer told us its view of (write region, epoch): adopt a newer one. */
static void peer_state(struct rs_replica *r, const char *wr, uint64_t epoch, int64_t now)
{
    bool was;

    if (!is_cosmos_single(r) || !wr || !wr[0])
        return;
    if (epoch < r->epoch)
        return;
    if (epoch == r->epoch &&
        (strcmp(wr, r->write_region) == 0 || prio(r, wr) >= prio(r, r->write_region)))
        return;
    was = strcmp(r->write_region, r->region) == 0;
    snprintf(r->write_region, sizeof(r->write_region), "%s", wr);
    r->epoch = epoch;
    event_add(r, "adopt", now, "write_region=%s epoch=%" PRIu64, wr, epoch);
    if (was && strcmp(wr, r->region) != 0)
        demote(r, wr, now);
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

static void resync(struct rs_replica *r, struct peer *p, CURL *c)
{
    struct http_resp resp;
    char url[RS_URL_MAX + 64];
    json_t *o = NULL, *ents, *e;
    size_t i;

    snprintf(url, sizeof(url), "%s/v1/internal/snapshot", p->a.url);
    http_call(c, url, NULL, 5000 * MS, false, &resp);
    if (resp.rc == CURLE_OK && resp.status == 200)
        o = json_loads(resp.body.p ? resp.body.p : "", 0, NULL);
    fl_buf_free(&resp.body);
    ents = json_object_get(o, "entries");
    pthread_mutex_lock(&r->mu);
    if (json_is_array(ents)) {
        rs_store_clear(&r->store);
        json_array_foreach(ents, i, e)
        {
            struct rs_entry *x =
                rs_store_upsert(&r->store, json_string_value(json_array_get(e, 0)) ?: "");

            if (!x)
                continue;
            x->value = (uint64_t)json_integer_value(json_array_get(e, 1));
            x->version = (uint64_t)json_integer_value(json_array_get(e, 2));
            x->ts_ns = (int64_t)json_integer_value(json_array_get(e, 3));
            snprintf(x->origin, sizeof(x->origin), "%s",
                     json_string_value(json_array_get(e, 4)) ?: "");
            x->deleted = json_is_true(json_array_get(e, 5));
            x->first_value = (uint64_t)json_integer_value(json_array_get(e, 6));
        }
        r->resync_peer = -1;
        event_add(r, "resync", fl_now_ns(), "from=%s keys=%zu", p->a.name, json_array_size(ents));
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
        req =
            json_pack("{s:s, s:s, s:s, s:I, s:b}", "id", r->id, "region", r->region, "write_region",
                      r->write_region, "epoch", (json_int_t)r->epoch, "read_only", r->read_only);
        pthread_mutex_unlock(&r->mu);
        body = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        http_call(c, url, body, timeout, false, &resp);
        free(body);
        if (resp.rc == CURLE_OK && resp.status == 200)
            rep = json_loads(resp.body.p ? resp.body.p : "", 0, NULL);
        fl_buf_free(&resp.body);
        now = fl_now_ns();
        pthread_mutex_lock(&r->mu);
        if (rep) {
            contact(r, p, now);
            p->pending_to_me = (long long)json_integer_value(json_object_get(rep, "pending"));
            peer_state(r, json_string_value(json_object_get(rep, "write_region")),
                       (uint64_t)json_integer_value(json_object_get(rep, "epoch")), now);
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
    return json_pack("[s, I, I, I, s, b]", e->key, (json_int_t)e->value, (json_int_t)e->version,
                     (json_int_t)e->ts_ns, e->origin, e->deleted);
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
        if (p->q[p->qhead].enq_ns + p->lag_ns > now) {
            wait_until(&p->cv, &r->mu, p->q[p->qhead].enq_ns + p->lag_ns);
            continue;
        }
        ents = json_array();
        for (i = p->qhead; i < p->qtail && n < BATCH_MAX; i++, n++) {
            if (p->q[i].enq_ns + p->lag_ns > now)
                break;
            json_array_append_new(ents, repl_entry_json(&p->q[i]));
            last = p->q[i].seq;
        }
        req = json_pack("{s:s, s:s, s:s, s:I, s:o}", "from", r->id, "region", r->region,
                        "write_region", r->write_region, "epoch", (json_int_t)r->epoch, "entries",
                        ents);
        pthread_mutex_unlock(&r->mu);
        body = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        http_call(c, url, body, 1000 * MS, false, &resp);
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
            peer_state(r, json_string_value(json_object_get(rep, "write_region")),
                       (uint64_t)json_integer_value(json_object_get(rep, "epoch")), now);
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

static void promote(struct rs_replica *r, int64_t now, bool failback)
{
    snprintf(r->write_region, sizeof(r->write_region), "%s", r->region);
    r->epoch++;
    if (failback) {
        r->failback_at_ns = now;
        r->failbacks++;
        event_add(r, "failback", now, "write_region=%s epoch=%" PRIu64, r->region, r->epoch);
    } else {
        r->failover_at_ns = now;
        r->failovers++;
        event_add(r, "failover", now, "write_region=%s epoch=%" PRIu64, r->region, r->epoch);
    }
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

static void tick_cosmos(struct rs_replica *r, int64_t now)
{
    bool exists;
    int64_t wlast;
    int i;

    if (r->c.multi_write || !r->c.auto_failover || strcmp(r->write_region, r->region) == 0)
        return;
    wlast = region_last_seen(r, r->write_region, &exists);
    if (!exists)
        return;
    if (now - wlast > detect_ns(r)) {
        /* The write region is lost: the first live region in priority order takes over. */
        for (i = 0; i < r->c.npriority; i++) {
            const char *reg = r->c.priority[i];
            bool ex;
            int64_t l;

            if (strcmp(reg, r->region) == 0) {
                promote(r, now, false);
                return;
            }
            if (strcmp(reg, r->write_region) == 0)
                continue;
            l = region_last_seen(r, reg, &ex);
            if (ex && now - l <= detect_ns(r))
                return; /* a higher-priority live region will take over */
        }
        return;
    }
    /* Failback: a higher-priority region takes the writes back once it has caught up. */
    if (r->c.auto_failback && !(r->c.bugs & RS_BUG_NO_FAILBACK) &&
        prio(r, r->region) < prio(r, r->write_region) && r->resync_peer < 0) {
        struct peer *w = best_peer(r, r->write_region);

        if (w && now - w->last_seen_ns <= recent_ns(r) &&
            now - w->up_since_ns >= r->c.failover_after_ns && w->pending_to_me == 0)
            promote(r, now, true);
    }
}

static void *mon_main(void *arg)
{
    struct rs_replica *r = arg;
    int64_t step = r->c.heartbeat_ns / 2;

    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        int64_t now = fl_now_ns();

        if (r->c.preset == RS_KEY_VAULT)
            tick_key_vault(r, now);
        else
            tick_cosmos(r, now);
        wait_until(&r->cv, &r->mu, now + step);
    }
    pthread_mutex_unlock(&r->mu);
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
            required = c->zone_redundant || c->sync;
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
                    struct rs_result *res)
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
    http_call(c, url, raw, r->c.forward_timeout_ns, true, &resp);
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
    if (r->c.preset == RS_COSMOS && r->c.zone_redundant && region_acked + 1 < region_n / 2 + 1)
        return false;
    return true;
}

static void apply_write(struct rs_replica *r, const struct rs_opdef *d, const char *key,
                        uint64_t value, struct rs_result *res)
{
    struct rs_entry *e;
    struct rs_repl q;
    int64_t now = fl_now_ns(), deadline = now + r->c.ack_timeout_ns;
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
    }
    r->writes_seen++;
    res->status = 200;
    res->has_value = d->kind != RS_K_DEL;
    res->value = d->kind == RS_K_DEL ? 0 : value;
    if ((r->c.bugs & RS_BUG_LOSE_ACKED) && r->writes_seen % (uint64_t)r->c.lose_every == 0) {
        r->lost_writes++; /* acknowledged, never stored nor replicated */
        return;
    }
    e = rs_store_upsert(&r->store, key);
    if (!e) {
        refuse(res, 500, "internal", "out of memory");
        return;
    }
    e->version++;
    e->ts_ns = now > e->ts_ns ? now : e->ts_ns + 1;
    snprintf(e->origin, sizeof(e->origin), "%s", r->region);
    e->deleted = d->kind == RS_K_DEL;
    e->value = e->deleted ? 0 : value;
    if (e->first_value == 0)
        e->first_value = e->value;
    res->version = e->version;
    memset(&q, 0, sizeof(q));
    snprintf(q.key, sizeof(q.key), "%s", key);
    q.value = e->value;
    q.version = e->version;
    q.ts_ns = e->ts_ns;
    snprintf(q.origin, sizeof(q.origin), "%s", e->origin);
    q.deleted = e->deleted;
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

static void read_local(struct rs_replica *r, const struct rs_opdef *d, const char *key,
                       uint64_t value, struct rs_result *res)
{
    struct rs_entry *e;

    res->status = 200;
    switch (d->kind) {
    case RS_K_GET:
        e = rs_store_get(&r->store, key);
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
        /* Simulated transform: result = value XOR key material (documented as simulated). */
        e = rs_store_get(&r->store, key);
        res->count = -1;
        res->version = e ? e->version : 0;
        (void)value;
        break;
    default:
        break;
    }
}

void rs_replica_op(struct rs_replica *r, const char *op, const char *key, uint64_t value,
                   bool forwarded, const char *raw_body, struct rs_result *res)
{
    const struct rs_opdef *d;
    int idx = 0;
    bool local = true;
    char target[RS_NAME_MAX] = "";
    const char *what = "";

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
         d->kind == RS_K_CRYPTO) &&
        (!key || !key[0] || strlen(key) >= RS_KEY_MAX)) {
        refuse(res, 400, "bad_request", "%s needs a key (1..%d bytes)", d->name, RS_KEY_MAX - 1);
        return;
    }
    if (d->kind == RS_K_PUT && value == 0) {
        refuse(res, 400, "bad_request", "%s needs a non-zero integer value", d->name);
        return;
    }
    pthread_mutex_lock(&r->mu);
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
    if (!local && forwarded) {
        refuse(res, 503, "not_primary", "%s: this replica does not serve writes (%s is %s)",
               d->name, what, target);
        goto out;
    }
    if (!local) {
        pthread_mutex_unlock(&r->mu);
        forward(r, target, raw_body, what, res);
        return;
    }
    if (d->write)
        apply_write(r, d, key, value, res);
    else
        read_local(r, d, key, value, res);
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
    if (p)
        contact(r, p, now);
    peer_state(r, json_string_value(json_object_get(req, "write_region")),
               (uint64_t)json_integer_value(json_object_get(req, "epoch")), now);
    rep = json_pack("{s:s, s:s, s:s, s:I, s:I, s:b}", "id", r->id, "region", r->region,
                    "write_region", r->write_region, "epoch", (json_int_t)r->epoch, "pending",
                    (json_int_t)(p ? qlen(p) : 0), "read_only", r->read_only);
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
    peer_state(r, json_string_value(json_object_get(req, "write_region")), epoch, now);
    if (is_cosmos_single(r) && epoch < r->epoch) {
        /* A stale write region: its writes go to its conflict feed, not here. */
        rep = json_pack("{s:s, s:s, s:s, s:I}", "error", "stale epoch", "code", "stale_epoch",
                        "write_region", r->write_region, "epoch", (json_int_t)r->epoch);
        pthread_mutex_unlock(&r->mu);
        *status = 409;
        return rep;
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

        for (; e; e = e->next)
            json_array_append_new(ents,
                                  json_pack("[s, I, I, I, s, b, I]", e->key, (json_int_t)e->value,
                                            (json_int_t)e->version, (json_int_t)e->ts_ns, e->origin,
                                            e->deleted, (json_int_t)e->first_value));
    }
    o = json_pack("{s:s, s:s, s:I, s:o}", "id", r->id, "region", r->region, "epoch",
                  (json_int_t)r->epoch, "entries", ents);
    pthread_mutex_unlock(&r->mu);
    return o;
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
    static const char *const bn[] = {"writes-in-read-only", "lose-acked-writes",
                                     "slow-failover",       "no-failback",
                                     "stale-reads",         "reads-refused-in-read-only"};

    pthread_mutex_lock(&r->mu);
    for (i = 0; i < 6; i++)
        if (r->c.bugs & (1u << i))
            json_array_append_new(bugs, json_string(bn[i]));
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
