/*
 * mkdir -p (see faultline/file.h): the one copy the injector's state
 * directory, the lab's run directory, the run's output directory and the
 * service launchers' data directories all use.
 */
#include <errno.h>
#include <string.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faultline/err.h"
#include "faultline/file.h"

static int make_one(const char *dir, mode_t mode, int uid, int gid)
{
    if (mkdir(dir, mode) == 0) {
        if (uid >= 0 && chown(dir, (uid_t)uid, (gid_t)gid) < 0)
            return -errno;
        return 0;
    }
    return errno == EEXIST ? 0 : -errno;
}

int fl_mkdir_p_as(const char *path, mode_t parent_mode, mode_t mode, int uid, int gid)
{
    char tmp[PATH_MAX], *p;
    int r;

    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    for (p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if ((r = make_one(tmp, parent_mode, uid, gid)) < 0)
            return r;
        *p = '/';
    }
    return make_one(tmp, mode, uid, gid);
}

int fl_mkdir_p(const char *path, mode_t mode)
{
    return fl_mkdir_p_as(path, mode, mode, -1, -1);
}

int fl_file_commit(FILE *f, const char *tmp, const char *path, int r, struct fl_err *err)
{
    if (ferror(f) && r == 0)
        r = -EIO;
    if (fclose(f) != 0 && r == 0)
        r = errno ? -errno : -EIO;
    if (r < 0) {
        unlink(tmp);
        return fl_errf(err, r, "cannot write %s: %s", path, strerror(-r));
    }
    if (rename(tmp, path) < 0) {
        r = -errno;
        unlink(tmp);
        return fl_errf(err, r, "cannot rename %s: %s", tmp, strerror(-r));
    }
    return 0;
}
