/* Test helpers for refstore processes. See rs_helper.h. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "faultline/buf.h"
#include "netns.h"
#include "rs_helper.h"

#define MAXPIDS 64

static pid_t pids[MAXPIDS];
static int npids;
static int registered;

static void kill_all(void)
{
    int i;

    for (i = 0; i < npids; i++) {
        if (pids[i] > 0) {
            kill(pids[i], SIGCONT);
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
            pids[i] = 0;
        }
    }
}

const char *rsh_binary(void)
{
    static char path[1024];
    const char *b = getenv("FAULTLINE_BUILD_DIR");

    snprintf(path, sizeof(path), "%s/targets/faultline-refstore", b ? b : ".");
    return path;
}

int rsh_free_port(void)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
        port = ntohs(sin.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

void rsh_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int64_t rsh_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int rsh_start(struct rsh_node *nodes, int n, int i, const char *config)
{
    char *argv[80];
    char listen[96], peers[32][256];
    int a = 0, j, np = 0;
    pid_t pid;

    if (!registered) {
        atexit(kill_all);
        registered = 1;
    }
    if (nodes[i].ns) {
        argv[a++] = (char *)"ip";
        argv[a++] = (char *)"netns";
        argv[a++] = (char *)"exec";
        argv[a++] = (char *)tn_name(nodes[i].ns);
    }
    argv[a++] = (char *)rsh_binary();
    argv[a++] = (char *)"--id";
    argv[a++] = (char *)nodes[i].id;
    argv[a++] = (char *)"--region";
    argv[a++] = (char *)nodes[i].region;
    argv[a++] = (char *)"--zone";
    argv[a++] = (char *)(nodes[i].zone ? nodes[i].zone : "z1");
    snprintf(listen, sizeof(listen), "%s:%d", nodes[i].addr, nodes[i].port);
    argv[a++] = (char *)"--listen";
    argv[a++] = listen;
    for (j = 0; j < n && np < 32; j++) {
        if (j == i)
            continue;
        snprintf(peers[np], sizeof(peers[np]), "%s=%s/%s@http://%s:%d", nodes[j].id,
                 nodes[j].region, nodes[j].zone ? nodes[j].zone : "z1", nodes[j].addr,
                 nodes[j].port);
        argv[a++] = (char *)"--peer";
        argv[a++] = peers[np++];
    }
    argv[a++] = (char *)"--config";
    argv[a++] = (char *)config;
    argv[a] = NULL;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    nodes[i].pid = pid;
    if (npids < MAXPIDS)
        pids[npids++] = pid;
    return 0;
}

int rsh_start_all(struct rsh_node *nodes, int n, const char *config)
{
    int i, t;

    for (i = 0; i < n; i++)
        if (rsh_start(nodes, n, i, config) < 0)
            return -1;
    for (i = 0; i < n; i++) {
        for (t = 0; t < 200; t++) {
            json_t *o = rsh_get(&nodes[i], "/v1/health");

            json_decref(o);
            if (o)
                break;
            rsh_sleep_ms(10);
        }
        if (t == 200)
            return -1;
    }
    return 0;
}

void rsh_stop(struct rsh_node *node)
{
    int i;

    if (node->pid <= 0)
        return;
    kill(node->pid, SIGCONT);
    kill(node->pid, SIGTERM);
    waitpid(node->pid, NULL, 0);
    for (i = 0; i < npids; i++)
        if (pids[i] == node->pid)
            pids[i] = 0;
    node->pid = 0;
}

void rsh_pause(struct rsh_node *node)
{
    kill(node->pid, SIGSTOP);
}

void rsh_resume(struct rsh_node *node)
{
    kill(node->pid, SIGCONT);
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    return fl_buf_add(arg, p, sz * n) == 0 ? sz * n : 0;
}

static long http(struct rsh_node *node, const char *path, const char *body, json_t **out)
{
    char url[256];
    struct fl_buf b;
    CURL *c;
    long status = 0;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");

    if (node->ns)
        tn_enter(node->ns);
    c = curl_easy_init();
    snprintf(url, sizeof(url), "http://%s:%d%s", node->addr, node->port, path);
    fl_buf_init(&b, 64 << 20);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 4000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (node->ns)
        tn_leave();
    *out = status ? json_loads(b.p ? b.p : "", 0, NULL) : NULL;
    fl_buf_free(&b);
    return status;
}

int rsh_op(struct rsh_node *node, const char *op, const char *key, uint64_t value,
           uint64_t *out_value, char *code, char *region)
{
    char body[512];
    json_t *o;
    long st;

    snprintf(body, sizeof(body), "{\"op\":\"%s\",\"key\":\"%s\",\"value\":%" PRIu64 "}", op,
             key ? key : "", value);
    st = http(node, "/v1/op", body, &o);
    if (out_value)
        *out_value = (uint64_t)json_integer_value(json_object_get(o, "value"));
    if (code)
        snprintf(code, 64, "%s", json_string_value(json_object_get(o, "code")) ?: "");
    if (region)
        snprintf(region, 64, "%s", json_string_value(json_object_get(o, "region")) ?: "");
    json_decref(o);
    return (int)st;
}

json_t *rsh_get(struct rsh_node *node, const char *path)
{
    json_t *o;

    if (http(node, path, NULL, &o) != 200) {
        json_decref(o);
        return NULL;
    }
    return o;
}

long long rsh_status_int(struct rsh_node *node, const char *field)
{
    json_t *o = rsh_get(node, "/v1/status");
    long long v = o ? (long long)json_integer_value(json_object_get(o, field)) : -1;

    json_decref(o);
    return v;
}

bool rsh_status_bool(struct rsh_node *node, const char *field)
{
    json_t *o = rsh_get(node, "/v1/status");
    bool v = o && json_is_true(json_object_get(o, field));

    json_decref(o);
    return v;
}

const char *rsh_status_str(struct rsh_node *node, const char *field, char *buf, size_t len)
{
    json_t *o = rsh_get(node, "/v1/status");

    snprintf(buf, len, "%s", o ? json_string_value(json_object_get(o, field)) ?: "" : "");
    json_decref(o);
    return buf;
}

bool rsh_wait_bool(struct rsh_node *node, const char *field, bool want, int ms)
{
    int64_t end = rsh_now_ns() + (int64_t)ms * 1000000LL;

    do {
        if (rsh_status_bool(node, field) == want)
            return true;
        rsh_sleep_ms(20);
    } while (rsh_now_ns() < end);
    return false;
}

bool rsh_wait_str(struct rsh_node *node, const char *field, const char *want, int ms)
{
    int64_t end = rsh_now_ns() + (int64_t)ms * 1000000LL;
    char buf[128];

    do {
        if (strcmp(rsh_status_str(node, field, buf, sizeof(buf)), want) == 0)
            return true;
        rsh_sleep_ms(20);
    } while (rsh_now_ns() < end);
    return false;
}
