#include "fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int milnce_path(char *buf, size_t cap, milnce_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (k >= 0 && (size_t)k < cap) return 0;
    int shown = cap > 64 ? 64 : (int)cap; /* the start says which path it was */
    int ret = milnce_error_set(err, MILNCE_ERR_RANGE, "path too long (over %zu bytes): %.*s...", cap ? cap - 1 : 0,
                               shown, buf);
    if (cap) buf[0] = '\0';
    return ret;
}

int milnce_read_file(const char *path, size_t max, char **data, size_t *n, int *truncated, milnce_error *err) {
    *data = NULL;
    *n = 0;
    if (truncated) *truncated = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return milnce_error_set(err, errno == ENOENT ? MILNCE_ERR_NOTFOUND : MILNCE_ERR_IO, "%s: %s", path,
                                strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return milnce_error_set(err, MILNCE_ERR_IO, "%s: is a directory", path);
    }
    size_t limit = max ? max : SIZE_MAX - 1, cap = 0, len = 0;
    char *buf = NULL;
    int ret = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= limit) break;
            size_t want = cap ? (cap > limit / 2 ? limit : cap * 2) : (limit < 65536 ? limit : 65536);
            char *nb = realloc(buf, want + 1);
            if (!nb) {
                ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: %zu bytes", path, want);
                break;
            }
            buf = nb;
            cap = want;
        }
        size_t k = fread(buf + len, 1, cap - len, f);
        len += k;
        if (k == 0) break;
    }
    if (ret == 0 && ferror(f)) ret = milnce_error_set(err, MILNCE_ERR_IO, "%s: read error", path);
    if (ret == 0 && len == limit && max && fgetc(f) != EOF) {
        if (truncated) *truncated = 1;
        else ret = milnce_error_set(err, MILNCE_ERR_RANGE, "%s: larger than %zu bytes", path, max);
    }
    fclose(f);
    if (ret == 0 && !buf && !(buf = malloc(1))) ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s", path);
    if (ret < 0) {
        free(buf);
        return ret;
    }
    buf[len] = '\0';
    *data = buf;
    *n = len;
    return 0;
}

int milnce_atomic_open(milnce_atomic_file *f, const char *path, milnce_error *err) {
    static atomic_uint counter; /* distinct temp names for threads of one process */
    f->fd = -1;
    if (strlen(path) >= sizeof f->path)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "path too long: %.64s...", path);
    strcpy(f->path, path);
    int ret = milnce_path(f->tmp, sizeof f->tmp, err, "%s.tmp.%ld.%u", path, (long)getpid(),
                          atomic_fetch_add(&counter, 1));
    if (ret < 0) return ret;
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) return milnce_error_set(err, MILNCE_ERR_IO, "%s: %s", f->tmp, strerror(errno));
    return 0;
}

int milnce_atomic_write(milnce_atomic_file *f, const void *buf, size_t n, milnce_error *err) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return milnce_error_set(err, MILNCE_ERR_IO, "%s: %s", f->tmp, strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int milnce_atomic_commit(milnce_atomic_file *f, milnce_error *err) {
    int ret = 0;
    if (fsync(f->fd) < 0) ret = milnce_error_set(err, MILNCE_ERR_IO, "%s: fsync: %s", f->tmp, strerror(errno));
    if (close(f->fd) < 0 && ret == 0)
        ret = milnce_error_set(err, MILNCE_ERR_IO, "%s: close: %s", f->tmp, strerror(errno));
    f->fd = -1;
    if (ret == 0 && rename(f->tmp, f->path) < 0)
        ret = milnce_error_set(err, MILNCE_ERR_IO, "rename %s -> %s: %s", f->tmp, f->path, strerror(errno));
    if (ret < 0) {
        unlink(f->tmp);
        return ret;
    }
    char dir[MILNCE_PATH_MAX];
    strcpy(dir, f->path); /* fits: same size as f->path */
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* best effort: some file systems refuse fsync on folders */
        close(dfd);
    }
    return 0;
}

void milnce_atomic_abort(milnce_atomic_file *f) {
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    unlink(f->tmp);
}

int milnce_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int milnce_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int milnce_mkdirs(const char *path, milnce_error *err) {
    char buf[MILNCE_PATH_MAX];
    int ret = milnce_path(buf, sizeof buf, err, "%s", path);
    if (ret < 0) return ret;
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST) return milnce_error_set(err, MILNCE_ERR_IO, "%s: %s", buf, strerror(errno));
        *s = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) return milnce_error_set(err, MILNCE_ERR_IO, "%s: %s", buf, strerror(errno));
    return 0;
}

int milnce_write_file_atomic(const char *path, const void *buf, size_t n, milnce_error *err) {
    milnce_atomic_file f;
    int ret = milnce_atomic_open(&f, path, err);
    if (ret < 0) return ret;
    if ((ret = milnce_atomic_write(&f, buf, n, err)) < 0) {
        milnce_atomic_abort(&f);
        return ret;
    }
    return milnce_atomic_commit(&f, err);
}

/* Compares path's bytes with buf: 1 when equal, 0 otherwise (also when unreadable). */
static int same_content(const char *path, const void *buf, size_t n) {
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    int same = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == (uint64_t)n;
    unsigned char chunk[1 << 14];
    for (size_t at = 0; same && at < n;) {
        size_t want = n - at < sizeof chunk ? n - at : sizeof chunk;
        ssize_t k = pread(fd, chunk, want, (off_t)at);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0 || memcmp(chunk, (const unsigned char *)buf + at, (size_t)k) != 0) same = 0;
        else at += (size_t)k;
    }
    close(fd);
    return same;
}

int milnce_update_file_atomic(const char *path, const void *buf, size_t n, milnce_error *err) {
    if (same_content(path, buf, n)) return 1;
    int ret = milnce_write_file_atomic(path, buf, n, err);
    return ret < 0 ? ret : 0;
}
