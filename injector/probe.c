/*
 * Capability probe: what this kernel can do, found by trying it on objects
 * that are created and removed in the same breath. nf_tables is probed with
 * one batch that creates and deletes a throw-away table (nothing is left even
 * if the process dies mid-way: the batch is atomic). The rtnetlink probes
 * (netem, tbf, links, routes) live in probe_rtnl.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "nft.h"

int inj_probe_nftables(struct inj_ctx *ctx, struct fl_err *err)
{
    struct nftp_batch b;
    struct nftnl_table *t;
    char name[32];
    int r = 0, i;
    static const uint16_t types[] = {NFT_MSG_NEWTABLE, NFT_MSG_DELTABLE};

    if (ctx->nft == NULL)
        return fl_errf(err, -ENOTCONN, "kernel lacks nf_tables: no netfilter netlink socket");
    snprintf(name, sizeof(name), "faultline_probe%d", (int)getpid());
    nftp_batch_init(&b, ctx->seq);
    b.buf = NULL;
    for (i = 0; i < 3 && r == 0; i++) {
        char *p;
        struct nlmsghdr *nlh;

        if (b.len + 512 > b.cap) {
            char *nb = realloc(b.buf, b.cap + 4096);

            if (nb == NULL)
                return fl_errf(err, -ENOMEM, "out of memory");
            b.buf = nb;
            b.cap += 4096;
        }
        p = b.buf + b.len;
        memset(p, 0, 512);
        if (i == 0) {
            nlh = nftnl_batch_begin(p, b.seq++);
            b.len += NLMSG_ALIGN(nlh->nlmsg_len);
            continue;
        }
        t = nftnl_table_alloc();
        nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
        nlh =
            nftnl_nlmsg_build_hdr(p, types[i - 1], NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, b.seq++);
        nftnl_table_nlmsg_build_payload(nlh, t);
        nftnl_table_free(t);
        b.len += NLMSG_ALIGN(nlh->nlmsg_len);
        b.nacks++;
    }
    r = nftp_build_end(&b);
    if (r == 0)
        r = inj_nft_send(ctx, &b, "kernel lacks nf_tables", err);
    ctx->seq = b.seq;
    nftp_batch_free(&b);
    return r;
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

int inj_probe(struct inj_ctx *ctx, json_t **out, unsigned *caps)
{
    static const struct {
        const char *name;
        unsigned bit;
        int (*fn)(struct inj_ctx *, struct fl_err *);
    } probes[] = {
        {"nftables", INJ_CAP_NFTABLES, inj_probe_nftables},
        {"netem", INJ_CAP_NETEM, inj_probe_netem},
        {"tbf", INJ_CAP_TBF, inj_probe_tbf},
        {"link", INJ_CAP_LINK, inj_probe_link},
        {"route", INJ_CAP_ROUTE, inj_probe_route},
    };
    json_t *o = json_object();
    unsigned c = INJ_CAP_PROCESS;
    size_t i;

    if (o == NULL)
        return -ENOMEM;
    for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        struct fl_err e;
        int r;

        fl_err_clear(&e);
        r = probes[i].fn(ctx, &e);
        if (r < 0 && e.msg[0] == '\0')
            fl_errf(&e, r, "%s probe failed: %s", probes[i].name, strerror(-r));
        probe_one(o, probes[i].name, r, &e, probes[i].bit, &c);
    }
    json_object_set_new(o, "process", json_pack("{s:b}", "ok", 1));
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
