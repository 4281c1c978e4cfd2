/*
 * Logging for programs (never for libraries). log_warn appends strerror(errno),
 * log_warnx does not, as in OpenBSD daemons. Lines go to stderr, prefixed with
 * the program name; log_debug prints only when verbose.
 */
#ifndef FAULTLINE_LOG_H
#define FAULTLINE_LOG_H

void fl_log_init(const char *progname, int verbose);
int fl_log_verbose(void);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
