/*
 * `faultline run`: the run loop. For one experiment: build the lab (or reach
 * the staging agents), check every agent's health and capabilities against
 * the faults it will get, start the target, warm up, drive the workload
 * while a scheduler thread applies, renews and heals the faults on time,
 * heal everything, let the target converge, make the final reads, run the
 * verifiers, write the reports, tear down. Whatever happens (a verifier
 * fails, an agent dies, Ctrl-C), nothing stays injected and nothing of the
 * lab remains. `faultline lab up|down|list` exposes the lab by hand.
 *
 * The progress line (progress.c) is declared here too: a one-line live
 * status on a terminal, plain log lines otherwise.
 */
#ifndef FAULTLINE_RUN_H
#define FAULTLINE_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "agent_tls.h"
#include "experiment.h"
#include "faultline/err.h"
#include "faultline/workload.h"

struct run_opts {
    const char *out;        /* output directory of this experiment */
    const char *token_file; /* staging: the agents' bearer token */
    struct agent_tls tls;   /* staging: --ca (else the system store), --cert/--key */
    const char *agent_bin;  /* faultline-agent (lab) */
    const char *target_bin; /* faultline-refstore (lab) */
    int64_t warmup_ns;      /* after the target is up, before the workload (default 1 s) */
    int64_t settle_ns;      /* longest wait for the target to converge (default 20 s) */
    int64_t ttl_ms;         /* fault lease (default 9000; renewed every ttl/3) */
    bool keep_lab;          /* debugging: leave the lab up at the end (reverts faults anyway) */
    bool quiet;             /* no progress output */
    bool verbose;           /* the summary also prints each verifier's method paragraph */
    bool dry_run;           /* everything but the faults and the workload (dry_run.c) */
};

/*
 * Run one loaded experiment with its outputs in opts->out (created).
 * *report is set to the report.json object (new reference, also written to
 * out/report.json) whenever the run got far enough to have an output
 * directory. Returns the exit code: FL_EXIT_OK, FL_EXIT_VERIFY,
 * FL_EXIT_USAGE (the file cannot be run as written) or FL_EXIT_HARNESS.
 */
int run_experiment(const struct experiment *exp, const struct run_opts *opts, json_t **report);

/* Has SIGINT / SIGTERM been received (the run unwinds)? */
bool run_interrupted(void);

/*
 * Block SIGINT/SIGTERM and start the thread that waits for them (first:
 * unwind; second: force teardown, exit 3). Call before any other thread
 * exists. 0 or -errno.
 */
int run_signals_install(void);

/* faultline run [options] FILE...: see --help. */
int cmd_run(int argc, char **argv);
/* faultline lab up FILE | down [ID] | list */
int cmd_lab(int argc, char **argv);

/* ---- progress (progress.c) ---------------------------------------------- */

/* Start the progress display for one experiment (tty: live line on stderr). */
void progress_begin(const char *experiment, bool quiet);
/* A phase or fault event: one line (the live line is redrawn below it). */
void progress_event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Set the current phase's name (also logs it as an event). */
void progress_phase(const char *phase);
/* New workload statistics and the number of active faults. */
void progress_stats(const struct wl_stats *s, int active_faults);
void progress_faults(int active_faults);
/* Redraw (tty: at most 4 times a second; otherwise a line every 5 s). */
void progress_tick(void);
/* Clear the live line. */
void progress_end(void);

#endif
