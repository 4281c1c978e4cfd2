/*
 * The redis-sentinel driver (hiredis). An endpoint is a sentinel list,
 * "redis-sentinel://NAME@ADDR:PORT,ADDR:PORT,...[?source=ADDR]": like a real
 * client (redis-py's Sentinel, Jedis' JedisSentinelPool) the driver asks the
 * sentinels in order for the master of NAME (SENTINEL
 * get-master-addr-by-name), connects to it, checks with ROLE that it really
 * is a master, and keeps that connection until it fails; then it asks again.
 * source= binds the client's sockets to a local address (to model clients
 * inside a region in tests).
 *
 * Operations: get/read (GET), put/set/write (SET, the value as decimal),
 * delete/del (DEL), cas (a Lua script run by EVAL: GET, compare, SET, atomic
 * on the master; "" stands for "absent"). Set model: writes are SADD, reads
 * SMEMBERS, on the same keys. Outcomes: READONLY, NOREPLICAS, MASTERDOWN, LOADING and
 * other error replies are refusals (fail; the first four also retryable); no
 * sentinel or master reachable before anything was sent is fail; a timeout
 * or a connection lost after the command was sent is info.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "faultline/driver.h"
#include "faultline/err.h"
#include "faultline/timeutil.h"

#define RD_MAX_SENTINELS 16

struct rd_ep {
    char region[FL_REGION_MAX];
    char name[64];
    char source[64];
    char sent_addr[RD_MAX_SENTINELS][64];
    int sent_port[RD_MAX_SENTINELS];
    size_t nsent;
    redisContext *m; /* the master, NULL until discovered */
    char maddr[64];
    int mport;
};

struct rd_conn {
    struct rd_ep *eps;
    size_t n;
    int64_t timeout_ns;
    struct fl_elems elems; /* the last SMEMBERS answer */
};

static bool rd_is_write(const char *op)
{
    return strcmp(op, "put") == 0 || strcmp(op, "set") == 0 || strcmp(op, "write") == 0 ||
           strcmp(op, "cas") == 0 || strcmp(op, "delete") == 0 || strcmp(op, "del") == 0;
}

static bool rd_is_delete(const char *op)
{
    return strcmp(op, "delete") == 0 || strcmp(op, "del") == 0;
}

/* Copy s into d[n]; -1 if it does not fit. */
static int scopy(char *d, size_t n, const char *s)
{
    size_t l = strlen(s);

    if (l >= n)
        return -1;
    memcpy(d, s, l + 1);
    return 0;
}

/* Parse one endpoint URL into e. 0 or -EINVAL. */
static int parse_url(const char *url, struct rd_ep *e)
{
    static const char scheme[] = "redis-sentinel://";
    char buf[FL_URL_MAX], *at, *q, *tok, *save = NULL;

    if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
        return -EINVAL;
    snprintf(buf, sizeof(buf), "%s", url + sizeof(scheme) - 1);
    if ((q = strchr(buf, '?')) != NULL) {
        *q++ = '\0';
        if (strncmp(q, "source=", 7) != 0)
            return -EINVAL;
        if (scopy(e->source, sizeof(e->source), q + 7) < 0)
            return -EINVAL;
    }
    if ((at = strchr(buf, '@')) == NULL || at == buf)
        return -EINVAL;
    *at = '\0';
    if (scopy(e->name, sizeof(e->name), buf) < 0)
        return -EINVAL;
    for (tok = strtok_r(at + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(tok, ':');

        if (!colon || e->nsent >= RD_MAX_SENTINELS)
            return -EINVAL;
        *colon = '\0';
        if (scopy(e->sent_addr[e->nsent], sizeof(e->sent_addr[0]), tok) < 0)
            return -EINVAL;
        e->sent_port[e->nsent] = atoi(colon + 1);
        if (e->sent_port[e->nsent] <= 0 || e->sent_port[e->nsent] > 65535)
            return -EINVAL;
        e->nsent++;
    }
    return e->nsent ? 0 : -EINVAL;
}

static void rd_close(void *conn)
{
    struct rd_conn *c = conn;
    size_t i;

    if (!c)
        return;
    for (i = 0; i < c->n; i++)
        if (c->eps[i].m)
            redisFree(c->eps[i].m);
    free(c->eps);
    fl_elems_free(&c->elems);
    free(c);
}

static int rd_open(const struct fl_endpoint *eps, size_t n, int64_t timeout_ns, void **conn,
                   struct fl_err *err)
{
    struct rd_conn *c;
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
        snprintf(c->eps[i].region, sizeof(c->eps[i].region), "%s", eps[i].region);
        if (parse_url(eps[i].url, &c->eps[i]) < 0) {
            rd_close(c);
            return fl_errf(err, -EINVAL,
                           "bad redis-sentinel endpoint '%s' (expected "
                           "redis-sentinel://NAME@ADDR:PORT,...[?source=ADDR])",
                           eps[i].url);
        }
    }
    *conn = c;
    return 0;
}

/*
 * TCP connect with a deadline (and an optional source address), handed to
 * hiredis as a blocking context with read/write timeouts. NULL on failure
 * with *why set.
 */
static redisContext *connect_until(const char *addr, int port, const char *source, int64_t deadline,
                                   const char **why)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct pollfd pfd;
    int fd, one = 1, e = 0, rc;
    socklen_t el = sizeof(e);
    int64_t left;
    redisContext *ctx;
    struct timeval tv;

    *why = "connect failed";
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        *why = "bad address";
        return NULL;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (source && source[0]) {
        struct sockaddr_in src = {.sin_family = AF_INET};

        if (inet_pton(AF_INET, source, &src.sin_addr) != 1 ||
            bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
            *why = "cannot bind the source address";
            close(fd);
            return NULL;
        }
    }
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    if (rc < 0 && errno != EINPROGRESS) {
        *why = errno == ECONNREFUSED ? "connection refused" : "connect failed";
        close(fd);
        return NULL;
    }
    if (rc < 0) {
        left = (deadline - fl_now_ns()) / 1000000;
        pfd.fd = fd;
        pfd.events = POLLOUT;
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
            *why = "connect timeout";
            close(fd);
            return NULL;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e != 0) {
            *why = e == ECONNREFUSED ? "connection refused" : "connect failed";
            close(fd);
            return NULL;
        }
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    ctx = redisConnectFd(fd);
    if (!ctx || ctx->err) {
        if (ctx)
            redisFree(ctx);
        else
            close(fd);
        return NULL;
    }
    left = (deadline - fl_now_ns()) / 1000;
    if (left < 1000)
        left = 1000;
    tv.tv_sec = left / 1000000;
    tv.tv_usec = left % 1000000;
    redisSetTimeout(ctx, tv);
    return ctx;
}

/* Set the context's I/O timeout to what is left until deadline (at least 1 ms). */
static void set_deadline(redisContext *ctx, int64_t deadline)
{
    int64_t left = (deadline - fl_now_ns()) / 1000;
    struct timeval tv;

    if (left < 1000)
        left = 1000;
    tv.tv_sec = left / 1000000;
    tv.tv_usec = left % 1000000;
    redisSetTimeout(ctx, tv);
}

/* Ask the sentinels, in order, for the master; connect and check its ROLE. */
static int discover(struct rd_conn *c, struct rd_ep *e, int64_t deadline, char *why, size_t len)
{
    int64_t per = c->timeout_ns / (int64_t)(e->nsent + 1);
    const char *w = "no sentinel answered";
    redisReply *r;
    size_t i;

    if (per < 100000000)
        per = 100000000;
    e->maddr[0] = '\0';
    for (i = 0; i < e->nsent && !e->maddr[0]; i++) {
        int64_t d = fl_now_ns() + per;
        redisContext *s;

        if (d > deadline)
            d = deadline;
        if ((s = connect_until(e->sent_addr[i], e->sent_port[i], e->source, d, &w)) == NULL)
            continue;
        set_deadline(s, d);
        r = redisCommand(s, "SENTINEL get-master-addr-by-name %s", e->name);
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[1]->type == REDIS_REPLY_STRING) {
            snprintf(e->maddr, sizeof(e->maddr), "%s", r->element[0]->str);
            e->mport = atoi(r->element[1]->str);
        } else {
            w = r ? "sentinel does not know the master" : "sentinel timeout";
        }
        if (r)
            freeReplyObject(r);
        redisFree(s);
        if (fl_now_ns() >= deadline)
            break;
    }
    if (!e->maddr[0]) {
        snprintf(why, len, "sentinel: %s", w);
        return -EHOSTUNREACH;
    }
    if ((e->m = connect_until(e->maddr, e->mport, e->source, deadline, &w)) == NULL) {
        snprintf(why, len, "master %s:%d: %s", e->maddr, e->mport, w);
        return -EHOSTUNREACH;
    }
    r = redisCommand(e->m, "ROLE");
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "master") != 0) {
        snprintf(why, len, "master %s:%d: %s", e->maddr, e->mport,
                 r ? "ROLE says it is not a master" : "ROLE timeout");
        if (r)
            freeReplyObject(r);
        redisFree(e->m);
        e->m = NULL;
        return -EAGAIN;
    }
    freeReplyObject(r);
    return 0;
}

static bool refusal(const char *msg)
{
    static const char *const codes[] = {"READONLY", "NOREPLICAS", "MASTERDOWN",
                                        "LOADING",  "TRYAGAIN",   NULL};
    int i;

    for (i = 0; codes[i]; i++)
        if (strncmp(msg, codes[i], strlen(codes[i])) == 0)
            return true;
    return false;
}

/*
 * Compare-and-set as one script, atomic on the master: ARGV[1] the expected
 * value ("" = the key must be absent), ARGV[2] the new one. Answers integer 1
 * when it swapped, else the current value (nil when absent).
 */
static const char cas_script[] = "local v = redis.call('GET', KEYS[1]) "
                                 "if (ARGV[1] == '' and not v) or v == ARGV[1] then "
                                 "redis.call('SET', KEYS[1], ARGV[2]) return 1 end "
                                 "return v";

static redisReply *send_op(struct rd_conn *c, struct rd_ep *e, const struct fl_op_req *req)
{
    char exp[24] = "";

    switch (req->kind) {
    case FL_OP_DELETE:
        return redisCommand(e->m, "DEL %s", req->key);
    case FL_OP_WRITE:
        if (req->set_model)
            return redisCommand(e->m, "SADD %s %" PRIu64, req->key, req->value);
        return redisCommand(e->m, "SET %s %" PRIu64, req->key, req->value);
    case FL_OP_CAS:
        if (req->expected)
            snprintf(exp, sizeof(exp), "%" PRIu64, req->expected);
        return redisCommand(e->m, "EVAL %s 1 %s %s %" PRIu64, cas_script, req->key, exp,
                            req->value);
    case FL_OP_READ:
        break;
    }
    if (req->set_model)
        return redisCommand(e->m, "SMEMBERS %s", req->key);
    (void)c;
    return redisCommand(e->m, "GET %s", req->key);
}

/* An answer that is not an error: what it says, by kind. */
static void parse_ok(struct rd_conn *c, const struct fl_op_req *req, const redisReply *r,
                     struct fl_op_result *res)
{
    size_t i;

    res->outcome = HIST_OK;
    if (req->kind == FL_OP_CAS) {
        res->swapped = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
        if (!res->swapped) {
            res->current_known = true;
            res->current = r->type == REDIS_REPLY_STRING ? strtoull(r->str, NULL, 10) : 0;
        }
        return;
    }
    if (req->kind != FL_OP_READ)
        return;
    if (!req->set_model) {
        res->value = r->type == REDIS_REPLY_STRING ? strtoull(r->str, NULL, 10) : 0;
        return;
    }
    c->elems.n = 0;
    for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *x = r->element[i];

        if (x->type != REDIS_REPLY_STRING ||
            fl_elems_push(&c->elems, strtoull(x->str, NULL, 10)) < 0) {
            res->outcome = HIST_FAIL;
            snprintf(res->error, sizeof(res->error), "SMEMBERS: bad or too many elements");
            return;
        }
    }
    fl_elems_result(&c->elems, res);
}

static void rd_op(void *conn, size_t ep, const struct fl_op_req *req, struct fl_op_result *res)
{
    struct rd_conn *c = conn;
    int64_t deadline = fl_now_ns() + c->timeout_ns;
    struct rd_ep *e;
    redisReply *r;
    char why[160];

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
    if (req->kind == FL_OP_READ && strcmp(req->op, "get") != 0 && strcmp(req->op, "read") != 0) {
        res->outcome = HIST_FAIL;
        snprintf(res->error, sizeof(res->error), "unknown operation '%s' (get, put, delete, cas)",
                 req->op);
        return;
    }
    if (!e->m && discover(c, e, deadline, why, sizeof(why)) < 0) {
        res->outcome = HIST_FAIL; /* nothing was sent to a master */
        res->retryable = true;
        snprintf(res->error, sizeof(res->error), "%s", why);
        return;
    }
    set_deadline(e->m, deadline);
    r = send_op(c, e, req);
    if (!r) {
        bool timeout = e->m->err == REDIS_ERR_IO &&
                       (errno == EAGAIN || strstr(e->m->errstr, "temporarily") != NULL);

        res->outcome = HIST_INFO;
        res->retryable = true;
        snprintf(res->error, sizeof(res->error), "%s",
                 timeout ? "timeout" : (e->m->errstr[0] ? e->m->errstr : "connection lost"));
        redisFree(e->m);
        e->m = NULL;
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        /* An error reply: the command (or the script's write) was refused. */
        res->outcome = HIST_FAIL;
        res->retryable = refusal(r->str);
        snprintf(res->error, sizeof(res->error), "%s", r->str);
        if (strncmp(r->str, "READONLY", 8) == 0) {
            /* The master we knew was demoted: ask the sentinels again next time. */
            redisFree(e->m);
            e->m = NULL;
        }
    } else {
        parse_ok(c, req, r, res);
    }
    freeReplyObject(r);
}

const struct fl_driver_ops fl_driver_redis_sentinel = {
    .name = "redis-sentinel",
    .open = rd_open,
    .op = rd_op,
    .close = rd_close,
    .is_write = rd_is_write,
    .is_delete = rd_is_delete,
};
