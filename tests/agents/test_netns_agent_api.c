/*
 * The agent's API against a real faultline-agent process in a test network
 * namespace: every status code the API promises, each bad request checked to
 * leave the kernel state exactly as it was (tn_snapshot before and after);
 * an apply through the API cutting a real TCP connection and DELETE healing
 * it; leases (an unrenewed 1 s fault gone within 1.5 s, a renewed one
 * staying); TLS; SIGTERM reverting everything with exit 0; and the token never
 * appearing in the agent's log.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include <jansson.h>

#include "agent_fixture.h"
#include "faultline/timeutil.h"
#include "netns.h"
#include "testutil.h"

static struct fx_agent ag;
static bool up;

static int group_setup(void **state)
{
    if (!tu_is_root())
        return 0;
    if (tn_create("h") < 0 || tn_create("c") < 0)
        return -1;
    /* No duplicate address detection: link-local routes appear at once, not mid-test. */
    tn_exec("h", "sysctl -qw net.ipv6.conf.default.accept_dad=0");
    tn_exec("c", "sysctl -qw net.ipv6.conf.default.accept_dad=0");
    if (tn_veth("c", "vc", "198.18.1.1/24", "h", "vh", "198.18.2.1/24") < 0)
        return -1;
    tn_exec("c", "ip route add 198.18.2.0/24 dev vc");
    tn_exec("h", "ip route add 198.18.1.0/24 dev vh");
    fx_settle("h");
    if (fx_init(&ag, "h", "127.0.0.1:7301") < 0 || fx_start(&ag, NULL) < 0)
        return -1;
    up = true;
    return 0;
}

static int group_teardown(void **state)
{
    if (up)
        fx_cleanup(&ag);
    tn_cleanup();
    return 0;
}

/* The first line where two snapshots differ, for a short failure message. */
static const char *first_diff(const char *a, const char *b, char *out, size_t len)
{
    const char *la = a, *lb = b;

    while (*a != '\0' && *a == *b) {
        if (*a == '\n') {
            la = a + 1;
            lb = b + 1;
        }
        a++;
        b++;
    }
    snprintf(out, len, "before: '%.*s' after: '%.*s'", (int)strcspn(la, "\n"), la,
             (int)strcspn(lb, "\n"), lb);
    return out;
}

/* Send a request and check its status and {"error"} body; the kernel must not change. */
static void expect_unchanged(long want, const char *method, const char *path, const char *body,
                             const char *auth, bool chunked, const char *errpart)
{
    char *before, *after, *resp = NULL, diff[1024];
    json_t *j;
    long st;

    before = tn_snapshot("h");
    assert_non_null(before);
    st = fx_http(&ag, NULL, method, path, body, auth, chunked, &resp);
    after = tn_snapshot("h");
    if (st != want)
        fail_msg("%s %s: want %ld, got %ld: %s", method, path, want, st, resp);
    if (want >= 400) {
        j = json_loads(resp, 0, NULL);
        if (j == NULL || !json_is_string(json_object_get(j, "error")))
            fail_msg("%s %s: %ld without a JSON error: %s", method, path, st, resp);
        if (errpart != NULL &&
            strstr(json_string_value(json_object_get(j, "error")), errpart) == NULL)
            fail_msg("%s %s: error '%s' does not mention '%s'", method, path,
                     json_string_value(json_object_get(j, "error")), errpart);
        json_decref(j);
    }
    if (strcmp(before, after) != 0)
        fail_msg("%s %s (%ld) changed the kernel state: %s", method, path, st,
                 first_diff(before, after, diff, sizeof(diff)));
    free(before);
    free(after);
    free(resp);
}

static long apply(const char *id, const char *spec, long ttl, char **resp)
{
    return fx_http(&ag, NULL, "POST", "/v1/faults", fx_apply_body(id, spec, ttl), NULL, false,
                   resp);
}

static void api_should_refuse_unauthenticated_requests_with_401(void **state)
{
    char wrong[80], prefix[80], longer[160];

    TU_REQUIRE_ROOT();
    snprintf(wrong, sizeof(wrong), "Bearer %.47sx", ag.token);
    wrong[7] = ag.token[0] == 'a' ? 'b' : 'a';
    snprintf(prefix, sizeof(prefix), "Bearer %.20s", ag.token);
    snprintf(longer, sizeof(longer), "Bearer %sx", ag.token);
    expect_unchanged(401, "GET", "/v1/health", NULL, "", false, "token");
    expect_unchanged(401, "GET", "/v1/faults", NULL, wrong, false, "token");
    expect_unchanged(401, "GET", "/v1/faults", NULL, prefix, false, "token");
    expect_unchanged(401, "GET", "/v1/faults", NULL, longer, false, "token");
    expect_unchanged(401, "POST", "/v1/faults", fx_apply_body("u1", fx_partition("drop"), 5000), "",
                     false, NULL);
    expect_unchanged(401, "POST", "/v1/faults", fx_apply_body("u1", fx_partition("drop"), 5000),
                     wrong, false, NULL);
    expect_unchanged(401, "POST", "/v1/revert-all", NULL, "Basic Zm9vOmJhcg==", false, NULL);
    expect_unchanged(401, "DELETE", "/v1/faults/u1", NULL, "", false, NULL);
}

static void api_should_refuse_bad_input_with_400(void **state)
{
    const char *spec = fx_partition("drop");
    char body[512], big_id[80];

    TU_REQUIRE_ROOT();
    expect_unchanged(400, "POST", "/v1/faults", "{\"id\":\"b1\",", NULL, false, "malformed");
    expect_unchanged(400, "POST", "/v1/faults", "[1,2]", NULL, false, "object");
    expect_unchanged(400, "POST", "/v1/faults", "", NULL, false, NULL);
    snprintf(body, sizeof(body), "{\"id\":\"b1\",\"fault\":%s,\"ttl_ms\":5000,\"colour\":1}", spec);
    expect_unchanged(400, "POST", "/v1/faults", body, NULL, false, "colour");
    snprintf(body, sizeof(body), "{\"id\":\"b1\",\"fault\":%s,\"ttl_ms\":\"5s\"}", spec);
    expect_unchanged(400, "POST", "/v1/faults", body, NULL, false, "ttl_ms");
    snprintf(body, sizeof(body), "{\"id\":\"b1\",\"fault\":%s}", spec);
    expect_unchanged(400, "POST", "/v1/faults", body, NULL, false, "ttl_ms");
    snprintf(body, sizeof(body), "{\"id\":\"b1\",\"fault\":%s,\"ttl_ms\":5}", spec);
    expect_unchanged(400, "POST", "/v1/faults", body, NULL, false, "ttl_ms");
    snprintf(body, sizeof(body), "{\"id\":7,\"fault\":%s,\"ttl_ms\":5000}", spec);
    expect_unchanged(400, "POST", "/v1/faults", body, NULL, false, "id");
    snprintf(body, sizeof(body), "{\"id\":\"b/1\",\"fault\":%s,\"ttl_ms\":5000}", spec);
    expect_unchanged(400, "POST", "/v1/faults", body, NULL, false, "id");
    memset(big_id, 'x', 60);
    big_id[60] = '\0';
    expect_unchanged(400, "POST", "/v1/faults", fx_apply_body(big_id, spec, 5000), NULL, false,
                     "id");
    expect_unchanged(400, "POST", "/v1/faults", "{\"id\":\"b1\",\"fault\":\"x\",\"ttl_ms\":5000}",
                     NULL, false, "fault");
    expect_unchanged(400, "POST", "/v1/faults",
                     fx_apply_body("b1", "{\"kind\":\"earthquake\"}", 5000), NULL, false,
                     "earthquake");
    expect_unchanged(400, "POST", "/v1/faults",
                     fx_apply_body("b1",
                                   "{\"kind\":\"partition\",\"mode\":\"drop\",\"groups\":"
                                   "[[\"198.18.1.0/24\"],[\"198.18.2.0/24\"]],\"speed\":3}",
                                   5000),
                     NULL, false, NULL);
    expect_unchanged(400, "POST", "/v1/faults",
                     fx_apply_body("b1",
                                   "{\"kind\":\"partition\",\"mode\":\"drop\",\"groups\":"
                                   "[[\"198.18.1.1/24\"],[\"198.18.2.0/24\"]]}",
                                   5000),
                     NULL, false, NULL);
    expect_unchanged(400, "POST", "/v1/faults",
                     fx_apply_body("b1",
                                   "{\"kind\":\"partition\",\"mode\":7,\"groups\":"
                                   "[[\"198.18.1.0/24\"],[\"198.18.2.0/24\"]]}",
                                   5000),
                     NULL, false, NULL);
    /* Duplicate keys are ambiguous: refused rather than last-one-wins. */
    snprintf(body, sizeof(body), "{\"id\":\"b1\",\"id\":\"b2\",\"fault\":%s,\"ttl_ms\":5000}",
             spec);
    expect_unchanged(400, "POST", "/v1/faults", body, NULL, false, NULL);
    expect_unchanged(400, "POST", "/v1/faults/b1/renew", "{\"ttl_ms\":\"soon\"}", NULL, false,
                     "ttl_ms");
    expect_unchanged(400, "POST", "/v1/revert-all", "{\"force\":true}", NULL, false, "force");
    expect_unchanged(400, "DELETE", "/v1/faults/.hidden", NULL, NULL, false, "id");
}

static void api_should_refuse_faults_outside_the_allowlist_with_403(void **state)
{
    TU_REQUIRE_ROOT();
    expect_unchanged(403, "POST", "/v1/faults",
                     fx_apply_body("f1",
                                   "{\"kind\":\"partition\",\"mode\":\"drop\",\"groups\":"
                                   "[[\"198.18.1.0/24\"],[\"10.0.0.0/8\"]]}",
                                   5000),
                     NULL, false, "--allow");
    /* The control network is never cut, even though it lies inside --allow. */
    expect_unchanged(403, "POST", "/v1/faults",
                     fx_apply_body("f2",
                                   "{\"kind\":\"partition\",\"mode\":\"drop\",\"groups\":"
                                   "[[\"198.18.1.0/24\"],[\"198.18.9.0/24\"]]}",
                                   5000),
                     NULL, false, "control");
    expect_unchanged(403, "POST", "/v1/faults",
                     fx_apply_body("f3",
                                   "{\"kind\":\"partition\",\"mode\":\"drop\",\"groups\":"
                                   "[[\"198.18.0.0/16\"],[\"198.19.0.0/24\"]]}",
                                   5000),
                     NULL, false, NULL);
    expect_unchanged(403, "POST", "/v1/captures", "{\"id\":\"cap1\",\"dev\":\"vh\"}", NULL, false,
                     "--allow");
}

static void api_should_answer_404_405_and_413_without_changing_anything(void **state)
{
    char *big;

    TU_REQUIRE_ROOT();
    expect_unchanged(404, "DELETE", "/v1/faults/nope", NULL, NULL, false, "nope");
    expect_unchanged(404, "POST", "/v1/faults/nope/renew", NULL, NULL, false, "nope");
    expect_unchanged(404, "GET", "/v1/faults/nope", NULL, NULL, false, "nope");
    expect_unchanged(404, "GET", "/v1/nothing", NULL, NULL, false, NULL);
    expect_unchanged(404, "GET", "/v2/faults", NULL, NULL, false, NULL);
    expect_unchanged(404, "DELETE", "/v1/captures/nope", NULL, NULL, false, NULL);
    expect_unchanged(405, "PUT", "/v1/faults", "{}", NULL, false, NULL);
    expect_unchanged(405, "GET", "/v1/revert-all", NULL, NULL, false, NULL);
    expect_unchanged(405, "DELETE", "/v1/health", NULL, NULL, false, NULL);
    big = malloc(100 * 1024 + 1);
    assert_non_null(big);
    memset(big, ' ', 100 * 1024);
    big[0] = '{';
    big[100 * 1024 - 1] = '}';
    big[100 * 1024] = '\0';
    expect_unchanged(413, "POST", "/v1/faults", big, NULL, false, "larger");
    expect_unchanged(413, "POST", "/v1/faults", big, NULL, true, "larger");
    free(big);
}

static void api_should_apply_idempotently_and_refuse_a_different_spec_with_409(void **state)
{
    char *before, *resp = NULL, *after;
    json_t *j;

    TU_REQUIRE_ROOT();
    before = tn_snapshot("h");
    assert_int_equal(apply("i1", fx_partition("drop"), 10000, &resp), 201);
    j = json_loads(resp, 0, NULL);
    assert_non_null(j);
    assert_true(json_integer_value(json_object_get(j, "apply_end_ns")) >=
                json_integer_value(json_object_get(j, "apply_start_ns")));
    assert_true(json_integer_value(json_object_get(j, "apply_start_ns")) > 0);
    assert_int_equal(json_integer_value(json_object_get(j, "ttl_ms")), 10000);
    json_decref(j);
    free(resp);
    after = tn_snapshot("h");
    assert_string_not_equal(before, after);

    /* Same id, same spec: 200, nothing new. */
    expect_unchanged(200, "POST", "/v1/faults", fx_apply_body("i1", fx_partition("drop"), 10000),
                     NULL, false, NULL);
    /* Same id, different spec: 409 and the first fault untouched. */
    expect_unchanged(409, "POST", "/v1/faults", fx_apply_body("i1", fx_partition("reject"), 10000),
                     NULL, false, NULL);
    expect_unchanged(200, "GET", "/v1/faults/i1", NULL, NULL, false, NULL);
    expect_unchanged(200, "GET", "/v1/faults", NULL, NULL, false, NULL);
    expect_unchanged(200, "POST", "/v1/faults/i1/renew", "{\"ttl_ms\":20000}", NULL, false, NULL);
    expect_unchanged(200, "POST", "/v1/faults/i1/renew", NULL, NULL, false, NULL);
    expect_unchanged(200, "GET", "/v1/health", NULL, NULL, false, NULL);
    expect_unchanged(200, "GET", "/v1/capabilities", NULL, NULL, false, NULL);
    expect_unchanged(200, "GET", "/metrics", NULL, "", false, NULL);

    assert_int_equal(fx_http(&ag, NULL, "DELETE", "/v1/faults/i1", NULL, NULL, false, NULL), 200);
    free(after);
    after = tn_snapshot("h");
    assert_string_equal(before, after);
    /* Revert twice: the second is a 404 and still changes nothing. */
    expect_unchanged(404, "DELETE", "/v1/faults/i1", NULL, NULL, false, NULL);

    assert_int_equal(apply("i2", fx_partition("reject"), 10000, NULL), 201);
    assert_int_equal(apply("i3", fx_partition("drop"), 10000, NULL), 201);
    assert_int_equal(fx_http(&ag, NULL, "POST", "/v1/revert-all", NULL, NULL, false, &resp), 200);
    assert_non_null(strstr(resp, "\"reverted\":2"));
    free(resp);
    free(after);
    after = tn_snapshot("h");
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* Established TCP connection from c to h: echo works? */
static int echo_ok(int s, int timeout_ms)
{
    struct pollfd p = {s, POLLIN, 0};
    char buf[16];

    if (write(s, "ping", 4) != 4)
        return 0;
    if (poll(&p, 1, timeout_ms) != 1)
        return 0;
    return read(s, buf, sizeof(buf)) == 4;
}

static void api_should_cut_a_live_tcp_connection_and_delete_should_restore_it(void **state)
{
    struct sockaddr_in sa = {0};
    char *before, *after, *metrics = NULL;
    int srv, s, fl;

    TU_REQUIRE_ROOT();
    before = tn_snapshot("h");
    srv = tn_tcp_server("h", "198.18.2.1", 5001);
    assert_true(srv > 0);
    assert_int_equal(tn_enter("c"), 0);
    s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    tn_leave();
    sa.sin_family = AF_INET;
    sa.sin_port = htons(5001);
    inet_pton(AF_INET, "198.18.2.1", &sa.sin_addr);
    assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_true(echo_ok(s, 1000));

    assert_int_equal(apply("cut", fx_partition("drop"), 30000, NULL), 201);
    assert_false(echo_ok(s, 500)); /* the established flow is cut */
    assert_int_equal(tn_tcp_connect("c", "198.18.2.1", 5001, 300, NULL), -ETIMEDOUT);
    /* Drop counters show up as evidence in /metrics. */
    assert_int_equal(fx_http(&ag, NULL, "GET", "/metrics", NULL, "", false, &metrics), 200);
    assert_non_null(strstr(metrics, "faultline_agent_fault_dropped_packets_total{id=\"cut\""));
    assert_null(strstr(metrics, "faultline_agent_fault_dropped_packets_total{id=\"cut\","
                                "kind=\"partition\"} 0\n"));
    free(metrics);

    assert_int_equal(fx_http(&ag, NULL, "DELETE", "/v1/faults/cut", NULL, NULL, false, NULL), 200);
    /* The retransmitted "ping" arrives once the rule is gone; drain then echo again. */
    fl = fcntl(s, F_GETFL);
    {
        struct pollfd p = {s, POLLIN, 0};
        char buf[64];

        assert_int_equal(poll(&p, 1, 5000), 1);
        assert_true(read(s, buf, sizeof(buf)) > 0);
    }
    fcntl(s, F_SETFL, fl);
    assert_true(echo_ok(s, 2000));
    assert_int_equal(tn_tcp_connect("c", "198.18.2.1", 5001, 1000, NULL), 0);
    close(s);
    tn_stop(srv);
    after = tn_snapshot("h");
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static bool fault_listed(const char *id)
{
    char path[128];

    snprintf(path, sizeof(path), "/v1/faults/%s", id);
    return fx_http(&ag, NULL, "GET", path, NULL, NULL, false, NULL) == 200;
}

static void lease_should_revert_an_unrenewed_fault_within_1500ms(void **state)
{
    char *before, *now = NULL;
    int64_t t0, gone = 0;
    bool seen_applied_late = false;

    TU_REQUIRE_ROOT();
    before = tn_snapshot("h");
    assert_int_equal(apply("ttl1", fx_partition("drop"), 1000, NULL), 201);
    t0 = fl_now_ns();
    while (fl_now_ns() - t0 < 3000000000LL) {
        free(now);
        now = tn_snapshot("h");
        if (strcmp(now, before) == 0) {
            gone = fl_now_ns() - t0;
            break;
        }
        if (fl_now_ns() - t0 > 700000000LL)
            seen_applied_late = true;
        usleep(20000);
    }
    free(now);
    free(before);
    if (gone == 0)
        fail_msg("fault with ttl_ms 1000 still applied after 3 s");
    if (gone > 1500000000LL)
        fail_msg("fault with ttl_ms 1000 reverted only after %.0f ms", (double)gone / 1e6);
    assert_true(seen_applied_late); /* not reverted too early either */
    assert_false(fault_listed("ttl1"));
}

static void lease_should_keep_a_renewed_fault(void **state)
{
    char *before, *now;
    int64_t t0;

    TU_REQUIRE_ROOT();
    before = tn_snapshot("h");
    assert_int_equal(apply("ttl2", fx_partition("reject"), 1000, NULL), 201);
    t0 = fl_now_ns();
    while (fl_now_ns() - t0 < 2500000000LL) {
        usleep(300000);
        assert_int_equal(
            fx_http(&ag, NULL, "POST", "/v1/faults/ttl2/renew", NULL, NULL, false, NULL), 200);
    }
    now = tn_snapshot("h");
    assert_string_not_equal(before, now);
    assert_true(fault_listed("ttl2"));
    free(now);
    /* Stop renewing: it goes by itself. */
    usleep(1500000);
    assert_false(fault_listed("ttl2"));
    now = tn_snapshot("h");
    assert_string_equal(before, now);
    free(now);
    free(before);
}

static void agent_should_serve_tls_and_refuse_plain_http(void **state)
{
    struct fx_agent t;
    char cert[256], key[256];
    const char *extra[5];

    TU_REQUIRE_ROOT();
    assert_int_equal(fx_init(&t, "h", "127.0.0.1:7302"), 0);
    snprintf(cert, sizeof(cert), "%s/cert.pem", t.dir);
    snprintf(key, sizeof(key), "%s/key.pem", t.dir);
    assert_int_equal(tu_sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 "
                           "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
                           ">/dev/null 2>&1",
                           key, cert),
                     0);
    extra[0] = "--tls-cert";
    extra[1] = cert;
    extra[2] = "--tls-key";
    extra[3] = key;
    extra[4] = NULL;
    snprintf(t.scheme, sizeof(t.scheme), "https");
    snprintf(t.cafile, sizeof(t.cafile), "%s", cert);
    assert_int_equal(fx_start(&t, extra), 0);
    assert_int_equal(fx_http(&t, NULL, "GET", "/v1/health", NULL, NULL, false, NULL), 200);
    assert_int_equal(fx_http(&t, NULL, "GET", "/v1/health", NULL, "", false, NULL), 401);
    snprintf(t.scheme, sizeof(t.scheme), "http");
    assert_int_equal(fx_http(&t, NULL, "GET", "/v1/health", NULL, NULL, false, NULL), 0);
    assert_int_equal(fx_stop(&t, SIGTERM), 0);
    fx_cleanup(&t);
}

static void agent_should_refuse_a_second_agent_on_the_same_state_dir(void **state)
{
    struct fx_agent t = ag;
    int st;

    TU_REQUIRE_ROOT();
    snprintf(t.listen, sizeof(t.listen), "127.0.0.1:7303");
    assert_true(fx_spawn(&t, NULL) > 0);
    st = fx_stop(&t, 0); /* waits for it to exit by itself */
    assert_int_equal(st, 1);
    assert_true(fx_log_contains(&ag, "another agent uses this state directory"));
}

static void sigterm_should_revert_everything_and_exit_0(void **state)
{
    char *before, *after;

    TU_REQUIRE_ROOT();
    before = tn_snapshot("h");
    assert_int_equal(apply("t1", fx_partition("drop"), 60000, NULL), 201);
    assert_int_equal(apply("t2", fx_partition("reject"), 60000, NULL), 201);
    assert_int_equal(fx_stop(&ag, SIGTERM), 0);
    after = tn_snapshot("h");
    assert_string_equal(before, after);
    free(after);
    /* SIGINT too, and the token never reached the log. */
    assert_int_equal(fx_start(&ag, NULL), 0);
    assert_int_equal(apply("t3", fx_partition("drop"), 60000, NULL), 201);
    assert_int_equal(fx_stop(&ag, SIGINT), 0);
    after = tn_snapshot("h");
    assert_string_equal(before, after);
    assert_false(fx_log_contains(&ag, ag.token));
    assert_true(fx_log_contains(&ag, "serving on"));
    free(before);
    free(after);
    assert_int_equal(fx_start(&ag, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(api_should_refuse_unauthenticated_requests_with_401),
        cmocka_unit_test(api_should_refuse_bad_input_with_400),
        cmocka_unit_test(api_should_refuse_faults_outside_the_allowlist_with_403),
        cmocka_unit_test(api_should_answer_404_405_and_413_without_changing_anything),
        cmocka_unit_test(api_should_apply_idempotently_and_refuse_a_different_spec_with_409),
        cmocka_unit_test(api_should_cut_a_live_tcp_connection_and_delete_should_restore_it),
        cmocka_unit_test(lease_should_revert_an_unrenewed_fault_within_1500ms),
        cmocka_unit_test(lease_should_keep_a_renewed_fault),
        cmocka_unit_test(agent_should_serve_tls_and_refuse_plain_http),
        cmocka_unit_test(agent_should_refuse_a_second_agent_on_the_same_state_dir),
        cmocka_unit_test(sigterm_should_revert_everything_and_exit_0),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
