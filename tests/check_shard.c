/* Shards: tar + index round trip, determinism, Python tarfile agreement, damaged files;
 * streamed members (written and patched in place, rolled back on failure). */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shard.h"
#include "testutil.h"

static uint64_t fnv1a64(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz + 1);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    return b;
}

static int same_file(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    uint8_t *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* Sample i: "s<i>" with an mp4-like blob of pseudo-random size and a small JSON. */
#define NS 5
static uint8_t *blob(int i, size_t *n) {
    *n = (size_t)(i == 2 ? 0 : 100 + i * 777);
    uint8_t *b = malloc(*n + 1);
    uint32_t s = 12345u + (uint32_t)i;
    for (size_t k = 0; k < *n; k++) {
        s = s * 1664525u + 1013904223u;
        b[k] = (uint8_t)(s >> 24);
    }
    return b;
}

/* Sample i's key (sample 1 too long for a ustar name when long_names: a pax header carries it)
 * and its JSON member. */
static void sample_key(char *key, size_t nkey, char *json, size_t njson, int i, int long_names) {
    if (long_names && i == 1)
        snprintf(key, nkey, "s%d_%s", i,
                 "a_very_long_key_that_does_not_fit_in_the_hundred_bytes_of_a_ustar_name_field_"
                 "so_a_pax_header_carries_it");
    else
        snprintf(key, nkey, "s%d", i);
    snprintf(json, njson, "{\"i\": %d, \"text\": \"sample %d\"}", i, i);
}

static void write_samples(const char *prefix, size_t max_samples, uint64_t max_bytes, int long_names) {
    milnce_error err = {0};
    milnce_shard_writer *w = NULL;
    milnce_shard_writer_opts o = {.prefix = prefix, .max_samples = max_samples, .max_bytes = max_bytes};
    ck_assert_int_eq(milnce_shard_writer_open(&w, &o, &err), 0);
    for (int i = 0; i < NS; i++) {
        size_t n;
        uint8_t *b = blob(i, &n);
        char key[200], json[128];
        sample_key(key, sizeof key, json, sizeof json, i, long_names);
        milnce_shard_member m[2] = {{"mp4", b, n}, {"json", json, strlen(json)}};
        int ret = milnce_shard_writer_add(w, key, m, 2, &err);
        ck_assert_msg(ret == 0, "add %d: %s", i, err.msg);
        free(b);
    }
    ck_assert_msg(milnce_shard_writer_close(w, &err) == 0, "%s", err.msg);
    milnce_shard_writer_free(&w);
}

START_TEST(test_round_trip) {
    char prefix[4200], path[4200];
    snprintf(prefix, sizeof prefix, "%s/train", tu_tmpdir());
    write_samples(prefix, 2, 0, 0); /* 5 samples, 2 per shard: 3 shards */
    milnce_error err = {0};
    int seen = 0;
    for (int s = 0; s < 3; s++) {
        ck_assert_int_eq(milnce_shard_path(path, sizeof path, prefix, s, NULL), 0);
        milnce_shard_reader *r = NULL;
        ck_assert_msg(milnce_shard_open(&r, path, NULL, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(milnce_shard_count(r), s < 2 ? 2 : 1);
        for (size_t i = 0; i < milnce_shard_count(r); i++, seen++) {
            char key[16];
            snprintf(key, sizeof key, "s%d", seen);
            ck_assert_str_eq(milnce_shard_key(r, i), key);
            ck_assert_int_eq(milnce_shard_find(r, key), (long)i);
            ck_assert_uint_eq(milnce_shard_member_count(r, i), 2);
            const char *name;
            const uint8_t *d;
            size_t n, want_n;
            milnce_shard_member_at(r, i, 0, &name, &d, &n);
            char want_name[32];
            snprintf(want_name, sizeof want_name, "s%d.mp4", seen);
            ck_assert_str_eq(name, want_name);
            uint8_t *want = blob(seen, &want_n);
            ck_assert_uint_eq(n, want_n);
            ck_assert(n == 0 || memcmp(d, want, n) == 0);
            free(want);
            ck_assert_int_eq(milnce_shard_get(r, i, "json", &d, &n, &err), 0);
            char json[128];
            snprintf(json, sizeof json, "{\"i\": %d, \"text\": \"sample %d\"}", seen, seen);
            ck_assert_uint_eq(n, strlen(json));
            ck_assert(memcmp(d, json, n) == 0);
            ck_assert_int_eq(milnce_shard_get(r, i, "txt", &d, &n, &err), MILNCE_ERR_NOTFOUND);
        }
        ck_assert_int_eq(milnce_shard_find(r, "nope"), -1);
        milnce_shard_close(&r);
        ck_assert_ptr_null(r);
    }
    ck_assert_int_eq(seen, NS);
    ck_assert_int_eq(milnce_shard_path(path, sizeof path, prefix, 3, NULL), 0);
    ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

START_TEST(test_max_bytes_rollover) {
    char prefix[4200], path[4200];
    snprintf(prefix, sizeof prefix, "%s/b", tu_tmpdir());
    write_samples(prefix, 0, 4096, 0);
    milnce_error err = {0};
    int total = 0, s;
    for (s = 0;; s++) {
        ck_assert_int_eq(milnce_shard_path(path, sizeof path, prefix, s, NULL), 0);
        if (access(path, F_OK) != 0) break;
        struct stat st;
        stat(path, &st);
        milnce_shard_reader *r = NULL;
        ck_assert_msg(milnce_shard_open(&r, path, NULL, &err) == 0, "%s", err.msg);
        /* a shard passes the limit only when one sample alone does */
        ck_assert(st.st_size <= 4096 || milnce_shard_count(r) == 1);
        total += (int)milnce_shard_count(r);
        milnce_shard_close(&r);
    }
    ck_assert_int_gt(s, 1);
    ck_assert_int_eq(total, NS);
}
END_TEST

START_TEST(test_deterministic_bytes) {
    char a[4200], b[4200], pa[4200], pb[4200];
    snprintf(a, sizeof a, "%s/x", tu_tmpdir());
    snprintf(b, sizeof b, "%s/x", tu_tmpdir());
    write_samples(a, 0, 0, 1);
    write_samples(b, 0, 0, 1);
    ck_assert_int_eq(milnce_shard_path(pa, sizeof pa, a, 0, NULL), 0);
    ck_assert_int_eq(milnce_shard_path(pb, sizeof pb, b, 0, NULL), 0);
    ck_assert(same_file(pa, pb));
    ck_assert_int_eq(milnce_shard_index_path(pa, sizeof pa, a, 0, NULL), 0);
    ck_assert_int_eq(milnce_shard_index_path(pb, sizeof pb, b, 0, NULL), 0);
    ck_assert(same_file(pa, pb));
}
END_TEST

START_TEST(test_python_tarfile_agrees) {
    char prefix[4200], path[4200], cmd[9000], out[4300];
    const char *dir = tu_tmpdir();
    snprintf(prefix, sizeof prefix, "%s/p", dir);
    write_samples(prefix, 0, 0, 1); /* one shard, with a pax long name */
    ck_assert_int_eq(milnce_shard_path(path, sizeof path, prefix, 0, NULL), 0);
    snprintf(out, sizeof out, "%s/py.json", dir);
    const char *src = getenv("MILNCE_SOURCE_DIR");
    snprintf(cmd, sizeof cmd, "%s %s/tests/reference/read_shards.py %s > %s", tu_python(), src ? src : ".",
             path, out);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
    json_error_t je;
    json_t *doc = json_load_file(out, 0, &je);
    ck_assert_msg(doc != NULL, "%s: %s", out, je.text);
    json_t *samples = json_object_get(json_array_get(json_object_get(doc, "shards"), 0), "samples");
    milnce_error err = {0};
    milnce_shard_reader *r = NULL;
    ck_assert_msg(milnce_shard_open(&r, path, NULL, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(json_array_size(samples), milnce_shard_count(r));
    ck_assert_uint_eq(milnce_shard_count(r), NS);
    ck_assert_uint_gt(strlen(milnce_shard_key(r, 1)), 100);
    for (size_t i = 0; i < NS; i++) {
        json_t *s = json_array_get(samples, i);
        ck_assert_str_eq(json_string_value(json_object_get(s, "key")), milnce_shard_key(r, i));
        const uint8_t *d;
        size_t n;
        ck_assert_int_eq(milnce_shard_get(r, i, "mp4", &d, &n, &err), 0);
        json_t *m = json_object_get(json_object_get(s, "members"), "mp4");
        ck_assert_int_eq(json_integer_value(json_object_get(m, "size")), (json_int_t)n);
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)fnv1a64(d, n));
        ck_assert_str_eq(json_string_value(json_object_get(m, "fnv1a64")), hex);
        json_t *js = json_object_get(json_object_get(json_object_get(s, "members"), "json"), "json");
        ck_assert_int_eq(json_integer_value(json_object_get(js, "i")), (json_int_t)i);
    }
    milnce_shard_close(&r);
    json_decref(doc);
}
END_TEST

START_TEST(test_truncated_and_damaged) {
    char prefix[4200], path[4200], ipath[4200];
    snprintf(prefix, sizeof prefix, "%s/t", tu_tmpdir());
    write_samples(prefix, 0, 0, 0);
    ck_assert_int_eq(milnce_shard_path(path, sizeof path, prefix, 0, NULL), 0);
    ck_assert_int_eq(milnce_shard_index_path(ipath, sizeof ipath, prefix, 0, NULL), 0);
    size_t n;
    uint8_t *orig = slurp(path, &n);
    milnce_error err = {0};
    milnce_shard_reader *r = NULL;

    /* cut in the middle of the last data */
    ck_assert_int_eq(truncate(path, (off_t)(n - 1500)), 0);
    ck_assert_int_eq(milnce_shard_open(&r, path, NULL, &err), MILNCE_ERR_FORMAT);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(err.msg, "truncated") && strstr(err.msg, path), "%s", err.msg);

    /* a flipped byte in a header */
    FILE *f = fopen(path, "wb");
    orig[1024 + 3] ^= 0x20; /* sample 0: mp4 (100 bytes -> 1 block) then the json header */
    fwrite(orig, 1, n, f);
    fclose(f);
    ck_assert_int_eq(milnce_shard_open(&r, path, NULL, &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "checksum"), "%s", err.msg);
    orig[1024 + 3] ^= 0x20;
    f = fopen(path, "wb");
    fwrite(orig, 1, n, f);
    fclose(f);
    ck_assert_msg(milnce_shard_open(&r, path, NULL, &err) == 0, "%s", err.msg);
    milnce_shard_close(&r);

    /* an index that disagrees with the tar */
    size_t in;
    char *idx = (char *)slurp(ipath, &in);
    idx[in] = 0;
    char *p = strstr(idx, "\"size\":100");
    ck_assert_ptr_nonnull(p);
    p[7] = '2';
    f = fopen(ipath, "wb");
    fwrite(idx, 1, in, f);
    fclose(f);
    ck_assert_int_eq(milnce_shard_open(&r, path, NULL, &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "disagrees"), "%s", err.msg);

    /* lost index: rebuilt by scanning, identical to the writer's */
    p[7] = '1';
    unlink(ipath);
    ck_assert_int_eq(milnce_shard_open(&r, path, NULL, &err), MILNCE_ERR_NOTFOUND);
    ck_assert_msg(milnce_shard_reindex(path, ipath, &err) == 0, "%s", err.msg);
    size_t rn;
    char *re = (char *)slurp(ipath, &rn);
    ck_assert_uint_eq(rn, in);
    ck_assert(memcmp(re, idx, in) == 0);
    free(re);

    /* empty and garbage tars */
    f = fopen(path, "wb");
    fclose(f);
    ck_assert_int_eq(milnce_shard_open(&r, path, NULL, &err), MILNCE_ERR_FORMAT);
    ck_assert_int_lt(milnce_shard_reindex(path, ipath, &err), 0);
    free(idx);
    free(orig);
}
END_TEST

START_TEST(test_bad_keys) {
    milnce_error err = {0};
    ck_assert_int_eq(milnce_shard_check_key("vid_0001", &err), 0);
    ck_assert_int_eq(milnce_shard_check_key("a.b", &err), MILNCE_ERR_INVALID);
    ck_assert_int_eq(milnce_shard_check_key("../x", &err), MILNCE_ERR_INVALID);
    ck_assert_int_eq(milnce_shard_check_key("a/b", &err), MILNCE_ERR_INVALID);
    ck_assert_int_eq(milnce_shard_check_key("", &err), MILNCE_ERR_INVALID);
    ck_assert_int_eq(milnce_shard_check_key("a\nb", &err), MILNCE_ERR_INVALID);
    char prefix[4200];
    snprintf(prefix, sizeof prefix, "%s/k", tu_tmpdir());
    milnce_shard_writer *w = NULL;
    milnce_shard_writer_opts o = {.prefix = prefix};
    ck_assert_int_eq(milnce_shard_writer_open(&w, &o, &err), 0);
    milnce_shard_member dup[2] = {{"json", "{}", 2}, {"json", "{}", 2}};
    ck_assert_int_eq(milnce_shard_writer_add(w, "k", dup, 2, &err), MILNCE_ERR_INVALID);
    milnce_shard_member badext[1] = {{"a/b", "{}", 2}};
    ck_assert_int_eq(milnce_shard_writer_add(w, "k", badext, 1, &err), MILNCE_ERR_INVALID);
    ck_assert_int_eq(milnce_shard_writer_add(w, "k.x", dup, 1, &err), MILNCE_ERR_INVALID);
    /* nothing valid was added: closing writes no shard */
    ck_assert_int_eq(milnce_shard_writer_close(w, &err), 0);
    ck_assert_int_eq(milnce_shard_writer_shards(w), 0);
    milnce_shard_writer_free(&w);
    char path[4300];
    ck_assert_int_eq(milnce_shard_path(path, sizeof path, prefix, 0, NULL), 0);
    ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

/* write_samples with every mp4 member streamed the way the MP4 muxer writes: a placeholder for
 * the first 8 bytes, the rest, a seek back to patch the placeholder, a seek to the end; before
 * some samples, a sample that fails half-way and is cancelled. Must give the same bytes. */
static void write_samples_streamed(const char *prefix, size_t max_samples, int long_names) {
    milnce_error err = {0};
    milnce_shard_writer *w = NULL;
    milnce_shard_writer_opts o = {.prefix = prefix, .max_samples = max_samples};
    ck_assert_int_eq(milnce_shard_writer_open(&w, &o, &err), 0);
    static const uint8_t junk[3000];
    for (int i = 0; i < NS; i++) {
        size_t n;
        uint8_t *b = blob(i, &n);
        char key[200], json[128];
        if (i % 2 == 0 || i == 3) { /* a video that fails mid-way: rolled back */
            ck_assert_msg(milnce_shard_writer_begin(w, "failing", "mp4", &err) == 0, "%s", err.msg);
            ck_assert_int_eq(milnce_shard_writer_write(w, junk, sizeof junk, &err), 0);
            ck_assert_int_eq(milnce_shard_writer_seek(w, 0, SEEK_SET, &err), 0);
            ck_assert_int_eq(milnce_shard_writer_write(w, junk, 10, &err), 0);
            ck_assert_int_eq(milnce_shard_writer_cancel(w, &err), 0);
        }
        sample_key(key, sizeof key, json, sizeof json, i, long_names);
        ck_assert_msg(milnce_shard_writer_begin(w, key, "mp4", &err) == 0, "%s", err.msg);
        if (n >= 8) {
            static const uint8_t zero[8];
            ck_assert_int_eq(milnce_shard_writer_write(w, zero, 8, &err), 0);
            ck_assert_int_eq(milnce_shard_writer_write(w, b + 8, n - 8, &err), 0);
            ck_assert_int_eq(milnce_shard_writer_seek(w, -(int64_t)n, SEEK_CUR, &err), 0);
            ck_assert_int_eq(milnce_shard_writer_write(w, b, 8, &err), 0);
            ck_assert_int_eq(milnce_shard_writer_seek(w, 0, SEEK_END, &err), (int64_t)n);
        }
        ck_assert_uint_eq(milnce_shard_writer_streamed(w), n);
        milnce_shard_member m = {"json", json, strlen(json)};
        ck_assert_msg(milnce_shard_writer_end(w, &m, 1, &err) == 0, "end %d: %s", i, err.msg);
        free(b);
    }
    ck_assert_msg(milnce_shard_writer_close(w, &err) == 0, "%s", err.msg);
    milnce_shard_writer_free(&w);
}

START_TEST(test_streamed_same_bytes) {
    const struct { size_t max_samples; int long_names; } cfg[] = {{0, 1}, {2, 0}, {1, 1}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        char a[4200], b[4200], pa[4300], pb[4300];
        snprintf(a, sizeof a, "%s/x", tu_tmpdir());
        snprintf(b, sizeof b, "%s/x", tu_tmpdir());
        write_samples(a, cfg[c].max_samples, 0, cfg[c].long_names);
        write_samples_streamed(b, cfg[c].max_samples, cfg[c].long_names);
        int k = 0;
        for (;; k++) {
            ck_assert_int_eq(milnce_shard_path(pa, sizeof pa, a, k, NULL), 0);
            ck_assert_int_eq(milnce_shard_path(pb, sizeof pb, b, k, NULL), 0);
            if (access(pa, F_OK) != 0) break;
            ck_assert_msg(same_file(pa, pb), "config %zu: shard %d differs", c, k);
            ck_assert_int_eq(milnce_shard_index_path(pa, sizeof pa, a, k, NULL), 0);
            ck_assert_int_eq(milnce_shard_index_path(pb, sizeof pb, b, k, NULL), 0);
            ck_assert_msg(same_file(pa, pb), "config %zu: index %d differs", c, k);
        }
        ck_assert_int_gt(k, 0);
        ck_assert_int_ne(access(pb, F_OK), 0); /* no extra shard */
        /* no temporary file left behind by the dropped shards */
        char cmd[4400];
        snprintf(cmd, sizeof cmd, "ls %.*s | grep -q tmp", (int)(strrchr(b, '/') - b), b);
        ck_assert_int_ne(system(cmd), 0);
    }
}
END_TEST

START_TEST(test_streamed_rollback) {
    milnce_error err = {0};
    char prefix[4200], path[4300];
    snprintf(prefix, sizeof prefix, "%s/r", tu_tmpdir());
    ck_assert_int_eq(milnce_shard_path(path, sizeof path, prefix, 0, NULL), 0);
    milnce_shard_writer *w = NULL;
    milnce_shard_writer_opts o = {.prefix = prefix};
    ck_assert_int_eq(milnce_shard_writer_open(&w, &o, &err), 0);

    /* only failures: no shard at all */
    ck_assert_int_eq(milnce_shard_writer_begin(w, "a", "mp4", &err), 0);
    ck_assert_int_eq(milnce_shard_writer_write(w, "xyz", 3, &err), 0);
    ck_assert_int_eq(milnce_shard_writer_cancel(w, &err), 0);
    ck_assert_int_eq(milnce_shard_writer_cancel(w, &err), 0); /* nothing to cancel: no-op */

    /* wrong calls while streaming, or outside */
    ck_assert_int_eq(milnce_shard_writer_write(w, "x", 1, &err), MILNCE_ERR_INVALID);
    ck_assert_int_eq(milnce_shard_writer_seek(w, 0, SEEK_SET, &err), MILNCE_ERR_INVALID);
    ck_assert_int_eq(milnce_shard_writer_end(w, NULL, 0, &err), MILNCE_ERR_INVALID);
    ck_assert_int_eq(milnce_shard_writer_begin(w, "a.b", "mp4", &err), MILNCE_ERR_INVALID);
    ck_assert_int_eq(milnce_shard_writer_begin(w, "a", "", &err), MILNCE_ERR_INVALID);
    ck_assert_int_eq(milnce_shard_writer_begin(w, "b", "mp4", &err), 0);
    milnce_shard_member js = {"json", "{}", 2};
    ck_assert_int_eq(milnce_shard_writer_add(w, "c", &js, 1, &err), MILNCE_ERR_INVALID);
    ck_assert_int_eq(milnce_shard_writer_begin(w, "c", "mp4", &err), MILNCE_ERR_INVALID);
    ck_assert_int_eq(milnce_shard_writer_close(w, &err), MILNCE_ERR_INVALID);
    ck_assert_int_eq(milnce_shard_writer_seek(w, -1, SEEK_SET, &err), MILNCE_ERR_RANGE);
    ck_assert_int_eq(milnce_shard_writer_seek(w, 0, 42, &err), MILNCE_ERR_INVALID);
    /* a position past the end leaves zeros */
    ck_assert_int_eq(milnce_shard_writer_seek(w, 10, SEEK_SET, &err), 10);
    ck_assert_int_eq(milnce_shard_writer_write(w, "tail", 4, &err), 0);
    ck_assert_uint_eq(milnce_shard_writer_streamed(w), 14);
    /* a member named twice: end fails and the sample is rolled back */
    milnce_shard_member dup = {"mp4", "{}", 2};
    ck_assert_int_eq(milnce_shard_writer_end(w, &dup, 1, &err), MILNCE_ERR_INVALID);
    ck_assert_int_eq(milnce_shard_writer_begin(w, "b", "mp4", &err), 0);
    ck_assert_int_eq(milnce_shard_writer_seek(w, 10, SEEK_SET, &err), 10);
    ck_assert_int_eq(milnce_shard_writer_write(w, "tail", 4, &err), 0);
    ck_assert_int_eq(milnce_shard_writer_end(w, &js, 1, &err), 0);

    /* a write error (the file size limit: EFBIG) mid-member, then the rollback */
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    ck_assert_int_eq(milnce_shard_writer_begin(w, "big", "mp4", &err), 0);
    static uint8_t chunk[16384];
    int ret = 0;
    for (int i = 0; i < 8 && ret == 0; i++) ret = milnce_shard_writer_write(w, chunk, sizeof chunk, &err);
    ck_assert_int_eq(ret, MILNCE_ERR_IO);
    ck_assert_msg(strstr(err.msg, "big.mp4") != NULL, "%s", err.msg);
    ck_assert_int_eq(milnce_shard_writer_cancel(w, &err), 0);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);

    /* the shard goes on after the rollback */
    ck_assert_int_eq(milnce_shard_writer_begin(w, "d", "mp4", &err), 0);
    ck_assert_int_eq(milnce_shard_writer_write(w, "video", 5, &err), 0);
    ck_assert_int_eq(milnce_shard_writer_end(w, NULL, 0, &err), 0);
    ck_assert_msg(milnce_shard_writer_close(w, &err) == 0, "%s", err.msg);
    milnce_shard_writer_free(&w);

    milnce_shard_reader *r = NULL;
    ck_assert_msg(milnce_shard_open(&r, path, NULL, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(milnce_shard_count(r), 2);
    ck_assert_str_eq(milnce_shard_key(r, 0), "b");
    ck_assert_str_eq(milnce_shard_key(r, 1), "d");
    const uint8_t *d;
    size_t n;
    ck_assert_int_eq(milnce_shard_get(r, 0, "mp4", &d, &n, &err), 0);
    ck_assert_uint_eq(n, 14);
    ck_assert(memcmp(d, "\0\0\0\0\0\0\0\0\0\0tail", 14) == 0);
    ck_assert_int_eq(milnce_shard_get(r, 1, "mp4", &d, &n, &err), 0);
    ck_assert(n == 5 && memcmp(d, "video", 5) == 0);
    milnce_shard_close(&r);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 512 + 512 + 512 + 512 + 512 + 512 + 1024); /* b.mp4, b.json, d.mp4, end */

    /* a writer freed in the middle of a streamed sample leaves no file */
    snprintf(prefix, sizeof prefix, "%s/f", tu_tmpdir());
    ck_assert_int_eq(milnce_shard_path(path, sizeof path, prefix, 0, NULL), 0);
    o.prefix = prefix;
    ck_assert_int_eq(milnce_shard_writer_open(&w, &o, &err), 0);
    ck_assert_int_eq(milnce_shard_writer_begin(w, "a", "mp4", &err), 0);
    ck_assert_int_eq(milnce_shard_writer_write(w, "xyz", 3, &err), 0);
    milnce_shard_writer_free(&w);
    ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

int main(int argc, char **argv) {
    tu_need_cmd(tu_python(), "reads the shards with tarfile: tests/reference/read_shards.py");
    Suite *s = suite_create("shard");
    TCase *tc = tcase_create("shard");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_max_bytes_rollover);
    tcase_add_test(tc, test_deterministic_bytes);
    tcase_add_test(tc, test_python_tarfile_agrees);
    tcase_add_test(tc, test_truncated_and_damaged);
    tcase_add_test(tc, test_bad_keys);
    tcase_add_test(tc, test_streamed_same_bytes);
    tcase_add_test(tc, test_streamed_rollback);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
