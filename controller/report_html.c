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

#include "report_html.h"

#define NBINS    240
#define MAX_REG  8
#define SVG_W    960
#define X0       70.0
#define X1       940.0
#define ROW_H    80
#define ROW_GAP  26
#define MAX_VIOL 3

enum { CL_READ, CL_WRITE, NCL };
static const char *const cl_name[NCL] = {"read", "write"};

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

#define esc report_html_escape

static const json_t *jget(const json_t *o, const char *k)
{
    return json_object_get(o, k);
}

static const char *jstr(const json_t *o, const char *k, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s ? s : dflt;
}

static const json_t *verifier(const json_t *report, const char *name)
{
    const json_t *v;
    size_t i;

    json_array_foreach(jget(report, "verifiers"), i, v)
    {
        if (strcmp(jstr(v, "name", ""), name) == 0)
            return v;
    }
    return NULL;
}

/* "2.51 s", "340 ms", "12.3 ms" for a number of milliseconds. */
static void fmt_ms(double ms, char *buf, size_t len)
{
    if (ms == 0)
        snprintf(buf, len, "0 ms");
    else if (ms >= 1000 && fmod(ms, 1000) == 0)
        snprintf(buf, len, "%.0f s", ms / 1000);
    else if (ms >= 10000)
        snprintf(buf, len, "%.1f s", ms / 1000);
    else if (ms >= 1000)
        snprintf(buf, len, "%.2f s", ms / 1000);
    else if (ms >= 10)
        snprintf(buf, len, "%.0f ms", ms);
    else
        snprintf(buf, len, "%.1f ms", ms);
}

static void cat(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cat(char *buf, size_t len, const char *fmt, ...)
{
    size_t n = strlen(buf);
    va_list ap;

    if (n + 1 >= len)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + n, len - n, fmt, ap);
    va_end(ap);
}

/* ---- one line per verifier ------------------------------------------------ */

/* failover / failback: the worst RTO per class; classes left out say why. */
static void recovery_figures(const json_t *v, char *m, size_t ml, char *b, size_t bl)
{
    const json_t *meas = jget(v, "measured"), *rto = jget(meas, "rto_ms"), *x, *f;
    const json_t *excl = NULL, *bound = jget(jget(v, "bound"), "max_ms");
    const char *k;
    char t[48];
    size_t i;

    bool rw = jget(rto, "read") || jget(rto, "write");

    json_object_foreach((json_t *)rto, k, x)
    {
        if (rw && strcmp(k, "read") != 0 && strcmp(k, "write") != 0)
            continue; /* the operation classes: in the detail */
        if (json_is_number(x)) {
            fmt_ms(json_number_value(x), t, sizeof(t));
            cat(m, ml, "%s%s %s", m[0] ? ", " : "", k, t);
        } else {
            cat(m, ml, "%s%s never", m[0] ? ", " : "", k);
        }
    }
    json_array_foreach(jget(meas, "faults"), i, f)
    {
        excl = jget(f, "excluded_read_only");
        if (json_is_array(excl))
            break;
        excl = NULL;
    }
    json_array_foreach(excl, i, x)
    {
        if (json_is_string(x) && !jget(rto, json_string_value(x)) &&
            (!rw || strcmp(json_string_value(x), "write") == 0 ||
             strcmp(json_string_value(x), "read") == 0))
            cat(m, ml, "%s%s - (read-only)", m[0] ? ", " : "", json_string_value(x));
    }
    if (json_is_number(bound)) {
        fmt_ms(json_number_value(bound), t, sizeof(t));
        snprintf(b, bl, "<= %s", t);
    } else {
        snprintf(b, bl, "measured only");
    }
}

static void generic_figures(const json_t *v, char *m, size_t ml, char *b, size_t bl)
{
    const char *name = jstr(v, "name", "");
    const json_t *meas = jget(v, "measured"), *bd = jget(v, "bound"), *x;
    char t[48];
    size_t i;

    if (strcmp(name, "read_only") == 0) {
        snprintf(m, ml,
                 "%" JSON_INTEGER_FORMAT " writes accepted, %" JSON_INTEGER_FORMAT
                 " allowed ops not served",
                 json_integer_value(jget(meas, "writes_accepted")),
                 json_integer_value(jget(meas, "allowed_not_served")));
        fmt_ms(json_number_value(jget(bd, "grace_ms")), t, sizeof(t));
        snprintf(b, bl, "0 writes, grace %s", t);
    } else if (strcmp(name, "data_loss") == 0) {
        snprintf(m, ml,
                 "%" JSON_INTEGER_FORMAT " lost (%" JSON_INTEGER_FORMAT
                 " before, %" JSON_INTEGER_FORMAT " after the fault)",
                 json_integer_value(jget(meas, "lost_updates")),
                 json_integer_value(jget(meas, "lost_before")),
                 json_integer_value(jget(meas, "lost_after")));
        x = jget(bd, "max_updates");
        if (json_is_integer(x))
            snprintf(b, bl, "<= %" JSON_INTEGER_FORMAT " lost", json_integer_value(x));
        else
            snprintf(b, bl, "any count");
        x = jget(bd, "max_window_ms");
        if (json_is_number(x)) {
            fmt_ms(json_number_value(x), t, sizeof(t));
            cat(b, bl, ", window <= %s", t);
        }
        x = jget(bd, "max_after_ms");
        if (json_is_number(x)) {
            fmt_ms(json_number_value(x), t, sizeof(t));
            cat(b, bl, ", after <= %s", t);
        }
    } else if (strcmp(name, "staleness") == 0) {
        fmt_ms(json_number_value(jget(meas, "max_lag_ms")), t, sizeof(t));
        snprintf(m, ml,
                 "%" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT
                 " reads stale, max %" JSON_INTEGER_FORMAT " versions / %s behind",
                 json_integer_value(jget(meas, "stale_reads")),
                 json_integer_value(jget(meas, "reads_checked")),
                 json_integer_value(jget(meas, "max_versions_behind")), t);
        x = jget(bd, "max_versions");
        if (json_is_integer(x))
            snprintf(b, bl, "<= %" JSON_INTEGER_FORMAT " versions", json_integer_value(x));
        x = jget(bd, "max_lag_ms");
        if (json_is_number(x)) {
            fmt_ms(json_number_value(x), t, sizeof(t));
            cat(b, bl, "%s<= %s lag", b[0] ? ", " : "", t);
        }
        if (json_is_true(jget(bd, "read_your_writes")))
            cat(b, bl, "%sread-your-writes", b[0] ? ", " : "");
        if (json_is_true(jget(bd, "monotonic_reads")))
            cat(b, bl, "%smonotonic reads", b[0] ? ", " : "");
    } else if (strcmp(name, "availability") == 0) {
        const json_t *fl;

        snprintf(m, ml, "%" JSON_INTEGER_FORMAT " below floor",
                 json_integer_value(jget(meas, "below_floor")));
        json_array_foreach(jget(bd, "floors"), i, fl)
        {
            cat(b, bl, "%s%s %s >= %g", b[0] ? ", " : "", jstr(fl, "class", "?"),
                jstr(fl, "phase", "any"), json_number_value(jget(fl, "min")));
        }
    } else if (strcmp(name, "linearizable") == 0) {
        snprintf(m, ml,
                 "%" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT
                 " keys violate, %" JSON_INTEGER_FORMAT " ops checked",
                 json_integer_value(jget(meas, "keys_violating")),
                 json_integer_value(jget(meas, "keys_checked")),
                 json_integer_value(jget(meas, "ops_checked")));
        snprintf(b, bl, "%s, every key", jstr(bd, "model", "linearizable"));
    } else if (strcmp(name, "conflict_feed") == 0) {
        snprintf(m, ml,
                 "%" JSON_INTEGER_FORMAT " missing, %" JSON_INTEGER_FORMAT
                 " in the feed, %" JSON_INTEGER_FORMAT " in neither",
                 json_integer_value(jget(meas, "missing_after_recovery")),
                 json_integer_value(jget(meas, "in_feed")),
                 json_integer_value(jget(meas, "in_neither")));
        snprintf(b, bl, "every missing write in the feed");
    }
}

void report_verifier_figures(const json_t *v, char *measured, size_t mlen, char *bound, size_t blen)
{
    const char *name = jstr(v, "name", "");

    measured[0] = bound[0] = '\0';
    if (strcmp(name, "failover") == 0 || strcmp(name, "failback") == 0)
        recovery_figures(v, measured, mlen, bound, blen);
    else
        generic_figures(v, measured, mlen, bound, blen);
    if (!measured[0])
        snprintf(measured, mlen, "-");
    if (!bound[0])
        snprintf(bound, blen, "-");
}

static const char *status_of(const json_t *v)
{
    const char *st = jstr(v, "status", NULL);

    if (st == NULL)
        st = json_is_true(jget(v, "skipped")) ? "inconclusive"
             : json_is_true(jget(v, "pass"))  ? "pass"
                                              : "fail";
    if (strcmp(st, "inconclusive") == 0 && json_is_true(jget(v, "allowed")))
        return "inconclusive (allowed)";
    return st;
}

void report_summary_print(FILE *f, const json_t *report, const char *dir, bool verbose)
{
    const json_t *vs = jget(report, "verifiers"), *v;
    char m[512], b[256];
    int wn = 4, ws = 4, wm = 8;
    size_t i;

    json_array_foreach(vs, i, v)
    {
        int n = (int)strlen(jstr(v, "name", "")), s = (int)strlen(status_of(v));

        report_verifier_figures(v, m, sizeof(m), b, sizeof(b));
        wn = n > wn ? n : wn;
        ws = s > ws ? s : ws;
        wm = (int)strlen(m) > wm ? (int)strlen(m) : wm;
    }
    json_array_foreach(vs, i, v)
    {
        report_verifier_figures(v, m, sizeof(m), b, sizeof(b));
        fprintf(f, "  %-*s  %-*s  %-*s  %s\n", wn, jstr(v, "name", ""), ws, status_of(v), wm, m, b);
        if (verbose && jstr(v, "detail", NULL))
            fprintf(f, "      %s\n", jstr(v, "detail", ""));
    }
    fprintf(f, "  report: %s/report.html\n  data:   %s/report.json\n", dir, dir);
}

/* ---- latency -------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* p50, p99, max of v[0..n) (sorted here) in ms; NaN when n == 0. */
static void pcts(int64_t *v, size_t n, double out[3])
{
    if (n == 0) {
        out[0] = out[1] = out[2] = NAN;
        return;
    }
    qsort(v, n, sizeof(*v), cmp_i64);
    out[0] = (double)v[(n - 1) / 2] / 1e6;
    out[1] = (double)v[(size_t)ceil(0.99 * (double)n) - 1] / 1e6;
    out[2] = (double)v[n - 1] / 1e6;
}

static json_t *pct_json(const double p[3])
{
    if (isnan(p[0]))
        return json_pack("{s:n,s:n,s:n}", "p50", "p99", "max");
    return json_pack("{s:f,s:f,s:f}", "p50", p[0], "p99", p[1], "max", p[2]);
}

/* Phase of t against the first fault: 0 before, 1 during, 2 after, -1 uncertain. */
static int phase_of(const struct hist_faults *hf, int64_t t)
{
    const struct hist_fault *f;

    if (hf == NULL || hf->n == 0)
        return 0;
    f = &hf->f[0];
    if (t < f->apply_sent_ns)
        return 0;
    if (t < f->apply_done_ns)
        return -1;
    if (f->heal_sent_ns == 0 || t < f->heal_sent_ns)
        return 1;
    return t >= f->heal_done_ns ? 2 : -1;
}

/* ok / total per phase and class, placed like the latency. */
static json_t *availability_json(const struct hist *h, const struct hist_faults *hf)
{
    static const char *const ph[3] = {"before", "during", "after"};
    uint64_t ok[3][NCL] = {{0}}, tot[3][NCL] = {{0}};
    json_t *o = json_object();
    size_t i;
    int k, c;

    for (i = 0; i < h->n; i++) {
        const struct hist_op *op = &h->ops[i];
        int p = phase_of(hf, op->invoke_ns);

        if (op->is_final || p < 0)
            continue;
        tot[p][op->is_write ? 1 : 0]++;
        ok[p][op->is_write ? 1 : 0] += op->outcome == HIST_OK;
    }
    for (k = 0; o && k < 3; k++) {
        json_t *pc = json_object();

        for (c = 0; c < NCL; c++)
            if (tot[k][c] > 0)
                json_object_set_new(pc, cl_name[c],
                                    json_real((double)ok[k][c] / (double)tot[k][c]));
        json_object_set_new(o, hf && hf->n ? ph[k] : "whole_run", pc);
        if (!hf || hf->n == 0)
            break;
    }
    return o;
}

static json_t *latency_json(const struct hist *h, const struct hist_faults *hf)
{
    static const char *const ph[3] = {"before", "during", "after"};
    int64_t *v = malloc((h->n ? h->n : 1) * sizeof(*v));
    json_t *o = json_object(), *byc = json_object(), *byp = json_object();
    double p[3];
    size_t i, n;
    int c, k;

    if (v == NULL || o == NULL || byc == NULL || byp == NULL) {
        free(v);
        json_decref(o);
        json_decref(byc);
        json_decref(byp);
        return NULL;
    }
    for (k = -1; k < NCL; k++) {
        for (n = 0, i = 0; i < h->n; i++) {
            const struct hist_op *op = &h->ops[i];

            if (!op->is_final && op->outcome == HIST_OK && (k < 0 || op->is_write == k))
                v[n++] = op->complete_ns - op->invoke_ns;
        }
        pcts(v, n, p);
        if (k < 0) {
            json_object_set_new(o, "p50", isnan(p[0]) ? json_null() : json_real(p[0]));
            json_object_set_new(o, "p99", isnan(p[1]) ? json_null() : json_real(p[1]));
            json_object_set_new(o, "max", isnan(p[2]) ? json_null() : json_real(p[2]));
        } else {
            json_object_set_new(byc, cl_name[k], pct_json(p));
        }
    }
    for (k = 0; k < 3 && hf && hf->n > 0; k++) {
        json_t *pc = json_object();

        for (c = 0; c < NCL; c++) {
            for (n = 0, i = 0; i < h->n; i++) {
                const struct hist_op *op = &h->ops[i];

                if (!op->is_final && op->outcome == HIST_OK && op->is_write == c &&
                    phase_of(hf, op->invoke_ns) == k)
                    v[n++] = op->complete_ns - op->invoke_ns;
            }
            pcts(v, n, p);
            json_object_set_new(pc, cl_name[c], pct_json(p));
        }
        json_object_set_new(byp, ph[k], pc);
    }
    json_object_set_new(o, "classes", byc);
    json_object_set_new(o, "phases", byp);
    free(v);
    return o;
}

json_t *report_stats_json(const struct hist *h, const struct hist_faults *hf)
{
    return json_pack("{s:o*,s:o*}", "latency_ms", latency_json(h, hf), "availability",
                     availability_json(h, hf));
}

void report_add_figures(json_t *report, const struct hist *h, const struct hist_faults *hf,
                        const json_t *verify)
{
    json_t *stats = report_stats_json(h, hf);
    const json_t *reg = json_object_get(verify, "regression");

    if (stats) {
        json_object_update(report, stats);
        json_decref(stats);
    }
    if (reg)
        json_object_set_new(report, "regression", json_deep_copy(reg));
}

/* ---- the binned view of a history ----------------------------------------- */

struct bins {
    int64_t t0, t1; /* the time axis */
    double bin_s;
    size_t nreg;
    uint32_t reg[MAX_REG];              /* history region index of each drawn region */
    uint32_t n[NCL][MAX_REG][NBINS][3]; /* ok, fail, info per bin */
    double lat[NCL][NBINS][3];          /* p50, p99, max (ms), NaN when empty */
};

static size_t bin_of(const struct bins *B, int64_t t)
{
    double x = (double)(t - B->t0) / (double)(B->t1 - B->t0) * NBINS;

    if (x < 0)
        return 0;
    return x >= NBINS ? NBINS - 1 : (size_t)x;
}

static double xpos(const struct bins *B, int64_t t)
{
    return X0 + (double)(t - B->t0) * (X1 - X0) / (double)(B->t1 - B->t0);
}

/* The axis spans the workload's operations and every fault's interval. */
static int bins_build(struct bins *B, const struct hist *h, const struct hist_faults *hf)
{
    int64_t *lat = NULL;
    size_t i, *cnt = NULL, *at = NULL, r;
    int c, b;

    memset(B, 0, sizeof(*B));
    B->t0 = INT64_MAX;
    B->t1 = INT64_MIN;
    for (i = 0; i < h->n; i++) {
        if (h->ops[i].is_final)
            continue;
        B->t0 = h->ops[i].invoke_ns < B->t0 ? h->ops[i].invoke_ns : B->t0;
        B->t1 = h->ops[i].complete_ns > B->t1 ? h->ops[i].complete_ns : B->t1;
    }
    for (i = 0; hf && i < hf->n; i++) {
        B->t0 = hf->f[i].apply_sent_ns < B->t0 ? hf->f[i].apply_sent_ns : B->t0;
        B->t1 = hf->f[i].heal_done_ns > B->t1 ? hf->f[i].heal_done_ns : B->t1;
        B->t1 = hf->f[i].apply_done_ns > B->t1 ? hf->f[i].apply_done_ns : B->t1;
    }
    if (B->t0 == INT64_MAX)
        return -ENOENT;
    if (B->t1 <= B->t0)
        B->t1 = B->t0 + 1000000000LL;
    B->bin_s = (double)(B->t1 - B->t0) / 1e9 / NBINS;
    for (i = 0; i < h->n; i++) {
        const struct hist_op *op = &h->ops[i];

        if (op->is_final)
            continue;
        for (r = 0; r < B->nreg && B->reg[r] != op->region; r++)
            ;
        if (r == B->nreg && B->nreg < MAX_REG)
            B->reg[B->nreg++] = op->region;
        if (r == MAX_REG)
            continue;
        b = (int)bin_of(B, op->invoke_ns);
        B->n[op->is_write ? CL_WRITE : CL_READ][r][b][op->outcome == HIST_OK     ? 0
                                                      : op->outcome == HIST_FAIL ? 1
                                                                                 : 2]++;
    }
    /* latency per class and bin: ok operations grouped by bin, then sorted */
    lat = malloc((h->n ? h->n : 1) * sizeof(*lat));
    cnt = calloc(NBINS + 1, sizeof(*cnt));
    at = calloc(NBINS + 1, sizeof(*at));
    if (!lat || !cnt || !at) {
        free(lat);
        free(cnt);
        free(at);
        return -ENOMEM;
    }
    for (c = 0; c < NCL; c++) {
        memset(cnt, 0, (NBINS + 1) * sizeof(*cnt));
        for (i = 0; i < h->n; i++)
            if (!h->ops[i].is_final && h->ops[i].outcome == HIST_OK && h->ops[i].is_write == c)
                cnt[bin_of(B, h->ops[i].invoke_ns) + 1]++;
        for (b = 0; b < NBINS; b++)
            cnt[b + 1] += cnt[b];
        memcpy(at, cnt, (NBINS + 1) * sizeof(*at));
        for (i = 0; i < h->n; i++)
            if (!h->ops[i].is_final && h->ops[i].outcome == HIST_OK && h->ops[i].is_write == c)
                lat[at[bin_of(B, h->ops[i].invoke_ns)]++] =
                    h->ops[i].complete_ns - h->ops[i].invoke_ns;
        for (b = 0; b < NBINS; b++)
            pcts(lat + cnt[b], cnt[b + 1] - cnt[b], B->lat[c][b]);
    }
    free(lat);
    free(cnt);
    free(at);
    return 0;
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
static void marker(FILE *f, const char *cls, double x, double y0, double y1, const char *label)
{
    fprintf(f, "<line class=\"%s\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"><title>", cls, x,
            x, y0, y1);
    esc(f, label);
    fprintf(f, "</title></line><text x=\"%.1f\" y=\"%.1f\">", x + 3,
            y0 + (strcmp(cls, "mk") == 0 ? 10 : 22));
    esc(f, label);
    fputs("</text>\n", f);
}

static const json_t *report_fault(const json_t *report, const char *id)
{
    const json_t *x;
    size_t i;

    json_array_foreach(jget(report, "faults"), i, x)
    {
        if (strcmp(jstr(x, "id", ""), id) == 0)
            return x;
    }
    return NULL;
}

/* Failover or failback instants for class cls in region reg ("" = any) of one row. */
static void recovery_markers(FILE *f, const struct bins *B, const json_t *report, const char *vname,
                             const char *cls, const char *reg, double y0, double y1)
{
    const json_t *fl;
    size_t i;

    json_array_foreach(jget(jget(verifier(report, vname), "measured"), "faults"), i, fl)
    {
        const json_t *x = jget(jget(jget(fl, "rto_ms_by_region"), cls), reg);
        char label[160], t[48];
        double ms;

        if (!json_is_number(x))
            x = jget(jget(fl, "rto_ms"), cls);
        if (!json_is_number(x) || !json_is_integer(jget(fl, "anchor_ns")))
            continue;
        ms = json_number_value(x);
        fmt_ms(ms, t, sizeof(t));
        snprintf(label, sizeof(label), "%s %s %s (%s)", vname, cls, t, jstr(fl, "id", ""));
        marker(f, strcmp(vname, "failover") == 0 ? "mk" : "mkb",
               xpos(B, json_integer_value(jget(fl, "anchor_ns")) + (int64_t)(ms * 1e6)), y0, y1,
               label);
    }
}

/* The read-only period of each fault, shaded on the write rows. */
static void read_only_bands(FILE *f, const struct bins *B, const json_t *report, double y0,
                            double h)
{
    const json_t *fl;
    size_t i;

    json_array_foreach(jget(jget(verifier(report, "read_only"), "measured"), "faults"), i, fl)
    {
        const json_t *rf = report_fault(report, jstr(fl, "id", ""));
        const json_t *s = jget(fl, "read_only_start_ms"), *p = jget(fl, "period_ms");
        int64_t a, e;

        if (!rf || !json_is_number(s) || !json_is_integer(jget(rf, "apply_done_ns")))
            continue;
        a = json_integer_value(jget(rf, "apply_done_ns")) + (int64_t)(json_number_value(s) * 1e6);
        e = json_is_number(p) ? a + (int64_t)(json_number_value(p) * 1e6) : B->t1;
        fprintf(f,
                "<rect class=\"ro\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
                "<title>read-only period of %s: %.0f ms</title></rect>\n",
                xpos(B, a), y0, xpos(B, e) - xpos(B, a), h, jstr(fl, "id", ""),
                (double)(e - a) / 1e6);
    }
}

/* One row: ok / fail / info rates of a class in a region, stacked areas. */
static void rate_row(FILE *f, const struct bins *B, const json_t *report, int c, size_t r,
                     const char *reg, double y)
{
    double peak = 0, s, base[NBINS];
    size_t b;
    int k;
    static const char *const oc[3] = {"ok", "fail", "info"};

    for (b = 0; b < NBINS; b++) {
        s = B->n[c][r][b][0] + B->n[c][r][b][1] + B->n[c][r][b][2];
        peak = s > peak ? s : peak;
        base[b] = 0;
    }
    peak = peak > 0 ? peak / B->bin_s : 1;
    fprintf(f, "<g class=\"row\" data-class=\"%s\" data-region=\"", cl_name[c]);
    esc(f, reg);
    fprintf(f, "\"><text x=\"4\" y=\"%.1f\">%s</text><text x=\"4\" y=\"%.1f\">", y + 12, cl_name[c],
            y + 25);
    esc(f, reg[0] ? reg : "(any)");
    fprintf(f,
            "</text><text x=\"4\" y=\"%.1f\" class=\"small\">%.0f/s</text>"
            "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n",
            y + 40, peak, X0, X1, y + ROW_H, y + ROW_H);
    if (c == CL_WRITE)
        read_only_bands(f, B, report, y, ROW_H);
    for (k = 0; k < 3; k++) {
        fprintf(f, "<path class=\"%s\" d=\"", oc[k]);
        for (b = 0; b < NBINS; b++) {
            double x0 = X0 + (X1 - X0) * (double)b / NBINS,
                   x1 = X0 + (X1 - X0) * (double)(b + 1) / NBINS;
            double v = B->n[c][r][b][k] / B->bin_s;

            if (B->n[c][r][b][k] == 0)
                continue;
            fprintf(f, "M%.1f %.1fH%.1fV%.1fH%.1fZ", x0, y + ROW_H - (base[b] + v) / peak * ROW_H,
                    x1, y + ROW_H - base[b] / peak * ROW_H, x0);
            base[b] += v;
        }
        fprintf(f, "\"><title>%s operations per second, %s, ", oc[k], cl_name[c]);
        esc(f, reg[0] ? reg : "any region");
        fputs("</title></path>\n", f);
    }
    recovery_markers(f, B, report, "failover", cl_name[c], reg, y, y + ROW_H);
    recovery_markers(f, B, report, "failback", cl_name[c], reg, y, y + ROW_H);
    fputs("</g>\n", f);
}

static double ylog(double ms, double lo, double hi, double y, double h)
{
    if (!(ms > lo))
        ms = lo;
    return y + h - (log10(ms) - log10(lo)) / (log10(hi) - log10(lo)) * h;
}

/* Latency p50 / p99 / max per bin for one class, log scale. */
static void latency_row(FILE *f, const struct bins *B, int c, double y)
{
    static const char *const nm[3] = {"p50", "p99", "max"};
    double lo = 0.1, hi = 1, hh = ROW_H + 20;
    size_t b;
    int k;

    for (b = 0; b < NBINS; b++)
        if (B->lat[c][b][2] > hi)
            hi = B->lat[c][b][2];
    hi = pow(10, ceil(log10(hi)));
    fprintf(f,
            "<g class=\"latency\" data-class=\"%s\"><text x=\"4\" y=\"%.1f\">%s</text>"
            "<text x=\"4\" y=\"%.1f\">latency</text>",
            cl_name[c], y + 12, cl_name[c], y + 25);
    for (double g = lo; g <= hi * 1.001; g *= 10) {
        char t[32];

        fmt_ms(g, t, sizeof(t));
        fprintf(f,
                "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/><text "
                "x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" class=\"small\">%s</text>\n",
                X0, X1, ylog(g, lo, hi, y, hh), ylog(g, lo, hi, y, hh), X0 - 2,
                ylog(g, lo, hi, y, hh) + 4, t);
    }
    for (k = 0; k < 3; k++) {
        bool pen = false;

        fprintf(f, "<path class=\"%s\" d=\"", nm[k]);
        for (b = 0; b < NBINS; b++) {
            double v = B->lat[c][b][k];

            if (isnan(v)) {
                pen = false;
                continue;
            }
            fprintf(f, "%c%.1f %.1f", pen ? 'L' : 'M', X0 + (X1 - X0) * ((double)b + 0.5) / NBINS,
                    ylog(v, lo, hi, y, hh));
            pen = true;
        }
        fprintf(f, "\"><title>%s latency of ok %s operations</title></path>\n", nm[k], cl_name[c]);
    }
    fputs("</g>\n", f);
}

/* Lost writes on the time axis: the earliest and latest of each fault. */
static void loss_row(FILE *f, const struct bins *B, const json_t *report, double y)
{
    const json_t *fl;
    size_t i;

    fprintf(f,
            "<g class=\"loss\"><text x=\"4\" y=\"%.1f\">lost</text><text x=\"4\" y=\"%.1f\">"
            "writes</text><line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n",
            y + 12, y + 25, X0, X1, y + 20, y + 20);
    json_array_foreach(jget(jget(verifier(report, "data_loss"), "measured"), "faults"), i, fl)
    {
        static const char *const which[2] = {"earliest", "latest"};
        int k;

        for (k = 0; k < 2; k++) {
            const json_t *rec = jget(fl, which[k]), *off;
            double x;

            if (!json_is_object(rec) || !json_is_integer(jget(rec, "complete_ns")))
                continue;
            off = jget(rec, "before_fault_ms");
            if (off == NULL)
                off = jget(rec, "after_fault_ms");
            x = xpos(B, json_integer_value(jget(rec, "complete_ns")));
            fprintf(f,
                    "<path class=\"lost\" d=\"M%.1f %.1fl6 8l-6 8l-6 -8z\"><title>%s lost write "
                    "of %s: record %" JSON_INTEGER_FORMAT ", key ",
                    x, y + 12, which[k], jstr(fl, "id", "?"),
                    json_integer_value(jget(rec, "record")));
            esc(f, jstr(rec, "key", "?"));
            fprintf(f,
                    ", %s %.0f ms %s the fault (%" JSON_INTEGER_FORMAT
                    " lost in all)</title></path>",
                    jget(rec, "before_fault_ms") ? "completed" : "completed",
                    fabs(json_number_value(off)), jget(rec, "before_fault_ms") ? "before" : "after",
                    json_integer_value(jget(fl, "lost")));
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s%.0f ms</text>\n", x + 7, y + 36,
                    jget(rec, "before_fault_ms") ? "-" : "+", fabs(json_number_value(off)));
        }
    }
    fputs("</g>\n", f);
}

/* Time ticks every 1, 2, 5, 10... seconds from the first operation. */
static void time_axis(FILE *f, const struct bins *B, double y, double bottom)
{
    double span = (double)(B->t1 - B->t0) / 1e9, step = 1;
    double steps[] = {0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600};
    size_t i;

    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        step = steps[i];
        if (span / step <= 14)
            break;
    }
    for (double s = 0; s <= span + 1e-9; s += step) {
        double x = xpos(B, B->t0 + (int64_t)(s * 1e9));

        fprintf(f,
                "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g s</text>\n",
                x, x, y, bottom, x, y - 4, s);
    }
}

/* Fault bands across every row: applied..healed, the uncertain edges darker. */
static void fault_bands(FILE *f, const struct bins *B, const struct hist_faults *hf, double y,
                        double h)
{
    size_t i;

    for (i = 0; hf && i < hf->n; i++) {
        const struct hist_fault *ft = &hf->f[i];
        int64_t end = ft->heal_done_ns ? ft->heal_done_ns : B->t1;
        double xa = xpos(B, ft->apply_sent_ns), xb = xpos(B, end);

        fputs("<g class=\"fault-band\"><rect class=\"fault\" data-fault=\"", f);
        esc(f, ft->id);
        fprintf(f,
                "\" data-apply-sent-ns=\"%" PRId64 "\" data-heal-done-ns=\"%" PRId64
                "\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\"><title>fault ",
                ft->apply_sent_ns, ft->heal_done_ns, xa, y, xb - xa, h);
        esc(f, ft->id);
        fputs(" (", f);
        esc(f, ft->kind);
        fputs(", ", f);
        esc(f, ft->scope);
        fprintf(f, "): applied within %.1f ms, ",
                (double)(ft->apply_done_ns - ft->apply_sent_ns) / 1e6);
        if (ft->heal_done_ns)
            fprintf(f, "healed within %.1f ms, active %.2f s",
                    (double)(ft->heal_done_ns - ft->heal_sent_ns) / 1e6,
                    (double)(ft->heal_done_ns - ft->apply_sent_ns) / 1e9);
        else
            fputs("never healed", f);
        fprintf(f,
                "</title></rect><rect class=\"uncert\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
                "height=\"%.1f\"><title>apply uncertainty</title></rect>",
                xa, y, fmax(xpos(B, ft->apply_done_ns) - xa, 1.0), h);
        if (ft->heal_done_ns)
            fprintf(f,
                    "<rect class=\"uncert\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\">"
                    "<title>heal uncertainty</title></rect>",
                    xpos(B, ft->heal_sent_ns), y, fmax(xb - xpos(B, ft->heal_sent_ns), 1.0), h);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", xa + 3, y + 11);
        esc(f, ft->id);
        fputs(" ", f);
        esc(f, ft->kind);
        fputs("</text></g>\n", f);
    }
}

/*
 * The service's own view, where the launcher reports one (refstore:
 * failover_at_ns / failback_at_ns per replica, on the history's clock): a
 * small triangle on the time axis, the ground truth the measured instants
 * can be read against.
 */
static void service_marks(FILE *f, const struct bins *B, const json_t *report, double y)
{
    static const char *const keys[2] = {"failover_at_ns", "failback_at_ns"};
    const json_t *hosts = jget(jget(jget(report, "target"), "status"), "hosts"), *hs;
    const char *name;
    int k;

    json_object_foreach((json_t *)hosts, name, hs)
    {
        for (k = 0; k < 2; k++) {
            json_int_t t = json_integer_value(jget(hs, keys[k]));
            double x;

            if (t <= B->t0 || t > B->t1)
                continue;
            x = xpos(B, t);
            fprintf(f,
                    "<path class=\"%s\" d=\"M%.1f %.1fl-5 -8h10z\"><title>%s: the service's own "
                    "%s at %.2f s (its clock)</title></path>\n",
                    k == 0 ? "svc-fo" : "svc-fb", x, y + 8, name, k == 0 ? "failover" : "failback",
                    (double)(t - B->t0) / 1e9);
        }
    }
}

static void timeline(FILE *f, const struct bins *B, const struct hist *h,
                     const struct hist_faults *hf, const json_t *report)
{
    size_t r, nrows = 0;
    int c;
    double y, top = 34, height;
    bool has[NCL][MAX_REG] = {{false}};

    for (c = 0; c < NCL; c++)
        for (r = 0; r < B->nreg; r++) {
            size_t b;

            for (b = 0; b < NBINS && !has[c][r]; b++)
                has[c][r] = B->n[c][r][b][0] + B->n[c][r][b][1] + B->n[c][r][b][2] > 0;
            nrows += has[c][r];
        }
    height = top + (double)nrows * (ROW_H + ROW_GAP) + 2 * (ROW_H + 20 + ROW_GAP) + 60;
    fputs("<h2 id=\"timeline\">Timeline</h2>\n<p class=\"small\">Operations per second by class "
          "and region (green ok, red fail, amber info = outcome unknown, stacked), the fault as a "
          "red band from the moment it was sent to the moment its heal was confirmed (darker "
          "edges: the apply and heal uncertainty), measured failover (solid blue) and failback "
          "(dashed green) instants, triangles on the time axis where the service itself says it "
          "failed over (blue) or back (green), the read-only period shaded amber on write rows; "
          "then "
          "latency p50 (solid), p99 (dashed), max (dotted) of ok operations, and lost writes "
          "(diamonds, offset from the fault).</p>\n",
          f);
    fprintf(f,
            "<svg class=\"timeline\" role=\"img\" aria-labelledby=\"tl-title\" "
            "width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d "
            "%.0f\" data-t0-ns=\"%" PRId64 "\" data-t1-ns=\"%" PRId64
            "\" data-x0=\"%.1f\" data-x1=\"%.1f\">\n<title id=\"tl-title\">Timeline of ",
            SVG_W, height, SVG_W, height, B->t0, B->t1, X0, X1);
    esc(f, jstr(report, "experiment", ""));
    fputs("</title>\n", f);
    time_axis(f, B, top, height - 10);
    fault_bands(f, B, hf, top, height - top - 10);
    service_marks(f, B, report, top);
    y = top + 8;
    for (c = 0; c < NCL; c++)
        for (r = 0; r < B->nreg; r++) {
            if (!has[c][r])
                continue;
            rate_row(f, B, report, c, r, h->regions.s[B->reg[r]], y);
            y += ROW_H + ROW_GAP;
        }
    for (c = 0; c < NCL; c++) {
        latency_row(f, B, c, y);
        y += ROW_H + 20 + ROW_GAP;
    }
    loss_row(f, B, report, y);
    fputs("</svg>\n", f);
}

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
    if (h && h->n > 0 && (r = bins_build(B, h, hf)) == 0)
        timeline(f, B, h, hf, report);
    else
        fputs("<h2 id=\"timeline\">Timeline</h2>\n<p>No operation was recorded.</p>\n", f);
    if (r == -ENOMEM) {
        free(B);
        return r;
    }
    lat = h ? latency_json(h, hf) : NULL;
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
    if (fclose(f) != 0 && r == 0)
        r = -EIO;
    if (r < 0) {
        unlink(tmp);
        return fl_errf(err, r, "cannot write %s: %s", path, strerror(-r));
    }
    if (rename(tmp, path) < 0)
        return fl_errf(err, -errno, "cannot rename %s: %s", tmp, strerror(errno));
    return 0;
}
