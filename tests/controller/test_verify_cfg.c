/*
 * The verify: section of an experiment becomes the verifiers' configuration:
 * durations, per-verifier sustain/grace defaults, availability floors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "verify_cfg.h"

static const char HEAD[] = "apiVersion: faultline/v1\n"
                           "name: t\n"
                           "topology:\n"
                           "  regions:\n"
                           "    - {name: west, zones: [{name: z1, hosts: 1}]}\n"
                           "    - {name: north, zones: [{name: z1, hosts: 1}]}\n"
                           "target: {kind: refstore, preset: key-vault, primary: west}\n"
                           "workload: {clients: 2, rate: 50/s, duration: 10s, mix: {get-secret: 1, "
                           "set-secret: 1}}\n"
                           "faults: []\n";

static struct experiment *load(const char *verify)
{
    char text[2048];
    struct experiment *exp = NULL;
    struct fl_err e = {0};

    snprintf(text, sizeof(text), "%s%s", HEAD, verify);
    if (experiment_parse(text, strlen(text), "t.yaml", &exp, &e) < 0)
        fail_msg("parse: %s", e.msg);
    return exp;
}

static void verify_section_should_become_verifier_config(void **state)
{
    struct experiment *exp = load("verify:\n"
                                  "  failover: {max: 90s}\n"
                                  "  failback: {max: 30s, writes: required}\n"
                                  "  read_only: {allowed: [get-secret]}\n"
                                  "  data_loss: {consistency: bounded}\n"
                                  "  availability: {during: {read: 0.9}, after: {write: 0.99}}\n"
                                  "  sustain: {window: 3s, ratio: 0.9}\n"
                                  "  grace: 2s\n");
    struct vfy_config c;
    struct fl_err e = {0};

    assert_int_equal(exp_verify_config(exp, &c, &e), 0);
    assert_true(c.failover.enabled);
    assert_int_equal(c.failover.max_ns, 90000000000LL);
    assert_int_equal(c.failback.max_ns, 30000000000LL);
    assert_true(c.failback.writes_required);
    /* The shared sustain and grace reach each verifier. */
    assert_int_equal(c.failover.sustain.window_ns, 3000000000LL);
    assert_true(c.failback.sustain.min_ratio > 0.89 && c.failback.sustain.min_ratio < 0.91);
    assert_int_equal(c.read_only.grace_ns, 2000000000LL);
    assert_int_equal(c.read_only.allowed.n, 1);
    assert_string_equal(c.read_only.allowed.name[0], "get-secret");
    /* bounded staleness: K = 100000 updates, T = 5 minutes */
    assert_int_equal(c.data_loss.max_updates, 100000);
    assert_int_equal(c.data_loss.max_window_ns, 300000000000LL);
    assert_true(c.availability.enabled);
    assert_int_equal(c.availability.nfloors, 2);
    experiment_free(exp);
}

static void per_verifier_settings_should_win_over_shared_ones(void **state)
{
    struct experiment *exp = load("verify:\n"
                                  "  failover: {max: 10s, sustain: {window: 1s}}\n"
                                  "  sustain: {window: 5s}\n");
    struct vfy_config c;

    assert_int_equal(exp_verify_config(exp, &c, NULL), 0);
    assert_int_equal(c.failover.sustain.window_ns, 1000000000LL);
    assert_false(c.failback.enabled);
    experiment_free(exp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(verify_section_should_become_verifier_config),
        cmocka_unit_test(per_verifier_settings_should_win_over_shared_ones),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
