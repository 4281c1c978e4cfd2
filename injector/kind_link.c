/*
 * link-down: take one interface administratively down over rtnetlink
 * (libnl-route-3, rtnl_link_change), as a pulled cable or a dead NIC does.
 * The same change marks the link's alias "faultline:<id>:<previous alias>",
 * so sweep can find and restore faultline's links with no journal at all.
 * Only links that are up are taken down (a link that is already down is
 * refused): so "bring it back up" is always the right inverse, even for a
 * sweep that has nothing but the alias to go on.
 *
 * Taking a link down makes the kernel forget state that setting it up does
 * not bring back: the IPv4 routes through it and its IPv6 addresses (with
 * their routes). Apply records, in the undo, the link's permanent addresses
 * (link-local ones excepted: the kernel makes them again) and every route
 * through it alone that the kernel did not make itself (not table local, not
 * proto kernel or ra, one nexthop on this link); revert sets the link up and
 * adds back whichever of them are missing (an existing one is left alone).
 * Route metrics other than the priority are not kept, nor multipath routes.
 * A sweep without the journal can only set the link up.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "inj_rtnl.h"

#define ALIAS_MAX      255  /* IFALIASZ - 1 */
#define LINK_SAVED_MAX 4096 /* addresses + routes recorded per link */
#define ADDR_KEEP_FLAGS \
    (IFA_F_NODAD | IFA_F_HOMEADDRESS | IFA_F_NOPREFIXROUTE | IFA_F_MANAGETEMPADDR)

struct link_params {
    char dev[IFNAMSIZ];
};

static int link_parse(struct inj_fault *f, const json_t *spec, struct fl_err *err)
{
    static const char *const keys[] = {"kind", "exempt", "dev", NULL};
    struct link_params *p;
    int r;

    r = inj_kind_params(f, spec, keys, sizeof(*p), err);
    if (r < 0)
        return r;
    p = f->priv;
    return inj_json_dev(f, spec, "dev", p->dev, err);
}

static void link_free(struct inj_fault *f)
{
    free(f->priv);
    f->priv = NULL;
}

/* Fetch dev; -ENODEV with "unknown interface" when absent. */
static int get_link(struct inj_ctx *ctx, const char *dev, struct rtnl_link **out,
                    struct fl_err *err)
{
    int r;

    *out = NULL;
    ctx->extack[0] = '\0';
    r = rtnl_link_get_kernel(ctx->rtnl, 0, dev, out);
    if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV) {
        ctx->extack[0] = '\0';
        return fl_errf(err, -ENODEV, "unknown interface '%s'", dev);
    }
    if (r < 0)
        return inj_rtnl_err(ctx, r, "looking up interface", err);
    return 0;
}

/* Set flags up/down and the alias in one RTM_NEWLINK/SETLINK. */
static int change_link(struct inj_ctx *ctx, struct rtnl_link *orig, bool up, const char *alias,
                       struct fl_err *err)
{
    struct rtnl_link *chg = rtnl_link_alloc();
    int r;

    if (chg == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    if (up)
        rtnl_link_set_flags(chg, IFF_UP);
    else
        rtnl_link_unset_flags(chg, IFF_UP);
    /* An empty alias removes it (the kernel stores nothing and dumps nothing). */
    rtnl_link_set_ifalias(chg, alias);
    ctx->extack[0] = '\0';
    r = rtnl_link_change(ctx->rtnl, orig, chg, 0);
    rtnl_link_put(chg);
    if (r < 0)
        return inj_rtnl_err(ctx, r, up ? "setting link up" : "setting link down", err);
    return 0;
}

/* "addr/len" of an nl_addr with an explicit prefix length; false if not an IP address. */
static bool addr_text(struct nl_addr *a, unsigned len, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN];
    int fam;

    if (a == NULL)
        return false;
    fam = nl_addr_get_family(a);
    if ((fam != AF_INET && fam != AF_INET6) ||
        inet_ntop(fam, nl_addr_get_binary_addr(a), ip, sizeof(ip)) == NULL)
        return false;
    snprintf(buf, size, "%s/%u", ip, len);
    return true;
}

struct saved {
    int ifindex;
    json_t *addrs, *routes;
    size_t n;
};

static void save_addr(struct nl_object *obj, void *arg)
{
    struct saved *sv = arg;
    struct rtnl_addr *a = (struct rtnl_addr *)obj;
    char buf[INET6_ADDRSTRLEN + 8];

    if (rtnl_addr_get_ifindex(a) != sv->ifindex || sv->n >= LINK_SAVED_MAX)
        return;
    if (rtnl_addr_get_scope(a) == RT_SCOPE_LINK || rtnl_addr_get_scope(a) == RT_SCOPE_HOST)
        return; /* fe80:: and the like come back with the link */
    if (rtnl_addr_get_family(a) == AF_INET6 && !(rtnl_addr_get_flags(a) & IFA_F_PERMANENT))
        return; /* autoconfigured: the router advertisements bring it back */
    if (!addr_text(rtnl_addr_get_local(a), rtnl_addr_get_prefixlen(a), buf, sizeof(buf)))
        return;
    json_array_append_new(sv->addrs,
                          json_pack("{s:i,s:s,s:i}", "family", rtnl_addr_get_family(a), "local",
                                    buf, "flags", (int)(rtnl_addr_get_flags(a) & ADDR_KEEP_FLAGS)));
    sv->n++;
}

static void save_route(struct nl_object *obj, void *arg)
{
    struct saved *sv = arg;
    struct rtnl_route *r = (struct rtnl_route *)obj;
    struct rtnl_nexthop *nh;
    struct nl_addr *dst, *gw;
    char d[INET6_ADDRSTRLEN + 8], g[INET6_ADDRSTRLEN + 8];
    json_t *o;

    if (sv->n >= LINK_SAVED_MAX || rtnl_route_get_table(r) == RT_TABLE_LOCAL ||
        rtnl_route_get_protocol(r) == RTPROT_KERNEL || rtnl_route_get_protocol(r) == RTPROT_RA ||
        rtnl_route_get_type(r) != RTN_UNICAST || rtnl_route_get_nnexthops(r) != 1)
        return;
    nh = rtnl_route_nexthop_n(r, 0);
    if (nh == NULL || rtnl_route_nh_get_ifindex(nh) != sv->ifindex)
        return;
    dst = rtnl_route_get_dst(r);
    if (!addr_text(dst, dst ? nl_addr_get_prefixlen(dst) : 0, d, sizeof(d)))
        return;
    gw = rtnl_route_nh_get_gateway(nh);
    o = json_pack("{s:i,s:s,s:I,s:i,s:I,s:i}", "family", rtnl_route_get_family(r), "dst", d,
                  "table", (json_int_t)rtnl_route_get_table(r), "protocol",
                  (int)rtnl_route_get_protocol(r), "priority",
                  (json_int_t)rtnl_route_get_priority(r), "scope", (int)rtnl_route_get_scope(r));
    if (o == NULL)
        return;
    if (gw != NULL && addr_text(gw, nl_addr_get_family(gw) == AF_INET ? 32 : 128, g, sizeof(g)))
        json_object_set_new(o, "gateway", json_string(g));
    json_array_append_new(sv->routes, o);
    sv->n++;
}

/* Record the link's addresses and routes into undo ("addrs", "routes"). */
static int save_state(struct inj_ctx *ctx, int ifindex, json_t *undo, struct fl_err *err)
{
    struct saved sv = {.ifindex = ifindex, .addrs = json_array(), .routes = json_array()};
    struct nl_cache *cache = NULL;
    int r;

    if (sv.addrs == NULL || sv.routes == NULL || json_object_set_new(undo, "addrs", sv.addrs) < 0 ||
        json_object_set_new(undo, "routes", sv.routes) < 0)
        return fl_errf(err, -ENOMEM, "out of memory");
    ctx->extack[0] = '\0';
    r = rtnl_addr_alloc_cache(ctx->rtnl, &cache);
    if (r < 0)
        return inj_rtnl_err(ctx, r, "listing addresses", err);
    nl_cache_foreach(cache, save_addr, &sv);
    nl_cache_free(cache);
    cache = NULL;
    r = rtnl_route_alloc_cache(ctx->rtnl, AF_UNSPEC, 0, &cache);
    if (r < 0)
        return inj_rtnl_err(ctx, r, "listing routes", err);
    nl_cache_foreach(cache, save_route, &sv);
    nl_cache_free(cache);
    return 0;
}

/* Add back the recorded addresses, then routes, that are missing. First error returned. */
static int restore_state(struct inj_ctx *ctx, int ifindex, const json_t *undo, struct fl_err *err)
{
    const json_t *e;
    struct nl_addr *a = NULL, *g = NULL;
    size_t i;
    int r, first = 0;

    json_array_foreach(json_object_get(undo, "addrs"), i, e)
    {
        struct rtnl_addr *ad = rtnl_addr_alloc();
        int fam = (int)json_integer_value(json_object_get(e, "family"));
        const char *local = json_string_value(json_object_get(e, "local"));

        if (ad == NULL || local == NULL || nl_addr_parse(local, fam, &a) < 0) {
            rtnl_addr_put(ad);
            continue;
        }
        rtnl_addr_set_ifindex(ad, ifindex);
        rtnl_addr_set_family(ad, fam);
        rtnl_addr_set_local(ad, a);
        rtnl_addr_set_prefixlen(ad, nl_addr_get_prefixlen(a));
        rtnl_addr_set_flags(ad, (unsigned)json_integer_value(json_object_get(e, "flags")));
        ctx->extack[0] = '\0';
        r = rtnl_addr_add(ctx->rtnl, ad, NLM_F_EXCL);
        if (r < 0 && r != -NLE_EXIST && first == 0)
            first = inj_rtnl_err(ctx, r, "restoring an address", err);
        nl_addr_put(a);
        a = NULL;
        rtnl_addr_put(ad);
    }
    json_array_foreach(json_object_get(undo, "routes"), i, e)
    {
        struct rtnl_route *rt = rtnl_route_alloc();
        struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
        int fam = (int)json_integer_value(json_object_get(e, "family"));
        const char *dst = json_string_value(json_object_get(e, "dst"));
        const char *gw = json_string_value(json_object_get(e, "gateway"));

        if (rt == NULL || nh == NULL || dst == NULL || nl_addr_parse(dst, fam, &a) < 0) {
            rtnl_route_put(rt);
            if (nh != NULL)
                rtnl_route_nh_free(nh);
            continue;
        }
        rtnl_route_set_family(rt, (uint8_t)fam);
        rtnl_route_set_dst(rt, a);
        rtnl_route_set_table(rt, (uint32_t)json_integer_value(json_object_get(e, "table")));
        rtnl_route_set_protocol(rt, (uint8_t)json_integer_value(json_object_get(e, "protocol")));
        rtnl_route_set_priority(rt, (uint32_t)json_integer_value(json_object_get(e, "priority")));
        rtnl_route_set_scope(rt, (uint8_t)json_integer_value(json_object_get(e, "scope")));
        rtnl_route_set_type(rt, RTN_UNICAST);
        rtnl_route_nh_set_ifindex(nh, ifindex);
        if (gw != NULL && nl_addr_parse(gw, fam, &g) == 0) {
            rtnl_route_nh_set_gateway(nh, g);
            nl_addr_put(g);
            g = NULL;
        }
        rtnl_route_add_nexthop(rt, nh);
        ctx->extack[0] = '\0';
        r = rtnl_route_add(ctx->rtnl, rt, NLM_F_EXCL);
        if (r < 0 && r != -NLE_EXIST && first == 0)
            first = inj_rtnl_err(ctx, r, "restoring a route", err);
        nl_addr_put(a);
        a = NULL;
        rtnl_route_put(rt);
    }
    return first;
}

static int link_apply(struct inj_ctx *ctx, const char *id, const struct inj_fault *f, json_t *undo,
                      struct fl_err *err)
{
    const struct link_params *p = f->priv;
    struct rtnl_link *link = NULL;
    const char *old;
    char alias[ALIAS_MAX + 1];
    int r;

    r = get_link(ctx, p->dev, &link, err);
    if (r < 0)
        return r;
    old = rtnl_link_get_ifalias(link);
    if (old == NULL)
        old = "";
    if (strncmp(old, INJ_LINK_ALIAS, strlen(INJ_LINK_ALIAS)) == 0) {
        r = fl_errf(err, -EEXIST, "interface '%s' is already down by a fault (alias '%s')", p->dev,
                    old);
        goto out;
    }
    if (!(rtnl_link_get_flags(link) & IFF_UP)) {
        r = fl_errf(err, -EALREADY,
                    "interface '%s' is already down; link-down only takes down links that are up",
                    p->dev);
        goto out;
    }
    /* The alias carries the old one so sweep can restore it; the journal keeps it whole. */
    snprintf(alias, sizeof(alias), "%s%s:%s", INJ_LINK_ALIAS, id, old);
    if (json_object_set_new(undo, "dev", json_string(p->dev)) < 0 ||
        json_object_set_new(undo, "ifindex", json_integer(rtnl_link_get_ifindex(link))) < 0 ||
        json_object_set_new(undo, "was_up", json_true()) < 0 ||
        json_object_set_new(undo, "alias", json_string(old)) < 0) {
        r = fl_errf(err, -ENOMEM, "out of memory");
        goto out;
    }
    r = save_state(ctx, rtnl_link_get_ifindex(link), undo, err);
    if (r < 0)
        goto out;
    r = change_link(ctx, link, false, alias, err);
out:
    rtnl_link_put(link);
    return r;
}

/* Restore link: up if was_up, alias back. 0 done, 1 not ours (nothing to do). */
static int restore(struct inj_ctx *ctx, struct rtnl_link *link, const char *id, bool was_up,
                   const char *old_alias, struct fl_err *err)
{
    const char *cur = rtnl_link_get_ifalias(link);
    char prefix[ALIAS_MAX + 1];

    if (id != NULL)
        snprintf(prefix, sizeof(prefix), "%s%s:", INJ_LINK_ALIAS, id);
    else
        snprintf(prefix, sizeof(prefix), "%s", INJ_LINK_ALIAS);
    if (cur == NULL || strncmp(cur, prefix, strlen(prefix)) != 0)
        return 1; /* not marked by this fault: someone else's state now */
    if (old_alias == NULL) {
        /* sweep: the old alias is what follows "faultline:<id>:" */
        const char *c = strchr(cur + strlen(INJ_LINK_ALIAS), ':');

        old_alias = c ? c + 1 : "";
    }
    if (was_up)
        return change_link(ctx, link, true, old_alias, err);
    return change_link(ctx, link, false, old_alias, err);
}

static int link_revert(struct inj_ctx *ctx, const char *id, const json_t *spec, const json_t *undo,
                       struct fl_err *err)
{
    const char *dev = json_string_value(json_object_get(undo, "dev"));
    const char *old = json_string_value(json_object_get(undo, "alias"));
    json_t *wu = json_object_get(undo, "was_up");
    struct rtnl_link *link = NULL;
    struct fl_err tmp = {0};
    int r;

    (void)spec;
    if (dev == NULL)
        return 1; /* apply never reached the kernel */
    r = get_link(ctx, dev, &link, &tmp);
    if (r == -ENODEV)
        return 1;
    if (r < 0)
        return fl_errf(err, r, "%s", tmp.msg);
    r = restore(ctx, link, id, wu == NULL || json_is_true(wu), old ? old : "", err);
    if (r == 0 && (wu == NULL || json_is_true(wu)))
        r = restore_state(ctx, rtnl_link_get_ifindex(link), undo, err);
    rtnl_link_put(link);
    return r;
}

struct link_sweep {
    int ifindex[256];
    size_t n;
};

static void sweep_collect(struct nl_object *obj, void *arg)
{
    struct link_sweep *st = arg;
    struct rtnl_link *l = (struct rtnl_link *)obj;
    const char *a = rtnl_link_get_ifalias(l);

    if (a != NULL && strncmp(a, INJ_LINK_ALIAS, strlen(INJ_LINK_ALIAS)) == 0 &&
        st->n < sizeof(st->ifindex) / sizeof(st->ifindex[0]))
        st->ifindex[st->n++] = rtnl_link_get_ifindex(l);
}

static int link_sweep(struct inj_ctx *ctx, struct fl_err *err)
{
    struct link_sweep st = {.n = 0};
    struct nl_cache *cache = NULL;
    int r, first = 0;
    size_t i;

    ctx->extack[0] = '\0';
    r = rtnl_link_alloc_cache(ctx->rtnl, AF_UNSPEC, &cache);
    if (r < 0)
        return inj_rtnl_err(ctx, r, "listing links", err);
    nl_cache_foreach(cache, sweep_collect, &st);
    nl_cache_free(cache);
    for (i = 0; i < st.n; i++) {
        struct rtnl_link *link = NULL;

        ctx->extack[0] = '\0';
        r = rtnl_link_get_kernel(ctx->rtnl, st.ifindex[i], NULL, &link);
        if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
            continue;
        if (r < 0) {
            r = inj_rtnl_err(ctx, r, "looking up interface", err);
        } else {
            /* faultline only ever takes down links that were up. */
            r = restore(ctx, link, NULL, true, NULL, err);
            rtnl_link_put(link);
        }
        if (r < 0 && first == 0)
            first = r;
    }
    return first;
}

static void link_describe(const struct inj_fault *f, char *buf, size_t len)
{
    const struct link_params *p = f->priv;

    snprintf(buf, len, "link-down %s (set up again on revert, its routes and addresses restored)",
             p->dev);
}

/* rtnetlink link probe (probe_rtnl.c) uses this kind's needs bit. */
const struct inj_kind inj_kind_link_down = {
    .name = "link-down",
    .needs = INJ_CAP_LINK,
    .summary = "take an interface down: {dev}",
    .parse = link_parse,
    .free = link_free,
    .apply = link_apply,
    .revert = link_revert,
    .describe = link_describe,
    .sweep = link_sweep,
    .evidence = NULL,
};
