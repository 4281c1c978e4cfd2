/*
 * The agent's audit trail: an append-only JSONL file, <state-dir>/audit.jsonl,
 * one line per event (apply, renew, revert, revert-all, expire, sweep, halt,
 * resume, refused). Each line is written with one write(2) on an O_APPEND
 * descriptor (no stdio buffer: a crash loses no line already answered), not
 * fsynced. When a line would take the file past max_bytes the file is renamed
 * to audit.jsonl.1 (replacing the previous one) and a new one started, so the
 * trail takes at most twice max_bytes. One mutex serialises writers (the HTTP
 * threads and the lease thread) and rotation; readers snapshot the sizes under
 * it and read without it. A failed write never fails the operation it records:
 * it is logged once per streak and counted (agent_audit_errors).
 */
#ifndef FAULTLINE_AGENT_AUDIT_H
#define FAULTLINE_AGENT_AUDIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>

#include "faultline/err.h"

#define AGENT_AUDIT_MAX_DEFAULT (16ULL << 20) /* --audit-max-bytes default */
#define AGENT_AUDIT_MAX_MIN     1024ULL
#define AGENT_AUDIT_MAX_MAX     (1ULL << 30)
#define AGENT_AUDIT_LIMIT_DEF   10000 /* GET /v1/audit: lines per answer by default */
#define AGENT_AUDIT_LIMIT_MAX   100000
#define AGENT_SHA256_HEX        65 /* 64 hex digits and the NUL */
/*
 * Refusals of requests without the token, written per second at most: the
 * rest are counted and the next one written says how many were left out
 * ("suppressed"), so that nobody without the token can rotate the trail away.
 */
#define AGENT_AUDIT_UNAUTH_PER_SEC 20

struct agent_audit {
    pthread_mutex_t lock; /* guards everything below */
    char path[4096];      /* <state-dir>/audit.jsonl */
    char rotated[4100];   /* <state-dir>/audit.jsonl.1 */
    int fd;               /* -1: reopened at the next write */
    uint64_t size;        /* bytes in path */
    uint64_t max_bytes;
    uint64_t errors;         /* lines lost or rotations failed */
    bool warned;             /* a failure was logged; cleared by the next good write */
    bool initialised;        /* agent_audit_open succeeded (lock usable) */
    int64_t unauth_sec;      /* the wall-clock second of the current window */
    unsigned unauth_n;       /* 401 entries written in it */
    uint64_t unauth_skipped; /* left out since the last one written */
};

/* One event; NULL / 0 fields are left out of the line. */
struct agent_audit_event {
    const char *event;             /* "apply", "renew", "revert", ... */
    const char *id;                /* fault id */
    const char *kind;              /* fault kind */
    const char *spec_sha256;       /* hex SHA-256 of the canonical spec */
    const struct sockaddr *caller; /* the client's address (the port is left out) */
    unsigned status;               /* HTTP status answered */
    const char *result;            /* NULL: "ok"; else the error text */
    const char *request;           /* "POST /v1/faults" (refused requests) */
    long long reverted;            /* revert-all / halt: how many; < 0: absent */
    const char *reason;            /* halt / resume: the caller's reason */
    bool unauthenticated;          /* no token: at most AGENT_AUDIT_UNAUTH_PER_SEC a second */
};

/*
 * Open (create 0600, never through a symbolic link) <state_dir>/audit.jsonl
 * for appending. 0 or negative errno with err; close with agent_audit_close.
 */
int agent_audit_open(struct agent_audit *au, const char *state_dir, uint64_t max_bytes,
                     struct fl_err *err);
/* Close the file. Accepts NULL and an audit that was never opened. */
void agent_audit_close(struct agent_audit *au);
/*
 * Append one line for ev (time and time_ns are now). Rotates first when the
 * line would pass max_bytes. Returns 0 or negative errno; a failure is
 * counted and logged (once per streak), and callers carry on. au may be NULL
 * (nothing written).
 */
int agent_audit_write(struct agent_audit *au, const struct agent_audit_event *ev);
/*
 * The lines with time_ns >= since, at most limit, rotated file first, as one
 * malloc'd text in *out (*len bytes; caller frees). Lines written after the
 * call began are not included. 0 or negative errno with err.
 */
int agent_audit_read(struct agent_audit *au, int64_t since, size_t limit, char **out, size_t *len,
                     struct fl_err *err);
/* Lines lost or rotations failed since start (for /metrics). au may be NULL. */
uint64_t agent_audit_errors(struct agent_audit *au);
/*
 * hex = SHA-256 of spec's canonical text (jansson JSON_COMPACT | JSON_SORT_KEYS),
 * 64 lowercase hex digits. 0, or -ENOMEM / -EIO (hex is then "").
 */
int agent_spec_sha256(const json_t *spec, char hex[AGENT_SHA256_HEX]);
/* "2026-01-31T12:00:00.123Z" for a CLOCK_REALTIME time in ns. Returns buf. */
char *agent_iso_time(int64_t wall_ns, char *buf, size_t len);
/* The numeric address of sa without the port ("198.19.0.1", "::1"), or "unknown". */
const char *agent_addr_text(const struct sockaddr *sa, char *buf, size_t len);

#endif
