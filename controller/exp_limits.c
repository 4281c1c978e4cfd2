/*
 * The limits: section, the blast radius every fault must stay inside:
 *
 *   limits: {max_hosts: 3, max_fraction: 0.25}
 *
 * A fault touches the hosts it cuts off or degrades: the hosts of its scope
 * (region, zone or host); for a partition every group but the largest (the
 * side or sides cut off from the rest); for one-way the hosts at both ends.
 * A fault over either bound is refused when the file is read, at the
 * fault's own line, so `faultline validate` and `--dry-run` catch it before
 * anything runs. Staging experiments must state both bounds (a shared
 * environment gets no silent default); the lab needs none, and enforces
 * them when given. See docs/experiment-file.md, "limits".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exp_int.h"
#include "fault_kinds.h"

static const char *const limit_keys[] = {"max_hosts", "max_fraction", NULL};

static void add_unique(size_t *hosts, size_t *n, const size_t *h, size_t nh)
{
    size_t i, j;

    for (i = 0; i < nh; i++) {
        for (j = 0; j < *n && hosts[j] != h[i]; j++)
            ;
        if (j == *n)
            hosts[(*n)++] = h[i];
    }
}

size_t experiment_fault_touched(const struct experiment *exp, const struct exp_fault *f,
                                size_t *hosts)
{
    const struct fault_kind *k = fault_kind_get(f->kind);
    size_t n = 0, g, largest = 0;

    (void)exp;
    if (k == NULL)
        return 0;
    if (k->flags & FK_GROUPS) {
        for (g = 1; g < f->n_groups; g++)
            if (f->groups[g].n_hosts > f->groups[largest].n_hosts)
                largest = g;
        for (g = 0; g < f->n_groups; g++)
            if (g != largest)
                add_unique(hosts, &n, f->groups[g].hosts, f->groups[g].n_hosts);
    } else if (k->flags & FK_ENDS) {
        add_unique(hosts, &n, f->from.hosts, f->from.n_hosts);
        add_unique(hosts, &n, f->to.hosts, f->to.n_hosts);
    } else {
        add_unique(hosts, &n, f->scope.hosts, f->scope.n_hosts);
    }
    return n;
}

/* "a, b, c and 4 more" into buf. */
static void host_names(const struct experiment *exp, const size_t *h, size_t n, char *buf,
                       size_t len)
{
    size_t i, used = 0;

    buf[0] = '\0';
    for (i = 0; i < n && i < 4 && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                                 exp->topology.hosts[h[i]].name);
    if (n > 4 && used < len)
        snprintf(buf + used, len - used, " and %zu more", n - 4);
}

/* Every fault inside the bounds, or the first that is not, at its own line. */
static int check_faults(struct pctx *p, const struct exp_limits *l, size_t *hosts)
{
    const struct experiment *exp = p->exp;
    size_t i, n, total = exp->topology.n_hosts;
    char names[192];

    for (i = 0; i < exp->n_faults; i++) {
        const struct exp_fault *f = &exp->faults[i];
        double frac;

        n = experiment_fault_touched(exp, f, hosts);
        frac = total ? (double)n / (double)total : 0;
        host_names(exp, hosts, n, names, sizeof(names));
        if (l->max_hosts > 0 && n > l->max_hosts)
            return fl_errf(p->err, -EINVAL,
                           "%s:%d:%d: fault %s (%s) touches %zu hosts (%s), more than "
                           "limits.max_hosts %u (%s:%d:%d)",
                           p->file, f->line, f->column, f->id, experiment_fault_kind_name(f->kind),
                           n, names, l->max_hosts, p->file, l->line, l->column);
        if (l->max_fraction > 0 && frac > l->max_fraction + 1e-9)
            return fl_errf(p->err, -EINVAL,
                           "%s:%d:%d: fault %s (%s) touches %zu of %zu hosts (%.0f%%: %s), more "
                           "than limits.max_fraction %g (%s:%d:%d)",
                           p->file, f->line, f->column, f->id, experiment_fault_kind_name(f->kind),
                           n, total, frac * 100, names, l->max_fraction, p->file, l->line,
                           l->column);
    }
    return 0;
}

static int parse_bounds(struct pctx *p, struct fy_node *v, struct fy_node *k, struct exp_limits *l)
{
    struct fy_node *x, *kn;
    unsigned long long u;
    int rc;

    if ((rc = expect_map(p, v, k, "limits")) < 0 ||
        (rc = map_check(p, v, k, "limits", limit_keys, NULL)) < 0)
        return rc;
    x = map_get(v, "max_hosts", &kn);
    if (kn && (rc = get_uint(p, x, kn, "limits.max_hosts", 1, 100000, &u)) < 0)
        return rc;
    if (kn)
        l->max_hosts = (unsigned)u;
    x = map_get(v, "max_fraction", &kn);
    if (kn && (rc = get_number(p, x, kn, "limits.max_fraction", 0, 1, true, &l->max_fraction)) < 0)
        return rc;
    if (!p->exp->topology.lab && (l->max_hosts == 0 || l->max_fraction == 0))
        return perr(p, v, k,
                    "limits: a staging experiment states both max_hosts and max_fraction "
                    "(e.g. limits: {max_hosts: 2, max_fraction: 0.25})");
    return 0;
}

int parse_limits(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    struct exp_limits *l = &p->exp->limits;
    size_t *hosts;
    int rc;

    memset(l, 0, sizeof(*l));
    if (k == NULL) {
        if (p->exp->topology.lab)
            return 0;
        return fl_errf(p->err, -EINVAL,
                       "%s:1:1: a staging experiment needs limits: the most hosts and the "
                       "largest fraction of the inventory one fault may touch, e.g. "
                       "limits: {max_hosts: 2, max_fraction: 0.25}",
                       p->file);
    }
    node_pos(k, &l->line, &l->column);
    if ((rc = parse_bounds(p, v, k, l)) < 0)
        return rc;
    l->set = true;
    hosts = calloc(p->exp->topology.n_hosts ? p->exp->topology.n_hosts : 1, sizeof(*hosts));
    if (hosts == NULL)
        return fl_errf(p->err, -ENOMEM, "out of memory");
    rc = check_faults(p, l, hosts);
    free(hosts);
    return rc;
}
