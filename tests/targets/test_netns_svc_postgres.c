/*
 * PostgreSQL with pg_auto_failover, for real: a monitor (east), a primary
 * (west) and a secondary (north) from Debian's postgresql-15 and
 * pg_auto_failover packages, started by the postgres launcher with short
 * failure-detection settings, driven through the libpq driver
 * (target_session_attrs=read-write finds the primary). West is isolated for
 * longer than the failover timeouts, then healed. What must show, as
 * pg_auto_failover documents:
 *  - the secondary is promoted only after the monitor's timeouts: writes
 *    are served again no sooner than node_considered_unhealthy_timeout +
 *    primary_demote_timeout after the cut (less the keepers' 1 s reporting
 *    period) and within the bound the health checks, the demote timeout and
 *    the keepers' steps give (RTO_MAX_MS below);
 *  - no acknowledged write is lost (synchronous replication to the
 *    secondary: the isolated primary cannot acknowledge alone);
 *  - a write refused by the read-only secondary is a refusal (fail).
 * Before the cut, compare-and-set (conditional UPDATE / INSERT ... ON
 * CONFLICT DO NOTHING) and the set model (a row per element) are checked
 * against the primary.
 * Needs root and the postgresql-15 / pg_auto_failover packages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultline/driver.h"
#include "faultline/err.h"
#include "faultline/target.h"
#include "faultline/timeutil.h"
#include "test_svc_lab.h"
#include "testutil.h"

#define MS           1000000LL
#define UNHEALTHY_MS 3000
#define DEMOTE_MS    5000
/* The launcher's health-check defaults: period 1 s, timeout 1 s, 1 retry after 500 ms. */
#define HEALTH_CHECK_FAIL_MS (1000 + 500 + 1000)
#define KEEPER_STEP_MS       1000 /* a keeper acts on the monitor's goal once a second */
#define OP_TIMEOUT_MS        1000 /* the far client's per-operation timeout */
/*
 * The RTO bounds, from the configured timeouts. Not before unhealthy_timeout
 * + primary_demote_timeout, less the keepers' 1 s reporting period (the
 * last report may precede the cut by that much). At most: the primary is
 * unhealthy once its health check failed (up to a period after the cut, plus
 * HEALTH_CHECK_FAIL_MS) and its keeper has been silent for unhealthy_timeout;
 * then primary_demote_timeout; then the secondary's keeper goes through
 * prepare_promotion, stop_replication and wait_primary (three steps); then a
 * write in flight times out; margin 2.5 s (promotion itself, scheduling).
 */
#define RTO_MIN_MS (UNHEALTHY_MS + DEMOTE_MS - KEEPER_STEP_MS)
#define RTO_MAX_MS                                                                               \
    ((UNHEALTHY_MS > 1000 + HEALTH_CHECK_FAIL_MS ? UNHEALTHY_MS : 1000 + HEALTH_CHECK_FAIL_MS) + \
     DEMOTE_MS + 3 * KEEPER_STEP_MS + OP_TIMEOUT_MS + 2500)

static const char *host_state(json_t *status, const char *host)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(status, "hosts"), host), "reported"));
}

static void postgres_should_promote_after_its_timeouts_and_lose_nothing(void **state)
{
    const struct fl_target_ops *t = fl_target_find("postgres");
    const struct fl_driver_ops *d = fl_driver_find("postgres");
    json_t *cfg = json_pack("{s:s, s:i, s:i}", "kind", "postgres", "unhealthy_timeout",
                            UNHEALTHY_MS, "primary_demote_timeout", DEMOTE_MS);
    const struct fl_target_endpoint *eps;
    struct fl_endpoint far, ro;
    void *st = NULL, *cf = NULL, *cr = NULL, *cro = NULL;
    struct fl_op_result res;
    struct fl_err e;
    size_t neps, i;
    char key[32];
    static uint64_t vals[8192];
    int n = 0, streak = 0, lost = 0, n_ok = 0, n_fail = 0, n_info = 0, ro_refusals = 0;
    int west = svl_find_region("west");
    int64_t t_cut, first_ok = 0, rto, deadline, t_rejoin = -1;
    uint64_t v = 1;
    json_t *status;

    (void)state;
    TU_REQUIRE_ROOT();
    if (access("/usr/bin/pg_autoctl", X_OK) != 0) {
        if (tu_strict())
            fail_msg("pg_autoctl is not installed (scripts/setup.sh --with-services)");
        tu_note_skip(__func__, "pg-auto-failover-cli not installed");
        skip();
    }
    assert_non_null(t);
    assert_non_null(d);
    fl_err_clear(&e);
    if (t->start(svl_env(cfg, "west"), &st, &e) < 0)
        fail_msg("start: %s", e.msg);
    svl_cur_ops = t;
    svl_cur_state = st;
    status = t->status(st);
    assert_string_equal(json_string_value(json_object_get(status, "primary")),
                        svl_hosts[west].name);
    json_decref(status);
    t->endpoints(st, &eps, &neps);
    assert_int_equal(neps, 2); /* west and north hold data; east only the monitor */
    for (i = 0; i < neps && strcmp(eps[i].region, "north") != 0; i++)
        ;
    assert_true(i < neps);
    snprintf(far.region, sizeof(far.region), "north");
    snprintf(far.url, sizeof(far.url), "%s", eps[i].url);
    if (d->open(&far, 1, OP_TIMEOUT_MS * MS, &cf, &e) < 0)
        fail_msg("open: %s", e.msg);
    svl_op(d, cf, "put", "before", 7, &res);
    if (res.outcome != HIST_OK)
        fail_msg("put before the cut: %s", res.error);
    svl_op(d, cf, "get", "before", 0, &res);
    assert_int_equal(res.value, 7);
    svl_check_set_and_cas(d, cf, "put", "get", 0);
    /* The secondary on its own refuses writes: "read-only transaction" is a refusal. */
    snprintf(ro.region, sizeof(ro.region), "north");
    snprintf(ro.url, sizeof(ro.url), "host=%s port=5433 dbname=postgres user=postgres",
             svl_hosts[svl_find_region("north")].addr);
    if (d->open(&ro, 1, 1000 * MS, &cro, &e) < 0)
        fail_msg("open: %s", e.msg);
    svl_op(d, cro, "put", "ro", 1, &res);
    if (res.outcome == HIST_FAIL && strstr(res.error, "read-only"))
        ro_refusals++;
    else
        fail_msg("a write on the secondary: outcome %d '%s', expected a read-only refusal",
                 res.outcome, res.error);
    d->close(cro);

    t_cut = svl_isolate(svl_hosts[west].addr);
    deadline = t_cut + (UNHEALTHY_MS + DEMOTE_MS + 40000) * MS;
    while (fl_now_ns() < deadline && n < 8192) {
        snprintf(key, sizeof(key), "k%d", n);
        svl_op(d, cf, "put", key, ++v, &res);
        vals[n++] = res.outcome == HIST_OK ? v : 0;
        if (res.outcome == HIST_OK) {
            n_ok++;
            if (streak++ == 0)
                first_ok = fl_now_ns();
        } else {
            streak = 0;
            if (res.outcome == HIST_FAIL)
                n_fail++;
            else
                n_info++;
        }
        if (streak >= 20)
            break;
        usleep(50000);
    }
    rto = streak >= 20 ? first_ok - t_cut : -1;
    svl_heal();
    /* The old primary should come back as a secondary (pg_rewind); report how long. */
    deadline = fl_now_ns() + 60000 * MS;
    while (fl_now_ns() < deadline) {
        const char *ws;

        status = t->status(st);
        ws = host_state(status, svl_hosts[west].name);
        if (ws && strcmp(ws, "secondary") == 0) {
            t_rejoin = fl_now_ns();
            json_decref(status);
            break;
        }
        json_decref(status);
        usleep(500000);
    }
    if (d->open(&far, 1, 3000 * MS, &cr, &e) < 0)
        fail_msg("open: %s", e.msg);
    for (i = 0; i < (size_t)n; i++) {
        if (!vals[i])
            continue;
        snprintf(key, sizeof(key), "k%zu", i);
        svl_op(d, cr, "get", key, 0, &res);
        if (res.outcome != HIST_OK)
            fail_msg("read back %s: %s", key, res.error);
        if (res.value != vals[i])
            lost++;
    }
    svl_op(d, cr, "get", "before", 0, &res);
    assert_int_equal(res.value, 7);
    status = t->status(st);
    printf("postgres/pg_auto_failover (unhealthy %d ms, demote %d ms, health check 1 s): "
           "RTO %.2f s (bounds %.1f-%.1f s); writes during the outage: %d ok, %d refused, %d "
           "unknown; %d acknowledged writes lost; old primary %s; primary now %s\n",
           UNHEALTHY_MS, DEMOTE_MS, (double)rto / 1e9, RTO_MIN_MS / 1e3, RTO_MAX_MS / 1e3, n_ok,
           n_fail, n_info, lost,
           t_rejoin > 0 ? "rejoined as secondary" : "did not rejoin within 60 s",
           json_string_value(json_object_get(status, "primary")));
    json_decref(status);
    d->close(cf);
    d->close(cr);
    t->stop(st);
    svl_cur_state = NULL;
    json_decref(cfg);
    if (rto < 0)
        fail_msg("writes never came back after the primary's region was cut");
    assert_true(rto >= RTO_MIN_MS * MS);
    assert_true(rto <= RTO_MAX_MS * MS);
    assert_int_equal(lost, 0);
    assert_int_equal(ro_refusals, 1);
}

/* The three-region lab, when root and the service's package are there. */
static int group_setup(void **state)
{
    return svl_group_setup("/usr/bin/pg_autoctl", state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(postgres_should_promote_after_its_timeouts_and_lose_nothing,
                                  svl_test_teardown),
    };

    setvbuf(stdout, NULL, _IONBF, 0);
    return cmocka_run_group_tests(tests, group_setup, svl_group_teardown);
}
