/*
 * The controller's client of the agents' API: one request to many agents at
 * once. Every call of the run (health, capabilities, apply, renew, heal,
 * revert-all) goes through agents_call(): the requests are built from one
 * description, sent together through one curl multi handle (so applying a
 * fault on N hosts takes one round trip, not N), and each answer comes back
 * parsed, with ok decided and, when not ok, one line saying why.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "faultline/buf.h"
#include "faultline/http.h"
#include "agent_tls.h"
#include "agent_token.h"
#include "run_int.h"

#define RESP_MAX (1 << 20)

/* One transfer of a call: the handle, its URL, headers' owner, body and answer. */
struct xfer {
    CURL *e;
    char url[EXP_URL_MAX + 160];
    char *body;
    struct curl_slist *hdr; /* its agent's token: wiped at free */
    struct fl_buf resp;
    int code; /* the transfer's CURLcode */
    char err[CURL_ERROR_SIZE];
};

int agents_init(struct agents *A, const struct exp_topology *t, const char *token)
{
    size_t i;

    memset(A, 0, sizeof(*A));
    A->url = calloc(t->n_hosts ? t->n_hosts : 1, sizeof(*A->url));
    A->dead = calloc(t->n_hosts ? t->n_hosts : 1, sizeof(*A->dead));
    if (!A->url || !A->dead) {
        agents_free(A);
        return -ENOMEM;
    }
    for (i = 0; i < t->n_hosts; i++)
        snprintf(A->url[i], EXP_URL_MAX, "%s", t->hosts[i].agent);
    A->n = t->n_hosts;
    A->token = token;
    return 0;
}

void agents_free(struct agents *A)
{
    size_t i;

    for (i = 0; A->tokens != NULL && i < A->n; i++)
        agent_token_free(A->tokens[i]);
    free(A->tokens);
    A->tokens = NULL;
    free(A->url);
    free(A->dead);
    A->url = NULL;
    A->dead = NULL;
    A->n = 0;
}

static bool accepted(const struct agent_call *c, long status)
{
    size_t i;

    if (c->accept == NULL)
        return status == 200;
    for (i = 0; c->accept[i] != 0; i++)
        if (c->accept[i] == status)
            return true;
    return false;
}

/* The error text of a failed request: the agent's {"error"} or curl's message. */
static void explain(struct agent_reply *r, const struct xfer *x)
{
    const char *e = json_string_value(json_object_get(r->body, "error"));

    if (r->status == 0)
        snprintf(r->why, sizeof(r->why), "no answer: %s", x->err[0] ? x->err : "unknown error");
    else
        snprintf(r->why, sizeof(r->why), "HTTP %ld: %s", r->status,
                 e ? e : (x->resp.p ? x->resp.p : ""));
}

static int xfer_add(CURLM *m, struct xfer *x, const struct agent_call *c, size_t i, const char *url,
                    const char *token, const struct agent_tls *tls)
{
    json_t *const body = c->bodies ? c->bodies[i] : NULL;

    if ((x->hdr = agent_headers(token)) == NULL)
        return -ENOMEM;

    snprintf(x->url, sizeof(x->url), "%s%s", url, c->path);
    fl_buf_init(&x->resp, RESP_MAX);
    x->e = fl_http_easy(x->url, c->timeout_ms, &x->resp, x->err);
    if (x->e == NULL)
        return -ENOMEM;
    agent_tls_apply(x->e, tls);
    if (body != NULL && (x->body = json_dumps(body, JSON_COMPACT)) == NULL)
        return -ENOMEM;
    curl_easy_setopt(x->e, CURLOPT_CUSTOMREQUEST, c->method);
    if (x->body)
        curl_easy_setopt(x->e, CURLOPT_POSTFIELDS, x->body);
    else if (strcmp(c->method, "POST") == 0)
        curl_easy_setopt(x->e, CURLOPT_POSTFIELDS, "{}");
    curl_easy_setopt(x->e, CURLOPT_HTTPHEADER, x->hdr);
    curl_easy_setopt(x->e, CURLOPT_PRIVATE, x);
    return curl_multi_add_handle(m, x->e) == CURLM_OK ? 0 : -ENOMEM;
}

/* Run every transfer of m to the end; a transfer that fails keeps curl's text in err. */
static void perform_all(CURLM *m)
{
    CURLMsg *msg;
    int running = 0, left;

    do {
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        if (running)
            curl_multi_poll(m, NULL, 0, 50, NULL);
    } while (running);
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
        struct xfer *x = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x != NULL)
            x->code = (int)msg->data.result;
        if (x != NULL && msg->data.result != CURLE_OK && !x->err[0])
            snprintf(x->err, sizeof(x->err), "%s", curl_easy_strerror(msg->data.result));
    }
}

static void collect(struct agent_call *c, struct xfer *x)
{
    size_t i;

    for (i = 0; i < c->n; i++) {
        struct agent_reply *r = &c->r[i];

        r->host = c->hosts ? c->hosts[i] : i;
        r->status = 0;
        r->curl_code = x[i].code;
        if (x[i].e != NULL && !x[i].err[0])
            curl_easy_getinfo(x[i].e, CURLINFO_RESPONSE_CODE, &r->status);
        if (c->raw)
            r->body = json_stringn(x[i].resp.p ? x[i].resp.p : "", x[i].resp.len);
        else
            r->body = x[i].resp.p ? json_loadb(x[i].resp.p, x[i].resp.len, 0, NULL) : NULL;
        r->ok = accepted(c, r->status);
        if (!r->ok) {
            explain(r, &x[i]);
            if (c->failed++ == 0)
                c->first_failed = i;
        }
    }
}

/* Host h's token: its own (a per-agent token_file), else the run's. */
static const char *host_token(const struct agents *A, size_t h)
{
    return A->tokens != NULL && h < A->n && A->tokens[h] != NULL ? A->tokens[h] : A->token;
}

int agents_call(const struct agents *A, struct agent_call *c)
{
    CURLM *m = curl_multi_init();
    struct xfer *x = calloc(c->n ? c->n : 1, sizeof(*x));
    size_t i;
    int r = 0;

    c->failed = c->first_failed = 0;
    c->r = calloc(c->n ? c->n : 1, sizeof(*c->r));
    if (!m || !x || !c->r) {
        r = -ENOMEM;
        goto out;
    }
    for (i = 0; i < c->n && r == 0; i++) {
        size_t h = c->hosts ? c->hosts[i] : i;

        r = xfer_add(m, &x[i], c, i, A->url[h], host_token(A, h), A->tls);
    }
    if (r == 0) {
        perform_all(m);
        collect(c, x);
    }
out:
    for (i = 0; x && i < c->n; i++) {
        if (x[i].e) {
            curl_multi_remove_handle(m, x[i].e);
            curl_easy_cleanup(x[i].e);
        }
        free(x[i].body);
        fl_buf_free(&x[i].resp);
        agent_headers_free(x[i].hdr);
    }
    free(x);
    if (m)
        curl_multi_cleanup(m);
    if (r < 0) {
        free(c->r);
        c->r = NULL;
    }
    return r;
}

void agent_call_free(struct agent_call *c)
{
    size_t i;

    for (i = 0; c->r && i < c->n; i++)
        json_decref(c->r[i].body);
    free(c->r);
    c->r = NULL;
}
