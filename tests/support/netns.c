/* Network-namespace fixtures for integration tests. See netns.h. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netns.h"
#include "testutil.h"

#define TN_MAX 64

static char made[TN_MAX][TN_NAME_MAX];
static int nmade;
static int orig_fd = -1;
static int registered;

const char *tn_name(const char *shortname)
{
    static char ring[8][TN_NAME_MAX];
    static int slot;
    static int owner; /* the test process: children must name the same namespaces */
    char *b = ring[slot++ % 8];

    if (owner == 0)
        owner = (int)getpid();
    snprintf(b, TN_NAME_MAX, "fl-t%d-%s", owner, shortname);
    return b;
}

int tn_create(const char *shortname)
{
    const char *n = tn_name(shortname);

    if (!registered) {
        atexit(tn_cleanup);
        registered = 1;
    }
    if (tu_sh("ip netns add %s", n) != 0)
        return -1;
    if (nmade < TN_MAX)
        snprintf(made[nmade++], TN_NAME_MAX, "%s", shortname);
    /*
     * No IPv6 duplicate address detection: link-local addresses (and their
     * local routes) would otherwise appear seconds later, in the middle of a
     * before/after snapshot comparison.
     */
    tu_sh("ip netns exec %s sysctl -qw net.ipv6.conf.all.accept_dad=0 "
          "net.ipv6.conf.default.accept_dad=0",
          n);
    return tu_sh("ip -n %s link set lo up", n) == 0 ? 0 : -1;
}

void tn_delete(const char *shortname)
{
    int i;

    tu_sh("ip netns del %s 2>/dev/null", tn_name(shortname));
    for (i = 0; i < nmade; i++)
        if (strcmp(made[i], shortname) == 0)
            made[i][0] = '\0';
}

void tn_cleanup(void)
{
    int i;

    for (i = 0; i < nmade; i++) {
        if (made[i][0] != '\0') {
            tu_sh("ip netns pids %s 2>/dev/null | xargs -r kill -9 2>/dev/null", tn_name(made[i]));
            tu_sh("ip netns del %s 2>/dev/null", tn_name(made[i]));
            made[i][0] = '\0';
        }
    }
    nmade = 0;
}

int tn_veth(const char *a, const char *ifa, const char *addr_a, const char *b, const char *ifb,
            const char *addr_b)
{
    char na[TN_NAME_MAX], nb[TN_NAME_MAX];

    snprintf(na, sizeof(na), "%s", tn_name(a));
    snprintf(nb, sizeof(nb), "%s", tn_name(b ? b : a));
    if (tu_sh("ip -n %s link add %s type veth peer name %s netns %s", na, ifa, ifb, nb) != 0)
        return -1;
    if (addr_a && tu_sh("ip -n %s addr add %s dev %s", na, addr_a, ifa) != 0)
        return -1;
    if (tu_sh("ip -n %s link set %s up", na, ifa) != 0)
        return -1;
    if (b == NULL)
        return 0;
    if (addr_b && tu_sh("ip -n %s addr add %s dev %s", nb, addr_b, ifb) != 0)
        return -1;
    return tu_sh("ip -n %s link set %s up", nb, ifb) == 0 ? 0 : -1;
}

int tn_exec(const char *ns, const char *fmt, ...)
{
    char cmd[3800];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return tu_sh("ip netns exec %s sh -c '%s'", tn_name(ns), cmd);
}

int tn_enter(const char *ns)
{
    char path[128];
    int fd, r;

    if (orig_fd < 0)
        orig_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof(path), "/run/netns/%s", tn_name(ns));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    r = setns(fd, CLONE_NEWNET);
    close(fd);
    return r;
}

void tn_leave(void)
{
    if (orig_fd >= 0)
        setns(orig_fd, CLONE_NEWNET);
}

char *tn_snapshot(const char *ns)
{
    const char *n = tn_name(ns);

    /* Counters and link statistics change with traffic; compare structure only. */
    return tu_sh_out("ip netns exec %s sh -c '"
                     "echo == nft; nft list ruleset 2>&1;"
                     "echo == rule; ip -4 rule; ip -6 rule;"
                     "echo == route; ip -4 route show table all; ip -6 route show table all;"
                     "echo == qdisc; tc qdisc show;"
                     "echo == link; ip -o link show | sed -e \"s/ qlen [0-9]*//\""
                     "' 2>&1",
                     n);
}

void tn_print_diff(const char *before, const char *after)
{
    char a[64], b[64];
    FILE *f;

    snprintf(a, sizeof(a), "/tmp/fl-t%d-before", (int)getpid());
    snprintf(b, sizeof(b), "/tmp/fl-t%d-after", (int)getpid());
    if ((f = fopen(a, "w")) != NULL) {
        fputs(before, f);
        fclose(f);
    }
    if ((f = fopen(b, "w")) != NULL) {
        fputs(after, f);
        fclose(f);
    }
    tu_sh("diff -u %s %s >&2; rm -f %s %s", a, b, a, b);
}

static int parse_addr(const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        *len = sizeof(*s4);
        return 0;
    }
    if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        *len = sizeof(*s6);
        return 0;
    }
    return -1;
}

int tn_tcp_server(const char *ns, const char *addr, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int pid, one = 1, ready[2];
    char c;

    if (parse_addr(addr, port, &ss, &len) < 0 || pipe(ready) < 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int s, cfd;

        close(ready[0]);
        if (tn_enter(ns) < 0)
            _exit(1);
        s = socket(ss.ss_family, SOCK_STREAM, 0);
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(s, (struct sockaddr *)&ss, len) < 0 || listen(s, 64) < 0)
            _exit(1);
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        close(ready[1]);
        for (;;) {
            cfd = accept(s, NULL, NULL);
            if (cfd < 0)
                continue;
            if (fork() == 0) {
                char buf[4096];
                ssize_t n;

                while ((n = read(cfd, buf, sizeof(buf))) > 0)
                    if (write(cfd, buf, (size_t)n) != n)
                        break;
                _exit(0);
            }
            close(cfd);
            while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
        }
    }
    close(ready[1]);
    if (read(ready[0], &c, 1) != 1) {
        close(ready[0]);
        waitpid(pid, NULL, 0);
        return -1;
    }
    close(ready[0]);
    return pid;
}

void tn_stop(int pid)
{
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

int tn_tcp_connect(const char *ns, const char *addr, uint16_t port, int timeout_ms,
                   double *elapsed_ms)
{
    struct sockaddr_storage ss;
    struct timespec t0, t1;
    struct pollfd pfd;
    socklen_t len, elen;
    int s, r, soerr = 0;

    if (parse_addr(addr, port, &ss, &len) < 0)
        return -EINVAL;
    if (tn_enter(ns) < 0)
        return -ENOENT;
    s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    tn_leave();
    if (s < 0)
        return -errno;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    r = connect(s, (struct sockaddr *)&ss, len);
    if (r < 0 && errno != EINPROGRESS) {
        r = -errno;
        goto out;
    }
    if (r < 0) {
        pfd.fd = s;
        pfd.events = POLLOUT;
        r = poll(&pfd, 1, timeout_ms);
        if (r == 0) {
            r = -ETIMEDOUT;
            goto out;
        }
        elen = sizeof(soerr);
        getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &elen);
        r = soerr ? -soerr : 0;
    }
out:
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (elapsed_ms)
        *elapsed_ms =
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    close(s);
    return r;
}
