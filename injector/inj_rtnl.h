/*
 * Helpers shared by the rtnetlink kinds (kind_qdisc.c, kind_link.c,
 * kind_route.c), their capability probes (probe_rtnl.c) and their unit tests:
 * interface-name checks, strict rate/size syntax, interface lookup, the
 * extended-ack parser and the pure message builders. Internal to flinject.
 */
#ifndef FAULTLINE_INJ_RTNL_H
#define FAULTLINE_INJ_RTNL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "inj_int.h"

struct nlmsghdr;
struct rtnl_qdisc;
struct rtnl_route;

/* Largest accepted bandwidth rate: tbf's 32-bit rate field, in bytes/s. */
#define INJ_RATE_MAX_BPS 1250000000ull /* 10gbit */

/* ---- pure syntax checks ---- */

/*
 * True if s is a valid Linux interface name: 1..IFNAMSIZ-1 bytes, no '/',
 * ':' or whitespace, not "." or "..". Pure.
 */
bool inj_ifname_valid(const char *s);
/*
 * Read the required string member key of spec as an interface name, copy it
 * into out (IFNAMSIZ bytes) and into f's allowlist view. Pure.
 */
int inj_json_dev(struct inj_fault *f, const json_t *spec, const char *key, char *out,
                 struct fl_err *err);
/*
 * Parse a rate "<number><unit>" with unit bit, kbit, mbit or gbit (SI,
 * as tc: 1kbit = 1000 bit/s) into bytes per second. Decimals are allowed
 * ("1.5mbit"); anything else (no unit, spaces, "1mbps") is an error.
 * Range: 8bit .. 10gbit. Returns 0 or -EINVAL with err set.
 */
int inj_rate_parse(const char *s, uint64_t *bytes_per_sec, struct fl_err *err);
/* Parse a byte size "<integer><unit>", unit b, kb, mb (1024-based, as tc). 1b..64mb. */
int inj_size_parse(const char *s, uint64_t *bytes, struct fl_err *err);

/* ---- extended ack ---- */

/*
 * Copy the NLMSGERR_ATTR_MSG text of an NLMSG_ERROR message nlh (of len
 * bytes in the buffer) into buf (always NUL-terminated, "" when absent).
 * Returns the text length. Bounds-checked against nlh->nlmsg_len.
 */
size_t inj_rtnl_extack_parse(const struct nlmsghdr *nlh, char *buf, size_t len);
/* libnl error (negative NLE_*) to a negative errno. */
int inj_rtnl_nle_errno(int nlerr);

/* ---- kernel lookups (need ctx->rtnl) ---- */

/*
 * Interface index of dev in ctx's namespace. Returns > 0, or -ENODEV with
 * "unknown interface 'X'" when there is no such link, or another -errno.
 */
int inj_rtnl_ifindex(struct inj_ctx *ctx, const char *dev, struct fl_err *err);

/* ---- qdisc kinds: pure builders (kind_qdisc.c) ---- */

/*
 * Build the root qdisc object (netem or tbf, handle fa17:) that fault f
 * installs on ifindex; no kernel access. The caller frees *out with
 * rtnl_qdisc_put(). f must be a qdisc kind (latency ... bandwidth).
 */
int inj_qdisc_build(const struct inj_fault *f, int ifindex, struct rtnl_qdisc **out,
                    struct fl_err *err);
/* Probability in percent (0..100) as netem's 32-bit fraction of UINT32_MAX. */
uint32_t inj_netem_prob(double percent);

/* ---- route kind: pure builder (kind_route.c) ---- */

/*
 * Build the route object (main table, protocol 0xfa, given RTN_* type) for c.
 * The caller frees *out with rtnl_route_put().
 */
int inj_route_build(const struct fl_cidr *c, int rtn_type, struct rtnl_route **out,
                    struct fl_err *err);

/* ---- shared probe worker (probe_rtnl.c) ---- */

/*
 * Run fn(ctx, arg, err) with a private rtnetlink socket inside a throw-away
 * network namespace (a thread that unshares CLONE_NEWNET), so probes never
 * touch the caller's namespace. Falls back to the caller's ctx when the
 * thread cannot unshare (no CAP_SYS_ADMIN). Returns fn's result.
 */
int inj_rtnl_probe_run(struct inj_ctx *ctx,
                       int (*fn)(struct inj_ctx *pctx, void *arg, struct fl_err *err), void *arg,
                       struct fl_err *err);

#endif
