/*
 * Private to the refstore replica files. One refstore replica: the data, replication to its peers,
 * failure detection, failover/failback and the preset semantics (key-vault read-only secondary;
 * cosmos consistency levels, single/multi-write, priority-ordered automatic failover, conflict
 * feed, zone quorum), the client operations (register writes and reads, set-model adds and reads,
 * compare-and-set), and the bug switches.
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
 *
 * Files: replica.c (lifecycle, shared helpers, status), peers.c (contact,
 * heartbeats, peer state), replicate.c (queues, sending, applying, conflict
 * feed), resync.c (snapshots), failover.c (detection, promotion, handover and
 * failback, monitor thread), ops.c (client operations). Functions declared
 * here are shared between those files only; "lock held" means r->mu.
 */
#ifndef FAULTLINE_REFSTORE_REPLICA_INT_H
#define FAULTLINE_REFSTORE_REPLICA_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>

#include "faultline/buf.h"
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

/* replica.c: libcurl helpers, small helpers (lock held), timed waits */
void rs_http_call(CURL *c, const char *url, const char *body, int64_t timeout_ns, int hops,
                  struct http_resp *resp);
CURL *rs_fwd_handle(void);
bool rs_is_cosmos_single(const struct rs_replica *r);
int rs_prio(const struct rs_replica *r, const char *region);
void rs_event_add(struct rs_replica *r, const char *what, int64_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int64_t rs_detect_ns(const struct rs_replica *r);
int64_t rs_recent_ns(const struct rs_replica *r);
int64_t rs_region_last_seen(const struct rs_replica *r, const char *region, bool *exists);
void rs_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline);
void rs_sleep_ns(int64_t ns);

/* peers.c */
void rs_contact(struct rs_replica *r, struct peer *p, int64_t now);
struct peer *rs_peer_by_id(struct rs_replica *r, const char *id);
struct peer *rs_best_peer(struct rs_replica *r, const char *region);
void rs_peer_state(struct rs_replica *r, json_t *o, const char *from_region, bool fresh,
                   int64_t now);
int64_t rs_behind_slack_ns(const struct rs_replica *r);
int64_t rs_behind_ns(const struct rs_replica *r, const struct peer *p, int64_t now);
void rs_recompute_current(struct rs_replica *r, int64_t now);
json_t *rs_hb_json(struct rs_replica *r, const struct peer *p, int64_t now);
void *rs_hb_main(void *arg);

/* replicate.c */
size_t rs_qlen(const struct peer *p);
int rs_enqueue(struct peer *p, const struct rs_repl *e);
void rs_conflict_add(struct rs_replica *r, const struct rs_repl *e, int64_t now);
void *rs_repl_main(void *arg);

/* resync.c */
void rs_resync(struct rs_replica *r, struct peer *p, CURL *c);

/* failover.c */
void rs_demote(struct rs_replica *r, const char *new_wr, int64_t now);
void rs_promote(struct rs_replica *r, int64_t now);
bool rs_hears_majority(const struct rs_replica *r, int64_t now);
void *rs_mon_main(void *arg);

#endif
