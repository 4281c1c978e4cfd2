/*
 * SIGINT / SIGTERM for `faultline run`, as the agent does it: the signals
 * are blocked before any thread exists (every thread the run makes inherits
 * the mask, and every child resets it before exec), and one thread waits
 * for them with sigwait(). The first one sets the workload's stop flag and
 * the run unwinds (heal, teardown, a partial report, exit 3); a second one
 * kills the lab at once (lab_emergency_teardown: fork, exec, waitpid, which
 * a signal handler could not do safely) and exits 3. Nothing runs in signal
 * context. The flags are C11 atomics read by every thread of the run.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "run_int.h"

atomic_int run_signals; /* how many SIGINT/SIGTERM */
atomic_int run_stop;    /* the workload's stop flag */

static sigset_t waited;

static void *signal_thread(void *arg)
{
    int sig;

    (void)arg;
    for (;;) {
        if (sigwait(&waited, &sig) != 0)
            continue;
        atomic_store(&run_stop, 1);
        if (atomic_fetch_add(&run_signals, 1) + 1 < 2)
            continue;
        fprintf(stderr, "\nfaultline: second interrupt: killing the lab now\n");
        lab_emergency_teardown();
        _exit(FL_EXIT_HARNESS);
    }
    return NULL;
}

int run_signals_install(void)
{
    static bool started;
    pthread_t t;
    int r;

    signal(SIGPIPE, SIG_IGN);
    if (started)
        return 0;
    sigemptyset(&waited);
    sigaddset(&waited, SIGINT);
    sigaddset(&waited, SIGTERM);
    /* Before any thread exists: every thread inherits the mask. */
    if ((r = pthread_sigmask(SIG_BLOCK, &waited, NULL)) != 0)
        return -r;
    if ((r = pthread_create(&t, NULL, signal_thread, NULL)) != 0)
        return -r;
    pthread_detach(t);
    started = true;
    return 0;
}

bool run_interrupted(void)
{
    return atomic_load(&run_signals) > 0;
}
