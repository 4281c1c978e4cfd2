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
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "faultline/log.h"

static int mkdir_0700(const char *path, struct fl_err *err)
{
    struct stat st;

    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return fl_errf(err, -errno, "%s: %s", path, strerror(errno));
    if (stat(path, &st) < 0)
        return fl_errf(err, -errno, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return fl_errf(err, -ENOTDIR, "%s: not a directory", path);
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
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
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

/* inj_recover, but only a sweep when the journal is empty. */
static int recover(struct inj_ctx *inj, struct fl_err *err)
{
    char **ids = NULL;
    size_t n = 0, i;
    int r;

    r = inj_ids(inj, &ids, &n);
    for (i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    if (r < 0 || n > 0) {
        log_info("start-up: reverting %zu journaled fault(s) left by a previous run", n);
        return inj_recover(inj, err);
    }
    return inj_sweep(inj, err);
}

int main(int argc, char **argv)
{
    struct agent_config cfg;
    struct inj_config icfg;
    struct inj_ctx *inj = NULL;
    struct MHD_Daemon *d = NULL;
    struct agent a;
    struct fl_err err;
    char journal[4096];
    sigset_t set;
    int r, sig, fd = -1, lockfd = -1, rc = 1;
    bool have_agent = false;
    size_t n;

    fl_log_init("faultline-agent", 0);
    fl_err_clear(&err);
    r = agent_config_parse(&cfg, argc, argv, &err);
    if (r == 1) {
        agent_usage(stdout);
        return 0;
    }
    if (r < 0) {
        log_warnx("%s", err.msg);
        agent_usage(stderr);
        agent_config_free(&cfg);
        return 2;
    }
    fl_log_init("faultline-agent", cfg.verbose);
    if ((r = agent_config_load(&cfg, &err)) < 0)
        goto fail;
    if (cfg.n_allow == 0 && cfg.n_allow_devs == 0)
        log_warnx("no --allow given: every fault will be refused (403)");
    if ((r = state_prepare(&cfg, !cfg.check_only, &lockfd, &err)) < 0)
        goto fail;
    if (cfg.check_only) {
        printf("configuration OK\n");
        agent_config_free(&cfg);
        return 0;
    }

    /* Fewer malloc arenas: the HTTP threads do little and RSS stays small. */
    mallopt(M_ARENA_MAX, 2);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    /* Blocked before any thread exists: every thread inherits the mask. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if ((fd = bind_socket(&cfg, &err)) < 0) {
        r = fd;
        goto fail;
    }
    snprintf(journal, sizeof(journal), "%s/journal", cfg.state_dir);
    memset(&icfg, 0, sizeof(icfg));
    icfg.state_dir = journal;
    icfg.exempt = cfg.control;
    icfg.n_exempt = cfg.n_control;
    if ((r = inj_open(&icfg, &inj, &err)) < 0)
        goto fail;
    /* Before serving: whatever a previous run left behind goes. */
    if ((r = recover(inj, &err)) < 0) {
        fl_err_prefix(&err, "start-up recovery");
        goto fail;
    }
    agent_init(&a, &cfg, inj);
    inj = NULL;
    have_agent = true;
    if ((r = agent_priv_drop(&err)) < 0)
        goto fail;
    if (listen(fd, 128) < 0) {
        r = fl_errf(&err, -errno, "listen %s: %s", cfg.listen, strerror(errno));
        goto fail;
    }
    if ((r = agent_lease_start(&a)) < 0) {
        fl_errf(&err, r, "lease thread: %s", strerror(-r));
        goto fail;
    }
    d = agent_api_start(&a, fd, &err);
    if (d == NULL) {
        r = err.code ? err.code : -EIO;
        goto fail;
    }
    log_info("serving on %s%s (pid %d, state %s, %zu allow, %zu control)", cfg.listen,
             cfg.tls_cert_pem ? " with TLS" : "", (int)getpid(), cfg.state_dir,
             cfg.n_allow + cfg.n_allow_devs, cfg.n_control);

    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            log_info("SIGHUP ignored (restart to change the configuration)");
            continue;
        }
        break;
    }
    log_info("%s: reverting every fault and exiting", strsignal(sig));
    agent_api_stop(d);
    d = NULL;
    agent_capture_stop_all(&a);
    agent_lease_stop(&a);
    fl_err_clear(&err);
    r = agent_revert_all(&a, &n, &err);
    if (r < 0) {
        log_warnx("revert-all: %s; sweeping", err.msg);
        fl_err_clear(&err);
        r = inj_sweep(a.inj, &err);
    }
    if (r < 0) {
        log_warnx("sweep: %s", err.msg);
        rc = 1;
    } else {
        log_info("reverted %zu fault(s); bye", n);
        rc = 0;
    }
    agent_fini(&a);
    close(fd);
    if (lockfd >= 0)
        close(lockfd);
    agent_config_free(&cfg);
    return rc;

fail:
    log_warnx("%s", err.msg[0] ? err.msg : strerror(-r));
    agent_api_stop(d);
    if (have_agent) {
        agent_capture_stop_all(&a);
        agent_lease_stop(&a);
        agent_fini(&a);
    }
    inj_close(inj);
    if (fd >= 0)
        close(fd);
    if (lockfd >= 0)
        close(lockfd);
    agent_config_free(&cfg);
    return rc;
}
