/* The input of `milnce preprocess`: which videos, under which ids.
 *
 * A list is either
 *   - a CSV with a header holding `video_path` (id = the file's stem) or `video_id` (path =
 *     <root>/<id>.<ext> for the first existing ext of milnce_video_exts, or
 *     <root>/<task>/<id>.<ext> when a `task` column is present), other columns ignored; or
 *   - a folder: every file in it with a video extension, sorted by name.
 * Relative paths in a CSV are taken from the CSV's folder. Every id becomes a shard key and the
 * name of derived files, so ids that could escape the output folder or break the WebDataset
 * layout (empty, '.', '/', '\\', "..", NUL, control characters, over 255 bytes) are refused: the
 * entry is kept with `error` set, so the run logs it and goes on. Two entries with one id (flower.mp4
 * and flower.webm in a folder, or two rows) would be two samples under one shard key: the first
 * is kept, each later one gets `error` naming the first (its line or path). */
#ifndef MILNCE_VIDEO_LIST_H
#define MILNCE_VIDEO_LIST_H

#include <stddef.h>

#include "error.h"

/* The one table of media extensions (lower case, no dot; compared case-insensitively): the video
 * containers, in the order a lookup by id tries them (preprocess's video_id lists, eval's
 * video_root), NULL-terminated. A folder listing takes the files with one of these. */
extern const char *const milnce_video_exts[];

/* What an extension (no dot, any case) names: MILNCE_MEDIA_VIDEO for milnce_video_exts,
 * MILNCE_MEDIA_OTHER for Matroska audio/subtitle files (.mka, .mks: no picture, but they can carry
 * the subtitle streams `--captions embedded` reads), MILNCE_MEDIA_NONE otherwise. */
enum { MILNCE_MEDIA_NONE = 0, MILNCE_MEDIA_VIDEO = 1, MILNCE_MEDIA_OTHER = 2 };
int milnce_media_ext(const char *ext);

/* Why an entry is refused (static strings: errors.log and stats group skips by them). */
#define MILNCE_VIDEO_UNSAFE_ID "unsafe id"
#define MILNCE_VIDEO_MISSING "missing video"
#define MILNCE_VIDEO_DUPLICATE "duplicate id"
#define MILNCE_VIDEO_BAD_LINE "bad list line"

typedef struct milnce_video_entry {
    char *id;    /* shard key; never NULL */
    char *path;  /* video file; NULL when not found */
    char *error; /* NULL, or why this entry will be skipped */
    const char *category; /* with error: MILNCE_VIDEO_UNSAFE_ID, _MISSING, _DUPLICATE or _BAD_LINE */
    size_t line; /* 1-based CSV line (0 for a folder listing) */
} milnce_video_entry;

typedef struct milnce_video_list {
    milnce_video_entry *v; /* (n) in list order */
    size_t n, cap;
} milnce_video_list;

/* root: where `video_id` rows look for files (NULL: the CSV's folder). */
int milnce_video_list_read(const char *path, const char *root, milnce_video_list *out,
                           milnce_error *err);
void milnce_video_list_free(milnce_video_list *l);

/* 0 when id is a usable key; else MILNCE_ERR_INVALID with the reason. */
int milnce_video_id_check(const char *id, milnce_error *err);

/* A minimal RFC 4180 CSV reader over a whole buffer: fields may be quoted ("" escapes a quote,
 * quoted fields may hold commas and newlines); CRLF or LF line ends; a UTF-8 BOM is skipped. */
typedef struct milnce_csv {
    const char *p, *end;
    size_t line;           /* line the reader is at, 1-based */
    size_t record_line;    /* line where the current record started */
    char **fields;         /* (nfields) of the current record, NUL-terminated, owned */
    size_t nfields, cap;
} milnce_csv;

void milnce_csv_init(milnce_csv *c, const char *data, size_t n);
/* 1 with a record in c->fields, 0 at the end, MILNCE_ERR_FORMAT for an unterminated quote. */
int milnce_csv_next(milnce_csv *c, const char *name, milnce_error *err);
void milnce_csv_free(milnce_csv *c);

#endif
