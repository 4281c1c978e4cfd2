/*
 * Experiment files: the file as a whole (read, YAML document, root keys,
 * one parser per section) and the table-driven converter that turns target
 * options and the verify: section into JSON (exp_verify.c walks verify: with
 * the verifiers' own schema).
 * The sections live in their own files: exp_topology.c (topology, address
 * plan, names), exp_target.c, exp_workload.c, exp_fault.c; exp_yaml.c holds
 * the positions, error format, structure checks and typed getters they share
 * (exp_int.h). Every check names file:line:column, what it found and what it
 * expected; an unknown key or kind names the nearest valid one. Positions
 * come from scalar tokens (libfyaml 0.7 has no node marks): a collection is
 * placed at its first scalar, an empty value at its key.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

#include "exp_int.h"
#include "faultline/hint.h"

#define EXP_FILE_MAX (1024 * 1024) /* an experiment file is small; refuse more */

/* ---- table-driven values: target options and verify: -------------------- */
/* The value specs (struct vspec) are in faultline/optspec.h. */

static const char **region_names(const struct experiment *exp)
{
    return names_of(exp, R_REGION);
}

int conv_region(struct pctx *p, struct fy_node *k, struct fy_node *v, const char *path,
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

int vconv(struct pctx *p, const struct vspec *s, struct fy_node *k, struct fy_node *v,
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
int vconv(struct pctx *p, const struct vspec *s, struct fy_node *k, struct fy_node *v,
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

/* ---- the file ----------------------------------------------------------- */

static const char *const root_keys[] = {"apiVersion", "name",     "description", "topology",
                                        "target",     "workload", "faults",      "verify",
                                        "promise",    "limits",   "guards",      NULL};
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
    if ((rc = parse_verify(p, v, k)) < 0)
        return rc;
    v = map_get(root, "promise", &k);
    if (k != NULL && (rc = parse_promise(p, v, k)) < 0)
        return rc;
    v = map_get(root, "limits", &k);
    if ((rc = parse_limits(p, v, k)) < 0)
        return rc;
    v = map_get(root, "guards", &k);
    if (k != NULL && (rc = parse_guards(p, v, k)) < 0)
        return rc;
    return check_target_limits(p, map_get(root, "target", &k));
}

/* Only spaces, tabs and line ends in text[0..len) (text need not end in NUL). */
static bool blank(const char *text, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r' && text[i] != '\n')
            return false;
    return true;
}

/*
 * Where text stops being UTF-8 (overlong forms, surrogates and code points
 * above U+10FFFF included): 0 when it is all UTF-8, else 1 with *line and
 * *col (1-based, in characters) of the first bad byte. libfyaml is not
 * handed anything else: some invalid bytes make it loop forever (a
 * directive line "%" followed by byte 0xFF, found by tests/fuzz).
 */
static int utf8_bad(const char *text, size_t len, int *line, int *col, unsigned *byte)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;

    *line = *col = 1;
    while (i < len) {
        unsigned c = s[i], need, cp, k;

        if (c < 0x80) {
            need = 0;
            cp = c;
        } else if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            *byte = c;
            return 1;
        }
        if (len - i <= need) {
            *byte = c;
            return 1;
        }
        for (k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                *byte = c;
                return 1;
            }
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (need == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
            *byte = c;
            return 1;
        }
        i += need + 1;
        if (c == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
    return 0;
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
    {
        int bl, bc;
        unsigned bb;

        if (utf8_bad(text, len, &bl, &bc, &bb)) {
            rc = fl_errf(err, -EINVAL, "%s:%d:%d: not UTF-8 text (byte 0x%02X)", name, bl, bc, bb);
            goto out;
        }
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
        else if (doc == NULL && blank(text, len))
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
    for (i = 0; i < exp->workload.n_groups; i++)
        free(exp->workload.groups[i].routing_regions);
    free(exp->workload.groups);
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
    json_decref(exp->promise);
    free(exp->guards);
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

const char *experiment_nearest(const char *s, const char *const *candidates)
{
    return fl_hint_nearest(s, candidates);
}
