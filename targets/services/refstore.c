/*
 * The refstore launcher: one faultline-refstore replica per lab host, inside
 * the host's network namespace, listening on its data address, with every
 * other replica as a peer (full mesh) and the experiment's target section as
 * its configuration. Health and status are read over HTTP from inside each
 * host's namespace, so they work wherever the controller itself sits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "faultline/buf.h"
#include "faultline/err.h"
#include "faultline/http.h"
#include "faultline/optspec.h"
#include "faultline/refstore_bugs.h"
#include "faultline/refstore_limits.h"
#include "faultline/target.h"
#include "faultline/timeutil.h"
#include "svc.h"

#define RS_DEFAULT_PORT 7000 /* as the run loop and docs/refstore.md say */

struct rs_host {
    struct svc_proc proc;
    char netns[128];
    char url[160];
    char name[96];
    char pidfile[600];
    json_t *argv; /* the command line, for a process fault's restart_cmd */
};

struct rs_state {
    struct rs_host *h;
    size_t n;
    struct fl_target_endpoint *eps;
};

/* faultline-refstore next to this program, in the build tree, or on PATH. */
static int find_bin(char *out, size_t len, struct fl_err *err)
{
    const char *env = getenv("FAULTLINE_REFSTORE");
    char self[PATH_MAX], *dir;
    ssize_t n;

    if (env != NULL && access(env, X_OK) == 0) {
        snprintf(out, len, "%s", env);
        return 0;
    }
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        dir = dirname(self);
        snprintf(out, len, "%s/faultline-refstore", dir);
        if (access(out, X_OK) == 0)
            return 0;
        snprintf(out, len, "%s/../targets/faultline-refstore", dir);
        if (access(out, X_OK) == 0)
            return 0;
    }
    snprintf(out, len, "/usr/local/bin/faultline-refstore");
    if (access(out, X_OK) == 0)
        return 0;
    snprintf(out, len, "/usr/bin/faultline-refstore");
    if (access(out, X_OK) == 0)
        return 0;
    return fl_errf(err, -ENOENT,
                   "faultline-refstore not found (build it, or set FAULTLINE_REFSTORE)");
}

/* ---- HTTP GET from inside a namespace --------------------------------- */

struct get_req {
    const char *netns, *url;
    long timeout_ms;
    struct fl_buf body;
    long status;
    int rc;
};

static void *get_thread(void *arg)
{
    struct get_req *r = arg;
    char path[192];
    CURL *c;
    int fd;

    snprintf(path, sizeof(path), "/run/netns/%s", r->netns);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
        r->rc = -errno;
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    close(fd);
    c = fl_http_easy(r->url, r->timeout_ms, &r->body, NULL);
    if (c == NULL) {
        r->rc = -ENOMEM;
        return NULL;
    }
    r->rc = curl_easy_perform(c) == CURLE_OK ? 0 : -EIO;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
    return NULL;
}

/* GET url from inside netns (a thread of its own enters it). Body malloc'd into *body. */
static int ns_get(const char *netns, const char *url, long timeout_ms, char **body)
{
    struct get_req r = {.netns = netns, .url = url, .timeout_ms = timeout_ms};
    pthread_t t;

    fl_buf_init(&r.body, 1 << 20);
    if (pthread_create(&t, NULL, get_thread, &r) != 0)
        return -EAGAIN;
    pthread_join(t, NULL);
    if (r.rc == 0 && r.status != 200)
        r.rc = -EPROTO;
    if (r.rc == 0 && body != NULL)
        *body = fl_buf_take(&r.body);
    fl_buf_free(&r.body);
    return r.rc;
}

/* ---- the launcher ------------------------------------------------------- */

static void rs_stop(void *state)
{
    struct rs_state *s = state;
    size_t i;

    if (s == NULL)
        return;
    for (i = 0; i < s->n; i++) {
        svc_stop(&s->h[i].proc, 2000000000LL);
        json_decref(s->h[i].argv);
        if (s->h[i].pidfile[0])
            unlink(s->h[i].pidfile);
    }
    free(s->h);
    free(s->eps);
    free(s);
}

/* The reference service's limits (faultline/refstore_limits.h says why these). */
static int rs_check(const struct fl_target_env *env, const char **key, struct fl_err *err)
{
    const json_t *prio = json_object_get(env->config, "priority");

    if (key)
        *key = NULL;
    if (env->n_hosts > FL_REFSTORE_MAX_PEERS + 1)
        return fl_errf(err, -EINVAL,
                       "refstore: the lab has %zu hosts; the reference service serves at most "
                       "%d (every replica talks to every other one: see docs/refstore.md)",
                       env->n_hosts, FL_REFSTORE_MAX_PEERS + 1);
    if (json_array_size(prio) > FL_REFSTORE_MAX_REGIONS) {
        if (key)
            *key = "priority";
        return fl_errf(err, -EINVAL, "refstore: priority lists %zu regions, at most %d",
                       json_array_size(prio), FL_REFSTORE_MAX_REGIONS);
    }
    return 0;
}

static int rs_start(const struct fl_target_env *env, void **state, struct fl_err *err)
{
    int port = (int)svc_opt_uint(env->config, "port", RS_DEFAULT_PORT);
    char bin[PATH_MAX], *cfgtext = NULL, **argv = NULL;
    struct rs_state *s;
    json_t *cfg;
    size_t i, j, a;
    int64_t deadline;
    int r = 0;

    *state = NULL;
    if ((r = rs_check(env, NULL, err)) < 0 || (r = find_bin(bin, sizeof(bin), err)) < 0)
        return r;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    s->h = calloc(env->n_hosts, sizeof(*s->h));
    s->eps = calloc(env->n_hosts, sizeof(*s->eps));
    argv = calloc(env->n_hosts * 2 + 16, sizeof(*argv)); /* 11 fixed + 2 per peer + NULL */
    /* The config is the target section; the launcher's own keys stay out. */
    cfg = json_deep_copy(env->config);
    if (cfg != NULL) {
        json_object_del(cfg, "port");
        json_object_del(cfg, "kind");
        if (env->primary_region != NULL && json_object_get(cfg, "primary") == NULL)
            json_object_set_new(cfg, "primary", json_string(env->primary_region));
        cfgtext = json_dumps(cfg, JSON_COMPACT);
        json_decref(cfg);
    }
    if (s->h == NULL || s->eps == NULL || argv == NULL || cfgtext == NULL) {
        r = fl_errf(err, -ENOMEM, "out of memory");
        goto fail;
    }
    s->n = env->n_hosts;
    for (i = 0; i < env->n_hosts; i++) {
        const struct fl_target_host *h = &env->hosts[i];

        snprintf(s->h[i].netns, sizeof(s->h[i].netns), "%s", h->netns);
        snprintf(s->h[i].url, sizeof(s->h[i].url), "http://%s:%d", h->data_addr, port);
        snprintf(s->eps[i].region, sizeof(s->eps[i].region), "%s", h->region);
        snprintf(s->eps[i].url, sizeof(s->eps[i].url), "%s", s->h[i].url);
    }
    for (i = 0; i < env->n_hosts && r == 0; i++) {
        const struct fl_target_host *h = &env->hosts[i];
        char listen[96];
        size_t first_peer;

        snprintf(listen, sizeof(listen), "%s:%d", h->data_addr, port);
        a = 0;
        argv[a++] = bin;
        argv[a++] = (char *)"--id";
        argv[a++] = (char *)h->name;
        argv[a++] = (char *)"--region";
        argv[a++] = (char *)h->region;
        argv[a++] = (char *)"--zone";
        argv[a++] = (char *)h->zone;
        argv[a++] = (char *)"--listen";
        argv[a++] = listen;
        argv[a++] = (char *)"--config";
        argv[a++] = cfgtext;
        first_peer = a;
        for (j = 0; j < env->n_hosts; j++) {
            if (j == i)
                continue;
            argv[a++] = (char *)"--peer";
            if (asprintf(&argv[a++], "%s=%s/%s@%s", env->hosts[j].name, env->hosts[j].region,
                         env->hosts[j].zone, s->h[j].url) < 0) {
                argv[a - 1] = NULL;
                r = fl_errf(err, -ENOMEM, "out of memory");
                break;
            }
        }
        argv[a] = NULL;
        snprintf(s->h[i].proc.log, sizeof(s->h[i].proc.log), "%s/refstore-%s.log", env->run_dir,
                 h->name);
        snprintf(s->h[i].proc.what, sizeof(s->h[i].proc.what), "faultline-refstore on %s", h->name);
        snprintf(s->h[i].name, sizeof(s->h[i].name), "%s", h->name);
        s->h[i].argv = json_array();
        for (j = 0; j < a; j++)
            json_array_append_new(s->h[i].argv, json_string(argv[j]));
        if (r == 0)
            r = svc_spawn(&s->h[i].proc, h->netns, NULL, argv, NULL, err);
        if (r == 0) {
            char pid[32];

            snprintf(s->h[i].pidfile, sizeof(s->h[i].pidfile), "%s/refstore-%s.pid", env->run_dir,
                     h->name);
            snprintf(pid, sizeof(pid), "%d\n", (int)s->h[i].proc.pid);
            r = svc_write_file(s->h[i].pidfile, pid, err);
        }
        /* Every other entry from the first peer on is a malloc'd "name=...@url". */
        for (j = first_peer + 1; j < a; j += 2)
            free(argv[j]);
    }
    if (r < 0)
        goto fail;
    /* Healthy: every replica answers /v1/health within the deadline. */
    deadline = fl_now_ns() + (env->ready_timeout_ns > 0 ? env->ready_timeout_ns : 10000000000LL);
    for (i = 0; i < s->n; i++) {
        char url[200];

        snprintf(url, sizeof(url), "%s/v1/health", s->h[i].url);
        while (ns_get(s->h[i].netns, url, 300, NULL) < 0) {
            int st;

            if (!svc_alive(&s->h[i].proc, &st) || fl_now_ns() > deadline) {
                char tail[300];

                r = fl_errf(err, -ETIMEDOUT, "%s did not become healthy: %s", s->h[i].proc.what,
                            svc_log_tail(s->h[i].proc.log, tail, sizeof(tail)));
                goto fail;
            }
            svc_sleep_ns(20000000);
        }
    }
    free(argv);
    free(cfgtext);
    *state = s;
    return 0;
fail:
    free(argv);
    free(cfgtext);
    rs_stop(s);
    return r;
}

static int rs_endpoints(void *state, const struct fl_target_endpoint **eps, size_t *n)
{
    struct rs_state *s = state;

    *eps = s->eps;
    *n = s->n;
    return 0;
}

/* GET /v1/status of every replica: 0 and an array of parsed answers (NULL where none). */
static void status_all(struct rs_state *s, json_t **st)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        char url[200], *body = NULL;

        snprintf(url, sizeof(url), "%s/v1/status", s->h[i].url);
        st[i] = ns_get(s->h[i].netns, url, 1000, &body) == 0 ? json_loads(body, 0, NULL) : NULL;
        free(body);
    }
}

/*
 * Converged: every replica answers, none is read-only (failed over), every
 * one sees every peer alive with nothing pending.
 */
static int rs_settle(void *state, int64_t timeout_ns, struct fl_err *err)
{
    struct rs_state *s = state;
    int64_t deadline = fl_now_ns() + timeout_ns;
    json_t **st = calloc(s->n, sizeof(*st));
    char why[256] = "no answer";
    size_t i, k, good;
    int r = -ETIMEDOUT, ws;

    if (st == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    for (;;) {
        status_all(s, st);
        for (good = 0, i = 0; i < s->n; i++) {
            json_t *peers = json_object_get(st[i], "peers"), *p;
            bool ok = st[i] != NULL;

            /*
             * The replica we started may be gone and another answer in its
             * place (a process fault's revert restarts it): only a silent
             * host whose process died is fatal.
             */
            if (!ok && !svc_alive(&s->h[i].proc, &ws)) {
                char tail[256];

                r = fl_errf(err, -ECHILD, "%s exited: %s", s->h[i].proc.what,
                            svc_log_tail(s->h[i].proc.log, tail, sizeof(tail)));
                goto out;
            }
            if (!ok)
                snprintf(why, sizeof(why), "%s does not answer", s->h[i].name);
            if (ok && json_is_true(json_object_get(st[i], "read_only"))) {
                ok = false;
                snprintf(why, sizeof(why), "%s is still read-only", s->h[i].name);
            }
            if (ok && json_is_true(json_object_get(st[i], "converging"))) {
                ok = false; /* cosmos: catching up, or the write role still to move back */
                snprintf(why, sizeof(why), "%s is still converging", s->h[i].name);
            }
            for (k = 0; ok && k < json_array_size(peers); k++) {
                p = json_array_get(peers, k);
                if (!json_is_true(json_object_get(p, "alive")) ||
                    json_integer_value(json_object_get(p, "pending")) > 0) {
                    ok = false;
                    snprintf(why, sizeof(why), "%s: peer %s %s", s->h[i].name,
                             json_string_value(json_object_get(p, "name")),
                             json_is_true(json_object_get(p, "alive")) ? "has writes pending"
                                                                       : "not alive");
                }
            }
            good += ok;
        }
        for (i = 0; i < s->n; i++) {
            json_decref(st[i]);
            st[i] = NULL;
        }
        if (good == s->n) {
            r = 0;
            break;
        }
        if (fl_now_ns() > deadline) {
            r = fl_errf(err, -ETIMEDOUT, "did not settle in time: %s", why);
            break;
        }
        svc_sleep_ns(100000000);
    }
out:
    for (i = 0; i < s->n; i++)
        json_decref(st[i]);
    free(st);
    return r;
}

static json_t *rs_status(void *state)
{
    struct rs_state *s = state;
    json_t *hosts = json_object(), **st = calloc(s->n, sizeof(*st));
    size_t i;

    if (st == NULL)
        return NULL;
    status_all(s, st);
    for (i = 0; i < s->n; i++)
        json_object_set_new(hosts, s->h[i].name, st[i] ? st[i] : json_null());
    free(st);
    return json_pack("{s:o}", "hosts", hosts);
}

static json_t *rs_process_target(void *state, size_t host)
{
    struct rs_state *s = state;

    if (host >= s->n || !s->h[host].pidfile[0])
        return NULL;
    return json_pack("{s:s, s:O}", "pidfile", s->h[host].pidfile, "restart_cmd", s->h[host].argv);
}

/* The options of this kind under target: in an experiment file (checked by the parser). */
static const char *const refstore_presets[] = {"key-vault", "cosmos", NULL};

static const char *const replication_vals[] = {"sync", "async", NULL};

static const char *const consistency_vals[] = {"strong", "bounded",  "session",
                                               "prefix", "eventual", NULL};

static const char *const writes_vals[] = {"single", "multi", NULL};

static const struct vspec refstore_bounded[] = {
    {"versions", VT_UINT, NULL, false},
    {"time", VT_DUR, NULL, false},
    {NULL, VT_STR, NULL, false},
};

static const struct vspec refstore_opts[] = {
    {"kind", VT_STR, NULL, true},
    {"preset", VT_ENUM, refstore_presets, true},
    {"primary", VT_REGION, NULL, false},
    {"replication", VT_ENUM, replication_vals, false},
    {"lag", VT_DUR, NULL, false},
    {"failover_after", VT_DUR, NULL, false},
    {"consistency", VT_ENUM, consistency_vals, false},
    {"writes", VT_ENUM, writes_vals, false},
    {"priority", VT_REGIONLIST, NULL, false},
    {"auto_failover", VT_BOOL, NULL, false},
    {"zone_redundant", VT_BOOL, NULL, false},
    {"auto_failback", VT_BOOL, NULL, false},
    {"heartbeat", VT_DUR, NULL, false},
    {"ack_timeout", VT_DUR, NULL, false},
    {"forward_timeout", VT_DUR, NULL, false},
    {"bounded", VT_MAP, refstore_bounded, false},
    {"read_only", VT_NAMELIST, NULL, false},
    {"bugs", VT_ENUMLIST, fl_refstore_bugs, false},
    {"lose_every", VT_UINT, NULL, false},
    {"slow_factor", VT_UINT, NULL, false},
    {"port", VT_PORT, NULL, false},
    {NULL, VT_STR, NULL, false},
};

const struct fl_target_ops fl_target_refstore = {
    .kind = "refstore",
    .start = rs_start,
    .endpoints = rs_endpoints,
    .status = rs_status,
    .stop = rs_stop,
    .settle = rs_settle,
    .process_target = rs_process_target,
    .options = refstore_opts,
    .check = rs_check,
};
