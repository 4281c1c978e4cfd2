/*
 * The workload: section: clients, rate, duration, keys, the model (register
 * or set), the operation mix (checked against the refstore preset's
 * operations; "cas" for every target; no delete or cas with model: set) and
 * the routing of clients to regions.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

#include "exp_int.h"
#include "faultline/hint.h"

/* ---- workload ----------------------------------------------------------- */

static const char *const workload_keys[] = {"clients", "rate",    "duration", "keys",  "timeout",
                                            "mix",     "routing", "seed",     "model", NULL};
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

static int parse_routing(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    struct exp_workload *w = &p->exp->workload;
    struct fy_node *pk, *pv, *rk, *rv, *item;
    void *it = NULL;
    size_t i, j;
    int rc, idx;

    if ((rc = expect_map(p, v, k, "workload.routing")) < 0 ||
        (rc = map_check(p, v, k, "workload.routing", routing_keys,
                        (const char *const[]){"policy", NULL})) < 0)
        return rc;
    pv = map_get(v, "policy", &pk);
    if ((rc = get_enum(p, pv, pk, "workload.routing.policy", routing_policies, &idx)) < 0)
        return rc;
    w->routing = idx == 0 ? EXP_ROUTING_PREFERRED : EXP_ROUTING_FIXED;
    rv = map_get(v, "regions", &rk);
    if (rk == NULL)
        return 0;
    if ((rc = expect_seq(p, rv, rk, "workload.routing.regions")) < 0)
        return rc;
    if (fy_node_sequence_item_count(rv) == 0)
        return perr(p, rv, rk, "workload.routing.regions: expected at least one region");
    w->routing_regions = calloc((size_t)fy_node_sequence_item_count(rv), sizeof(size_t));
    if (w->routing_regions == NULL)
        return -ENOMEM;
    for (i = 0; (item = fy_node_sequence_iterate(rv, &it)) != NULL; i++) {
        char path[PATH_LEN];
        const char *name;

        pathf(path, sizeof(path), "workload.routing.regions[%zu]", i);
        if ((rc = conv_region(p, rk, item, path, &name)) < 0)
            return rc;
        w->routing_regions[i] = (size_t)experiment_region_find(p->exp, name);
        for (j = 0; j < i; j++)
            if (w->routing_regions[j] == w->routing_regions[i])
                return perr(p, item, rk, "%s: '%s' is listed twice", path, name);
        w->n_routing_regions = i + 1;
    }
    return 0;
}

int parse_workload(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    struct exp_workload *w = &p->exp->workload;
    struct fy_node *fk, *fv;
    unsigned long long u;
    size_t r;
    int rc;

    if ((rc = expect_map(p, v, k, "workload")) < 0 ||
        (rc = map_check(p, v, k, "workload", workload_keys, workload_required)) < 0)
        return rc;
    fv = map_get(v, "clients", &fk);
    if ((rc = get_uint(p, fv, fk, "workload.clients", 1, 10000, &u)) < 0)
        return rc;
    w->clients = (unsigned)u;
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
    return 0;
}
