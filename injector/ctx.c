/*
 * The injector context and its journal. Intent is written to
 * STATE_DIR/<id>.json and fsynced before the kernel is touched; the inverse a
 * kind records is written after. At start-up, inj_recover() reverts what the
 * journal lists (newest first) and then sweeps every faultline-owned object,
 * so a crash at any point leaves nothing behind once the owner restarts.
 * The journal is cached in memory: one owner per state directory (flock).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faultline/file.h"
#include "faultline/timeutil.h"
#include "inj_int.h"

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    fsync(fd);
    close(fd);
    return 0;
}

static void jpath(const struct inj_ctx *ctx, const char *id, const char *suffix, char *out,
                  size_t len)
{
    snprintf(out, len, "%s/%s.json%s", ctx->state_dir, id, suffix);
}

/*
 * Write entry atomically: tmp file, fsync, rename. The directory is fsynced
 * only when the record is created (the intent, before the kernel is touched);
 * the update that adds the inverse replaces a name that is already durable,
 * and a lost rename leaves the intent record, which recovery handles as a
 * crash between the kernel change and the update. One fsync of the record,
 * plus one of the directory on create: on tmpfs (the agent's default state
 * directory under /run) both cost microseconds.
 */
static int journal_write(struct inj_ctx *ctx, const struct inj_jentry *e, const char *state,
                         bool create, struct fl_err *err)
{
    char path[PATH_MAX + 64], tmp[PATH_MAX + 64];
    json_t *o;
    char *text;
    int fd, r = 0;
    size_t len;

    o = json_pack("{s:s, s:I, s:s, s:O, s:O, s:I, s:s}", "id", e->id, "seq", (json_int_t)e->seq,
                  "kind", e->kind->name, "spec", e->spec, "undo", e->undo, "applied_ns",
                  (json_int_t)e->applied_ns, "state", state);
    if (o == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (text == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    jpath(ctx, e->id, "", path, sizeof(path));
    jpath(ctx, e->id, ".tmp", tmp, sizeof(tmp));
    /* A stale temp file of a crash goes first; the new one never follows a link. */
    (void)unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        r = fl_errf(err, -errno, "journal %s: %s", tmp, strerror(errno));
        free(text);
        return r;
    }
    len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
        r = fl_errf(err, -EIO, "journal %s: write failed: %s", tmp, strerror(errno));
    close(fd);
    free(text);
    if (r == 0 && rename(tmp, path) < 0)
        r = fl_errf(err, -errno, "journal %s: %s", path, strerror(errno));
    if (r == 0 && create)
        fsync_dir(ctx->state_dir);
    else if (r < 0)
        unlink(tmp);
    return r;
}

static void journal_remove(struct inj_ctx *ctx, const char *id)
{
    char path[PATH_MAX + 64];

    /*
     * No fsync: if the unlink is lost in a crash, start-up reverts the fault
     * again, and reverting twice is harmless.
     */
    jpath(ctx, id, "", path, sizeof(path));
    unlink(path);
}

static struct inj_jentry *jfind(struct inj_ctx *ctx, const char *id)
{
    size_t i;

    for (i = 0; i < ctx->nj; i++)
        if (strcmp(ctx->j[i].id, id) == 0)
            return &ctx->j[i];
    return NULL;
}

static void jentry_clear(struct inj_jentry *e)
{
    json_decref(e->spec);
    json_decref(e->undo);
    e->spec = e->undo = NULL;
}

static void jdrop(struct inj_ctx *ctx, struct inj_jentry *e)
{
    size_t i = (size_t)(e - ctx->j);

    jentry_clear(e);
    memmove(&ctx->j[i], &ctx->j[i + 1], (ctx->nj - i - 1) * sizeof(*e));
    ctx->nj--;
}

static struct inj_jentry *jadd(struct inj_ctx *ctx)
{
    if (ctx->nj == ctx->capj) {
        size_t ncap = ctx->capj ? ctx->capj * 2 : 16;
        struct inj_jentry *nj = realloc(ctx->j, ncap * sizeof(*nj));

        if (nj == NULL)
            return NULL;
        ctx->j = nj;
        ctx->capj = ncap;
    }
    memset(&ctx->j[ctx->nj], 0, sizeof(ctx->j[0]));
    return &ctx->j[ctx->nj++];
}

/* Load every STATE_DIR/<id>.json into the cache; unreadable files are skipped. */
static void journal_load(struct inj_ctx *ctx)
{
    DIR *d = opendir(ctx->state_dir);
    struct dirent *de;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX + 300], id[INJ_ID_MAX + 1];
        const struct inj_kind *k;
        struct inj_jentry *e;
        json_t *o, *v;
        size_t n = strlen(de->d_name);

        if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0 || n - 5 > INJ_ID_MAX)
            continue;
        memcpy(id, de->d_name, n - 5);
        id[n - 5] = '\0';
        if (!inj_id_valid(id))
            continue;
        snprintf(path, sizeof(path), "%s/%s", ctx->state_dir, de->d_name);
        o = json_load_file(path, 0, NULL);
        if (o == NULL)
            continue;
        v = json_object_get(o, "kind");
        k = json_is_string(v) ? inj_kind_find(json_string_value(v)) : NULL;
        if (k != NULL && (e = jadd(ctx)) != NULL) {
            snprintf(e->id, sizeof(e->id), "%s", id);
            e->kind = k;
            e->seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
            e->applied_ns = json_integer_value(json_object_get(o, "applied_ns"));
            e->spec = json_incref(json_object_get(o, "spec"));
            e->undo = json_incref(json_object_get(o, "undo"));
            if (e->undo == NULL)
                e->undo = json_object();
            if (e->seq >= ctx->jseq)
                ctx->jseq = e->seq + 1;
        }
        json_decref(o);
    }
    closedir(d);
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71 /* Linux 5.14 */
#endif

/*
 * The default state directory of the calling thread's network namespace.
 * Keyed by the namespace cookie, which the kernel never hands out twice
 * while it runs: the inode number of /proc/self/ns/net is reused as soon as
 * a namespace is freed, so a journal keyed by it could describe a namespace
 * deleted without revert. Kernels before 5.14 have no cookie: the inode
 * (named "ino-", a different directory) is the fallback, and inj_apply
 * checks the kernel objects before it believes the journal.
 */
static int default_state_dir(char *out, size_t len, struct fl_err *err)
{
    uint64_t cookie = 0;
    socklen_t cl = sizeof(cookie);
    struct stat st;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = -1;

    if (fd >= 0) {
        r = getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &cl);
        close(fd);
    }
    if (r == 0 && cl == sizeof(cookie)) {
        snprintf(out, len, "/run/faultline/netns-cookie-%llu", (unsigned long long)cookie);
        return 0;
    }
    if (stat("/proc/thread-self/ns/net", &st) < 0 && stat("/proc/self/ns/net", &st) < 0)
        return fl_errf(err, -errno, "cannot identify network namespace: %s", strerror(errno));
    snprintf(out, len, "/run/faultline/netns-ino-%llu", (unsigned long long)st.st_ino);
    return 0;
}

int inj_open(const struct inj_config *cfg, struct inj_ctx **out, struct fl_err *err)
{
    struct inj_ctx *ctx;
    char lockp[PATH_MAX + 16];
    int r;

    *out = NULL;
    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    ctx->lock_fd = -1;
    if (cfg != NULL && cfg->state_dir != NULL) {
        snprintf(ctx->state_dir, sizeof(ctx->state_dir), "%s", cfg->state_dir);
    } else if ((r = default_state_dir(ctx->state_dir, sizeof(ctx->state_dir), err)) < 0) {
        goto fail;
    }
    if (cfg != NULL && cfg->n_exempt > 0) {
        ctx->exempt = calloc(cfg->n_exempt, sizeof(*ctx->exempt));
        if (ctx->exempt == NULL) {
            r = fl_errf(err, -ENOMEM, "out of memory");
            goto fail;
        }
        memcpy(ctx->exempt, cfg->exempt, cfg->n_exempt * sizeof(*ctx->exempt));
        ctx->n_exempt = cfg->n_exempt;
    }
    r = fl_mkdir_p_as(ctx->state_dir, 0755, 0700, -1, -1);
    if (r < 0) {
        fl_errf(err, r, "state directory %s: %s", ctx->state_dir, strerror(-r));
        goto fail;
    }
    snprintf(lockp, sizeof(lockp), "%s/.lock", ctx->state_dir);
    ctx->lock_fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (ctx->lock_fd < 0) {
        r = fl_errf(err, -errno, "state directory %s: %s", ctx->state_dir, strerror(errno));
        goto fail;
    }
    if (flock(ctx->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        r = fl_errf(err, -EBUSY,
                    "journal %s is in use by another faultline process (one owner per "
                    "network namespace and state directory)",
                    ctx->state_dir);
        goto fail;
    }
    r = inj_nft_open(ctx, err);
    if (r < 0)
        goto fail;
    r = inj_rtnl_open(ctx, err);
    if (r < 0)
        goto fail;
    journal_load(ctx);
    *out = ctx;
    return 0;
fail:
    inj_close(ctx);
    return r;
}

void inj_close(struct inj_ctx *ctx)
{
    size_t i;

    if (ctx == NULL)
        return;
    inj_nft_close(ctx);
    inj_rtnl_close(ctx);
    if (ctx->lock_fd >= 0)
        close(ctx->lock_fd);
    for (i = 0; i < ctx->nj; i++)
        jentry_clear(&ctx->j[i]);
    free(ctx->j);
    free(ctx->exempt);
    free(ctx);
}

size_t inj_ctx_count_needing(struct inj_ctx *ctx, unsigned needs, const char *exclude_id)
{
    size_t i, n = 0;

    for (i = 0; i < ctx->nj; i++)
        if ((ctx->j[i].kind->needs & needs) &&
            (exclude_id == NULL || strcmp(ctx->j[i].id, exclude_id) != 0))
            n++;
    return n;
}

int inj_apply(struct inj_ctx *ctx, const char *id, const struct inj_fault *f, struct fl_err *err)
{
    struct inj_jentry *e;
    size_t idx;
    int r;

    if (!inj_id_valid(id))
        return fl_errf(err, -EINVAL,
                       "bad fault id '%s': 1-%d characters of A-Z a-z 0-9 _ . - "
                       "(not starting with '.')",
                       id ? id : "", INJ_ID_MAX);
    e = jfind(ctx, id);
    if (e != NULL) {
        if (e->kind != f->kind || !json_equal(e->spec, f->spec))
            return fl_errf(err, -EEXIST, "fault '%s' is already applied with a different spec", id);
        /* Never "already applied" on the journal's word alone: ask the kernel. */
        r = e->kind->present != NULL ? e->kind->present(ctx, id, e->spec, e->undo) : 1;
        if (r < 0)
            return fl_errf(err, r, "fault %s: cannot check that it is applied: %s", id,
                           strerror(-r));
        if (r > 0)
            return 1;
        /*
         * A stale record: its objects are gone. Remove what may be left of it
         * (absent counts as reverted), forget it, and apply for real below.
         */
        r = e->kind->revert(ctx, id, e->spec, e->undo, err);
        if (r < 0) {
            fl_err_prefix(err, "fault %s: clearing a stale journal record", id);
            return r;
        }
        fl_err_clear(err);
        journal_remove(ctx, id);
        jdrop(ctx, e);
    }
    e = jadd(ctx);
    if (e == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    idx = (size_t)(e - ctx->j);
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->kind = f->kind;
    e->seq = ctx->jseq++;
    e->spec = json_incref(f->spec);
    e->undo = json_object();
    e->applied_ns = fl_now_ns(); /* apply start; kept in the intent record */
    r = journal_write(ctx, e, "applying", true, err);
    if (r < 0) {
        jdrop(ctx, e);
        return r;
    }
    r = f->kind->apply(ctx, id, f, ctx->j[idx].undo, err);
    e = &ctx->j[idx];
    if (r < 0) {
        /* The kind left nothing applied: forget the intent. */
        journal_remove(ctx, id);
        jdrop(ctx, e);
        /* "kernel lacks X: ..." must stay the first words: tools match on it. */
        if (r != -EOPNOTSUPP)
            fl_err_prefix(err, "fault %s", id);
        return r;
    }
    if (json_object_size(e->undo) > 0) {
        /* The inverse must survive a crash too; failing here, undo right away. */
        r = journal_write(ctx, e, "applied", false, err);
        if (r < 0) {
            f->kind->revert(ctx, id, e->spec, e->undo, NULL);
            journal_remove(ctx, id);
            jdrop(ctx, e);
            return r;
        }
    }
    return 0;
}

int inj_revert(struct inj_ctx *ctx, const char *id, struct fl_err *err)
{
    struct inj_jentry *e;
    int r;

    if (!inj_id_valid(id))
        return fl_errf(err, -EINVAL, "bad fault id '%s'", id ? id : "");
    e = jfind(ctx, id);
    if (e == NULL)
        return 1;
    r = e->kind->revert(ctx, id, e->spec, e->undo, err);
    if (r < 0) {
        fl_err_prefix(err, "reverting %s", id);
        return r; /* stays journaled: a later revert or sweep retries */
    }
    journal_remove(ctx, id);
    jdrop(ctx, jfind(ctx, id));
    return r;
}

static int by_seq_desc(const void *a, const void *b)
{
    const struct inj_jentry *x = a, *y = b;

    return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

int inj_revert_all(struct inj_ctx *ctx, struct fl_err *err)
{
    int first = 0, r;

    if (ctx->nj > 1) /* qsort(NULL, 0) is undefined */
        qsort(ctx->j, ctx->nj, sizeof(ctx->j[0]), by_seq_desc);
    while (ctx->nj > 0) {
        char id[INJ_ID_MAX + 1];

        snprintf(id, sizeof(id), "%s", ctx->j[0].id);
        r = inj_revert(ctx, id, err);
        if (r < 0) {
            if (first == 0)
                first = r;
            /* Keep going with the others; drop this one from the cache only. */
            jdrop(ctx, &ctx->j[0]);
        }
    }
    return first;
}

int inj_sweep(struct inj_ctx *ctx, struct fl_err *err)
{
    int (*done[16])(struct inj_ctx *, struct fl_err *);
    size_t nd = 0, i, j;
    int first = 0, r;

    for (i = 0; inj_kinds[i] != NULL; i++) {
        int (*sw)(struct inj_ctx *, struct fl_err *) = inj_kinds[i]->sweep;
        bool seen = false;

        if (sw == NULL)
            continue;
        for (j = 0; j < nd; j++)
            seen = seen || done[j] == sw;
        if (seen || nd == 16)
            continue;
        done[nd++] = sw;
        r = sw(ctx, err);
        if (r < 0 && first == 0)
            first = r;
    }
    while (ctx->nj > 0) {
        journal_remove(ctx, ctx->j[0].id);
        jdrop(ctx, &ctx->j[0]);
    }
    return first;
}

int inj_recover(struct inj_ctx *ctx, struct fl_err *err)
{
    int r1 = inj_revert_all(ctx, err);
    int r2 = inj_sweep(ctx, err);

    return r1 < 0 ? r1 : r2;
}

static int by_seq_asc(const void *a, const void *b)
{
    return -by_seq_desc(a, b);
}

int inj_list(struct inj_ctx *ctx, json_t **out, struct fl_err *err)
{
    json_t *arr = json_array();
    size_t i;

    if (arr == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    if (ctx->nj > 1)
        qsort(ctx->j, ctx->nj, sizeof(ctx->j[0]), by_seq_asc);
    for (i = 0; i < ctx->nj; i++) {
        struct inj_jentry *e = &ctx->j[i];
        json_t *ev = json_object();

        if (e->kind->evidence != NULL)
            e->kind->evidence(ctx, e->id, ev);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:O, s:I, s:o}", "id", e->id, "kind",
                                             e->kind->name, "spec", e->spec, "applied_ns",
                                             (json_int_t)e->applied_ns, "evidence", ev));
    }
    *out = arr;
    return 0;
}

int inj_ids(struct inj_ctx *ctx, char ***ids, size_t *n)
{
    size_t i;

    *ids = calloc(ctx->nj ? ctx->nj : 1, sizeof(char *));
    if (*ids == NULL)
        return -ENOMEM;
    for (i = 0; i < ctx->nj; i++)
        (*ids)[i] = strdup(ctx->j[i].id);
    *n = ctx->nj;
    return 0;
}

bool inj_has(struct inj_ctx *ctx, const char *id)
{
    return jfind(ctx, id) != NULL;
}
