/*
 * The fault injector: every way faultline breaks a host's network, over
 * netlink, each fault reversible, owned and swept.
 *
 * A fault is a value (struct inj_fault): kind + parameters + scope, parsed
 * strictly from JSON. An injector context (struct inj_ctx) holds the netlink
 * sockets of the current network namespace and a journal directory. Applying
 * writes the fault's intent to the journal (fsync) before touching the kernel,
 * then records the fault's inverse; reverting runs the inverse and removes the
 * journal entry. Every kernel object faultline creates is recognisable as its
 * own (nf_tables table "inet faultline", qdisc handle 0xfa17:, route protocol
 * 0xfa, link alias "faultline:<id>:"), so inj_sweep() removes every leftover
 * even when the journal is gone, and nothing of the host's own ruleset, rules,
 * routes or qdiscs is ever changed.
 *
 * All functions return 0 or a negative errno and fill the optional struct
 * fl_err with one human line. They never print and never exit. The context is
 * not thread-safe: callers serialise (the agent holds one lock around it).
 */
#ifndef FAULTLINE_INJECT_H
#define FAULTLINE_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "faultline/cidr.h"
#include "faultline/err.h"

/* Longest fault id; ids match [A-Za-z0-9_.-]{1,INJ_ID_MAX}. */
#define INJ_ID_MAX 48

/* Kernel capabilities a fault may need (bit set). */
enum inj_cap {
    INJ_CAP_NFTABLES = 1u << 0, /* nf_tables: partition, one-way, isolate, loss */
    INJ_CAP_NETEM = 1u << 1,    /* sch_netem: latency, jitter, duplicate, corrupt, reorder */
    INJ_CAP_TBF = 1u << 2,      /* sch_tbf: bandwidth */
    INJ_CAP_LINK = 1u << 3,     /* rtnetlink link flags: link-down */
    INJ_CAP_ROUTE = 1u << 4,    /* rtnetlink routes: blackhole */
    INJ_CAP_PROCESS = 1u << 5,  /* signals / systemctl: process */
};

/*
 * The name of one capability bit, as a key of inj_probe()'s JSON and of the
 * agent's /v1/capabilities "kernel" object ("nftables", "netem", ...); NULL
 * for a bit that is not a capability.
 */
const char *inj_cap_name(unsigned bit);

struct inj_fault;
struct inj_ctx;

/* ---- fault values ------------------------------------------------------ */

/*
 * Parse and validate a fault spec. Unknown kinds, unknown keys, wrong types
 * and bad CIDRs are errors naming the offending key. On success *out is a new
 * fault the caller frees with inj_fault_free(). Pure: touches no kernel state.
 */
int inj_fault_parse_json(const json_t *spec, struct inj_fault **out, struct fl_err *err);
/* The same from JSON text (len bytes; need not be NUL-terminated). */
int inj_fault_parse(const char *text, size_t len, struct inj_fault **out, struct fl_err *err);
/* Free a fault. Accepts NULL. */
void inj_fault_free(struct inj_fault *f);
/* The kind's name ("partition", ...). Valid while f lives. */
const char *inj_fault_kind(const struct inj_fault *f);
/* Canonical JSON of the spec (new reference): equal specs give equal JSON. */
json_t *inj_fault_to_json(const struct inj_fault *f);
/* True if the two faults have the same canonical spec. */
bool inj_fault_equal(const struct inj_fault *a, const struct inj_fault *b);
/* Capability bits (enum inj_cap) the fault needs. */
unsigned inj_fault_needs(const struct inj_fault *f);
/*
 * Every address range the fault names (groups, from/to, exemptions excluded)
 * and every interface, for allowlist checks. Arrays are owned by f.
 */
const struct fl_cidr *inj_fault_cidrs(const struct inj_fault *f, size_t *n);
const char *const *inj_fault_devs(const struct inj_fault *f, size_t *n);
/* One line for humans: "partition drop 2 groups (3 CIDRs)". Returns buf. */
char *inj_fault_describe(const struct inj_fault *f, char *buf, size_t len);
/* True if id is a valid fault id. */
bool inj_id_valid(const char *id);
/* Names of all kinds, NULL-terminated (for "did you mean" hints and --help). */
const char *const *inj_kind_names(void);

/* ---- the context -------------------------------------------------------- */

struct inj_config {
    /*
     * Journal directory (created 0700 if missing). NULL: the default
     * /run/faultline/netns-<inode of this network namespace>.
     */
    const char *state_dir;
    /* Addresses never dropped by any packet fault (the control network). */
    const struct fl_cidr *exempt;
    size_t n_exempt;
};

/*
 * Open netlink sockets for the calling thread's network namespace and the
 * journal. Does not revert anything by itself (see inj_recover). The caller
 * frees with inj_close().
 */
int inj_open(const struct inj_config *cfg, struct inj_ctx **out, struct fl_err *err);
/* Close sockets; faults stay applied. Accepts NULL. */
void inj_close(struct inj_ctx *ctx);

/*
 * Apply fault f under id. Journaled before the kernel is touched; atomic per
 * fault: on any error nothing of it stays applied (and the journal entry is
 * removed). Same id with an equal spec: returns 1 (already applied, nothing
 * done). Same id with a different spec: -EEXIST. A kernel feature that is
 * missing: -EOPNOTSUPP with "kernel lacks <feature>: <extack text>".
 */
int inj_apply(struct inj_ctx *ctx, const char *id, const struct inj_fault *f, struct fl_err *err);
/*
 * Revert fault id. Not applied (or already gone from the kernel) counts as
 * reverted: returns 1 when nothing was there, 0 when something was undone.
 */
int inj_revert(struct inj_ctx *ctx, const char *id, struct fl_err *err);
/* Revert every journaled fault, newest first. Keeps going past errors; first error returned. */
int inj_revert_all(struct inj_ctx *ctx, struct fl_err *err);
/*
 * Remove every faultline-owned kernel object in this namespace, journal or
 * not, and empty the journal. Safe when nothing is there.
 */
int inj_sweep(struct inj_ctx *ctx, struct fl_err *err);
/* Start-up recovery: inj_revert_all then inj_sweep. */
int inj_recover(struct inj_ctx *ctx, struct fl_err *err);

/*
 * The active faults as a JSON array (new reference) of
 * {"id","kind","spec","applied_ns","evidence":{"packets":N,"bytes":N}} where
 * evidence holds the drop counters of packet faults.
 */
int inj_list(struct inj_ctx *ctx, json_t **out, struct fl_err *err);
/* Ids of journaled faults (for leases); *ids is malloc'd array of malloc'd strings. */
int inj_ids(struct inj_ctx *ctx, char ***ids, size_t *n);
/* True if id is journaled (applied). */
bool inj_has(struct inj_ctx *ctx, const char *id);

/*
 * What this kernel can do, probed without leaving anything behind:
 * {"nftables":{"ok":true}, "netem":{"ok":false,"error":"kernel lacks sch_netem: ..."},
 *  "tbf":{...}, "link":{...}, "route":{...}, "process":{...}}. Bits of the
 * available capabilities in *caps if non-NULL.
 */
int inj_probe(struct inj_ctx *ctx, json_t **out, unsigned *caps);
/* Cached probe result bits (probes on first call). */
unsigned inj_caps(struct inj_ctx *ctx);

#endif
