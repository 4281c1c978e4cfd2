/*
 * Root-run files of the lab only in private places (controller/lab.c):
 * a lab directory is made fresh (an existing one, or one in a run directory
 * owned by another user, is refused before anything is written); `lab down`
 * writes its `ip -batch` file into a private mkdtemp directory, so a symlink
 * planted at the old /tmp path is never followed; and it signals a process
 * of the state file only when the pid still has the start time recorded.
 * Needs root (chown, namespaces, /run/faultline).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "faultline/file.h"
#include "lab.h"
#include "testutil.h"

#define ID "0ddba2" /* a fake lab */

static char base[64];

static int setup(void **st)
{
    (void)st;
    snprintf(base, sizeof(base), "/tmp/fl-t%d-XXXXXX", (int)getpid());
    return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **st)
{
    char path[256];

    (void)st;
    snprintf(path, sizeof(path), "%s/%s.json", LAB_STATE_DIR, ID);
    unlink(path);
    tu_sh("ip netns del fl-%s-x 2>/dev/null; rm -rf '%s' /tmp/fl-netns-del-%d.batch", ID, base,
          (int)getpid());
    return 0;
}

static void lab_dir_create_should_make_a_fresh_private_dir(void **st)
{
    char dir[128];
    struct stat sb;
    struct fl_err e = {0};

    (void)st;
    TU_REQUIRE_ROOT();
    snprintf(dir, sizeof(dir), "%s/fresh", base);
    assert_int_equal(lab_dir_create(dir, &e), 0);
    assert_int_equal(lstat(dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(sb.st_uid, geteuid());
}

static void lab_dir_create_should_refuse_an_existing_dir(void **st)
{
    char dir[128];
    struct fl_err e = {0};

    (void)st;
    TU_REQUIRE_ROOT();
    snprintf(dir, sizeof(dir), "%s/old", base);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(lab_dir_create(dir, &e), -EEXIST);
    assert_non_null(strstr(e.msg, dir));
    assert_non_null(strstr(e.msg, "exists already"));
}

static void lab_dir_create_should_refuse_a_foreign_owned_run_dir(void **st)
{
    char run[128], dir[160];
    struct stat sb;
    struct fl_err e = {0};

    (void)st;
    TU_REQUIRE_ROOT();
    snprintf(run, sizeof(run), "%s/runs-nobody", base);
    snprintf(dir, sizeof(dir), "%s/lab", run);
    assert_int_equal(mkdir(run, 0755), 0);
    assert_int_equal(chown(run, 65534, 65534), 0);
    assert_int_equal(lab_dir_create(dir, &e), -EPERM);
    assert_non_null(strstr(e.msg, "owned by uid 65534"));
    assert_non_null(strstr(e.msg, run));
    assert_int_equal(lstat(dir, &sb), -1); /* nothing made */
}

static void lab_dir_create_should_refuse_a_symlinked_or_world_writable_run_dir(void **st)
{
    char real[128], link[128], dir[160];
    struct fl_err e = {0};

    (void)st;
    TU_REQUIRE_ROOT();
    snprintf(real, sizeof(real), "%s/real", base);
    snprintf(link, sizeof(link), "%s/link", base);
    assert_int_equal(mkdir(real, 0755), 0);
    assert_int_equal(symlink(real, link), 0);
    snprintf(dir, sizeof(dir), "%s/lab", link);
    assert_true(lab_dir_create(dir, &e) < 0);
    assert_non_null(strstr(e.msg, "not a directory"));
    assert_int_equal(chmod(real, 0777), 0);
    snprintf(dir, sizeof(dir), "%s/lab", real);
    fl_err_clear(&e);
    assert_int_equal(lab_dir_create(dir, &e), -EPERM);
    assert_non_null(strstr(e.msg, "writable by group or others"));
}

static void write_state(const char *procs)
{
    char path[256];
    FILE *f;

    assert_int_equal(fl_mkdir_p(LAB_STATE_DIR, 0755), 0);
    snprintf(path, sizeof(path), "%s/%s.json", LAB_STATE_DIR, ID);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"id\":\"%s\",\"controller_pid\":1,\"controller_start\":1,\"detached\":true,"
            "\"namespaces\":[\"fl-%s-x\"],\"processes\":%s}\n",
            ID, ID, procs);
    assert_int_equal(fclose(f), 0);
}

static void lab_down_should_not_follow_a_symlink_at_the_old_tmp_batch_path(void **st)
{
    char victim[128], planted[64], buf[64] = "";
    struct fl_err e = {0};
    FILE *f;

    (void)st;
    TU_REQUIRE_ROOT();
    snprintf(victim, sizeof(victim), "%s/victim", base);
    f = fopen(victim, "w");
    assert_non_null(f);
    fputs("keep\n", f);
    fclose(f);
    snprintf(planted, sizeof(planted), "/tmp/fl-netns-del-%d.batch", (int)getpid());
    unlink(planted);
    assert_int_equal(symlink(victim, planted), 0);
    assert_int_equal(tu_sh("ip netns add fl-%s-x", ID), 0);
    write_state("[]");
    assert_int_equal(lab_down_id(ID, &e), 0);
    assert_int_not_equal(tu_sh("ip netns list | grep -q '^fl-%s-x'", ID), 0);
    f = fopen(victim, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    assert_string_equal(buf, "keep\n");
    unlink(planted);
}

static pid_t sleeper(void)
{
    pid_t child = fork();

    assert_true(child >= 0);
    if (child == 0) {
        pause();
        _exit(0);
    }
    while (lab_proc_start(child) < 0)
        usleep(1000);
    return child;
}

static void lab_down_should_signal_only_a_pid_with_its_recorded_start_time(void **st)
{
    char procs[128];
    struct fl_err e = {0};
    pid_t child = sleeper();
    int status = 0;

    (void)st;
    TU_REQUIRE_ROOT();
    /* The pid now belongs to another process: another start time. */
    snprintf(procs, sizeof(procs), "[{\"pid\":%d,\"name\":\"agent-h1\",\"start\":%lld}]",
             (int)child, lab_proc_start(child) + 1);
    write_state(procs);
    lab_down_id(ID, &e);
    assert_int_equal(waitpid(child, &status, WNOHANG), 0); /* alive */
    /* An older state file without start times: nothing is signalled either. */
    snprintf(procs, sizeof(procs), "[{\"pid\":%d,\"name\":\"agent-h1\"}]", (int)child);
    write_state(procs);
    lab_down_id(ID, &e);
    assert_int_equal(waitpid(child, &status, WNOHANG), 0);
    /* The lab's own process: signalled. */
    snprintf(procs, sizeof(procs), "[{\"pid\":%d,\"name\":\"agent-h1\",\"start\":%lld}]",
             (int)child, lab_proc_start(child));
    write_state(procs);
    lab_down_id(ID, &e);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lab_dir_create_should_make_a_fresh_private_dir),
        cmocka_unit_test(lab_dir_create_should_refuse_an_existing_dir),
        cmocka_unit_test(lab_dir_create_should_refuse_a_foreign_owned_run_dir),
        cmocka_unit_test(lab_dir_create_should_refuse_a_symlinked_or_world_writable_run_dir),
        cmocka_unit_test(lab_down_should_not_follow_a_symlink_at_the_old_tmp_batch_path),
        cmocka_unit_test(lab_down_should_signal_only_a_pid_with_its_recorded_start_time),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
