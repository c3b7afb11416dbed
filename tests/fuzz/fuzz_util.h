/* Shared by the libFuzzer harnesses: an input as a named in-memory file (memfd), for readers that
 * take a path, and the check every harness makes of an error (a message, naming the input). */
#ifndef MILNCE_FUZZ_UTIL_H
#define MILNCE_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"

/* A file holding data; *path is "/proc/self/fd/N" (valid until close(fd)). -1 on failure. */
static inline int fuzz_memfile(const void *data, size_t n, char *path, size_t cap) {
    int fd = memfd_create("fuzz", 0);
    if (fd < 0) return -1;
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) { close(fd); return -1; }
        p += w;
        n -= (size_t)w;
    }
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

/* A failed call must say what failed: a non-empty message. */
static inline void fuzz_check_error(int rc, const milnce_error *err, const char *what) {
    if (rc < 0 && !err->msg[0]) {
        fprintf(stderr, "%s: error %d without a message\n", what, rc);
        abort();
    }
}

#endif
