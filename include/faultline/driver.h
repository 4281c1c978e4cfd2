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
 * Drivers: "refstore" (HTTP/JSON over libcurl, targets/drivers/refstore.c).
 * Real services (redis-sentinel, etcd, postgres) add a table entry.
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

struct fl_op_result {
    enum hist_outcome outcome;
    uint64_t value;             /* value read, or value written (also when unknown); 0 none */
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
    /* One operation against endpoint ep. Never blocks longer than the timeout. */
    void (*op)(void *conn, size_t ep, const char *op, const char *key, uint64_t value,
               struct fl_op_result *res);
    /* Free a connection. Accepts NULL. */
    void (*close)(void *conn);
    /* Does op change data? (history "type": write) */
    bool (*is_write)(const char *op);
    /* Does op remove the key (a write without a value)? */
    bool (*is_delete)(const char *op);
};

/* The refstore driver (libcurl keep-alive, one handle per endpoint per client). */
extern const struct fl_driver_ops fl_driver_refstore;
extern const struct fl_driver_ops fl_driver_redis_sentinel; /* hiredis, primary via sentinels */
extern const struct fl_driver_ops fl_driver_etcd;           /* libcurl, v3 JSON gateway */
extern const struct fl_driver_ops fl_driver_postgres;       /* libpq */

/* Look a driver up by target kind ("refstore"); NULL if there is none. */
const struct fl_driver_ops *fl_driver_find(const char *name);

#endif
