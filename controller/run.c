/*
 * `faultline run`: one experiment at a time, as a table of phases (see
 * docs/internals/run.md): checks -> lab -> agents -> target -> warm-up ->
 * workload with the fault schedule -> heal -> settle -> final reads ->
 * verify, and then, whatever happened, teardown and outputs. Each phase is
 * a function that returns 0 to go on, or non-zero to stop the run (with the
 * exit code and reason in the run when it failed); teardown and outputs are
 * the one cleanup path. The bring-up phases live in bringup.c (shared with
 * `faultline lab up`), the scheduler in scheduler.c, the outputs in
 * outputs.c.
 *
 * The controller moves into the lab's control namespace after the agents
 * start, so its sockets (agents on the control network, clients on the
 * clients' network through the router) live there; it moves back before
 * teardown so that nothing keeps the lab's namespaces alive.
 *
 * Failure policy: any harness problem (an agent that does not answer, an
 * apply refused, a lease lost, the target not starting) stops the workload,
 * heals what was applied, tears down and exits 3 with the reason in
 * report.json. SIGINT / SIGTERM do the same with reason "interrupted"
 * (signals.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "agent_token.h"
#include "commands.h"
#include "faultline/buf.h"
#include "faultline/file.h"
#include "faultline/http.h"
#include "faultline/log.h"
#include "faultline/timeutil.h"
#include "guard.h"
#include "report_html.h"
#include "run_int.h"
#include "verify_cfg.h"

/*
 * Messages are cut at their buffer's size on purpose (one error line, first
 * error wins); paths are bounded by the output directory's length, checked
 * when it is created.
 */
#pragma GCC diagnostic ignored "-Wformat-truncation"

static void wall_iso(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- the phases ------------------------------------------------------------ */

/* Everything that can be wrong with the file is found before anything starts. */
static int phase_checks(struct run *R)
{
    const struct experiment *exp = R->exp;
    int r;

    if (exp_verify_config(exp, &R->vcfg, &R->err) < 0)
        return run_fail(R, FL_EXIT_USAGE, "%s", R->err.msg);
    R->nfs = exp->n_faults;
    if ((r = fault_plan_build(exp, &R->fs, &R->err)) < 0)
        return run_fail(R, r == -ENOMEM ? FL_EXIT_HARNESS : FL_EXIT_USAGE, "%s", R->err.msg);
    R->drv = fl_driver_find(exp->target.kind_name);
    if (!R->drv)
        return run_fail(R, FL_EXIT_HARNESS, "no driver for target kind '%s' in this build",
                        exp->target.kind_name);
    if (agents_init(&R->agents, &exp->topology, NULL) < 0)
        return run_fail(R, FL_EXIT_HARNESS, "out of memory");
    R->agents.tls = &R->o->tls;
    return 0;
}

/* Staging: the agents the file lists, with the token of --token-file. */
static int phase_staging(struct run *R)
{
    const struct exp_topology *t = &R->exp->topology;
    size_t i, shared = 0;

    R->t_agents = fl_now_ns();
    for (i = 0; i < t->n_hosts; i++) {
        if (t->hosts[i].token_file[0] == '\0')
            shared++;
        /* The token and every fault in clear text: allowed, never silently. */
        if (strncmp(t->hosts[i].agent, "http://", 7) == 0)
            log_warnx("%s: the agent of host %s is plain HTTP (%s): its bearer token and "
                      "faults cross the network unencrypted; use https://",
                      R->exp->file, t->hosts[i].name, t->hosts[i].agent);
    }
    if (shared > 0 && !R->o->token_file)
        return run_fail(R, FL_EXIT_USAGE,
                        "%s: staging agents need --token-file (or a token_file for every host)",
                        R->exp->file);
    if (R->o->token_file && agent_token_read(R->o->token_file, &R->token, &R->err) < 0)
        return run_fail(R, FL_EXIT_USAGE, "%s", R->err.msg);
    R->agents.token = R->token;
    if (shared == t->n_hosts)
        return 0;
    R->agents.tokens = calloc(R->agents.n ? R->agents.n : 1, sizeof(*R->agents.tokens));
    if (R->agents.tokens == NULL)
        return run_fail(R, FL_EXIT_HARNESS, "out of memory");
    for (i = 0; i < t->n_hosts && i < R->agents.n; i++) {
        if (t->hosts[i].token_file[0] == '\0')
            continue;
        if (agent_token_read(t->hosts[i].token_file, &R->agents.tokens[i], &R->err) < 0)
            return run_fail(R, FL_EXIT_USAGE, "%s: host %s: %s", R->exp->file, t->hosts[i].name,
                            R->err.msg);
    }
    return 0;
}

/* The lab: namespaces, router, control network, an agent in every host. */
static int phase_lab(struct run *R)
{
    const struct experiment *exp = R->exp;
    bool allow_any = false;
    size_t i;

    if (!exp->topology.lab)
        return phase_staging(R);
    if (geteuid() != 0)
        return run_fail(R, FL_EXIT_HARNESS,
                        "the lab needs root (CAP_NET_ADMIN): run as root, or list "
                        "staging hosts in the experiment file");
    if (!fl_target_find(exp->target.kind_name))
        return run_fail(R, FL_EXIT_HARNESS, "no launcher for target kind '%s' in the lab",
                        exp->target.kind_name);
    if (bringup_find_bins(R, true, &R->err) < 0)
        return run_fail(R, FL_EXIT_HARNESS, "%s", R->err.msg);
    for (i = 0; i < R->nfs; i++)
        allow_any |= exp->faults[i].kind == EXP_FAULT_PROCESS;
    progress_phase("lab");
    if (bringup_lab(R, R->labdir, R->o->keep_lab, &R->err) < 0)
        return run_fail(R, FL_EXIT_HARNESS, "%s", R->err.msg);
    run_duration(R, "lab_up", R->lab->up_ns);
    progress_event("lab %s up in %.1f ms: %zu hosts, namespaces fl-%s-*", R->lab->id,
                   (double)R->lab->up_ns / 1e6, R->lab->n_hosts, R->lab->id);
    R->t_agents = fl_now_ns();
    if (bringup_agents_start(R, R->out, allow_any, &R->err) < 0)
        return run_fail(R, FL_EXIT_HARNESS, "%s", R->err.msg);
    return 0;
}

static int phase_agents(struct run *R)
{
    progress_phase("agents");
    if (bringup_agents_ready(R, 10 * NS_S, &R->err) < 0)
        return run_fail(R, FL_EXIT_HARNESS, "%s", R->err.msg);
    run_duration(R, "agents_ready", fl_now_ns() - R->t_agents);
    return 0;
}

/*
 * Every agent that gets a process fault may act only on the targets its
 * --process-file lists (agents/procpolicy.c): the lab writes each host's
 * file from the fault specs once the target runs and names its processes.
 */
static int write_process_files(struct run *R, struct fl_err *err)
{
    const struct exp_topology *t = &R->exp->topology;
    size_t h, i, k;
    int r = 0;

    for (h = 0; h < t->n_hosts && r == 0; h++) {
        json_t *list = json_array();
        bool any = false;

        for (i = 0; list && i < R->nfs; i++) {
            const struct fstate *s = &R->fs[i];

            if (s->f->kind != EXP_FAULT_PROCESS)
                continue;
            for (k = 0; k < s->nh; k++) {
                json_t *target = json_object_get(s->specs[k], "target");
                json_t *e;

                if (s->hosts[k] != h || !target)
                    continue;
                e = json_deep_copy(target);
                if (e && json_object_get(s->specs[k], "restart_cmd"))
                    json_object_set(e, "restart_cmd", json_object_get(s->specs[k], "restart_cmd"));
                if (!e || json_array_append_new(list, e) < 0) {
                    json_decref(list);
                    list = NULL;
                    break;
                }
                any = true;
            }
        }
        if (!list)
            r = fl_errf(err, -ENOMEM, "out of memory");
        else if (any)
            r = lab_write_process_file(R->lab, t->hosts[h].name, list, err);
        json_decref(list);
    }
    return r;
}

/* The target through its launcher, then warm-up: every replica sees every peer. */
static int phase_target(struct run *R)
{
    const char *kind = R->exp->target.kind_name;
    int64_t t = fl_now_ns();

    progress_phase("target");
    if (R->lab) {
        if (bringup_target(R, &R->err) < 0)
            return run_fail(R, FL_EXIT_HARNESS, "target %s: %s", kind, R->err.msg);
        if (fault_plan_process_targets(R->exp, R->fs, R->nfs, R->launcher, R->tstate, &R->err) < 0)
            return run_fail(R, FL_EXIT_HARNESS, "%s", R->err.msg);
        if (write_process_files(R, &R->err) < 0)
            return run_fail(R, FL_EXIT_HARNESS, "%s", R->err.msg);
        progress_phase("warmup");
        if (R->launcher->settle && R->launcher->settle(R->tstate, 15 * NS_S, &R->err) < 0)
            return run_fail(R, FL_EXIT_HARNESS, "target %s: %s", kind, R->err.msg);
    } else if (staging_target_ready(R, 30 * NS_S, &R->err) < 0) {
        /* Staging: the service runs already; it must answer before the load starts. */
        return run_fail(R, FL_EXIT_HARNESS, "target %s: %s", kind, R->err.msg);
    }
    run_duration(R, "target_ready", fl_now_ns() - t);
    return 0;
}

/* A moment of quiet before the load. */
static int phase_warmup(struct run *R)
{
    if (R->o->warmup_ns > 0 && !run_stopping(R))
        usleep((useconds_t)(R->o->warmup_ns / 1000));
    return run_stopping(R) ? 1 : 0;
}

/* Where the workload sends operations: the launcher's endpoints, or every replica. */
static int workload_endpoints(struct run *R, struct wl_config *wc, struct fl_err *err)
{
    const struct exp_workload *w = &R->exp->workload;
    const struct exp_topology *t = &R->exp->topology;
    const struct fl_target_endpoint *eps = NULL;
    size_t neps = 0, e, k, i;
    int r;

    if (R->launcher && (r = R->launcher->endpoints(R->tstate, &eps, &neps)) < 0)
        return fl_errf(err, r, "the %s launcher has no endpoints", R->launcher->kind);
    /* With client groups every region gets endpoints (each group routes its own way). */
    for (k = 0; k < w->n_routing_regions + (w->n_groups ? t->n_regions : 0); k++) {
        size_t ri = k < w->n_routing_regions ? w->routing_regions[k] : k - w->n_routing_regions;
        const struct exp_region *reg = &t->regions[ri];

        for (i = 0; k >= w->n_routing_regions && i < w->n_routing_regions; i++)
            if (w->routing_regions[i] == ri)
                break;
        if (k >= w->n_routing_regions && i < w->n_routing_regions)
            continue; /* listed in the routing already */

        for (e = 0; R->launcher && e < neps; e++)
            if (strcmp(eps[e].region, reg->name) == 0 &&
                (r = wl_config_add_endpoint(wc, eps[e].region, eps[e].url, err)) < 0)
                return r;
        /* Staging: from the hosts' data addresses (staging.c). */
        if (!R->launcher && (r = staging_endpoints(R, wc, ri, err)) < 0)
            return r;
    }
    wc->fixed_endpoint = 0;
    return wl_config_check(wc, err);
}

/*
 * One client group: its share of the rate, its routing, and in the lab the
 * client namespace of its region or zone (docs/internals/lab.md, "Client
 * groups"), which its clients' threads join.
 */
static int workload_group(struct run *R, struct wl_config *wc, const struct exp_client_group *eg,
                          struct fl_err *err)
{
    const struct exp_topology *t = &R->exp->topology;
    struct wl_group g;
    size_t i;

    memset(&g, 0, sizeof(g));
    snprintf(g.name, sizeof(g.name), "%s", eg->name);
    g.clients = eg->count;
    g.rate = eg->rate;
    g.routing = eg->routing == EXP_ROUTING_FIXED ? WL_ROUTE_FIXED : WL_ROUTE_PREFERRED;
    for (i = 0; i < eg->n_routing_regions && i < WL_MAX_REGIONS; i++)
        snprintf(g.regions[g.nregions++], FL_REGION_MAX, "%s",
                 t->regions[eg->routing_regions[i]].name);
    g.netns_fd = -1;
    if (eg->has_region) {
        const char *ns = lab_group_ns(R->lab, eg->region, eg->has_zone ? (long)eg->zone : -1);
        char path[PATH_MAX];

        if (ns == NULL)
            return fl_errf(err, -EINVAL, "group %s: no client namespace for its region", eg->name);
        snprintf(path, sizeof(path), "/run/netns/%s", ns);
        if ((g.netns_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            return fl_errf(err, -errno, "group %s: cannot open %s: %s", eg->name, path,
                           strerror(errno));
    }
    i = wc->ngroups;
    if (wl_config_add_group(wc, &g, err) < 0 || wc->ngroups == i) {
        if (g.netns_fd >= 0)
            close(g.netns_fd);
        return -EINVAL;
    }
    return 0;
}

static int workload_config(struct run *R, struct wl_config *wc, struct fl_err *err)
{
    const struct exp_workload *w = &R->exp->workload;
    const struct exp_topology *t = &R->exp->topology;
    size_t i;
    int r;

    wl_config_init(wc);
    wc->clients = w->clients;
    wc->rate = w->rate;
    wc->duration_ns = w->duration_ns;
    wc->keys = w->keys;
    wc->timeout_ns = w->timeout_ns;
    wc->model = w->model == EXP_MODEL_SET ? WL_MODEL_SET : WL_MODEL_REGISTER;
    if (w->has_seed)
        wc->seed = w->seed;
    for (i = 0; i < w->n_mix; i++)
        if ((r = wl_config_add_mix(wc, w->mix[i].op, w->mix[i].weight, err)) < 0)
            return r;
    wc->routing = w->routing == EXP_ROUTING_FIXED ? WL_ROUTE_FIXED : WL_ROUTE_PREFERRED;
    for (i = 0; i < w->n_routing_regions && i < WL_MAX_REGIONS; i++)
        snprintf(wc->regions[wc->nregions++], FL_REGION_MAX, "%s",
                 t->regions[w->routing_regions[i]].name);
    for (i = 0; i < w->n_groups; i++)
        if ((r = workload_group(R, wc, &w->groups[i], err)) < 0)
            return r;
    return workload_endpoints(R, wc, err);
}

/* Close the client groups' namespaces (opened by workload_group). */
static void workload_groups_close(struct wl_config *wc)
{
    size_t i;

    for (i = 0; i < wc->ngroups; i++)
        if (wc->groups[i].netns_fd >= 0) {
            close(wc->groups[i].netns_fd);
            wc->groups[i].netns_fd = -1;
        }
}

static void on_progress(const struct wl_stats *s, void *arg)
{
    progress_stats(s, run_active_faults(arg));
    guards_observe(arg, s); /* workload.abort_when samples the class counters */
}

/* The workload in this thread, the fault schedule in the scheduler's. */
static int phase_workload(struct run *R)
{
    int64_t t;
    int r;

    if (workload_config(R, &R->wc, &R->err) < 0) {
        workload_groups_close(&R->wc);
        return run_fail(R, FL_EXIT_USAGE, "%s: workload: %s", R->exp->file, R->err.msg);
    }
    progress_phase("workload");
    t = fl_now_ns();
    R->t0 = t + 10 * NS_MS; /* wl_run starts its schedule 10 ms after it is called */
    R->last_health = t;
    if (sched_start(R) < 0)
        return run_fail(R, FL_EXIT_HARNESS, "cannot start the fault scheduler");
    /* From this thread, inside the control namespace: the guard thread probes from there. */
    if (guards_start(R) < 0)
        run_harness_fail(R, "cannot start the guard thread");
    r = wl_run(&R->wc, R->drv, &R->hist, &R->ws, &run_stop, on_progress, R, &R->err);
    workload_groups_close(&R->wc);
    guards_stop(R);
    sched_stop(R);
    R->workload_ran = true;
    run_duration(R, "workload", fl_now_ns() - t);
    if (r < 0)
        run_harness_fail(R, "workload: %s", R->err.msg);
    progress_stats(&R->ws, run_active_faults(R));
    return 0;
}

static int phase_heal(struct run *R)
{
    progress_phase("heal");
    sched_heal_everything(R);
    outputs_faults_timeline(R);
    return run_stopping(R) ? 1 : 0;
}

/* Let the target converge; its own view (who failed over when) is ground truth. */
static int phase_settle(struct run *R)
{
    int64_t t = fl_now_ns();

    progress_phase("settle");
    if (R->launcher && R->launcher->settle) {
        R->settled = R->launcher->settle(R->tstate, R->o->settle_ns, &R->err) == 0;
    } else {
        /* No "settled" signal from this target: give replication a moment. */
        usleep(2000000);
        R->settled = true;
    }
    if (R->launcher && R->launcher->status && R->tstate)
        R->tstatus = R->launcher->status(R->tstate);
    if (!R->settled)
        progress_event("warning: %s; final reads go ahead", R->err.msg);
    run_duration(R, "settle", fl_now_ns() - t);
    return run_stopping(R) ? 1 : 0;
}

/*
 * The conflict feed, for the conflict_feed verifier: GET /v1/conflicts on
 * every refstore replica the workload knows (the parser allows the verifier
 * for refstore cosmos only), each entry's written value kept. Any replica
 * that does not answer makes the feed unknown (the verdict inconclusive).
 */
static int fetch_conflicts(struct run *R)
{
    char url[FL_URL_MAX + 16], errbuf[CURL_ERROR_SIZE];
    size_t e, i, cap = 0;
    int rc = 0;

    for (e = 0; e < R->wc.nendpoints && rc == 0; e++) {
        struct fl_buf body;
        json_t *j = NULL, *a = NULL, *x;
        long status = 0;
        CURL *c;

        fl_buf_init(&body, 64u << 20);
        snprintf(url, sizeof(url), "%s/v1/conflicts", R->wc.endpoints[e].url);
        c = fl_http_easy(url, 5000, &body, errbuf);
        if (c == NULL || curl_easy_perform(c) != CURLE_OK ||
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200 ||
            (j = json_loadb(body.p ? body.p : "", body.len, 0, NULL)) == NULL ||
            !json_is_array(a = json_object_get(j, "conflicts"))) {
            progress_event("warning: cannot read the conflict feed at %s", url);
            rc = -EIO;
        }
        for (i = 0; rc == 0 && i < json_array_size(a); i++) {
            x = json_object_get(json_array_get(a, i), "value");
            if (!json_is_integer(x) || json_integer_value(x) <= 0)
                continue;
            if (R->nconflicts == cap) {
                uint64_t *n = realloc(R->conflicts, (cap = cap ? cap * 2 : 256) * sizeof(*n));

                if (n == NULL) {
                    rc = -ENOMEM;
                    break;
                }
                R->conflicts = n;
            }
            R->conflicts[R->nconflicts++] = (uint64_t)json_integer_value(x);
        }
        json_decref(j);
        if (c)
            curl_easy_cleanup(c);
        fl_buf_free(&body);
    }
    R->vcfg.conflict_feed.fetched = rc == 0;
    R->vcfg.conflict_feed.values = R->conflicts;
    R->vcfg.conflict_feed.nvalues = R->nconflicts;
    return rc;
}

static int phase_final_reads(struct run *R)
{
    int64_t t = fl_now_ns();

    progress_phase("final-reads");
    if (wl_final_reads(&R->wc, R->drv, &R->hist, &R->err) < 0)
        return run_fail(R, FL_EXIT_HARNESS, "final reads: %s", R->err.msg);
    if (R->vcfg.conflict_feed.enabled)
        fetch_conflicts(R);
    run_duration(R, "final_reads", fl_now_ns() - t);
    return 0;
}

static int phase_verify(struct run *R)
{
    int64_t t = fl_now_ns();

    progress_phase("verify");
    if (vfy_run_all(&R->hist, &R->hf, &R->vcfg, &R->vres, &R->err) < 0)
        return run_fail(R, FL_EXIT_HARNESS, "verifiers: %s", R->err.msg);
    if (guards_result_append(R) < 0) /* the guards' own result, after the verifiers' */
        return run_fail(R, FL_EXIT_HARNESS, "guards: out of memory");
    run_duration(R, "verify", fl_now_ns() - t);
    R->verified = true;
    R->code = vfy_results_pass(&R->vres) ? FL_EXIT_OK : FL_EXIT_VERIFY;
    return 0;
}

static void lab_teardown(struct run *R)
{
    struct fl_err derr = {0};
    char *res;

    lab_leave_control(R->lab);
    if (R->o->keep_lab) {
        progress_event("lab %s kept: 'faultline lab down %s' removes it", R->lab->id, R->lab->id);
        return;
    }
    progress_phase("teardown");
    /* A teardown problem is a harness error (unless the file was already refused). */
    if (lab_down(R->lab, 2000, &derr) < 0 && R->code != FL_EXIT_USAGE) {
        R->code = FL_EXIT_HARNESS;
        if (!R->reason[0])
            snprintf(R->reason, sizeof(R->reason), "teardown: %s", derr.msg);
    }
    res = lab_residue(R->lab->id);
    if (res && res[0]) {
        R->code = FL_EXIT_HARNESS;
        if (!R->reason[0])
            snprintf(R->reason, sizeof(R->reason), "teardown left namespaces: %s", res);
    }
    free(res);
    run_duration(R, "teardown", R->lab->down_ns);
    progress_event("lab %s torn down in %.1f ms", R->lab->id, (double)R->lab->down_ns / 1e6);
}

/* Always: nothing stays injected, the target stops, the lab goes; then the verdict. */
static int phase_teardown(struct run *R)
{
    sched_stop(R);
    /* Staging hosts may each have their own token_file and no --token-file. */
    if (R->agents.url && (R->lab || R->agents.token || R->agents.tokens))
        sched_heal_everything(R);
    outputs_faults_timeline(R);
    if (R->agents.url && (R->lab || R->agents.token || R->agents.tokens) && !R->o->dry_run)
        outputs_audit(R);
    bringup_target_stop(R);
    if (R->lab)
        lab_teardown(R);
    if (R->harness_failed && R->code != FL_EXIT_USAGE) {
        R->code = FL_EXIT_HARNESS;
        if (!R->reason[0])
            snprintf(R->reason, sizeof(R->reason), "%s", R->harness_err);
    }
    if (atomic_load(&run_signals) > 0) {
        R->code = FL_EXIT_HARNESS;
        snprintf(R->reason, sizeof(R->reason), "interrupted");
    }
    if (R->code == FL_EXIT_HARNESS || R->code == FL_EXIT_USAGE)
        R->verified = false;
    return 0;
}

static int phase_outputs(struct run *R)
{
    outputs_write(R, &R->report);
    return 0;
}

static const struct phase {
    const char *name;
    int (*run)(struct run *R);
    bool always; /* runs even after an earlier phase stopped the run */
} phases[] = {
    {"checks", phase_checks, false},
    {"lab", phase_lab, false},
    {"agents", phase_agents, false},
    {"target", phase_target, false},
    {"warmup", phase_warmup, false},
    {"guards", guards_phase, false}, /* steady state before the first fault (guard.c) */
    {"workload", phase_workload, false},
    {"heal", phase_heal, false},
    {"settle", phase_settle, false},
    {"final-reads", phase_final_reads, false},
    {"verify", phase_verify, false},
    {"teardown", phase_teardown, true},
    {"outputs", phase_outputs, true},
};

/* --dry-run: the same bring-up, the plan instead of the workload, the same teardown. */
static const struct phase dry_phases[] = {
    {"checks", phase_checks, false}, {"lab", phase_lab, false}, {"agents", phase_agents, false},
    {"target", phase_target, false}, {"plan", dry_plan, false}, {"teardown", phase_teardown, true},
    {"outputs", dry_outputs, true},
};

/* ---- one experiment -------------------------------------------------------- */

/* The run's state before the first phase; FL_EXIT_OK, or the code to return at once. */
static int run_init(struct run *R, const struct experiment *exp, const struct run_opts *o)
{
    int r;

    R->exp = exp;
    R->o = o;
    R->t_start = fl_now_ns();
    R->t_start_wall = fl_wall_ns();
    pthread_mutex_init(&R->mu, NULL);
    R->durations = json_object();
    snprintf(R->out, sizeof(R->out), "%s", o->out);
    snprintf(R->labdir, sizeof(R->labdir), "%s/lab", R->out);
    R->target_port = bringup_target_port(exp);
    atomic_store(&run_stop, 0);
    wall_iso(R->started, sizeof(R->started));
    hist_init(&R->hist);
    vfy_config_init_defaults(&R->vcfg);
    progress_begin(exp->name, o->quiet);
    if (strlen(o->out) > LAB_DIR_MAX / 2) {
        log_warnx("output directory path too long: %s", o->out);
        return FL_EXIT_USAGE;
    }
    if ((r = fl_mkdir_p(R->out, 0755)) < 0) {
        log_warnx("cannot create %s: %s", R->out, strerror(-r));
        return FL_EXIT_HARNESS;
    }
    return FL_EXIT_OK;
}

static void run_free(struct run *R)
{
    guards_free(R);
    vfy_results_free(&R->vres);
    free(R->conflicts);
    hist_free(&R->hist);
    hist_faults_free(&R->hf);
    fault_plan_free(R->fs, R->nfs);
    agents_free(&R->agents);
    agent_token_free(R->token);
    json_decref(R->durations);
    json_decref(R->tstatus);
    json_decref(R->report);
    json_decref(R->plan);
    if (R->lab && !R->o->keep_lab)
        lab_free(R->lab);
    pthread_mutex_destroy(&R->mu);
    free(R);
}

int run_experiment(const struct experiment *exp, const struct run_opts *o, json_t **report_out)
{
    struct run *R = calloc(1, sizeof(*R));
    const struct phase *table = o->dry_run ? dry_phases : phases;
    size_t i, n = o->dry_run ? sizeof(dry_phases) / sizeof(dry_phases[0])
                             : sizeof(phases) / sizeof(phases[0]);
    bool stopped = false;
    int code;

    if (R == NULL)
        return FL_EXIT_HARNESS;
    code = run_init(R, exp, o);
    for (i = 0; code == FL_EXIT_OK && i < n; i++)
        if (table[i].always || !stopped)
            stopped |= table[i].run(R) != 0;
    if (code == FL_EXIT_OK) {
        code = R->code;
        *report_out = R->report;
        R->report = NULL;
    }
    run_free(R);
    return code;
}

/* ---- faultline run ---------------------------------------------------------- */

/* The same paragraph as main.c's fl_exit_codes_help (kept here so flctl links alone). */
const char run_exit_codes[] =
    "exit codes:\n"
    "  0  success: every verifier passed\n"
    "  1  a verifier failed\n"
    "  2  the experiment file or the command line is wrong (nothing was started)\n"
    "  3  the harness itself could not run (setup, agent, kernel feature), or the\n"
    "     run was interrupted\n"
    "  Whatever the code, nothing is left injected and the lab is torn down.\n";

static void run_usage(FILE *out)
{
    fprintf(out,
            "usage: faultline run [--out DIR] [--token-file FILE] [--ca FILE]\n"
            "                     [--cert FILE --key FILE] [--keep-lab] [--dry-run] [-q] FILE...\n"
            "\n"
            "Run experiments, one after another. For each: build the lab on this machine\n"
            "(a sealed network namespace per host, a router between zones and regions, a\n"
            "control network for the agents; needs root) or reach the staging agents the\n"
            "file lists; check every agent's health and kernel capabilities against the\n"
            "faults; start the target (faultline-refstore: one replica per host); drive\n"
            "the workload while the faults are applied, renewed and healed on schedule;\n"
            "heal everything; let the target settle; read back every key written; run the\n"
            "verifiers; write the outputs; tear the lab down. Whatever happens, nothing\n"
            "is left injected. Ctrl-C stops the run, reverts and tears down (a second\n"
            "Ctrl-C kills the lab at once) and writes a partial report.\n"
            "\n"
            "options:\n"
            "  -o, --out DIR         output directory (default ./runs/<name>-<timestamp>;\n"
            "                        with several files, one subfolder per experiment)\n"
            "  -t, --token-file FILE staging: the agents' bearer token\n"
            "      --ca FILE         staging: trust this CA (PEM) for https:// agents, and\n"
            "                        only it (default: the system's CA store)\n"
            "      --cert FILE, --key FILE  staging: the client certificate (PEM) and its key\n"
            "                        for agents that ask for one\n"
            "  -k, --keep-lab        leave the lab up at the end (faults are still reverted;\n"
            "                        'faultline lab down ID' removes it)\n"
            "  -n, --dry-run         everything but the faults and the workload: build the\n"
            "                        lab or reach every staging agent, check health, token\n"
            "                        and kernel capabilities against every fault, print\n"
            "                        which hosts each fault touches and which agents get\n"
            "                        its rules (also DIR/plan.json), evaluate the guards\n"
            "                        once, tear down. Nothing is applied. Exit 0: the real\n"
            "                        run could start; 1: a guard fails; 2: bad file; 3: an\n"
            "                        agent is unreachable, refuses the token, is halted or\n"
            "                        lacks a capability\n"
            "  -q, --quiet           no progress output (the summary line stays)\n"
            "  -v, --verbose         the summary also prints how each verifier measured\n"
            "  -h, --help            show this help\n"
            "\n"
            "outputs (in DIR, or DIR/<experiment>/ with several files):\n"
            "  report.json     verdict, verifiers (measured, bound, detail), faults with\n"
            "                  their apply/heal times, ops, rates, durations, lab\n"
            "  report.html     the same to read: verifier table, timeline, latency,\n"
            "                  data loss, evidence (redraw: faultline report DIR)\n"
            "  index.html, summary.json  with several files: one row per experiment\n"
            "  junit.xml       one testsuite per experiment, one testcase per verifier\n"
            "                  (in DIR, for all experiments of the run)\n"
            "  history.jsonl   every operation: client, op, key, value, region, times,\n"
            "                  outcome ok|fail|info\n"
            "  faults.jsonl    every fault: id, kind, scope, apply/heal intervals (and\n"
            "                  healed_by when a guard healed it early)\n"
            "  audit-<host>.jsonl  each agent's audit entries for the run\n"
            "  plan.json       --dry-run only: what each fault would touch, no verdict\n"
            "  agent-<host>.log, target/*.log          the lab's processes\n"
            "\n"
            "examples:\n"
            "  sudo faultline run experiments/key-vault-region-outage.yaml\n"
            "  sudo faultline run --out /tmp/nightly experiments/*.yaml\n"
            "  faultline run --token-file /etc/faultline/agent.token \\\n"
            "      --ca /etc/faultline/ca.pem staging/redis.yaml\n"
            "  sudo faultline run --dry-run experiments/key-vault-region-outage.yaml\n"
            "\n"
            "%s",
            run_exit_codes);
}

static void timestamp(char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;

    localtime_r(&now, &tm);
    strftime(buf, len, "%Y%m%d-%H%M%S", &tm);
}

/* Options of `faultline run` into ro and *out; FL_EXIT_OK, or the code to exit with. */
static int run_args(int argc, char **argv, struct run_opts *ro, const char **out)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"token-file", required_argument, NULL, 't'},
        {"ca", required_argument, NULL, 'A'},
        {"cert", required_argument, NULL, 'C'},
        {"key", required_argument, NULL, 'K'},
        {"keep-lab", no_argument, NULL, 'k'},
        {"dry-run", no_argument, NULL, 'n'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct fl_err err = {0};
    int c;

    memset(ro, 0, sizeof(*ro));
    ro->warmup_ns = NS_S;
    ro->settle_ns = 20 * NS_S;
    ro->ttl_ms = 9000;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:t:knqvh", opts, NULL)) != -1) {
        if (c == 'o')
            *out = optarg;
        else if (c == 't')
            ro->token_file = optarg;
        else if (c == 'A')
            ro->tls.ca = optarg;
        else if (c == 'C')
            ro->tls.cert = optarg;
        else if (c == 'K')
            ro->tls.key = optarg;
        else if (c == 'k')
            ro->keep_lab = true;
        else if (c == 'n')
            ro->dry_run = true;
        else if (c == 'q')
            ro->quiet = true;
        else if (c == 'v')
            ro->verbose = true;
        else {
            run_usage(c == 'h' ? stdout : stderr);
            return c == 'h' ? -1 : FL_EXIT_USAGE;
        }
    }
    if (argc - optind <= 0) {
        fprintf(stderr, "faultline run: no experiment file given\n\n");
        run_usage(stderr);
        return FL_EXIT_USAGE;
    }
    if (agent_tls_check(&ro->tls, &err) < 0) {
        fprintf(stderr, "faultline run: %s\n", err.msg);
        return FL_EXIT_USAGE;
    }
    return FL_EXIT_OK;
}

/* The output folder of experiment i of n: base itself, or base/<name>[-k]. */
static void experiment_dir(char *dir, size_t len, const char *base, struct experiment **exps, int i,
                           int n)
{
    unsigned dup = 0;
    int j;

    if (n == 1) {
        snprintf(dir, len, "%s", base);
        return;
    }
    for (j = 0; j < i; j++)
        dup += strcmp(exps[j]->name, exps[i]->name) == 0;
    if (dup)
        snprintf(dir, len, "%s/%s-%u", base, exps[i]->name, dup + 1);
    else
        snprintf(dir, len, "%s/%s", base, exps[i]->name);
}

/* The worst wins: harness error, then bad file, then a failed verifier. */
static int worst(int code, int rc)
{
    if (rc == FL_EXIT_HARNESS || code == FL_EXIT_HARNESS)
        return FL_EXIT_HARNESS;
    if (rc == FL_EXIT_USAGE || code == FL_EXIT_USAGE)
        return FL_EXIT_USAGE;
    return rc == FL_EXIT_VERIFY ? FL_EXIT_VERIFY : code;
}

/*
 * Labs left by a `faultline run` that was killed before it could tear down
 * (kill -9, a crash): say so before building another (lab.c: lab_stale).
 */
static void report_stale_labs(void)
{
    char **ids = NULL, why[128];
    size_t n = 0, i;

    lab_list(&ids, &n);
    for (i = 0; i < n; i++) {
        if (lab_stale(ids[i], why, sizeof(why)) == 1)
            fprintf(stderr,
                    "faultline run: lab %s is stale: %s; 'faultline lab down --stale' "
                    "removes it\n",
                    ids[i], why);
        free(ids[i]);
    }
    free(ids);
}

/* Run every experiment into base (one after another, until a signal), then junit.xml. */
static int run_all(struct experiment **exps, json_t **reports, int n, const char *base,
                   struct run_opts *ro)
{
    struct fl_err err = {0};
    char dir[PATH_MAX + 80];
    int i, code = FL_EXIT_OK;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "faultline run: curl_global_init failed\n");
        return FL_EXIT_HARNESS;
    }
    for (i = 0; i < n; i++)
        if (exps[i]->topology.lab) {
            report_stale_labs();
            break;
        }
    for (i = 0; i < n && atomic_load(&run_signals) == 0; i++) {
        experiment_dir(dir, sizeof(dir), base, exps, i, n);
        ro->out = dir;
        code = worst(code, run_experiment(exps[i], ro, &reports[i]));
    }
    if (ro->dry_run) {
        /* a plan per experiment, no verdicts: no junit.xml, no index */
    } else if (outputs_junit(base, reports, (size_t)n, &err) < 0) {
        fprintf(stderr, "faultline run: %s\n", err.msg);
        code = FL_EXIT_HARNESS;
    }
    if (!ro->dry_run && n > 1 && report_index_write(base, reports, NULL, (size_t)n, &err) < 0)
        log_warnx("%s (the reports stand)", err.msg);
    if (atomic_load(&run_signals) > 0)
        code = FL_EXIT_HARNESS;
    curl_global_cleanup();
    return code;
}

int cmd_run(int argc, char **argv)
{
    struct run_opts ro;
    const char *out = NULL;
    struct experiment **exps = NULL;
    json_t **reports = NULL;
    char base[PATH_MAX], ts[32];
    int i, n, code, rc;

    if ((code = run_args(argc, argv, &ro, &out)) != FL_EXIT_OK)
        return code < 0 ? FL_EXIT_OK : code;
    /* Signals are blocked and waited for by one thread, before any other thread exists. */
    if ((rc = run_signals_install()) < 0) {
        fprintf(stderr, "faultline run: cannot start the signal thread: %s\n", strerror(-rc));
        return FL_EXIT_HARNESS;
    }
    n = argc - optind;
    exps = calloc((size_t)n, sizeof(*exps));
    reports = calloc((size_t)n, sizeof(*reports));
    if (!exps || !reports) {
        code = FL_EXIT_HARNESS;
        goto out;
    }
    /* Every file is checked before anything runs. */
    for (i = 0; i < n; i++) {
        struct fl_err err = {0};

        if (experiment_load(argv[optind + i], &exps[i], &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            code = FL_EXIT_USAGE;
        }
    }
    if (code != FL_EXIT_OK)
        goto out;
    timestamp(ts, sizeof(ts));
    if (out)
        snprintf(base, sizeof(base), "%s", out);
    else if (n == 1)
        snprintf(base, sizeof(base), "runs/%s-%s", exps[0]->name, ts);
    else
        snprintf(base, sizeof(base), "runs/run-%s", ts);
    if ((rc = fl_mkdir_p(base, 0755)) < 0) {
        fprintf(stderr, "faultline run: cannot create %s: %s\n", base, strerror(-rc));
        code = FL_EXIT_HARNESS;
        goto out;
    }
    code = run_all(exps, reports, n, base, &ro);
out:
    for (i = 0; exps && reports && i < n; i++) {
        experiment_free(exps[i]);
        json_decref(reports[i]);
    }
    free(exps);
    free(reports);
    return code;
}
