/*
 * Helpers for verifier tests: build histories and fault timelines by hand
 * in milliseconds, and read numbers out of a result's measured JSON by path.
 */
#ifndef VFY_TESTLIB_H
#define VFY_TESTLIB_H

#include <stdbool.h>
#include <stdint.h>

#include "faultline/history.h"
#include "faultline/verify.h"

#define MS 1000000LL

/* Append one record; times in ms; returns its record number. */
size_t tl_op(struct hist *h, uint32_t client, const char *op, bool is_write, const char *key,
             uint64_t value, const char *region, int64_t invoke_ms, int64_t complete_ms,
             int outcome);
/* Append a final read. */
size_t tl_final(struct hist *h, const char *key, uint64_t value, int64_t at_ms);
/* Append a fault; heal times 0 = never healed. */
void tl_fault(struct hist_faults *fs, const char *id, int64_t sent_ms, int64_t done_ms,
              int64_t heal_sent_ms, int64_t heal_done_ms);
/* measured/bound lookup by a dotted path ("faults.0.rto_ms.read"); NULL when absent. */
json_t *tl_get(json_t *root, const char *path);
/* Number at path (integer or real), failing the test when absent. */
double tl_num(json_t *root, const char *path);
/* True when path exists and is null. */
bool tl_is_null(json_t *root, const char *path);

#endif
