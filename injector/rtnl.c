/*
 * The rtnetlink socket of an injector context (libnl-route-3) and the shared
 * helpers of the rtnetlink kinds. The socket asks the kernel for extended
 * acknowledgements (NETLINK_EXT_ACK) and an error callback copies the
 * kernel's own explanation ("Specified qdisc kind is unknown.") into
 * ctx->extack, so every error line a user sees carries the kernel's words
 * rather than a bare errno. Also here: interface-name, rate and size syntax
 * (pure) and interface lookup.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>

#include "inj_rtnl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* ---- extended ack ------------------------------------------------------- */

static int extack_attr_cb(const struct nlattr *a, void *data)
{
    const struct nlattr **tb = data;
    uint16_t type = mnl_attr_get_type(a);

    if (type == NLMSGERR_ATTR_MSG && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
        tb[NLMSGERR_ATTR_MSG] = a;
    return MNL_CB_OK;
}

size_t inj_rtnl_extack_parse(const struct nlmsghdr *nlh, char *buf, size_t len)
{
    const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = {0};
    const struct nlmsgerr *e;
    unsigned int hlen = sizeof(*e);

    if (len == 0)
        return 0;
    buf[0] = '\0';
    if (nlh == NULL || nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*e))
        return 0;
    if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
        return 0;
    e = mnl_nlmsg_get_payload(nlh);
    /* Without NLM_F_CAPPED the kernel echoes our whole request before the TLVs. */
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
        if (e->msg.nlmsg_len < NLMSG_HDRLEN)
            return 0;
        hlen += e->msg.nlmsg_len - NLMSG_HDRLEN;
    }
    if (NLMSG_HDRLEN + MNL_ALIGN(hlen) > nlh->nlmsg_len)
        return 0;
    if (mnl_attr_parse(nlh, hlen, extack_attr_cb, tb) != MNL_CB_OK)
        return 0;
    if (tb[NLMSGERR_ATTR_MSG] == NULL)
        return 0;
    snprintf(buf, len, "%s", mnl_attr_get_str(tb[NLMSGERR_ATTR_MSG]));
    return strlen(buf);
}

/*
 * libnl calls this for every NLMSG_ERROR with a non-zero error. The nlmsgerr
 * sits right after the netlink header of the received message, so the header
 * (with its NLM_F_ACK_TLVS flag and length) is NLMSG_HDRLEN before it.
 * NL_STOP keeps libnl's own behaviour: the request fails with the errno.
 */
static int rtnl_err_cb(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
    struct inj_ctx *ctx = arg;
    const struct nlmsghdr *nlh = (const struct nlmsghdr *)((const char *)e - NLMSG_HDRLEN);

    (void)nla;
    inj_rtnl_extack_parse(nlh, ctx->extack, sizeof(ctx->extack));
    return NL_STOP;
}

int inj_rtnl_nle_errno(int nlerr)
{
    switch (nlerr < 0 ? -nlerr : nlerr) {
    case 0:
        return 0;
    case NLE_INTR:
        return -EINTR;
    case NLE_BAD_SOCK:
        return -EBADF;
    case NLE_AGAIN:
        return -EAGAIN;
    case NLE_NOMEM:
        return -ENOMEM;
    case NLE_EXIST:
        return -EEXIST;
    case NLE_INVAL:
        return -EINVAL;
    case NLE_RANGE:
        return -ERANGE;
    case NLE_MSGSIZE:
        return -EMSGSIZE;
    case NLE_OPNOTSUPP:
        return -EOPNOTSUPP;
    case NLE_AF_NOSUPPORT:
        return -EAFNOSUPPORT;
    case NLE_OBJ_NOTFOUND:
        return -ENOENT;
    case NLE_NOATTR:
    case NLE_MISSING_ATTR:
        return -EINVAL;
    case NLE_AF_MISMATCH:
        return -EAFNOSUPPORT;
    case NLE_SEQ_MISMATCH:
    case NLE_MSG_OVERFLOW:
    case NLE_MSG_TRUNC:
    case NLE_PARSE_ERR:
    case NLE_MSG_TOOSHORT:
        return -EPROTO;
    case NLE_NOADDR:
        return -EADDRNOTAVAIL;
    case NLE_SRCRT_NOSUPPORT:
        return -EOPNOTSUPP;
    case NLE_BUSY:
        return -EBUSY;
    case NLE_PERM:
        return -EPERM;
    case NLE_NOACCESS:
        return -EACCES;
    case NLE_NODEV:
        return -ENODEV;
    case NLE_PROTO_MISMATCH:
        return -EPROTONOSUPPORT;
    case NLE_IMMUTABLE:
        return -EROFS;
    default:
        return -EIO;
    }
}

int inj_rtnl_err(struct inj_ctx *ctx, int nlerr, const char *what, struct fl_err *err)
{
    int code = inj_rtnl_nle_errno(nlerr);
    int r;

    if (code == 0)
        code = -EIO;
    if (ctx != NULL && ctx->extack[0] != '\0')
        r = fl_errf(err, code, "%s: %s", what, ctx->extack);
    else
        r = fl_errf(err, code, "%s: %s", what, nl_geterror(nlerr));
    if (ctx != NULL)
        ctx->extack[0] = '\0';
    return r;
}

/* ---- socket ------------------------------------------------------------- */

int inj_rtnl_open(struct inj_ctx *ctx, struct fl_err *err)
{
    struct nl_sock *sk;
    int one = 1, fd, r;

    ctx->extack[0] = '\0';
    sk = nl_socket_alloc();
    if (sk == NULL)
        return fl_errf(err, -ENOMEM, "rtnetlink: out of memory");
    r = nl_connect(sk, NETLINK_ROUTE);
    if (r < 0) {
        nl_socket_free(sk);
        return fl_errf(err, inj_rtnl_nle_errno(r), "rtnetlink: cannot open socket: %s",
                       nl_geterror(r));
    }
    fd = nl_socket_get_fd(sk);
    /*
     * Best effort: kernels before 4.12 have no extended acks; errors then
     * carry libnl's text instead. Capped acks keep error replies small.
     */
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    r = nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, rtnl_err_cb, ctx);
    if (r < 0) {
        nl_socket_free(sk);
        return fl_errf(err, inj_rtnl_nle_errno(r), "rtnetlink: %s", nl_geterror(r));
    }
    ctx->rtnl = sk;
    return 0;
}

void inj_rtnl_close(struct inj_ctx *ctx)
{
    if (ctx == NULL || ctx->rtnl == NULL)
        return;
    nl_socket_free(ctx->rtnl); /* closes the socket */
    ctx->rtnl = NULL;
}

/* ---- interfaces --------------------------------------------------------- */

bool inj_ifname_valid(const char *s)
{
    size_t n, i;

    if (s == NULL)
        return false;
    n = strlen(s);
    if (n == 0 || n >= IFNAMSIZ || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        /* The kernel's dev_valid_name() refuses '/', ':' and whitespace. */
        if (c <= ' ' || c >= 0x7f || c == '/' || c == ':')
            return false;
    }
    return true;
}

int inj_json_dev(struct inj_fault *f, const json_t *spec, const char *key, char *out,
                 struct fl_err *err)
{
    const char *dev = NULL;
    int r;

    r = inj_json_string(spec, key, true, &dev, err);
    if (r < 0)
        return r;
    if (!inj_ifname_valid(dev))
        return fl_errf(err, -EINVAL,
                       "'%s': bad interface name '%s' (1-%d characters, no '/', ':' or spaces)",
                       key, dev, IFNAMSIZ - 1);
    if (inj_fault_add_dev(f, dev) < 0)
        return fl_errf(err, -ENOMEM, "out of memory");
    snprintf(out, IFNAMSIZ, "%s", dev);
    return 0;
}

int inj_rtnl_ifindex(struct inj_ctx *ctx, const char *dev, struct fl_err *err)
{
    struct rtnl_link *link = NULL;
    int r, idx;

    if (!inj_ifname_valid(dev))
        return fl_errf(err, -ENODEV, "unknown interface '%s'", dev ? dev : "");
    ctx->extack[0] = '\0';
    r = rtnl_link_get_kernel(ctx->rtnl, 0, dev, &link);
    if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV) {
        ctx->extack[0] = '\0';
        return fl_errf(err, -ENODEV, "unknown interface '%s'", dev);
    }
    if (r < 0)
        return inj_rtnl_err(ctx, r, "looking up interface", err);
    idx = rtnl_link_get_ifindex(link);
    rtnl_link_put(link);
    if (idx <= 0)
        return fl_errf(err, -ENODEV, "unknown interface '%s'", dev);
    return idx;
}

/* ---- rate and size syntax ------------------------------------------------ */

int inj_rate_parse(const char *s, uint64_t *bytes_per_sec, struct fl_err *err)
{
    static const struct {
        const char *unit;
        double bits;
    } units[] = {{"bit", 1}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}};
    const char *p = s;
    double v = 0, scale = 0.1, bps;
    bool digits = false, frac = false;
    size_t i;

    if (s == NULL)
        return fl_errf(err, -EINVAL, "bad rate: missing");
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p - '0');
        digits = true;
        if (v > 1e12)
            return fl_errf(err, -EINVAL, "bad rate '%s': too large", s);
        p++;
    }
    if (digits && *p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            v += (*p - '0') * scale;
            scale /= 10;
            frac = true;
            p++;
        }
        if (!frac)
            digits = false;
    }
    if (!digits)
        return fl_errf(err, -EINVAL,
                       "bad rate '%s': expected a number and a unit (bit, kbit, mbit, gbit), "
                       "e.g. 1mbit",
                       s);
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].unit) != 0)
            continue;
        bps = v * units[i].bits;
        if (bps < 8)
            return fl_errf(err, -EINVAL, "bad rate '%s': below 8bit", s);
        if (bps / 8 > (double)INJ_RATE_MAX_BPS)
            return fl_errf(err, -EINVAL, "bad rate '%s': above 10gbit", s);
        *bytes_per_sec = (uint64_t)(bps / 8 + 0.5);
        return 0;
    }
    if (*p == '\0')
        return fl_errf(err, -EINVAL, "bad rate '%s': missing unit (bit, kbit, mbit, gbit)", s);
    return fl_errf(err, -EINVAL,
                   "bad rate '%s': unknown unit '%s' (expected bit, kbit, mbit, gbit)", s, p);
}

int inj_size_parse(const char *s, uint64_t *bytes, struct fl_err *err)
{
    static const struct {
        const char *unit;
        uint64_t mul;
    } units[] = {{"b", 1}, {"kb", 1024}, {"mb", 1024 * 1024}};
    const char *p = s;
    uint64_t v = 0;
    size_t i;

    if (s == NULL || *s < '0' || *s > '9')
        return fl_errf(err, -EINVAL, "bad size '%s': expected an integer and a unit (b, kb, mb)",
                       s ? s : "");
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > 1u << 30)
            return fl_errf(err, -EINVAL, "bad size '%s': too large", s);
        p++;
    }
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].unit) != 0)
            continue;
        v *= units[i].mul;
        if (v < 1 || v > 64u * 1024 * 1024)
            return fl_errf(err, -EINVAL, "bad size '%s': must be 1b..64mb", s);
        *bytes = v;
        return 0;
    }
    return fl_errf(err, -EINVAL, "bad size '%s': unit must be b, kb or mb", s);
}
