/*
 * bench_workload: how many operations per second the workload engine can
 * drive *and record* against faultline-refstore on loopback (closed loop, as
 * fast as the server answers), compared in the same run with wrk (Debian's
 * HTTP load generator, keep-alive, same POST /v1/op bodies, same connection
 * count) against the same server. Prints the median of several runs of each
 * and the ratio engine/wrk; wrk missing -> the ratio is reported as absent.
 * -g N splits the clients into N client groups (each its own schedule,
 * routing and recorded group), as an experiment with region groups does.
 *
 * -R rate: open loop instead, at that many operations per second over all
 * clients (and groups): prints, per run and as medians, the configured,
 * offered and achieved rates, the achieved rate's deviation from the
 * configured one, late and missed slots, the worst lag, the p50/p99
 * latency, and the time recording one operation costs (hist_append, the
 * latency recording adds to each operation).
 *
 *   bench_workload [-c clients] [-d seconds] [-r runs] [-g groups] [-R rate]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "faultline/err.h"
#include "faultline/timeutil.h"
#include "faultline/workload.h"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static pid_t start_refstore(int port)
{
    char listen[64];
    pid_t pid;

    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);

        if (fd >= 0)
            dup2(fd, 2);
        execl(REFSTORE_PATH, "faultline-refstore", "--id", "west-z1-h1", "--region", "west",
              "--listen", listen, "--config",
              "{\"preset\":\"key-vault\",\"primary\":\"west\",\"failover_after\":\"1s\","
              "\"heartbeat\":\"100ms\"}",
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* wrk with a Lua script posting the same mix of bodies; returns requests/s or -1. */
static double run_wrk(int port, int clients, int secs)
{
    char cmd[1024], line[512];
    FILE *p;
    double rps = -1;
    const char *lua = "/tmp/fl_bench_workload.lua";
    FILE *f = fopen(lua, "w");

    if (!f)
        return -1;
    fprintf(f,
            "local n = 0\n"
            "request = function()\n"
            "  n = n + 1\n"
            "  local k = 'k' .. (n %% 1000)\n"
            "  local body\n"
            "  if n %% 2 == 0 then body = '{\"op\":\"get-secret\",\"key\":\"' .. k .. '\"}'\n"
            "  else body = '{\"op\":\"set-secret\",\"key\":\"' .. k .. '\",\"value\":' .. n .. '}' "
            "end\n"
            "  return wrk.format('POST', '/v1/op', {['Content-Type']='application/json'}, body)\n"
            "end\n");
    fclose(f);
    snprintf(cmd, sizeof(cmd), "wrk -t2 -c%d -d%ds -s %s http://127.0.0.1:%d/ 2>/dev/null", clients,
             secs, lua, port);
    p = popen(cmd, "r");
    if (!p)
        return -1;
    while (fgets(line, sizeof(line), p))
        if (strncmp(line, "Requests/sec:", 13) == 0)
            rps = strtod(line + 13, NULL);
    pclose(p);
    return rps;
}

/* Split c's clients and rate into n groups (n <= clients). */
static void make_groups(struct wl_config *c, unsigned n)
{
    unsigned clients = c->clients, g;
    double rate = c->rate;

    for (g = 0; g < n; g++) {
        struct wl_group gr;

        memset(&gr, 0, sizeof(gr));
        snprintf(gr.name, sizeof(gr.name), "group-%u", g + 1);
        gr.clients = clients / n + (g < clients % n);
        gr.rate = rate * gr.clients / clients;
        gr.routing = WL_ROUTE_PREFERRED;
        gr.netns_fd = -1;
        wl_config_add_group(c, &gr, NULL);
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* p-th percentile (0..1) of the non-final records' latencies, in ms. */
static double latency_ms(const struct hist *h, double p)
{
    int64_t *l = malloc((h->n ? h->n : 1) * sizeof(*l));
    size_t i, n = 0;
    double r;

    if (!l)
        return -1;
    for (i = 0; i < h->n; i++)
        l[n++] = h->ops[i].complete_ns - h->ops[i].invoke_ns;
    qsort(l, n, sizeof(*l), cmp_i64);
    r = n ? (double)l[(size_t)(p * (double)(n - 1))] / 1e6 : 0;
    free(l);
    return r;
}

/* What recording costs per operation: ns per hist_append into a growing history. */
static double record_ns(void)
{
    struct hist h;
    struct hist_op o;
    int64_t t0, t1;
    size_t i, n = 2000000;

    memset(&o, 0, sizeof(o));
    hist_init(&h);
    t0 = fl_now_ns();
    for (i = 0; i < n; i++) {
        o.invoke_ns = (int64_t)i;
        o.value = i + 1;
        hist_append(&h, &o);
    }
    t1 = fl_now_ns();
    hist_free(&h);
    return (double)(t1 - t0) / (double)n;
}

/* -R: the open-loop runs. */
static int open_loop(struct wl_config *c, int runs)
{
    double ach[16], off[16], dev[16], p50[16], p99[16];
    struct fl_err err = {0};
    int i;

    for (i = 0; i < runs; i++) {
        struct hist h;
        struct wl_stats s;

        hist_init(&h);
        if (wl_run(c, &fl_driver_refstore, &h, &s, NULL, NULL, NULL, &err) < 0) {
            fprintf(stderr, "bench_workload: %s\n", err.msg);
            return -1;
        }
        off[i] = s.offered_rate;
        ach[i] = s.achieved_rate;
        dev[i] = (s.achieved_rate - c->rate) / c->rate * 100;
        p50[i] = latency_ms(&h, 0.50);
        p99[i] = latency_ms(&h, 0.99);
        printf("run %d: configured %.0f/s offered %.0f/s achieved %.0f/s (%+.2f%%), late %llu, "
               "missed %llu, max lag %.2f ms, latency p50 %.3f ms p99 %.3f ms, %zu records\n",
               i + 1, c->rate, off[i], ach[i], dev[i], (unsigned long long)s.late,
               (unsigned long long)s.missed, (double)s.max_lag_ns / 1e6, p50[i], p99[i], h.n);
        hist_free(&h);
    }
    printf("open loop, %u clients in %zu groups: configured %.0f/s, median offered %.0f/s, "
           "achieved %.0f/s (%+.2f%%), latency p50 %.3f ms p99 %.3f ms\n",
           c->clients, c->ngroups ? c->ngroups : 1, c->rate, median(off, runs), median(ach, runs),
           median(dev, runs), median(p50, runs), median(p99, runs));
    printf("recording one operation (hist_append): %.1f ns\n", record_ns());
    return 0;
}

int main(int argc, char **argv)
{
    int clients = 8, secs = 2, runs = 5, ch, i, port = 17999, groups = 0;
    double rate = 0;
    double eng[16], base[16];
    int nbase = 0;
    pid_t pid;
    char url[64];
    struct wl_config c;
    struct fl_err err = {0};
    bool have_wrk = system("command -v wrk >/dev/null 2>&1") == 0;

    while ((ch = getopt(argc, argv, "c:d:r:p:g:R:")) != -1) {
        switch (ch) {
        case 'c':
            clients = atoi(optarg);
            break;
        case 'd':
            secs = atoi(optarg);
            break;
        case 'r':
            runs = atoi(optarg);
            break;
        case 'p':
            port = atoi(optarg);
            break;
        case 'g':
            groups = atoi(optarg);
            break;
        case 'R':
            rate = atof(optarg);
            break;
        default:
            fprintf(stderr, "usage: bench_workload [-c clients] [-d seconds] [-r runs] [-g groups] "
                            "[-R rate]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 16 || clients < 1 || secs < 1 || secs > 60 || groups < 0 ||
        groups > clients || groups > WL_MAX_GROUPS || rate < 0) {
        fprintf(stderr, "bench_workload: runs 1..16, clients >= 1, seconds 1..60, groups "
                        "0..min(clients, 16), rate >= 0\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pid = start_refstore(port);
    usleep(300000);
    wl_config_init(&c);
    c.clients = (unsigned)clients;
    c.rate = rate; /* 0: closed loop, as fast as the server answers */
    c.duration_ns = (int64_t)secs * 1000000000LL;
    c.keys = 1000;
    c.timeout_ns = 2000000000LL;
    wl_config_add_mix(&c, "get-secret", 1, NULL);
    wl_config_add_mix(&c, "set-secret", 1, NULL);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    wl_config_add_endpoint(&c, "west", url, NULL);
    if (groups > 0)
        make_groups(&c, (unsigned)groups);
    if (rate > 0) {
        int r = open_loop(&c, runs);

        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return r < 0 ? 3 : 0;
    }
    for (i = 0; i < runs; i++) {
        struct hist h;
        struct wl_stats s;

        hist_init(&h);
        if (wl_run(&c, &fl_driver_refstore, &h, &s, NULL, NULL, NULL, &err) < 0) {
            fprintf(stderr, "bench_workload: %s\n", err.msg);
            kill(pid, SIGTERM);
            return 3;
        }
        eng[i] = s.achieved_rate;
        printf("run %d: engine %.0f ops/s (%zu records, %llu ok)", i + 1, eng[i], h.n,
               (unsigned long long)s.ok);
        hist_free(&h);
        if (have_wrk) {
            base[nbase] = run_wrk(port, clients, secs);
            printf(", wrk %.0f req/s", base[nbase]);
            if (base[nbase] > 0)
                nbase++;
        }
        printf("\n");
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    printf("bench_workload: %d clients in %d groups, %d s x %d runs, loopback refstore "
           "(key-vault primary)\n",
           clients, groups ? groups : 1, secs, runs);
    printf("engine (drive + record history): median %.0f ops/s\n", median(eng, runs));
    if (nbase > 0) {
        double b = median(base, nbase);

        printf("wrk (drive only, no history):  median %.0f req/s\n", b);
        printf("ratio engine/wrk: %.2f\n", median(eng, runs) / b);
    } else {
        printf("wrk not installed: no baseline (apt-get install wrk)\n");
    }
    return 0;
}
