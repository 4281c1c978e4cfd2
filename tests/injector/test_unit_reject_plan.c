/*
 * The reject rules' pass-through of the partner's answers, checked without a
 * kernel: reject rules (and only they) carry pass_answers; the TCP reject
 * rule tests "tcp flags & rst == 0" (payload + bitwise + cmp), the ICMPX
 * rule excludes TCP and, through one range per excluded type span, ICMP
 * destination unreachable (v4) or ICMPv6 destination unreachable plus
 * neighbour discovery (v6). The live behaviour is test_netns_reject.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

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

static struct inj_ctx *fake_ctx(void)
{
    static struct inj_ctx ctx;

    return &ctx;
}

struct rule_exprs {
    int bitwise, ranges, payload_th; /* per rule */
    bool rejects;
};

/* Parse the NEWRULE messages of a built batch back; up to 16 rules. */
static size_t rules_of(const struct nftp_plan *pl, struct rule_exprs *out)
{
    struct nftp_plan copy = *pl;
    struct nftp_batch b;
    const struct nlmsghdr *nlh;
    size_t n = 0;
    int len;

    nftp_batch_init(&b, 1);
    assert_int_equal(nftp_build_apply(&b, &copy, NULL), 0);
    assert_int_equal(nftp_build_end(&b), 0);
    nlh = (const struct nlmsghdr *)b.buf;
    len = (int)b.len;
    for (; mnl_nlmsg_ok(nlh, len) && n < 16; nlh = mnl_nlmsg_next(nlh, &len)) {
        struct nftnl_rule *r;
        struct nftnl_expr_iter *it;
        struct nftnl_expr *e;

        if ((nlh->nlmsg_type & 0xff) != NFT_MSG_NEWRULE || nlh->nlmsg_type == NFNL_MSG_BATCH_END)
            continue;
        r = nftnl_rule_alloc();
        assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
        memset(&out[n], 0, sizeof(out[n]));
        it = nftnl_expr_iter_create(r);
        while ((e = nftnl_expr_iter_next(it)) != NULL) {
            const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

            out[n].bitwise += strcmp(name, "bitwise") == 0;
            out[n].ranges += strcmp(name, "range") == 0;
            out[n].rejects |= strcmp(name, "reject") == 0;
            if (strcmp(name, "payload") == 0 &&
                nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE) == NFT_PAYLOAD_TRANSPORT_HEADER)
                out[n].payload_th++;
        }
        nftnl_expr_iter_destroy(it);
        nftnl_rule_free(r);
        n++;
    }
    nftp_batch_free(&b);
    return n;
}

static void reject_rules_should_pass_the_partners_answers(void **state)
{
    struct inj_fault *f = parse_ok("{\"kind\":\"partition\",\"mode\":\"reject\",\"groups\":[["
                                   "\"198.18.1.0/24\",\"fd00:1::/64\"],[\"198.18.2.0/24\","
                                   "\"fd00:2::/64\"]]}");
    struct nftp_plan pl;
    struct rule_exprs ex[16];
    size_t i, n;

    (void)state;
    assert_int_equal(inj_packet_plan(fake_ctx(), "rej", f, &pl), 0);
    /* Per family: 2 directions x (tcp reset + icmp). */
    assert_int_equal(pl.nrules, 8);
    for (i = 0; i < pl.nrules; i++)
        assert_true(pl.rules[i].pass_answers);
    n = rules_of(&pl, ex);
    assert_int_equal(n, 8);
    for (i = 0; i < n; i++) {
        const struct nftp_rule *r = &pl.rules[i];

        assert_true(ex[i].rejects);
        if (r->verdict == NFTP_REJECT_TCP) {
            /* tcp flags & rst == 0 */
            assert_int_equal(ex[i].bitwise, 1);
            assert_int_equal(ex[i].payload_th, 1);
            assert_int_equal(ex[i].ranges, 0);
        } else {
            /* not unreachable (v4); not unreachable, not neighbour discovery (v6) */
            assert_int_equal(r->verdict, NFTP_REJECT_ICMPX);
            assert_int_equal(ex[i].bitwise, 0);
            assert_int_equal(ex[i].payload_th, 1);
            assert_int_equal(ex[i].ranges, r->family == AF_INET6 ? 2 : 1);
        }
    }
    inj_fault_free(f);
}

static void drop_rules_should_pass_nothing(void **state)
{
    static const char *const specs[] = {
        "{\"kind\":\"partition\",\"groups\":[[\"198.18.1.0/24\"],[\"198.18.2.0/24\"]]}",
        "{\"kind\":\"isolate\",\"cidrs\":[\"198.18.1.0/24\"]}",
        "{\"kind\":\"loss\",\"percent\":50}",
    };
    struct rule_exprs ex[16];
    struct nftp_plan pl;
    size_t i, k, n;

    (void)state;
    for (k = 0; k < sizeof(specs) / sizeof(specs[0]); k++) {
        struct inj_fault *f = parse_ok(specs[k]);

        assert_int_equal(inj_packet_plan(fake_ctx(), "d", f, &pl), 0);
        for (i = 0; i < pl.nrules; i++)
            assert_false(pl.rules[i].pass_answers);
        n = rules_of(&pl, ex);
        for (i = 0; i < n; i++) {
            assert_int_equal(ex[i].ranges, 0);
            assert_int_equal(ex[i].payload_th, 0);
        }
        inj_fault_free(f);
    }
}

static void reject_isolate_should_pass_answers_both_ways(void **state)
{
    struct inj_fault *f =
        parse_ok("{\"kind\":\"isolate\",\"mode\":\"reject\",\"cidrs\":[\"198.18.1.0/24\"]}");
    struct nftp_plan pl;
    size_t i;

    (void)state;
    assert_int_equal(inj_packet_plan(fake_ctx(), "iso", f, &pl), 0);
    assert_int_equal(pl.nrules, 4);
    for (i = 0; i < pl.nrules; i++)
        assert_true(pl.rules[i].pass_answers);
    inj_fault_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reject_rules_should_pass_the_partners_answers),
        cmocka_unit_test(drop_rules_should_pass_nothing),
        cmocka_unit_test(reject_isolate_should_pass_answers_both_ways),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
