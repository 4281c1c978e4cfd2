/*
 * Verifiers: pure functions from a history, a fault timeline and the
 * experiment's `verify:` bounds to verdicts. Each verifier yields one
 * struct vfy_result: pass, fail or inconclusive (nothing to judge: a verifier
 * never says pass about a check that did not happen), the measured values and the
 * bound as JSON (they go straight into report.json's "verifiers" array) and
 * one paragraph a person can act on. No network, no YAML, no printing: the
 * YAML parser (or vfy_config_from_json) fills struct vfy_config with plain C
 * values. The exact rule of each verifier is in docs/internals/verifiers.md.
 *
 * Operation classes: "read" and "write" (from hist_op.is_write) and every
 * operation name ("set-secret"). Final reads (is_final) feed data_loss and
 * staleness only. Multi-fault timelines are evaluated per fault; the verdict
 * is the conjunction.
 */
#ifndef FAULTLINE_VERIFY_H
#define FAULTLINE_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "faultline/history.h"

struct fl_err;
struct vspec;

#define VFY_UNBOUNDED  (-1) /* an int64 bound that is not checked (measure only) */
#define VFY_NAMES_MAX  64
#define VFY_NAME_LEN   64
#define VFY_FLOORS_MAX 32

/* A list of class or operation names. */
struct vfy_names {
    size_t n;
    char name[VFY_NAMES_MAX][VFY_NAME_LEN];
};

/* Which end of a recorded fault interval (request sent / response received). */
enum vfy_anchor {
    VFY_ANCHOR_DONE = 0, /* the fault is certainly in effect (default) */
    VFY_ANCHOR_SENT = 1, /* the earliest moment it may have taken effect */
};

/* "Success is sustained": at least min_ratio ok over the next window_ns. */
struct vfy_sustain {
    int64_t window_ns; /* default 2 s */
    double min_ratio;  /* default 0.95 */
};

/* failover: {max: 180s, classes: [...], sustain: {window: 2s, ratio: 0.95}} */
struct vfy_failover_cfg {
    bool enabled;
    int64_t max_ns;           /* VFY_UNBOUNDED: measure only */
    struct vfy_names classes; /* empty: every class seen, minus those read_only refuses */
    struct vfy_sustain sustain;
    enum vfy_anchor anchor;  /* outage start: apply_done (default) or apply_sent */
    struct vfy_names groups; /* client groups judged (history "group"); empty: every client */
};

/* failback: {max: 60s, writes: required} */
struct vfy_failback_cfg {
    bool enabled;
    int64_t max_ns;
    bool writes_required;     /* write classes must recover too (else measured only) */
    struct vfy_names classes; /* empty: every class seen */
    struct vfy_sustain sustain;
    enum vfy_anchor anchor; /* heal moment: heal_done (default) or heal_sent */
};

/* read_only: {allowed: [get-secret, ...], grace: 5s, start: 30s} */
struct vfy_read_only_cfg {
    bool enabled;
    struct vfy_names allowed; /* empty: every operation that is not a write */
    int64_t grace_ns;         /* allowed ops may fail this long after read-only starts */
    int64_t start_after_ns;   /* <0: detect; else read-only starts this long after the fault */
};

/* Consistency levels with the seed's data-loss presets. */
enum vfy_consistency {
    VFY_CONS_NONE = 0, /* explicit bounds */
    VFY_CONS_STRONG,   /* 0 updates, 0 s */
    VFY_CONS_BOUNDED,  /* K = 100000 updates, T = 5 min */
    VFY_CONS_SESSION,  /* 15 min */
    VFY_CONS_PREFIX,   /* 15 min */
    VFY_CONS_EVENTUAL, /* 15 min */
};

/*
 * data_loss: {max_updates: 0, max_window: 0s, max_after: 0s} or {consistency: bounded}.
 * Each lost write is placed on one side of its fault's start: before (the RPO
 * window, bounded by max_window) or after (acknowledged during or after the
 * outage and lost, bounded by max_after).
 */
struct vfy_data_loss_cfg {
    bool enabled;
    int64_t max_updates;              /* lost acknowledged writes per fault; VFY_UNBOUNDED */
    int64_t max_window_ns;            /* how far before the fault they may reach; VFY_UNBOUNDED */
    int64_t max_after_ns;             /* how far after the fault start they may be (default 0) */
    enum vfy_consistency consistency; /* the preset used, for the report */
};

/* staleness: {max_versions: K, max_lag: T, read_your_writes: true, monotonic_reads: true} */
struct vfy_staleness_cfg {
    bool enabled;
    int64_t max_versions; /* VFY_UNBOUNDED */
    int64_t max_lag_ns;   /* VFY_UNBOUNDED */
    bool read_your_writes;
    bool monotonic_reads;
    /*
     * The point reads to judge (each returns the key's value); empty: every
     * read. List-style reads (query, list-secrets) return no value and must
     * be left out, or they look like reads that missed every write.
     */
    struct vfy_names ops;
};

enum vfy_phase {
    VFY_PHASE_ANY = -1, /* a floor for every phase */
    VFY_PHASE_BEFORE = 0,
    VFY_PHASE_DURING = 1,
    VFY_PHASE_AFTER = 2,
};

struct vfy_floor {
    char cls[VFY_NAME_LEN]; /* "read", "write" or an operation name */
    int phase;              /* enum vfy_phase */
    double min_ratio;       /* ok / attempted, 0..1 */
};

/* availability: {floors: {read: 0.999, write: {during: 0.5, after: 0.99}}} */
struct vfy_availability_cfg {
    bool enabled;
    size_t nfloors;
    struct vfy_floor floors[VFY_FLOORS_MAX];
    struct vfy_names groups; /* client groups judged (history "group"); empty: every client */
};

/* linearizable: {budget: 10s, max_states: N} (per key; exceeding it is inconclusive) */
struct vfy_linearizable_cfg {
    bool enabled;
    int64_t budget_ns;   /* search time per key; <= 0: 10 s */
    uint64_t max_states; /* search states per key; 0: 1000000 */
};

/*
 * routing: {preferred: [regions], lost: [regions], ratio: 0.95, settle: 2s, ops: [...]}:
 * ok reads come from the first preferred region, or while a fault is in effect
 * from the first one not in lost (verifiers/vfy_routing.c).
 */
struct vfy_routing_cfg {
    bool enabled;
    struct vfy_names preferred; /* the clients' preferred-regions order */
    struct vfy_names lost;      /* the regions the fault takes away */
    double min_ratio;           /* of a phase's ok reads from the expected region (0.95) */
    int64_t settle_ns;          /* not judged after a fault takes effect or heals (2 s) */
    struct vfy_names ops;       /* the reads judged; empty: every read */
};

/*
 * conflict_feed: {}: every acknowledged write missing after recovery is in
 * the service's conflict feed (verifiers/vfy_conflict_feed.c). The feed is
 * not written in the file: the run loop fetches it after the final reads
 * (refstore: GET /v1/conflicts on every replica) and fills it in here.
 */
struct vfy_conflict_feed_cfg {
    bool enabled;
    bool fetched;           /* the feed was read (else the verdict is inconclusive) */
    const uint64_t *values; /* the written values in the feed, any order (caller-owned) */
    size_t nvalues;
};

struct vfy_config {
    struct vfy_failover_cfg failover;
    struct vfy_failback_cfg failback;
    struct vfy_read_only_cfg read_only;
    struct vfy_data_loss_cfg data_loss;
    struct vfy_staleness_cfg staleness;
    struct vfy_availability_cfg availability;
    struct vfy_linearizable_cfg linearizable;
    struct vfy_routing_cfg routing;
    struct vfy_conflict_feed_cfg conflict_feed;
    /* verify.allow_inconclusive: verifiers whose inconclusive result does not fail the run */
    struct vfy_names allow_inconclusive;
};

enum vfy_status {
    VFY_PASS = 0,
    VFY_FAIL = 1,
    VFY_INCONCLUSIVE = 2, /* nothing to judge; reason says why */
};

/* One verdict, as report.json shows it. measured/bound are owned references. */
struct vfy_result {
    char name[32];
    enum vfy_status status;
    bool pass;    /* status == VFY_PASS (kept for older callers) */
    bool skipped; /* status == VFY_INCONCLUSIVE (older name) */
    bool allowed; /* inconclusive and listed in verify.allow_inconclusive */
    json_t *measured;
    json_t *bound;
    char *detail; /* malloc'd paragraph */
    char *reason; /* malloc'd, set when inconclusive */
};

struct vfy_results {
    struct vfy_result *r;
    size_t n, cap;
};

/*
 * Fill cfg with every verifier disabled and the documented defaults: sustain
 * 2 s at 95 %, anchors at the "done" end, no bounds, grace 0, detect the
 * read-only start. Setting .enabled is what turns a verifier on.
 */
void vfy_config_init_defaults(struct vfy_config *cfg);

/*
 * Apply a consistency preset by name ("strong", "bounded", "session",
 * "prefix" / "consistent-prefix", "eventual") to dl (enables it).
 * 0 or -EINVAL with err set.
 */
int vfy_data_loss_preset(struct vfy_data_loss_cfg *dl, const char *level, struct fl_err *err);

/*
 * The `verify:` schema as value specs (faultline/optspec.h): one VT_MAP row
 * per verifier with its keys, then the shared keys (sustain, grace,
 * allow_inconclusive). The experiment parser walks an experiment's verify:
 * section with it; vfy_config_from_json reads the result. Static storage.
 */
const struct vspec *vfy_schema(void);

/*
 * Fill cfg (after vfy_config_init_defaults) from the JSON form of `verify:`,
 * e.g. {"failover":{"max":"180s"},"data_loss":{"consistency":"strong"}}.
 * Durations are strings ("250ms", "5m") or integer milliseconds (the
 * experiment parser's form). Every section present is enabled.
 * Unknown keys are errors. 0 or -EINVAL with err naming the offending key.
 */
int vfy_config_from_json(const json_t *j, struct vfy_config *cfg, struct fl_err *err);

/*
 * Run every enabled verifier over h (any record order) and the fault
 * timeline, appending one result each to out (initialise it to zeros).
 * Returns 0, or -ENOMEM / -E2BIG (history too large) with err set; verdicts
 * are in out, never in the return value. Caller frees out with vfy_results_free.
 */
int vfy_run_all(const struct hist *h, const struct hist_faults *faults,
                const struct vfy_config *cfg, struct vfy_results *out, struct fl_err *err);

/*
 * The individual verifiers. Each fills *out (caller frees with
 * vfy_result_free) whether or not the section is enabled, and returns 0 or
 * a negative errno on resource failure. They read only their section of cfg,
 * except failover, which also reads read_only.allowed (classes refused while
 * read-only are not expected to fail over).
 */
int vfy_failover_check(const struct hist *h, const struct hist_faults *faults,
                       const struct vfy_config *cfg, struct vfy_result *out, struct fl_err *err);
int vfy_failback_check(const struct hist *h, const struct hist_faults *faults,
                       const struct vfy_config *cfg, struct vfy_result *out, struct fl_err *err);
int vfy_read_only_check(const struct hist *h, const struct hist_faults *faults,
                        const struct vfy_config *cfg, struct vfy_result *out, struct fl_err *err);
int vfy_data_loss_check(const struct hist *h, const struct hist_faults *faults,
                        const struct vfy_config *cfg, struct vfy_result *out, struct fl_err *err);
int vfy_staleness_check(const struct hist *h, const struct hist_faults *faults,
                        const struct vfy_config *cfg, struct vfy_result *out, struct fl_err *err);
int vfy_availability_check(const struct hist *h, const struct hist_faults *faults,
                           const struct vfy_config *cfg, struct vfy_result *out,
                           struct fl_err *err);
int vfy_routing_check(const struct hist *h, const struct hist_faults *faults,
                      const struct vfy_config *cfg, struct vfy_result *out, struct fl_err *err);
int vfy_conflict_feed_check(const struct hist *h, const struct hist_faults *faults,
                            const struct vfy_config *cfg, struct vfy_result *out,
                            struct fl_err *err);
int vfy_linearizable_check(const struct hist *h, const struct hist_faults *faults,
                           const struct vfy_config *cfg, struct vfy_result *out,
                           struct fl_err *err);

/*
 * True when no result failed and every inconclusive one is allowed
 * (verify.allow_inconclusive): the run's exit code is 0 exactly then.
 */
bool vfy_results_pass(const struct vfy_results *rs);
/*
 * The experiment's verdict over every result: "fail" when one failed, else
 * "inconclusive" when one is inconclusive and not allowed, else "pass".
 */
const char *vfy_results_verdict(const struct vfy_results *rs);
/* "pass", "fail" or "inconclusive". */
const char *vfy_status_name(enum vfy_status st);
/* Mark the inconclusive results that cfg->allow_inconclusive names as allowed. */
void vfy_results_allow(struct vfy_results *rs, const struct vfy_config *cfg);
/* The find-by-name helper for tests and reports; NULL when absent. */
const struct vfy_result *vfy_results_find(const struct vfy_results *rs, const char *name);
/*
 * report.json's "verifiers" array: [{"name","status","pass","skipped","measured","bound",
 * "detail"}] plus "reason" and "allowed" (verify.allow_inconclusive names it) on an
 * inconclusive result. New reference (caller decrefs), NULL on ENOMEM.
 */
json_t *vfy_results_to_json(const struct vfy_results *rs);
/* Free one result's contents / all results. Accept NULL. */
void vfy_result_free(struct vfy_result *r);
void vfy_results_free(struct vfy_results *rs);

#endif
