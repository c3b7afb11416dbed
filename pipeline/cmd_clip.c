/* Placeholder until io/ lands; replaced by the real command. */
#include <stdio.h>
#include "commands.h"
int milnce_cmd_clip(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "milnce clip: not built yet\n");
    return MILNCE_EXIT_ERROR;
}
