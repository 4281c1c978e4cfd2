/*
 * link-down: take one interface administratively down over rtnetlink
 * (libnl-route-3, rtnl_link_change), as a pulled cable or a dead NIC does.
 * The same change marks the link's alias "faultline:<id>:<previous alias>",
 * so sweep can find and restore faultline's links with no journal at all.
 * Only links that are up are taken down (a link that is already down is
 * refused): so "bring it back up" is always the right inverse, even for a
 * sweep that has nothing but the alias to go on.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/route/link.h>

#include "inj_rtnl.h"

#define ALIAS_MAX 255 /* IFALIASZ - 1 */

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

    snprintf(buf, len, "link-down %s (set up again on revert)", p->dev);
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
