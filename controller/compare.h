/*
 * `faultline compare BASELINE... NEW`: nightly regressions. Every input is a
 * run folder (its summary.json, or its report.json) or one of those files;
 * each gives one row of figures per experiment (report_summary_row()). Per
 * experiment and figure the baseline is the median over the baseline runs,
 * and the new value is worse when it moved in the bad direction by more than
 * the figure's tolerance: max(relative * |baseline|, absolute). Defaults
 * ignore noise; an experiment's `verify.regression` overrides them. See
 * docs/internals/report.md.
 */
#ifndef FAULTLINE_COMPARE_H
#define FAULTLINE_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "faultline/err.h"

/* The tolerance of one figure. */
struct cmp_tol {
    double relative; /* of the baseline's magnitude */
    double absolute; /* in the figure's unit (ms, count, ratio, ops/s) */
};

/*
 * The tolerance of figure (e.g. "failover.read_ms") under the overrides of
 * regression (an experiment's verify.regression as JSON, or NULL); *higher_worse
 * says which way is bad. Returns false for a figure compare does not judge.
 */
bool compare_tolerance(const char *figure, const json_t *regression, struct cmp_tol *t,
                       bool *higher_worse);

/*
 * Load one input: a run folder or a summary.json / report.json. Returns
 * {"experiments": [rows]} (new reference) or NULL with err.
 */
json_t *compare_load(const char *path, struct fl_err *err);

/*
 * Compare nb baseline summaries with the new one: the result object of
 * compare.json ({"verdict": "ok"|"worse", "worse": ["experiment: figure"],
 * "experiments": [{experiment, status, figures: [{name, baseline, new,
 * change, change_relative, tolerance, verdict, series}]}]}). A new reference.
 */
json_t *compare_summaries(json_t *const *baselines, size_t nb, const json_t *newer);

/* Print the result as one table per experiment. */
void compare_print(FILE *f, const json_t *result);

/* Write the trend page (sparklines of every figure over the runs) to path. 0 or -errno. */
int compare_html_write(const char *path, const json_t *result, struct fl_err *err);

/* faultline compare [options] BASELINE... NEW */
int cmd_compare(int argc, char **argv);

#endif
