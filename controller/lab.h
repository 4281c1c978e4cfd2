/*
 * The built-in lab: an experiment's topology built on this one machine as
 * sealed network namespaces. One namespace per host (fl-<id>-<host>), a
 * router namespace (fl-<id>-router) holding one bridge per zone (the zone's
 * /27 with its gateway address) and forwarding between them, and a control
 * namespace (fl-<id>-ctl) holding the control network 198.19.0.0/24 on a
 * bridge (the controller is 198.19.0.1, every host has a veth "ctl0" with
 * its control address) plus the clients' network 198.18.250.0/24 on a veth
 * to the router, so that the workload's client sockets cross the data
 * network like any other client and are not exempt from faults. No
 * namespace has a default route or a link to the root namespace: nothing in
 * the lab can reach outside it.
 *
 * Namespaces are created with `ip netns add`; links, addresses and routes
 * with one `ip -n NS -batch FILE` per namespace (the batch files stay in the
 * run directory, so a lab can be rebuilt by hand). The lab is recorded in
 * /run/faultline/labs/<id>.json so that `faultline lab down` finds it.
 * Teardown kills every process whose network namespace is one of the lab's
 * (found through /proc, like `ip netns pids`) and deletes the namespaces,
 * which removes every link, address, route, nf_tables table and qdisc in
 * them. Lab functions that create or delete kernel objects need root.
 */
#ifndef FAULTLINE_LAB_H
#define FAULTLINE_LAB_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "experiment.h"
#include "faultline/err.h"

#define LAB_ID_LEN      6                     /* hex characters of the short run id */
#define LAB_NS_MAX      160                   /* network namespace names */
#define LAB_STATE_DIR   "/run/faultline/labs" /* <id>.json, and <id>/ for `lab up` */
#define LAB_RUN_DIR     "/run/faultline"      /* root-owned; private tmp-XXXXXX dirs */
#define LAB_CLIENT_NET  "198.18.250.0/24"     /* the workload's clients */
#define LAB_CLIENT_ADDR "198.18.250.1"        /* the controller's client address */
#define LAB_CLIENT_GW   "198.18.250.254"      /* the router's leg on the clients' network */
#define LAB_DATA_NET    "198.18.0.0/16"       /* every data address of the lab */
#define LAB_DATA_DEV    "data0"               /* a host's data interface */
#define LAB_CTL_DEV     "ctl0"                /* a host's control interface */
#define LAB_MAX_PROCS   1024
#define LAB_DIR_MAX     2048 /* longest run directory path */

struct lab {
    char id[LAB_ID_LEN + 1];
    char router_ns[LAB_NS_MAX];
    char ctl_ns[LAB_NS_MAX];
    char (*host_ns)[LAB_NS_MAX]; /* one per topology host, same order */
    size_t n_hosts;
    char (*agent_url)[EXP_URL_MAX]; /* per host once its agent started (state file: halt --lab) */
    /* Client namespaces of the workload's placed groups, one per region or zone used. */
    char (*grp_ns)[LAB_NS_MAX];
    long (*grp_place)[2]; /* region index, zone index (-1: the region's own client scope) */
    size_t n_grp;
    char dir[LAB_DIR_MAX];     /* run directory: batches, token, agent state */
    char state_file[PATH_MAX]; /* LAB_STATE_DIR/<id>.json */
    char token_file[PATH_MAX]; /* the agents' bearer token (0600) */
    char token[65];
    pid_t procs[LAB_MAX_PROCS]; /* processes started in the lab */
    char proc_names[LAB_MAX_PROCS][64];
    size_t n_procs;
    bool detach;    /* lab up: children survive the controller */
    int orig_netns; /* fd of the namespace the controller started in, -1 */
    bool in_ctl;    /* the calling thread is in the control namespace */
    int64_t up_ns;  /* time lab_up took */
    int64_t down_ns;
};

/*
 * Build the lab for exp (a lab topology) with its files under dir (created;
 * NULL: LAB_STATE_DIR/<id>, which `lab down` removes).
 * On success *out is a new lab the caller tears down with lab_down() and
 * frees with lab_free(). On failure everything created so far is removed.
 * Returns 0 or a negative errno with err.
 */
int lab_up(const struct experiment *exp, const char *dir, bool detach, struct lab **out,
           struct fl_err *err);

/*
 * Start a program in namespace ns (setns in the child), stdin /dev/null,
 * stdout and stderr appended to log_path, in its own process group. The
 * child is recorded in the lab (and in the state file) under name. Returns
 * 0 and *pid, or a negative errno with err. Call from the main thread.
 */
int lab_spawn(struct lab *lab, const char *ns, const char *name, const char *log_path,
              char *const argv[], pid_t *pid, struct fl_err *err);

/*
 * Start faultline-agent (binary agent_bin) in every host namespace on the
 * host's control address and port 7070, with the lab's token, a state dir
 * under the lab's dir, --control 198.19.0.0/24 and --allow for the data
 * network and the data interface (and --process-file when allow_any). Logs go to
 * logdir/agent-<host>.log. Does not wait for them; see the run loop.
 */
int lab_start_agents(struct lab *lab, const struct experiment *exp, const char *agent_bin,
                     const char *logdir, bool allow_any, struct fl_err *err);

/*
 * The process allowlist of host's agent (started with allow_any: its
 * --process-file, <dir>/processes-<host>.json): {"processes": processes},
 * each entry a process fault's target ({"pidfile": P, "restart_cmd": [...]},
 * {"match": S}), written (mode 0600, replaced atomically) once the target
 * runs. 0 or -errno with err.
 */
int lab_write_process_file(struct lab *lab, const char *host, json_t *processes,
                           struct fl_err *err);

/*
 * The client namespace of a group placed in region (zone < 0) or in that
 * region's zone, or NULL when the lab has none (docs/internals/lab.md,
 * "Client groups").
 */
const char *lab_group_ns(const struct lab *lab, size_t region, long zone);

/* Move the calling thread into the control namespace (threads it creates follow). */
int lab_enter_control(struct lab *lab, struct fl_err *err);
/* Move the calling thread back to the namespace it came from. */
void lab_leave_control(struct lab *lab);

/* Is pid (started by lab_spawn) still running? Reaps it if it exited. */
bool lab_proc_alive(struct lab *lab, pid_t pid);

/*
 * Tear the lab down: SIGTERM to every process started in it (agents revert
 * their faults), up to grace_ms for them to exit, SIGKILL to whatever still
 * runs in a lab namespace, delete every namespace, remove the state file.
 * Safe to call twice. Returns 0 or the first error (teardown goes on past
 * errors).
 */
int lab_down(struct lab *lab, int grace_ms, struct fl_err *err);

/* Free the struct (does not tear down). Accepts NULL. */
void lab_free(struct lab *lab);

/*
 * Tear down a lab by id from its state file, or every namespace named
 * fl-<id>-* when the state file is gone. Returns 0, -ENOENT when there is no
 * such lab, or another negative errno with err.
 */
int lab_down_id(const char *id, struct fl_err *err);

/* Ids of the labs in LAB_STATE_DIR (malloc'd array of malloc'd strings). */
int lab_list(char ***ids, size_t *n);

/*
 * When pid started (clock ticks since boot, /proc/<pid>/stat field 22), -1
 * when there is no such process or only its zombie. The state file records
 * it beside the controller's pid, so that a reused pid is never taken for
 * the controller.
 */
long long lab_proc_start(pid_t pid);

/*
 * Make a lab's run directory dir (mode 0700), where root-run files go
 * (batches, the emergency script, agent state). Refused with a precise
 * error, before anything is written: an existing dir (never reused), a
 * parent that is not a directory, is owned by another user than the
 * caller or root, or is writable by group or others without the sticky bit.
 */
int lab_dir_create(const char *dir, struct fl_err *err);
/* A fresh private directory (mkdtemp, 0700) under LAB_RUN_DIR into out. 0 or -errno. */
int lab_private_tmpdir(char *out, size_t len);

/*
 * Is lab id stale: its state file names a controller (not a detached `lab
 * up` / --keep-lab) that is no longer running (no such pid, a zombie, or a
 * process with another start time)? 1 stale (why says so), 0 not (or no
 * state file).
 */
int lab_stale(const char *id, char *why, size_t len);

/*
 * Last resort for a second Ctrl-C (called from the controller's signal
 * thread, never in signal context): SIGKILL every process
 * of the current lab and delete its namespaces (fork + exec of a prepared
 * `ip -batch`), remove the state file. Does nothing without a current lab.
 */
void lab_emergency_teardown(void);

/* The names of the lab's namespaces still present (newline-separated, malloc'd; "" none). */
char *lab_residue(const char *id);

#endif
