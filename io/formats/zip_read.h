/* Reading zip archives held in memory: the subset torch.save (PyTorch >= 1.6) writes.
 *
 * torch.save writes every member "stored" (method 0, no compression), its data aligned to 64
 * bytes through padding in the local header's extra field, and a CRC-32 per member. This reader
 * walks the central directory (end record at the file's end, comment allowed), checks every
 * member's local header, bounds and CRC-32, and hands out pointers into the caller's buffer.
 * Compressed members, encryption, split archives and ZIP64 (archives over 4 GiB, which the
 * released models are not) are refused with a message saying so. */
#ifndef MILNCE_ZIP_READ_H
#define MILNCE_ZIP_READ_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct milnce_zip_member {
    char *name;          /* NUL-terminated copy of the member name */
    const uint8_t *data; /* (size) bytes inside the archive buffer */
    size_t size;
} milnce_zip_member;

typedef struct milnce_zip {
    milnce_zip_member *m; /* (n) in central-directory order */
    size_t n;
} milnce_zip;

/* 1 when buf starts like a zip archive (a local file header, "PK\3\4"). */
int milnce_zip_is_zip(const void *buf, size_t n);

/* Indexes the archive buf (n bytes, which must outlive z). name is for messages. Errors are
 * MILNCE_ERR_FORMAT (truncated or inconsistent, naming the member and offset) and
 * MILNCE_ERR_UNSUPPORTED (compressed, encrypted, ZIP64). On error z holds nothing. */
int milnce_zip_open(milnce_zip *z, const void *buf, size_t n, const char *name, milnce_error *err);

/* The member named exactly name, or NULL. */
const milnce_zip_member *milnce_zip_find(const milnce_zip *z, const char *name);

void milnce_zip_close(milnce_zip *z);

/* CRC-32 (IEEE 802.3, as zip and gzip) of n bytes, continuing from crc (0 to start). */
uint32_t milnce_crc32(uint32_t crc, const void *buf, size_t n);

#endif
