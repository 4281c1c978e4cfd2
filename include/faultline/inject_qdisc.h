/*
 * What the qdisc fault kinds (latency ... reorder, bandwidth) do about the
 * control network, for owners that must never cut it (the agent).
 */
#ifndef FAULTLINE_INJECT_QDISC_H
#define FAULTLINE_INJECT_QDISC_H

#include <stdbool.h>

/*
 * True when a qdisc fault applied by a context with exemptions (inj_config
 * exempt, or the fault's own "exempt") sends traffic to those prefixes past
 * the netem/tbf band: a prio root qdisc whose filters put it in a band of
 * its own.
 */
bool inj_qdisc_exempts_control(void);

#endif
