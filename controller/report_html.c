/*
 * report.html: one self-contained page per experiment run (see
 * report_html.h and docs/internals/report.md). Inline CSS and SVG only: no
 * script, no font, no URL but links to the files beside it, so it reads the
 * same from a CI artifact, a mail attachment or with scripts off.
 *
 * The size is bounded whatever the run's length: time is cut into NBINS bins
 * and every chart draws bins, never operations. The timeline is one SVG whose
 * time axis is declared on the element (data-t0-ns, data-t1-ns, data-x0,
 * data-x1: x = x0 + (t - t0) * (x1 - x0) / (t1 - t0)), so a test or a reader
 * can map any mark back to the history's clock.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultline/file.h"

#include "report_html_int.h"
const char *const report_cl_name[NCL] = {"read", "write"};

/* ---- small helpers ---------------------------------------------------------- */

void report_html_escape(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");

    for (; *p; p++) {
        if (*p == '&')
            fputs("&amp;", f);
        else if (*p == '<')
            fputs("&lt;", f);
        else if (*p == '>')
            fputs("&gt;", f);
        else if (*p == '"')
            fputs("&quot;", f);
        else if (*p == '\'')
            fputs("&#39;", f);
        else if (*p < 0x20 && *p != '\n' && *p != '\t')
            fputc('?', f);
        else
            fputc(*p, f);
    }
}

/* ---- the page ------------------------------------------------------------- */

static const char css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;"
    "max-width:1000px;padding:12px 20px;color:#1b1f24;background:#fff}"
    "h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:22px 0 8px;border-bottom:1px solid "
    "#d0d7de;padding-bottom:3px}"
    "table{border-collapse:collapse;width:100%;margin:6px 0}td,th{border:1px solid "
    "#d0d7de;padding:3px 6px;text-align:left;vertical-align:top}th{background:#f6f8fa}"
    ".verdict{display:inline-block;padding:2px 10px;border-radius:4px;font-weight:700;"
    "color:#fff}.v-pass{background:#1a7f37}.v-fail{background:#cf222e}.v-inconclusive{background:"
    "#9a6700}.v-error{background:#6e7781}"
    ".st-pass{color:#1a7f37;font-weight:600}.st-fail{color:#cf222e;font-weight:700}"
    ".st-inconclusive{color:#9a6700;font-weight:600}"
    "dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:6px 0}"
    "dt{color:#57606a}dd{margin:0}details pre{white-space:pre-wrap;font-size:12px;background:"
    "#f6f8fa;padding:6px}pre{overflow-x:auto}.num{text-align:right;font-variant-numeric:tabular-"
    "nums}"
    "svg text{font:11px system-ui,sans-serif;fill:#1b1f24}.small{font-size:12px;color:#57606a}"
    ".fault{fill:#cf222e;fill-opacity:.10;stroke:#cf222e;stroke-opacity:.5}"
    ".uncert{fill:#cf222e;fill-opacity:.35}.ro{fill:#9a6700;fill-opacity:.15}"
    ".ok{fill:#2da44e}.fail{fill:#cf222e}.info{fill:#bf8700}"
    ".p50{stroke:#0969da;fill:none}.p99{stroke:#8250df;fill:none;stroke-dasharray:5 3}"
    ".max{stroke:#57606a;fill:none;stroke-dasharray:1 3}"
    ".mk{stroke:#0969da;stroke-width:2}.mkb{stroke:#1a7f37;stroke-width:2;stroke-dasharray:4 2}"
    ".lost{fill:#cf222e;stroke:#000}.axis{stroke:#8c959f}.grid{stroke:#eaeef2}"
    ".op-ok{fill:#2da44e;fill-opacity:.6}.op-fail{fill:#cf222e;fill-opacity:.6}"
    ".op-info{fill:#bf8700;fill-opacity:.6}.blocker{stroke:#000;stroke-width:2}"
    ".svc-fo{fill:#0969da}.svc-fb{fill:#1a7f37}";

static void head(FILE *f, const json_t *report)
{
    const char *verdict = jstr(report, "verdict", "error");
    const json_t *t = jget(report, "target"), *ops = jget(report, "ops"),
                 *rate = jget(report, "rate");

    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width\">"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'; img-src data:\">\n<title>",
          f);
    esc(f, jstr(report, "experiment", "experiment"));
    fprintf(f, ": %s</title>\n<style>%s</style></head>\n<body>\n<h1>", verdict, css);
    esc(f, jstr(report, "experiment", "experiment"));
    fprintf(f, " <span class=\"verdict v-%s\">", verdict);
    esc(f, verdict);
    fputs("</span></h1>\n", f);
    if (jstr(report, "reason", NULL)) {
        fputs("<p><strong>Reason:</strong> ", f);
        esc(f, jstr(report, "reason", ""));
        fputs("</p>\n", f);
    }
    fputs("<dl>\n<dt>experiment file</dt><dd>", f);
    esc(f, jstr(report, "file", "-"));
    fputs("</dd>\n<dt>target</dt><dd>", f);
    esc(f, jstr(t, "kind", "-"));
    if (jstr(t, "preset", NULL) && jstr(t, "preset", "")[0]) {
        fputs(" (preset ", f);
        esc(f, jstr(t, "preset", ""));
        fputs(")", f);
    }
    fprintf(f, "%s</dd>\n<dt>started</dt><dd>",
            json_is_false(jget(t, "settled")) ? ", did not settle" : "");
    esc(f, jstr(report, "started_wall", "-"));
    fprintf(f,
            "</dd>\n<dt>duration</dt><dd>%.1f s</dd>\n<dt>operations</dt><dd>%" JSON_INTEGER_FORMAT
            " (%" JSON_INTEGER_FORMAT " ok, %" JSON_INTEGER_FORMAT " fail, %" JSON_INTEGER_FORMAT
            " info)</dd>\n<dt>rate</dt><dd>%.1f/s offered, %.1f/s achieved</dd>\n<dt>exit "
            "code</dt><dd>%" JSON_INTEGER_FORMAT "</dd>\n</dl>\n",
            json_number_value(jget(jget(report, "durations_ms"), "total")) / 1000,
            json_integer_value(jget(ops, "total")), json_integer_value(jget(ops, "ok")),
            json_integer_value(jget(ops, "fail")), json_integer_value(jget(ops, "info")),
            json_number_value(jget(rate, "offered")), json_number_value(jget(rate, "achieved")),
            json_integer_value(jget(report, "exit_code")));
}

/* The experiment file as it was, when it can still be read. */
/*
 * The experiment file as it ran: the run folder keeps a copy (experiment.yaml,
 * made the first time the page is drawn, from report.json's "file"), so a
 * redraw months later shows the file that ran, not today's.
 */
static void config_block(FILE *f, const json_t *report, const char *dir)
{
    const char *path = jstr(report, "file", NULL);
    char kept[4200], line[1024];
    FILE *in, *out = NULL;
    int n = 0;

    snprintf(kept, sizeof(kept), "%s/experiment.yaml", dir);
    in = fopen(kept, "re");
    if (in == NULL && path != NULL && (in = fopen(path, "re")) != NULL)
        out = fopen(kept, "wxe");
    if (in == NULL)
        return;
    fputs("<details><summary>Experiment file and target configuration (<a "
          "href=\"experiment.yaml\">experiment.yaml</a>)</summary><pre>",
          f);
    while (fgets(line, sizeof(line), in) && n++ < 5000) {
        esc(f, line);
        if (out)
            fputs(line, out);
    }
    fputs("</pre></details>\n", f);
    fclose(in);
    if (out)
        fclose(out);
}

static void verifier_table(FILE *f, const json_t *report)
{
    const json_t *v;
    char m[512], b[256];
    size_t i;

    fputs(
        "<h2 id=\"verifiers\">Verifiers</h2>\n<table class=\"verifiers\"><thead><tr><th>verifier"
        "</th><th>status</th><th>measured</th><th>bound</th><th>detail</th></tr></thead><tbody>\n",
        f);
    json_array_foreach(jget(report, "verifiers"), i, v)
    {
        const char *st = status_of(v);

        report_verifier_figures(v, m, sizeof(m), b, sizeof(b));
        fputs("<tr><td>", f);
        esc(f, jstr(v, "name", "?"));
        fprintf(f, "</td><td class=\"st-%.*s\">", (int)strcspn(st, " "), st);
        esc(f, st);
        fputs("</td><td>", f);
        esc(f, m);
        fputs("</td><td>", f);
        esc(f, b);
        fputs("</td><td><details><summary>how it was measured</summary><pre>", f);
        esc(f, jstr(v, "detail", ""));
        if (jstr(v, "reason", NULL)) {
            fputs("\n\nInconclusive: ", f);
            esc(f, jstr(v, "reason", ""));
        }
        fputs("</pre></details></td></tr>\n", f);
    }
    if (i == 0)
        fputs("<tr><td colspan=\"5\">no verifier ran (see the reason above)</td></tr>\n", f);
    fputs("</tbody></table>\n", f);
}

/* A vertical marker with its label and a title for screen readers and hover. */
static void latency_table(FILE *f, const json_t *lat, const json_t *avail)
{
    static const char *const ph[3] = {"before", "during", "after"};
    const json_t *phases = jget(lat, "phases");
    int c, k;

    fputs("<h2 id=\"latency\">Latency and availability per phase</h2>\n<table><thead><tr><th>"
          "class</th><th>phase</th><th class=\"num\">p50</th><th class=\"num\">p99</th><th "
          "class=\"num\">max</th><th class=\"num\">ok / all</th></tr></thead><tbody>\n",
          f);
    for (c = 0; c < NCL; c++)
        for (k = 0; k < 3; k++) {
            const json_t *p =
                jget(jget(json_object_size(phases) ? phases : NULL, ph[k]), cl_name[c]);
            const char *nm[3] = {"p50", "p99", "max"};
            int j;

            if (!p && k > 0)
                continue;
            if (!p)
                p = jget(jget(lat, "classes"), cl_name[c]);
            fprintf(f, "<tr><td>%s</td><td>%s</td>", cl_name[c],
                    json_object_size(phases) ? ph[k] : "whole run");
            for (j = 0; j < 3; j++) {
                char t[48] = "-";

                if (json_is_number(jget(p, nm[j])))
                    fmt_ms(json_number_value(jget(p, nm[j])), t, sizeof(t));
                fprintf(f, "<td class=\"num\">%s</td>", t);
            }
            p = jget(jget(avail, json_object_size(phases) ? ph[k] : "whole_run"), cl_name[c]);
            if (json_is_number(p))
                fprintf(f, "<td class=\"num\">%.2f%%</td>", json_number_value(p) * 100);
            else
                fputs("<td class=\"num\">-</td>", f);
            fputs("</tr>\n", f);
        }
    fputs(
        "</tbody></table>\n<p class=\"small\">Phases of the first fault: before = until it was "
        "sent, during = from its apply confirmed to its heal sent, after = from its heal "
        "confirmed; operations placed by their invocation; ok / all counts info (outcome unknown) "
        "as not ok.</p>\n",
        f);
}

static void data_loss_table(FILE *f, const json_t *report)
{
    const json_t *v = verifier(report, "data_loss"), *fl;
    size_t i;

    if (v == NULL)
        return;
    fputs("<h2 id=\"data-loss\">Data loss</h2>\n<table><thead><tr><th>fault</th><th class=\"num\">"
          "lost</th><th class=\"num\">before the fault</th><th class=\"num\">after</th><th "
          "class=\"num\">window before</th><th class=\"num\">window after</th></tr></thead>"
          "<tbody>\n",
          f);
    json_array_foreach(jget(jget(v, "measured"), "faults"), i, fl)
    {
        char a[48] = "-", b[48] = "-";

        if (json_is_number(jget(fl, "window_ms")))
            fmt_ms(json_number_value(jget(fl, "window_ms")), a, sizeof(a));
        if (json_is_number(jget(fl, "window_after_ms")))
            fmt_ms(json_number_value(jget(fl, "window_after_ms")), b, sizeof(b));
        fputs("<tr><td>", f);
        esc(f, jstr(fl, "id", "?"));
        fprintf(f,
                "</td><td class=\"num\">%" JSON_INTEGER_FORMAT
                "</td><td class=\"num\">%" JSON_INTEGER_FORMAT
                "</td><td class=\"num\">%" JSON_INTEGER_FORMAT
                "</td><td class=\"num\">%s</td><td class=\"num\">%s</td></tr>\n",
                json_integer_value(jget(fl, "lost")), json_integer_value(jget(fl, "lost_before")),
                json_integer_value(jget(fl, "lost_after")), a, b);
    }
    fputs("</tbody></table>\n", f);
}

/* One operation of a counterexample lane. */
struct lop {
    int64_t a, b;
    uint32_t client;
    const char *op;
    char val[96];
    int outcome; /* enum hist_outcome */
    bool blocker;
};

#define MAX_LOPS 12

static const char *outcome_word(int o)
{
    return o == HIST_OK ? "ok" : o == HIST_FAIL ? "fail" : "info";
}

/*
 * The operations to draw: the key's operations from the history that
 * overlap the 200 ms before the blocker up to its completion (at most
 * MAX_LOPS, the latest kept: those that bear on the blocker), or the
 * violation's own window when there is no history. Returns how many.
 */
static size_t violation_ops(const json_t *vi, const struct hist *h, struct lop *L)
{
    const json_t *blk = jget(vi, "blocker"), *o;
    int64_t ba = json_integer_value(jget(blk, "invoke_ns")),
            bb = json_integer_value(jget(blk, "complete_ns"));
    json_int_t bc = json_integer_value(jget(blk, "client"));
    const char *key = jstr(vi, "key", "");
    size_t n = 0, i, k;
    uint32_t kid = 0;

    for (k = 1; h && k < h->keys.n; k++)
        if (strcmp(h->keys.s[k], key) == 0)
            kid = (uint32_t)k;
    for (i = 0; kid && blk && i < h->n; i++) {
        const struct hist_op *op = &h->ops[i];
        struct lop *l;

        if (op->key != kid || op->is_final || op->complete_ns < ba - 200000000LL ||
            op->invoke_ns > bb)
            continue;
        if (n == MAX_LOPS) { /* keep the latest: drop the oldest */
            memmove(L, L + 1, (MAX_LOPS - 1) * sizeof(*L));
            n--;
        }
        l = &L[n++];
        l->a = op->invoke_ns;
        l->b = op->complete_ns;
        l->client = op->client;
        l->op = hist_op_name(h, op);
        l->outcome = op->outcome;
        l->blocker = op->invoke_ns == ba && (json_int_t)op->client == bc;
        if (op->flags & HIST_F_CAS)
            snprintf(l->val, sizeof(l->val), "%" PRIu64 "->%" PRIu64, hist_cas_expected(h, op),
                     op->value);
        else
            snprintf(l->val, sizeof(l->val), "%s%" PRIu64, op->is_write ? "" : "= ", op->value);
    }
    if (n > 0)
        return n;
    json_array_foreach(jget(vi, "window"), i, o)
    {
        struct lop *l;
        const json_t *ex = jget(o, "expected");

        if (n == MAX_LOPS)
            break;
        l = &L[n++];
        l->a = json_integer_value(jget(o, "invoke_ns"));
        l->b = json_integer_value(jget(o, "complete_ns"));
        l->client = (uint32_t)json_integer_value(jget(o, "client"));
        l->op = jstr(o, "op", "?");
        l->outcome = strcmp(jstr(o, "outcome", ""), "ok") == 0     ? HIST_OK
                     : strcmp(jstr(o, "outcome", ""), "fail") == 0 ? HIST_FAIL
                                                                   : HIST_INFO;
        l->blocker =
            blk && json_integer_value(jget(blk, "record")) == json_integer_value(jget(o, "record"));
        if (json_is_integer(ex))
            snprintf(l->val, sizeof(l->val), "%" JSON_INTEGER_FORMAT "->%" JSON_INTEGER_FORMAT,
                     json_integer_value(ex), json_integer_value(jget(o, "value")));
        else
            snprintf(l->val, sizeof(l->val), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(jget(o, "value")));
    }
    return n;
}

/* x of time t on an axis where every invocation and completion is one step. */
static double ordinal(const int64_t *ev, size_t nev, int64_t t)
{
    size_t i;

    for (i = 0; i + 1 < nev && ev[i] < t; i++)
        ;
    return nev > 1 ? X0 + (X1 - X0) * (double)i / (double)(nev - 1) : X0;
}

/* A linearizability counterexample: the key's operations per client (as Porcupine draws them). */
static void violation(FILE *f, const json_t *vi, const struct hist *h)
{
    struct lop *L = calloc(MAX_LOPS, sizeof(*L));
    int64_t t0 = INT64_MAX, t1 = INT64_MIN;
    uint32_t clients[MAX_LOPS];
    int64_t ev[2 * MAX_LOPS];
    size_t i, nc = 0, k, n, nev = 0;
    double height;

    if (L == NULL)
        return;
    n = violation_ops(vi, h, L);
    for (i = 0; i < n; i++) {
        t0 = L[i].a < t0 ? L[i].a : t0;
        t1 = L[i].b > t1 ? L[i].b : t1;
        for (k = 0; k < nc && clients[k] != L[i].client; k++)
            ;
        if (k == nc)
            clients[nc++] = L[i].client;
    }
    if (nc == 0 || t1 <= t0) {
        free(L);
        return;
    }
    for (i = 0; i < n; i++) {
        ev[nev++] = L[i].a;
        ev[nev++] = L[i].b;
    }
    qsort(ev, nev, sizeof(*ev), cmp_i64);
    height = 30 + (double)nc * 26;
    fputs("<h3>Key ", f);
    esc(f, jstr(vi, "key", "?"));
    fprintf(f,
            "</h3><p class=\"small\">The longest linearizable prefix has %" JSON_INTEGER_FORMAT
            " operations, leaving the register at %" JSON_INTEGER_FORMAT
            "; no order places the outlined operation. Bars run from invocation to completion, "
            "one lane per client, the key's last operations up to it; the axis keeps the order of "
            "invocations and completions, not their spacing (real times in each bar's title)."
            "</p>\n<svg "
            "class=\"linearizable\" role=\"img\" width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d "
            "%.0f\"><title>Operations on key ",
            json_integer_value(jget(vi, "prefix_length")),
            json_integer_value(jget(vi, "value_after_prefix")), SVG_W, height, SVG_W, height);
    esc(f, jstr(vi, "key", "?"));
    fprintf(f,
            " around the violation</title><text x=\"%.1f\" y=\"14\">0 ms</text><text x=\"%.1f\" "
            "y=\"14\" text-anchor=\"end\">%.1f ms</text>\n",
            X0, X1, (double)(t1 - t0) / 1e6);
    for (k = 0; k < nc; k++)
        fprintf(f, "<text x=\"4\" y=\"%.1f\">client %" PRIu32 "</text>\n", 30 + (double)k * 26 + 14,
                clients[k]);
    for (i = 0; i < n; i++) {
        double xa = ordinal(ev, nev, L[i].a), xb = ordinal(ev, nev, L[i].b);

        for (k = 0; k < nc && clients[k] != L[i].client; k++)
            ;
        fprintf(f,
                "<rect class=\"op-%s%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"18\">"
                "<title>client %" PRIu32 " ",
                outcome_word(L[i].outcome), L[i].blocker ? " blocker" : "", xa, 30 + (double)k * 26,
                fmax(xb - xa, 2), L[i].client);
        esc(f, L[i].op);
        fputs(" ", f);
        esc(f, L[i].val);
        fprintf(f, " %s, %.2f..%.2f ms%s</title></rect><text x=\"%.1f\" y=\"%.1f\">",
                outcome_word(L[i].outcome), (double)(L[i].a - t0) / 1e6,
                (double)(L[i].b - t0) / 1e6, L[i].blocker ? " (cannot be placed)" : "", xa + 2,
                30 + (double)k * 26 + 13);
        if (xb - xa > 40 || L[i].blocker) {
            esc(f, L[i].op);
            fputs(" ", f);
            esc(f, L[i].val);
        }
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
    free(L);
}

static void linearizable_section(FILE *f, const json_t *report, const struct hist *h)
{
    const json_t *vs = jget(jget(verifier(report, "linearizable"), "measured"), "violations"), *vi;
    size_t i;

    if (json_array_size(vs) == 0)
        return;
    fputs("<h2 id=\"linearizable\">Linearizability counterexample</h2>\n", f);
    json_array_foreach(vs, i, vi)
    {
        if (i >= MAX_VIOL)
            break;
        violation(f, vi, h);
    }
    if (json_array_size(vs) > MAX_VIOL)
        fprintf(f, "<p class=\"small\">%zu more in report.json (measured.violations).</p>\n",
                json_array_size(vs) - MAX_VIOL);
}

/* What each agent said it did: drop counters read at heal time, captures. */
static void evidence_section(FILE *f, const json_t *report)
{
    const json_t *fl, *a;
    size_t i, j;

    fputs("<h2 id=\"evidence\">Evidence that each fault took effect</h2>\n<table><thead><tr><th>"
          "fault</th><th>host</th><th>applied</th><th class=\"num\">dropped packets</th><th "
          "class=\"num\">dropped bytes</th><th>capture</th></tr></thead><tbody>\n",
          f);
    json_array_foreach(jget(report, "faults"), i, fl)
    {
        json_array_foreach(jget(fl, "agents"), j, a)
        {
            const json_t *ev = jget(a, "evidence");
            const char *cap = jstr(a, "capture", NULL);

            fputs("<tr><td>", f);
            esc(f, jstr(fl, "id", "?"));
            fputs(" ", f);
            esc(f, jstr(fl, "kind", ""));
            fputs("</td><td>", f);
            esc(f, jstr(a, "host", "?"));
            fprintf(f, "</td><td>HTTP %" JSON_INTEGER_FORMAT "%s</td>",
                    json_integer_value(jget(a, "status")), jget(a, "error") ? " (refused)" : "");
            if (json_is_object(ev) && json_is_integer(jget(ev, "packets")))
                fprintf(f,
                        "<td class=\"num\">%" JSON_INTEGER_FORMAT
                        "</td><td class=\"num\">%" JSON_INTEGER_FORMAT "</td>",
                        json_integer_value(jget(ev, "packets")),
                        json_integer_value(jget(ev, "bytes")));
            else
                fputs("<td class=\"num\">-</td><td class=\"num\">-</td>", f);
            fputs("<td>", f);
            if (cap) {
                fputs("<a href=\"", f);
                esc(f, cap);
                fputs("\">", f);
                esc(f, cap);
                fputs("</a>", f);
            } else {
                fputs("-", f);
            }
            fputs("</td></tr>\n", f);
        }
    }
    fputs("</tbody></table>\n<p class=\"small\">Counters are the injector's own (nf_tables "
          "counters on the fault's rules), read from each agent just before the heal; '-' where "
          "the fault kind keeps no counter (qdisc, link and process faults).</p>\n",
          f);
}

static void links(FILE *f, const char *dir)
{
    static const char *const names[] = {"report.json", "history.jsonl", "faults.jsonl", "junit.xml",
                                        NULL};
    char p[4200];
    size_t i;

    fputs("<h2 id=\"files\">Raw files</h2>\n<ul>\n", f);
    for (i = 0; names[i]; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        if (access(p, R_OK) == 0)
            fprintf(f, "<li><a href=\"%s\">%s</a></li>\n", names[i], names[i]);
    }
    fputs("<li>agent-&lt;host&gt;.log, target/ (the service's logs), lab/ (batch files, journals) "
          "in the same folder</li>\n</ul>\n",
          f);
}

static void methods(FILE *f)
{
    fputs("<h2 id=\"method\">How each figure is measured</h2>\n<p>Each verifier's own paragraph "
          "(the <em>detail</em> column above) states its rule, its bound and the worst offending "
          "records. faultline run -v prints the same paragraphs on the terminal.</p>\n",
          f);
}

static int page(FILE *f, const char *dir, const json_t *report, const struct hist *h,
                const struct hist_faults *hf)
{
    struct bins *B = calloc(1, sizeof(*B));
    json_t *lat = NULL;
    int r = 0;

    if (B == NULL)
        return -ENOMEM;
    head(f, report);
    config_block(f, report, dir);
    verifier_table(f, report);
    if (h && h->n > 0 && (r = report_bins_build(B, h, hf)) == 0)
        report_svg_timeline(f, B, h, hf, report);
    else
        fputs("<h2 id=\"timeline\">Timeline</h2>\n<p>No operation was recorded.</p>\n", f);
    if (r == -ENOMEM) {
        free(B);
        return r;
    }
    lat = h ? report_latency_json(h, hf) : NULL;
    if (lat)
        latency_table(f, lat, jget(report, "availability"));
    json_decref(lat);
    data_loss_table(f, report);
    linearizable_section(f, report, h);
    evidence_section(f, report);
    methods(f);
    links(f, dir);
    fputs("</body></html>\n", f);
    free(B);
    return ferror(f) ? -EIO : 0;
}

int report_html_write(const char *dir, const json_t *report, const struct hist *h,
                      const struct hist_faults *hf, struct fl_err *err)
{
    char tmp[4400], path[4200];
    FILE *f;
    int r;

    snprintf(path, sizeof(path), "%s/report.html", dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "we");
    if (f == NULL)
        return fl_errf(err, -errno, "cannot write %s: %s", tmp, strerror(errno));
    r = page(f, dir, report, h, hf);
    return fl_file_commit(f, tmp, path, r, err);
}
