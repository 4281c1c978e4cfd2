/*
 * Shared machinery of the verifiers (private to verifiers/): one analysis
 * context per run holding the records in invoke order, the operation classes
 * and, built on first use, per-class and per-(class, region) index lists with
 * running ok counts, so every verifier is a few O(n) passes over flat arrays
 * with no allocation per record.
 */
#ifndef FAULTLINE_VFY_INTERNAL_H
#define FAULTLINE_VFY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "faultline/buf.h"
#include "faultline/history.h"
#include "faultline/verify.h"

#define VFY_CLASS_READ  0u
#define VFY_CLASS_WRITE 1u
#define VFY_DETAIL_MAX  8192
#define VFY_LIST_MAX    5 /* offending records listed per verifier and fault */

struct vfy_ctx {
    const struct hist *h;
    const struct hist_op *ops; /* n records sorted by invoke_ns (stable) */
    size_t n;
    struct hist_op *sorted; /* owned copy when h was not sorted, else NULL */
    uint32_t *orig;         /* sorted position -> record number in h, NULL = identity */
    uint32_t nclasses;      /* 2 + number of operation names */
    uint32_t nregions;      /* h->regions.n (0 is the unknown region "") */
    /* Lists (vfy_ctx_lists): for list id L = class * (nregions + 1) + (0 | 1 + region),
     * positions lidx[lstart[L] .. lstart[L+1]) in invoke order, non-final records invoked
     * at or after the first fault's apply_sent only (no anchor is earlier);
     * okcum[i] = number of ok records before position i in its own list, oktot[L] the
     * list's total (vfy_ok_before reads both). */
    uint32_t *lstart;
    uint32_t *lidx;
    uint32_t *okcum;
    uint32_t *oktot;
    uint32_t *ccount; /* non-final records per class, whole history */
    uint8_t *opw;     /* per operation name: carries writes */
    /* Faults sorted by apply_sent_ns. */
    const struct hist_fault **faults;
    size_t nfaults;
};

int vfy_ctx_init(struct vfy_ctx *c, const struct hist *h, const struct hist_faults *fs,
                 struct fl_err *err);
int vfy_ctx_lists(struct vfy_ctx *c, struct fl_err *err);
void vfy_ctx_free(struct vfy_ctx *c);

/* Class name ("read", "write", op name) and lookup (-1 if unknown). */
const char *vfy_class_name(const struct vfy_ctx *c, uint32_t cls);
int vfy_class_find(const struct vfy_ctx *c, const char *name);
/* Record number (in the caller's history) of sorted position pos. */
uint32_t vfy_record_no(const struct vfy_ctx *c, size_t pos);
/* First sorted position whose invoke_ns >= t. */
size_t vfy_lower_bound(const struct vfy_ctx *c, int64_t t);
/* A record as JSON for offender lists. New reference or NULL. */
json_t *vfy_record_json(const struct vfy_ctx *c, size_t pos);
/* One record in words for detail paragraphs ("record 17: client 3 set-secret k1=5 ok"). */
void vfy_record_text(const struct vfy_ctx *c, size_t pos, struct fl_buf *b);
/* Milliseconds as JSON: an integer when exact, else a real. */
json_t *vfy_json_ms(int64_t ns);
/* Format a duration for humans ("1.5s"). */
const char *vfy_dur(int64_t ns, char *buf, size_t len);
/* Membership of an op name in a names list. */
bool vfy_names_has(const struct vfy_names *n, const char *s);

/* Start a result: name, pass=true, empty measured/bound objects. -ENOMEM. */
int vfy_result_begin(struct vfy_result *r, const char *name);
/* Take the detail text from b (b is emptied). */
void vfy_result_set_detail(struct vfy_result *r, struct fl_buf *b);
/* Mark skipped with a reason. */
int vfy_result_skip(struct vfy_result *r, const char *why);

/* The verifiers over a built context. */
int vfy_recovery_run(struct vfy_ctx *c, const struct vfy_config *cfg, bool failback,
                     struct vfy_result *out, struct fl_err *err);
int vfy_read_only_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                      struct fl_err *err);
int vfy_data_loss_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                      struct fl_err *err);
int vfy_staleness_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                      struct fl_err *err);
int vfy_availability_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                         struct fl_err *err);

/* Ok records before list position i of list L (i may be the list's end). */
static inline uint32_t vfy_ok_before(const struct vfy_ctx *c, size_t L, size_t i)
{
    return i >= c->lstart[L + 1] ? c->oktot[L] : c->okcum[i];
}

static inline int64_t vfy_fault_start(const struct hist_fault *f, enum vfy_anchor a)
{
    return a == VFY_ANCHOR_SENT ? f->apply_sent_ns : f->apply_done_ns;
}

#endif
