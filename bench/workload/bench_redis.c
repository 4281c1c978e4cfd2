/*
 * bench_redis: operations per second the workload engine drives and records
 * (full history) against a real redis-server through the redis-sentinel
 * driver (hiredis, master discovered through a sentinel), compared in the
 * same run with redis-benchmark at the same concurrency and pipeline depth 1
 * (SET and GET, combined as a 50/50 mix like the engine's). Prints medians
 * and the ratio engine/redis-benchmark (target: >= 0.8).
 *
 * -g N splits the clients into N client groups, as an experiment with
 * region groups does (each its own schedule, routing and recorded group).
 *
 * usage: bench_redis [-c clients] [-d seconds] [-r runs] [-g groups]
 * Needs root (a throw-away network namespace: the servers listen on its
 * loopback only) and the redis-server / redis-sentinel / redis-tools packages.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faultline/driver.h"
#include "faultline/err.h"
#include "faultline/history.h"
#include "faultline/workload.h"

#define RPORT 16379
#define SPORT 26379

static char ns[64], dir[96];
static pid_t srv, sent;

static void cleanup(void)
{
    char cmd[256];

    if (srv > 0)
        kill(srv, SIGKILL);
    if (sent > 0)
        kill(sent, SIGKILL);
    while (wait(NULL) > 0)
        ;
    snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null; rm -rf %s", ns, dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_redis: cleanup failed\n");
}

static pid_t spawn(const char *const argv[], const char *log)
{
    pid_t p = fork();

    if (p == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return p;
}

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

/* redis-benchmark SET and GET at concurrency c, pipeline 1; 50/50 mix rate. */
static double redis_benchmark(int clients, int n)
{
    char cmd[256], line[256];
    double set = 0, get = 0;
    FILE *p;

    snprintf(
        cmd, sizeof(cmd),
        "redis-benchmark -h 127.0.0.1 -p %d -c %d -P 1 -n %d -r 1000 -t set,get -q 2>/dev/null",
        RPORT, clients, n);
    p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    /* Lines like "SET: 84245.99 requests per second, p50=0.047 msec" (with \r progress). */
    while (fgets(line, sizeof(line), p) != NULL) {
        char *s = strrchr(line, '\r');

        s = s ? s + 1 : line;
        if (strncmp(s, "SET: ", 5) == 0)
            set = atof(s + 5);
        else if (strncmp(s, "GET: ", 5) == 0)
            get = atof(s + 5);
    }
    pclose(p);
    if (set <= 0 || get <= 0)
        return -1;
    return 2.0 / (1.0 / set + 1.0 / get); /* half SETs, half GETs */
}

int main(int argc, char **argv)
{
    int clients = 8, secs = 2, runs = 5, ch, i, fd, groups = 0;
    double eng[16], base[16];
    char path[128], conf[160], log[160], url[96], port[16];
    const struct fl_driver_ops *drv = fl_driver_find("redis-sentinel");
    struct wl_config c;
    struct fl_err err = {0};
    FILE *f;

    while ((ch = getopt(argc, argv, "c:d:r:g:")) != -1) {
        if (ch == 'g')
            groups = atoi(optarg);
        else if (ch == 'c')
            clients = atoi(optarg);
        else if (ch == 'd')
            secs = atoi(optarg);
        else if (ch == 'r')
            runs = atoi(optarg);
        else {
            fprintf(stderr, "usage: bench_redis [-c clients] [-d seconds] [-r runs] [-g groups]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 16 || clients < 1 || clients > 256 || secs < 1 || secs > 60 ||
        groups < 0 || groups > clients || groups > WL_MAX_GROUPS) {
        fprintf(stderr, "bench_redis: runs 1..16, clients 1..256, seconds 1..60, groups 0..16\n");
        return 2;
    }
    if (geteuid() != 0 || access("/usr/bin/redis-server", X_OK) != 0 ||
        access("/usr/bin/redis-sentinel", X_OK) != 0 ||
        system("command -v redis-benchmark >/dev/null") != 0 || drv == NULL) {
        fprintf(stderr, "bench_redis: needs root, redis-server, redis-sentinel, redis-tools "
                        "(scripts/setup.sh --with-services)\n");
        return 3;
    }
    snprintf(ns, sizeof(ns), "fl-bench-redis-%d", (int)getpid());
    snprintf(dir, sizeof(dir), "/tmp/fl-bench-redis-%d", (int)getpid());
    {
        char cmd[320];

        snprintf(cmd, sizeof(cmd), "ip netns add %s && ip -n %s link set lo up && mkdir -p %s", ns,
                 ns, dir);
        if (system(cmd) != 0)
            return 3;
    }
    atexit(cleanup);
    snprintf(path, sizeof(path), "/run/netns/%s", ns);
    fd = open(path, O_RDONLY);
    if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
        return 3;
    close(fd);

    snprintf(port, sizeof(port), "%d", RPORT);
    snprintf(log, sizeof(log), "%s/redis.log", dir);
    {
        const char *av[] = {
            "/usr/bin/redis-server", "--port", port,    "--bind", "127.0.0.1", "--save", "",
            "--appendonly",          "no",     "--dir", dir,      NULL};
        srv = spawn(av, log);
    }
    snprintf(conf, sizeof(conf), "%s/sentinel.conf", dir);
    f = fopen(conf, "w");
    fprintf(f, "port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor m 127.0.0.1 %d 1\n", SPORT, dir,
            RPORT);
    fclose(f);
    snprintf(log, sizeof(log), "%s/sentinel.log", dir);
    {
        const char *av[] = {"/usr/bin/redis-sentinel", conf, NULL};
        sent = spawn(av, log);
    }
    /* Wait for both to answer. */
    for (i = 0; i < 100; i++) {
        char cmd[160];

        snprintf(cmd, sizeof(cmd),
                 "redis-cli -p %d ping >/dev/null 2>&1 && redis-cli -p %d sentinel "
                 "get-master-addr-by-name m 2>/dev/null | grep -q 127.0.0.1",
                 RPORT, SPORT);
        if (system(cmd) == 0)
            break;
        usleep(100000);
    }
    if (i == 100) {
        fprintf(stderr, "bench_redis: redis did not start (logs in %s)\n", dir);
        return 3;
    }

    wl_config_init(&c);
    c.clients = (unsigned)clients;
    c.rate = 0; /* closed loop, as redis-benchmark */
    c.duration_ns = (int64_t)secs * 1000000000LL;
    c.keys = 1000;
    c.timeout_ns = 2000000000LL;
    wl_config_add_mix(&c, "set", 1, NULL);
    wl_config_add_mix(&c, "get", 1, NULL);
    snprintf(url, sizeof(url), "redis-sentinel://m@127.0.0.1:%d", SPORT);
    if (wl_config_add_endpoint(&c, "local", url, &err) < 0) {
        fprintf(stderr, "bench_redis: %s\n", err.msg);
        return 3;
    }
    for (i = 0; i < groups; i++) {
        struct wl_group g;

        memset(&g, 0, sizeof(g));
        snprintf(g.name, sizeof(g.name), "group-%d", i + 1);
        g.clients = (unsigned)(clients / groups + (i < clients % groups));
        g.routing = WL_ROUTE_PREFERRED;
        g.netns_fd = -1;
        wl_config_add_group(&c, &g, NULL);
    }
    printf("engine (redis-sentinel driver, full history) vs redis-benchmark -c %d -P 1, "
           "SET/GET 50/50\n",
           clients);
    for (i = 0; i < runs; i++) {
        struct hist h;
        struct wl_stats s;

        hist_init(&h);
        if (wl_run(&c, drv, &h, &s, NULL, NULL, NULL, &err) < 0) {
            fprintf(stderr, "bench_redis: %s\n", err.msg);
            return 3;
        }
        eng[i] = s.achieved_rate;
        if (s.fail + s.info > 0)
            fprintf(stderr, "bench_redis: warning: %llu failed, %llu unknown operations\n",
                    (unsigned long long)s.fail, (unsigned long long)s.info);
        hist_free(&h);
        base[i] = redis_benchmark(clients, (int)(eng[i] * secs) + 1000);
        printf("run %d: engine %.0f ops/s (%zu-record history), redis-benchmark %.0f req/s\n",
               i + 1, eng[i], (size_t)(eng[i] * secs), base[i]);
        fflush(stdout);
        if (base[i] < 0) {
            fprintf(stderr, "bench_redis: redis-benchmark failed\n");
            return 3;
        }
    }
    printf("median: engine %.0f ops/s, redis-benchmark %.0f req/s, ratio %.2f (target >= 0.8)\n",
           median(eng, runs), median(base, runs), median(eng, runs) / median(base, runs));
    return 0;
}
