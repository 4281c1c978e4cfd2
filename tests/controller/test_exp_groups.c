/*
 * workload.clients as a list of groups (issue 11): placement in a region or
 * a zone, the rate split by count unless a group gives its own, each group's
 * routing (own region first by default), and the errors with their exact
 * file:line:column. Also: conflict_feed is refused for a target without a
 * conflict feed, and a group placed in a region is refused in staging.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "experiment.h"
#include "exp_text.h"

#define HEAD                                                      \
    "apiVersion: faultline/v1\n"                                  \
    "name: groups\n"                                              \
    "topology:\n"                                                 \
    "  regions:\n"                                                \
    "    - name: west\n"                                          \
    "      zones: [{name: z1, hosts: 1}, {name: z2, hosts: 1}]\n" \
    "    - name: north\n"                                         \
    "      zones: [{name: z1, hosts: 1}]\n"                       \
    "    - name: south\n"                                         \
    "      zones: [{name: z1, hosts: 1}]\n"                       \
    "target: {kind: refstore, preset: cosmos, primary: west, priority: [west, north, south]}\n"

/* line 12 is "workload:" */
#define TAIL                        \
    "  rate: 400/s\n"               \
    "  duration: 10s\n"             \
    "  mix: {read: 1, upsert: 1}\n" \
    "faults: []\n"                  \
    "verify: {data_loss: {consistency: session}}\n"

static void groups_should_split_the_rate_by_count_and_place_clients(void **state)
{
    struct experiment *exp =
        parse_ok(HEAD "workload:\n"
                      "  clients:\n"
                      "    - {name: west-app, count: 4, region: west, routing: {policy: preferred, "
                      "regions: [west, north]}}\n"
                      "    - {name: north-app, count: 2, region: north}\n"
                      "    - {name: zonal, count: 1, zone: west/z2, rate: 50/s}\n"
                      "    - {name: edge, count: 1}\n" TAIL);
    const struct exp_workload *w = &exp->workload;

    (void)state;
    assert_int_equal(w->n_groups, 4);
    assert_int_equal(w->clients, 8);
    assert_string_equal(w->groups[0].name, "west-app");
    assert_true(w->groups[0].has_region && !w->groups[0].has_zone);
    assert_int_equal(w->groups[0].region, 0);
    /* 400/s - 50/s own = 350/s over 7 clients without their own rate */
    assert_true(w->groups[0].rate > 199.99 && w->groups[0].rate < 200.01);
    assert_true(w->groups[1].rate > 99.99 && w->groups[1].rate < 100.01);
    assert_true(w->groups[2].rate == 50);
    assert_true(w->groups[3].rate > 49.99 && w->groups[3].rate < 50.01);
    /* explicit routing */
    assert_int_equal(w->groups[0].n_routing_regions, 2);
    assert_int_equal(w->groups[0].routing_regions[1], 1);
    /* default routing of a placed group: its own region first, then the workload's order */
    assert_int_equal(w->groups[1].n_routing_regions, 3);
    assert_int_equal(w->groups[1].routing_regions[0], 1);
    assert_int_equal(w->groups[1].routing_regions[1], 0);
    assert_int_equal(w->groups[1].routing_regions[2], 2);
    /* a zone names its region */
    assert_true(w->groups[2].has_region && w->groups[2].has_zone);
    assert_int_equal(w->groups[2].region, 0);
    assert_int_equal(w->groups[2].zone, 1);
    /* outside every region: the workload's routing (primary first) */
    assert_false(w->groups[3].has_region);
    assert_int_equal(w->groups[3].routing_regions[0], 0);
    experiment_free(exp);
}

static void clients_as_a_count_should_have_no_groups(void **state)
{
    struct experiment *exp = parse_ok(HEAD "workload:\n  clients: 3\n" TAIL);

    (void)state;
    assert_int_equal(exp->workload.n_groups, 0);
    assert_int_equal(exp->workload.clients, 3);
    experiment_free(exp);
}

static void groups_should_report_errors_at_their_position(void **state)
{
    (void)state;
    parse_bad(HEAD "workload:\n  clients:\n    - {name: a, count: 1, region: wset}\n" TAIL,
              "g.yaml:14:35: workload.clients[0].region: unknown region 'wset' (did you mean "
              "'west'?)");
    parse_bad(HEAD
              "workload:\n  clients:\n    - {name: a, count: 1}\n    - {name: a, count: 2}\n" TAIL,
              "g.yaml:15:14: workload.clients[1].name: group 'a' is named twice");
    parse_bad(HEAD "workload:\n  clients:\n    - {name: a, count: 1, zone: west/z9}\n" TAIL,
              "g.yaml:14:33: workload.clients[0].zone: unknown zone 'west/z9' (zones are named "
              "region/zone, e.g. west/z1)");
    parse_bad(
        HEAD "workload:\n  clients:\n    - {name: a, count: 1, region: west, zone: west/z1}\n" TAIL,
        "g.yaml:14:41: workload.clients[0]: give region or zone, not both (a zone names its "
        "region)");
    parse_bad(HEAD "workload:\n  clients:\n    - {name: a, count: 1, colour: red}\n" TAIL,
              "g.yaml:14:27: unknown key 'colour' in workload.clients[0]; expected one of: name, "
              "count, region, zone, routing, rate");
    parse_bad(HEAD "workload:\n  clients:\n    - {name: a, count: 1, rate: 100/s}\n"
                   "    - {name: b, count: 1, rate: 200/s}\n" TAIL,
              "g.yaml:16:9: workload.rate: 400/s, but every group gives its own rate and they add "
              "up to 300/s (make them equal, or leave a group's rate out to give it the rest)");
    parse_bad(HEAD "workload:\n  clients:\n    - {name: a, count: 1, rate: 400/s}\n"
                   "    - {name: b, count: 1}\n" TAIL,
              "g.yaml:16:9: workload.rate: 400/s leaves nothing for the groups without their own "
              "rate (the groups' own rates add up to 400/s)");
    parse_bad(HEAD "workload:\n  clients: []\n" TAIL,
              "g.yaml:13:3: workload.clients: expected a count or at least one group");
}

static void conflict_feed_should_be_refused_without_a_feed(void **state)
{
    const char *text =
        "apiVersion: faultline/v1\n"
        "name: kv\n"
        "topology:\n"
        "  regions:\n"
        "    - {name: west, zones: [{name: z1, hosts: 1}]}\n"
        "    - {name: north, zones: [{name: z1, hosts: 1}]}\n"
        "target: {kind: refstore, preset: key-vault, primary: west}\n"
        "workload: {clients: 1, rate: 10/s, duration: 5s, mix: {get-secret: 1, set-secret: 1}}\n"
        "faults: []\n"
        "verify:\n"
        "  conflict_feed: {}\n";

    (void)state;
    parse_bad(text, "g.yaml:11:3: verify.conflict_feed: target refstore preset key-vault has no "
                    "conflict feed to check (only refstore preset cosmos offers one: GET "
                    "/v1/conflicts)");
}

static void staging_should_refuse_a_group_placed_in_a_region(void **state)
{
    const char *text = "apiVersion: faultline/v1\n"
                       "name: st\n"
                       "topology:\n"
                       "  regions:\n"
                       "    - name: west\n"
                       "      zones: [{name: z1, hosts: [{name: w1, address: 10.0.0.1, agent: "
                       "\"http://10.0.0.1:7070\"}]}]\n"
                       "    - name: north\n"
                       "      zones: [{name: z1, hosts: [{name: n1, address: 10.0.1.1, agent: "
                       "\"http://10.0.1.1:7070\"}]}]\n"
                       "target: {kind: http, primary: west}\n"
                       "workload:\n"
                       "  clients:\n"
                       "    - {name: west-app, count: 1, region: west}\n"
                       "  rate: 10/s\n"
                       "  duration: 5s\n"
                       "  mix: {get: 1}\n"
                       "faults: []\n"
                       "verify: {availability: {during: {read: 0.5}}}\n";
    struct experiment *exp = NULL;
    struct fl_err err = {0};

    (void)state;
    assert_int_equal(experiment_parse(text, strlen(text), "g.yaml", &exp, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "g.yaml:12:34: workload.clients[0].region: a group placed in a "
                                    "region needs a machine there to run its clients from"));
}

static void verify_groups_should_name_workload_groups(void **state)
{
    struct experiment *exp;

    (void)state;
    parse_bad(HEAD "workload:\n  clients:\n    - {name: west-app, count: 1, region: west}\n"
                   "  rate: 10/s\n  duration: 10s\n  mix: {read: 1}\nfaults: []\n"
                   "verify:\n  availability: {during: {read: 0.5}, groups: [west-ap]}\n",
              "g.yaml:20:48: verify.availability.groups[0]: 'west-ap' is not a client group of "
              "the workload");
    exp = parse_ok(HEAD "workload:\n  clients:\n    - {name: west-app, count: 1, region: west}\n"
                        "  rate: 10/s\n  duration: 10s\n  mix: {read: 1}\nfaults: []\n"
                        "verify:\n  availability: {during: {read: 0.5}, groups: [west-app]}\n"
                        "  failover: {max: 5s, groups: [west-app]}\n");
    experiment_free(exp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(groups_should_split_the_rate_by_count_and_place_clients),
        cmocka_unit_test(clients_as_a_count_should_have_no_groups),
        cmocka_unit_test(groups_should_report_errors_at_their_position),
        cmocka_unit_test(conflict_feed_should_be_refused_without_a_feed),
        cmocka_unit_test(staging_should_refuse_a_group_placed_in_a_region),
        cmocka_unit_test(verify_groups_should_name_workload_groups),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
