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
 *
 * This file runs bring-up and teardown: the lab's names, lab_up,
 * lab_spawn and the agents, the control namespace, lab_down and the
 * emergency teardown. The rest, in lab_batch.c (the `ip -batch` builders),
 * lab_dirs.c (private directories), lab_ns.c (finding and deleting
 * namespaces) and lab_state.c (the state file, stale labs), shares
 * lab_int.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "faultline/file.h"
#include "faultline/timeutil.h"
#include "lab_int.h"

/* ---- emergency state (read by the controller's signal thread) ---------- */

static atomic_int em_active;
static pid_t em_pids[LAB_MAX_PROCS];
static atomic_int em_npids; /* em_pids[0..em_npids) are set before the count grows */
static char em_ip[PATH_MAX];
static char em_batch[PATH_MAX];
static char em_script[PATH_MAX];
static char em_state[PATH_MAX];

/* Prepare the emergency teardown's files. 0, or -errno with err. */
static int em_arm(struct lab *lab, struct fl_err *err)
{
    struct text t = {0};
    size_t i;
    int r;

    snprintf(em_ip, sizeof(em_ip), "%s", lab_ip_path());
    snprintf(em_batch, sizeof(em_batch), "%s/netns-del.batch", lab->dir);
    snprintf(em_state, sizeof(em_state), "%s", lab->state_file);
    lab_tx_add(&t, "netns del %s\nnetns del %s\n", lab->router_ns, lab->ctl_ns);
    for (i = 0; i < lab->n_hosts; i++)
        lab_tx_add(&t, "netns del %s\n", lab->host_ns[i]);
    for (i = 0; i < lab->n_grp; i++)
        lab_tx_add(&t, "netns del %s\n", lab->grp_ns[i]);
    if ((r = lab_tx_write(&t, em_batch)) < 0)
        return fl_errf(err, r, "cannot write %s: %s", em_batch, strerror(-r));
    /*
     * The script the emergency path execs: kill every process in the lab's
     * namespaces, whoever started it (a target launcher's servers too), then
     * delete the namespaces. Written now: the last resort does no more than exec it.
     */
    snprintf(em_script, sizeof(em_script), "%s/emergency-teardown.sh", lab->dir);
    lab_tx_add(&t, "for ns in %s %s", lab->router_ns, lab->ctl_ns);
    for (i = 0; i < lab->n_hosts; i++)
        lab_tx_add(&t, " %s", lab->host_ns[i]);
    for (i = 0; i < lab->n_grp; i++)
        lab_tx_add(&t, " %s", lab->grp_ns[i]);
    /* This script and the controller sit in the control namespace: spare them. */
    lab_tx_add(
        &t,
        "; do %s netns pids \"$ns\" 2>/dev/null | grep -vxE \"$$|$PPID\" | xargs -r kill -9; "
        "done\n",
        em_ip);
    lab_tx_add(&t, "exec %s -batch %s\n", em_ip, em_batch);
    if ((r = lab_tx_write(&t, em_script)) < 0)
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
        if (lab_ns_inode(lab->host_ns[i]) != 0) {
            fl_errf(err, -EEXIST, "namespace %s exists already", lab->host_ns[i]);
            lab_free(lab);
            return -EEXIST;
        }
    snprintf(lab->state_file, sizeof(lab->state_file), "%s/%s.json", LAB_STATE_DIR, lab->id);
    snprintf(lab->token_file, sizeof(lab->token_file), "%s/agent.token", lab->dir);
    if ((r = lab_write_file(lab->token_file, 0600, lab->token)) < 0) {
        fl_errf(err, r, "cannot write %s: %s", lab->token_file, strerror(-r));
        lab_free(lab);
        return r;
    }
    /* The state file first: a crash half-way leaves something `lab down` can find. */
    if ((r = lab_state_write(lab)) < 0) {
        lab_free(lab);
        return fl_errf(err, r, "cannot write %s: %s", lab->state_file, strerror(-r));
    }
    if ((r = em_arm(lab, err)) < 0 || (r = lab_build(lab, exp, err)) < 0) {
        lab_down(lab, 0, NULL);
        lab_free(lab);
        return r;
    }
    lab->up_ns = fl_now_ns() - t0;
    *out = lab;
    return 0;
}

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
    if ((r = lab_state_write(lab)) < 0)
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

    free(lab->agent_url);
    if ((lab->agent_url = calloc(t->n_hosts ? t->n_hosts : 1, sizeof(*lab->agent_url))) == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    for (i = 0; i < t->n_hosts; i++)
        snprintf(lab->agent_url[i], sizeof(lab->agent_url[i]), "%s", t->hosts[i].agent);
    for (i = 0; i < t->n_hosts; i++) {
        const struct exp_host *h = &t->hosts[i];
        char *argv[20];
        int k = 0;

        snprintf(listen, sizeof(listen), "%s:%d", lab_ip4(&h->control, a, sizeof(a)),
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
    r = lab_ns_destroy(names, n, lab->dir, err);
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
    free(lab->agent_url);
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

        lab_child_unblock();
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
