#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileutil.h"

static const char *descr[] = {"|u1", "<i4", "<i8", "<f4", "<f8", "|b1"};
static const size_t dsize[] = {1, 4, 8, 4, 8, 1};

size_t milnce_npy_dtype_size(milnce_npy_dtype t) { return dsize[t]; }

int milnce_npy_write(const char *path, milnce_npy_dtype dtype, int ndim, const int64_t *shape,
                     const void *data, milnce_error *err) {
    if (ndim < 0 || ndim > MILNCE_NPY_MAX_DIMS)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: %d dimensions", path, ndim);
    char shp[256] = "";
    size_t count = 1, off = 0;
    for (int i = 0; i < ndim; i++) {
        off += (size_t)snprintf(shp + off, sizeof shp - off, "%lld,%s", (long long)shape[i],
                                (i + 1 < ndim) ? " " : "");
        count *= (size_t)shape[i];
    }
    if (ndim > 1) shp[off - 1] = '\0'; /* "(2, 3)" not "(2, 3,)"; a 1-d shape keeps its comma */
    char header[512];
    int hl = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                      descr[dtype], shp);
    /* Pad with spaces so that magic(6)+version(2)+len(2)+header+'\n' is a multiple of 64. */
    int total = 10 + hl + 1;
    int pad = (64 - total % 64) % 64;
    int hlen = hl + pad + 1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    milnce_atomic_file f;
    int ret = milnce_atomic_open(&f, path, err);
    if (ret < 0) return ret;
    memset(header + hl, ' ', (size_t)pad);
    header[hl + pad] = '\n';
    if ((ret = milnce_atomic_write(&f, pre, sizeof pre, err)) < 0 ||
        (ret = milnce_atomic_write(&f, header, (size_t)hlen, err)) < 0 ||
        (ret = milnce_atomic_write(&f, data, count * dsize[dtype], err)) < 0) {
        milnce_atomic_abort(&f);
        return ret;
    }
    return milnce_atomic_commit(&f, err);
}

/* fortran_order and shape of header h into out (ndim, shape, count). */
static int parse_shape(const char *path, const char *h, milnce_npy *out, milnce_error *err) {
    const char *fo = strstr(h, "'fortran_order':");
    if (!fo || strncmp(fo + 16, " False", 6) != 0)
        return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: Fortran-order npy", path);
    const char *s = strstr(h, "'shape':");
    if (!s || !(s = strchr(s, '(')))
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: npy header has no shape", path);
    s++;
    out->ndim = 0;
    out->count = 1;
    while (*s && *s != ')') {
        while (*s == ' ' || *s == ',') s++;
        if (*s == ')') break;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 0 || out->ndim >= MILNCE_NPY_MAX_DIMS)
            return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: bad npy shape", path);
        out->shape[out->ndim++] = v;
        out->count *= (size_t)v;
        s = end;
    }
    return 0;
}

static int parse_header(const char *path, const char *h, milnce_npy *out, milnce_error *err) {
    const char *d = strstr(h, "'descr':");
    if (!d) return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: npy header has no descr", path);
    d = strchr(d + 8, '\'');
    if (!d) return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: bad npy descr", path);
    d++;
    int found = -1;
    for (int i = 0; i < 6; i++)
        if (strncmp(d, descr[i], 3) == 0 && d[3] == '\'') found = i;
    if (found < 0 && strncmp(d, "<u1'", 4) == 0) found = MILNCE_NPY_U8;
    if (found < 0 && strncmp(d, "|i1'", 4) == 0) found = MILNCE_NPY_U8;
    if (found < 0)
        return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: npy dtype %.6s not supported",
                                path, d);
    out->dtype = (milnce_npy_dtype)found;
    return parse_shape(path, h, out, err);
}

/* Magic, version, header length and the header text (*h, malloc'ed, NUL-terminated). */
static int read_header(FILE *f, const char *path, char **out, milnce_error *err) {
    unsigned char pre[12];
    char *h = NULL;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0)
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: not a .npy file", path);
    size_t hlen;
    if (pre[6] == 1) {
        hlen = pre[8] | ((size_t)pre[9] << 8);
    } else {
        if (fread(pre + 10, 1, 2, f) != 2) return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: truncated npy header", path);
        hlen = pre[8] | ((size_t)pre[9] << 8) | ((size_t)pre[10] << 16) | ((size_t)pre[11] << 24);
    }
    if (hlen > (1 << 20)) return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: npy header too long", path);
    h = malloc(hlen + 1);
    if (!h || fread(h, 1, hlen, f) != hlen) {
        free(h);
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: truncated npy header", path);
    }
    h[hlen] = '\0';
    *out = h;
    return 0;
}

int milnce_npy_read(const char *path, milnce_npy *out, milnce_error *err) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return milnce_error_set(err, MILNCE_ERR_IO, "%s: %s", path, strerror(errno));
    int ret = 0;
    char *h = NULL;
    if ((ret = read_header(f, path, &h, err)) < 0) goto end;
    if ((ret = parse_header(path, h, out, err)) < 0) goto end;
    size_t bytes = out->count * dsize[out->dtype];
    out->data = malloc(bytes ? bytes : 1);
    if (!out->data) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: %zu bytes", path, bytes);
        goto end;
    }
    if (fread(out->data, 1, bytes, f) != bytes) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: truncated npy data (%zu bytes expected)",
                               path, bytes);
        goto end;
    }
end:
    free(h);
    fclose(f);
    if (ret < 0) milnce_npy_free(out);
    return ret;
}

int milnce_npy_read_f32(const char *path, float **out_data, int *ndim, int64_t *shape,
                        milnce_error *err) {
    milnce_npy a;
    int ret = milnce_npy_read(path, &a, err);
    if (ret < 0) return ret;
    float *o = malloc((a.count ? a.count : 1) * sizeof *o);
    if (!o) {
        milnce_npy_free(&a);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s", path);
    }
    for (size_t i = 0; i < a.count; i++) {
        switch (a.dtype) {
        case MILNCE_NPY_U8: case MILNCE_NPY_BOOL: o[i] = ((uint8_t *)a.data)[i]; break;
        case MILNCE_NPY_I32: o[i] = (float)((int32_t *)a.data)[i]; break;
        case MILNCE_NPY_I64: o[i] = (float)((int64_t *)a.data)[i]; break;
        case MILNCE_NPY_F32: o[i] = ((float *)a.data)[i]; break;
        case MILNCE_NPY_F64: o[i] = (float)((double *)a.data)[i]; break;
        }
    }
    *out_data = o;
    if (ndim) *ndim = a.ndim;
    if (shape) memcpy(shape, a.shape, sizeof a.shape);
    milnce_npy_free(&a);
    return 0;
}

void milnce_npy_free(milnce_npy *a) {
    free(a->data);
    a->data = NULL;
    a->count = 0;
}

/* One code point as UTF-8 into o (4 bytes room); returns the bytes written, 0 if not a scalar value. */
static int utf8_put(uint32_t c, char *o) {
    if (c < 0x80) { o[0] = (char)c; return 1; }
    if (c < 0x800) { o[0] = (char)(0xc0 | c >> 6); o[1] = (char)(0x80 | (c & 0x3f)); return 2; }
    if (c >= 0xd800 && c < 0xe000) return 0;
    if (c < 0x10000) { o[0] = (char)(0xe0 | c >> 12); o[1] = (char)(0x80 | ((c >> 6) & 0x3f)); o[2] = (char)(0x80 | (c & 0x3f)); return 3; }
    if (c < 0x110000) {
        o[0] = (char)(0xf0 | c >> 18); o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
        o[2] = (char)(0x80 | ((c >> 6) & 0x3f)); o[3] = (char)(0x80 | (c & 0x3f));
        return 4;
    }
    return 0;
}

void milnce_npy_strings_free(char **s, size_t n) {
    if (!s) return;
    for (size_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

int milnce_npy_read_strings(const char *path, char ***out, size_t *nout, milnce_error *err) {
    *out = NULL;
    *nout = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return milnce_error_set(err, errno == ENOENT ? MILNCE_ERR_NOTFOUND : MILNCE_ERR_IO, "%s: %s", path, strerror(errno));
    char *h = NULL, **words = NULL;
    uint8_t *raw = NULL;
    milnce_npy shp = {0};
    int ret = read_header(f, path, &h, err);
    if (ret < 0) goto end;
    const char *d = strstr(h, "'descr':");
    d = d ? strchr(d + 8, '\'') : NULL;
    if (!d) { ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: npy header has no descr", path); goto end; }
    d++;
    int wide;
    if ((d[0] == '<' || d[0] == '|') && d[1] == 'U') wide = 1;
    else if ((d[0] == '|' || d[0] == '<') && d[1] == 'S') wide = 0;
    else if (d[0] == '|' && d[1] == 'O') {
        ret = milnce_error_set(err, MILNCE_ERR_UNSUPPORTED,
                               "%s: an object array (its strings are pickled Python objects, which milnce does not unpickle); "
                               "re-save it as a unicode array: np.save(path, np.load(path, allow_pickle=True).astype(str))", path);
        goto end;
    } else {
        ret = milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: npy dtype %.8s is not a string array ('<U..' or '|S..' expected)", path, d);
        goto end;
    }
    char *e;
    long long width = strtoll(d + 2, &e, 10);
    if (e == d + 2 || *e != '\'' || width < 1 || width > 100000) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: bad string dtype %.12s", path, d);
        goto end;
    }
    if ((ret = parse_shape(path, h, &shp, err)) < 0) goto end;
    size_t n = shp.count, es = (size_t)width * (wide ? 4 : 1);
    if (n > ((size_t)1 << 32) / es) { ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: %zu strings of %zu bytes: too large", path, n, es); goto end; }
    raw = malloc(n * es + 1);
    words = calloc(n ? n : 1, sizeof *words);
    if (!raw || !words) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: %zu strings", path, n); goto end; }
    if (fread(raw, 1, n * es, f) != n * es) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: truncated npy data (%zu strings of %zu bytes expected)", path, n, es);
        goto end;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = raw + i * es;
        char *w = malloc((size_t)width * 4 + 1);
        if (!w) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s", path); goto end; }
        size_t len = 0;
        for (long long k = 0; k < width; k++) {
            uint32_t c = wide ? (uint32_t)p[4 * k] | (uint32_t)p[4 * k + 1] << 8 | (uint32_t)p[4 * k + 2] << 16 | (uint32_t)p[4 * k + 3] << 24
                              : p[k];
            if (c == 0) break; /* numpy pads with NULs (and strips trailing ones on read) */
            if (!wide) { w[len++] = (char)c; continue; }
            int b = utf8_put(c, w + len);
            if (!b) {
                free(w);
                ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: string %zu holds U+%04X, not a Unicode scalar value", path, i, c);
                goto end;
            }
            len += (size_t)b;
        }
        w[len] = '\0';
        words[i] = w;
    }
    *out = words;
    *nout = n;
    words = NULL;
end:
    if (words) milnce_npy_strings_free(words, shp.count);
    free(raw);
    free(h);
    fclose(f);
    return ret;
}
