/*
 * The verifier registry: one row per verifier (its name, which is also its
 * `verify:` section, the flag that enables it and its run function), the
 * single-verifier entry points and vfy_run_all, which builds the analysis
 * context once and runs every enabled row over it in table order. Adding a
 * verifier is one file plus one row here (and the table of its section's
 * keys in vfy_config.c).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/err.h"
#include "vfy_internal.h"

/* clang-format off */
#define ROW(sec) { #sec, offsetof(struct vfy_config, sec), \
                   offsetof(struct vfy_config, sec.enabled), vfy_##sec##_keys, vfy_##sec##_run, \
                   VFY_NO_GROUPS }
/* a verifier that can be restricted to client groups (its section's `groups`) */
#define ROWG(sec) { #sec, offsetof(struct vfy_config, sec), \
                    offsetof(struct vfy_config, sec.enabled), vfy_##sec##_keys, vfy_##sec##_run, \
                    offsetof(struct vfy_config, sec.groups) }

const struct vfy_kind vfy_kinds[] = {
    ROWG(failover),
    ROW(failback),
    ROW(read_only),
    ROW(data_loss),
    ROW(staleness),
    ROWG(availability),
    ROW(linearizable),
    ROW(routing),
    ROW(conflict_feed),
    { NULL, 0, 0, NULL, NULL, VFY_NO_GROUPS },
};
/* clang-format on */

static bool enabled(const struct vfy_config *cfg, const struct vfy_kind *k)
{
    return *(const bool *)((const char *)cfg + k->enabled_off);
}

static const struct vfy_names *groups_of(const struct vfy_config *cfg, const struct vfy_kind *k)
{
    const struct vfy_names *g;

    if (k == NULL || k->groups_off == VFY_NO_GROUPS)
        return NULL;
    g = (const struct vfy_names *)((const char *)cfg + k->groups_off);
    return g->n > 0 ? g : NULL;
}

/*
 * The records of the clients in groups (and every final read), as a view
 * of h: the same name tables and extras, its own record array (*sub.ops,
 * freed by the caller). 0 or -ENOMEM.
 */
static int group_view(const struct hist *h, const struct vfy_names *groups, struct hist *sub)
{
    struct hist_op *ops = malloc((h->n ? h->n : 1) * sizeof(*ops));
    size_t i, n = 0;

    if (ops == NULL)
        return -ENOMEM;
    for (i = 0; i < h->n; i++) {
        const struct hist_op *o = &h->ops[i];

        if (o->is_final || vfy_names_has(groups, hist_client_group(h, o->client)))
            ops[n++] = *o;
    }
    *sub = *h;
    sub->ops = ops;
    sub->n = sub->cap = n;
    return 0;
}

/* Run fn over h, or over the records of its groups when the section names some. */
static int run_kind(const struct hist *h, const struct hist_faults *faults,
                    const struct vfy_config *cfg, const struct vfy_kind *k, vfy_run_fn fn,
                    struct vfy_result *out, struct fl_err *err)
{
    const struct vfy_names *groups = groups_of(cfg, k);
    struct hist sub;
    struct vfy_ctx c;
    json_t *g;
    int r;

    if (groups != NULL && group_view(h, groups, &sub) < 0)
        return fl_errf(err, -ENOMEM, "out of memory");
    if ((r = vfy_ctx_init(&c, groups ? &sub : h, faults, err)) == 0) {
        r = fn(&c, cfg, out, err);
        vfy_ctx_free(&c);
    }
    if (groups != NULL) {
        free(sub.ops);
        /* say which clients were judged */
        if (r == 0 && out->bound != NULL && (g = vfy_names_json(groups)) != NULL)
            json_object_set_new(out->bound, "groups", g);
    }
    return r;
}

/*
 * Per client group: a verifier that can be restricted to groups, run over
 * the whole history of a history that has groups, is run again over each
 * group's records and reported under measured.by_group.<group> (status and
 * measured, and the group's by_region when the verifier reports one); the
 * verdict stays the whole history's. 0 or -ENOMEM.
 */
static int by_group(const struct hist *h, const struct hist_faults *faults,
                    const struct vfy_config *cfg, const struct vfy_kind *k, struct vfy_result *out,
                    struct fl_err *err)
{
    struct vfy_config *gc;
    struct vfy_names *names;
    json_t *bg, *ge, *br;
    size_t i;
    int r = 0;

    if (k->groups_off == VFY_NO_GROUPS || h->groups.n < 2 || out->measured == NULL)
        return 0;
    gc = malloc(sizeof(*gc));
    bg = json_object();
    if (gc == NULL || bg == NULL) {
        free(gc);
        json_decref(bg);
        return fl_errf(err, -ENOMEM, "out of memory");
    }
    *gc = *cfg;
    names = (struct vfy_names *)((char *)gc + k->groups_off);
    for (i = 1; i < h->groups.n && r == 0; i++) {
        struct vfy_result gr;

        memset(&gr, 0, sizeof(gr));
        names->n = 1;
        snprintf(names->name[0], VFY_NAME_LEN, "%s", h->groups.s[i]);
        if ((r = run_kind(h, faults, gc, k, k->run, &gr, err)) < 0)
            break;
        ge = json_pack("{s:s,s:O}", "status", vfy_status_name(gr.status), "measured",
                       gr.measured ? gr.measured : json_null());
        /* the group's per-region breakdown, also at by_group.<group>.by_region */
        if (ge != NULL && (br = json_object_get(gr.measured, "by_region")) != NULL)
            json_object_set(ge, "by_region", br);
        json_object_set_new(bg, h->groups.s[i], ge);
        vfy_result_free(&gr);
    }
    if (r == 0)
        json_object_set_new(out->measured, "by_group", bg);
    else
        json_decref(bg);
    free(gc);
    return r;
}

static const struct vfy_kind *kind_of(vfy_run_fn fn)
{
    const struct vfy_kind *k;

    for (k = vfy_kinds; k->name != NULL; k++)
        if (k->run == fn)
            return k;
    return NULL;
}

static int run_one(const struct hist *h, const struct hist_faults *faults,
                   const struct vfy_config *cfg, vfy_run_fn fn, struct vfy_result *out,
                   struct fl_err *err)
{
    memset(out, 0, sizeof(*out));
    return run_kind(h, faults, cfg, kind_of(fn), fn, out, err);
}

int vfy_failover_check(const struct hist *h, const struct hist_faults *faults,
                       const struct vfy_config *cfg, struct vfy_result *out, struct fl_err *err)
{
    return run_one(h, faults, cfg, vfy_failover_run, out, err);
}

int vfy_failback_check(const struct hist *h, const struct hist_faults *faults,
                       const struct vfy_config *cfg, struct vfy_result *out, struct fl_err *err)
{
    return run_one(h, faults, cfg, vfy_failback_run, out, err);
}

int vfy_read_only_check(const struct hist *h, const struct hist_faults *faults,
                        const struct vfy_config *cfg, struct vfy_result *out, struct fl_err *err)
{
    return run_one(h, faults, cfg, vfy_read_only_run, out, err);
}

int vfy_data_loss_check(const struct hist *h, const struct hist_faults *faults,
                        const struct vfy_config *cfg, struct vfy_result *out, struct fl_err *err)
{
    return run_one(h, faults, cfg, vfy_data_loss_run, out, err);
}

int vfy_staleness_check(const struct hist *h, const struct hist_faults *faults,
                        const struct vfy_config *cfg, struct vfy_result *out, struct fl_err *err)
{
    return run_one(h, faults, cfg, vfy_staleness_run, out, err);
}

int vfy_availability_check(const struct hist *h, const struct hist_faults *faults,
                           const struct vfy_config *cfg, struct vfy_result *out, struct fl_err *err)
{
    return run_one(h, faults, cfg, vfy_availability_run, out, err);
}

int vfy_routing_check(const struct hist *h, const struct hist_faults *faults,
                      const struct vfy_config *cfg, struct vfy_result *out, struct fl_err *err)
{
    return run_one(h, faults, cfg, vfy_routing_run, out, err);
}

int vfy_conflict_feed_check(const struct hist *h, const struct hist_faults *faults,
                            const struct vfy_config *cfg, struct vfy_result *out,
                            struct fl_err *err)
{
    return run_one(h, faults, cfg, vfy_conflict_feed_run, out, err);
}

/* Room for one more result in out. */
static int results_grow(struct vfy_results *out, struct fl_err *err)
{
    size_t ncap;
    struct vfy_result *nr;

    if (out->n < out->cap)
        return 0;
    ncap = out->cap ? out->cap * 2 : 8;
    nr = realloc(out->r, ncap * sizeof(*nr));
    if (nr == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    out->r = nr;
    out->cap = ncap;
    return 0;
}

int vfy_run_all(const struct hist *h, const struct hist_faults *faults,
                const struct vfy_config *cfg, struct vfy_results *out, struct fl_err *err)
{
    const struct vfy_kind *k;
    struct vfy_ctx c;
    int r;

    if ((r = vfy_ctx_init(&c, h, faults, err)) < 0)
        return r;
    for (k = vfy_kinds; k->name != NULL; k++) {
        if (!enabled(cfg, k))
            continue;
        if ((r = results_grow(out, err)) < 0)
            break;
        memset(&out->r[out->n], 0, sizeof(out->r[out->n]));
        /* restricted to client groups: its own context over their records */
        if (groups_of(cfg, k) != NULL) {
            r = run_kind(h, faults, cfg, k, k->run, &out->r[out->n], err);
        } else if ((r = k->run(&c, cfg, &out->r[out->n], err)) == 0) {
            r = by_group(h, faults, cfg, k, &out->r[out->n], err);
        }
        if (r < 0) {
            vfy_result_free(&out->r[out->n]);
            break;
        }
        out->n++;
    }
    vfy_ctx_free(&c);
    vfy_results_allow(out, cfg);
    return r;
}
