/*
 * faultline-refstore internals: one replica of the reference multi-region
 * service. config.c parses the target section and the operation tables,
 * store.c is the in-memory key map, the replica files (replica.c lifecycle
 * and status, peers.c heartbeats, replicate.c replication, resync.c
 * snapshots, failover.c failure detection and failover, ops.c client
 * operations; their private declarations are in replica_int.h) hold the
 * replica logic, http.c is the libmicrohttpd front end, main.c the command
 * line. Everything shared between them is declared here; nothing here is a
 * public API of faultline (the wire protocol is, see docs/refstore.md).
 */
#ifndef FAULTLINE_REFSTORE_H
#define FAULTLINE_REFSTORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "faultline/refstore_limits.h"

struct fl_err;

#define RS_NAME_MAX    64
#define RS_URL_MAX     256
#define RS_KEY_MAX     128
#define RS_MAX_PEERS   FL_REFSTORE_MAX_PEERS /* faultline/refstore_limits.h says why */
#define RS_MAX_REGIONS FL_REFSTORE_MAX_REGIONS
#define RS_MAX_OPS     48

enum rs_preset { RS_KEY_VAULT, RS_COSMOS };
enum rs_consistency { RS_STRONG, RS_BOUNDED, RS_SESSION, RS_PREFIX, RS_EVENTUAL };

/* Deliberate violations, each one a verifier must catch. */
enum rs_bug {
    RS_BUG_WRITES_IN_RO = 1u << 0,     /* writes accepted while read-only */
    RS_BUG_LOSE_ACKED = 1u << 1,       /* every Nth acknowledged write is dropped */
    RS_BUG_SLOW_FAILOVER = 1u << 2,    /* detection takes slow_factor x failover_after */
    RS_BUG_NO_FAILBACK = 1u << 3,      /* never leaves read-only / never hands back */
    RS_BUG_STALE_READS = 1u << 4,      /* reads return the first value ever written */
    RS_BUG_READS_REFUSED_RO = 1u << 5, /* read-only mode refuses reads too */
    RS_BUG_ZONE_QUORUM = 1u << 6,      /* zone_redundant: no zone majority, zone replicas lag */
    RS_BUG_OFFLINE_SERVES = 1u << 7,   /* a cut-off read region keeps serving reads */
    RS_BUG_BOUNDED_IGNORED = 1u << 8,  /* bounded: writes never held, the lag is unbounded */
    RS_BUG_MANUAL_FAILOVER = 1u << 9,  /* manual failover without the write region promotes */
};

enum rs_kind { RS_K_GET, RS_K_LIST, RS_K_PUT, RS_K_DEL, RS_K_CRYPTO, RS_K_META, RS_K_CAS,
               RS_K_ADMIN };

/* One client operation of a preset: its name, whether it writes, what it does. */
struct rs_opdef {
    const char *name;
    bool write;
    bool ro_ok; /* key-vault: served in read-only mode (the seed's list) */
    enum rs_kind kind;
};

struct rs_config {
    enum rs_preset preset;
    char primary[RS_NAME_MAX]; /* key-vault primary / cosmos first write region */
    bool sync;                 /* replication sync (wait for acks) or async */
    int64_t lag_ns;            /* async replication delay */
    int64_t failover_after_ns;
    int64_t heartbeat_ns;
    int64_t ack_timeout_ns;     /* how long a write waits for replica acks */
    int64_t forward_timeout_ns; /* secondary -> primary forwarding */
    enum rs_consistency consistency;
    uint64_t bounded_versions; /* K */
    int64_t bounded_ns;        /* T */
    bool multi_write;
    char priority[RS_MAX_REGIONS][RS_NAME_MAX];
    int npriority;
    bool auto_failover;
    bool auto_failback;
    bool zone_redundant;
    unsigned bugs;   /* enum rs_bug bits */
    int lose_every;  /* lose-acked-writes: every Nth write is lost (default 4) */
    int slow_factor; /* slow-failover multiplier (default 10) */
    const struct rs_opdef *ops;
    int nops;
    uint64_t ro_mask; /* bit i: ops[i] allowed in read-only mode */
};

struct rs_peer_addr {
    char name[RS_NAME_MAX];
    char region[RS_NAME_MAX];
    char zone[RS_NAME_MAX];
    char url[RS_URL_MAX]; /* http://addr:port, no trailing slash */
};

/* config.c */
/* Parse a target section (JSON text, or "@path"). 0 or -EINVAL with err. */
int rs_config_parse(const char *text, struct rs_config *c, struct fl_err *err);
/* Find an op by name in the preset's table; NULL if unknown. */
const struct rs_opdef *rs_config_op(const struct rs_config *c, const char *name, int *idx);
const char *rs_preset_name(enum rs_preset p);
const char *rs_consistency_name(enum rs_consistency c);
/* Parse "NAME=REGION/ZONE@URL". */
int rs_peer_parse(const char *s, struct rs_peer_addr *p, struct fl_err *err);

/* store.c: key -> value map, protected by the replica lock. */
struct rs_entry {
    char *key;
    uint64_t value;       /* 0 when deleted */
    uint64_t first_value; /* the first value ever written (stale-reads bug) */
    uint64_t version;     /* per-key version, +1 per write */
    int64_t ts_ns;        /* CLOCK_MONOTONIC write time at the origin */
    char origin[RS_NAME_MAX];
    bool deleted;
    /* set model: the key's elements, sorted ascending, no duplicates */
    uint64_t *elems;
    size_t nelems, capelems;
    uint64_t first_elem; /* the first element ever added (stale-reads bug) */
    struct rs_entry *next;
};

struct rs_store {
    struct rs_entry **b;
    size_t nb, n;
};

int rs_store_init(struct rs_store *s);
void rs_store_free(struct rs_store *s);
struct rs_entry *rs_store_get(struct rs_store *s, const char *key);
/* Get or create (zeroed) the entry for key. NULL on ENOMEM. */
struct rs_entry *rs_store_upsert(struct rs_store *s, const char *key);
size_t rs_store_live(const struct rs_store *s);
/* Remove every entry. */
void rs_store_clear(struct rs_store *s);
/* Add element v to e's set: 1 added, 0 already there, -ENOMEM. */
int rs_entry_add_elem(struct rs_entry *e, uint64_t v);

/* the replica (replica.c, ops.c and the endpoint handlers of the other replica files) */
struct rs_repl {
    char key[RS_KEY_MAX];
    uint64_t value, version;
    int64_t ts_ns;
    char origin[RS_NAME_MAX];
    bool deleted;
    bool set_add; /* set model: add element value (else: register write) */
    int64_t enq_ns;
    uint64_t seq;
};

struct rs_conflict {
    struct rs_repl e;
    int64_t at_ns; /* when it was moved to the feed */
};

struct rs_replica;

/* Result of a client operation, turned into HTTP by http.c. */
struct rs_result {
    int status;       /* HTTP status */
    const char *code; /* error code ("read_only"...), NULL when ok */
    char msg[160];    /* error text */
    bool has_value;
    uint64_t value;
    long long count; /* list operations; -1 when not a list */
    uint64_t version;
    bool is_cas, swapped; /* cas: the answer says "swapped" */
    uint64_t *elems;      /* set reads: the elements (malloc'd), has_elems set */
    size_t nelems;
    bool has_elems;
    char region[RS_NAME_MAX];
    char *forwarded_body; /* raw body of a forwarded answer (malloc'd) */
};

struct rs_replica *rs_replica_new(const struct rs_config *c, const char *id, const char *region,
                                  const char *zone, const struct rs_peer_addr *peers, int npeers,
                                  struct fl_err *err);
/* Start heartbeat, replication and monitor threads. */
int rs_replica_start(struct rs_replica *r, struct fl_err *err);
/* Stop and join the threads (bounded by the curl timeouts), free everything. */
void rs_replica_free(struct rs_replica *r);

/* One client operation: the body of POST /v1/op, parsed. */
struct rs_req {
    const char *op, *key;
    uint64_t value;       /* written value / set element / cas new value */
    bool set_model;       /* "model": "set" */
    bool has_expected;    /* cas: "expected" was given */
    uint64_t expected;    /* cas: 0 = the key must be absent */
    int hops;             /* replicas it was forwarded through (X-Refstore-Forwarded) */
    const char *raw_body; /* forwarded as is */
};

void rs_replica_op(struct rs_replica *r, const struct rs_req *q, struct rs_result *res);
/* Internal endpoints; each returns a new JSON reply and sets *status. */
json_t *rs_replica_heartbeat(struct rs_replica *r, json_t *req, int *status);
json_t *rs_replica_replicate(struct rs_replica *r, json_t *req, int *status);
json_t *rs_replica_snapshot(struct rs_replica *r);
json_t *rs_replica_status(struct rs_replica *r);
json_t *rs_replica_conflicts(struct rs_replica *r);

/* http.c */
struct rs_http;
struct rs_http *rs_http_start(struct rs_replica *r, const char *listen, struct fl_err *err);
void rs_http_stop(struct rs_http *h);

#endif
