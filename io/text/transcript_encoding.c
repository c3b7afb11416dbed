/* Bytes of a caption file -> UTF-8 text. */
#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "transcript.h"

/* Offset of the first byte that is not part of valid UTF-8 (overlongs, surrogates and code
 * points above U+10FFFF are invalid), or n when all are valid. */
static size_t utf8_invalid_at(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t k;
        unsigned long cp, min;
        if ((c & 0xE0) == 0xC0) { k = 1; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { k = 2; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { k = 3; cp = c & 0x07; min = 0x10000; }
        else return i;
        if (i + k >= n) return i;
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += k + 1;
    }
    return n;
}

static size_t line_of(const unsigned char *s, size_t off) {
    size_t line = 1;
    for (size_t i = 0; i < off; i++) line += s[i] == '\n';
    return line;
}

/* Copies UTF-8 bytes, NUL -> U+FFFD (a C string cannot hold NUL; WebVTT asks for U+FFFD). */
static int copy_utf8(const unsigned char *s, size_t n, char **out, size_t *out_len) {
    size_t nul = 0;
    for (size_t i = 0; i < n; i++) nul += s[i] == 0;
    char *o = malloc(n + 2 * nul + 1);
    if (!o) return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i]) { o[k++] = (char)s[i]; continue; }
        o[k++] = (char)0xEF; o[k++] = (char)0xBF; o[k++] = (char)0xBD;
    }
    o[k] = '\0';
    *out = o;
    *out_len = k;
    return 0;
}

/* iconv from enc to UTF-8; 0, or -1 when enc is unknown or the bytes are invalid in it, -2 out
 * of memory. */
static int convert(const char *enc, const unsigned char *s, size_t n, char **out, size_t *out_len,
                   size_t *bad_at) {
    iconv_t cd = iconv_open("UTF-8", enc);
    if (cd == (iconv_t)-1) return -3;
    size_t cap = n * 2 + 16;
    char *buf = malloc(cap);
    if (!buf) { iconv_close(cd); return -2; }
    char *in = (char *)s, *o = buf;
    size_t inleft = n, oleft = cap - 1;
    int rc = 0;
    while (inleft > 0) {
        size_t r = iconv(cd, &in, &inleft, &o, &oleft);
        if (r != (size_t)-1) break;
        if (errno == E2BIG) {
            size_t used = (size_t)(o - buf);
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) { rc = -2; break; }
            buf = nb;
            o = buf + used;
            oleft = cap - used - 1;
            continue;
        }
        *bad_at = (size_t)(in - (char *)s);
        rc = -1;
        break;
    }
    if (rc == 0) {
        /* Flush shift state (stateful encodings). */
        size_t used = (size_t)(o - buf);
        if (oleft < 16) {
            char *nb = realloc(buf, cap + 16);
            if (!nb) rc = -2;
            else { buf = nb; o = buf + used; oleft += 16; }
        }
        if (rc == 0) iconv(cd, NULL, NULL, &o, &oleft);
    }
    iconv_close(cd);
    if (rc < 0) { free(buf); return rc; }
    size_t len = (size_t)(o - buf);
    /* The converted text may hold NULs (UTF-16 "\0\0"): same rule as for UTF-8. */
    int r2 = copy_utf8((unsigned char *)buf, len, out, out_len);
    free(buf);
    return r2 < 0 ? -2 : 0;
}

static int is_utf8_name(const char *e) {
    return strcasecmp(e, "UTF-8") == 0 || strcasecmp(e, "UTF8") == 0;
}

int milnce_text_to_utf8(const char *name, const void *data, size_t n, const char *encoding,
                        const char *fallbacks, char **out, size_t *out_len,
                        const milnce_logger *lg, milnce_error *err) {
    const unsigned char *s = data;
    *out = NULL;
    *out_len = 0;
    const char *bom_enc = NULL;
    size_t skip = 0;
    /* The 4-byte marks first: FF FE 00 00 (UTF-32LE) begins like FF FE (UTF-16LE). */
    if (n >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF) { bom_enc = "UTF-8"; skip = 3; }
    else if (n >= 4 && s[0] == 0xFF && s[1] == 0xFE && s[2] == 0 && s[3] == 0) { bom_enc = "UTF-32LE"; skip = 4; }
    else if (n >= 4 && s[0] == 0 && s[1] == 0 && s[2] == 0xFE && s[3] == 0xFF) { bom_enc = "UTF-32BE"; skip = 4; }
    else if (n >= 2 && s[0] == 0xFF && s[1] == 0xFE) { bom_enc = "UTF-16LE"; skip = 2; }
    else if (n >= 2 && s[0] == 0xFE && s[1] == 0xFF) { bom_enc = "UTF-16BE"; skip = 2; }
    /* A BOM is the file's own statement and wins over a declared encoding. */
    const char *enc = bom_enc ? bom_enc : encoding;
    s += skip;
    n -= skip;
    size_t bad = 0;
    if (enc && !is_utf8_name(enc)) {
        int rc = convert(enc, s, n, out, out_len, &bad);
        if (rc == -3)
            return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: unknown encoding '%s'", name, enc);
        if (rc == -2) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: converting from %s", name, enc);
        if (rc == -1)
            return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%zu: byte offset %zu is not valid %s",
                                    name, line_of(s, bad), bad + skip, enc);
        return 0;
    }
    bad = utf8_invalid_at(s, n);
    if (bad == n) {
        if (copy_utf8(s, n, out, out_len) < 0)
            return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: %zu bytes", name, n);
        return 0;
    }
    if (enc) /* declared UTF-8 (or UTF-8 BOM) but not valid */
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%zu: byte offset %zu is not valid UTF-8",
                                name, line_of(s, bad), bad + skip);
    /* Not UTF-8: try the caller's fallbacks, in order. */
    const char *f = fallbacks;
    while (f && *f) {
        const char *comma = strchr(f, ',');
        size_t L = comma ? (size_t)(comma - f) : strlen(f);
        char fenc[64];
        if (L > 0 && L < sizeof fenc) {
            memcpy(fenc, f, L);
            fenc[L] = '\0';
            size_t fb = 0;
            int rc = convert(fenc, s, n, out, out_len, &fb);
            if (rc == -2) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: converting from %s", name, fenc);
            if (rc == 0) {
                milnce_log(lg, MILNCE_LOG_INFO, "%s: not UTF-8 (line %zu), read as %s", name,
                           line_of(s, bad), fenc);
                return 0;
            }
            if (rc == -3) milnce_log(lg, MILNCE_LOG_WARN, "%s: unknown fallback encoding '%s'", name, fenc);
        }
        f = comma ? comma + 1 : NULL;
    }
    return milnce_error_set(err, MILNCE_ERR_FORMAT,
                            "%s:%zu: byte offset %zu is not valid UTF-8 and no fallback encoding "
                            "matched (declare the encoding, e.g. GB18030 or CP1252: --encoding, or --encodings to try several)",
                            name, line_of(s, bad), bad + skip);
}
