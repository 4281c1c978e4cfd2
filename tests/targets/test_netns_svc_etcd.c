/*
 * etcd, for real: three members from Debian's etcd-server, one per region
 * namespace (west, north, east), started by the etcd launcher with
 * leadership moved to west, driven through the etcd driver (v3 JSON gateway,
 * libcurl). West, the leader's region, is isolated for longer than the
 * election timeout, then healed. What must show, as Raft promises:
 *  - the majority side (north, east) elects a leader and serves writes again
 *    no sooner than the election timeout less one heartbeat and within the
 *    bound the election and client timeouts give (RTO_MIN_MS, RTO_MAX_MS);
 *  - the minority side (the isolated old leader, reached by a client next to
 *    it) completes no write at all: every write there fails or times out;
 *  - no acknowledged write is lost after healing.
 * Before the cut, compare-and-set (a txn comparing the value, or
 * create_revision 0 for "absent") and the set model (a key per element,
 * range reads) are checked against the running cluster.
 * Needs root and the etcd-server package.
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

#define MS            1000000LL
#define ELECTION_MS   1000
#define HEARTBEAT_MS  100
#define OP_TIMEOUT_MS 500 /* each client's per-operation timeout */
/*
 * The RTO bounds, from the configured timeouts. Not before ELECTION_MS -
 * HEARTBEAT_MS: a follower campaigns after at least one election timeout
 * since the last heartbeat it received, which may precede the cut by up to
 * one heartbeat interval. At most: a follower campaigns after a
 * randomised election timeout of up to 2 x ELECTION_MS since the last
 * heartbeat; the far and near writes in flight meanwhile time out
 * (2 x OP_TIMEOUT_MS) before the next far write is served; margin 1 s (the
 * campaign's round trips, the 100 ms tick granularity, scheduling).
 */
#define RTO_MIN_MS (ELECTION_MS - HEARTBEAT_MS)
#define RTO_MAX_MS (2 * ELECTION_MS + 2 * OP_TIMEOUT_MS + 1000)

/*
 * A linearizable read after the heal. etcd 3.4 runs without pre-vote by
 * default: the healed member comes back with a higher term and forces one
 * more election, so reads may fail for a moment; retry for up to 15 s.
 */
static void read_back(const struct fl_driver_ops *d, void *c, const char *key,
                      struct fl_op_result *res)
{
    int64_t deadline = fl_now_ns() + 15000 * MS;

    do {
        svl_op(d, c, "get", key, 0, res);
        if (res->outcome == HIST_OK)
            return;
        usleep(100000);
    } while (fl_now_ns() < deadline);
    fail_msg("read back %s after heal: %s", key, res->error);
}

static void etcd_should_elect_on_majority_and_complete_no_minority_write(void **state)
{
    const struct fl_target_ops *t = fl_target_find("etcd");
    const struct fl_driver_ops *d = fl_driver_find("etcd");
    json_t *cfg = json_pack("{s:s, s:i, s:i}", "kind", "etcd", "election_timeout", ELECTION_MS,
                            "heartbeat", HEARTBEAT_MS);
    const struct fl_target_endpoint *eps;
    struct fl_endpoint far, near;
    void *st = NULL, *cf = NULL, *cn = NULL, *cr = NULL;
    struct fl_op_result res;
    struct fl_err e;
    size_t neps;
    char key[32];
    static uint64_t far_vals[8192];
    int i, n_far = 0, streak = 0, near_ok = 0, near_fail = 0, near_info = 0, lost = 0;
    int west = svl_find_region("west");
    int64_t t_cut, first_ok = 0, rto, deadline;
    uint64_t v = 1;
    json_t *status;
    const char *leader;

    (void)state;
    TU_REQUIRE_ROOT();
    if (access("/usr/bin/etcd", X_OK) != 0) {
        if (tu_strict())
            fail_msg("etcd is not installed (scripts/setup.sh --with-services)");
        tu_note_skip(__func__, "etcd-server not installed");
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
    leader = json_string_value(json_object_get(status, "primary"));
    assert_non_null(leader);
    assert_string_equal(leader, svl_hosts[west].name);
    json_decref(status);
    t->endpoints(st, &eps, &neps);
    assert_int_equal(neps, 3);
    svl_endpoint(eps, neps, "north", 0, &far);
    svl_endpoint(eps, neps, "west", 1, &near);
    if (d->open(&far, 1, OP_TIMEOUT_MS * MS, &cf, &e) < 0 ||
        d->open(&near, 1, OP_TIMEOUT_MS * MS, &cn, &e) < 0)
        fail_msg("open: %s", e.msg);
    svl_op(d, cf, "put", "before", 7, &res);
    assert_int_equal(res.outcome, HIST_OK);
    svl_op(d, cn, "get", "before", 0, &res);
    assert_int_equal(res.outcome, HIST_OK);
    assert_int_equal(res.value, 7);
    svl_cas(d, cf, "before", 0, 9, &res);
    assert_int_equal(res.outcome, HIST_OK); /* exists: compared, not swapped */
    assert_false(res.swapped);
    assert_true(res.current_known);
    assert_int_equal(res.current, 7);
    svl_check_set_and_cas(d, cf, "put", "get", 1);

    t_cut = svl_isolate(svl_hosts[west].addr);
    deadline = t_cut + (ELECTION_MS + 30000) * MS;
    for (i = 0; fl_now_ns() < deadline && n_far < 8192; i++) {
        snprintf(key, sizeof(key), "far%d", n_far);
        svl_op(d, cf, "put", key, ++v, &res);
        far_vals[n_far++] = res.outcome == HIST_OK ? v : 0;
        if (res.outcome == HIST_OK) {
            if (streak++ == 0)
                first_ok = fl_now_ns();
        } else {
            streak = 0;
        }
        snprintf(key, sizeof(key), "near%d", i);
        svl_op(d, cn, "put", key, ++v, &res);
        if (res.outcome == HIST_OK)
            near_ok++;
        else if (res.outcome == HIST_FAIL)
            near_fail++;
        else
            near_info++;
        if (streak >= 20 && fl_now_ns() > t_cut + (ELECTION_MS + 5000) * MS)
            break;
        usleep(20000);
    }
    rto = streak >= 20 ? first_ok - t_cut : -1;
    svl_heal();
    /* Wait for the healed member to catch up, then read back linearizably. */
    sleep(3);
    if (d->open(&far, 1, 2000 * MS, &cr, &e) < 0)
        fail_msg("open: %s", e.msg);
    for (i = 0; i < n_far; i++) {
        if (!far_vals[i])
            continue;
        snprintf(key, sizeof(key), "far%d", i);
        read_back(d, cr, key, &res);
        if (res.value != far_vals[i])
            lost++;
    }
    read_back(d, cr, "before", &res);
    assert_int_equal(res.value, 7);
    status = t->status(st);
    printf("etcd (election-timeout %d ms, heartbeat %d ms): RTO %.2f s on the majority side "
           "(bounds %.1f-%.1f s); minority side: %d writes ok, %d refused, %d unknown; %d "
           "acknowledged writes lost; leader after heal %s\n",
           ELECTION_MS, HEARTBEAT_MS, (double)rto / 1e9, RTO_MIN_MS / 1e3, RTO_MAX_MS / 1e3,
           near_ok, near_fail, near_info, lost,
           json_string_value(json_object_get(status, "primary")));
    json_decref(status);
    d->close(cf);
    d->close(cn);
    d->close(cr);
    t->stop(st);
    svl_cur_state = NULL;
    json_decref(cfg);
    if (rto < 0)
        fail_msg("the majority side never served writes again");
    assert_true(rto >= RTO_MIN_MS * MS);
    assert_true(rto <= RTO_MAX_MS * MS);
    assert_int_equal(near_ok, 0);
    assert_true(near_fail + near_info > 0);
    assert_int_equal(lost, 0);
}

/* The three-region lab, when root and the service's package are there. */
static int group_setup(void **state)
{
    return svl_group_setup("/usr/bin/etcd", state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(etcd_should_elect_on_majority_and_complete_no_minority_write,
                                  svl_test_teardown),
    };

    setvbuf(stdout, NULL, _IONBF, 0);
    return cmocka_run_group_tests(tests, group_setup, svl_group_teardown);
}
