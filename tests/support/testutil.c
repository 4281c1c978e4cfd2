/* Shared test support. See testutil.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "faultline/buf.h"
#include "testutil.h"

bool tu_strict(void)
{
    const char *v = getenv("FAULTLINE_STRICT");

    return v != NULL && strcmp(v, "1") == 0;
}

bool tu_is_root(void)
{
    return geteuid() == 0;
}

void tu_note_skip(const char *test, const char *why)
{
    fprintf(stderr, "SKIP %s: %s\n", test, why);
}

int tu_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    st = system(cmd);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

char *tu_sh_out(const char *fmt, ...)
{
    char cmd[4096], chunk[4096];
    struct fl_buf b;
    va_list ap;
    FILE *p;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    p = popen(cmd, "r");
    if (p == NULL)
        return NULL;
    fl_buf_init(&b, 64 << 20);
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        fl_buf_add(&b, chunk, n);
    if (pclose(p) == -1) {
        fl_buf_free(&b);
        return NULL;
    }
    return fl_buf_take(&b);
}
