/*
 * Harness against harness: 200 random cycles of apply / renew / revert /
 * revert-all / lease expiry through one real faultline-agent, with kill -9
 * of the agent (then a restart) and kill -9 of a controller-like client in
 * the middle of its request. A model of what must be applied is kept; when a
 * killed client leaves it unknown whether its request ran, the agent's own
 * list decides, and the journal and the kernel must agree with it.
 *
 * After every operation: the journal holds exactly the live faults, the
 * agent lists exactly those, and every live packet fault's chain is in the
 * kernel (no other). After every cycle (which ends by reverting through the
 * API, or by kill -9 and a restart that must clean up): nothing faultline
 * owns is left in any namespace (nft ruleset, rules, routes, qdiscs, links
 * equal to the snapshot taken before the first cycle), no process of the
 * run survives (the only process in the agent's namespace is the agent,
 * none in the peer's, every killed client and agent reaped), and the journal
 * is empty. The counts are printed at the end; FAULTLINE_SEED=N replays a
 * run, FAULTLINE_HARNESS_CYCLES=N changes the number of cycles.
 *
 * Topology: namespace "h" (the agent, on 127.0.0.1:7320, data eth1
 * 198.18.1.1/16) and "p" (the peer, 198.18.2.1/16) on one veth.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "agent_fixture.h"
#include "netns.h"
#include "testutil.h"

#define NIDS 6
#define TTL  60000

/* Device groups: two live faults of one group may refuse each other. */
enum group { G_NFT, G_QDISC, G_LINK, G_ROUTE };

static const struct {
    const char *spec;
    enum group g;
    bool nft;        /* has a chain named after the id */
    const char *cap; /* the capability (GET /v1/capabilities) it needs */
} specs[] = {
    {"{\"kind\":\"partition\",\"mode\":\"drop\",\"groups\":[[\"198.18.1.0/24\"],[\"198.18.2.0/"
     "24\"]]}",
     G_NFT, true, "nftables"},
    {"{\"kind\":\"partition\",\"mode\":\"reject\",\"groups\":[[\"198.18.1.0/24\"],[\"198.18.2.0/"
     "24\"]]}",
     G_NFT, true, "nftables"},
    {"{\"kind\":\"isolate\",\"mode\":\"reject\",\"cidrs\":[\"198.18.2.0/24\"]}", G_NFT, true,
     "nftables"},
    {"{\"kind\":\"one-way\",\"from\":[\"198.18.2.0/24\"],\"to\":[\"198.18.1.0/24\"]}", G_NFT, true,
     "nftables"},
    {"{\"kind\":\"loss\",\"percent\":30,\"from\":[\"198.18.2.0/24\"]}", G_NFT, true, "nftables"},
    {"{\"kind\":\"latency\",\"dev\":\"eth1\",\"delay\":\"20ms\"}", G_QDISC, false, "netem"},
    {"{\"kind\":\"bandwidth\",\"dev\":\"eth1\",\"rate\":\"10mbit\"}", G_QDISC, false, "tbf"},
    {"{\"kind\":\"blackhole\",\"cidrs\":[\"198.18.3.0/24\"]}", G_ROUTE, false, "route"},
    {"{\"kind\":\"link-down\",\"dev\":\"eth1\"}", G_LINK, false, "link"},
};
#define NSPECS (sizeof(specs) / sizeof(specs[0]))

struct model {
    bool live;
    int spec;
};

struct counts {
    unsigned cycles, ops, applied, idempotent, refused, renewed, reverted, not_found, revert_all,
        expired, agent_kills, agent_restarts, client_kills, client_unknown_applied, checks;
};

static struct fx_agent ag;
static int usable[NSPECS]; /* the specs this kernel can do (the agent's probe) */
static size_t n_usable;
static char *pre_h, *pre_p;
static struct model m[NIDS];
static struct counts n;
static pid_t dead_agents[512], dead_clients[512];
static size_t n_dead_agents, n_dead_clients;

static const char *const agent_args[] = {"--allow",   "198.18.0.0/16", "--allow", "dev:eth1",
                                         "--control", "198.19.9.0/24", NULL};

static int group_setup(void **state)
{
    (void)state;
    if (!tu_is_root())
        return 0;
    if (tn_create("h") < 0 || tn_create("p") < 0)
        return -1;
    tn_exec("h", "sysctl -qw net.ipv6.conf.default.accept_dad=0");
    tn_exec("p", "sysctl -qw net.ipv6.conf.default.accept_dad=0");
    if (tn_veth("h", "eth1", "198.18.1.1/16", "p", "eth1", "198.18.2.1/16") < 0)
        return -1;
    fx_settle("h");
    fx_settle("p");
    pre_h = tn_snapshot("h");
    pre_p = tn_snapshot("p");
    if (pre_h == NULL || pre_p == NULL || fx_init(&ag, "h", "127.0.0.1:7320") < 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fx_cleanup(&ag);
    tn_cleanup();
    free(pre_h);
    free(pre_p);
    return 0;
}

/* "h<id>" (static buffer per id). */
static const char *idname(int id)
{
    static char names[NIDS][8];

    snprintf(names[id], sizeof(names[id]), "h%d", id);
    return names[id];
}

static int rnd(int k)
{
    return (int)(random() % k);
}

static void agent_start(void)
{
    if (fx_spawn(&ag, agent_args) < 0 || fx_wait_ready(&ag, 10000) < 0)
        fail_msg("the agent did not start (log: %s/agent.log)", ag.dir);
    n.agent_restarts++;
}

/* Keep the specs whose capability the agent's probe reports; print the others. */
static void pick_specs(void)
{
    char *resp = NULL;
    json_t *j, *kernel;
    size_t i;

    assert_int_equal(fx_http(&ag, NULL, "GET", "/v1/capabilities", NULL, NULL, false, &resp), 200);
    j = json_loads(resp, 0, NULL);
    free(resp);
    assert_non_null(j);
    kernel = json_object_get(j, "kernel");
    for (i = 0; i < NSPECS; i++) {
        if (json_is_true(json_object_get(json_object_get(kernel, specs[i].cap), "ok")))
            usable[n_usable++] = (int)i;
        else
            fprintf(stderr, "harness cycles: kernel lacks %s, not using %s\n", specs[i].cap,
                    specs[i].spec);
    }
    json_decref(j);
    assert_true(n_usable >= 5); /* the packet kinds at least */
}

static int rnd_spec(void)
{
    return usable[rnd((int)n_usable)];
}

/* kill -9 of the agent; a restart must revert whatever it left. */
static void agent_crash(void)
{
    pid_t pid = ag.pid;
    int i;

    assert_int_equal(fx_stop(&ag, SIGKILL), 128 + SIGKILL);
    if (n_dead_agents < 512)
        dead_agents[n_dead_agents++] = pid;
    n.agent_kills++;
    for (i = 0; i < NIDS; i++)
        m[i].live = false;
    agent_start();
}

/* Ids of journal files under the agent's state directory (bit i: id h<i>); -1 for a stranger. */
static int journal_ids(void)
{
    char path[256];
    struct dirent *de;
    int mask = 0;
    DIR *d;

    snprintf(path, sizeof(path), "%s/state/journal", ag.dir);
    d = opendir(path);
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        int id;

        if (de->d_name[0] == '.')
            continue;
        if (sscanf(de->d_name, "h%d.json", &id) != 1 || id < 0 || id >= NIDS ||
            strcmp(strchr(de->d_name, '.'), ".json") != 0) {
            mask = -1;
            fprintf(stderr, "journal holds a stranger: %s\n", de->d_name);
            break;
        }
        mask |= 1 << id;
    }
    closedir(d);
    return mask;
}

/* Ids the agent lists (GET /v1/faults). */
static int listed_ids(void)
{
    char *resp = NULL;
    json_t *j, *arr, *f;
    size_t i;
    int mask = 0;

    assert_int_equal(fx_http(&ag, NULL, "GET", "/v1/faults", NULL, NULL, false, &resp), 200);
    j = json_loads(resp, 0, NULL);
    free(resp);
    assert_non_null(j);
    arr = json_object_get(j, "faults");
    assert_true(json_is_array(arr));
    json_array_foreach(arr, i, f)
    {
        int id;

        assert_int_equal(sscanf(json_string_value(json_object_get(f, "id")), "h%d", &id), 1);
        mask |= 1 << id;
    }
    json_decref(j);
    return mask;
}

static int model_ids(void)
{
    int i, mask = 0;

    for (i = 0; i < NIDS; i++)
        if (m[i].live)
            mask |= 1 << i;
    return mask;
}

/* The journal, the agent's list, the model and the kernel's chains agree. */
static void check_live(const char *when)
{
    int want = model_ids(), jm = journal_ids(), lm = listed_ids(), i;
    char *rules;

    if (jm != want || lm != want)
        fail_msg("%s (cycle %u): model %#x, journal %#x, agent lists %#x", when, n.cycles, want, jm,
                 lm);
    rules = tu_sh_out("ip netns exec %s nft list table inet faultline 2>/dev/null", tn_name("h"));
    for (i = 0; i < NIDS; i++) {
        char chain[32];
        bool has;

        snprintf(chain, sizeof(chain), "chain h%d {", i);
        has = rules != NULL && strstr(rules, chain) != NULL;
        if (has != (m[i].live && specs[m[i].spec].nft))
            fail_msg("%s (cycle %u): chain h%d %s in the kernel", when, n.cycles, i,
                     has ? "left" : "missing");
    }
    free(rules);
    n.checks++;
}

static bool group_taken(int id, enum group g)
{
    int i;

    if (g == G_NFT)
        return false;
    for (i = 0; i < NIDS; i++)
        if (i != id && m[i].live && specs[m[i].spec].g == g)
            return true;
    /* link-down and the qdisc kinds share eth1: a cut link may refuse a qdisc, and back. */
    for (i = 0; i < NIDS; i++)
        if (i != id && m[i].live &&
            ((g == G_QDISC && specs[m[i].spec].g == G_LINK) ||
             (g == G_LINK && specs[m[i].spec].g == G_QDISC)))
            return true;
    return false;
}

static void op_apply(int id, int sp, long ttl)
{
    char *resp = NULL, why[256];
    long st = fx_http(&ag, NULL, "POST", "/v1/faults",
                      fx_apply_body(idname(id), specs[sp].spec, ttl), NULL, false, &resp);

    snprintf(why, sizeof(why), "%s", resp ? resp : "");
    free(resp);

    if (m[id].live) {
        if (m[id].spec == sp) {
            assert_int_equal(st, 200);
            n.idempotent++;
        } else {
            assert_int_equal(st, 409);
            n.refused++;
        }
        return;
    }
    if (st == 201) {
        m[id].live = true;
        m[id].spec = sp;
        n.applied++;
        return;
    }
    if (!group_taken(id, specs[sp].g))
        fail_msg("apply h%d %s: status %ld (%s), expected 201", id, specs[sp].spec, st, why);
    if (st < 400)
        fail_msg("apply h%d: status %ld for a refused fault", id, st);
    n.refused++;
}

static void op_renew(int id)
{
    char path[64];
    long st;

    snprintf(path, sizeof(path), "/v1/faults/h%d/renew", id);
    st = fx_http(&ag, NULL, "POST", path, "{\"ttl_ms\":60000}", NULL, false, NULL);
    assert_int_equal(st, m[id].live ? 200 : 404);
    n.renewed++;
}

static void op_revert(int id)
{
    char path[64];
    long st;

    snprintf(path, sizeof(path), "/v1/faults/h%d", id);
    st = fx_http(&ag, NULL, "DELETE", path, NULL, NULL, false, NULL);
    if (m[id].live) {
        assert_int_equal(st, 200);
        n.reverted++;
    } else {
        assert_int_equal(st, 404);
        n.not_found++;
    }
    m[id].live = false;
}

static void op_revert_all(void)
{
    int i;

    assert_int_equal(fx_http(&ag, NULL, "POST", "/v1/revert-all", NULL, NULL, false, NULL), 200);
    for (i = 0; i < NIDS; i++)
        m[i].live = false;
    n.revert_all++;
}

/* A lease of 100 ms nobody renews: the agent must take the fault back by itself. */
static void op_expire(int id)
{
    int sp = rnd(5); /* a packet kind: its chain shows the revert */
    struct timespec ts = {0, 400 * 1000000};

    if (m[id].live)
        op_revert(id);
    op_apply(id, sp, 100);
    if (!m[id].live)
        return;
    nanosleep(&ts, NULL);
    m[id].live = false;
    n.expired++;
}

/*
 * A controller-like client killed with SIGKILL somewhere in its request: its
 * apply (or revert) may or may not have happened. The agent's list says
 * which; check_live() then holds the journal and the kernel to it.
 */
static void op_client_killed(int id)
{
    int sp = rnd_spec(), st;
    bool apply = !m[id].live || rnd(2) == 0;
    struct timespec ts = {0, 150 * 1000000};
    pid_t pid;

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        CURL *h = curl_easy_init();
        char path[64];

        snprintf(path, sizeof(path), "/v1/faults/h%d", id);
        if (apply)
            fx_http(&ag, h, "POST", "/v1/faults", fx_apply_body(idname(id), specs[sp].spec, TTL),
                    NULL, false, NULL);
        else
            fx_http(&ag, h, "DELETE", path, NULL, NULL, false, NULL);
        _exit(0);
    }
    usleep((useconds_t)rnd(3000));
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (n_dead_clients < 512)
        dead_clients[n_dead_clients++] = pid;
    n.client_kills++;
    /* Whatever reached the agent has run by now. */
    nanosleep(&ts, NULL);
    if (apply && !m[id].live && (listed_ids() & (1 << id))) {
        m[id].live = true;
        m[id].spec = sp;
        n.client_unknown_applied++;
    } else if (!apply && !(listed_ids() & (1 << id))) {
        m[id].live = false;
    }
}

/* Only the agent in its namespace, nobody in the peer's, every killed process reaped. */
static void check_processes(void)
{
    char *out = tu_sh_out("ip netns pids %s", tn_name("h"));
    char *outp = tu_sh_out("ip netns pids %s", tn_name("p"));
    size_t i;

    assert_non_null(out);
    assert_non_null(outp);
    if (atoi(out) != ag.pid || strchr(out, '\n') != strrchr(out, '\n'))
        fail_msg("cycle %u: processes in the agent's namespace: %s(agent %d)", n.cycles, out,
                 (int)ag.pid);
    if (outp[0] != '\0')
        fail_msg("cycle %u: processes in the peer's namespace: %s", n.cycles, outp);
    free(out);
    free(outp);
    for (i = 0; i < n_dead_agents; i++)
        if (kill(dead_agents[i], 0) == 0)
            fail_msg("killed agent %d still exists", (int)dead_agents[i]);
    for (i = 0; i < n_dead_clients; i++)
        if (kill(dead_clients[i], 0) == 0)
            fail_msg("killed client %d still exists", (int)dead_clients[i]);
    n_dead_agents = n_dead_clients = 0;
}

/* Both namespaces equal their first snapshot (links may take a moment to come back up). */
static void check_nothing_left(void)
{
    const char *names[2] = {"h", "p"};
    const char *want[2] = {pre_h, pre_p};
    int k, tries;

    for (k = 0; k < 2; k++) {
        char *now = NULL;

        for (tries = 0; tries < 40; tries++) {
            free(now);
            now = tn_snapshot(names[k]);
            assert_non_null(now);
            if (strcmp(now, want[k]) == 0)
                break;
            usleep(50000);
        }
        if (strcmp(now, want[k]) != 0) {
            tn_print_diff(want[k], now);
            fail_msg("cycle %u: namespace %s differs from before the run (diff above)", n.cycles,
                     names[k]);
        }
        free(now);
    }
    if (journal_ids() != 0)
        fail_msg("cycle %u: the journal is not empty after the cycle", n.cycles);
}

static void harness_cycles_should_leave_nothing_behind(void **state)
{
    const char *env = getenv("FAULTLINE_SEED"), *cyc = getenv("FAULTLINE_HARNESS_CYCLES");
    unsigned seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL);
    unsigned cycles = cyc ? (unsigned)strtoul(cyc, NULL, 10) : 200;
    struct timespec t0, t1;

    (void)state;
    TU_REQUIRE_ROOT();
    fprintf(stderr, "harness cycles: seed %u (FAULTLINE_SEED=%u replays)\n", seed, seed);
    srandom(seed);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    agent_start();
    pick_specs();
    for (n.cycles = 0; n.cycles < cycles; n.cycles++) {
        int ops = 1 + rnd(6), k;

        for (k = 0; k < ops; k++) {
            int r = rnd(100), id = rnd(NIDS);

            n.ops++;
            if (r < 40)
                op_apply(id, rnd_spec(), TTL);
            else if (r < 52)
                op_renew(id);
            else if (r < 66)
                op_revert(id);
            else if (r < 70)
                op_revert_all();
            else if (r < 76)
                op_expire(id);
            else if (r < 90)
                op_client_killed(id);
            else
                agent_crash();
            check_live("after an operation");
        }
        /* End of the cycle: revert through the API, or crash and let the restart clean up. */
        if (rnd(3) == 0) {
            agent_crash();
        } else {
            for (k = 0; k < NIDS; k++)
                if (m[k].live)
                    op_revert(k);
        }
        check_live("end of cycle");
        check_nothing_left();
        check_processes();
    }
    assert_int_equal(fx_stop(&ag, SIGTERM), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    check_nothing_left();
    printf("harness cycles: %u cycles, %u operations in %.1f s: %u applied, %u idempotent, "
           "%u refused, %u renewed, %u reverted, %u not found, %u revert-all, %u leases "
           "expired, %u agent kill -9 (%u starts), %u client kill -9 (%u of them applied), "
           "%u consistency checks, 0 leftovers\n",
           n.cycles, n.ops, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
           n.applied, n.idempotent, n.refused, n.renewed, n.reverted, n.not_found, n.revert_all,
           n.expired, n.agent_kills, n.agent_restarts, n.client_kills, n.client_unknown_applied,
           n.checks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(harness_cycles_should_leave_nothing_behind),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
