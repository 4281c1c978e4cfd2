/*
 * The etcd launcher: one etcd member per lab host (Debian's etcd-server),
 * each in its host's network namespace, forming one static cluster with the
 * experiment's heartbeat interval and election timeout. start() returns when
 * every member answers /health and the cluster has a leader; with
 * target.primary set, leadership is then moved to the first member of that
 * region (MoveLeader over the v3 JSON gateway) so that "isolate the leader's
 * region" is a fixed, repeatable experiment. Endpoints are the client URLs of
 * each region's members, comma-separated, as an etcd client there would list
 * them.
 *
 * Options: election_timeout (1s), heartbeat (100ms), port (2379; peers use
 * port+1), primary (region of the leader after start).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "faultline/buf.h"
#include "faultline/err.h"
#include "faultline/file.h"
#include "faultline/http.h"
#include "faultline/optspec.h"
#include "faultline/target.h"
#include "faultline/timeutil.h"
#include "svc.h"

#define ETCD_BIN "/usr/bin/etcd"

struct ehost {
    char name[64], region[64], netns[64], addr[64];
    char dir[400];
    char url[96]; /* client URL */
    uint64_t id;  /* member id, once known */
    struct svc_proc p;
};

struct etcd_state {
    struct ehost *h;
    size_t n;
    int port;
    struct fl_target_endpoint *eps;
    size_t neps;
};

/* POST (body != NULL) or GET url; the parsed JSON answer or NULL. */
static json_t *http_json(const char *url, const char *body, long timeout_ms)
{
    struct fl_buf b;
    CURL *c;
    json_t *j = NULL;
    long code = 0;

    fl_buf_init(&b, 1 << 20);
    if ((c = fl_http_easy(url, timeout_ms, &b, NULL)) == NULL)
        return NULL;
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (code == 200)
            j = json_loadb(b.p ? b.p : "", b.len, 0, NULL);
    }
    fl_buf_free(&b);
    curl_easy_cleanup(c);
    return j;
}

/* The gateway prints uint64 as strings; accept numbers too. */
static uint64_t json_u64(const json_t *v)
{
    if (json_is_string(v))
        return strtoull(json_string_value(v), NULL, 10);
    if (json_is_integer(v))
        return (uint64_t)json_integer_value(v);
    return 0;
}

/* Member i's status: its id and the leader it knows (0 if none / unreachable). */
static int member_status(struct ehost *h, uint64_t *leader, uint64_t *term, long timeout_ms)
{
    char url[160];
    json_t *j;

    snprintf(url, sizeof(url), "%s/v3/maintenance/status", h->url);
    if ((j = http_json(url, "{}", timeout_ms)) == NULL)
        return -EIO;
    h->id = json_u64(json_object_get(json_object_get(j, "header"), "member_id"));
    *leader = json_u64(json_object_get(j, "leader"));
    if (term)
        *term = json_u64(json_object_get(json_object_get(j, "header"), "raft_term"));
    json_decref(j);
    return 0;
}

static bool member_healthy(struct ehost *h)
{
    char url[160];
    json_t *j;
    bool ok;

    snprintf(url, sizeof(url), "%s/health", h->url);
    j = http_json(url, NULL, 500);
    ok = j && json_is_string(json_object_get(j, "health")) &&
         strcmp(json_string_value(json_object_get(j, "health")), "true") == 0;
    json_decref(j);
    return ok;
}

static void etcd_stop(void *state)
{
    struct etcd_state *s = state;
    size_t i;

    if (!s)
        return;
    for (i = 0; i < s->n; i++)
        svc_stop(&s->h[i].p, 5000000000LL);
    for (i = 0; i < s->n; i++)
        if (s->h[i].dir[0])
            svc_rmtree(s->h[i].dir);
    free(s->h);
    free(s->eps);
    free(s);
}

static int fail_host(struct ehost *h, int code, const char *why, struct fl_err *err)
{
    char tail[400];

    return fl_errf(err, code, "etcd on %s %s; log %s: %s", h->name, why, h->p.log,
                   svc_log_tail(h->p.log, tail, sizeof(tail)));
}

/* Index of the current leader as most members see it, or -1. */
static int find_leader(struct etcd_state *s, long timeout_ms)
{
    uint64_t leader = 0, l;
    size_t i;

    for (i = 0; i < s->n; i++)
        if (member_status(&s->h[i], &l, NULL, timeout_ms) == 0 && l)
            leader = l;
    for (i = 0; leader && i < s->n; i++)
        if (s->h[i].id == leader)
            return (int)i;
    return -1;
}

static int move_leader(struct etcd_state *s, const char *region, int64_t deadline,
                       struct fl_err *err)
{
    char url[160], body[96];
    size_t want;
    int cur;
    json_t *j;

    for (want = 0; want < s->n && strcmp(s->h[want].region, region) != 0; want++)
        ;
    if (want == s->n)
        return fl_errf(err, -EINVAL, "etcd: no member in primary region '%s'", region);
    while ((cur = find_leader(s, 500)) != (int)want) {
        if (fl_now_ns() > deadline)
            return fail_host(&s->h[want], -ETIMEDOUT, "did not become leader in time", err);
        if (cur >= 0 && s->h[want].id) {
            snprintf(url, sizeof(url), "%s/v3/maintenance/transfer-leadership", s->h[cur].url);
            snprintf(body, sizeof(body), "{\"targetID\":\"%" PRIu64 "\"}", s->h[want].id);
            j = http_json(url, body, 3000);
            json_decref(j);
        }
        svc_sleep_ns(200000000);
    }
    return 0;
}

static int make_endpoints(struct etcd_state *s)
{
    size_t i, j;

    if ((s->eps = calloc(s->n, sizeof(*s->eps))) == NULL)
        return -ENOMEM;
    for (i = 0; i < s->n; i++) {
        struct fl_target_endpoint *e;
        size_t len;

        for (j = 0; j < s->neps && strcmp(s->eps[j].region, s->h[i].region) != 0; j++)
            ;
        e = &s->eps[j];
        if (j == s->neps) {
            s->neps++;
            snprintf(e->region, sizeof(e->region), "%s", s->h[i].region);
        }
        len = strlen(e->url);
        if (len + strlen(s->h[i].url) + 2 >= sizeof(e->url))
            return -ENAMETOOLONG;
        snprintf(e->url + len, sizeof(e->url) - len, "%s%s", len ? "," : "", s->h[i].url);
    }
    return 0;
}

#define ETCD_CLUSTER_MAX 4096 /* --initial-cluster, name=http://addr:peerport,... */

/*
 * The lab's limits: at least 3 members, the peer port (port + 1), the
 * --initial-cluster list, and every region's endpoint (its members'
 * client URLs, comma-separated) within a driver URL.
 */
static int etcd_check(const struct fl_target_env *env, const char **key, struct fl_err *err)
{
    long port = (long)svc_opt_uint(env->config, "port", 2379);
    size_t cluster = 0, i, j, len;

    if (key)
        *key = NULL;
    if (env->n_hosts < 3)
        return fl_errf(err, -EINVAL, "etcd needs at least 3 hosts (members), the topology has %zu",
                       env->n_hosts);
    if (port + 1 > 65535) {
        if (key)
            *key = "port";
        return fl_errf(err, -EINVAL, "etcd: port %ld: the peer port (port + 1) passes 65535", port);
    }
    for (i = 0; i < env->n_hosts; i++) {
        const char *a = env->hosts[i].data_addr ? env->hosts[i].data_addr : "";

        cluster += (i ? 1 : 0) + strlen(env->hosts[i].name) + strlen("=http://:") + strlen(a) +
                   svc_port_digits(port + 1);
        for (j = 0, len = 0; j < env->n_hosts; j++)
            if (strcmp(env->hosts[j].region, env->hosts[i].region) == 0)
                len += (len ? 1 : 0) + strlen("http://:") +
                       strlen(env->hosts[j].data_addr ? env->hosts[j].data_addr : "") +
                       svc_port_digits(port);
        if (len >= sizeof(((struct fl_target_endpoint *)0)->url))
            return fl_errf(err, -EINVAL,
                           "etcd: region %s has too many members: its endpoint (every member's "
                           "URL) would take %zu characters, at most %zu",
                           env->hosts[i].region, len,
                           sizeof(((struct fl_target_endpoint *)0)->url) - 1);
    }
    if (cluster >= ETCD_CLUSTER_MAX)
        return fl_errf(err, -EINVAL,
                       "etcd: %zu members are too many: --initial-cluster would take %zu "
                       "characters, at most %d",
                       env->n_hosts, cluster, ETCD_CLUSTER_MAX - 1);
    return 0;
}

static int etcd_start(const struct fl_target_env *env, void **state, struct fl_err *err)
{
    const json_t *cfg = env->config;
    int64_t deadline =
        fl_now_ns() + (env->ready_timeout_ns > 0 ? env->ready_timeout_ns : 60000000000LL);
    char cluster[ETCD_CLUSTER_MAX] = "", token[64];
    struct etcd_state *s;
    const char *primary;
    size_t i, off = 0;
    int rc;

    *state = NULL;
    if ((rc = svc_need(ETCD_BIN, "etcd-server", err)) < 0)
        return rc;
    if ((rc = etcd_check(env, NULL, err)) < 0)
        return rc;
    if ((s = calloc(1, sizeof(*s))) == NULL ||
        (s->h = calloc(env->n_hosts, sizeof(*s->h))) == NULL) {
        free(s);
        return fl_errf(err, -ENOMEM, "out of memory");
    }
    s->n = env->n_hosts;
    s->port = (int)svc_opt_uint(cfg, "port", 2379);
    snprintf(token, sizeof(token), "faultline-%d-%" PRId64, (int)getpid(), fl_now_ns() % 100000);
    for (i = 0; i < s->n; i++) {
        const struct fl_target_host *th = &env->hosts[i];
        struct ehost *h = &s->h[i];
        char base[384];

        snprintf(h->name, sizeof(h->name), "%s", th->name);
        snprintf(h->region, sizeof(h->region), "%s", th->region);
        snprintf(h->netns, sizeof(h->netns), "%s", th->netns);
        snprintf(h->addr, sizeof(h->addr), "%s", th->data_addr);
        snprintf(h->url, sizeof(h->url), "http://%s:%d", th->data_addr, s->port);
        snprintf(base, sizeof(base), "%s/%s", env->run_dir, th->name);
        snprintf(h->dir, sizeof(h->dir), "%s/etcd", base);
        snprintf(h->p.log, sizeof(h->p.log), "%s/etcd.log", base);
        snprintf(h->p.what, sizeof(h->p.what), "etcd on %s", th->name);
        svc_rmtree(h->dir);
        if ((rc = fl_mkdir_p(h->dir, 0700)) < 0) {
            fl_errf(err, rc, "cannot create %s: %s", h->dir, strerror(-rc));
            goto fail;
        }
        off += (size_t)snprintf(cluster + off, sizeof(cluster) - off, "%s%s=http://%s:%d",
                                i ? "," : "", h->name, h->addr, s->port + 1);
        if (off >= sizeof(cluster)) {
            rc = fl_errf(err, -E2BIG, "etcd: too many members");
            goto fail;
        }
    }
    for (i = 0; i < s->n; i++) {
        struct ehost *h = &s->h[i];
        char peer[96], client[96], datadir[PATH_MAX], hb[32], el[32];
        char *argv[] = {(char *)ETCD_BIN,
                        (char *)"--name",
                        h->name,
                        (char *)"--data-dir",
                        datadir,
                        (char *)"--listen-peer-urls",
                        peer,
                        (char *)"--initial-advertise-peer-urls",
                        peer,
                        (char *)"--listen-client-urls",
                        client,
                        (char *)"--advertise-client-urls",
                        client,
                        (char *)"--initial-cluster",
                        cluster,
                        (char *)"--initial-cluster-state",
                        (char *)"new",
                        (char *)"--initial-cluster-token",
                        token,
                        (char *)"--heartbeat-interval",
                        hb,
                        (char *)"--election-timeout",
                        el,
                        NULL};

        snprintf(datadir, sizeof(datadir), "%s/data", h->dir);
        snprintf(peer, sizeof(peer), "http://%s:%d", h->addr, s->port + 1);
        snprintf(client, sizeof(client), "http://%s:%d", h->addr, s->port);
        snprintf(hb, sizeof(hb), "%lld", (long long)svc_opt_ms(cfg, "heartbeat", 100));
        snprintf(el, sizeof(el), "%lld", (long long)svc_opt_ms(cfg, "election_timeout", 1000));
        if ((rc = svc_spawn(&h->p, h->netns, NULL, argv, NULL, err)) < 0)
            goto fail;
    }
    for (i = 0; i < s->n; i++) {
        while (!member_healthy(&s->h[i])) {
            if (!svc_alive(&s->h[i].p, NULL)) {
                rc = fail_host(&s->h[i], -EIO, "exited", err);
                goto fail;
            }
            if (fl_now_ns() > deadline) {
                rc = fail_host(&s->h[i], -ETIMEDOUT, "not healthy in time", err);
                goto fail;
            }
            svc_sleep_ns(100000000);
        }
    }
    while (find_leader(s, 500) < 0) {
        if (fl_now_ns() > deadline) {
            rc = fail_host(&s->h[0], -ETIMEDOUT, "cluster elected no leader in time", err);
            goto fail;
        }
        svc_sleep_ns(100000000);
    }
    primary = env->primary_region ? env->primary_region : svc_opt_str(cfg, "primary", NULL);
    if (primary && (rc = move_leader(s, primary, deadline, err)) < 0)
        goto fail;
    if ((rc = make_endpoints(s)) < 0) {
        fl_errf(err, rc, "etcd: cannot build the endpoint list");
        goto fail;
    }
    *state = s;
    return 0;
fail:
    etcd_stop(s);
    return rc;
}

static int etcd_endpoints(void *state, const struct fl_target_endpoint **eps, size_t *n)
{
    struct etcd_state *s = state;

    *eps = s->eps;
    *n = s->neps;
    return 0;
}

static json_t *etcd_status(void *state)
{
    struct etcd_state *s = state;
    json_t *o = json_object(), *hosts = json_object();
    uint64_t leader, term, maxterm = 0;
    const char *primary = NULL;
    size_t i, j;

    if (!o || !hosts) {
        json_decref(o);
        json_decref(hosts);
        return NULL;
    }
    for (i = 0; i < s->n; i++) {
        json_t *h = json_object();

        if (member_status(&s->h[i], &leader, &term, 300) == 0) {
            const char *lname = NULL;

            for (j = 0; j < s->n; j++)
                if (s->h[j].id == leader)
                    lname = s->h[j].name;
            json_object_set_new(h, "leader", lname ? json_string(lname) : json_null());
            json_object_set_new(h, "raft_term", json_integer((json_int_t)term));
            if (term >= maxterm && lname) {
                maxterm = term;
                primary = lname;
            }
        } else {
            json_object_set_new(h, "leader", json_string("unreachable"));
        }
        json_object_set_new(hosts, s->h[i].name, h);
    }
    json_object_set_new(o, "primary", primary ? json_string(primary) : json_null());
    json_object_set_new(o, "raft_term", json_integer((json_int_t)maxterm));
    json_object_set_new(o, "hosts", hosts);
    return o;
}

/* The options of this kind under target: in an experiment file (checked by the parser). */
static const struct vspec etcd_opts[] = {
    {"kind", VT_STR, NULL, true},
    {"primary", VT_REGION, NULL, false},
    {"election_timeout", VT_DUR, NULL, false},
    {"heartbeat", VT_DUR, NULL, false},
    {"port", VT_PORT, NULL, false},
    {NULL, VT_STR, NULL, false},
};

const struct fl_target_ops fl_target_etcd = {
    .kind = "etcd",
    .start = etcd_start,
    .endpoints = etcd_endpoints,
    .status = etcd_status,
    .stop = etcd_stop,
    .options = etcd_opts,
    .check = etcd_check,
};
