/*
 * The target: section: which service runs on the lab and its options. Each
 * target kind owns its options schema next to its launcher (the
 * fl_target_*_schema tables of targets/services/); this file picks the kind,
 * checks the options against that schema and keeps what the run needs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libfyaml.h>

#include "exp_int.h"
#include "faultline/target.h"

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
