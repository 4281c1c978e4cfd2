/*
 * The lab's state file (LAB_STATE_DIR/<id>.json: namespaces, processes, the
 * controller): writing it, and what reads it: lab_down_id, lab_stale,
 * lab_list and lab_residue.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "faultline/timeutil.h"
#include "lab_int.h"

/*
 * When pid started (clock ticks since boot, field 22 of /proc/<pid>/stat),
 * so that a reused pid is not taken for the process a state file names.
 * -1 when there is no such process or it is a zombie (it is gone, only not
 * reaped yet).
 */
long long lab_proc_start(pid_t pid)
{
    char path[64], buf[1024], *p, *tok, *save = NULL;
    long long start = -1;
    FILE *f;
    int field;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (pid <= 0 || (f = fopen(path, "re")) == NULL)
        return -1;
    p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
    fclose(f);
    if (!p)
        return -1;
    /* After the command's ")": field 3 (state) ... field 22 (starttime). */
    for (field = 3, tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        if (field == 3 && (tok[0] == 'Z' || tok[0] == 'X'))
            return -1;
        if (field++ == 22) {
            start = strtoll(tok, NULL, 10);
            break;
        }
    }
    return start;
}

int lab_state_write(const struct lab *lab)
{
    json_t *j = json_object(), *nss = json_array(), *procs = json_array();
    char tmp[PATH_MAX + 8];
    size_t i;
    int r;

    if (!j || !nss || !procs) {
        json_decref(j);
        json_decref(nss);
        json_decref(procs);
        return -ENOMEM;
    }
    json_array_append_new(nss, json_string(lab->router_ns));
    json_array_append_new(nss, json_string(lab->ctl_ns));
    for (i = 0; i < lab->n_hosts; i++)
        json_array_append_new(nss, json_string(lab->host_ns[i]));
    for (i = 0; i < lab->n_grp; i++)
        json_array_append_new(nss, json_string(lab->grp_ns[i]));
    for (i = 0; i < lab->n_procs; i++)
        json_array_append_new(procs, json_pack("{s:i,s:s,s:I}", "pid", (int)lab->procs[i], "name",
                                               lab->proc_names[i], "start",
                                               (json_int_t)lab_proc_start(lab->procs[i])));
    json_object_set_new(j, "id", json_string(lab->id));
    json_object_set_new(j, "dir", json_string(lab->dir));
    json_object_set_new(j, "controller_pid", json_integer(getpid()));
    json_object_set_new(j, "controller_start", json_integer(lab_proc_start(getpid())));
    json_object_set_new(j, "detached", json_boolean(lab->detach));
    json_object_set_new(j, "created_wall_ns", json_integer(fl_wall_ns()));
    json_object_set_new(j, "namespaces", nss);
    /* what `faultline halt --lab ID` needs: where the agents listen, from where, their token */
    json_object_set_new(j, "ctl_ns", json_string(lab->ctl_ns));
    json_object_set_new(j, "token_file", json_string(lab->token_file));
    if (lab->agent_url) {
        json_t *agents = json_array();

        for (i = 0; agents && i < lab->n_hosts; i++)
            json_array_append_new(agents, json_string(lab->agent_url[i]));
        json_object_set_new(j, "agents", agents);
    }
    json_object_set_new(j, "processes", procs);
    snprintf(tmp, sizeof(tmp), "%s.tmp", lab->state_file);
    errno = 0;
    r = json_dump_file(j, tmp, JSON_INDENT(2)) == 0 ? 0 : errno ? -errno : -EIO;
    json_decref(j);
    if (r < 0)
        unlink(tmp);
    if (r == 0 && rename(tmp, lab->state_file) < 0)
        r = -errno;
    return r;
}

int lab_down_id(const char *id, struct fl_err *err)
{
    char state[PATH_MAX], prefix[64], **names = NULL;
    json_t *j, *v;
    size_t i, n;
    int r = 0;

    if (strlen(id) != LAB_ID_LEN || strspn(id, "0123456789abcdef") != LAB_ID_LEN)
        return fl_errf(err, -EINVAL,
                       "'%s' is not a lab id (6 hex digits, see 'faultline lab list')", id);
    snprintf(state, sizeof(state), "%s/%s.json", LAB_STATE_DIR, id);
    snprintf(prefix, sizeof(prefix), "fl-%s-", id);
    j = json_load_file(state, 0, NULL);
    if (j) {
        /* Processes first (SIGTERM, a short grace), so that agents revert. */
        json_array_foreach(json_object_get(j, "processes"), i, v)
        {
            pid_t pid = (pid_t)json_integer_value(json_object_get(v, "pid"));
            json_t *st = json_object_get(v, "start");

            /*
             * Only the process the lab started: its pid may belong to another
             * process by now. Without a recorded start time (an older state
             * file) nothing is signalled here; the namespaces' processes are
             * killed with them below.
             */
            if (pid > 0 && json_is_integer(st) && json_integer_value(st) > 0 &&
                lab_proc_start(pid) == (long long)json_integer_value(st))
                kill(pid, SIGTERM);
        }
        usleep(300000);
    }
    n = lab_ns_with_prefix(prefix, &names);
    if (!j && n == 0)
        return fl_errf(err, -ENOENT, "no lab with id %s", id);
    if (n > 0)
        r = lab_ns_destroy(names, n, NULL, err);
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (j) {
        const char *dir = json_string_value(json_object_get(j, "dir"));
        char own[PATH_MAX];

        /* `lab up` keeps its files under LAB_STATE_DIR/<id>: those go too. */
        snprintf(own, sizeof(own), "%s/%s", LAB_STATE_DIR, id);
        if (r == 0 && dir && strcmp(dir, own) == 0) {
            pid_t pid = fork();

            if (pid == 0) {
                lab_child_unblock();
                execl("/bin/rm", "rm", "-rf", "--", own, (char *)NULL);
                _exit(127);
            }
            if (pid > 0)
                waitpid(pid, NULL, 0);
        }
        json_decref(j);
    }
    if (r == 0)
        unlink(state);
    return r;
}

int lab_stale(const char *id, char *why, size_t len)
{
    char state[PATH_MAX];
    json_t *j, *start;
    long long now;
    pid_t pid;
    int r = 0;

    if (why && len)
        why[0] = '\0';
    snprintf(state, sizeof(state), "%s/%s.json", LAB_STATE_DIR, id);
    if ((j = json_load_file(state, 0, NULL)) == NULL)
        return 0;
    pid = (pid_t)json_integer_value(json_object_get(j, "controller_pid"));
    start = json_object_get(j, "controller_start");
    /* `lab up` and --keep-lab: left running on purpose, their controller has exited. */
    if (!json_is_true(json_object_get(j, "detached"))) {
        now = lab_proc_start(pid);
        if (now < 0) {
            r = 1;
            if (why)
                snprintf(why, len, "its controller (pid %d) is gone", (int)pid);
        } else if (json_is_integer(start) && json_integer_value(start) >= 0 &&
                   json_integer_value(start) != now) {
            r = 1;
            if (why)
                snprintf(why, len,
                         "its controller (pid %d) is gone (that pid is another process now)",
                         (int)pid);
        }
    }
    json_decref(j);
    return r;
}

int lab_list(char ***ids, size_t *n)
{
    DIR *d = opendir(LAB_STATE_DIR);
    struct dirent *e;
    char **v = NULL, **nv;
    size_t k = 0, len;

    *ids = NULL;
    *n = 0;
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    while ((e = readdir(d)) != NULL) {
        len = strlen(e->d_name);
        if (len != LAB_ID_LEN + 5 || strcmp(e->d_name + LAB_ID_LEN, ".json") != 0)
            continue;
        nv = realloc(v, (k + 1) * sizeof(*v));
        if (!nv)
            break;
        v = nv;
        v[k] = strndup(e->d_name, LAB_ID_LEN);
        if (v[k])
            k++;
    }
    closedir(d);
    *ids = v;
    *n = k;
    return 0;
}

char *lab_residue(const char *id)
{
    char prefix[64], **names = NULL, *out;
    size_t i, n, len = 1;

    snprintf(prefix, sizeof(prefix), "fl-%s-", id);
    n = lab_ns_with_prefix(prefix, &names);
    for (i = 0; i < n; i++)
        len += strlen(names[i]) + 1;
    out = calloc(1, len);
    for (i = 0; i < n; i++) {
        if (out) {
            strcat(out, names[i]);
            strcat(out, "\n");
        }
        free(names[i]);
    }
    free(names);
    return out;
}
