/*
 * Replication: the per-peer queue of this replica's own writes, the conflict
 * feed, the per-peer replication thread (sends batches after the configured
 * lag, records acknowledgements) and the replicate endpoint that applies what
 * a peer sends (last-writer-wins on write time, origin; epoch fencing).
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

size_t rs_qlen(const struct peer *p)
{
    return p->qtail - p->qhead;
}

int rs_enqueue(struct peer *p, const struct rs_repl *e)
{
    if (p->qtail == p->qcap) {
        if (p->qhead > 0 && p->qhead >= p->qcap / 2) {
            memmove(p->q, p->q + p->qhead, rs_qlen(p) * sizeof(*p->q));
            p->qtail -= p->qhead;
            p->qhead = 0;
        } else {
            size_t ncap = p->qcap ? p->qcap * 2 : 1024;
            struct rs_repl *nq = realloc(p->q, ncap * sizeof(*nq));

            if (!nq)
                return -ENOMEM;
            p->q = nq;
            p->qcap = ncap;
        }
    }
    p->q[p->qtail++] = *e;
    return 0;
}

void rs_conflict_add(struct rs_replica *r, const struct rs_repl *e, int64_t now)
{
    if (r->nconf == r->capconf) {
        size_t ncap = r->capconf ? r->capconf * 2 : 64;
        struct rs_conflict *n;

        if (ncap > CONFLICT_MAX)
            return;
        n = realloc(r->conf, ncap * sizeof(*n));
        if (!n)
            return;
        r->conf = n;
        r->capconf = ncap;
    }
    r->conf[r->nconf].e = *e;
    r->conf[r->nconf].at_ns = now;
    r->nconf++;
}

static json_t *repl_entry_json(const struct rs_repl *e)
{
    return json_pack("[s, I, I, I, s, b, b]", e->key, (json_int_t)e->value, (json_int_t)e->version,
                     (json_int_t)e->ts_ns, e->origin, e->deleted, e->set_add);
}

void *rs_repl_main(void *arg)
{
    struct peer *p = arg;
    struct rs_replica *r = p->r;
    CURL *c = curl_easy_init();
    char url[RS_URL_MAX + 64];

    snprintf(url, sizeof(url), "%s/v1/internal/replicate", p->a.url);
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        struct http_resp resp;
        json_t *req, *ents, *rep;
        int64_t now = fl_now_ns();
        /* A handover sends everything at once: the new write region must have it all. */
        int64_t lag = r->handing_over ? 0 : p->lag_ns;
        size_t n = 0, i;
        uint64_t last = 0;
        char *body;

        /* Writes fenced by a demotion are never sent. */
        while (rs_qlen(p) > 0 && p->q[p->qhead].seq <= r->drop_upto_seq) {
            p->acked_seq = p->q[p->qhead].seq;
            p->qhead++;
        }
        if (rs_qlen(p) == 0) {
            rs_wait_until(&p->cv, &r->mu, now + 200 * MS);
            continue;
        }
        if (p->q[p->qhead].enq_ns + lag > now) {
            rs_wait_until(&p->cv, &r->mu, p->q[p->qhead].enq_ns + lag);
            continue;
        }
        ents = json_array();
        for (i = p->qhead; i < p->qtail && n < BATCH_MAX; i++, n++) {
            if (p->q[i].enq_ns + lag > now)
                break;
            json_array_append_new(ents, repl_entry_json(&p->q[i]));
            last = p->q[i].seq;
        }
        req = json_pack("{s:s, s:s, s:s, s:I, s:b, s:b, s:I, s:o}", "from", r->id, "region",
                        r->region, "write_region", r->write_region, "epoch", (json_int_t)r->epoch,
                        "handover", r->handover_epoch, "reclaim", r->reclaim_epoch, "epoch_writes",
                        (json_int_t)r->epoch_writes, "entries", ents);
        pthread_mutex_unlock(&r->mu);
        body = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        rs_http_call(c, url, body, 1000 * MS, 0, &resp);
        free(body);
        rep = NULL;
        if (resp.rc == CURLE_OK && (resp.status == 200 || resp.status == 409))
            rep = json_loads(resp.body.p ? resp.body.p : "", 0, NULL);
        fl_buf_free(&resp.body);
        pthread_mutex_lock(&r->mu);
        now = fl_now_ns();
        if (rep && resp.status == 200) {
            rs_contact(r, p, now);
            /* Only entries still at the head were sent (a demotion may have fenced some). */
            while (rs_qlen(p) > 0 && p->q[p->qhead].seq <= last) {
                p->acked_seq = p->q[p->qhead].seq;
                p->qhead++;
            }
            pthread_cond_broadcast(&r->cv);
        } else if (rep) {
            rs_contact(r, p, now);
            rs_peer_state(r, rep, p->a.region, true, now);
        } else {
            int64_t back = r->c.heartbeat_ns < 100 * MS ? r->c.heartbeat_ns : 100 * MS;

            rs_wait_until(&p->cv, &r->mu, now + back);
        }
        json_decref(rep);
    }
    pthread_mutex_unlock(&r->mu);
    curl_easy_cleanup(c);
    return NULL;
}

json_t *rs_replica_replicate(struct rs_replica *r, json_t *req, int *status)
{
    json_t *ents = json_object_get(req, "entries"), *e, *rep;
    uint64_t epoch = (uint64_t)json_integer_value(json_object_get(req, "epoch"));
    struct peer *p;
    int64_t now = fl_now_ns();
    size_t i, applied = 0;

    if (!json_is_array(ents)) {
        *status = 400;
        return json_pack("{s:s, s:s}", "error", "entries: expected a list", "code", "bad_request");
    }
    pthread_mutex_lock(&r->mu);
    p = rs_peer_by_id(r, json_string_value(json_object_get(req, "from")));
    if (p)
        rs_contact(r, p, now);
    rs_peer_state(r, req, p ? p->a.region : NULL, false, now);
    if (rs_is_cosmos_single(r) && epoch < r->epoch) {
        /* A stale write region: its writes go to its conflict feed, not here. */
        rep = json_pack("{s:s, s:s, s:s, s:s, s:I, s:b, s:b, s:I}", "error", "stale epoch", "code",
                        "stale_epoch", "region", r->region, "write_region", r->write_region,
                        "epoch", (json_int_t)r->epoch, "handover", r->handover_epoch, "reclaim",
                        r->reclaim_epoch, "epoch_writes", (json_int_t)r->epoch_writes);
        pthread_mutex_unlock(&r->mu);
        *status = 409;
        return rep;
    }
    if (r->resync_peer >= 0 || (rs_is_cosmos_single(r) && epoch > r->epoch)) {
        /*
         * Resyncing, or a newer epoch not adopted yet (decided by this replica's
         * own next exchange with the sender's region): the sender keeps these
         * queued and sends them again.
         */
        pthread_mutex_unlock(&r->mu);
        *status = 503;
        return json_pack("{s:s, s:s}", "error",
                         r->resync_peer >= 0 ? "resyncing from the write region"
                                             : "newer epoch not adopted yet",
                         "code", r->resync_peer >= 0 ? "resyncing" : "not_ready");
    }
    json_array_foreach(ents, i, e)
    {
        const char *key = json_string_value(json_array_get(e, 0));
        const char *origin = json_string_value(json_array_get(e, 4));
        int64_t ts = (int64_t)json_integer_value(json_array_get(e, 3));
        struct rs_entry *x;

        if (!key || !origin || strlen(key) >= RS_KEY_MAX)
            continue;
        x = rs_store_upsert(&r->store, key);
        if (!x)
            break;
        if (json_is_true(json_array_get(e, 6))) {
            /* set model: adding an element commutes; no last-writer-wins */
            if (rs_entry_add_elem(x, (uint64_t)json_integer_value(json_array_get(e, 1))) > 0)
                applied++;
            continue;
        }
        if (x->version != 0 &&
            (ts < x->ts_ns || (ts == x->ts_ns && strcmp(origin, x->origin) <= 0)))
            continue; /* last writer wins */
        x->value = (uint64_t)json_integer_value(json_array_get(e, 1));
        x->version = (uint64_t)json_integer_value(json_array_get(e, 2));
        x->ts_ns = ts;
        snprintf(x->origin, sizeof(x->origin), "%s", origin);
        x->deleted = json_is_true(json_array_get(e, 5));
        if (x->first_value == 0)
            x->first_value = x->value;
        applied++;
    }
    pthread_mutex_unlock(&r->mu);
    *status = 200;
    return json_pack("{s:b, s:I}", "ok", 1, "applied", (json_int_t)applied);
}
