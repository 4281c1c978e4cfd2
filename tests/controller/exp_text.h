/*
 * Experiment text parsed in a cmocka test, as file "g.yaml": parse_ok()
 * returns the experiment (the caller frees it) or fails the test with the
 * parser's message; parse_bad() expects exactly msg.
 */
#ifndef FAULTLINE_TEST_EXP_TEXT_H
#define FAULTLINE_TEST_EXP_TEXT_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "experiment.h"

static inline struct experiment *parse_ok(const char *text)
{
    struct experiment *exp = NULL;
    struct fl_err err = {0};

    if (experiment_parse(text, strlen(text), "g.yaml", &exp, &err) != 0)
        fail_msg("unexpected error: %s", err.msg);
    return exp;
}

static inline void parse_bad(const char *text, const char *msg)
{
    struct experiment *exp = NULL;
    struct fl_err err = {0};

    assert_int_equal(experiment_parse(text, strlen(text), "g.yaml", &exp, &err), -EINVAL);
    assert_null(exp);
    if (strcmp(err.msg, msg) != 0)
        fail_msg("expected\n  %s\ngot\n  %s", msg, err.msg);
}

#endif
