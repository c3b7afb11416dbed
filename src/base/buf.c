#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int milnce_buf_put(milnce_buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

int milnce_buf_putc(milnce_buf *b, char c) { return milnce_buf_put(b, &c, 1); }

int milnce_buf_puts(milnce_buf *b, const char *s) { return milnce_buf_put(b, s, strlen(s)); }

int milnce_buf_vprintf(milnce_buf *b, const char *fmt, va_list ap) {
    char tmp[1024];
    va_list ap2;
    va_copy(ap2, ap);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap), ret = 0;
    if (k < 0) ret = 0; /* an encoding error: nothing appended */
    else if ((size_t)k < sizeof tmp) ret = milnce_buf_put(b, tmp, (size_t)k);
    else {
        char *big = malloc((size_t)k + 1);
        if (big) {
            vsnprintf(big, (size_t)k + 1, fmt, ap2);
            ret = milnce_buf_put(b, big, (size_t)k);
            free(big);
        } else {
            b->oom = 1;
            ret = -1;
        }
    }
    va_end(ap2);
    return ret;
}

int milnce_buf_printf(milnce_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int ret = milnce_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return ret;
}
