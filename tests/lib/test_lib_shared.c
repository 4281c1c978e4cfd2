/*
 * The pieces every module shares: "did you mean" hints, mkdir -p, strict
 * JSON keys, the HTTP client setup.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "faultline/buf.h"
#include "faultline/file.h"
#include "faultline/hint.h"
#include "faultline/http.h"
#include "faultline/json.h"

static void hint_should_name_only_close_words(void **state)
{
    static const char *const words[] = {"partition", "isolate", "duration", "west", "groups", NULL};

    (void)state;
    assert_string_equal(fl_hint_nearest("partiton", words), "partition");
    assert_string_equal(fl_hint_nearest("wset", words), "west"); /* a swap is one edit */
    assert_string_equal(fl_hint_nearest("ISOLATE", words), "isolate");
    assert_string_equal(fl_hint_nearest("grups", words), "groups");
    assert_null(fl_hint_nearest("east", words)); /* 2 edits, but 4 letters allow 1 */
    assert_null(fl_hint_nearest("banana", words));
    assert_null(fl_hint_nearest(NULL, words));
    assert_int_equal(fl_hint_distance("abc", "abc"), 0);
    assert_int_equal(fl_hint_distance("ab", "ba"), 1);
}

static void mkdir_p_should_make_every_level_once(void **state)
{
    char base[] = "/tmp/fl-test-mkdir-XXXXXX", path[256];
    struct stat st;

    (void)state;
    umask(022);
    assert_non_null(mkdtemp(base));
    snprintf(path, sizeof(path), "%s/a/b/c", base);
    assert_int_equal(fl_mkdir_p(path, 0700), 0);
    assert_int_equal(fl_mkdir_p(path, 0700), 0); /* exists: fine */
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(path, sizeof(path), "%s/x/y", base);
    assert_int_equal(fl_mkdir_p_as(path, 0755, 0700, -1, -1), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(path, sizeof(path), "rm -rf '%s'", base);
    assert_int_equal(system(path), 0);
}

static void json_keys_should_name_the_first_stranger(void **state)
{
    static const char *const allowed[] = {"id", "fault", "ttl_ms", NULL};
    json_t *ok = json_pack("{s:s,s:i}", "id", "f1", "ttl_ms", 9000);
    json_t *bad = json_pack("{s:s,s:i}", "id", "f1", "ttl", 9000);

    (void)state;
    assert_null(fl_json_unknown_key(ok, allowed));
    assert_string_equal(fl_json_unknown_key(bad, allowed), "ttl");
    json_decref(ok);
    json_decref(bad);
}

static void json_find_should_return_the_first_match_only(void **state)
{
    json_t *a = json_loads("[{\"name\":\"failover\",\"n\":1},{\"name\":7},"
                           "{\"name\":\"data_loss\",\"n\":2},{\"name\":\"data_loss\",\"n\":3}]",
                           0, NULL);

    (void)state;
    assert_non_null(a);
    assert_int_equal(json_integer_value(json_object_get(fl_json_find(a, "name", "data_loss"), "n")),
                     2);
    assert_null(fl_json_find(a, "name", "data"));
    assert_null(fl_json_find(a, "other", "failover"));
    assert_null(fl_json_find(NULL, "name", "failover"));
    json_decref(a);
}

static void http_easy_should_fail_fast_with_curls_text(void **state)
{
    char errbuf[CURL_ERROR_SIZE];
    struct fl_buf b;
    CURL *c;

    (void)state;
    fl_buf_init(&b, 1024);
    /* Port 1 on loopback: nothing listens; the error lands in errbuf. */
    c = fl_http_easy("http://127.0.0.1:1/", 500, &b, errbuf);
    assert_non_null(c);
    assert_int_not_equal(curl_easy_perform(c), CURLE_OK);
    assert_true(errbuf[0] != '\0');
    curl_easy_cleanup(c);
    fl_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hint_should_name_only_close_words),
        cmocka_unit_test(mkdir_p_should_make_every_level_once),
        cmocka_unit_test(json_keys_should_name_the_first_stranger),
        cmocka_unit_test(json_find_should_return_the_first_match_only),
        cmocka_unit_test(http_easy_should_fail_fast_with_curls_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
