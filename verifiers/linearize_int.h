/*
 * Internals of the linearizability search shared by its files: linearize.c
 * (layout, pre-checks, the search) and linearize_report.c (the explanation
 * of a violation). Not part of the verifier API (that is linearize.h).
 */
#ifndef FAULTLINE_LINEARIZE_INT_H
#define FAULTLINE_LINEARIZE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "linearize.h"

struct iop {
    int64_t call, ret; /* ret = LIN_NEVER for info */
    uint64_t value, expected;
    uint32_t ext;  /* index into the caller's ops[] */
    uint32_t need; /* value id this op needs the register to hold, NOV = none */
    uint32_t prod; /* value id it may write, NOV = none */
    uint8_t kind, swapped, info;
    uint8_t unobs; /* info write whose value nothing needs (see drop_unobserved) */
};

#define NOV UINT32_MAX

struct tk {
    int64_t t;
    uint32_t i;
};

struct slot {
    uint64_t h;
    uint32_t e; /* entry number */
    uint32_t gen;
};

struct ent {
    uint64_t h, value;
    size_t off;  /* first word in pool */
    uint32_t lo; /* first stored finite word */
    uint32_t nw; /* finite words stored; the info words follow */
};

/*
 * Candidate order at one level of the search (see next_cand): the operation
 * that must be placed first (the earliest pending return, b), then the writer
 * of the value it needs (w), then every other candidate in call order (from
 * list node pos).
 */
struct level {
    uint32_t b, need, pos;
    uint8_t phase;
    uint8_t nomatch; /* a candidate cas that did not match needs a change: 0 unknown, 1 yes, 2 no */
};

struct frame {
    uint32_t i, oldvid;
    uint64_t old;
    struct level lv;
};

struct vslot {
    uint64_t value;
    uint32_t id; /* value id + 1, 0 = empty */
};

struct lin_ws {
    struct iop *op;
    size_t op_cap;
    struct tk *tk, *tk2, *tmp;
    size_t tk_cap, tk2_cap, tmp_cap;
    uint32_t *next, *prev;
    size_t next_cap, prev_cap;
    uint64_t *bits;
    size_t bits_cap;
    struct frame *stack;
    uint32_t *best;
    size_t stack_cap, best_cap;
    struct slot *tab;
    size_t tab_cap, mask;
    uint32_t gen;
    struct ent *ent;
    size_t nent, ent_cap;
    uint64_t *pool;
    size_t npool, pool_cap;
    /* Values: ids (value 0, absent, is id 0), and per id the finite operations still
     * needing it, the operations that may still write it and its only writer. */
    struct vslot *vt;
    size_t vt_cap, vt_mask;
    uint32_t *need_cnt, *wr_cnt, *writer; /* writer: op + 1, UINT32_MAX = several */
    size_t nv_cap, nvals;
    /* the current check */
    size_t nfin, wf, wi; /* finite ops, finite words, info words */
};

/* Fill the violation part of rep from the longest prefix best[0..nbest) (linearize_report.c). */
int lin_explain(struct lin_ws *ws, size_t nkeep, size_t nbest, uint64_t value, uint32_t forced,
                struct lin_report *rep);

#endif
