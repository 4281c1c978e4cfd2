/*
 * nf_tables through libnftnl (objects and message building) and libmnl
 * (socket and batch transport). A packet fault becomes one atomic batch:
 * either every set, element, chain and rule exists afterwards, or none does.
 * Building and sending are separate so unit tests can check the messages
 * without a kernel.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "nft.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* nft's datatype numbers for set keys (nftables src/datatype.h). */
#define NFT_TYPE_IPADDR  7
#define NFT_TYPE_IP6ADDR 8

/* Elements per NEWSETELEM message: keeps each message far below 64 KiB. */
#define ELEMS_PER_MSG 512

void nftp_batch_init(struct nftp_batch *b, uint32_t seq)
{
    memset(b, 0, sizeof(*b));
    b->seq0 = b->seq = seq;
}

void nftp_batch_free(struct nftp_batch *b)
{
    free(b->buf);
    b->buf = NULL;
    b->len = b->cap = 0;
}

/* Reserve room for one more message of at most need bytes; returns its start. */
static char *batch_room(struct nftp_batch *b, size_t need)
{
    if (b->len + need > b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 16384;
        char *nb;

        while (ncap < b->len + need)
            ncap *= 2;
        nb = realloc(b->buf, ncap);
        if (nb == NULL)
            return NULL;
        b->buf = nb;
        b->cap = ncap;
    }
    memset(b->buf + b->len, 0, need);
    return b->buf + b->len;
}

static void batch_commit(struct nftp_batch *b, struct nlmsghdr *nlh, bool acked)
{
    b->len += NLMSG_ALIGN(nlh->nlmsg_len);
    if (acked)
        b->nacks++;
}

static int batch_begin_if_empty(struct nftp_batch *b)
{
    struct nlmsghdr *nlh;
    char *p;

    if (b->len > 0)
        return 0;
    p = batch_room(b, 256);
    if (p == NULL)
        return -ENOMEM;
    nlh = nftnl_batch_begin(p, b->seq++);
    batch_commit(b, nlh, false);
    return 0;
}

int nftp_build_end(struct nftp_batch *b)
{
    struct nlmsghdr *nlh;
    char *p = batch_room(b, 256);

    if (p == NULL)
        return -ENOMEM;
    nlh = nftnl_batch_end(p, b->seq++);
    batch_commit(b, nlh, false);
    return 0;
}

static struct nlmsghdr *msg_hdr(struct nftp_batch *b, size_t need, uint16_t type, uint16_t flags)
{
    char *p = batch_room(b, need);

    if (p == NULL)
        return NULL;
    return nftnl_nlmsg_build_hdr(p, type, NFPROTO_INET, flags | NLM_F_ACK, b->seq++);
}

static int add_table(struct nftp_batch *b, const char *name, uint16_t type)
{
    struct nftnl_table *t = nftnl_table_alloc();
    struct nlmsghdr *nlh;

    if (t == NULL)
        return -ENOMEM;
    nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
    nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
    nlh = msg_hdr(b, 512, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0);
    if (nlh == NULL) {
        nftnl_table_free(t);
        return -ENOMEM;
    }
    nftnl_table_nlmsg_build_payload(nlh, t);
    nftnl_table_free(t);
    batch_commit(b, nlh, true);
    return 0;
}

/* ---- intervals ---------------------------------------------------------- */

struct ival {
    uint8_t lo[16], hi[16]; /* inclusive */
};

static int ival_cmp(const void *a, const void *b)
{
    return memcmp(((const struct ival *)a)->lo, ((const struct ival *)b)->lo, 16);
}

/* a + 1 in big-endian alen bytes; returns true on overflow (a was all ones). */
static bool be_inc(uint8_t *a, int alen)
{
    int i;

    for (i = alen - 1; i >= 0; i--)
        if (++a[i] != 0)
            return false;
    return true;
}

/*
 * Sorted, merged, non-adjacent intervals of all CIDRs of the family: the
 * kernel's interval sets refuse overlaps, and adjacent ranges would put an
 * end and a start element on the same key.
 */
static int set_intervals(const struct nftp_set *s, struct ival **out, size_t *nout)
{
    size_t total = 0, n = 0, i, j, m;
    int alen = s->family == AF_INET6 ? 16 : 4;
    struct ival *iv;

    for (j = 0; j < 4; j++)
        total += s->n[j];
    iv = calloc(total ? total : 1, sizeof(*iv));
    if (iv == NULL)
        return -ENOMEM;
    for (j = 0; j < 4; j++)
        for (i = 0; i < s->n[j]; i++) {
            const struct fl_cidr *c = &s->cidrs[j][i];

            if (c->family != s->family)
                continue;
            memcpy(iv[n].lo, c->addr, 16);
            fl_cidr_last(c, iv[n].hi);
            n++;
        }
    qsort(iv, n, sizeof(*iv), ival_cmp);
    for (i = 0, m = 0; i < n; i++) {
        if (m > 0) {
            uint8_t next[16];
            bool ovf;

            memcpy(next, iv[m - 1].hi, 16);
            ovf = be_inc(next, alen);
            if (ovf || memcmp(iv[i].lo, next, 16) <= 0) {
                if (memcmp(iv[i].hi, iv[m - 1].hi, 16) > 0)
                    memcpy(iv[m - 1].hi, iv[i].hi, 16);
                continue;
            }
        }
        iv[m++] = iv[i];
    }
    *out = iv;
    *nout = m;
    return 0;
}

static struct nftnl_set *set_obj(const struct nftp_set *s)
{
    struct nftnl_set *ns = nftnl_set_alloc();

    if (ns == NULL)
        return NULL;
    nftnl_set_set_str(ns, NFTNL_SET_TABLE, INJ_NFT_TABLE);
    nftnl_set_set_str(ns, NFTNL_SET_NAME, s->name);
    nftnl_set_set_u32(ns, NFTNL_SET_FAMILY, NFPROTO_INET);
    nftnl_set_set_u32(ns, NFTNL_SET_ID, s->set_id);
    return ns;
}

static int elem_add(struct nftnl_set *ns, const uint8_t *key, int alen, bool end)
{
    struct nftnl_set_elem *e = nftnl_set_elem_alloc();

    if (e == NULL)
        return -ENOMEM;
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, (uint32_t)alen);
    if (end)
        nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
    nftnl_set_elem_add(ns, e);
    return 0;
}

static int flush_elems(struct nftp_batch *b, struct nftnl_set *ns)
{
    struct nlmsghdr *nlh = msg_hdr(b, 1024 + ELEMS_PER_MSG * 96, NFT_MSG_NEWSETELEM, NLM_F_CREATE);

    if (nlh == NULL)
        return -ENOMEM;
    nftnl_set_elems_nlmsg_build_payload(nlh, ns);
    batch_commit(b, nlh, true);
    return 0;
}

static int add_set(struct nftp_batch *b, struct nftp_set *s)
{
    int alen = s->family == AF_INET6 ? 16 : 4, r = 0;
    struct nftnl_set *ns;
    struct nlmsghdr *nlh;
    struct ival *iv = NULL;
    size_t niv = 0, i, inmsg = 0;
    uint8_t zero[16] = {0};

    ns = set_obj(s);
    if (ns == NULL)
        return -ENOMEM;
    nftnl_set_set_u32(ns, NFTNL_SET_KEY_LEN, (uint32_t)alen);
    nftnl_set_set_u32(ns, NFTNL_SET_KEY_TYPE,
                      s->family == AF_INET6 ? NFT_TYPE_IP6ADDR : NFT_TYPE_IPADDR);
    nftnl_set_set_u32(ns, NFTNL_SET_FLAGS, NFT_SET_INTERVAL);
    nlh = msg_hdr(b, 1024, NFT_MSG_NEWSET, NLM_F_CREATE | NLM_F_EXCL);
    if (nlh == NULL) {
        nftnl_set_free(ns);
        return -ENOMEM;
    }
    nftnl_set_nlmsg_build_payload(nlh, ns);
    batch_commit(b, nlh, true);
    nftnl_set_free(ns);

    r = set_intervals(s, &iv, &niv);
    if (r < 0)
        return r;
    ns = set_obj(s);
    if (ns == NULL) {
        free(iv);
        return -ENOMEM;
    }
    /* As nft does: an interval-end at 0 closes the range below the first start. */
    if (niv > 0 && memcmp(iv[0].lo, zero, 16) != 0) {
        r = elem_add(ns, zero, alen, true);
        inmsg++;
    }
    for (i = 0; i < niv && r == 0; i++) {
        uint8_t end[16];

        if (inmsg + 2 > ELEMS_PER_MSG) {
            r = flush_elems(b, ns);
            nftnl_set_free(ns);
            ns = set_obj(s);
            inmsg = 0;
            if (r < 0 || ns == NULL)
                break;
        }
        r = elem_add(ns, iv[i].lo, alen, false);
        inmsg++;
        memcpy(end, iv[i].hi, 16);
        if (r == 0 && !be_inc(end, alen)) {
            r = elem_add(ns, end, alen, true);
            inmsg++;
        }
    }
    if (r == 0 && ns != NULL && inmsg > 0)
        r = flush_elems(b, ns);
    if (ns == NULL && r == 0)
        r = -ENOMEM;
    nftnl_set_free(ns);
    free(iv);
    return r;
}

/* ---- rules -------------------------------------------------------------- */

static struct nftnl_expr *ex(const char *name)
{
    return nftnl_expr_alloc(name);
}

static void rule_meta_cmp(struct nftnl_rule *r, uint32_t key, const void *data, uint32_t len,
                          enum nft_cmp_ops op)
{
    struct nftnl_expr *e = ex("meta");

    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
    nftnl_rule_add_expr(r, e);
    e = ex("cmp");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
    nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
    nftnl_rule_add_expr(r, e);
}

static void rule_lookup(struct nftnl_rule *r, const struct nftp_set *s, bool daddr, bool neg)
{
    bool v6 = s->family == AF_INET6;
    struct nftnl_expr *e = ex("payload");

    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, v6 ? (daddr ? 24 : 8) : (daddr ? 16 : 12));
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, v6 ? 16 : 4);
    nftnl_rule_add_expr(r, e);
    e = ex("lookup");
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
    nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, s->name);
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, s->set_id);
    if (neg)
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
    nftnl_rule_add_expr(r, e);
}

/* Transport header byte at off, masked, compared with 0 (op EQ or NEQ). */
static void rule_th_bits(struct nftnl_rule *r, uint32_t off, uint8_t mask, enum nft_cmp_ops op)
{
    uint8_t zero = 0;
    struct nftnl_expr *e = ex("payload");

    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 1);
    nftnl_rule_add_expr(r, e);
    e = ex("bitwise");
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 1);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, 1);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 1);
    nftnl_rule_add_expr(r, e);
    e = ex("cmp");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
    nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &zero, 1);
    nftnl_rule_add_expr(r, e);
}

/*
 * Load "meta l4proto . th byte 0" into two consecutive 32-bit registers (the
 * kernel zero-pads each), so one range over the pair compares both at once.
 */
static void rule_load_l4_type(struct nftnl_rule *r)
{
    struct nftnl_expr *e = ex("meta");

    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_L4PROTO);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG32_00);
    nftnl_rule_add_expr(r, e);
    e = ex("payload");
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG32_01);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 0);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 1);
    nftnl_rule_add_expr(r, e);
}

/* After rule_load_l4_type: the packet is not an ICMP message of proto with type in [lo, hi]. */
static void rule_not_icmp_types(struct nftnl_rule *r, uint8_t proto, uint8_t lo, uint8_t hi)
{
    uint8_t from[8] = {proto, 0, 0, 0, lo, 0, 0, 0}, to[8] = {proto, 0, 0, 0, hi, 0, 0, 0};
    struct nftnl_expr *e = ex("range");

    nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG32_00);
    nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_NEQ);
    nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, from, sizeof(from));
    nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, to, sizeof(to));
    nftnl_rule_add_expr(r, e);
}

static int add_rule(struct nftp_batch *b, const struct nftp_plan *p, const struct nftp_rule *ru)
{
    struct nftnl_rule *r = nftnl_rule_alloc();
    struct nftnl_expr *e;
    struct nlmsghdr *nlh;
    uint8_t proto;

    if (r == NULL)
        return -ENOMEM;
    nftnl_rule_set_str(r, NFTNL_RULE_TABLE, INJ_NFT_TABLE);
    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, p->chain);
    nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);

    if (ru->skip_lo) {
        uint32_t lo = 1;

        rule_meta_cmp(r, NFT_META_IIF, &lo, sizeof(lo), NFT_CMP_NEQ);
    }
    proto = ru->family == AF_INET6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
    rule_meta_cmp(r, NFT_META_NFPROTO, &proto, 1, NFT_CMP_EQ);
    if (ru->saddr_set >= 0)
        rule_lookup(r, &p->sets[ru->saddr_set], false, ru->saddr_neg);
    if (ru->daddr_set >= 0)
        rule_lookup(r, &p->sets[ru->daddr_set], true, ru->daddr_neg);
    if (ru->tcp_only) {
        uint8_t tcp = 6;

        rule_meta_cmp(r, NFT_META_L4PROTO, &tcp, 1, NFT_CMP_EQ);
    }
    if (ru->pass_answers && ru->verdict == NFTP_REJECT_TCP) {
        rule_th_bits(r, 13, 0x04, NFT_CMP_EQ); /* tcp flags & rst == 0 */
    } else if (ru->pass_answers && ru->verdict == NFTP_REJECT_ICMPX) {
        uint8_t tcp = 6;

        rule_meta_cmp(r, NFT_META_L4PROTO, &tcp, 1, NFT_CMP_NEQ);
        rule_load_l4_type(r);
        if (ru->family == AF_INET6) {
            rule_not_icmp_types(r, 58, 1, 1); /* ICMPv6 destination unreachable */
            /*
             * Neighbour discovery (router/neighbour solicitation and
             * advertisement, redirect): without it the SYN is never sent and
             * the connect times out on address resolution instead of being
             * refused. It carries no application data.
             */
            rule_not_icmp_types(r, 58, 133, 137);
        } else {
            rule_not_icmp_types(r, 1, 3, 3); /* ICMP destination unreachable */
        }
    }
    if (ru->per10k > 0) {
        uint32_t thr = htonl(ru->per10k);

        e = ex("numgen");
        nftnl_expr_set_u32(e, NFTNL_EXPR_NG_DREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NG_MODULUS, 10000);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM);
        nftnl_rule_add_expr(r, e);
        /* cmp lt compares bytes: convert the host-order number first, as nft does. */
        e = ex("byteorder");
        nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 4);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 4);
        nftnl_rule_add_expr(r, e);
        e = ex("cmp");
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_LT);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &thr, sizeof(thr));
        nftnl_rule_add_expr(r, e);
    }
    if (ru->counter)
        nftnl_rule_add_expr(r, ex("counter"));
    switch (ru->verdict) {
    case NFTP_DROP:
    case NFTP_ACCEPT:
        e = ex("immediate");
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT,
                           ru->verdict == NFTP_DROP ? NF_DROP : NF_ACCEPT);
        nftnl_rule_add_expr(r, e);
        break;
    case NFTP_REJECT_TCP:
        e = ex("reject");
        nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_TCP_RST);
        nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, 0);
        nftnl_rule_add_expr(r, e);
        break;
    case NFTP_REJECT_ICMPX:
        e = ex("reject");
        nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMPX_UNREACH);
        nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, NFT_REJECT_ICMPX_PORT_UNREACH);
        nftnl_rule_add_expr(r, e);
        break;
    }
    nlh = msg_hdr(b, 2048, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
    if (nlh == NULL) {
        nftnl_rule_free(r);
        return -ENOMEM;
    }
    nftnl_rule_nlmsg_build_payload(nlh, r);
    nftnl_rule_free(r);
    batch_commit(b, nlh, true);
    return 0;
}

int nftp_build_apply(struct nftp_batch *b, const struct nftp_plan *p, struct fl_err *err)
{
    struct nftp_plan *mp = (struct nftp_plan *)p; /* set ids are filled in */
    struct nftnl_chain *c;
    struct nlmsghdr *nlh;
    size_t i;
    int r;

    r = batch_begin_if_empty(b);
    if (r == 0)
        r = add_table(b, INJ_NFT_TABLE, NFT_MSG_NEWTABLE);
    if (r < 0)
        return fl_errf(err, r, "building nf_tables batch: out of memory");
    c = nftnl_chain_alloc();
    if (c == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, INJ_NFT_TABLE);
    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, p->chain);
    nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
    nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
    nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_IN);
    nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, NFTP_CHAIN_PRIO);
    nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
    nlh = msg_hdr(b, 1024, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL);
    if (nlh == NULL) {
        nftnl_chain_free(c);
        return fl_errf(err, -ENOMEM, "out of memory");
    }
    nftnl_chain_nlmsg_build_payload(nlh, c);
    nftnl_chain_free(c);
    batch_commit(b, nlh, true);

    for (i = 0; i < p->nsets; i++) {
        mp->sets[i].set_id = (uint32_t)(i + 1);
        r = add_set(b, &mp->sets[i]);
        if (r < 0)
            return fl_errf(err, r, "building set %s: %s", p->sets[i].name, strerror(-r));
    }
    for (i = 0; i < p->nrules; i++) {
        r = add_rule(b, p, &p->rules[i]);
        if (r < 0)
            return fl_errf(err, r, "building rule: %s", strerror(-r));
    }
    return 0;
}

int nftp_build_delete(struct nftp_batch *b, const char *chain, char *const *sets, size_t nsets,
                      struct fl_err *err)
{
    struct nftnl_rule *r;
    struct nftnl_chain *c;
    struct nlmsghdr *nlh;
    size_t i;

    if (batch_begin_if_empty(b) < 0)
        return fl_errf(err, -ENOMEM, "out of memory");
    /* A chain must be empty before it is deleted: flush its rules first. */
    r = nftnl_rule_alloc();
    if (r == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    nftnl_rule_set_str(r, NFTNL_RULE_TABLE, INJ_NFT_TABLE);
    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
    nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
    nlh = msg_hdr(b, 512, NFT_MSG_DELRULE, 0);
    if (nlh == NULL) {
        nftnl_rule_free(r);
        return fl_errf(err, -ENOMEM, "out of memory");
    }
    nftnl_rule_nlmsg_build_payload(nlh, r);
    nftnl_rule_free(r);
    batch_commit(b, nlh, true);

    c = nftnl_chain_alloc();
    if (c == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, INJ_NFT_TABLE);
    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, chain);
    nlh = msg_hdr(b, 512, NFT_MSG_DELCHAIN, 0);
    if (nlh == NULL) {
        nftnl_chain_free(c);
        return fl_errf(err, -ENOMEM, "out of memory");
    }
    nftnl_chain_nlmsg_build_payload(nlh, c);
    nftnl_chain_free(c);
    batch_commit(b, nlh, true);

    for (i = 0; i < nsets; i++) {
        struct nftnl_set *s = nftnl_set_alloc();

        if (s == NULL)
            return fl_errf(err, -ENOMEM, "out of memory");
        nftnl_set_set_str(s, NFTNL_SET_TABLE, INJ_NFT_TABLE);
        nftnl_set_set_str(s, NFTNL_SET_NAME, sets[i]);
        nlh = msg_hdr(b, 512, NFT_MSG_DELSET, 0);
        if (nlh == NULL) {
            nftnl_set_free(s);
            return fl_errf(err, -ENOMEM, "out of memory");
        }
        nftnl_set_nlmsg_build_payload(nlh, s);
        nftnl_set_free(s);
        batch_commit(b, nlh, true);
    }
    return 0;
}

int nftp_build_table(struct nftp_batch *b, const char *table, bool del, struct fl_err *err)
{
    if (batch_begin_if_empty(b) < 0 ||
        add_table(b, table, del ? NFT_MSG_DELTABLE : NFT_MSG_NEWTABLE) < 0)
        return fl_errf(err, -ENOMEM, "out of memory");
    return 0;
}

/* ---- transport ---------------------------------------------------------- */

int inj_nft_open(struct inj_ctx *ctx, struct fl_err *err)
{
    struct timeval tv = {.tv_sec = 5};
    int one = 1, big = 4 << 20;

    ctx->nft = mnl_socket_open(NETLINK_NETFILTER);
    if (ctx->nft == NULL)
        return fl_errf(err, -errno, "nf_tables netlink socket: %s", strerror(errno));
    if (mnl_socket_bind(ctx->nft, 0, MNL_SOCKET_AUTOPID) < 0) {
        int e = errno;

        mnl_socket_close(ctx->nft);
        ctx->nft = NULL;
        return fl_errf(err, -e, "nf_tables netlink bind: %s", strerror(e));
    }
    ctx->nft_portid = mnl_socket_get_portid(ctx->nft);
    mnl_socket_setsockopt(ctx->nft, NETLINK_EXT_ACK, &one, sizeof(one));
    mnl_socket_setsockopt(ctx->nft, NETLINK_CAP_ACK, &one, sizeof(one));
    /* Large partitions make large batches; root may lift the default limit. */
    setsockopt(mnl_socket_get_fd(ctx->nft), SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
    setsockopt(mnl_socket_get_fd(ctx->nft), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
    setsockopt(mnl_socket_get_fd(ctx->nft), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ctx->seq = (uint32_t)time(NULL);
    return 0;
}

void inj_nft_close(struct inj_ctx *ctx)
{
    if (ctx->nft != NULL)
        mnl_socket_close(ctx->nft);
    ctx->nft = NULL;
}

/* Extended-ack message text after a nlmsgerr, if the kernel sent one. */
static void extack_text(const struct nlmsghdr *nlh, char *out, size_t outlen)
{
    const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
    size_t off = sizeof(*e);
    const struct nlattr *a;
    int remain;

    out[0] = '\0';
    if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
        return;
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
        off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
    if (NLMSG_HDRLEN + off >= nlh->nlmsg_len)
        return;
    a = (const struct nlattr *)((const char *)e + off);
    remain = (int)(nlh->nlmsg_len - NLMSG_HDRLEN - off);
    while (mnl_attr_ok(a, remain)) {
        if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG) {
            snprintf(out, outlen, "%s", mnl_attr_get_str(a));
            return;
        }
        remain -= (int)MNL_ALIGN(a->nla_len);
        a = mnl_attr_next(a);
    }
}

int inj_nft_send(struct inj_ctx *ctx, struct nftp_batch *b, const char *what, struct fl_err *err)
{
    char rbuf[MNL_SOCKET_BUFFER_SIZE * 4];
    unsigned got = 0;
    int first = 0;
    char ext[256] = "";

    if (ctx->nft == NULL)
        return fl_errf(err, -ENOTCONN, "%s: nf_tables socket not open", what);
    if (mnl_socket_sendto(ctx->nft, b->buf, b->len) < 0)
        return fl_errf(err, -errno, "%s: sending nf_tables batch: %s", what, strerror(errno));
    while (got < b->nacks) {
        ssize_t n = mnl_socket_recvfrom(ctx->nft, rbuf, sizeof(rbuf));
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)rbuf;
        int len;

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (first == 0)
                first = -errno;
            break;
        }
        len = (int)n;
        for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
            const struct nlmsgerr *e;

            if (nlh->nlmsg_type != NLMSG_ERROR)
                continue;
            e = mnl_nlmsg_get_payload(nlh);
            if (nlh->nlmsg_seq < b->seq0 || nlh->nlmsg_seq >= b->seq)
                continue; /* stale answer to an earlier batch */
            got++;
            if (e->error != 0 && first == 0) {
                first = e->error;
                extack_text(nlh, ext, sizeof(ext));
            }
        }
    }
    if (first != 0) {
        if (ext[0] != '\0')
            return fl_errf(err, first, "%s: %s (%s)", what, ext, strerror(-first));
        return fl_errf(err, first, "%s: %s", what, strerror(-first));
    }
    return 0;
}

/* ---- dumps -------------------------------------------------------------- */

typedef int (*dump_cb)(const struct nlmsghdr *nlh, void *data);

static int dump(struct inj_ctx *ctx, uint16_t type, struct nlmsghdr *req, dump_cb cb, void *data)
{
    char buf[MNL_SOCKET_BUFFER_SIZE * 4];
    uint32_t seq = req->nlmsg_seq;
    ssize_t n;
    int r;

    (void)type;
    if (mnl_socket_sendto(ctx->nft, req, req->nlmsg_len) < 0)
        return -errno;
    while ((n = mnl_socket_recvfrom(ctx->nft, buf, sizeof(buf))) > 0) {
        r = mnl_cb_run(buf, (size_t)n, seq, ctx->nft_portid, (mnl_cb_t)cb, data);
        if (r < 0)
            return -errno;
        if (r == MNL_CB_STOP)
            return 0;
    }
    return n < 0 ? -errno : 0;
}

struct setlist {
    const char *prefix;
    char **names;
    size_t n;
};

static int set_cb(const struct nlmsghdr *nlh, void *data)
{
    struct setlist *sl = data;
    struct nftnl_set *s = nftnl_set_alloc();
    const char *name, *table;

    if (s == NULL)
        return MNL_CB_ERROR;
    if (nftnl_set_nlmsg_parse(nlh, s) == 0) {
        name = nftnl_set_get_str(s, NFTNL_SET_NAME);
        table = nftnl_set_get_str(s, NFTNL_SET_TABLE);
        if (name && table && strcmp(table, INJ_NFT_TABLE) == 0 &&
            strncmp(name, sl->prefix, strlen(sl->prefix)) == 0) {
            char **nn = realloc(sl->names, (sl->n + 1) * sizeof(*nn));

            if (nn != NULL) {
                sl->names = nn;
                sl->names[sl->n++] = strdup(name);
            }
        }
    }
    nftnl_set_free(s);
    return MNL_CB_OK;
}

int inj_nft_sets_with_prefix(struct inj_ctx *ctx, const char *prefix, char ***names, size_t *n)
{
    char buf[512];
    struct nftnl_set *s = nftnl_set_alloc();
    struct setlist sl = {.prefix = prefix};
    struct nlmsghdr *nlh;
    int r;

    if (s == NULL)
        return -ENOMEM;
    nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK,
                                ctx->seq++);
    nftnl_set_set_str(s, NFTNL_SET_TABLE, INJ_NFT_TABLE);
    nftnl_set_nlmsg_build_payload(nlh, s);
    nftnl_set_free(s);
    r = dump(ctx, NFT_MSG_GETSET, nlh, set_cb, &sl);
    if (r == -ENOENT)
        r = 0;
    *names = sl.names;
    *n = sl.n;
    return r;
}

struct ctrsum {
    const char *chain;
    uint64_t pkts, bytes;
    bool found;
};

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
    struct ctrsum *cs = data;
    struct nftnl_rule *r = nftnl_rule_alloc();
    struct nftnl_expr_iter *it;
    struct nftnl_expr *e;
    const char *chain;

    if (r == NULL)
        return MNL_CB_ERROR;
    if (nftnl_rule_nlmsg_parse(nlh, r) == 0) {
        chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
        if (chain != NULL && strcmp(chain, cs->chain) == 0) {
            cs->found = true;
            it = nftnl_expr_iter_create(r);
            while (it != NULL && (e = nftnl_expr_iter_next(it)) != NULL) {
                if (strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter") == 0) {
                    cs->pkts += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
                    cs->bytes += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
                }
            }
            nftnl_expr_iter_destroy(it);
        }
    }
    nftnl_rule_free(r);
    return MNL_CB_OK;
}

int inj_nft_chain_counters(struct inj_ctx *ctx, const char *chain, uint64_t *pkts, uint64_t *bytes)
{
    char buf[512];
    struct nftnl_rule *ru = nftnl_rule_alloc();
    struct ctrsum cs = {.chain = chain};
    struct nlmsghdr *nlh;
    int r;

    if (ru == NULL)
        return -ENOMEM;
    nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP, ctx->seq++);
    nftnl_rule_set_str(ru, NFTNL_RULE_TABLE, INJ_NFT_TABLE);
    nftnl_rule_set_str(ru, NFTNL_RULE_CHAIN, chain);
    nftnl_rule_nlmsg_build_payload(nlh, ru);
    nftnl_rule_free(ru);
    r = dump(ctx, NFT_MSG_GETRULE, nlh, rule_cb, &cs);
    *pkts = cs.pkts;
    *bytes = cs.bytes;
    if (r < 0)
        return r;
    return cs.found ? 0 : -ENOENT;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
    (void)nlh;
    *(bool *)data = true;
    return MNL_CB_OK;
}

bool inj_nft_table_exists(struct inj_ctx *ctx)
{
    char buf[512];
    struct nftnl_table *t = nftnl_table_alloc();
    struct nlmsghdr *nlh;
    bool found = false;

    if (t == NULL)
        return false;
    nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, ctx->seq++);
    nftnl_table_set_str(t, NFTNL_TABLE_NAME, INJ_NFT_TABLE);
    nftnl_table_nlmsg_build_payload(nlh, t);
    nftnl_table_free(t);
    if (dump(ctx, NFT_MSG_GETTABLE, nlh, table_cb, &found) < 0)
        return false;
    return found;
}
