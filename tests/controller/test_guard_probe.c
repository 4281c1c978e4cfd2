/*
 * The guard engine (controller/guard.c) against a real HTTP server on
 * 127.0.0.1 in this process (libmicrohttpd): /health answers the status the
 * test sets (after an optional delay), /api/v1/query answers the
 * Prometheus-format body the test sets and keeps the query it was asked.
 * Probes: status, timeout, nothing listening; Prometheus vectors and
 * scalars against max and min, no result, a query error, not JSON. Then
 * the pre-check (up to `failures` probes), the guard thread tripping after
 * consecutive failures, abort_when's window and its trip, and the `guard`
 * result (fail, pass with counts, inconclusive).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <microhttpd.h>

#include "experiment.h"
#include "faultline/timeutil.h"
#include "guard.h"
#include "run_int.h"

static struct MHD_Daemon *daemon_;
static unsigned short port_;
static atomic_int health_status = 200;
static atomic_int delay_ms;
static pthread_mutex_t body_mu = PTHREAD_MUTEX_INITIALIZER;
static char prom_body[1024];
static char prom_query[256];
static int prom_status = 200;

static void set_prom(int status, const char *body)
{
    pthread_mutex_lock(&body_mu);
    prom_status = status;
    snprintf(prom_body, sizeof(prom_body), "%s", body);
    pthread_mutex_unlock(&body_mu);
}

/* The query the server was last asked (copied under the lock the server writes it with). */
static const char *last_query(void)
{
    static char q[sizeof(prom_query)];

    pthread_mutex_lock(&body_mu);
    memcpy(q, prom_query, sizeof(q));
    pthread_mutex_unlock(&body_mu);
    return q;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **con_cls)
{
    struct MHD_Response *r;
    char body[1024];
    int status;
    enum MHD_Result ret;

    (void)cls, (void)method, (void)version, (void)upload, (void)upload_len, (void)con_cls;
    if (atomic_load(&delay_ms) > 0)
        usleep((useconds_t)atomic_load(&delay_ms) * 1000);
    if (strcmp(url, "/api/v1/query") == 0) {
        const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "query");

        pthread_mutex_lock(&body_mu);
        snprintf(prom_query, sizeof(prom_query), "%s", q ? q : "");
        snprintf(body, sizeof(body), "%s", prom_body);
        status = prom_status;
        pthread_mutex_unlock(&body_mu);
    } else {
        snprintf(body, sizeof(body), "{\"status\":\"ok\"}");
        status = strcmp(url, "/health") == 0 ? atomic_load(&health_status) : 404;
    }
    r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static int server_up(void **state)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};

    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    progress_begin("guards", true);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                               NULL, NULL, answer, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
    if (daemon_ == NULL)
        return -1;
    port_ = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
    return port_ ? 0 : -1;
}

static int server_down(void **state)
{
    (void)state;
    MHD_stop_daemon(daemon_);
    curl_global_cleanup();
    return 0;
}

static int reset(void **state)
{
    (void)state;
    atomic_store(&health_status, 200);
    atomic_store(&delay_ms, 0);
    set_prom(200, "");
    return 0;
}

static struct exp_guard http_guard(const char *path, long timeout_ms)
{
    struct exp_guard g;

    memset(&g, 0, sizeof(g));
    snprintf(g.name, sizeof(g.name), "health");
    g.kind = EXP_GUARD_HTTP;
    snprintf(g.url, sizeof(g.url), "http://127.0.0.1:%u%s", port_, path);
    g.expect = 200;
    g.timeout_ns = timeout_ms * 1000000LL;
    g.every_ns = 100000000LL;
    g.failures = 1;
    return g;
}

static void http_probe_should_pass_on_the_expected_status_only(void **state)
{
    struct exp_guard g = http_guard("/health", 1000);
    struct guard_obs o;

    (void)state;
    assert_int_equal(guard_probe(&g, &o), 0);
    assert_true(o.ok);
    assert_true(o.has_value && o.value == 200);
    atomic_store(&health_status, 503);
    assert_int_equal(guard_probe(&g, &o), 0);
    assert_false(o.ok);
    assert_true(o.has_value && o.value == 503);
    assert_string_equal(o.why, "status 503, expected 200");
    g.expect = 503;
    assert_int_equal(guard_probe(&g, &o), 0);
    assert_true(o.ok);
}

static void http_probe_should_fail_after_its_timeout(void **state)
{
    struct exp_guard g = http_guard("/health", 200);
    struct guard_obs o;
    int64_t t;

    (void)state;
    atomic_store(&delay_ms, 700);
    t = fl_now_ns();
    assert_int_equal(guard_probe(&g, &o), 0);
    t = fl_now_ns() - t;
    assert_false(o.ok);
    assert_false(o.has_value);
    assert_string_equal(o.why, "no answer within 200 ms");
    assert_true(t < 600000000LL);
}

static void http_probe_should_fail_when_nothing_listens(void **state)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    struct exp_guard g = http_guard("/", 1000);
    struct guard_obs o;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    (void)state;
    /* a port that was free a moment ago, and is closed again */
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    snprintf(g.url, sizeof(g.url), "http://127.0.0.1:%u/health", ntohs(sa.sin_port));
    assert_int_equal(guard_probe(&g, &o), 0);
    assert_false(o.ok);
    assert_false(o.has_value);
    if (strstr(o.why, "onnect") == NULL)
        fail_msg("expected a connection error, got '%s'", o.why);
}

static struct exp_guard prom_guard(const char *query)
{
    struct exp_guard g;

    memset(&g, 0, sizeof(g));
    snprintf(g.name, sizeof(g.name), "budget");
    g.kind = EXP_GUARD_PROMETHEUS;
    snprintf(g.url, sizeof(g.url), "http://127.0.0.1:%u", port_);
    snprintf(g.query, sizeof(g.query), "%s", query);
    g.has_max = true;
    g.max = 5;
    g.timeout_ns = 1000000000LL;
    g.every_ns = 100000000LL;
    g.failures = 1;
    return g;
}

#define VECTOR(v_)                                                                                 \
    "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\"" \
    ":\"api\"},\"value\":[1700000000.1,\"" v_ "\"]}]}}"

static void prometheus_probe_should_compare_the_value_with_max_and_min(void **state)
{
    struct exp_guard g = prom_guard("sum(rate(errors{job=\"api\"}[1m])) > 0 & on() up");
    struct guard_obs o;

    (void)state;
    set_prom(200, VECTOR("3"));
    assert_int_equal(guard_probe(&g, &o), 0);
    assert_true(o.ok);
    assert_true(o.has_value && o.value == 3);
    /* the query arrived whole: URL-encoded on the way */
    assert_string_equal(last_query(), "sum(rate(errors{job=\"api\"}[1m])) > 0 & on() up");
    set_prom(200, VECTOR("7.5"));
    assert_int_equal(guard_probe(&g, &o), 0);
    assert_false(o.ok);
    assert_true(o.value == 7.5);
    assert_string_equal(o.why, "value 7.5 above max 5");
    g.has_max = false;
    g.has_min = true;
    g.min = 10;
    assert_int_equal(guard_probe(&g, &o), 0);
    assert_false(o.ok);
    assert_string_equal(o.why, "value 7.5 below min 10");
    set_prom(200, "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":"
                  "[1700000000,\"12\"]}}");
    assert_int_equal(guard_probe(&g, &o), 0);
    assert_true(o.ok);
    assert_true(o.value == 12);
    set_prom(200, VECTOR("NaN"));
    assert_int_equal(guard_probe(&g, &o), 0);
    assert_false(o.ok);
    assert_string_equal(o.why, "the query's value is NaN");
}

static void prometheus_probe_should_fail_without_a_value(void **state)
{
    struct exp_guard g = prom_guard("up");
    struct guard_obs o;

    (void)state;
    set_prom(200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}");
    assert_int_equal(guard_probe(&g, &o), 0);
    assert_false(o.ok);
    assert_string_equal(o.why, "the query returned no result (an empty vector): nothing to "
                               "compare");
    set_prom(400, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error at "
                  "char 3\"}");
    assert_int_equal(guard_probe(&g, &o), 0);
    assert_false(o.ok);
    assert_string_equal(o.why, "query failed (status 400): parse error at char 3");
    set_prom(200, "<html>not prometheus</html>");
    assert_int_equal(guard_probe(&g, &o), 0);
    assert_false(o.ok);
    assert_string_equal(o.why, "status 200, not Prometheus's JSON");
    set_prom(200, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}");
    assert_int_equal(guard_probe(&g, &o), 0);
    assert_false(o.ok);
    assert_string_equal(o.why, "the query gave a matrix, expected an instant vector or a scalar");
    set_prom(200, VECTOR("3"));
    atomic_store(&delay_ms, 500);
    g.timeout_ns = 150000000LL;
    assert_int_equal(guard_probe(&g, &o), 0);
    assert_false(o.ok);
    assert_string_equal(o.why, "no answer within 150 ms");
}

/* ---- the engine on a run ---------------------------------------------------- */

static struct run *run_new(const char *guards, const char *abort_when)
{
    char text[4096];
    struct run *R = calloc(1, sizeof(*R));
    struct fl_err err = {0};
    struct experiment *exp = NULL;

    snprintf(text, sizeof(text),
             "apiVersion: faultline/v1\n"
             "name: g\n"
             "topology: {regions: [{name: west, zones: [{name: z1, hosts: 1}]}]}\n"
             "target: {kind: refstore, preset: key-vault}\n"
             "workload: {clients: 1, rate: 10/s, duration: 20s, mix: {get-secret: 1, "
             "set-secret: 1}%s}\n"
             "faults: []\n"
             "verify: {availability: {during: {read: 0.5}}}\n"
             "%s",
             abort_when, guards);
    if (experiment_parse(text, strlen(text), "g.yaml", &exp, &err) != 0)
        fail_msg("%s", err.msg);
    R->exp = exp;
    pthread_mutex_init(&R->mu, NULL);
    return R;
}

static void run_delete(struct run *R)
{
    guards_free(R);
    vfy_results_free(&R->vres);
    experiment_free((struct experiment *)R->exp);
    pthread_mutex_destroy(&R->mu);
    free(R);
}

static struct run *run_health(unsigned failures)
{
    char g[512];

    snprintf(g, sizeof(g),
             "guards:\n"
             "  - {name: api, http: {url: \"http://127.0.0.1:%u/health\", timeout: 300ms}, "
             "every: 100ms, failures: %u}\n",
             port_, failures);
    return run_new(g, "");
}

static void check_once_should_probe_up_to_failures_times(void **state)
{
    struct run *R = run_health(3);
    json_t *res = NULL, *g;
    int64_t t = fl_now_ns();

    (void)state;
    atomic_store(&health_status, 503);
    assert_int_equal(guards_check_once(R, &res), 1);
    t = fl_now_ns() - t;
    assert_true(t >= 200000000LL); /* three probes 100 ms apart */
    assert_non_null(res);
    assert_true(json_is_false(json_object_get(res, "steady")));
    g = json_array_get(json_object_get(res, "guards"), 0);
    assert_string_equal(json_string_value(json_object_get(g, "name")), "api");
    assert_int_equal(json_integer_value(json_object_get(g, "probes")), 3);
    assert_string_equal(json_string_value(json_object_get(g, "why")), "status 503, expected 200");
    json_decref(res);
    assert_string_equal(guards_tripped_name(R), "api");
    /* the pre-check never sets the run's trip flag (nothing to heal) */
    assert_int_equal(atomic_load(&R->guard_trip), 0);
    assert_int_equal(guards_result_append(R), 0);
    assert_int_equal(R->vres.n, 1);
    assert_string_equal(R->vres.r[0].name, "guard");
    assert_int_equal(R->vres.r[0].status, VFY_FAIL);
    assert_string_equal(json_string_value(json_object_get(R->vres.r[0].measured, "phase")),
                        "precheck");
    assert_null(json_object_get(R->vres.r[0].measured, "tripped_at_ms"));
    run_delete(R);

    R = run_health(3);
    atomic_store(&health_status, 200);
    assert_int_equal(guards_check_once(R, &res), 0);
    assert_true(json_is_true(json_object_get(res, "steady")));
    g = json_array_get(json_object_get(res, "guards"), 0);
    assert_int_equal(json_integer_value(json_object_get(g, "probes")), 1);
    json_decref(res);
    run_delete(R);
}

/* Wait up to ms for the run's trip flag. */
static bool wait_trip(struct run *R, int ms)
{
    int i;

    for (i = 0; i < ms / 10 && !atomic_load(&R->guard_trip); i++)
        usleep(10000);
    return atomic_load(&R->guard_trip) != 0;
}

static void guard_thread_should_trip_after_consecutive_failures(void **state)
{
    struct run *R = run_health(3);
    const struct vfy_result *v;
    int64_t at;

    (void)state;
    R->t0 = fl_now_ns();
    assert_int_equal(guards_start(R), 0);
    usleep(500000);
    assert_int_equal(atomic_load(&R->guard_trip), 0); /* steady so far */
    atomic_store(&health_status, 500);
    assert_true(wait_trip(R, 3000));
    guards_stop(R);
    assert_string_equal(guards_tripped_name(R), "api");
    assert_int_equal(guards_result_append(R), 0);
    v = vfy_results_find(&R->vres, "guard");
    assert_non_null(v);
    assert_int_equal(v->status, VFY_FAIL);
    at = json_integer_value(json_object_get(v->measured, "tripped_at_ms"));
    /* three failures 100 ms apart after the switch at 500 ms */
    assert_true(at >= 600 && at < 1500);
    assert_string_equal(json_string_value(json_object_get(v->measured, "tripped")), "api");
    assert_non_null(strstr(json_string_value(json_object_get(v->measured, "reason")),
                           "3 consecutive failed probes, the last: status 500, expected 200"));
    assert_true(json_array_size(json_object_get(
                    json_array_get(json_object_get(v->measured, "guards"), 0), "last")) > 0);
    run_delete(R);
}

static void guard_thread_should_stop_while_a_probe_waits(void **state)
{
    char g[512];
    struct run *R;
    int64_t t;

    (void)state;
    snprintf(g, sizeof(g),
             "guards:\n"
             "  - {name: slow, http: {url: \"http://127.0.0.1:%u/health\", timeout: 10s}}\n",
             port_);
    R = run_new(g, "");
    atomic_store(&delay_ms, 1500);
    R->t0 = fl_now_ns();
    assert_int_equal(guards_start(R), 0);
    usleep(200000); /* the first probe is waiting for its answer */
    t = fl_now_ns();
    guards_stop(R);
    t = fl_now_ns() - t;
    if (t > 500000000LL)
        fail_msg("guards_stop waited %.0f ms for a probe in flight", (double)t / 1e6);
    assert_int_equal(atomic_load(&R->guard_trip), 0);
    assert_int_equal(guards_result_append(R), 0);
    /* the probe cut short is not an observation */
    assert_int_equal(R->vres.r[0].status, VFY_INCONCLUSIVE);
    run_delete(R);
}

static void guard_result_should_pass_with_counts_or_be_inconclusive(void **state)
{
    struct run *R = run_health(2);
    const struct vfy_result *v;
    json_t *g;

    (void)state;
    /* a guard that failed once, not twice in a row: no trip */
    R->t0 = fl_now_ns();
    assert_int_equal(guards_start(R), 0);
    usleep(250000);
    atomic_store(&health_status, 503);
    usleep(120000);
    atomic_store(&health_status, 200);
    usleep(300000);
    guards_stop(R);
    assert_int_equal(atomic_load(&R->guard_trip), 0);
    assert_int_equal(guards_result_append(R), 0);
    v = vfy_results_find(&R->vres, "guard");
    assert_int_equal(v->status, VFY_PASS);
    g = json_array_get(json_object_get(v->measured, "guards"), 0);
    assert_true(json_integer_value(json_object_get(g, "probes")) >= 5);
    assert_true(json_integer_value(json_object_get(g, "failed")) >= 1);
    run_delete(R);

    /* never probed: inconclusive */
    R = run_health(1);
    assert_int_equal(guards_result_append(R), 0);
    assert_int_equal(R->vres.r[0].status, VFY_INCONCLUSIVE);
    assert_string_equal(R->vres.r[0].reason, "no guard probe ran during the workload");
    run_delete(R);

    /* no guards: no result */
    R = run_new("", "");
    assert_int_equal(guards_result_append(R), 0);
    assert_int_equal(R->vres.n, 0);
    assert_int_equal(guards_phase(R), 0);
    run_delete(R);
}

static void abort_window_should_judge_full_windows_only(void **state)
{
    struct guard_window w;
    double ratio = -1;

    (void)state;
    assert_int_equal(guard_window_init(&w, 2), 0);
    /* cumulative (ok, total) once a second */
    assert_false(guard_window_push(&w, 0, 0, 0.5, &ratio));
    assert_false(guard_window_push(&w, 10, 10, 0.5, &ratio));
    assert_false(guard_window_push(&w, 20, 20, 0.5, &ratio)); /* full: 20/20 */
    assert_true(ratio == 1.0);
    assert_false(guard_window_push(&w, 22, 30, 0.5, &ratio)); /* 12/20 */
    assert_true(ratio == 0.6);
    assert_true(guard_window_push(&w, 23, 40, 0.5, &ratio)); /* 3/20 */
    assert_true(ratio == 0.15);
    assert_true(guard_window_push(&w, 23, 40, 0.5, &ratio)); /* 1/10 */
    assert_true(ratio == 0.1);
    assert_false(guard_window_push(&w, 23, 40, 0.5, &ratio)); /* nothing ended: no judgment */
    guard_window_free(&w);
}

static void abort_when_should_trip_on_the_class_ratio(void **state)
{
    struct run *R = run_new("", ", abort_when: {class: write, success_below: 0.5, for: 2s}");
    struct wl_stats s;
    const struct vfy_result *v;
    double ratio;
    int i;

    (void)state;
    memset(&s, 0, sizeof(s));
    R->t0 = fl_now_ns();
    assert_int_equal(guards_start(R), 0);
    /* reads all fine, writes 1 in 5 ok: any-class would be 60 %, write 20 % */
    for (i = 0; i < 400 && !atomic_load(&R->guard_trip); i++) {
        s.class_ok[WL_CLASS_READ] += 2;
        s.class_ok[WL_CLASS_WRITE] += i % 5 == 0;
        s.class_fail[WL_CLASS_WRITE] += i % 5 != 0;
        guards_observe(R, &s);
        usleep(10000);
    }
    assert_true(wait_trip(R, 100));
    guards_stop(R);
    assert_string_equal(guards_tripped_name(R), "workload.abort_when");
    assert_int_equal(guards_result_append(R), 0);
    v = vfy_results_find(&R->vres, "guard");
    assert_int_equal(v->status, VFY_FAIL);
    assert_true(json_integer_value(json_object_get(v->measured, "tripped_at_ms")) >= 2000);
    /* about one write in five ok (the window's edges fall anywhere in the pattern) */
    assert_non_null(
        strstr(json_string_value(json_object_get(v->measured, "reason")), "write success 0."));
    ratio = json_real_value(
        json_object_get(json_object_get(v->measured, "abort_when"), "lowest_ratio"));
    assert_true(ratio > 0.1 && ratio < 0.3);
    run_delete(R);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(http_probe_should_pass_on_the_expected_status_only, reset),
        cmocka_unit_test_setup(http_probe_should_fail_after_its_timeout, reset),
        cmocka_unit_test_setup(http_probe_should_fail_when_nothing_listens, reset),
        cmocka_unit_test_setup(prometheus_probe_should_compare_the_value_with_max_and_min, reset),
        cmocka_unit_test_setup(prometheus_probe_should_fail_without_a_value, reset),
        cmocka_unit_test_setup(check_once_should_probe_up_to_failures_times, reset),
        cmocka_unit_test_setup(guard_thread_should_trip_after_consecutive_failures, reset),
        cmocka_unit_test_setup(guard_thread_should_stop_while_a_probe_waits, reset),
        cmocka_unit_test_setup(guard_result_should_pass_with_counts_or_be_inconclusive, reset),
        cmocka_unit_test(abort_window_should_judge_full_windows_only),
        cmocka_unit_test_setup(abort_when_should_trip_on_the_class_ratio, reset),
    };

    return cmocka_run_group_tests(tests, server_up, server_down);
}
