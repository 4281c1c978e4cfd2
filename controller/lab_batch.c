/*
 * Building a lab's network with iproute2: the batch files (a growable text
 * buffer), running `ip [-n ns] -batch` in a child, and lab_build, which
 * writes and runs every namespace's batch (router, control network, hosts,
 * client groups) in as few parallel steps as it can.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab_int.h"

const char *lab_ip_path(void)
{
    static const char *const cands[] = {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip", NULL};
    size_t i;

    for (i = 0; cands[i]; i++)
        if (access(cands[i], X_OK) == 0)
            return cands[i];
    return "ip";
}

/* The last non-empty line of a file, for error messages. */
void lab_last_line(const char *path, char *buf, size_t len)
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
void lab_child_unblock(void)
{
    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Start `ip [-n ns] -batch file` with stderr to errlog; returns the pid or -errno. */
pid_t lab_ip_batch_start(const char *ns, const char *file, const char *errlog)
{
    const char *ip = lab_ip_path();
    pid_t pid = fork();

    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int fd = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0644);

        lab_child_unblock();
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

int lab_wait_ok(pid_t pid)
{
    int st;

    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

void __attribute__((format(printf, 2, 3))) lab_tx_add(struct text *t, const char *fmt, ...)
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

int lab_tx_write(struct text *t, const char *path)
{
    int r = t->oom ? -ENOMEM : lab_write_file(path, 0644, t->s ? t->s : "");

    free(t->s);
    memset(t, 0, sizeof(*t));
    return r;
}

const char *lab_ip4(const struct fl_cidr *c, char *buf, size_t len)
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
    return lab_wait_ok(pid);
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
    if ((r = lab_tx_write(tx, path)) < 0)
        return fl_errf(err, r, "cannot write %s: %s", path, strerror(-r));
    if ((pid = lab_ip_batch_start(ns, path, log)) < 0)
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
        else if (lab_wait_ok(pids[i]) < 0)
            rc = -EIO;
    if (not_started)
        return not_started;
    if (rc == 0)
        return 0;
    lab_last_line(log, msg, sizeof(msg));
    return fl_errf(err, rc, "%s failed: %s (see %s)", what, msg, log);
}

/* The router: a bridge per zone with its gateway, a data veth per host, the clients' leg. */
static void router_batch(struct text *tx, const struct lab *lab, const struct exp_topology *t)
{
    char g[64];
    size_t i, r, z;

    lab_tx_add(tx, "link set lo up\n");
    for (r = 0; r < t->n_regions; r++) {
        const struct exp_region *reg = &t->regions[r];

        for (z = 0; z < reg->n_zones; z++) {
            const struct exp_zone *zn = &reg->zones[z];

            lab_tx_add(tx, "link add br%zuz%zu type bridge\n", r + 1, z + 1);
            lab_tx_add(tx, "addr add %s/%u dev br%zuz%zu\n", lab_ip4(&zn->gateway, g, sizeof(g)),
                       zn->cidr.prefix, r + 1, z + 1);
            lab_tx_add(tx, "link set br%zuz%zu up\n", r + 1, z + 1);
            for (i = zn->first_host; i < zn->first_host + zn->n_hosts; i++) {
                lab_tx_add(tx, "link add d%zu type veth peer name %s netns %s\n", i, LAB_DATA_DEV,
                           lab->host_ns[i]);
                lab_tx_add(tx, "link set d%zu master br%zuz%zu\n", i, r + 1, z + 1);
                lab_tx_add(tx, "link set d%zu up\n", i);
            }
        }
    }
    lab_tx_add(tx, "link add cli type veth peer name cli0 netns %s\n", lab->ctl_ns);
    lab_tx_add(tx, "addr add %s/24 dev cli\nlink set cli up\n", LAB_CLIENT_GW);
    for (i = 0; i < lab->n_grp; i++) {
        long r1 = lab->grp_place[i][0] + 1, gz = lab->grp_place[i][1];
        struct fl_cidr a, gw;
        char dev[48];

        group_addr(t, lab->grp_place[i], &a, &gw);
        if (gz < 0) {
            snprintf(dev, sizeof(dev), "g%ld", r1);
            lab_tx_add(tx, "link add br%ldz0 type bridge\n", r1);
            lab_tx_add(tx, "addr add %s/27 dev br%ldz0\nlink set br%ldz0 up\n",
                       lab_ip4(&gw, g, sizeof(g)), r1, r1);
        } else {
            snprintf(dev, sizeof(dev), "g%ldz%ld", r1, gz + 1);
        }
        lab_tx_add(tx, "link add %s type veth peer name %s netns %s\n", dev, LAB_DATA_DEV,
                   lab->grp_ns[i]);
        if (gz < 0)
            lab_tx_add(tx, "link set %s master br%ldz0\n", dev, r1);
        else
            lab_tx_add(tx, "link set %s master br%ldz%ld\n", dev, r1, gz + 1);
        lab_tx_add(tx, "link set %s up\n", dev);
    }
}

/* A client group's namespace: its data address in its region or zone, the one route. */
static void group_batch(struct text *tx, const struct exp_topology *t, const long place[2])
{
    struct fl_cidr a, gw;
    char as[64], gs[64];

    group_addr(t, place, &a, &gw);
    lab_tx_add(tx, "link set lo up\n");
    lab_tx_add(tx, "addr add %s/27 dev %s\nlink set %s up\n", lab_ip4(&a, as, sizeof(as)),
               LAB_DATA_DEV, LAB_DATA_DEV);
    lab_tx_add(tx, "route add %s via %s\n", LAB_DATA_NET, lab_ip4(&gw, gs, sizeof(gs)));
}

/* The control namespace: a bridge with the controller's address, a control veth per host. */
static void control_batch(struct text *tx, const struct lab *lab, const struct exp_topology *t)
{
    char a[64];
    size_t i;

    lab_tx_add(tx, "link set lo up\nlink add ctlbr type bridge\n");
    lab_tx_add(tx, "addr add %s/%u dev ctlbr\nlink set ctlbr up\n",
               lab_ip4(&t->controller, a, sizeof(a)), t->control.prefix);
    for (i = 0; i < t->n_hosts; i++) {
        lab_tx_add(tx, "link add c%zu type veth peer name %s netns %s\n", i, LAB_CTL_DEV,
                   lab->host_ns[i]);
        lab_tx_add(tx, "link set c%zu master ctlbr\nlink set c%zu up\n", i, i);
    }
}

/* Host i: its data and control addresses, links up, the one route. */
static void host_batch(struct text *tx, const struct exp_topology *t, size_t i)
{
    const struct exp_host *h = &t->hosts[i];
    const struct exp_zone *zn = &t->regions[h->region].zones[h->zone];
    char a[64], g[64];

    lab_tx_add(tx, "link set lo up\n");
    lab_tx_add(tx, "addr add %s/%u dev %s\n", lab_ip4(&h->data, a, sizeof(a)), zn->cidr.prefix,
               LAB_DATA_DEV);
    lab_tx_add(tx, "link set %s up\n", LAB_DATA_DEV);
    lab_tx_add(tx, "addr add %s/%u dev %s\n", lab_ip4(&h->control, a, sizeof(a)), t->control.prefix,
               LAB_CTL_DEV);
    lab_tx_add(tx, "link set %s up\n", LAB_CTL_DEV);
    lab_tx_add(tx, "route add %s via %s\n", LAB_DATA_NET, lab_ip4(&zn->gateway, g, sizeof(g)));
}

/*
 * Build the lab in three steps of iproute2 batches: 1. every namespace;
 * 2. the router and the control network side by side; 3. every host and
 * the control namespace's clients leg in parallel, while a forked child
 * turns on forwarding in the router.
 */
int lab_build(struct lab *lab, const struct experiment *exp, struct fl_err *err)
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
    lab_tx_add(&tx, "netns add %s\nnetns add %s\n", lab->router_ns, lab->ctl_ns);
    for (i = 0; i < t->n_hosts; i++)
        lab_tx_add(&tx, "netns add %s\n", lab->host_ns[i]);
    for (i = 0; i < lab->n_grp; i++)
        lab_tx_add(&tx, "netns add %s\n", lab->grp_ns[i]);
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
    lab_tx_add(&tx, "addr add %s/24 dev cli0\nlink set cli0 up\n", LAB_CLIENT_ADDR);
    lab_tx_add(&tx, "route add %s via %s\n", LAB_DATA_NET, LAB_CLIENT_GW);
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
