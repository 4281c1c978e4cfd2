/*
 * The fault scheduler: a thread, started just before the workload and
 * inside the control namespace like every socket of the controller, that
 * ticks every 10 ms. At `at` (from the workload's start) a fault is POSTed
 * to every affected agent at once; every ttl/3 its leases are renewed; at
 * `at + for` it is DELETEd on every host it went to; once a second every
 * agent's health is asked. Anything that goes wrong is a harness error
 * (run_harness_fail), which stops the workload; the run then heals what
 * was applied (sched_heal_everything).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultline/file.h"
#include "faultline/log.h"
#include "faultline/timeutil.h"
#include "guard.h"
#include "run_int.h"

/* Messages are cut at their buffer's size on purpose (one error line, first error wins). */
#pragma GCC diagnostic ignored "-Wformat-truncation"

static void set_state(struct run *R, struct fstate *s, int state)
{
    pthread_mutex_lock(&R->mu);
    s->state = state;
    pthread_mutex_unlock(&R->mu);
}

/* The per-agent record of an apply: status, the agent's own interval or the error. */
static json_t *apply_record(struct run *R, const struct agent_reply *r)
{
    json_t *a = json_pack("{s:s,s:i}", "host", R->exp->topology.hosts[r->host].name, "status",
                          (int)r->status);

    if (r->ok) {
        json_object_set(a, "apply_start_ns", json_object_get(r->body, "apply_start_ns"));
        json_object_set(a, "apply_end_ns", json_object_get(r->body, "apply_end_ns"));
    } else {
        json_object_set_new(a, "error", json_string(r->why));
    }
    return a;
}

/*
 * capture: true: a packet capture on every host of the fault, started just
 * before the fault is applied and stopped just after it is healed, so it
 * covers the whole interval. Evidence, not a verdict: a capture that cannot
 * start (an agent without libpcap) is reported and the run goes on. Lab only
 * (the controller copies the files from the agents' state directories).
 */
static void capture_start(struct run *R, struct fstate *s)
{
    static const long accept[] = {200, 201, 0};
    json_t *body;
    json_t **bodies = calloc(s->nh ? s->nh : 1, sizeof(*bodies));
    struct agent_call c = {.method = "POST",
                           .path = "/v1/captures",
                           .hosts = s->hosts,
                           .n = s->nh,
                           .bodies = bodies,
                           .timeout_ms = 3000,
                           .accept = accept};
    int64_t ms = s->f->for_ns / NS_MS + 30000;
    size_t i;

    if (!s->f->capture || !R->lab || !bodies) {
        free(bodies);
        return;
    }
    body = json_pack("{s:s+,s:s,s:i,s:i,s:I}", "id", "fl-", s->f->id, "dev", LAB_DATA_DEV,
                     "max_packets", 200000, "max_bytes", 32 << 20, "duration_ms",
                     (json_int_t)(ms < 3600000 ? ms : 3600000));
    for (i = 0; i < s->nh; i++)
        bodies[i] = body;
    if (body && agents_call(&R->agents, &c) == 0) {
        for (i = 0; i < c.n; i++)
            if (!c.r[i].ok)
                progress_event("capture for %s on %s did not start: %s", s->f->id,
                               R->exp->topology.hosts[c.r[i].host].name, c.r[i].why);
        agent_call_free(&c);
    }
    json_decref(body);
    free(bodies);
}

/* Copy src to dst (created 0644). 0 or -errno. */
static int copy_file(const char *src, const char *dst)
{
    char buf[65536];
    FILE *in = fopen(src, "rbe"), *out;
    size_t n;
    int r = 0;

    if (in == NULL)
        return -errno;
    out = fopen(dst, "wbe");
    if (out == NULL) {
        r = -errno;
        fclose(in);
        return r;
    }
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        if (fwrite(buf, 1, n, out) != n) {
            r = -EIO;
            break;
        }
    if (ferror(in))
        r = -EIO;
    fclose(in);
    if (fclose(out) != 0 && r == 0)
        r = -EIO;
    return r;
}

/* Stop the fault's captures and copy each pcap into OUT/captures/<fault>-<host>.pcap. */
static void capture_stop(struct run *R, struct fstate *s)
{
    static const long accept[] = {200, 404, 0};
    char path[96], dst[PATH_MAX + 200], rel[200];
    struct agent_call c = {.method = "DELETE",
                           .path = path,
                           .hosts = s->hosts,
                           .n = s->nh,
                           .timeout_ms = 3000,
                           .accept = accept};
    size_t i, j;
    json_t *a;

    if (!s->f->capture || !R->lab)
        return;
    snprintf(path, sizeof(path), "/v1/captures/fl-%s", s->f->id);
    if (agents_call(&R->agents, &c) < 0)
        return;
    snprintf(dst, sizeof(dst), "%s/captures", R->out);
    fl_mkdir_p(dst, 0755);
    for (i = 0; i < c.n; i++) {
        const char *src = json_string_value(json_object_get(c.r[i].body, "path"));
        const char *host = R->exp->topology.hosts[c.r[i].host].name;

        if (c.r[i].status != 200 || src == NULL)
            continue;
        snprintf(rel, sizeof(rel), "captures/%s-%s.pcap", s->f->id, host);
        snprintf(dst, sizeof(dst), "%s/%s", R->out, rel);
        if (copy_file(src, dst) < 0) {
            progress_event("capture for %s on %s: cannot copy %s", s->f->id, host, src);
            continue;
        }
        json_array_foreach(s->agents, j, a)
        {
            if (strcmp(json_string_value(json_object_get(a, "host")) ?: "", host) == 0) {
                json_object_set_new(a, "capture", json_string(rel));
                json_object_set(a, "capture_packets", json_object_get(c.r[i].body, "packets"));
            }
        }
    }
    agent_call_free(&c);
}

/*
 * A 409 from an agent: it was halted (faultline halt, POST /v1/halt) and
 * refuses faults. The run is aborted, not failed: true when c had one.
 */
static bool halted_reply(struct run *R, const struct agent_call *c, const char *what)
{
    size_t i;

    for (i = 0; i < c->n; i++)
        if (c->r[i].status == 409) {
            run_harness_fail(R, "aborted: the agent of %s is halted and refuses %s (%s)",
                             R->exp->topology.hosts[c->r[i].host].name, what, c->r[i].why);
            return true;
        }
    return false;
}

/* POST the fault to every affected agent at once; record the interval. */
static void fault_apply(struct run *R, struct fstate *s)
{
    static const long accept[] = {200, 201, 0};
    json_t **bodies = calloc(s->nh ? s->nh : 1, sizeof(*bodies));
    struct agent_call c = {.method = "POST",
                           .path = "/v1/faults",
                           .hosts = s->hosts,
                           .n = s->nh,
                           .bodies = bodies,
                           .timeout_ms = 5000,
                           .accept = accept};
    size_t i;

    for (i = 0; bodies && i < s->nh; i++)
        bodies[i] = json_pack("{s:s,s:O,s:I}", "id", s->f->id, "fault", s->specs[i], "ttl_ms",
                              (json_int_t)R->o->ttl_ms);
    capture_start(R, s);
    s->apply_sent = fl_now_ns();
    if (!bodies || agents_call(&R->agents, &c) < 0) {
        run_harness_fail(R, "out of memory applying %s", s->f->id);
        goto out;
    }
    s->apply_done = fl_now_ns();
    s->last_renew = s->apply_done;
    set_state(R, s, FS_ACTIVE);
    for (i = 0; i < c.n; i++)
        json_array_append_new(s->agents, apply_record(R, &c.r[i]));
    if (c.failed)
        snprintf(s->error, sizeof(s->error), "%s: %s",
                 R->exp->topology.hosts[c.r[c.first_failed].host].name, c.r[c.first_failed].why);
    progress_faults(run_active_faults(R));
    if (c.failed && !halted_reply(R, &c, s->f->id))
        run_harness_fail(R, "fault %s (%s) could not be applied on %zu of %zu hosts: %s", s->f->id,
                         experiment_fault_kind_name(s->f->kind), c.failed, s->nh, s->error);
    else
        progress_event("fault %s %s %s applied on %zu hosts in %.1f ms", s->f->id,
                       experiment_fault_kind_name(s->f->kind), s->scope, s->nh,
                       (double)(s->apply_done - s->apply_sent) / 1e6);
out:
    for (i = 0; bodies && i < s->nh; i++)
        json_decref(bodies[i]);
    free(bodies);
    agent_call_free(&c);
}

/*
 * Evidence that the fault took effect: each agent's record of it (the
 * injector's drop counters, packets and bytes, for packet faults) read just
 * before the heal, into the fault's per-agent records as "evidence". Best
 * effort: a host that does not answer simply has none.
 */
static void fault_evidence(struct run *R, struct fstate *s)
{
    static const long accept[] = {200, 404, 0};
    char path[96];
    size_t *live = calloc(s->nh ? s->nh : 1, sizeof(*live)), n = 0, i, j;
    struct agent_call c = {
        .method = "GET", .path = path, .hosts = live, .timeout_ms = 1000, .accept = accept};
    json_t *a;

    for (i = 0; live && i < s->nh; i++)
        if (!R->agents.dead[s->hosts[i]])
            live[n++] = s->hosts[i];
    c.n = n;
    snprintf(path, sizeof(path), "/v1/faults/%s", s->f->id);
    if (live == NULL || n == 0 || agents_call(&R->agents, &c) < 0) {
        free(live);
        return;
    }
    for (i = 0; i < c.n; i++) {
        json_t *ev = json_object_get(c.r[i].body, "evidence");

        if (c.r[i].status != 200 || !json_is_object(ev))
            continue;
        json_array_foreach(s->agents, j, a)
        {
            if (strcmp(json_string_value(json_object_get(a, "host")) ?: "",
                       R->exp->topology.hosts[c.r[i].host].name) == 0)
                json_object_set(a, "evidence", ev);
        }
    }
    agent_call_free(&c);
    free(live);
}

/* DELETE the fault on every host it went to (404: already gone, fine). */
static void fault_heal(struct run *R, struct fstate *s)
{
    static const long accept[] = {200, 404, 0};
    char path[96];
    struct agent_call c = {.method = "DELETE",
                           .path = path,
                           .hosts = s->hosts,
                           .n = s->nh,
                           .timeout_ms = 5000,
                           .accept = accept};
    size_t i;

    fault_evidence(R, s);
    snprintf(path, sizeof(path), "/v1/faults/%s", s->f->id);
    s->heal_sent = fl_now_ns();
    if (agents_call(&R->agents, &c) < 0)
        return;
    s->heal_done = fl_now_ns();
    set_state(R, s, FS_HEALED);
    capture_stop(R, s);
    for (i = 0; i < c.n; i++)
        if (!c.r[i].ok && !R->agents.dead[c.r[i].host])
            log_warnx("healing %s on %s: %s", s->f->id, R->exp->topology.hosts[c.r[i].host].name,
                      c.r[i].why);
    progress_faults(run_active_faults(R));
    progress_event("fault %s healed in %.1f ms%s", s->f->id,
                   (double)(s->heal_done - s->heal_sent) / 1e6,
                   c.failed ? " (some agents did not answer)" : "");
    agent_call_free(&c);
}

/*
 * The first failed reply of c stops the run: a failed renewal of lease id,
 * or (id NULL) a failed health check. An agent that did not answer at all
 * is marked dead (the heal phase does not wait for it).
 */
static void call_failed(struct run *R, const struct agent_call *c, const char *id)
{
    const struct agent_reply *r = &c->r[c->first_failed];
    const char *host = R->exp->topology.hosts[r->host].name;

    if (r->status == 0)
        R->agents.dead[r->host] = true;
    if (id != NULL)
        run_harness_fail(R, "renewing the lease of %s on %s failed (%s)", id, host, r->why);
    else
        run_harness_fail(R, "the agent of %s stopped answering (%s)", host, r->why);
}

static void fault_renew(struct run *R, struct fstate *s)
{
    char path[112];
    struct agent_call c = {
        .method = "POST", .path = path, .hosts = s->hosts, .n = s->nh, .timeout_ms = 2000};

    snprintf(path, sizeof(path), "/v1/faults/%s/renew", s->f->id);
    if (agents_call(&R->agents, &c) < 0)
        return;
    s->last_renew = fl_now_ns();
    if (c.failed && !halted_reply(R, &c, s->f->id))
        call_failed(R, &c, s->f->id);
    agent_call_free(&c);
}

/* Every agent answers /v1/health, none halted (it would refuse the next renewal). */
static void health_check(struct run *R)
{
    struct agent_call c = {
        .method = "GET", .path = "/v1/health", .n = R->agents.n, .timeout_ms = 2000};
    size_t i;

    if (agents_call(&R->agents, &c) < 0)
        return;
    if (c.failed)
        call_failed(R, &c, NULL);
    for (i = 0; !c.failed && i < c.n; i++)
        if (json_is_true(json_object_get(c.r[i].body, "halted"))) {
            run_harness_fail(R,
                             "aborted: the agent of %s was halted (faultline halt) and "
                             "reverted its faults",
                             R->exp->topology.hosts[c.r[i].host].name);
            break;
        }
    agent_call_free(&c);
}

/*
 * A guard tripped (guard.c): heal every active fault now, marked as healed
 * by the guard, and apply nothing more; after a drain, stop the workload.
 */
static void guard_heal(struct run *R, int64_t now)
{
    size_t i;

    if (R->guard_healed_at == 0) {
        for (i = 0; i < R->nfs && !run_stopping(R); i++)
            if (R->fs[i].state == FS_ACTIVE) {
                snprintf(R->fs[i].healed_by, sizeof(R->fs[i].healed_by), "guard %s",
                         guards_tripped_name(R));
                fault_heal(R, &R->fs[i]);
            }
        R->guard_healed_at = fl_now_ns();
    } else if (now - R->guard_healed_at >= GUARD_DRAIN_NS) {
        atomic_store(&run_stop, 1);
    }
}

static void *sched_main(void *arg)
{
    struct run *R = arg;
    int64_t renew_every = R->o->ttl_ms * NS_MS / 3, now;
    size_t i;

    while (!atomic_load(&R->sched_quit) && !run_stopping(R)) {
        now = fl_now_ns();
        if (atomic_load(&R->guard_trip))
            guard_heal(R, now);
        for (i = 0; i < R->nfs && !run_stopping(R) && !atomic_load(&R->guard_trip); i++) {
            struct fstate *s = &R->fs[i];

            if (s->state == FS_PENDING && now >= R->t0 + s->f->at_ns)
                fault_apply(R, s);
            else if (s->state == FS_ACTIVE && !s->f->until_end &&
                     now >= R->t0 + s->f->at_ns + s->f->for_ns)
                fault_heal(R, s);
            else if (s->state == FS_ACTIVE && now - s->last_renew >= renew_every)
                fault_renew(R, s);
        }
        if (now - R->last_health >= NS_S && !run_stopping(R)) {
            R->last_health = now;
            health_check(R);
        }
        progress_tick();
        usleep(10000);
    }
    return NULL;
}

int sched_start(struct run *R)
{
    if (pthread_create(&R->sched, NULL, sched_main, R) != 0)
        return -EAGAIN;
    R->sched_started = true;
    return 0;
}

void sched_stop(struct run *R)
{
    if (!R->sched_started)
        return;
    atomic_store(&R->sched_quit, 1);
    pthread_join(R->sched, NULL);
    R->sched_started = false;
}

void sched_heal_everything(struct run *R)
{
    size_t *live, i, n = 0;

    for (i = 0; i < R->nfs; i++)
        if (R->fs[i].state == FS_ACTIVE)
            fault_heal(R, &R->fs[i]);
    if (!R->agents.url)
        return;
    live = calloc(R->agents.n ? R->agents.n : 1, sizeof(*live));
    if (!live)
        return;
    for (i = 0; i < R->agents.n; i++)
        if (!R->agents.dead[i])
            live[n++] = i;
    {
        struct agent_call c = {
            .method = "POST", .path = "/v1/revert-all", .hosts = live, .n = n, .timeout_ms = 3000};

        if (agents_call(&R->agents, &c) == 0)
            agent_call_free(&c);
    }
    free(live);
}
