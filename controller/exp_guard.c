/*
 * The guards: section: stop conditions probed before the first fault (a
 * failing guard means the system is not in a steady state, so no fault is
 * applied) and during the run (a guard that trips heals every fault at
 * once). Each guard has a unique name, exactly one probe (http: a status
 * within a timeout; prometheus: an instant query's value against max or
 * min), how often it is probed (every) and how many consecutive failed
 * probes trip it (failures). The engine is controller/guard.c; see
 * docs/experiment-file.md, "guards".
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

#include "exp_int.h"

#define GUARDS_MAX        32
#define GUARD_FAILS_MAX   100
#define GUARD_EVERY_MIN   (100 * 1000000LL)     /* 100 ms */
#define GUARD_EVERY_MAX   (3600 * 1000000000LL) /* 1 h */
#define GUARD_TIMEOUT_MAX (60 * 1000000000LL)   /* 60 s */

static const char *const guard_keys[] = {"name", "http", "prometheus", "every", "failures", NULL};
static const char *const guard_required[] = {"name", NULL};
static const char *const http_keys[] = {"url", "expect", "timeout", NULL};
static const char *const http_required[] = {"url", NULL};
static const char *const prom_keys[] = {"url", "query", "max", "min", "timeout", NULL};
static const char *const prom_required[] = {"url", "query", NULL};

/*
 * An http(s) URL with a host: the probes go through libcurl, which would
 * also take file://, ftp:// and others; a guard only ever asks a service.
 */
static int get_url(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
                   char *out, size_t len)
{
    const char *s, *host;
    size_t i;
    int rc;

    if ((rc = get_str(p, v, k, path, &s)) < 0)
        return rc;
    if (strncmp(s, "http://", 7) == 0)
        host = s + 7;
    else if (strncmp(s, "https://", 8) == 0)
        host = s + 8;
    else
        return perr(p, v, k, "%s: expected an http:// or https:// URL, found '%s'", path, s);
    if (host[0] == '\0' || host[0] == '/' || host[0] == ':')
        return perr(p, v, k, "%s: the URL '%s' has no host", path, s);
    if (strlen(s) >= len)
        return perr(p, v, k, "%s: the URL is longer than %zu characters", path, len - 1);
    for (i = 0; s[i] != '\0'; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return perr(p, v, k, "%s: the URL '%s' has a space or control character", path, s);
    snprintf(out, len, "%s", s);
    return 0;
}

/* A duration in [min, max] (both > 0). */
static int get_bounded_duration(struct pctx *p, struct fy_node *v, struct fy_node *k,
                                const char *path, int64_t min, int64_t max, int64_t *out)
{
    int rc;

    if ((rc = get_duration(p, v, k, path, out)) < 0)
        return rc;
    if (*out < min || *out > max)
        return perr(p, v, k, "%s: expected a duration from %lldms to %llds", path,
                    (long long)(min / 1000000), (long long)(max / 1000000000));
    return 0;
}

/* A real number, negative allowed (a metric may be below zero). */
static int get_real(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
                    double *out)
{
    const char *s = NULL;
    char b[80], *end;

    if (v != NULL && fy_node_get_type(v) == FYNT_SCALAR && !is_null(v))
        s = fy_node_get_scalar0(v);
    if (s != NULL && (isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '.')) {
        errno = 0;
        *out = strtod(s, &end);
        if (*end == '\0' && errno == 0 && isfinite(*out))
            return 0;
    }
    return perr(p, v, k, "%s: expected a number, found %s", path, found(v, b, sizeof(b)));
}

/* The keys both probes have: url (required) and timeout. */
static int probe_common(struct pctx *p, struct fy_node *v, const char *at, struct exp_guard *g)
{
    struct fy_node *fk, *fv;
    char path[PATH_LEN];
    int rc;

    fv = map_get(v, "url", &fk);
    pathf(path, sizeof(path), "%s.url", at);
    if ((rc = get_url(p, fv, fk, path, g->url, sizeof(g->url))) < 0)
        return rc;
    fv = map_get(v, "timeout", &fk);
    pathf(path, sizeof(path), "%s.timeout", at);
    if (fk != NULL && (rc = get_bounded_duration(p, fv, fk, path, 1000000, GUARD_TIMEOUT_MAX,
                                                 &g->timeout_ns)) < 0)
        return rc;
    return 0;
}

static int parse_http(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *at,
                      struct exp_guard *g)
{
    struct fy_node *fk, *fv;
    char path[PATH_LEN];
    unsigned long long u;
    int rc;

    if ((rc = expect_map(p, v, k, at)) < 0 ||
        (rc = map_check(p, v, k, at, http_keys, http_required)) < 0)
        return rc;
    g->kind = EXP_GUARD_HTTP;
    if ((rc = probe_common(p, v, at, g)) < 0)
        return rc;
    fv = map_get(v, "expect", &fk);
    if (fk != NULL) {
        pathf(path, sizeof(path), "%s.expect", at);
        if ((rc = get_uint(p, fv, fk, path, 100, 599, &u)) < 0)
            return rc;
        g->expect = (long)u;
    }
    return 0;
}

static int parse_prometheus(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *at,
                            struct exp_guard *g)
{
    struct fy_node *fk, *fv, *xk, *nk;
    char path[PATH_LEN];
    const char *q;
    size_t n;
    int rc;

    if ((rc = expect_map(p, v, k, at)) < 0 ||
        (rc = map_check(p, v, k, at, prom_keys, prom_required)) < 0)
        return rc;
    g->kind = EXP_GUARD_PROMETHEUS;
    if ((rc = probe_common(p, v, at, g)) < 0)
        return rc;
    /* The query path is appended: a trailing slash would double it. */
    for (n = strlen(g->url); n > 0 && g->url[n - 1] == '/'; n--)
        g->url[n - 1] = '\0';
    fv = map_get(v, "query", &fk);
    pathf(path, sizeof(path), "%s.query", at);
    if ((rc = get_str(p, fv, fk, path, &q)) < 0)
        return rc;
    if (q[0] == '\0' || strlen(q) >= sizeof(g->query))
        return perr(p, fv, fk, "%s: expected a query of 1 to %zu characters", path,
                    sizeof(g->query) - 1);
    snprintf(g->query, sizeof(g->query), "%s", q);
    fv = map_get(v, "max", &xk);
    pathf(path, sizeof(path), "%s.max", at);
    if (xk != NULL && (rc = get_real(p, fv, xk, path, &g->max)) < 0)
        return rc;
    g->has_max = xk != NULL;
    fv = map_get(v, "min", &nk);
    pathf(path, sizeof(path), "%s.min", at);
    if (nk != NULL && (rc = get_real(p, fv, nk, path, &g->min)) < 0)
        return rc;
    g->has_min = nk != NULL;
    if (!g->has_max && !g->has_min)
        return perr(p, k, v,
                    "%s: give max (the guard fails when the value is above it), min (below "
                    "it), or both",
                    at);
    if (g->has_max && g->has_min && g->min > g->max)
        return perr(p, nk, NULL, "%s.min: %g is above max %g: no value could pass", at, g->min,
                    g->max);
    return 0;
}

/* The probe of guard item: exactly one of http and prometheus. */
static int parse_probe(struct pctx *p, struct fy_node *item, struct fy_node *k, const char *at,
                       struct exp_guard *g)
{
    struct fy_node *hk, *hv, *pk, *pv;
    char path[PATH_LEN];

    hv = map_get(item, "http", &hk);
    pv = map_get(item, "prometheus", &pk);
    if (hk != NULL && pk != NULL)
        return perr(p, pk, k, "%s: give http or prometheus, not both (one probe per guard)", at);
    if (hk == NULL && pk == NULL)
        return perr(p, item, k, "%s: expected a probe: http or prometheus", at);
    if (hk != NULL) {
        pathf(path, sizeof(path), "%s.http", at);
        return parse_http(p, hv, hk, path, g);
    }
    pathf(path, sizeof(path), "%s.prometheus", at);
    return parse_prometheus(p, pv, pk, path, g);
}

static int parse_guard(struct pctx *p, struct fy_node *item, struct fy_node *k, size_t i)
{
    struct exp_guard *g = &p->exp->guards[i];
    struct fy_node *fk, *fv;
    char at[PATH_LEN], path[PATH_LEN];
    unsigned long long u;
    size_t j;
    int rc;

    pathf(at, sizeof(at), "guards[%zu]", i);
    if ((rc = expect_map(p, item, k, at)) < 0 ||
        (rc = map_check(p, item, k, at, guard_keys, guard_required)) < 0)
        return rc;
    node_pos(item, &g->line, &g->column);
    g->expect = 200;
    g->timeout_ns = 1000000000LL;
    g->every_ns = 1000000000LL;
    g->failures = 1;
    fv = map_get(item, "name", &fk);
    pathf(path, sizeof(path), "%s.name", at);
    if ((rc = get_name(p, fv, fk, path, EXP_NAME_MAX, g->name)) < 0)
        return rc;
    for (j = 0; j < i; j++)
        if (strcmp(p->exp->guards[j].name, g->name) == 0)
            return perr(p, fv, fk,
                        "%s: guard '%s' is named twice (reports name the guard that "
                        "tripped)",
                        path, g->name);
    if ((rc = parse_probe(p, item, k, at, g)) < 0)
        return rc;
    fv = map_get(item, "every", &fk);
    pathf(path, sizeof(path), "%s.every", at);
    if (fk != NULL && (rc = get_bounded_duration(p, fv, fk, path, GUARD_EVERY_MIN, GUARD_EVERY_MAX,
                                                 &g->every_ns)) < 0)
        return rc;
    fv = map_get(item, "failures", &fk);
    pathf(path, sizeof(path), "%s.failures", at);
    if (fk != NULL) {
        if ((rc = get_uint(p, fv, fk, path, 1, GUARD_FAILS_MAX, &u)) < 0)
            return rc;
        g->failures = (unsigned)u;
    }
    return 0;
}

int parse_guards(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    struct fy_node *item;
    void *it = NULL;
    size_t i, n;
    int rc;

    if ((rc = expect_seq(p, v, k, "guards")) < 0)
        return rc;
    n = (size_t)fy_node_sequence_item_count(v);
    if (n > GUARDS_MAX)
        return perr(p, v, k, "guards: %zu guards; at most %d", n, GUARDS_MAX);
    if (n == 0)
        return 0;
    p->exp->guards = calloc(n, sizeof(*p->exp->guards));
    if (p->exp->guards == NULL)
        return -ENOMEM;
    for (i = 0; (item = fy_node_sequence_iterate(v, &it)) != NULL; i++) {
        if ((rc = parse_guard(p, item, k, i)) < 0)
            return rc;
        p->exp->n_guards = i + 1;
    }
    return 0;
}
