/*
 * The report writers without a lab: junit.xml from report objects (a
 * passing, a failing and an errored experiment; hostile characters escaped;
 * the document well-formed), and the well-formedness checker the e2e tests
 * rely on, which must refuse broken documents.
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
#include "report.h"

static json_t *report(const char *name, const char *verdict, const char *reason, bool pass)
{
    json_t *r =
        json_pack("{s:s,s:s,s:[{s:s,s:b,s:b,s:{s:{s:i}},s:{s:i},s:s}],s:[],s:{s:i,s:i,s:i,s:i},"
                  "s:{s:i}}",
                  "experiment", name, "verdict", verdict, "verifiers", "name", "failover", "pass",
                  pass, "skipped", 0, "measured", "rto_ms", "write", 5120, "bound", "max_ms", 8000,
                  "detail", "took <5 s> & \"more\"\nsecond line \x01", "faults", "ops", "total", 3,
                  "ok", 1, "fail", 1, "info", 1, "durations_ms", "total", 1500);

    if (reason)
        json_object_set_new(r, "reason", json_string(reason));
    return r;
}

static char *junit_text(json_t **rs, size_t n, char *path, size_t len)
{
    struct fl_err err = {0};

    snprintf(path, len, "/tmp/fl-e2e-report-%d.xml", (int)getpid());
    assert_int_equal(report_junit_write(path, rs, n, &err), 0);
    {
        FILE *f = fopen(path, "r");
        char *buf = calloc(1, 1 << 16);

        assert_non_null(f);
        assert_true(fread(buf, 1, (1 << 16) - 1, f) > 0);
        fclose(f);
        return buf;
    }
}

static void junit_should_have_one_suite_per_experiment_and_escape_everything(void **state)
{
    json_t *rs[3];
    char path[256], why[256], *x;
    size_t i;

    (void)state;
    rs[0] = report("pass-one", "pass", NULL, true);
    rs[1] = report("fail-<two>", "fail", NULL, false);
    rs[2] = report("error-three", "error", "agent \"w1\" died & <nothing> left", true);
    x = junit_text(rs, 3, path, sizeof(path));
    if (!e2e_xml_well_formed(path, why, sizeof(why)))
        fail_msg("not well-formed: %s\n%s", why, x);
    assert_non_null(strstr(x, "<testsuites name=\"faultline\" tests=\"4\" failures=\"1\" "
                              "errors=\"1\""));
    assert_non_null(strstr(x, "<testsuite name=\"pass-one\" tests=\"1\" failures=\"0\""));
    assert_non_null(strstr(x, "<testsuite name=\"fail-&lt;two&gt;\" tests=\"1\" failures=\"1\""));
    assert_non_null(strstr(x, "<testcase name=\"failover\" classname=\"faultline.pass-one\" "
                              "time=\"0\">"));
    assert_non_null(strstr(x, "<property name=\"measured.rto_ms.write\" value=\"5120\"/>"));
    assert_non_null(strstr(x, "<property name=\"bound.max_ms\" value=\"8000\"/>"));
    assert_non_null(strstr(x, "<failure type=\"verifier\""));
    assert_non_null(strstr(x, "took &lt;5 s&gt; &amp; &quot;more&quot;"));
    assert_null(strstr(x, "\x01"));
    assert_non_null(strstr(x, "<testcase name=\"harness\" classname=\"faultline.error-three\""));
    assert_non_null(strstr(x, "<error type=\"harness\" message=\"agent &quot;w1&quot; died "
                              "&amp; &lt;nothing&gt; left\""));
    /* The passing suite has no failure element. */
    {
        char *s1 = strstr(x, "<testsuite name=\"pass-one\""), *s2 = strstr(s1, "</testsuite>");

        *s2 = '\0';
        assert_null(strstr(s1, "<failure"));
        assert_null(strstr(s1, "<error"));
    }
    free(x);
    unlink(path);
    for (i = 0; i < 3; i++)
        json_decref(rs[i]);
}

/* A verifier with nothing to judge is a failure with its reason, unless allowed. */
static void junit_should_show_an_inconclusive_verifier_as_a_failure_with_its_reason(void **state)
{
    json_t *rs[1], *vs;
    char path[256], why[256], *x;

    (void)state;
    vs = json_pack("[{s:s,s:s,s:b,s:b,s:s,s:s,s:b},{s:s,s:s,s:b,s:b,s:s,s:s,s:b},"
                   "{s:s,s:s,s:b,s:b,s:s}]",
                   "name", "read_only", "status", "inconclusive", "pass", 0, "skipped", 1, "reason",
                   "no <read-only> period", "detail", "read_only INCONCLUSIVE", "allowed", 0,
                   "name", "failback", "status", "inconclusive", "pass", 0, "skipped", 1, "reason",
                   "never healed", "detail", "failback INCONCLUSIVE", "allowed", 1, "name",
                   "data_loss", "status", "pass", "pass", 1, "skipped", 0, "detail",
                   "data_loss passed");
    assert_string_equal(report_verdict(1, vs), "inconclusive");
    assert_string_equal(report_verdict(3, vs), "error");
    rs[0] = json_pack("{s:s,s:s,s:o}", "experiment", "kv", "verdict", report_verdict(1, vs),
                      "verifiers", vs);
    x = junit_text(rs, 1, path, sizeof(path));
    if (!e2e_xml_well_formed(path, why, sizeof(why)))
        fail_msg("not well-formed: %s\n%s", why, x);
    assert_non_null(strstr(x, "<testsuite name=\"kv\" tests=\"3\" failures=\"1\" errors=\"0\" "
                              "skipped=\"1\""));
    assert_non_null(strstr(x, "<failure type=\"inconclusive\" message=\"read_only inconclusive: "
                              "no &lt;read-only&gt; period\">"));
    assert_non_null(strstr(x, "<skipped message=\"never healed\"/>"));
    free(x);
    unlink(path);
    json_decref(rs[0]);

    /* a failure outranks an inconclusive result; an allowed one alone passes */
    vs = json_pack("[{s:s,s:s},{s:s,s:s,s:b}]", "name", "a", "status", "fail", "name", "b",
                   "status", "inconclusive", "allowed", 0);
    assert_string_equal(report_verdict(1, vs), "fail");
    json_decref(vs);
    vs = json_pack("[{s:s,s:s,s:b}]", "name", "b", "status", "inconclusive", "allowed", 1);
    assert_string_equal(report_verdict(0, vs), "pass");
    json_decref(vs);
}

static void xml_checker_should_reject_broken_documents(void **state)
{
    static const char *const bad[] = {
        "<a><b></a></b>", "<a>x & y</a>", "<a b=\"1></a>",
        "<a></a><b></b>", "<a>",          "<a b=\"<\"></a>",
    };
    char path[256], why[256];
    size_t i;

    (void)state;
    snprintf(path, sizeof(path), "/tmp/fl-e2e-xml-%d.xml", (int)getpid());
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        FILE *f = fopen(path, "w");

        fputs(bad[i], f);
        fclose(f);
        if (e2e_xml_well_formed(path, why, sizeof(why)))
            fail_msg("accepted %s", bad[i]);
    }
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(junit_should_have_one_suite_per_experiment_and_escape_everything),
        cmocka_unit_test(junit_should_show_an_inconclusive_verifier_as_a_failure_with_its_reason),
        cmocka_unit_test(xml_checker_should_reject_broken_documents),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
