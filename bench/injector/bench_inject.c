/*
 * bench_inject: apply + revert of a partition of 1, 100 and 1000 CIDRs, by
 * faultline (library, and the faultline-inject CLI with a fork per call)
 * against what a user would script instead, measured in the same run in the
 * same throw-away namespace: one `nft add rule` call per CIDR (plus table and
 * chain), and an `ip rule add ... prohibit` loop. Prints medians and ratios.
 *
 * usage: bench_inject [--quick] [--inject PATH-TO-faultline-inject]
 * Needs root. Creates namespace fl-bench-<pid> and deletes it at the end.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultline/inject.h"
#include "faultline/timeutil.h"

static char nsname[64];

static void cidr_of(int i, char *buf, size_t len)
{
    /* Distinct /32s spread over 10.0.0.0/8 so nothing merges. */
    snprintf(buf, len, "10.%d.%d.%d/32", (i >> 14) & 0xff, (i >> 6) & 0xff, (i & 0x3f) * 4);
}

static char *partition_json(int n)
{
    size_t cap = (size_t)n * 24 + 256, len = 0;
    char *s = malloc(cap), c[32];
    int i;

    len += (size_t)snprintf(s + len, cap - len,
                            "{\"kind\":\"partition\",\"mode\":\"drop\",\"groups\":[[");
    for (i = 0; i < n; i++) {
        cidr_of(i, c, sizeof(c));
        len += (size_t)snprintf(s + len, cap - len, "%s\"%s\"", i ? "," : "", c);
    }
    snprintf(s + len, cap - len, "],[\"192.168.77.0/24\"]]}");
    return s;
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

static double lib_once(struct inj_ctx *ctx, const struct inj_fault *f)
{
    int64_t t0 = fl_now_ns();
    struct fl_err e;

    fl_err_clear(&e);
    if (inj_apply(ctx, "bench", f, &e) != 0 || inj_revert(ctx, "bench", &e) != 0) {
        fprintf(stderr, "bench_inject: %s\n", e.msg);
        exit(3);
    }
    return (double)(fl_now_ns() - t0) / 1e6;
}

static double sh_once(const char *script)
{
    int64_t t0 = fl_now_ns();

    if (system(script) != 0) {
        fprintf(stderr, "bench_inject: script failed: %.200s\n", script);
        exit(3);
    }
    return (double)(fl_now_ns() - t0) / 1e6;
}

/* Write a shell script to a file and return "sh FILE" (scripts may be long). */
static const char *script_file(const char *tag, int n, int kind)
{
    static char cmd[128];
    char path[96], c[32];
    FILE *f;
    int i;

    snprintf(path, sizeof(path), "/tmp/fl-bench-%d-%s-%d.sh", (int)getpid(), tag, n);
    f = fopen(path, "w");
    if (kind == 0) { /* nft: one CLI call per rule, as a user's loop would */
        fprintf(f, "nft add table inet bench\n");
        fprintf(f, "nft 'add chain inet bench in { type filter hook input priority -300; }'\n");
        for (i = 0; i < n; i++) {
            cidr_of(i, c, sizeof(c));
            fprintf(f, "nft add rule inet bench in ip saddr %s ip daddr 192.168.77.0/24 drop\n",
                    c);
        }
        fprintf(f, "nft delete table inet bench\n");
    } else { /* ip rule: add then delete, one fork each */
        for (i = 0; i < n; i++) {
            cidr_of(i, c, sizeof(c));
            fprintf(f, "ip rule add from %s to 192.168.77.0/24 prohibit pref %d\n", c, 20000 + i);
        }
        for (i = 0; i < n; i++)
            fprintf(f, "ip rule del pref %d\n", 20000 + i);
    }
    fclose(f);
    snprintf(cmd, sizeof(cmd), "sh -e %s", path);
    return cmd;
}

static void cleanup(void)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd),
             "ip netns del %s 2>/dev/null; rm -f /tmp/fl-bench-%d-*; rm -rf /run/faultline/bench-%d "
             "/dev/shm/fl-bench-%d",
             nsname, (int)getpid(), (int)getpid(), (int)getpid());
    if (system(cmd) != 0)
        fprintf(stderr, "bench_inject: cleanup failed\n");
}

int main(int argc, char **argv)
{
    static const int sizes[] = {1, 100, 1000};
    const char *inject = NULL;
    char path[128], statedir[96], diskdir[96], cmd[512];
    struct inj_config cfg = {0};
    struct inj_ctx *ctx, *dctx;
    int quick = 0, si, i, fd;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--inject") == 0 && i + 1 < argc)
            inject = argv[++i];
        else {
            fprintf(stderr, "usage: bench_inject [--quick] [--inject PATH]\n");
            return 2;
        }
    }
    if (geteuid() != 0) {
        fprintf(stderr, "bench_inject: needs root (it creates a network namespace)\n");
        return 3;
    }
    snprintf(nsname, sizeof(nsname), "fl-bench-%d", (int)getpid());
    snprintf(cmd, sizeof(cmd), "ip netns add %s && ip -n %s link set lo up", nsname, nsname);
    if (system(cmd) != 0)
        return 3;
    atexit(cleanup);
    snprintf(path, sizeof(path), "/run/netns/%s", nsname);
    fd = open(path, O_RDONLY);
    if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
        perror("setns");
        return 3;
    }
    close(fd);
    /*
     * The journal's fsyncs dominate small faults, so measure it where a
     * normal host keeps it (/run is tmpfs under systemd; /dev/shm here) and
     * on disk (this machine's /run is on ext4).
     */
    snprintf(statedir, sizeof(statedir), "/dev/shm/fl-bench-%d", (int)getpid());
    snprintf(diskdir, sizeof(diskdir), "/run/faultline/bench-%d", (int)getpid());
    cfg.state_dir = diskdir;
    if (inj_open(&cfg, &dctx, NULL) < 0)
        return 3;
    cfg.state_dir = statedir;
    if (inj_open(&cfg, &ctx, NULL) < 0)
        return 3;

    printf("apply+revert of a partition (N CIDRs vs one peer), median ms; same namespace, same "
           "run\n");
    printf("%6s %10s %10s %11s %13s %13s %8s %10s\n", "N", "faultline", "disk-jrnl",
           "inject-cli", "nft-per-rule", "ip-rule-loop", "x nft", "x ip-rule");
    for (si = 0; si < 3; si++) {
        int n = sizes[si], reps_lib = 41, reps_sh = quick ? 1 : (n >= 1000 ? 3 : 5);
        double lib[41], dlib[41], cli[11], nft[5], ipr[5], mlib, mdlib, mcli = 0, mnft, mipr;
        char *spec = partition_json(n);
        struct inj_fault *f;

        if (quick && n == 1000)
            reps_sh = 1;
        if (inj_fault_parse(spec, strlen(spec), &f, NULL) < 0)
            return 3;
        for (i = 0; i < reps_lib; i++)
            lib[i] = lib_once(ctx, f);
        mlib = median(lib, reps_lib);
        for (i = 0; i < reps_lib; i++)
            dlib[i] = lib_once(dctx, f);
        mdlib = median(dlib, reps_lib);
        if (inject != NULL) {
            char *p = malloc(strlen(spec) + 512);

            inj_close(ctx); /* the CLI takes the journal lock itself */
            for (i = 0; i < 11; i++) {
                snprintf(p, strlen(spec) + 512,
                         "%s --state-dir %s apply --id b '%s' && %s --state-dir %s revert --id b",
                         inject, statedir, spec, inject, statedir);
                cli[i] = sh_once(p);
            }
            mcli = median(cli, 11);
            free(p);
            if (inj_open(&cfg, &ctx, NULL) < 0)
                return 3;
        }
        for (i = 0; i < reps_sh; i++)
            nft[i] = sh_once(script_file("nft", n, 0));
        for (i = 0; i < reps_sh; i++)
            ipr[i] = sh_once(script_file("ip", n, 1));
        mnft = median(nft, reps_sh);
        mipr = median(ipr, reps_sh);
        printf("%6d %10.3f %10.3f %11.3f %13.1f %13.1f %7.0fx %9.0fx\n", n, mlib, mdlib, mcli,
               mnft, mipr, mnft / mlib, mipr / mlib);
        fflush(stdout);
        inj_fault_free(f);
        free(spec);
    }
    printf("targets: N=1000 apply+revert < 5 ms; >= 50x faster than the scripted loops\n");
    printf("(faultline: %d reps; inject-cli: 11 reps, fork+exec per call; loops: %s reps)\n", 41,
           quick ? "1" : "5 (3 at N=1000)");
    inj_close(ctx);
    inj_close(dctx);
    return 0;
}
