/*
 * Target launchers: start a replicated service's real server processes inside
 * lab hosts (network namespaces), wait until it is healthy, tell the workload
 * where each region's endpoint is, report the service's own view (who is
 * primary, when it failed over), and stop it leaving nothing behind.
 *
 * The run loop picks a launcher by the experiment's target.kind
 * (fl_target_find) and a driver (include/faultline/driver.h) by the same
 * name. Launchers run programs from Debian packages; a missing package is
 * -ENOENT with one line naming the package to install.
 */
#ifndef FAULTLINE_TARGET_H
#define FAULTLINE_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct fl_err;
struct vspec;

/* One lab host as a launcher sees it. */
struct fl_target_host {
    const char *name;      /* "west-z1-h1" */
    const char *region;    /* "west" */
    const char *zone;      /* "z1" */
    const char *netns;     /* network namespace to run its processes in */
    const char *data_addr; /* address on the data network, no prefix: "198.18.1.33" */
};

struct fl_target_env {
    const struct fl_target_host *hosts;
    size_t n_hosts;
    const char *primary_region; /* target.primary, may be NULL */
    const json_t *config;       /* the experiment's target section (kind-specific keys) */
    const char *run_dir;      /* per-run directory for data dirs and logs (<run_dir>/<host>/...) */
    int64_t ready_timeout_ns; /* how long start() may wait for health */
};

/* Where the workload sends operations: one entry per region, in file order. */
struct fl_target_endpoint {
    char region[64];
    char url[256]; /* driver-specific: "http://198.18.1.33:8080", "redis-sentinel://...", a libpq
                      conninfo */
};

struct fl_target_ops {
    const char *kind; /* "refstore", "redis-sentinel", "etcd", "postgres" */
    /*
     * Start every process and wait until the service is healthy. On error,
     * everything started is stopped again and err names the failing host with
     * an excerpt of the server's own log. *state is freed by stop().
     */
    int (*start)(const struct fl_target_env *env, void **state, struct fl_err *err);
    /* Endpoints per region (array owned by state). */
    int (*endpoints)(void *state, const struct fl_target_endpoint **eps, size_t *n);
    /*
     * The service's own view as JSON (new reference), e.g.
     * {"primary": "west-z1-h1", "failover_at_ns": ..., "hosts": {...}}; may be NULL.
     */
    json_t *(*status)(void *state);
    /* Stop every process (SIGTERM, then SIGKILL after a grace), remove temp files. Accepts NULL. */
    void (*stop)(void *state);
    /*
     * Optional: wait until the service has converged after healing (every
     * replica sees every peer, nothing pending, no failed-over state left).
     * 0, or -ETIMEDOUT / -ECHILD (a server died) with err saying what is
     * still pending. NULL: the run loop gives replication a fixed moment.
     */
    int (*settle)(void *state, int64_t timeout_ns, struct fl_err *err);
    /*
     * Optional: the "target" of a process fault on host i, for the injector's
     * process kind: {"pidfile": P} or {"match": S}, plus "restart_cmd" (an
     * argv array) when the server can be started again; the run loop moves
     * restart_cmd beside target in the fault spec (new reference; NULL: unknown).
     */
    json_t *(*process_target)(void *state, size_t host);
    /*
     * The kind's options under target: in an experiment file, a table of
     * faultline/optspec.h ending in a NULL key. The kind owns its schema; the
     * experiment parser only applies it.
     */
    const struct vspec *options;
    /*
     * Optional: the kind's limits against the lab it would run in (env's
     * hosts with name, region, zone and data_addr; config; primary_region;
     * netns and run_dir may be NULL), so that `faultline validate` refuses
     * what start() could not do. start() checks the same. 0, or -EINVAL
     * with err; *key (may be NULL) names the option of the target section
     * the limit is about, NULL when it is about the topology.
     */
    int (*check)(const struct fl_target_env *env, const char **key, struct fl_err *err);
};

/* The launcher for kind, or NULL. */
const struct fl_target_ops *fl_target_find(const char *kind);

/*
 * Every target kind an experiment may name, in the order of enum
 * exp_target_kind (controller/experiment.h), NULL-terminated. "http" has no
 * launcher (the service runs elsewhere) but has options.
 */
const char *const *fl_target_kinds(void);

/* The options schema of kind (see options above), or NULL for an unknown kind. */
const struct vspec *fl_target_schema(const char *kind);

#endif
