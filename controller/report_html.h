/*
 * What a person reads after a run: report.html beside report.json (one
 * self-contained page: inline CSS and SVG, no script, nothing fetched), the
 * terminal summary (one aligned line per verifier), and for a run of several
 * experiments DIR/index.html and DIR/summary.json (one row per experiment).
 * Everything is drawn from report.json, history.jsonl and faults.jsonl
 * alone, so `faultline report RUN_DIR` redraws an old run the same way.
 * See docs/internals/report.md.
 */
#ifndef FAULTLINE_REPORT_HTML_H
#define FAULTLINE_REPORT_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "faultline/err.h"
#include "faultline/history.h"

/*
 * A verifier's figure in one line each: what was measured ("read 2.51 s,
 * write - (read-only)") and the bound ("<= 8 s"), from its report.json
 * object. Always fills both (possibly with "-").
 */
void report_verifier_figures(const json_t *v, char *measured, size_t mlen, char *bound,
                             size_t blen);

/*
 * The terminal summary of one report: one aligned line per verifier (name,
 * status, measured, bound), the detail paragraphs as well when verbose, then
 * the paths of report.html and report.json in dir.
 */
void report_summary_print(FILE *f, const json_t *report, const char *dir, bool verbose);

/*
 * Figures of the history for report.json: {"latency_ms": {p50, p99, max,
 * classes: {read, write}, phases: {before, during, after}}, "availability":
 * {before|during|after|whole_run: {read, write: ok/total}}}. Latency is that
 * of the non-final ok operations in milliseconds (null when none); phases are
 * those of the first fault (before its apply is sent, from its apply
 * confirmed to its heal sent, from its heal confirmed), operations placed by
 * invocation. A new reference.
 */
json_t *report_stats_json(const struct hist *h, const struct hist_faults *hf);

/*
 * Write dir/report.html (through dir/report.html.tmp) from the report object,
 * the history and the fault timeline (h and hf may be empty). The page is
 * bounded in size whatever the number of operations (time is binned). 0 or
 * -errno with err.
 */
int report_html_write(const char *dir, const json_t *report, const struct hist *h,
                      const struct hist_faults *hf, struct fl_err *err);

/*
 * The row of summary.json for one report: experiment, verdict, link (to its
 * report.html, relative to the index), duration_s, and figures (flat names:
 * "failover.read_ms", "data_lost", "availability.during.read", "rate_achieved",
 * "latency_p99_ms", ...; null for "never"), plus the regression tolerances the
 * experiment set. A new reference.
 */
json_t *report_summary_row(const json_t *report, const char *link);

/*
 * dir/summary.json ({"experiments": [rows]}) and dir/index.html for the
 * reports of a run of several experiments, each in subdirs[i] (relative to
 * dir; subdirs NULL: each report's "out" below dir). NULL reports are
 * skipped. 0 or -errno with err.
 */
/*
 * The promise tables of a summary ({"experiments": [rows]}): one per document
 * the rows' "promise" name, rows x columns as the experiments name them,
 * each cell with its claim, status (kept / broken / inconclusive) and the
 * rows that check it. New reference (caller decrefs), NULL on ENOMEM.
 */
json_t *report_promise_tables(const json_t *summary);

int report_index_write(const char *dir, json_t *const *reports, const char *const *subdirs,
                       size_t n, struct fl_err *err);

/*
 * Add what the page and compare read to report (before it is written):
 * report_stats_json()'s latency_ms and availability, and the experiment's
 * verify.regression (verify may be NULL) as "regression".
 */
void report_add_figures(json_t *report, const struct hist *h, const struct hist_faults *hf,
                        const json_t *verify);

/* Write s HTML-escaped to f. */
void report_html_escape(FILE *f, const char *s);

#endif
