/*
 * The driver table: target kind -> driver. A real service's driver (redis,
 * etcd, postgres) adds its file under targets/drivers/ and one line here.
 * Also the small helpers every driver and the engine share: what kind of
 * operation a mix name is, and the element buffer of set reads (sorted,
 * without duplicates, capped at FL_ELEMS_MAX).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/driver.h"

/* Real-service drivers (targets/drivers/{redis,etcd,postgres}.c). */

static const struct fl_driver_ops *const drivers[] = {
    &fl_driver_refstore,
    &fl_driver_http,
    &fl_driver_redis_sentinel,
    &fl_driver_etcd,
    &fl_driver_postgres,
};

const struct fl_driver_ops *fl_driver_find(const char *name)
{
    size_t i;

    for (i = 0; name && i < sizeof(drivers) / sizeof(drivers[0]); i++)
        if (strcmp(drivers[i]->name, name) == 0)
            return drivers[i];
    return NULL;
}

enum fl_op_kind fl_driver_kind(const struct fl_driver_ops *d, const char *op)
{
    if (strcmp(op, "cas") == 0)
        return FL_OP_CAS;
    if (d->is_delete && d->is_delete(op))
        return FL_OP_DELETE;
    if (d->is_write(op))
        return FL_OP_WRITE;
    return FL_OP_READ;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

size_t fl_elems_normalize(uint64_t *e, size_t n)
{
    size_t i, o = 0;

    if (n < 2)
        return n;
    qsort(e, n, sizeof(*e), cmp_u64);
    for (i = 0; i < n; i++)
        if (o == 0 || e[i] != e[o - 1])
            e[o++] = e[i];
    return o;
}

int fl_elems_push(struct fl_elems *b, uint64_t v)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        uint64_t *e;

        if (b->n >= FL_ELEMS_MAX)
            return -E2BIG;
        if (cap > FL_ELEMS_MAX)
            cap = FL_ELEMS_MAX;
        if ((e = realloc(b->e, cap * sizeof(*e))) == NULL)
            return -ENOMEM;
        b->e = e;
        b->cap = cap;
    }
    b->e[b->n++] = v;
    return 0;
}

void fl_elems_result(struct fl_elems *b, struct fl_op_result *res)
{
    b->n = fl_elems_normalize(b->e, b->n);
    res->elems = b->e;
    res->nelems = b->n;
}

void fl_elems_free(struct fl_elems *b)
{
    if (!b)
        return;
    free(b->e);
    b->e = NULL;
    b->n = b->cap = 0;
}
