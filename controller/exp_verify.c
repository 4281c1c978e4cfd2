/*
 * The experiment's verify: section. The verifiers own its schema
 * (vfy_schema(): one table per verifier plus the shared keys); this file
 * walks the YAML with it, so every error names file:line:col, keeps the
 * section as JSON (durations in integer milliseconds) with the position of
 * every value, and turns that JSON into the verifiers' configuration with
 * their own reader, pointing an error it finds back into the file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "exp_int.h"
#include "faultline/verify.h"
#include "verify_cfg.h"

/* Every verifier's `groups` names client groups of the workload. */
static int check_verify_groups(struct pctx *p, struct fy_node *v)
{
    const struct exp_workload *w = &p->exp->workload;
    const char *sec;
    json_t *x, *g;
    size_t i, j;

    json_object_foreach(p->exp->verify, sec, x)
    {
        struct fy_node *sk, *sv, *gk, *gv, *item;

        if (!json_is_object(x) || !json_is_array(g = json_object_get(x, "groups")))
            continue;
        sv = map_get(v, sec, &sk);
        gv = sv ? map_get(sv, "groups", &gk) : NULL;
        json_array_foreach(g, i, x)
        {
            const char *name = json_string_value(x);

            for (j = 0; name && j < w->n_groups && strcmp(w->groups[j].name, name) != 0; j++)
                ;
            if (name && j < w->n_groups)
                continue;
            item = gv && fy_node_get_type(gv) == FYNT_SEQUENCE
                       ? fy_node_sequence_get_by_index(gv, (int)i)
                       : gv;
            return perr(p, item, gk,
                        "verify.%s.groups[%zu]: '%s' is not a client group of the workload%s", sec,
                        i, name ? name : "",
                        w->n_groups ? "" : " (workload.clients is a count: it has no groups)");
        }
    }
    return 0;
}

int parse_verify(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    struct vspec top = {"verify", VT_MAP, vfy_schema(), true};
    int rc;

    if ((rc = expect_map(p, v, k, "verify")) < 0)
        return rc;
    if (fy_node_mapping_item_count(v) == 0)
        return perr(p, k, NULL,
                    "verify: expected at least one verifier (failover, failback, read_only, "
                    "data_loss, staleness, availability, linearizable, routing, conflict_feed)");
    p->exp->verify_marks = json_object();
    if (p->exp->verify_marks == NULL)
        return -ENOMEM;
    p->marks = p->exp->verify_marks;
    rc = vconv(p, &top, k, v, "verify", "", &p->exp->verify);
    p->marks = NULL;
    if (rc == 0 && json_object_get(p->exp->verify, "conflict_feed") != NULL &&
        !(p->exp->target.kind == EXP_TARGET_REFSTORE &&
          strcmp(p->exp->target.preset, "cosmos") == 0)) {
        struct fy_node *ck, *cv = map_get(v, "conflict_feed", &ck);

        return perr(p, ck, cv,
                    "verify.conflict_feed: target %s%s%s has no conflict feed to check (only "
                    "refstore preset cosmos offers one: GET /v1/conflicts)",
                    p->exp->target.kind_name, p->exp->target.preset[0] ? " preset " : "",
                    p->exp->target.preset);
    }
    if (rc == 0)
        rc = check_verify_groups(p, v);
    return rc;
}

json_t *exp_verify_json(const struct experiment *exp)
{
    return exp->verify ? json_deep_copy(exp->verify) : json_object();
}

/* The position of the value an error "section.key[.key]: ..." names, nearest parent if unmarked. */
static void error_mark(const struct experiment *exp, const char *msg, int *line, int *col)
{
    char ptr[FL_ERR_MAX + 2], *q;
    size_t i;

    snprintf(ptr, sizeof(ptr), "/%s", msg);
    q = strchr(ptr, ':');
    if (q != NULL)
        *q = '\0';
    for (i = 0; ptr[i] != '\0'; i++) {
        if (ptr[i] == '.')
            ptr[i] = '/';
    }
    *line = *col = 0;
    while (experiment_verify_mark(exp, ptr, line, col) < 0 && (q = strrchr(ptr, '/')) != NULL &&
           q != ptr)
        *q = '\0';
}

int exp_verify_config(const struct experiment *exp, struct vfy_config *cfg, struct fl_err *err)
{
    struct fl_err e;
    int line, col;

    vfy_config_init_defaults(cfg);
    if (exp->verify == NULL)
        return 0;
    fl_err_clear(&e);
    if (vfy_config_from_json(exp->verify, cfg, &e) == 0)
        return 0;
    error_mark(exp, e.msg, &line, &col);
    if (line > 0)
        return fl_errf(err, -EINVAL, "%s:%d:%d: verify: %s", exp->file, line, col, e.msg);
    return fl_errf(err, -EINVAL, "%s: verify: %s", exp->file, e.msg);
}
