/*
 * The reference service keeps the promise it models, end to end in the lab
 * (needs root). One source, built as two programs (E2E_GROUP):
 *   1 the Cosmos write region lost until the end, with automatic failover
 *     and failback (tests/e2e/experiments/cosmos-write-region-lost.yaml),
 *     run after run: data_loss passes and nothing acknowledged after the
 *     cut began is lost (the returning region catches up before the write
 *     role moves back; the race that used to decide it is gone);
 *   2 asynchronous replication with the set model
 *     (tests/e2e/experiments/cosmos-lag-set-loss.yaml): data_loss with
 *     max_updates 0 fails, and what it found lost lies before the cut, no
 *     further back than the replication lag implies;
 *   3 compare-and-set at the write region with sync replication, the read
 *     region cut off (tests/e2e/experiments/cosmos-cas-read-region-cut.yaml):
 *     linearizable passes, and the write region reclaims the role the cut-off
 *     region took without fencing anything.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_util.h"
#include "testutil.h"

#ifndef E2E_GROUP
#define E2E_GROUP 1
#endif

/* Run the experiment rel into a fresh folder; returns the report (caller frees) and exit code. */
static json_t *run_report(const char *rel, const char *tag, int *rc)
{
    char *dir = e2e_tmpdir(tag), log[1024], file[1024];
    const char *args[] = {"run", "-q", "--out", dir, file, NULL};
    json_t *r;

    snprintf(file, sizeof(file), "%s/%s", e2e_src(), rel);
    snprintf(log, sizeof(log), "%s.log", dir);
    *rc = e2e_run(log, 150000, args);
    r = e2e_check_outputs(dir, dir);
    if (r == NULL || *rc > 1)
        e2e_print_log(log);
    tu_sh("rm -rf '%s' '%s'", dir, log);
    free(dir);
    return r;
}

static const json_t *verifier(const json_t *r, const char *name)
{
    const json_t *v;
    size_t i;

    json_array_foreach(json_object_get(r, "verifiers"), i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
            return v;
    }
    return NULL;
}

/*
 * Lost writes the service acknowledged once the cut was certainly in effect
 * (data_loss's after side; a write acknowledged while the cut was still
 * being applied counts as before). A correct failback loses none.
 */
static __attribute__((unused)) long long lost_after_the_cut(const json_t *r, const json_t *dl)
{
    const json_t *g = json_array_get(json_object_get(json_object_get(dl, "measured"), "faults"), 0);
    long long after = (long long)json_integer_value(json_object_get(g, "lost_after"));

    (void)r;
    if (after > 0)
        fprintf(stderr, "%lld lost after the cut, up to %.2f ms after its start\n", after,
                json_number_value(json_object_get(g, "window_after_ms")));
    return after;
}

static __attribute__((unused)) long long measured(const json_t *v, const char *field)
{
    const json_t *x = json_object_get(json_object_get(v, "measured"), field);

    if (!json_is_integer(x))
        fail_msg("data_loss: measured.%s missing", field);
    return (long long)json_integer_value(x);
}

#if E2E_GROUP == 1
#define RUNS 3

/*
 * The service's own view after the settle, before the final reads: the
 * write role is back at west everywhere, and north (the write region during
 * the outage) fenced nothing into its conflict feed.
 */
static void failback_should_be_done_before_final_reads(const json_t *r)
{
    const json_t *hosts = json_object_get(json_object_get(json_object_get(r, "target"), "status"),
                                          "hosts"),
                 *h;
    const char *name;

    assert_true(json_is_true(json_object_get(json_object_get(r, "target"), "settled")));
    assert_true(json_object_size(hosts) == 4);
    json_object_foreach((json_t *)hosts, name, h)
    {
        const char *wr = json_string_value(json_object_get(h, "write_region"));

        if (wr == NULL || strcmp(wr, "west") != 0)
            fail_msg("%s: write region %s after the settle, not west", name, wr ? wr : "?");
        if (strncmp(name, "west", 4) != 0 && json_integer_value(json_object_get(h, "conflicts")))
            fail_msg("%s fenced %" JSON_INTEGER_FORMAT
                     " acknowledged writes into its conflict feed",
                     name, json_integer_value(json_object_get(h, "conflicts")));
    }
}

static void lost_write_region_should_lose_nothing_after_the_cut(void **state)
{
    const json_t *dl;
    json_t *r;
    int rc, i;

    (void)state;
    TU_REQUIRE_ROOT();
    for (i = 0; i < RUNS; i++) {
        r = run_report("tests/e2e/experiments/cosmos-write-region-lost.yaml", "rs-wrl", &rc);
        assert_non_null(r);
        dl = verifier(r, "data_loss");
        assert_non_null(dl);
        fprintf(stderr, "run %d: exit %d, verdict %s; data_loss: %s\n", i + 1, rc,
                json_string_value(json_object_get(r, "verdict")),
                json_string_value(json_object_get(dl, "detail")));
        assert_int_equal(lost_after_the_cut(r, dl), 0);
        failback_should_be_done_before_final_reads(r);
        assert_true(json_is_true(json_object_get(dl, "pass")));
        assert_int_equal(rc, 0);
        assert_string_equal(json_string_value(json_object_get(r, "verdict")), "pass");
        json_decref(r);
    }
}
#endif

#if E2E_GROUP == 2
static void lag_should_lose_set_elements_before_the_cut(void **state)
{
    const json_t *dl, *f;
    json_t *r;
    long long before, window;
    int rc;

    (void)state;
    TU_REQUIRE_ROOT();
    r = run_report("tests/e2e/experiments/cosmos-lag-set-loss.yaml", "rs-lag", &rc);
    assert_non_null(r);
    dl = verifier(r, "data_loss");
    assert_non_null(dl);
    fprintf(stderr, "exit %d, verdict %s; data_loss: %s\n", rc,
            json_string_value(json_object_get(r, "verdict")),
            json_string_value(json_object_get(dl, "detail")));
    assert_int_equal(rc, 1);
    assert_string_equal(json_string_value(json_object_get(r, "verdict")), "fail");
    assert_false(json_is_true(json_object_get(dl, "pass")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(dl, "measured"), "model")), "set");
    before = measured(dl, "lost_before");
    assert_true(before > 0);
    assert_int_equal(lost_after_the_cut(r, dl), 0);
    assert_true(measured(dl, "lost_updates") >= before);
    /*
     * How far before the cut the loss reaches: the replication lag (400 ms),
     * plus one batch in flight and the time the cut takes to apply.
     */
    f = json_array_get(json_object_get(json_object_get(dl, "measured"), "faults"), 0);
    assert_non_null(f);
    window = (long long)json_number_value(json_object_get(f, "window_ms"));
    fprintf(stderr, "lost before the cut: %lld elements, up to %lld ms before it\n", before,
            window);
    assert_true(window > 0);
    assert_true(window < 1500);
    json_decref(r);
}
#endif

#if E2E_GROUP == 3
static void cas_should_stay_linearizable_when_the_read_region_is_cut(void **state)
{
    const json_t *lin, *hosts, *h, *ev;
    const char *name;
    json_t *r;
    bool reclaimed = false;
    size_t i;
    int rc;

    (void)state;
    TU_REQUIRE_ROOT();
    r = run_report("tests/e2e/experiments/cosmos-cas-read-region-cut.yaml", "rs-cas", &rc);
    assert_non_null(r);
    lin = verifier(r, "linearizable");
    assert_non_null(lin);
    fprintf(stderr, "exit %d, verdict %s; linearizable: %s\n", rc,
            json_string_value(json_object_get(r, "verdict")),
            json_string_value(json_object_get(lin, "detail")));
    assert_true(json_is_true(json_object_get(lin, "pass")));
    assert_int_equal(rc, 0);
    hosts = json_object_get(json_object_get(json_object_get(r, "target"), "status"), "hosts");
    json_object_foreach((json_t *)hosts, name, h)
    {
        if (json_integer_value(json_object_get(h, "conflicts")))
            fail_msg("%s fenced %" JSON_INTEGER_FORMAT " writes into its conflict feed", name,
                     json_integer_value(json_object_get(h, "conflicts")));
        json_array_foreach(json_object_get(h, "events"), i, ev)
        {
            if (strcmp(json_string_value(json_object_get(ev, "event")), "reclaim") == 0)
                reclaimed = true;
        }
    }
    assert_true(reclaimed);
    json_decref(r);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
#if E2E_GROUP == 1
        cmocka_unit_test(lost_write_region_should_lose_nothing_after_the_cut),
#elif E2E_GROUP == 2
        cmocka_unit_test(lag_should_lose_set_elements_before_the_cut),
#else
        cmocka_unit_test(cas_should_stay_linearizable_when_the_read_region_is_cut),
#endif
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
