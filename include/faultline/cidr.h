/*
 * IPv4/IPv6 prefixes as the injector, the agent's allowlist and the
 * controller's address plan use them. Parsing is strict: host bits set below
 * the prefix length are an error ("198.18.1.1/24" is refused, say what you
 * mean), a bare address means /32 or /128.
 */
#ifndef FAULTLINE_CIDR_H
#define FAULTLINE_CIDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct fl_err;

struct fl_cidr {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network byte order; first 4 bytes for AF_INET */
    uint8_t prefix;   /* 0..32 or 0..128 */
};

/* Parse "a.b.c.d/n", "a.b.c.d", "x::y/n". Returns 0 or -EINVAL with err set. */
int fl_cidr_parse(const char *s, struct fl_cidr *out, struct fl_err *err);
/* Format into buf (at least 64 bytes). Returns buf. */
char *fl_cidr_format(const struct fl_cidr *c, char *buf, size_t len);
/* Address length in bytes for the family (4 or 16). */
int fl_cidr_addrlen(const struct fl_cidr *c);
/* True if inner lies entirely inside outer (same family). */
bool fl_cidr_contains(const struct fl_cidr *outer, const struct fl_cidr *inner);
/* True if the two prefixes share at least one address. */
bool fl_cidr_overlaps(const struct fl_cidr *a, const struct fl_cidr *b);
/* Last address of the prefix (broadcast for v4), into last[16]. */
void fl_cidr_last(const struct fl_cidr *c, uint8_t last[16]);

#endif
