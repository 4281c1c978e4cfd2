/*
 * mkdir -p (see faultline/file.h): the one copy the injector's state
 * directory, the lab's run directory, the run's output directory and the
 * service launchers' data directories all use.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

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
