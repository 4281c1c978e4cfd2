/*
 * The promise: block (issue 15): parsed strictly with file:line:col errors,
 * carried into the summary row, and laid out after a run of several
 * experiments as the document's own table in promises.md and index.html
 * (rows x columns as the experiments name them; each cell kept, broken or
 * inconclusive with what was measured).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glob.h>

#include "experiment.h"
#include "report_html.h"

static const char head[] =
    "apiVersion: faultline/v1\n"
    "name: prom\n"
    "topology: {regions: [{name: west, zones: [{name: z1, hosts: 1}]}, {name: north, zones: "
    "[{name: z1, hosts: 1}]}]}\n"
    "target: {kind: refstore, preset: cosmos, primary: west}\n"
    "workload: {clients: 2, rate: 50/s, duration: 20s, mix: {read: 1, upsert: 1}}\n"
    "faults: [{at: 5s, for: 8s, isolate: {region: west}}]\n"
    "verify: {data_loss: {max_updates: 0}}\n";

static int parse(const char *rest, struct experiment **exp, struct fl_err *err)
{
    char text[4096];
    int r;

    snprintf(text, sizeof(text), "%s%s", head, rest);
    *exp = NULL;
    r = experiment_parse(text, strlen(text), "p.yaml", exp, err);
    if (r != 0)
        fprintf(stderr, "%s\n", err->msg);
    return r;
}

static void promise_should_be_kept_with_its_four_fields(void **state)
{
    struct experiment *exp;
    struct fl_err err = {0};
    json_t *c;

    (void)state;
    assert_int_equal(parse("promise:\n"
                           "  doc: cosmos-db-high-availability\n"
                           "  row: \"zone failure: data loss\"\n"
                           "  column: \"single region, with AZ\"\n"
                           "  claim: no data loss\n",
                           &exp, &err),
                     0);
    assert_non_null(exp->promise);
    assert_int_equal(json_array_size(exp->promise), 1);
    c = json_array_get(exp->promise, 0);
    assert_string_equal(json_string_value(json_object_get(c, "doc")),
                        "cosmos-db-high-availability");
    assert_string_equal(json_string_value(json_object_get(c, "row")), "zone failure: data loss");
    assert_string_equal(json_string_value(json_object_get(c, "column")), "single region, with AZ");
    assert_string_equal(json_string_value(json_object_get(c, "claim")), "no data loss");
    assert_null(json_object_get(c, "verifiers"));
    experiment_free(exp);
}

static void promise_should_take_a_list_of_cells_with_their_verifiers(void **state)
{
    struct experiment *exp;
    struct fl_err err = {0};
    json_t *c;

    (void)state;
    assert_int_equal(parse("promise:\n"
                           "  - {doc: d, row: r1, column: c, claim: x, verifiers: [data_loss]}\n"
                           "  - {doc: d, row: r2, column: c, claim: y}\n",
                           &exp, &err),
                     0);
    assert_int_equal(json_array_size(exp->promise), 2);
    c = json_array_get(exp->promise, 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "verifiers"), 0)),
                        "data_loss");
    assert_string_equal(json_string_value(json_object_get(json_array_get(exp->promise, 1), "row")),
                        "r2");
    experiment_free(exp);
}

static void promise_should_be_optional(void **state)
{
    struct experiment *exp;
    struct fl_err err = {0};

    (void)state;
    assert_int_equal(parse("", &exp, &err), 0);
    assert_null(exp->promise);
    experiment_free(exp);
}

static void expect_error(const char *rest, const char *msg)
{
    struct experiment *exp;
    struct fl_err err = {0};

    assert_int_equal(parse(rest, &exp, &err), -EINVAL);
    assert_null(exp);
    if (strstr(err.msg, msg) == NULL)
        fail_msg("expected '%s' in '%s'", msg, err.msg);
}

static void malformed_promise_should_be_refused_at_its_line(void **state)
{
    (void)state;
    /* head is 7 lines: the promise starts at line 8 */
    expect_error("promise:\n  doc: d\n  row: r\n  colum: c\n  claim: x\n",
                 "p.yaml:11:3: unknown key 'colum' in promise (did you mean 'column'?)");
    expect_error("promise:\n  doc: d\n  row: r\n  claim: x\n",
                 "p.yaml:8:1: promise: missing required key 'column'");
    expect_error("promise: {doc: d, row: [a], column: c, claim: x}\n",
                 "p.yaml:8:25: promise.row: expected a string, found a list");
    expect_error("promise: {doc: d, row: r, column: \"\", claim: x}\n",
                 "p.yaml:8:36: promise.column: expected text of 1 to 255 bytes");
    expect_error("promise: {doc: d, row: \"a\\tb\", column: c, claim: x}\n",
                 "p.yaml:8:25: promise.row: expected one line of text, found a control character");
    expect_error("promise: {doc: d, row: r, column: c, claim: x, verifiers: [failover]}\n",
                 "p.yaml:8:60: promise.verifiers[0]: 'failover' is not a verifier of this file's "
                 "verify: section");
    expect_error("promise: {doc: d, row: r, column: c, claim: x, verifiers: [data_loss, grace]}\n",
                 "'grace' is not a verifier");
    expect_error("promise: []\n", "p.yaml:8:1: promise: expected 1 to 16 cells, found 0");
    expect_error("promise:\n  - {doc: d, row: r, column: c, claim: x}\n  - {doc: d, row: r}\n",
                 "promise[1]: missing required key 'column'");
    expect_error("promise: no data loss\n",
                 "p.yaml:8:10: promise: expected a mapping, found 'no data loss'");
}

/* A report.json as a run writes it, reduced to what the index reads. */
static json_t *report(const char *name, const char *verdict, const char *row, const char *col,
                      long lost)
{
    json_t *r = json_pack(
        "{s:s,s:s,s:{s:i},s:[{s:s,s:s,s:b,s:{s:I,s:I,s:I},s:{s:i}}],s:[{s:s,s:s,s:s,s:s}]}",
        "experiment", name, "verdict", verdict, "durations_ms", "total", 20000, "verifiers", "name",
        "data_loss", "status", verdict, "pass", strcmp(verdict, "pass") == 0, "measured",
        "lost_updates", (json_int_t)lost, "lost_before", (json_int_t)lost, "lost_after",
        (json_int_t)0, "bound", "max_updates", 0, "promise", "doc", "cosmos-ha", "row", row,
        "column", col, "claim", "no data loss");

    assert_non_null(r);
    return r;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    char *buf;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = calloc(1, (size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

static void summary_row_should_carry_promise_status_and_figures(void **state)
{
    json_t *r = report("zone-az", "fail", "zone failure: data loss", "single region, with AZ", 7);
    json_t *row, *c;

    (void)state;
    row = report_summary_row(r, "zone-az/report.html");
    assert_non_null(row);
    c = json_array_get(json_object_get(row, "promises"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "claim")), "no data loss");
    assert_string_equal(json_string_value(json_object_get(c, "status")), "broken");
    assert_non_null(strstr(json_string_value(json_object_get(c, "measured")), "data_loss: "));
    assert_non_null(strstr(json_string_value(json_object_get(c, "measured")), "7"));
    json_decref(row);
    json_decref(r);
}

/* A cell that names its verifiers is decided by them alone. */
static void cell_should_be_decided_by_its_own_verifiers(void **state)
{
    json_t *r = report("kv", "fail", "read-only ops", "during failover", 3), *row, *av, *cells;

    (void)state;
    /* data_loss failed; availability passed */
    av = json_pack("{s:s,s:s,s:b,s:{},s:{}}", "name", "availability", "status", "pass", "pass", 1,
                   "measured", "bound");
    json_array_append_new(json_object_get(r, "verifiers"), av);
    cells = json_object_get(r, "promise");
    json_object_set_new(json_array_get(cells, 0), "verifiers", json_pack("[s]", "availability"));
    json_array_append_new(cells, json_pack("{s:s,s:s,s:s,s:s,s:[s]}", "doc", "kv", "row", "writes",
                                           "column", "during failover", "claim", "refused",
                                           "verifiers", "data_loss"));
    json_array_append_new(cells, json_pack("{s:s,s:s,s:s,s:s,s:[s]}", "doc", "kv", "row", "rto",
                                           "column", "during failover", "claim", "minutes",
                                           "verifiers", "failover"));
    row = report_summary_row(r, "kv/report.html");
    cells = json_object_get(row, "promises");
    assert_int_equal(json_array_size(cells), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cells, 0), "status")),
                        "kept");
    assert_null(strstr(json_string_value(json_object_get(json_array_get(cells, 0), "measured")),
                       "data_loss"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(cells, 1), "status")),
                        "broken");
    /* a verifier the report lacks: nothing to judge */
    assert_string_equal(json_string_value(json_object_get(json_array_get(cells, 2), "status")),
                        "inconclusive");
    json_decref(row);
    json_decref(r);
}

/* Availability and routing cells show the ratios behind the verdict. */
static void cell_should_show_availability_and_routing_figures(void **state)
{
    json_t *r =
        json_pack("{s:s,s:s,s:[{s:s,s:s,s:{s:[{s:{s:{s:f}}}]},s:{s:[{s:s,s:s,s:f}]}},"
                  "{s:s,s:s,s:{s:[{s:{s:s,s:i,s:f},s:{s:s,s:i,s:f}}]},s:{}}],"
                  "s:[{s:s,s:s,s:s,s:s}]}",
                  "experiment", "rr", "verdict", "pass", "verifiers", "name", "availability",
                  "status", "pass", "measured", "faults", "during", "read", "ratio", 0.985, "bound",
                  "floors", "class", "read", "phase", "during", "min", 0.97, "name", "routing",
                  "status", "pass", "measured", "faults", "before", "expected", "north", "ok_reads",
                  801, "ratio", 1.0, "during", "expected", "west", "ok_reads", 785, "ratio", 0.5,
                  "bound", "promise", "doc", "d", "row", "r", "column", "c", "claim", "x");
    json_t *row;
    const char *m;

    (void)state;
    assert_non_null(r);
    row = report_summary_row(r, "rr/report.html");
    m = json_string_value(
        json_object_get(json_array_get(json_object_get(row, "promises"), 0), "measured"));
    assert_non_null(strstr(m, "availability: during read 98.5% (>= 97%) pass"));
    assert_non_null(strstr(m, "routing: before 100.0% of 801 reads from north, during 50.0% of "
                              "785 reads from west pass"));
    json_decref(row);
    json_decref(r);
}

static void tables_should_follow_the_documents_rows_and_columns(void **state)
{
    json_t *reports[5], *rows, *docs, *d, *cells;
    size_t i;

    (void)state;
    reports[0] = report("a", "pass", "zone failure: data loss", "single region, with AZ", 0);
    reports[1] = report("b", "fail", "zone failure: data loss", "multi-region, one write", 3);
    reports[2] =
        report("c", "inconclusive", "zone failure: availability", "single region, with AZ", 0);
    /* two experiments in one cell: one broken breaks it */
    reports[3] = report("d1", "pass", "zone failure: availability", "multi-region, one write", 0);
    reports[4] = report("d2", "fail", "zone failure: availability", "multi-region, one write", 0);
    rows = json_pack("{s:[]}", "experiments");
    for (i = 0; i < 5; i++)
        json_array_append_new(json_object_get(rows, "experiments"),
                              report_summary_row(reports[i], "x/report.html"));
    docs = report_promise_tables(rows);
    assert_int_equal(json_array_size(docs), 1);
    d = json_array_get(docs, 0);
    assert_string_equal(json_string_value(json_object_get(d, "doc")), "cosmos-ha");
    assert_int_equal(json_array_size(json_object_get(d, "rows")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(d, "rows"), 0)),
                        "zone failure: data loss");
    assert_string_equal(json_string_value(json_array_get(json_object_get(d, "columns"), 1)),
                        "multi-region, one write");
    cells = json_object_get(d, "cells");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(cells, "zone failure: data loss\nsingle region, with AZ"), "status")),
        "kept");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(cells, "zone failure: data loss\nmulti-region, one write"), "status")),
        "broken");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(cells, "zone failure: availability\nsingle region, with AZ"),
            "status")),
        "inconclusive");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(cells, "zone failure: availability\nmulti-region, one write"),
            "status")),
        "broken");
    assert_int_equal(
        json_array_size(json_object_get(
            json_object_get(cells, "zone failure: availability\nmulti-region, one write"),
            "experiments")),
        2);
    json_decref(docs);
    json_decref(rows);
    for (i = 0; i < 5; i++)
        json_decref(reports[i]);
}

static void index_should_write_promises_md_and_a_section_of_index_html(void **state)
{
    char dir[] = "/tmp/fl-promise-XXXXXX", path[256];
    json_t *reports[3];
    const char *subdirs[3] = {"a", "b", "c"};
    struct fl_err err = {0};
    char *md, *html;
    size_t i;

    (void)state;
    assert_non_null(mkdtemp(dir));
    reports[0] = report("a", "pass", "zone failure: data loss", "single region, with AZ", 0);
    reports[1] = report("b", "fail", "zone failure: data loss", "multi | region", 3);
    reports[2] = json_pack("{s:s,s:s,s:[],s:{s:i}}", "experiment", "plain", "verdict", "pass",
                           "verifiers", "durations_ms", "total", 1000);
    assert_int_equal(report_index_write(dir, reports, subdirs, 3, &err), 0);
    snprintf(path, sizeof(path), "%s/promises.md", dir);
    md = slurp(path);
    assert_non_null(strstr(
        md, "## cosmos-ha\n\n| | single region, with AZ | multi \\| region |\n"
            "|---|---|---|\n"
            "| zone failure: data loss | **kept**: no data loss. [a](a/report.html) kept: "));
    assert_non_null(
        strstr(md, " **broken**: no data loss. [b](b/report.html) broken: data_loss: "));
    assert_null(strstr(md, "plain"));
    snprintf(path, sizeof(path), "%s/index.html", dir);
    html = slurp(path);
    assert_non_null(strstr(html, "<h2 id=\"promises\">Promises</h2>"));
    assert_non_null(strstr(html, "<th>multi | region</th>"));
    assert_non_null(strstr(html, "<td class=\"p-kept\"><b>kept</b><br>no data loss"));
    assert_non_null(strstr(html, "<td class=\"p-broken\"><b>broken</b><br>no data loss"));
    assert_non_null(strstr(html, "<a href=\"b/report.html\">b</a> broken: data_loss: "));
    free(md);
    free(html);
    for (i = 0; i < 3; i++)
        json_decref(reports[i]);
    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    assert_int_equal(system(path), 0);
}

static void run_without_promises_should_say_so(void **state)
{
    char dir[] = "/tmp/fl-promise-XXXXXX", path[256];
    json_t *reports[2];
    const char *subdirs[2] = {"a", "b"};
    struct fl_err err = {0};
    char *md, *html;

    (void)state;
    assert_non_null(mkdtemp(dir));
    reports[0] = json_pack("{s:s,s:s,s:[]}", "experiment", "a", "verdict", "pass", "verifiers");
    reports[1] = json_pack("{s:s,s:s,s:[]}", "experiment", "b", "verdict", "fail", "verifiers");
    assert_int_equal(report_index_write(dir, reports, subdirs, 2, &err), 0);
    snprintf(path, sizeof(path), "%s/promises.md", dir);
    md = slurp(path);
    assert_non_null(strstr(md, "No experiment of this run has a `promise:` block."));
    snprintf(path, sizeof(path), "%s/index.html", dir);
    html = slurp(path);
    assert_null(strstr(html, "id=\"promises\""));
    free(md);
    free(html);
    json_decref(reports[0]);
    json_decref(reports[1]);
    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    assert_int_equal(system(path), 0);
}

/*
 * Every file of experiments/seeds/ validates, quotes the seed it checks
 * (in English) and has a promise naming one of the seeds' documents; the
 * Cosmos high-availability table has every (row, column) cell.
 */
static void seeds_should_validate_quote_and_promise(void **state)
{
    static const char *const docs[] = {"cosmos-db-high-availability",
                                       "cosmos-db-rpo-by-consistency", "cosmos-db-region-outages",
                                       "key-vault-availability", NULL};
    static const char *const cols[] = {"single region without AZ",
                                       "single region with AZ",
                                       "multi-region, single write region, without AZ",
                                       "multi-region, single write region, with AZ",
                                       "multi-region, multiple write regions, with or without AZ",
                                       NULL};
    static const char *const rows[] = {"zone failure: data loss", "zone failure: availability",
                                       "region failure: data loss", "region failure: availability",
                                       NULL};
    const char *src = getenv("FAULTLINE_SOURCE_DIR");
    char pattern[1024], have[64][300];
    size_t i, j, k, nhave = 0;
    glob_t g;

    (void)state;
    assert_non_null(src);
    snprintf(pattern, sizeof(pattern), "%s/experiments/seeds/*.yaml", src);
    assert_int_equal(glob(pattern, 0, NULL, &g), 0);
    assert_true(g.gl_pathc >= 15);
    for (i = 0; i < g.gl_pathc; i++) {
        struct experiment *exp = NULL;
        struct fl_err err = {0};
        char *text;
        const json_t *c;

        if (experiment_load(g.gl_pathv[i], &exp, &err) != 0)
            fail_msg("%s", err.msg);
        assert_non_null(exp->promise);
        text = slurp(g.gl_pathv[i]);
        if (strstr(text, "# Seed (") == NULL && strstr(text, "# Promise (seeds/README.md)") == NULL)
            fail_msg("%s quotes no seed sentence", g.gl_pathv[i]);
        free(text);
        json_array_foreach(exp->promise, j, c)
        {
            const char *d = json_string_value(json_object_get(c, "doc"));

            for (k = 0; docs[k] && strcmp(docs[k], d) != 0; k++)
                ;
            if (docs[k] == NULL)
                fail_msg("%s: unknown doc %s", g.gl_pathv[i], d);
            if (strcmp(d, docs[0]) == 0 && nhave < 64)
                snprintf(have[nhave++], sizeof(have[0]), "%s|%s",
                         json_string_value(json_object_get(c, "row")),
                         json_string_value(json_object_get(c, "column")));
        }
        experiment_free(exp);
    }
    globfree(&g);
    for (i = 0; rows[i]; i++) {
        for (j = 0; cols[j]; j++) {
            char want[300];

            snprintf(want, sizeof(want), "%s|%s", rows[i], cols[j]);
            for (k = 0; k < nhave && strcmp(have[k], want) != 0; k++)
                ;
            if (k == nhave)
                fail_msg("no experiment checks the cell %s", want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(promise_should_be_kept_with_its_four_fields),
        cmocka_unit_test(promise_should_take_a_list_of_cells_with_their_verifiers),
        cmocka_unit_test(promise_should_be_optional),
        cmocka_unit_test(malformed_promise_should_be_refused_at_its_line),
        cmocka_unit_test(summary_row_should_carry_promise_status_and_figures),
        cmocka_unit_test(cell_should_be_decided_by_its_own_verifiers),
        cmocka_unit_test(cell_should_show_availability_and_routing_figures),
        cmocka_unit_test(tables_should_follow_the_documents_rows_and_columns),
        cmocka_unit_test(index_should_write_promises_md_and_a_section_of_index_html),
        cmocka_unit_test(run_without_promises_should_say_so),
        cmocka_unit_test(seeds_should_validate_quote_and_promise),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
