/*
 * Network-namespace fixtures for integration tests. Every namespace a test
 * makes is named "fl-t<pid>-<name>" so parallel tests and parallel developers
 * never collide, and links are created directly inside the namespaces: the
 * host's own namespace is never touched. tn_cleanup() removes everything the
 * process made (also run from atexit).
 */
#ifndef FAULTLINE_TEST_NETNS_H
#define FAULTLINE_TEST_NETNS_H

#include <stdbool.h>
#include <stdint.h>

#define TN_NAME_MAX 64

/* Full namespace name for a short name ("a" -> "fl-t1234-a"), static buffer per call slot. */
const char *tn_name(const char *shortname);
/* Create namespace shortname with lo up. Returns 0 or -1. */
int tn_create(const char *shortname);
/* Delete one namespace (ignores absence). */
void tn_delete(const char *shortname);
/* Delete every namespace this process created. Safe to call twice. */
void tn_cleanup(void);
/*
 * veth between two namespaces: a/ifa with addr_a (CIDR), b/ifb with addr_b.
 * If b is NULL, only a's end is configured and ifb is left in a (for bridges).
 */
int tn_veth(const char *a, const char *ifa, const char *addr_a, const char *b, const char *ifb,
            const char *addr_b);
/* Run a shell command inside the namespace; returns exit status. */
int tn_exec(const char *ns, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Enter a namespace in the calling thread (0/-1); tn_leave returns to the original. */
int tn_enter(const char *ns);
void tn_leave(void);

/*
 * Snapshot of what faultline must leave as it found: nft ruleset, ip rule
 * (v4+v6), routes of every table, qdiscs, links (without counters). Malloc'd.
 */
char *tn_snapshot(const char *ns);

/* Print a unified diff of two snapshots to stderr (for failure messages). */
void tn_print_diff(const char *before, const char *after);

/* TCP listener on addr:port inside ns, accepting and echoing in a background child. Returns pid. */
int tn_tcp_server(const char *ns, const char *addr, uint16_t port);
/* Stop a server started above. */
void tn_stop(int pid);
/*
 * Connect from ns to addr:port with a timeout. Returns 0 on success, else
 * -errno (-ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH...). *elapsed_ms set if non-NULL.
 */
int tn_tcp_connect(const char *ns, const char *addr, uint16_t port, int timeout_ms,
                   double *elapsed_ms);

#endif
