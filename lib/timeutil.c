/* Clocks and strict duration/rate parsing. See include/faultline/timeutil.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "faultline/err.h"
#include "faultline/timeutil.h"

int64_t fl_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t fl_wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static const struct {
    const char *unit;
    int64_t ns;
} units[] = {
    {"ns", 1},
    {"us", 1000},
    {"ms", 1000000},
    {"s", 1000000000LL},
    {"m", 60 * 1000000000LL},
    {"h", 3600 * 1000000000LL},
};

int fl_duration_parse(const char *s, int64_t *ns, struct fl_err *err)
{
    const char *p = s;
    unsigned long long v = 0;
    size_t i;

    if (s == NULL || *s < '0' || *s > '9')
        return fl_errf(err, -EINVAL,
                       "bad duration '%s': expected a whole number and a unit (ms, s, m, h), "
                       "e.g. 250ms or 10s",
                       s ? s : "");
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (unsigned long long)(*p - '0');
        if (v > 1000000000000ULL)
            return fl_errf(err, -EINVAL, "bad duration '%s': too large", s);
        p++;
    }
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].unit) == 0) {
            if (v > (unsigned long long)(INT64_MAX / units[i].ns))
                return fl_errf(err, -EINVAL, "bad duration '%s': too large", s);
            *ns = (int64_t)v * units[i].ns;
            return 0;
        }
    }
    if (*p == '\0')
        return fl_errf(err, -EINVAL, "bad duration '%s': missing unit (ms, s, m, h)", s);
    return fl_errf(err, -EINVAL, "bad duration '%s': unknown unit '%s' (expected ms, s, m, h)", s,
                   p);
}

int fl_rate_parse(const char *s, double *per_sec, struct fl_err *err)
{
    const char *p = s;
    unsigned long long v = 0;

    if (s == NULL || *s < '0' || *s > '9')
        return fl_errf(err, -EINVAL, "bad rate '%s': expected N/s or N/m, e.g. 500/s", s ? s : "");
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (unsigned long long)(*p - '0');
        if (v > 100000000ULL)
            return fl_errf(err, -EINVAL, "bad rate '%s': too large", s);
        p++;
    }
    if (strcmp(p, "/s") == 0)
        *per_sec = (double)v;
    else if (strcmp(p, "/m") == 0)
        *per_sec = (double)v / 60.0;
    else
        return fl_errf(err, -EINVAL, "bad rate '%s': expected N/s or N/m, e.g. 500/s", s);
    if (v == 0)
        return fl_errf(err, -EINVAL, "bad rate '%s': must be positive", s);
    return 0;
}

char *fl_duration_format(int64_t ns, char *buf, size_t len)
{
    if (ns % 1000000000LL == 0)
        snprintf(buf, len, "%llds", (long long)(ns / 1000000000LL));
    else if (ns >= 1000000000LL || ns <= -1000000000LL)
        snprintf(buf, len, "%.3gs", (double)ns / 1e9);
    else
        snprintf(buf, len, "%.3gms", (double)ns / 1e6);
    return buf;
}
