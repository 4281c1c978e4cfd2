/*
 * The verifiers' front door: configuration defaults, consistency presets,
 * the JSON form of `verify:`, the shared analysis context (records in invoke
 * order, operation classes, index lists), result helpers and vfy_run_all,
 * which builds the context once and runs every enabled verifier over it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/err.h"
#include "faultline/timeutil.h"
#include "vfy_internal.h"

#define NS_S   1000000000LL
#define NS_MIN (60 * NS_S)

void vfy_config_init_defaults(struct vfy_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->failover.max_ns = VFY_UNBOUNDED;
    cfg->failover.sustain.window_ns = 2 * NS_S;
    cfg->failover.sustain.min_ratio = 0.95;
    cfg->failover.anchor = VFY_ANCHOR_DONE;
    cfg->failback.max_ns = VFY_UNBOUNDED;
    cfg->failback.sustain = cfg->failover.sustain;
    cfg->failback.anchor = VFY_ANCHOR_DONE;
    cfg->read_only.grace_ns = 0;
    cfg->read_only.start_after_ns = -1;
    cfg->data_loss.max_updates = VFY_UNBOUNDED;
    cfg->data_loss.max_window_ns = VFY_UNBOUNDED;
    cfg->staleness.max_versions = VFY_UNBOUNDED;
    cfg->staleness.max_lag_ns = VFY_UNBOUNDED;
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
        dl->max_window_ns = 5 * NS_MIN;
    } else if (strcmp(level, "session") == 0 || strcmp(level, "prefix") == 0 ||
               strcmp(level, "consistent-prefix") == 0 || strcmp(level, "eventual") == 0) {
        dl->consistency = level[0] == 's'   ? VFY_CONS_SESSION
                          : level[0] == 'e' ? VFY_CONS_EVENTUAL
                                            : VFY_CONS_PREFIX;
        dl->max_updates = VFY_UNBOUNDED;
        dl->max_window_ns = 15 * NS_MIN;
    } else {
        return fl_errf(err, -EINVAL,
                       "unknown consistency level '%s' (expected strong, bounded, session, "
                       "prefix or eventual)",
                       level);
    }
    dl->enabled = true;
    return 0;
}

/* ---- JSON form of verify: ---------------------------------------------- */

static int j_dur(const json_t *v, const char *where, int64_t *ns, struct fl_err *err)
{
    if (json_is_null(v)) {
        *ns = VFY_UNBOUNDED;
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

static int j_bool(const json_t *v, const char *where, bool *out, struct fl_err *err)
{
    if (!json_is_boolean(v))
        return fl_errf(err, -EINVAL, "%s: expected true or false", where);
    *out = json_is_true(v);
    return 0;
}

static int j_names(const json_t *v, const char *where, struct vfy_names *n, struct fl_err *err)
{
    size_t i;
    json_t *x;

    if (!json_is_array(v))
        return fl_errf(err, -EINVAL, "%s: expected a list of operation names", where);
    if (json_array_size(v) > VFY_NAMES_MAX)
        return fl_errf(err, -EINVAL, "%s: more than %d names", where, VFY_NAMES_MAX);
    n->n = 0;
    json_array_foreach(v, i, x)
    {
        if (!json_is_string(x) || json_string_length(x) == 0 ||
            json_string_length(x) >= VFY_NAME_LEN)
            return fl_errf(err, -EINVAL, "%s[%zu]: expected a name of 1..%d characters", where, i,
                           VFY_NAME_LEN - 1);
        strcpy(n->name[n->n++], json_string_value(x));
    }
    return 0;
}

static int j_sustain(const json_t *v, const char *where, struct vfy_sustain *s, struct fl_err *err)
{
    const char *k;
    json_t *x;
    char w[512];

    if (!json_is_object(v))
        return fl_errf(err, -EINVAL, "%s: expected {window: 2s, ratio: 0.95}", where);
    json_object_foreach((json_t *)v, k, x)
    {
        snprintf(w, sizeof(w), "%s.%s", where, k);
        if (strcmp(k, "window") == 0) {
            if (j_dur(x, w, &s->window_ns, err) < 0)
                return -EINVAL;
            if (s->window_ns < 0)
                return fl_errf(err, -EINVAL, "%s: must be a duration", w);
        } else if (strcmp(k, "ratio") == 0) {
            if (j_ratio(x, w, &s->min_ratio, err) < 0)
                return -EINVAL;
        } else {
            return fl_errf(err, -EINVAL, "%s: unknown key (expected window, ratio)", w);
        }
    }
    return 0;
}

static int j_failover(const json_t *v, struct vfy_config *cfg, bool back, struct fl_err *err)
{
    const char *sec = back ? "failback" : "failover";
    struct vfy_sustain *sus = back ? &cfg->failback.sustain : &cfg->failover.sustain;
    struct vfy_names *classes = back ? &cfg->failback.classes : &cfg->failover.classes;
    int64_t *max = back ? &cfg->failback.max_ns : &cfg->failover.max_ns;
    enum vfy_anchor *anchor = back ? &cfg->failback.anchor : &cfg->failover.anchor;
    const char *k;
    json_t *x;
    char w[256];

    if (!json_is_object(v))
        return fl_errf(err, -EINVAL, "%s: expected an object such as {max: 180s}", sec);
    json_object_foreach((json_t *)v, k, x)
    {
        snprintf(w, sizeof(w), "%s.%s", sec, k);
        if (strcmp(k, "max") == 0) {
            if (j_dur(x, w, max, err) < 0)
                return -EINVAL;
        } else if (strcmp(k, "classes") == 0) {
            if (j_names(x, w, classes, err) < 0)
                return -EINVAL;
        } else if (strcmp(k, "sustain") == 0) {
            if (j_sustain(x, w, sus, err) < 0)
                return -EINVAL;
        } else if (strcmp(k, "anchor") == 0) {
            const char *s = json_string_value(x);
            const char *done = back ? "heal_done" : "apply_done";
            const char *sent = back ? "heal_sent" : "apply_sent";

            if (s != NULL && strcmp(s, done) == 0)
                *anchor = VFY_ANCHOR_DONE;
            else if (s != NULL && strcmp(s, sent) == 0)
                *anchor = VFY_ANCHOR_SENT;
            else
                return fl_errf(err, -EINVAL, "%s: expected \"%s\" or \"%s\"", w, done, sent);
        } else if (back && strcmp(k, "writes") == 0) {
            const char *s = json_string_value(x);

            if (json_is_boolean(x))
                cfg->failback.writes_required = json_is_true(x);
            else if (s != NULL && strcmp(s, "required") == 0)
                cfg->failback.writes_required = true;
            else if (s != NULL && strcmp(s, "optional") == 0)
                cfg->failback.writes_required = false;
            else
                return fl_errf(err, -EINVAL, "%s: expected \"required\" or \"optional\"", w);
        } else {
            return fl_errf(err, -EINVAL, "%s: unknown key (expected max, classes, sustain, %s)", w,
                           back ? "anchor, writes" : "anchor");
        }
    }
    if (back)
        cfg->failback.enabled = true;
    else
        cfg->failover.enabled = true;
    return 0;
}

static int j_read_only(const json_t *v, struct vfy_read_only_cfg *ro, struct fl_err *err)
{
    const char *k;
    json_t *x;
    char w[256];

    if (!json_is_object(v))
        return fl_errf(err, -EINVAL, "read_only: expected an object such as {allowed: [...]}");
    json_object_foreach((json_t *)v, k, x)
    {
        snprintf(w, sizeof(w), "read_only.%s", k);
        if (strcmp(k, "allowed") == 0) {
            if (j_names(x, w, &ro->allowed, err) < 0)
                return -EINVAL;
        } else if (strcmp(k, "grace") == 0) {
            if (j_dur(x, w, &ro->grace_ns, err) < 0)
                return -EINVAL;
            if (ro->grace_ns < 0)
                ro->grace_ns = 0;
        } else if (strcmp(k, "start") == 0) {
            if (j_dur(x, w, &ro->start_after_ns, err) < 0)
                return -EINVAL;
        } else {
            return fl_errf(err, -EINVAL, "%s: unknown key (expected allowed, grace, start)", w);
        }
    }
    ro->enabled = true;
    return 0;
}

static int j_data_loss(const json_t *v, struct vfy_data_loss_cfg *dl, struct fl_err *err)
{
    const char *k;
    json_t *x;
    char w[256];

    if (json_is_string(v)) {
        if (vfy_data_loss_preset(dl, json_string_value(v), err) < 0) {
            fl_err_prefix(err, "data_loss");
            return -EINVAL;
        }
        return 0;
    }
    if (!json_is_object(v))
        return fl_errf(err, -EINVAL,
                       "data_loss: expected {max_updates: N, max_window: T} or a consistency "
                       "level");
    /* The preset first, so that explicit bounds override it. */
    x = json_object_get(v, "consistency");
    if (x != NULL) {
        if (!json_is_string(x))
            return fl_errf(err, -EINVAL, "data_loss.consistency: expected a level name");
        if (vfy_data_loss_preset(dl, json_string_value(x), err) < 0) {
            fl_err_prefix(err, "data_loss.consistency");
            return -EINVAL;
        }
    }
    json_object_foreach((json_t *)v, k, x)
    {
        snprintf(w, sizeof(w), "data_loss.%s", k);
        if (strcmp(k, "consistency") == 0)
            continue;
        if (strcmp(k, "max_updates") == 0) {
            if (j_count(x, w, &dl->max_updates, err) < 0)
                return -EINVAL;
        } else if (strcmp(k, "max_window") == 0) {
            if (j_dur(x, w, &dl->max_window_ns, err) < 0)
                return -EINVAL;
        } else {
            return fl_errf(err, -EINVAL,
                           "%s: unknown key (expected max_updates, max_window, consistency)", w);
        }
    }
    dl->enabled = true;
    return 0;
}

static int j_staleness(const json_t *v, struct vfy_staleness_cfg *st, struct fl_err *err)
{
    const char *k;
    json_t *x;
    char w[256];

    if (!json_is_object(v))
        return fl_errf(err, -EINVAL, "staleness: expected an object such as {max_versions: 10}");
    x = json_object_get(v, "consistency");
    if (x != NULL) {
        const char *s = json_string_value(x);

        if (s != NULL && (strcmp(s, "bounded") == 0 || strcmp(s, "bounded-staleness") == 0)) {
            st->max_versions = 100000;
            st->max_lag_ns = 5 * NS_MIN;
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
            return fl_errf(err, -EINVAL,
                           "staleness.consistency: expected strong, bounded, session, prefix "
                           "or eventual");
        }
    }
    json_object_foreach((json_t *)v, k, x)
    {
        snprintf(w, sizeof(w), "staleness.%s", k);
        if (strcmp(k, "consistency") == 0)
            continue;
        if (strcmp(k, "max_versions") == 0) {
            if (j_count(x, w, &st->max_versions, err) < 0)
                return -EINVAL;
        } else if (strcmp(k, "max_lag") == 0) {
            if (j_dur(x, w, &st->max_lag_ns, err) < 0)
                return -EINVAL;
        } else if (strcmp(k, "read_your_writes") == 0) {
            if (j_bool(x, w, &st->read_your_writes, err) < 0)
                return -EINVAL;
        } else if (strcmp(k, "monotonic_reads") == 0) {
            if (j_bool(x, w, &st->monotonic_reads, err) < 0)
                return -EINVAL;
        } else if (strcmp(k, "ops") == 0) {
            if (j_names(x, w, &st->ops, err) < 0)
                return -EINVAL;
        } else {
            return fl_errf(err, -EINVAL,
                           "%s: unknown key (expected max_versions, max_lag, read_your_writes, "
                           "monotonic_reads, ops, consistency)",
                           w);
        }
    }
    st->enabled = true;
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

static int j_availability(const json_t *v, struct vfy_availability_cfg *av, struct fl_err *err)
{
    static const char *const phases[] = {"before", "during", "after"};
    const char *k, *pk;
    json_t *x, *fl, *px;
    char w[160];
    int p;

    if (!json_is_object(v))
        return fl_errf(err, -EINVAL, "availability: expected an object such as {floors: {...}}");
    json_object_foreach((json_t *)v, k, x)
    {
        if (strcmp(k, "floors") != 0)
            return fl_errf(err, -EINVAL, "availability.%s: unknown key (expected floors)", k);
    }
    fl = json_object_get(v, "floors");
    if (fl != NULL && !json_is_object(fl))
        return fl_errf(err, -EINVAL,
                       "availability.floors: expected {class: ratio} or {class: {phase: ratio}}");
    if (fl != NULL) {
        json_object_foreach(fl, k, x)
        {
            snprintf(w, sizeof(w), "availability.floors.%s", k);
            if (json_is_number(x)) {
                if (add_floor(av, k, VFY_PHASE_ANY, x, w, err) < 0)
                    return -EINVAL;
                continue;
            }
            if (!json_is_object(x))
                return fl_errf(err, -EINVAL, "%s: expected a ratio or {phase: ratio}", w);
            json_object_foreach(x, pk, px)
            {
                snprintf(w, sizeof(w), "availability.floors.%s.%s", k, pk);
                for (p = 0; p < 3; p++) {
                    if (strcmp(pk, phases[p]) == 0)
                        break;
                }
                if (p == 3)
                    return fl_errf(err, -EINVAL,
                                   "%s: unknown phase (expected before, during, after)", w);
                if (add_floor(av, k, p, px, w, err) < 0)
                    return -EINVAL;
            }
        }
    }
    av->enabled = true;
    return 0;
}

int vfy_config_from_json(const json_t *j, struct vfy_config *cfg, struct fl_err *err)
{
    const char *k;
    json_t *x;
    int r = 0;

    if (!json_is_object(j))
        return fl_errf(err, -EINVAL, "verify: expected an object");
    json_object_foreach((json_t *)j, k, x)
    {
        if (strcmp(k, "failover") == 0)
            r = j_failover(x, cfg, false, err);
        else if (strcmp(k, "failback") == 0)
            r = j_failover(x, cfg, true, err);
        else if (strcmp(k, "read_only") == 0)
            r = j_read_only(x, &cfg->read_only, err);
        else if (strcmp(k, "data_loss") == 0)
            r = j_data_loss(x, &cfg->data_loss, err);
        else if (strcmp(k, "staleness") == 0)
            r = j_staleness(x, &cfg->staleness, err);
        else if (strcmp(k, "availability") == 0)
            r = j_availability(x, &cfg->availability, err);
        else
            r = fl_errf(err, -EINVAL,
                        "verify.%s: unknown verifier (expected failover, failback, read_only, "
                        "data_loss, staleness, availability)",
                        k);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- analysis context ------------------------------------------------- */

/* Stable merge sort of record numbers by invoke time. */
static void sort_idx(uint32_t *a, uint32_t *tmp, size_t n, const struct hist_op *ops)
{
    size_t mid = n / 2, i = 0, j = mid, k = 0;

    if (n < 2)
        return;
    sort_idx(a, tmp, mid, ops);
    sort_idx(a + mid, tmp, n - mid, ops);
    if (ops[a[mid - 1]].invoke_ns <= ops[a[mid]].invoke_ns)
        return;
    while (i < mid && j < n)
        tmp[k++] = ops[a[j]].invoke_ns < ops[a[i]].invoke_ns ? a[j++] : a[i++];
    while (i < mid)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof(*a));
}

static int fault_cmp(const void *a, const void *b)
{
    const struct hist_fault *x = *(const struct hist_fault *const *)a;
    const struct hist_fault *y = *(const struct hist_fault *const *)b;

    if (x->apply_sent_ns != y->apply_sent_ns)
        return x->apply_sent_ns < y->apply_sent_ns ? -1 : 1;
    return strcmp(x->id, y->id);
}

int vfy_ctx_init(struct vfy_ctx *c, const struct hist *h, const struct hist_faults *fs,
                 struct fl_err *err)
{
    size_t i;

    memset(c, 0, sizeof(*c));
    c->h = h;
    c->n = h->n;
    c->ops = h->ops;
    if (h->n >= UINT32_MAX / 4)
        return fl_errf(err, -E2BIG, "history of %zu records is too large", h->n);
    c->nclasses = 2 + (uint32_t)h->op_names.n;
    c->nregions = (uint32_t)(h->regions.n ? h->regions.n : 1);
    /* Indexes are trusted below (arrays are sized from the tables): check them once. */
    for (i = 0; i < h->n; i++) {
        const struct hist_op *o = &h->ops[i];

        if (o->op >= h->op_names.n || o->key >= h->keys.n || o->region >= h->regions.n ||
            o->error >= h->errors.n || o->outcome > HIST_INFO || o->complete_ns < o->invoke_ns)
            return fl_errf(err, -EINVAL,
                           "history record %zu is inconsistent (name index out of range, bad "
                           "outcome or completion before invocation)",
                           i);
    }
    for (i = 1; i < h->n; i++) {
        if (h->ops[i].invoke_ns < h->ops[i - 1].invoke_ns)
            break;
    }
    if (i < h->n) {
        uint32_t *tmp = malloc(h->n * sizeof(*tmp));

        c->orig = malloc(h->n * sizeof(*c->orig));
        c->sorted = malloc(h->n * sizeof(*c->sorted));
        if (tmp == NULL || c->orig == NULL || c->sorted == NULL) {
            free(tmp);
            vfy_ctx_free(c);
            return fl_errf(err, -ENOMEM, "out of memory sorting the history");
        }
        for (i = 0; i < h->n; i++)
            c->orig[i] = (uint32_t)i;
        sort_idx(c->orig, tmp, h->n, h->ops);
        free(tmp);
        for (i = 0; i < h->n; i++)
            c->sorted[i] = h->ops[c->orig[i]];
        c->ops = c->sorted;
    }
    if (fs != NULL && fs->n > 0) {
        c->faults = malloc(fs->n * sizeof(*c->faults));
        if (c->faults == NULL) {
            vfy_ctx_free(c);
            return fl_errf(err, -ENOMEM, "out of memory");
        }
        for (i = 0; i < fs->n; i++)
            c->faults[i] = &fs->f[i];
        c->nfaults = fs->n;
        qsort(c->faults, c->nfaults, sizeof(*c->faults), fault_cmp);
    }
    return 0;
}

int vfy_ctx_lists(struct vfy_ctx *c, struct fl_err *err)
{
    size_t nl, i, total = 0, first;
    uint32_t *fill, *okrun = NULL;
    uint32_t stride = c->nregions + 1;

    if (c->lstart != NULL)
        return 0;
    nl = (size_t)c->nclasses * stride;
    /* Every anchor (fault start, heal) is at or after the first fault's
     * apply_sent: records invoked before it are never searched. */
    first = c->nfaults ? vfy_lower_bound(c, c->faults[0]->apply_sent_ns) : c->n;
    c->lstart = calloc(nl + 1, sizeof(*c->lstart));
    fill = malloc((nl + 1) * sizeof(*fill));
    if (c->lstart == NULL || fill == NULL)
        goto oom;
    c->ccount = calloc(c->nclasses, sizeof(*c->ccount));
    c->opw = calloc(c->nclasses, 1);
    if (c->ccount == NULL || c->opw == NULL)
        goto oom;
    for (i = 0; i < c->n; i++) {
        const struct hist_op *o = &c->ops[i];
        uint32_t rw = o->is_write ? VFY_CLASS_WRITE : VFY_CLASS_READ, oc = 2u + o->op;

        if (o->is_final)
            continue;
        c->ccount[rw]++;
        c->ccount[oc]++;
        c->opw[o->op] |= o->is_write;
        if (i < first)
            continue;
        c->lstart[rw * stride]++;
        c->lstart[rw * stride + 1 + o->region]++;
        c->lstart[oc * stride]++;
        c->lstart[oc * stride + 1 + o->region]++;
        total += 4;
    }
    {
        uint32_t run = 0;

        for (i = 0; i <= nl; i++) {
            uint32_t cnt = c->lstart[i];

            c->lstart[i] = run;
            fill[i] = run;
            run += cnt;
        }
    }
    c->lidx = malloc((total ? total : 1) * sizeof(*c->lidx));
    c->okcum = malloc((total + 1) * sizeof(*c->okcum));
    okrun = calloc(nl + 1, sizeof(*okrun));
    if (c->lidx == NULL || c->okcum == NULL || okrun == NULL)
        goto oom;
    /* okcum is kept per list (ok records before this position in its own list),
     * written during the fill so no pass re-reads records at random. */
    for (i = first; i < c->n; i++) {
        const struct hist_op *o = &c->ops[i];
        uint32_t rw = o->is_write ? VFY_CLASS_WRITE : VFY_CLASS_READ, oc = 2u + o->op;
        uint32_t ok = o->outcome == HIST_OK, L[4], j;

        if (o->is_final)
            continue;
        L[0] = rw * stride;
        L[1] = rw * stride + 1 + o->region;
        L[2] = oc * stride;
        L[3] = oc * stride + 1 + o->region;
        for (j = 0; j < 4; j++) {
            uint32_t at = fill[L[j]]++;

            c->lidx[at] = (uint32_t)i;
            c->okcum[at] = okrun[L[j]];
            okrun[L[j]] += ok;
        }
    }
    /* the slot just past a list holds that list's total, read as "ok before end" */
    c->oktot = okrun;
    okrun = NULL;
    free(fill);
    return 0;
oom:
    free(fill);
    free(okrun);
    free(c->ccount);
    free(c->opw);
    c->ccount = NULL;
    c->opw = NULL;
    free(c->lstart);
    free(c->lidx);
    free(c->okcum);
    c->lstart = c->lidx = c->okcum = NULL;
    return fl_errf(err, -ENOMEM, "out of memory building the class index");
}

void vfy_ctx_free(struct vfy_ctx *c)
{
    if (c == NULL)
        return;
    free(c->sorted);
    free(c->orig);
    free(c->lstart);
    free(c->lidx);
    free(c->okcum);
    free(c->oktot);
    free(c->ccount);
    free(c->opw);
    free(c->faults);
    memset(c, 0, sizeof(*c));
}

const char *vfy_class_name(const struct vfy_ctx *c, uint32_t cls)
{
    if (cls == VFY_CLASS_READ)
        return "read";
    if (cls == VFY_CLASS_WRITE)
        return "write";
    return c->h->op_names.s[cls - 2];
}

int vfy_class_find(const struct vfy_ctx *c, const char *name)
{
    size_t i;

    if (strcmp(name, "read") == 0)
        return VFY_CLASS_READ;
    if (strcmp(name, "write") == 0)
        return VFY_CLASS_WRITE;
    for (i = 1; i < c->h->op_names.n; i++) {
        if (strcmp(c->h->op_names.s[i], name) == 0)
            return (int)(2 + i);
    }
    return -1;
}

uint32_t vfy_record_no(const struct vfy_ctx *c, size_t pos)
{
    return c->orig ? c->orig[pos] : (uint32_t)pos;
}

size_t vfy_lower_bound(const struct vfy_ctx *c, int64_t t)
{
    size_t lo = 0, hi = c->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (c->ops[mid].invoke_ns < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const char *outcome_name(unsigned o)
{
    return o == HIST_OK ? "ok" : o == HIST_FAIL ? "fail" : "info";
}

json_t *vfy_record_json(const struct vfy_ctx *c, size_t pos)
{
    const struct hist_op *o = &c->ops[pos];
    const struct hist *h = c->h;
    json_t *j;

    j = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "record",
                  (json_int_t)vfy_record_no(c, pos), "client", (json_int_t)o->client, "op",
                  h->op_names.s[o->op], "type", o->is_write ? "write" : "read", "key",
                  h->keys.s[o->key], "region", h->regions.s[o->region], "invoke_ns",
                  (json_int_t)o->invoke_ns, "complete_ns", (json_int_t)o->complete_ns, "outcome",
                  outcome_name(o->outcome));
    if (j == NULL)
        return NULL;
    json_object_set_new(j, "value", o->value ? json_integer((json_int_t)o->value) : json_null());
    if (o->error != 0)
        json_object_set_new(j, "error", json_string(h->errors.s[o->error]));
    return j;
}

void vfy_record_text(const struct vfy_ctx *c, size_t pos, struct fl_buf *b)
{
    const struct hist_op *o = &c->ops[pos];
    const struct hist *h = c->h;

    fl_buf_printf(b, "record %" PRIu32 " (client %" PRIu32 " %s %s", vfy_record_no(c, pos),
                  o->client, h->op_names.s[o->op], h->keys.s[o->key]);
    if (o->value != 0)
        fl_buf_printf(b, "=%" PRIu64, o->value);
    fl_buf_printf(b, " %s", outcome_name(o->outcome));
    if (o->region != 0)
        fl_buf_printf(b, " via %s", h->regions.s[o->region]);
    fl_buf_printf(b, ", invoked at %" PRId64 " ns)", o->invoke_ns);
}

json_t *vfy_json_ms(int64_t ns)
{
    if (ns % 1000000 == 0)
        return json_integer((json_int_t)(ns / 1000000));
    return json_real((double)ns / 1e6);
}

const char *vfy_dur(int64_t ns, char *buf, size_t len)
{
    if (ns < 0) {
        char tmp[48];

        snprintf(buf, len, "-%s", fl_duration_format(-ns, tmp, sizeof(tmp)));
        return buf;
    }
    return fl_duration_format(ns, buf, len);
}

bool vfy_names_has(const struct vfy_names *n, const char *s)
{
    size_t i;

    for (i = 0; i < n->n; i++) {
        if (strcmp(n->name[i], s) == 0)
            return true;
    }
    return false;
}

/* ---- results ---------------------------------------------------------- */

int vfy_result_begin(struct vfy_result *r, const char *name)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->pass = true;
    r->measured = json_object();
    r->bound = json_object();
    if (r->measured == NULL || r->bound == NULL) {
        vfy_result_free(r);
        return -ENOMEM;
    }
    return 0;
}

void vfy_result_set_detail(struct vfy_result *r, struct fl_buf *b)
{
    free(r->detail);
    r->detail = fl_buf_take(b);
    if (r->detail == NULL)
        r->detail = strdup("");
}

int vfy_result_skip(struct vfy_result *r, const char *why)
{
    r->skipped = true;
    r->pass = true;
    free(r->detail);
    r->detail = strdup(why);
    return r->detail ? 0 : -ENOMEM;
}

void vfy_result_free(struct vfy_result *r)
{
    if (r == NULL)
        return;
    json_decref(r->measured);
    json_decref(r->bound);
    free(r->detail);
    memset(r, 0, sizeof(*r));
}

void vfy_results_free(struct vfy_results *rs)
{
    size_t i;

    if (rs == NULL)
        return;
    for (i = 0; i < rs->n; i++)
        vfy_result_free(&rs->r[i]);
    free(rs->r);
    memset(rs, 0, sizeof(*rs));
}

bool vfy_results_pass(const struct vfy_results *rs)
{
    size_t i;

    for (i = 0; i < rs->n; i++) {
        if (!rs->r[i].pass)
            return false;
    }
    return true;
}

const struct vfy_result *vfy_results_find(const struct vfy_results *rs, const char *name)
{
    size_t i;

    for (i = 0; i < rs->n; i++) {
        if (strcmp(rs->r[i].name, name) == 0)
            return &rs->r[i];
    }
    return NULL;
}

json_t *vfy_results_to_json(const struct vfy_results *rs)
{
    json_t *a = json_array();
    size_t i;

    if (a == NULL)
        return NULL;
    for (i = 0; i < rs->n; i++) {
        const struct vfy_result *r = &rs->r[i];
        json_t *o =
            json_pack("{s:s,s:b,s:b,s:O,s:O,s:s}", "name", r->name, "pass", r->pass, "skipped",
                      r->skipped, "measured", r->measured ? r->measured : json_null(), "bound",
                      r->bound ? r->bound : json_null(), "detail", r->detail ? r->detail : "");

        if (o == NULL || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* ---- entry points ----------------------------------------------------- */

typedef int (*run_fn)(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                      struct fl_err *err);

static int run_failover(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                        struct fl_err *err)
{
    return vfy_recovery_run(c, cfg, false, out, err);
}

static int run_failback(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                        struct fl_err *err)
{
    return vfy_recovery_run(c, cfg, true, out, err);
}

static int run_one(const struct hist *h, const struct hist_faults *faults,
                   const struct vfy_config *cfg, run_fn fn, struct vfy_result *out,
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
    return run_one(h, faults, cfg, run_failover, out, err);
}

int vfy_failback_check(const struct hist *h, const struct hist_faults *faults,
                       const struct vfy_config *cfg, struct vfy_result *out, struct fl_err *err)
{
    return run_one(h, faults, cfg, run_failback, out, err);
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

int vfy_run_all(const struct hist *h, const struct hist_faults *faults,
                const struct vfy_config *cfg, struct vfy_results *out, struct fl_err *err)
{
    static const struct {
        size_t off; /* offsetof the section's enabled flag */
        run_fn fn;
    } table[] = {
        {offsetof(struct vfy_config, failover.enabled), run_failover},
        {offsetof(struct vfy_config, failback.enabled), run_failback},
        {offsetof(struct vfy_config, read_only.enabled), vfy_read_only_run},
        {offsetof(struct vfy_config, data_loss.enabled), vfy_data_loss_run},
        {offsetof(struct vfy_config, staleness.enabled), vfy_staleness_run},
        {offsetof(struct vfy_config, availability.enabled), vfy_availability_run},
    };
    struct vfy_ctx c;
    size_t i;
    int r;

    if ((r = vfy_ctx_init(&c, h, faults, err)) < 0)
        return r;
    for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (!*(const bool *)((const char *)cfg + table[i].off))
            continue;
        if (out->n == out->cap) {
            size_t ncap = out->cap ? out->cap * 2 : 8;
            struct vfy_result *nr = realloc(out->r, ncap * sizeof(*nr));

            if (nr == NULL) {
                r = fl_errf(err, -ENOMEM, "out of memory");
                break;
            }
            out->r = nr;
            out->cap = ncap;
        }
        memset(&out->r[out->n], 0, sizeof(out->r[out->n]));
        if ((r = table[i].fn(&c, cfg, &out->r[out->n], err)) < 0) {
            vfy_result_free(&out->r[out->n]);
            break;
        }
        out->n++;
    }
    vfy_ctx_free(&c);
    return r;
}
