/* Shards: POSIX tar files in the WebDataset layout, with a per-shard index for random access.
 *
 * A shard `<prefix>-000000.tar` holds samples; a sample is a key (no dots, no slashes) and
 * members `<key>.<ext>` (ext may hold dots: `<key>.seg.json`), stored contiguously. Headers are
 * ustar, with a pax extended header only when a name exceeds 100 bytes or a size 8 GiB. Every
 * header is deterministic (mode 0644, uid/gid 0, empty user/group names, mtime 0), so identical
 * samples give byte-identical shards; Python's tarfile and GNU tar read them.
 *
 * Next to each shard, `<prefix>-000000.idx.json` lists, per sample, the key and for each member
 * its name, header offset, data offset and size:
 *   {"format": "milnce-shard-index", "version": 1, "tar": "train-000000.tar", "tar_size": N,
 *    "samples": [{"key": "vid_0000", "members": [{"name": "vid_0000.mp4", "header": 0,
 *                 "offset": 512, "size": 12345}, ...]}, ...]}
 * Both files are written atomically (temp + fsync + rename), the tar first, so an index exists
 * only for a complete shard. */
#ifndef MILNCE_SHARD_H
#define MILNCE_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define MILNCE_SHARD_INDEX_FORMAT "milnce-shard-index"
#define MILNCE_SHARD_INDEX_VERSION 1
#define MILNCE_SHARD_KEY_MAX 255 /* bytes of a key */

/* One member of a sample to write: the extension after "<key>." and the bytes. */
typedef struct milnce_shard_member {
    const char *ext;  /* e.g. "mp4", "json"; non-empty, no '/' */
    const void *data; /* size bytes (may be NULL when size is 0) */
    size_t size;
} milnce_shard_member;

/* 0 when key is usable as a sample key: 1..MILNCE_SHARD_KEY_MAX bytes of printable ASCII or
 * UTF-8 without '.', '/', '\\' or control characters; else MILNCE_ERR_INVALID with a message. */
int milnce_shard_check_key(const char *key, milnce_error *err);

/* Path of shard number n: "<prefix>-%06d.tar" (or ".idx.json" for the index); MILNCE_ERR_RANGE when
 * it does not fit in cap bytes (err may be NULL). */
int milnce_shard_path(char *out, size_t cap, const char *prefix, int n, milnce_error *err);
int milnce_shard_index_path(char *out, size_t cap, const char *prefix, int n, milnce_error *err);

/* ---- writing ---- */

typedef struct milnce_shard_writer_opts {
    const char *prefix;  /* e.g. "out/train": writes out/train-000000.tar, ... */
    int first_shard;     /* number of the first shard (to resume); default 0 */
    size_t max_samples;  /* start a new shard after this many samples; 0 = no limit */
    uint64_t max_bytes;  /* start a new shard when the tar would pass this size; 0 = no limit */
} milnce_shard_writer_opts;

typedef struct milnce_shard_writer milnce_shard_writer;

int milnce_shard_writer_open(milnce_shard_writer **w, const milnce_shard_writer_opts *o,
                             milnce_error *err);
/* Appends a sample (members in the given order); opens a new shard when a limit is reached
 * (a sample is never split; a sample larger than max_bytes gets a shard of its own). Extensions
 * must be distinct within a sample. */
int milnce_shard_writer_add(milnce_shard_writer *w, const char *key,
                            const milnce_shard_member *members, size_t n, milnce_error *err);
/* Streaming a sample whose first member's size is not known in advance (a video being encoded
 * straight into the shard, so that it never has to be held in memory):
 *   milnce_shard_writer_begin(w, key, "mp4")      writes a placeholder header;
 *   milnce_shard_writer_write / _seek             the member's bytes; positions count from the
 *                                                 member's first byte (the MP4 muxer seeks back
 *                                                 to patch its mdat size);
 *   milnce_shard_writer_end(w, rest, n)           pads the member, rewrites its header with the
 *                                                 final size and checksum, appends the other
 *                                                 members (rest, n may be 0) and indexes it;
 * or milnce_shard_writer_cancel(w), which truncates the shard back to where the sample began
 * (and drops a shard that has no other sample). The bytes are those milnce_shard_writer_add
 * would write for the same members. A streamed member must stay below 8 GiB (a ustar size; a
 * pax size record would have to precede the data). The shard limits are checked at begin:
 * max_bytes against the bytes written so far, since the sample's size is unknown then. While a
 * sample is being streamed only write, seek, end and cancel may be called. */
int milnce_shard_writer_begin(milnce_shard_writer *w, const char *key, const char *ext,
                              milnce_error *err);
/* Writes n bytes at the current position of the streamed member and advances it. A position
 * past the end leaves zeros in between. */
int milnce_shard_writer_write(milnce_shard_writer *w, const void *buf, size_t n, milnce_error *err);
/* Moves the position: whence SEEK_SET, SEEK_CUR or SEEK_END (= the bytes written so far);
 * returns the new position, or a negative MILNCE_ERR_* with err set. */
int64_t milnce_shard_writer_seek(milnce_shard_writer *w, int64_t offset, int whence, milnce_error *err);
/* Size of the streamed member so far (its highest written byte + 1). */
uint64_t milnce_shard_writer_streamed(const milnce_shard_writer *w);
int milnce_shard_writer_end(milnce_shard_writer *w, const milnce_shard_member *rest, size_t n,
                            milnce_error *err);
int milnce_shard_writer_cancel(milnce_shard_writer *w, milnce_error *err);

/* Completes the current shard (if it has samples) and writes its index. */
int milnce_shard_writer_close(milnce_shard_writer *w, milnce_error *err);
/* Shards completed so far and the number the next one would get. */
int milnce_shard_writer_shards(const milnce_shard_writer *w);
int milnce_shard_writer_next_shard(const milnce_shard_writer *w);
/* Aborts an unfinished shard (its temporary files are removed) and frees. NULLs *w. */
void milnce_shard_writer_free(milnce_shard_writer **w);

/* ---- reading ---- */

typedef struct milnce_shard_reader milnce_shard_reader;

/* Opens a shard and its index (index_path NULL: the tar path with ".tar" replaced by
 * ".idx.json"), maps the tar read-only and checks every indexed header against the tar: name,
 * size, checksum, bounds. Truncation or disagreement fails with MILNCE_ERR_FORMAT naming the
 * file and offset. */
int milnce_shard_open(milnce_shard_reader **r, const char *tar_path, const char *index_path,
                      milnce_error *err);
void milnce_shard_close(milnce_shard_reader **r);

size_t milnce_shard_count(const milnce_shard_reader *r);
/* The tar's path as opened (for messages). */
const char *milnce_shard_reader_path(const milnce_shard_reader *r);
const char *milnce_shard_key(const milnce_shard_reader *r, size_t i);
/* Index of the sample with key, or -1. */
long milnce_shard_find(const milnce_shard_reader *r, const char *key);
size_t milnce_shard_member_count(const milnce_shard_reader *r, size_t i);
/* Member j of sample i: full name ("<key>.<ext>"), bytes and size (NULL, NULL, 0 when i or j is
 * out of range). The bytes point into the mapping (zero copy) and stay valid until
 * milnce_shard_close; a reader is read-only after open, so threads may share it. */
void milnce_shard_member_at(const milnce_shard_reader *r, size_t i, size_t j, const char **name,
                            const uint8_t **data, size_t *size);
/* Member of sample i by extension ("mp4") ; MILNCE_ERR_NOTFOUND when absent. */
int milnce_shard_get(const milnce_shard_reader *r, size_t i, const char *ext, const uint8_t **data,
                     size_t *size, milnce_error *err);

/* The shards of a training or held-out set: every "*.tar" in a folder, sorted by name, or the one
 * .tar given. *paths (n) malloc'ed, free with milnce_shard_list_free. A folder without shards is
 * MILNCE_ERR_NOTFOUND naming it. */
int milnce_shard_list(const char *path, char ***paths, size_t *n, milnce_error *err);
void milnce_shard_list_free(char **paths, size_t n);

/* Builds the index of a tar written by anyone (scanning every header, ustar/pax/GNU long names),
 * grouping consecutive members by key (name up to the first dot of its last path component), and
 * writes it atomically to index_path. For shards whose index was lost. */
int milnce_shard_reindex(const char *tar_path, const char *index_path, milnce_error *err);

#endif
