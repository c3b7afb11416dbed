#include "buf.h"

#include <stdlib.h>
#include <string.h>

int milnce_buf_put(milnce_buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

int milnce_buf_putc(milnce_buf *b, char c) { return milnce_buf_put(b, &c, 1); }
