/*
 * refstore configuration: the experiment's target section as JSON (preset,
 * primary, replication, lag, failover_after, consistency, writes, priority,
 * auto_failover, zone_redundant, bugs, heartbeat...), the two presets'
 * operation tables (named as the source documents name them), and the
 * --peer argument syntax. Durations are strings ("500ms") or milliseconds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/err.h"
#include "faultline/refstore_bugs.h"
#include "faultline/timeutil.h"
#include "refstore.h"

/*
 * Key-vault operations. ro_ok marks exactly the seed's read-only set: list
 * vaults, get vault, list secrets, get secret, list keys, get key, encrypt,
 * decrypt, wrap, unwrap, verify, sign, backup. Everything else is refused
 * during failover. Both presets add "cas" (compare-and-set), a write.
 */
static const struct rs_opdef kv_ops[] = {
    {"list-vaults", false, true, RS_K_META},
    {"get-vault", false, true, RS_K_META},
    {"list-secrets", false, true, RS_K_LIST},
    {"get-secret", false, true, RS_K_GET},
    {"set-secret", true, false, RS_K_PUT},
    {"update-secret", true, false, RS_K_PUT},
    {"delete-secret", true, false, RS_K_DEL},
    {"purge-secret", true, false, RS_K_DEL},
    {"recover-secret", true, false, RS_K_PUT},
    {"list-keys", false, true, RS_K_LIST},
    {"get-key", false, true, RS_K_GET},
    {"create-key", true, false, RS_K_PUT},
    {"import-key", true, false, RS_K_PUT},
    {"update-key", true, false, RS_K_PUT},
    {"delete-key", true, false, RS_K_DEL},
    {"purge-key", true, false, RS_K_DEL},
    {"encrypt", false, true, RS_K_CRYPTO},
    {"decrypt", false, true, RS_K_CRYPTO},
    {"wrap", false, true, RS_K_CRYPTO},
    {"unwrap", false, true, RS_K_CRYPTO},
    {"sign", false, true, RS_K_CRYPTO},
    {"verify", false, true, RS_K_CRYPTO},
    {"backup", false, true, RS_K_GET},
    {"restore", true, false, RS_K_PUT},
    {"cas", true, false, RS_K_CAS},
};

/* Cosmos-like document operations. */
static const struct rs_opdef cosmos_ops[] = {
    {"read", false, true, RS_K_GET},       {"query", false, true, RS_K_LIST},
    {"read-feed", false, true, RS_K_LIST}, {"create", true, false, RS_K_PUT},
    {"upsert", true, false, RS_K_PUT},     {"replace", true, false, RS_K_PUT},
    {"patch", true, false, RS_K_PUT},      {"delete", true, false, RS_K_DEL},
    {"cas", true, false, RS_K_CAS},        {"failover", false, false, RS_K_ADMIN},
};

/* Bug names: faultline/refstore_bugs.h (bit i is fl_refstore_bugs[i]). */

static const char *const cons_names[] = {"strong", "bounded", "session", "prefix", "eventual"};

const char *rs_preset_name(enum rs_preset p)
{
    return p == RS_KEY_VAULT ? "key-vault" : "cosmos";
}

const char *rs_consistency_name(enum rs_consistency c)
{
    return cons_names[c];
}

const struct rs_opdef *rs_config_op(const struct rs_config *c, const char *name, int *idx)
{
    int i;

    for (i = 0; i < c->nops; i++) {
        if (strcmp(c->ops[i].name, name) == 0) {
            if (idx)
                *idx = i;
            return &c->ops[i];
        }
    }
    return NULL;
}

/* A duration field: "500ms" or a number of milliseconds. Absent keeps *ns. */
static int get_duration(json_t *o, const char *key, int64_t *ns, struct fl_err *err)
{
    json_t *v = json_object_get(o, key);

    if (!v)
        return 0;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *ns = (int64_t)json_integer_value(v) * 1000000;
        return 0;
    }
    if (json_is_string(v)) {
        int r = fl_duration_parse(json_string_value(v), ns, err);
        if (r < 0)
            fl_err_prefix(err, "target.%s: ", key);
        return r;
    }
    return fl_errf(err, -EINVAL, "target.%s: expected a duration like \"500ms\"", key);
}

static int get_bool(json_t *o, const char *key, bool *b, struct fl_err *err)
{
    json_t *v = json_object_get(o, key);

    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return fl_errf(err, -EINVAL, "target.%s: expected true or false", key);
    *b = json_is_true(v);
    return 0;
}

static int get_name(json_t *o, const char *key, char *dst, struct fl_err *err)
{
    json_t *v = json_object_get(o, key);

    if (!v)
        return 0;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= RS_NAME_MAX)
        return fl_errf(err, -EINVAL, "target.%s: expected a non-empty name", key);
    snprintf(dst, RS_NAME_MAX, "%s", json_string_value(v));
    return 0;
}

static int parse_bugs(json_t *o, struct rs_config *c, struct fl_err *err)
{
    json_t *v = json_object_get(o, "bugs"), *b;
    size_t i, j;

    if (!v)
        return 0;
    if (!json_is_array(v))
        return fl_errf(err, -EINVAL, "target.bugs: expected a list");
    json_array_foreach(v, i, b)
    {
        const char *s = json_string_value(b);
        bool found = false;

        for (j = 0; s && j < FL_REFSTORE_NBUGS; j++) {
            if (strcmp(s, fl_refstore_bugs[j]) == 0) {
                c->bugs |= 1u << j;
                found = true;
            }
        }
        if (!found) {
            char list[256] = "";

            for (j = 0; j < FL_REFSTORE_NBUGS; j++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", j ? ", " : "",
                         fl_refstore_bugs[j]);
            return fl_errf(err, -EINVAL, "target.bugs[%zu]: unknown bug '%s' (expected %s)", i,
                           s ? s : "?", list);
        }
    }
    return 0;
}

static int parse_read_only(json_t *o, struct rs_config *c, struct fl_err *err)
{
    json_t *v = json_object_get(o, "read_only"), *b;
    size_t i;
    int idx;

    c->ro_mask = 0;
    if (!v) {
        for (idx = 0; idx < c->nops; idx++)
            if (c->ops[idx].ro_ok)
                c->ro_mask |= 1ull << idx;
        return 0;
    }
    if (!json_is_array(v))
        return fl_errf(err, -EINVAL, "target.read_only: expected a list of operations");
    json_array_foreach(v, i, b)
    {
        const char *s = json_string_value(b);

        if (!s || !rs_config_op(c, s, &idx))
            return fl_errf(err, -EINVAL, "target.read_only[%zu]: unknown operation '%s'", i,
                           s ? s : "?");
        c->ro_mask |= 1ull << idx;
    }
    return 0;
}

static int parse_obj(json_t *o, struct rs_config *c, struct fl_err *err)
{
    json_t *v;
    const char *s;
    int r = 0;
    size_t i;

    if (!json_is_object(o))
        return fl_errf(err, -EINVAL, "target: expected an object");
    s = json_string_value(json_object_get(o, "preset"));
    if (!s || strcmp(s, "key-vault") == 0) {
        c->preset = RS_KEY_VAULT;
        c->ops = kv_ops;
        c->nops = (int)(sizeof(kv_ops) / sizeof(kv_ops[0]));
    } else if (strcmp(s, "cosmos") == 0) {
        c->preset = RS_COSMOS;
        c->ops = cosmos_ops;
        c->nops = (int)(sizeof(cosmos_ops) / sizeof(cosmos_ops[0]));
    } else {
        return fl_errf(err, -EINVAL, "target.preset: expected key-vault or cosmos, not '%s'", s);
    }
    if ((r = get_name(o, "primary", c->primary, err)) < 0)
        return r;
    s = json_string_value(json_object_get(o, "replication"));
    if (s && strcmp(s, "sync") == 0)
        c->sync = true;
    else if (s && strcmp(s, "async") == 0)
        c->sync = false;
    else if (s)
        return fl_errf(err, -EINVAL, "target.replication: expected sync or async");
    s = json_string_value(json_object_get(o, "consistency"));
    if (s) {
        for (i = 0; i < 5; i++)
            if (strcmp(s, cons_names[i]) == 0)
                break;
        if (i == 5)
            return fl_errf(err, -EINVAL,
                           "target.consistency: expected strong, bounded, session, prefix or "
                           "eventual, not '%s'",
                           s);
        c->consistency = (enum rs_consistency)i;
    }
    s = json_string_value(json_object_get(o, "writes"));
    if (s && strcmp(s, "multi") == 0)
        c->multi_write = true;
    else if (s && strcmp(s, "single") != 0)
        return fl_errf(err, -EINVAL, "target.writes: expected single or multi");
    if ((r = get_duration(o, "lag", &c->lag_ns, err)) < 0 ||
        (r = get_duration(o, "failover_after", &c->failover_after_ns, err)) < 0 ||
        (r = get_duration(o, "heartbeat", &c->heartbeat_ns, err)) < 0 ||
        (r = get_duration(o, "ack_timeout", &c->ack_timeout_ns, err)) < 0 ||
        (r = get_duration(o, "forward_timeout", &c->forward_timeout_ns, err)) < 0 ||
        (r = get_bool(o, "auto_failover", &c->auto_failover, err)) < 0 ||
        (r = get_bool(o, "auto_failback", &c->auto_failback, err)) < 0 ||
        (r = get_bool(o, "zone_redundant", &c->zone_redundant, err)) < 0)
        return r;
    if ((v = json_object_get(o, "bounded")) != NULL) {
        json_t *k = json_object_get(v, "versions");

        if (k && (!json_is_integer(k) || json_integer_value(k) < 1))
            return fl_errf(err, -EINVAL, "target.bounded.versions: expected a positive integer");
        if (k)
            c->bounded_versions = (uint64_t)json_integer_value(k);
        if ((r = get_duration(v, "time", &c->bounded_ns, err)) < 0)
            return r;
    }
    if ((v = json_object_get(o, "priority")) != NULL) {
        json_t *p;

        if (!json_is_array(v) || json_array_size(v) > RS_MAX_REGIONS)
            return fl_errf(err, -EINVAL, "target.priority: expected a list of regions");
        json_array_foreach(v, i, p)
        {
            if (!json_is_string(p) || json_string_length(p) >= RS_NAME_MAX)
                return fl_errf(err, -EINVAL, "target.priority[%zu]: expected a region name", i);
            snprintf(c->priority[i], RS_NAME_MAX, "%s", json_string_value(p));
        }
        c->npriority = (int)json_array_size(v);
    }
    if ((v = json_object_get(o, "lose_every")) != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 1)
            return fl_errf(err, -EINVAL, "target.lose_every: expected a positive integer");
        c->lose_every = (int)json_integer_value(v);
    }
    if ((v = json_object_get(o, "slow_factor")) != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 2)
            return fl_errf(err, -EINVAL, "target.slow_factor: expected an integer >= 2");
        c->slow_factor = (int)json_integer_value(v);
    }
    if ((r = parse_bugs(o, c, err)) < 0)
        return r;
    if ((r = parse_read_only(o, c, err)) < 0)
        return r;
    if (c->primary[0] == '\0' && c->npriority > 0)
        snprintf(c->primary, RS_NAME_MAX, "%s", c->priority[0]);
    if (c->primary[0] == '\0')
        return fl_errf(err, -EINVAL, "target.primary: required (the primary / write region)");
    if (c->npriority == 0) {
        snprintf(c->priority[0], RS_NAME_MAX, "%s", c->primary);
        c->npriority = 1;
    }
    if (c->heartbeat_ns <= 0 || c->failover_after_ns <= c->heartbeat_ns)
        return fl_errf(err, -EINVAL, "target: failover_after must be longer than heartbeat");
    return 0;
}

int rs_config_parse(const char *text, struct rs_config *c, struct fl_err *err)
{
    json_error_t je;
    json_t *o;
    int r;

    memset(c, 0, sizeof(*c));
    c->sync = false;
    c->lag_ns = 100 * 1000000LL;
    c->failover_after_ns = 5000 * 1000000LL;
    c->heartbeat_ns = 200 * 1000000LL;
    c->ack_timeout_ns = 2000 * 1000000LL;
    c->forward_timeout_ns = 1500 * 1000000LL;
    c->consistency = RS_SESSION;
    c->bounded_versions = 100000;
    c->bounded_ns = 300 * 1000000000LL;
    c->auto_failover = true;
    c->auto_failback = true;
    c->lose_every = 4;
    c->slow_factor = 10;
    if (!text)
        text = "{}";
    if (text[0] == '@')
        o = json_load_file(text + 1, 0, &je);
    else
        o = json_loads(text, 0, &je);
    if (!o)
        return fl_errf(err, -EINVAL, "config %s:%d:%d: %s", text[0] == '@' ? text + 1 : "(arg)",
                       je.line, je.column, je.text);
    r = parse_obj(o, c, err);
    json_decref(o);
    return r;
}

int rs_peer_parse(const char *s, struct rs_peer_addr *p, struct fl_err *err)
{
    const char *eq = strchr(s, '='), *sl, *at;

    memset(p, 0, sizeof(*p));
    if (!eq || !(sl = strchr(eq, '/')) || !(at = strchr(sl, '@')))
        return fl_errf(err, -EINVAL, "--peer '%s': expected NAME=REGION/ZONE@http://ADDR:PORT", s);
    if (eq == s || eq - s >= RS_NAME_MAX || sl - eq - 1 <= 0 || sl - eq - 1 >= RS_NAME_MAX ||
        at - sl - 1 <= 0 || at - sl - 1 >= RS_NAME_MAX || strlen(at + 1) >= RS_URL_MAX ||
        strncmp(at + 1, "http://", 7) != 0)
        return fl_errf(err, -EINVAL, "--peer '%s': expected NAME=REGION/ZONE@http://ADDR:PORT", s);
    memcpy(p->name, s, (size_t)(eq - s));
    memcpy(p->region, eq + 1, (size_t)(sl - eq - 1));
    memcpy(p->zone, sl + 1, (size_t)(at - sl - 1));
    snprintf(p->url, sizeof(p->url), "%s", at + 1);
    while (p->url[0] && p->url[strlen(p->url) - 1] == '/')
        p->url[strlen(p->url) - 1] = '\0';
    return 0;
}
