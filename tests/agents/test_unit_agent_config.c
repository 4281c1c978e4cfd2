/*
 * Unit tests of the agent's configuration and policy (no root): command-line
 * parsing with its refusals, the constant-time token comparison, the
 * allowlist and control-network checks on parsed faults, the process
 * allowlist with its configured restart commands, and `-n` run on the
 * real binary (good configurations pass, bad ones must fail).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent.h"
#include "testutil.h"

static int parse(struct agent_config *cfg, struct fl_err *err, ...)
{
    char *argv[32];
    va_list ap;
    int argc = 0;

    argv[argc++] = (char *)"faultline-agent";
    va_start(ap, err);
    while (argc < 31 && (argv[argc] = va_arg(ap, char *)) != NULL)
        argc++;
    va_end(ap);
    argv[argc] = NULL;
    fl_err_clear(err);
    return agent_config_parse(cfg, argc, argv, err);
}

#define BASE "--listen", "127.0.0.1:7300", "--token-file", "/t", "--state-dir", "/s"

static void config_should_parse_a_full_command_line(void **state)
{
    struct agent_config cfg;
    struct fl_err err;

    assert_int_equal(parse(&cfg, &err, BASE, "--allow", "198.18.0.0/16", "--allow", "dev:eth0",
                           "--control", "10.0.0.0/24", "--threads", "3", "-n", "-v", NULL),
                     0);
    assert_int_equal(cfg.n_allow, 1);
    assert_int_equal(cfg.n_allow_devs, 1);
    assert_string_equal(cfg.allow_devs[0], "eth0");
    assert_int_equal(cfg.n_control, 1);
    assert_int_equal(cfg.threads, 3);
    assert_true(cfg.check_only);
    assert_int_equal(cfg.listen_addr.ss_family, AF_INET);
    agent_config_free(&cfg);
    assert_int_equal(parse(&cfg, &err, "--listen", "[::1]:8443", "--token-file", "/t",
                           "--state-dir", "/s", NULL),
                     0);
    assert_int_equal(cfg.listen_addr.ss_family, AF_INET6);
    agent_config_free(&cfg);
}

static void config_should_refuse_bad_command_lines(void **state)
{
    struct agent_config cfg;
    struct fl_err err;

    assert_int_equal(parse(&cfg, &err, "--token-file", "/t", "--state-dir", "/s", NULL), -EINVAL);
    assert_non_null(strstr(err.msg, "--listen"));
    agent_config_free(&cfg);
    assert_int_equal(parse(&cfg, &err, "--listen", "127.0.0.1:7300", "--state-dir", "/s", NULL),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "--token-file"));
    agent_config_free(&cfg);
    assert_int_equal(parse(&cfg, &err, BASE, "--allow", "198.18.1.1/24", NULL), -EINVAL);
    assert_non_null(strstr(err.msg, "--allow"));
    agent_config_free(&cfg);
    assert_int_equal(parse(&cfg, &err, BASE, "--control", "nonsense", NULL), -EINVAL);
    agent_config_free(&cfg);
    assert_int_equal(parse(&cfg, &err, BASE, "--allow", "dev:a/b", NULL), -EINVAL);
    agent_config_free(&cfg);
    assert_int_equal(parse(&cfg, &err, BASE, "--threads", "0", NULL), -EINVAL);
    agent_config_free(&cfg);
    assert_int_equal(parse(&cfg, &err, BASE, "--tls-cert", "/c", NULL), -EINVAL);
    assert_non_null(strstr(err.msg, "--tls-key"));
    agent_config_free(&cfg);
    /* Client certificates exist only in a TLS handshake. */
    assert_int_equal(parse(&cfg, &err, BASE, "--tls-client-ca", "/ca", NULL), -EINVAL);
    assert_non_null(strstr(err.msg, "--tls-client-ca needs --tls-cert"));
    agent_config_free(&cfg);
    assert_int_equal(parse(&cfg, &err, BASE, "--bogus", NULL), -EINVAL);
    agent_config_free(&cfg);
    assert_int_equal(parse(&cfg, &err, BASE, "extra", NULL), -EINVAL);
    agent_config_free(&cfg);
    assert_int_equal(parse(&cfg, &err, "--listen", "localhost:80", "--token-file", "/t",
                           "--state-dir", "/s", NULL),
                     -EINVAL);
    agent_config_free(&cfg);
    assert_int_equal(parse(&cfg, &err, "--listen", "127.0.0.1:70000", "--token-file", "/t",
                           "--state-dir", "/s", NULL),
                     -EINVAL);
    agent_config_free(&cfg);
    assert_int_equal(
        parse(&cfg, &err, "--listen", "127.0.0.1", "--token-file", "/t", "--state-dir", "/s", NULL),
        -EINVAL);
    agent_config_free(&cfg);
}

static void token_compare_should_accept_only_the_exact_token(void **state)
{
    const char *t = "0123456789abcdef0123";

    assert_true(agent_token_equal(t, strlen(t), "0123456789abcdef0123", 20));
    assert_false(agent_token_equal(t, strlen(t), "0123456789abcdef012", 19));
    assert_false(agent_token_equal(t, strlen(t), "0123456789abcdef01234", 21));
    assert_false(agent_token_equal(t, strlen(t), "1123456789abcdef0123", 20));
    assert_false(agent_token_equal(t, strlen(t), "0123456789abcdef0124", 20));
    assert_false(agent_token_equal(t, strlen(t), "", 0));
    assert_false(agent_token_equal("", 0, "", 0));
}

static struct inj_fault *fault(const char *json)
{
    struct inj_fault *f = NULL;
    struct fl_err err;

    fl_err_clear(&err);
    if (inj_fault_parse(json, strlen(json), &f, &err) < 0)
        fail_msg("parse %s: %s", json, err.msg);
    return f;
}

static void policy_should_allow_only_faults_inside_the_allowlist(void **state)
{
    struct agent_config cfg;
    struct inj_fault *f;
    struct fl_err err;

    assert_int_equal(
        parse(&cfg, &err, BASE, "--allow", "198.18.0.0/16", "--control", "198.18.9.0/24", NULL), 0);
    f = fault("{\"kind\":\"partition\",\"mode\":\"drop\",\"groups\":[[\"198.18.1.0/24\"],"
              "[\"198.18.2.0/24\"]]}");
    fl_err_clear(&err);
    assert_int_equal(agent_policy_check(&cfg, f, &err), 0);
    inj_fault_free(f);

    f = fault("{\"kind\":\"partition\",\"mode\":\"drop\",\"groups\":[[\"198.18.1.0/24\"],"
              "[\"10.1.0.0/16\"]]}");
    assert_int_equal(agent_policy_check(&cfg, f, &err), -EPERM);
    assert_non_null(strstr(err.msg, "10.1.0.0/16"));
    inj_fault_free(f);

    fl_err_clear(&err);
    f = fault("{\"kind\":\"partition\",\"mode\":\"drop\",\"groups\":[[\"198.18.1.0/24\"],"
              "[\"198.18.9.128/25\"]]}");
    assert_int_equal(agent_policy_check(&cfg, f, &err), -EPERM);
    assert_non_null(strstr(err.msg, "control"));
    inj_fault_free(f);

    /* Wider than the allowlist: refused even though it overlaps it. */
    fl_err_clear(&err);
    f = fault("{\"kind\":\"partition\",\"mode\":\"drop\",\"groups\":[[\"198.18.0.0/15\"],"
              "[\"10.0.0.0/24\"]]}");
    assert_int_equal(agent_policy_check(&cfg, f, &err), -EPERM);
    inj_fault_free(f);

    /* Host-wide loss names no address: needs an explicit /0. */
    fl_err_clear(&err);
    f = fault("{\"kind\":\"loss\",\"percent\":20}");
    assert_int_equal(agent_policy_check(&cfg, f, &err), -EPERM);
    assert_non_null(strstr(err.msg, "host-wide"));
    agent_config_free(&cfg);
    assert_int_equal(parse(&cfg, &err, BASE, "--allow", "0.0.0.0/0", NULL), 0);
    fl_err_clear(&err);
    assert_int_equal(agent_policy_check(&cfg, f, &err), 0);
    inj_fault_free(f);
    agent_config_free(&cfg);
}

static void policy_should_check_interfaces_against_dev_entries(void **state)
{
    struct agent_config cfg;
    struct inj_fault *f = NULL;
    struct fl_err err;
    const char *spec = "{\"kind\":\"link-down\",\"dev\":\"eth1\"}";

    fl_err_clear(&err);
    /* link-down names its interface in "dev": a refusal is a failure, never a skip. */
    if (inj_fault_parse(spec, strlen(spec), &f, &err) < 0)
        fail_msg("link-down spec refused: %s", err.msg);
    assert_int_equal(parse(&cfg, &err, BASE, "--allow", "dev:eth0", NULL), 0);
    fl_err_clear(&err);
    assert_int_equal(agent_policy_check(&cfg, f, &err), -EPERM);
    agent_config_free(&cfg);
    assert_int_equal(parse(&cfg, &err, BASE, "--allow", "dev:eth1", NULL), 0);
    fl_err_clear(&err);
    assert_int_equal(agent_policy_check(&cfg, f, &err), 0);
    agent_config_free(&cfg);
    inj_fault_free(f);
}

static struct inj_fault *pfault(const char *spec)
{
    struct inj_fault *f = NULL;
    struct fl_err err;

    fl_err_clear(&err);
    if (inj_fault_parse(spec, strlen(spec), &f, &err) < 0)
        fail_msg("spec %s: %s", spec, err.msg);
    return f;
}

static void process_policy_should_need_exact_targets_and_configured_commands(void **state)
{
    struct agent_config cfg;
    struct inj_fault *f;
    struct fl_err err;

    (void)state;
    /* Parsing: a restart command needs its target allowed first; a short match is refused. */
    assert_int_equal(parse(&cfg, &err, BASE, "--restart-cmd", "pidfile:/run/r.pid=/bin/r -x", NULL),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "--allow-process"));
    agent_config_free(&cfg);
    assert_int_equal(parse(&cfg, &err, BASE, "--allow-process", "match:/", NULL), -EINVAL);
    agent_config_free(&cfg);
    assert_int_equal(parse(&cfg, &err, BASE, "--allow-process", "pidfile:rel.pid", NULL), -EINVAL);
    agent_config_free(&cfg);
    assert_int_equal(parse(&cfg, &err, BASE, "--allow-process", "proc:1", NULL), -EINVAL);
    agent_config_free(&cfg);

    /* /0 admits no process fault. */
    assert_int_equal(parse(&cfg, &err, BASE, "--allow", "0.0.0.0/0", NULL), 0);
    assert_false(agent_process_enabled(&cfg));
    f = pfault("{\"kind\":\"process\",\"action\":\"stop\",\"target\":{\"match\":\"redis\"}}");
    fl_err_clear(&err);
    assert_int_equal(agent_policy_check(&cfg, f, &err), -EPERM);
    inj_fault_free(f);
    agent_config_free(&cfg);

    assert_int_equal(parse(&cfg, &err, BASE, "--allow-process", "pidfile:/run/r.pid",
                           "--restart-cmd", "pidfile:/run/r.pid=/bin/r -x", "--allow-process",
                           "unit:redis.service", NULL),
                     0);
    assert_true(agent_process_enabled(&cfg));
    /* Exact values only: another pidfile, a prefix of the unit. */
    f = pfault(
        "{\"kind\":\"process\",\"action\":\"stop\",\"target\":{\"pidfile\":\"/run/x.pid\"}}");
    fl_err_clear(&err);
    assert_int_equal(agent_policy_check(&cfg, f, &err), -EPERM);
    inj_fault_free(f);
    f = pfault("{\"kind\":\"process\",\"action\":\"stop\",\"target\":{\"unit\":\"redis\"}}");
    fl_err_clear(&err);
    assert_int_equal(agent_policy_check(&cfg, f, &err), -EPERM);
    inj_fault_free(f);
    /* The configured command is accepted, another one is not; fill adds the configured one. */
    f = pfault("{\"kind\":\"process\",\"action\":\"kill\",\"target\":{\"pidfile\":\"/run/r.pid\"},"
               "\"restart_cmd\":[\"/bin/r\",\"-x\"]}");
    fl_err_clear(&err);
    assert_int_equal(agent_policy_check(&cfg, f, &err), 0);
    inj_fault_free(f);
    f = pfault("{\"kind\":\"process\",\"action\":\"kill\",\"target\":{\"pidfile\":\"/run/r.pid\"},"
               "\"restart_cmd\":[\"/bin/sh\",\"-c\",\"id\"]}");
    fl_err_clear(&err);
    assert_int_equal(agent_policy_check(&cfg, f, &err), -EPERM);
    inj_fault_free(f);
    f = pfault(
        "{\"kind\":\"process\",\"action\":\"kill\",\"target\":{\"pidfile\":\"/run/r.pid\"}}");
    fl_err_clear(&err);
    assert_int_equal(agent_process_fill(&cfg, &f, &err), 0);
    {
        json_t *spec = inj_fault_to_json(f);

        assert_non_null(json_object_get(spec, "restart_cmd"));
        assert_string_equal(
            json_string_value(json_array_get(json_object_get(spec, "restart_cmd"), 0)), "/bin/r");
        json_decref(spec);
    }
    inj_fault_free(f);
    /* Slices and init.scope are refused even when listed. */
    agent_config_free(&cfg);
    assert_int_equal(parse(&cfg, &err, BASE, "--allow-process", "unit:system.slice", NULL), 0);
    f = pfault("{\"kind\":\"process\",\"action\":\"stop\",\"target\":{\"unit\":\"system.slice\"}}");
    fl_err_clear(&err);
    assert_int_equal(agent_policy_check(&cfg, f, &err), -EPERM);
    assert_non_null(strstr(err.msg, "slice"));
    inj_fault_free(f);
    agent_config_free(&cfg);
}

static void check_only_should_pass_good_and_fail_bad_configurations(void **state)
{
    const char *bin = getenv("FAULTLINE_AGENT");
    char dir[] = "/tmp/fl-agent-unit-XXXXXX";

    if (bin == NULL)
        fail_msg("FAULTLINE_AGENT not set (run through ctest)");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(
        tu_sh("printf '0123456789abcdef0123\\n' > %s/token && chmod 600 %s/token", dir, dir), 0);
    assert_int_equal(tu_sh("printf 'short\\n' > %s/short && chmod 600 %s/short", dir, dir), 0);
    assert_int_equal(tu_sh("%s -n --listen 127.0.0.1:7399 --token-file %s/token --state-dir "
                           "%s/st --allow 198.18.0.0/16 | grep -q 'configuration OK'",
                           bin, dir, dir),
                     0);
    assert_int_equal(tu_sh("%s -n --listen 127.0.0.1:7399 --token-file %s/short --state-dir "
                           "%s/st 2>/dev/null",
                           bin, dir, dir),
                     1);
    assert_int_equal(tu_sh("%s -n --listen 127.0.0.1:7399 --token-file %s/missing --state-dir "
                           "%s/st 2>/dev/null",
                           bin, dir, dir),
                     1);
    assert_int_equal(tu_sh("%s -n --listen 127.0.0.1:7399 --token-file %s/token --state-dir "
                           "%s/st --allow 198.18.1.1/16 2>/dev/null",
                           bin, dir, dir),
                     2);
    assert_int_equal(tu_sh("%s -n --listen 127.0.0.1:7399 --token-file %s/token --state-dir "
                           "%s/st --tls-cert %s/token --tls-key %s/token 2>/dev/null",
                           bin, dir, dir, dir, dir),
                     1);
    assert_int_equal(tu_sh("%s --help | grep -q -- --token-file", bin), 0);
    assert_int_equal(tu_sh("rm -rf %s", dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_should_parse_a_full_command_line),
        cmocka_unit_test(config_should_refuse_bad_command_lines),
        cmocka_unit_test(token_compare_should_accept_only_the_exact_token),
        cmocka_unit_test(policy_should_allow_only_faults_inside_the_allowlist),
        cmocka_unit_test(policy_should_check_interfaces_against_dev_entries),
        cmocka_unit_test(process_policy_should_need_exact_targets_and_configured_commands),
        cmocka_unit_test(check_only_should_pass_good_and_fail_bad_configurations),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
