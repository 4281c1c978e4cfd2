/* Fixture for the agent's integration tests. See agent_fixture.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent_fixture.h"
#include "faultline/buf.h"
#include "netns.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int fx_init(struct fx_agent *a, const char *ns, const char *listen)
{
    char path[256];
    unsigned char rnd[24];
    FILE *fp;
    size_t i;
    int fd;

    pthread_once(&curl_once, curl_init_once);
    memset(a, 0, sizeof(*a));
    a->pid = -1;
    snprintf(a->ns, sizeof(a->ns), "%s", ns);
    snprintf(a->nspath, sizeof(a->nspath), "/run/netns/%s", tn_name(ns));
    snprintf(a->listen, sizeof(a->listen), "%s", listen);
    snprintf(a->scheme, sizeof(a->scheme), "http");
    snprintf(a->dir, sizeof(a->dir), "/tmp/fl-agent-test-XXXXXX");
    if (mkdtemp(a->dir) == NULL)
        return -1;
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    for (i = 0; i < sizeof(rnd); i++)
        snprintf(a->token + 2 * i, 3, "%02x", rnd[i]);
    snprintf(path, sizeof(path), "%s/token", a->dir);
    fp = fopen(path, "we");
    if (fp == NULL)
        return -1;
    fprintf(fp, "%s\n", a->token);
    fclose(fp);
    chmod(path, 0600);
    return 0;
}

pid_t fx_spawn(struct fx_agent *a, const char *const *args)
{
    const char *bin = getenv("FAULTLINE_AGENT");
    const char *argv[64];
    char log[256], token[256], state[256];
    int n = 0, fd;
    pid_t pid;

    if (bin == NULL)
        return -1;
    snprintf(log, sizeof(log), "%s/agent.log", a->dir);
    snprintf(token, sizeof(token), "%s/token", a->dir);
    snprintf(state, sizeof(state), "%s/state", a->dir);
    argv[n++] = bin;
    argv[n++] = "--listen";
    argv[n++] = a->listen;
    argv[n++] = "--token-file";
    argv[n++] = token;
    argv[n++] = "--state-dir";
    argv[n++] = state;
    while (args != NULL && *args != NULL && n < 62)
        argv[n++] = *args++;
    argv[n] = NULL;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        fd = open(a->nspath, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
            _exit(126);
        fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    a->pid = pid;
    return pid;
}

int fx_wait_ready(struct fx_agent *a, int timeout_ms)
{
    struct timespec ts = {0, 5 * 1000000};
    int waited = 0, st;

    while (waited < timeout_ms) {
        if (a->pid > 0 && waitpid(a->pid, &st, WNOHANG) == a->pid) {
            a->pid = -1;
            return -1;
        }
        if (fx_http(a, NULL, "GET", "/v1/health", NULL, NULL, false, NULL) == 200)
            return 0;
        nanosleep(&ts, NULL);
        waited += 5;
    }
    return -1;
}

int fx_start(struct fx_agent *a, const char *const *extra)
{
    const char *args[48];
    int n = 0;

    args[n++] = "--allow";
    args[n++] = "198.18.0.0/16";
    args[n++] = "--control";
    args[n++] = "198.18.9.0/24";
    args[n++] = "-v";
    while (extra != NULL && *extra != NULL && n < 46)
        args[n++] = *extra++;
    args[n] = NULL;
    if (fx_spawn(a, args) < 0)
        return -1;
    return fx_wait_ready(a, 5000);
}

int fx_stop(struct fx_agent *a, int sig)
{
    int st, i;

    if (a->pid <= 0)
        return -1;
    kill(a->pid, sig);
    for (i = 0; i < 1000; i++) { /* at most 10 s */
        if (waitpid(a->pid, &st, WNOHANG) == a->pid) {
            a->pid = -1;
            if (WIFEXITED(st))
                return WEXITSTATUS(st);
            return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
        }
        usleep(10000);
    }
    kill(a->pid, SIGKILL);
    waitpid(a->pid, &st, 0);
    a->pid = -1;
    return -1;
}

void fx_cleanup(struct fx_agent *a)
{
    char cmd[256];

    if (a->pid > 0)
        fx_stop(a, SIGKILL);
    if (a->dir[0] != '\0' && strncmp(a->dir, "/tmp/fl-agent-test-", 19) == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", a->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", a->dir);
    }
    a->dir[0] = '\0';
}

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    fl_buf_add(ud, p, sz * n);
    return sz * n;
}

struct upload {
    const char *p;
    size_t left;
};

static size_t on_read(char *buf, size_t sz, size_t n, void *ud)
{
    struct upload *u = ud;
    size_t k = sz * n < u->left ? sz * n : u->left;

    if (k > 1000)
        k = 1000; /* several chunks */
    memcpy(buf, u->p, k);
    u->p += k;
    u->left -= k;
    return k;
}

static __thread CURL *own;
static __thread int ns_fd = -1;
static __thread int orig_fd = -1;

long fx_http(struct fx_agent *a, CURL *h, const char *method, const char *path, const char *body,
             const char *auth, bool chunked, char **resp)
{
    struct curl_slist *hdrs = NULL;
    struct upload up;
    struct fl_buf b;
    char url[512], hdr[256];
    long status = 0;
    CURLcode rc;

    if (h == NULL) {
        if (own == NULL)
            own = curl_easy_init();
        h = own;
    }
    if (orig_fd < 0)
        orig_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    ns_fd = open(a->nspath, O_RDONLY | O_CLOEXEC);
    if (ns_fd < 0 || setns(ns_fd, CLONE_NEWNET) < 0) {
        if (ns_fd >= 0)
            close(ns_fd);
        return 0;
    }
    close(ns_fd);
    fl_buf_init(&b, 16 << 20);
    curl_easy_reset(h);
    snprintf(url, sizeof(url), "%s://%s%s", a->scheme, a->listen, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (a->cafile[0] != '\0')
        curl_easy_setopt(h, CURLOPT_CAINFO, a->cafile);
    if (a->certfile[0] != '\0') {
        curl_easy_setopt(h, CURLOPT_SSLCERT, a->certfile);
        curl_easy_setopt(h, CURLOPT_SSLKEY, a->keyfile);
    }
    if (auth == NULL) {
        snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", a->token);
        hdrs = curl_slist_append(hdrs, hdr);
    } else if (auth[0] != '\0') {
        snprintf(hdr, sizeof(hdr), "Authorization: %s", auth);
        hdrs = curl_slist_append(hdrs, hdr);
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (body != NULL && chunked) {
        up.p = body;
        up.left = strlen(body);
        hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &up);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    } else if (body != NULL) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    setns(orig_fd, CLONE_NEWNET);
    if (resp != NULL)
        *resp = b.p != NULL ? fl_buf_take(&b) : strdup("");
    fl_buf_free(&b);
    return status;
}

const char *fx_partition(const char *mode)
{
    static __thread char buf[256];

    snprintf(buf, sizeof(buf),
             "{\"kind\":\"partition\",\"mode\":\"%s\","
             "\"groups\":[[\"198.18.1.0/24\"],[\"198.18.2.0/24\"]]}",
             mode);
    return buf;
}

const char *fx_apply_body(const char *id, const char *spec, long ttl_ms)
{
    static __thread char buf[1024];

    snprintf(buf, sizeof(buf), "{\"id\":\"%s\",\"fault\":%s,\"ttl_ms\":%ld}", id, spec, ttl_ms);
    return buf;
}

bool fx_log_contains(struct fx_agent *a, const char *s)
{
    char path[256], *buf;
    FILE *fp;
    long n;
    bool found;

    snprintf(path, sizeof(path), "%s/agent.log", a->dir);
    fp = fopen(path, "re");
    if (fp == NULL)
        return false;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + 1);
    found = buf != NULL && fread(buf, 1, (size_t)n, fp) == (size_t)n && strstr(buf, s) != NULL;
    free(buf);
    fclose(fp);
    return found;
}

void fx_settle(const char *ns)
{
    char *a = tn_snapshot(ns), *b;
    int i;

    for (i = 0; i < 50; i++) {
        usleep(100000);
        b = tn_snapshot(ns);
        if (a != NULL && b != NULL && strcmp(a, b) == 0) {
            free(b);
            break;
        }
        free(a);
        a = b;
    }
    free(a);
}
