/*
 * Unit tests of the target launchers' limits (fl_target_ops.check), the
 * ones `faultline validate` applies to a lab before anything runs and each
 * launcher's start() applies again: every kind with a launcher has them,
 * each limit holds exactly at its edge, and a limit about an option names
 * that option (so the parser reports it at the option's line and column).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "faultline/err.h"
#include "faultline/refstore_limits.h"
#include "faultline/target.h"

#define MAX_HOSTS 240

struct lab {
    struct fl_target_host h[MAX_HOSTS];
    char name[MAX_HOSTS][32], region[MAX_HOSTS][16], addr[MAX_HOSTS][20];
    struct fl_target_env env;
};

/* n hosts spread over regions r0, r1, ... (per_region each), addresses 198.18.r.(33+i). */
static void lab_make(struct lab *L, size_t n, size_t per_region, json_t *config)
{
    size_t i;

    memset(L, 0, sizeof(*L));
    for (i = 0; i < n; i++) {
        /* At most MAX_HOSTS hosts: every figure below fits in a byte. */
        unsigned r = (unsigned)(i / per_region) & 0xffu, k = (unsigned)(i % per_region) & 0xffu;

        snprintf(L->region[i], sizeof(L->region[i]), "r%u", r);
        snprintf(L->name[i], sizeof(L->name[i]), "r%u-z1-h%u", r, k + 1);
        snprintf(L->addr[i], sizeof(L->addr[i]), "198.18.%u.%u", r + 1, 33 + k);
        L->h[i].name = L->name[i];
        L->h[i].region = L->region[i];
        L->h[i].zone = "z1";
        L->h[i].data_addr = L->addr[i];
    }
    L->env.hosts = L->h;
    L->env.n_hosts = n;
    L->env.primary_region = "r0";
    L->env.config = config;
}

/* The kind's check on a lab of n hosts (per_region a region), options from JSON text. */
static int check(const char *kind, size_t n, size_t per_region, const char *options,
                 const char **key, struct fl_err *err)
{
    const struct fl_target_ops *ops = fl_target_find(kind);
    json_t *cfg = json_loads(options ? options : "{}", 0, NULL);
    struct lab *L = malloc(sizeof(*L));
    int r;

    assert_non_null(ops);
    assert_non_null(ops->check);
    assert_non_null(cfg);
    assert_non_null(L);
    lab_make(L, n, per_region, cfg);
    *key = "unset";
    memset(err, 0, sizeof(*err));
    r = ops->check(&L->env, key, err);
    json_decref(cfg);
    free(L);
    return r;
}

static void every_launcher_should_have_limits(void **state)
{
    const char *const *k;

    (void)state;
    for (k = fl_target_kinds(); *k; k++) {
        const struct fl_target_ops *ops = fl_target_find(*k);

        if (ops == NULL) /* http: a service that runs elsewhere, no launcher */
            continue;
        if (ops->check == NULL)
            fail_msg("launcher %s has no check(): validate cannot see its limits", *k);
    }
}

static void refstore_should_serve_exactly_its_peer_limit(void **state)
{
    struct fl_err err;
    const char *key;

    (void)state;
    assert_int_equal(check("refstore", FL_REFSTORE_MAX_PEERS + 1, 11, NULL, &key, &err), 0);
    assert_int_equal(check("refstore", FL_REFSTORE_MAX_PEERS + 2, 12, NULL, &key, &err), -EINVAL);
    assert_null(key);
    assert_non_null(strstr(err.msg, "serves at most 33"));
    /* The issue's lab: three regions, three zones, six hosts each. */
    assert_int_equal(check("refstore", 54, 18, NULL, &key, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "the lab has 54 hosts"));
}

static void refstore_should_name_priority_when_it_lists_too_many_regions(void **state)
{
    char opts[512] = "{\"priority\":[";
    struct fl_err err;
    const char *key;
    int i;

    (void)state;
    for (i = 0; i <= FL_REFSTORE_MAX_REGIONS; i++)
        snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), "%s\"r%d\"", i ? "," : "", i);
    strcat(opts, "]}");
    assert_int_equal(check("refstore", 3, 1, opts, &key, &err), -EINVAL);
    assert_string_equal(key, "priority");
}

static void redis_should_refuse_what_its_endpoint_cannot_hold(void **state)
{
    struct fl_err err;
    const char *key;
    size_t n;

    (void)state;
    assert_int_equal(check("redis-sentinel", 2, 1, NULL, &key, &err), -EINVAL);
    assert_null(key);
    assert_int_equal(check("redis-sentinel", 3, 1, NULL, &key, &err), 0);
    /*
     * "redis-sentinel://mymaster@" (26) + "198.18.R.33:26379" (17, 18 from
     * region 10 on) per host + commas must stay under 256: 12 hosts take
     * 26 + 9 x 17 + 3 x 18 + 11 = 244, 13 take 263.
     */
    for (n = 3; n < 40 && check("redis-sentinel", n, 1, NULL, &key, &err) == 0; n++)
        ;
    assert_int_equal(n, 13);
    assert_non_null(strstr(err.msg, "too many"));
    assert_int_equal(check("redis-sentinel", 3, 1, "{\"quorum\":4}", &key, &err), -EINVAL);
    assert_string_equal(key, "quorum");
    assert_int_equal(
        check("redis-sentinel", 3, 1, "{\"port\":7000,\"sentinel_port\":7000}", &key, &err),
        -EINVAL);
    assert_string_equal(key, "sentinel_port");
}

static void etcd_should_check_members_ports_and_endpoints(void **state)
{
    struct fl_err err;
    const char *key;

    (void)state;
    assert_int_equal(check("etcd", 2, 1, NULL, &key, &err), -EINVAL);
    assert_int_equal(check("etcd", 3, 1, NULL, &key, &err), 0);
    assert_int_equal(check("etcd", 3, 1, "{\"port\":65535}", &key, &err), -EINVAL);
    assert_string_equal(key, "port");
    /* One region's endpoint: n x "http://198.18.1.3X:2379" (23) + commas < 256: 10 fit, 11 not. */
    assert_int_equal(check("etcd", 20, 10, NULL, &key, &err), 0);
    assert_int_equal(check("etcd", 22, 11, NULL, &key, &err), -EINVAL);
    assert_null(key);
    assert_non_null(strstr(err.msg, "region r0 has too many members"));
}

static void postgres_should_check_regions_and_ports(void **state)
{
    struct fl_err err;
    const char *key;

    (void)state;
    assert_int_equal(check("postgres", 3, 3, NULL, &key, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "second region"));
    assert_int_equal(check("postgres", 3, 1, NULL, &key, &err), 0);
    assert_int_equal(check("postgres", 3, 1, "{\"port\":65532}", &key, &err), 0);
    assert_int_equal(check("postgres", 3, 1, "{\"port\":65533}", &key, &err), -EINVAL);
    assert_string_equal(key, "port");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_launcher_should_have_limits),
        cmocka_unit_test(refstore_should_serve_exactly_its_peer_limit),
        cmocka_unit_test(refstore_should_name_priority_when_it_lists_too_many_regions),
        cmocka_unit_test(redis_should_refuse_what_its_endpoint_cannot_hold),
        cmocka_unit_test(etcd_should_check_members_ports_and_endpoints),
        cmocka_unit_test(postgres_should_check_regions_and_ports),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
