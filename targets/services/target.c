/*
 * The launcher table: experiment target.kind -> struct fl_target_ops. Each
 * real service's launcher lives in its own file of this folder; the run loop
 * asks fl_target_find() and then uses the driver of the same name
 * (targets/drivers/driver.c).
 */
#include <string.h>

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
