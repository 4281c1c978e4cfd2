/*
 * Staging safety, end to end (needs root). One source, several programs
 * (E2E_GROUP):
 *
 *   1  `faultline run --dry-run` in the lab: the plan is printed and written
 *      (plan.json), the agents' metrics show zero applies, and while it runs
 *      no faultline object (nft table, fault qdisc) exists in any namespace
 *      of the lab at any moment; the lab is gone afterwards.
 *   2  --dry-run refusals: a bad file (exit 2, nothing created), an
 *      unreachable staging agent (exit 3, named), a fault whose kernel
 *      feature is missing (exit 3, the probe's words), an agent halted
 *      before the run (exit 3).
 *   3  `faultline halt --lab ID` during an experiment: the agents revert at
 *      once, the run ends as aborted (exit 3, partial report saying so),
 *      nothing is left; `faultline halt` command-line mistakes exit 2.
 *   4  the agents' audit trail of a full run in the run folder, a lease
 *      expiry included (the controller frozen past its lease).
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
#include <sys/wait.h>
#include <unistd.h>

#include "e2e_util.h"
#include "testutil.h"

#ifndef E2E_GROUP
#define E2E_GROUP 1
#endif

#define SHORT "tests/e2e/experiments/short-isolate.yaml"
#define HIDE  "FAULTLINE_TEST_HIDE_CAPS"

/* faultline with args; its exit code; stdout+stderr in log. */
static __attribute__((unused)) int run_args(const char *log, int timeout_ms,
                                            const char *const *args)
{
    return e2e_run(log, timeout_ms, args);
}

static __attribute__((unused)) bool log_has(const char *log, const char *text)
{
    char *hit = tu_sh_out("grep -cF -- '%s' '%s'", text, log);
    bool ok = hit && atoi(hit) > 0;

    free(hit);
    if (!ok) {
        fprintf(stderr, "expected in %s: %s\n", log, text);
        e2e_print_log(log);
    }
    return ok;
}

#if E2E_GROUP == 1
/*
 * Every faultline object in every namespace of the lab, one line each:
 * nft tables named faultline and the injector's qdiscs (htb, tbf, netem,
 * clsact with a faultline filter). Empty when there is none.
 */
static char *faultline_objects(void)
{
    return tu_sh_out("for ns in $(ip netns list | awk '/^fl-[0-9a-f]{6}-/ {print $1}'); do "
                     "ip netns exec $ns nft list tables 2>/dev/null | grep faultline | "
                     "sed \"s/^/$ns: /\"; "
                     "ip netns exec $ns tc qdisc show 2>/dev/null | grep -E 'htb|tbf|netem' | "
                     "sed \"s/^/$ns: /\"; done");
}

static void dry_run_should_plan_everything_and_apply_nothing(void **state)
{
    char *dir = e2e_tmpdir("dry"), log[1024], out[1100], file[1200], *id, *objs;
    const char *args[] = {"run", "--dry-run", "--out", out, file, NULL};
    json_t *plan, *f;
    int rc = -1, polls = 0;
    pid_t pid;

    (void)state;
    TU_REQUIRE_ROOT();
    snprintf(log, sizeof(log), "%s.log", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    snprintf(file, sizeof(file), "%s/" SHORT, e2e_src());
    pid = e2e_start(log, args);
    assert_true(pid > 0);
    /* At every moment of the dry run: no faultline object anywhere in the lab. */
    while (waitpid(pid, &rc, WNOHANG) == 0 && polls < 600) {
        objs = faultline_objects();
        if (objs && objs[0]) {
            kill(pid, SIGKILL);
            fail_msg("a dry run created faultline objects:\n%s", objs);
        }
        free(objs);
        polls++;
        usleep(20000);
    }
    assert_true(WIFEXITED(rc));
    if (WEXITSTATUS(rc) != 0)
        e2e_print_log(log);
    assert_int_equal(WEXITSTATUS(rc), 0);
    assert_true(polls >= 3); /* it was watched while the lab was up */
    assert_true(log_has(log, "f1 isolate west at 3.0s for 8.0s"));
    assert_true(log_has(log, "touches 1 host: west-z1-h1"));
    assert_true(log_has(log, "rules on 2 agents: west-z1-h1, north-z1-h1"));
    assert_true(log_has(log, "faults applied by them: 0"));
    assert_true(log_has(log, "could start; nothing was applied"));
    snprintf(file, sizeof(file), "%s/plan.json", out);
    plan = e2e_json_load(file);
    assert_non_null(plan);
    assert_true(json_is_true(json_object_get(plan, "could_start")));
    assert_int_equal(json_integer_value(json_object_get(plan, "applies_seen")), 0);
    f = json_array_get(json_object_get(plan, "faults"), 0);
    assert_string_equal(json_string_value(json_object_get(f, "kind")), "isolate");
    assert_string_equal(json_string_value(json_object_get(json_object_get(f, "spec"), "kind")),
                        "isolate");
    json_decref(plan);
    /* No verdict files: a dry run judges nothing. */
    snprintf(file, sizeof(file), "%s/report.json", out);
    assert_int_not_equal(access(file, F_OK), 0);
    snprintf(file, sizeof(file), "%s/history.jsonl", out);
    assert_int_not_equal(access(file, F_OK), 0);
    id = e2e_log_lab_id(log);
    assert_true(id && strlen(id) == 6);
    assert_false(e2e_lab_present(id));
    tu_sh("rm -rf '%s' '%s'", dir, log);
    free(id);
    free(dir);
}

/* The guards evaluated once: a steady one and one that is not (exit 1, nothing applied). */
static void dry_run_should_evaluate_the_guards_once(void **state)
{
    char *dir = e2e_tmpdir("dryguard"), log[1024], out[1100], file[1200], *id;
    const char *args[] = {"run", "--dry-run", "--out", out, file, NULL};
    json_t *plan;
    int rc;

    (void)state;
    TU_REQUIRE_ROOT();
    snprintf(log, sizeof(log), "%s.log", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    snprintf(file, sizeof(file), "%s/guarded.yaml", dir);
    /* short-isolate and two guards: west's replica (steady), a port nothing listens on */
    assert_int_equal(
        tu_sh("sed 's/^name: short-isolate/name: dry-guards/' '%s/" SHORT "' > '%s' "
              "&& printf '%%s\\n' 'guards:' "
              "'  - {name: west-replica, http: {url: \"http://198.18.1.33:7000/v1/health\", "
              "timeout: 300ms}, every: 200ms, failures: 2}' "
              "'  - {name: nothing-there, http: {url: \"http://198.18.1.33:7999/\", "
              "timeout: 300ms}, every: 200ms, failures: 2}' >> '%s'",
              e2e_src(), file, file),
        0);
    rc = run_args(log, 60000, args);
    if (rc != 1)
        e2e_print_log(log);
    assert_int_equal(rc, 1);
    assert_true(log_has(log, "guard west-replica: steady after 1 probe(s)"));
    assert_true(log_has(log, "guard nothing-there: NOT steady after 2 probe(s)"));
    assert_true(log_has(log, "faults applied by them: 0"));
    assert_true(log_has(log, "a guard is not steady"));
    snprintf(file, sizeof(file), "%s/plan.json", out);
    plan = e2e_json_load(file);
    assert_non_null(plan);
    assert_false(json_is_true(json_object_get(plan, "could_start")));
    assert_false(json_is_true(json_object_get(json_object_get(plan, "guards"), "steady")));
    json_decref(plan);
    id = e2e_log_lab_id(log);
    assert_true(id && strlen(id) == 6);
    assert_false(e2e_lab_present(id));
    tu_sh("rm -rf '%s' '%s'", dir, log);
    free(id);
    free(dir);
}
#endif

#if E2E_GROUP == 2
static void dry_run_should_refuse_a_bad_file_with_nothing_created(void **state)
{
    char *dir = e2e_tmpdir("drybad"), log[1024], out[1100], file[1100];
    const char *args[] = {"run", "--dry-run", "--out", out, file, NULL};

    (void)state;
    snprintf(log, sizeof(log), "%s.log", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    snprintf(file, sizeof(file), "%s/tests/controller/bad/limits-max-hosts.yaml", e2e_src());
    assert_int_equal(run_args(log, 20000, args), 2);
    assert_true(log_has(log, "limits-max-hosts.yaml:28:5: fault f1 (isolate) touches 3 hosts"));
    assert_int_not_equal(access(out, F_OK), 0);
    tu_sh("rm -rf '%s' '%s'", dir, log);
    free(dir);
}

static void dry_run_should_name_an_unreachable_staging_agent(void **state)
{
    char *dir = e2e_tmpdir("dryunreach"), log[1024], out[1100], file[1100], tok[1100];
    const char *args[] = {"run", "--dry-run", "--token-file", tok, "--out", out, file, NULL};
    FILE *f;

    (void)state;
    snprintf(log, sizeof(log), "%s.log", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    snprintf(tok, sizeof(tok), "%s/token", dir);
    snprintf(file, sizeof(file), "%s/staging.yaml", dir);
    f = fopen(tok, "w");
    assert_non_null(f);
    fputs("0123456789abcdef0123456789abcdef\n", f);
    fclose(f);
    chmod(tok, 0600);
    /* Port 9 (discard) on loopback: nothing listens there in the test. */
    f = fopen(file, "w");
    assert_non_null(f);
    fputs("apiVersion: faultline/v1\nname: unreachable\ntopology:\n  control: 127.0.0.0/8\n"
          "  regions:\n    - name: west\n      zones:\n        - name: z1\n          hosts:\n"
          "            - {name: w1, agent: \"http://127.0.0.1:9\", address: 10.1.1.11}\n"
          "    - name: north\n      zones:\n        - name: z1\n          hosts:\n"
          "            - {name: n1, agent: \"http://127.0.0.1:9\", address: 10.1.2.11}\n"
          "target: {kind: redis-sentinel, primary: west}\n"
          "workload: {clients: 1, rate: 10/s, duration: 5s, mix: {get: 1, set: 1}}\n"
          "limits: {max_hosts: 1, max_fraction: 0.5}\n"
          "faults:\n  - {at: 1s, for: 1s, isolate: {region: west}}\n"
          "verify: {availability: {during: {read: 0.5}}}\n",
          f);
    fclose(f);
    assert_int_equal(run_args(log, 30000, args), 3);
    assert_true(log_has(log, "agent of host w1 (http://127.0.0.1:9) does not answer"));
    assert_true(log_has(log, "could not start (exit 3)"));
    tu_sh("rm -rf '%s' '%s'", dir, log);
    free(dir);
}

static void dry_run_should_stop_at_a_missing_kernel_feature(void **state)
{
    char *dir = e2e_tmpdir("drynetem"), log[1024], out[1100], file[1100];
    const char *args[] = {"run", "--dry-run", "--out", out, file, NULL};

    (void)state;
    TU_REQUIRE_ROOT();
    snprintf(log, sizeof(log), "%s.log", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    snprintf(file, sizeof(file), "%s/tests/e2e/experiments/latency-needs-netem.yaml", e2e_src());
    /* The agents' probe hides sch_netem on every kernel (a test hook of the injector). */
    assert_int_equal(setenv(HIDE, "netem", 1), 0);
    assert_int_equal(run_args(log, 60000, args), 3);
    unsetenv(HIDE);
    assert_true(log_has(log, "fault f1 (latency) cannot run on"));
    assert_true(log_has(log, "kernel lacks sch_netem"));
    tu_sh("rm -rf '%s' '%s'", dir, log);
    free(dir);
}
#endif

#if E2E_GROUP == 3 || E2E_GROUP > 4
static void halt_should_abort_a_running_experiment_and_leave_nothing(void **state)
{
    char *dir = e2e_tmpdir("halt"), log[1024], hlog[1100], file[1024], *id, *objs;
    const char *args[] = {"run", "--out", dir, file, NULL};
    const char *hargs[] = {"halt", "--lab", NULL, NULL};
    json_t *report;
    int rc;
    pid_t pid;

    (void)state;
    TU_REQUIRE_ROOT();
    snprintf(log, sizeof(log), "%s.log", dir);
    snprintf(hlog, sizeof(hlog), "%s.halt.log", dir);
    snprintf(file, sizeof(file), "%s/" SHORT, e2e_src());
    pid = e2e_start(log, args);
    assert_true(pid > 0);
    e2e_await(pid, log, "fault f1 isolate.*applied", 20000, "the fault was never applied");
    id = e2e_log_lab_id(log);
    assert_true(id && strlen(id) == 6);
    hargs[2] = id;
    rc = run_args(hlog, 10000, hargs);
    if (rc != 0)
        e2e_print_log(hlog);
    assert_int_equal(rc, 0);
    assert_true(log_has(hlog, "halted, 1 fault(s) reverted"));
    /* The agents reverted at once: nothing of faultline in the hosts' namespaces. */
    objs = tu_sh_out("for ns in $(ip netns list | awk '/^fl-%s-/ {print $1}'); do "
                     "ip netns exec $ns nft list tables 2>/dev/null | grep faultline; done",
                     id);
    assert_true(objs == NULL || objs[0] == '\0');
    free(objs);
    /* The run meets the halt (health or its next renewal) and ends as aborted. */
    rc = e2e_wait(pid, 30000);
    if (rc != 3)
        e2e_print_log(log);
    assert_int_equal(rc, 3);
    snprintf(file, sizeof(file), "%s/report.json", dir);
    report = e2e_json_load(file);
    assert_non_null(report);
    assert_string_equal(json_string_value(json_object_get(report, "verdict")), "error");
    assert_non_null(strstr(json_string_value(json_object_get(report, "reason")), "aborted"));
    assert_non_null(strstr(json_string_value(json_object_get(report, "reason")), "halted"));
    json_decref(report);
    assert_false(e2e_lab_present(id));
    tu_sh("rm -rf '%s' '%s' '%s'", dir, log, hlog);
    free(id);
    free(dir);
}

/* GET /v1/health of the lab's first agent, from its control namespace (malloc'd). */
static char *agent_health(const char *id)
{
    return tu_sh_out("ip netns exec fl-%s-ctl curl -s -H \"Authorization: Bearer $(cat "
                     "/run/faultline/labs/%s/agent.token)\" http://198.19.0.10:7070/v1/health",
                     id, id);
}

/* halt --lab and halt --lab --resume on a detached lab: the agents' health says so. */
static void halt_lab_should_halt_and_resume_every_agent(void **state)
{
    char *dir = e2e_tmpdir("haltup"), log[1024], file[1024], *id, *health;
    const char *up[] = {"lab", "up", "--no-target", file, NULL};
    const char *halt[] = {"halt", "--lab", NULL, "--reason", "e2e test", NULL};
    const char *resume[] = {"halt", "--lab", NULL, "--resume", NULL};
    const char *down[] = {"lab", "down", NULL, NULL};

    (void)state;
    TU_REQUIRE_ROOT();
    snprintf(log, sizeof(log), "%s.log", dir);
    snprintf(file, sizeof(file), "%s/" SHORT, e2e_src());
    assert_int_equal(run_args(log, 60000, up), 0);
    id = tu_sh_out("sed -n 's/^lab \\([0-9a-f]\\{6\\}\\) up in .*/\\1/p' '%s' | tr -d '\\n'", log);
    assert_true(id && strlen(id) == 6);
    halt[2] = resume[2] = down[2] = id;
    assert_int_equal(run_args(log, 10000, halt), 0);
    assert_true(log_has(log, "http://198.19.0.11:7070: halted, 0 fault(s) reverted"));
    health = agent_health(id);
    assert_non_null(health);
    assert_non_null(strstr(health, "\"halted\":true"));
    free(health);
    assert_int_equal(run_args(log, 10000, resume), 0);
    assert_true(log_has(log, "http://198.19.0.10:7070: resumed"));
    health = agent_health(id);
    assert_non_null(health);
    assert_non_null(strstr(health, "\"halted\":false"));
    free(health);
    assert_int_equal(run_args(log, 30000, down), 0);
    assert_false(e2e_lab_present(id));
    tu_sh("rm -rf '%s' '%s'", dir, log);
    free(id);
    free(dir);
}

static void halt_should_refuse_a_bad_command_line(void **state)
{
    char log[] = "/tmp/fl-halt-cli.log";
    const char *none[] = {"halt", NULL};
    const char *both[] = {"halt", "--lab", "abcdef", "http://127.0.0.1:9", NULL};
    const char *badurl[] = {"halt", "127.0.0.1:7070", NULL};
    const char *badlab[] = {"halt", "--lab", "nope", NULL};
    const char *unreach[] = {"halt", "--timeout", "500", "http://127.0.0.1:9", NULL};

    (void)state;
    assert_int_equal(run_args(log, 10000, none), 2);
    assert_true(log_has(log, "give agent URLs or --lab ID"));
    assert_int_equal(run_args(log, 10000, both), 2);
    assert_int_equal(run_args(log, 10000, badurl), 2);
    assert_true(log_has(log, "an agent URL starts with http:// or https://"));
    assert_int_equal(run_args(log, 10000, badlab), 2);
    assert_true(log_has(log, "is not a lab id (6 hex digits"));
    assert_int_equal(run_args(log, 10000, unreach), 3);
    assert_true(log_has(log, "http://127.0.0.1:9: not halted"));
    unlink(log);
}
#endif

#if E2E_GROUP == 4
/*
 * Events of an audit file, one line each: "event id caller" ("-" for a
 * missing field), in file order; the apply specs' hashes into hashes.
 * Malloc'd, NULL when the file is missing or a line does not parse.
 */
static char *events(const char *dir, const char *host, char *hashes, size_t hlen)
{
    char path[1200], *line = NULL, *out = NULL;
    size_t cap = 0, olen = 0;
    FILE *f, *mem;

    snprintf(path, sizeof(path), "%s/audit-%s.jsonl", dir, host);
    if ((f = fopen(path, "r")) == NULL || (mem = open_memstream(&out, &olen)) == NULL) {
        if (f)
            fclose(f);
        return NULL;
    }
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        const char *ev = json_string_value(json_object_get(o, "event"));
        const char *id = json_string_value(json_object_get(o, "id"));
        const char *caller = json_string_value(json_object_get(o, "caller"));
        const char *hash = json_string_value(json_object_get(o, "spec_sha256"));

        assert_non_null(o);
        assert_non_null(ev);
        assert_true(json_integer_value(json_object_get(o, "time_ns")) > 0);
        fprintf(mem, "%s %s %s\n", ev, id ? id : "-", caller ? caller : "-");
        if (strcmp(ev, "apply") == 0 && hash && !strstr(hashes, hash))
            snprintf(hashes + strlen(hashes), hlen - strlen(hashes), "%s\n", hash);
        json_decref(o);
    }
    free(line);
    fclose(f);
    fclose(mem);
    return out;
}

/*
 * A full run whose controller freezes while a fault is applied (SIGSTOP
 * past the lease): the agents revert on their own, and the run folder holds
 * each agent's audit trail of the run, the lease expiry included.
 */
static void audit_should_record_a_full_run_and_a_lease_expiry(void **state)
{
    char *dir = e2e_tmpdir("audit"), log[1024], file[1024], *w, *n, hashes[512] = "";
    const char *args[] = {"run", "--out", dir, file, NULL};
    int rc;
    pid_t pid;

    (void)state;
    TU_REQUIRE_ROOT();
    snprintf(log, sizeof(log), "%s.log", dir);
    snprintf(file, sizeof(file), "%s/" SHORT, e2e_src());
    pid = e2e_start(log, args);
    assert_true(pid > 0);
    e2e_await(pid, log, "fault f1 isolate.*applied", 20000, "the fault was never applied");
    /* Frozen for longer than the 9 s lease: nobody renews, the agents revert. */
    assert_int_equal(kill(pid, SIGSTOP), 0);
    sleep(11);
    assert_int_equal(kill(pid, SIGCONT), 0);
    rc = e2e_wait(pid, 60000);
    assert_true(rc >= 0 && rc <= 3);
    w = events(dir, "west-z1-h1", hashes, sizeof(hashes));
    n = events(dir, "north-z1-h1", hashes, sizeof(hashes));
    if (!w || !n || !strstr(w, "expire f1 -") || !strstr(n, "expire f1 -"))
        fail_msg("no lease expiry in the audit trails:\nwest:\n%s\nnorth:\n%s", w ? w : "(none)",
                 n ? n : "(none)");
    assert_non_null(strstr(w, "apply f1 198.19.0.1"));
    assert_non_null(strstr(n, "apply f1 198.19.0.1"));
    assert_non_null(strstr(w, "revert-all - 198.19.0.1"));
    /* The apply came first, the expiry after it. */
    assert_true(strstr(w, "apply f1") < strstr(w, "expire f1"));
    /* Both agents got the same spec (the isolate's rules on both sides). */
    assert_int_equal(strlen(hashes), 65); /* one sha256 in hex and its newline */
    free(w);
    free(n);
    tu_sh("rm -rf '%s' '%s'", dir, log);
    free(dir);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
#if E2E_GROUP == 1
        cmocka_unit_test(dry_run_should_plan_everything_and_apply_nothing),
        cmocka_unit_test(dry_run_should_evaluate_the_guards_once),
#elif E2E_GROUP == 2
        cmocka_unit_test(dry_run_should_refuse_a_bad_file_with_nothing_created),
        cmocka_unit_test(dry_run_should_name_an_unreachable_staging_agent),
        cmocka_unit_test(dry_run_should_stop_at_a_missing_kernel_feature),
#elif E2E_GROUP == 4
        cmocka_unit_test(audit_should_record_a_full_run_and_a_lease_expiry),
#else
        cmocka_unit_test(halt_should_abort_a_running_experiment_and_leave_nothing),
        cmocka_unit_test(halt_lab_should_halt_and_resume_every_agent),
        cmocka_unit_test(halt_should_refuse_a_bad_command_line),
#endif
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
