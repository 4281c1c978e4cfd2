/*
 * One refstore replica: its lifecycle (create, start the threads, stop and
 * free), the state shared by the other replica files (small helpers, the
 * event log, timed waits, the libcurl client helpers) and the status and
 * conflict-feed endpoints. replica_int.h describes the threads, the lock and
 * how the files divide the work.
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

/* ---------- HTTP client helpers (libcurl) ---------- */

/* One request on handle c; body NULL means GET. resp->body must be freed. */
void rs_http_call(CURL *c, const char *url, const char *body, int64_t timeout_ns, int hops,
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
CURL *rs_fwd_handle(void)
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

bool rs_is_cosmos_single(const struct rs_replica *r)
{
    return r->c.preset == RS_COSMOS && !r->c.multi_write;
}

int rs_prio(const struct rs_replica *r, const char *region)
{
    int i;

    for (i = 0; i < r->c.npriority; i++)
        if (strcmp(r->c.priority[i], region) == 0)
            return i;
    return RS_MAX_REGIONS + 1;
}

void rs_event_add(struct rs_replica *r, const char *what, int64_t at, const char *fmt, ...)
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

int64_t rs_detect_ns(const struct rs_replica *r)
{
    int64_t d = r->c.failover_after_ns;

    if (r->c.bugs & RS_BUG_SLOW_FAILOVER)
        d *= r->c.slow_factor;
    return d;
}

/* Contact "recently": within three heartbeats, and sooner than failover_after. */
int64_t rs_recent_ns(const struct rs_replica *r)
{
    int64_t x = 3 * r->c.heartbeat_ns;

    if (x >= r->c.failover_after_ns)
        x = r->c.failover_after_ns / 2;
    return x;
}

int64_t rs_region_last_seen(const struct rs_replica *r, const char *region, bool *exists)
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

/* ---------- timed waits ---------- */

static void abstime(struct timespec *ts, int64_t mono_deadline)
{
    ts->tv_sec = (time_t)(mono_deadline / 1000000000LL);
    ts->tv_nsec = (long)(mono_deadline % 1000000000LL);
}

void rs_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline)
{
    struct timespec ts;

    abstime(&ts, deadline);
    pthread_cond_timedwait(cv, mu, &ts);
}

void rs_sleep_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
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

        if (pthread_create(&p->hb_thr, NULL, rs_hb_main, p) != 0)
            return fl_errf(err, -EAGAIN, "cannot start heartbeat thread");
        p->hb_started = true;
        if (pthread_create(&p->repl_thr, NULL, rs_repl_main, p) != 0)
            return fl_errf(err, -EAGAIN, "cannot start replication thread");
        p->repl_started = true;
    }
    if (pthread_create(&r->mon_thr, NULL, rs_mon_main, r) != 0)
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

/*
 * Is a role change or a catch-up still to come? A cosmos single-write
 * replica that has not caught up, one a peer disagrees with on the write
 * region, a write region handing over, or one that will hand over to a
 * higher-priority region it hears. Lock held.
 */
static bool converging(const struct rs_replica *r, int64_t now)
{
    int i, j;

    if (!rs_is_cosmos_single(r))
        return false;
    if (!r->current || r->handing_over)
        return true;
    for (j = 0; j < r->npeers; j++)
        if (now - r->peers[j].last_seen_ns <= rs_recent_ns(r) && r->peers[j].wr[0] &&
            (r->peers[j].epoch != r->epoch || strcmp(r->peers[j].wr, r->write_region) != 0))
            return true; /* a peer heard lately sees another write region */
    if (strcmp(r->write_region, r->region) != 0 || !r->c.auto_failback ||
        (r->c.bugs & RS_BUG_NO_FAILBACK))
        return false;
    for (i = 0; i < r->c.npriority && strcmp(r->c.priority[i], r->region) != 0; i++)
        for (j = 0; j < r->npeers; j++)
            if (strcmp(r->peers[j].a.region, r->c.priority[i]) == 0 &&
                now - r->peers[j].last_seen_ns <= rs_recent_ns(r))
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
                             now - p->last_seen_ns <= rs_recent_ns(r), "last_seen_ns",
                             (json_int_t)p->last_seen_ns, "pending", (json_int_t)rs_qlen(p),
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
