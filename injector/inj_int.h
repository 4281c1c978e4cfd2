/*
 * Injector internals: the fault-kind table and the context. A fault kind is
 * one table entry (name, parse, apply, revert, describe, sweep); adding a
 * kind touches its own file and the table in fault.c, nothing else.
 *
 * Files:
 *   fault.c      kind table, parsing entry points, shared JSON helpers
 *   ctx.c        inj_open/inj_close, apply/revert/list/sweep/recover, and the
 *                journal: one fsynced JSON file per fault under the state directory
 *   nft.c        nf_tables batches (libnftnl + libmnl): table, sets, rules
 *   kind_packet.c  partition, one-way, isolate, loss (nf_tables)
 *   rtnl.c       rtnetlink socket (libnl-route-3) with extended-ack capture
 *   kind_qdisc.c latency, jitter, duplicate, corrupt, reorder (netem), bandwidth (tbf)
 *   kind_link.c  link-down
 *   kind_route.c blackhole (blackhole/prohibit/unreachable routes)
 *   kind_process.c process (stop/continue/kill/restart)
 *   probe.c      capability probe (nf_tables), names of the capabilities
 *   probe_rtnl.c capability probes over rtnetlink (netem, tbf, links, routes)
 */
#ifndef FAULTLINE_INJ_INT_H
#define FAULTLINE_INJ_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "faultline/inject.h"

/* Ownership marks: how sweep recognises faultline's kernel objects. */
#define INJ_NFT_TABLE   "faultline"  /* table inet faultline */
#define INJ_QDISC_MAJOR 0xfa17u      /* qdisc handle fa17: */
#define INJ_ROUTE_PROTO 0xfa         /* rtm_protocol of faultline routes */
#define INJ_LINK_ALIAS  "faultline:" /* ifalias prefix "faultline:<id>:<old alias>" */

struct nl_sock;
struct mnl_socket;

/* One journaled fault, as cached in memory from STATE_DIR/<id>.json. */
struct inj_jentry {
    char id[INJ_ID_MAX + 1];
    uint64_t seq; /* apply order: revert-all goes newest first */
    const struct inj_kind *kind;
    json_t *spec;
    json_t *undo;
    int64_t applied_ns; /* CLOCK_MONOTONIC when the apply completed */
};

struct inj_ctx {
    struct mnl_socket *nft; /* NETLINK_NETFILTER */
    uint32_t nft_portid;
    uint32_t seq;
    struct nl_sock *rtnl; /* NETLINK_ROUTE via libnl, NETLINK_EXT_ACK on */
    char extack[256];     /* last extended-ack text seen on rtnl ("" if none) */
    char state_dir[PATH_MAX];
    struct fl_cidr *exempt; /* control network, copied from inj_config */
    size_t n_exempt;
    unsigned caps; /* probed capability bits */
    bool probed;
    int lock_fd; /* flock on STATE_DIR/.lock: one owner per journal */
    struct inj_jentry *j;
    size_t nj, capj;
    uint64_t jseq;
};

struct inj_fault {
    const struct inj_kind *kind;
    json_t *spec; /* canonical spec (kind key first), owned */
    /* Everything the fault names, for allowlists (kinds fill these). */
    struct fl_cidr *cidrs;
    size_t n_cidrs;
    char **devs;
    size_t n_devs;
    /* Per-fault exemptions in addition to the context's. */
    struct fl_cidr *exempt;
    size_t n_exempt;
    void *priv; /* kind-specific parsed parameters, freed by kind->free */
};

struct inj_kind {
    const char *name;
    unsigned needs;      /* enum inj_cap bits */
    const char *summary; /* one line for --help */
    /*
     * Parse kind-specific keys of spec into f (priv, cidrs, devs). The common
     * keys "kind" and "exempt" are handled by fault.c; every other key must
     * be checked here (inj_json_check_keys). Pure.
     */
    int (*parse)(struct inj_fault *f, const json_t *spec, struct fl_err *err);
    void (*free)(struct inj_fault *f); /* free f->priv; may be NULL */
    /*
     * Apply f as id. Record everything revert needs into undo (a JSON object
     * persisted in the journal) before changing the kernel where possible.
     * Atomic: on error, leave nothing applied.
     */
    int (*apply)(struct inj_ctx *ctx, const char *id, const struct inj_fault *f, json_t *undo,
                 struct fl_err *err);
    /*
     * Undo. Works from the journal alone (spec + undo), after a restart.
     * Returns 1 when nothing was there (counts as reverted), 0 when undone.
     */
    int (*revert)(struct inj_ctx *ctx, const char *id, const json_t *spec, const json_t *undo,
                  struct fl_err *err);
    void (*describe)(const struct inj_fault *f, char *buf, size_t len);
    /* Remove every leftover of this family with no journal. Shared by kinds of one family. */
    int (*sweep)(struct inj_ctx *ctx, struct fl_err *err);
    /*
     * Evidence for inj_list (e.g. drop counters) into obj; may be NULL.
     */
    int (*evidence)(struct inj_ctx *ctx, const char *id, json_t *obj);
    /*
     * Are the kernel objects of journaled fault id there? 1 yes, 0 no (the
     * journal is stale: a namespace deleted without revert, a flushed
     * ruleset), -errno when the kernel cannot be asked. NULL: the kind cannot
     * tell, and the journal is trusted. inj_apply asks before it answers
     * "already applied".
     */
    int (*present)(struct inj_ctx *ctx, const char *id, const json_t *spec, const json_t *undo);
};

/* ---- kind table (fault.c) ---- */
const struct inj_kind *inj_kind_find(const char *name);
extern const struct inj_kind *const inj_kinds[];

/* Kinds, each defined in its own file. */
extern const struct inj_kind inj_kind_partition, inj_kind_one_way, inj_kind_isolate, inj_kind_loss;
extern const struct inj_kind inj_kind_latency, inj_kind_jitter, inj_kind_duplicate,
    inj_kind_corrupt, inj_kind_reorder, inj_kind_bandwidth;
extern const struct inj_kind inj_kind_link_down, inj_kind_blackhole, inj_kind_process;

/* ---- strict JSON helpers (fault.c) ---- */
/* Every key of obj must be in allowed (NULL-terminated); error names the first stranger
 * and the nearest allowed key. */
int inj_json_check_keys(const json_t *obj, const char *const *allowed, struct fl_err *err);
/*
 * The prologue of every kind's parse: check spec's keys against keys and
 * allocate f->priv (size bytes, zeroed; freed by the kind's free).
 */
int inj_kind_params(struct inj_fault *f, const json_t *spec, const char *const *keys, size_t size,
                    struct fl_err *err);
/* Required/optional string member. */
int inj_json_string(const json_t *obj, const char *key, bool required, const char **out,
                    struct fl_err *err);
/* Optional number member (integer or real) within [min,max]; *out unchanged if absent. */
int inj_json_number(const json_t *obj, const char *key, bool required, double min, double max,
                    double *out, struct fl_err *err);
/* Array of CIDR strings -> malloc'd array (at least one element unless allow_empty). */
int inj_json_cidrs(const json_t *arr, const char *what, bool allow_empty, struct fl_cidr **out,
                   size_t *n, struct fl_err *err);
/* Append CIDRs/devs to f's allowlist view. */
int inj_fault_add_cidrs(struct inj_fault *f, const struct fl_cidr *c, size_t n);
int inj_fault_add_dev(struct inj_fault *f, const char *dev);

/* ---- nf_tables (nft.c) ---- */
int inj_nft_open(struct inj_ctx *ctx, struct fl_err *err);
void inj_nft_close(struct inj_ctx *ctx);

/* ---- rtnetlink (rtnl.c) ---- */
/* Open ctx->rtnl with NETLINK_EXT_ACK and an error callback that fills ctx->extack. */
int inj_rtnl_open(struct inj_ctx *ctx, struct fl_err *err);
void inj_rtnl_close(struct inj_ctx *ctx);
/*
 * Turn a libnl error (negative NLE_*) from the last request into -errno and an
 * error line "<what>: <extack text or nl_geterror>". Clears ctx->extack.
 */
int inj_rtnl_err(struct inj_ctx *ctx, int nlerr, const char *what, struct fl_err *err);

/* ---- context (ctx.c) ---- */
/* Number of journaled faults whose kind needs any of the bits, other than exclude_id. */
size_t inj_ctx_count_needing(struct inj_ctx *ctx, unsigned needs, const char *exclude_id);

/* ---- probe (probe.c and the kinds' files) ---- */
int inj_probe_nftables(struct inj_ctx *ctx, struct fl_err *err);
int inj_probe_netem(struct inj_ctx *ctx, struct fl_err *err);
int inj_probe_tbf(struct inj_ctx *ctx, struct fl_err *err);
int inj_probe_link(struct inj_ctx *ctx, struct fl_err *err);
int inj_probe_route(struct inj_ctx *ctx, struct fl_err *err);

#endif
