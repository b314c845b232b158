/*
 * Shared by the file-based fuzz targets: the input has to reach a loader
 * that takes a path, so it is written to one in-memory file per process
 * (memfd, opened by the loader through /proc/self/fd/N; nothing is left
 * behind when the fuzzer crashes).  Without memfd a temporary file under
 * $TMPDIR (or /tmp) is used and removed at exit.
 */
#ifndef LB_FUZZ_FILE_H
#define LB_FUZZ_FILE_H

/* memfd_create needs _GNU_SOURCE, defined by the includer before any header. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char fuzz_file_path[4096];
static int fuzz_file_fd = -1;

static void fuzz_file_cleanup(void)
{
    unlink(fuzz_file_path); /* only registered for the mkstemps file */
}

/* The path of a file now holding exactly data[0..size); aborts when it cannot be made. */
static const char *fuzz_file_write(const uint8_t *data, size_t size, const char *suffix)
{
    if (fuzz_file_fd < 0) {
        fuzz_file_fd = memfd_create("lb-fuzz", MFD_CLOEXEC);
        if (fuzz_file_fd >= 0) {
            snprintf(fuzz_file_path, sizeof fuzz_file_path, "/proc/self/fd/%d", fuzz_file_fd);
            if (access(fuzz_file_path, R_OK) != 0) { /* no /proc */
                close(fuzz_file_fd);
                fuzz_file_fd = -1;
            }
        }
        if (fuzz_file_fd < 0) {
            const char *tmp = getenv("TMPDIR");
            snprintf(fuzz_file_path, sizeof fuzz_file_path, "%s/lb-fuzz-XXXXXX%s",
                     tmp && *tmp ? tmp : "/tmp", suffix);
            fuzz_file_fd = mkstemps(fuzz_file_path, (int)strlen(suffix));
            if (fuzz_file_fd < 0) {
                perror("fuzz: cannot create the input file");
                abort();
            }
            atexit(fuzz_file_cleanup);
        }
    }
    if (ftruncate(fuzz_file_fd, 0) != 0) {
        perror("fuzz: ftruncate");
        abort();
    }
    size_t off = 0;
    while (off < size) {
        ssize_t w = pwrite(fuzz_file_fd, data + off, size - off, (off_t)off);
        if (w <= 0) {
            perror("fuzz: pwrite");
            abort();
        }
        off += (size_t)w;
    }
    return fuzz_file_path;
}

#endif
