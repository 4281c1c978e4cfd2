/* Strict IPv4/IPv6 prefix parsing and arithmetic. See include/faultline/cidr.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/cidr.h"
#include "faultline/err.h"

int fl_cidr_addrlen(const struct fl_cidr *c)
{
    return c->family == AF_INET6 ? 16 : 4;
}

int fl_cidr_parse(const char *s, struct fl_cidr *out, struct fl_err *err)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *slash;
    size_t hlen;
    long pfx;
    int maxp, i, alen;

    if (s == NULL || *s == '\0')
        return fl_errf(err, -EINVAL, "empty CIDR");
    memset(out, 0, sizeof(*out));
    slash = strchr(s, '/');
    hlen = slash ? (size_t)(slash - s) : strlen(s);
    if (hlen == 0 || hlen >= sizeof(host))
        return fl_errf(err, -EINVAL, "bad CIDR '%s': expected an address like 198.18.1.0/24", s);
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (inet_pton(AF_INET, host, out->addr) == 1) {
        out->family = AF_INET;
        maxp = 32;
    } else if (inet_pton(AF_INET6, host, out->addr) == 1) {
        out->family = AF_INET6;
        maxp = 128;
    } else {
        return fl_errf(err, -EINVAL, "bad CIDR '%s': '%s' is not an IPv4 or IPv6 address", s, host);
    }
    pfx = maxp;
    if (slash != NULL) {
        char *end;

        if (slash[1] < '0' || slash[1] > '9')
            return fl_errf(err, -EINVAL, "bad CIDR '%s': prefix length must be a number", s);
        errno = 0;
        pfx = strtol(slash + 1, &end, 10);
        if (*end != '\0' || errno != 0 || pfx < 0 || pfx > maxp)
            return fl_errf(err, -EINVAL, "bad CIDR '%s': prefix length must be 0..%d", s, maxp);
    }
    out->prefix = (uint8_t)pfx;
    alen = fl_cidr_addrlen(out);
    for (i = 0; i < alen; i++) {
        int bit = i * 8;
        uint8_t mask;

        if (bit >= pfx)
            mask = 0;
        else if (bit + 8 <= pfx)
            mask = 0xff;
        else
            mask = (uint8_t)(0xff << (8 - (pfx - bit)));
        if (out->addr[i] & ~mask)
            return fl_errf(err, -EINVAL,
                           "bad CIDR '%s': host bits set below /%ld (did you mean the network "
                           "address?)",
                           s, pfx);
    }
    return 0;
}

char *fl_cidr_format(const struct fl_cidr *c, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN];

    inet_ntop(c->family, c->addr, a, sizeof(a));
    snprintf(buf, len, "%s/%u", a, c->prefix);
    return buf;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, int bits)
{
    int full = bits / 8, rest = bits % 8;

    if (memcmp(a, b, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    return ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool fl_cidr_contains(const struct fl_cidr *outer, const struct fl_cidr *inner)
{
    if (outer->family != inner->family || inner->prefix < outer->prefix)
        return false;
    return prefix_match(outer->addr, inner->addr, outer->prefix);
}

bool fl_cidr_overlaps(const struct fl_cidr *a, const struct fl_cidr *b)
{
    if (a->family != b->family)
        return false;
    return prefix_match(a->addr, b->addr, a->prefix < b->prefix ? a->prefix : b->prefix);
}

void fl_cidr_last(const struct fl_cidr *c, uint8_t last[16])
{
    int i, alen = fl_cidr_addrlen(c);

    memset(last, 0, 16);
    for (i = 0; i < alen; i++) {
        int bit = i * 8;
        uint8_t host;

        if (bit >= c->prefix)
            host = 0xff;
        else if (bit + 8 <= c->prefix)
            host = 0;
        else
            host = (uint8_t)(0xff >> (c->prefix - bit));
        last[i] = c->addr[i] | host;
    }
}
