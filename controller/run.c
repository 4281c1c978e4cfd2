/*
 * The run loop of `faultline run` and the `faultline lab` command (see
 * run.h and docs/internals/run.md). One experiment at a time: lab up ->
 * agents healthy and capable -> target up -> warm-up -> workload (main
 * thread, wl_run) with the fault schedule in a scheduler thread (apply at
 * `at` on every affected agent concurrently through one curl multi handle,
 * renew at ttl/3, heal at `at + for`, health of every agent once a second)
 * -> heal everything -> converge -> final reads -> verifiers -> outputs ->
 * teardown. The controller moves into the lab's control namespace after the
 * lab is built, so its sockets (agents on the control network, clients on
 * the clients' network through the router) live there; it moves back before
 * teardown so that nothing keeps the lab's namespaces alive.
 *
 * Failure policy: any harness problem (an agent that does not answer, an
 * apply refused, a lease lost, the target not starting) stops the workload,
 * heals what was applied, tears down and exits 3 with the reason in
 * report.json. SIGINT / SIGTERM do the same with reason "interrupted"; a
 * second one kills the lab at once (lab_emergency_teardown).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "commands.h"
#include "faultline/driver.h"
#include "faultline/history.h"
#include "faultline/inject.h"
#include "faultline/target.h"
#include "faultline/log.h"
#include "faultline/timeutil.h"
#include "faultline/verify.h"
#include "faultline/workload.h"
#include "lab.h"
#include "report.h"
#include "run.h"
#include "verify_cfg.h"

/*
 * Messages are cut at their buffer's size on purpose (one error line, first
 * error wins); paths are bounded by the output directory's length, checked
 * when it is created.
 */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define NS_MS                 1000000LL
#define NS_S                  1000000000LL
#define REFSTORE_DEFAULT_PORT 7000
#define RESP_MAX              (1 << 20)

static int mkdirs(const char *path);

/* ---- signals ------------------------------------------------------------- */

static volatile sig_atomic_t g_signals; /* how many SIGINT/SIGTERM */
static volatile sig_atomic_t g_stop;    /* the workload's stop flag */

static void on_signal(int sig)
{
    static const char msg[] = "\nfaultline: second interrupt: killing the lab now\n";

    (void)sig;
    g_signals = g_signals + 1;
    g_stop = 1;
    if (g_signals >= 2) {
        if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
            /* nothing to do */
        }
        lab_emergency_teardown();
        _exit(FL_EXIT_HARNESS);
    }
}

void run_signals_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool run_interrupted(void)
{
    return g_signals > 0;
}

/* ---- HTTP: many requests at once ---------------------------------------- */

struct hreq {
    const char *method; /* "GET", "POST", "DELETE" */
    char url[320];
    char *body; /* owned; NULL: none */
    long status;
    char *resp;
    size_t resp_len;
    char err[CURL_ERROR_SIZE];
};

static size_t h_write(char *p, size_t sz, size_t nm, void *u)
{
    struct hreq *r = u;
    size_t n = sz * nm;
    char *nr;

    if (r->resp_len + n > RESP_MAX)
        return 0;
    nr = realloc(r->resp, r->resp_len + n + 1);
    if (!nr)
        return 0;
    memcpy(nr + r->resp_len, p, n);
    r->resp = nr;
    r->resp_len += n;
    r->resp[r->resp_len] = '\0';
    return n;
}

/* Perform rq[0..n) concurrently; each gets status (0 if no answer) and body. */
static void http_many(struct hreq *rq, size_t n, const char *token, long timeout_ms)
{
    CURLM *m = curl_multi_init();
    CURL **e = calloc(n ? n : 1, sizeof(*e));
    struct curl_slist *hdr = NULL;
    char auth[128];
    CURLMsg *msg;
    int running = 0, left;
    size_t i;

    if (!m || !e) {
        for (i = 0; i < n; i++)
            snprintf(rq[i].err, sizeof(rq[i].err), "out of memory");
        goto out;
    }
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hdr = curl_slist_append(hdr, auth);
    }
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    hdr = curl_slist_append(hdr, "Expect:");
    for (i = 0; i < n; i++) {
        rq[i].status = 0;
        rq[i].err[0] = '\0';
        e[i] = curl_easy_init();
        if (!e[i]) {
            snprintf(rq[i].err, sizeof(rq[i].err), "out of memory");
            continue;
        }
        curl_easy_setopt(e[i], CURLOPT_URL, rq[i].url);
        curl_easy_setopt(e[i], CURLOPT_CUSTOMREQUEST, rq[i].method);
        if (rq[i].body)
            curl_easy_setopt(e[i], CURLOPT_POSTFIELDS, rq[i].body);
        else if (strcmp(rq[i].method, "POST") == 0)
            curl_easy_setopt(e[i], CURLOPT_POSTFIELDS, "{}");
        curl_easy_setopt(e[i], CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, h_write);
        curl_easy_setopt(e[i], CURLOPT_WRITEDATA, &rq[i]);
        curl_easy_setopt(e[i], CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(e[i], CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
        curl_easy_setopt(e[i], CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e[i], CURLOPT_ERRORBUFFER, rq[i].err);
        curl_easy_setopt(e[i], CURLOPT_PRIVATE, &rq[i]);
        curl_multi_add_handle(m, e[i]);
    }
    do {
        if (curl_multi_perform(m, &running) != CURLM_OK)
            break;
        if (running)
            curl_multi_poll(m, NULL, 0, 50, NULL);
    } while (running);
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
        struct hreq *r = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (!r)
            continue;
        if (msg->data.result == CURLE_OK)
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &r->status);
        else if (!r->err[0])
            snprintf(r->err, sizeof(r->err), "%s", curl_easy_strerror(msg->data.result));
    }
out:
    for (i = 0; e && i < n; i++) {
        if (e[i]) {
            curl_multi_remove_handle(m, e[i]);
            curl_easy_cleanup(e[i]);
        }
    }
    free(e);
    curl_slist_free_all(hdr);
    if (m)
        curl_multi_cleanup(m);
}

static void hreq_free(struct hreq *rq, size_t n)
{
    size_t i;

    for (i = 0; rq && i < n; i++) {
        free(rq[i].body);
        free(rq[i].resp);
        rq[i].body = rq[i].resp = NULL;
        rq[i].resp_len = 0;
    }
}

/* The error text of a failed request: the agent's {"error"} or curl's message. */
static void hreq_why(const struct hreq *r, char *buf, size_t len)
{
    json_t *j = r->resp ? json_loadb(r->resp, r->resp_len, 0, NULL) : NULL;
    const char *e = j ? json_string_value(json_object_get(j, "error")) : NULL;

    if (r->status == 0)
        snprintf(buf, len, "no answer: %s", r->err[0] ? r->err : "unknown error");
    else
        snprintf(buf, len, "HTTP %ld: %s", r->status, e ? e : (r->resp ? r->resp : ""));
    json_decref(j);
}

/* ---- binaries ------------------------------------------------------------ */

/* Find a sibling program: env var, next to us, ../<sub>/ in a build tree, PATH. */
static const char *find_bin(const char *env, const char *name, const char *sub, char *buf,
                            size_t len)
{
    char self[PATH_MAX], *slash;
    ssize_t n;
    const char *v = getenv(env);

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
    snprintf(buf, len, "/usr/local/bin/%s", name);
    if (access(buf, X_OK) == 0)
        return buf;
    snprintf(buf, len, "/usr/bin/%s", name);
    if (access(buf, X_OK) == 0)
        return buf;
    return NULL;
}

/* ---- the run's state ------------------------------------------------------ */

enum fstate_kind { FS_PENDING, FS_ACTIVE, FS_HEALED };

struct fstate {
    const struct exp_fault *f;
    json_t **specs; /* per affected host (same order as hosts) */
    size_t *hosts;  /* topology host indexes the fault is sent to */
    size_t nh;
    unsigned needs; /* enum inj_cap bits */
    char scope[128];
    int state;
    int64_t apply_sent, apply_done, heal_sent, heal_done, last_renew;
    json_t *agents; /* per agent: {host, status, apply_start_ns, apply_end_ns, error} */
    char error[256];
};

struct run {
    const struct experiment *exp;
    const struct run_opts *o;
    char out[PATH_MAX];
    char labdir[PATH_MAX];
    struct lab *lab;
    const char *token;
    char token_buf[256];
    char (*agent_url)[EXP_URL_MAX]; /* per host */
    bool *agent_dead;
    struct fstate *fs;
    size_t nfs;
    int target_port;
    /* real services (redis-sentinel, etcd, postgres): a launcher starts them */
    const struct fl_target_ops *launcher;
    void *tstate;
    json_t *tstatus; /* the launcher's status after settling (ground truth) */
    struct fl_target_host *thosts;
    char (*taddr)[64];
    /* scheduler */
    pthread_t sched;
    bool sched_started;
    volatile int sched_quit;
    int64_t t0; /* workload start (CLOCK_MONOTONIC) */
    int64_t last_health;
    pthread_mutex_t mu; /* harness error, fault states read by the progress callback */
    bool harness_failed;
    char harness_err[FL_ERR_MAX];
    bool settled;
    json_t *durations;
};

static void harness_fail(struct run *R, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void harness_fail(struct run *R, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&R->mu);
    if (!R->harness_failed) {
        R->harness_failed = true;
        va_start(ap, fmt);
        vsnprintf(R->harness_err, sizeof(R->harness_err), fmt, ap);
        va_end(ap);
        progress_event("harness error: %s", R->harness_err);
    }
    g_stop = 1;
    pthread_mutex_unlock(&R->mu);
}

static bool stopping(struct run *R)
{
    bool f;

    pthread_mutex_lock(&R->mu);
    f = R->harness_failed;
    pthread_mutex_unlock(&R->mu);
    return f || g_signals > 0;
}

static int active_faults(struct run *R)
{
    size_t i;
    int n = 0;

    for (i = 0; i < R->nfs; i++)
        n += R->fs[i].state == FS_ACTIVE;
    return n;
}

static void dur_set(struct run *R, const char *key, int64_t ns)
{
    json_object_set_new(R->durations, key, json_integer(ns / NS_MS));
}

/* ---- faults: experiment -> injector specs ------------------------------- */

static json_t *cidrs_json(const struct fl_cidr *c, size_t n)
{
    json_t *a = json_array();
    char buf[64];
    size_t i;

    for (i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(fl_cidr_format(&c[i], buf, sizeof(buf))));
    return a;
}

static json_t *ms_str(const json_t *v)
{
    if (json_is_integer(v))
        return json_sprintf("%" JSON_INTEGER_FORMAT "ms", json_integer_value(v));
    return json_deep_copy(v);
}

static void hosts_add(struct fstate *s, const size_t *h, size_t n)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        for (j = 0; j < s->nh; j++)
            if (s->hosts[j] == h[i])
                break;
        if (j == s->nh)
            s->hosts[s->nh++] = h[i];
    }
}

static const char *mode_name(enum exp_fault_mode m)
{
    return m == EXP_MODE_REJECT ? "reject" : "drop";
}

/*
 * The injector spec of fault f for host h, and which hosts get it. Symmetric
 * cuts go to every host on either side (enforced on ingress), so that no
 * packet crosses in either direction: partition to the members of every
 * group, isolate to every host of the topology, one-way to both ends.
 */
static int fault_translate(struct run *R, struct fstate *s, struct fl_err *err)
{
    const struct experiment *exp = R->exp;
    const struct exp_fault *f = s->f;
    const struct exp_topology *t = &exp->topology;
    const char *kind = experiment_fault_kind_name(f->kind);
    const json_t *p = f->params;
    const char *dev = json_string_value(json_object_get(p, "dev"));
    size_t i, g;

    s->hosts = calloc(t->n_hosts ? t->n_hosts : 1, sizeof(*s->hosts));
    s->specs = calloc(t->n_hosts ? t->n_hosts : 1, sizeof(*s->specs));
    if (!s->hosts || !s->specs)
        return fl_errf(err, -ENOMEM, "out of memory");
    if (!dev && t->lab)
        dev = LAB_DATA_DEV;
    switch (f->kind) {
    case EXP_FAULT_PARTITION:
        for (g = 0; g < f->n_groups; g++)
            hosts_add(s, f->groups[g].hosts, f->groups[g].n_hosts);
        snprintf(s->scope, sizeof(s->scope), "groups");
        for (g = 0; g < f->n_groups; g++)
            snprintf(s->scope + strlen(s->scope), sizeof(s->scope) - strlen(s->scope), "%s[%s]",
                     g ? " | " : " ", f->groups[g].text ? f->groups[g].text : "");
        break;
    case EXP_FAULT_ONE_WAY:
        hosts_add(s, f->to.hosts, f->to.n_hosts);
        hosts_add(s, f->from.hosts, f->from.n_hosts);
        snprintf(s->scope, sizeof(s->scope), "from %s to %s", f->from.text ? f->from.text : "",
                 f->to.text ? f->to.text : "");
        break;
    case EXP_FAULT_ISOLATE:
        for (i = 0; i < t->n_hosts; i++)
            s->hosts[s->nh++] = i;
        snprintf(s->scope, sizeof(s->scope), "%s", f->scope.text ? f->scope.text : "");
        break;
    default:
        hosts_add(s, f->scope.hosts, f->scope.n_hosts);
        snprintf(s->scope, sizeof(s->scope), "%s", f->scope.text ? f->scope.text : "");
        break;
    }
    for (i = 0; i < s->nh; i++) {
        json_t *sp = json_pack("{s:s}", "kind", kind);
        json_t *grp;

        if (!sp)
            return fl_errf(err, -ENOMEM, "out of memory");
        switch (f->kind) {
        case EXP_FAULT_PARTITION:
            grp = json_array();
            for (g = 0; g < f->n_groups; g++)
                json_array_append_new(grp, cidrs_json(f->groups[g].cidrs, f->groups[g].n_cidrs));
            json_object_set_new(sp, "mode", json_string(mode_name(f->mode)));
            json_object_set_new(sp, "groups", grp);
            break;
        case EXP_FAULT_ONE_WAY:
            json_object_set_new(sp, "mode", json_string(mode_name(f->mode)));
            json_object_set_new(sp, "from", cidrs_json(f->from.cidrs, f->from.n_cidrs));
            json_object_set_new(sp, "to", cidrs_json(f->to.cidrs, f->to.n_cidrs));
            break;
        case EXP_FAULT_ISOLATE:
            json_object_set_new(sp, "mode", json_string(mode_name(f->mode)));
            json_object_set_new(sp, "cidrs", cidrs_json(f->scope.cidrs, f->scope.n_cidrs));
            break;
        case EXP_FAULT_LOSS:
            json_object_set(sp, "percent", json_object_get(p, "percent"));
            if (t->lab)
                json_object_set_new(sp, "from", json_pack("[s]", LAB_DATA_NET));
            break;
        case EXP_FAULT_LATENCY:
        case EXP_FAULT_JITTER:
            if (json_object_get(p, "delay"))
                json_object_set_new(sp, "delay", ms_str(json_object_get(p, "delay")));
            if (json_object_get(p, "jitter"))
                json_object_set_new(sp, "jitter", ms_str(json_object_get(p, "jitter")));
            json_object_set_new(sp, "dev", json_string(dev ? dev : ""));
            break;
        case EXP_FAULT_DUPLICATE:
        case EXP_FAULT_CORRUPT:
        case EXP_FAULT_REORDER:
            json_object_set(sp, "percent", json_object_get(p, "percent"));
            if (json_object_get(p, "delay"))
                json_object_set_new(sp, "delay", ms_str(json_object_get(p, "delay")));
            json_object_set_new(sp, "dev", json_string(dev ? dev : ""));
            break;
        case EXP_FAULT_BANDWIDTH:
            json_object_set_new(sp, "rate",
                                json_sprintf("%" JSON_INTEGER_FORMAT "kbit",
                                             json_integer_value(json_object_get(p, "kbit"))));
            json_object_set_new(sp, "dev", json_string(dev ? dev : ""));
            break;
        case EXP_FAULT_LINK_DOWN:
            json_object_set_new(sp, "dev", json_string(dev ? dev : ""));
            break;
        case EXP_FAULT_BLACKHOLE:
            json_object_set_new(sp, "cidrs", cidrs_json(f->to.cidrs, f->to.n_cidrs));
            break;
        case EXP_FAULT_PROCESS:
            json_object_set(sp, "action", json_object_get(p, "action"));
            if (json_object_get(p, "service"))
                json_object_set_new(sp, "target",
                                    json_pack("{s:O}", "match", json_object_get(p, "service")));
            else /* the launcher names the real process once the target runs */
                json_object_set_new(sp, "target",
                                    json_pack("{s:s}", "match", t->hosts[s->hosts[i]].name));
            break;
        default:
            break;
        }
        s->specs[i] = sp;
    }
    /* Check the spec as the agents will, and learn which kernel features it needs. */
    if (s->nh > 0) {
        struct inj_fault *inj = NULL;
        struct fl_err e2 = {0};

        if (inj_fault_parse_json(s->specs[0], &inj, &e2) < 0)
            return fl_errf(err, -EINVAL, "%s:%d:%d: fault %s (%s): %s", exp->file, f->line,
                           f->column, f->id, kind, e2.msg);
        s->needs = inj_fault_needs(inj);
        inj_fault_free(inj);
    }
    s->agents = json_array();
    return 0;
}

static void fstates_free(struct run *R)
{
    size_t i, j;

    for (i = 0; R->fs && i < R->nfs; i++) {
        for (j = 0; R->fs[i].specs && j < R->fs[i].nh; j++)
            json_decref(R->fs[i].specs[j]);
        free(R->fs[i].specs);
        free(R->fs[i].hosts);
        json_decref(R->fs[i].agents);
    }
    free(R->fs);
    R->fs = NULL;
}

/* ---- agents -------------------------------------------------------------- */

static const struct {
    unsigned bit;
    const char *name;
} cap_names[] = {
    {INJ_CAP_NFTABLES, "nftables"}, {INJ_CAP_NETEM, "netem"}, {INJ_CAP_TBF, "tbf"},
    {INJ_CAP_LINK, "link"},         {INJ_CAP_ROUTE, "route"}, {INJ_CAP_PROCESS, "process"},
};

/* Wait until every agent answers /v1/health (bounded), then check capabilities. */
static int agents_ready(struct run *R, int64_t timeout_ns, struct fl_err *err)
{
    const struct exp_topology *t = &R->exp->topology;
    struct hreq *rq = calloc(t->n_hosts, sizeof(*rq));
    int64_t deadline = fl_now_ns() + timeout_ns;
    size_t i, k, c, ok;
    char why[512];
    int r = 0;

    if (!rq)
        return fl_errf(err, -ENOMEM, "out of memory");
    for (;;) {
        for (i = 0; i < t->n_hosts; i++) {
            rq[i].method = "GET";
            snprintf(rq[i].url, sizeof(rq[i].url), "%s/v1/health", R->agent_url[i]);
        }
        http_many(rq, t->n_hosts, R->token, 1000);
        for (ok = 0, i = 0; i < t->n_hosts; i++)
            ok += rq[i].status == 200;
        if (ok == t->n_hosts)
            break;
        for (i = 0; i < t->n_hosts; i++)
            if (rq[i].status != 200)
                break;
        hreq_why(&rq[i], why, sizeof(why));
        if (rq[i].status == 401 || rq[i].status == 403) {
            r = fl_errf(err, -EACCES, "agent of %s (%s) refuses the token: %s", t->hosts[i].name,
                        R->agent_url[i], why);
            goto out;
        }
        if (R->lab && R->lab->n_procs > i && !lab_proc_alive(R->lab, R->lab->procs[i])) {
            r = fl_errf(err, -ECHILD, "the agent of %s exited at start (see %s/agent-%s.log)",
                        t->hosts[i].name, R->out, t->hosts[i].name);
            goto out;
        }
        if (fl_now_ns() > deadline || stopping(R)) {
            r = fl_errf(err, -ETIMEDOUT, "the agent of %s (%s) does not answer: %s",
                        t->hosts[i].name, R->agent_url[i], why);
            goto out;
        }
        hreq_free(rq, t->n_hosts);
        usleep(20000);
    }
    hreq_free(rq, t->n_hosts);
    /* Capabilities: every fault's needs on every host that will get it. */
    for (i = 0; i < t->n_hosts; i++) {
        rq[i].method = "GET";
        snprintf(rq[i].url, sizeof(rq[i].url), "%s/v1/capabilities", R->agent_url[i]);
    }
    http_many(rq, t->n_hosts, R->token, 10000);
    for (i = 0; i < t->n_hosts && r == 0; i++) {
        json_t *j, *kern;

        if (rq[i].status != 200) {
            hreq_why(&rq[i], why, sizeof(why));
            r = fl_errf(err, -EIO, "capabilities of %s: %s", t->hosts[i].name, why);
            break;
        }
        j = json_loadb(rq[i].resp, rq[i].resp_len, 0, NULL);
        kern = json_object_get(j, "kernel");
        for (k = 0; k < R->nfs && r == 0; k++) {
            const struct fstate *s = &R->fs[k];
            bool mine = false;
            size_t h;

            for (h = 0; h < s->nh; h++)
                mine |= s->hosts[h] == i;
            if (!mine)
                continue;
            for (c = 0; c < sizeof(cap_names) / sizeof(cap_names[0]); c++) {
                json_t *cap;

                if (!(s->needs & cap_names[c].bit))
                    continue;
                cap = json_object_get(kern, cap_names[c].name);
                if (!json_is_true(json_object_get(cap, "ok"))) {
                    const char *e = json_string_value(json_object_get(cap, "error"));

                    r = fl_errf(err, -EOPNOTSUPP, "fault %s (%s) cannot run on %s: %s", s->f->id,
                                experiment_fault_kind_name(s->f->kind), t->hosts[i].name,
                                e ? e : "the agent's probe reports it unavailable");
                    break;
                }
            }
        }
        json_decref(j);
    }
out:
    hreq_free(rq, t->n_hosts);
    free(rq);
    return r;
}

/* ---- the target: started by its launcher (targets/services) in the lab ---- */

static int target_port(const struct experiment *exp)
{
    json_t *p = json_object_get(exp->target.options, "port");

    return json_is_integer(p) ? (int)json_integer_value(p) : REFSTORE_DEFAULT_PORT;
}

static void addr_of(const struct fl_cidr *c, char *buf, size_t len)
{
    char tmp[64], *slash;

    fl_cidr_format(c, tmp, sizeof(tmp));
    slash = strchr(tmp, '/');
    if (slash)
        *slash = '\0';
    snprintf(buf, len, "%s", tmp);
}

/* Start a real service through its launcher (targets/services) in the lab's hosts. */
static int launcher_start(struct run *R, struct fl_err *err)
{
    const struct experiment *exp = R->exp;
    const struct exp_topology *t = &exp->topology;
    struct fl_target_env env;
    char dir[PATH_MAX];
    size_t i;

    R->thosts = calloc(t->n_hosts, sizeof(*R->thosts));
    R->taddr = calloc(t->n_hosts, sizeof(*R->taddr));
    if (!R->thosts || !R->taddr)
        return fl_errf(err, -ENOMEM, "out of memory");
    for (i = 0; i < t->n_hosts; i++) {
        const struct exp_host *h = &t->hosts[i];

        addr_of(&h->data, R->taddr[i], sizeof(R->taddr[i]));
        R->thosts[i].name = h->name;
        R->thosts[i].region = t->regions[h->region].name;
        R->thosts[i].zone = t->regions[h->region].zones[h->zone].name;
        R->thosts[i].netns = R->lab->host_ns[i];
        R->thosts[i].data_addr = R->taddr[i];
    }
    snprintf(dir, sizeof(dir), "%s/target", R->out);
    mkdirs(dir);
    memset(&env, 0, sizeof(env));
    env.hosts = R->thosts;
    env.n_hosts = t->n_hosts;
    env.primary_region = exp->target.has_primary ? t->regions[exp->target.primary].name : NULL;
    env.config = exp->target.options;
    env.run_dir = dir;
    env.ready_timeout_ns = 60 * NS_S;
    return R->launcher->start(&env, &R->tstate, err);
}

/*
 * Process faults name the target's process on each host: ask the launcher
 * now that it runs (the file was checked with a placeholder). A fault with
 * its own `service:` keeps it.
 */
static int process_targets(struct run *R, struct fl_err *err)
{
    size_t i, k;

    for (i = 0; i < R->nfs; i++) {
        struct fstate *s = &R->fs[i];

        if (s->f->kind != EXP_FAULT_PROCESS || json_object_get(s->f->params, "service"))
            continue;
        for (k = 0; k < s->nh; k++) {
            json_t *t = R->launcher->process_target
                            ? R->launcher->process_target(R->tstate, s->hosts[k])
                            : NULL;

            if (t == NULL)
                return fl_errf(err, -EOPNOTSUPP,
                               "fault %s: target kind %s cannot name its process on %s; give "
                               "the fault a service: (a command-line match)",
                               s->f->id, R->exp->target.kind_name,
                               R->exp->topology.hosts[s->hosts[k]].name);
            /*
             * restart_cmd sits beside target in the injector's process spec,
             * and only where the server is killed (stop is undone by SIGCONT).
             */
            if (json_object_get(t, "restart_cmd") != NULL) {
                const char *act = json_string_value(json_object_get(s->specs[k], "action"));

                if (act != NULL && strcmp(act, "stop") != 0)
                    json_object_set(s->specs[k], "restart_cmd", json_object_get(t, "restart_cmd"));
                json_object_del(t, "restart_cmd");
            }
            json_object_set_new(s->specs[k], "target", t);
        }
    }
    return 0;
}

static void launcher_stop(struct run *R)
{
    if (R->launcher && R->tstate)
        R->launcher->stop(R->tstate);
    R->tstate = NULL;
    free(R->thosts);
    free(R->taddr);
    R->thosts = NULL;
    R->taddr = NULL;
}

/* ---- the fault schedule ------------------------------------------------ */

/* POST the fault to every affected agent at once; record the interval. */
static void fault_apply(struct run *R, struct fstate *s)
{
    const struct exp_topology *t = &R->exp->topology;
    struct hreq *rq = calloc(s->nh ? s->nh : 1, sizeof(*rq));
    char why[512];
    size_t i, failed = 0;

    if (!rq) {
        harness_fail(R, "out of memory applying %s", s->f->id);
        return;
    }
    for (i = 0; i < s->nh; i++) {
        json_t *b = json_pack("{s:s,s:O,s:I}", "id", s->f->id, "fault", s->specs[i], "ttl_ms",
                              (json_int_t)R->o->ttl_ms);

        rq[i].method = "POST";
        snprintf(rq[i].url, sizeof(rq[i].url), "%s/v1/faults", R->agent_url[s->hosts[i]]);
        rq[i].body = b ? json_dumps(b, JSON_COMPACT) : NULL;
        json_decref(b);
    }
    s->apply_sent = fl_now_ns();
    http_many(rq, s->nh, R->token, 5000);
    s->apply_done = fl_now_ns();
    s->last_renew = s->apply_done;
    pthread_mutex_lock(&R->mu);
    s->state = FS_ACTIVE;
    pthread_mutex_unlock(&R->mu);
    for (i = 0; i < s->nh; i++) {
        json_t *a =
            json_pack("{s:s,s:i}", "host", t->hosts[s->hosts[i]].name, "status", (int)rq[i].status);
        json_t *resp = rq[i].resp ? json_loadb(rq[i].resp, rq[i].resp_len, 0, NULL) : NULL;

        if (rq[i].status == 200 || rq[i].status == 201) {
            json_object_set(a, "apply_start_ns", json_object_get(resp, "apply_start_ns"));
            json_object_set(a, "apply_end_ns", json_object_get(resp, "apply_end_ns"));
        } else {
            hreq_why(&rq[i], why, sizeof(why));
            json_object_set_new(a, "error", json_string(why));
            if (!failed++)
                snprintf(s->error, sizeof(s->error), "%s: %s", t->hosts[s->hosts[i]].name, why);
        }
        json_array_append_new(s->agents, a);
        json_decref(resp);
    }
    progress_faults(active_faults(R));
    if (failed)
        harness_fail(R, "fault %s (%s) could not be applied on %zu of %zu hosts: %s", s->f->id,
                     experiment_fault_kind_name(s->f->kind), failed, s->nh, s->error);
    else
        progress_event("fault %s %s %s applied on %zu hosts in %.1f ms", s->f->id,
                       experiment_fault_kind_name(s->f->kind), s->scope, s->nh,
                       (double)(s->apply_done - s->apply_sent) / 1e6);
    hreq_free(rq, s->nh);
    free(rq);
}

/* DELETE the fault on every host it went to (404: already gone, fine). */
static void fault_heal(struct run *R, struct fstate *s)
{
    const struct exp_topology *t = &R->exp->topology;
    struct hreq *rq = calloc(s->nh ? s->nh : 1, sizeof(*rq));
    char why[512];
    size_t i, failed = 0;

    if (!rq)
        return;
    for (i = 0; i < s->nh; i++) {
        rq[i].method = "DELETE";
        snprintf(rq[i].url, sizeof(rq[i].url), "%s/v1/faults/%s", R->agent_url[s->hosts[i]],
                 s->f->id);
    }
    s->heal_sent = fl_now_ns();
    http_many(rq, s->nh, R->token, 5000);
    s->heal_done = fl_now_ns();
    pthread_mutex_lock(&R->mu);
    s->state = FS_HEALED;
    pthread_mutex_unlock(&R->mu);
    for (i = 0; i < s->nh; i++) {
        if (rq[i].status == 200 || rq[i].status == 404)
            continue;
        hreq_why(&rq[i], why, sizeof(why));
        if (!R->agent_dead[s->hosts[i]])
            log_warnx("healing %s on %s: %s", s->f->id, t->hosts[s->hosts[i]].name, why);
        failed++;
    }
    progress_faults(active_faults(R));
    progress_event("fault %s healed in %.1f ms%s", s->f->id,
                   (double)(s->heal_done - s->heal_sent) / 1e6,
                   failed ? " (some agents did not answer)" : "");
    hreq_free(rq, s->nh);
    free(rq);
}

static void fault_renew(struct run *R, struct fstate *s)
{
    const struct exp_topology *t = &R->exp->topology;
    struct hreq *rq = calloc(s->nh ? s->nh : 1, sizeof(*rq));
    char why[512];
    size_t i;

    if (!rq)
        return;
    for (i = 0; i < s->nh; i++) {
        rq[i].method = "POST";
        snprintf(rq[i].url, sizeof(rq[i].url), "%s/v1/faults/%s/renew", R->agent_url[s->hosts[i]],
                 s->f->id);
    }
    http_many(rq, s->nh, R->token, 2000);
    s->last_renew = fl_now_ns();
    for (i = 0; i < s->nh; i++) {
        if (rq[i].status == 200)
            continue;
        hreq_why(&rq[i], why, sizeof(why));
        if (rq[i].status == 0)
            R->agent_dead[s->hosts[i]] = true;
        harness_fail(R, "renewing the lease of %s on %s failed (%s)", s->f->id,
                     t->hosts[s->hosts[i]].name, why);
        break;
    }
    hreq_free(rq, s->nh);
    free(rq);
}

/* Every agent answers /v1/health, and every process of the lab still runs. */
static void health_check(struct run *R)
{
    const struct exp_topology *t = &R->exp->topology;
    struct hreq *rq = calloc(t->n_hosts, sizeof(*rq));
    char why[512];
    size_t i;

    if (!rq)
        return;
    for (i = 0; i < t->n_hosts; i++) {
        rq[i].method = "GET";
        snprintf(rq[i].url, sizeof(rq[i].url), "%s/v1/health", R->agent_url[i]);
    }
    http_many(rq, t->n_hosts, R->token, 2000);
    for (i = 0; i < t->n_hosts; i++) {
        if (rq[i].status == 200)
            continue;
        hreq_why(&rq[i], why, sizeof(why));
        if (rq[i].status == 0)
            R->agent_dead[i] = true;
        harness_fail(R, "the agent of %s stopped answering (%s)", t->hosts[i].name, why);
        break;
    }
    hreq_free(rq, t->n_hosts);
    free(rq);
}

static void *sched_main(void *arg)
{
    struct run *R = arg;
    int64_t renew_every = R->o->ttl_ms * NS_MS / 3, now;
    size_t i;

    while (!R->sched_quit && !stopping(R)) {
        now = fl_now_ns();
        for (i = 0; i < R->nfs && !stopping(R); i++) {
            struct fstate *s = &R->fs[i];

            if (s->state == FS_PENDING && now >= R->t0 + s->f->at_ns)
                fault_apply(R, s);
            else if (s->state == FS_ACTIVE && !s->f->until_end &&
                     now >= R->t0 + s->f->at_ns + s->f->for_ns)
                fault_heal(R, s);
            else if (s->state == FS_ACTIVE && now - s->last_renew >= renew_every)
                fault_renew(R, s);
        }
        if (now - R->last_health >= NS_S && !stopping(R)) {
            R->last_health = now;
            health_check(R);
        }
        progress_tick();
        usleep(10000);
    }
    return NULL;
}

/* Heal every active fault; then revert-all on every live agent (belt and braces). */
static void heal_everything(struct run *R)
{
    const struct exp_topology *t = &R->exp->topology;
    struct hreq *rq;
    size_t i, n = 0;

    for (i = 0; i < R->nfs; i++)
        if (R->fs[i].state == FS_ACTIVE)
            fault_heal(R, &R->fs[i]);
    if (!R->agent_url)
        return;
    rq = calloc(t->n_hosts, sizeof(*rq));
    if (!rq)
        return;
    for (i = 0; i < t->n_hosts; i++) {
        if (R->agent_dead[i])
            continue;
        rq[n].method = "POST";
        snprintf(rq[n].url, sizeof(rq[n].url), "%s/v1/revert-all", R->agent_url[i]);
        n++;
    }
    http_many(rq, n, R->token, 3000);
    hreq_free(rq, n);
    free(rq);
}

/* ---- workload ------------------------------------------------------------ */

static void on_progress(const struct wl_stats *s, void *arg)
{
    progress_stats(s, active_faults(arg));
}

static int workload_config(struct run *R, struct wl_config *wc, struct fl_err *err)
{
    const struct experiment *exp = R->exp;
    const struct exp_workload *w = &exp->workload;
    const struct exp_topology *t = &exp->topology;
    char url[FL_URL_MAX], a[64];
    size_t i, k;
    int r;

    wl_config_init(wc);
    wc->clients = w->clients;
    wc->rate = w->rate;
    wc->duration_ns = w->duration_ns;
    wc->keys = w->keys;
    wc->timeout_ns = w->timeout_ns;
    if (w->has_seed)
        wc->seed = w->seed;
    for (i = 0; i < w->n_mix; i++)
        if ((r = wl_config_add_mix(wc, w->mix[i].op, w->mix[i].weight, err)) < 0)
            return r;
    wc->routing = w->routing == EXP_ROUTING_FIXED ? WL_ROUTE_FIXED : WL_ROUTE_PREFERRED;
    for (i = 0; i < w->n_routing_regions && i < WL_MAX_REGIONS; i++)
        snprintf(wc->regions[wc->nregions++], FL_REGION_MAX, "%s",
                 t->regions[w->routing_regions[i]].name);
    /* A launcher knows its service's endpoints (one per region). */
    if (R->launcher) {
        const struct fl_target_endpoint *eps = NULL;
        size_t neps = 0, e;

        if ((r = R->launcher->endpoints(R->tstate, &eps, &neps)) < 0)
            return fl_errf(err, r, "the %s launcher has no endpoints", R->launcher->kind);
        for (k = 0; k < w->n_routing_regions; k++)
            for (e = 0; e < neps; e++)
                if (strcmp(eps[e].region, t->regions[w->routing_regions[k]].name) == 0 &&
                    (r = wl_config_add_endpoint(wc, eps[e].region, eps[e].url, err)) < 0)
                    return r;
        wc->fixed_endpoint = 0;
        return wl_config_check(wc, err);
    }
    /* Endpoints: every replica, in routing order (the first is the fixed one). */
    for (k = 0; k < w->n_routing_regions; k++) {
        const struct exp_region *reg = &t->regions[w->routing_regions[k]];

        for (i = reg->first_host; i < reg->first_host + reg->n_hosts; i++) {
            addr_of(&t->hosts[i].data, a, sizeof(a));
            snprintf(url, sizeof(url), "http://%s:%d", a, R->target_port);
            if ((r = wl_config_add_endpoint(wc, reg->name, url, err)) < 0)
                return r;
        }
    }
    wc->fixed_endpoint = 0;
    return wl_config_check(wc, err);
}

/* ---- outputs ---------------------------------------------------------------- */

static int mkdirs(const char *path)
{
    char tmp[PATH_MAX], *p;

    snprintf(tmp, sizeof(tmp), "%s", path);
    for (p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static void faults_timeline(struct run *R, struct hist_faults *hf)
{
    size_t i;

    for (i = 0; i < R->nfs; i++) {
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
        hist_faults_append(hf, &f);
    }
}

static int write_jsonl(const char *dir, const char *name, const struct hist *h,
                       const struct hist_faults *hf)
{
    char path[PATH_MAX];
    FILE *f;
    int r;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "we");
    if (!f)
        return -errno;
    r = h ? hist_write_jsonl(f, h) : hist_faults_write_jsonl(f, hf);
    if (fclose(f) != 0 && r == 0)
        r = -EIO;
    return r;
}

static json_t *faults_json(struct run *R)
{
    const struct exp_topology *t = &R->exp->topology;
    json_t *a = json_array();
    size_t i, h;

    for (i = 0; i < R->nfs; i++) {
        const struct fstate *s = &R->fs[i];
        json_t *hosts = json_array();
        json_t *o;

        for (h = 0; h < s->nh; h++)
            json_array_append_new(hosts, json_string(t->hosts[s->hosts[h]].name));
        o = json_pack("{s:s,s:s,s:s,s:o,s:I,s:I,s:b,s:s}", "id", s->f->id, "kind",
                      experiment_fault_kind_name(s->f->kind), "scope", s->scope, "hosts", hosts,
                      "at_ms", (json_int_t)(s->f->at_ns / NS_MS), "for_ms",
                      (json_int_t)(s->f->for_ns / NS_MS), "until_end", s->f->until_end, "state",
                      s->state == FS_PENDING  ? "never applied"
                      : s->state == FS_ACTIVE ? "active"
                                              : "healed");
        if (!o)
            continue;
        if (s->nh > 0)
            json_object_set(o, "spec", s->specs[0]);
        if (s->state != FS_PENDING) {
            json_object_set_new(o, "apply_sent_ns", json_integer(s->apply_sent));
            json_object_set_new(o, "apply_done_ns", json_integer(s->apply_done));
            json_object_set_new(o, "apply_ms",
                                json_real((double)(s->apply_done - s->apply_sent) / 1e6));
            json_object_set_new(o, "heal_sent_ns", json_integer(s->heal_sent));
            json_object_set_new(o, "heal_done_ns", json_integer(s->heal_done));
            if (s->heal_done)
                json_object_set_new(o, "heal_ms",
                                    json_real((double)(s->heal_done - s->heal_sent) / 1e6));
            json_object_set(o, "agents", s->agents);
        }
        if (s->error[0])
            json_object_set_new(o, "error", json_string(s->error));
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

static void wall_iso(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int read_token(const char *path, char *buf, size_t len, struct fl_err *err)
{
    FILE *f = fopen(path, "re");

    if (!f)
        return fl_errf(err, -errno, "cannot read the token file %s: %s", path, strerror(errno));
    if (!fgets(buf, (int)len, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (strlen(buf) < 16)
        return fl_errf(err, -EINVAL, "%s: the token must have at least 16 characters", path);
    return 0;
}

/* ---- one experiment ---------------------------------------------------- */

int run_experiment(const struct experiment *exp, const struct run_opts *o, json_t **report_out)
{
    struct run R;
    struct fl_err err = {0};
    struct vfy_config vcfg;
    struct vfy_results vres = {0};
    struct hist hist;
    struct hist_faults hf = {0};
    struct wl_config wc;
    struct wl_stats ws;
    const struct fl_driver_ops *drv = NULL;
    json_t *report = NULL, *verifiers = NULL;
    char agent_buf[PATH_MAX], target_buf[PATH_MAX], started[64], reason[FL_ERR_MAX] = "";
    const char *agent_bin = NULL, *target_bin = NULL;
    int64_t t_start = fl_now_ns(), t;
    uint64_t n_ok = 0, n_fail = 0, n_info = 0, n_total = 0, f_total = 0, f_ok = 0;
    bool workload_ran = false, verified = false;
    int code = FL_EXIT_OK, r;
    size_t i;

    memset(&R, 0, sizeof(R));
    memset(&ws, 0, sizeof(ws));
    R.exp = exp;
    R.o = o;
    pthread_mutex_init(&R.mu, NULL);
    R.durations = json_object();
    snprintf(R.out, sizeof(R.out), "%s", o->out);
    snprintf(R.labdir, sizeof(R.labdir), "%s/lab", R.out);
    R.target_port = target_port(exp);
    g_stop = 0;
    wall_iso(started, sizeof(started));
    hist_init(&hist);
    vfy_config_init_defaults(&vcfg);
    progress_begin(exp->name, o->quiet);
    if (strlen(o->out) > LAB_DIR_MAX / 2) {
        log_warnx("output directory path too long: %s", o->out);
        hist_free(&hist);
        json_decref(R.durations);
        return FL_EXIT_USAGE;
    }
    if ((r = mkdirs(R.out)) < 0) {
        log_warnx("cannot create %s: %s", R.out, strerror(-r));
        hist_free(&hist);
        json_decref(R.durations);
        return FL_EXIT_HARNESS;
    }

#define FAIL(c, ...)                                   \
    do {                                               \
        code = (c);                                    \
        snprintf(reason, sizeof(reason), __VA_ARGS__); \
        goto finish;                                   \
    } while (0)

    /* Everything that can be wrong with the file is found before anything starts. */
    if (exp_verify_config(exp, &vcfg, &err) < 0)
        FAIL(FL_EXIT_USAGE, "%s", err.msg);
    R.nfs = exp->n_faults;
    R.fs = calloc(R.nfs ? R.nfs : 1, sizeof(*R.fs));
    if (!R.fs)
        FAIL(FL_EXIT_HARNESS, "out of memory");
    for (i = 0; i < R.nfs; i++) {
        R.fs[i].f = &exp->faults[i];
        if (fault_translate(&R, &R.fs[i], &err) < 0)
            FAIL(FL_EXIT_USAGE, "%s", err.msg);
    }
    drv = fl_driver_find(exp->target.kind_name);
    if (!drv)
        FAIL(FL_EXIT_HARNESS, "no driver for target kind '%s' in this build",
             exp->target.kind_name);
    R.agent_url = calloc(exp->topology.n_hosts, sizeof(*R.agent_url));
    R.agent_dead = calloc(exp->topology.n_hosts, sizeof(*R.agent_dead));
    if (!R.agent_url || !R.agent_dead)
        FAIL(FL_EXIT_HARNESS, "out of memory");
    for (i = 0; i < exp->topology.n_hosts; i++)
        snprintf(R.agent_url[i], EXP_URL_MAX, "%s", exp->topology.hosts[i].agent);

    if (exp->topology.lab) {
        bool allow_any = false;

        if (geteuid() != 0)
            FAIL(FL_EXIT_HARNESS, "the lab needs root (CAP_NET_ADMIN): run as root, or list "
                                  "staging hosts in the experiment file");
        R.launcher = fl_target_find(exp->target.kind_name);
        if (!R.launcher)
            FAIL(FL_EXIT_HARNESS, "no launcher for target kind '%s' in the lab",
                 exp->target.kind_name);
        agent_bin = o->agent_bin ? o->agent_bin
                                 : find_bin("FAULTLINE_AGENT", "faultline-agent", "agents",
                                            agent_buf, sizeof(agent_buf));
        target_bin = o->target_bin ? o->target_bin
                                   : find_bin("FAULTLINE_REFSTORE", "faultline-refstore", "targets",
                                              target_buf, sizeof(target_buf));
        if (!agent_bin || (!target_bin && exp->target.kind == EXP_TARGET_REFSTORE))
            FAIL(FL_EXIT_HARNESS, "cannot find %s (set FAULTLINE_AGENT / FAULTLINE_REFSTORE)",
                 !agent_bin ? "faultline-agent" : "faultline-refstore");
        if (target_bin) /* the refstore launcher starts this one */
            setenv("FAULTLINE_REFSTORE", target_bin, 1);
        for (i = 0; i < R.nfs; i++)
            allow_any |= exp->faults[i].kind == EXP_FAULT_PROCESS;

        progress_phase("lab");
        if (lab_up(exp, R.labdir, o->keep_lab, &R.lab, &err) < 0)
            FAIL(FL_EXIT_HARNESS, "lab: %s", err.msg);
        dur_set(&R, "lab_up", R.lab->up_ns);
        progress_event("lab %s up in %.1f ms: %zu hosts, namespaces fl-%s-*", R.lab->id,
                       (double)R.lab->up_ns / 1e6, R.lab->n_hosts, R.lab->id);
        R.token = R.lab->token;
        t = fl_now_ns();
        if (lab_start_agents(R.lab, exp, agent_bin, R.out, allow_any, &err) < 0)
            FAIL(FL_EXIT_HARNESS, "agents: %s", err.msg);
        if (lab_enter_control(R.lab, &err) < 0)
            FAIL(FL_EXIT_HARNESS, "%s", err.msg);
    } else {
        t = fl_now_ns();
        if (!o->token_file)
            FAIL(FL_EXIT_USAGE, "%s: staging agents need --token-file", exp->file);
        if (read_token(o->token_file, R.token_buf, sizeof(R.token_buf), &err) < 0)
            FAIL(FL_EXIT_USAGE, "%s", err.msg);
        R.token = R.token_buf;
    }

    progress_phase("agents");
    if (agents_ready(&R, 10 * NS_S, &err) < 0)
        FAIL(FL_EXIT_HARNESS, "%s", err.msg);
    dur_set(&R, "agents_ready", fl_now_ns() - t);

    progress_phase("target");
    t = fl_now_ns();
    if (R.lab) {
        if (launcher_start(&R, &err) < 0)
            FAIL(FL_EXIT_HARNESS, "target %s: %s", exp->target.kind_name, err.msg);
        if (process_targets(&R, &err) < 0)
            FAIL(FL_EXIT_HARNESS, "%s", err.msg);
        /* Warm-up: every replica sees every peer, then a moment of quiet. */
        progress_phase("warmup");
        if (R.launcher->settle && R.launcher->settle(R.tstate, 15 * NS_S, &err) < 0)
            FAIL(FL_EXIT_HARNESS, "target %s: %s", exp->target.kind_name, err.msg);
    }
    dur_set(&R, "target_ready", fl_now_ns() - t);
    if (o->warmup_ns > 0 && !stopping(&R))
        usleep((useconds_t)(o->warmup_ns / 1000));
    if (stopping(&R))
        goto finish;

    if (workload_config(&R, &wc, &err) < 0)
        FAIL(FL_EXIT_USAGE, "%s: workload: %s", exp->file, err.msg);
    progress_phase("workload");
    t = fl_now_ns();
    R.t0 = t + 10 * NS_MS; /* wl_run starts its schedule 10 ms after it is called */
    R.last_health = t;
    if (pthread_create(&R.sched, NULL, sched_main, &R) != 0)
        FAIL(FL_EXIT_HARNESS, "cannot start the fault scheduler");
    R.sched_started = true;
    r = wl_run(&wc, drv, &hist, &ws, &g_stop, on_progress, &R, &err);
    R.sched_quit = 1;
    pthread_join(R.sched, NULL);
    R.sched_started = false;
    workload_ran = true;
    dur_set(&R, "workload", fl_now_ns() - t);
    if (r < 0)
        harness_fail(&R, "workload: %s", err.msg);
    progress_stats(&ws, active_faults(&R));

    progress_phase("heal");
    heal_everything(&R);
    faults_timeline(&R, &hf);
    if (stopping(&R))
        goto finish;

    progress_phase("settle");
    t = fl_now_ns();
    if (R.launcher && R.launcher->settle) {
        R.settled = R.launcher->settle(R.tstate, o->settle_ns, &err) == 0;
    } else {
        /* No "settled" signal from this target: give replication a moment. */
        usleep(2000000);
        R.settled = true;
    }
    /* The service's own view (who failed over when): ground truth for the report. */
    if (R.launcher && R.launcher->status && R.tstate)
        R.tstatus = R.launcher->status(R.tstate);
    if (!R.settled)
        progress_event("warning: %s; final reads go ahead", err.msg);
    dur_set(&R, "settle", fl_now_ns() - t);
    if (stopping(&R))
        goto finish;

    progress_phase("final-reads");
    t = fl_now_ns();
    if (wl_final_reads(&wc, drv, &hist, &err) < 0)
        FAIL(FL_EXIT_HARNESS, "final reads: %s", err.msg);
    dur_set(&R, "final_reads", fl_now_ns() - t);

    progress_phase("verify");
    t = fl_now_ns();
    if (vfy_run_all(&hist, &hf, &vcfg, &vres, &err) < 0)
        FAIL(FL_EXIT_HARNESS, "verifiers: %s", err.msg);
    dur_set(&R, "verify", fl_now_ns() - t);
    verified = true;
    code = vfy_results_pass(&vres) ? FL_EXIT_OK : FL_EXIT_VERIFY;

finish:
#undef FAIL
    /* Nothing stays injected, whatever happened above. */
    if (R.sched_started) {
        R.sched_quit = 1;
        pthread_join(R.sched, NULL);
    }
    if (R.agent_url && (R.lab || R.token))
        heal_everything(&R);
    if (hf.n == 0)
        faults_timeline(&R, &hf);
    launcher_stop(&R);
    if (R.lab) {
        lab_leave_control(R.lab);
        if (!o->keep_lab) {
            struct fl_err derr = {0};
            char *res;

            progress_phase("teardown");
            if (lab_down(R.lab, 2000, &derr) < 0 && code != FL_EXIT_USAGE) {
                code = FL_EXIT_HARNESS;
                if (!reason[0])
                    snprintf(reason, sizeof(reason), "teardown: %s", derr.msg);
            }
            res = lab_residue(R.lab->id);
            if (res && res[0]) {
                code = FL_EXIT_HARNESS;
                if (!reason[0])
                    snprintf(reason, sizeof(reason), "teardown left namespaces: %s", res);
            }
            free(res);
            dur_set(&R, "teardown", R.lab->down_ns);
            progress_event("lab %s torn down in %.1f ms", R.lab->id, (double)R.lab->down_ns / 1e6);
        } else {
            progress_event("lab %s kept: 'faultline lab down %s' removes it", R.lab->id, R.lab->id);
        }
    }
    if (R.harness_failed && code != FL_EXIT_USAGE) {
        code = FL_EXIT_HARNESS;
        if (!reason[0])
            snprintf(reason, sizeof(reason), "%s", R.harness_err);
    }
    if (g_signals > 0) {
        code = FL_EXIT_HARNESS;
        snprintf(reason, sizeof(reason), "interrupted");
    }
    if (code == FL_EXIT_HARNESS || code == FL_EXIT_USAGE)
        verified = false;

    for (i = 0; i < hist.n; i++) {
        const struct hist_op *op = &hist.ops[i];

        if (op->is_final) {
            f_total++;
            f_ok += op->outcome == HIST_OK;
            continue;
        }
        n_total++;
        n_ok += op->outcome == HIST_OK;
        n_fail += op->outcome == HIST_FAIL;
        n_info += op->outcome == HIST_INFO;
    }
    if (workload_ran || code != FL_EXIT_USAGE) {
        write_jsonl(R.out, "history.jsonl", &hist, NULL);
        write_jsonl(R.out, "faults.jsonl", NULL, &hf);
    }
    verifiers = verified ? vfy_results_to_json(&vres) : json_array();
    dur_set(&R, "total", fl_now_ns() - t_start);
    report =
        json_pack("{s:s,s:s,s:s,s:o,s:o,s:{s:I,s:I,s:I,s:I},s:{s:I,s:I}}", "experiment", exp->name,
                  "file", exp->file, "verdict",
                  code == FL_EXIT_OK       ? "pass"
                  : code == FL_EXIT_VERIFY ? "fail"
                                           : "error",
                  "verifiers", verifiers ? verifiers : json_array(), "faults",
                  R.fs ? faults_json(&R) : json_array(), "ops", "total", (json_int_t)n_total, "ok",
                  (json_int_t)n_ok, "fail", (json_int_t)n_fail, "info", (json_int_t)n_info,
                  "final_reads", "total", (json_int_t)f_total, "ok", (json_int_t)f_ok);
    if (report) {
        if (reason[0])
            json_object_set_new(report, "reason", json_string(reason));
        json_object_set_new(report, "exit_code", json_integer(code));
        json_object_set_new(report, "started_wall", json_string(started));
        json_object_set_new(report, "out", json_string(R.out));
        json_object_set_new(
            report, "rate",
            json_pack("{s:f,s:f}", "offered", ws.offered_rate, "achieved", ws.achieved_rate));
        json_object_set_new(report, "workload",
                            json_pack("{s:I,s:I,s:I,s:I,s:I,s:f}", "scheduled",
                                      (json_int_t)ws.scheduled, "issued", (json_int_t)ws.issued,
                                      "missed", (json_int_t)ws.missed, "late", (json_int_t)ws.late,
                                      "region_moves", (json_int_t)ws.region_moves, "max_lag_ms",
                                      (double)ws.max_lag_ns / 1e6));
        json_object_set_new(report, "target",
                            json_pack("{s:s,s:s,s:b,s:O?}", "kind", exp->target.kind_name, "preset",
                                      exp->target.preset, "settled", R.settled, "status",
                                      R.tstatus));
        json_object_set(report, "durations_ms", R.durations);
        json_object_set_new(report, "lab", lab_json(&R));
        {
            char rp[PATH_MAX + 16];

            snprintf(rp, sizeof(rp), "%s/report.json", R.out);
            if (report_write_json(rp, report, &err) < 0)
                log_warnx("%s", err.msg);
        }
    }
    progress_end();
    {
        fprintf(stderr, "[%s] %s", exp->name,
                code == FL_EXIT_OK       ? "PASS"
                : code == FL_EXIT_VERIFY ? "FAIL"
                                         : "ERROR");
        if (reason[0])
            fprintf(stderr, ": %s", reason);
        fprintf(stderr, " (%llu ops: %llu ok, %llu fail, %llu info; %.1f s) -> %s\n",
                (unsigned long long)n_total, (unsigned long long)n_ok, (unsigned long long)n_fail,
                (unsigned long long)n_info, (double)(fl_now_ns() - t_start) / 1e9, R.out);
        for (i = 0; verified && !o->quiet && i < vres.n; i++)
            fprintf(stderr, "  %-12s %s  %s\n", vres.r[i].name,
                    vres.r[i].skipped ? "skip"
                    : vres.r[i].pass  ? "pass"
                                      : "FAIL",
                    vres.r[i].detail ? vres.r[i].detail : "");
    }
    *report_out = report;
    vfy_results_free(&vres);
    hist_free(&hist);
    hist_faults_free(&hf);
    fstates_free(&R);
    free(R.agent_url);
    free(R.agent_dead);
    json_decref(R.durations);
    json_decref(R.tstatus);
    if (R.lab && !o->keep_lab)
        lab_free(R.lab);
    pthread_mutex_destroy(&R.mu);
    return code;
}

/* ---- faultline run ---------------------------------------------------------- */

/* The same paragraph as main.c's fl_exit_codes_help (kept here so flctl links alone). */
static const char run_exit_codes[] =
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
            "usage: faultline run [--out DIR] [--token-file FILE] [--keep-lab] [-q] FILE...\n"
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
            "  -k, --keep-lab        leave the lab up at the end (faults are still reverted;\n"
            "                        'faultline lab down ID' removes it)\n"
            "  -q, --quiet           no progress output (the summary line stays)\n"
            "  -h, --help            show this help\n"
            "\n"
            "outputs (in DIR, or DIR/<experiment>/ with several files):\n"
            "  report.json     verdict, verifiers (measured, bound, detail), faults with\n"
            "                  their apply/heal times, ops, rates, durations, lab\n"
            "  junit.xml       one testsuite per experiment, one testcase per verifier\n"
            "                  (in DIR, for all experiments of the run)\n"
            "  history.jsonl   every operation: client, op, key, value, region, times,\n"
            "                  outcome ok|fail|info\n"
            "  faults.jsonl    every fault: id, kind, scope, apply/heal intervals\n"
            "  agent-<host>.log, target/*.log          the lab's processes\n"
            "\n"
            "examples:\n"
            "  sudo faultline run experiments/key-vault-region-outage.yaml\n"
            "  sudo faultline run --out /tmp/nightly experiments/*.yaml\n"
            "  faultline run --token-file /etc/faultline/agent.token staging/redis.yaml\n"
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

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'}, {"token-file", required_argument, NULL, 't'},
        {"keep-lab", no_argument, NULL, 'k'},  {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0},
    };
    struct run_opts ro;
    const char *out = NULL;
    struct experiment **exps = NULL;
    json_t **reports = NULL;
    char base[PATH_MAX], ts[32], path[PATH_MAX + 80];
    int c, i, n, code = FL_EXIT_OK, rc;
    size_t k, j;

    memset(&ro, 0, sizeof(ro));
    ro.warmup_ns = NS_S;
    ro.settle_ns = 20 * NS_S;
    ro.ttl_ms = 9000;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:t:kqh", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 't':
            ro.token_file = optarg;
            break;
        case 'k':
            ro.keep_lab = true;
            break;
        case 'q':
            ro.quiet = true;
            break;
        case 'h':
            run_usage(stdout);
            return FL_EXIT_OK;
        default:
            run_usage(stderr);
            return FL_EXIT_USAGE;
        }
    }
    n = argc - optind;
    if (n <= 0) {
        fprintf(stderr, "faultline run: no experiment file given\n\n");
        run_usage(stderr);
        return FL_EXIT_USAGE;
    }
    exps = calloc((size_t)n, sizeof(*exps));
    reports = calloc((size_t)n, sizeof(*reports));
    if (!exps || !reports) {
        free(exps);
        free(reports);
        return FL_EXIT_HARNESS;
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
    if ((rc = mkdirs(base)) < 0) {
        fprintf(stderr, "faultline run: cannot create %s: %s\n", base, strerror(-rc));
        code = FL_EXIT_HARNESS;
        goto out;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "faultline run: curl_global_init failed\n");
        code = FL_EXIT_HARNESS;
        goto out;
    }
    run_signals_install();
    for (i = 0; i < n && g_signals == 0; i++) {
        char dir[PATH_MAX + 80];

        if (n == 1) {
            snprintf(dir, sizeof(dir), "%s", base);
        } else {
            unsigned dup = 0;

            for (j = 0; j < (size_t)i; j++)
                dup += strcmp(exps[j]->name, exps[i]->name) == 0;
            if (dup)
                snprintf(dir, sizeof(dir), "%s/%s-%u", base, exps[i]->name, dup + 1);
            else
                snprintf(dir, sizeof(dir), "%s/%s", base, exps[i]->name);
        }
        ro.out = dir;
        rc = run_experiment(exps[i], &ro, &reports[i]);
        /* The worst wins: harness error, then bad file, then a failed verifier. */
        if (rc == FL_EXIT_HARNESS || code == FL_EXIT_HARNESS)
            code = FL_EXIT_HARNESS;
        else if (rc == FL_EXIT_USAGE || code == FL_EXIT_USAGE)
            code = FL_EXIT_USAGE;
        else if (rc == FL_EXIT_VERIFY)
            code = FL_EXIT_VERIFY;
    }
    {
        struct fl_err err = {0};
        json_t **have = calloc((size_t)n, sizeof(*have));

        for (k = 0, j = 0; have && j < (size_t)n; j++)
            if (reports[j])
                have[k++] = reports[j];
        snprintf(path, sizeof(path), "%s/junit.xml", base);
        if (have && report_junit_write(path, have, k, &err) < 0) {
            fprintf(stderr, "faultline run: %s\n", err.msg);
            code = FL_EXIT_HARNESS;
        }
        free(have);
    }
    if (g_signals > 0)
        code = FL_EXIT_HARNESS;
    curl_global_cleanup();
out:
    for (i = 0; i < n; i++) {
        experiment_free(exps[i]);
        json_decref(reports[i]);
    }
    free(exps);
    free(reports);
    return code;
}

/* ---- faultline lab ---------------------------------------------------------- */

static void lab_usage(FILE *out)
{
    fprintf(
        out,
        "usage: faultline lab up [--no-target] FILE\n"
        "       faultline lab down [ID...]\n"
        "       faultline lab list\n"
        "\n"
        "Build an experiment's lab by hand and leave it running, to poke at it: the\n"
        "namespaces (fl-<id>-<host>, fl-<id>-router, fl-<id>-ctl), an agent in every\n"
        "host on its control address, and the target's replicas (unless --no-target).\n"
        "No workload runs and no fault is applied. 'lab down' kills every process in\n"
        "the lab's namespaces and deletes them (without ID: every lab); 'lab list'\n"
        "shows the labs recorded in " LAB_STATE_DIR ". Needs root.\n"
        "\n"
        "examples:\n"
        "  sudo faultline lab up experiments/key-vault-region-outage.yaml\n"
        "  sudo ip netns exec fl-<id>-west-z1-h1 ip addr\n"
        "  sudo ip netns exec fl-<id>-ctl curl -H \"Authorization: Bearer $(sudo cat " LAB_STATE_DIR
        "/<id>/agent.token)\" http://198.19.0.10:7070/v1/health\n"
        "  sudo faultline lab down <id>\n"
        "\n"
        "%s",
        run_exit_codes);
}

static int lab_up_cmd(const char *file, bool target)
{
    struct experiment *exp = NULL;
    struct run_opts ro;
    struct run R;
    struct fl_err err = {0};
    char agent_buf[PATH_MAX], target_buf[PATH_MAX], a[64], c[64];
    const char *agent_bin, *target_bin = NULL;
    size_t i;
    int code = FL_EXIT_HARNESS;

    if (experiment_load(file, &exp, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return FL_EXIT_USAGE;
    }
    if (!exp->topology.lab) {
        fprintf(stderr, "faultline lab: %s lists staging hosts; there is no lab to build\n", file);
        experiment_free(exp);
        return FL_EXIT_USAGE;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "faultline lab: needs root (CAP_NET_ADMIN)\n");
        experiment_free(exp);
        return FL_EXIT_HARNESS;
    }
    agent_bin =
        find_bin("FAULTLINE_AGENT", "faultline-agent", "agents", agent_buf, sizeof(agent_buf));
    if (target && exp->target.kind == EXP_TARGET_REFSTORE)
        target_bin = find_bin("FAULTLINE_REFSTORE", "faultline-refstore", "targets", target_buf,
                              sizeof(target_buf));
    if (!agent_bin || (target && exp->target.kind == EXP_TARGET_REFSTORE && !target_bin)) {
        fprintf(stderr, "faultline lab: cannot find faultline-agent / faultline-refstore\n");
        experiment_free(exp);
        return FL_EXIT_HARNESS;
    }
    if (target_bin)
        setenv("FAULTLINE_REFSTORE", target_bin, 1);
    memset(&ro, 0, sizeof(ro));
    memset(&R, 0, sizeof(R));
    pthread_mutex_init(&R.mu, NULL);
    R.exp = exp;
    R.o = &ro;
    R.target_port = target_port(exp);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (lab_up(exp, NULL, true, &R.lab, &err) < 0) {
        fprintf(stderr, "faultline lab: %s\n", err.msg);
        goto out;
    }
    snprintf(R.out, sizeof(R.out), "%s", R.lab->dir);
    snprintf(R.labdir, sizeof(R.labdir), "%s", R.lab->dir);
    R.token = R.lab->token;
    R.agent_url = calloc(exp->topology.n_hosts, sizeof(*R.agent_url));
    R.agent_dead = calloc(exp->topology.n_hosts, sizeof(*R.agent_dead));
    if (!R.agent_url || !R.agent_dead)
        goto fail;
    for (i = 0; i < exp->topology.n_hosts; i++)
        snprintf(R.agent_url[i], EXP_URL_MAX, "%s", exp->topology.hosts[i].agent);
    if (lab_start_agents(R.lab, exp, agent_bin, R.lab->dir, false, &err) < 0 ||
        lab_enter_control(R.lab, &err) < 0 || agents_ready(&R, 10 * NS_S, &err) < 0)
        goto fail;
    if (target) {
        R.launcher = fl_target_find(exp->target.kind_name);
        if (R.launcher == NULL) {
            fl_errf(&err, -ENOENT, "no launcher for target kind '%s'", exp->target.kind_name);
            goto fail;
        }
        /* Left running for poking; `lab down` kills every process in the lab. */
        if (launcher_start(&R, &err) < 0)
            goto fail;
    }
    lab_leave_control(R.lab);
    printf("lab %s up in %.1f ms (%s)\n", R.lab->id, (double)R.lab->up_ns / 1e6, exp->name);
    printf("  router   %s\n  control  %s (controller 198.19.0.1, clients %s)\n", R.lab->router_ns,
           R.lab->ctl_ns, LAB_CLIENT_ADDR);
    for (i = 0; i < exp->topology.n_hosts; i++) {
        const struct exp_host *h = &exp->topology.hosts[i];

        addr_of(&h->data, a, sizeof(a));
        addr_of(&h->control, c, sizeof(c));
        printf("  host     %-36s data %-14s control %-14s agent %s", R.lab->host_ns[i], a, c,
               h->agent);
        if (target_bin)
            printf("  refstore http://%s:%d", a, R.target_port);
        printf("\n");
    }
    printf("\nfiles: %s (agent token: %s, logs: agent-*.log, target/*.log)\n", R.lab->dir,
           R.lab->token_file);
    printf("enter a host:   ip netns exec %s bash\n", R.lab->host_ns[0]);
    printf("ask an agent:   ip netns exec %s curl -H \"Authorization: Bearer $(cat %s)\" "
           "%s/v1/health\n",
           R.lab->ctl_ns, R.lab->token_file, exp->topology.hosts[0].agent);
    printf("tear it down:   faultline lab down %s\n", R.lab->id);
    code = FL_EXIT_OK;
    goto out;
fail:
    fprintf(stderr, "faultline lab: %s\n", err.msg);
    lab_leave_control(R.lab);
    lab_down(R.lab, 1000, NULL);
out:
    lab_free(R.lab);
    free(R.agent_url);
    free(R.agent_dead);
    experiment_free(exp);
    curl_global_cleanup();
    return code;
}

int cmd_lab(int argc, char **argv)
{
    struct fl_err err = {0};
    char **ids = NULL;
    size_t n = 0, i;
    int code = FL_EXIT_OK, a;
    bool target = true;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        lab_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? FL_EXIT_USAGE : FL_EXIT_OK;
    }
    if (strcmp(argv[1], "up") == 0) {
        const char *file = NULL;

        for (a = 2; a < argc; a++) {
            if (strcmp(argv[a], "--no-target") == 0)
                target = false;
            else if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
                lab_usage(stdout);
                return FL_EXIT_OK;
            } else if (argv[a][0] == '-' || file) {
                lab_usage(stderr);
                return FL_EXIT_USAGE;
            } else
                file = argv[a];
        }
        if (!file) {
            fprintf(stderr, "faultline lab up: no experiment file given\n");
            return FL_EXIT_USAGE;
        }
        return lab_up_cmd(file, target);
    }
    if (strcmp(argv[1], "down") == 0) {
        if (geteuid() != 0) {
            fprintf(stderr, "faultline lab: needs root (CAP_NET_ADMIN)\n");
            return FL_EXIT_HARNESS;
        }
        if (argc > 2) {
            for (a = 2; a < argc; a++) {
                if (lab_down_id(argv[a], &err) < 0) {
                    fprintf(stderr, "faultline lab down: %s\n", err.msg);
                    code = err.code == -EINVAL || err.code == -ENOENT ? FL_EXIT_USAGE
                                                                      : FL_EXIT_HARNESS;
                } else
                    printf("lab %s down\n", argv[a]);
            }
            return code;
        }
        lab_list(&ids, &n);
        for (i = 0; i < n; i++) {
            if (lab_down_id(ids[i], &err) < 0) {
                fprintf(stderr, "faultline lab down: %s\n", err.msg);
                code = FL_EXIT_HARNESS;
            } else
                printf("lab %s down\n", ids[i]);
            free(ids[i]);
        }
        free(ids);
        if (n == 0)
            printf("no lab is up\n");
        return code;
    }
    if (strcmp(argv[1], "list") == 0) {
        lab_list(&ids, &n);
        for (i = 0; i < n; i++) {
            char *res = lab_residue(ids[i]);

            printf("%s", ids[i]);
            if (res) {
                char *p;

                for (p = res; *p; p++)
                    if (*p == '\n')
                        *p = ' ';
                printf("  %s", res);
            }
            printf("\n");
            free(res);
            free(ids[i]);
        }
        free(ids);
        return FL_EXIT_OK;
    }
    fprintf(stderr, "faultline lab: unknown subcommand '%s' (expected up, down or list)\n",
            argv[1]);
    return FL_EXIT_USAGE;
}
