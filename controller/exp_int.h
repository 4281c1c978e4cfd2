/*
 * Internals of the experiment parser, shared by its files and nothing else:
 * exp_yaml.c (node positions, errors, structure checks, typed scalars),
 * exp_topology.c (topology, address plan, names), exp_target.c,
 * exp_workload.c, exp_fault.c, exp_verify.c (one section each) and
 * experiment.c (the value spec converter and the file as a whole). Each section parser takes
 * the section's value node v and its key node k (for positions) and fills
 * p->exp; errors are "file:line:col: message" in p->err, returning -EINVAL
 * (or -ENOMEM).
 */
#ifndef FAULTLINE_EXP_INT_H
#define FAULTLINE_EXP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libfyaml.h>

#include "experiment.h"
#include "faultline/optspec.h"

#define PATH_LEN 160 /* "faults[3].groups[1][0]" and such */
#define MAX_KEYS 32  /* keys of one mapping in a table */

struct pctx {
    const char *file;
    struct fl_err *err;
    struct experiment *exp;
    json_t *marks; /* when set, the converter records JSON pointer -> [line, col] */
};

/* ---- exp_yaml.c ---------------------------------------------------------- */

/* snprintf for paths that may be cut short on purpose (bounded messages). */
void pathf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* 1-based position of a node: its scalar token, or the first scalar inside it. */
void node_pos(struct fy_node *n, int *line, int *col);
/* "file:line:column: message" at node at (or fallback). Returns -EINVAL. */
int perr(struct pctx *p, struct fy_node *at, struct fy_node *fallback, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
bool is_null(struct fy_node *n);
/* What a node is, for "found ..." in messages (buf holds a scalar's text). */
const char *found(struct fy_node *n, char *buf, size_t len);
/* list joined with ", " into buf. */
const char *joined(const char *const *list, char *buf, size_t len);
/* A key node's text ("" when it is not a scalar). */
const char *key_text(struct fy_node *k);
int expect_map(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path);
int expect_seq(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path);
/* Value of key in map (and the key node into *kn), or NULL. */
struct fy_node *map_get(struct fy_node *map, const char *key, struct fy_node **kn);
bool in_list(const char *s, const char *const *list);
/* Every key of map in allowed (else "did you mean"), every key of required present. */
int map_check(struct pctx *p, struct fy_node *map, struct fy_node *at, const char *what,
              const char *const *allowed, const char *const *required);
int get_str(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
            const char **out);
bool name_ok(const char *s, size_t max, bool allow_dot);
int get_name(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path, size_t max,
             char *out);
int get_uint(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
             unsigned long long min, unsigned long long max, unsigned long long *out);
int get_number(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path, double min,
               double max, bool min_open, double *out);
int get_bool(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path, bool *out);
int get_duration(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
                 int64_t *out);
int get_rate(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path, double *out);
int get_enum(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
             const char *const *values, int *out);

/* ---- exp_topology.c ------------------------------------------------------ */

enum rtype { R_ANY, R_REGION, R_ZONE, R_HOST };

/* Names of every region, zone or host (t), NULL-terminated; the caller frees the array. */
const char **names_of(const struct experiment *exp, enum rtype t);
int resolve_name(const struct experiment *exp, enum rtype t, const char *name, struct exp_set *set,
                 struct fl_err *err);
int parse_topology(struct pctx *p, struct fy_node *v, struct fy_node *k);

/* ---- sections ------------------------------------------------------------ */

int parse_target(struct pctx *p, struct fy_node *v, struct fy_node *k); /* exp_target.c */
/* exp_target.c: the target kind's limits against the lab (v: the target section), last. */
int check_target_limits(struct pctx *p, struct fy_node *v);
int parse_workload(struct pctx *p, struct fy_node *v, struct fy_node *k); /* exp_workload.c */
int parse_faults(struct pctx *p, struct fy_node *v, struct fy_node *k);   /* exp_fault.c */
int parse_verify(struct pctx *p, struct fy_node *v, struct fy_node *k);   /* exp_verify.c */
int parse_promise(struct pctx *p, struct fy_node *v, struct fy_node *k);  /* exp_promise.c */
int parse_guards(struct pctx *p, struct fy_node *v, struct fy_node *k);   /* exp_guard.c */
/* exp_limits.c: limits: (k NULL when absent; staging requires it), checked against the faults. */
int parse_limits(struct pctx *p, struct fy_node *v, struct fy_node *k);

/* experiment.c: a value checked against spec s, as JSON in *out. */
int vconv(struct pctx *p, const struct vspec *s, struct fy_node *k, struct fy_node *v,
          const char *path, const char *ptr, json_t **out);
/* experiment.c: a region name of the topology (with "did you mean"). */
int conv_region(struct pctx *p, struct fy_node *k, struct fy_node *v, const char *path,
                const char **out);

#endif
