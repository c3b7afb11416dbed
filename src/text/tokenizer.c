#include "tokenizer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* Code points of a decoded text; an invalid byte b is stored as -(b + 1) so it can be copied
 * back unchanged and never counts as a word character. */
typedef struct cps {
    int32_t *v; /* (n) */
    size_t n;
} cps;

static int decode(const char *text, size_t len, cps *out, milnce_error *err) {
    /* At most one code point per byte. */
    out->v = malloc((len ? len : 1) * sizeof *out->v);
    out->n = 0;
    if (!out->v) return milnce_error_set(err, MILNCE_ERR_NOMEM, "tokenizer: %zu bytes of text", len);
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0) {
            out->v[out->n++] = -(int32_t)p[i] - 1;
            i++;
        } else {
            out->v[out->n++] = cp;
            i += (size_t)k;
        }
    }
    return 0;
}

int milnce_is_word_codepoint(int cp) {
    if (cp < 0) return 0;
    if (cp == '\'' || cp == '_') return 1;
    if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return 1;
    default:
        return 0;
    }
}

/* Unicode's Cased property: Lu, Ll, Lt, anything with a case mapping, and the Other_Lowercase /
 * Other_Uppercase code points that have none (checked exhaustively against CPython 3.11). */
static int is_cased(int32_t cp) {
    if (cp < 0) return 0;
    if (cp == 0xAA || cp == 0xBA || (cp >= 0x1F130 && cp <= 0x1F149) || (cp >= 0x1F150 && cp <= 0x1F169) ||
        (cp >= 0x1F170 && cp <= 0x1F189))
        return 1; /* ª º and the squared / negative circled / negative squared Latin capitals */
    int c = utf8proc_category(cp);
    if (c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT) return 1;
    return utf8proc_tolower(cp) != cp || utf8proc_toupper(cp) != cp;
}

/* Case_Ignorable: Mn, Me, Cf, Lm, Sk, and Word_Break MidLetter / MidNumLet / Single_Quote. */
static int is_case_ignorable(int32_t cp) {
    if (cp < 0) return 0;
    switch (cp) {
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4:
    case 0x2018: case 0x2019: case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55:
    case 0xFF07: case 0xFF0E: case 0xFF1A:
        return 1;
    default:
        break;
    }
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_SK:
        return 1;
    default:
        return 0;
    }
}

/* Python's Final_Sigma test for the capital sigma at position i of the whole text:
 * cased case-ignorable* SIGMA !(case-ignorable* cased). */
static int final_sigma(const cps *c, size_t i) {
    size_t j = i;
    int32_t x = 0;
    int found = 0;
    while (j > 0) {
        x = c->v[--j];
        if (!is_case_ignorable(x)) { found = 1; break; }
    }
    if (!found || !is_cased(x)) return 0;
    for (j = i + 1; j < c->n; j++) {
        x = c->v[j];
        if (!is_case_ignorable(x)) return !is_cased(x);
    }
    return 1;
}

/* Lower-cases c into out (allocated; U+0130 becomes two code points). */
static int lower(const cps *c, cps *out, milnce_error *err) {
    size_t extra = 0;
    for (size_t i = 0; i < c->n; i++) extra += c->v[i] == 0x130;
    out->v = malloc((c->n + extra + 1) * sizeof *out->v);
    out->n = 0;
    if (!out->v) return milnce_error_set(err, MILNCE_ERR_NOMEM, "tokenizer: lower-casing");
    for (size_t i = 0; i < c->n; i++) {
        int32_t cp = c->v[i];
        if (cp < 0) {
            out->v[out->n++] = cp;
        } else if (cp == 0x130) { /* the one unconditional multi-character lower-case mapping */
            out->v[out->n++] = 'i';
            out->v[out->n++] = 0x307;
        } else if (cp == 0x3A3) {
            out->v[out->n++] = final_sigma(c, i) ? 0x3C2 : 0x3C3;
        } else if (cp < 0x80) {
            out->v[out->n++] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
        } else {
            out->v[out->n++] = utf8proc_tolower(cp);
        }
    }
    return 0;
}

/* UTF-8 bytes of c->v[a..b) appended to dst (room for 4 bytes per code point assumed). */
static size_t encode(const cps *c, size_t a, size_t b, char *dst) {
    size_t k = 0;
    for (size_t i = a; i < b; i++) {
        int32_t cp = c->v[i];
        if (cp < 0)
            dst[k++] = (char)(-cp - 1);
        else
            k += (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)dst + k);
    }
    return k;
}

static int push_word(milnce_tokens *t, const cps *c, size_t a, size_t b, milnce_error *err) {
    size_t need = 4 * (b - a) + 1;
    if (t->buf_len + need > t->buf_cap) {
        size_t cap = t->buf_cap ? t->buf_cap : 256;
        while (cap < t->buf_len + need) cap *= 2;
        char *nb = realloc(t->buf, cap);
        if (!nb) return milnce_error_set(err, MILNCE_ERR_NOMEM, "tokenizer: %zu bytes of words", cap);
        t->buf = nb;
        t->buf_cap = cap;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 32;
        size_t *no = realloc(t->off, cap * sizeof *no);
        if (!no) return milnce_error_set(err, MILNCE_ERR_NOMEM, "tokenizer: %zu words", cap);
        t->off = no;
        size_t *nl = realloc(t->len, cap * sizeof *nl);
        if (!nl) return milnce_error_set(err, MILNCE_ERR_NOMEM, "tokenizer: %zu words", cap);
        t->len = nl;
        t->cap = cap;
    }
    size_t k = encode(c, a, b, t->buf + t->buf_len);
    t->buf[t->buf_len + k] = '\0';
    t->off[t->n] = t->buf_len;
    t->len[t->n] = k;
    t->n++;
    t->buf_len += k + 1;
    return 0;
}

int milnce_tokenize(const char *text, size_t len, int flags, milnce_tokens *out,
                    milnce_error *err) {
    if (!text || !out) return milnce_error_set(err, MILNCE_ERR_INVALID, "tokenize: NULL argument");
    if (len == (size_t)-1) len = strlen(text);
    cps raw = {0}, low = {0};
    int ret = decode(text, len, &raw, err);
    if (ret < 0) goto end;
    const cps *c = &raw;
    if (!(flags & MILNCE_TOKENIZE_KEEP_CASE)) {
        if ((ret = lower(&raw, &low, err)) < 0) goto end;
        c = &low;
    }
    for (size_t i = 0; i < c->n;) {
        if (!milnce_is_word_codepoint(c->v[i])) { i++; continue; }
        size_t j = i;
        while (j < c->n && milnce_is_word_codepoint(c->v[j])) j++;
        if ((ret = push_word(out, c, i, j, err)) < 0) goto end;
        i = j;
    }
end:
    free(raw.v);
    free(low.v);
    return ret;
}

int milnce_utf8_lower(const char *text, size_t len, char **out, size_t *out_len,
                      milnce_error *err) {
    if (len == (size_t)-1) len = strlen(text);
    cps raw = {0}, low = {0};
    int ret = decode(text, len, &raw, err);
    if (ret < 0) goto end;
    if ((ret = lower(&raw, &low, err)) < 0) goto end;
    char *s = malloc(4 * low.n + 1);
    if (!s) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "lower-case: %zu bytes", len); goto end; }
    size_t k = encode(&low, 0, low.n, s);
    s[k] = '\0';
    *out = s;
    if (out_len) *out_len = k;
end:
    free(raw.v);
    free(low.v);
    return ret;
}

void milnce_tokens_clear(milnce_tokens *t) {
    t->n = 0;
    t->buf_len = 0;
}

void milnce_tokens_free(milnce_tokens *t) {
    free(t->buf);
    free(t->off);
    free(t->len);
    memset(t, 0, sizeof *t);
}
