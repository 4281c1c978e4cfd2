/*
 * A journal that outlives its namespace must never turn an apply into a
 * no-op. A namespace is deleted without revert (its nf_tables objects die
 * with it, its journal stays), a new namespace is made, and the same id with
 * the same spec is applied again: the fault must really be in the new
 * namespace's kernel. Once through the library with one explicit state
 * directory (as an agent restarted into a new namespace would have), once
 * through faultline-inject with its default state directory, which must be
 * keyed by an identity the kernel never reuses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "faultline/inject.h"
#include "netns.h"
#include "testutil.h"

static const char *SPEC = "{\"kind\":\"partition\",\"mode\":\"drop\",\"groups\":[["
                          "\"198.18.1.0/24\"],[\"198.18.2.0/24\"]]}";
static char statedir[128];

static int group_setup(void **state)
{
    (void)state;
    snprintf(statedir, sizeof(statedir), "/tmp/fl-t%d-stale", (int)getpid());
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tn_cleanup();
    tu_sh("rm -rf %s", statedir);
    return 0;
}

/* True when namespace ns holds fault id's chain in table inet faultline. */
static bool chain_present(const char *ns, const char *id)
{
    return tn_exec(ns, "nft list chain inet faultline %s >/dev/null 2>&1", id) == 0;
}

static int apply_spec_in(const char *ns, const char *id, const char *spec, struct fl_err *e)
{
    struct inj_config cfg = {.state_dir = statedir};
    struct inj_fault *f = NULL;
    struct inj_ctx *ctx = NULL;
    int r;

    if (inj_fault_parse(spec, strlen(spec), &f, e) < 0)
        return -EINVAL;
    if (tn_enter(ns) < 0) {
        inj_fault_free(f);
        return -ENOENT;
    }
    r = inj_open(&cfg, &ctx, e);
    tn_leave();
    if (r == 0)
        r = inj_apply(ctx, id, f, e);
    inj_close(ctx);
    inj_fault_free(f);
    return r;
}

static int apply_in(const char *ns, const char *id, struct fl_err *e)
{
    return apply_spec_in(ns, id, SPEC, e);
}

static void apply_should_reapply_when_the_journal_outlived_its_namespace(void **state)
{
    struct fl_err e;
    int r;

    (void)state;
    TU_REQUIRE_ROOT();
    fl_err_clear(&e);
    assert_int_equal(tn_create("old"), 0);
    assert_int_equal(apply_in("old", "stale1", &e), 0);
    assert_true(chain_present("old", "stale1"));
    /* Gone without revert: the kernel objects go with it, the journal stays. */
    tn_delete("old");
    assert_int_equal(tn_create("new"), 0);
    r = apply_in("new", "stale1", &e);
    if (r != 0)
        fail_msg("apply in the new namespace returned %d (%s), expected 0: a real apply", r, e.msg);
    assert_true(chain_present("new", "stale1"));
    /* Now it is there: the same apply again is the idempotent no-op. */
    assert_int_equal(apply_in("new", "stale1", &e), 1);
    assert_true(chain_present("new", "stale1"));
    tn_exec("new", "nft delete table inet faultline 2>/dev/null");
    /* A flushed ruleset is the same story within one namespace. */
    assert_int_equal(apply_in("new", "stale1", &e), 0);
    assert_true(chain_present("new", "stale1"));
    tn_delete("new");
}

/* The same for a route kind: the journal's routes must be in the kernel. */
static void apply_should_reapply_a_blackhole_whose_routes_are_gone(void **state)
{
    static const char *BH = "{\"kind\":\"blackhole\",\"cidrs\":[\"198.18.3.0/24\"]}";
    struct fl_err e;
    int r;

    (void)state;
    TU_REQUIRE_ROOT();
    fl_err_clear(&e);
    assert_int_equal(tn_create("bh1"), 0);
    assert_int_equal(apply_spec_in("bh1", "stale3", BH, &e), 0);
    assert_int_equal(tn_exec("bh1", "ip route show proto 250 | grep -q 198.18.3.0/24"), 0);
    tn_delete("bh1");
    assert_int_equal(tn_create("bh2"), 0);
    r = apply_spec_in("bh2", "stale3", BH, &e);
    if (r != 0)
        fail_msg("apply in the new namespace returned %d (%s), expected 0", r, e.msg);
    assert_int_equal(tn_exec("bh2", "ip route show proto 250 | grep -q 198.18.3.0/24"), 0);
    assert_int_equal(apply_spec_in("bh2", "stale3", BH, &e), 1);
    tn_delete("bh2");
}

/* faultline-inject with its default state directory, inside namespace ns. */
static int cli(const char *ns, const char *args)
{
    const char *bin = getenv("FAULTLINE_INJECT");

    assert_non_null(bin);
    return tu_sh("ip netns exec %s %s %s", tn_name(ns), bin, args);
}

static void cli_apply_should_apply_in_a_new_namespace_after_a_deleted_one(void **state)
{
    char args[512], id[32];
    int i, failed = -1;

    (void)state;
    TU_REQUIRE_ROOT();
    snprintf(id, sizeof(id), "stale-%d", (int)getpid());
    snprintf(args, sizeof(args), "apply --id %s '%s'", id, SPEC);
    /*
     * Several rounds, each namespace deleted without revert: the kernel hands
     * a freed namespace's inode number to the next one often, so a state
     * directory keyed by the inode answers "already applied" here at least
     * once. The journals stay until the end, as they would in /run.
     */
    for (i = 0; i < 5 && failed < 0; i++) {
        char name[16];

        snprintf(name, sizeof(name), "cli%d", i);
        assert_int_equal(tn_create(name), 0);
        if (cli(name, args) != 0 || !chain_present(name, id))
            failed = i;
        tn_delete(name);
    }
    /* The journals this test left (each names its namespace): remove them. */
    tu_sh("for f in /run/faultline/netns-*/%s.json; do [ -f \"$f\" ] && rm -rf "
          "\"$(dirname \"$f\")\"; done; true",
          id);
    if (failed >= 0)
        fail_msg("round %d: faultline-inject apply did not put the fault in the new namespace",
                 failed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(apply_should_reapply_when_the_journal_outlived_its_namespace),
        cmocka_unit_test(apply_should_reapply_a_blackhole_whose_routes_are_gone),
        cmocka_unit_test(cli_apply_should_apply_in_a_new_namespace_after_a_deleted_one),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
