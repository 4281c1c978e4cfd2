/*
 * The history: every operation the workload made, and the fault timeline.
 * The workload engine appends records; verifiers read them; both sides use
 * this one in-memory form, and history.jsonl / faults.jsonl are its text form.
 * Implemented in history/ (libflhistory); docs/internals/history.md has the
 * full format.
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
 *    "error":"text or absent","final":true (only on final reads),
 *    "group":"west-app" (the client's group, when the workload has groups)}
 *   "type" is "read", "write" or "cas"; value is a number or null.
 *   compare-and-set: "type":"cas","value":[expected_or_null,new_or_null],
 *    "outcome":"ok","swapped":true|false ("swapped" required when ok; a
 *    comparison that did not match is ok with "swapped":false).
 *   set model: every record carries "model":"set"; a write's "value" is the
 *    element it adds, a read's "value" is the array of elements it saw
 *    ([e1,e2,...], sorted ascending; null when the read returned nothing).
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

/* hist_op.flags */
#define HIST_F_CAS     0x01u /* compare-and-set: value = new, expected in extra */
#define HIST_F_SWAPPED 0x02u /* cas, outcome ok, swapped (ok and !SWAPPED = no match) */
#define HIST_F_SET     0x04u /* set model: a write adds element `value`; a read's set is in extra */

struct hist_op {
    int64_t invoke_ns;
    int64_t complete_ns;
    uint64_t value;   /* register: written or read value; cas: new value; set write: the
                         element; 0 = none */
    uint32_t client;  /* client number */
    uint32_t key;     /* index into hist.keys */
    uint16_t op;      /* index into hist.ops_names */
    uint16_t region;  /* index into hist.regions (0 = "" unknown) */
    uint8_t outcome;  /* enum hist_outcome */
    uint8_t is_write; /* 1 if op is a write (cas included) */
    uint8_t is_final; /* 1 for final reads after healing */
    uint8_t flags;    /* HIST_F_* */
    uint32_t error;   /* index into hist.errors (0 = no error text) */
    uint32_t extra;   /* index into hist.extra, 0 = none. cas: extra[i] = expected (0 = key
                         absent); set read: extra[i] = n, extra[i+1..i+n] = the elements,
                         sorted ascending without duplicates */
};

#ifndef __cplusplus
_Static_assert(sizeof(struct hist_op) == 48, "struct hist_op must stay 48 bytes");
#endif

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
    uint64_t *extra; /* cas expected values and set-read elements; extra[0] unused */
    size_t nextra, extra_cap;
    /* Client groups: a group belongs to a client, not to a record, so records
     * stay 48 bytes; client_group[client] indexes groups (0 = no group). */
    struct hist_strtab groups;
    uint16_t *client_group;
    size_t nclient_group; /* entries in client_group */
};

/* Highest client number that can carry a group. */
#define HIST_GROUP_CLIENT_MAX 1048575u

struct hist_fault {
    char id[64];
    char kind[32];
    char scope[128];
    int64_t apply_sent_ns, apply_done_ns; /* the fault took effect within [sent, done] */
    int64_t heal_sent_ns, heal_done_ns;   /* 0 if never healed */
    char healed_by[96]; /* who healed it early ("guard <name>"); "" when on schedule */
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
/*
 * Append a compare-and-set record: op->value is the new value, expected the
 * value compared against (0 = the key must be absent). Sets is_write and
 * HIST_F_CAS; the caller sets HIST_F_SWAPPED in op->flags when the outcome is
 * ok and the value was swapped. 0, -ENOMEM or -E2BIG.
 */
int hist_append_cas(struct hist *h, const struct hist_op *op, uint64_t expected);
/*
 * Append a set-model read that returned the n elements elems (copied, then
 * sorted ascending and deduplicated; any order accepted). Sets HIST_F_SET.
 * 0, -ENOMEM or -E2BIG.
 */
int hist_append_set_read(struct hist *h, const struct hist_op *op, const uint64_t *elems, size_t n);
/* Append all records of src (re-interning names, copying extras). Used to merge
 * per-client buffers. */
int hist_merge(struct hist *dst, const struct hist *src);
/*
 * Put client in group (interned). -EEXIST when the client already has
 * another group, -E2BIG when client > HIST_GROUP_CLIENT_MAX or too many
 * groups, -ENOMEM. An empty group name is no group (0).
 */
int hist_set_group(struct hist *h, uint32_t client, const char *group);
/* Sort records by invoke time (stable). */
void hist_sort(struct hist *h);

/*
 * Read history.jsonl, appending its records to h (initialised by the caller).
 * Streams the file (yajl); about 2M records/s on one core. On error returns a
 * negative errno and err names "path:line: what"; h then holds the records of
 * the lines before the bad one.
 */
int hist_load_jsonl(const char *path, struct hist *h, struct fl_err *err);
/* Write one JSON line per record to f. */
int hist_write_jsonl(FILE *f, const struct hist *h);

/*
 * Read a JSONL file with jansson: every non-blank line parsed (duplicate keys
 * refused) and handed to fn, which returns 0 or a negative errno to stop.
 * Errors name "path:line: what". The faults.jsonl reader (and the benchmark's
 * copy of the original history reader) use it.
 */
struct json_t;
typedef int (*hist_jsonl_fn)(struct json_t *o, void *arg, const char *path, size_t line,
                             struct fl_err *err);
int hist_jsonl_each(const char *path, hist_jsonl_fn fn, void *arg, struct fl_err *err);
/*
 * Member k of object o as an integer / a string: 0 when found; absent or
 * null gives 0 / "" unless required; otherwise -1 with *why ("missing",
 * "must be an integer", "must be a string") for the caller's error line.
 */
int hist_json_i64(struct json_t *o, const char *k, bool required, int64_t *v, const char **why);
int hist_json_str(struct json_t *o, const char *k, bool required, const char **v, const char **why);

int hist_faults_load_jsonl(const char *path, struct hist_faults *fs, struct fl_err *err);
int hist_faults_write_jsonl(FILE *f, const struct hist_faults *fs);
int hist_faults_append(struct hist_faults *fs, const struct hist_fault *f);
void hist_faults_free(struct hist_faults *fs);

static inline const char *hist_op_name(const struct hist *h, const struct hist_op *o)
{
    return h->op_names.s[o->op];
}

/* The group of a client ("" when none). */
static inline const char *hist_client_group(const struct hist *h, uint32_t client)
{
    return client < h->nclient_group && h->client_group[client] != 0
               ? h->groups.s[h->client_group[client]]
               : "";
}

/* The expected value of a cas record (0 = key absent, or not a cas). */
static inline uint64_t hist_cas_expected(const struct hist *h, const struct hist_op *o)
{
    return (o->flags & HIST_F_CAS) && o->extra != 0 ? h->extra[o->extra] : 0;
}

/*
 * The elements a set-model read returned, sorted ascending, *n of them; NULL
 * with *n = 0 when the record holds no set (a write, or a read with no answer).
 * Points into h->extra: valid until the next append to h.
 */
static inline const uint64_t *hist_set_elems(const struct hist *h, const struct hist_op *o,
                                             size_t *n)
{
    if (!(o->flags & HIST_F_SET) || o->is_write || o->extra == 0) {
        *n = 0;
        return NULL;
    }
    *n = (size_t)h->extra[o->extra];
    return &h->extra[o->extra + 1];
}

/* Is x among v[0..n) (sorted ascending)? Binary search, O(log n). */
static inline bool hist_sorted_has(const uint64_t *v, size_t n, uint64_t x)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (v[mid] == x)
            return true;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Did set-model read rd return element e? */
static inline bool hist_set_has(const struct hist *h, const struct hist_op *rd, uint64_t e)
{
    size_t n;
    const uint64_t *el = hist_set_elems(h, rd, &n);

    return hist_sorted_has(el, n, e);
}

#endif
