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

int parse_verify(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    struct vspec top = {"verify", VT_MAP, vfy_schema(), true};
    int rc;

    if ((rc = expect_map(p, v, k, "verify")) < 0)
        return rc;
    if (fy_node_mapping_item_count(v) == 0)
        return perr(p, k, NULL,
                    "verify: expected at least one verifier (failover, failback, read_only, "
                    "data_loss, staleness, availability, linearizable, routing)");
    p->exp->verify_marks = json_object();
    if (p->exp->verify_marks == NULL)
        return -ENOMEM;
    p->marks = p->exp->verify_marks;
    rc = vconv(p, &top, k, v, "verify", "", &p->exp->verify);
    p->marks = NULL;
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
