/*
 * The experiment keys of issue 14: `capture: true` on a fault (a boolean,
 * any kind) and `verify.regression` (compare's tolerances), each refused
 * with file:line:col when malformed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "experiment.h"
#include "verify_cfg.h"

static const char head[] =
    "apiVersion: faultline/v1\n"
    "name: cap\n"
    "topology: {regions: [{name: west, zones: [{name: z1, hosts: 1}]}, {name: north, zones: "
    "[{name: z1, hosts: 1}]}]}\n"
    "target: {kind: refstore, preset: key-vault, primary: west}\n"
    "workload: {clients: 2, rate: 50/s, duration: 20s, mix: {get-secret: 1}}\n";

/* Parse head + rest, then the verify section; 0 or the first error (message in err). */
static int parse(const char *rest, struct experiment **exp, struct fl_err *err)
{
    char text[4096];
    struct vfy_config cfg;
    int r;

    snprintf(text, sizeof(text), "%s%s", head, rest);
    *exp = NULL;
    r = experiment_parse(text, strlen(text), "x.yaml", exp, err);
    if (r == 0)
        r = exp_verify_config(*exp, &cfg, err);
    if (r != 0)
        fprintf(stderr, "%s\n", err->msg);
    return r;
}

static void capture_should_be_a_boolean_on_any_fault(void **state)
{
    struct experiment *exp;
    struct fl_err err = {0};

    (void)state;
    assert_int_equal(
        parse("faults:\n  - {at: 5s, for: 8s, isolate: {region: west}, capture: true}\n"
              "  - {at: 5s, for: 2s, kind: latency, region: north, delay: 50ms}\n"
              "verify: {failover: {max: 8s}}\n",
              &exp, &err),
        0);
    assert_true(exp->faults[0].capture);
    assert_false(exp->faults[1].capture);
    /* not a kind parameter: nothing of it reaches the injector's spec */
    assert_null(json_object_get(exp->faults[0].params, "capture"));
    experiment_free(exp);
    fl_err_clear(&err);
    assert_int_equal(parse("faults:\n  - {at: 5s, isolate: {region: west}, capture: often}\n"
                           "verify: {failover: {max: 8s}}\n",
                           &exp, &err),
                     -EINVAL);
    fprintf(stderr, "%s\n", err.msg);
    assert_non_null(strstr(err.msg, "x.yaml:7:"));
    assert_non_null(strstr(err.msg, "capture"));
    experiment_free(exp);
    fl_err_clear(&err);
    assert_int_equal(parse("faults:\n  - {at: 5s, isolate: {region: west}, captur: true}\n"
                           "verify: {failover: {max: 8s}}\n",
                           &exp, &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "did you mean 'capture'"));
    experiment_free(exp);
}

static void regression_should_take_tolerances_per_figure(void **state)
{
    struct experiment *exp;
    struct fl_err err = {0};
    json_t *v;

    (void)state;
    assert_int_equal(parse("faults: []\nverify:\n  failover: {max: 8s}\n  regression:\n"
                           "    failover: {relative: 0.1, absolute: 200ms}\n"
                           "    availability: {absolute: 0.05}\n"
                           "    data_lost: {absolute: 3}\n",
                           &exp, &err),
                     0);
    v = exp_verify_json(exp);
    /* kept as JSON, durations in integer milliseconds: what report.json carries */
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(v, "regression"), "failover"), "absolute")),
        200);
    json_decref(v);
    experiment_free(exp);
    fl_err_clear(&err);
    assert_int_equal(
        parse("faults: []\nverify:\n  regression:\n    failover: {relative: 2}\n", &exp, &err),
        -EINVAL);
    fprintf(stderr, "%s\n", err.msg);
    assert_non_null(strstr(err.msg, "x.yaml:9:26:"));
    assert_non_null(strstr(err.msg, "regression.failover.relative"));
    experiment_free(exp);
    fl_err_clear(&err);
    assert_int_equal(
        parse("faults: []\nverify:\n  regression:\n    failovr: {relative: 0.2}\n", &exp, &err),
        -EINVAL);
    assert_non_null(strstr(err.msg, "did you mean 'failover'"));
    experiment_free(exp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(capture_should_be_a_boolean_on_any_fault),
        cmocka_unit_test(regression_should_take_tolerances_per_figure),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
