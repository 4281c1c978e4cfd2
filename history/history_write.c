/*
 * history.jsonl and faults.jsonl written from memory: one JSON object per
 * line, in the forms history_read.c reads back (register, compare-and-set,
 * set model). Strings are escaped by hand so that every line is valid UTF-8
 * JSON whatever bytes an error text brought from the network.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "faultline/history.h"

/* Length of a valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s)
{
    size_t n, i;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xE0) == 0xC0) {
        n = 2;
        cp = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        n = 3;
        cp = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        n = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/*
 * Write s as a JSON string. Invalid UTF-8 bytes (error texts come from the
 * network) become U+FFFD so that every line we write can be read back.
 */
static void put_jstr(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    fputc('"', f);
    while (*p) {
        size_t n;

        if (*p == '"' || *p == '\\') {
            fputc('\\', f);
            fputc(*p++, f);
        } else if (*p < 0x20) {
            fprintf(f, "\\u%04x", *p++);
        } else if ((n = utf8_seq(p)) == 0) {
            fputs("\\ufffd", f);
            p++;
        } else {
            fwrite(p, 1, n, f);
            p += n;
        }
    }
    fputc('"', f);
}

static const char *outcome_name(unsigned o)
{
    return o == HIST_OK ? "ok" : o == HIST_FAIL ? "fail" : "info";
}

static void put_u64_or_null(FILE *f, uint64_t v)
{
    if (v != 0)
        fprintf(f, "%" PRIu64, v);
    else
        fputs("null", f);
}

/* ,"value":... in the record's form: number/null, [expected,new], or a set. */
static void put_value(FILE *f, const struct hist *h, const struct hist_op *o)
{
    const uint64_t *e;
    size_t n, i;

    fputs(",\"value\":", f);
    if (o->flags & HIST_F_CAS) {
        fputc('[', f);
        put_u64_or_null(f, hist_cas_expected(h, o));
        fputc(',', f);
        put_u64_or_null(f, o->value);
        fputc(']', f);
    } else if ((o->flags & HIST_F_SET) && !o->is_write) {
        if ((e = hist_set_elems(h, o, &n)) == NULL) {
            fputs("null", f);
            return;
        }
        fputc('[', f);
        for (i = 0; i < n; i++)
            fprintf(f, "%s%" PRIu64, i ? "," : "", e[i]);
        fputc(']', f);
    } else {
        put_u64_or_null(f, o->value);
    }
}

int hist_write_jsonl(FILE *f, const struct hist *h)
{
    size_t i;

    for (i = 0; i < h->n; i++) {
        const struct hist_op *o = &h->ops[i];

        fprintf(f, "{\"client\":%" PRIu32 ",\"op\":", o->client);
        put_jstr(f, h->op_names.s[o->op]);
        fprintf(f, ",\"type\":\"%s\",\"key\":",
                (o->flags & HIST_F_CAS) ? "cas"
                : o->is_write           ? "write"
                                        : "read");
        put_jstr(f, h->keys.s[o->key]);
        if (o->flags & HIST_F_SET)
            fputs(",\"model\":\"set\"", f);
        put_value(f, h, o);
        if (o->region != 0) {
            fputs(",\"region\":", f);
            put_jstr(f, h->regions.s[o->region]);
        }
        fprintf(f, ",\"invoke_ns\":%" PRId64 ",\"complete_ns\":%" PRId64 ",\"outcome\":\"%s\"",
                o->invoke_ns, o->complete_ns, outcome_name(o->outcome));
        if (o->error != 0) {
            fputs(",\"error\":", f);
            put_jstr(f, h->errors.s[o->error]);
        }
        if ((o->flags & HIST_F_CAS) && o->outcome == HIST_OK)
            fprintf(f, ",\"swapped\":%s", (o->flags & HIST_F_SWAPPED) ? "true" : "false");
        if (o->is_final)
            fputs(",\"final\":true", f);
        if (o->client < h->nclient_group && h->client_group[o->client] != 0) {
            fputs(",\"group\":", f);
            put_jstr(f, h->groups.s[h->client_group[o->client]]);
        }
        fputs("}\n", f);
    }
    fflush(f);
    return ferror(f) ? -EIO : 0;
}

int hist_faults_write_jsonl(FILE *f, const struct hist_faults *fs)
{
    size_t i;

    for (i = 0; i < fs->n; i++) {
        const struct hist_fault *x = &fs->f[i];

        fputs("{\"id\":", f);
        put_jstr(f, x->id);
        fputs(",\"kind\":", f);
        put_jstr(f, x->kind);
        fputs(",\"scope\":", f);
        put_jstr(f, x->scope);
        fprintf(f, ",\"apply_sent_ns\":%" PRId64 ",\"apply_done_ns\":%" PRId64, x->apply_sent_ns,
                x->apply_done_ns);
        if (x->heal_sent_ns != 0)
            fprintf(f, ",\"heal_sent_ns\":%" PRId64 ",\"heal_done_ns\":%" PRId64, x->heal_sent_ns,
                    x->heal_done_ns);
        if (x->healed_by[0]) {
            fputs(",\"healed_by\":", f);
            put_jstr(f, x->healed_by);
        }
        fputs("}\n", f);
    }
    fflush(f);
    return ferror(f) ? -EIO : 0;
}
