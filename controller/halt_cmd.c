/*
 * `faultline halt`: the emergency stop. Every agent named (or every agent
 * of a lab) gets POST /v1/halt at once: it reverts every fault it holds and
 * refuses new ones (409) until POST /v1/resume (`faultline halt --resume`).
 * A controller running an experiment against a halted agent gets 409 on its
 * next apply or renewal and ends the run as aborted (exit 3). See
 * docs/agent-api.md ("Halt") and docs/internals/run.md.
 *
 * Agents are called concurrently (one fan-out, agent_client.c) so that a
 * halt of a hundred agents takes one round trip, not a hundred.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "agent_tls.h"
#include "agent_token.h"
#include "commands.h"
#include "lab.h"
#include "run_int.h"

struct halt_opts {
    const char *token_file, *lab, *reason;
    struct agent_tls tls;
    bool resume;
    long timeout_ms;
};

static void halt_usage(FILE *out)
{
    fprintf(
        out,
        "usage: faultline halt [--token-file FILE] [--ca FILE] [--cert FILE --key FILE]\n"
        "                      [--reason TEXT] [--resume] AGENT_URL...\n"
        "       faultline halt --lab ID [--resume]\n"
        "\n"
        "The emergency stop. Each agent reverts every fault it holds at once and then\n"
        "refuses new ones (409) until it is resumed; its /v1/health and /metrics say\n"
        "halted, and the halt survives an agent restart. A `faultline run` that meets a\n"
        "halted agent ends as aborted (exit 3) with a partial report, nothing left\n"
        "injected. Every agent is asked at once; each answers on its own line.\n"
        "\n"
        "options:\n"
        "  -t, --token-file FILE the agents' bearer token (staging)\n"
        "      --ca FILE         trust this CA for https:// agents (else the system store)\n"
        "      --cert FILE, --key FILE  client certificate for agents that ask for one\n"
        "  -r, --reason TEXT     recorded in each agent's audit log and health\n"
        "      --resume          accept faults again (POST /v1/resume)\n"
        "  -l, --lab ID          every agent of the lab ID on this machine (needs root;\n"
        "                        'faultline lab list' shows the ids)\n"
        "      --timeout MS      per agent (default 5000)\n"
        "  -h, --help            show this help\n"
        "\n"
        "examples:\n"
        "  faultline halt --token-file /etc/faultline/agent.token --ca /etc/faultline/ca.pem \\\n"
        "      https://10.99.0.11:7070 https://10.99.0.12:7070\n"
        "  sudo faultline halt --lab 3f9a1c\n"
        "  sudo faultline halt --lab 3f9a1c --resume\n"
        "\n"
        "exit codes: 0 every agent halted (or resumed); 2 bad command line or token\n"
        "file; 3 an agent did not answer or refused (the others are halted anyway).\n");
}

static int halt_args(int argc, char **argv, struct halt_opts *o)
{
    static const struct option opts[] = {
        {"token-file", required_argument, NULL, 't'},
        {"ca", required_argument, NULL, 'C'},
        {"cert", required_argument, NULL, 'E'},
        {"key", required_argument, NULL, 'K'},
        {"reason", required_argument, NULL, 'r'},
        {"resume", no_argument, NULL, 'R'},
        {"lab", required_argument, NULL, 'l'},
        {"timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char *end;
    int c;

    memset(o, 0, sizeof(*o));
    o->timeout_ms = 5000;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:r:l:h", opts, NULL)) != -1) {
        if (c == 't')
            o->token_file = optarg;
        else if (c == 'C')
            o->tls.ca = optarg;
        else if (c == 'E')
            o->tls.cert = optarg;
        else if (c == 'K')
            o->tls.key = optarg;
        else if (c == 'r')
            o->reason = optarg;
        else if (c == 'R')
            o->resume = true;
        else if (c == 'l')
            o->lab = optarg;
        else if (c == 'T' && (o->timeout_ms = strtol(optarg, &end, 10)) > 0 && *end == '\0')
            continue;
        else {
            if (c == 'T')
                fprintf(stderr,
                        "faultline halt: --timeout: expected milliseconds > 0, found "
                        "'%s'\n\n",
                        optarg);
            halt_usage(c == 'h' ? stdout : stderr);
            return c == 'h' ? -1 : FL_EXIT_USAGE;
        }
    }
    if ((o->lab != NULL) == (argc - optind > 0)) {
        fprintf(stderr, "faultline halt: give agent URLs or --lab ID (one of them)\n\n");
        halt_usage(stderr);
        return FL_EXIT_USAGE;
    }
    return FL_EXIT_OK;
}

/* The lab's agents, token file and control namespace, from its state file. */
static int lab_agents(const char *id, json_t **state, struct fl_err *err)
{
    char path[PATH_MAX];

    if (strlen(id) != LAB_ID_LEN || strspn(id, "0123456789abcdef") != LAB_ID_LEN)
        return fl_errf(err, -EINVAL,
                       "'%s' is not a lab id (6 hex digits, see 'faultline lab list')", id);
    snprintf(path, sizeof(path), "%s/%s.json", LAB_STATE_DIR, id);
    if ((*state = json_load_file(path, 0, NULL)) == NULL)
        return fl_errf(err, -ENOENT, "no lab with id %s (%s: %s)", id, path, strerror(errno));
    if (!json_is_array(json_object_get(*state, "agents")) ||
        !json_is_string(json_object_get(*state, "ctl_ns")) ||
        !json_is_string(json_object_get(*state, "token_file")))
        return fl_errf(err, -ENOENT, "lab %s has no agents yet (or was made by an older faultline)",
                       id);
    return 0;
}

/* Move this thread into the lab's control namespace, where its agents listen. */
static int enter_ns(const char *ns, struct fl_err *err)
{
    char path[PATH_MAX];
    int fd, r = 0;

    snprintf(path, sizeof(path), "/run/netns/%s", ns);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return fl_errf(err, -errno, "cannot open %s: %s (the lab is gone, or run as root)", path,
                       strerror(errno));
    if (setns(fd, CLONE_NEWNET) < 0)
        r = fl_errf(err, -errno, "cannot enter %s: %s (run as root)", path, strerror(errno));
    close(fd);
    return r;
}

static int agents_from(struct agents *A, char **urls, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strncmp(urls[i], "http://", 7) != 0 && strncmp(urls[i], "https://", 8) != 0)
            return -EINVAL;
    A->n = n;
    A->url = calloc(n, sizeof(*A->url));
    A->dead = calloc(n, sizeof(*A->dead));
    if (!A->url || !A->dead)
        return -ENOMEM;
    for (i = 0; i < n; i++)
        snprintf(A->url[i], sizeof(A->url[i]), "%s", urls[i]);
    return 0;
}

/* One fan-out of POST /v1/halt (or resume); one line per agent. 0 or FL_EXIT_HARNESS. */
static int halt_all(const struct agents *A, const struct halt_opts *o)
{
    json_t *body = o->reason ? json_pack("{s:s}", "reason", o->reason) : NULL;
    json_t **bodies = calloc(A->n, sizeof(*bodies));
    struct agent_call c = {.method = "POST",
                           .path = o->resume ? "/v1/resume" : "/v1/halt",
                           .n = A->n,
                           .bodies = bodies,
                           .timeout_ms = o->timeout_ms};
    size_t i;
    int code = FL_EXIT_OK;

    for (i = 0; bodies && i < A->n; i++)
        bodies[i] = body;
    if (bodies == NULL || agents_call(A, &c) < 0) {
        fprintf(stderr, "faultline halt: out of memory\n");
        code = FL_EXIT_HARNESS;
    }
    for (i = 0; code == FL_EXIT_OK && i < c.n; i++) {
        const json_t *n = json_object_get(c.r[i].body, "reverted");

        if (!c.r[i].ok) {
            fprintf(stderr, "%s: not %s: %s\n", A->url[c.r[i].host],
                    o->resume ? "resumed" : "halted", c.r[i].why);
            continue;
        }
        if (o->resume)
            printf("%s: resumed (accepts faults again)\n", A->url[c.r[i].host]);
        else
            printf("%s: halted, %lld fault(s) reverted; 'faultline halt --resume' undoes it\n",
                   A->url[c.r[i].host], (long long)json_integer_value(n));
    }
    if (code == FL_EXIT_OK && c.failed)
        code = FL_EXIT_HARNESS;
    agent_call_free(&c);
    free(bodies);
    json_decref(body);
    return code;
}

static int halt_lab(struct halt_opts *o, struct agents *A, char **token, struct fl_err *err)
{
    json_t *state = NULL, *v;
    char **urls = NULL;
    size_t i, n;
    int r;

    if ((r = lab_agents(o->lab, &state, err)) < 0)
        goto out;
    n = json_array_size(json_object_get(state, "agents"));
    if ((urls = calloc(n ? n : 1, sizeof(*urls))) == NULL) {
        r = fl_errf(err, -ENOMEM, "out of memory");
        goto out;
    }
    json_array_foreach(json_object_get(state, "agents"), i, v) urls[i] =
        (char *)json_string_value(v);
    if ((r = agent_token_read(json_string_value(json_object_get(state, "token_file")), token,
                              err)) < 0 ||
        (r = enter_ns(json_string_value(json_object_get(state, "ctl_ns")), err)) < 0)
        goto out;
    r = agents_from(A, urls, n) < 0 ? fl_errf(err, -ENOMEM, "out of memory") : 0;
out:
    free(urls);
    json_decref(state);
    return r;
}

int cmd_halt(int argc, char **argv)
{
    struct halt_opts o;
    struct agents A = {0};
    struct fl_err err = {0};
    char *token = NULL;
    int code, r;

    if ((code = halt_args(argc, argv, &o)) != FL_EXIT_OK)
        return code < 0 ? FL_EXIT_OK : code;
    if (agent_tls_check(&o.tls, &err) < 0 ||
        (o.token_file && agent_token_read(o.token_file, &token, &err) < 0)) {
        fprintf(stderr, "faultline halt: %s\n", err.msg);
        return FL_EXIT_USAGE;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return FL_EXIT_HARNESS;
    if (o.lab)
        r = halt_lab(&o, &A, &token, &err);
    else if ((r = agents_from(&A, argv + optind, (size_t)(argc - optind))) < 0)
        fl_errf(&err, r,
                r == -EINVAL ? "an agent URL starts with http:// or https:// (e.g. "
                               "https://10.99.0.11:7070)"
                             : "out of memory");
    if (r < 0) {
        fprintf(stderr, "faultline halt: %s\n", err.msg);
        code = r == -EINVAL ? FL_EXIT_USAGE : FL_EXIT_HARNESS;
    } else {
        A.token = token;
        A.tls = &o.tls;
        code = halt_all(&A, &o);
    }
    free(A.url);
    free(A.dead);
    agent_token_free(token);
    curl_global_cleanup();
    return code;
}
