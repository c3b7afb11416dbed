/* The subcommands of `milnce`. Each is `int milnce_cmd_<name>(int argc, char **argv)` in
 * pipeline/cmd_<name>.c, with argv[0] the subcommand name; it returns the process exit code:
 * 0 ok, 1 runtime error, 2 usage error. Only these functions print for the user. */
#ifndef MILNCE_COMMANDS_H
#define MILNCE_COMMANDS_H

enum { MILNCE_EXIT_OK = 0, MILNCE_EXIT_ERROR = 1, MILNCE_EXIT_USAGE = 2 };

typedef struct milnce_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help; /* one line */
} milnce_command;

int milnce_cmd_info(int argc, char **argv);
int milnce_cmd_probe(int argc, char **argv);
int milnce_cmd_clip(int argc, char **argv);
int milnce_cmd_captions(int argc, char **argv);
int milnce_cmd_config(int argc, char **argv);
int milnce_cmd_report(int argc, char **argv);
int milnce_cmd_preprocess(int argc, char **argv);
int milnce_cmd_train(int argc, char **argv);
int milnce_cmd_demo(int argc, char **argv);
int milnce_cmd_synth(int argc, char **argv);
int milnce_cmd_eval(int argc, char **argv);
int milnce_cmd_embed(int argc, char **argv);

/* True when argv holds -h or --help (for subcommands that parse their own options). */
int milnce_wants_help(int argc, char **argv);

/* SIGINT and SIGTERM set the returned flag instead of killing the process: long runs pass it
 * to the library as their cancel flag, finish the unit in progress (checkpoint, shard) and stop. */
const volatile int *milnce_stop_on_signals(void);

/* A logger for library warnings that prints "milnce <cmd>: warning: ..." to stderr. */
#include "error.h"
milnce_logger milnce_stderr_logger(const char *cmd);
/* The same for one rank of many: info lines from rank 0 only (printed once), warnings and
 * errors from every rank. */
milnce_logger milnce_rank_logger(const char *cmd, int rank);

#endif
