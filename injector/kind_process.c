/*
 * process: stop, kill or restart a service on this host, for host and zone
 * power outages. The target is one of a pidfile, a substring of the command
 * line (/proc/PID/cmdline, arguments joined by spaces) or a systemd unit.
 *   stop    SIGSTOP (the process freezes, its sockets stay open: a hung host);
 *           revert sends SIGCONT.
 *   kill    SIGKILL (a crash); revert runs restart_cmd if given (a unit is
 *           started again with systemctl start), else nothing.
 *   restart SIGKILL, then restart_cmd at once (a crash and a supervisor
 *           restart); revert does nothing.
 * Units go through `systemctl kill --signal=...` / `systemctl start`. Every
 * signalled pid is recorded in the undo with its start time (field 22 of
 * /proc/PID/stat), so revert never signals a recycled pid. There is nothing
 * kernel-side to sweep: a journal-less sweep cannot know which stopped
 * processes were faultline's, so sweep does nothing and revert is the only
 * way back (the journal is fsynced before the signal is sent).
 *
 * Never signalled, whatever the spec says: PID 1, this process and its
 * ancestors, any process in this process's own cgroup when that is a
 * service's (a session scope or the root cgroup is shared with unrelated
 * processes and protects nothing), and as units:
 * every slice, init.scope and every unit named in the cgroup path of this
 * process or of its ancestors (so the agent cannot stop its own service).
 * An owner with its own policy installs a guard (faultline/inject_process.h),
 * asked before every apply and before a revert starts anything again.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "faultline/inject_process.h"
#include "inj_int.h"

#define PROC_MAX_PIDS  256
#define PROC_MAX_ARGV  64
#define PROC_MATCH_MAX 256
#define PROC_CMD_WAIT  (30 * 1000) /* ms a systemctl call may take */

enum proc_action { PA_STOP, PA_KILL, PA_RESTART };
enum proc_target { PT_PIDFILE, PT_MATCH, PT_UNIT };

static const char *const action_names[] = {"stop", "kill", "restart", NULL};

static inj_process_guard_fn guard_fn;
static void *guard_arg;

void inj_process_set_guard(inj_process_guard_fn fn, void *arg)
{
    guard_fn = fn;
    guard_arg = arg;
}
static const char *const target_names[] = {"pidfile", "match", "unit", NULL};

struct proc_params {
    enum proc_action action;
    enum proc_target target;
    char *value;         /* path, substring or unit; owned */
    json_t *restart_cmd; /* array or NULL; own reference (a copy) */
};

/* ---- parse -------------------------------------------------------------- */

static bool unit_name_valid(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n > 255 || s[0] == '-')
        return false;
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && strchr(":-_.@\\", s[i]) == NULL)
            return false;
    return true;
}

static int parse_argv(const json_t *arr, struct fl_err *err)
{
    size_t i;
    json_t *v;

    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return fl_errf(err, -EINVAL, "'restart_cmd' must be a non-empty list of strings (argv)");
    if (json_array_size(arr) > PROC_MAX_ARGV)
        return fl_errf(err, -E2BIG, "'restart_cmd' has more than %d arguments", PROC_MAX_ARGV);
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v))
            return fl_errf(err, -EINVAL, "'restart_cmd'[%zu] must be a string", i);
        if (json_string_length(v) != strlen(json_string_value(v)))
            return fl_errf(err, -EINVAL, "'restart_cmd'[%zu] contains a NUL byte", i);
    }
    if (json_string_length(json_array_get(arr, 0)) == 0)
        return fl_errf(err, -EINVAL, "'restart_cmd'[0] must name a program");
    return 0;
}

static int proc_parse(struct inj_fault *f, const json_t *spec, struct fl_err *err)
{
    static const char *const keys[] = {"kind", "exempt", "action", "target", "restart_cmd", NULL};
    struct proc_params *p;
    const char *a = NULL, *key;
    json_t *t, *v;
    size_t i;
    int r;

    r = inj_kind_params(f, spec, keys, sizeof(*p), err);
    if (r < 0)
        return r;
    p = f->priv;
    r = inj_json_string(spec, "action", true, &a, err);
    if (r < 0)
        return r;
    for (i = 0; action_names[i] != NULL; i++)
        if (strcmp(a, action_names[i]) == 0)
            break;
    if (action_names[i] == NULL)
        return fl_errf(err, -EINVAL, "'action' must be stop, kill or restart, got '%s'", a);
    p->action = (enum proc_action)i;

    t = json_object_get(spec, "target");
    if (t == NULL)
        return fl_errf(err, -EINVAL, "missing key 'target' ({pidfile|match|unit: ...})");
    if (!json_is_object(t) || json_object_size(t) != 1)
        return fl_errf(err, -EINVAL,
                       "'target' must be an object with exactly one of pidfile, match, unit");
    r = inj_json_check_keys(t, target_names, err);
    if (r < 0) {
        fl_err_prefix(err, "'target'");
        return r;
    }
    json_object_foreach(t, key, v)
    {
        for (i = 0; target_names[i] != NULL; i++)
            if (strcmp(key, target_names[i]) == 0)
                p->target = (enum proc_target)i;
        if (!json_is_string(v) || json_string_length(v) == 0)
            return fl_errf(err, -EINVAL, "'target.%s' must be a non-empty string", key);
        free(p->value);
        p->value = strdup(json_string_value(v));
        if (p->value == NULL)
            return fl_errf(err, -ENOMEM, "out of memory");
    }
    switch (p->target) {
    case PT_PIDFILE:
        if (p->value[0] != '/')
            return fl_errf(err, -EINVAL, "'target.pidfile' must be an absolute path, got '%s'",
                           p->value);
        break;
    case PT_MATCH:
        if (strlen(p->value) > PROC_MATCH_MAX)
            return fl_errf(err, -EINVAL, "'target.match' longer than %d bytes", PROC_MATCH_MAX);
        break;
    case PT_UNIT:
        if (!unit_name_valid(p->value))
            return fl_errf(err, -EINVAL, "'target.unit': bad systemd unit name '%s'", p->value);
        break;
    }
    v = json_object_get(spec, "restart_cmd");
    if (v != NULL) {
        r = parse_argv(v, err);
        if (r < 0)
            return r;
        p->restart_cmd = json_deep_copy(v);
        if (p->restart_cmd == NULL)
            return fl_errf(err, -ENOMEM, "out of memory");
        if (p->action == PA_STOP)
            return fl_errf(err, -EINVAL,
                           "'restart_cmd' makes no sense with action stop "
                           "(revert sends SIGCONT)");
    }
    if (p->action == PA_RESTART && p->restart_cmd == NULL && p->target != PT_UNIT)
        return fl_errf(err, -EINVAL, "action restart needs 'restart_cmd' (or a unit target)");
    return 0;
}

static void proc_free(struct inj_fault *f)
{
    struct proc_params *p = f->priv;

    if (p != NULL) {
        free(p->value);
        json_decref(p->restart_cmd);
    }
    free(p);
    f->priv = NULL;
}

/* ---- /proc -------------------------------------------------------------- */

/* Start time (clock ticks since boot) and ppid of pid; -1 if gone. State in *state. */
static long long proc_start(pid_t pid, pid_t *ppid, char *state)
{
    char path[64], buf[1024], *p;
    long long v = -1;
    ssize_t n;
    int fd, field;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* comm may contain spaces and parentheses */
    if (p == NULL || p[1] != ' ')
        return -1;
    p += 2;
    if (state != NULL)
        *state = *p;
    /* p is field 3 (state); ppid is field 4, starttime field 22. */
    for (field = 3; field <= 22 && p != NULL; field++) {
        if (field == 4 && ppid != NULL)
            *ppid = (pid_t)strtol(p, NULL, 10);
        if (field == 22)
            v = strtoll(p, NULL, 10);
        p = strchr(p, ' ');
        if (p != NULL)
            p++;
    }
    return v;
}

static bool alive(pid_t pid, long long start)
{
    char st = 0;
    long long s = proc_start(pid, NULL, &st);

    return s >= 0 && s == start && st != 'Z' && st != 'X';
}

struct pidset {
    pid_t pid[PROC_MAX_PIDS];
    long long start[PROC_MAX_PIDS];
    size_t n;
};

static int pids_from_pidfile(const char *path, struct pidset *ps, struct fl_err *err)
{
    const char *why = NULL;
    char buf[64], *end;
    long v;
    ssize_t n;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return fl_errf(err, -errno, "pidfile '%s': %s", path, strerror(errno));
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return fl_errf(err, -EINVAL, "pidfile '%s' is empty", path);
    buf[n] = '\0';
    errno = 0;
    v = strtol(buf, &end, 10);
    while (*end == '\n' || *end == ' ' || *end == '\r' || *end == '\t')
        end++;
    if (errno != 0 || end == buf || *end != '\0' || v < 1 || v > 4194304)
        return fl_errf(err, -EINVAL, "pidfile '%s' does not hold one pid", path);
    if (inj_process_pid_protected((pid_t)v, &why))
        return fl_errf(err, -EPERM, "pidfile '%s' names pid %ld, %s: never signalled", path, v,
                       why);
    ps->start[0] = proc_start((pid_t)v, NULL, NULL);
    if (ps->start[0] < 0)
        return fl_errf(err, -ESRCH, "pidfile '%s' names pid %ld, which is not running", path, v);
    ps->pid[0] = (pid_t)v;
    ps->n = 1;
    return 0;
}

/* True if pid is the caller or one of its ancestors (their command lines name the target). */
static bool is_self_or_ancestor(pid_t pid)
{
    pid_t cur = getpid(), pp;
    int depth;

    for (depth = 0; depth < 64 && cur > 0; depth++) {
        if (cur == pid)
            return true;
        pp = 0;
        if (proc_start(cur, &pp, NULL) < 0 || pp == cur)
            break;
        cur = pp;
    }
    return false;
}

/*
 * The cgroup path of pid (the unified "0::" line, else systemd's named
 * hierarchy) into buf. False when unreadable.
 */
static bool cgroup_of(pid_t pid, char *buf, size_t len)
{
    char path[64], line[1024];
    bool found = false;
    FILE *fp;

    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    fp = fopen(path, "re");
    if (fp == NULL)
        return false;
    while (fgets(line, sizeof(line), fp) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "0::", 3) == 0) {
            snprintf(buf, len, "%s", line + 3);
            found = true;
            break;
        }
        if (!found && strncmp(line, "1:name=systemd:", 15) == 0) {
            snprintf(buf, len, "%s", line + 15);
            found = true;
        }
    }
    fclose(fp);
    return found;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}

bool inj_process_pid_protected(pid_t pid, const char **why)
{
    char mine[1024], theirs[1024];
    const char *dummy;

    if (why == NULL)
        why = &dummy;
    if (pid <= 1) {
        *why = "PID 1";
        return true;
    }
    if (is_self_or_ancestor(pid)) {
        *why = "the agent itself or one of its ancestors";
        return true;
    }
    /*
     * A service's cgroup holds the service and its helpers; a session scope
     * or the root cgroup (a lab run from a shell, a container) is shared with
     * unrelated processes and protects nothing.
     */
    if (cgroup_of(getpid(), mine, sizeof(mine)) && ends_with(mine, ".service") &&
        cgroup_of(pid, theirs, sizeof(theirs)) && strcmp(mine, theirs) == 0) {
        *why = "in the agent's own service cgroup";
        return true;
    }
    return false;
}

/* True if unit is one of the components of cgroup path cg. */
static bool unit_in_path(const char *unit, const char *cg)
{
    size_t n = strlen(unit);
    const char *p = cg;

    while ((p = strstr(p, unit)) != NULL) {
        if ((p == cg || p[-1] == '/') && (p[n] == '\0' || p[n] == '/'))
            return true;
        p++;
    }
    return false;
}

bool inj_process_unit_protected(const char *unit, const char **why)
{
    char cg[1024];
    const char *dummy;
    pid_t cur = getpid(), pp;
    int depth;

    if (why == NULL)
        why = &dummy;
    if (ends_with(unit, ".slice")) {
        *why = "a slice";
        return true;
    }
    if (strcmp(unit, "init.scope") == 0) {
        *why = "PID 1's unit";
        return true;
    }
    /* The agent's unit and its ancestors' units are components of their cgroup paths. */
    for (depth = 0; depth < 64 && cur > 0; depth++) {
        if (cgroup_of(cur, cg, sizeof(cg)) && unit_in_path(unit, cg)) {
            *why = "the unit of the agent or of one of its ancestors";
            return true;
        }
        pp = 0;
        if (proc_start(cur, &pp, NULL) < 0 || pp == cur)
            break;
        cur = pp;
    }
    return false;
}

static int pids_from_match(const char *needle, struct pidset *ps, struct fl_err *err)
{
    struct dirent *de;
    char path[64], buf[4096];
    DIR *d;

    d = opendir("/proc");
    if (d == NULL)
        return fl_errf(err, -errno, "cannot read /proc: %s", strerror(errno));
    while ((de = readdir(d)) != NULL) {
        char *end;
        long v = strtol(de->d_name, &end, 10);
        ssize_t n, i;
        int fd;

        if (*end != '\0' || v <= 1)
            continue;
        snprintf(path, sizeof(path), "/proc/%ld/cmdline", v);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
            continue; /* kernel threads and zombies have no command line */
        for (i = 0; i < n; i++)
            if (buf[i] == '\0')
                buf[i] = ' ';
        while (n > 0 && buf[n - 1] == ' ')
            n--;
        buf[n] = '\0';
        if (strstr(buf, needle) == NULL || inj_process_pid_protected((pid_t)v, NULL))
            continue;
        if (ps->n == PROC_MAX_PIDS) {
            closedir(d);
            return fl_errf(err, -E2BIG, "more than %d processes match '%s'; be more specific",
                           PROC_MAX_PIDS, needle);
        }
        ps->start[ps->n] = proc_start((pid_t)v, NULL, NULL);
        if (ps->start[ps->n] < 0)
            continue;
        ps->pid[ps->n++] = (pid_t)v;
    }
    closedir(d);
    if (ps->n == 0)
        return fl_errf(err, -ESRCH, "no running process matches '%s'", needle);
    return 0;
}

/* ---- running commands ---------------------------------------------------- */

/* argv from a JSON array (strings borrowed from it); NULL-terminated. */
static int json_argv(const json_t *arr, char **argv, size_t max)
{
    size_t i;
    json_t *v;

    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) >= max)
        return -EINVAL;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v))
            return -EINVAL;
        argv[i] = (char *)json_string_value(v);
    }
    argv[json_array_size(arr)] = NULL;
    return 0;
}

/* Child side after fork: std fds to /dev/null, exec, report errno on fail. */
static void exec_child(char **argv, int errfd, bool quiet)
{
    int fd = open("/dev/null", O_RDWR);
    int e;

    if (fd >= 0) {
        dup2(fd, 0);
        if (quiet) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (fd > 2)
            close(fd);
    }
    execvp(argv[0], argv);
    e = errno;
    if (write(errfd, &e, sizeof(e)) < 0)
        _exit(127);
    _exit(127);
}

/*
 * Start argv detached (own session, reparented to init) so it outlives the
 * caller and leaves no zombie. Returns the pid or -errno (exec failure too).
 */
static int spawn_detached(char **argv, struct fl_err *err)
{
    int pidp[2], errp[2], e = 0, status;
    pid_t mid, pid = -1;
    ssize_t n;

    if (pipe2(pidp, O_CLOEXEC) < 0)
        return fl_errf(err, -errno, "pipe: %s", strerror(errno));
    if (pipe2(errp, O_CLOEXEC) < 0) {
        close(pidp[0]);
        close(pidp[1]);
        return fl_errf(err, -errno, "pipe: %s", strerror(errno));
    }
    mid = fork();
    if (mid < 0) {
        e = errno;
        close(pidp[0]);
        close(pidp[1]);
        close(errp[0]);
        close(errp[1]);
        return fl_errf(err, -e, "fork: %s", strerror(e));
    }
    if (mid == 0) {
        pid_t g;

        setsid();
        g = fork();
        if (g == 0)
            exec_child(argv, errp[1], true);
        if (write(pidp[1], &g, sizeof(g)) < 0)
            _exit(1);
        _exit(0);
    }
    close(pidp[1]);
    close(errp[1]);
    waitpid(mid, &status, 0);
    n = read(pidp[0], &pid, sizeof(pid));
    close(pidp[0]);
    if (n != sizeof(pid) || pid <= 0) {
        close(errp[0]);
        return fl_errf(err, -ECHILD, "cannot start '%s'", argv[0]);
    }
    /* EOF (exec closed the CLOEXEC end) means the program runs. */
    n = read(errp[0], &e, sizeof(e));
    close(errp[0]);
    if (n == sizeof(e))
        return fl_errf(err, -e, "cannot start '%s': %s", argv[0], strerror(e));
    return (int)pid;
}

/* Run argv and wait (bounded). Returns 0 when it exited 0, else -errno. */
static int run_wait(char **argv, struct fl_err *err)
{
    int errp[2], e = 0, status = 0, waited = 0;
    pid_t pid, w;
    ssize_t n;

    if (pipe2(errp, O_CLOEXEC) < 0)
        return fl_errf(err, -errno, "pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0) {
        e = errno;
        close(errp[0]);
        close(errp[1]);
        return fl_errf(err, -e, "fork: %s", strerror(e));
    }
    if (pid == 0)
        exec_child(argv, errp[1], false);
    close(errp[1]);
    n = read(errp[0], &e, sizeof(e));
    close(errp[0]);
    if (n == sizeof(e)) {
        waitpid(pid, NULL, 0);
        if (e == ENOENT)
            return fl_errf(err, -EOPNOTSUPP, "'%s' not found on this host", argv[0]);
        return fl_errf(err, -e, "cannot run '%s': %s", argv[0], strerror(e));
    }
    for (;;) {
        struct timespec ts = {0, 10 * 1000000L};

        w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return fl_errf(err, -ECHILD, "waiting for '%s': %s", argv[0], strerror(errno));
        if (waited >= PROC_CMD_WAIT) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return fl_errf(err, -ETIMEDOUT, "'%s' did not finish within %ds", argv[0],
                           PROC_CMD_WAIT / 1000);
        }
        nanosleep(&ts, NULL);
        waited += 10;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fl_errf(err, -EIO, "'%s %s' failed (status %d)", argv[0], argv[1] ? argv[1] : "",
                       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

static int systemctl(const char *verb, const char *sig, const char *unit, struct fl_err *err)
{
    char sigopt[64];
    char *argv[8];
    int i = 0;

    argv[i++] = (char *)"systemctl";
    argv[i++] = (char *)verb;
    if (sig != NULL) {
        snprintf(sigopt, sizeof(sigopt), "--signal=%s", sig);
        argv[i++] = sigopt;
    }
    argv[i++] = (char *)"--";
    argv[i++] = (char *)unit;
    argv[i] = NULL;
    return run_wait(argv, err);
}

/* ---- apply / revert ------------------------------------------------------ */

static int signal_all(const struct pidset *ps, int sig, size_t *done, struct fl_err *err)
{
    size_t i, sent = 0;

    *done = 0;
    for (i = 0; i < ps->n; i++) {
        if (!alive(ps->pid[i], ps->start[i]))
            continue;
        if (kill(ps->pid[i], sig) < 0) {
            if (errno == ESRCH)
                continue;
            return fl_errf(err, -errno, "signal %s to pid %d: %s", sigabbrev_np(sig),
                           (int)ps->pid[i], strerror(errno));
        }
        sent++;
        *done = i + 1;
    }
    if (sent == 0)
        return fl_errf(err, -ESRCH, "the target processes exited before they were signalled");
    return 0;
}

/* Wait up to ms for every pid of ps to be gone (or a zombie). */
static void wait_gone(const struct pidset *ps, int ms)
{
    struct timespec ts = {0, 10 * 1000000L};
    size_t i;
    int t;

    for (t = 0; t < ms; t += 10) {
        bool any = false;

        for (i = 0; i < ps->n; i++)
            if (alive(ps->pid[i], ps->start[i]))
                any = true;
        if (!any)
            return;
        nanosleep(&ts, NULL);
    }
}

static int proc_apply(struct inj_ctx *ctx, const char *id, const struct inj_fault *f, json_t *undo,
                      struct fl_err *err)
{
    const struct proc_params *p = f->priv;
    char *argv[PROC_MAX_ARGV + 1];
    struct pidset *ps;
    json_t *arr;
    size_t i, done = 0;
    int r;

    (void)ctx;
    (void)id;
    if (guard_fn != NULL && (r = guard_fn(f->spec, INJ_PROCESS_APPLY, guard_arg, err)) < 0)
        return r;
    if (p->target == PT_UNIT) {
        const char *why = NULL;

        if (inj_process_unit_protected(p->value, &why))
            return fl_errf(err, -EPERM, "unit '%s' is %s: never signalled", p->value, why);
        if (json_object_set_new(undo, "unit", json_string(p->value)) < 0)
            return fl_errf(err, -ENOMEM, "out of memory");
        switch (p->action) {
        case PA_STOP:
            return systemctl("kill", "SIGSTOP", p->value, err);
        case PA_KILL:
            return systemctl("kill", "SIGKILL", p->value, err);
        case PA_RESTART:
            r = systemctl("kill", "SIGKILL", p->value, err);
            if (r == 0 && p->restart_cmd != NULL) {
                if (json_argv(p->restart_cmd, argv, PROC_MAX_ARGV + 1) < 0)
                    return fl_errf(err, -EINVAL, "bad restart_cmd");
                r = spawn_detached(argv, err);
                return r < 0 ? r : 0;
            }
            /* restart after the kill: start alone may find the unit not yet failed */
            return r < 0 ? r : systemctl("restart", NULL, p->value, err);
        }
    }
    ps = calloc(1, sizeof(*ps));
    if (ps == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    r = p->target == PT_PIDFILE ? pids_from_pidfile(p->value, ps, err)
                                : pids_from_match(p->value, ps, err);
    if (r < 0)
        goto out;
    /* Record the inverse before the first signal. */
    arr = json_array();
    if (arr == NULL || json_object_set_new(undo, "pids", arr) < 0) {
        r = fl_errf(err, -ENOMEM, "out of memory");
        goto out;
    }
    for (i = 0; i < ps->n; i++) {
        if (json_array_append_new(arr, json_pack("{s:i,s:I}", "pid", (int)ps->pid[i], "start",
                                                 (json_int_t)ps->start[i])) < 0) {
            r = fl_errf(err, -ENOMEM, "out of memory");
            goto out;
        }
    }
    switch (p->action) {
    case PA_STOP:
        r = signal_all(ps, SIGSTOP, &done, err);
        if (r < 0) {
            /* atomic: resume whatever was stopped before the failure */
            struct pidset part = *ps;

            part.n = done;
            (void)signal_all(&part, SIGCONT, &done, NULL);
        }
        break;
    case PA_KILL:
        r = signal_all(ps, SIGKILL, &done, err);
        break;
    case PA_RESTART:
        r = signal_all(ps, SIGKILL, &done, err);
        if (r < 0)
            break;
        wait_gone(ps, 2000);
        if (json_argv(p->restart_cmd, argv, PROC_MAX_ARGV + 1) < 0) {
            r = fl_errf(err, -EINVAL, "bad restart_cmd");
            break;
        }
        r = spawn_detached(argv, err);
        if (r > 0) {
            json_object_set_new(undo, "started", json_integer(r));
            r = 0;
        }
        break;
    }
out:
    free(ps);
    return r;
}

static int proc_revert(struct inj_ctx *ctx, const char *id, const json_t *spec, const json_t *undo,
                       struct fl_err *err)
{
    const char *action = json_string_value(json_object_get(spec, "action"));
    const json_t *cmd = json_object_get(spec, "restart_cmd");
    const char *unit = json_string_value(json_object_get(undo, "unit"));
    const json_t *pids = json_object_get(undo, "pids");
    char *argv[PROC_MAX_ARGV + 1];
    int r, resumed = 0;
    size_t i;
    json_t *v;

    (void)ctx;
    (void)id;
    if (action == NULL)
        return fl_errf(err, -EINVAL, "journal: process fault without an action");
    if (strcmp(action, "stop") == 0) {
        if (unit != NULL)
            return systemctl("kill", "SIGCONT", unit, err);
        json_array_foreach(pids, i, v)
        {
            pid_t pid = (pid_t)json_integer_value(json_object_get(v, "pid"));
            long long start = json_integer_value(json_object_get(v, "start"));

            if (pid > 1 && alive(pid, start) && kill(pid, SIGCONT) == 0)
                resumed++;
        }
        return resumed > 0 ? 0 : 1; /* all gone: nothing left stopped */
    }
    if (strcmp(action, "kill") == 0 && (unit != NULL || pids != NULL)) {
        /* Starting anything again asks the guard: the journal may predate the policy. */
        if (guard_fn != NULL && guard_fn(spec, INJ_PROCESS_REVERT, guard_arg, NULL) < 0)
            return 1;
        if (cmd != NULL) {
            if (json_argv(cmd, argv, PROC_MAX_ARGV + 1) < 0)
                return fl_errf(err, -EINVAL, "journal: bad restart_cmd");
            r = spawn_detached(argv, err);
            return r < 0 ? r : 0;
        }
        if (unit != NULL)
            return systemctl("start", NULL, unit, err);
        return 1; /* killed for good: said so in describe */
    }
    return 1; /* restart (already running again) or never applied */
}

static int proc_sweep(struct inj_ctx *ctx, struct fl_err *err)
{
    (void)ctx;
    (void)err;
    return 0; /* nothing kernel-side is owned; see the file comment */
}

static void proc_describe(const struct inj_fault *f, char *buf, size_t len)
{
    const struct proc_params *p = f->priv;
    const char *how = "";

    switch (p->action) {
    case PA_STOP:
        how = "SIGSTOP; revert sends SIGCONT";
        break;
    case PA_KILL:
        how = p->restart_cmd         ? "SIGKILL; revert runs restart_cmd"
              : p->target == PT_UNIT ? "SIGKILL; revert runs systemctl start"
                                     : "SIGKILL; revert does nothing (no restart_cmd)";
        break;
    case PA_RESTART:
        how = p->restart_cmd ? "SIGKILL then restart_cmd; revert does nothing"
                             : "SIGKILL then systemctl restart; revert does nothing";
        break;
    }
    snprintf(buf, len, "process %s %s '%s' (%s)", action_names[p->action], target_names[p->target],
             p->value, how);
}

const struct inj_kind inj_kind_process = {
    .name = "process",
    .needs = INJ_CAP_PROCESS,
    .summary = "stop/kill/restart a service: {action, target: {pidfile|match|unit}, "
               "restart_cmd?}",
    .parse = proc_parse,
    .free = proc_free,
    .apply = proc_apply,
    .revert = proc_revert,
    .describe = proc_describe,
    .sweep = proc_sweep,
    .evidence = NULL,
};
