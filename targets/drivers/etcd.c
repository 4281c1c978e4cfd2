/*
 * The etcd driver: etcd's v3 API through its JSON gateway (POST /v3/kv/put,
 * /v3/kv/range, /v3/kv/deleterange, /v3/kv/txn) with libcurl keep-alive, one
 * easy handle per member per client. An endpoint is a comma-separated list of
 * member client URLs ("http://198.18.1.33:2379,http://...", optionally
 * "?source=ADDR" to bind the client's sockets); like etcd's own
 * client the driver stays on one member and moves to the next after a
 * connection failure or an "unavailable" answer. Keys and values travel
 * base64-encoded, values as decimal text.
 *
 * Operations: get/read (linearizable range), put/set/write, delete/del, and
 * cas (one transaction: compare the value, or create_revision 0 for "absent";
 * put on success, read the key on failure; ok either way, "succeeded" says
 * whether it swapped). Set model: an element is a key of its own under the
 * key's prefix ("k17/00000000001099511627777"), a read is a range over the
 * prefix (linearizable, like get).
 * Outcomes: 200 ok; "no leader" / "not capable" / a connect failure: fail
 * (nothing was proposed); "request timed out", "leader changed" and curl
 * timeouts: info (the proposal may still commit).
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

#define ET_MAX_MEMBERS 16

struct et_ep {
    char region[FL_REGION_MAX];
    char base[ET_MAX_MEMBERS][128];
    CURL *c[ET_MAX_MEMBERS];
    size_t n, cur;
};

struct et_conn {
    struct et_ep *eps;
    size_t n;
    long timeout_ms;
    struct curl_slist *hdr;
    struct fl_buf body;
    struct fl_elems elems; /* the last set read's elements */
};

static bool et_is_write(const char *op)
{
    return strcmp(op, "put") == 0 || strcmp(op, "set") == 0 || strcmp(op, "write") == 0 ||
           strcmp(op, "cas") == 0 || strcmp(op, "delete") == 0 || strcmp(op, "del") == 0;
}

static bool et_is_delete(const char *op)
{
    return strcmp(op, "delete") == 0 || strcmp(op, "del") == 0;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 (with padding) of s into out (NUL-terminated). */
static void b64enc(const char *s, char *out, size_t len)
{
    size_t n = strlen(s), i, o = 0;

    for (i = 0; i < n && o + 5 < len; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;

        if (i + 1 < n)
            v |= (unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        out[o++] = b64chars[(v >> 18) & 63];
        out[o++] = b64chars[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64chars[v & 63] : '=';
    }
    out[o] = '\0';
}

/* Decode base64 s into out (NUL-terminated, truncated to len). */
static void b64dec(const char *s, char *out, size_t len)
{
    unsigned v = 0;
    int bits = 0;
    size_t o = 0;

    for (; *s && *s != '=' && o + 1 < len; s++) {
        const char *p = strchr(b64chars, *s);

        if (!p)
            continue;
        v = (v << 6) | (unsigned)(p - b64chars);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((v >> bits) & 0xff);
        }
    }
    out[o] = '\0';
}

static void et_close(void *conn)
{
    struct et_conn *c = conn;
    size_t i, j;

    if (!c)
        return;
    for (i = 0; i < c->n; i++)
        for (j = 0; j < c->eps[i].n; j++)
            curl_easy_cleanup(c->eps[i].c[j]);
    free(c->eps);
    curl_slist_free_all(c->hdr);
    fl_buf_free(&c->body);
    fl_elems_free(&c->elems);
    free(c);
}

static int et_open(const struct fl_endpoint *eps, size_t n, int64_t timeout_ns, void **conn,
                   struct fl_err *err)
{
    struct et_conn *c;
    size_t i;

    if (n == 0)
        return fl_errf(err, -EINVAL, "no endpoints");
    if ((c = calloc(1, sizeof(*c))) == NULL || (c->eps = calloc(n, sizeof(*c->eps))) == NULL) {
        free(c);
        return fl_errf(err, -ENOMEM, "out of memory");
    }
    c->n = n;
    c->timeout_ms = timeout_ns > 0 ? (long)(timeout_ns / 1000000) : 1000;
    if (c->timeout_ms < 1)
        c->timeout_ms = 1;
    fl_buf_init(&c->body, 16 << 20); /* set reads return every element of a key */
    c->hdr = curl_slist_append(NULL, "Content-Type: application/json");
    if (c->hdr)
        c->hdr = curl_slist_append(c->hdr, "Expect:");
    if (!c->hdr) {
        et_close(c);
        return fl_errf(err, -ENOMEM, "out of memory");
    }
    for (i = 0; i < n; i++) {
        struct et_ep *e = &c->eps[i];
        char buf[FL_URL_MAX], *tok, *save = NULL;

        snprintf(e->region, sizeof(e->region), "%s", eps[i].region);
        char *q, iface[80] = "";

        snprintf(buf, sizeof(buf), "%s", eps[i].url);
        if ((q = strstr(buf, "?source=")) != NULL) {
            snprintf(iface, sizeof(iface), "host!%.64s", q + 8);
            *q = '\0';
        }
        for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            CURL *h;

            if (strncmp(tok, "http://", 7) != 0 && strncmp(tok, "https://", 8) != 0) {
                et_close(c);
                return fl_errf(err, -EINVAL,
                               "bad etcd endpoint '%s' (expected http://ADDR:PORT,...)",
                               eps[i].url);
            }
            if (e->n == ET_MAX_MEMBERS ||
                (h = fl_http_easy(NULL, c->timeout_ms, &c->body, NULL)) == NULL) {
                et_close(c);
                return fl_errf(err, -ENOMEM, "too many members or out of memory");
            }
            snprintf(e->base[e->n], sizeof(e->base[0]), "%s", tok);
            curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->hdr);
            curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
            if (iface[0])
                curl_easy_setopt(h, CURLOPT_INTERFACE, iface);
            e->c[e->n++] = h;
        }
        if (e->n == 0) {
            et_close(c);
            return fl_errf(err, -EINVAL, "empty etcd endpoint");
        }
    }
    *conn = c;
    return 0;
}

/* Classify an etcd error text: true if the request cannot have been applied. */
static bool definitely_not_applied(const char *msg)
{
    return strstr(msg, "no leader") || strstr(msg, "not capable") ||
           strstr(msg, "too many requests") || strstr(msg, "key not found") ||
           strstr(msg, "stopped");
}

/* Decimal value of a base64 "value" field (0 when absent). */
static uint64_t kv_value(const json_t *kv)
{
    const char *v = json_string_value(json_object_get(kv, "value"));
    char dec[32];

    if (!v)
        return 0;
    b64dec(v, dec, sizeof(dec));
    return strtoull(dec, NULL, 10);
}

/*
 * The request for req: its gateway path and JSON body in buf. Set model: an
 * element E of key K is the key "K/E" (E zero-padded to 20 digits so the
 * range comes back in element order); a read is the range ["K/", "K0").
 * Returns the path, or NULL when the body does not fit.
 */
static const char *build(const struct fl_op_req *req, char *buf, size_t len)
{
    char k64[256], v64[64], e64[64], vtxt[24], etxt[24], ek[128], end[128], end64[256];
    const char *key = req->key ? req->key : "";
    const char *path;
    int n;

    snprintf(vtxt, sizeof(vtxt), "%" PRIu64, req->value);
    b64enc(vtxt, v64, sizeof(v64));
    if (req->set_model && req->kind == FL_OP_WRITE) {
        snprintf(ek, sizeof(ek), "%.80s/%020" PRIu64, key, req->value);
        b64enc(ek, k64, sizeof(k64));
    } else if (req->set_model && req->kind == FL_OP_READ) {
        snprintf(ek, sizeof(ek), "%.80s/", key);
        snprintf(end, sizeof(end), "%.80s0", key); /* '/' + 1 */
        b64enc(ek, k64, sizeof(k64));
        b64enc(end, end64, sizeof(end64));
        n = snprintf(buf, len, "{\"key\":\"%s\",\"range_end\":\"%s\"}", k64, end64);
        return n > 0 && (size_t)n < len ? "/v3/kv/range" : NULL;
    } else {
        b64enc(key, k64, sizeof(k64));
    }
    switch (req->kind) {
    case FL_OP_READ:
        path = "/v3/kv/range";
        n = snprintf(buf, len, "{\"key\":\"%s\"}", k64);
        break;
    case FL_OP_DELETE:
        path = "/v3/kv/deleterange";
        n = snprintf(buf, len, "{\"key\":\"%s\"}", k64);
        break;
    case FL_OP_WRITE:
        path = "/v3/kv/put";
        n = snprintf(buf, len, "{\"key\":\"%s\",\"value\":\"%s\"}", k64, v64);
        break;
    case FL_OP_CAS:
    default:
        /* One transaction: compare, put on success, read the key on failure. */
        path = "/v3/kv/txn";
        if (req->expected) {
            snprintf(etxt, sizeof(etxt), "%" PRIu64, req->expected);
            b64enc(etxt, e64, sizeof(e64));
            n = snprintf(buf, len,
                         "{\"compare\":[{\"key\":\"%s\",\"target\":\"VALUE\",\"result\":\"EQUAL\","
                         "\"value\":\"%s\"}],",
                         k64, e64);
        } else {
            n = snprintf(buf, len,
                         "{\"compare\":[{\"key\":\"%s\",\"target\":\"CREATE\",\"result\":\"EQUAL\","
                         "\"create_revision\":\"0\"}],",
                         k64);
        }
        if (n <= 0 || (size_t)n >= len)
            return NULL;
        n += snprintf(buf + n, len - (size_t)n,
                      "\"success\":[{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}}],"
                      "\"failure\":[{\"request_range\":{\"key\":\"%s\"}}]}",
                      k64, v64, k64);
        break;
    }
    return n > 0 && (size_t)n < len ? path : NULL;
}

/* A 200 answer without an error: what it says, by kind. */
static void parse_ok(struct et_conn *c, const struct fl_op_req *req, json_t *o,
                     struct fl_op_result *res)
{
    json_t *kvs = json_object_get(o, "kvs"), *kv;
    size_t i;

    res->outcome = HIST_OK;
    if (req->kind == FL_OP_CAS) {
        json_t *r0 = json_array_get(json_object_get(o, "responses"), 0), *rr;

        res->swapped = json_is_true(json_object_get(o, "succeeded"));
        rr = json_object_get(r0, "response_range");
        if (!rr)
            rr = json_object_get(r0, "responseRange");
        if (!res->swapped && rr) {
            res->current_known = true;
            res->current = kv_value(json_array_get(json_object_get(rr, "kvs"), 0));
        }
        return;
    }
    if (req->kind != FL_OP_READ)
        return;
    if (!req->set_model) {
        res->value = kv_value(json_array_get(kvs, 0));
        return;
    }
    c->elems.n = 0;
    json_array_foreach(kvs, i, kv)
    {
        if (fl_elems_push(&c->elems, kv_value(kv)) < 0) {
            res->outcome = HIST_FAIL;
            snprintf(res->error, sizeof(res->error), "range: too many elements");
            return;
        }
    }
    fl_elems_result(&c->elems, res);
}

static void et_op(void *conn, size_t ep, const struct fl_op_req *req, struct fl_op_result *res)
{
    struct et_conn *c = conn;
    char url[192], body[1024];
    const char *path;
    struct et_ep *e;
    CURLcode rc;
    long status = 0;
    json_t *o = NULL;
    CURL *h;

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
    if ((path = build(req, body, sizeof(body))) == NULL) {
        res->outcome = HIST_FAIL;
        snprintf(res->error, sizeof(res->error), "key too long");
        return;
    }
    h = e->c[e->cur];
    snprintf(url, sizeof(url), "%s%s", e->base[e->cur], path);
    fl_buf_reset(&c->body);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    res->status = (int)status;
    if (rc != CURLE_OK) {
        curl_off_t sent = 0;

        curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
        res->retryable = true;
        /* Nothing sent (refused, connect timeout): nothing can have been applied. */
        res->outcome = sent == 0 ? HIST_FAIL : HIST_INFO;
        snprintf(res->error, sizeof(res->error), "%s: %s", e->base[e->cur],
                 rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : curl_easy_strerror(rc));
        e->cur = (e->cur + 1) % e->n;
        return;
    }
    o = json_loadb(c->body.p ? c->body.p : "", c->body.len, 0, NULL);
    if (status == 200 && json_is_object(o) && !json_object_get(o, "error")) {
        parse_ok(c, req, o, res);
    } else {
        const char *msg = json_string_value(json_object_get(o, "error"));

        if (!msg)
            msg = json_string_value(json_object_get(o, "message"));
        snprintf(res->error, sizeof(res->error), "%s", msg ? msg : "http error");
        if (!msg)
            snprintf(res->error, sizeof(res->error), "http %ld", status);
        res->outcome = msg && definitely_not_applied(msg) ? HIST_FAIL : HIST_INFO;
        if (req->kind == FL_OP_READ)
            res->outcome = HIST_FAIL; /* a failed read changed nothing */
        res->retryable = status >= 500 || status == 0;
        if (res->retryable)
            e->cur = (e->cur + 1) % e->n;
    }
    json_decref(o);
}

const struct fl_driver_ops fl_driver_etcd = {
    .name = "etcd",
    .open = et_open,
    .op = et_op,
    .close = et_close,
    .is_write = et_is_write,
    .is_delete = et_is_delete,
};
