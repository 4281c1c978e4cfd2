/*
 * The agent's state and every operation that changes it: apply, renew,
 * revert, revert-all, and the lease thread that reverts a fault whose lease
 * ran out (so a dead controller never leaves a partition behind). One mutex
 * guards the injector context (not thread-safe), the lease table and the
 * metrics; the HTTP threads hold it only for the injector call itself. The
 * injector journals each fault (fsync) before touching the kernel, so the
 * lease table can stay in memory: after a crash the start-up recovery
 * reverts everything the journal names. A halt (agent_halt) reverts
 * everything under the same lock and refuses further applies until
 * agent_resume; every change is written to the audit trail under the lock,
 * so the trail's order is the order of the operations.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "faultline/buf.h"
#include "faultline/log.h"
#include "faultline/timeutil.h"

int agent_init(struct agent *a, const struct agent_config *cfg, struct inj_ctx *inj)
{
    pthread_condattr_t ca;

    memset(a, 0, sizeof(*a));
    a->cfg = cfg;
    a->inj = inj;
    a->started_ns = fl_now_ns();
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->mlock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cond, &ca);
    pthread_condattr_destroy(&ca);
    return 0;
}

void agent_fini(struct agent *a)
{
    agent_lease_stop(a);
    inj_close(a->inj);
    a->inj = NULL;
    free(a->leases);
    a->leases = NULL;
    a->n_leases = 0;
    json_decref(a->caps);
    a->caps = NULL;
    free(a->mcache[0]);
    free(a->mcache[1]);
    a->mcache[0] = a->mcache[1] = NULL;
    pthread_cond_destroy(&a->cond);
    pthread_mutex_destroy(&a->mlock);
    pthread_mutex_destroy(&a->lock);
}

static struct agent_lease *lease_find(struct agent *a, const char *id)
{
    size_t i;

    for (i = 0; i < a->n_leases; i++)
        if (strcmp(a->leases[i].id, id) == 0)
            return &a->leases[i];
    return NULL;
}

static void lease_remove(struct agent *a, struct agent_lease *l)
{
    size_t i = (size_t)(l - a->leases);

    memmove(&a->leases[i], &a->leases[i + 1], (a->n_leases - i - 1) * sizeof(*l));
    a->n_leases--;
}

static int64_t ms_to_ns(int64_t ms)
{
    return ms * 1000000LL;
}

unsigned agent_status_of(int code)
{
    switch (code) {
    case -EINVAL:
    case -ERANGE:
    case -E2BIG:
        return 400;
    case -EPERM:
    case -EACCES:
        return 403;
    case -ENOENT:
        return 404;
    case -EEXIST:
    case -ECANCELED: /* halted */
        return 409;
    case -EOPNOTSUPP:
        return 501;
    case -ENOSPC:
    case -ESHUTDOWN:
        return 503;
    default:
        return 500;
    }
}

/*
 * Write ev (r: the operation's result). For a request (ev->status set: the
 * status of a success), a failure answered with 4xx is left to the HTTP
 * layer, which records every refused request once; other failures are
 * recorded here with their status and error text.
 */
static void audit_op(struct agent *a, struct agent_audit_event *ev, int r, const struct fl_err *err)
{
    if (r < 0) {
        if (ev->status != 0) {
            ev->status = agent_status_of(r);
            if (ev->status < 500)
                return;
        }
        ev->result = err != NULL && err->msg[0] ? err->msg : strerror(-r);
    }
    agent_audit_write(a->audit, ev);
}

/* The 409 text while halted. Caller holds a->lock. */
static void halt_msg(const struct agent *a, char *msg, size_t len)
{
    char when[40];

    snprintf(msg, len, "halted since %s by %s: POST /v1/resume accepts faults again",
             agent_iso_time(a->halted_wall_ns, when, sizeof(when)), a->halted_by);
}

bool agent_halted(struct agent *a, char *msg, size_t len, int64_t *since_wall_ns)
{
    bool h;

    pthread_mutex_lock(&a->lock);
    h = a->halted;
    if (h && msg != NULL)
        halt_msg(a, msg, len);
    if (h && since_wall_ns != NULL)
        *since_wall_ns = a->halted_wall_ns;
    pthread_mutex_unlock(&a->lock);
    return h;
}

int agent_fault_apply(struct agent *a, const char *id, const struct inj_fault *f, int64_t ttl_ms,
                      const struct sockaddr *client, struct agent_apply_result *res,
                      struct fl_err *err)
{
    struct agent_audit_event ev = {.event = "apply", .id = id, .caller = client, .reverted = -1};
    char hash[AGENT_SHA256_HEX] = "", msg[FL_ERR_MAX];
    struct agent_lease *l, *nl;
    json_t *spec;
    int64_t t0, t1;
    int r;

    r = agent_policy_check(a->cfg, f, err);
    if (r == 0)
        r = agent_device_check(a->cfg, f, client, err);
    if (r < 0)
        return r;
    memset(res, 0, sizeof(*res));
    spec = inj_fault_to_json(f);
    if (spec != NULL)
        agent_spec_sha256(spec, hash);
    json_decref(spec);
    ev.kind = inj_fault_kind(f);
    ev.spec_sha256 = hash;
    ev.status = 201;
    pthread_mutex_lock(&a->lock);
    if (a->stopping) {
        r = fl_errf(err, -ESHUTDOWN, "agent is shutting down");
        goto out;
    }
    if (a->halted) {
        halt_msg(a, msg, sizeof(msg));
        r = fl_errf(err, -ECANCELED, "%s", msg);
        goto out;
    }
    l = lease_find(a, id);
    if (l == NULL && a->n_leases >= AGENT_FAULTS_MAX) {
        r = fl_errf(err, -ENOSPC, "too many active faults (%d)", AGENT_FAULTS_MAX);
        goto out;
    }
    /* Grow before applying, so that a successful apply always gets its lease. */
    if (l == NULL) {
        nl = realloc(a->leases, (a->n_leases + 1) * sizeof(*nl));
        if (nl == NULL) {
            r = fl_errf(err, -ENOMEM, "out of memory");
            goto out;
        }
        a->leases = nl;
    }
    t0 = fl_now_ns();
    r = inj_apply(a->inj, id, f, err);
    t1 = fl_now_ns();
    if (r < 0) {
        a->m.apply_failed++;
        goto out;
    }
    if (r == 1 && l != NULL) {
        /* Same id, same spec: idempotent; the repeated request renews the lease. */
        l->ttl_ms = ttl_ms;
        l->expires_ns = t1 + ms_to_ns(ttl_ms);
        res->created = 0;
        res->lease = *l;
        ev.status = 200;
        r = 0;
        pthread_cond_broadcast(&a->cond);
        goto out;
    }
    if (l == NULL)
        l = &a->leases[a->n_leases++];
    memset(l, 0, sizeof(*l));
    snprintf(l->id, sizeof(l->id), "%s", id);
    snprintf(l->kind, sizeof(l->kind), "%s", inj_fault_kind(f));
    l->ttl_ms = ttl_ms;
    l->apply_start_ns = t0;
    l->apply_end_ns = t1;
    l->expires_ns = t1 + ms_to_ns(ttl_ms);
    snprintf(l->spec_sha256, sizeof(l->spec_sha256), "%s", hash);
    res->created = r == 0;
    ev.status = r == 0 ? 201 : 200;
    res->lease = *l;
    if (r == 0) {
        a->m.applied++;
        a->m.apply_ns_sum += (uint64_t)(t1 - t0);
        a->m.apply_count++;
    }
    r = 0;
    pthread_cond_broadcast(&a->cond);
out:
    audit_op(a, &ev, r, err);
    pthread_mutex_unlock(&a->lock);
    return r;
}

int agent_fault_renew(struct agent *a, const char *id, int64_t ttl_ms,
                      const struct sockaddr *client, struct agent_lease *out, struct fl_err *err)
{
    struct agent_audit_event ev = {
        .event = "renew", .id = id, .caller = client, .status = 200, .reverted = -1};
    struct agent_lease *l;
    char msg[FL_ERR_MAX];
    int r = 0;

    pthread_mutex_lock(&a->lock);
    if (a->halted) {
        halt_msg(a, msg, sizeof(msg));
        r = fl_errf(err, -ECANCELED, "%s", msg);
        goto out;
    }
    l = lease_find(a, id);
    if (l == NULL) {
        r = fl_errf(err, -ENOENT, "no active fault '%s'", id);
        goto out;
    }
    if (ttl_ms > 0)
        l->ttl_ms = ttl_ms;
    l->expires_ns = fl_now_ns() + ms_to_ns(l->ttl_ms);
    *out = *l;
    ev.kind = out->kind;
    ev.spec_sha256 = out->spec_sha256;
    pthread_cond_broadcast(&a->cond);
out:
    audit_op(a, &ev, r, err);
    pthread_mutex_unlock(&a->lock);
    return r;
}

int agent_fault_revert(struct agent *a, const char *id, const struct sockaddr *client,
                       struct fl_err *err)
{
    struct agent_audit_event ev = {
        .event = "revert", .id = id, .caller = client, .status = 200, .reverted = -1};
    struct agent_lease *l, copy;
    int r;

    pthread_mutex_lock(&a->lock);
    l = lease_find(a, id);
    if (l == NULL && !inj_has(a->inj, id)) {
        r = fl_errf(err, -ENOENT, "no active fault '%s'", id);
        goto out;
    }
    if (l != NULL) {
        copy = *l;
        ev.kind = copy.kind;
        ev.spec_sha256 = copy.spec_sha256;
    }
    r = inj_revert(a->inj, id, err);
    if (r < 0)
        goto out; /* lease kept: the expiry retries */
    if (l != NULL)
        lease_remove(a, l);
    a->m.reverted++;
    r = 0;
    pthread_cond_broadcast(&a->cond);
out:
    audit_op(a, &ev, r, err);
    pthread_mutex_unlock(&a->lock);
    return r;
}

/* Revert every journaled fault and drop the leases. Caller holds a->lock. */
static int revert_all_locked(struct agent *a, size_t *n, struct fl_err *err)
{
    char **ids = NULL;
    size_t nids = 0, i;
    int r;

    if (inj_ids(a->inj, &ids, &nids) < 0)
        nids = 0;
    /* Nothing journaled: nothing to revert (and no call into an empty journal). */
    r = nids > 0 ? inj_revert_all(a->inj, err) : 0;
    if (r >= 0) {
        a->m.reverted += nids;
        a->n_leases = 0;
    } else {
        /* Keep the leases of whatever is still journaled, so expiry retries. */
        for (i = 0; i < a->n_leases;) {
            if (!inj_has(a->inj, a->leases[i].id))
                lease_remove(a, &a->leases[i]);
            else
                i++;
        }
    }
    pthread_cond_broadcast(&a->cond);
    for (i = 0; i < nids; i++)
        free(ids[i]);
    free(ids);
    *n = nids;
    return r < 0 ? r : 0;
}

int agent_revert_all(struct agent *a, const struct sockaddr *client, size_t *n, struct fl_err *err)
{
    struct agent_audit_event ev = {.event = "revert-all", .caller = client};
    size_t k = 0;
    int r;

    /* From the API: a request (status); from the shutdown: the agent's own act. */
    ev.status = client != NULL ? 200 : 0;
    pthread_mutex_lock(&a->lock);
    r = revert_all_locked(a, &k, err);
    ev.reverted = (long long)k;
    audit_op(a, &ev, r, err);
    pthread_mutex_unlock(&a->lock);
    if (n != NULL)
        *n = k;
    return r;
}

/* ---- halt ----------------------------------------------------------------- */

static void halt_path(const struct agent *a, char *path, size_t len, const char *suffix)
{
    snprintf(path, len, "%s/halted%s", a->cfg->state_dir, suffix);
}

/*
 * <state-dir>/halted: {"since": ISO, "since_ns": N, "by": ADDR, "reason": TEXT},
 * written to a temporary file, fsynced and renamed. Caller holds a->lock.
 */
static int halt_file_write(struct agent *a, struct fl_err *err)
{
    char path[4200], tmp[4200], when[40], *text;
    size_t len, off = 0;
    ssize_t w;
    json_t *o;
    int fd, r = 0;

    if (a->cfg == NULL || a->cfg->state_dir == NULL)
        return 0;
    halt_path(a, path, sizeof(path), "");
    halt_path(a, tmp, sizeof(tmp), ".tmp");
    o = json_pack("{s:s,s:I,s:s}", "since", agent_iso_time(a->halted_wall_ns, when, sizeof(when)),
                  "since_ns", (json_int_t)a->halted_wall_ns, "by", a->halted_by);
    if (o != NULL && a->halt_reason[0] != '\0')
        json_object_set_new(o, "reason", json_string(a->halt_reason));
    text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (text == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    len = strlen(text);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        r = -errno;
    while (r == 0 && off < len) {
        w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            r = w < 0 ? -errno : -EIO;
        else
            off += (size_t)w;
    }
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (fd >= 0 && close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    free(text);
    if (r < 0) {
        unlink(tmp);
        return fl_errf(err, r, "%s: %s", path, strerror(-r));
    }
    return 0;
}

int agent_halt(struct agent *a, const struct sockaddr *client, const char *reason, size_t *n,
               struct fl_err *err)
{
    struct agent_audit_event ev = {
        .event = "halt", .caller = client, .status = 200, .reason = reason};
    char addr[64];
    struct fl_err ferr;
    size_t k = 0;
    int r, rf;

    fl_err_clear(&ferr);
    pthread_mutex_lock(&a->lock);
    if (!a->halted) {
        /* Refuse first: from here no apply can slip in between the reverts. */
        a->halted = true;
        a->halted_wall_ns = fl_wall_ns();
        agent_addr_text(client, a->halted_by, sizeof(a->halted_by));
        snprintf(a->halt_reason, sizeof(a->halt_reason), "%s", reason ? reason : "");
    }
    /* Written again by a repeated halt: a file that was lost comes back. */
    rf = halt_file_write(a, &ferr);
    r = revert_all_locked(a, &k, err);
    if (r == 0 && rf < 0) {
        fl_errf(err, rf,
                "halted and reverted %zu fault(s), but the halt is not persisted (%s): "
                "a restart would accept faults again",
                k, ferr.msg);
        r = rf;
    }
    ev.reverted = (long long)k;
    audit_op(a, &ev, r, err);
    pthread_mutex_unlock(&a->lock);
    log_info("halt by %s%s%s: %zu fault(s) reverted%s%s",
             agent_addr_text(client, addr, sizeof(addr)), reason ? ": " : "", reason ? reason : "",
             k, r < 0 ? "; " : "", r < 0 ? err->msg : "");
    *n = k;
    return r;
}

int agent_resume(struct agent *a, const struct sockaddr *client, const char *reason,
                 struct fl_err *err)
{
    struct agent_audit_event ev = {
        .event = "resume", .caller = client, .status = 200, .reverted = -1, .reason = reason};
    char path[4200], addr[64];
    int r = 0;

    pthread_mutex_lock(&a->lock);
    if (a->cfg != NULL && a->cfg->state_dir != NULL) {
        halt_path(a, path, sizeof(path), "");
        if (unlink(path) < 0 && errno != ENOENT)
            r = fl_errf(err, -errno, "%s: %s (still halted)", path, strerror(errno));
    }
    if (r == 0)
        a->halted = false;
    audit_op(a, &ev, r, err);
    pthread_mutex_unlock(&a->lock);
    log_info("resume by %s%s%s%s", agent_addr_text(client, addr, sizeof(addr)), reason ? ": " : "",
             reason ? reason : "", r < 0 ? ": failed" : "");
    return r;
}

bool agent_halt_load(struct agent *a)
{
    char path[4200], buf[4096];
    struct stat st;
    json_t *o = NULL;
    ssize_t got;
    int fd;

    if (a->cfg == NULL || a->cfg->state_dir == NULL)
        return false;
    halt_path(a, path, sizeof(path), "");
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT)
        return false;
    /* Anything there halts: an unreadable file errs on the side of refusing faults. */
    a->halted = true;
    a->halted_wall_ns = fl_wall_ns();
    snprintf(a->halted_by, sizeof(a->halted_by), "unknown");
    if (fd >= 0 && fstat(fd, &st) == 0)
        a->halted_wall_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    got = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (got > 0)
        o = json_loadb(buf, (size_t)got, 0, NULL);
    if (json_is_integer(json_object_get(o, "since_ns")))
        a->halted_wall_ns = json_integer_value(json_object_get(o, "since_ns"));
    if (json_is_string(json_object_get(o, "by")))
        snprintf(a->halted_by, sizeof(a->halted_by), "%s",
                 json_string_value(json_object_get(o, "by")));
    if (json_is_string(json_object_get(o, "reason")))
        snprintf(a->halt_reason, sizeof(a->halt_reason), "%s",
                 json_string_value(json_object_get(o, "reason")));
    if (o == NULL)
        log_warnx("%s: unreadable; halted all the same (POST /v1/resume removes it)", path);
    json_decref(o);
    return true;
}

static void lease_json(json_t *o, const struct agent_lease *l, int64_t now)
{
    int64_t left = (l->expires_ns - now) / 1000000LL;

    json_object_set_new(o, "ttl_ms", json_integer(l->ttl_ms));
    json_object_set_new(o, "expires_in_ms", json_integer(left > 0 ? left : 0));
    json_object_set_new(o, "apply_start_ns", json_integer(l->apply_start_ns));
    json_object_set_new(o, "apply_end_ns", json_integer(l->apply_end_ns));
}

int agent_list(struct agent *a, const char *id, json_t **out, struct fl_err *err)
{
    struct agent_lease *l;
    json_t *list = NULL, *res, *e, *eid;
    int64_t now;
    size_t i;
    int r;

    res = json_array();
    if (res == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    pthread_mutex_lock(&a->lock);
    r = inj_list(a->inj, &list, err);
    now = fl_now_ns();
    if (r < 0)
        goto out;
    json_array_foreach(list, i, e)
    {
        eid = json_object_get(e, "id");
        if (!json_is_string(eid))
            continue;
        if (id != NULL && strcmp(id, json_string_value(eid)) != 0)
            continue;
        l = lease_find(a, json_string_value(eid));
        if (l != NULL)
            lease_json(e, l, now);
        json_array_append(res, e);
    }
out:
    pthread_mutex_unlock(&a->lock);
    json_decref(list);
    if (r < 0) {
        json_decref(res);
        return r;
    }
    *out = res;
    return 0;
}

size_t agent_active(struct agent *a)
{
    size_t n;

    pthread_mutex_lock(&a->lock);
    n = a->n_leases;
    pthread_mutex_unlock(&a->lock);
    return n;
}

void agent_count_status(struct agent *a, unsigned status)
{
    pthread_mutex_lock(&a->lock);
    if (status < 600)
        a->m.requests[status]++;
    pthread_mutex_unlock(&a->lock);
}

/* ---- leases --------------------------------------------------------------- */

static void *lease_main(void *arg)
{
    struct agent *a = arg;
    struct agent_lease *l;
    struct fl_err err;
    struct timespec ts;
    char id[INJ_ID_MAX + 1];
    int64_t now, next;
    size_t i;
    int r;

    pthread_mutex_lock(&a->lock);
    while (!a->stopping) {
        now = fl_now_ns();
        next = INT64_MAX;
        l = NULL;
        for (i = 0; i < a->n_leases; i++) {
            if (a->leases[i].expires_ns <= now) {
                l = &a->leases[i];
                break;
            }
            if (a->leases[i].expires_ns < next)
                next = a->leases[i].expires_ns;
        }
        if (l != NULL) {
            struct agent_lease copy = *l;
            struct agent_audit_event ev = {.event = "expire",
                                           .id = copy.id,
                                           .kind = copy.kind,
                                           .spec_sha256 = copy.spec_sha256,
                                           .reverted = -1};

            fl_err_clear(&err);
            snprintf(id, sizeof(id), "%s", l->id);
            r = inj_revert(a->inj, id, &err);
            audit_op(a, &ev, r, &err);
            if (r < 0) {
                /* Keep the lease; retry in a second rather than spin. */
                log_warnx("lease of %s expired but revert failed: %s", id, err.msg);
                l->expires_ns = now + 1000000000LL;
                continue;
            }
            log_info("lease of %s expired after %" PRId64 " ms: reverted", id, l->ttl_ms);
            lease_remove(a, l);
            a->m.expired++;
            continue;
        }
        if (next == INT64_MAX)
            next = now + 3600LL * 1000000000LL;
        ts.tv_sec = (time_t)(next / 1000000000LL);
        ts.tv_nsec = (long)(next % 1000000000LL);
        pthread_cond_timedwait(&a->cond, &a->lock, &ts);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

int agent_lease_start(struct agent *a)
{
    int r;

    r = pthread_create(&a->lease_thread, NULL, lease_main, a);
    if (r != 0)
        return -r;
    a->lease_thread_running = true;
    return 0;
}

void agent_lease_stop(struct agent *a)
{
    pthread_mutex_lock(&a->lock);
    a->stopping = true;
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->lock);
    if (a->lease_thread_running) {
        pthread_join(a->lease_thread, NULL);
        a->lease_thread_running = false;
    }
}

/* ---- metrics -------------------------------------------------------------- */

static void prom_escape(struct fl_buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\' || *s == '"')
            fl_buf_addstr(b, "\\");
        if (*s == '\n')
            fl_buf_addstr(b, "\\n");
        else
            fl_buf_add(b, s, 1);
    }
}

static void counter(struct fl_buf *b, const char *name, const char *type, const char *help,
                    uint64_t v)
{
    fl_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type, name,
                  v);
}

char *agent_metrics_text(struct agent *a, bool with_faults)
{
    struct agent_metrics m;
    json_t *list = NULL, *e, *ev;
    struct fl_buf b;
    size_t i, nactive;
    uint64_t key[6];
    bool halted;
    int64_t up, now = fl_now_ns();
    int slot = with_faults ? 1 : 0, r = -1;
    char *text;

    pthread_mutex_lock(&a->lock);
    key[0] = a->m.applied;
    key[1] = a->m.reverted;
    key[2] = a->m.expired;
    key[3] = a->n_leases;
    key[4] = a->halted;
    pthread_mutex_unlock(&a->lock);
    key[5] = agent_audit_errors(a->audit);
    /* An unauthenticated scrape must not cost a netlink dump per fault each time. */
    pthread_mutex_lock(&a->mlock);
    if (a->mcache[slot] != NULL && now - a->mcache_ns[slot] < 1000000000LL &&
        memcmp(key, a->mcache_key[slot], sizeof(key)) == 0) {
        text = strdup(a->mcache[slot]);
        pthread_mutex_unlock(&a->mlock);
        return text != NULL ? text : strdup("");
    }
    pthread_mutex_unlock(&a->mlock);

    pthread_mutex_lock(&a->lock);
    m = a->m;
    nactive = a->n_leases;
    halted = a->halted;
    if (with_faults)
        r = inj_list(a->inj, &list, NULL);
    pthread_mutex_unlock(&a->lock);
    up = fl_now_ns() - a->started_ns;

    fl_buf_init(&b, 4u << 20);
    counter(&b, "faultline_agent_faults_applied_total", "counter",
            "Faults applied through the API.", m.applied);
    counter(&b, "faultline_agent_faults_reverted_total", "counter",
            "Faults reverted by DELETE or revert-all.", m.reverted);
    counter(&b, "faultline_agent_faults_expired_total", "counter",
            "Faults reverted because their lease ran out.", m.expired);
    counter(&b, "faultline_agent_faults_apply_failed_total", "counter",
            "Apply requests the injector refused or failed.", m.apply_failed);
    counter(&b, "faultline_agent_faults_active", "gauge", "Faults applied now.", nactive);
    counter(&b, "faultline_agent_halted", "gauge",
            "1 while halted (POST /v1/halt): faults are refused until POST /v1/resume.", halted);
    counter(&b, "faultline_agent_audit_errors_total", "counter",
            "Audit trail lines lost (write or rotation failed); the operations went on.", key[5]);
    fl_buf_printf(&b,
                  "# HELP faultline_agent_apply_seconds Time inside the injector per apply.\n"
                  "# TYPE faultline_agent_apply_seconds summary\n"
                  "faultline_agent_apply_seconds_sum %.9f\n"
                  "faultline_agent_apply_seconds_count %" PRIu64 "\n",
                  (double)m.apply_ns_sum / 1e9, m.apply_count);
    fl_buf_printf(&b, "# HELP faultline_agent_fault_dropped_packets_total Packets dropped by "
                      "an active fault (its rule counters).\n"
                      "# TYPE faultline_agent_fault_dropped_packets_total counter\n");
    if (r == 0) {
        json_array_foreach(list, i, e)
        {
            ev = json_object_get(e, "evidence");
            if (!json_is_object(ev) || !json_is_string(json_object_get(e, "id")))
                continue;
            fl_buf_addstr(&b, "faultline_agent_fault_dropped_packets_total{id=\"");
            prom_escape(&b, json_string_value(json_object_get(e, "id")));
            fl_buf_addstr(&b, "\",kind=\"");
            prom_escape(&b, json_is_string(json_object_get(e, "kind"))
                                ? json_string_value(json_object_get(e, "kind"))
                                : "");
            fl_buf_printf(&b, "\"} %" JSON_INTEGER_FORMAT "\n",
                          json_integer_value(json_object_get(ev, "packets")));
        }
        fl_buf_printf(&b, "# HELP faultline_agent_fault_dropped_bytes_total Bytes dropped by "
                          "an active fault.\n"
                          "# TYPE faultline_agent_fault_dropped_bytes_total counter\n");
        json_array_foreach(list, i, e)
        {
            ev = json_object_get(e, "evidence");
            if (!json_is_object(ev) || !json_is_string(json_object_get(e, "id")))
                continue;
            fl_buf_addstr(&b, "faultline_agent_fault_dropped_bytes_total{id=\"");
            prom_escape(&b, json_string_value(json_object_get(e, "id")));
            fl_buf_printf(&b, "\"} %" JSON_INTEGER_FORMAT "\n",
                          json_integer_value(json_object_get(ev, "bytes")));
        }
    }
    json_decref(list);
    fl_buf_printf(&b, "# HELP faultline_agent_requests_total HTTP requests answered, by "
                      "status code.\n"
                      "# TYPE faultline_agent_requests_total counter\n");
    for (i = 100; i < 600; i++)
        if (m.requests[i] != 0)
            fl_buf_printf(&b, "faultline_agent_requests_total{code=\"%zu\"} %" PRIu64 "\n", i,
                          m.requests[i]);
    fl_buf_printf(&b,
                  "# HELP faultline_agent_uptime_seconds Seconds since the agent started.\n"
                  "# TYPE faultline_agent_uptime_seconds gauge\n"
                  "faultline_agent_uptime_seconds %.3f\n",
                  (double)up / 1e9);
    text = b.p != NULL ? fl_buf_take(&b) : strdup("");
    if (text != NULL) {
        pthread_mutex_lock(&a->mlock);
        free(a->mcache[slot]);
        a->mcache[slot] = strdup(text);
        a->mcache_ns[slot] = now;
        memcpy(a->mcache_key[slot], key, sizeof(key));
        pthread_mutex_unlock(&a->mlock);
    }
    return text;
}
