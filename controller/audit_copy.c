/*
 * The agents' audit trail of one run, copied into the run folder: every
 * agent's GET /v1/audit?since=<the run's start> (its own append-only log of
 * applies, renewals, reverts, lease expiries, sweeps, halts and refused
 * requests, docs/agent-api.md "Audit") into audit-<host>.jsonl, read after
 * the final heal so that the reverts are in it. Best effort: an agent that
 * does not answer leaves a warning and no file, never a failed run (its own
 * log on the host stays the record).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/file.h"
#include "faultline/log.h"
#include "run_int.h"

#pragma GCC diagnostic ignored "-Wformat-truncation"

static int write_text(const char *dir, const char *host, const char *text, size_t len,
                      struct fl_err *err)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    FILE *f;

    snprintf(path, sizeof(path), "%s/audit-%s.jsonl", dir, host);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if ((f = fopen(tmp, "w")) == NULL)
        return fl_errf(err, -errno, "cannot write %s: %s", tmp, strerror(errno));
    return fl_file_commit(f, tmp, path, fwrite(text, 1, len, f) == len ? 0 : -EIO, err);
}

void outputs_audit(struct run *R)
{
    static const long accept[] = {200, 0};
    char path[64];
    struct agent_call c = {.method = "GET",
                           .path = path,
                           .n = R->agents.n,
                           .timeout_ms = 3000,
                           .accept = accept,
                           .raw = true};
    size_t *live, i, n = 0;

    if (!R->agents.url || R->agents.n == 0 || R->t_start_wall <= 0)
        return;
    if ((live = calloc(R->agents.n, sizeof(*live))) == NULL)
        return;
    for (i = 0; i < R->agents.n; i++)
        if (!R->agents.dead[i])
            live[n++] = i;
    c.hosts = live;
    c.n = n;
    snprintf(path, sizeof(path), "/v1/audit?since=%" PRId64, R->t_start_wall);
    if (n > 0 && agents_call(&R->agents, &c) == 0) {
        for (i = 0; i < c.n; i++) {
            const char *host = R->exp->topology.hosts[c.r[i].host].name;
            const char *text = json_string_value(c.r[i].body);
            struct fl_err err = {0};

            if (!c.r[i].ok || text == NULL)
                log_warnx("audit trail of %s not copied: %s", host, c.r[i].why);
            else if (write_text(R->out, host, text, json_string_length(c.r[i].body), &err) < 0)
                log_warnx("audit trail of %s: %s", host, err.msg);
        }
        agent_call_free(&c);
    }
    free(live);
}
