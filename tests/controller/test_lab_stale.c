/*
 * Unit tests of stale-lab detection (controller/lab.c: lab_proc_start,
 * lab_stale): a lab is stale when its state file names a controller that is
 * gone: no such pid, only a zombie, or a pid now used by another process
 * (another start time). A detached lab (`lab up`, --keep-lab) never is.
 * Writes fake state files under /run/faultline/labs (needs root; ids that
 * no real lab uses are removed at the end).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "faultline/file.h"
#include "lab.h"
#include "testutil.h"

#define ID "0ddba1" /* a fake lab; no namespaces */

static void state(long long pid, long long start, int detached)
{
    char path[256];
    FILE *f;

    assert_int_equal(fl_mkdir_p(LAB_STATE_DIR, 0755), 0);
    snprintf(path, sizeof(path), "%s/%s.json", LAB_STATE_DIR, ID);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"id\":\"%s\",\"controller_pid\":%lld,\"controller_start\":%lld,\"detached\":%s,"
            "\"namespaces\":[],\"processes\":[]}\n",
            ID, pid, start, detached ? "true" : "false");
    assert_int_equal(fclose(f), 0);
}

static int cleanup(void **st)
{
    char path[256];

    (void)st;
    snprintf(path, sizeof(path), "%s/%s.json", LAB_STATE_DIR, ID);
    unlink(path);
    return 0;
}

static void proc_start_should_know_live_processes_only(void **st)
{
    pid_t child;

    (void)st;
    assert_true(lab_proc_start(getpid()) > 0);
    assert_int_equal(lab_proc_start(getpid()), lab_proc_start(getpid()));
    assert_int_equal(lab_proc_start(-1), -1);
    child = fork();
    assert_true(child >= 0);
    if (child == 0)
        _exit(0);
    /* Exited, not reaped: a zombie counts as gone. */
    usleep(100000);
    assert_int_equal(lab_proc_start(child), -1);
    waitpid(child, NULL, 0);
    assert_int_equal(lab_proc_start(child), -1);
}

static void lab_should_be_stale_exactly_when_its_controller_is_gone(void **st)
{
    long long me = lab_proc_start(getpid());
    char why[128];
    pid_t child;

    (void)st;
    TU_REQUIRE_ROOT();
    /* The controller runs (this process, same start time): not stale. */
    state(getpid(), me, 0);
    assert_int_equal(lab_stale(ID, why, sizeof(why)), 0);
    /* The same pid with another start time: the pid was reused, the controller is gone. */
    state(getpid(), me + 1, 0);
    assert_int_equal(lab_stale(ID, why, sizeof(why)), 1);
    assert_non_null(strstr(why, "another process now"));
    /* A controller that exited. */
    child = fork();
    assert_true(child >= 0);
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    state(child, 1, 0);
    assert_int_equal(lab_stale(ID, why, sizeof(why)), 1);
    assert_non_null(strstr(why, "is gone"));
    /* Detached (`lab up`): its controller exits on purpose. */
    state(child, 1, 1);
    assert_int_equal(lab_stale(ID, why, sizeof(why)), 0);
    /* No state file: nothing to say. */
    cleanup(NULL);
    assert_int_equal(lab_stale(ID, why, sizeof(why)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(proc_start_should_know_live_processes_only),
        cmocka_unit_test_teardown(lab_should_be_stale_exactly_when_its_controller_is_gone, cleanup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
