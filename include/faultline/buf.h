/*
 * Growable byte buffer with a hard maximum (as curl's dynbuf): every buffer
 * that grows from outside input has a cap, and going past it is an error,
 * never an allocation storm. The content is always NUL-terminated.
 */
#ifndef FAULTLINE_BUF_H
#define FAULTLINE_BUF_H

#include <stddef.h>

struct fl_buf {
    char *p;    /* NUL-terminated content, NULL until the first append */
    size_t len; /* bytes used, not counting the NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* hard limit on len */
};

/* Initialise an empty buffer that may hold at most max bytes. */
void fl_buf_init(struct fl_buf *b, size_t max);
/* Append n bytes. Returns 0, -ENOMEM, or -E2BIG past the maximum (unchanged). */
int fl_buf_add(struct fl_buf *b, const void *data, size_t n);
int fl_buf_addstr(struct fl_buf *b, const char *s);
int fl_buf_printf(struct fl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Forget the content, keep the allocation. */
void fl_buf_reset(struct fl_buf *b);
/* Hand the content to the caller (who frees it); the buffer becomes empty. */
char *fl_buf_take(struct fl_buf *b);
/* Free the content. Accepts NULL. */
void fl_buf_free(struct fl_buf *b);

#endif
