/*
 * The audit trail (see audit.h): one JSONL line per event, appended with one
 * write(2) under a mutex, rotated by size to one older file, read back for
 * GET /v1/audit. Lines are built under the same mutex that orders the
 * writes, so time_ns follows file order (unless the wall clock steps back).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "audit.h"
#include "faultline/buf.h"
#include "faultline/log.h"
#include "faultline/timeutil.h"

#define AUDIT_READ_CAP (64u << 20) /* one GET /v1/audit answer at most */

char *agent_iso_time(int64_t wall_ns, char *buf, size_t len)
{
    time_t s = (time_t)(wall_ns / 1000000000LL);
    struct tm tm;
    char day[32];

    if (gmtime_r(&s, &tm) == NULL || strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        snprintf(day, sizeof(day), "1970-01-01T00:00:00");
    snprintf(buf, len, "%s.%03dZ", day, (int)((wall_ns / 1000000LL) % 1000));
    return buf;
}

const char *agent_addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
    const void *p = NULL;

    if (sa != NULL && sa->sa_family == AF_INET)
        p = &((const struct sockaddr_in *)sa)->sin_addr;
    else if (sa != NULL && sa->sa_family == AF_INET6)
        p = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (p == NULL || inet_ntop(sa->sa_family, p, buf, (socklen_t)len) == NULL)
        snprintf(buf, len, "unknown");
    return buf;
}

int agent_spec_sha256(const json_t *spec, char hex[AGENT_SHA256_HEX])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char d[32];
    char *text;
    size_t i;
    int r;

    hex[0] = '\0';
    text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL)
        return -ENOMEM;
    r = gnutls_hash_fast(GNUTLS_DIG_SHA256, text, strlen(text), d);
    free(text);
    if (r < 0)
        return -EIO;
    for (i = 0; i < sizeof(d); i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[64] = '\0';
    return 0;
}

/* Open path for appending and learn its size. Caller holds the lock. */
static int reopen_locked(struct agent_audit *au)
{
    struct stat st;
    int fd;

    fd = open(au->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    au->fd = fd;
    au->size = (uint64_t)st.st_size;
    return 0;
}

int agent_audit_open(struct agent_audit *au, const char *state_dir, uint64_t max_bytes,
                     struct fl_err *err)
{
    int r;

    memset(au, 0, sizeof(*au));
    au->fd = -1;
    au->max_bytes = max_bytes ? max_bytes : AGENT_AUDIT_MAX_DEFAULT;
    snprintf(au->path, sizeof(au->path), "%s/audit.jsonl", state_dir);
    snprintf(au->rotated, sizeof(au->rotated), "%s.1", au->path);
    if ((r = reopen_locked(au)) < 0)
        return fl_errf(err, r, "audit log %s: %s", au->path, strerror(-r));
    pthread_mutex_init(&au->lock, NULL);
    au->initialised = true;
    return 0;
}

void agent_audit_close(struct agent_audit *au)
{
    if (au == NULL || !au->initialised)
        return;
    if (au->fd >= 0)
        close(au->fd);
    au->fd = -1;
    pthread_mutex_destroy(&au->lock);
    au->initialised = false;
}

/* A string jansson accepts: invalid UTF-8 becomes '?' bytes. New reference. */
static json_t *safe_string(const char *s)
{
    json_t *j = json_string(s);
    char *copy;
    size_t i;

    if (j != NULL)
        return j;
    copy = strdup(s);
    if (copy == NULL)
        return NULL;
    for (i = 0; copy[i] != '\0'; i++)
        if ((unsigned char)copy[i] >= 0x80)
            copy[i] = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

static void put_str(json_t *o, const char *key, const char *v)
{
    if (v != NULL)
        json_object_set_new(o, key, safe_string(v));
}

/*
 * True when the line of a request without the token may be written now (at
 * most AGENT_AUDIT_UNAUTH_PER_SEC a second); otherwise it is counted in
 * unauth_skipped. Caller holds the lock.
 */
static bool unauth_allowed(struct agent_audit *au, int64_t now)
{
    int64_t sec = now / 1000000000LL;

    if (sec != au->unauth_sec) {
        au->unauth_sec = sec;
        au->unauth_n = 0;
    }
    if (au->unauth_n >= AGENT_AUDIT_UNAUTH_PER_SEC) {
        au->unauth_skipped++;
        return false;
    }
    au->unauth_n++;
    return true;
}

/* The line for ev at wall time now, with its newline (malloc'd), or NULL. */
static char *event_line(const struct agent_audit_event *ev, int64_t now, uint64_t suppressed,
                        size_t *len)
{
    char when[40], addr[64], *text, *line;
    json_t *o = json_object();
    size_t n;

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "time", json_string(agent_iso_time(now, when, sizeof(when))));
    json_object_set_new(o, "time_ns", json_integer(now));
    put_str(o, "event", ev->event);
    put_str(o, "id", ev->id);
    put_str(o, "kind", ev->kind);
    put_str(o, "spec_sha256", ev->spec_sha256 && ev->spec_sha256[0] ? ev->spec_sha256 : NULL);
    if (ev->caller != NULL)
        put_str(o, "caller", agent_addr_text(ev->caller, addr, sizeof(addr)));
    put_str(o, "request", ev->request);
    if (ev->status != 0)
        json_object_set_new(o, "status", json_integer(ev->status));
    if (ev->reverted >= 0)
        json_object_set_new(o, "reverted", json_integer(ev->reverted));
    put_str(o, "reason", ev->reason);
    if (suppressed > 0)
        json_object_set_new(o, "suppressed", json_integer((json_int_t)suppressed));
    put_str(o, "result", ev->result ? ev->result : "ok");
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (text == NULL)
        return NULL;
    n = strlen(text);
    line = realloc(text, n + 2);
    if (line == NULL) {
        free(text);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    *len = n + 1;
    return line;
}

/* Move the full file to .1 and start a new one. Caller holds the lock. */
static int rotate_locked(struct agent_audit *au)
{
    int r = 0;

    if (rename(au->path, au->rotated) < 0)
        return -errno; /* keep appending to the file we have */
    close(au->fd);
    au->fd = -1;
    r = reopen_locked(au);
    return r;
}

static int append_locked(struct agent_audit *au, const char *line, size_t len)
{
    size_t off = 0;
    ssize_t n;
    int r = 0;

    if (au->fd >= 0 && au->size > 0 && au->size + len > au->max_bytes &&
        (r = rotate_locked(au)) < 0 && au->fd >= 0) {
        au->errors++; /* rotation failed: this line still goes into the old file */
        log_warnx("audit log %s: cannot rotate: %s", au->path, strerror(-r));
    }
    if (au->fd < 0 && (r = reopen_locked(au)) < 0)
        return r;
    while (off < len) {
        n = write(au->fd, line + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        off += (size_t)n;
        au->size += (uint64_t)n;
    }
    return 0;
}

int agent_audit_write(struct agent_audit *au, const struct agent_audit_event *ev)
{
    uint64_t suppressed = 0;
    int64_t now;
    char *line;
    size_t len = 0;
    int r;

    if (au == NULL || !au->initialised)
        return 0;
    pthread_mutex_lock(&au->lock);
    now = fl_wall_ns();
    if (ev->unauthenticated) {
        if (!unauth_allowed(au, now)) {
            pthread_mutex_unlock(&au->lock);
            return 0;
        }
        suppressed = au->unauth_skipped;
        au->unauth_skipped = 0;
    }
    line = event_line(ev, now, suppressed, &len);
    r = line != NULL ? append_locked(au, line, len) : -ENOMEM;
    if (r < 0) {
        au->errors++;
        if (!au->warned)
            log_warnx("audit log %s: lost a %s entry: %s (counted in "
                      "faultline_agent_audit_errors_total; the operation itself went on)",
                      au->path, ev->event ? ev->event : "?", strerror(-r));
        au->warned = true;
    } else {
        au->warned = false;
    }
    pthread_mutex_unlock(&au->lock);
    free(line);
    return r;
}

uint64_t agent_audit_errors(struct agent_audit *au)
{
    uint64_t n;

    if (au == NULL || !au->initialised)
        return 0;
    pthread_mutex_lock(&au->lock);
    n = au->errors;
    pthread_mutex_unlock(&au->lock);
    return n;
}

/* time_ns of one of our lines, or -1. */
static int64_t line_time(const char *line)
{
    const char *p = strstr(line, "\"time_ns\":");

    return p != NULL ? strtoll(p + 10, NULL, 10) : -1;
}

/* Add the lines of fd's first size bytes with time_ns >= since to b. */
static int read_file(FILE *fp, uint64_t size, int64_t since, size_t limit, size_t *n,
                     struct fl_buf *b)
{
    char *line = NULL;
    size_t cap = 0;
    uint64_t done = 0;
    ssize_t got;
    int r = 0;

    while (*n < limit && done < size && (got = getline(&line, &cap, fp)) > 0) {
        done += (uint64_t)got;
        if (done > size || line[got - 1] != '\n')
            break; /* written after the snapshot */
        if (line_time(line) < since)
            continue;
        if ((r = fl_buf_add(b, line, (size_t)got)) < 0)
            break;
        (*n)++;
    }
    free(line);
    return r;
}

/* Open path read-only (NULL when absent) with its size now. */
static FILE *open_snapshot(const char *path, uint64_t *size)
{
    struct stat st;
    FILE *fp;
    int fd;

    *size = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (fp = fdopen(fd, "r")) == NULL) {
        close(fd);
        return NULL;
    }
    *size = (uint64_t)st.st_size;
    return fp;
}

int agent_audit_read(struct agent_audit *au, int64_t since, size_t limit, char **out, size_t *len,
                     struct fl_err *err)
{
    FILE *old, *cur;
    uint64_t old_size, cur_size;
    struct fl_buf b;
    size_t n = 0;
    int r = 0;

    if (au == NULL || !au->initialised)
        return fl_errf(err, -ENOENT, "no audit log");
    /* Sizes taken under the lock: only whole lines, none written meanwhile. */
    pthread_mutex_lock(&au->lock);
    old = open_snapshot(au->rotated, &old_size);
    cur = open_snapshot(au->path, &cur_size);
    pthread_mutex_unlock(&au->lock);
    fl_buf_init(&b, AUDIT_READ_CAP);
    if (old != NULL)
        r = read_file(old, old_size, since, limit, &n, &b);
    if (r == 0 && cur != NULL)
        r = read_file(cur, cur_size, since, limit, &n, &b);
    if (old != NULL)
        fclose(old);
    if (cur != NULL)
        fclose(cur);
    if (r < 0 && r != -E2BIG && r != -ENOSPC) {
        fl_buf_free(&b);
        return fl_errf(err, r, "reading the audit log: %s", strerror(-r));
    }
    /* Over the cap: the whole lines that fit, as if limit had been lower. */
    *len = b.len;
    *out = b.p != NULL ? fl_buf_take(&b) : strdup("");
    fl_buf_free(&b);
    return *out != NULL ? 0 : fl_errf(err, -ENOMEM, "out of memory");
}
