/*
 * Helpers of the end-to-end tests: run the faultline binary (FAULTLINE_BIN,
 * set by CMake) as a child with a time bound, snapshot what the root network
 * namespace looks like, check a run's output files by parsing them back
 * (report.json with jansson, history.jsonl and faults.jsonl with the
 * history readers, junit.xml with a small well-formedness checker), and
 * check that a lab left nothing behind.
 */
#ifndef FAULTLINE_E2E_UTIL_H
#define FAULTLINE_E2E_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

/* The faultline binary and the source tree (environment set by ctest). */
const char *e2e_bin(void);
const char *e2e_src(void);

/* Start faultline with args (NULL-terminated), output appended to log. Returns the pid. */
pid_t e2e_start(const char *log, const char *const *args);
/* Wait for pid up to timeout_ms (then SIGKILL). Returns its exit code, or -1 if killed. */
int e2e_wait(pid_t pid, int timeout_ms);
/* e2e_start + e2e_wait. */
int e2e_run(const char *log, int timeout_ms, const char *const *args);

/* A fresh empty directory under /tmp for one test (malloc'd path). */
char *e2e_tmpdir(const char *tag);

/* What must be unchanged in the root namespace: nft, rules, routes, qdiscs, links (malloc'd). */
char *e2e_root_snapshot(void);
/* Namespaces named fl-<id>-* still present, or a state file for id (false: all gone). */
bool e2e_lab_left(const char *id, char *what, size_t len);

/* Wait until log holds a line matching the extended regex re (bounded). */
bool e2e_log_wait(const char *log, const char *re, int timeout_ms);
/*
 * A started child (pid) whose log must come to match re within timeout_ms:
 * otherwise the log is printed, the child killed and the test fails with
 * "<what>".
 */
void e2e_await(pid_t pid, const char *log, const char *re, int timeout_ms, const char *what);
/* The id of the lab a run's log announces (malloc'd, "" when none yet). */
char *e2e_log_lab_id(const char *log);
/* Are namespaces fl-<id>-* present? */
bool e2e_lab_present(const char *id);

/* Load a JSON file (NULL on error, message printed). */
json_t *e2e_json_load(const char *path);
/* Is the file well-formed XML (balanced elements, quoted attributes, valid entities)? */
bool e2e_xml_well_formed(const char *path, char *why, size_t len);
/*
 * Check the outputs of a finished run in dir: report.json parses and has the
 * keys docs/internals/run.md lists under "Outputs", junit.xml (in junit_dir) is well-formed and
 * holds a testsuite for the experiment, history.jsonl and faults.jsonl parse with the history
 * readers. Fails the current test on any problem. Returns the report (caller decrefs).
 */
json_t *e2e_check_outputs(const char *dir, const char *junit_dir);

/* Print the tail of a log file to stderr (for failure messages). */
void e2e_print_log(const char *path);

#endif
