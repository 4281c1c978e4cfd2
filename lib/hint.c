/*
 * "Did you mean" hints (see faultline/hint.h): optimal string alignment
 * distance over small words, and a threshold that grows with the word.
 */
#include <ctype.h>
#include <string.h>

#include "faultline/hint.h"

size_t fl_hint_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j;
    size_t d[FL_HINT_WORD_MAX + 1][FL_HINT_WORD_MAX + 1];

    if (la > FL_HINT_WORD_MAX || lb > FL_HINT_WORD_MAX)
        return (size_t)-1;
    for (i = 0; i <= la; i++)
        d[i][0] = i;
    for (j = 0; j <= lb; j++)
        d[0][j] = j;
    for (i = 1; i <= la; i++) {
        for (j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            size_t best = d[i - 1][j - 1] + (ca == cb ? 0 : 1);

            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

const char *fl_hint_nearest(const char *s, const char *const *candidates)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1, i, limit, len;

    if (s == NULL || candidates == NULL)
        return NULL;
    len = strlen(s);
    limit = len <= 4 ? 1 : len >= 9 ? 3 : 2;
    for (i = 0; candidates[i] != NULL; i++) {
        size_t d = fl_hint_distance(s, candidates[i]);

        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best_d <= limit ? best : NULL;
}
