/* milnce config: show the resolved configuration (file + --set overrides + defaults), or the
 * schema with its help lines. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_opts.h"
#include "commands.h"
#include "config.h"

typedef struct config_args {
    int keys;
} config_args;

#define A(f) offsetof(config_args, f)
static const milnce_opt config_opts[] = {
    {.name = "config", .type = MILNCE_OPT_CONFIG, .meta = "FILE", .help = "YAML configuration file"},
    {.name = "set", .type = MILNCE_OPT_SET, .meta = "section.key=value", .help = "override a key (repeatable)"},
    {.name = "keys", .type = MILNCE_OPT_FLAG, .off = A(keys), .help = "list every key with its type, default and meaning"},
    {0}};

const milnce_cmd_spec milnce_cmd_config_spec = {
    "config", "Prints the configuration resolved from defaults, FILE and the overrides, as YAML.", config_opts,
    sizeof(config_args)};

int milnce_cmd_config(int argc, char **argv) {
    config_args a = {0};
    milnce_cli cli;
    int rc = milnce_cli_parse(&milnce_cmd_config_spec, &a, argc, argv, &cli);
    if (rc != MILNCE_CLI_RUN) return rc;
    milnce_config cfg;
    milnce_error err = {0};
    milnce_config_defaults(&cfg);
    if (a.keys) {
        milnce_cli_free(&cli);
        for (const milnce_config_key *k = milnce_config_schema(); k->name; k++) {
            static const char *tn[] = {"int", "float", "bool", "string", "enum"};
            printf("%-24s %-6s default %-10s %s%s%s\n", k->name, tn[k->type], *k->dflt ? k->dflt : "\"\"",
                   k->help, k->choices ? "; one of " : "", k->choices ? k->choices : "");
        }
        return MILNCE_EXIT_OK;
    }
    int ret = milnce_cli_apply_config(&cli, &cfg, &err);
    milnce_cli_free(&cli);
    if (ret < 0 || milnce_config_validate(&cfg, &err) < 0) {
        fprintf(stderr, "milnce config: %s\n", err.msg);
        return MILNCE_EXIT_USAGE;
    }
    char *y = milnce_config_to_yaml(&cfg);
    fputs(y, stdout);
    free(y);
    return MILNCE_EXIT_OK;
}
