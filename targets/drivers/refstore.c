/*
 * The refstore driver: POST /v1/op over HTTP/1.1 keep-alive with libcurl, one
 * easy handle per endpoint per client (so each client reuses its own TCP
 * connection and no request forks or reconnects). Outcome mapping: 200 ok;
 * 504 (the replica itself does not know: replication or forwarding timed
 * out) info; other 4xx/5xx fail; a curl timeout or a connection lost after
 * the request was sent info; a connection refused before anything was sent
 * fail (nothing can have been applied). See docs/refstore.md.
 *
 * Set model: the mix's own operation names with "model":"set" (a write adds
 * element value, a read answers "elements"). Compare-and-set: op "cas" with
 * "expected" (null: the key must be absent) and the new "value"; the answer
 * says "swapped" and the value after.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "faultline/buf.h"
#include "faultline/driver.h"
#include "faultline/err.h"
#include "faultline/http.h"

struct rs_ep {
    CURL *c;
    char url[FL_URL_MAX + 8];
    char region[FL_REGION_MAX];
};

struct rs_conn {
    struct rs_ep *eps;
    size_t n;
    long timeout_ms;
    struct curl_slist *hdr;
    struct fl_buf body;
    struct fl_elems elems; /* the last set read's elements */
};

static const char *const write_ops[] = {
    "set-secret",
    "update-secret",
    "delete-secret",
    "purge-secret",
    "recover-secret",
    "create-key",
    "import-key",
    "update-key",
    "delete-key",
    "purge-key",
    "restore",
    "create",
    "upsert",
    "replace",
    "patch",
    "delete",
    "cas",
    NULL,
};

static bool rs_is_write(const char *op)
{
    int i;

    for (i = 0; write_ops[i]; i++)
        if (strcmp(write_ops[i], op) == 0)
            return true;
    return false;
}

static bool rs_is_delete(const char *op)
{
    return strncmp(op, "delete", 6) == 0 || strncmp(op, "purge", 5) == 0;
}

/* The reads that return the key's value (refstore's "get" kind). */
static bool rs_is_point_read(const char *op)
{
    static const char *const point[] = {"get-secret", "get-key", "backup", "read", NULL};
    int i;

    for (i = 0; point[i]; i++)
        if (strcmp(point[i], op) == 0)
            return true;
    return false;
}

static void rs_close(void *conn)
{
    struct rs_conn *c = conn;
    size_t i;

    if (!c)
        return;
    for (i = 0; i < c->n; i++)
        curl_easy_cleanup(c->eps[i].c);
    free(c->eps);
    curl_slist_free_all(c->hdr);
    fl_buf_free(&c->body);
    fl_elems_free(&c->elems);
    free(c);
}

static int rs_open(const struct fl_endpoint *eps, size_t n, int64_t timeout_ns, void **conn,
                   struct fl_err *err)
{
    struct rs_conn *c = calloc(1, sizeof(*c));
    size_t i;

    if (!c || n == 0) {
        free(c);
        return fl_errf(err, n ? -ENOMEM : -EINVAL, n ? "out of memory" : "no endpoints");
    }
    c->eps = calloc(n, sizeof(*c->eps));
    c->n = n;
    c->timeout_ms = (long)(timeout_ns / 1000000);
    if (c->timeout_ms < 1)
        c->timeout_ms = 1;
    fl_buf_init(&c->body, 16 << 20); /* set reads return every element of a key */
    c->hdr = curl_slist_append(NULL, "Content-Type: application/json");
    if (c->hdr)
        c->hdr = curl_slist_append(c->hdr, "Expect:");
    if (!c->eps || !c->hdr) {
        rs_close(c);
        return fl_errf(err, -ENOMEM, "out of memory");
    }
    for (i = 0; i < n; i++) {
        struct rs_ep *e = &c->eps[i];

        snprintf(e->url, sizeof(e->url), "%s/v1/op", eps[i].url);
        snprintf(e->region, sizeof(e->region), "%s", eps[i].region);
        e->c = fl_http_easy(e->url, c->timeout_ms, &c->body, NULL);
        if (!e->c) {
            rs_close(c);
            return fl_errf(err, -ENOMEM, "curl_easy_init failed");
        }
        curl_easy_setopt(e->c, CURLOPT_HTTPHEADER, c->hdr);
        curl_easy_setopt(e->c, CURLOPT_TCP_NODELAY, 1L);
    }
    *conn = c;
    return 0;
}

/* Names and keys made by the engine are plain; anything else goes through jansson. */
static bool plain(const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
            return false;
    return true;
}

/*
 * The request body for req. Names and keys made by the engine are plain and
 * go through snprintf; anything else through jansson (*dyn, freed by the
 * caller). NULL if it cannot be encoded.
 */
static const char *encode(const struct fl_op_req *req, char *buf, size_t len, char **dyn)
{
    const char *key = req->key ? req->key : "";
    char val[24], exp[24], extra[80] = "";
    json_t *o;
    int n;

    *dyn = NULL;
    snprintf(val, sizeof(val), "%" PRIu64,
             req->kind == FL_OP_WRITE || req->kind == FL_OP_CAS ? req->value : 0);
    if (req->kind == FL_OP_CAS) {
        if (req->expected)
            snprintf(exp, sizeof(exp), "%" PRIu64, req->expected);
        else
            snprintf(exp, sizeof(exp), "null");
        snprintf(extra, sizeof(extra), ",\"expected\":%s", exp);
    } else if (req->set_model) {
        snprintf(extra, sizeof(extra), ",\"model\":\"set\"");
    }
    if (plain(req->op) && plain(key) && strlen(req->op) + strlen(key) < 300) {
        n = snprintf(buf, len, "{\"op\":\"%s\",\"key\":\"%s\",\"value\":%s%s}",
                     req->kind == FL_OP_CAS ? "cas" : req->op, key, val, extra);
        return n > 0 && (size_t)n < len ? buf : NULL;
    }
    o = json_pack("{s:s, s:s, s:I}", "op", req->kind == FL_OP_CAS ? "cas" : req->op, "key", key,
                  "value", (json_int_t)strtoull(val, NULL, 10));
    if (o && req->kind == FL_OP_CAS)
        json_object_set_new(o, "expected",
                            req->expected ? json_integer((json_int_t)req->expected) : json_null());
    else if (o && req->set_model)
        json_object_set_new(o, "model", json_string("set"));
    *dyn = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return *dyn;
}

/* A 200 answer: the value read, the set's elements, or the cas outcome. */
static void parse_ok(struct rs_conn *c, const struct fl_op_req *req, json_t *o,
                     struct fl_op_result *res)
{
    json_t *v = json_object_get(o, "value"), *els, *x;
    size_t i;

    res->outcome = HIST_OK;
    if (req->kind == FL_OP_CAS) {
        res->swapped = json_is_true(json_object_get(o, "swapped"));
        if (!res->swapped && (json_is_integer(v) || json_is_null(v))) {
            res->current_known = true;
            res->current = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
        }
        return;
    }
    if (req->kind != FL_OP_READ)
        return;
    if (!req->set_model) {
        res->value = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
        return;
    }
    els = json_object_get(o, "elements");
    c->elems.n = 0;
    if (!json_is_array(els)) {
        res->outcome = HIST_FAIL; /* a read that changed nothing and said nothing useful */
        snprintf(res->error, sizeof(res->error), "set read: no \"elements\" in the answer");
        return;
    }
    json_array_foreach(els, i, x)
    {
        if (!json_is_integer(x) || fl_elems_push(&c->elems, (uint64_t)json_integer_value(x)) < 0) {
            res->outcome = HIST_FAIL;
            snprintf(res->error, sizeof(res->error), "set read: bad or too many elements");
            return;
        }
    }
    fl_elems_result(&c->elems, res);
}

static void rs_op(void *conn, size_t ep, const struct fl_op_req *req, struct fl_op_result *res)
{
    struct rs_conn *c = conn;
    struct rs_ep *e;
    char buf[512];
    char *dyn = NULL;
    const char *body;
    long status = 0;
    curl_off_t sent = 0;
    CURLcode rc;
    json_t *o;

    memset(res, 0, sizeof(*res));
    if (ep >= c->n) {
        res->outcome = HIST_FAIL;
        snprintf(res->error, sizeof(res->error), "no endpoint %zu", ep);
        return;
    }
    e = &c->eps[ep];
    snprintf(res->region, sizeof(res->region), "%s", e->region);
    if (req->kind == FL_OP_WRITE || req->kind == FL_OP_CAS)
        res->value = req->value; /* what we tried to write, whatever the outcome */
    if ((body = encode(req, buf, sizeof(buf), &dyn)) == NULL) {
        res->outcome = HIST_FAIL;
        snprintf(res->error, sizeof(res->error), "cannot encode request");
        return;
    }
    fl_buf_reset(&c->body);
    curl_easy_setopt(e->c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e->c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    rc = curl_easy_perform(e->c);
    free(dyn);
    curl_easy_getinfo(e->c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e->c, CURLINFO_REQUEST_SIZE, &sent);
    res->status = (int)status;
    if (rc != CURLE_OK) {
        res->retryable = true;
        if (sent == 0 && rc == CURLE_COULDNT_CONNECT) {
            res->outcome = HIST_FAIL; /* refused before anything was sent */
            snprintf(res->error, sizeof(res->error), "connect: %s", curl_easy_strerror(rc));
        } else {
            res->outcome = HIST_INFO;
            snprintf(res->error, sizeof(res->error), "%s",
                     rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : curl_easy_strerror(rc));
        }
        return;
    }
    o = json_loadb(c->body.p ? c->body.p : "", c->body.len, 0, NULL);
    if (json_is_string(json_object_get(o, "region")))
        snprintf(res->region, sizeof(res->region), "%s",
                 json_string_value(json_object_get(o, "region")));
    if (status == 200 && json_is_object(o)) {
        parse_ok(c, req, o, res);
    } else {
        const char *code = json_string_value(json_object_get(o, "code"));
        const char *msg = json_string_value(json_object_get(o, "error"));

        res->outcome = status == 504 || status == 200 ? HIST_INFO : HIST_FAIL;
        res->retryable = status == 503 || status == 504;
        snprintf(res->error, sizeof(res->error), "%s%s%s", code ? code : "http", msg ? ": " : "",
                 msg ? msg : "");
        if (!code && !msg)
            snprintf(res->error, sizeof(res->error), "http %ld", status);
    }
    json_decref(o);
}

const struct fl_driver_ops fl_driver_refstore = {
    .name = "refstore",
    .open = rs_open,
    .op = rs_op,
    .close = rs_close,
    .is_write = rs_is_write,
    .is_delete = rs_is_delete,
    .is_point_read = rs_is_point_read,
};

/*
 * Target kind `http`: a service of your own on staging hosts that speaks
 * refstore's client API (POST /v1/op, docs/refstore.md "Client API"): the
 * same requests, answers and outcome rules, with refstore's operation names.
 */
const struct fl_driver_ops fl_driver_http = {
    .name = "http",
    .open = rs_open,
    .op = rs_op,
    .close = rs_close,
    .is_write = rs_is_write,
    .is_delete = rs_is_delete,
    .is_point_read = rs_is_point_read,
};
