#include "vocab_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"

int milnce_vocab_save(const char *path, const milnce_vocab *v, milnce_error *err) {
    size_t total = 0;
    for (size_t id = 1; id <= v->n; id++) {
        if (memchr(v->words[id], '\n', v->lens[id]) || memchr(v->words[id], '\r', v->lens[id]))
            return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: word %zu holds a line break", path, id);
        total += v->lens[id] + 1;
    }
    char *buf = malloc(total ? total : 1);
    if (!buf) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: %zu bytes", path, total);
    size_t k = 0;
    for (size_t id = 1; id <= v->n; id++) {
        memcpy(buf + k, v->words[id], v->lens[id]);
        k += v->lens[id];
        buf[k++] = '\n';
    }
    int ret = milnce_write_file_atomic(path, buf, k, err);
    free(buf);
    return ret;
}

int milnce_vocab_load(const char *path, milnce_vocab *out, milnce_error *err) {
    if (!out || out->n) return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: vocabulary must be empty", path);
    FILE *f = fopen(path, "rb");
    if (!f) return milnce_error_set(err, errno == ENOENT ? MILNCE_ERR_NOTFOUND : MILNCE_ERR_IO,
                                    "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int ret = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n') len--;
        if (len && line[len - 1] == '\r') len--;
        if (len == 0) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%ld: empty line (one word per line)", path, lineno);
            break;
        }
        if (memchr(line, '\0', len)) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%ld: NUL byte in word", path, lineno);
            break;
        }
        int32_t id;
        ret = milnce_vocab_add(out, line, len, &id, err);
        if (ret < 0) { milnce_error_prefix(err, "%s:%ld", path, lineno); break; }
        if (ret == 0) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%ld: word '%.*s' already on line %d", path,
                                   lineno, (int)(len > 64 ? 64 : len), line, id);
            break;
        }
        ret = 0;
    }
    if (ret == 0 && ferror(f)) ret = milnce_error_set(err, MILNCE_ERR_IO, "%s: read error", path);
    free(line);
    fclose(f);
    if (ret < 0) milnce_vocab_free(out);
    return ret;
}

char *milnce_vocab_to_text(const milnce_vocab *v) {
    size_t total = 1;
    for (size_t id = 1; id <= v->n; id++) total += v->lens[id] + 1;
    char *t = malloc(total);
    if (!t) return NULL;
    size_t k = 0;
    for (size_t id = 1; id <= v->n; id++) {
        if (id > 1) t[k++] = '\n';
        memcpy(t + k, v->words[id], v->lens[id]);
        k += v->lens[id];
    }
    t[k] = '\0';
    return t;
}

int milnce_vocab_from_text(const char *text, size_t n, const char *name, milnce_vocab *out, milnce_error *err) {
    if (!out || out->n) return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: vocabulary must be empty", name);
    size_t p = 0, lineno = 0;
    int ret = 0;
    while (p < n) {
        const char *nl = memchr(text + p, '\n', n - p);
        size_t len = nl ? (size_t)(nl - (text + p)) : n - p;
        const char *line = text + p;
        p += len + (nl ? 1 : 0);
        lineno++;
        if (len && line[len - 1] == '\r') len--;
        if (len == 0) { ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: word %zu is empty", name, lineno); break; }
        if (memchr(line, '\0', len)) { ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: word %zu holds a NUL byte", name, lineno); break; }
        int32_t id;
        ret = milnce_vocab_add(out, line, len, &id, err);
        if (ret < 0) { milnce_error_prefix(err, "%s: word %zu", name, lineno); break; }
        if (ret == 0) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: word %zu '%.*s' repeats word %d", name, lineno, (int)(len > 64 ? 64 : len), line, id);
            break;
        }
        ret = 0;
    }
    if (ret < 0) milnce_vocab_free(out);
    return ret;
}
