/*
 * A lab's namespaces under /run/netns: finding them by name prefix or
 * inode, the processes inside them (by the inode of their network namespace,
 * as `ip netns pids` does), and deleting them with one `ip -batch`.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab_int.h"

/* Inode of a named namespace, 0 if absent. */
ino_t lab_ns_inode(const char *ns)
{
    char p[PATH_MAX];
    struct stat st;

    snprintf(p, sizeof(p), "/run/netns/%s", ns);
    return stat(p, &st) == 0 ? st.st_ino : 0;
}

/* Pids whose network namespace is one of inos[0..n); returns the count (at most max). */
static size_t pids_in(const ino_t *inos, size_t n, pid_t *out, size_t max)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    size_t k = 0, i;
    pid_t self = getpid();

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL && k < max) {
        char p[64], link[64];
        unsigned long ino;
        ssize_t len;
        char *end;
        long pid = strtol(e->d_name, &end, 10);

        if (*end || pid <= 0 || pid == self)
            continue;
        snprintf(p, sizeof(p), "/proc/%ld/ns/net", pid);
        len = readlink(p, link, sizeof(link) - 1);
        if (len <= 0)
            continue;
        link[len] = '\0';
        if (sscanf(link, "net:[%lu]", &ino) != 1)
            continue;
        for (i = 0; i < n; i++)
            if (inos[i] && inos[i] == (ino_t)ino)
                out[k++] = (pid_t)pid;
    }
    closedir(d);
    return k;
}

/*
 * Kill every process in the namespaces (SIGKILL), then delete them with one
 * `ip -batch`. names: n namespace names. Returns 0 or -errno.
 */
int lab_ns_destroy(char **names, size_t n, const char *dir, struct fl_err *err)
{
    char tmpdir[64] = "";
    ino_t *inos = calloc(n ? n : 1, sizeof(*inos));
    pid_t pids[1024];
    struct text t = {0};
    char batch[PATH_MAX], log[PATH_MAX], msg[256];
    size_t i, k, present = 0;
    int round, r = 0;
    pid_t pid;

    if (!inos)
        return fl_errf(err, -ENOMEM, "out of memory");
    for (i = 0; i < n; i++)
        if ((inos[i] = lab_ns_inode(names[i])) != 0)
            present++;
    for (round = 0; round < 50; round++) {
        k = pids_in(inos, n, pids, 1024);
        if (k == 0)
            break;
        for (i = 0; i < k; i++)
            kill(pids[i], SIGKILL);
        for (i = 0; i < k; i++)
            waitpid(pids[i], NULL, WNOHANG);
        usleep(20000);
    }
    free(inos);
    if (present == 0)
        return 0;
    for (i = 0; i < n; i++)
        if (lab_ns_inode(names[i]) != 0)
            lab_tx_add(&t, "netns del %s\n", names[i]);
    if (dir == NULL) {
        /* No lab directory: a fresh private one, never a shared /tmp. */
        if ((r = lab_private_tmpdir(tmpdir, sizeof(tmpdir))) < 0) {
            free(t.s);
            return fl_errf(err, r, "cannot create a private directory under %s: %s", LAB_RUN_DIR,
                           strerror(-r));
        }
        dir = tmpdir;
    }
    snprintf(batch, sizeof(batch), "%s/fl-netns-del-%d.batch", dir, (int)getpid());
    snprintf(log, sizeof(log), "%s/fl-netns-del-%d.log", dir, (int)getpid());
    if ((r = lab_tx_write(&t, batch)) < 0) {
        if (tmpdir[0])
            rmdir(tmpdir);
        return fl_errf(err, r, "cannot write %s: %s", batch, strerror(-r));
    }
    pid = lab_ip_batch_start(NULL, batch, log);
    r = pid < 0 ? (int)pid : lab_wait_ok(pid);
    if (r < 0) {
        lab_last_line(log, msg, sizeof(msg));
        fl_errf(err, r, "deleting the lab's namespaces failed: %s", msg[0] ? msg : strerror(-r));
    }
    unlink(batch);
    unlink(log);
    if (tmpdir[0])
        rmdir(tmpdir);
    return r;
}

/* Namespace names under /run/netns starting with prefix (malloc'd array). */
size_t lab_ns_with_prefix(const char *prefix, char ***out)
{
    DIR *d = opendir("/run/netns");
    struct dirent *e;
    char **v = NULL, **nv;
    size_t n = 0;

    *out = NULL;
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        nv = realloc(v, (n + 1) * sizeof(*v));
        if (!nv)
            break;
        v = nv;
        if ((v[n] = strdup(e->d_name)) != NULL)
            n++;
    }
    closedir(d);
    *out = v;
    return n;
}
