/*
 * One-line errors. Library code never prints or exits: it returns 0 or a
 * negative errno and, when given a struct fl_err, fills it with one human
 * line (the kernel's extended-ack text, file:line:column for experiments).
 * The first error wins: later fl_errf() calls on a filled struct keep the
 * original message, because the first failure is the cause.
 */
#ifndef FAULTLINE_ERR_H
#define FAULTLINE_ERR_H

#include <stddef.h>

#define FL_ERR_MAX 512

struct fl_err {
    int code;             /* negative errno of the first error, 0 if none */
    char msg[FL_ERR_MAX]; /* one line, NUL-terminated */
};

/* Reset to "no error". Accepts NULL. */
void fl_err_clear(struct fl_err *e);

/*
 * Record an error unless one is recorded already, and return code so that a
 * caller can write `return fl_errf(err, -EINVAL, "bad CIDR '%s'", s);`.
 * e may be NULL (the message is dropped, the code still returned).
 */
int fl_errf(struct fl_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefix an existing message with context ("fault f1: ..."). No-op if empty. */
void fl_err_prefix(struct fl_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
