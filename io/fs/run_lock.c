#include "run_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "fileutil.h"

int milnce_run_lock_take(milnce_run_lock *l, const char *dir, const char *name, milnce_error *err) {
    l->fd = -1;
    snprintf(l->path, sizeof l->path, "%s/%s", dir, name);
    int ret = milnce_mkdirs(dir, err);
    if (ret < 0) return ret;
    int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return milnce_error_set(err, MILNCE_ERR_IO, "lock file %s: %s", l->path, strerror(errno));
    while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EINTR) continue;
        if (errno != EWOULDBLOCK) {
            ret = milnce_error_set(err, MILNCE_ERR_IO, "lock file %s: %s", l->path, strerror(errno));
            close(fd);
            return ret;
        }
        /* The holder writes "pid host" right after locking; an empty read means it is just now
         * doing so. */
        char who[300] = "";
        ssize_t k = pread(fd, who, sizeof who - 1, 0);
        who[k > 0 ? k : 0] = '\0';
        who[strcspn(who, "\n")] = '\0';
        long pid = 0;
        char host[256] = "?";
        if (sscanf(who, "%ld %255s", &pid, host) < 1) pid = 0;
        close(fd);
        if (pid > 0)
            return milnce_error_set(err, MILNCE_ERR_IO, "%s is in use by another run (pid %ld on host %s, lock file %s)",
                                    dir, pid, host, l->path);
        return milnce_error_set(err, MILNCE_ERR_IO, "%s is in use by another run (lock file %s)", dir, l->path);
    }
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) < 0 || !host[0]) snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    char line[320];
    int n = snprintf(line, sizeof line, "%ld %s\n", (long)getpid(), host);
    /* Informational only: the lock is the flock, so a failed write does not fail the run. */
    if (ftruncate(fd, 0) == 0 && pwrite(fd, line, (size_t)n, 0) < 0) { /* nothing to do */ }
    l->fd = fd;
    return 0;
}

void milnce_run_lock_release(milnce_run_lock *l) {
    if (l->fd >= 0) close(l->fd);
    l->fd = -1;
}
