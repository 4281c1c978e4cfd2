/*
 * report.html and the terminal summary from hand-made reports and histories:
 * the page stays under 2 MB for 100k operations (binning), fetches nothing
 * and has no script, names every verifier, draws the fault band on the time
 * axis it declares, draws a linearizability counterexample and lost writes;
 * latency percentiles and availability per phase; one aligned summary line
 * per verifier, method paragraphs only with verbose.
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

#include "report_html.h"

#define S  1000000000LL
#define T0 (1000 * S) /* the history's clock starts somewhere */

static const char report_text[] =
    "{\"experiment\":\"kv\",\"verdict\":\"fail\",\"file\":\"/nonexistent.yaml\","
    "\"target\":{\"kind\":\"refstore\",\"preset\":\"key-vault\",\"settled\":true},"
    "\"durations_ms\":{\"total\":100000},\"ops\":{\"total\":100000,\"ok\":90000,\"fail\":9000,"
    "\"info\":1000},\"rate\":{\"offered\":1000,\"achieved\":999},\"exit_code\":1,"
    "\"faults\":[{\"id\":\"f1\",\"kind\":\"isolate\",\"apply_done_ns\":1030000500000,"
    "\"agents\":[{\"host\":\"west-z1-h1\",\"status\":201,\"evidence\":{\"packets\":12,"
    "\"bytes\":720}}]}],"
    "\"verifiers\":["
    "{\"name\":\"failover\",\"status\":\"pass\",\"detail\":\"METHOD-FAILOVER\",\"measured\":"
    "{\"rto_ms\":{\"read\":2510},\"faults\":[{\"id\":\"f1\",\"anchor_ns\":1030000500000,"
    "\"rto_ms\":{\"read\":2510},\"excluded_read_only\":[\"write\"]}]},\"bound\":{\"max_ms\":8000}},"
    "{\"name\":\"data_loss\",\"status\":\"fail\",\"detail\":\"METHOD-LOSS\",\"measured\":"
    "{\"lost_updates\":2,\"lost_before\":1,\"lost_after\":1,\"faults\":[{\"id\":\"f1\",\"lost\":2,"
    "\"lost_before\":1,\"lost_after\":1,\"window_ms\":300,\"window_after_ms\":2000,"
    "\"earliest\":{\"record\":7,\"key\":\"k1\",\"complete_ns\":1029700000000,"
    "\"before_fault_ms\":300},\"latest\":{\"record\":9,\"key\":\"k2\",\"complete_ns\":"
    "1032000000000,\"after_fault_ms\":2000}}]},\"bound\":{\"max_updates\":0}},"
    "{\"name\":\"linearizable\",\"status\":\"fail\",\"detail\":\"METHOD-LIN\",\"measured\":"
    "{\"keys_violating\":1,\"keys_checked\":10,\"ops_checked\":100000,\"violations\":[{\"key\":"
    "\"k1\",\"prefix_length\":5,\"value_after_prefix\":3,\"blocker\":{\"record\":2,\"client\":0,"
    "\"invoke_ns\":1050000000000,\"complete_ns\":1050002000000},\"window\":[{\"record\":2,"
    "\"client\":1,\"op\":\"cas\",\"invoke_ns\":1050000000000,\"complete_ns\":1050002000000,"
    "\"outcome\":\"ok\",\"value\":4,\"expected\":2},{\"record\":1,\"client\":0,\"op\":\"get\","
    "\"invoke_ns\":1049999000000,\"complete_ns\":1050001000000,\"outcome\":\"ok\",\"value\":3}]}]},"
    "\"bound\":{\"model\":\"cas-register\"}},"
    "{\"name\":\"brand_new\",\"status\":\"inconclusive\",\"reason\":\"nothing to judge\","
    "\"measured\":{},\"bound\":{}}]}";

/* 100k operations over 100 s, two regions, one fault from 30 s to 60 s. */
static void big_history(struct hist *h, struct hist_faults *hf)
{
    struct hist_fault f = {.apply_sent_ns = T0 + 30 * S,
                           .apply_done_ns = T0 + 30 * S + 500000,
                           .heal_sent_ns = T0 + 60 * S,
                           .heal_done_ns = T0 + 60 * S + 700000};
    int west, north, get, put, key;
    size_t i;

    hist_init(h);
    west = hist_intern(&h->regions, "west");
    north = hist_intern(&h->regions, "north");
    get = hist_intern(&h->op_names, "get");
    put = hist_intern(&h->op_names, "put");
    key = hist_intern(&h->keys, "k1");
    for (i = 0; i < 100000; i++) {
        struct hist_op op = {0};
        int64_t t = T0 + (int64_t)i * 1000000; /* one per millisecond */
        bool during = t >= f.apply_sent_ns && t < f.heal_done_ns;

        op.invoke_ns = t;
        op.complete_ns = t + 1000000 + (int64_t)(i % 100) * 10000;
        op.client = (uint32_t)(i % 16);
        op.key = (uint32_t)key;
        op.is_write = i % 4 == 0;
        op.op = (uint16_t)(op.is_write ? put : get);
        op.region = (uint16_t)(during ? north : west);
        op.outcome = during && op.is_write ? HIST_FAIL : HIST_OK;
        op.value = i + 1;
        assert_int_equal(hist_append(h, &op), 0);
    }
    snprintf(f.id, sizeof(f.id), "f1");
    snprintf(f.kind, sizeof(f.kind), "isolate");
    snprintf(f.scope, sizeof(f.scope), "west");
    memset(hf, 0, sizeof(*hf));
    assert_int_equal(hist_faults_append(hf, &f), 0);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    char *s;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return s;
}

static void report_html_should_stay_small_and_self_contained(void **state)
{
    char dir[] = "/tmp/fl-rh-XXXXXX", path[128];
    json_t *report = json_loads(report_text, 0, NULL);
    struct hist h;
    struct hist_faults hf;
    struct fl_err err = {0};
    char *html, *svg, *rect;
    double t0, t1, x0, x1, xa;
    size_t len;

    (void)state;
    assert_non_null(report);
    assert_non_null(mkdtemp(dir));
    big_history(&h, &hf);
    report_add_figures(report, &h, &hf, NULL);
    assert_int_equal(report_html_write(dir, report, &h, &hf, &err), 0);
    snprintf(path, sizeof(path), "%s/report.html", dir);
    html = slurp(path, &len);
    fprintf(stderr, "report.html for 100k operations: %zu bytes\n", len);
    assert_true(len < 2 * 1024 * 1024);
    assert_null(strstr(html, "http://"));
    assert_null(strstr(html, "https://"));
    assert_null(strcasestr(html, "<script"));
    assert_null(strstr(html, " src="));
    /* every verifier, unknown ones too, with its status in words */
    assert_non_null(strstr(html, "<tr><td>failover</td><td class=\"st-pass\">pass</td>"));
    assert_non_null(strstr(html, "<tr><td>data_loss</td><td class=\"st-fail\">fail</td>"));
    assert_non_null(strstr(html, "<tr><td>linearizable</td>"));
    assert_non_null(strstr(html, "<tr><td>brand_new</td><td class=\"st-inconclusive\">"));
    assert_non_null(strstr(html, "METHOD-LOSS")); /* the method paragraphs live here */
    /* the fault band at 30 s .. 60 s on the declared axis */
    svg = strstr(html, "<svg class=\"timeline\"");
    assert_non_null(svg);
    assert_int_equal(sscanf(strstr(svg, "data-t0-ns=\""),
                            "data-t0-ns=\"%lf\" data-t1-ns=\"%lf\" "
                            "data-x0=\"%lf\" data-x1=\"%lf\"",
                            &t0, &t1, &x0, &x1),
                     4);
    assert_true(fabs(t0 - (double)T0) < 1);
    rect = strstr(svg, "<rect class=\"fault\" data-fault=\"f1\"");
    assert_non_null(rect);
    xa = x0 + (double)(30 * S) * (x1 - x0) / (t1 - t0);
    assert_true(fabs(strtod(strstr(rect, " x=\"") + 4, NULL) - xa) < 0.01);
    /* markers, lost writes, counterexample, evidence */
    assert_non_null(strstr(html, "failover read 2.51 s (f1)"));
    assert_non_null(strstr(html, "earliest lost write of f1"));
    assert_non_null(strstr(html, "<svg class=\"linearizable\""));
    assert_non_null(strstr(html, "(cannot be placed)"));
    assert_non_null(strstr(html, "<td class=\"num\">12</td><td class=\"num\">720</td>"));
    free(html);
    unlink(path);
    rmdir(dir);
    hist_free(&h);
    hist_faults_free(&hf);
    json_decref(report);
}

/* With lost_writes (data_loss lists every lost write) each one is a titled diamond. */
static void report_html_should_draw_every_listed_lost_write(void **state)
{
    char dir[] = "/tmp/fl-rh-XXXXXX", path[128];
    json_t *report = json_loads(report_text, 0, NULL), *fl, *v;
    struct hist h;
    struct hist_faults hf;
    struct fl_err err = {0};
    char *html, *p;
    size_t len, marks = 0;

    (void)state;
    assert_non_null(report);
    assert_non_null(mkdtemp(dir));
    big_history(&h, &hf);
    v = json_array_get(json_object_get(report, "verifiers"), 1);
    assert_string_equal(json_string_value(json_object_get(v, "name")), "data_loss");
    fl = json_array_get(json_object_get(json_object_get(v, "measured"), "faults"), 0);
    assert_non_null(fl);
    json_object_set_new(
        fl, "lost_writes",
        json_loads("[{\"record\":7,\"key\":\"k1\",\"value\":5,\"region\":\"west\","
                   "\"complete_ns\":1029700000000,\"side\":\"before\",\"offset_ms\":-300},"
                   "{\"record\":8,\"key\":\"k<3\",\"value\":42,\"region\":\"east\","
                   "\"complete_ns\":1029900000000,\"side\":\"before\",\"offset_ms\":-100},"
                   "{\"record\":9,\"key\":\"k2\",\"value\":null,\"region\":\"east\","
                   "\"complete_ns\":1032000000000,\"side\":\"after\",\"offset_ms\":2000}]",
                   0, NULL));
    json_object_set_new(fl, "lost_truncated", json_integer(4));
    report_add_figures(report, &h, &hf, NULL);
    assert_int_equal(report_html_write(dir, report, &h, &hf, &err), 0);
    snprintf(path, sizeof(path), "%s/report.html", dir);
    html = slurp(path, &len);
    for (p = html; (p = strstr(p, "<path class=\"lost\"")) != NULL; p++)
        marks++;
    assert_int_equal(marks, 3);
    assert_non_null(strstr(html, "lost write of f1: record 8, key k&lt;3, value 42, region east, "
                                 "-100 ms from the fault start (before)"));
    assert_non_null(strstr(html, "lost write of f1: record 9, key k2, region east, +2000 ms from "
                                 "the fault start (after)"));
    assert_non_null(strstr(html, ">-300 ms</text>")); /* the earliest and latest are labelled */
    assert_non_null(strstr(html, ">+2000 ms</text>"));
    assert_null(strstr(html, ">-100 ms</text>"));
    assert_non_null(strstr(html, "(f1: 4 more not listed)"));
    free(html);
    unlink(path);
    rmdir(dir);
    hist_free(&h);
    hist_faults_free(&hf);
    json_decref(report);
}

static void stats_should_give_percentiles_and_availability_per_phase(void **state)
{
    struct hist h;
    struct hist_faults hf;
    json_t *st;
    const json_t *lat, *av;

    (void)state;
    big_history(&h, &hf);
    st = report_stats_json(&h, &hf);
    assert_non_null(st);
    lat = json_object_get(st, "latency_ms");
    /* latencies 1.00 .. 1.99 ms, uniformly */
    assert_true(fabs(json_real_value(json_object_get(lat, "max")) - 1.99) < 1e-9);
    assert_true(fabs(json_real_value(json_object_get(lat, "p99")) - 1.98) < 0.011);
    assert_true(fabs(json_real_value(json_object_get(lat, "p50")) - 1.49) < 0.011);
    av = json_object_get(st, "availability");
    assert_true(fabs(json_real_value(json_object_get(json_object_get(av, "before"), "write")) -
                     1.0) < 1e-9);
    assert_true(fabs(json_real_value(json_object_get(json_object_get(av, "during"), "write"))) <
                1e-9);
    assert_true(
        fabs(json_real_value(json_object_get(json_object_get(av, "during"), "read")) - 1.0) < 1e-9);
    json_decref(st);
    hist_free(&h);
    hist_faults_free(&hf);
}

static void summary_should_print_one_aligned_line_per_verifier(void **state)
{
    json_t *report = json_loads(report_text, 0, NULL);
    char *buf = NULL, *line, *save = NULL;
    size_t len = 0, col = 0;
    int n = 0;
    FILE *f;

    (void)state;
    f = open_memstream(&buf, &len);
    report_summary_print(f, report, "/runs/x", false);
    fclose(f);
    fprintf(stderr, "%s", buf);
    assert_non_null(strstr(buf, "failover"));
    assert_non_null(strstr(buf, "read 2.51 s, write - (read-only)"));
    assert_non_null(strstr(buf, "<= 8 s"));
    assert_non_null(strstr(buf, "  report: /runs/x/report.html\n"));
    assert_non_null(strstr(buf, "/runs/x/report.json\n"));
    assert_null(strstr(buf, "METHOD-")); /* the paragraphs are for -v and the page */
    /* aligned: every verifier's status starts in the same column */
    for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        const char *st = strstr(line, "  pass")   ? strstr(line, "  pass")
                         : strstr(line, "  fail") ? strstr(line, "  fail")
                                                  : strstr(line, "  inconclusive");

        if (strncmp(line, "  report:", 9) == 0 || strncmp(line, "  data:", 7) == 0)
            continue;
        assert_non_null(st);
        if (n++ == 0)
            col = (size_t)(st - line);
        assert_int_equal((size_t)(st - line), col);
    }
    assert_int_equal(n, 4);
    free(buf);
    buf = NULL;
    f = open_memstream(&buf, &len);
    report_summary_print(f, report, "/runs/x", true);
    fclose(f);
    assert_non_null(strstr(buf, "METHOD-FAILOVER"));
    free(buf);
    json_decref(report);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(report_html_should_stay_small_and_self_contained),
        cmocka_unit_test(report_html_should_draw_every_listed_lost_write),
        cmocka_unit_test(stats_should_give_percentiles_and_availability_per_phase),
        cmocka_unit_test(summary_should_print_one_aligned_line_per_verifier),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
