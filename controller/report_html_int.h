/*
 * Internals of report.html shared by its files: report_html.c (the page and
 * its tables), report_svg.c (the timeline SVG) and report_figures.c (the
 * one-line verifier figures, the terminal summary and the latency and
 * availability statistics). Not an API: see report_html.h for that.
 */
#ifndef FAULTLINE_REPORT_HTML_INT_H
#define FAULTLINE_REPORT_HTML_INT_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
extern const char *const report_cl_name[NCL]; /* "read", "write" */
#define cl_name report_cl_name

#define esc report_html_escape

/* The binned view of a history (report_svg.c). */
struct bins {
    int64_t t0, t1; /* the time axis */
    double bin_s;
    size_t nreg;
    uint32_t reg[MAX_REG];              /* history region index of each drawn region */
    uint32_t n[NCL][MAX_REG][NBINS][3]; /* ok, fail, info per bin */
    double lat[NCL][NBINS][3];          /* p50, p99, max (ms), NaN when empty */
};

static inline const json_t *jget(const json_t *o, const char *k)
{
    return json_object_get(o, k);
}

static inline const char *jstr(const json_t *o, const char *k, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, k));

    return s ? s : dflt;
}

static inline const json_t *verifier(const json_t *report, const char *name)
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
static inline void fmt_ms(double ms, char *buf, size_t len)
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

static inline void cat(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void cat(char *buf, size_t len, const char *fmt, ...)
{
    size_t n = strlen(buf);
    va_list ap;

    if (n + 1 >= len)
        return;
    va_start(ap, fmt);
    vsnprintf(buf + n, len - n, fmt, ap);
    va_end(ap);
}

/* A verifier's status word ("pass", "fail", "inconclusive (allowed)", ...). */
static inline const char *status_of(const json_t *v)
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

static inline int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* report_figures.c: p50, p99, max of v[0..n) (sorted here) in ms; NaN when n == 0. */
void report_pcts(int64_t *v, size_t n, double out[3]);

/* report_figures.c: latency percentiles of the ok operations, per class and phase. */
json_t *report_latency_json(const struct hist *h, const struct hist_faults *hf);

/* report_svg.c: bin the history (0, -ENOMEM, or < 0 when there is nothing to draw). */
int report_bins_build(struct bins *B, const struct hist *h, const struct hist_faults *hf);

/* report_svg.c: the timeline section (heading and SVG) from the binned history. */
void report_svg_timeline(FILE *f, const struct bins *B, const struct hist *h,
                         const struct hist_faults *hf, const json_t *report);

#endif
