/*
 * Agent benchmark: apply-to-effect latency through the API (request sent ->
 * rules active in the kernel, taken from the agent's apply_end_ns on the same
 * CLOCK_MONOTONIC) and revert latency, median and p99 over many requests,
 * beside the time of one `ip netns exec H nft add rule ...` call measured in
 * the same run, printed as a ratio; and the agent's RSS at idle.
 *
 * It also prints where the time goes: per apply, from the agent's own
 * apply_start_ns / apply_end_ns (same clock), the request leg (HTTP in, JSON
 * parse, validation, lock), the injector leg (journal + nf_tables batch) and
 * the response leg; and, measured apart in the same run, an HTTP round trip
 * (GET /v1/health) and one journal record write (tmp file, write, fsync,
 * rename) on the state directory's filesystem, so the nf_tables batch is the
 * rest of the injector leg.
 *
 * Needs root. Makes its own namespace fl-b<pid>-h, runs the agent on its
 * loopback with its state directory under BASE (default /run, where the agent
 * keeps its journal by default), removes everything at the end.
 * Usage: bench_agent [--state-base DIR] [N] [AGENT]  (N requests, default 500)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "faultline/buf.h"
#include "faultline/timeutil.h"

#ifndef FAULTLINE_AGENT_PATH
#define FAULTLINE_AGENT_PATH "faultline-agent"
#endif

extern char **environ;

static char ns[64], dir[96], url[128], auth[128];
static pid_t agent = -1;

static void cleanup(void)
{
    char cmd[320];

    if (agent > 0) {
        kill(agent, SIGTERM);
        waitpid(agent, NULL, 0);
        agent = -1;
    }
    snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null; rm -rf %s", ns, dir);
    if (ns[0] != '\0' && system(cmd) != 0)
        fprintf(stderr, "cleanup failed: %s\n", cmd);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    return v[(int)((n - 1) * p + 0.5)];
}

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    fl_buf_add(ud, p, sz * n);
    return sz * n;
}

static long req(CURL *h, const char *method, const char *path, const char *body, char **resp)
{
    struct curl_slist *hd = NULL;
    struct fl_buf b;
    char u[256];
    long st = 0;

    fl_buf_init(&b, 1 << 20);
    curl_easy_reset(h); /* keeps the connection; forgets the previous method and body */
    snprintf(u, sizeof(u), "%s%s", url, path);
    curl_easy_setopt(h, CURLOPT_URL, u);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    hd = curl_slist_append(hd, auth);
    hd = curl_slist_append(hd, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(hd);
    if (resp)
        *resp = b.p ? fl_buf_take(&b) : strdup("");
    fl_buf_free(&b);
    return st;
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *fp;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    fp = fopen(path, "re");
    if (fp == NULL)
        return -1;
    while (fgets(line, sizeof(line), fp))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(fp);
    return kb;
}

static double run_ms(const char *const argv[])
{
    int64_t t0 = fl_now_ns();
    pid_t pid;
    int st;

    if (posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ) != 0)
        return -1;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    return (double)(fl_now_ns() - t0) / 1e6;
}

/* One journal record as the injector writes it: tmp file, write, fsync, rename. */
static double journal_ms(const char *d, int i, int dirsync)
{
    char tmp[256], fin[256], text[300];
    int64_t t0 = fl_now_ns();
    int fd;

    snprintf(tmp, sizeof(tmp), "%s/j%d.json.tmp", d, i);
    snprintf(fin, sizeof(fin), "%s/j%d.json", d, i);
    snprintf(text, sizeof(text),
             "{\"id\":\"b%d\",\"kind\":\"partition\",\"seq\":%d,"
             "\"spec\":{\"mode\":\"drop\"},\"state\":\"applying\",\"undo\":{}}",
             i, i);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, text, strlen(text)) < 0 || fsync(fd) < 0 || rename(tmp, fin) < 0)
        return -1;
    close(fd);
    if (dirsync) {
        fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        fsync(fd);
        close(fd);
    }
    return (double)(fl_now_ns() - t0) / 1e6;
}

static const char *fs_name(const char *d)
{
    struct statfs sf;

    if (statfs(d, &sf) < 0)
        return "?";
    switch ((unsigned long)sf.f_type) {
    case 0x01021994UL:
        return "tmpfs";
    case 0xEF53UL:
        return "ext4";
    case 0x58465342UL:
        return "xfs";
    case 0x9123683EUL:
        return "btrfs";
    case 0x794c7630UL:
        return "overlayfs";
    default:
        return "other";
    }
}

struct opts {
    const char *bin, *base;
    int n;
};

/* The samples of one run, in milliseconds, and the agent's RSS around it. */
struct samples {
    int n, nn, nh, nj, ok;
    double *eff, *rtt, *rev, *nft, *leg_in, *leg_inj, *leg_out, *hl, *jw, *jwd;
    double rsskb_idle, rsskb_after;
};

/* Returns 1 to go on, 0 when --help was printed. */
static int parse_args(int argc, char **argv, struct opts *o)
{
    int i;

    o->bin = FAULTLINE_AGENT_PATH;
    o->base = "/run";
    o->n = 500;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: bench_agent [--state-base DIR] [N] [AGENT]\n"
                   "  N      apply+revert requests (default 500, at least 10)\n"
                   "  AGENT  faultline-agent binary (default: the one built beside this)\n"
                   "  --state-base DIR  where the agent's state directory is made "
                   "(default /run)\n");
            return 0;
        } else if (strcmp(argv[i], "--state-base") == 0 && i + 1 < argc) {
            o->base = argv[++i];
        } else if (argv[i][0] >= '0' && argv[i][0] <= '9') {
            o->n = atoi(argv[i]);
        } else {
            o->bin = argv[i];
        }
    }
    if (o->n < 10)
        o->n = 10;
    return 1;
}

/* The namespace, the state directory and the token file; cleanup() undoes them. */
static int setup_namespace(const char *base, char *token, size_t tokensz)
{
    char cmd[512];
    FILE *fp;

    snprintf(ns, sizeof(ns), "fl-b%d-h", (int)getpid());
    snprintf(dir, sizeof(dir), "%s/fl-bench-agent-XXXXXX", base);
    if (mkdtemp(dir) == NULL)
        return -1;
    atexit(cleanup);
    snprintf(cmd, sizeof(cmd), "ip netns add %s && ip -n %s link set lo up", ns, ns);
    if (system(cmd) != 0)
        return -1;
    snprintf(token, tokensz, "%s/token", dir);
    fp = fopen(token, "w");
    fprintf(fp, "bench-token-0123456789abcdef\n");
    fclose(fp);
    chmod(token, 0600);
    snprintf(auth, sizeof(auth), "Authorization: Bearer bench-token-0123456789abcdef");
    snprintf(url, sizeof(url), "http://127.0.0.1:7340");
    return 0;
}

/* Runs the agent in the namespace, joins it, and waits for the agent to answer. */
static CURL *start_agent(const char *bin, const char *token, const char *state)
{
    char nspath[128];
    CURL *h;
    int i, fd;

    snprintf(nspath, sizeof(nspath), "/run/netns/%s", ns);
    agent = fork();
    if (agent == 0) {
        char log[256];

        snprintf(log, sizeof(log), "%s/agent.log", dir);
        fd = open(nspath, O_RDONLY);
        if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
            _exit(126);
        fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 2);
        execl(bin, bin, "--listen", "127.0.0.1:7340", "--token-file", token, "--state-dir", state,
              "--allow", "198.18.0.0/16", "--control", "198.18.9.0/24", (char *)NULL);
        _exit(127);
    }
    fd = open(nspath, O_RDONLY);
    if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
        return NULL;
    close(fd);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    h = curl_easy_init();
    for (i = 0; i < 500 && req(h, "GET", "/v1/health", NULL, NULL) != 200; i++)
        usleep(10000);
    if (i == 500) {
        fprintf(stderr, "bench_agent: agent did not start (see %s/agent.log)\n", dir);
        return NULL;
    }
    usleep(300000);
    return h;
}

static void samples_alloc(struct samples *s, int n)
{
    memset(s, 0, sizeof(*s));
    s->n = n;
    s->nn = 50;
    s->nh = 200;
    s->nj = 200;
    s->eff = calloc((size_t)n, sizeof(double));
    s->rtt = calloc((size_t)n, sizeof(double));
    s->rev = calloc((size_t)n, sizeof(double));
    s->nft = calloc((size_t)s->nn, sizeof(double));
    s->leg_in = calloc((size_t)n, sizeof(double));
    s->leg_inj = calloc((size_t)n, sizeof(double));
    s->leg_out = calloc((size_t)n, sizeof(double));
    s->hl = calloc((size_t)s->nh, sizeof(double));
    s->jw = calloc((size_t)s->nj, sizeof(double));
    s->jwd = calloc((size_t)s->nj, sizeof(double));
}

static void samples_free(struct samples *s)
{
    free(s->eff);
    free(s->rtt);
    free(s->rev);
    free(s->nft);
    free(s->leg_in);
    free(s->leg_inj);
    free(s->leg_out);
    free(s->hl);
    free(s->jw);
    free(s->jwd);
}

/* n applies through the API, each reverted at once; the legs from the agent's clock. */
static int measure_apply_revert(CURL *h, struct samples *s)
{
    char path[256], body[512], *resp;
    int64_t t0, t1, as, ae;
    json_t *j;
    int i;

    for (i = 0; i < s->n; i++) {
        snprintf(body, sizeof(body),
                 "{\"id\":\"b%d\",\"ttl_ms\":60000,\"fault\":{\"kind\":\"partition\","
                 "\"mode\":\"drop\",\"groups\":[[\"198.18.1.0/24\"],[\"198.18.2.0/24\"]]}}",
                 i);
        t0 = fl_now_ns();
        if (req(h, "POST", "/v1/faults", body, &resp) != 201) {
            fprintf(stderr, "apply %d failed: %s\n", i, resp);
            free(resp);
            return -1;
        }
        t1 = fl_now_ns();
        s->rtt[i] = (double)(t1 - t0) / 1e6;
        j = json_loads(resp, 0, NULL);
        as = json_integer_value(json_object_get(j, "apply_start_ns"));
        ae = json_integer_value(json_object_get(j, "apply_end_ns"));
        s->eff[i] = (double)(ae - t0) / 1e6;
        s->leg_in[i] = (double)(as - t0) / 1e6;
        s->leg_inj[i] = (double)(ae - as) / 1e6;
        s->leg_out[i] = (double)(t1 - ae) / 1e6;
        json_decref(j);
        free(resp);
        snprintf(path, sizeof(path), "/v1/faults/b%d", i);
        t0 = fl_now_ns();
        if (req(h, "DELETE", path, NULL, NULL) != 200) {
            fprintf(stderr, "revert %d failed\n", i);
            return -1;
        }
        s->rev[i] = (double)(fl_now_ns() - t0) / 1e6;
        s->ok++;
    }
    return 0;
}

/* An HTTP round trip that does nothing. */
static int measure_http(CURL *h, struct samples *s)
{
    int64_t t0;
    int i;

    for (i = 0; i < s->nh; i++) {
        t0 = fl_now_ns();
        if (req(h, "GET", "/v1/health", NULL, NULL) != 200)
            return -1;
        s->hl[i] = (double)(fl_now_ns() - t0) / 1e6;
    }
    return 0;
}

/* A journal record, without and with the directory fsync, beside the state dir. */
static int measure_journal(struct samples *s)
{
    char jdir[300];
    int i;

    snprintf(jdir, sizeof(jdir), "%s/jbench", dir);
    if (mkdir(jdir, 0700) < 0)
        return -1;
    for (i = 0; i < s->nj; i++)
        if ((s->jw[i] = journal_ms(jdir, i, 0)) < 0 ||
            (s->jwd[i] = journal_ms(jdir, s->nj + i, 1)) < 0) {
            fprintf(stderr, "journal write in %s failed\n", jdir);
            return -1;
        }
    return 0;
}

/* The alternative: one nft CLI call per rule, in the same namespace. */
static int measure_nft_cli(struct samples *s)
{
    const char *nft_argv[] = {"ip",   "netns",   "exec", ns,   "nft",   "add",           "rule",
                              "inet", "flbench", "c",    "ip", "saddr", "198.18.1.0/24", "counter",
                              "drop", NULL};
    char cmd[512];
    int i;

    snprintf(
        cmd, sizeof(cmd),
        "ip netns exec %s nft add table inet flbench && "
        "ip netns exec %s nft add chain inet flbench c '{ type filter hook input priority 0; }'",
        ns, ns);
    if (system(cmd) != 0)
        return -1;
    for (i = 0; i < s->nn; i++)
        if ((s->nft[i] = run_ms(nft_argv)) < 0) {
            fprintf(stderr, "nft add rule failed\n");
            return -1;
        }
    snprintf(cmd, sizeof(cmd), "ip netns exec %s nft delete table inet flbench", ns);
    if (system(cmd) != 0)
        return -1;
    return 0;
}

static void print_report(struct samples *s, const char *state)
{
    int n = s->n, nn = s->nn, nh = s->nh, nj = s->nj;
    double em = pct(s->eff, n, 0.5), ep = pct(s->eff, n, 0.99), rm = pct(s->rtt, n, 0.5),
           rp = pct(s->rtt, n, 0.99), vm = pct(s->rev, n, 0.5), vp = pct(s->rev, n, 0.99),
           nm = pct(s->nft, nn, 0.5), li = pct(s->leg_in, n, 0.5), lj = pct(s->leg_inj, n, 0.5),
           lo = pct(s->leg_out, n, 0.5), hm = pct(s->hl, nh, 0.5), jm = pct(s->jw, nj, 0.5),
           jdm = pct(s->jwd, nj, 0.5);

    printf("faultline-agent benchmark (%d apply+revert through the API, keep-alive)\n", s->ok);
    printf("  apply-to-effect (request sent -> rules active): median %.3f ms  p99 %.3f ms\n", em,
           ep);
    printf("  apply round trip (request sent -> 201 received): median %.3f ms  p99 %.3f ms\n", rm,
           rp);
    printf("  revert round trip (DELETE sent -> 200 received): median %.3f ms  p99 %.3f ms\n", vm,
           vp);
    printf("  one `ip netns exec H nft add rule ...` (%d runs):  median %.3f ms\n", nn, nm);
    printf("  ratio nft-cli / agent apply-to-effect: %.1fx  (target: agent median < 1 ms: %s)\n",
           nm / em, em < 1.0 ? "met" : "MISSED");
    printf("  breakdown of apply (medians of each part; state dir on %s):\n", fs_name(state));
    printf("    request leg  (sent -> inj_apply starts: HTTP in, JSON, checks): %.3f ms\n", li);
    printf("    injector leg (inj_apply: journal + nf_tables batch):            %.3f ms\n", lj);
    printf("    response leg (inj_apply done -> 201 received: JSON, HTTP out):  %.3f ms\n", lo);
    printf("    apart: HTTP round trip GET /v1/health:                          %.3f ms\n", hm);
    printf("    apart: journal record (write, fsync, rename):                   %.3f ms\n", jm);
    printf("    apart: journal record + directory fsync:                        %.3f ms\n", jdm);
    if (strcmp(fs_name(state), "tmpfs") != 0)
        printf("  note: the state dir is not on tmpfs, so journal fsyncs dominate; the agent's\n"
               "  default /run/faultline-agent is tmpfs on systemd hosts (try --state-base "
               "/dev/shm)\n");
    printf("  agent RSS: idle %.1f MB, after the run %.1f MB (target idle < 8 MB: %s)\n",
           s->rsskb_idle / 1024, s->rsskb_after / 1024,
           s->rsskb_idle < 8 * 1024 ? "met" : "MISSED");
}

int main(int argc, char **argv)
{
    char token[256], state[256];
    struct samples s;
    struct opts o;
    CURL *h;

    if (parse_args(argc, argv, &o) == 0)
        return 0;
    if (geteuid() != 0) {
        fprintf(stderr, "bench_agent: needs root (network namespaces)\n");
        return 77;
    }
    if (setup_namespace(o.base, token, sizeof(token)) < 0)
        return 1;
    snprintf(state, sizeof(state), "%s/state", dir);
    h = start_agent(o.bin, token, state);
    if (h == NULL)
        return 1;
    samples_alloc(&s, o.n);
    s.rsskb_idle = (double)rss_kb(agent);
    if (measure_apply_revert(h, &s) < 0)
        return 1;
    s.rsskb_after = (double)rss_kb(agent);
    if (measure_http(h, &s) < 0 || measure_journal(&s) < 0 || measure_nft_cli(&s) < 0)
        return 1;
    print_report(&s, state);
    curl_easy_cleanup(h);
    samples_free(&s);
    return 0;
}
