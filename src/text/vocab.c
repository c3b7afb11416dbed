#include "vocab.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a, 64-bit. */
static uint64_t hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* Slot of word: the slot holding its id, or the empty slot where it would go. */
static size_t find_slot(const milnce_vocab *v, const char *word, size_t len) {
    size_t i = (size_t)hash(word, len) & v->mask;
    for (;;) {
        uint32_t id = v->slots[i];
        if (id == 0) return i;
        if (v->lens[id] == len && memcmp(v->words[id], word, len) == 0) return i;
        i = (i + 1) & v->mask;
    }
}

int32_t milnce_vocab_id(const milnce_vocab *v, const char *word, size_t len) {
    if (!v || !v->slots || !word) return 0;
    if (len == (size_t)-1) len = strlen(word);
    return (int32_t)v->slots[find_slot(v, word, len)];
}

const char *milnce_vocab_word(const milnce_vocab *v, int32_t id) {
    if (!v || id < 1 || (size_t)id > v->n) return NULL;
    return v->words[id];
}

/* Doubles the table (load factor kept <= 1/2). */
static int rehash(milnce_vocab *v, size_t nslots, milnce_error *err) {
    uint32_t *s = calloc(nslots, sizeof *s);
    if (!s) return milnce_error_set(err, MILNCE_ERR_NOMEM, "vocabulary table of %zu slots", nslots);
    free(v->slots);
    v->slots = s;
    v->mask = nslots - 1;
    for (size_t id = 1; id <= v->n; id++) v->slots[find_slot(v, v->words[id], v->lens[id])] = (uint32_t)id;
    return 0;
}

int milnce_vocab_add(milnce_vocab *v, const char *word, size_t len, int32_t *id,
                     milnce_error *err) {
    if (!v || !word) return milnce_error_set(err, MILNCE_ERR_INVALID, "vocab_add: NULL argument");
    if (len == (size_t)-1) len = strlen(word);
    if (len == 0) return milnce_error_set(err, MILNCE_ERR_INVALID, "vocabulary: empty word");
    if (memchr(word, '\0', len)) return milnce_error_set(err, MILNCE_ERR_INVALID, "vocabulary: word with a NUL byte");
    int ret;
    if (!v->slots && (ret = rehash(v, 64, err)) < 0) return ret;
    size_t slot = find_slot(v, word, len);
    if (v->slots[slot]) {
        if (id) *id = (int32_t)v->slots[slot];
        return 0;
    }
    if (v->n >= INT32_MAX - 1) return milnce_error_set(err, MILNCE_ERR_RANGE, "vocabulary: more than %d words", INT32_MAX - 1);
    if (v->n + 2 > v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        char **w = realloc(v->words, cap * sizeof *w);
        if (!w) return milnce_error_set(err, MILNCE_ERR_NOMEM, "vocabulary of %zu words", cap);
        v->words = w;
        size_t *l = realloc(v->lens, cap * sizeof *l);
        if (!l) return milnce_error_set(err, MILNCE_ERR_NOMEM, "vocabulary of %zu words", cap);
        v->lens = l;
        if (v->cap == 0) { v->words[0] = NULL; v->lens[0] = 0; }
        v->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return milnce_error_set(err, MILNCE_ERR_NOMEM, "vocabulary word of %zu bytes", len);
    memcpy(copy, word, len);
    copy[len] = '\0';
    size_t nid = ++v->n;
    v->words[nid] = copy;
    v->lens[nid] = len;
    v->slots[slot] = (uint32_t)nid;
    if (2 * v->n > v->mask + 1 && (ret = rehash(v, 2 * (v->mask + 1), err)) < 0) return ret;
    if (id) *id = (int32_t)nid;
    return 1;
}

void milnce_vocab_free(milnce_vocab *v) {
    if (!v) return;
    for (size_t i = 1; i <= v->n; i++) free(v->words[i]);
    free(v->words);
    free(v->lens);
    free(v->slots);
    memset(v, 0, sizeof *v);
}

int milnce_vocab_encode(const milnce_vocab *v, const milnce_tokens *t, int max_words,
                        int32_t *ids, milnce_error *err) {
    if (!v || !t || (!ids && max_words > 0) || max_words < 0)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "vocab_encode: bad argument");
    int k = 0;
    for (size_t i = 0; i < t->n && k < max_words; i++) {
        int32_t id = milnce_vocab_id(v, milnce_tokens_word(t, i), t->len[i]);
        if (id > 0) ids[k++] = id;
    }
    for (int i = k; i < max_words; i++) ids[i] = 0;
    return k;
}

int milnce_vocab_count(milnce_vocab_counter *c, const char *word, size_t len, milnce_error *err) {
    int32_t id;
    int ret = milnce_vocab_add(&c->words, word, len, &id, err);
    if (ret < 0) return ret;
    if ((size_t)id + 1 > c->counts_cap) {
        size_t cap = c->counts_cap ? 2 * c->counts_cap : 256;
        while (cap < (size_t)id + 1) cap *= 2;
        int64_t *n = realloc(c->counts, cap * sizeof *n);
        if (!n) return milnce_error_set(err, MILNCE_ERR_NOMEM, "word counts for %zu words", cap);
        memset(n + c->counts_cap, 0, (cap - c->counts_cap) * sizeof *n);
        c->counts = n;
        c->counts_cap = cap;
    }
    c->counts[id]++;
    return 0;
}

int milnce_vocab_count_tokens(milnce_vocab_counter *c, const milnce_tokens *t, milnce_error *err) {
    for (size_t i = 0; i < t->n; i++) {
        int ret = milnce_vocab_count(c, milnce_tokens_word(t, i), t->len[i], err);
        if (ret < 0) return ret;
    }
    return 0;
}

typedef struct ranked {
    int64_t count;
    const char *word;
    size_t len;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->word, y->word, n);
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

int milnce_vocab_build(const milnce_vocab_counter *c, int64_t min_count, size_t max_size,
                       milnce_vocab *out, milnce_error *err) {
    if (!c || !out || out->n)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "vocab_build: bad argument (out must be empty)");
    size_t n = c->words.n, k = 0;
    ranked *r = malloc((n ? n : 1) * sizeof *r);
    if (!r) return milnce_error_set(err, MILNCE_ERR_NOMEM, "vocabulary build of %zu words", n);
    for (size_t id = 1; id <= n; id++)
        if (c->counts[id] >= min_count) r[k++] = (ranked){c->counts[id], c->words.words[id], c->words.lens[id]};
    /* Ties in count are broken by the word, so the order is total and qsort is deterministic. */
    qsort(r, k, sizeof *r, cmp_ranked);
    if (max_size && k > max_size) k = max_size;
    int ret = 0;
    for (size_t i = 0; i < k && ret >= 0; i++) ret = milnce_vocab_add(out, r[i].word, r[i].len, NULL, err);
    free(r);
    if (ret < 0) milnce_vocab_free(out);
    return ret < 0 ? ret : 0;
}

void milnce_vocab_counter_free(milnce_vocab_counter *c) {
    if (!c) return;
    milnce_vocab_free(&c->words);
    free(c->counts);
    memset(c, 0, sizeof *c);
}
