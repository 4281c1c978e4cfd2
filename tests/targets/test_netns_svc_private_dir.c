/*
 * A run folder inside a private directory (mode 0700, owned by root, as
 * `mktemp -d` and many CI workspaces make it) and a service that drops
 * privileges: PostgreSQL's pg_autoctl runs as postgres, which cannot reach
 * such a folder. The launcher must put the service's state where postgres
 * can reach it (a private /var/tmp/faultline-postgres-XXXXXX owned by
 * postgres), still write the logs into the run folder, and remove that
 * state directory when it stops. The reachability check itself
 * (svc_user_can_reach) is tested on its own first: it names the directory
 * that stops the user. Needs root; the PostgreSQL part needs the
 * postgresql-15 / pg_auto_failover packages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../targets/services/svc.h"
#include "faultline/err.h"
#include "faultline/target.h"
#include "test_svc_lab.h"
#include "testutil.h"

static void reach_should_name_the_private_directory_that_stops_the_user(void **state)
{
    char parent[] = "/tmp/fl-reach-XXXXXX", inner[128];
    struct fl_err e;

    (void)state;
    TU_REQUIRE_ROOT();
    if (access("/usr/bin/pg_autoctl", X_OK) != 0)
        skip();                       /* no user postgres without the package */
    assert_non_null(mkdtemp(parent)); /* 0700, root's */
    snprintf(inner, sizeof(inner), "%s/run/target", parent);
    tu_sh("mkdir -p %s && chmod 755 %s/run %s", inner, parent, inner);
    fl_err_clear(&e);
    assert_int_equal(svc_user_can_reach(inner, "postgres", &e), -EACCES);
    assert_non_null(strstr(e.msg, parent));
    assert_non_null(strstr(e.msg, "mode 0700"));
    assert_int_equal(svc_user_can_reach(inner, "root", &e), 0);
    assert_int_equal(chmod(parent, 0711), 0);
    assert_int_equal(svc_user_can_reach(inner, "postgres", &e), 0);
    tu_sh("rm -rf %s", parent);
}

static void postgres_should_run_from_a_run_folder_inside_a_private_directory(void **state)
{
    const struct fl_target_ops *t = fl_target_find("postgres");
    json_t *cfg = json_pack("{s:s}", "kind", "postgres");
    char parent[] = "/tmp/fl-private-XXXXXX", run_dir[128], log[256], sd[256];
    struct fl_target_env env;
    struct stat st;
    json_t *status;
    void *s = NULL;
    struct fl_err e;
    int mon;

    (void)state;
    TU_REQUIRE_ROOT();
    if (access("/usr/bin/pg_autoctl", X_OK) != 0) {
        if (tu_strict())
            fail_msg("pg_autoctl is not installed (scripts/setup.sh --with-services)");
        tu_note_skip(__func__, "pg-auto-failover-cli not installed");
        skip();
    }
    assert_non_null(t);
    assert_non_null(mkdtemp(parent));
    assert_int_equal(stat(parent, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(run_dir, sizeof(run_dir), "%s/run/target", parent);
    tu_sh("mkdir -p %s", run_dir);
    env = *svl_env(cfg, "west");
    env.run_dir = run_dir;
    fl_err_clear(&e);
    if (t->start(&env, &s, &e) < 0) {
        tu_sh("rm -rf %s", parent);
        fail_msg("start with the run folder in a private directory: %s", e.msg);
    }
    svl_cur_ops = t;
    svl_cur_state = s;
    status = t->status(s);
    snprintf(sd, sizeof(sd), "%s", json_string_value(json_object_get(status, "state_dir")));
    assert_int_equal(strncmp(sd, "/var/tmp/faultline-postgres-", 28), 0);
    assert_int_equal(stat(sd, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    /* The monitor's log is in the run folder (east holds the monitor), not in the state dir. */
    mon = svl_find_region("east");
    assert_true(mon >= 0);
    assert_string_equal(json_string_value(json_object_get(status, "monitor")), svl_hosts[mon].name);
    snprintf(log, sizeof(log), "%s/%s/pg_autoctl-monitor.log", run_dir, svl_hosts[mon].name);
    assert_int_equal(stat(log, &st), 0);
    assert_true(st.st_size > 0);
    json_decref(status);
    t->stop(s);
    svl_cur_state = NULL;
    /* Stopped: the private state directory is gone, the logs stay. */
    assert_int_equal(stat(sd, &st), -1);
    assert_int_equal(stat(log, &st), 0);
    json_decref(cfg);
    tu_sh("rm -rf %s", parent);
}

/* The three-region lab, when root and the service's package are there. */
static int group_setup(void **state)
{
    return svl_group_setup("/usr/bin/pg_autoctl", state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reach_should_name_the_private_directory_that_stops_the_user),
        cmocka_unit_test_teardown(postgres_should_run_from_a_run_folder_inside_a_private_directory,
                                  svl_test_teardown),
    };

    setvbuf(stdout, NULL, _IONBF, 0);
    return cmocka_run_group_tests(tests, group_setup, svl_group_teardown);
}
