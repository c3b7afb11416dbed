/* Atomic file writes: data goes to "<path>.tmp.<pid>.<n>" in the same folder, is fsynced, then
 * renamed over path (and the folder fsynced), so a reader sees the old file or the whole new
 * one, never a part, whatever kills the process. */
#ifndef MILNCE_ATOMIC_FILE_H
#define MILNCE_ATOMIC_FILE_H

#include <stddef.h>

#include "error.h"

typedef struct milnce_atomic_file {
    int fd;
    char path[4096];
    char tmp[4200];
} milnce_atomic_file;

int milnce_atomic_open(milnce_atomic_file *f, const char *path, milnce_error *err);
int milnce_atomic_write(milnce_atomic_file *f, const void *buf, size_t n, milnce_error *err);
/* fsync + rename + fsync of the folder; closes f. */
int milnce_atomic_commit(milnce_atomic_file *f, milnce_error *err);
/* Closes and removes the temporary file; path is untouched. */
void milnce_atomic_abort(milnce_atomic_file *f);

/* mkdir -p: creates path and its missing parents (mode 0755). */
int milnce_mkdirs(const char *path, milnce_error *err);

/* Whole-buffer convenience. */
int milnce_write_file_atomic(const char *path, const void *buf, size_t n, milnce_error *err);

/* As milnce_write_file_atomic, but a file that already holds exactly these bytes is left alone
 * (returns 1, else 0 or an error): its modification time then still says "unchanged" to
 * whatever judges inputs by it (preprocess's resume). */
int milnce_update_file_atomic(const char *path, const void *buf, size_t n, milnce_error *err);

#endif
