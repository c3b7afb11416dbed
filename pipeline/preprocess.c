#include "preprocess.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cues.h"
#include "fileutil.h"
#include "input_identity.h"
#include "run_lock.h"
#include "shard.h"
#include "tokenizer.h"
#include "transcode.h"
#include "transcript.h"
#include "video_list.h"
#include "vocab.h"
#include "vocab_io.h"

void milnce_preprocess_opts_default(milnce_preprocess_opts *o) {
    memset(o, 0, sizeof *o);
    o->vocab_max = 100000;
    o->vocab_min_count = 1;
    o->fps = 5;
    o->size = 256;
    o->videos_per_shard = 64;
    o->jobs = 2;
    o->num_shards = 1;
}

enum { NARR_FOLDER, NARR_JSON, NARR_EMBEDDED };

/* caption.json entries kept for this part, sorted by id for bsearch. */
typedef struct json_entry {
    char *id;
    milnce_cues cues;
} json_entry;

/* Where a worker's rendition goes while it is encoded: straight into the shard being written
 * (one job: the worker is the committer), or an unlinked spool file in the output folder that
 * the committer copies into the shard in list order (several jobs). Either way no rendition is
 * held in memory. The first write error is kept, so that a full disk stops the run instead of
 * passing for a bad video. */
typedef struct rendition_out {
    milnce_shard_writer *w; /* direct, else NULL */
    int fd;                 /* spool */
    uint64_t pos, size;     /* spool position and size, bytes */
    int failed;
    milnce_error err;
} rendition_out;

typedef struct result {
    int ready, ok;
    int fatal;       /* an output error (reason says which): the run stops */
    int has_spool;   /* spool_fd holds the rendition (mp4_size bytes) */
    int spool_fd;
    uint64_t mp4_size;
    char *json;      /* sample metadata (ok) */
    char *reason;    /* why skipped (!ok) */
    const char *category;
    double seconds;
    int64_t sentences;
    int64_t after_end;   /* sentences starting at or after the video's end: dropped */
    int64_t ending_after; /* sentences starting inside the video but ending after it: kept */
    int64_t narrated;    /* sentences before the rule above */
    int copied;          /* the rendition was copied from the shard being remade */
} result;

typedef struct ctx {
    const milnce_preprocess_opts *o;
    milnce_video_list list;
    int narr_mode;
    json_entry *jentries;
    size_t njentries;
    milnce_vocab vocab;
    char vocab_key[65];    /* identity of what the vocabulary is made from (input_identity.h) */
    char vocab_digest[65]; /* of the vocabulary file's bytes: what shards depend on */
    size_t *tasks; /* (ntasks) list indices of the videos to process, shard by shard */
    size_t ntasks;
    result *results;
    /* worker coordination */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t next_task, committed;
    int stop;
    /* The shards being remade, as they were (mapped): a sample whose rendition identity is
     * unchanged has its .mp4 member copied instead of transcoded. Opened at first use (under
     * old_mu), closed by the committer once the new shard replaced it. */
    pthread_mutex_t old_mu;
    milnce_shard_reader **old;  /* (nshards) */
    uint8_t *old_tried;         /* (nshards) */
    int old_mu_ready;
    milnce_preprocess_progress prog;
    double t_start;
    /* the plan: this part's shards, the pending ones (to make) and their input keys */
    int nshards;
    int *mine, nmine;       /* (nshards) */
    int *pending, npending; /* (nshards) */
    char (*keys)[65];       /* (nshards) of the pending shards */
    uint8_t *copybuf;       /* spool -> shard copies (several jobs) */
    size_t copycap;
} ctx;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* Removes the temporary files a killed run left for shard k ("train-NNNNNN.*.tmp.*"). Only
 * this part's shard numbers are touched, so parts sharing the folder do not disturb each other. */
static void remove_stale_temps(const char *dir, int k) {
    DIR *d = opendir(dir);
    if (!d) return;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "train-%06d.", k);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 || !strstr(de->d_name, ".tmp.")) continue;
        char p[MILNCE_PATH_MAX];
        if (milnce_path(p, sizeof p, NULL, "%s/%s", dir, de->d_name) == 0) unlink(p);
    }
    closedir(d);
}

static int cmp_jentry(const void *a, const void *b) {
    return strcmp(((const json_entry *)a)->id, ((const json_entry *)b)->id);
}

static json_entry *find_jentry(ctx *c, const char *id) {
    json_entry key = {.id = (char *)id};
    return c->njentries ? bsearch(&key, c->jentries, c->njentries, sizeof key, cmp_jentry) : NULL;
}

static void transcript_opts(const ctx *c, milnce_transcript_opts *to) {
    milnce_transcript_opts_default(to);
    to->overlap = c->o->overlap;
    to->strict = 0; /* a damaged cue is skipped with a warning; the video stays usable */
    to->fallback_encodings = c->o->encoding_fallbacks;
}

/* The per-video narration file of e in a narration folder: the first of <id>.csv, .srt, .vtt,
 * .sbv, .json that exists, written into path. Returns the extension's index, or -1. */
static const char *const narr_exts[] = {"csv", "srt", "vtt", "sbv", "json"};
enum { NARR_EXT_JSON = 4 };

static int narration_file(const ctx *c, const milnce_video_entry *e, char *path, size_t cap) {
    for (int k = 0; k < (int)(sizeof narr_exts / sizeof narr_exts[0]); k++) {
        if (milnce_path(path, cap, NULL, "%s/%s.%s", c->o->captions, e->id, narr_exts[k]) == 0 && milnce_is_file(path))
            return k;
    }
    return -1;
}

/* Narration of list entry i into cues. Returns 0, or <0 with err set (skip reason). */
static int load_narration(ctx *c, size_t i, milnce_cues *cues, const char **category, milnce_error *err) {
    const milnce_video_entry *e = &c->list.v[i];
    milnce_transcript_opts to;
    transcript_opts(c, &to);
    milnce_cues_clear(cues);
    *category = "bad narration";
    if (c->narr_mode == NARR_EMBEDDED) {
        int ret = milnce_transcript_read(e->path, MILNCE_CAPTIONS_EMBEDDED, &to, cues, c->o->lg, err);
        if (ret == MILNCE_ERR_NOTFOUND) *category = "missing narration";
        return ret;
    }
    if (c->narr_mode == NARR_JSON) {
        json_entry *je = find_jentry(c, e->id);
        if (!je) {
            *category = "missing narration";
            return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: no entry for %s", c->o->captions, e->id);
        }
        for (size_t k = 0; k < je->cues.n; k++) {
            int ret = milnce_cues_push(cues, je->cues.v[k].start, je->cues.v[k].end, je->cues.v[k].text, (size_t)-1, err);
            if (ret < 0) return ret;
        }
        return 0;
    }
    char path[MILNCE_PATH_MAX];
    int k = narration_file(c, e, path, sizeof path);
    if (k >= 0) {
        if (k == NARR_EXT_JSON) to.video_id = e->id;
        return milnce_transcript_read(path, MILNCE_CAPTIONS_AUTO, &to, cues, c->o->lg, err);
    }
    *category = "missing narration";
    return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "no narration file %s/%s.{csv,srt,vtt,sbv,json}", c->o->captions, e->id);
}

/* Feeds into id what the narration of list entry e is read from: its file in a narration
 * folder, or its video (embedded subtitles). caption.json enters once, by the caller. */
static void ident_narration(const ctx *c, const milnce_video_entry *e, milnce_ident *id) {
    char path[MILNCE_PATH_MAX];
    if (c->narr_mode == NARR_EMBEDDED) milnce_ident_file(id, e->path);
    else if (c->narr_mode == NARR_FOLDER) milnce_ident_file(id, narration_file(c, e, path, sizeof path) >= 0 ? path : NULL);
}

/* Options that change how narration becomes sentences. */
static void ident_narration_opts(const ctx *c, milnce_ident *id) {
    milnce_ident_int(id, c->narr_mode);
    milnce_ident_str(id, c->o->captions);
    if (c->narr_mode == NARR_JSON) milnce_ident_file(id, c->o->captions);
    milnce_ident_int(id, c->o->overlap);
    milnce_ident_str(id, c->o->encoding_fallbacks);
}

/* The vocabulary's identity: the given file's bytes, or everything a built one depends on (the
 * narration of every usable video in the list, or the whole caption.json, and the limits). */
static int make_vocab_key(ctx *c, milnce_error *err) {
    milnce_ident id;
    int ret = milnce_ident_init(&id, err);
    if (ret < 0) return ret;
    milnce_ident_str(&id, "milnce vocabulary v1");
    if (c->o->vocab_path) {
        ret = milnce_ident_file_content(&id, c->o->vocab_path, err);
    } else {
        milnce_ident_int(&id, c->o->vocab_max);
        milnce_ident_int(&id, c->o->vocab_min_count);
        ident_narration_opts(c, &id);
        for (size_t i = 0; i < c->list.n && c->narr_mode != NARR_JSON; i++) {
            const milnce_video_entry *e = &c->list.v[i];
            if (e->error || !e->path) continue; /* not counted by prepare_vocab either */
            milnce_ident_str(&id, e->id);
            ident_narration(c, e, &id);
        }
    }
    if (ret < 0) milnce_ident_free(&id);
    else milnce_ident_final(&id, c->vocab_key);
    return ret;
}

/* The identity of shard k's inputs: the list entries it covers (id, video file, narration
 * file), the rendition and narration options and the vocabulary's content. A complete shard
 * whose recorded identity differs was made from something else and is remade. */
static int make_shard_key(const ctx *c, int k, char hex[65], milnce_error *err) {
    milnce_ident id;
    int ret = milnce_ident_init(&id, err);
    if (ret < 0) return ret;
    milnce_ident_str(&id, "milnce shard v2"); /* v2: narration past the end dropped, "rendition" recorded */
    milnce_ident_int(&id, MILNCE_TRANSCODE_VERSION);
    milnce_ident_int(&id, k);
    milnce_ident_int(&id, c->o->videos_per_shard);
    milnce_ident_real(&id, c->o->fps);
    milnce_ident_int(&id, c->o->size);
    milnce_ident_int(&id, c->o->crf);
    milnce_ident_real(&id, c->o->max_seconds);
    ident_narration_opts(c, &id);
    milnce_ident_str(&id, c->vocab_digest);
    size_t n = (size_t)c->o->videos_per_shard;
    for (size_t i = (size_t)k * n; i < c->list.n && i < (size_t)(k + 1) * n; i++) {
        const milnce_video_entry *e = &c->list.v[i];
        milnce_ident_str(&id, e->id);
        milnce_ident_str(&id, e->error);
        milnce_ident_file(&id, e->path);
        ident_narration(c, e, &id);
    }
    milnce_ident_final(&id, hex);
    return 0;
}

/* Reads a one-line key file (vocab.inputs), or below the "inputs" of a shard's stats, into hex:
 * "" when absent or unreadable, which counts as "made from something else". */
static void read_key_file(const char *path, char hex[65]) {
    hex[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (!fgets(hex, 65, f)) hex[0] = '\0';
    hex[strcspn(hex, "\r\n")] = '\0';
    fclose(f);
}

static void read_stats_key(const char *path, char hex[65]) {
    hex[0] = '\0';
    json_t *s = json_load_file(path, 0, NULL);
    const char *v = json_string_value(json_object_get(s, "inputs"));
    if (v && strlen(v) == 64) memcpy(hex, v, 65);
    json_decref(s);
}

/* Removes shard files numbered beyond this list's last shard (left by a longer list in the
 * same folder: the loader reads every .tar there). Only this part's numbers are touched. */
static int remove_shards_beyond(const ctx *c, int nshards) {
    DIR *d = opendir(c->o->out_dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        int k, len = 0;
        if (sscanf(de->d_name, "train-%6d.%n", &k, &len) != 1 || len != 13 || k < nshards) continue;
        if (k % c->o->num_shards != c->o->shard_index) continue;
        const char *sfx = de->d_name + len;
        if (strcmp(sfx, "tar") && strcmp(sfx, "idx.json") && strcmp(sfx, "stats.json") && !strstr(sfx, ".tmp.")) continue;
        char p[MILNCE_PATH_MAX];
        if (milnce_path(p, sizeof p, NULL, "%s/%s", c->o->out_dir, de->d_name) == 0 && unlink(p) == 0) {
            removed += strcmp(sfx, "tar") == 0;
            milnce_log(c->o->lg, MILNCE_LOG_WARN, "removed %s: the list has only %d shards", p, nshards);
        }
    }
    closedir(d);
    return removed;
}

static int count_words(milnce_vocab_counter *counter, const milnce_cues *cues, milnce_tokens *tok, milnce_error *err) {
    for (size_t k = 0; k < cues->n; k++) {
        milnce_tokens_clear(tok);
        int ret = milnce_tokenize(cues->v[k].text, (size_t)-1, 0, tok, err);
        if (ret < 0 || (ret = milnce_vocab_count_tokens(counter, tok, err)) < 0) return ret;
    }
    return 0;
}

/* Streams caption.json once: counts every entry's words (when building the vocabulary) and
 * keeps the entries of videos this part will process. */
static int scan_caption_json(ctx *c, milnce_vocab_counter *counter, const char *wanted, milnce_error *err) {
    milnce_transcript_opts to;
    transcript_opts(c, &to);
    milnce_caption_json *r = NULL;
    milnce_cues cues = {0};
    milnce_tokens tok = {0};
    char *id = NULL;
    size_t cap = 0;
    int ret = milnce_caption_json_open(c->o->captions, &to, c->o->lg, &r, err);
    if (ret < 0) return ret;
    while ((ret = milnce_caption_json_next(r, &id, &cues, err)) == 1) {
        if (counter && (ret = count_words(counter, &cues, &tok, err)) < 0) break;
        if (wanted[0] && strstr(wanted, id)) { /* cheap pre-filter; exact check below */
            int keep = 0;
            for (size_t t = 0; t < c->ntasks && !keep; t++) keep = strcmp(c->list.v[c->tasks[t]].id, id) == 0;
            if (keep) {
                if (c->njentries == cap) {
                    cap = cap ? 2 * cap : 64;
                    json_entry *n = realloc(c->jentries, cap * sizeof *n);
                    if (!n) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "caption entries"); break; }
                    c->jentries = n;
                }
                c->jentries[c->njentries].id = id;
                c->jentries[c->njentries].cues = cues;
                c->njentries++;
                id = NULL;
                memset(&cues, 0, sizeof cues);
            }
        }
        free(id);
        id = NULL;
    }
    free(id);
    milnce_cues_free(&cues);
    milnce_tokens_free(&tok);
    milnce_caption_json_close(&r);
    if (c->njentries > 1) qsort(c->jentries, c->njentries, sizeof *c->jentries, cmp_jentry);
    return ret < 0 ? ret : 0;
}

/* Keeps the caption.json entries of the videos to process (a second pass over the file when
 * the vocabulary was just built from it: the tasks are known only once the vocabulary is). */
static int keep_caption_entries(ctx *c, milnce_error *err) {
    if (c->narr_mode != NARR_JSON || c->ntasks == 0) return 0;
    size_t wl = 1;
    for (size_t t = 0; t < c->ntasks; t++) wl += strlen(c->list.v[c->tasks[t]].id) + 1;
    char *wanted = malloc(wl);
    if (!wanted) return milnce_error_set(err, MILNCE_ERR_NOMEM, "id list");
    wanted[0] = '\0';
    for (size_t t = 0; t < c->ntasks; t++) {
        strcat(wanted, c->list.v[c->tasks[t]].id);
        strcat(wanted, "\n");
    }
    int ret = scan_caption_json(c, NULL, wanted, err);
    free(wanted);
    return ret;
}

/* Loads the given vocabulary, or out/vocab.txt when it was built from the same inputs, or builds
 * and saves it; then digests the file's bytes into c->vocab_digest. */
static int prepare_vocab(ctx *c, milnce_error *err) {
    char path[MILNCE_PATH_MAX], key_path[MILNCE_PATH_MAX];
    int ret;
    if ((ret = milnce_path(path, sizeof path, err, "%s/vocab.txt", c->o->out_dir)) < 0 ||
        (ret = milnce_path(key_path, sizeof key_path, err, "%s/vocab.inputs", c->o->out_dir)) < 0)
        return ret;
    const char *given = c->o->vocab_path;
    int have = 0;
    if (given) {
        if ((ret = milnce_vocab_load(given, &c->vocab, err)) < 0) goto end;
        have = 1;
    } else if (milnce_is_file(path)) {
        char saved[65];
        read_key_file(key_path, saved);
        if (strcmp(saved, c->vocab_key) == 0) {
            if ((ret = milnce_vocab_load(path, &c->vocab, err)) < 0) goto end;
            have = 1;
        } else {
            milnce_log(c->o->lg, MILNCE_LOG_WARN, "%s was built from other narration or options: building it again", path);
        }
    }
    milnce_vocab_counter counter = {0};
    if (c->narr_mode == NARR_JSON && !have) {
        ret = scan_caption_json(c, &counter, "", err); /* counts only */
    } else if (!have) {
        milnce_cues cues = {0};
        milnce_tokens tok = {0};
        for (size_t i = 0; i < c->list.n && ret == 0; i++) {
            if (c->list.v[i].error || !c->list.v[i].path) continue;
            const char *cat;
            milnce_error e2 = {0};
            if (load_narration(c, i, &cues, &cat, &e2) < 0) continue; /* reported when the video is processed */
            ret = count_words(&counter, &cues, &tok, err);
        }
        milnce_cues_free(&cues);
        milnce_tokens_free(&tok);
    }
    if (ret == 0 && !have) {
        if ((ret = milnce_vocab_build(&counter, c->o->vocab_min_count, (size_t)c->o->vocab_max, &c->vocab, err)) == 0)
            ret = milnce_vocab_save(path, &c->vocab, err);
        /* Written after the vocabulary: a kill in between leaves a vocabulary that is rebuilt. */
        char line[80];
        snprintf(line, sizeof line, "%s\n", c->vocab_key);
        if (ret == 0) ret = milnce_write_file_atomic(key_path, line, strlen(line), err);
    }
    milnce_vocab_counter_free(&counter);
    /* Shards depend on the vocabulary's content, not on how it was made: narration that changed
     * without changing the vocabulary remakes only the shards holding it. */
    milnce_ident id;
    if (ret == 0 && (ret = milnce_ident_init(&id, err)) == 0) {
        if ((ret = milnce_ident_file_content(&id, given ? given : path, err)) < 0) milnce_ident_free(&id);
        else milnce_ident_final(&id, c->vocab_digest);
    }
end:
    return ret;
}

static char *sample_json(const ctx *c, const milnce_video_entry *e, const milnce_transcode_info *ti,
                         const char *rendition, const milnce_cues *cues, int64_t after_end, int64_t ending_after, milnce_tokens *tok,
                         milnce_error *err) {
    json_t *root = json_object(), *sents = json_array();
    json_object_set_new(root, "id", json_string(e->id));
    json_object_set_new(root, "source", json_string(e->path));
    json_object_set_new(root, "duration", json_real(ti->duration));
    json_object_set_new(root, "fps", json_real(c->o->fps));
    json_object_set_new(root, "width", json_integer(ti->width));
    json_object_set_new(root, "height", json_integer(ti->height));
    json_object_set_new(root, "frames", json_integer(ti->frames));
    json_object_set_new(root, "source_codec", json_string(ti->src_codec));
    json_object_set_new(root, "source_width", json_integer(ti->src_width));
    json_object_set_new(root, "source_height", json_integer(ti->src_height));
    json_object_set_new(root, "rendition", json_string(rendition));
    for (size_t k = 0; k < cues->n; k++) {
        json_t *s = json_object(), *ids = json_array();
        milnce_tokens_clear(tok);
        if (milnce_tokenize(cues->v[k].text, (size_t)-1, 0, tok, err) < 0) {
            json_decref(s);
            json_decref(ids);
            json_decref(root);
            json_decref(sents);
            return NULL;
        }
        for (size_t w = 0; w < tok->n; w++) {
            int32_t id = milnce_vocab_id(&c->vocab, milnce_tokens_word(tok, w), tok->len[w]);
            if (id > 0) json_array_append_new(ids, json_integer(id));
        }
        json_object_set_new(s, "start", json_real(cues->v[k].start));
        json_object_set_new(s, "end", json_real(cues->v[k].end));
        json_object_set_new(s, "text", json_string(cues->v[k].text));
        json_object_set_new(s, "tokens", ids);
        json_array_append_new(sents, s);
    }
    json_object_set_new(root, "sentences", sents);
    /* Narration past the end (drop_after_end): dropped, and kept but ending after the video. */
    json_object_set_new(root, "sentences_after_end", json_integer(after_end));
    json_object_set_new(root, "sentences_ending_after_end", json_integer(ending_after));
    char *txt = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(root);
    if (!txt) milnce_error_set(err, MILNCE_ERR_NOMEM, "sample JSON of %s", e->id);
    return txt;
}

static int out_fail(rendition_out *out, int code, const char *what) {
    if (!out->failed) {
        out->failed = 1;
        if (what) milnce_error_set(&out->err, code, "%s", what);
    }
    return MILNCE_ERR_IO;
}

static int out_write(void *opaque, const uint8_t *buf, int n) {
    rendition_out *out = opaque;
    if (out->failed) return MILNCE_ERR_IO;
    if (out->w) {
        if (milnce_shard_writer_write(out->w, buf, (size_t)n, &out->err) < 0) return out_fail(out, 0, NULL);
        return 0;
    }
    for (int done = 0; done < n;) {
        ssize_t k = pwrite(out->fd, buf + done, (size_t)(n - done), (off_t)out->pos);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            char msg[256];
            snprintf(msg, sizeof msg, "spool file in the output folder: %s", k < 0 ? strerror(errno) : "no progress");
            return out_fail(out, MILNCE_ERR_IO, msg);
        }
        done += (int)k;
        out->pos += (uint64_t)k;
    }
    if (out->pos > out->size) out->size = out->pos;
    return 0;
}

static int64_t out_seek(void *opaque, int64_t off, int whence) {
    rendition_out *out = opaque;
    if (out->failed) return MILNCE_ERR_IO;
    if (out->w) {
        int64_t p = milnce_shard_writer_seek(out->w, off, whence, &out->err);
        return p < 0 ? out_fail(out, 0, NULL) : p;
    }
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)out->pos
                 : whence == SEEK_END ? (int64_t)out->size : -1;
    if (base < 0 || base + off < 0) return MILNCE_ERR_INVALID;
    out->pos = (uint64_t)(base + off);
    return (int64_t)out->pos;
}

/* An anonymous spool file for the rendition of list entry i: created in the output folder (the
 * shard's file system, not RAM) under a temporary name that remove_stale_temps knows, and
 * unlinked at once, so that nothing stays behind whatever kills the process. */
static int open_spool(const ctx *c, size_t i, milnce_error *err) {
    char p[MILNCE_PATH_MAX];
    int ret = milnce_path(p, sizeof p, err, "%s/train-%06zu.%zu.tmp.spool", c->o->out_dir,
                          i / (size_t)c->o->videos_per_shard, i);
    if (ret < 0) return ret;
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            unlink(p);
            return fd;
        }
        if (errno != EEXIST) break;
        unlink(p); /* left by a killed run */
    }
    return milnce_error_set(err, MILNCE_ERR_IO, "%s: %s", p, strerror(errno));
}

/* The identity of a video's rendition, apart from its narration: the video file (path, size,
 * mtime) and everything that changes the encoded bytes. Recorded in the sample JSON
 * ("rendition"), so that a shard remade for new narration or a new vocabulary copies the .mp4
 * members whose identity is unchanged. */
static int rendition_key(const ctx *c, const milnce_video_entry *e, char hex[65], milnce_error *err) {
    milnce_ident id;
    int ret = milnce_ident_init(&id, err);
    if (ret < 0) return ret;
    milnce_ident_str(&id, "milnce rendition v1");
    milnce_ident_int(&id, MILNCE_TRANSCODE_VERSION);
    milnce_ident_real(&id, c->o->fps);
    milnce_ident_int(&id, c->o->size);
    milnce_ident_int(&id, c->o->crf);
    milnce_ident_real(&id, c->o->max_seconds);
    milnce_ident_file(&id, e->path);
    milnce_ident_final(&id, hex);
    return 0;
}

/* out_dir/train-<k><suffix> (out_dir's length is checked once: it fits). */
static void shard_file(char *out, size_t cap, const ctx *c, int k, const char *suffix) {
    milnce_path(out, cap, NULL, "%s/train-%06d%s", c->o->out_dir, k, suffix);
}

/* The rendition of e in the old shard k when it was made from the same video and options:
 * its .mp4 bytes (mapped) and the rendition facts of its JSON in ti. Returns 1 when found. */
static int old_rendition(ctx *c, int k, const milnce_video_entry *e, const char *key, const uint8_t **mp4,
                         size_t *mp4_size, milnce_transcode_info *ti) {
    if (!c->old) return 0;
    pthread_mutex_lock(&c->old_mu);
    if (!c->old_tried[k]) {
        c->old_tried[k] = 1;
        char p[MILNCE_PATH_MAX];
        shard_file(p, sizeof p, c, k, ".tar");
        milnce_error e2 = {0};
        if (milnce_is_file(p) && milnce_shard_open(&c->old[k], p, NULL, &e2) < 0)
            milnce_log(c->o->lg, MILNCE_LOG_WARN, "%s cannot be read (%s): its videos are transcoded again", p, e2.msg);
    }
    milnce_shard_reader *r = c->old[k];
    pthread_mutex_unlock(&c->old_mu);
    long i = r ? milnce_shard_find(r, e->id) : -1;
    const uint8_t *js;
    size_t js_size;
    if (i < 0 || milnce_shard_get(r, (size_t)i, "json", &js, &js_size, NULL) < 0 ||
        milnce_shard_get(r, (size_t)i, "mp4", mp4, mp4_size, NULL) < 0)
        return 0;
    json_t *j = json_loadb((const char *)js, js_size, 0, NULL);
    const char *was = json_string_value(json_object_get(j, "rendition"));
    const char *codec = json_string_value(json_object_get(j, "source_codec"));
    int ok = was && strcmp(was, key) == 0 && codec && json_is_number(json_object_get(j, "duration"));
    if (ok) {
        memset(ti, 0, sizeof *ti);
        ti->duration = json_number_value(json_object_get(j, "duration"));
        ti->width = (int)json_integer_value(json_object_get(j, "width"));
        ti->height = (int)json_integer_value(json_object_get(j, "height"));
        ti->frames = json_integer_value(json_object_get(j, "frames"));
        ti->src_width = (int)json_integer_value(json_object_get(j, "source_width"));
        ti->src_height = (int)json_integer_value(json_object_get(j, "source_height"));
        snprintf(ti->src_codec, sizeof ti->src_codec, "%s", codec);
    }
    json_decref(j);
    return ok;
}

/* Closes the old shard k (the new one has replaced it). */
static void old_close(ctx *c, int k) {
    if (!c->old) return;
    pthread_mutex_lock(&c->old_mu);
    milnce_shard_close(&c->old[k]);
    pthread_mutex_unlock(&c->old_mu);
}

/* Narration that does not fit its video (the rule, documented in the README): a sentence that
 * starts at or after the end of the rendition (duration, or max_seconds when shorter) is
 * dropped, since no clip can show it (training would pair it with the video's last seconds);
 * one that starts inside and ends after is kept (its clip is clipped at the end as any clip
 * is). Counts both kinds. */
static void drop_after_end(milnce_cues *cues, double duration, int64_t *after, int64_t *ending_after) {
    size_t keep = 0;
    *after = *ending_after = 0;
    for (size_t k = 0; k < cues->n; k++) {
        milnce_cue cu = cues->v[k];
        if (cu.start >= duration) {
            free(cu.text);
            (*after)++;
            continue;
        }
        if (cu.end > duration) (*ending_after)++;
        cues->v[keep++] = cu;
    }
    cues->n = keep;
}

/* Transcodes task's video into r (narration, metadata) and its rendition into direct (a shard
 * writer: the sample is begun here and left open on success, for the caller to end; rolled
 * back on failure) or, when direct is NULL, a spool file handed over in r. */
static void process_one(ctx *c, size_t task, result *r, milnce_shard_writer *direct) {
    size_t i = c->tasks[task];
    const milnce_video_entry *e = &c->list.v[i];
    milnce_error err = {0};
    milnce_cues cues = {0};
    milnce_tokens tok = {0};
    rendition_out out = {.w = direct, .fd = -1};
    memset(r, 0, sizeof *r);
    if (e->error) {
        r->category = e->category ? e->category : MILNCE_VIDEO_UNSAFE_ID;
        r->reason = strdup(e->error);
        goto end;
    }
    if (!e->path) {
        r->category = "missing video";
        r->reason = strdup("no video file");
        goto end;
    }
    const char *cat = NULL;
    if (load_narration(c, i, &cues, &cat, &err) < 0) {
        r->category = cat;
        r->reason = strdup(err.msg);
        goto end;
    }
    if (cues.n == 0) {
        r->category = "empty narration";
        r->reason = strdup("narration has no sentence");
        goto end;
    }
    if (direct && milnce_shard_writer_begin(direct, e->id, "mp4", &err) < 0) {
        r->fatal = 1;
        r->reason = strdup(err.msg);
        goto end;
    }
    if (!direct && (out.fd = open_spool(c, i, &err)) < 0) {
        r->fatal = 1;
        r->reason = strdup(err.msg);
        goto end;
    }
    milnce_encode_sink sink = {.opaque = &out, .write = out_write, .seek = out_seek};
    milnce_transcode_opts to = {.fps = c->o->fps, .size = c->o->size, .crf = c->o->crf, .max_seconds = c->o->max_seconds};
    milnce_transcode_info ti;
    char rkey[65];
    const uint8_t *old_mp4;
    size_t old_size;
    int ret = rendition_key(c, e, rkey, &err);
    if (ret == 0 && old_rendition(c, (int)(i / (size_t)c->o->videos_per_shard), e, rkey, &old_mp4, &old_size, &ti)) {
        /* Same video, same rendition options: the member is copied, not encoded again. */
        for (size_t at = 0; ret == 0 && at < old_size; at += 1u << 30) {
            size_t n = old_size - at < (1u << 30) ? old_size - at : (1u << 30);
            if (out_write(&out, old_mp4 + at, (int)n) < 0) ret = MILNCE_ERR_IO;
        }
        r->copied = ret == 0;
    } else if (ret == 0) {
        ret = milnce_transcode(e->path, &to, &sink, &ti, c->o->lg, &err);
    }
    if (ret < 0 && out.failed) { /* our output failed, not the video */
        r->fatal = 1;
        r->reason = strdup(out.err.msg);
        goto end;
    }
    if (ret < 0) {
        r->category = ret == MILNCE_ERR_UNSUPPORTED ? "unsupported video"
                    : ret == MILNCE_ERR_IO || ret == MILNCE_ERR_NOTFOUND ? "unreadable video" : "bad video";
        r->reason = strdup(err.msg);
        goto end;
    }
    double dur = c->o->max_seconds > 0 && c->o->max_seconds < ti.duration ? c->o->max_seconds : ti.duration;
    r->narrated = (int64_t)cues.n;
    if (dur > 0) drop_after_end(&cues, dur, &r->after_end, &r->ending_after);
    if (cues.n == 0) {
        r->category = "narration after the video's end";
        char msg[200];
        snprintf(msg, sizeof msg, "all %lld sentences start after the video's end (%.3f s): a wrong pairing?",
                 (long long)r->narrated, dur);
        r->reason = strdup(msg);
        goto end;
    }
    if (!(r->json = sample_json(c, e, &ti, rkey, &cues, r->after_end, r->ending_after, &tok, &err))) {
        r->category = "bad narration";
        r->reason = strdup(err.msg);
        goto end;
    }
    r->ok = 1;
    r->mp4_size = direct ? milnce_shard_writer_streamed(direct) : out.size;
    if (!direct) {
        r->has_spool = 1;
        r->spool_fd = out.fd;
        out.fd = -1;
    }
    r->seconds = ti.duration;
    r->sentences = (int64_t)cues.n;
end:
    if (!r->ok && !r->reason) r->reason = strdup("out of memory");
    if (!r->ok && direct && milnce_shard_writer_cancel(direct, &err) < 0 && !r->fatal) {
        r->fatal = 1; /* the shard could not be rolled back */
        free(r->reason);
        r->reason = strdup(err.msg);
    }
    if (out.fd >= 0) close(out.fd);
    milnce_cues_free(&cues);
    milnce_tokens_free(&tok);
}

static void *worker(void *arg) {
    ctx *c = arg;
    size_t window = 2 * (size_t)(c->o->jobs > 0 ? c->o->jobs : 1);
    for (;;) {
        pthread_mutex_lock(&c->mu);
        while (!c->stop && c->next_task < c->ntasks && c->next_task >= c->committed + window)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->stop || c->next_task >= c->ntasks) {
            pthread_mutex_unlock(&c->mu);
            return NULL;
        }
        size_t t = c->next_task++;
        pthread_mutex_unlock(&c->mu);
        result r;
        process_one(c, t, &r, NULL);
        pthread_mutex_lock(&c->mu);
        r.ready = 1;
        c->results[t] = r;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
}

/* Appends the spooled rendition of a sample (size bytes from fd) to w as a streamed member;
 * buf is scratch of cap bytes. */
static int copy_spool(milnce_shard_writer *w, const char *key, int fd, uint64_t size, uint8_t *buf, size_t cap,
                      milnce_error *err) {
    int ret = milnce_shard_writer_begin(w, key, "mp4", err);
    for (uint64_t at = 0; ret == 0 && at < size;) {
        size_t want = size - at < cap ? (size_t)(size - at) : cap;
        ssize_t k = pread(fd, buf, want, (off_t)at);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            ret = milnce_error_set(err, MILNCE_ERR_IO, "reading the spooled rendition of %s: %s", key,
                                   k < 0 ? strerror(errno) : "file shorter than written");
            milnce_error e2 = {0};
            milnce_shard_writer_cancel(w, &e2);
            break;
        }
        ret = milnce_shard_writer_write(w, buf, (size_t)k, err);
        at += (uint64_t)k;
    }
    return ret;
}

/* out_dir was checked to leave room for every shard file name (milnce_preprocess_run). */
/* Reads a complete shard's stats file into the totals (and skips into log/by_reason). */
static int absorb_stats(const char *path, milnce_preprocess_stats *st, json_t *by_reason, FILE *log,
                        milnce_error *err) {
    json_error_t je;
    json_t *s = json_load_file(path, 0, &je);
    if (!s) return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%d: %s", path, je.line, je.text);
    st->videos += json_integer_value(json_object_get(s, "videos"));
    st->skipped += json_integer_value(json_object_get(s, "skipped"));
    st->seconds += json_real_value(json_object_get(s, "seconds"));
    st->sentences += json_integer_value(json_object_get(s, "sentences"));
    st->after_end += json_integer_value(json_object_get(s, "sentences_after_end"));
    st->ending_after += json_integer_value(json_object_get(s, "sentences_ending_after_end"));
    st->narration_warned += (int64_t)json_array_size(json_object_get(s, "narration_warnings"));
    st->bytes += json_integer_value(json_object_get(s, "bytes"));
    size_t i;
    json_t *sk;
    json_array_foreach(json_object_get(s, "skips"), i, sk) {
        const char *cat = json_string_value(json_object_get(sk, "category"));
        if (!cat) cat = "other";
        json_object_set_new(by_reason, cat, json_integer(json_integer_value(json_object_get(by_reason, cat)) + 1));
        if (log)
            fprintf(log, "%s\t%s\t%s\t%s\n", json_string_value(json_object_get(sk, "id")),
                    json_string_value(json_object_get(sk, "path")) ? json_string_value(json_object_get(sk, "path")) : "-",
                    cat, json_string_value(json_object_get(sk, "reason")));
    }
    json_array_foreach(json_object_get(s, "narration_warnings"), i, sk) {
        if (log)
            fprintf(log, "%s\t%s\t%s\t%s\n", json_string_value(json_object_get(sk, "id")),
                    json_string_value(json_object_get(sk, "path")), json_string_value(json_object_get(sk, "category")),
                    json_string_value(json_object_get(sk, "reason")));
    }
    json_decref(s);
    return 0;
}

/* Writes <out>/stats<sfx>.json and errors<sfx>.log from the stats files of shards[0..n), in that
 * order; sfx is ".partI-of-N" for a part of several, "" for the whole (parts = 1), so a merge
 * of every shard writes the bytes a single-process run writes. */
static int write_summary(const char *out_dir, const int *shards, int n, int part, int parts,
                         milnce_preprocess_stats *st, milnce_error *err) {
    json_t *by_reason = json_object();
    char *logbuf = NULL;
    size_t loglen = 0;
    FILE *log = open_memstream(&logbuf, &loglen);
    int ret = 0;
    milnce_preprocess_stats tot = *st;
    tot.videos = tot.skipped = tot.sentences = tot.bytes = 0;
    tot.after_end = tot.ending_after = tot.narration_warned = 0;
    tot.seconds = 0;
    for (int s = 0; s < n && ret == 0; s++) {
        char p[MILNCE_PATH_MAX];
        if ((ret = milnce_path(p, sizeof p, err, "%s/train-%06d.stats.json", out_dir, shards[s])) < 0) break;
        if (milnce_is_file(p)) ret = absorb_stats(p, &tot, by_reason, log, err);
    }
    fclose(log);
    if (ret == 0) {
        json_t *root = json_object();
        json_object_set_new(root, "videos", json_integer(tot.videos));
        json_object_set_new(root, "skipped", json_integer(tot.skipped));
        json_object_set_new(root, "seconds", json_real(tot.seconds));
        json_object_set_new(root, "sentences", json_integer(tot.sentences));
        json_object_set_new(root, "sentences_after_end", json_integer(tot.after_end));
        json_object_set_new(root, "sentences_ending_after_end", json_integer(tot.ending_after));
        json_object_set_new(root, "videos_losing_most_narration", json_integer(tot.narration_warned));
        json_object_set_new(root, "bytes", json_integer(tot.bytes));
        json_object_set_new(root, "shards", json_integer(n));
        json_object_set_new(root, "shard_index", json_integer(part));
        json_object_set_new(root, "num_shards", json_integer(parts));
        json_object_set_new(root, "skips_by_reason", by_reason);
        by_reason = NULL;
        char *txt = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
        json_decref(root);
        char p[MILNCE_PATH_MAX], q[MILNCE_PATH_MAX], sfx[64] = "";
        if (parts > 1) snprintf(sfx, sizeof sfx, ".part%d-of-%d", part, parts);
        if ((ret = milnce_path(p, sizeof p, err, "%s/stats%s.json", out_dir, sfx)) == 0)
            ret = milnce_path(q, sizeof q, err, "%s/errors%s.log", out_dir, sfx);
        if (ret == 0) ret = txt ? milnce_write_file_atomic(p, txt, strlen(txt), err) : milnce_error_set(err, MILNCE_ERR_NOMEM, "stats");
        free(txt);
        if (ret == 0) ret = milnce_write_file_atomic(q, logbuf ? logbuf : "", loglen, err);
    }
    json_decref(by_reason);
    free(logbuf);
    *st = tot;
    return ret;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int milnce_preprocess_merge_stats(const char *out_dir, milnce_preprocess_stats *st, milnce_error *err) {
    memset(st, 0, sizeof *st);
    DIR *d = opendir(out_dir);
    if (!d) return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: %s", out_dir, strerror(errno));
    int *ks = NULL, n = 0, cap = 0, ret = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        int k, len = 0;
        if (sscanf(de->d_name, "train-%6d.stats.json%n", &k, &len) != 1 || len != 23 || de->d_name[len]) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            int *nk = realloc(ks, sizeof *nk * (size_t)cap);
            if (!nk) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "shard list"); break; }
            ks = nk;
        }
        ks[n++] = k;
    }
    closedir(d);
    if (ret == 0 && n == 0) ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: no complete shard (train-NNNNNN.stats.json)", out_dir);
    if (ret == 0) {
        qsort(ks, (size_t)n, sizeof *ks, cmp_int);
        for (int i = 0; i < n && ret == 0; i++)
            if (ks[i] != i)
                ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: shard %d is not complete (no train-%06d.stats.json) "
                                       "while shard %d is: a part has not finished", out_dir, i, i, ks[n - 1]);
    }
    if (ret == 0) ret = write_summary(out_dir, ks, n, 0, 1, st, err);
    if (ret == 0) st->shards_total = n;
    free(ks);
    return ret;
}

/* A part that finds every shard of the list complete and made from this run's inputs (the
 * last part to finish) writes the merged stats.json and errors.log. Parts finishing together
 * both write the same bytes, atomically. Returns 1 when it merged. */
static int merge_if_last(ctx *c, int nshards, milnce_error *err) {
    int *all = malloc(sizeof *all * (size_t)(nshards + 1));
    if (!all) return milnce_error_set(err, MILNCE_ERR_NOMEM, "shard list");
    int ret = 1;
    for (int k = 0; k < nshards && ret == 1; k++) {
        char p[MILNCE_PATH_MAX], want[65], have[65];
        all[k] = k;
        shard_file(p, sizeof p, c, k, ".stats.json");
        if (!milnce_is_file(p)) { ret = 0; break; }
        if (c->o->keep_complete) continue;
        read_stats_key(p, have);
        int r = make_shard_key(c, k, want, err);
        if (r < 0) ret = r;
        else if (strcmp(have, want) != 0) ret = 0;
    }
    milnce_preprocess_stats merged = {0};
    if (ret == 1 && (ret = write_summary(c->o->out_dir, all, nshards, 0, 1, &merged, err)) == 0) ret = 1;
    free(all);
    return ret;
}

/* The options a run cannot start without. */
static int check_opts(const milnce_preprocess_opts *o, milnce_error *err) {
    if (!o->video_list || !o->captions || !o->out_dir)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "preprocess needs a video list, a narration source and an output folder");
    if (o->num_shards < 1 || o->shard_index < 0 || o->shard_index >= o->num_shards)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "shard index %d is not in [0, %d)", o->shard_index, o->num_shards);
    if (o->videos_per_shard < 1) return milnce_error_set(err, MILNCE_ERR_RANGE, "videos per shard must be >= 1");
    /* Every file made here is out_dir + "/" + a name of at most 64 bytes (the longest: errors.partI-of-N.log,
     * train-NNNNNN.idx.json.tmp.<pid>.<n>); checked once so that no name is cut further down. */
    if (strlen(o->out_dir) + 1 + 64 >= MILNCE_PATH_MAX)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "output folder path too long (over %d bytes): %.64s...",
                                MILNCE_PATH_MAX - 66, o->out_dir);
    return 0;
}

/* Where the narration comes from: "embedded" (the videos' subtitle streams), a folder of
 * transcripts, or one caption.json. */
static int narration_mode(ctx *c, milnce_error *err) {
    struct stat cs;
    if (strcmp(c->o->captions, "embedded") == 0) c->narr_mode = NARR_EMBEDDED;
    else if (stat(c->o->captions, &cs) < 0)
        return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: %s", c->o->captions, strerror(errno));
    else c->narr_mode = S_ISDIR(cs.st_mode) ? NARR_FOLDER : NARR_JSON;
    return 0;
}

/* This part's shards (c->mine) and, of those, the ones to make (c->pending, with their input
 * keys): a shard whose stats.json records this run's inputs stands; one made from other inputs
 * loses its stats.json first. The videos of the pending shards become c->tasks, in list order. */
static int plan_shards(ctx *c, milnce_preprocess_stats *st, milnce_error *err) {
    const milnce_preprocess_opts *o = c->o;
    for (int k = o->shard_index; k < c->nshards; k += o->num_shards) {
        c->mine[c->nmine++] = k;
        char p[MILNCE_PATH_MAX], have[65];
        int ret = make_shard_key(c, k, c->keys[c->npending], err);
        if (ret < 0) return ret;
        shard_file(p, sizeof p, c, k, ".stats.json");
        if (milnce_is_file(p)) {
            read_stats_key(p, have);
            if (o->keep_complete || strcmp(have, c->keys[c->npending]) == 0) { st->shards_reused++; continue; }
            /* Made from other inputs (or by a version that did not record them). Its stats go
             * first, so that no kill from here on leaves it looking complete. */
            milnce_log(o->lg, MILNCE_LOG_WARN, "%s: shard %d was made from other videos, narration or options: making it again",
                       o->out_dir, k);
            if (unlink(p) < 0) return milnce_error_set(err, MILNCE_ERR_IO, "%s: %s", p, strerror(errno));
            st->shards_remade++;
        }
        c->pending[c->npending++] = k;
        remove_stale_temps(o->out_dir, k);
        for (size_t i = (size_t)k * o->videos_per_shard; i < c->list.n && i < (size_t)(k + 1) * o->videos_per_shard; i++)
            c->tasks[c->ntasks++] = i;
    }
    return 0;
}

/* What one shard's stats.json says: its videos, skips and narration notes. */
typedef struct shard_tally {
    json_t *skips, *notes; /* arrays of {id, path, line, category, reason} */
    int64_t videos, skipped, sentences, after_end, ending_after;
    double seconds;
} shard_tally;

/* An {id, path, line, category, reason} record of errors.log. */
static json_t *video_note(const milnce_video_entry *e, const char *category, const char *reason) {
    json_t *nt = json_object();
    json_object_set_new(nt, "id", json_string(e->id));
    json_object_set_new(nt, "path", e->path ? json_string(e->path) : json_null());
    json_object_set_new(nt, "line", json_integer((json_int_t)e->line));
    json_object_set_new(nt, "category", json_string(category));
    json_object_set_new(nt, "reason", json_string(reason));
    return nt;
}

/* The result of task: made here (one job) or taken from the workers, in list order. */
static void take_result(ctx *c, size_t task, milnce_shard_writer *direct, result *r) {
    if (direct) {
        process_one(c, task, r, direct);
        return;
    }
    pthread_mutex_lock(&c->mu);
    while (!c->results[task].ready) pthread_cond_wait(&c->cv, &c->mu);
    *r = c->results[task];
    memset(&c->results[task], 0, sizeof *r);
    c->results[task].ready = 1;
    pthread_mutex_unlock(&c->mu);
}

/* Writes a made video into the shard (its spooled rendition, then its JSON) and counts it, or
 * records a skipped one. An output error fails the run. */
static int commit_result(ctx *c, const milnce_video_entry *e, const result *r, milnce_shard_writer *w,
                         shard_tally *t, milnce_preprocess_stats *st, milnce_error *err) {
    int ret = 0;
    if (r->fatal) return milnce_error_set(err, MILNCE_ERR_IO, "%s: %s", e->id, r->reason ? r->reason : "output error");
    if (!r->ok) {
        json_array_append_new(t->skips, video_note(e, r->category ? r->category : "other", r->reason ? r->reason : "?"));
        t->skipped++;
        milnce_log(c->o->lg, MILNCE_LOG_WARN, "skipped %s: %s", e->id, r->reason ? r->reason : "?");
        return 0;
    }
    milnce_shard_member js = {"json", r->json, strlen(r->json)};
    if (r->has_spool) ret = copy_spool(w, e->id, r->spool_fd, r->mp4_size, c->copybuf, c->copycap, err);
    if (ret == 0) ret = milnce_shard_writer_end(w, &js, 1, err);
    if (ret < 0) return ret;
    if (r->copied) st->renditions_copied++;
    else {
        st->renditions_encoded++;
        st->bytes_encoded += (int64_t)r->mp4_size;
    }
    t->videos++;
    t->seconds += r->seconds;
    t->sentences += r->sentences;
    t->after_end += r->after_end;
    t->ending_after += r->ending_after;
    if (2 * r->after_end > r->narrated) {
        char msg[200];
        snprintf(msg, sizeof msg, "kept; %lld of %lld sentences start after the video's end (%.3f s) and were dropped",
                 (long long)r->after_end, (long long)r->narrated, r->seconds);
        json_array_append_new(t->notes, video_note(e, "narration after the video's end", msg));
    }
    return 0;
}

/* Marks task committed (the workers may run further ahead) and reports progress. */
static void task_done(ctx *c, size_t task, const result *r) {
    pthread_mutex_lock(&c->mu);
    c->committed = task + 1;
    c->prog.done++;
    c->prog.skipped += !r->ok;
    c->prog.video_seconds += r->ok ? r->seconds : 0;
    c->prog.elapsed = now_s() - c->t_start;
    milnce_preprocess_progress p = c->prog;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (c->o->progress) c->o->progress(c->o->progress_user, &p);
}

/* Shard k's stats.json (atomically): what it holds and the input key it was made from. Takes
 * the tally's arrays. */
static int write_shard_stats(const ctx *c, int k, const char *key, shard_tally *t, milnce_error *err) {
    char p[MILNCE_PATH_MAX];
    int64_t bytes = 0;
    struct stat ts;
    shard_file(p, sizeof p, c, k, ".tar");
    if (t->videos > 0 && stat(p, &ts) == 0) bytes = ts.st_size;
    json_t *stats = json_object();
    json_object_set_new(stats, "shard", json_integer(k));
    json_object_set_new(stats, "inputs", json_string(key));
    json_object_set_new(stats, "videos", json_integer(t->videos));
    json_object_set_new(stats, "skipped", json_integer(t->skipped));
    json_object_set_new(stats, "seconds", json_real(t->seconds));
    json_object_set_new(stats, "sentences", json_integer(t->sentences));
    json_object_set_new(stats, "sentences_after_end", json_integer(t->after_end));
    json_object_set_new(stats, "sentences_ending_after_end", json_integer(t->ending_after));
    json_object_set_new(stats, "bytes", json_integer(bytes));
    json_object_set_new(stats, "skips", t->skips);
    json_object_set_new(stats, "narration_warnings", t->notes);
    t->skips = t->notes = NULL;
    char *txt = json_dumps(stats, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
    shard_file(p, sizeof p, c, k, ".stats.json");
    int ret = txt ? milnce_write_file_atomic(p, txt, strlen(txt), err) : milnce_error_set(err, MILNCE_ERR_NOMEM, "stats");
    free(txt);
    json_decref(stats);
    return ret;
}

/* Makes pending shard number s: its videos from *task on, in list order, into a new
 * train-NNNNNN.tar, then its stats.json. */
static int make_shard(ctx *c, int s, size_t *task, int direct, milnce_preprocess_stats *st, milnce_error *err) {
    const milnce_preprocess_opts *o = c->o;
    int k = c->pending[s], ret;
    if (o->cancel && *o->cancel) return milnce_error_set(err, MILNCE_ERR_INTERRUPTED, "stopped before shard %d", k);
    char prefix[MILNCE_PATH_MAX];
    milnce_path(prefix, sizeof prefix, NULL, "%s/train", o->out_dir); /* fits: checked at the start */
    milnce_shard_writer_opts wo = {.prefix = prefix, .first_shard = k};
    milnce_shard_writer *w = NULL;
    if ((ret = milnce_shard_writer_open(&w, &wo, err)) < 0) return ret;
    shard_tally t = {.skips = json_array(), .notes = json_array()};
    size_t end_i = (size_t)(k + 1) * o->videos_per_shard;
    for (; *task < c->ntasks && c->tasks[*task] < end_i; (*task)++) {
        result r;
        take_result(c, *task, direct ? w : NULL, &r);
        ret = commit_result(c, &c->list.v[c->tasks[*task]], &r, w, &t, st, err);
        if (r.has_spool) close(r.spool_fd);
        free(r.json);
        free(r.reason);
        task_done(c, *task, &r);
        if (ret < 0) break;
    }
    if (ret == 0) ret = milnce_shard_writer_close(w, err);
    if (ret == 0) {
        ret = write_shard_stats(c, k, c->keys[s], &t, err);
        st->shards_written++;
    }
    json_decref(t.skips);
    json_decref(t.notes);
    milnce_shard_writer_free(&w);
    old_close(c, k);
    return ret;
}

/* The part's summary (stats and errors.log of its shards) and, when every part is complete,
 * the merged one; the narration warning. */
static int finish_part(ctx *c, int ret, milnce_preprocess_stats *st, milnce_error *err) {
    const milnce_preprocess_opts *o = c->o;
    milnce_error e2 = {0};
    int r2 = write_summary(o->out_dir, c->mine, c->nmine, o->shard_index, o->num_shards, st, ret == 0 ? err : &e2);
    if (ret == 0) ret = r2;
    if (ret == 0 && o->num_shards > 1) {
        int m = merge_if_last(c, c->nshards, err);
        if (m < 0) ret = m;
        st->merged = m == 1;
        if (m == 1)
            milnce_log(o->lg, MILNCE_LOG_INFO, "every part is complete: wrote the merged %s/stats.json and errors.log", o->out_dir);
    }
    if (r2 == 0 && st->narration_warned > 0)
        milnce_log(o->lg, MILNCE_LOG_WARN, "%lld videos lost more than half of their narration (%lld sentences in all start "
                   "after their video's end and were dropped): a wrong video/narration pairing? details in %s/errors.log",
                   (long long)st->narration_warned, (long long)st->after_end, o->out_dir);
    return ret;
}

/* Makes the pending shards in order. One job: this thread transcodes each video straight into
 * the shard (no worker, no spool). Several: workers run ahead in list order and spool, this
 * thread copies. */
static int make_shards(ctx *c, milnce_preprocess_stats *st, milnce_error *err) {
    int direct = c->o->jobs <= 1, nth = direct ? 0 : c->o->jobs, ret = 0;
    pthread_t *th = calloc((size_t)nth + 1, sizeof *th);
    c->copycap = 1 << 16;
    if (!th || (!direct && !(c->copybuf = malloc(c->copycap)))) {
        free(th);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "workers");
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    for (int t = 0; t < nth; t++) pthread_create(&th[t], NULL, worker, c);
    size_t task = 0;
    for (int s = 0; s < c->npending && ret == 0; s++) ret = make_shard(c, s, &task, direct, st, err);
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    for (int t = 0; t < nth; t++) pthread_join(th[t], NULL);
    for (size_t t = 0; t < c->ntasks; t++) {
        if (c->results[t].has_spool) close(c->results[t].spool_fd);
        free(c->results[t].json);
        free(c->results[t].reason);
    }
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(th);
    return ret;
}

/* The shard lists, the task list and the per-task results, sized from the video list. */
static int alloc_plan(ctx *c, milnce_error *err) {
    size_t ns = (size_t)c->nshards + 1;
    c->mine = malloc(sizeof *c->mine * ns);
    c->pending = malloc(sizeof *c->pending * ns);
    c->keys = malloc(sizeof *c->keys * ns);
    c->tasks = malloc(sizeof *c->tasks * (c->list.n + 1));
    c->old = calloc(ns, sizeof *c->old);
    c->old_tried = calloc(ns, 1);
    c->results = calloc(c->list.n + 1, sizeof *c->results);
    if (!c->mine || !c->pending || !c->keys || !c->tasks || !c->old || !c->old_tried || !c->results)
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "task list");
    pthread_mutex_init(&c->old_mu, NULL);
    c->old_mu_ready = 1;
    return 0;
}

static void free_ctx(ctx *c) {
    free(c->copybuf);
    free(c->results);
    free(c->pending);
    free(c->keys);
    free(c->mine);
    free(c->tasks);
    for (size_t j = 0; j < c->njentries; j++) {
        free(c->jentries[j].id);
        milnce_cues_free(&c->jentries[j].cues);
    }
    free(c->jentries);
    if (c->old)
        for (int k = 0; k < c->nshards; k++) milnce_shard_close(&c->old[k]);
    if (c->old_mu_ready) pthread_mutex_destroy(&c->old_mu);
    free(c->old);
    free(c->old_tried);
    milnce_vocab_free(&c->vocab);
    milnce_video_list_free(&c->list);
}

int milnce_preprocess_run(const milnce_preprocess_opts *o, milnce_preprocess_stats *st, milnce_error *err) {
    ctx c;
    memset(&c, 0, sizeof c);
    memset(st, 0, sizeof *st);
    c.o = o;
    c.t_start = now_s();
    int ret;
    if ((ret = check_opts(o, err)) < 0 || (ret = milnce_mkdirs(o->out_dir, err)) < 0) return ret;
    /* One process per part of a folder: parts share it, a second run of the same part is
     * refused (it would remove the first one's temporary files). */
    char lockname[64] = ".lock";
    if (o->num_shards > 1) snprintf(lockname, sizeof lockname, ".lock.part%d-of-%d", o->shard_index, o->num_shards);
    milnce_run_lock lock = {.fd = -1};
    if ((ret = milnce_run_lock_take(&lock, o->out_dir, lockname, err)) < 0) return ret;
    if ((ret = narration_mode(&c, err)) < 0 || (ret = milnce_video_list_read(o->video_list, o->video_root, &c.list, err)) < 0)
        goto end;
    c.nshards = (int)((c.list.n + (size_t)o->videos_per_shard - 1) / (size_t)o->videos_per_shard);
    st->shards_total = c.nshards;
    if ((ret = alloc_plan(&c, err)) < 0) goto end;
    st->shards_removed = remove_shards_beyond(&c, c.nshards);
    if ((ret = make_vocab_key(&c, err)) < 0 || (ret = prepare_vocab(&c, err)) < 0) goto end;
    if ((ret = plan_shards(&c, st, err)) < 0 || (ret = keep_caption_entries(&c, err)) < 0) goto end;
    c.prog.total = (int64_t)c.ntasks;
    ret = make_shards(&c, st, err);
    if (ret == 0 || ret == MILNCE_ERR_INTERRUPTED) ret = finish_part(&c, ret, st, err);
end:
    free_ctx(&c);
    milnce_run_lock_release(&lock);
    return ret;
}
