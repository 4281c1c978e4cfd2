/*
 * The agent's state and every operation that changes it: apply, renew,
 * revert, revert-all, and the lease thread that reverts a fault whose lease
 * ran out (so a dead controller never leaves a partition behind). One mutex
 * guards the injector context (not thread-safe), the lease table and the
 * metrics; the HTTP threads hold it only for the injector call itself. The
 * injector journals each fault (fsync) before touching the kernel, so the
 * lease table can stay in memory: after a crash the start-up recovery
 * reverts everything the journal names.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "faultline/buf.h"
#include "faultline/log.h"
#include "faultline/timeutil.h"

int agent_init(struct agent *a, const struct agent_config *cfg, struct inj_ctx *inj)
{
    pthread_condattr_t ca;

    memset(a, 0, sizeof(*a));
    a->cfg = cfg;
    a->inj = inj;
    a->started_ns = fl_now_ns();
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->mlock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cond, &ca);
    pthread_condattr_destroy(&ca);
    return 0;
}

void agent_fini(struct agent *a)
{
    agent_lease_stop(a);
    inj_close(a->inj);
    a->inj = NULL;
    free(a->leases);
    a->leases = NULL;
    a->n_leases = 0;
    json_decref(a->caps);
    a->caps = NULL;
    free(a->mcache[0]);
    free(a->mcache[1]);
    a->mcache[0] = a->mcache[1] = NULL;
    pthread_cond_destroy(&a->cond);
    pthread_mutex_destroy(&a->mlock);
    pthread_mutex_destroy(&a->lock);
}

static struct agent_lease *lease_find(struct agent *a, const char *id)
{
    size_t i;

    for (i = 0; i < a->n_leases; i++)
        if (strcmp(a->leases[i].id, id) == 0)
            return &a->leases[i];
    return NULL;
}

static void lease_remove(struct agent *a, struct agent_lease *l)
{
    size_t i = (size_t)(l - a->leases);

    memmove(&a->leases[i], &a->leases[i + 1], (a->n_leases - i - 1) * sizeof(*l));
    a->n_leases--;
}

static int64_t ms_to_ns(int64_t ms)
{
    return ms * 1000000LL;
}

int agent_fault_apply(struct agent *a, const char *id, const struct inj_fault *f, int64_t ttl_ms,
                      const struct sockaddr *client, struct agent_apply_result *res,
                      struct fl_err *err)
{
    struct agent_lease *l, *nl;
    int64_t t0, t1;
    int r;

    r = agent_policy_check(a->cfg, f, err);
    if (r == 0)
        r = agent_device_check(a->cfg, f, client, err);
    if (r < 0)
        return r;
    memset(res, 0, sizeof(*res));
    pthread_mutex_lock(&a->lock);
    if (a->stopping) {
        r = fl_errf(err, -ESHUTDOWN, "agent is shutting down");
        goto out;
    }
    l = lease_find(a, id);
    if (l == NULL && a->n_leases >= AGENT_FAULTS_MAX) {
        r = fl_errf(err, -ENOSPC, "too many active faults (%d)", AGENT_FAULTS_MAX);
        goto out;
    }
    /* Grow before applying, so that a successful apply always gets its lease. */
    if (l == NULL) {
        nl = realloc(a->leases, (a->n_leases + 1) * sizeof(*nl));
        if (nl == NULL) {
            r = fl_errf(err, -ENOMEM, "out of memory");
            goto out;
        }
        a->leases = nl;
    }
    t0 = fl_now_ns();
    r = inj_apply(a->inj, id, f, err);
    t1 = fl_now_ns();
    if (r < 0) {
        a->m.apply_failed++;
        goto out;
    }
    if (r == 1 && l != NULL) {
        /* Same id, same spec: idempotent; the repeated request renews the lease. */
        l->ttl_ms = ttl_ms;
        l->expires_ns = t1 + ms_to_ns(ttl_ms);
        res->created = 0;
        res->lease = *l;
        r = 0;
        pthread_cond_broadcast(&a->cond);
        goto out;
    }
    if (l == NULL)
        l = &a->leases[a->n_leases++];
    memset(l, 0, sizeof(*l));
    snprintf(l->id, sizeof(l->id), "%s", id);
    snprintf(l->kind, sizeof(l->kind), "%s", inj_fault_kind(f));
    l->ttl_ms = ttl_ms;
    l->apply_start_ns = t0;
    l->apply_end_ns = t1;
    l->expires_ns = t1 + ms_to_ns(ttl_ms);
    res->created = r == 0;
    res->lease = *l;
    if (r == 0) {
        a->m.applied++;
        a->m.apply_ns_sum += (uint64_t)(t1 - t0);
        a->m.apply_count++;
    }
    r = 0;
    pthread_cond_broadcast(&a->cond);
out:
    pthread_mutex_unlock(&a->lock);
    return r;
}

int agent_fault_renew(struct agent *a, const char *id, int64_t ttl_ms, struct agent_lease *out,
                      struct fl_err *err)
{
    struct agent_lease *l;
    int r = 0;

    pthread_mutex_lock(&a->lock);
    l = lease_find(a, id);
    if (l == NULL) {
        r = fl_errf(err, -ENOENT, "no active fault '%s'", id);
        goto out;
    }
    if (ttl_ms > 0)
        l->ttl_ms = ttl_ms;
    l->expires_ns = fl_now_ns() + ms_to_ns(l->ttl_ms);
    *out = *l;
    pthread_cond_broadcast(&a->cond);
out:
    pthread_mutex_unlock(&a->lock);
    return r;
}

int agent_fault_revert(struct agent *a, const char *id, struct fl_err *err)
{
    struct agent_lease *l;
    int r;

    pthread_mutex_lock(&a->lock);
    l = lease_find(a, id);
    if (l == NULL && !inj_has(a->inj, id)) {
        r = fl_errf(err, -ENOENT, "no active fault '%s'", id);
        goto out;
    }
    r = inj_revert(a->inj, id, err);
    if (r < 0)
        goto out; /* lease kept: the expiry retries */
    if (l != NULL)
        lease_remove(a, l);
    a->m.reverted++;
    r = 0;
    pthread_cond_broadcast(&a->cond);
out:
    pthread_mutex_unlock(&a->lock);
    return r;
}

int agent_revert_all(struct agent *a, size_t *n, struct fl_err *err)
{
    char **ids = NULL;
    size_t nids = 0, i;
    int r;

    pthread_mutex_lock(&a->lock);
    if (inj_ids(a->inj, &ids, &nids) < 0)
        nids = 0;
    /* Nothing journaled: nothing to revert (and no call into an empty journal). */
    r = nids > 0 ? inj_revert_all(a->inj, err) : 0;
    if (r >= 0) {
        a->m.reverted += nids;
        a->n_leases = 0;
    } else {
        /* Keep the leases of whatever is still journaled, so expiry retries. */
        for (i = 0; i < a->n_leases;) {
            if (!inj_has(a->inj, a->leases[i].id))
                lease_remove(a, &a->leases[i]);
            else
                i++;
        }
    }
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->lock);
    for (i = 0; i < nids; i++)
        free(ids[i]);
    free(ids);
    if (n != NULL)
        *n = nids;
    return r < 0 ? r : 0;
}

static void lease_json(json_t *o, const struct agent_lease *l, int64_t now)
{
    int64_t left = (l->expires_ns - now) / 1000000LL;

    json_object_set_new(o, "ttl_ms", json_integer(l->ttl_ms));
    json_object_set_new(o, "expires_in_ms", json_integer(left > 0 ? left : 0));
    json_object_set_new(o, "apply_start_ns", json_integer(l->apply_start_ns));
    json_object_set_new(o, "apply_end_ns", json_integer(l->apply_end_ns));
}

int agent_list(struct agent *a, const char *id, json_t **out, struct fl_err *err)
{
    struct agent_lease *l;
    json_t *list = NULL, *res, *e, *eid;
    int64_t now;
    size_t i;
    int r;

    res = json_array();
    if (res == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    pthread_mutex_lock(&a->lock);
    r = inj_list(a->inj, &list, err);
    now = fl_now_ns();
    if (r < 0)
        goto out;
    json_array_foreach(list, i, e)
    {
        eid = json_object_get(e, "id");
        if (!json_is_string(eid))
            continue;
        if (id != NULL && strcmp(id, json_string_value(eid)) != 0)
            continue;
        l = lease_find(a, json_string_value(eid));
        if (l != NULL)
            lease_json(e, l, now);
        json_array_append(res, e);
    }
out:
    pthread_mutex_unlock(&a->lock);
    json_decref(list);
    if (r < 0) {
        json_decref(res);
        return r;
    }
    *out = res;
    return 0;
}

size_t agent_active(struct agent *a)
{
    size_t n;

    pthread_mutex_lock(&a->lock);
    n = a->n_leases;
    pthread_mutex_unlock(&a->lock);
    return n;
}

void agent_count_status(struct agent *a, unsigned status)
{
    pthread_mutex_lock(&a->lock);
    if (status < 600)
        a->m.requests[status]++;
    pthread_mutex_unlock(&a->lock);
}

/* ---- leases --------------------------------------------------------------- */

static void *lease_main(void *arg)
{
    struct agent *a = arg;
    struct agent_lease *l;
    struct fl_err err;
    struct timespec ts;
    char id[INJ_ID_MAX + 1];
    int64_t now, next;
    size_t i;
    int r;

    pthread_mutex_lock(&a->lock);
    while (!a->stopping) {
        now = fl_now_ns();
        next = INT64_MAX;
        l = NULL;
        for (i = 0; i < a->n_leases; i++) {
            if (a->leases[i].expires_ns <= now) {
                l = &a->leases[i];
                break;
            }
            if (a->leases[i].expires_ns < next)
                next = a->leases[i].expires_ns;
        }
        if (l != NULL) {
            fl_err_clear(&err);
            snprintf(id, sizeof(id), "%s", l->id);
            r = inj_revert(a->inj, id, &err);
            if (r < 0) {
                /* Keep the lease; retry in a second rather than spin. */
                log_warnx("lease of %s expired but revert failed: %s", id, err.msg);
                l->expires_ns = now + 1000000000LL;
                continue;
            }
            log_info("lease of %s expired after %" PRId64 " ms: reverted", id, l->ttl_ms);
            lease_remove(a, l);
            a->m.expired++;
            continue;
        }
        if (next == INT64_MAX)
            next = now + 3600LL * 1000000000LL;
        ts.tv_sec = (time_t)(next / 1000000000LL);
        ts.tv_nsec = (long)(next % 1000000000LL);
        pthread_cond_timedwait(&a->cond, &a->lock, &ts);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

int agent_lease_start(struct agent *a)
{
    int r;

    r = pthread_create(&a->lease_thread, NULL, lease_main, a);
    if (r != 0)
        return -r;
    a->lease_thread_running = true;
    return 0;
}

void agent_lease_stop(struct agent *a)
{
    pthread_mutex_lock(&a->lock);
    a->stopping = true;
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->lock);
    if (a->lease_thread_running) {
        pthread_join(a->lease_thread, NULL);
        a->lease_thread_running = false;
    }
}

/* ---- metrics -------------------------------------------------------------- */

static void prom_escape(struct fl_buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\' || *s == '"')
            fl_buf_addstr(b, "\\");
        if (*s == '\n')
            fl_buf_addstr(b, "\\n");
        else
            fl_buf_add(b, s, 1);
    }
}

static void counter(struct fl_buf *b, const char *name, const char *type, const char *help,
                    uint64_t v)
{
    fl_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type, name,
                  v);
}

char *agent_metrics_text(struct agent *a, bool with_faults)
{
    struct agent_metrics m;
    json_t *list = NULL, *e, *ev;
    struct fl_buf b;
    size_t i, nactive;
    uint64_t key[4];
    int64_t up, now = fl_now_ns();
    int slot = with_faults ? 1 : 0, r = -1;
    char *text;

    pthread_mutex_lock(&a->lock);
    key[0] = a->m.applied;
    key[1] = a->m.reverted;
    key[2] = a->m.expired;
    key[3] = a->n_leases;
    pthread_mutex_unlock(&a->lock);
    /* An unauthenticated scrape must not cost a netlink dump per fault each time. */
    pthread_mutex_lock(&a->mlock);
    if (a->mcache[slot] != NULL && now - a->mcache_ns[slot] < 1000000000LL &&
        memcmp(key, a->mcache_key[slot], sizeof(key)) == 0) {
        text = strdup(a->mcache[slot]);
        pthread_mutex_unlock(&a->mlock);
        return text != NULL ? text : strdup("");
    }
    pthread_mutex_unlock(&a->mlock);

    pthread_mutex_lock(&a->lock);
    m = a->m;
    nactive = a->n_leases;
    if (with_faults)
        r = inj_list(a->inj, &list, NULL);
    pthread_mutex_unlock(&a->lock);
    up = fl_now_ns() - a->started_ns;

    fl_buf_init(&b, 4u << 20);
    counter(&b, "faultline_agent_faults_applied_total", "counter",
            "Faults applied through the API.", m.applied);
    counter(&b, "faultline_agent_faults_reverted_total", "counter",
            "Faults reverted by DELETE or revert-all.", m.reverted);
    counter(&b, "faultline_agent_faults_expired_total", "counter",
            "Faults reverted because their lease ran out.", m.expired);
    counter(&b, "faultline_agent_faults_apply_failed_total", "counter",
            "Apply requests the injector refused or failed.", m.apply_failed);
    counter(&b, "faultline_agent_faults_active", "gauge", "Faults applied now.", nactive);
    fl_buf_printf(&b,
                  "# HELP faultline_agent_apply_seconds Time inside the injector per apply.\n"
                  "# TYPE faultline_agent_apply_seconds summary\n"
                  "faultline_agent_apply_seconds_sum %.9f\n"
                  "faultline_agent_apply_seconds_count %" PRIu64 "\n",
                  (double)m.apply_ns_sum / 1e9, m.apply_count);
    fl_buf_printf(&b, "# HELP faultline_agent_fault_dropped_packets_total Packets dropped by "
                      "an active fault (its rule counters).\n"
                      "# TYPE faultline_agent_fault_dropped_packets_total counter\n");
    if (r == 0) {
        json_array_foreach(list, i, e)
        {
            ev = json_object_get(e, "evidence");
            if (!json_is_object(ev) || !json_is_string(json_object_get(e, "id")))
                continue;
            fl_buf_addstr(&b, "faultline_agent_fault_dropped_packets_total{id=\"");
            prom_escape(&b, json_string_value(json_object_get(e, "id")));
            fl_buf_addstr(&b, "\",kind=\"");
            prom_escape(&b, json_is_string(json_object_get(e, "kind"))
                                ? json_string_value(json_object_get(e, "kind"))
                                : "");
            fl_buf_printf(&b, "\"} %" JSON_INTEGER_FORMAT "\n",
                          json_integer_value(json_object_get(ev, "packets")));
        }
        fl_buf_printf(&b, "# HELP faultline_agent_fault_dropped_bytes_total Bytes dropped by "
                          "an active fault.\n"
                          "# TYPE faultline_agent_fault_dropped_bytes_total counter\n");
        json_array_foreach(list, i, e)
        {
            ev = json_object_get(e, "evidence");
            if (!json_is_object(ev) || !json_is_string(json_object_get(e, "id")))
                continue;
            fl_buf_addstr(&b, "faultline_agent_fault_dropped_bytes_total{id=\"");
            prom_escape(&b, json_string_value(json_object_get(e, "id")));
            fl_buf_printf(&b, "\"} %" JSON_INTEGER_FORMAT "\n",
                          json_integer_value(json_object_get(ev, "bytes")));
        }
    }
    json_decref(list);
    fl_buf_printf(&b, "# HELP faultline_agent_requests_total HTTP requests answered, by "
                      "status code.\n"
                      "# TYPE faultline_agent_requests_total counter\n");
    for (i = 100; i < 600; i++)
        if (m.requests[i] != 0)
            fl_buf_printf(&b, "faultline_agent_requests_total{code=\"%zu\"} %" PRIu64 "\n", i,
                          m.requests[i]);
    fl_buf_printf(&b,
                  "# HELP faultline_agent_uptime_seconds Seconds since the agent started.\n"
                  "# TYPE faultline_agent_uptime_seconds gauge\n"
                  "faultline_agent_uptime_seconds %.3f\n",
                  (double)up / 1e9);
    text = b.p != NULL ? fl_buf_take(&b) : strdup("");
    if (text != NULL) {
        pthread_mutex_lock(&a->mlock);
        free(a->mcache[slot]);
        a->mcache[slot] = strdup(text);
        a->mcache_ns[slot] = now;
        memcpy(a->mcache_key[slot], key, sizeof(key));
        pthread_mutex_unlock(&a->mlock);
    }
    return text;
}
