/*
 * The process allowlist. A bearer token must not be root on the host: a
 * process fault may name only a target the agent's own configuration lists
 * (--allow-process unit:NAME | pidfile:PATH | match:TEXT, exact values, or
 * the --process-file the lab writes once its targets run), and the command
 * that starts a killed process again comes from that configuration too
 * (--restart-cmd, or the file's "restart_cmd"): a request may repeat the
 * configured command but never name another. The injector refuses PID 1,
 * the agent, its ancestors, its cgroup, slices and its own unit whatever
 * the configuration says; the guard installed here re-checks the policy
 * before a revert starts anything again, so a journal replayed at start-up
 * obeys today's configuration.
 *
 * --process-file FILE holds {"processes": [{"pidfile": PATH, "restart_cmd":
 * [ARGV...]}, {"unit": NAME}, {"match": TEXT}, ...]}. It is read at every
 * check with O_NOFOLLOW and refused unless it is a regular file owned by the
 * agent's user and not writable by group or others; a missing file lists
 * nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "faultline/buf.h"
#include "faultline/inject_process.h"
#include "faultline/log.h"

#define PROC_FILE_MAX (1 << 20)

static const char *const target_types[] = {"unit", "pidfile", "match", NULL};

bool agent_process_enabled(const struct agent_config *cfg)
{
    return cfg->n_procs > 0 || cfg->process_file != NULL;
}

static bool type_valid(const char *t)
{
    size_t i;

    for (i = 0; target_types[i] != NULL; i++)
        if (strcmp(t, target_types[i]) == 0)
            return true;
    return false;
}

/* Load the process file into a JSON array of rule objects (new reference; empty if absent). */
static int load_file(const char *path, json_t **out, struct fl_err *err)
{
    struct stat st;
    struct fl_buf b;
    char chunk[4096];
    json_error_t je;
    json_t *root, *arr;
    ssize_t n;
    int fd, r = 0;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT) {
        *out = json_array();
        return *out ? 0 : fl_errf(err, -ENOMEM, "out of memory");
    }
    if (fd < 0)
        return fl_errf(err, -EPERM, "--process-file %s: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fl_errf(err, -EPERM, "--process-file %s: not a regular file", path);
    }
    if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        close(fd);
        return fl_errf(err, -EPERM,
                       "--process-file %s: refused (owner uid %u, mode %03o): it must belong to "
                       "the agent's user and be writable by nobody else",
                       path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 0777));
    }
    fl_buf_init(&b, PROC_FILE_MAX);
    while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || fl_buf_add(&b, chunk, (size_t)n) < 0) {
            r = fl_errf(err, -EPERM, "--process-file %s: unreadable or larger than %d bytes", path,
                        PROC_FILE_MAX);
            break;
        }
    }
    close(fd);
    if (r < 0) {
        fl_buf_free(&b);
        return r;
    }
    root = json_loadb(b.p ? b.p : "", b.len, JSON_REJECT_DUPLICATES, &je);
    fl_buf_free(&b);
    arr = json_object_get(root, "processes");
    if (root == NULL || !json_is_array(arr)) {
        json_decref(root);
        return fl_errf(err, -EPERM, "--process-file %s: expected {\"processes\": [...]}", path);
    }
    *out = json_incref(arr);
    json_decref(root);
    return 0;
}

/* Find the rule for (type, value): from the command line, else from the file. */
static int find_rule(const struct agent_config *cfg, const char *type, const char *value,
                     bool *found, json_t **restart, struct fl_err *err)
{
    json_t *arr = NULL, *e, *v;
    size_t i;
    int r;

    *found = false;
    *restart = NULL;
    for (i = 0; i < cfg->n_procs; i++) {
        if (strcmp(cfg->procs[i].type, type) == 0 && strcmp(cfg->procs[i].value, value) == 0) {
            *found = true;
            *restart = cfg->procs[i].restart ? json_incref(cfg->procs[i].restart) : NULL;
            return 0;
        }
    }
    if (cfg->process_file == NULL)
        return 0;
    if ((r = load_file(cfg->process_file, &arr, err)) < 0)
        return r;
    /* A target may be listed more than once (one fault stops it, another kills it): merged. */
    json_array_foreach(arr, i, e)
    {
        v = json_object_get(e, type);
        if (json_is_string(v) && strcmp(json_string_value(v), value) == 0) {
            *found = true;
            v = json_object_get(e, "restart_cmd");
            if (*restart == NULL && json_is_array(v) && json_array_size(v) > 0)
                *restart = json_incref(v);
        }
    }
    json_decref(arr);
    return 0;
}

int agent_process_check(const struct agent_config *cfg, const json_t *spec, bool revert,
                        struct fl_err *err)
{
    const json_t *target = json_object_get(spec, "target"), *cmd;
    const char *type = NULL, *value = NULL, *why = NULL;
    json_t *restart = NULL, *v;
    bool found;
    int r;

    json_object_foreach((json_t *)target, type, v)
    {
        value = json_string_value(v);
        break;
    }
    if (type == NULL || value == NULL || !type_valid(type))
        return fl_errf(err, -EPERM, "process fault without a valid target");
    if (strcmp(type, "unit") == 0 && inj_process_unit_protected(value, &why))
        return fl_errf(err, -EPERM, "unit '%s' is %s: never signalled", value, why);
    if ((r = find_rule(cfg, type, value, &found, &restart, err)) < 0)
        return r;
    if (!found)
        return fl_errf(err, -EPERM,
                       "process target %s:%s is not in this agent's process allowlist "
                       "(--allow-process %s:%s or --process-file)",
                       type, value, type, value);
    cmd = json_object_get(spec, "restart_cmd");
    r = 0;
    if (cmd != NULL && (restart == NULL || !json_equal((json_t *)cmd, restart)))
        r = fl_errf(err, -EPERM,
                    "restart_cmd for %s:%s is not the one this agent is configured with: "
                    "restart commands come from the agent's configuration (--restart-cmd or "
                    "--process-file), not from requests%s",
                    type, value, revert ? " (journal entry refused)" : "");
    json_decref(restart);
    return r;
}

int agent_process_fill(const struct agent_config *cfg, struct inj_fault **f, struct fl_err *err)
{
    json_t *spec, *restart = NULL, *v;
    const char *type = NULL, *value = NULL, *action;
    struct inj_fault *nf = NULL;
    bool found;
    int r;

    if (strcmp(inj_fault_kind(*f), "process") != 0)
        return 0;
    spec = inj_fault_to_json(*f);
    if (spec == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    action = json_string_value(json_object_get(spec, "action"));
    json_object_foreach(json_object_get(spec, "target"), type, v)
    {
        value = json_string_value(v);
        break;
    }
    r = 0;
    if (action == NULL || strcmp(action, "stop") == 0 || type == NULL || value == NULL ||
        json_object_get(spec, "restart_cmd") != NULL)
        goto out;
    if ((r = find_rule(cfg, type, value, &found, &restart, err)) < 0 || restart == NULL)
        goto out;
    json_object_set(spec, "restart_cmd", restart);
    if ((r = inj_fault_parse_json(spec, &nf, err)) < 0)
        goto out;
    inj_fault_free(*f);
    *f = nf;
out:
    json_decref(restart);
    json_decref(spec);
    return r;
}

static int guard(const json_t *spec, enum inj_process_phase phase, void *arg, struct fl_err *err)
{
    struct fl_err tmp;
    int r;

    fl_err_clear(&tmp);
    r = agent_process_check(arg, spec, phase == INJ_PROCESS_REVERT, &tmp);
    if (r < 0) {
        if (phase == INJ_PROCESS_REVERT)
            log_warnx("process revert: not starting anything again: %s", tmp.msg);
        if (err != NULL)
            fl_errf(err, r, "%s", tmp.msg);
    }
    return r;
}

void agent_process_guard_install(const struct agent_config *cfg)
{
    inj_process_set_guard(guard, (void *)cfg);
}

/* --allow-process TYPE:VALUE and --restart-cmd TYPE:VALUE=ARGV (config.c calls these). */
static struct agent_proc_rule *rule_get(struct agent_config *cfg, const char *type,
                                        const char *value, bool create)
{
    struct agent_proc_rule *n;
    size_t i;

    for (i = 0; i < cfg->n_procs; i++)
        if (strcmp(cfg->procs[i].type, type) == 0 && strcmp(cfg->procs[i].value, value) == 0)
            return &cfg->procs[i];
    if (!create)
        return NULL;
    n = realloc(cfg->procs, (cfg->n_procs + 1) * sizeof(*n));
    if (n == NULL)
        return NULL;
    cfg->procs = n;
    n = &cfg->procs[cfg->n_procs];
    memset(n, 0, sizeof(*n));
    snprintf(n->type, sizeof(n->type), "%s", type);
    n->value = strdup(value);
    if (n->value == NULL)
        return NULL;
    cfg->n_procs++;
    return n;
}

/* Split "TYPE:VALUE" (value up to end or up to '=' when stop_eq). */
static int split_target(const char *s, char *type, size_t tlen, char **value, bool stop_eq,
                        const char *opt, struct fl_err *err)
{
    const char *c = strchr(s, ':'), *e;
    size_t n;

    if (c == NULL || (size_t)(c - s) >= tlen)
        return fl_errf(err, -EINVAL, "%s '%s': expected unit:NAME, pidfile:PATH or match:TEXT", opt,
                       s);
    memcpy(type, s, (size_t)(c - s));
    type[c - s] = '\0';
    if (!type_valid(type))
        return fl_errf(err, -EINVAL, "%s '%s': expected unit:NAME, pidfile:PATH or match:TEXT", opt,
                       s);
    c++;
    e = stop_eq ? strchr(c, '=') : NULL;
    n = e ? (size_t)(e - c) : strlen(c);
    if (n == 0)
        return fl_errf(err, -EINVAL, "%s '%s': empty %s", opt, s, type);
    *value = strndup(c, n);
    if (*value == NULL)
        return fl_errf(err, -ENOMEM, "out of memory");
    if (strcmp(type, "pidfile") == 0 && (*value)[0] != '/') {
        free(*value);
        return fl_errf(err, -EINVAL, "%s '%s': the pidfile must be an absolute path", opt, s);
    }
    if (strcmp(type, "match") == 0 && n < 3) {
        free(*value);
        return fl_errf(err, -EINVAL, "%s '%s': a match shorter than 3 characters names too much",
                       opt, s);
    }
    return 0;
}

int agent_config_add_process(struct agent_config *cfg, const char *s, struct fl_err *err)
{
    char type[8], *value = NULL;
    int r;

    if ((r = split_target(s, type, sizeof(type), &value, false, "--allow-process", err)) < 0)
        return r;
    if (rule_get(cfg, type, value, true) == NULL)
        r = fl_errf(err, -ENOMEM, "out of memory");
    free(value);
    return r;
}

int agent_config_add_restart(struct agent_config *cfg, const char *s, struct fl_err *err)
{
    struct agent_proc_rule *rule;
    char type[8], *value = NULL, *copy, *tok, *save = NULL;
    const char *eq = NULL;
    json_t *argv;
    int r;

    if ((r = split_target(s, type, sizeof(type), &value, true, "--restart-cmd", err)) < 0)
        return r;
    eq = strchr(strchr(s, ':'), '=');
    if (eq == NULL || eq[1] == '\0') {
        free(value);
        return fl_errf(err, -EINVAL, "--restart-cmd '%s': expected TYPE:VALUE=PROGRAM ARG...", s);
    }
    rule = rule_get(cfg, type, value, false);
    if (rule == NULL) {
        r = fl_errf(err, -EINVAL,
                    "--restart-cmd '%s': give --allow-process %s:%s first (a restart command "
                    "belongs to an allowed target)",
                    s, type, value);
        free(value);
        return r;
    }
    free(value);
    copy = strdup(eq + 1);
    argv = json_array();
    if (copy == NULL || argv == NULL) {
        free(copy);
        json_decref(argv);
        return fl_errf(err, -ENOMEM, "out of memory");
    }
    for (tok = strtok_r(copy, " \t", &save); tok != NULL; tok = strtok_r(NULL, " \t", &save))
        json_array_append_new(argv, json_string(tok));
    free(copy);
    if (json_array_size(argv) == 0) {
        json_decref(argv);
        return fl_errf(err, -EINVAL, "--restart-cmd '%s': empty command", s);
    }
    json_decref(rule->restart);
    rule->restart = argv;
    return 0;
}

void agent_config_free_processes(struct agent_config *cfg)
{
    size_t i;

    for (i = 0; i < cfg->n_procs; i++) {
        free(cfg->procs[i].value);
        json_decref(cfg->procs[i].restart);
    }
    free(cfg->procs);
    cfg->procs = NULL;
    cfg->n_procs = 0;
}
