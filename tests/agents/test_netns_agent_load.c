/*
 * Concurrency: 200 requests (apply, list, renew, revert mixed) from 5 client
 * threads with their own connections at once against one agent. Each thread
 * keeps a model of its own faults, so every answer is checked exactly; all
 * threads also race to apply one shared id with the same spec (exactly one
 * 201, the rest 200). At the end: nothing left in the kernel or the journal.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "agent_fixture.h"
#include "faultline/timeutil.h"
#include "netns.h"
#include "testutil.h"

#define THREADS    5
#define PER_THREAD 40

static struct fx_agent ag;
static char *pre;

struct worker {
    int n;
    unsigned seed;
    int bad;        /* answers that did not match the model */
    int shared_201; /* 201s on the shared id */
    int shared_200;
    char first_bad[256];
    pthread_barrier_t *go;
};

static int group_setup(void **state)
{
    if (!tu_is_root())
        return 0;
    if (tn_create("l") < 0)
        return -1;
    fx_settle("l");
    pre = tn_snapshot("l");
    if (pre == NULL || fx_init(&ag, "l", "127.0.0.1:7320") < 0)
        return -1;
    return fx_start(&ag, (const char *const[]){"--threads", "4", NULL});
}

static int group_teardown(void **state)
{
    fx_cleanup(&ag);
    tn_cleanup();
    free(pre);
    return 0;
}

static void note(struct worker *w, const char *what, long want, long got)
{
    if (w->bad++ == 0)
        snprintf(w->first_bad, sizeof(w->first_bad), "client %d: %s: want %ld got %ld", w->n, what,
                 want, got);
}

static void *client(void *arg)
{
    struct worker *w = arg;
    CURL *h = curl_easy_init();
    bool on[4] = {false};
    char id[32], path[96], what[128];
    long st, want;
    int i, op, k;

    pthread_barrier_wait(w->go);
    st = fx_http(&ag, h, "POST", "/v1/faults", fx_apply_body("shared", fx_partition("drop"), 60000),
                 NULL, false, NULL);
    if (st == 201)
        w->shared_201++;
    else if (st == 200)
        w->shared_200++;
    else
        note(w, "shared apply", 200, st);
    for (i = 1; i < PER_THREAD; i++) {
        op = rand_r(&w->seed) % 4;
        k = rand_r(&w->seed) % 4;
        snprintf(id, sizeof(id), "c%d-%d", w->n, k);
        switch (op) {
        case 0:
            want = on[k] ? 200 : 201;
            st = fx_http(&ag, h, "POST", "/v1/faults",
                         fx_apply_body(id, fx_partition(w->n % 2 ? "drop" : "reject"), 60000), NULL,
                         false, NULL);
            on[k] = true;
            snprintf(what, sizeof(what), "apply %s", id);
            break;
        case 1:
            want = 200;
            st = fx_http(&ag, h, "GET", "/v1/faults", NULL, NULL, false, NULL);
            snprintf(what, sizeof(what), "list");
            break;
        case 2:
            snprintf(path, sizeof(path), "/v1/faults/%s/renew", id);
            want = on[k] ? 200 : 404;
            st = fx_http(&ag, h, "POST", path, "{\"ttl_ms\":60000}", NULL, false, NULL);
            snprintf(what, sizeof(what), "renew %s", id);
            break;
        default:
            snprintf(path, sizeof(path), "/v1/faults/%s", id);
            want = on[k] ? 200 : 404;
            st = fx_http(&ag, h, "DELETE", path, NULL, NULL, false, NULL);
            on[k] = false;
            snprintf(what, sizeof(what), "revert %s", id);
            break;
        }
        if (st != want)
            note(w, what, want, st);
    }
    curl_easy_cleanup(h);
    return NULL;
}

static void concurrent_requests_should_all_be_answered_correctly(void **state)
{
    struct worker w[THREADS];
    pthread_barrier_t go;
    pthread_t t[THREADS];
    char *now, *metrics = NULL;
    int i, s201 = 0, s200 = 0;
    int64_t t0;

    TU_REQUIRE_ROOT();
    pthread_barrier_init(&go, NULL, THREADS);
    for (i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].n = i;
        w[i].seed = (unsigned)(i * 7919 + 1);
        w[i].go = &go;
    }
    t0 = fl_now_ns();
    for (i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, client, &w[i]), 0);
    for (i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    fprintf(stderr, "%d requests from %d clients in %.1f ms\n", THREADS * PER_THREAD, THREADS,
            (double)(fl_now_ns() - t0) / 1e6);
    pthread_barrier_destroy(&go);
    for (i = 0; i < THREADS; i++) {
        if (w[i].bad)
            fail_msg("%d wrong answers; first: %s", w[i].bad, w[i].first_bad);
        s201 += w[i].shared_201;
        s200 += w[i].shared_200;
    }
    assert_int_equal(s201, 1);
    assert_int_equal(s200, THREADS - 1);
    assert_int_equal(fx_http(&ag, NULL, "GET", "/metrics", NULL, "", false, &metrics), 200);
    assert_null(strstr(metrics, "code=\"500\""));
    free(metrics);
    assert_int_equal(fx_http(&ag, NULL, "POST", "/v1/revert-all", NULL, NULL, false, NULL), 200);
    now = tn_snapshot("l");
    assert_string_equal(now, pre);
    free(now);
    assert_int_equal(fx_stop(&ag, SIGTERM), 0);
    now = tn_snapshot("l");
    assert_string_equal(now, pre);
    free(now);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(concurrent_requests_should_all_be_answered_correctly),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
