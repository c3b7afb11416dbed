/* A growable, always NUL-terminated byte buffer: the text builders of the caption readers and
 * cleaners share it. Zero-initialise ({0}) to start; free(b.p) when done. */
#ifndef MILNCE_BUF_H
#define MILNCE_BUF_H

#include <stddef.h>

typedef struct milnce_buf {
    char *p;        /* (n + 1) bytes used, p[n] == '\0'; NULL while empty */
    size_t n, cap;
} milnce_buf;

/* Appends n bytes of s; 0, or -1 when out of memory (b unchanged). */
int milnce_buf_put(milnce_buf *b, const char *s, size_t n);
int milnce_buf_putc(milnce_buf *b, char c);

#endif
