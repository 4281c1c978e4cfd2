/*
 * Internals shared by the real-service launchers (redis.c, etcd.c,
 * postgres.c): run a Debian-packaged server inside a lab host's network
 * namespace (fork, setns, optional setuid, exec; stdout and stderr to a log
 * file), stop it with its whole process group, check that a package is
 * installed, read the tail of a server's log for error messages, and read
 * the kind-specific options of the experiment's target section.
 * Not a public header: only targets/services/ includes it.
 */
#ifndef FAULTLINE_SVC_H
#define FAULTLINE_SVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

struct fl_err;
struct fl_target_ops;

/* The launchers of this folder (fl_target_find's table in target.c). */
extern const struct fl_target_ops fl_target_refstore;
extern const struct fl_target_ops fl_target_redis_sentinel;
extern const struct fl_target_ops fl_target_etcd;
extern const struct fl_target_ops fl_target_postgres;

/* One server process started by a launcher. */
struct svc_proc {
    pid_t pid;     /* also its process group (setsid); 0: not running */
    char log[512]; /* stdout+stderr of the process */
    char what[96]; /* "redis-server on west-z1-h1", for errors */
};

/*
 * Check that bin is executable; if not, -ENOENT with one line naming the
 * Debian package to install.
 */
int svc_need(const char *bin, const char *pkg, struct fl_err *err);

/*
 * Start argv (argv[0] a full path) inside network namespace netns (NULL: the
 * caller's own), as user (NULL: unchanged), in its own session, with env
 * entries "K=V" added (NULL-terminated list, may be NULL), stdout/stderr
 * appended to p->log. Fills p->pid. 0 or negative errno (exec failures are
 * reported by the child through a pipe, so a bad path is an error here).
 */
int svc_spawn(struct svc_proc *p, const char *netns, const char *user, char *const argv[],
              char *const env[], struct fl_err *err);

/* Is p still running? Reaps it if it exited; *status gets its wait status. */
bool svc_alive(struct svc_proc *p, int *status);

/*
 * Stop p's process group: SIGTERM, then SIGKILL after grace_ns; reaps the
 * leader and kills stragglers of the group. Safe on a stopped proc.
 */
void svc_stop(struct svc_proc *p, int64_t grace_ns);

/*
 * Run argv to completion (as svc_spawn) with a deadline. 0 when it exited
 * 0; otherwise an error naming what and an excerpt of its log.
 */
int svc_run(const char *what, const char *netns, const char *user, char *const argv[],
            char *const env[], const char *log, int64_t timeout_ns, struct fl_err *err);

/* The last bytes of a log file, newlines as " | ", into buf. Returns buf. */
char *svc_log_tail(const char *path, char *buf, size_t len);

/*
 * Can user (with its groups) reach path: search permission on every
 * directory from / down to path itself (ACLs aside)? 0, or -EACCES with err
 * naming the first directory that stops it, -ENOENT for a missing path or
 * user.
 */
int svc_user_can_reach(const char *path, const char *user, struct fl_err *err);

/*
 * Where a server that runs as user keeps its state (data directories,
 * config): run_dir itself when user can reach it; otherwise (run_dir inside
 * a private directory, as `mktemp -d` and many CI workspaces make) a
 * directory made for this run, /var/tmp/faultline-<kind>-XXXXXX, mode 0700
 * and owned by user, also copied into priv (the launcher removes it when it
 * stops; "" when run_dir is used). Logs stay in run_dir: the launcher opens
 * them before dropping privileges. out gets the directory. 0 or -errno.
 */
int svc_state_dir(const char *kind, const char *run_dir, const char *user, char *out, size_t outlen,
                  char *priv, size_t privlen, struct fl_err *err);

/* rm -rf path (only below a directory the launcher made). Ignores absence. */
void svc_rmtree(const char *path);

/* Write a file (truncating). 0 or -errno. */
int svc_write_file(const char *path, const char *text, struct fl_err *err);

/* Sleep for ns nanoseconds. */
void svc_sleep_ns(int64_t ns);
/* Decimal digits of a port number (for sizing endpoint strings at validate time). */
size_t svc_port_digits(long port);

/* Target options: integer milliseconds / unsigned / string / bool with defaults. */
int64_t svc_opt_ms(const json_t *cfg, const char *key, int64_t def);
int64_t svc_opt_uint(const json_t *cfg, const char *key, int64_t def);
const char *svc_opt_str(const json_t *cfg, const char *key, const char *def);
bool svc_opt_bool(const json_t *cfg, const char *key, bool def);

#endif
