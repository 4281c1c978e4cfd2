/*
 * The fault kind table: one row per kind the experiment file may name. A row
 * holds everything the controller knows about a kind: its name, its keys
 * (which are required), its scope rules (a region/zone/host scope, partition
 * groups, from/to ends, which hosts get the spec) and the function that
 * builds the injector spec for one host. The kernel features a kind needs
 * are not repeated here: the injector's own kind table says them
 * (inj_fault_needs() on the built spec), and the agents' capabilities are
 * checked against that.
 *
 * Adding a kind: the injector's kind file and its row in the injector's
 * table, one row here (plus a line in docs/experiment-file.md's kinds table,
 * which a test compares with this table). Parameter keys are typed once for
 * all kinds (fault_param_type()); a new key adds a row there.
 */
#ifndef FAULTLINE_FAULT_KINDS_H
#define FAULTLINE_FAULT_KINDS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "experiment.h"

/* Scope rules of a kind (flags). */
#define FK_SCOPE  0x01u /* exactly one of region / zone / host: the hosts it applies to */
#define FK_MODE   0x02u /* takes mode: drop | reject */
#define FK_GROUPS 0x04u /* groups: partition members; the spec goes to every member */
#define FK_ENDS   0x08u /* from / to: the spec goes to both ends */
#define FK_TO     0x10u /* to: the destinations (blackhole), never the control network */
#define FK_ALL    0x20u /* the spec goes to every host (a cut enforced on ingress) */
#define FK_GUARD  0x40u /* the scope may not reach into the control network */

/* What a spec builder sees: the fault, the topology, the host, its data interface. */
struct fk_host {
    const struct exp_fault *f;
    const struct exp_topology *t;
    size_t host;     /* topology index of the host the spec is for */
    const char *dev; /* the fault's dev:, else the lab's data interface, else "" */
};

struct fault_kind {
    const char *name;            /* as written in experiment files and injector specs */
    const char *const *keys;     /* the kind's own keys (NULL-terminated) */
    const char *const *required; /* of which required */
    unsigned flags;              /* FK_* */
    /* Add the kind's fields to spec (which holds "kind"). 0 or -ENOMEM. */
    int (*build)(const struct fk_host *h, json_t *spec);
};

/* Parameter types, shared by every kind that takes the key. */
enum fault_param {
    FP_NONE,     /* not a parameter (scope, timing, mode, groups, from, to) */
    FP_PERCENT,  /* 0 < p <= 100 */
    FP_DURATION, /* > 0, kept as integer milliseconds */
    FP_KBIT,     /* 1 .. 100000000 */
    FP_DEV,      /* an interface name */
    FP_ACTION,   /* stop | continue | kill | restart */
    FP_STRING,   /* any string */
};

/* The row of kind (NULL when out of range). */
const struct fault_kind *fault_kind_get(enum exp_fault_kind kind);
/* How many kinds the table has. */
size_t fault_kind_count(void);
/* The type of parameter key. */
enum fault_param fault_param_type(const char *key);
/* The values of an FP_ACTION parameter, NULL-terminated. */
extern const char *const fault_process_actions[];

#endif
