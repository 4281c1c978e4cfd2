/*
 * The run's progress display. On a terminal one live line on stderr
 * ("[key-vault-region-outage] workload 12.3s  198 ops/s  ok 2301 fail 12
 * info 3  faults 1"), redrawn with \r at most four times a second, with
 * events (phases, faults applied and healed) printed as lines above it.
 * When stderr is not a terminal (CI logs): one plain line per event and a
 * status line every 5 s. Thread-safe: the workload's progress callback, the
 * fault scheduler and the main thread all report here.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "faultline/timeutil.h"
#include "run.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char name[EXP_NAME_MAX];
    char phase[32];
    bool tty, quiet, drawn, have_stats;
    int64_t start_ns, last_draw_ns, last_line_ns;
    struct wl_stats s;
    int faults;
} P;

void progress_begin(const char *experiment, bool quiet)
{
    pthread_mutex_lock(&mu);
    memset(&P, 0, sizeof(P));
    snprintf(P.name, sizeof(P.name), "%s", experiment);
    P.tty = isatty(STDERR_FILENO);
    P.quiet = quiet;
    P.start_ns = P.last_line_ns = fl_now_ns();
    snprintf(P.phase, sizeof(P.phase), "start");
    pthread_mutex_unlock(&mu);
}

static void status_text(char *buf, size_t len)
{
    double el = (double)(fl_now_ns() - P.start_ns) / 1e9;

    if (P.have_stats)
        snprintf(buf, len, "[%s] %-9s %6.1fs  %5.0f ops/s  ok %llu fail %llu info %llu  faults %d",
                 P.name, P.phase, el,
                 P.s.elapsed_ns > 0 ? (double)P.s.issued * 1e9 / (double)P.s.elapsed_ns : 0.0,
                 (unsigned long long)P.s.ok, (unsigned long long)P.s.fail,
                 (unsigned long long)P.s.info, P.faults);
    else
        snprintf(buf, len, "[%s] %-9s %6.1fs  faults %d", P.name, P.phase, el, P.faults);
}

static void clear_line(void)
{
    if (P.tty && P.drawn) {
        fputs("\r\033[K", stderr);
        P.drawn = false;
    }
}

static void draw(bool force)
{
    char line[256];
    int64_t now = fl_now_ns();

    if (P.quiet)
        return;
    if (P.tty) {
        if (!force && now - P.last_draw_ns < 250000000LL)
            return;
        status_text(line, sizeof(line));
        fprintf(stderr, "\r\033[K%s", line);
        fflush(stderr);
        P.drawn = true;
        P.last_draw_ns = now;
    } else if (force || now - P.last_line_ns >= 5000000000LL) {
        status_text(line, sizeof(line));
        fprintf(stderr, "%s\n", line);
        P.last_line_ns = now;
    }
}

void progress_event(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    double el;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&mu);
    if (!P.quiet) {
        el = (double)(fl_now_ns() - P.start_ns) / 1e9;
        clear_line();
        fprintf(stderr, "[%s] %7.2fs %s\n", P.name, el, msg);
        if (P.tty)
            draw(true);
    }
    pthread_mutex_unlock(&mu);
}

void progress_phase(const char *phase)
{
    pthread_mutex_lock(&mu);
    snprintf(P.phase, sizeof(P.phase), "%s", phase);
    pthread_mutex_unlock(&mu);
    progress_event("phase %s", phase);
}

void progress_stats(const struct wl_stats *s, int active_faults)
{
    pthread_mutex_lock(&mu);
    P.s = *s;
    P.have_stats = true;
    if (active_faults >= 0)
        P.faults = active_faults;
    draw(false);
    pthread_mutex_unlock(&mu);
}

void progress_faults(int active_faults)
{
    pthread_mutex_lock(&mu);
    P.faults = active_faults;
    pthread_mutex_unlock(&mu);
}

void progress_tick(void)
{
    pthread_mutex_lock(&mu);
    draw(false);
    pthread_mutex_unlock(&mu);
}

void progress_end(void)
{
    pthread_mutex_lock(&mu);
    clear_line();
    fflush(stderr);
    pthread_mutex_unlock(&mu);
}
