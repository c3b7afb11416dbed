/* Identity of a job's inputs, for deciding whether an output made earlier still stands.
 *
 * A digest (SHA-256, hex) over typed fields. Files enter by identity, not content: path, size and
 * modification time (ns), as make and rsync judge them. Content would mean re-reading a whole
 * corpus (terabytes for HowTo100M) on every resume; the stat identity costs one stat per file
 * and changes whenever a file is rewritten. Small files whose bytes matter (a vocabulary) can
 * enter by content instead. Every field is length-prefixed, so no two field lists hash alike
 * by concatenation. */
#ifndef MILNCE_INPUT_IDENTITY_H
#define MILNCE_INPUT_IDENTITY_H

#include <stdint.h>

#include "error.h"

typedef struct milnce_ident {
    struct AVSHA *sha;
} milnce_ident;

int milnce_ident_init(milnce_ident *id, milnce_error *err);
void milnce_ident_str(milnce_ident *id, const char *s);      /* NULL is a distinct value */
void milnce_ident_int(milnce_ident *id, int64_t v);
void milnce_ident_real(milnce_ident *id, double v);         /* by its bits */
/* path, then its size and mtime, or "absent" when it cannot be stat'ed. */
void milnce_ident_file(milnce_ident *id, const char *path);
/* path's bytes (not its name: equal content in two places is the same input); an unreadable
 * file is an error naming it. */
int milnce_ident_file_content(milnce_ident *id, const char *path, milnce_error *err);
/* Writes 64 hex digits + NUL into hex and frees the state. */
void milnce_ident_final(milnce_ident *id, char hex[65]);
void milnce_ident_free(milnce_ident *id);

#endif
