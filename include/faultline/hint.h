/*
 * "Did you mean" hints: the candidate nearest to a misspelt word, for error
 * messages about unknown keys, kinds, values and names. One distance and one
 * threshold for every module, so the same typo gets the same hint from the
 * experiment parser, the injector and the CLI.
 */
#ifndef FAULTLINE_HINT_H
#define FAULTLINE_HINT_H

#include <stddef.h>

#define FL_HINT_WORD_MAX 64 /* longer words are never matched */

/*
 * Optimal string alignment distance between a and b, ignoring case: edits
 * plus swaps of neighbours ("wset" -> "west" is 1). (size_t)-1 when either
 * is longer than FL_HINT_WORD_MAX.
 */
size_t fl_hint_distance(const char *a, const char *b);

/*
 * The candidate (NULL-terminated list) closest to s, if close enough to be a
 * likely misspelling: distance <= 1 for words of up to 4 characters, <= 2 up
 * to 8, <= 3 from 9 on. NULL otherwise, or when s or candidates is NULL. The
 * result points into candidates.
 */
const char *fl_hint_nearest(const char *s, const char *const *candidates);

#endif
