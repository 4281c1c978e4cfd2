/*
 * Shared test support: skipping with a visible reason, and the strict mode
 * CI uses. With FAULTLINE_STRICT=1 a test that would skip for lack of root
 * fails instead; a kernel-feature skip is allowed only when the capability
 * probe itself reports the feature absent (the caller passes that fact).
 *
 * Include after <cmocka.h> (which needs stdarg/stddef/setjmp first).
 */
#ifndef FAULTLINE_TESTUTIL_H
#define FAULTLINE_TESTUTIL_H

#include <stdbool.h>

/*
 * Exit status of a test program in which nothing failed but some test
 * skipped (the program's SKIP_RETURN_CODE in ctest, which then reports the
 * test as skipped, not passed). Set by the wrapper around cmocka's group
 * runner in testutil.c; tests only call TU_REQUIRE_ROOT, TU_SKIP_FEATURE or
 * tu_note_skip before skip().
 */
#define TU_SKIP_EXIT 77

/* True when FAULTLINE_STRICT=1 is set in the environment. */
bool tu_strict(void);

/*
 * Call at the top of a test that needs root (CAP_NET_ADMIN). Not root: prints
 * "SKIP <test>: needs root" and skips, or fails under FAULTLINE_STRICT=1.
 */
#define TU_REQUIRE_ROOT()                                                                       \
    do {                                                                                        \
        if (!tu_is_root()) {                                                                    \
            if (tu_strict())                                                                    \
                fail_msg("needs root (CAP_NET_ADMIN) and FAULTLINE_STRICT=1 forbids skipping"); \
            tu_note_skip(__func__, "needs root (CAP_NET_ADMIN)");                               \
            skip();                                                                             \
        }                                                                                       \
    } while (0)

/*
 * Skip because the kernel lacks a feature. probe_says_absent must come from
 * the injector's capability probe; under strict mode a skip without the
 * probe's word is a failure.
 */
#define TU_SKIP_FEATURE(feature, probe_says_absent)                                             \
    do {                                                                                        \
        if (tu_strict() && !(probe_says_absent))                                                \
            fail_msg("feature %s unavailable but the probe did not report it absent", feature); \
        tu_note_skip(__func__, "kernel lacks " feature " (capability probe)");                  \
        skip();                                                                                 \
    } while (0)

bool tu_is_root(void);
/* Print "SKIP <test>: <why>" and count the skip (the program then exits TU_SKIP_EXIT). */
void tu_note_skip(const char *test, const char *why);

/*
 * Report which branch of a kernel-feature test ran ("BRANCH <test>: <what>"),
 * e.g. whether the kernel had netem, so a log shows what was really checked.
 */
void tu_note_branch(const char *test, const char *what);

/* Run a shell command; returns its exit status (or -1). Output to stderr. */
int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Run a shell command and capture stdout (malloc'd, caller frees). NULL on failure. */
char *tu_sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
