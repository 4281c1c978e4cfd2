/*
 * The guards of a run (guard.h): the probes (http and prometheus, through
 * libcurl with the house's settings), the pre-fault check, the guard
 * thread that probes every guard on its own period during the workload and
 * samples the workload's per-class counters once a second for
 * workload.abort_when, the trip (a flag on the run that the scheduler
 * thread acts on: it heals, it stops the workload) and the `guard` result
 * in report.json and junit.xml. See docs/internals/run.md, "Guards".
 *
 * Threads: the guard thread writes the guards' runtime state; the main
 * thread reads it only after guards_stop() joined it. The trip's name and
 * reason are written once, under mu, before run.guard_trip is set, so the
 * scheduler that sees the flag reads a finished name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "commands.h"
#include "faultline/buf.h"
#include "faultline/http.h"
#include "faultline/timeutil.h"
#include "guard.h"
#include "run_int.h"

/* Messages are cut at their buffer's size on purpose (one line, first error wins). */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define GUARD_LAST    5         /* observations kept per guard for the report */
#define PROM_BODY_MAX (1 << 20) /* a Prometheus answer larger than this is refused */
#define ABORT_NAME    "workload.abort_when"
#define GUARD_TICK_US 20000

struct guard_rt {
    const struct exp_guard *g;
    unsigned probes, failed, consecutive; /* during the workload */
    unsigned pre_probes;                  /* during the pre-check */
    int64_t next_ns;
    struct guard_obs last[GUARD_LAST]; /* ring, oldest first from head */
    size_t nlast, head;
};

struct guards {
    struct guard_rt *rt;
    size_t n;
    pthread_t thr;
    bool started;
    atomic_int quit;
    /* abort_when: the class counters from the progress callback, the window */
    _Atomic uint64_t ok[3], total[3]; /* read, write, any */
    struct guard_window win;
    unsigned samples;
    double last_ratio, low_ratio;
    /* the trip (first wins) */
    pthread_mutex_t mu;
    bool tripped, precheck;
    char name[EXP_NAME_MAX + 32];
    char reason[512];
    int64_t tripped_ns;
};

/* ---- probes --------------------------------------------------------------- */

static void obs_fail(struct guard_obs *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void obs_fail(struct guard_obs *o, const char *fmt, ...)
{
    va_list ap;

    o->ok = false;
    va_start(ap, fmt);
    vsnprintf(o->why, sizeof(o->why), fmt, ap);
    va_end(ap);
}

/* libcurl's progress callback: a probe in flight ends when the guard thread is told to stop. */
static int stop_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    return atomic_load((atomic_int *)arg) != 0;
}

/* Perform c (stop: may end it early); false with the reason in o when no answer came. */
static bool perform(CURL *c, const char *errbuf, long timeout_ms, atomic_int *stop,
                    struct guard_obs *o)
{
    CURLcode rc;

    if (stop != NULL) {
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stop_cb);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, stop);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        return true;
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        obs_fail(o, "stopped: the run no longer needs the guard");
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        obs_fail(o, "no answer within %ld ms", timeout_ms);
    else
        obs_fail(o, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    return false;
}

static int probe_http(const struct exp_guard *g, atomic_int *stop, struct guard_obs *o)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    long timeout_ms = (long)(g->timeout_ns / 1000000), status = 0;
    CURL *c = fl_http_easy(g->url, timeout_ms, NULL, errbuf);

    if (c == NULL)
        return -ENOMEM;
    if (perform(c, errbuf, timeout_ms, stop, o)) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        o->has_value = true;
        o->value = (double)status;
        o->ok = status == g->expect;
        if (!o->ok)
            obs_fail(o, "status %ld, expected %ld", status, g->expect);
    }
    curl_easy_cleanup(c);
    return 0;
}

/* One sample ([time, "value"]) against the guard's bounds; false with the reason in o. */
static bool prom_sample(const struct exp_guard *g, json_t *pair, struct guard_obs *o)
{
    const char *s = json_string_value(json_array_get(pair, 1));
    char *end;
    double v;

    if (s == NULL)
        return obs_fail(o, "unexpected answer: a sample without a value"), false;
    v = strtod(s, &end);
    if (*end != '\0' || end == s)
        return obs_fail(o, "unexpected answer: value '%.40s' is not a number", s), false;
    o->has_value = true;
    o->value = v;
    if (isnan(v))
        return obs_fail(o, "the query's value is NaN"), false;
    if (g->has_max && v > g->max)
        return obs_fail(o, "value %g above max %g", v, g->max), false;
    if (g->has_min && v < g->min)
        return obs_fail(o, "value %g below min %g", v, g->min), false;
    return true;
}

/* The answer of /api/v1/query: every value within bounds (the first outside is reported). */
static void prom_judge(const struct exp_guard *g, long status, const struct fl_buf *body,
                       struct guard_obs *o)
{
    json_t *j = json_loadb(body->p ? body->p : "", body->len, 0, NULL);
    json_t *data = json_object_get(j, "data"), *res = json_object_get(data, "result"), *e;
    const char *type = json_string_value(json_object_get(data, "resultType"));
    const char *st = json_string_value(json_object_get(j, "status"));
    size_t i;

    if (j == NULL)
        obs_fail(o, "status %ld, not Prometheus's JSON", status);
    else if (st == NULL || strcmp(st, "success") != 0)
        obs_fail(o, "query failed (status %ld): %.200s", status,
                 json_string_value(json_object_get(j, "error")) ?: "no error text");
    else if (type != NULL && strcmp(type, "scalar") == 0)
        o->ok = prom_sample(g, res, o);
    else if (type == NULL || strcmp(type, "vector") != 0 || !json_is_array(res))
        obs_fail(o, "the query gave a %s, expected an instant vector or a scalar",
                 type ? type : "result of no type");
    else if (json_array_size(res) == 0)
        obs_fail(o, "the query returned no result (an empty vector): nothing to compare");
    else {
        o->ok = true;
        json_array_foreach(res, i, e)
        {
            if (!prom_sample(g, json_object_get(e, "value"), o)) {
                o->ok = false;
                break;
            }
        }
    }
    json_decref(j);
}

static int probe_prometheus(const struct exp_guard *g, atomic_int *stop, struct guard_obs *o)
{
    char errbuf[CURL_ERROR_SIZE] = "", *q, *url = NULL;
    long timeout_ms = (long)(g->timeout_ns / 1000000), status = 0;
    struct fl_buf body;
    CURL *c;
    int r = 0;

    fl_buf_init(&body, PROM_BODY_MAX);
    if ((c = fl_http_easy(g->url, timeout_ms, &body, errbuf)) == NULL)
        return -ENOMEM;
    q = curl_easy_escape(c, g->query, 0);
    if (q == NULL || asprintf(&url, "%s/api/v1/query?query=%s", g->url, q) < 0) {
        url = NULL;
        r = -ENOMEM;
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (perform(c, errbuf, timeout_ms, stop, o)) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        prom_judge(g, status, &body, o);
    }
out:
    curl_free(q);
    free(url);
    curl_easy_cleanup(c);
    fl_buf_free(&body);
    return r;
}

/* One probe; stop (NULL: none) ends it early. */
static int probe(const struct exp_guard *g, atomic_int *stop, struct guard_obs *o)
{
    memset(o, 0, sizeof(*o));
    o->at_ns = fl_now_ns();
    return g->kind == EXP_GUARD_HTTP ? probe_http(g, stop, o) : probe_prometheus(g, stop, o);
}

int guard_probe(const struct exp_guard *g, struct guard_obs *o)
{
    return probe(g, NULL, o);
}

/* ---- abort_when's window ------------------------------------------------- */

int guard_window_init(struct guard_window *w, unsigned for_s)
{
    memset(w, 0, sizeof(*w));
    w->len = (size_t)for_s + 1;
    w->ok = calloc(w->len, sizeof(*w->ok));
    w->total = calloc(w->len, sizeof(*w->total));
    if (!w->ok || !w->total) {
        guard_window_free(w);
        return -ENOMEM;
    }
    return 0;
}

bool guard_window_push(struct guard_window *w, uint64_t ok, uint64_t total, double below,
                       double *ratio)
{
    size_t tail = (w->head + w->n) % w->len;
    uint64_t dok, dtot;

    if (w->len == 0)
        return false;
    if (w->n == w->len) { /* full: the oldest goes */
        w->head = (w->head + 1) % w->len;
        w->n--;
        tail = (w->head + w->n) % w->len;
    }
    w->ok[tail] = ok;
    w->total[tail] = total;
    w->n++;
    if (w->n < w->len)
        return false;
    dok = ok - w->ok[w->head];
    dtot = total - w->total[w->head];
    if (dtot == 0)
        return false; /* no operation ended in the window: nothing to judge */
    *ratio = (double)dok / (double)dtot;
    return *ratio < below;
}

void guard_window_free(struct guard_window *w)
{
    free(w->ok);
    free(w->total);
    memset(w, 0, sizeof(*w));
}

/* ---- state ---------------------------------------------------------------- */

static struct guards *guards_get(struct run *R)
{
    const struct experiment *exp = R->exp;
    struct guards *G;
    size_t i;

    if (R->guards != NULL)
        return R->guards;
    G = calloc(1, sizeof(*G));
    if (G == NULL || (exp->n_guards && !(G->rt = calloc(exp->n_guards, sizeof(*G->rt))))) {
        free(G);
        return NULL;
    }
    G->n = exp->n_guards;
    for (i = 0; i < G->n; i++)
        G->rt[i].g = &exp->guards[i];
    if (exp->abort_when.enabled &&
        guard_window_init(&G->win, (unsigned)(exp->abort_when.for_ns / NS_S)) < 0) {
        free(G->rt);
        free(G);
        return NULL;
    }
    G->low_ratio = G->last_ratio = NAN;
    pthread_mutex_init(&G->mu, NULL);
    R->guards = G;
    return G;
}

void guards_free(struct run *R)
{
    struct guards *G = R->guards;

    if (G == NULL)
        return;
    guards_stop(R);
    guard_window_free(&G->win);
    pthread_mutex_destroy(&G->mu);
    free(G->rt);
    free(G);
    R->guards = NULL;
}

static void rt_record(struct guard_rt *rt, const struct guard_obs *o)
{
    if (rt->nlast == GUARD_LAST) {
        rt->head = (rt->head + 1) % GUARD_LAST;
        rt->nlast--;
    }
    rt->last[(rt->head + rt->nlast) % GUARD_LAST] = *o;
    rt->nlast++;
}

static const struct guard_obs *rt_latest(const struct guard_rt *rt)
{
    return rt->nlast ? &rt->last[(rt->head + rt->nlast - 1) % GUARD_LAST] : NULL;
}

/* Record the trip (first wins); true when this call made it. */
static bool trip(struct run *R, bool precheck, const char *name, int64_t at, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static bool trip(struct run *R, bool precheck, const char *name, int64_t at, const char *fmt, ...)
{
    struct guards *G = R->guards;
    bool first;
    va_list ap;

    pthread_mutex_lock(&G->mu);
    first = !G->tripped;
    if (first) {
        G->tripped = true;
        G->precheck = precheck;
        G->tripped_ns = at;
        snprintf(G->name, sizeof(G->name), "%s", name);
        va_start(ap, fmt);
        vsnprintf(G->reason, sizeof(G->reason), fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&G->mu);
    if (first && !precheck)
        atomic_store(&R->guard_trip, 1);
    return first;
}

const char *guards_tripped_name(struct run *R)
{
    struct guards *G = R->guards;
    const char *s;

    if (G == NULL)
        return "";
    pthread_mutex_lock(&G->mu);
    s = G->tripped ? G->name : "";
    pthread_mutex_unlock(&G->mu);
    return s;
}

/* ---- the pre-check ---------------------------------------------------------- */

static json_t *obs_json(const struct guard_obs *o, int64_t t0)
{
    json_t *j = json_pack("{s:b}", "ok", o->ok);

    if (j == NULL)
        return NULL;
    if (t0 > 0)
        json_object_set_new(j, "at_ms", json_integer((o->at_ns - t0) / NS_MS));
    if (o->has_value)
        json_object_set_new(j, "value", json_real(o->value));
    if (!o->ok)
        json_object_set_new(j, "why", json_string(o->why));
    return j;
}

static json_t *last_json(const struct guard_rt *rt, int64_t t0)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a && i < rt->nlast; i++)
        json_array_append_new(a, obs_json(&rt->last[(rt->head + i) % GUARD_LAST], t0));
    return a;
}

static const char *kind_name(const struct exp_guard *g)
{
    return g->kind == EXP_GUARD_HTTP ? "http" : "prometheus";
}

/* The pre-check's answer: steady or not, per guard. */
static json_t *precheck_json(struct guards *G, const bool *steady, bool all)
{
    json_t *a = json_array(), *o;
    size_t i;

    for (i = 0; a && i < G->n; i++) {
        const struct guard_rt *rt = &G->rt[i];
        const struct guard_obs *l = rt_latest(rt);

        o = json_pack("{s:s,s:s,s:s,s:i,s:b,s:o}", "name", rt->g->name, "kind", kind_name(rt->g),
                      "url", rt->g->url, "probes", (int)rt->pre_probes, "steady", steady[i], "last",
                      last_json(rt, 0));
        if (o && l && !l->ok)
            json_object_set_new(o, "why", json_string(l->why));
        json_array_append_new(a, o);
    }
    return json_pack("{s:b,s:o}", "steady", all, "guards", a ? a : json_array());
}

/* Probe every guard not yet decided whose time has come; true when all are decided. */
static int precheck_round(struct guards *G, bool *done, bool *steady, int64_t now)
{
    size_t i, left = 0;
    int r;

    for (i = 0; i < G->n; i++) {
        struct guard_rt *rt = &G->rt[i];
        struct guard_obs o;

        if (done[i])
            continue;
        if (now >= rt->next_ns) {
            if ((r = probe(rt->g, &run_stop, &o)) < 0)
                return r;
            if (atomic_load(&run_stop))
                return -EINTR; /* Ctrl-C or a harness error: cut short, no verdict */
            rt->pre_probes++;
            rt_record(rt, &o);
            steady[i] = o.ok;
            done[i] = o.ok || rt->pre_probes >= rt->g->failures;
            rt->next_ns = o.at_ns + rt->g->every_ns;
        }
        left += !done[i];
    }
    return left == 0;
}

int guards_check_once(struct run *R, json_t **result)
{
    struct guards *G = guards_get(R);
    bool *done = NULL, *steady = NULL, all = true;
    size_t i;
    int r = 0;

    if (result)
        *result = NULL;
    if (G == NULL || !(done = calloc(G->n + 1, 1)) || !(steady = calloc(G->n + 1, 1))) {
        free(done);
        return -ENOMEM;
    }
    for (i = 0; i < G->n; i++) {
        G->rt[i].next_ns = 0;
        G->rt[i].pre_probes = 0;
        G->rt[i].nlast = G->rt[i].head = 0;
    }
    while ((r = precheck_round(G, done, steady, fl_now_ns())) == 0) {
        if (atomic_load(&run_stop)) {
            r = -EINTR;
            break;
        }
        usleep(GUARD_TICK_US);
    }
    for (i = 0; r > 0 && i < G->n; i++) {
        const struct guard_obs *l = rt_latest(&G->rt[i]);

        if (steady[i])
            continue;
        if (all)
            trip(R, true, G->rt[i].g->name, l ? l->at_ns : 0,
                 "not steady before the first fault: %u probe%s failed, the last: %s",
                 G->rt[i].pre_probes, G->rt[i].pre_probes == 1 ? "" : "s", l ? l->why : "no probe");
        all = false;
    }
    if (r > 0 && result)
        *result = precheck_json(G, steady, all);
    free(done);
    free(steady);
    return r < 0 ? r : all ? 0 : 1;
}

int guards_phase(struct run *R)
{
    int r;

    if (R->exp->n_guards == 0 || run_stopping(R))
        return run_stopping(R) ? 1 : 0;
    progress_phase("guards");
    r = guards_check_once(R, NULL);
    if (r == -EINTR)
        return 1; /* a signal or a harness error: teardown says which */
    if (r < 0)
        return run_fail(R, FL_EXIT_HARNESS, "guards: out of memory");
    if (r == 0) {
        progress_event("guards: %zu steady before the first fault", R->exp->n_guards);
        return 0;
    }
    progress_event("guard %s: %s: no fault is applied", R->guards->name, R->guards->reason);
    if (guards_result_append(R) < 0)
        return run_fail(R, FL_EXIT_HARNESS, "guards: out of memory");
    R->verified = true;
    return run_fail(R, FL_EXIT_VERIFY, "guard %s: %s; no fault was applied", R->guards->name,
                    R->guards->reason);
}

/* ---- the guard thread ------------------------------------------------------- */

static void probe_due(struct run *R, struct guard_rt *rt, int64_t now)
{
    struct guard_obs o;

    if (now < rt->next_ns || probe(rt->g, &R->guards->quit, &o) < 0 ||
        atomic_load(&R->guards->quit))
        return; /* a probe cut short by the stop is no observation */
    rt->probes++;
    rt_record(rt, &o);
    rt->next_ns = o.at_ns + rt->g->every_ns;
    if (o.ok) {
        rt->consecutive = 0;
        return;
    }
    rt->failed++;
    if (++rt->consecutive < rt->g->failures)
        return;
    if (trip(R, false, rt->g->name, o.at_ns, "%u consecutive failed probes, the last: %s",
             rt->consecutive, o.why))
        progress_event("guard %s tripped at %.1f s (%u consecutive failed probes, the last: %s): "
                       "healing every fault, the workload stops in %lld s",
                       rt->g->name, (double)(o.at_ns - R->t0) / 1e9, rt->consecutive, o.why,
                       GUARD_DRAIN_NS / NS_S);
}

static const char *const class_names[] = {"read", "write", "any"};

/* One sample a second of the class's counters; trips when the window's ratio is too low. */
static void abort_sample(struct run *R, int64_t now)
{
    const struct exp_abort_when *a = &R->exp->abort_when;
    struct guards *G = R->guards;
    double ratio = NAN;
    bool low = guard_window_push(&G->win, atomic_load(&G->ok[a->op_class]),
                                 atomic_load(&G->total[a->op_class]), a->success_below, &ratio);

    G->samples++;
    if (!isnan(ratio)) {
        G->last_ratio = ratio;
        if (isnan(G->low_ratio) || ratio < G->low_ratio)
            G->low_ratio = ratio;
    }
    if (low &&
        trip(R, false, ABORT_NAME, now, "%s success %.3f over the last %llds, below %g",
             class_names[a->op_class], ratio, (long long)(a->for_ns / NS_S), a->success_below))
        progress_event("guard %s tripped at %.1f s (%s success %.3f over %llds < %g): healing "
                       "every fault, the workload stops in %lld s",
                       ABORT_NAME, (double)(now - R->t0) / 1e9, class_names[a->op_class], ratio,
                       (long long)(a->for_ns / NS_S), a->success_below, GUARD_DRAIN_NS / NS_S);
}

static void *guard_main(void *arg)
{
    struct run *R = arg;
    struct guards *G = R->guards;
    int64_t next_sample = R->t0, now;
    size_t i;

    while (!atomic_load(&G->quit) && !atomic_load(&R->guard_trip)) {
        now = fl_now_ns();
        for (i = 0; i < G->n && !atomic_load(&R->guard_trip) && !atomic_load(&G->quit); i++)
            probe_due(R, &G->rt[i], now);
        if (R->exp->abort_when.enabled && now >= next_sample) {
            abort_sample(R, now);
            next_sample += NS_S;
        }
        usleep(GUARD_TICK_US);
    }
    return NULL;
}

int guards_start(struct run *R)
{
    struct guards *G;
    size_t i;
    int r;

    if (R->exp->n_guards == 0 && !R->exp->abort_when.enabled)
        return 0;
    if ((G = guards_get(R)) == NULL)
        return -ENOMEM;
    for (i = 0; i < G->n; i++) {
        G->rt[i].next_ns = R->t0;
        G->rt[i].consecutive = 0;
        G->rt[i].nlast = G->rt[i].head = 0;
    }
    atomic_store(&G->quit, 0);
    if ((r = pthread_create(&G->thr, NULL, guard_main, R)) != 0)
        return -r;
    G->started = true;
    return 0;
}

void guards_stop(struct run *R)
{
    struct guards *G = R->guards;

    if (G == NULL || !G->started)
        return;
    atomic_store(&G->quit, 1);
    pthread_join(G->thr, NULL);
    G->started = false;
}

void guards_observe(struct run *R, const struct wl_stats *s)
{
    struct guards *G = R->guards;
    uint64_t ok[3], tot[3];
    int k;

    if (G == NULL || !R->exp->abort_when.enabled)
        return;
    for (k = 0; k < WL_CLASSES; k++) {
        ok[k] = s->class_ok[k];
        tot[k] = s->class_ok[k] + s->class_fail[k] + s->class_info[k];
    }
    ok[2] = ok[0] + ok[1];
    tot[2] = tot[0] + tot[1];
    for (k = 0; k < 3; k++) {
        atomic_store(&G->ok[k], ok[k]);
        atomic_store(&G->total[k], tot[k]);
    }
}

/* ---- the result ------------------------------------------------------------ */

static json_t *guard_bound(const struct exp_guard *g)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:i}", "name", g->name, "kind", kind_name(g), "url",
                          g->url, "timeout_ms", (json_int_t)(g->timeout_ns / NS_MS), "every_ms",
                          (json_int_t)(g->every_ns / NS_MS), "failures", (int)g->failures);

    if (o && g->kind == EXP_GUARD_HTTP)
        json_object_set_new(o, "expect", json_integer(g->expect));
    if (o && g->kind == EXP_GUARD_PROMETHEUS) {
        json_object_set_new(o, "query", json_string(g->query));
        if (g->has_max)
            json_object_set_new(o, "max", json_real(g->max));
        if (g->has_min)
            json_object_set_new(o, "min", json_real(g->min));
    }
    return o;
}

static json_t *ratio_json(double r)
{
    return isnan(r) ? json_null() : json_real(r);
}

/* measured and bound of the result; *probes gets how many probes and samples ran. */
static void result_json(struct run *R, json_t *measured, json_t *bound, unsigned *probes)
{
    const struct exp_abort_when *a = &R->exp->abort_when;
    struct guards *G = R->guards;
    json_t *mg = json_array(), *bg = json_array();
    size_t i;

    *probes = 0;
    for (i = 0; i < G->n; i++) {
        const struct guard_rt *rt = &G->rt[i];

        *probes += rt->probes;
        json_array_append_new(mg, json_pack("{s:s,s:i,s:i,s:i,s:o}", "name", rt->g->name,
                                            "precheck_probes", (int)rt->pre_probes, "probes",
                                            (int)rt->probes, "failed", (int)rt->failed, "last",
                                            last_json(rt, G->precheck ? 0 : R->t0)));
        json_array_append_new(bg, guard_bound(rt->g));
    }
    json_object_set_new(measured, "guards", mg);
    json_object_set_new(bound, "guards", bg);
    if (a->enabled) {
        *probes += G->samples;
        json_object_set_new(measured, "abort_when",
                            json_pack("{s:s,s:i,s:o,s:o}", "class", class_names[a->op_class],
                                      "samples", (int)G->samples, "last_ratio",
                                      ratio_json(G->last_ratio), "lowest_ratio",
                                      ratio_json(G->low_ratio)));
        json_object_set_new(bound, "abort_when",
                            json_pack("{s:s,s:f,s:I}", "class", class_names[a->op_class],
                                      "success_below", a->success_below, "for_ms",
                                      (json_int_t)(a->for_ns / NS_MS)));
    }
}

/* The result's verdict, measured trip fields and its paragraph. */
static int result_verdict(struct run *R, struct vfy_result *v, unsigned probes)
{
    struct guards *G = R->guards;
    char buf[1024];

    if (G->tripped) {
        v->status = VFY_FAIL;
        json_object_set_new(v->measured, "tripped", json_string(G->name));
        json_object_set_new(v->measured, "reason", json_string(G->reason));
        json_object_set_new(v->measured, "phase",
                            json_string(G->precheck ? "precheck" : "workload"));
        if (!G->precheck)
            json_object_set_new(v->measured, "tripped_at_ms",
                                json_integer((G->tripped_ns - R->t0) / NS_MS));
        if (G->precheck)
            snprintf(buf, sizeof(buf),
                     "Guard %s was %s: the system was not in a steady state, so no fault was "
                     "applied and the workload did not run.",
                     G->name, G->reason);
        else
            snprintf(buf, sizeof(buf),
                     "Guard %s tripped %.1f s into the workload (%s): every active fault was "
                     "healed at once, nothing more was applied and the workload stopped %lld s "
                     "later; the verifiers judged what was recorded.",
                     G->name, (double)(G->tripped_ns - R->t0) / 1e9, G->reason,
                     GUARD_DRAIN_NS / NS_S);
    } else if (probes == 0) {
        v->status = VFY_INCONCLUSIVE;
        v->reason = strdup("no guard probe ran during the workload");
        snprintf(buf, sizeof(buf), "No guard was probed during the workload: nothing to judge.");
    } else {
        v->status = VFY_PASS;
        snprintf(buf, sizeof(buf),
                 "No guard tripped: %u probes and samples during the workload, every guard "
                 "steady (fewer consecutive failures than its bound).",
                 probes);
    }
    v->pass = v->status == VFY_PASS;
    v->skipped = v->status == VFY_INCONCLUSIVE;
    v->detail = strdup(buf);
    return v->detail && (v->status != VFY_INCONCLUSIVE || v->reason) ? 0 : -ENOMEM;
}

int guards_result_append(struct run *R)
{
    struct vfy_results *rs = &R->vres;
    struct vfy_result v;
    unsigned probes;

    if (R->exp->n_guards == 0 && !R->exp->abort_when.enabled)
        return 0;
    if (guards_get(R) == NULL)
        return -ENOMEM;
    memset(&v, 0, sizeof(v));
    snprintf(v.name, sizeof(v.name), "guard");
    v.measured = json_object();
    v.bound = json_object();
    if (v.measured == NULL || v.bound == NULL)
        goto nomem;
    result_json(R, v.measured, v.bound, &probes);
    if (result_verdict(R, &v, probes) < 0)
        goto nomem;
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 8;
        struct vfy_result *n = realloc(rs->r, cap * sizeof(*n));

        if (n == NULL)
            goto nomem;
        rs->r = n;
        rs->cap = cap;
    }
    rs->r[rs->n++] = v;
    return 0;
nomem:
    vfy_result_free(&v);
    return -ENOMEM;
}
