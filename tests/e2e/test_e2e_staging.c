/*
 * Staging, end to end, on this machine (docs/staging.md). The test plays a
 * staging environment with tests/e2e/staging/staging.sh: three host
 * namespaces and a controller namespace (names flstg<pid>-*, removed at the
 * end whatever happened), a faultline-agent in each host serving HTTPS with
 * a certificate from a CA made by openssl at test time and a bearer token,
 * and the service already running there (faultline-refstore replicas; Redis
 * with Sentinel). `faultline run` runs in the controller namespace against
 * the staging-form experiments of tests/e2e/staging/ (https:// agent URLs,
 * data addresses), with --ca and --token-file:
 *
 *   - an unreadable --ca (or --cert without --key) is exit 2, nothing started;
 *   - a wrong CA, a wrong token and an unreachable agent are each exit 3 with
 *     a precise line, and no agent applied anything (its metrics);
 *   - the refstore and Redis Sentinel experiments end with the verdict their
 *     lab twins (the same experiment with host counts) get in the lab, the
 *     fault applied on every host of the list and seen dropping packets, and
 *     afterwards every host namespace exactly as before (no nf_tables table,
 *     ip rule, route or qdisc left) and every agent's GET /v1/faults empty.
 *
 * Needs root (namespaces), openssl, and for the Redis case redis-server and
 * redis-sentinel; skips visibly otherwise. Traffic stays inside the
 * namespaces the test makes.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e_util.h"
#include "testutil.h"

#define NHOSTS 3

static char *dir;              /* the staging environment's files (certificates, token, logs) */
static char prefix[32];        /* flstg<pid>- */
static bool up;                /* staging.sh up succeeded */
static char *baseline[NHOSTS]; /* each host namespace before any run */

static const char *build_dir(void)
{
    const char *b = getenv("FAULTLINE_BUILD_DIR");

    return b && *b ? b : ".";
}

/* staging.sh CMD DIR PREFIX [ARG]: its exit status. */
static int staging_sh(const char *cmd, const char *arg)
{
    return tu_sh("sh '%s/tests/e2e/staging/staging.sh' %s '%s' '%s' %s%s%s >>'%s/staging.log' 2>&1",
                 e2e_src(), cmd, dir, prefix, arg ? "'" : "", arg ? arg : "", arg ? "'" : "", dir);
}

/* Every namespace and process of the environment goes, even after a failure. */
static void staging_down(void)
{
    if (dir == NULL || prefix[0] == '\0')
        return;
    staging_sh("down", NULL);
    prefix[0] = '\0';
}

/*
 * What a run may change in a host namespace: nf_tables, rules, routes,
 * qdiscs (without the IPv6 link-local routes, which the kernel adds when
 * its duplicate address detection is done, in its own time).
 */
static char *host_snapshot(int i)
{
    return tu_sh_out("ip netns exec '%sh%d' sh -c 'nft list ruleset; ip -4 rule; ip -6 rule; "
                     "ip -4 route show table all; ip -6 route show table all | grep -v fe80:; "
                     "tc qdisc show' 2>&1",
                     prefix, i);
}

/* An authenticated GET to agent i (1-based) from the controller's side. */
static char *agent_get(int i, const char *path)
{
    return tu_sh_out("ip netns exec '%sctl' curl -s --max-time 5 --cacert '%s/tls/ca.pem' "
                     "-H \"Authorization: Bearer $(cat '%s/token')\" "
                     "https://198.19.64.1%d:7070%s",
                     prefix, dir, dir, i, path);
}

/* The value of an unlabelled series of agent i's /metrics; -1 when absent. */
static long metric(int i, const char *name)
{
    char *m = agent_get(i, "/metrics"), *p = m;
    size_t n = strlen(name);
    long v = -1;

    while (p && (p = strstr(p, name)) != NULL) {
        if ((p == m || p[-1] == '\n') && p[n] == ' ') {
            v = strtol(p + n + 1, NULL, 10);
            break;
        }
        p += n;
    }
    free(m);
    return v;
}

static void applied(long *out)
{
    int i;

    for (i = 0; i < NHOSTS; i++)
        out[i] = metric(i + 1, "faultline_agent_faults_applied_total");
}

/* Every host as before the first run, and every agent with no fault. */
static void assert_clean(void)
{
    int i;

    for (i = 0; i < NHOSTS; i++) {
        char *now = host_snapshot(i + 1), *faults = agent_get(i + 1, "/v1/faults");
        json_t *j = faults ? json_loads(faults, 0, NULL) : NULL;

        assert_non_null(now);
        if (strcmp(now, baseline[i]) != 0) {
            fprintf(stderr, "host h%d before:\n%s\nafter:\n%s\n", i + 1, baseline[i], now);
            fail_msg("host h%d's namespace changed", i + 1);
        }
        assert_null(strstr(now, "faultline"));
        if (!json_is_array(json_object_get(j, "faults")))
            fail_msg("agent h%d: GET /v1/faults: %s", i + 1, faults ? faults : "(nothing)");
        assert_int_equal(json_array_size(json_object_get(j, "faults")), 0);
        assert_int_equal(metric(i + 1, "faultline_agent_faults_active"), 0);
        json_decref(j);
        free(faults);
        free(now);
    }
}

/* faultline ARGS in the controller's namespace (staging) or here (lab): its exit code. */
static int faultline(bool in_ctl, const char *log, const char *args)
{
    return tu_sh("timeout 170 %s%s%s '%s' %s >'%s' 2>&1", in_ctl ? "ip netns exec '" : "",
                 in_ctl ? prefix : "", in_ctl ? "ctl'" : "", e2e_bin(), args, log);
}

static bool log_has(const char *log, const char *text)
{
    char *s = tu_sh_out("cat '%s'", log);
    bool has = s && strstr(s, text) != NULL;

    if (!has) {
        fprintf(stderr, "expected in %s: %s\n", log, text);
        e2e_print_log(log);
    }
    free(s);
    return has;
}

/*
 * Namespaces of an earlier run of this test that was killed before its
 * teardown (flstg<pid>- with that pid gone): removed, with what runs in them.
 */
static void sweep_stale(void)
{
    tu_sh("for ns in $(ls /run/netns 2>/dev/null | sed -n 's/^flstg\\([0-9]*\\)-ctl$/\\1/p'); do "
          "[ -d /proc/$ns ] || sh '%s/tests/e2e/staging/staging.sh' down /tmp/flstg-stale-$ns "
          "flstg$ns- >/dev/null 2>&1; rm -rf /tmp/flstg-stale-$ns; done",
          e2e_src());
}

static int setup(void **state)
{
    char agent[1024];
    int i;

    (void)state;
    if (!tu_is_root() || access("/usr/bin/openssl", X_OK) != 0)
        return 0; /* each test says why it skips */
    sweep_stale();
    snprintf(prefix, sizeof(prefix), "flstg%d-", (int)getpid());
    dir = e2e_tmpdir("staging");
    atexit(staging_down);
    snprintf(agent, sizeof(agent), "%s/agents/faultline-agent", build_dir());
    if (dir == NULL || staging_sh("up", agent) != 0) {
        if (dir)
            tu_sh("tail -n 30 '%s/staging.log' >&2; tail -n 5 '%s'/agent-h*.log >&2", dir, dir);
        staging_down();
        return 0;
    }
    for (i = 0; i < NHOSTS; i++)
        baseline[i] = host_snapshot(i + 1);
    up = true;
    return 0;
}

static int teardown(void **state)
{
    int i;

    (void)state;
    staging_down();
    for (i = 0; i < NHOSTS; i++)
        free(baseline[i]);
    if (dir)
        tu_sh("rm -rf '%s'", dir);
    free(dir);
    dir = NULL;
    return 0;
}

static void require_staging(const char *test)
{
    TU_REQUIRE_ROOT();
    if (access("/usr/bin/openssl", X_OK) != 0) {
        if (tu_strict())
            fail_msg("openssl is not installed (scripts/setup.sh)");
        tu_note_skip(test, "openssl not installed");
        skip();
    }
    if (!up)
        fail_msg("the staging environment did not come up (see the log above)");
}

/* --ca that cannot be read, --cert without --key: exit 2 before anything starts. */
static void staging_should_refuse_unusable_tls_files(void **state)
{
    char args[2048], log[1024], text[1200], out[1024];

    (void)state;
    require_staging(__func__);
    snprintf(log, sizeof(log), "%s/bad-ca.log", dir);
    snprintf(out, sizeof(out), "%s/bad-ca", dir);
    snprintf(args, sizeof(args),
             "run -q --ca '%s/tls/missing.pem' --token-file '%s/token' --out '%s' "
             "'%s/tests/e2e/staging/refstore-staging.yaml'",
             dir, dir, out, e2e_src());
    assert_int_equal(faultline(true, log, args), 2);
    snprintf(text, sizeof(text), "--ca %s/tls/missing.pem: cannot read: No such file", dir);
    assert_true(log_has(log, text));
    assert_int_not_equal(access(out, F_OK), 0); /* nothing started, not even the folder */
    snprintf(args, sizeof(args),
             "run -q --ca '%s/tls/ca.pem' --cert '%s/tls/client.pem' --token-file '%s/token' "
             "--out '%s' '%s/tests/e2e/staging/refstore-staging.yaml'",
             dir, dir, dir, out, e2e_src());
    assert_int_equal(faultline(true, log, args), 2);
    assert_true(log_has(log, "--cert and --key go together"));
}

/*
 * One refused run: exit 3, the line expected on stderr, and no agent
 * applied anything (their faults_applied_total unchanged: zero, as these
 * run first), nothing left in any host.
 */
static void refused_run(const char *tag, const char *file, const char *opts, const char *expect)
{
    char args[2048], log[1024];
    long before[NHOSTS], after[NHOSTS];
    int i;

    applied(before);
    snprintf(log, sizeof(log), "%s/%s.log", dir, tag);
    snprintf(args, sizeof(args), "run -q %s --out '%s/%s' '%s'", opts, dir, tag, file);
    assert_int_equal(faultline(true, log, args), 3);
    assert_true(log_has(log, expect));
    applied(after);
    for (i = 0; i < NHOSTS; i++) {
        fprintf(stderr, "%s: agent h%d faults_applied_total %ld -> %ld\n", tag, i + 1, before[i],
                after[i]);
        assert_true(before[i] >= 0);
        assert_int_equal(after[i], before[i]);
    }
    assert_clean();
}

static void staging_should_stop_at_a_wrong_ca(void **state)
{
    char file[1024], opts[1024], expect[1024];

    (void)state;
    require_staging(__func__);
    snprintf(file, sizeof(file), "%s/tests/e2e/staging/refstore-staging.yaml", e2e_src());
    snprintf(opts, sizeof(opts), "--ca '%s/tls/other-ca.pem' --token-file '%s/token'", dir, dir);
    snprintf(expect, sizeof(expect),
             "agent of host w1 (https://198.19.64.11:7070): TLS certificate not trusted with "
             "--ca %s/tls/other-ca.pem: SSL certificate problem",
             dir);
    refused_run("wrong-ca", file, opts, expect);
}

static void staging_should_stop_at_a_wrong_token(void **state)
{
    char file[1024], opts[1024], expect[1024];

    (void)state;
    require_staging(__func__);
    snprintf(file, sizeof(file), "%s/tests/e2e/staging/refstore-staging.yaml", e2e_src());
    snprintf(opts, sizeof(opts), "--ca '%s/tls/ca.pem' --token-file '%s/wrong-token'", dir, dir);
    snprintf(expect, sizeof(expect),
             "agent of host w1 (https://198.19.64.11:7070) refuses the token of "
             "%s/wrong-token: HTTP 401",
             dir);
    refused_run("wrong-token", file, opts, expect);
}

/* n1's agent URL on a port nothing listens on: the others must not get the fault either. */
static void staging_should_stop_at_an_unreachable_agent(void **state)
{
    char file[1024], opts[1024];

    (void)state;
    require_staging(__func__);
    snprintf(file, sizeof(file), "%s/unreachable.yaml", dir);
    assert_int_equal(tu_sh("sed 's/198.19.64.13:7070/198.19.64.13:7071/' "
                           "'%s/tests/e2e/staging/refstore-staging.yaml' >'%s'",
                           e2e_src(), file),
                     0);
    snprintf(opts, sizeof(opts), "--ca '%s/tls/ca.pem' --token-file '%s/token'", dir, dir);
    refused_run("unreachable", file, opts,
                "agent of host n1 (https://198.19.64.13:7071) does not answer: no answer: "
                "Failed to connect");
}

/* A finished staging run: the fault on every listed host, applied, effective, healed. */
static void check_staging_report(const json_t *r)
{
    const json_t *f = json_array_get(json_object_get(r, "faults"), 0), *a;
    size_t i;

    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "lab"), "kind")),
                        "staging");
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "state")), "healed");
    assert_int_equal(json_array_size(json_object_get(f, "agents")), NHOSTS);
    json_array_foreach(json_object_get(f, "agents"), i, a)
    {
        assert_int_equal(json_integer_value(json_object_get(a, "status")), 201);
        assert_true(json_integer_value(json_object_get(json_object_get(a, "evidence"), "packets")) >
                    0);
    }
    assert_true(json_integer_value(json_object_get(json_object_get(r, "ops"), "total")) > 0);
}

/* The pass/fail of every verifier, "name=pass,..." (malloc'd), to compare two runs. */
static char *verdicts(const json_t *r)
{
    char *s = NULL, *t;
    const json_t *v;
    size_t i;

    if (asprintf(&s, "%s:", json_string_value(json_object_get(r, "verdict"))) < 0)
        return NULL;
    json_array_foreach(json_object_get(r, "verifiers"), i, v)
    {
        if (asprintf(&t, "%s %s=%s", s, json_string_value(json_object_get(v, "name")),
                     json_is_true(json_object_get(v, "pass")) ? "pass" : "fail") < 0)
            break;
        free(s);
        s = t;
    }
    return s;
}

/*
 * Run the lab twin (in the lab), then the staging form (against the agents,
 * the service started by staging.sh): the same exit code and verdicts, and
 * everything reverted.
 */
static void staging_should_match_the_lab(const char *twin, const char *stg, const char *tag)
{
    char args[2048], log[1100], out[1024], lab_out[1024];
    json_t *lab, *r;
    char *lv, *sv, what[512];
    const char *id;
    int lrc, rc;

    snprintf(lab_out, sizeof(lab_out), "%s/%s-lab", dir, tag);
    snprintf(log, sizeof(log), "%s.log", lab_out);
    snprintf(args, sizeof(args), "run -q --out '%s' '%s/tests/e2e/staging/%s'", lab_out, e2e_src(),
             twin);
    lrc = faultline(false, log, args);
    lab = e2e_check_outputs(lab_out, lab_out);
    id = json_string_value(json_object_get(json_object_get(lab, "lab"), "id"));
    assert_non_null(id);
    if (e2e_lab_left(id, what, sizeof(what)))
        fail_msg("lab %s left: %s", id, what);
    snprintf(out, sizeof(out), "%s/%s", dir, tag);
    snprintf(log, sizeof(log), "%s.log", out);
    /* --cert/--key: the agents ask for no client certificate, and the run goes on. */
    snprintf(args, sizeof(args),
             "run -q --ca '%s/tls/ca.pem' --cert '%s/tls/client.pem' --key '%s/tls/client.key' "
             "--token-file '%s/token' --out '%s' '%s/tests/e2e/staging/%s'",
             dir, dir, dir, dir, out, e2e_src(), stg);
    rc = faultline(true, log, args);
    r = e2e_check_outputs(out, out);
    lv = verdicts(lab);
    sv = verdicts(r);
    fprintf(stderr, "%s: lab exit %d (%s), staging exit %d (%s)\n", tag, lrc, lv, rc, sv);
    if (rc != lrc || strcmp(lv, sv) != 0)
        e2e_print_log(log);
    assert_int_equal(rc, lrc);
    assert_string_equal(sv, lv);
    check_staging_report(r);
    assert_clean();
    free(lv);
    free(sv);
    json_decref(lab);
    json_decref(r);
}

/*
 * Target kind http: the same replicas as "a service of your own that speaks
 * refstore's client API": the run passes as the refstore kind's does.
 */
static void http_should_run_as_refstore(void)
{
    char args[2048], log[1100], out[1024];
    json_t *r;
    int rc;

    snprintf(out, sizeof(out), "%s/http", dir);
    snprintf(log, sizeof(log), "%s.log", out);
    snprintf(args, sizeof(args),
             "run -q --ca '%s/tls/ca.pem' --token-file '%s/token' --out '%s' "
             "'%s/tests/e2e/staging/http-staging.yaml'",
             dir, dir, out, e2e_src());
    rc = faultline(true, log, args);
    if (rc != 0)
        e2e_print_log(log);
    assert_int_equal(rc, 0);
    r = e2e_check_outputs(out, out);
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r, "verdict")), "pass");
    check_staging_report(r);
    assert_clean();
    json_decref(r);
}

static void staging_refstore_should_run_as_in_the_lab(void **state)
{
    char bin[1024];

    (void)state;
    require_staging(__func__);
    snprintf(bin, sizeof(bin), "%s/targets/faultline-refstore", build_dir());
    if (staging_sh("refstore", bin) != 0) {
        tu_sh("tail -n 20 '%s/staging.log' >&2", dir);
        fail_msg("the refstore replicas did not start");
    }
    staging_should_match_the_lab("refstore-lab.yaml", "refstore-staging.yaml", "refstore");
    http_should_run_as_refstore();
    assert_int_equal(staging_sh("stop", "refstore"), 0);
}

static void staging_redis_should_run_as_in_the_lab(void **state)
{
    (void)state;
    require_staging(__func__);
    if (access("/usr/bin/redis-sentinel", X_OK) != 0 || access("/usr/bin/redis-cli", X_OK) != 0) {
        if (tu_strict())
            fail_msg("redis-sentinel is not installed (scripts/setup.sh --with-services)");
        tu_note_skip(__func__, "redis-sentinel not installed");
        skip();
    }
    if (staging_sh("redis", NULL) != 0) {
        tu_sh("tail -n 20 '%s/staging.log' >&2", dir);
        fail_msg("redis with sentinel did not start");
    }
    staging_should_match_the_lab("redis-lab.yaml", "redis-staging.yaml", "redis");
    assert_int_equal(staging_sh("stop", "redis"), 0);
}

int main(void)
{
    /* The refused runs first: until then no agent has applied anything at all. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(staging_should_refuse_unusable_tls_files),
        cmocka_unit_test(staging_should_stop_at_a_wrong_ca),
        cmocka_unit_test(staging_should_stop_at_a_wrong_token),
        cmocka_unit_test(staging_should_stop_at_an_unreachable_agent),
        cmocka_unit_test(staging_refstore_should_run_as_in_the_lab),
        cmocka_unit_test(staging_redis_should_run_as_in_the_lab),
    };

    setvbuf(stdout, NULL, _IONBF, 0);
    setvbuf(stderr, NULL, _IONBF, 0);
    return cmocka_run_group_tests(tests, setup, teardown);
}
