/*
 * The outputs of a run: history.jsonl and faults.jsonl (the history
 * module's writers), report.json (assembled here from the run's state,
 * written by report.c) with the one summary line on stderr, and junit.xml
 * over every experiment of the command (report.c). See docs/internals/run.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "faultline/log.h"
#include "faultline/timeutil.h"
#include "report.h"
#include "report_html.h"
#include "run_int.h"

/* Operations of the history: workload ops by outcome, final reads apart. */
struct op_counts {
    uint64_t ok, fail, info, total, f_total, f_ok;
};

void outputs_faults_timeline(struct run *R)
{
    size_t i;

    if (R->hf.n > 0)
        return;
    for (i = 0; R->fs && i < R->nfs; i++) {
        const struct fstate *s = &R->fs[i];
        struct hist_fault f;

        if (s->state == FS_PENDING)
            continue;
        memset(&f, 0, sizeof(f));
        snprintf(f.id, sizeof(f.id), "%s", s->f->id);
        snprintf(f.kind, sizeof(f.kind), "%s", experiment_fault_kind_name(s->f->kind));
        snprintf(f.scope, sizeof(f.scope), "%s", s->scope);
        f.apply_sent_ns = s->apply_sent;
        f.apply_done_ns = s->apply_done;
        f.heal_sent_ns = s->heal_sent;
        f.heal_done_ns = s->heal_done;
        snprintf(f.healed_by, sizeof(f.healed_by), "%s", s->healed_by);
        /* A timeline with a fault missing would let the verifiers judge the wrong windows. */
        if (hist_faults_append(&R->hf, &f) < 0) {
            run_harness_fail(R, "out of memory recording the fault timeline");
            return;
        }
    }
}

/* dir/name from the history writers; 0, or -errno with "cannot write PATH: why" in err. */
static int write_jsonl(const char *dir, const char *name, const struct hist *h,
                       const struct hist_faults *hf, struct fl_err *err)
{
    char path[PATH_MAX + 32];
    FILE *f;
    int r, e = 0;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "we");
    if (!f)
        return fl_errf(err, -errno, "cannot write %s: %s", path, strerror(errno));
    errno = 0;
    r = h ? hist_write_jsonl(f, h) : hist_faults_write_jsonl(f, hf);
    if (r < 0)
        e = errno;
    if (fclose(f) != 0 && r == 0) {
        r = -EIO;
        e = errno;
    }
    if (r < 0)
        return fl_errf(err, e ? -e : r, "cannot write %s: %s", path, strerror(e ? e : -r));
    return 0;
}

/*
 * An output could not be written: the run is a harness error (exit 3) with
 * the reason, whatever the verifiers said, so that no report claims a
 * verdict its files do not back.
 */
static void output_failed(struct run *R, const char *why)
{
    if (R->code != FL_EXIT_HARNESS || !R->reason[0])
        snprintf(R->reason, sizeof(R->reason), "%s", why);
    R->code = FL_EXIT_HARNESS;
    R->verified = false;
}

static const char *state_name(int state)
{
    return state == FS_PENDING ? "never applied" : state == FS_ACTIVE ? "active" : "healed";
}

/* The applied part of a fault's report entry: intervals and the agents' records. */
static void fault_times(json_t *o, const struct fstate *s)
{
    json_object_set_new(o, "apply_sent_ns", json_integer(s->apply_sent));
    json_object_set_new(o, "apply_done_ns", json_integer(s->apply_done));
    json_object_set_new(o, "apply_ms", json_real((double)(s->apply_done - s->apply_sent) / 1e6));
    json_object_set_new(o, "heal_sent_ns", json_integer(s->heal_sent));
    json_object_set_new(o, "heal_done_ns", json_integer(s->heal_done));
    if (s->heal_done)
        json_object_set_new(o, "heal_ms", json_real((double)(s->heal_done - s->heal_sent) / 1e6));
    json_object_set(o, "agents", s->agents);
}

static json_t *faults_json(struct run *R)
{
    const struct exp_topology *t = &R->exp->topology;
    json_t *a = json_array();
    size_t i, h;

    for (i = 0; R->fs && i < R->nfs; i++) {
        const struct fstate *s = &R->fs[i];
        json_t *hosts = json_array();
        json_t *o;

        for (h = 0; h < s->nh; h++)
            json_array_append_new(hosts, json_string(t->hosts[s->hosts[h]].name));
        o = json_pack("{s:s,s:s,s:s,s:o,s:I,s:I,s:b,s:s}", "id", s->f->id, "kind",
                      experiment_fault_kind_name(s->f->kind), "scope", s->scope, "hosts", hosts,
                      "at_ms", (json_int_t)(s->f->at_ns / NS_MS), "for_ms",
                      (json_int_t)(s->f->for_ns / NS_MS), "until_end", s->f->until_end, "state",
                      state_name(s->state));
        if (!o)
            continue;
        if (s->nh > 0)
            json_object_set(o, "spec", s->specs[0]);
        if (s->state != FS_PENDING)
            fault_times(o, s);
        if (s->error[0])
            json_object_set_new(o, "error", json_string(s->error));
        if (s->healed_by[0])
            json_object_set_new(o, "healed_by", json_string(s->healed_by));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *lab_json(struct run *R)
{
    const struct exp_topology *t = &R->exp->topology;
    json_t *o, *hosts = json_array();
    char a[64], c[64];
    size_t i;

    for (i = 0; i < t->n_hosts; i++) {
        json_t *h = json_pack(
            "{s:s,s:s,s:s,s:s}", "name", t->hosts[i].name, "data",
            fl_cidr_format(&t->hosts[i].data, a, sizeof(a)), "control",
            t->hosts[i].control.family ? fl_cidr_format(&t->hosts[i].control, c, sizeof(c)) : "",
            "agent", t->hosts[i].agent);

        if (h && R->lab)
            json_object_set_new(h, "namespace", json_string(R->lab->host_ns[i]));
        json_array_append_new(hosts, h);
    }
    o = json_pack("{s:s,s:o}", "kind", t->lab ? "lab" : "staging", "hosts", hosts);
    if (o && R->lab) {
        json_object_set_new(o, "id", json_string(R->lab->id));
        json_object_set_new(o, "router_namespace", json_string(R->lab->router_ns));
        json_object_set_new(o, "control_namespace", json_string(R->lab->ctl_ns));
        json_object_set_new(o, "clients", json_string(LAB_CLIENT_NET));
        json_object_set_new(o, "up_ms", json_real((double)R->lab->up_ns / 1e6));
        json_object_set_new(o, "teardown_ms", json_real((double)R->lab->down_ns / 1e6));
    }
    return o;
}

static void count_ops(const struct hist *h, struct op_counts *n)
{
    size_t i;

    memset(n, 0, sizeof(*n));
    for (i = 0; i < h->n; i++) {
        const struct hist_op *op = &h->ops[i];

        if (op->is_final) {
            n->f_total++;
            n->f_ok += op->outcome == HIST_OK;
            continue;
        }
        n->total++;
        n->ok += op->outcome == HIST_OK;
        n->fail += op->outcome == HIST_FAIL;
        n->info += op->outcome == HIST_INFO;
    }
}

/* The rest of report.json: run facts, workload, target, durations, lab. */
static void report_details(struct run *R, json_t *report)
{
    const struct wl_stats *ws = &R->ws;

    if (R->reason[0])
        json_object_set_new(report, "reason", json_string(R->reason));
    json_object_set_new(report, "exit_code", json_integer(R->code));
    json_object_set_new(report, "started_wall", json_string(R->started));
    json_object_set_new(report, "out", json_string(R->out));
    json_object_set_new(
        report, "rate",
        json_pack("{s:f,s:f}", "offered", ws->offered_rate, "achieved", ws->achieved_rate));
    json_object_set_new(report, "workload",
                        json_pack("{s:I,s:I,s:I,s:I,s:I,s:f}", "scheduled",
                                  (json_int_t)ws->scheduled, "issued", (json_int_t)ws->issued,
                                  "missed", (json_int_t)ws->missed, "late", (json_int_t)ws->late,
                                  "region_moves", (json_int_t)ws->region_moves, "max_lag_ms",
                                  (double)ws->max_lag_ns / 1e6));
    json_object_set_new(report, "target",
                        json_pack("{s:s,s:s,s:b,s:O?}", "kind", R->exp->target.kind_name, "preset",
                                  R->exp->target.preset, "settled", R->settled, "status",
                                  R->tstatus));
    json_object_set(report, "durations_ms", R->durations);
    json_object_set_new(report, "lab", lab_json(R));
}

static json_t *report_build(struct run *R, const struct op_counts *n)
{
    json_t *verifiers = R->verified ? vfy_results_to_json(&R->vres) : json_array();
    json_t *report =
        json_pack("{s:s,s:s,s:s,s:o,s:o,s:{s:I,s:I,s:I,s:I},s:{s:I,s:I}}", "experiment",
                  R->exp->name, "file", R->exp->file, "verdict", report_verdict(R->code, verifiers),
                  "verifiers", verifiers ? verifiers : json_array(), "faults",
                  R->fs ? faults_json(R) : json_array(), "ops", "total", (json_int_t)n->total, "ok",
                  (json_int_t)n->ok, "fail", (json_int_t)n->fail, "info", (json_int_t)n->info,
                  "final_reads", "total", (json_int_t)n->f_total, "ok", (json_int_t)n->f_ok);

    if (report) {
        report_details(R, report);
        if (R->exp->promise) /* the claim this experiment checks (promises.md, index.html) */
            json_object_set(report, "promise", R->exp->promise);
        report_add_figures(report, &R->hist, &R->hf, R->exp->verify);
    }
    return report;
}

/* One line for the experiment, then one per verifier and the reports' paths (unless quiet). */
static void summary(struct run *R, const struct op_counts *n, const json_t *report)
{
    fprintf(
        stderr, "[%s] %s", R->exp->name,
        R->code == FL_EXIT_OK ? "PASS"
        : R->code == FL_EXIT_VERIFY
            ? (strcmp(vfy_results_verdict(&R->vres), "inconclusive") == 0 ? "INCONCLUSIVE" : "FAIL")
            : "ERROR");
    if (R->reason[0])
        fprintf(stderr, ": %s", R->reason);
    fprintf(stderr, " (%llu ops: %llu ok, %llu fail, %llu info; %.1f s) -> %s\n",
            (unsigned long long)n->total, (unsigned long long)n->ok, (unsigned long long)n->fail,
            (unsigned long long)n->info, (double)(fl_now_ns() - R->t_start) / 1e9, R->out);
    if (report && !R->o->quiet)
        report_summary_print(stderr, report, R->out, R->o->verbose);
}

void outputs_write(struct run *R, json_t **out)
{
    struct op_counts n;
    json_t *report;
    char rp[PATH_MAX + 16];
    struct fl_err err = {0};

    count_ops(&R->hist, &n);
    if (R->workload_ran || R->code != FL_EXIT_USAGE) {
        if (write_jsonl(R->out, "history.jsonl", &R->hist, NULL, &err) < 0 ||
            write_jsonl(R->out, "faults.jsonl", NULL, &R->hf, &err) < 0)
            output_failed(R, err.msg);
    }
    run_duration(R, "total", fl_now_ns() - R->t_start);
    report = report_build(R, &n);
    if (!report)
        output_failed(R, "out of memory building report.json");
    if (report) {
        snprintf(rp, sizeof(rp), "%s/report.json", R->out);
        errno = 0;
        if (report_write_json(rp, report, &err) < 0) {
            char why[FL_ERR_MAX], tmp[sizeof(rp) + 8];
            int e = errno, used;

            used = snprintf(why, sizeof(why), "%s", err.msg);
            if (e && used >= 0 && (size_t)used < sizeof(why))
                snprintf(why + used, sizeof(why) - (size_t)used, ": %s", strerror(e));
            /* No report.json rather than one (an earlier run's) that says otherwise. */
            unlink(rp);
            snprintf(tmp, sizeof(tmp), "%s.tmp", rp);
            unlink(tmp);
            output_failed(R, why);
            /* The report object feeds junit.xml: it says the same. */
            json_object_set_new(report, "verdict", json_string("error"));
            json_object_set_new(report, "reason", json_string(R->reason));
            json_object_set_new(report, "exit_code", json_integer(R->code));
            json_object_set_new(report, "verifiers", json_array());
        }
    }
    if (report && access(rp, F_OK) == 0 &&
        report_html_write(R->out, report, &R->hist, &R->hf, &err) < 0)
        log_warnx("%s (report.json stands)", err.msg); /* a view of report.json, not a verdict */
    progress_end();
    summary(R, &n, report);
    *out = report;
}

int outputs_junit(const char *dir, json_t *const *reports, size_t n, struct fl_err *err)
{
    json_t **have = calloc(n ? n : 1, sizeof(*have));
    char path[PATH_MAX + 80];
    size_t k = 0, j;
    int r;

    if (!have)
        return fl_errf(err, -ENOMEM, "out of memory");
    for (j = 0; j < n; j++)
        if (reports[j])
            have[k++] = reports[j];
    snprintf(path, sizeof(path), "%s/junit.xml", dir);
    r = report_junit_write(path, have, k, err);
    free(have);
    return r;
}
