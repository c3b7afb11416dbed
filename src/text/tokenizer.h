/* Tokenizer: splits a sentence into words the way the reference does,
 * `re.findall(r"[\w']+", text.lower())` in Python 3.
 *
 * A word is a maximal run of word characters or apostrophes, where a word character is a code
 * point of a Unicode letter (L*) or number (N*) category, or '_' (Python's `\w` for str
 * patterns is exactly that set). Lower-casing (on by default) is applied to the whole text
 * before splitting, like str.lower(): utf8proc's simple lower-case mapping, plus the two
 * context rules Python applies on top of it, U+0130 -> "i" U+0307 (the dot is a combining mark,
 * so it ends the word) and final sigma (U+03A3 -> U+03C2 at the end of a word).
 *
 * Known differences from CPython 3.11 (Unicode 14): utf8proc (2.8, Unicode 15) knows the 4,388
 * code points assigned in Unicode 15, Python sees them as unassigned (not word characters).
 * Word characters, lower-case mappings and the final-sigma context (Cased / Case_Ignorable,
 * rebuilt from utf8proc categories and mappings plus short lists) agree with Python on every
 * code point Python assigns (tests/check_text.c checks all of them; the sigma context was
 * checked exhaustively once with "aΣ"+c, c+"Σ", "a"+c+"Σ"). A newer utf8proc or Python can
 * shift this for newly assigned code points.
 * Bytes that are not valid UTF-8 separate words (Python would refuse to decode the text). */
#ifndef MILNCE_TOKENIZER_H
#define MILNCE_TOKENIZER_H

#include <stddef.h>

#include "error.h"

/* The words of one text, each NUL-terminated in one buffer. */
typedef struct milnce_tokens {
    char *buf;   /* (buf_len) bytes: the words, each followed by '\0' */
    size_t *off; /* (n) offset of word i in buf */
    size_t *len; /* (n) length of word i in bytes */
    size_t n, cap;
    size_t buf_len, buf_cap;
} milnce_tokens;

enum { MILNCE_TOKENIZE_KEEP_CASE = 1 }; /* flags */

/* Appends the words of text (len bytes, or strlen when len == (size_t)-1) to out. out may hold
 * words already (clear it with milnce_tokens_clear to start over). */
int milnce_tokenize(const char *text, size_t len, int flags, milnce_tokens *out,
                    milnce_error *err);

static inline const char *milnce_tokens_word(const milnce_tokens *t, size_t i) {
    return t->buf + t->off[i];
}

void milnce_tokens_clear(milnce_tokens *t); /* keeps capacity */
void milnce_tokens_free(milnce_tokens *t);

/* True for a code point the tokenizer keeps inside words (L*, N*, '_' or '\''). */
int milnce_is_word_codepoint(int cp);

/* Lower-cases UTF-8 text like Python's str.lower() (see above), into a malloc'ed NUL-terminated
 * string (*out, *out_len bytes). Invalid bytes are copied unchanged. */
int milnce_utf8_lower(const char *text, size_t len, char **out, size_t *out_len,
                      milnce_error *err);

#endif
