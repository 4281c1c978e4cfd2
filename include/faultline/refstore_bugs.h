/*
 * The bug switches of faultline-refstore, kept once: the refstore reads
 * `bugs:` with this list (bit i of its bug mask is fl_refstore_bugs[i]) and
 * reports them in its status, and the experiment parser checks target.bugs
 * against it. Each switch makes one verifier fail on purpose.
 */
#ifndef FAULTLINE_REFSTORE_BUGS_H
#define FAULTLINE_REFSTORE_BUGS_H

#define FL_REFSTORE_NBUGS 10

/* NULL-terminated; the order is the bit order of enum rs_bug. */
static const char *const fl_refstore_bugs[FL_REFSTORE_NBUGS + 1] = {
    "writes-in-read-only",        /* a read-only secondary accepts writes */
    "lose-acked-writes",          /* every Nth acknowledged write is never stored */
    "slow-failover",              /* failover takes slow_factor x failover_after */
    "no-failback",                /* the primary never takes writes back */
    "stale-reads",                /* reads return the first value ever written */
    "reads-refused-in-read-only", /* a read-only secondary refuses allowed reads */
    "zone-quorum-ignored",        /* zone_redundant acknowledges without the zone majority */
    "offline-region-serves",      /* a cut-off read region keeps serving reads */
    "bounded-staleness-ignored",  /* bounded consistency never holds a write */
    "manual-failover-in-outage",  /* a manual failover succeeds without the write region */
    NULL,
};

#endif
