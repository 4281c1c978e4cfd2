/*
 * Files and directories shared by every program: mkdir -p.
 */
#ifndef FAULTLINE_FILE_H
#define FAULTLINE_FILE_H

#include <sys/types.h>

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

#endif
