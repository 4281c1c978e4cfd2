/*
 * The optional promise: section: which claim of which document the
 * experiment checks, as the document's own table names it (doc, row,
 * column, claim), one cell or a list of cells. A cell may name the
 * verifiers that decide it (`verifiers: [data_loss]`, each one of the
 * file's verify: section); without, the experiment's verdict decides. The
 * run copies the cells into report.json; a run of several experiments lays
 * them out as the document's table (promises.md and index.html,
 * controller/report_index.c). See docs/experiment-file.md.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "exp_int.h"

#define PROMISE_TEXT_MAX  256 /* bytes of each field */
#define PROMISE_CELLS_MAX 16

static const char *const cell_keys[] = {"doc", "row", "column", "claim", "verifiers", NULL};
static const char *const cell_required[] = {"doc", "row", "column", "claim", NULL};
/* keys of verify: that are not verifiers */
static const char *const shared_keys[] = {"sustain", "grace", "allow_inconclusive", "regression",
                                          NULL};

static int text_field(struct pctx *p, struct fy_node *x, struct fy_node *kn, const char *path,
                      json_t *o, const char *key)
{
    const char *s;
    size_t j;
    int rc;

    if ((rc = get_str(p, x, kn, path, &s)) < 0)
        return rc;
    if (s[0] == '\0' || strlen(s) >= PROMISE_TEXT_MAX)
        return perr(p, x, kn, "%s: expected text of 1 to %d bytes, found %zu bytes", path,
                    PROMISE_TEXT_MAX - 1, strlen(s));
    for (j = 0; s[j] != '\0'; j++)
        if ((unsigned char)s[j] < 0x20 || s[j] == 0x7f)
            return perr(p, x, kn, "%s: expected one line of text, found a control character", path);
    if (json_object_set_new(o, key, json_string(s)) < 0)
        return fl_errf(p->err, -ENOMEM, "out of memory");
    return 0;
}

/* cell.verifiers: names of verifiers the file's verify: section enables. */
static int verifier_list(struct pctx *p, struct fy_node *x, struct fy_node *kn, const char *path,
                         json_t *o)
{
    json_t *list = json_array();
    char ip[PATH_LEN];
    void *it = NULL;
    struct fy_node *e;
    size_t i = 0;
    int rc;

    if (list == NULL)
        return fl_errf(p->err, -ENOMEM, "out of memory");
    json_object_set_new(o, "verifiers", list);
    if ((rc = expect_seq(p, x, kn, path)) < 0)
        return rc;
    if (fy_node_sequence_item_count(x) == 0)
        return perr(p, x, kn, "%s: expected at least one verifier", path);
    while ((e = fy_node_sequence_iterate(x, &it)) != NULL) {
        const char *s;

        pathf(ip, sizeof(ip), "%s[%zu]", path, i++);
        if ((rc = get_str(p, e, kn, ip, &s)) < 0)
            return rc;
        if (json_object_get(p->exp->verify, s) == NULL || in_list(s, shared_keys))
            return perr(p, e, kn, "%s: '%s' is not a verifier of this file's verify: section", ip,
                        s);
        json_array_append_new(list, json_string(s));
    }
    return 0;
}

static int parse_cell(struct pctx *p, struct fy_node *v, struct fy_node *k, const char *where,
                      json_t *cells)
{
    char path[PATH_LEN];
    json_t *o;
    size_t i;
    int rc;

    if ((rc = expect_map(p, v, k, where)) < 0)
        return rc;
    if ((rc = map_check(p, v, k, where, cell_keys, cell_required)) < 0)
        return rc;
    o = json_object();
    if (o == NULL || json_array_append_new(cells, o) < 0)
        return fl_errf(p->err, -ENOMEM, "out of memory");
    for (i = 0; cell_keys[i] != NULL; i++) {
        struct fy_node *kn, *x = map_get(v, cell_keys[i], &kn);

        if (kn == NULL)
            continue;
        pathf(path, sizeof(path), "%s.%s", where, cell_keys[i]);
        rc = strcmp(cell_keys[i], "verifiers") == 0 ? verifier_list(p, x, kn, path, o)
                                                    : text_field(p, x, kn, path, o, cell_keys[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int parse_promise(struct pctx *p, struct fy_node *v, struct fy_node *k)
{
    json_t *cells = json_array();
    char where[PATH_LEN];
    struct fy_node *e;
    void *it = NULL;
    size_t i = 0;
    int rc = 0;

    if (cells == NULL)
        return fl_errf(p->err, -ENOMEM, "out of memory");
    if (v != NULL && fy_node_get_type(v) == FYNT_SEQUENCE) {
        if (fy_node_sequence_item_count(v) == 0 ||
            fy_node_sequence_item_count(v) > PROMISE_CELLS_MAX)
            rc = perr(p, v, k, "promise: expected 1 to %d cells, found %d", PROMISE_CELLS_MAX,
                      fy_node_sequence_item_count(v));
        while (rc == 0 && (e = fy_node_sequence_iterate(v, &it)) != NULL) {
            pathf(where, sizeof(where), "promise[%zu]", i++);
            rc = parse_cell(p, e, k, where, cells);
        }
    } else {
        rc = parse_cell(p, v, k, "promise", cells);
    }
    if (rc < 0) {
        json_decref(cells);
        return rc;
    }
    p->exp->promise = cells;
    return 0;
}
