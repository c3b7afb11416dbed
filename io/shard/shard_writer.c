/* Shard writer: streams samples into "<prefix>-NNNNNN.tar" through an atomic temp file and keeps
 * the index in memory until the shard is complete. Memory: the index only (a streamed member
 * goes to the file as it is written). */
#include "shard.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileutil.h"

#define BLOCK 512
#define USTAR_NAME_MAX 100
#define USTAR_SIZE_MAX 077777777777ULL /* 11 octal digits */

struct milnce_shard_writer {
    milnce_shard_writer_opts o;
    char *prefix;
    int shard;          /* number of the shard being written (or next) */
    int done;           /* shards completed */
    int open;           /* an atomic file is open */
    milnce_atomic_file f;
    uint64_t off;       /* bytes written to the open tar */
    size_t nsamples;    /* samples in the open tar */
    json_t *samples;    /* index entries of the open tar */
    /* The sample being streamed (milnce_shard_writer_begin .. end or cancel). Offsets are bytes
     * of the tar; pos and size count from the member's first data byte. */
    int streaming;
    char st_key[MILNCE_SHARD_KEY_MAX + 1];
    char st_name[MILNCE_SHARD_KEY_MAX + 70];
    uint64_t st_start;  /* where the sample begins (its first header, pax or ustar) */
    uint64_t st_header; /* the member's ustar header, rewritten at end */
    uint64_t st_data;   /* its first data byte */
    uint64_t st_pos, st_size;
};

int milnce_shard_check_key(const char *key, milnce_error *err) {
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > MILNCE_SHARD_KEY_MAX)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "shard key of %zu bytes (1..%d allowed)", n,
                                MILNCE_SHARD_KEY_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c < 0x20 || c == 0x7f || c == '.' || c == '/' || c == '\\')
            return milnce_error_set(err, MILNCE_ERR_INVALID,
                                    "shard key '%.64s' has a forbidden character at byte %zu "
                                    "(no dots, slashes or control characters)", key, i);
    }
    return 0;
}

static int check_ext(const char *key, const char *ext, milnce_error *err) {
    size_t n = ext ? strlen(ext) : 0;
    if (n == 0 || n > 64)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "shard sample '%s': member extension of %zu bytes",
                                key, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)ext[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\' || (c == '.' && (i == 0 || i == n - 1)))
            return milnce_error_set(err, MILNCE_ERR_INVALID, "shard sample '%s': bad member extension '%s'",
                                    key, ext);
    }
    return 0;
}

int milnce_shard_path(char *out, size_t cap, const char *prefix, int n, milnce_error *err) {
    return milnce_path(out, cap, err, "%s-%06d.tar", prefix, n);
}

int milnce_shard_index_path(char *out, size_t cap, const char *prefix, int n, milnce_error *err) {
    return milnce_path(out, cap, err, "%s-%06d.idx.json", prefix, n);
}

int milnce_shard_writer_open(milnce_shard_writer **out, const milnce_shard_writer_opts *o,
                             milnce_error *err) {
    *out = NULL;
    if (!o->prefix || !*o->prefix)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "shard writer: empty prefix");
    if (strlen(o->prefix) > 3900)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "shard writer: prefix too long");
    if (o->first_shard < 0 || o->first_shard > 999999)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "shard writer: first shard %d not in 0..999999",
                                o->first_shard);
    milnce_shard_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->prefix = strdup(o->prefix))) {
        free(w);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "shard writer: out of memory");
    }
    w->o = *o;
    w->o.prefix = w->prefix;
    w->shard = o->first_shard;
    w->f.fd = -1;
    *out = w;
    return 0;
}

/* Octal field of width w (w-1 digits + NUL); 0 when v does not fit. */
static int put_octal(char *field, size_t w, uint64_t v) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%0*llo", (int)(w - 1), (unsigned long long)v);
    if (n < 0 || (size_t)n > w - 1) return 0;
    memcpy(field, tmp, (size_t)n + 1);
    return 1;
}

/* A deterministic ustar header: mode 0644, uid/gid 0, mtime 0, empty user and group names. */
static void ustar_header(unsigned char *h, const char *name, uint64_t size, char type) {
    memset(h, 0, BLOCK);
    size_t nl = strlen(name);
    memcpy(h, name, nl < USTAR_NAME_MAX ? nl : USTAR_NAME_MAX);
    put_octal((char *)h + 100, 8, 0644);
    put_octal((char *)h + 108, 8, 0);
    put_octal((char *)h + 116, 8, 0);
    if (!put_octal((char *)h + 124, 12, size)) { /* base-256 for sizes past 8 GiB (pax says it too) */
        h[124] = 0x80;
        for (int i = 11; i >= 1; i--, size >>= 8) h[124 + i] = (unsigned char)(size & 0xff);
    }
    put_octal((char *)h + 136, 12, 0);
    h[156] = (unsigned char)type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    put_octal((char *)h + 329, 8, 0);
    put_octal((char *)h + 337, 8, 0);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < BLOCK; i++) sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum); /* 6 digits, NUL, then the space left above */
    h[155] = ' ';
}

/* One pax record "<len> key=value\n" where len counts the whole record. */
static size_t pax_record(char *out, size_t cap, const char *key, const char *val) {
    size_t body = strlen(key) + strlen(val) + 3; /* ' ' '=' '\n' */
    size_t len = body + 1;
    for (;;) {
        char d[24];
        size_t total = body + (size_t)snprintf(d, sizeof d, "%zu", len);
        if (total == len) break;
        len = total;
    }
    if (out) snprintf(out, cap, "%zu %s=%s\n", len, key, val);
    return len;
}

static uint64_t padded(uint64_t n) { return (n + BLOCK - 1) / BLOCK * BLOCK; }

static int needs_pax(const char *name, uint64_t size) {
    return strlen(name) > USTAR_NAME_MAX || size > USTAR_SIZE_MAX;
}

static uint64_t pax_size(const char *name, uint64_t size) {
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)size);
    uint64_t n = 0;
    if (strlen(name) > USTAR_NAME_MAX) n += pax_record(NULL, 0, "path", name);
    if (size > USTAR_SIZE_MAX) n += pax_record(NULL, 0, "size", num);
    return n;
}

/* Bytes a member takes in the tar: headers, data and padding. */
static uint64_t member_bytes(const char *name, uint64_t size) {
    uint64_t n = BLOCK + padded(size);
    if (needs_pax(name, size)) n += BLOCK + padded(pax_size(name, size));
    return n;
}

static int put(milnce_shard_writer *w, const void *buf, size_t n, milnce_error *err) {
    int ret = milnce_atomic_write(&w->f, buf, n, err);
    if (ret == 0) w->off += n;
    return ret;
}

static int put_padding(milnce_shard_writer *w, uint64_t n, milnce_error *err) {
    static const unsigned char zeros[BLOCK];
    size_t pad = (size_t)(padded(n) - n);
    return pad ? put(w, zeros, pad, err) : 0;
}

/* The pax extended header (when the name needs one) and the ustar header of a member, as
 * write_member writes them; the data offset is w->off afterwards. */
static int put_headers(milnce_shard_writer *w, const char *name, uint64_t size, milnce_error *err) {
    unsigned char h[BLOCK];
    int ret;
    if (needs_pax(name, size)) {
        char num[24];
        snprintf(num, sizeof num, "%llu", (unsigned long long)size);
        uint64_t psz = pax_size(name, size);
        char *rec = malloc(psz + 1);
        if (!rec) return milnce_error_set(err, MILNCE_ERR_NOMEM, "shard writer: out of memory");
        size_t at = 0;
        if (strlen(name) > USTAR_NAME_MAX) at += pax_record(rec + at, psz + 1 - at, "path", name);
        if (size > USTAR_SIZE_MAX) at += pax_record(rec + at, psz + 1 - at, "size", num);
        ustar_header(h, "././@PaxHeader", psz, 'x');
        if ((ret = put(w, h, BLOCK, err)) < 0 || (ret = put(w, rec, (size_t)psz, err)) < 0 ||
            (ret = put_padding(w, psz, err)) < 0) {
            free(rec);
            return ret;
        }
        free(rec);
    }
    ustar_header(h, name, size, '0');
    return put(w, h, BLOCK, err);
}

static json_t *member_entry(const char *name, uint64_t header_off, uint64_t data_off, uint64_t size) {
    json_t *m = json_object();
    if (!m || json_object_set_new(m, "name", json_string(name)) < 0 ||
        json_object_set_new(m, "header", json_integer((json_int_t)header_off)) < 0 ||
        json_object_set_new(m, "offset", json_integer((json_int_t)data_off)) < 0 ||
        json_object_set_new(m, "size", json_integer((json_int_t)size)) < 0) {
        json_decref(m);
        return NULL;
    }
    return m;
}

static int write_member(milnce_shard_writer *w, const char *name, const void *data, uint64_t size,
                        json_t *members, milnce_error *err) {
    int ret;
    uint64_t header_off = w->off;
    if ((ret = put_headers(w, name, size, err)) < 0) return ret;
    uint64_t data_off = w->off;
    if (size && (ret = put(w, data, (size_t)size, err)) < 0) return ret;
    if ((ret = put_padding(w, size, err)) < 0) return ret;
    json_t *m = member_entry(name, header_off, data_off, size);
    if (!m || json_array_append_new(members, m) < 0)
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "shard writer: out of memory");
    return 0;
}

static int open_shard(milnce_shard_writer *w, milnce_error *err) {
    char path[MILNCE_PATH_MAX];
    if (w->shard > 999999)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "shard writer: more than 1000000 shards");
    int ret = milnce_shard_path(path, sizeof path, w->prefix, w->shard, err);
    if (ret < 0 || (ret = milnce_atomic_open(&w->f, path, err)) < 0) return ret;
    if (!(w->samples = json_array())) {
        milnce_atomic_abort(&w->f);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "shard writer: out of memory");
    }
    w->open = 1;
    w->off = 0;
    w->nsamples = 0;
    return 0;
}

static int finish_shard(milnce_shard_writer *w, milnce_error *err) {
    static const unsigned char zeros[2 * BLOCK];
    char path[MILNCE_PATH_MAX], ipath[MILNCE_PATH_MAX];
    char *text = NULL;
    json_t *idx = NULL;
    int ret;
    if (!w->open) return 0;
    if ((ret = put(w, zeros, sizeof zeros, err)) < 0) goto end; /* end-of-archive marker */
    if ((ret = milnce_shard_path(path, sizeof path, w->prefix, w->shard, err)) < 0 ||
        (ret = milnce_shard_index_path(ipath, sizeof ipath, w->prefix, w->shard, err)) < 0)
        goto end;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    idx = json_pack("{s:s, s:i, s:s, s:I, s:O}", "format", MILNCE_SHARD_INDEX_FORMAT, "version",
                    MILNCE_SHARD_INDEX_VERSION, "tar", base, "tar_size", (json_int_t)w->off,
                    "samples", w->samples);
    if (!idx || !(text = json_dumps(idx, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "shard writer: out of memory");
        goto end;
    }
    w->open = 0;
    if ((ret = milnce_atomic_commit(&w->f, err)) < 0) goto end;
    size_t tl = strlen(text);
    text[tl] = '\n'; /* json_dumps leaves the NUL: reuse it as a final newline, size tl + 1 */
    ret = milnce_write_file_atomic(ipath, text, tl + 1, err);
    if (ret < 0) goto end;
    w->done++;
    w->shard++;
end:
    if (ret < 0 && w->open) milnce_atomic_abort(&w->f);
    w->open = 0;
    json_decref(idx);
    json_decref(w->samples);
    w->samples = NULL;
    free(text);
    return ret;
}

/* Checks a sample's members: extensions valid and distinct (also from `first`, the streamed
 * member's, when not NULL), data present; *bytes = what they take in the tar. */
static int check_members(const char *key, const char *first, const milnce_shard_member *members,
                         size_t n, uint64_t *bytes, milnce_error *err) {
    int ret;
    char name[MILNCE_SHARD_KEY_MAX + 70];
    *bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if ((ret = check_ext(key, members[i].ext, err)) < 0) return ret;
        for (size_t j = 0; j <= i; j++) {
            const char *other = j < i ? members[j].ext : first;
            if (other && strcmp(members[i].ext, other) == 0)
                return milnce_error_set(err, MILNCE_ERR_INVALID, "shard sample '%s': member '%s' twice",
                                        key, members[i].ext);
        }
        if (members[i].size && !members[i].data)
            return milnce_error_set(err, MILNCE_ERR_INVALID, "shard sample '%s': member '%s' has no data",
                                    key, members[i].ext);
        snprintf(name, sizeof name, "%s.%s", key, members[i].ext);
        *bytes += member_bytes(name, members[i].size);
    }
    return 0;
}

/* Finishes the open shard when adding `bytes` more would pass a limit, then makes sure a shard
 * is open. */
static int make_room(milnce_shard_writer *w, uint64_t bytes, milnce_error *err) {
    int ret;
    if (w->open && w->nsamples > 0 &&
        ((w->o.max_samples && w->nsamples >= w->o.max_samples) ||
         (w->o.max_bytes && w->off + bytes + 2 * BLOCK > w->o.max_bytes)))
        if ((ret = finish_shard(w, err)) < 0) return ret;
    if (!w->open && (ret = open_shard(w, err)) < 0) return ret;
    return 0;
}

/* Drops the shard being written: the tar no longer matches the index. */
static void drop_shard(milnce_shard_writer *w) {
    if (w->open) milnce_atomic_abort(&w->f);
    w->open = 0;
    w->streaming = 0;
    json_decref(w->samples);
    w->samples = NULL;
}

/* Writes members into ms (a sample's "members" array). */
static int write_members(milnce_shard_writer *w, const char *key, const milnce_shard_member *members,
                         size_t n, json_t *ms, milnce_error *err) {
    char name[MILNCE_SHARD_KEY_MAX + 70];
    int ret;
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%s.%s", key, members[i].ext);
        if ((ret = write_member(w, name, members[i].data, members[i].size, ms, err)) < 0) return ret;
    }
    return 0;
}

static int not_streaming(const milnce_shard_writer *w, const char *what, milnce_error *err) {
    if (!w->streaming) return 0;
    return milnce_error_set(err, MILNCE_ERR_INVALID, "shard writer: %s while sample '%s' is being streamed",
                            what, w->st_key);
}

int milnce_shard_writer_add(milnce_shard_writer *w, const char *key,
                            const milnce_shard_member *members, size_t n, milnce_error *err) {
    int ret;
    uint64_t bytes;
    if ((ret = not_streaming(w, "add", err)) < 0) return ret;
    if ((ret = milnce_shard_check_key(key, err)) < 0) return ret;
    if (n == 0) return milnce_error_set(err, MILNCE_ERR_INVALID, "shard sample '%s' has no members", key);
    if ((ret = check_members(key, NULL, members, n, &bytes, err)) < 0) return ret;
    if ((ret = make_room(w, bytes, err)) < 0) return ret;

    json_t *sample = json_object(), *ms = json_array();
    if (!sample || !ms || json_object_set_new(sample, "key", json_string(key)) < 0) {
        json_decref(sample);
        json_decref(ms);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "shard writer: out of memory");
    }
    json_object_set_new(sample, "members", ms);
    if ((ret = write_members(w, key, members, n, ms, err)) < 0) {
        json_decref(sample);
        drop_shard(w);
        return milnce_error_prefix(err, "shard %s-%06d", w->prefix, w->shard);
    }
    if (json_array_append_new(w->samples, sample) < 0)
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "shard writer: out of memory");
    w->nsamples++;
    return 0;
}

/* ---- streamed samples ---- */

int milnce_shard_writer_begin(milnce_shard_writer *w, const char *key, const char *ext,
                              milnce_error *err) {
    int ret;
    if ((ret = not_streaming(w, "begin", err)) < 0) return ret;
    if ((ret = milnce_shard_check_key(key, err)) < 0 || (ret = check_ext(key, ext, err)) < 0) return ret;
    snprintf(w->st_name, sizeof w->st_name, "%s.%s", key, ext);
    /* The size is unknown: count the headers only against max_bytes. */
    if ((ret = make_room(w, member_bytes(w->st_name, 0), err)) < 0) return ret;
    snprintf(w->st_key, sizeof w->st_key, "%s", key);
    w->st_start = w->off;
    if (needs_pax(w->st_name, 0)) {
        if ((ret = put_headers(w, w->st_name, 0, err)) < 0) goto fail;
        w->st_header = w->off - BLOCK; /* the ustar header follows the pax records */
    } else {
        w->st_header = w->off;
        if ((ret = put_headers(w, w->st_name, 0, err)) < 0) goto fail;
    }
    w->st_data = w->off;
    w->st_pos = w->st_size = 0;
    w->streaming = 1;
    return 0;
fail:
    drop_shard(w);
    return milnce_error_prefix(err, "shard %s-%06d", w->prefix, w->shard);
}

int milnce_shard_writer_write(milnce_shard_writer *w, const void *buf, size_t n, milnce_error *err) {
    if (!w->streaming) return milnce_error_set(err, MILNCE_ERR_INVALID, "shard writer: write outside a streamed sample");
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t k = pwrite(w->f.fd, p, n, (off_t)(w->st_data + w->st_pos));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            return milnce_error_set(err, MILNCE_ERR_IO, "%s: writing %s: %s", w->f.tmp, w->st_name,
                                    k < 0 ? strerror(errno) : "no progress");
        p += k;
        n -= (size_t)k;
        w->st_pos += (uint64_t)k;
        if (w->st_pos > w->st_size) w->st_size = w->st_pos;
    }
    return 0;
}

int64_t milnce_shard_writer_seek(milnce_shard_writer *w, int64_t offset, int whence, milnce_error *err) {
    if (!w->streaming) return milnce_error_set(err, MILNCE_ERR_INVALID, "shard writer: seek outside a streamed sample");
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)w->st_pos
                 : whence == SEEK_END ? (int64_t)w->st_size : -1;
    if (base < 0) return milnce_error_set(err, MILNCE_ERR_INVALID, "shard writer: seek whence %d", whence);
    if (offset < -base || offset > (int64_t)USTAR_SIZE_MAX - base)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "shard writer: seek to %lld%+lld in %s is out of range",
                                (long long)base, (long long)offset, w->st_name);
    w->st_pos = (uint64_t)(base + offset);
    return (int64_t)w->st_pos;
}

uint64_t milnce_shard_writer_streamed(const milnce_shard_writer *w) { return w->streaming ? w->st_size : 0; }

int milnce_shard_writer_cancel(milnce_shard_writer *w, milnce_error *err) {
    if (!w->streaming) return 0;
    w->streaming = 0;
    if (w->nsamples == 0) { /* nothing else in the shard: as if it had never been opened */
        drop_shard(w);
        return 0;
    }
    if (ftruncate(w->f.fd, (off_t)w->st_start) < 0 || lseek(w->f.fd, (off_t)w->st_start, SEEK_SET) < 0) {
        int e = errno;
        drop_shard(w);
        return milnce_error_set(err, MILNCE_ERR_IO, "%s: rolling back sample '%s': %s", w->f.tmp, w->st_key,
                                strerror(e));
    }
    w->off = w->st_start;
    return 0;
}

int milnce_shard_writer_end(milnce_shard_writer *w, const milnce_shard_member *rest, size_t n,
                            milnce_error *err) {
    int ret;
    uint64_t bytes;
    json_t *sample = NULL, *ms = NULL;
    unsigned char h[BLOCK];
    if (!w->streaming) return milnce_error_set(err, MILNCE_ERR_INVALID, "shard writer: end outside a streamed sample");
    const char *ext = w->st_name + strlen(w->st_key) + 1;
    if ((ret = check_members(w->st_key, ext, rest, n, &bytes, err)) < 0) goto fail;
    if (w->st_size > USTAR_SIZE_MAX) {
        ret = milnce_error_set(err, MILNCE_ERR_RANGE, "shard writer: streamed member %s of %llu bytes (at most 8 GiB)",
                               w->st_name, (unsigned long long)w->st_size);
        goto fail;
    }
    /* The final header: same bytes as milnce_shard_writer_add writes for this size. */
    ustar_header(h, w->st_name, w->st_size, '0');
    for (size_t done = 0; done < BLOCK;) {
        ssize_t k = pwrite(w->f.fd, h + done, BLOCK - done, (off_t)(w->st_header + done));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            ret = milnce_error_set(err, MILNCE_ERR_IO, "%s: header of %s: %s", w->f.tmp, w->st_name,
                                   k < 0 ? strerror(errno) : "no progress");
            goto fail;
        }
        done += (size_t)k;
    }
    if (lseek(w->f.fd, (off_t)(w->st_data + w->st_size), SEEK_SET) < 0) {
        ret = milnce_error_set(err, MILNCE_ERR_IO, "%s: %s", w->f.tmp, strerror(errno));
        goto fail;
    }
    w->off = w->st_data + w->st_size;
    if ((ret = put_padding(w, w->st_size, err)) < 0) goto fail;
    json_t *m = member_entry(w->st_name, w->st_start, w->st_data, w->st_size);
    if (!(sample = json_object()) || !(ms = json_array()) || !m || json_array_append_new(ms, m) < 0 ||
        json_object_set_new(sample, "key", json_string(w->st_key)) < 0 ||
        json_object_set(sample, "members", ms) < 0) {
        if (!ms) json_decref(m);
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "shard writer: out of memory");
        goto fail;
    }
    if ((ret = write_members(w, w->st_key, rest, n, ms, err)) < 0) goto fail;
    if (json_array_append(w->samples, sample) < 0) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "shard writer: out of memory");
        goto fail;
    }
    json_decref(ms);
    json_decref(sample);
    w->streaming = 0;
    w->nsamples++;
    return 0;
fail:
    json_decref(ms);
    json_decref(sample);
    {
        /* The sample goes; the shard stays usable, unless the rollback itself failed (then the
         * shard was dropped, and the caller must hear it). */
        milnce_error e2 = {0};
        if (milnce_shard_writer_cancel(w, &e2) < 0) {
            milnce_error first = *err;
            milnce_error_set(err, ret, "%s; rolling back: %s", first.msg, e2.msg);
        }
    }
    return ret;
}

int milnce_shard_writer_close(milnce_shard_writer *w, milnce_error *err) {
    int ret = not_streaming(w, "close", err);
    return ret < 0 ? ret : finish_shard(w, err);
}

int milnce_shard_writer_shards(const milnce_shard_writer *w) { return w->done; }
int milnce_shard_writer_next_shard(const milnce_shard_writer *w) { return w->shard; }

void milnce_shard_writer_free(milnce_shard_writer **pw) {
    milnce_shard_writer *w = *pw;
    if (!w) return;
    if (w->open) milnce_atomic_abort(&w->f);
    json_decref(w->samples);
    free(w->prefix);
    free(w);
    *pw = NULL;
}
