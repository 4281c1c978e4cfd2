/* Shared test support. See testutil.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "faultline/buf.h"
#include "testutil.h"

bool tu_strict(void)
{
    const char *v = getenv("FAULTLINE_STRICT");

    return v != NULL && strcmp(v, "1") == 0;
}

bool tu_is_root(void)
{
    return geteuid() == 0;
}

static int tu_nskipped;

void tu_note_skip(const char *test, const char *why)
{
    tu_nskipped++;
    fprintf(stderr, "SKIP %s: %s\n", test, why);
}

void tu_note_branch(const char *test, const char *what)
{
    fprintf(stderr, "BRANCH %s: %s\n", test, what);
}

/*
 * Every test program's cmocka_run_group_tests() lands here: fltestsupport
 * links with -Wl,--wrap=_cmocka_run_group_tests (tests/CMakeLists.txt).
 * cmocka returns the number of failed tests, so a program whose tests all
 * skipped would exit 0 and ctest would call it "Passed". When nothing failed
 * but something skipped (through tu_note_skip), exit TU_SKIP_EXIT instead:
 * every test has SKIP_RETURN_CODE set to it, so ctest reports "Skipped" and
 * lists it under "The following tests did not run". A failure always wins.
 */
int __real__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests,
                                   const size_t num_tests, CMFixtureFunction group_setup,
                                   CMFixtureFunction group_teardown);
int __wrap__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests,
                                   const size_t num_tests, CMFixtureFunction group_setup,
                                   CMFixtureFunction group_teardown);

int __wrap__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests,
                                   const size_t num_tests, CMFixtureFunction group_setup,
                                   CMFixtureFunction group_teardown)
{
    int failed =
        __real__cmocka_run_group_tests(group_name, tests, num_tests, group_setup, group_teardown);

    if (failed == 0 && tu_nskipped > 0) {
        fprintf(stderr, "%d of %zu tests skipped (see SKIP lines): exit %d\n", tu_nskipped,
                num_tests, TU_SKIP_EXIT);
        return TU_SKIP_EXIT;
    }
    return failed;
}

int tu_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    st = system(cmd);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

char *tu_sh_out(const char *fmt, ...)
{
    char cmd[4096], chunk[4096];
    struct fl_buf b;
    va_list ap;
    FILE *p;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    p = popen(cmd, "r");
    if (p == NULL)
        return NULL;
    fl_buf_init(&b, 64 << 20);
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        fl_buf_add(&b, chunk, n);
    if (pclose(p) == -1) {
        fl_buf_free(&b);
        return NULL;
    }
    return fl_buf_take(&b);
}
