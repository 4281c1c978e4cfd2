/*
 * The target: section: which service runs on the lab and its options. Each
 * target kind owns its options schema next to its launcher (the
 * fl_target_*_schema tables of targets/services/); this file picks the kind,
 * checks the options against that schema and keeps what the run needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

#include "exp_int.h"
#include "faultline/target.h"

/*
 * The kind's limits against this lab (the launcher's check(), the same one
 * its start() applies), at the option they are about or at target.kind:
 * what a run would find only after building the lab is refused here. Last,
 * after every section parsed: the file's own mistakes are reported first.
 */
int check_target_limits(struct pctx *p, struct fy_node *v)
{
    struct fy_node *kk, *kind = map_get(v, "kind", &kk);
    const struct exp_topology *tp = &p->exp->topology;
    const struct exp_target *t = &p->exp->target;
    const struct fl_target_ops *ops = fl_target_find(t->kind_name);
    struct fl_target_host *hosts;
    struct fl_target_env env;
    struct fl_err e = {0};
    char(*addr)[64];
    const char *key = NULL;
    struct fy_node *at, *kn;
    size_t i;
    int rc = 0;

    if (!tp->lab)
        return 0;
    if (!ops)
        return perr(p, kind, kk,
                    "target.kind: '%s' has no launcher: the lab runs refstore, redis-sentinel, "
                    "etcd or postgres ('%s' is for staging hosts)",
                    t->kind_name, t->kind_name);
    if (!ops->check)
        return 0;
    hosts = calloc(tp->n_hosts ? tp->n_hosts : 1, sizeof(*hosts));
    addr = calloc(tp->n_hosts ? tp->n_hosts : 1, sizeof(*addr));
    if (!hosts || !addr) {
        free(hosts);
        free(addr);
        return fl_errf(p->err, -ENOMEM, "out of memory");
    }
    for (i = 0; i < tp->n_hosts; i++) {
        const struct exp_host *h = &tp->hosts[i];
        char *slash;

        fl_cidr_format(&h->data, addr[i], sizeof(addr[i]));
        if ((slash = strchr(addr[i], '/')) != NULL)
            *slash = '\0';
        hosts[i].name = h->name;
        hosts[i].region = tp->regions[h->region].name;
        hosts[i].zone = tp->regions[h->region].zones[h->zone].name;
        hosts[i].data_addr = addr[i];
    }
    memset(&env, 0, sizeof(env));
    env.hosts = hosts;
    env.n_hosts = tp->n_hosts;
    env.primary_region = t->has_primary ? tp->regions[t->primary].name : NULL;
    env.config = t->options;
    if (ops->check(&env, &key, &e) < 0) {
        at = key ? map_get(v, key, &kn) : NULL;
        if (e.code == -ENOMEM)
            rc = fl_errf(p->err, -ENOMEM, "out of memory");
        else if (at)
            rc = perr(p, at, kn, "target.%s: %s", key, e.msg);
        else
            rc = perr(p, kind, kk, "target: %s", e.msg);
    }
    free(hosts);
    free(addr);
    return rc;
}

int parse_target(struct pctx *p, struct fy_node *v, struct fy_node *k)
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
    if ((rc = get_enum(p, kv, kk, "target.kind", fl_target_kinds(), &idx)) < 0)
        return rc;
    t->kind = (enum exp_target_kind)idx;
    t->kind_name = fl_target_kinds()[idx];
    spec.sub = fl_target_schema(t->kind_name);
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
