/*
 * Capability probe: what this kernel can do, found by trying it on objects
 * that are created and removed in the same breath. nf_tables is probed with
 * one batch that creates and deletes a throw-away table (nothing is left even
 * if the process dies mid-way: the batch is atomic). The rtnetlink probes
 * (netem, tbf, links, routes) live in probe_rtnl.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nft.h"

int inj_probe_nftables(struct inj_ctx *ctx, struct fl_err *err)
{
    struct nftp_batch b;
    char name[32];
    int r;

    if (ctx->nft == NULL)
        return fl_errf(err, -ENOTCONN, "kernel lacks nf_tables: no netfilter netlink socket");
    /* Create and delete a throw-away table in one atomic batch: nothing stays. */
    snprintf(name, sizeof(name), "faultline_probe%d", (int)getpid());
    nftp_batch_init(&b, ctx->seq);
    r = nftp_build_table(&b, name, false, err);
    if (r == 0)
        r = nftp_build_table(&b, name, true, err);
    if (r == 0)
        r = nftp_build_end(&b);
    if (r == 0)
        r = inj_nft_send(ctx, &b, "kernel lacks nf_tables", err);
    ctx->seq = b.seq;
    nftp_batch_free(&b);
    return r;
}

static const struct {
    unsigned bit;
    const char *name;
} cap_names[] = {
    {INJ_CAP_NFTABLES, "nftables"}, {INJ_CAP_NETEM, "netem"}, {INJ_CAP_TBF, "tbf"},
    {INJ_CAP_LINK, "link"},         {INJ_CAP_ROUTE, "route"}, {INJ_CAP_PROCESS, "process"},
};

const char *inj_cap_name(unsigned bit)
{
    size_t i;

    for (i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
        if (cap_names[i].bit == bit)
            return cap_names[i].name;
    return NULL;
}

static void probe_one(json_t *out, const char *name, int r, const struct fl_err *e, unsigned bit,
                      unsigned *caps)
{
    if (r == 0) {
        json_object_set_new(out, name, json_pack("{s:b}", "ok", 1));
        *caps |= bit;
    } else {
        json_object_set_new(out, name, json_pack("{s:b, s:s}", "ok", 0, "error", e->msg));
    }
}

#ifdef FAULTLINE_TEST_HOOKS
/*
 * Test hook, compiled only into builds configured with FAULTLINE_TESTS (the
 * default for a source build; a release build turns it off):
 * FAULTLINE_TEST_HIDE_CAPS="netem,tbf" (capability names, comma-separated)
 * makes the probe report those capabilities absent without trying them, so
 * the end-to-end tests reach the "kernel lacks X" path on every kernel. It
 * can only take capabilities away (a run that needs one then stops at its
 * capability check, exit 3): it never adds one and touches nothing.
 */
static bool hidden_by_test(const char *name)
{
    const char *v = getenv("FAULTLINE_TEST_HIDE_CAPS");
    size_t n = strlen(name);

    while (v != NULL && *v != '\0') {
        size_t len = strcspn(v, ",");

        if (len == n && strncmp(v, name, n) == 0)
            return true;
        v += len;
        v += *v == ',';
    }
    return false;
}
#endif

int inj_probe(struct inj_ctx *ctx, json_t **out, unsigned *caps)
{
    static const struct {
        unsigned bit;
        int (*fn)(struct inj_ctx *, struct fl_err *);
    } probes[] = {
        {INJ_CAP_NFTABLES, inj_probe_nftables}, {INJ_CAP_NETEM, inj_probe_netem},
        {INJ_CAP_TBF, inj_probe_tbf},           {INJ_CAP_LINK, inj_probe_link},
        {INJ_CAP_ROUTE, inj_probe_route},
    };
    json_t *o = json_object();
    unsigned c = INJ_CAP_PROCESS;
    size_t i;

    if (o == NULL)
        return -ENOMEM;
    for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        const char *name = inj_cap_name(probes[i].bit);
        struct fl_err e;
        int r;

        fl_err_clear(&e);
#ifdef FAULTLINE_TEST_HOOKS
        if (name != NULL && hidden_by_test(name)) {
            r = fl_errf(&e, -EOPNOTSUPP, "kernel lacks %s%s: hidden by FAULTLINE_TEST_HIDE_CAPS",
                        probes[i].bit & (INJ_CAP_NETEM | INJ_CAP_TBF) ? "sch_" : "", name);
            probe_one(o, name, r, &e, probes[i].bit, &c);
            continue;
        }
#endif
        r = probes[i].fn(ctx, &e);
        if (r < 0 && e.msg[0] == '\0')
            fl_errf(&e, r, "%s probe failed: %s", name ? name : "?", strerror(-r));
        probe_one(o, name ? name : "?", r, &e, probes[i].bit, &c);
    }
    json_object_set_new(o, inj_cap_name(INJ_CAP_PROCESS), json_pack("{s:b}", "ok", 1));
    ctx->caps = c;
    ctx->probed = true;
    if (caps != NULL)
        *caps = c;
    *out = o;
    return 0;
}

unsigned inj_caps(struct inj_ctx *ctx)
{
    json_t *o;

    if (!ctx->probed && inj_probe(ctx, &o, NULL) == 0)
        json_decref(o);
    return ctx->caps;
}
