/*
 * A Redis Sentinel split brain, end to end with real redis-server and
 * redis-sentinel (needs root and the packages): the master's region is
 * partitioned from the other two while the clients reach both sides, with
 * min-replicas-to-write 0, so the old master keeps acknowledging writes that
 * it throws away when it rejoins as a replica. The verdicts must say so:
 *   1 model: set (tests/e2e/experiments/redis-split-brain-set.yaml):
 *     data_loss fails, naming lost elements acknowledged after the fault
 *     began, however many writes came later;
 *   2 model: register with a cas-heavy mix (redis-split-brain-cas.yaml):
 *     linearizable fails, naming a key and the operations no order explains.
 * One source, two programs (E2E_GROUP), each around a minute.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e_util.h"
#include "testutil.h"

#ifndef E2E_GROUP
#define E2E_GROUP 1
#endif

static void require_redis(void)
{
    TU_REQUIRE_ROOT();
    if (access("/usr/bin/redis-sentinel", X_OK) != 0) {
        if (tu_strict())
            fail_msg("redis-sentinel is not installed (scripts/setup.sh --with-services)");
        tu_note_skip(__func__, "redis-sentinel not installed");
        skip();
    }
}

static const json_t *verifier(const json_t *r, const char *name)
{
    const json_t *v;
    size_t i;

    json_array_foreach(json_object_get(r, "verifiers"), i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
            return v;
    }
    return NULL;
}

/*
 * Run the experiment file rel; it must exit 1 with verdict fail and the
 * verifier name failing (status "fail", not inconclusive). Returns the
 * report (caller decrefs) after checking that no lab is left behind.
 */
static json_t *split_brain_should_fail(const char *rel, const char *tag, const char *name)
{
    char *dir = e2e_tmpdir(tag), *before = e2e_root_snapshot(), *after, file[1024], log[1024];
    const char *args[] = {"run", "-q", "--out", dir, file, NULL};
    const char *id;
    const json_t *v;
    json_t *r;
    char *m, what[512];
    int rc;

    snprintf(file, sizeof(file), "%s/%s", e2e_src(), rel);
    snprintf(log, sizeof(log), "%s.log", dir);
    rc = e2e_run(log, 150000, args);
    r = e2e_check_outputs(dir, dir);
    if (r == NULL || rc != 1)
        e2e_print_log(log);
    assert_non_null(r);
    v = verifier(r, name);
    assert_non_null(v);
    m = json_dumps(json_object_get(v, "measured"), JSON_COMPACT);
    fprintf(stderr, "%s: exit %d, verdict %s\n%s: %s\nmeasured: %.2000s\n", tag, rc,
            json_string_value(json_object_get(r, "verdict")), name,
            json_string_value(json_object_get(v, "detail")), m ? m : "");
    free(m);
    assert_int_equal(rc, 1);
    assert_string_equal(json_string_value(json_object_get(r, "verdict")), "fail");
    assert_false(json_is_true(json_object_get(v, "pass")));
    if (json_object_get(v, "status"))
        assert_string_equal(json_string_value(json_object_get(v, "status")), "fail");
    id = json_string_value(json_object_get(json_object_get(r, "lab"), "id"));
    assert_non_null(id);
    if (e2e_lab_left(id, what, sizeof(what)))
        fail_msg("lab %s left: %s", id, what);
    after = e2e_root_snapshot();
    assert_string_equal(before, after);
    free(before);
    free(after);
    tu_sh("rm -rf '%s' '%s'", dir, log);
    free(dir);
    return r;
}

#if E2E_GROUP == 1
/* Set model: the elements the old master acknowledged during the split are gone. */
static void split_brain_should_fail_data_loss_with_set_model(void **state)
{
    const json_t *v, *ms;
    json_t *r;

    (void)state;
    require_redis();
    r = split_brain_should_fail("tests/e2e/experiments/redis-split-brain-set.yaml",
                                "redis-split-brain-set", "data_loss");
    v = verifier(r, "data_loss");
    ms = json_object_get(v, "measured");
    assert_string_equal(json_string_value(json_object_get(ms, "model")), "set");
    /* Lost elements, acknowledged after the partition began (the split brain's side). */
    assert_true(json_integer_value(json_object_get(ms, "lost_updates")) > 0);
    assert_true(json_integer_value(json_object_get(ms, "lost_after")) > 0);
    assert_non_null(strstr(json_string_value(json_object_get(v, "detail")), "lost"));
    json_decref(r);
}
#endif

#if E2E_GROUP == 2
/* Register model, cas-heavy: the history has no linearization. */
static void split_brain_should_fail_linearizable_with_cas(void **state)
{
    const json_t *v;
    json_t *r;

    (void)state;
    require_redis();
    r = split_brain_should_fail("tests/e2e/experiments/redis-split-brain-cas.yaml",
                                "redis-split-brain-cas", "linearizable");
    v = verifier(r, "linearizable");
    /* The report names the key whose operations cannot be ordered. */
    assert_true(json_array_size(json_object_get(json_object_get(v, "measured"), "violations")) >
                    0 ||
                strstr(json_string_value(json_object_get(v, "detail")), "Key k") != NULL);
    json_decref(r);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
#if E2E_GROUP == 1
        cmocka_unit_test(split_brain_should_fail_data_loss_with_set_model),
#elif E2E_GROUP == 2
        cmocka_unit_test(split_brain_should_fail_linearizable_with_cas),
#endif
    };

    setvbuf(stdout, NULL, _IONBF, 0);
    setvbuf(stderr, NULL, _IONBF, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
