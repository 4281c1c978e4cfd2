/*
 * Readers for the deployment files (see deploy_files.h): enough of the
 * Containerfile syntax (instructions, continuation lines, comments, global
 * ARG defaults) and of systemd's (Key=, continuation lines) for the lint
 * test to reason about them.
 */
#define _GNU_SOURCE
#include "deploy_files.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *df_slurp(const char *rel)
{
    const char *src = getenv("FAULTLINE_SOURCE_DIR");
    char path[4096], *buf = NULL;
    size_t len = 0;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", src ? src : ".", rel);
    fp = fopen(path, "re");
    if (fp == NULL)
        return NULL;
    if (getdelim(&buf, &len, '\0', fp) < 0) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    return buf;
}

static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Append line to *acc (space separated). */
static void append(char **acc, const char *line)
{
    size_t old = *acc ? strlen(*acc) : 0, add = strlen(line);
    char *p = realloc(*acc, old + add + 2);

    if (p == NULL)
        abort();
    if (old > 0)
        p[old++] = ' ';
    memcpy(p + old, line, add + 1);
    *acc = p;
}

static int add_ins(struct df_file *f, char *logical)
{
    char *s = trim(logical), *sp;
    struct df_ins *in;
    size_t i;

    if (*s == '\0')
        return 0;
    if (f->n == DF_MAX)
        return -1;
    in = &f->ins[f->n++];
    sp = s + strcspn(s, " \t");
    in->keyword = strndup(s, (size_t)(sp - s));
    in->args = strdup(trim(sp));
    for (i = 0; in->keyword[i]; i++)
        in->keyword[i] = (char)toupper((unsigned char)in->keyword[i]);
    if (strcmp(in->keyword, "FROM") == 0)
        f->stages++;
    in->stage = f->stages - 1;
    return 0;
}

int df_parse(const char *text, struct df_file *f)
{
    char *copy = strdup(text), *save = NULL, *line, *acc = NULL;
    int r = 0;

    memset(f, 0, sizeof(*f));
    for (line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char *t = trim(line);
        size_t n = strlen(t);
        int more = n > 0 && t[n - 1] == '\\';

        if (*t == '#')
            continue; /* comments, also between continuation lines */
        if (more)
            t[n - 1] = '\0';
        append(&acc, trim(t));
        if (!more) {
            if (add_ins(f, acc) < 0)
                r = -1;
            free(acc);
            acc = NULL;
        }
    }
    if (acc != NULL && add_ins(f, acc) < 0)
        r = -1;
    free(acc);
    free(copy);
    return r;
}

void df_free(struct df_file *f)
{
    size_t i;

    for (i = 0; i < f->n; i++) {
        free(f->ins[i].keyword);
        free(f->ins[i].args);
    }
    f->n = 0;
}

/* The default of global ARG name (before the first FROM), or NULL. */
static const char *global_arg(const struct df_file *f, const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < f->n && f->ins[i].stage < 0; i++) {
        const char *a = f->ins[i].args;

        if (strcmp(f->ins[i].keyword, "ARG") == 0 && strncmp(a, name, len) == 0 && a[len] == '=')
            return a + len + 1;
    }
    return NULL;
}

char *df_expand(const struct df_file *f, const char *s)
{
    char *out = NULL;
    size_t olen = 0;
    FILE *mem = open_memstream(&out, &olen);

    while (*s) {
        const char *name, *val;
        size_t len;
        int braced;

        if (*s != '$') {
            fputc(*s++, mem);
            continue;
        }
        braced = s[1] == '{';
        name = s + 1 + braced;
        len = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
        val = global_arg(f, name, len);
        if (val == NULL || (braced && name[len] != '}')) {
            fputc(*s++, mem);
            continue;
        }
        fputs(val, mem);
        s = name + len + braced;
    }
    fclose(mem);
    return out;
}

char *df_apt_packages(const struct df_file *f, int stage)
{
    char *out = strdup(" ");
    size_t i;

    for (i = 0; i < f->n; i++) {
        char *copy, *p, *save = NULL, *w;

        if (f->ins[i].stage != stage || strcmp(f->ins[i].keyword, "RUN") != 0)
            continue;
        copy = strdup(f->ins[i].args);
        p = copy;
        while ((p = strstr(p, "apt-get install")) != NULL) {
            p += strlen("apt-get install");
            for (w = strtok_r(p, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
                if (strcmp(w, "&&") == 0 || strcmp(w, ";") == 0 || strcmp(w, "||") == 0)
                    break;
                if (w[0] == '-')
                    continue;
                append(&out, w);
            }
            if (w == NULL)
                break;
            p = w + strlen(w) + 1; /* after the token strtok_r cut */
            save = NULL;
        }
        free(copy);
    }
    append(&out, "");
    return out;
}

void df_opts_parse(const char *line, struct df_opts *o)
{
    char *copy = strdup(line), *save = NULL, *w, *eq;

    memset(o, 0, sizeof(*o));
    for (w = strtok_r(copy, " \t\n", &save); w != NULL && o->n < DF_MAX;
         w = strtok_r(NULL, " \t\n", &save)) {
        if (w[0] != '-') {
            /* the value of the option before, written apart ("--a 1") */
            if (o->n > 0 && o->value[o->n - 1][0] == '\0') {
                free(o->value[o->n - 1]);
                o->value[o->n - 1] = strdup(w);
            }
            continue;
        }
        eq = strchr(w, '=');
        o->name[o->n] = eq ? strndup(w, (size_t)(eq - w)) : strdup(w);
        o->value[o->n] = strdup(eq ? eq + 1 : "");
        o->n++;
    }
    free(copy);
}

void df_opts_free(struct df_opts *o)
{
    size_t i;

    for (i = 0; i < o->n; i++) {
        free(o->name[i]);
        free(o->value[i]);
    }
    o->n = 0;
}

const char *df_opt(const struct df_opts *o, const char *name)
{
    size_t i;

    for (i = 0; i < o->n; i++)
        if (strcmp(o->name[i], name) == 0)
            return o->value[i];
    return NULL;
}

char *df_unit_value(const char *unit, const char *key)
{
    char *copy = strdup(unit), *save = NULL, *line, *acc = NULL;
    size_t klen = strlen(key);
    int in = 0;

    for (line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char *t = trim(line);
        size_t n = strlen(t);
        int more = n > 0 && t[n - 1] == '\\';

        if (!in) {
            if (strncmp(t, key, klen) != 0 || t[klen] != '=')
                continue;
            in = 1;
            t += klen + 1;
            n = strlen(t);
        }
        if (more)
            t[n - 1] = '\0';
        append(&acc, trim(t));
        if (!more)
            break;
    }
    free(copy);
    return acc;
}
