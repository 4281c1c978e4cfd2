/*
 * Staging: the service already runs on the hosts the experiment lists, so no
 * launcher starts it and none can say where it listens. This file answers
 * both from the file alone: the workload's endpoints per region, built from
 * the hosts' data addresses and the kind's ports exactly as the lab's
 * launchers build them (a refstore replica per host, a Redis Sentinel list
 * with the region's sentinels first, an etcd member list), and the check
 * that the service answers a read through every one of them before the load
 * starts (a service that is down is a harness error, exit 3, not a run full
 * of failed operations).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "faultline/timeutil.h"
#include "run_int.h"

#pragma GCC diagnostic ignored "-Wformat-truncation"

/* target.<key> as a port, or def. */
static int opt_port(const struct experiment *exp, const char *key, int def)
{
    json_t *p = json_object_get(exp->target.options, key);

    return json_is_integer(p) ? (int)json_integer_value(p) : def;
}

/* Host i's data address as a URL's host part ("10.1.1.11", "[fd00::11]"). */
static void url_host(const struct exp_topology *t, size_t i, char *buf, size_t len)
{
    char a[64];

    bringup_addr(&t->hosts[i].data, a, sizeof(a));
    snprintf(buf, len, strchr(a, ':') ? "[%s]" : "%s", a);
}

/* Append "sep host:port" to url (of size FL_URL_MAX). -ENAMETOOLONG when it does not fit. */
static int url_add(char *url, const char *sep, const char *scheme, const char *host, int port)
{
    size_t off = strlen(url);
    int n = snprintf(url + off, FL_URL_MAX - off, "%s%s%s:%d",
                     off && url[off - 1] != '@' ? sep : "", scheme, host, port);

    return n < 0 || (size_t)n >= FL_URL_MAX - off ? -ENAMETOOLONG : 0;
}

/*
 * Redis Sentinel: one list per region, that region's sentinels first (as the
 * launcher does); addresses bare (the driver splits at the last ':').
 */
static int redis_url(const struct experiment *exp, size_t ri, char *url)
{
    const struct exp_topology *t = &exp->topology;
    json_t *m = json_object_get(exp->target.options, "master_name");
    int sport = opt_port(exp, "sentinel_port", 26379), r = 0;
    char h[72];
    size_t k, i;

    snprintf(url, FL_URL_MAX, "redis-sentinel://%s@",
             json_is_string(m) ? json_string_value(m) : "mymaster");
    for (k = 0; k < 2 && r == 0; k++)
        for (i = 0; i < t->n_hosts && r == 0; i++) {
            if ((t->hosts[i].region == ri) != (k == 0))
                continue;
            bringup_addr(&t->hosts[i].data, h, sizeof(h));
            r = url_add(url, ",", "", h, sport);
        }
    return r;
}

int staging_endpoints(struct run *R, struct wl_config *wc, size_t ri, struct fl_err *err)
{
    const struct experiment *exp = R->exp;
    const struct exp_topology *t = &exp->topology;
    const struct exp_region *reg = &t->regions[ri];
    enum exp_target_kind kind = exp->target.kind;
    char url[FL_URL_MAX] = "", h[72];
    size_t i;
    int r = 0;

    if (kind == EXP_TARGET_REDIS_SENTINEL) {
        if (redis_url(exp, ri, url) < 0)
            return fl_errf(err, -ENAMETOOLONG,
                           "region %s: the sentinel list is longer than %d "
                           "characters",
                           reg->name, FL_URL_MAX - 1);
        return wl_config_add_endpoint(wc, reg->name, url, err);
    }
    if (kind == EXP_TARGET_ETCD) {
        for (i = reg->first_host; i < reg->first_host + reg->n_hosts && r == 0; i++) {
            url_host(t, i, h, sizeof(h));
            r = url_add(url, ",", "http://", h, opt_port(exp, "port", 2379));
        }
        if (r < 0)
            return fl_errf(err, r, "region %s: the member list is longer than %d characters",
                           reg->name, FL_URL_MAX - 1);
        return wl_config_add_endpoint(wc, reg->name, url, err);
    }
    if (kind == EXP_TARGET_POSTGRES)
        return fl_errf(err, -EOPNOTSUPP,
                       "target postgres: staging runs give no connection "
                       "string yet (run it in the lab)");
    /* refstore, http: every replica, in routing order (the first is the fixed one). */
    for (i = reg->first_host; i < reg->first_host + reg->n_hosts && r == 0; i++) {
        url_host(t, i, h, sizeof(h));
        snprintf(url, sizeof(url), "http://%s:%d", h, R->target_port);
        r = wl_config_add_endpoint(wc, reg->name, url, err);
    }
    return r;
}

/* A mix operation that reads one key, for the readiness probe (NULL: none). */
static const char *probe_op(const struct run *R)
{
    const struct exp_workload *w = &R->exp->workload;
    size_t i;

    for (i = 0; i < w->n_mix; i++) {
        const char *op = w->mix[i].op;

        if (fl_driver_kind(R->drv, op) != FL_OP_READ)
            continue;
        if (R->drv->is_point_read ? R->drv->is_point_read(op)
                                  : strncmp(op, "get", 3) == 0 || strncmp(op, "read", 4) == 0)
            return op;
    }
    return NULL;
}

/* One read through endpoint e: 0 when the service answered (a missing key is an answer). */
static int probe_once(struct run *R, const struct fl_endpoint *e, const char *op, char *why,
                      size_t len)
{
    struct fl_op_req q = {.op = op, .key = "faultline-staging-probe", .kind = FL_OP_READ};
    struct fl_op_result res;
    struct fl_err oerr = {0};
    void *conn = NULL;
    int r;

    if ((r = R->drv->open(e, 1, 2 * NS_S, &conn, &oerr)) < 0) {
        snprintf(why, len, "%s", oerr.msg[0] ? oerr.msg : strerror(-r));
        return r;
    }
    q.set_model = R->exp->workload.model == EXP_MODEL_SET;
    memset(&res, 0, sizeof(res));
    R->drv->op(conn, 0, &q, &res);
    R->drv->close(conn);
    if (res.outcome == HIST_OK || res.status == 404)
        return 0;
    snprintf(why, len, "%s", res.error[0] ? res.error : "no answer");
    return -EIO;
}

int staging_target_ready(struct run *R, int64_t timeout_ns, struct fl_err *err)
{
    int64_t deadline = fl_now_ns() + timeout_ns;
    const char *op = probe_op(R);
    struct wl_config wc;
    char why[256] = "";
    size_t i, e;
    int r = 0;

    if (op == NULL)
        return 0; /* nothing in the mix reads a key: the workload itself will tell */
    wl_config_init(&wc);
    for (i = 0; i < R->exp->topology.n_regions && r == 0; i++)
        r = staging_endpoints(R, &wc, i, err);
    for (e = 0; e < wc.nendpoints && r == 0; e++) {
        while (probe_once(R, &wc.endpoints[e], op, why, sizeof(why)) < 0) {
            if (fl_now_ns() > deadline || run_stopping(R)) {
                r = fl_errf(err, -ETIMEDOUT,
                            "the service does not answer '%s' at %s (region %s) within %lld s: "
                            "%s",
                            op, wc.endpoints[e].url, wc.endpoints[e].region,
                            (long long)(timeout_ns / NS_S), why);
                break;
            }
            usleep(200000);
        }
    }
    return r;
}
