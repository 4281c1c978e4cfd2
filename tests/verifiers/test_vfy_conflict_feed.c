/*
 * The conflict_feed verifier: every acknowledged write missing after
 * recovery (data_loss's rule) must be in the service's conflict feed.
 * Histories that must fail: a dropped write the feed does not hold, and
 * one the feed lists under another value. Inconclusive: no feed, nothing
 * to check. The history groups (`group` per client) round-trip too, and
 * availability and failover restricted to client groups judge only theirs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "faultline/err.h"
#include "vfy_testlib.h"

/*
 * An isolated write region (west) acknowledges writes 11 and 12 to k1 and k2
 * during the fault (10..20 s); north is promoted and writes 21 to k3; on the
 * heal west's writes are dropped: the final reads show k1 = 1 and k2 = 2 (the
 * values from before the fault) and k3 = 21.
 */
static void split_brain(struct hist *h)
{
    tl_op(h, 0, "upsert", true, "k1", 1, "west", 1000, 1001, HIST_OK);
    tl_op(h, 0, "upsert", true, "k2", 2, "west", 2000, 2001, HIST_OK);
    tl_op(h, 0, "upsert", true, "k1", 11, "west", 12000, 12001, HIST_OK);
    tl_op(h, 0, "upsert", true, "k2", 12, "west", 13000, 13001, HIST_OK);
    tl_op(h, 1, "upsert", true, "k3", 21, "north", 14000, 14001, HIST_OK);
    /* a write whose outcome is unknown is never missing */
    tl_op(h, 1, "upsert", true, "k3", 22, "north", 15000, 16000, HIST_INFO);
    tl_final(h, "k1", 1, 30000);
    tl_final(h, "k2", 2, 30001);
    tl_final(h, "k3", 21, 30002);
}

static int check(void (*fill)(struct hist *), bool fetched, const uint64_t *feed, size_t nfeed,
                 struct vfy_result *out)
{
    struct hist h;
    struct hist_faults fs = {0};
    struct vfy_config cfg;
    struct fl_err err = {0};
    json_t *j = json_loads("{\"conflict_feed\":{}}", 0, NULL);
    int r;

    hist_init(&h);
    fill(&h);
    tl_fault(&fs, "f1", 10000, 10005, 20000, 20005);
    vfy_config_init_defaults(&cfg);
    assert_non_null(j);
    assert_int_equal(vfy_config_from_json(j, &cfg, &err), 0);
    json_decref(j);
    assert_true(cfg.conflict_feed.enabled);
    cfg.conflict_feed.fetched = fetched;
    cfg.conflict_feed.values = feed;
    cfg.conflict_feed.nvalues = nfeed;
    memset(out, 0, sizeof(*out));
    r = vfy_conflict_feed_check(&h, &fs, &cfg, out, &err);
    hist_free(&h);
    hist_faults_free(&fs);
    return r;
}

static void conflict_feed_should_pass_when_every_dropped_write_is_in_the_feed(void **state)
{
    static const uint64_t feed[] = {12, 11, 99}; /* any order; 99: an entry not missing */
    struct vfy_result out;

    (void)state;
    assert_int_equal(check(split_brain, true, feed, 3, &out), 0);
    assert_int_equal(out.status, VFY_PASS);
    assert_int_equal(tl_num(out.measured, "missing_after_recovery"), 2);
    assert_int_equal(tl_num(out.measured, "in_feed"), 2);
    assert_int_equal(tl_num(out.measured, "in_neither"), 0);
    assert_int_equal(tl_num(out.measured, "feed_entries"), 3);
    assert_int_equal(tl_num(out.measured, "feed_not_missing"), 1);
    assert_non_null(strstr(out.detail, "every dropped write was offered back"));
    vfy_result_free(&out);
}

static void conflict_feed_should_fail_when_a_dropped_write_is_in_neither(void **state)
{
    static const uint64_t feed[] = {11};
    struct vfy_result out;

    (void)state;
    assert_int_equal(check(split_brain, true, feed, 1, &out), 0);
    assert_int_equal(out.status, VFY_FAIL);
    assert_false(out.pass);
    assert_int_equal(tl_num(out.measured, "in_feed"), 1);
    assert_int_equal(tl_num(out.measured, "in_neither"), 1);
    assert_int_equal(json_array_size(tl_get(out.measured, "in_neither_first")), 1);
    assert_int_equal(tl_num(out.measured, "in_neither_first.0.value"), 12);
    assert_non_null(strstr(out.detail, "in neither the data nor the feed"));
    vfy_result_free(&out);
}

static void conflict_feed_should_fail_when_the_feed_is_empty_and_writes_were_dropped(void **state)
{
    struct vfy_result out;

    (void)state;
    assert_int_equal(check(split_brain, true, NULL, 0, &out), 0);
    assert_int_equal(out.status, VFY_FAIL);
    assert_int_equal(tl_num(out.measured, "in_neither"), 2);
    vfy_result_free(&out);
}

static void conflict_feed_should_fail_when_the_feed_holds_another_value(void **state)
{
    static const uint64_t feed[] = {11, 13}; /* 13 was never written: 12 is still gone */
    struct vfy_result out;

    (void)state;
    assert_int_equal(check(split_brain, true, feed, 2, &out), 0);
    assert_int_equal(out.status, VFY_FAIL);
    assert_int_equal(tl_num(out.measured, "in_neither"), 1);
    vfy_result_free(&out);
}

static void clean(struct hist *h)
{
    tl_op(h, 0, "upsert", true, "k1", 1, "west", 1000, 1001, HIST_OK);
    tl_op(h, 0, "upsert", true, "k1", 2, "west", 12000, 12001, HIST_OK);
    tl_final(h, "k1", 2, 30000);
}

static void conflict_feed_should_pass_when_nothing_was_dropped(void **state)
{
    struct vfy_result out;

    (void)state;
    assert_int_equal(check(clean, true, NULL, 0, &out), 0);
    assert_int_equal(out.status, VFY_PASS);
    assert_int_equal(tl_num(out.measured, "acknowledged_checked"), 2);
    assert_int_equal(tl_num(out.measured, "missing_after_recovery"), 0);
    vfy_result_free(&out);
}

static void conflict_feed_should_be_inconclusive_without_a_feed(void **state)
{
    struct vfy_result out;

    (void)state;
    assert_int_equal(check(split_brain, false, NULL, 0, &out), 0);
    assert_int_equal(out.status, VFY_INCONCLUSIVE);
    assert_non_null(strstr(out.reason, "not fetched"));
    vfy_result_free(&out);
}

static void no_final_reads(struct hist *h)
{
    tl_op(h, 0, "upsert", true, "k1", 1, "west", 1000, 1001, HIST_OK);
}

static void conflict_feed_should_be_inconclusive_with_nothing_to_check(void **state)
{
    struct vfy_result out;

    (void)state;
    assert_int_equal(check(no_final_reads, true, NULL, 0, &out), 0);
    assert_int_equal(out.status, VFY_INCONCLUSIVE);
    vfy_result_free(&out);
}

static void conflict_feed_should_refuse_keys(void **state)
{
    struct vfy_config cfg;
    struct fl_err err = {0};
    json_t *j = json_loads("{\"conflict_feed\":{\"max\":1}}", 0, NULL);

    (void)state;
    vfy_config_init_defaults(&cfg);
    assert_int_equal(vfy_config_from_json(j, &cfg, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "conflict_feed.max"));
    json_decref(j);
}

/* history: a client's group is written as "group" and read back. */
static void history_should_round_trip_client_groups(void **state)
{
    struct hist h, back;
    struct fl_err err = {0};
    char path[] = "/tmp/fl-test-groups-XXXXXX";
    int fd = mkstemp(path);
    FILE *f;

    (void)state;
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    hist_init(&h);
    tl_op(&h, 0, "upsert", true, "k1", 1, "west", 1000, 1001, HIST_OK);
    tl_op(&h, 3, "read", false, "k1", 1, "west", 1002, 1003, HIST_OK);
    tl_op(&h, 5, "read", false, "k1", 1, "north", 1004, 1005, HIST_OK);
    assert_int_equal(hist_set_group(&h, 0, "west-app"), 0);
    assert_int_equal(hist_set_group(&h, 3, "north-app"), 0);
    assert_int_equal(hist_set_group(&h, 3, "north-app"), 0);
    assert_int_equal(hist_set_group(&h, 3, "west-app"), -EEXIST);
    assert_int_equal(hist_set_group(&h, HIST_GROUP_CLIENT_MAX + 1, "x"), -E2BIG);
    assert_int_equal(hist_write_jsonl(f, &h), 0);
    fclose(f);
    hist_init(&back);
    assert_int_equal(hist_load_jsonl(path, &back, &err), 0);
    assert_int_equal(back.n, 3);
    assert_string_equal(hist_client_group(&back, 0), "west-app");
    assert_string_equal(hist_client_group(&back, 3), "north-app");
    assert_string_equal(hist_client_group(&back, 5), "");
    assert_string_equal(hist_client_group(&back, 4000000), "");
    hist_free(&back);
    hist_free(&h);
    unlink(path);
}

/* A client that changes group between records is a bad history. */
static void history_should_refuse_a_client_in_two_groups(void **state)
{
    struct hist h;
    struct fl_err err = {0};
    char path[] = "/tmp/fl-test-groups-XXXXXX";
    int fd = mkstemp(path);
    const char *text =
        "{\"client\":1,\"op\":\"read\",\"type\":\"read\",\"key\":\"k\",\"value\":null,"
        "\"invoke_ns\":1,\"complete_ns\":2,\"outcome\":\"ok\",\"group\":\"a\"}\n"
        "{\"client\":1,\"op\":\"read\",\"type\":\"read\",\"key\":\"k\",\"value\":null,"
        "\"invoke_ns\":3,\"complete_ns\":4,\"outcome\":\"ok\",\"group\":\"b\"}\n";

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    hist_init(&h);
    assert_int_equal(hist_load_jsonl(path, &h, &err), -EINVAL);
    assert_non_null(strstr(err.msg, ":2: \"group\" differs from an earlier record"));
    hist_free(&h);
    unlink(path);
}

/* Merging per-client buffers keeps each client's group. */
static void history_merge_should_keep_groups(void **state)
{
    struct hist a, b;

    (void)state;
    hist_init(&a);
    hist_init(&b);
    tl_op(&b, 7, "read", false, "k1", 0, "west", 1, 2, HIST_OK);
    assert_int_equal(hist_set_group(&b, 7, "edge"), 0);
    assert_int_equal(hist_merge(&a, &b), 0);
    assert_string_equal(hist_client_group(&a, 7), "edge");
    hist_free(&a);
    hist_free(&b);
}

/*
 * Groups: west-app (client 0) succeeds throughout, north-app (client 1)
 * fails every write while the fault (10..20 s) is in effect.
 */
static void two_groups(struct hist *h)
{
    int64_t t;

    for (t = 0; t < 30000; t += 100) {
        bool during = t >= 10000 && t < 20000;

        tl_op(h, 0, "upsert", true, "k1", (uint64_t)t + 1, "west", t, t + 1, HIST_OK);
        tl_op(h, 1, "upsert", true, "k2", (uint64_t)t + 1, "north", t + 50, t + 51,
              during ? HIST_FAIL : HIST_OK);
    }
    hist_set_group(h, 0, "west-app");
    hist_set_group(h, 1, "north-app");
}

static int avail(const char *groups, struct vfy_results *rs)
{
    struct hist h;
    struct hist_faults fs = {0};
    struct vfy_config cfg;
    struct fl_err err = {0};
    char text[256];
    json_t *j;
    int r;

    snprintf(text, sizeof(text), "{\"availability\":{\"during\":{\"write\":0.9}%s%s%s}}",
             groups ? ",\"groups\":" : "", groups ? groups : "", "");
    j = json_loads(text, 0, NULL);
    assert_non_null(j);
    hist_init(&h);
    two_groups(&h);
    tl_fault(&fs, "f1", 10000, 10005, 20000, 20005);
    vfy_config_init_defaults(&cfg);
    assert_int_equal(vfy_config_from_json(j, &cfg, &err), 0);
    json_decref(j);
    memset(rs, 0, sizeof(*rs));
    r = vfy_run_all(&h, &fs, &cfg, rs, &err);
    hist_free(&h);
    hist_faults_free(&fs);
    return r;
}

static void availability_should_judge_only_its_groups(void **state)
{
    struct vfy_results rs;

    (void)state;
    /* every client: north-app's failed writes pull the ratio under 0.9 */
    assert_int_equal(avail(NULL, &rs), 0);
    assert_int_equal(rs.r[0].status, VFY_FAIL);
    assert_null(json_object_get(rs.r[0].bound, "groups"));
    /* ...and reports each group on its own: west-app passes, north-app fails */
    assert_string_equal(json_string_value(tl_get(rs.r[0].measured, "by_group.west-app.status")),
                        "pass");
    assert_string_equal(json_string_value(tl_get(rs.r[0].measured, "by_group.north-app.status")),
                        "fail");
    vfy_results_free(&rs);
    /* west-app only: its writes never failed */
    assert_int_equal(avail("[\"west-app\"]", &rs), 0);
    assert_int_equal(rs.r[0].status, VFY_PASS);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(rs.r[0].bound, "groups"), 0)), "west-app");
    vfy_results_free(&rs);
    /* north-app only: must fail */
    assert_int_equal(avail("[\"north-app\"]", &rs), 0);
    assert_int_equal(rs.r[0].status, VFY_FAIL);
    vfy_results_free(&rs);
    /* a group with no records: nothing to judge */
    assert_int_equal(avail("[\"edge\"]", &rs), 0);
    assert_int_equal(rs.r[0].status, VFY_INCONCLUSIVE);
    vfy_results_free(&rs);
}

static void failover_check_should_judge_only_its_groups(void **state)
{
    struct hist h;
    struct hist_faults fs = {0};
    struct vfy_config cfg;
    struct vfy_result out;
    struct fl_err err = {0};
    json_t *j = json_loads("{\"failover\":{\"max\":\"1s\",\"groups\":[\"north-app\"]}}", 0, NULL);

    (void)state;
    hist_init(&h);
    two_groups(&h);
    tl_fault(&fs, "f1", 10000, 10005, 20000, 20005);
    vfy_config_init_defaults(&cfg);
    assert_int_equal(vfy_config_from_json(j, &cfg, &err), 0);
    json_decref(j);
    /* north-app's writes never recovered while the fault lasted: fails */
    assert_int_equal(vfy_failover_check(&h, &fs, &cfg, &out, &err), 0);
    assert_int_equal(out.status, VFY_FAIL);
    vfy_result_free(&out);
    /* west-app's never failed: passes */
    strcpy(cfg.failover.groups.name[0], "west-app");
    assert_int_equal(vfy_failover_check(&h, &fs, &cfg, &out, &err), 0);
    assert_int_equal(out.status, VFY_PASS);
    vfy_result_free(&out);
    hist_free(&h);
    hist_faults_free(&fs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conflict_feed_should_pass_when_every_dropped_write_is_in_the_feed),
        cmocka_unit_test(conflict_feed_should_fail_when_a_dropped_write_is_in_neither),
        cmocka_unit_test(conflict_feed_should_fail_when_the_feed_is_empty_and_writes_were_dropped),
        cmocka_unit_test(conflict_feed_should_fail_when_the_feed_holds_another_value),
        cmocka_unit_test(conflict_feed_should_pass_when_nothing_was_dropped),
        cmocka_unit_test(conflict_feed_should_be_inconclusive_without_a_feed),
        cmocka_unit_test(conflict_feed_should_be_inconclusive_with_nothing_to_check),
        cmocka_unit_test(conflict_feed_should_refuse_keys),
        cmocka_unit_test(history_should_round_trip_client_groups),
        cmocka_unit_test(history_should_refuse_a_client_in_two_groups),
        cmocka_unit_test(history_merge_should_keep_groups),
        cmocka_unit_test(availability_should_judge_only_its_groups),
        cmocka_unit_test(failover_check_should_judge_only_its_groups),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
