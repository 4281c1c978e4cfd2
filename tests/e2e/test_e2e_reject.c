/*
 * `mode: reject` between regions, end to end (needs root). The run loop puts
 * a partition on both sides; each side's reject rules must let the other
 * side's answers through, or a reject behaves as a drop and every
 * cross-region call times out. Clients are pinned to north, whose replica
 * forwards every operation to the write region west
 * (tests/e2e/experiments/reject-partition.yaml). While west and north are
 * partitioned with reject, the forward is refused at once: the history must
 * show fast `fail` outcomes in the fault window, not `info` timeouts.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_util.h"
#include "testutil.h"

#define FAST_NS (100 * 1000000LL) /* a refused call fails within 100 ms */

struct window_count {
    size_t total, fail, info, ok, slow_fail;
    int64_t worst_fail_ns;
};

/* The first fault's apply_done_ns and heal_sent_ns from faults.jsonl. */
static void fault_window(const char *dir, int64_t *from, int64_t *to)
{
    char path[1024], line[4096];
    json_t *o;
    FILE *f;

    snprintf(path, sizeof(path), "%s/faults.jsonl", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    o = json_loads(line, 0, NULL);
    assert_non_null(o);
    *from = json_integer_value(json_object_get(o, "apply_done_ns"));
    *to = json_integer_value(json_object_get(o, "heal_sent_ns"));
    json_decref(o);
    assert_true(*from > 0 && *to > *from);
}

/* Count the operations invoked and completed inside [from, to). */
static void count_window(const char *dir, int64_t from, int64_t to, struct window_count *c)
{
    char path[1024], *line = NULL;
    size_t cap = 0;
    FILE *f;

    memset(c, 0, sizeof(*c));
    snprintf(path, sizeof(path), "%s/history.jsonl", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        int64_t inv, comp;
        const char *out;

        assert_non_null(o);
        inv = json_integer_value(json_object_get(o, "invoke_ns"));
        comp = json_integer_value(json_object_get(o, "complete_ns"));
        out = json_string_value(json_object_get(o, "outcome"));
        if (out != NULL && inv >= from && comp > 0 && comp < to) {
            c->total++;
            if (strcmp(out, "fail") == 0) {
                c->fail++;
                if (comp - inv >= FAST_NS)
                    c->slow_fail++;
                if (comp - inv > c->worst_fail_ns)
                    c->worst_fail_ns = comp - inv;
            } else if (strcmp(out, "info") == 0) {
                c->info++;
            } else if (strcmp(out, "ok") == 0) {
                c->ok++;
            }
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
}

static void reject_partition_should_record_fast_fails_between_regions(void **state)
{
    char *dir, file[1024], log[1024];
    const char *args[] = {"run", "--out", NULL, file, NULL};
    struct window_count c;
    int64_t from, to;
    json_t *r;
    int rc;

    (void)state;
    TU_REQUIRE_ROOT();
    dir = e2e_tmpdir("reject");
    args[2] = dir;
    snprintf(file, sizeof(file), "%s/tests/e2e/experiments/reject-partition.yaml", e2e_src());
    snprintf(log, sizeof(log), "%s.log", dir);
    rc = e2e_run(log, 90000, args);
    if (rc != 0)
        e2e_print_log(log);
    assert_int_equal(rc, 0);
    r = e2e_check_outputs(dir, dir);
    json_decref(r);
    fault_window(dir, &from, &to);
    count_window(dir, from, to, &c);
    fprintf(stderr,
            "reject window %.1f s: %zu ops, %zu fail (%zu slower than 100 ms, worst %.1f ms), "
            "%zu info, %zu ok\n",
            (double)(to - from) / 1e9, c.total, c.fail, c.slow_fail, (double)c.worst_fail_ns / 1e6,
            c.info, c.ok);
    /* 100 ops/s for 4 s: hundreds of operations, each one a cross-region forward. */
    assert_true(c.total >= 100);
    /* Refused at once: almost all fail, none waited for a timeout. */
    if (c.fail * 10 < c.total * 9)
        fail_msg("only %zu of %zu operations in the window failed fast; a reject that "
                 "behaves as drop makes them info timeouts (%zu info)",
                 c.fail, c.total, c.info);
    if (c.info * 20 > c.total)
        fail_msg("%zu of %zu operations in the window are info (timeouts)", c.info, c.total);
    if (c.slow_fail > 0)
        fail_msg("%zu fails took 100 ms or more (worst %.1f ms)", c.slow_fail,
                 (double)c.worst_fail_ns / 1e6);
    tu_sh("rm -rf '%s' '%s'", dir, log);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reject_partition_should_record_fast_fails_between_regions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
