/*
 * Experiment files: the YAML that says which topology to build, which service
 * to run on it, what load to drive, which faults to inject when, and what the
 * verifiers must find. experiment_load() parses a file with libfyaml, checks
 * every key strictly (unknown keys are errors, with the nearest valid key as a
 * hint), and returns a struct experiment in which everything is resolved:
 * durations in nanoseconds, rates in operations per second, every region, zone
 * and host with its addresses (the lab's address plan is applied here), every
 * fault's scope turned into CIDR lists and host indexes. Errors are one line,
 * "file:line:column: what was found, what was expected".
 *
 * The verify: section is kept generic (a jansson object, durations converted
 * to integer milliseconds) for the verifier configuration to read, with the
 * source position of each value so that its errors can name file:line:column.
 *
 * Pure: no network, no kernel, no files but the one read.
 */
#ifndef FAULTLINE_EXPERIMENT_H
#define FAULTLINE_EXPERIMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "faultline/cidr.h"
#include "faultline/err.h"

#define EXP_API_VERSION    "faultline/v1"
#define EXP_NAME_MAX       64  /* names of experiments, regions, zones, hosts, ops */
#define EXP_URL_MAX        256 /* agent URLs */
#define EXP_TOKEN_FILE_MAX 512 /* a staging host's token_file path */

/* The lab's address plan (see docs/experiment-file.md, "The lab's address plan"). */
#define EXP_LAB_CONTROL        "198.19.0.0/24" /* control network: controller .1, agents .(i+10) */
#define EXP_LAB_AGENT_PORT     7070            /* agents listen here on their control address */
#define EXP_LAB_MAX_REGIONS    32              /* region r (1..) -> 198.18.r.0/24 */
#define EXP_LAB_MAX_ZONES      7               /* zone z (1..7) -> 198.18.r.(32z)/27 */
#define EXP_LAB_MAX_ZONE_HOSTS 29  /* host h (1..29) -> 198.18.r.(32z+h); .32z+30 gateway */
#define EXP_LAB_MAX_HOSTS      240 /* control addresses .10 .. .249 */

enum exp_target_kind {
    EXP_TARGET_REFSTORE,
    EXP_TARGET_REDIS_SENTINEL,
    EXP_TARGET_ETCD,
    EXP_TARGET_POSTGRES,
    EXP_TARGET_HTTP,
};

enum exp_fault_kind {
    EXP_FAULT_PARTITION,
    EXP_FAULT_ONE_WAY,
    EXP_FAULT_ISOLATE,
    EXP_FAULT_LOSS,
    EXP_FAULT_LATENCY,
    EXP_FAULT_JITTER,
    EXP_FAULT_DUPLICATE,
    EXP_FAULT_CORRUPT,
    EXP_FAULT_REORDER,
    EXP_FAULT_BANDWIDTH,
    EXP_FAULT_LINK_DOWN,
    EXP_FAULT_BLACKHOLE,
    EXP_FAULT_PROCESS,
};

/*
 * The kinds above are the rows of the controller's fault kind table
 * (controller/fault_kinds.c) that code names; the table may hold more, and
 * its size is the count.
 */
#define EXP_FAULT_KIND_COUNT ((enum exp_fault_kind)experiment_fault_kind_count())

enum exp_fault_mode {
    EXP_MODE_DROP,   /* silent loss (default) */
    EXP_MODE_REJECT, /* TCP reset / ICMP unreachable */
};

enum exp_routing {
    EXP_ROUTING_PREFERRED, /* each client tries routing regions in order, next on failure */
    EXP_ROUTING_FIXED,     /* each client stays on the first routing region */
};

struct exp_host {
    char name[EXP_NAME_MAX]; /* lab: "<region>-<zone>-h<N>"; staging: as written */
    size_t index;            /* position in topology.hosts (file order) */
    size_t region, zone;     /* indexes into topology.regions / region's zones */
    struct fl_cidr data;     /* data address (/32 or /128) */
    struct fl_cidr control;  /* lab: 198.19.0.(index+10)/32; staging: family 0 (unknown) */
    char agent[EXP_URL_MAX]; /* agent base URL ("http://198.19.0.10:7070" in the lab) */
    /* staging: this agent's own token file (relative paths resolved against the experiment
       file's directory); "": the run's --token-file */
    char token_file[EXP_TOKEN_FILE_MAX];
};

struct exp_zone {
    char name[EXP_NAME_MAX];     /* "z1" */
    char path[2 * EXP_NAME_MAX]; /* "west/z1": how faults name it */
    struct fl_cidr cidr;         /* lab: 198.18.r.(32z)/27; staging: family 0 */
    struct fl_cidr gateway;     /* lab: 198.18.r.(32z+30)/32, the router's leg; staging: family 0 */
    size_t first_host, n_hosts; /* slice of topology.hosts */
};

struct exp_region {
    char name[EXP_NAME_MAX];
    struct fl_cidr cidr; /* lab: 198.18.r.0/24; staging: family 0 */
    struct exp_zone *zones;
    size_t n_zones;
    size_t first_host, n_hosts; /* slice of topology.hosts */
};

struct exp_topology {
    bool lab;                  /* true: host counts (the lab builds it); false: staging inventory */
    struct fl_cidr control;    /* the control network, never cut */
    struct fl_cidr controller; /* lab: 198.19.0.1/32; staging: family 0 */
    struct exp_region *regions;
    size_t n_regions;
    struct exp_host *hosts; /* every host, region by region, zone by zone, in file order */
    size_t n_hosts;
};

/* A resolved set of hosts: what a name ("west", "west/z1", "west-z1-h1") or CIDR means. */
struct exp_set {
    char *text;            /* as written, names joined by ", " (for humans and faults.jsonl) */
    struct fl_cidr *cidrs; /* lab: the region/zone/host prefixes; staging: host addresses */
    size_t n_cidrs;
    size_t *hosts; /* indexes of the topology's hosts inside the set */
    size_t n_hosts;
};

struct exp_target {
    enum exp_target_kind kind;
    const char *kind_name;     /* "refstore", ... (static string) */
    char preset[EXP_NAME_MAX]; /* refstore: "key-vault" | "cosmos"; "" otherwise */
    bool has_primary;
    size_t primary; /* region index (default: the first region) */
    /*
     * Every option written under target: except kind, as JSON: durations as
     * integer milliseconds, booleans, numbers, strings, lists of strings.
     * Owned by the experiment.
     */
    json_t *options;
};

struct exp_op_weight {
    char op[EXP_NAME_MAX];
    unsigned weight; /* positive */
};

/* workload.model: what a key holds (docs/experiment-file.md). */
enum exp_model {
    EXP_MODEL_REGISTER, /* default: one value, overwritten by writes */
    EXP_MODEL_SET,      /* a set: each write adds one element, reads return all */
};

/*
 * A client group (workload.clients as a list): count clients placed outside
 * every region (as a count gives), in a region or in a zone; in the lab a
 * placed group's clients run inside that region's (zone's) network scope.
 */
struct exp_client_group {
    char name[EXP_NAME_MAX];
    unsigned count;
    bool has_region, has_zone; /* placement; neither: outside every region */
    size_t region, zone;       /* region index; zone index inside that region */
    bool has_rate;             /* rate given by the group (else its share of workload.rate) */
    double rate;               /* resolved: this group's operations per second */
    enum exp_routing routing;
    size_t *routing_regions; /* region indexes; default: own region first, then the workload's */
    size_t n_routing_regions;
};

struct exp_workload {
    enum exp_model model;
    unsigned clients;                /* total over the groups */
    struct exp_client_group *groups; /* NULL when clients is a count */
    size_t n_groups;
    double rate; /* operations per second over all clients */
    int64_t duration_ns;
    unsigned keys;      /* default 100 */
    int64_t timeout_ns; /* per operation; default 1s */
    bool has_seed;
    uint64_t seed;
    struct exp_op_weight *mix;
    size_t n_mix;
    unsigned mix_total; /* sum of weights */
    enum exp_routing routing;
    size_t *routing_regions; /* region indexes; default: every region, primary first */
    size_t n_routing_regions;
};

struct exp_fault {
    char id[16]; /* "f1", "f2", ... in file order */
    enum exp_fault_kind kind;
    int64_t at_ns;
    int64_t for_ns;           /* resolved: without "for:", until the workload ends */
    bool until_end;           /* "for:" was absent */
    enum exp_fault_mode mode; /* partition, one-way, isolate */
    bool capture;             /* capture: true: a pcap per host of the fault's interval */
    /* Where it applies (every kind but partition and one-way): region, zone or host. */
    struct exp_set scope;
    struct exp_set *groups; /* partition: each group's members */
    size_t n_groups;
    struct exp_set from, to; /* one-way: from -> to dropped; blackhole: to */
    /*
     * Kind parameters (percent, delay, jitter, kbit, dev, action, service) as
     * JSON, durations as integer milliseconds. Owned by the experiment.
     */
    json_t *params;
    int line, column; /* where the fault starts in the file (1-based) */
};

/* guards[].kind: what a guard probes. */
enum exp_guard_kind {
    EXP_GUARD_HTTP,       /* GET url: steady while the status is `expect` within `timeout` */
    EXP_GUARD_PROMETHEUS, /* an instant query: steady while its value is within max / min */
};

#define EXP_GUARD_QUERY_MAX 1024 /* a guard's PromQL query */

/*
 * One stop condition (docs/experiment-file.md, "guards"): probed every
 * `every`; `failures` consecutive failed probes trip it.
 */
struct exp_guard {
    char name[EXP_NAME_MAX];
    enum exp_guard_kind kind;
    char url[EXP_URL_MAX];           /* http: the URL probed; prometheus: the server's base URL */
    long expect;                     /* http: the status that means steady (default 200) */
    int64_t timeout_ns;              /* one probe's bound (default 1 s) */
    char query[EXP_GUARD_QUERY_MAX]; /* prometheus */
    bool has_max, has_min;           /* prometheus: fail when value > max / < min */
    double max, min;
    int64_t every_ns;  /* default 1 s */
    unsigned failures; /* consecutive failed probes that trip it (default 1) */
    int line, column;  /* where the guard starts in the file */
};

/* workload.abort_when's class: the mix's reads, every other operation, or all. */
enum exp_op_class { EXP_CLASS_READ, EXP_CLASS_WRITE, EXP_CLASS_ANY };

/*
 * workload.abort_when: {class, success_below, for}: the run trips (as a
 * guard does) when the class's success ratio over the last `for` is below
 * success_below.
 */
struct exp_abort_when {
    bool enabled;
    enum exp_op_class op_class;
    double success_below; /* 0..1 */
    int64_t for_ns;       /* the sliding window, whole seconds of at least 1 s */
    int line, column;
};

struct experiment {
    char *file; /* path as given (or the name given to experiment_parse) */
    char name[EXP_NAME_MAX];
    struct exp_topology topology;
    struct exp_target target;
    struct exp_workload workload;
    struct exp_fault *faults;
    size_t n_faults;
    /*
     * verify: as JSON, durations as integer milliseconds under the same keys
     * ({"failover":{"max":180000}, "data_loss":{"max_updates":0,"max_window":0}}).
     * verify_marks maps JSON pointers ("/failover/max") to [line, column].
     */
    json_t *verify;
    json_t *verify_marks;
    /*
     * promise: the cells the experiment checks, [{"doc","row","column","claim"} strings,
     * "verifiers": [names] when given], or NULL when the file has none.
     */
    json_t *promise;
    /*
     * limits: the blast radius every fault must stay inside (required for
     * staging; optional in the lab). A fault touches the hosts it cuts off
     * or degrades (exp_limits.c: experiment_fault_touched).
     */
    struct exp_limits {
        bool set;
        unsigned max_hosts;  /* 0: no bound on the count */
        double max_fraction; /* of the topology's hosts; 0: no bound on the fraction */
        int line, column;    /* where limits: starts */
    } limits;
    /* guards: stop conditions probed before the first fault and during the run (exp_guard.c) */
    struct exp_guard *guards;
    size_t n_guards;
    /* workload.abort_when: the workload's own success ratio as a guard (exp_workload.c) */
    struct exp_abort_when abort_when;
};

/*
 * Parse and resolve the experiment file at path. On success *out is a new
 * experiment the caller frees with experiment_free(). On error returns
 * -EINVAL (bad file) or -errno (cannot read it) with err holding one line
 * "path:line:column: message" (or "path: message" when there is no position).
 */
int experiment_load(const char *path, struct experiment **out, struct fl_err *err);

/* The same from text in memory; name stands for the file name in messages. */
int experiment_parse(const char *text, size_t len, const char *name, struct experiment **out,
                     struct fl_err *err);

/* Free an experiment. Accepts NULL. */
void experiment_free(struct experiment *exp);

/*
 * Resolve a name or CIDR as faults use them ("west", "west/z1", "west-z1-h1",
 * "198.18.1.0/24") into *set (zeroed first; the caller frees it with
 * experiment_set_free()). Returns 0, or -ENOENT with err naming the nearest
 * valid name, or -EINVAL for a bad CIDR.
 */
int experiment_resolve(const struct experiment *exp, const char *name, struct exp_set *set,
                       struct fl_err *err);
/* Free what a set holds (not the struct). Accepts NULL. */
void experiment_set_free(struct exp_set *set);

/* Find a region by name; returns its index or -1. */
int experiment_region_find(const struct experiment *exp, const char *name);

/* Position of a verify: value by JSON pointer ("/failover/max"). Returns 0 or -ENOENT. */
int experiment_verify_mark(const struct experiment *exp, const char *pointer, int *line,
                           int *column);

/* Name of a fault kind ("one-way"); kinds' names NULL-terminated for hints and --help. */
const char *experiment_fault_kind_name(enum exp_fault_kind kind);
const char *const *experiment_fault_kind_names(void);
/* How many fault kinds there are (EXP_FAULT_KIND_COUNT). */
size_t experiment_fault_kind_count(void);

/*
 * The candidate closest to s by edit distance, if close enough to be a likely
 * misspelling (distance <= 2, or <= 1 for short words); NULL otherwise.
 * candidates is NULL-terminated.
 */
/*
 * The hosts fault f touches (cuts off or degrades), into hosts (room for
 * every host of the topology): its scope; for a partition every group but
 * the largest (the side(s) cut off); for one-way both ends. Returns the
 * count.
 */
size_t experiment_fault_touched(const struct experiment *exp, const struct exp_fault *f,
                                size_t *hosts);

const char *experiment_nearest(const char *s, const char *const *candidates);

#endif
