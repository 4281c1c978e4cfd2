/*
 * The guards: section and workload.abort_when (issue 16): what a good file
 * gives (defaults, both probe kinds, the trailing slash of a Prometheus URL
 * dropped) and every refusal with its exact file:line:column and hint:
 * both probes or none, a name given twice, a URL that is not http(s), a
 * misspelt key, a Prometheus guard without a bound, and abort_when's class,
 * ratio and window.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "experiment.h"
#include "exp_text.h"

/* Lines 1..8; workload: is line 5, guards: starts on line 9. */
#define HEAD                                                                    \
    "apiVersion: faultline/v1\n"                                                \
    "name: guarded\n"                                                           \
    "topology: {regions: [{name: west, zones: [{name: z1, hosts: 1}]}]}\n"      \
    "target: {kind: refstore, preset: key-vault}\n"                             \
    "workload: {clients: 1, rate: 10/s, duration: 20s, mix: {get-secret: 1}}\n" \
    "faults: []\n"                                                              \
    "verify: {availability: {during: {read: 0.5}}}\n"                           \
    "description: guards\n"

static void guards_should_parse_both_probes_with_defaults(void **state)
{
    struct experiment *exp = parse_ok(
        HEAD "guards:\n"
             "  - name: api-health\n"
             "    http: {url: \"http://198.18.1.33:7000/v1/health\", expect: 204, timeout: "
             "500ms}\n"
             "    every: 1s\n"
             "    failures: 3\n"
             "  - name: error-budget\n"
             "    prometheus: {url: \"http://prom:9090/\", query: 'sum(rate(errors[1m]))', "
             "max: 5}\n"
             "    every: 5s\n"
             "  - {name: plain, http: {url: \"https://example.test/\"}}\n"
             "  - {name: floor, prometheus: {url: \"http://p\", query: up, min: -1.5, max: 2}}\n");
    const struct exp_guard *g;

    (void)state;
    assert_int_equal(exp->n_guards, 4);
    g = &exp->guards[0];
    assert_string_equal(g->name, "api-health");
    assert_int_equal(g->kind, EXP_GUARD_HTTP);
    assert_string_equal(g->url, "http://198.18.1.33:7000/v1/health");
    assert_int_equal(g->expect, 204);
    assert_int_equal(g->timeout_ns, 500000000LL);
    assert_int_equal(g->every_ns, 1000000000LL);
    assert_int_equal(g->failures, 3);
    assert_int_equal(g->line, 10);
    assert_int_equal(g->column, 5);
    g = &exp->guards[1];
    assert_int_equal(g->kind, EXP_GUARD_PROMETHEUS);
    assert_string_equal(g->url, "http://prom:9090");
    assert_string_equal(g->query, "sum(rate(errors[1m]))");
    assert_true(g->has_max && !g->has_min);
    assert_true(g->max == 5.0);
    assert_int_equal(g->every_ns, 5000000000LL);
    assert_int_equal(g->failures, 1);
    g = &exp->guards[2];
    assert_int_equal(g->expect, 200);
    assert_int_equal(g->timeout_ns, 1000000000LL);
    assert_int_equal(g->every_ns, 1000000000LL);
    g = &exp->guards[3];
    assert_true(g->has_min && g->has_max);
    assert_true(g->min == -1.5 && g->max == 2.0);
    assert_false(exp->abort_when.enabled);
    experiment_free(exp);
}

static void guards_should_be_optional(void **state)
{
    struct experiment *exp = parse_ok(HEAD);

    (void)state;
    assert_int_equal(exp->n_guards, 0);
    assert_null(exp->guards);
    experiment_free(exp);
    exp = parse_ok(HEAD "guards: []\n");
    assert_int_equal(exp->n_guards, 0);
    experiment_free(exp);
}

static void guards_should_refuse_with_position_and_hint(void **state)
{
    (void)state;
    parse_bad(HEAD "guards:\n"
                   "  - name: a\n"
                   "    http: {url: \"http://x/\"}\n"
                   "    prometheus: {url: \"http://p\", query: up, max: 1}\n",
              "g.yaml:12:5: guards[0]: give http or prometheus, not both (one probe per guard)");
    parse_bad(HEAD "guards:\n"
                   "  - name: a\n"
                   "    every: 1s\n",
              "g.yaml:10:5: guards[0]: expected a probe: http or prometheus");
    parse_bad(HEAD "guards:\n"
                   "  - {name: a, http: {url: \"http://x/\"}}\n"
                   "  - {name: a, http: {url: \"http://y/\"}}\n",
              "g.yaml:11:12: guards[1].name: guard 'a' is named twice (reports name the guard "
              "that tripped)");
    parse_bad(HEAD "guards:\n"
                   "  - {name: a, http: {url: \"ftp://x/\"}}\n",
              "g.yaml:10:28: guards[0].http.url: expected an http:// or https:// URL, found "
              "'ftp://x/'");
    parse_bad(HEAD "guards:\n"
                   "  - {name: a, http: {url: \"http:///health\"}}\n",
              "g.yaml:10:28: guards[0].http.url: the URL 'http:///health' has no host");
    parse_bad(HEAD "guards:\n"
                   "  - {name: a, http: {url: \"http://x/\"}, evry: 1s}\n",
              "g.yaml:10:41: unknown key 'evry' in guards[0] (did you mean 'every'?)");
    parse_bad(HEAD "guards:\n"
                   "  - {name: a, http: {url: \"http://x/\", expct: 200}}\n",
              "g.yaml:10:40: unknown key 'expct' in guards[0].http (did you mean 'expect'?)");
    parse_bad(HEAD "guards:\n"
                   "  - {name: a, prometheus: {url: \"http://p\", query: up}}\n",
              "g.yaml:10:15: guards[0].prometheus: give max (the guard fails when the value is "
              "above it), min (below it), or both");
    parse_bad(HEAD "guards:\n"
                   "  - {name: a, prometheus: {url: \"http://p\", query: up, max: lots}}\n",
              "g.yaml:10:61: guards[0].prometheus.max: expected a number, found 'lots'");
    parse_bad(HEAD "guards:\n"
                   "  - {name: a, http: {url: \"http://x/\"}, failures: 0}\n",
              "g.yaml:10:51: guards[0].failures: expected an integer from 1 to 100, found '0'");
    parse_bad(HEAD "guards:\n"
                   "  - {name: a, http: {url: \"http://x/\"}, every: 10ms}\n",
              "g.yaml:10:48: guards[0].every: expected a duration from 100ms to 3600s");
    parse_bad(HEAD "guards: {name: a}\n", "g.yaml:9:10: guards: expected a list, found a mapping");
    parse_bad(HEAD "gaurds: []\n", "g.yaml:9:1: unknown key 'gaurds' in the experiment (did you "
                                   "mean 'guards'?)");
}

/* workload: on line 5 replaced by one with abort_when (w_ is the inside of its mapping). */
#define WITH_WORKLOAD(w_)                                                                 \
    "apiVersion: faultline/v1\n"                                                          \
    "name: guarded\n"                                                                     \
    "topology: {regions: [{name: west, zones: [{name: z1, hosts: 1}]}]}\n"                \
    "target: {kind: refstore, preset: key-vault}\n"                                       \
    "workload: {clients: 1, rate: 10/s, duration: 20s, mix: {get-secret: 1, set-secret: " \
    "1}, " w_ "}\n"                                                                       \
    "faults: []\n"                                                                        \
    "verify: {availability: {during: {read: 0.5}}}\n"

static void abort_when_should_parse_and_refuse(void **state)
{
    struct experiment *exp =
        parse_ok(WITH_WORKLOAD("abort_when: {class: write, success_below: 0.5, for: 10s}"));

    (void)state;
    assert_true(exp->abort_when.enabled);
    assert_int_equal(exp->abort_when.op_class, EXP_CLASS_WRITE);
    assert_true(exp->abort_when.success_below == 0.5);
    assert_int_equal(exp->abort_when.for_ns, 10000000000LL);
    experiment_free(exp);
    exp = parse_ok(WITH_WORKLOAD("abort_when: {class: any, success_below: 1, for: 20s}"));
    assert_int_equal(exp->abort_when.op_class, EXP_CLASS_ANY);
    experiment_free(exp);
    parse_bad(WITH_WORKLOAD("abort_when: {class: wirte, success_below: 0.5, for: 10s}"),
              "g.yaml:5:108: workload.abort_when.class: unknown value 'wirte' (did you mean "
              "'write'?)");
    parse_bad(WITH_WORKLOAD("abort_when: {class: read, success_below: 1.5, for: 10s}"),
              "g.yaml:5:129: workload.abort_when.success_below: expected a number > 0 and <= 1, "
              "found '1.5'");
    parse_bad(WITH_WORKLOAD("abort_when: {class: read, success_below: 0.5, for: 1500ms}"),
              "g.yaml:5:139: workload.abort_when.for: expected whole seconds of at least 1s (the "
              "success ratio is sampled once a second)");
    parse_bad(WITH_WORKLOAD("abort_when: {class: read, success_below: 0.5, for: 30s}"),
              "g.yaml:5:139: workload.abort_when.for: 30s is longer than the workload "
              "(workload.duration 20s): it could never trip");
    parse_bad(WITH_WORKLOAD("abort_when: {class: read, success_below: 0.5}"),
              "g.yaml:5:88: workload.abort_when: missing required key 'for'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(guards_should_parse_both_probes_with_defaults),
        cmocka_unit_test(guards_should_be_optional),
        cmocka_unit_test(guards_should_refuse_with_position_and_hint),
        cmocka_unit_test(abort_when_should_parse_and_refuse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
