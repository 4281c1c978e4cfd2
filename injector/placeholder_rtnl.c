/*
 * TEMPORARY weak fallbacks for the rtnetlink half of the injector while it is
 * being written in rtnl.c, kind_qdisc.c, kind_link.c, kind_route.c,
 * kind_process.c and probe_rtnl.c (strong definitions there override these).
 * Each says plainly that the kind is not available. Delete when they land.
 */
#include <errno.h>

#include "inj_int.h"

static int na_parse(struct inj_fault *f, const json_t *spec, struct fl_err *err)
{
    (void)spec;
    return fl_errf(err, -EOPNOTSUPP, "fault kind '%s' is not built into this injector",
                   f->kind->name);
}

#define NA_KIND(sym, kname) \
    __attribute__((weak)) const struct inj_kind sym = {.name = kname, .parse = na_parse}

NA_KIND(inj_kind_latency, "latency");
NA_KIND(inj_kind_jitter, "jitter");
NA_KIND(inj_kind_duplicate, "duplicate");
NA_KIND(inj_kind_corrupt, "corrupt");
NA_KIND(inj_kind_reorder, "reorder");
NA_KIND(inj_kind_bandwidth, "bandwidth");
NA_KIND(inj_kind_link_down, "link-down");
NA_KIND(inj_kind_blackhole, "blackhole");
NA_KIND(inj_kind_process, "process");

__attribute__((weak)) int inj_rtnl_open(struct inj_ctx *ctx, struct fl_err *err)
{
    return 0;
}

__attribute__((weak)) void inj_rtnl_close(struct inj_ctx *ctx)
{
}

#define NA_PROBE(fn, what)                                                \
    __attribute__((weak)) int fn(struct inj_ctx *ctx, struct fl_err *err) \
    {                                                                     \
        return fl_errf(err, -EOPNOTSUPP, what " probe not built");        \
    }
NA_PROBE(inj_probe_netem, "netem")
NA_PROBE(inj_probe_tbf, "tbf")
NA_PROBE(inj_probe_link, "link")
NA_PROBE(inj_probe_route, "route")
