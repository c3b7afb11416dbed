/* Placeholder until io/config lands. */
#include <stdio.h>
#include "commands.h"
int milnce_cmd_config(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "milnce config: not built yet\n");
    return MILNCE_EXIT_ERROR;
}
