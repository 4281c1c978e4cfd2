/*
 * Process plumbing for the real-service launchers: servers run inside a lab
 * host's network namespace (setns in the child before exec, so no shell and
 * no `ip netns exec` fork per process), in their own session so that a stop
 * reaches every child they made (PostgreSQL's backends, pg_autoctl's
 * postgres), with their own output in a per-process log whose tail becomes
 * the error text when a server does not come up.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "faultline/err.h"
#include "faultline/timeutil.h"
#include "svc.h"

int svc_user_can_reach(const char *path, const char *user, struct fl_err *err)
{
    struct passwd *pw = getpwnam(user);
    char real[PATH_MAX], dir[PATH_MAX];
    gid_t groups[256];
    int ng = 256, g;
    size_t len, i;

    if (!pw)
        return fl_errf(err, -ENOENT, "no user '%s'", user);
    if (!realpath(path, real))
        return fl_errf(err, -errno, "%s: %s", path, strerror(errno));
    if (pw->pw_uid == 0)
        return 0;
    if (getgrouplist(user, pw->pw_gid, groups, &ng) < 0)
        ng = 0;
    len = strlen(real);
    /* "/", then every prefix of real that ends before a '/' or at its end. */
    for (i = 1; i <= len; i++) {
        struct stat st;
        mode_t bit = S_IXOTH;

        if (i > 1 && i < len && real[i] != '/')
            continue;
        if (i > 1 && i < len) /* real[i] == '/' */
            snprintf(dir, sizeof(dir), "%.*s", (int)i, real);
        else if (i == 1)
            snprintf(dir, sizeof(dir), "/");
        else
            snprintf(dir, sizeof(dir), "%s", real);
        if (stat(dir, &st) < 0)
            return fl_errf(err, -errno, "%s: %s", dir, strerror(errno));
        if (st.st_uid == pw->pw_uid)
            bit = S_IXUSR;
        else
            for (g = 0; g < ng; g++)
                if (groups[g] == st.st_gid)
                    bit = S_IXGRP;
        if (!(st.st_mode & bit))
            return fl_errf(
                err, -EACCES, "user %s cannot reach %s: %s is mode %04o, owned by uid %d gid %d",
                user, path, dir, (unsigned)(st.st_mode & 07777), (int)st.st_uid, (int)st.st_gid);
    }
    return 0;
}

int svc_state_dir(const char *kind, const char *run_dir, const char *user, char *out, size_t outlen,
                  char *priv, size_t privlen, struct fl_err *err)
{
    struct fl_err why = {0};
    struct passwd *pw;
    char tmpl[PATH_MAX];
    int r;

    priv[0] = '\0';
    if ((r = svc_user_can_reach(run_dir, user, &why)) == 0) {
        snprintf(out, outlen, "%s", run_dir);
        return 0;
    }
    if (r != -EACCES)
        return fl_errf(err, r, "%s", why.msg);
    /* The run folder is private: the server's state goes where its user can reach it. */
    snprintf(tmpl, sizeof(tmpl), "/var/tmp/faultline-%s-XXXXXX", kind);
    if (!mkdtemp(tmpl))
        return fl_errf(err, -errno, "%s; and cannot make %s: %s", why.msg, tmpl, strerror(errno));
    if ((pw = getpwnam(user)) == NULL || chown(tmpl, pw->pw_uid, pw->pw_gid) < 0) {
        r = pw ? -errno : -ENOENT;
        rmdir(tmpl);
        return fl_errf(err, r, "%s; and cannot give %s to %s", why.msg, tmpl, user);
    }
    snprintf(out, outlen, "%s", tmpl);
    snprintf(priv, privlen, "%s", tmpl);
    return 0;
}

int svc_need(const char *bin, const char *pkg, struct fl_err *err)
{
    if (access(bin, X_OK) == 0)
        return 0;
    return fl_errf(err, -ENOENT,
                   "%s not found: install the Debian package %s "
                   "(scripts/setup.sh --with-services)",
                   bin, pkg);
}

void svc_sleep_ns(int64_t ns)
{
    struct timespec ts = {ns / 1000000000, ns % 1000000000};

    while (ns > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* What the child needs, prepared before fork (no allocation after fork). */
struct spawn_plan {
    char nspath[PATH_MAX];
    bool has_ns;
    bool has_user;
    uid_t uid;
    gid_t gid;
    char **envp;
};

extern char **environ;

/* In the child: never returns. Writes errno to fd on failure. */
static void child_exec(int fd, const struct spawn_plan *sp, const char *log, char *const argv[])
{
    int e, nfd, lfd;
    sigset_t none;

    setsid();
    signal(SIGPIPE, SIG_DFL);
    /* `faultline run` blocks SIGINT/SIGTERM in every thread (a sigwait thread takes them):
       the server must not inherit that mask, or SIGTERM would not stop it. */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (sp->has_ns) {
        nfd = open(sp->nspath, O_RDONLY | O_CLOEXEC);
        if (nfd < 0 || setns(nfd, CLONE_NEWNET) < 0)
            goto fail;
        close(nfd);
    }
    if ((nfd = open("/dev/null", O_RDONLY)) < 0 || dup2(nfd, 0) < 0)
        goto fail;
    lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (lfd < 0 || dup2(lfd, 1) < 0 || dup2(lfd, 2) < 0)
        goto fail;
    if (sp->has_user) {
        if (fchown(lfd, sp->uid, sp->gid) < 0 || setgroups(1, &sp->gid) < 0 ||
            setgid(sp->gid) < 0 || setuid(sp->uid) < 0)
            goto fail;
    }
    execve(argv[0], argv, sp->envp);
fail:
    e = errno;
    if (write(fd, &e, sizeof(e)) < 0)
        _exit(126);
    _exit(127);
}

/* environ without the keys we set, then our entries. Malloc'd array of borrowed strings. */
static char **build_env(char *const env[], char *extra[], size_t nextra)
{
    size_t n = 0, m = 0, i, j;
    char **out;

    while (environ && environ[n])
        n++;
    while (env && env[m])
        m++;
    out = calloc(n + m + nextra + 1, sizeof(*out));
    if (!out)
        return NULL;
    for (i = 0, j = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t klen = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
        bool over = false;
        size_t k;

        for (k = 0; k < m && !over; k++)
            over = strncmp(env[k], environ[i], klen) == 0;
        for (k = 0; k < nextra && !over; k++)
            over = strncmp(extra[k], environ[i], klen) == 0;
        if (!over)
            out[j++] = environ[i];
    }
    for (i = 0; i < m; i++)
        out[j++] = env[i];
    for (i = 0; i < nextra; i++)
        out[j++] = extra[i];
    return out;
}

int svc_spawn(struct svc_proc *p, const char *netns, const char *user, char *const argv[],
              char *const env[], struct fl_err *err)
{
    struct spawn_plan sp = {0};
    char home[PATH_MAX + 8], uenv[80], lenv[80];
    char *extra[3];
    size_t nextra = 0;
    int pfd[2], e = 0;
    ssize_t n;
    pid_t pid;

    if (netns) {
        snprintf(sp.nspath, sizeof(sp.nspath), "/run/netns/%s", netns);
        sp.has_ns = true;
    }
    if (user) {
        struct passwd *pw = getpwnam(user);

        if (!pw)
            return fl_errf(err, -ESRCH, "%s: no user '%s' on this system", p->what, user);
        sp.has_user = true;
        sp.uid = pw->pw_uid;
        sp.gid = pw->pw_gid;
        snprintf(home, sizeof(home), "HOME=%s", pw->pw_dir);
        snprintf(uenv, sizeof(uenv), "USER=%s", user);
        snprintf(lenv, sizeof(lenv), "LOGNAME=%s", user);
        extra[nextra++] = home;
        extra[nextra++] = uenv;
        extra[nextra++] = lenv;
    }
    if ((sp.envp = build_env(env, extra, nextra)) == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        free(sp.envp);
        return fl_errf(err, -errno, "%s: pipe: %s", p->what, strerror(errno));
    }
    pid = fork();
    if (pid < 0) {
        e = errno;
        close(pfd[0]);
        close(pfd[1]);
        free(sp.envp);
        return fl_errf(err, -e, "%s: fork: %s", p->what, strerror(e));
    }
    if (pid == 0) {
        close(pfd[0]);
        child_exec(pfd[1], &sp, p->log, argv);
    }
    close(pfd[1]);
    free(sp.envp);
    do
        n = read(pfd[0], &e, sizeof(e));
    while (n < 0 && errno == EINTR);
    close(pfd[0]);
    if (n == (ssize_t)sizeof(e)) {
        waitpid(pid, NULL, 0);
        return fl_errf(err, -e, "%s: cannot start %s%s%s: %s", p->what, argv[0],
                       netns ? " in namespace " : "", netns ? netns : "", strerror(e));
    }
    p->pid = pid;
    return 0;
}

bool svc_alive(struct svc_proc *p, int *status)
{
    int st = 0;
    pid_t r;

    if (p->pid <= 0)
        return false;
    r = waitpid(p->pid, &st, WNOHANG);
    if (r == 0)
        return true;
    if (status)
        *status = st;
    if (r == p->pid) {
        /* The group may outlive its leader: p->pid stays as the group id until stop. */
        p->pid = -p->pid;
    }
    return false;
}

void svc_stop(struct svc_proc *p, int64_t grace_ns)
{
    pid_t pgid = p->pid < 0 ? -p->pid : p->pid;
    int64_t deadline = fl_now_ns() + grace_ns;

    if (pgid <= 0)
        return;
    kill(-pgid, SIGTERM);
    if (p->pid > 0)
        kill(p->pid, SIGTERM);
    while (svc_alive(p, NULL) && fl_now_ns() < deadline)
        svc_sleep_ns(20000000);
    if (p->pid > 0) {
        kill(-pgid, SIGKILL);
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
    }
    /* Members of the group that outlived the leader (postgres backends). */
    while (kill(-pgid, 0) == 0 && fl_now_ns() < deadline) {
        svc_sleep_ns(20000000);
    }
    kill(-pgid, SIGKILL);
    p->pid = 0;
}

int svc_run(const char *what, const char *netns, const char *user, char *const argv[],
            char *const env[], const char *log, int64_t timeout_ns, struct fl_err *err)
{
    struct svc_proc p = {0};
    int64_t deadline = fl_now_ns() + timeout_ns;
    char tail[320];
    int st = 0, rc;

    snprintf(p.what, sizeof(p.what), "%s", what);
    snprintf(p.log, sizeof(p.log), "%s", log);
    if ((rc = svc_spawn(&p, netns, user, argv, env, err)) < 0)
        return rc;
    while (svc_alive(&p, &st)) {
        if (fl_now_ns() > deadline) {
            svc_stop(&p, 2000000000);
            return fl_errf(err, -ETIMEDOUT, "%s: timed out; log %s: %s", what, log,
                           svc_log_tail(log, tail, sizeof(tail)));
        }
        svc_sleep_ns(20000000);
    }
    svc_stop(&p, 1000000000);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    return fl_errf(err, -EIO, "%s: exited with status %d; log %s: %s", what,
                   WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), log,
                   svc_log_tail(log, tail, sizeof(tail)));
}

char *svc_log_tail(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    long size, from;
    size_t n, i;

    buf[0] = '\0';
    if (!f || len < 8) {
        if (f)
            fclose(f);
        snprintf(buf, len, "(no log)");
        return buf;
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    from = size > (long)(len / 2 - 1) ? size - (long)(len / 2 - 1) : 0;
    fseek(f, from, SEEK_SET);
    n = fread(buf, 1, len / 2 - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    /* Newlines become " | " so the excerpt stays one line. */
    {
        char *out = malloc(len);
        size_t o = 0;

        if (!out)
            return buf;
        for (i = 0; i < n && o + 4 < len; i++) {
            if (buf[i] == '\n') {
                memcpy(out + o, " | ", 3);
                o += 3;
            } else if ((unsigned char)buf[i] >= 0x20) {
                out[o++] = buf[i];
            }
        }
        out[o] = '\0';
        memcpy(buf, out, o + 1);
        free(out);
    }
    if (buf[0] == '\0')
        snprintf(buf, len, "(log empty)");
    return buf;
}

void svc_rmtree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    char sub[PATH_MAX];
    struct stat st;

    if (!d) {
        unlink(path);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            svc_rmtree(sub);
        else
            unlink(sub);
    }
    closedir(d);
    rmdir(path);
}

int svc_write_file(const char *path, const char *text, struct fl_err *err)
{
    FILE *f = fopen(path, "w");
    int rc = 0;

    if (!f)
        return fl_errf(err, -errno, "cannot write %s: %s", path, strerror(errno));
    if (fputs(text, f) < 0)
        rc = -EIO;
    if (fclose(f) != 0)
        rc = -EIO;
    if (rc < 0)
        return fl_errf(err, rc, "cannot write %s", path);
    return 0;
}

int64_t svc_opt_ms(const json_t *cfg, const char *key, int64_t def)
{
    json_t *v = json_object_get(cfg, key);

    return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

int64_t svc_opt_uint(const json_t *cfg, const char *key, int64_t def)
{
    json_t *v = json_object_get(cfg, key);

    return json_is_integer(v) && json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : def;
}

const char *svc_opt_str(const json_t *cfg, const char *key, const char *def)
{
    json_t *v = json_object_get(cfg, key);

    return json_is_string(v) ? json_string_value(v) : def;
}

bool svc_opt_bool(const json_t *cfg, const char *key, bool def)
{
    json_t *v = json_object_get(cfg, key);

    return json_is_boolean(v) ? json_is_true(v) : def;
}

size_t svc_port_digits(long port)
{
    size_t n = 1;

    while (port >= 10) {
        port /= 10;
        n++;
    }
    return n;
}
