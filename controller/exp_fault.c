/*
 * The faults: section: one entry per fault, its kind (a row of the fault kind
 * table), its parameters, its scope resolved to hosts and prefixes, and when
 * it starts and how long it lasts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

#include "exp_int.h"
#include "fault_kinds.h"
#include "faultline/hint.h"
#include "faultline/timeutil.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *const fault_modes[] = {"drop", "reject", NULL};

/* The keys of one fault, long form and short form ("isolate: {region: west}") merged. */
struct fpairs {
    struct fy_node *k[MAX_KEYS], *v[MAX_KEYS];
    size_t n;
};

static struct fy_node *fp_get(const struct fpairs *fp, const char *key, struct fy_node **kn)
{
    size_t i;

    *kn = NULL;
    for (i = 0; i < fp->n; i++) {
        if (strcmp(key_text(fp->k[i]), key) == 0) {
            *kn = fp->k[i];
            return fp->v[i];
        }
    }
    return NULL;
}

static int fp_add(struct pctx *p, struct fpairs *fp, struct fy_node *k, struct fy_node *v,
                  const char *path)
{
    struct fy_node *dup;

    if (k == NULL || fy_node_get_type(k) != FYNT_SCALAR)
        return perr(p, k, v, "%s: keys must be plain words", path);
    if (fp_get(fp, key_text(k), &dup), dup != NULL)
        return perr(p, k, NULL, "%s: key '%s' given twice", path, key_text(k));
    if (fp->n >= MAX_KEYS)
        return perr(p, k, NULL, "%s: too many keys", path);
    fp->k[fp->n] = k;
    fp->v[fp->n++] = v;
    return 0;
}

/*
 * Resolve a name or a list of names (of type t) into set. guard: refuse
 * anything that reaches into the control network. others: sets a new member
 * must not overlap (the other groups of a partition).
 */
static int parse_members(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
                         enum rtype t, bool guard, struct exp_set *set,
                         const struct exp_set *others, size_t n_others)
{
    const struct exp_topology *tp = &p->exp->topology;
    struct fy_node *item, *one[2] = {v, NULL};
    bool list = v != NULL && fy_node_get_type(v) == FYNT_SEQUENCE;
    void *it = NULL;
    size_t i, j, g;
    char b[80];
    int rc;

    if (!list && (v == NULL || fy_node_get_type(v) != FYNT_SCALAR || is_null(v)))
        return perr(p, v, k, "%s: expected a name or a list of names, found %s", path,
                    found(v, b, sizeof(b)));
    if (list && fy_node_sequence_item_count(v) == 0)
        return perr(p, v, k, "%s: expected at least one name", path);
    for (i = 0; (item = list ? fy_node_sequence_iterate(v, &it) : one[i]) != NULL; i++) {
        char ip[PATH_LEN], c1[64], c2[64];
        struct fl_err e = {0};
        size_t before = set->n_cidrs;
        const char *s;

        if (list)
            pathf(ip, sizeof(ip), "%s[%zu]", path, i);
        else
            pathf(ip, sizeof(ip), "%s", path);
        if ((rc = get_str(p, item, k, ip, &s)) < 0)
            return rc;
        if ((rc = resolve_name(p->exp, t, s, set, &e)) < 0)
            return rc == -ENOMEM ? rc : perr(p, item, k, "%s: %s", ip, e.msg);
        for (j = before; j < set->n_cidrs; j++) {
            if (guard && fl_cidr_overlaps(&set->cidrs[j], &tp->control))
                return perr(p, item, k,
                            "%s: '%s' would cut the control network %s; the controller must "
                            "always reach the agents",
                            ip, s, fl_cidr_format(&tp->control, c1, sizeof(c1)));
            for (g = 0; g < n_others; g++) {
                size_t m;

                for (m = 0; m < others[g].n_cidrs; m++)
                    if (fl_cidr_overlaps(&set->cidrs[j], &others[g].cidrs[m]))
                        return perr(p, item, k,
                                    "%s: '%s' overlaps group %zu (%s at %s); a host can be in "
                                    "one group only",
                                    ip, s, g, others[g].text,
                                    fl_cidr_format(&others[g].cidrs[m], c2, sizeof(c2)));
            }
        }
    }
    return 0;
}

static int parse_groups(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
                        struct exp_fault *f)
{
    struct fy_node *item;
    void *it = NULL;
    size_t i, n;
    int rc;

    if ((rc = expect_seq(p, v, k, path)) < 0)
        return rc;
    n = (size_t)fy_node_sequence_item_count(v);
    if (n < 2)
        return perr(p, v, k, "%s: a partition needs at least two groups, found %zu", path, n);
    f->groups = calloc(n, sizeof(*f->groups));
    if (f->groups == NULL)
        return -ENOMEM;
    for (i = 0; (item = fy_node_sequence_iterate(v, &it)) != NULL; i++) {
        char gp[PATH_LEN];

        pathf(gp, sizeof(gp), "%s[%zu]", path, i);
        f->n_groups = i + 1;
        if ((rc = parse_members(p, item, k, gp, R_ANY, true, &f->groups[i], f->groups, i)) < 0)
            return rc;
    }
    return 0;
}

/* One parameter of a fault, checked by its type (fault_param_type()), as JSON in *out. */
static int fault_param(struct pctx *p, struct fy_node *k, struct fy_node *v, const char *kp,
                       enum fault_param type, json_t **out)
{
    const char *s;
    unsigned long long u;
    int64_t ns;
    double d;
    int rc, idx;

    switch (type) {
    case FP_PERCENT:
        if ((rc = get_number(p, v, k, kp, 0, 100, true, &d)) < 0)
            return rc;
        *out = json_real(d);
        break;
    case FP_DURATION:
        if ((rc = get_duration(p, v, k, kp, &ns)) < 0)
            return rc;
        if (ns <= 0)
            return perr(p, v, k, "%s: must be longer than 0s", kp);
        *out = json_integer(ns / 1000000);
        break;
    case FP_KBIT:
        if ((rc = get_uint(p, v, k, kp, 1, 100000000, &u)) < 0)
            return rc;
        *out = json_integer((json_int_t)u);
        break;
    case FP_DEV:
        if ((rc = get_str(p, v, k, kp, &s)) < 0)
            return rc;
        if (!name_ok(s, 16, true))
            return perr(p, v, k, "%s: bad interface name '%s' (at most 15 characters)", kp, s);
        *out = json_string(s);
        break;
    case FP_ACTION:
        if ((rc = get_enum(p, v, k, kp, fault_process_actions, &idx)) < 0)
            return rc;
        *out = json_string(fault_process_actions[idx]);
        break;
    case FP_STRING:
        if ((rc = get_str(p, v, k, kp, &s)) < 0)
            return rc;
        *out = json_string(s);
        break;
    case FP_NONE:
        break;
    }
    return 0;
}

static int fault_params(struct pctx *p, const struct fpairs *fp, const char *path,
                        struct exp_fault *f)
{
    size_t i;
    int rc;

    f->params = json_object();
    if (f->params == NULL)
        return -ENOMEM;
    for (i = 0; i < fp->n; i++) {
        const char *key = key_text(fp->k[i]);
        enum fault_param type = fault_param_type(key);
        char kp[PATH_LEN];
        json_t *j = NULL;

        if (type == FP_NONE)
            continue; /* scope, timing, mode, groups: handled by the caller */
        pathf(kp, sizeof(kp), "%s.%s", path, key);
        if ((rc = fault_param(p, fp->k[i], fp->v[i], kp, type, &j)) < 0)
            return rc;
        if (j == NULL || json_object_set_new(f->params, key, j) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* Find the kind: "kind: x", or a key named after a kind holding a mapping (short form). */
static int fault_kind(struct pctx *p, struct fy_node *fv, const char *path, struct fpairs *fp,
                      int *kind)
{
    struct fy_node *kk = NULL, *kv = NULL, *sk = NULL, *sv = NULL;
    struct fy_node_pair *pair;
    void *it = NULL;
    char list[256];
    size_t i;
    int rc;

    while ((pair = fy_node_mapping_iterate(fv, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(pair), *v = fy_node_pair_value(pair);
        const char *name = key_text(k);

        if (strcmp(name, "kind") == 0) {
            kk = k;
            kv = v;
        } else if (in_list(name, experiment_fault_kind_names()) && v != NULL &&
                   fy_node_get_type(v) == FYNT_MAPPING) {
            if (sk != NULL)
                return perr(p, k, NULL,
                            "%s: two fault kinds ('%s' and '%s'); write one fault per list item",
                            path, key_text(sk), name);
            sk = k;
            sv = v;
        } else if ((rc = fp_add(p, fp, k, v, path)) < 0) {
            return rc;
        }
    }
    if (kk != NULL && sk != NULL)
        return perr(p, sk, NULL, "%s: both 'kind: %s' and '%s:' given; use one form", path,
                    key_text(kv), key_text(sk));
    if (kk != NULL) {
        const char *s, *near;
        char kp[PATH_LEN];

        pathf(kp, sizeof(kp), "%s.kind", path);
        if ((rc = get_str(p, kv, kk, kp, &s)) < 0)
            return rc;
        for (i = 0; experiment_fault_kind_names()[i] != NULL; i++) {
            if (strcmp(s, experiment_fault_kind_names()[i]) == 0) {
                *kind = (int)i;
                return 0;
            }
        }
        near = fl_hint_nearest(s, experiment_fault_kind_names());
        if (near != NULL)
            return perr(p, kv, kk, "%s: unknown fault kind '%s' (did you mean '%s'?)", kp, s, near);
        return perr(p, kv, kk, "%s: unknown fault kind '%s'; expected one of: %s", kp, s,
                    joined(experiment_fault_kind_names(), list, sizeof(list)));
    }
    if (sk != NULL) {
        it = NULL;
        for (i = 0; experiment_fault_kind_names()[i] != NULL; i++)
            if (strcmp(key_text(sk), experiment_fault_kind_names()[i]) == 0)
                *kind = (int)i;
        while ((pair = fy_node_mapping_iterate(sv, &it)) != NULL)
            if ((rc = fp_add(p, fp, fy_node_pair_key(pair), fy_node_pair_value(pair), path)) < 0)
                return rc;
        return 0;
    }
    for (i = 0; i < fp->n; i++) {
        const char *name = key_text(fp->k[i]), *near;

        if (strcmp(name, "at") == 0 || strcmp(name, "for") == 0)
            continue;
        if ((near = fl_hint_nearest(name, experiment_fault_kind_names())) != NULL)
            return perr(p, fp->k[i], NULL, "%s: unknown fault kind '%s' (did you mean '%s'?)", path,
                        name, near);
        if (fl_hint_nearest(name, L("kind")) != NULL)
            return perr(p, fp->k[i], NULL, "unknown key '%s' in %s (did you mean 'kind'?)", name,
                        path);
    }
    return perr(p, fv, NULL, "%s: missing 'kind' (one of: %s)", path,
                joined(experiment_fault_kind_names(), list, sizeof(list)));
}

/* The keys of fault f: known to its kind (else "did you mean"), and the required ones there. */
static int fault_keys(struct pctx *p, struct fy_node *fv, const char *path, const struct fpairs *fp,
                      const struct exp_fault *f)
{
    const struct fault_kind *ks = fault_kind_get(f->kind);
    const char *allowed[MAX_KEYS + 1];
    struct fy_node *k;
    char list[512];
    size_t i, na = 0;

    allowed[na++] = "at";
    allowed[na++] = "for";
    allowed[na++] = "capture";
    if (ks->flags & FK_MODE)
        allowed[na++] = "mode";
    if (ks->flags & FK_SCOPE) {
        allowed[na++] = "region";
        allowed[na++] = "zone";
        allowed[na++] = "host";
    }
    for (i = 0; ks->keys[i] != NULL && na < MAX_KEYS; i++)
        allowed[na++] = ks->keys[i];
    allowed[na] = NULL;
    for (i = 0; i < fp->n; i++) {
        const char *name = key_text(fp->k[i]), *near;

        if (in_list(name, allowed))
            continue;
        near = fl_hint_nearest(name, allowed);
        if (near != NULL)
            return perr(p, fp->k[i], NULL, "unknown key '%s' in %s (did you mean '%s'?)", name,
                        path, near);
        return perr(p, fp->k[i], NULL, "unknown key '%s' in %s; a %s fault takes: %s", name, path,
                    ks->name, joined(allowed, list, sizeof(list)));
    }
    if (fp_get(fp, "at", &k), k == NULL)
        return perr(p, fv, NULL, "%s: missing required key 'at' (when the fault starts)", path);
    for (i = 0; ks->required[i] != NULL; i++)
        if (fp_get(fp, ks->required[i], &k), k == NULL)
            return perr(p, fv, NULL, "%s: missing required key '%s' for a %s fault", path,
                        ks->required[i], ks->name);
    return 0;
}

/* When: at, and for (default: until the workload ends), both inside the workload. */
static int fault_when(struct pctx *p, const char *path, const struct fpairs *fp,
                      struct exp_fault *f)
{
    const struct exp_workload *w = &p->exp->workload;
    char sub[PATH_LEN], a[32], b[32], e[32], d[32];
    struct fy_node *k, *v = fp_get(fp, "at", &k);
    int rc;

    pathf(sub, sizeof(sub), "%s.at", path);
    if ((rc = get_duration(p, v, k, sub, &f->at_ns)) < 0)
        return rc;
    if (f->at_ns >= w->duration_ns)
        return perr(p, v, k, "%s: %s is at or past the end of the workload (workload.duration %s)",
                    sub, fl_duration_format(f->at_ns, a, sizeof(a)),
                    fl_duration_format(w->duration_ns, d, sizeof(d)));
    v = fp_get(fp, "for", &k);
    pathf(sub, sizeof(sub), "%s.for", path);
    if (k == NULL) {
        f->until_end = true;
        f->for_ns = w->duration_ns - f->at_ns;
        return 0;
    }
    if ((rc = get_duration(p, v, k, sub, &f->for_ns)) < 0)
        return rc;
    if (f->for_ns <= 0)
        return perr(p, v, k, "%s: must be longer than 0s", sub);
    if (f->at_ns + f->for_ns > w->duration_ns)
        return perr(p, v, k,
                    "%s: the fault would end at %s (at %s + for %s), past the end of the "
                    "workload (workload.duration %s)",
                    sub, fl_duration_format(f->at_ns + f->for_ns, e, sizeof(e)),
                    fl_duration_format(f->at_ns, a, sizeof(a)),
                    fl_duration_format(f->for_ns, b, sizeof(b)),
                    fl_duration_format(w->duration_ns, d, sizeof(d)));
    return 0;
}

/* How: mode (drop, the default, or reject). */
static int fault_mode(struct pctx *p, const char *path, const struct fpairs *fp,
                      struct exp_fault *f)
{
    struct fy_node *k, *v = fp_get(fp, "mode", &k);
    char sub[PATH_LEN];
    int rc, mode;

    f->mode = EXP_MODE_DROP;
    if (k == NULL)
        return 0;
    pathf(sub, sizeof(sub), "%s.mode", path);
    if ((rc = get_enum(p, v, k, sub, fault_modes, &mode)) < 0)
        return rc;
    f->mode = mode == 0 ? EXP_MODE_DROP : EXP_MODE_REJECT;
    return 0;
}

/* The scope: exactly one of region, zone, host. */
static int fault_scope(struct pctx *p, struct fy_node *fv, const char *path,
                       const struct fpairs *fp, struct exp_fault *f, bool guard)
{
    static const char *const scopes[] = {"region", "zone", "host"};
    static const enum rtype types[] = {R_REGION, R_ZONE, R_HOST};
    struct fy_node *sk = NULL, *sv = NULL, *k, *v;
    char sub[PATH_LEN];
    int which = -1;
    size_t i;

    for (i = 0; i < 3; i++) {
        v = fp_get(fp, scopes[i], &k);
        if (k == NULL)
            continue;
        if (sk != NULL)
            return perr(p, k, NULL, "%s: give one scope, found both '%s' and '%s'", path,
                        scopes[which], scopes[i]);
        sk = k;
        sv = v;
        which = (int)i;
    }
    if (sk == NULL)
        return perr(p, fv, NULL, "%s: %s needs a scope: region, zone or host", path,
                    experiment_fault_kind_name(f->kind));
    pathf(sub, sizeof(sub), "%s.%s", path, scopes[which]);
    return parse_members(p, sv, sk, sub, types[which], guard, &f->scope, NULL, 0);
}

/* Where: the scope, partition groups, from/to ends, blackhole destinations (by the kind's row). */
static int fault_where(struct pctx *p, struct fy_node *fv, const char *path,
                       const struct fpairs *fp, struct exp_fault *f)
{
    unsigned flags = fault_kind_get(f->kind)->flags;
    struct fy_node *k, *v;
    char sub[PATH_LEN];
    int rc;

    if ((flags & FK_SCOPE) && (rc = fault_scope(p, fv, path, fp, f, (flags & FK_GUARD) != 0)) < 0)
        return rc;
    if (flags & FK_GROUPS) {
        v = fp_get(fp, "groups", &k);
        pathf(sub, sizeof(sub), "%s.groups", path);
        if ((rc = parse_groups(p, v, k, sub, f)) < 0)
            return rc;
    }
    if (flags & FK_ENDS) {
        v = fp_get(fp, "from", &k);
        pathf(sub, sizeof(sub), "%s.from", path);
        if ((rc = parse_members(p, v, k, sub, R_ANY, true, &f->from, NULL, 0)) < 0)
            return rc;
    }
    if (flags & (FK_ENDS | FK_TO)) {
        v = fp_get(fp, "to", &k);
        pathf(sub, sizeof(sub), "%s.to", path);
        if ((rc = parse_members(p, v, k, sub, R_ANY, true, &f->to,
                                (flags & FK_ENDS) ? &f->from : NULL, (flags & FK_ENDS) ? 1 : 0)) <
            0)
            return rc;
    }
    return 0;
}

/* capture: true: a pcap per host of the fault's interval (evidence for the report). */
static int fault_capture(struct pctx *p, const char *path, const struct fpairs *fp,
                         struct exp_fault *f)
{
    struct fy_node *k, *v = fp_get(fp, "capture", &k);
    char sub[PATH_LEN];

    if (k == NULL)
        return 0;
    pathf(sub, sizeof(sub), "%s.capture", path);
    return get_bool(p, v, k, sub, &f->capture);
}

static int parse_fault(struct pctx *p, struct fy_node *fv, size_t idx, struct exp_fault *f)
{
    struct fpairs fp = {.n = 0};
    char path[PATH_LEN];
    int rc, kind = -1;

    pathf(path, sizeof(path), "faults[%zu]", idx);
    snprintf(f->id, sizeof(f->id), "f%zu", idx + 1);
    node_pos(fv, &f->line, &f->column);
    if ((rc = expect_map(p, fv, NULL, path)) < 0 || (rc = fault_kind(p, fv, path, &fp, &kind)) < 0)
        return rc;
    f->kind = (enum exp_fault_kind)kind;
    if ((rc = fault_keys(p, fv, path, &fp, f)) < 0 || (rc = fault_when(p, path, &fp, f)) < 0 ||
        (rc = fault_capture(p, path, &fp, f)) < 0 || (rc = fault_mode(p, path, &fp, f)) < 0 ||
        (rc = fault_where(p, fv, path, &fp, f)) < 0)
        return rc;
    return fault_params(p, &fp, path, f);
}

int parse_faults(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    struct experiment *exp = p->exp;
    struct fy_node *item;
    void *it = NULL;
    size_t i;
    int rc;

    if (is_null(v))
        return 0; /* "faults:" with nothing: a baseline run */
    if ((rc = expect_seq(p, v, k, "faults")) < 0)
        return rc;
    exp->faults = calloc((size_t)fy_node_sequence_item_count(v) + 1, sizeof(*exp->faults));
    if (exp->faults == NULL)
        return -ENOMEM;
    for (i = 0; (item = fy_node_sequence_iterate(v, &it)) != NULL; i++) {
        exp->n_faults = i + 1;
        if ((rc = parse_fault(p, item, i, &exp->faults[i])) < 0)
            return rc;
    }
    return 0;
}
