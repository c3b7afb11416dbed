/* Text into HTML: escaping (with invalid UTF-8 and control characters replaced) and base64 for
 * data: URIs, appended to a milnce_buf. */
#include "html_text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of a valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else
        return 0;
    if (n < len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return len;
}

void milnce_html_put_escaped(milnce_buf *b, const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0; /* run: bytes at s[i-run..i) to copy verbatim */
    while (i < n) {
        unsigned c = s[i];
        const char *rep = NULL;
        size_t adv = 1;
        if (c < 0x80) {
            switch (c) {
            case '&': rep = "&amp;"; break;
            case '<': rep = "&lt;"; break;
            case '>': rep = "&gt;"; break;
            case '"': rep = "&quot;"; break;
            case '\'': rep = "&#39;"; break;
            case '\n': case '\t': break;
            case '\r': rep = ""; break;
            default:
                if (c < 0x20 || c == 0x7f) rep = "\xef\xbf\xbd";
            }
        } else {
            adv = utf8_len(s + i, n - i);
            if (!adv) {
                rep = "\xef\xbf\xbd";
                adv = 1;
            }
        }
        if (rep) {
            milnce_buf_put(b, (const char *)s + i - run, run);
            run = 0;
            milnce_buf_puts(b, rep);
        } else {
            run += adv;
        }
        i += adv;
    }
    milnce_buf_put(b, (const char *)s + n - run, run);
}

void milnce_html_puts_escaped(milnce_buf *b, const char *s) { milnce_html_put_escaped(b, s, strlen(s)); }

void milnce_html_put_base64(milnce_buf *b, const uint8_t *d, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char out[4 * 256];
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16;
        if (i + 1 < n) v |= (uint32_t)d[i + 1] << 8;
        if (i + 2 < n) v |= d[i + 2];
        out[k++] = tab[(v >> 18) & 63];
        out[k++] = tab[(v >> 12) & 63];
        out[k++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[k++] = i + 2 < n ? tab[v & 63] : '=';
        if (k == sizeof out) {
            milnce_buf_put(b, out, k);
            k = 0;
        }
    }
    milnce_buf_put(b, out, k);
}

char *milnce_html_escape(const char *s, size_t n) {
    milnce_buf b = {0};
    milnce_buf_put(&b, "", 0);
    milnce_html_put_escaped(&b, s ? s : "", s ? n : 0);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
