/* A growable, always NUL-terminated byte buffer: the text builders of the caption readers and
 * cleaners and the HTML report share it. Zero-initialise ({0}) to start; free(b.p) when done.
 * An allocation failure sets oom, which stays set: a builder may append without checking each
 * call and test oom once at the end. */
#ifndef MILNCE_BUF_H
#define MILNCE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__)
#define MILNCE_BUF_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MILNCE_BUF_PRINTF(f, a)
#endif

typedef struct milnce_buf {
    char *p;        /* (n + 1) bytes used, p[n] == '\0'; NULL while empty */
    size_t n, cap;
    int oom;        /* an append failed (out of memory); the content is incomplete */
} milnce_buf;

/* Appends n bytes of s; 0, or -1 when out of memory (b unchanged). */
int milnce_buf_put(milnce_buf *b, const char *s, size_t n);
int milnce_buf_putc(milnce_buf *b, char c);
int milnce_buf_puts(milnce_buf *b, const char *s);
/* Appends printf-formatted text; 0 or -1 (out of memory). */
int milnce_buf_vprintf(milnce_buf *b, const char *fmt, va_list ap);
int milnce_buf_printf(milnce_buf *b, const char *fmt, ...) MILNCE_BUF_PRINTF(2, 3);

#endif
