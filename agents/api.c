/*
 * The HTTP/JSON API over libmicrohttpd. This layer authenticates, reads a
 * capped body, parses it strictly with jansson (unknown fields, wrong types
 * and duplicate keys are 400s), routes, and answers with JSON; it changes
 * nothing itself: state changes go through agent.c. The bearer token is
 * checked on the first callback, before any body is read, and a too-large
 * Content-Length is refused there too, so unauthenticated or oversized
 * requests cost nothing. With --tls-client-ca the client certificate is
 * checked before the token, on every request (client_cert_ok()); a request
 * without a valid one gets 403. Every error is {"error": "..."} and leaves the
 * agent's state as it was. Every 4xx answer is written to the audit trail
 * as a "refused" entry (handler(), after the route answered); the changes
 * themselves are recorded by agent.c under its lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "agent.h"
#include "faultline/buf.h"
#include "faultline/json.h"
#include "faultline/log.h"
#include "faultline/timeutil.h"

struct req {
    struct fl_buf body;
    bool too_big;
    bool answered; /* a response was queued on the first call */
    bool authed;   /* the token was checked and right */
    int64_t t0;
    /* What a refused request named, for its audit entry ("" when unknown). */
    char id[INJ_ID_MAX + 1];
    char kind[32];
    char spec_sha256[AGENT_SHA256_HEX];
};

/*
 * The answer queued by the current handler call, for the audit entry of a
 * refused request. Thread-local: libmicrohttpd runs each callback start to
 * end on one thread, and handler() resets it before routing.
 */
static __thread unsigned tl_status;
static __thread char tl_error[FL_ERR_MAX + 64];

static const char *const HDR_JSON = "application/json";

static enum MHD_Result send_text(struct agent *a, struct MHD_Connection *c, unsigned status,
                                 char *text, const char *ctype, const char *allow)
{
    struct MHD_Response *resp;
    enum MHD_Result r;

    if (text == NULL) {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        text = strdup("{\"error\":\"out of memory\"}");
        if (text == NULL)
            return MHD_NO;
    }
    resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"faultline-agent\"");
    r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    agent_count_status(a, status);
    tl_status = status;
    return r;
}

/* Answer with body (reference stolen). */
static enum MHD_Result send_json(struct agent *a, struct MHD_Connection *c, unsigned status,
                                 json_t *body)
{
    json_t *e = json_object_get(body, "error");
    char *text;

    /* Errors answered by other modules (captures): their text for the audit trail. */
    if (status >= 400 && json_is_string(e))
        snprintf(tl_error, sizeof(tl_error), "%s", json_string_value(e));
    text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return send_text(a, c, status, text, HDR_JSON, NULL);
}

static enum MHD_Result send_error(struct agent *a, struct MHD_Connection *c, unsigned status,
                                  const char *allow, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static enum MHD_Result send_error(struct agent *a, struct MHD_Connection *c, unsigned status,
                                  const char *allow, const char *fmt, ...)
{
    char msg[FL_ERR_MAX + 64], *text;
    json_t *o;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(tl_error, sizeof(tl_error), "%s", msg);
    o = json_pack("{s:s}", "error", msg);
    text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return send_text(a, c, status, text, HDR_JSON, allow);
}

static enum MHD_Result send_err(struct agent *a, struct MHD_Connection *c, int code,
                                const struct fl_err *err)
{
    return send_error(a, c, agent_status_of(code), NULL, "%s",
                      err->msg[0] ? err->msg : strerror(-code));
}

/* The peer's address, or NULL. */
static const struct sockaddr *client_addr(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    return ci != NULL ? ci->client_addr : NULL;
}

static bool authorized(struct agent *a, struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    while (*h == ' ')
        h++;
    return agent_token_equal(a->cfg->token, a->cfg->token_len, h, strlen(h));
}

/* why = "<reason>" for the first certificate the client sent, with its subject. */
static void peer_reason(gnutls_session_t s, const char *reason, char *why, size_t len)
{
    const gnutls_datum_t *peers;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t dn = {NULL, 0};
    unsigned n = 0;

    peers = gnutls_certificate_get_peers(s, &n);
    if (peers != NULL && n > 0 && gnutls_x509_crt_init(&crt) == 0 &&
        gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) == 0 &&
        gnutls_x509_crt_get_dn2(crt, &dn) == 0)
        snprintf(why, len, "certificate '%.160s' %s", (const char *)dn.data, reason);
    else
        snprintf(why, len, "certificate %s", reason);
    gnutls_free(dn.data);
    if (crt != NULL)
        gnutls_x509_crt_deinit(crt);
}

/*
 * --tls-client-ca: does this connection carry a client certificate that
 * verifies against that CA, for TLS client authentication? libmicrohttpd
 * loads the CA as the session's trust list and asks every client for a
 * certificate (GNUTLS_CERT_REQUEST), but its handshake also completes
 * without one or with an untrusted one; the verdict is given here, as a 403
 * the client can read (and the audit trail records), not as a handshake
 * alert. The purpose check (extended key usage clientAuth, when the
 * certificate lists usages) keeps an agent's own serverAuth certificate from
 * the same CA out. Validity dates are checked (gnutls's default); there is
 * no revocation list. Costs one chain verification per request, less than
 * the handshake did. True without --tls-client-ca; otherwise why gets the
 * reason when false.
 */
static bool client_cert_ok(struct agent *a, struct MHD_Connection *c, char *why, size_t len)
{
    gnutls_typed_vdata_st purpose = {.type = GNUTLS_DT_KEY_PURPOSE_OID,
                                     .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT};
    const union MHD_ConnectionInfo *ci;
    gnutls_datum_t text = {NULL, 0};
    gnutls_session_t s;
    unsigned status = 0, n = 0;
    int r;

    if (a->cfg->tls_client_ca_pem == NULL)
        return true;
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ci == NULL || ci->tls_session == NULL) {
        snprintf(why, len, "no TLS session");
        return false;
    }
    s = (gnutls_session_t)ci->tls_session;
    if (gnutls_certificate_get_peers(s, &n) == NULL || n == 0) {
        snprintf(why, len,
                 "none presented; this agent accepts only clients with a certificate from its "
                 "--tls-client-ca (faultline run --cert FILE --key FILE)");
        return false;
    }
    r = gnutls_certificate_verify_peers(s, &purpose, 1, &status);
    if (r < 0) {
        peer_reason(s, gnutls_strerror(r), why, len);
        return false;
    }
    if (status == 0)
        return true;
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) == 0) {
        char reason[256];
        size_t end;

        snprintf(reason, sizeof(reason), "not accepted by --tls-client-ca: %.200s",
                 (const char *)text.data);
        end = strlen(reason);
        while (end > 0 && reason[end - 1] == ' ') /* gnutls ends each sentence with one */
            reason[--end] = '\0';
        peer_reason(s, reason, why, len);
    } else {
        peer_reason(s, "not accepted by --tls-client-ca", why, len);
    }
    gnutls_free(text.data);
    return false;
}

/*
 * Parse the body as one JSON object. Empty body: *out = NULL when allow_empty.
 * Returns 0 or an HTTP status with msg filled.
 */
static unsigned parse_body(const struct req *rq, bool allow_empty, json_t **out, char *msg,
                           size_t len)
{
    json_error_t je;
    json_t *j;

    *out = NULL;
    if (rq->body.len == 0) {
        if (allow_empty)
            return 0;
        snprintf(msg, len, "request body must be a JSON object");
        return MHD_HTTP_BAD_REQUEST;
    }
    j = json_loadb(rq->body.p, rq->body.len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL) {
        snprintf(msg, len, "malformed JSON at line %d column %d: %s", je.line, je.column, je.text);
        return MHD_HTTP_BAD_REQUEST;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(msg, len, "request body must be a JSON object");
        return MHD_HTTP_BAD_REQUEST;
    }
    *out = j;
    return 0;
}

/* Every key of o must be in allowed; msg names the first stranger. */
static bool known_keys(const json_t *o, const char *const *allowed, char *msg, size_t len)
{
    const char *key = fl_json_unknown_key(o, allowed);

    if (key != NULL)
        snprintf(msg, len, "unknown field '%.64s'", key);
    return key == NULL;
}

/* Optional/required ttl_ms. Returns 0 or 400 with msg. *ttl untouched when absent. */
static unsigned get_ttl(const json_t *o, bool required, int64_t *ttl, char *msg, size_t len)
{
    json_t *v = json_object_get(o, "ttl_ms");

    if (v == NULL) {
        if (!required)
            return 0;
        snprintf(msg, len, "missing field 'ttl_ms': every fault has a lease (%d..%lld ms)",
                 AGENT_TTL_MIN_MS, AGENT_TTL_MAX_MS);
        return MHD_HTTP_BAD_REQUEST;
    }
    if (!json_is_integer(v)) {
        snprintf(msg, len, "field 'ttl_ms' must be an integer (milliseconds)");
        return MHD_HTTP_BAD_REQUEST;
    }
    if (json_integer_value(v) < AGENT_TTL_MIN_MS || json_integer_value(v) > AGENT_TTL_MAX_MS) {
        snprintf(msg, len, "field 'ttl_ms' must be %d..%lld", AGENT_TTL_MIN_MS, AGENT_TTL_MAX_MS);
        return MHD_HTTP_BAD_REQUEST;
    }
    *ttl = (int64_t)json_integer_value(v);
    return 0;
}

static int64_t to_wall(int64_t mono)
{
    return fl_wall_ns() - (fl_now_ns() - mono);
}

static json_t *lease_answer(const struct agent_lease *l, bool created)
{
    int64_t left = (l->expires_ns - fl_now_ns()) / 1000000LL;

    return json_pack("{s:s,s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:s}", "id", l->id, "kind", l->kind,
                     "created", created, "ttl_ms", (json_int_t)l->ttl_ms, "expires_in_ms",
                     (json_int_t)(left > 0 ? left : 0), "apply_start_ns",
                     (json_int_t)l->apply_start_ns, "apply_end_ns", (json_int_t)l->apply_end_ns,
                     "apply_start_wall_ns", (json_int_t)to_wall(l->apply_start_ns),
                     "apply_end_wall_ns", (json_int_t)to_wall(l->apply_end_ns), "clock",
                     "CLOCK_MONOTONIC");
}

/* The kind and canonical spec hash of f, for the audit entry if the apply is refused. */
static void audit_note_fault(struct req *rq, const struct inj_fault *f)
{
    json_t *spec = inj_fault_to_json(f);

    snprintf(rq->kind, sizeof(rq->kind), "%s", inj_fault_kind(f));
    if (spec != NULL)
        agent_spec_sha256(spec, rq->spec_sha256);
    json_decref(spec);
}

static enum MHD_Result post_fault(struct agent *a, struct MHD_Connection *c, struct req *rq)
{
    static const char *const keys[] = {"id", "fault", "ttl_ms", NULL};
    struct agent_apply_result res;
    struct inj_fault *f = NULL;
    struct fl_err err;
    char msg[FL_ERR_MAX + 64];
    json_t *body, *id, *spec;
    int64_t ttl = 0;
    unsigned st;
    int r;

    fl_err_clear(&err);
    st = parse_body(rq, false, &body, msg, sizeof(msg));
    if (st == 0 && !known_keys(body, keys, msg, sizeof(msg)))
        st = MHD_HTTP_BAD_REQUEST;
    if (st != 0)
        goto bad;
    id = json_object_get(body, "id");
    spec = json_object_get(body, "fault");
    if (!json_is_string(id)) {
        snprintf(msg, sizeof(msg), "%s", id ? "field 'id' must be a string" : "missing field 'id'");
        st = MHD_HTTP_BAD_REQUEST;
        goto bad;
    }
    if (!inj_id_valid(json_string_value(id))) {
        snprintf(msg, sizeof(msg), "bad fault id: expected [A-Za-z0-9_.-]{1,%d}", INJ_ID_MAX);
        st = MHD_HTTP_BAD_REQUEST;
        goto bad;
    }
    snprintf(rq->id, sizeof(rq->id), "%s", json_string_value(id));
    if (!json_is_object(spec)) {
        snprintf(msg, sizeof(msg), "%s",
                 spec ? "field 'fault' must be an object" : "missing field 'fault'");
        st = MHD_HTTP_BAD_REQUEST;
        goto bad;
    }
    /* A spec that does not parse is audited by the hash of what was sent. */
    agent_spec_sha256(spec, rq->spec_sha256);
    if ((st = get_ttl(body, true, &ttl, msg, sizeof(msg))) != 0)
        goto bad;
    r = inj_fault_parse_json(spec, &f, &err);
    if (r < 0) {
        snprintf(msg, sizeof(msg), "fault: %s", err.msg[0] ? err.msg : strerror(-r));
        st = MHD_HTTP_BAD_REQUEST;
        goto bad;
    }
    /* A kill of an allowed target gets the restart command the agent is configured with. */
    r = agent_process_fill(a->cfg, &f, &err);
    if (r == 0)
        audit_note_fault(rq, f);
    if (r == 0)
        r = agent_fault_apply(a, json_string_value(id), f, ttl, client_addr(c), &res, &err);
    if (fl_log_verbose() || r < 0)
        log_info("apply %s (%s): %s", json_string_value(id), inj_fault_kind(f),
                 r < 0         ? err.msg
                 : res.created ? "applied"
                               : "already applied");
    inj_fault_free(f);
    json_decref(body);
    if (r < 0)
        return send_err(a, c, r, &err);
    return send_json(a, c, res.created ? MHD_HTTP_CREATED : MHD_HTTP_OK,
                     lease_answer(&res.lease, res.created));
bad:
    json_decref(body);
    return send_error(a, c, st, NULL, "%s", msg);
}

static enum MHD_Result post_renew(struct agent *a, struct MHD_Connection *c, struct req *rq,
                                  const char *id)
{
    static const char *const keys[] = {"ttl_ms", NULL};
    struct agent_lease l;
    struct fl_err err;
    char msg[FL_ERR_MAX + 64];
    json_t *body;
    int64_t ttl = 0;
    unsigned st;
    int r;

    fl_err_clear(&err);
    st = parse_body(rq, true, &body, msg, sizeof(msg));
    if (st == 0 && body != NULL && !known_keys(body, keys, msg, sizeof(msg)))
        st = MHD_HTTP_BAD_REQUEST;
    if (st == 0 && body != NULL)
        st = get_ttl(body, false, &ttl, msg, sizeof(msg));
    json_decref(body);
    if (st != 0)
        return send_error(a, c, st, NULL, "%s", msg);
    r = agent_fault_renew(a, id, ttl, client_addr(c), &l, &err);
    if (r < 0)
        return send_err(a, c, r, &err);
    return send_json(a, c, MHD_HTTP_OK, lease_answer(&l, false));
}

static enum MHD_Result delete_fault(struct agent *a, struct MHD_Connection *c, struct req *rq,
                                    const char *id)
{
    struct fl_err err;
    int64_t t0, t1;
    int r;

    if (rq->body.len != 0)
        return send_error(a, c, MHD_HTTP_BAD_REQUEST, NULL, "DELETE takes no body");
    fl_err_clear(&err);
    t0 = fl_now_ns();
    r = agent_fault_revert(a, id, client_addr(c), &err);
    t1 = fl_now_ns();
    if (fl_log_verbose() || (r < 0 && r != -ENOENT))
        log_info("revert %s: %s", id, r < 0 ? err.msg : "reverted");
    if (r < 0)
        return send_err(a, c, r, &err);
    return send_json(a, c, MHD_HTTP_OK,
                     json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:s}", "id", id, "reverted", 1,
                               "revert_start_ns", (json_int_t)t0, "revert_end_ns", (json_int_t)t1,
                               "revert_start_wall_ns", (json_int_t)to_wall(t0),
                               "revert_end_wall_ns", (json_int_t)to_wall(t1), "clock",
                               "CLOCK_MONOTONIC"));
}

static enum MHD_Result post_revert_all(struct agent *a, struct MHD_Connection *c, struct req *rq)
{
    static const char *const none[] = {NULL};
    struct fl_err err;
    char msg[FL_ERR_MAX + 64];
    json_t *body;
    unsigned st;
    size_t n = 0;
    int r;

    st = parse_body(rq, true, &body, msg, sizeof(msg));
    if (st == 0 && body != NULL && !known_keys(body, none, msg, sizeof(msg)))
        st = MHD_HTTP_BAD_REQUEST;
    json_decref(body);
    if (st != 0)
        return send_error(a, c, st, NULL, "%s", msg);
    fl_err_clear(&err);
    r = agent_revert_all(a, client_addr(c), &n, &err);
    log_info("revert-all: %zu fault(s)%s%s", n, r < 0 ? ": " : "", r < 0 ? err.msg : "");
    if (r < 0)
        return send_err(a, c, r, &err);
    return send_json(a, c, MHD_HTTP_OK, json_pack("{s:I}", "reverted", (json_int_t)n));
}

static enum MHD_Result get_faults(struct agent *a, struct MHD_Connection *c, const char *id)
{
    struct fl_err err;
    json_t *list = NULL, *one;
    int r;

    fl_err_clear(&err);
    r = agent_list(a, id, &list, &err);
    if (r < 0)
        return send_err(a, c, r, &err);
    if (id == NULL)
        return send_json(a, c, MHD_HTTP_OK, json_pack("{s:o}", "faults", list));
    one = json_array_get(list, 0);
    if (one == NULL) {
        json_decref(list);
        return send_error(a, c, MHD_HTTP_NOT_FOUND, NULL, "no active fault '%s'", id);
    }
    json_incref(one);
    json_decref(list);
    return send_json(a, c, MHD_HTTP_OK, one);
}

static enum MHD_Result get_health(struct agent *a, struct MHD_Connection *c)
{
    char when[40];
    int64_t since = 0;
    bool halted = agent_halted(a, NULL, 0, &since);
    json_t *o;

    o = json_pack("{s:s,s:s,s:I,s:I,s:b}", "status", "ok", "version", AGENT_VERSION, "uptime_ms",
                  (json_int_t)((fl_now_ns() - a->started_ns) / 1000000), "active_faults",
                  (json_int_t)agent_active(a), "halted", halted);
    if (o != NULL && halted) {
        json_object_set_new(o, "halted_since",
                            json_string(agent_iso_time(since, when, sizeof(when))));
        json_object_set_new(o, "halted_since_ns", json_integer(since));
    }
    return send_json(a, c, MHD_HTTP_OK, o);
}

/* No control characters (nor NUL): the reason goes into the log and the audit trail. */
static bool one_line(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/*
 * POST /v1/halt and /v1/resume, body optional {"reason": TEXT}: halt reverts
 * every fault and refuses new ones until resume (agent.c).
 */
static enum MHD_Result post_halt(struct agent *a, struct MHD_Connection *c, struct req *rq,
                                 bool halt)
{
    static const char *const keys[] = {"reason", NULL};
    char msg[FL_ERR_MAX + 64];
    const char *reason = NULL;
    struct fl_err err;
    json_t *body, *v;
    unsigned st;
    size_t n = 0;
    int r;

    st = parse_body(rq, true, &body, msg, sizeof(msg));
    if (st == 0 && body != NULL && !known_keys(body, keys, msg, sizeof(msg)))
        st = MHD_HTTP_BAD_REQUEST;
    v = body != NULL ? json_object_get(body, "reason") : NULL;
    if (st == 0 && v != NULL &&
        (!json_is_string(v) || json_string_length(v) > AGENT_REASON_MAX ||
         !one_line(json_string_value(v), json_string_length(v)))) {
        snprintf(msg, sizeof(msg),
                 "field 'reason' must be one line of text (no control characters), at most %d "
                 "bytes",
                 AGENT_REASON_MAX);
        st = MHD_HTTP_BAD_REQUEST;
    }
    if (st != 0) {
        json_decref(body);
        return send_error(a, c, st, NULL, "%s", msg);
    }
    reason = v != NULL ? json_string_value(v) : NULL;
    fl_err_clear(&err);
    r = halt ? agent_halt(a, client_addr(c), reason, &n, &err)
             : agent_resume(a, client_addr(c), reason, &err);
    json_decref(body);
    if (r < 0)
        return send_err(a, c, r, &err);
    if (halt)
        return send_json(a, c, MHD_HTTP_OK,
                         json_pack("{s:b,s:I}", "halted", 1, "reverted", (json_int_t)n));
    return send_json(a, c, MHD_HTTP_OK, json_pack("{s:b}", "halted", 0));
}

/* A query value: decimal digits only, lo..hi. */
static bool query_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v;

    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static enum MHD_Result query_key(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    const char **unknown = cls;

    if (strcmp(key, "since") != 0 && strcmp(key, "limit") != 0 && *unknown == NULL)
        *unknown = key;
    return MHD_YES;
}

/* GET /v1/audit?since=WALL_NS&limit=N: JSONL, the rotated file first. */
static enum MHD_Result get_audit(struct agent *a, struct MHD_Connection *c)
{
    const char *since_s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    const char *limit_s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    const char *unknown = NULL;
    long long since = 0, limit = AGENT_AUDIT_LIMIT_DEF;
    struct fl_err err;
    char *text = NULL;
    size_t len = 0;
    int r;

    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, query_key, &unknown);
    if (unknown != NULL)
        return send_error(a, c, MHD_HTTP_BAD_REQUEST, NULL,
                          "unknown query parameter '%.64s': /v1/audit takes since and limit",
                          unknown);
    if (since_s != NULL && !query_int(since_s, 0, INT64_MAX, &since))
        return send_error(a, c, MHD_HTTP_BAD_REQUEST, NULL,
                          "bad since '%.64s': expected wall-clock nanoseconds since the epoch "
                          "(an integer >= 0, as time_ns in the entries)",
                          since_s);
    if (limit_s != NULL && !query_int(limit_s, 1, AGENT_AUDIT_LIMIT_MAX, &limit))
        return send_error(a, c, MHD_HTTP_BAD_REQUEST, NULL, "bad limit '%.64s': expected 1..%d",
                          limit_s, AGENT_AUDIT_LIMIT_MAX);
    fl_err_clear(&err);
    r = agent_audit_read(a->audit, (int64_t)since, (size_t)limit, &text, &len, &err);
    if (r < 0)
        return send_err(a, c, r == -ENOENT ? -EIO : r, &err);
    (void)len;
    return send_text(a, c, MHD_HTTP_OK, text, "application/jsonl", NULL);
}

static json_t *kinds_json(void)
{
    const char *const *k = inj_kind_names();
    json_t *arr = json_array();

    for (; k != NULL && *k != NULL; k++)
        json_array_append_new(arr, json_string(*k));
    return arr;
}

static enum MHD_Result get_capabilities(struct agent *a, struct MHD_Connection *c)
{
    json_t *probe = a->caps != NULL ? json_deep_copy(a->caps) : NULL;

    /* Probed once at start-up (main.c): a request never creates probe objects. */
    if (probe == NULL)
        return send_error(a, c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                          "capability probe failed at start-up");
    return send_json(a, c, MHD_HTTP_OK,
                     json_pack("{s:o,s:o,s:b}", "kernel", probe, "kinds", kinds_json(), "captures",
                               agent_capture_supported()));
}

static enum MHD_Result send_capture(struct agent *a, struct MHD_Connection *c, unsigned st,
                                    json_t *out)
{
    return send_json(a, c, st, out);
}

/* Split "/v1/faults/ID/renew" into at most 4 segments after "/v1". */
static int split(const char *url, char seg[4][INJ_ID_MAX + 16])
{
    const char *p = url, *e;
    int n = 0;
    size_t len;

    while (*p == '/')
        p++;
    while (*p != '\0') {
        if (n == 4)
            return -1;
        e = strchr(p, '/');
        len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0 || len >= INJ_ID_MAX + 16)
            return -1;
        memcpy(seg[n], p, len);
        seg[n][len] = '\0';
        n++;
        p += len;
        while (*p == '/')
            p++;
    }
    return n;
}

static enum MHD_Result route(struct agent *a, struct MHD_Connection *c, const char *url,
                             const char *m, struct req *rq)
{
    char seg[4][INJ_ID_MAX + 16];
    bool get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0, del = strcmp(m, "DELETE") == 0;
    json_t *body = NULL, *out = NULL;
    char msg[FL_ERR_MAX + 64];
    unsigned st;
    int n;

    n = split(url, seg);
    if (n < 2 || strcmp(seg[0], "v1") != 0)
        return send_error(a, c, MHD_HTTP_NOT_FOUND, NULL, "no such endpoint");
    if (n == 2 && strcmp(seg[1], "health") == 0)
        return get ? get_health(a, c)
                   : send_error(a, c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET", "use GET");
    if (n == 2 && strcmp(seg[1], "capabilities") == 0) {
        if (!get)
            return send_error(a, c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET", "use GET");
        return get_capabilities(a, c);
    }
    if (n == 2 && strcmp(seg[1], "revert-all") == 0)
        return post ? post_revert_all(a, c, rq)
                    : send_error(a, c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST", "use POST");
    if (n == 2 && (strcmp(seg[1], "halt") == 0 || strcmp(seg[1], "resume") == 0))
        return post ? post_halt(a, c, rq, seg[1][0] == 'h')
                    : send_error(a, c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST", "use POST");
    if (n == 2 && strcmp(seg[1], "audit") == 0)
        return get ? get_audit(a, c)
                   : send_error(a, c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET", "use GET");
    if (strcmp(seg[1], "faults") == 0) {
        if (n == 2) {
            if (get)
                return get_faults(a, c, NULL);
            if (post)
                return post_fault(a, c, rq);
            return send_error(a, c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET, POST", "use GET or POST");
        }
        if (!inj_id_valid(seg[2]))
            return send_error(a, c, MHD_HTTP_BAD_REQUEST, NULL,
                              "bad fault id: expected [A-Za-z0-9_.-]{1,%d}", INJ_ID_MAX);
        snprintf(rq->id, sizeof(rq->id), "%.*s", INJ_ID_MAX, seg[2]);
        if (n == 3) {
            if (get)
                return get_faults(a, c, seg[2]);
            if (del)
                return delete_fault(a, c, rq, seg[2]);
            return send_error(a, c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET, DELETE",
                              "use GET or DELETE");
        }
        if (n == 4 && strcmp(seg[3], "renew") == 0)
            return post ? post_renew(a, c, rq, seg[2])
                        : send_error(a, c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST", "use POST");
    }
    if (strcmp(seg[1], "captures") == 0 && n <= 3) {
        if (n == 2 && get)
            return send_json(a, c, MHD_HTTP_OK,
                             json_pack("{s:o}", "captures", agent_capture_list(a)));
        if (n == 2 && post) {
            /* Captures are refused while halted too (nothing new on a halted host). */
            if (agent_halted(a, msg, sizeof(msg), NULL))
                return send_error(a, c, MHD_HTTP_CONFLICT, NULL, "%s", msg);
            st = parse_body(rq, false, &body, msg, sizeof(msg));
            if (st != 0)
                return send_error(a, c, st, NULL, "%s", msg);
            st = agent_capture_start(a, body, &out);
            json_decref(body);
            return send_capture(a, c, st, out);
        }
        if (n == 3 && del) {
            if (!inj_id_valid(seg[2]))
                return send_error(a, c, MHD_HTTP_BAD_REQUEST, NULL, "bad capture id");
            st = agent_capture_stop(a, seg[2], &out);
            return send_capture(a, c, st, out);
        }
        return send_error(a, c, MHD_HTTP_METHOD_NOT_ALLOWED, n == 2 ? "GET, POST" : "DELETE",
                          "method not allowed");
    }
    return send_error(a, c, MHD_HTTP_NOT_FOUND, NULL, "no such endpoint");
}

/* One "refused" audit entry for a 4xx answer. */
static void audit_refused(struct agent *a, struct MHD_Connection *c, const struct req *rq,
                          const char *method, const char *url)
{
    struct agent_audit_event ev = {.event = "refused", .reverted = -1};
    char request[128];

    snprintf(request, sizeof(request), "%.16s %.100s", method, url);
    ev.request = request;
    ev.caller = client_addr(c);
    ev.status = tl_status;
    /* Anyone can cause these: rate-limited, so a flood cannot rotate the real entries away. */
    ev.unauthenticated = rq == NULL || !rq->authed;
    ev.result = tl_error[0] ? tl_error : "refused";
    if (rq != NULL) {
        ev.id = rq->id[0] ? rq->id : NULL;
        ev.kind = rq->kind[0] ? rq->kind : NULL;
        ev.spec_sha256 = rq->spec_sha256[0] ? rq->spec_sha256 : NULL;
    }
    agent_audit_write(a->audit, &ev);
}

static enum MHD_Result handle(struct agent *a, struct MHD_Connection *c, const char *url,
                              const char *method, const char *upload, size_t *upload_size,
                              void **con_cls);

/* libmicrohttpd's access handler: handle() and the audit entry of a refusal. */
static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    struct agent *a = cls;
    enum MHD_Result r;

    tl_status = 0;
    tl_error[0] = '\0';
    r = handle(a, c, url, method, upload, upload_size, con_cls);
    if (tl_status >= 400 && tl_status < 500)
        audit_refused(a, c, *con_cls, method, url);
    return r;
}

static enum MHD_Result handle(struct agent *a, struct MHD_Connection *c, const char *url,
                              const char *method, const char *upload, size_t *upload_size,
                              void **con_cls)
{
    struct req *rq = *con_cls;
    const char *cl;
    enum MHD_Result r;
    char *end;
    unsigned long long len;

    if (rq == NULL) {
        char why[FL_ERR_MAX];

        rq = calloc(1, sizeof(*rq));
        if (rq == NULL)
            return MHD_NO;
        fl_buf_init(&rq->body, AGENT_BODY_MAX);
        rq->t0 = fl_now_ns();
        *con_cls = rq;
        /* Before anything else, /metrics included: mutual TLS leaves no endpoint open. */
        if (!client_cert_ok(a, c, why, sizeof(why))) {
            rq->answered = true;
            return send_error(a, c, MHD_HTTP_FORBIDDEN, NULL, "client certificate required: %s",
                              why);
        }
        if (strcmp(url, "/metrics") == 0) {
            /*
             * No token needed here, so nothing is buffered: a method other than
             * GET, or any body, is answered at once.
             */
            rq->answered = true;
            if (strcmp(method, "GET") != 0)
                return send_error(a, c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET", "use GET");
            cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            if ((cl != NULL && strcmp(cl, "0") != 0) ||
                MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                            MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
                return send_error(a, c, MHD_HTTP_BAD_REQUEST, NULL, "/metrics takes no body");
            return send_text(a, c, MHD_HTTP_OK,
                             agent_metrics_text(a, !a->cfg->private_metrics || authorized(a, c)),
                             "text/plain; version=0.0.4; charset=utf-8", NULL);
        }
        if (!authorized(a, c)) {
            rq->answered = true;
            return send_error(a, c, MHD_HTTP_UNAUTHORIZED, NULL, "missing or wrong bearer token");
        }
        rq->authed = true;
        cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL) {
            errno = 0;
            len = strtoull(cl, &end, 10);
            if (errno != 0 || *end != '\0' || len > AGENT_BODY_MAX) {
                rq->answered = true;
                return send_error(a, c, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
                                  "request body larger than %d bytes", AGENT_BODY_MAX);
            }
        }
        return MHD_YES;
    }
    if (rq->answered) {
        *upload_size = 0; /* discard the body of a refused request */
        return MHD_YES;
    }
    if (*upload_size != 0) {
        if (!rq->too_big && fl_buf_add(&rq->body, upload, *upload_size) < 0)
            rq->too_big = true;
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->too_big)
        return send_error(a, c, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
                          "request body larger than %d bytes", AGENT_BODY_MAX);
    r = route(a, c, url, method, rq);
    if (fl_log_verbose())
        log_debug("%s %s %.3f ms", method, url, (double)(fl_now_ns() - rq->t0) / 1e6);
    return r;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct req *rq = *con_cls;

    if (rq != NULL) {
        fl_buf_free(&rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;

    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    log_warnx("http: %s", line);
}

struct MHD_Daemon *agent_api_start(struct agent *a, int fd, struct fl_err *err)
{
    const struct agent_config *cfg = a->cfg;
    /* ITC: MHD_quiesce_daemon hands the socket to a new daemon on a certificate reload. */
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    struct MHD_OptionItem tls[5];
    struct MHD_Daemon *d;

    memset(tls, 0, sizeof(tls));
    tls[0].option = MHD_OPTION_END;
    if (cfg->tls_cert_pem != NULL) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            fl_errf(err, -EOPNOTSUPP, "this libmicrohttpd has no TLS support");
            return NULL;
        }
        flags |= MHD_USE_TLS;
        tls[0].option = MHD_OPTION_HTTPS_MEM_CERT;
        tls[0].ptr_value = cfg->tls_cert_pem;
        tls[1].option = MHD_OPTION_HTTPS_MEM_KEY;
        tls[1].ptr_value = cfg->tls_key_pem;
        tls[2].option = MHD_OPTION_HTTPS_PRIORITIES;
        tls[2].ptr_value = (void *)AGENT_TLS_PRIORITIES;
        tls[3].option = MHD_OPTION_END;
        if (cfg->tls_client_ca_pem != NULL) {
            /* Trust list for client_cert_ok(), and a certificate request in every handshake. */
            tls[3].option = MHD_OPTION_HTTPS_MEM_TRUST;
            tls[3].ptr_value = cfg->tls_client_ca_pem;
            tls[4].option = MHD_OPTION_END;
        }
    }
    d = MHD_start_daemon(
        flags, 0, NULL, NULL, handler, a, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, a,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, cfg->threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)512, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        cfg->per_ip_limit, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_NOTIFY_COMPLETED,
        completed, a, MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (d == NULL)
        fl_errf(err, -EIO, "libmicrohttpd failed to start (TLS key/certificate valid?)");
    return d;
}

void agent_api_stop(struct MHD_Daemon *d)
{
    if (d != NULL)
        MHD_stop_daemon(d);
}
