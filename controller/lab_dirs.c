/*
 * The lab's private directories, where root-run files (`ip -batch` files,
 * the emergency script) are written: checking and creating a run's lab
 * directory, a fresh private one under LAB_RUN_DIR, and writing a file
 * there safely.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faultline/file.h"
#include "lab_int.h"

/*
 * Write a new file in one of the lab's private directories (root runs what
 * is written here: `ip -batch`, the emergency script). A file of that name is
 * removed first and the new one made with O_EXCL|O_NOFOLLOW: never through a
 * symlink, never into a file someone else opened.
 */
int lab_write_file(const char *path, mode_t mode, const char *text)
{
    int fd;
    size_t len = strlen(text), off = 0;
    ssize_t w;

    if (unlink(path) < 0 && errno != ENOENT)
        return -errno;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    while (off < len) {
        w = write(fd, text + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            w = -errno;
            close(fd);
            return (int)w;
        }
        off += (size_t)w;
    }
    return close(fd) < 0 ? -errno : 0;
}

int lab_private_tmpdir(char *out, size_t len)
{
    struct stat st;
    int r = fl_mkdir_p(LAB_RUN_DIR, 0755);

    if (r < 0)
        return r;
    if (lstat(LAB_RUN_DIR, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
        return -EPERM;
    if ((size_t)snprintf(out, len, "%s/tmp-XXXXXX", LAB_RUN_DIR) >= len)
        return -ENAMETOOLONG;
    return mkdtemp(out) ? 0 : -errno;
}

int lab_dir_create(const char *dir, struct fl_err *err)
{
    char parent[LAB_DIR_MAX], *slash;
    struct stat st;
    uid_t me = geteuid();

    snprintf(parent, sizeof(parent), "%s", dir);
    slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    else
        snprintf(parent, sizeof(parent), ".");
    if (lstat(parent, &st) < 0)
        return fl_errf(err, -errno, "run directory %s: %s", parent, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return fl_errf(err, -ENOTDIR,
                       "run directory %s is not a directory (a symlink?): refusing "
                       "to put the lab's files there",
                       parent);
    if (st.st_uid != me && st.st_uid != 0)
        return fl_errf(err, -EPERM,
                       "run directory %s is owned by uid %u, not %u: refusing to put the lab's "
                       "root-run files there",
                       parent, (unsigned)st.st_uid, (unsigned)me);
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
        return fl_errf(err, -EPERM,
                       "run directory %s is writable by group or others (mode %03o): refusing "
                       "to put the lab's root-run files there",
                       parent, (unsigned)(st.st_mode & 0777));
    if (mkdir(dir, 0700) < 0) {
        if (errno == EEXIST)
            return fl_errf(err, -EEXIST,
                           "lab directory %s exists already: refusing to reuse it (every run "
                           "makes its own)",
                           dir);
        return fl_errf(err, -errno, "cannot create %s: %s", dir, strerror(errno));
    }
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != me)
        return fl_errf(err, -EPERM, "lab directory %s changed under us", dir);
    return 0;
}
