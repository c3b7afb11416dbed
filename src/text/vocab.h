/* Vocabulary: words <-> ids. Ids start at 1; 0 is padding. Lookup is a hash map owned by the
 * vocabulary (no global state). Building: count the tokens of a corpus, then keep the words with
 * at least min_count occurrences, the max_size most frequent, ordered by count (descending) then
 * by word (byte order), so the same corpus always gives the same ids. */
#ifndef MILNCE_VOCAB_H
#define MILNCE_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "tokenizer.h"

typedef struct milnce_vocab {
    char **words;    /* (n + 1): words[0] = NULL (padding), words[id] NUL-terminated, owned */
    size_t *lens;    /* (n + 1) byte lengths */
    size_t n, cap;   /* number of words (ids 1..n) */
    uint32_t *slots; /* (mask + 1) open-addressing table of ids, 0 = empty */
    size_t mask;
} milnce_vocab;

/* Id of word (len bytes, or strlen when len == (size_t)-1), or 0 when absent. */
int32_t milnce_vocab_id(const milnce_vocab *v, const char *word, size_t len);
/* Word of id (1..n), or NULL. */
const char *milnce_vocab_word(const milnce_vocab *v, int32_t id);

/* Adds word if absent; *id (may be NULL) receives its id. Returns 1 if added, 0 if it was there,
 * or a negative error (empty word, more than INT32_MAX words, no memory). */
int milnce_vocab_add(milnce_vocab *v, const char *word, size_t len, int32_t *id,
                     milnce_error *err);
void milnce_vocab_free(milnce_vocab *v);

/* Token ids of a tokenized sentence: words not in v are dropped, the rest truncated to max_words
 * and padded with 0 up to max_words. ids is (max_words). Returns the number of non-padding ids
 * (0..max_words) or a negative error. */
int milnce_vocab_encode(const milnce_vocab *v, const milnce_tokens *t, int max_words,
                        int32_t *ids, milnce_error *err);

/* Word counts over a corpus. */
typedef struct milnce_vocab_counter {
    milnce_vocab words; /* every word seen, in first-seen order */
    int64_t *counts;    /* (words.n + 1) occurrences by id */
    size_t counts_cap;
} milnce_vocab_counter;

int milnce_vocab_count(milnce_vocab_counter *c, const char *word, size_t len, milnce_error *err);
int milnce_vocab_count_tokens(milnce_vocab_counter *c, const milnce_tokens *t, milnce_error *err);
/* out (empty) receives the words with count >= min_count, at most max_size of them (0 = no
 * limit), by count descending then word ascending (bytes). */
int milnce_vocab_build(const milnce_vocab_counter *c, int64_t min_count, size_t max_size,
                       milnce_vocab *out, milnce_error *err);
void milnce_vocab_counter_free(milnce_vocab_counter *c);

#endif
