/*
 * Guards: the experiment's stop conditions (guards: and workload.abort_when,
 * docs/experiment-file.md). Each guard is probed before the first fault (a
 * guard failing every probe of the pre-check means the system is not in a
 * steady state: no fault is applied) and, by a thread of its own, during
 * the workload; `failures` consecutive failed probes trip it, and so does
 * the workload's own success ratio under abort_when. A trip sets
 * run.guard_trip; the scheduler thread then heals every active fault at
 * once, applies nothing more and stops the workload after a 2 s drain
 * (scheduler.c). The outcome is one more verifier result, `guard`, after
 * the verifiers' own. See docs/internals/run.md, "Guards".
 */
#ifndef FAULTLINE_GUARD_H
#define FAULTLINE_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "experiment.h"
#include "faultline/workload.h"

struct run;

#define GUARD_DRAIN_NS (2 * 1000000000LL) /* from the heal to the workload's stop */

/* One probe of a guard. */
struct guard_obs {
    bool ok;        /* the probe found the system steady */
    bool has_value; /* value holds the HTTP status (http) or the query's value (prometheus) */
    double value;
    int64_t at_ns; /* when the probe started (CLOCK_MONOTONIC) */
    char why[256]; /* !ok: what was wrong, one line */
};

/*
 * Probe g once (blocking, bounded by its timeout): http: GET its URL, ok
 * when the status is `expect`; prometheus: GET <url>/api/v1/query?query=
 * <query>, ok when every value of the instant vector (or the scalar) is
 * within max / min; no result, a query error or an answer that is not
 * Prometheus's JSON is a failure with its reason. Needs curl_global_init().
 * Fills *o; returns 0, or -ENOMEM (then nothing was asked).
 */
int guard_probe(const struct exp_guard *g, struct guard_obs *o);

/*
 * The pre-fault check (the "guards" phase, and `faultline run --dry-run`):
 * every guard probed until it answers steady, at most `failures` times
 * `every` apart (the guards side by side). *result (may be NULL) gets a new
 * object {"steady": bool, "guards": [{name, kind, probes, steady, last,
 * why}]}. Returns 0 when every guard is steady, 1 when one is not (the
 * first such guard is kept as the trip for the report), -EINTR when
 * run_stop was set meanwhile (a signal: the probes are cut short, no
 * result), -ENOMEM.
 */
int guards_check_once(struct run *R, json_t **result);

/*
 * The "guards" phase of run.c: without guards nothing; otherwise the
 * pre-check, and when a guard is not steady the run stops before the
 * workload with verdict fail and only the `guard` result. 0 to go on.
 */
int guards_phase(struct run *R);

/*
 * Start the guard thread (no-op without guards and abort_when). Call from
 * the thread inside the lab's control namespace (the thread inherits it),
 * once R->t0 is set. 0 or -errno.
 */
int guards_start(struct run *R);
/* Stop and join the guard thread (no-op when not running). */
void guards_stop(struct run *R);

/* The workload's counters (the progress callback): abort_when samples them. */
void guards_observe(struct run *R, const struct wl_stats *s);

/* The name of the guard that tripped ("workload.abort_when" for that), or "". */
const char *guards_tripped_name(struct run *R);

/*
 * Append the `guard` result to R->vres (after vfy_run_all): fail naming the
 * guard that tripped, its last values, when and why; pass with the probe
 * counts; inconclusive when no probe ran. Nothing without guards and
 * abort_when. 0 or -ENOMEM.
 */
int guards_result_append(struct run *R);

/* Free the guards' state (R->guards). Accepts a run without one. */
void guards_free(struct run *R);

/*
 * abort_when's sliding window, exposed for tests: push the cumulative ok
 * and total of the class at one-second samples; returns true when the
 * window (for_s seconds) is full, had operations and its success ratio
 * (*ratio) is below `below`.
 */
struct guard_window {
    uint64_t *ok, *total; /* ring of for_s + 1 samples */
    size_t len, n, head;
};
int guard_window_init(struct guard_window *w, unsigned for_s);
bool guard_window_push(struct guard_window *w, uint64_t ok, uint64_t total, double below,
                       double *ratio);
void guard_window_free(struct guard_window *w);

#endif
