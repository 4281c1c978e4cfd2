/*
 * The redis-sentinel launcher: one redis-server and one redis-sentinel per
 * lab host, from Debian's redis-server and redis-sentinel packages, each in
 * its host's network namespace. The first host of the primary region starts
 * as master, every other host as its replica; every sentinel monitors the
 * master with the experiment's down-after-milliseconds, failover-timeout and
 * quorum, and the servers carry min-replicas-to-write / min-replicas-max-lag.
 * start() returns when every replica is in sync and every sentinel sees the
 * others and a quorum (SENTINEL CKQUORUM). Endpoints are sentinel lists, one
 * per region with that region's sentinels first, as a client there would be
 * configured: "redis-sentinel://NAME@ADDR:PORT,ADDR:PORT,...".
 *
 * Options (target section): master_name (mymaster), quorum (majority),
 * down_after (5s), failover_timeout (10s), min_replicas_to_write (0),
 * min_replicas_max_lag (10s, whole seconds), port (6379), sentinel_port (26379).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "faultline/err.h"
#include "faultline/file.h"
#include "faultline/optspec.h"
#include "faultline/target.h"
#include "faultline/timeutil.h"
#include "svc.h"

#define REDIS_BIN    "/usr/bin/redis-server"
#define SENTINEL_BIN "/usr/bin/redis-sentinel"

struct rhost {
    char name[64], region[64], netns[64], addr[64];
    char dir[400];
    struct svc_proc srv, sen;
};

struct redis_state {
    struct rhost *h;
    size_t n;
    size_t primary; /* host index of the initial master */
    char master_name[64];
    int port, sport;
    struct fl_target_endpoint *eps;
    size_t neps;
};

static redisContext *rconnect(const char *addr, int port, int64_t timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(addr, port, tv);

    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    if (c)
        redisSetTimeout(c, tv);
    return c;
}

/* One command, reply as text (status/string/error/integer) into out. */
static int rcmd(const char *addr, int port, int64_t timeout_ms, char *out, size_t len,
                const char *fmt, ...)
{
    redisContext *c = rconnect(addr, port, timeout_ms);
    redisReply *r;
    va_list ap;
    int rc = -EIO;

    out[0] = '\0';
    if (!c)
        return -ECONNREFUSED;
    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r) {
        if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
            snprintf(out, len, "%s", r->str);
            rc = 0;
        } else if (r->type == REDIS_REPLY_ERROR) {
            snprintf(out, len, "%s", r->str);
            rc = -EPROTO;
        } else if (r->type == REDIS_REPLY_INTEGER) {
            snprintf(out, len, "%lld", r->integer);
            rc = 0;
        } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
                   r->element[0]->type == REDIS_REPLY_STRING) {
            snprintf(out, len, "%s:%s", r->element[0]->str, r->element[1]->str);
            rc = 0;
        } else {
            rc = 0;
        }
        freeReplyObject(r);
    }
    redisFree(c);
    return rc;
}

static size_t find_primary(const struct fl_target_env *env)
{
    size_t i;

    for (i = 0; env->primary_region && i < env->n_hosts; i++)
        if (strcmp(env->hosts[i].region, env->primary_region) == 0)
            return i;
    return 0;
}

static void redis_stop(void *state)
{
    struct redis_state *s = state;
    size_t i;

    if (!s)
        return;
    for (i = 0; i < s->n; i++)
        svc_stop(&s->h[i].sen, 3000000000LL);
    for (i = 0; i < s->n; i++)
        svc_stop(&s->h[i].srv, 5000000000LL);
    for (i = 0; i < s->n; i++)
        if (s->h[i].dir[0])
            svc_rmtree(s->h[i].dir);
    free(s->h);
    free(s->eps);
    free(s);
}

/* Wait until f(s, i, why) is true for every host, or fail naming the host and its log. */
static int wait_all(struct redis_state *s, bool sentinel, int64_t deadline,
                    bool (*ready)(struct redis_state *, size_t, char *, size_t), struct fl_err *err)
{
    char why[256], tail[400];
    size_t i;

    for (i = 0; i < s->n; i++) {
        struct svc_proc *p = sentinel ? &s->h[i].sen : &s->h[i].srv;

        while (!ready(s, i, why, sizeof(why))) {
            if (!svc_alive(p, NULL))
                return fl_errf(err, -EIO, "%s exited; log %s: %s", p->what, p->log,
                               svc_log_tail(p->log, tail, sizeof(tail)));
            if (fl_now_ns() > deadline)
                return fl_errf(err, -ETIMEDOUT, "%s not healthy in time (%s); log %s: %s", p->what,
                               why, p->log, svc_log_tail(p->log, tail, sizeof(tail)));
            svc_sleep_ns(100000000);
        }
    }
    return 0;
}

static bool server_ready(struct redis_state *s, size_t i, char *why, size_t len)
{
    char out[4096];
    int rc;

    rc = rcmd(s->h[i].addr, s->port, 500, out, sizeof(out), "INFO replication");
    if (rc < 0) {
        snprintf(why, len, "no answer on %s:%d", s->h[i].addr, s->port);
        return false;
    }
    if (i == s->primary) {
        char want[32];

        snprintf(want, sizeof(want), "connected_slaves:%zu", s->n - 1);
        snprintf(why, len, "master has fewer than %zu replicas", s->n - 1);
        return strstr(out, want) != NULL;
    }
    snprintf(why, len, "replica link not up");
    return strstr(out, "master_link_status:up") != NULL;
}

static bool sentinel_ready(struct redis_state *s, size_t i, char *why, size_t len)
{
    char out[512];

    if (rcmd(s->h[i].addr, s->sport, 500, out, sizeof(out), "SENTINEL CKQUORUM %s",
             s->master_name) < 0) {
        snprintf(why, len, "CKQUORUM: %s", out[0] ? out : "no answer");
        return false;
    }
    /* CKQUORUM is OK with a quorum; wait until every sentinel knows every other. */
    {
        char want[64];

        snprintf(want, sizeof(want), "%zu usable Sentinels", s->n);
        snprintf(why, len, "CKQUORUM: %s", out);
        return strstr(out, want) != NULL;
    }
}

static int write_configs(struct redis_state *s, size_t i, const struct fl_target_env *env,
                         struct fl_err *err)
{
    const json_t *cfg = env->config;
    struct rhost *h = &s->h[i], *p = &s->h[s->primary];
    int64_t down = svc_opt_ms(cfg, "down_after", 5000);
    int64_t fto = svc_opt_ms(cfg, "failover_timeout", 10000);
    int64_t minw = svc_opt_uint(cfg, "min_replicas_to_write", 0);
    int64_t lag = (svc_opt_ms(cfg, "min_replicas_max_lag", 10000) + 999) / 1000;
    int64_t quorum = svc_opt_uint(cfg, "quorum", (int64_t)(s->n / 2 + 1));
    char path[PATH_MAX], text[4096], rep[128] = "";
    int rc;

    if (i != s->primary)
        snprintf(rep, sizeof(rep), "replicaof %s %d\n", p->addr, s->port);
    snprintf(text, sizeof(text),
             "bind %s\nport %d\nprotected-mode no\ndaemonize no\nlogfile \"\"\n"
             "dir %s\nsave \"\"\nappendonly no\nrepl-diskless-sync-delay 0\n"
             "min-replicas-to-write %lld\nmin-replicas-max-lag %lld\n%s",
             h->addr, s->port, h->dir, (long long)minw, (long long)(lag < 1 ? 1 : lag), rep);
    snprintf(path, sizeof(path), "%s/redis.conf", h->dir);
    if ((rc = svc_write_file(path, text, err)) < 0)
        return rc;
    snprintf(text, sizeof(text),
             "bind %s\nport %d\nprotected-mode no\ndaemonize no\nlogfile \"\"\ndir %s\n"
             "sentinel monitor %s %s %d %lld\n"
             "sentinel down-after-milliseconds %s %lld\n"
             "sentinel failover-timeout %s %lld\n"
             "sentinel parallel-syncs %s 1\n",
             h->addr, s->sport, h->dir, s->master_name, p->addr, s->port, (long long)quorum,
             s->master_name, (long long)down, s->master_name, (long long)fto, s->master_name);
    snprintf(path, sizeof(path), "%s/sentinel.conf", h->dir);
    return svc_write_file(path, text, err);
}

static int make_endpoints(struct redis_state *s, const struct fl_target_env *env)
{
    size_t i, j, k;

    s->eps = calloc(env->n_hosts, sizeof(*s->eps));
    if (!s->eps)
        return -ENOMEM;
    for (i = 0; i < s->n; i++) {
        struct fl_target_endpoint *e;
        size_t off;

        for (j = 0; j < s->neps && strcmp(s->eps[j].region, s->h[i].region) != 0; j++)
            ;
        if (j < s->neps)
            continue;
        e = &s->eps[s->neps++];
        snprintf(e->region, sizeof(e->region), "%s", s->h[i].region);
        off = (size_t)snprintf(e->url, sizeof(e->url), "redis-sentinel://%s@", s->master_name);
        /* This region's sentinels first, then the others in host order. */
        for (k = 0; k < 2; k++)
            for (j = 0; j < s->n; j++) {
                bool same = strcmp(s->h[j].region, s->h[i].region) == 0;

                if ((k == 0) != same || off >= sizeof(e->url))
                    continue;
                off += (size_t)snprintf(e->url + off, sizeof(e->url) - off, "%s%s:%d",
                                        e->url[off - 1] == '@' ? "" : ",", s->h[j].addr, s->sport);
            }
        if (off >= sizeof(e->url))
            return -ENAMETOOLONG;
    }
    return 0;
}

/*
 * The lab's limits: a sentinel on each of at least 3 hosts, a quorum they
 * can reach, two ports, and every region's endpoint (all the sentinels,
 * redis-sentinel://NAME@a:p,b:p,...) within a driver URL.
 */
static int redis_check(const struct fl_target_env *env, const char **key, struct fl_err *err)
{
    const json_t *cfg = env->config;
    long port = (long)svc_opt_uint(cfg, "port", 6379);
    long sport = (long)svc_opt_uint(cfg, "sentinel_port", 26379);
    int64_t quorum = svc_opt_uint(cfg, "quorum", (int64_t)(env->n_hosts / 2 + 1));
    size_t len = strlen("redis-sentinel://@") + strlen(svc_opt_str(cfg, "master_name", "mymaster"));
    size_t i;

    if (key)
        *key = NULL;
    if (env->n_hosts < 3)
        return fl_errf(err, -EINVAL,
                       "redis-sentinel needs at least 3 hosts (one sentinel each), "
                       "the topology has %zu",
                       env->n_hosts);
    if (port == sport) {
        if (key)
            *key = "sentinel_port";
        return fl_errf(err, -EINVAL, "redis-sentinel: sentinel_port is the server's port %ld",
                       port);
    }
    if (quorum < 1 || (size_t)quorum > env->n_hosts) {
        if (key)
            *key = "quorum";
        return fl_errf(err, -EINVAL,
                       "redis-sentinel: quorum %lld but there are %zu sentinels (one per host)",
                       (long long)quorum, env->n_hosts);
    }
    for (i = 0; i < env->n_hosts; i++)
        len += (i ? 1 : 0) + strlen(env->hosts[i].data_addr ? env->hosts[i].data_addr : "") + 1 +
               svc_port_digits(sport);
    if (len >= sizeof(((struct fl_target_endpoint *)0)->url))
        return fl_errf(err, -EINVAL,
                       "redis-sentinel: %zu hosts are too many: the endpoint naming every "
                       "sentinel would take %zu characters, at most %zu",
                       env->n_hosts, len, sizeof(((struct fl_target_endpoint *)0)->url) - 1);
    return 0;
}

static int redis_start(const struct fl_target_env *env, void **state, struct fl_err *err)
{
    struct redis_state *s;
    int64_t deadline =
        fl_now_ns() + (env->ready_timeout_ns > 0 ? env->ready_timeout_ns : 60000000000LL);
    size_t i;
    int rc;

    *state = NULL;
    if ((rc = svc_need(REDIS_BIN, "redis-server", err)) < 0 ||
        (rc = svc_need(SENTINEL_BIN, "redis-sentinel", err)) < 0)
        return rc;
    if ((rc = redis_check(env, NULL, err)) < 0)
        return rc;
    if ((s = calloc(1, sizeof(*s))) == NULL ||
        (s->h = calloc(env->n_hosts, sizeof(*s->h))) == NULL) {
        free(s);
        return fl_errf(err, -ENOMEM, "out of memory");
    }
    s->n = env->n_hosts;
    s->primary = find_primary(env);
    s->port = (int)svc_opt_uint(env->config, "port", 6379);
    s->sport = (int)svc_opt_uint(env->config, "sentinel_port", 26379);
    snprintf(s->master_name, sizeof(s->master_name), "%s",
             svc_opt_str(env->config, "master_name", "mymaster"));
    for (i = 0; i < s->n; i++) {
        const struct fl_target_host *th = &env->hosts[i];
        struct rhost *h = &s->h[i];
        char base[384];

        snprintf(h->name, sizeof(h->name), "%s", th->name);
        snprintf(h->region, sizeof(h->region), "%s", th->region);
        snprintf(h->netns, sizeof(h->netns), "%s", th->netns);
        snprintf(h->addr, sizeof(h->addr), "%s", th->data_addr);
        snprintf(base, sizeof(base), "%s/%s", env->run_dir, th->name);
        snprintf(h->dir, sizeof(h->dir), "%s/redis", base);
        snprintf(h->srv.log, sizeof(h->srv.log), "%s/redis-server.log", base);
        snprintf(h->sen.log, sizeof(h->sen.log), "%s/redis-sentinel.log", base);
        snprintf(h->srv.what, sizeof(h->srv.what), "redis-server on %s", th->name);
        snprintf(h->sen.what, sizeof(h->sen.what), "redis-sentinel on %s", th->name);
        svc_rmtree(h->dir);
        if ((rc = fl_mkdir_p(h->dir, 0755)) < 0) {
            fl_errf(err, rc, "cannot create %s: %s", h->dir, strerror(-rc));
            goto fail;
        }
    }
    for (i = 0; i < s->n; i++)
        if ((rc = write_configs(s, i, env, err)) < 0)
            goto fail;
    for (i = 0; i < s->n; i++) {
        char conf[PATH_MAX];
        char *argv[] = {(char *)REDIS_BIN, conf, NULL};

        snprintf(conf, sizeof(conf), "%s/redis.conf", s->h[i].dir);
        if ((rc = svc_spawn(&s->h[i].srv, s->h[i].netns, NULL, argv, NULL, err)) < 0)
            goto fail;
    }
    if ((rc = wait_all(s, false, deadline, server_ready, err)) < 0)
        goto fail;
    /*
     * Sentinels started in the same millisecond run their once-a-second
     * timers in step: they see the master down in the same millisecond, ask
     * for votes at once and split them far more often than sentinels started
     * at unrelated times, as on real hosts (a split vote is
     * -failover-abort-not-elected, and the next try waits 2 x
     * failover_timeout). Their starts are spread over one second.
     */
    for (i = 0; i < s->n; i++) {
        char conf[PATH_MAX];
        char *argv[] = {(char *)SENTINEL_BIN, conf, NULL};

        if (i > 0)
            usleep((useconds_t)(1000000 / s->n));
        snprintf(conf, sizeof(conf), "%s/sentinel.conf", s->h[i].dir);
        if ((rc = svc_spawn(&s->h[i].sen, s->h[i].netns, NULL, argv, NULL, err)) < 0)
            goto fail;
    }
    if ((rc = wait_all(s, true, deadline, sentinel_ready, err)) < 0)
        goto fail;
    if ((rc = make_endpoints(s, env)) < 0) {
        fl_errf(err, rc, "cannot build the endpoint list");
        goto fail;
    }
    *state = s;
    return 0;
fail:
    redis_stop(s);
    return rc;
}

static int redis_endpoints(void *state, const struct fl_target_endpoint **eps, size_t *n)
{
    struct redis_state *s = state;

    *eps = s->eps;
    *n = s->neps;
    return 0;
}

/* Count "+switch-master" lines in a sentinel's log: failovers it saw completed. */
static int count_switches(const char *log)
{
    FILE *f = fopen(log, "r");
    char line[1024];
    int n = 0;

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, "+switch-master"))
            n++;
    fclose(f);
    return n;
}

static json_t *redis_status(void *state)
{
    struct redis_state *s = state;
    json_t *o = json_object(), *hosts = json_object();
    const char *primary = NULL;
    int votes_best = 0, switches = 0;
    size_t i, j;
    int votes[64] = {0};

    if (!o || !hosts) {
        json_decref(o);
        json_decref(hosts);
        return NULL;
    }
    for (i = 0; i < s->n; i++) {
        char role[4096] = "", view[128] = "";
        const char *r = "unreachable";
        json_t *h = json_object();
        int c;

        if (rcmd(s->h[i].addr, s->port, 300, role, sizeof(role), "INFO replication") == 0)
            r = strstr(role, "role:master") ? "master" : "replica";
        json_object_set_new(h, "role", json_string(r));
        if (rcmd(s->h[i].addr, s->sport, 300, view, sizeof(view),
                 "SENTINEL get-master-addr-by-name %s", s->master_name) == 0) {
            json_object_set_new(h, "sentinel_master", json_string(view));
            /* Majority of sentinels' answers decides who the primary is. */
            for (j = 0; j < s->n && j < 64; j++) {
                size_t al = strlen(s->h[j].addr);

                if (strncmp(view, s->h[j].addr, al) == 0 && view[al] == ':' &&
                    ++votes[j] > votes_best) {
                    votes_best = votes[j];
                    primary = s->h[j].name;
                }
            }
        }
        c = count_switches(s->h[i].sen.log);
        if (c > switches)
            switches = c;
        json_object_set_new(hosts, s->h[i].name, h);
    }
    json_object_set_new(o, "primary", primary ? json_string(primary) : json_null());
    json_object_set_new(o, "initial_primary", json_string(s->h[s->primary].name));
    json_object_set_new(o, "failovers", json_integer(switches));
    json_object_set_new(o, "hosts", hosts);
    return o;
}

/* The options of this kind under target: in an experiment file (checked by the parser). */
static const struct vspec redis_opts[] = {
    {"kind", VT_STR, NULL, true},
    {"primary", VT_REGION, NULL, false},
    {"master_name", VT_STR, NULL, false},
    {"quorum", VT_UINT, NULL, false},
    {"down_after", VT_DUR, NULL, false},
    {"failover_timeout", VT_DUR, NULL, false},
    {"min_replicas_to_write", VT_UINT, NULL, false},
    {"min_replicas_max_lag", VT_DUR, NULL, false},
    {"port", VT_PORT, NULL, false},
    {"sentinel_port", VT_PORT, NULL, false},
    {NULL, VT_STR, NULL, false},
};

const struct fl_target_ops fl_target_redis_sentinel = {
    .kind = "redis-sentinel",
    .start = redis_start,
    .endpoints = redis_endpoints,
    .status = redis_status,
    .stop = redis_stop,
    .options = redis_opts,
    .check = redis_check,
};
