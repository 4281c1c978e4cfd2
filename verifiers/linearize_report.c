/*
 * The explanation of a violation (see linearize.h, struct lin_report): the
 * longest linearizable prefix, the operation that cannot follow it and the
 * window of operations overlapping that one, in the caller's numbering.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "linearize_int.h"

/* Fill the violation part of rep from the longest prefix best[0..nbest). */
int lin_explain(struct lin_ws *ws, size_t nkeep, size_t nbest, uint64_t value, uint32_t forced,
                struct lin_report *rep)
{
    const struct tk *bycall = ws->tk; /* (call, internal index) in call order */
    size_t i, nw = 0, pos = 0, cut;
    uint32_t b = UINT32_MAX;
    struct lin_wop all_buf[LIN_WINDOW_MAX];
    size_t total = 0, first = 0;

    memset(ws->bits, 0, (ws->wf + ws->wi) * 8);
    for (i = 0; i < nbest; i++)
        ws->bits[ws->best[i] / 64] |= 1ULL << (ws->best[i] % 64);
    for (i = 0; i < ws->nfin; i++) {
        if (ws->bits[i / 64] & (1ULL << (i % 64)))
            continue;
        if (b == UINT32_MAX || ws->op[i].ret < ws->op[b].ret)
            b = (uint32_t)i;
    }
    if (forced != UINT32_MAX)
        b = forced;
    if (b == UINT32_MAX)
        b = 0; /* not reached: a violation leaves a finite operation out */
    rep->prefix = malloc((nbest ? nbest : 1) * sizeof(*rep->prefix));
    if (rep->prefix == NULL)
        return -ENOMEM;
    for (i = 0; i < nbest; i++)
        rep->prefix[i] = ws->op[ws->best[i]].ext;
    rep->nprefix = nbest;
    rep->prefix_value = value;
    rep->blocker = ws->op[b].ext;
    /* Overlapping the blocker: called before it returns, returning after it is called. Keep a
     * window of LIN_WINDOW_MAX around the blocker in call order. */
    for (i = 0; i < nkeep; i++) {
        const struct iop *o = &ws->op[bycall[i].i];

        if (o->call > ws->op[b].ret)
            break;
        if (o->ret < ws->op[b].call)
            continue;
        if (bycall[i].i == b)
            pos = total;
        total++;
    }
    rep->window_total = total;
    cut = total > LIN_WINDOW_MAX ? LIN_WINDOW_MAX : total;
    if (total > cut) {
        first = pos > cut / 2 ? pos - cut / 2 : 0;
        if (first + cut > total)
            first = total - cut;
    }
    total = 0;
    for (i = 0; i < nkeep && nw < cut; i++) {
        uint32_t x = bycall[i].i;
        const struct iop *o = &ws->op[x];

        if (o->call > ws->op[b].ret)
            break;
        if (o->ret < ws->op[b].call)
            continue;
        if (total++ < first)
            continue;
        all_buf[nw].op = o->ext;
        all_buf[nw].in_prefix = (ws->bits[x / 64] >> (x % 64)) & 1;
        nw++;
    }
    memcpy(rep->window, all_buf, nw * sizeof(all_buf[0]));
    rep->nwindow = nw;
    return 0;
}
