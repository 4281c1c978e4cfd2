/*
 * Queueing-discipline faults: latency, jitter, duplicate, corrupt, reorder
 * (one netem root qdisc) and bandwidth (one tbf root qdisc), through
 * libnl-route-3. faultline owns a qdisc by its handle major 0xfa17: revert
 * deletes only a root qdisc with that handle (the kernel then restores its
 * default), and sweep deletes every such root qdisc on every link. A device
 * whose root qdisc is the host's own (any non-zero handle that is not
 * faultline's) is refused, never replaced. Where the kernel lacks sch_netem,
 * applying fails before anything changes with "kernel lacks sch_netem: "
 * and the kernel's extended-ack text.
 *
 * Exemptions (the context's control network and the fault's own "exempt"):
 * when there are any, the root is an HTB qdisc fa17: (prio is not in every
 * kernel) with two classes that never limit: fa17:2, the default, holds the
 * netem/tbf qdisc (handle fa18:); u32 filters send traffic to an exempt
 * prefix, ARP and ICMPv6 (neighbour discovery) to fa17:1, which the fault
 * never touches: a device fault never slows or corrupts the control channel. Revert and sweep still
 * delete the one root fa17:, the whole tree with it.
 */
#include <errno.h>
#include <math.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pkt_sched.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/class.h>
#include <netlink/route/qdisc/htb.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>

#include "faultline/timeutil.h"
#include "faultline/inject_qdisc.h"
#include "inj_rtnl.h"

#define QD_HANDLE      (INJ_QDISC_MAJOR << 16)
#define QD_CHILD       ((INJ_QDISC_MAJOR + 1u) << 16) /* the fault under the exempting root */
#define QD_BAND_FREE   (QD_HANDLE | 1u)               /* exempt traffic */
#define QD_BAND_FAULT  (QD_HANDLE | 2u)
#define QD_HTB_RATE    12500000000ull      /* bytes/s: 100 Gbit/s, never the limit */
#define QD_HTB_BURST   (16u << 20)         /* bytes: about a millisecond at that rate */
#define QD_MAX_DELAY   (60 * 1000000000LL) /* 60s: netem ticks stay within 32 bits */
#define QD_DEF_LATENCY (50 * 1000000LL)    /* tbf queue: 50ms worth of rate */
#define QD_MIN_BURST   10000u              /* bytes: a few MTU-sized packets */

enum qd_type { QD_LATENCY, QD_JITTER, QD_DUPLICATE, QD_CORRUPT, QD_REORDER, QD_BANDWIDTH };

struct qd_params {
    enum qd_type type;
    char dev[IFNAMSIZ];
    int64_t delay_ns;
    int64_t jitter_ns;
    double correlation; /* percent, 0 if absent */
    double percent;     /* duplicate/corrupt/reorder */
    uint64_t rate_bps;  /* bandwidth: bytes per second */
    uint64_t burst;     /* bytes */
    int64_t latency_ns; /* tbf queue length as time */
};

static enum qd_type kind_type(const struct inj_kind *k)
{
    if (k == &inj_kind_latency)
        return QD_LATENCY;
    if (k == &inj_kind_jitter)
        return QD_JITTER;
    if (k == &inj_kind_duplicate)
        return QD_DUPLICATE;
    if (k == &inj_kind_corrupt)
        return QD_CORRUPT;
    if (k == &inj_kind_reorder)
        return QD_REORDER;
    return QD_BANDWIDTH;
}

bool inj_qdisc_exempts_control(void)
{
    return true;
}

uint32_t inj_netem_prob(double percent)
{
    double v;

    if (!(percent > 0))
        return 0;
    if (percent >= 100)
        return UINT32_MAX;
    v = percent / 100.0 * (double)UINT32_MAX;
    return (uint32_t)llround(v);
}

/* ---- parse -------------------------------------------------------------- */

static int json_duration(const json_t *spec, const char *key, bool required, int64_t max,
                         int64_t *out, struct fl_err *err)
{
    const char *s = NULL;
    int r;

    r = inj_json_string(spec, key, required, &s, err);
    if (r < 0 || s == NULL)
        return r;
    r = fl_duration_parse(s, out, err);
    if (r < 0) {
        fl_err_prefix(err, "'%s'", key);
        return r;
    }
    if (*out > max) {
        char b[32];

        return fl_errf(err, -EINVAL, "'%s' must be at most %s", key,
                       fl_duration_format(max, b, sizeof(b)));
    }
    return 0;
}

static int json_percent(const json_t *spec, const char *key, bool required, double *out,
                        struct fl_err *err)
{
    int r = inj_json_number(spec, key, required, 0, 100, out, err);

    if (r == 0 && required && !(*out > 0))
        return fl_errf(err, -EINVAL, "'%s' must be above 0 (a 0%% fault does nothing)", key);
    return r;
}

static int qd_parse(struct inj_fault *f, const json_t *spec, struct fl_err *err)
{
    static const char *const k_latency[] = {"kind",   "exempt",      "dev", "delay",
                                            "jitter", "correlation", NULL};
    static const char *const k_prob[] = {"kind", "exempt", "dev", "percent", "correlation", NULL};
    static const char *const k_reorder[] = {"kind",  "exempt",      "dev", "percent",
                                            "delay", "correlation", NULL};
    static const char *const k_bw[] = {"kind", "exempt", "dev", "rate", "burst", "latency", NULL};
    struct qd_params *p;
    const char *s = NULL;
    int r;

    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    f->priv = p;
    p->type = kind_type(f->kind);
    switch (p->type) {
    case QD_LATENCY:
    case QD_JITTER:
        r = inj_json_check_keys(spec, k_latency, err);
        break;
    case QD_REORDER:
        r = inj_json_check_keys(spec, k_reorder, err);
        break;
    case QD_BANDWIDTH:
        r = inj_json_check_keys(spec, k_bw, err);
        break;
    default:
        r = inj_json_check_keys(spec, k_prob, err);
        break;
    }
    if (r < 0)
        return r;
    r = inj_json_dev(f, spec, "dev", p->dev, err);
    if (r < 0)
        return r;
    switch (p->type) {
    case QD_LATENCY:
    case QD_JITTER:
        r = json_duration(spec, "delay", p->type == QD_LATENCY, QD_MAX_DELAY, &p->delay_ns, err);
        if (r == 0)
            r = json_duration(spec, "jitter", p->type == QD_JITTER, QD_MAX_DELAY, &p->jitter_ns,
                              err);
        if (r == 0)
            r = json_percent(spec, "correlation", false, &p->correlation, err);
        if (r < 0)
            return r;
        /* jitter alone: delays spread over [0, 2*jitter] rather than clipped at 0. */
        if (p->type == QD_JITTER && json_object_get(spec, "delay") == NULL)
            p->delay_ns = p->jitter_ns;
        if (p->type == QD_LATENCY && p->delay_ns == 0)
            return fl_errf(err, -EINVAL, "'delay' must be above 0");
        if (p->type == QD_JITTER && p->jitter_ns == 0)
            return fl_errf(err, -EINVAL, "'jitter' must be above 0");
        if (p->correlation > 0 && p->jitter_ns == 0)
            return fl_errf(err, -EINVAL, "'correlation' needs 'jitter'");
        if (p->delay_ns + p->jitter_ns > QD_MAX_DELAY)
            return fl_errf(err, -EINVAL, "'delay' plus 'jitter' must be at most 60s");
        return 0;
    case QD_DUPLICATE:
    case QD_CORRUPT:
        r = json_percent(spec, "percent", true, &p->percent, err);
        if (r == 0)
            r = json_percent(spec, "correlation", false, &p->correlation, err);
        return r;
    case QD_REORDER:
        r = json_percent(spec, "percent", true, &p->percent, err);
        if (r == 0)
            r = json_percent(spec, "correlation", false, &p->correlation, err);
        if (r == 0)
            r = json_duration(spec, "delay", true, QD_MAX_DELAY, &p->delay_ns, err);
        if (r == 0 && p->delay_ns == 0)
            r = fl_errf(err, -EINVAL,
                        "'delay' must be above 0 (reordering sends some packets "
                        "ahead of delayed ones)");
        return r;
    case QD_BANDWIDTH:
        r = inj_json_string(spec, "rate", true, &s, err);
        if (r == 0)
            r = inj_rate_parse(s, &p->rate_bps, err);
        if (r < 0)
            return r;
        s = NULL;
        r = inj_json_string(spec, "burst", false, &s, err);
        if (r == 0 && s != NULL)
            r = inj_size_parse(s, &p->burst, err);
        if (r < 0) {
            fl_err_prefix(err, "'burst'");
            return r;
        }
        if (s == NULL) {
            p->burst = p->rate_bps / 100; /* 10ms worth of tokens */
            if (p->burst < QD_MIN_BURST)
                p->burst = QD_MIN_BURST;
        }
        p->latency_ns = QD_DEF_LATENCY;
        r = json_duration(spec, "latency", false, 10 * 1000000000LL, &p->latency_ns, err);
        if (r == 0 && p->latency_ns == 0)
            r = fl_errf(err, -EINVAL, "'latency' must be above 0");
        return r;
    }
    return 0;
}

static void qd_free(struct inj_fault *f)
{
    free(f->priv);
    f->priv = NULL;
}

/* ---- build (pure) -------------------------------------------------------- */

int inj_qdisc_build(const struct inj_fault *f, int ifindex, struct rtnl_qdisc **out,
                    struct fl_err *err)
{
    const struct qd_params *p = f->priv;
    struct rtnl_qdisc *q;
    int r;

    *out = NULL;
    if (p == NULL)
        return fl_errf(err, -EINVAL, "not a qdisc fault");
    q = rtnl_qdisc_alloc();
    if (q == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
    rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
    rtnl_tc_set_handle(TC_CAST(q), QD_HANDLE);
    r = rtnl_tc_set_kind(TC_CAST(q), p->type == QD_BANDWIDTH ? "tbf" : "netem");
    if (r < 0) {
        rtnl_qdisc_put(q);
        return fl_errf(err, -EOPNOTSUPP, "libnl: %s", nl_geterror(r));
    }
    switch (p->type) {
    case QD_LATENCY:
    case QD_JITTER:
        rtnl_netem_set_delay(q, (int)(p->delay_ns / 1000));
        if (p->jitter_ns > 0)
            rtnl_netem_set_jitter(q, (int)(p->jitter_ns / 1000));
        if (p->correlation > 0)
            rtnl_netem_set_delay_correlation(q, (int)inj_netem_prob(p->correlation));
        break;
    case QD_DUPLICATE:
        rtnl_netem_set_duplicate(q, (int)inj_netem_prob(p->percent));
        if (p->correlation > 0)
            rtnl_netem_set_duplicate_correlation(q, (int)inj_netem_prob(p->correlation));
        break;
    case QD_CORRUPT:
        rtnl_netem_set_corruption_probability(q, (int)inj_netem_prob(p->percent));
        if (p->correlation > 0)
            rtnl_netem_set_corruption_correlation(q, (int)inj_netem_prob(p->correlation));
        break;
    case QD_REORDER:
        /* netem reorders by sending percent of packets at once, the rest after delay. */
        rtnl_netem_set_delay(q, (int)(p->delay_ns / 1000));
        rtnl_netem_set_reorder_probability(q, (int)inj_netem_prob(p->percent));
        if (p->correlation > 0)
            rtnl_netem_set_reorder_correlation(q, (int)inj_netem_prob(p->correlation));
        rtnl_netem_set_gap(q, 1);
        break;
    case QD_BANDWIDTH:
        rtnl_qdisc_tbf_set_rate(q, (int)p->rate_bps, (int)p->burst, 0);
        r = rtnl_qdisc_tbf_set_limit_by_latency(q, (int)(p->latency_ns / 1000));
        if (r < 0) {
            rtnl_qdisc_put(q);
            return fl_errf(err, -EINVAL, "tbf limit: %s", nl_geterror(r));
        }
        break;
    }
    *out = q;
    return 0;
}

/* ---- kernel side ------------------------------------------------------- */

/* The root qdisc of ifindex from a fresh dump (*out NULL if none); caller puts. */
static int root_qdisc(struct inj_ctx *ctx, int ifindex, struct rtnl_qdisc **out, struct fl_err *err)
{
    struct nl_cache *cache = NULL;
    struct rtnl_qdisc *q;
    int r;

    *out = NULL;
    ctx->extack[0] = '\0';
    r = rtnl_qdisc_alloc_cache(ctx->rtnl, &cache);
    if (r < 0)
        return inj_rtnl_err(ctx, r, "listing qdiscs", err);
    q = rtnl_qdisc_get_by_parent(cache, ifindex, TC_H_ROOT);
    nl_cache_free(cache);
    *out = q; /* rtnl_qdisc_get_by_parent took a reference */
    return 0;
}

static bool ours(struct rtnl_qdisc *q)
{
    return TC_H_MAJ(rtnl_tc_get_handle(TC_CAST(q))) == QD_HANDLE;
}

static int del_ours(struct inj_ctx *ctx, int ifindex, struct fl_err *err);

/* One u32 filter on the exempting root: protocol, keys set by the caller, to class 1. */
static struct rtnl_cls *filter_new(int ifindex, uint16_t proto, uint16_t prio)
{
    struct rtnl_cls *c = rtnl_cls_alloc();

    if (c == NULL)
        return NULL;
    rtnl_tc_set_ifindex(TC_CAST(c), ifindex);
    rtnl_tc_set_parent(TC_CAST(c), QD_HANDLE);
    if (rtnl_tc_set_kind(TC_CAST(c), "u32") < 0) {
        rtnl_cls_put(c);
        return NULL;
    }
    rtnl_cls_set_prio(c, prio);
    rtnl_cls_set_protocol(c, proto);
    rtnl_u32_set_classid(c, QD_BAND_FREE);
    rtnl_u32_set_cls_terminal(c);
    return c;
}

static int filter_add(struct inj_ctx *ctx, struct rtnl_cls *c, struct fl_err *err)
{
    int r;

    if (c == NULL)
        return fl_errf(err, -ENOMEM, "out of memory building a u32 filter");
    ctx->extack[0] = '\0';
    r = rtnl_cls_add(ctx->rtnl, c, NLM_F_CREATE | NLM_F_EXCL);
    rtnl_cls_put(c);
    if (r == -NLE_OBJ_NOTFOUND &&
        (ctx->extack[0] == '\0' || strstr(ctx->extack, "unknown") != NULL)) {
        r = fl_errf(err, -EOPNOTSUPP, "kernel lacks cls_u32: %s",
                    ctx->extack[0] ? ctx->extack : nl_geterror(r));
        ctx->extack[0] = '\0';
        return r;
    }
    return r < 0 ? inj_rtnl_err(ctx, r, "adding an exemption filter", err) : 0;
}

/* One HTB class fa17:minor that never limits (100 Gbit/s). */
static int htb_class(struct inj_ctx *ctx, int ifindex, uint32_t minor, struct fl_err *err)
{
    struct rtnl_class *c = rtnl_class_alloc();
    int r;

    if (c == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    rtnl_tc_set_ifindex(TC_CAST(c), ifindex);
    rtnl_tc_set_parent(TC_CAST(c), QD_HANDLE);
    rtnl_tc_set_handle(TC_CAST(c), QD_HANDLE | minor);
    if ((r = rtnl_tc_set_kind(TC_CAST(c), "htb")) < 0) {
        rtnl_class_put(c);
        return fl_errf(err, -EOPNOTSUPP, "libnl: %s", nl_geterror(r));
    }
    rtnl_htb_set_rate64(c, QD_HTB_RATE);
    rtnl_htb_set_ceil64(c, QD_HTB_RATE);
    rtnl_htb_set_quantum(c, 60000);
    rtnl_htb_set_rbuffer(c, QD_HTB_BURST);
    rtnl_htb_set_cbuffer(c, QD_HTB_BURST);
    ctx->extack[0] = '\0';
    r = rtnl_class_add(ctx->rtnl, c, NLM_F_CREATE | NLM_F_EXCL);
    rtnl_class_put(c);
    return r < 0 ? inj_rtnl_err(ctx, r, "adding an HTB class", err) : 0;
}

/*
 * The root that keeps exempt traffic out of the fault's class: HTB fa17:
 * (default class 2, the fault's), two classes that never limit, and u32
 * filters sending exempt traffic to class 1.
 */
static int exempt_tree(struct inj_ctx *ctx, int ifindex, const struct fl_cidr *ex, size_t nex,
                       struct fl_err *err)
{
    struct rtnl_qdisc *root = rtnl_qdisc_alloc();
    struct rtnl_cls *c;
    uint16_t pr = 1;
    size_t i;
    int r;

    if (root == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    rtnl_tc_set_ifindex(TC_CAST(root), ifindex);
    rtnl_tc_set_parent(TC_CAST(root), TC_H_ROOT);
    rtnl_tc_set_handle(TC_CAST(root), QD_HANDLE);
    if ((r = rtnl_tc_set_kind(TC_CAST(root), "htb")) < 0) {
        rtnl_qdisc_put(root);
        return fl_errf(err, -EOPNOTSUPP, "libnl: %s", nl_geterror(r));
    }
    rtnl_htb_set_defcls(root, 2);
    ctx->extack[0] = '\0';
    r = rtnl_qdisc_add(ctx->rtnl, root, NLM_F_CREATE | NLM_F_EXCL);
    rtnl_qdisc_put(root);
    if (r < 0) {
        if (r == -NLE_OBJ_NOTFOUND &&
            (ctx->extack[0] == '\0' || strstr(ctx->extack, "kind is unknown") != NULL)) {
            r = fl_errf(err, -EOPNOTSUPP, "kernel lacks sch_htb: %s",
                        ctx->extack[0] ? ctx->extack : nl_geterror(r));
            ctx->extack[0] = '\0';
            return r;
        }
        return inj_rtnl_err(ctx, r, "adding the exempting HTB qdisc", err);
    }
    if ((r = htb_class(ctx, ifindex, 1, err)) < 0 || (r = htb_class(ctx, ifindex, 2, err)) < 0)
        return r;
    /* Neighbour resolution must keep working: ARP, and ICMPv6 (next header 58). */
    c = filter_new(ifindex, ETH_P_ARP, pr++);
    if (c != NULL)
        rtnl_u32_add_key_uint32(c, 0, 0, 0, 0);
    if ((r = filter_add(ctx, c, err)) < 0)
        return r;
    c = filter_new(ifindex, ETH_P_IPV6, pr++);
    if (c != NULL)
        rtnl_u32_add_key_uint8(c, 58, 0xff, 6, 0);
    if ((r = filter_add(ctx, c, err)) < 0)
        return r;
    for (i = 0; i < nex; i++) {
        const struct fl_cidr *x = &ex[i];

        c = filter_new(ifindex, x->family == AF_INET ? ETH_P_IP : ETH_P_IPV6, pr++);
        if (c != NULL) {
            if (x->family == AF_INET)
                rtnl_u32_add_key_in_addr(c, (const struct in_addr *)x->addr, x->prefix, 16, 0);
            else
                rtnl_u32_add_key_in6_addr(c, (const struct in6_addr *)x->addr, x->prefix, 24, 0);
        }
        if ((r = filter_add(ctx, c, err)) < 0)
            return r;
    }
    return 0;
}

static int qd_apply(struct inj_ctx *ctx, const char *id, const struct inj_fault *f, json_t *undo,
                    struct fl_err *err)
{
    const struct qd_params *p = f->priv;
    const char *qkind = p->type == QD_BANDWIDTH ? "tbf" : "netem";
    struct rtnl_qdisc *cur = NULL, *q = NULL;
    size_t nex;
    int ifindex, r;

    (void)id;
    ifindex = inj_rtnl_ifindex(ctx, p->dev, err);
    if (ifindex < 0)
        return ifindex;
    r = root_qdisc(ctx, ifindex, &cur, err);
    if (r < 0)
        return r;
    if (cur != NULL && rtnl_tc_get_handle(TC_CAST(cur)) != 0) {
        const char *k = rtnl_tc_get_kind(TC_CAST(cur));
        uint32_t h = rtnl_tc_get_handle(TC_CAST(cur));

        if (ours(cur))
            r = fl_errf(err, -EEXIST,
                        "interface '%s' already carries a faultline %s qdisc (another fault); "
                        "one qdisc fault per interface",
                        p->dev, k ? k : "?");
        else
            r = fl_errf(err, -EBUSY,
                        "interface '%s' has its own root qdisc %s %x: (not faultline's); "
                        "refusing to replace it",
                        p->dev, k ? k : "?", TC_H_MAJ(h) >> 16);
        rtnl_qdisc_put(cur);
        return r;
    }
    rtnl_qdisc_put(cur);
    r = inj_qdisc_build(f, ifindex, &q, err);
    if (r < 0)
        return r;
    nex = ctx->n_exempt + f->n_exempt;
    if (json_object_set_new(undo, "dev", json_string(p->dev)) < 0 ||
        json_object_set_new(undo, "ifindex", json_integer(ifindex)) < 0 ||
        json_object_set_new(undo, "qdisc", json_string(qkind)) < 0 ||
        json_object_set_new(undo, "exempt", json_integer((json_int_t)nex)) < 0) {
        rtnl_qdisc_put(q);
        return fl_errf(err, -ENOMEM, "out of memory");
    }
    if (nex > 0) {
        struct fl_cidr *ex = calloc(nex, sizeof(*ex));

        if (ex == NULL) {
            rtnl_qdisc_put(q);
            return fl_errf(err, -ENOMEM, "out of memory");
        }
        if (ctx->n_exempt > 0)
            memcpy(ex, ctx->exempt, ctx->n_exempt * sizeof(*ex));
        if (f->n_exempt > 0)
            memcpy(ex + ctx->n_exempt, f->exempt, f->n_exempt * sizeof(*ex));
        r = exempt_tree(ctx, ifindex, ex, nex, err);
        free(ex);
        if (r < 0) {
            rtnl_qdisc_put(q);
            (void)del_ours(ctx, ifindex, NULL); /* atomic: the partial tree goes */
            return r;
        }
        rtnl_tc_set_parent(TC_CAST(q), QD_BAND_FAULT);
        rtnl_tc_set_handle(TC_CAST(q), QD_CHILD);
    }
    ctx->extack[0] = '\0';
    r = rtnl_qdisc_add(ctx->rtnl, q, NLM_F_CREATE | NLM_F_EXCL);
    rtnl_qdisc_put(q);
    if (r == 0)
        return 0;
    if (nex > 0) {
        char ack[sizeof(ctx->extack)];
        int e = r;

        memcpy(ack, ctx->extack, sizeof(ack));
        (void)del_ours(ctx, ifindex, NULL);
        memcpy(ctx->extack, ack, sizeof(ack));
        r = e;
    }
    /* The kernel answers ENOENT "Specified qdisc kind is unknown." for a missing module. */
    if (r == -NLE_OBJ_NOTFOUND &&
        (ctx->extack[0] == '\0' || strstr(ctx->extack, "kind is unknown") != NULL)) {
        r = fl_errf(err, -EOPNOTSUPP, "kernel lacks sch_%s: %s", qkind,
                    ctx->extack[0] ? ctx->extack : nl_geterror(r));
        ctx->extack[0] = '\0';
        return r;
    }
    return inj_rtnl_err(ctx, r, "adding qdisc", err);
}

/* Delete the faultline root qdisc of ifindex: 0 deleted, 1 none there. */
static int del_ours(struct inj_ctx *ctx, int ifindex, struct fl_err *err)
{
    struct rtnl_qdisc *cur = NULL;
    int r;

    r = root_qdisc(ctx, ifindex, &cur, err);
    if (r < 0)
        return r;
    if (cur == NULL || !ours(cur)) {
        rtnl_qdisc_put(cur);
        return 1;
    }
    ctx->extack[0] = '\0';
    r = rtnl_qdisc_delete(ctx->rtnl, cur);
    rtnl_qdisc_put(cur);
    if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV) {
        ctx->extack[0] = '\0';
        return 1;
    }
    if (r < 0)
        return inj_rtnl_err(ctx, r, "deleting qdisc", err);
    return 0;
}

static int qd_revert(struct inj_ctx *ctx, const char *id, const json_t *spec, const json_t *undo,
                     struct fl_err *err)
{
    const char *dev = json_string_value(json_object_get(undo, "dev"));
    struct fl_err tmp = {0};
    int ifindex;

    (void)id;
    if (dev == NULL)
        dev = json_string_value(json_object_get(spec, "dev"));
    if (dev == NULL)
        return 1; /* apply never got as far as the kernel */
    ifindex = inj_rtnl_ifindex(ctx, dev, &tmp);
    if (ifindex == -ENODEV)
        return 1; /* the link is gone, and its qdisc with it */
    if (ifindex < 0)
        return fl_errf(err, ifindex, "%s", tmp.msg);
    return del_ours(ctx, ifindex, err);
}

struct sweep_state {
    struct inj_ctx *ctx;
    struct fl_err *err;
    int ifindex[256];
    size_t n;
};

static void sweep_one(struct nl_object *obj, void *arg)
{
    struct sweep_state *st = arg;
    struct rtnl_qdisc *q = (struct rtnl_qdisc *)obj;

    if (rtnl_tc_get_parent(TC_CAST(q)) == TC_H_ROOT && ours(q) &&
        st->n < sizeof(st->ifindex) / sizeof(st->ifindex[0]))
        st->ifindex[st->n++] = rtnl_tc_get_ifindex(TC_CAST(q));
}

static int qd_sweep(struct inj_ctx *ctx, struct fl_err *err)
{
    struct sweep_state st = {.ctx = ctx, .err = err};
    struct nl_cache *cache = NULL;
    int r, first = 0;
    size_t i;

    ctx->extack[0] = '\0';
    r = rtnl_qdisc_alloc_cache(ctx->rtnl, &cache);
    if (r < 0)
        return inj_rtnl_err(ctx, r, "listing qdiscs", err);
    nl_cache_foreach(cache, sweep_one, &st);
    nl_cache_free(cache);
    for (i = 0; i < st.n; i++) {
        r = del_ours(ctx, st.ifindex[i], err);
        if (r < 0 && first == 0)
            first = r;
    }
    return first;
}

static void qd_describe(const struct inj_fault *f, char *buf, size_t len)
{
    const struct qd_params *p = f->priv;
    char a[32], b[32];

    switch (p->type) {
    case QD_LATENCY:
    case QD_JITTER:
        if (p->jitter_ns > 0)
            snprintf(buf, len, "%s %s +%s +-%s (netem)", f->kind->name, p->dev,
                     fl_duration_format(p->delay_ns, a, sizeof(a)),
                     fl_duration_format(p->jitter_ns, b, sizeof(b)));
        else
            snprintf(buf, len, "%s %s +%s (netem)", f->kind->name, p->dev,
                     fl_duration_format(p->delay_ns, a, sizeof(a)));
        break;
    case QD_DUPLICATE:
    case QD_CORRUPT:
        snprintf(buf, len, "%s %s %g%% of packets (netem)", f->kind->name, p->dev, p->percent);
        break;
    case QD_REORDER:
        snprintf(buf, len, "reorder %s %g%% sent ahead of packets delayed %s (netem)", p->dev,
                 p->percent, fl_duration_format(p->delay_ns, a, sizeof(a)));
        break;
    case QD_BANDWIDTH:
        snprintf(buf, len, "bandwidth %s %s (tbf, %llu bytes burst)", p->dev,
                 json_string_value(json_object_get(f->spec, "rate"))
                     ? json_string_value(json_object_get(f->spec, "rate"))
                     : "?",
                 (unsigned long long)p->burst);
        break;
    }
}

#define QD_KIND(var, kname, cap, text) \
    const struct inj_kind var = {      \
        .name = kname,                 \
        .needs = cap,                  \
        .summary = text,               \
        .parse = qd_parse,             \
        .free = qd_free,               \
        .apply = qd_apply,             \
        .revert = qd_revert,           \
        .describe = qd_describe,       \
        .sweep = qd_sweep,             \
        .evidence = NULL,              \
    }

QD_KIND(inj_kind_latency, "latency", INJ_CAP_NETEM,
        "add delay on an interface's egress: {dev, delay, jitter?, correlation?} (netem)");
QD_KIND(inj_kind_jitter, "jitter", INJ_CAP_NETEM,
        "random delay on an interface's egress: {dev, jitter, delay?, correlation?} (netem)");
QD_KIND(inj_kind_duplicate, "duplicate", INJ_CAP_NETEM,
        "duplicate packets: {dev, percent, correlation?} (netem)");
QD_KIND(inj_kind_corrupt, "corrupt", INJ_CAP_NETEM,
        "corrupt one bit in packets: {dev, percent, correlation?} (netem)");
QD_KIND(inj_kind_reorder, "reorder", INJ_CAP_NETEM,
        "reorder packets: {dev, percent, delay, correlation?} (netem)");
QD_KIND(inj_kind_bandwidth, "bandwidth", INJ_CAP_TBF,
        "limit an interface's egress rate: {dev, rate, burst?, latency?} (tbf)");
