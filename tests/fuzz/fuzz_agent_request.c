/*
 * The agent's request bodies. The route handlers in agents/api.c read the
 * body through libmicrohttpd and are not callable alone; this target runs
 * what each route does with a body after it is read, through the same
 * functions: strict JSON (duplicates refused, an object), then
 *   POST /v1/faults       {id, fault, ttl_ms}: the fault through
 *                         inj_fault_parse_json, agent_process_fill and the
 *                         agent's allowlist (agent_policy_check);
 *   POST /v1/captures     agent_capture_start on an agent whose allowlist
 *                         names no interface (it answers before any capture);
 *   POST /v1/faults/ID/renew, POST /v1/revert-all: the body is parsed and
 *                         checked for known keys and ttl_ms only.
 * The first input byte picks the route (mod 4), the rest is the body, so a
 * corpus file is "<digit><body>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "faultline/inject.h"
#include "faultline/json.h"
#include "fuzz.h"

static struct agent_config cfg;
static bool cfg_ready;

static void config_once(void)
{
    static const char *const argv[] = {
        "faultline-agent", "--listen",        "127.0.0.1:1",       "--token-file",
        "/nonexistent",    "--state-dir",     "/nonexistent",      "--control",
        "198.19.0.0/16",   "--allow",         "198.18.0.0/16",     "--allow",
        "fd00::/8",        "--allow-process", "unit:fuzz.service", NULL,
    };
    struct fl_err err;

    fl_err_clear(&err);
    if (agent_config_parse(&cfg, (int)(sizeof(argv) / sizeof(argv[0])) - 1, (char **)argv, &err) !=
        0) {
        fprintf(stderr, "fuzz_agent_request: config: %s\n", err.msg);
        abort();
    }
    cfg_ready = true;
}

static void post_fault(const json_t *body)
{
    static const char *const keys[] = {"id", "fault", "ttl_ms", NULL};
    const json_t *id = json_object_get(body, "id"), *spec = json_object_get(body, "fault");
    const json_t *ttl = json_object_get(body, "ttl_ms");
    struct inj_fault *f = NULL;
    struct fl_err err;

    if (fl_json_unknown_key(body, keys) != NULL || !json_is_string(id) ||
        !inj_id_valid(json_string_value(id)) || !json_is_object(spec) || !json_is_integer(ttl))
        return;
    fl_err_clear(&err);
    if (inj_fault_parse_json(spec, &f, &err) < 0)
        return;
    fl_err_clear(&err);
    if (agent_process_fill(&cfg, &f, &err) == 0) {
        fl_err_clear(&err);
        agent_policy_check(&cfg, f, &err);
    }
    inj_fault_free(f);
}

static void post_capture(const json_t *body)
{
    struct agent a;
    json_t *out = NULL;

    memset(&a, 0, sizeof(a));
    a.cfg = &cfg;
    agent_capture_start(&a, body, &out);
    json_decref(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const renew_keys[] = {"ttl_ms", NULL}, *const none[] = {NULL};
    json_error_t je;
    json_t *body;
    int route;

    if (!cfg_ready)
        config_once();
    if (size < 1)
        return 0;
    route = data[0] % 4;
    body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &je);
    if (body == NULL)
        return 0;
    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    switch (route) {
    case 0:
        post_fault(body);
        break;
    case 1:
        post_capture(body);
        break;
    case 2:
        (void)fl_json_unknown_key(body, renew_keys);
        (void)json_integer_value(json_object_get(body, "ttl_ms"));
        break;
    default:
        (void)fl_json_unknown_key(body, none);
        break;
    }
    json_decref(body);
    return 0;
}
