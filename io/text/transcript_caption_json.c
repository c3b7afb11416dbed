/* HowTo100M caption.json, streamed: {video_id: {"start": [..], "end": [..], "text": [..]}, ...}.
 * The file (GBs for the full set) is fed to yajl in 64 KB chunks; callbacks build one entry at
 * a time and queue finished ones, so memory is one chunk's worth of entries plus the entry in
 * progress, never the file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "caption_clean.h"
#include "transcript_internal.h"

#define CHUNK 65536

typedef struct {
    char *id;
    milnce_cues cues;
    size_t bytes;
} entry;

struct milnce_caption_json {
    char name[4096];
    FILE *f;                 /* file source, or NULL for memory */
    const char *mem;         /* memory source */
    size_t mem_n, mem_pos;
    yajl_handle h;
    milnce_transcript_opts opts;
    const milnce_logger *lg;
    unsigned char buf[CHUNK];
    size_t consumed_total;   /* bytes fed before the current chunk */
    size_t line_base;        /* newlines before the current chunk */
    int done, failed, started;
    /* Parse state. */
    int depth;               /* 0 outside, 1 in top map, 2 in an entry, 3 in an entry's array */
    int skip;                /* nesting depth of a value being skipped (unknown key) */
    int field;               /* 0 start, 1 end, 2 text, -1 unknown */
    char *cur_id;
    double *st, *en;         /* (n_st), (n_en) */
    char **tx;               /* (n_tx) */
    size_t n_st, n_en, n_tx, cap_st, cap_en, cap_tx;
    size_t cur_bytes;
    /* Finished entries, FIFO. */
    entry *q;
    size_t q_head, q_n, q_cap, q_bytes;
    size_t peak;
    milnce_error cb_err;     /* error raised inside a callback */
};

static void note_peak(milnce_caption_json *r) {
    size_t b = r->cur_bytes + r->q_bytes;
    if (b > r->peak) r->peak = b;
}

static int cb_fail(milnce_caption_json *r, int code, const char *what) {
    milnce_error_set(&r->cb_err, code, "%s: byte %zu: %s", r->name,
                     r->consumed_total + yajl_get_bytes_consumed(r->h), what);
    return 0; /* stop yajl */
}

static void reset_cur(milnce_caption_json *r) {
    free(r->cur_id);
    r->cur_id = NULL;
    for (size_t i = 0; i < r->n_tx; i++) free(r->tx[i]);
    r->n_st = r->n_en = r->n_tx = 0;
    r->cur_bytes = 0;
}

static int push_time(milnce_caption_json *r, double v) {
    double **a = r->field == 0 ? &r->st : &r->en;
    size_t *n = r->field == 0 ? &r->n_st : &r->n_en, *cap = r->field == 0 ? &r->cap_st : &r->cap_en;
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        double *p = realloc(*a, c * sizeof *p);
        if (!p) return cb_fail(r, MILNCE_ERR_NOMEM, "times");
        *a = p;
        *cap = c;
    }
    (*a)[(*n)++] = v;
    r->cur_bytes += sizeof(double);
    note_peak(r);
    return 1;
}

static int push_text(milnce_caption_json *r, const unsigned char *s, size_t len) {
    if (r->n_tx == r->cap_tx) {
        size_t c = r->cap_tx ? r->cap_tx * 2 : 64;
        char **p = realloc(r->tx, c * sizeof *p);
        if (!p) return cb_fail(r, MILNCE_ERR_NOMEM, "texts");
        r->tx = p;
        r->cap_tx = c;
    }
    char *t = malloc(len + 1);
    if (!t) return cb_fail(r, MILNCE_ERR_NOMEM, "text");
    memcpy(t, s, len);
    t[len] = '\0';
    r->tx[r->n_tx++] = t;
    r->cur_bytes += len + 1 + sizeof(char *);
    note_peak(r);
    return 1;
}

/* A scalar inside an entry's array. */
static int scalar(milnce_caption_json *r, const unsigned char *s, size_t len, int is_num, int is_null) {
    if (r->skip) return 1;
    if (r->depth != 3)
        return cb_fail(r, MILNCE_ERR_FORMAT, r->depth == 2 ? "expected an array of start/end/text"
                                                           : "expected {video_id: {start, end, text}}");
    if (r->field < 0) return 1;
    if (r->field == 2) return push_text(r, is_null ? (const unsigned char *)"" : s, is_null ? 0 : len);
    if (!is_num) return cb_fail(r, MILNCE_ERR_FORMAT, "a time that is not a number");
    char tmp[64];
    if (len >= sizeof tmp) return cb_fail(r, MILNCE_ERR_FORMAT, "time too long");
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    return push_time(r, strtod(tmp, NULL));
}

static int cb_null(void *ctx) { return scalar(ctx, NULL, 0, 0, 1); }
static int cb_bool(void *ctx, int b) { return scalar(ctx, (const unsigned char *)(b ? "true" : "false"), b ? 4 : 5, 0, 0); }
static int cb_number(void *ctx, const char *s, size_t l) { return scalar(ctx, (const unsigned char *)s, l, 1, 0); }
static int cb_string(void *ctx, const unsigned char *s, size_t l) { return scalar(ctx, s, l, 0, 0); }

static int cb_start_map(void *ctx) {
    milnce_caption_json *r = ctx;
    if (r->skip) { r->skip++; return 1; }
    if (r->depth == 0 && !r->started) { r->started = 1; r->depth = 1; return 1; }
    if (r->depth == 1 && r->cur_id) { r->depth = 2; r->field = -1; return 1; }
    if (r->depth == 2 && r->field < 0) { r->skip = 1; return 1; } /* unknown key: skipped */
    return cb_fail(r, MILNCE_ERR_FORMAT, "unexpected object (want {video_id: {start, end, text}})");
}

static int finish_entry(milnce_caption_json *r) {
    const char *id = r->cur_id;
    if (r->n_st != r->n_en || r->n_st != r->n_tx) {
        char what[512];
        snprintf(what, sizeof what, "video '%.200s': start, end and text have %zu, %zu and %zu items",
                 id, r->n_st, r->n_en, r->n_tx);
        return cb_fail(r, MILNCE_ERR_FORMAT, what);
    }
    entry e = {0};
    milnce_error err = {0};
    for (size_t i = 0; i < r->n_st; i++) {
        double s = r->st[i], en = r->en[i];
        if (en < s && s >= 0 && en >= 0) en = s; /* a point in time, as the other readers do */
        if (!(milnce_cue_time_ok(s) && milnce_cue_time_ok(en) && en >= s)) {
            if (r->opts.strict) {
                char what[512];
                snprintf(what, sizeof what, "video '%.200s' item %zu: start %g end %g (times from 0 to %g s)", id, i,
                         s, en, MILNCE_CUE_TIME_MAX);
                milnce_cues_free(&e.cues);
                return cb_fail(r, MILNCE_ERR_FORMAT, what);
            }
            continue;
        }
        if (milnce_cues_push(&e.cues, s, en, r->tx[i], (size_t)-1, &err) < 0) {
            milnce_cues_free(&e.cues);
            return cb_fail(r, MILNCE_ERR_NOMEM, "cues");
        }
    }
    if (milnce__postprocess(r->name, &e.cues, &r->opts, MILNCE_MARKUP_KNOWN_TAGS, r->lg, &err) < 0) {
        milnce_cues_free(&e.cues);
        return cb_fail(r, err.code, err.msg);
    }
    e.id = r->cur_id;
    r->cur_id = NULL;
    e.bytes = r->cur_bytes;
    if (r->q_head + r->q_n == r->q_cap) {
        if (r->q_head > 0) {
            memmove(r->q, r->q + r->q_head, r->q_n * sizeof *r->q);
            r->q_head = 0;
        }
        if (r->q_n == r->q_cap) {
            size_t c = r->q_cap ? r->q_cap * 2 : 16;
            entry *q = realloc(r->q, c * sizeof *q);
            if (!q) { free(e.id); milnce_cues_free(&e.cues); return cb_fail(r, MILNCE_ERR_NOMEM, "queue"); }
            r->q = q;
            r->q_cap = c;
        }
    }
    r->q[r->q_head + r->q_n++] = e;
    r->q_bytes += e.bytes;
    reset_cur(r);
    note_peak(r);
    return 1;
}

static int cb_end_map(void *ctx) {
    milnce_caption_json *r = ctx;
    if (r->skip) { r->skip--; return 1; }
    if (r->depth == 2) { r->depth = 1; return finish_entry(r); }
    if (r->depth == 1) { r->depth = 0; return 1; }
    return cb_fail(r, MILNCE_ERR_FORMAT, "unbalanced object");
}

static int cb_key(void *ctx, const unsigned char *s, size_t l) {
    milnce_caption_json *r = ctx;
    if (r->skip) return 1;
    if (r->depth == 1) {
        reset_cur(r);
        r->cur_id = malloc(l + 1);
        if (!r->cur_id) return cb_fail(r, MILNCE_ERR_NOMEM, "video id");
        memcpy(r->cur_id, s, l);
        r->cur_id[l] = '\0';
        r->cur_bytes += l + 1;
        return 1;
    }
    if (r->depth == 2) {
        r->field = (l == 5 && !memcmp(s, "start", 5)) ? 0 : (l == 3 && !memcmp(s, "end", 3)) ? 1
                 : (l == 4 && !memcmp(s, "text", 4)) ? 2 : -1;
        return 1;
    }
    return cb_fail(r, MILNCE_ERR_FORMAT, "unexpected key");
}

static int cb_start_array(void *ctx) {
    milnce_caption_json *r = ctx;
    if (r->skip) { r->skip++; return 1; }
    if (r->depth == 2) {
        if (r->field < 0) { r->skip = 1; return 1; }
        r->depth = 3;
        return 1;
    }
    return cb_fail(r, MILNCE_ERR_FORMAT, "unexpected array (want {video_id: {start, end, text}})");
}

static int cb_end_array(void *ctx) {
    milnce_caption_json *r = ctx;
    if (r->skip) { r->skip--; return 1; }
    if (r->depth == 3) { r->depth = 2; return 1; }
    return cb_fail(r, MILNCE_ERR_FORMAT, "unbalanced array");
}

static const yajl_callbacks k_cb = {cb_null, cb_bool, NULL, NULL, cb_number, cb_string,
                                    cb_start_map, cb_key, cb_end_map, cb_start_array, cb_end_array};

static int open_common(milnce_caption_json *r, const milnce_transcript_opts *opts,
                       const milnce_logger *lg, milnce_error *err) {
    if (opts) r->opts = *opts;
    else milnce_transcript_opts_default(&r->opts);
    r->lg = lg;
    r->h = yajl_alloc(&k_cb, NULL, r);
    if (!r->h) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: JSON parser", r->name);
    return 0;
}

int milnce_caption_json_open(const char *path, const milnce_transcript_opts *opts,
                             const milnce_logger *lg, milnce_caption_json **out,
                             milnce_error *err) {
    *out = NULL;
    milnce_caption_json *r = calloc(1, sizeof *r);
    if (!r) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: reader", path);
    snprintf(r->name, sizeof r->name, "%s", path);
    r->f = fopen(path, "rb");
    if (!r->f) {
        free(r);
        return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: cannot open", path);
    }
    int rc = open_common(r, opts, lg, err);
    if (rc < 0) { milnce_caption_json_close(&r); return rc; }
    *out = r;
    return 0;
}

static size_t line_at(milnce_caption_json *r, size_t upto) {
    size_t l = r->line_base;
    for (size_t i = 0; i < upto; i++) l += r->buf[i] == '\n';
    return l + 1;
}

/* Feeds the next chunk; returns 0, or <0 with err set. Sets r->done at the end. */
static int feed(milnce_caption_json *r, milnce_error *err) {
    size_t n;
    if (r->f) {
        n = fread(r->buf, 1, CHUNK, r->f);
        if (n == 0 && ferror(r->f)) return milnce_error_set(err, MILNCE_ERR_IO, "%s: read error", r->name);
    } else {
        n = r->mem_n - r->mem_pos < CHUNK ? r->mem_n - r->mem_pos : CHUNK;
        memcpy(r->buf, r->mem + r->mem_pos, n);
        r->mem_pos += n;
    }
    size_t off = 0;
    if (r->consumed_total == 0 && n >= 3 && r->buf[0] == 0xEF && r->buf[1] == 0xBB && r->buf[2] == 0xBF)
        off = 3; /* UTF-8 BOM */
    yajl_status st;
    if (n == 0) {
        if (r->consumed_total == 0) { r->done = 1; return 0; } /* empty file: no videos */
        st = yajl_complete_parse(r->h);
        r->done = 1;
    } else {
        st = yajl_parse(r->h, r->buf + off, n - off);
    }
    if (st == yajl_status_client_canceled) {
        r->failed = 1;
        milnce_error_set(err, r->cb_err.code, "%s (line %zu)", r->cb_err.msg,
                         line_at(r, n ? off + yajl_get_bytes_consumed(r->h) : 0));
        return r->cb_err.code;
    }
    if (st == yajl_status_error) {
        r->failed = 1;
        unsigned char *m = yajl_get_error(r->h, 0, n ? r->buf + off : NULL, n ? n - off : 0);
        size_t at = n ? yajl_get_bytes_consumed(r->h) : 0;
        int rc = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%zu: byte %zu: invalid JSON: %s",
                                  r->name, line_at(r, n ? off + at : 0), r->consumed_total + off + at,
                                  m ? (const char *)m : "?");
        if (m) yajl_free_error(r->h, m);
        return rc;
    }
    r->line_base = line_at(r, n) - 1;
    r->consumed_total += n;
    if (r->done && r->started && r->depth != 0)
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: truncated JSON", r->name);
    if (r->done && !r->started && r->consumed_total > 0) {
        /* Whitespace only. */
    }
    return 0;
}

int milnce_caption_json_next(milnce_caption_json *r, char **video_id, milnce_cues *cues,
                             milnce_error *err) {
    *video_id = NULL;
    milnce_cues_clear(cues);
    if (r->failed) return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: reader failed before", r->name);
    while (r->q_n == 0 && !r->done) {
        int rc = feed(r, err);
        if (rc < 0) { r->failed = 1; return rc; }
    }
    if (r->q_n == 0) return 0;
    entry *e = &r->q[r->q_head];
    r->q_head++;
    r->q_n--;
    r->q_bytes -= e->bytes;
    *video_id = e->id;
    milnce_cues_free(cues);
    *cues = e->cues;
    if (r->q_n == 0) r->q_head = 0;
    return 1;
}

size_t milnce_caption_json_peak_bytes(const milnce_caption_json *r) { return r->peak; }

void milnce_caption_json_close(milnce_caption_json **rp) {
    milnce_caption_json *r = *rp;
    if (!r) return;
    if (r->h) yajl_free(r->h);
    if (r->f) fclose(r->f);
    reset_cur(r);
    free(r->st);
    free(r->en);
    free(r->tx);
    for (size_t i = 0; i < r->q_n; i++) {
        free(r->q[r->q_head + i].id);
        milnce_cues_free(&r->q[r->q_head + i].cues);
    }
    free(r->q);
    free(r);
    *rp = NULL;
}

int milnce__parse_caption_json_mem(const char *name, const char *text, size_t len,
                                   const milnce_transcript_opts *o, milnce_cues *out,
                                   const milnce_logger *lg, milnce_error *err) {
    milnce_caption_json *r = calloc(1, sizeof *r);
    if (!r) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: reader", name);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->mem = text;
    r->mem_n = len;
    /* The caller post-processes; entries here stay raw. */
    milnce_transcript_opts raw = *o;
    raw.clean = 0;
    raw.rolling = MILNCE_ROLLING_OFF;
    raw.sort = 0;
    raw.overlap = MILNCE_OVERLAP_KEEP;
    raw.keep_empty = 1;
    int rc = open_common(r, &raw, lg, err);
    char *id = NULL;
    int found = 0;
    milnce_cues tmp = {0};
    while (rc == 0 && (rc = milnce_caption_json_next(r, &id, &tmp, err)) == 1) {
        int match = !o->video_id || strcmp(id, o->video_id) == 0;
        free(id);
        rc = 0;
        if (match) {
            for (size_t i = 0; i < tmp.n && rc == 0; i++)
                rc = milnce_cues_push(out, tmp.v[i].start, tmp.v[i].end, tmp.v[i].text, (size_t)-1, err);
            found = 1;
            break;
        }
    }
    milnce_cues_free(&tmp);
    milnce_caption_json_close(&r);
    if (rc < 0) return rc;
    if (!found && o->video_id)
        return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: no video '%s'", name, o->video_id);
    return 0;
}
