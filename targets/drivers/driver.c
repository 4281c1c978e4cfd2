/*
 * The driver table: target kind -> driver. A real service's driver (redis,
 * etcd, postgres) adds its file under targets/drivers/ and one line here.
 */
#include <string.h>

#include "faultline/driver.h"

/* Real-service drivers (targets/drivers/{redis,etcd,postgres}.c). */

static const struct fl_driver_ops *const drivers[] = {
    &fl_driver_refstore,
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
