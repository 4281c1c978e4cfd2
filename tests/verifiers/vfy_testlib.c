/* Helpers for verifier tests. See vfy_testlib.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vfy_testlib.h"

size_t tl_op(struct hist *h, uint32_t client, const char *op, bool is_write, const char *key,
             uint64_t value, const char *region, int64_t invoke_ms, int64_t complete_ms,
             int outcome)
{
    struct hist_op o;

    memset(&o, 0, sizeof(o));
    o.client = client;
    o.op = (uint16_t)hist_intern(&h->op_names, op);
    o.is_write = is_write;
    o.key = (uint32_t)hist_intern(&h->keys, key);
    o.value = value;
    o.region = (uint16_t)hist_intern(&h->regions, region ? region : "");
    o.invoke_ns = invoke_ms * MS;
    o.complete_ns = complete_ms * MS;
    o.outcome = (uint8_t)outcome;
    assert_int_equal(hist_append(h, &o), 0);
    return h->n - 1;
}

size_t tl_final(struct hist *h, const char *key, uint64_t value, int64_t at_ms)
{
    size_t i = tl_op(h, 999, "get", false, key, value, "north", at_ms, at_ms + 1, HIST_OK);

    h->ops[i].is_final = 1;
    return i;
}

void tl_fault(struct hist_faults *fs, const char *id, int64_t sent_ms, int64_t done_ms,
              int64_t heal_sent_ms, int64_t heal_done_ms)
{
    struct hist_fault f;

    memset(&f, 0, sizeof(f));
    snprintf(f.id, sizeof(f.id), "%s", id);
    snprintf(f.kind, sizeof(f.kind), "isolate");
    snprintf(f.scope, sizeof(f.scope), "region west");
    f.apply_sent_ns = sent_ms * MS;
    f.apply_done_ns = done_ms * MS;
    f.heal_sent_ns = heal_sent_ms * MS;
    f.heal_done_ns = heal_done_ms * MS;
    assert_int_equal(hist_faults_append(fs, &f), 0);
}

json_t *tl_get(json_t *root, const char *path)
{
    char buf[256], *save = NULL, *tok;
    json_t *cur = root;

    snprintf(buf, sizeof(buf), "%s", path);
    for (tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save)) {
        if (json_is_array(cur))
            cur = json_array_get(cur, (size_t)atoi(tok));
        else
            cur = json_object_get(cur, tok);
    }
    return cur;
}

double tl_num(json_t *root, const char *path)
{
    json_t *v = tl_get(root, path);

    if (v == NULL || !json_is_number(v)) {
        char *s = json_dumps(root, JSON_COMPACT);

        print_error("no number at %s in %s\n", path, s ? s : "?");
        free(s);
        fail();
    }
    return json_number_value(v);
}

bool tl_is_null(json_t *root, const char *path)
{
    json_t *v = tl_get(root, path);

    return v != NULL && json_is_null(v);
}
