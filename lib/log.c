/* stderr logging for programs; libraries report through struct fl_err. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/log.h"

static const char *log_prog = "faultline";
static int log_verbose;

void fl_log_init(const char *progname, int verbose)
{
    log_prog = progname;
    log_verbose = verbose;
}

int fl_log_verbose(void)
{
    return log_verbose;
}

static void vlog(const char *fmt, va_list ap, const char *suffix)
{
    char line[1024];

    vsnprintf(line, sizeof(line), fmt, ap);
    if (suffix != NULL)
        fprintf(stderr, "%s: %s: %s\n", log_prog, line, suffix);
    else
        fprintf(stderr, "%s: %s\n", log_prog, line);
}

void log_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(fmt, ap, NULL);
    va_end(ap);
}

void log_debug(const char *fmt, ...)
{
    va_list ap;

    if (!log_verbose)
        return;
    va_start(ap, fmt);
    vlog(fmt, ap, NULL);
    va_end(ap);
}

void log_warn(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    vlog(fmt, ap, strerror(saved));
    va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(fmt, ap, NULL);
    va_end(ap);
}

void fatal(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    vlog(fmt, ap, strerror(saved));
    va_end(ap);
    exit(3);
}

void fatalx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(fmt, ap, NULL);
    va_end(ap);
    exit(3);
}
