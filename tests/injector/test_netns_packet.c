/*
 * Packet faults against real sockets. Four namespaces on one bridge (in a
 * fifth, "sw"): hosts a, b, c (198.18.1.1, .2.1, .3.1 on 198.18.0.0/16) and a
 * controller "ctl" (198.19.0.1/16; hosts also hold 198.19.0.1x). Each test
 * applies a fault through the library inside a host namespace, proves the
 * connection behaves as the fault says, reverts, proves it works again, and
 * compares before/after snapshots of every namespace exactly.
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
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "faultline/inject.h"
#include "netns.h"
#include "testutil.h"

static const char *hosts[] = {"a", "b", "c", "ctl"};
static const char *addr[] = {"198.18.1.1", "198.18.2.1", "198.18.3.1", "198.19.0.1"};
static char *snap[4];
static int servers[4];
static char statedir[128];

static int topo_up(void **state)
{
    int i;

    if (!tu_is_root())
        return 0;
    if (tn_create("sw") < 0) {
        fprintf(stderr, "setup: cannot create namespace sw\n");
        return -1;
    }
    tn_exec("sw", "ip link add br0 type bridge && ip link set br0 up");
    for (i = 0; i < 4; i++) {
        char cidr[32], peer[16];

        snprintf(cidr, sizeof(cidr), "%s/16", addr[i]);
        snprintf(peer, sizeof(peer), "v%s", hosts[i]);
        if (tn_create(hosts[i]) < 0 || tn_veth(hosts[i], "eth0", cidr, "sw", peer, NULL) < 0) {
            fprintf(stderr, "setup: cannot wire host %s\n", hosts[i]);
            return -1;
        }
        tn_exec("sw", "ip link set %s master br0", peer);
        if (i < 3)
            tn_exec(hosts[i], "ip addr add 198.19.0.1%d/16 dev eth0", i);
        servers[i] = tn_tcp_server(hosts[i], "0.0.0.0", 7000);
        if (servers[i] < 0) {
            fprintf(stderr, "setup: cannot start a TCP server in %s\n", hosts[i]);
            return -1;
        }
    }
    snprintf(statedir, sizeof(statedir), "/tmp/fl-t%d-state", (int)getpid());
    return 0;
}

static int topo_down(void **state)
{
    int i;

    for (i = 0; i < 4; i++)
        tn_stop(servers[i]);
    tn_cleanup();
    tu_sh("rm -rf %s", statedir);
    return 0;
}

static void take_snapshots(void)
{
    int i;

    for (i = 0; i < 4; i++) {
        free(snap[i]);
        snap[i] = tn_snapshot(hosts[i]);
        assert_non_null(snap[i]);
    }
}

static void assert_snapshots_unchanged(void)
{
    int i;

    for (i = 0; i < 4; i++) {
        char *now = tn_snapshot(hosts[i]);

        if (strcmp(now, snap[i]) != 0) {
            tn_print_diff(snap[i], now);
            fail_msg("namespace %s changed (diff above)", hosts[i]);
        }
        free(now);
    }
}

/* Contexts opened by the running test, closed (and their host swept) after it. */
static struct inj_ctx *open_ctx[8];
static int n_open;

static int test_teardown(void **state)
{
    struct inj_config cfg = {0};
    struct inj_ctx *ctx;
    char dir[192];
    int i;

    for (i = 0; i < n_open; i++)
        inj_close(open_ctx[i]);
    n_open = 0;
    /* After a failure, leave nothing for the next test: sweep every host. */
    for (i = 0; i < 3; i++) {
        snprintf(dir, sizeof(dir), "%s/%s", statedir, hosts[i]);
        cfg.state_dir = dir;
        if (tn_enter(hosts[i]) == 0 && inj_open(&cfg, &ctx, NULL) == 0) {
            tn_leave();
            inj_sweep(ctx, NULL);
            inj_close(ctx);
        }
        tn_leave();
    }
    return 0;
}

/* Open an injector context inside host h (sockets stay bound to its namespace). */
static struct inj_ctx *ctx_in(int h)
{
    struct fl_cidr ctl;
    struct inj_config cfg = {0};
    struct inj_ctx *ctx = NULL;
    char dir[192];
    struct fl_err e;

    fl_cidr_parse("198.19.0.1/32", &ctl, NULL);
    snprintf(dir, sizeof(dir), "%s/%s", statedir, hosts[h]);
    cfg.state_dir = dir;
    cfg.exempt = &ctl;
    cfg.n_exempt = 1;
    fl_err_clear(&e);
    assert_int_equal(tn_enter(hosts[h]), 0);
    if (inj_open(&cfg, &ctx, &e) < 0) {
        tn_leave();
        fail_msg("inj_open in %s: %s", hosts[h], e.msg);
    }
    tn_leave();
    if (n_open < 8)
        open_ctx[n_open++] = ctx;
    return ctx;
}

static void close_ctx(struct inj_ctx *ctx)
{
    int i;

    for (i = 0; i < n_open; i++)
        if (open_ctx[i] == ctx) {
            open_ctx[i] = open_ctx[--n_open];
            break;
        }
    inj_close(ctx);
}

static void apply(struct inj_ctx *ctx, const char *id, const char *json)
{
    struct inj_fault *f = NULL;
    struct fl_err e;

    fl_err_clear(&e);
    if (inj_fault_parse(json, strlen(json), &f, &e) < 0)
        fail_msg("parse: %s", e.msg);
    if (inj_apply(ctx, id, f, &e) != 0)
        fail_msg("apply %s: %s", id, e.msg);
    inj_fault_free(f);
}

static void revert(struct inj_ctx *ctx, const char *id)
{
    struct fl_err e;

    fl_err_clear(&e);
    if (inj_revert(ctx, id, &e) < 0)
        fail_msg("revert %s: %s", id, e.msg);
}

static int conn(int from, int to, int timeout_ms, double *ms)
{
    return tn_tcp_connect(hosts[from], addr[to], 7000, timeout_ms, ms);
}

static const char *PART_AB = "{\"kind\":\"partition\",\"mode\":\"drop\",\"groups\":[["
                             "\"198.18.1.0/24\"],[\"198.18.2.0/24\"]]}";

static void drop_partition_should_time_out_then_heal(void **state)
{
    struct inj_ctx *cb;

    TU_REQUIRE_ROOT();
    take_snapshots();
    assert_int_equal(conn(0, 1, 1000, NULL), 0);
    cb = ctx_in(1);
    apply(cb, "cut", PART_AB);
    /* Enforced on ingress at b: a's SYNs vanish, so connect times out. */
    assert_int_equal(conn(0, 1, 400, NULL), -ETIMEDOUT);
    /* c is not in the partition. */
    assert_int_equal(conn(2, 1, 1000, NULL), 0);
    revert(cb, "cut");
    assert_int_equal(conn(0, 1, 1000, NULL), 0);
    close_ctx(cb);
    assert_snapshots_unchanged();
}

static void reject_partition_should_fail_fast(void **state)
{
    struct inj_ctx *cb;
    double ms = 0;

    TU_REQUIRE_ROOT();
    take_snapshots();
    cb = ctx_in(1);
    apply(cb, "rej",
          "{\"kind\":\"partition\",\"mode\":\"reject\",\"groups\":[["
          "\"198.18.1.0/24\"],[\"198.18.2.0/24\"]]}");
    assert_int_equal(conn(0, 1, 2000, &ms), -ECONNREFUSED);
    if (ms >= 100.0)
        fail_msg("reject took %.1f ms, expected under 100 ms", ms);
    revert(cb, "rej");
    assert_int_equal(conn(0, 1, 1000, NULL), 0);
    close_ctx(cb);
    assert_snapshots_unchanged();
}

/* Count UDP datagrams from host `from` to host `to` that arrive, out of n sent. */
static int udp_delivered(int from, int to, int n)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(7100)};
    int rs, ss, i, got = 0;
    struct pollfd p;
    char buf[64];

    inet_pton(AF_INET, addr[to], &sa.sin_addr);
    assert_int_equal(tn_enter(hosts[to]), 0);
    rs = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_int_equal(bind(rs, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(tn_enter(hosts[from]), 0);
    ss = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    tn_leave();
    for (i = 0; i < n; i++) {
        snprintf(buf, sizeof(buf), "d%d", i);
        sendto(ss, buf, strlen(buf), 0, (struct sockaddr *)&sa, sizeof(sa));
        if (i % 50 == 49) /* keep the receive queue from overflowing */
            while (recv(rs, buf, sizeof(buf), MSG_DONTWAIT) > 0)
                got++;
    }
    p.fd = rs;
    p.events = POLLIN;
    while (poll(&p, 1, 300) > 0 && recv(rs, buf, sizeof(buf), 0) > 0)
        got++;
    close(rs);
    close(ss);
    return got;
}

static void one_way_should_drop_one_direction_only(void **state)
{
    struct inj_ctx *ca, *cb;

    TU_REQUIRE_ROOT();
    take_snapshots();
    /* Symmetric deployment: both hosts get the fault, each enforces its ingress. */
    ca = ctx_in(0);
    cb = ctx_in(1);
    apply(ca, "ow",
          "{\"kind\":\"one-way\",\"from\":[\"198.18.1.0/24\"],\"to\":[\"198.18.2.0/24\"]}");
    apply(cb, "ow",
          "{\"kind\":\"one-way\",\"from\":[\"198.18.1.0/24\"],\"to\":[\"198.18.2.0/24\"]}");
    assert_int_equal(udp_delivered(0, 1, 100), 0);
    assert_int_equal(udp_delivered(1, 0, 100), 100);
    revert(ca, "ow");
    revert(cb, "ow");
    assert_int_equal(udp_delivered(0, 1, 100), 100);
    close_ctx(ca);
    close_ctx(cb);
    assert_snapshots_unchanged();
}

static void isolate_should_cut_everything_but_the_controller(void **state)
{
    struct inj_ctx *c[3];
    const char *spec = "{\"kind\":\"isolate\",\"cidrs\":[\"198.18.1.0/24\"]}";
    int i;

    TU_REQUIRE_ROOT();
    take_snapshots();
    for (i = 0; i < 3; i++) {
        c[i] = ctx_in(i);
        apply(c[i], "iso", spec);
    }
    assert_int_equal(conn(1, 0, 400, NULL), -ETIMEDOUT);
    assert_int_equal(conn(0, 1, 400, NULL), -ETIMEDOUT);
    assert_int_equal(conn(0, 2, 400, NULL), -ETIMEDOUT);
    /* b and c still talk; the controller still reaches the isolated host. */
    assert_int_equal(conn(1, 2, 1000, NULL), 0);
    assert_int_equal(tn_tcp_connect("ctl", "198.19.0.10", 7000, 1000, NULL), 0);
    for (i = 0; i < 3; i++) {
        revert(c[i], "iso");
        close_ctx(c[i]);
    }
    assert_int_equal(conn(1, 0, 1000, NULL), 0);
    assert_snapshots_unchanged();
}

static void loss_should_drop_the_configured_share(void **state)
{
    struct inj_ctx *cb;
    json_t *list = NULL, *ev;
    int got, n = 4000;
    double lost;

    TU_REQUIRE_ROOT();
    take_snapshots();
    cb = ctx_in(1);
    apply(cb, "loss", "{\"kind\":\"loss\",\"percent\":30,\"from\":[\"198.18.1.0/24\"]}");
    got = udp_delivered(0, 1, n);
    lost = 100.0 * (n - got) / n;
    /* Binomial(4000, 0.3): sd 0.72 points; 4 points is more than 5 sd. */
    if (lost < 26.0 || lost > 34.0)
        fail_msg("measured loss %.1f%%, configured 30%%", lost);
    /* The rule counters are evidence of what the fault dropped. */
    assert_int_equal(inj_list(cb, &list, NULL), 0);
    ev = json_object_get(json_array_get(list, 0), "evidence");
    assert_int_equal(json_integer_value(json_object_get(ev, "packets")), n - got);
    json_decref(list);
    revert(cb, "loss");
    assert_int_equal(udp_delivered(0, 1, 200), 200);
    close_ctx(cb);
    assert_snapshots_unchanged();
}

static void established_flow_should_be_cut_and_resume(void **state)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(7000)};
    struct inj_ctx *cb;
    struct pollfd p;
    char buf[16];
    int s;

    TU_REQUIRE_ROOT();
    take_snapshots();
    inet_pton(AF_INET, addr[1], &sa.sin_addr);
    assert_int_equal(tn_enter(hosts[0]), 0);
    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    tn_leave();
    assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(write(s, "ping", 4), 4);
    assert_int_equal(read(s, buf, sizeof(buf)), 4);
    cb = ctx_in(1);
    apply(cb, "cut", PART_AB);
    assert_int_equal(write(s, "lost", 4), 4);
    p.fd = s;
    p.events = POLLIN;
    assert_int_equal(poll(&p, 1, 700), 0); /* no echo: the flow is cut */
    revert(cb, "cut");
    /* TCP retransmits and the echo arrives once healed. */
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(read(s, buf, sizeof(buf)), 4);
    close(s);
    close_ctx(cb);
    assert_snapshots_unchanged();
}

static void sweep_should_remove_everything_without_a_journal(void **state)
{
    struct inj_ctx *cb;
    struct fl_err e;

    TU_REQUIRE_ROOT();
    take_snapshots();
    cb = ctx_in(1);
    apply(cb, "s1", PART_AB);
    apply(cb, "s2", "{\"kind\":\"loss\",\"percent\":50}");
    close_ctx(cb);
    /* The journal is lost (a wiped /run): only kernel objects remain. */
    tu_sh("rm -rf %s/b", statedir);
    cb = ctx_in(1);
    assert_false(inj_has(cb, "s1"));
    assert_int_equal(conn(0, 1, 300, NULL), -ETIMEDOUT);
    fl_err_clear(&e);
    assert_int_equal(inj_sweep(cb, &e), 0);
    assert_int_equal(conn(0, 1, 1000, NULL), 0);
    /* Sweeping twice is harmless. */
    assert_int_equal(inj_sweep(cb, &e), 0);
    close_ctx(cb);
    assert_snapshots_unchanged();
}

static void recover_should_revert_journaled_faults_after_a_crash(void **state)
{
    struct inj_ctx *cb;
    int pid, st;

    TU_REQUIRE_ROOT();
    take_snapshots();
    /* A child applies and dies without reverting, as a crashed agent would. */
    pid = fork();
    if (pid == 0) {
        cb = ctx_in(1);
        apply(cb, "crash", PART_AB);
        _exit(0);
    }
    waitpid(pid, &st, 0);
    assert_int_equal(conn(0, 1, 300, NULL), -ETIMEDOUT);
    cb = ctx_in(1);
    assert_true(inj_has(cb, "crash"));
    assert_int_equal(inj_recover(cb, NULL), 0);
    assert_false(inj_has(cb, "crash"));
    assert_int_equal(conn(0, 1, 1000, NULL), 0);
    close_ctx(cb);
    assert_snapshots_unchanged();
}

static const char LOSS5[] = "{\"kind\":\"loss\",\"percent\":5}";

static void apply_should_be_idempotent_and_refuse_conflicts(void **state)
{
    struct inj_ctx *cb;
    struct inj_fault *f = NULL, *g = NULL;
    struct fl_err e;

    TU_REQUIRE_ROOT();
    take_snapshots();
    cb = ctx_in(1);
    assert_int_equal(inj_fault_parse(PART_AB, strlen(PART_AB), &f, NULL), 0);
    assert_int_equal(inj_apply(cb, "idem", f, NULL), 0);
    assert_int_equal(inj_apply(cb, "idem", f, NULL), 1);
    assert_int_equal(inj_fault_parse(LOSS5, strlen(LOSS5), &g, NULL), 0);
    fl_err_clear(&e);
    assert_int_equal(inj_apply(cb, "idem", g, &e), -EEXIST);
    assert_non_null(strstr(e.msg, "different spec"));
    assert_int_equal(inj_revert(cb, "idem", NULL), 0);
    assert_int_equal(inj_revert(cb, "idem", NULL), 1);
    inj_fault_free(f);
    inj_fault_free(g);
    close_ctx(cb);
    assert_snapshots_unchanged();
}

/* The CLI: bad input gets one precise line, exit 2, and nothing applied. */
static void cli_should_refuse_bad_input_with_exit_2(void **state)
{
    const char *bin = getenv("FAULTLINE_INJECT");
    static const char *bad[] = {
        "'{\"kind\":'",
        "'{\"kind\":\"partiton\",\"groups\":[]}'",
        "'{\"kind\":\"partition\",\"groups\":[[\"198.18.1.0/33\"],[\"10.0.0.0/8\"]]}'",
        "'{\"kind\":\"link-down\",\"dev\":\"nosuch0\"}'",
    };
    size_t i;
    char *out;

    TU_REQUIRE_ROOT();
    assert_non_null(bin);
    take_snapshots();
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = tu_sh("ip netns exec %s %s --state-dir %s/cli apply --id x %s 2>/dev/null",
                       tn_name("b"), bin, statedir, bad[i]);

        if (rc != 2)
            fail_msg("exit %d for %s, expected 2", rc, bad[i]);
    }
    out = tu_sh_out("ip netns exec %s %s apply --id x '{\"kind\":\"partiton\"}' 2>&1", tn_name("b"),
                    bin);
    assert_non_null(strstr(out, "did you mean 'partition'?"));
    assert_null(strchr(strchr(out, '\n') + 1, '\n')); /* exactly one line */
    free(out);
    assert_snapshots_unchanged();
    /* And a good round trip through the CLI, with list showing the fault. */
    assert_int_equal(tu_sh("ip netns exec %s %s --state-dir %s/cli apply --id ok %s", tn_name("b"),
                           bin, statedir, "'{\"kind\":\"isolate\",\"cidrs\":[\"198.18.1.0/24\"]}'"),
                     0);
    out = tu_sh_out("ip netns exec %s %s --state-dir %s/cli list", tn_name("b"), bin, statedir);
    assert_non_null(strstr(out, "\"id\": \"ok\""));
    free(out);
    assert_int_equal(
        tu_sh("ip netns exec %s %s --state-dir %s/cli revert --id ok", tn_name("b"), bin, statedir),
        0);
    assert_snapshots_unchanged();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(drop_partition_should_time_out_then_heal, test_teardown),
        cmocka_unit_test_teardown(reject_partition_should_fail_fast, test_teardown),
        cmocka_unit_test_teardown(one_way_should_drop_one_direction_only, test_teardown),
        cmocka_unit_test_teardown(isolate_should_cut_everything_but_the_controller, test_teardown),
        cmocka_unit_test_teardown(loss_should_drop_the_configured_share, test_teardown),
        cmocka_unit_test_teardown(established_flow_should_be_cut_and_resume, test_teardown),
        cmocka_unit_test_teardown(sweep_should_remove_everything_without_a_journal, test_teardown),
        cmocka_unit_test_teardown(recover_should_revert_journaled_faults_after_a_crash,
                                  test_teardown),
        cmocka_unit_test_teardown(apply_should_be_idempotent_and_refuse_conflicts, test_teardown),
        cmocka_unit_test_teardown(cli_should_refuse_bad_input_with_exit_2, test_teardown),
    };
    return cmocka_run_group_tests(tests, topo_up, topo_down);
}
