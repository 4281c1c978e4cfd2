/*
 * The `verify:` schema and the one parser of its values. Every key is one
 * row: its name and type (duration, ratio, count, bool, names, enum or a
 * nested object), whether an experiment file must give it, and where its
 * value goes in struct vfy_config (an offset, or a small function for the
 * few keys that set several fields: presets, availability floors, the
 * shared sustain and grace). The verifiers' own sections come from the
 * registry (vfy_kinds[].keys), so a verifier's section is one table.
 *
 * Two readers use these rows: vfy_config_from_json() below, which fills the
 * configuration from the JSON form (durations as "180s" strings or integer
 * milliseconds, which is what the experiment parser produces), and the
 * experiment parser, which walks the YAML with vfy_schema() (the same rows as
 * faultline/optspec.h value specs) so its errors name file:line:col.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/err.h"
#include "faultline/timeutil.h"
#include "vfy_internal.h"

#define NS_MS            1000000LL
#define OFF(type, field) offsetof(struct type, field)
#define END                                   \
    {                                         \
        NULL, VT_STR, NULL, false, 0, 0, NULL \
    }

void vfy_config_init_defaults(struct vfy_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->failover.max_ns = VFY_UNBOUNDED;
    cfg->failover.sustain.window_ns = 2 * VFY_NS_S;
    cfg->failover.sustain.min_ratio = 0.95;
    cfg->failover.anchor = VFY_ANCHOR_DONE;
    cfg->failback.max_ns = VFY_UNBOUNDED;
    cfg->failback.sustain = cfg->failover.sustain;
    cfg->failback.anchor = VFY_ANCHOR_DONE;
    cfg->read_only.grace_ns = 0;
    cfg->read_only.start_after_ns = -1;
    cfg->data_loss.max_updates = VFY_UNBOUNDED;
    cfg->data_loss.max_window_ns = VFY_UNBOUNDED;
    cfg->data_loss.max_after_ns = 0; /* a write acknowledged after the fault began is kept */
    cfg->staleness.max_versions = VFY_UNBOUNDED;
    cfg->staleness.max_lag_ns = VFY_UNBOUNDED;
    cfg->routing.min_ratio = 0.95;
    cfg->routing.settle_ns = 2 * VFY_NS_S;
}

int vfy_data_loss_preset(struct vfy_data_loss_cfg *dl, const char *level, struct fl_err *err)
{
    if (strcmp(level, "strong") == 0) {
        dl->consistency = VFY_CONS_STRONG;
        dl->max_updates = 0;
        dl->max_window_ns = 0;
    } else if (strcmp(level, "bounded") == 0 || strcmp(level, "bounded-staleness") == 0) {
        dl->consistency = VFY_CONS_BOUNDED;
        dl->max_updates = 100000;
        dl->max_window_ns = 5 * VFY_NS_MIN;
    } else if (strcmp(level, "session") == 0 || strcmp(level, "prefix") == 0 ||
               strcmp(level, "consistent-prefix") == 0 || strcmp(level, "eventual") == 0) {
        dl->consistency = level[0] == 's'   ? VFY_CONS_SESSION
                          : level[0] == 'e' ? VFY_CONS_EVENTUAL
                                            : VFY_CONS_PREFIX;
        dl->max_updates = VFY_UNBOUNDED;
        dl->max_window_ns = 15 * VFY_NS_MIN;
    } else {
        return fl_errf(err, -EINVAL,
                       "unknown consistency level '%s' (expected strong, bounded, session, "
                       "prefix or eventual)",
                       level);
    }
    /* Every preset: a write acknowledged after the outage began must survive it. */
    dl->max_after_ns = 0;
    dl->enabled = true;
    return 0;
}

/* ---- typed values ---- */

static int j_dur(const json_t *v, const char *where, int64_t *ns, struct fl_err *err)
{
    if (json_is_null(v)) {
        *ns = VFY_UNBOUNDED;
        return 0;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= INT64_MAX / NS_MS) {
        *ns = (int64_t)json_integer_value(v) * NS_MS; /* the experiment parser's milliseconds */
        return 0;
    }
    if (!json_is_string(v))
        return fl_errf(err, -EINVAL, "%s: expected a duration string such as \"180s\"", where);
    if (fl_duration_parse(json_string_value(v), ns, err) < 0) {
        fl_err_prefix(err, "%s", where);
        return -EINVAL;
    }
    return 0;
}

static int j_count(const json_t *v, const char *where, int64_t *out, struct fl_err *err)
{
    if (json_is_null(v)) {
        *out = VFY_UNBOUNDED;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return fl_errf(err, -EINVAL, "%s: expected a non-negative integer", where);
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static int j_ratio(const json_t *v, const char *where, double *out, struct fl_err *err)
{
    double d;

    if (!json_is_number(v))
        return fl_errf(err, -EINVAL, "%s: expected a ratio between 0 and 1", where);
    d = json_number_value(v);
    if (!(d >= 0.0 && d <= 1.0))
        return fl_errf(err, -EINVAL, "%s: expected a ratio between 0 and 1, got %g", where, d);
    *out = d;
    return 0;
}

static int j_names(const json_t *v, const char *where, const char *const *only, struct vfy_names *n,
                   struct fl_err *err)
{
    size_t i, j;
    json_t *x;

    if (!json_is_array(v))
        return fl_errf(err, -EINVAL, "%s: expected a list of %s names", where,
                       only ? "verifier" : "operation");
    if (json_array_size(v) > VFY_NAMES_MAX)
        return fl_errf(err, -EINVAL, "%s: more than %d names", where, VFY_NAMES_MAX);
    n->n = 0;
    json_array_foreach(v, i, x)
    {
        const char *s = json_string_value(x);

        if (s == NULL || json_string_length(x) == 0 || json_string_length(x) >= VFY_NAME_LEN)
            return fl_errf(err, -EINVAL, "%s[%zu]: expected a name of 1..%d characters", where, i,
                           VFY_NAME_LEN - 1);
        for (j = 0; only != NULL && only[j] != NULL && strcmp(only[j], s) != 0; j++)
            ;
        if (only != NULL && only[j] == NULL)
            return fl_errf(err, -EINVAL, "%s[%zu]: unknown verifier '%s'", where, i, s);
        strcpy(n->name[n->n++], s);
    }
    return 0;
}

static int j_enum(const json_t *v, const char *where, const char *const *names, int *out,
                  struct fl_err *err)
{
    const char *s = json_string_value(v);
    char list[256] = "";
    int i;

    for (i = 0; s != NULL && names[i] != NULL; i++) {
        if (strcmp(names[i], s) == 0) {
            *out = i;
            return 0;
        }
    }
    for (i = 0; names[i] != NULL; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s\"%s\"", i ? " or " : "",
                 names[i]);
    return fl_errf(err, -EINVAL, "%s: expected %s", where, list);
}

/* ---- keys that set more than one field ---- */

static int apply_section(struct vfy_config *cfg, void *base, const struct vfy_key *keys,
                         const json_t *v, const char *where, struct fl_err *err);

static int dl_consistency(struct vfy_config *cfg, void *base, const struct vfy_key *k,
                          const json_t *v, const json_t *parent, const char *where,
                          struct fl_err *err)
{
    (void)base, (void)k, (void)parent;
    if (!json_is_string(v))
        return fl_errf(err, -EINVAL, "%s: expected a level name", where);
    if (vfy_data_loss_preset(&cfg->data_loss, json_string_value(v), err) < 0) {
        fl_err_prefix(err, "%s", where);
        return -EINVAL;
    }
    return 0;
}

static int st_consistency(struct vfy_config *cfg, void *base, const struct vfy_key *k,
                          const json_t *v, const json_t *parent, const char *where,
                          struct fl_err *err)
{
    struct vfy_staleness_cfg *st = &cfg->staleness;
    const char *s = json_string_value(v);

    (void)base, (void)k, (void)parent;
    if (s != NULL && (strcmp(s, "bounded") == 0 || strcmp(s, "bounded-staleness") == 0)) {
        st->max_versions = 100000;
        st->max_lag_ns = 5 * VFY_NS_MIN;
    } else if (s != NULL && strcmp(s, "session") == 0) {
        st->read_your_writes = true;
        st->monotonic_reads = true;
    } else if (s != NULL && strcmp(s, "strong") == 0) {
        st->max_versions = 0;
        st->max_lag_ns = 0;
        st->read_your_writes = true;
        st->monotonic_reads = true;
    } else if (s == NULL || (strcmp(s, "eventual") != 0 && strcmp(s, "prefix") != 0 &&
                             strcmp(s, "consistent-prefix") != 0)) {
        return fl_errf(err, -EINVAL, "%s: expected strong, bounded, session, prefix or eventual",
                       where);
    }
    return 0;
}

static int fb_writes(struct vfy_config *cfg, void *base, const struct vfy_key *k, const json_t *v,
                     const json_t *parent, const char *where, struct fl_err *err)
{
    const char *s = json_string_value(v);

    (void)base, (void)k, (void)parent;
    if (json_is_boolean(v))
        cfg->failback.writes_required = json_is_true(v);
    else if (s != NULL && strcmp(s, "required") == 0)
        cfg->failback.writes_required = true;
    else if (s != NULL && strcmp(s, "optional") == 0)
        cfg->failback.writes_required = false;
    else
        return fl_errf(err, -EINVAL, "%s: expected \"required\" or \"optional\"", where);
    return 0;
}

static int add_floor(struct vfy_availability_cfg *av, const char *cls, int phase, const json_t *v,
                     const char *where, struct fl_err *err)
{
    struct vfy_floor *f;

    if (av->nfloors >= VFY_FLOORS_MAX)
        return fl_errf(err, -EINVAL, "%s: more than %d floors", where, VFY_FLOORS_MAX);
    if (strlen(cls) == 0 || strlen(cls) >= VFY_NAME_LEN)
        return fl_errf(err, -EINVAL, "%s: bad class name", where);
    f = &av->floors[av->nfloors];
    if (j_ratio(v, where, &f->min_ratio, err) < 0)
        return -EINVAL;
    strcpy(f->cls, cls);
    f->phase = phase;
    av->nfloors++;
    return 0;
}

static const char *const phase_names[] = {"before", "during", "after", NULL};

/* availability.before / during / after: {class: ratio} (the experiment form). */
static int av_phase(struct vfy_config *cfg, void *base, const struct vfy_key *k, const json_t *v,
                    const json_t *parent, const char *where, struct fl_err *err)
{
    const char *cls;
    json_t *x;
    char w[256];
    int p;

    (void)base, (void)parent;
    for (p = 0; phase_names[p] != NULL && strcmp(phase_names[p], k->key) != 0; p++)
        ;
    if (!json_is_object(v))
        return fl_errf(err, -EINVAL, "%s: expected {class: ratio}", where);
    json_object_foreach((json_t *)v, cls, x)
    {
        snprintf(w, sizeof(w), "%s.%s", where, cls);
        if (add_floor(&cfg->availability, cls, p, x, w, err) < 0)
            return -EINVAL;
    }
    return 0;
}

/* availability.floors: {class: ratio} or {class: {phase: ratio}} (the JSON form). */
static int av_floors(struct vfy_config *cfg, void *base, const struct vfy_key *k, const json_t *v,
                     const json_t *parent, const char *where, struct fl_err *err)
{
    const char *cls, *pk;
    json_t *x, *px;
    char w[256];
    int p;

    (void)base, (void)k, (void)parent;
    if (!json_is_object(v))
        return fl_errf(err, -EINVAL, "%s: expected {class: ratio} or {class: {phase: ratio}}",
                       where);
    json_object_foreach((json_t *)v, cls, x)
    {
        snprintf(w, sizeof(w), "%s.%s", where, cls);
        if (json_is_number(x)) {
            if (add_floor(&cfg->availability, cls, VFY_PHASE_ANY, x, w, err) < 0)
                return -EINVAL;
            continue;
        }
        if (!json_is_object(x))
            return fl_errf(err, -EINVAL, "%s: expected a ratio or {phase: ratio}", w);
        json_object_foreach(x, pk, px)
        {
            snprintf(w, sizeof(w), "%s.%s.%s", where, cls, pk);
            for (p = 0; phase_names[p] != NULL && strcmp(phase_names[p], pk) != 0; p++)
                ;
            if (phase_names[p] == NULL)
                return fl_errf(err, -EINVAL, "%s: unknown phase (expected before, during, after)",
                               w);
            if (add_floor(&cfg->availability, cls, p, px, w, err) < 0)
                return -EINVAL;
        }
    }
    return 0;
}

static const struct vfy_key sustain_keys[];

/* verify.sustain: for failover and failback where they give none of their own. */
static int shared_sustain(struct vfy_config *cfg, void *base, const struct vfy_key *k,
                          const json_t *v, const json_t *parent, const char *where,
                          struct fl_err *err)
{
    static const char *const secs[] = {"failover", "failback"};
    struct vfy_sustain *dst[] = {&cfg->failover.sustain, &cfg->failback.sustain};
    size_t i;

    (void)base, (void)k;
    for (i = 0; i < 2; i++) {
        const json_t *sec = json_object_get(parent, secs[i]);

        if (json_is_object(sec) && json_object_get(sec, "sustain") == NULL &&
            apply_section(cfg, dst[i], sustain_keys, v, where, err) < 0)
            return -EINVAL;
    }
    return 0;
}

/* verify.grace: for read_only where it gives none of its own. */
static int shared_grace(struct vfy_config *cfg, void *base, const struct vfy_key *k,
                        const json_t *v, const json_t *parent, const char *where,
                        struct fl_err *err)
{
    const json_t *ro = json_object_get(parent, "read_only");

    (void)base, (void)k;
    if (!json_is_object(ro) || json_object_get(ro, "grace") != NULL)
        return 0;
    if (j_dur(v, where, &cfg->read_only.grace_ns, err) < 0)
        return -EINVAL;
    if (cfg->read_only.grace_ns < 0)
        cfg->read_only.grace_ns = 0;
    return 0;
}

/*
 * verify.regression: tolerances for `faultline compare` (the controller reads
 * them from report.json); checked here like any section, applied nowhere.
 */
struct regression_tol {
    double relative, ratio;
    int64_t dur, count;
};

static int shared_regression(struct vfy_config *cfg, void *base, const struct vfy_key *k,
                             const json_t *v, const json_t *parent, const char *where,
                             struct fl_err *err)
{
    struct regression_tol scratch[8];

    (void)base, (void)parent;
    return apply_section(cfg, scratch, k->sub, v, where, err);
}

/* ---- the schema ---- */

static const char *const failover_anchor[] = {"apply_done", "apply_sent", NULL};
static const char *const failback_anchor[] = {"heal_done", "heal_sent", NULL};
static const char *const failback_writes[] = {"required", "optional", NULL};
static const char *const consistency_vals[] = {"strong", "bounded",  "session",
                                               "prefix", "eventual", NULL};
static const char *verifier_names[16]; /* filled from vfy_kinds by vfy_schema() */

static const struct vfy_key sustain_keys[] = {
    {"window", VT_DUR, NULL, false, OFF(vfy_sustain, window_ns), VFY_K_NOT_NULL, NULL},
    {"ratio", VT_RATIO, NULL, false, OFF(vfy_sustain, min_ratio), 0, NULL},
    END,
};

const struct vfy_key vfy_failover_keys[] = {
    {"max", VT_DUR, NULL, true, OFF(vfy_failover_cfg, max_ns), 0, NULL},
    {"sustain", VT_MAP, sustain_keys, false, OFF(vfy_failover_cfg, sustain), 0, NULL},
    {"classes", VT_NAMELIST, NULL, false, OFF(vfy_failover_cfg, classes), 0, NULL},
    {"anchor", VT_ENUM, failover_anchor, false, OFF(vfy_failover_cfg, anchor), 0, NULL},
    {"groups", VT_NAMELIST, NULL, false, OFF(vfy_failover_cfg, groups), 0, NULL},
    END,
};

const struct vfy_key vfy_failback_keys[] = {
    {"max", VT_DUR, NULL, true, OFF(vfy_failback_cfg, max_ns), 0, NULL},
    {"writes", VT_ENUM, failback_writes, false, 0, 0, fb_writes},
    {"sustain", VT_MAP, sustain_keys, false, OFF(vfy_failback_cfg, sustain), 0, NULL},
    {"classes", VT_NAMELIST, NULL, false, OFF(vfy_failback_cfg, classes), 0, NULL},
    {"anchor", VT_ENUM, failback_anchor, false, OFF(vfy_failback_cfg, anchor), 0, NULL},
    END,
};

const struct vfy_key vfy_read_only_keys[] = {
    {"allowed", VT_NAMELIST, NULL, true, OFF(vfy_read_only_cfg, allowed), 0, NULL},
    {"grace", VT_DUR, NULL, false, OFF(vfy_read_only_cfg, grace_ns), VFY_K_CLAMP0, NULL},
    {"start", VT_DUR, NULL, false, OFF(vfy_read_only_cfg, start_after_ns), 0, NULL},
    END,
};

/* consistency first: the preset is applied before the explicit bounds that override it */
const struct vfy_key vfy_data_loss_keys[] = {
    {"consistency", VT_ENUM, consistency_vals, false, 0, VFY_K_FROM_STRING, dl_consistency},
    {"max_updates", VT_UINT, NULL, false, OFF(vfy_data_loss_cfg, max_updates), 0, NULL},
    {"max_window", VT_DUR, NULL, false, OFF(vfy_data_loss_cfg, max_window_ns), 0, NULL},
    {"max_after", VT_DUR, NULL, false, OFF(vfy_data_loss_cfg, max_after_ns), 0, NULL},
    END,
};

const struct vfy_key vfy_staleness_keys[] = {
    {"consistency", VT_ENUM, consistency_vals, false, 0, VFY_K_JSON_ONLY, st_consistency},
    {"max_versions", VT_UINT, NULL, false, OFF(vfy_staleness_cfg, max_versions), 0, NULL},
    {"max_lag", VT_DUR, NULL, false, OFF(vfy_staleness_cfg, max_lag_ns), 0, NULL},
    {"read_your_writes", VT_BOOL, NULL, false, OFF(vfy_staleness_cfg, read_your_writes), 0, NULL},
    {"monotonic_reads", VT_BOOL, NULL, false, OFF(vfy_staleness_cfg, monotonic_reads), 0, NULL},
    {"ops", VT_NAMELIST, NULL, false, OFF(vfy_staleness_cfg, ops), 0, NULL},
    END,
};

const struct vfy_key vfy_availability_keys[] = {
    {"before", VT_RATIOMAP, NULL, false, 0, 0, av_phase},
    {"during", VT_RATIOMAP, NULL, false, 0, 0, av_phase},
    {"after", VT_RATIOMAP, NULL, false, 0, 0, av_phase},
    {"floors", VT_RATIOMAP, NULL, false, 0, VFY_K_JSON_ONLY, av_floors},
    {"groups", VT_NAMELIST, NULL, false, OFF(vfy_availability_cfg, groups), 0, NULL},
    END,
};

const struct vfy_key vfy_linearizable_keys[] = {
    {"budget", VT_DUR, NULL, false, OFF(vfy_linearizable_cfg, budget_ns), VFY_K_CLAMP0, NULL},
    {"max_states", VT_UINT, NULL, false, OFF(vfy_linearizable_cfg, max_states), 0, NULL},
    END,
};

const struct vfy_key vfy_routing_keys[] = {
    {"preferred", VT_NAMELIST, NULL, true, OFF(vfy_routing_cfg, preferred), 0, NULL},
    {"lost", VT_NAMELIST, NULL, true, OFF(vfy_routing_cfg, lost), 0, NULL},
    {"ratio", VT_RATIO, NULL, false, OFF(vfy_routing_cfg, min_ratio), 0, NULL},
    {"settle", VT_DUR, NULL, false, OFF(vfy_routing_cfg, settle_ns), VFY_K_CLAMP0, NULL},
    {"ops", VT_NAMELIST, NULL, false, OFF(vfy_routing_cfg, ops), 0, NULL},
    END,
};

/* conflict_feed: no bounds (the feed itself is data the run loop fills in) */
const struct vfy_key vfy_conflict_feed_keys[] = {
    END,
};

/* verify.regression.<figure>: {relative: ratio, absolute: the figure's unit}. */
#define TOL(name, abs_type, abs_field, i)                                              \
    static const struct vfy_key name[] = {                                             \
        {"relative", VT_RATIO, NULL, false,                                            \
         i * sizeof(struct regression_tol) + OFF(regression_tol, relative), 0, NULL},  \
        {"absolute", abs_type, NULL, false,                                            \
         i * sizeof(struct regression_tol) + OFF(regression_tol, abs_field), 0, NULL}, \
        END,                                                                           \
    }
TOL(tol_failover, VT_DUR, dur, 0);
TOL(tol_failback, VT_DUR, dur, 1);
TOL(tol_data_lost, VT_UINT, count, 2);
TOL(tol_availability, VT_RATIO, ratio, 3);
TOL(tol_rate, VT_UINT, count, 4);
TOL(tol_latency, VT_DUR, dur, 5);

static const struct vfy_key regression_keys[] = {
    {"failover", VT_MAP, tol_failover, false, 0, 0, NULL},
    {"failback", VT_MAP, tol_failback, false, 0, 0, NULL},
    {"data_lost", VT_MAP, tol_data_lost, false, 0, 0, NULL},
    {"availability", VT_MAP, tol_availability, false, 0, 0, NULL},
    {"rate", VT_MAP, tol_rate, false, 0, 0, NULL},
    {"latency_p99", VT_MAP, tol_latency, false, 0, 0, NULL},
    END,
};

/* Keys of verify: besides the verifiers' sections, applied after them. */
static const struct vfy_key shared_keys[] = {
    {"sustain", VT_MAP, sustain_keys, false, 0, 0, shared_sustain},
    {"grace", VT_DUR, NULL, false, 0, 0, shared_grace},
    {"allow_inconclusive", VT_ENUMLIST, verifier_names, false, OFF(vfy_config, allow_inconclusive),
     0, NULL},
    {"regression", VT_MAP, regression_keys, false, 0, 0, shared_regression},
    END,
};

/* ---- the JSON reader ---- */

static const char *key_list(const struct vfy_key *keys, char *buf, size_t len)
{
    size_t i;

    buf[0] = '\0';
    for (i = 0; keys[i].key != NULL; i++)
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? ", " : "", keys[i].key);
    return buf;
}

/* One key's value into base + k->off (or through k->apply). */
static int apply_key(struct vfy_config *cfg, void *base, const struct vfy_key *k, const json_t *v,
                     const json_t *parent, const char *where, struct fl_err *err)
{
    char *at = (char *)base + k->off;
    int64_t *i64 = (int64_t *)at;
    int r = 0;

    if (k->apply != NULL)
        return k->apply(cfg, base, k, v, parent, where, err);
    switch (k->type) {
    case VT_MAP:
        return apply_section(cfg, at, k->sub, v, where, err);
    case VT_DUR:
        if ((r = j_dur(v, where, i64, err)) == 0 && *i64 < 0 && (k->flags & VFY_K_NOT_NULL))
            r = fl_errf(err, -EINVAL, "%s: must be a duration", where);
        if (r == 0 && *i64 < 0 && (k->flags & VFY_K_CLAMP0))
            *i64 = 0;
        return r;
    case VT_UINT:
        return j_count(v, where, i64, err);
    case VT_RATIO:
        return j_ratio(v, where, (double *)at, err);
    case VT_BOOL:
        if (!json_is_boolean(v))
            return fl_errf(err, -EINVAL, "%s: expected true or false", where);
        *(bool *)at = json_is_true(v);
        return 0;
    case VT_ENUM:
        return j_enum(v, where, k->sub, (int *)at, err);
    case VT_NAMELIST:
    case VT_ENUMLIST:
        return j_names(v, where, k->type == VT_ENUMLIST ? k->sub : NULL, (struct vfy_names *)at,
                       err);
    default:
        return fl_errf(err, -EINVAL, "%s: unsupported value", where);
    }
}

/* An object checked against keys and applied in schema order (presets first). */
static int apply_section(struct vfy_config *cfg, void *base, const struct vfy_key *keys,
                         const json_t *v, const char *where, struct fl_err *err)
{
    const char *name;
    json_t *x;
    char w[256], list[256];
    size_t i;

    if (json_is_string(v) && (keys[0].flags & VFY_K_FROM_STRING)) /* data_loss: strong */
        return apply_key(cfg, base, &keys[0], v, NULL, where, err);
    if (!json_is_object(v))
        return fl_errf(err, -EINVAL, "%s: expected an object with the keys %s", where,
                       key_list(keys, list, sizeof(list)));
    json_object_foreach((json_t *)v, name, x)
    {
        for (i = 0; keys[i].key != NULL && strcmp(keys[i].key, name) != 0; i++)
            ;
        if (keys[i].key == NULL)
            return fl_errf(err, -EINVAL, "%s.%s: unknown key (expected %s)", where, name,
                           key_list(keys, list, sizeof(list)));
    }
    for (i = 0; keys[i].key != NULL; i++) {
        x = json_object_get(v, keys[i].key);
        snprintf(w, sizeof(w), "%s.%s", where, keys[i].key);
        if (x != NULL && apply_key(cfg, base, &keys[i], x, v, w, err) < 0)
            return -EINVAL;
    }
    return 0;
}

static const struct vfy_kind *kind_find(const char *name)
{
    const struct vfy_kind *k;

    for (k = vfy_kinds; k->name != NULL; k++) {
        if (strcmp(k->name, name) == 0)
            return k;
    }
    return NULL;
}

static const struct vfy_key *shared_find(const char *name)
{
    size_t i;

    for (i = 0; shared_keys[i].key != NULL; i++) {
        if (strcmp(shared_keys[i].key, name) == 0)
            return &shared_keys[i];
    }
    return NULL;
}

int vfy_config_from_json(const json_t *j, struct vfy_config *cfg, struct fl_err *err)
{
    const struct vfy_kind *k;
    const char *name;
    json_t *x;
    char list[256] = "";
    size_t i;

    vfy_schema(); /* fills verifier_names */
    if (!json_is_object(j))
        return fl_errf(err, -EINVAL, "verify: expected an object");
    json_object_foreach((json_t *)j, name, x)
    {
        if (kind_find(name) != NULL || shared_find(name) != NULL)
            continue;
        for (k = vfy_kinds; k->name != NULL; k++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s, ", k->name);
        return fl_errf(err, -EINVAL, "verify.%s: unknown verifier (expected %s%s)", name, list,
                       key_list(shared_keys, list + strlen(list), sizeof(list) - strlen(list)));
    }
    for (k = vfy_kinds; k->name != NULL; k++) {
        x = json_object_get(j, k->name);
        if (x == NULL)
            continue;
        if (apply_section(cfg, (char *)cfg + k->section_off, k->keys, x, k->name, err) < 0)
            return -EINVAL;
        *(bool *)((char *)cfg + k->enabled_off) = true;
    }
    for (i = 0; shared_keys[i].key != NULL; i++) {
        x = json_object_get(j, shared_keys[i].key);
        if (x != NULL && apply_key(cfg, cfg, &shared_keys[i], x, j, shared_keys[i].key, err) < 0)
            return -EINVAL;
    }
    return 0;
}

/* ---- the same rows as value specs, for the experiment parser ---- */

static struct vspec spec_pool[128];
static size_t spec_used;
static const struct vspec *spec_top;

/* The value specs of keys (JSON-only keys left out), built once into spec_pool. */
static const struct vspec *spec_build(const struct vfy_key *keys, const struct vfy_kind *kinds)
{
    size_t n = 0, i, at = spec_used;
    struct vspec *out = &spec_pool[at];

    for (i = 0; kinds != NULL && kinds[i].name != NULL; i++)
        n++;
    for (i = 0; keys[i].key != NULL; i++)
        n += !(keys[i].flags & VFY_K_JSON_ONLY);
    if (at + n + 1 > sizeof(spec_pool) / sizeof(spec_pool[0]))
        abort(); /* the pool is sized for the schema above */
    spec_used += n + 1;
    n = 0;
    for (i = 0; kinds != NULL && kinds[i].name != NULL; i++)
        out[n++] = (struct vspec){kinds[i].name, VT_MAP, spec_build(kinds[i].keys, NULL), false};
    for (i = 0; keys[i].key != NULL; i++) {
        const struct vfy_key *k = &keys[i];

        if (k->flags & VFY_K_JSON_ONLY)
            continue;
        out[n++] = (struct vspec){
            k->key, k->type, k->type == VT_MAP ? spec_build(k->sub, NULL) : k->sub, k->required};
    }
    out[n] = (struct vspec){NULL, VT_STR, NULL, false};
    return out;
}

static void schema_init(void)
{
    size_t i;

    for (i = 0; vfy_kinds[i].name != NULL && i + 1 < sizeof(verifier_names) / sizeof(char *); i++)
        verifier_names[i] = vfy_kinds[i].name;
    spec_top = spec_build(shared_keys, vfy_kinds);
}

const struct vspec *vfy_schema(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, schema_init);
    return spec_top;
}
