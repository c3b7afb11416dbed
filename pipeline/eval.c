/* `milnce eval`: evaluation sets -> clip and text embeddings -> retrieval metrics -> eval.json
 * (+ thumbnails of the examples). See pipeline/eval.h for the protocol. */
#include "eval.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "fileutil.h"
#include "image_write.h"
#include "model.h"
#include "npy.h"
#include "tokenizer.h"
#include "shard.h"
#include "video_list.h"

#define TIE_RULE "rank = 1 + number of items scoring strictly higher than the ground truth (ties count in the query's favour)"
#define TIE_RULE_OFFICIAL "MIL-NCE_HowTo100M metrics.compute_metrics: a ground truth tied with t other items counts t + 1 times, at the positions rank-1 .. rank-1+t of a descending sort; R@K, median and mean over all these entries"
#define IDENTICAL_WARN_FRACTION 0.02 /* clips sharing an embedding with a different clip */
#define COVERAGE_WARN 0.9

/* One query: a sentence and its clip. */
typedef struct eval_item {
    char *video_id;
    char *text;
    double start, end; /* seconds; end < 0: the whole video (filled once decoded) */
    char *path;        /* video file, NULL for a shard sample or a missing video */
    int shard;         /* shard reader index, -1 for files */
    size_t sample;
} eval_item;

typedef struct eval_set {
    eval_item *v;
    size_t n, cap;
    milnce_shard_reader **shards;
    size_t nshards;
} eval_set;

static void set_free(eval_set *s) {
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].video_id);
        free(s->v[i].text);
        free(s->v[i].path);
    }
    free(s->v);
    for (size_t i = 0; i < s->nshards; i++) milnce_shard_close(&s->shards[i]);
    free(s->shards);
    memset(s, 0, sizeof *s);
}

static int set_add(eval_set *s, const char *id, const char *text, double start, double end, char *path,
                   int shard, size_t sample, milnce_error *err) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        eval_item *v = realloc(s->v, cap * sizeof *v);
        if (!v) { free(path); return milnce_error_set(err, MILNCE_ERR_NOMEM, "eval items"); }
        s->v = v;
        s->cap = cap;
    }
    eval_item *it = &s->v[s->n];
    it->video_id = strdup(id);
    it->text = strdup(text);
    it->start = start;
    it->end = end;
    it->path = path;
    it->shard = shard;
    it->sample = sample;
    if (!it->video_id || !it->text) {
        free(it->video_id); free(it->text); free(path);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "eval items");
    }
    s->n++;
    return 0;
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* An id from a CSV names a file under the video root: no separators, no "." / "..", no control
 * characters, so it can never reach outside the root. */
static int id_unsafe(const char *id) {
    if (!id[0] || strcmp(id, ".") == 0 || strcmp(id, "..") == 0 || strpbrk(id, "/\\")) return 1;
    for (const unsigned char *s = (const unsigned char *)id; *s; s++)
        if (*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

/* <root>/<id>.<ext>, <root>/<task>/<id>.<ext>, or <root>/<id> when the id carries its extension;
 * malloc'ed, or NULL when none exists. */
static char *resolve_video(const char *root, const char *task, const char *id) {
    char p[MILNCE_PATH_MAX]; /* a path too long to build is one that does not exist here */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && (!task || id_unsafe(task))) break;
        for (int e = 0; milnce_video_exts[e]; e++) {
            int ok = pass == 0 ? milnce_path(p, sizeof p, NULL, "%s/%s.%s", root, id, milnce_video_exts[e])
                               : milnce_path(p, sizeof p, NULL, "%s/%s/%s.%s", root, task, id, milnce_video_exts[e]);
            if (ok == 0 && is_file(p)) return strdup(p);
        }
    }
    if (milnce_path(p, sizeof p, NULL, "%s/%s", root, id) < 0) return NULL;
    return strchr(id, '.') && is_file(p) ? strdup(p) : NULL;
}

static int parse_seconds(const char *s, double *out) {
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    while (*end == ' ') end++;
    if (end == s || *end || errno || !isfinite(x) || x < 0) return -1;
    *out = x;
    return 0;
}

/* YouCook2 (end,start,task,text,video_id) or MSR-VTT (key,vid_key,video_id,sentence). */
static int read_csv_set(const milnce_config *cfg, int msrvtt, eval_set *s, milnce_error *err) {
    const char *path = cfg->eval.csv;
    char *buf = NULL, root[MILNCE_PATH_MAX];
    size_t n = 0;
    if (!path[0]) return milnce_error_set(err, MILNCE_ERR_INVALID, "key eval.csv: no evaluation CSV given");
    int ret = milnce_read_file(path, 0, &buf, &n, NULL, err);
    if (ret < 0) return milnce_error_prefix(err, "key eval.csv");
    if (cfg->eval.video_root[0]) ret = milnce_path(root, sizeof root, err, "%s", cfg->eval.video_root);
    else {
        ret = milnce_path(root, sizeof root, err, "%s", path);
        char *slash = strrchr(root, '/');
        if (slash) *slash = '\0';
        else strcpy(root, ".");
    }
    if (ret < 0) {
        free(buf);
        return ret;
    }
    milnce_csv c;
    milnce_csv_init(&c, buf, n);
    int col_id = -1, col_text = -1, col_start = -1, col_end = -1, col_task = -1;
    if ((ret = milnce_csv_next(&c, path, err)) <= 0) {
        if (ret == 0) ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: empty CSV (no header)", path);
        goto end;
    }
    for (size_t i = 0; i < c.nfields; i++) {
        const char *h = c.fields[i];
        if (strcmp(h, "video_id") == 0) col_id = (int)i;
        else if (strcmp(h, msrvtt ? "sentence" : "text") == 0) col_text = (int)i;
        else if (!msrvtt && strcmp(h, "start") == 0) col_start = (int)i;
        else if (!msrvtt && strcmp(h, "end") == 0) col_end = (int)i;
        else if (!msrvtt && strcmp(h, "task") == 0) col_task = (int)i;
    }
    if (col_id < 0 || col_text < 0 || (!msrvtt && (col_start < 0 || col_end < 0))) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:1: header lacks %s (eval.format %s expects %s)", path,
                               col_id < 0 ? "video_id" : col_text < 0 ? (msrvtt ? "sentence" : "text") : col_start < 0 ? "start" : "end",
                               msrvtt ? "msrvtt" : "youcook2", msrvtt ? "key,vid_key,video_id,sentence" : "end,start,task,text,video_id");
        goto end;
    }
    int need = col_id;
    if (col_text > need) need = col_text;
    if (col_start > need) need = col_start;
    if (col_end > need) need = col_end;
    while ((ret = milnce_csv_next(&c, path, err)) > 0) {
        if ((int)c.nfields <= need) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%zu: %zu fields, the header has more", path, c.record_line, c.nfields);
            goto end;
        }
        double st = 0, en = -1;
        if (!msrvtt) {
            if (parse_seconds(c.fields[col_start], &st) < 0 || parse_seconds(c.fields[col_end], &en) < 0) {
                ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%zu: bad start/end '%s', '%s' (seconds expected)", path,
                                       c.record_line, c.fields[col_start], c.fields[col_end]);
                goto end;
            }
            if (en < st) {
                ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%zu: end %g is before start %g", path, c.record_line, en, st);
                goto end;
            }
        }
        const char *id = c.fields[col_id];
        char *vp = id_unsafe(id) ? NULL : resolve_video(root, col_task >= 0 ? c.fields[col_task] : NULL, id);
        if ((ret = set_add(s, id, c.fields[col_text], st, en, vp, -1, 0, err)) < 0) goto end;
    }
    if (ret == 0 && s->n == 0) ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: no rows after the header", path);
end:
    milnce_csv_free(&c);
    free(buf);
    return ret < 0 ? ret : 0;
}

/* Held-out shards: every sentence of every sample is a query. */
static int read_shard_set(const milnce_config *cfg, eval_set *s, const milnce_logger *lg, milnce_error *err) {
    const char *p = cfg->eval.csv;
    if (!p[0]) return milnce_error_set(err, MILNCE_ERR_INVALID, "key eval.csv: no shard folder given (eval.format shards)");
    char **names = NULL;
    size_t n = 0;
    int ret = milnce_shard_list(p, &names, &n, err);
    if (ret < 0) return milnce_error_prefix(err, "key eval.csv");
    if (!(s->shards = calloc(n, sizeof *s->shards))) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "shards"); goto end; }
    for (size_t i = 0; i < n; i++) {
        if ((ret = milnce_shard_open(&s->shards[s->nshards], names[i], NULL, err)) < 0) goto end;
        milnce_shard_reader *r = s->shards[s->nshards++];
        for (size_t k = 0; k < milnce_shard_count(r); k++) {
            const uint8_t *js, *mp4;
            size_t jn, mn;
            const char *key = milnce_shard_key(r, k);
            if (milnce_shard_get(r, k, "json", &js, &jn, NULL) < 0 || milnce_shard_get(r, k, "mp4", &mp4, &mn, NULL) < 0) {
                milnce_log(lg, MILNCE_LOG_WARN, "%s: sample %s lacks .mp4 or .json; ignored", names[i], key);
                continue;
            }
            json_error_t je;
            json_t *root = json_loadb((const char *)js, jn, 0, &je);
            json_t *arr = root ? json_object_get(root, "sentences") : NULL;
            if (!json_is_array(arr)) {
                milnce_log(lg, MILNCE_LOG_WARN, "%s: %s.json: %s; sample ignored", names[i], key, root ? "no sentences array" : je.text);
                json_decref(root);
                continue;
            }
            for (size_t j = 0; j < json_array_size(arr); j++) {
                json_t *e = json_array_get(arr, j);
                const char *text = json_string_value(json_object_get(e, "text"));
                double a = json_number_value(json_object_get(e, "start")), b = json_number_value(json_object_get(e, "end"));
                if (!text || !isfinite(a) || !isfinite(b) || b < a) continue;
                if ((ret = set_add(s, key, text, a, b, NULL, (int)(s->nshards - 1), k, err)) < 0) {
                    json_decref(root);
                    goto end;
                }
            }
            json_decref(root);
        }
    }
    if (s->n == 0) ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "key eval.csv: %s: shards hold no sentence", p);
end:
    milnce_shard_list_free(names, n);
    return ret;
}

/* Opens the video of an item ("missing" when it has none). */
static int open_item(const eval_set *s, const eval_item *it, const milnce_logger *lg, milnce_decoder **dec, milnce_error *err) {
    if (it->shard >= 0) {
        const uint8_t *d;
        size_t sz;
        int ret = milnce_shard_get(s->shards[it->shard], it->sample, "mp4", &d, &sz, err);
        if (ret < 0) return ret;
        char name[300]; /* a name for messages only: a cut one is harmless */
        snprintf(name, sizeof name, "%.255s.mp4", it->video_id);
        return milnce_decoder_open_memory(dec, d, sz, name, lg, err);
    }
    if (!it->path)
        return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "no file <id>.<video extension> under eval.video_root (or its <task>/ folder)");
    return milnce_decoder_open(dec, it->path, lg, err);
}

static int same_video(const eval_item *a, const eval_item *b) {
    if (a->shard != b->shard) return 0;
    if (a->shard >= 0) return a->sample == b->sample;
    return strcmp(a->video_id, b->video_id) == 0;
}

static json_t *recall_json(const milnce_recall *r) {
    json_t *o = json_object();
    json_object_set_new(o, "r1", json_real(r->r1));
    json_object_set_new(o, "r5", json_real(r->r5));
    json_object_set_new(o, "r10", json_real(r->r10));
    json_object_set_new(o, "median_rank", json_real(r->median_rank));
    json_object_set_new(o, "mean_rank", json_real(r->mean_rank));
    return o;
}

/* A thumbnail of item j: the frame at the middle of its clip, short side 128, centre square. */
static int write_thumb(milnce_eval_model *m, const eval_set *s, size_t j, const char *out_dir, char *rel,
                       size_t relcap, const milnce_logger *lg, milnce_error *err) {
    const eval_item *it = &s->v[j];
    milnce_decoder *dec = NULL;
    int ret = open_item(s, it, lg, &dec, err);
    if (ret < 0) return ret;
    double mid = 0.5 * (it->start + it->end);
    milnce_clip_spec spec = {.start = mid, .end = mid + 2.0 / m->cfg.data.fps, .fps = m->cfg.data.fps, .size = 128,
                             .crop = MILNCE_CROP_CENTER, .crop_size = 128, .max_frames = 1};
    if ((ret = milnce_decoder_clip(dec, &spec, &m->frames, err)) >= 0 && m->frames.t == 0) {
        spec.start = it->start;
        spec.end = it->start + 2.0 / m->cfg.data.fps;
        ret = milnce_decoder_clip(dec, &spec, &m->frames, err);
    }
    milnce_decoder_free(&dec);
    if (ret < 0) return ret;
    if (m->frames.t == 0) return milnce_error_set(err, MILNCE_ERR_DECODE, "%s: no frame at %.2f s", it->video_id, mid);
    char path[MILNCE_PATH_MAX];
    if ((ret = milnce_path(rel, relcap, err, "thumbs/item-%06zu.jpg", j)) < 0 ||
        (ret = milnce_path(path, sizeof path, err, "%s/%s", out_dir, rel)) < 0)
        return ret;
    milnce_image_opts io = {.format = MILNCE_IMAGE_JPEG, .quality = 85};
    return milnce_image_write_file(path, m->frames.data, m->frames.w, m->frames.h, m->frames.w * 3, &io, err);
}

static void l2_normalise(float *x, size_t n, size_t d) {
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t k = 0; k < d; k++) s += (double)x[i * d + k] * x[i * d + k];
        float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
        for (size_t k = 0; k < d; k++) x[i * d + k] *= inv;
    }
}

static int write_ids(const char *path, char *const *ids, const double *st, const double *en, char *const *q,
                     size_t n, milnce_error *err) {
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s", path);
    for (size_t i = 0; i < n; i++) {
        fprintf(mem, "%s\t%.3f\t%.3f\t", ids[i], st[i], en[i]);
        for (const char *c = q[i]; *c; c++) fputc(*c == '\n' || *c == '\r' || *c == '\t' ? ' ' : *c, mem);
        fputc('\n', mem);
    }
    fclose(mem);
    int ret = milnce_write_file_atomic(path, buf, len, err);
    free(buf);
    return ret;
}

/* Examples: evenly spaced queries with their top videos (and thumbnails). */
static json_t *examples_json(milnce_eval_model *m, const eval_set *s, const milnce_eval_result *r,
                             const milnce_eval_opts *o, const char *out_dir) {
    json_t *arr = json_array();
    int ne = o->num_examples == 0 ? 5 : o->num_examples, top = o->top > 0 ? o->top : 5;
    if (ne <= 0) return arr;
    size_t n = r->n, D = r->dim;
    if ((size_t)ne > n) ne = (int)n;
    if ((size_t)top > n) top = (int)n;
    float *sc = malloc(n * sizeof *sc);
    uint8_t *taken = malloc(n);
    char **thumb = calloc(n, sizeof *thumb); /* written thumbnails, by item */
    uint8_t *failed = calloc(n, 1);
    if (!sc || !taken || !thumb || !failed) goto end;
    if (o->thumbnails) {
        char td[MILNCE_PATH_MAX];
        milnce_error e = {0};
        if (milnce_path(td, sizeof td, &e, "%s/thumbs", out_dir) < 0 || milnce_mkdirs(td, &e) < 0) {
            milnce_log(o->lg, MILNCE_LOG_WARN, "thumbnails: %s", e.msg);
            memset(failed, 1, n);
        }
    }
    for (int k = 0; k < ne; k++) {
        size_t q = (size_t)k * n / (size_t)ne;
        for (size_t j = 0; j < n; j++) {
            double d = 0;
            for (size_t c = 0; c < D; c++) d += (double)r->text[q * D + c] * r->video[j * D + c];
            sc[j] = (float)d;
        }
        memset(taken, 0, n);
        json_t *ex = json_object(), *tops = json_array();
        json_object_set_new(ex, "query", json_string(r->queries[q]));
        json_object_set_new(ex, "gt_video", json_string(r->video_ids[q]));
        json_object_set_new(ex, "gt_start", json_real(r->start[q]));
        json_object_set_new(ex, "gt_end", json_real(r->end[q]));
        json_object_set_new(ex, "rank", json_integer(r->t2v_rank[q]));
        for (int t = 0; t < top; t++) {
            size_t best = n;
            for (size_t j = 0; j < n; j++)
                if (!taken[j] && (best == n || sc[j] > sc[best])) best = j;
            taken[best] = 1;
            json_t *e = json_object();
            json_object_set_new(e, "video_id", json_string(r->video_ids[best]));
            json_object_set_new(e, "start", json_real(r->start[best]));
            json_object_set_new(e, "end", json_real(r->end[best]));
            json_object_set_new(e, "score", json_real(isfinite(sc[best]) ? sc[best] : 0));
            json_object_set_new(e, "correct", json_boolean(best == q));
            if (o->thumbnails && !thumb[best] && !failed[best]) {
                char rel[256];
                milnce_error e2 = {0};
                if (write_thumb(m, s, best, out_dir, rel, sizeof rel, o->lg, &e2) < 0) {
                    milnce_log(o->lg, MILNCE_LOG_WARN, "thumbnail of %s: %s", r->video_ids[best], e2.msg);
                    failed[best] = 1;
                } else {
                    thumb[best] = strdup(rel);
                }
            }
            if (thumb[best]) json_object_set_new(e, "thumbnail", json_string(thumb[best]));
            json_array_append_new(tops, e);
        }
        json_object_set_new(ex, "top", tops);
        json_array_append_new(arr, ex);
    }
end:
    if (thumb)
        for (size_t j = 0; j < n; j++) free(thumb[j]);
    free(thumb);
    free(failed);
    free(sc);
    free(taken);
    return arr;
}

/* Query words in the vocabulary: a low share means the vocabulary does not fit the data. */
static void count_tokens(milnce_eval_model *m, milnce_eval_result *r, const milnce_logger *lg) {
    milnce_tokens tok = {0};
    for (size_t i = 0; i < r->n; i++) {
        milnce_tokens_clear(&tok);
        if (milnce_tokenize(r->queries[i], (size_t)-1, 0, &tok, NULL) < 0) continue;
        r->tokens += tok.n;
        for (size_t k = 0; k < tok.n; k++) r->known_tokens += milnce_vocab_id(&m->vocab, milnce_tokens_word(&tok, k), tok.len[k]) > 0;
    }
    milnce_tokens_free(&tok);
    if (r->tokens && (double)r->known_tokens < COVERAGE_WARN * (double)r->tokens)
        milnce_log(lg, MILNCE_LOG_WARN, "only %zu of %zu query words (%.1f%%) are in the model's vocabulary: the text embeddings see little of the queries",
                   r->known_tokens, r->tokens, 100.0 * (double)r->known_tokens / (double)r->tokens);
}

static int cmp_rows(const void *a, const void *b, void *user) {
    const milnce_eval_result *r = user;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = memcmp(r->video + i * r->dim, r->video + j * r->dim, r->dim * sizeof(float));
    return c ? c : (i > j) - (i < j);
}

/* Kept clips whose video embedding equals, bit for bit, that of a clip with another video or span. */
static size_t identical_clips(const milnce_eval_result *r, const eval_item *items) {
    size_t n = r->n, *ord = malloc(n * sizeof *ord), count = 0;
    if (!ord) return 0;
    for (size_t i = 0; i < n; i++) ord[i] = i;
    qsort_r(ord, n, sizeof *ord, cmp_rows, (void *)r);
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && memcmp(r->video + ord[a] * r->dim, r->video + ord[b] * r->dim, r->dim * sizeof(float)) == 0) b++;
        /* a group: its members count unless they are all the same clip */
        int differ = 0;
        for (size_t k = a + 1; k < b && !differ; k++) {
            const eval_item *x = &items[ord[a]], *y = &items[ord[k]];
            differ = strcmp(x->video_id, y->video_id) != 0 || x->start != y->start || x->end != y->end;
        }
        if (differ) count += b - a;
        a = b;
    }
    free(ord);
    return count;
}

void milnce_eval_result_free(milnce_eval_result *r) {
    if (r->video_ids)
        for (size_t i = 0; i < r->n; i++) free(r->video_ids[i]);
    if (r->queries)
        for (size_t i = 0; i < r->n; i++) free(r->queries[i]);
    free(r->video_ids); free(r->queries);
    free(r->text); free(r->video); free(r->t2v_rank); free(r->v2t_rank); free(r->start); free(r->end);
    memset(r, 0, sizeof *r);
}

int milnce_eval_run(milnce_eval_model *m, const milnce_eval_opts *o, milnce_eval_result *res, milnce_error *err) {
    memset(res, 0, sizeof *res);
    const milnce_config *cfg = &m->cfg;
    const milnce_logger *lg = o->lg;
    eval_set s = {0};
    milnce_decoder *dec = NULL;
    const eval_item *dec_item = NULL; /* the item whose video dec holds */
    uint8_t *dropped = NULL; /* 1 missing video, 2 start after the video's end, 3 no decodable frame */
    size_t *badv = NULL, nbad = 0; /* first row of each failed video */
    float *video = NULL;
    double *starts = NULL;
    int64_t *ties_t = NULL, *ties_v = NULL;
    json_t *root = NULL;
    char *js = NULL;
    int ret = 0;
    if (!m->model->video || !m->model->text)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "eval needs both encoders (load with with_video and with_text)");
    int msrvtt = strcmp(cfg->eval.format, "msrvtt") == 0, shards = strcmp(cfg->eval.format, "shards") == 0;
    snprintf(res->format, sizeof res->format, "%s", cfg->eval.format);
    snprintf(res->dataset, sizeof res->dataset, "%s", cfg->eval.csv);
    if ((ret = milnce_path(res->out_dir, sizeof res->out_dir, err, "%s",
                           o->out_dir && o->out_dir[0] ? o->out_dir : m->run_dir)) < 0)
        goto end;
    if ((ret = shards ? read_shard_set(cfg, &s, lg, err) : read_csv_set(cfg, msrvtt, &s, err)) < 0) goto end;
    res->rows = s.n;
    size_t D = (size_t)m->E;
    int W = cfg->eval.num_windows;
    double clip_len = cfg->data.num_frames / cfg->data.fps;
    dropped = calloc(s.n, 1);
    badv = malloc(s.n * sizeof *badv);
    video = malloc(s.n * D * sizeof *video);
    starts = malloc((size_t)W * sizeof *starts);
    if (!dropped || !badv || !video || !starts) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%zu clips", s.n); goto end; }
    /* ---- clips ---- */
    for (size_t i = 0; i < s.n; i++) {
        eval_item *it = &s.v[i];
        /* a video that failed once is not retried: its later rows are dropped silently */
        int bad = 0;
        for (size_t j = 0; j < nbad && !bad; j++)
            if (same_video(&s.v[badv[j]], it)) bad = 1;
        if (bad) { dropped[i] = 1; continue; }
        milnce_error e = {0};
        int r = 0;
        if (!dec_item || !same_video(dec_item, it)) {
            milnce_decoder_free(&dec);
            dec_item = NULL;
            if ((r = open_item(&s, it, lg, &dec, &e)) == 0) dec_item = it;
        }
        if (r == 0 && it->end < 0) {
            const milnce_video_info *vi = milnce_decoder_info(dec);
            it->end = vi->duration > 0 ? vi->duration : 0;
        }
        if (r == 0) {
            const milnce_video_info *vi = milnce_decoder_info(dec);
            if (vi->duration > 0 && it->start >= vi->duration) {
                dropped[i] = 2;
                res->invalid_past_end++;
                if (o->progress) o->progress(o->progress_user, i + 1, s.n);
                continue;
            }
            int empty = 0;
            milnce_eval_window_starts(it->start, it->end, clip_len, W, starts);
            r = milnce_eval_embed_windows(m, dec, starts, W, 0, 1, video + i * D, &empty, &e);
            if (r == MILNCE_ERR_NOMEM || r == MILNCE_ERR_INVALID || r == MILNCE_ERR_NUMERIC) {
                ret = milnce_error_set(err, r, "%s", e.msg);
                goto end;
            }
            if (r == 0 && empty == W) {
                dropped[i] = 3;
                res->invalid_no_frame++;
                if (o->progress) o->progress(o->progress_user, i + 1, s.n);
                continue;
            }
        }
        if (r < 0) {
            dropped[i] = 1;
            badv[nbad++] = i;
            res->missing_videos++;
            milnce_log(lg, MILNCE_LOG_WARN, "video %s%s%s: %s; its queries are dropped", it->video_id,
                       it->path ? " at " : "", it->path ? it->path : "", e.msg);
            milnce_decoder_free(&dec);
            dec_item = NULL;
        }
        if (o->progress) o->progress(o->progress_user, i + 1, s.n);
    }
    milnce_decoder_free(&dec);
    if (res->invalid_past_end + res->invalid_no_frame) {
        char first[600] = "";
        size_t len = 0, shown = 0;
        for (size_t i = 0; i < s.n && shown < 3; i++)
            if (dropped[i] >= 2) {
                len += (size_t)snprintf(first + len, len < sizeof first ? sizeof first - len : 0, "%s%s %.1f-%.1f s (%s)", shown ? "; " : "",
                                        s.v[i].video_id, s.v[i].start, s.v[i].end, dropped[i] == 2 ? "starts after the video's end" : "no decodable frame");
                shown++;
            }
        milnce_log(lg, MILNCE_LOG_WARN, "%zu of %zu rows have a segment past their video's end (%zu) or without a decodable frame (%zu): left out "
                   "(invalid_segments in eval.json); first: %s", res->invalid_past_end + res->invalid_no_frame, s.n, res->invalid_past_end,
                   res->invalid_no_frame, first);
    }
    /* ---- compact to the kept queries ---- */
    size_t n = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (dropped[i]) {
            if (dropped[i] == 1) res->dropped_queries++;
            continue;
        }
        if (n != i) {
            memmove(video + n * D, video + i * D, D * sizeof *video);
            eval_item tmp = s.v[n];
            s.v[n] = s.v[i];
            s.v[i] = tmp;
        }
        n++;
    }
    if (n == 0) {
        ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: none of the %zu queries has a usable video (%zu missing videos, %zu invalid segments; eval.video_root '%s')",
                               res->dataset, s.n, res->missing_videos, res->invalid_past_end + res->invalid_no_frame, cfg->eval.video_root);
        goto end;
    }
    res->n = n;
    res->dim = D;
    res->video = video;
    video = NULL;
    res->text = malloc(n * D * sizeof *res->text);
    res->t2v_rank = malloc(n * sizeof *res->t2v_rank);
    res->v2t_rank = malloc(n * sizeof *res->v2t_rank);
    res->video_ids = calloc(n, sizeof *res->video_ids);
    res->queries = calloc(n, sizeof *res->queries);
    res->start = malloc(n * sizeof *res->start);
    res->end = malloc(n * sizeof *res->end);
    const char **texts = malloc(n * sizeof *texts);
    if (!res->text || !res->t2v_rank || !res->v2t_rank || !res->video_ids || !res->queries || !res->start || !res->end || !texts) {
        free(texts);
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%zu queries", n);
        goto end;
    }
    for (size_t i = 0; i < n; i++) {
        texts[i] = s.v[i].text;
        res->video_ids[i] = strdup(s.v[i].video_id);
        res->queries[i] = strdup(s.v[i].text);
        if (!res->video_ids[i] || !res->queries[i]) {
            free(texts);
            ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%zu queries", n);
            goto end;
        }
        res->start[i] = s.v[i].start;
        res->end[i] = s.v[i].end;
    }
    /* ---- texts, scores ---- */
    ret = milnce_eval_embed_texts(m, texts, n, res->text, &res->empty_texts, err);
    free(texts);
    if (ret < 0) goto end;
    if (res->empty_texts)
        milnce_log(lg, MILNCE_LOG_WARN, "%zu of %zu queries have no word in the vocabulary (kept: the reference keeps them)", res->empty_texts, n);
    if (cfg->eval.normalize) {
        l2_normalise(res->text, n, D);
        l2_normalise(res->video, n, D);
    }
    count_tokens(m, res, lg);
    res->identical_video = identical_clips(res, s.v);
    if ((double)res->identical_video > IDENTICAL_WARN_FRACTION * (double)n)
        milnce_log(lg, MILNCE_LOG_WARN, "%zu of %zu clips (%.1f%%) have exactly the embedding of a different clip: their frames are probably "
                   "identical (blank, frozen or past the video's end); check the segments and the videos", res->identical_video, n,
                   100.0 * (double)res->identical_video / (double)n);
    int official = strcmp(cfg->eval.ties, "official") == 0;
    ties_t = official ? malloc(n * sizeof *ties_t) : NULL;
    ties_v = official ? malloc(n * sizeof *ties_v) : NULL;
    if (official && (!ties_t || !ties_v)) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%zu tie counts", n); goto end; }
    if ((ret = milnce_ranks_blocked_ties(res->text, res->video, n, D, 0, res->t2v_rank, res->v2t_rank, ties_t, ties_v, err)) < 0) {
        milnce_error_prefix(err, "checkpoint %s", m->checkpoint);
        goto end;
    }
    if (official) {
        if (milnce_recall_official(res->t2v_rank, ties_t, n, &res->t2v) < 0 || milnce_recall_official(res->v2t_rank, ties_v, n, &res->v2t) < 0) {
            ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%zu tie counts", n);
            goto end;
        }
    } else {
        milnce_recall_from_ranks(res->t2v_rank, n, &res->t2v);
        milnce_recall_from_ranks(res->v2t_rank, n, &res->v2t);
    }
    res->chance_r1 = 100.0 / n;
    res->chance_r5 = 100.0 * (n < 5 ? n : 5) / n;
    res->chance_r10 = 100.0 * (n < 10 ? n : 10) / n;
    /* ---- outputs ---- */
    if ((ret = milnce_mkdirs(res->out_dir, err)) < 0) goto end;
    root = json_object();
    json_object_set_new(root, "dataset", json_string(res->dataset));
    json_object_set_new(root, "format", json_string(res->format));
    json_object_set_new(root, "checkpoint", json_string(m->checkpoint));
    json_object_set_new(root, "step", json_integer(m->step));
    json_object_set_new(root, "n", json_integer((json_int_t)n));
    json_object_set_new(root, "rows", json_integer((json_int_t)res->rows));
    json_object_set_new(root, "missing_videos", json_integer((json_int_t)res->missing_videos));
    json_object_set_new(root, "dropped_queries", json_integer((json_int_t)res->dropped_queries));
    json_object_set_new(root, "empty_texts", json_integer((json_int_t)res->empty_texts));
    json_object_set_new(root, "num_windows", json_integer(W));
    json_object_set_new(root, "max_words", json_integer(cfg->eval.max_words));
    json_object_set_new(root, "normalize", json_boolean(cfg->eval.normalize));
    json_object_set_new(root, "dim", json_integer((json_int_t)D));
    json_object_set_new(root, "ties", json_string(official ? "official" : "optimistic"));
    json_object_set_new(root, "tie_rule", json_string(official ? TIE_RULE_OFFICIAL : TIE_RULE));
    json_t *inv = json_object();
    json_object_set_new(inv, "start_after_video_end", json_integer((json_int_t)res->invalid_past_end));
    json_object_set_new(inv, "no_decodable_frame", json_integer((json_int_t)res->invalid_no_frame));
    json_object_set_new(root, "invalid_segments", inv);
    json_object_set_new(root, "identical_video_embeddings", json_integer((json_int_t)res->identical_video));
    json_object_set_new(root, "tokens", json_integer((json_int_t)res->tokens));
    json_object_set_new(root, "token_coverage", json_real(res->tokens ? (double)res->known_tokens / (double)res->tokens : 1.0));
    json_object_set_new(root, "num_frames", json_integer(cfg->data.num_frames));
    json_object_set_new(root, "fps", json_real(cfg->data.fps));
    json_object_set_new(root, "size", json_integer(cfg->data.size));
    json_object_set_new(root, "t2v", recall_json(&res->t2v));
    json_object_set_new(root, "v2t", recall_json(&res->v2t));
    json_t *ch = json_object();
    json_object_set_new(ch, "r1", json_real(res->chance_r1));
    json_object_set_new(ch, "r5", json_real(res->chance_r5));
    json_object_set_new(ch, "r10", json_real(res->chance_r10));
    json_object_set_new(ch, "median_rank", json_real((n + 1) / 2.0));
    json_object_set_new(ch, "mean_rank", json_real((n + 1) / 2.0));
    json_object_set_new(root, "chance", ch);
    json_object_set_new(root, "examples", examples_json(m, &s, res, o, res->out_dir));
    js = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(12));
    if (!js) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "eval.json"); goto end; }
    if ((ret = milnce_path(res->json_path, sizeof res->json_path, err, "%s/eval.json", res->out_dir)) < 0) goto end;
    milnce_atomic_file af;
    if ((ret = milnce_atomic_open(&af, res->json_path, err)) < 0) goto end;
    if ((ret = milnce_atomic_write(&af, js, strlen(js), err)) < 0 || (ret = milnce_atomic_write(&af, "\n", 1, err)) < 0) {
        milnce_atomic_abort(&af);
        goto end;
    }
    if ((ret = milnce_atomic_commit(&af, err)) < 0) goto end;
    if (o->save_embeddings) {
        char p[MILNCE_PATH_MAX];
        int64_t shape[2] = {(int64_t)n, (int64_t)D};
        if ((ret = milnce_path(p, sizeof p, err, "%s/eval_text.npy", res->out_dir)) < 0 ||
            (ret = milnce_npy_write(p, MILNCE_NPY_F32, 2, shape, res->text, err)) < 0)
            goto end;
        if ((ret = milnce_path(p, sizeof p, err, "%s/eval_video.npy", res->out_dir)) < 0 ||
            (ret = milnce_npy_write(p, MILNCE_NPY_F32, 2, shape, res->video, err)) < 0)
            goto end;
        if ((ret = milnce_path(p, sizeof p, err, "%s/eval_ids.txt", res->out_dir)) < 0 ||
            (ret = write_ids(p, res->video_ids, res->start, res->end, res->queries, n, err)) < 0) goto end;
    }
end:
    if (ret < 0) milnce_eval_result_free(res);
    free(js);
    json_decref(root);
    milnce_decoder_free(&dec);
    free(dropped);
    free(badv);
    free(video);
    free(starts);
    free(ties_t);
    free(ties_v);
    set_free(&s);
    return ret;
}
