/* Shards: a tar indexed by milnce_shard_reindex (any tar: ustar, pax, GNU long names) then opened
 * and read member by member; or, when byte 0 is odd, an index (the bytes up to the first NUL)
 * checked against the tar that follows it. */
#include <stdint.h>

#include "fuzz_util.h"
#include "shard.h"

static void read_all(const char *tar, const char *idx) {
    milnce_shard_reader *r = NULL;
    milnce_error err = {0};
    int rc = milnce_shard_open(&r, tar, idx, &err);
    fuzz_check_error(rc, &err, "milnce_shard_open");
    if (rc < 0) return;
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < milnce_shard_count(r); i++) {
        if (!milnce_shard_key(r, i)) abort();
        for (size_t j = 0; j < milnce_shard_member_count(r, i); j++) {
            const char *name;
            const uint8_t *d;
            size_t n;
            milnce_shard_member_at(r, i, j, &name, &d, &n);
            if (!name) abort();
            for (size_t k = 0; k < n; k += 97) sink ^= d[k];
            if (n) sink ^= d[n - 1];
        }
        const uint8_t *d;
        size_t n;
        rc = milnce_shard_get(r, i, "json", &d, &n, &err);
        fuzz_check_error(rc, &err, "milnce_shard_get");
    }
    (void)sink;
    milnce_shard_close(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char tar[64], idx[64];
    if (data[0] & 1) {
        const uint8_t *nul = memchr(data + 1, 0, size - 1);
        size_t il = nul ? (size_t)(nul - data - 1) : size - 1;
        int fi = fuzz_memfile(data + 1, il, idx, sizeof idx);
        size_t off = nul ? il + 2 : size;
        int ft = fuzz_memfile(data + off, size - off, tar, sizeof tar);
        if (fi >= 0 && ft >= 0) read_all(tar, idx);
        if (fi >= 0) close(fi);
        if (ft >= 0) close(ft);
        return 0;
    }
    int ft = fuzz_memfile(data + 1, size - 1, tar, sizeof tar);
    if (ft < 0) return 0;
    /* The index is written by rename: it needs a real folder. */
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/milnce-fuzz-shard-XXXXXX");
        if (!mkdtemp(dir)) abort();
    }
    snprintf(idx, sizeof idx, "%s/x.idx.json", dir);
    milnce_error err = {0};
    int rc = milnce_shard_reindex(tar, idx, &err);
    fuzz_check_error(rc, &err, "milnce_shard_reindex");
    if (rc == 0) read_all(tar, idx);
    unlink(idx);
    close(ft);
    return 0;
}
