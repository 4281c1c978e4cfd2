/*
 * `faultline compare BASELINE... NEW` (see compare.h): a nightly job exists
 * to notice change, so a figure that got worse than its tolerance fails the
 * job even while it is still within the verifier's bound. Inputs are run
 * folders or their summary.json / report.json; the comparison itself is a
 * pure function of those rows (compare_summaries()), unit-tested with
 * hand-made summaries.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faultline/file.h"
#include "faultline/json.h"

#include "commands.h"
#include "compare.h"
#include "report_html.h"

/*
 * Default tolerances, one row per group of figures: a change smaller than
 * max(relative * |baseline|, absolute) in the bad direction is noise. The key
 * is the group's name under verify.regression.
 */
static const struct tol_row {
    const char *prefix; /* figure names starting with this */
    const char *key;    /* verify.regression.<key> */
    bool higher_worse;
    double relative, absolute;
    const char *unit;
} tol_rows[] = {
    {"failover.", "failover", true, 0.25, 500, "ms"},
    /* failback waits for the old region to catch up and clients to move back: noisier */
    {"failback.", "failback", true, 0.25, 1000, "ms"},
    {"data_lost", "data_lost", true, 0.5, 5, "writes"},
    {"availability.", "availability", false, 0.02, 0.01, "ratio"},
    {"rate_achieved", "rate", false, 0.10, 5, "ops/s"},
    {"latency_p99_ms", "latency_p99", true, 0.5, 20, "ms"},
    {NULL, NULL, false, 0, 0, NULL},
};

static const struct tol_row *tol_row(const char *figure)
{
    const struct tol_row *r;

    for (r = tol_rows; r->prefix; r++)
        if (strncmp(figure, r->prefix, strlen(r->prefix)) == 0)
            return r;
    return NULL;
}

bool compare_tolerance(const char *figure, const json_t *regression, struct cmp_tol *t,
                       bool *higher_worse)
{
    const struct tol_row *r = tol_row(figure);
    const json_t *o, *x;

    if (r == NULL)
        return false;
    t->relative = r->relative;
    t->absolute = r->absolute;
    *higher_worse = r->higher_worse;
    o = json_object_get(regression, r->key);
    if ((x = json_object_get(o, "relative")) && json_is_number(x))
        t->relative = json_number_value(x);
    if ((x = json_object_get(o, "absolute")) && json_is_number(x))
        t->absolute = json_number_value(x);
    return true;
}

/* ---- inputs ------------------------------------------------------------------ */

static json_t *as_summary(json_t *j, const char *path, struct fl_err *err)
{
    json_t *s;

    if (json_is_array(json_object_get(j, "experiments")))
        return j;
    if (json_is_array(json_object_get(j, "verifiers"))) { /* a report.json */
        s = json_pack("{s:[o]}", "experiments", report_summary_row(j, "report.html"));
        json_decref(j);
        return s;
    }
    json_decref(j);
    fl_errf(err, -EINVAL, "%s: neither a summary.json nor a report.json", path);
    return NULL;
}

json_t *compare_load(const char *path, struct fl_err *err)
{
    static const char *const names[] = {"summary.json", "report.json", NULL};
    char p[4200];
    struct stat st;
    json_error_t je;
    json_t *j;
    size_t i;

    if (stat(path, &st) < 0) {
        fl_errf(err, -errno, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        for (i = 0; names[i]; i++) {
            snprintf(p, sizeof(p), "%s/%s", path, names[i]);
            if (access(p, R_OK) == 0)
                break;
        }
        if (names[i] == NULL) {
            fl_errf(err, -ENOENT, "%s: no summary.json or report.json in this folder", path);
            return NULL;
        }
    } else {
        snprintf(p, sizeof(p), "%s", path);
    }
    j = json_load_file(p, 0, &je);
    if (j == NULL) {
        fl_errf(err, -EINVAL, "%s:%d: %s", p, je.line, je.text);
        return NULL;
    }
    return as_summary(j, p, err);
}

/* ---- the comparison ---------------------------------------------------------- */

static const json_t *row_of(const json_t *summary, const char *experiment)
{
    return fl_json_find(json_object_get(summary, "experiments"), "experiment", experiment);
}

/* A figure as a number: null ("never") is infinitely bad. */
static double value_of(const json_t *x, bool higher_worse)
{
    if (json_is_number(x))
        return json_number_value(x);
    return higher_worse ? INFINITY : -INFINITY;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_dbl);
    if (n % 2)
        return v[n / 2];
    return (v[n / 2 - 1] + v[n / 2]) / 2;
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* One figure of one experiment: baseline median, new value, verdict. */
static json_t *figure(const char *name, json_t *const *base_rows, size_t nb, const json_t *nrow,
                      const json_t *regression)
{
    double *v = calloc(nb ? nb : 1, sizeof(*v)), b = NAN, n = NAN, delta, tol;
    const json_t *nx = json_object_get(json_object_get(nrow, "figures"), name);
    struct cmp_tol t;
    bool hw, have_new = nx != NULL;
    const char *verdict;
    json_t *o, *series = json_array();
    size_t i, k = 0;

    if (v == NULL || series == NULL || !compare_tolerance(name, regression, &t, &hw)) {
        free(v);
        json_decref(series);
        return NULL;
    }
    for (i = 0; i < nb; i++) {
        const json_t *x = json_object_get(json_object_get(base_rows[i], "figures"), name);

        json_array_append_new(series, x ? json_deep_copy(x) : json_null());
        if (x)
            v[k++] = value_of(x, hw);
    }
    json_array_append_new(series, nx ? json_deep_copy(nx) : json_null());
    if (k > 0)
        b = median(v, k);
    if (have_new)
        n = value_of(nx, hw);
    tol = isfinite(b) ? fmax(t.relative * fabs(b), t.absolute) : t.absolute;
    if (k == 0)
        verdict = "new";
    else if (!have_new)
        verdict = "missing";
    else if (b == n)
        verdict = "same";
    else {
        delta = hw ? n - b : b - n; /* > 0: worse */
        if (isnan(delta))           /* inf - inf cannot happen here: b == n caught it */
            verdict = "within";
        else if (delta > tol)
            verdict = "worse";
        else if (delta < -tol)
            verdict = "better";
        else
            verdict = "within";
    }
    o = json_pack("{s:s,s:o,s:o,s:s,s:{s:f,s:f,s:s},s:o}", "name", name, "baseline",
                  k > 0 ? num_or_null(b) : json_null(), "new",
                  have_new ? num_or_null(n) : json_null(), "verdict", verdict, "tolerance",
                  "relative", t.relative, "absolute", t.absolute, "worse_when",
                  hw ? "higher" : "lower", "series", series);
    if (o && k > 0 && have_new && isfinite(b) && isfinite(n)) {
        json_object_set_new(o, "change", json_real(n - b));
        if (b != 0)
            json_object_set_new(o, "change_relative", json_real((n - b) / fabs(b)));
    }
    free(v);
    return o;
}

/* Every figure name that appears in any of the rows, in a stable order. */
static json_t *figure_names(json_t *const *base_rows, size_t nb, const json_t *nrow)
{
    json_t *names = json_object(), *list = json_array();
    const char *k;
    json_t *x;
    size_t i;

    for (i = 0; i <= nb; i++) {
        const json_t *row = i < nb ? base_rows[i] : nrow;

        json_object_foreach(json_object_get(row, "figures"), k, x)
        {
            if (!json_object_get(names, k)) {
                json_object_set_new(names, k, json_true());
                json_array_append_new(list, json_string(k));
            }
        }
    }
    json_decref(names);
    return list;
}

static json_t *experiment(const char *name, json_t *const *baselines, size_t nb,
                          const json_t *newer, json_t *worse)
{
    json_t **rows = calloc(nb ? nb : 1, sizeof(*rows)), *names, *figs = json_array(), *o, *n;
    const json_t *nrow = row_of(newer, name), *regression;
    size_t i, k = 0;

    if (rows == NULL || figs == NULL) {
        free(rows);
        json_decref(figs);
        return NULL;
    }
    for (i = 0; i < nb; i++) {
        const json_t *r = row_of(baselines[i], name);

        if (r)
            rows[k++] = (json_t *)r;
    }
    regression = json_object_get(nrow, "regression");
    for (i = 0; regression == NULL && i < k; i++)
        regression = json_object_get(rows[i], "regression");
    names = figure_names(rows, k, nrow);
    json_array_foreach(names, i, n)
    {
        json_t *f = figure(json_string_value(n), rows, k, nrow, regression);

        if (f == NULL)
            continue;
        if (strcmp(json_string_value(json_object_get(f, "verdict")), "worse") == 0)
            json_array_append_new(worse, json_sprintf("%s: %s", name, json_string_value(n)));
        json_array_append_new(figs, f);
    }
    json_decref(names);
    o = json_pack("{s:s,s:s,s:i,s:s?,s:o}", "experiment", name, "status",
                  nrow == NULL ? "missing"
                  : k == 0     ? "new"
                               : "compared",
                  "baseline_runs", (int)k, "verdict",
                  nrow ? json_string_value(json_object_get(nrow, "verdict")) : NULL, "figures",
                  figs);
    free(rows);
    return o;
}

json_t *compare_summaries(json_t *const *baselines, size_t nb, const json_t *newer)
{
    json_t *seen = json_object(), *exps = json_array(), *worse = json_array(), *res;
    const json_t *r;
    size_t i, j;

    if (!seen || !exps || !worse) {
        json_decref(seen);
        json_decref(exps);
        json_decref(worse);
        return NULL;
    }
    /* The new run's experiments first, then any only the baselines have. */
    for (i = 0; i <= nb; i++) {
        const json_t *s = i == 0 ? newer : baselines[i - 1];

        json_array_foreach(json_object_get(s, "experiments"), j, r)
        {
            const char *n = json_string_value(json_object_get(r, "experiment"));

            if (n == NULL || json_object_get(seen, n))
                continue;
            json_object_set_new(seen, n, json_true());
            json_array_append_new(exps, experiment(n, baselines, nb, newer, worse));
        }
    }
    json_decref(seen);
    res = json_pack("{s:s,s:i,s:o,s:o}", "verdict", json_array_size(worse) ? "worse" : "ok",
                    "baseline_runs", (int)nb, "worse", worse, "experiments", exps);
    return res;
}

/* ---- output -------------------------------------------------------------------- */

static void fmt_value(const char *name, const json_t *x, bool present, char *buf, size_t len)
{
    const struct tol_row *r = tol_row(name);
    double v = json_number_value(x);

    if (!present)
        snprintf(buf, len, "-");
    else if (json_is_null(x))
        snprintf(buf, len, "never");
    else if (r && strcmp(r->unit, "ms") == 0)
        snprintf(buf, len,
                 v >= 1000 ? "%.2f s"
                 : v >= 10 ? "%.0f ms"
                           : "%.1f ms",
                 v >= 1000 ? v / 1000 : v);
    else if (r && strcmp(r->unit, "ratio") == 0)
        snprintf(buf, len, "%.2f%%", v * 100);
    else if (r && strcmp(r->unit, "ops/s") == 0)
        snprintf(buf, len, "%.1f/s", v);
    else
        snprintf(buf, len, "%.0f", v);
}

void compare_print(FILE *f, const json_t *result)
{
    const json_t *e, *g;
    size_t i, j;

    json_array_foreach(json_object_get(result, "experiments"), i, e)
    {
        fprintf(f, "%s (%s, %d baseline run%s)\n",
                json_string_value(json_object_get(e, "experiment")),
                json_string_value(json_object_get(e, "status")),
                (int)json_integer_value(json_object_get(e, "baseline_runs")),
                json_integer_value(json_object_get(e, "baseline_runs")) == 1 ? "" : "s");
        fprintf(f, "  %-28s %10s %10s %9s  %-18s %s\n", "figure", "baseline", "new", "change",
                "tolerance", "verdict");
        json_array_foreach(json_object_get(e, "figures"), j, g)
        {
            const char *name = json_string_value(json_object_get(g, "name"));
            const char *v = json_string_value(json_object_get(g, "verdict"));
            const json_t *tol = json_object_get(g, "tolerance");
            char b[32], n[32], ch[32] = "", tl[48], ab[32];
            const json_t *cr = json_object_get(g, "change_relative");

            fmt_value(name, json_object_get(g, "baseline"), strcmp(v, "new") != 0, b, sizeof(b));
            fmt_value(name, json_object_get(g, "new"), strcmp(v, "missing") != 0, n, sizeof(n));
            if (json_is_number(cr))
                snprintf(ch, sizeof(ch), "%+.1f%%", json_number_value(cr) * 100);
            else if (json_is_number(json_object_get(g, "change")))
                snprintf(ch, sizeof(ch), "%+g", json_number_value(json_object_get(g, "change")));
            fmt_value(name, json_object_get(tol, "absolute"), true, ab, sizeof(ab));
            snprintf(tl, sizeof(tl), "%.0f%% or %s",
                     json_number_value(json_object_get(tol, "relative")) * 100, ab);
            fprintf(f, "  %-28s %10s %10s %9s  %-18s %s\n", name, b, n, ch, tl,
                    strcmp(v, "worse") == 0 ? "WORSE" : v);
        }
    }
    if (json_array_size(json_object_get(result, "worse")) > 0) {
        const json_t *w;

        fprintf(f, "worse than the baseline beyond tolerance:");
        json_array_foreach(json_object_get(result, "worse"), i, w)
        {
            fprintf(f, "%s %s", i ? "," : "", json_string_value(w));
        }
        fprintf(f, "\n");
    } else {
        fprintf(f, "no figure got worse beyond its tolerance\n");
    }
}

/* A sparkline of the series (baselines in the order given, the new run last). */
static void sparkline(FILE *f, const json_t *series, bool higher_worse)
{
    double lo = INFINITY, hi = -INFINITY, x, y;
    size_t i, n = json_array_size(series);
    const json_t *v;
    bool pen = false;

    json_array_foreach(series, i, v)
    {
        if (json_is_number(v)) {
            lo = fmin(lo, json_number_value(v));
            hi = fmax(hi, json_number_value(v));
        }
    }
    fprintf(f,
            "<svg width=\"120\" height=\"24\" viewBox=\"0 0 120 24\" role=\"img\"><title>%zu "
            "runs, the last is the new one; %s is worse</title><path d=\"",
            n, higher_worse ? "higher" : "lower");
    if (!(hi > lo)) {
        lo -= 1;
        hi += 1;
    }
    json_array_foreach(series, i, v)
    {
        if (!json_is_number(v)) {
            pen = false;
            continue;
        }
        x = n > 1 ? 4 + 112.0 * (double)i / (double)(n - 1) : 60;
        y = 20 - 16 * (json_number_value(v) - lo) / (hi - lo);
        fprintf(f, "%c%.1f %.1f", pen ? 'L' : 'M', x, y);
        pen = true;
    }
    fputs("\" fill=\"none\" stroke=\"#0969da\" stroke-width=\"1.5\"/>", f);
    v = json_array_get(series, n - 1);
    if (json_is_number(v))
        fprintf(f, "<circle cx=\"116\" cy=\"%.1f\" r=\"2.5\" fill=\"#cf222e\"/>",
                20 - 16 * (json_number_value(v) - lo) / (hi - lo));
    fputs("</svg>", f);
}

int compare_html_write(const char *path, const json_t *result, struct fl_err *err)
{
    char tmp[4400];
    const json_t *e, *g;
    size_t i, j;
    FILE *f;
    int r = 0;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "we");
    if (f == NULL)
        return fl_errf(err, -errno, "cannot write %s: %s", tmp, strerror(errno));
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta "
          "http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
          "'unsafe-inline'\"><title>faultline compare</title><style>body{font:14px/1.45 "
          "system-ui,sans-serif;margin:0 auto;max-width:1000px;padding:12px 20px}table{border-"
          "collapse:collapse;width:100%;margin-bottom:16px}td,th{border:1px solid #d0d7de;"
          "padding:3px 6px;text-align:left}th{background:#f6f8fa}.num{text-align:right}"
          ".worse{color:#cf222e;font-weight:700}.better{color:#1a7f37}</style></head><body>\n",
          f);
    fprintf(f, "<h1>faultline compare: %s</h1>\n",
            strcmp(json_string_value(json_object_get(result, "verdict")), "worse") == 0
                ? "<span class=\"worse\">worse</span>"
                : "no regression");
    json_array_foreach(json_object_get(result, "experiments"), i, e)
    {
        fputs("<h2>", f);
        report_html_escape(f, json_string_value(json_object_get(e, "experiment")));
        fputs("</h2>\n<table><thead><tr><th>figure</th><th>trend</th><th class=\"num\">baseline "
              "(median)</th><th class=\"num\">new</th><th>verdict</th></tr></thead><tbody>\n",
              f);
        json_array_foreach(json_object_get(e, "figures"), j, g)
        {
            const char *name = json_string_value(json_object_get(g, "name"));
            const char *v = json_string_value(json_object_get(g, "verdict"));
            char b[32], n[32];

            fmt_value(name, json_object_get(g, "baseline"), strcmp(v, "new") != 0, b, sizeof(b));
            fmt_value(name, json_object_get(g, "new"), strcmp(v, "missing") != 0, n, sizeof(n));
            fputs("<tr><td>", f);
            report_html_escape(f, name);
            fputs("</td><td>", f);
            sparkline(f, json_object_get(g, "series"),
                      strcmp(json_string_value(
                                 json_object_get(json_object_get(g, "tolerance"), "worse_when")),
                             "higher") == 0);
            fprintf(f,
                    "</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"%s\">%s"
                    "</td></tr>\n",
                    b, n, v, v);
        }
        fputs("</tbody></table>\n", f);
    }
    fputs("<p>Raw data: <a href=\"compare.json\">compare.json</a>.</p></body></html>\n", f);
    return fl_file_commit(f, tmp, path, r, err);
}

/* ---- the command ----------------------------------------------------------------- */

static void compare_usage(FILE *out)
{
    fprintf(out, "usage: faultline compare [-q] [--out DIR] BASELINE... NEW\n"
                 "\n"
                 "Compare a new run with earlier ones: per experiment and figure (failover and\n"
                 "failback per class, data lost, availability per phase and class, achieved\n"
                 "rate, p99 latency) the baseline (median of the given runs), the new value and\n"
                 "the change. A figure is worse when it moved the bad way by more than\n"
                 "max(relative x baseline, absolute); defaults: failover +25%% or 500 ms,\n"
                 "failback +25%% or 1 s, data lost +50%% or 5 writes, availability -2%% or 0.01,\n"
                 "achieved rate -10%% or 5/s, p99 latency +50%% or 20 ms; an experiment\n"
                 "overrides them under verify.regression. Every argument is a run folder (its\n"
                 "summary.json or report.json) or such a file. Writes compare.json and\n"
                 "compare.html (the figures over the runs as sparklines) into --out (default:\n"
                 "NEW when it is a folder, else the current folder).\n"
                 "\n"
                 "options:\n"
                 "  -o, --out DIR  where compare.json and compare.html go\n"
                 "  -q, --quiet    print only what got worse\n"
                 "  -h, --help     show this help\n"
                 "\n"
                 "examples:\n"
                 "  faultline compare nightly/2026-01-0[1-7] nightly/2026-01-08\n"
                 "  faultline compare --out /tmp/cmp base/summary.json new/summary.json\n"
                 "\n"
                 "exit codes:\n"
                 "  0  no figure got worse beyond its tolerance\n"
                 "  1  a figure got worse beyond its tolerance\n"
                 "  2  the command line is wrong or an input is not a run\n"
                 "  3  compare.json or compare.html could not be written\n");
}

int cmd_compare(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    bool quiet = false;
    json_t **in = NULL, *res = NULL;
    struct fl_err err = {0};
    struct stat st;
    char path[4200];
    int c, i, n, code = FL_EXIT_OK;

    optind = 1;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 'q')
            quiet = true;
        else {
            compare_usage(c == 'h' ? stdout : stderr);
            return c == 'h' ? FL_EXIT_OK : FL_EXIT_USAGE;
        }
    }
    n = argc - optind;
    if (n < 2) {
        fprintf(stderr, "faultline compare: give at least one baseline and the new run\n\n");
        compare_usage(stderr);
        return FL_EXIT_USAGE;
    }
    in = calloc((size_t)n, sizeof(*in));
    if (in == NULL)
        return FL_EXIT_HARNESS;
    for (i = 0; i < n; i++) {
        in[i] = compare_load(argv[optind + i], &err);
        if (in[i] == NULL) {
            fprintf(stderr, "faultline compare: %s\n", err.msg);
            code = FL_EXIT_USAGE;
            goto out;
        }
    }
    res = compare_summaries(in, (size_t)n - 1, in[n - 1]);
    if (res == NULL) {
        code = FL_EXIT_HARNESS;
        goto out;
    }
    if (!quiet)
        compare_print(stdout, res);
    else if (json_array_size(json_object_get(res, "worse")))
        compare_print(stdout, res);
    if (out == NULL)
        out = stat(argv[argc - 1], &st) == 0 && S_ISDIR(st.st_mode) ? argv[argc - 1] : ".";
    snprintf(path, sizeof(path), "%s/compare.json", out);
    if (json_dump_file(res, path, JSON_INDENT(2)) != 0) {
        fprintf(stderr, "faultline compare: cannot write %s\n", path);
        code = FL_EXIT_HARNESS;
        goto out;
    }
    snprintf(path, sizeof(path), "%s/compare.html", out);
    if (compare_html_write(path, res, &err) < 0) {
        fprintf(stderr, "faultline compare: %s\n", err.msg);
        code = FL_EXIT_HARNESS;
        goto out;
    }
    code = strcmp(json_string_value(json_object_get(res, "verdict")), "worse") == 0 ? FL_EXIT_VERIFY
                                                                                    : FL_EXIT_OK;
out:
    for (i = 0; i < n; i++)
        json_decref(in[i]);
    free(in);
    json_decref(res);
    return code;
}
