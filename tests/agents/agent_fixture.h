/*
 * Fixture for the agent's integration tests: a real faultline-agent process
 * (the binary named by $FAULTLINE_AGENT) started inside a test network
 * namespace on that namespace's loopback, its own temporary state directory
 * and token, and a libcurl client that enters the namespace for each request.
 * Everything lives under one temporary directory removed by fx_cleanup().
 */
#ifndef FAULTLINE_TEST_AGENT_FIXTURE_H
#define FAULTLINE_TEST_AGENT_FIXTURE_H

#include <stdbool.h>
#include <sys/types.h>

#include <curl/curl.h>

struct fx_agent {
    char ns[32];      /* short namespace name (tn_name) */
    char nspath[128]; /* /run/netns/<full name> */
    char dir[128];    /* temporary directory */
    char token[64];
    char listen[64];    /* 127.0.0.1:PORT */
    char scheme[8];     /* "http" or "https" */
    char cafile[256];   /* for https */
    char certfile[256]; /* client certificate for https ("" none) */
    char keyfile[256];  /* its key */
    pid_t pid;
};

/* Prepare a, its temp dir and token for an agent in namespace ns on listen. 0 or -1. */
int fx_init(struct fx_agent *a, const char *ns, const char *listen);
/*
 * Start the agent with --allow 198.18.0.0/16 --control 198.18.9.0/24 plus
 * extra (NULL-terminated, may be NULL) and wait until /v1/health answers 200.
 * Returns 0, or -1 (agent died or did not answer within 5 s).
 */
int fx_start(struct fx_agent *a, const char *const *extra);
/* Start without waiting; returns the pid or -1. */
pid_t fx_spawn(struct fx_agent *a, const char *const *args);
/* Wait until /v1/health answers 200 (timeout ms). 0 or -1. */
int fx_wait_ready(struct fx_agent *a, int timeout_ms);
/* Send sig and wait; returns the exit status (128+sig when killed), -1 on error. */
int fx_stop(struct fx_agent *a, int sig);
/* Stop any agent left and remove the temp dir. */
void fx_cleanup(struct fx_agent *a);

/*
 * One request from the calling thread (entering the namespace for it).
 * auth: NULL = the right bearer token, "" = no Authorization header, else the
 * header's full value. body may be NULL. chunked: send the body with
 * Transfer-Encoding: chunked. Returns the status (0 on transport error);
 * *resp (if non-NULL) gets the malloc'd body. h: a per-thread curl handle
 * (NULL: a handle of this thread's own).
 */
long fx_http(struct fx_agent *a, CURL *h, const char *method, const char *path, const char *body,
             const char *auth, bool chunked, char **resp);

/* Partition spec between 198.18.1.0/24 and 198.18.2.0/24 in mode mode. Static buffer. */
const char *fx_partition(const char *mode);
/* POST /v1/faults body for id, spec and ttl (static per-thread buffer). */
const char *fx_apply_body(const char *id, const char *spec, long ttl_ms);

/* Wait (up to 5 s) until the namespace's snapshot stops changing (addresses coming up). */
void fx_settle(const char *ns);
/* True if the agent's log contains s. */
bool fx_log_contains(struct fx_agent *a, const char *s);

#endif
