/*
 * Resync: fetching a full snapshot from a peer into the (cleared) store, and
 * the snapshot endpoint that serves one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "faultline/buf.h"
#include "faultline/err.h"
#include "faultline/http.h"
#include "faultline/log.h"
#include "faultline/refstore_bugs.h"
#include "faultline/timeutil.h"
#include "replica_int.h"

/* ---------- peer threads ---------- */

/* Load one snapshot entry into the (cleared) store. */
static void load_entry(struct rs_replica *r, json_t *e)
{
    struct rs_entry *x = rs_store_upsert(&r->store, json_string_value(json_array_get(e, 0)) ?: "");
    json_t *els = json_array_get(e, 7), *v;
    size_t i;

    if (!x)
        return;
    x->value = (uint64_t)json_integer_value(json_array_get(e, 1));
    x->version = (uint64_t)json_integer_value(json_array_get(e, 2));
    x->ts_ns = (int64_t)json_integer_value(json_array_get(e, 3));
    snprintf(x->origin, sizeof(x->origin), "%s", json_string_value(json_array_get(e, 4)) ?: "");
    x->deleted = json_is_true(json_array_get(e, 5));
    x->first_value = (uint64_t)json_integer_value(json_array_get(e, 6));
    json_array_foreach(els, i, v)
    {
        if (rs_entry_add_elem(x, (uint64_t)json_integer_value(v)) < 0)
            break;
    }
    x->first_elem = (uint64_t)json_integer_value(json_array_get(e, 8)) ?: x->first_elem;
}

/*
 * Replace the store with a snapshot of p. Only a snapshot of the write
 * region this replica follows, at its epoch, is taken: a replica never
 * resyncs from a store that is not the write region's. Replication into this
 * replica is refused while the resync is pending (the sender keeps it
 * queued), so nothing applied between the snapshot and the load is lost.
 */
void rs_resync(struct rs_replica *r, struct peer *p, CURL *c)
{
    struct http_resp resp;
    char url[RS_URL_MAX + 64];
    json_t *o = NULL, *ents, *e;
    const char *src_wr;
    uint64_t src_epoch;
    size_t i;

    snprintf(url, sizeof(url), "%s/v1/internal/snapshot", p->a.url);
    rs_http_call(c, url, NULL, 5000 * MS, 0, &resp);
    if (resp.rc == CURLE_OK && resp.status == 200)
        o = json_loads(resp.body.p ? resp.body.p : "", 0, NULL);
    fl_buf_free(&resp.body);
    ents = json_object_get(o, "entries");
    src_wr = json_string_value(json_object_get(o, "write_region"));
    src_epoch = (uint64_t)json_integer_value(json_object_get(o, "epoch"));
    pthread_mutex_lock(&r->mu);
    if (json_is_array(ents) && r->resync_peer == p->idx) {
        if (!src_wr || strcmp(src_wr, p->a.region) != 0 || strcmp(src_wr, r->write_region) != 0 ||
            src_epoch != r->epoch) {
            /* Not the write region we follow (any more): ask the right one. */
            struct peer *w = rs_best_peer(r, r->write_region);

            r->resync_peer = strcmp(r->write_region, r->region) != 0 && w ? w->idx : -1;
        } else {
            rs_store_clear(&r->store);
            json_array_foreach(ents, i, e)
            {
                load_entry(r, e);
            }
            r->resync_peer = -1;
            rs_event_add(r, "resync", fl_now_ns(), "from=%s keys=%zu", p->a.name,
                         json_array_size(ents));
            rs_recompute_current(r, fl_now_ns());
        }
    }
    pthread_mutex_unlock(&r->mu);
    json_decref(o);
}

json_t *rs_replica_snapshot(struct rs_replica *r)
{
    json_t *ents = json_array(), *o;
    size_t i;

    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->store.nb; i++) {
        struct rs_entry *e = r->store.b[i];

        for (; e; e = e->next) {
            json_t *els = json_array();
            size_t j;

            for (j = 0; j < e->nelems; j++)
                json_array_append_new(els, json_integer((json_int_t)e->elems[j]));
            json_array_append_new(
                ents, json_pack("[s, I, I, I, s, b, I, o, I]", e->key, (json_int_t)e->value,
                                (json_int_t)e->version, (json_int_t)e->ts_ns, e->origin, e->deleted,
                                (json_int_t)e->first_value, els, (json_int_t)e->first_elem));
        }
    }
    o = json_pack("{s:s, s:s, s:s, s:I, s:b, s:o}", "id", r->id, "region", r->region,
                  "write_region", r->write_region, "epoch", (json_int_t)r->epoch, "current",
                  r->current, "entries", ents);
    pthread_mutex_unlock(&r->mu);
    return o;
}
