/*
 * faultline-verify end to end on files: exit 0 on pass, 1 on a failed
 * verifier (with report-style JSON on stdout), 2 on a bad history line
 * (naming path:line) or bad bounds.
 */
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

#include <jansson.h>

#include "testutil.h"

static const char *bin(void)
{
    const char *b = getenv("FAULTLINE_VERIFY");

    if (b == NULL)
        fail_msg("FAULTLINE_VERIFY is not set (run through ctest)");
    return b;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

#define REC(c, op, type, key, val, inv, cmp, out)                                            \
    "{\"client\":" #c ",\"op\":\"" op "\",\"type\":\"" type "\",\"key\":\"" key              \
    "\",\"value\":" #val ",\"region\":\"west\",\"invoke_ns\":" #inv ",\"complete_ns\":" #cmp \
    ",\"outcome\":\"" out "\"}\n"

static char dir[64];

static int setup(void **state)
{
    char hist[128], faults[128];

    snprintf(dir, sizeof(dir), "/tmp/vfy-cli-%d", (int)getpid());
    assert_int_equal(tu_sh("mkdir -p %s", dir), 0);
    snprintf(hist, sizeof(hist), "%s/history.jsonl", dir);
    snprintf(faults, sizeof(faults), "%s/faults.jsonl", dir);
    put(hist,
        REC(1, "put", "write", "k", 1, 100, 110, "ok") REC(
            1, "put", "write", "k", 2, 900, 910,
            "ok") "{\"client\":9,\"op\":\"get\",\"type\":\"read\",\"key\":\"k\",\"value\":1,"
                  "\"invoke_ns\":5000,\"complete_ns\":5001,\"outcome\":\"ok\",\"final\":true}\n");
    put(faults, "{\"id\":\"f1\",\"kind\":\"isolate\",\"scope\":\"region west\","
                "\"apply_sent_ns\":1000,\"apply_done_ns\":1010,\"heal_sent_ns\":3000,"
                "\"heal_done_ns\":3010}\n");
    return 0;
}

static int teardown(void **state)
{
    tu_sh("rm -rf %s", dir);
    return 0;
}

static void cli_should_exit_1_and_print_the_report_when_a_verifier_fails(void **state)
{
    char *out = tu_sh_out("%s --history %s/history.jsonl --faults %s/faults.jsonl "
                          "--bounds '{\"data_loss\":{\"consistency\":\"strong\"}}'; echo rc=$?",
                          bin(), dir, dir);
    json_t *j;
    char *rc;

    assert_non_null(out);
    rc = strstr(out, "rc=");
    assert_non_null(rc);
    assert_string_equal(rc, "rc=1\n");
    *rc = '\0';
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "verdict")), "fail");
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_array_get(json_object_get(j, "verifiers"), 0), "measured"),
            "lost_updates")),
        1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "ops"), "total")), 3);
    json_decref(j);
    free(out);
}

static void cli_should_exit_0_when_bounds_hold(void **state)
{
    assert_int_equal(tu_sh("%s --history %s/history.jsonl --faults %s/faults.jsonl --compact "
                           "--bounds '{\"data_loss\":{\"max_updates\":1,\"max_window\":\"1s\"}}' "
                           ">/dev/null",
                           bin(), dir, dir),
                     0);
}

static void cli_should_exit_2_naming_the_bad_line(void **state)
{
    char *out;

    put("/tmp/vfy-cli-bad.jsonl", REC(1, "put", "write", "k", 1, 100, 110, "ok") "{\"client\":1,"
                                                                                 "\"op\":3}\n");
    /* the whole output: one line naming the file, the line and what is wrong, nothing on stdout */
    out = tu_sh_out("%s --history /tmp/vfy-cli-bad.jsonl --bounds '{}' 2>&1; echo rc=$?", bin());
    assert_non_null(out);
    assert_string_equal(out, "faultline-verify: /tmp/vfy-cli-bad.jsonl:2: \"op\" must be a string\n"
                             "rc=2\n");
    free(out);
    unlink("/tmp/vfy-cli-bad.jsonl");
    out = tu_sh_out("%s --history %s/history.jsonl --bounds '{\"failover\":{\"max\":\"soon\"}}' "
                    "2>&1; echo rc=$?",
                    bin(), dir);
    assert_non_null(out);
    assert_string_equal(out,
                        "faultline-verify: bounds: failover.max: bad duration 'soon': expected a "
                        "whole number and a unit (ms, s, m, h), e.g. 250ms or 10s\n"
                        "rc=2\n");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cli_should_exit_1_and_print_the_report_when_a_verifier_fails),
        cmocka_unit_test(cli_should_exit_0_when_bounds_hold),
        cmocka_unit_test(cli_should_exit_2_naming_the_bad_line),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
