/*
 * The controller's side of staging without a network: the TLS options'
 * files checked before anything starts (agent_tls_check), the line a TLS
 * failure gets (agent_tls_explain), and the workload's endpoints built from
 * a staging inventory's data addresses per target kind (staging_endpoints):
 * a refstore replica per host, a Redis Sentinel list with the region's own
 * sentinels first, an etcd member list per region, IPv6 in brackets.
 * tests/e2e/test_e2e_staging.c runs all of it against real agents.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_tls.h"
#include "run_int.h"
#include "testutil.h"

static char dir[64];

static void write_file(const char *name, const char *text)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/fl-staging-tls-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    write_file("ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    write_file("key.pem", "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n");
    write_file("token", "0123456789abcdef0123456789abcdef\n");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_sh("rm -rf '%s'", dir);
    return 0;
}

static void agent_tls_check_should_accept_pem_files(void **state)
{
    char ca[128], key[128];
    struct agent_tls t = {ca, ca, key};
    struct fl_err err = {0};

    (void)state;
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    assert_int_equal(agent_tls_check(&t, &err), 0);
    assert_int_equal(agent_tls_check(NULL, &err), 0);
}

static void agent_tls_check_should_name_an_unreadable_ca(void **state)
{
    char ca[128];
    struct agent_tls t = {ca, NULL, NULL};
    struct fl_err err = {0};

    (void)state;
    snprintf(ca, sizeof(ca), "%s/missing.pem", dir);
    assert_int_equal(agent_tls_check(&t, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "--ca "));
    assert_non_null(strstr(err.msg, "missing.pem: cannot read: No such file or directory"));
}

static void agent_tls_check_should_refuse_a_ca_without_a_certificate(void **state)
{
    char ca[128];
    struct agent_tls t = {ca, NULL, NULL};
    struct fl_err err = {0};

    (void)state;
    snprintf(ca, sizeof(ca), "%s/token", dir);
    assert_int_equal(agent_tls_check(&t, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "token: no PEM certificate in it"));
}

static void agent_tls_check_should_want_cert_and_key_together(void **state)
{
    char ca[128];
    struct agent_tls t = {NULL, ca, NULL};
    struct fl_err err = {0};

    (void)state;
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    assert_int_equal(agent_tls_check(&t, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "--cert and --key go together"));
    fl_err_clear(&err);
    t.key = ca; /* a certificate where the key should be */
    assert_int_equal(agent_tls_check(&t, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "--key "));
    assert_non_null(strstr(err.msg, "no PEM private key"));
}

static void agent_tls_explain_should_name_the_host_the_url_and_the_ca(void **state)
{
    struct agent_tls t = {"/etc/faultline/ca.pem", NULL, NULL};
    char line[512];

    (void)state;
    agent_tls_explain(line, sizeof(line), "w1", "https://10.0.0.1:7070", &t,
                      CURLE_PEER_FAILED_VERIFICATION, "SSL certificate problem");
    assert_string_equal(line, "agent of host w1 (https://10.0.0.1:7070): TLS certificate not "
                              "trusted with --ca /etc/faultline/ca.pem: SSL certificate problem");
    agent_tls_explain(line, sizeof(line), "w1", "https://10.0.0.1:7070", NULL,
                      CURLE_PEER_FAILED_VERIFICATION, "x");
    assert_non_null(strstr(line, "not trusted by the system's CA store (give its CA with --ca"));
    agent_tls_explain(line, sizeof(line), "w1", "https://10.0.0.1:7070", &t,
                      CURLE_PEER_FAILED_VERIFICATION,
                      "SSL: no alternative certificate subject name matches target host name");
    assert_non_null(strstr(line, "its TLS certificate is not for this address"));
    agent_tls_explain(line, sizeof(line), "w1", "https://10.0.0.1:7070", &t,
                      CURLE_SSL_CONNECT_ERROR, "wrong version number");
    assert_non_null(strstr(line, "TLS handshake failed: wrong version number"));
    assert_true(agent_tls_fatal(CURLE_PEER_FAILED_VERIFICATION));
    assert_false(agent_tls_fatal(CURLE_COULDNT_CONNECT));
    assert_false(agent_tls_fatal(CURLE_OPERATION_TIMEDOUT));
}

#define INVENTORY                                                                           \
    "topology:\n"                                                                           \
    "  control: 10.99.0.0/24\n"                                                             \
    "  regions:\n"                                                                          \
    "    - name: west\n"                                                                    \
    "      zones:\n"                                                                        \
    "        - name: z1\n"                                                                  \
    "          hosts:\n"                                                                    \
    "            - {name: w1, agent: \"https://10.99.0.11:7070\", address: 10.1.1.11}\n"    \
    "            - {name: w2, agent: \"https://10.99.0.12:7070\", address: 10.1.1.12}\n"    \
    "    - name: north\n"                                                                   \
    "      zones:\n"                                                                        \
    "        - name: z1\n"                                                                  \
    "          hosts:\n"                                                                    \
    "            - {name: n1, agent: \"https://10.99.0.21:7070\", address: \"fd00::21\"}\n" \
    "limits: {max_hosts: 3, max_fraction: 1}\n"                                             \
    "faults: []\n"

/* The endpoints staging_endpoints gives each region for a file with target (YAML). */
static void endpoints(const char *target, const char *west, const char *north)
{
    char path[1024], text[4096];
    struct experiment *exp = NULL;
    struct fl_err err = {0};
    struct wl_config wc;
    struct run *R = calloc(1, sizeof(*R));
    size_t i;

    assert_non_null(R);
    snprintf(text, sizeof(text),
             "apiVersion: faultline/v1\nname: staging-endpoints\n%s%s"
             "workload: {clients: 1, rate: 10/s, duration: 2s, mix: {%s: 1}}\n"
             "verify: {failover: {max: 10s}}\n",
             INVENTORY, target, strstr(target, "refstore") ? "read" : "get");
    write_file("exp.yaml", text);
    snprintf(path, sizeof(path), "%s/exp.yaml", dir);
    if (experiment_load(path, &exp, &err) < 0)
        fail_msg("%s", err.msg);
    R->exp = exp;
    R->target_port = bringup_target_port(exp);
    wl_config_init(&wc);
    for (i = 0; i < exp->topology.n_regions; i++)
        if (staging_endpoints(R, &wc, i, &err) < 0)
            fail_msg("%s", err.msg);
    text[0] = '\0';
    for (i = 0; i < wc.nendpoints; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s=%s", i ? " " : "",
                 wc.endpoints[i].region, wc.endpoints[i].url);
    snprintf(path, sizeof(path), "%s %s", west, north);
    assert_string_equal(text, path);
    experiment_free(exp);
    free(R);
}

static void staging_endpoints_should_give_every_refstore_replica(void **state)
{
    (void)state;
    endpoints("target: {kind: refstore, preset: cosmos}\n",
              "west=http://10.1.1.11:7000 west=http://10.1.1.12:7000",
              "north=http://[fd00::21]:7000");
    endpoints("target: {kind: refstore, preset: cosmos, port: 7400}\n",
              "west=http://10.1.1.11:7400 west=http://10.1.1.12:7400",
              "north=http://[fd00::21]:7400");
}

static void staging_endpoints_should_list_the_regions_own_sentinels_first(void **state)
{
    (void)state;
    endpoints("target: {kind: redis-sentinel, master_name: vault, sentinel_port: 26400}\n",
              "west=redis-sentinel://vault@10.1.1.11:26400,10.1.1.12:26400,fd00::21:26400",
              "north=redis-sentinel://vault@fd00::21:26400,10.1.1.11:26400,10.1.1.12:26400");
}

static void staging_endpoints_should_give_etcd_the_regions_members(void **state)
{
    (void)state;
    endpoints("target: {kind: etcd}\n", "west=http://10.1.1.11:2379,http://10.1.1.12:2379",
              "north=http://[fd00::21]:2379");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(agent_tls_check_should_accept_pem_files),
        cmocka_unit_test(agent_tls_check_should_name_an_unreadable_ca),
        cmocka_unit_test(agent_tls_check_should_refuse_a_ca_without_a_certificate),
        cmocka_unit_test(agent_tls_check_should_want_cert_and_key_together),
        cmocka_unit_test(agent_tls_explain_should_name_the_host_the_url_and_the_ca),
        cmocka_unit_test(staging_endpoints_should_give_every_refstore_replica),
        cmocka_unit_test(staging_endpoints_should_list_the_regions_own_sentinels_first),
        cmocka_unit_test(staging_endpoints_should_give_etcd_the_regions_members),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
