#include <dirent.h>
/* Shard reader: the index says where every member is; the tar is mapped read-only and each
 * indexed header is checked once at open, so later accesses are pointer arithmetic. */
#include "shard.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileutil.h"

#define BLOCK 512

typedef struct shard_member {
    char *name;
    uint64_t offset, size;
} shard_member;

typedef struct shard_sample {
    char *key;
    size_t first, n; /* members[first .. first+n) */
} shard_sample;

struct milnce_shard_reader {
    char *path;
    const uint8_t *map; /* (map_size) */
    size_t map_size;
    shard_sample *samples;
    size_t nsamples;
    shard_member *members;
    size_t nmembers;
};

/* ---- tar headers ---- */

/* Parses a numeric header field: octal (NUL/space terminated) or GNU base-256. */
static int parse_num(const unsigned char *f, size_t w, uint64_t *out) {
    uint64_t v = 0;
    if (f[0] & 0x80) {
        if (f[0] != 0x80) return -1; /* negative or > 2^64: refuse */
        for (size_t i = 1; i < w; i++) {
            if (v >> 56) return -1;
            v = (v << 8) | f[i];
        }
        *out = v;
        return 0;
    }
    size_t i = 0;
    while (i < w && f[i] == ' ') i++;
    int digits = 0;
    for (; i < w && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
        if (v >> 60) return -1;
        v = v * 8 + (uint64_t)(f[i] - '0');
    }
    if (i < w && f[i] != 0 && f[i] != ' ') return -1;
    if (!digits) return -1;
    *out = v;
    return 0;
}

static int header_checksum_ok(const unsigned char *h) {
    uint64_t want;
    if (parse_num(h + 148, 8, &want) < 0) return 0;
    unsigned sum = 0;
    for (int i = 0; i < BLOCK; i++) sum += (i >= 148 && i < 156) ? ' ' : h[i];
    return sum == want;
}

static int all_zero(const unsigned char *h) {
    for (int i = 0; i < BLOCK; i++)
        if (h[i]) return 0;
    return 1;
}

static uint64_t padded(uint64_t n) { return (n + BLOCK - 1) / BLOCK * BLOCK; }

/* One tar entry at offset off: pax 'x' / GNU 'L' headers folded into the entry that follows. */
typedef struct tar_entry {
    char name[4096];
    char type;
    uint64_t data_off, size;
    uint64_t next; /* offset of the next header */
} tar_entry;

/* Applies pax records (path, size) from rec[0..n). */
static int apply_pax(const uint8_t *rec, uint64_t n, tar_entry *e, int *have_path, int *have_size) {
    uint64_t i = 0;
    while (i < n) {
        uint64_t len = 0, j = i;
        while (j < n && rec[j] >= '0' && rec[j] <= '9' && len < (1u << 30)) len = len * 10 + (rec[j++] - '0');
        if (j >= n || rec[j] != ' ' || len == 0 || i + len > n || rec[i + len - 1] != '\n') return -1;
        const uint8_t *kv = rec + j + 1, *end = rec + i + len - 1;
        const uint8_t *eq = memchr(kv, '=', (size_t)(end - kv));
        if (!eq) return -1;
        size_t kl = (size_t)(eq - kv), vl = (size_t)(end - eq - 1);
        if (kl == 4 && memcmp(kv, "path", 4) == 0) {
            if (vl >= sizeof e->name) return -1;
            memcpy(e->name, eq + 1, vl);
            e->name[vl] = 0;
            *have_path = 1;
        } else if (kl == 4 && memcmp(kv, "size", 4) == 0) {
            uint64_t v = 0;
            if (vl == 0 || vl > 19) return -1;
            for (size_t k = 0; k < vl; k++) {
                if (eq[1 + k] < '0' || eq[1 + k] > '9') return -1;
                v = v * 10 + (uint64_t)(eq[1 + k] - '0');
            }
            e->size = v;
            *have_size = 1;
        }
        i += len;
    }
    return 0;
}

/* Reads the entry at off. Returns 1 for an entry, 0 at the end-of-archive block, or a negative
 * error with a message naming path and offset. */
static int read_entry(const uint8_t *map, uint64_t size, uint64_t off, const char *path, tar_entry *e,
                      milnce_error *err) {
    int have_path = 0, have_size = 0;
    for (int guard = 0; guard < 8; guard++) {
        if (off + BLOCK > size)
            return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: truncated: header at offset %llu "
                                    "runs past the end of the file (%llu bytes)", path,
                                    (unsigned long long)off, (unsigned long long)size);
        const unsigned char *h = map + off;
        if (all_zero(h)) return 0;
        if (!header_checksum_ok(h))
            return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: bad tar header checksum at offset %llu",
                                    path, (unsigned long long)off);
        uint64_t sz;
        if (parse_num(h + 124, 12, &sz) < 0)
            return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: bad size field at offset %llu", path,
                                    (unsigned long long)off);
        char type = (char)h[156];
        uint64_t data = off + BLOCK;
        if (type == 'x' || type == 'g' || type == 'L') {
            if (sz > size || data + sz > size)
                return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: truncated: extended header at "
                                        "offset %llu", path, (unsigned long long)off);
            if (type == 'x' && apply_pax(map + data, sz, e, &have_path, &have_size) < 0)
                return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: bad pax header at offset %llu",
                                        path, (unsigned long long)off);
            if (type == 'L') {
                uint64_t n = sz;
                while (n > 0 && map[data + n - 1] == 0) n--;
                if (n >= sizeof e->name)
                    return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: long name at offset %llu",
                                            path, (unsigned long long)off);
                memcpy(e->name, map + data, n);
                e->name[n] = 0;
                have_path = 1;
            }
            off = data + padded(sz);
            continue;
        }
        if (!have_path) {
            char name[101], prefix[156];
            memcpy(name, h, 100);
            name[100] = 0;
            memcpy(prefix, h + 345, 155);
            prefix[155] = 0;
            if (memcmp(h + 257, "ustar", 5) == 0 && prefix[0])
                snprintf(e->name, sizeof e->name, "%s/%s", prefix, name);
            else
                snprintf(e->name, sizeof e->name, "%s", name);
        }
        if (!have_size) e->size = sz;
        e->type = type ? type : '0';
        e->data_off = data;
        if (e->size > size || data + e->size > size)
            return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: truncated: member '%s' at offset %llu "
                                    "needs %llu bytes, the file has %llu", path, e->name,
                                    (unsigned long long)data, (unsigned long long)e->size,
                                    (unsigned long long)(size - data));
        e->next = data + padded(e->size);
        return 1;
    }
    return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: too many extended headers at offset %llu",
                            path, (unsigned long long)off);
}

/* ---- mapping ---- */

static int map_file(const char *path, const uint8_t **map, size_t *size, milnce_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return milnce_error_set(err, errno == ENOENT ? MILNCE_ERR_NOTFOUND : MILNCE_ERR_IO, "%s: %s",
                                path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return milnce_error_set(err, MILNCE_ERR_IO, "%s: %s", path, strerror(e));
    }
    *size = (size_t)st.st_size;
    *map = NULL;
    if (*size > 0) {
        void *p = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return milnce_error_set(err, MILNCE_ERR_IO, "%s: mmap: %s", path, strerror(e));
        }
        *map = p;
    }
    close(fd);
    return 0;
}

/* ---- reader ---- */

void milnce_shard_close(milnce_shard_reader **pr) {
    milnce_shard_reader *r = *pr;
    if (!r) return;
    if (r->map) munmap((void *)r->map, r->map_size);
    for (size_t i = 0; i < r->nsamples; i++) free(r->samples[i].key);
    for (size_t i = 0; i < r->nmembers; i++) free(r->members[i].name);
    free(r->samples);
    free(r->members);
    free(r->path);
    free(r);
    *pr = NULL;
}

static int get_u64(json_t *o, const char *k, uint64_t *v) {
    json_t *x = json_object_get(o, k);
    if (!json_is_integer(x) || json_integer_value(x) < 0) return -1;
    *v = (uint64_t)json_integer_value(x);
    return 0;
}

int milnce_shard_open(milnce_shard_reader **out, const char *tar_path, const char *index_path,
                      milnce_error *err) {
    int ret = 0;
    char ipath[4200];
    json_t *idx = NULL;
    json_error_t jerr;
    *out = NULL;
    if (!index_path) {
        size_t n = strlen(tar_path);
        if (n < 4 || strcmp(tar_path + n - 4, ".tar") != 0 || n + 6 > sizeof ipath)
            return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: not a .tar path; give the index path",
                                    tar_path);
        snprintf(ipath, sizeof ipath, "%.*s.idx.json", (int)(n - 4), tar_path);
        index_path = ipath;
    }
    milnce_shard_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(tar_path))) {
        free(r);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "shard: out of memory");
    }
    if (!(idx = json_load_file(index_path, JSON_REJECT_DUPLICATES, &jerr))) {
        ret = milnce_error_set(err, access(index_path, F_OK) == 0 ? MILNCE_ERR_FORMAT : MILNCE_ERR_NOTFOUND,
                               "%s:%d: %s", index_path, jerr.line, jerr.text);
        goto end;
    }
    json_t *fmt = json_object_get(idx, "format"), *ver = json_object_get(idx, "version");
    json_t *samples = json_object_get(idx, "samples");
    uint64_t tar_size;
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), MILNCE_SHARD_INDEX_FORMAT) != 0) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: not a milnce shard index (format key)", index_path);
        goto end;
    }
    if (!json_is_integer(ver) || json_integer_value(ver) != MILNCE_SHARD_INDEX_VERSION) {
        ret = milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: index version %lld, this build reads %d; "
                               "rebuild it with `milnce_shard_reindex`", index_path,
                               json_is_integer(ver) ? (long long)json_integer_value(ver) : -1LL,
                               MILNCE_SHARD_INDEX_VERSION);
        goto end;
    }
    if (!json_is_array(samples) || get_u64(idx, "tar_size", &tar_size) < 0) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: missing samples or tar_size", index_path);
        goto end;
    }
    if ((ret = map_file(tar_path, &r->map, &r->map_size, err)) < 0) goto end;
    if (r->map_size != tar_size) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: %s: the file has %zu bytes, its index %s "
                               "says %llu", tar_path, r->map_size < tar_size ? "truncated" : "size mismatch",
                               r->map_size, index_path, (unsigned long long)tar_size);
        goto end;
    }
    size_t ns = json_array_size(samples), nm = 0;
    for (size_t i = 0; i < ns; i++) nm += json_array_size(json_object_get(json_array_get(samples, i), "members"));
    r->samples = calloc(ns ? ns : 1, sizeof *r->samples);
    r->members = calloc(nm ? nm : 1, sizeof *r->members);
    if (!r->samples || !r->members) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "shard: out of memory");
        goto end;
    }
    uint64_t expect = 0; /* end of the last member: members come in order and never overlap */
    for (size_t i = 0; i < ns; i++) {
        json_t *s = json_array_get(samples, i), *key = json_object_get(s, "key");
        json_t *ms = json_object_get(s, "members");
        if (!json_is_string(key) || !json_is_array(ms) || json_array_size(ms) == 0 ||
            milnce_shard_check_key(json_string_value(key), NULL) < 0) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: sample %zu: bad key or members", index_path, i);
            goto end;
        }
        shard_sample *smp = &r->samples[r->nsamples];
        if (!(smp->key = strdup(json_string_value(key)))) {
            ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "shard: out of memory");
            goto end;
        }
        r->nsamples++;
        smp->first = r->nmembers;
        size_t kl = strlen(smp->key);
        for (size_t j = 0; j < json_array_size(ms); j++) {
            json_t *m = json_array_get(ms, j), *name = json_object_get(m, "name");
            uint64_t hoff, off, size;
            if (!json_is_string(name) || get_u64(m, "header", &hoff) < 0 || get_u64(m, "offset", &off) < 0 ||
                get_u64(m, "size", &size) < 0) {
                ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: sample '%s' member %zu: missing name, "
                                       "header, offset or size", index_path, smp->key, j);
                goto end;
            }
            const char *nm_s = json_string_value(name);
            if (strncmp(nm_s, smp->key, kl) != 0 || nm_s[kl] != '.' || !nm_s[kl + 1]) {
                ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: member '%s' does not belong to key '%s'",
                                       index_path, nm_s, smp->key);
                goto end;
            }
            if (hoff < expect) {
                ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: member '%s' header at %llu overlaps "
                                       "the member before (ends at %llu)", index_path, nm_s,
                                       (unsigned long long)hoff, (unsigned long long)expect);
                goto end;
            }
            tar_entry e;
            memset(&e, 0, sizeof e);
            int k = read_entry(r->map, r->map_size, hoff, tar_path, &e, err);
            if (k < 0) goto fail_entry;
            if (k == 0 || e.type != '0' || strcmp(e.name, nm_s) != 0 || e.data_off != off || e.size != size) {
                ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: index %s disagrees with the tar at "
                                       "offset %llu: index has '%s' (%llu bytes at %llu), tar has '%s' "
                                       "(%llu bytes at %llu)", tar_path, index_path,
                                       (unsigned long long)hoff, nm_s, (unsigned long long)size,
                                       (unsigned long long)off, k ? e.name : "end of archive",
                                       (unsigned long long)e.size, (unsigned long long)e.data_off);
                goto end;
            }
            shard_member *mm = &r->members[r->nmembers];
            if (!(mm->name = strdup(nm_s))) {
                ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "shard: out of memory");
                goto end;
            }
            r->nmembers++;
            mm->offset = off;
            mm->size = size;
            expect = e.next;
            continue;
        fail_entry:
            ret = milnce_error_prefix(err, "index %s, member '%s'", index_path, nm_s);
            goto end;
        }
        smp->n = r->nmembers - smp->first;
    }
    /* After the last member comes the end-of-archive marker (or, in a tar written by another
     * tool, more entries): anything else means a cut or damaged file. */
    {
        tar_entry e;
        memset(&e, 0, sizeof e);
        if ((ret = read_entry(r->map, r->map_size, expect, tar_path, &e, err)) < 0) {
            milnce_error_prefix(err, "after the last indexed member");
            goto end;
        }
        ret = 0;
    }
end:
    json_decref(idx);
    if (ret < 0) {
        milnce_shard_close(&r);
        return ret;
    }
    *out = r;
    return 0;
}

const char *milnce_shard_reader_path(const milnce_shard_reader *r) { return r->path; }

size_t milnce_shard_count(const milnce_shard_reader *r) { return r->nsamples; }

const char *milnce_shard_key(const milnce_shard_reader *r, size_t i) {
    return i < r->nsamples ? r->samples[i].key : NULL;
}

long milnce_shard_find(const milnce_shard_reader *r, const char *key) {
    for (size_t i = 0; i < r->nsamples; i++)
        if (strcmp(r->samples[i].key, key) == 0) return (long)i;
    return -1;
}

size_t milnce_shard_member_count(const milnce_shard_reader *r, size_t i) {
    return i < r->nsamples ? r->samples[i].n : 0;
}

void milnce_shard_member_at(const milnce_shard_reader *r, size_t i, size_t j, const char **name,
                            const uint8_t **data, size_t *size) {
    if (i >= r->nsamples || j >= r->samples[i].n) {
        if (name) *name = NULL;
        if (data) *data = NULL;
        if (size) *size = 0;
        return;
    }
    const shard_member *m = &r->members[r->samples[i].first + j];
    if (name) *name = m->name;
    if (data) *data = r->map ? r->map + m->offset : NULL;
    if (size) *size = (size_t)m->size;
}

int milnce_shard_get(const milnce_shard_reader *r, size_t i, const char *ext, const uint8_t **data,
                     size_t *size, milnce_error *err) {
    if (i >= r->nsamples)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "%s: sample %zu of %zu", r->path, i, r->nsamples);
    const shard_sample *s = &r->samples[i];
    size_t kl = strlen(s->key);
    for (size_t j = 0; j < s->n; j++) {
        const shard_member *m = &r->members[s->first + j];
        if (strcmp(m->name + kl + 1, ext) == 0) {
            *data = r->map + m->offset;
            *size = (size_t)m->size;
            return 0;
        }
    }
    return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: sample '%s' has no '%s' member", r->path,
                            s->key, ext);
}

/* ---- reindex ---- */

int milnce_shard_reindex(const char *tar_path, const char *index_path, milnce_error *err) {
    const uint8_t *map = NULL;
    size_t size = 0;
    json_t *samples = NULL, *idx = NULL, *cur = NULL;
    char *text = NULL, curkey[4096] = "";
    int ret;
    if ((ret = map_file(tar_path, &map, &size, err)) < 0) return ret;
    if (!(samples = json_array())) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "shard: out of memory");
        goto end;
    }
    uint64_t off = 0;
    int ended = 0;
    while (!ended) {
        tar_entry e;
        memset(&e, 0, sizeof e);
        uint64_t hoff = off;
        int k = read_entry(map, size, off, tar_path, &e, err);
        if (k < 0) {
            ret = k;
            goto end;
        }
        if (k == 0) break;
        off = e.next;
        if (e.type != '0') continue; /* folders, links: not sample members */
        const char *base = strrchr(e.name, '/');
        base = base ? base + 1 : e.name;
        const char *dot = strchr(base, '.');
        if (!dot || !dot[1]) continue; /* no extension: not a WebDataset member */
        char key[4096];
        snprintf(key, sizeof key, "%.*s", (int)(dot - e.name), e.name);
        if (!cur || strcmp(key, curkey) != 0) {
            if (milnce_shard_check_key(key, err) < 0) {
                ret = milnce_error_prefix(err, "%s: member '%s' at offset %llu", tar_path, e.name,
                                          (unsigned long long)hoff);
                goto end;
            }
            cur = json_pack("{s:s, s:[]}", "key", key, "members");
            if (!cur || json_array_append_new(samples, cur) < 0) {
                ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "shard: out of memory");
                goto end;
            }
            snprintf(curkey, sizeof curkey, "%s", key);
        }
        json_t *m = json_pack("{s:s, s:I, s:I, s:I}", "name", e.name, "header", (json_int_t)hoff, "offset",
                              (json_int_t)e.data_off, "size", (json_int_t)e.size);
        if (!m || json_array_append_new(json_object_get(cur, "members"), m) < 0) {
            ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "shard: out of memory");
            goto end;
        }
    }
    const char *base = strrchr(tar_path, '/');
    idx = json_pack("{s:s, s:i, s:s, s:I, s:O}", "format", MILNCE_SHARD_INDEX_FORMAT, "version",
                    MILNCE_SHARD_INDEX_VERSION, "tar", base ? base + 1 : tar_path, "tar_size",
                    (json_int_t)size, "samples", samples);
    if (!idx || !(text = json_dumps(idx, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "shard: out of memory");
        goto end;
    }
    size_t tl = strlen(text);
    text[tl] = '\n';
    ret = milnce_write_file_atomic(index_path, text, tl + 1, err);
end:
    if (map) munmap((void *)map, size);
    json_decref(samples);
    json_decref(idx);
    free(text);
    return ret;
}

static int cmp_path(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void milnce_shard_list_free(char **paths, size_t n) {
    for (size_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
}

int milnce_shard_list(const char *path, char ***paths, size_t *n, milnce_error *err) {
    *paths = NULL;
    *n = 0;
    struct stat st;
    if (!path || !*path || stat(path, &st) < 0)
        return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "shards %s: %s", path ? path : "(none)",
                                path && *path ? strerror(errno) : "not given");
    char **names = NULL;
    size_t cnt = 0;
    if (!S_ISDIR(st.st_mode)) {
        if (!(names = malloc(sizeof *names)) || !(names[0] = strdup(path))) {
            free(names);
            return milnce_error_set(err, MILNCE_ERR_NOMEM, "shard list");
        }
        *paths = names;
        *n = 1;
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) return milnce_error_set(err, MILNCE_ERR_IO, "%s: %s", path, strerror(errno));
    struct dirent *de;
    int ret = 0;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".tar") != 0) continue;
        char **nn = realloc(names, (cnt + 1) * sizeof *nn);
        size_t cap = strlen(path) + len + 2;
        if (!nn || !(nn[cnt] = malloc(cap))) {
            names = nn ? nn : names;
            ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "shard list");
            break;
        }
        names = nn;
        snprintf(names[cnt++], cap, "%s/%s", path, de->d_name);
    }
    closedir(d);
    if (ret == 0 && cnt == 0) ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: no .tar shards", path);
    if (ret < 0) {
        milnce_shard_list_free(names, cnt);
        return ret;
    }
    qsort(names, cnt, sizeof *names, cmp_path);
    *paths = names;
    *n = cnt;
    return 0;
}
