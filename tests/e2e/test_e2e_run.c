/*
 * `faultline run` end to end, in the built-in lab (needs root). One source,
 * built as several test programs (E2E_GROUP) so that each ctest entry stays
 * under a minute on a 2-core CI machine:
 *   1 the shipped key-vault experiment passes, outputs parse back;
 *   2 the shipped cosmos experiment passes, outputs parse back;
 *   (1, 2, 5-7: every fault took effect, with drop counters on every host it
 *   went to, and every verifier judged: pass, never inconclusive)
 *   3 Ctrl-C in the middle of a fault, and an agent killed mid-run: the run
 *     reverts, tears down, writes a partial report and exits 3;
 *   4 the command line: bad files and options (exit 2), --help, a fault the
 *     kernel cannot do (exit 3 at the capability check, before anything
 *     starts; the agents' probe hides sch_netem through a test hook, so this
 *     runs on every kernel), several files into one junit.xml;
 *   5-7 the shipped Redis Sentinel, etcd and PostgreSQL experiments pass,
 *     with the measured write failover no shorter than the configured timeout;
 *   8 a process fault (SIGSTOP of the primary's replica) through the run loop.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2e_util.h"
#include "testutil.h"

#ifndef E2E_GROUP
#define E2E_GROUP 1
#endif

/* Run one experiment file (relative to the source tree) into dir; returns the exit code. */
static __attribute__((unused)) int run_file(const char *dir, const char *rel, int timeout_ms)
{
    char file[1024], log[1024];
    const char *args[] = {"run", "--out", dir, file, NULL};
    int rc;

    snprintf(file, sizeof(file), "%s/%s", e2e_src(), rel);
    snprintf(log, sizeof(log), "%s.log", dir);
    rc = e2e_run(log, timeout_ms, args);
    if (rc != 0)
        e2e_print_log(log);
    return rc;
}

static void no_lab_left(json_t *report)
{
    const char *id = json_string_value(json_object_get(json_object_get(report, "lab"), "id"));
    char what[512];

    assert_non_null(id);
    if (e2e_lab_left(id, what, sizeof(what)))
        fail_msg("lab %s left: %s", id, what);
}

static __attribute__((unused)) void print_failed_verifiers(json_t *r)
{
    json_t *v;
    size_t i;

    json_array_foreach(json_object_get(r, "verifiers"), i, v)
    {
        if (!json_is_true(json_object_get(v, "pass")))
            fprintf(stderr, "verifier %s failed: %s\n",
                    json_string_value(json_object_get(v, "name")),
                    json_string_value(json_object_get(v, "detail")));
    }
    if (json_object_get(r, "reason"))
        fprintf(stderr, "reason: %s\n", json_string_value(json_object_get(r, "reason")));
}

#if E2E_GROUP == 1 || E2E_GROUP == 2 || (E2E_GROUP >= 5 && E2E_GROUP <= 7)
/*
 * Every fault took effect: applied and healed in order, accepted by every
 * agent it went to, present when read back just before the heal, and its
 * drop counters moved on every host (workload and replication traffic cross
 * every isolated host all the time, so a host that dropped nothing was not
 * cut). A zone isolate that silently did nothing fails here, whatever the
 * verifiers say.
 */
static void faults_should_have_taken_effect(const json_t *r)
{
    const json_t *f, *a, *ev;
    size_t i, j;

    json_array_foreach(json_object_get(r, "faults"), i, f)
    {
        const char *id = json_string_value(json_object_get(f, "id"));
        json_int_t applied = json_integer_value(json_object_get(f, "apply_done_ns"));
        json_int_t healed = json_integer_value(json_object_get(f, "heal_done_ns"));

        assert_non_null(id);
        assert_string_equal(json_string_value(json_object_get(f, "state")), "healed");
        assert_true(applied > 0);
        assert_true(healed > applied);
        assert_true(json_array_size(json_object_get(f, "agents")) > 0);
        json_array_foreach(json_object_get(f, "agents"), j, a)
        {
            const char *host = json_string_value(json_object_get(a, "host"));

            ev = json_object_get(a, "evidence");
            fprintf(stderr, "fault %s on %s: HTTP %lld, %lld packets dropped\n", id,
                    host ? host : "?", (long long)json_integer_value(json_object_get(a, "status")),
                    (long long)json_integer_value(json_object_get(ev, "packets")));
            /* 201: the agent created the fault (200 would mean it was there already). */
            assert_int_equal(json_integer_value(json_object_get(a, "status")), 201);
            assert_null(json_object_get(a, "error"));
            if (!json_is_true(json_object_get(ev, "present")))
                fail_msg("fault %s on %s: not present when read back before the heal", id, host);
            if (json_integer_value(json_object_get(ev, "packets")) <= 0)
                fail_msg("fault %s on %s dropped nothing: it did not take effect", id, host);
        }
    }
}

/*
 * Every verifier judged: status pass, never inconclusive (a verifier with
 * nothing to judge passes nothing), and the figures it judged are there.
 */
static void verifiers_should_have_judged(const json_t *r)
{
    const json_t *v, *m, *x;
    const char *k;
    size_t i;

    json_array_foreach(json_object_get(r, "verifiers"), i, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));

        m = json_object_get(v, "measured");
        assert_string_equal(json_string_value(json_object_get(v, "status")), "pass");
        assert_true(json_is_true(json_object_get(v, "pass")));
        if (strcmp(name, "failover") == 0 || strcmp(name, "failback") == 0) {
            /* Every checked class recovered with a figure (null: never recovered). */
            assert_true(json_object_size(json_object_get(m, "rto_ms")) > 0);
            json_object_foreach((json_t *)json_object_get(m, "rto_ms"), k, x)
            {
                if (!json_is_number(x))
                    fail_msg("%s: class %s has no recovery time", name, k);
            }
        } else if (strcmp(name, "data_loss") == 0) {
            assert_true(json_integer_value(json_object_get(m, "checked_writes")) > 0);
            assert_true(json_integer_value(json_object_get(m, "keys_checked")) > 0);
        }
    }
}

/*
 * Run a shipped experiment: it passes, its outputs parse back, nothing is
 * left. min_write_rto_ms > 0: the measured write failover is at least that
 * (the service's configured timeout; the file's failover.max bounds it above).
 */
static void shipped_experiment_should_pass_rto(const char *rel, const char *name, size_t nverifiers,
                                               double min_write_rto_ms)
{
    char *dir = e2e_tmpdir(name), *before = e2e_root_snapshot(), *after;
    json_t *r;
    int rc;

    rc = run_file(dir, rel, 90000);
    r = e2e_check_outputs(dir, dir);
    if (rc != 0)
        print_failed_verifiers(r);
    assert_int_equal(rc, 0);
    assert_string_equal(json_string_value(json_object_get(r, "verdict")), "pass");
    assert_string_equal(json_string_value(json_object_get(r, "experiment")), name);
    assert_int_equal(json_array_size(json_object_get(r, "verifiers")), nverifiers);
    assert_int_equal(json_array_size(json_object_get(r, "faults")), 1);
    assert_true(json_integer_value(json_object_get(json_object_get(r, "ops"), "total")) > 1000);
    faults_should_have_taken_effect(r);
    verifiers_should_have_judged(r);
    {
        const json_t *v;
        size_t k;

        json_array_foreach(json_object_get(r, "verifiers"), k, v)
        {
            char *m = json_dumps(json_object_get(v, "measured"), JSON_COMPACT);

            fprintf(stderr, "%s %s: %.300s\n", name, json_string_value(json_object_get(v, "name")),
                    m ? m : "");
            free(m);
            if (min_write_rto_ms > 0 &&
                strcmp(json_string_value(json_object_get(v, "name")), "failover") == 0) {
                double w = json_number_value(json_object_get(
                    json_object_get(json_object_get(v, "measured"), "rto_ms"), "write"));

                if (w < min_write_rto_ms)
                    fail_msg("write failover %.0f ms is shorter than the configured %.0f ms: the "
                             "service cannot have failed over that fast",
                             w, min_write_rto_ms);
            }
        }
    }
    no_lab_left(r);
    after = e2e_root_snapshot();
    assert_string_equal(before, after);
    fprintf(stderr, "%s: lab up %.1f ms, teardown %.1f ms, total %lld ms\n", name,
            json_real_value(json_object_get(json_object_get(r, "lab"), "up_ms")),
            json_real_value(json_object_get(json_object_get(r, "lab"), "teardown_ms")),
            (long long)json_integer_value(
                json_object_get(json_object_get(r, "durations_ms"), "total")));
    json_decref(r);
    free(before);
    free(after);
    tu_sh("rm -rf '%s' '%s.log'", dir, dir);
    free(dir);
}
#endif

#if E2E_GROUP == 1 || E2E_GROUP == 2
static void shipped_experiment_should_pass(const char *rel, const char *name, size_t nverifiers)
{
    shipped_experiment_should_pass_rto(rel, name, nverifiers, 0);
}
#endif

#if E2E_GROUP == 5
/* Sentinel fails over after down_after (2 s) plus an election. */
static void redis_sentinel_region_outage_should_pass(void **state)
{
    (void)state;
    TU_REQUIRE_ROOT();
    shipped_experiment_should_pass_rto("experiments/redis-sentinel-region-outage.yaml",
                                       "redis-sentinel-region-outage", 3, 2000);
}
#endif

#if E2E_GROUP == 6
/*
 * A new leader after the election timeout (1 s) since the last heartbeat,
 * which may precede the cut by one heartbeat (100 ms): not before 900 ms; no
 * acknowledged write lost.
 */
static void etcd_region_outage_should_pass(void **state)
{
    (void)state;
    TU_REQUIRE_ROOT();
    shipped_experiment_should_pass_rto("experiments/etcd-region-outage.yaml", "etcd-region-outage",
                                       3, 900);
}
#endif

#if E2E_GROUP == 7
/* pg_auto_failover promotes only after unhealthy_timeout + primary_demote_timeout (8 s). */
static void postgres_region_outage_should_pass(void **state)
{
    (void)state;
    TU_REQUIRE_ROOT();
    shipped_experiment_should_pass_rto("experiments/postgres-region-outage.yaml",
                                       "postgres-region-outage", 3, 8000);
}
#endif

#if E2E_GROUP == 8
/*
 * A process fault through the run loop: the launcher names the replica's
 * pidfile, the agent stops it, the secondary really fails over (its own
 * timestamp), and the continued primary takes the writes back.
 */
static void process_stop_should_fail_over_and_back(void **state)
{
    char *dir = e2e_tmpdir("process"), file[1024], log[1024];
    const char *args[] = {"run", "-q", "--out", dir, file, NULL};
    const json_t *f, *north;
    json_t *r;
    int rc;

    (void)state;
    TU_REQUIRE_ROOT();
    snprintf(file, sizeof(file), "%s/tests/e2e/experiments/process-stop.yaml", e2e_src());
    snprintf(log, sizeof(log), "%s.log", dir);
    rc = e2e_run(log, 60000, args);
    r = e2e_check_outputs(dir, dir);
    if (rc != 0)
        e2e_print_log(log);
    assert_int_equal(rc, 0);
    f = json_array_get(json_object_get(r, "faults"), 0);
    assert_string_equal(json_string_value(json_object_get(f, "kind")), "process");
    assert_string_equal(json_string_value(json_object_get(f, "state")), "healed");
    assert_non_null(
        json_object_get(json_object_get(json_object_get(f, "spec"), "target"), "pidfile"));
    north = json_object_get(
        json_object_get(json_object_get(json_object_get(r, "target"), "status"), "hosts"),
        "north-z1-h1");
    assert_true(json_integer_value(json_object_get(north, "failover_at_ns")) >
                json_integer_value(json_object_get(f, "apply_done_ns")));
    /* The stopped primary really was unavailable: writes were refused meanwhile. */
    assert_true(json_integer_value(json_object_get(json_object_get(r, "ops"), "fail")) > 0);
    no_lab_left(r);
    json_decref(r);
    tu_sh("rm -rf '%s' '%s'", dir, log);
    free(dir);
}
#endif

#if E2E_GROUP == 1
static void key_vault_region_outage_should_pass(void **state)
{
    (void)state;
    TU_REQUIRE_ROOT();
    shipped_experiment_should_pass("experiments/key-vault-region-outage.yaml",
                                   "key-vault-region-outage", 4);
}
#endif

#if E2E_GROUP == 2
static void cosmos_zone_outage_should_pass(void **state)
{
    (void)state;
    TU_REQUIRE_ROOT();
    shipped_experiment_should_pass("experiments/cosmos-zone-outage.yaml", "cosmos-zone-outage", 3);
}
#endif

#if E2E_GROUP == 3
/* The lab id of a running run whose output directory is dir (from the state files). */
static char *running_lab_pid(const char *dir, const char *proc)
{
    return tu_sh_out("for f in /run/faultline/labs/*.json; do "
                     "grep -q '\"dir\": \"%s/lab\"' \"$f\" && "
                     "tr -d '\\n ' < \"$f\" | grep -o '\"pid\":[0-9]*,\"name\":\"%s\"' | "
                     "grep -o '[0-9]*' | head -1; done 2>/dev/null",
                     dir, proc);
}

static json_t *interrupted_run(const char *tag, bool kill_agent, int *rc)
{
    char file[1024], log[1024], *dir = e2e_tmpdir(tag), *pid_s = NULL;
    const char *args[] = {"run", "--out", NULL, file, NULL};
    json_t *r;
    pid_t pid;
    int i;

    snprintf(file, sizeof(file), "%s/tests/e2e/experiments/short-isolate.yaml", e2e_src());
    snprintf(log, sizeof(log), "%s.log", dir);
    args[2] = dir;
    pid = e2e_start(log, args);
    assert_true(pid > 0);
    /* The fault is applied at 3 s of the workload (about 1.5 s of setup before). */
    for (i = 0; i < 200; i++) {
        char *hit = tu_sh_out("grep -c 'fault f1 isolate.*applied' '%s'", log);
        bool applied = hit && atoi(hit) > 0;

        free(hit);
        if (applied)
            break;
        usleep(50000);
    }
    if (i == 200) {
        e2e_print_log(log);
        kill(pid, SIGKILL);
        fail_msg("the fault was never applied");
    }
    usleep(500000);
    if (kill_agent) {
        pid_s = running_lab_pid(dir, "agent-north-z1-h1");
        assert_non_null(pid_s);
        assert_true(atoi(pid_s) > 1);
        assert_int_equal(kill(atoi(pid_s), SIGKILL), 0);
        free(pid_s);
    } else {
        assert_int_equal(kill(pid, SIGINT), 0);
    }
    *rc = e2e_wait(pid, 30000);
    if (*rc != 3)
        e2e_print_log(log);
    r = e2e_check_outputs(dir, dir);
    tu_sh("rm -rf '%s' '%s'", dir, log);
    free(dir);
    return r;
}

static void sigint_during_a_fault_should_revert_tear_down_and_report(void **state)
{
    char *before, *after;
    json_t *r, *f;
    int rc;

    (void)state;
    TU_REQUIRE_ROOT();
    before = e2e_root_snapshot();
    r = interrupted_run("sigint", false, &rc);
    assert_int_equal(rc, 3);
    assert_string_equal(json_string_value(json_object_get(r, "verdict")), "error");
    assert_string_equal(json_string_value(json_object_get(r, "reason")), "interrupted");
    f = json_array_get(json_object_get(r, "faults"), 0);
    assert_string_equal(json_string_value(json_object_get(f, "state")), "healed");
    assert_true(json_integer_value(json_object_get(f, "heal_done_ns")) > 0);
    no_lab_left(r);
    after = e2e_root_snapshot();
    assert_string_equal(before, after);
    json_decref(r);
    free(before);
    free(after);
}

/*
 * A second Ctrl-C while the first one's teardown runs: the emergency path
 * kills every process in the lab's namespaces (the target's servers too) and
 * deletes them; nothing is left, whatever the run was doing.
 */
static void second_sigint_should_kill_the_lab_with_nothing_left(void **state)
{
    char file[1024], log[1024], *dir = e2e_tmpdir("sigint2"), *before, *after, *id, *left, *procs;
    const char *args[] = {"run", "--out", NULL, file, NULL};
    pid_t pid;
    int i, rc;

    (void)state;
    TU_REQUIRE_ROOT();
    before = e2e_root_snapshot();
    snprintf(file, sizeof(file), "%s/tests/e2e/experiments/short-isolate.yaml", e2e_src());
    snprintf(log, sizeof(log), "%s.log", dir);
    args[2] = dir;
    pid = e2e_start(log, args);
    assert_true(pid > 0);
    for (i = 0; i < 200; i++) {
        char *hit = tu_sh_out("grep -c 'fault f1 isolate.*applied' '%s'", log);
        bool applied = hit && atoi(hit) > 0;

        free(hit);
        if (applied)
            break;
        usleep(50000);
    }
    assert_true(i < 200);
    id = tu_sh_out("sed -n 's/.* lab \\([0-9a-f]*\\) up in .*/\\1/p' '%s' | tr -d '\\n'", log);
    assert_true(id != NULL && strlen(id) > 0);
    /* Every process in the lab's namespaces now (agents, replicas): none may survive. */
    procs = tu_sh_out("for n in $(ip netns list | awk '{print $1}' | grep '^fl-%s-'); do "
                      "ip netns pids \"$n\"; done | sort -u | tr '\\n' ' '",
                      id);
    assert_true(procs != NULL && strlen(procs) > 0);
    /*
     * The second interrupt lands while the run is still unwinding the
     * workload: the target's servers are running and the controller sits in
     * the lab's control namespace (two signals sent back to back would merge).
     */
    assert_int_equal(kill(pid, SIGINT), 0);
    usleep(10000);
    assert_int_equal(kill(pid, SIGINT), 0);
    rc = e2e_wait(pid, 30000);
    if (rc != 3)
        e2e_print_log(log);
    assert_int_equal(rc, 3);
    /*
     * The lab's processes by pid (not every faultline process on the machine:
     * other runs may share it); live ones only, a killed child may stay a
     * zombie until init reaps it.
     */
    left = tu_sh_out("ip netns list | grep -c 'fl-%s-'; n=0; for p in %s; do "
                     "s=$(awk '{print $3}' /proc/$p/stat 2>/dev/null); "
                     "[ -n \"$s\" ] && [ \"$s\" != Z ] && n=$((n+1)); done; echo $n",
                     id, procs);
    assert_string_equal(left, "0\n0\n");
    after = e2e_root_snapshot();
    assert_string_equal(before, after);
    tu_sh("rm -rf '%s' '%s'", dir, log);
    free(left);
    free(procs);
    free(id);
    free(before);
    free(after);
    free(dir);
}

static void dead_agent_should_be_a_harness_error_with_nothing_left(void **state)
{
    char *before, *after;
    const char *reason;
    json_t *r, *f;
    int rc;

    (void)state;
    TU_REQUIRE_ROOT();
    before = e2e_root_snapshot();
    r = interrupted_run("agent", true, &rc);
    assert_int_equal(rc, 3);
    assert_string_equal(json_string_value(json_object_get(r, "verdict")), "error");
    reason = json_string_value(json_object_get(r, "reason"));
    assert_non_null(reason);
    assert_non_null(strstr(reason, "north-z1-h1"));
    f = json_array_get(json_object_get(r, "faults"), 0);
    assert_string_equal(json_string_value(json_object_get(f, "state")), "healed");
    no_lab_left(r);
    after = e2e_root_snapshot();
    assert_string_equal(before, after);
    json_decref(r);
    free(before);
    free(after);
}
#endif

#if E2E_GROUP == 4
static void bad_files_and_options_should_exit_2(void **state)
{
    char *dir = e2e_tmpdir("cli"), log[1024], bad[1024], good[1024];
    const char *none[] = {"run", NULL};
    const char *opt[] = {"run", "--no-such-option", good, NULL};
    const char *missing[] = {"run", "/nonexistent/x.yaml", NULL};
    const char *mixed[] = {"run", "--out", dir, good, bad, NULL};
    const char *help[] = {"run", "--help", NULL};
    char *out;
    FILE *f;

    (void)state;
    snprintf(log, sizeof(log), "%s/cli.log", dir);
    snprintf(good, sizeof(good), "%s/experiments/key-vault-region-outage.yaml", e2e_src());
    snprintf(bad, sizeof(bad), "%s/bad.yaml", dir);
    f = fopen(bad, "w");
    assert_non_null(f);
    fputs("apiVersion: faultline/v1\nname: bad\n", f);
    fclose(f);
    assert_int_equal(e2e_run(log, 10000, none), 2);
    assert_int_equal(e2e_run(log, 10000, opt), 2);
    assert_int_equal(e2e_run(log, 10000, missing), 2);
    /* One bad file: nothing runs at all (no output, no lab). */
    assert_int_equal(e2e_run(log, 10000, mixed), 2);
    out = tu_sh_out("ls '%s' | grep -v -e cli.log -e bad.yaml | wc -l", dir);
    assert_non_null(out);
    assert_int_equal(atoi(out), 0);
    free(out);
    out = tu_sh_out("grep -c 'bad.yaml:' '%s'", log);
    assert_true(out && atoi(out) >= 1);
    free(out);
    tu_sh("rm -f '%s'", log);
    assert_int_equal(e2e_run(log, 10000, help), 0);
    out = tu_sh_out("cat '%s'", log);
    assert_non_null(out);
    assert_non_null(strstr(out, "usage: faultline run"));
    assert_non_null(strstr(out, "examples:"));
    assert_non_null(strstr(out, "exit codes:"));
    assert_non_null(strstr(out, "junit.xml"));
    free(out);
    tu_sh("rm -rf '%s'", dir);
    free(dir);
}

/*
 * The agents' capability probe reports sch_netem absent, on every kernel:
 * FAULTLINE_TEST_HIDE_CAPS (a test hook of the injector's probe, compiled
 * into test builds; it can only hide a capability) reaches the agents through
 * the run's environment.
 */
#define HIDE_CAPS "FAULTLINE_TEST_HIDE_CAPS"

static void missing_kernel_feature_should_stop_before_anything_starts(void **state)
{
    const char *reason;
    char *dir;
    json_t *r;
    int rc;

    (void)state;
    TU_REQUIRE_ROOT();
    dir = e2e_tmpdir("netem");
    assert_int_equal(setenv(HIDE_CAPS, "netem", 1), 0);
    rc = run_file(dir, "tests/e2e/experiments/latency-needs-netem.yaml", 60000);
    unsetenv(HIDE_CAPS);
    r = e2e_check_outputs(dir, dir);
    assert_int_equal(rc, 3);
    assert_string_equal(json_string_value(json_object_get(r, "verdict")), "error");
    reason = json_string_value(json_object_get(r, "reason"));
    assert_non_null(reason);
    assert_non_null(strstr(reason, "fault f1 (latency) cannot run on "));
    assert_non_null(strstr(reason, "kernel lacks sch_netem: hidden by " HIDE_CAPS));
    /* Nothing started: no operation, no fault applied. */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "ops"), "total")), 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r, "faults"), 0), "state")),
                        "never applied");
    no_lab_left(r);
    json_decref(r);
    tu_sh("rm -rf '%s' '%s.log'", dir, dir);
    free(dir);
}

static void several_files_should_share_one_junit(void **state)
{
    char *dir, a[1024], b[1024], log[1024], sub[1200], *xml;
    const char *args[] = {"run", "-q", "--out", NULL, a, b, NULL};
    json_t *r;
    int rc;

    (void)state;
    TU_REQUIRE_ROOT();
    dir = e2e_tmpdir("multi");
    snprintf(a, sizeof(a), "%s/tests/e2e/experiments/latency-needs-netem.yaml", e2e_src());
    snprintf(b, sizeof(b), "%s/tests/e2e/experiments/short-isolate.yaml", e2e_src());
    snprintf(log, sizeof(log), "%s.log", dir);
    args[3] = dir;
    /* The first file stops at the capability check (exit 3), the second passes: worst wins. */
    assert_int_equal(setenv(HIDE_CAPS, "netem", 1), 0);
    rc = e2e_run(log, 60000, args);
    unsetenv(HIDE_CAPS);
    if (rc != 3)
        e2e_print_log(log);
    assert_int_equal(rc, 3);
    snprintf(sub, sizeof(sub), "%s/latency-needs-netem", dir);
    r = e2e_check_outputs(sub, dir);
    no_lab_left(r);
    assert_int_equal(json_integer_value(json_object_get(r, "exit_code")), 3);
    assert_string_equal(json_string_value(json_object_get(r, "verdict")), "error");
    json_decref(r);
    snprintf(sub, sizeof(sub), "%s/short-isolate", dir);
    r = e2e_check_outputs(sub, dir);
    no_lab_left(r);
    if (json_integer_value(json_object_get(r, "exit_code")) != 0)
        print_failed_verifiers(r);
    assert_int_equal(json_integer_value(json_object_get(r, "exit_code")), 0);
    json_decref(r);
    xml = tu_sh_out("grep -c '<testsuite ' '%s/junit.xml'", dir);
    assert_non_null(xml);
    assert_int_equal(atoi(xml), 2);
    free(xml);
    tu_sh("rm -rf '%s' '%s'", dir, log);
    free(dir);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
#if E2E_GROUP == 1
        cmocka_unit_test(key_vault_region_outage_should_pass),
#elif E2E_GROUP == 2
        cmocka_unit_test(cosmos_zone_outage_should_pass),
#elif E2E_GROUP == 5
        cmocka_unit_test(redis_sentinel_region_outage_should_pass),
#elif E2E_GROUP == 6
        cmocka_unit_test(etcd_region_outage_should_pass),
#elif E2E_GROUP == 7
        cmocka_unit_test(postgres_region_outage_should_pass),
#elif E2E_GROUP == 8
        cmocka_unit_test(process_stop_should_fail_over_and_back),
#elif E2E_GROUP == 3
        cmocka_unit_test(sigint_during_a_fault_should_revert_tear_down_and_report),
        cmocka_unit_test(dead_agent_should_be_a_harness_error_with_nothing_left),
        cmocka_unit_test(second_sigint_should_kill_the_lab_with_nothing_left),
#else
        cmocka_unit_test(bad_files_and_options_should_exit_2),
        cmocka_unit_test(missing_kernel_feature_should_stop_before_anything_starts),
        cmocka_unit_test(several_files_should_share_one_junit),
#endif
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
