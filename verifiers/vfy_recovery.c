/*
 * failover and failback: the time from a fault taking effect (or being
 * healed) to the first successful operation of each class after which
 * success is sustained, per class and per serving region, against a bound.
 * One measure function serves both directions: the direction picks the
 * anchor (apply or heal), the searched interval (until the heal, or until
 * the next fault) and which classes count; everything after that is shared.
 * The search runs over the per-class index lists: for each ok record after
 * the anchor, the ok ratio of the class over the sustain window is a
 * difference of two running counts, so a class costs O(k log n) for the k
 * records looked at before recovery is found.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/err.h"
#include "vfy_internal.h"

struct recovery {
    bool found;
    int64_t rto_ns;      /* S.complete - anchor */
    uint32_t pos;        /* sorted position of S */
    uint32_t attempts;   /* records of the class invoked in [anchor, end) */
    uint32_t ok;         /* of which ok */
    int64_t first_ok_ns; /* first ok completion - anchor, -1 if none */
};

enum cls_role {
    ROLE_SKIP = 0,     /* not evaluated */
    ROLE_REQUIRED = 1, /* part of the verdict */
    ROLE_MEASURED = 2, /* reported only */
    ROLE_EXCLUDED = 3, /* refused while read-only: not expected to fail over */
};

/* What differs between the two directions, chosen once. */
struct rec_dir {
    enum vfy_direction dir;
    const char *name;
    const struct vfy_names *classes;
    const struct vfy_sustain *sus;
    enum vfy_anchor anchor;
    int64_t max_ns;
    const char *anchor_done, *anchor_sent; /* the anchor names in faults.jsonl */
};

/* One fault measured: per class and per (class, region). */
struct rec_fault {
    const struct hist_fault *f;
    bool never_healed; /* failback only: nothing to measure */
    int64_t anchor, end, width;
    struct recovery *cls; /* [nclasses] */
    struct recovery *reg; /* [nclasses * nregions]; attempts == 0: not shown */
};

/* The plain result of a measurement; the JSON and the text read only this. */
struct rec_measure {
    struct rec_dir d;
    uint8_t *role; /* [nclasses] */
    struct rec_fault *faults;
    size_t nfaults, nevaluated, nattempted, nfail;
    size_t nnowrite; /* failback with writes: required: healed faults with no write after */
};

static void rec_dir_init(struct rec_dir *d, const struct vfy_config *cfg, enum vfy_direction dir)
{
    bool back = dir == VFY_DIR_FAILBACK;

    d->dir = dir;
    d->name = back ? "failback" : "failover";
    d->classes = back ? &cfg->failback.classes : &cfg->failover.classes;
    d->sus = back ? &cfg->failback.sustain : &cfg->failover.sustain;
    d->anchor = back ? cfg->failback.anchor : cfg->failover.anchor;
    d->max_ns = back ? cfg->failback.max_ns : cfg->failover.max_ns;
    d->anchor_done = back ? "heal_done" : "apply_done";
    d->anchor_sent = back ? "heal_sent" : "apply_sent";
}

/* First list position in [lo, hi) whose record was invoked at or after t. */
static size_t list_lb(const struct vfy_ctx *c, size_t lo, size_t hi, int64_t t)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (c->ops[c->lidx[mid]].invoke_ns < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*
 * Search list L for recovery after anchor, considering records invoked in
 * [anchor, end). S qualifies when it is ok and, among the class's records
 * invoked in [S.invoke, min(S.complete + window, end)), S included, the ok
 * share is at least ratio. The earliest-completing qualifying S wins.
 */
static void recover(const struct vfy_ctx *c, size_t L, int64_t anchor, int64_t end,
                    const struct vfy_sustain *sus, struct recovery *r)
{
    size_t lo = c->lstart[L], hi = c->lstart[L + 1];
    size_t p = list_lb(c, lo, hi, anchor);
    size_t q = list_lb(c, p, hi, end);
    int64_t best = INT64_MAX;
    size_t i;

    memset(r, 0, sizeof(*r));
    r->first_ok_ns = -1;
    r->attempts = (uint32_t)(q - p);
    r->ok = vfy_ok_before(c, L, q) - vfy_ok_before(c, L, p);
    for (i = p; i < q; i++) {
        const struct hist_op *o = &c->ops[c->lidx[i]];
        int64_t wend;
        size_t j;
        uint32_t n, ok;

        if (o->invoke_ns >= best)
            break; /* every later candidate completes later still */
        if (o->outcome != HIST_OK)
            continue;
        if (r->first_ok_ns < 0 || o->complete_ns - anchor < r->first_ok_ns)
            r->first_ok_ns = o->complete_ns - anchor;
        wend = o->complete_ns > INT64_MAX - sus->window_ns ? INT64_MAX
                                                           : o->complete_ns + sus->window_ns;
        if (wend > end)
            wend = end;
        j = list_lb(c, i + 1, q, wend);
        n = (uint32_t)(j - i);
        ok = vfy_ok_before(c, L, j) - vfy_ok_before(c, L, i);
        if ((double)ok + 1e-9 >= sus->min_ratio * (double)n && o->complete_ns < best) {
            best = o->complete_ns;
            r->found = true;
            r->rto_ns = o->complete_ns - anchor;
            r->pos = c->lidx[i];
        }
    }
}

/* Does class cls carry writes? (op-name classes: their records' is_write) */
static bool class_is_write(const struct vfy_ctx *c, uint32_t cls)
{
    if (cls == VFY_CLASS_WRITE)
        return true;
    if (cls == VFY_CLASS_READ)
        return false;
    return c->opw[cls - 2] != 0;
}

/* Is class cls refused while read-only (so not expected to fail over)? */
static bool refused_read_only(const struct vfy_ctx *c, const struct vfy_config *cfg, uint32_t cls)
{
    const struct vfy_names *allowed = &cfg->read_only.allowed;

    if (!cfg->read_only.enabled)
        return false;
    if (cls == VFY_CLASS_WRITE)
        return true;
    if (cls < 2)
        return false;
    return allowed->n > 0 ? !vfy_names_has(allowed, vfy_class_name(c, cls))
                          : class_is_write(c, cls);
}

/* Which classes count: named ones, else every class seen (failover minus
 * those read-only refuses; failback measures writes only unless required). */
static void assign_roles(const struct vfy_ctx *c, const struct vfy_config *cfg,
                         const struct rec_dir *d, uint8_t *role)
{
    uint32_t cls;

    for (cls = 0; cls < c->nclasses; cls++) {
        if (c->ccount[cls] == 0)
            role[cls] = ROLE_SKIP;
        else if (d->classes->n > 0)
            role[cls] =
                vfy_names_has(d->classes, vfy_class_name(c, cls)) ? ROLE_REQUIRED : ROLE_SKIP;
        else if (d->dir == VFY_DIR_FAILBACK)
            role[cls] = class_is_write(c, cls) && !cfg->failback.writes_required ? ROLE_MEASURED
                                                                                 : ROLE_REQUIRED;
        else if (refused_read_only(c, cfg, cls))
            role[cls] = ROLE_EXCLUDED;
        else
            role[cls] = ROLE_REQUIRED;
    }
}

/* The measured interval of fault fi: anchor, end of search, anchor uncertainty. */
static void fault_interval(const struct vfy_ctx *c, const struct rec_dir *d, size_t fi,
                           struct rec_fault *rf)
{
    const struct hist_fault *f = c->faults[fi];

    rf->f = f;
    if (d->dir == VFY_DIR_FAILBACK) {
        rf->never_healed = f->heal_sent_ns == 0;
        rf->anchor = d->anchor == VFY_ANCHOR_SENT ? f->heal_sent_ns : f->heal_done_ns;
        rf->width = f->heal_done_ns - f->heal_sent_ns;
        rf->end = fi + 1 < c->nfaults ? c->faults[fi + 1]->apply_sent_ns : INT64_MAX;
    } else {
        rf->anchor = vfy_fault_start(f, d->anchor);
        rf->width = f->apply_done_ns - f->apply_sent_ns;
        rf->end = f->heal_sent_ns ? f->heal_sent_ns : INT64_MAX;
    }
}

/* Does class cls fail at this fault? */
static bool class_fails(const struct rec_measure *m, const struct recovery *rc)
{
    return rc->attempts > 0 && (!rc->found || (m->d.max_ns >= 0 && rc->rto_ns > m->d.max_ns));
}

/* A named class that never appears in the history cannot show its recovery. */
static bool class_missing(const struct vfy_ctx *c, const char *name)
{
    int k = vfy_class_find(c, name);

    return k < 0 || c->ccount[k] == 0;
}

static int rec_measure(struct vfy_ctx *c, const struct vfy_config *cfg, enum vfy_direction dir,
                       struct rec_measure *m)
{
    size_t fi, i, nr = c->nregions;
    uint32_t stride = c->nregions + 1, cls, reg;

    memset(m, 0, sizeof(*m));
    rec_dir_init(&m->d, cfg, dir);
    m->role = calloc(c->nclasses, 1);
    m->faults = calloc(c->nfaults ? c->nfaults : 1, sizeof(*m->faults));
    if (m->role == NULL || m->faults == NULL)
        return -ENOMEM;
    m->nfaults = c->nfaults;
    assign_roles(c, cfg, &m->d, m->role);
    for (i = 0; i < m->d.classes->n; i++)
        m->nfail += class_missing(c, m->d.classes->name[i]);
    for (fi = 0; fi < c->nfaults; fi++) {
        struct rec_fault *rf = &m->faults[fi];

        fault_interval(c, &m->d, fi, rf);
        if (rf->never_healed)
            continue;
        m->nevaluated++;
        rf->cls = calloc(c->nclasses, sizeof(*rf->cls));
        rf->reg = calloc((size_t)c->nclasses * nr, sizeof(*rf->reg));
        if (rf->cls == NULL || rf->reg == NULL)
            return -ENOMEM;
        for (cls = 0; cls < c->nclasses; cls++) {
            if (m->role[cls] == ROLE_SKIP || m->role[cls] == ROLE_EXCLUDED)
                continue;
            recover(c, (size_t)cls * stride, rf->anchor, rf->end, m->d.sus, &rf->cls[cls]);
            if (rf->cls[cls].attempts == 0)
                continue;
            for (reg = 1; reg < c->nregions; reg++) {
                size_t L = (size_t)cls * stride + 1 + reg;

                if (c->lstart[L + 1] != c->lstart[L])
                    recover(c, L, rf->anchor, rf->end, m->d.sus, &rf->reg[cls * nr + reg]);
            }
            if (m->role[cls] != ROLE_REQUIRED)
                continue;
            m->nattempted++;
            m->nfail += class_fails(m, &rf->cls[cls]);
        }
        /* writes: required promises that write recovery is judged: a heal
         * with no write after it judged nothing of the kind */
        if (dir == VFY_DIR_FAILBACK && cfg->failback.writes_required && m->d.classes->n == 0)
            m->nnowrite += rf->cls[VFY_CLASS_WRITE].attempts == 0;
    }
    return 0;
}

static void rec_measure_free(struct rec_measure *m)
{
    size_t i;

    for (i = 0; m->faults != NULL && i < m->nfaults; i++) {
        free(m->faults[i].cls);
        free(m->faults[i].reg);
    }
    free(m->faults);
    free(m->role);
}

/* ---- JSON ---- */

static json_t *rto_json(const struct recovery *rc)
{
    return rc->found ? vfy_json_ms(rc->rto_ns) : json_null();
}

/* faults[i].rto_ms_by_region for class cls (regions with attempts only). */
static void by_region_json(const struct vfy_ctx *c, const struct rec_fault *rf, uint32_t cls,
                           json_t *byreg)
{
    uint32_t reg;
    json_t *rj = NULL;

    for (reg = 1; reg < c->nregions; reg++) {
        const struct recovery *rr = &rf->reg[(size_t)cls * c->nregions + reg];

        if (rr->attempts == 0)
            continue;
        if (rj == NULL) {
            rj = json_object();
            json_object_set_new(byreg, vfy_class_name(c, cls), rj);
        }
        json_object_set_new(rj, c->h->regions.s[reg], rto_json(rr));
    }
}

/* One fault's entry of measured.faults. */
static json_t *fault_json(const struct vfy_ctx *c, const struct rec_measure *m,
                          const struct rec_fault *rf)
{
    bool back = m->d.dir == VFY_DIR_FAILBACK;
    json_t *fj, *rto, *byreg, *first, *att, *notrec, *noatt, *side;
    uint32_t cls;

    if (rf->never_healed)
        return json_pack("{s:s,s:s}", "id", rf->f->id, "skipped", "never healed");
    fj = json_pack("{s:s,s:s,s:s,s:I,s:o,s:o,s:{},s:{},s:{},s:{},s:[],s:[]}", "id", rf->f->id,
                   "kind", rf->f->kind, "scope", rf->f->scope, "anchor_ns", (json_int_t)rf->anchor,
                   "anchor_uncertainty_ms", vfy_json_ms(rf->width), "searched_ms",
                   rf->end == INT64_MAX ? json_null() : vfy_json_ms(rf->end - rf->anchor), "rto_ms",
                   "rto_ms_by_region", "first_ok_ms", "attempts", "not_recovered", "not_attempted");
    side = back ? json_object() : json_array();
    if (fj == NULL || side == NULL) {
        json_decref(fj);
        json_decref(side);
        return NULL;
    }
    json_object_set_new(fj, back ? "measured_only" : "excluded_read_only", side);
    rto = json_object_get(fj, "rto_ms");
    byreg = json_object_get(fj, "rto_ms_by_region");
    first = json_object_get(fj, "first_ok_ms");
    att = json_object_get(fj, "attempts");
    notrec = json_object_get(fj, "not_recovered");
    noatt = json_object_get(fj, "not_attempted");
    for (cls = 0; cls < c->nclasses; cls++) {
        const char *cn = vfy_class_name(c, cls);
        const struct recovery *rc = &rf->cls[cls];

        if (m->role[cls] == ROLE_SKIP)
            continue;
        if (m->role[cls] == ROLE_EXCLUDED) {
            if (!back)
                json_array_append_new(side, json_string(cn));
            continue;
        }
        json_object_set_new(att, cn,
                            json_pack("{s:i,s:i}", "total", (int)rc->attempts, "ok", (int)rc->ok));
        if (rc->attempts == 0) {
            json_array_append_new(noatt, json_string(cn));
            continue;
        }
        json_object_set_new(first, cn,
                            rc->first_ok_ns < 0 ? json_null() : vfy_json_ms(rc->first_ok_ns));
        json_object_set_new(rto, cn, rto_json(rc));
        if (m->role[cls] == ROLE_MEASURED)
            json_object_set_new(side, cn, rto_json(rc));
        by_region_json(c, rf, cls, byreg);
        if (m->role[cls] == ROLE_REQUIRED && !rc->found)
            json_array_append_new(notrec, json_string(cn));
    }
    return fj;
}

/* One (region, class) cell of measured.by_region, summed over the faults. */
struct reg_sum {
    uint32_t attempts, ok, recovered;
    int64_t worst_ns; /* worst RTO of the recoveries this region served */
};

static void reg_sum_add(struct reg_sum *rs, const struct recovery *rr)
{
    rs->attempts += rr->attempts;
    rs->ok += rr->ok;
}

/* One region's entry: {attempts: {class: {total, ok}}, recovered: {class: n}, rto_ms: {...}}. */
static json_t *reg_entry_json(const struct vfy_ctx *c, const struct reg_sum *row)
{
    json_t *e = json_pack("{s:{},s:{},s:{}}", "attempts", "recovered", "rto_ms");
    uint32_t cls;

    for (cls = 0; e != NULL && cls < c->nclasses; cls++) {
        const struct reg_sum *rs = &row[cls];
        const char *cn = vfy_class_name(c, cls);

        if (rs->attempts > 0)
            json_object_set_new(
                json_object_get(e, "attempts"), cn,
                json_pack("{s:i,s:i}", "total", (int)rs->attempts, "ok", (int)rs->ok));
        if (rs->recovered == 0)
            continue;
        json_object_set_new(json_object_get(e, "recovered"), cn,
                            json_integer((json_int_t)rs->recovered));
        json_object_set_new(json_object_get(e, "rto_ms"), cn, vfy_json_ms(rs->worst_ns));
    }
    return e;
}

/*
 * measured.by_region: per region (the record's `region`), summed over the
 * faults, the attempts of each measured class in the searched intervals and
 * how often (and how slowly, worst) the first sustained success was served
 * there. Report only; one pass over the per-fault results.
 */
static json_t *region_json(const struct vfy_ctx *c, const struct rec_measure *m)
{
    size_t nr = c->nregions, fi, reg;
    struct reg_sum *sum = calloc((nr ? nr : 1) * c->nclasses, sizeof(*sum));
    json_t *br = json_object();
    uint32_t cls;

    if (sum == NULL || br == NULL) {
        free(sum);
        json_decref(br);
        return NULL;
    }
    for (fi = 0; fi < m->nfaults; fi++) {
        const struct rec_fault *rf = &m->faults[fi];

        for (cls = 0; !rf->never_healed && cls < c->nclasses; cls++) {
            const struct recovery *rc = &rf->cls[cls];
            struct reg_sum *rs;

            if (m->role[cls] == ROLE_SKIP || m->role[cls] == ROLE_EXCLUDED || rc->attempts == 0)
                continue;
            for (reg = 1; reg < nr; reg++)
                reg_sum_add(&sum[reg * c->nclasses + cls], &rf->reg[(size_t)cls * nr + reg]);
            if (!rc->found || c->ops[rc->pos].region == 0)
                continue;
            rs = &sum[(size_t)c->ops[rc->pos].region * c->nclasses + cls];
            if (rs->recovered++ == 0 || rc->rto_ns > rs->worst_ns)
                rs->worst_ns = rc->rto_ns;
        }
    }
    for (reg = 1; reg < nr; reg++) {
        bool any = false;

        for (cls = 0; cls < c->nclasses && !any; cls++)
            any = sum[reg * c->nclasses + cls].attempts > 0 ||
                  sum[reg * c->nclasses + cls].recovered > 0;
        if (any)
            json_object_set_new(br, c->h->regions.s[reg],
                                reg_entry_json(c, &sum[reg * c->nclasses]));
    }
    free(sum);
    return br;
}

/* measured.rto_ms: the worst per required class across faults (null = never). */
static json_t *worst_json(const struct vfy_ctx *c, const struct rec_measure *m)
{
    json_t *worst = json_object();
    size_t i, fi;
    uint32_t cls;

    for (i = 0; worst != NULL && i < m->d.classes->n; i++) {
        if (class_missing(c, m->d.classes->name[i]))
            json_object_set_new(worst, m->d.classes->name[i], json_null());
    }
    for (fi = 0; worst != NULL && fi < m->nfaults; fi++) {
        const struct rec_fault *rf = &m->faults[fi];

        if (rf->never_healed)
            continue;
        for (cls = 0; cls < c->nclasses; cls++) {
            const struct recovery *rc = &rf->cls[cls];
            const char *cn = vfy_class_name(c, cls);
            json_t *wv = json_object_get(worst, cn);

            if (m->role[cls] != ROLE_REQUIRED || rc->attempts == 0)
                continue;
            if (!rc->found)
                json_object_set_new(worst, cn, json_null());
            else if (wv == NULL ||
                     (!json_is_null(wv) && json_number_value(wv) < (double)rc->rto_ns / 1e6))
                json_object_set_new(worst, cn, vfy_json_ms(rc->rto_ns));
        }
    }
    return worst;
}

static int rec_json(const struct vfy_ctx *c, const struct vfy_config *cfg,
                    const struct rec_measure *m, struct vfy_result *out)
{
    const struct rec_dir *d = &m->d;
    json_t *faults_j = json_array(), *cls_j = json_array();
    size_t fi;
    uint32_t cls;

    if (faults_j == NULL || cls_j == NULL) {
        json_decref(faults_j);
        json_decref(cls_j);
        return -ENOMEM;
    }
    for (cls = 0; cls < c->nclasses; cls++) {
        if (m->role[cls] == ROLE_REQUIRED)
            json_array_append_new(cls_j, json_string(vfy_class_name(c, cls)));
    }
    json_object_set_new(out->bound, "classes", cls_j);
    for (fi = 0; fi < m->nfaults; fi++) {
        json_t *fj = fault_json(c, m, &m->faults[fi]);

        if (fj == NULL || json_array_append_new(faults_j, fj) < 0) {
            json_decref(faults_j);
            return -ENOMEM;
        }
    }
    json_object_set_new(
        out->measured, "anchor",
        json_sprintf("%s_ns", d->anchor == VFY_ANCHOR_SENT ? d->anchor_sent : d->anchor_done));
    json_object_set_new(out->measured, "rto_ms", worst_json(c, m));
    if (d->dir == VFY_DIR_FAILBACK && cfg->failback.writes_required)
        json_object_set_new(out->measured, "heals_without_write",
                            json_integer((json_int_t)m->nnowrite));
    json_object_set_new(out->measured, "faults", faults_j);
    json_object_set_new(out->measured, "by_region", region_json(c, m));
    return 0;
}

/* ---- text ---- */

/* The offenders: named classes never seen, classes that did not recover or took too long. */
static void rec_offenders(const struct vfy_ctx *c, const struct rec_measure *m, struct fl_buf *b)
{
    bool back = m->d.dir == VFY_DIR_FAILBACK;
    char t1[48], t2[48];
    size_t i, fi;
    uint32_t cls;

    for (i = 0; i < m->d.classes->n; i++) {
        if (class_missing(c, m->d.classes->name[i]))
            fl_buf_printf(b, " Class %s never appears in the history, so its %s cannot be shown.",
                          m->d.classes->name[i], m->d.name);
    }
    for (fi = 0; fi < m->nfaults; fi++) {
        const struct rec_fault *rf = &m->faults[fi];

        if (rf->never_healed) {
            fl_buf_printf(b, " Fault %s was never healed: no failback to measure.", rf->f->id);
            continue;
        }
        for (cls = 0; cls < c->nclasses; cls++) {
            const struct recovery *rc = &rf->cls[cls];
            const char *cn = vfy_class_name(c, cls);

            if (m->role[cls] != ROLE_REQUIRED || !class_fails(m, rc))
                continue;
            if (!rc->found && rf->end == INT64_MAX)
                fl_buf_printf(b,
                              " Fault %s: %s never recovered (%u attempts after the anchor, "
                              "%u ok, none followed by sustained success).",
                              rf->f->id, cn, rc->attempts, rc->ok);
            else if (!rc->found)
                fl_buf_printf(b,
                              " Fault %s: %s did not recover %s (%u attempts in the %s "
                              "searched, %u ok, none followed by sustained success).",
                              rf->f->id, cn,
                              back ? "before the next fault" : "before the fault was healed",
                              rc->attempts, vfy_dur(rf->end - rf->anchor, t1, sizeof(t1)), rc->ok);
            else {
                fl_buf_printf(b, " Fault %s: %s took %s, over the bound %s; it recovered at ",
                              rf->f->id, cn, vfy_dur(rc->rto_ns, t1, sizeof(t1)),
                              vfy_dur(m->d.max_ns, t2, sizeof(t2)));
                vfy_record_text(c, rc->pos, b);
                fl_buf_addstr(b, ".");
            }
        }
    }
}

/* The rule in one sentence, per direction. */
static void rec_rule(const struct rec_measure *m, struct fl_buf *d)
{
    const struct rec_dir *r = &m->d;
    bool sent = r->anchor == VFY_ANCHOR_SENT;
    char t1[48];

    if (r->dir == VFY_DIR_FAILBACK)
        fl_buf_printf(d,
                      "measured from %s of each healed fault (%s) to the completion of the "
                      "first successful operation of each class after which",
                      sent ? "heal_sent" : "heal_done",
                      sent ? "the earliest moment the heal could act"
                           : "the moment the heal was certainly in effect, so the controller's own "
                             "latency is never charged to the service");
    else
        fl_buf_printf(d,
                      "measured from %s of each fault (%s) to the completion of the first "
                      "successful operation of each class, invoked while the fault was in effect, "
                      "after which",
                      sent ? "apply_sent" : "apply_done",
                      sent
                          ? "the earliest moment the fault could have taken effect: the longest "
                            "possible outage"
                          : "the moment the fault was certainly in effect, so the controller's own "
                            "latency is never charged to the service; the true outage may have "
                            "begun up to anchor_uncertainty_ms earlier");
    fl_buf_printf(d, " at least %.0f%% of that class's operations over the next %s succeeded",
                  r->sus->min_ratio * 100.0, vfy_dur(r->sus->window_ns, t1, sizeof(t1)));
    fl_buf_printf(d, "; bound %s.",
                  r->max_ns < 0 ? "none (measure only)" : vfy_dur(r->max_ns, t1, sizeof(t1)));
}

static void rec_text(const struct vfy_ctx *c, const struct vfy_config *cfg,
                     const struct rec_measure *m, struct vfy_result *out, struct fl_buf *d)
{
    const char *k;
    json_t *v;
    char t1[48];
    int shown = 0;

    fl_buf_printf(d, "%s %s: ", m->d.name, vfy_status_word(out->status));
    rec_rule(m, d);
    fl_buf_addstr(d, " Worst per class:");
    json_object_foreach(json_object_get(out->measured, "rto_ms"), k, v)
    {
        if (shown++ >= 12) {
            fl_buf_addstr(d, " ...");
            break;
        }
        if (json_is_null(v))
            fl_buf_printf(d, " %s never", k);
        else
            fl_buf_printf(d, " %s %s", k,
                          vfy_dur((int64_t)(json_number_value(v) * 1e6), t1, sizeof(t1)));
    }
    if (shown == 0)
        fl_buf_addstr(d, " no class was attempted after the anchor");
    fl_buf_addstr(d, ".");
    if (m->d.dir == VFY_DIR_FAILOVER && cfg->read_only.enabled && m->d.classes->n == 0)
        fl_buf_addstr(d, " Classes refused in read-only mode are not expected to fail over and "
                         "are listed as excluded_read_only.");
    if (m->d.dir == VFY_DIR_FAILBACK && !cfg->failback.writes_required && m->d.classes->n == 0)
        fl_buf_addstr(d, " Write classes are measured but not required (writes: optional).");
    rec_offenders(c, m, d);
    if (out->status == VFY_INCONCLUSIVE)
        fl_buf_printf(d, " Inconclusive: %s.", out->reason);
}

/* Nothing evaluated (no healed fault, no checked class attempted, or writes: required
 * and a heal with no write after it): inconclusive. */
static const char *rec_nothing(const struct rec_measure *m)
{
    if (m->nfail > 0)
        return NULL;
    if (m->nevaluated == 0)
        return m->d.dir == VFY_DIR_FAILBACK ? "no fault was healed, so no failback happened"
                                            : "no fault was in effect";
    if (m->nattempted == 0)
        return "no checked class was attempted in the measured intervals";
    if (m->nnowrite > 0)
        return "writes: required, but no write was attempted after the heal of some fault";
    return NULL;
}

static void bound_json(const struct vfy_config *cfg, const struct rec_dir *d,
                       struct vfy_result *out)
{
    json_object_set_new(out->bound, "max_ms", vfy_json_ms_or_null(d->max_ns));
    json_object_set_new(out->bound, "sustain",
                        json_pack("{s:o,s:f}", "window_ms", vfy_json_ms(d->sus->window_ns), "ratio",
                                  d->sus->min_ratio));
    if (d->dir == VFY_DIR_FAILBACK)
        json_object_set_new(out->bound, "writes",
                            json_string(cfg->failback.writes_required ? "required" : "optional"));
}

int vfy_recovery_run(struct vfy_ctx *c, const struct vfy_config *cfg, enum vfy_direction dir,
                     struct vfy_result *out, struct fl_err *err)
{
    struct rec_measure m = {0};
    struct fl_buf d;
    const char *none;
    char why[128];
    int r;

    rec_dir_init(&m.d, cfg, dir);
    if ((r = vfy_result_begin(out, m.d.name)) < 0)
        return fl_errf(err, r, "out of memory");
    fl_buf_init(&d, VFY_DETAIL_MAX);
    bound_json(cfg, &m.d, out);
    if (c->nfaults == 0) {
        snprintf(why, sizeof(why), "%s: no fault in the timeline, nothing to measure.", m.d.name);
        r = vfy_result_inconclusive(out, why);
        goto out;
    }
    if ((r = vfy_ctx_lists(c, err)) < 0)
        goto out;
    if ((r = rec_measure(c, cfg, dir, &m)) < 0 || (r = rec_json(c, cfg, &m, out)) < 0)
        goto out;
    none = rec_nothing(&m);
    r = vfy_result_set_status(out, m.nfail ? VFY_FAIL : none ? VFY_INCONCLUSIVE : VFY_PASS, none);
    if (r < 0)
        goto out;
    rec_text(c, cfg, &m, out, &d);
    vfy_result_set_detail(out, &d);
out:
    if (r < 0) {
        vfy_result_free(out);
        if (r == -ENOMEM)
            r = fl_errf(err, r, "out of memory in the %s verifier", m.d.name);
    }
    rec_measure_free(&m);
    fl_buf_free(&d);
    return r;
}

int vfy_failover_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                     struct fl_err *err)
{
    return vfy_recovery_run(c, cfg, VFY_DIR_FAILOVER, out, err);
}

int vfy_failback_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                     struct fl_err *err)
{
    return vfy_recovery_run(c, cfg, VFY_DIR_FAILBACK, out, err);
}
