/*
 * Capability probes of the rtnetlink kinds: netem, tbf, link, route. Each
 * probe does the real thing on a throw-away veth pair (flprobe<pid>a/b) and
 * undoes it, so "ok" means the fault would work and a failure carries the
 * kernel's own words ("kernel lacks sch_netem: Specified qdisc kind is
 * unknown."). Probes run in a private network namespace made by a short-lived
 * thread (unshare(CLONE_NEWNET) affects only that thread), so nothing of the
 * caller's namespace is touched even for an instant; without CAP_SYS_ADMIN
 * they fall back to the caller's namespace, where they touch only their own
 * veth pair (routes go to an unused table, never the main one).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include "inj_rtnl.h"

#define PROBE_TABLE 64023u /* 0xfa17: a table no rule points at */

struct probe_job {
    int (*fn)(struct inj_ctx *pctx, void *arg, struct fl_err *err);
    void *arg;
    int result;
    bool unshared;
    struct fl_err err;
};

static void *probe_thread(void *p)
{
    struct probe_job *job = p;
    struct inj_ctx *pctx;

    if (unshare(CLONE_NEWNET) < 0)
        return NULL; /* job->unshared stays false: the caller runs fn itself */
    job->unshared = true;
    pctx = calloc(1, sizeof(*pctx));
    if (pctx == NULL) {
        job->result = fl_errf(&job->err, -ENOMEM, "out of memory");
        return NULL;
    }
    job->result = inj_rtnl_open(pctx, &job->err);
    if (job->result == 0) {
        job->result = job->fn(pctx, job->arg, &job->err);
        inj_rtnl_close(pctx);
    }
    free(pctx);
    return NULL; /* the namespace dies with the thread's last reference */
}

int inj_rtnl_probe_run(struct inj_ctx *ctx,
                       int (*fn)(struct inj_ctx *pctx, void *arg, struct fl_err *err), void *arg,
                       struct fl_err *err)
{
    struct probe_job job = {.fn = fn, .arg = arg};
    pthread_t t;
    int r;

    r = pthread_create(&t, NULL, probe_thread, &job);
    if (r == 0) {
        pthread_join(t, NULL);
        if (job.unshared) {
            if (job.result < 0)
                return fl_errf(err, job.result, "%s", job.err.msg);
            return job.result;
        }
    }
    if (ctx == NULL || ctx->rtnl == NULL)
        return fl_errf(err, -EPERM,
                       "probe: cannot make a private namespace and no rtnetlink socket");
    return fn(ctx, arg, err);
}

/* ---- the throw-away veth pair ---------------------------------------------- */

static void veth_names(char *a, char *b, size_t len)
{
    snprintf(a, len, "flprobe%da", (int)(getpid() % 100000));
    snprintf(b, len, "flprobe%db", (int)(getpid() % 100000));
}

static int veth_del(struct inj_ctx *pctx, const char *a)
{
    struct rtnl_link *l = rtnl_link_alloc();
    int r;

    if (l == NULL)
        return -ENOMEM;
    rtnl_link_set_name(l, a);
    pctx->extack[0] = '\0';
    r = rtnl_link_delete(pctx->rtnl, l);
    rtnl_link_put(l);
    pctx->extack[0] = '\0';
    return r == 0 || r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV ? 0 : inj_rtnl_nle_errno(r);
}

/* Create flprobe<pid>a/b, a set up. */
static int veth_add(struct inj_ctx *pctx, const char *a, const char *b, struct fl_err *err)
{
    struct rtnl_link *l, *peer;
    int r;

    (void)veth_del(pctx, a); /* a leftover of a crashed probe with our pid */
    l = rtnl_link_veth_alloc();
    if (l == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    peer = rtnl_link_veth_get_peer(l);
    rtnl_link_set_name(l, a);
    rtnl_link_set_name(peer, b);
    rtnl_link_set_flags(l, IFF_UP);
    rtnl_link_put(peer);
    pctx->extack[0] = '\0';
    r = rtnl_link_add(pctx->rtnl, l, NLM_F_CREATE | NLM_F_EXCL);
    rtnl_link_veth_release(l);
    if (r < 0)
        return inj_rtnl_err(pctx, r, "probe: cannot create a veth pair", err);
    return 0;
}

/* ---- probes --------------------------------------------------------------- */

/* Apply and revert a real fault of kind on the probe veth. */
static int probe_kind(struct inj_ctx *pctx, void *arg, struct fl_err *err)
{
    const char *tmpl = arg; /* the spec as JSON text, without "dev" */
    char a[IFNAMSIZ], b[IFNAMSIZ];
    struct inj_fault *f = NULL;
    json_t *undo = NULL, *spec;
    int r, r2;

    veth_names(a, b, sizeof(a));
    spec = json_loads(tmpl, 0, NULL);
    if (spec == NULL || json_object_set_new(spec, "dev", json_string(a)) < 0) {
        json_decref(spec);
        return fl_errf(err, -ENOMEM, "out of memory");
    }
    r = inj_fault_parse_json(spec, &f, err);
    json_decref(spec);
    if (r < 0)
        return r;
    r = veth_add(pctx, a, b, err);
    if (r < 0)
        goto out;
    undo = json_object();
    if (undo == NULL) {
        r = fl_errf(err, -ENOMEM, "out of memory");
        goto del;
    }
    r = f->kind->apply(pctx, "probe", f, undo, err);
    if (r == 0) {
        r2 = f->kind->revert(pctx, "probe", f->spec, undo, err);
        if (r2 < 0)
            r = r2;
    }
del:
    r2 = veth_del(pctx, a);
    if (r2 < 0 && r == 0)
        r = fl_errf(err, r2, "probe: cannot delete veth %s", a);
out:
    json_decref(undo);
    inj_fault_free(f);
    return r;
}

int inj_probe_netem(struct inj_ctx *ctx, struct fl_err *err)
{
    static char spec[] = "{\"kind\":\"latency\",\"delay\":\"1ms\"}";

    return inj_rtnl_probe_run(ctx, probe_kind, spec, err);
}

int inj_probe_tbf(struct inj_ctx *ctx, struct fl_err *err)
{
    static char spec[] = "{\"kind\":\"bandwidth\",\"rate\":\"1mbit\"}";

    return inj_rtnl_probe_run(ctx, probe_kind, spec, err);
}

int inj_probe_link(struct inj_ctx *ctx, struct fl_err *err)
{
    static char spec[] = "{\"kind\":\"link-down\"}";

    return inj_rtnl_probe_run(ctx, probe_kind, spec, err);
}

/* A prohibit route in an unused table with faultline's protocol, added and deleted. */
static int probe_route_fn(struct inj_ctx *pctx, void *arg, struct fl_err *err)
{
    struct fl_cidr c = {.family = AF_INET, .addr = {198, 51, 100, 0}, .prefix = 24};
    struct rtnl_route *rt = NULL;
    int r;

    (void)arg;
    r = inj_route_build(&c, RTN_PROHIBIT, &rt, err);
    if (r < 0)
        return r;
    rtnl_route_set_table(rt, PROBE_TABLE);
    pctx->extack[0] = '\0';
    r = rtnl_route_add(pctx->rtnl, rt, NLM_F_CREATE | NLM_F_EXCL);
    if (r < 0) {
        rtnl_route_put(rt);
        return inj_rtnl_err(pctx, r, "probe: adding a prohibit route", err);
    }
    pctx->extack[0] = '\0';
    r = rtnl_route_delete(pctx->rtnl, rt, 0);
    rtnl_route_put(rt);
    if (r < 0)
        return inj_rtnl_err(pctx, r, "probe: deleting the prohibit route", err);
    return 0;
}

int inj_probe_route(struct inj_ctx *ctx, struct fl_err *err)
{
    return inj_rtnl_probe_run(ctx, probe_route_fn, NULL, err);
}
