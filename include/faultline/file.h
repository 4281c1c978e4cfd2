/*
 * Files and directories shared by every program: mkdir -p.
 */
#ifndef FAULTLINE_FILE_H
#define FAULTLINE_FILE_H

#include <stdio.h>
#include <sys/types.h>

struct fl_err;

/*
 * mkdir -p path: every missing directory is created with mode. Directories
 * that exist are left as they are. 0, or -errno (-ENAMETOOLONG past PATH_MAX).
 */
int fl_mkdir_p(const char *path, mode_t mode);

/*
 * mkdir -p with the missing parents made with parent_mode and path itself
 * with mode; when uid >= 0, each directory it creates is chowned to uid:gid
 * (a server that runs as another user owns its data directory).
 */
int fl_mkdir_p_as(const char *path, mode_t parent_mode, mode_t mode, int uid, int gid);

/*
 * Put a file written as tmp in place as path, all or nothing: f (tmp's
 * stream) is closed whatever happens; r is the writer's own result (0 or a
 * negative errno); a write error, a failed close or r < 0 removes tmp and
 * fails with "cannot write PATH: reason", else tmp is renamed over path.
 * 0 or a negative errno with err set.
 */
int fl_file_commit(FILE *f, const char *tmp, const char *path, int r, struct fl_err *err);

#endif
