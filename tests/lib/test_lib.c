/* Unit tests for lib/: CIDRs, durations, rates, capped buffers, errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "faultline/buf.h"
#include "faultline/cidr.h"
#include "faultline/err.h"
#include "faultline/timeutil.h"

static void cidr_should_parse_v4_and_v6(void **state)
{
    struct fl_cidr c;
    char buf[64];

    assert_int_equal(fl_cidr_parse("198.18.1.0/24", &c, NULL), 0);
    assert_int_equal(c.family, AF_INET);
    assert_int_equal(c.prefix, 24);
    assert_string_equal(fl_cidr_format(&c, buf, sizeof(buf)), "198.18.1.0/24");
    assert_int_equal(fl_cidr_parse("10.0.0.1", &c, NULL), 0);
    assert_int_equal(c.prefix, 32);
    assert_int_equal(fl_cidr_parse("fd00::/64", &c, NULL), 0);
    assert_int_equal(c.family, AF_INET6);
    assert_int_equal(c.prefix, 64);
}

static void cidr_should_refuse_bad_input_precisely(void **state)
{
    struct fl_cidr c;
    struct fl_err e;

    fl_err_clear(&e);
    assert_int_equal(fl_cidr_parse("198.18.1.1/24", &c, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "host bits set"));
    fl_err_clear(&e);
    assert_int_equal(fl_cidr_parse("198.18.1.0/33", &c, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "0..32"));
    fl_err_clear(&e);
    assert_int_equal(fl_cidr_parse("300.1.1.0/24", &c, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "not an IPv4 or IPv6 address"));
    assert_int_equal(fl_cidr_parse("10.0.0.0/", &c, NULL), -EINVAL);
    assert_int_equal(fl_cidr_parse("10.0.0.0/8x", &c, NULL), -EINVAL);
    assert_int_equal(fl_cidr_parse("", &c, NULL), -EINVAL);
}

static void cidr_should_compute_containment_and_last(void **state)
{
    struct fl_cidr a, b, c6;
    uint8_t last[16];

    fl_cidr_parse("10.0.0.0/8", &a, NULL);
    fl_cidr_parse("10.1.2.0/24", &b, NULL);
    fl_cidr_parse("fd00::/8", &c6, NULL);
    assert_true(fl_cidr_contains(&a, &b));
    assert_false(fl_cidr_contains(&b, &a));
    assert_true(fl_cidr_overlaps(&b, &a));
    assert_false(fl_cidr_overlaps(&a, &c6));
    fl_cidr_last(&b, last);
    assert_int_equal(last[0], 10);
    assert_int_equal(last[2], 2);
    assert_int_equal(last[3], 255);
}

static void duration_should_parse_strictly(void **state)
{
    int64_t ns;
    double r;
    struct fl_err e;

    assert_int_equal(fl_duration_parse("250ms", &ns, NULL), 0);
    assert_int_equal(ns, 250000000LL);
    assert_int_equal(fl_duration_parse("3m", &ns, NULL), 0);
    assert_int_equal(ns, 180000000000LL);
    assert_int_equal(fl_duration_parse("0s", &ns, NULL), 0);
    assert_int_equal(ns, 0);
    fl_err_clear(&e);
    assert_int_equal(fl_duration_parse("10", &ns, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "missing unit"));
    assert_int_equal(fl_duration_parse("1.5s", &ns, NULL), -EINVAL);
    assert_int_equal(fl_duration_parse("10 s", &ns, NULL), -EINVAL);
    assert_int_equal(fl_duration_parse("-1s", &ns, NULL), -EINVAL);
    assert_int_equal(fl_rate_parse("500/s", &r, NULL), 0);
    assert_true(r == 500.0);
    assert_int_equal(fl_rate_parse("60/m", &r, NULL), 0);
    assert_true(r == 1.0);
    assert_int_equal(fl_rate_parse("500", &r, NULL), -EINVAL);
    assert_int_equal(fl_rate_parse("0/s", &r, NULL), -EINVAL);
}

static void buf_should_stop_at_its_maximum(void **state)
{
    struct fl_buf b;

    fl_buf_init(&b, 8);
    assert_int_equal(fl_buf_addstr(&b, "12345"), 0);
    assert_int_equal(fl_buf_printf(&b, "%d", 678), 0);
    assert_string_equal(b.p, "12345678");
    assert_int_equal(fl_buf_addstr(&b, "9"), -E2BIG);
    assert_string_equal(b.p, "12345678");
    fl_buf_free(&b);
    fl_buf_free(NULL);
}

static void err_should_keep_the_first_error(void **state)
{
    struct fl_err e;

    fl_err_clear(&e);
    assert_int_equal(fl_errf(&e, -EINVAL, "first %d", 1), -EINVAL);
    assert_int_equal(fl_errf(&e, -ENOENT, "second"), -ENOENT);
    assert_string_equal(e.msg, "first 1");
    assert_int_equal(e.code, -EINVAL);
    fl_err_prefix(&e, "fault %s", "f1");
    assert_string_equal(e.msg, "fault f1: first 1");
    assert_int_equal(fl_errf(NULL, -EIO, "dropped"), -EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cidr_should_parse_v4_and_v6),
        cmocka_unit_test(cidr_should_refuse_bad_input_precisely),
        cmocka_unit_test(cidr_should_compute_containment_and_last),
        cmocka_unit_test(duration_should_parse_strictly),
        cmocka_unit_test(buf_should_stop_at_its_maximum),
        cmocka_unit_test(err_should_keep_the_first_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
