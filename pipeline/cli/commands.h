/* The subcommands of `milnce`. Each is `int milnce_cmd_<name>(int argc, char **argv)` in
 * pipeline/cmd_<name>.c, with argv[0] the subcommand name; it returns the process exit code:
 * 0 ok, 1 runtime error, 2 usage error. Only these functions print for the user. Each declares
 * its options in one table, milnce_cmd_<name>_spec (pipeline/cli/cmd_opts.h: how to add one).
 * A new subcommand: its file, its two declarations below, one line in milnce_commands(). */
#ifndef MILNCE_COMMANDS_H
#define MILNCE_COMMANDS_H

#include <signal.h>
#include <stddef.h>

enum { MILNCE_EXIT_OK = 0, MILNCE_EXIT_ERROR = 1, MILNCE_EXIT_USAGE = 2 };

struct milnce_cmd_spec;

typedef struct milnce_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;                   /* one line */
    const struct milnce_cmd_spec *spec; /* its option table */
} milnce_command;

/* The subcommands in the order `milnce --help` lists them; *n = how many. */
const milnce_command *milnce_commands(size_t *n);

int milnce_cmd_info(int argc, char **argv);
extern const struct milnce_cmd_spec milnce_cmd_info_spec;
int milnce_cmd_probe(int argc, char **argv);
extern const struct milnce_cmd_spec milnce_cmd_probe_spec;
int milnce_cmd_clip(int argc, char **argv);
extern const struct milnce_cmd_spec milnce_cmd_clip_spec;
int milnce_cmd_captions(int argc, char **argv);
extern const struct milnce_cmd_spec milnce_cmd_captions_spec;
int milnce_cmd_config(int argc, char **argv);
extern const struct milnce_cmd_spec milnce_cmd_config_spec;
int milnce_cmd_report(int argc, char **argv);
extern const struct milnce_cmd_spec milnce_cmd_report_spec;
int milnce_cmd_preprocess(int argc, char **argv);
extern const struct milnce_cmd_spec milnce_cmd_preprocess_spec;
int milnce_cmd_train(int argc, char **argv);
extern const struct milnce_cmd_spec milnce_cmd_train_spec;
int milnce_cmd_demo(int argc, char **argv);
extern const struct milnce_cmd_spec milnce_cmd_demo_spec;
int milnce_cmd_synth(int argc, char **argv);
extern const struct milnce_cmd_spec milnce_cmd_synth_spec;
int milnce_cmd_eval(int argc, char **argv);
extern const struct milnce_cmd_spec milnce_cmd_eval_spec;
int milnce_cmd_embed(int argc, char **argv);
extern const struct milnce_cmd_spec milnce_cmd_embed_spec;
int milnce_cmd_import(int argc, char **argv);
extern const struct milnce_cmd_spec milnce_cmd_import_spec;

/* Test-only entry points: `milnce train` with faults injected, reached through the test driver
 * tests/hooks/milnce_testhooks.c (not installed), never through the shipped command. */
typedef struct milnce_train_test_hooks {
    long long nan_step; /* make the loss of this step (1-based) NaN; 0 = never */
} milnce_train_test_hooks;
int milnce_cmd_train_hooked(int argc, char **argv, const milnce_train_test_hooks *hooks);

/* The user's --config FILE and --set assignments (part of the command line) load: 0, or -1 with
 * the message printed (the command then exits MILNCE_EXIT_USAGE). Errors after this point, in
 * files the command reads (a checkpoint, its stored config, shards), exit MILNCE_EXIT_ERROR. */
struct milnce_cli;
int milnce_cmd_check_config(const char *cmd, const struct milnce_cli *cli);

/* FFmpeg's own messages go to stderr prefixed with the video's path (when the message comes
 * from a demuxer or a decoder of a milnce reader). */
void milnce_ffmpeg_log_with_paths(void);

/* SIGINT and SIGTERM set the returned flag instead of killing the process: long runs pass it
 * to the library as their cancel flag, finish the unit in progress (checkpoint, shard) and stop. */
const volatile sig_atomic_t *milnce_stop_on_signals(void);

/* A logger for library warnings that prints "milnce <cmd>: warning: ..." to stderr. */
#include "error.h"
milnce_logger milnce_stderr_logger(const char *cmd);
/* The same for one rank of many: info lines from rank 0 only (printed once), warnings and
 * errors from every rank. */
milnce_logger milnce_rank_logger(const char *cmd, int rank);

#endif
