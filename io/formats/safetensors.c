#include "safetensors.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileutil.h"

static const struct {
    const char *name;
    milnce_st_dtype t;
    size_t size;
} DTYPES[] = {
    {"F32", MILNCE_ST_F32, 4}, {"F64", MILNCE_ST_F64, 8}, {"F16", MILNCE_ST_F16, 2},
    {"BF16", MILNCE_ST_BF16, 2}, {"I64", MILNCE_ST_I64, 8}, {"I32", MILNCE_ST_I32, 4},
    {"I16", MILNCE_ST_I16, 2}, {"I8", MILNCE_ST_I8, 1}, {"U64", MILNCE_ST_U64, 8},
    {"U32", MILNCE_ST_U32, 4}, {"U16", MILNCE_ST_U16, 2}, {"U8", MILNCE_ST_U8, 1},
    {"BOOL", MILNCE_ST_BOOL, 1},
};
#define NDTYPES (sizeof DTYPES / sizeof DTYPES[0])

const char *milnce_st_dtype_name(milnce_st_dtype t) {
    for (size_t i = 0; i < NDTYPES; i++)
        if (DTYPES[i].t == t) return DTYPES[i].name;
    return "?";
}

size_t milnce_st_dtype_size(milnce_st_dtype t) {
    for (size_t i = 0; i < NDTYPES; i++)
        if (DTYPES[i].t == t) return DTYPES[i].size;
    return 0;
}

static int is_float(milnce_st_dtype t) {
    return t == MILNCE_ST_F32 || t == MILNCE_ST_F64 || t == MILNCE_ST_F16 || t == MILNCE_ST_BF16;
}

void milnce_safetensors_close(milnce_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->n; i++) free(st->e[i].name);
    for (int i = 0; i < st->nmeta; i++) {
        free((char *)st->meta[i].key);
        free((char *)st->meta[i].value);
    }
    free(st->e);
    free(st->meta);
    free(st->buf);
    st->e = NULL;
    st->meta = NULL;
    st->buf = NULL;
    st->data = NULL;
    st->n = st->nmeta = 0;
    st->size = st->data_size = 0;
}

static int cmp_by_begin(const void *a, const void *b) {
    const milnce_st_entry *x = *(milnce_st_entry *const *)a, *y = *(milnce_st_entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Reads a JSON integer in [0, max] into *out. */
static int get_uint(json_t *v, uint64_t max, uint64_t *out) {
    if (!json_is_integer(v)) return -1;
    json_int_t i = json_integer_value(v);
    if (i < 0 || (uint64_t)i > max) return -1;
    *out = (uint64_t)i;
    return 0;
}

static int parse_entry(milnce_safetensors *st, milnce_st_entry *e, const char *name, json_t *obj,
                       milnce_error *err) {
    const char *P = st->path;
    if (!json_is_object(obj))
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: tensor %s: header entry is not an object", P, name);
    json_t *dt = json_object_get(obj, "dtype"), *shape = json_object_get(obj, "shape");
    json_t *offs = json_object_get(obj, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(shape) || !json_is_array(offs))
        return milnce_error_set(err, MILNCE_ERR_FORMAT,
                                "%s: tensor %s: needs \"dtype\" (string), \"shape\" and \"data_offsets\" (arrays)",
                                P, name);
    if (json_object_size(obj) != 3)
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: tensor %s: unknown keys besides dtype, shape, data_offsets",
                                P, name);
    size_t k;
    for (k = 0; k < NDTYPES; k++)
        if (strcmp(json_string_value(dt), DTYPES[k].name) == 0) break;
    if (k == NDTYPES)
        return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: tensor %s: unsupported dtype \"%.32s\"", P,
                                name, json_string_value(dt));
    e->dtype = DTYPES[k].t;
    size_t nd = json_array_size(shape);
    if (nd > MILNCE_ST_MAX_DIMS)
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: tensor %s: %zu dimensions (at most %d)", P, name,
                                nd, MILNCE_ST_MAX_DIMS);
    e->ndim = (int)nd;
    /* count * dtype size must not overflow: bound it by the data section, which is real. */
    uint64_t count = 1, cap = st->data_size / DTYPES[k].size + 1;
    int zero = 0;
    for (size_t d = 0; d < nd; d++) {
        uint64_t dim;
        if (get_uint(json_array_get(shape, d), INT64_MAX, &dim))
            return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: tensor %s: shape[%zu] is not a non-negative integer",
                                    P, name, d);
        e->shape[d] = (int64_t)dim;
        if (dim == 0) zero = 1;
        else if (!zero) {
            if (count > cap / dim)
                return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: tensor %s: shape larger than the file", P, name);
            count *= dim;
        }
    }
    if (zero) count = 0;
    e->count = (size_t)count;
    uint64_t b, en;
    if (json_array_size(offs) != 2 || get_uint(json_array_get(offs, 0), UINT64_MAX >> 1, &b) ||
        get_uint(json_array_get(offs, 1), UINT64_MAX >> 1, &en))
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: tensor %s: data_offsets must be two non-negative integers",
                                P, name);
    if (b > en || en > st->data_size)
        return milnce_error_set(err, MILNCE_ERR_FORMAT,
                                "%s: tensor %s: data_offsets [%llu, %llu] outside the data section (%zu bytes)", P,
                                name, (unsigned long long)b, (unsigned long long)en, st->data_size);
    if (en - b != count * DTYPES[k].size)
        return milnce_error_set(err, MILNCE_ERR_FORMAT,
                                "%s: tensor %s: data_offsets span %llu bytes, shape and dtype %s need %llu", P, name,
                                (unsigned long long)(en - b), DTYPES[k].name,
                                (unsigned long long)(count * DTYPES[k].size));
    e->begin = (size_t)b;
    e->end = (size_t)en;
    return 0;
}

static int parse_owned(milnce_safetensors *st, milnce_error *err) {
    const char *P = st->path;
    int ret = 0;
    json_t *root = NULL;
    milnce_st_entry **order = NULL;
    if (st->size < 8) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT,
                               "%s: not a safetensors file: %zu bytes, too short for the 8-byte header length", P,
                               st->size);
        goto fail;
    }
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | st->buf[i];
    if (hl > st->size - 8) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT,
                               "%s: header length %llu goes beyond the end of the file (%zu bytes): truncated or "
                               "not a safetensors file",
                               P, (unsigned long long)hl, st->size);
        goto fail;
    }
    if (hl > MILNCE_ST_MAX_HEADER) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: header of %llu bytes exceeds the %u-byte limit", P,
                               (unsigned long long)hl, MILNCE_ST_MAX_HEADER);
        goto fail;
    }
    if (hl < 2 || st->buf[8] != '{') {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT,
                               "%s: not a safetensors file (the header does not start with '{')", P);
        goto fail;
    }
    st->data = st->buf + 8 + hl;
    st->data_size = st->size - 8 - (size_t)hl;
    json_error_t je;
    root = json_loadb((const char *)st->buf + 8, (size_t)hl, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(root)) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: bad JSON header (byte %d): %s", P,
                               root ? 0 : je.position, root ? "not an object" : je.text);
        goto fail;
    }
    size_t nkeys = json_object_size(root);
    st->e = calloc(nkeys ? nkeys : 1, sizeof *st->e);
    if (!st->e) goto nomem;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(val)) {
                ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: __metadata__ is not an object", P);
                goto fail;
            }
            st->meta = calloc(json_object_size(val) + 1, sizeof *st->meta);
            if (!st->meta) goto nomem;
            const char *mk;
            json_t *mv;
            json_object_foreach(val, mk, mv) {
                if (!json_is_string(mv)) {
                    ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: __metadata__ value of \"%.64s\" is not a string",
                                           P, mk);
                    goto fail;
                }
                milnce_st_meta *m = &st->meta[st->nmeta];
                m->key = strdup(mk);
                m->value = strdup(json_string_value(mv));
                st->nmeta++;
                if (!m->key || !m->value) goto nomem;
            }
            continue;
        }
        milnce_st_entry *e = &st->e[st->n];
        if (!(e->name = strdup(key))) goto nomem;
        st->n++;
        if ((ret = parse_entry(st, e, key, val, err)) < 0) goto fail;
    }
    /* Overlap: sorted by begin, each tensor must start at or after the previous one's end. */
    order = malloc(sizeof *order * (st->n ? st->n : 1));
    if (!order) goto nomem;
    for (int i = 0; i < st->n; i++) order[i] = &st->e[i];
    qsort(order, st->n, sizeof *order, cmp_by_begin);
    for (int i = 1; i < st->n; i++)
        if (order[i]->begin < order[i - 1]->end) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: tensors %s [%zu, %zu) and %s [%zu, %zu) overlap", P,
                                   order[i - 1]->name, order[i - 1]->begin, order[i - 1]->end, order[i]->name,
                                   order[i]->begin, order[i]->end);
            goto fail;
        }
    free(order);
    json_decref(root);
    return 0;
nomem:
    ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: header tables", P);
fail:
    free(order);
    json_decref(root);
    milnce_safetensors_close(st);
    return ret;
}

int milnce_safetensors_parse(milnce_safetensors *st, const void *buf, size_t n, const char *name,
                             milnce_error *err) {
    memset(st, 0, sizeof *st);
    snprintf(st->path, sizeof st->path, "%s", name ? name : "(memory)");
    st->buf = malloc(n ? n : 1);
    if (!st->buf) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: %zu bytes", st->path, n);
    if (n) memcpy(st->buf, buf, n);
    st->size = n;
    return parse_owned(st, err);
}

int milnce_safetensors_open(milnce_safetensors *st, const char *path, milnce_error *err) {
    memset(st, 0, sizeof *st);
    snprintf(st->path, sizeof st->path, "%s", path);
    FILE *f = fopen(path, "rb");
    if (!f) return milnce_error_set(err, errno == ENOENT ? MILNCE_ERR_NOTFOUND : MILNCE_ERR_IO, "%s: %s", path,
                                    strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return milnce_error_set(err, MILNCE_ERR_IO, "%s: not a regular file", path);
    }
    size_t n = (size_t)sb.st_size;
    st->buf = malloc(n ? n : 1);
    if (!st->buf) {
        fclose(f);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: %zu bytes", path, n);
    }
    if (fread(st->buf, 1, n, f) != n) {
        fclose(f);
        free(st->buf);
        st->buf = NULL;
        return milnce_error_set(err, MILNCE_ERR_IO, "%s: short read", path);
    }
    fclose(f);
    st->size = n;
    return parse_owned(st, err);
}

int milnce_safetensors_find(const milnce_safetensors *st, const char *name) {
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->e[i].name, name) == 0) return i;
    return -1;
}

const char *milnce_safetensors_meta(const milnce_safetensors *st, const char *key) {
    for (int i = 0; i < st->nmeta; i++)
        if (strcmp(st->meta[i].key, key) == 0) return st->meta[i].value;
    return NULL;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) bits = sign | 0x7f800000u | (man << 13); /* inf / nan */
    else if (exp) bits = sign | ((exp + 112) << 23) | (man << 13);
    else if (!man) bits = sign;
    else { /* subnormal: normalise */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

int milnce_safetensors_get_f32(const milnce_safetensors *st, int i, float *dst, milnce_error *err) {
    const milnce_st_entry *e = &st->e[i];
    const uint8_t *src = st->data + e->begin;
    switch (e->dtype) {
    case MILNCE_ST_F32: memcpy(dst, src, e->count * 4); return 0;
    case MILNCE_ST_F64:
        for (size_t k = 0; k < e->count; k++) {
            double d;
            memcpy(&d, src + 8 * k, 8);
            dst[k] = (float)d;
        }
        return 0;
    case MILNCE_ST_F16:
        for (size_t k = 0; k < e->count; k++) dst[k] = half_to_float((uint16_t)(src[2 * k] | src[2 * k + 1] << 8));
        return 0;
    case MILNCE_ST_BF16:
        for (size_t k = 0; k < e->count; k++) {
            uint32_t bits = (uint32_t)(src[2 * k] | src[2 * k + 1] << 8) << 16;
            memcpy(&dst[k], &bits, 4);
        }
        return 0;
    default:
        return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: tensor %s has dtype %s; a float tensor is needed",
                                st->path, e->name, milnce_st_dtype_name(e->dtype));
    }
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t at = (size_t)snprintf(buf, n, "(");
    for (int d = 0; d < ndim && at < n; d++)
        at += (size_t)snprintf(buf + at, n - at, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (at < n) snprintf(buf + at, n - at, ")");
}

static int full_name(char *out, size_t n, const milnce_st_group *g, const char *name) {
    int w = snprintf(out, n, "%s%s", g->prefix ? g->prefix : "", name);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

int milnce_safetensors_load(const milnce_safetensors *st, const milnce_st_group *groups, int ngroups,
                            const milnce_st_load_opts *opts, milnce_error *err) {
    static const milnce_st_load_opts none = {0};
    if (!opts) opts = &none;
    const char *P = st->path;
    int ret = 0, nmissing = 0;
    char first_missing[2 * MILNCE_NAME_MAX] = "";
    int *src = NULL; /* file entry of each table tensor, group after group (-1: missing) */
    char *used = calloc(st->n ? st->n : 1, 1);
    size_t total = 0;
    for (int g = 0; g < ngroups; g++) total += groups[g].tab->n;
    src = malloc(sizeof *src * (total ? total : 1));
    if (!used || !src) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: load tables", P);
        goto end;
    }
    /* Pass 1: match and check everything. */
    size_t at = 0;
    for (int g = 0; g < ngroups; g++) {
        const milnce_param_table *tab = groups[g].tab;
        for (size_t t = 0; t < tab->n; t++, at++) {
            char name[2 * MILNCE_NAME_MAX];
            if (full_name(name, sizeof name, &groups[g], tab->t[t].name)) {
                ret = milnce_error_set(err, MILNCE_ERR_INVALID, "tensor name too long: %s", tab->t[t].name);
                goto end;
            }
            int i = milnce_safetensors_find(st, name);
            src[at] = i;
            if (i < 0) {
                if (!nmissing++) snprintf(first_missing, sizeof first_missing, "%s", name);
                continue;
            }
            const milnce_st_entry *e = &st->e[i];
            used[i] = 1;
            int same = e->ndim == tab->t[t].ndim;
            for (int d = 0; same && d < e->ndim; d++) same = e->shape[d] == tab->t[t].shape[d];
            if (!same) {
                char a[128], b[128];
                shape_str(a, sizeof a, e->ndim, e->shape);
                shape_str(b, sizeof b, tab->t[t].ndim, tab->t[t].shape);
                ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: tensor %s has shape %s, the model expects %s", P,
                                       name, a, b);
                goto end;
            }
            if (!is_float(e->dtype)) {
                ret = milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: tensor %s has dtype %s, expected F32", P,
                                       name, milnce_st_dtype_name(e->dtype));
                goto end;
            }
        }
    }
    if (nmissing && !opts->allow_missing) {
        ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: missing tensor %s%s", P, first_missing,
                               nmissing > 1 ? " (and others)" : "");
        if (nmissing > 1) milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: missing tensor %s (and %d more)", P,
                                           first_missing, nmissing - 1);
        goto end;
    }
    const size_t ig = opts->ignore_prefix ? strlen(opts->ignore_prefix) : 0;
    for (int i = 0; i < st->n; i++) {
        if (used[i]) continue;
        const milnce_st_entry *e = &st->e[i];
        if (ig && strncmp(e->name, opts->ignore_prefix, ig) == 0) continue;
        if (!is_float(e->dtype)) {
            milnce_log(opts->log, MILNCE_LOG_INFO, "%s: skipping %s tensor %s (not a model parameter)", P,
                       milnce_st_dtype_name(e->dtype), e->name);
            continue;
        }
        if (!opts->allow_unexpected) {
            ret = milnce_error_set(err, MILNCE_ERR_INVALID, "%s: unexpected tensor %s (not in the model)", P, e->name);
            goto end;
        }
        milnce_log(opts->log, MILNCE_LOG_WARN, "%s: ignoring tensor %s (not in the model)", P, e->name);
    }
    /* Pass 2: copy. */
    at = 0;
    for (int g = 0; g < ngroups; g++) {
        const milnce_param_table *tab = groups[g].tab;
        for (size_t t = 0; t < tab->n; t++, at++)
            if (src[at] >= 0 &&
                (ret = milnce_safetensors_get_f32(st, src[at], groups[g].block + tab->t[t].offset, err)) < 0)
                goto end;
    }
end:
    free(used);
    free(src);
    return ret;
}

int milnce_safetensors_write(const char *path, const milnce_st_group *groups, int ngroups,
                             const milnce_st_meta *meta, int nmeta, milnce_error *err) {
    int ret = 0;
    char *hdr = NULL;
    json_t *root = json_object(), *md = NULL;
    milnce_atomic_file af;
    int af_open = 0;
    if (!root) goto nomem;
    if (nmeta > 0) {
        if (!(md = json_object()) || json_object_set_new(root, "__metadata__", md)) goto nomem;
        for (int i = 0; i < nmeta; i++)
            if (json_object_set_new(md, meta[i].key, json_string(meta[i].value ? meta[i].value : ""))) {
                ret = milnce_error_set(err, MILNCE_ERR_INVALID, "%s: metadata %s: value is not UTF-8", path,
                                       meta[i].key);
                goto end;
            }
    }
    size_t off = 0;
    for (int g = 0; g < ngroups; g++) {
        const milnce_param_table *tab = groups[g].tab;
        for (size_t t = 0; t < tab->n; t++) {
            const milnce_tensor_desc *d = &tab->t[t];
            char name[2 * MILNCE_NAME_MAX];
            if (full_name(name, sizeof name, &groups[g], d->name) || strcmp(name, "__metadata__") == 0) {
                ret = milnce_error_set(err, MILNCE_ERR_INVALID, "%s: bad tensor name %s", path, d->name);
                goto end;
            }
            if (json_object_get(root, name)) {
                ret = milnce_error_set(err, MILNCE_ERR_INVALID, "%s: tensor %s written twice", path, name);
                goto end;
            }
            json_t *e = json_object(), *shape = json_array(), *offs = json_array();
            if (!e || !shape || !offs) {
                json_decref(e);
                json_decref(shape);
                json_decref(offs);
                goto nomem;
            }
            for (int k = 0; k < d->ndim; k++) json_array_append_new(shape, json_integer(d->shape[k]));
            json_array_append_new(offs, json_integer((json_int_t)off));
            off += d->count * sizeof(float);
            json_array_append_new(offs, json_integer((json_int_t)off));
            json_object_set_new(e, "dtype", json_string("F32"));
            json_object_set_new(e, "shape", shape);
            json_object_set_new(e, "data_offsets", offs);
            if (json_object_set_new(root, name, e)) goto nomem;
        }
    }
    hdr = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!hdr) goto nomem;
    /* Pad the header with spaces so the data section starts 8-byte aligned (as the reference
     * writer does), letting readers map F32/F64 data in place. */
    size_t hl = strlen(hdr), padded = (8 + hl + 7) / 8 * 8 - 8;
    char *h2 = realloc(hdr, padded + 1);
    if (!h2) goto nomem;
    hdr = h2;
    memset(hdr + hl, ' ', padded - hl);
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    if ((ret = milnce_atomic_open(&af, path, err)) < 0) goto end;
    af_open = 1;
    if ((ret = milnce_atomic_write(&af, len8, 8, err)) < 0 || (ret = milnce_atomic_write(&af, hdr, padded, err)) < 0)
        goto end;
    for (int g = 0; g < ngroups; g++) {
        const milnce_param_table *tab = groups[g].tab;
        for (size_t t = 0; t < tab->n; t++)
            if ((ret = milnce_atomic_write(&af, groups[g].block + tab->t[t].offset, tab->t[t].count * sizeof(float),
                                           err)) < 0)
                goto end;
    }
    af_open = 0;
    ret = milnce_atomic_commit(&af, err);
    goto end;
nomem:
    ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: safetensors header", path);
end:
    if (af_open) milnce_atomic_abort(&af);
    free(hdr);
    json_decref(root);
    return ret;
}
