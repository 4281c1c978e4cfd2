/*
 * Shared machinery of the verifiers (private to verifiers/). Three layers,
 * each calling only the ones below it:
 *
 *   vfy_registry.c   the table of verifiers and vfy_run_all
 *   vfy_<name>.c     one verifier each: measure -> JSON -> text
 *   vfy_ctx.c        the analysis context and record/duration helpers (leaf)
 *   vfy_result.c     result helpers: begin, verdict, detail, JSON (leaf)
 *
 * The context holds the records in invoke order, the operation classes and,
 * built on first use, per-class and per-(class, region) index lists with
 * running ok counts, so every verifier is a few O(n) passes over flat arrays
 * with no allocation per record.
 */
#ifndef FAULTLINE_VFY_INTERNAL_H
#define FAULTLINE_VFY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "faultline/buf.h"
#include "faultline/history.h"
#include "faultline/optspec.h"
#include "faultline/verify.h"

#define VFY_CLASS_READ  0u
#define VFY_CLASS_WRITE 1u
#define VFY_DETAIL_MAX  8192
#define VFY_LIST_MAX    5 /* offending records listed per verifier and fault */

#define VFY_NS_S   1000000000LL
#define VFY_NS_MIN (60 * VFY_NS_S)

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

/* ---- context (vfy_ctx.c) ---- */

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
/* Milliseconds as JSON, or null when ns < 0 (VFY_UNBOUNDED). */
json_t *vfy_json_ms_or_null(int64_t ns);
/* Format a duration for humans ("1.5s"). */
const char *vfy_dur(int64_t ns, char *buf, size_t len);
/* Membership of an op name in a names list. */
bool vfy_names_has(const struct vfy_names *n, const char *s);
/* A names list as a JSON array of strings. New reference or NULL. */
json_t *vfy_names_json(const struct vfy_names *n);

/* ---- results (vfy_result.c) ---- */

/* Start a result: name, pass, empty measured/bound objects. -ENOMEM. */
int vfy_result_begin(struct vfy_result *r, const char *name);
/* Set the verdict; reason (copied) is required for VFY_INCONCLUSIVE. -ENOMEM. */
int vfy_result_set_status(struct vfy_result *r, enum vfy_status st, const char *reason);
/* Take the detail text from b (b is emptied). */
void vfy_result_set_detail(struct vfy_result *r, struct fl_buf *b);
/* Inconclusive with reason why, which is also the whole paragraph. -ENOMEM. */
int vfy_result_inconclusive(struct vfy_result *r, const char *why);
/* "passed", "FAILED" or "INCONCLUSIVE" for the paragraph's first words. */
const char *vfy_status_word(enum vfy_status st);

/* ---- the verifiers (one file each) over a built context ---- */

typedef int (*vfy_run_fn)(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                          struct fl_err *err);

enum vfy_direction {
    VFY_DIR_FAILOVER = 0, /* from the fault taking effect, while it is in effect */
    VFY_DIR_FAILBACK = 1, /* from the heal, until the next fault */
};

int vfy_recovery_run(struct vfy_ctx *c, const struct vfy_config *cfg, enum vfy_direction dir,
                     struct vfy_result *out, struct fl_err *err);
int vfy_failover_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                     struct fl_err *err);
int vfy_failback_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                     struct fl_err *err);
int vfy_read_only_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                      struct fl_err *err);
int vfy_data_loss_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                      struct fl_err *err);
int vfy_staleness_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                      struct fl_err *err);
int vfy_availability_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                         struct fl_err *err);
int vfy_linearizable_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                         struct fl_err *err);
int vfy_routing_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                    struct fl_err *err);
int vfy_conflict_feed_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                          struct fl_err *err);
/* vfy_data_loss.c: acknowledged writes absent after recovery (sorted positions). */
int vfy_data_loss_lost(const struct vfy_ctx *c, size_t **pos, size_t *n, uint64_t *checked);

/* ---- the verify: schema (vfy_config.c) ---- */

#define VFY_K_NOT_NULL    0x1u /* a duration that cannot be null (unbounded) */
#define VFY_K_CLAMP0      0x2u /* a duration whose null or negative value means 0 */
#define VFY_K_JSON_ONLY   0x4u /* accepted in the JSON form only, not in experiment files */
#define VFY_K_FROM_STRING 0x8u /* first key of a section that may be given as a bare string */

struct vfy_key;
typedef int (*vfy_apply_fn)(struct vfy_config *cfg, void *base, const struct vfy_key *k,
                            const json_t *v, const json_t *parent, const char *where,
                            struct fl_err *err);

/*
 * One key of the verify: schema. type and sub are those of faultline/optspec.h
 * (VT_MAP: sub is a struct vfy_key table; VT_ENUM, VT_ENUMLIST: names);
 * required is for experiment files. The value goes to base + off, where base
 * is the struct of the enclosing section, unless apply handles it.
 */
struct vfy_key {
    const char *key;
    enum vt type;
    const void *sub;
    bool required;
    size_t off;
    unsigned flags; /* VFY_K_* */
    vfy_apply_fn apply;
};

/* Each verifier's section (NULL-key terminated). */
extern const struct vfy_key vfy_failover_keys[], vfy_failback_keys[], vfy_read_only_keys[],
    vfy_data_loss_keys[], vfy_staleness_keys[], vfy_availability_keys[], vfy_linearizable_keys[],
    vfy_routing_keys[], vfy_conflict_feed_keys[];

/* ---- the registry (vfy_registry.c) ---- */

/*
 * One verifier: its name (also its `verify:` section), its section of
 * struct vfy_config and the flag that enables it, the keys of that section,
 * and its run function.
 */
struct vfy_kind {
    const char *name;
    size_t section_off; /* offsetof(struct vfy_config, <section>) */
    size_t enabled_off; /* offsetof(struct vfy_config, <section>.enabled) */
    const struct vfy_key *keys;
    vfy_run_fn run;
    size_t groups_off; /* offsetof(struct vfy_config, <section>.groups), or VFY_NO_GROUPS */
};

#define VFY_NO_GROUPS ((size_t)-1)

/* The verifiers in the order vfy_run_all runs them; NULL-named terminator. */
extern const struct vfy_kind vfy_kinds[];

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
