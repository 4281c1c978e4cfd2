/*
 * The launcher table: experiment target.kind -> struct fl_target_ops. Each
 * real service's launcher lives in its own file of this folder; the run loop
 * asks fl_target_find() and then uses the driver of the same name
 * (targets/drivers/driver.c).
 */
#include <string.h>

#include "faultline/optspec.h"
#include "faultline/target.h"
#include "svc.h"

static const struct fl_target_ops *const launchers[] = {
    &fl_target_refstore,
    &fl_target_redis_sentinel,
    &fl_target_etcd,
    &fl_target_postgres,
};

const struct fl_target_ops *fl_target_find(const char *kind)
{
    size_t i;

    for (i = 0; kind && i < sizeof(launchers) / sizeof(launchers[0]); i++)
        if (strcmp(launchers[i]->kind, kind) == 0)
            return launchers[i];
    return NULL;
}

static const char *const kinds[] = {"refstore", "redis-sentinel", "etcd", "postgres", "http", NULL};

/*
 * A service of your own on staging hosts that speaks refstore's client API
 * (the http driver, targets/drivers/refstore.c): only where to reach it.
 */
static const struct vspec http_opts[] = {
    {"kind", VT_STR, NULL, true},
    {"primary", VT_REGION, NULL, false},
    {"port", VT_PORT, NULL, false},
    {NULL, VT_STR, NULL, false},
};

const char *const *fl_target_kinds(void)
{
    return kinds;
}

const struct vspec *fl_target_schema(const char *kind)
{
    const struct fl_target_ops *ops = fl_target_find(kind);

    if (ops != NULL)
        return ops->options;
    return kind != NULL && strcmp(kind, "http") == 0 ? http_opts : NULL;
}
