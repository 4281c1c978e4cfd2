/*
 * The figures of a run report: one line per verifier (measured and bound,
 * for report.html, the terminal summary and the comparison), the terminal
 * summary, and the latency and availability statistics added to
 * report.json (see report_html.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_html_int.h"

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

/* guard: which guard tripped and when, or how many probes ran; each guard's bound. */
static void guard_figures(const json_t *v, char *m, size_t ml, char *b, size_t bl)
{
    const json_t *meas = jget(v, "measured"), *x;
    const char *tripped = jstr(meas, "tripped", NULL);
    json_int_t probes = 0;
    size_t i;

    json_array_foreach(jget(meas, "guards"), i, x) probes += json_integer_value(jget(x, "probes"));
    probes += json_integer_value(jget(jget(meas, "abort_when"), "samples"));
    if (tripped && json_is_integer(jget(meas, "tripped_at_ms")))
        snprintf(m, ml, "%s tripped at %.1f s", tripped,
                 (double)json_integer_value(jget(meas, "tripped_at_ms")) / 1e3);
    else if (tripped)
        snprintf(m, ml, "%s not steady before the first fault", tripped);
    else
        snprintf(m, ml, "%" JSON_INTEGER_FORMAT " probes, none tripped", probes);
    json_array_foreach(jget(jget(v, "bound"), "guards"), i, x)
    {
        cat(b, bl, "%s%s < %" JSON_INTEGER_FORMAT " failures", b[0] ? ", " : "",
            jstr(x, "name", "?"), json_integer_value(jget(x, "failures")));
    }
    x = jget(jget(v, "bound"), "abort_when");
    if (x)
        cat(b, bl, "%s%s success >= %g", b[0] ? ", " : "", jstr(x, "class", "?"),
            json_number_value(jget(x, "success_below")));
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
    else if (strcmp(name, "guard") == 0)
        guard_figures(v, measured, mlen, bound, blen);
    else
        generic_figures(v, measured, mlen, bound, blen);
    if (!measured[0])
        snprintf(measured, mlen, "-");
    if (!bound[0])
        snprintf(bound, blen, "-");
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

/* p50, p99, max of v[0..n) (sorted here) in ms; NaN when n == 0. */
void report_pcts(int64_t *v, size_t n, double out[3])
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

json_t *report_latency_json(const struct hist *h, const struct hist_faults *hf)
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
        report_pcts(v, n, p);
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
            report_pcts(v, n, p);
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
    return json_pack("{s:o*,s:o*}", "latency_ms", report_latency_json(h, hf), "availability",
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
