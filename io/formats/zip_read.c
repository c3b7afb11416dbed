#include "zip_read.h"

#include <stdlib.h>
#include <string.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define END_MIN 22u    /* end-of-central-directory record without comment */
#define CENTRAL_MIN 46u
#define LOCAL_MIN 30u

static uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | rd16(p + 2) << 16; }

uint32_t milnce_crc32(uint32_t crc, const void *buf, size_t n) {
    /* Bytewise with a table built on the fly: 1 KiB of stack, no global state. Fast enough for
     * a one-off import (hundreds of MB/s). */
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    const uint8_t *p = buf;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

int milnce_zip_is_zip(const void *buf, size_t n) {
    return n >= 4 && rd32(buf) == SIG_LOCAL;
}

void milnce_zip_close(milnce_zip *z) {
    for (size_t i = 0; i < z->n; i++) free(z->m[i].name);
    free(z->m);
    z->m = NULL;
    z->n = 0;
}

const milnce_zip_member *milnce_zip_find(const milnce_zip *z, const char *name) {
    for (size_t i = 0; i < z->n; i++)
        if (strcmp(z->m[i].name, name) == 0) return &z->m[i];
    return NULL;
}

int milnce_zip_open(milnce_zip *z, const void *buf, size_t n, const char *name, milnce_error *err) {
    const uint8_t *b = buf;
    memset(z, 0, sizeof *z);
    if (n < END_MIN) return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: %zu bytes, too short for a zip archive (truncated?)", name, n);
    /* the end record sits in the last 22 + 65535 (comment) bytes */
    size_t lo = n > END_MIN + 65535 ? n - END_MIN - 65535 : 0, end = (size_t)-1;
    for (size_t p = n - END_MIN + 1; p-- > lo;)
        if (rd32(b + p) == SIG_END && p + END_MIN + rd16(b + p + 20) == n) { end = p; break; }
    if (end == (size_t)-1)
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: no zip end-of-central-directory record (a truncated or damaged file)", name);
    const uint8_t *e = b + end;
    uint32_t disk = rd16(e + 4), cd_disk = rd16(e + 6), count_here = rd16(e + 8), count = rd16(e + 10);
    uint32_t cd_size = rd32(e + 12), cd_off = rd32(e + 16);
    if (count == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu)
        return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: ZIP64 archive (over 4 GiB or 65535 members) is not supported", name);
    if (disk || cd_disk || count_here != count)
        return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: split (multi-disk) zip archive", name);
    if ((size_t)cd_off + cd_size > end)
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: central directory at %u (+%u bytes) runs past its end record at %zu", name, cd_off, cd_size, end);
    z->m = calloc(count ? count : 1, sizeof *z->m);
    if (!z->m) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: %u zip members", name, count);
    size_t p = cd_off, stop = (size_t)cd_off + cd_size;
    int ret = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (p + CENTRAL_MIN > stop || rd32(b + p) != SIG_CENTRAL) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: zip central directory entry %u at %zu is damaged", name, i, p);
            goto fail;
        }
        const uint8_t *c = b + p;
        uint32_t flags = rd16(c + 8), method = rd16(c + 10), crc = rd32(c + 16);
        uint32_t csize = rd32(c + 20), usize = rd32(c + 24), nlen = rd16(c + 28), xlen = rd16(c + 30), clen = rd16(c + 32);
        uint32_t loff = rd32(c + 42);
        if (p + CENTRAL_MIN + nlen + xlen + clen > stop) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: zip central directory entry %u runs past the directory", name, i);
            goto fail;
        }
        char *mname = malloc(nlen + 1);
        if (!mname) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: zip member name", name); goto fail; }
        memcpy(mname, c + CENTRAL_MIN, nlen);
        mname[nlen] = '\0';
        z->m[z->n].name = mname;
        z->n++;
        if (memchr(mname, '\0', nlen)) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: zip member %u has a NUL in its name", name, i);
            goto fail;
        }
        if (flags & 1) {
            ret = milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: zip member %s is encrypted", name, mname);
            goto fail;
        }
        if (method != 0) {
            ret = milnce_error_set(err, MILNCE_ERR_UNSUPPORTED,
                                   "%s: zip member %s is compressed (method %u); torch.save stores members uncompressed "
                                   "(re-save the file with torch.save, or unzip and re-zip with -0)", name, mname, method);
            goto fail;
        }
        if (csize == 0xffffffffu || loff == 0xffffffffu) {
            ret = milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: zip member %s uses ZIP64 sizes", name, mname);
            goto fail;
        }
        if (csize != usize) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: stored zip member %s has sizes %u and %u", name, mname, csize, usize);
            goto fail;
        }
        if ((size_t)loff + LOCAL_MIN > n || rd32(b + loff) != SIG_LOCAL) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: zip member %s: no local header at %u", name, mname, loff);
            goto fail;
        }
        size_t data = (size_t)loff + LOCAL_MIN + rd16(b + loff + 26) + rd16(b + loff + 28);
        if (data > n || n - data < csize || data + csize > cd_off) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: zip member %s: %u bytes at %zu run past the data area (truncated file?)",
                                   name, mname, csize, data);
            goto fail;
        }
        if (milnce_crc32(0, b + data, csize) != crc) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: zip member %s: CRC-32 mismatch (damaged file)", name, mname);
            goto fail;
        }
        z->m[i].data = b + data;
        z->m[i].size = csize;
        p += CENTRAL_MIN + nlen + xlen + clen;
    }
    return 0;
fail:
    milnce_zip_close(z);
    return ret;
}
