/*
 * The state every part of a run shares and may change from any thread: the
 * first harness error (which stops the workload), the exit code and reason
 * of a phase that failed, the durations of report.json, the count of
 * applied faults. A leaf: it calls nothing of the run loop.
 */
#include <stdarg.h>
#include <stdio.h>

#include "run_int.h"

void run_harness_fail(struct run *R, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&R->mu);
    if (!R->harness_failed) {
        R->harness_failed = true;
        va_start(ap, fmt);
        vsnprintf(R->harness_err, sizeof(R->harness_err), fmt, ap);
        va_end(ap);
        progress_event("harness error: %s", R->harness_err);
    }
    atomic_store(&run_stop, 1);
    pthread_mutex_unlock(&R->mu);
}

bool run_stopping(struct run *R)
{
    bool f;

    pthread_mutex_lock(&R->mu);
    f = R->harness_failed;
    pthread_mutex_unlock(&R->mu);
    return f || atomic_load(&run_signals) > 0;
}

int run_fail(struct run *R, int code, const char *fmt, ...)
{
    va_list ap;

    R->code = code;
    va_start(ap, fmt);
    vsnprintf(R->reason, sizeof(R->reason), fmt, ap);
    va_end(ap);
    return -1;
}

void run_duration(struct run *R, const char *key, int64_t ns)
{
    json_object_set_new(R->durations, key, json_integer(ns / NS_MS));
}

int run_active_faults(struct run *R)
{
    size_t i;
    int n = 0;

    /* The scheduler thread changes the states under mu (scheduler.c: set_state). */
    pthread_mutex_lock(&R->mu);
    for (i = 0; i < R->nfs; i++)
        n += R->fs[i].state == FS_ACTIVE;
    pthread_mutex_unlock(&R->mu);
    return n;
}
