/*
 * The property test's reference (test_vfy_property.c): each rule of
 * docs/internals/verifiers.md computed by brute force over the records,
 * sharing none of the verifiers' code. ref_* fill a *_truth struct with the
 * figures and verdict the verifier should report for the same history and
 * configuration.
 */
#ifndef FAULTLINE_TESTS_VFY_REFERENCE_H
#define FAULTLINE_TESTS_VFY_REFERENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "faultline/history.h"
#include "faultline/verify.h"

#define NINF INT64_MIN
#define PINF INT64_MAX

struct ref {
    const struct hist *h;
    const struct hist_op **ops; /* non-final records by invoke time */
    size_t n;
    const struct hist_fault **f; /* by apply_sent */
    size_t nf;
    size_t ncls;                  /* read, write, then one per operation name */
    const struct hist_op ***kops; /* per key: its non-final records by invoke time */
    size_t *kn;
    int8_t *okind; /* per record of h: observed() result, -1 not yet */
    const struct hist_op **owx;
};

struct rec_truth {
    enum vfy_status st;
    int64_t rto[2][16]; /* per fault, per class; -2 = not evaluated */
    int64_t worst;      /* worst RTO over required classes and faults; -1 never */
};

struct ro_truth {
    enum vfy_status st;
    uint64_t accepted, not_served;
};

struct dl_truth {
    enum vfy_status st;
    uint64_t lost, before, after, checked;
    int64_t window, window_after;
    bool set;
    uint64_t lost_f[2], before_f[2], after_f[2];
    int64_t reach_b[2], reach_a[2];
};

struct st_truth {
    enum vfy_status st;
    uint64_t reads, stale, max_behind, over, ryw, mono, unknown, unjudged;
    int64_t max_lag;
};

struct av_cell {
    uint64_t ok, total;
};

struct av_truth {
    enum vfy_status st;
    struct av_cell cell[2][3][16]; /* fault, phase, class */
    uint64_t below;
};

/* True when s is one of the names in n. */
bool names_has(const struct vfy_names *n, const char *s);

/* Index h and fs (records by invoke time, per key, faults by apply_sent); ref_free releases. */
void ref_init(struct ref *rf, const struct hist *h, const struct hist_faults *fs);
void ref_free(struct ref *rf);

/* Class cls by name: read, write, then one per operation name. */
const char *cls_name(const struct ref *rf, size_t cls);

/* failover (back = false) and failback (back = true). */
void ref_rec(const struct ref *rf, const struct vfy_config *cfg, bool back, struct rec_truth *t);

/* read_only: writes accepted while a fault is in effect, and those the service did not serve. */
void ref_read_only(const struct ref *rf, const struct vfy_config *cfg, struct ro_truth *t);

/* data_loss: acknowledged writes missing from the final reads, before and after each fault. */
void ref_data_loss(const struct hist *h, const struct hist_faults *fs,
                   const struct vfy_data_loss_cfg *dl, struct dl_truth *t);

/* staleness: stale reads (how far behind, how late), read-your-writes and monotonic reads. */
void ref_staleness(struct ref *rf, const struct vfy_staleness_cfg *sc, struct st_truth *t);

/* availability: per fault, phase and class, and how many cells fall below their floor. */
void ref_availability(const struct ref *rf, const struct vfy_availability_cfg *av,
                      struct av_truth *t);

#endif
