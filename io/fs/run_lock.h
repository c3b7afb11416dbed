/* Advisory lock of an output folder for a run's lifetime: flock(LOCK_EX | LOCK_NB) on a lock
 * file in the folder, which holds "pid host" of the holder. The kernel drops the lock when the
 * holder exits, however it exits (kill -9 included), so a stale lock file never blocks a run.
 * flock is advisory: it stops a second milnce (train into the same out_dir, preprocess into
 * the same --out part), not other programs. On NFS, Linux emulates flock with byte-range locks
 * (held across clients). */
#ifndef MILNCE_RUN_LOCK_H
#define MILNCE_RUN_LOCK_H

#include <stddef.h>

#include "error.h"

typedef struct milnce_run_lock {
    int fd; /* -1 when not held */
    char path[4200];
} milnce_run_lock;

/* Creates dir when missing and takes dir/name. A folder already locked by another process
 * returns MILNCE_ERR_IO at once with a message naming the lock file and the holder's pid and
 * host. l->fd is -1 on failure. */
int milnce_run_lock_take(milnce_run_lock *l, const char *dir, const char *name, milnce_error *err);
/* Releases the lock (the file stays: removing it could race with a new holder). */
void milnce_run_lock_release(milnce_run_lock *l);

#endif
