/*
 * The history: every operation the workload made, and the fault timeline.
 * The workload engine appends records; verifiers read them; both sides use
 * this one in-memory form, and history.jsonl / faults.jsonl are its text form.
 *
 * Records are compact (strings interned to small indexes) because verifiers
 * must run over tens of millions of them: a history is an array of
 * struct hist_op plus name tables. Values are integers: every write carries a
 * value unique per key (the workload makes them), 0 means "no value" (a read
 * that found nothing, a delete, an op whose result is unknown).
 *
 * history.jsonl, one object per line (keys beyond these are ignored):
 *   {"client":3,"op":"set-secret","type":"write","key":"k17","value":123456,
 *    "region":"west","invoke_ns":..,"complete_ns":..,"outcome":"ok|fail|info",
 *    "error":"text or absent","final":true (only on final reads)}
 *   "type" is "read" or "write"; value is a number or null.
 * faults.jsonl, one object per fault:
 *   {"id":"f1","kind":"isolate","scope":"region west","hosts":["west-z1-h1"],
 *    "apply_sent_ns":..,"apply_done_ns":..,"heal_sent_ns":..,"heal_done_ns":..}
 *   heal times are 0/absent when the fault was never healed.
 * All times are CLOCK_MONOTONIC nanoseconds of the controller host.
 */
#ifndef FAULTLINE_HISTORY_H
#define FAULTLINE_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct fl_err;

enum hist_outcome {
    HIST_OK = 0,   /* definitely applied / served */
    HIST_FAIL = 1, /* definitely not applied (refused, error) */
    HIST_INFO = 2, /* unknown: timeout, connection lost */
};

struct hist_op {
    int64_t invoke_ns;
    int64_t complete_ns;
    uint64_t value;   /* written or read value; 0 = none */
    uint32_t client;  /* client number */
    uint32_t key;     /* index into hist.keys */
    uint16_t op;      /* index into hist.ops_names */
    uint16_t region;  /* index into hist.regions (0 = "" unknown) */
    uint8_t outcome;  /* enum hist_outcome */
    uint8_t is_write; /* 1 if op is a write */
    uint8_t is_final; /* 1 for final reads after healing */
    uint8_t pad;
    uint32_t error; /* index into hist.errors (0 = no error text) */
};

struct hist_strtab {
    char **s; /* s[0] is "" by convention */
    size_t n, cap;
    void *index; /* private hash index */
};

struct hist {
    struct hist_op *ops;
    size_t n, cap;
    struct hist_strtab op_names;
    struct hist_strtab keys;
    struct hist_strtab regions;
    struct hist_strtab errors;
};

struct hist_fault {
    char id[64];
    char kind[32];
    char scope[128];
    int64_t apply_sent_ns, apply_done_ns; /* the fault took effect within [sent, done] */
    int64_t heal_sent_ns, heal_done_ns;   /* 0 if never healed */
};

struct hist_faults {
    struct hist_fault *f;
    size_t n, cap;
};

/* Initialise an empty history (interns "" at index 0 of every table). 0 or -ENOMEM. */
int hist_init(struct hist *h);
/* Free everything. Accepts NULL. */
void hist_free(struct hist *h);
/* Intern a string; returns its index or -ENOMEM. */
int hist_intern(struct hist_strtab *t, const char *s);
/* Append a record (copied). 0 or -ENOMEM. */
int hist_append(struct hist *h, const struct hist_op *op);
/* Append all records of src (re-interning names). Used to merge per-client buffers. */
int hist_merge(struct hist *dst, const struct hist *src);
/* Sort records by invoke time (stable). */
void hist_sort(struct hist *h);

/* Read history.jsonl. Errors name "path:line: what". */
int hist_load_jsonl(const char *path, struct hist *h, struct fl_err *err);
/* Write one JSON line per record to f. */
int hist_write_jsonl(FILE *f, const struct hist *h);

int hist_faults_load_jsonl(const char *path, struct hist_faults *fs, struct fl_err *err);
int hist_faults_write_jsonl(FILE *f, const struct hist_faults *fs);
int hist_faults_append(struct hist_faults *fs, const struct hist_fault *f);
void hist_faults_free(struct hist_faults *fs);

static inline const char *hist_op_name(const struct hist *h, const struct hist_op *o)
{
    return h->op_names.s[o->op];
}

#endif
