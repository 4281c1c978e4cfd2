/*
 * The bring-up phases that `faultline run` and `faultline lab up` share:
 * find the programs, build the lab and start an agent in every host, wait
 * until every agent answers and has the kernel features its faults need,
 * start the target through its launcher (targets/services). Each phase
 * returns 0 or a negative errno with err saying what failed; the caller
 * decides the exit code and cleans up (run.c's teardown, lab_cmd.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultline/file.h"
#include "faultline/inject.h"
#include "faultline/timeutil.h"
#include "run_int.h"

#define REFSTORE_DEFAULT_PORT 7000

/*
 * Messages are cut at their buffer's size on purpose (one error line, first
 * error wins); paths are bounded by the output directory's length.
 */
#pragma GCC diagnostic ignored "-Wformat-truncation"

/* Find a sibling program: env var, next to us, ../<sub>/ in a build tree, PATH. */
static const char *find_bin(const char *env, const char *name, const char *sub, char *buf,
                            size_t len)
{
    static const char *const dirs[] = {"/usr/local/bin", "/usr/bin"};
    char self[PATH_MAX], *slash;
    const char *v = getenv(env);
    ssize_t n;
    size_t i;

    if (v && *v)
        return v;
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(buf, len, "%s/%s", self, name);
            if (access(buf, X_OK) == 0)
                return buf;
            snprintf(buf, len, "%s/../%s/%s", self, sub, name);
            if (access(buf, X_OK) == 0)
                return buf;
        }
    }
    for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(buf, len, "%s/%s", dirs[i], name);
        if (access(buf, X_OK) == 0)
            return buf;
    }
    return NULL;
}

int bringup_find_bins(struct run *R, bool need_target, struct fl_err *err)
{
    const struct run_opts *o = R->o;

    R->agent_bin = o->agent_bin ? o->agent_bin
                                : find_bin("FAULTLINE_AGENT", "faultline-agent", "agents",
                                           R->agent_buf, sizeof(R->agent_buf));
    if (need_target)
        R->target_bin = o->target_bin ? o->target_bin
                                      : find_bin("FAULTLINE_REFSTORE", "faultline-refstore",
                                                 "targets", R->target_buf, sizeof(R->target_buf));
    if (!R->agent_bin ||
        (!R->target_bin && need_target && R->exp->target.kind == EXP_TARGET_REFSTORE))
        return fl_errf(err, -ENOENT, "cannot find %s (set FAULTLINE_AGENT / FAULTLINE_REFSTORE)",
                       !R->agent_bin ? "faultline-agent" : "faultline-refstore");
    if (R->target_bin) /* the refstore launcher starts this one */
        setenv("FAULTLINE_REFSTORE", R->target_bin, 1);
    return 0;
}

int bringup_lab(struct run *R, const char *labdir, bool detach, struct fl_err *err)
{
    struct fl_err e = {0};

    if (lab_up(R->exp, labdir, detach, &R->lab, &e) < 0)
        return fl_errf(err, e.code, "lab: %s", e.msg);
    R->agents.token = R->lab->token;
    return 0;
}

int bringup_agents_start(struct run *R, const char *dir, bool allow_any, struct fl_err *err)
{
    struct fl_err e = {0};

    if (lab_start_agents(R->lab, R->exp, R->agent_bin, dir, allow_any, &e) < 0)
        return fl_errf(err, e.code, "agents: %s", e.msg);
    return lab_enter_control(R->lab, err);
}

/* Why agent reply r is not healthy yet: 0 (wait on), or the error that ends the wait. */
static int not_ready(struct run *R, const struct agent_reply *r, int64_t deadline,
                     struct fl_err *err)
{
    const struct exp_host *h = &R->exp->topology.hosts[r->host];
    const char *url = R->agents.url[r->host];
    /* Staging: which token it refused (the host's own file, else --token-file). */
    const char *tf = R->lab ? NULL : h->token_file[0] ? h->token_file : R->o->token_file;
    char line[FL_ERR_MAX];

    /* An untrusted certificate or a failed handshake stays so: no point waiting. */
    if (r->status == 0 && agent_tls_fatal(r->curl_code)) {
        agent_tls_explain(line, sizeof(line), h->name, url, R->agents.tls, r->curl_code,
                          r->why + (strncmp(r->why, "no answer: ", 11) == 0 ? 11 : 0));
        return fl_errf(err, -EPERM, "%s", line);
    }
    /* An agent with --tls-client-ca refuses a missing or foreign client certificate. */
    if (r->status == 403 && strstr(r->why, "client certificate"))
        return fl_errf(err, -EACCES, "agent of host %s (%s) refuses the client certificate%s%s: %s",
                       h->name, url,
                       R->agents.tls && R->agents.tls->cert
                           ? " of --cert "
                           : " (none given: --cert FILE --key FILE)",
                       R->agents.tls && R->agents.tls->cert ? R->agents.tls->cert : "", r->why);
    if (r->status == 401 || r->status == 403)
        return fl_errf(err, -EACCES, "agent of host %s (%s) refuses the token%s%s: %s", h->name,
                       url, tf ? " of " : "", tf ? tf : "", r->why);
    if (R->lab && R->lab->n_procs > r->host && !lab_proc_alive(R->lab, R->lab->procs[r->host]))
        return fl_errf(err, -ECHILD, "the agent of %s exited at start (see %s/agent-%s.log)",
                       h->name, R->out, h->name);
    if (fl_now_ns() > deadline || run_stopping(R))
        return fl_errf(err, -ETIMEDOUT, "agent of host %s (%s) does not answer: %s", h->name, url,
                       r->why);
    return 0;
}

/*
 * A halted agent (faultline halt, POST /v1/halt) answers its health but
 * refuses every fault: the run cannot start. 0, or -EBUSY naming it.
 */
static int halted(struct run *R, const struct agent_call *c, struct fl_err *err)
{
    size_t i;

    for (i = 0; i < c->n; i++) {
        const json_t *b = c->r[i].body;

        if (!json_is_true(json_object_get(b, "halted")))
            continue;
        return fl_errf(err, -EBUSY,
                       "the agent of %s (%s) is halted (since %s): it refuses every fault until "
                       "'faultline halt --resume' (POST /v1/resume)",
                       R->exp->topology.hosts[c->r[i].host].name, R->agents.url[c->r[i].host],
                       json_string_value(json_object_get(b, "halted_since")) ?: "a halt");
    }
    return 0;
}

/* Wait until every agent answers /v1/health (bounded), none of them halted. */
static int wait_health(struct run *R, int64_t timeout_ns, struct fl_err *err)
{
    int64_t deadline = fl_now_ns() + timeout_ns;
    int r;

    for (;;) {
        struct agent_call c = {
            .method = "GET", .path = "/v1/health", .n = R->agents.n, .timeout_ms = 1000};

        if (agents_call(&R->agents, &c) < 0)
            return fl_errf(err, -ENOMEM, "out of memory");
        r = c.failed == 0 ? 1 : not_ready(R, &c.r[c.first_failed], deadline, err);
        if (r == 1 && (r = halted(R, &c, err)) == 0)
            r = 1;
        agent_call_free(&c);
        if (r != 0)
            return r < 0 ? r : 0;
        usleep(20000);
    }
}

/* The kernel features (kern: the agent's "kernel" object) of host against its faults' needs. */
static int host_caps(struct run *R, size_t host, const json_t *kern, struct fl_err *err)
{
    size_t k, h;
    unsigned bit;

    for (k = 0; k < R->nfs; k++) {
        const struct fstate *s = &R->fs[k];

        for (h = 0; h < s->nh && s->hosts[h] != host; h++)
            ;
        if (h == s->nh)
            continue;
        for (bit = 1; bit != 0; bit <<= 1) {
            const json_t *cap = json_object_get(kern, inj_cap_name(bit) ? inj_cap_name(bit) : "");
            const char *e = json_string_value(json_object_get(cap, "error"));

            if (!(s->needs & bit) || json_is_true(json_object_get(cap, "ok")))
                continue;
            return fl_errf(err, -EOPNOTSUPP, "fault %s (%s) cannot run on %s: %s", s->f->id,
                           experiment_fault_kind_name(s->f->kind),
                           R->exp->topology.hosts[host].name,
                           e ? e : "the agent's probe reports it unavailable");
        }
    }
    return 0;
}

int bringup_agents_ready(struct run *R, int64_t timeout_ns, struct fl_err *err)
{
    struct agent_call c = {
        .method = "GET", .path = "/v1/capabilities", .n = R->agents.n, .timeout_ms = 10000};
    size_t i;
    int r;

    if ((r = wait_health(R, timeout_ns, err)) < 0)
        return r;
    /* Capabilities: every fault's needs on every host that will get it. */
    if (agents_call(&R->agents, &c) < 0)
        return fl_errf(err, -ENOMEM, "out of memory");
    for (i = 0; i < c.n && r == 0; i++) {
        if (!c.r[i].ok)
            r = fl_errf(err, -EIO, "capabilities of %s: %s", R->exp->topology.hosts[i].name,
                        c.r[i].why);
        else
            r = host_caps(R, i, json_object_get(c.r[i].body, "kernel"), err);
    }
    agent_call_free(&c);
    return r;
}

int bringup_target_port(const struct experiment *exp)
{
    json_t *p = json_object_get(exp->target.options, "port");

    return json_is_integer(p) ? (int)json_integer_value(p) : REFSTORE_DEFAULT_PORT;
}

void bringup_addr(const struct fl_cidr *c, char *buf, size_t len)
{
    char tmp[64], *slash;

    fl_cidr_format(c, tmp, sizeof(tmp));
    slash = strchr(tmp, '/');
    if (slash)
        *slash = '\0';
    snprintf(buf, len, "%s", tmp);
}

int bringup_target(struct run *R, struct fl_err *err)
{
    const struct experiment *exp = R->exp;
    const struct exp_topology *t = &exp->topology;
    struct fl_target_env env;
    char dir[PATH_MAX];
    size_t i;
    int r;

    R->launcher = fl_target_find(exp->target.kind_name);
    if (!R->launcher)
        return fl_errf(err, -ENOENT, "no launcher for target kind '%s' in the lab",
                       exp->target.kind_name);
    R->thosts = calloc(t->n_hosts, sizeof(*R->thosts));
    R->taddr = calloc(t->n_hosts, sizeof(*R->taddr));
    if (!R->thosts || !R->taddr)
        return fl_errf(err, -ENOMEM, "out of memory");
    for (i = 0; i < t->n_hosts; i++) {
        const struct exp_host *h = &t->hosts[i];

        bringup_addr(&h->data, R->taddr[i], sizeof(R->taddr[i]));
        R->thosts[i].name = h->name;
        R->thosts[i].region = t->regions[h->region].name;
        R->thosts[i].zone = t->regions[h->region].zones[h->zone].name;
        R->thosts[i].netns = R->lab->host_ns[i];
        R->thosts[i].data_addr = R->taddr[i];
    }
    snprintf(dir, sizeof(dir), "%s/target", R->out);
    if ((r = fl_mkdir_p(dir, 0755)) < 0)
        return fl_errf(err, r, "cannot create %s: %s", dir, strerror(-r));
    memset(&env, 0, sizeof(env));
    env.hosts = R->thosts;
    env.n_hosts = t->n_hosts;
    env.primary_region = exp->target.has_primary ? t->regions[exp->target.primary].name : NULL;
    env.config = exp->target.options;
    env.run_dir = dir;
    env.ready_timeout_ns = 60 * NS_S;
    return R->launcher->start(&env, &R->tstate, err);
}

void bringup_target_stop(struct run *R)
{
    if (R->launcher && R->tstate)
        R->launcher->stop(R->tstate);
    R->tstate = NULL;
    free(R->thosts);
    free(R->taddr);
    R->thosts = NULL;
    R->taddr = NULL;
}
