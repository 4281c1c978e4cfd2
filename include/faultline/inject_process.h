/*
 * The process kind's guard hook. The injector itself always refuses to
 * signal PID 1, its own process, its ancestors, a process in its own
 * service's cgroup, and systemd slices, init.scope or the units its own
 * cgroup path names. An owner with a policy of its own (the agent's process
 * allowlist and configured restart commands) installs a guard: it is called
 * with the fault's canonical spec before a process fault is applied and
 * before a revert starts anything again (restart_cmd, systemctl start), so a
 * journal replayed at start-up is checked against the policy of today, not
 * of the run that wrote it. Resuming a stopped process (SIGCONT) is never
 * refused.
 */
#ifndef FAULTLINE_INJECT_PROCESS_H
#define FAULTLINE_INJECT_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#include "faultline/err.h"

enum inj_process_phase {
    INJ_PROCESS_APPLY,  /* before the first signal */
    INJ_PROCESS_REVERT, /* before a revert runs restart_cmd or systemctl start */
};

/* 0 to go ahead, or a negative errno (-EPERM) with err set. */
typedef int (*inj_process_guard_fn)(const json_t *spec, enum inj_process_phase phase, void *arg,
                                    struct fl_err *err);

/* Install (or with NULL remove) the process-wide guard. Not thread-safe: call at start-up. */
void inj_process_set_guard(inj_process_guard_fn fn, void *arg);

/*
 * True if the injector refuses to signal pid (see above); *why gets a short
 * reason. Exposed for tests and for the agent's own checks.
 */
bool inj_process_pid_protected(pid_t pid, const char **why);
/* True if the injector refuses unit (a slice, init.scope, a unit of its own cgroup). */
bool inj_process_unit_protected(const char *unit, const char **why);

#endif
