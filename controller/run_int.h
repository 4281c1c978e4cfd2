/*
 * Internals of `faultline run` and `faultline lab`, shared by the files of
 * the run loop and nothing else:
 *
 *   run.c           the phase table of one experiment, `faultline run`
 *   run_state.c     the run's shared state: harness error, failure, durations
 *   bringup.c       the bring-up phases `run` and `lab up` share (lab,
 *                   agents, target)
 *   agent_client.c  requests to many agents at once (one fan-out for every call)
 *   fault_plan.c    experiment fault -> hosts + injector specs
 *   scheduler.c     apply, renew, heal on time; agents' health
 *   outputs.c       report.json, history.jsonl, faults.jsonl, junit.xml
 *   lab_cmd.c       `faultline lab up|down|list`
 *   signals.c       SIGINT / SIGTERM
 */
#ifndef FAULTLINE_RUN_INT_H
#define FAULTLINE_RUN_INT_H

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "experiment.h"
#include "faultline/driver.h"
#include "faultline/history.h"
#include "faultline/target.h"
#include "faultline/verify.h"
#include "faultline/workload.h"
#include "agent_tls.h"
#include "lab.h"
#include "run.h"

#define NS_MS 1000000LL
#define NS_S  1000000000LL

/* The exit codes paragraph of --help (run.c; main.c has its own so flctl links alone). */
extern const char run_exit_codes[];

/* ---- signals.c ------------------------------------------------------------ */

extern atomic_int run_signals; /* how many SIGINT/SIGTERM (signals.c's sigwait thread) */
extern atomic_int run_stop;    /* the workload's stop flag */

/* ---- agent_client.c ------------------------------------------------------- */

/* The agents of a topology: where they listen, the token, which stopped answering. */
struct agents {
    char (*url)[EXP_URL_MAX]; /* per host */
    bool *dead;               /* per host: stopped answering */
    size_t n;
    const char *token; /* every host's token, unless tokens[i] */
    char **tokens;     /* per host or NULL: its own token (owned, wiped at free), NULL: token */
    const struct agent_tls *tls; /* --ca, --cert, --key (agent_tls.h; borrowed), or NULL */
};

struct agent_reply {
    size_t host;   /* topology index */
    long status;   /* HTTP status; 0: no answer */
    json_t *body;  /* the parsed answer, or NULL */
    bool ok;       /* status is one of the call's accepted ones */
    int curl_code; /* CURLcode of the transfer (0: it completed) */
    char why[512]; /* !ok: the agent's {"error"} or curl's message */
};

/*
 * One request to many agents at once: method and path ("/v1/health") to the
 * agent of each host in hosts (NULL: every host), with bodies[i] (borrowed
 * JSON, or NULL for none) for hosts[i].
 */
struct agent_call {
    const char *method;
    const char *path;
    const size_t *hosts;
    size_t n;
    json_t *const *bodies;
    long timeout_ms;
    const long *accept; /* statuses that count as ok, 0-terminated; NULL: 200 */
    bool raw;           /* the answer is text (metrics, JSONL): body is a JSON string of it */
    /* results */
    struct agent_reply *r; /* n replies, in the order of hosts */
    size_t failed;         /* how many are not ok */
    size_t first_failed;   /* index into r of the first that is not ok */
};

/* Fill A from the topology's agent URLs. 0 or -ENOMEM. */
int agents_init(struct agents *A, const struct exp_topology *t, const char *token);
void agents_free(struct agents *A);
/*
 * Perform c concurrently (one curl multi handle; every request leaves
 * before the first answer is awaited) and fill its replies. 0, or -ENOMEM
 * (then nothing was sent). Free with agent_call_free().
 */
int agents_call(const struct agents *A, struct agent_call *c);
void agent_call_free(struct agent_call *c);

/* ---- fault_plan.c --------------------------------------------------------- */

enum fstate_kind { FS_PENDING, FS_ACTIVE, FS_HEALED };

/* One fault of the experiment as the run carries it out. */
struct fstate {
    const struct exp_fault *f;
    json_t **specs; /* per affected host (same order as hosts) */
    size_t *hosts;  /* topology host indexes the fault is sent to */
    size_t nh;
    unsigned needs; /* enum inj_cap bits */
    char scope[128];
    int state;
    int64_t apply_sent, apply_done, heal_sent, heal_done, last_renew;
    json_t *agents; /* per agent: {host, status, apply_start_ns, apply_end_ns, error} */
    char error[256];
    char healed_by[96]; /* "guard <name>" when a guard healed it early; "" otherwise */
};

/*
 * The plan of every fault of exp: which hosts get it and the injector spec
 * for each, checked with the injector's own parser (which also says which
 * kernel features it needs). *fs is an array of exp->n_faults; free with
 * fault_plan_free(). 0, or -EINVAL with "file:line:col: fault fN (kind): why".
 */
int fault_plan_build(const struct experiment *exp, struct fstate **fs, struct fl_err *err);
/*
 * Process faults name the target's process on each host: ask the launcher
 * now that it runs. A fault with its own service: keeps it.
 */
int fault_plan_process_targets(const struct experiment *exp, struct fstate *fs, size_t n,
                               const struct fl_target_ops *launcher, void *tstate,
                               struct fl_err *err);
void fault_plan_free(struct fstate *fs, size_t n);

/* ---- the run's state (run.c) ---------------------------------------------- */

struct run {
    const struct experiment *exp;
    const struct run_opts *o;
    char out[PATH_MAX];
    char labdir[PATH_MAX];
    struct lab *lab;
    char *token; /* staging: --token-file's token (agent_token.h; wiped at free) */
    struct agents agents;
    struct fstate *fs;
    size_t nfs;
    int target_port;
    const char *agent_bin, *target_bin;
    char agent_buf[PATH_MAX], target_buf[PATH_MAX];
    /* every kind of target: a launcher (targets/services) starts it in the lab */
    const struct fl_target_ops *launcher;
    void *tstate;
    json_t *tstatus; /* the launcher's status after settling (ground truth) */
    struct fl_target_host *thosts;
    char (*taddr)[64];
    const struct fl_driver_ops *drv;
    /* scheduler */
    pthread_t sched;
    bool sched_started;
    atomic_int sched_quit;
    int64_t t0; /* workload start (CLOCK_MONOTONIC) */
    int64_t last_health;
    pthread_mutex_t mu; /* harness error, fault states read by the progress callback */
    bool harness_failed;
    char harness_err[FL_ERR_MAX];
    bool settled;
    json_t *durations;
    /* what the phases produce */
    struct fl_err err;
    struct vfy_config vcfg;
    uint64_t *conflicts; /* the target's conflict feed (written values), for conflict_feed */
    size_t nconflicts;
    struct vfy_results vres;
    struct hist hist;
    struct hist_faults hf;
    struct wl_config wc;
    struct wl_stats ws;
    bool workload_ran, verified;
    int code;                /* FL_EXIT_* so far */
    char reason[FL_ERR_MAX]; /* why, when code is an error */
    char started[64];        /* wall clock at the start, ISO 8601 */
    int64_t t_start;
    int64_t t_start_wall; /* the same moment on the wall clock (ns): the agents' audit since */
    int64_t t_agents;     /* when the agents were started (agents_ready duration) */
    json_t *report;       /* report.json, once written */
    json_t *plan;         /* --dry-run: plan.json (dry_run.c) */
    /* guards (guard.c): their state, the trip flag the scheduler heals on, when it healed */
    struct guards *guards;
    atomic_int guard_trip;
    int64_t guard_healed_at;
};

/* ---- run_state.c: shared by every file above ---------------------------- */

/* Record the first harness error (stops the workload). Thread-safe. */
void run_harness_fail(struct run *R, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A harness error or a signal: the run unwinds. */
bool run_stopping(struct run *R);
/* Record that the run cannot go on: code and the reason (first wins). Returns -1. */
int run_fail(struct run *R, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* durations_ms[key] = ns in ms. */
void run_duration(struct run *R, const char *key, int64_t ns);
/* How many faults are applied now. */
int run_active_faults(struct run *R);

/* ---- audit_copy.c: each agent's audit entries of the run, into the run folder ---- */

/* GET /v1/audit?since=<run start> of every live agent -> out/audit-<host>.jsonl (best effort). */
void outputs_audit(struct run *R);

/* ---- dry_run.c: the phases of --dry-run that a real run does not have ---- */

/* The plan instead of the workload: every fault resolved, printed; applies counted. */
int dry_plan(struct run *R);
/* plan.json and the dry run's last line. */
int dry_outputs(struct run *R);

/* ---- bringup.c: the phases `run` and `lab up` share ---------------------- */

/* Find faultline-agent (and faultline-refstore for a refstore target). */
int bringup_find_bins(struct run *R, bool need_target, struct fl_err *err);
/* Build the lab (err: "lab: ..."); the agents' token is the lab's. */
int bringup_lab(struct run *R, const char *labdir, bool detach, struct fl_err *err);
/* Start an agent in every host (logs in dir), enter the control namespace. */
int bringup_agents_start(struct run *R, const char *dir, bool allow_any, struct fl_err *err);
/* Every agent answers (bounded), and has the kernel features its faults need. */
int bringup_agents_ready(struct run *R, int64_t timeout_ns, struct fl_err *err);
/* Start the target through its launcher in the lab's hosts. */
int bringup_target(struct run *R, struct fl_err *err);
/* Stop the target (if started) and forget its hosts. */
void bringup_target_stop(struct run *R);
/* The target's port (target.port, or refstore's default). */
int bringup_target_port(const struct experiment *exp);
/* The address of c without its prefix length. */
void bringup_addr(const struct fl_cidr *c, char *buf, size_t len);

/* ---- staging.c: the service already runs on the listed hosts -------------- */

/*
 * Add region ri's endpoints for the target's kind from the hosts' data
 * addresses (refstore, http: one per host; redis-sentinel: the sentinel
 * list, the region's first; etcd: the region's members). 0 or -errno.
 */
int staging_endpoints(struct run *R, struct wl_config *wc, size_t ri, struct fl_err *err);
/* Wait (bounded) until the service answers a read through every endpoint. 0 or -ETIMEDOUT. */
int staging_target_ready(struct run *R, int64_t timeout_ns, struct fl_err *err);

/* ---- scheduler.c ---------------------------------------------------------- */

/* Start the scheduler thread (t0: the workload's start). 0 or -errno. */
int sched_start(struct run *R);
/* Stop and join it (no-op when not running). */
void sched_stop(struct run *R);
/* Heal every active fault; then revert-all on every live agent (belt and braces). */
void sched_heal_everything(struct run *R);

/* ---- outputs.c ------------------------------------------------------------ */

/* The timeline of applied faults for the verifiers (once). */
void outputs_faults_timeline(struct run *R);
/*
 * history.jsonl, faults.jsonl, report.json into R->out, the summary on
 * stderr; *report gets the report object (new reference, may be NULL).
 */
void outputs_write(struct run *R, json_t **report);
/* junit.xml in dir from the reports of every experiment (NULL entries skipped). */
int outputs_junit(const char *dir, json_t *const *reports, size_t n, struct fl_err *err);

#endif
