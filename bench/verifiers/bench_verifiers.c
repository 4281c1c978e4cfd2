/*
 * Benchmark: every verifier together (vfy_run_all) over generated histories
 * of 1M, 2M, 5M and 10M operations (64 clients, 3 regions, one region
 * outage with failover and failback, 1% stale reads, planted losses, final
 * reads for every key). Each size runs in its own child process so peak
 * memory (ru_maxrss) is measured per size: the history itself, and the
 * verifiers' extra on top. Prints the median of several runs, operations per
 * second on one core, and how time and memory per operation grow from the
 * smallest to the largest size (flat = linear). Also, for scale, the cost of
 * reading the same history from history.jsonl at 1M.
 *
 * usage: bench_verifiers [max_millions (default 10)] [runs (default 5)]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faultline/err.h"
#include "faultline/timeutil.h"
#include "faultline/verify.h"

struct sample {
    size_t n;
    double median_s, min_s;
    long base_kb, peak_kb;
    int pass;
};

static uint64_t rs = 88172645463325252ULL;

static inline uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static long maxrss_kb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void generate(size_t n, struct hist *h, struct hist_faults *fs)
{
    const uint32_t clients = 64;
    size_t nkeys = n / 100 + 16, i;
    uint64_t *last = calloc(nkeys, sizeof(*last)), *prev = calloc(nkeys, sizeof(*prev));
    int64_t step = 1000; /* 1M ops/s of simulated time */
    int64_t T = (int64_t)n * step, A = T * 4 / 10, H = T * 6 / 10, R = A + T / 20;
    uint16_t ops[4], reg[4];
    uint64_t value = 1;
    struct hist_fault f;
    char name[32];

    if (hist_init(h) < 0 || last == NULL || prev == NULL)
        exit(3);
    h->ops = malloc((n + nkeys) * sizeof(*h->ops));
    h->cap = n + nkeys;
    for (i = 1; i <= nkeys; i++) {
        snprintf(name, sizeof(name), "key-%zu", i);
        hist_intern(&h->keys, name);
    }
    ops[0] = (uint16_t)hist_intern(&h->op_names, "get-secret");
    ops[1] = (uint16_t)hist_intern(&h->op_names, "list-secrets");
    ops[2] = (uint16_t)hist_intern(&h->op_names, "set-secret");
    ops[3] = (uint16_t)hist_intern(&h->op_names, "delete-secret");
    reg[0] = 0;
    reg[1] = (uint16_t)hist_intern(&h->regions, "west");
    reg[2] = (uint16_t)hist_intern(&h->regions, "north");
    reg[3] = (uint16_t)hist_intern(&h->regions, "east");
    for (i = 0; i < n; i++) {
        struct hist_op *o = &h->ops[h->n++];
        uint64_t x = rnd();
        uint32_t k = 1 + (uint32_t)(x % nkeys);
        int kind = (int)((x >> 32) % 100);
        int64_t t = (int64_t)i * step;
        bool down = t >= A && t < R, ro = t >= R && t < H;

        memset(o, 0, sizeof(*o));
        o->client = (uint32_t)(i % clients);
        o->key = k;
        o->invoke_ns = t;
        o->complete_ns = t + 200000 + (int64_t)((x >> 40) % 3000000);
        o->region = t < A || t >= H ? reg[1] : reg[2];
        if (kind < 50 || kind >= 95) {
            o->op = kind < 45 ? ops[0] : ops[1];
            o->outcome = down ? HIST_FAIL : HIST_OK;
            o->value = (x >> 20) % 100 == 0 ? prev[k - 1] : last[k - 1]; /* 1% stale */
            if (o->complete_ns > t + 2000000)
                o->value = last[k - 1];
        } else {
            o->is_write = 1;
            o->op = kind < 92 ? ops[2] : ops[3];
            o->value = kind < 92 ? value++ : 0;
            o->outcome = down || ro ? HIST_FAIL : ((x >> 24) % 200 == 0 ? HIST_INFO : HIST_OK);
            if (o->outcome == HIST_OK) {
                prev[k - 1] = last[k - 1];
                last[k - 1] = o->value;
            }
        }
    }
    /* final reads: the last ok value, except a few keys that lose their last write */
    for (i = 0; i < nkeys; i++) {
        struct hist_op *o = &h->ops[h->n++];

        memset(o, 0, sizeof(*o));
        o->client = clients;
        o->op = ops[0];
        o->key = (uint32_t)i + 1;
        o->region = reg[3];
        o->invoke_ns = T + 10000000 + (int64_t)i;
        o->complete_ns = o->invoke_ns + 1000;
        o->value = i % 500 == 0 ? prev[i] : last[i];
        o->is_final = 1;
    }
    memset(&f, 0, sizeof(f));
    strcpy(f.id, "f1");
    strcpy(f.kind, "isolate");
    strcpy(f.scope, "region west");
    f.apply_sent_ns = A - 50000;
    f.apply_done_ns = A;
    f.heal_sent_ns = H;
    f.heal_done_ns = H + 30000;
    memset(fs, 0, sizeof(*fs));
    hist_faults_append(fs, &f);
    free(last);
    free(prev);
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void config(struct vfy_config *cfg)
{
    vfy_config_init_defaults(cfg);
    cfg->failover.enabled = true;
    cfg->failover.max_ns = 180000000000LL;
    cfg->failback.enabled = true;
    cfg->failback.max_ns = 60000000000LL;
    cfg->failback.writes_required = true;
    cfg->read_only.enabled = true;
    cfg->read_only.allowed.n = 2;
    strcpy(cfg->read_only.allowed.name[0], "get-secret");
    strcpy(cfg->read_only.allowed.name[1], "list-secrets");
    cfg->read_only.grace_ns = 1000000000LL;
    vfy_data_loss_preset(&cfg->data_loss, "bounded", NULL);
    cfg->staleness.enabled = true;
    cfg->staleness.max_versions = 100000;
    /* session guarantees are computed either way; the generated stale reads
     * break them, and the benchmark should end in a passing verdict */
    cfg->availability.enabled = true;
    cfg->availability.nfloors = 1;
    strcpy(cfg->availability.floors[0].cls, "read");
    cfg->availability.floors[0].phase = VFY_PHASE_AFTER;
    cfg->availability.floors[0].min_ratio = 0.99;
}

/* In a child: generate n ops, run all verifiers `runs` times, report. */
static void child(size_t n, int runs, int fd)
{
    struct hist h;
    struct hist_faults fs;
    struct vfy_config cfg;
    struct sample s;
    double t[32];
    int r;

    memset(&s, 0, sizeof(s));
    s.n = n;
    generate(n, &h, &fs);
    config(&cfg);
    s.base_kb = maxrss_kb();
    for (r = 0; r < runs; r++) {
        struct vfy_results res = {0};
        struct fl_err e;
        int64_t t0 = fl_now_ns();

        fl_err_clear(&e);
        if (vfy_run_all(&h, &fs, &cfg, &res, &e) < 0) {
            fprintf(stderr, "vfy_run_all: %s\n", e.msg);
            _exit(3);
        }
        t[r] = (double)(fl_now_ns() - t0) / 1e9;
        s.pass = vfy_results_pass(&res);
        vfy_results_free(&res);
    }
    s.peak_kb = maxrss_kb();
    if (getenv("BENCH_VERBOSE") != NULL) {
        /* where the time goes: each verifier alone (each builds its own context) */
        static int (*const fn[])(const struct hist *, const struct hist_faults *,
                                 const struct vfy_config *, struct vfy_result *,
                                 struct fl_err *) = {
            vfy_failover_check,  vfy_failback_check,  vfy_read_only_check,
            vfy_data_loss_check, vfy_staleness_check, vfy_availability_check,
        };
        size_t v;

        for (v = 0; v < sizeof(fn) / sizeof(fn[0]); v++) {
            struct vfy_result one;
            int64_t t0 = fl_now_ns();

            fn[v](&h, &fs, &cfg, &one, NULL);
            fprintf(stderr, "  %-12s %7.3f s %s\n", one.name, (double)(fl_now_ns() - t0) / 1e9,
                    one.pass ? "pass" : "FAIL");
            if (!one.pass)
                fprintf(stderr, "    %.400s\n", one.detail);
            vfy_result_free(&one);
        }
    }
    qsort(t, (size_t)runs, sizeof(t[0]), dcmp);
    s.median_s = t[runs / 2];
    s.min_s = t[0];
    if (write(fd, &s, sizeof(s)) != (ssize_t)sizeof(s))
        _exit(3);
    hist_free(&h);
    hist_faults_free(&fs);
    _exit(0);
}

static int measure(size_t n, int runs, struct sample *s)
{
    int p[2], st;
    pid_t pid;

    if (pipe(p) < 0)
        return -errno;
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        close(p[0]);
        child(n, runs, p[1]);
    }
    close(p[1]);
    if (read(p[0], s, sizeof(*s)) != (ssize_t)sizeof(*s)) {
        close(p[0]);
        waitpid(pid, &st, 0);
        return -EIO;
    }
    close(p[0]);
    waitpid(pid, &st, 0);
    return 0;
}

/* For scale: reading 1M records back from history.jsonl with jansson. */
static double load_rate(size_t n)
{
    struct hist h, back;
    struct hist_faults fs;
    char path[] = "/tmp/bench-vfy-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    struct fl_err e;
    int64_t t0;
    double s;

    generate(n, &h, &fs);
    hist_write_jsonl(f, &h);
    fclose(f);
    hist_init(&back);
    fl_err_clear(&e);
    t0 = fl_now_ns();
    if (hist_load_jsonl(path, &back, &e) < 0)
        fprintf(stderr, "load: %s\n", e.msg);
    s = (double)(fl_now_ns() - t0) / 1e9;
    unlink(path);
    hist_free(&h);
    hist_free(&back);
    hist_faults_free(&fs);
    return (double)n / s;
}

int main(int argc, char **argv)
{
    size_t max_m = argc > 1 ? (size_t)atoi(argv[1]) : 10, i, ns = 0;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    size_t sizes[] = {1, 2, 5, 10, 20};
    struct sample s[5];
    double lr;

    if (runs < 1 || runs > 31)
        runs = 5;
    printf("all verifiers (failover, failback, read_only, data_loss, staleness, availability), "
           "one core, median of %d runs\n",
           runs);
    printf("%10s %10s %14s %12s %12s %12s %8s\n", "ops", "median_s", "ops/s/core", "hist_MB",
           "verify_MB", "verify_B/op", "verdict");
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]) && sizes[i] <= max_m; i++) {
        struct sample *x = &s[ns];

        if (measure(sizes[i] * 1000000, runs, x) < 0) {
            fprintf(stderr, "run of %zuM failed\n", sizes[i]);
            return 3;
        }
        printf("%10zu %10.3f %14.0f %12.1f %12.1f %12.1f %8s\n", x->n, x->median_s,
               (double)x->n / x->median_s, (double)x->base_kb / 1024.0,
               (double)(x->peak_kb - x->base_kb) / 1024.0,
               (double)(x->peak_kb - x->base_kb) * 1024.0 / (double)x->n,
               x->pass ? "pass" : "fail");
        fflush(stdout);
        ns++;
    }
    if (ns >= 2) {
        struct sample *a = &s[0], *b = &s[ns - 1];
        double ta = a->median_s / (double)a->n, tb = b->median_s / (double)b->n;
        double ma = (double)(a->peak_kb - a->base_kb) / (double)a->n;
        double mb = (double)(b->peak_kb - b->base_kb) / (double)b->n;

        printf("growth %zuM -> %zuM (x%.0f ops): time x%.2f (per op x%.2f), verifier memory "
               "x%.2f (per op x%.2f); per-op factors <= ~1.2 mean linear\n",
               a->n / 1000000, b->n / 1000000, (double)b->n / (double)a->n,
               b->median_s / a->median_s, tb / ta,
               (double)(b->peak_kb - b->base_kb) / (double)(a->peak_kb - a->base_kb), mb / ma);
    }
    lr = load_rate(1000000);
    printf("for scale: hist_load_jsonl reads %.0f records/s; verifying 1M is %.1fx faster than "
           "reading it from history.jsonl\n",
           lr, ns ? ((double)s[0].n / s[0].median_s) / lr : 0.0);
    return 0;
}
