/*
 * The real-service tests' lab (see test_svc_lab.h): namespaces, a bridge,
 * a client namespace, and region isolation through the injector library.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultline/cidr.h"
#include "faultline/err.h"
#include "faultline/inject.h"
#include "faultline/timeutil.h"
#include "netns.h"
#include "test_svc_lab.h"
#include "testutil.h"

struct svl_host svl_hosts[SVL_MAX];
size_t svl_n;

static struct fl_target_host thosts[SVL_MAX];
static struct fl_target_env env;
static char run_dir[128], state_dir[128];
static struct inj_ctx *ctx[SVL_MAX];
static int entered;

int svl_up(const char *const *regions, size_t n)
{
    size_t i;

    if (n > SVL_MAX)
        return -1;
    snprintf(run_dir, sizeof(run_dir), "/tmp/fl-t%d-svc", (int)getpid());
    snprintf(state_dir, sizeof(state_dir), "/tmp/fl-t%d-svc-inj", (int)getpid());
    if (tn_create("sw") < 0 || tn_exec("sw", "ip link add br0 type bridge && ip link set br0 up"))
        return -1;
    if (tn_create("cl") < 0 || tn_veth("cl", "eth0", SVL_CUT_CLIENT "/16", "sw", "vcl", NULL) < 0 ||
        tn_exec("sw", "ip link set vcl master br0") ||
        tn_exec("cl", "ip addr add " SVL_NEAR_CLIENT "/16 dev eth0"))
        return -1;
    for (i = 0; i < n; i++) {
        struct svl_host *h = &svl_hosts[i];
        char cidr[40], peer[24];

        snprintf(h->shortname, sizeof(h->shortname), "h%zu", i);
        snprintf(h->name, sizeof(h->name), "%s-z1-h1", regions[i]);
        snprintf(h->region, sizeof(h->region), "%s", regions[i]);
        snprintf(h->zone, sizeof(h->zone), "z1");
        snprintf(h->ns, sizeof(h->ns), "%s", tn_name(h->shortname));
        snprintf(h->addr, sizeof(h->addr), "198.18.%zu.33", i + 1);
        snprintf(cidr, sizeof(cidr), "%s/16", h->addr);
        snprintf(peer, sizeof(peer), "v%s", h->shortname);
        if (tn_create(h->shortname) < 0 ||
            tn_veth(h->shortname, "eth0", cidr, "sw", peer, NULL) < 0 ||
            tn_exec("sw", "ip link set %s master br0", peer))
            return -1;
        thosts[i] = (struct fl_target_host){.name = h->name,
                                            .region = h->region,
                                            .zone = h->zone,
                                            .netns = h->ns,
                                            .data_addr = h->addr};
    }
    svl_n = n;
    tu_sh("mkdir -p %s", run_dir);
    if (tn_enter("cl") < 0)
        return -1;
    entered = 1;
    return 0;
}

static void close_all(int sweep)
{
    size_t i;

    for (i = 0; i < svl_n; i++) {
        if (ctx[i] && sweep)
            inj_sweep(ctx[i], NULL);
        inj_close(ctx[i]);
        ctx[i] = NULL;
    }
}

void svl_down(void)
{
    close_all(1);
    if (entered)
        tn_leave();
    entered = 0;
    tn_cleanup();
    if (run_dir[0] && getenv("FAULTLINE_KEEP_LOGS") == NULL)
        tu_sh("rm -rf %s", run_dir);
    if (state_dir[0])
        tu_sh("rm -rf %s", state_dir);
}

const struct fl_target_env *svl_env(const json_t *config, const char *primary)
{
    env = (struct fl_target_env){.hosts = thosts,
                                 .n_hosts = svl_n,
                                 .primary_region = primary,
                                 .config = config,
                                 .run_dir = run_dir,
                                 .ready_timeout_ns = 60000000000LL};
    return &env;
}

int64_t svl_isolate(const char *addr)
{
    struct fl_cidr ex;
    struct inj_config cfg = {0};
    struct inj_fault *f = NULL;
    struct fl_err e;
    char spec[256], dir[192];
    int64_t t;
    size_t i;

    fl_err_clear(&e);
    fl_cidr_parse(SVL_NEAR_CLIENT "/32", &ex, NULL);
    cfg.exempt = &ex;
    cfg.n_exempt = 1;
    snprintf(spec, sizeof(spec), "{\"kind\":\"isolate\",\"mode\":\"drop\",\"cidrs\":[\"%s/32\"]}",
             addr);
    if (inj_fault_parse(spec, strlen(spec), &f, &e) < 0)
        fail_msg("parse: %s", e.msg);
    for (i = 0; i < svl_n; i++) {
        if (ctx[i])
            continue;
        snprintf(dir, sizeof(dir), "%s/%s", state_dir, svl_hosts[i].shortname);
        cfg.state_dir = dir;
        if (tn_enter(svl_hosts[i].shortname) < 0)
            fail_msg("cannot enter %s", svl_hosts[i].ns);
        if (inj_open(&cfg, &ctx[i], &e) < 0) {
            tn_enter("cl");
            fail_msg("inj_open in %s: %s", svl_hosts[i].ns, e.msg);
        }
        tn_enter("cl");
    }
    t = fl_now_ns();
    for (i = 0; i < svl_n; i++)
        if (inj_apply(ctx[i], "svc-isolate", f, &e) < 0)
            fail_msg("apply in %s: %s", svl_hosts[i].ns, e.msg);
    inj_fault_free(f);
    return t;
}

int64_t svl_heal(void)
{
    struct fl_err e;
    int64_t t = fl_now_ns();
    size_t i;

    fl_err_clear(&e);
    for (i = 0; i < svl_n; i++)
        if (ctx[i] && inj_revert(ctx[i], "svc-isolate", &e) < 0)
            fail_msg("revert in %s: %s", svl_hosts[i].ns, e.msg);
    return t;
}

void svl_reset(void)
{
    size_t i;

    for (i = 0; i < svl_n; i++)
        if (ctx[i])
            inj_sweep(ctx[i], NULL);
}

int svl_find_region(const char *region)
{
    size_t i;

    for (i = 0; region && i < svl_n; i++)
        if (strcmp(svl_hosts[i].region, region) == 0)
            return (int)i;
    return -1;
}

int svl_find_name(const char *name)
{
    size_t i;

    for (i = 0; name && i < svl_n; i++)
        if (strcmp(svl_hosts[i].name, name) == 0)
            return (int)i;
    return -1;
}

const struct fl_target_ops *svl_cur_ops;
void *svl_cur_state;

int svl_group_setup(const char *bin, void **state)
{
    static const char *const regions[] = {"west", "north", "east"};

    (void)state;
    if (!tu_is_root() || access(bin, X_OK) != 0)
        return 0;
    if (svl_up(regions, 3) < 0) {
        fprintf(stderr, "setup: cannot build the lab\n");
        svl_down();
        return -1;
    }
    return 0;
}

int svl_group_teardown(void **state)
{
    (void)state;
    svl_down();
    return 0;
}

int svl_test_teardown(void **state)
{
    (void)state;
    svl_reset();
    if (svl_cur_ops && svl_cur_state)
        svl_cur_ops->stop(svl_cur_state);
    svl_cur_state = NULL;
    return 0;
}

void svl_endpoint(const struct fl_target_endpoint *eps, size_t n, const char *region, int near,
                  struct fl_endpoint *out)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(eps[i].region, region) == 0) {
            snprintf(out->region, sizeof(out->region), "%s", region);
            if (snprintf(out->url, sizeof(out->url), "%.*s%s", (int)sizeof(out->url) - 32,
                         eps[i].url,
                         near ? "?source=" SVL_NEAR_CLIENT : "") >= (int)sizeof(out->url))
                fail_msg("endpoint URL too long");
            return;
        }
    fail_msg("no endpoint for region %s", region);
}

void svl_op(const struct fl_driver_ops *d, void *conn, const char *op, const char *key,
            uint64_t value, struct fl_op_result *res)
{
    struct fl_op_req q = {.op = op, .key = key, .kind = fl_driver_kind(d, op), .value = value};

    d->op(conn, 0, &q, res);
}

void svl_cas(const struct fl_driver_ops *d, void *conn, const char *key, uint64_t expected,
             uint64_t value, struct fl_op_result *res)
{
    struct fl_op_req q = {
        .op = "cas", .key = key, .kind = FL_OP_CAS, .value = value, .expected = expected};

    d->op(conn, 0, &q, res);
}

void svl_set_op(const struct fl_driver_ops *d, void *conn, const char *op, const char *key,
                uint64_t value, struct fl_op_result *res)
{
    struct fl_op_req q = {
        .op = op, .key = key, .kind = fl_driver_kind(d, op), .set_model = true, .value = value};

    d->op(conn, 0, &q, res);
}

void svl_check_set_and_cas(const struct fl_driver_ops *d, void *conn, const char *writer,
                           const char *reader, int current_known)
{
    static const uint64_t s1[] = {3, 5, 9}, s10[] = {4};
    struct fl_op_result r;
    size_t i;

    svl_cas(d, conn, "cas1", 0, 11, &r);
    assert_int_equal(r.outcome, HIST_OK);
    assert_true(r.swapped);
    svl_cas(d, conn, "cas1", 11, 12, &r);
    assert_int_equal(r.outcome, HIST_OK);
    assert_true(r.swapped);
    svl_cas(d, conn, "cas1", 11, 13, &r); /* stale expected value: compared, no swap */
    assert_int_equal(r.outcome, HIST_OK);
    assert_false(r.swapped);
    if (current_known) {
        assert_true(r.current_known);
        assert_int_equal(r.current, 12);
    }
    svl_cas(d, conn, "cas1", 0, 14, &r); /* "absent" but present */
    assert_int_equal(r.outcome, HIST_OK);
    assert_false(r.swapped);
    svl_op(d, conn, reader, "cas1", 0, &r);
    assert_int_equal(r.outcome, HIST_OK);
    assert_int_equal(r.value, 12);

    svl_set_op(d, conn, writer, "s1", 5, &r);
    assert_int_equal(r.outcome, HIST_OK);
    svl_set_op(d, conn, writer, "s1", 3, &r);
    assert_int_equal(r.outcome, HIST_OK);
    svl_set_op(d, conn, writer, "s1", 5, &r); /* again: still one element */
    assert_int_equal(r.outcome, HIST_OK);
    svl_set_op(d, conn, writer, "s1", 9, &r);
    assert_int_equal(r.outcome, HIST_OK);
    svl_set_op(d, conn, writer, "s10", 4, &r);
    assert_int_equal(r.outcome, HIST_OK);
    svl_set_op(d, conn, reader, "s1", 0, &r);
    assert_int_equal(r.outcome, HIST_OK);
    assert_int_equal(r.nelems, 3);
    for (i = 0; i < 3; i++)
        assert_int_equal(r.elems[i], s1[i]);
    svl_set_op(d, conn, reader, "s10", 0, &r);
    assert_int_equal(r.outcome, HIST_OK);
    assert_int_equal(r.nelems, 1);
    assert_int_equal(r.elems[0], s10[0]);
    svl_set_op(d, conn, reader, "s2", 0, &r);
    assert_int_equal(r.outcome, HIST_OK);
    assert_int_equal(r.nelems, 0);
}
