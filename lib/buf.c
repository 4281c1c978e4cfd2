/* Capped growable buffer. See include/faultline/buf.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/buf.h"

void fl_buf_init(struct fl_buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

static int buf_reserve(struct fl_buf *b, size_t extra)
{
    size_t need, ncap;
    char *np;

    if (extra > b->max - b->len)
        return -E2BIG;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap *= 2;
    if (ncap > b->max + 1)
        ncap = b->max + 1;
    np = realloc(b->p, ncap);
    if (np == NULL)
        return -ENOMEM;
    b->p = np;
    b->cap = ncap;
    return 0;
}

int fl_buf_add(struct fl_buf *b, const void *data, size_t n)
{
    int r = buf_reserve(b, n);

    if (r < 0)
        return r;
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int fl_buf_addstr(struct fl_buf *b, const char *s)
{
    return fl_buf_add(b, s, strlen(s));
}

int fl_buf_printf(struct fl_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, r;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    r = buf_reserve(b, (size_t)n);
    if (r < 0)
        return r;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void fl_buf_reset(struct fl_buf *b)
{
    b->len = 0;
    if (b->p != NULL)
        b->p[0] = '\0';
}

char *fl_buf_take(struct fl_buf *b)
{
    char *p = b->p;

    if (p == NULL)
        p = calloc(1, 1);
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void fl_buf_free(struct fl_buf *b)
{
    if (b == NULL)
        return;
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
