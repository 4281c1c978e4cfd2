/*
 * faultline compare with hand-made summaries: a figure just inside and just
 * outside its tolerance (both directions of "worse"), "never recovered",
 * figures missing on either side, a verifier (and an experiment) only the
 * new run has, the median of several baselines, verify.regression
 * overrides; and the summary row drawn from a report.json object.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compare.h"
#include "report_html.h"

/* {"experiments": [{"experiment": name, "verdict": "pass", "figures": <figs>}]} */
static json_t *summary(const char *name, const char *figs)
{
    json_error_t je;
    json_t *f = json_loads(figs, 0, &je), *s;

    if (f == NULL)
        fail_msg("bad test JSON %s: %s", figs, je.text);
    s = json_pack("{s:[{s:s,s:s,s:o}]}", "experiments", "experiment", name, "verdict", "pass",
                  "figures", f);
    assert_non_null(s);
    return s;
}

static const json_t *fig(const json_t *res, const char *exp, const char *name)
{
    const json_t *e, *g;
    size_t i, j;

    json_array_foreach(json_object_get(res, "experiments"), i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "experiment")), exp) != 0)
            continue;
        json_array_foreach(json_object_get(e, "figures"), j, g)
        {
            if (strcmp(json_string_value(json_object_get(g, "name")), name) == 0)
                return g;
        }
    }
    return NULL;
}

static const char *verdict_of(const json_t *res, const char *exp, const char *name)
{
    const json_t *g = fig(res, exp, name);

    return g ? json_string_value(json_object_get(g, "verdict")) : "(absent)";
}

/* One baseline, one new run: the result (caller frees). */
static json_t *cmp1(const char *base_figs, const char *new_figs)
{
    json_t *b = summary("kv", base_figs), *n = summary("kv", new_figs), *res;

    res = compare_summaries(&b, 1, n);
    assert_non_null(res);
    json_decref(b);
    json_decref(n);
    return res;
}

static void failover_should_be_worse_only_beyond_its_tolerance(void **state)
{
    json_t *res;

    (void)state;
    /* 2500 ms baseline: tolerance max(25% = 625 ms, 500 ms) = 625 ms */
    res = cmp1("{\"failover.read_ms\": 2500}", "{\"failover.read_ms\": 3125}");
    assert_string_equal(verdict_of(res, "kv", "failover.read_ms"), "within");
    assert_string_equal(json_string_value(json_object_get(res, "verdict")), "ok");
    json_decref(res);
    res = cmp1("{\"failover.read_ms\": 2500}", "{\"failover.read_ms\": 3126}");
    assert_string_equal(verdict_of(res, "kv", "failover.read_ms"), "worse");
    assert_string_equal(json_string_value(json_object_get(res, "verdict")), "worse");
    assert_string_equal(json_string_value(json_array_get(json_object_get(res, "worse"), 0)),
                        "kv: failover.read_ms");
    json_decref(res);
    /* small baselines: the absolute floor (500 ms) rules */
    res = cmp1("{\"failover.read_ms\": 100}", "{\"failover.read_ms\": 600}");
    assert_string_equal(verdict_of(res, "kv", "failover.read_ms"), "within");
    json_decref(res);
    res = cmp1("{\"failover.read_ms\": 100}", "{\"failover.read_ms\": 601}");
    assert_string_equal(verdict_of(res, "kv", "failover.read_ms"), "worse");
    json_decref(res);
    /* failback's floor is 1 s (catch-up and clients moving back are noisier) */
    res = cmp1("{\"failback.write_ms\": 188}", "{\"failback.write_ms\": 1188}");
    assert_string_equal(verdict_of(res, "kv", "failback.write_ms"), "within");
    json_decref(res);
    res = cmp1("{\"failback.write_ms\": 188}", "{\"failback.write_ms\": 1189}");
    assert_string_equal(verdict_of(res, "kv", "failback.write_ms"), "worse");
    json_decref(res);
    /* faster is better, never worse */
    res = cmp1("{\"failover.read_ms\": 9000}", "{\"failover.read_ms\": 2500}");
    assert_string_equal(verdict_of(res, "kv", "failover.read_ms"), "better");
    json_decref(res);
}

static void availability_should_be_worse_when_it_drops(void **state)
{
    json_t *res;

    (void)state;
    /* 0.99 baseline: tolerance max(2% of 0.99 = 0.0198, 0.01) = 0.0198 */
    res = cmp1("{\"availability.during.read\": 0.99}", "{\"availability.during.read\": 0.9703}");
    assert_string_equal(verdict_of(res, "kv", "availability.during.read"), "within");
    json_decref(res);
    res = cmp1("{\"availability.during.read\": 0.99}", "{\"availability.during.read\": 0.97}");
    assert_string_equal(verdict_of(res, "kv", "availability.during.read"), "worse");
    json_decref(res);
    res = cmp1("{\"availability.during.read\": 0.5}", "{\"availability.during.read\": 1.0}");
    assert_string_equal(verdict_of(res, "kv", "availability.during.read"), "better");
    json_decref(res);
}

static void never_recovering_should_be_worse(void **state)
{
    json_t *res;

    (void)state;
    res = cmp1("{\"failback.write_ms\": 800}", "{\"failback.write_ms\": null}");
    assert_string_equal(verdict_of(res, "kv", "failback.write_ms"), "worse");
    json_decref(res);
    res = cmp1("{\"failback.write_ms\": null}", "{\"failback.write_ms\": 800}");
    assert_string_equal(verdict_of(res, "kv", "failback.write_ms"), "better");
    json_decref(res);
    res = cmp1("{\"failback.write_ms\": null}", "{\"failback.write_ms\": null}");
    assert_string_equal(verdict_of(res, "kv", "failback.write_ms"), "same");
    assert_string_equal(json_string_value(json_object_get(res, "verdict")), "ok");
    json_decref(res);
}

static void missing_and_new_figures_should_not_fail(void **state)
{
    json_t *res;

    (void)state;
    /* data_lost gone from the new run, failback (a new verifier) only in it */
    res = cmp1("{\"failover.read_ms\": 2500, \"data_lost\": 0}",
               "{\"failover.read_ms\": 2500, \"failback.write_ms\": 900}");
    assert_string_equal(verdict_of(res, "kv", "data_lost"), "missing");
    assert_string_equal(verdict_of(res, "kv", "failback.write_ms"), "new");
    assert_string_equal(verdict_of(res, "kv", "failover.read_ms"), "same");
    assert_string_equal(json_string_value(json_object_get(res, "verdict")), "ok");
    json_decref(res);
}

static void new_experiment_should_be_listed_not_failed(void **state)
{
    json_t *b = summary("kv", "{\"data_lost\": 0}"), *n = summary("cosmos", "{\"data_lost\": 90}");
    const json_t *e;
    json_t *res;

    (void)state;
    res = compare_summaries(&b, 1, n);
    assert_non_null(res);
    assert_string_equal(json_string_value(json_object_get(res, "verdict")), "ok");
    e = json_array_get(json_object_get(res, "experiments"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "experiment")), "cosmos");
    assert_string_equal(json_string_value(json_object_get(e, "status")), "new");
    e = json_array_get(json_object_get(res, "experiments"), 1);
    assert_string_equal(json_string_value(json_object_get(e, "status")), "missing");
    json_decref(res);
    json_decref(b);
    json_decref(n);
}

static void baseline_should_be_the_median(void **state)
{
    json_t *b[3], *n, *res;
    const json_t *g;

    (void)state;
    b[0] = summary("kv", "{\"latency_p99_ms\": 10}");
    b[1] = summary("kv", "{\"latency_p99_ms\": 400}"); /* one noisy night */
    b[2] = summary("kv", "{\"latency_p99_ms\": 12}");
    n = summary("kv", "{\"latency_p99_ms\": 40}"); /* median 12: tolerance max(6, 20) = 20 */
    res = compare_summaries(b, 3, n);
    g = fig(res, "kv", "latency_p99_ms");
    assert_non_null(g);
    assert_true(fabs(json_number_value(json_object_get(g, "baseline")) - 12) < 1e-9);
    assert_string_equal(json_string_value(json_object_get(g, "verdict")), "worse");
    assert_int_equal(json_array_size(json_object_get(g, "series")), 4);
    json_decref(res);
    json_decref(n);
    n = summary("kv", "{\"latency_p99_ms\": 32}");
    res = compare_summaries(b, 3, n);
    assert_string_equal(verdict_of(res, "kv", "latency_p99_ms"), "within");
    json_decref(res);
    json_decref(n);
    json_decref(b[0]);
    json_decref(b[1]);
    json_decref(b[2]);
}

static void regression_section_should_override_the_defaults(void **state)
{
    json_t *b = summary("kv", "{\"failover.read_ms\": 2500}");
    json_t *n = summary("kv", "{\"failover.read_ms\": 2800}"), *res;
    json_t *reg = json_pack("{s:{s:f,s:i}}", "failover", "relative", 0.1, "absolute", 100);
    struct cmp_tol t;
    bool hw;

    (void)state;
    assert_true(compare_tolerance("failover.read_ms", reg, &t, &hw));
    assert_true(hw);
    assert_true(fabs(t.relative - 0.1) < 1e-9 && fabs(t.absolute - 100) < 1e-9);
    assert_true(compare_tolerance("rate_achieved", NULL, &t, &hw));
    assert_false(hw);
    assert_false(compare_tolerance("no.such.figure", NULL, &t, &hw));
    /* 2800 vs 2500 is within the default 625 ms, beyond 10% = 250 ms */
    res = compare_summaries(&b, 1, n);
    assert_string_equal(verdict_of(res, "kv", "failover.read_ms"), "within");
    json_decref(res);
    json_object_set(json_array_get(json_object_get(n, "experiments"), 0), "regression", reg);
    res = compare_summaries(&b, 1, n);
    assert_string_equal(verdict_of(res, "kv", "failover.read_ms"), "worse");
    json_decref(res);
    json_decref(reg);
    json_decref(b);
    json_decref(n);
}

/* A report.json object as the run writes it gives the row compare reads. */
static void summary_row_should_hold_the_figures_of_a_report(void **state)
{
    const char *rep =
        "{\"experiment\":\"kv\",\"verdict\":\"pass\",\"durations_ms\":{\"total\":31000},"
        "\"rate\":{\"offered\":100,\"achieved\":99.5},\"latency_ms\":{\"p99\":12.5},"
        "\"availability\":{\"during\":{\"read\":0.98,\"write\":0.0}},"
        "\"verifiers\":[{\"name\":\"failover\",\"status\":\"pass\",\"measured\":{\"rto_ms\":"
        "{\"read\":2510.2}},\"bound\":{\"max_ms\":8000}},{\"name\":\"failback\",\"status\":"
        "\"fail\",\"measured\":{\"rto_ms\":{\"write\":null}},\"bound\":{\"max_ms\":8000}},"
        "{\"name\":\"data_loss\",\"status\":\"pass\",\"measured\":{\"lost_updates\":3}}]}";
    json_t *r = json_loads(rep, 0, NULL), *row;
    const json_t *f;
    char m[256], b[128];

    (void)state;
    assert_non_null(r);
    row = report_summary_row(r, "kv/report.html");
    assert_non_null(row);
    f = json_object_get(row, "figures");
    assert_true(fabs(json_number_value(json_object_get(f, "failover.read_ms")) - 2510.2) < 1e-6);
    assert_true(json_is_null(json_object_get(f, "failback.write_ms")));
    assert_int_equal(json_integer_value(json_object_get(f, "data_lost")), 3);
    assert_true(fabs(json_number_value(json_object_get(f, "availability.during.read")) - 0.98) <
                1e-9);
    assert_true(fabs(json_number_value(json_object_get(f, "rate_achieved")) - 99.5) < 1e-9);
    assert_true(fabs(json_number_value(json_object_get(f, "latency_p99_ms")) - 12.5) < 1e-9);
    assert_string_equal(json_string_value(json_object_get(row, "link")), "kv/report.html");
    /* and the terminal line of a verifier */
    report_verifier_figures(json_array_get(json_object_get(r, "verifiers"), 0), m, sizeof(m), b,
                            sizeof(b));
    assert_string_equal(m, "read 2.51 s");
    assert_string_equal(b, "<= 8 s");
    json_decref(row);
    json_decref(r);
}

/* compare_load accepts a report.json and a summary.json; anything else is refused. */
static void load_should_take_report_and_summary_files(void **state)
{
    char dir[] = "/tmp/fl-cmp-XXXXXX", p[256];
    struct fl_err err = {0};
    json_t *s;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(p, sizeof(p), "%s/report.json", dir);
    f = fopen(p, "w");
    fputs("{\"experiment\":\"kv\",\"verdict\":\"pass\",\"verifiers\":[]}", f);
    fclose(f);
    s = compare_load(dir, &err);
    assert_non_null(s);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(s, "experiments"), 0), "experiment")),
                        "kv");
    json_decref(s);
    snprintf(p, sizeof(p), "%s/other.json", dir);
    f = fopen(p, "w");
    fputs("{\"hello\":1}", f);
    fclose(f);
    assert_null(compare_load(p, &err));
    assert_non_null(strstr(err.msg, "neither"));
    unlink(p);
    snprintf(p, sizeof(p), "%s/report.json", dir);
    unlink(p);
    fl_err_clear(&err);
    assert_null(compare_load(dir, &err));
    assert_non_null(strstr(err.msg, "no summary.json"));
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failover_should_be_worse_only_beyond_its_tolerance),
        cmocka_unit_test(availability_should_be_worse_when_it_drops),
        cmocka_unit_test(never_recovering_should_be_worse),
        cmocka_unit_test(missing_and_new_figures_should_not_fail),
        cmocka_unit_test(new_experiment_should_be_listed_not_failed),
        cmocka_unit_test(baseline_should_be_the_median),
        cmocka_unit_test(regression_section_should_override_the_defaults),
        cmocka_unit_test(summary_row_should_hold_the_figures_of_a_report),
        cmocka_unit_test(load_should_take_report_and_summary_files),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
