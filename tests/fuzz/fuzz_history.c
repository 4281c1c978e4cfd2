/*
 * history.jsonl and faults.jsonl loading (hist_load_jsonl,
 * hist_faults_load_jsonl): the readers take a path, so the input goes into
 * an anonymous memory file read back through /proc/self/fd. The same bytes
 * go to both readers; a history that loads is also written back out and the
 * result must load again.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "faultline/err.h"
#include "faultline/history.h"
#include "fuzz.h"

static int memfile(const uint8_t *data, size_t size, char *path, size_t len)
{
    int fd = memfd_create("fuzz-history", MFD_CLOEXEC);
    size_t off = 0;

    if (fd < 0)
        return -1;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);

        if (w <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    snprintf(path, len, "/proc/self/fd/%d", fd);
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hist h, h2;
    struct hist_faults fs;
    struct fl_err err;
    char path[64];
    int fd;

    fd = memfile(data, size, path, sizeof(path));
    if (fd < 0)
        return 0;
    fl_err_clear(&err);
    if (hist_init(&h) == 0) {
        if (hist_load_jsonl(path, &h, &err) == 0) {
            char *out = NULL;
            size_t olen = 0;
            FILE *f = open_memstream(&out, &olen);

            /* What the writer makes of a loaded history, the reader takes back. */
            if (f != NULL && hist_write_jsonl(f, &h) == 0 && fclose(f) == 0) {
                char p2[64];
                int fd2 = memfile((const uint8_t *)out, olen, p2, sizeof(p2));

                if (fd2 >= 0 && hist_init(&h2) == 0) {
                    fl_err_clear(&err);
                    if (hist_load_jsonl(p2, &h2, &err) != 0) {
                        fprintf(stderr, "written history does not load back: %s\n", err.msg);
                        abort();
                    }
                    hist_free(&h2);
                }
                if (fd2 >= 0)
                    close(fd2);
            } else if (f != NULL) {
                fclose(f);
            }
            free(out);
        }
        hist_free(&h);
    }
    memset(&fs, 0, sizeof(fs));
    fl_err_clear(&err);
    hist_faults_load_jsonl(path, &fs, &err);
    hist_faults_free(&fs);
    close(fd);
    return 0;
}
