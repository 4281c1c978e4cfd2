/*
 * Unit tests of the rtnetlink and process fault kinds without a kernel:
 * strict spec parsing (including the inputs that must be refused), the
 * rate/size syntax, the extended-ack parser, and the netlink messages the
 * qdisc and route kinds would send (built with libnl, checked byte by byte).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/route.h>
#include <netlink/route/tc.h>
#include <netlink/utils.h>

#include "inj_rtnl.h"
#include "testutil.h"

static struct inj_fault *parse_ok(const char *text)
{
    struct fl_err e = {0};
    struct inj_fault *f = NULL;
    int r = inj_fault_parse(text, strlen(text), &f, &e);

    if (r != 0)
        fail_msg("expected %s to parse, got %d: %s", text, r, e.msg);
    return f;
}

/* Parse must fail with -EINVAL (or code) and the message must contain want. */
static void parse_bad(const char *text, const char *want)
{
    struct fl_err e = {0};
    struct inj_fault *f = NULL;
    int r = inj_fault_parse(text, strlen(text), &f, &e);

    if (r >= 0)
        fail_msg("expected %s to be refused", text);
    assert_null(f);
    if (strstr(e.msg, want) == NULL)
        fail_msg("error for %s is '%s', expected it to mention '%s'", text, e.msg, want);
}

/* ---- qdisc kinds ---- */

static void latency_should_parse_and_describe(void **state)
{
    struct inj_fault *f =
        parse_ok("{\"kind\":\"latency\",\"dev\":\"veth0\",\"delay\":\"100ms\",\"jitter\":\"10ms\","
                 "\"correlation\":25}");
    char buf[200];
    size_t n;
    const char *const *devs;

    (void)state;
    assert_int_equal(inj_fault_needs(f), INJ_CAP_NETEM);
    devs = inj_fault_devs(f, &n);
    assert_int_equal(n, 1);
    assert_string_equal(devs[0], "veth0");
    inj_fault_describe(f, buf, sizeof(buf));
    assert_non_null(strstr(buf, "veth0"));
    assert_non_null(strstr(buf, "100ms"));
    inj_fault_free(f);
}

static void qdisc_kinds_should_refuse_bad_specs(void **state)
{
    (void)state;
    parse_bad("{\"kind\":\"latency\",\"delay\":\"100ms\"}", "missing key 'dev'");
    parse_bad("{\"kind\":\"latency\",\"dev\":\"veth0\"}", "missing key 'delay'");
    parse_bad("{\"kind\":\"latency\",\"dev\":\"veth0\",\"delay\":\"100\"}", "missing unit");
    parse_bad("{\"kind\":\"latency\",\"dev\":\"veth0\",\"delay\":100}", "must be a string");
    parse_bad("{\"kind\":\"latency\",\"dev\":\"veth0\",\"delay\":\"0ms\"}", "above 0");
    parse_bad("{\"kind\":\"latency\",\"dev\":\"veth0\",\"delay\":\"2m\"}", "at most");
    parse_bad("{\"kind\":\"latency\",\"dev\":\"veth0\",\"delay\":\"1ms\",\"dealy\":\"1ms\"}",
              "unknown key 'dealy'");
    parse_bad("{\"kind\":\"latency\",\"dev\":\"veth0\",\"delay\":\"1ms\",\"correlation\":20}",
              "needs 'jitter'");
    parse_bad("{\"kind\":\"latency\",\"dev\":\"this-name-is-too-long\",\"delay\":\"1ms\"}",
              "bad interface name");
    parse_bad("{\"kind\":\"latency\",\"dev\":\"eth0:1\",\"delay\":\"1ms\"}", "bad interface name");
    parse_bad("{\"kind\":\"latency\",\"dev\":\"a/b\",\"delay\":\"1ms\"}", "bad interface name");
    parse_bad("{\"kind\":\"latency\",\"dev\":\"a b\",\"delay\":\"1ms\"}", "bad interface name");
    parse_bad("{\"kind\":\"latency\",\"dev\":\"\",\"delay\":\"1ms\"}", "bad interface name");
    parse_bad("{\"kind\":\"latency\",\"dev\":\"..\",\"delay\":\"1ms\"}", "bad interface name");
    parse_bad("{\"kind\":\"jitter\",\"dev\":\"veth0\"}", "missing key 'jitter'");
    parse_bad("{\"kind\":\"duplicate\",\"dev\":\"veth0\"}", "missing key 'percent'");
    parse_bad("{\"kind\":\"duplicate\",\"dev\":\"veth0\",\"percent\":101}", "between 0 and 100");
    parse_bad("{\"kind\":\"duplicate\",\"dev\":\"veth0\",\"percent\":-1}", "between 0 and 100");
    parse_bad("{\"kind\":\"corrupt\",\"dev\":\"veth0\",\"percent\":0}", "above 0");
    parse_bad("{\"kind\":\"corrupt\",\"dev\":\"veth0\",\"percent\":\"5\"}", "must be a number");
    parse_bad("{\"kind\":\"reorder\",\"dev\":\"veth0\",\"percent\":25}", "missing key 'delay'");
    parse_bad("{\"kind\":\"reorder\",\"dev\":\"veth0\",\"percent\":25,\"delay\":\"10ms\","
              "\"gap\":3}",
              "unknown key 'gap'");
}

static void bandwidth_should_refuse_bad_rates(void **state)
{
    (void)state;
    parse_bad("{\"kind\":\"bandwidth\",\"dev\":\"veth0\"}", "missing key 'rate'");
    parse_bad("{\"kind\":\"bandwidth\",\"dev\":\"veth0\",\"rate\":\"1\"}", "missing unit");
    parse_bad("{\"kind\":\"bandwidth\",\"dev\":\"veth0\",\"rate\":\"1mbps\"}", "unknown unit");
    parse_bad("{\"kind\":\"bandwidth\",\"dev\":\"veth0\",\"rate\":\"1 mbit\"}", "unknown unit");
    parse_bad("{\"kind\":\"bandwidth\",\"dev\":\"veth0\",\"rate\":\"mbit\"}", "expected a number");
    parse_bad("{\"kind\":\"bandwidth\",\"dev\":\"veth0\",\"rate\":\"-1mbit\"}",
              "expected a number");
    parse_bad("{\"kind\":\"bandwidth\",\"dev\":\"veth0\",\"rate\":\"1.mbit\"}",
              "expected a number");
    parse_bad("{\"kind\":\"bandwidth\",\"dev\":\"veth0\",\"rate\":\"0bit\"}", "below 8bit");
    parse_bad("{\"kind\":\"bandwidth\",\"dev\":\"veth0\",\"rate\":\"11gbit\"}", "above 10gbit");
    parse_bad("{\"kind\":\"bandwidth\",\"dev\":\"veth0\",\"rate\":1000000}", "must be a string");
    parse_bad("{\"kind\":\"bandwidth\",\"dev\":\"veth0\",\"rate\":\"1mbit\",\"burst\":\"10k\"}",
              "unit must be b, kb or mb");
    parse_bad("{\"kind\":\"bandwidth\",\"dev\":\"veth0\",\"rate\":\"1mbit\",\"latency\":\"0s\"}",
              "above 0");
    parse_bad("{\"kind\":\"bandwidth\",\"dev\":\"veth0\",\"rate\":\"1mbit\",\"delay\":\"1s\"}",
              "unknown key 'delay'");
}

static void rate_and_size_should_parse_strictly(void **state)
{
    uint64_t v = 0;

    (void)state;
    assert_int_equal(inj_rate_parse("1mbit", &v, NULL), 0);
    assert_int_equal(v, 125000);
    assert_int_equal(inj_rate_parse("1.5mbit", &v, NULL), 0);
    assert_int_equal(v, 187500);
    assert_int_equal(inj_rate_parse("800kbit", &v, NULL), 0);
    assert_int_equal(v, 100000);
    assert_int_equal(inj_rate_parse("10gbit", &v, NULL), 0);
    assert_int_equal(v, 1250000000ull);
    assert_int_equal(inj_rate_parse("64bit", &v, NULL), 0);
    assert_int_equal(v, 8);
    assert_int_equal(inj_rate_parse("1Mbit", &v, NULL), -EINVAL);
    assert_int_equal(inj_rate_parse("", &v, NULL), -EINVAL);
    assert_int_equal(inj_rate_parse("1mbit ", &v, NULL), -EINVAL);
    assert_int_equal(inj_size_parse("32kb", &v, NULL), 0);
    assert_int_equal(v, 32768);
    assert_int_equal(inj_size_parse("1500b", &v, NULL), 0);
    assert_int_equal(v, 1500);
    assert_int_equal(inj_size_parse("0b", &v, NULL), -EINVAL);
    assert_int_equal(inj_size_parse("65mb", &v, NULL), -EINVAL);
    assert_int_equal(inj_size_parse("1k", &v, NULL), -EINVAL);
}

/* The TCA_KIND string and the TCA_OPTIONS payload of a qdisc add request. */
static struct nl_msg *qdisc_msg(const char *spec, int ifindex, const char **kind, const void **opts,
                                int *optlen, const struct tcmsg **tcm)
{
    struct inj_fault *f = parse_ok(spec);
    struct rtnl_qdisc *q = NULL;
    struct nl_msg *msg = NULL;
    struct nlattr *tb[TCA_MAX + 1];
    struct nlmsghdr *nlh;

    assert_int_equal(inj_qdisc_build(f, ifindex, &q, NULL), 0);
    assert_int_equal(rtnl_qdisc_build_add_request(q, NLM_F_CREATE | NLM_F_EXCL, &msg), 0);
    nlh = nlmsg_hdr(msg);
    assert_int_equal(nlh->nlmsg_type, RTM_NEWQDISC);
    assert_true(nlh->nlmsg_flags & NLM_F_EXCL);
    assert_true(nlh->nlmsg_flags & NLM_F_CREATE);
    *tcm = nlmsg_data(nlh);
    assert_int_equal(nlmsg_parse(nlh, sizeof(struct tcmsg), tb, TCA_MAX, NULL), 0);
    assert_non_null(tb[TCA_KIND]);
    assert_non_null(tb[TCA_OPTIONS]);
    *kind = nla_get_string(tb[TCA_KIND]);
    *opts = nla_data(tb[TCA_OPTIONS]);
    *optlen = nla_len(tb[TCA_OPTIONS]);
    rtnl_qdisc_put(q);
    inj_fault_free(f);
    return msg;
}

static void latency_should_build_netem_root_qdisc_fa17(void **state)
{
    const struct tcmsg *tcm;
    const struct tc_netem_qopt *qo;
    const void *opts;
    const char *kind;
    int len;
    struct nl_msg *msg = qdisc_msg(
        "{\"kind\":\"latency\",\"dev\":\"veth0\",\"delay\":\"100ms\",\"jitter\":\"10ms\"}", 7,
        &kind, &opts, &len, &tcm);

    (void)state;
    assert_string_equal(kind, "netem");
    assert_int_equal(tcm->tcm_ifindex, 7);
    assert_int_equal(tcm->tcm_parent, TC_H_ROOT);
    assert_int_equal(tcm->tcm_handle, 0xfa170000u);
    assert_true(len >= (int)sizeof(*qo));
    qo = opts;
    /* 100ms and 10ms in psched ticks, at this kernel's tick rate (as tc converts them). */
    assert_int_equal(qo->latency, nl_us2ticks(100 * 1000));
    assert_int_equal(qo->jitter, nl_us2ticks(10 * 1000));
    assert_int_equal(qo->latency / 10, qo->jitter);
    assert_int_equal(qo->limit, 1000);
    assert_int_equal(qo->loss, 0);
    assert_int_equal(qo->duplicate, 0);
    nlmsg_free(msg);
}

static void duplicate_should_build_netem_probability(void **state)
{
    const struct tcmsg *tcm;
    const struct tc_netem_qopt *qo;
    const void *opts;
    const char *kind;
    int len;
    struct nl_msg *msg = qdisc_msg("{\"kind\":\"duplicate\",\"dev\":\"veth0\",\"percent\":50}", 3,
                                   &kind, &opts, &len, &tcm);

    (void)state;
    assert_string_equal(kind, "netem");
    qo = opts;
    assert_int_equal(qo->duplicate, inj_netem_prob(50));
    assert_true(qo->duplicate > 0x7ffffff0u && qo->duplicate < 0x80000010u);
    assert_int_equal(qo->latency, 0);
    nlmsg_free(msg);
    assert_int_equal(inj_netem_prob(100), UINT32_MAX);
    assert_int_equal(inj_netem_prob(0), 0);
}

static void reorder_and_corrupt_should_carry_nested_options(void **state)
{
    const struct tcmsg *tcm;
    const struct tc_netem_qopt *qo;
    const struct nlattr *a;
    const void *opts;
    const char *kind;
    int len, rem, seen_reorder = 0, seen_corrupt = 0;
    struct nl_msg *msg =
        qdisc_msg("{\"kind\":\"reorder\",\"dev\":\"veth0\",\"percent\":25,\"delay\":\"10ms\"}", 3,
                  &kind, &opts, &len, &tcm);

    (void)state;
    qo = opts;
    assert_int_equal(qo->gap, 1);
    assert_int_equal(qo->latency, nl_us2ticks(10 * 1000));
    /* netem's nested attributes follow the fixed struct inside TCA_OPTIONS */
    a = (const struct nlattr *)((const char *)opts + NLA_ALIGN(sizeof(*qo)));
    rem = len - (int)NLA_ALIGN(sizeof(*qo));
    for (; nla_ok(a, rem); a = nla_next(a, &rem))
        if (nla_type(a) == TCA_NETEM_REORDER) {
            const struct tc_netem_reorder *ro = nla_data(a);

            assert_int_equal(ro->probability, inj_netem_prob(25));
            seen_reorder = 1;
        }
    assert_true(seen_reorder);
    nlmsg_free(msg);

    msg = qdisc_msg("{\"kind\":\"corrupt\",\"dev\":\"veth0\",\"percent\":1}", 3, &kind, &opts, &len,
                    &tcm);
    a = (const struct nlattr *)((const char *)opts + NLA_ALIGN(sizeof(*qo)));
    rem = len - (int)NLA_ALIGN(sizeof(*qo));
    for (; nla_ok(a, rem); a = nla_next(a, &rem))
        if (nla_type(a) == TCA_NETEM_CORRUPT) {
            const struct tc_netem_corrupt *c = nla_data(a);

            assert_int_equal(c->probability, inj_netem_prob(1));
            seen_corrupt = 1;
        }
    assert_true(seen_corrupt);
    nlmsg_free(msg);
}

static void bandwidth_should_build_tbf_with_rate(void **state)
{
    const struct tcmsg *tcm;
    const void *opts;
    const char *kind;
    const struct nlattr *a;
    int len, rem, seen = 0;
    struct nl_msg *msg = qdisc_msg(
        "{\"kind\":\"bandwidth\",\"dev\":\"veth0\",\"rate\":\"1mbit\",\"burst\":\"32kb\"}", 9,
        &kind, &opts, &len, &tcm);

    (void)state;
    assert_string_equal(kind, "tbf");
    assert_int_equal(tcm->tcm_handle, 0xfa170000u);
    assert_int_equal(tcm->tcm_parent, TC_H_ROOT);
    for (a = opts, rem = len; nla_ok(a, rem); a = nla_next(a, &rem)) {
        if (nla_type(a) == TCA_TBF_PARMS) {
            const struct tc_tbf_qopt *t = nla_data(a);

            assert_int_equal(t->rate.rate, 125000);
            /* limit = rate * 50ms + burst */
            assert_int_equal(t->limit, 125000 / 20 + 32768);
            assert_true(t->buffer > 0);
            seen = 1;
        }
    }
    assert_true(seen);
    nlmsg_free(msg);
}

/* ---- link-down ---- */

static void link_down_should_parse(void **state)
{
    struct inj_fault *f = parse_ok("{\"kind\":\"link-down\",\"dev\":\"eth1\"}");

    (void)state;
    assert_int_equal(inj_fault_needs(f), INJ_CAP_LINK);
    inj_fault_free(f);
    parse_bad("{\"kind\":\"link-down\"}", "missing key 'dev'");
    parse_bad("{\"kind\":\"link-down\",\"dev\":\"eth1\",\"up\":true}", "unknown key 'up'");
    parse_bad("{\"kind\":\"link-down\",\"dev\":7}", "must be a string");
    parse_bad("{\"kind\":\"link-down\",\"dev\":\"0123456789abcdef\"}", "bad interface name");
}

/* ---- blackhole ---- */

static void blackhole_should_parse_types_and_cidrs(void **state)
{
    struct inj_fault *f =
        parse_ok("{\"kind\":\"blackhole\",\"cidrs\":[\"10.1.0.0/16\",\"fd00::/64\"],"
                 "\"type\":\"prohibit\"}");
    const struct fl_cidr *c;
    size_t n;

    (void)state;
    assert_int_equal(inj_fault_needs(f), INJ_CAP_ROUTE);
    c = inj_fault_cidrs(f, &n);
    assert_int_equal(n, 2);
    assert_int_equal(c[0].family, AF_INET);
    assert_int_equal(c[1].family, AF_INET6);
    inj_fault_free(f);
    f = parse_ok("{\"kind\":\"blackhole\",\"cidrs\":[\"10.1.2.3\"]}");
    inj_fault_free(f);
    parse_bad("{\"kind\":\"blackhole\"}", "missing key 'cidrs'");
    parse_bad("{\"kind\":\"blackhole\",\"cidrs\":[]}", "must not be empty");
    parse_bad("{\"kind\":\"blackhole\",\"cidrs\":[\"10.1.0.1/16\"]}", "10.1.0.1/16");
    parse_bad("{\"kind\":\"blackhole\",\"cidrs\":[\"10.1.0.0/16\"],\"type\":\"drop\"}",
              "must be blackhole, prohibit or unreachable");
    parse_bad("{\"kind\":\"blackhole\",\"cidrs\":[\"10.1.0.0/16\"],\"type\":\"prohibt\"}",
              "did you mean 'prohibit'");
    parse_bad("{\"kind\":\"blackhole\",\"cidrs\":[\"10.1.0.0/16\",\"10.1.0.0/16\"]}", "twice");
    parse_bad("{\"kind\":\"blackhole\",\"cidrs\":\"10.1.0.0/16\"}", "list of CIDRs");
    parse_bad("{\"kind\":\"blackhole\",\"cidrs\":[\"10.1.0.0/16\"],\"dev\":\"eth0\"}",
              "unknown key 'dev'");
}

static void blackhole_should_build_route_with_protocol_fa(void **state)
{
    struct fl_cidr c;
    struct rtnl_route *rt = NULL;
    struct nl_msg *msg = NULL;
    struct nlmsghdr *nlh;
    struct rtmsg *rtm;

    (void)state;
    assert_int_equal(fl_cidr_parse("10.9.0.0/16", &c, NULL), 0);
    assert_int_equal(inj_route_build(&c, RTN_PROHIBIT, &rt, NULL), 0);
    assert_int_equal(rtnl_route_build_add_request(rt, NLM_F_CREATE | NLM_F_EXCL, &msg), 0);
    nlh = nlmsg_hdr(msg);
    assert_int_equal(nlh->nlmsg_type, RTM_NEWROUTE);
    rtm = nlmsg_data(nlh);
    assert_int_equal(rtm->rtm_family, AF_INET);
    assert_int_equal(rtm->rtm_dst_len, 16);
    assert_int_equal(rtm->rtm_type, RTN_PROHIBIT);
    assert_int_equal(rtm->rtm_protocol, 0xfa);
    assert_int_equal(rtm->rtm_table, RT_TABLE_MAIN);
    nlmsg_free(msg);
    rtnl_route_put(rt);
}

/* ---- process ---- */

static void process_should_parse_targets(void **state)
{
    struct inj_fault *f;
    char buf[256];

    (void)state;
    f = parse_ok(
        "{\"kind\":\"process\",\"action\":\"stop\",\"target\":{\"pidfile\":\"/run/x.pid\"}}");
    assert_int_equal(inj_fault_needs(f), INJ_CAP_PROCESS);
    inj_fault_describe(f, buf, sizeof(buf));
    assert_non_null(strstr(buf, "SIGCONT"));
    inj_fault_free(f);
    f = parse_ok(
        "{\"kind\":\"process\",\"action\":\"kill\",\"target\":{\"match\":\"redis-server\"}}");
    inj_fault_describe(f, buf, sizeof(buf));
    assert_non_null(strstr(buf, "revert does nothing"));
    inj_fault_free(f);
    f = parse_ok("{\"kind\":\"process\",\"action\":\"kill\",\"target\":{\"match\":\"redis\"},"
                 "\"restart_cmd\":[\"/usr/bin/redis-server\",\"/etc/redis.conf\"]}");
    inj_fault_describe(f, buf, sizeof(buf));
    assert_non_null(strstr(buf, "revert runs restart_cmd"));
    inj_fault_free(f);
    f = parse_ok(
        "{\"kind\":\"process\",\"action\":\"restart\",\"target\":{\"unit\":\"etcd.service\"}}");
    inj_fault_free(f);
}

static void process_should_refuse_bad_specs(void **state)
{
    (void)state;
    parse_bad("{\"kind\":\"process\",\"target\":{\"match\":\"x\"}}", "missing key 'action'");
    parse_bad("{\"kind\":\"process\",\"action\":\"pause\",\"target\":{\"match\":\"x\"}}",
              "must be stop, kill or restart");
    parse_bad("{\"kind\":\"process\",\"action\":\"stop\"}", "missing key 'target'");
    parse_bad("{\"kind\":\"process\",\"action\":\"stop\",\"target\":\"x\"}", "exactly one");
    parse_bad("{\"kind\":\"process\",\"action\":\"stop\",\"target\":{}}", "exactly one");
    parse_bad("{\"kind\":\"process\",\"action\":\"stop\",\"target\":{\"match\":\"x\","
              "\"unit\":\"y\"}}",
              "exactly one");
    parse_bad("{\"kind\":\"process\",\"action\":\"stop\",\"target\":{\"pid\":12}}",
              "unknown key 'pid'");
    parse_bad("{\"kind\":\"process\",\"action\":\"stop\",\"target\":{\"pidfile\":\"x.pid\"}}",
              "absolute path");
    parse_bad("{\"kind\":\"process\",\"action\":\"stop\",\"target\":{\"match\":\"\"}}",
              "non-empty string");
    parse_bad("{\"kind\":\"process\",\"action\":\"stop\",\"target\":{\"unit\":\"a b\"}}",
              "bad systemd unit name");
    parse_bad("{\"kind\":\"process\",\"action\":\"restart\",\"target\":{\"match\":\"x\"}}",
              "needs 'restart_cmd'");
    parse_bad("{\"kind\":\"process\",\"action\":\"kill\",\"target\":{\"match\":\"x\"},"
              "\"restart_cmd\":[]}",
              "non-empty list");
    parse_bad("{\"kind\":\"process\",\"action\":\"kill\",\"target\":{\"match\":\"x\"},"
              "\"restart_cmd\":\"/bin/x\"}",
              "non-empty list");
    parse_bad("{\"kind\":\"process\",\"action\":\"kill\",\"target\":{\"match\":\"x\"},"
              "\"restart_cmd\":[\"/bin/x\",3]}",
              "must be a string");
    parse_bad("{\"kind\":\"process\",\"action\":\"stop\",\"target\":{\"match\":\"x\"},"
              "\"restart_cmd\":[\"/bin/x\"]}",
              "makes no sense");
    parse_bad("{\"kind\":\"process\",\"action\":\"stop\",\"target\":{\"match\":\"x\"},\"sig\":9}",
              "unknown key 'sig'");
}

/* ---- extended ack parser ---- */

static void extack_should_be_read_from_error_tlvs(void **state)
{
    char buf[4096] = {0}, out[256];
    struct nlmsghdr *nlh;
    struct nlmsgerr *e;

    (void)state;
    /* capped ack: nlmsgerr with only the request's header, then TLVs */
    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = NLMSG_ERROR;
    nlh->nlmsg_flags = NLM_F_CAPPED | NLM_F_ACK_TLVS;
    e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
    e->error = -ENOENT;
    e->msg.nlmsg_len = 200; /* the request was longer; capped */
    mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, "Specified qdisc kind is unknown.");
    mnl_attr_put_u32(nlh, NLMSGERR_ATTR_OFFS, 36);
    assert_int_equal(inj_rtnl_extack_parse(nlh, out, sizeof(out)),
                     strlen("Specified qdisc kind is unknown."));
    assert_string_equal(out, "Specified qdisc kind is unknown.");

    /* uncapped: the whole request (here 24 bytes of payload) is echoed first */
    memset(buf, 0, sizeof(buf));
    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = NLMSG_ERROR;
    nlh->nlmsg_flags = NLM_F_ACK_TLVS;
    e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e) + 24);
    e->error = -EINVAL;
    e->msg.nlmsg_len = NLMSG_HDRLEN + 24;
    mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, "Invalid handle");
    inj_rtnl_extack_parse(nlh, out, sizeof(out));
    assert_string_equal(out, "Invalid handle");

    /* no TLV flag: nothing; lying lengths: nothing */
    nlh->nlmsg_flags = 0;
    inj_rtnl_extack_parse(nlh, out, sizeof(out));
    assert_string_equal(out, "");
    nlh->nlmsg_flags = NLM_F_ACK_TLVS;
    e->msg.nlmsg_len = 4000;
    inj_rtnl_extack_parse(nlh, out, sizeof(out));
    assert_string_equal(out, "");
}

static void nle_errors_should_map_to_errno(void **state)
{
    struct fl_err e = {0};
    struct inj_ctx ctx;

    (void)state;
    assert_int_equal(inj_rtnl_nle_errno(-NLE_EXIST), -EEXIST);
    assert_int_equal(inj_rtnl_nle_errno(-NLE_OBJ_NOTFOUND), -ENOENT);
    assert_int_equal(inj_rtnl_nle_errno(-NLE_PERM), -EPERM);
    assert_int_equal(inj_rtnl_nle_errno(-NLE_OPNOTSUPP), -EOPNOTSUPP);
    memset(&ctx, 0, sizeof(ctx));
    snprintf(ctx.extack, sizeof(ctx.extack), "%s", "Exclusivity flag on, cannot modify.");
    assert_int_equal(inj_rtnl_err(&ctx, -NLE_EXIST, "adding qdisc", &e), -EEXIST);
    assert_string_equal(e.msg, "adding qdisc: Exclusivity flag on, cannot modify.");
    assert_string_equal(ctx.extack, "");
    fl_err_clear(&e);
    assert_int_equal(inj_rtnl_err(&ctx, -NLE_PERM, "x", &e), -EPERM);
    assert_non_null(strstr(e.msg, "x: "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(latency_should_parse_and_describe),
        cmocka_unit_test(qdisc_kinds_should_refuse_bad_specs),
        cmocka_unit_test(bandwidth_should_refuse_bad_rates),
        cmocka_unit_test(rate_and_size_should_parse_strictly),
        cmocka_unit_test(latency_should_build_netem_root_qdisc_fa17),
        cmocka_unit_test(duplicate_should_build_netem_probability),
        cmocka_unit_test(reorder_and_corrupt_should_carry_nested_options),
        cmocka_unit_test(bandwidth_should_build_tbf_with_rate),
        cmocka_unit_test(link_down_should_parse),
        cmocka_unit_test(blackhole_should_parse_types_and_cidrs),
        cmocka_unit_test(blackhole_should_build_route_with_protocol_fa),
        cmocka_unit_test(process_should_parse_targets),
        cmocka_unit_test(process_should_refuse_bad_specs),
        cmocka_unit_test(extack_should_be_read_from_error_tlvs),
        cmocka_unit_test(nle_errors_should_map_to_errno),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
