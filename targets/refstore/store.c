/*
 * refstore's in-memory key map: a chained hash table (FNV-1a) from key to
 * value, version, origin write time, origin region and (set model) the
 * key's sorted element set. No locking here: the
 * replica lock protects it. Grows by doubling at load factor 1.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "refstore.h"

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

int rs_store_init(struct rs_store *s)
{
    s->nb = 1024;
    s->n = 0;
    s->b = calloc(s->nb, sizeof(*s->b));
    return s->b ? 0 : -ENOMEM;
}

void rs_store_clear(struct rs_store *s)
{
    size_t i;

    for (i = 0; i < s->nb; i++) {
        struct rs_entry *e = s->b[i], *nx;

        for (; e; e = nx) {
            nx = e->next;
            free(e->key);
            free(e->elems);
            free(e);
        }
        s->b[i] = NULL;
    }
    s->n = 0;
}

void rs_store_free(struct rs_store *s)
{
    if (!s || !s->b)
        return;
    rs_store_clear(s);
    free(s->b);
    s->b = NULL;
}

struct rs_entry *rs_store_get(struct rs_store *s, const char *key)
{
    struct rs_entry *e = s->b[hash_str(key) & (s->nb - 1)];

    for (; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

static void grow(struct rs_store *s)
{
    size_t nb = s->nb * 2, i;
    struct rs_entry **b = calloc(nb, sizeof(*b));

    if (!b)
        return; /* keep the longer chains; still correct */
    for (i = 0; i < s->nb; i++) {
        struct rs_entry *e = s->b[i], *nx;

        for (; e; e = nx) {
            size_t h = hash_str(e->key) & (nb - 1);

            nx = e->next;
            e->next = b[h];
            b[h] = e;
        }
    }
    free(s->b);
    s->b = b;
    s->nb = nb;
}

struct rs_entry *rs_store_upsert(struct rs_store *s, const char *key)
{
    struct rs_entry *e = rs_store_get(s, key);
    size_t h;

    if (e)
        return e;
    if (s->n >= s->nb)
        grow(s);
    e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->key = strdup(key);
    if (!e->key) {
        free(e);
        return NULL;
    }
    h = hash_str(key) & (s->nb - 1);
    e->next = s->b[h];
    s->b[h] = e;
    s->n++;
    return e;
}

size_t rs_store_live(const struct rs_store *s)
{
    size_t i, n = 0;

    for (i = 0; i < s->nb; i++) {
        const struct rs_entry *e = s->b[i];

        for (; e; e = e->next)
            if (!e->deleted)
                n++;
    }
    return n;
}

int rs_entry_add_elem(struct rs_entry *e, uint64_t v)
{
    size_t lo = 0, hi = e->nelems;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (e->elems[mid] == v)
            return 0;
        if (e->elems[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (e->nelems == e->capelems) {
        size_t ncap = e->capelems ? e->capelems * 2 : 8;
        uint64_t *n = realloc(e->elems, ncap * sizeof(*n));

        if (!n)
            return -ENOMEM;
        e->elems = n;
        e->capelems = ncap;
    }
    memmove(e->elems + lo + 1, e->elems + lo, (e->nelems - lo) * sizeof(*e->elems));
    e->elems[lo] = v;
    e->nelems++;
    if (e->first_elem == 0)
        e->first_elem = v;
    return 1;
}
