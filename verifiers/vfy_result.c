/*
 * Verifier results (a leaf): starting a result, its verdict (pass, fail or
 * inconclusive with a reason), its paragraph, the JSON form report.json
 * carries and the conjunction over every result of a run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/err.h"
#include "vfy_internal.h"

int vfy_result_begin(struct vfy_result *r, const char *name)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->status = VFY_PASS;
    r->pass = true;
    r->measured = json_object();
    r->bound = json_object();
    if (r->measured == NULL || r->bound == NULL) {
        vfy_result_free(r);
        return -ENOMEM;
    }
    return 0;
}

int vfy_result_set_status(struct vfy_result *r, enum vfy_status st, const char *reason)
{
    r->status = st;
    r->pass = st == VFY_PASS;
    r->skipped = st == VFY_INCONCLUSIVE;
    free(r->reason);
    r->reason = NULL;
    if (st == VFY_INCONCLUSIVE) {
        r->reason = strdup(reason ? reason : "nothing to judge");
        if (r->reason == NULL)
            return -ENOMEM;
    }
    return 0;
}

void vfy_result_set_detail(struct vfy_result *r, struct fl_buf *b)
{
    free(r->detail);
    r->detail = fl_buf_take(b);
    if (r->detail == NULL)
        r->detail = strdup("");
}

int vfy_result_inconclusive(struct vfy_result *r, const char *why)
{
    if (vfy_result_set_status(r, VFY_INCONCLUSIVE, why) < 0)
        return -ENOMEM;
    free(r->detail);
    if (asprintf(&r->detail, "%s Inconclusive: nothing to judge.", why) < 0) {
        r->detail = NULL;
        return -ENOMEM;
    }
    return 0;
}

const char *vfy_status_word(enum vfy_status st)
{
    return st == VFY_PASS ? "passed" : st == VFY_FAIL ? "FAILED" : "INCONCLUSIVE";
}

const char *vfy_status_name(enum vfy_status st)
{
    return st == VFY_PASS ? "pass" : st == VFY_FAIL ? "fail" : "inconclusive";
}

void vfy_result_free(struct vfy_result *r)
{
    if (r == NULL)
        return;
    json_decref(r->measured);
    json_decref(r->bound);
    free(r->detail);
    free(r->reason);
    memset(r, 0, sizeof(*r));
}

void vfy_results_free(struct vfy_results *rs)
{
    size_t i;

    if (rs == NULL)
        return;
    for (i = 0; i < rs->n; i++)
        vfy_result_free(&rs->r[i]);
    free(rs->r);
    memset(rs, 0, sizeof(*rs));
}

void vfy_results_allow(struct vfy_results *rs, const struct vfy_config *cfg)
{
    size_t i;

    for (i = 0; i < rs->n; i++)
        rs->r[i].allowed = rs->r[i].status == VFY_INCONCLUSIVE &&
                           vfy_names_has(&cfg->allow_inconclusive, rs->r[i].name);
}

const char *vfy_results_verdict(const struct vfy_results *rs)
{
    bool inconclusive = false;
    size_t i;

    for (i = 0; i < rs->n; i++) {
        if (rs->r[i].status == VFY_FAIL)
            return "fail";
        if (rs->r[i].status == VFY_INCONCLUSIVE && !rs->r[i].allowed)
            inconclusive = true;
    }
    return inconclusive ? "inconclusive" : "pass";
}

bool vfy_results_pass(const struct vfy_results *rs)
{
    return strcmp(vfy_results_verdict(rs), "pass") == 0;
}

const struct vfy_result *vfy_results_find(const struct vfy_results *rs, const char *name)
{
    size_t i;

    for (i = 0; i < rs->n; i++) {
        if (strcmp(rs->r[i].name, name) == 0)
            return &rs->r[i];
    }
    return NULL;
}

static json_t *result_json(const struct vfy_result *r)
{
    json_t *o = json_pack("{s:s,s:s,s:b,s:b,s:O,s:O,s:s}", "name", r->name, "status",
                          vfy_status_name(r->status), "pass", r->pass, "skipped", r->skipped,
                          "measured", r->measured ? r->measured : json_null(), "bound",
                          r->bound ? r->bound : json_null(), "detail", r->detail ? r->detail : "");

    if (o != NULL && r->status == VFY_INCONCLUSIVE) {
        json_object_set_new(o, "reason", json_string(r->reason ? r->reason : ""));
        json_object_set_new(o, "allowed", json_boolean(r->allowed));
    }
    return o;
}

json_t *vfy_results_to_json(const struct vfy_results *rs)
{
    json_t *a = json_array();
    size_t i;

    if (a == NULL)
        return NULL;
    for (i = 0; i < rs->n; i++) {
        json_t *o = result_json(&rs->r[i]);

        if (o == NULL || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}
