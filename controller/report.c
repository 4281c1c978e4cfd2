/*
 * report.json and junit.xml writers (see report.h). The JUnit layout is the
 * one Jenkins' JUnit plugin and GitLab's test reports both read:
 * testsuites > testsuite(name, tests, failures, errors, skipped, time) >
 * testcase(name, classname, time) with optional failure / error / skipped
 * children. Measured values are flattened into dotted property names
 * ("measured.rto_ms.write").
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultline/file.h"

#include "report.h"

int report_write_json(const char *path, const json_t *report, struct fl_err *err)
{
    char tmp[4096];

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (json_dump_file(report, tmp, JSON_INDENT(2)) != 0)
        return fl_errf(err, -EIO, "cannot write %s", tmp);
    if (rename(tmp, path) < 0)
        return fl_errf(err, -errno, "cannot rename %s: %s", tmp, strerror(errno));
    return 0;
}

void report_xml_escape(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");

    for (; *p; p++) {
        switch (*p) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        case '\n':
            fputs("&#10;", f);
            break;
        case '\t':
            fputs("&#9;", f);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fputc('?', f); /* not allowed in XML 1.0 */
            else
                fputc(*p, f);
        }
    }
}

/* Element text: like attributes but newlines kept as they are. */
static void xml_text(FILE *f, const char *s)
{
    const char *p = s ? s : "";
    char one[2] = {0, 0};

    for (; *p; p++) {
        if (*p == '\n') {
            fputc('\n', f);
            continue;
        }
        one[0] = *p;
        report_xml_escape(f, one);
    }
}

static void property(FILE *f, const char *name, const char *value)
{
    fputs("        <property name=\"", f);
    report_xml_escape(f, name);
    fputs("\" value=\"", f);
    report_xml_escape(f, value);
    fputs("\"/>\n", f);
}

/* Flatten a JSON value into properties named prefix.key.key. */
static void flatten(FILE *f, const char *prefix, const json_t *v, int depth)
{
    char name[512], val[64];
    const char *k;
    json_t *x;
    size_t i;

    if (depth > 8)
        return;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        json_object_foreach((json_t *)v, k, x)
        {
            snprintf(name, sizeof(name), "%s.%s", prefix, k);
            flatten(f, name, x, depth + 1);
        }
        break;
    case JSON_ARRAY:
        json_array_foreach(v, i, x)
        {
            snprintf(name, sizeof(name), "%s.%zu", prefix, i);
            flatten(f, name, x, depth + 1);
        }
        break;
    case JSON_STRING:
        property(f, prefix, json_string_value(v));
        break;
    case JSON_INTEGER:
        snprintf(val, sizeof(val), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        property(f, prefix, val);
        break;
    case JSON_REAL:
        snprintf(val, sizeof(val), "%.6g", json_real_value(v));
        property(f, prefix, val);
        break;
    case JSON_TRUE:
        property(f, prefix, "true");
        break;
    case JSON_FALSE:
        property(f, prefix, "false");
        break;
    case JSON_NULL:
        property(f, prefix, "null");
        break;
    }
}

/*
 * How a verifier object counts in JUnit: its "status" when present (report
 * format 2), else the older pass/skipped pair. An inconclusive result fails
 * the test case (a check that did not happen must not look green) unless
 * verify.allow_inconclusive named it ("allowed": true), then it is skipped.
 */
enum tc_kind { TC_PASS, TC_FAIL, TC_INCONCLUSIVE, TC_SKIPPED };

static enum tc_kind tc_kind(const json_t *v)
{
    const char *st = json_string_value(json_object_get(v, "status"));

    if (st != NULL && strcmp(st, "inconclusive") == 0)
        return json_is_true(json_object_get(v, "allowed")) ? TC_SKIPPED : TC_INCONCLUSIVE;
    if (st != NULL)
        return strcmp(st, "pass") == 0 ? TC_PASS : TC_FAIL;
    if (json_is_true(json_object_get(v, "skipped")))
        return TC_SKIPPED;
    return json_is_true(json_object_get(v, "pass")) ? TC_PASS : TC_FAIL;
}

const char *report_verdict(int exit_code, const json_t *verifiers)
{
    const json_t *v;
    bool inconclusive = false;
    size_t i;

    if (exit_code != 0 && exit_code != 1)
        return "error";
    json_array_foreach(verifiers, i, v)
    {
        enum tc_kind k = tc_kind(v);

        if (k == TC_FAIL)
            return "fail";
        inconclusive |= k == TC_INCONCLUSIVE;
    }
    if (inconclusive)
        return "inconclusive";
    return exit_code == 0 ? "pass" : "fail";
}

static double suite_seconds(const json_t *r)
{
    const json_t *d = json_object_get(r, "durations_ms");
    const json_t *t = d ? json_object_get(d, "total") : NULL;

    return t ? json_number_value(t) / 1000.0 : 0.0;
}

/* The failure or skipped child of a verifier's test case (none when it passed). */
static void testcase_verdict(FILE *f, const json_t *v, const char *vn, const char *detail)
{
    const char *reason = json_string_value(json_object_get(v, "reason"));

    switch (tc_kind(v)) {
    case TC_PASS:
        break;
    case TC_SKIPPED:
        fputs("      <skipped message=\"", f);
        report_xml_escape(f, reason ? reason : detail ? detail : "nothing to check");
        fputs("\"/>\n", f);
        break;
    case TC_INCONCLUSIVE:
        fputs("      <failure type=\"inconclusive\" message=\"", f);
        report_xml_escape(f, vn);
        fputs(" inconclusive: ", f);
        report_xml_escape(f, reason ? reason : "nothing to judge");
        fputs("\">", f);
        xml_text(f, detail);
        fputs("</failure>\n", f);
        break;
    case TC_FAIL:
        fputs("      <failure type=\"verifier\" message=\"", f);
        report_xml_escape(f, vn);
        fputs(" failed\">", f);
        xml_text(f, detail);
        fputs("</failure>\n", f);
        break;
    }
}

static void suite(FILE *f, const json_t *r)
{
    const char *name = json_string_value(json_object_get(r, "experiment"));
    const char *verdict = json_string_value(json_object_get(r, "verdict"));
    const char *reason = json_string_value(json_object_get(r, "reason"));
    const json_t *vs = json_object_get(r, "verifiers"), *v, *x;
    size_t i, tests = 0, failures = 0, errors = 0, skipped = 0;
    bool error = verdict && strcmp(verdict, "error") == 0;
    const char *keys[] = {"file", "verdict", "out", NULL};
    char cls[256];

    if (!name)
        name = "unnamed";
    snprintf(cls, sizeof(cls), "faultline.%s", name);
    json_array_foreach(vs, i, v)
    {
        enum tc_kind kind = tc_kind(v);

        tests++;
        skipped += kind == TC_SKIPPED;
        failures += kind == TC_FAIL || kind == TC_INCONCLUSIVE;
    }
    if (error) {
        tests++;
        errors++;
    }
    fputs("  <testsuite name=\"", f);
    report_xml_escape(f, name);
    fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\"",
            tests, failures, errors, skipped, suite_seconds(r));
    x = json_object_get(r, "started_wall");
    if (json_is_string(x)) {
        fputs(" timestamp=\"", f);
        report_xml_escape(f, json_string_value(x));
        fputc('"', f);
    }
    fputs(">\n    <properties>\n", f);
    for (i = 0; keys[i]; i++) {
        x = json_object_get(r, keys[i]);
        if (json_is_string(x))
            property(f, keys[i], json_string_value(x));
    }
    x = json_object_get(r, "ops");
    if (x)
        flatten(f, "ops", x, 0);
    fputs("    </properties>\n", f);
    json_array_foreach(vs, i, v)
    {
        const char *vn = json_string_value(json_object_get(v, "name"));
        const char *detail = json_string_value(json_object_get(v, "detail"));
        const json_t *m = json_object_get(v, "measured"), *b = json_object_get(v, "bound");

        fputs("    <testcase name=\"", f);
        report_xml_escape(f, vn ? vn : "verifier");
        fputs("\" classname=\"", f);
        report_xml_escape(f, cls);
        fputs("\" time=\"0\">\n", f);
        if ((m && !json_is_null(m)) || (b && !json_is_null(b))) {
            fputs("      <properties>\n", f);
            if (m && !json_is_null(m))
                flatten(f, "measured", m, 0);
            if (b && !json_is_null(b))
                flatten(f, "bound", b, 0);
            fputs("      </properties>\n", f);
        }
        testcase_verdict(f, v, vn ? vn : "verifier", detail);
        if (detail) {
            fputs("      <system-out>", f);
            xml_text(f, detail);
            fputs("</system-out>\n", f);
        }
        fputs("    </testcase>\n", f);
    }
    if (error) {
        fputs("    <testcase name=\"harness\" classname=\"", f);
        report_xml_escape(f, cls);
        fputs("\" time=\"0\">\n      <error type=\"harness\" message=\"", f);
        report_xml_escape(f, reason ? reason : "the harness could not run");
        fputs("\">", f);
        xml_text(f, reason ? reason : "the harness could not run");
        fputs("</error>\n    </testcase>\n", f);
    }
    fputs("  </testsuite>\n", f);
}

int report_junit_fwrite(FILE *f, json_t *const *reports, size_t n)
{
    size_t i, j, tests = 0, failures = 0, errors = 0;
    double secs = 0;

    for (i = 0; i < n; i++) {
        const json_t *vs = json_object_get(reports[i], "verifiers"), *v;
        const char *verdict = json_string_value(json_object_get(reports[i], "verdict"));

        json_array_foreach(vs, j, v)
        {
            enum tc_kind kind = tc_kind(v);

            tests++;
            failures += kind == TC_FAIL || kind == TC_INCONCLUSIVE;
        }
        if (verdict && strcmp(verdict, "error") == 0) {
            tests++;
            errors++;
        }
        secs += suite_seconds(reports[i]);
    }
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fprintf(f,
            "<testsuites name=\"faultline\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
            "time=\"%.3f\">\n",
            tests, failures, errors, secs);
    for (i = 0; i < n; i++)
        suite(f, reports[i]);
    fputs("</testsuites>\n", f);
    return ferror(f) ? -EIO : 0;
}

int report_junit_write(const char *path, json_t *const *reports, size_t n, struct fl_err *err)
{
    char tmp[4096];
    FILE *f;
    int r;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "we");
    if (!f)
        return fl_errf(err, -errno, "cannot write %s: %s", tmp, strerror(errno));
    r = report_junit_fwrite(f, reports, n);
    return fl_file_commit(f, tmp, path, r, err);
}
