/*
 * The curl examples of docs/agent-api.md, run in order against a live agent:
 * every ```sh block preceded by "<!-- expect: CODE... -->" is executed with
 * $AGENT and $TOKEN set and curl wrapped to record each status code, which
 * must equal the expected list. The docs cannot drift from the agent. At the
 * end nothing may be left applied.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent_fixture.h"
#include "faultline/buf.h"
#include "netns.h"
#include "testutil.h"

static struct fx_agent ag;

static int group_setup(void **state)
{
    if (!tu_is_root())
        return 0;
    if (tn_create("d") < 0)
        return -1;
    fx_settle("d");
    return fx_init(&ag, "d", "127.0.0.1:7330");
}

static int group_teardown(void **state)
{
    fx_cleanup(&ag);
    tn_cleanup();
    return 0;
}

static char *slurp(const char *path)
{
    struct fl_buf b;
    char chunk[4096];
    size_t n;
    FILE *fp = fopen(path, "re");

    if (fp == NULL)
        return NULL;
    fl_buf_init(&b, 1 << 20);
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        fl_buf_add(&b, chunk, n);
    fclose(fp);
    return b.p != NULL ? fl_buf_take(&b) : strdup("");
}

/* Run one block; returns the recorded status codes ("200 401 ") malloc'd. */
static char *run_block(const char *block)
{
    char script[256], codes[256], *out, *p;
    FILE *fp;

    snprintf(script, sizeof(script), "%s/block.sh", ag.dir);
    snprintf(codes, sizeof(codes), "%s/codes", ag.dir);
    unlink(codes);
    fp = fopen(script, "we");
    if (fp == NULL)
        return NULL;
    fprintf(fp,
            "AGENT=%s\nTOKEN=$(cat %s/token)\nD=%s\n"
            "curl() { command curl -s -o \"$D/body\" -w '%%{http_code}\\n' \"$@\" >> \"$D/codes\"; "
            "cat \"$D/body\" >&2; echo >&2; }\n%s\n",
            ag.listen, ag.dir, ag.dir, block);
    fclose(fp);
    tu_sh("ip netns exec %s sh %s", tn_name(ag.ns), script);
    out = slurp(codes);
    if (out == NULL)
        return strdup("");
    for (p = out; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return out;
}

static void docs_examples_should_return_the_documented_status_codes(void **state)
{
    char path[512], *doc, *line, *save = NULL, *expect = NULL, *got, want[128];
    struct fl_buf block;
    bool in_block = false;
    int blocks = 0, calls = 0;
    char *before, *after;
    const char *src = getenv("FAULTLINE_SOURCE_DIR");

    TU_REQUIRE_ROOT();
    assert_non_null(src);
    snprintf(path, sizeof(path), "%s/docs/agent-api.md", src);
    doc = slurp(path);
    assert_non_null(doc);
    before = tn_snapshot("d");
    assert_int_equal(fx_start(&ag, (const char *const[]){"--allow", "dev:lo", NULL}), 0);
    fl_buf_init(&block, 1 << 16);
    for (line = strtok_r(doc, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "<!-- expect:", 12) == 0) {
            expect = line + 12;
            continue;
        }
        if (!in_block && strcmp(line, "```sh") == 0) {
            if (expect == NULL)
                fail_msg("docs/agent-api.md: a ```sh block without <!-- expect: --> before it");
            in_block = true;
            fl_buf_reset(&block);
            continue;
        }
        if (in_block && strcmp(line, "```") == 0) {
            const char *e = expect;
            size_t n = 0;

            in_block = false;
            /* "200 401 -->" -> "200 401 " */
            while (*e == ' ')
                e++;
            while (*e != '\0' && strncmp(e, "-->", 3) != 0 && n < sizeof(want) - 1)
                want[n++] = *e++;
            want[n] = '\0';
            got = run_block(block.p ? block.p : "");
            if (strcmp(got, want) != 0)
                fail_msg("docs/agent-api.md block %d: expected status %s, got %s\n%s", blocks + 1,
                         want, got, block.p);
            for (e = want; *e; e++)
                calls += *e == ' ';
            free(got);
            blocks++;
            expect = NULL;
            continue;
        }
        if (in_block) {
            fl_buf_addstr(&block, line);
            fl_buf_addstr(&block, "\n");
        }
    }
    fl_buf_free(&block);
    free(doc);
    fprintf(stderr, "docs: %d blocks, %d curl calls checked\n", blocks, calls);
    assert_true(blocks >= 12);
    assert_int_equal(fx_stop(&ag, SIGTERM), 0);
    after = tn_snapshot("d");
    assert_string_equal(before, after);
    free(before);
    free(after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(docs_examples_should_return_the_documented_status_codes),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
