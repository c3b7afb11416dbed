/* The options of a subcommand, declared once in a table from which the parsing, `--help`, the
 * `--config`/`--set` handling and the usage errors (exit 2, naming the option) all come.
 *
 * A command keeps its parsed values in a struct of its own (say `clip_args`) and describes them in
 * a static table terminated by {0}:
 *
 *   static const milnce_opt clip_opts[] = {
 *       {.name = "VIDEO", .type = MILNCE_OPT_ARG, .off = A(video), .flags = MILNCE_OPT_REQUIRED, .help = "..."},
 *       {.name = "fps", .type = MILNCE_OPT_DOUBLE, .off = A(spec.fps), .meta = "F", .lo = 0, .hi = 1000, .help = "..."},
 *       {0}};
 *
 * Adding an option is one line in the table (and its field in the struct): its parsing, its
 * --help line, its range check and its error message follow. The default is the field's value
 * before parsing (set by the command, shown in --help), or `dflt` when that says it better ("all",
 * "data.workers"). An option with a `key` also sets that config key: its text is applied as
 * `--set key=value` after --config and every --set (so `preprocess --fps 10` beats
 * `--set data.fps=5`); a FLAG with a key sets it to true.
 *
 * Accepted forms: --name VALUE, --name=VALUE, -x VALUE (short name), FLAGs without a value,
 * positionals (ARG entries, in table order) anywhere, and "--" ending the options. -h/--help
 * anywhere before "--" prints the help and exits 0. */
#ifndef MILNCE_CMD_OPTS_H
#define MILNCE_CMD_OPTS_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "error.h"

typedef enum milnce_opt_type {
    MILNCE_OPT_FLAG,   /* no value: int field = 1 */
    MILNCE_OPT_STRING, /* const char * field = the argument */
    MILNCE_OPT_INT,    /* int field, an integer in [lo, hi] */
    MILNCE_OPT_DOUBLE, /* double field, a finite number in [lo, hi] */
    MILNCE_OPT_CHOICE, /* int field = index of the argument in choices ("a|b|c") */
    MILNCE_OPT_CUSTOM, /* parse(argument, field, err) */
    MILNCE_OPT_CONFIG, /* --config FILE: milnce_cli.config */
    MILNCE_OPT_SET,    /* --set section.key=value, repeatable: milnce_cli.sets */
    MILNCE_OPT_ARG,    /* a positional argument named `name` (upper case): const char * field */
} milnce_opt_type;

enum { MILNCE_OPT_REQUIRED = 1, MILNCE_OPT_NOFIELD = 2 /* key only: no field is written */ };

typedef struct milnce_opt {
    const char *name;    /* long name without "--" ("max-seconds"), or an ARG's name ("VIDEO") */
    char short_name;     /* 'v' for -v, or 0 */
    milnce_opt_type type;
    size_t off;          /* offset of the field in the command's args struct */
    const char *key;     /* config key the option also sets, or NULL */
    const char *meta;    /* the value's name in --help ("N", "DIR"); NULL for a FLAG */
    const char *help;    /* what it does; '\n' starts a continuation line */
    const char *dflt;    /* default as shown in --help, when the field's own value says it badly */
    double lo, hi;       /* INT/DOUBLE range (inclusive) */
    int flags;           /* MILNCE_OPT_REQUIRED, MILNCE_OPT_NOFIELD */
    const char *choices; /* CHOICE: "embedding|mixed_5c" */
    int (*parse)(const char *text, void *field, milnce_error *err); /* CUSTOM */
} milnce_opt;

typedef struct milnce_cmd_spec {
    const char *name;       /* "clip" */
    const char *about;      /* paragraph printed under the usage line */
    const milnce_opt *opts; /* the table, terminated by an entry with name NULL */
    size_t args_size;       /* sizeof the args struct (for the table's own test) */
} milnce_cmd_spec;

/* What the parse collected besides the fields. */
typedef struct milnce_cli {
    const char *config; /* --config FILE, or NULL */
    const char **sets;  /* (nsets) the --set texts in order, then "key=value" of the options with a key */
    int nsets;
    char **owned;       /* (nowned) the "key=value" strings made here */
    int nowned;
} milnce_cli;

/* Returned by milnce_cli_parse when the command should go on. */
#define MILNCE_CLI_RUN (-1)

/* Parses argv[1..argc) into args (a struct of the command, fields pre-set to their defaults)
 * and cli. Returns MILNCE_CLI_RUN, or the exit code after printing the help (0) or a usage error
 * naming the option (2, to stderr). cli is freed by milnce_cli_free in every case. */
int milnce_cli_parse(const milnce_cmd_spec *spec, void *args, int argc, char **argv, milnce_cli *cli);
void milnce_cli_free(milnce_cli *cli);

/* --help text of spec; args holds the defaults shown (may be NULL: then only dflt texts). */
void milnce_cli_help(const milnce_cmd_spec *spec, const void *args, FILE *out);

/* Applies cli's --config file then its sets to cfg; the message names the file/line/key. */
int milnce_cli_apply_config(const milnce_cli *cli, milnce_config *cfg, milnce_error *err);

#endif
