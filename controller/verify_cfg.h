/*
 * The experiment's verify: section (controller/exp_verify.c): the parser
 * walks it with the verifiers' schema (vfy_schema()) and keeps it as JSON,
 * durations in integer milliseconds, with the position of every value;
 * these turn it into the verifiers' configuration.
 */
#ifndef FAULTLINE_VERIFY_CFG_H
#define FAULTLINE_VERIFY_CFG_H

#include "experiment.h"
#include "faultline/verify.h"

/*
 * Fill cfg from exp->verify with the verifiers' own reader. Returns 0 or
 * -EINVAL with err as "file:line:column: verify: <key>: what", pointing at
 * the offending value (or its nearest marked parent).
 */
int exp_verify_config(const struct experiment *exp, struct vfy_config *cfg, struct fl_err *err);

/* exp->verify as the verifiers read it (a copy; new reference), for reports and tests. */
json_t *exp_verify_json(const struct experiment *exp);

#endif
