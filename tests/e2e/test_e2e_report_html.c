/*
 * report.html, index.html and `faultline compare` from real runs in the lab
 * (needs root). One source, two programs (E2E_GROUP):
 *   1 a run of two short experiments (the second with capture: true on its
 *     fault: a pcap per host copied and linked); headless Chromium loads every
 *     report.html and the index: a screenshot is taken (kept under the build
 *     folder, e2e-screenshots/), the console stays silent (the pages' own
 *     Content-Security-Policy reports any fetch there), the HTML names no
 *     http(s) URL and has no script, the verifier table names every
 *     verifier of report.json, every mark has a title, the fault band sits
 *     at the fault's times from faults.jsonl (through the time axis the SVG
 *     declares), and `faultline report` redraws the folder;
 *   2 compare: a clean Key Vault run as baseline and a slow-failover run as
 *     the new one exit 1 naming failover; two clean runs exit 0.
 * Without Chromium the browser test skips visibly (fails under
 * FAULTLINE_STRICT=1: scripts/setup.sh installs it).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2e_util.h"
#include "faultline/err.h"
#include "faultline/history.h"
#include "testutil.h"

#ifndef E2E_GROUP
#define E2E_GROUP 1
#endif

/* Run `faultline run --out dir files...` (log in dir.log); returns the exit code. */
static int run_into(const char *dir, const char *f1, const char *f2)
{
    const char *args[] = {"run", "--out", dir, f1, f2, NULL};
    char log[1024];
    int rc;

    snprintf(log, sizeof(log), "%s.log", dir);
    rc = e2e_run(log, 200000, args);
    if (rc != 0 && rc != 1)
        e2e_print_log(log);
    return rc;
}

#if E2E_GROUP == 1
static char *slurp(const char *path)
{
    char *s = tu_sh_out("cat '%s'", path);

    if (s == NULL)
        fail_msg("cannot read %s", path);
    return s;
}

/* The value of attribute name in the element starting at el (malloc'd), or NULL. */
static char *attr(const char *el, const char *name)
{
    const char *end = strchr(el, '>'), *p;
    char pat[64];

    snprintf(pat, sizeof(pat), " %s=\"", name);
    p = strstr(el, pat);
    if (p == NULL || (end && p > end))
        return NULL;
    p += strlen(pat);
    return strndup(p, strcspn(p, "\""));
}

static double attr_num(const char *el, const char *name)
{
    char *v = attr(el, name);
    double d;

    if (v == NULL)
        fail_msg("no attribute %s in %.80s", name, el);
    d = strtod(v, NULL);
    free(v);
    return d;
}

/* Chromium, headless, its profile under dir; false when it is not installed. */
static bool have_chromium(void)
{
    return tu_sh("command -v chromium >/dev/null 2>&1") == 0;
}

/*
 * Load file in headless Chromium: the DOM as the browser built it into
 * dom_out, a screenshot into png (NULL: none). Fails the test on console
 * messages (a blocked fetch or a script error shows up there).
 */
static void browse(const char *file, const char *profile, const char *dom_out, const char *png)
{
    char err[1200], *hits;
    int rc;

    snprintf(err, sizeof(err), "%s.console", dom_out);
    rc = tu_sh("timeout 90 chromium --headless --disable-gpu --no-sandbox --no-first-run "
               "--user-data-dir='%s' --enable-logging=stderr --v=0 --dump-dom 'file://%s' "
               ">'%s' 2>'%s'",
               profile, file, dom_out, err);
    assert_int_equal(rc, 0);
    hits = tu_sh_out("grep -c ':CONSOLE' '%s' || true", err);
    assert_non_null(hits);
    if (atoi(hits) != 0) {
        tu_sh("grep ':CONSOLE' '%s' >&2", err);
        fail_msg("%s: the browser console is not empty", file);
    }
    free(hits);
    if (png) {
        rc = tu_sh("timeout 90 chromium --headless --disable-gpu --no-sandbox --no-first-run "
                   "--user-data-dir='%s' --hide-scrollbars --window-size=1100,2600 "
                   "--screenshot='%s' 'file://%s' >/dev/null 2>&1",
                   profile, png, file);
        assert_int_equal(rc, 0);
        assert_int_equal(tu_sh("test -s '%s'", png), 0);
        fprintf(stderr, "screenshot: %s\n", png);
    }
}

/* Nothing in the page can fetch anything: no URL with a scheme, no script, no source. */
static void assert_self_contained(const char *html, const char *path)
{
    static const char *const bad[] = {"http://", "https://", "<script", " src=", "@import",
                                      "url(",    "<link",    "<iframe", NULL};
    struct stat st;
    size_t i;

    for (i = 0; bad[i]; i++)
        if (strcasestr(html, bad[i]))
            fail_msg("%s contains '%s'", path, bad[i]);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size < 2 * 1024 * 1024);
}

/* Every mark of the charts (rect, path) carries a <title>: hover text and screen readers. */
static void assert_titled(const char *html)
{
    static const char *const tags[] = {"<rect ", "<path ", NULL};
    size_t i, n = 0;

    for (i = 0; tags[i]; i++) {
        const char *p = html;

        while ((p = strstr(p, tags[i])) != NULL) {
            const char *gt = strchr(p, '>');

            assert_non_null(gt);
            if (gt[-1] == '/' || strncmp(gt + 1, "<title>", 7) != 0)
                fail_msg("a mark without a title: %.120s", p);
            n++;
            p = gt;
        }
    }
    assert_true(n > 0);
}

/* The verifier table names every verifier of report.json with a status in words. */
static void assert_verifier_table(const char *dom, const json_t *report)
{
    const char *table = strstr(dom, "<table class=\"verifiers\">"), *end;
    const json_t *v;
    char cell[256];
    size_t i;

    assert_non_null(table);
    end = strstr(table, "</table>");
    assert_non_null(end);
    assert_true(json_array_size(json_object_get(report, "verifiers")) > 0);
    json_array_foreach(json_object_get(report, "verifiers"), i, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *st = json_string_value(json_object_get(v, "status"));
        const char *at;

        snprintf(cell, sizeof(cell), "<tr><td>%s</td>", name);
        at = strstr(table, cell);
        if (at == NULL || at > end)
            fail_msg("the verifier table does not name %s", name);
        snprintf(cell, sizeof(cell), "\">%s</td>", st);
        assert_non_null(strstr(at, cell)); /* the status as text, not only a colour */
    }
}

/* The band of each fault spans [apply_sent, heal_done] on the SVG's declared time axis. */
static void assert_fault_bands(const char *dom, const char *dir)
{
    const char *svg = strstr(dom, "<svg class=\"timeline\"");
    struct hist_faults hf = {0};
    struct fl_err err = {0};
    double t0, t1, x0, x1;
    char path[1400], pat[200];
    size_t i;

    assert_non_null(svg);
    t0 = attr_num(svg, "data-t0-ns");
    t1 = attr_num(svg, "data-t1-ns");
    x0 = attr_num(svg, "data-x0");
    x1 = attr_num(svg, "data-x1");
    assert_true(t1 > t0 && x1 > x0);
    snprintf(path, sizeof(path), "%s/faults.jsonl", dir);
    assert_int_equal(hist_faults_load_jsonl(path, &hf, &err), 0);
    assert_true(hf.n > 0);
    for (i = 0; i < hf.n; i++) {
        const struct hist_fault *f = &hf.f[i];
        double xa = x0 + ((double)f->apply_sent_ns - t0) * (x1 - x0) / (t1 - t0);
        double xb = x0 + ((double)f->heal_done_ns - t0) * (x1 - x0) / (t1 - t0);
        const char *rect;

        snprintf(pat, sizeof(pat), "<rect class=\"fault\" data-fault=\"%s\"", f->id);
        rect = strstr(svg, pat);
        assert_non_null(rect);
        fprintf(stderr, "fault %s: band x %.2f..%.2f, expected %.2f..%.2f\n", f->id,
                attr_num(rect, "x"), attr_num(rect, "x") + attr_num(rect, "width"), xa, xb);
        assert_true(fabs(attr_num(rect, "x") - xa) < 0.02);
        assert_true(fabs(attr_num(rect, "x") + attr_num(rect, "width") - xb) < 0.05);
        /* and the band lies where the fault's own times say: inside the plot */
        assert_true(xa > x0 && xb < x1 + 0.01);
    }
    hist_faults_free(&hf);
}

static void reports_should_read_well_in_a_browser(void **state)
{
    char file[1024], *dir, sub[1200], html[1300], dom[1300], png[1300], profile[1300];
    const char *build = getenv("FAULTLINE_BUILD_DIR");
    const char *subs[] = {"short-isolate", "short-isolate-capture"};
    char *capture_file;
    char *text, *out;
    json_t *report, *summary;
    size_t i;
    int rc;

    (void)state;
    TU_REQUIRE_ROOT();
    if (!have_chromium()) {
        if (tu_strict())
            fail_msg("chromium not installed and FAULTLINE_STRICT=1 forbids skipping "
                     "(scripts/setup.sh installs it)");
        tu_note_skip(__func__, "chromium not installed (scripts/setup.sh installs it)");
        skip();
    }
    snprintf(file, sizeof(file), "%s/tests/e2e/experiments/short-isolate.yaml", e2e_src());
    dir = e2e_tmpdir("html");
    /* the same experiment with capture: true on its fault */
    if (asprintf(&capture_file, "%s.capture.yaml", dir) < 0)
        fail_msg("out of memory");
    assert_int_equal(tu_sh("sed -e 's/^name: .*/name: short-isolate-capture/' "
                           "-e 's/mode: drop}/mode: drop, capture: true}/' '%s' > '%s' && "
                           "grep -q 'capture: true' '%s'",
                           file, capture_file, capture_file),
                     0);
    rc = run_into(dir, file, capture_file);
    assert_true(rc == 0 || rc == 1);
    /* the terminal summary: one aligned line per verifier, then where the reports are */
    assert_int_equal(
        tu_sh("grep -qE '^  failback +(pass|fail|inconclusive) +read .* <= 6 s$' "
              "'%s.log' && grep -qxF '  report: %s/short-isolate/report.html' "
              "'%s.log' && grep -qxF '  data:   %s/short-isolate/report.json' '%s.log'",
              dir, dir, dir, dir, dir),
        0);
    snprintf(profile, sizeof(profile), "%s/chromium-profile", dir);
    tu_sh("mkdir -p '%s/e2e-screenshots'", build ? build : "/tmp");
    for (i = 0; i < 2; i++) {
        snprintf(sub, sizeof(sub), "%s/%s", dir, subs[i]);
        snprintf(html, sizeof(html), "%s/report.html", sub);
        snprintf(dom, sizeof(dom), "%s/report.dom", sub);
        snprintf(png, sizeof(png), "%s/e2e-screenshots/report-%s.png", build ? build : "/tmp",
                 subs[i]);
        report = e2e_check_outputs(sub, dir);
        assert_non_null(report);
        text = slurp(html);
        assert_self_contained(text, html);
        assert_titled(text);
        browse(html, profile, dom, i == 0 ? png : NULL);
        free(text);
        text = slurp(dom);
        assert_verifier_table(text, report);
        assert_fault_bands(text, sub);
        /* the raw files are linked, relative to the page */
        assert_non_null(strstr(text, "<a href=\"history.jsonl\">"));
        assert_non_null(strstr(text, "<a href=\"report.json\">"));
        if (i == 1) {
            /* capture: true: a pcap per host of the fault, copied and linked */
            const char *hosts[] = {"west-z1-h1", "north-z1-h1"};
            size_t h;

            for (h = 0; h < 2; h++) {
                char link[256];

                snprintf(link, sizeof(link), "<a href=\"captures/f1-%s.pcap\">", hosts[h]);
                assert_non_null(strstr(text, link));
                assert_int_equal(tu_sh("test -s '%s/captures/f1-%s.pcap'", sub, hosts[h]), 0);
            }
        }
        free(text);
        json_decref(report);
    }
    /* the index: one row per experiment, each linking its report */
    snprintf(html, sizeof(html), "%s/index.html", dir);
    snprintf(dom, sizeof(dom), "%s/index.dom", dir);
    snprintf(png, sizeof(png), "%s/e2e-screenshots/index.png", build ? build : "/tmp");
    text = slurp(html);
    assert_self_contained(text, html);
    free(text);
    browse(html, profile, dom, png);
    text = slurp(dom);
    for (i = 0; i < 2; i++) {
        char link[256];

        snprintf(link, sizeof(link), "<a href=\"%s/report.html\">", subs[i]);
        assert_non_null(strstr(text, link));
    }
    free(text);
    snprintf(html, sizeof(html), "%s/summary.json", dir);
    summary = e2e_json_load(html);
    assert_non_null(summary);
    assert_int_equal(json_array_size(json_object_get(summary, "experiments")), 2);
    json_decref(summary);
    /* faultline report redraws the folder: every report and the index */
    tu_sh("rm -f '%s/index.html' '%s/short-isolate/report.html'", dir, dir);
    out = tu_sh_out("'%s' report '%s'; echo rc=$?", e2e_bin(), dir);
    assert_non_null(out);
    assert_non_null(strstr(out, "rc=0"));
    assert_non_null(strstr(out, "report: "));
    free(out);
    assert_int_equal(
        tu_sh("test -s '%s/index.html' && test -s '%s/short-isolate/report.html'", dir, dir), 0);
    tu_sh("rm -rf '%s' '%s.log' '%s'", dir, dir, capture_file);
    free(capture_file);
    free(dir);
}
#endif

#if E2E_GROUP == 2
/* The shipped Key Vault experiment with a bug switch of the reference service, renamed. */
static char *kv_variant(const char *bugs, const char *name)
{
    char *path = NULL;

    if (asprintf(&path, "/tmp/fl-t%d-%s.yaml", (int)getpid(), name) < 0)
        fail_msg("out of memory");
    assert_int_equal(tu_sh("sed -e 's/^name: .*/name: key-vault-region-outage/' "
                           "-e '/^  failover_after: /a\\%s' '%s/experiments/key-vault-region-"
                           "outage.yaml' > '%s'",
                           bugs, e2e_src(), path),
                     0);
    return path;
}

static int compare(const char *a, const char *b, const char *out, char **text)
{
    *text = tu_sh_out("'%s' compare --out '%s' '%s' '%s'; echo rc=$?", e2e_bin(), out, a, b);
    assert_non_null(*text);
    fprintf(stderr, "%s", *text);
    return atoi(strstr(*text, "rc=") + 3);
}

static void compare_should_fail_a_slower_failover(void **state)
{
    char kv[1024], *base = e2e_tmpdir("cmp-base"), *clean = e2e_tmpdir("cmp-clean");
    char *slow = e2e_tmpdir("cmp-slow"), *out = e2e_tmpdir("cmp-out"), *text;
    char *slow_file;
    const char *nofile = NULL;
    json_t *res;
    char p[1200];

    (void)state;
    TU_REQUIRE_ROOT();
    snprintf(kv, sizeof(kv), "%s/experiments/key-vault-region-outage.yaml", e2e_src());
    slow_file = kv_variant("  bugs: [slow-failover]", "slow");
    assert_int_equal(run_into(base, kv, nofile), 0);
    assert_int_equal(run_into(clean, kv, nofile), 0);
    /* slow-failover: the verifier fails too (exit 1); compare must see it on its own */
    assert_int_equal(run_into(slow, slow_file, nofile), 1);
    assert_int_equal(compare(base, slow, out, &text), 1);
    assert_non_null(strstr(text, "key-vault-region-outage: failover.read_ms"));
    free(text);
    snprintf(p, sizeof(p), "%s/compare.json", out);
    res = e2e_json_load(p);
    assert_non_null(res);
    assert_string_equal(json_string_value(json_object_get(res, "verdict")), "worse");
    json_decref(res);
    snprintf(p, sizeof(p), "%s/compare.html", out);
    assert_int_equal(tu_sh("test -s '%s' && ! grep -q -e 'http://' -e 'https://' -e '<script' "
                           "'%s'",
                           p, p),
                     0);
    /* two clean runs: nothing got worse beyond its tolerance */
    assert_int_equal(compare(base, clean, out, &text), 0);
    assert_non_null(strstr(text, "no figure got worse"));
    free(text);
    /* bad arguments */
    assert_int_equal(compare(base, "/nonexistent", out, &text), 2);
    free(text);
    tu_sh("rm -rf '%s' '%s' '%s' '%s' '%s.log' '%s.log' '%s.log'", base, clean, slow, out, base,
          clean, slow);
    unlink(slow_file);
    free(slow_file);
    free(base);
    free(clean);
    free(slow);
    free(out);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
#if E2E_GROUP == 1
        cmocka_unit_test(reports_should_read_well_in_a_browser),
#else
        cmocka_unit_test(compare_should_fail_a_slower_failover),
#endif
    };

    setvbuf(stderr, NULL, _IONBF, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
