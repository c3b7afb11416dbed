#include "milnce/version.h"

#define MILNCE_STR2(x) #x
#define MILNCE_STR(x) MILNCE_STR2(x)

const char *milnce_version(void) {
    return MILNCE_STR(MILNCE_VERSION_MAJOR) "." MILNCE_STR(MILNCE_VERSION_MINOR) "." MILNCE_STR(
        MILNCE_VERSION_PATCH);
}
