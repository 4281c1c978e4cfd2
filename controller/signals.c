/*
 * SIGINT / SIGTERM for `faultline run`: the first one sets the workload's
 * stop flag and the run unwinds (heal, teardown, a partial report, exit 3);
 * a second one kills the lab at once (lab_emergency_teardown) and exits 3.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "run_int.h"

volatile sig_atomic_t run_signals; /* how many SIGINT/SIGTERM */
volatile sig_atomic_t run_stop;    /* the workload's stop flag */

static void on_signal(int sig)
{
    static const char msg[] = "\nfaultline: second interrupt: killing the lab now\n";

    (void)sig;
    run_signals = run_signals + 1;
    run_stop = 1;
    if (run_signals >= 2) {
        if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
            /* nothing to do */
        }
        lab_emergency_teardown();
        _exit(FL_EXIT_HARNESS);
    }
}

void run_signals_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool run_interrupted(void)
{
    return run_signals > 0;
}
