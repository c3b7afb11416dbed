/* Files and paths, the one module for them: read a whole file, make folders (mkdir -p), build a
 * path into a fixed buffer with an error instead of a silent cut, and write atomically.
 *
 * Atomic writes: data goes to "<path>.tmp.<pid>.<n>" in the same folder, is fsynced, then
 * renamed over path (and the folder fsynced), so a reader sees the old file or the whole new
 * one, never a part, whatever kills the process. */
#ifndef MILNCE_FILEUTIL_H
#define MILNCE_FILEUTIL_H

#include <stddef.h>

#include "error.h"

/* Longest path the library builds (bytes, with the NUL): the size of its path buffers. */
#define MILNCE_PATH_MAX 4096

/* Formats a path into buf (cap bytes) as snprintf does, but a path that does not fit is an error
 * (MILNCE_ERR_RANGE, "path too long: <its start>...") and buf holds "" : a cut path could name
 * another file. err may be NULL. */
int milnce_path(char *buf, size_t cap, milnce_error *err, const char *fmt, ...) MILNCE_PRINTF(4, 5);

/* Reads the whole file at path into *data (malloc'ed, NUL-terminated; the NUL is not counted in
 * *n). max > 0 bounds the size: a longer file is MILNCE_ERR_RANGE, or, when truncated is not
 * NULL, its first max bytes with *truncated = 1. A missing file is MILNCE_ERR_NOTFOUND, a folder
 * MILNCE_ERR_IO; every message names the path. Reads until EOF (pipes and /proc files too). */
int milnce_read_file(const char *path, size_t max, char **data, size_t *n, int *truncated, milnce_error *err);

typedef struct milnce_atomic_file {
    int fd;
    char path[MILNCE_PATH_MAX];
    char tmp[MILNCE_PATH_MAX + 64];
} milnce_atomic_file;

int milnce_atomic_open(milnce_atomic_file *f, const char *path, milnce_error *err);
int milnce_atomic_write(milnce_atomic_file *f, const void *buf, size_t n, milnce_error *err);
/* fsync + rename + fsync of the folder; closes f. */
int milnce_atomic_commit(milnce_atomic_file *f, milnce_error *err);
/* Closes and removes the temporary file; path is untouched. */
void milnce_atomic_abort(milnce_atomic_file *f);

/* 1 when path names a regular file / a directory (symbolic links followed), else 0. */
int milnce_is_file(const char *path);
int milnce_is_dir(const char *path);

/* mkdir -p: creates path and its missing parents (mode 0755). */
int milnce_mkdirs(const char *path, milnce_error *err);

/* Whole-buffer convenience. */
int milnce_write_file_atomic(const char *path, const void *buf, size_t n, milnce_error *err);

/* As milnce_write_file_atomic, but a file that already holds exactly these bytes is left alone
 * (returns 1, else 0 or an error): its modification time then still says "unchanged" to
 * whatever judges inputs by it (preprocess's resume). */
int milnce_update_file_atomic(const char *path, const void *buf, size_t n, milnce_error *err);

#endif
