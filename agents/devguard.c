/*
 * Device faults never cut the control channel. nf_tables faults exempt the
 * --control prefixes rule by rule; a device fault acts on a whole interface,
 * so the agent finds the interfaces its controller's traffic uses before
 * applying one: the interface that holds the --listen address, and every
 * interface the kernel routes a --control prefix through (a route lookup of
 * the prefix's first and last address, plus every more specific route
 * inside it, any table). On such an interface:
 *   link-down                      always refused;
 *   latency ... reorder, bandwidth refused unless the injector exempts the
 *                                  control prefixes there (a prio root with a
 *                                  filter that sends control traffic past the
 *                                  netem/tbf band; needs --control).
 * Lookups go through a fresh NETLINK_ROUTE socket of the agent's namespace.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "agent.h"
#include "faultline/inject_qdisc.h"
#include "faultline/log.h"

#define CTL_DEVS_MAX 64

struct devset {
    int ifindex[CTL_DEVS_MAX];
    char why[CTL_DEVS_MAX][96];
    size_t n;
};

static void devset_add(struct devset *s, int ifindex, const char *why)
{
    size_t i;

    if (ifindex <= 0)
        return;
    for (i = 0; i < s->n; i++)
        if (s->ifindex[i] == ifindex)
            return;
    if (s->n == CTL_DEVS_MAX)
        return;
    s->ifindex[s->n] = ifindex;
    snprintf(s->why[s->n], sizeof(s->why[0]), "%s", why);
    s->n++;
}

/* Collect RTA_OIF and the oifs of RTA_MULTIPATH. */
struct route_cb {
    struct devset *set;
    const char *why;
    const struct fl_cidr *inside; /* dump: only routes whose dst lies inside this prefix */
};

static int route_attr(const struct nlattr *a, void *data)
{
    const struct nlattr **tb = data;
    int type = mnl_attr_get_type(a);

    if (mnl_attr_type_valid(a, RTA_MAX) > 0)
        tb[type] = a;
    return MNL_CB_OK;
}

static int route_msg(const struct nlmsghdr *nlh, void *data)
{
    struct route_cb *cb = data;
    const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[RTA_MAX + 1] = {0};

    mnl_attr_parse(nlh, sizeof(*rtm), route_attr, tb);
    if (cb->inside != NULL) {
        struct fl_cidr c;
        char buf[INET6_ADDRSTRLEN + 8], a[INET6_ADDRSTRLEN];

        if (tb[RTA_DST] == NULL || rtm->rtm_family != (cb->inside->family) ||
            rtm->rtm_dst_len < cb->inside->prefix)
            return MNL_CB_OK;
        if (inet_ntop(rtm->rtm_family, mnl_attr_get_payload(tb[RTA_DST]), a, sizeof(a)) == NULL)
            return MNL_CB_OK;
        snprintf(buf, sizeof(buf), "%s/%u", a, rtm->rtm_dst_len);
        if (fl_cidr_parse(buf, &c, NULL) < 0 || !fl_cidr_contains(cb->inside, &c))
            return MNL_CB_OK;
    }
    if (tb[RTA_OIF] != NULL)
        devset_add(cb->set, (int)mnl_attr_get_u32(tb[RTA_OIF]), cb->why);
    if (tb[RTA_MULTIPATH] != NULL) {
        const struct rtnexthop *nh = mnl_attr_get_payload(tb[RTA_MULTIPATH]);
        int len = (int)mnl_attr_get_payload_len(tb[RTA_MULTIPATH]);

        while (RTNH_OK(nh, len)) {
            devset_add(cb->set, nh->rtnh_ifindex, cb->why);
            len -= NLMSG_ALIGN(nh->rtnh_len);
            nh = RTNH_NEXT(nh);
        }
    }
    return MNL_CB_OK;
}

/* One request, answers through route_msg. Errors (no route) are not errors here. */
static void route_query(struct mnl_socket *nl, int family, const void *dst, bool dump,
                        struct route_cb *cb)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh;
    struct rtmsg *rtm;
    unsigned seq = (unsigned)time(NULL), portid = mnl_socket_get_portid(nl);
    ssize_t n;
    int r;

    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETROUTE;
    nlh->nlmsg_flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : 0);
    nlh->nlmsg_seq = seq;
    rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
    rtm->rtm_family = (unsigned char)family;
    if (!dump) {
        rtm->rtm_dst_len = family == AF_INET ? 32 : 128;
        mnl_attr_put(nlh, RTA_DST, family == AF_INET ? 4 : 16, dst);
    }
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
        return;
    while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
        r = mnl_cb_run(buf, (size_t)n, seq, portid, route_msg, cb);
        if (r <= MNL_CB_STOP)
            break;
        if (!dump)
            break;
    }
}

/* First and last address of c into lo, hi (network byte order). */
static void cidr_ends(const struct fl_cidr *c, unsigned char lo[16], unsigned char hi[16])
{
    memcpy(lo, c->addr, 16);
    fl_cidr_last(c, hi);
}

/* The interface holding the listen address (none for a wildcard address). */
static void listen_dev(const struct agent_config *cfg, struct devset *set)
{
    const struct sockaddr_storage *ss = &cfg->listen_addr;
    struct ifaddrs *ifa, *p;

    if (getifaddrs(&ifa) < 0)
        return;
    for (p = ifa; p != NULL; p = p->ifa_next) {
        if (p->ifa_addr == NULL || p->ifa_addr->sa_family != ss->ss_family)
            continue;
        if (ss->ss_family == AF_INET && memcmp(&((const struct sockaddr_in *)p->ifa_addr)->sin_addr,
                                               &((const struct sockaddr_in *)ss)->sin_addr, 4) == 0)
            devset_add(set, (int)if_nametoindex(p->ifa_name), "holds the --listen address");
        if (ss->ss_family == AF_INET6 &&
            memcmp(&((const struct sockaddr_in6 *)p->ifa_addr)->sin6_addr,
                   &((const struct sockaddr_in6 *)ss)->sin6_addr, 16) == 0)
            devset_add(set, (int)if_nametoindex(p->ifa_name), "holds the --listen address");
    }
    freeifaddrs(ifa);
}

static int control_devs(const struct agent_config *cfg, struct devset *set, struct fl_err *err)
{
    struct mnl_socket *nl;
    unsigned char lo[16], hi[16];
    char why[96], cbuf[64];
    struct route_cb cb;
    size_t i;

    memset(set, 0, sizeof(*set));
    listen_dev(cfg, set);
    if (cfg->n_control == 0)
        return 0;
    nl = mnl_socket_open(NETLINK_ROUTE);
    if (nl == NULL || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        if (nl != NULL)
            mnl_socket_close(nl);
        return fl_errf(err, -errno, "route lookup: %s", strerror(errno));
    }
    for (i = 0; i < cfg->n_control; i++) {
        const struct fl_cidr *c = &cfg->control[i];

        snprintf(why, sizeof(why), "routes the control network %s",
                 fl_cidr_format(c, cbuf, sizeof(cbuf)));
        cb.set = set;
        cb.why = why;
        cb.inside = NULL;
        cidr_ends(c, lo, hi);
        route_query(nl, c->family, lo, false, &cb);
        route_query(nl, c->family, hi, false, &cb);
        cb.inside = c;
        route_query(nl, c->family, NULL, true, &cb);
    }
    mnl_socket_close(nl);
    return 0;
}

static bool is_qdisc_kind(const char *k)
{
    static const char *const kinds[] = {"latency", "jitter",    "duplicate", "corrupt",
                                        "reorder", "bandwidth", NULL};
    size_t i;

    for (i = 0; kinds[i] != NULL; i++)
        if (strcmp(k, kinds[i]) == 0)
            return true;
    return false;
}

/*
 * True when a qdisc fault leaves the control prefixes alone: the injector
 * puts them in a band of their own (kind_qdisc.c) whenever its context has
 * exemptions, and the agent gives it --control as exemptions.
 */
static bool qdisc_exempts(const struct agent_config *cfg)
{
    return cfg->n_control > 0 && inj_qdisc_exempts_control();
}

/* True if the client's address lies in a --control prefix (or on loopback: this host). */
static bool client_exempt(const struct agent_config *cfg, const struct sockaddr *sa)
{
    struct fl_cidr c;
    size_t i;

    memset(&c, 0, sizeof(c));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

        if ((ntohl(s4->sin_addr.s_addr) >> 24) == 127)
            return true;
        c.family = AF_INET;
        c.prefix = 32;
        memcpy(c.addr, &s4->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

        if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
            return true;
        c.family = AF_INET6;
        c.prefix = 128;
        memcpy(c.addr, &s6->sin6_addr, 16);
    } else {
        return false;
    }
    for (i = 0; i < cfg->n_control; i++)
        if (fl_cidr_contains(&cfg->control[i], &c))
            return true;
    return false;
}

int agent_device_check(const struct agent_config *cfg, const struct inj_fault *f,
                       const struct sockaddr *client, struct fl_err *err)
{
    const char *kind = inj_fault_kind(f);
    const char *const *devs;
    struct devset set;
    size_t nd = 0, i, j;
    int r, idx;

    if (strcmp(kind, "link-down") != 0 && !is_qdisc_kind(kind))
        return 0;
    devs = inj_fault_devs(f, &nd);
    if (nd == 0)
        return 0;
    if ((r = control_devs(cfg, &set, err)) < 0)
        return r;
    for (i = 0; i < nd; i++) {
        idx = (int)if_nametoindex(devs[i]);
        for (j = 0; j < set.n && idx > 0; j++) {
            if (set.ifindex[j] != idx)
                continue;
            if (strcmp(kind, "link-down") == 0)
                return fl_errf(err, -EPERM,
                               "interface %s %s: link-down there would cut the agent off its "
                               "controller",
                               devs[i], set.why[j]);
            if (qdisc_exempts(cfg) && client != NULL && !client_exempt(cfg, client)) {
                char host[INET6_ADDRSTRLEN] = "?";

                if (client->sa_family == AF_INET)
                    inet_ntop(AF_INET, &((const struct sockaddr_in *)client)->sin_addr, host,
                              sizeof(host));
                else if (client->sa_family == AF_INET6)
                    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)client)->sin6_addr, host,
                              sizeof(host));
                return fl_errf(err, -EPERM,
                               "interface %s %s, and this request comes from %s, outside "
                               "--control: the %s fault would not exempt the controller's "
                               "traffic",
                               devs[i], set.why[j], host, kind);
            }
            if (!qdisc_exempts(cfg))
                return fl_errf(err, -EPERM,
                               "interface %s %s: a %s fault there would slow or corrupt the "
                               "control channel (give --control with the controller's prefix "
                               "so that its traffic is exempted)",
                               devs[i], set.why[j], kind);
        }
    }
    return 0;
}

int agent_control_warn(const struct agent_config *cfg)
{
    struct devset set;
    char name[IF_NAMESIZE];
    size_t i;

    if (cfg->n_control == 0)
        log_warnx("WARNING: no --control given: faults are checked against the allowlist only; "
                  "nothing keeps a fault from cutting this agent off its controller except "
                  "refusing device faults on the --listen interface. Give --control CIDR "
                  "(the controller's network).");
    if (control_devs(cfg, &set, NULL) < 0)
        return 0;
    for (i = 0; i < set.n; i++)
        log_info("control channel: %s %s",
                 if_indextoname((unsigned)set.ifindex[i], name) ? name : "?", set.why[i]);
    return (int)set.n;
}
