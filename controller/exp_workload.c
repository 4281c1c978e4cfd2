/*
 * The workload: section: clients, rate, duration, keys, the model (register
 * or set), the operation mix (checked against the refstore preset's
 * operations; "cas" for every target; no delete or cas with model: set),
 * the routing of clients to regions, and the client groups (clients as a
 * list: name, count, region or zone, routing, rate).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

#include "exp_int.h"
#include "faultline/hint.h"

/* ---- workload ----------------------------------------------------------- */

static const char *const workload_keys[] = {"clients", "rate",       "duration", "keys",
                                            "timeout", "mix",        "routing",  "seed",
                                            "model",   "abort_when", NULL};
static const char *const models[] = {"register", "set", NULL};
static const char *const workload_required[] = {"clients", "rate", "duration", "mix", NULL};
static const char *const routing_keys[] = {"policy", "regions", NULL};
static const char *const routing_policies[] = {"preferred", "fixed", NULL};

/*
 * Operations of faultline-refstore per preset (docs/refstore.md), so a typo
 * in the mix fails validation instead of producing a run of refused calls.
 * Other targets' drivers check their own operations.
 */
static const char *const kv_ops[] = {
    "list-vaults",   "get-vault",    "list-secrets",   "get-secret", "list-keys",
    "get-key",       "encrypt",      "decrypt",        "wrap",       "unwrap",
    "verify",        "sign",         "backup",         "set-secret", "update-secret",
    "delete-secret", "purge-secret", "recover-secret", "create-key", "import-key",
    "update-key",    "delete-key",   "purge-key",      "restore",    NULL,
};
static const char *const cosmos_ops[] = {"read",    "query", "read-feed", "create",   "upsert",
                                         "replace", "patch", "delete",    "failover", NULL};

static const char *const *target_ops(const struct experiment *exp)
{
    if (exp->target.kind != EXP_TARGET_REFSTORE)
        return NULL;
    return strcmp(exp->target.preset, "cosmos") == 0 ? cosmos_ops : kv_ops;
}

/*
 * Does op remove a key? The drivers' rule (delete-secret, purge-key, delete,
 * del, ...), applied here so that a set mix with one fails at its line.
 */
static bool is_delete_op(const char *op)
{
    return strncmp(op, "delete", 6) == 0 || strncmp(op, "purge", 5) == 0 || strcmp(op, "del") == 0;
}

static int parse_mix(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    const char *const *ops = target_ops(p->exp);
    struct exp_workload *w = &p->exp->workload;
    struct fy_node_pair *pair;
    void *it = NULL;
    int rc;

    if ((rc = expect_map(p, v, k, "workload.mix")) < 0)
        return rc;
    if (fy_node_mapping_item_count(v) == 0)
        return perr(p, v, k, "workload.mix: expected at least one operation with a weight");
    w->mix = calloc((size_t)fy_node_mapping_item_count(v), sizeof(*w->mix));
    if (w->mix == NULL)
        return -ENOMEM;
    while ((pair = fy_node_mapping_iterate(v, &it)) != NULL) {
        struct fy_node *ok = fy_node_pair_key(pair), *ov = fy_node_pair_value(pair);
        struct exp_op_weight *m = &w->mix[w->n_mix];
        const char *op = key_text(ok);
        unsigned long long wt;
        char path[PATH_LEN];

        pathf(path, sizeof(path), "workload.mix.%s", op);
        if (!name_ok(op, EXP_NAME_MAX, false))
            return perr(p, ok, NULL, "workload.mix: bad operation name '%s'", op);
        if (w->model == EXP_MODEL_SET && is_delete_op(op))
            return perr(p, ok, NULL,
                        "workload.mix: '%s' deletes, which model: set cannot have (an "
                        "acknowledged element must stay, so that data_loss can count every "
                        "missing one; use model: register to test deletes)",
                        op);
        if (w->model == EXP_MODEL_SET && strcmp(op, "cas") == 0)
            return perr(p, ok, NULL,
                        "workload.mix: 'cas' compares and replaces one value, which model: set "
                        "does not have (use model: register)");
        /* cas: compare-and-set, mapped by every driver to its store's conditional write. */
        if (ops != NULL && strcmp(op, "cas") != 0 && !in_list(op, ops)) {
            const char *near = fl_hint_nearest(op, ops);

            if (near != NULL)
                return perr(p, ok, NULL,
                            "workload.mix: '%s' is not an operation of refstore preset %s (did "
                            "you mean '%s'?)",
                            op, p->exp->target.preset, near);
            return perr(p, ok, NULL, "workload.mix: '%s' is not an operation of refstore preset %s",
                        op, p->exp->target.preset);
        }
        if ((rc = get_uint(p, ov, ok, path, 1, 1000000, &wt)) < 0)
            return rc;
        snprintf(m->op, sizeof(m->op), "%s", op);
        m->weight = (unsigned)wt;
        w->mix_total += m->weight;
        w->n_mix++;
    }
    return 0;
}

/*
 * A routing map at path ({policy, regions}) into *routing and the region
 * indexes *regions / *n (left as they are when regions is absent).
 */
static int parse_routing_at(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *at,
                            enum exp_routing *routing, size_t **regions, size_t *n)
{
    struct fy_node *pk, *pv, *rk, *rv, *item;
    char what[PATH_LEN];
    void *it = NULL;
    size_t i, j;
    int rc, idx;

    if ((rc = expect_map(p, v, k, at)) < 0 ||
        (rc = map_check(p, v, k, at, routing_keys, (const char *const[]){"policy", NULL})) < 0)
        return rc;
    pv = map_get(v, "policy", &pk);
    pathf(what, sizeof(what), "%s.policy", at);
    if ((rc = get_enum(p, pv, pk, what, routing_policies, &idx)) < 0)
        return rc;
    *routing = idx == 0 ? EXP_ROUTING_PREFERRED : EXP_ROUTING_FIXED;
    rv = map_get(v, "regions", &rk);
    if (rk == NULL)
        return 0;
    pathf(what, sizeof(what), "%s.regions", at);
    if ((rc = expect_seq(p, rv, rk, what)) < 0)
        return rc;
    if (fy_node_sequence_item_count(rv) == 0)
        return perr(p, rv, rk, "%s: expected at least one region", what);
    free(*regions);
    *n = 0;
    *regions = calloc((size_t)fy_node_sequence_item_count(rv), sizeof(size_t));
    if (*regions == NULL)
        return -ENOMEM;
    for (i = 0; (item = fy_node_sequence_iterate(rv, &it)) != NULL; i++) {
        char path[PATH_LEN];
        const char *name;

        pathf(path, sizeof(path), "%s.regions[%zu]", at, i);
        if ((rc = conv_region(p, rk, item, path, &name)) < 0)
            return rc;
        (*regions)[i] = (size_t)experiment_region_find(p->exp, name);
        for (j = 0; j < i; j++)
            if ((*regions)[j] == (*regions)[i])
                return perr(p, item, rk, "%s: '%s' is listed twice", path, name);
        *n = i + 1;
    }
    return 0;
}

static int parse_routing(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    struct exp_workload *w = &p->exp->workload;

    return parse_routing_at(p, v, k, "workload.routing", &w->routing, &w->routing_regions,
                            &w->n_routing_regions);
}

/* ---- abort_when ------------------------------------------------------------ */

static const char *const abort_keys[] = {"class", "success_below", "for", NULL};
static const char *const abort_classes[] = {"read", "write", "any", NULL};

/*
 * workload.abort_when: {class, success_below, for}: the workload's own
 * traffic as a guard (controller/guard.c). The ratio is sampled once a
 * second, so `for` is whole seconds, and it must fit in the workload.
 */
static int parse_abort_when(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    struct exp_abort_when *a = &p->exp->abort_when;
    struct fy_node *fk, *fv;
    int rc, idx;

    if ((rc = expect_map(p, v, k, "workload.abort_when")) < 0 ||
        (rc = map_check(p, v, k, "workload.abort_when", abort_keys, abort_keys)) < 0)
        return rc;
    node_pos(v, &a->line, &a->column);
    fv = map_get(v, "class", &fk);
    if ((rc = get_enum(p, fv, fk, "workload.abort_when.class", abort_classes, &idx)) < 0)
        return rc;
    a->op_class = idx == 0 ? EXP_CLASS_READ : idx == 1 ? EXP_CLASS_WRITE : EXP_CLASS_ANY;
    fv = map_get(v, "success_below", &fk);
    if ((rc = get_number(p, fv, fk, "workload.abort_when.success_below", 0, 1, true,
                         &a->success_below)) < 0)
        return rc;
    fv = map_get(v, "for", &fk);
    if ((rc = get_duration(p, fv, fk, "workload.abort_when.for", &a->for_ns)) < 0)
        return rc;
    if (a->for_ns < 1000000000LL || a->for_ns % 1000000000LL != 0)
        return perr(p, fv, fk,
                    "workload.abort_when.for: expected whole seconds of at least 1s (the "
                    "success ratio is sampled once a second)");
    if (a->for_ns > p->exp->workload.duration_ns)
        return perr(p, fv, fk,
                    "workload.abort_when.for: %llds is longer than the workload "
                    "(workload.duration %llds): it could never trip",
                    (long long)(a->for_ns / 1000000000LL),
                    (long long)(p->exp->workload.duration_ns / 1000000000LL));
    a->enabled = true;
    return 0;
}

/* ---- client groups --------------------------------------------------------- */

static const char *const group_keys[] = {"name",    "count", "region", "zone",
                                         "routing", "rate",  NULL};
static const char *const group_required[] = {"name", "count", NULL};

/* The zone named "region/zone" ("west/z1", as faults name it): *r, *z. */
static bool zone_find(const struct experiment *exp, const char *path, size_t *r, size_t *z)
{
    size_t i, j;

    for (i = 0; i < exp->topology.n_regions; i++)
        for (j = 0; j < exp->topology.regions[i].n_zones; j++)
            if (strcmp(exp->topology.regions[i].zones[j].path, path) == 0) {
                *r = i;
                *z = j;
                return true;
            }
    return false;
}

/* Where group g lives: region or zone, checked against the topology. */
static int parse_group_place(struct pctx *p, struct fy_node *v, struct fy_node *k,
                             struct exp_client_group *g, const char *at)
{
    const struct exp_topology *t = &p->exp->topology;
    struct fy_node *rk, *rv, *zk, *zv;
    char path[PATH_LEN];
    const char *name;
    int rc;

    rv = map_get(v, "region", &rk);
    zv = map_get(v, "zone", &zk);
    if (rk != NULL && zk != NULL)
        return perr(p, zk, k, "%s: give region or zone, not both (a zone names its region)", at);
    if (rk == NULL && zk == NULL)
        return 0;
    if (!t->lab)
        return perr(p, rk ? rk : zk, k,
                    "%s.%s: a group placed in a %s needs a machine there to run its clients "
                    "from, and staging runs every client from the controller (not built yet: see "
                    "docs/internals/workload.md, \"Client groups\"); drop the %s to run this "
                    "group from the controller",
                    at, rk ? "region" : "zone", rk ? "region" : "zone", rk ? "region" : "zone");
    if (rk != NULL) {
        pathf(path, sizeof(path), "%s.region", at);
        if ((rc = conv_region(p, rk, rv, path, &name)) < 0)
            return rc;
        g->has_region = true;
        g->region = (size_t)experiment_region_find(p->exp, name);
        return 0;
    }
    pathf(path, sizeof(path), "%s.zone", at);
    if ((rc = get_str(p, zv, zk, path, &name)) < 0)
        return rc;
    if (!zone_find(p->exp, name, &g->region, &g->zone))
        return perr(p, zv, zk, "%s: unknown zone '%s' (zones are named region/zone, e.g. %s)", path,
                    name, t->regions[0].zones[0].path);
    if (t->regions[g->region].zones[g->zone].n_hosts >= EXP_LAB_MAX_ZONE_HOSTS)
        return perr(p, zv, zk,
                    "%s: zone %s has %d hosts, which leaves no address in its /27 for the "
                    "group's clients (at most %d hosts in a zone that holds a client group)",
                    path, name, EXP_LAB_MAX_ZONE_HOSTS, EXP_LAB_MAX_ZONE_HOSTS - 1);
    g->has_region = true;
    g->has_zone = true;
    return 0;
}

/* Default routing of a placed group: its own region first, then the workload's order. */
static int group_default_routing(struct exp_workload *w, struct exp_client_group *g)
{
    size_t i;

    g->routing_regions = calloc(w->n_routing_regions + 1, sizeof(size_t));
    if (g->routing_regions == NULL)
        return -ENOMEM;
    if (g->has_region)
        g->routing_regions[g->n_routing_regions++] = g->region;
    for (i = 0; i < w->n_routing_regions; i++)
        if (!g->has_region || w->routing_regions[i] != g->region)
            g->routing_regions[g->n_routing_regions++] = w->routing_regions[i];
    return 0;
}

/*
 * workload.clients as a list of groups. Runs after routing (the groups'
 * default) and rate (split over the groups without their own, by count).
 */
static int parse_groups(struct pctx *p, struct fy_node *v, struct fy_node *k, struct fy_node *wmap)
{
    struct exp_workload *w = &p->exp->workload;
    struct fy_node *item, *fk, *fv;
    double own = 0, rest;
    unsigned rest_count = 0;
    unsigned long long u;
    void *it = NULL;
    size_t i, j;
    int rc;

    if (fy_node_sequence_item_count(v) == 0)
        return perr(p, v, k, "workload.clients: expected a count or at least one group");
    w->groups = calloc((size_t)fy_node_sequence_item_count(v), sizeof(*w->groups));
    if (w->groups == NULL)
        return -ENOMEM;
    w->clients = 0;
    for (i = 0; (item = fy_node_sequence_iterate(v, &it)) != NULL; i++) {
        struct exp_client_group *g = &w->groups[i];
        char at[PATH_LEN], path[PATH_LEN];

        w->n_groups = i + 1;
        pathf(at, sizeof(at), "workload.clients[%zu]", i);
        if ((rc = expect_map(p, item, k, at)) < 0 ||
            (rc = map_check(p, item, k, at, group_keys, group_required)) < 0)
            return rc;
        fv = map_get(item, "name", &fk);
        pathf(path, sizeof(path), "%s.name", at);
        if ((rc = get_name(p, fv, fk, path, EXP_NAME_MAX, g->name)) < 0)
            return rc;
        for (j = 0; j < i; j++)
            if (strcmp(w->groups[j].name, g->name) == 0)
                return perr(p, fv, fk, "%s: group '%s' is named twice", path, g->name);
        fv = map_get(item, "count", &fk);
        pathf(path, sizeof(path), "%s.count", at);
        if ((rc = get_uint(p, fv, fk, path, 1, 10000, &u)) < 0)
            return rc;
        g->count = (unsigned)u;
        if (w->clients + g->count > 10000)
            return perr(p, fv, fk, "%s: the groups have more than 10000 clients in all", path);
        w->clients += g->count;
        if ((rc = parse_group_place(p, item, k, g, at)) < 0)
            return rc;
        fv = map_get(item, "rate", &fk);
        if (fk != NULL) {
            pathf(path, sizeof(path), "%s.rate", at);
            if ((rc = get_rate(p, fv, fk, path, &g->rate)) < 0)
                return rc;
            g->has_rate = true;
            own += g->rate;
        } else {
            rest_count += g->count;
        }
        g->routing = w->routing;
        if ((rc = group_default_routing(w, g)) < 0)
            return rc;
        fv = map_get(item, "routing", &fk);
        pathf(path, sizeof(path), "%s.routing", at);
        if (fk != NULL && (rc = parse_routing_at(p, fv, fk, path, &g->routing, &g->routing_regions,
                                                 &g->n_routing_regions)) < 0)
            return rc;
    }
    rest = w->rate - own;
    fv = map_get(wmap, "rate", &fk);
    if (rest_count == 0 && (rest > 1e-9 || rest < -1e-9))
        return perr(p, fv, fk,
                    "workload.rate: %g/s, but every group gives its own rate and they add up to "
                    "%g/s (make them equal, or leave a group's rate out to give it the rest)",
                    w->rate, own);
    if (rest_count > 0 && rest <= 0)
        return perr(p, fv, fk,
                    "workload.rate: %g/s leaves nothing for the groups without their own rate "
                    "(the groups' own rates add up to %g/s)",
                    w->rate, own);
    for (i = 0; i < w->n_groups; i++)
        if (!w->groups[i].has_rate)
            w->groups[i].rate = rest * w->groups[i].count / rest_count;
    return 0;
}

int parse_workload(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    struct exp_workload *w = &p->exp->workload;
    struct fy_node *fk, *fv, *clients_v = NULL, *clients_k = NULL;
    unsigned long long u;
    size_t r;
    int rc;

    if ((rc = expect_map(p, v, k, "workload")) < 0 ||
        (rc = map_check(p, v, k, "workload", workload_keys, workload_required)) < 0)
        return rc;
    fv = map_get(v, "clients", &fk);
    if (fv != NULL && fy_node_get_type(fv) == FYNT_SEQUENCE) {
        clients_v = fv;
        clients_k = fk;
    } else {
        if ((rc = get_uint(p, fv, fk, "workload.clients", 1, 10000, &u)) < 0)
            return rc;
        w->clients = (unsigned)u;
    }
    fv = map_get(v, "rate", &fk);
    if ((rc = get_rate(p, fv, fk, "workload.rate", &w->rate)) < 0)
        return rc;
    fv = map_get(v, "duration", &fk);
    if ((rc = get_duration(p, fv, fk, "workload.duration", &w->duration_ns)) < 0)
        return rc;
    if (w->duration_ns <= 0)
        return perr(p, fv, fk, "workload.duration: must be longer than 0s");
    w->keys = 100;
    fv = map_get(v, "keys", &fk);
    if (fk != NULL) {
        if ((rc = get_uint(p, fv, fk, "workload.keys", 1, 10000000, &u)) < 0)
            return rc;
        w->keys = (unsigned)u;
    }
    w->timeout_ns = 1000000000LL;
    fv = map_get(v, "timeout", &fk);
    if (fk != NULL) {
        if ((rc = get_duration(p, fv, fk, "workload.timeout", &w->timeout_ns)) < 0)
            return rc;
        if (w->timeout_ns <= 0)
            return perr(p, fv, fk, "workload.timeout: must be longer than 0s");
    }
    fv = map_get(v, "seed", &fk);
    if (fk != NULL) {
        if ((rc = get_uint(p, fv, fk, "workload.seed", 0, UINT64_MAX, &u)) < 0)
            return rc;
        w->has_seed = true;
        w->seed = u;
    }
    w->model = EXP_MODEL_REGISTER;
    fv = map_get(v, "model", &fk);
    if (fk != NULL) {
        int idx;

        if ((rc = get_enum(p, fv, fk, "workload.model", models, &idx)) < 0)
            return rc;
        w->model = idx == 1 ? EXP_MODEL_SET : EXP_MODEL_REGISTER;
    }
    fv = map_get(v, "mix", &fk);
    if ((rc = parse_mix(p, fv, fk)) < 0)
        return rc;
    w->routing = EXP_ROUTING_PREFERRED;
    fv = map_get(v, "routing", &fk);
    if (fk != NULL && (rc = parse_routing(p, fv, fk)) < 0)
        return rc;
    if (w->n_routing_regions == 0) {
        /* Default: the primary region first, then the others in file order. */
        struct exp_topology *t = &p->exp->topology;
        size_t prim = p->exp->target.has_primary ? p->exp->target.primary : 0;

        w->routing_regions = calloc(t->n_regions, sizeof(size_t));
        if (w->routing_regions == NULL)
            return -ENOMEM;
        w->routing_regions[w->n_routing_regions++] = prim;
        for (r = 0; r < t->n_regions; r++)
            if (r != prim)
                w->routing_regions[w->n_routing_regions++] = r;
    }
    if (clients_v != NULL && (rc = parse_groups(p, clients_v, clients_k, v)) < 0)
        return rc;
    fv = map_get(v, "abort_when", &fk);
    if (fk != NULL && (rc = parse_abort_when(p, fv, fk)) < 0)
        return rc;
    return 0;
}
