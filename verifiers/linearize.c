/*
 * The linearizability search (see linearize.h for the model and the API).
 *
 * Layout: operations are renumbered so that the bitset of linearized
 * operations has a cheap exact canonical form. Operations with a known
 * outcome ("finite") take bits 0..F-1 in call order; those with an unknown
 * outcome take bits from the next word boundary on. Because an operation can
 * only be linearized before every pending finite operation returns, the set
 * of linearized finite operations is always "every bit below word lo, a few
 * words [lo, hi), nothing above": a cache entry stores those few words, the
 * info words and the register value, and is found by a Zobrist hash (one
 * random 64-bit number per operation, xor-ed in and out as the search moves)
 * mixed with the value. Entries are compared exactly on a hash match, so a
 * hash collision can cost time but never a wrong verdict.
 *
 * Search order and reductions (docs/internals/linearizable.md has the
 * arguments): a read or no-match cas that can take effect now is placed with
 * no alternative (level_init); otherwise the first-returning pending
 * operation b, then the writers of the value b needs, then the rest in call
 * order (next_cand). Moves that strand a pending read are refused (take and
 * the check in lin_check), unobservable info writes are dropped or held back
 * (drop_unobserved), and reads no order can satisfy fail before any search
 * (impossible).
 *
 * All buffers live in a reusable workspace; a check allocates only when an
 * earlier one did not need as much. The cache uses generation tags so a
 * new check needs no clearing.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linearize.h"
#include "linearize_int.h"

static int grow(void *pp, size_t *cap, size_t need, size_t size)
{
    void **p = pp;
    size_t c = *cap ? *cap : 64;
    void *q;

    if (need == 0)
        need = 1; /* never leave a NULL buffer (memcpy of 0 bytes from/to it) */
    if (need <= *cap)
        return 0;
    while (c < need)
        c *= 2;
    if ((q = realloc(*p, c * size)) == NULL)
        return -ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

struct lin_ws *lin_ws_new(void)
{
    struct lin_ws *ws = calloc(1, sizeof(*ws));

    if (ws != NULL)
        ws->gen = 1;
    return ws;
}

void lin_ws_free(struct lin_ws *ws)
{
    if (ws == NULL)
        return;
    free(ws->op);
    free(ws->tk);
    free(ws->tk2);
    free(ws->tmp);
    free(ws->next);
    free(ws->prev);
    free(ws->bits);
    free(ws->stack);
    free(ws->best);
    free(ws->tab);
    free(ws->ent);
    free(ws->pool);
    free(ws->vt);
    free(ws->need_cnt);
    free(ws->wr_cnt);
    free(ws->writer);
    free(ws);
}

void lin_report_free(struct lin_report *rep)
{
    if (rep == NULL)
        return;
    free(rep->prefix);
    rep->prefix = NULL;
    rep->nprefix = 0;
}

static inline uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Stable sort by t; a sorted input (the usual case) costs one pass. */
static void tk_sort(struct tk *a, struct tk *tmp, size_t n)
{
    size_t w, i;

    for (i = 1; i < n && a[i - 1].t <= a[i].t; i++)
        ;
    if (i >= n)
        return;
    for (w = 1; w < n; w *= 2) {
        for (i = 0; i < n; i += 2 * w) {
            size_t l = i, m = i + w < n ? i + w : n, r = m, e = i + 2 * w < n ? i + 2 * w : n,
                   k = i;

            if (m >= e || a[m - 1].t <= a[m].t) {
                memcpy(tmp + i, a + i, (e - i) * sizeof(*a));
                continue;
            }
            while (l < m && r < e)
                tmp[k++] = a[r].t < a[l].t ? a[r++] : a[l++];
            while (l < m)
                tmp[k++] = a[l++];
            while (r < e)
                tmp[k++] = a[r++];
        }
        memcpy(a, tmp, n * sizeof(*a));
    }
}

/* The model: can o take effect on value s, and what value follows. */
static inline bool step(const struct iop *o, uint64_t s, uint64_t *ns)
{
    switch (o->kind) {
    case LIN_READ:
        *ns = s;
        return o->value == s;
    case LIN_WRITE:
        *ns = o->value;
        return true;
    default:
        if (o->info || o->swapped) {
            /* an info cas that did not match changed nothing: same as never */
            *ns = o->value;
            return s == o->expected;
        }
        *ns = s;
        return s != o->expected;
    }
}

static inline uint64_t full_mask(const struct lin_ws *ws, size_t w)
{
    size_t r = ws->nfin % 64;

    return w + 1 < ws->wf || r == 0 ? ~0ULL : (1ULL << r) - 1;
}

/* Search state besides the bitset. */
struct st {
    uint64_t value, hash;
    uint32_t vid;  /* id of value */
    size_t lo, hi; /* finite words below lo are full, from hi on empty */
};

static inline void bit_set(struct lin_ws *ws, struct st *s, uint32_t i)
{
    size_t w = i / 64;

    ws->bits[w] |= 1ULL << (i % 64);
    s->hash ^= mix64(i);
    if (w >= ws->wf)
        return;
    if (w + 1 > s->hi)
        s->hi = w + 1;
    while (s->lo < ws->wf && ws->bits[s->lo] == full_mask(ws, s->lo))
        s->lo++;
}

static inline void bit_clear(struct lin_ws *ws, struct st *s, uint32_t i)
{
    size_t w = i / 64;

    ws->bits[w] &= ~(1ULL << (i % 64));
    s->hash ^= mix64(i);
    if (w >= ws->wf)
        return;
    if (w < s->lo)
        s->lo = w;
    while (s->hi > 0 && ws->bits[s->hi - 1] == 0)
        s->hi--;
}

static int tab_init(struct lin_ws *ws, size_t want)
{
    size_t sz = 256, old = ws->tab_cap;

    while (sz < want)
        sz *= 2;
    if (sz > ws->tab_cap) {
        if (grow(&ws->tab, &ws->tab_cap, sz, sizeof(*ws->tab)) < 0)
            return -ENOMEM;
        memset(ws->tab + old, 0, (ws->tab_cap - old) * sizeof(*ws->tab));
    }
    ws->mask = sz - 1;
    if (++ws->gen == 0) {
        memset(ws->tab, 0, ws->tab_cap * sizeof(*ws->tab));
        ws->gen = 1;
    }
    ws->nent = 0;
    ws->npool = 0;
    return 0;
}

static inline void tab_put(struct lin_ws *ws, uint64_t h, uint32_t e)
{
    size_t k = h & ws->mask;

    while (ws->tab[k].gen == ws->gen)
        k = (k + 1) & ws->mask;
    ws->tab[k].h = h;
    ws->tab[k].e = e;
    ws->tab[k].gen = ws->gen;
}

/*
 * Add (bitset, value) to the cache: 1 when new, 0 when already there,
 * -ENOMEM.
 */
static int memo_add(struct lin_ws *ws, const struct st *s)
{
    uint64_t h = s->hash ^ mix64(s->value ^ 0xA5A5A5A5A5A5A5A5ULL);
    size_t k = h & ws->mask, nw = s->hi > s->lo ? s->hi - s->lo : 0, i;
    struct ent *e;

    for (; ws->tab[k].gen == ws->gen; k = (k + 1) & ws->mask) {
        const struct ent *x;

        if (ws->tab[k].h != h)
            continue;
        x = &ws->ent[ws->tab[k].e];
        if (x->value == s->value && x->lo == s->lo && x->nw == nw &&
            memcmp(ws->pool + x->off, ws->bits + s->lo, nw * 8) == 0 &&
            memcmp(ws->pool + x->off + nw, ws->bits + ws->wf, ws->wi * 8) == 0)
            return 0;
    }
    if (grow(&ws->ent, &ws->ent_cap, ws->nent + 1, sizeof(*ws->ent)) < 0 ||
        grow(&ws->pool, &ws->pool_cap, ws->npool + nw + ws->wi, sizeof(*ws->pool)) < 0)
        return -ENOMEM;
    e = &ws->ent[ws->nent];
    e->h = h;
    e->value = s->value;
    e->off = ws->npool;
    e->lo = (uint32_t)s->lo;
    e->nw = (uint32_t)nw;
    memcpy(ws->pool + ws->npool, ws->bits + s->lo, nw * 8);
    memcpy(ws->pool + ws->npool + nw, ws->bits + ws->wf, ws->wi * 8);
    ws->npool += nw + ws->wi;
    ws->tab[k].h = h;
    ws->tab[k].e = (uint32_t)ws->nent;
    ws->tab[k].gen = ws->gen;
    ws->nent++;
    if (ws->nent * 2 > ws->mask + 1) {
        size_t n = ws->nent, npool = ws->npool;

        /* double the table (a new generation) and put this check's entries back */
        if (tab_init(ws, (ws->mask + 1) * 2) < 0)
            return -ENOMEM;
        ws->nent = n;
        ws->npool = npool;
        for (i = 0; i < n; i++)
            tab_put(ws, ws->ent[i].h, (uint32_t)i);
    }
    return 1;
}

static inline void unlink_node(struct lin_ws *ws, uint32_t x)
{
    ws->next[ws->prev[x]] = ws->next[x];
    ws->prev[ws->next[x]] = ws->prev[x];
}

static inline void relink_node(struct lin_ws *ws, uint32_t x)
{
    ws->next[ws->prev[x]] = x;
    ws->prev[ws->next[x]] = x;
}

static uint32_t value_id(struct lin_ws *ws, uint64_t v)
{
    size_t k;

    for (k = mix64(v) & ws->vt_mask; ws->vt[k].id != 0; k = (k + 1) & ws->vt_mask) {
        if (ws->vt[k].value == v)
            return ws->vt[k].id - 1;
    }
    ws->vt[k].value = v;
    ws->vt[k].id = (uint32_t)++ws->nvals;
    ws->need_cnt[ws->nvals - 1] = 0;
    ws->wr_cnt[ws->nvals - 1] = 0;
    ws->writer[ws->nvals - 1] = 0;
    return (uint32_t)ws->nvals - 1;
}

/* The id of value v, or NOV when it was never numbered. */
static uint32_t value_find(const struct lin_ws *ws, uint64_t v)
{
    size_t k;

    for (k = mix64(v) & ws->vt_mask; ws->vt[k].id != 0; k = (k + 1) & ws->vt_mask) {
        if (ws->vt[k].value == v)
            return ws->vt[k].id - 1;
    }
    return NOV;
}

/*
 * Number the values (at most two per operation plus "absent") and count,
 * per value, the finite operations that need the register to hold it (ok
 * reads, swapped cas) and the operations that may write it.
 */
static int values_build(struct lin_ws *ws, size_t nslots)
{
    size_t sz = 64, i, nmax = 2 * nslots + 1;

    while (sz < 2 * nmax)
        sz *= 2;
    if (grow(&ws->vt, &ws->vt_cap, sz, sizeof(*ws->vt)) < 0 ||
        grow(&ws->need_cnt, &ws->nv_cap, nmax, sizeof(*ws->need_cnt)) < 0 ||
        (ws->wr_cnt = realloc(ws->wr_cnt, ws->nv_cap * sizeof(*ws->wr_cnt))) == NULL ||
        (ws->writer = realloc(ws->writer, ws->nv_cap * sizeof(*ws->writer))) == NULL)
        return -ENOMEM;
    memset(ws->vt, 0, sz * sizeof(*ws->vt));
    ws->vt_mask = sz - 1;
    ws->nvals = 0;
    value_id(ws, 0);
    for (i = 0; i < nslots; i++) {
        struct iop *o = &ws->op[i];

        if (i >= ws->nfin && i < ws->wf * 64)
            continue; /* the gap between finite and info numbers */
        o->need = o->prod = NOV;
        if (o->kind == LIN_WRITE || (o->kind == LIN_CAS && (o->info || o->swapped))) {
            o->prod = value_id(ws, o->value);
            ws->wr_cnt[o->prod]++;
            ws->writer[o->prod] = ws->writer[o->prod] ? UINT32_MAX : (uint32_t)i + 1;
        }
        if (!o->info && o->kind == LIN_READ)
            o->need = value_id(ws, o->value);
        else if (!o->info && o->kind == LIN_CAS && o->swapped)
            o->need = value_id(ws, o->expected);
        if (o->need != NOV)
            ws->need_cnt[o->need]++;
    }
    return 0;
}

/*
 * Start a level: b is the pending operation that returns first (every
 * linearization places it before anything called after that return); w the
 * writer of the value b needs, when it is still a candidate. Returns false
 * when no finite operation is pending.
 */
static bool level_init(const struct lin_ws *ws, uint32_t head, uint64_t v, uint32_t vid,
                       struct level *lv)
{
    uint32_t e = ws->next[head], eager = UINT32_MAX;
    const struct iop *b;

    for (; e != head && (e & 1) == 0; e = ws->next[e]) {
        const struct iop *o = &ws->op[e / 2];

        /* A finite read or no-match cas that can take effect now changes nothing: placing it
         * first keeps every linearization there was (it commutes with what it skips and was
         * called before anything pending returned), so it is the only choice tried. */
        if (eager == UINT32_MAX && !o->info &&
            ((o->kind == LIN_READ && o->value == v) ||
             (o->kind == LIN_CAS && !o->swapped && o->expected != v)))
            eager = e / 2;
    }
    if (e == head)
        return false;
    lv->pos = head;
    lv->nomatch = 0;
    lv->need = NOV;
    if (eager != UINT32_MAX) {
        lv->b = eager;
        lv->phase = 4; /* next_cand: b, then nothing */
        return true;
    }
    lv->b = e / 2;
    b = &ws->op[lv->b];
    lv->phase = 0;
    if (b->need != NOV && b->need != vid) {
        /* b needs a value the register does not hold: some pending operation must write it
         * first; when none is left, no order places b and the level is dead */
        if (ws->wr_cnt[b->need] == 0)
            lv->phase = 3; /* no candidate */
        else
            lv->need = b->need;
    }
    return true;
}

/* Is some candidate a cas that did not match and that the register's value v would fail? */
static bool nomatch_blocked(const struct lin_ws *ws, uint32_t head, uint64_t v)
{
    uint32_t e;

    for (e = ws->next[head]; e != head && (e & 1) == 0; e = ws->next[e]) {
        const struct iop *o = &ws->op[e / 2];

        if (o->kind == LIN_CAS && !o->info && !o->swapped && o->expected == v)
            return true;
    }
    return false;
}

/*
 * The next candidate of a level, or UINT32_MAX when they are exhausted. An
 * info write nobody observes is only useful to move the register off the
 * value a no-match cas compares against, so it is tried only when such a cas
 * is a candidate and the register holds its expected value (moving it there
 * from anywhere earlier in a linearization keeps it one).
 */
static uint32_t next_cand(const struct lin_ws *ws, uint32_t head, uint64_t v, struct level *lv)
{
    switch (lv->phase) {
    case 0:
        lv->phase = 1;
        lv->pos = ws->next[head];
        return lv->b;
    case 1: /* the candidates writing the value b needs */
        while (lv->need != NOV && lv->pos != head && (lv->pos & 1) == 0) {
            uint32_t c = lv->pos / 2;

            lv->pos = ws->next[lv->pos];
            if (c != lv->b && ws->op[c].prod == lv->need)
                return c;
        }
        lv->phase = 2;
        lv->pos = ws->next[head];
        /* fall through */
    case 2: /* every other candidate, in call order */
        while (lv->pos != head && (lv->pos & 1) == 0) {
            uint32_t c = lv->pos / 2;

            lv->pos = ws->next[lv->pos];
            if (c == lv->b || (lv->need != NOV && ws->op[c].prod == lv->need))
                continue;
            if (ws->op[c].unobs) {
                if (lv->nomatch == 0)
                    lv->nomatch = nomatch_blocked(ws, head, v) ? 1 : 2;
                if (lv->nomatch == 2)
                    continue;
            }
            return c;
        }
        lv->phase = 3;
        return UINT32_MAX;
    case 4:
        lv->phase = 3;
        return lv->b;
    default:
        return UINT32_MAX;
    }
}

/*
 * An info write or cas whose value nothing reads or compares against, when
 * no definite cas that did not match can come after it, changes nothing any
 * operation can observe: in a linearization that places it, the operations
 * between it and the next write cannot need its value, so removing it leaves
 * a linearization. Such operations are taken out of the search up front
 * (their call event unlinked, their write no longer counted). Returns how
 * many.
 */
static size_t drop_unobserved(struct lin_ws *ws, size_t nslots)
{
    int64_t last_nomatch = INT64_MIN;
    size_t i, n = 0;
    uint32_t *users;

    if (ws->wi == 0)
        return 0;
    users = calloc(ws->nvals, sizeof(*users));
    if (users == NULL)
        return 0; /* an optimisation only */
    for (i = 0; i < nslots; i++) {
        const struct iop *o = &ws->op[i];

        if (i >= ws->nfin && i < ws->wf * 64)
            continue;
        if (o->kind == LIN_CAS && !o->info && !o->swapped && o->ret > last_nomatch)
            last_nomatch = o->ret;
        if (o->kind == LIN_CAS && o->info) {
            uint32_t id = value_find(ws, o->expected);

            if (id != NOV)
                users[id]++;
        }
    }
    for (i = ws->wf * 64; i < nslots; i++) {
        struct iop *o = &ws->op[i];

        if (o->prod == NOV || ws->need_cnt[o->prod] != 0 || users[o->prod] != 0)
            continue;
        if (last_nomatch >= o->call) {
            o->unobs = 1; /* kept, for no-match cas only (next_cand) */
            continue;
        }
        if (o->kind == LIN_CAS) {
            uint32_t id = value_find(ws, o->expected);

            if (id != NOV && users[id] > 0)
                users[id]--; /* it no longer uses its expected value */
        }
        unlink_node(ws, 2 * (uint32_t)i);
        ws->wr_cnt[o->prod]--;
        n++;
    }
    free(users);
    return n;
}

/* Count o as placed (take) or as pending again (untake). */
static inline void take(struct lin_ws *ws, const struct iop *o)
{
    if (o->need != NOV)
        ws->need_cnt[o->need]--;
    if (o->prod != NOV)
        ws->wr_cnt[o->prod]--;
}

static inline void untake(struct lin_ws *ws, const struct iop *o)
{
    if (o->need != NOV)
        ws->need_cnt[o->need]++;
    if (o->prod != NOV)
        ws->wr_cnt[o->prod]++;
}

/*
 * Extend the longest prefix best[0..*nbest) greedily, without the pruning:
 * the pruned search stops before a write that would strand a later read, but
 * the explanation is clearer with that write placed and the read as the
 * operation that cannot follow. At each step the first-returning pending
 * operation is placed, or else the single writer of the value it needs;
 * stops when neither can be, or at stop_at. The list must be whole.
 */
static void extend(struct lin_ws *ws, uint32_t head, size_t *nbest, uint64_t *value,
                   uint32_t stop_at)
{
    size_t i;

    memset(ws->bits, 0, (ws->wf + ws->wi) * 8);
    for (i = 0; i < *nbest; i++) {
        uint32_t x = ws->best[i];

        ws->bits[x / 64] |= 1ULL << (x % 64);
        unlink_node(ws, 2 * x);
        if (!ws->op[x].info)
            unlink_node(ws, 2 * x + 1);
    }
    for (;;) {
        uint32_t e = ws->next[head], x;
        const struct iop *b;
        uint64_t nv;

        while (e != head && (e & 1) == 0)
            e = ws->next[e];
        if (e == head || e / 2 == stop_at)
            break;
        x = e / 2;
        b = &ws->op[x];
        if (!step(b, *value, &nv)) {
            x = b->need != NOV && ws->writer[b->need] != UINT32_MAX && ws->writer[b->need] != 0
                    ? ws->writer[b->need] - 1
                    : UINT32_MAX;
            if (x == UINT32_MAX || ((ws->bits[x / 64] >> (x % 64)) & 1) ||
                ws->op[x].call > b->ret || !step(&ws->op[x], *value, &nv))
                break;
        }
        ws->best[(*nbest)++] = x;
        *value = nv;
        ws->bits[x / 64] |= 1ULL << (x % 64);
        unlink_node(ws, 2 * x);
        if (!ws->op[x].info)
            unlink_node(ws, 2 * x + 1);
    }
}

/*
 * Before searching: a finite operation that needs a value no order can give
 * it. Either nothing writes that value, or its only writer is called after it
 * returns, or a definite write (ok) lies entirely between that writer's
 * return and its call. Finite operations are numbered in call order, so the
 * writers come in call order; tmp[j] holds the earliest return among
 * writers j.. . Returns the internal number of the earliest-returning such
 * operation, or UINT32_MAX, with the proof in cause[] and *ncause.
 */
static uint32_t impossible(struct lin_ws *ws, uint32_t *cause, size_t *ncause)
{
    struct tk *pw = ws->tk2, *suf = ws->tmp;
    size_t np = 0, i, j;
    uint32_t found = UINT32_MAX;

    for (i = 0; i < ws->nfin; i++) {
        if (ws->op[i].prod != NOV) {
            pw[np].t = ws->op[i].call;
            pw[np++].i = (uint32_t)i;
        }
    }
    for (j = np; j-- > 0;) {
        suf[j].t = ws->op[pw[j].i].ret;
        suf[j].i = pw[j].i;
        if (j + 1 < np && suf[j + 1].t < suf[j].t)
            suf[j] = suf[j + 1];
    }
    for (i = 0; i < ws->nfin; i++) {
        const struct iop *r = &ws->op[i];
        uint32_t v = r->need, w = UINT32_MAX, c[2];
        int64_t wret = INT64_MIN;
        size_t nc = 0, lo = 0, hi = np;

        if (v == NOV || (found != UINT32_MAX && r->ret >= ws->op[found].ret))
            continue;
        if (ws->wr_cnt[v] == 0 && v != 0) {
            nc = 0; /* nothing writes it */
        } else if (v == 0 && ws->wr_cnt[0] == 0) {
            c[nc++] = UINT32_MAX; /* absent: only the initial state "wrote" it */
        } else if (ws->writer[v] != UINT32_MAX) {
            w = ws->writer[v] - 1;
            c[nc++] = ws->op[w].ext;
            if (v != 0 && ws->op[w].call > r->ret)
                goto bad; /* (absent is also the initial state: never "too late") */
            wret = ws->op[w].ret;
        } else {
            continue;
        }
        if (ws->wr_cnt[v] != 0 || v == 0) {
            /* a definite write called after the writer returned and done before r began */
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;

                if (pw[mid].t > wret)
                    hi = mid;
                else
                    lo = mid + 1;
            }
            if (lo >= np || suf[lo].t >= r->call)
                continue;
            c[nc++] = ws->op[suf[lo].i].ext;
        }
    bad:
        found = (uint32_t)i;
        *ncause = nc;
        memcpy(cause, c, nc * sizeof(*c));
    }
    return found;
}

/*
 * Renumber the operations (finite 0..F-1 in call order, info from word wf on,
 * info reads left out) into ws->op, with ws->tk the kept operations' internal
 * numbers in call order and ws->tk2 the finite ones in return order. Sizes
 * every buffer; *nkeep gets the operations kept, *nslots the internal slots.
 */
static int layout(struct lin_ws *ws, const struct lin_op *ops, size_t n, size_t *nkeep,
                  size_t *nslots)
{
    size_t nk = 0, nfin = 0, i, j, k;

    for (i = 0; i < n; i++) {
        if (ops[i].info && ops[i].kind == LIN_READ)
            continue;
        nk++;
        nfin += !ops[i].info;
    }
    ws->nfin = nfin;
    ws->wf = (nfin + 63) / 64;
    ws->wi = (nk - nfin + 63) / 64;
    *nkeep = nk;
    *nslots = ws->wf * 64 + (nk - nfin);
    if (grow(&ws->tk, &ws->tk_cap, nk + 1, sizeof(*ws->tk)) < 0 ||
        grow(&ws->tk2, &ws->tk2_cap, nk + 1, sizeof(*ws->tk2)) < 0 ||
        grow(&ws->tmp, &ws->tmp_cap, nk + 1, sizeof(*ws->tmp)) < 0 ||
        grow(&ws->op, &ws->op_cap, *nslots + 1, sizeof(*ws->op)) < 0 ||
        grow(&ws->next, &ws->next_cap, 2 * *nslots + 1, sizeof(*ws->next)) < 0 ||
        grow(&ws->prev, &ws->prev_cap, 2 * *nslots + 1, sizeof(*ws->prev)) < 0 ||
        grow(&ws->bits, &ws->bits_cap, ws->wf + ws->wi + 1, sizeof(*ws->bits)) < 0 ||
        grow(&ws->stack, &ws->stack_cap, nk + 1, sizeof(*ws->stack)) < 0 ||
        grow(&ws->best, &ws->best_cap, nk + 1, sizeof(*ws->best)) < 0 ||
        tab_init(ws, 4 * nk + 64) < 0)
        return -ENOMEM;

    /* Call order, then internal numbers: finite 0..F-1, info from word wf on. */
    for (i = 0, k = 0; i < n; i++) {
        if (ops[i].info && ops[i].kind == LIN_READ)
            continue;
        ws->tk[k].t = ops[i].call_ns;
        ws->tk[k++].i = (uint32_t)i;
    }
    tk_sort(ws->tk, ws->tmp, nk);
    for (k = 0, i = 0, j = 0; k < nk; k++) {
        const struct lin_op *o = &ops[ws->tk[k].i];
        uint32_t x = o->info ? (uint32_t)(ws->wf * 64 + j++) : (uint32_t)i++;
        struct iop *d = &ws->op[x];

        d->call = o->call_ns;
        d->ret = o->info ? LIN_NEVER : (o->ret_ns < o->call_ns ? o->call_ns : o->ret_ns);
        d->value = o->value;
        d->expected = o->expected;
        d->ext = ws->tk[k].i;
        d->kind = o->kind <= LIN_CAS ? o->kind : LIN_READ;
        d->swapped = o->swapped != 0;
        d->info = o->info != 0;
        d->unobs = 0;
        ws->tk[k].i = x; /* from here on tk holds internal numbers in call order */
    }
    for (i = 0; i < nfin; i++) {
        ws->tk2[i].t = ws->op[i].ret;
        ws->tk2[i].i = (uint32_t)i;
    }
    tk_sort(ws->tk2, ws->tmp, nfin);
    return 0;
}

/*
 * The event list of the kept operations: node 2x is x's call, 2x+1 its
 * return (finite operations only), calls before returns at equal times
 * (touching = concurrent). Returns the head node.
 */
static uint32_t events(struct lin_ws *ws, size_t nkeep, size_t nslots)
{
    uint32_t head = (uint32_t)(2 * nslots), last = head;
    size_t i, j, nfin = ws->nfin;

    for (i = 0, j = 0; i < nkeep || j < nfin;) {
        uint32_t x;

        if (j >= nfin || (i < nkeep && ws->op[ws->tk[i].i].call <= ws->tk2[j].t))
            x = 2 * ws->tk[i++].i;
        else
            x = 2 * ws->tk2[j++].i + 1;
        ws->next[last] = x;
        ws->prev[x] = last;
        last = x;
    }
    ws->next[last] = head;
    ws->prev[head] = last;
    return head;
}

/* The state of the search: the linearized set and value, the stack and the longest prefix. */
struct search {
    struct st s;
    struct level lv;
    uint32_t head;
    size_t sp, nbest, dirty, left;
    uint64_t best_value;
};

/*
 * Try to linearize candidate x next. Returns 1 when placed (pushed on the
 * stack), 0 when it cannot be (nothing changed), -ENOMEM.
 */
static int place(struct lin_ws *ws, struct search *sr, uint32_t x, struct lin_report *rep)
{
    struct iop *o = &ws->op[x];
    struct st *s = &sr->s;
    uint64_t nv, old = s->value;
    uint32_t oldvid = s->vid;
    size_t olo = s->lo, ohi = s->hi, k;
    int r;

    if (!step(o, s->value, &nv))
        return 0;
    take(ws, o);
    /* Leaving a value that a pending operation still needs, with nothing left to write
     * it again, strands that operation: prune. */
    if (nv != old && ws->need_cnt[oldvid] > 0 && ws->wr_cnt[oldvid] == 0) {
        untake(ws, o);
        return 0;
    }
    bit_set(ws, s, x);
    s->value = nv;
    if (nv != old)
        s->vid = o->prod;
    if ((r = memo_add(ws, s)) <= 0) {
        untake(ws, o);
        bit_clear(ws, s, x);
        s->value = old;
        s->vid = oldvid;
        s->lo = olo;
        s->hi = ohi;
        return r;
    }
    rep->states++;
    ws->stack[sr->sp].i = x;
    ws->stack[sr->sp].oldvid = oldvid;
    ws->stack[sr->sp].old = old;
    ws->stack[sr->sp++].lv = sr->lv;
    unlink_node(ws, 2 * x);
    if (!o->info) {
        unlink_node(ws, 2 * x + 1);
        sr->left--;
    }
    if (sr->sp > sr->nbest) {
        for (k = sr->dirty; k < sr->sp; k++)
            ws->best[k] = ws->stack[k].i;
        sr->nbest = sr->sp;
        sr->dirty = sr->sp;
        sr->best_value = s->value;
    }
    return 1;
}

/* Every candidate of this level failed: undo the last choice. */
static void backtrack(struct lin_ws *ws, struct search *sr)
{
    uint32_t x = ws->stack[--sr->sp].i;

    if (sr->sp < sr->dirty)
        sr->dirty = sr->sp;
    sr->s.value = ws->stack[sr->sp].old;
    sr->s.vid = ws->stack[sr->sp].oldvid;
    sr->lv = ws->stack[sr->sp].lv;
    untake(ws, &ws->op[x]);
    bit_clear(ws, &sr->s, x);
    if (!ws->op[x].info) {
        relink_node(ws, 2 * x + 1);
        sr->left++;
    }
    relink_node(ws, 2 * x);
}

/* The search proper, from the empty prefix; sets rep->verdict. */
static int search(struct lin_ws *ws, uint32_t head, size_t nkeep, const struct lin_limits *lim,
                  struct lin_report *rep)
{
    int64_t deadline = lim ? lim->deadline_ns : 0;
    uint64_t max_states = lim ? lim->max_states : 0;
    struct search sr;
    int r;

    memset(&sr, 0, sizeof(sr));
    sr.head = head;
    sr.left = ws->nfin;
    level_init(ws, head, 0, 0, &sr.lv);
    for (;;) {
        uint32_t x = next_cand(ws, head, sr.s.value, &sr.lv);

        rep->steps++;
        if ((rep->steps & 4095) == 0 && deadline != 0 && now_ns() >= deadline) {
            rep->verdict = LIN_UNKNOWN;
            return 0;
        }
        if (x != UINT32_MAX) {
            if ((r = place(ws, &sr, x, rep)) < 0)
                return r;
            if (r == 0)
                continue;
            if (sr.left == 0)
                return 0;
            if (max_states != 0 && rep->states >= max_states) {
                rep->verdict = LIN_UNKNOWN;
                return 0;
            }
            level_init(ws, head, sr.s.value, sr.s.vid, &sr.lv);
            continue;
        }
        if (sr.sp == 0)
            break;
        backtrack(ws, &sr);
    }
    rep->verdict = LIN_VIOLATION;
    extend(ws, head, &sr.nbest, &sr.best_value, UINT32_MAX);
    return lin_explain(ws, nkeep, sr.nbest, sr.best_value, UINT32_MAX, rep);
}

int lin_check(struct lin_ws *ws, const struct lin_op *ops, size_t n, const struct lin_limits *lim,
              struct lin_report *rep)
{
    size_t nkeep, nslots, nbest = 0;
    uint64_t best_value = 0;
    uint32_t head, bad;

    memset(rep, 0, sizeof(*rep));
    if (n > (1u << 30))
        return -E2BIG;
    if (layout(ws, ops, n, &nkeep, &nslots) < 0)
        return -ENOMEM;
    head = events(ws, nkeep, nslots);
    memset(ws->bits, 0, (ws->wf + ws->wi) * 8);
    rep->verdict = LIN_OK;
    if (ws->nfin == 0)
        return 0;
    if (values_build(ws, nslots) < 0)
        return -ENOMEM;
    rep->info_dropped = drop_unobserved(ws, nslots);
    bad = impossible(ws, rep->cause, &rep->ncause);
    if (bad != UINT32_MAX) {
        rep->verdict = LIN_VIOLATION;
        rep->upfront = 1;
        extend(ws, head, &nbest, &best_value, bad);
        return lin_explain(ws, nkeep, nbest, best_value, bad, rep);
    }
    return search(ws, head, nkeep, lim, rep);
}
