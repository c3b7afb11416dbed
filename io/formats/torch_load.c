#include "torch_load.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zip_read.h"

/* torch/serialization.py: MAGIC_NUMBER = 0x1950a86a20f9469cfc6c, PROTOCOL_VERSION = 1001 */
static const uint8_t LEGACY_MAGIC[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
#define LEGACY_PROTOCOL 1001

/* Where the bytes of the storage with a given key are. */
typedef struct storage_bytes {
    const char *key;
    const uint8_t *data;
    size_t bytes;
} storage_bytes;

typedef struct loader {
    const char *path;
    const uint8_t *buf;
    size_t n;
    milnce_zip zip;
    char prefix[512];     /* zip: "<archive>/" */
    storage_bytes *sb;    /* legacy: (nsb) */
    size_t nsb;
    milnce_error *err;
} loader;

static int read_all(const char *path, uint8_t **out, size_t *n, milnce_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return milnce_error_set(err, errno == ENOENT ? MILNCE_ERR_NOTFOUND : MILNCE_ERR_IO, "%s: %s", path, strerror(errno));
    uint8_t *b = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + (1u << 20) > cap) {
            size_t c = cap ? 2 * cap : (8u << 20);
            uint8_t *nb = realloc(b, c);
            if (!nb) { free(b); fclose(f); return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: %zu bytes", path, c); }
            b = nb;
            cap = c;
        }
        size_t r = fread(b + len, 1, cap - len, f);
        len += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(b); return milnce_error_set(err, MILNCE_ERR_IO, "%s: read error", path); }
    *out = b;
    *n = len;
    return 0;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
    if (e == 0) {
        if (!m) bits = sign;
        else { /* subnormal: value m * 2^-24 */
            float x = ldexpf((float)m, -24);
            return sign ? -x : x;
        }
    } else if (e == 31) bits = sign | 0x7f800000u | (m << 13);
    else bits = sign | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static float to_float(const uint8_t *p, milnce_torch_dtype t) {
    switch (t) {
    case MILNCE_TORCH_F32: { float f; memcpy(&f, p, 4); return f; }
    case MILNCE_TORCH_F64: { double d; memcpy(&d, p, 8); return (float)d; }
    case MILNCE_TORCH_F16: { uint16_t h; memcpy(&h, p, 2); return half_to_float(h); }
    case MILNCE_TORCH_BF16: { uint16_t h; memcpy(&h, p, 2); uint32_t b = (uint32_t)h << 16; float f; memcpy(&f, &b, 4); return f; }
    default: return 0;
    }
}

static int is_float(milnce_torch_dtype t) { return t <= MILNCE_TORCH_BF16; }

/* Bytes of a storage key. */
static int find_storage(loader *L, const milnce_pk *st, const uint8_t **data, size_t *bytes) {
    if (L->zip.n) {
        char name[1200];
        snprintf(name, sizeof name, "%sdata/%s", L->prefix, st->s);
        const milnce_zip_member *m = milnce_zip_find(&L->zip, name);
        if (!m) return milnce_error_set(L->err, MILNCE_ERR_FORMAT, "%s: storage %s: no zip member %s", L->path, st->s, name);
        *data = m->data;
        *bytes = m->size;
        return 0;
    }
    for (size_t i = 0; i < L->nsb; i++)
        if (strcmp(L->sb[i].key, st->s) == 0) {
            *data = L->sb[i].data;
            *bytes = L->sb[i].bytes;
            return 0;
        }
    return milnce_error_set(L->err, MILNCE_ERR_FORMAT, "%s: storage %s is not in the file's storage list", L->path, st->s);
}

/* Copies tensor x into out (name given), checking that it lies inside its storage. */
static int copy_tensor(loader *L, const milnce_pk *x, const char *name, milnce_torch_tensor *out) {
    const milnce_pk *st = x->storage;
    size_t es = milnce_torch_dtype_size(st->dtype);
    const uint8_t *data;
    size_t bytes;
    int ret = find_storage(L, st, &data, &bytes);
    if (ret < 0) return ret;
    if ((uint64_t)st->i > bytes / es)
        return milnce_error_set(L->err, MILNCE_ERR_FORMAT, "%s: tensor %s: its storage should hold %lld values of %zu bytes, the file has %zu bytes (truncated?)",
                                L->path, name, (long long)st->i, es, bytes);
    uint64_t count = 1, last = (uint64_t)x->offset;
    for (int d = 0; d < x->ndim; d++) {
        if (x->shape[d] > ((int64_t)1 << 40) || (x->shape[d] && count > ((uint64_t)1 << 40) / (uint64_t)x->shape[d]))
            return milnce_error_set(L->err, MILNCE_ERR_FORMAT, "%s: tensor %s: shape too large", L->path, name);
        count *= (uint64_t)x->shape[d];
        if (x->shape[d] && x->stride[d] > ((int64_t)1 << 40))
            return milnce_error_set(L->err, MILNCE_ERR_FORMAT, "%s: tensor %s: stride too large", L->path, name);
        if (x->shape[d]) last += (uint64_t)(x->shape[d] - 1) * (uint64_t)x->stride[d];
    }
    if (count && last >= (uint64_t)st->i)
        return milnce_error_set(L->err, MILNCE_ERR_FORMAT, "%s: tensor %s reaches element %llu of a storage of %lld", L->path, name,
                                (unsigned long long)last, (long long)st->i);
    memset(out, 0, sizeof *out);
    out->dtype = st->dtype;
    out->ndim = x->ndim;
    memcpy(out->shape, x->shape, sizeof out->shape);
    out->count = (size_t)count;
    if (!(out->name = strdup(name))) return milnce_error_set(L->err, MILNCE_ERR_NOMEM, "%s", L->path);
    if (!is_float(st->dtype)) return 0;
    if (!(out->data = malloc((count ? count : 1) * sizeof *out->data)))
        return milnce_error_set(L->err, MILNCE_ERR_NOMEM, "%s: tensor %s of %llu values", L->path, name, (unsigned long long)count);
    int64_t idx[MILNCE_PK_MAX_DIMS] = {0};
    for (uint64_t k = 0; k < count; k++) {
        uint64_t src = (uint64_t)x->offset;
        for (int d = 0; d < x->ndim; d++) src += (uint64_t)idx[d] * (uint64_t)x->stride[d];
        out->data[k] = to_float(data + src * es, st->dtype);
        for (int d = x->ndim - 1; d >= 0; d--) {
            if (++idx[d] < x->shape[d]) break;
            idx[d] = 0;
        }
    }
    return 0;
}

/* The legacy format: magic, protocol, sys info pickles; then the object (returned in obj, its
 * pickle in *pk); then the key list and the storages' bytes. */
static int legacy_open(loader *L, milnce_pickle *pk, milnce_error *err) {
    milnce_pickle p;
    size_t pos = 0, used;
    int ret = milnce_pickle_load(&p, L->buf, L->n, &used, L->path, err);
    int magic = ret == 0 && p.root->kind == MILNCE_PK_BIGINT && p.root->len == 10 && memcmp(p.root->s, LEGACY_MAGIC, 10) == 0;
    if (ret == 0) milnce_pickle_free(&p);
    if (!magic)
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: not a PyTorch file (neither a zip archive nor the legacy torch.save magic number)", L->path);
    pos += used;
    if ((ret = milnce_pickle_load(&p, L->buf + pos, L->n - pos, &used, L->path, err)) < 0) return milnce_error_prefix(err, "legacy protocol version");
    int ok = p.root->kind == MILNCE_PK_INT && p.root->i == LEGACY_PROTOCOL;
    milnce_pickle_free(&p);
    if (!ok) return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: legacy torch.save protocol is not %d", L->path, LEGACY_PROTOCOL);
    pos += used;
    if ((ret = milnce_pickle_load(&p, L->buf + pos, L->n - pos, &used, L->path, err)) < 0) return milnce_error_prefix(err, "legacy system info");
    const milnce_pk *le = milnce_pk_get(p.root, "little_endian");
    ok = le && le->kind == MILNCE_PK_BOOL && le->i == 1;
    milnce_pickle_free(&p);
    if (!ok) return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: saved on a big-endian machine (not supported)", L->path);
    pos += used;
    if ((ret = milnce_pickle_load(pk, L->buf + pos, L->n - pos, &used, L->path, err)) < 0) return ret;
    pos += used;
    milnce_pickle keys;
    if ((ret = milnce_pickle_load(&keys, L->buf + pos, L->n - pos, &used, L->path, err)) < 0)
        return milnce_error_prefix(err, "storage key list (truncated file?)");
    pos += used;
    if (keys.root->kind != MILNCE_PK_LIST) {
        milnce_pickle_free(&keys);
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: the storage key list is not a list", L->path);
    }
    L->sb = calloc(keys.root->n ? keys.root->n : 1, sizeof *L->sb);
    if (!L->sb) { milnce_pickle_free(&keys); return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s", L->path); }
    for (size_t i = 0; i < keys.root->n; i++) {
        const milnce_pk *k = keys.root->items[i];
        if (k->kind != MILNCE_PK_STR) { ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: storage key %zu is not a string", L->path, i); break; }
        /* the element size comes from the object's reference to this storage */
        const milnce_pk *st = NULL;
        for (size_t a = 0; a < pk->narena && !st; a++)
            if (pk->arena[a]->kind == MILNCE_PK_STORAGE && strcmp(pk->arena[a]->s, k->s) == 0) st = pk->arena[a];
        if (!st) { ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: storage %s is listed but never used", L->path, k->s); break; }
        if (L->n - pos < 8) { ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: storage %s: file ends before its size (truncated)", L->path, k->s); break; }
        uint64_t count = 0;
        for (int b = 7; b >= 0; b--) count = count << 8 | L->buf[pos + (size_t)b];
        pos += 8;
        size_t es = milnce_torch_dtype_size(st->dtype);
        if (count != (uint64_t)st->i || count > (L->n - pos) / es) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: storage %s: %llu values of %zu bytes at byte %zu %s", L->path, k->s,
                                   (unsigned long long)count, es, pos,
                                   count != (uint64_t)st->i ? "disagree with the pickle's size" : "run past the end of the file (truncated)");
            break;
        }
        /* the key string is kept alive by the object pickle's storage value */
        L->sb[L->nsb++] = (storage_bytes){st->s, L->buf + pos, (size_t)count * es};
        pos += (size_t)count * es;
    }
    milnce_pickle_free(&keys);
    return ret;
}

static int zip_open(loader *L, milnce_pickle *pk, milnce_error *err) {
    int ret = milnce_zip_open(&L->zip, L->buf, L->n, L->path, err);
    if (ret < 0) return ret;
    const milnce_zip_member *pkl = NULL;
    for (size_t i = 0; i < L->zip.n; i++) {
        const char *nm = L->zip.m[i].name, *slash = strrchr(nm, '/');
        if (slash && slash == strchr(nm, '/') && strcmp(slash, "/data.pkl") == 0) { /* "<archive>/data.pkl" */
            if (pkl) return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: two data.pkl members (%s, %s)", L->path, pkl->name, nm);
            pkl = &L->zip.m[i];
        }
    }
    if (!pkl) return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: a zip archive without <name>/data.pkl: not a torch.save file", L->path);
    size_t plen = (size_t)(strrchr(pkl->name, '/') - pkl->name) + 1;
    if (plen >= sizeof L->prefix) return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: archive name too long", L->path);
    memcpy(L->prefix, pkl->name, plen);
    L->prefix[plen] = '\0';
    char bo[600];
    snprintf(bo, sizeof bo, "%sbyteorder", L->prefix);
    const milnce_zip_member *m = milnce_zip_find(&L->zip, bo);
    if (m && !(m->size == 6 && memcmp(m->data, "little", 6) == 0))
        return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: saved with byte order %.*s (only little-endian is supported)", L->path,
                                (int)(m->size < 16 ? m->size : 16), (const char *)m->data);
    size_t used;
    char nm[1200];
    snprintf(nm, sizeof nm, "%s: %s", L->path, pkl->name);
    return milnce_pickle_load(pk, pkl->data, pkl->size, &used, nm, err);
}

static int add_tensor(loader *L, milnce_torch_file *f, const milnce_pk *x, const char *name) {
    if (f->n % 64 == 0) {
        milnce_torch_tensor *t = realloc(f->t, (f->n + 64) * sizeof *t);
        if (!t) return milnce_error_set(L->err, MILNCE_ERR_NOMEM, "%s", L->path);
        f->t = t;
    }
    if (strncmp(name, "module.", 7) == 0) name += 7;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0)
            return milnce_error_set(L->err, MILNCE_ERR_FORMAT, "%s: tensor %s twice (with and without \"module.\")", L->path, name);
    int ret = copy_tensor(L, x, name, &f->t[f->n]);
    if (ret < 0) return ret;
    f->n++;
    return 0;
}

int milnce_torch_load(milnce_torch_file *f, const char *path, milnce_error *err) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    uint8_t *buf = NULL;
    size_t n = 0;
    int ret = read_all(path, &buf, &n, err);
    if (ret < 0) return ret;
    loader L = {.path = path, .buf = buf, .n = n, .err = err};
    milnce_pickle pk = {0};
    f->legacy = !milnce_zip_is_zip(buf, n);
    if ((ret = f->legacy ? legacy_open(&L, &pk, err) : zip_open(&L, &pk, err)) < 0) goto end;
    const milnce_pk *root = pk.root;
    if (root->kind == MILNCE_PK_TENSOR) {
        ret = add_tensor(&L, f, root, "");
        goto end;
    }
    if (root->kind != MILNCE_PK_DICT) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: holds neither a state_dict nor a tensor", path);
        goto end;
    }
    static const char *const WRAP[] = {"state_dict", "model", "model_state_dict"};
    for (size_t w = 0; w < 3; w++) {
        const milnce_pk *sd = milnce_pk_get(root, WRAP[w]);
        if (sd && sd->kind == MILNCE_PK_DICT) {
            f->skipped += root->n / 2 - 1; /* the checkpoint's other entries (epoch, optimizer, ...) */
            root = sd;
            snprintf(f->container, sizeof f->container, "%s", WRAP[w]);
            break;
        }
    }
    for (size_t i = 0; i + 1 < root->n; i += 2) {
        const milnce_pk *k = root->items[i], *x = root->items[i + 1];
        if (k->kind != MILNCE_PK_STR || x->kind != MILNCE_PK_TENSOR) {
            f->skipped++;
            continue;
        }
        if ((ret = add_tensor(&L, f, x, k->s)) < 0) goto end;
    }
    if (f->n == 0) ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: no tensor in the saved dict", path);
end:
    milnce_pickle_free(&pk);
    milnce_zip_close(&L.zip);
    free(L.sb);
    free(buf);
    if (ret < 0) milnce_torch_free(f);
    return ret;
}

const milnce_torch_tensor *milnce_torch_find(const milnce_torch_file *f, const char *name) {
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
    return NULL;
}

void milnce_torch_free(milnce_torch_file *f) {
    for (size_t i = 0; i < f->n; i++) {
        free(f->t[i].name);
        free(f->t[i].data);
    }
    free(f->t);
    f->t = NULL;
    f->n = 0;
}
