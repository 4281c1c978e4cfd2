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

#include "faultline/log.h"
#include "faultline/timeutil.h"
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
    if (c.failed)
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

    snprintf(path, sizeof(path), "/v1/faults/%s", s->f->id);
    s->heal_sent = fl_now_ns();
    if (agents_call(&R->agents, &c) < 0)
        return;
    s->heal_done = fl_now_ns();
    set_state(R, s, FS_HEALED);
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
    if (c.failed)
        call_failed(R, &c, s->f->id);
    agent_call_free(&c);
}

/* Every agent answers /v1/health. */
static void health_check(struct run *R)
{
    struct agent_call c = {
        .method = "GET", .path = "/v1/health", .n = R->agents.n, .timeout_ms = 2000};

    if (agents_call(&R->agents, &c) < 0)
        return;
    if (c.failed)
        call_failed(R, &c, NULL);
    agent_call_free(&c);
}

static void *sched_main(void *arg)
{
    struct run *R = arg;
    int64_t renew_every = R->o->ttl_ms * NS_MS / 3, now;
    size_t i;

    while (!R->sched_quit && !run_stopping(R)) {
        now = fl_now_ns();
        for (i = 0; i < R->nfs && !run_stopping(R); i++) {
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
    R->sched_quit = 1;
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
