/*
 * Reports of `faultline run`: report.json (one experiment) and junit.xml
 * (one testsuite per experiment, one testcase per verifier). The JUnit file
 * is derived from the report.json objects alone, so what CI shows cannot
 * disagree with what the JSON says.
 *
 * report.json keys: experiment, verdict ("pass", "fail", "inconclusive",
 * "error"), verifiers [{name, status ("pass", "fail", "inconclusive"), pass,
 * skipped, measured, bound, detail, and reason and allowed when
 * inconclusive}], faults [...], ops {total, ok, fail, info}; and, from the
 * run loop, reason (on error), file, rate {offered, achieved}, durations_ms
 * {...}, lab {...}, started_wall and exit_code.
 */
#ifndef FAULTLINE_REPORT_H
#define FAULTLINE_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "faultline/err.h"

/*
 * The experiment's verdict from the run's exit code (0 verified, 1 a verifier
 * did not pass, anything else an error) and report.json's "verifiers" array:
 * "error", "fail" (a verifier failed), "inconclusive" (none failed, one had
 * nothing to judge and verify.allow_inconclusive does not name it) or "pass".
 * A static string.
 */
const char *report_verdict(int exit_code, const json_t *verifiers);

/* Write report (pretty-printed, keys in insertion order) to path. 0 or -errno with err. */
int report_write_json(const char *path, const json_t *report, struct fl_err *err);

/*
 * Write a JUnit XML document for reports[0..n) to f: <testsuites> with one
 * <testsuite> per report (name = experiment), one <testcase> per verifier
 * (classname "faultline.<experiment>", time 0, measured values and bounds as
 * <properties>, a <failure> with the detail when it failed, a <failure
 * type="inconclusive"> with the reason when it had nothing to judge, or
 * <skipped/> when verify.allow_inconclusive allowed that) and, for a report
 * with verdict "error", one
 * testcase "harness" holding an <error> with the reason. Everything is
 * XML-escaped. Returns 0 or -EIO.
 */
int report_junit_fwrite(FILE *f, json_t *const *reports, size_t n);

/* The same into a file (written to path.tmp, then renamed). 0 or -errno with err. */
int report_junit_write(const char *path, json_t *const *reports, size_t n, struct fl_err *err);

/* Append s XML-escaped to f (also drops characters XML 1.0 forbids). */
void report_xml_escape(FILE *f, const char *s);

#endif
