/*
 * refstore's HTTP/JSON front end on libmicrohttpd: one thread per connection
 * (client operations may block while a write waits for replica
 * acknowledgements), request bodies capped, every reply JSON. Routes:
 * POST /v1/op, GET /v1/status, GET /v1/conflicts, GET /v1/health, and the
 * replica-to-replica endpoints under /v1/internal/. See docs/refstore.md.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "faultline/buf.h"
#include "faultline/err.h"
#include "refstore.h"

#define BODY_MAX (16u << 20)

struct rs_http {
    struct MHD_Daemon *d;
    struct rs_replica *r;
};

struct conn {
    struct fl_buf body;
    bool too_big;
};

static enum MHD_Result send_text(struct MHD_Connection *con, int status, char *text)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (!text)
        return MHD_NO;
    resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    ret = MHD_queue_response(con, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Send o (reference stolen) as the reply. */
static enum MHD_Result send_json(struct MHD_Connection *con, int status, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    return send_text(con, status, s);
}

static enum MHD_Result send_error(struct MHD_Connection *con, int status, const char *code,
                                  const char *msg)
{
    return send_json(con, status,
                     json_pack("{s:b, s:s, s:s}", "ok", 0, "error", msg, "code", code));
}

static enum MHD_Result do_op(struct rs_http *h, struct MHD_Connection *con, const char *body)
{
    json_error_t je;
    json_t *req = json_loads(body ? body : "", 0, &je), *v, *o, *m;
    struct rs_result res;
    struct rs_req q;
    const char *fwd;
    char msg[200];
    size_t i;

    if (!json_is_object(req)) {
        json_decref(req);
        snprintf(msg, sizeof(msg), "body: expected a JSON object (%s)", je.text);
        return send_error(con, 400, "bad_request", msg);
    }
    memset(&q, 0, sizeof(q));
    v = json_object_get(req, "value");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            json_decref(req);
            return send_error(con, 400, "bad_request", "value: expected a non-negative integer");
        }
        q.value = (uint64_t)json_integer_value(v);
    }
    v = json_object_get(req, "expected");
    if (v) {
        if (!json_is_null(v) && (!json_is_integer(v) || json_integer_value(v) < 0)) {
            json_decref(req);
            return send_error(con, 400, "bad_request",
                              "expected: expected a non-negative integer or null");
        }
        q.has_expected = true;
        q.expected = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
    }
    m = json_object_get(req, "model");
    if (m && !json_is_null(m)) {
        if (!json_is_string(m) || (strcmp(json_string_value(m), "set") != 0 &&
                                   strcmp(json_string_value(m), "register") != 0)) {
            json_decref(req);
            return send_error(con, 400, "bad_request", "model: expected \"set\" or \"register\"");
        }
        q.set_model = strcmp(json_string_value(m), "set") == 0;
    }
    fwd = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "X-Refstore-Forwarded");
    q.hops = fwd ? (atoi(fwd) > 0 ? atoi(fwd) : 1) : 0;
    q.op = json_string_value(json_object_get(req, "op"));
    q.key = json_string_value(json_object_get(req, "key"));
    q.raw_body = body;
    rs_replica_op(h->r, &q, &res);
    json_decref(req);
    if (res.forwarded_body)
        return send_text(con, res.status, res.forwarded_body);
    if (res.code) {
        free(res.elems);
        o = json_pack("{s:b, s:s, s:s, s:s}", "ok", 0, "error", res.msg, "code", res.code, "region",
                      res.region);
        return send_json(con, res.status, o);
    }
    o = json_pack("{s:b, s:s}", "ok", 1, "region", res.region);
    if (res.is_cas)
        json_object_set_new(o, "swapped", json_boolean(res.swapped));
    if (res.has_elems) {
        json_t *a = json_array();

        for (i = 0; i < res.nelems; i++)
            json_array_append_new(a, json_integer((json_int_t)res.elems[i]));
        json_object_set_new(o, "elements", a);
        free(res.elems);
    }
    if (res.has_value)
        json_object_set_new(o, "value",
                            res.value ? json_integer((json_int_t)res.value) : json_null());
    if (res.version)
        json_object_set_new(o, "version", json_integer((json_int_t)res.version));
    if (res.count >= 0)
        json_object_set_new(o, "count", json_integer(res.count));
    return send_json(con, 200, o);
}

static enum MHD_Result do_internal(struct rs_http *h, struct MHD_Connection *con, const char *url,
                                   const char *body)
{
    json_t *req = json_loads(body ? body : "", 0, NULL), *rep;
    int status = 404;

    if (!json_is_object(req)) {
        json_decref(req);
        return send_error(con, 400, "bad_request", "body: expected a JSON object");
    }
    if (strcmp(url, "/v1/internal/heartbeat") == 0)
        rep = rs_replica_heartbeat(h->r, req, &status);
    else if (strcmp(url, "/v1/internal/replicate") == 0)
        rep = rs_replica_replicate(h->r, req, &status);
    else
        rep =
            json_pack("{s:b, s:s, s:s}", "ok", 0, "error", "no such endpoint", "code", "not_found");
    json_decref(req);
    return send_json(con, status, rep);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *con, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    struct rs_http *h = cls;
    struct conn *c = *con_cls;
    bool post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;

    if (!c) {
        c = calloc(1, sizeof(*c));
        if (!c)
            return MHD_NO;
        fl_buf_init(&c->body, BODY_MAX);
        *con_cls = c;
        return MHD_YES;
    }
    if (*upload_size) {
        if (fl_buf_add(&c->body, upload, *upload_size) < 0)
            c->too_big = true;
        *upload_size = 0;
        return MHD_YES;
    }
    if (c->too_big)
        return send_error(con, 413, "too_large", "request body too large");
    if (strcmp(url, "/v1/op") == 0) {
        if (!post)
            return send_error(con, 405, "method", "POST /v1/op");
        return do_op(h, con, c->body.p);
    }
    if (strncmp(url, "/v1/internal/", 13) == 0 && post)
        return do_internal(h, con, url, c->body.p);
    if (get && strcmp(url, "/v1/internal/snapshot") == 0)
        return send_json(con, 200, rs_replica_snapshot(h->r));
    if (get && strcmp(url, "/v1/status") == 0)
        return send_json(con, 200, rs_replica_status(h->r));
    if (get && strcmp(url, "/v1/conflicts") == 0)
        return send_json(con, 200, rs_replica_conflicts(h->r));
    if (get && strcmp(url, "/v1/health") == 0)
        return send_json(con, 200, json_pack("{s:b}", "ok", 1));
    return send_error(con, 404, "not_found", "no such endpoint");
}

static void completed(void *cls, struct MHD_Connection *con, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct conn *c = *con_cls;

    if (c) {
        fl_buf_free(&c->body);
        free(c);
        *con_cls = NULL;
    }
}

struct rs_http *rs_http_start(struct rs_replica *r, const char *listen, struct fl_err *err)
{
    struct sockaddr_in sin;
    struct rs_http *h;
    char host[64];
    const char *colon = strrchr(listen, ':');
    long port;
    char *end;

    if (!colon || colon - listen >= (long)sizeof(host) || colon == listen) {
        fl_errf(err, -EINVAL, "--listen '%s': expected ADDR:PORT", listen);
        return NULL;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    port = strtol(colon + 1, &end, 10);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if (*end || port <= 0 || port > 65535 || inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        fl_errf(err, -EINVAL, "--listen '%s': expected IPv4ADDR:PORT", listen);
        return NULL;
    }
    h = calloc(1, sizeof(*h));
    if (!h) {
        fl_errf(err, -ENOMEM, "out of memory");
        return NULL;
    }
    h->r = r;
    h->d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, handler, h, MHD_OPTION_SOCK_ADDR, &sin, MHD_OPTION_NOTIFY_COMPLETED, completed, h,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_CONNECTION_LIMIT, (unsigned)2000,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    if (!h->d) {
        free(h);
        fl_errf(err, -EADDRINUSE, "cannot listen on %s", listen);
        return NULL;
    }
    return h;
}

void rs_http_stop(struct rs_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
