#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"

int milnce_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
    }
    return 0;
}

static void stderr_log(void *user, int level, const char *msg) {
    static const char *names[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "milnce %s: %s: %s\n", (const char *)user,
            names[level < 0 ? 0 : level > 3 ? 3 : level], msg);
}

milnce_logger milnce_stderr_logger(const char *cmd) {
    milnce_logger lg = {stderr_log, (void *)cmd};
    return lg;
}

static void stderr_log_warnings(void *user, int level, const char *msg) {
    if (level <= MILNCE_LOG_WARN) stderr_log(user, level, msg);
}

milnce_logger milnce_rank_logger(const char *cmd, int rank) {
    milnce_logger lg = {rank == 0 ? stderr_log : stderr_log_warnings, (void *)cmd};
    return lg;
}

static volatile int stop_flag; /* the command's process-wide state, set from a signal handler */

static void on_stop_signal(int sig) {
    (void)sig;
    stop_flag = 1;
}

const volatile int *milnce_stop_on_signals(void) {
    signal(SIGINT, on_stop_signal);
    signal(SIGTERM, on_stop_signal);
    return &stop_flag;
}
