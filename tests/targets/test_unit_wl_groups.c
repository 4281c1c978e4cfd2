/*
 * The workload engine with client groups (issue 11): each group keeps its
 * own rate and routing on the one schedule, client numbers run through the
 * groups in order, every record carries its client's group (and reads back
 * from history.jsonl), and a config whose groups do not add up is refused.
 * An in-memory driver that answers every operation, in the region of the
 * endpoint asked; no network, no root (the namespaces are the e2e tests').
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultline/err.h"
#include "faultline/workload.h"

static bool g_is_write(const char *op)
{
    return strcmp(op, "put") == 0;
}

static bool g_is_delete(const char *op)
{
    (void)op;
    return false;
}

static int g_open(const struct fl_endpoint *eps, size_t n, int64_t timeout_ns, void **conn,
                  struct fl_err *err)
{
    (void)eps, (void)n, (void)timeout_ns, (void)err;
    *conn = malloc(1);
    return *conn ? 0 : -ENOMEM;
}

static void g_close(void *conn)
{
    free(conn);
}

static void g_op(void *conn, size_t ep, const struct fl_op_req *req, struct fl_op_result *res)
{
    (void)conn, (void)ep;
    memset(res, 0, sizeof(*res));
    res->outcome = HIST_OK;
    res->value = req->kind == FL_OP_WRITE ? req->value : 0;
}

static const struct fl_driver_ops g_driver = {
    .name = "groups",
    .open = g_open,
    .op = g_op,
    .close = g_close,
    .is_write = g_is_write,
    .is_delete = g_is_delete,
};

static void base(struct wl_config *c)
{
    wl_config_init(c);
    c->duration_ns = 1000000000LL;
    c->keys = 10;
    assert_int_equal(wl_config_add_mix(c, "get", 1, NULL), 0);
    assert_int_equal(wl_config_add_mix(c, "put", 1, NULL), 0);
    assert_int_equal(wl_config_add_endpoint(c, "west", "mem://w", NULL), 0);
    assert_int_equal(wl_config_add_endpoint(c, "north", "mem://n", NULL), 0);
}

static void group(struct wl_config *c, const char *name, unsigned clients, double rate,
                  enum wl_routing routing, const char *first)
{
    struct wl_group g;

    memset(&g, 0, sizeof(g));
    snprintf(g.name, sizeof(g.name), "%s", name);
    g.clients = clients;
    g.rate = rate;
    g.routing = routing;
    g.netns_fd = -1;
    snprintf(g.regions[0], FL_REGION_MAX, "%s", first);
    snprintf(g.regions[1], FL_REGION_MAX, "%s", strcmp(first, "west") ? "west" : "north");
    g.nregions = 2;
    assert_int_equal(wl_config_add_group(c, &g, NULL), 0);
}

static void groups_should_keep_their_rates_routing_and_names(void **state)
{
    struct wl_config c;
    struct wl_stats s;
    struct hist h;
    struct fl_err err = {0};
    size_t i, n[2] = {0, 0}, wrong_region = 0, ungrouped = 0;
    uint32_t max_client[2] = {0, 0};

    (void)state;
    base(&c);
    group(&c, "west-app", 3, 300, WL_ROUTE_FIXED, "west");
    group(&c, "north-app", 1, 100, WL_ROUTE_PREFERRED, "north");
    assert_int_equal(c.clients, 4);
    assert_true(c.rate == 400);
    hist_init(&h);
    assert_int_equal(wl_run(&c, &g_driver, &h, &s, NULL, NULL, NULL, &err), 0);
    for (i = 0; i < h.n; i++) {
        const struct hist_op *o = &h.ops[i];
        const char *g = hist_client_group(&h, o->client), *reg = h.regions.s[o->region];
        int gi = strcmp(g, "west-app") == 0 ? 0 : strcmp(g, "north-app") == 0 ? 1 : -1;

        if (gi < 0) {
            ungrouped++;
            continue;
        }
        n[gi]++;
        if (o->client > max_client[gi])
            max_client[gi] = o->client;
        wrong_region += strcmp(reg, gi == 0 ? "west" : "north") != 0;
    }
    fprintf(stderr, "west-app %zu ops, north-app %zu ops, achieved %.1f/s\n", n[0], n[1],
            s.achieved_rate);
    assert_int_equal(ungrouped, 0);
    assert_int_equal(wrong_region, 0);
    /* clients 0..2 are west-app, 3 is north-app */
    assert_int_equal(max_client[0], 2);
    assert_int_equal(max_client[1], 3);
    /* each group's own rate over the 1 s run: never more than its schedule (300 and 100
     * slots), and the split is the groups' (slots missed at the very end may lower both) */
    assert_true(n[0] <= 300 && n[1] <= 100);
    assert_int_equal(s.scheduled, 400);
    assert_int_equal(n[0] + n[1] + s.missed, 400);
    assert_true(n[0] >= 270 && n[1] >= 90);
    hist_free(&h);
}

static void groups_should_be_written_and_read_back(void **state)
{
    struct wl_config c;
    struct hist h, back;
    struct fl_err err = {0};
    char path[] = "/tmp/fl-wl-groups-XXXXXX";
    int fd = mkstemp(path);
    FILE *f;
    size_t i;

    (void)state;
    assert_true(fd >= 0);
    base(&c);
    c.duration_ns = 200000000LL;
    group(&c, "a", 1, 50, WL_ROUTE_PREFERRED, "west");
    group(&c, "b", 1, 50, WL_ROUTE_PREFERRED, "north");
    hist_init(&h);
    assert_int_equal(wl_run(&c, &g_driver, &h, NULL, NULL, NULL, NULL, &err), 0);
    f = fdopen(fd, "w");
    assert_int_equal(hist_write_jsonl(f, &h), 0);
    fclose(f);
    hist_init(&back);
    assert_int_equal(hist_load_jsonl(path, &back, &err), 0);
    assert_int_equal(back.n, h.n);
    for (i = 0; i < back.n; i++)
        assert_string_equal(hist_client_group(&back, back.ops[i].client),
                            back.ops[i].client == 0 ? "a" : "b");
    hist_free(&back);
    hist_free(&h);
    unlink(path);
}

static void groups_should_be_checked(void **state)
{
    struct wl_config c;
    struct wl_group g;
    struct fl_err err = {0};

    (void)state;
    base(&c);
    group(&c, "a", 2, 100, WL_ROUTE_PREFERRED, "west");
    c.clients = 3; /* not the groups' sum */
    assert_int_equal(wl_config_check(&c, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "is not the groups' sum"));
    memset(&err, 0, sizeof(err));
    base(&c);
    group(&c, "a", 1, 100, WL_ROUTE_PREFERRED, "south"); /* no endpoint in south */
    assert_int_equal(wl_config_check(&c, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "workload group a: region 'south' has no endpoint"));
    base(&c);
    memset(&g, 0, sizeof(g));
    g.clients = 1;
    g.netns_fd = -1;
    assert_int_equal(wl_config_add_group(&c, &g, &err), -EINVAL); /* no name */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(groups_should_keep_their_rates_routing_and_names),
        cmocka_unit_test(groups_should_be_written_and_read_back),
        cmocka_unit_test(groups_should_be_checked),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
