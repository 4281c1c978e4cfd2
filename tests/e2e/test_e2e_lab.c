/*
 * The built-in lab by hand (`faultline lab up` / `lab down`): it leaves the
 * root namespace exactly as it found it, it is sealed (a lab host cannot
 * reach anything outside the lab), and the control network stays reachable
 * while a region is isolated. Needs root.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e_util.h"
#include "testutil.h"

#define KV "experiments/key-vault-region-outage.yaml"

/* The lab the running test brought up: taken down after it, pass or fail. */
static char lab_id[16];

/* `faultline lab up FILE [--no-target]`; returns the lab id (static) or fails. */
static const char *lab_up(const char *log, bool target)
{
    char file[1024], *out, *p;
    const char *args[5] = {"lab", "up", file, NULL, NULL};
    int rc;

    snprintf(file, sizeof(file), "%s/%s", e2e_src(), KV);
    if (!target)
        args[3] = "--no-target";
    rc = e2e_run(log, 30000, args);
    if (rc != 0) {
        e2e_print_log(log);
        fail_msg("faultline lab up exited %d", rc);
    }
    out = tu_sh_out("grep -o '^lab [0-9a-f]* up' '%s' | tail -1", log);
    assert_non_null(out);
    p = out + 4;
    snprintf(lab_id, sizeof(lab_id), "%.6s", p);
    free(out);
    return lab_id;
}

static int lab_teardown(void **state)
{
    (void)state;
    if (lab_id[0] != '\0') {
        tu_sh("'%s' lab down %s >/dev/null 2>&1", e2e_bin(), lab_id);
        lab_id[0] = '\0';
    }
    return 0;
}

static void lab_down(const char *log, const char *lab)
{
    const char *args[] = {"lab", "down", lab, NULL};
    char what[512];

    assert_int_equal(e2e_run(log, 30000, args), 0);
    if (e2e_lab_left(lab, what, sizeof(what)))
        fail_msg("lab %s left: %s", lab, what);
    lab_id[0] = '\0';
}

static void lab_up_down_should_leave_no_residue(void **state)
{
    char *dir, *before, *after, log[1024], what[512];
    const char *id;

    (void)state;
    TU_REQUIRE_ROOT();
    dir = e2e_tmpdir("residue");
    snprintf(log, sizeof(log), "%s/lab.log", dir);
    before = e2e_root_snapshot();
    id = lab_up(log, true);
    assert_true(e2e_lab_left(id, what, sizeof(what))); /* it is there */
    assert_non_null(strstr(what, "-router"));
    assert_non_null(strstr(what, "-ctl"));
    assert_non_null(strstr(what, "-west-z1-h1"));
    lab_down(log, id);
    after = e2e_root_snapshot();
    if (strcmp(before, after) != 0) {
        tu_sh("ip netns list >&2");
        fail_msg("the root namespace changed:\n--- before\n%s\n--- after\n%s", before, after);
    }
    /* No process of the lab survives (the agents' command lines name the lab's directory). */
    {
        char *procs =
            tu_sh_out("grep -l 'labs/[%c]%s' /proc/[0-9]*/cmdline 2>/dev/null", id[0], id + 1);

        assert_non_null(procs);
        if (procs[0])
            fail_msg("processes of lab %s still run: %s", id, procs);
        free(procs);
    }
    free(before);
    free(after);
    tu_sh("rm -rf '%s'", dir);
    free(dir);
}

/* connect() from inside namespace ns; returns 0 or the errno (child does the setns). */
static int connect_from(const char *ns, const char *addr, int port)
{
    pid_t pid = fork();
    int st;

    if (pid == 0) {
        char p[256];
        struct sockaddr_in sa;
        struct pollfd pfd;
        int fd, e = 0;
        socklen_t el = sizeof(e);

        snprintf(p, sizeof(p), "/run/netns/%s", ns);
        fd = open(p, O_RDONLY);
        if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
            _exit(200);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, addr, &sa.sin_addr);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            _exit(0);
        if (errno != EINPROGRESS)
            _exit(errno);
        pfd.fd = fd;
        pfd.events = POLLOUT;
        if (poll(&pfd, 1, 1500) == 0)
            _exit(ETIMEDOUT);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
        _exit(e);
    }
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void lab_host_should_not_reach_outside_the_lab(void **state)
{
    char *dir, log[1024], ns[128], *root;
    const char *id;
    int e;

    (void)state;
    TU_REQUIRE_ROOT();
    dir = e2e_tmpdir("sealed");
    snprintf(log, sizeof(log), "%s/lab.log", dir);
    id = lab_up(log, false);
    snprintf(ns, sizeof(ns), "fl-%s-west-z1-h1", id);
    /* Inside the lab: another zone's host through the router works (no listener: refused). */
    e = connect_from(ns, "198.18.2.33", 9);
    assert_int_equal(e, ECONNREFUSED);
    /* Outside: no route at all. */
    e = connect_from(ns, "192.0.2.1", 80);
    assert_int_equal(e, ENETUNREACH);
    e = connect_from(ns, "8.8.8.8", 53);
    assert_int_equal(e, ENETUNREACH);
    root = tu_sh_out("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | "
                     "head -1 | tr -d '\\n'");
    if (root && root[0]) {
        e = connect_from(ns, root, 22);
        assert_int_equal(e, ENETUNREACH);
    }
    free(root);
    /* The control namespace cannot leave the lab either. */
    snprintf(ns, sizeof(ns), "fl-%s-ctl", id);
    assert_int_equal(connect_from(ns, "192.0.2.1", 80), ENETUNREACH);
    /* The router has no way out. */
    snprintf(ns, sizeof(ns), "fl-%s-router", id);
    assert_int_equal(connect_from(ns, "192.0.2.1", 80), ENETUNREACH);
    lab_down(log, id);
    tu_sh("rm -rf '%s'", dir);
    free(dir);
}

/* HTTP status of a curl from the lab's control namespace ("000": no answer). */
static int curl_status(const char *id, const char *extra, const char *url)
{
    char *out = tu_sh_out("ip netns exec fl-%s-ctl curl -s -m 1 -o /dev/null -w '%%{http_code}' "
                          "%s %s 2>/dev/null",
                          id, extra, url);
    int code = out ? atoi(out) : -1;

    free(out);
    return code;
}

static void control_network_should_stay_reachable_while_a_region_is_isolated(void **state)
{
    static const char *const agents[] = {"198.19.0.10", "198.19.0.11", "198.19.0.12"};
    char *dir, log[1024], auth[256], url[256], *tok;
    const char *id;
    size_t i;

    (void)state;
    TU_REQUIRE_ROOT();
    dir = e2e_tmpdir("control");
    snprintf(log, sizeof(log), "%s/lab.log", dir);
    id = lab_up(log, true);
    tok = tu_sh_out("cat /run/faultline/labs/%s/agent.token", id);
    assert_non_null(tok);
    snprintf(auth, sizeof(auth), "-H 'Authorization: Bearer %s'", tok);
    free(tok);
    /* Before: clients reach both regions. */
    assert_int_equal(curl_status(id, "", "http://198.18.1.33:7000/v1/status"), 200);
    assert_int_equal(curl_status(id, "", "http://198.18.2.33:7000/v1/status"), 200);
    /* Isolate west on every agent (ingress at each receiver). */
    for (i = 0; i < 3; i++) {
        char extra[600];

        snprintf(extra, sizeof(extra),
                 "%s -d '{\"id\":\"t-iso\",\"ttl_ms\":20000,\"fault\":{\"kind\":\"isolate\","
                 "\"mode\":\"drop\",\"cidrs\":[\"198.18.1.0/24\"]}}'",
                 auth);
        snprintf(url, sizeof(url), "http://%s:7070/v1/faults", agents[i]);
        assert_int_equal(curl_status(id, extra, url), 201);
    }
    /* The control network still reaches every agent, west's included. */
    for (i = 0; i < 3; i++) {
        snprintf(url, sizeof(url), "http://%s:7070/v1/health", agents[i]);
        assert_int_equal(curl_status(id, auth, url), 200);
    }
    /* The data network: west is cut, north is not. */
    assert_int_equal(curl_status(id, "", "http://198.18.1.33:7000/v1/status"), 0);
    assert_int_equal(curl_status(id, "", "http://198.18.1.65:7000/v1/status"), 0);
    assert_int_equal(curl_status(id, "", "http://198.18.2.33:7000/v1/status"), 200);
    /* Heal: west answers again. */
    for (i = 0; i < 3; i++) {
        char extra[300];

        snprintf(extra, sizeof(extra), "-X DELETE %s", auth);
        snprintf(url, sizeof(url), "http://%s:7070/v1/faults/t-iso", agents[i]);
        assert_int_equal(curl_status(id, extra, url), 200);
    }
    assert_int_equal(curl_status(id, "", "http://198.18.1.33:7000/v1/status"), 200);
    lab_down(log, id);
    tu_sh("rm -rf '%s'", dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(lab_up_down_should_leave_no_residue, lab_teardown),
        cmocka_unit_test_teardown(lab_host_should_not_reach_outside_the_lab, lab_teardown),
        cmocka_unit_test_teardown(control_network_should_stay_reachable_while_a_region_is_isolated,
                                  lab_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
