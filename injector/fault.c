/*
 * Fault values: the kind table, strict JSON parsing shared by every kind,
 * and the accessors of inject.h. Everything here is pure (no kernel calls),
 * so the agent can validate a request completely before it touches anything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/hint.h"
#include "faultline/json.h"
#include "inj_int.h"

const struct inj_kind *const inj_kinds[] = {
    &inj_kind_partition, &inj_kind_one_way,
    &inj_kind_isolate,   &inj_kind_loss,
    &inj_kind_latency,   &inj_kind_jitter,
    &inj_kind_duplicate, &inj_kind_corrupt,
    &inj_kind_reorder,   &inj_kind_bandwidth,
    &inj_kind_link_down, &inj_kind_blackhole,
    &inj_kind_process,   NULL,
};

static const char *kind_names[sizeof(inj_kinds) / sizeof(inj_kinds[0])];

const char *const *inj_kind_names(void)
{
    size_t i;

    if (kind_names[0] == NULL)
        for (i = 0; inj_kinds[i] != NULL; i++)
            kind_names[i] = inj_kinds[i]->name;
    return kind_names;
}

const struct inj_kind *inj_kind_find(const char *name)
{
    size_t i;

    for (i = 0; inj_kinds[i] != NULL; i++)
        if (strcmp(inj_kinds[i]->name, name) == 0)
            return inj_kinds[i];
    return NULL;
}

bool inj_id_valid(const char *id)
{
    size_t i, n;

    if (id == NULL)
        return false;
    n = strlen(id);
    if (n == 0 || n > INJ_ID_MAX || id[0] == '.')
        return false;
    for (i = 0; i < n; i++) {
        char c = id[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

int inj_json_check_keys(const json_t *obj, const char *const *allowed, struct fl_err *err)
{
    const char *key = fl_json_unknown_key(obj, allowed), *near;

    if (key == NULL)
        return 0;
    near = fl_hint_nearest(key, allowed);
    if (near != NULL)
        return fl_errf(err, -EINVAL, "unknown key '%s' (did you mean '%s'?)", key, near);
    return fl_errf(err, -EINVAL, "unknown key '%s'", key);
}

int inj_kind_params(struct inj_fault *f, const json_t *spec, const char *const *keys, size_t size,
                    struct fl_err *err)
{
    int r = inj_json_check_keys(spec, keys, err);

    if (r < 0)
        return r;
    f->priv = calloc(1, size);
    if (f->priv == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    return 0;
}

int inj_json_string(const json_t *obj, const char *key, bool required, const char **out,
                    struct fl_err *err)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL) {
        if (required)
            return fl_errf(err, -EINVAL, "missing key '%s'", key);
        return 0;
    }
    if (!json_is_string(v))
        return fl_errf(err, -EINVAL, "'%s' must be a string", key);
    *out = json_string_value(v);
    return 0;
}

int inj_json_number(const json_t *obj, const char *key, bool required, double min, double max,
                    double *out, struct fl_err *err)
{
    json_t *v = json_object_get(obj, key);
    double d;

    if (v == NULL) {
        if (required)
            return fl_errf(err, -EINVAL, "missing key '%s'", key);
        return 0;
    }
    if (!json_is_number(v))
        return fl_errf(err, -EINVAL, "'%s' must be a number", key);
    d = json_number_value(v);
    if (!(d >= min && d <= max))
        return fl_errf(err, -EINVAL, "'%s' must be between %g and %g, got %g", key, min, max, d);
    *out = d;
    return 0;
}

int inj_json_cidrs(const json_t *arr, const char *what, bool allow_empty, struct fl_cidr **out,
                   size_t *n, struct fl_err *err)
{
    struct fl_cidr *c;
    size_t i, len;
    json_t *v;
    int r;

    *out = NULL;
    *n = 0;
    if (!json_is_array(arr))
        return fl_errf(err, -EINVAL, "'%s' must be a list of CIDRs", what);
    len = json_array_size(arr);
    if (len == 0 && !allow_empty)
        return fl_errf(err, -EINVAL, "'%s' must not be empty", what);
    if (len > 65536)
        return fl_errf(err, -E2BIG, "'%s' has %zu CIDRs, at most 65536", what, len);
    c = calloc(len ? len : 1, sizeof(*c));
    if (c == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v)) {
            free(c);
            return fl_errf(err, -EINVAL, "'%s'[%zu] must be a CIDR string", what, i);
        }
        r = fl_cidr_parse(json_string_value(v), &c[i], err);
        if (r < 0) {
            free(c);
            fl_err_prefix(err, "'%s'[%zu]", what, i);
            return r;
        }
    }
    *out = c;
    *n = len;
    return 0;
}

int inj_fault_add_cidrs(struct inj_fault *f, const struct fl_cidr *c, size_t n)
{
    struct fl_cidr *nc;

    if (n == 0)
        return 0;
    nc = realloc(f->cidrs, (f->n_cidrs + n) * sizeof(*nc));
    if (nc == NULL)
        return -ENOMEM;
    memcpy(nc + f->n_cidrs, c, n * sizeof(*nc));
    f->cidrs = nc;
    f->n_cidrs += n;
    return 0;
}

int inj_fault_add_dev(struct inj_fault *f, const char *dev)
{
    char **nd = realloc(f->devs, (f->n_devs + 1) * sizeof(*nd));

    if (nd == NULL)
        return -ENOMEM;
    f->devs = nd;
    f->devs[f->n_devs] = strdup(dev);
    if (f->devs[f->n_devs] == NULL)
        return -ENOMEM;
    f->n_devs++;
    return 0;
}

void inj_fault_free(struct inj_fault *f)
{
    size_t i;

    if (f == NULL)
        return;
    if (f->kind != NULL && f->kind->free != NULL)
        f->kind->free(f);
    json_decref(f->spec);
    free(f->cidrs);
    for (i = 0; i < f->n_devs; i++)
        free(f->devs[i]);
    free(f->devs);
    free(f->exempt);
    free(f);
}

int inj_fault_parse_json(const json_t *spec, struct inj_fault **out, struct fl_err *err)
{
    const struct inj_kind *k;
    struct inj_fault *f;
    const char *kname;
    json_t *kv, *ex;
    int r;

    *out = NULL;
    if (!json_is_object(spec))
        return fl_errf(err, -EINVAL, "a fault must be a JSON object");
    kv = json_object_get(spec, "kind");
    if (kv == NULL)
        return fl_errf(err, -EINVAL, "missing key 'kind'");
    if (!json_is_string(kv))
        return fl_errf(err, -EINVAL, "'kind' must be a string");
    kname = json_string_value(kv);
    k = inj_kind_find(kname);
    if (k == NULL) {
        const char *near = fl_hint_nearest(kname, inj_kind_names());

        if (near != NULL)
            return fl_errf(err, -EINVAL, "unknown fault kind '%s' (did you mean '%s'?)", kname,
                           near);
        return fl_errf(err, -EINVAL, "unknown fault kind '%s'", kname);
    }
    f = calloc(1, sizeof(*f));
    if (f == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    f->kind = k;
    ex = json_object_get(spec, "exempt");
    if (ex != NULL) {
        r = inj_json_cidrs(ex, "exempt", true, &f->exempt, &f->n_exempt, err);
        if (r < 0)
            goto fail;
    }
    r = k->parse(f, spec, err);
    if (r < 0)
        goto fail;
    /* Canonical form: the spec as given (keys sorted when dumped). */
    f->spec = json_deep_copy(spec);
    if (f->spec == NULL) {
        r = fl_errf(err, -ENOMEM, "out of memory");
        goto fail;
    }
    *out = f;
    return 0;
fail:
    fl_err_prefix(err, "%s", kname);
    inj_fault_free(f);
    return r;
}

int inj_fault_parse(const char *text, size_t len, struct inj_fault **out, struct fl_err *err)
{
    json_error_t je;
    json_t *j;
    int r;

    *out = NULL;
    j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL)
        return fl_errf(err, -EINVAL, "bad JSON at line %d column %d: %s", je.line, je.column,
                       je.text);
    r = inj_fault_parse_json(j, out, err);
    json_decref(j);
    return r;
}

const char *inj_fault_kind(const struct inj_fault *f)
{
    return f->kind->name;
}

json_t *inj_fault_to_json(const struct inj_fault *f)
{
    return json_deep_copy(f->spec);
}

bool inj_fault_equal(const struct inj_fault *a, const struct inj_fault *b)
{
    return a->kind == b->kind && json_equal(a->spec, b->spec);
}

unsigned inj_fault_needs(const struct inj_fault *f)
{
    return f->kind->needs;
}

const struct fl_cidr *inj_fault_cidrs(const struct inj_fault *f, size_t *n)
{
    *n = f->n_cidrs;
    return f->cidrs;
}

const char *const *inj_fault_devs(const struct inj_fault *f, size_t *n)
{
    *n = f->n_devs;
    return (const char *const *)f->devs;
}

char *inj_fault_describe(const struct inj_fault *f, char *buf, size_t len)
{
    if (f->kind->describe != NULL)
        f->kind->describe(f, buf, len);
    else
        snprintf(buf, len, "%s", f->kind->name);
    return buf;
}
