/*
 * The history in memory: interned name tables, the record array with its
 * extras (cas expected values, set-read elements), merging per-client
 * buffers, sorting, and the fault list. The text forms are in
 * history_read.c and history_write.c. See include/faultline/history.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/history.h"

/* Private hash index of a string table: open addressing, slot = index + 1. */
struct strtab_index {
    uint32_t *slot;
    size_t nslots; /* power of two */
};

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return h;
}

static int strtab_rehash(struct hist_strtab *t, size_t nslots)
{
    struct strtab_index *ix = t->index;
    uint32_t *slot = calloc(nslots, sizeof(*slot));
    size_t i;

    if (slot == NULL)
        return -ENOMEM;
    for (i = 0; i < t->n; i++) {
        size_t j = (size_t)str_hash(t->s[i]) & (nslots - 1);

        while (slot[j] != 0)
            j = (j + 1) & (nslots - 1);
        slot[j] = (uint32_t)(i + 1);
    }
    free(ix->slot);
    ix->slot = slot;
    ix->nslots = nslots;
    return 0;
}

static void strtab_free(struct hist_strtab *t)
{
    size_t i;

    if (t->s != NULL) {
        for (i = 0; i < t->n; i++)
            free(t->s[i]);
    }
    free(t->s);
    if (t->index != NULL)
        free(((struct strtab_index *)t->index)->slot);
    free(t->index);
    memset(t, 0, sizeof(*t));
}

int hist_intern(struct hist_strtab *t, const char *s)
{
    struct strtab_index *ix = t->index;
    size_t j;
    char *copy;
    int r;

    if (ix == NULL) {
        ix = calloc(1, sizeof(*ix));
        if (ix == NULL)
            return -ENOMEM;
        t->index = ix;
    }
    if (ix->nslots == 0 && (r = strtab_rehash(t, 16)) < 0)
        return r;
    j = (size_t)str_hash(s) & (ix->nslots - 1);
    while (ix->slot[j] != 0) {
        if (strcmp(t->s[ix->slot[j] - 1], s) == 0)
            return (int)(ix->slot[j] - 1);
        j = (j + 1) & (ix->nslots - 1);
    }
    if (t->n >= INT32_MAX - 1)
        return -E2BIG;
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        char **ns = realloc(t->s, ncap * sizeof(*ns));

        if (ns == NULL)
            return -ENOMEM;
        t->s = ns;
        t->cap = ncap;
    }
    copy = strdup(s);
    if (copy == NULL)
        return -ENOMEM;
    t->s[t->n] = copy;
    ix->slot[j] = (uint32_t)(t->n + 1);
    t->n++;
    if (t->n * 2 > ix->nslots && (r = strtab_rehash(t, ix->nslots * 2)) < 0)
        return r; /* the string is in; only the index failed to grow */
    return (int)(t->n - 1);
}

int hist_init(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    if (hist_intern(&h->op_names, "") < 0 || hist_intern(&h->keys, "") < 0 ||
        hist_intern(&h->regions, "") < 0 || hist_intern(&h->errors, "") < 0) {
        hist_free(h);
        return -ENOMEM;
    }
    return 0;
}

void hist_free(struct hist *h)
{
    if (h == NULL)
        return;
    free(h->ops);
    strtab_free(&h->op_names);
    strtab_free(&h->keys);
    strtab_free(&h->regions);
    strtab_free(&h->errors);
    strtab_free(&h->groups);
    free(h->client_group);
    free(h->extra);
    memset(h, 0, sizeof(*h));
}

/*
 * Reserve n + 1 slots of h->extra (the first one stays for the caller's
 * count or value) and return the index of the first, or a negative errno.
 * Index 0 is never returned: it means "no extra".
 */
static int64_t extra_reserve(struct hist *h, size_t n)
{
    size_t need, at;

    if (h->nextra == 0)
        h->nextra = 1; /* extra[0] unused */
    at = h->nextra;
    if (n >= UINT32_MAX || at > UINT32_MAX - 1 - n)
        return -E2BIG;
    need = at + 1 + n;
    if (need > h->extra_cap) {
        size_t ncap = h->extra_cap ? h->extra_cap : 1024;
        uint64_t *ne;

        while (ncap < need)
            ncap *= 2;
        ne = realloc(h->extra, ncap * sizeof(*ne));
        if (ne == NULL)
            return -ENOMEM;
        h->extra = ne;
        h->extra_cap = ncap;
    }
    h->nextra = need;
    return (int64_t)at;
}

int hist_append_cas(struct hist *h, const struct hist_op *op, uint64_t expected)
{
    struct hist_op o = *op;
    int64_t at = extra_reserve(h, 0);
    int r;

    if (at < 0)
        return (int)at;
    h->extra[at] = expected;
    o.extra = (uint32_t)at;
    o.is_write = 1;
    o.flags = (uint8_t)((o.flags | HIST_F_CAS) & ~HIST_F_SET);
    if (o.outcome != HIST_OK)
        o.flags &= (uint8_t)~HIST_F_SWAPPED;
    if ((r = hist_append(h, &o)) < 0)
        h->nextra = (size_t)at; /* give the slot back */
    return r;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Sort e[0..n) ascending and drop duplicates; returns the new count. */
static size_t sort_unique(uint64_t *e, size_t n)
{
    size_t i, k;

    for (i = 1; i < n; i++) {
        if (e[i] <= e[i - 1])
            break;
    }
    if (i < n)
        qsort(e, n, sizeof(*e), cmp_u64);
    for (i = 1, k = n ? 1 : 0; i < n; i++) {
        if (e[i] != e[k - 1])
            e[k++] = e[i];
    }
    return k;
}

int hist_append_set_read(struct hist *h, const struct hist_op *op, const uint64_t *elems, size_t n)
{
    struct hist_op o = *op;
    int64_t at = extra_reserve(h, n);
    size_t m;
    int r;

    if (at < 0)
        return (int)at;
    if (n > 0)
        memcpy(&h->extra[at + 1], elems, n * sizeof(*elems));
    m = sort_unique(&h->extra[at + 1], n);
    h->extra[at] = m;
    h->nextra = (size_t)at + 1 + m;
    o.extra = (uint32_t)at;
    o.is_write = 0;
    o.flags = (uint8_t)((o.flags | HIST_F_SET) & ~(HIST_F_CAS | HIST_F_SWAPPED));
    if ((r = hist_append(h, &o)) < 0)
        h->nextra = (size_t)at;
    return r;
}

int hist_append(struct hist *h, const struct hist_op *op)
{
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 1024;
        struct hist_op *no = realloc(h->ops, ncap * sizeof(*no));

        if (no == NULL)
            return -ENOMEM;
        h->ops = no;
        h->cap = ncap;
    }
    h->ops[h->n++] = *op;
    return 0;
}

int hist_set_group(struct hist *h, uint32_t client, const char *group)
{
    int g;

    if (group == NULL || group[0] == '\0')
        return 0;
    if (client > HIST_GROUP_CLIENT_MAX)
        return -E2BIG;
    if (h->groups.n == 0 && hist_intern(&h->groups, "") < 0)
        return -ENOMEM;
    if ((g = hist_intern(&h->groups, group)) < 0)
        return g;
    if (g > UINT16_MAX)
        return -E2BIG;
    if (client >= h->nclient_group) {
        size_t n = h->nclient_group ? h->nclient_group : 16;
        uint16_t *ng;

        while (n <= client)
            n *= 2;
        ng = realloc(h->client_group, n * sizeof(*ng));
        if (ng == NULL)
            return -ENOMEM;
        memset(ng + h->nclient_group, 0, (n - h->nclient_group) * sizeof(*ng));
        h->client_group = ng;
        h->nclient_group = n;
    }
    if (h->client_group[client] != 0 && h->client_group[client] != (uint16_t)g)
        return -EEXIST;
    h->client_group[client] = (uint16_t)g;
    return 0;
}

int hist_merge(struct hist *dst, const struct hist *src)
{
    size_t i;

    for (i = 0; i < src->nclient_group; i++) {
        int r;

        if (src->client_group[i] != 0 &&
            (r = hist_set_group(dst, (uint32_t)i, src->groups.s[src->client_group[i]])) < 0)
            return r;
    }

    for (i = 0; i < src->n; i++) {
        struct hist_op o = src->ops[i];
        int a, b, c, d, r;

        if ((a = hist_intern(&dst->op_names, src->op_names.s[o.op])) < 0)
            return a;
        if ((b = hist_intern(&dst->keys, src->keys.s[o.key])) < 0)
            return b;
        if ((c = hist_intern(&dst->regions, src->regions.s[o.region])) < 0)
            return c;
        if ((d = hist_intern(&dst->errors, src->errors.s[o.error])) < 0)
            return d;
        if (a > UINT16_MAX || c > UINT16_MAX)
            return -E2BIG;
        o.op = (uint16_t)a;
        o.key = (uint32_t)b;
        o.region = (uint16_t)c;
        o.error = (uint32_t)d;
        if (o.extra != 0 && (o.flags & HIST_F_CAS))
            r = hist_append_cas(dst, &o, src->extra[o.extra]);
        else if (o.extra != 0 && (o.flags & HIST_F_SET) && !o.is_write)
            r = hist_append_set_read(dst, &o, &src->extra[o.extra + 1],
                                     (size_t)src->extra[o.extra]);
        else {
            o.extra = 0;
            r = hist_append(dst, &o);
        }
        if (r < 0)
            return r;
    }
    return 0;
}

/* Stable merge sort by invoke_ns; a and tmp hold n records. */
static void sort_merge(struct hist_op *a, struct hist_op *tmp, size_t n)
{
    size_t mid = n / 2, i = 0, j = mid, k = 0;

    if (n < 2)
        return;
    sort_merge(a, tmp, mid);
    sort_merge(a + mid, tmp, n - mid);
    if (a[mid - 1].invoke_ns <= a[mid].invoke_ns)
        return;
    while (i < mid && j < n)
        tmp[k++] = a[j].invoke_ns < a[i].invoke_ns ? a[j++] : a[i++];
    while (i < mid)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof(*a));
}

void hist_sort(struct hist *h)
{
    struct hist_op *tmp;
    size_t i;

    for (i = 1; i < h->n; i++) {
        if (h->ops[i].invoke_ns < h->ops[i - 1].invoke_ns)
            break;
    }
    if (i >= h->n)
        return; /* already sorted: the common case for a merged workload */
    tmp = malloc(h->n * sizeof(*tmp));
    if (tmp != NULL) {
        sort_merge(h->ops, tmp, h->n);
        free(tmp);
        return;
    }
    /* No memory for the merge: stable insertion sort, slow but correct. */
    for (i = 1; i < h->n; i++) {
        struct hist_op x = h->ops[i];
        size_t j = i;

        while (j > 0 && h->ops[j - 1].invoke_ns > x.invoke_ns) {
            h->ops[j] = h->ops[j - 1];
            j--;
        }
        h->ops[j] = x;
    }
}

int hist_faults_append(struct hist_faults *fs, const struct hist_fault *f)
{
    if (fs->n == fs->cap) {
        size_t ncap = fs->cap ? fs->cap * 2 : 8;
        struct hist_fault *nf = realloc(fs->f, ncap * sizeof(*nf));

        if (nf == NULL)
            return -ENOMEM;
        fs->f = nf;
        fs->cap = ncap;
    }
    fs->f[fs->n++] = *f;
    return 0;
}

void hist_faults_free(struct hist_faults *fs)
{
    if (fs == NULL)
        return;
    free(fs->f);
    memset(fs, 0, sizeof(*fs));
}
