/*
 * Internals of the built-in lab, shared by its files and nothing else:
 * lab.c (bring-up and teardown), lab_batch.c (`ip -batch` builders and
 * running ip), lab_dirs.c (private directories), lab_ns.c (finding and
 * deleting namespaces) and lab_state.c (the state file).
 */
#ifndef FAULTLINE_LAB_INT_H
#define FAULTLINE_LAB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lab.h"

/* ---- lab_batch.c: running ip, batch files, building ----------------------- */

/* A growable text buffer for batch files (small: a few KiB per namespace). */
struct text {
    char *s;
    size_t n, cap;
    bool oom; /* a line was lost: lab_tx_write refuses to write the rest */
};

/* Append a formatted line (or part); on failure t->oom is set. */
void __attribute__((format(printf, 2, 3))) lab_tx_add(struct text *t, const char *fmt, ...);
/* Write t to path (lab_write_file, 0644) and empty it. 0 or -errno. */
int lab_tx_write(struct text *t, const char *path);

/* The ip binary to run (the first of the usual places that exists, else "ip"). */
const char *lab_ip_path(void);
/* The last non-empty line of a file, for error messages. */
void lab_last_line(const char *path, char *buf, size_t len);
/* In a child before exec: the controller's blocked SIGINT/SIGTERM (signals.c) are not inherited. */
void lab_child_unblock(void);
/* Start `ip [-n ns] -batch file` with stderr to errlog; returns the pid or -errno. */
pid_t lab_ip_batch_start(const char *ns, const char *file, const char *errlog);
/* Wait for pid: 0 if it exited 0, else -EIO (or -errno). */
int lab_wait_ok(pid_t pid);
/* c's address as dotted quad in buf. */
const char *lab_ip4(const struct fl_cidr *c, char *buf, size_t len);
/* Create every namespace and configure them (see lab_batch.c). 0, or -errno with err. */
int lab_build(struct lab *lab, const struct experiment *exp, struct fl_err *err);

/* ---- lab_dirs.c ------------------------------------------------------------ */

/* Write a new file in a private directory (O_EXCL|O_NOFOLLOW, after unlink). 0 or -errno. */
int lab_write_file(const char *path, mode_t mode, const char *text);

/* ---- lab_ns.c -------------------------------------------------------------- */

/* Inode of a named namespace, 0 if absent. */
ino_t lab_ns_inode(const char *ns);
/* Kill every process in the n namespaces names, then delete them (dir: for the batch file). */
int lab_ns_destroy(char **names, size_t n, const char *dir, struct fl_err *err);
/* Namespace names under /run/netns starting with prefix (malloc'd array). */
size_t lab_ns_with_prefix(const char *prefix, char ***out);

/* ---- lab_state.c ----------------------------------------------------------- */

/* Write lab->state_file (atomically, through a .tmp). 0 or -errno. */
int lab_state_write(const struct lab *lab);

#endif
