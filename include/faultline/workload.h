/*
 * The workload engine: concurrent clients driving a target through a driver
 * (include/faultline/driver.h) at an offered rate, open loop, with a weighted
 * operation mix over a key space, routing between regions as real SDKs do,
 * and every operation recorded as a history record (include/faultline/
 * history.h). Each client records into its own struct hist with no lock; the
 * buffers are merged at the end. Writes carry values unique per key (client
 * number in the high bits, a per-client counter in the low bits).
 *
 * Open loop: client i of N issues its k-th operation at
 * start + (i + k*N) / rate; a slow answer does not push the schedule back,
 * a late client issues at once to catch up, and slots still unissued when the
 * duration ends are counted as missed. Offered and achieved rates are both
 * reported, so a throttled run is visible rather than silently slower.
 */
#ifndef FAULTLINE_WORKLOAD_H
#define FAULTLINE_WORKLOAD_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faultline/driver.h"
#include "faultline/history.h"

struct fl_err;

#define WL_MAX_MIX       32
#define WL_MAX_ENDPOINTS 64
#define WL_MAX_REGIONS   16
#define WL_MAX_CLIENTS   4096
#define WL_OP_MAX        48

/* What a key holds (docs/internals/workload.md). */
enum wl_model {
    WL_MODEL_REGISTER, /* one value: writes overwrite, reads return it, cas compares it */
    WL_MODEL_SET,      /* a set: each write adds one unique element, reads return them all */
};

enum wl_routing {
    WL_ROUTE_FIXED,     /* always endpoints[fixed_endpoint] */
    WL_ROUTE_PREFERRED, /* ordered region list; move on after failures, move back later */
};

struct wl_mix {
    char op[WL_OP_MAX];
    double weight; /* > 0; relative */
};

#define WL_MAX_GROUPS 16
#define WL_GROUP_MAX  64

/*
 * A client group: its own clients, rate, routing and network namespace.
 * With groups, client numbers run through the groups in order (the first
 * group's clients first) and every record carries its client's group.
 */
struct wl_group {
    char name[WL_GROUP_MAX];
    unsigned clients;
    double rate; /* this group's offered ops/s (open loop when the config's rate > 0) */
    enum wl_routing routing;
    char regions[WL_MAX_REGIONS][FL_REGION_MAX]; /* preferred order; 0: endpoints' order */
    size_t nregions;
    int netns_fd; /* network namespace the group's sockets live in; -1: the caller's */
};

struct wl_config {
    unsigned clients;    /* concurrent clients, 1..WL_MAX_CLIENTS */
    double rate;         /* offered ops/s over all clients; 0 = closed loop, as fast as possible */
    int64_t duration_ns; /* how long to offer load */
    uint64_t max_ops;    /* hard bound on operations issued (0: derived from rate x duration) */
    unsigned keys;       /* key space "k0".."k<keys-1>" */
    int64_t timeout_ns;  /* per operation */
    struct wl_mix mix[WL_MAX_MIX];
    size_t nmix;
    enum wl_routing routing;
    char regions[WL_MAX_REGIONS][FL_REGION_MAX]; /* preferred order (PREFERRED) */
    size_t nregions;                             /* 0: endpoints' own order */
    struct fl_endpoint endpoints[WL_MAX_ENDPOINTS];
    size_t nendpoints;
    size_t fixed_endpoint;         /* WL_ROUTE_FIXED */
    unsigned fail_threshold;       /* consecutive retryable results before moving on (0 -> 1) */
    int64_t retry_preferred_ns;    /* how often a moved client tries its first region (0 -> 1s) */
    uint64_t seed;                 /* random seed (0 -> fixed default) */
    uint32_t client_base;          /* number of the first client in the history */
    char final_read_op[WL_OP_MAX]; /* wl_final_reads: "" -> first get/read op of the mix */
    enum wl_model model;           /* default WL_MODEL_REGISTER */
    /*
     * Client groups (wl_config_add_group); 0: one group of `clients` built
     * from rate, routing and regions above, recorded with no group. With
     * groups, clients must equal the sum of the groups' clients and rate
     * their sum (0 for every group: closed loop).
     */
    struct wl_group groups[WL_MAX_GROUPS];
    size_t ngroups;
};

/* Operation classes of the per-class counters: the mix's reads, and every other kind. */
enum wl_class { WL_CLASS_READ, WL_CLASS_WRITE, WL_CLASSES };

struct wl_stats {
    double offered_rate;  /* scheduled slots per second of the run */
    double achieved_rate; /* operations completed per second of the run */
    uint64_t scheduled;   /* slots in the schedule */
    uint64_t issued;      /* operations issued (= completed: each blocks until its result) */
    uint64_t missed;      /* slots never issued: the target was too slow to keep up */
    uint64_t late;        /* issued more than 1 ms after their slot */
    uint64_t ok, fail, info;
    uint64_t region_moves; /* routing changes (moving on and moving back) */
    int64_t max_lag_ns;    /* worst slot-to-issue lag */
    int64_t elapsed_ns;
    /* ok, fail, info per class (enum wl_class): what workload.abort_when samples */
    uint64_t class_ok[WL_CLASSES], class_fail[WL_CLASSES], class_info[WL_CLASSES];
};

/* Progress callback, called about once a second from wl_run's own thread. */
typedef void (*wl_progress_fn)(const struct wl_stats *s, void *arg);

/* Defaults: 1 client, closed loop, 10 s, 100 keys, 1 s timeout, preferred routing. */
void wl_config_init(struct wl_config *c);
/* Add an op to the mix. 0 or -EINVAL/-E2BIG with err. */
int wl_config_add_mix(struct wl_config *c, const char *op, double weight, struct fl_err *err);
/* Add an endpoint (region, url). 0 or -E2BIG/-EINVAL. */
int wl_config_add_endpoint(struct wl_config *c, const char *region, const char *url,
                           struct fl_err *err);
/*
 * Add a group (copied; netns_fd stays the caller's, open until wl_run
 * returns) and add its clients and rate to c->clients / c->rate (the first
 * group replaces the defaults). 0 or -E2BIG/-EINVAL with err.
 */
int wl_config_add_group(struct wl_config *c, const struct wl_group *g, struct fl_err *err);
/* Check a config before running. 0 or -EINVAL with a message. */
int wl_config_check(const struct wl_config *c, struct fl_err *err);
/*
 * Check the mix against a driver: with the set model, no operation may be a
 * delete or a cas. 0 or -EINVAL with a message naming the operation.
 */
int wl_config_check_mix(const struct wl_config *c, const struct fl_driver_ops *drv,
                        struct fl_err *err);

/*
 * Run the workload: blocks for about duration_ns (less if *stop becomes
 * non-zero). Records are appended to out (initialised by the caller with
 * hist_init) and sorted by invoke time; stats (may be NULL) is filled.
 * stop and progress may be NULL. Returns 0, or a negative errno with err
 * when the run could not start (bad config, driver open failed, no memory).
 */
int wl_run(const struct wl_config *c, const struct fl_driver_ops *drv, struct hist *out,
           struct wl_stats *stats, atomic_int *stop, wl_progress_fn progress, void *progress_arg,
           struct fl_err *err);

/*
 * The final read phase after healing: reads every key that any write in h
 * touched (whatever its outcome), once (set model: a set read of every
 * key any write added an element to), trying the regions in preferred
 * order until one serves it; every attempt is appended to h with is_final
 * set and client number client_base + clients. Bounded: one pass, at most
 * nendpoints attempts per key. Returns 0 or negative errno with err.
 */
int wl_final_reads(const struct wl_config *c, const struct fl_driver_ops *drv, struct hist *h,
                   struct fl_err *err);

#endif
