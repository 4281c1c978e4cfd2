/*
 * A small lab for the real-service tests (test_netns_svc_*.c): one host
 * namespace per region ("west-z1-h1" at 198.18.1.33, "north-z1-h1" at
 * 198.18.2.33, ...) on one bridge, and a client namespace "cl" that the test
 * process enters, with two addresses: 198.18.0.1 (a client outside the
 * isolated region: the partition cuts it) and 198.18.0.2 (a client inside
 * the isolated region: exempt from every fault, so it keeps reaching the old
 * primary, as an application server next to it would). Faults go through
 * the injector library inside each host namespace; everything is removed at
 * the end, also after a failure.
 */
#ifndef FAULTLINE_TEST_SVC_LAB_H
#define FAULTLINE_TEST_SVC_LAB_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "faultline/driver.h"
#include "faultline/target.h"

#define SVL_MAX         5
#define SVL_CUT_CLIENT  "198.18.0.1"
#define SVL_NEAR_CLIENT "198.18.0.2"

struct svl_host {
    char name[64], region[32], zone[8], ns[64], addr[32], shortname[16];
};

extern struct svl_host svl_hosts[SVL_MAX];
extern size_t svl_n;

/* Build the lab with one host per region name; 0 or -1. Enters "cl". */
int svl_up(const char *const *regions, size_t n);
/* Leave "cl", sweep faults, stop nothing else (launchers stop their own), delete namespaces. */
void svl_down(void);
/* An env for a launcher (static storage; config borrowed). */
const struct fl_target_env *svl_env(const json_t *config, const char *primary);
/* Isolate one host's data address (drop) on every host; fail_msg on error. Returns apply time. */
int64_t svl_isolate(const char *addr);
/* Revert the isolation everywhere; returns heal time. */
int64_t svl_heal(void);
/* Remove every fault from every host (after a failed test). */
void svl_reset(void);
/* Host index by region name, or -1. */
int svl_find_region(const char *region);
/* Host index by name, or -1. */
int svl_find_name(const char *name);

/* The target a test started: svl_test_teardown stops it. */
extern const struct fl_target_ops *svl_cur_ops;
extern void *svl_cur_state;

/*
 * cmocka group setup: the lab of regions west, north, east when root and the
 * service's program bin exist (otherwise the tests skip or fail on their own
 * root/strict checks). Teardown removes the lab.
 */
int svl_group_setup(const char *bin, void **state);
int svl_group_teardown(void **state);
/* Per-test teardown: heal, and stop the target the test started. */
int svl_test_teardown(void **state);

/*
 * The endpoint of region in eps into out; near: the client sits next to the
 * region's servers (?source=, exempt from the cut). Fails the test if absent.
 */
void svl_endpoint(const struct fl_target_endpoint *eps, size_t n, const char *region, int near,
                  struct fl_endpoint *out);

/* One register-model operation named op (its kind from the driver) on endpoint 0. */
void svl_op(const struct fl_driver_ops *d, void *conn, const char *op, const char *key,
            uint64_t value, struct fl_op_result *res);
/* Compare-and-set on endpoint 0: expected (0 = absent) -> value. */
void svl_cas(const struct fl_driver_ops *d, void *conn, const char *key, uint64_t expected,
             uint64_t value, struct fl_op_result *res);
/*
 * Set and cas against a running service through conn: cas from absent,
 * from the right and a wrong value, from "absent" on a present key (ok, not
 * swapped; current_known: the driver reports the value it found); set writes
 * with a duplicate, on two neighbouring keys ("s1", "s10"); set reads return
 * exactly each key's elements, sorted; an unwritten key reads as empty.
 * writer / reader are the mix names of a write and a read.
 */
void svl_check_set_and_cas(const struct fl_driver_ops *d, void *conn, const char *writer,
                           const char *reader, int current_known);
/* A set-model operation on endpoint 0: op a write adds element value, a read returns the set. */
void svl_set_op(const struct fl_driver_ops *d, void *conn, const char *op, const char *key,
                uint64_t value, struct fl_op_result *res);

#endif
