#include "wordvec.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest word accepted in the binary format: beyond this the file is garbage, not a word. */
#define MAX_WORD_BYTES 4096
/* Largest D accepted (the usual ones are 50..1000). */
#define MAX_DIM 100000

int milnce_wordvec_format_parse(const char *name, milnce_wordvec_format *fmt, milnce_error *err) {
    static const struct { const char *n; milnce_wordvec_format f; } names[] = {
        {"auto", MILNCE_WORDVEC_AUTO},          {"word2vec-bin", MILNCE_WORDVEC_W2V_BIN},
        {"bin", MILNCE_WORDVEC_W2V_BIN},        {"word2vec-text", MILNCE_WORDVEC_W2V_TEXT},
        {"word2vec", MILNCE_WORDVEC_W2V_TEXT},  {"vec", MILNCE_WORDVEC_W2V_TEXT},
        {"glove", MILNCE_WORDVEC_GLOVE}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i].n) == 0) { *fmt = names[i].f; return 0; }
    return milnce_error_set(err, MILNCE_ERR_INVALID,
                            "unknown word-vector format '%s' (auto, word2vec-bin, word2vec-text, glove)", name);
}

const char *milnce_wordvec_format_name(milnce_wordvec_format fmt) {
    switch (fmt) {
    case MILNCE_WORDVEC_W2V_BIN: return "word2vec-bin";
    case MILNCE_WORDVEC_W2V_TEXT: return "word2vec-text";
    case MILNCE_WORDVEC_GLOVE: return "glove";
    default: return "auto";
    }
}

/* Growable matrix rows: row 0 is padding. */
static int ensure_rows(milnce_wordvec *wv, size_t *cap_rows, size_t rows, const char *path,
                       milnce_error *err) {
    if (rows <= *cap_rows) return 0;
    size_t cap = *cap_rows ? *cap_rows : 1024;
    while (cap < rows) cap *= 2;
    float *v = realloc(wv->vectors, cap * (size_t)wv->dim * sizeof *v);
    if (!v) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: %zu x %d vectors", path, cap, wv->dim);
    if (*cap_rows == 0) memset(v, 0, (size_t)wv->dim * sizeof *v); /* padding row */
    wv->vectors = v;
    *cap_rows = cap;
    return 0;
}

/* Parses "N D" (two positive integers, nothing else but spaces). */
static int parse_header(const char *line, long long *n, long long *d) {
    char *e;
    errno = 0;
    long long a = strtoll(line, &e, 10);
    if (e == line || errno || (*e != ' ' && *e != '\t')) return 0;
    const char *p = e;
    long long b = strtoll(p, &e, 10);
    if (e == p || errno) return 0;
    while (*e == ' ' || *e == '\t' || *e == '\r' || *e == '\n') e++;
    if (*e) return 0;
    *n = a;
    *d = b;
    return 1;
}

/* Fields of a text line split on spaces/tabs, in place; returns the count. */
typedef struct fields {
    char **v;
    size_t n, cap;
} fields;

static int split(char *line, fields *f) {
    f->n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        if (f->n == f->cap) {
            size_t cap = f->cap ? 2 * f->cap : 64;
            char **v = realloc(f->v, cap * sizeof *v);
            if (!v) return -1;
            f->v = v;
            f->cap = cap;
        }
        f->v[f->n++] = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        if (*p) *p++ = '\0';
    }
    return 0;
}

static int parse_float(const char *s, float *out) {
    char *e;
    errno = 0;
    float x = strtof(s, &e);
    if (e == s || *e || !isfinite(x)) return 0;
    *out = x;
    return 1;
}

/* One "word v1 .. vD" line (already split into f, D = dim) into the next row. */
static int text_entry(milnce_wordvec *wv, size_t *cap_rows, fields *f, const char *path, long lineno,
                      milnce_error *err) {
    size_t D = (size_t)wv->dim, nw = 1;
    if (f->n != D + 1)
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%ld: expected a word and %zu values, found %zu fields",
                                path, lineno, D, f->n);
    const char *word = f->v[0];
    size_t row = wv->vocab.n + 1;
    int ret = ensure_rows(wv, cap_rows, row + 1, path, err);
    if (ret < 0) return ret;
    float *dst = wv->vectors + row * D;
    for (size_t j = 0; j < D; j++)
        if (!parse_float(f->v[nw + j], &dst[j]))
            return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%ld: value %zu ('%.32s') is not a finite number", path,
                                    lineno, j + 1, f->v[nw + j]);
    int32_t id;
    ret = milnce_vocab_add(&wv->vocab, word, (size_t)-1, &id, err);
    if (ret < 0) return milnce_error_prefix(err, "%s:%ld", path, lineno);
    if (ret == 0)
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%ld: word '%.64s' already given as entry %d", path, lineno,
                                word, id);
    return 0;
}

static int read_text(FILE *fp, const char *path, int has_header, long long n_decl, size_t max_words,
                     milnce_wordvec *wv, milnce_error *err) {
    char *line = NULL;
    size_t cap = 0, cap_rows = 0;
    ssize_t len;
    long lineno = has_header ? 1 : 0;
    fields f = {0};
    int ret = 0;
    while ((len = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        if (max_words && wv->vocab.n >= max_words) break;
        if (memchr(line, '\0', (size_t)len)) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%ld: NUL byte in a text line (binary file?)", path, lineno);
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (split(line, &f) < 0) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s:%ld", path, lineno); break; }
        if (f.n == 0) continue; /* blank line */
        if (wv->dim == 0) {     /* GloVe: D from the first line */
            if (f.n < 2 || f.n - 1 > MAX_DIM) {
                ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%ld: expected a word and its values, found %zu fields",
                                       path, lineno, f.n);
                break;
            }
            wv->dim = (int)(f.n - 1);
        }
        if (has_header && (long long)wv->vocab.n >= n_decl) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%ld: more entries than the %lld the header declares",
                                   path, lineno, n_decl);
            break;
        }
        if ((ret = text_entry(wv, &cap_rows, &f, path, lineno, err)) < 0) break;
    }
    if (ret == 0 && ferror(fp)) ret = milnce_error_set(err, MILNCE_ERR_IO, "%s: read error", path);
    if (ret == 0 && wv->vocab.n == 0) ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: no word vectors", path);
    if (ret == 0 && has_header && !max_words && (long long)wv->vocab.n != n_decl)
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%ld: file ends after %zu entries, header declares %lld (truncated?)",
                               path, lineno, wv->vocab.n, n_decl);
    free(f.v);
    free(line);
    return ret;
}

static int read_binary(FILE *fp, const char *path, long long n_decl, size_t max_words, milnce_wordvec *wv,
                       milnce_error *err) {
    size_t D = (size_t)wv->dim, cap_rows = 0;
    size_t want = (size_t)n_decl;
    if (max_words && max_words < want) want = max_words;
    char word[MAX_WORD_BYTES + 1];
    unsigned char *raw = malloc(4 * D);
    if (!raw) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: D = %zu", path, D);
    int ret = 0;
    for (size_t e = 0; e < want && ret == 0; e++) {
        long off = ftell(fp);
        int c;
        while ((c = fgetc(fp)) == '\n' || c == '\r') {} /* separators between entries */
        size_t k = 0;
        while (c != EOF && c != ' ') {
            if (k == MAX_WORD_BYTES || c == 0) break;
            word[k++] = (char)c;
            c = fgetc(fp);
        }
        if (c == EOF) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: entry %zu (byte %ld): file ends inside the word (truncated; header declares %lld entries)",
                                   path, e + 1, off, n_decl);
            break;
        }
        if (c != ' ') {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: entry %zu (byte %ld): %s", path, e + 1, off,
                                   c == 0 ? "NUL byte in word" : "word longer than 4096 bytes (garbled file?)");
            break;
        }
        if (k == 0) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: entry %zu (byte %ld): empty word", path, e + 1, off);
            break;
        }
        word[k] = '\0';
        if (fread(raw, 4, D, fp) != D) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: entry %zu ('%.64s', byte %ld): file ends inside its %zu floats (truncated)",
                                   path, e + 1, word, off, D);
            break;
        }
        size_t row = wv->vocab.n + 1;
        if ((ret = ensure_rows(wv, &cap_rows, row + 1, path, err)) < 0) break;
        float *dst = wv->vectors + row * D;
        for (size_t j = 0; j < D; j++) {
            /* Little-endian float32, whatever the host. */
            uint32_t u = (uint32_t)raw[4 * j] | (uint32_t)raw[4 * j + 1] << 8 | (uint32_t)raw[4 * j + 2] << 16 |
                         (uint32_t)raw[4 * j + 3] << 24;
            memcpy(&dst[j], &u, 4);
            if (!isfinite(dst[j])) {
                ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: entry %zu ('%.64s', byte %ld): value %zu is not finite (garbled file?)",
                                       path, e + 1, word, off, j + 1);
                break;
            }
        }
        if (ret < 0) break;
        int32_t id;
        ret = milnce_vocab_add(&wv->vocab, word, k, &id, err);
        if (ret < 0) { milnce_error_prefix(err, "%s: entry %zu", path, e + 1); break; }
        if (ret == 0) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: entry %zu (byte %ld): word '%.64s' already given as entry %d",
                                   path, e + 1, off, word, id);
            break;
        }
        ret = 0;
    }
    if (ret == 0 && !max_words) { /* only line breaks may follow the last entry */
        int c;
        long off = ftell(fp);
        while ((c = fgetc(fp)) == '\n' || c == '\r' || c == ' ') {}
        if (c != EOF)
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: data after the %lld entries the header declares (byte %ld)",
                                   path, n_decl, off);
    }
    free(raw);
    return ret;
}

/* AUTO with a header: the first entry read as a text line; binary when it is not one. */
static int looks_like_text_entry(FILE *fp, long long d) {
    long pos = ftell(fp);
    char buf[65536];
    size_t k = 0;
    int c, text = 1;
    while ((c = fgetc(fp)) != EOF && c != '\n') {
        if (c == 0 || k + 1 == sizeof buf) { text = 0; break; }
        buf[k++] = (char)c;
    }
    buf[k] = '\0';
    if (text) {
        fields f = {0};
        if (split(buf, &f) < 0 || f.n < (size_t)d + 1) {
            text = 0;
        } else {
            float x;
            for (size_t j = f.n - (size_t)d; j < f.n && text; j++) {
                size_t L = strlen(f.v[j]);
                if (L && f.v[j][L - 1] == '\r') f.v[j][L - 1] = '\0';
                text = parse_float(f.v[j], &x);
            }
        }
        free(f.v);
    }
    fseek(fp, pos, SEEK_SET);
    return text;
}

int milnce_wordvec_load(const char *path, milnce_wordvec_format fmt, size_t max_words,
                        milnce_wordvec *out, milnce_error *err) {
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return milnce_error_set(err, errno == ENOENT ? MILNCE_ERR_NOTFOUND : MILNCE_ERR_IO, "%s: %s", path,
                                strerror(errno));
    int ret = 0;
    char head[256];
    long long n = 0, d = 0;
    int has_header = 0;
    if (!fgets(head, sizeof head, fp)) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:1: empty file", path);
        goto end;
    }
    has_header = parse_header(head, &n, &d) && strchr(head, '\n');
    if (fmt == MILNCE_WORDVEC_AUTO) {
        if (!has_header)
            fmt = MILNCE_WORDVEC_GLOVE;
        else
            fmt = (d > 0 && d <= MAX_DIM && looks_like_text_entry(fp, d)) ? MILNCE_WORDVEC_W2V_TEXT
                                                                       : MILNCE_WORDVEC_W2V_BIN;
    }
    out->format = fmt;
    if (fmt == MILNCE_WORDVEC_GLOVE) {
        if (has_header) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:1: header line '%lld %lld' in a GloVe file (word2vec text?)",
                                   path, n, d);
            goto end;
        }
        rewind(fp);
        ret = read_text(fp, path, 0, 0, max_words, out, err);
        goto end;
    }
    if (!has_header || n <= 0 || d <= 0 || d > MAX_DIM) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:1: expected a header 'N D' (entries, dimension), found '%.40s'",
                               path, head);
        goto end;
    }
    out->dim = (int)d;
    if (fmt == MILNCE_WORDVEC_W2V_TEXT)
        ret = read_text(fp, path, 1, n, max_words, out, err);
    else
        ret = read_binary(fp, path, n, max_words, out, err);
end:
    fclose(fp);
    if (ret < 0) milnce_wordvec_free(out);
    return ret;
}

int milnce_wordvec_matrix_for(const milnce_wordvec *wv, const milnce_vocab *vocab, float **out,
                              size_t *found, milnce_error *err) {
    size_t D = (size_t)wv->dim, hits = 0;
    float *m = calloc((vocab->n + 1) * D, sizeof *m);
    if (!m) return milnce_error_set(err, MILNCE_ERR_NOMEM, "word matrix %zu x %zu", vocab->n + 1, D);
    for (size_t id = 1; id <= vocab->n; id++) {
        int32_t j = milnce_vocab_id(&wv->vocab, vocab->words[id], vocab->lens[id]);
        if (j > 0) {
            memcpy(m + id * D, wv->vectors + (size_t)j * D, D * sizeof *m);
            hits++;
        }
    }
    *out = m;
    if (found) *found = hits;
    return 0;
}

void milnce_wordvec_free(milnce_wordvec *wv) {
    if (!wv) return;
    milnce_vocab_free(&wv->vocab);
    free(wv->vectors);
    memset(wv, 0, sizeof *wv);
}
