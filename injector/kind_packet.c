/*
 * Packet faults over nf_tables: partition, one-way, isolate, loss. Each
 * becomes a plan (address sets + match rules) in the fault's own base chain
 * on the input hook: faults are enforced on ingress at the receiving host, so
 * a sender sees silent loss (drop) or an immediate error (reject: TCP reset,
 * ICMP port unreachable) exactly as in a real outage, and established flows
 * are cut because rules match every packet, not only new connections.
 *
 * The control network is exempt ahead of every rule (accept in this chain
 * only; the host's own chains still see the packet).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nft.h"

enum pkt_mode { PKT_DROP, PKT_REJECT };

struct pkt_group {
    struct fl_cidr *c;
    size_t n;
};

struct pkt_priv {
    enum pkt_mode mode;
    struct pkt_group g[16]; /* partition groups; one-way: from, to; isolate: the cut set */
    size_t ng;
    bool has_from, has_to; /* loss scope */
    double percent;        /* loss */
};

#define MAX_GROUPS 16

static void pkt_free(struct inj_fault *f)
{
    struct pkt_priv *p = f->priv;
    size_t i;

    if (p == NULL)
        return;
    for (i = 0; i < p->ng; i++)
        free(p->g[i].c);
    free(p);
    f->priv = NULL;
}

static int parse_mode(const json_t *spec, struct pkt_priv *p, struct fl_err *err)
{
    const char *mode = "drop";
    int r = inj_json_string(spec, "mode", false, &mode, err);

    if (r < 0)
        return r;
    if (strcmp(mode, "drop") == 0)
        p->mode = PKT_DROP;
    else if (strcmp(mode, "reject") == 0)
        p->mode = PKT_REJECT;
    else
        return fl_errf(err, -EINVAL, "'mode' must be 'drop' or 'reject', got '%s'", mode);
    return 0;
}

/* Parse a CIDR list member into the next group; the error names the key. */
static int group_member(struct inj_fault *f, struct pkt_priv *p, const json_t *spec,
                        const char *key, bool required, struct fl_err *err)
{
    const json_t *v = json_object_get(spec, key);
    struct pkt_group *g;
    int r;

    if (v == NULL)
        return required ? fl_errf(err, -EINVAL, "missing key '%s'", key) : 0;
    if (p->ng >= MAX_GROUPS)
        return fl_errf(err, -E2BIG, "too many address groups");
    g = &p->g[p->ng];
    r = inj_json_cidrs(v, key, false, &g->c, &g->n, err);
    if (r < 0)
        return r;
    p->ng++;
    if (inj_fault_add_cidrs(f, g->c, g->n) < 0)
        return fl_errf(err, -ENOMEM, "out of memory");
    return 0;
}

static int partition_parse(struct inj_fault *f, const json_t *spec, struct fl_err *err)
{
    static const char *const keys[] = {"kind", "mode", "groups", "exempt", NULL};
    struct pkt_priv *p;
    const json_t *groups, *g;
    size_t i, j, k, l;
    int r;

    if ((r = inj_kind_params(f, spec, keys, sizeof(*p), err)) < 0)
        return r;
    p = f->priv;
    if ((r = parse_mode(spec, p, err)) < 0)
        return r;
    groups = json_object_get(spec, "groups");
    if (groups == NULL)
        return fl_errf(err, -EINVAL, "missing key 'groups'");
    if (!json_is_array(groups) || json_array_size(groups) < 2)
        return fl_errf(err, -EINVAL, "'groups' must be a list of at least two CIDR lists");
    if (json_array_size(groups) > MAX_GROUPS)
        return fl_errf(err, -E2BIG, "'groups' has more than %d groups", MAX_GROUPS);
    json_array_foreach(groups, i, g)
    {
        char what[32];

        snprintf(what, sizeof(what), "groups[%zu]", i);
        r = inj_json_cidrs(g, what, false, &p->g[p->ng].c, &p->g[p->ng].n, err);
        if (r < 0)
            return r;
        r = inj_fault_add_cidrs(f, p->g[p->ng].c, p->g[p->ng].n);
        p->ng++;
        if (r < 0)
            return fl_errf(err, r, "out of memory");
    }
    /* Overlapping groups make no sense: a host cannot be on both sides. */
    for (i = 0; i < p->ng; i++)
        for (j = i + 1; j < p->ng; j++)
            for (k = 0; k < p->g[i].n; k++)
                for (l = 0; l < p->g[j].n; l++)
                    if (fl_cidr_overlaps(&p->g[i].c[k], &p->g[j].c[l])) {
                        char a[64], b[64];

                        return fl_errf(err, -EINVAL, "groups[%zu] %s overlaps groups[%zu] %s", i,
                                       fl_cidr_format(&p->g[i].c[k], a, sizeof(a)), j,
                                       fl_cidr_format(&p->g[j].c[l], b, sizeof(b)));
                    }
    return 0;
}

static int one_way_parse(struct inj_fault *f, const json_t *spec, struct fl_err *err)
{
    static const char *const keys[] = {"kind", "mode", "from", "to", "exempt", NULL};
    struct pkt_priv *p;
    int r;

    if ((r = inj_kind_params(f, spec, keys, sizeof(*p), err)) < 0)
        return r;
    p = f->priv;
    if ((r = parse_mode(spec, p, err)) < 0)
        return r;
    if ((r = group_member(f, p, spec, "from", true, err)) < 0)
        return r;
    return group_member(f, p, spec, "to", true, err);
}

static int isolate_parse(struct inj_fault *f, const json_t *spec, struct fl_err *err)
{
    static const char *const keys[] = {"kind", "mode", "cidrs", "exempt", NULL};
    struct pkt_priv *p;
    int r;

    if ((r = inj_kind_params(f, spec, keys, sizeof(*p), err)) < 0)
        return r;
    p = f->priv;
    if ((r = parse_mode(spec, p, err)) < 0)
        return r;
    return group_member(f, p, spec, "cidrs", true, err);
}

static int loss_parse(struct inj_fault *f, const json_t *spec, struct fl_err *err)
{
    static const char *const keys[] = {"kind", "percent", "from", "to", "exempt", NULL};
    struct pkt_priv *p;
    int r;

    if ((r = inj_kind_params(f, spec, keys, sizeof(*p), err)) < 0)
        return r;
    p = f->priv;
    if ((r = inj_json_number(spec, "percent", true, 0.01, 100.0, &p->percent, err)) < 0)
        return r;
    p->has_from = json_object_get(spec, "from") != NULL;
    if ((r = group_member(f, p, spec, "from", false, err)) < 0)
        return r;
    p->has_to = json_object_get(spec, "to") != NULL;
    return group_member(f, p, spec, "to", false, err);
}

/* ---- plans -------------------------------------------------------------- */

/* Add a set for group cidrs of one family if it has any; returns index or -1. */
static int plan_set(struct nftp_plan *pl, const char *id, const char *tag, int family,
                    const struct fl_cidr *c, size_t n, const struct fl_cidr *c2, size_t n2)
{
    struct nftp_set *s;
    size_t i;
    bool any = false;

    for (i = 0; i < n && !any; i++)
        any = c[i].family == family;
    for (i = 0; i < n2 && !any; i++)
        any = c2[i].family == family;
    if (!any || pl->nsets >= NFTP_MAX_SETS)
        return -1;
    s = &pl->sets[pl->nsets];
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s_%s_%d", id, tag, family == AF_INET6 ? 6 : 4);
    s->family = family;
    s->cidrs[0] = c;
    s->n[0] = n;
    s->cidrs[1] = c2;
    s->n[1] = n2;
    return (int)pl->nsets++;
}

static struct nftp_rule *plan_rule(struct nftp_plan *pl, int family)
{
    struct nftp_rule *r;

    if (pl->nrules >= NFTP_MAX_RULES)
        return NULL;
    r = &pl->rules[pl->nrules++];
    memset(r, 0, sizeof(*r));
    r->family = family;
    r->saddr_set = r->daddr_set = -1;
    return r;
}

/*
 * A drop/reject action: for reject, two rules (TCP gets a reset, everything
 * else an ICMP port unreachable) with the same matches. The run loop puts a
 * partition on both sides, so the partner's rule sees the answers to what
 * this host sent: reject rules let exactly those answers (TCP RST, ICMP and
 * ICMPv6 destination unreachable) through, or a symmetric reject would eat
 * its own resets and behave as drop. Data never passes.
 */
static void plan_action(struct nftp_plan *pl, int family, enum pkt_mode mode, int sset, bool sneg,
                        int dset, bool dneg, uint32_t per10k)
{
    struct nftp_rule *r;
    int passes = mode == PKT_REJECT ? 2 : 1, i;

    for (i = 0; i < passes; i++) {
        r = plan_rule(pl, family);
        if (r == NULL)
            return;
        r->saddr_set = sset;
        r->saddr_neg = sneg;
        r->daddr_set = dset;
        r->daddr_neg = dneg;
        r->per10k = per10k;
        r->counter = true;
        if (mode == PKT_DROP)
            r->verdict = NFTP_DROP;
        else if (i == 0) {
            r->tcp_only = true;
            r->pass_answers = true;
            r->verdict = NFTP_REJECT_TCP;
        } else {
            r->pass_answers = true;
            r->verdict = NFTP_REJECT_ICMPX;
        }
    }
}

static int build_plan(struct inj_ctx *ctx, const char *id, const struct inj_fault *f,
                      struct nftp_plan *pl)
{
    static const int fams[] = {AF_INET, AF_INET6};
    const struct pkt_priv *p = f->priv;
    size_t fi, i, j;

    memset(pl, 0, sizeof(*pl));
    snprintf(pl->chain, sizeof(pl->chain), "%s", id);
    for (fi = 0; fi < 2; fi++) {
        int fam = fams[fi], x, gs[MAX_GROUPS];
        struct nftp_rule *r;

        x = plan_set(pl, id, "x", fam, ctx->exempt, ctx->n_exempt, f->exempt, f->n_exempt);
        if (x >= 0) {
            r = plan_rule(pl, fam);
            if (r == NULL)
                return -E2BIG;
            r->saddr_set = x;
            r->verdict = NFTP_ACCEPT;
        }
        for (i = 0; i < p->ng; i++) {
            char tag[24];

            snprintf(tag, sizeof(tag), "g%zu", i);
            gs[i] = plan_set(pl, id, tag, fam, p->g[i].c, p->g[i].n, NULL, 0);
        }
        if (f->kind == &inj_kind_partition) {
            for (i = 0; i < p->ng; i++)
                for (j = 0; j < p->ng; j++)
                    if (i != j && gs[i] >= 0 && gs[j] >= 0)
                        plan_action(pl, fam, p->mode, gs[i], false, gs[j], false, 0);
        } else if (f->kind == &inj_kind_one_way) {
            if (gs[0] >= 0 && gs[1] >= 0)
                plan_action(pl, fam, p->mode, gs[0], false, gs[1], false, 0);
        } else if (f->kind == &inj_kind_isolate) {
            if (gs[0] >= 0) {
                /* Into the cut set from outside it, and out of it to the outside. */
                plan_action(pl, fam, p->mode, gs[0], true, gs[0], false, 0);
                plan_action(pl, fam, p->mode, gs[0], false, gs[0], true, 0);
            }
        } else if (f->kind == &inj_kind_loss) {
            int from = p->has_from ? gs[0] : -1;
            int to = p->has_to ? gs[p->has_from ? 1 : 0] : -1;
            uint32_t per10k = (uint32_t)(p->percent * 100.0 + 0.5);

            if ((p->has_from && from < 0) || (p->has_to && to < 0))
                continue; /* scope names no address of this family */
            plan_action(pl, fam, PKT_DROP, from, false, to, false, per10k);
            r = &pl->rules[pl->nrules - 1];
            r->skip_lo = !p->has_from && !p->has_to;
        }
    }
    if (pl->nrules >= NFTP_MAX_RULES)
        return -E2BIG;
    return 0;
}

/*
 * Is name one of the sets build_plan makes for fault id: "<id>_x_<4|6>" or
 * "<id>_g<N>_<4|6>"? Ids may contain '_', so a prefix match alone would take
 * the sets of fault "<id>_g0" too; the rest after "<id>_" holds exactly one '_'
 * here, and at least two in any set of a longer id.
 */
static bool own_set_name(const char *id, const char *name)
{
    size_t n = strlen(id);
    const char *t;

    if (strncmp(name, id, n) != 0 || name[n] != '_')
        return false;
    t = name + n + 1;
    if (*t == 'x') {
        t++;
    } else if (*t == 'g' && t[1] >= '0' && t[1] <= '9') {
        for (t++; *t >= '0' && *t <= '9'; t++)
            ;
    } else {
        return false;
    }
    return t[0] == '_' && (t[1] == '4' || t[1] == '6') && t[2] == '\0';
}

/* Is name in the journal's set list (undo "sets", an array of strings)? */
static bool journaled_set(const json_t *sets, const char *name)
{
    size_t i;
    json_t *v;

    json_array_foreach(sets, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
            return true;
    }
    return false;
}

/*
 * Delete the objects of fault id, whether or not the journal knows them.
 * The sets deleted are those in the kernel that the journal lists (undo
 * "sets", recorded at apply), or, without that list (no journal, or one
 * written before it was recorded), those named exactly as build_plan names
 * them. Never another fault's set.
 */
static int delete_objects(struct inj_ctx *ctx, const char *id, const json_t *undo,
                          struct fl_err *err)
{
    const json_t *jsets = undo != NULL ? json_object_get(undo, "sets") : NULL;
    struct nftp_batch b;
    char prefix[INJ_ID_MAX + 2], **sets = NULL;
    size_t nsets = 0, i, keep = 0;
    int r;

    if (!json_is_array(jsets))
        jsets = NULL;
    snprintf(prefix, sizeof(prefix), "%s_", id);
    r = inj_nft_sets_with_prefix(ctx, prefix, &sets, &nsets);
    if (r < 0)
        return fl_errf(err, r, "listing nf_tables sets: %s", strerror(-r));
    for (i = 0; i < nsets; i++) {
        bool mine = sets[i] != NULL &&
                    (jsets != NULL ? journaled_set(jsets, sets[i]) : own_set_name(id, sets[i]));

        if (mine)
            sets[keep++] = sets[i];
        else
            free(sets[i]);
    }
    nsets = keep;
    nftp_batch_init(&b, ctx->seq);
    r = nftp_build_delete(&b, id, sets, nsets, err);
    if (r == 0)
        r = nftp_build_end(&b);
    if (r == 0)
        r = inj_nft_send(ctx, &b, "removing nf_tables objects", err);
    ctx->seq = b.seq;
    nftp_batch_free(&b);
    for (i = 0; i < nsets; i++)
        free(sets[i]);
    free(sets);
    return r;
}

/* Record the plan's set names in undo: revert deletes exactly these. */
static int record_sets(const struct nftp_plan *pl, json_t *undo)
{
    json_t *a = json_array();
    size_t i;

    if (a == NULL)
        return -ENOMEM;
    for (i = 0; i < pl->nsets; i++)
        if (json_array_append_new(a, json_string(pl->sets[i].name)) < 0) {
            json_decref(a);
            return -ENOMEM;
        }
    return json_object_set_new(undo, "sets", a) < 0 ? -ENOMEM : 0;
}

int inj_packet_plan(struct inj_ctx *ctx, const char *id, const struct inj_fault *f,
                    struct nftp_plan *pl)
{
    return build_plan(ctx, id, f, pl);
}

static int pkt_apply(struct inj_ctx *ctx, const char *id, const struct inj_fault *f, json_t *undo,
                     struct fl_err *err)
{
    struct nftp_plan *pl;
    struct nftp_batch b;
    int r, attempt;

    pl = malloc(sizeof(*pl));
    if (pl == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    r = build_plan(ctx, id, f, pl);
    if (r < 0) {
        free(pl);
        return fl_errf(err, r, "fault needs more nf_tables rules than faultline allows");
    }
    if (undo != NULL && record_sets(pl, undo) < 0) {
        free(pl);
        return fl_errf(err, -ENOMEM, "out of memory");
    }
    for (attempt = 0; attempt < 2; attempt++) {
        struct fl_err e2;

        fl_err_clear(&e2);
        nftp_batch_init(&b, ctx->seq);
        r = nftp_build_apply(&b, pl, &e2);
        if (r == 0)
            r = nftp_build_end(&b);
        if (r == 0)
            r = inj_nft_send(ctx, &b, "applying nf_tables batch", &e2);
        ctx->seq = b.seq;
        nftp_batch_free(&b);
        /* A leftover chain of the same id without a journal: remove, retry once. */
        if (r == -EEXIST && attempt == 0) {
            if (delete_objects(ctx, id, NULL, err) == 0)
                continue;
        }
        if (r < 0)
            fl_errf(err, r, "%s", e2.msg);
        break;
    }
    free(pl);
    return r;
}

/* Delete table inet faultline and everything in it; -ENOENT if absent. */
static int delete_table(struct inj_ctx *ctx, const char *what, struct fl_err *err)
{
    struct nftp_batch b;
    int r;

    nftp_batch_init(&b, ctx->seq);
    r = nftp_build_table(&b, INJ_NFT_TABLE, true, err);
    if (r == 0)
        r = nftp_build_end(&b);
    if (r == 0)
        r = inj_nft_send(ctx, &b, what, err);
    ctx->seq = b.seq;
    nftp_batch_free(&b);
    return r;
}

static int pkt_revert(struct inj_ctx *ctx, const char *id, const json_t *spec, const json_t *undo,
                      struct fl_err *err)
{
    int r;

    (void)spec;
    /* The last packet fault: deleting the table removes everything at once. */
    if (inj_ctx_count_needing(ctx, INJ_CAP_NFTABLES, id) == 0)
        r = delete_table(ctx, "removing table inet faultline", err);
    else
        r = delete_objects(ctx, id, undo, err);
    if (r == -ENOENT) {
        fl_err_clear(err);
        return 1;
    }
    return r;
}

static int pkt_sweep(struct inj_ctx *ctx, struct fl_err *err)
{
    int r = delete_table(ctx, "sweeping table inet faultline", err);

    if (r == -ENOENT) {
        fl_err_clear(err);
        return 0;
    }
    return r;
}

static int pkt_evidence(struct inj_ctx *ctx, const char *id, json_t *obj)
{
    uint64_t pk = 0, by = 0;
    int r = inj_nft_chain_counters(ctx, id, &pk, &by);

    json_object_set_new(obj, "packets", json_integer((json_int_t)pk));
    json_object_set_new(obj, "bytes", json_integer((json_int_t)by));
    json_object_set_new(obj, "present", json_boolean(r == 0));
    return r;
}

/* The fault's base chain exists with its rules: the plan always has at least one. */
static int pkt_present(struct inj_ctx *ctx, const char *id, const json_t *spec, const json_t *undo)
{
    uint64_t pk = 0, by = 0;
    int r = inj_nft_chain_counters(ctx, id, &pk, &by);

    (void)spec;
    (void)undo;
    if (r == -ENOENT)
        return 0;
    return r < 0 ? r : 1;
}

static size_t total_cidrs(const struct pkt_priv *p)
{
    size_t i, n = 0;

    for (i = 0; i < p->ng; i++)
        n += p->g[i].n;
    return n;
}

static void partition_describe(const struct inj_fault *f, char *buf, size_t len)
{
    const struct pkt_priv *p = f->priv;

    snprintf(buf, len, "partition %s: %zu groups (%zu CIDRs) cannot reach each other",
             p->mode == PKT_DROP ? "drop" : "reject", p->ng, total_cidrs(p));
}

static void one_way_describe(const struct inj_fault *f, char *buf, size_t len)
{
    const struct pkt_priv *p = f->priv;
    char a[64], b[64];

    snprintf(buf, len, "one-way %s: %s%s -> %s%s dropped, reverse flows",
             p->mode == PKT_DROP ? "drop" : "reject", fl_cidr_format(&p->g[0].c[0], a, sizeof(a)),
             p->g[0].n > 1 ? ",..." : "", fl_cidr_format(&p->g[1].c[0], b, sizeof(b)),
             p->g[1].n > 1 ? ",..." : "");
}

static void isolate_describe(const struct inj_fault *f, char *buf, size_t len)
{
    const struct pkt_priv *p = f->priv;

    snprintf(buf, len, "isolate %s: %zu CIDRs cut from everything but the control network",
             p->mode == PKT_DROP ? "drop" : "reject", p->g[0].n);
}

static void loss_describe(const struct inj_fault *f, char *buf, size_t len)
{
    const struct pkt_priv *p = f->priv;

    snprintf(buf, len, "loss %.2f%% of inbound packets%s", p->percent, p->ng ? " (scoped)" : "");
}

#define PACKET_KIND(sym, kname, summ, parsefn, descfn) \
    const struct inj_kind sym = {                      \
        .name = kname,                                 \
        .needs = INJ_CAP_NFTABLES,                     \
        .summary = summ,                               \
        .parse = parsefn,                              \
        .free = pkt_free,                              \
        .apply = pkt_apply,                            \
        .revert = pkt_revert,                          \
        .describe = descfn,                            \
        .sweep = pkt_sweep,                            \
        .evidence = pkt_evidence,                      \
        .present = pkt_present,                        \
    }

PACKET_KIND(inj_kind_partition, "partition",
            "{groups:[[CIDR..],[CIDR..]..], mode: drop|reject} groups cannot reach each other",
            partition_parse, partition_describe);
PACKET_KIND(inj_kind_one_way, "one-way",
            "{from:[CIDR..], to:[CIDR..], mode} traffic from -> to dropped, to -> from flows",
            one_way_parse, one_way_describe);
PACKET_KIND(inj_kind_isolate, "isolate",
            "{cidrs:[CIDR..], mode} cut from everything but the control network", isolate_parse,
            isolate_describe);
PACKET_KIND(inj_kind_loss, "loss", "{percent: P, from?:[CIDR..], to?:[CIDR..]} random packet loss",
            loss_parse, loss_describe);
