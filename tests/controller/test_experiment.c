/*
 * Unit tests of the experiment-file parser: every broken file in bad/ with
 * its exact "file:line:column: message", the shipped experiments and the
 * files in good/ parse, and what they resolve to (host names, the lab's
 * addresses, fault scopes as CIDRs, durations, verify: as JSON with marks).
 * Runs in tests/controller of the source tree (FAULTLINE_SOURCE_DIR).
 */
#include <errno.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "experiment.h"
#include "testutil.h"

/* Each broken file and the one line it must produce (first error wins). */
static const struct {
    const char *file;
    const char *msg;
} bad_files[] = {
    {"bad/bad-api-version.yaml",
     "bad/bad-api-version.yaml:2:13: apiVersion: expected 'faultline/v1', found 'faultline/v2'"},
    {"bad/bad-duration-no-unit.yaml", "bad/bad-duration-no-unit.yaml:32:10: faults[0].for: bad "
                                      "duration '25': missing unit (ms, s, m, h)"},
    {"bad/bad-duration.yaml", "bad/bad-duration.yaml:22:13: workload.duration: bad duration '60x': "
                              "unknown unit 'x' (expected ms, s, m, h)"},
    {"bad/bad-mode.yaml",
     "bad/bad-mode.yaml:31:11: faults[0].mode: unknown value 'dorp' (did you mean 'drop'?)"},
    {"bad/bad-percent.yaml", "bad/bad-percent.yaml:42:35: faults[3].percent: expected a number > 0 "
                             "and <= 100, found '120'"},
    {"bad/bad-rate.yaml",
     "bad/bad-rate.yaml:21:9: workload.rate: bad rate '500': expected N/s or N/m, e.g. 500/s"},
    {"bad/control-one-way.yaml",
     "bad/control-one-way.yaml:40:9: faults[2].to: '198.19.0.1' would cut the control network "
     "198.19.0.0/24; the controller must always reach the agents"},
    {"bad/control-partition.yaml",
     "bad/control-partition.yaml:35:30: faults[1].groups[1][1]: '198.19.0.0/16' would cut the "
     "control network 198.19.0.0/24; the controller must always reach the agents"},
    {"bad/duplicate-region.yaml", "bad/duplicate-region.yaml:10:13: topology.regions[2].name: "
                                  "duplicate region name 'north' (first defined at line 8)"},
    {"bad/empty.yaml", "bad/empty.yaml:1:1: empty file; expected a mapping with apiVersion, name, "
                       "topology, target, workload, faults and verify"},
    {"bad/fault-past-end.yaml",
     "bad/fault-past-end.yaml:32:10: faults[0].for: the fault would end at 65s (at 10s + for 55s), "
     "past the end of the workload (workload.duration 60s)"},
    {"bad/fault-starts-after-end.yaml",
     "bad/fault-starts-after-end.yaml:44:9: faults[5].at: 70s is at or past the end of the "
     "workload (workload.duration 60s)"},
    {"bad/limit-etcd-two-hosts.yaml", "bad/limit-etcd-two-hosts.yaml:11:9: target: etcd needs at "
                                      "least 3 hosts (members), the topology has 2"},
    {"bad/limit-http-in-lab.yaml",
     "bad/limit-http-in-lab.yaml:11:9: target.kind: 'http' has no launcher: the lab runs refstore, "
     "redis-sentinel, etcd or postgres ('http' is for staging hosts)"},
    {"bad/limit-postgres-one-region.yaml", "bad/limit-postgres-one-region.yaml:9:9: target: "
                                           "postgres needs a second region for the secondary"},
    {"bad/limit-postgres-port.yaml",
     "bad/limit-postgres-port.yaml:16:9: target.port: postgres: port 65533 + one port per host "
     "(3 hosts) passes 65535"},
    {"bad/limit-redis-quorum.yaml", "bad/limit-redis-quorum.yaml:16:11: target.quorum: "
                                    "redis-sentinel: quorum 5 but there are 3 sentinels (one per "
                                    "host)"},
    {"bad/limit-refstore-54-hosts.yaml",
     "bad/limit-refstore-54-hosts.yaml:14:9: target: refstore: the lab has 54 hosts; the reference "
     "service serves at most 33 (every replica talks to every other one: see docs/refstore.md)"},
    {"bad/missing-key.yaml",
     "bad/missing-key.yaml:19:1: workload: missing required key 'duration'"},
    {"bad/missing-scope.yaml",
     "bad/missing-scope.yaml:28:5: faults[0]: isolate needs a scope: region, zone or host"},
    {"bad/missing-section.yaml",
     "bad/missing-section.yaml:1:1: missing required section 'workload' (an experiment has "
     "apiVersion, name, topology, target, workload, faults and verify)"},
    {"bad/mix-weight-fraction.yaml", "bad/mix-weight-fraction.yaml:25:55: workload.mix.set-secret: "
                                     "expected a positive integer, found '2.5'"},
    {"bad/mix-weight-negative.yaml",
     "bad/mix-weight-negative.yaml:25:87: workload.mix.delete-secret: expected a positive integer, "
     "found '-10'"},
    {"bad/mix-weight-zero.yaml", "bad/mix-weight-zero.yaml:25:68: workload.mix.encrypt: expected a "
                                 "positive integer, found '0'"},
    {"bad/mixed-topology.yaml",
     "bad/mixed-topology.yaml:11:35: topology.regions[2].zones[0].hosts: mixes host counts (the "
     "lab) and host lists (staging); use one form in the whole topology"},
    {"bad/not-a-mapping.yaml", "bad/not-a-mapping.yaml:1:3: expected a mapping with apiVersion, "
                               "name, topology, target, workload, faults and verify, found a list"},
    {"bad/partition-one-group.yaml", "bad/partition-one-group.yaml:35:15: faults[1].groups: a "
                                     "partition needs at least two groups, found 1"},
    {"bad/partition-overlap.yaml",
     "bad/partition-overlap.yaml:35:30: faults[1].groups[1][1]: 'west/z1' overlaps group 0 (west "
     "at 198.18.1.0/24); a host can be in one group only"},
    {"bad/routing-unknown-region.yaml",
     "bad/routing-unknown-region.yaml:26:48: workload.routing.regions[1]: unknown region 'nort' "
     "(did you mean 'north'?)"},
    {"bad/limits-max-hosts.yaml",
     "bad/limits-max-hosts.yaml:28:5: fault f1 (isolate) touches 3 hosts (west-z1-h1, west-z1-h2, "
     "west-z2-h1), more than limits.max_hosts 2 (bad/limits-max-hosts.yaml:57:1)"},
    {"bad/limits-fraction.yaml",
     "bad/limits-fraction.yaml:28:5: fault f1 (isolate) touches 3 of 6 hosts (50%: west-z1-h1, "
     "west-z1-h2, west-z2-h1), more than limits.max_fraction 0.2 (bad/limits-fraction.yaml:57:1)"},
    {"bad/limits-unknown-key.yaml",
     "bad/limits-unknown-key.yaml:57:10: unknown key 'max_host' in limits (did you mean "
     "'max_hosts'?)"},
    {"bad/staging-no-limits.yaml",
     "bad/staging-no-limits.yaml:1:1: a staging experiment needs limits: the most hosts and the "
     "largest fraction of the inventory one fault may touch, e.g. limits: {max_hosts: 2, "
     "max_fraction: 0.25}"},
    {"bad/staging-in-control.yaml",
     "bad/staging-in-control.yaml:11:69: topology.regions[0].zones[0].hosts[0].address: 10.99.0.11 "
     "is inside the control network 10.99.0.0/24; data and control must be separate networks"},
    {"bad/two-scopes.yaml",
     "bad/two-scopes.yaml:42:54: faults[3]: give one scope, found both 'region' and 'host'"},
    {"bad/unknown-group-member.yaml",
     "bad/unknown-group-member.yaml:35:30: faults[1].groups[1][1]: unknown region, zone or host "
     "'east'; expected a region (e.g. west), a zone (region/zone), a host or a CIDR"},
    {"bad/unknown-host.yaml", "bad/unknown-host.yaml:46:21: faults[5].host: unknown host "
                              "'west-z1-h3' (did you mean 'west-z1-h1'?)"},
    {"bad/unknown-key-fault.yaml", "bad/unknown-key-fault.yaml:42:26: unknown key 'precent' in "
                                   "faults[3] (did you mean 'percent'?)"},
    {"bad/unknown-key-top.yaml", "bad/unknown-key-top.yaml:47:1: unknown key 'verfiy' in the "
                                 "experiment (did you mean 'verify'?)"},
    {"bad/unknown-key.yaml",
     "bad/unknown-key.yaml:22:3: unknown key 'duraton' in workload (did you mean 'duration'?)"},
    {"bad/unknown-kind-short.yaml", "bad/unknown-kind-short.yaml:46:5: faults[5]: unknown fault "
                                    "kind 'isolat' (did you mean 'isolate'?)"},
    {"bad/unknown-kind.yaml", "bad/unknown-kind.yaml:29:11: faults[0].kind: unknown fault kind "
                              "'isolte' (did you mean 'isolate'?)"},
    {"bad/unknown-region.yaml", "bad/unknown-region.yaml:30:13: faults[0].region: unknown region "
                                "'wset' (did you mean 'west'?)"},
    {"bad/unknown-target-kind.yaml", "bad/unknown-target-kind.yaml:13:9: target.kind: unknown "
                                     "value 'refstor' (did you mean 'refstore'?)"},
    {"bad/unknown-target-option.yaml",
     "bad/unknown-target-option.yaml:19:3: unknown key 'down_after' in target; expected one of: "
     "kind, preset, primary, replication, lag, failover_after, consistency, writes, priority, "
     "auto_failover, zone_redundant, auto_failback, heartbeat, ack_timeout, forward_timeout, "
     "bounded, read_only, bugs, lose_every, slow_factor, port"},
    {"bad/unknown-mix-op.yaml",
     "bad/unknown-mix-op.yaml:5:55: workload.mix: 'get-secert' is not an operation of refstore "
     "preset key-vault (did you mean 'get-secret'?)"},
    {"bad/model-unknown.yaml", "bad/model-unknown.yaml:5:56: workload.model: unknown value 'sets' "
                               "(did you mean 'set'?)"},
    {"bad/model-set-delete.yaml",
     "bad/model-set-delete.yaml:10:27: workload.mix: 'delete' deletes, which model: set cannot "
     "have (an acknowledged element must stay, so that data_loss can count every missing one; "
     "use model: register to test deletes)"},
    {"bad/model-set-cas.yaml",
     "bad/model-set-cas.yaml:5:76: workload.mix: 'cas' compares and replaces one value, which "
     "model: set does not have (use model: register)"},
    {"bad/unknown-zone.yaml", "bad/unknown-zone.yaml:43:63: faults[4].zone: unknown zone "
                              "'north/z2' (did you mean 'north/z1'?)"},
    {"bad/verify-bad-duration.yaml",
     "bad/verify-bad-duration.yaml:53:46: verify.staleness.max_lag: bad duration '5min': unknown "
     "unit 'min' (expected ms, s, m, h)"},
    {"bad/verify-bad-ratio.yaml",
     "bad/verify-bad-ratio.yaml:54:33: verify.availability.during.read: expected a number >= 0 and "
     "<= 1, found '99'"},
    {"bad/verify-unknown-key.yaml", "bad/verify-unknown-key.yaml:48:14: unknown key 'maxx' in "
                                    "verify.failover (did you mean 'max'?)"},
    {"bad/yaml-duplicate-key.yaml",
     "bad/yaml-duplicate-key.yaml:24:3: YAML syntax error: duplicate key"},
    {"bad/yaml-syntax.yaml",
     "bad/yaml-syntax.yaml:10:5: YAML syntax error: wrongly indented block sequence in flow mode"},
};

#define N_BAD (sizeof(bad_files) / sizeof(bad_files[0]))

static int to_test_dir(void **state)
{
    const char *src = getenv("FAULTLINE_SOURCE_DIR");
    char dir[4096];

    (void)state;
    snprintf(dir, sizeof(dir), "%s/tests/controller", src ? src : ".");
    return chdir(dir) == 0 ? 0 : -1;
}

static void load_ok(const char *path, struct experiment **exp)
{
    struct fl_err err = {0};
    int rc = experiment_load(path, exp, &err);

    if (rc != 0)
        fail_msg("%s: expected valid, got: %s", path, err.msg);
}

static void experiment_should_report_each_broken_file_exactly(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < N_BAD; i++) {
        struct experiment *exp = NULL;
        struct fl_err err = {0};
        int rc = experiment_load(bad_files[i].file, &exp, &err);

        assert_int_equal(rc, -EINVAL);
        assert_null(exp);
        if (strcmp(err.msg, bad_files[i].msg) != 0)
            fail_msg("%s:\n  expected: %s\n  got:      %s", bad_files[i].file, bad_files[i].msg,
                     err.msg);
    }
}

/* Every file in bad/ has a row in the table (a new file without one would test nothing). */
static void experiment_should_cover_every_bad_file(void **state)
{
    glob_t g;
    size_t i, j;

    (void)state;
    assert_int_equal(glob("bad/*.yaml", 0, NULL, &g), 0);
    for (i = 0; i < g.gl_pathc; i++) {
        for (j = 0; j < N_BAD && strcmp(bad_files[j].file, g.gl_pathv[i]) != 0; j++)
            ;
        if (j == N_BAD)
            fail_msg("%s has no expected message in bad_files[]", g.gl_pathv[i]);
    }
    assert_int_equal(g.gl_pathc, N_BAD);
    globfree(&g);
}

static void experiment_should_accept_shipped_experiments(void **state)
{
    glob_t g;
    size_t i;

    (void)state;
    assert_int_equal(glob("../../experiments/*.yaml", 0, NULL, &g), 0);
    assert_true(g.gl_pathc >= 5); /* key-vault, cosmos, redis-sentinel, etcd, postgres */
    for (i = 0; i < g.gl_pathc; i++) {
        struct experiment *exp = NULL;

        load_ok(g.gl_pathv[i], &exp);
        /* Short enough for CI: each runs as an e2e test (over 30 s: labelled slow). */
        assert_true(exp->workload.duration_ns <= 60 * 1000000000LL);
        assert_true(exp->n_faults >= 1);
        experiment_free(exp);
    }
    globfree(&g);
}

static void cidr_is(const struct fl_cidr *c, const char *want)
{
    char buf[64];

    assert_string_equal(fl_cidr_format(c, buf, sizeof(buf)), want);
}

static void experiment_should_apply_the_lab_address_plan(void **state)
{
    struct experiment *exp = NULL;
    const struct exp_topology *t;

    (void)state;
    load_ok("good/lab.yaml", &exp);
    t = &exp->topology;
    assert_true(t->lab);
    cidr_is(&t->control, "198.19.0.0/24");
    cidr_is(&t->controller, "198.19.0.1/32");
    assert_int_equal(t->n_regions, 3);
    assert_int_equal(t->n_hosts, 6);
    assert_string_equal(t->regions[0].name, "west");
    cidr_is(&t->regions[0].cidr, "198.18.1.0/24");
    cidr_is(&t->regions[0].zones[1].cidr, "198.18.1.64/27");
    cidr_is(&t->regions[0].zones[1].gateway, "198.18.1.94/32");
    assert_string_equal(t->regions[0].zones[1].path, "west/z2");
    cidr_is(&t->regions[2].cidr, "198.18.3.0/24");
    assert_string_equal(t->hosts[0].name, "west-z1-h1");
    assert_string_equal(t->hosts[1].name, "west-z1-h2");
    assert_string_equal(t->hosts[2].name, "west-z2-h1");
    assert_string_equal(t->hosts[4].name, "north-z1-h2");
    cidr_is(&t->hosts[1].data, "198.18.1.34/32");
    cidr_is(&t->hosts[2].data, "198.18.1.65/32");
    cidr_is(&t->hosts[4].data, "198.18.2.34/32");
    cidr_is(&t->hosts[4].control, "198.19.0.14/32");
    assert_string_equal(t->hosts[4].agent, "http://198.19.0.14:7070");
    assert_int_equal(t->hosts[4].region, 1);
    assert_int_equal(t->hosts[4].zone, 0);
    assert_int_equal(t->regions[1].first_host, 3);
    assert_int_equal(t->regions[1].n_hosts, 2);
    experiment_free(exp);
}

static void experiment_should_resolve_sections(void **state)
{
    struct experiment *exp = NULL;
    const struct exp_workload *w;
    const struct exp_target *tg;

    (void)state;
    load_ok("good/lab.yaml", &exp);
    assert_string_equal(exp->name, "test-lab");
    tg = &exp->target;
    assert_int_equal(tg->kind, EXP_TARGET_REFSTORE);
    assert_string_equal(tg->kind_name, "refstore");
    assert_string_equal(tg->preset, "key-vault");
    assert_true(tg->has_primary);
    assert_int_equal(tg->primary, 0);
    assert_int_equal(json_integer_value(json_object_get(tg->options, "lag")), 200);
    assert_int_equal(json_integer_value(json_object_get(tg->options, "failover_after")), 3000);
    assert_string_equal(json_string_value(json_object_get(tg->options, "replication")), "async");
    assert_null(json_object_get(tg->options, "kind"));
    w = &exp->workload;
    assert_int_equal(w->clients, 8);
    assert_true(w->rate == 500.0);
    assert_int_equal(w->duration_ns, 60 * 1000000000LL);
    assert_int_equal(w->timeout_ns, 1000000000LL);
    assert_int_equal(w->keys, 100);
    assert_int_equal(w->n_mix, 5);
    assert_string_equal(w->mix[2].op, "set-secret");
    assert_int_equal(w->mix[2].weight, 30);
    assert_int_equal(w->mix_total, 100);
    assert_int_equal(w->routing, EXP_ROUTING_PREFERRED);
    assert_int_equal(w->n_routing_regions, 2);
    assert_int_equal(w->routing_regions[1], 1);
    experiment_free(exp);
}

static void experiment_should_resolve_fault_scopes_to_cidrs(void **state)
{
    struct experiment *exp = NULL;
    const struct exp_fault *f;

    (void)state;
    load_ok("good/lab.yaml", &exp);
    assert_int_equal(exp->n_faults, 6);
    f = &exp->faults[0];
    assert_string_equal(f->id, "f1");
    assert_int_equal(f->kind, EXP_FAULT_ISOLATE);
    assert_int_equal(f->at_ns, 10 * 1000000000LL);
    assert_int_equal(f->for_ns, 25 * 1000000000LL);
    assert_int_equal(f->mode, EXP_MODE_DROP);
    assert_int_equal(f->scope.n_cidrs, 1);
    cidr_is(&f->scope.cidrs[0], "198.18.1.0/24");
    assert_int_equal(f->scope.n_hosts, 3);
    assert_int_equal(f->line, 28);
    f = &exp->faults[1];
    assert_int_equal(f->kind, EXP_FAULT_PARTITION);
    assert_int_equal(f->n_groups, 2);
    assert_string_equal(f->groups[1].text, "north, south");
    assert_int_equal(f->groups[1].n_cidrs, 2);
    cidr_is(&f->groups[1].cidrs[1], "198.18.3.0/24");
    assert_int_equal(f->groups[1].n_hosts, 3);
    f = &exp->faults[2];
    assert_int_equal(f->kind, EXP_FAULT_ONE_WAY);
    cidr_is(&f->from.cidrs[0], "198.18.1.0/24");
    cidr_is(&f->to.cidrs[0], "198.18.2.0/24");
    f = &exp->faults[3];
    assert_int_equal(f->kind, EXP_FAULT_LOSS);
    assert_true(json_real_value(json_object_get(f->params, "percent")) == 20.0);
    f = &exp->faults[4];
    assert_int_equal(f->kind, EXP_FAULT_LATENCY);
    assert_int_equal(json_integer_value(json_object_get(f->params, "delay")), 100);
    assert_int_equal(json_integer_value(json_object_get(f->params, "jitter")), 10);
    cidr_is(&f->scope.cidrs[0], "198.18.2.32/27");
    /* short form: "isolate: {host: west-z1-h2}" */
    f = &exp->faults[5];
    assert_int_equal(f->kind, EXP_FAULT_ISOLATE);
    assert_int_equal(f->scope.n_hosts, 1);
    assert_int_equal(f->scope.hosts[0], 1);
    cidr_is(&f->scope.cidrs[0], "198.18.1.34/32");
    experiment_free(exp);
}

static void experiment_should_keep_verify_as_json_in_milliseconds(void **state)
{
    struct experiment *exp = NULL;
    json_t *v;
    int line, col;

    (void)state;
    load_ok("good/lab.yaml", &exp);
    v = exp->verify;
    assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "failover"), "max")),
                     180000);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(v, "staleness"), "max_lag")), 300000);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(v, "staleness"), "max_versions")),
        100000);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(v, "failback"), "writes")), "required");
    assert_int_equal(json_array_size(json_object_get(json_object_get(v, "read_only"), "allowed")),
                     4);
    assert_true(json_real_value(json_object_get(
                    json_object_get(json_object_get(v, "availability"), "during"), "read")) ==
                0.99);
    assert_int_equal(json_integer_value(json_object_get(v, "grace")), 5000);
    assert_int_equal(experiment_verify_mark(exp, "/failover/max", &line, &col), 0);
    assert_int_equal(line, 48);
    assert_int_equal(col, 19);
    assert_int_equal(experiment_verify_mark(exp, "/read_only/allowed/1", &line, &col), 0);
    assert_int_equal(line, 50);
    assert_int_equal(experiment_verify_mark(exp, "/nope", &line, &col), -ENOENT);
    experiment_free(exp);
}

static void experiment_should_parse_a_staging_inventory(void **state)
{
    struct experiment *exp = NULL;
    const struct exp_topology *t;
    const struct exp_fault *f;

    (void)state;
    load_ok("good/staging.yaml", &exp);
    t = &exp->topology;
    assert_false(t->lab);
    cidr_is(&t->control, "10.99.0.0/24");
    assert_int_equal(t->n_hosts, 3);
    assert_string_equal(t->hosts[1].name, "w2");
    assert_string_equal(t->hosts[1].agent, "https://10.99.0.12:7070");
    cidr_is(&t->hosts[1].data, "10.1.1.12/32");
    assert_int_equal(t->regions[0].cidr.family, 0);
    assert_int_equal(exp->target.kind, EXP_TARGET_REDIS_SENTINEL);
    assert_int_equal(json_integer_value(json_object_get(exp->target.options, "down_after")), 2000);
    /* defaults */
    assert_int_equal(exp->workload.keys, 100);
    assert_int_equal(exp->workload.timeout_ns, 1000000000LL);
    assert_int_equal(exp->workload.n_routing_regions, 2);
    assert_int_equal(exp->workload.routing_regions[0], 0);
    /* in staging a region resolves to its hosts' addresses */
    f = &exp->faults[0];
    assert_int_equal(f->mode, EXP_MODE_REJECT);
    assert_int_equal(f->scope.n_cidrs, 2);
    cidr_is(&f->scope.cidrs[0], "10.1.1.11/32");
    cidr_is(&f->scope.cidrs[1], "10.1.1.12/32");
    f = &exp->faults[1];
    assert_int_equal(f->groups[0].n_hosts, 2);
    assert_string_equal(f->groups[0].text, "w1, 10.1.1.12");
    f = &exp->faults[2];
    assert_int_equal(f->kind, EXP_FAULT_PROCESS);
    assert_string_equal(json_string_value(json_object_get(f->params, "action")), "restart");
    experiment_free(exp);
}

static void experiment_should_resolve_names_and_cidrs(void **state)
{
    struct experiment *exp = NULL;
    struct exp_set set;
    struct fl_err err = {0};

    (void)state;
    load_ok("good/lab.yaml", &exp);
    assert_int_equal(experiment_resolve(exp, "north/z1", &set, &err), 0);
    cidr_is(&set.cidrs[0], "198.18.2.32/27");
    assert_int_equal(set.n_hosts, 2);
    experiment_set_free(&set);
    assert_int_equal(experiment_resolve(exp, "198.18.1.0/26", &set, &err), 0);
    assert_int_equal(set.n_hosts, 2); /* west-z1-h1, west-z1-h2 (.33, .34) */
    experiment_set_free(&set);
    assert_int_equal(experiment_resolve(exp, "nroth", &set, &err), -ENOENT);
    assert_string_equal(err.msg, "unknown region, zone or host 'nroth' (did you mean 'north'?)");
    assert_null(set.cidrs);
    assert_int_equal(experiment_region_find(exp, "south"), 2);
    assert_int_equal(experiment_region_find(exp, "east"), -1);
    experiment_free(exp);
}

static void experiment_should_treat_short_and_long_fault_forms_alike(void **state)
{
    static const char head[] = "apiVersion: faultline/v1\n"
                               "name: forms\n"
                               "topology: {regions: [{name: a, zones: [{name: z1, hosts: 2}]},\n"
                               "                     {name: b, zones: [{name: z1, hosts: 1}]}]}\n"
                               "target: {kind: etcd}\n"
                               "workload: {clients: 1, rate: 10/s, duration: 10s, mix: {get: 1}}\n"
                               "verify: {failover: {max: 5s}}\n";
    static const char *const forms[] = {
        "faults: [{at: 1s, for: 2s, kind: partition, groups: [[a], [b]], mode: reject}]\n",
        "faults: [{at: 1s, for: 2s, partition: {groups: [[a], [b]], mode: reject}}]\n",
        "faults: [{at: 1s, for: 2s, partition: {groups: [a, b]}, mode: reject}]\n",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char text[2048];
        struct experiment *exp = NULL;
        struct fl_err err = {0};

        snprintf(text, sizeof(text), "%s%s", head, forms[i]);
        if (experiment_parse(text, strlen(text), "forms.yaml", &exp, &err) != 0)
            fail_msg("form %zu: %s", i, err.msg);
        assert_int_equal(exp->faults[0].kind, EXP_FAULT_PARTITION);
        assert_int_equal(exp->faults[0].mode, EXP_MODE_REJECT);
        assert_int_equal(exp->faults[0].n_groups, 2);
        cidr_is(&exp->faults[0].groups[1].cidrs[0], "198.18.2.0/24");
        experiment_free(exp);
    }
}

static void experiment_should_refuse_both_fault_forms_at_once(void **state)
{
    static const char text[] = "apiVersion: faultline/v1\n"
                               "name: forms\n"
                               "topology: {regions: [{name: a, zones: [{name: z1, hosts: 1}]}]}\n"
                               "target: {kind: etcd}\n"
                               "workload: {clients: 1, rate: 10/s, duration: 10s, mix: {get: 1}}\n"
                               "faults: [{at: 1s, kind: loss, isolate: {region: a}}]\n"
                               "verify: {failover: {max: 5s}}\n";
    struct experiment *exp = NULL;
    struct fl_err err = {0};

    (void)state;
    assert_int_equal(experiment_parse(text, strlen(text), "x.yaml", &exp, &err), -EINVAL);
    assert_string_equal(err.msg,
                        "x.yaml:6:31: faults[0]: both 'kind: loss' and 'isolate:' given; use one "
                        "form");
}

static void experiment_should_default_for_to_the_end_of_the_workload(void **state)
{
    static const char text[] = "apiVersion: faultline/v1\n"
                               "name: forever\n"
                               "topology: {regions: [{name: a, zones: [{name: z1, hosts: 3}]}]}\n"
                               "target: {kind: etcd}\n"
                               "workload: {clients: 1, rate: 10/s, duration: 10s, mix: {get: 1}}\n"
                               "faults: [{at: 4s, isolate: {region: a}}]\n"
                               "verify: {failover: {max: 5s}}\n";
    struct experiment *exp = NULL;
    struct fl_err err = {0};

    (void)state;
    assert_int_equal(experiment_parse(text, strlen(text), "x.yaml", &exp, &err), 0);
    assert_true(exp->faults[0].until_end);
    assert_int_equal(exp->faults[0].for_ns, 6 * 1000000000LL);
    experiment_free(exp);
}

static void experiment_should_report_a_missing_file(void **state)
{
    struct experiment *exp = NULL;
    struct fl_err err = {0};

    (void)state;
    assert_int_equal(experiment_load("bad/no-such-file.yaml", &exp, &err), -ENOENT);
    assert_string_equal(err.msg, "bad/no-such-file.yaml: cannot open: No such file or directory");
}

static void nearest_should_hint_only_close_words(void **state)
{
    static const char *const words[] = {"duration", "clients", "rate", "west", "north", NULL};

    (void)state;
    assert_string_equal(experiment_nearest("duraton", words), "duration");
    assert_string_equal(experiment_nearest("wset", words), "west");
    assert_string_equal(experiment_nearest("Rate", words), "rate");
    assert_null(experiment_nearest("zzz", words));
    assert_null(experiment_nearest("banana", words));
    assert_string_equal(experiment_fault_kind_name(EXP_FAULT_ONE_WAY), "one-way");
    assert_string_equal(experiment_fault_kind_names()[EXP_FAULT_PROCESS], "process");
    assert_null(experiment_fault_kind_names()[EXP_FAULT_KIND_COUNT]);
}

/* Blast radius: what each kind touches (docs/experiment-file.md, "limits"). */
static void limits_should_count_what_each_fault_cuts_off(void **state)
{
    struct experiment *exp;
    size_t hosts[16];

    (void)state;
    load_ok("good/lab.yaml", &exp);
    assert_false(exp->limits.set);
    /* isolate west: its 3 hosts (the rules go to all 6, the cut is theirs) */
    assert_int_equal(experiment_fault_touched(exp, &exp->faults[0], hosts), 3);
    /* partition [west] | [north, south] (3 and 3): every group but the (first) largest */
    assert_int_equal(experiment_fault_touched(exp, &exp->faults[1], hosts), 3);
    assert_string_equal(exp->topology.hosts[hosts[0]].name, "north-z1-h1");
    /* one-way west -> north: both ends */
    assert_int_equal(experiment_fault_touched(exp, &exp->faults[2], hosts), 5);
    /* latency on a zone, isolate of one host */
    assert_int_equal(experiment_fault_touched(exp, &exp->faults[4], hosts), 2);
    assert_int_equal(experiment_fault_touched(exp, &exp->faults[5], hosts), 1);
    experiment_free(exp);
    load_ok("good/staging.yaml", &exp);
    assert_true(exp->limits.set);
    assert_int_equal(exp->limits.max_hosts, 2);
    assert_true(exp->limits.max_fraction > 0.66 && exp->limits.max_fraction < 0.68);
    experiment_free(exp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(experiment_should_report_each_broken_file_exactly),
        cmocka_unit_test(experiment_should_cover_every_bad_file),
        cmocka_unit_test(experiment_should_accept_shipped_experiments),
        cmocka_unit_test(experiment_should_apply_the_lab_address_plan),
        cmocka_unit_test(experiment_should_resolve_sections),
        cmocka_unit_test(experiment_should_resolve_fault_scopes_to_cidrs),
        cmocka_unit_test(experiment_should_keep_verify_as_json_in_milliseconds),
        cmocka_unit_test(experiment_should_parse_a_staging_inventory),
        cmocka_unit_test(experiment_should_resolve_names_and_cidrs),
        cmocka_unit_test(experiment_should_treat_short_and_long_fault_forms_alike),
        cmocka_unit_test(experiment_should_refuse_both_fault_forms_at_once),
        cmocka_unit_test(experiment_should_default_for_to_the_end_of_the_workload),
        cmocka_unit_test(experiment_should_report_a_missing_file),
        cmocka_unit_test(nearest_should_hint_only_close_words),
        cmocka_unit_test(limits_should_count_what_each_fault_cuts_off),
    };

    return cmocka_run_group_tests(tests, to_test_dir, NULL);
}
