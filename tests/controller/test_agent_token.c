/*
 * The controller's side of the agents' token: the agent's limits
 * (faultline/token.h), an error rather than a shortened token, the whole
 * token in the Authorization header however long.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent_token.h"

static char path[64];

static void write_token_file(const char *content, size_t len)
{
    FILE *f;

    snprintf(path, sizeof(path), "/tmp/fl-t%d-token", (int)getpid());
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, len, f), len);
    fclose(f);
}

static char *letters(size_t n)
{
    char *s = malloc(n + 2);
    size_t i;

    assert_non_null(s);
    for (i = 0; i < n; i++)
        s[i] = (char)('a' + i % 26);
    s[n] = '\0';
    return s;
}

static void token_read_should_accept_the_agents_longest_token_whole(void **state)
{
    char *want = letters(FL_TOKEN_MAX - 1), *tok = NULL;
    struct fl_err e;

    (void)state;
    fl_err_clear(&e);
    strcat(want, "\n"); /* FL_TOKEN_MAX bytes with the newline: the agent takes it */
    write_token_file(want, FL_TOKEN_MAX);
    assert_int_equal(agent_token_read(path, &tok, &e), 0);
    assert_int_equal(strlen(tok), FL_TOKEN_MAX - 1);
    assert_memory_equal(tok, want, FL_TOKEN_MAX - 1);
    agent_token_free(tok);
    free(want);
    unlink(path);
}

static void token_read_should_refuse_a_file_larger_than_the_agents_limit(void **state)
{
    char *big = letters(FL_TOKEN_MAX + 1), *tok = NULL, lim[32];
    struct fl_err e;

    (void)state;
    fl_err_clear(&e);
    write_token_file(big, FL_TOKEN_MAX + 1);
    assert_true(agent_token_read(path, &tok, &e) < 0);
    assert_null(tok);
    assert_non_null(strstr(e.msg, path));
    snprintf(lim, sizeof(lim), "larger than %d bytes", FL_TOKEN_MAX);
    assert_non_null(strstr(e.msg, lim));
    free(big);
    unlink(path);
}

static void token_read_should_refuse_short_or_unprintable_tokens(void **state)
{
    static const char cr[] = "0123456789abcdef\r\nX-Injected: 1\n";
    char *tok = NULL;
    struct fl_err e;

    (void)state;
    fl_err_clear(&e);
    write_token_file("0123456789abcde\n", 16);
    assert_true(agent_token_read(path, &tok, &e) < 0);
    assert_non_null(strstr(e.msg, "at least 16"));
    /* A line break inside the token would add a header of its own. */
    fl_err_clear(&e);
    write_token_file(cr, sizeof(cr) - 1);
    assert_true(agent_token_read(path, &tok, &e) < 0);
    assert_non_null(strstr(e.msg, "printable ASCII"));
    assert_null(tok);
    unlink(path);
}

static void agent_headers_should_carry_the_whole_token(void **state)
{
    char *tok = letters(FL_TOKEN_MAX - 1);
    struct curl_slist *h = agent_headers(tok), *p;
    bool found = false;

    (void)state;
    assert_non_null(h);
    for (p = h; p != NULL; p = p->next)
        if (strncmp(p->data, "Authorization: Bearer ", 22) == 0) {
            found = true;
            assert_string_equal(p->data + 22, tok);
        }
    assert_true(found);
    agent_headers_free(h);
    h = agent_headers(NULL);
    for (p = h; p != NULL; p = p->next)
        assert_null(strstr(p->data, "Authorization"));
    agent_headers_free(h);
    free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_read_should_accept_the_agents_longest_token_whole),
        cmocka_unit_test(token_read_should_refuse_a_file_larger_than_the_agents_limit),
        cmocka_unit_test(token_read_should_refuse_short_or_unprintable_tokens),
        cmocka_unit_test(agent_headers_should_carry_the_whole_token),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
