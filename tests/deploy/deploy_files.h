/*
 * Readers for the deployment files the deploy tests check: the
 * Containerfile as a list of instructions with their stage, the systemd
 * unit's ExecStart as options, and a command line as name/value pairs.
 * Plain text parsing, no builder or systemd needed.
 */
#ifndef FAULTLINE_TESTS_DEPLOY_FILES_H
#define FAULTLINE_TESTS_DEPLOY_FILES_H

#include <stddef.h>

#define DF_MAX 128

/* One logical instruction: continuation lines joined, comments dropped. */
struct df_ins {
    char *keyword; /* upper case: FROM, RUN, COPY, ... */
    char *args;    /* the rest of the line, trimmed */
    int stage;     /* -1 before the first FROM, then 0, 1, ... */
};

struct df_file {
    struct df_ins ins[DF_MAX];
    size_t n;
    int stages;
};

/* Options of a command line: "--name" and its value ("" for a flag). */
struct df_opts {
    char *name[DF_MAX];
    char *value[DF_MAX];
    size_t n;
};

/* FAULTLINE_SOURCE_DIR/rel read whole (malloc'd, caller frees); NULL when unreadable. */
char *df_slurp(const char *rel);

/* Parse Containerfile text. Returns 0, or -1 when it has more than DF_MAX instructions. */
int df_parse(const char *text, struct df_file *f);
void df_free(struct df_file *f);

/*
 * The value of ${NAME} / $NAME in s replaced by the default of a global ARG
 * (one before the first FROM). malloc'd; unknown names stay as they are.
 */
char *df_expand(const struct df_file *f, const char *s);

/*
 * The packages of the `apt-get install` commands of one stage's RUN
 * instructions, space separated with a leading and trailing space
 * (" libc6 libmnl0 "), so that strstr(" name ") is membership. malloc'd.
 */
char *df_apt_packages(const struct df_file *f, int stage);

/*
 * Split a command line ("--a=1 --b 2 -n") into options; "--a=1" and
 * "--a 1" give the same pair. Words that are not options are ignored.
 */
void df_opts_parse(const char *line, struct df_opts *o);
void df_opts_free(struct df_opts *o);
/* The value of option name ("--tls-cert"), or NULL. */
const char *df_opt(const struct df_opts *o, const char *name);

/*
 * The value of Key= in a systemd unit, continuation lines joined
 * (malloc'd), or NULL. The first occurrence.
 */
char *df_unit_value(const char *unit, const char *key);

#endif
