/*
 * Per-agent tokens and plain-HTTP warnings for staging inventories: a host's
 * token_file (parsed with file:line:column errors, relative to the
 * experiment file) is the token that host's agent gets, the others get
 * --token-file; a plain http:// agent URL is said out loud. The run's
 * agents here are two loopback listeners that record the Authorization
 * header and answer 401, so the run stops right after its first call.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "experiment.h"
#include "testutil.h"

#define TOK_GLOBAL "global-token-0123456789abcdef"
#define TOK_H1     "host1-token-fedcba9876543210"

static char dir[64];

#define YAML                                                             \
    "apiVersion: faultline/v1\n"                                         \
    "name: staging-tokens\n"                                             \
    "topology:\n"                                                        \
    "  control: 127.0.0.0/8\n"                                           \
    "  regions:\n"                                                       \
    "    - name: west\n"                                                 \
    "      zones:\n"                                                     \
    "        - name: z1\n"                                               \
    "          hosts:\n"                                                 \
    "            - {name: h1, agent: \"http://127.0.0.1:%d\", address: " \
    "10.1.1.11, token_file: %s}\n"                                       \
    "            - {name: h2, agent: \"http://127.0.0.1:%d\", address: " \
    "10.1.1.12}\n"                                                       \
    "target:\n"                                                          \
    "  kind: redis-sentinel\n"                                           \
    "  primary: west\n"                                                  \
    "  down_after: 2s\n"                                                 \
    "workload:\n"                                                        \
    "  clients: 1\n"                                                     \
    "  rate: 10/s\n"                                                     \
    "  duration: 2s\n"                                                   \
    "  mix: {get: 50, set: 50}\n"                                        \
    "limits: {max_hosts: 2, max_fraction: 1}\n"                          \
    "faults:\n"                                                          \
    "  - {at: 1s, for: 1s, isolate: {region: west}}\n"                   \
    "verify:\n"                                                          \
    "  failover: {max: 30s}\n"

static int setup(void **st)
{
    (void)st;
    snprintf(dir, sizeof(dir), "/tmp/fl-t%d-XXXXXX", (int)getpid());
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    tu_sh("rm -rf '%s'", dir);
    return 0;
}

static struct experiment *parse(const char *name, const char *token_file, struct fl_err *e)
{
    char text[4096];
    struct experiment *x = NULL;

    snprintf(text, sizeof(text), YAML, 7071, token_file, 7072);
    if (experiment_parse(text, strlen(text), name, &x, e) < 0)
        return NULL;
    return x;
}

static void token_file_should_be_relative_to_the_experiment_file(void **st)
{
    struct fl_err e = {0};
    struct experiment *x;

    (void)st;
    x = parse("inventories/west.yaml", "tokens/h1.token", &e);
    if (x == NULL)
        fail_msg("%s", e.msg);
    assert_string_equal(x->topology.hosts[0].token_file, "inventories/tokens/h1.token");
    assert_string_equal(x->topology.hosts[1].token_file, "");
    experiment_free(x);
    x = parse("west.yaml", "/etc/faultline/h1.token", &e);
    assert_non_null(x);
    assert_string_equal(x->topology.hosts[0].token_file, "/etc/faultline/h1.token");
    experiment_free(x);
}

static void token_file_should_be_refused_with_its_position_when_empty(void **st)
{
    struct fl_err e = {0};

    (void)st;
    assert_null(parse("west.yaml", "\"\"", &e));
    assert_non_null(strstr(e.msg, "west.yaml:10:"));
    assert_non_null(strstr(e.msg, "token_file"));
    fl_err_clear(&e);
    assert_null(parse("west.yaml", "[a, b]", &e));
    assert_non_null(strstr(e.msg, "west.yaml:10:"));
    assert_non_null(strstr(e.msg, "expected a string"));
}

/* A loopback "agent": records the first request's Authorization, answers 401. */
struct fake {
    int fd, port;
    char auth[256];
};

static void *fake_agent(void *arg)
{
    struct fake *f = arg;
    static const char answer[] = "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                                 "Content-Length: 20\r\nConnection: close\r\n\r\n"
                                 "{\"error\":\"no token\"}";
    char req[8192];
    size_t got = 0;
    ssize_t n;
    int c = accept(f->fd, NULL, NULL);
    char *a;

    if (c < 0)
        return NULL;
    while (got < sizeof(req) - 1 && (n = read(c, req + got, sizeof(req) - 1 - got)) > 0) {
        got += (size_t)n;
        req[got] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    req[got] = '\0';
    if ((a = strstr(req, "Authorization: ")) != NULL)
        snprintf(f->auth, sizeof(f->auth), "%.*s", (int)strcspn(a, "\r\n"), a);
    if (write(c, answer, sizeof(answer) - 1) < 0)
        f->auth[0] = f->auth[0];
    close(c);
    return NULL;
}

static void fake_listen(struct fake *f)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->fd >= 0);
    assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(f->fd, 8), 0);
    assert_int_equal(getsockname(f->fd, (struct sockaddr *)&sa, &len), 0);
    f->port = ntohs(sa.sin_port);
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    chmod(path, 0600);
}

static char *slurp(const char *path)
{
    static char buf[16384];
    FILE *fp = fopen(path, "r");
    size_t n;

    assert_non_null(fp);
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static void run_should_send_each_agent_its_own_token_and_warn_on_plain_http(void **st)
{
    const char *bin = getenv("FAULTLINE_BIN");
    struct fake f1 = {0}, f2 = {0};
    pthread_t t1, t2;
    char path[256], text[4096], errf[256];
    const char *err;

    (void)st;
    assert_non_null(bin);
    fake_listen(&f1);
    fake_listen(&f2);
    snprintf(path, sizeof(path), "%s/h1.token", dir);
    write_text(path, TOK_H1 "\n");
    snprintf(path, sizeof(path), "%s/global.token", dir);
    write_text(path, TOK_GLOBAL "\n");
    snprintf(text, sizeof(text), YAML, f1.port, "h1.token", f2.port);
    snprintf(path, sizeof(path), "%s/west.yaml", dir);
    write_text(path, text);
    pthread_create(&t1, NULL, fake_agent, &f1);
    pthread_create(&t2, NULL, fake_agent, &f2);
    snprintf(errf, sizeof(errf), "%s/run.err", dir);
    assert_int_not_equal(tu_sh("%s run -q --out %s/out --token-file %s/global.token %s/west.yaml "
                               "</dev/null >/dev/null 2>%s",
                               bin, dir, dir, dir, errf),
                         0);
    shutdown(f1.fd, SHUT_RDWR);
    shutdown(f2.fd, SHUT_RDWR);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    close(f1.fd);
    close(f2.fd);
    err = slurp(errf);
    assert_string_equal(f1.auth, "Authorization: Bearer " TOK_H1);
    assert_string_equal(f2.auth, "Authorization: Bearer " TOK_GLOBAL);
    assert_non_null(strstr(err, "the agent of host h1 is plain HTTP"));
    assert_non_null(strstr(err, "the agent of host h2 is plain HTTP"));
}

static void run_should_name_the_host_whose_token_file_is_missing(void **st)
{
    const char *bin = getenv("FAULTLINE_BIN");
    char path[256], text[4096], errf[256];
    const char *err;

    (void)st;
    assert_non_null(bin);
    snprintf(text, sizeof(text), YAML, 1, "missing.token", 1);
    snprintf(path, sizeof(path), "%s/missing.yaml", dir);
    write_text(path, text);
    snprintf(path, sizeof(path), "%s/global.token", dir);
    write_text(path, TOK_GLOBAL "\n");
    snprintf(errf, sizeof(errf), "%s/missing.err", dir);
    assert_int_not_equal(tu_sh("%s run -q --out %s/out2 --token-file %s/global.token "
                               "%s/missing.yaml </dev/null >/dev/null 2>%s",
                               bin, dir, dir, dir, errf),
                         0);
    err = slurp(errf);
    assert_non_null(strstr(err, "host h1:"));
    assert_non_null(strstr(err, "missing.token"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_file_should_be_relative_to_the_experiment_file),
        cmocka_unit_test(token_file_should_be_refused_with_its_position_when_empty),
        cmocka_unit_test(run_should_send_each_agent_its_own_token_and_warn_on_plain_http),
        cmocka_unit_test(run_should_name_the_host_whose_token_file_is_missing),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
