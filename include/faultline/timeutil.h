/*
 * Clocks and the strict duration/rate syntax shared by the CLI and experiment
 * files: durations "250ms", "10s", "3m", "1h", "1500us", "0s" (one integer and
 * one unit, nothing else); rates "500/s", "30/m".
 */
#ifndef FAULTLINE_TIMEUTIL_H
#define FAULTLINE_TIMEUTIL_H

#include <stdint.h>

struct fl_err;

/* CLOCK_MONOTONIC in nanoseconds: the one clock of histories and fault timelines. */
int64_t fl_now_ns(void);
/* CLOCK_REALTIME in nanoseconds, for humans reading logs and reports. */
int64_t fl_wall_ns(void);
/* Parse a duration into nanoseconds. Returns 0 or -EINVAL with err set. */
int fl_duration_parse(const char *s, int64_t *ns, struct fl_err *err);
/* Parse a rate into operations per second (may be fractional for "/m"). */
int fl_rate_parse(const char *s, double *per_sec, struct fl_err *err);
/* Format ns as a short duration ("1.5s", "250ms"). Returns buf. */
char *fl_duration_format(int64_t ns, char *buf, size_t len);

#endif
