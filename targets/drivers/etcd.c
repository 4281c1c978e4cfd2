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
 * cas (create-if-absent in one transaction: put only if the key's version
 * is 0; a failed comparison is fail "cas: compare failed").
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

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    return fl_buf_add(arg, p, sz * n) == 0 ? sz * n : 0;
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
    fl_buf_init(&c->body, 1 << 20);
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
            if (e->n == ET_MAX_MEMBERS || (h = curl_easy_init()) == NULL) {
                et_close(c);
                return fl_errf(err, -ENOMEM, "too many members or out of memory");
            }
            snprintf(e->base[e->n], sizeof(e->base[0]), "%s", tok);
            curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->hdr);
            curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
            curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
            curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
            curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
            curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
            curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->body);
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
           strstr(msg, "stopped") || strstr(msg, "compare failed");
}

static void et_op(void *conn, size_t ep, const char *op, const char *key, uint64_t value,
                  struct fl_op_result *res)
{
    struct et_conn *c = conn;
    bool wr = et_is_write(op), del = et_is_delete(op);
    char k64[256], v64[64], vtxt[24], url[192], req[1024];
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
    if (wr && !del)
        res->value = value;
    b64enc(key ? key : "", k64, sizeof(k64));
    snprintf(vtxt, sizeof(vtxt), "%" PRIu64, value);
    b64enc(vtxt, v64, sizeof(v64));
    if (strcmp(op, "get") == 0 || strcmp(op, "read") == 0) {
        path = "/v3/kv/range";
        snprintf(req, sizeof(req), "{\"key\":\"%s\"}", k64);
    } else if (del) {
        path = "/v3/kv/deleterange";
        snprintf(req, sizeof(req), "{\"key\":\"%s\"}", k64);
    } else if (strcmp(op, "cas") == 0) {
        /* Create-if-absent: version == 0, then put. */
        path = "/v3/kv/txn";
        snprintf(
            req, sizeof(req),
            "{\"compare\":[{\"key\":\"%s\",\"target\":\"VERSION\",\"result\":\"EQUAL\","
            "\"version\":\"0\"}],\"success\":[{\"requestPut\":{\"key\":\"%s\",\"value\":\"%s\"}}]}",
            k64, k64, v64);
    } else if (wr) {
        path = "/v3/kv/put";
        snprintf(req, sizeof(req), "{\"key\":\"%s\",\"value\":\"%s\"}", k64, v64);
    } else {
        res->outcome = HIST_FAIL;
        snprintf(res->error, sizeof(res->error), "unknown operation '%s' (get, put, delete, cas)",
                 op);
        return;
    }
    h = e->c[e->cur];
    snprintf(url, sizeof(url), "%s%s", e->base[e->cur], path);
    fl_buf_reset(&c->body);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(req));
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
        if (strcmp(op, "cas") == 0 && !json_is_true(json_object_get(o, "succeeded"))) {
            res->outcome = HIST_FAIL;
            snprintf(res->error, sizeof(res->error), "cas: compare failed");
        } else {
            res->outcome = HIST_OK;
        }
        if (!wr) {
            json_t *kvs = json_object_get(o, "kvs");
            const char *v = json_string_value(json_object_get(json_array_get(kvs, 0), "value"));
            char dec[32];

            if (v) {
                b64dec(v, dec, sizeof(dec));
                res->value = strtoull(dec, NULL, 10);
            }
        }
    } else {
        const char *msg = json_string_value(json_object_get(o, "error"));

        if (!msg)
            msg = json_string_value(json_object_get(o, "message"));
        snprintf(res->error, sizeof(res->error), "%s", msg ? msg : "http error");
        if (!msg)
            snprintf(res->error, sizeof(res->error), "http %ld", status);
        res->outcome = msg && definitely_not_applied(msg) ? HIST_FAIL : HIST_INFO;
        if (!wr)
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
