/*
 * The timeline of report.html: one SVG whose time axis is declared on the
 * element (data-t0-ns, data-t1-ns, data-x0, data-x1: x = x0 + (t - t0) *
 * (x1 - x0) / (t1 - t0)), so a test or a reader can map any mark back to the
 * history's clock. Time is cut into NBINS bins and every row draws bins,
 * never operations, so its size is bounded whatever the run's length.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_html_int.h"

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
int report_bins_build(struct bins *B, const struct hist *h, const struct hist_faults *hf)
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
            report_pcts(lat + cnt[b], cnt[b + 1] - cnt[b], B->lat[c][b]);
    }
    free(lat);
    free(cnt);
    free(at);
    return 0;
}

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

/* Is rec the earliest or latest lost write of fault fl (those get an offset label)? */
static bool loss_extreme(const json_t *fl, const json_t *rec)
{
    json_int_t no = json_integer_value(jget(rec, "record"));

    return no == json_integer_value(jget(jget(fl, "earliest"), "record")) ||
           no == json_integer_value(jget(jget(fl, "latest"), "record"));
}

/* Every listed lost write of fault fl as a diamond, titled with its key, value, region, offset. */
static void loss_list(FILE *f, const struct bins *B, const json_t *fl, double y)
{
    const json_t *rec;
    size_t i;

    json_array_foreach(jget(fl, "lost_writes"), i, rec)
    {
        const json_t *off = jget(rec, "offset_ms"), *v = jget(rec, "value");
        double x, ms = json_number_value(off);

        if (!json_is_integer(jget(rec, "complete_ns")))
            continue;
        x = xpos(B, json_integer_value(jget(rec, "complete_ns")));
        fprintf(f, "<path class=\"lost\" d=\"M%.1f %.1fl6 8l-6 8l-6 -8z\"><title>lost write of ", x,
                y + 12);
        esc(f, jstr(fl, "id", "?"));
        fprintf(f, ": record %" JSON_INTEGER_FORMAT ", key ",
                json_integer_value(jget(rec, "record")));
        esc(f, jstr(rec, "key", "?"));
        if (json_is_integer(v))
            fprintf(f, ", value %" JSON_INTEGER_FORMAT, json_integer_value(v));
        fputs(", region ", f);
        esc(f, jstr(rec, "region", "?"));
        if (json_is_number(off))
            fprintf(f, ", %s%.0f ms from the fault start (%s)", ms > 0 ? "+" : "", ms,
                    jstr(rec, "side", "?"));
        fputs("</title></path>\n", f);
        if (json_is_number(off) && loss_extreme(fl, rec))
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s%.0f ms</text>\n", x + 7, y + 36,
                    ms > 0 ? "+" : "", ms);
    }
    if (json_integer_value(jget(fl, "lost_truncated")) > 0) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">(", X1 - 160, y + 48);
        esc(f, jstr(fl, "id", "?"));
        fprintf(f, ": %" JSON_INTEGER_FORMAT " more not listed)</text>\n",
                json_integer_value(jget(fl, "lost_truncated")));
    }
}

/* The earliest and latest lost write of fault fl (a report.json without lost_writes). */
static void loss_extremes(FILE *f, const struct bins *B, const json_t *fl, double y)
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
                x, y + 12, which[k], jstr(fl, "id", "?"), json_integer_value(jget(rec, "record")));
        esc(f, jstr(rec, "key", "?"));
        fprintf(f,
                ", completed %.0f ms %s the fault (%" JSON_INTEGER_FORMAT
                " lost in all)</title></path>",
                fabs(json_number_value(off)), jget(rec, "before_fault_ms") ? "before" : "after",
                json_integer_value(jget(fl, "lost")));
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s%.0f ms</text>\n", x + 7, y + 36,
                jget(rec, "before_fault_ms") ? "-" : "+", fabs(json_number_value(off)));
    }
}

/* Lost writes on the time axis: every listed one of each fault, with its offset from the fault. */
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
        if (json_is_array(jget(fl, "lost_writes")))
            loss_list(f, B, fl, y);
        else
            loss_extremes(f, B, fl, y);
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

void report_svg_timeline(FILE *f, const struct bins *B, const struct hist *h,
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
