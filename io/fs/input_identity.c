#include "input_identity.h"

#include <errno.h>
#include <libavutil/mem.h>
#include <libavutil/sha.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int milnce_ident_init(milnce_ident *id, milnce_error *err) {
    id->sha = av_sha_alloc();
    if (!id->sha) return milnce_error_set(err, MILNCE_ERR_NOMEM, "input digest");
    av_sha_init(id->sha, 256);
    return 0;
}

/* One field: a type tag, the length (8 bytes, little endian) and the bytes. */
static void field(milnce_ident *id, char tag, const void *p, uint64_t n) {
    uint8_t hdr[9];
    hdr[0] = (uint8_t)tag;
    for (int b = 0; b < 8; b++) hdr[1 + b] = (uint8_t)(n >> (8 * b));
    av_sha_update(id->sha, hdr, sizeof hdr);
    if (n) av_sha_update(id->sha, p, (size_t)n);
}

void milnce_ident_str(milnce_ident *id, const char *s) {
    if (s) field(id, 's', s, strlen(s));
    else field(id, 'n', NULL, 0);
}

void milnce_ident_int(milnce_ident *id, int64_t v) {
    uint8_t b[8];
    for (int k = 0; k < 8; k++) b[k] = (uint8_t)((uint64_t)v >> (8 * k));
    field(id, 'i', b, 8);
}

void milnce_ident_real(milnce_ident *id, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint8_t b[8];
    for (int k = 0; k < 8; k++) b[k] = (uint8_t)(bits >> (8 * k));
    field(id, 'r', b, 8);
}

void milnce_ident_file(milnce_ident *id, const char *path) {
    struct stat st;
    milnce_ident_str(id, path);
    if (!path || stat(path, &st) < 0) {
        field(id, 'a', NULL, 0);
        return;
    }
    milnce_ident_int(id, (int64_t)st.st_size);
    milnce_ident_int(id, (int64_t)st.st_mtim.tv_sec);
    milnce_ident_int(id, (int64_t)st.st_mtim.tv_nsec);
}

int milnce_ident_file_content(milnce_ident *id, const char *path, milnce_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: %s", path, strerror(errno));
    uint8_t buf[1 << 14];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0) field(id, 'c', buf, k);
    int bad = ferror(f);
    fclose(f);
    if (bad) return milnce_error_set(err, MILNCE_ERR_IO, "%s: read error", path);
    return 0;
}

void milnce_ident_final(milnce_ident *id, char hex[65]) {
    uint8_t d[32];
    av_sha_final(id->sha, d);
    for (int k = 0; k < 32; k++) snprintf(hex + 2 * k, 3, "%02x", d[k]);
    milnce_ident_free(id);
}

void milnce_ident_free(milnce_ident *id) {
    av_freep(&id->sha);
}
