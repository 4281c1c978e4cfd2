/*
 * nf_tables plans: what a packet fault needs in the kernel, as plain data
 * (sets of address intervals and match rules), turned into one atomic batch
 * by nftp_build_apply() without touching the kernel, and sent by
 * inj_nft_send(). Every object lives in table "inet faultline"; a fault owns
 * one base chain named after its id (hook input, priority -300, so it runs
 * before conntrack and the host's own filter chains) and sets "<id>_...".
 */
#ifndef FAULTLINE_INJ_NFT_H
#define FAULTLINE_INJ_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inj_int.h"

#define NFTP_MAX_SETS   16
#define NFTP_MAX_RULES  64
#define NFTP_CHAIN_PRIO (-300)

enum nftp_verdict { NFTP_DROP, NFTP_ACCEPT, NFTP_REJECT_TCP, NFTP_REJECT_ICMPX };

struct nftp_set {
    char name[INJ_ID_MAX + 16];
    int family;                     /* AF_INET or AF_INET6 */
    const struct fl_cidr *cidrs[4]; /* up to 4 arrays merged into one set */
    size_t n[4];
    uint32_t set_id; /* transaction id, filled by the builder */
};

struct nftp_rule {
    int family;     /* AF_INET or AF_INET6: selects nfproto and header offsets */
    int saddr_set;  /* index into sets, -1 for any */
    bool saddr_neg; /* match saddr NOT in set */
    int daddr_set;  /* index into sets, -1 for any */
    bool daddr_neg;
    bool tcp_only; /* meta l4proto tcp */
    /*
     * Reject rules only: let the answers a reject produces pass, so the
     * partner's reset or ICMP error reaches the host that is cut too (both
     * sides carry the fault). NFTP_REJECT_TCP then skips TCP segments with
     * RST set; NFTP_REJECT_ICMPX skips TCP (the rule before it handles that),
     * ICMP/ICMPv6 destination-unreachable and IPv6 neighbour discovery (types
     * 133-137, without which the SYN is never sent). Nothing else passes:
     * data of established flows still matches.
     */
    bool pass_answers;
    bool skip_lo;    /* meta iif != 1 (loopback) */
    uint32_t per10k; /* 0: always; else numgen random mod 10000 < per10k */
    bool counter;
    enum nftp_verdict verdict;
};

struct nftp_plan {
    char chain[INJ_ID_MAX + 1];
    struct nftp_set sets[NFTP_MAX_SETS];
    size_t nsets;
    struct nftp_rule rules[NFTP_MAX_RULES];
    size_t nrules;
};

/* A batch under construction: a malloc'd buffer of netlink messages. */
struct nftp_batch {
    char *buf;
    size_t len, cap;
    uint32_t seq0, seq; /* first and next sequence number */
    unsigned nacks;     /* messages that will be acknowledged */
};

void nftp_batch_init(struct nftp_batch *b, uint32_t seq);
void nftp_batch_free(struct nftp_batch *b);
/* Build NEWTABLE + NEWCHAIN + NEWSET/NEWSETELEM + NEWRULE for plan into b. */
int nftp_build_apply(struct nftp_batch *b, const struct nftp_plan *p, struct fl_err *err);
/* Build the deletion of one fault: flush + delete chain, delete the named sets. */
int nftp_build_delete(struct nftp_batch *b, const char *chain, char *const *sets, size_t nsets,
                      struct fl_err *err);
/* Build the creation (del false) or deletion of a whole inet table. */
int nftp_build_table(struct nftp_batch *b, const char *table, bool del, struct fl_err *err);
/* Close the batch (BATCH_END). */
int nftp_build_end(struct nftp_batch *b);

/* The plan of a packet fault, built without a kernel (kind_packet.c; for tests). */
int inj_packet_plan(struct inj_ctx *ctx, const char *id, const struct inj_fault *f,
                    struct nftp_plan *pl);

/*
 * Send a finished batch and wait for every acknowledgement. On error returns
 * the kernel's -errno with "what: <extack or strerror>" in err.
 */
int inj_nft_send(struct inj_ctx *ctx, struct nftp_batch *b, const char *what, struct fl_err *err);
/* Names of sets in table faultline starting with prefix (malloc'd strings). */
int inj_nft_sets_with_prefix(struct inj_ctx *ctx, const char *prefix, char ***names, size_t *n);
/* Sum of counter expressions in chain (packets, bytes); -ENOENT if absent. */
int inj_nft_chain_counters(struct inj_ctx *ctx, const char *chain, uint64_t *pkts, uint64_t *bytes);
/* True if table inet faultline exists. */
bool inj_nft_table_exists(struct inj_ctx *ctx);

#endif
