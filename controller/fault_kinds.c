/*
 * The fault kind table (see fault_kinds.h) and the spec builders of its rows.
 * The experiment parser reads the keys and scope rules of a row, the fault
 * plan (fault_plan.c) its host rules and builder; nothing else in the
 * controller switches on a kind.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "fault_kinds.h"
#include "lab.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

const char *const fault_process_actions[] = {"stop", "continue", "kill", "restart", NULL};

static json_t *cidrs_json(const struct fl_cidr *c, size_t n)
{
    json_t *a = json_array();
    char buf[64];
    size_t i;

    for (i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(fl_cidr_format(&c[i], buf, sizeof(buf))));
    return a;
}

/* A duration parameter (integer milliseconds in the experiment) as the injector's "Nms". */
static int set_ms(json_t *spec, const json_t *params, const char *key)
{
    const json_t *v = json_object_get(params, key);

    if (v == NULL)
        return 0;
    if (json_is_integer(v))
        return json_object_set_new(
            spec, key, json_sprintf("%" JSON_INTEGER_FORMAT "ms", json_integer_value(v)));
    return json_object_set_new(spec, key, json_deep_copy(v));
}

static int set_mode(const struct fk_host *h, json_t *spec)
{
    return json_object_set_new(spec, "mode",
                               json_string(h->f->mode == EXP_MODE_REJECT ? "reject" : "drop"));
}

static int set_dev(const struct fk_host *h, json_t *spec)
{
    return json_object_set_new(spec, "dev", json_string(h->dev));
}

static int build_partition(const struct fk_host *h, json_t *spec)
{
    json_t *grp = json_array();
    size_t g;

    for (g = 0; grp && g < h->f->n_groups; g++)
        json_array_append_new(grp, cidrs_json(h->f->groups[g].cidrs, h->f->groups[g].n_cidrs));
    set_mode(h, spec);
    return json_object_set_new(spec, "groups", grp) < 0 ? -ENOMEM : 0;
}

static int build_one_way(const struct fk_host *h, json_t *spec)
{
    set_mode(h, spec);
    json_object_set_new(spec, "from", cidrs_json(h->f->from.cidrs, h->f->from.n_cidrs));
    return json_object_set_new(spec, "to", cidrs_json(h->f->to.cidrs, h->f->to.n_cidrs)) < 0
               ? -ENOMEM
               : 0;
}

static int build_isolate(const struct fk_host *h, json_t *spec)
{
    set_mode(h, spec);
    return json_object_set_new(spec, "cidrs", cidrs_json(h->f->scope.cidrs, h->f->scope.n_cidrs)) <
                   0
               ? -ENOMEM
               : 0;
}

/* Loss in the lab counts only data-network packets (the control network stays whole). */
static int build_loss(const struct fk_host *h, json_t *spec)
{
    json_object_set(spec, "percent", json_object_get(h->f->params, "percent"));
    if (h->t->lab)
        json_object_set_new(spec, "from", json_pack("[s]", LAB_DATA_NET));
    return 0;
}

static int build_delay(const struct fk_host *h, json_t *spec)
{
    set_ms(spec, h->f->params, "delay");
    set_ms(spec, h->f->params, "jitter");
    return set_dev(h, spec);
}

static int build_netem_percent(const struct fk_host *h, json_t *spec)
{
    json_object_set(spec, "percent", json_object_get(h->f->params, "percent"));
    set_ms(spec, h->f->params, "delay");
    return set_dev(h, spec);
}

static int build_bandwidth(const struct fk_host *h, json_t *spec)
{
    json_object_set_new(spec, "rate",
                        json_sprintf("%" JSON_INTEGER_FORMAT "kbit",
                                     json_integer_value(json_object_get(h->f->params, "kbit"))));
    return set_dev(h, spec);
}

static int build_link_down(const struct fk_host *h, json_t *spec)
{
    return set_dev(h, spec);
}

static int build_blackhole(const struct fk_host *h, json_t *spec)
{
    return json_object_set_new(spec, "cidrs", cidrs_json(h->f->to.cidrs, h->f->to.n_cidrs)) < 0
               ? -ENOMEM
               : 0;
}

/*
 * The target of a process fault: the fault's service: as a command-line
 * match, or a placeholder the run replaces with the launcher's own answer
 * once the target runs (fault_plan_process_targets()).
 */
static int build_process(const struct fk_host *h, json_t *spec)
{
    const json_t *svc = json_object_get(h->f->params, "service");

    json_object_set(spec, "action", json_object_get(h->f->params, "action"));
    if (svc != NULL)
        return json_object_set_new(spec, "target", json_pack("{s:O}", "match", svc));
    return json_object_set_new(spec, "target",
                               json_pack("{s:s}", "match", h->t->hosts[h->host].name));
}

static const struct fault_kind kinds[] = {
    [EXP_FAULT_PARTITION] = {"partition", L("groups"), L("groups"), FK_MODE | FK_GROUPS,
                             build_partition},
    [EXP_FAULT_ONE_WAY] = {"one-way", L("from", "to"), L("from", "to"), FK_MODE | FK_ENDS,
                           build_one_way},
    [EXP_FAULT_ISOLATE] = {"isolate", L(NULL), L(NULL), FK_SCOPE | FK_MODE | FK_ALL | FK_GUARD,
                           build_isolate},
    [EXP_FAULT_LOSS] = {"loss", L("percent"), L("percent"), FK_SCOPE, build_loss},
    [EXP_FAULT_LATENCY] = {"latency", L("delay", "jitter"), L("delay"), FK_SCOPE, build_delay},
    [EXP_FAULT_JITTER] = {"jitter", L("jitter", "delay"), L("jitter"), FK_SCOPE, build_delay},
    [EXP_FAULT_DUPLICATE] = {"duplicate", L("percent"), L("percent"), FK_SCOPE,
                             build_netem_percent},
    [EXP_FAULT_CORRUPT] = {"corrupt", L("percent"), L("percent"), FK_SCOPE, build_netem_percent},
    [EXP_FAULT_REORDER] = {"reorder", L("percent", "delay"), L("percent", "delay"), FK_SCOPE,
                           build_netem_percent},
    [EXP_FAULT_BANDWIDTH] = {"bandwidth", L("kbit"), L("kbit"), FK_SCOPE, build_bandwidth},
    [EXP_FAULT_LINK_DOWN] = {"link-down", L("dev"), L(NULL), FK_SCOPE, build_link_down},
    [EXP_FAULT_BLACKHOLE] = {"blackhole", L("to"), L("to"), FK_SCOPE | FK_TO, build_blackhole},
    [EXP_FAULT_PROCESS] = {"process", L("action", "service"), L("action"), FK_SCOPE, build_process},
};

#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static const struct {
    const char *key;
    enum fault_param type;
} params[] = {
    {"percent", FP_PERCENT}, {"delay", FP_DURATION}, {"jitter", FP_DURATION}, {"kbit", FP_KBIT},
    {"dev", FP_DEV},         {"action", FP_ACTION},  {"service", FP_STRING},
};

const struct fault_kind *fault_kind_get(enum exp_fault_kind kind)
{
    return (int)kind >= 0 && (size_t)kind < NKINDS ? &kinds[kind] : NULL;
}

size_t fault_kind_count(void)
{
    return NKINDS;
}

enum fault_param fault_param_type(const char *key)
{
    size_t i;

    for (i = 0; i < sizeof(params) / sizeof(params[0]); i++)
        if (strcmp(params[i].key, key) == 0)
            return params[i].type;
    return FP_NONE;
}

static const char *kind_names[NKINDS + 1];
static pthread_once_t kind_names_once = PTHREAD_ONCE_INIT;

static void kind_names_fill(void)
{
    size_t i;

    for (i = 0; i < NKINDS; i++)
        kind_names[i] = kinds[i].name;
}

/* The names, NULL-terminated, for hints and --help (built once from the table). */
const char *const *experiment_fault_kind_names(void)
{
    pthread_once(&kind_names_once, kind_names_fill);
    return kind_names;
}

const char *experiment_fault_kind_name(enum exp_fault_kind kind)
{
    const struct fault_kind *k = fault_kind_get(kind);

    return k != NULL ? k->name : "?";
}

size_t experiment_fault_kind_count(void)
{
    return NKINDS;
}
