/*
 * Test helpers for refstore and workload tests: start replicas (on loopback
 * or inside a test namespace), wait until they answer, send operations and
 * read /v1/status over libcurl, pause/continue/stop them. Every replica a
 * test starts is killed at exit even when an assertion fails.
 */
#ifndef FAULTLINE_TEST_RS_HELPER_H
#define FAULTLINE_TEST_RS_HELPER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

struct rsh_node {
    const char *id, *region, *zone;
    char addr[64]; /* 127.0.0.1 or a namespace address */
    int port;
    const char *ns; /* short test namespace name or NULL */
    pid_t pid;
};

/* Path of the faultline-refstore binary (from FAULTLINE_BUILD_DIR). */
const char *rsh_binary(void);
/* A free loopback TCP port. */
int rsh_free_port(void);
/* Start node i of nodes[0..n) with every other node as peer and config JSON. 0 or -1. */
int rsh_start(struct rsh_node *nodes, int n, int i, const char *config);
/* Start all nodes and wait until each answers /v1/health (2 s). */
int rsh_start_all(struct rsh_node *nodes, int n, const char *config);
void rsh_stop(struct rsh_node *node);
void rsh_pause(struct rsh_node *node);
void rsh_resume(struct rsh_node *node);
/*
 * POST /v1/op to node; returns HTTP status (0 on transport error), fills
 * *value (0 none), code (error code or "") and region when not NULL.
 */
int rsh_op(struct rsh_node *node, const char *op, const char *key, uint64_t value,
           uint64_t *out_value, char *code, char *region);
/* GET path from node, parsed (caller json_decref's); NULL on failure. */
json_t *rsh_get(struct rsh_node *node, const char *path);
/* Integer/string/bool field of GET /v1/status. */
long long rsh_status_int(struct rsh_node *node, const char *field);
bool rsh_status_bool(struct rsh_node *node, const char *field);
const char *rsh_status_str(struct rsh_node *node, const char *field, char *buf, size_t len);
/* Poll until /v1/status field (bool) equals want, up to ms. Returns true if reached. */
bool rsh_wait_bool(struct rsh_node *node, const char *field, bool want, int ms);
bool rsh_wait_str(struct rsh_node *node, const char *field, const char *want, int ms);
void rsh_sleep_ms(int ms);
int64_t rsh_now_ns(void);

#endif
