/*
 * Integration tests of the rtnetlink and process kinds with real sockets in
 * two private network namespaces (a: 10.77.0.1 on va, b: 10.77.0.2 on vb,
 * joined by a veth pair; a TCP echo server in b). Each test proves the
 * effect (throughput, connect failures, process state), proves it is gone
 * after revert, and proves that each namespace's snapshot (rules, routes,
 * qdiscs, links) is exactly what it was before. Needs root.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/capability.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "faultline/inject.h"
#include "faultline/timeutil.h"
#include "inj_int.h"
#include "inj_rtnl.h"
#include "netns.h"
#include "testutil.h"

#define ADDR_B "10.77.0.2"
#define PORT   7077

struct fx {
    struct inj_ctx *ctx;
    char dir[64];
    char *snap_a, *snap_b;
    int server;
};

static char *settled_snapshot(const char *ns)
{
    char *s = NULL;
    int i;

    for (i = 0; i < 100; i++) {
        free(s);
        s = tn_snapshot(ns);
        if (s != NULL && strstr(s, "local fe80::") != NULL)
            break;
        usleep(50 * 1000);
    }
    return s;
}

static int setup(void **state)
{
    struct inj_config cfg = {0};
    struct fl_err e = {0};
    struct fx *x;

    if (!tu_is_root())
        return 0; /* each test skips visibly */
    x = calloc(1, sizeof(*x));
    assert_non_null(x);
    assert_int_equal(tn_create("a"), 0);
    assert_int_equal(tn_create("b"), 0);
    assert_int_equal(tn_veth("a", "va", "10.77.0.1/24", "b", "vb", ADDR_B "/24"), 0);
    x->server = tn_tcp_server("b", ADDR_B, PORT);
    assert_true(x->server > 0);
    /* IPv6 link-local addresses get their local route after DAD: wait for it */
    x->snap_a = settled_snapshot("a");
    x->snap_b = settled_snapshot("b");
    assert_non_null(x->snap_a);
    assert_non_null(x->snap_b);
    snprintf(x->dir, sizeof(x->dir), "/tmp/fl-rtnl-XXXXXX");
    assert_non_null(mkdtemp(x->dir));
    cfg.state_dir = x->dir;
    assert_int_equal(tn_enter("a"), 0);
    if (inj_open(&cfg, &x->ctx, &e) != 0) {
        tn_leave();
        fail_msg("inj_open: %s", e.msg);
    }
    tn_leave();
    *state = x;
    return 0;
}

/* Snapshots must come back exactly (links may need a moment after set up). */
static void assert_snapshot_eventually(const char *ns, const char *want)
{
    char *now = NULL;
    int i;

    for (i = 0; i < 50; i++) {
        free(now);
        now = tn_snapshot(ns);
        if (now != NULL && strcmp(now, want) == 0)
            break;
        usleep(100 * 1000);
    }
    if (now == NULL || strcmp(now, want) != 0) {
        fprintf(stderr, "--- before (%s)\n%s--- after\n%s", ns, want, now ? now : "(null)");
        free(now);
        fail_msg("namespace %s is not as it was before", ns);
    }
    free(now);
}

static int teardown(void **state)
{
    struct fx *x = *state;

    if (x == NULL)
        return 0;
    inj_close(x->ctx);
    tn_stop(x->server);
    tu_sh("rm -rf %s", x->dir);
    free(x->snap_a);
    free(x->snap_b);
    free(x);
    tn_cleanup();
    *state = NULL;
    return 0;
}

static struct inj_fault *fault(const char *text)
{
    struct fl_err e = {0};
    struct inj_fault *f = NULL;

    if (inj_fault_parse(text, strlen(text), &f, &e) != 0)
        fail_msg("parse %s: %s", text, e.msg);
    return f;
}

static void apply_ok(struct fx *x, const char *id, const char *text)
{
    struct inj_fault *f = fault(text);
    struct fl_err e = {0};
    int r = inj_apply(x->ctx, id, f, &e);

    inj_fault_free(f);
    if (r != 0)
        fail_msg("apply %s: %d %s", text, r, e.msg);
}

static void revert_ok(struct fx *x, const char *id)
{
    struct fl_err e = {0};
    int r = inj_revert(x->ctx, id, &e);

    if (r != 0)
        fail_msg("revert %s: %d %s", id, r, e.msg);
    /* twice is safe: nothing there any more */
    assert_int_equal(inj_revert(x->ctx, id, &e), 1);
}

static void check_clean(struct fx *x)
{
    assert_snapshot_eventually("a", x->snap_a);
    assert_snapshot_eventually("b", x->snap_b);
}

static double now_s(void)
{
    return (double)fl_now_ns() / 1e9;
}

/*
 * Send total bytes from namespace a to the echo server and read them back;
 * returns goodput in bytes/s of the whole exchange, or -1. Bounded by 30s.
 */
static double echo_throughput(size_t total)
{
    static char buf[65536];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    size_t sent = 0, got = 0;
    double t0, t1;
    int s;

    inet_pton(AF_INET, ADDR_B, &sa.sin_addr);
    if (tn_enter("a") < 0)
        return -1;
    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    tn_leave();
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    fcntl(s, F_SETFL, O_NONBLOCK);
    memset(buf, 'x', sizeof(buf));
    t0 = now_s();
    while (got < total && now_s() - t0 < 30) {
        struct pollfd p = {.fd = s, .events = POLLIN | (sent < total ? POLLOUT : 0)};
        ssize_t n;

        if (poll(&p, 1, 200) <= 0)
            continue;
        if ((p.revents & POLLOUT) && sent < total) {
            size_t want = total - sent < sizeof(buf) ? total - sent : sizeof(buf);

            n = write(s, buf, want);
            if (n > 0)
                sent += (size_t)n;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            char rb[65536];

            n = read(s, rb, sizeof(rb));
            if (n > 0)
                got += (size_t)n;
            else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                break;
        }
    }
    t1 = now_s();
    close(s);
    if (got < total)
        return -1;
    return (double)total / (t1 - t0);
}

/* ---- tests ---- */

static void bandwidth_should_shape_to_rate_and_restore(void **state)
{
    struct fx *x = *state;
    double base, shaped, after;
    const double rate = 125000; /* 1mbit in bytes/s */

    TU_REQUIRE_ROOT();
    base = echo_throughput(375000);
    assert_true(base > 0);
    apply_ok(x, "bw1", "{\"kind\":\"bandwidth\",\"dev\":\"va\",\"rate\":\"1mbit\"}");
    shaped = echo_throughput(375000);
    fprintf(stderr, "bandwidth: before %.0f B/s, with tbf 1mbit %.0f B/s (%.1f%% of 125000), ",
            base, shaped, shaped / rate * 100);
    /* goodput is below the wire rate by the TCP/IP headers (~5%) plus the burst */
    assert_true(shaped > 0.75 * rate);
    assert_true(shaped < 1.10 * rate);
    revert_ok(x, "bw1");
    after = echo_throughput(375000);
    fprintf(stderr, "after revert %.0f B/s\n", after);
    assert_true(after > 10 * rate);
    check_clean(x);
}

static void link_down_should_cut_and_restore(void **state)
{
    struct fx *x = *state;
    double ms = 0;

    TU_REQUIRE_ROOT();
    assert_int_equal(tn_tcp_connect("a", ADDR_B, PORT, 2000, &ms), 0);
    apply_ok(x, "ld1", "{\"kind\":\"link-down\",\"dev\":\"va\"}");
    assert_int_equal(tu_sh("ip -n %s link show va | grep -q 'faultline:ld1:'", tn_name("a")), 0);
    assert_true(tn_tcp_connect("a", ADDR_B, PORT, 1000, &ms) < 0);
    revert_ok(x, "ld1");
    {
        int i, r = -1;

        for (i = 0; i < 30 && r != 0; i++) {
            r = tn_tcp_connect("a", ADDR_B, PORT, 1000, &ms);
            if (r != 0)
                usleep(100 * 1000);
        }
        assert_int_equal(r, 0);
    }
    check_clean(x);
}

static void link_down_should_refuse_unknown_interface(void **state)
{
    struct fx *x = *state;
    struct inj_fault *f;
    struct fl_err e = {0};

    TU_REQUIRE_ROOT();
    f = fault("{\"kind\":\"link-down\",\"dev\":\"nosuch0\"}");
    assert_int_equal(inj_apply(x->ctx, "ld2", f, &e), -ENODEV);
    assert_non_null(strstr(e.msg, "unknown interface 'nosuch0'"));
    assert_false(inj_has(x->ctx, "ld2"));
    inj_fault_free(f);
    f = fault("{\"kind\":\"bandwidth\",\"dev\":\"nosuch0\",\"rate\":\"1mbit\"}");
    fl_err_clear(&e);
    assert_int_equal(inj_apply(x->ctx, "bw2", f, &e), -ENODEV);
    assert_non_null(strstr(e.msg, "unknown interface 'nosuch0'"));
    inj_fault_free(f);
    check_clean(x);
}

static void blackhole_prohibit_should_fail_fast_and_restore(void **state)
{
    struct fx *x = *state;
    double ms = 0;
    int r;

    TU_REQUIRE_ROOT();
    assert_int_equal(tn_tcp_connect("a", ADDR_B, PORT, 2000, &ms), 0);
    apply_ok(x, "bh1",
             "{\"kind\":\"blackhole\",\"cidrs\":[\"" ADDR_B "/32\",\"fd77::/64\"],"
             "\"type\":\"prohibit\"}");
    assert_int_equal(
        tu_sh("ip -n %s route show proto 250 | grep -q 'prohibit " ADDR_B "'", tn_name("a")), 0);
    r = tn_tcp_connect("a", ADDR_B, PORT, 3000, &ms);
    fprintf(stderr, "prohibit: connect -> %d (%s) in %.2f ms\n", r, strerror(-r), ms);
    assert_true(r == -EACCES || r == -EHOSTUNREACH || r == -EPERM);
    assert_true(ms < 500);
    revert_ok(x, "bh1");
    assert_int_equal(tn_tcp_connect("a", ADDR_B, PORT, 2000, &ms), 0);
    check_clean(x);
}

static void blackhole_should_refuse_existing_route(void **state)
{
    struct fx *x = *state;
    struct inj_fault *f;
    struct fl_err e = {0};

    TU_REQUIRE_ROOT();
    /* 10.77.0.0/24 is the connected route of va: never shadowed */
    f = fault("{\"kind\":\"blackhole\",\"cidrs\":[\"10.66.0.0/16\",\"10.77.0.0/24\"]}");
    assert_int_equal(inj_apply(x->ctx, "bh2", f, &e), -EEXIST);
    assert_non_null(strstr(e.msg, "already exists"));
    inj_fault_free(f);
    check_clean(x);
}

static void blackhole_drop_should_time_out(void **state)
{
    struct fx *x = *state;
    double ms = 0;
    int server, r;

    TU_REQUIRE_ROOT();
    /* A server in a, so that b's connects need a's answers. */
    server = tn_tcp_server("a", "10.77.0.1", PORT + 1);
    assert_true(server > 0);
    assert_int_equal(tn_tcp_connect("b", "10.77.0.1", PORT + 1, 2000, &ms), 0);
    apply_ok(x, "bh3", "{\"kind\":\"blackhole\",\"cidrs\":[\"" ADDR_B "/32\"]}");
    /* a's own connects: the output route lookup fails, EINVAL at once (no timeout). */
    r = tn_tcp_connect("a", ADDR_B, PORT, 1000, &ms);
    assert_int_equal(r, -EINVAL);
    assert_true(ms < 500);
    /* b's SYN reaches a, a's SYN-ACK is dropped silently: b waits out its whole timeout. */
    r = tn_tcp_connect("b", "10.77.0.1", PORT + 1, 1000, &ms);
    assert_int_equal(r, -ETIMEDOUT);
    assert_true(ms >= 1000);
    revert_ok(x, "bh3");
    assert_int_equal(tn_tcp_connect("a", ADDR_B, PORT, 2000, &ms), 0);
    assert_int_equal(tn_tcp_connect("b", "10.77.0.1", PORT + 1, 2000, &ms), 0);
    tn_stop(server);
    check_clean(x);
}

static void netem_should_report_missing_module_or_delay(void **state)
{
    struct fx *x = *state;
    struct fl_err pe = {0}, e = {0};
    struct inj_fault *f;
    int probe, r;
    double ms0 = 0, ms1 = 0;

    TU_REQUIRE_ROOT();
    probe = inj_probe_netem(x->ctx, &pe);
    fprintf(stderr, "netem probe: %d %s\n", probe, pe.msg);
    f = fault("{\"kind\":\"latency\",\"dev\":\"va\",\"delay\":\"100ms\"}");
    if (probe < 0) {
        tu_note_branch(__func__, "kernel without netem: the missing module is reported");
        assert_int_equal(probe, -EOPNOTSUPP);
        assert_int_equal(strncmp(pe.msg, "kernel lacks sch_netem: ", 24), 0);
        r = inj_apply(x->ctx, "lat1", f, &e);
        fprintf(stderr, "latency apply: %d %s\n", r, e.msg);
        assert_int_equal(r, -EOPNOTSUPP);
        assert_non_null(strstr(e.msg, "kernel lacks sch_netem: Specified qdisc kind is unknown"));
        assert_false(inj_has(x->ctx, "lat1"));
    } else {
        tu_note_branch(__func__, "kernel with netem: the delay is measured");
        assert_int_equal(tn_tcp_connect("a", ADDR_B, PORT, 2000, &ms0), 0);
        r = inj_apply(x->ctx, "lat1", f, &e);
        assert_int_equal(r, 0);
        assert_int_equal(tn_tcp_connect("a", ADDR_B, PORT, 3000, &ms1), 0);
        fprintf(stderr, "netem: connect %.2f ms -> %.2f ms\n", ms0, ms1);
        assert_true(ms1 - ms0 > 90);
        revert_ok(x, "lat1");
    }
    inj_fault_free(f);
    check_clean(x);
}

static void qdisc_should_refuse_host_qdisc(void **state)
{
    struct fx *x = *state;
    struct inj_fault *f;
    struct fl_err e = {0};
    char *with;

    TU_REQUIRE_ROOT();
    assert_int_equal(tu_sh("ip netns exec %s tc qdisc add dev va root handle 1: htb", tn_name("a")),
                     0);
    with = tn_snapshot("a");
    f = fault("{\"kind\":\"bandwidth\",\"dev\":\"va\",\"rate\":\"1mbit\"}");
    assert_int_equal(inj_apply(x->ctx, "bw3", f, &e), -EBUSY);
    assert_non_null(strstr(e.msg, "refusing to replace"));
    inj_fault_free(f);
    assert_snapshot_eventually("a", with);
    free(with);
    /* sweep must leave the host's qdisc alone */
    assert_int_equal(inj_sweep(x->ctx, &e), 0);
    assert_int_equal(
        tu_sh("ip netns exec %s tc qdisc show dev va | grep -q 'htb 1:'", tn_name("a")), 0);
    assert_int_equal(tu_sh("ip netns exec %s tc qdisc del dev va root", tn_name("a")), 0);
    check_clean(x);
}

static void sweep_should_remove_everything_without_journal(void **state)
{
    struct fx *x = *state;
    struct fl_err e = {0};
    struct inj_config cfg = {0};

    TU_REQUIRE_ROOT();
    apply_ok(x, "s1", "{\"kind\":\"bandwidth\",\"dev\":\"va\",\"rate\":\"10mbit\"}");
    apply_ok(x, "s2", "{\"kind\":\"blackhole\",\"cidrs\":[\"10.55.0.0/16\",\"fd55::/48\"]}");
    apply_ok(x, "s3", "{\"kind\":\"link-down\",\"dev\":\"va\"}");
    /* forget the journal: sweep works from ownership marks alone */
    inj_close(x->ctx);
    x->ctx = NULL;
    tu_sh("rm -f %s/*", x->dir);
    cfg.state_dir = x->dir;
    assert_int_equal(tn_enter("a"), 0);
    assert_int_equal(inj_open(&cfg, &x->ctx, &e), 0);
    tn_leave();
    assert_int_equal(inj_sweep(x->ctx, &e), 0);
    assert_int_equal(inj_sweep(x->ctx, &e), 0); /* twice is safe */
    check_clean(x);
}

/* Open file descriptors of this process (a socket left open would keep a namespace alive). */
static char *open_fds(void)
{
    char *out = calloc(1, 16384), path[300], link[256];
    struct dirent *de;
    size_t used = 0;
    DIR *d = opendir("/proc/self/fd");
    ssize_t n;

    assert_non_null(out);
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d))
            continue;
        snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
        n = readlink(path, link, sizeof(link) - 1);
        link[n > 0 ? n : 0] = '\0';
        used += (size_t)snprintf(out + used, used < 16384 ? 16384 - used : 0, "%s %s\n", de->d_name,
                                 link);
    }
    closedir(d);
    assert_true(used < 16384);
    return out;
}

/*
 * Child of probes_should_leave_nothing_behind: without CAP_SYS_ADMIN the
 * probes cannot make their private namespace and fall back to the context's
 * namespace (a), where the test can see what they leave. Exit codes: 0 ok,
 * 2 capabilities, 3 unshare still allowed, 10 + n probe n failed.
 */
static int probes_in_callers_namespace(struct fx *x)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct d[2];
    struct fl_err e = {0};

    if (syscall(SYS_capget, &h, d) < 0)
        return 2;
    d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
    d[CAP_SYS_ADMIN / 32].permitted &= ~(1u << (CAP_SYS_ADMIN % 32));
    d[CAP_SYS_ADMIN / 32].inheritable &= ~(1u << (CAP_SYS_ADMIN % 32));
    if (syscall(SYS_capset, &h, d) < 0)
        return 2;
    if (unshare(CLONE_NEWNET) == 0)
        return 3;
    if (inj_probe_tbf(x->ctx, &e) != 0)
        return 10;
    if (inj_probe_link(x->ctx, &e) != 0)
        return 11;
    if (inj_probe_route(x->ctx, &e) != 0)
        return 12;
    (void)inj_probe_netem(x->ctx, &e);
    return 0;
}

static void probes_should_leave_nothing_behind(void **state)
{
    struct fx *x = *state;
    struct fl_err e = {0};
    char *host_before, *host_after, *fds_before, *fds_after;
    int status = -1;
    pid_t pid;

    TU_REQUIRE_ROOT();
    /*
     * Private namespace (the normal path): the host and a are untouched, and
     * no descriptor stays open (an rtnetlink socket left open would keep the
     * probe's namespace, and whatever it made there, alive).
     */
    host_before = tu_sh_out("ip -o link show | grep -c flprobe || true");
    fds_before = open_fds();
    assert_non_null(fds_before);
    assert_int_equal(inj_probe_tbf(x->ctx, &e), 0);
    assert_int_equal(inj_probe_link(x->ctx, &e), 0);
    assert_int_equal(inj_probe_route(x->ctx, &e), 0);
    fl_err_clear(&e);
    (void)inj_probe_netem(x->ctx, &e);
    host_after = tu_sh_out("ip -o link show | grep -c flprobe || true");
    fds_after = open_fds();
    assert_string_equal(host_before, host_after);
    assert_string_equal(fds_before, fds_after);
    free(host_before);
    free(host_after);
    free(fds_before);
    free(fds_after);
    check_clean(x);

    /* Fallback (no CAP_SYS_ADMIN): the probes run in a itself, which must come back exactly. */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(probes_in_callers_namespace(x));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    check_clean(x);
}

/* Start `sleep <arg>` inside namespace a as our child; returns its pid. */
static pid_t start_sleep(const char *arg)
{
    pid_t pid = fork();

    if (pid == 0) {
        if (tn_enter("a") < 0)
            _exit(1);
        execlp("sleep", "sleep", arg, (char *)NULL);
        _exit(127);
    }
    usleep(100 * 1000);
    return pid;
}

static char proc_state(pid_t pid)
{
    char path[64], buf[512], *p;
    FILE *fp;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fp = fopen(path, "r");
    if (fp == NULL)
        return '?';
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

static void process_should_stop_continue_and_kill(void **state)
{
    struct fx *x = *state;
    char spec[512], pidfile[128], arg[32];
    int status = 0;
    pid_t pid;
    FILE *fp;

    TU_REQUIRE_ROOT();
    snprintf(arg, sizeof(arg), "60.%d", (int)getpid() % 100000);
    pid = start_sleep(arg);
    assert_true(pid > 0);
    assert_int_equal(proc_state(pid), 'S');
    snprintf(pidfile, sizeof(pidfile), "%s/sleep.pid", x->dir);
    fp = fopen(pidfile, "w");
    assert_non_null(fp);
    fprintf(fp, "%d\n", (int)pid);
    fclose(fp);
    snprintf(spec, sizeof(spec),
             "{\"kind\":\"process\",\"action\":\"stop\",\"target\":{\"pidfile\":\"%s\"}}", pidfile);
    apply_ok(x, "p1", spec);
    assert_int_equal(proc_state(pid), 'T');
    revert_ok(x, "p1");
    usleep(50 * 1000);
    assert_int_equal(proc_state(pid), 'S');
    /* kill by command line; no restart_cmd: revert has nothing to do */
    snprintf(spec, sizeof(spec),
             "{\"kind\":\"process\",\"action\":\"kill\",\"target\":{\"match\":\"sleep %s\"}}", arg);
    apply_ok(x, "p2", spec);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    {
        struct fl_err e = {0};

        assert_int_equal(inj_revert(x->ctx, "p2", &e), 1);
    }
    /* nothing left to match: refused, nothing journaled */
    {
        struct inj_fault *f = fault(spec);
        struct fl_err e = {0};

        assert_int_equal(inj_apply(x->ctx, "p3", f, &e), -ESRCH);
        assert_false(inj_has(x->ctx, "p3"));
        inj_fault_free(f);
    }
    check_clean(x);
}

static void process_restart_should_start_command(void **state)
{
    struct fx *x = *state;
    char spec[768], arg[32], marker[128], pidfile[128];
    int status = 0, i;
    pid_t pid;
    FILE *fp;

    TU_REQUIRE_ROOT();
    snprintf(arg, sizeof(arg), "61.%d", (int)getpid() % 100000);
    snprintf(marker, sizeof(marker), "%s/restarted", x->dir);
    pid = start_sleep(arg);
    snprintf(pidfile, sizeof(pidfile), "%s/r.pid", x->dir);
    fp = fopen(pidfile, "w");
    assert_non_null(fp);
    fprintf(fp, "%d\n", (int)pid);
    fclose(fp);
    snprintf(spec, sizeof(spec),
             "{\"kind\":\"process\",\"action\":\"restart\",\"target\":{\"pidfile\":\"%s\"},"
             "\"restart_cmd\":[\"touch\",\"%s\"]}",
             pidfile, marker);
    apply_ok(x, "r1", spec);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    for (i = 0; i < 50 && access(marker, F_OK) != 0; i++)
        usleep(20 * 1000);
    assert_int_equal(access(marker, F_OK), 0);
    {
        struct fl_err e = {0};

        assert_int_equal(inj_revert(x->ctx, "r1", &e), 1);
    }
    check_clean(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(bandwidth_should_shape_to_rate_and_restore, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(link_down_should_cut_and_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(link_down_should_refuse_unknown_interface, setup, teardown),
        cmocka_unit_test_setup_teardown(blackhole_prohibit_should_fail_fast_and_restore, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(blackhole_should_refuse_existing_route, setup, teardown),
        cmocka_unit_test_setup_teardown(blackhole_drop_should_time_out, setup, teardown),
        cmocka_unit_test_setup_teardown(netem_should_report_missing_module_or_delay, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(qdisc_should_refuse_host_qdisc, setup, teardown),
        cmocka_unit_test_setup_teardown(sweep_should_remove_everything_without_journal, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(probes_should_leave_nothing_behind, setup, teardown),
        cmocka_unit_test_setup_teardown(process_should_stop_continue_and_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(process_restart_should_start_command, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
