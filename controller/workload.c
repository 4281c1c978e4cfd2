/*
 * The workload engine (see include/faultline/workload.h and
 * docs/internals/workload.md): one thread per client, each with its own
 * open-loop schedule, its own driver connection, its own routing state and
 * its own history buffer (no lock per operation; counters are relaxed
 * atomics read by the progress loop). At the end the per-client buffers are
 * merged into the caller's history and sorted by invoke time.
 *
 * The model (register or set) only changes what a request asks the driver
 * for and how its record is written; scheduling and routing are the same.
 * A cas's expected value comes from what the client itself last saw for the
 * key (a read, its own write or swap, or the value a failed comparison
 * reported), as a real read-modify-write client would do.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "faultline/err.h"
#include "faultline/timeutil.h"
#include "faultline/workload.h"

#define LATE_NS 1000000LL

/*
 * The value this client last read or wrote per key (0: absent), the
 * expected value of its next cas on that key. Open addressing on the key
 * number; only clients whose mix has a cas keep one.
 */
struct last_map {
    uint32_t *keys; /* key number + 1; 0 = empty slot */
    uint64_t *vals;
    size_t cap, n; /* cap a power of two */
};

static uint64_t *last_slot(struct last_map *m, uint32_t key, bool add)
{
    size_t i;

    if (add && (m->n + 1) * 2 > m->cap) {
        struct last_map g = {0};
        size_t cap = m->cap ? m->cap * 2 : 256, j;

        g.keys = calloc(cap, sizeof(*g.keys));
        g.vals = calloc(cap, sizeof(*g.vals));
        if (!g.keys || !g.vals) {
            free(g.keys);
            free(g.vals);
            return NULL;
        }
        g.cap = cap;
        for (j = 0; j < m->cap; j++)
            if (m->keys[j]) {
                *last_slot(&g, m->keys[j] - 1, true) = m->vals[j];
            }
        free(m->keys);
        free(m->vals);
        *m = g;
    }
    if (m->cap == 0)
        return NULL;
    for (i = (key * 0x9e3779b1u) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key + 1)
            return &m->vals[i];
        if (m->keys[i] == 0) {
            if (!add)
                return NULL;
            m->keys[i] = key + 1;
            m->n++;
            return &m->vals[i];
        }
    }
}

static uint64_t last_get(struct last_map *m, uint32_t key)
{
    uint64_t *v = last_slot(m, key, false);

    return v ? *v : 0;
}

/* Remember v for key; out of memory only makes later cas miss more often. */
static void last_set(struct last_map *m, uint32_t key, uint64_t v)
{
    uint64_t *p = last_slot(m, key, true);

    if (p)
        *p = v;
}

static void last_free(struct last_map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

struct client {
    const struct wl_config *c;
    const struct wl_group *g; /* its group (a default one when the config has none) */
    unsigned gi;              /* index within the group */
    const struct fl_driver_ops *drv;
    atomic_int *stop;
    uint32_t num;  /* history client number */
    unsigned idx;  /* 0..clients-1 */
    struct hist h; /* this client's own buffer */
    void *conn;
    uint64_t rng;
    uint64_t seq; /* unique value counter */
    int64_t start_ns, end_ns, interval_ns, offset_ns;
    uint64_t budget; /* max ops for this client */
    /* routing */
    size_t order[WL_MAX_ENDPOINTS];
    size_t norder, cur;
    bool away; /* order[cur] is outside the preferred (first) region: probe back */
    unsigned consecutive;
    int64_t moved_at_ns;
    /* results, written by the client, read by the progress loop */
    uint64_t scheduled, issued, missed, late, ok, fail, info, moves;
    uint64_t by_class[WL_CLASSES][3]; /* ok, fail, info per class */
    int64_t max_lag_ns;
    int err; /* first recording error (-ENOMEM) */
    /* op name indexes in h, by mix entry */
    int op_idx[WL_MAX_MIX];
    enum fl_op_kind op_kind[WL_MAX_MIX];
    double cum[WL_MAX_MIX];
    struct last_map last; /* cas in the mix: what this client last saw per key */
};

void wl_config_init(struct wl_config *c)
{
    memset(c, 0, sizeof(*c));
    c->clients = 1;
    c->rate = 0;
    c->duration_ns = 10LL * 1000000000LL;
    c->keys = 100;
    c->timeout_ns = 1000000000LL;
    c->routing = WL_ROUTE_PREFERRED;
    c->fail_threshold = 1;
    c->retry_preferred_ns = 1000000000LL;
}

int wl_config_add_mix(struct wl_config *c, const char *op, double weight, struct fl_err *err)
{
    if (c->nmix == WL_MAX_MIX)
        return fl_errf(err, -E2BIG, "mix: at most %d operations", WL_MAX_MIX);
    if (!op || !op[0] || strlen(op) >= WL_OP_MAX || !(weight > 0))
        return fl_errf(err, -EINVAL, "mix: '%s' needs a name and a positive weight", op ? op : "");
    snprintf(c->mix[c->nmix].op, WL_OP_MAX, "%s", op);
    c->mix[c->nmix].weight = weight;
    c->nmix++;
    return 0;
}

int wl_config_add_endpoint(struct wl_config *c, const char *region, const char *url,
                           struct fl_err *err)
{
    struct fl_endpoint *e;

    if (c->nendpoints == WL_MAX_ENDPOINTS)
        return fl_errf(err, -E2BIG, "at most %d endpoints", WL_MAX_ENDPOINTS);
    if (!region || strlen(region) >= FL_REGION_MAX || !url || !url[0] || strlen(url) >= FL_URL_MAX)
        return fl_errf(err, -EINVAL, "endpoint: bad region or url");
    e = &c->endpoints[c->nendpoints++];
    snprintf(e->region, sizeof(e->region), "%s", region);
    snprintf(e->url, sizeof(e->url), "%s", url);
    return 0;
}

int wl_config_add_group(struct wl_config *c, const struct wl_group *g, struct fl_err *err)
{
    if (c->ngroups == WL_MAX_GROUPS)
        return fl_errf(err, -E2BIG, "workload.clients: at most %d groups", WL_MAX_GROUPS);
    if (g->clients < 1 || g->rate < 0 || g->nregions > WL_MAX_REGIONS ||
        strnlen(g->name, WL_GROUP_MAX) == WL_GROUP_MAX || g->name[0] == '\0')
        return fl_errf(err, -EINVAL,
                       "workload.clients: group '%.*s' needs a name, clients and a rate",
                       WL_GROUP_MAX, g->name);
    if (c->ngroups == 0) {
        c->clients = 0;
        c->rate = 0;
    }
    c->groups[c->ngroups++] = *g;
    c->clients += g->clients;
    c->rate += g->rate;
    return 0;
}

static int check_regions(const struct wl_config *c, const char (*regions)[FL_REGION_MAX], size_t n,
                         const char *who, struct fl_err *err)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        for (j = 0; j < c->nendpoints; j++)
            if (strcmp(regions[i], c->endpoints[j].region) == 0)
                break;
        if (j == c->nendpoints)
            return fl_errf(err, -EINVAL, "%s: region '%s' has no endpoint", who, regions[i]);
    }
    return 0;
}

int wl_config_check(const struct wl_config *c, struct fl_err *err)
{
    size_t i;
    unsigned sum = 0;
    int r;

    if (c->clients < 1 || c->clients > WL_MAX_CLIENTS)
        return fl_errf(err, -EINVAL, "workload.clients: expected 1..%d", WL_MAX_CLIENTS);
    if (c->rate < 0 || c->duration_ns <= 0 || c->timeout_ns <= 0 || c->keys < 1)
        return fl_errf(err, -EINVAL, "workload: rate, duration, timeout and keys must be positive");
    if (c->nmix == 0)
        return fl_errf(err, -EINVAL, "workload.mix: at least one operation");
    if (c->nendpoints == 0)
        return fl_errf(err, -EINVAL, "workload: no endpoints");
    if (c->routing == WL_ROUTE_FIXED && c->fixed_endpoint >= c->nendpoints)
        return fl_errf(err, -EINVAL, "workload.routing: fixed endpoint out of range");
    if ((r = check_regions(c, c->regions, c->nregions, "workload.routing", err)) < 0)
        return r;
    for (i = 0; i < c->ngroups; i++) {
        const struct wl_group *g = &c->groups[i];
        char who[WL_GROUP_MAX + 32];

        snprintf(who, sizeof(who), "workload group %s", g->name);
        if ((r = check_regions(c, g->regions, g->nregions, who, err)) < 0)
            return r;
        if ((c->rate > 0) != (g->rate > 0))
            return fl_errf(err, -EINVAL,
                           "%s: every group needs a rate when the workload has one (and none "
                           "when it runs closed loop)",
                           who);
        sum += g->clients;
    }
    if (c->ngroups > 0 && sum != c->clients)
        return fl_errf(err, -EINVAL, "workload: clients (%u) is not the groups' sum (%u)",
                       c->clients, sum);
    if (c->model != WL_MODEL_REGISTER && c->model != WL_MODEL_SET)
        return fl_errf(err, -EINVAL, "workload.model: expected register or set");
    return 0;
}

int wl_config_check_mix(const struct wl_config *c, const struct fl_driver_ops *drv,
                        struct fl_err *err)
{
    size_t m;

    for (m = 0; c->model == WL_MODEL_SET && m < c->nmix; m++) {
        enum fl_op_kind k = fl_driver_kind(drv, c->mix[m].op);

        if (k == FL_OP_DELETE)
            return fl_errf(err, -EINVAL,
                           "workload.mix: '%s' deletes, which the set model cannot have (an "
                           "element must stay once acknowledged, so that data_loss can count "
                           "every missing one)",
                           c->mix[m].op);
        if (k == FL_OP_CAS)
            return fl_errf(err, -EINVAL,
                           "workload.mix: 'cas' compares one value, which the set model does "
                           "not have (use model: register)");
    }
    return 0;
}

/* splitmix64: small, fast, good enough for picking ops and keys. */
static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void sleep_until(int64_t t)
{
    struct timespec ts = {(time_t)(t / 1000000000LL), (long)(t % 1000000000LL)};

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/*
 * Endpoint order for one client: regions in preferred order (or the
 * endpoints' own order), endpoints within a region rotated by client index
 * so that clients spread over a region's replicas.
 */
static void build_order(struct client *cl)
{
    const struct wl_config *c = cl->c;
    const struct wl_group *g = cl->g;
    size_t i, j, k, n;

    cl->norder = 0;
    if (g->routing == WL_ROUTE_FIXED) {
        /* the group's first region's first endpoint; without groups, fixed_endpoint */
        for (j = 0; c->ngroups > 0 && g->nregions > 0 && j < c->nendpoints; j++)
            if (strcmp(c->endpoints[j].region, g->regions[0]) == 0) {
                cl->order[cl->norder++] = j;
                return;
            }
        cl->order[cl->norder++] = c->fixed_endpoint;
        return;
    }
    if (g->nregions == 0) {
        for (i = 0; i < c->nendpoints; i++)
            cl->order[cl->norder++] = i;
        return;
    }
    for (i = 0; i < g->nregions; i++) {
        size_t in[WL_MAX_ENDPOINTS];

        for (n = 0, j = 0; j < c->nendpoints; j++)
            if (strcmp(c->endpoints[j].region, g->regions[i]) == 0)
                in[n++] = j;
        for (k = 0; k < n; k++)
            cl->order[cl->norder++] = in[(k + cl->gi) % n];
    }
}

/* The one group of a config without groups: its clients, rate and routing. */
static void default_group(const struct wl_config *c, struct wl_group *g)
{
    size_t i;

    memset(g, 0, sizeof(*g));
    g->clients = c->clients;
    g->rate = c->rate;
    g->routing = c->routing;
    for (i = 0; i < c->nregions && i < WL_MAX_REGIONS; i++)
        memcpy(g->regions[i], c->regions[i], FL_REGION_MAX);
    g->nregions = c->nregions;
    g->netns_fd = -1;
}

/* Which endpoint this op goes to; *probe set when it tests the preferred one again. */
static size_t route_pick(struct client *cl, int64_t now, bool *probe)
{
    *probe = false;
    if (cl->away && now - cl->moved_at_ns >= cl->c->retry_preferred_ns) {
        *probe = true;
        return cl->order[0];
    }
    return cl->order[cl->cur];
}

/*
 * Move to order[cur]. Probing back happens only across regions, as SDKs do
 * with their preferred-region list: a client that moved to another replica of
 * its preferred region stays there (real clients reach a region through one
 * regional endpoint, not a pinned replica). Decided here, once per move, not
 * on every operation.
 */
static void route_move(struct client *cl, size_t cur)
{
    const struct fl_endpoint *eps = cl->c->endpoints;

    cl->cur = cur;
    cl->away = strcmp(eps[cl->order[cur]].region, eps[cl->order[0]].region) != 0;
}

static void route_result(struct client *cl, bool probe, const struct fl_op_result *r, int64_t now)
{
    unsigned thr = cl->c->fail_threshold ? cl->c->fail_threshold : 1;

    if (cl->norder < 2)
        return;
    if (probe) {
        if (!r->retryable) {
            route_move(cl, 0); /* the preferred region answers again: move back */
            cl->consecutive = 0;
            cl->moves++;
        }
        cl->moved_at_ns = now;
        return;
    }
    if (!r->retryable) {
        cl->consecutive = 0;
        return;
    }
    if (++cl->consecutive >= thr) {
        route_move(cl, (cl->cur + 1) % cl->norder);
        cl->consecutive = 0;
        cl->moved_at_ns = now;
        cl->moves++;
    }
}

static int intern_or(struct hist_strtab *t, const char *s, int fallback)
{
    int i = hist_intern(t, s);

    return i < 0 ? fallback : i;
}

/*
 * Record one finished operation in the client's own buffer: a cas with its
 * expected value and outcome, a set read with the elements it returned.
 */
static void record(struct client *cl, int op_idx, const struct fl_op_req *req, bool final,
                   int64_t t0, int64_t t1, const struct fl_op_result *r)
{
    struct hist_op o;
    int k, reg, e, rc;

    memset(&o, 0, sizeof(o));
    k = hist_intern(&cl->h.keys, req->key);
    reg = intern_or(&cl->h.regions, r->region, 0);
    e = r->error[0] ? intern_or(&cl->h.errors, r->error, 0) : 0;
    if (k < 0 || op_idx < 0 || reg > UINT16_MAX) {
        cl->err = -ENOMEM;
        return;
    }
    o.invoke_ns = t0;
    o.complete_ns = t1;
    o.value = r->value;
    o.client = cl->num;
    o.key = (uint32_t)k;
    o.op = (uint16_t)op_idx;
    o.region = (uint16_t)reg;
    o.outcome = (uint8_t)r->outcome;
    o.is_write = req->kind != FL_OP_READ;
    o.is_final = final;
    o.error = (uint32_t)e;
    if (req->set_model)
        o.flags |= HIST_F_SET;
    if (req->kind == FL_OP_CAS) {
        if (r->outcome == HIST_OK && r->swapped)
            o.flags |= HIST_F_SWAPPED;
        rc = hist_append_cas(&cl->h, &o, req->expected);
    } else if (req->set_model && req->kind == FL_OP_READ && r->outcome == HIST_OK) {
        o.value = 0;
        rc = hist_append_set_read(&cl->h, &o, r->elems, r->nelems);
    } else {
        rc = hist_append(&cl->h, &o);
    }
    if (rc < 0 && cl->err == 0)
        cl->err = rc;
}

/* What this client now knows of the key's value (the next cas's expected one). */
static void remember(struct client *cl, uint32_t key, const struct fl_op_req *req,
                     const struct fl_op_result *r)
{
    if (r->outcome != HIST_OK || cl->last.cap == 0) /* no cas in the mix: nothing to keep */
        return;
    switch (req->kind) {
    case FL_OP_READ:
        last_set(&cl->last, key, r->value);
        break;
    case FL_OP_WRITE:
        last_set(&cl->last, key, req->value);
        break;
    case FL_OP_DELETE:
        last_set(&cl->last, key, 0);
        break;
    case FL_OP_CAS:
        if (r->swapped)
            last_set(&cl->last, key, req->value);
        else if (r->current_known)
            last_set(&cl->last, key, r->current);
        break;
    }
}

static void count(struct client *cl, const struct fl_op_req *req, const struct fl_op_result *r)
{
    unsigned o = r->outcome == HIST_OK ? 0 : r->outcome == HIST_FAIL ? 1 : 2;
    uint64_t *ctr = o == 0 ? &cl->ok : o == 1 ? &cl->fail : &cl->info;
    uint64_t *cc = &cl->by_class[req->kind == FL_OP_READ ? WL_CLASS_READ : WL_CLASS_WRITE][o];

    __atomic_store_n(ctr, *ctr + 1, __ATOMIC_RELAXED);
    __atomic_store_n(cc, *cc + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&cl->issued, cl->issued + 1, __ATOMIC_RELAXED);
}

static void one_op(struct client *cl, int64_t now)
{
    const struct wl_config *c = cl->c;
    double x = (double)(rnd(&cl->rng) >> 11) / (double)(1ull << 53) * cl->cum[c->nmix - 1];
    size_t m = 0, ep;
    uint32_t kn;
    char key[32];
    struct fl_op_req req;
    struct fl_op_result res;
    int64_t t0, t1;
    bool probe;

    while (m + 1 < c->nmix && x >= cl->cum[m])
        m++;
    kn = (uint32_t)(rnd(&cl->rng) % c->keys);
    snprintf(key, sizeof(key), "k%" PRIu32, kn);
    memset(&req, 0, sizeof(req));
    req.op = c->mix[m].op;
    req.key = key;
    req.kind = cl->op_kind[m];
    req.set_model = c->model == WL_MODEL_SET;
    if (req.kind == FL_OP_WRITE || req.kind == FL_OP_CAS)
        req.value = ((uint64_t)(cl->num + 1) << 40) | (++cl->seq & ((1ull << 40) - 1));
    if (req.kind == FL_OP_CAS)
        req.expected = last_get(&cl->last, kn);
    ep = route_pick(cl, now, &probe);
    t0 = fl_now_ns();
    cl->drv->op(cl->conn, ep, &req, &res);
    t1 = fl_now_ns();
    if (!res.region[0])
        snprintf(res.region, sizeof(res.region), "%s", c->endpoints[ep].region);
    record(cl, cl->op_idx[m], &req, false, t0, t1, &res);
    remember(cl, kn, &req, &res);
    count(cl, &req, &res);
    route_result(cl, probe, &res, t1);
}

static void *client_main(void *arg)
{
    struct client *cl = arg;
    uint64_t k;

    if (cl->g->netns_fd >= 0 && setns(cl->g->netns_fd, CLONE_NEWNET) < 0) {
        cl->err = -errno;
        return NULL;
    }
    for (k = 0;; k++) {
        int64_t slot, now;

        if (cl->interval_ns > 0) {
            slot = cl->start_ns + cl->offset_ns + (int64_t)k * cl->interval_ns;
            if (slot >= cl->end_ns)
                break;
            __atomic_store_n(&cl->scheduled, cl->scheduled + 1, __ATOMIC_RELAXED);
            now = fl_now_ns();
            if (now < slot) {
                sleep_until(slot);
                now = fl_now_ns();
            }
            if (cl->stop && *cl->stop) {
                cl->missed++;
                break;
            }
            if (now >= cl->end_ns || cl->issued >= cl->budget) {
                /* this slot and every later one within the run stay unissued */
                uint64_t rem = (uint64_t)((cl->end_ns - 1 - slot) / cl->interval_ns) + 1;

                cl->scheduled += rem - 1;
                cl->missed += rem;
                break;
            }
            if (now - slot > LATE_NS)
                cl->late++;
            if (now - slot > cl->max_lag_ns)
                cl->max_lag_ns = now - slot;
        } else {
            now = fl_now_ns();
            if (now >= cl->end_ns || (cl->stop && *cl->stop) || cl->issued >= cl->budget)
                break;
            __atomic_store_n(&cl->scheduled, cl->scheduled + 1, __ATOMIC_RELAXED);
        }
        one_op(cl, now);
    }
    return NULL;
}

static void sum_stats(struct client *cls, unsigned n, int64_t elapsed, struct wl_stats *s)
{
    unsigned i, k;

    memset(s, 0, sizeof(*s));
    for (i = 0; i < n; i++) {
        struct client *cl = &cls[i];

        s->scheduled += __atomic_load_n(&cl->scheduled, __ATOMIC_RELAXED);
        s->issued += __atomic_load_n(&cl->issued, __ATOMIC_RELAXED);
        s->ok += __atomic_load_n(&cl->ok, __ATOMIC_RELAXED);
        s->fail += __atomic_load_n(&cl->fail, __ATOMIC_RELAXED);
        s->info += __atomic_load_n(&cl->info, __ATOMIC_RELAXED);
        s->missed += __atomic_load_n(&cl->missed, __ATOMIC_RELAXED);
        s->late += __atomic_load_n(&cl->late, __ATOMIC_RELAXED);
        s->region_moves += __atomic_load_n(&cl->moves, __ATOMIC_RELAXED);
        for (k = 0; k < WL_CLASSES; k++) {
            s->class_ok[k] += __atomic_load_n(&cl->by_class[k][0], __ATOMIC_RELAXED);
            s->class_fail[k] += __atomic_load_n(&cl->by_class[k][1], __ATOMIC_RELAXED);
            s->class_info[k] += __atomic_load_n(&cl->by_class[k][2], __ATOMIC_RELAXED);
        }
        if (cl->max_lag_ns > s->max_lag_ns)
            s->max_lag_ns = cl->max_lag_ns;
    }
    s->elapsed_ns = elapsed;
    if (elapsed > 0) {
        s->offered_rate = (double)s->scheduled * 1e9 / (double)elapsed;
        s->achieved_rate = (double)s->issued * 1e9 / (double)elapsed;
    }
}

/*
 * Set up client i (the gi-th of group g). A group with its own network
 * namespace opens its connection there (orig_ns: the caller's namespace, to
 * come back to), so that every socket the driver makes now lives there too.
 */
static int client_setup(struct client *cl, const struct wl_config *c,
                        const struct fl_driver_ops *drv, unsigned i, const struct wl_group *g,
                        unsigned gi, int orig_ns, struct fl_err *err)
{
    size_t m;
    int r;

    cl->c = c;
    cl->g = g;
    cl->gi = gi;
    cl->drv = drv;
    cl->idx = i;
    cl->num = c->client_base + i;
    cl->rng = (c->seed ? c->seed : 0x5eed) ^ ((uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull);
    if ((r = hist_init(&cl->h)) < 0)
        return fl_errf(err, r, "out of memory");
    for (m = 0; m < c->nmix; m++) {
        cl->op_idx[m] = hist_intern(&cl->h.op_names, c->mix[m].op);
        cl->op_kind[m] = fl_driver_kind(drv, c->mix[m].op);
        cl->cum[m] = (m ? cl->cum[m - 1] : 0) + c->mix[m].weight;
        if (cl->op_idx[m] < 0)
            return fl_errf(err, -ENOMEM, "out of memory");
        if (cl->op_kind[m] == FL_OP_CAS && cl->last.cap == 0 &&
            last_slot(&cl->last, 0, true) == NULL)
            return fl_errf(err, -ENOMEM, "out of memory");
    }
    build_order(cl);
    if (g->netns_fd < 0)
        return drv->open(c->endpoints, c->nendpoints, c->timeout_ns, &cl->conn, err);
    if (setns(g->netns_fd, CLONE_NEWNET) < 0)
        return fl_errf(err, -errno, "group %s: cannot enter its network namespace: %s", g->name,
                       strerror(errno));
    r = drv->open(c->endpoints, c->nendpoints, c->timeout_ns, &cl->conn, err);
    if (setns(orig_ns, CLONE_NEWNET) < 0 && r == 0)
        r = fl_errf(err, -errno, "cannot return to my network namespace: %s", strerror(errno));
    return r;
}

int wl_run(const struct wl_config *c, const struct fl_driver_ops *drv, struct hist *out,
           struct wl_stats *stats, atomic_int *stop, wl_progress_fn progress, void *progress_arg,
           struct fl_err *err)
{
    struct client *cls;
    pthread_t *thr;
    unsigned i, gi = 0, started = 0;
    int r = 0, orig_ns = -1;
    int64_t start, elapsed;
    struct wl_stats s;
    struct wl_group one;
    const struct wl_group *groups = c->groups;
    size_t ngroups = c->ngroups, g = 0;

    if ((r = wl_config_check(c, err)) < 0 || (r = wl_config_check_mix(c, drv, err)) < 0)
        return r;
    if (ngroups == 0) {
        default_group(c, &one);
        groups = &one;
        ngroups = 1;
    }
    for (g = 0; g < ngroups; g++)
        if (groups[g].netns_fd >= 0 && orig_ns < 0 &&
            (orig_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
            return fl_errf(err, -errno, "cannot open my network namespace: %s", strerror(errno));
    cls = calloc(c->clients, sizeof(*cls));
    thr = calloc(c->clients, sizeof(*thr));
    if (!cls || !thr) {
        r = fl_errf(err, -ENOMEM, "out of memory");
        goto out;
    }
    for (g = 0, gi = 0, i = 0; i < c->clients; i++, gi++) {
        const struct wl_group *gr;
        uint64_t budget;

        if (gi == groups[g].clients) {
            g++;
            gi = 0;
        }
        gr = &groups[g];
        if ((r = client_setup(&cls[i], c, drv, i, gr, gi, orig_ns, err)) < 0)
            goto out;
        cls[i].stop = stop;
        /* each group's share of max_ops, by its clients; or its own rate x duration */
        budget = c->max_ops ? c->max_ops / c->clients * gr->clients
                 : gr->rate > 0
                     ? (uint64_t)(gr->rate * (double)c->duration_ns / 1e9 * 1.1) + 2 * gr->clients
                     : UINT64_MAX;
        cls[i].budget = budget == UINT64_MAX ? UINT64_MAX : budget / gr->clients + 1;
    }
    start = fl_now_ns() + 10000000LL; /* every client of every group on the same schedule */
    for (i = 0; i < c->clients; i++) {
        struct client *cl = &cls[i];
        const struct wl_group *gr = cl->g;

        cl->start_ns = start;
        cl->end_ns = start + c->duration_ns;
        if (c->rate > 0 && gr->rate > 0) {
            cl->interval_ns = (int64_t)((double)gr->clients * 1e9 / gr->rate);
            if (cl->interval_ns < 1)
                cl->interval_ns = 1;
            cl->offset_ns = cl->interval_ns * cl->gi / gr->clients;
        }
        if (pthread_create(&thr[i], NULL, client_main, cl) != 0) {
            /* the clients already started run to the end of their schedule */
            r = fl_errf(err, -EAGAIN, "cannot start client thread %u", i);
            break;
        }
        started++;
    }
    if (progress || stop) {
        /* Wake often enough that a stop request (Ctrl-C, a harness error)
         * is seen within 50 ms; report progress four times a second. */
        int64_t end = start + c->duration_ns, next = start + 250000000LL, tick;

        while ((tick = fl_now_ns()) < end && !(stop && *stop)) {
            int64_t wake = tick + 50000000LL;

            sleep_until(wake < end ? wake : end);
            if (progress && fl_now_ns() >= next) {
                sum_stats(cls, started, fl_now_ns() - start, &s);
                progress(&s, progress_arg);
                next += 250000000LL;
            }
        }
    }
    for (i = 0; i < started; i++)
        pthread_join(thr[i], NULL);
    elapsed = fl_now_ns() - start;
    if (elapsed > c->duration_ns && !(stop && *stop))
        elapsed = c->duration_ns; /* rates over the offered window; stragglers only add ops */
    sum_stats(cls, started, elapsed, &s);
    if (stats)
        *stats = s;
    for (i = 0; i < started && r == 0; i++) {
        if (cls[i].err < 0 && cls[i].issued == 0 && cls[i].g->netns_fd >= 0)
            r = fl_errf(err, cls[i].err, "client %u (group %s): cannot enter its network namespace",
                        i, cls[i].g->name);
        else if (cls[i].err < 0)
            r = fl_errf(err, cls[i].err, "client %u: cannot record history", i);
        else if ((r = hist_merge(out, &cls[i].h)) < 0)
            fl_errf(err, r, "cannot merge the client histories");
        else if (cls[i].g->name[0] && (r = hist_set_group(out, cls[i].num, cls[i].g->name)) < 0)
            fl_errf(err, r, "client %u: cannot record its group", i); /* one table, in out */
    }
    if (r == 0)
        hist_sort(out);
out:
    for (i = 0; cls && i < c->clients; i++) {
        if (cls[i].conn)
            drv->close(cls[i].conn);
        hist_free(&cls[i].h);
        last_free(&cls[i].last);
    }
    free(cls);
    free(thr);
    if (orig_ns >= 0)
        close(orig_ns);
    return r;
}

int wl_final_reads(const struct wl_config *c, const struct fl_driver_ops *drv, struct hist *h,
                   struct fl_err *err)
{
    struct client cl;
    struct wl_group one;
    const char *op = c->final_read_op[0] ? c->final_read_op : NULL;
    uint8_t *written = NULL;
    size_t i, m, nkeys = h->keys.n;
    int r, op_idx;

    for (m = 0; !op && m < c->nmix; m++)
        if (!drv->is_write(c->mix[m].op) &&
            (drv->is_point_read
                 ? drv->is_point_read(c->mix[m].op)
                 : strncmp(c->mix[m].op, "get", 3) == 0 || strncmp(c->mix[m].op, "read", 4) == 0))
            op = c->mix[m].op;
    if (!op)
        return fl_errf(err, -EINVAL, "final reads: no read operation (set final_read_op)");
    if ((r = wl_config_check(c, err)) < 0)
        return r;
    written = calloc(nkeys ? nkeys : 1, 1);
    if (!written)
        return fl_errf(err, -ENOMEM, "out of memory");
    for (i = 0; i < h->n; i++)
        if (h->ops[i].is_write)
            written[h->ops[i].key] = 1;
    memset(&cl, 0, sizeof(cl));
    default_group(c, &one);
    cl.c = c;
    cl.g = &one;
    cl.drv = drv;
    cl.num = c->client_base + c->clients;
    cl.h = *h; /* record straight into h */
    build_order(&cl);
    op_idx = hist_intern(&cl.h.op_names, op);
    if (op_idx < 0 ||
        (r = drv->open(c->endpoints, c->nendpoints, c->timeout_ns, &cl.conn, err)) < 0) {
        *h = cl.h;
        free(written);
        return op_idx < 0 ? fl_errf(err, -ENOMEM, "out of memory") : r;
    }
    for (i = 1; i < nkeys && cl.err == 0; i++) {
        char key[256];
        size_t a;

        if (!written[i])
            continue;
        snprintf(key, sizeof(key), "%s", cl.h.keys.s[i]);
        for (a = 0; a < cl.norder; a++) {
            struct fl_op_req req = {
                .op = op, .key = key, .kind = FL_OP_READ, .set_model = c->model == WL_MODEL_SET};
            struct fl_op_result res;
            int64_t t0 = fl_now_ns(), t1;

            drv->op(cl.conn, cl.order[a], &req, &res);
            t1 = fl_now_ns();
            if (!res.region[0])
                snprintf(res.region, sizeof(res.region), "%s", c->endpoints[cl.order[a]].region);
            record(&cl, op_idx, &req, true, t0, t1, &res);
            if (res.outcome == HIST_OK)
                break;
        }
    }
    drv->close(cl.conn);
    *h = cl.h;
    free(written);
    if (cl.err < 0)
        return fl_errf(err, cl.err, "final reads: cannot record history");
    return 0;
}
