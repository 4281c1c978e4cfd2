/*
 * The topology: section of an experiment file and the names it defines.
 * Regions hold zones, zones hold hosts (or a host count); the lab's address
 * plan turns each into CIDRs, and experiment_resolve() turns a name or a
 * CIDR written anywhere in the file into the hosts and prefixes it covers,
 * with "did you mean" when a name is unknown.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

#include "exp_int.h"
#include "faultline/hint.h"

/* ---- the lab's address plan -------------------------------------------- */

static void v4(struct fl_cidr *c, unsigned a, unsigned b, unsigned x, unsigned y, unsigned pfx)
{
    memset(c, 0, sizeof(*c));
    c->family = AF_INET;
    c->addr[0] = (uint8_t)a;
    c->addr[1] = (uint8_t)b;
    c->addr[2] = (uint8_t)x;
    c->addr[3] = (uint8_t)y;
    c->prefix = (uint8_t)pfx;
}

/* The control network's n-th address as a /32 (lab: a /24 or larger IPv4 network). */
static void control_addr(const struct fl_cidr *net, unsigned n, struct fl_cidr *out)
{
    uint32_t base = (uint32_t)net->addr[0] << 24 | (uint32_t)net->addr[1] << 16 |
                    (uint32_t)net->addr[2] << 8 | net->addr[3];

    base += n;
    v4(out, base >> 24, (base >> 16) & 0xff, (base >> 8) & 0xff, base & 0xff, 32);
}

/*
 * Names and addresses of the lab: region r (1-based, file order) gets
 * 198.18.r.0/24, its zone z 198.18.r.(32z)/27 with the router's leg at
 * .(32z+30), host h of that zone 198.18.r.(32z+h) and the name
 * "<region>-<zone>-h<h>"; host i (0-based overall) is reached on the control
 * network at .(i+10), the controller at .1.
 */
static int lab_plan(struct pctx *p, struct fy_node *at)
{
    struct exp_topology *t = &p->exp->topology;
    char buf[64];
    size_t r, z, i;

    if (t->control.family != AF_INET || t->control.prefix > 24)
        return perr(p, at, NULL,
                    "topology.control: the lab needs an IPv4 network of /24 or larger, found %s",
                    fl_cidr_format(&t->control, buf, sizeof(buf)));
    {
        struct fl_cidr data;

        v4(&data, 198, 18, 0, 0, 16);
        if (fl_cidr_overlaps(&data, &t->control))
            return perr(p, at, NULL,
                        "topology.control: %s overlaps the lab's data network 198.18.0.0/16",
                        fl_cidr_format(&t->control, buf, sizeof(buf)));
    }
    if (t->n_regions > EXP_LAB_MAX_REGIONS)
        return perr(p, at, NULL, "topology: the lab holds at most %d regions, found %zu",
                    EXP_LAB_MAX_REGIONS, t->n_regions);
    if (t->n_hosts > EXP_LAB_MAX_HOSTS)
        return perr(p, at, NULL, "topology: the lab holds at most %d hosts, found %zu",
                    EXP_LAB_MAX_HOSTS, t->n_hosts);
    control_addr(&t->control, 1, &t->controller);
    for (r = 0; r < t->n_regions; r++) {
        struct exp_region *reg = &t->regions[r];

        v4(&reg->cidr, 198, 18, (unsigned)r + 1, 0, 24);
        for (z = 0; z < reg->n_zones; z++) {
            struct exp_zone *zn = &reg->zones[z];
            unsigned zb = 32 * ((unsigned)z + 1);

            v4(&zn->cidr, 198, 18, (unsigned)r + 1, zb, 27);
            v4(&zn->gateway, 198, 18, (unsigned)r + 1, zb + 30, 32);
            for (i = 0; i < zn->n_hosts; i++) {
                struct exp_host *h = &t->hosts[zn->first_host + i];
                char ctl[64];

                pathf(h->name, sizeof(h->name), "%s-%s-h%zu", reg->name, zn->name, i + 1);
                v4(&h->data, 198, 18, (unsigned)r + 1, zb + (unsigned)i + 1, 32);
                control_addr(&t->control, (unsigned)h->index + 10, &h->control);
                fl_cidr_format(&h->control, ctl, sizeof(ctl));
                /* fl_cidr_format prints "a.b.c.d/32"; the URL wants the bare address */
                ctl[strcspn(ctl, "/")] = '\0';
                snprintf(h->agent, sizeof(h->agent), "http://%s:%d", ctl, EXP_LAB_AGENT_PORT);
            }
        }
    }
    return 0;
}

/* ---- sets: names and CIDRs resolved to hosts and prefixes --------------- */

void experiment_set_free(struct exp_set *set)
{
    if (set == NULL)
        return;
    free(set->text);
    free(set->cidrs);
    free(set->hosts);
    memset(set, 0, sizeof(*set));
}

static int set_add_cidr(struct exp_set *set, const struct fl_cidr *c)
{
    struct fl_cidr *n = realloc(set->cidrs, (set->n_cidrs + 1) * sizeof(*n));

    if (n == NULL)
        return -ENOMEM;
    set->cidrs = n;
    set->cidrs[set->n_cidrs++] = *c;
    return 0;
}

static int set_add_host(struct exp_set *set, size_t h)
{
    size_t i, *n;

    for (i = 0; i < set->n_hosts; i++)
        if (set->hosts[i] == h)
            return 0;
    n = realloc(set->hosts, (set->n_hosts + 1) * sizeof(*n));
    if (n == NULL)
        return -ENOMEM;
    set->hosts = n;
    set->hosts[set->n_hosts++] = h;
    return 0;
}

static int set_add_text(struct exp_set *set, const char *s)
{
    size_t old = set->text ? strlen(set->text) : 0;
    char *n = realloc(set->text, old + strlen(s) + 3);

    if (n == NULL)
        return -ENOMEM;
    if (old == 0)
        n[0] = '\0';
    else
        strcat(n, ", ");
    strcat(n, s);
    set->text = n;
    return 0;
}

/* Add hosts [first, first+n) and, in staging, their addresses. */
static int set_add_hosts(const struct experiment *exp, struct exp_set *set, size_t first, size_t n,
                         bool add_cidrs)
{
    size_t i;
    int rc;

    for (i = first; i < first + n; i++) {
        if ((rc = set_add_host(set, i)) < 0)
            return rc;
        if (add_cidrs && (rc = set_add_cidr(set, &exp->topology.hosts[i].data)) < 0)
            return rc;
    }
    return 0;
}

int experiment_region_find(const struct experiment *exp, const char *name)
{
    size_t r;

    for (r = 0; r < exp->topology.n_regions; r++)
        if (strcmp(exp->topology.regions[r].name, name) == 0)
            return (int)r;
    return -1;
}

/* Candidate names of a type, NULL-terminated (malloc'd array of borrowed strings). */
const char **names_of(const struct experiment *exp, enum rtype t)
{
    const struct exp_topology *tp = &exp->topology;
    size_t n = 0, r, z, h, cap = tp->n_regions + tp->n_hosts + 1;
    const char **v;

    for (r = 0; r < tp->n_regions; r++)
        cap += tp->regions[r].n_zones;
    v = calloc(cap, sizeof(*v));
    if (v == NULL)
        return NULL;
    for (r = 0; r < tp->n_regions; r++) {
        if (t == R_ANY || t == R_REGION)
            v[n++] = tp->regions[r].name;
        for (z = 0; z < tp->regions[r].n_zones; z++)
            if (t == R_ANY || t == R_ZONE)
                v[n++] = tp->regions[r].zones[z].path;
    }
    for (h = 0; h < tp->n_hosts; h++)
        if (t == R_ANY || t == R_HOST)
            v[n++] = tp->hosts[h].name;
    return v;
}

static bool looks_like_cidr(const char *s)
{
    return isdigit((unsigned char)s[0]) || strchr(s, ':') != NULL;
}

/* Resolve one name (of type t) or CIDR and add it to set. */
int resolve_name(const struct experiment *exp, enum rtype t, const char *name, struct exp_set *set,
                 struct fl_err *err)
{
    static const char *const what[] = {"region, zone or host", "region", "zone", "host"};
    const struct exp_topology *tp = &exp->topology;
    const char **cands, *near;
    size_t r, z, h;
    int rc;

    if (t == R_ANY && looks_like_cidr(name)) {
        struct fl_cidr c;

        if ((rc = fl_cidr_parse(name, &c, err)) < 0)
            return rc;
        if ((rc = set_add_cidr(set, &c)) < 0 || (rc = set_add_text(set, name)) < 0)
            return rc;
        for (h = 0; h < tp->n_hosts; h++)
            if (fl_cidr_contains(&c, &tp->hosts[h].data) && (rc = set_add_host(set, h)) < 0)
                return rc;
        return 0;
    }
    for (r = 0; r < tp->n_regions; r++) {
        const struct exp_region *reg = &tp->regions[r];

        if ((t == R_ANY || t == R_REGION) && strcmp(reg->name, name) == 0) {
            if (tp->lab && (rc = set_add_cidr(set, &reg->cidr)) < 0)
                return rc;
            if ((rc = set_add_hosts(exp, set, reg->first_host, reg->n_hosts, !tp->lab)) < 0)
                return rc;
            return set_add_text(set, name);
        }
        for (z = 0; z < reg->n_zones; z++) {
            const struct exp_zone *zn = &reg->zones[z];

            if ((t == R_ANY || t == R_ZONE) && strcmp(zn->path, name) == 0) {
                if (tp->lab && (rc = set_add_cidr(set, &zn->cidr)) < 0)
                    return rc;
                if ((rc = set_add_hosts(exp, set, zn->first_host, zn->n_hosts, !tp->lab)) < 0)
                    return rc;
                return set_add_text(set, name);
            }
        }
    }
    for (h = 0; h < tp->n_hosts; h++) {
        if ((t == R_ANY || t == R_HOST) && strcmp(tp->hosts[h].name, name) == 0) {
            if ((rc = set_add_hosts(exp, set, h, 1, true)) < 0)
                return rc;
            return set_add_text(set, name);
        }
    }
    cands = names_of(exp, t);
    if (cands == NULL)
        return -ENOMEM;
    near = fl_hint_nearest(name, cands);
    if (near != NULL)
        rc = fl_errf(err, -ENOENT, "unknown %s '%s' (did you mean '%s'?)", what[t], name, near);
    else if (t == R_ZONE)
        rc = fl_errf(err, -ENOENT, "unknown zone '%s' (zones are written region/zone, e.g. %s)",
                     name, cands[0] ? cands[0] : "west/z1");
    else if (t == R_HOST)
        rc = fl_errf(err, -ENOENT, "unknown host '%s' (e.g. %s)", name,
                     cands[0] ? cands[0] : "west-z1-h1");
    else if (t == R_ANY)
        rc = fl_errf(err, -ENOENT,
                     "unknown region, zone or host '%s'; expected a region (e.g. %s), a zone "
                     "(region/zone), a host or a CIDR",
                     name, tp->n_regions ? tp->regions[0].name : "west");
    else
        rc = fl_errf(err, -ENOENT, "unknown %s '%s'", what[t], name);
    free(cands);
    return rc;
}

int experiment_resolve(const struct experiment *exp, const char *name, struct exp_set *set,
                       struct fl_err *err)
{
    int rc;

    memset(set, 0, sizeof(*set));
    rc = resolve_name(exp, R_ANY, name, set, err);
    if (rc < 0)
        experiment_set_free(set);
    return rc;
}

/* ---- topology ----------------------------------------------------------- */

static const char *const topo_keys[] = {"regions", "control", NULL};
static const char *const region_keys[] = {"name", "zones", NULL};
static const char *const zone_keys[] = {"name", "hosts", NULL};
static const char *const host_keys[] = {"name", "agent", "address", "token_file", NULL};
static const char *const host_required[] = {"name", "agent", "address", NULL};

#define TOPO_NAME_MAX 28 /* region and zone names: "<region>-<zone>-h29" fits EXP_NAME_MAX */

static struct exp_host *host_new(struct exp_topology *t)
{
    struct exp_host *n = realloc(t->hosts, (t->n_hosts + 1) * sizeof(*n));

    if (n == NULL)
        return NULL;
    t->hosts = n;
    memset(&n[t->n_hosts], 0, sizeof(*n));
    n[t->n_hosts].index = t->n_hosts;
    return &n[t->n_hosts++];
}

static int parse_staging_host(struct pctx *p, struct fy_node *hv, const char *path,
                              struct exp_host *h)
{
    const struct exp_topology *t = &p->exp->topology;
    char ctl[64];
    size_t i;
    struct fy_node *k, *v;
    char sub[PATH_LEN];
    const char *s;
    struct fl_err e = {0};
    int rc;

    if ((rc = expect_map(p, hv, NULL, path)) < 0 ||
        (rc = map_check(p, hv, hv, path, host_keys, host_required)) < 0)
        return rc;
    v = map_get(hv, "name", &k);
    pathf(sub, sizeof(sub), "%s.name", path);
    if ((rc = get_name(p, v, k, sub, EXP_NAME_MAX, h->name)) < 0)
        return rc;
    v = map_get(hv, "agent", &k);
    pathf(sub, sizeof(sub), "%s.agent", path);
    if ((rc = get_str(p, v, k, sub, &s)) < 0)
        return rc;
    if ((strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0) ||
        strlen(s) >= EXP_URL_MAX)
        return perr(p, v, k, "%s: expected an http:// or https:// URL, found '%s'", sub, s);
    snprintf(h->agent, sizeof(h->agent), "%s", s);
    if ((v = map_get(hv, "token_file", &k)) != NULL) {
        const char *slash = strrchr(p->file ? p->file : "", '/');
        int dirlen = slash ? (int)(slash - p->file) : 0;

        pathf(sub, sizeof(sub), "%s.token_file", path);
        if ((rc = get_str(p, v, k, sub, &s)) < 0)
            return rc;
        if (s[0] == '\0')
            return perr(p, v, k, "%s: expected the path of this agent's token file, found ''", sub);
        /* Relative: next to the experiment file, wherever faultline runs. */
        if (s[0] == '/' || slash == NULL)
            rc = snprintf(h->token_file, sizeof(h->token_file), "%s", s);
        else
            rc = snprintf(h->token_file, sizeof(h->token_file), "%.*s/%s", dirlen, p->file, s);
        if (rc < 0 || (size_t)rc >= sizeof(h->token_file))
            return perr(p, v, k, "%s: path longer than %d characters", sub, EXP_TOKEN_FILE_MAX - 1);
    }
    v = map_get(hv, "address", &k);
    pathf(sub, sizeof(sub), "%s.address", path);
    if ((rc = get_str(p, v, k, sub, &s)) < 0)
        return rc;
    if (fl_cidr_parse(s, &h->data, &e) < 0)
        return perr(p, v, k, "%s: %s", sub, e.msg);
    if (h->data.prefix != fl_cidr_addrlen(&h->data) * 8)
        return perr(p, v, k, "%s: expected one address (the host's data address), found %s", sub,
                    s);
    if (fl_cidr_overlaps(&h->data, &t->control))
        return perr(p, v, k,
                    "%s: %s is inside the control network %s; data and control must be "
                    "separate networks",
                    sub, s, fl_cidr_format(&t->control, ctl, sizeof(ctl)));
    for (i = 0; i < h->index; i++) {
        if (strcmp(t->hosts[i].name, h->name) == 0)
            return perr(p, map_get(hv, "name", &k), k, "%s.name: duplicate host name '%s'", path,
                        h->name);
        if (fl_cidr_overlaps(&t->hosts[i].data, &h->data))
            return perr(p, v, k, "%s: host '%s' has the same address", sub, t->hosts[i].name);
    }
    return 0;
}

static int parse_zone(struct pctx *p, struct fy_node *zv, const char *path, size_t r, size_t z,
                      int *form)
{
    struct exp_topology *t = &p->exp->topology;
    struct exp_region *reg = &t->regions[r];
    struct exp_zone *zn = &reg->zones[z];
    struct fy_node *k, *v, *hk, *hv;
    char sub[PATH_LEN];
    size_t i;
    int rc, this_form;

    if ((rc = expect_map(p, zv, NULL, path)) < 0 ||
        (rc = map_check(p, zv, zv, path, zone_keys, zone_keys)) < 0)
        return rc;
    v = map_get(zv, "name", &k);
    pathf(sub, sizeof(sub), "%s.name", path);
    if ((rc = get_name(p, v, k, sub, TOPO_NAME_MAX, zn->name)) < 0)
        return rc;
    for (i = 0; i < z; i++)
        if (strcmp(reg->zones[i].name, zn->name) == 0)
            return perr(p, v, k, "%s: duplicate zone name '%s' in region '%s'", sub, zn->name,
                        reg->name);
    snprintf(zn->path, sizeof(zn->path), "%s/%s", reg->name, zn->name);
    zn->first_host = t->n_hosts;
    hv = map_get(zv, "hosts", &hk);
    pathf(sub, sizeof(sub), "%s.hosts", path);
    this_form = hv != NULL && fy_node_get_type(hv) == FYNT_SEQUENCE ? 1 : 0;
    if (*form >= 0 && this_form != *form)
        return perr(p, hv, hk,
                    "%s: mixes host counts (the lab) and host lists (staging); use one form in "
                    "the whole topology",
                    sub);
    *form = this_form;
    if (this_form == 0) {
        unsigned long long n;

        if (z >= EXP_LAB_MAX_ZONES)
            return perr(p, zv, NULL, "%s: the lab holds at most %d zones per region", path,
                        EXP_LAB_MAX_ZONES);
        if ((rc = get_uint(p, hv, hk, sub, 1, EXP_LAB_MAX_ZONE_HOSTS, &n)) < 0)
            return rc;
        for (i = 0; i < n; i++) {
            struct exp_host *h = host_new(t);

            if (h == NULL)
                return -ENOMEM;
            h->region = r;
            h->zone = z;
        }
    } else {
        struct fy_node *item;
        void *it = NULL;

        if (fy_node_sequence_item_count(hv) == 0)
            return perr(p, hv, hk, "%s: expected at least one host", sub);
        for (i = 0; (item = fy_node_sequence_iterate(hv, &it)) != NULL; i++) {
            char hp[PATH_LEN];
            struct exp_host *h = host_new(t);

            if (h == NULL)
                return -ENOMEM;
            h->region = r;
            h->zone = z;
            pathf(hp, sizeof(hp), "%s[%zu]", sub, i);
            if ((rc = parse_staging_host(p, item, hp, h)) < 0)
                return rc;
        }
    }
    zn->n_hosts = t->n_hosts - zn->first_host;
    return 0;
}

static int parse_region(struct pctx *p, struct fy_node *rv, const char *path, size_t r,
                        struct fy_node **name_nodes, int *form)
{
    struct exp_topology *t = &p->exp->topology;
    struct exp_region *reg = &t->regions[r];
    struct fy_node *k, *v, *zk, *zs, *item;
    char sub[PATH_LEN];
    void *it = NULL;
    size_t i;
    int rc;

    if ((rc = expect_map(p, rv, NULL, path)) < 0 ||
        (rc = map_check(p, rv, rv, path, region_keys, region_keys)) < 0)
        return rc;
    v = map_get(rv, "name", &k);
    pathf(sub, sizeof(sub), "%s.name", path);
    if ((rc = get_name(p, v, k, sub, TOPO_NAME_MAX, reg->name)) < 0)
        return rc;
    for (i = 0; i < r; i++) {
        if (strcmp(t->regions[i].name, reg->name) == 0) {
            int line, col;

            node_pos(name_nodes[i], &line, &col);
            return perr(p, v, k, "%s: duplicate region name '%s' (first defined at line %d)", sub,
                        reg->name, line);
        }
    }
    name_nodes[r] = v;
    zs = map_get(rv, "zones", &zk);
    pathf(sub, sizeof(sub), "%s.zones", path);
    if ((rc = expect_seq(p, zs, zk, sub)) < 0)
        return rc;
    if (fy_node_sequence_item_count(zs) == 0)
        return perr(p, zs, zk, "%s: expected at least one zone", sub);
    reg->zones = calloc((size_t)fy_node_sequence_item_count(zs), sizeof(*reg->zones));
    if (reg->zones == NULL)
        return -ENOMEM;
    reg->first_host = t->n_hosts;
    for (i = 0; (item = fy_node_sequence_iterate(zs, &it)) != NULL; i++) {
        char zp[PATH_LEN];

        pathf(zp, sizeof(zp), "%s[%zu]", sub, i);
        reg->n_zones = i + 1;
        if ((rc = parse_zone(p, item, zp, r, i, form)) < 0)
            return rc;
    }
    reg->n_hosts = t->n_hosts - reg->first_host;
    return 0;
}

/* Staging: a host may not be called like a region (names in faults would be ambiguous). */
static int check_staging(struct pctx *p, struct fy_node *at)
{
    struct exp_topology *t = &p->exp->topology;
    size_t i;

    for (i = 0; i < t->n_hosts; i++)
        if (experiment_region_find(p->exp, t->hosts[i].name) >= 0)
            return perr(p, at, NULL, "topology: host name '%s' is also a region name",
                        t->hosts[i].name);
    return 0;
}

int parse_topology(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    struct exp_topology *t = &p->exp->topology;
    struct fy_node *rk, *rs, *ck, *cv, *item, **name_nodes = NULL;
    void *it = NULL;
    size_t i, n;
    int rc, form = -1;

    if ((rc = expect_map(p, v, k, "topology")) < 0 ||
        (rc = map_check(p, v, k, "topology", topo_keys, (const char *const[]){"regions", NULL})) <
            0)
        return rc;
    cv = map_get(v, "control", &ck);
    if (ck != NULL) {
        struct fl_err e = {0};
        const char *s;

        if ((rc = get_str(p, cv, ck, "topology.control", &s)) < 0)
            return rc;
        if (fl_cidr_parse(s, &t->control, &e) < 0)
            return perr(p, cv, ck, "topology.control: %s", e.msg);
    } else {
        fl_cidr_parse(EXP_LAB_CONTROL, &t->control, NULL);
    }
    rs = map_get(v, "regions", &rk);
    if ((rc = expect_seq(p, rs, rk, "topology.regions")) < 0)
        return rc;
    n = (size_t)fy_node_sequence_item_count(rs);
    if (n == 0)
        return perr(p, rs, rk, "topology.regions: expected at least one region");
    t->regions = calloc(n, sizeof(*t->regions));
    name_nodes = calloc(n, sizeof(*name_nodes));
    if (t->regions == NULL || name_nodes == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (i = 0; (item = fy_node_sequence_iterate(rs, &it)) != NULL; i++) {
        char path[PATH_LEN];

        pathf(path, sizeof(path), "topology.regions[%zu]", i);
        t->n_regions = i + 1;
        if ((rc = parse_region(p, item, path, i, name_nodes, &form)) < 0)
            goto out;
    }
    t->lab = form == 0;
    rc = t->lab ? lab_plan(p, ck ? cv : k) : check_staging(p, k);
out:
    free(name_nodes);
    return rc;
}
