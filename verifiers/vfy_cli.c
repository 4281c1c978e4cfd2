/*
 * faultline-verify: run the verifiers over a recorded history.jsonl and
 * faults.jsonl with bounds given as JSON (the JSON form of `verify:`), and
 * print report-style JSON. Exit 0 when every verifier passed, 1 when one
 * failed or was inconclusive (unless allow_inconclusive names it), 2 on bad input (the offending
 * path:line is named), 3 when the verifiers themselves could not run.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "faultline/err.h"
#include "faultline/history.h"
#include "faultline/log.h"
#include "faultline/verify.h"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: faultline-verify --history FILE [--faults FILE] --bounds JSON|@FILE "
        "[--compact]\n"
        "  --bounds takes the JSON form of verify:, e.g.\n"
        "    '{\"failover\":{\"max\":\"180s\"},\"data_loss\":{\"consistency\":\"strong\"}}'\n"
        "  exit: 0 pass, 1 a verifier failed or was inconclusive, 2 bad input, 3 could not run\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"history", required_argument, NULL, 'H'}, {"faults", required_argument, NULL, 'F'},
        {"bounds", required_argument, NULL, 'b'},  {"compact", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    const char *hpath = NULL, *fpath = NULL, *bounds = NULL;
    struct hist h;
    struct hist_faults fs = {0};
    struct vfy_config cfg;
    struct vfy_results rs = {0};
    struct fl_err e;
    json_error_t je;
    json_t *bj = NULL, *report = NULL, *arr;
    size_t i, ok = 0, fail = 0, info = 0;
    int ch, rc = 2, compact = 0;

    fl_log_init("faultline-verify", 0);
    fl_err_clear(&e);
    while ((ch = getopt_long(argc, argv, "H:F:b:ch", opts, NULL)) != -1) {
        switch (ch) {
        case 'H':
            hpath = optarg;
            break;
        case 'F':
            fpath = optarg;
            break;
        case 'b':
            bounds = optarg;
            break;
        case 'c':
            compact = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (hpath == NULL || bounds == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (hist_init(&h) < 0) {
        log_warnx("out of memory");
        return 3;
    }
    if (bounds[0] == '@')
        bj = json_load_file(bounds + 1, JSON_REJECT_DUPLICATES, &je);
    else
        bj = json_loads(bounds, JSON_REJECT_DUPLICATES, &je);
    if (bj == NULL) {
        log_warnx("%s:%d: bad bounds JSON: %s", bounds[0] == '@' ? bounds + 1 : "--bounds", je.line,
                  je.text);
        goto out;
    }
    vfy_config_init_defaults(&cfg);
    if (vfy_config_from_json(bj, &cfg, &e) < 0) {
        log_warnx("bounds: %s", e.msg);
        goto out;
    }
    if (hist_load_jsonl(hpath, &h, &e) < 0) {
        log_warnx("%s", e.msg);
        goto out;
    }
    if (fpath != NULL && hist_faults_load_jsonl(fpath, &fs, &e) < 0) {
        log_warnx("%s", e.msg);
        goto out;
    }
    if (vfy_run_all(&h, &fs, &cfg, &rs, &e) < 0) {
        log_warnx("verifiers could not run: %s", e.msg);
        rc = 3;
        goto out;
    }
    for (i = 0; i < h.n; i++) {
        ok += h.ops[i].outcome == HIST_OK;
        fail += h.ops[i].outcome == HIST_FAIL;
        info += h.ops[i].outcome == HIST_INFO;
    }
    arr = vfy_results_to_json(&rs);
    report = json_pack("{s:s,s:o,s:{s:I,s:I,s:I,s:I}}", "verdict", vfy_results_verdict(&rs),
                       "verifiers", arr ? arr : json_array(), "ops", "total", (json_int_t)h.n, "ok",
                       (json_int_t)ok, "fail", (json_int_t)fail, "info", (json_int_t)info);
    if (report == NULL || json_dumpf(report, stdout, compact ? JSON_COMPACT : JSON_INDENT(2)) < 0) {
        log_warnx("cannot print the report");
        rc = 3;
        goto out;
    }
    fputc('\n', stdout);
    rc = vfy_results_pass(&rs) ? 0 : 1;
out:
    json_decref(report);
    json_decref(bj);
    vfy_results_free(&rs);
    hist_faults_free(&fs);
    hist_free(&h);
    return rc;
}
