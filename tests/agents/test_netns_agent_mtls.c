/*
 * Mutual TLS: a real faultline-agent with --tls-client-ca, and clients
 * (libcurl, entering the agent's namespace) with and without certificates
 * made by openssl at test time: two CAs (a and b), the agent's serving
 * certificate from a (serverAuth), a client certificate from a and one from
 * b (clientAuth). The agent must answer only a client whose certificate
 * verifies against its --tls-client-ca, for client authentication, and
 * still ask that client for the token:
 *   - no certificate, a certificate of another CA, or the agent's own
 *     serverAuth certificate: 403 {"error":"client certificate required:
 *     ..."} on /v1 and /metrics alike, and a "refused" line in the audit
 *     trail (the handshake itself completes: the agent answers, so a
 *     controller sees why);
 *   - the right certificate: 200 with the token, 401 without it or with a
 *     wrong one;
 *   - SIGHUP reads the client CA again (faults kept); a bad file keeps the
 *     old one;
 *   - -n refuses a bundle that is not a CA, and garbage;
 *   - the controller's own TLS setup (agent_tls_apply with --ca, --cert,
 *     --key) reaches such an agent, and without --cert is told why.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "agent_fixture.h"
#include "netns.h"
#include "testutil.h"
#ifdef FL_TEST_WITH_CONTROLLER
#include "agent_tls.h"
#endif

#define LISTEN "127.0.0.1:7370"

static struct fx_agent ag;
static char certs[64]; /* the certificates, made once for the group */

/* openssl, quietly; fails the group setup when it fails. */
static int ossl(const char *cmd)
{
    return tu_sh("cd %s && %s >/dev/null 2>&1", certs, cmd) == 0 ? 0 : -1;
}

/* A leaf certificate name.crt (key name.key) for subject cn, signed by CA ca, with ext. */
static int leaf(const char *name, const char *cn, const char *ca, const char *ext)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd),
             "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=%s "
             "-keyout %s.key -out %s.csr && printf '%s\\n' > %s.ext && openssl x509 -req -in "
             "%s.csr -CA %s.pem -CAkey %s.key -CAcreateserial -days 1 -extfile %s.ext -out %s.crt",
             cn, name, name, ext, name, name, ca, ca, name, name);
    return ossl(cmd);
}

static int group_setup(void **state)
{
    (void)state;
    if (!tu_is_root())
        return 0;
    snprintf(certs, sizeof(certs), "/tmp/fl-mtls-certs-XXXXXX");
    if (mkdtemp(certs) == NULL || tn_create("m") < 0)
        return -1;
    /* Two CAs; openssl req -x509 marks them CA:TRUE. */
    if (ossl("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
             "-subj /CN=faultline-ca-a -keyout ca-a.key -out ca-a.pem") < 0 ||
        ossl("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
             "-subj /CN=faultline-ca-b -keyout ca-b.key -out ca-b.pem") < 0)
        return -1;
    if (leaf("server", "agent", "ca-a",
             "subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth") < 0 ||
        leaf("client-a", "controller", "ca-a", "extendedKeyUsage=clientAuth") < 0 ||
        leaf("client-b", "stranger", "ca-b", "extendedKeyUsage=clientAuth") < 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tn_cleanup();
    if (strncmp(certs, "/tmp/fl-mtls-certs-", 19) == 0)
        tu_sh("rm -rf '%s'", certs);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    if (!tu_is_root())
        return 0;
    if (fx_init(&ag, "m", LISTEN) < 0)
        return -1;
    snprintf(ag.scheme, sizeof(ag.scheme), "https");
    snprintf(ag.cafile, sizeof(ag.cafile), "%s/ca-a.pem", certs);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fx_cleanup(&ag);
    return 0;
}

/* Present the client certificate name ("client-a", "server", ...; NULL: none) from now on. */
static void present(const char *name)
{
    ag.certfile[0] = ag.keyfile[0] = '\0';
    if (name == NULL)
        return;
    snprintf(ag.certfile, sizeof(ag.certfile), "%s/%s.crt", certs, name);
    snprintf(ag.keyfile, sizeof(ag.keyfile), "%s/%s.key", certs, name);
}

/*
 * One request on a fresh curl handle (no connection or TLS session carried
 * over from a request with another certificate). auth as fx_http.
 */
static long req(const char *method, const char *path, const char *body, const char *auth,
                char **resp)
{
    CURL *h = curl_easy_init();
    long st;

    assert_non_null(h);
    st = fx_http(&ag, h, method, path, body, auth, false, resp);
    curl_easy_cleanup(h);
    return st;
}

/* The agent with --tls-client-ca ca (a copy in the fixture dir, for SIGHUP); client-a presented. */
static void start_mtls(const char *ca)
{
    char cert[300], key[300], client_ca[300];
    const char *extra[] = {"--tls-cert",      cert,      "--tls-key", key,
                           "--tls-client-ca", client_ca, NULL};

    snprintf(cert, sizeof(cert), "%s/server.crt", certs);
    snprintf(key, sizeof(key), "%s/server.key", certs);
    snprintf(client_ca, sizeof(client_ca), "%s/client-ca.pem", ag.dir);
    assert_int_equal(tu_sh("cp %s/%s.pem %s", certs, ca, client_ca), 0);
    present("client-a");
    if (fx_start(&ag, extra) < 0)
        fail_msg("agent did not start; log in %s/agent.log", ag.dir);
}

/* GET path must be refused with 403 and an error naming the reason (errpart). */
static void assert_refused(const char *path, const char *errpart)
{
    char *resp = NULL;
    long st = req("GET", path, NULL, NULL, &resp);

    if (st != 403 || strstr(resp, "{\"error\":\"client certificate required: ") != resp ||
        strstr(resp, errpart) == NULL)
        fail_msg("GET %s: %ld '%s': expected 403 client certificate required ... %s", path, st,
                 resp, errpart);
    free(resp);
}

/* The audit trail holds a "refused" 403 line whose result mentions part. */
static void assert_audited(const char *part)
{
    char *resp = NULL, *line, *save = NULL;
    bool found = false;
    json_t *e;

    present("client-a");
    assert_int_equal(req("GET", "/v1/audit", NULL, NULL, &resp), 200);
    for (line = strtok_r(resp, "\n", &save); line != NULL && !found;
         line = strtok_r(NULL, "\n", &save)) {
        e = json_loads(line, 0, NULL);
        found = e != NULL &&
                strcmp(json_string_value(json_object_get(e, "event")) ?: "", "refused") == 0 &&
                json_integer_value(json_object_get(e, "status")) == 403 &&
                strstr(json_string_value(json_object_get(e, "result")) ?: "", part) != NULL;
        json_decref(e);
    }
    free(resp);
    if (!found)
        fail_msg("no refused 403 audit line mentioning '%s'", part);
}

static void mtls_should_refuse_a_client_without_a_certificate(void **state)
{
    (void)state;
    TU_REQUIRE_ROOT();
    start_mtls("ca-a");
    present(NULL);
    /* With the right token all the same, and on the tokenless /metrics too. */
    assert_refused("/v1/health", "none presented");
    assert_refused("/v1/faults", "none presented");
    assert_refused("/metrics", "none presented");
    assert_audited("client certificate required: none presented");
}

static void mtls_should_refuse_a_certificate_from_another_ca(void **state)
{
    (void)state;
    TU_REQUIRE_ROOT();
    start_mtls("ca-a");
    present("client-b");
    assert_refused("/v1/health", "CN=stranger");
    assert_refused("/v1/faults", "not accepted by --tls-client-ca");
    assert_audited("CN=stranger");
}

/* The right CA but a certificate for servers only (an agent's own) is no client certificate. */
static void mtls_should_refuse_a_server_certificate_of_the_right_ca(void **state)
{
    (void)state;
    TU_REQUIRE_ROOT();
    start_mtls("ca-a");
    present("server");
    assert_refused("/v1/health", "CN=agent");
}

static void mtls_should_answer_the_right_certificate_and_still_need_the_token(void **state)
{
    char *resp = NULL;

    (void)state;
    TU_REQUIRE_ROOT();
    start_mtls("ca-a");
    present("client-a");
    assert_int_equal(req("GET", "/v1/health", NULL, NULL, NULL), 200);
    assert_int_equal(req("GET", "/metrics", NULL, "", NULL), 200);
    assert_int_equal(
        req("POST", "/v1/faults", fx_apply_body("m1", fx_partition("drop"), 60000), NULL, NULL),
        201);
    assert_int_equal(req("GET", "/v1/faults/m1", NULL, NULL, NULL), 200);
    /* Defence in depth: the certificate does not replace the token. */
    assert_int_equal(req("GET", "/v1/faults", NULL, "Bearer wrong-token-wrong-token", &resp), 401);
    assert_non_null(strstr(resp, "missing or wrong bearer token"));
    free(resp);
    assert_int_equal(req("DELETE", "/v1/faults/m1", NULL, "", NULL), 401);
    assert_int_equal(req("DELETE", "/v1/faults/m1", NULL, NULL, NULL), 200);
    assert_true(fx_log_contains(&ag, "with TLS and client certificates"));
}

/* Wait (up to 5 s) until the agent's log says s. */
static void wait_log(const char *s)
{
    int i;

    for (i = 0; i < 50 && !fx_log_contains(&ag, s); i++)
        usleep(100000);
    if (!fx_log_contains(&ag, s))
        fail_msg("the agent's log (%s/agent.log) never said '%s'", ag.dir, s);
}

/* SIGHUP reads the client CA again with the certificate; a broken file keeps the old CA. */
static void sighup_should_reload_the_client_ca_and_keep_faults(void **state)
{
    (void)state;
    TU_REQUIRE_ROOT();
    start_mtls("ca-a");
    assert_int_equal(
        req("POST", "/v1/faults", fx_apply_body("h1", fx_partition("drop"), 60000), NULL, NULL),
        201);
    assert_int_equal(tu_sh("cp %s/ca-b.pem %s/client-ca.pem", certs, ag.dir), 0);
    kill(ag.pid, SIGHUP);
    wait_log("TLS certificate and client CA reloaded");
    present("client-a");
    assert_refused("/v1/health", "CN=controller");
    present("client-b");
    assert_int_equal(req("GET", "/v1/faults/h1", NULL, NULL, NULL), 200);
    /* Not a CA bundle: b stays. */
    assert_int_equal(tu_sh("cp %s/client-a.crt %s/client-ca.pem", certs, ag.dir), 0);
    kill(ag.pid, SIGHUP);
    wait_log("keeping the old certificate and client CA");
    assert_int_equal(req("GET", "/v1/health", NULL, NULL, NULL), 200);
    assert_int_equal(req("DELETE", "/v1/faults/h1", NULL, NULL, NULL), 200);
}

/* -n: the bundle must parse and hold only CAs; the option needs the server's pair. */
static void check_only_should_refuse_a_client_ca_that_is_not_a_ca(void **state)
{
    const char *bin = getenv("FAULTLINE_AGENT");
    char *out;

    (void)state;
    TU_REQUIRE_ROOT();
    assert_non_null(bin);
#define N_ARGS "%s -n --listen " LISTEN " --token-file %s/token --state-dir %s/st "
#define N_TLS  "--tls-cert %s/server.crt --tls-key %s/server.key "
    assert_int_equal(tu_sh(N_ARGS N_TLS "--tls-client-ca %s/ca-a.pem | grep -q 'configuration OK'",
                           bin, ag.dir, ag.dir, certs, certs, certs),
                     0);
    out = tu_sh_out(N_ARGS N_TLS "--tls-client-ca %s/client-a.crt 2>&1; echo rc=$?", bin, ag.dir,
                    ag.dir, certs, certs, certs);
    assert_non_null(out);
    if (strstr(out, "is not a CA") == NULL || strstr(out, "CN=controller") == NULL ||
        strstr(out, "rc=1") == NULL)
        fail_msg("a leaf as --tls-client-ca: %s", out);
    free(out);
    assert_int_equal(tu_sh("echo garbage > %s/garbage.pem", ag.dir), 0);
    assert_int_equal(tu_sh(N_ARGS N_TLS "--tls-client-ca %s/garbage.pem 2>/dev/null", bin, ag.dir,
                           ag.dir, certs, certs, ag.dir),
                     1);
    out = tu_sh_out(N_ARGS "--tls-client-ca %s/ca-a.pem 2>&1; echo rc=$?", bin, ag.dir, ag.dir,
                    certs);
    assert_non_null(out);
    if (strstr(out, "--tls-client-ca needs --tls-cert") == NULL || strstr(out, "rc=2") == NULL)
        fail_msg("--tls-client-ca without --tls-cert: %s", out);
    free(out);
    assert_int_equal(tu_sh("%s --help | grep -q -- --tls-client-ca", bin), 0);
#undef N_ARGS
#undef N_TLS
}

#ifdef FL_TEST_WITH_CONTROLLER
/* Keep the first 511 bytes of the answer in ud (a char[512], NUL-terminated). */
static size_t keep(char *p, size_t sz, size_t n, void *ud)
{
    size_t have = strlen(ud), room = 511 - have;

    memcpy((char *)ud + have, p, sz * n < room ? sz * n : room);
    ((char *)ud)[have + (sz * n < room ? sz * n : room)] = '\0';
    return sz * n;
}

/* GET /v1/health the way `faultline run` reaches an agent: agent_tls_apply(t). */
static long controller_get(const struct agent_tls *t, char *body)
{
    struct curl_slist *hdrs = NULL;
    char url[128], hdr[128];
    long st = 0;
    CURL *h;

    body[0] = '\0';
    assert_int_equal(tn_enter("m"), 0);
    h = curl_easy_init();
    assert_non_null(h);
    agent_tls_apply(h, t);
    snprintf(url, sizeof(url), "https://" LISTEN "/v1/health");
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", ag.token);
    hdrs = curl_slist_append(hdrs, hdr);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    tn_leave();
    return st;
}

static void controller_should_reach_an_agent_that_requires_a_client_certificate(void **state)
{
    char ca[300], cert[300], key[300], other[300], other_key[300], body[512];
    struct agent_tls t = {ca, cert, key}, none = {ca, NULL, NULL}, wrong = {ca, other, other_key};
    struct fl_err err;

    (void)state;
    TU_REQUIRE_ROOT();
    start_mtls("ca-a");
    snprintf(ca, sizeof(ca), "%s/ca-a.pem", certs);
    snprintf(cert, sizeof(cert), "%s/client-a.crt", certs);
    snprintf(key, sizeof(key), "%s/client-a.key", certs);
    snprintf(other, sizeof(other), "%s/client-b.crt", certs);
    snprintf(other_key, sizeof(other_key), "%s/client-b.key", certs);
    fl_err_clear(&err);
    assert_int_equal(agent_tls_check(&t, &err), 0);
    assert_int_equal(controller_get(&t, body), 200);
    assert_int_equal(controller_get(&none, body), 403);
    if (strstr(body, "client certificate required: none presented") == NULL)
        fail_msg("without --cert: %s", body);
    assert_int_equal(controller_get(&wrong, body), 403);
    assert_non_null(strstr(body, "CN=stranger"));
}
#else
static void controller_should_reach_an_agent_that_requires_a_client_certificate(void **state)
{
    (void)state;
    tu_note_skip("controller_should_reach_an_agent_that_requires_a_client_certificate",
                 "built without the controller component");
    skip();
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(mtls_should_refuse_a_client_without_a_certificate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(mtls_should_refuse_a_certificate_from_another_ca, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(mtls_should_refuse_a_server_certificate_of_the_right_ca,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            mtls_should_answer_the_right_certificate_and_still_need_the_token, setup, teardown),
        cmocka_unit_test_setup_teardown(sighup_should_reload_the_client_ca_and_keep_faults, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(check_only_should_refuse_a_client_ca_that_is_not_a_ca,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            controller_should_reach_an_agent_that_requires_a_client_certificate, setup, teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
