/*
 * The postgres driver (libpq). An endpoint is a libpq conninfo string; the
 * launcher's list every node with target_session_attrs=read-write, so libpq
 * itself finds the primary the way applications do. Connections and queries
 * are asynchronous (PQconnectStart/PQconnectPoll, PQsendQueryParams + poll)
 * so that a silent network cut never blocks past the operation's timeout.
 *
 * Table faultline_kv(k text primary key, v bigint). Operations: get/read,
 * put/set/write (upsert), delete/del, cas (UPDATE ... WHERE v = expected;
 * for an absent key INSERT ... ON CONFLICT DO NOTHING; one row changed =
 * swapped). Set model: table faultline_set(k text, e bigint, primary key
 * (k, e)), one row per element, written with INSERT ... ON CONFLICT DO
 * NOTHING and read with SELECT e WHERE k. Outcomes: SQLSTATE 25006 ("cannot
 * execute ... in a read-only transaction") and other error results: fail
 * (read-only and class 08/57P: retryable; a write ended by 08/57P is info,
 * it may have committed locally); no connection before anything
 * was sent: fail; a timeout or a connection lost after the query was sent:
 * info (the commit may have happened).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "faultline/driver.h"
#include "faultline/err.h"
#include "faultline/timeutil.h"

struct pq_ep {
    char region[FL_REGION_MAX];
    char conninfo[FL_URL_MAX + 64];
    PGconn *c;
};

struct pq_conn {
    struct pq_ep *eps;
    size_t n;
    int64_t timeout_ns;
    struct fl_elems elems; /* the last set read's elements */
};

static bool pq_is_write(const char *op)
{
    return strcmp(op, "put") == 0 || strcmp(op, "set") == 0 || strcmp(op, "write") == 0 ||
           strcmp(op, "cas") == 0 || strcmp(op, "delete") == 0 || strcmp(op, "del") == 0;
}

static bool pq_is_delete(const char *op)
{
    return strcmp(op, "delete") == 0 || strcmp(op, "del") == 0;
}

static void pq_close(void *conn)
{
    struct pq_conn *c = conn;
    size_t i;

    if (!c)
        return;
    for (i = 0; i < c->n; i++)
        PQfinish(c->eps[i].c);
    free(c->eps);
    fl_elems_free(&c->elems);
    free(c);
}

static int pq_open(const struct fl_endpoint *eps, size_t n, int64_t timeout_ns, void **conn,
                   struct fl_err *err)
{
    struct pq_conn *c;
    size_t i;

    if (n == 0)
        return fl_errf(err, -EINVAL, "no endpoints");
    if ((c = calloc(1, sizeof(*c))) == NULL || (c->eps = calloc(n, sizeof(*c->eps))) == NULL) {
        free(c);
        return fl_errf(err, -ENOMEM, "out of memory");
    }
    c->n = n;
    c->timeout_ns = timeout_ns > 0 ? timeout_ns : 1000000000;
    for (i = 0; i < n; i++) {
        char *errmsg = NULL;
        PQconninfoOption *opts = PQconninfoParse(eps[i].url, &errmsg);

        if (!opts) {
            fl_errf(err, -EINVAL, "bad postgres endpoint '%s': %s", eps[i].url,
                    errmsg ? errmsg : "out of memory");
            PQfreemem(errmsg);
            pq_close(c);
            return -EINVAL;
        }
        PQconninfoFree(opts);
        snprintf(c->eps[i].region, sizeof(c->eps[i].region), "%s", eps[i].region);
        snprintf(c->eps[i].conninfo, sizeof(c->eps[i].conninfo), "%s", eps[i].url);
    }
    *conn = c;
    return 0;
}

/* Wait until the socket is ready for events or the deadline passes. */
static bool wait_sock(PGconn *c, short events, int64_t deadline)
{
    struct pollfd p = {.fd = PQsocket(c), .events = events};
    int64_t left = (deadline - fl_now_ns()) / 1000000;

    if (p.fd < 0 || left <= 0)
        return false;
    return poll(&p, 1, (int)(left > 0 ? left : 1)) > 0;
}

static PGconn *connect_until(const char *conninfo, int64_t deadline, char *why, size_t len)
{
    PGconn *c = PQconnectStart(conninfo);
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;

    if (!c) {
        snprintf(why, len, "out of memory");
        return NULL;
    }
    if (PQstatus(c) == CONNECTION_BAD) {
        snprintf(why, len, "%s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        if (!wait_sock(c, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline)) {
            snprintf(why, len, "connect timeout");
            PQfinish(c);
            return NULL;
        }
        st = PQconnectPoll(c);
    }
    if (st == PGRES_POLLING_FAILED) {
        snprintf(why, len, "%s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQsetnonblocking(c, 1);
    return c;
}

/* Strip the trailing newline libpq puts on messages. */
static void one_line(char *s)
{
    char *nl = strchr(s, '\n');

    if (nl)
        *nl = '\0';
}

/*
 * The SQL for req and its parameters ($1 key, $2 value or element, $3
 * expected). Returns NULL for an operation name the driver does not know.
 */
static const char *sql_for(const struct fl_op_req *req, int *nparams)
{
    *nparams = 1;
    switch (req->kind) {
    case FL_OP_DELETE:
        return "DELETE FROM faultline_kv WHERE k = $1";
    case FL_OP_WRITE:
        *nparams = 2;
        if (req->set_model)
            return "INSERT INTO faultline_set (k, e) VALUES ($1, $2::bigint) ON CONFLICT DO "
                   "NOTHING";
        return "INSERT INTO faultline_kv (k, v) VALUES ($1, $2::bigint) "
               "ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v";
    case FL_OP_CAS:
        if (!req->expected) {
            *nparams = 2;
            return "INSERT INTO faultline_kv (k, v) VALUES ($1, $2::bigint) ON CONFLICT DO NOTHING";
        }
        *nparams = 3;
        return "UPDATE faultline_kv SET v = $2::bigint WHERE k = $1 AND v = $3::bigint";
    case FL_OP_READ:
        break;
    }
    if (strcmp(req->op, "get") != 0 && strcmp(req->op, "read") != 0)
        return NULL;
    if (req->set_model)
        return "SELECT e FROM faultline_set WHERE k = $1";
    return "SELECT v FROM faultline_kv WHERE k = $1";
}

/* A successful result: what it says, by kind. */
static void parse_ok(struct pq_conn *c, const struct fl_op_req *req, PGresult *r,
                     struct fl_op_result *res)
{
    int i, n = PQntuples(r);

    res->outcome = HIST_OK;
    if (req->kind == FL_OP_CAS) {
        /* One row changed (UPDATE matched / INSERT did not conflict): swapped. */
        res->swapped = strcmp(PQcmdTuples(r), "1") == 0;
        return;
    }
    if (req->kind != FL_OP_READ)
        return;
    if (!req->set_model) {
        if (n > 0)
            res->value = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
        return;
    }
    c->elems.n = 0;
    for (i = 0; i < n; i++)
        if (fl_elems_push(&c->elems, strtoull(PQgetvalue(r, i, 0), NULL, 10)) < 0) {
            res->outcome = HIST_FAIL;
            snprintf(res->error, sizeof(res->error), "set read: too many elements");
            return;
        }
    fl_elems_result(&c->elems, res);
}

static void pq_op(void *conn, size_t ep, const struct fl_op_req *req, struct fl_op_result *res)
{
    struct pq_conn *c = conn;
    int64_t deadline = fl_now_ns() + c->timeout_ns;
    bool wr = req->kind != FL_OP_READ;
    const char *sql, *params[3];
    char vtxt[24], etxt[24];
    int nparams;
    struct pq_ep *e;
    PGresult *r, *last = NULL;

    memset(res, 0, sizeof(*res));
    if (ep >= c->n) {
        res->outcome = HIST_FAIL;
        snprintf(res->error, sizeof(res->error), "no endpoint %zu", ep);
        return;
    }
    e = &c->eps[ep];
    snprintf(res->region, sizeof(res->region), "%s", e->region);
    if (req->kind == FL_OP_WRITE || req->kind == FL_OP_CAS)
        res->value = req->value;
    snprintf(vtxt, sizeof(vtxt), "%" PRIu64, req->value);
    snprintf(etxt, sizeof(etxt), "%" PRIu64, req->expected);
    params[0] = req->key ? req->key : "";
    params[1] = vtxt;
    params[2] = etxt;
    if ((sql = sql_for(req, &nparams)) == NULL) {
        res->outcome = HIST_FAIL;
        snprintf(res->error, sizeof(res->error), "unknown operation '%s' (get, put, delete, cas)",
                 req->op);
        return;
    }
    if (!e->c || PQstatus(e->c) != CONNECTION_OK) {
        PQfinish(e->c);
        e->c = connect_until(e->conninfo, deadline, res->error, sizeof(res->error));
        if (!e->c) {
            one_line(res->error);
            res->outcome = HIST_FAIL; /* nothing sent */
            res->retryable = true;
            return;
        }
    }
    if (!PQsendQueryParams(e->c, sql, nparams, NULL, params, NULL, NULL, 0)) {
        snprintf(res->error, sizeof(res->error), "%s", PQerrorMessage(e->c));
        one_line(res->error);
        res->outcome = HIST_FAIL;
        res->retryable = true;
        PQfinish(e->c);
        e->c = NULL;
        return;
    }
    while (PQflush(e->c) == 1)
        if (!wait_sock(e->c, POLLOUT, deadline))
            goto unknown;
    for (;;) {
        while (PQisBusy(e->c)) {
            if (!wait_sock(e->c, POLLIN, deadline) || !PQconsumeInput(e->c))
                goto unknown;
        }
        r = PQgetResult(e->c);
        if (!r)
            break;
        PQclear(last);
        last = r;
    }
    if (!last)
        goto unknown;
    switch (PQresultStatus(last)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
        parse_ok(c, req, last, res);
        break;
    default: {
        const char *state = PQresultErrorField(last, PG_DIAG_SQLSTATE);

        snprintf(res->error, sizeof(res->error), "%s%s%s", state ? state : "", state ? ": " : "",
                 PQresultErrorMessage(last));
        one_line(res->error);
        if (!state) {
            /* No SQLSTATE: the connection broke while the query was out. */
            PQclear(last);
            goto unknown;
        }
        res->outcome = HIST_FAIL;
        res->retryable = strcmp(state, "25006") == 0 || strncmp(state, "08", 2) == 0 ||
                         strncmp(state, "57P", 3) == 0;
        /* A write cut off by shutdown or a broken link may have committed locally. */
        if (wr && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0))
            res->outcome = HIST_INFO;
        if (res->retryable) {
            /* A read-only or dying server: reconnect (and rediscover the primary) next time. */
            PQfinish(e->c);
            e->c = NULL;
        }
    }
    }
    PQclear(last);
    return;
unknown:
    PQclear(last);
    res->outcome = HIST_INFO;
    res->retryable = true;
    snprintf(res->error, sizeof(res->error), "%s",
             fl_now_ns() >= deadline ? "timeout" : "connection lost");
    PQfinish(e->c);
    e->c = NULL;
}

const struct fl_driver_ops fl_driver_postgres = {
    .name = "postgres",
    .open = pq_open,
    .op = pq_op,
    .close = pq_close,
    .is_write = pq_is_write,
    .is_delete = pq_is_delete,
};
