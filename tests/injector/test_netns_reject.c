/*
 * mode: reject applied on both sides, as the run loop does for every
 * partition and isolate. Two namespaces a (198.18.1.1, fd00:18:1::1) and b
 * (198.18.2.1, fd00:18:2::1) on one veth. Each side's fault must let the
 * partner's answers through (TCP reset, ICMP/ICMPv6 unreachable) so a connect
 * is refused at once from either side and UDP gets "port unreachable", while
 * the data of an established flow is still cut. Before/after snapshots of
 * both namespaces must be equal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "faultline/inject.h"
#include "netns.h"
#include "testutil.h"

#define PORT    7000
#define FAST_MS 100.0
#define SLOW_MS 2000
#define NHOSTS  2
#define PART_GROUPS \
    "[[\"198.18.1.0/24\",\"fd00:18:1::/64\"],[\"198.18.2.0/24\",\"fd00:18:2::/64\"]]"

static const char *hosts[NHOSTS] = {"a", "b"};
static const char *addr4[NHOSTS] = {"198.18.1.1", "198.18.2.1"};
static const char *addr6[NHOSTS] = {"fd00:18:1::1", "fd00:18:2::1"};
static int servers[NHOSTS];
static char *snap[NHOSTS];
static char statedir[128];
static struct inj_ctx *ctx[NHOSTS];

static int topo_up(void **state)
{
    int i;

    (void)state;
    if (!tu_is_root())
        return 0;
    if (tn_create("a") < 0 || tn_create("b") < 0 ||
        tn_veth("a", "eth0", "198.18.1.1/16", "b", "eth0", "198.18.2.1/16") < 0) {
        fprintf(stderr, "setup: cannot wire a and b\n");
        return -1;
    }
    for (i = 0; i < NHOSTS; i++) {
        tn_exec(hosts[i], "ip addr add %s/32 dev eth0 nodad", addr6[i]);
        servers[i] = tn_tcp_server(hosts[i], "::", PORT);
        if (servers[i] < 0) {
            fprintf(stderr, "setup: cannot start a TCP server in %s\n", hosts[i]);
            return -1;
        }
    }
    snprintf(statedir, sizeof(statedir), "/tmp/fl-t%d-reject", (int)getpid());
    return 0;
}

static int topo_down(void **state)
{
    int i;

    (void)state;
    for (i = 0; i < NHOSTS; i++) {
        tn_stop(servers[i]);
        free(snap[i]);
    }
    tn_cleanup();
    tu_sh("rm -rf %s", statedir);
    return 0;
}

static void take_snapshots(void)
{
    int i;

    for (i = 0; i < NHOSTS; i++) {
        free(snap[i]);
        snap[i] = tn_snapshot(hosts[i]);
        assert_non_null(snap[i]);
    }
}

static void assert_snapshots_unchanged(void)
{
    int i;

    for (i = 0; i < NHOSTS; i++) {
        char *now = tn_snapshot(hosts[i]);

        assert_non_null(now);
        if (strcmp(now, snap[i]) != 0) {
            tn_print_diff(snap[i], now);
            fail_msg("namespace %s changed (diff above)", hosts[i]);
        }
        free(now);
    }
}

/* Apply spec as id in both namespaces (each enforces its own ingress). */
static void apply_both(const char *id, const char *spec)
{
    struct inj_config cfg = {0};
    struct inj_fault *f = NULL;
    struct fl_err e;
    char dir[192];
    int i;

    fl_err_clear(&e);
    if (inj_fault_parse(spec, strlen(spec), &f, &e) < 0)
        fail_msg("parse: %s", e.msg);
    for (i = 0; i < NHOSTS; i++) {
        snprintf(dir, sizeof(dir), "%s/%s", statedir, hosts[i]);
        cfg.state_dir = dir;
        assert_int_equal(tn_enter(hosts[i]), 0);
        if (ctx[i] == NULL && inj_open(&cfg, &ctx[i], &e) < 0) {
            tn_leave();
            fail_msg("inj_open in %s: %s", hosts[i], e.msg);
        }
        tn_leave();
        if (inj_apply(ctx[i], id, f, &e) != 0)
            fail_msg("apply %s in %s: %s", id, hosts[i], e.msg);
    }
    inj_fault_free(f);
}

static void revert_both(const char *id)
{
    struct fl_err e;
    int i;

    for (i = 0; i < NHOSTS; i++) {
        fl_err_clear(&e);
        if (inj_revert(ctx[i], id, &e) < 0)
            fail_msg("revert %s in %s: %s", id, hosts[i], e.msg);
    }
}

/* After every test: close the contexts and sweep, so a failure leaves nothing behind. */
static int test_teardown(void **state)
{
    int i;

    (void)state;
    for (i = 0; i < NHOSTS; i++) {
        if (ctx[i] != NULL)
            inj_sweep(ctx[i], NULL);
        inj_close(ctx[i]);
        ctx[i] = NULL;
    }
    return 0;
}

/* A connect from host `from` to host `to` must be refused in under FAST_MS. */
static void assert_refused_fast(int from, int to, bool v6)
{
    const char *dst = v6 ? addr6[to] : addr4[to];
    double ms = 0;
    int r = tn_tcp_connect(hosts[from], dst, PORT, SLOW_MS, &ms);

    if (r != -ECONNREFUSED)
        fail_msg("connect %s -> %s: %s after %.1f ms, expected connection refused", hosts[from],
                 dst, strerror(-r), ms);
    if (ms >= FAST_MS)
        fail_msg("connect %s -> %s refused after %.1f ms, expected under %.0f ms", hosts[from], dst,
                 ms, FAST_MS);
}

static void assert_connects(int from, int to, bool v6)
{
    const char *dst = v6 ? addr6[to] : addr4[to];
    int r = tn_tcp_connect(hosts[from], dst, PORT, SLOW_MS, NULL);

    if (r != 0)
        fail_msg("connect %s -> %s: %s, expected success", hosts[from], dst, strerror(-r));
}

/*
 * Send one datagram on a connected UDP socket from host `from` to host `to`
 * and wait up to FAST_MS for the ICMP answer; returns -errno of the socket
 * (-ECONNREFUSED when "port unreachable" came back) or 0 when nothing came.
 */
static int udp_answer(int from, int to, bool v6)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    struct pollfd p;
    socklen_t len;
    char buf[16];
    int s, r = 0;

    memset(&ss, 0, sizeof(ss));
    if (v6) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(7100);
        inet_pton(AF_INET6, addr6[to], &s6->sin6_addr);
        len = sizeof(*s6);
    } else {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(7100);
        inet_pton(AF_INET, addr4[to], &s4->sin_addr);
        len = sizeof(*s4);
    }
    assert_int_equal(tn_enter(hosts[from]), 0);
    s = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    tn_leave();
    assert_true(s >= 0);
    assert_int_equal(connect(s, (struct sockaddr *)&ss, len), 0);
    assert_int_equal(send(s, "ping", 4, 0), 4);
    p.fd = s;
    p.events = POLLIN;
    if (poll(&p, 1, (int)FAST_MS) > 0 && recv(s, buf, sizeof(buf), MSG_DONTWAIT) < 0)
        r = -errno;
    close(s);
    return r;
}

static void symmetric_reject_partition_should_refuse_connects_fast_both_ways(void **state)
{
    int v6;

    (void)state;
    TU_REQUIRE_ROOT();
    take_snapshots();
    assert_connects(0, 1, false);
    apply_both("rej", "{\"kind\":\"partition\",\"mode\":\"reject\",\"groups\":" PART_GROUPS "}");
    for (v6 = 0; v6 < 2; v6++) {
        assert_refused_fast(0, 1, v6);
        assert_refused_fast(1, 0, v6);
    }
    revert_both("rej");
    for (v6 = 0; v6 < 2; v6++) {
        assert_connects(0, 1, v6);
        assert_connects(1, 0, v6);
    }
    test_teardown(NULL);
    assert_snapshots_unchanged();
}

static void symmetric_reject_partition_should_answer_udp_with_unreachable(void **state)
{
    int v6;

    (void)state;
    TU_REQUIRE_ROOT();
    take_snapshots();
    apply_both("rej", "{\"kind\":\"partition\",\"mode\":\"reject\",\"groups\":" PART_GROUPS "}");
    for (v6 = 0; v6 < 2; v6++) {
        assert_int_equal(udp_answer(0, 1, v6), -ECONNREFUSED);
        assert_int_equal(udp_answer(1, 0, v6), -ECONNREFUSED);
    }
    revert_both("rej");
    test_teardown(NULL);
    assert_snapshots_unchanged();
}

static void symmetric_reject_isolate_should_refuse_connects_fast(void **state)
{
    (void)state;
    TU_REQUIRE_ROOT();
    take_snapshots();
    apply_both("iso", "{\"kind\":\"isolate\",\"mode\":\"reject\",\"cidrs\":[\"198.18.1.0/24\","
                      "\"fd00:18:1::/64\"]}");
    assert_refused_fast(0, 1, false);
    assert_refused_fast(1, 0, false);
    assert_refused_fast(0, 1, true);
    assert_refused_fast(1, 0, true);
    revert_both("iso");
    assert_connects(0, 1, false);
    test_teardown(NULL);
    assert_snapshots_unchanged();
}

/*
 * The answers pass, the data does not: on a flow opened before the fault,
 * a write is answered with a reset (the connection fails at once) and the
 * echo of the written bytes never arrives.
 */
static void symmetric_reject_should_still_cut_established_data(void **state)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    struct pollfd p;
    char buf[16];
    ssize_t n;
    int s;

    (void)state;
    TU_REQUIRE_ROOT();
    take_snapshots();
    inet_pton(AF_INET, addr4[1], &sa.sin_addr);
    assert_int_equal(tn_enter(hosts[0]), 0);
    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    tn_leave();
    assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(write(s, "ping", 4), 4);
    assert_int_equal(read(s, buf, sizeof(buf)), 4);
    apply_both("rej", "{\"kind\":\"partition\",\"mode\":\"reject\",\"groups\":" PART_GROUPS "}");
    assert_int_equal(write(s, "lost", 4), 4);
    p.fd = s;
    p.events = POLLIN;
    assert_int_equal(poll(&p, 1, SLOW_MS), 1);
    n = read(s, buf, sizeof(buf));
    if (n >= 0)
        fail_msg("read returned %zd bytes after the cut, expected a reset", n);
    assert_int_equal(errno, ECONNRESET);
    close(s);
    revert_both("rej");
    test_teardown(NULL);
    assert_snapshots_unchanged();
}

/* A drop on one side and nothing on the other stays silent: only answers pass, nothing more. */
static void drop_partition_should_still_time_out(void **state)
{
    double ms = 0;

    (void)state;
    TU_REQUIRE_ROOT();
    take_snapshots();
    apply_both("drp", "{\"kind\":\"partition\",\"mode\":\"drop\",\"groups\":" PART_GROUPS "}");
    assert_int_equal(tn_tcp_connect(hosts[0], addr4[1], PORT, 300, &ms), -ETIMEDOUT);
    assert_int_equal(udp_answer(0, 1, false), 0);
    revert_both("drp");
    test_teardown(NULL);
    assert_snapshots_unchanged();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(symmetric_reject_partition_should_refuse_connects_fast_both_ways,
                                  test_teardown),
        cmocka_unit_test_teardown(symmetric_reject_partition_should_answer_udp_with_unreachable,
                                  test_teardown),
        cmocka_unit_test_teardown(symmetric_reject_isolate_should_refuse_connects_fast,
                                  test_teardown),
        cmocka_unit_test_teardown(symmetric_reject_should_still_cut_established_data,
                                  test_teardown),
        cmocka_unit_test_teardown(drop_partition_should_still_time_out, test_teardown),
    };

    return cmocka_run_group_tests(tests, topo_up, topo_down);
}
