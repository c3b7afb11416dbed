/* read_shard: list the samples of a milnce training shard through the installed libmilnce.
 *
 *   read_shard [--reindex] SHARD.tar
 *
 * Prints one line per member, "<sample index> <member name> <size in bytes>", then a summary.
 * --reindex first (re)builds the shard's index (SHARD.idx.json) from the tar itself, for a tar
 * written by another tool. Build it against an installed copy:
 *   cc read_shard.c -o read_shard $(pkg-config --cflags --libs milnce) */
#include <milnce/milnce.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    int reindex = argc == 3 && strcmp(argv[1], "--reindex") == 0;
    if (argc != 2 + reindex) {
        fprintf(stderr, "usage: read_shard [--reindex] SHARD.tar\n");
        return 2;
    }
    const char *tar = argv[1 + reindex];
    milnce_error err = {0};
    if (reindex) {
        char idx[4096];
        size_t n = strlen(tar);
        if (n < 4 || strcmp(tar + n - 4, ".tar") != 0 || n + 6 > sizeof idx) {
            fprintf(stderr, "read_shard: %s: expected a path ending in .tar\n", tar);
            return 2;
        }
        snprintf(idx, sizeof idx, "%.*s.idx.json", (int)(n - 4), tar);
        if (milnce_shard_reindex(tar, idx, &err) < 0) {
            fprintf(stderr, "read_shard: %s\n", err.msg);
            return 1;
        }
    }
    milnce_shard_reader *r = NULL;
    if (milnce_shard_open(&r, tar, NULL, &err) < 0) {
        fprintf(stderr, "read_shard: %s (%s)\n", err.msg, milnce_strerror(err.code));
        return 1;
    }
    size_t members = 0, bytes = 0;
    for (size_t i = 0; i < milnce_shard_count(r); i++)
        for (size_t j = 0; j < milnce_shard_member_count(r, i); j++) {
            const char *name;
            const uint8_t *data;
            size_t size;
            milnce_shard_member_at(r, i, j, &name, &data, &size);
            printf("%zu %s %zu\n", i, name, size);
            members++;
            bytes += size;
        }
    printf("read_shard (libmilnce %s): %zu samples, %zu members, %zu bytes\n", milnce_version(),
           milnce_shard_count(r), members, bytes);
    milnce_shard_close(&r);
    return 0;
}
