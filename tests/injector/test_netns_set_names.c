/*
 * Reverting one packet fault removes exactly its own nf_tables sets. Fault
 * ids may contain '_', so fault "a" and fault "a_g0" share the name prefix
 * "a_": reverting "a" must neither touch nor trip over a_g0's sets (in use
 * by a_g0's rules, so deleting them fails the whole batch). Once with the
 * set list from the journal, once with a journal written before set names
 * were recorded in it (a fault applied by an older agent).
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
#include <jansson.h>

#include "faultline/inject.h"
#include "netns.h"
#include "testutil.h"

static const char *SPEC = "{\"kind\":\"partition\",\"mode\":\"drop\",\"groups\":[["
                          "\"198.18.1.0/24\"],[\"198.18.2.0/24\"]]}";
static char statedir[128];

static int group_setup(void **state)
{
    (void)state;
    snprintf(statedir, sizeof(statedir), "/tmp/fl-t%d-setnames", (int)getpid());
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tn_cleanup();
    tu_sh("rm -rf %s", statedir);
    return 0;
}

static int open_in(const char *ns, struct inj_ctx **ctx, struct fl_err *e)
{
    struct inj_config cfg = {.state_dir = statedir};
    int r;

    if (tn_enter(ns) < 0)
        return -ENOENT;
    r = inj_open(&cfg, ctx, e);
    tn_leave();
    return r;
}

static void apply_id(struct inj_ctx *ctx, const char *id)
{
    struct inj_fault *f = NULL;
    struct fl_err e;
    int r;

    fl_err_clear(&e);
    assert_int_equal(inj_fault_parse(SPEC, strlen(SPEC), &f, &e), 0);
    r = inj_apply(ctx, id, f, &e);
    inj_fault_free(f);
    if (r != 0)
        fail_msg("apply %s: %d (%s)", id, r, e.msg);
}

static bool set_present(const char *ns, const char *name)
{
    return tn_exec(ns, "nft list set inet faultline %s >/dev/null 2>&1", name) == 0;
}

static bool chain_present(const char *ns, const char *id)
{
    return tn_exec(ns, "nft list chain inet faultline %s >/dev/null 2>&1", id) == 0;
}

static void revert_and_check(const char *ns, struct inj_ctx *ctx)
{
    struct fl_err e;
    int r;

    fl_err_clear(&e);
    r = inj_revert(ctx, "a", &e);
    if (r < 0)
        fail_msg("revert a while a_g0 exists: %d (%s)", r, e.msg);
    assert_false(chain_present(ns, "a"));
    assert_false(set_present(ns, "a_g0_4"));
    assert_false(set_present(ns, "a_g1_4"));
    /* a_g0 is untouched: its chain and every set. */
    assert_true(chain_present(ns, "a_g0"));
    assert_true(set_present(ns, "a_g0_g0_4"));
    assert_true(set_present(ns, "a_g0_g1_4"));
    fl_err_clear(&e);
    assert_true(inj_revert(ctx, "a_g0", &e) >= 0);
    assert_false(chain_present(ns, "a_g0"));
}

static void revert_should_delete_only_the_sets_of_its_own_fault(void **state)
{
    struct inj_ctx *ctx = NULL;
    struct fl_err e;

    (void)state;
    TU_REQUIRE_ROOT();
    fl_err_clear(&e);
    assert_int_equal(tn_create("sn1"), 0);
    assert_int_equal(open_in("sn1", &ctx, &e), 0);
    apply_id(ctx, "a_g0");
    apply_id(ctx, "a");
    assert_true(set_present("sn1", "a_g0_4"));
    assert_true(set_present("sn1", "a_g0_g0_4"));
    revert_and_check("sn1", ctx);
    inj_close(ctx);
    tn_delete("sn1");
    tu_sh("rm -rf %s", statedir);
}

/* A journal without the set list (older agent): names are matched exactly. */
static void revert_should_match_set_names_exactly_without_a_journaled_list(void **state)
{
    struct inj_ctx *ctx = NULL;
    struct fl_err e;

    (void)state;
    TU_REQUIRE_ROOT();
    fl_err_clear(&e);
    assert_int_equal(tn_create("sn2"), 0);
    assert_int_equal(open_in("sn2", &ctx, &e), 0);
    apply_id(ctx, "a_g0");
    apply_id(ctx, "a");
    inj_close(ctx);
    /* Strip the set list from a's journal, as an older agent wrote it. */
    {
        char path[256];
        json_t *o;

        snprintf(path, sizeof(path), "%s/a.json", statedir);
        o = json_load_file(path, 0, NULL);
        assert_non_null(o);
        assert_non_null(json_object_get(json_object_get(o, "undo"), "sets"));
        json_object_del(json_object_get(o, "undo"), "sets");
        assert_int_equal(json_dump_file(o, path, JSON_COMPACT), 0);
        json_decref(o);
    }
    ctx = NULL;
    assert_int_equal(open_in("sn2", &ctx, &e), 0);
    revert_and_check("sn2", ctx);
    inj_close(ctx);
    tn_delete("sn2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(revert_should_delete_only_the_sets_of_its_own_fault),
        cmocka_unit_test(revert_should_match_set_names_exactly_without_a_journaled_list),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
