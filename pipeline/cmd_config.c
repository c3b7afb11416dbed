/* milnce config: show the resolved configuration (file + --set overrides + defaults), or the
 * schema with its help lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"

static void help(void) {
    printf("usage: milnce config [--config FILE] [--set section.key=value ...] [--keys]\n\n"
           "Prints the configuration resolved from defaults, FILE and the overrides, as YAML.\n"
           "  --keys   list every key with its type, default and meaning\n");
}

int milnce_cmd_config(int argc, char **argv) {
    if (milnce_wants_help(argc, argv)) {
        help();
        return MILNCE_EXIT_OK;
    }
    milnce_config cfg;
    milnce_error err = {0};
    milnce_config_defaults(&cfg);
    int keys = 0;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--keys") == 0) keys = 1;
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) file = argv[++i];
        else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) i++; /* applied after the file */
        else {
            fprintf(stderr, "milnce config: unexpected argument '%s'\n", argv[i]);
            return MILNCE_EXIT_USAGE;
        }
    }
    if (keys) {
        for (const milnce_config_key *k = milnce_config_schema(); k->name; k++) {
            static const char *tn[] = {"int", "float", "bool", "string", "enum"};
            printf("%-24s %-6s default %-10s %s%s%s\n", k->name, tn[k->type], *k->dflt ? k->dflt : "\"\"",
                   k->help, k->choices ? "; one of " : "", k->choices ? k->choices : "");
        }
        return MILNCE_EXIT_OK;
    }
    if (file && milnce_config_load(&cfg, file, &err) < 0) {
        fprintf(stderr, "milnce config: %s\n", err.msg);
        return MILNCE_EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--set") == 0 && milnce_config_set(&cfg, argv[i + 1], &err) < 0) {
            fprintf(stderr, "milnce config: %s\n", err.msg);
            return MILNCE_EXIT_USAGE;
        }
    if (milnce_config_validate(&cfg, &err) < 0) {
        fprintf(stderr, "milnce config: %s\n", err.msg);
        return MILNCE_EXIT_USAGE;
    }
    char *y = milnce_config_to_yaml(&cfg);
    fputs(y, stdout);
    free(y);
    return MILNCE_EXIT_OK;
}
