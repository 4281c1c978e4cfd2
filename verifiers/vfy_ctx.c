/*
 * The verifiers' shared analysis context (a leaf: it calls no verifier):
 * the records in invoke order, the operation classes and, built on first
 * use, per-class and per-(class, region) index lists with running ok
 * counts, plus the small helpers every verifier uses to name records and
 * durations in its JSON and text.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/err.h"
#include "faultline/timeutil.h"
#include "vfy_internal.h"

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

json_t *vfy_json_ms_or_null(int64_t ns)
{
    return ns < 0 ? json_null() : vfy_json_ms(ns);
}

json_t *vfy_names_json(const struct vfy_names *n)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && i < n->n; i++)
        json_array_append_new(a, json_string(n->name[i]));
    return a;
}
