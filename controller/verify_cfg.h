/*
 * The experiment's verify: section (as the parser keeps it: durations in
 * integer milliseconds, availability as {phase: {class: ratio}}, shared
 * sustain/grace at the top) turned into the verifiers' configuration.
 */
#ifndef FAULTLINE_VERIFY_CFG_H
#define FAULTLINE_VERIFY_CFG_H

#include "experiment.h"
#include "faultline/verify.h"

/*
 * Fill cfg from exp->verify. Returns 0 or -EINVAL with err as
 * "file:line:column: verify.<key>: what" pointing at the offending value.
 */
int exp_verify_config(const struct experiment *exp, struct vfy_config *cfg, struct fl_err *err);

/* The verifiers' JSON form of exp->verify (new reference), for reports and tests. */
json_t *exp_verify_json(const struct experiment *exp);

#endif
