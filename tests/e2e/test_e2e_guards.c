/*
 * Guards end to end (issue 16; needs root). Three short lab runs of a
 * two-region key-vault (west-z1-h1 is 198.18.1.33, the refstore listens on
 * :7000 and answers GET /v1/health):
 *
 *  (a) a guard on a lab address where nothing listens fails the pre-check:
 *      exit 1, only a failing `guard` result, the fault never applied,
 *      faults.jsonl and history.jsonl empty;
 *  (b) a guard on the west replica's /v1/health trips once west is
 *      isolated: the fault is healed within seconds (long before at + for),
 *      marked healed by the guard in report.json and faults.jsonl, the
 *      workload stops early, the verdict is fail with the guard named;
 *  (c) workload.abort_when trips on the writes of clients pinned to west.
 *
 * Every run: junit.xml carries the guard testcase, no lab is left.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_util.h"
#include "testutil.h"

#define NS_MS 1000000LL

/* The two-region key-vault all three runs share; %s: name, workload extras, faults, guards. */
static const char experiment_fmt[] =
    "apiVersion: faultline/v1\n"
    "name: %s\n"
    "topology:\n"
    "  regions:\n"
    "    - {name: west, zones: [{name: z1, hosts: 1}]}\n"
    "    - {name: north, zones: [{name: z1, hosts: 1}]}\n"
    "target: {kind: refstore, preset: key-vault, primary: west, replication: sync, "
    "failover_after: 1s}\n"
    "workload:\n"
    "  clients: 2\n"
    "  rate: 100/s\n"
    "  duration: 12s\n"
    "  keys: 20\n"
    "  timeout: 500ms\n"
    "  mix: {get-secret: 3, set-secret: 1}\n"
    "%s"
    "faults:\n"
    "  - {at: 3s, for: 7s, isolate: {region: west}, mode: drop}\n"
    "verify:\n"
    "  availability: {before: {read: 0.9}}\n"
    "%s";

struct guard_run {
    char *dir;
    char file[1024], log[1024];
    json_t *report;
    int rc;
};

/* Write the experiment, run it, check the outputs parse, keep report.json. */
static void run_guarded(struct guard_run *g, const char *tag, const char *workload_extra,
                        const char *guards)
{
    const char *args[] = {"run", "-q", "--out", NULL, g->file, NULL};
    const char *lab;
    char what[256];
    FILE *f;

    g->dir = e2e_tmpdir(tag);
    args[3] = g->dir;
    snprintf(g->file, sizeof(g->file), "%s.yaml", g->dir);
    snprintf(g->log, sizeof(g->log), "%s.log", g->dir);
    f = fopen(g->file, "w");
    assert_non_null(f);
    fprintf(f, experiment_fmt, tag, workload_extra, guards);
    fclose(f);
    g->rc = e2e_run(g->log, 120000, args);
    g->report = e2e_check_outputs(g->dir, g->dir);
    lab = json_string_value(json_object_get(json_object_get(g->report, "lab"), "id"));
    assert_non_null(lab);
    if (e2e_lab_left(lab, what, sizeof(what)))
        fail_msg("lab %s left behind: %s", lab, what);
}

static void guard_run_free(struct guard_run *g)
{
    json_decref(g->report);
    tu_sh("rm -rf '%s' '%s' '%s'", g->dir, g->file, g->log);
    free(g->dir);
}

/* The one `guard` result of the report (fails the test when absent). */
static json_t *guard_result(json_t *report)
{
    json_t *v;
    size_t i;

    json_array_foreach(json_object_get(report, "verifiers"), i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "name")), "guard") == 0)
            return v;
    }
    fail_msg("report.json has no guard result");
    return NULL;
}

static bool file_has(const char *dir, const char *name, const char *needle)
{
    char *s = tu_sh_out("cat '%s/%s'", dir, name);
    bool found = s && strstr(s, needle) != NULL;

    free(s);
    return found;
}

static long long file_size(const char *dir, const char *name)
{
    char *s = tu_sh_out("stat -c %%s '%s/%s'", dir, name);
    long long n = s ? atoll(s) : -1;

    free(s);
    return n;
}

static void guard_should_stop_the_run_before_the_first_fault(void **state)
{
    struct guard_run g;
    json_t *v, *fault;

    (void)state;
    TU_REQUIRE_ROOT();
    run_guarded(&g, "guard-precheck", "",
                "guards:\n"
                "  - {name: nothing-there, http: {url: \"http://198.18.1.33:7999/health\", "
                "timeout: 300ms}, every: 200ms, failures: 2}\n");
    if (g.rc != 1)
        e2e_print_log(g.log);
    assert_int_equal(g.rc, 1);
    assert_string_equal(json_string_value(json_object_get(g.report, "verdict")), "fail");
    /* only the guard judged: nothing else ran */
    assert_int_equal(json_array_size(json_object_get(g.report, "verifiers")), 1);
    v = guard_result(g.report);
    assert_string_equal(json_string_value(json_object_get(v, "status")), "fail");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(v, "measured"), "tripped")),
        "nothing-there");
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "measured"), "phase")),
                        "precheck");
    fault = json_array_get(json_object_get(g.report, "faults"), 0);
    assert_string_equal(json_string_value(json_object_get(fault, "state")), "never applied");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(g.report, "ops"), "total")),
                     0);
    assert_int_equal(file_size(g.dir, "faults.jsonl"), 0);
    assert_true(file_has(g.dir, "junit.xml", "testcase name=\"guard\""));
    guard_run_free(&g);
}

/* Checks (b) and (c) share: the fault healed early by the named guard, the workload cut short. */
static void check_tripped(struct guard_run *g, const char *name, long long min_ms, long long max_ms)
{
    json_t *v, *m, *fault;
    long long at, apply, heal, wl;
    char healed_by[128];

    if (g->rc != 1)
        e2e_print_log(g->log);
    assert_int_equal(g->rc, 1);
    assert_string_equal(json_string_value(json_object_get(g->report, "verdict")), "fail");
    v = guard_result(g->report);
    m = json_object_get(v, "measured");
    assert_string_equal(json_string_value(json_object_get(v, "status")), "fail");
    assert_string_equal(json_string_value(json_object_get(m, "tripped")), name);
    at = json_integer_value(json_object_get(m, "tripped_at_ms"));
    fprintf(stderr, "%s tripped at %lld ms: %s\n", name, at,
            json_string_value(json_object_get(m, "reason")));
    if (at < min_ms || at > max_ms)
        fail_msg("%s tripped at %lld ms, expected within [%lld, %lld]", name, at, min_ms, max_ms);
    fault = json_array_get(json_object_get(g->report, "faults"), 0);
    assert_string_equal(json_string_value(json_object_get(fault, "state")), "healed");
    snprintf(healed_by, sizeof(healed_by), "guard %s", name);
    assert_string_equal(json_string_value(json_object_get(fault, "healed_by")), healed_by);
    apply = json_integer_value(json_object_get(fault, "apply_done_ns"));
    heal = json_integer_value(json_object_get(fault, "heal_sent_ns"));
    /* healed within seconds of the trip, well before at + for (7 s after the apply) */
    if (heal - apply > 5000 * NS_MS)
        fail_msg("healed %.1f s after the apply: the guard did not heal early",
                 (double)(heal - apply) / 1e9);
    snprintf(healed_by, sizeof(healed_by), "\"healed_by\":\"guard %s\"", name);
    assert_true(file_has(g->dir, "faults.jsonl", healed_by));
    /* the workload stopped 2 s after the heal, not at 12 s */
    wl =
        json_integer_value(json_object_get(json_object_get(g->report, "durations_ms"), "workload"));
    if (wl > 10500)
        fail_msg("the workload ran %lld ms: it did not stop after the drain", wl);
    assert_true(file_has(g->dir, "junit.xml", "testcase name=\"guard\""));
}

static void guard_should_heal_when_the_isolated_replica_stops_answering(void **state)
{
    struct guard_run g;

    (void)state;
    TU_REQUIRE_ROOT();
    run_guarded(&g, "guard-trip", "  routing: {policy: preferred, regions: [west, north]}\n",
                "guards:\n"
                "  - name: west-replica\n"
                "    http: {url: \"http://198.18.1.33:7000/v1/health\", timeout: 300ms}\n"
                "    every: 250ms\n"
                "    failures: 2\n");
    /* isolate at 3 s; two failed probes (250 ms apart, 300 ms timeouts) */
    check_tripped(&g, "west-replica", 3000, 5500);
    guard_run_free(&g);
}

static void abort_when_should_heal_when_writes_fail(void **state)
{
    struct guard_run g;

    (void)state;
    TU_REQUIRE_ROOT();
    run_guarded(&g, "guard-abort-when",
                "  routing: {policy: fixed, regions: [west]}\n"
                "  abort_when: {class: write, success_below: 0.5, for: 2s}\n",
                "");
    /* writes pinned to west fail from 3 s; a 2 s window of them is below half from ~4 s */
    check_tripped(&g, "workload.abort_when", 4000, 7000);
    guard_run_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(guard_should_stop_the_run_before_the_first_fault),
        cmocka_unit_test(guard_should_heal_when_the_isolated_replica_stops_answering),
        cmocka_unit_test(abort_when_should_heal_when_writes_fail),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
