/*
 * Unit tests for fault parsing and the nf_tables plans/batches of packet
 * faults, checked without a kernel: the batch is parsed back with libnftnl.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/expr.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>

#include "nft.h"

static struct inj_fault *parse_ok(const char *json)
{
    struct inj_fault *f = NULL;
    struct fl_err e;

    fl_err_clear(&e);
    if (inj_fault_parse(json, strlen(json), &f, &e) != 0)
        fail_msg("unexpected parse error for %s: %s", json, e.msg);
    return f;
}

static void expect_error(const char *json, const char *needle)
{
    struct inj_fault *f = NULL;
    struct fl_err e;
    int r;

    fl_err_clear(&e);
    r = inj_fault_parse(json, strlen(json), &f, &e);
    if (r >= 0)
        fail_msg("expected an error for %s", json);
    assert_null(f);
    if (strstr(e.msg, needle) == NULL)
        fail_msg("error for %s was '%s', expected it to contain '%s'", json, e.msg, needle);
}

static void parse_should_refuse_bad_input_precisely(void **state)
{
    expect_error("{\"kind\":", "bad JSON at line 1");
    expect_error("[1,2]", "must be a JSON object");
    expect_error("{\"mode\":\"drop\"}", "missing key 'kind'");
    expect_error("{\"kind\":\"partiton\",\"groups\":[]}",
                 "unknown fault kind 'partiton' (did you mean 'partition'?)");
    expect_error("{\"kind\":\"teleport\"}", "unknown fault kind 'teleport'");
    expect_error("{\"kind\":\"partition\",\"groups\":[[\"198.18.1.0/24\"]]}",
                 "at least two CIDR lists");
    expect_error("{\"kind\":\"partition\",\"groups\":[[\"198.18.1.0/33\"],[\"10.0.0.0/8\"]]}",
                 "groups[0]'[0]: bad CIDR '198.18.1.0/33'");
    expect_error("{\"kind\":\"partition\",\"groups\":[[\"198.18.1.7/24\"],[\"10.0.0.0/8\"]]}",
                 "host bits set");
    expect_error("{\"kind\":\"partition\",\"grups\":[]}", "unknown key 'grups' (did you mean "
                                                          "'groups'?)");
    expect_error("{\"kind\":\"partition\",\"mode\":\"explode\",\"groups\":[[\"10.0.0.0/8\"],[\""
                 "11.0.0.0/8\"]]}",
                 "'mode' must be 'drop' or 'reject'");
    expect_error("{\"kind\":\"partition\",\"groups\":[[\"10.0.0.0/8\"],[\"10.1.0.0/16\"]]}",
                 "overlaps");
    expect_error("{\"kind\":\"one-way\",\"from\":[\"10.0.0.0/8\"]}", "missing key 'to'");
    expect_error("{\"kind\":\"one-way\",\"from\":\"10.0.0.0/8\",\"to\":[\"11.0.0.0/8\"]}",
                 "'from' must be a list of CIDRs");
    expect_error("{\"kind\":\"isolate\",\"cidrs\":[]}", "'cidrs' must not be empty");
    expect_error("{\"kind\":\"loss\",\"percent\":150}", "'percent' must be between");
    expect_error("{\"kind\":\"loss\",\"percent\":\"10\"}", "'percent' must be a number");
    expect_error("{\"kind\":\"loss\",\"percent\":10,\"exempt\":[\"x\"]}", "bad CIDR 'x'");
    expect_error("{\"kind\":\"partition\",\"kind\":\"loss\"}", "bad JSON");
}

static void parse_should_expose_cidrs_for_allowlists(void **state)
{
    struct inj_fault *f = parse_ok("{\"kind\":\"partition\",\"groups\":[[\"198.18.1.0/"
                                   "24\",\"198.18.2.0/24\"],[\"fd00::/64\"]]}");
    const struct fl_cidr *c;
    size_t n;
    char buf[128];

    c = inj_fault_cidrs(f, &n);
    assert_int_equal(n, 3);
    assert_int_equal(c[2].family, AF_INET6);
    assert_string_equal(inj_fault_kind(f), "partition");
    assert_true(inj_fault_needs(f) & INJ_CAP_NFTABLES);
    inj_fault_describe(f, buf, sizeof(buf));
    assert_non_null(strstr(buf, "2 groups (3 CIDRs)"));
    inj_fault_free(f);
}

static void equal_specs_should_compare_equal(void **state)
{
    struct inj_fault *a = parse_ok("{\"kind\":\"loss\",\"percent\":10}");
    struct inj_fault *b = parse_ok("{\"percent\":10,\"kind\":\"loss\"}");
    struct inj_fault *c = parse_ok("{\"kind\":\"loss\",\"percent\":11}");

    assert_true(inj_fault_equal(a, b));
    assert_false(inj_fault_equal(a, c));
    inj_fault_free(a);
    inj_fault_free(b);
    inj_fault_free(c);
}

static void ids_should_be_validated(void **state)
{
    char longid[INJ_ID_MAX + 2];

    assert_true(inj_id_valid("f1"));
    assert_true(inj_id_valid("west-isolate_2.a"));
    assert_false(inj_id_valid(""));
    assert_false(inj_id_valid(".hidden"));
    assert_false(inj_id_valid("a/b"));
    assert_false(inj_id_valid("a b"));
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    assert_false(inj_id_valid(longid));
}

static struct inj_ctx *fake_ctx(void)
{
    static struct inj_ctx ctx;
    static struct fl_cidr ctl;

    memset(&ctx, 0, sizeof(ctx));
    fl_cidr_parse("198.19.0.0/24", &ctl, NULL);
    ctx.exempt = &ctl;
    ctx.n_exempt = 1;
    return &ctx;
}

static void partition_plan_should_cut_both_directions_after_exemption(void **state)
{
    struct inj_fault *f = parse_ok("{\"kind\":\"partition\",\"mode\":\"drop\",\"groups\":[["
                                   "\"198.18.1.0/24\"],[\"198.18.2.0/24\"],[\"198.18.3.0/24\"]]}");
    struct nftp_plan pl;

    assert_int_equal(inj_packet_plan(fake_ctx(), "p1", f, &pl), 0);
    assert_string_equal(pl.chain, "p1");
    /* exemption set + 3 group sets, v4 only */
    assert_int_equal(pl.nsets, 4);
    assert_string_equal(pl.sets[0].name, "p1_x_4");
    assert_string_equal(pl.sets[1].name, "p1_g0_4");
    /* accept-exempt first, then 3*2 ordered pairs */
    assert_int_equal(pl.nrules, 7);
    assert_int_equal(pl.rules[0].verdict, NFTP_ACCEPT);
    assert_int_equal(pl.rules[0].saddr_set, 0);
    assert_int_equal(pl.rules[1].verdict, NFTP_DROP);
    assert_int_equal(pl.rules[1].saddr_set, 1);
    assert_int_equal(pl.rules[1].daddr_set, 2);
    assert_true(pl.rules[1].counter);
    inj_fault_free(f);
}

static void reject_plan_should_reset_tcp_and_answer_icmp(void **state)
{
    struct inj_fault *f = parse_ok("{\"kind\":\"one-way\",\"mode\":\"reject\",\"from\":["
                                   "\"198.18.1.0/24\"],\"to\":[\"198.18.2.0/24\"]}");
    struct nftp_plan pl;

    assert_int_equal(inj_packet_plan(fake_ctx(), "ow", f, &pl), 0);
    assert_int_equal(pl.nrules, 3);
    assert_int_equal(pl.rules[1].verdict, NFTP_REJECT_TCP);
    assert_true(pl.rules[1].tcp_only);
    assert_int_equal(pl.rules[2].verdict, NFTP_REJECT_ICMPX);
    inj_fault_free(f);
}

static void isolate_plan_should_cut_in_and_out(void **state)
{
    struct inj_fault *f =
        parse_ok("{\"kind\":\"isolate\",\"cidrs\":[\"198.18.1.0/24\",\"fd00:1::/64\"]}");
    struct nftp_plan pl;

    assert_int_equal(inj_packet_plan(fake_ctx(), "iso", f, &pl), 0);
    /* v4: accept + in + out; v6: in + out (no v6 exemption) */
    assert_int_equal(pl.nrules, 5);
    assert_true(pl.rules[1].saddr_neg);
    assert_false(pl.rules[1].daddr_neg);
    assert_false(pl.rules[2].saddr_neg);
    assert_true(pl.rules[2].daddr_neg);
    assert_int_equal(pl.rules[3].family, AF_INET6);
    inj_fault_free(f);
}

static void loss_plan_should_use_numgen_threshold(void **state)
{
    struct inj_fault *f = parse_ok("{\"kind\":\"loss\",\"percent\":12.5}");
    struct nftp_plan pl;

    assert_int_equal(inj_packet_plan(fake_ctx(), "l", f, &pl), 0);
    assert_int_equal(pl.rules[1].per10k, 1250);
    assert_true(pl.rules[1].skip_lo);
    inj_fault_free(f);
}

/* Walk a built batch: count message types and parse rules back. */
struct tally {
    int newtable, newchain, newset, newsetelem, newrule, delrule, delchain, delset, deltable;
    int lookups, counters, rejects, numgens;
};

static void tally_batch(const struct nftp_batch *b, struct tally *t)
{
    const struct nlmsghdr *nlh = (const struct nlmsghdr *)b->buf;
    int len = (int)b->len;

    memset(t, 0, sizeof(*t));
    for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
        int type = nlh->nlmsg_type & 0xff;

        if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN || nlh->nlmsg_type == NFNL_MSG_BATCH_END)
            continue;
        switch (type) {
        case NFT_MSG_NEWTABLE:
            t->newtable++;
            break;
        case NFT_MSG_NEWCHAIN:
            t->newchain++;
            break;
        case NFT_MSG_NEWSET:
            t->newset++;
            break;
        case NFT_MSG_NEWSETELEM:
            t->newsetelem++;
            break;
        case NFT_MSG_DELRULE:
            t->delrule++;
            break;
        case NFT_MSG_DELCHAIN:
            t->delchain++;
            break;
        case NFT_MSG_DELSET:
            t->delset++;
            break;
        case NFT_MSG_DELTABLE:
            t->deltable++;
            break;
        case NFT_MSG_NEWRULE: {
            struct nftnl_rule *r = nftnl_rule_alloc();
            struct nftnl_expr_iter *it;
            struct nftnl_expr *e;

            t->newrule++;
            assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
            assert_string_equal(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), "faultline");
            it = nftnl_expr_iter_create(r);
            while ((e = nftnl_expr_iter_next(it)) != NULL) {
                const char *n = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

                t->lookups += strcmp(n, "lookup") == 0;
                t->counters += strcmp(n, "counter") == 0;
                t->rejects += strcmp(n, "reject") == 0;
                t->numgens += strcmp(n, "numgen") == 0;
            }
            nftnl_expr_iter_destroy(it);
            nftnl_rule_free(r);
            break;
        }
        }
    }
}

static void batch_should_hold_one_atomic_transaction(void **state)
{
    struct inj_fault *f = parse_ok("{\"kind\":\"partition\",\"mode\":\"reject\",\"groups\":[["
                                   "\"198.18.1.0/24\"],[\"198.18.2.0/24\"]]}");
    struct nftp_plan pl;
    struct nftp_batch b;
    const struct nlmsghdr *first, *last;
    struct tally t;
    const struct nlmsghdr *nlh;
    int len;

    assert_int_equal(inj_packet_plan(fake_ctx(), "p", f, &pl), 0);
    nftp_batch_init(&b, 100);
    assert_int_equal(nftp_build_apply(&b, &pl, NULL), 0);
    assert_int_equal(nftp_build_end(&b), 0);
    first = (const struct nlmsghdr *)b.buf;
    assert_int_equal(first->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
    nlh = first;
    len = (int)b.len;
    last = nlh;
    for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
        last = nlh;
    assert_int_equal(last->nlmsg_type, NFNL_MSG_BATCH_END);
    tally_batch(&b, &t);
    assert_int_equal(t.newtable, 1);
    assert_int_equal(t.newchain, 1);
    assert_int_equal(t.newset, 3);
    assert_int_equal(t.newsetelem, 3);
    /* accept + 2 directions * (tcp reset + icmp) */
    assert_int_equal(t.newrule, 5);
    assert_int_equal(t.rejects, 4);
    assert_int_equal(t.counters, 4);
    assert_int_equal(t.lookups, 1 + 4 * 2);
    assert_int_equal(b.nacks, 1 + 1 + 3 + 3 + 5);
    nftp_batch_free(&b);
    inj_fault_free(f);
}

static void large_sets_should_be_split_and_merged(void **state)
{
    /* 1000 spaced /32s stay 1000 intervals: 2001 elements, split over several messages. */
    json_t *spec = json_pack("{s:s, s:[[], [s]]}", "kind", "partition", "groups", "10.0.0.0/8");
    json_t *g0 = json_array_get(json_object_get(spec, "groups"), 0);
    struct inj_fault *f = NULL;
    struct nftp_plan pl;
    struct nftp_batch b;
    struct tally t;
    char a[32];
    int i;

    for (i = 0; i < 1000; i++) {
        snprintf(a, sizeof(a), "172.16.%d.%d/32", i / 100, (i % 100) * 2);
        json_array_append_new(g0, json_string(a));
    }
    assert_int_equal(inj_fault_parse_json(spec, &f, NULL), 0);
    assert_int_equal(inj_packet_plan(fake_ctx(), "big", f, &pl), 0);
    nftp_batch_init(&b, 1);
    assert_int_equal(nftp_build_apply(&b, &pl, NULL), 0);
    tally_batch(&b, &t);
    /* 1000 intervals = 2000 elements + leading end: split over several messages */
    assert_true(t.newsetelem >= 4);
    nftp_batch_free(&b);
    inj_fault_free(f);
    json_decref(spec);
}

/*
 * The batch's messages in order, one letter each with the object it names:
 * "begin", "end", "delrule <chain>" (no handle: the whole chain's rules),
 * "delchain <chain>", "delset <set>"; anything else is "other".
 */
static void batch_sequence(const struct nftp_batch *b, char *out, size_t cap)
{
    const struct nlmsghdr *nlh = (const struct nlmsghdr *)b->buf;
    int len = (int)b->len;
    size_t used = 0;

    out[0] = '\0';
    for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
        char one[128];

        if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN) {
            snprintf(one, sizeof(one), "begin;");
        } else if (nlh->nlmsg_type == NFNL_MSG_BATCH_END) {
            snprintf(one, sizeof(one), "end;");
        } else if ((nlh->nlmsg_type & 0xff) == NFT_MSG_DELRULE) {
            struct nftnl_rule *r = nftnl_rule_alloc();

            assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
            snprintf(one, sizeof(one), "delrule %s%s;", nftnl_rule_get_str(r, NFTNL_RULE_CHAIN),
                     nftnl_rule_is_set(r, NFTNL_RULE_HANDLE) ? " (one handle)" : "");
            nftnl_rule_free(r);
        } else if ((nlh->nlmsg_type & 0xff) == NFT_MSG_DELCHAIN) {
            struct nftnl_chain *c = nftnl_chain_alloc();

            assert_int_equal(nftnl_chain_nlmsg_parse(nlh, c), 0);
            snprintf(one, sizeof(one), "delchain %s;", nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
            nftnl_chain_free(c);
        } else if ((nlh->nlmsg_type & 0xff) == NFT_MSG_DELSET) {
            struct nftnl_set *st = nftnl_set_alloc();

            assert_int_equal(nftnl_set_nlmsg_parse(nlh, st), 0);
            snprintf(one, sizeof(one), "delset %s;", nftnl_set_get_str(st, NFTNL_SET_NAME));
            nftnl_set_free(st);
        } else {
            snprintf(one, sizeof(one), "other;");
        }
        used += (size_t)snprintf(out + used, used < cap ? cap - used : 0, "%s", one);
        assert_true(used < cap);
    }
}

static void delete_batch_should_flush_before_deleting(void **state)
{
    char s0[] = "d_g0_4", s1[] = "d_g1_4";
    char *sets[] = {s0, s1};
    struct nftp_batch b;
    struct tally t;
    char seq[512];

    nftp_batch_init(&b, 1);
    assert_int_equal(nftp_build_delete(&b, "d", sets, 2, NULL), 0);
    assert_int_equal(nftp_build_end(&b), 0);
    tally_batch(&b, &t);
    assert_int_equal(t.delrule, 1);
    assert_int_equal(t.delchain, 1);
    assert_int_equal(t.delset, 2);
    /*
     * Order matters: a chain must be empty before it goes, and a set cannot go
     * while a rule still looks it up. Flush the chain's rules, delete the
     * chain, then its sets, in one transaction.
     */
    batch_sequence(&b, seq, sizeof(seq));
    assert_string_equal(seq, "begin;delrule d;delchain d;delset d_g0_4;delset d_g1_4;end;");
    nftp_batch_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_should_refuse_bad_input_precisely),
        cmocka_unit_test(parse_should_expose_cidrs_for_allowlists),
        cmocka_unit_test(equal_specs_should_compare_equal),
        cmocka_unit_test(ids_should_be_validated),
        cmocka_unit_test(partition_plan_should_cut_both_directions_after_exemption),
        cmocka_unit_test(reject_plan_should_reset_tcp_and_answer_icmp),
        cmocka_unit_test(isolate_plan_should_cut_in_and_out),
        cmocka_unit_test(loss_plan_should_use_numgen_threshold),
        cmocka_unit_test(batch_should_hold_one_atomic_transaction),
        cmocka_unit_test(large_sets_should_be_split_and_merged),
        cmocka_unit_test(delete_batch_should_flush_before_deleting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
