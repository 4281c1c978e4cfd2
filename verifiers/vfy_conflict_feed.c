/*
 * conflict_feed: a service that keeps a conflict feed (Cosmos DB's, and
 * faultline-refstore's GET /v1/conflicts) promises that a write it
 * acknowledged and then dropped (the unreplicated writes of a write region
 * that lost its role) is not silently gone: it is in the feed. The verifier
 * takes the acknowledged writes that are missing after recovery, by exactly
 * the data_loss verifier's rule, and looks each one up in the feed the run
 * loop fetched after the final reads. It passes when every one is there and
 * fails when one is in neither the data nor the feed. Write values are unique
 * across a run, so a write is found in the feed by its value.
 *
 * Inconclusive: the feed was not fetched, or no acknowledged write had a
 * final read to check it against. Measured: the missing writes, how many of
 * them the feed holds, the feed's size, and the feed entries whose write is
 * not missing (present in the data, or never acknowledged), which the
 * service may list too (an unknown outcome it dropped) and which do not fail.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/err.h"
#include "vfy_internal.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

struct cf_measure {
    size_t *lost; /* sorted positions of the missing acknowledged writes */
    size_t nlost;
    uint64_t checked;
    uint64_t in_feed, missing;
    size_t first_missing[VFY_LIST_MAX], nlisted;
};

static int cf_json(const struct vfy_ctx *c, const struct vfy_conflict_feed_cfg *cf,
                   const struct cf_measure *m, struct vfy_result *out)
{
    json_t *list = json_array();
    size_t i;

    if (list == NULL)
        return -ENOMEM;
    for (i = 0; i < m->nlisted; i++)
        json_array_append_new(list, vfy_record_json(c, m->first_missing[i]));
    json_object_set_new(out->measured, "acknowledged_checked",
                        json_integer((json_int_t)m->checked));
    json_object_set_new(out->measured, "missing_after_recovery",
                        json_integer((json_int_t)m->nlost));
    json_object_set_new(out->measured, "in_feed", json_integer((json_int_t)m->in_feed));
    json_object_set_new(out->measured, "in_neither", json_integer((json_int_t)m->missing));
    json_object_set_new(out->measured, "feed_entries", json_integer((json_int_t)cf->nvalues));
    json_object_set_new(out->measured, "feed_not_missing",
                        json_integer((json_int_t)(cf->nvalues - m->in_feed)));
    json_object_set_new(out->measured, "in_neither_first", list);
    json_object_set_new(out->bound, "in_neither", json_integer(0));
    return 0;
}

static void cf_text(const struct vfy_ctx *c, const struct vfy_conflict_feed_cfg *cf,
                    const struct cf_measure *m, const struct vfy_result *out, struct fl_buf *b)
{
    size_t i;

    fl_buf_printf(b,
                  "conflict_feed %s: %" PRIu64 " acknowledged writes checked, %zu missing after "
                  "recovery, %" PRIu64 " of them in the service's conflict feed (%zu entries)",
                  vfy_status_word(out->status), m->checked, m->nlost, m->in_feed, cf->nvalues);
    if (m->missing == 0) {
        fl_buf_addstr(b, m->nlost ? ": every dropped write was offered back, as promised."
                                  : ": nothing was dropped.");
        return;
    }
    fl_buf_printf(b,
                  ". %" PRIu64 " acknowledged writes are in neither the data nor the feed: lost "
                  "without a trace, which a conflict feed exists to prevent. First:",
                  m->missing);
    for (i = 0; i < m->nlisted; i++) {
        fl_buf_addstr(b, i ? "; " : " ");
        vfy_record_text(c, m->first_missing[i], b);
    }
    fl_buf_addstr(b, ".");
}

int vfy_conflict_feed_run(struct vfy_ctx *c, const struct vfy_config *cfg, struct vfy_result *out,
                          struct fl_err *err)
{
    const struct vfy_conflict_feed_cfg *cf = &cfg->conflict_feed;
    struct cf_measure m;
    uint64_t *feed = NULL;
    struct fl_buf d;
    size_t i;
    int r;

    memset(&m, 0, sizeof(m));
    if ((r = vfy_result_begin(out, "conflict_feed")) < 0)
        return fl_errf(err, r, "out of memory");
    fl_buf_init(&d, VFY_DETAIL_MAX);
    if (!cf->fetched) {
        r = vfy_result_inconclusive(out, "the service's conflict feed was not fetched (the run "
                                         "fetches it after the final reads; a target without "
                                         "a feed cannot use this verifier)");
        goto out;
    }
    if (cf->nvalues > 0) {
        feed = malloc(cf->nvalues * sizeof(*feed));
        if (feed == NULL) {
            r = -ENOMEM;
            goto out;
        }
        memcpy(feed, cf->values, cf->nvalues * sizeof(*feed));
        qsort(feed, cf->nvalues, sizeof(*feed), cmp_u64);
    }
    if ((r = vfy_data_loss_lost(c, &m.lost, &m.nlost, &m.checked)) < 0)
        goto out;
    for (i = 0; i < m.nlost; i++) {
        const struct hist_op *o = &c->ops[m.lost[i]];

        if (hist_sorted_has(feed, cf->nvalues, o->value)) {
            m.in_feed++;
            continue;
        }
        m.missing++;
        if (m.nlisted < VFY_LIST_MAX)
            m.first_missing[m.nlisted++] = m.lost[i];
    }
    if ((r = cf_json(c, cf, &m, out)) < 0)
        goto out;
    if (m.missing > 0)
        r = vfy_result_set_status(out, VFY_FAIL, NULL);
    else if (m.checked == 0)
        r = vfy_result_set_status(out, VFY_INCONCLUSIVE,
                                  "no acknowledged write had a final read to check it against");
    if (r < 0)
        goto out;
    cf_text(c, cf, &m, out, &d);
    vfy_result_set_detail(out, &d);
out:
    if (r < 0) {
        vfy_result_free(out);
        r = fl_errf(err, r, "out of memory in the conflict_feed verifier");
    }
    free(feed);
    free(m.lost);
    fl_buf_free(&d);
    return r;
}
