/*
 * The subcommands of the faultline CLI and its exit codes. Each subcommand is
 * one handler, int cmd_NAME(int argc, char **argv), where argv[0] is the
 * subcommand's name and the return value is the process exit code; main.c
 * holds the table (name, handler, one-line summary), so adding a subcommand is
 * one handler here, its file, and one table line. Every handler answers
 * --help on stdout with usage, examples and exit codes.
 */
#ifndef FAULTLINE_COMMANDS_H
#define FAULTLINE_COMMANDS_H

/* Exit codes of every faultline command (the "exit codes" paragraph of --help). */
enum fl_exit {
    FL_EXIT_OK = 0,      /* every verifier passed; validate: every file is valid */
    FL_EXIT_VERIFY = 1,  /* a verifier failed */
    FL_EXIT_USAGE = 2,   /* the experiment file or the command line is wrong */
    FL_EXIT_HARNESS = 3, /* the harness could not run (setup, agent, kernel feature) */
};

/* The exit-code paragraph every --help ends with. */
extern const char fl_exit_codes_help[];

/* faultline validate [-q] [--plan] FILE...: check experiment files, touch nothing. */
int cmd_validate(int argc, char **argv);
/* faultline halt [--resume] (AGENT_URL... | --lab ID): see --help (halt_cmd.c). */
int cmd_halt(int argc, char **argv);
/* faultline version: print the version. */
int cmd_version(int argc, char **argv);
/* faultline help [COMMAND]: the overview, or a command's --help. */
int cmd_help(int argc, char **argv);
/* faultline report RUN_DIR: redraw report.html and print the summary (report_index.c). */
int cmd_report(int argc, char **argv);
/* faultline compare BASELINE... NEW: regressions against earlier runs (compare.c). */
int cmd_compare(int argc, char **argv);

#endif
