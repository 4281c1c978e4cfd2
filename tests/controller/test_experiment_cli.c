/*
 * The faultline CLI as a user meets it: validate's output and exit codes
 * (0 all valid, 2 any bad file or bad command line), --help texts that teach
 * usage, examples and exit codes, unknown commands with a hint. Runs the
 * built binary named by FAULTLINE_BIN.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "faultline/buf.h"
#include "testutil.h"

static char bin[4096];

static int setup(void **state)
{
    const char *b = getenv("FAULTLINE_BIN"), *src = getenv("FAULTLINE_SOURCE_DIR");
    char dir[4096];

    (void)state;
    if (b == NULL)
        return -1;
    snprintf(bin, sizeof(bin), "%s", b);
    snprintf(dir, sizeof(dir), "%s/tests/controller", src ? src : ".");
    return chdir(dir) == 0 ? 0 : -1;
}

/* Run "faultline ARGS" with stdout and stderr captured separately. Returns the exit code. */
static int run(const char *args, char **out, char **err)
{
    char cmd[8192], chunk[4096];
    struct fl_buf b;
    size_t n;
    FILE *p;
    int st;

    snprintf(cmd, sizeof(cmd), "%s %s 2>/tmp/fl-test-cli-%d.err", bin, args, (int)getpid());
    p = popen(cmd, "r");
    assert_non_null(p);
    fl_buf_init(&b, 1 << 20);
    fl_buf_addstr(&b, "");
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        assert_int_equal(fl_buf_add(&b, chunk, n), 0);
    st = pclose(p);
    *out = fl_buf_take(&b);
    snprintf(cmd, sizeof(cmd), "/tmp/fl-test-cli-%d.err", (int)getpid());
    p = fopen(cmd, "r");
    assert_non_null(p);
    fl_buf_init(&b, 1 << 20);
    fl_buf_addstr(&b, "");
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        assert_int_equal(fl_buf_add(&b, chunk, n), 0);
    fclose(p);
    unlink(cmd);
    *err = fl_buf_take(&b);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void validate_should_exit_0_and_say_ok_for_valid_files(void **state)
{
    char *out, *err;

    (void)state;
    assert_int_equal(run("validate good/lab.yaml good/staging.yaml", &out, &err), 0);
    assert_string_equal(out, "good/lab.yaml: ok\ngood/staging.yaml: ok\n");
    assert_string_equal(err, "");
    free(out);
    free(err);
    assert_int_equal(run("validate ../../experiments/key-vault-region-outage.yaml "
                         "../../experiments/cosmos-zone-outage.yaml",
                         &out, &err),
                     0);
    assert_non_null(strstr(out, "key-vault-region-outage.yaml: ok\n"));
    assert_non_null(strstr(out, "cosmos-zone-outage.yaml: ok\n"));
    free(out);
    free(err);
}

static void validate_should_exit_2_with_the_error_line_for_a_bad_file(void **state)
{
    char *out, *err;

    (void)state;
    assert_int_equal(run("validate bad/unknown-key.yaml", &out, &err), 2);
    assert_string_equal(out, "");
    assert_string_equal(
        err, "bad/unknown-key.yaml:22:3: unknown key 'duraton' in workload (did you mean "
             "'duration'?)\n");
    free(out);
    free(err);
}

static void validate_should_check_every_file_and_fail_if_any_is_bad(void **state)
{
    char *out, *err;

    (void)state;
    assert_int_equal(run("validate good/lab.yaml bad/bad-rate.yaml good/staging.yaml", &out, &err),
                     2);
    assert_string_equal(out, "good/lab.yaml: ok\ngood/staging.yaml: ok\n");
    assert_string_equal(err, "bad/bad-rate.yaml:21:9: workload.rate: bad rate '500': expected "
                             "N/s or N/m, e.g. 500/s\n");
    free(out);
    free(err);
}

static void validate_should_exit_2_for_every_bad_file(void **state)
{
    char *out, *err;

    (void)state;
    assert_int_equal(run("validate -q bad/*.yaml", &out, &err), 2);
    assert_string_equal(out, "");
    assert_non_null(strstr(err, "bad/yaml-syntax.yaml:"));
    free(out);
    free(err);
}

static void validate_should_exit_2_on_usage_errors(void **state)
{
    char *out, *err;

    (void)state;
    assert_int_equal(run("validate", &out, &err), 2);
    assert_non_null(strstr(err, "no experiment file given"));
    free(out);
    free(err);
    assert_int_equal(run("validate --bogus good/lab.yaml", &out, &err), 2);
    free(out);
    free(err);
    assert_int_equal(run("validate no-such.yaml", &out, &err), 2);
    assert_string_equal(err, "no-such.yaml: cannot open: No such file or directory\n");
    free(out);
    free(err);
}

static void validate_plan_should_print_hosts_and_fault_cidrs(void **state)
{
    char *out, *err;

    (void)state;
    assert_int_equal(run("validate --plan good/lab.yaml", &out, &err), 0);
    assert_non_null(strstr(out, "host west-z1-h2 data 198.18.1.34/32 control 198.19.0.11/32 "
                                "agent http://198.19.0.11:7070\n"));
    assert_non_null(strstr(out, "group north, south -> 198.18.2.0/24 198.18.3.0/24 (3 hosts)\n"));
    free(out);
    free(err);
}

static void help_should_teach_usage_examples_and_exit_codes(void **state)
{
    static const char *const args[] = {"--help", "help", "validate --help", "help validate"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
        char *out, *err;

        assert_int_equal(run(args[i], &out, &err), 0);
        assert_non_null(strstr(out, "usage: faultline"));
        assert_non_null(strstr(out, "examples:"));
        assert_non_null(strstr(out, "faultline validate "));
        assert_non_null(strstr(out, "exit codes:"));
        assert_non_null(strstr(out, "  0  "));
        assert_non_null(strstr(out, "  1  a verifier failed"));
        assert_non_null(strstr(out, "  2  the experiment file or the command line is wrong"));
        assert_non_null(strstr(out, "  3  the harness itself could not run"));
        free(out);
        free(err);
    }
}

static void cli_should_hint_at_unknown_commands(void **state)
{
    char *out, *err;

    (void)state;
    assert_int_equal(run("valdate x.yaml", &out, &err), 2);
    assert_string_equal(err, "faultline: unknown command 'valdate' (did you mean 'validate'?)\n");
    free(out);
    free(err);
    assert_int_equal(run("", &out, &err), 2);
    assert_non_null(strstr(err, "usage: faultline"));
    free(out);
    free(err);
    assert_int_equal(run("version", &out, &err), 0);
    assert_true(strncmp(out, "faultline ", 10) == 0);
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(validate_should_exit_0_and_say_ok_for_valid_files),
        cmocka_unit_test(validate_should_exit_2_with_the_error_line_for_a_bad_file),
        cmocka_unit_test(validate_should_check_every_file_and_fail_if_any_is_bad),
        cmocka_unit_test(validate_should_exit_2_for_every_bad_file),
        cmocka_unit_test(validate_should_exit_2_on_usage_errors),
        cmocka_unit_test(validate_plan_should_print_hosts_and_fault_cidrs),
        cmocka_unit_test(help_should_teach_usage_examples_and_exit_codes),
        cmocka_unit_test(cli_should_hint_at_unknown_commands),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
