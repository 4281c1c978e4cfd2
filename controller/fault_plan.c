/*
 * The fault plan: each experiment fault turned into the hosts that get it
 * and the injector spec each of them gets, from the fault kind table
 * (fault_kinds.c). Symmetric cuts go to every host on either side (they are
 * enforced on ingress), so that no packet crosses in either direction:
 * partition to the members of every group, isolate to every host of the
 * topology, one-way to both ends; the other kinds to the hosts of their
 * scope. Each spec is checked with the injector's own parser, which also
 * says which kernel features the fault needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_kinds.h"
#include "faultline/inject.h"
#include "run_int.h"

static void hosts_add(struct fstate *s, const size_t *h, size_t n)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        for (j = 0; j < s->nh; j++)
            if (s->hosts[j] == h[i])
                break;
        if (j == s->nh)
            s->hosts[s->nh++] = h[i];
    }
}

static const char *text_of(const struct exp_set *set)
{
    return set->text ? set->text : "";
}

/* Which hosts get the fault, and its scope in words (report, progress). */
static void plan_hosts(const struct exp_topology *t, const struct fault_kind *k, struct fstate *s)
{
    const struct exp_fault *f = s->f;
    size_t i, g;

    if (k->flags & FK_GROUPS) {
        snprintf(s->scope, sizeof(s->scope), "groups");
        for (g = 0; g < f->n_groups; g++) {
            hosts_add(s, f->groups[g].hosts, f->groups[g].n_hosts);
            snprintf(s->scope + strlen(s->scope), sizeof(s->scope) - strlen(s->scope), "%s[%s]",
                     g ? " | " : " ", text_of(&f->groups[g]));
        }
    } else if (k->flags & FK_ENDS) {
        hosts_add(s, f->to.hosts, f->to.n_hosts);
        hosts_add(s, f->from.hosts, f->from.n_hosts);
        snprintf(s->scope, sizeof(s->scope), "from %s to %s", text_of(&f->from), text_of(&f->to));
    } else {
        if (k->flags & FK_ALL)
            for (i = 0; i < t->n_hosts; i++)
                s->hosts[s->nh++] = i;
        else
            hosts_add(s, f->scope.hosts, f->scope.n_hosts);
        snprintf(s->scope, sizeof(s->scope), "%s", text_of(&f->scope));
    }
}

/* Check the spec as the agents will, and learn which kernel features it needs. */
static int plan_check(const struct experiment *exp, struct fstate *s, struct fl_err *err)
{
    struct inj_fault *inj = NULL;
    struct fl_err e2 = {0};

    if (s->nh == 0)
        return 0;
    if (inj_fault_parse_json(s->specs[0], &inj, &e2) < 0)
        return fl_errf(err, -EINVAL, "%s:%d:%d: fault %s (%s): %s", exp->file, s->f->line,
                       s->f->column, s->f->id, experiment_fault_kind_name(s->f->kind), e2.msg);
    s->needs = inj_fault_needs(inj);
    inj_fault_free(inj);
    return 0;
}

static int plan_one(const struct experiment *exp, struct fstate *s, struct fl_err *err)
{
    const struct exp_topology *t = &exp->topology;
    const struct fault_kind *k = fault_kind_get(s->f->kind);
    const char *dev = json_string_value(json_object_get(s->f->params, "dev"));
    struct fk_host h = {.f = s->f, .t = t};
    size_t i;

    s->hosts = calloc(t->n_hosts ? t->n_hosts : 1, sizeof(*s->hosts));
    s->specs = calloc(t->n_hosts ? t->n_hosts : 1, sizeof(*s->specs));
    s->agents = json_array();
    if (!s->hosts || !s->specs || !s->agents || !k)
        return fl_errf(err, -ENOMEM, "out of memory");
    h.dev = dev ? dev : t->lab ? LAB_DATA_DEV : "";
    plan_hosts(t, k, s);
    for (i = 0; i < s->nh; i++) {
        h.host = s->hosts[i];
        s->specs[i] = json_pack("{s:s}", "kind", k->name);
        if (!s->specs[i] || k->build(&h, s->specs[i]) < 0)
            return fl_errf(err, -ENOMEM, "out of memory");
    }
    return plan_check(exp, s, err);
}

int fault_plan_build(const struct experiment *exp, struct fstate **out, struct fl_err *err)
{
    struct fstate *fs = calloc(exp->n_faults ? exp->n_faults : 1, sizeof(*fs));
    size_t i;
    int r;

    *out = fs;
    if (!fs)
        return fl_errf(err, -ENOMEM, "out of memory");
    for (i = 0; i < exp->n_faults; i++) {
        fs[i].f = &exp->faults[i];
        if ((r = plan_one(exp, &fs[i], err)) < 0)
            return r;
    }
    return 0;
}

/*
 * restart_cmd sits beside target in the injector's process spec, and only
 * where the server is killed (stop is undone by SIGCONT).
 */
static void set_process_target(json_t *spec, json_t *target)
{
    if (json_object_get(target, "restart_cmd") != NULL) {
        const char *act = json_string_value(json_object_get(spec, "action"));

        if (act != NULL && strcmp(act, "stop") != 0)
            json_object_set(spec, "restart_cmd", json_object_get(target, "restart_cmd"));
        json_object_del(target, "restart_cmd");
    }
    json_object_set_new(spec, "target", target);
}

int fault_plan_process_targets(const struct experiment *exp, struct fstate *fs, size_t n,
                               const struct fl_target_ops *launcher, void *tstate,
                               struct fl_err *err)
{
    size_t i, k;

    for (i = 0; i < n; i++) {
        struct fstate *s = &fs[i];

        if (s->f->kind != EXP_FAULT_PROCESS || json_object_get(s->f->params, "service"))
            continue;
        for (k = 0; k < s->nh; k++) {
            json_t *t =
                launcher->process_target ? launcher->process_target(tstate, s->hosts[k]) : NULL;

            if (t == NULL)
                return fl_errf(err, -EOPNOTSUPP,
                               "fault %s: target kind %s cannot name its process on %s; give "
                               "the fault a service: (a command-line match)",
                               s->f->id, exp->target.kind_name,
                               exp->topology.hosts[s->hosts[k]].name);
            set_process_target(s->specs[k], t);
        }
    }
    return 0;
}

void fault_plan_free(struct fstate *fs, size_t n)
{
    size_t i, j;

    for (i = 0; fs && i < n; i++) {
        for (j = 0; fs[i].specs && j < fs[i].nh; j++)
            json_decref(fs[i].specs[j]);
        free(fs[i].specs);
        free(fs[i].hosts);
        json_decref(fs[i].agents);
    }
    free(fs);
}
