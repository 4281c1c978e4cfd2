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
                   offsetof(struct vfy_config, sec.enabled), vfy_##sec##_keys, vfy_##sec##_run }

const struct vfy_kind vfy_kinds[] = {
    ROW(failover),
    ROW(failback),
    ROW(read_only),
    ROW(data_loss),
    ROW(staleness),
    ROW(availability),
    ROW(linearizable),
    ROW(routing),
    { NULL, 0, 0, NULL, NULL },
};
/* clang-format on */

static bool enabled(const struct vfy_config *cfg, const struct vfy_kind *k)
{
    return *(const bool *)((const char *)cfg + k->enabled_off);
}

static int run_one(const struct hist *h, const struct hist_faults *faults,
                   const struct vfy_config *cfg, vfy_run_fn fn, struct vfy_result *out,
                   struct fl_err *err)
{
    struct vfy_ctx c;
    int r;

    memset(out, 0, sizeof(*out));
    if ((r = vfy_ctx_init(&c, h, faults, err)) < 0)
        return r;
    r = fn(&c, cfg, out, err);
    vfy_ctx_free(&c);
    return r;
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
        if ((r = k->run(&c, cfg, &out->r[out->n], err)) < 0) {
            vfy_result_free(&out->r[out->n]);
            break;
        }
        out->n++;
    }
    vfy_ctx_free(&c);
    vfy_results_allow(out, cfg);
    return r;
}
