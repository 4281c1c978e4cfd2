/*
 * faultline-agent: the daemon on every test host. Start-up order is the
 * safety argument: check the configuration, lock the state directory, bind
 * the socket, open the injector and revert whatever a previous run left
 * behind (journal, then a sweep of faultline-owned kernel objects), drop
 * privileges, and only then listen and serve. SIGTERM/SIGINT stop serving,
 * revert every fault, and exit 0. -n checks the configuration and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "faultline/buf.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include "faultline/log.h"

/*
 * Create path 0700, or accept an existing one only when it is a real
 * directory (not a symlink) owned by this user and writable by nobody else:
 * the journal in it is replayed as root at the next start.
 */
static int mkdir_0700(const char *path, struct fl_err *err)
{
    struct stat st;

    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return fl_errf(err, -errno, "%s: %s", path, strerror(errno));
    if (lstat(path, &st) < 0)
        return fl_errf(err, -errno, "%s: %s", path, strerror(errno));
    if (S_ISLNK(st.st_mode))
        return fl_errf(err, -ELOOP, "%s: is a symbolic link; refusing it as state directory", path);
    if (!S_ISDIR(st.st_mode))
        return fl_errf(err, -ENOTDIR, "%s: not a directory", path);
    if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
        return fl_errf(err, -EPERM,
                       "%s: owned by uid %u with mode %03o; the state directory must belong to "
                       "the agent's user (uid %u) and be writable by nobody else (chmod 0700)",
                       path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 0777),
                       (unsigned)geteuid());
    /* Readable by others (a kubelet's hostPath is made 0755): the journal is nobody's business. */
    if ((st.st_mode & 077) != 0 && chmod(path, 0700) < 0)
        return fl_errf(err, -errno, "%s: chmod 0700: %s", path, strerror(errno));
    if (access(path, W_OK | X_OK) < 0)
        return fl_errf(err, -errno, "%s: not writable: %s", path, strerror(errno));
    return 0;
}

/* Create DIR, DIR/journal, DIR/captures; hold an exclusive lock on DIR/agent.lock. */
static int state_prepare(const struct agent_config *cfg, bool lock, int *lockfd, struct fl_err *err)
{
    char path[4096];
    int r, fd;

    if ((r = mkdir_0700(cfg->state_dir, err)) < 0)
        return r;
    snprintf(path, sizeof(path), "%s/journal", cfg->state_dir);
    if ((r = mkdir_0700(path, err)) < 0)
        return r;
    snprintf(path, sizeof(path), "%s/captures", cfg->state_dir);
    if ((r = mkdir_0700(path, err)) < 0)
        return r;
    if (!lock)
        return 0;
    snprintf(path, sizeof(path), "%s/agent.lock", cfg->state_dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return fl_errf(err, -errno, "%s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        r = errno == EWOULDBLOCK ? -EBUSY : -errno;
        close(fd);
        return fl_errf(err, r, "%s: another agent uses this state directory", path);
    }
    *lockfd = fd;
    return 0;
}

static int bind_socket(const struct agent_config *cfg, struct fl_err *err)
{
    int fd, one = 1;

    fd = socket(cfg->listen_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return fl_errf(err, -errno, "socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (cfg->listen_addr.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&cfg->listen_addr, cfg->listen_len) < 0) {
        int e = errno;

        close(fd);
        return fl_errf(err, -e, "bind %s: %s", cfg->listen, strerror(e));
    }
    return fd;
}

/*
 * The capability probe in a child of its own network namespace (as root an
 * unshare; otherwise a user namespace too, which a single-threaded child may
 * make), so that probe devices never appear where the agent works. Forked
 * before any thread exists. NULL when the child could not do it.
 */
static json_t *probe_private(const char *state_dir)
{
    char dir[4096], lockp[4200];
    struct fl_buf b;
    char chunk[4096];
    json_t *o = NULL;
    int p[2], st = 0;
    ssize_t n;
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) < 0)
        return NULL;
    pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return NULL;
    }
    if (pid == 0) {
        struct inj_config pc;
        struct inj_ctx *ctx = NULL;
        json_t *res = NULL;
        char *text;
        size_t len, off = 0;
        int rc = 1;

        close(p[0]);
        if (unshare(CLONE_NEWNET) < 0 && unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
            _exit(3);
        snprintf(dir, sizeof(dir), "%s/probe-XXXXXX", state_dir);
        if (mkdtemp(dir) == NULL)
            _exit(4);
        memset(&pc, 0, sizeof(pc));
        pc.state_dir = dir;
        if (inj_open(&pc, &ctx, NULL) == 0 && inj_probe(ctx, &res, NULL) == 0 && res != NULL) {
            text = json_dumps(res, JSON_COMPACT);
            len = text ? strlen(text) : 0;
            while (off < len) {
                n = write(p[1], text + off, len - off);
                if (n <= 0)
                    break;
                off += (size_t)n;
            }
            rc = text != NULL && off == len ? 0 : 1;
        }
        inj_close(ctx);
        snprintf(lockp, sizeof(lockp), "%s/.lock", dir);
        unlink(lockp);
        rmdir(dir);
        _exit(rc);
    }
    close(p[1]);
    fl_buf_init(&b, 1 << 20);
    while ((n = read(p[0], chunk, sizeof(chunk))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || fl_buf_add(&b, chunk, (size_t)n) < 0)
            break;
    }
    close(p[0]);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && b.p != NULL)
        o = json_loadb(b.p, b.len, 0, NULL);
    fl_buf_free(&b);
    return o;
}

/* The PEM text a daemon was started with: the server's pair and the client CA (may be NULL). */
struct tls_pem {
    char *cert, *key, *client_ca;
};

static void pem_get(const struct agent_config *cfg, struct tls_pem *p)
{
    p->cert = cfg->tls_cert_pem;
    p->key = cfg->tls_key_pem;
    p->client_ca = cfg->tls_client_ca_pem;
}

static void pem_set(struct agent_config *cfg, const struct tls_pem *p)
{
    cfg->tls_cert_pem = p->cert;
    cfg->tls_key_pem = p->key;
    cfg->tls_client_ca_pem = p->client_ca;
}

/* Free (the key wiped first) what p holds. */
static void pem_free(struct tls_pem *p)
{
    free(p->cert);
    if (p->key != NULL) {
        explicit_bzero(p->key, strlen(p->key));
        free(p->key);
    }
    free(p->client_ca);
    memset(p, 0, sizeof(*p));
}

/* Copies of in (a NULL stays NULL). 0, or -ENOMEM with out all NULL. */
static int pem_dup(const struct tls_pem *in, struct tls_pem *out)
{
    memset(out, 0, sizeof(*out));
    if ((in->cert != NULL && (out->cert = strdup(in->cert)) == NULL) ||
        (in->key != NULL && (out->key = strdup(in->key)) == NULL) ||
        (in->client_ca != NULL && (out->client_ca = strdup(in->client_ca)) == NULL)) {
        pem_free(out);
        return -ENOMEM;
    }
    return 0;
}

/* Put the previous PEM text back into cfg, freeing (and wiping) the current. */
static void tls_restore(struct agent_config *cfg, const struct tls_pem *old)
{
    struct tls_pem cur;

    pem_get(cfg, &cur);
    pem_free(&cur);
    pem_set(cfg, old);
}

/*
 * SIGHUP: read the certificate, key and client CA again and serve them from
 * now on, without a restart (which would revert every fault). The old daemon
 * stops accepting (MHD_quiesce_daemon), a new one takes its listening socket,
 * and the old one finishes the requests it has. On any error the old
 * certificate (and client CA) stays in service.
 */
static void reload_tls(struct agent_config *cfg, struct agent *a, struct MHD_Daemon **d)
{
    struct tls_pem old, copy;
    struct MHD_Daemon *nd;
    struct fl_err err;
    int lfd;

    fl_err_clear(&err);
    if (cfg->tls_cert == NULL) {
        log_info("SIGHUP: no TLS certificate configured; nothing to reload");
        return;
    }
    /* reload frees what cfg holds: give it copies, keep the originals for a fallback. */
    pem_get(cfg, &old);
    if (pem_dup(&old, &copy) < 0) {
        log_warnx("SIGHUP: keeping the old certificate: no memory");
        return;
    }
    pem_set(cfg, &copy);
    if (agent_config_reload_tls(cfg, &err) < 0) {
        log_warnx("SIGHUP: keeping the old certificate%s: %s",
                  cfg->tls_client_ca ? " and client CA" : "", err.msg);
        tls_restore(cfg, &old);
        return;
    }
    lfd = MHD_quiesce_daemon(*d);
    if (lfd < 0) {
        log_warnx("SIGHUP: cannot hand the socket over; keeping the old certificate");
        tls_restore(cfg, &old);
        return;
    }
    nd = agent_api_start(a, lfd, &err);
    if (nd == NULL) {
        log_warnx("SIGHUP: new certificate refused (%s); serving the old one", err.msg);
        tls_restore(cfg, &old);
        memset(&old, 0, sizeof(old));
        nd = agent_api_start(a, lfd, &err);
        if (nd == NULL) {
            log_warnx("SIGHUP: cannot serve again: %s", err.msg);
            return; /* *d stays the quiesced daemon; SIGTERM still reverts */
        }
    } else {
        log_info("SIGHUP: TLS certificate%s reloaded from %s%s%s; faults untouched",
                 cfg->tls_client_ca ? " and client CA" : "", cfg->tls_cert,
                 cfg->tls_client_ca ? " and " : "", cfg->tls_client_ca ? cfg->tls_client_ca : "");
    }
    agent_api_stop(*d);
    *d = nd;
    pem_free(&old);
}

static bool loopback(const struct agent_config *cfg)
{
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)&cfg->listen_addr;
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&cfg->listen_addr;

    if (cfg->listen_addr.ss_family == AF_INET)
        return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
    return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
}

/* One "sweep" audit entry per fault a previous run left in the journal. */
static void audit_sweep(struct agent_audit *au, json_t *list, int r, const struct fl_err *err)
{
    struct agent_audit_event ev = {.event = "sweep", .reverted = -1};
    char hash[AGENT_SHA256_HEX];
    json_t *e;
    size_t i;

    if (r < 0)
        ev.result = err->msg[0] ? err->msg : strerror(-r);
    json_array_foreach(list, i, e)
    {
        ev.id = json_string_value(json_object_get(e, "id"));
        ev.kind = json_string_value(json_object_get(e, "kind"));
        hash[0] = '\0';
        if (json_is_object(json_object_get(e, "spec")))
            agent_spec_sha256(json_object_get(e, "spec"), hash);
        ev.spec_sha256 = hash;
        agent_audit_write(au, &ev);
    }
    /* A failed sweep with nothing journaled is worth a line too. */
    if (r < 0 && json_array_size(list) == 0) {
        ev.id = ev.kind = ev.spec_sha256 = NULL;
        agent_audit_write(au, &ev);
    }
}

/* inj_recover, but only a sweep when the journal is empty; audited per fault. */
static int recover(struct inj_ctx *inj, struct agent_audit *au, struct fl_err *err)
{
    json_t *list = NULL;
    char **ids = NULL;
    size_t n = 0, i;
    int r;

    r = inj_ids(inj, &ids, &n);
    for (i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    if (r < 0 || n > 0) {
        log_info("start-up: reverting %zu journaled fault(s) left by a previous run", n);
        if (inj_list(inj, &list, NULL) < 0)
            list = NULL;
        r = inj_recover(inj, err);
    } else {
        r = inj_sweep(inj, err);
    }
    audit_sweep(au, list, r, err);
    json_decref(list);
    return r;
}

/* The daemon across its start-up phases; fd, lockfd -1 and pointers NULL until made. */
struct daemon {
    struct agent_config cfg;
    struct inj_ctx *inj; /* until agent_init takes it */
    struct MHD_Daemon *d;
    struct agent a;
    struct agent_audit audit; /* <state-dir>/audit.jsonl, opened before recovery */
    bool have_agent;
    int fd, lockfd;
    sigset_t set; /* the signals sigwait takes */
    char journal[4096];
};

/* Fewer malloc arenas, no SIGPIPE, and the stop/reload signals blocked for sigwait. */
static void process_setup(struct daemon *D)
{
    /* Fewer malloc arenas: the HTTP threads do little and RSS stays small. */
    mallopt(M_ARENA_MAX, 2);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&D->set);
    sigaddset(&D->set, SIGTERM);
    sigaddset(&D->set, SIGINT);
    sigaddset(&D->set, SIGHUP);
    /* Blocked before any thread exists: every thread inherits the mask. */
    pthread_sigmask(SIG_BLOCK, &D->set, NULL);
}

/* A halt persisted by a previous run holds: say so at start. */
static void log_halt_state(struct agent *a)
{
    char when[40];

    if (!agent_halt_load(a))
        return;
    log_warnx("start-up: HALTED since %s by %s%s%s: every fault, renewal and capture is refused "
              "(409) until POST /v1/resume",
              agent_iso_time(a->halted_wall_ns, when, sizeof(when)), a->halted_by,
              a->halt_reason[0] ? ": " : "", a->halt_reason);
}

/* Bind the socket, open the injector, revert what a previous run left, make the agent. */
static int open_and_recover(struct daemon *D, struct fl_err *err)
{
    struct inj_config icfg;
    int r;

    if ((D->fd = bind_socket(&D->cfg, err)) < 0)
        return D->fd;
    /* Before recovery, whose sweep goes into it. */
    if ((r = agent_audit_open(&D->audit, D->cfg.state_dir, D->cfg.audit_max_bytes, err)) < 0)
        return r;
    snprintf(D->journal, sizeof(D->journal), "%s/journal", D->cfg.state_dir);
    memset(&icfg, 0, sizeof(icfg));
    icfg.state_dir = D->journal;
    icfg.exempt = D->cfg.control;
    icfg.n_exempt = D->cfg.n_control;
    if ((r = inj_open(&icfg, &D->inj, err)) < 0)
        return r;
    /* Before the journal is replayed: a restart it names obeys today's policy. */
    agent_process_guard_install(&D->cfg);
    /* Before serving: whatever a previous run left behind goes. */
    if ((r = recover(D->inj, &D->audit, err)) < 0) {
        fl_err_prefix(err, "start-up recovery");
        return r;
    }
    agent_init(&D->a, &D->cfg, D->inj);
    D->a.audit = &D->audit;
    D->inj = NULL;
    D->have_agent = true;
    log_halt_state(&D->a);
    return 0;
}

/*
 * The capability probe runs once, now, while the agent can still make a
 * private network namespace for it; /v1/capabilities serves this result
 * and never probes (nor creates probe devices) again.
 */
static void probe_caps(struct daemon *D)
{
    struct agent *a = &D->a;

    a->caps = probe_private(D->cfg.state_dir);
    if (a->caps == NULL) {
        log_warnx("cannot make a private network namespace for the capability probe (no "
                  "CAP_SYS_ADMIN, user namespaces off, or RestrictNamespaces=); probing once "
                  "here, now, with short-lived flprobe* devices in this namespace");
        if (inj_probe(a->inj, &a->caps, NULL) < 0 || a->caps == NULL)
            log_warnx("start-up capability probe failed; /v1/capabilities will answer 500");
    }
}

/* Drop privileges, then listen, start the lease thread and the HTTP API. */
static int serve(struct daemon *D, struct fl_err *err)
{
    const struct agent_config *cfg = &D->cfg;
    int r;

    if ((r = agent_priv_drop(agent_process_enabled(cfg), err)) < 0)
        return r;
    if (listen(D->fd, 128) < 0)
        return fl_errf(err, -errno, "listen %s: %s", cfg->listen, strerror(errno));
    if ((r = agent_lease_start(&D->a)) < 0)
        return fl_errf(err, r, "lease thread: %s", strerror(-r));
    D->d = agent_api_start(&D->a, D->fd, err);
    if (D->d == NULL)
        return err->code ? err->code : -EIO;
    if (cfg->tls_cert_pem == NULL && !loopback(cfg))
        log_warnx("WARNING: serving plain HTTP on %s: the bearer token crosses the network in "
                  "clear; give --tls-cert/--tls-key outside a lab",
                  cfg->listen);
    log_info("serving on %s%s (pid %d, state %s, %zu allow, %zu control)%s", cfg->listen,
             cfg->tls_client_ca_pem ? " with TLS and client certificates"
             : cfg->tls_cert_pem    ? " with TLS"
                                    : "",
             (int)getpid(), cfg->state_dir, cfg->n_allow + cfg->n_allow_devs, cfg->n_control,
             agent_halted(&D->a, NULL, 0, NULL) ? "; HALTED" : "");
    return 0;
}

/* Serve until SIGTERM or SIGINT (SIGHUP reloads the TLS files); returns the signal. */
static int wait_for_stop(struct daemon *D)
{
    int sig;

    for (;;) {
        if (sigwait(&D->set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            reload_tls(&D->cfg, &D->a, &D->d);
            continue;
        }
        return sig;
    }
}

/* Stop serving and revert every fault (sweep when that fails). Returns the exit status. */
static int shut_down(struct daemon *D)
{
    struct fl_err err;
    size_t n;
    int r, rc;

    agent_api_stop(D->d);
    D->d = NULL;
    agent_capture_stop_all(&D->a);
    agent_lease_stop(&D->a);
    fl_err_clear(&err);
    r = agent_revert_all(&D->a, NULL, &n, &err);
    if (r < 0) {
        log_warnx("revert-all: %s; sweeping", err.msg);
        fl_err_clear(&err);
        r = inj_sweep(D->a.inj, &err);
    }
    if (r < 0) {
        log_warnx("sweep: %s", err.msg);
        rc = 1;
    } else {
        log_info("reverted %zu fault(s); bye", n);
        rc = 0;
    }
    agent_fini(&D->a);
    agent_audit_close(&D->audit);
    close(D->fd);
    if (D->lockfd >= 0)
        close(D->lockfd);
    agent_config_free(&D->cfg);
    return rc;
}

/* A start-up phase failed: say why, undo what was made. Returns the exit status. */
static int fail(struct daemon *D, int r, const struct fl_err *err)
{
    log_warnx("%s", err->msg[0] ? err->msg : strerror(-r));
    agent_api_stop(D->d);
    if (D->have_agent) {
        agent_capture_stop_all(&D->a);
        agent_lease_stop(&D->a);
        agent_fini(&D->a);
    }
    inj_close(D->inj);
    agent_audit_close(&D->audit);
    if (D->fd >= 0)
        close(D->fd);
    if (D->lockfd >= 0)
        close(D->lockfd);
    agent_config_free(&D->cfg);
    return 1;
}

int main(int argc, char **argv)
{
    struct daemon D;
    struct fl_err err;
    int r, sig;

    memset(&D, 0, sizeof(D));
    D.fd = D.lockfd = -1;
    fl_log_init("faultline-agent", 0);
    fl_err_clear(&err);
    r = agent_config_parse(&D.cfg, argc, argv, &err);
    if (r == 1) {
        agent_usage(stdout);
        return 0;
    }
    if (r < 0) {
        log_warnx("%s", err.msg);
        agent_usage(stderr);
        agent_config_free(&D.cfg);
        return 2;
    }
    fl_log_init("faultline-agent", D.cfg.verbose);
    if ((r = agent_config_load(&D.cfg, &err)) < 0)
        return fail(&D, r, &err);
    if (D.cfg.n_allow == 0 && D.cfg.n_allow_devs == 0 && D.cfg.n_procs == 0 && !D.cfg.process_file)
        log_warnx("no --allow given: every fault will be refused (403)");
    agent_control_warn(&D.cfg);
    if ((r = state_prepare(&D.cfg, !D.cfg.check_only, &D.lockfd, &err)) < 0)
        return fail(&D, r, &err);
    if (D.cfg.check_only) {
        printf("configuration OK\n");
        agent_config_free(&D.cfg);
        return 0;
    }

    process_setup(&D);
    if ((r = open_and_recover(&D, &err)) < 0)
        return fail(&D, r, &err);
    probe_caps(&D);
    if ((r = serve(&D, &err)) < 0)
        return fail(&D, r, &err);
    sig = wait_for_stop(&D);
    log_info("%s: reverting every fault and exiting", strsignal(sig));
    return shut_down(&D);
}
