/*
 * The figures of a run in one row (summary.json), the index of a run of
 * several experiments (index.html), and `faultline report RUN_DIR`, which
 * redraws report.html (and prints the terminal summary) from the files of a
 * run folder alone. See docs/internals/report.md.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faultline/file.h"
#include "faultline/json.h"

#include "commands.h"
#include "report.h"
#include "report_html.h"

static const json_t *vget(const json_t *report, const char *name)
{
    return fl_json_find(json_object_get(report, "verifiers"), "name", name);
}

/* failover.<class>_ms for every class the verifier required (null: never recovered). */
static void recovery_figures(json_t *fig, const json_t *report, const char *vname)
{
    const json_t *rto = json_object_get(json_object_get(vget(report, vname), "measured"), "rto_ms");
    const char *k;
    json_t *x;
    char name[128];

    bool rw = json_object_get(rto, "read") || json_object_get(rto, "write");

    json_object_foreach((json_t *)rto, k, x)
    {
        if (rw && strcmp(k, "read") != 0 && strcmp(k, "write") != 0)
            continue; /* per operation: in report.json */
        snprintf(name, sizeof(name), "%s.%s_ms", vname, k);
        json_object_set_new(fig, name,
                            json_is_number(x) ? json_real(json_number_value(x)) : json_null());
    }
}

/* ---- promises: the document's own table ------------------------------------ */

/* What the cell says of one experiment: kept (pass), broken (fail), else inconclusive. */
static const char *promise_status(const char *verdict)
{
    if (verdict && strcmp(verdict, "pass") == 0)
        return "kept";
    if (verdict && strcmp(verdict, "fail") == 0)
        return "broken";
    return "inconclusive";
}

/*
 * What a cell shows of availability and routing, the figures behind their
 * verdicts: each floor's measured ratio of the first fault ("during read
 * 98.5%"), each phase's share of reads from the expected region ("during
 * 100% of 785 from west").
 */
static void cell_figures(const json_t *v, const char *name, char *m, size_t ml)
{
    const json_t *f0 = json_array_get(json_object_get(json_object_get(v, "measured"), "faults"), 0);
    const json_t *x;
    size_t i, used = 0;

    m[0] = '\0';
    if (strcmp(name, "availability") == 0) {
        json_array_foreach(json_object_get(json_object_get(v, "bound"), "floors"), i, x)
        {
            const char *cls = json_string_value(json_object_get(x, "class"));
            const char *ph = json_string_value(json_object_get(x, "phase"));
            const json_t *r = json_object_get(
                json_object_get(json_object_get(f0, ph ? ph : ""), cls ? cls : ""), "ratio");

            char one[160];

            if (json_is_number(r))
                snprintf(one, sizeof(one), "%s %s %.1f%% (>= %.0f%%)", ph ? ph : "any",
                         cls ? cls : "?", json_number_value(r) * 100,
                         json_number_value(json_object_get(x, "min")) * 100);
            else
                snprintf(one, sizeof(one), "%s %s -", ph ? ph : "any", cls ? cls : "?");
            if (used < ml)
                used += (size_t)snprintf(m + used, ml - used, "%s%s", used ? ", " : "", one);
        }
    } else if (strcmp(name, "routing") == 0) {
        static const char *const phases[] = {"before", "during", "after"};

        for (i = 0; i < 3; i++) {
            const json_t *p = json_object_get(f0, phases[i]);
            const json_t *r = json_object_get(p, "ratio");

            if (p == NULL || used >= ml)
                continue;
            if (json_is_number(r))
                used += (size_t)snprintf(m + used, ml - used,
                                         "%s%s %.1f%% of %" JSON_INTEGER_FORMAT " reads from %s",
                                         used ? ", " : "", phases[i], json_number_value(r) * 100,
                                         json_integer_value(json_object_get(p, "ok_reads")),
                                         json_string_value(json_object_get(p, "expected")));
            else
                used += (size_t)snprintf(m + used, ml - used, "%s%s not judged", used ? ", " : "",
                                         phases[i]);
        }
    }
}

/* One verifier's figure in one line: "data_loss: 0 lost (bound <= 0 lost) pass". */
static void figure_line(const json_t *v, char *line, size_t len)
{
    char m[512], b[512], c[1024];
    const char *name = json_string_value(json_object_get(v, "name"));
    const char *st = json_string_value(json_object_get(v, "status"));

    report_verifier_figures(v, m, sizeof(m), b, sizeof(b));
    cell_figures(v, name ? name : "", c, sizeof(c));
    if (c[0])
        snprintf(line, len, "%s: %s %s", name ? name : "?", c, st ? st : "?");
    else
        snprintf(line, len, "%s: %s (bound %s) %s", name ? name : "?", m, b, st ? st : "?");
}

static bool listed(const json_t *names, const char *s)
{
    const json_t *x;
    size_t i;

    json_array_foreach(names, i, x)
    {
        if (s && strcmp(json_string_value(x), s) == 0)
            return true;
    }
    return false;
}

/*
 * The row's "promises": each cell of the report's promise with its "status"
 * and "measured" (the figure of every verifier that decides it: those the
 * cell names, else all). A cell's status: broken when one of its verifiers
 * failed, inconclusive when one was inconclusive, is missing or the run did
 * not complete, else kept; a cell that names none follows the verdict.
 */
static void promise_row(json_t *row, const json_t *report)
{
    const char *verdict = json_string_value(json_object_get(report, "verdict"));
    const json_t *cell, *v;
    json_t *out = json_array();
    size_t i, j;

    json_array_foreach(json_object_get(report, "promise"), i, cell)
    {
        const json_t *names = json_object_get(cell, "verifiers");
        char line[1200], all[4096] = "";
        size_t used = 0, found = 0;
        bool broken = false, unsure = false;
        json_t *c = json_deep_copy(cell);

        json_array_foreach(json_object_get(report, "verifiers"), j, v)
        {
            const char *name = json_string_value(json_object_get(v, "name"));
            const char *st = json_string_value(json_object_get(v, "status"));

            if (names && !listed(names, name))
                continue;
            found++;
            broken |= st && strcmp(st, "fail") == 0;
            unsure |= !st || strcmp(st, "inconclusive") == 0;
            figure_line(v, line, sizeof(line));
            if (used + strlen(line) + 3 < sizeof(all)) {
                used += (size_t)snprintf(all + used, sizeof(all) - used, "%s%s", used ? "; " : "",
                                         line);
            }
        }
        if (!used && json_string_value(json_object_get(report, "reason")))
            snprintf(all, sizeof(all), "%s", json_string_value(json_object_get(report, "reason")));
        if (c == NULL)
            continue;
        if (!names)
            json_object_set_new(c, "status", json_string(promise_status(verdict)));
        else if (broken && verdict && strcmp(verdict, "error") != 0)
            json_object_set_new(c, "status", json_string("broken"));
        else if (unsure || found < json_array_size(names) || !verdict ||
                 strcmp(verdict, "error") == 0)
            json_object_set_new(c, "status", json_string("inconclusive"));
        else
            json_object_set_new(c, "status", json_string("kept"));
        json_object_set_new(c, "measured", json_string(all));
        json_array_append_new(out, c);
    }
    json_object_set_new(row, "promises", out);
}

static void append_unique(json_t *list, const char *s)
{
    const json_t *x;
    size_t i;

    json_array_foreach(list, i, x)
    {
        if (strcmp(json_string_value(x), s) == 0)
            return;
    }
    json_array_append_new(list, json_string(s));
}

/*
 * The promise tables of the summary rows: [{"doc", "rows": [...], "columns":
 * [...], "cells": {"<row>\n<column>": {"claim", "status", "experiments":
 * [row...]}}}], documents, rows and columns in the order the experiments
 * first name them. A cell several experiments check is broken when one
 * broke it, else inconclusive when one was, else kept.
 */
json_t *report_promise_tables(const json_t *summary)
{
    json_t *docs = json_array(), *d, *cell;
    const json_t *r, *pr;
    size_t i, j;
    char key[1100];

    if (docs == NULL)
        return NULL;
    json_array_foreach(json_object_get(summary, "experiments"), i, r)
    {
        const json_t *pc;
        size_t n;

        json_array_foreach(json_object_get(r, "promises"), n, pc)
        {
            const char *doc, *row, *col, *claim, *st;
            json_t *e;

            doc = json_string_value(json_object_get(pc, "doc"));
            row = json_string_value(json_object_get(pc, "row"));
            col = json_string_value(json_object_get(pc, "column"));
            claim = json_string_value(json_object_get(pc, "claim"));
            st = json_string_value(json_object_get(pc, "status"));
            if (!doc || !row || !col || !claim || !st)
                continue;
            d = NULL;
            json_array_foreach(docs, j, pr)
            {
                if (strcmp(json_string_value(json_object_get(pr, "doc")), doc) == 0)
                    d = (json_t *)pr;
            }
            if (d == NULL) {
                d = json_pack("{s:s,s:[],s:[],s:{}}", "doc", doc, "rows", "columns", "cells");
                if (d == NULL || json_array_append_new(docs, d) < 0)
                    return docs;
            }
            append_unique(json_object_get(d, "rows"), row);
            append_unique(json_object_get(d, "columns"), col);
            snprintf(key, sizeof(key), "%s\n%s", row, col);
            cell = json_object_get(json_object_get(d, "cells"), key);
            if (cell == NULL) {
                cell = json_pack("{s:s,s:s,s:[]}", "claim", claim, "status", st, "experiments");
                json_object_set_new(json_object_get(d, "cells"), key, cell);
            } else {
                const char *was = json_string_value(json_object_get(cell, "status"));

                if (strcmp(st, "broken") == 0 ||
                    (strcmp(st, "inconclusive") == 0 && strcmp(was, "kept") == 0))
                    json_object_set_new(cell, "status", json_string(st));
                if (strcmp(json_string_value(json_object_get(cell, "claim")), claim) != 0) {
                    char both[1200];

                    snprintf(both, sizeof(both), "%s / %s",
                             json_string_value(json_object_get(cell, "claim")), claim);
                    json_object_set_new(cell, "claim", json_string(both));
                }
            }
            /* what the table shows of this experiment for this cell */
            e = json_pack("{s:s?,s:s?,s:s,s:s?}", "experiment",
                          json_string_value(json_object_get(r, "experiment")), "link",
                          json_string_value(json_object_get(r, "link")), "status", st, "measured",
                          json_string_value(json_object_get(pc, "measured")));
            if (cell && e)
                json_array_append_new(json_object_get(cell, "experiments"), e);
        }
    }
    return docs;
}

/* Markdown table text: no pipe, no line break. */
static void md_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

static void promises_md(FILE *f, const json_t *docs)
{
    const json_t *d, *c, *rn, *cn, *e;
    size_t i, j, k, x;
    char key[1100];

    fputs("# Promises, measured\n\nEach cell: the claim the document makes, what the run "
          "measured, and **kept** (every verifier passed), **broken** (one failed) or "
          "**inconclusive** (nothing to judge, or the run did not complete).\n",
          f);
    if (json_array_size(docs) == 0)
        fputs("\nNo experiment of this run has a `promise:` block.\n", f);
    json_array_foreach(docs, i, d)
    {
        fputs("\n## ", f);
        md_text(f, json_string_value(json_object_get(d, "doc")));
        fputs("\n\n| |", f);
        json_array_foreach(json_object_get(d, "columns"), j, cn)
        {
            fputc(' ', f);
            md_text(f, json_string_value(cn));
            fputs(" |", f);
        }
        fputs("\n|---|", f);
        for (j = 0; j < json_array_size(json_object_get(d, "columns")); j++)
            fputs("---|", f);
        fputc('\n', f);
        json_array_foreach(json_object_get(d, "rows"), j, rn)
        {
            fputs("| ", f);
            md_text(f, json_string_value(rn));
            fputs(" |", f);
            json_array_foreach(json_object_get(d, "columns"), k, cn)
            {
                snprintf(key, sizeof(key), "%s\n%s", json_string_value(rn), json_string_value(cn));
                c = json_object_get(json_object_get(d, "cells"), key);
                if (c == NULL) {
                    fputs(" - |", f);
                    continue;
                }
                fprintf(f, " **%s**: ", json_string_value(json_object_get(c, "status")));
                md_text(f, json_string_value(json_object_get(c, "claim")));
                json_array_foreach(json_object_get(c, "experiments"), x, e)
                {
                    fputs(x ? "; " : ". ", f);
                    fputc('[', f);
                    md_text(f, json_string_value(json_object_get(e, "experiment")));
                    fputs("](", f);
                    md_text(f, json_string_value(json_object_get(e, "link")));
                    fprintf(f, ") %s: ", json_string_value(json_object_get(e, "status")));
                    md_text(f, json_string_value(json_object_get(e, "measured")));
                }
                fputs(" |", f);
            }
            fputc('\n', f);
        }
    }
}

static void promises_html(FILE *f, const json_t *docs)
{
    const json_t *d, *c, *rn, *cn, *e;
    size_t i, j, k, x;
    char key[1100];

    if (json_array_size(docs) == 0)
        return;
    fputs("<h2 id=\"promises\">Promises</h2>\n<p>Each cell: the claim, what was measured, and "
          "kept / broken / inconclusive (also in <a href=\"promises.md\">promises.md</a>).</p>\n",
          f);
    json_array_foreach(docs, i, d)
    {
        fputs("<h3>", f);
        report_html_escape(f, json_string_value(json_object_get(d, "doc")));
        fputs("</h3>\n<table class=\"promises\"><thead><tr><th></th>", f);
        json_array_foreach(json_object_get(d, "columns"), j, cn)
        {
            fputs("<th>", f);
            report_html_escape(f, json_string_value(cn));
            fputs("</th>", f);
        }
        fputs("</tr></thead><tbody>\n", f);
        json_array_foreach(json_object_get(d, "rows"), j, rn)
        {
            fputs("<tr><th>", f);
            report_html_escape(f, json_string_value(rn));
            fputs("</th>", f);
            json_array_foreach(json_object_get(d, "columns"), k, cn)
            {
                const char *st;

                snprintf(key, sizeof(key), "%s\n%s", json_string_value(rn), json_string_value(cn));
                c = json_object_get(json_object_get(d, "cells"), key);
                if (c == NULL) {
                    fputs("<td>-</td>", f);
                    continue;
                }
                st = json_string_value(json_object_get(c, "status"));
                fprintf(f, "<td class=\"p-%s\"><b>%s</b><br>", st, st);
                report_html_escape(f, json_string_value(json_object_get(c, "claim")));
                json_array_foreach(json_object_get(c, "experiments"), x, e)
                {
                    const char *link = json_string_value(json_object_get(e, "link"));

                    fputs("<br><small>", f);
                    if (link) {
                        fputs("<a href=\"", f);
                        report_html_escape(f, link);
                        fputs("\">", f);
                    }
                    report_html_escape(f, json_string_value(json_object_get(e, "experiment")));
                    fputs(link ? "</a> " : " ", f);
                    report_html_escape(f, json_string_value(json_object_get(e, "status")));
                    fputs(": ", f);
                    report_html_escape(f, json_string_value(json_object_get(e, "measured")));
                    fputs("</small>", f);
                }
                fputs("</td>", f);
            }
            fputs("</tr>\n", f);
        }
        fputs("</tbody></table>\n", f);
    }
}

json_t *report_summary_row(const json_t *report, const char *link)
{
    json_t *fig = json_object(), *row;
    const json_t *dl = vget(report, "data_loss"), *av = json_object_get(report, "availability");
    const json_t *p99 = json_object_get(json_object_get(report, "latency_ms"), "p99"), *x, *y;
    const json_t *rate = json_object_get(json_object_get(report, "rate"), "achieved");
    const char *ph, *cl;
    char name[160];

    if (fig == NULL)
        return NULL;
    recovery_figures(fig, report, "failover");
    recovery_figures(fig, report, "failback");
    if (dl && json_is_integer(json_object_get(json_object_get(dl, "measured"), "lost_updates")))
        json_object_set(fig, "data_lost",
                        json_object_get(json_object_get(dl, "measured"), "lost_updates"));
    json_object_foreach((json_t *)av, ph, x)
    {
        json_object_foreach((json_t *)x, cl, y)
        {
            snprintf(name, sizeof(name), "availability.%s.%s", ph, cl);
            json_object_set(fig, name, (json_t *)y);
        }
    }
    if (json_is_number(rate))
        json_object_set_new(fig, "rate_achieved", json_real(json_number_value(rate)));
    if (json_is_number(p99))
        json_object_set_new(fig, "latency_p99_ms", json_real(json_number_value(p99)));
    row = json_pack(
        "{s:s,s:s,s:s?,s:f,s:o}", "experiment",
        json_string_value(json_object_get(report, "experiment"))
            ? json_string_value(json_object_get(report, "experiment"))
            : "unnamed",
        "verdict",
        json_string_value(json_object_get(report, "verdict"))
            ? json_string_value(json_object_get(report, "verdict"))
            : "error",
        "link", link, "duration_s",
        json_number_value(json_object_get(json_object_get(report, "durations_ms"), "total")) /
            1000.0,
        "figures", fig);
    if (row && json_object_get(report, "regression"))
        json_object_set(row, "regression", json_object_get(report, "regression"));
    if (row && json_object_get(report, "started_wall"))
        json_object_set(row, "started_wall", json_object_get(report, "started_wall"));
    if (row && json_is_array(json_object_get(report, "promise")))
        promise_row(row, report);
    return row;
}

static void cell_ms(FILE *f, const json_t *x)
{
    if (x == NULL)
        fputs("<td class=\"num\">-</td>", f);
    else if (json_is_null(x))
        fputs("<td class=\"num\">never</td>", f);
    else
        fprintf(f, "<td class=\"num\">%.2f s</td>", json_number_value(x) / 1000);
}

static void cell_ratio(FILE *f, const json_t *x)
{
    if (json_is_number(x))
        fprintf(f, "<td class=\"num\">%.2f%%</td>", json_number_value(x) * 100);
    else
        fputs("<td class=\"num\">-</td>", f);
}

static void index_html(FILE *f, const json_t *rows)
{
    const json_t *r;
    json_t *docs;
    size_t i;

    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta "
          "http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
          "'unsafe-inline'\"><title>faultline run</title><style>body{font:14px/1.45 "
          "system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:12px 20px;color:#1b1f24}"
          "table{border-collapse:collapse;width:100%}td,th{border:1px solid #d0d7de;padding:3px "
          "6px;text-align:left}th{background:#f6f8fa}.num{text-align:right}.v-pass{color:#1a7f37;"
          "font-weight:700}.v-fail{color:#cf222e;font-weight:700}.v-inconclusive{color:#9a6700;"
          "font-weight:700}.v-error{color:#6e7781;font-weight:700}.p-kept{background:#dafbe1}"
          ".p-broken{background:#ffebe9}.p-inconclusive{background:#fff8c5}</style></head><body>\n"
          "<h1>faultline run</h1>\n<table class=\"experiments\"><thead><tr><th>experiment</th>"
          "<th>verdict</th><th class=\"num\">failover read</th><th class=\"num\">failover "
          "write</th><th class=\"num\">failback read</th><th class=\"num\">failback write</th><th "
          "class=\"num\">data lost</th><th "
          "class=\"num\">available during (read)</th><th class=\"num\">available during "
          "(write)</th><th class=\"num\">duration</th></tr></thead><tbody>\n",
          f);
    json_array_foreach(json_object_get(rows, "experiments"), i, r)
    {
        const json_t *fig = json_object_get(r, "figures");
        const char *v = json_string_value(json_object_get(r, "verdict"));
        const char *link = json_string_value(json_object_get(r, "link"));

        fputs("<tr><td>", f);
        if (link) {
            fputs("<a href=\"", f);
            report_html_escape(f, link);
            fputs("\">", f);
        }
        report_html_escape(f, json_string_value(json_object_get(r, "experiment")));
        /* a repeated experiment: its folder tells the runs apart */
        if (link && strncmp(link, json_string_value(json_object_get(r, "experiment")),
                            strcspn(link, "/")) != 0) {
            fprintf(f, " (%.*s)", (int)strcspn(link, "/"), link);
        }
        fprintf(f, "%s</td><td class=\"v-%s\">%s</td>", link ? "</a>" : "", v, v);
        cell_ms(f, json_object_get(fig, "failover.read_ms"));
        cell_ms(f, json_object_get(fig, "failover.write_ms"));
        cell_ms(f, json_object_get(fig, "failback.read_ms"));
        cell_ms(f, json_object_get(fig, "failback.write_ms"));
        if (json_is_integer(json_object_get(fig, "data_lost")))
            fprintf(f, "<td class=\"num\">%" JSON_INTEGER_FORMAT "</td>",
                    json_integer_value(json_object_get(fig, "data_lost")));
        else
            fputs("<td class=\"num\">-</td>", f);
        cell_ratio(f, json_object_get(fig, "availability.during.read"));
        cell_ratio(f, json_object_get(fig, "availability.during.write"));
        fprintf(f, "<td class=\"num\">%.1f s</td></tr>\n",
                json_number_value(json_object_get(r, "duration_s")));
    }
    fputs("</tbody></table>\n<p>Raw data: <a href=\"summary.json\">summary.json</a>, <a "
          "href=\"junit.xml\">junit.xml</a>. A dash: the experiment has no such figure (no "
          "such verifier or class); never: the class did not recover.</p>\n",
          f);
    docs = report_promise_tables(rows);
    promises_html(f, docs);
    json_decref(docs);
    fputs("</body></html>\n", f);
}

enum out_kind { OUT_JSON, OUT_HTML, OUT_MD };

static int write_atomically(const char *path, const json_t *rows, enum out_kind kind,
                            struct fl_err *err)
{
    json_t *docs;
    char tmp[4400];
    FILE *f;
    int r = 0;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "we");
    if (f == NULL)
        return fl_errf(err, -errno, "cannot write %s: %s", tmp, strerror(errno));
    if (kind == OUT_HTML) {
        index_html(f, rows);
    } else if (kind == OUT_MD) {
        docs = report_promise_tables(rows);
        promises_md(f, docs);
        json_decref(docs);
    } else if (json_dumpf(rows, f, JSON_INDENT(2)) < 0) {
        r = -EIO;
    }
    return fl_file_commit(f, tmp, path, r, err);
}

int report_index_write(const char *dir, json_t *const *reports, const char *const *subdirs,
                       size_t n, struct fl_err *err)
{
    json_t *rows = json_pack("{s:[]}", "experiments");
    char path[4200], link[4200];
    size_t i;
    int r;

    if (rows == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        if (reports[i] == NULL)
            continue;
        if (subdirs != NULL) {
            snprintf(link, sizeof(link), "%s/report.html", subdirs[i]);
        } else {
            /* the report's own folder, relative to dir */
            const char *o = json_string_value(json_object_get(reports[i], "out"));
            size_t dl = strlen(dir);

            if (o && strncmp(o, dir, dl) == 0 && o[dl] == '/')
                o += dl + 1;
            snprintf(link, sizeof(link), "%s/report.html", o ? o : ".");
        }
        json_array_append_new(json_object_get(rows, "experiments"),
                              report_summary_row(reports[i], link));
    }
    snprintf(path, sizeof(path), "%s/summary.json", dir);
    r = write_atomically(path, rows, OUT_JSON, err);
    snprintf(path, sizeof(path), "%s/index.html", dir);
    if (r == 0)
        r = write_atomically(path, rows, OUT_HTML, err);
    snprintf(path, sizeof(path), "%s/promises.md", dir);
    if (r == 0)
        r = write_atomically(path, rows, OUT_MD, err);
    json_decref(rows);
    return r;
}

/* ---- faultline report ------------------------------------------------------ */

static void report_usage(FILE *out)
{
    fprintf(out, "usage: faultline report [-q] [-v] RUN_DIR\n"
                 "\n"
                 "Redraw report.html from the files of a run folder (report.json,\n"
                 "history.jsonl, faults.jsonl) and print the run's summary: one line per\n"
                 "verifier with the measured figure against its bound. A folder holding one\n"
                 "subfolder per experiment (a run of several files) gets every report redrawn\n"
                 "and index.html and summary.json rewritten.\n"
                 "\n"
                 "options:\n"
                 "  -q, --quiet    print nothing but errors\n"
                 "  -v, --verbose  also print each verifier's method paragraph\n"
                 "  -h, --help     show this help\n"
                 "\n"
                 "examples:\n"
                 "  faultline report runs/key-vault-region-outage-20260101-020000\n"
                 "  faultline report /var/lib/nightly/2026-01-01\n"
                 "\n"
                 "exit codes:\n"
                 "  0  the report was written\n"
                 "  2  the folder is not a run folder, or the command line is wrong\n"
                 "  3  a file could not be read or written\n");
}

/* Redraw one experiment folder; *report gets its report (caller decrefs). */
static int redraw(const char *dir, bool quiet, bool verbose, json_t **out)
{
    struct hist h;
    struct hist_faults hf = {0};
    struct fl_err err = {0};
    json_error_t je;
    char p[4200];
    json_t *report, *stats;
    int code = FL_EXIT_OK;

    snprintf(p, sizeof(p), "%s/report.json", dir);
    report = json_load_file(p, 0, &je);
    if (report == NULL) {
        fprintf(stderr, "faultline report: %s: %s\n", p, je.text);
        return FL_EXIT_USAGE;
    }
    hist_init(&h);
    snprintf(p, sizeof(p), "%s/history.jsonl", dir);
    if (access(p, F_OK) == 0 && hist_load_jsonl(p, &h, &err) < 0) {
        fprintf(stderr, "faultline report: %s\n", err.msg);
        code = FL_EXIT_HARNESS;
        goto out;
    }
    snprintf(p, sizeof(p), "%s/faults.jsonl", dir);
    if (access(p, F_OK) == 0 && hist_faults_load_jsonl(p, &hf, &err) < 0) {
        fprintf(stderr, "faultline report: %s\n", err.msg);
        code = FL_EXIT_HARNESS;
        goto out;
    }
    /* Runs from before these figures existed get them now (report.json is left alone). */
    if (json_object_get(report, "latency_ms") == NULL && (stats = report_stats_json(&h, &hf))) {
        json_object_update_missing(report, stats);
        json_decref(stats);
    }
    if (report_html_write(dir, report, &h, &hf, &err) < 0) {
        fprintf(stderr, "faultline report: %s\n", err.msg);
        code = FL_EXIT_HARNESS;
        goto out;
    }
    if (!quiet) {
        printf("[%s] %s\n", json_string_value(json_object_get(report, "experiment")),
               json_string_value(json_object_get(report, "verdict")));
        report_summary_print(stdout, report, dir, verbose);
    }
out:
    hist_free(&h);
    hist_faults_free(&hf);
    if (code == FL_EXIT_OK)
        *out = report;
    else
        json_decref(report);
    return code;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A folder of experiment folders: redraw each, then the index. */
static int redraw_all(const char *dir, bool quiet, bool verbose)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL, p[4200], sub[4200];
    json_t **reports = NULL;
    size_t n = 0, cap = 0, i;
    struct fl_err err = {0};
    int code = FL_EXIT_OK, r;

    if (d == NULL) {
        fprintf(stderr, "faultline report: %s: %s\n", dir, strerror(errno));
        return FL_EXIT_USAGE;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s/report.json", dir, e->d_name);
        if (access(p, R_OK) != 0)
            continue;
        if (n == cap) {
            char **nn = realloc(names, (cap = cap ? cap * 2 : 8) * sizeof(*names));

            if (nn == NULL)
                break;
            names = nn;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "faultline report: %s: no report.json in it or in its subfolders\n", dir);
        free(names);
        return FL_EXIT_USAGE;
    }
    qsort(names, n, sizeof(*names), cmp_str);
    reports = calloc(n, sizeof(*reports));
    for (i = 0; reports && i < n; i++) {
        snprintf(sub, sizeof(sub), "%s/%s", dir, names[i]);
        r = redraw(sub, quiet, verbose, &reports[i]);
        code = r > code ? r : code;
    }
    if (reports && report_index_write(dir, reports, (const char *const *)names, n, &err) < 0) {
        fprintf(stderr, "faultline report: %s\n", err.msg);
        code = FL_EXIT_HARNESS;
    } else if (reports && !quiet) {
        printf("index: %s/index.html\n", dir);
    }
    for (i = 0; i < n; i++) {
        free(names[i]);
        if (reports)
            json_decref(reports[i]);
    }
    free(names);
    free(reports);
    return reports ? code : FL_EXIT_HARNESS;
}

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool quiet = false, verbose = false;
    char p[4200];
    json_t *report = NULL;
    int c, code;

    optind = 1;
    while ((c = getopt_long(argc, argv, "qvh", opts, NULL)) != -1) {
        if (c == 'q')
            quiet = true;
        else if (c == 'v')
            verbose = true;
        else {
            report_usage(c == 'h' ? stdout : stderr);
            return c == 'h' ? FL_EXIT_OK : FL_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "faultline report: expected one run folder\n\n");
        report_usage(stderr);
        return FL_EXIT_USAGE;
    }
    snprintf(p, sizeof(p), "%s/report.json", argv[optind]);
    if (access(p, F_OK) != 0)
        return redraw_all(argv[optind], quiet, verbose);
    code = redraw(argv[optind], quiet, verbose, &report);
    json_decref(report);
    return code;
}
