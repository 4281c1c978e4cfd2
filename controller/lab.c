/*
 * The built-in lab (see lab.h for the shape of the topology). Creation is
 * four steps, each as parallel as it can be: one `ip -batch` adds every
 * namespace; the router's and the control namespace's batches (bridges, and
 * veth pairs whose far end is created directly inside each host namespace,
 * so nothing ever appears in the root namespace) run side by side; then every
 * host's batch (addresses, routes, links up) runs in parallel, with the
 * router's forwarding switched on meanwhile. Teardown finds processes by the
 * inode of their network namespace, as `ip netns pids` does, and deletes the
 * namespaces with one more `ip -batch`.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "faultline/file.h"
#include "faultline/timeutil.h"
#include "lab.h"

/* ---- emergency state (read by the controller's signal thread) ---------- */

static atomic_int em_active;
static pid_t em_pids[LAB_MAX_PROCS];
static atomic_int em_npids; /* em_pids[0..em_npids) are set before the count grows */
static char em_ip[PATH_MAX];
static char em_batch[PATH_MAX];
static char em_script[PATH_MAX];
static char em_state[PATH_MAX];

/* ---- small helpers ------------------------------------------------------ */

static const char *ip_path(void)
{
    static const char *const cands[] = {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip", NULL};
    size_t i;

    for (i = 0; cands[i]; i++)
        if (access(cands[i], X_OK) == 0)
            return cands[i];
    return "ip";
}

/*
 * Write a new file in one of the lab's private directories (root runs what
 * is written here: `ip -batch`, the emergency script). A file of that name is
 * removed first and the new one made with O_EXCL|O_NOFOLLOW: never through a
 * symlink, never into a file someone else opened.
 */
static int write_file(const char *path, mode_t mode, const char *text)
{
    int fd;
    size_t len = strlen(text), off = 0;
    ssize_t w;

    if (unlink(path) < 0 && errno != ENOENT)
        return -errno;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    while (off < len) {
        w = write(fd, text + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            w = -errno;
            close(fd);
            return (int)w;
        }
        off += (size_t)w;
    }
    return close(fd) < 0 ? -errno : 0;
}

/* The last non-empty line of a file, for error messages. */
static void last_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    char line[512];

    buf[0] = '\0';
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0])
            snprintf(buf, len, "%.*s", (int)(len > 0 ? len - 1 : 0), line);
    }
    fclose(f);
}

/* In a child before exec: the controller's blocked SIGINT/SIGTERM (signals.c) are not inherited. */
static void child_unblock(void)
{
    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Start `ip [-n ns] -batch file` with stderr to errlog; returns the pid or -errno. */
static pid_t ip_batch_start(const char *ns, const char *file, const char *errlog)
{
    const char *ip = ip_path();
    pid_t pid = fork();

    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int fd = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0644);

        child_unblock();
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (ns)
            execl(ip, "ip", "-n", ns, "-batch", file, (char *)NULL);
        else
            execl(ip, "ip", "-batch", file, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_ok(pid_t pid)
{
    int st;

    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

/* A growable text buffer for batch files (small: a few KiB per namespace). */
struct text {
    char *s;
    size_t n, cap;
    bool oom; /* a line was lost: tx_write refuses to write the rest */
};

static void __attribute__((format(printf, 2, 3))) tx_add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    int need;

    va_start(ap, fmt);
    need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0) {
        t->oom = true;
        return;
    }
    if (t->n + (size_t)need + 1 > t->cap) {
        size_t cap = (t->cap ? t->cap * 2 : 1024) + (size_t)need;
        char *s = realloc(t->s, cap);

        if (!s) {
            t->oom = true;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->n, t->cap - t->n, fmt, ap);
    va_end(ap);
    t->n += (size_t)need;
}

static int tx_write(struct text *t, const char *path)
{
    int r = t->oom ? -ENOMEM : write_file(path, 0644, t->s ? t->s : "");

    free(t->s);
    memset(t, 0, sizeof(*t));
    return r;
}

static const char *ip4(const struct fl_cidr *c, char *buf, size_t len)
{
    snprintf(buf, len, "%u.%u.%u.%u", c->addr[0], c->addr[1], c->addr[2], c->addr[3]);
    return buf;
}

/* Write value to a /proc/sys file inside namespace ns (a child does the setns). */
static int ns_sysctl(const char *ns, const char *path, const char *value)
{
    pid_t pid = fork();

    if (pid < 0)
        return -errno;
    if (pid == 0) {
        char p[PATH_MAX];
        int fd;

        snprintf(p, sizeof(p), "/run/netns/%s", ns);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
            _exit(1);
        fd = open(path, O_WRONLY);
        if (fd < 0 || write(fd, value, strlen(value)) < 0)
            _exit(1);
        _exit(0);
    }
    return wait_ok(pid);
}

/* Inode of a named namespace, 0 if absent. */
static ino_t ns_inode(const char *ns)
{
    char p[PATH_MAX];
    struct stat st;

    snprintf(p, sizeof(p), "/run/netns/%s", ns);
    return stat(p, &st) == 0 ? st.st_ino : 0;
}

/* Pids whose network namespace is one of inos[0..n); returns the count (at most max). */
static size_t pids_in(const ino_t *inos, size_t n, pid_t *out, size_t max)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    size_t k = 0, i;
    pid_t self = getpid();

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL && k < max) {
        char p[64], link[64];
        unsigned long ino;
        ssize_t len;
        char *end;
        long pid = strtol(e->d_name, &end, 10);

        if (*end || pid <= 0 || pid == self)
            continue;
        snprintf(p, sizeof(p), "/proc/%ld/ns/net", pid);
        len = readlink(p, link, sizeof(link) - 1);
        if (len <= 0)
            continue;
        link[len] = '\0';
        if (sscanf(link, "net:[%lu]", &ino) != 1)
            continue;
        for (i = 0; i < n; i++)
            if (inos[i] && inos[i] == (ino_t)ino)
                out[k++] = (pid_t)pid;
    }
    closedir(d);
    return k;
}

/* ---- state file ---------------------------------------------------------- */

/*
 * When pid started (clock ticks since boot, field 22 of /proc/<pid>/stat),
 * so that a reused pid is not taken for the process a state file names.
 * -1 when there is no such process or it is a zombie (it is gone, only not
 * reaped yet).
 */
long long lab_proc_start(pid_t pid)
{
    char path[64], buf[1024], *p, *tok, *save = NULL;
    long long start = -1;
    FILE *f;
    int field;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (pid <= 0 || (f = fopen(path, "re")) == NULL)
        return -1;
    p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
    fclose(f);
    if (!p)
        return -1;
    /* After the command's ")": field 3 (state) ... field 22 (starttime). */
    for (field = 3, tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (field == 3 && (tok[0] == 'Z' || tok[0] == 'X'))
            return -1;
        if (field++ == 22) {
            start = strtoll(tok, NULL, 10);
            break;
        }
    }
    return start;
}

static int state_write(const struct lab *lab)
{
    json_t *j = json_object(), *nss = json_array(), *procs = json_array();
    char tmp[PATH_MAX + 8];
    size_t i;
    int r;

    if (!j || !nss || !procs) {
        json_decref(j);
        json_decref(nss);
        json_decref(procs);
        return -ENOMEM;
    }
    json_array_append_new(nss, json_string(lab->router_ns));
    json_array_append_new(nss, json_string(lab->ctl_ns));
    for (i = 0; i < lab->n_hosts; i++)
        json_array_append_new(nss, json_string(lab->host_ns[i]));
    for (i = 0; i < lab->n_grp; i++)
        json_array_append_new(nss, json_string(lab->grp_ns[i]));
    for (i = 0; i < lab->n_procs; i++)
        json_array_append_new(procs, json_pack("{s:i,s:s,s:I}", "pid", (int)lab->procs[i], "name",
                                               lab->proc_names[i], "start",
                                               (json_int_t)lab_proc_start(lab->procs[i])));
    json_object_set_new(j, "id", json_string(lab->id));
    json_object_set_new(j, "dir", json_string(lab->dir));
    json_object_set_new(j, "controller_pid", json_integer(getpid()));
    json_object_set_new(j, "controller_start", json_integer(lab_proc_start(getpid())));
    json_object_set_new(j, "detached", json_boolean(lab->detach));
    json_object_set_new(j, "created_wall_ns", json_integer(fl_wall_ns()));
    json_object_set_new(j, "namespaces", nss);
    json_object_set_new(j, "processes", procs);
    snprintf(tmp, sizeof(tmp), "%s.tmp", lab->state_file);
    errno = 0;
    r = json_dump_file(j, tmp, JSON_INDENT(2)) == 0 ? 0 : errno ? -errno : -EIO;
    json_decref(j);
    if (r < 0)
        unlink(tmp);
    if (r == 0 && rename(tmp, lab->state_file) < 0)
        r = -errno;
    return r;
}

/* ---- namespace deletion ------------------------------------------------- */

int lab_private_tmpdir(char *out, size_t len)
{
    struct stat st;
    int r = fl_mkdir_p(LAB_RUN_DIR, 0755);

    if (r < 0)
        return r;
    if (lstat(LAB_RUN_DIR, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
        return -EPERM;
    if ((size_t)snprintf(out, len, "%s/tmp-XXXXXX", LAB_RUN_DIR) >= len)
        return -ENAMETOOLONG;
    return mkdtemp(out) ? 0 : -errno;
}

int lab_dir_create(const char *dir, struct fl_err *err)
{
    char parent[LAB_DIR_MAX], *slash;
    struct stat st;
    uid_t me = geteuid();

    snprintf(parent, sizeof(parent), "%s", dir);
    slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    else
        snprintf(parent, sizeof(parent), ".");
    if (lstat(parent, &st) < 0)
        return fl_errf(err, -errno, "run directory %s: %s", parent, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return fl_errf(err, -ENOTDIR,
                       "run directory %s is not a directory (a symlink?): refusing "
                       "to put the lab's files there",
                       parent);
    if (st.st_uid != me && st.st_uid != 0)
        return fl_errf(err, -EPERM,
                       "run directory %s is owned by uid %u, not %u: refusing to put the lab's "
                       "root-run files there",
                       parent, (unsigned)st.st_uid, (unsigned)me);
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
        return fl_errf(err, -EPERM,
                       "run directory %s is writable by group or others (mode %03o): refusing "
                       "to put the lab's root-run files there",
                       parent, (unsigned)(st.st_mode & 0777));
    if (mkdir(dir, 0700) < 0) {
        if (errno == EEXIST)
            return fl_errf(err, -EEXIST,
                           "lab directory %s exists already: refusing to reuse it (every run "
                           "makes its own)",
                           dir);
        return fl_errf(err, -errno, "cannot create %s: %s", dir, strerror(errno));
    }
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != me)
        return fl_errf(err, -EPERM, "lab directory %s changed under us", dir);
    return 0;
}

/*
 * Kill every process in the namespaces (SIGKILL), then delete them with one
 * `ip -batch`. names: n namespace names. Returns 0 or -errno.
 */
static int ns_destroy(char **names, size_t n, const char *dir, struct fl_err *err)
{
    char tmpdir[64] = "";
    ino_t *inos = calloc(n ? n : 1, sizeof(*inos));
    pid_t pids[1024];
    struct text t = {0};
    char batch[PATH_MAX], log[PATH_MAX], msg[256];
    size_t i, k, present = 0;
    int round, r = 0;
    pid_t pid;

    if (!inos)
        return fl_errf(err, -ENOMEM, "out of memory");
    for (i = 0; i < n; i++)
        if ((inos[i] = ns_inode(names[i])) != 0)
            present++;
    for (round = 0; round < 50; round++) {
        k = pids_in(inos, n, pids, 1024);
        if (k == 0)
            break;
        for (i = 0; i < k; i++)
            kill(pids[i], SIGKILL);
        for (i = 0; i < k; i++)
            waitpid(pids[i], NULL, WNOHANG);
        usleep(20000);
    }
    free(inos);
    if (present == 0)
        return 0;
    for (i = 0; i < n; i++)
        if (ns_inode(names[i]) != 0)
            tx_add(&t, "netns del %s\n", names[i]);
    if (dir == NULL) {
        /* No lab directory: a fresh private one, never a shared /tmp. */
        if ((r = lab_private_tmpdir(tmpdir, sizeof(tmpdir))) < 0) {
            free(t.s);
            return fl_errf(err, r, "cannot create a private directory under %s: %s", LAB_RUN_DIR,
                           strerror(-r));
        }
        dir = tmpdir;
    }
    snprintf(batch, sizeof(batch), "%s/fl-netns-del-%d.batch", dir, (int)getpid());
    snprintf(log, sizeof(log), "%s/fl-netns-del-%d.log", dir, (int)getpid());
    if ((r = tx_write(&t, batch)) < 0) {
        if (tmpdir[0])
            rmdir(tmpdir);
        return fl_errf(err, r, "cannot write %s: %s", batch, strerror(-r));
    }
    pid = ip_batch_start(NULL, batch, log);
    r = pid < 0 ? (int)pid : wait_ok(pid);
    if (r < 0) {
        last_line(log, msg, sizeof(msg));
        fl_errf(err, r, "deleting the lab's namespaces failed: %s", msg[0] ? msg : strerror(-r));
    }
    unlink(batch);
    unlink(log);
    if (tmpdir[0])
        rmdir(tmpdir);
    return r;
}

/* ---- building ------------------------------------------------------------ */

/* Prepare the emergency teardown's files. 0, or -errno with err. */
static int em_arm(struct lab *lab, struct fl_err *err)
{
    struct text t = {0};
    size_t i;
    int r;

    snprintf(em_ip, sizeof(em_ip), "%s", ip_path());
    snprintf(em_batch, sizeof(em_batch), "%s/netns-del.batch", lab->dir);
    snprintf(em_state, sizeof(em_state), "%s", lab->state_file);
    tx_add(&t, "netns del %s\nnetns del %s\n", lab->router_ns, lab->ctl_ns);
    for (i = 0; i < lab->n_hosts; i++)
        tx_add(&t, "netns del %s\n", lab->host_ns[i]);
    for (i = 0; i < lab->n_grp; i++)
        tx_add(&t, "netns del %s\n", lab->grp_ns[i]);
    if ((r = tx_write(&t, em_batch)) < 0)
        return fl_errf(err, r, "cannot write %s: %s", em_batch, strerror(-r));
    /*
     * The script the emergency path execs: kill every process in the lab's
     * namespaces, whoever started it (a target launcher's servers too), then
     * delete the namespaces. Written now: the last resort does no more than exec it.
     */
    snprintf(em_script, sizeof(em_script), "%s/emergency-teardown.sh", lab->dir);
    tx_add(&t, "for ns in %s %s", lab->router_ns, lab->ctl_ns);
    for (i = 0; i < lab->n_hosts; i++)
        tx_add(&t, " %s", lab->host_ns[i]);
    for (i = 0; i < lab->n_grp; i++)
        tx_add(&t, " %s", lab->grp_ns[i]);
    /* This script and the controller sit in the control namespace: spare them. */
    tx_add(&t,
           "; do %s netns pids \"$ns\" 2>/dev/null | grep -vxE \"$$|$PPID\" | xargs -r kill -9; "
           "done\n",
           em_ip);
    tx_add(&t, "exec %s -batch %s\n", em_ip, em_batch);
    if ((r = tx_write(&t, em_script)) < 0)
        return fl_errf(err, r, "cannot write %s: %s", em_script, strerror(-r));
    atomic_store(&em_npids, 0);
    atomic_store(&em_active, 1);
    return 0;
}

static void lab_names(struct lab *lab, const struct experiment *exp)
{
    size_t i;

    snprintf(lab->router_ns, sizeof(lab->router_ns), "fl-%s-router", lab->id);
    snprintf(lab->ctl_ns, sizeof(lab->ctl_ns), "fl-%s-ctl", lab->id);
    for (i = 0; i < lab->n_hosts; i++)
        snprintf(lab->host_ns[i], LAB_NS_MAX, "fl-%s-%s", lab->id, exp->topology.hosts[i].name);
    for (i = 0; i < lab->n_grp; i++) {
        const struct exp_region *reg = &exp->topology.regions[lab->grp_place[i][0]];

        if (lab->grp_place[i][1] < 0)
            snprintf(lab->grp_ns[i], LAB_NS_MAX, "fl-%s-cli-%s", lab->id, reg->name);
        else
            snprintf(lab->grp_ns[i], LAB_NS_MAX, "fl-%s-cli-%s-%s", lab->id, reg->name,
                     reg->zones[lab->grp_place[i][1]].name);
    }
}

/* The distinct placements (region, or region and zone) of the workload's groups. */
static int group_places(struct lab *lab, const struct experiment *exp)
{
    const struct exp_workload *w = &exp->workload;
    size_t i, j;

    lab->grp_ns = calloc(w->n_groups ? w->n_groups : 1, sizeof(*lab->grp_ns));
    lab->grp_place = calloc(w->n_groups ? w->n_groups : 1, sizeof(*lab->grp_place));
    if (!lab->grp_ns || !lab->grp_place)
        return -ENOMEM;
    for (i = 0; i < w->n_groups; i++) {
        const struct exp_client_group *g = &w->groups[i];
        long r = (long)g->region, z = g->has_zone ? (long)g->zone : -1;

        if (!g->has_region)
            continue;
        for (j = 0; j < lab->n_grp; j++)
            if (lab->grp_place[j][0] == r && lab->grp_place[j][1] == z)
                break;
        if (j == lab->n_grp) {
            lab->grp_place[j][0] = r;
            lab->grp_place[j][1] = z;
            lab->n_grp++;
        }
    }
    return 0;
}

const char *lab_group_ns(const struct lab *lab, size_t region, long zone)
{
    size_t i;

    for (i = 0; lab && i < lab->n_grp; i++)
        if (lab->grp_place[i][0] == (long)region && lab->grp_place[i][1] == zone)
            return lab->grp_ns[i];
    return NULL;
}

/*
 * A client group's address and gateway: a region's groups sit in the
 * region's otherwise unused first /27 (198.18.r.1, gateway 198.18.r.30 on
 * the router's bridge br<r>z0); a zone's groups take the zone's last host
 * address 198.18.r.(32z+29) on the zone's own bridge (the parser keeps that
 * address free).
 */
static void group_addr(const struct exp_topology *t, const long place[2], struct fl_cidr *addr,
                       struct fl_cidr *gw)
{
    const struct exp_region *reg = &t->regions[place[0]];

    *addr = reg->cidr;
    addr->prefix = 27;
    *gw = *addr;
    if (place[1] < 0) {
        addr->addr[3] = 1;
        gw->addr[3] = 30;
    } else {
        *gw = reg->zones[place[1]].gateway;
        *addr = reg->zones[place[1]].cidr;
        addr->addr[3] = (uint8_t)(addr->addr[3] + 29);
    }
}

/*
 * Write tx as <dir>/<name>.batch and start `ip -batch` on it in ns (NULL:
 * here). The pid, or -errno with err saying which file or why.
 */
static pid_t batch_start(const struct lab *lab, struct text *tx, const char *ns, const char *name,
                         const char *log, struct fl_err *err)
{
    char path[PATH_MAX];
    pid_t pid;
    int r;

    snprintf(path, sizeof(path), "%s/%s.batch", lab->dir, name);
    if ((r = tx_write(tx, path)) < 0)
        return fl_errf(err, r, "cannot write %s: %s", path, strerror(-r));
    if ((pid = ip_batch_start(ns, path, log)) < 0)
        fl_errf(err, (int)pid, "cannot start ip: %s", strerror((int)-pid));
    return pid;
}

/*
 * Wait for every batch of pids; a batch that could not start keeps the
 * error batch_start gave, one that failed is -EIO with the log's last line.
 */
static int batches_wait(const pid_t *pids, size_t n, const char *log, const char *what,
                        struct fl_err *err)
{
    char msg[256];
    size_t i;
    int rc = 0, not_started = 0;

    for (i = 0; i < n; i++)
        if (pids[i] < 0)
            not_started = (int)pids[i];
        else if (wait_ok(pids[i]) < 0)
            rc = -EIO;
    if (not_started)
        return not_started;
    if (rc == 0)
        return 0;
    last_line(log, msg, sizeof(msg));
    return fl_errf(err, rc, "%s failed: %s (see %s)", what, msg, log);
}

/* The router: a bridge per zone with its gateway, a data veth per host, the clients' leg. */
static void router_batch(struct text *tx, const struct lab *lab, const struct exp_topology *t)
{
    char g[64];
    size_t i, r, z;

    tx_add(tx, "link set lo up\n");
    for (r = 0; r < t->n_regions; r++) {
        const struct exp_region *reg = &t->regions[r];

        for (z = 0; z < reg->n_zones; z++) {
            const struct exp_zone *zn = &reg->zones[z];

            tx_add(tx, "link add br%zuz%zu type bridge\n", r + 1, z + 1);
            tx_add(tx, "addr add %s/%u dev br%zuz%zu\n", ip4(&zn->gateway, g, sizeof(g)),
                   zn->cidr.prefix, r + 1, z + 1);
            tx_add(tx, "link set br%zuz%zu up\n", r + 1, z + 1);
            for (i = zn->first_host; i < zn->first_host + zn->n_hosts; i++) {
                tx_add(tx, "link add d%zu type veth peer name %s netns %s\n", i, LAB_DATA_DEV,
                       lab->host_ns[i]);
                tx_add(tx, "link set d%zu master br%zuz%zu\n", i, r + 1, z + 1);
                tx_add(tx, "link set d%zu up\n", i);
            }
        }
    }
    tx_add(tx, "link add cli type veth peer name cli0 netns %s\n", lab->ctl_ns);
    tx_add(tx, "addr add %s/24 dev cli\nlink set cli up\n", LAB_CLIENT_GW);
    for (i = 0; i < lab->n_grp; i++) {
        long r1 = lab->grp_place[i][0] + 1, gz = lab->grp_place[i][1];
        struct fl_cidr a, gw;
        char dev[48];

        group_addr(t, lab->grp_place[i], &a, &gw);
        if (gz < 0) {
            snprintf(dev, sizeof(dev), "g%ld", r1);
            tx_add(tx, "link add br%ldz0 type bridge\n", r1);
            tx_add(tx, "addr add %s/27 dev br%ldz0\nlink set br%ldz0 up\n", ip4(&gw, g, sizeof(g)),
                   r1, r1);
        } else {
            snprintf(dev, sizeof(dev), "g%ldz%ld", r1, gz + 1);
        }
        tx_add(tx, "link add %s type veth peer name %s netns %s\n", dev, LAB_DATA_DEV,
               lab->grp_ns[i]);
        if (gz < 0)
            tx_add(tx, "link set %s master br%ldz0\n", dev, r1);
        else
            tx_add(tx, "link set %s master br%ldz%ld\n", dev, r1, gz + 1);
        tx_add(tx, "link set %s up\n", dev);
    }
}

/* A client group's namespace: its data address in its region or zone, the one route. */
static void group_batch(struct text *tx, const struct exp_topology *t, const long place[2])
{
    struct fl_cidr a, gw;
    char as[64], gs[64];

    group_addr(t, place, &a, &gw);
    tx_add(tx, "link set lo up\n");
    tx_add(tx, "addr add %s/27 dev %s\nlink set %s up\n", ip4(&a, as, sizeof(as)), LAB_DATA_DEV,
           LAB_DATA_DEV);
    tx_add(tx, "route add %s via %s\n", LAB_DATA_NET, ip4(&gw, gs, sizeof(gs)));
}

/* The control namespace: a bridge with the controller's address, a control veth per host. */
static void control_batch(struct text *tx, const struct lab *lab, const struct exp_topology *t)
{
    char a[64];
    size_t i;

    tx_add(tx, "link set lo up\nlink add ctlbr type bridge\n");
    tx_add(tx, "addr add %s/%u dev ctlbr\nlink set ctlbr up\n", ip4(&t->controller, a, sizeof(a)),
           t->control.prefix);
    for (i = 0; i < t->n_hosts; i++) {
        tx_add(tx, "link add c%zu type veth peer name %s netns %s\n", i, LAB_CTL_DEV,
               lab->host_ns[i]);
        tx_add(tx, "link set c%zu master ctlbr\nlink set c%zu up\n", i, i);
    }
}

/* Host i: its data and control addresses, links up, the one route. */
static void host_batch(struct text *tx, const struct exp_topology *t, size_t i)
{
    const struct exp_host *h = &t->hosts[i];
    const struct exp_zone *zn = &t->regions[h->region].zones[h->zone];
    char a[64], g[64];

    tx_add(tx, "link set lo up\n");
    tx_add(tx, "addr add %s/%u dev %s\n", ip4(&h->data, a, sizeof(a)), zn->cidr.prefix,
           LAB_DATA_DEV);
    tx_add(tx, "link set %s up\n", LAB_DATA_DEV);
    tx_add(tx, "addr add %s/%u dev %s\n", ip4(&h->control, a, sizeof(a)), t->control.prefix,
           LAB_CTL_DEV);
    tx_add(tx, "link set %s up\n", LAB_CTL_DEV);
    tx_add(tx, "route add %s via %s\n", LAB_DATA_NET, ip4(&zn->gateway, g, sizeof(g)));
}

/*
 * Build the lab in three steps of iproute2 batches: 1. every namespace;
 * 2. the router and the control network side by side; 3. every host and
 * the control namespace's clients leg in parallel, while a forked child
 * turns on forwarding in the router.
 */
static int build(struct lab *lab, const struct experiment *exp, struct fl_err *err)
{
    const struct exp_topology *t = &exp->topology;
    struct text tx = {0};
    char log[PATH_MAX], clients[LAB_NS_MAX + 16];
    pid_t *pids = calloc(t->n_hosts + lab->n_grp + 4, sizeof(*pids));
    size_t i, np = 0;
    int rc, e;

    if (!pids)
        return fl_errf(err, -ENOMEM, "out of memory");
    snprintf(log, sizeof(log), "%s/ip.log", lab->dir);
    tx_add(&tx, "netns add %s\nnetns add %s\n", lab->router_ns, lab->ctl_ns);
    for (i = 0; i < t->n_hosts; i++)
        tx_add(&tx, "netns add %s\n", lab->host_ns[i]);
    for (i = 0; i < lab->n_grp; i++)
        tx_add(&tx, "netns add %s\n", lab->grp_ns[i]);
    pids[0] = batch_start(lab, &tx, NULL, "netns-add", log, err);
    if ((rc = batches_wait(pids, 1, log, "ip netns add", err)) < 0)
        goto out;
    router_batch(&tx, lab, t);
    pids[np++] = batch_start(lab, &tx, lab->router_ns, lab->router_ns, log, err);
    control_batch(&tx, lab, t);
    pids[np++] = batch_start(lab, &tx, lab->ctl_ns, lab->ctl_ns, log, err);
    if ((rc = batches_wait(pids, np, log, "building the lab's router and control network", err)) <
        0)
        goto out;
    np = 0;
    tx_add(&tx, "addr add %s/24 dev cli0\nlink set cli0 up\n", LAB_CLIENT_ADDR);
    tx_add(&tx, "route add %s via %s\n", LAB_DATA_NET, LAB_CLIENT_GW);
    snprintf(clients, sizeof(clients), "%s-clients", lab->ctl_ns);
    pids[np++] = batch_start(lab, &tx, lab->ctl_ns, clients, log, err);
    for (i = 0; i < t->n_hosts; i++) {
        host_batch(&tx, t, i);
        pids[np++] = batch_start(lab, &tx, lab->host_ns[i], lab->host_ns[i], log, err);
    }
    for (i = 0; i < lab->n_grp; i++) {
        group_batch(&tx, t, lab->grp_place[i]);
        pids[np++] = batch_start(lab, &tx, lab->grp_ns[i], lab->grp_ns[i], log, err);
    }
    e = ns_sysctl(lab->router_ns, "/proc/sys/net/ipv4/ip_forward", "1");
    if ((rc = batches_wait(pids, np, log, "configuring the lab's hosts", err)) < 0)
        goto out;
    if (e < 0)
        rc = fl_errf(err, e, "cannot enable forwarding in %s", lab->router_ns);
out:
    free(tx.s);
    free(pids);
    return rc;
}

int lab_up(const struct experiment *exp, const char *dir, bool detach, struct lab **out,
           struct fl_err *err)
{
    struct lab *lab;
    unsigned char rnd[LAB_ID_LEN / 2], tok[16];
    int64_t t0 = fl_now_ns();
    size_t i;
    int r;

    *out = NULL;
    if (!exp->topology.lab)
        return fl_errf(err, -EINVAL, "%s: the topology is a staging inventory, not a lab",
                       exp->file);
    lab = calloc(1, sizeof(*lab));
    if (!lab)
        return fl_errf(err, -ENOMEM, "out of memory");
    lab->orig_netns = -1;
    lab->detach = detach;
    lab->n_hosts = exp->topology.n_hosts;
    lab->host_ns = calloc(lab->n_hosts ? lab->n_hosts : 1, sizeof(*lab->host_ns));
    if (!lab->host_ns) {
        free(lab);
        return fl_errf(err, -ENOMEM, "out of memory");
    }
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd) ||
        getrandom(tok, sizeof(tok), 0) != (ssize_t)sizeof(tok)) {
        lab_free(lab);
        return fl_errf(err, -EIO, "getrandom failed");
    }
    for (i = 0; i < LAB_ID_LEN / 2; i++)
        sprintf(lab->id + 2 * i, "%02x", rnd[i]);
    for (i = 0; i < sizeof(tok); i++)
        sprintf(lab->token + 2 * i, "%02x", tok[i]);
    explicit_bzero(tok, sizeof(tok));
    if (dir)
        snprintf(lab->dir, sizeof(lab->dir), "%s", dir);
    else
        snprintf(lab->dir, sizeof(lab->dir), "%s/%s", LAB_STATE_DIR, lab->id);
    if (group_places(lab, exp) < 0) {
        lab_free(lab);
        return fl_errf(err, -ENOMEM, "out of memory");
    }
    lab_names(lab, exp);
    if ((r = fl_mkdir_p(LAB_STATE_DIR, 0755)) < 0) {
        fl_errf(err, r, "cannot create %s: %s", LAB_STATE_DIR, strerror(-r));
        lab_free(lab);
        return r;
    }
    if ((r = lab_dir_create(lab->dir, err)) < 0) {
        lab_free(lab);
        return r;
    }
    for (i = 0; i < lab->n_hosts; i++)
        if (ns_inode(lab->host_ns[i]) != 0) {
            fl_errf(err, -EEXIST, "namespace %s exists already", lab->host_ns[i]);
            lab_free(lab);
            return -EEXIST;
        }
    snprintf(lab->state_file, sizeof(lab->state_file), "%s/%s.json", LAB_STATE_DIR, lab->id);
    snprintf(lab->token_file, sizeof(lab->token_file), "%s/agent.token", lab->dir);
    if ((r = write_file(lab->token_file, 0600, lab->token)) < 0) {
        fl_errf(err, r, "cannot write %s: %s", lab->token_file, strerror(-r));
        lab_free(lab);
        return r;
    }
    /* The state file first: a crash half-way leaves something `lab down` can find. */
    if ((r = state_write(lab)) < 0) {
        lab_free(lab);
        return fl_errf(err, r, "cannot write %s: %s", lab->state_file, strerror(-r));
    }
    if ((r = em_arm(lab, err)) < 0 || (r = build(lab, exp, err)) < 0) {
        lab_down(lab, 0, NULL);
        lab_free(lab);
        return r;
    }
    lab->up_ns = fl_now_ns() - t0;
    *out = lab;
    return 0;
}

/* ---- processes ------------------------------------------------------------ */

int lab_spawn(struct lab *lab, const char *ns, const char *name, const char *log_path,
              char *const argv[], pid_t *pid, struct fl_err *err)
{
    char p[PATH_MAX];
    int nsfd, logfd, nullfd, r;
    pid_t child;

    if (lab->n_procs >= LAB_MAX_PROCS)
        return fl_errf(err, -E2BIG, "too many processes in the lab");
    snprintf(p, sizeof(p), "/run/netns/%s", ns);
    nsfd = open(p, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0)
        return fl_errf(err, -errno, "cannot open namespace %s: %s", ns, strerror(errno));
    logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) {
        int e = -errno;

        close(nsfd);
        return fl_errf(err, e, "cannot open %s: %s", log_path, strerror(-e));
    }
    nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    child = fork();
    if (child < 0) {
        int e = -errno;

        close(nsfd);
        close(logfd);
        if (nullfd >= 0)
            close(nullfd);
        return fl_errf(err, e, "fork: %s", strerror(-e));
    }
    if (child == 0) {
        sigset_t all;

        setpgid(0, 0); /* a terminal's Ctrl-C reaches the controller, not the lab */
        if (!lab->detach)
            prctl(PR_SET_PDEATHSIG, SIGTERM);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        if (setns(nsfd, CLONE_NEWNET) < 0)
            _exit(126);
        if (nullfd >= 0)
            dup2(nullfd, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(nsfd);
    close(logfd);
    if (nullfd >= 0)
        close(nullfd);
    lab->procs[lab->n_procs] = child;
    snprintf(lab->proc_names[lab->n_procs], sizeof(lab->proc_names[0]), "%s", name);
    lab->n_procs++;
    if (atomic_load(&em_active) && atomic_load(&em_npids) < LAB_MAX_PROCS) {
        em_pids[atomic_load(&em_npids)] = child;
        atomic_fetch_add(&em_npids, 1);
    }
    /* The state file names every process, or `lab down` could miss one: a failure stops. */
    if ((r = state_write(lab)) < 0)
        return fl_errf(err, r, "cannot write %s: %s", lab->state_file, strerror(-r));
    if (pid)
        *pid = child;
    return 0;
}

/* The process allowlist of host i's agent (--process-file), written once the target runs. */
static void process_file_path(const struct lab *lab, const char *host, char *buf, size_t len)
{
    snprintf(buf, len, "%s/processes-%s.json", lab->dir, host);
}

int lab_write_process_file(struct lab *lab, const char *host, json_t *processes, struct fl_err *err)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    json_t *j = json_pack("{s:O}", "processes", processes);
    int fd, r = 0;

    if (!j)
        return fl_errf(err, -ENOMEM, "out of memory");
    process_file_path(lab, host, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    /* The agent refuses a file that anyone but its own user could write. */
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || json_dumpfd(j, fd, JSON_COMPACT) != 0)
        r = -(errno ? errno : EIO);
    if (fd >= 0 && close(fd) < 0 && r == 0)
        r = -errno;
    json_decref(j);
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        return fl_errf(err, r, "cannot write %s: %s", path, strerror(-r));
    }
    return 0;
}

int lab_start_agents(struct lab *lab, const struct experiment *exp, const char *agent_bin,
                     const char *logdir, bool allow_any, struct fl_err *err)
{
    const struct exp_topology *t = &exp->topology;
    char listen[96], state[PATH_MAX], log[PATH_MAX], ctl[64], a[64], name[96], procs[PATH_MAX];
    size_t i;
    int r;

    for (i = 0; i < t->n_hosts; i++) {
        const struct exp_host *h = &t->hosts[i];
        char *argv[20];
        int k = 0;

        snprintf(listen, sizeof(listen), "%s:%d", ip4(&h->control, a, sizeof(a)),
                 EXP_LAB_AGENT_PORT);
        snprintf(state, sizeof(state), "%s/agent-%s", lab->dir, h->name);
        snprintf(log, sizeof(log), "%s/agent-%s.log", logdir, h->name);
        fl_cidr_format(&t->control, ctl, sizeof(ctl));
        snprintf(name, sizeof(name), "agent-%s", h->name);
        argv[k++] = (char *)agent_bin;
        argv[k++] = (char *)"--listen";
        argv[k++] = listen;
        argv[k++] = (char *)"--token-file";
        argv[k++] = lab->token_file;
        argv[k++] = (char *)"--state-dir";
        argv[k++] = state;
        argv[k++] = (char *)"--control";
        argv[k++] = ctl;
        argv[k++] = (char *)"--allow";
        argv[k++] = (char *)LAB_DATA_NET;
        argv[k++] = (char *)"--allow";
        argv[k++] = (char *)"dev:" LAB_DATA_DEV;
        if (allow_any) {
            /* A process fault names no address; its target comes from the file, once known. */
            process_file_path(lab, h->name, procs, sizeof(procs));
            argv[k++] = (char *)"--process-file";
            argv[k++] = procs;
        }
        argv[k++] = (char *)"-v";
        argv[k] = NULL;
        if ((r = lab_spawn(lab, lab->host_ns[i], name, log, argv, NULL, err)) < 0)
            return r;
    }
    return 0;
}

int lab_enter_control(struct lab *lab, struct fl_err *err)
{
    char p[PATH_MAX];
    int fd;

    if (lab->in_ctl)
        return 0;
    if (lab->orig_netns < 0) {
        lab->orig_netns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (lab->orig_netns < 0)
            return fl_errf(err, -errno, "cannot open my network namespace: %s", strerror(errno));
    }
    snprintf(p, sizeof(p), "/run/netns/%s", lab->ctl_ns);
    fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
        int e = -errno;

        if (fd >= 0)
            close(fd);
        return fl_errf(err, e, "cannot enter %s: %s", lab->ctl_ns, strerror(-e));
    }
    close(fd);
    lab->in_ctl = true;
    return 0;
}

void lab_leave_control(struct lab *lab)
{
    if (lab->in_ctl && lab->orig_netns >= 0 && setns(lab->orig_netns, CLONE_NEWNET) == 0)
        lab->in_ctl = false;
}

bool lab_proc_alive(struct lab *lab, pid_t pid)
{
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);

    (void)lab;
    if (r == 0)
        return true;
    if (r < 0 && errno == ECHILD)
        return kill(pid, 0) == 0;
    return false;
}

/* ---- teardown -------------------------------------------------------------- */

int lab_down(struct lab *lab, int grace_ms, struct fl_err *err)
{
    int64_t t0 = fl_now_ns(), deadline;
    char **names;
    size_t i, n = 0, alive;
    int r;

    if (!lab)
        return 0;
    lab_leave_control(lab);
    /* SIGTERM first: agents revert their faults, replicas stop cleanly. */
    for (i = 0; i < lab->n_procs; i++)
        if (lab->procs[i] > 0)
            kill(lab->procs[i], SIGTERM);
    deadline = fl_now_ns() + (int64_t)grace_ms * 1000000LL;
    do {
        alive = 0;
        for (i = 0; i < lab->n_procs; i++) {
            if (lab->procs[i] <= 0)
                continue;
            if (lab_proc_alive(lab, lab->procs[i]))
                alive++;
            else
                lab->procs[i] = 0;
        }
        if (alive && fl_now_ns() < deadline)
            usleep(10000);
    } while (alive && fl_now_ns() < deadline);
    names = calloc(lab->n_hosts + lab->n_grp + 2, sizeof(*names));
    if (!names)
        return fl_errf(err, -ENOMEM, "out of memory");
    names[n++] = lab->router_ns;
    names[n++] = lab->ctl_ns;
    for (i = 0; i < lab->n_hosts; i++)
        names[n++] = lab->host_ns[i];
    for (i = 0; i < lab->n_grp; i++)
        names[n++] = lab->grp_ns[i];
    r = ns_destroy(names, n, lab->dir, err);
    free(names);
    for (i = 0; i < lab->n_procs; i++)
        if (lab->procs[i] > 0) {
            waitpid(lab->procs[i], NULL, 0);
            lab->procs[i] = 0;
        }
    if (r == 0) {
        unlink(lab->state_file);
        atomic_store(&em_active, 0);
    }
    lab->down_ns = fl_now_ns() - t0;
    return r;
}

void lab_free(struct lab *lab)
{
    if (!lab)
        return;
    if (lab->orig_netns >= 0)
        close(lab->orig_netns);
    free(lab->host_ns);
    free(lab->grp_ns);
    free(lab->grp_place);
    explicit_bzero(lab->token, sizeof(lab->token));
    free(lab);
}

void lab_emergency_teardown(void)
{
    int i, n = atomic_load(&em_npids);
    pid_t pid;

    if (!atomic_load(&em_active))
        return;
    for (i = 0; i < n; i++)
        kill(em_pids[i], SIGKILL);
    pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);

        child_unblock();
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl("/bin/sh", "sh", em_script, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
    unlink(em_state);
    atomic_store(&em_active, 0);
}

/* Namespace names under /run/netns starting with prefix (malloc'd array). */
static size_t ns_with_prefix(const char *prefix, char ***out)
{
    DIR *d = opendir("/run/netns");
    struct dirent *e;
    char **v = NULL, **nv;
    size_t n = 0;

    *out = NULL;
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        nv = realloc(v, (n + 1) * sizeof(*v));
        if (!nv)
            break;
        v = nv;
        if ((v[n] = strdup(e->d_name)) != NULL)
            n++;
    }
    closedir(d);
    *out = v;
    return n;
}

int lab_down_id(const char *id, struct fl_err *err)
{
    char state[PATH_MAX], prefix[64], **names = NULL;
    json_t *j, *v;
    size_t i, n;
    int r = 0;

    if (strlen(id) != LAB_ID_LEN || strspn(id, "0123456789abcdef") != LAB_ID_LEN)
        return fl_errf(err, -EINVAL,
                       "'%s' is not a lab id (6 hex digits, see 'faultline lab list')", id);
    snprintf(state, sizeof(state), "%s/%s.json", LAB_STATE_DIR, id);
    snprintf(prefix, sizeof(prefix), "fl-%s-", id);
    j = json_load_file(state, 0, NULL);
    if (j) {
        /* Processes first (SIGTERM, a short grace), so that agents revert. */
        json_array_foreach(json_object_get(j, "processes"), i, v)
        {
            pid_t pid = (pid_t)json_integer_value(json_object_get(v, "pid"));
            json_t *st = json_object_get(v, "start");

            /*
             * Only the process the lab started: its pid may belong to another
             * process by now. Without a recorded start time (an older state
             * file) nothing is signalled here; the namespaces' processes are
             * killed with them below.
             */
            if (pid > 0 && json_is_integer(st) && json_integer_value(st) > 0 &&
                lab_proc_start(pid) == (long long)json_integer_value(st))
                kill(pid, SIGTERM);
        }
        usleep(300000);
    }
    n = ns_with_prefix(prefix, &names);
    if (!j && n == 0)
        return fl_errf(err, -ENOENT, "no lab with id %s", id);
    if (n > 0)
        r = ns_destroy(names, n, NULL, err);
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (j) {
        const char *dir = json_string_value(json_object_get(j, "dir"));
        char own[PATH_MAX];

        /* `lab up` keeps its files under LAB_STATE_DIR/<id>: those go too. */
        snprintf(own, sizeof(own), "%s/%s", LAB_STATE_DIR, id);
        if (r == 0 && dir && strcmp(dir, own) == 0) {
            pid_t pid = fork();

            if (pid == 0) {
                child_unblock();
                execl("/bin/rm", "rm", "-rf", "--", own, (char *)NULL);
                _exit(127);
            }
            if (pid > 0)
                waitpid(pid, NULL, 0);
        }
        json_decref(j);
    }
    if (r == 0)
        unlink(state);
    return r;
}

int lab_stale(const char *id, char *why, size_t len)
{
    char state[PATH_MAX];
    json_t *j, *start;
    long long now;
    pid_t pid;
    int r = 0;

    if (why && len)
        why[0] = '\0';
    snprintf(state, sizeof(state), "%s/%s.json", LAB_STATE_DIR, id);
    if ((j = json_load_file(state, 0, NULL)) == NULL)
        return 0;
    pid = (pid_t)json_integer_value(json_object_get(j, "controller_pid"));
    start = json_object_get(j, "controller_start");
    /* `lab up` and --keep-lab: left running on purpose, their controller has exited. */
    if (!json_is_true(json_object_get(j, "detached"))) {
        now = lab_proc_start(pid);
        if (now < 0) {
            r = 1;
            if (why)
                snprintf(why, len, "its controller (pid %d) is gone", (int)pid);
        } else if (json_is_integer(start) && json_integer_value(start) >= 0 &&
                   json_integer_value(start) != now) {
            r = 1;
            if (why)
                snprintf(why, len,
                         "its controller (pid %d) is gone (that pid is another process now)",
                         (int)pid);
        }
    }
    json_decref(j);
    return r;
}

int lab_list(char ***ids, size_t *n)
{
    DIR *d = opendir(LAB_STATE_DIR);
    struct dirent *e;
    char **v = NULL, **nv;
    size_t k = 0, len;

    *ids = NULL;
    *n = 0;
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    while ((e = readdir(d)) != NULL) {
        len = strlen(e->d_name);
        if (len != LAB_ID_LEN + 5 || strcmp(e->d_name + LAB_ID_LEN, ".json") != 0)
            continue;
        nv = realloc(v, (k + 1) * sizeof(*v));
        if (!nv)
            break;
        v = nv;
        v[k] = strndup(e->d_name, LAB_ID_LEN);
        if (v[k])
            k++;
    }
    closedir(d);
    *ids = v;
    *n = k;
    return 0;
}

char *lab_residue(const char *id)
{
    char prefix[64], **names = NULL, *out;
    size_t i, n, len = 1;

    snprintf(prefix, sizeof(prefix), "fl-%s-", id);
    n = ns_with_prefix(prefix, &names);
    for (i = 0; i < n; i++)
        len += strlen(names[i]) + 1;
    out = calloc(1, len);
    for (i = 0; i < n; i++) {
        if (out) {
            strcat(out, names[i]);
            strcat(out, "\n");
        }
        free(names[i]);
    }
    free(names);
    return out;
}
