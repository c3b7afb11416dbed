/* Tokenizer, vocabulary and word vectors against tests/reference/text_ref.py: Python's own
 * re.findall(r"[\w']+", text.lower()) on real captions, tricky strings and every assigned code
 * point; a Counter-built vocabulary; word vectors read with struct/numpy. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "testutil.h"
#include "tokenizer.h"
#include "vocab.h"
#include "vocab_io.h"
#include "wordvec.h"

static json_t *load_json(const char *path) {
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    ck_assert_msg(j != NULL, "%s:%d: %s", path, je.line, je.text);
    return j;
}

static json_t *texts;

static void setup_texts(void) { texts = load_json(tu_fixture("text", "texts.json")); }
static void teardown_texts(void) { json_decref(texts); texts = NULL; }

/* Tokenizes every {"text", "lower", "keep"} record of group and compares; returns mismatches. */
static int check_group(const char *group) {
    json_t *arr = json_object_get(texts, group);
    ck_assert_msg(json_is_array(arr) && json_array_size(arr) > 0, "fixture group %s", group);
    milnce_tokens t = {0};
    milnce_error err = {0};
    int bad = 0;
    size_t i;
    json_t *rec;
    json_array_foreach(arr, i, rec) {
        json_t *jt = json_object_get(rec, "text");
        const char *text = json_string_value(jt);
        size_t len = json_string_length(jt);
        for (int mode = 0; mode < 2; mode++) {
            json_t *want = json_object_get(rec, mode ? "keep" : "lower");
            milnce_tokens_clear(&t);
            ck_assert_int_eq(milnce_tokenize(text, len, mode ? MILNCE_TOKENIZE_KEEP_CASE : 0, &t, &err), 0);
            int ok = t.n == json_array_size(want);
            for (size_t k = 0; ok && k < t.n; k++) {
                json_t *w = json_array_get(want, k);
                ok = t.len[k] == json_string_length(w) &&
                     memcmp(milnce_tokens_word(&t, k), json_string_value(w), t.len[k]) == 0;
            }
            if (!ok) {
                if (bad < 5) {
                    fprintf(stderr, "%s[%zu] mode %s: %zu tokens, want %zu; text '%.80s'\n", group, i,
                            mode ? "keep" : "lower", t.n, json_array_size(want), text);
                    for (size_t k = 0; k < t.n && k < json_array_size(want); k++)
                        if (strcmp(milnce_tokens_word(&t, k), json_string_value(json_array_get(want, k))))
                            fprintf(stderr, "  token %zu: got '%s' want '%s'\n", k, milnce_tokens_word(&t, k),
                                    json_string_value(json_array_get(want, k)));
                }
                bad++;
            }
        }
    }
    milnce_tokens_free(&t);
    return bad;
}

START_TEST(test_tokens_real_captions) {
    int bad = check_group("captions");
    ck_assert_msg(bad == 0, "%d caption tokenizations differ from Python", bad);
}
END_TEST

START_TEST(test_tokens_tricky) {
    int bad = check_group("tricky");
    ck_assert_msg(bad == 0, "%d tricky strings differ from Python", bad);
}
END_TEST

/* Every code point Python knows, 256 at a time: the word-character set, lower-casing and the
 * final-sigma context. */
START_TEST(test_tokens_all_codepoints) {
    int bad = check_group("blocks");
    ck_assert_msg(bad == 0, "%d code-point blocks differ from Python", bad);
}
END_TEST

static void expect_tokens(const char *text, size_t len, int flags, const char *const *want, size_t n) {
    milnce_tokens t = {0};
    ck_assert_int_eq(milnce_tokenize(text, len, flags, &t, NULL), 0);
    ck_assert_uint_eq(t.n, n);
    for (size_t i = 0; i < n; i++) ck_assert_str_eq(milnce_tokens_word(&t, i), want[i]);
    milnce_tokens_free(&t);
}

START_TEST(test_tokens_invalid_utf8) {
    /* Invalid bytes separate words; they never end up in one. */
    static const char *const w1[] = {"ab", "cd"};
    expect_tokens("AB\xff" "cd", (size_t)-1, 0, w1, 2);
    static const char *const w2[] = {"ab"};
    expect_tokens("ab \xc3", (size_t)-1, 0, w2, 1);       /* truncated sequence at the end */
    expect_tokens("ab\xed\xa0\x80", (size_t)-1, 0, w2, 1); /* encoded surrogate */
    static const char *const w3[] = {"x", "y"};
    expect_tokens("x\0y", 3, 0, w3, 2); /* explicit length: NUL is a separator */
    /* Appending to a list that has words. */
    milnce_tokens t = {0};
    ck_assert_int_eq(milnce_tokenize("one two", (size_t)-1, 0, &t, NULL), 0);
    ck_assert_int_eq(milnce_tokenize("Three", (size_t)-1, 0, &t, NULL), 0);
    ck_assert_uint_eq(t.n, 3);
    ck_assert_str_eq(milnce_tokens_word(&t, 2), "three");
    milnce_tokens_free(&t);
    char *low;
    size_t n;
    ck_assert_int_eq(milnce_utf8_lower("\xc4\xb0Stanbul \xce\xa3\xce\x91\xce\xa3", (size_t)-1, &low, &n, NULL), 0);
    ck_assert_str_eq(low, "i\xcc\x87stanbul \xcf\x83\xce\xb1\xcf\x82"); /* i + U+0307, σας */
    ck_assert_uint_eq(n, strlen(low));
    free(low);
}
END_TEST

/* The vocabulary of the caption corpus (min count 2, 500 words) and the ids of every caption. */
START_TEST(test_vocab_build_and_encode) {
    json_t *caps = json_object_get(texts, "captions");
    json_t *jv = json_object_get(texts, "vocab");
    milnce_vocab_counter c = {0};
    milnce_tokens t = {0};
    milnce_error err = {0};
    size_t i;
    json_t *rec;
    json_array_foreach(caps, i, rec) {
        milnce_tokens_clear(&t);
        ck_assert_int_eq(milnce_tokenize(json_string_value(json_object_get(rec, "text")), (size_t)-1, 0, &t, &err), 0);
        ck_assert_int_eq(milnce_vocab_count_tokens(&c, &t, &err), 0);
    }
    milnce_vocab v = {0};
    ck_assert_int_eq(milnce_vocab_build(&c, json_integer_value(json_object_get(jv, "min_count")),
                                        (size_t)json_integer_value(json_object_get(jv, "max_size")), &v, &err), 0);
    json_t *words = json_object_get(jv, "words");
    ck_assert_uint_eq(v.n, json_array_size(words));
    for (size_t k = 0; k < v.n; k++) {
        ck_assert_str_eq(milnce_vocab_word(&v, (int32_t)k + 1), json_string_value(json_array_get(words, k)));
        ck_assert_int_eq(milnce_vocab_id(&v, json_string_value(json_array_get(words, k)), (size_t)-1), (int32_t)k + 1);
    }
    ck_assert_int_eq(milnce_vocab_id(&v, "no-such-word", (size_t)-1), 0);
    ck_assert_ptr_null(milnce_vocab_word(&v, 0));
    ck_assert_ptr_null(milnce_vocab_word(&v, (int32_t)v.n + 1));

    int max_words = (int)json_integer_value(json_object_get(jv, "max_words"));
    json_t *enc = json_object_get(jv, "encoded");
    int32_t ids[64];
    json_array_foreach(caps, i, rec) {
        milnce_tokens_clear(&t);
        ck_assert_int_eq(milnce_tokenize(json_string_value(json_object_get(rec, "text")), (size_t)-1, 0, &t, &err), 0);
        int k = milnce_vocab_encode(&v, &t, max_words, ids, &err);
        ck_assert_int_ge(k, 0);
        json_t *want = json_array_get(enc, i);
        for (int j = 0; j < max_words; j++)
            ck_assert_msg(ids[j] == json_integer_value(json_array_get(want, j)), "caption %zu slot %d: %d vs %lld", i,
                          j, ids[j], (long long)json_integer_value(json_array_get(want, j)));
        for (int j = 0; j < max_words; j++) ck_assert_int_eq(ids[j] != 0, j < k);
    }
    /* Save, load, same ids. */
    char path[4200];
    snprintf(path, sizeof path, "%s/vocab.txt", tu_tmpdir());
    ck_assert_int_eq(milnce_vocab_save(path, &v, &err), 0);
    milnce_vocab w = {0};
    ck_assert_msg(milnce_vocab_load(path, &w, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(w.n, v.n);
    for (size_t k = 1; k <= v.n; k++) ck_assert_int_eq(milnce_vocab_id(&w, v.words[k], (size_t)-1), (int32_t)k);
    milnce_vocab_free(&w);
    milnce_vocab_free(&v);
    milnce_vocab_counter_free(&c);
    milnce_tokens_free(&t);
}
END_TEST

START_TEST(test_vocab_hash_many) {
    milnce_vocab v = {0};
    char w[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(w, sizeof w, "w%d", i * 7919);
        int32_t id;
        ck_assert_int_eq(milnce_vocab_add(&v, w, (size_t)-1, &id, NULL), 1);
        ck_assert_int_eq(id, i + 1);
    }
    for (int i = 0; i < 100000; i++) {
        snprintf(w, sizeof w, "w%d", i * 7919);
        ck_assert_int_eq(milnce_vocab_id(&v, w, (size_t)-1), i + 1);
        snprintf(w, sizeof w, "x%d", i);
        ck_assert_int_eq(milnce_vocab_id(&v, w, (size_t)-1), 0);
    }
    int32_t id;
    ck_assert_int_eq(milnce_vocab_add(&v, "w0", 2, &id, NULL), 0); /* already there */
    ck_assert_int_eq(id, 1);
    milnce_error err = {0};
    ck_assert_int_eq(milnce_vocab_add(&v, "", 0, NULL, &err), MILNCE_ERR_INVALID);
    milnce_vocab_free(&v);
    ck_assert_uint_eq(v.n, 0);

    /* Counting order: count descending, then bytes ascending; min_count and max_size. */
    milnce_vocab_counter c = {0};
    const char *corpus[] = {"b", "a", "c", "b", "a", "d", "\xc3\xa9", "\xc3\xa9", "z", "z", "z"};
    for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++)
        ck_assert_int_eq(milnce_vocab_count(&c, corpus[i], (size_t)-1, NULL), 0);
    milnce_vocab b = {0};
    ck_assert_int_eq(milnce_vocab_build(&c, 2, 3, &b, NULL), 0);
    ck_assert_uint_eq(b.n, 3);
    ck_assert_str_eq(b.words[1], "z");
    ck_assert_str_eq(b.words[2], "a");
    ck_assert_str_eq(b.words[3], "b");
    milnce_vocab_free(&b);
    ck_assert_int_eq(milnce_vocab_build(&c, 2, 0, &b, NULL), 0);
    ck_assert_uint_eq(b.n, 4);
    ck_assert_str_eq(b.words[4], "\xc3\xa9");
    milnce_vocab_free(&b);
    milnce_vocab_counter_free(&c);
}
END_TEST

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static char *read_whole(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    b[len] = '\0';
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* Expects load to fail with code and a message holding every needle. */
static void expect_load_error(const char *path, int fmt, int code, const char *n1, const char *n2) {
    milnce_wordvec wv;
    milnce_error err = {0};
    int ret = milnce_wordvec_load(path, (milnce_wordvec_format)fmt, 0, &wv, &err);
    ck_assert_msg(ret == code, "%s: got %d (%s), want %d", path, ret, err.msg, code);
    ck_assert_msg(strstr(err.msg, n1) != NULL, "message '%s' lacks '%s'", err.msg, n1);
    if (n2) ck_assert_msg(strstr(err.msg, n2) != NULL, "message '%s' lacks '%s'", err.msg, n2);
    ck_assert_ptr_null(wv.vectors);
}

START_TEST(test_vocab_file_errors) {
    const char *dir = tu_tmpdir();
    char path[4200];
    milnce_vocab v = {0};
    milnce_error err = {0};
    snprintf(path, sizeof path, "%s/dup.txt", dir);
    write_file(path, "a\nb\r\nc\nb\n", 9);
    ck_assert_int_eq(milnce_vocab_load(path, &v, &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "dup.txt:4:") && strstr(err.msg, "line 2"), "%s", err.msg);
    ck_assert_uint_eq(v.n, 0);
    snprintf(path, sizeof path, "%s/empty_line.txt", dir);
    write_file(path, "a\n\nb\n", 5);
    ck_assert_int_eq(milnce_vocab_load(path, &v, &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "empty_line.txt:2:"), "%s", err.msg);
    snprintf(path, sizeof path, "%s/crlf.txt", dir);
    write_file(path, "a\r\nb", 4); /* CRLF and no final newline */
    ck_assert_int_eq(milnce_vocab_load(path, &v, &err), 0);
    ck_assert_int_eq(milnce_vocab_id(&v, "b", 1), 2);
    milnce_vocab_free(&v);
    snprintf(path, sizeof path, "%s/missing.txt", dir);
    ck_assert_int_eq(milnce_vocab_load(path, &v, &err), MILNCE_ERR_NOTFOUND);
    ck_assert_msg(strstr(err.msg, "missing.txt"), "%s", err.msg);
}
END_TEST

static const struct {
    const char *name;
    milnce_wordvec_format fmt;
} wv_files[] = {{"euclidean_vectors.bin", MILNCE_WORDVEC_W2V_BIN},
                {"word2vec_pre_kv_c", MILNCE_WORDVEC_W2V_TEXT},
                {"lee_fasttext.vec", MILNCE_WORDVEC_W2V_TEXT},
                {"test_glove.txt", MILNCE_WORDVEC_GLOVE}};

/* Each file, detected and declared, against the numpy reading: every word and every value. */
START_TEST(test_wordvec_matches_reference) {
    char rel[256];
    snprintf(rel, sizeof rel, "wordvec/%s.npy", wv_files[_i].name);
    milnce_npy ref;
    milnce_error err = {0};
    ck_assert_msg(milnce_npy_read(tu_fixture("text", rel), &ref, &err) == 0, "%s", err.msg);
    snprintf(rel, sizeof rel, "wordvec/%s.words.json", wv_files[_i].name);
    json_t *words = load_json(tu_fixture("text", rel));
    for (int declared = 0; declared < 2; declared++) {
        milnce_wordvec wv;
        snprintf(rel, sizeof rel, "wordvec/%s", wv_files[_i].name);
        int ret = milnce_wordvec_load(tu_testdata(rel), declared ? wv_files[_i].fmt : MILNCE_WORDVEC_AUTO, 0, &wv, &err);
        ck_assert_msg(ret == 0, "%s", err.msg);
        ck_assert_int_eq(wv.format, wv_files[_i].fmt);
        ck_assert_int_eq(ref.ndim, 2);
        ck_assert_int_eq((int64_t)wv.vocab.n + 1, ref.shape[0]);
        ck_assert_int_eq(wv.dim, ref.shape[1]);
        for (size_t k = 0; k < wv.vocab.n; k++)
            ck_assert_str_eq(wv.vocab.words[k + 1], json_string_value(json_array_get(words, k)));
        const float *r = ref.data;
        size_t count = (wv.vocab.n + 1) * (size_t)wv.dim;
        for (int j = 0; j < wv.dim; j++) ck_assert_float_eq(wv.vectors[j], 0.0f);
        if (wv_files[_i].fmt == MILNCE_WORDVEC_W2V_BIN) {
            ck_assert_int_eq(memcmp(wv.vectors, r, count * sizeof(float)), 0); /* bit-exact */
        } else {
            /* numpy goes text -> double -> float32, strtof text -> float32: at most 1 ulp apart. */
            double e = tu_rel_err(wv.vectors, r, count, 1e-3);
            ck_assert_msg(e < 1e-6, "%s rel err %g", wv_files[_i].name, e);
        }
        /* Spot check independent of the fixture: the first word of every file is "the". */
        ck_assert_int_eq(milnce_vocab_id(&wv.vocab, "the", 3), 1);
        milnce_wordvec_free(&wv);
        ck_assert_ptr_null(wv.vectors);
    }
    /* A limit keeps the first entries. */
    milnce_wordvec wv;
    snprintf(rel, sizeof rel, "wordvec/%s", wv_files[_i].name);
    ck_assert_int_eq(milnce_wordvec_load(tu_testdata(rel), MILNCE_WORDVEC_AUTO, 10, &wv, &err), 0);
    ck_assert_uint_eq(wv.vocab.n, 10);
    ck_assert_double_lt(tu_rel_err(wv.vectors, ref.data, 11 * (size_t)wv.dim, 1e-3), 1e-6);

    /* Matrix for another vocabulary: hits copied, misses zero. */
    milnce_vocab v = {0};
    ck_assert_int_eq(milnce_vocab_add(&v, "no-such-word-here", (size_t)-1, NULL, NULL), 1);
    ck_assert_int_eq(milnce_vocab_add(&v, wv.vocab.words[3], (size_t)-1, NULL, NULL), 1);
    float *m;
    size_t found;
    ck_assert_int_eq(milnce_wordvec_matrix_for(&wv, &v, &m, &found, &err), 0);
    ck_assert_uint_eq(found, 1);
    for (int j = 0; j < wv.dim; j++) {
        ck_assert_float_eq(m[j], 0.0f);
        ck_assert_float_eq(m[wv.dim + j], 0.0f);
        ck_assert_float_eq(m[2 * wv.dim + j], wv.vectors[3 * wv.dim + j]);
    }
    free(m);
    milnce_vocab_free(&v);
    milnce_wordvec_free(&wv);
    milnce_npy_free(&ref);
    json_decref(words);
}
END_TEST

/* Damaged copies of the real files: each error names the file and the line or entry. */
START_TEST(test_wordvec_malformed) {
    const char *dir = tu_tmpdir();
    char path[4200];
    size_t n;
    milnce_error err = {0};

    /* Binary, cut inside the vectors of an entry and inside a word. */
    char *bin = read_whole(tu_testdata("wordvec/euclidean_vectors.bin"), &n);
    snprintf(path, sizeof path, "%s/cut.bin", dir);
    write_file(path, bin, n - 7);
    expect_load_error(path, MILNCE_WORDVEC_AUTO, MILNCE_ERR_FORMAT, "cut.bin: entry 2747", "truncated");
    write_file(path, bin, 13); /* header + "the " + 1 byte... */
    expect_load_error(path, MILNCE_WORDVEC_W2V_BIN, MILNCE_ERR_FORMAT, "cut.bin: entry 1", "truncated");
    /* Header says more entries than there are. */
    char *more = malloc(n + 1);
    memcpy(more, "2748", 4);
    memcpy(more + 4, bin + 4, n - 4);
    snprintf(path, sizeof path, "%s/more.bin", dir);
    write_file(path, more, n);
    expect_load_error(path, MILNCE_WORDVEC_W2V_BIN, MILNCE_ERR_FORMAT, "more.bin: entry 2748", "truncated");
    /* Fewer: data left over. */
    memcpy(more, "2746", 4);
    write_file(path, more, n);
    expect_load_error(path, MILNCE_WORDVEC_W2V_BIN, MILNCE_ERR_FORMAT, "more.bin", "after the 2746 entries");
    /* A garbled float (all-ones exponent = NaN/Inf) in entry 1. */
    memcpy(more, bin, n);
    more[12] = (char)0xff; /* floats of "the" start after "2747 10\nthe " */
    more[13] = (char)0xff;
    more[14] = (char)0xff;
    more[15] = (char)0x7f;
    write_file(path, more, n);
    expect_load_error(path, MILNCE_WORDVEC_W2V_BIN, MILNCE_ERR_FORMAT, "more.bin: entry 1 ('the'", "not finite");
    free(more);
    free(bin);

    /* word2vec text: truncated (fewer lines than the header), a garbled value, a short line. */
    char *txt = read_whole(tu_testdata("wordvec/word2vec_pre_kv_c"), &n);
    snprintf(path, sizeof path, "%s/w2v.txt", dir);
    size_t cut = (size_t)(strstr(txt + n / 2, "\n") - txt) + 1; /* whole lines */
    write_file(path, txt, cut);
    expect_load_error(path, MILNCE_WORDVEC_AUTO, MILNCE_ERR_FORMAT, "w2v.txt:", "truncated");
    char *line3 = strchr(strchr(txt, '\n') + 1, '\n') + 1; /* third line = entry 2 */
    char *sp = strchr(line3, ' ');
    memcpy(sp + 1, "abc", 3);
    write_file(path, txt, n);
    expect_load_error(path, MILNCE_WORDVEC_W2V_TEXT, MILNCE_ERR_FORMAT, "w2v.txt:3:", "not a finite number");
    memcpy(sp + 1, "0.1", 3);
    char *nl = strchr(line3, '\n');
    char *last_sp = nl;
    while (*last_sp != ' ') last_sp--;
    *last_sp = '\n'; /* line 3 loses its last value; the value becomes line 4 */
    write_file(path, txt, n);
    expect_load_error(path, MILNCE_WORDVEC_W2V_TEXT, MILNCE_ERR_FORMAT, "w2v.txt:3:", "found 10 fields");
    free(txt);

    /* GloVe: one line with an extra value. */
    char *glove = read_whole(tu_testdata("wordvec/test_glove.txt"), &n);
    char *g = malloc(2 * n + 8);
    char *l2 = strchr(glove, '\n') + 1;
    char *l2end = strchr(l2, '\n');
    size_t a = (size_t)(l2end - glove);
    memcpy(g, glove, a);
    memcpy(g + a, " 0.5", 4);
    memcpy(g + a + 4, glove + a, n - a);
    snprintf(path, sizeof path, "%s/glove.txt", dir);
    write_file(path, g, n + 4);
    expect_load_error(path, MILNCE_WORDVEC_AUTO, MILNCE_ERR_FORMAT, "glove.txt:2:", "expected a word and 50 values, found 52 fields");
    /* A word given twice. */
    memcpy(g, glove, n);
    memcpy(g + n, glove, (size_t)(l2 - glove)); /* line 1 again at the end */
    write_file(path, g, n + (size_t)(l2 - glove));
    expect_load_error(path, MILNCE_WORDVEC_GLOVE, MILNCE_ERR_FORMAT, "glove.txt:77:", "already given as entry 1");
    /* Declared GloVe with a header. */
    snprintf(path, sizeof path, "%s/hdr.txt", dir);
    write_file(path, "2 3\na 1 2 3\nb 4 5 6\n", 20);
    expect_load_error(path, MILNCE_WORDVEC_GLOVE, MILNCE_ERR_FORMAT, "hdr.txt:1:", "header");
    free(g);
    free(glove);

    /* Empty, header-only, missing. */
    snprintf(path, sizeof path, "%s/empty.vec", dir);
    write_file(path, "", 0);
    expect_load_error(path, MILNCE_WORDVEC_AUTO, MILNCE_ERR_FORMAT, "empty.vec:1:", "empty");
    write_file(path, "5 10\n", 5);
    expect_load_error(path, MILNCE_WORDVEC_W2V_TEXT, MILNCE_ERR_FORMAT, "empty.vec", "no word vectors");
    write_file(path, "5 -3\n", 5);
    expect_load_error(path, MILNCE_WORDVEC_W2V_BIN, MILNCE_ERR_FORMAT, "empty.vec:1:", "header");
    snprintf(path, sizeof path, "%s/none.vec", dir);
    expect_load_error(path, MILNCE_WORDVEC_AUTO, MILNCE_ERR_NOTFOUND, "none.vec", NULL);

    /* A word holding a space is not supported: the line has one field too many. */
    snprintf(path, sizeof path, "%s/space.txt", dir);
    write_file(path, "a 1 2\n. . 3 4\n", 14);
    expect_load_error(path, MILNCE_WORDVEC_AUTO, MILNCE_ERR_FORMAT, "space.txt:2:", "found 4 fields");
    milnce_wordvec_format f;
    ck_assert_int_eq(milnce_wordvec_format_parse("GloVe", &f, NULL), 0);
    ck_assert_int_eq(f, MILNCE_WORDVEC_GLOVE);
    ck_assert_int_eq(milnce_wordvec_format_parse("fasttext-bin", &f, &err), MILNCE_ERR_INVALID);
}
END_TEST

int main(int argc, char **argv) {
    tu_need_fixtures("text");
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("tokenizer");
    tcase_add_checked_fixture(tc, setup_texts, teardown_texts);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_tokens_real_captions);
    tcase_add_test(tc, test_tokens_tricky);
    tcase_add_test(tc, test_tokens_all_codepoints);
    tcase_add_test(tc, test_vocab_build_and_encode);
    suite_add_tcase(s, tc);
    TCase *tv = tcase_create("vocab_wordvec");
    tcase_set_timeout(tv, 120);
    tcase_add_test(tv, test_tokens_invalid_utf8);
    tcase_add_test(tv, test_vocab_hash_many);
    tcase_add_test(tv, test_vocab_file_errors);
    tcase_add_loop_test(tv, test_wordvec_matches_reference, 0, (int)(sizeof wv_files / sizeof wv_files[0]));
    tcase_add_test(tv, test_wordvec_malformed);
    suite_add_tcase(s, tv);
    return tu_run(s, argc, argv);
}
