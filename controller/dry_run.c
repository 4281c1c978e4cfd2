/*
 * `faultline run --dry-run`: everything but the faults and the workload.
 * The phases up to the target run as in a real run (the file is parsed,
 * the lab is built or the staging agents are reached, every agent's health,
 * token and kernel capabilities are checked against every fault, the target
 * starts in the lab); then, instead of the workload, the plan: every fault
 * resolved to the hosts it touches, the agents that get its rules and the
 * injector spec they would get, printed and written to plan.json; the
 * guards are evaluated once; every agent's metrics are read to show that
 * nothing was applied. Teardown is the real one. See docs/internals/run.md.
 *
 * Exit codes: 0 the real run could start; 2 the file is wrong; 3 an agent
 * is unreachable, refuses the token, is halted or lacks a capability; 1 a
 * guard fails (the real run would stop at its steady-state check).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "faultline/file.h"
#include "faultline/inject.h"
#include "faultline/log.h"
#include "guard.h"
#include "run_int.h"

#pragma GCC diagnostic ignored "-Wformat-truncation"

static json_t *host_list(const struct exp_topology *t, const size_t *h, size_t n)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(t->hosts[h[i]].name));
    return a;
}

static json_t *needs_list(unsigned needs)
{
    json_t *a = json_array();
    unsigned bit;

    for (bit = 1; a && bit != 0; bit <<= 1)
        if ((needs & bit) && inj_cap_name(bit))
            json_array_append_new(a, json_string(inj_cap_name(bit)));
    return a;
}

/* One fault of the plan: when, where, what it touches, who gets which spec. */
static json_t *fault_entry(const struct run *R, const struct fstate *s, size_t *touched)
{
    const struct exp_topology *t = &R->exp->topology;
    size_t n = experiment_fault_touched(R->exp, s->f, touched);
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "id", json_string(s->f->id));
    json_object_set_new(o, "kind", json_string(experiment_fault_kind_name(s->f->kind)));
    json_object_set_new(o, "at_ms", json_integer(s->f->at_ns / NS_MS));
    json_object_set_new(o, "for_ms", json_integer(s->f->for_ns / NS_MS));
    json_object_set_new(o, "scope", json_string(s->scope));
    json_object_set_new(o, "touches", host_list(t, touched, n));
    json_object_set_new(o, "rules_on", host_list(t, s->hosts, s->nh));
    json_object_set_new(o, "needs", needs_list(s->needs));
    if (s->nh > 0)
        json_object_set(o, "spec", s->specs[0]);
    return o;
}

/* "a, b, c" from a JSON array of strings, cut at len. */
static const char *names(const json_t *a, char *buf, size_t len)
{
    size_t i, used = 0;

    buf[0] = '\0';
    for (i = 0; i < json_array_size(a) && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                                 json_string_value(json_array_get(a, i)));
    return buf;
}

static void print_fault(FILE *out, const json_t *f)
{
    const json_t *touches = json_object_get(f, "touches"), *rules = json_object_get(f, "rules_on");
    char buf[1024], *spec = json_dumps(json_object_get(f, "spec"), JSON_COMPACT);

    fprintf(out, "  %s %s %s at %.1fs for %.1fs\n", json_string_value(json_object_get(f, "id")),
            json_string_value(json_object_get(f, "kind")),
            json_string_value(json_object_get(f, "scope")),
            (double)json_integer_value(json_object_get(f, "at_ms")) / 1e3,
            (double)json_integer_value(json_object_get(f, "for_ms")) / 1e3);
    fprintf(out, "     touches %zu host%s: %s\n", json_array_size(touches),
            json_array_size(touches) == 1 ? "" : "s", names(touches, buf, sizeof(buf)));
    fprintf(out, "     rules on %zu agent%s: %s\n", json_array_size(rules),
            json_array_size(rules) == 1 ? "" : "s", names(rules, buf, sizeof(buf)));
    fprintf(out, "     needs: %s\n",
            json_array_size(json_object_get(f, "needs"))
                ? names(json_object_get(f, "needs"), buf, sizeof(buf))
                : "nothing beyond the agent");
    if (spec)
        fprintf(out, "     spec: %s\n", spec);
    free(spec);
}

/*
 * Every agent's faultline_agent_faults_applied_total, summed into *applied;
 * 0, or -EIO when an agent does not answer or says nothing about it.
 */
static int applies_seen(struct run *R, long long *applied)
{
    struct agent_call c = {
        .method = "GET", .path = "/metrics", .n = R->agents.n, .timeout_ms = 2000, .raw = true};
    size_t i;
    int rc = 0;

    *applied = 0;
    if (agents_call(&R->agents, &c) < 0)
        return -ENOMEM;
    for (i = 0; i < c.n; i++) {
        const char *text = json_string_value(c.r[i].body);
        const char *p = text ? strstr(text, "\nfaultline_agent_faults_applied_total ") : NULL;

        if (!c.r[i].ok || p == NULL) {
            rc = -EIO;
            continue;
        }
        *applied += strtoll(p + strlen("\nfaultline_agent_faults_applied_total "), NULL, 10);
    }
    agent_call_free(&c);
    return rc;
}

/* The guards once, as the real run's pre-check does: 0, or the run's failure. */
static int dry_guards(struct run *R)
{
    json_t *res = NULL, *g;
    size_t i;
    int r;

    if (R->exp->n_guards == 0)
        return 0;
    r = guards_check_once(R, &res);
    if (res) {
        json_array_foreach(json_object_get(res, "guards"), i, g)
        {
            bool ok = json_is_true(json_object_get(g, "steady"));
            const char *why = json_string_value(json_object_get(g, "why"));

            printf("guard %s: %s after %lld probe(s)%s%s\n",
                   json_string_value(json_object_get(g, "name")), ok ? "steady" : "NOT steady",
                   (long long)json_integer_value(json_object_get(g, "probes")),
                   !ok && why ? ": " : "", !ok && why ? why : "");
        }
        json_object_set_new(R->plan, "guards", res);
    }
    if (r == -EINTR)
        return run_fail(R, FL_EXIT_HARNESS, "interrupted");
    if (r < 0)
        return run_fail(R, FL_EXIT_HARNESS, "guards: %s", strerror(-r));
    if (r > 0)
        return run_fail(R, FL_EXIT_VERIFY,
                        "a guard is not steady: the real run would stop before its first fault");
    return 0;
}

/* The plan phase (instead of the workload): print it, keep it for plan.json. */
int dry_plan(struct run *R)
{
    const struct exp_limits *l = &R->exp->limits;
    size_t *touched = calloc(R->exp->topology.n_hosts + 1, sizeof(*touched)), i;
    json_t *faults = json_array();
    long long applied = 0;

    progress_phase("plan");
    if (touched == NULL || faults == NULL) {
        free(touched);
        json_decref(faults);
        return run_fail(R, FL_EXIT_HARNESS, "out of memory");
    }
    printf("dry run of %s (%s): %zu fault%s on %zu hosts", R->exp->name, R->exp->file, R->nfs,
           R->nfs == 1 ? "" : "s", R->exp->topology.n_hosts);
    if (l->set)
        printf(" (limits: max_hosts %u, max_fraction %g)", l->max_hosts, l->max_fraction);
    printf("\n");
    for (i = 0; i < R->nfs; i++) {
        json_t *f = fault_entry(R, &R->fs[i], touched);

        if (f) {
            print_fault(stdout, f);
            json_array_append_new(faults, f);
        }
    }
    free(touched);
    R->plan = json_pack("{s:s,s:s,s:b,s:o}", "experiment", R->exp->name, "file", R->exp->file,
                        "dry_run", 1, "faults", faults);
    if (l->set && R->plan)
        json_object_set_new(
            R->plan, "limits",
            json_pack("{s:i,s:f}", "max_hosts", l->max_hosts, "max_fraction", l->max_fraction));
    if (applies_seen(R, &applied) < 0)
        return run_fail(R, FL_EXIT_HARNESS, "cannot read every agent's /metrics");
    json_object_set_new(R->plan, "applies_seen", json_integer(applied));
    printf("agents: %zu answered health, token and capabilities; faults applied by them: %lld\n",
           R->agents.n, applied);
    if (applied != 0)
        return run_fail(R, FL_EXIT_HARNESS,
                        "an agent reports %lld fault(s) applied during a dry run (another "
                        "controller is using it?)",
                        applied);
    return dry_guards(R);
}

/* plan.json and the last line: could the real run start? */
int dry_outputs(struct run *R)
{
    char path[PATH_MAX + 16], final[PATH_MAX + 16];
    struct fl_err err = {0};
    FILE *f;

    if (R->plan == NULL)
        R->plan = json_pack("{s:s,s:s,s:b}", "experiment", R->exp->name, "file", R->exp->file,
                            "dry_run", 1);
    json_object_set_new(R->plan, "could_start", json_boolean(R->code == FL_EXIT_OK));
    if (R->reason[0])
        json_object_set_new(R->plan, "reason", json_string(R->reason));
    snprintf(path, sizeof(path), "%s/plan.json.tmp", R->out);
    snprintf(final, sizeof(final), "%s/plan.json", R->out);
    f = fopen(path, "w");
    if (f == NULL)
        log_warnx("cannot write %s: %s", path, strerror(errno));
    else if (fl_file_commit(f, path, final, json_dumpf(R->plan, f, JSON_INDENT(2)) < 0 ? -EIO : 0,
                            &err) < 0)
        log_warnx("%s", err.msg);
    if (R->code == FL_EXIT_OK)
        printf("dry run: %s could start; nothing was applied (plan: %s/plan.json)\n", R->exp->name,
               R->out);
    else
        printf("dry run: %s could not start (exit %d): %s\n", R->exp->name, R->code, R->reason);
    return 0;
}
