/*
 * blackhole: routes that swallow traffic to CIDRs at the sending host, over
 * rtnetlink (libnl-route-3). Type blackhole drops silently, prohibit answers
 * the local sender at once with EACCES (ICMP administratively prohibited for
 * forwarded packets), unreachable with EHOSTUNREACH. Every route faultline adds
 * lives in the main table with protocol 0xfa, so sweep deletes exactly
 * faultline's routes (all tables, IPv4 and IPv6) and nothing of the host's.
 * A CIDR that already has a route of the same prefix in the main table is
 * refused before anything is added (never replaced); a failure halfway
 * removes the routes already added.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/rtnetlink.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/route/route.h>

#include "faultline/hint.h"
#include "inj_rtnl.h"

struct route_params {
    struct fl_cidr *cidrs;
    size_t n;
    int type;         /* RTN_BLACKHOLE, RTN_PROHIBIT, RTN_UNREACHABLE */
    const char *name; /* "blackhole", ... */
};

static const struct {
    const char *name;
    int type;
} types[] = {
    {"blackhole", RTN_BLACKHOLE},
    {"prohibit", RTN_PROHIBIT},
    {"unreachable", RTN_UNREACHABLE},
};

static int route_parse(struct inj_fault *f, const json_t *spec, struct fl_err *err)
{
    static const char *const keys[] = {"kind", "exempt", "cidrs", "type", NULL};
    static const char *const names[] = {"blackhole", "prohibit", "unreachable", NULL};
    struct route_params *p;
    const char *t = "blackhole";
    json_t *arr;
    size_t i;
    int r;

    r = inj_kind_params(f, spec, keys, sizeof(*p), err);
    if (r < 0)
        return r;
    p = f->priv;
    r = inj_json_string(spec, "type", false, &t, err);
    if (r < 0)
        return r;
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(t, types[i].name) == 0)
            break;
    if (i == sizeof(types) / sizeof(types[0])) {
        const char *near = fl_hint_nearest(t, names);

        return fl_errf(err, -EINVAL,
                       "'type' must be blackhole, prohibit or unreachable, got '%s'%s%s%s", t,
                       near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
    }
    p->type = types[i].type;
    p->name = types[i].name;
    arr = json_object_get(spec, "cidrs");
    if (arr == NULL)
        return fl_errf(err, -EINVAL, "missing key 'cidrs'");
    r = inj_json_cidrs(arr, "cidrs", false, &p->cidrs, &p->n, err);
    if (r < 0)
        return r;
    if (p->n > 1024)
        return fl_errf(err, -E2BIG, "'cidrs' has %zu entries, at most 1024", p->n);
    for (i = 0; i < p->n; i++) {
        size_t j;

        for (j = 0; j < i; j++) {
            if (p->cidrs[i].family == p->cidrs[j].family &&
                p->cidrs[i].prefix == p->cidrs[j].prefix &&
                memcmp(p->cidrs[i].addr, p->cidrs[j].addr, 16) == 0) {
                char b[64];

                return fl_errf(err, -EINVAL, "'cidrs' names %s twice",
                               fl_cidr_format(&p->cidrs[i], b, sizeof(b)));
            }
        }
    }
    if (inj_fault_add_cidrs(f, p->cidrs, p->n) < 0)
        return fl_errf(err, -ENOMEM, "out of memory");
    return 0;
}

static void route_free(struct inj_fault *f)
{
    struct route_params *p = f->priv;

    if (p != NULL)
        free(p->cidrs);
    free(p);
    f->priv = NULL;
}

int inj_route_build(const struct fl_cidr *c, int rtn_type, struct rtnl_route **out,
                    struct fl_err *err)
{
    struct rtnl_route *rt;
    struct nl_addr *dst;
    int r;

    *out = NULL;
    dst = nl_addr_build(c->family, c->addr, (size_t)fl_cidr_addrlen(c));
    if (dst == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    nl_addr_set_prefixlen(dst, c->prefix);
    rt = rtnl_route_alloc();
    if (rt == NULL) {
        nl_addr_put(dst);
        return fl_errf(err, -ENOMEM, "out of memory");
    }
    rtnl_route_set_family(rt, (uint8_t)c->family);
    r = rtnl_route_set_dst(rt, dst);
    nl_addr_put(dst);
    if (r == 0)
        r = rtnl_route_set_type(rt, (uint8_t)rtn_type);
    if (r < 0) {
        rtnl_route_put(rt);
        return fl_errf(err, -EINVAL, "route: %s", nl_geterror(r));
    }
    rtnl_route_set_table(rt, RT_TABLE_MAIN);
    rtnl_route_set_protocol(rt, INJ_ROUTE_PROTO);
    rtnl_route_set_scope(rt, RT_SCOPE_UNIVERSE);
    *out = rt;
    return 0;
}

/* True if route r is in the main table with exactly prefix c. */
static bool same_dst(struct rtnl_route *r, const struct fl_cidr *c)
{
    struct nl_addr *d = rtnl_route_get_dst(r);

    if (rtnl_route_get_table(r) != RT_TABLE_MAIN || rtnl_route_get_family(r) != c->family)
        return false;
    if (d == NULL)
        return c->prefix == 0;
    if (nl_addr_get_prefixlen(d) != c->prefix)
        return false;
    if (c->prefix == 0)
        return true;
    return nl_addr_get_len(d) == (unsigned)fl_cidr_addrlen(c) &&
           memcmp(nl_addr_get_binary_addr(d), c->addr, (size_t)fl_cidr_addrlen(c)) == 0;
}

struct dup_state {
    const struct fl_cidr *c;
    int found; /* protocol of the clashing route + 1, 0 if none */
};

static void find_dup(struct nl_object *obj, void *arg)
{
    struct dup_state *st = arg;
    struct rtnl_route *r = (struct rtnl_route *)obj;

    if (st->found == 0 && same_dst(r, st->c))
        st->found = rtnl_route_get_protocol(r) + 1;
}

/* Delete the faultline route for c of type: 0 deleted, 1 not there. */
static int del_route(struct inj_ctx *ctx, const struct fl_cidr *c, int type, struct fl_err *err)
{
    struct rtnl_route *rt = NULL;
    char b[64];
    int r;

    r = inj_route_build(c, type, &rt, err);
    if (r < 0)
        return r;
    ctx->extack[0] = '\0';
    r = rtnl_route_delete(ctx->rtnl, rt, 0);
    rtnl_route_put(rt);
    if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NOADDR) {
        ctx->extack[0] = '\0';
        return 1;
    }
    if (r < 0) {
        char what[96];

        snprintf(what, sizeof(what), "deleting route %s", fl_cidr_format(c, b, sizeof(b)));
        return inj_rtnl_err(ctx, r, what, err);
    }
    return 0;
}

static int route_apply(struct inj_ctx *ctx, const char *id, const struct inj_fault *f, json_t *undo,
                       struct fl_err *err)
{
    const struct route_params *p = f->priv;
    struct nl_cache *cache = NULL;
    json_t *list;
    size_t i, done = 0;
    char b[64];
    int r;

    (void)id;
    ctx->extack[0] = '\0';
    r = rtnl_route_alloc_cache(ctx->rtnl, AF_UNSPEC, 0, &cache);
    if (r < 0)
        return inj_rtnl_err(ctx, r, "listing routes", err);
    for (i = 0; i < p->n; i++) {
        struct dup_state st = {.c = &p->cidrs[i], .found = 0};

        nl_cache_foreach(cache, find_dup, &st);
        if (st.found != 0) {
            nl_cache_free(cache);
            return fl_errf(err, -EEXIST,
                           "a route to %s already exists in the main table (protocol %d)%s; "
                           "refusing to shadow it",
                           fl_cidr_format(&p->cidrs[i], b, sizeof(b)), st.found - 1,
                           st.found - 1 == INJ_ROUTE_PROTO ? ", from another faultline fault" : "");
        }
    }
    nl_cache_free(cache);
    /* Record the inverse before touching the kernel. */
    list = json_array();
    if (list == NULL || json_object_set_new(undo, "routes", list) < 0)
        return fl_errf(err, -ENOMEM, "out of memory");
    if (json_object_set_new(undo, "type", json_string(p->name)) < 0)
        return fl_errf(err, -ENOMEM, "out of memory");
    for (i = 0; i < p->n; i++)
        if (json_array_append_new(list, json_string(fl_cidr_format(&p->cidrs[i], b, sizeof(b)))) <
            0)
            return fl_errf(err, -ENOMEM, "out of memory");
    for (i = 0; i < p->n; i++) {
        struct rtnl_route *rt = NULL;

        r = inj_route_build(&p->cidrs[i], p->type, &rt, err);
        if (r < 0)
            goto rollback;
        ctx->extack[0] = '\0';
        r = rtnl_route_add(ctx->rtnl, rt, NLM_F_CREATE | NLM_F_EXCL);
        rtnl_route_put(rt);
        if (r < 0) {
            char what[96];

            snprintf(what, sizeof(what), "adding %s route %s", p->name,
                     fl_cidr_format(&p->cidrs[i], b, sizeof(b)));
            r = inj_rtnl_err(ctx, r, what, err);
            goto rollback;
        }
        done++;
    }
    return 0;
rollback:
    while (done > 0) {
        done--;
        (void)del_route(ctx, &p->cidrs[done], p->type, NULL);
    }
    return r;
}

static int route_revert(struct inj_ctx *ctx, const char *id, const json_t *spec, const json_t *undo,
                        struct fl_err *err)
{
    const json_t *list = json_object_get(undo, "routes");
    const char *tname = json_string_value(json_object_get(undo, "type"));
    int type = RTN_BLACKHOLE, r, first = 0, any = 0;
    size_t i, k;
    json_t *v;

    (void)id;
    (void)spec;
    if (!json_is_array(list))
        return 1; /* apply never reached the kernel */
    for (k = 0; tname != NULL && k < sizeof(types) / sizeof(types[0]); k++)
        if (strcmp(tname, types[k].name) == 0)
            type = types[k].type;
    json_array_foreach(list, i, v)
    {
        struct fl_cidr c;

        if (!json_is_string(v) || fl_cidr_parse(json_string_value(v), &c, NULL) < 0)
            continue;
        r = del_route(ctx, &c, type, err);
        if (r == 0)
            any = 1;
        else if (r < 0 && first == 0)
            first = r;
    }
    if (first < 0)
        return first;
    return any ? 0 : 1;
}

static void find_ours(struct nl_object *obj, void *arg)
{
    struct dup_state *st = arg;
    struct rtnl_route *r = (struct rtnl_route *)obj;

    if (st->found == 0 && same_dst(r, st->c) && rtnl_route_get_protocol(r) == INJ_ROUTE_PROTO)
        st->found = 1;
}

/* Every route the journal lists is in the kernel, with faultline's protocol. */
static int route_present(struct inj_ctx *ctx, const char *id, const json_t *spec,
                         const json_t *undo)
{
    const json_t *list = json_object_get(undo, "routes");
    struct nl_cache *cache = NULL;
    int r, all = 1;
    size_t i;
    json_t *v;

    (void)id;
    (void)spec;
    if (!json_is_array(list))
        return 0;
    ctx->extack[0] = '\0';
    r = rtnl_route_alloc_cache(ctx->rtnl, AF_UNSPEC, 0, &cache);
    if (r < 0)
        return inj_rtnl_nle_errno(r);
    json_array_foreach(list, i, v)
    {
        struct dup_state st = {.found = 0};
        struct fl_cidr c;

        if (!json_is_string(v) || fl_cidr_parse(json_string_value(v), &c, NULL) < 0)
            continue;
        st.c = &c;
        nl_cache_foreach(cache, find_ours, &st);
        if (st.found == 0)
            all = 0;
    }
    nl_cache_free(cache);
    return all;
}

struct sweep_state {
    struct nl_object *objs[1024];
    size_t n;
};

static void sweep_collect(struct nl_object *obj, void *arg)
{
    struct sweep_state *st = arg;

    if (rtnl_route_get_protocol((struct rtnl_route *)obj) == INJ_ROUTE_PROTO &&
        st->n < sizeof(st->objs) / sizeof(st->objs[0])) {
        nl_object_get(obj);
        st->objs[st->n++] = obj;
    }
}

static int route_sweep(struct inj_ctx *ctx, struct fl_err *err)
{
    struct sweep_state *st;
    struct nl_cache *cache = NULL;
    int r, first = 0;
    size_t i;

    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    ctx->extack[0] = '\0';
    r = rtnl_route_alloc_cache(ctx->rtnl, AF_UNSPEC, 0, &cache);
    if (r < 0) {
        free(st);
        return inj_rtnl_err(ctx, r, "listing routes", err);
    }
    nl_cache_foreach(cache, sweep_collect, st);
    nl_cache_free(cache);
    for (i = 0; i < st->n; i++) {
        ctx->extack[0] = '\0';
        r = rtnl_route_delete(ctx->rtnl, (struct rtnl_route *)st->objs[i], 0);
        if (r < 0 && r != -NLE_OBJ_NOTFOUND && r != -NLE_NOADDR && first == 0)
            first = inj_rtnl_err(ctx, r, "deleting faultline route", err);
        nl_object_put(st->objs[i]);
    }
    free(st);
    return first;
}

static void route_describe(const struct inj_fault *f, char *buf, size_t len)
{
    const struct route_params *p = f->priv;
    char b[64];

    if (p->n == 1)
        snprintf(buf, len, "%s route to %s", p->name, fl_cidr_format(&p->cidrs[0], b, sizeof(b)));
    else
        snprintf(buf, len, "%s routes to %zu CIDRs (%s, ...)", p->name, p->n,
                 fl_cidr_format(&p->cidrs[0], b, sizeof(b)));
}

const struct inj_kind inj_kind_blackhole = {
    .name = "blackhole",
    .needs = INJ_CAP_ROUTE,
    .summary = "drop or refuse traffic to CIDRs at this host: {cidrs, type?: blackhole|prohibit|"
               "unreachable}",
    .parse = route_parse,
    .free = route_free,
    .apply = route_apply,
    .revert = route_revert,
    .describe = route_describe,
    .sweep = route_sweep,
    .evidence = NULL,
    .present = route_present,
};
