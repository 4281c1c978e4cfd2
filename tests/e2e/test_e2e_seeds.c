/*
 * The seeds' promises, measured (experiments/seeds/, issue 15), end to end in
 * the lab (needs root). One source, built as three programs (E2E_GROUP):
 *   1 one cell per promise kind (zone failure with AZ, read-region routing,
 *     bounded staleness RPO, manual failover refused, Key Vault read-only
 *     failover) in one `faultline run`: exit 0, every cell kept, and
 *     promises.md / index.html lay the documents' tables out;
 *   2 must fail: the same kinds with a refstore bug switch each (zone
 *     quorum ignored, an offline region that keeps serving, bounded staleness
 *     ignored, a manual failover that succeeds in an outage): exactly the
 *     matching cells broken, the experiments' other cells kept, exit 1.
 *     Variants are made from the shipped files at test time;
 *   3 the one command over every file of experiments/seeds/ (label seeds,
 *     left out of CI: about ten minutes): exit 0, every cell kept, in well
 *     under 15 minutes.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2e_util.h"
#include "report_html.h"
#include "testutil.h"

#ifndef E2E_GROUP
#define E2E_GROUP 1
#endif

#define MAX_FILES 40

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* `faultline run -q --out DIR files...`; returns the exit code, DIR in *dir (caller frees). */
static int run_files(const char *tag, char **files, size_t n, int timeout_ms, char **dir,
                     double *secs)
{
    const char *args[MAX_FILES + 6];
    char log[1024];
    size_t i, k = 0;
    double t0 = now_s();
    int rc;

    *dir = e2e_tmpdir(tag);
    args[k++] = "run";
    args[k++] = "-q";
    args[k++] = "--out";
    args[k++] = *dir;
    for (i = 0; i < n && i < MAX_FILES; i++)
        args[k++] = files[i];
    args[k] = NULL;
    snprintf(log, sizeof(log), "%s.log", *dir);
    rc = e2e_run(log, timeout_ms, args);
    *secs = now_s() - t0;
    printf("NOTE %s: %zu experiments in %.1f s, exit %d\n", tag, n, *secs, rc);
    if (rc > 1)
        e2e_print_log(log);
    tu_sh("rm -f '%s'", log);
    return rc;
}

static json_t *tables(const char *dir)
{
    char p[1200];
    json_t *summary, *docs;

    snprintf(p, sizeof(p), "%s/summary.json", dir);
    summary = e2e_json_load(p);
    assert_non_null(summary);
    docs = report_promise_tables(summary);
    json_decref(summary);
    assert_non_null(docs);
    return docs;
}

/* Every cell's status, printed; the number of cells with status st. */
static size_t count_cells(const json_t *docs, const char *st)
{
    const json_t *d, *c;
    const char *key;
    size_t i, n = 0;

    json_array_foreach(docs, i, d)
    {
        json_object_foreach((json_t *)json_object_get(d, "cells"), key, c)
        {
            const char *s = json_string_value(json_object_get(c, "status"));

            if (strcmp(s, st) == 0)
                n++;
        }
    }
    return n;
}

static void print_cells(const json_t *docs)
{
    const json_t *d, *c, *e;
    const char *key;
    size_t i, j;

    json_array_foreach(docs, i, d)
    {
        json_object_foreach((json_t *)json_object_get(d, "cells"), key, c)
        {
            printf("CELL %s | %.*s | %s | %s\n", json_string_value(json_object_get(d, "doc")),
                   (int)strcspn(key, "\n"), key, key + strcspn(key, "\n") + 1,
                   json_string_value(json_object_get(c, "status")));
            json_array_foreach(json_object_get(c, "experiments"), j, e)
                printf("     %s: %s\n", json_string_value(json_object_get(e, "experiment")),
                       json_string_value(json_object_get(e, "measured")));
        }
    }
}

static const char *cell(const json_t *docs, const char *doc, const char *row, const char *col)
{
    const json_t *d;
    char key[1100];
    size_t i;

    snprintf(key, sizeof(key), "%s\n%s", row, col);
    json_array_foreach(docs, i, d)
    {
        if (strcmp(json_string_value(json_object_get(d, "doc")), doc) == 0)
            return json_string_value(
                json_object_get(json_object_get(json_object_get(d, "cells"), key), "status"));
    }
    return NULL;
}

static bool file_has(const char *dir, const char *name, const char *text)
{
    char p[1200], *buf = NULL;
    size_t len = 0;
    FILE *f;
    bool r;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    f = fopen(p, "re");
    if (f == NULL)
        return false;
    r = getdelim(&buf, &len, '\0', f) > 0 && strstr(buf, text) != NULL;
    free(buf);
    fclose(f);
    return r;
}

static const char *const HA __attribute__((unused)) = "cosmos-db-high-availability";
static const char *const RPO __attribute__((unused)) = "cosmos-db-rpo-by-consistency";
static const char *const OUT __attribute__((unused)) = "cosmos-db-region-outages";
static const char *const KV __attribute__((unused)) = "key-vault-availability";

/* The short subset: one file per promise kind. */
static const char *const subset[] __attribute__((unused)) = {
    "ha-zone-single-region-az",       "outage-read-region",           "rpo-bounded",
    "outage-manual-failover-refused", "key-vault-read-only-failover",
};

/* A copy of experiments/seeds/<name>.yaml with bugs: [bug] in its target. */
static __attribute__((unused)) char *variant(const char *dir, const char *name, const char *bug)
{
    char src[1200], *out;

    snprintf(src, sizeof(src), "%s/experiments/seeds/%s.yaml", e2e_src(), name);
    if (asprintf(&out, "%s/%s-%s.yaml", dir, name, bug) < 0)
        fail();
    if (bug == NULL)
        tu_sh("cp '%s' '%s'", src, out);
    else
        tu_sh("sed 's/^  preset: cosmos$/  preset: cosmos\\n  bugs: [%s]/' '%s' > '%s'", bug, src,
              out);
    assert_true(file_has(dir, strrchr(out, '/') + 1, "preset"));
    return out;
}

#if E2E_GROUP == 1
static void seeds_subset_should_keep_one_cell_of_each_promise_kind(void **state)
{
    char *files[5], *dir;
    json_t *docs;
    double secs;
    size_t i;
    int rc;

    (void)state;
    TU_REQUIRE_ROOT();
    for (i = 0; i < 5; i++)
        if (asprintf(&files[i], "%s/experiments/seeds/%s.yaml", e2e_src(), subset[i]) < 0)
            fail();
    rc = run_files("seeds-subset", files, 5, 300000, &dir, &secs);
    docs = tables(dir);
    print_cells(docs);
    assert_int_equal(rc, 0);
    assert_int_equal(count_cells(docs, "broken"), 0);
    assert_int_equal(count_cells(docs, "inconclusive"), 0);
    assert_string_equal(cell(docs, HA, "zone failure: data loss", "single region with AZ"), "kept");
    assert_string_equal(cell(docs, OUT, "read region outage", "one write region"), "kept");
    assert_string_equal(
        cell(docs, RPO, "write region lost for good, automatic failover", "bounded"), "kept");
    assert_string_equal(cell(docs, OUT, "manual failover during an outage", "one write region"),
                        "kept");
    assert_string_equal(cell(docs, KV, "write operations", "during failover"), "kept");
    assert_true(file_has(dir, "promises.md", "## cosmos-db-high-availability\n\n| |"));
    assert_true(file_has(dir, "promises.md", "## key-vault-availability"));
    assert_true(file_has(dir, "index.html", "<h2 id=\"promises\">Promises</h2>"));
    assert_true(file_has(dir, "outage-read-region/report.json", "\"promise\""));
    json_decref(docs);
    tu_sh("rm -rf '%s'", dir);
    free(dir);
    for (i = 0; i < 5; i++)
        free(files[i]);
}
#endif

#if E2E_GROUP == 2
static void seeds_bug_switches_should_break_exactly_their_cells(void **state)
{
    char *files[4], *dir, *work = e2e_tmpdir("seeds-bug-files");
    json_t *docs;
    double secs;
    size_t i;
    int rc;

    (void)state;
    TU_REQUIRE_ROOT();
    files[0] = variant(work, "ha-zone-single-region-az", "zone-quorum-ignored");
    files[1] = variant(work, "outage-read-region", "offline-region-serves");
    files[2] = variant(work, "rpo-bounded", "bounded-staleness-ignored");
    files[3] = variant(work, "outage-manual-failover-refused", "manual-failover-in-outage");
    rc = run_files("seeds-bugs", files, 4, 300000, &dir, &secs);
    docs = tables(dir);
    print_cells(docs);
    assert_int_equal(rc, 1);
    assert_string_equal(cell(docs, HA, "zone failure: data loss", "single region with AZ"),
                        "broken");
    assert_string_equal(cell(docs, OUT, "read region outage", "one write region"), "broken");
    assert_string_equal(
        cell(docs, RPO, "write region lost for good, automatic failover", "bounded"), "broken");
    assert_string_equal(cell(docs, OUT, "manual failover during an outage", "one write region"),
                        "broken");
    /* the experiments' other cells stay kept: each switch breaks its own promise only */
    assert_string_equal(cell(docs, HA, "zone failure: availability", "single region with AZ"),
                        "kept");
    assert_string_equal(cell(docs, OUT, "read region outage (availability)", "one write region"),
                        "kept");
    assert_int_equal(count_cells(docs, "broken"), 4);
    json_decref(docs);
    tu_sh("rm -rf '%s' '%s'", dir, work);
    free(dir);
    free(work);
    for (i = 0; i < 4; i++)
        free(files[i]);
}
#endif

#if E2E_GROUP == 3
static void seeds_one_command_should_keep_every_cell_in_under_15_minutes(void **state)
{
    char pattern[1200], *dir;
    glob_t g;
    json_t *docs;
    double secs;
    int rc;

    (void)state;
    TU_REQUIRE_ROOT();
    snprintf(pattern, sizeof(pattern), "%s/experiments/seeds/*.yaml", e2e_src());
    assert_int_equal(glob(pattern, 0, NULL, &g), 0);
    assert_true(g.gl_pathc >= 15 && g.gl_pathc <= MAX_FILES);
    rc = run_files("seeds-all", g.gl_pathv, g.gl_pathc, 1200000, &dir, &secs);
    docs = tables(dir);
    print_cells(docs);
    assert_int_equal(rc, 0);
    assert_int_equal(count_cells(docs, "broken") + count_cells(docs, "inconclusive"), 0);
    assert_true(secs < 15 * 60);
    /* the Cosmos table: every configuration column against both failures */
    assert_non_null(cell(docs, HA, "zone failure: data loss", "single region without AZ"));
    assert_non_null(cell(docs, HA, "region failure: availability",
                         "multi-region, multiple write regions, with or without AZ"));
    json_decref(docs);
    globfree(&g);
    tu_sh("rm -rf '%s'", dir);
    free(dir);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
#if E2E_GROUP == 1
        cmocka_unit_test(seeds_subset_should_keep_one_cell_of_each_promise_kind),
#elif E2E_GROUP == 2
        cmocka_unit_test(seeds_bug_switches_should_break_exactly_their_cells),
#else
        cmocka_unit_test(seeds_one_command_should_keep_every_cell_in_under_15_minutes),
#endif
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
