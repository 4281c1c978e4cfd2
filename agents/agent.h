/*
 * faultline-agent internals: the configuration, the agent's state (one
 * injector context, the leases of the faults it applied, metrics) and the
 * operations the HTTP layer calls. The HTTP layer (api.c) only parses and
 * answers; every change of kernel state goes through the agent_* functions in
 * agent.c, which hold the one lock around the injector (the injector context
 * is not thread-safe) and the lease table. The lease thread (lease.c) reverts
 * faults whose lease ran out.
 *
 * Files:
 *   main.c     command line, start-up order, signals, shutdown
 *   config.c   options, token and TLS files, allowlist / control checks
 *   agent.c    apply / renew / revert / list under the lock; leases; metrics
 *   api.c      libmicrohttpd handler: routing, auth, bodies, JSON answers
 *   capture.c  libpcap captures under the state directory
 *   devguard.c device faults never on the control channel's interfaces
 *   procpolicy.c  process allowlist, configured restart commands, the injector's guard
 *   priv.c     capability and no_new_privs drop
 *   audit.c    the append-only audit trail (audit.jsonl), rotated by size
 *
 * Halt: POST /v1/halt reverts every fault and sets a flag (persisted as
 * <state-dir>/halted, so a restart stays halted) under which apply, renew and
 * captures are refused with 409 until POST /v1/resume.
 */
#ifndef FAULTLINE_AGENT_H
#define FAULTLINE_AGENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <jansson.h>

#include "faultline/cidr.h"
#include "faultline/err.h"
#include "faultline/inject.h"
#include "faultline/token.h"

#include "audit.h"

#define AGENT_VERSION        "0.1.0"
#define AGENT_TOKEN_MIN      FL_TOKEN_MIN /* shortest bearer token accepted */
#define AGENT_TOKEN_MAX      FL_TOKEN_MAX /* longest token file content */
#define AGENT_BODY_MAX       (64 * 1024)  /* request bodies above this: 413 */
#define AGENT_TTL_MIN_MS     100          /* shortest lease */
#define AGENT_TTL_MAX_MS     86400000LL   /* longest lease: one day */
#define AGENT_FAULTS_MAX     1024         /* active faults per agent */
#define AGENT_IFNAME_MAX     16
#define AGENT_PER_IP_DEFAULT 32 /* connections per client address */
/* GnuTLS priorities: TLS 1.2 and 1.3 only, the library's NORMAL cipher choice. */
#define AGENT_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
/* Default state directory: tmpfs, it lives exactly as long as the faults it journals. */
#define AGENT_STATE_DIR_DEFAULT "/run/faultline-agent"
#define AGENT_REASON_MAX        256 /* halt / resume reasons, bytes */

/*
 * One allowed process target: "unit", "pidfile" or "match" and its exact
 * value, with the restart command the agent runs for it (argv, or NULL).
 */
struct agent_proc_rule {
    char type[8];
    char *value;
    json_t *restart;
};

struct agent_config {
    /* --listen ADDR:PORT */
    const char *listen;
    struct sockaddr_storage listen_addr;
    socklen_t listen_len;
    /* --token-file FILE, loaded by agent_config_load (wiped on free) */
    const char *token_file;
    char *token;
    size_t token_len;
    /* --state-dir DIR: journal under DIR/journal, captures under DIR/captures */
    const char *state_dir;
    /* --allow CIDR | --allow dev:IFNAME (repeatable) */
    struct fl_cidr *allow;
    size_t n_allow;
    char (*allow_devs)[AGENT_IFNAME_MAX];
    size_t n_allow_devs;
    /* --control CIDR (repeatable): exempt from every fault, refused in specs */
    struct fl_cidr *control;
    size_t n_control;
    /* --allow-process TYPE:VALUE and --restart-cmd TYPE:VALUE=ARGV (repeatable) */
    struct agent_proc_rule *procs;
    size_t n_procs;
    /* --process-file FILE: more rules, re-read at every process fault (may not exist yet) */
    const char *process_file;
    /* --tls-cert / --tls-key, PEM text loaded by agent_config_load */
    const char *tls_cert, *tls_key;
    char *tls_cert_pem, *tls_key_pem;
    /*
     * --tls-client-ca FILE: every request must come with a client
     * certificate that verifies against these CA(s) (api.c); PEM text
     * loaded (and reloaded on SIGHUP) with the server's pair.
     */
    const char *tls_client_ca;
    char *tls_client_ca_pem;
    unsigned per_ip_limit;    /* --per-ip-limit N: connections per client address */
    bool private_metrics;     /* --private-metrics: per-fault series only with the token */
    bool check_only;          /* -n */
    int verbose;              /* -v */
    unsigned threads;         /* --threads N: HTTP worker threads */
    uint64_t audit_max_bytes; /* --audit-max-bytes N: rotate audit.jsonl past this */
};

/*
 * Parse the command line into cfg (pointers into argv are kept). Returns 0,
 * 1 when --help was printed, or -EINVAL with err set. cfg is zeroed first;
 * free with agent_config_free().
 */
int agent_config_parse(struct agent_config *cfg, int argc, char **argv, struct fl_err *err);
/* Read the token file (and TLS PEM files) into cfg. 0 or negative errno with err. */
int agent_config_load(struct agent_config *cfg, struct fl_err *err);
/*
 * Read the TLS certificate and key (and the --tls-client-ca bundle) again
 * (SIGHUP). On success the new PEM text replaces the old in cfg (the old is
 * wiped and freed); on error cfg is unchanged. 0 or negative errno with err.
 */
int agent_config_reload_tls(struct agent_config *cfg, struct fl_err *err);
/* Free what parse/load allocated; the token is wiped first. Accepts NULL. */
void agent_config_free(struct agent_config *cfg);
/* Usage text for --help and usage errors. */
void agent_usage(FILE *fp);
/*
 * Check a fault against the allowlist and the control network: every CIDR it
 * names must lie inside an --allow prefix and overlap no --control prefix,
 * every interface must be allowed; a fault naming nothing (a host-wide
 * fault) needs an --allow of 0.0.0.0/0 or ::/0. Returns 0 or -EPERM with err.
 */
int agent_policy_check(const struct agent_config *cfg, const struct inj_fault *f,
                       struct fl_err *err);
/*
 * The process policy: the spec (a canonical process fault) must name a
 * target listed by --allow-process or the --process-file, never a protected
 * pid or unit, and carry no restart_cmd but the one configured for it.
 * Checked on apply and again before a revert starts anything (journal
 * replay at start-up included). 0 or -EPERM with err.
 */
int agent_process_check(const struct agent_config *cfg, const json_t *spec, bool revert,
                        struct fl_err *err);
/*
 * A process fault whose action kills and that names no restart_cmd gets the
 * configured one: *f is replaced by a new fault (the old one freed). 0 or
 * negative errno with err (*f unchanged).
 */
int agent_process_fill(const struct agent_config *cfg, struct inj_fault **f, struct fl_err *err);
/* --allow-process / --restart-cmd values into cfg (procpolicy.c). 0 or -EINVAL with err. */
int agent_config_add_process(struct agent_config *cfg, const char *s, struct fl_err *err);
int agent_config_add_restart(struct agent_config *cfg, const char *s, struct fl_err *err);
void agent_config_free_processes(struct agent_config *cfg);
/* Install the process guard of the injector (faultline/inject_process.h) for cfg. */
void agent_process_guard_install(const struct agent_config *cfg);
/* True when this agent may ever signal a process (CAP_KILL is kept). */
bool agent_process_enabled(const struct agent_config *cfg);

/*
 * Device faults (netem/tbf kinds, link-down) on an interface that carries the
 * control channel (holds the --listen address, or routes a --control prefix)
 * are refused: link-down always, qdisc faults unless the injector exempts the
 * control prefixes and the requesting client (NULL: not known) is inside
 * them (devguard.c). Looks at the kernel. 0 or -EPERM with err.
 */
int agent_device_check(const struct agent_config *cfg, const struct inj_fault *f,
                       const struct sockaddr *client, struct fl_err *err);
/* Start-up: say loudly when there is no --control, log the control interfaces. */
int agent_control_warn(const struct agent_config *cfg);

/* Constant-time comparison of a presented token with the configured one. */
bool agent_token_equal(const char *want, size_t want_len, const char *got, size_t got_len);
/* Parse "a.b.c.d:port" or "[v6]:port" (numeric only). 0 or -EINVAL with err. */
int agent_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len,
                     struct fl_err *err);

/* One lease: a fault the agent applied and will revert unless renewed. */
struct agent_lease {
    char id[INJ_ID_MAX + 1];
    char kind[32];
    int64_t ttl_ms;
    int64_t expires_ns;     /* CLOCK_MONOTONIC */
    int64_t apply_start_ns; /* CLOCK_MONOTONIC, around inj_apply */
    int64_t apply_end_ns;
    char spec_sha256[AGENT_SHA256_HEX]; /* of the canonical spec, for the audit trail */
};

struct agent_metrics {
    uint64_t applied, reverted, expired, apply_failed;
    uint64_t apply_ns_sum, apply_count;
    uint64_t requests[600]; /* by status code */
};

struct agent {
    const struct agent_config *cfg;
    pthread_mutex_t lock; /* guards everything below and every inj_* call */
    pthread_cond_t cond;  /* lease changes and stop, for the lease thread */
    struct inj_ctx *inj;
    struct agent_lease *leases;
    size_t n_leases;
    bool stopping;
    bool lease_thread_running;
    pthread_t lease_thread;
    struct agent_metrics m;
    int64_t started_ns;
    json_t *caps; /* capability probe at start-up */
    /* /metrics text, at most one build (and netlink dump) per second and variant */
    pthread_mutex_t mlock;
    char *mcache[2];
    int64_t mcache_ns[2];
    uint64_t mcache_key[2][6];
    struct agent_audit *audit; /* NULL: no audit trail (unit tests) */
    /* Halt (under lock): refuse apply / renew / captures until resumed. */
    bool halted;
    int64_t halted_wall_ns;
    char halted_by[64];
    char halt_reason[AGENT_REASON_MAX + 1];
};

/* Result of an apply: the host's timestamps and the lease. */
struct agent_apply_result {
    int created; /* 1: applied now (201); 0: already there, lease renewed (200) */
    struct agent_lease lease;
};

/*
 * Initialise a (lock, condvar) around an open injector context (ownership of
 * inj passes to a). Does not start the lease thread.
 */
int agent_init(struct agent *a, const struct agent_config *cfg, struct inj_ctx *inj);
/* Stop the lease thread, close the injector, free leases. Faults stay applied. */
void agent_fini(struct agent *a);
/* Start / stop the thread that reverts expired leases. */
int agent_lease_start(struct agent *a);
void agent_lease_stop(struct agent *a);

/*
 * Apply fault f as id with a lease of ttl_ms. Policy is checked first (-EPERM);
 * same id and equal spec renews the lease (res->created = 0); same id and a
 * different spec: -EEXIST; too many faults: -ENOSPC; halted: -ECANCELED
 * (err says since when and by whom); injector errors as inj_apply. On error
 * nothing changed. A success, and a failure answered with 5xx, are written
 * to the audit trail here, under the lock (so its order is the order of the
 * operations); a 4xx refusal is the HTTP layer's to record.
 */
int agent_fault_apply(struct agent *a, const char *id, const struct inj_fault *f, int64_t ttl_ms,
                      const struct sockaddr *client, struct agent_apply_result *res,
                      struct fl_err *err);
/*
 * Renew id's lease (ttl_ms <= 0: its previous TTL). 0, -ENOENT, or -ECANCELED
 * while halted. *out filled on success. client (may be NULL) goes into the
 * audit trail, as for every call below.
 */
int agent_fault_renew(struct agent *a, const char *id, int64_t ttl_ms,
                      const struct sockaddr *client, struct agent_lease *out, struct fl_err *err);
/* Revert id and drop its lease. 0, -ENOENT when the agent holds no such fault, or an error. */
int agent_fault_revert(struct agent *a, const char *id, const struct sockaddr *client,
                       struct fl_err *err);
/*
 * Revert every fault (journal order) and drop all leases. *n = how many there
 * were. client NULL: the agent's own shutdown.
 */
int agent_revert_all(struct agent *a, const struct sockaddr *client, size_t *n, struct fl_err *err);
/*
 * Halt: set the flag, persist it in <state-dir>/halted, revert every fault.
 * Idempotent (a second halt keeps the first one's time and caller, and
 * reverts whatever is there). reason may be NULL. *n = faults reverted.
 * Returns 0; on a failed revert or a failed write of the file the agent is
 * halted all the same (in memory) and the error is returned.
 */
int agent_halt(struct agent *a, const struct sockaddr *client, const char *reason, size_t *n,
               struct fl_err *err);
/* Resume: remove <state-dir>/halted and clear the flag. 0 or negative errno (still halted). */
int agent_resume(struct agent *a, const struct sockaddr *client, const char *reason,
                 struct fl_err *err);
/*
 * Start-up: halted again when <state-dir>/halted exists (a file that cannot
 * be read still halts, with "unknown" caller and the file's time). Returns
 * true when halted.
 */
bool agent_halt_load(struct agent *a);
/*
 * The halt state: false, or true with msg = "halted since <ISO> by <caller>:
 * POST /v1/resume accepts faults again" and *since_wall_ns (either may be NULL).
 */
bool agent_halted(struct agent *a, char *msg, size_t len, int64_t *since_wall_ns);
/* HTTP status for an error code from agent.c / the injector (400, 403, 404, 409, ...). */
unsigned agent_status_of(int code);
/*
 * Active faults as a JSON array (new reference): the injector's list with
 * each entry's lease (ttl_ms, expires_in_ms, apply_start_ns, apply_end_ns).
 * id non-NULL: only that fault (an empty array when absent).
 */
int agent_list(struct agent *a, const char *id, json_t **out, struct fl_err *err);
/* Number of active leases. */
size_t agent_active(struct agent *a);
/* Count a response status. */
void agent_count_status(struct agent *a, unsigned status);
/*
 * Prometheus text exposition of the metrics (malloc'd, caller frees);
 * with_faults adds the per-fault series (ids and kinds). Cached for a second
 * unless a fault was applied, reverted or expired meanwhile.
 */
char *agent_metrics_text(struct agent *a, bool with_faults);

/* ---- api.c ---- */
struct MHD_Daemon;
/* Start libmicrohttpd on the listening socket fd. NULL with err on failure. */
struct MHD_Daemon *agent_api_start(struct agent *a, int fd, struct fl_err *err);
/* Stop serving; waits for requests in flight. Accepts NULL. */
void agent_api_stop(struct MHD_Daemon *d);

/* ---- capture.c ---- */
/* True when the agent was built with libpcap. */
bool agent_capture_supported(void);
/*
 * Start a capture from a JSON request {"id","dev","filter","max_packets",
 * "max_bytes","duration_ms"}; answers with a JSON object (new reference) in
 * *out. Returns an HTTP status.
 */
unsigned agent_capture_start(struct agent *a, const json_t *req, json_t **out);
/* Stop capture id; HTTP status, *out as above. */
unsigned agent_capture_stop(struct agent *a, const char *id, json_t **out);
/* List captures (new reference). */
json_t *agent_capture_list(struct agent *a);
/* Stop every capture (shutdown). */
void agent_capture_stop_all(struct agent *a);

/* ---- priv.c ---- */
/*
 * Keep only CAP_NET_ADMIN, CAP_NET_RAW and (keep_kill) CAP_KILL (effective, permitted and
 * bounding sets), clear inheritable and ambient sets, set no_new_privs. Call
 * from the main thread before any other thread exists: capabilities are
 * per-thread and new threads inherit them. 0 or negative errno with err.
 */
int agent_priv_drop(bool keep_kill, struct fl_err *err);

#endif
