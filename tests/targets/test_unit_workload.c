/*
 * The workload engine against real refstore replicas on loopback: the
 * achieved rate stays within 5% of the offered rate against a fast target; a
 * timeout is recorded as info; preferred routing moves to the next region and
 * back; the history is valid JSONL with monotonic times per client, unique
 * write values per key, and final reads of every written key. The set model
 * and compare-and-set against an in-process store (the engine's own logic):
 * set writes add unique elements and final reads see all of them; a cas
 * expects what its client last saw; a set mix with a delete or cas is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <errno.h>

#include <curl/curl.h>

#include "faultline/err.h"
#include "faultline/workload.h"
#include "rs_helper.h"
#include "testutil.h"

static struct rsh_node nodes[4];
static int nn;

static void add(const char *id, const char *region)
{
    struct rsh_node *n = &nodes[nn++];

    memset(n, 0, sizeof(*n));
    n->id = id;
    n->region = region;
    n->zone = "z1";
    snprintf(n->addr, sizeof(n->addr), "127.0.0.1");
    n->port = rsh_free_port();
}

static int teardown(void **state)
{
    int i;

    for (i = 0; i < nn; i++)
        rsh_stop(&nodes[i]);
    nn = 0;
    return 0;
}

static void endpoint(struct wl_config *c, int i)
{
    char url[128];

    snprintf(url, sizeof(url), "http://%s:%d", nodes[i].addr, nodes[i].port);
    assert_int_equal(wl_config_add_endpoint(c, nodes[i].region, url, NULL), 0);
}

static void kv_single(void)
{
    add("west-z1-h1", "west");
    assert_int_equal(rsh_start_all(nodes, nn,
                                   "{\"preset\":\"key-vault\",\"primary\":\"west\","
                                   "\"failover_after\":\"1s\",\"heartbeat\":\"100ms\"}"),
                     0);
}

static void workload_should_achieve_offered_rate_against_fast_target(void **state)
{
    struct wl_config c;
    struct wl_stats s;
    struct hist h;
    struct fl_err err = {0};

    kv_single();
    wl_config_init(&c);
    c.clients = 4;
    c.rate = 2000;
    c.duration_ns = 2000000000LL;
    c.keys = 50;
    c.timeout_ns = 500000000LL;
    wl_config_add_mix(&c, "get-secret", 50, NULL);
    wl_config_add_mix(&c, "set-secret", 40, NULL);
    wl_config_add_mix(&c, "list-secrets", 10, NULL);
    endpoint(&c, 0);
    assert_int_equal(hist_init(&h), 0);
    assert_int_equal(wl_run(&c, &fl_driver_refstore, &h, &s, NULL, NULL, NULL, &err), 0);
    printf("offered %.1f/s achieved %.1f/s issued %" PRIu64 " missed %" PRIu64 " late %" PRIu64
           " max lag %.2f ms ok %" PRIu64 "\n",
           s.offered_rate, s.achieved_rate, s.issued, s.missed, s.late, s.max_lag_ns / 1e6, s.ok);
    assert_true(fabs(s.offered_rate - 2000) / 2000 < 0.05);
    assert_true(fabs(s.achieved_rate - 2000) / 2000 < 0.05);
    assert_int_equal(s.ok, s.issued);
    assert_int_equal(h.n, s.issued);
    hist_free(&h);
}

static void workload_should_record_timeout_as_info(void **state)
{
    struct wl_config c;
    struct wl_stats s;
    struct hist h;
    size_t i;

    kv_single();
    rsh_pause(&nodes[0]); /* accepts connections (kernel) but never answers */
    wl_config_init(&c);
    c.clients = 2;
    c.rate = 20;
    c.duration_ns = 1000000000LL;
    c.timeout_ns = 150000000LL;
    wl_config_add_mix(&c, "set-secret", 1, NULL);
    endpoint(&c, 0);
    assert_int_equal(hist_init(&h), 0);
    assert_int_equal(wl_run(&c, &fl_driver_refstore, &h, &s, NULL, NULL, NULL, NULL), 0);
    rsh_resume(&nodes[0]);
    assert_true(h.n >= 5);
    for (i = 0; i < h.n; i++) {
        assert_int_equal(h.ops[i].outcome, HIST_INFO);
        assert_string_equal(h.errors.s[h.ops[i].error], "timeout");
        assert_true(h.ops[i].complete_ns - h.ops[i].invoke_ns >= 140000000LL);
        assert_true(h.ops[i].value != 0); /* the value we tried to write is kept */
    }
    assert_int_equal(s.info, h.n);
    assert_int_equal(s.ok + s.fail, 0);
    hist_free(&h);
}

struct flap {
    int64_t pause_at_ms, resume_at_ms;
};

static void *flapper(void *arg)
{
    struct flap *f = arg;

    rsh_sleep_ms((int)f->pause_at_ms);
    rsh_pause(&nodes[0]);
    rsh_sleep_ms((int)(f->resume_at_ms - f->pause_at_ms));
    rsh_resume(&nodes[0]);
    return NULL;
}

static void routing_should_move_to_next_region_and_back(void **state)
{
    struct wl_config c;
    struct wl_stats s;
    struct hist h;
    struct flap f = {600, 1600};
    pthread_t t;
    size_t i;
    int64_t t0;
    int west_before = 0, north_during = 0, west_after = 0, north_after = 0;

    add("west-z1-h1", "west");
    add("north-z1-h1", "north");
    assert_int_equal(rsh_start_all(nodes, nn,
                                   "{\"preset\":\"cosmos\",\"writes\":\"multi\","
                                   "\"priority\":[\"west\",\"north\"],\"consistency\":\"eventual\","
                                   "\"failover_after\":\"1s\",\"heartbeat\":\"100ms\"}"),
                     0);
    wl_config_init(&c);
    c.clients = 2;
    c.rate = 100;
    c.duration_ns = 3000000000LL;
    c.timeout_ns = 200000000LL;
    c.retry_preferred_ns = 300000000LL;
    c.routing = WL_ROUTE_PREFERRED;
    snprintf(c.regions[0], FL_REGION_MAX, "west");
    snprintf(c.regions[1], FL_REGION_MAX, "north");
    c.nregions = 2;
    wl_config_add_mix(&c, "read", 1, NULL);
    wl_config_add_mix(&c, "upsert", 1, NULL);
    endpoint(&c, 1); /* endpoints listed in the "wrong" order: regions decide */
    endpoint(&c, 0);
    assert_int_equal(hist_init(&h), 0);
    t0 = rsh_now_ns();
    pthread_create(&t, NULL, flapper, &f);
    assert_int_equal(wl_run(&c, &fl_driver_refstore, &h, &s, NULL, NULL, NULL, NULL), 0);
    pthread_join(t, NULL);
    for (i = 0; i < h.n; i++) {
        const struct hist_op *o = &h.ops[i];
        int64_t at = (o->invoke_ns - t0) / 1000000;
        const char *reg = h.regions.s[o->region];

        if (o->outcome != HIST_OK)
            continue;
        if (at < 550 && strcmp(reg, "west") == 0)
            west_before++;
        if (at > 1000 && at < 1550 && strcmp(reg, "north") == 0)
            north_during++;
        if (at > 2300 && strcmp(reg, "west") == 0)
            west_after++;
        if (at > 2300 && strcmp(reg, "north") == 0)
            north_after++;
    }
    printf("west before %d, north during %d, west after %d, north after %d, moves %" PRIu64
           ", info %" PRIu64 "\n",
           west_before, north_during, west_after, north_after, s.region_moves, s.info);
    assert_true(west_before > 20);
    assert_true(north_during > 50);
    assert_true(west_after > 50);
    assert_int_equal(north_after, 0);
    assert_true(s.region_moves >= 4);
    hist_free(&h);
}

static void history_should_be_valid_jsonl_with_monotonic_times(void **state)
{
    struct wl_config c;
    struct wl_stats s;
    struct hist h;
    struct fl_err err = {0};
    FILE *f;
    char *line = NULL;
    size_t cap = 0, n = 0, finals = 0, writes = 0;
    int64_t last_invoke[8] = {0};
    json_t *values = json_object();
    int client;

    kv_single();
    wl_config_init(&c);
    c.clients = 4;
    c.rate = 400;
    c.duration_ns = 1000000000LL;
    c.keys = 20;
    /* get-vault first: a metadata read returns no value, so final reads must not use it */
    wl_config_add_mix(&c, "get-vault", 1, NULL);
    wl_config_add_mix(&c, "get-secret", 3, NULL);
    wl_config_add_mix(&c, "set-secret", 3, NULL);
    wl_config_add_mix(&c, "delete-secret", 1, NULL);
    wl_config_add_mix(&c, "encrypt", 1, NULL);
    endpoint(&c, 0);
    assert_int_equal(hist_init(&h), 0);
    assert_int_equal(wl_run(&c, &fl_driver_refstore, &h, &s, NULL, NULL, NULL, &err), 0);
    assert_int_equal(wl_final_reads(&c, &fl_driver_refstore, &h, &err), 0);
    f = tmpfile();
    assert_non_null(f);
    assert_int_equal(hist_write_jsonl(f, &h), 0);
    rewind(f);
    while (getline(&line, &cap, f) > 0) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        const char *outcome, *type;
        json_int_t inv, comp;

        assert_non_null(o);
        n++;
        assert_true(json_is_integer(json_object_get(o, "client")));
        assert_true(json_is_string(json_object_get(o, "op")));
        assert_true(json_is_string(json_object_get(o, "key")));
        assert_true(json_is_string(json_object_get(o, "region")));
        outcome = json_string_value(json_object_get(o, "outcome"));
        type = json_string_value(json_object_get(o, "type"));
        assert_non_null(outcome);
        assert_non_null(type);
        assert_true(strcmp(outcome, "ok") == 0 || strcmp(outcome, "fail") == 0 ||
                    strcmp(outcome, "info") == 0);
        inv = json_integer_value(json_object_get(o, "invoke_ns"));
        comp = json_integer_value(json_object_get(o, "complete_ns"));
        assert_true(inv > 0 && comp >= inv);
        client = (int)json_integer_value(json_object_get(o, "client"));
        assert_true(client >= 0 && client < 8);
        assert_true(inv >= last_invoke[client]); /* monotonic per client */
        last_invoke[client] = inv;
        if (json_is_true(json_object_get(o, "final"))) {
            finals++;
            assert_int_equal(client, 4);
            assert_string_equal(outcome, "ok");
            assert_string_equal(json_string_value(json_object_get(o, "op")), "get-secret");
        }
        if (strcmp(type, "write") == 0 &&
            strcmp(json_string_value(json_object_get(o, "op")), "set-secret") == 0) {
            char k[96];
            json_int_t v = json_integer_value(json_object_get(o, "value"));

            writes++;
            assert_true(v != 0);
            /* unique value per key */
            snprintf(k, sizeof(k), "%s/%" JSON_INTEGER_FORMAT,
                     json_string_value(json_object_get(o, "key")), v);
            assert_null(json_object_get(values, k));
            json_object_set_new(values, k, json_true());
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    json_decref(values);
    printf("%zu lines, %zu writes, %zu final reads\n", n, writes, finals);
    assert_int_equal(n, h.n);
    assert_true(writes > 50);
    assert_true(finals >= 1 && finals <= 20);
    hist_free(&h);
}

static void workload_should_reject_bad_config(void **state)
{
    struct wl_config c;
    struct fl_err err = {0};

    wl_config_init(&c);
    assert_true(wl_config_check(&c, &err) < 0); /* no mix */
    assert_true(wl_config_add_mix(&c, "get-secret", 0, NULL) < 0);
    wl_config_add_mix(&c, "get-secret", 1, NULL);
    fl_err_clear(&err);
    assert_true(wl_config_check(&c, &err) < 0); /* no endpoints */
    wl_config_add_endpoint(&c, "west", "http://127.0.0.1:1", NULL);
    snprintf(c.regions[0], FL_REGION_MAX, "mars");
    c.nregions = 1;
    fl_err_clear(&err);
    assert_true(wl_config_check(&c, &err) < 0);
    assert_non_null(strstr(err.msg, "mars"));
    c.nregions = 0;
    assert_int_equal(wl_config_check(&c, NULL), 0);
}

/* ---- the engine's models against an in-process store ----------------------- */

/*
 * A linearizable in-memory store behind the driver interface, so the
 * engine's set and cas logic is checked without any service: one lock, keys
 * "k0".."k63", a register value and a set per key.
 */
#define MEM_KEYS  64
#define MEM_ELEMS 4096

static struct {
    pthread_mutex_t mu;
    uint64_t reg[MEM_KEYS];
    uint64_t set[MEM_KEYS][MEM_ELEMS];
    size_t nset[MEM_KEYS];
    unsigned swapped, not_swapped;
} mem = {.mu = PTHREAD_MUTEX_INITIALIZER};

struct mem_conn {
    uint64_t buf[MEM_ELEMS];
};

static bool mem_is_write(const char *op)
{
    return strcmp(op, "put") == 0 || strcmp(op, "cas") == 0 || strcmp(op, "delete") == 0;
}

static bool mem_is_delete(const char *op)
{
    return strcmp(op, "delete") == 0;
}

static int mem_open(const struct fl_endpoint *eps, size_t n, int64_t timeout_ns, void **conn,
                    struct fl_err *err)
{
    (void)eps, (void)n, (void)timeout_ns, (void)err;
    *conn = calloc(1, sizeof(struct mem_conn));
    return *conn ? 0 : -ENOMEM;
}

static void mem_close(void *conn)
{
    free(conn);
}

static void mem_op(void *conn, size_t ep, const struct fl_op_req *req, struct fl_op_result *res)
{
    struct mem_conn *c = conn;
    unsigned k = (unsigned)atoi(req->key + 1) % MEM_KEYS;
    size_t i;

    (void)ep;
    memset(res, 0, sizeof(*res));
    res->outcome = HIST_OK;
    pthread_mutex_lock(&mem.mu);
    switch (req->kind) {
    case FL_OP_READ:
        if (req->set_model) {
            memcpy(c->buf, mem.set[k], mem.nset[k] * sizeof(uint64_t));
            res->nelems = fl_elems_normalize(c->buf, mem.nset[k]);
            res->elems = c->buf;
        } else {
            res->value = mem.reg[k];
        }
        break;
    case FL_OP_WRITE:
        res->value = req->value;
        if (!req->set_model) {
            mem.reg[k] = req->value;
            break;
        }
        for (i = 0; i < mem.nset[k] && mem.set[k][i] != req->value; i++)
            ;
        if (i == mem.nset[k] && i < MEM_ELEMS)
            mem.set[k][mem.nset[k]++] = req->value;
        break;
    case FL_OP_DELETE:
        mem.reg[k] = 0;
        break;
    case FL_OP_CAS:
        res->value = req->value;
        res->swapped = mem.reg[k] == req->expected;
        if (res->swapped) {
            mem.reg[k] = req->value;
            mem.swapped++;
        } else {
            mem.not_swapped++;
            res->current_known = true;
            res->current = mem.reg[k];
        }
        break;
    }
    pthread_mutex_unlock(&mem.mu);
}

static const struct fl_driver_ops mem_driver = {
    .name = "mem",
    .open = mem_open,
    .op = mem_op,
    .close = mem_close,
    .is_write = mem_is_write,
    .is_delete = mem_is_delete,
};

static void mem_reset(void)
{
    pthread_mutex_lock(&mem.mu);
    memset(mem.reg, 0, sizeof(mem.reg));
    memset(mem.nset, 0, sizeof(mem.nset));
    mem.swapped = mem.not_swapped = 0;
    pthread_mutex_unlock(&mem.mu);
}

static void mem_config(struct wl_config *c, unsigned clients, unsigned keys)
{
    wl_config_init(c);
    c->clients = clients;
    c->rate = 2000;
    c->duration_ns = 500000000LL;
    c->keys = keys;
    assert_int_equal(wl_config_add_endpoint(c, "west", "mem://", NULL), 0);
}

/*
 * history.jsonl round trip: what the engine recorded (cas expected values,
 * swapped flags, set elements) reads back the same.
 */
static void assert_jsonl_round_trip(const struct hist *h)
{
    char path[] = "/tmp/fl-wl-hist-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    struct hist back;
    struct fl_err err = {0};
    size_t i, j, n1, n2;

    assert_non_null(f);
    assert_int_equal(hist_write_jsonl(f, h), 0);
    fclose(f);
    assert_int_equal(hist_init(&back), 0);
    if (hist_load_jsonl(path, &back, &err) < 0)
        fail_msg("%s", err.msg);
    unlink(path);
    assert_int_equal(back.n, h->n);
    for (i = 0; i < h->n; i++) {
        const struct hist_op *a = &h->ops[i], *b = &back.ops[i];
        const uint64_t *ea = hist_set_elems(h, a, &n1), *eb = hist_set_elems(&back, b, &n2);

        assert_int_equal(a->flags, b->flags);
        assert_int_equal(a->is_write, b->is_write);
        assert_int_equal(a->value, b->value);
        assert_int_equal(hist_cas_expected(h, a), hist_cas_expected(&back, b));
        assert_int_equal(n1, n2);
        for (j = 0; j < n1; j++)
            assert_int_equal(ea[j], eb[j]);
    }
    hist_free(&back);
}

static void set_model_should_add_unique_elements_and_read_them_all(void **state)
{
    struct wl_config c;
    struct hist h;
    struct fl_err err = {0};
    uint64_t *seen;
    size_t i, j, n, writes = 0, reads = 0, finals = 0, nseen = 0;
    bool keys_final[MEM_KEYS] = {false}, keys_written[MEM_KEYS] = {false};

    (void)state;
    mem_reset();
    mem_config(&c, 4, 16);
    c.model = WL_MODEL_SET;
    wl_config_add_mix(&c, "get", 1, NULL);
    wl_config_add_mix(&c, "put", 2, NULL);
    assert_int_equal(hist_init(&h), 0);
    assert_int_equal(wl_run(&c, &mem_driver, &h, NULL, NULL, NULL, NULL, &err), 0);
    assert_int_equal(wl_final_reads(&c, &mem_driver, &h, &err), 0);
    seen = calloc(h.n, sizeof(*seen));
    assert_non_null(seen);
    for (i = 0; i < h.n; i++) {
        const struct hist_op *o = &h.ops[i];
        unsigned k = (unsigned)atoi(h.keys.s[o->key] + 1);
        const uint64_t *e = hist_set_elems(&h, o, &n);

        assert_true(o->flags & HIST_F_SET);
        assert_false(o->flags & HIST_F_CAS);
        if (o->is_write) {
            /* every element is new: never written before, to any key */
            for (j = 0; j < nseen; j++)
                assert_true(seen[j] != o->value);
            seen[nseen++] = o->value;
            keys_written[k] = true;
            writes++;
            continue;
        }
        assert_int_equal(o->value, 0);
        assert_int_equal(o->outcome, HIST_OK);
        for (j = 1; j < n; j++)
            assert_true(e[j - 1] < e[j]); /* sorted, no duplicates */
        if (o->is_final) {
            /* the final read sees every element written to the key, from every client */
            size_t want = 0;

            finals++;
            keys_final[k] = true;
            for (j = 0; j < i; j++)
                if (h.ops[j].is_write && h.ops[j].key == o->key)
                    want++;
            assert_int_equal(n, want);
        }
        reads++;
    }
    for (i = 0; i < MEM_KEYS; i++)
        assert_true(keys_written[i] == keys_final[i]);
    printf("set model: %zu writes, %zu reads, %zu final reads\n", writes, reads, finals);
    assert_true(writes > 100 && reads > 50);
    assert_jsonl_round_trip(&h);
    free(seen);
    hist_free(&h);
}

static void cas_should_expect_what_the_client_last_saw(void **state)
{
    struct wl_config c;
    struct hist h;
    struct fl_err err = {0};
    uint64_t last[MEM_KEYS] = {0};
    size_t i, cas = 0;

    (void)state;
    /* One client alone: what it saw is always current, so every cas swaps. */
    mem_reset();
    mem_config(&c, 1, 8);
    wl_config_add_mix(&c, "get", 1, NULL);
    wl_config_add_mix(&c, "put", 1, NULL);
    wl_config_add_mix(&c, "delete", 1, NULL);
    wl_config_add_mix(&c, "cas", 3, NULL);
    assert_int_equal(hist_init(&h), 0);
    assert_int_equal(wl_run(&c, &mem_driver, &h, NULL, NULL, NULL, NULL, &err), 0);
    for (i = 0; i < h.n; i++) {
        const struct hist_op *o = &h.ops[i];
        unsigned k = (unsigned)atoi(h.keys.s[o->key] + 1);

        assert_false(o->flags & HIST_F_SET);
        if (strcmp(hist_op_name(&h, o), "cas") == 0) {
            assert_true(o->flags & HIST_F_CAS);
            assert_true(o->is_write);
            assert_true(o->flags & HIST_F_SWAPPED);
            assert_int_equal(hist_cas_expected(&h, o), last[k]);
            assert_true(o->value != 0 && o->value != last[k]);
            cas++;
        } else {
            assert_false(o->flags & (HIST_F_CAS | HIST_F_SWAPPED));
        }
        /* get: the value read; put and a swapping cas: the value written; delete: absent */
        last[k] = strcmp(hist_op_name(&h, o), "delete") == 0 ? 0 : o->value;
    }
    printf("one client: %zu cas, all swapped\n", cas);
    assert_true(cas > 100);
    assert_int_equal(mem.not_swapped, 0);
    hist_free(&h);

    /* Eight clients on two keys: some comparisons miss; each is ok, not swapped. */
    mem_reset();
    mem_config(&c, 8, 2);
    wl_config_add_mix(&c, "get", 1, NULL);
    wl_config_add_mix(&c, "cas", 4, NULL);
    assert_int_equal(hist_init(&h), 0);
    assert_int_equal(wl_run(&c, &mem_driver, &h, NULL, NULL, NULL, NULL, &err), 0);
    {
        size_t sw = 0, no = 0;

        for (i = 0; i < h.n; i++) {
            const struct hist_op *o = &h.ops[i];

            if (!(o->flags & HIST_F_CAS))
                continue;
            assert_int_equal(o->outcome, HIST_OK);
            if (o->flags & HIST_F_SWAPPED)
                sw++;
            else
                no++;
        }
        printf("eight clients: %zu swapped, %zu not\n", sw, no);
        assert_int_equal(sw, mem.swapped);
        assert_int_equal(no, mem.not_swapped);
        assert_true(sw > 50 && no > 0);
    }
    assert_jsonl_round_trip(&h);
    hist_free(&h);
}

static void set_model_should_refuse_delete_and_cas(void **state)
{
    struct wl_config c;
    struct hist h;
    struct fl_err err = {0};

    (void)state;
    mem_config(&c, 1, 4);
    c.model = WL_MODEL_SET;
    wl_config_add_mix(&c, "get", 1, NULL);
    wl_config_add_mix(&c, "delete", 1, NULL);
    assert_int_equal(wl_config_check(&c, NULL), 0);
    assert_true(wl_config_check_mix(&c, &mem_driver, &err) < 0);
    assert_non_null(strstr(err.msg, "'delete' deletes"));
    assert_int_equal(hist_init(&h), 0);
    fl_err_clear(&err);
    assert_true(wl_run(&c, &mem_driver, &h, NULL, NULL, NULL, NULL, &err) < 0);
    assert_int_equal(h.n, 0);
    hist_free(&h);

    mem_config(&c, 1, 4);
    c.model = WL_MODEL_SET;
    wl_config_add_mix(&c, "cas", 1, NULL);
    fl_err_clear(&err);
    assert_true(wl_config_check_mix(&c, &mem_driver, &err) < 0);
    assert_non_null(strstr(err.msg, "'cas'"));
    c.model = WL_MODEL_REGISTER;
    assert_int_equal(wl_config_check_mix(&c, &mem_driver, NULL), 0);
}

/* ---- the models against real refstore replicas ------------------------------- */

/*
 * Set model against one key-vault replica: every acknowledged element is in
 * the final read of its key, and nothing else is.
 */
static void refstore_set_model_should_keep_every_acknowledged_element(void **state)
{
    struct wl_config c;
    struct hist h;
    struct fl_err err = {0};
    size_t i, j, n, finals = 0, checked = 0;

    (void)state;
    kv_single();
    wl_config_init(&c);
    c.clients = 4;
    c.rate = 400;
    c.duration_ns = 1000000000LL;
    c.keys = 10;
    c.model = WL_MODEL_SET;
    wl_config_add_mix(&c, "get-secret", 1, NULL);
    wl_config_add_mix(&c, "set-secret", 2, NULL);
    endpoint(&c, 0);
    assert_int_equal(hist_init(&h), 0);
    if (wl_run(&c, &fl_driver_refstore, &h, NULL, NULL, NULL, NULL, &err) < 0 ||
        wl_final_reads(&c, &fl_driver_refstore, &h, &err) < 0)
        fail_msg("%s", err.msg);
    for (i = 0; i < h.n; i++) {
        const struct hist_op *f = &h.ops[i];
        const uint64_t *e = hist_set_elems(&h, f, &n);

        if (!f->is_final)
            continue;
        assert_int_equal(f->outcome, HIST_OK);
        finals++;
        for (j = 0; j < h.n; j++) {
            const struct hist_op *w = &h.ops[j];
            size_t x;

            if (!w->is_write || w->key != f->key || w->outcome != HIST_OK)
                continue;
            for (x = 0; x < n && e[x] != w->value; x++)
                ;
            if (x == n)
                fail_msg("element %" PRIu64 " of %s acknowledged but not in the final read",
                         w->value, h.keys.s[w->key]);
            checked++;
        }
    }
    printf("refstore set model: %zu final reads, %zu acknowledged elements found\n", finals,
           checked);
    assert_int_equal(finals, 10);
    assert_true(checked > 100);
    hist_free(&h);
}

/* cas against both presets: one client alone always swaps; two clients sometimes do not. */
static void refstore_cas_should_swap_when_expected_matches(void **state)
{
    static const struct {
        const char *cfg, *read, *write;
        unsigned clients;
    } runs[] = {
        {"{\"preset\":\"key-vault\",\"primary\":\"west\",\"failover_after\":\"1s\","
         "\"heartbeat\":\"100ms\"}",
         "get-secret", "set-secret", 1},
        {"{\"preset\":\"cosmos\",\"primary\":\"west\",\"failover_after\":\"1s\","
         "\"heartbeat\":\"100ms\"}",
         "read", "upsert", 2},
    };
    size_t r, i;

    (void)state;
    for (r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
        struct wl_config c;
        struct hist h;
        struct fl_err err = {0};
        size_t sw = 0, no = 0;

        add("west-z1-h1", "west");
        assert_int_equal(rsh_start_all(nodes, nn, runs[r].cfg), 0);
        wl_config_init(&c);
        c.clients = runs[r].clients;
        c.rate = 300;
        c.duration_ns = 700000000LL;
        c.keys = 4;
        wl_config_add_mix(&c, runs[r].read, 1, NULL);
        wl_config_add_mix(&c, runs[r].write, 1, NULL);
        wl_config_add_mix(&c, "cas", 3, NULL);
        endpoint(&c, 0);
        assert_int_equal(hist_init(&h), 0);
        if (wl_run(&c, &fl_driver_refstore, &h, NULL, NULL, NULL, NULL, &err) < 0)
            fail_msg("%s", err.msg);
        for (i = 0; i < h.n; i++) {
            const struct hist_op *o = &h.ops[i];

            if (!(o->flags & HIST_F_CAS))
                continue;
            if (o->outcome != HIST_OK)
                fail_msg("cas: %s", h.errors.s[o->error]);
            if (o->flags & HIST_F_SWAPPED)
                sw++;
            else
                no++;
        }
        printf("refstore %s, %u client(s): %zu cas swapped, %zu not\n", runs[r].read,
               runs[r].clients, sw, no);
        assert_true(sw > 20);
        if (runs[r].clients == 1)
            assert_int_equal(no, 0);
        hist_free(&h);
        teardown(NULL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(workload_should_reject_bad_config),
        cmocka_unit_test(set_model_should_add_unique_elements_and_read_them_all),
        cmocka_unit_test(cas_should_expect_what_the_client_last_saw),
        cmocka_unit_test(set_model_should_refuse_delete_and_cas),
        cmocka_unit_test_teardown(workload_should_achieve_offered_rate_against_fast_target,
                                  teardown),
        cmocka_unit_test_teardown(workload_should_record_timeout_as_info, teardown),
        cmocka_unit_test_teardown(routing_should_move_to_next_region_and_back, teardown),
        cmocka_unit_test_teardown(history_should_be_valid_jsonl_with_monotonic_times, teardown),
        cmocka_unit_test_teardown(refstore_set_model_should_keep_every_acknowledged_element,
                                  teardown),
        cmocka_unit_test_teardown(refstore_cas_should_swap_when_expected_matches, teardown),
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
