/*
 * The experiment-file reference cannot drift: every ```yaml block in
 * docs/experiment-file.md must validate, every ```yaml invalid block must
 * fail, and when an invalid block carries a "# error: TEXT" comment the error
 * line must contain TEXT.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "experiment.h"
#include "faultline/buf.h"
#include "testutil.h"

static char *read_doc(void)
{
    const char *src = getenv("FAULTLINE_SOURCE_DIR");
    char path[4096];
    struct fl_buf b;
    char chunk[4096];
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/docs/experiment-file.md", src ? src : "../..");
    f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    fl_buf_init(&b, 1 << 20);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(fl_buf_add(&b, chunk, n), 0);
    fclose(f);
    return fl_buf_take(&b);
}

static void docs_examples_should_validate_as_marked(void **state)
{
    char *doc = read_doc(), *line, *next;
    struct fl_buf block;
    int lineno = 0, start = 0, in = 0, valid = 0, invalid = 0;
    char expect[256] = "";

    (void)state;
    fl_buf_init(&block, 1 << 20);
    for (line = doc; line != NULL && *line != '\0'; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        lineno++;
        if (!in && (strcmp(line, "```yaml") == 0 || strcmp(line, "```yaml invalid") == 0)) {
            in = strcmp(line, "```yaml") == 0 ? 1 : 2;
            start = lineno;
            expect[0] = '\0';
            fl_buf_reset(&block);
            continue;
        }
        if (in && strcmp(line, "```") == 0) {
            struct experiment *exp = NULL;
            struct fl_err err = {0};
            char name[64];
            int rc;

            snprintf(name, sizeof(name), "example@%d", start);
            rc = experiment_parse(block.p ? block.p : "", block.len, name, &exp, &err);
            if (in == 1 && rc != 0)
                fail_msg("docs example at line %d should be valid: %s", start, err.msg);
            if (in == 2 && rc == 0)
                fail_msg("docs example at line %d is marked invalid but validates", start);
            if (in == 2 && expect[0] != '\0' && strstr(err.msg, expect) == NULL)
                fail_msg("docs example at line %d: error '%s' lacks '%s'", start, err.msg, expect);
            experiment_free(exp);
            if (in == 1)
                valid++;
            else
                invalid++;
            in = 0;
            continue;
        }
        if (in) {
            const char *e = strstr(line, "# error: ");

            if (e != NULL && in == 2)
                snprintf(expect, sizeof(expect), "%s", e + 9);
            assert_int_equal(fl_buf_printf(&block, "%s\n", line), 0);
        }
    }
    assert_int_equal(in, 0);
    /* the reference shows complete files and mistakes: never vacuous */
    assert_true(valid >= 4);
    assert_true(invalid >= 3);
    printf("docs: %d valid and %d invalid examples checked\n", valid, invalid);
    fl_buf_free(&block);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(docs_examples_should_validate_as_marked),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
