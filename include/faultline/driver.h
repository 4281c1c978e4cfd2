/*
 * Target drivers: the one small interface between the workload engine and a
 * service under test. A driver opens a connection object per client (its own
 * sockets, kept alive), performs one operation against one of the configured
 * endpoints and says what happened in history terms: ok (served), fail
 * (definitely not applied: refused, rejected, nothing sent) or info (unknown:
 * timeout, connection lost mid-request, an answer that says "maybe").
 * Routing between endpoints is the engine's job; the driver only reports
 * whether a result should count as a reason to try another region.
 *
 * Two workload models (docs/internals/workload.md): register (a write
 * overwrites the key's value, a read returns it, a cas compares and swaps it)
 * and set (a write adds one element to the key's set, a read returns every
 * element). The engine says which in each request; the driver maps it to the
 * store's native form (docs/targets.md has the table per target).
 *
 * Drivers: "refstore" (HTTP/JSON over libcurl, targets/drivers/refstore.c),
 * "redis-sentinel" (hiredis), "etcd" (v3 JSON gateway), "postgres" (libpq);
 * targets/drivers/driver.c holds the table.
 */
#ifndef FAULTLINE_DRIVER_H
#define FAULTLINE_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faultline/history.h"

struct fl_err;

#define FL_REGION_MAX 64
#define FL_URL_MAX    256

/* One place a client can send operations to. */
struct fl_endpoint {
    char region[FL_REGION_MAX];
    char url[FL_URL_MAX]; /* refstore: http://ADDR:PORT */
};

/*
 * What an operation does, decided by the engine from the mix's operation name
 * (fl_driver_kind): the driver maps each kind to the store's native form.
 */
enum fl_op_kind {
    FL_OP_READ,   /* return the key's value (register) or all its elements (set) */
    FL_OP_WRITE,  /* register: overwrite with value; set: add element value */
    FL_OP_CAS,    /* compare-and-set: value = new, expected = old (0: key absent) */
    FL_OP_DELETE, /* remove the key (register model only) */
};

/* One operation. Strings are borrowed for the duration of the call. */
struct fl_op_req {
    const char *op;  /* the mix's operation name (sent as is where the store has names) */
    const char *key; /* "k17" */
    enum fl_op_kind kind;
    bool set_model;    /* workload.model: set (writes add elements, reads return sets) */
    uint64_t value;    /* write: value or element; cas: the new value */
    uint64_t expected; /* cas: the value compared against, 0 = the key must be absent */
};

struct fl_op_result {
    enum hist_outcome outcome;
    uint64_t value;        /* value read, or value written / cas new (also when unknown); 0 none */
    bool swapped;          /* cas with outcome ok: true if the value was replaced */
    bool current_known;    /* cas not swapped: the store said what the value is */
    uint64_t current;      /* ... that value (0 = absent) */
    const uint64_t *elems; /* set read ok: the elements, sorted ascending; owned by the */
    size_t nelems;         /* connection, valid until its next op or close */
    char region[FL_REGION_MAX]; /* region that served it ("" unknown) */
    char error[160];            /* "" when ok */
    int status;                 /* protocol status (HTTP), 0 if none */
    bool retryable;             /* timeout / unreachable / unavailable: try another region */
};

struct fl_driver_ops {
    const char *name;
    /*
     * Open one client's connection state for endpoints eps[0..n) (copied);
     * timeout_ns bounds every operation. 0 or negative errno; *conn freed by close.
     */
    int (*open)(const struct fl_endpoint *eps, size_t n, int64_t timeout_ns, void **conn,
                struct fl_err *err);
    /*
     * One operation against endpoint ep. Never blocks longer than the timeout.
     * res is filled completely (the driver clears it first).
     */
    void (*op)(void *conn, size_t ep, const struct fl_op_req *req, struct fl_op_result *res);
    /* Free a connection. Accepts NULL. */
    void (*close)(void *conn);
    /* Does op change data? (history "type": write; true for "cas") */
    bool (*is_write)(const char *op);
    /* Does op remove the key (a write without a value)? */
    bool (*is_delete)(const char *op);
    /*
     * Does op read one key's value (what the final reads must use)? A
     * listing or a metadata read (get-vault) returns none, and final reads
     * made with it would make every write look lost. NULL: "get*" / "read*".
     */
    bool (*is_point_read)(const char *op);
};

/* The refstore driver (libcurl keep-alive, one handle per endpoint per client). */
extern const struct fl_driver_ops fl_driver_refstore;
/* target kind http: a staging service speaking refstore's client API (same driver code). */
extern const struct fl_driver_ops fl_driver_http;
extern const struct fl_driver_ops fl_driver_redis_sentinel; /* hiredis, primary via sentinels */
extern const struct fl_driver_ops fl_driver_etcd;           /* libcurl, v3 JSON gateway */
extern const struct fl_driver_ops fl_driver_postgres;       /* libpq */

/* Look a driver up by target kind ("refstore"); NULL if there is none. */
const struct fl_driver_ops *fl_driver_find(const char *name);

/*
 * The kind of a mix operation for driver d: "cas" is FL_OP_CAS for every
 * driver; otherwise d's is_delete / is_write decide; anything else reads.
 */
enum fl_op_kind fl_driver_kind(const struct fl_driver_ops *d, const char *op);

/*
 * Sort n elements ascending and drop duplicates in place; returns the new
 * count. Drivers use it on the elements a set read returned.
 */
size_t fl_elems_normalize(uint64_t *e, size_t n);

/* A connection's element buffer for set reads (at most FL_ELEMS_MAX elements). */
#define FL_ELEMS_MAX (1u << 24)
struct fl_elems {
    uint64_t *e;
    size_t n, cap;
};

/* Append v. 0, -ENOMEM, or -E2BIG past FL_ELEMS_MAX. */
int fl_elems_push(struct fl_elems *b, uint64_t v);
/* Sort and deduplicate b, then point res->elems / nelems at it. */
void fl_elems_result(struct fl_elems *b, struct fl_op_result *res);
/* Free the buffer. Accepts NULL. */
void fl_elems_free(struct fl_elems *b);

#endif
