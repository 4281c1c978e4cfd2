/*
 * Linearizability search for one register (the cas-register model Knossos
 * and Porcupine check): reads, writes (0 = delete) and compare-and-set over a
 * single key, the initial value 0 ("absent"). A pure function over an array
 * of operations with no dependency on the history module, so it can be
 * tested and benchmarked on its own; the linearizable verifier splits a
 * history by key (P-compositionality) and calls it once per key.
 *
 * The search is Wing & Gong's, with Lowe's memoisation as Porcupine does it:
 * a doubly linked list of call and return events in time order, a stack of
 * tentatively linearized operations, and a cache of (set of linearized
 * operations, register value) already explored. Operations whose outcome is
 * unknown (`info`) have no return event: they may take effect at any point
 * after their call, or never. On top of that, sound reductions (eager
 * placement of reads that can take effect now, refusing moves that strand a
 * pending read, an up-front pass for reads no order can satisfy) keep
 * ordinary histories near one state per operation. The search is bounded by
 * a deadline and a number of cache entries (states); hitting either gives
 * LIN_UNKNOWN.
 *
 * On a violation the report holds the longest linearizable prefix the search
 * reached, the first operation that could not be placed after it (of the
 * operations left, the one that returns first) and the operations whose
 * intervals overlap that one's: the smallest window that cannot be ordered.
 */
#ifndef FAULTLINE_LINEARIZE_H
#define FAULTLINE_LINEARIZE_H

#include <stddef.h>
#include <stdint.h>

#define LIN_NEVER      INT64_MAX /* ret_ns of an operation with an unknown outcome */
#define LIN_WINDOW_MAX 64        /* operations kept in a violation's window */

enum lin_kind {
    LIN_READ = 0,  /* value = the value read (0 = absent) */
    LIN_WRITE = 1, /* value = the value written (0 = delete) */
    LIN_CAS = 2,   /* expected -> value when the register holds expected */
};

struct lin_op {
    int64_t call_ns;   /* invocation */
    int64_t ret_ns;    /* completion, >= call_ns; LIN_NEVER when the outcome is unknown */
    uint64_t value;    /* read: value returned; write: value written; cas: new value */
    uint64_t expected; /* cas: the value compared with (0 = absent) */
    uint32_t id;       /* the caller's reference (e.g. a record number), not used */
    uint8_t kind;      /* enum lin_kind */
    uint8_t swapped;   /* cas with a known outcome: 1 swapped, 0 compared unequal */
    uint8_t info;      /* 1: unknown outcome (ret_ns is then ignored): at most once, any time
                          after call_ns; an info read constrains nothing and is ignored */
    uint8_t pad;
};

enum lin_verdict {
    LIN_OK = 0,        /* a linearization exists */
    LIN_VIOLATION = 1, /* none exists */
    LIN_UNKNOWN = 2,   /* the budget ran out first */
};

struct lin_limits {
    int64_t deadline_ns; /* CLOCK_MONOTONIC time to give up at; 0 = none */
    uint64_t max_states; /* cache entries to give up at; 0 = none */
};

/* One operation of a violation's window. */
struct lin_wop {
    uint32_t op;       /* index into the caller's ops[] */
    uint8_t in_prefix; /* 1 when it is in the longest linearizable prefix */
};

struct lin_report {
    enum lin_verdict verdict;
    uint64_t states;     /* cache entries made */
    uint64_t steps;      /* search steps (candidates tried) */
    size_t info_dropped; /* unknown-outcome writes nothing could observe, left out */
    /* LIN_VIOLATION only: */
    size_t nprefix;        /* length of the longest linearizable prefix found */
    uint32_t *prefix;      /* its operations (indexes into ops[]) in linearization order */
    uint64_t prefix_value; /* the register's value after it */
    uint32_t blocker;      /* the first operation that cannot be placed after the prefix */
    size_t nwindow;        /* operations overlapping the blocker (blocker included), by call */
    size_t window_total;   /* how many there were before the cut at LIN_WINDOW_MAX */
    struct lin_wop window[LIN_WINDOW_MAX];
    /*
     * When the blocker is impossible whatever the order (found before any
     * search, upfront = 1): the proof. ncause 0: nothing writes the value it needs; 1:
     * cause[0] writes it but is called after the blocker returns; 2:
     * cause[0] writes it (or, for an absent value, UINT32_MAX: the initial
     * state) and cause[1] overwrote it, entirely between cause[0]'s return
     * and the blocker's call.
     */
    uint8_t upfront; /* 1: found before any search, the proof is in cause[] */
    size_t ncause;
    uint32_t cause[2];
};

/* Reusable buffers: one per thread; keeps its allocations between checks. */
struct lin_ws;

/* A new workspace, or NULL on ENOMEM. Free with lin_ws_free (accepts NULL). */
struct lin_ws *lin_ws_new(void);
void lin_ws_free(struct lin_ws *ws);

/*
 * Decide whether ops[0..n) (any order; call and ret times compare as
 * integers, an operation returning at the very time another is called is
 * concurrent with it) is linearizable for a register that starts absent.
 * lim may be NULL (unbounded). Fills *rep (rep->prefix is allocated on a
 * violation: release with lin_report_free). Returns 0, or -ENOMEM / -E2BIG
 * (more than 2^30 operations) without a verdict. Cost: O(n log n) plus the
 * search, which is linear in practice for histories with low concurrency and
 * exponential in the number of concurrent operations at worst (hence lim).
 */
int lin_check(struct lin_ws *ws, const struct lin_op *ops, size_t n, const struct lin_limits *lim,
              struct lin_report *rep);

/* Free what lin_check allocated in rep. Accepts NULL. */
void lin_report_free(struct lin_report *rep);

#endif
