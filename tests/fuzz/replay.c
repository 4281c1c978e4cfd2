/*
 * Corpus replay: run LLVMFuzzerTestOneInput over every file named on the
 * command line (directories are read one level deep, sorted), as libFuzzer
 * does with -runs=0. A crash or a sanitizer report fails the test; the file
 * being run is printed first so the failure names its reproducer.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define REPLAY_MAX (4 << 20) /* larger than any seed; libFuzzer's default -max_len is far below */

static int run_file(const char *path, bool verbose)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;

    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    buf = malloc(REPLAY_MAX);
    if (buf == NULL) {
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, REPLAY_MAX, f);
    fclose(f);
    if (verbose)
        fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
    /* An exact-size copy, so ASan sees a read past the input's end. */
    {
        uint8_t *exact = malloc(n ? n : 1);

        if (exact == NULL) {
            free(buf);
            return -1;
        }
        memcpy(exact, buf, n);
        free(buf);
        LLVMFuzzerTestOneInput(exact, n);
        free(exact);
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    bool verbose = getenv("FUZZ_REPLAY_VERBOSE") != NULL;
    size_t runs = 0;
    int i, bad = 0;

    for (i = 1; i < argc; i++) {
        struct stat st;
        struct dirent *de;
        char **names = NULL;
        size_t n = 0, k;
        DIR *d;

        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
            bad = 1;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            bad |= run_file(argv[i], verbose) < 0;
            runs++;
            continue;
        }
        d = opendir(argv[i]);
        while (d != NULL && (de = readdir(d)) != NULL) {
            char **nn;

            if (de->d_name[0] == '.')
                continue;
            nn = realloc(names, (n + 1) * sizeof(*nn));
            if (nn == NULL)
                break;
            names = nn;
            if (asprintf(&names[n], "%s/%s", argv[i], de->d_name) < 0)
                break;
            n++;
        }
        if (d != NULL)
            closedir(d);
        if (n > 1)
            qsort(names, n, sizeof(*names), by_name);
        for (k = 0; k < n; k++) {
            bad |= run_file(names[k], verbose) < 0;
            runs++;
            free(names[k]);
        }
        free(names);
    }
    printf("replayed %zu input(s)\n", runs);
    if (runs == 0) {
        fprintf(stderr, "replay: empty corpus\n");
        return 1;
    }
    return bad;
}
