/*
 * Experiment files: strict parsing with libfyaml, resolution of names into
 * addresses, and the lab's address plan. Every check names file:line:column,
 * what it found and what it expected; an unknown key or kind names the nearest
 * valid one. The parser walks libfyaml's document tree section by section;
 * small typed getters (string, integer, duration, rate, enum) do the checking,
 * and one table-driven converter turns target options and the verify: section
 * into JSON. Positions come from scalar tokens (libfyaml 0.7 has no node
 * marks): a collection is placed at its first scalar, an empty value at its key.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

#include "experiment.h"
#include "faultline/timeutil.h"

#define EXP_FILE_MAX (1024 * 1024) /* an experiment file is small; refuse more */
#define PATH_LEN     160           /* "faults[3].groups[1][0]" and such */
#define MAX_KEYS     32            /* keys of one mapping in a table */

/*
 * snprintf for paths and names that may be cut short on purpose: a message
 * naming "faults[3].groups[1][0]" is bounded, and a truncated path is better
 * than none (and keeps -Wformat-truncation quiet about it).
 */
static void pathf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pathf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* ---- names and hints --------------------------------------------------- */

static const char *const fault_kind_names[] = {
    "partition", "one-way", "isolate",   "loss",      "latency",   "jitter",  "duplicate",
    "corrupt",   "reorder", "bandwidth", "link-down", "blackhole", "process", NULL,
};

const char *experiment_fault_kind_name(enum exp_fault_kind kind)
{
    if ((int)kind < 0 || kind >= EXP_FAULT_KIND_COUNT)
        return "?";
    return fault_kind_names[kind];
}

const char *const *experiment_fault_kind_names(void)
{
    return fault_kind_names;
}

/* Optimal string alignment distance: edits plus swaps of neighbours ("wset" -> "west" is 1). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j;
    static const size_t big = (size_t)-1;
    size_t d[EXP_NAME_MAX + 1][EXP_NAME_MAX + 1];

    if (la > EXP_NAME_MAX || lb > EXP_NAME_MAX)
        return big;
    for (i = 0; i <= la; i++)
        d[i][0] = i;
    for (j = 0; j <= lb; j++)
        d[0][j] = j;
    for (i = 1; i <= la; i++) {
        for (j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            size_t best = d[i - 1][j - 1] + (ca == cb ? 0 : 1);

            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

const char *experiment_nearest(const char *s, const char *const *candidates)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1, i, limit;

    if (s == NULL || candidates == NULL)
        return NULL;
    limit = strlen(s) <= 4 ? 1 : 2;
    if (strlen(s) >= 9)
        limit = 3;
    for (i = 0; candidates[i] != NULL; i++) {
        size_t d = edit_distance(s, candidates[i]);

        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best_d <= limit ? best : NULL;
}

/* ---- parse context and errors ------------------------------------------ */

struct pctx {
    const char *file;
    struct fl_err *err;
    struct experiment *exp;
    json_t *marks; /* when set, the converter records JSON pointer -> [line, col] */
};

/* 1-based position of a node: its scalar token, or the first scalar inside it. */
static void node_pos(struct fy_node *n, int *line, int *col)
{
    int guard = 0;

    *line = 0;
    *col = 0;
    while (n != NULL && guard++ < 64) {
        void *it = NULL;

        switch (fy_node_get_type(n)) {
        case FYNT_SCALAR: {
            struct fy_token *t = fy_node_get_scalar_token(n);
            const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;

            if (m != NULL) {
                *line = m->line + 1;
                *col = m->column + 1;
            }
            return;
        }
        case FYNT_MAPPING: {
            struct fy_node_pair *pair = fy_node_mapping_iterate(n, &it);

            n = pair ? fy_node_pair_key(pair) : NULL;
            break;
        }
        case FYNT_SEQUENCE:
            n = fy_node_sequence_iterate(n, &it);
            break;
        default:
            return;
        }
    }
}

/*
 * Record "file:line:column: message" at node at (or at fallback when at has
 * no position, e.g. an empty value). Returns -EINVAL.
 */
static int perr(struct pctx *p, struct fy_node *at, struct fy_node *fallback, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int perr(struct pctx *p, struct fy_node *at, struct fy_node *fallback, const char *fmt, ...)
{
    char msg[FL_ERR_MAX];
    int line, col;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    node_pos(at, &line, &col);
    if (line == 0)
        node_pos(fallback, &line, &col);
    if (line == 0) {
        line = 1;
        col = 1;
    }
    return fl_errf(p->err, -EINVAL, "%s:%d:%d: %s", p->file, line, col, msg);
}

static bool is_null(struct fy_node *n)
{
    const char *s;

    if (n == NULL)
        return true;
    if (fy_node_get_type(n) != FYNT_SCALAR || fy_node_get_style(n) != FYNS_PLAIN)
        return false;
    s = fy_node_get_scalar0(n);
    return s == NULL || *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0;
}

/* What a node is, for "found ..." in messages. */
static const char *found(struct fy_node *n, char *buf, size_t len)
{
    const char *s;

    if (is_null(n))
        return "nothing";
    if (fy_node_get_type(n) == FYNT_MAPPING)
        return "a mapping";
    if (fy_node_get_type(n) == FYNT_SEQUENCE)
        return "a list";
    s = fy_node_get_scalar0(n);
    snprintf(buf, len, "'%.60s%s'", s ? s : "", s && strlen(s) > 60 ? "..." : "");
    return buf;
}

static const char *joined(const char *const *list, char *buf, size_t len)
{
    size_t i, off = 0;

    buf[0] = '\0';
    for (i = 0; list[i] != NULL && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", list[i]);
    return buf;
}

static const char *key_text(struct fy_node *k)
{
    const char *s = k && fy_node_get_type(k) == FYNT_SCALAR ? fy_node_get_scalar0(k) : NULL;

    return s ? s : "";
}

/* ---- structure checks -------------------------------------------------- */

static int expect_map(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path)
{
    char b[80];

    if (v != NULL && fy_node_get_type(v) == FYNT_MAPPING)
        return 0;
    return perr(p, v, k, "%s: expected a mapping, found %s", path, found(v, b, sizeof(b)));
}

static int expect_seq(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path)
{
    char b[80];

    if (v != NULL && fy_node_get_type(v) == FYNT_SEQUENCE)
        return 0;
    return perr(p, v, k, "%s: expected a list, found %s", path, found(v, b, sizeof(b)));
}

/* Value of key in map (and the key node into *kn), or NULL. */
static struct fy_node *map_get(struct fy_node *map, const char *key, struct fy_node **kn)
{
    struct fy_node_pair *pair;
    void *it = NULL;

    if (kn)
        *kn = NULL;
    while ((pair = fy_node_mapping_iterate(map, &it)) != NULL) {
        if (strcmp(key_text(fy_node_pair_key(pair)), key) == 0) {
            if (kn)
                *kn = fy_node_pair_key(pair);
            return fy_node_pair_value(pair);
        }
    }
    return NULL;
}

static bool in_list(const char *s, const char *const *list)
{
    size_t i;

    for (i = 0; list && list[i] != NULL; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/*
 * Every key of map must be in allowed, and every key in required present.
 * at is the key that holds map (for "missing" errors); what names the section
 * in messages ("workload", "the file" for the root).
 */
static int map_check(struct pctx *p, struct fy_node *map, struct fy_node *at, const char *what,
                     const char *const *allowed, const char *const *required)
{
    struct fy_node_pair *pair;
    void *it = NULL;
    char list[512];
    size_t i;

    while ((pair = fy_node_mapping_iterate(map, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(pair);
        const char *name, *near;

        if (k == NULL || fy_node_get_type(k) != FYNT_SCALAR)
            return perr(p, k, fy_node_pair_value(pair), "%s: keys must be plain words", what);
        name = key_text(k);
        if (in_list(name, allowed))
            continue;
        near = experiment_nearest(name, allowed);
        if (near != NULL)
            return perr(p, k, NULL, "unknown key '%s' in %s (did you mean '%s'?)", name, what,
                        near);
        return perr(p, k, NULL, "unknown key '%s' in %s; expected one of: %s", name, what,
                    joined(allowed, list, sizeof(list)));
    }
    for (i = 0; required && required[i] != NULL; i++) {
        struct fy_node *kn;

        if (map_get(map, required[i], &kn) == NULL && kn == NULL)
            return perr(p, at, map, "%s: missing required key '%s'", what, required[i]);
    }
    return 0;
}

/* ---- typed scalars ----------------------------------------------------- */

static int get_str(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
                   const char **out)
{
    char b[80];

    if (v == NULL || fy_node_get_type(v) != FYNT_SCALAR || is_null(v) ||
        (*out = fy_node_get_scalar0(v)) == NULL)
        return perr(p, v, k, "%s: expected a string, found %s", path, found(v, b, sizeof(b)));
    return 0;
}

static bool name_ok(const char *s, size_t max, bool allow_dot)
{
    size_t i, n = strlen(s);

    if (n == 0 || n >= max || !isalnum((unsigned char)s[0]))
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!isalnum(c) && c != '-' && c != '_' && !(allow_dot && c == '.'))
            return false;
    }
    return true;
}

/* A name: letters, digits, '-' and '_', starting with a letter or digit, < max. */
static int get_name(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
                    size_t max, char *out)
{
    const char *s;
    int rc = get_str(p, v, k, path, &s);

    if (rc < 0)
        return rc;
    if (!name_ok(s, max, false))
        return perr(p, v, k,
                    "%s: bad name '%s': expected letters, digits, '-' or '_' (at most %zu "
                    "characters, starting with a letter or digit)",
                    path, s, max - 1);
    snprintf(out, max, "%s", s);
    return 0;
}

static int get_uint(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
                    unsigned long long min, unsigned long long max, unsigned long long *out)
{
    const char *s = NULL;
    char b[80], *end;
    unsigned long long x;

    if (v != NULL && fy_node_get_type(v) == FYNT_SCALAR && !is_null(v))
        s = fy_node_get_scalar0(v);
    if (s == NULL || !isdigit((unsigned char)s[0]))
        goto bad;
    errno = 0;
    x = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0 || x < min || x > max)
        goto bad;
    *out = x;
    return 0;
bad:
    if (min == 1 && max >= 1000000)
        return perr(p, v, k, "%s: expected a positive integer, found %s", path,
                    found(v, b, sizeof(b)));
    return perr(p, v, k, "%s: expected an integer from %llu to %llu, found %s", path, min, max,
                found(v, b, sizeof(b)));
}

static int get_number(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
                      double min, double max, bool min_open, double *out)
{
    const char *s = NULL;
    char b[80], *end;
    double x;

    if (v != NULL && fy_node_get_type(v) == FYNT_SCALAR && !is_null(v))
        s = fy_node_get_scalar0(v);
    if (s == NULL || (!isdigit((unsigned char)s[0]) && s[0] != '.'))
        goto bad;
    errno = 0;
    x = strtod(s, &end);
    if (*end != '\0' || errno != 0 || x > max || x < min || (min_open && x == min))
        goto bad;
    *out = x;
    return 0;
bad:
    return perr(p, v, k, "%s: expected a number %s %g and <= %g, found %s", path,
                min_open ? ">" : ">=", min, max, found(v, b, sizeof(b)));
}

static int get_bool(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
                    bool *out)
{
    const char *s = NULL;
    char b[80];

    if (v != NULL && fy_node_get_type(v) == FYNT_SCALAR && fy_node_get_style(v) == FYNS_PLAIN)
        s = fy_node_get_scalar0(v);
    if (s != NULL && strcmp(s, "true") == 0)
        *out = true;
    else if (s != NULL && strcmp(s, "false") == 0)
        *out = false;
    else
        return perr(p, v, k, "%s: expected true or false, found %s", path, found(v, b, sizeof(b)));
    return 0;
}

static int get_duration(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
                        int64_t *ns)
{
    struct fl_err e = {0};
    const char *s = NULL;
    char b[80];

    if (v != NULL && fy_node_get_type(v) == FYNT_SCALAR && !is_null(v))
        s = fy_node_get_scalar0(v);
    if (s == NULL)
        return perr(p, v, k, "%s: expected a duration such as 250ms, 10s or 3m, found %s", path,
                    found(v, b, sizeof(b)));
    if (fl_duration_parse(s, ns, &e) < 0)
        return perr(p, v, k, "%s: %s", path, e.msg);
    return 0;
}

static int get_rate(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
                    double *per_s)
{
    struct fl_err e = {0};
    const char *s = NULL;
    char b[80];

    if (v != NULL && fy_node_get_type(v) == FYNT_SCALAR && !is_null(v))
        s = fy_node_get_scalar0(v);
    if (s == NULL)
        return perr(p, v, k, "%s: expected a rate such as 500/s, found %s", path,
                    found(v, b, sizeof(b)));
    if (fl_rate_parse(s, per_s, &e) < 0)
        return perr(p, v, k, "%s: %s", path, e.msg);
    return 0;
}

static int get_enum(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
                    const char *const *values, int *idx)
{
    const char *s = NULL, *near;
    char list[256], b[80];
    int i;

    if (v != NULL && fy_node_get_type(v) == FYNT_SCALAR && !is_null(v))
        s = fy_node_get_scalar0(v);
    if (s == NULL)
        return perr(p, v, k, "%s: expected one of %s, found %s", path,
                    joined(values, list, sizeof(list)), found(v, b, sizeof(b)));
    for (i = 0; values[i] != NULL; i++) {
        if (strcmp(s, values[i]) == 0) {
            *idx = i;
            return 0;
        }
    }
    near = experiment_nearest(s, values);
    if (near != NULL)
        return perr(p, v, k, "%s: unknown value '%s' (did you mean '%s'?)", path, s, near);
    return perr(p, v, k, "%s: unknown value '%s'; expected one of %s", path, s,
                joined(values, list, sizeof(list)));
}

/* ---- the lab's address plan -------------------------------------------- */

static void v4(struct fl_cidr *c, unsigned a, unsigned b, unsigned x, unsigned y, unsigned pfx)
{
    memset(c, 0, sizeof(*c));
    c->family = AF_INET;
    c->addr[0] = (uint8_t)a;
    c->addr[1] = (uint8_t)b;
    c->addr[2] = (uint8_t)x;
    c->addr[3] = (uint8_t)y;
    c->prefix = (uint8_t)pfx;
}

/* The control network's n-th address as a /32 (lab: a /24 or larger IPv4 network). */
static void control_addr(const struct fl_cidr *net, unsigned n, struct fl_cidr *out)
{
    uint32_t base = (uint32_t)net->addr[0] << 24 | (uint32_t)net->addr[1] << 16 |
                    (uint32_t)net->addr[2] << 8 | net->addr[3];

    base += n;
    v4(out, base >> 24, (base >> 16) & 0xff, (base >> 8) & 0xff, base & 0xff, 32);
}

/*
 * Names and addresses of the lab: region r (1-based, file order) gets
 * 198.18.r.0/24, its zone z 198.18.r.(32z)/27 with the router's leg at
 * .(32z+30), host h of that zone 198.18.r.(32z+h) and the name
 * "<region>-<zone>-h<h>"; host i (0-based overall) is reached on the control
 * network at .(i+10), the controller at .1.
 */
static int lab_plan(struct pctx *p, struct fy_node *at)
{
    struct exp_topology *t = &p->exp->topology;
    char buf[64];
    size_t r, z, i;

    if (t->control.family != AF_INET || t->control.prefix > 24)
        return perr(p, at, NULL,
                    "topology.control: the lab needs an IPv4 network of /24 or larger, found %s",
                    fl_cidr_format(&t->control, buf, sizeof(buf)));
    {
        struct fl_cidr data;

        v4(&data, 198, 18, 0, 0, 16);
        if (fl_cidr_overlaps(&data, &t->control))
            return perr(p, at, NULL,
                        "topology.control: %s overlaps the lab's data network 198.18.0.0/16",
                        fl_cidr_format(&t->control, buf, sizeof(buf)));
    }
    if (t->n_regions > EXP_LAB_MAX_REGIONS)
        return perr(p, at, NULL, "topology: the lab holds at most %d regions, found %zu",
                    EXP_LAB_MAX_REGIONS, t->n_regions);
    if (t->n_hosts > EXP_LAB_MAX_HOSTS)
        return perr(p, at, NULL, "topology: the lab holds at most %d hosts, found %zu",
                    EXP_LAB_MAX_HOSTS, t->n_hosts);
    control_addr(&t->control, 1, &t->controller);
    for (r = 0; r < t->n_regions; r++) {
        struct exp_region *reg = &t->regions[r];

        v4(&reg->cidr, 198, 18, (unsigned)r + 1, 0, 24);
        for (z = 0; z < reg->n_zones; z++) {
            struct exp_zone *zn = &reg->zones[z];
            unsigned zb = 32 * ((unsigned)z + 1);

            v4(&zn->cidr, 198, 18, (unsigned)r + 1, zb, 27);
            v4(&zn->gateway, 198, 18, (unsigned)r + 1, zb + 30, 32);
            for (i = 0; i < zn->n_hosts; i++) {
                struct exp_host *h = &t->hosts[zn->first_host + i];
                char ctl[64];

                pathf(h->name, sizeof(h->name), "%s-%s-h%zu", reg->name, zn->name, i + 1);
                v4(&h->data, 198, 18, (unsigned)r + 1, zb + (unsigned)i + 1, 32);
                control_addr(&t->control, (unsigned)h->index + 10, &h->control);
                fl_cidr_format(&h->control, ctl, sizeof(ctl));
                /* fl_cidr_format prints "a.b.c.d/32"; the URL wants the bare address */
                ctl[strcspn(ctl, "/")] = '\0';
                snprintf(h->agent, sizeof(h->agent), "http://%s:%d", ctl, EXP_LAB_AGENT_PORT);
            }
        }
    }
    return 0;
}

/* ---- sets: names and CIDRs resolved to hosts and prefixes --------------- */

void experiment_set_free(struct exp_set *set)
{
    if (set == NULL)
        return;
    free(set->text);
    free(set->cidrs);
    free(set->hosts);
    memset(set, 0, sizeof(*set));
}

static int set_add_cidr(struct exp_set *set, const struct fl_cidr *c)
{
    struct fl_cidr *n = realloc(set->cidrs, (set->n_cidrs + 1) * sizeof(*n));

    if (n == NULL)
        return -ENOMEM;
    set->cidrs = n;
    set->cidrs[set->n_cidrs++] = *c;
    return 0;
}

static int set_add_host(struct exp_set *set, size_t h)
{
    size_t i, *n;

    for (i = 0; i < set->n_hosts; i++)
        if (set->hosts[i] == h)
            return 0;
    n = realloc(set->hosts, (set->n_hosts + 1) * sizeof(*n));
    if (n == NULL)
        return -ENOMEM;
    set->hosts = n;
    set->hosts[set->n_hosts++] = h;
    return 0;
}

static int set_add_text(struct exp_set *set, const char *s)
{
    size_t old = set->text ? strlen(set->text) : 0;
    char *n = realloc(set->text, old + strlen(s) + 3);

    if (n == NULL)
        return -ENOMEM;
    if (old == 0)
        n[0] = '\0';
    else
        strcat(n, ", ");
    strcat(n, s);
    set->text = n;
    return 0;
}

/* Add hosts [first, first+n) and, in staging, their addresses. */
static int set_add_hosts(const struct experiment *exp, struct exp_set *set, size_t first, size_t n,
                         bool add_cidrs)
{
    size_t i;
    int rc;

    for (i = first; i < first + n; i++) {
        if ((rc = set_add_host(set, i)) < 0)
            return rc;
        if (add_cidrs && (rc = set_add_cidr(set, &exp->topology.hosts[i].data)) < 0)
            return rc;
    }
    return 0;
}

int experiment_region_find(const struct experiment *exp, const char *name)
{
    size_t r;

    for (r = 0; r < exp->topology.n_regions; r++)
        if (strcmp(exp->topology.regions[r].name, name) == 0)
            return (int)r;
    return -1;
}

enum rtype { R_ANY, R_REGION, R_ZONE, R_HOST };

/* Candidate names of a type, NULL-terminated (malloc'd array of borrowed strings). */
static const char **names_of(const struct experiment *exp, enum rtype t)
{
    const struct exp_topology *tp = &exp->topology;
    size_t n = 0, r, z, h, cap = tp->n_regions + tp->n_hosts + 1;
    const char **v;

    for (r = 0; r < tp->n_regions; r++)
        cap += tp->regions[r].n_zones;
    v = calloc(cap, sizeof(*v));
    if (v == NULL)
        return NULL;
    for (r = 0; r < tp->n_regions; r++) {
        if (t == R_ANY || t == R_REGION)
            v[n++] = tp->regions[r].name;
        for (z = 0; z < tp->regions[r].n_zones; z++)
            if (t == R_ANY || t == R_ZONE)
                v[n++] = tp->regions[r].zones[z].path;
    }
    for (h = 0; h < tp->n_hosts; h++)
        if (t == R_ANY || t == R_HOST)
            v[n++] = tp->hosts[h].name;
    return v;
}

static bool looks_like_cidr(const char *s)
{
    return isdigit((unsigned char)s[0]) || strchr(s, ':') != NULL;
}

/* Resolve one name (of type t) or CIDR and add it to set. */
static int resolve_name(const struct experiment *exp, enum rtype t, const char *name,
                        struct exp_set *set, struct fl_err *err)
{
    static const char *const what[] = {"region, zone or host", "region", "zone", "host"};
    const struct exp_topology *tp = &exp->topology;
    const char **cands, *near;
    size_t r, z, h;
    int rc;

    if (t == R_ANY && looks_like_cidr(name)) {
        struct fl_cidr c;

        if ((rc = fl_cidr_parse(name, &c, err)) < 0)
            return rc;
        if ((rc = set_add_cidr(set, &c)) < 0 || (rc = set_add_text(set, name)) < 0)
            return rc;
        for (h = 0; h < tp->n_hosts; h++)
            if (fl_cidr_contains(&c, &tp->hosts[h].data) && (rc = set_add_host(set, h)) < 0)
                return rc;
        return 0;
    }
    for (r = 0; r < tp->n_regions; r++) {
        const struct exp_region *reg = &tp->regions[r];

        if ((t == R_ANY || t == R_REGION) && strcmp(reg->name, name) == 0) {
            if (tp->lab && (rc = set_add_cidr(set, &reg->cidr)) < 0)
                return rc;
            if ((rc = set_add_hosts(exp, set, reg->first_host, reg->n_hosts, !tp->lab)) < 0)
                return rc;
            return set_add_text(set, name);
        }
        for (z = 0; z < reg->n_zones; z++) {
            const struct exp_zone *zn = &reg->zones[z];

            if ((t == R_ANY || t == R_ZONE) && strcmp(zn->path, name) == 0) {
                if (tp->lab && (rc = set_add_cidr(set, &zn->cidr)) < 0)
                    return rc;
                if ((rc = set_add_hosts(exp, set, zn->first_host, zn->n_hosts, !tp->lab)) < 0)
                    return rc;
                return set_add_text(set, name);
            }
        }
    }
    for (h = 0; h < tp->n_hosts; h++) {
        if ((t == R_ANY || t == R_HOST) && strcmp(tp->hosts[h].name, name) == 0) {
            if ((rc = set_add_hosts(exp, set, h, 1, true)) < 0)
                return rc;
            return set_add_text(set, name);
        }
    }
    cands = names_of(exp, t);
    if (cands == NULL)
        return -ENOMEM;
    near = experiment_nearest(name, cands);
    if (near != NULL)
        rc = fl_errf(err, -ENOENT, "unknown %s '%s' (did you mean '%s'?)", what[t], name, near);
    else if (t == R_ZONE)
        rc = fl_errf(err, -ENOENT, "unknown zone '%s' (zones are written region/zone, e.g. %s)",
                     name, cands[0] ? cands[0] : "west/z1");
    else if (t == R_HOST)
        rc = fl_errf(err, -ENOENT, "unknown host '%s' (e.g. %s)", name,
                     cands[0] ? cands[0] : "west-z1-h1");
    else if (t == R_ANY)
        rc = fl_errf(err, -ENOENT,
                     "unknown region, zone or host '%s'; expected a region (e.g. %s), a zone "
                     "(region/zone), a host or a CIDR",
                     name, tp->n_regions ? tp->regions[0].name : "west");
    else
        rc = fl_errf(err, -ENOENT, "unknown %s '%s'", what[t], name);
    free(cands);
    return rc;
}

int experiment_resolve(const struct experiment *exp, const char *name, struct exp_set *set,
                       struct fl_err *err)
{
    int rc;

    memset(set, 0, sizeof(*set));
    rc = resolve_name(exp, R_ANY, name, set, err);
    if (rc < 0)
        experiment_set_free(set);
    return rc;
}

/* ---- topology ----------------------------------------------------------- */

static const char *const topo_keys[] = {"regions", "control", NULL};
static const char *const region_keys[] = {"name", "zones", NULL};
static const char *const zone_keys[] = {"name", "hosts", NULL};
static const char *const host_keys[] = {"name", "agent", "address", NULL};

#define TOPO_NAME_MAX 28 /* region and zone names: "<region>-<zone>-h29" fits EXP_NAME_MAX */

static struct exp_host *host_new(struct exp_topology *t)
{
    struct exp_host *n = realloc(t->hosts, (t->n_hosts + 1) * sizeof(*n));

    if (n == NULL)
        return NULL;
    t->hosts = n;
    memset(&n[t->n_hosts], 0, sizeof(*n));
    n[t->n_hosts].index = t->n_hosts;
    return &n[t->n_hosts++];
}

static int parse_staging_host(struct pctx *p, struct fy_node *hv, const char *path,
                              struct exp_host *h)
{
    const struct exp_topology *t = &p->exp->topology;
    char ctl[64];
    size_t i;
    struct fy_node *k, *v;
    char sub[PATH_LEN];
    const char *s;
    struct fl_err e = {0};
    int rc;

    if ((rc = expect_map(p, hv, NULL, path)) < 0 ||
        (rc = map_check(p, hv, hv, path, host_keys, host_keys)) < 0)
        return rc;
    v = map_get(hv, "name", &k);
    pathf(sub, sizeof(sub), "%s.name", path);
    if ((rc = get_name(p, v, k, sub, EXP_NAME_MAX, h->name)) < 0)
        return rc;
    v = map_get(hv, "agent", &k);
    pathf(sub, sizeof(sub), "%s.agent", path);
    if ((rc = get_str(p, v, k, sub, &s)) < 0)
        return rc;
    if ((strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0) ||
        strlen(s) >= EXP_URL_MAX)
        return perr(p, v, k, "%s: expected an http:// or https:// URL, found '%s'", sub, s);
    snprintf(h->agent, sizeof(h->agent), "%s", s);
    v = map_get(hv, "address", &k);
    pathf(sub, sizeof(sub), "%s.address", path);
    if ((rc = get_str(p, v, k, sub, &s)) < 0)
        return rc;
    if (fl_cidr_parse(s, &h->data, &e) < 0)
        return perr(p, v, k, "%s: %s", sub, e.msg);
    if (h->data.prefix != fl_cidr_addrlen(&h->data) * 8)
        return perr(p, v, k, "%s: expected one address (the host's data address), found %s", sub,
                    s);
    if (fl_cidr_overlaps(&h->data, &t->control))
        return perr(p, v, k,
                    "%s: %s is inside the control network %s; data and control must be "
                    "separate networks",
                    sub, s, fl_cidr_format(&t->control, ctl, sizeof(ctl)));
    for (i = 0; i < h->index; i++) {
        if (strcmp(t->hosts[i].name, h->name) == 0)
            return perr(p, map_get(hv, "name", &k), k, "%s.name: duplicate host name '%s'", path,
                        h->name);
        if (fl_cidr_overlaps(&t->hosts[i].data, &h->data))
            return perr(p, v, k, "%s: host '%s' has the same address", sub, t->hosts[i].name);
    }
    return 0;
}

static int parse_zone(struct pctx *p, struct fy_node *zv, const char *path, size_t r, size_t z,
                      int *form)
{
    struct exp_topology *t = &p->exp->topology;
    struct exp_region *reg = &t->regions[r];
    struct exp_zone *zn = &reg->zones[z];
    struct fy_node *k, *v, *hk, *hv;
    char sub[PATH_LEN];
    size_t i;
    int rc, this_form;

    if ((rc = expect_map(p, zv, NULL, path)) < 0 ||
        (rc = map_check(p, zv, zv, path, zone_keys, zone_keys)) < 0)
        return rc;
    v = map_get(zv, "name", &k);
    pathf(sub, sizeof(sub), "%s.name", path);
    if ((rc = get_name(p, v, k, sub, TOPO_NAME_MAX, zn->name)) < 0)
        return rc;
    for (i = 0; i < z; i++)
        if (strcmp(reg->zones[i].name, zn->name) == 0)
            return perr(p, v, k, "%s: duplicate zone name '%s' in region '%s'", sub, zn->name,
                        reg->name);
    snprintf(zn->path, sizeof(zn->path), "%s/%s", reg->name, zn->name);
    zn->first_host = t->n_hosts;
    hv = map_get(zv, "hosts", &hk);
    pathf(sub, sizeof(sub), "%s.hosts", path);
    this_form = hv != NULL && fy_node_get_type(hv) == FYNT_SEQUENCE ? 1 : 0;
    if (*form >= 0 && this_form != *form)
        return perr(p, hv, hk,
                    "%s: mixes host counts (the lab) and host lists (staging); use one form in "
                    "the whole topology",
                    sub);
    *form = this_form;
    if (this_form == 0) {
        unsigned long long n;

        if (z >= EXP_LAB_MAX_ZONES)
            return perr(p, zv, NULL, "%s: the lab holds at most %d zones per region", path,
                        EXP_LAB_MAX_ZONES);
        if ((rc = get_uint(p, hv, hk, sub, 1, EXP_LAB_MAX_ZONE_HOSTS, &n)) < 0)
            return rc;
        for (i = 0; i < n; i++) {
            struct exp_host *h = host_new(t);

            if (h == NULL)
                return -ENOMEM;
            h->region = r;
            h->zone = z;
        }
    } else {
        struct fy_node *item;
        void *it = NULL;

        if (fy_node_sequence_item_count(hv) == 0)
            return perr(p, hv, hk, "%s: expected at least one host", sub);
        for (i = 0; (item = fy_node_sequence_iterate(hv, &it)) != NULL; i++) {
            char hp[PATH_LEN];
            struct exp_host *h = host_new(t);

            if (h == NULL)
                return -ENOMEM;
            h->region = r;
            h->zone = z;
            pathf(hp, sizeof(hp), "%s[%zu]", sub, i);
            if ((rc = parse_staging_host(p, item, hp, h)) < 0)
                return rc;
        }
    }
    zn->n_hosts = t->n_hosts - zn->first_host;
    return 0;
}

static int parse_region(struct pctx *p, struct fy_node *rv, const char *path, size_t r,
                        struct fy_node **name_nodes, int *form)
{
    struct exp_topology *t = &p->exp->topology;
    struct exp_region *reg = &t->regions[r];
    struct fy_node *k, *v, *zk, *zs, *item;
    char sub[PATH_LEN];
    void *it = NULL;
    size_t i;
    int rc;

    if ((rc = expect_map(p, rv, NULL, path)) < 0 ||
        (rc = map_check(p, rv, rv, path, region_keys, region_keys)) < 0)
        return rc;
    v = map_get(rv, "name", &k);
    pathf(sub, sizeof(sub), "%s.name", path);
    if ((rc = get_name(p, v, k, sub, TOPO_NAME_MAX, reg->name)) < 0)
        return rc;
    for (i = 0; i < r; i++) {
        if (strcmp(t->regions[i].name, reg->name) == 0) {
            int line, col;

            node_pos(name_nodes[i], &line, &col);
            return perr(p, v, k, "%s: duplicate region name '%s' (first defined at line %d)", sub,
                        reg->name, line);
        }
    }
    name_nodes[r] = v;
    zs = map_get(rv, "zones", &zk);
    pathf(sub, sizeof(sub), "%s.zones", path);
    if ((rc = expect_seq(p, zs, zk, sub)) < 0)
        return rc;
    if (fy_node_sequence_item_count(zs) == 0)
        return perr(p, zs, zk, "%s: expected at least one zone", sub);
    reg->zones = calloc((size_t)fy_node_sequence_item_count(zs), sizeof(*reg->zones));
    if (reg->zones == NULL)
        return -ENOMEM;
    reg->first_host = t->n_hosts;
    for (i = 0; (item = fy_node_sequence_iterate(zs, &it)) != NULL; i++) {
        char zp[PATH_LEN];

        pathf(zp, sizeof(zp), "%s[%zu]", sub, i);
        reg->n_zones = i + 1;
        if ((rc = parse_zone(p, item, zp, r, i, form)) < 0)
            return rc;
    }
    reg->n_hosts = t->n_hosts - reg->first_host;
    return 0;
}

/* Staging: a host may not be called like a region (names in faults would be ambiguous). */
static int check_staging(struct pctx *p, struct fy_node *at)
{
    struct exp_topology *t = &p->exp->topology;
    size_t i;

    for (i = 0; i < t->n_hosts; i++)
        if (experiment_region_find(p->exp, t->hosts[i].name) >= 0)
            return perr(p, at, NULL, "topology: host name '%s' is also a region name",
                        t->hosts[i].name);
    return 0;
}

static int parse_topology(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    struct exp_topology *t = &p->exp->topology;
    struct fy_node *rk, *rs, *ck, *cv, *item, **name_nodes = NULL;
    void *it = NULL;
    size_t i, n;
    int rc, form = -1;

    if ((rc = expect_map(p, v, k, "topology")) < 0 ||
        (rc = map_check(p, v, k, "topology", topo_keys, (const char *const[]){"regions", NULL})) <
            0)
        return rc;
    cv = map_get(v, "control", &ck);
    if (ck != NULL) {
        struct fl_err e = {0};
        const char *s;

        if ((rc = get_str(p, cv, ck, "topology.control", &s)) < 0)
            return rc;
        if (fl_cidr_parse(s, &t->control, &e) < 0)
            return perr(p, cv, ck, "topology.control: %s", e.msg);
    } else {
        fl_cidr_parse(EXP_LAB_CONTROL, &t->control, NULL);
    }
    rs = map_get(v, "regions", &rk);
    if ((rc = expect_seq(p, rs, rk, "topology.regions")) < 0)
        return rc;
    n = (size_t)fy_node_sequence_item_count(rs);
    if (n == 0)
        return perr(p, rs, rk, "topology.regions: expected at least one region");
    t->regions = calloc(n, sizeof(*t->regions));
    name_nodes = calloc(n, sizeof(*name_nodes));
    if (t->regions == NULL || name_nodes == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (i = 0; (item = fy_node_sequence_iterate(rs, &it)) != NULL; i++) {
        char path[PATH_LEN];

        pathf(path, sizeof(path), "topology.regions[%zu]", i);
        t->n_regions = i + 1;
        if ((rc = parse_region(p, item, path, i, name_nodes, &form)) < 0)
            goto out;
    }
    t->lab = form == 0;
    rc = t->lab ? lab_plan(p, ck ? cv : k) : check_staging(p, k);
out:
    free(name_nodes);
    return rc;
}

/* ---- table-driven values: target options and verify: -------------------- */

enum vt {
    VT_MAP,        /* sub: struct vspec[] */
    VT_DUR,        /* -> integer milliseconds */
    VT_UINT,       /* non-negative integer */
    VT_PORT,       /* 1..65535 */
    VT_RATIO,      /* 0..1 */
    VT_BOOL,       /* true | false */
    VT_ENUM,       /* sub: values */
    VT_STR,        /* any string */
    VT_NAMELIST,   /* list of names (operation names) */
    VT_ENUMLIST,   /* list of values from sub */
    VT_REGION,     /* a region of the topology */
    VT_REGIONLIST, /* regions, each once */
    VT_RATIOMAP,   /* {name: ratio} */
};

struct vspec {
    const char *key;
    enum vt type;
    const void *sub;
    bool required;
};

static const char **region_names(const struct experiment *exp)
{
    return names_of(exp, R_REGION);
}

static int conv_region(struct pctx *p, struct fy_node *k, struct fy_node *v, const char *path,
                       const char **out)
{
    const char **cands, *near;
    int rc;

    if ((rc = get_str(p, v, k, path, out)) < 0)
        return rc;
    if (experiment_region_find(p->exp, *out) >= 0)
        return 0;
    cands = region_names(p->exp);
    if (cands == NULL)
        return -ENOMEM;
    near = experiment_nearest(*out, cands);
    if (near != NULL)
        rc = perr(p, v, k, "%s: unknown region '%s' (did you mean '%s'?)", path, *out, near);
    else
        rc = perr(p, v, k, "%s: unknown region '%s'", path, *out);
    free(cands);
    return rc;
}

static int mark(struct pctx *p, const char *ptr, struct fy_node *v, struct fy_node *k)
{
    int line, col;

    if (p->marks == NULL)
        return 0;
    node_pos(v, &line, &col);
    if (line == 0)
        node_pos(k, &line, &col);
    return json_object_set_new(p->marks, ptr, json_pack("[ii]", line, col)) == 0 ? 0 : -ENOMEM;
}

static int vconv(struct pctx *p, const struct vspec *s, struct fy_node *k, struct fy_node *v,
                 const char *path, const char *ptr, json_t **out);

static int vconv_list(struct pctx *p, const struct vspec *s, struct fy_node *k, struct fy_node *v,
                      const char *path, const char *ptr, json_t *arr)
{
    struct fy_node *item;
    void *it = NULL;
    size_t i;
    int rc;

    if ((rc = expect_seq(p, v, k, path)) < 0)
        return rc;
    for (i = 0; (item = fy_node_sequence_iterate(v, &it)) != NULL; i++) {
        char ip[PATH_LEN], iptr[PATH_LEN];
        const char *str;
        size_t j;
        int idx;

        pathf(ip, sizeof(ip), "%s[%zu]", path, i);
        pathf(iptr, sizeof(iptr), "%s/%zu", ptr, i);
        if (s->type == VT_ENUMLIST) {
            if ((rc = get_enum(p, item, k, ip, s->sub, &idx)) < 0)
                return rc;
            str = ((const char *const *)s->sub)[idx];
        } else if (s->type == VT_REGIONLIST) {
            if ((rc = conv_region(p, k, item, ip, &str)) < 0)
                return rc;
        } else {
            if ((rc = get_str(p, item, k, ip, &str)) < 0)
                return rc;
            if (!name_ok(str, EXP_NAME_MAX, false))
                return perr(p, item, k, "%s: bad name '%s'", ip, str);
        }
        for (j = 0; j < json_array_size(arr); j++)
            if (strcmp(json_string_value(json_array_get(arr, j)), str) == 0)
                return perr(p, item, k, "%s: '%s' is listed twice", ip, str);
        if (json_array_append_new(arr, json_string(str)) < 0 || (rc = mark(p, iptr, item, k)) < 0)
            return -ENOMEM;
    }
    return 0;
}

static int vconv_map(struct pctx *p, const struct vspec *sub, struct fy_node *k, struct fy_node *v,
                     const char *path, const char *ptr, json_t *obj)
{
    const char *allowed[MAX_KEYS + 1], *required[MAX_KEYS + 1];
    struct fy_node_pair *pair;
    size_t na = 0, nr = 0, i;
    void *it = NULL;
    int rc;

    for (i = 0; sub[i].key != NULL && na < MAX_KEYS; i++) {
        allowed[na++] = sub[i].key;
        if (sub[i].required)
            required[nr++] = sub[i].key;
    }
    allowed[na] = NULL;
    required[nr] = NULL;
    if ((rc = expect_map(p, v, k, path)) < 0 ||
        (rc = map_check(p, v, k, path, allowed, required)) < 0)
        return rc;
    while ((pair = fy_node_mapping_iterate(v, &it)) != NULL) {
        struct fy_node *ck = fy_node_pair_key(pair), *cv = fy_node_pair_value(pair);
        const char *name = key_text(ck);
        char cp[PATH_LEN], cptr[PATH_LEN];
        json_t *val = NULL;

        for (i = 0; sub[i].key != NULL && strcmp(sub[i].key, name) != 0; i++)
            ;
        if (sub[i].key == NULL)
            continue;
        pathf(cp, sizeof(cp), "%s.%s", path, name);
        pathf(cptr, sizeof(cptr), "%s/%s", ptr, name);
        if ((rc = vconv(p, &sub[i], ck, cv, cp, cptr, &val)) < 0)
            return rc;
        if (json_object_set_new(obj, name, val) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* Convert v according to s into a new JSON value (*out). */
static int vconv(struct pctx *p, const struct vspec *s, struct fy_node *k, struct fy_node *v,
                 const char *path, const char *ptr, json_t **out)
{
    unsigned long long u;
    int64_t ns;
    double d;
    bool b;
    const char *str;
    int rc = 0, idx;

    *out = NULL;
    switch (s->type) {
    case VT_MAP:
        *out = json_object();
        rc = *out ? vconv_map(p, s->sub, k, v, path, ptr, *out) : -ENOMEM;
        break;
    case VT_DUR:
        if ((rc = get_duration(p, v, k, path, &ns)) == 0)
            *out = json_integer(ns / 1000000);
        break;
    case VT_UINT:
        if ((rc = get_uint(p, v, k, path, 0, (unsigned long long)INT64_MAX, &u)) == 0)
            *out = json_integer((json_int_t)u);
        break;
    case VT_PORT:
        if ((rc = get_uint(p, v, k, path, 1, 65535, &u)) == 0)
            *out = json_integer((json_int_t)u);
        break;
    case VT_RATIO:
        if ((rc = get_number(p, v, k, path, 0, 1, false, &d)) == 0)
            *out = json_real(d);
        break;
    case VT_BOOL:
        if ((rc = get_bool(p, v, k, path, &b)) == 0)
            *out = json_boolean(b);
        break;
    case VT_ENUM:
        if ((rc = get_enum(p, v, k, path, s->sub, &idx)) == 0)
            *out = json_string(((const char *const *)s->sub)[idx]);
        break;
    case VT_STR:
        if ((rc = get_str(p, v, k, path, &str)) == 0)
            *out = json_string(str);
        break;
    case VT_REGION:
        if ((rc = conv_region(p, k, v, path, &str)) == 0)
            *out = json_string(str);
        break;
    case VT_NAMELIST:
    case VT_ENUMLIST:
    case VT_REGIONLIST:
        *out = json_array();
        rc = *out ? vconv_list(p, s, k, v, path, ptr, *out) : -ENOMEM;
        break;
    case VT_RATIOMAP: {
        struct fy_node_pair *pair;
        void *it = NULL;

        if ((rc = expect_map(p, v, k, path)) < 0)
            break;
        if ((*out = json_object()) == NULL)
            return -ENOMEM;
        while (rc == 0 && (pair = fy_node_mapping_iterate(v, &it)) != NULL) {
            struct fy_node *ck = fy_node_pair_key(pair), *cv = fy_node_pair_value(pair);
            char cp[PATH_LEN], cptr[PATH_LEN];

            pathf(cp, sizeof(cp), "%s.%s", path, key_text(ck));
            pathf(cptr, sizeof(cptr), "%s/%s", ptr, key_text(ck));
            if (!name_ok(key_text(ck), EXP_NAME_MAX, false))
                rc = perr(p, ck, NULL, "%s: bad operation class name '%s'", path, key_text(ck));
            else if ((rc = get_number(p, cv, ck, cp, 0, 1, false, &d)) == 0 &&
                     (rc = mark(p, cptr, cv, ck)) == 0)
                json_object_set_new(*out, key_text(ck), json_real(d));
        }
        break;
    }
    }
    if (rc == 0 && *out == NULL)
        rc = -ENOMEM;
    if (rc == 0)
        rc = mark(p, ptr, v, k);
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- target ------------------------------------------------------------- */

static const char *const target_kinds[] = {"refstore", "redis-sentinel", "etcd",
                                           "postgres", "http",           NULL};
static const char *const refstore_presets[] = {"key-vault", "cosmos", NULL};
static const char *const replication_vals[] = {"sync", "async", NULL};
static const char *const consistency_vals[] = {"strong", "bounded",  "session",
                                               "prefix", "eventual", NULL};
static const char *const writes_vals[] = {"single", "multi", NULL};
/* Bug switches of faultline-refstore (targets/): each makes one verifier fail. */
static const char *const refstore_bugs[] = {
    "writes-in-read-only",        /* secondary accepts writes while read-only */
    "lose-acked-writes",          /* every Nth acknowledged write is never stored */
    "slow-failover",              /* failover takes slow_factor x failover_after */
    "stale-reads",                /* reads return the first value ever written */
    "no-failback",                /* the primary never takes writes back */
    "reads-refused-in-read-only", /* read-only secondary refuses allowed reads */
    NULL,
};
static const struct vspec refstore_bounded[] = {
    {"versions", VT_UINT, NULL, false},
    {"time", VT_DUR, NULL, false},
    {NULL, VT_STR, NULL, false},
};

static const struct vspec refstore_opts[] = {
    {"kind", VT_STR, NULL, true},
    {"preset", VT_ENUM, refstore_presets, true},
    {"primary", VT_REGION, NULL, false},
    {"replication", VT_ENUM, replication_vals, false},
    {"lag", VT_DUR, NULL, false},
    {"failover_after", VT_DUR, NULL, false},
    {"consistency", VT_ENUM, consistency_vals, false},
    {"writes", VT_ENUM, writes_vals, false},
    {"priority", VT_REGIONLIST, NULL, false},
    {"auto_failover", VT_BOOL, NULL, false},
    {"zone_redundant", VT_BOOL, NULL, false},
    {"auto_failback", VT_BOOL, NULL, false},
    {"heartbeat", VT_DUR, NULL, false},
    {"ack_timeout", VT_DUR, NULL, false},
    {"forward_timeout", VT_DUR, NULL, false},
    {"bounded", VT_MAP, refstore_bounded, false},
    {"read_only", VT_NAMELIST, NULL, false},
    {"bugs", VT_ENUMLIST, refstore_bugs, false},
    {"lose_every", VT_UINT, NULL, false},
    {"slow_factor", VT_UINT, NULL, false},
    {"port", VT_PORT, NULL, false},
    {NULL, VT_STR, NULL, false},
};

static const struct vspec redis_opts[] = {
    {"kind", VT_STR, NULL, true},
    {"primary", VT_REGION, NULL, false},
    {"master_name", VT_STR, NULL, false},
    {"quorum", VT_UINT, NULL, false},
    {"down_after", VT_DUR, NULL, false},
    {"failover_timeout", VT_DUR, NULL, false},
    {"min_replicas_to_write", VT_UINT, NULL, false},
    {"min_replicas_max_lag", VT_DUR, NULL, false},
    {"port", VT_PORT, NULL, false},
    {"sentinel_port", VT_PORT, NULL, false},
    {NULL, VT_STR, NULL, false},
};

static const struct vspec etcd_opts[] = {
    {"kind", VT_STR, NULL, true},
    {"primary", VT_REGION, NULL, false},
    {"election_timeout", VT_DUR, NULL, false},
    {"heartbeat", VT_DUR, NULL, false},
    {"port", VT_PORT, NULL, false},
    {NULL, VT_STR, NULL, false},
};

static const struct vspec postgres_opts[] = {
    {"kind", VT_STR, NULL, true},
    {"primary", VT_REGION, NULL, false},
    {"synchronous", VT_BOOL, NULL, false},
    {"database", VT_STR, NULL, false},
    {"port", VT_PORT, NULL, false},
    {"health_check_period", VT_DUR, NULL, false},
    {"health_check_timeout", VT_DUR, NULL, false},
    {"health_check_max_retries", VT_UINT, NULL, false},
    {"health_check_retry_delay", VT_DUR, NULL, false},
    {"unhealthy_timeout", VT_DUR, NULL, false},
    {"primary_demote_timeout", VT_DUR, NULL, false},
    {"startup_grace_period", VT_DUR, NULL, false},
    {"network_partition_timeout", VT_DUR, NULL, false},
    {NULL, VT_STR, NULL, false},
};

static const struct vspec http_opts[] = {
    {"kind", VT_STR, NULL, true},   {"primary", VT_REGION, NULL, false},
    {"port", VT_PORT, NULL, false}, {"health", VT_STR, NULL, false},
    {NULL, VT_STR, NULL, false},
};

static const struct vspec *const target_opts[] = {refstore_opts, redis_opts, etcd_opts,
                                                  postgres_opts, http_opts};

static int parse_target(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    struct exp_target *t = &p->exp->target;
    struct vspec spec = {"target", VT_MAP, NULL, true};
    struct fy_node *kk, *kv;
    json_t *j;
    int rc, idx;

    if ((rc = expect_map(p, v, k, "target")) < 0)
        return rc;
    kv = map_get(v, "kind", &kk);
    if (kk == NULL)
        return perr(p, k, v, "target: missing required key 'kind'");
    if ((rc = get_enum(p, kv, kk, "target.kind", target_kinds, &idx)) < 0)
        return rc;
    t->kind = (enum exp_target_kind)idx;
    t->kind_name = target_kinds[idx];
    spec.sub = target_opts[idx];
    if ((rc = vconv(p, &spec, k, v, "target", "", &t->options)) < 0)
        return rc;
    json_object_del(t->options, "kind");
    if ((j = json_object_get(t->options, "preset")) != NULL)
        snprintf(t->preset, sizeof(t->preset), "%s", json_string_value(j));
    if ((j = json_object_get(t->options, "primary")) != NULL) {
        t->has_primary = true;
        t->primary = (size_t)experiment_region_find(p->exp, json_string_value(j));
    }
    return 0;
}

/* ---- workload ----------------------------------------------------------- */

static const char *const workload_keys[] = {"clients", "rate",    "duration", "keys", "timeout",
                                            "mix",     "routing", "seed",     NULL};
static const char *const workload_required[] = {"clients", "rate", "duration", "mix", NULL};
static const char *const routing_keys[] = {"policy", "regions", NULL};
static const char *const routing_policies[] = {"preferred", "fixed", NULL};

/*
 * Operations of faultline-refstore per preset (docs/refstore.md), so a typo
 * in the mix fails validation instead of producing a run of refused calls.
 * Other targets' drivers check their own operations.
 */
static const char *const kv_ops[] = {
    "list-vaults",   "get-vault",    "list-secrets",   "get-secret", "list-keys",
    "get-key",       "encrypt",      "decrypt",        "wrap",       "unwrap",
    "verify",        "sign",         "backup",         "set-secret", "update-secret",
    "delete-secret", "purge-secret", "recover-secret", "create-key", "import-key",
    "update-key",    "delete-key",   "purge-key",      "restore",    NULL,
};
static const char *const cosmos_ops[] = {"read",    "query", "read-feed", "create", "upsert",
                                         "replace", "patch", "delete",    NULL};

static const char *const *target_ops(const struct experiment *exp)
{
    if (exp->target.kind != EXP_TARGET_REFSTORE)
        return NULL;
    return strcmp(exp->target.preset, "cosmos") == 0 ? cosmos_ops : kv_ops;
}

static int parse_mix(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    const char *const *ops = target_ops(p->exp);
    struct exp_workload *w = &p->exp->workload;
    struct fy_node_pair *pair;
    void *it = NULL;
    int rc;

    if ((rc = expect_map(p, v, k, "workload.mix")) < 0)
        return rc;
    if (fy_node_mapping_item_count(v) == 0)
        return perr(p, v, k, "workload.mix: expected at least one operation with a weight");
    w->mix = calloc((size_t)fy_node_mapping_item_count(v), sizeof(*w->mix));
    if (w->mix == NULL)
        return -ENOMEM;
    while ((pair = fy_node_mapping_iterate(v, &it)) != NULL) {
        struct fy_node *ok = fy_node_pair_key(pair), *ov = fy_node_pair_value(pair);
        struct exp_op_weight *m = &w->mix[w->n_mix];
        const char *op = key_text(ok);
        unsigned long long wt;
        char path[PATH_LEN];

        pathf(path, sizeof(path), "workload.mix.%s", op);
        if (!name_ok(op, EXP_NAME_MAX, false))
            return perr(p, ok, NULL, "workload.mix: bad operation name '%s'", op);
        if (ops != NULL && !in_list(op, ops)) {
            const char *near = experiment_nearest(op, ops);

            if (near != NULL)
                return perr(p, ok, NULL,
                            "workload.mix: '%s' is not an operation of refstore preset %s (did "
                            "you mean '%s'?)",
                            op, p->exp->target.preset, near);
            return perr(p, ok, NULL, "workload.mix: '%s' is not an operation of refstore preset %s",
                        op, p->exp->target.preset);
        }
        if ((rc = get_uint(p, ov, ok, path, 1, 1000000, &wt)) < 0)
            return rc;
        snprintf(m->op, sizeof(m->op), "%s", op);
        m->weight = (unsigned)wt;
        w->mix_total += m->weight;
        w->n_mix++;
    }
    return 0;
}

static int parse_routing(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    struct exp_workload *w = &p->exp->workload;
    struct fy_node *pk, *pv, *rk, *rv, *item;
    void *it = NULL;
    size_t i, j;
    int rc, idx;

    if ((rc = expect_map(p, v, k, "workload.routing")) < 0 ||
        (rc = map_check(p, v, k, "workload.routing", routing_keys,
                        (const char *const[]){"policy", NULL})) < 0)
        return rc;
    pv = map_get(v, "policy", &pk);
    if ((rc = get_enum(p, pv, pk, "workload.routing.policy", routing_policies, &idx)) < 0)
        return rc;
    w->routing = idx == 0 ? EXP_ROUTING_PREFERRED : EXP_ROUTING_FIXED;
    rv = map_get(v, "regions", &rk);
    if (rk == NULL)
        return 0;
    if ((rc = expect_seq(p, rv, rk, "workload.routing.regions")) < 0)
        return rc;
    if (fy_node_sequence_item_count(rv) == 0)
        return perr(p, rv, rk, "workload.routing.regions: expected at least one region");
    w->routing_regions = calloc((size_t)fy_node_sequence_item_count(rv), sizeof(size_t));
    if (w->routing_regions == NULL)
        return -ENOMEM;
    for (i = 0; (item = fy_node_sequence_iterate(rv, &it)) != NULL; i++) {
        char path[PATH_LEN];
        const char *name;

        pathf(path, sizeof(path), "workload.routing.regions[%zu]", i);
        if ((rc = conv_region(p, rk, item, path, &name)) < 0)
            return rc;
        w->routing_regions[i] = (size_t)experiment_region_find(p->exp, name);
        for (j = 0; j < i; j++)
            if (w->routing_regions[j] == w->routing_regions[i])
                return perr(p, item, rk, "%s: '%s' is listed twice", path, name);
        w->n_routing_regions = i + 1;
    }
    return 0;
}

static int parse_workload(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    struct exp_workload *w = &p->exp->workload;
    struct fy_node *fk, *fv;
    unsigned long long u;
    size_t r;
    int rc;

    if ((rc = expect_map(p, v, k, "workload")) < 0 ||
        (rc = map_check(p, v, k, "workload", workload_keys, workload_required)) < 0)
        return rc;
    fv = map_get(v, "clients", &fk);
    if ((rc = get_uint(p, fv, fk, "workload.clients", 1, 10000, &u)) < 0)
        return rc;
    w->clients = (unsigned)u;
    fv = map_get(v, "rate", &fk);
    if ((rc = get_rate(p, fv, fk, "workload.rate", &w->rate)) < 0)
        return rc;
    fv = map_get(v, "duration", &fk);
    if ((rc = get_duration(p, fv, fk, "workload.duration", &w->duration_ns)) < 0)
        return rc;
    if (w->duration_ns <= 0)
        return perr(p, fv, fk, "workload.duration: must be longer than 0s");
    w->keys = 100;
    fv = map_get(v, "keys", &fk);
    if (fk != NULL) {
        if ((rc = get_uint(p, fv, fk, "workload.keys", 1, 10000000, &u)) < 0)
            return rc;
        w->keys = (unsigned)u;
    }
    w->timeout_ns = 1000000000LL;
    fv = map_get(v, "timeout", &fk);
    if (fk != NULL) {
        if ((rc = get_duration(p, fv, fk, "workload.timeout", &w->timeout_ns)) < 0)
            return rc;
        if (w->timeout_ns <= 0)
            return perr(p, fv, fk, "workload.timeout: must be longer than 0s");
    }
    fv = map_get(v, "seed", &fk);
    if (fk != NULL) {
        if ((rc = get_uint(p, fv, fk, "workload.seed", 0, UINT64_MAX, &u)) < 0)
            return rc;
        w->has_seed = true;
        w->seed = u;
    }
    fv = map_get(v, "mix", &fk);
    if ((rc = parse_mix(p, fv, fk)) < 0)
        return rc;
    w->routing = EXP_ROUTING_PREFERRED;
    fv = map_get(v, "routing", &fk);
    if (fk != NULL && (rc = parse_routing(p, fv, fk)) < 0)
        return rc;
    if (w->n_routing_regions == 0) {
        /* Default: the primary region first, then the others in file order. */
        struct exp_topology *t = &p->exp->topology;
        size_t prim = p->exp->target.has_primary ? p->exp->target.primary : 0;

        w->routing_regions = calloc(t->n_regions, sizeof(size_t));
        if (w->routing_regions == NULL)
            return -ENOMEM;
        w->routing_regions[w->n_routing_regions++] = prim;
        for (r = 0; r < t->n_regions; r++)
            if (r != prim)
                w->routing_regions[w->n_routing_regions++] = r;
    }
    return 0;
}

/* ---- faults ------------------------------------------------------------- */

#define F_SCOPE 1u /* applies to the hosts of a region, zone or host */
#define F_MODE  2u /* drop | reject */

struct fkind_spec {
    const char *const *keys;     /* kind parameters */
    const char *const *required; /* of which required */
    unsigned flags;
};

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static const struct fkind_spec fkinds[EXP_FAULT_KIND_COUNT] = {
    [EXP_FAULT_PARTITION] = {L("groups"), L("groups"), F_MODE},
    [EXP_FAULT_ONE_WAY] = {L("from", "to"), L("from", "to"), F_MODE},
    [EXP_FAULT_ISOLATE] = {L(NULL), L(NULL), F_SCOPE | F_MODE},
    [EXP_FAULT_LOSS] = {L("percent"), L("percent"), F_SCOPE},
    [EXP_FAULT_LATENCY] = {L("delay", "jitter"), L("delay"), F_SCOPE},
    [EXP_FAULT_JITTER] = {L("jitter", "delay"), L("jitter"), F_SCOPE},
    [EXP_FAULT_DUPLICATE] = {L("percent"), L("percent"), F_SCOPE},
    [EXP_FAULT_CORRUPT] = {L("percent"), L("percent"), F_SCOPE},
    [EXP_FAULT_REORDER] = {L("percent", "delay"), L("percent", "delay"), F_SCOPE},
    [EXP_FAULT_BANDWIDTH] = {L("kbit"), L("kbit"), F_SCOPE},
    [EXP_FAULT_LINK_DOWN] = {L("dev"), L(NULL), F_SCOPE},
    [EXP_FAULT_BLACKHOLE] = {L("to"), L("to"), F_SCOPE},
    [EXP_FAULT_PROCESS] = {L("action", "service"), L("action"), F_SCOPE},
};

static const char *const fault_modes[] = {"drop", "reject", NULL};
static const char *const process_actions[] = {"stop", "continue", "kill", "restart", NULL};

/* The keys of one fault, long form and short form ("isolate: {region: west}") merged. */
struct fpairs {
    struct fy_node *k[MAX_KEYS], *v[MAX_KEYS];
    size_t n;
};

static struct fy_node *fp_get(const struct fpairs *fp, const char *key, struct fy_node **kn)
{
    size_t i;

    *kn = NULL;
    for (i = 0; i < fp->n; i++) {
        if (strcmp(key_text(fp->k[i]), key) == 0) {
            *kn = fp->k[i];
            return fp->v[i];
        }
    }
    return NULL;
}

static int fp_add(struct pctx *p, struct fpairs *fp, struct fy_node *k, struct fy_node *v,
                  const char *path)
{
    struct fy_node *dup;

    if (k == NULL || fy_node_get_type(k) != FYNT_SCALAR)
        return perr(p, k, v, "%s: keys must be plain words", path);
    if (fp_get(fp, key_text(k), &dup), dup != NULL)
        return perr(p, k, NULL, "%s: key '%s' given twice", path, key_text(k));
    if (fp->n >= MAX_KEYS)
        return perr(p, k, NULL, "%s: too many keys", path);
    fp->k[fp->n] = k;
    fp->v[fp->n++] = v;
    return 0;
}

/*
 * Resolve a name or a list of names (of type t) into set. guard: refuse
 * anything that reaches into the control network. others: sets a new member
 * must not overlap (the other groups of a partition).
 */
static int parse_members(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
                         enum rtype t, bool guard, struct exp_set *set,
                         const struct exp_set *others, size_t n_others)
{
    const struct exp_topology *tp = &p->exp->topology;
    struct fy_node *item, *one[2] = {v, NULL};
    bool list = v != NULL && fy_node_get_type(v) == FYNT_SEQUENCE;
    void *it = NULL;
    size_t i, j, g;
    char b[80];
    int rc;

    if (!list && (v == NULL || fy_node_get_type(v) != FYNT_SCALAR || is_null(v)))
        return perr(p, v, k, "%s: expected a name or a list of names, found %s", path,
                    found(v, b, sizeof(b)));
    if (list && fy_node_sequence_item_count(v) == 0)
        return perr(p, v, k, "%s: expected at least one name", path);
    for (i = 0; (item = list ? fy_node_sequence_iterate(v, &it) : one[i]) != NULL; i++) {
        char ip[PATH_LEN], c1[64], c2[64];
        struct fl_err e = {0};
        size_t before = set->n_cidrs;
        const char *s;

        if (list)
            pathf(ip, sizeof(ip), "%s[%zu]", path, i);
        else
            pathf(ip, sizeof(ip), "%s", path);
        if ((rc = get_str(p, item, k, ip, &s)) < 0)
            return rc;
        if ((rc = resolve_name(p->exp, t, s, set, &e)) < 0)
            return rc == -ENOMEM ? rc : perr(p, item, k, "%s: %s", ip, e.msg);
        for (j = before; j < set->n_cidrs; j++) {
            if (guard && fl_cidr_overlaps(&set->cidrs[j], &tp->control))
                return perr(p, item, k,
                            "%s: '%s' would cut the control network %s; the controller must "
                            "always reach the agents",
                            ip, s, fl_cidr_format(&tp->control, c1, sizeof(c1)));
            for (g = 0; g < n_others; g++) {
                size_t m;

                for (m = 0; m < others[g].n_cidrs; m++)
                    if (fl_cidr_overlaps(&set->cidrs[j], &others[g].cidrs[m]))
                        return perr(p, item, k,
                                    "%s: '%s' overlaps group %zu (%s at %s); a host can be in "
                                    "one group only",
                                    ip, s, g, others[g].text,
                                    fl_cidr_format(&others[g].cidrs[m], c2, sizeof(c2)));
            }
        }
    }
    return 0;
}

static int parse_groups(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *path,
                        struct exp_fault *f)
{
    struct fy_node *item;
    void *it = NULL;
    size_t i, n;
    int rc;

    if ((rc = expect_seq(p, v, k, path)) < 0)
        return rc;
    n = (size_t)fy_node_sequence_item_count(v);
    if (n < 2)
        return perr(p, v, k, "%s: a partition needs at least two groups, found %zu", path, n);
    f->groups = calloc(n, sizeof(*f->groups));
    if (f->groups == NULL)
        return -ENOMEM;
    for (i = 0; (item = fy_node_sequence_iterate(v, &it)) != NULL; i++) {
        char gp[PATH_LEN];

        pathf(gp, sizeof(gp), "%s[%zu]", path, i);
        f->n_groups = i + 1;
        if ((rc = parse_members(p, item, k, gp, R_ANY, true, &f->groups[i], f->groups, i)) < 0)
            return rc;
    }
    return 0;
}

static int fault_params(struct pctx *p, const struct fpairs *fp, const char *path,
                        struct exp_fault *f)
{
    size_t i;
    int rc;

    f->params = json_object();
    if (f->params == NULL)
        return -ENOMEM;
    for (i = 0; i < fp->n; i++) {
        const char *key = key_text(fp->k[i]);
        struct fy_node *v = fp->v[i], *k = fp->k[i];
        char kp[PATH_LEN];
        json_t *j = NULL;

        pathf(kp, sizeof(kp), "%s.%s", path, key);
        if (strcmp(key, "percent") == 0) {
            double d;

            if ((rc = get_number(p, v, k, kp, 0, 100, true, &d)) < 0)
                return rc;
            j = json_real(d);
        } else if (strcmp(key, "delay") == 0 || strcmp(key, "jitter") == 0) {
            int64_t ns;

            if ((rc = get_duration(p, v, k, kp, &ns)) < 0)
                return rc;
            if (ns <= 0)
                return perr(p, v, k, "%s: must be longer than 0s", kp);
            j = json_integer(ns / 1000000);
        } else if (strcmp(key, "kbit") == 0) {
            unsigned long long u;

            if ((rc = get_uint(p, v, k, kp, 1, 100000000, &u)) < 0)
                return rc;
            j = json_integer((json_int_t)u);
        } else if (strcmp(key, "dev") == 0) {
            const char *s;

            if ((rc = get_str(p, v, k, kp, &s)) < 0)
                return rc;
            if (!name_ok(s, 16, true))
                return perr(p, v, k, "%s: bad interface name '%s' (at most 15 characters)", kp, s);
            j = json_string(s);
        } else if (strcmp(key, "action") == 0) {
            int idx;

            if ((rc = get_enum(p, v, k, kp, process_actions, &idx)) < 0)
                return rc;
            j = json_string(process_actions[idx]);
        } else if (strcmp(key, "service") == 0) {
            const char *s;

            if ((rc = get_str(p, v, k, kp, &s)) < 0)
                return rc;
            j = json_string(s);
        } else {
            continue; /* scope, timing, mode, groups: handled by the caller */
        }
        if (j == NULL || json_object_set_new(f->params, key, j) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* Find the kind: "kind: x", or a key named after a kind holding a mapping (short form). */
static int fault_kind(struct pctx *p, struct fy_node *fv, const char *path, struct fpairs *fp,
                      int *kind)
{
    struct fy_node *kk = NULL, *kv = NULL, *sk = NULL, *sv = NULL;
    struct fy_node_pair *pair;
    void *it = NULL;
    char list[256];
    size_t i;
    int rc;

    while ((pair = fy_node_mapping_iterate(fv, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(pair), *v = fy_node_pair_value(pair);
        const char *name = key_text(k);

        if (strcmp(name, "kind") == 0) {
            kk = k;
            kv = v;
        } else if (in_list(name, fault_kind_names) && v != NULL &&
                   fy_node_get_type(v) == FYNT_MAPPING) {
            if (sk != NULL)
                return perr(p, k, NULL,
                            "%s: two fault kinds ('%s' and '%s'); write one fault per list item",
                            path, key_text(sk), name);
            sk = k;
            sv = v;
        } else if ((rc = fp_add(p, fp, k, v, path)) < 0) {
            return rc;
        }
    }
    if (kk != NULL && sk != NULL)
        return perr(p, sk, NULL, "%s: both 'kind: %s' and '%s:' given; use one form", path,
                    key_text(kv), key_text(sk));
    if (kk != NULL) {
        const char *s, *near;
        char kp[PATH_LEN];

        pathf(kp, sizeof(kp), "%s.kind", path);
        if ((rc = get_str(p, kv, kk, kp, &s)) < 0)
            return rc;
        for (i = 0; fault_kind_names[i] != NULL; i++) {
            if (strcmp(s, fault_kind_names[i]) == 0) {
                *kind = (int)i;
                return 0;
            }
        }
        near = experiment_nearest(s, fault_kind_names);
        if (near != NULL)
            return perr(p, kv, kk, "%s: unknown fault kind '%s' (did you mean '%s'?)", kp, s, near);
        return perr(p, kv, kk, "%s: unknown fault kind '%s'; expected one of: %s", kp, s,
                    joined(fault_kind_names, list, sizeof(list)));
    }
    if (sk != NULL) {
        it = NULL;
        for (i = 0; fault_kind_names[i] != NULL; i++)
            if (strcmp(key_text(sk), fault_kind_names[i]) == 0)
                *kind = (int)i;
        while ((pair = fy_node_mapping_iterate(sv, &it)) != NULL)
            if ((rc = fp_add(p, fp, fy_node_pair_key(pair), fy_node_pair_value(pair), path)) < 0)
                return rc;
        return 0;
    }
    for (i = 0; i < fp->n; i++) {
        const char *name = key_text(fp->k[i]), *near;

        if (strcmp(name, "at") == 0 || strcmp(name, "for") == 0)
            continue;
        if ((near = experiment_nearest(name, fault_kind_names)) != NULL)
            return perr(p, fp->k[i], NULL, "%s: unknown fault kind '%s' (did you mean '%s'?)", path,
                        name, near);
        if (experiment_nearest(name, L("kind")) != NULL)
            return perr(p, fp->k[i], NULL, "unknown key '%s' in %s (did you mean 'kind'?)", name,
                        path);
    }
    return perr(p, fv, NULL, "%s: missing 'kind' (one of: %s)", path,
                joined(fault_kind_names, list, sizeof(list)));
}

static int parse_fault(struct pctx *p, struct fy_node *fv, size_t idx, struct exp_fault *f)
{
    const struct exp_workload *w = &p->exp->workload;
    const char *allowed[MAX_KEYS + 1];
    const struct fkind_spec *ks;
    struct fpairs fp = {.n = 0};
    struct fy_node *k, *v;
    char path[PATH_LEN], sub[PATH_LEN], list[512];
    size_t i, na = 0;
    int rc, kind = -1, mode;

    pathf(path, sizeof(path), "faults[%zu]", idx);
    snprintf(f->id, sizeof(f->id), "f%zu", idx + 1);
    node_pos(fv, &f->line, &f->column);
    if ((rc = expect_map(p, fv, NULL, path)) < 0 || (rc = fault_kind(p, fv, path, &fp, &kind)) < 0)
        return rc;
    f->kind = (enum exp_fault_kind)kind;
    ks = &fkinds[kind];
    allowed[na++] = "at";
    allowed[na++] = "for";
    if (ks->flags & F_MODE)
        allowed[na++] = "mode";
    if (ks->flags & F_SCOPE) {
        allowed[na++] = "region";
        allowed[na++] = "zone";
        allowed[na++] = "host";
    }
    for (i = 0; ks->keys[i] != NULL; i++)
        allowed[na++] = ks->keys[i];
    allowed[na] = NULL;
    for (i = 0; i < fp.n; i++) {
        const char *name = key_text(fp.k[i]), *near;

        if (in_list(name, allowed))
            continue;
        near = experiment_nearest(name, allowed);
        if (near != NULL)
            return perr(p, fp.k[i], NULL, "unknown key '%s' in %s (did you mean '%s'?)", name, path,
                        near);
        return perr(p, fp.k[i], NULL, "unknown key '%s' in %s; a %s fault takes: %s", name, path,
                    fault_kind_names[kind], joined(allowed, list, sizeof(list)));
    }
    if (fp_get(&fp, "at", &k), k == NULL)
        return perr(p, fv, NULL, "%s: missing required key 'at' (when the fault starts)", path);
    for (i = 0; ks->required[i] != NULL; i++)
        if (fp_get(&fp, ks->required[i], &k), k == NULL)
            return perr(p, fv, NULL, "%s: missing required key '%s' for a %s fault", path,
                        ks->required[i], fault_kind_names[kind]);

    /* when */
    v = fp_get(&fp, "at", &k);
    pathf(sub, sizeof(sub), "%s.at", path);
    if ((rc = get_duration(p, v, k, sub, &f->at_ns)) < 0)
        return rc;
    if (f->at_ns >= w->duration_ns) {
        char a[32], d[32];

        return perr(p, v, k, "%s: %s is at or past the end of the workload (workload.duration %s)",
                    sub, fl_duration_format(f->at_ns, a, sizeof(a)),
                    fl_duration_format(w->duration_ns, d, sizeof(d)));
    }
    v = fp_get(&fp, "for", &k);
    pathf(sub, sizeof(sub), "%s.for", path);
    if (k == NULL) {
        f->until_end = true;
        f->for_ns = w->duration_ns - f->at_ns;
    } else {
        char a[32], b[32], e[32], d[32];

        if ((rc = get_duration(p, v, k, sub, &f->for_ns)) < 0)
            return rc;
        if (f->for_ns <= 0)
            return perr(p, v, k, "%s: must be longer than 0s", sub);
        if (f->at_ns + f->for_ns > w->duration_ns)
            return perr(p, v, k,
                        "%s: the fault would end at %s (at %s + for %s), past the end of the "
                        "workload (workload.duration %s)",
                        sub, fl_duration_format(f->at_ns + f->for_ns, e, sizeof(e)),
                        fl_duration_format(f->at_ns, a, sizeof(a)),
                        fl_duration_format(f->for_ns, b, sizeof(b)),
                        fl_duration_format(w->duration_ns, d, sizeof(d)));
    }

    /* how */
    f->mode = EXP_MODE_DROP;
    v = fp_get(&fp, "mode", &k);
    pathf(sub, sizeof(sub), "%s.mode", path);
    if (k != NULL) {
        if ((rc = get_enum(p, v, k, sub, fault_modes, &mode)) < 0)
            return rc;
        f->mode = mode == 0 ? EXP_MODE_DROP : EXP_MODE_REJECT;
    }

    /* where */
    if (ks->flags & F_SCOPE) {
        static const char *const scopes[] = {"region", "zone", "host"};
        static const enum rtype types[] = {R_REGION, R_ZONE, R_HOST};
        struct fy_node *sk = NULL, *sv = NULL;
        int which = -1;

        for (i = 0; i < 3; i++) {
            v = fp_get(&fp, scopes[i], &k);
            if (k == NULL)
                continue;
            if (sk != NULL)
                return perr(p, k, NULL, "%s: give one scope, found both '%s' and '%s'", path,
                            scopes[which], scopes[i]);
            sk = k;
            sv = v;
            which = (int)i;
        }
        if (sk == NULL)
            return perr(p, fv, NULL, "%s: %s needs a scope: region, zone or host", path,
                        fault_kind_names[kind]);
        pathf(sub, sizeof(sub), "%s.%s", path, scopes[which]);
        if ((rc = parse_members(p, sv, sk, sub, types[which], f->kind == EXP_FAULT_ISOLATE,
                                &f->scope, NULL, 0)) < 0)
            return rc;
    }
    if (f->kind == EXP_FAULT_PARTITION) {
        v = fp_get(&fp, "groups", &k);
        pathf(sub, sizeof(sub), "%s.groups", path);
        if ((rc = parse_groups(p, v, k, sub, f)) < 0)
            return rc;
    }
    if (f->kind == EXP_FAULT_ONE_WAY) {
        v = fp_get(&fp, "from", &k);
        pathf(sub, sizeof(sub), "%s.from", path);
        if ((rc = parse_members(p, v, k, sub, R_ANY, true, &f->from, NULL, 0)) < 0)
            return rc;
        v = fp_get(&fp, "to", &k);
        pathf(sub, sizeof(sub), "%s.to", path);
        if ((rc = parse_members(p, v, k, sub, R_ANY, true, &f->to, &f->from, 1)) < 0)
            return rc;
    }
    if (f->kind == EXP_FAULT_BLACKHOLE) {
        v = fp_get(&fp, "to", &k);
        pathf(sub, sizeof(sub), "%s.to", path);
        if ((rc = parse_members(p, v, k, sub, R_ANY, true, &f->to, NULL, 0)) < 0)
            return rc;
    }
    return fault_params(p, &fp, path, f);
}

static int parse_faults(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    struct experiment *exp = p->exp;
    struct fy_node *item;
    void *it = NULL;
    size_t i;
    int rc;

    if (is_null(v))
        return 0; /* "faults:" with nothing: a baseline run */
    if ((rc = expect_seq(p, v, k, "faults")) < 0)
        return rc;
    exp->faults = calloc((size_t)fy_node_sequence_item_count(v) + 1, sizeof(*exp->faults));
    if (exp->faults == NULL)
        return -ENOMEM;
    for (i = 0; (item = fy_node_sequence_iterate(v, &it)) != NULL; i++) {
        exp->n_faults = i + 1;
        if ((rc = parse_fault(p, item, i, &exp->faults[i])) < 0)
            return rc;
    }
    return 0;
}

/* ---- verify ------------------------------------------------------------- */

static const char *const failback_writes[] = {"required", "optional", NULL};
static const char *const failover_anchor[] = {"apply_done", "apply_sent", NULL};
static const char *const failback_anchor[] = {"heal_done", "heal_sent", NULL};

static const struct vspec sustain_spec[] = {
    {"window", VT_DUR, NULL, false},
    {"ratio", VT_RATIO, NULL, false},
    {NULL, VT_STR, NULL, false},
};
static const struct vspec failover_spec[] = {
    {"max", VT_DUR, NULL, true},           {"sustain", VT_MAP, sustain_spec, false},
    {"classes", VT_NAMELIST, NULL, false}, {"anchor", VT_ENUM, failover_anchor, false},
    {NULL, VT_STR, NULL, false},
};
static const struct vspec failback_spec[] = {
    {"max", VT_DUR, NULL, true},
    {"writes", VT_ENUM, failback_writes, false},
    {"sustain", VT_MAP, sustain_spec, false},
    {"classes", VT_NAMELIST, NULL, false},
    {"anchor", VT_ENUM, failback_anchor, false},
    {NULL, VT_STR, NULL, false},
};
static const struct vspec read_only_spec[] = {
    {"allowed", VT_NAMELIST, NULL, true},
    {"grace", VT_DUR, NULL, false},
    {"start", VT_DUR, NULL, false},
    {NULL, VT_STR, NULL, false},
};
static const struct vspec data_loss_spec[] = {
    {"max_updates", VT_UINT, NULL, false},
    {"max_window", VT_DUR, NULL, false},
    {"consistency", VT_ENUM, consistency_vals, false},
    {NULL, VT_STR, NULL, false},
};
static const struct vspec staleness_spec[] = {
    {"max_versions", VT_UINT, NULL, false},     {"max_lag", VT_DUR, NULL, false},
    {"read_your_writes", VT_BOOL, NULL, false}, {"monotonic_reads", VT_BOOL, NULL, false},
    {"ops", VT_NAMELIST, NULL, false},          {NULL, VT_STR, NULL, false},
};
static const struct vspec availability_spec[] = {
    {"before", VT_RATIOMAP, NULL, false},
    {"during", VT_RATIOMAP, NULL, false},
    {"after", VT_RATIOMAP, NULL, false},
    {NULL, VT_STR, NULL, false},
};
static const struct vspec verify_spec[] = {
    {"failover", VT_MAP, failover_spec, false},
    {"failback", VT_MAP, failback_spec, false},
    {"read_only", VT_MAP, read_only_spec, false},
    {"data_loss", VT_MAP, data_loss_spec, false},
    {"staleness", VT_MAP, staleness_spec, false},
    {"availability", VT_MAP, availability_spec, false},
    {"sustain", VT_MAP, sustain_spec, false},
    {"grace", VT_DUR, NULL, false},
    {NULL, VT_STR, NULL, false},
};

static int parse_verify(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    static const struct vspec top = {"verify", VT_MAP, verify_spec, true};
    int rc;

    if ((rc = expect_map(p, v, k, "verify")) < 0)
        return rc;
    if (fy_node_mapping_item_count(v) == 0)
        return perr(p, k, NULL,
                    "verify: expected at least one verifier (failover, failback, read_only, "
                    "data_loss, staleness, availability)");
    p->exp->verify_marks = json_object();
    if (p->exp->verify_marks == NULL)
        return -ENOMEM;
    p->marks = p->exp->verify_marks;
    rc = vconv(p, &top, k, v, "verify", "", &p->exp->verify);
    p->marks = NULL;
    return rc;
}

/* ---- the file ----------------------------------------------------------- */

static const char *const root_keys[] = {"apiVersion", "name",   "description", "topology", "target",
                                        "workload",   "faults", "verify",      NULL};
static const char *const root_required[] = {"apiVersion", "name",   "topology", "target",
                                            "workload",   "faults", "verify",   NULL};

static int parse_root(struct pctx *p, struct fy_node *root)
{
    struct fy_node *k, *v;
    const char *s;
    char b[80];
    size_t i;
    int rc;

    if (root == NULL || fy_node_get_type(root) != FYNT_MAPPING)
        return perr(p, root, NULL,
                    "expected a mapping with apiVersion, name, topology, target, workload, "
                    "faults and verify, found %s",
                    found(root, b, sizeof(b)));
    if ((rc = map_check(p, root, NULL, "the experiment", root_keys, NULL)) < 0)
        return rc;
    for (i = 0; root_required[i] != NULL; i++)
        if (map_get(root, root_required[i], &k), k == NULL)
            return perr(p, NULL, NULL,
                        "missing required section '%s' (an experiment has apiVersion, name, "
                        "topology, target, workload, faults and verify)",
                        root_required[i]);
    v = map_get(root, "apiVersion", &k);
    if ((rc = get_str(p, v, k, "apiVersion", &s)) < 0)
        return rc;
    if (strcmp(s, EXP_API_VERSION) != 0)
        return perr(p, v, k, "apiVersion: expected '%s', found '%s'", EXP_API_VERSION, s);
    v = map_get(root, "name", &k);
    if ((rc = get_name(p, v, k, "name", EXP_NAME_MAX, p->exp->name)) < 0)
        return rc;
    v = map_get(root, "description", &k);
    if (k != NULL && (rc = get_str(p, v, k, "description", &s)) < 0)
        return rc;
    v = map_get(root, "topology", &k);
    if ((rc = parse_topology(p, v, k)) < 0)
        return rc;
    v = map_get(root, "target", &k);
    if ((rc = parse_target(p, v, k)) < 0)
        return rc;
    v = map_get(root, "workload", &k);
    if ((rc = parse_workload(p, v, k)) < 0)
        return rc;
    v = map_get(root, "faults", &k);
    if ((rc = parse_faults(p, v, k)) < 0)
        return rc;
    v = map_get(root, "verify", &k);
    return parse_verify(p, v, k);
}

int experiment_parse(const char *text, size_t len, const char *name, struct experiment **out,
                     struct fl_err *err)
{
    struct fy_diag_cfg dcfg;
    struct fy_parse_cfg pcfg;
    struct fy_diag *diag = NULL;
    struct fy_document *doc = NULL;
    struct pctx p = {.file = name, .err = err};
    int rc;

    *out = NULL;
    p.exp = calloc(1, sizeof(*p.exp));
    if (p.exp == NULL || (p.exp->file = strdup(name)) == NULL) {
        rc = fl_errf(err, -ENOMEM, "%s: out of memory", name);
        goto out;
    }
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.colorize = false;
    diag = fy_diag_create(&dcfg);
    if (diag == NULL) {
        rc = fl_errf(err, -ENOMEM, "%s: out of memory", name);
        goto out;
    }
    fy_diag_set_collect_errors(diag, true);
    memset(&pcfg, 0, sizeof(pcfg));
    pcfg.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_RESOLVE_DOCUMENT;
    pcfg.diag = diag;
    doc = fy_document_build_from_string(&pcfg, text, len);
    if (doc == NULL || fy_diag_got_error(diag)) {
        void *it = NULL;
        struct fy_diag_error *de = fy_diag_errors_iterate(diag, &it);

        if (de != NULL)
            rc = fl_errf(err, -EINVAL, "%s:%d:%d: YAML syntax error: %s", name, de->line,
                         de->column, de->msg);
        else if (doc == NULL && strspn(text, " \t\r\n") >= len)
            rc = fl_errf(err, -EINVAL,
                         "%s:1:1: empty file; expected a mapping with apiVersion, name, "
                         "topology, target, workload, faults and verify",
                         name);
        else
            rc = fl_errf(err, -EINVAL, "%s:1:1: YAML syntax error", name);
        goto out;
    }
    rc = parse_root(&p, fy_document_root(doc));
    if (rc == -ENOMEM)
        rc = fl_errf(err, -ENOMEM, "%s: out of memory", name);
out:
    fy_document_destroy(doc);
    if (diag != NULL)
        fy_diag_destroy(diag);
    if (rc < 0) {
        experiment_free(p.exp);
        return rc;
    }
    *out = p.exp;
    return 0;
}

int experiment_load(const char *path, struct experiment **out, struct fl_err *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f;
    int rc;

    *out = NULL;
    f = fopen(path, "r");
    if (f == NULL)
        return fl_errf(err, -errno, "%s: cannot open: %s", path, strerror(errno));
    text = malloc(EXP_FILE_MAX + 1);
    if (text == NULL) {
        fclose(f);
        return fl_errf(err, -ENOMEM, "%s: out of memory", path);
    }
    len = fread(text, 1, EXP_FILE_MAX + 1, f);
    if (ferror(f)) {
        rc = fl_errf(err, -EIO, "%s: cannot read: %s", path, strerror(errno));
    } else if (len > EXP_FILE_MAX) {
        rc = fl_errf(err, -EFBIG, "%s: larger than %d bytes; an experiment file is small", path,
                     EXP_FILE_MAX);
    } else {
        text[len] = '\0';
        rc = experiment_parse(text, len, path, out, err);
    }
    fclose(f);
    free(text);
    return rc;
}

void experiment_free(struct experiment *exp)
{
    size_t i, j;

    if (exp == NULL)
        return;
    for (i = 0; i < exp->topology.n_regions; i++)
        free(exp->topology.regions[i].zones);
    free(exp->topology.regions);
    free(exp->topology.hosts);
    json_decref(exp->target.options);
    free(exp->workload.mix);
    free(exp->workload.routing_regions);
    for (i = 0; i < exp->n_faults; i++) {
        struct exp_fault *f = &exp->faults[i];

        experiment_set_free(&f->scope);
        experiment_set_free(&f->from);
        experiment_set_free(&f->to);
        for (j = 0; j < f->n_groups; j++)
            experiment_set_free(&f->groups[j]);
        free(f->groups);
        json_decref(f->params);
    }
    free(exp->faults);
    json_decref(exp->verify);
    json_decref(exp->verify_marks);
    free(exp->file);
    free(exp);
}

int experiment_verify_mark(const struct experiment *exp, const char *pointer, int *line,
                           int *column)
{
    json_t *m = exp->verify_marks ? json_object_get(exp->verify_marks, pointer) : NULL;

    if (m == NULL)
        return -ENOENT;
    *line = (int)json_integer_value(json_array_get(m, 0));
    *column = (int)json_integer_value(json_array_get(m, 1));
    return 0;
}
