/*
 * The fault kind table (controller/fault_kinds.c) is the one list of kinds:
 * the experiment-file reference documents exactly its rows, in its order;
 * the run loop's spec table (docs/internals/run.md) names every kind; the
 * injector knows every kind by the same name; every parameter key of a row
 * has a type.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fault_kinds.h"
#include "faultline/buf.h"
#include "faultline/inject.h"

static char *read_doc(const char *rel)
{
    const char *src = getenv("FAULTLINE_SOURCE_DIR");
    char path[4096], chunk[4096];
    struct fl_buf b;
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", src ? src : "../..", rel);
    f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    fl_buf_init(&b, 1 << 20);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(fl_buf_add(&b, chunk, n), 0);
    fclose(f);
    return fl_buf_take(&b);
}

/*
 * The first cells of the table that follows heading (a line of the doc)
 * into names (NULL-terminated). Returns how many.
 */
static size_t table_kinds(char *doc, const char *heading, char **names, size_t max)
{
    char *at = strstr(doc, heading), *line, *next;
    size_t n = 0;
    bool in = false;

    assert_non_null(at);
    for (line = at; line != NULL && n < max; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (strncmp(line, "| ", 2) != 0) {
            if (in)
                break;
            continue;
        }
        in = true;
        if (strncmp(line, "| kind", 6) == 0 || strncmp(line, "| ---", 5) == 0)
            continue;
        names[n++] = line + 2;
        if (strstr(line + 2, " |") != NULL)
            *strstr(line + 2, " |") = '\0';
    }
    names[n] = NULL;
    return n;
}

static void fault_kinds_should_be_documented_row_by_row(void **state)
{
    char *doc = read_doc("docs/experiment-file.md"), *names[64];
    size_t n = table_kinds(doc, "The kinds and their own keys:", names, 63), i;
    char want[80];

    (void)state;
    assert_int_equal(n, fault_kind_count());
    for (i = 0; i < n; i++) {
        snprintf(want, sizeof(want), "`%s`", fault_kind_get((enum exp_fault_kind)i)->name);
        assert_string_equal(names[i], want);
    }
    free(doc);
}

static void fault_kinds_should_each_have_a_spec_row_in_run_md(void **state)
{
    char *doc = read_doc("docs/internals/run.md"), *names[64], *row;
    size_t n = table_kinds(doc, "### Faults: experiment -> injector spec", names, 63), i, j;

    (void)state;
    for (i = 0; i < fault_kind_count(); i++) {
        const char *name = fault_kind_get((enum exp_fault_kind)i)->name;
        bool found = false;

        /* A row may name several kinds: "latency, jitter". */
        for (j = 0; j < n && !found; j++)
            for (row = names[j]; row != NULL && !found; row = strstr(row + 1, name))
                found = strncmp(row, name, strlen(name)) == 0 &&
                        (row[strlen(name)] == '\0' || row[strlen(name)] == ',');
        if (!found)
            fail_msg("docs/internals/run.md has no spec row for %s", name);
    }
    free(doc);
}

static void fault_kinds_should_be_known_to_the_injector(void **state)
{
    const char *const *inj = inj_kind_names();
    size_t i, j;

    (void)state;
    for (i = 0; i < fault_kind_count(); i++) {
        const struct fault_kind *k = fault_kind_get((enum exp_fault_kind)i);

        for (j = 0; inj[j] != NULL && strcmp(inj[j], k->name) != 0; j++)
            ;
        if (inj[j] == NULL)
            fail_msg("the injector has no kind %s", k->name);
        assert_non_null(k->build);
        assert_string_equal(experiment_fault_kind_name((enum exp_fault_kind)i), k->name);
    }
    assert_null(fault_kind_get(EXP_FAULT_KIND_COUNT));
}

static void fault_kinds_should_type_every_parameter(void **state)
{
    static const char *const scope_keys[] = {"groups", "from", "to", NULL};
    size_t i, j, s;

    (void)state;
    for (i = 0; i < fault_kind_count(); i++) {
        const struct fault_kind *k = fault_kind_get((enum exp_fault_kind)i);

        for (j = 0; k->keys[j] != NULL; j++) {
            for (s = 0; scope_keys[s] != NULL && strcmp(scope_keys[s], k->keys[j]) != 0; s++)
                ;
            if (scope_keys[s] == NULL && fault_param_type(k->keys[j]) == FP_NONE)
                fail_msg("kind %s: key %s has no type", k->name, k->keys[j]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fault_kinds_should_be_documented_row_by_row),
        cmocka_unit_test(fault_kinds_should_each_have_a_spec_row_in_run_md),
        cmocka_unit_test(fault_kinds_should_be_known_to_the_injector),
        cmocka_unit_test(fault_kinds_should_type_every_parameter),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
