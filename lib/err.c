/* One-line errors, first error wins. See include/faultline/err.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "faultline/err.h"

void fl_err_clear(struct fl_err *e)
{
    if (e == NULL)
        return;
    e->code = 0;
    e->msg[0] = '\0';
}

int fl_errf(struct fl_err *e, int code, const char *fmt, ...)
{
    va_list ap;

    if (e == NULL || e->msg[0] != '\0')
        return code;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return code;
}

void fl_err_prefix(struct fl_err *e, const char *fmt, ...)
{
    char pre[FL_ERR_MAX], old[FL_ERR_MAX];
    va_list ap;
    size_t n;

    if (e == NULL || e->msg[0] == '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof(pre), fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof(old));
    n = strlen(pre);
    if (n > sizeof(e->msg) - 3)
        n = sizeof(e->msg) - 3;
    memcpy(e->msg, pre, n);
    memcpy(e->msg + n, ": ", 2);
    n += 2;
    memcpy(e->msg + n, old, sizeof(e->msg) - n - 1);
    e->msg[sizeof(e->msg) - 1] = '\0';
}
