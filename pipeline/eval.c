/* `milnce eval`: evaluation sets -> clip and text embeddings -> retrieval metrics -> eval.json
 * (+ thumbnails of the examples). See pipeline/eval.h for the protocol. */
#include "eval.h"
#include "eval_score.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fileutil.h"
#include "image_write.h"
#include "model.h"
#include "tokenizer.h"
#include "eval_set.h"

#define COVERAGE_WARN 0.9

/* A thumbnail of item j: the frame at the middle of its clip, short side 128, centre square. */
static int write_thumb(milnce_eval_model *m, const milnce_eval_set *s, size_t j, const char *out_dir, char *rel,
                       size_t relcap, const milnce_logger *lg, milnce_error *err) {
    const milnce_eval_item *it = &s->v[j];
    milnce_decoder *dec = NULL;
    int ret = milnce_eval_set_open_video(s, it, lg, &dec, err);
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

/* ==== embed the set ==== */

/* What became of a row while embedding its clip. */
enum { ROW_KEPT = 0, ROW_MISSING = 1, ROW_PAST_END = 2, ROW_NO_FRAME = 3 };

/* The clip pass over the rows: one decoder kept open while consecutive rows share a video. */
typedef struct clip_pass {
    milnce_eval_model *m;
    const milnce_eval_opts *o;
    milnce_eval_set *s;
    milnce_decoder *dec;
    const milnce_eval_item *dec_item; /* the item whose video dec holds */
    size_t *badv, nbad;               /* first row of each failed video */
    double *starts;                   /* (W) window starts */
    uint8_t *dropped;                 /* (s->n) ROW_* */
    float *video;                     /* (s->n, D) clip embeddings */
} clip_pass;

/* Row i's clip (mean of its W windows) into p->video row i, or the row marked dropped. Returns
 * 1 for a row of a video that failed before (dropped silently, no progress), 0 otherwise, < 0
 * for an error that stops the evaluation (memory, the model, a non-finite output). */
static int embed_clip(clip_pass *p, size_t i, milnce_eval_result *res, milnce_error *err) {
    milnce_eval_item *it = &p->s->v[i];
    for (size_t j = 0; j < p->nbad; j++) /* a video that failed once is not retried */
        if (milnce_eval_item_same_video(&p->s->v[p->badv[j]], it)) { p->dropped[i] = ROW_MISSING; return 1; }
    const milnce_config *cfg = &p->m->cfg;
    int W = cfg->eval.num_windows;
    milnce_error e = {0};
    int r = 0;
    if (!p->dec_item || !milnce_eval_item_same_video(p->dec_item, it)) {
        milnce_decoder_free(&p->dec);
        p->dec_item = NULL;
        if ((r = milnce_eval_set_open_video(p->s, it, p->o->lg, &p->dec, &e)) == 0) p->dec_item = it;
    }
    if (r == 0) {
        const milnce_video_info *vi = milnce_decoder_info(p->dec);
        if (it->end < 0) it->end = vi->duration > 0 ? vi->duration : 0;
        if (vi->duration > 0 && it->start >= vi->duration) {
            p->dropped[i] = ROW_PAST_END;
            res->invalid_past_end++;
            return 0;
        }
        int empty = 0;
        milnce_eval_window_starts(it->start, it->end, cfg->data.num_frames / cfg->data.fps, W, p->starts);
        r = milnce_eval_embed_windows(p->m, p->dec, p->starts, W, 0, 1, p->video + i * res->dim, &empty, &e);
        if (r == MILNCE_ERR_NOMEM || r == MILNCE_ERR_INVALID || r == MILNCE_ERR_NUMERIC) return milnce_error_set(err, r, "%s", e.msg);
        if (r == 0 && empty == W) {
            p->dropped[i] = ROW_NO_FRAME;
            res->invalid_no_frame++;
            return 0;
        }
    }
    if (r < 0) {
        p->dropped[i] = ROW_MISSING;
        p->badv[p->nbad++] = i;
        res->missing_videos++;
        milnce_log(p->o->lg, MILNCE_LOG_WARN, "video %s%s%s: %s; its queries are dropped", it->video_id,
                   it->path ? " at " : "", it->path ? it->path : "", e.msg);
        milnce_decoder_free(&p->dec);
        p->dec_item = NULL;
    }
    return 0;
}

/* One warning for the rows left out as invalid segments, naming the first few. */
static void warn_invalid(const clip_pass *p, const milnce_eval_result *res) {
    size_t bad = res->invalid_past_end + res->invalid_no_frame, n = p->s->n;
    if (!bad) return;
    char first[600] = "";
    size_t len = 0, shown = 0;
    for (size_t i = 0; i < n && shown < 3; i++)
        if (p->dropped[i] >= ROW_PAST_END) {
            const milnce_eval_item *it = &p->s->v[i];
            len += (size_t)snprintf(first + len, len < sizeof first ? sizeof first - len : 0, "%s%s %.1f-%.1f s (%s)", shown ? "; " : "",
                                    it->video_id, it->start, it->end, p->dropped[i] == ROW_PAST_END ? "starts after the video's end" : "no decodable frame");
            shown++;
        }
    milnce_log(p->o->lg, MILNCE_LOG_WARN, "%zu of %zu rows have a segment past their video's end (%zu) or without a decodable frame (%zu): left out "
               "(invalid_segments in eval.json); first: %s", bad, n, res->invalid_past_end, res->invalid_no_frame, first);
}

/* Every row's clip; p->video and p->dropped filled. */
static int embed_clips(clip_pass *p, milnce_eval_result *res, milnce_error *err) {
    size_t n = p->s->n;
    p->dropped = calloc(n, 1);
    p->badv = malloc(n * sizeof *p->badv);
    p->video = malloc(n * res->dim * sizeof *p->video);
    p->starts = malloc((size_t)p->m->cfg.eval.num_windows * sizeof *p->starts);
    if (!p->dropped || !p->badv || !p->video || !p->starts) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%zu clips", n);
    for (size_t i = 0; i < n; i++) {
        int r = embed_clip(p, i, res, err);
        if (r < 0) return r;
        if (r == 0 && p->o->progress) p->o->progress(p->o->progress_user, i + 1, n);
    }
    milnce_decoder_free(&p->dec);
    p->dec_item = NULL;
    warn_invalid(p, res);
    return 0;
}

/* Kept rows moved to the front (items and clip embeddings, in order); returns their number. */
static size_t compact(clip_pass *p, milnce_eval_result *res) {
    size_t n = 0, D = res->dim;
    milnce_eval_set *s = p->s;
    for (size_t i = 0; i < s->n; i++) {
        if (p->dropped[i]) {
            if (p->dropped[i] == ROW_MISSING) res->dropped_queries++;
            continue;
        }
        if (n != i) {
            memmove(p->video + n * D, p->video + i * D, D * sizeof *p->video);
            milnce_eval_item tmp = s->v[n];
            s->v[n] = s->v[i];
            s->v[i] = tmp;
        }
        n++;
    }
    return n;
}

/* The result's per-query arrays for the n kept rows (ids, queries, spans; rank buffers). */
static int fill_rows(milnce_eval_result *res, const milnce_eval_set *s, size_t n, milnce_error *err) {
    res->n = n;
    res->text = malloc(n * res->dim * sizeof *res->text);
    res->t2v_rank = malloc(n * sizeof *res->t2v_rank);
    res->v2t_rank = malloc(n * sizeof *res->v2t_rank);
    res->video_ids = calloc(n, sizeof *res->video_ids);
    res->queries = calloc(n, sizeof *res->queries);
    res->start = malloc(n * sizeof *res->start);
    res->end = malloc(n * sizeof *res->end);
    if (!res->text || !res->t2v_rank || !res->v2t_rank || !res->video_ids || !res->queries || !res->start || !res->end)
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "%zu queries", n);
    for (size_t i = 0; i < n; i++) {
        res->video_ids[i] = strdup(s->v[i].video_id);
        res->queries[i] = strdup(s->v[i].text);
        if (!res->video_ids[i] || !res->queries[i]) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%zu queries", n);
        res->start[i] = s->v[i].start;
        res->end[i] = s->v[i].end;
    }
    return 0;
}

/* Embed the set: read it, embed every clip, keep the rows with a usable clip, embed their
 * texts; res->text and res->video as they will be scored (normalised when eval.normalize). */
static int embed_set(milnce_eval_model *m, const milnce_eval_opts *o, milnce_eval_set *s, milnce_eval_result *res,
                     milnce_error *err) {
    const milnce_config *cfg = &m->cfg;
    int shards = strcmp(cfg->eval.format, "shards") == 0, msrvtt = strcmp(cfg->eval.format, "msrvtt") == 0;
    int ret = shards ? milnce_eval_set_read_shards(cfg, s, o->lg, err) : milnce_eval_set_read_csv(cfg, msrvtt, s, err);
    if (ret < 0) return ret;
    res->rows = s->n;
    res->dim = (size_t)m->E;
    clip_pass p = {.m = m, .o = o, .s = s};
    if ((ret = embed_clips(&p, res, err)) < 0) goto end;
    size_t n = compact(&p, res);
    if (n == 0) {
        ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: none of the %zu queries has a usable video (%zu missing videos, %zu invalid segments; eval.video_root '%s')",
                               res->dataset, s->n, res->missing_videos, res->invalid_past_end + res->invalid_no_frame, cfg->eval.video_root);
        goto end;
    }
    res->video = p.video;
    p.video = NULL;
    if ((ret = fill_rows(res, s, n, err)) < 0) goto end;
    if ((ret = milnce_eval_embed_texts(m, (const char *const *)res->queries, n, res->text, &res->empty_texts, err)) < 0) goto end;
    if (res->empty_texts)
        milnce_log(o->lg, MILNCE_LOG_WARN, "%zu of %zu queries have no word in the vocabulary (kept: the reference keeps them)", res->empty_texts, n);
    if (cfg->eval.normalize) {
        l2_normalise(res->text, n, res->dim);
        l2_normalise(res->video, n, res->dim);
    }
    count_tokens(m, res, o->lg);
end:
    milnce_decoder_free(&p.dec);
    free(p.dropped);
    free(p.badv);
    free(p.video);
    free(p.starts);
    return ret;
}

/* ==== outputs ==== */

typedef struct thumb_ctx {
    milnce_eval_model *m;
    const milnce_eval_set *s;
    const char *out_dir;
    const milnce_logger *lg;
} thumb_ctx;

static int thumb_of(void *user, size_t j, char *rel, size_t cap, milnce_error *err) {
    thumb_ctx *t = user;
    return write_thumb(t->m, t->s, j, t->out_dir, rel, cap, t->lg, err);
}

/* eval.json: the set and the protocol, then the score fields (milnce_eval_score_json fills the
 * placeholders in place, so the fields keep their order), the examples. */
static json_t *run_json(milnce_eval_model *m, const milnce_eval_opts *o, const milnce_eval_set *s,
                        const milnce_eval_result *res, int official) {
    const milnce_config *cfg = &m->cfg;
    json_t *root = json_object();
    json_object_set_new(root, "dataset", json_string(res->dataset));
    json_object_set_new(root, "format", json_string(res->format));
    json_object_set_new(root, "checkpoint", json_string(m->checkpoint));
    json_object_set_new(root, "step", json_integer(m->step));
    json_object_set_new(root, "n", json_null());
    json_object_set_new(root, "rows", json_integer((json_int_t)res->rows));
    json_object_set_new(root, "missing_videos", json_integer((json_int_t)res->missing_videos));
    json_object_set_new(root, "dropped_queries", json_integer((json_int_t)res->dropped_queries));
    json_object_set_new(root, "empty_texts", json_integer((json_int_t)res->empty_texts));
    json_object_set_new(root, "num_windows", json_integer(cfg->eval.num_windows));
    json_object_set_new(root, "max_words", json_integer(cfg->eval.max_words));
    json_object_set_new(root, "normalize", json_boolean(cfg->eval.normalize));
    json_object_set_new(root, "precision",
                        json_string(m->precision == MILNCE_PREC_BF16 ? "bf16" : "fp32"));
    json_object_set_new(root, "dim", json_null());
    json_object_set_new(root, "ties", json_null());
    json_object_set_new(root, "tie_rule", json_null());
    json_t *inv = json_object();
    json_object_set_new(inv, "start_after_video_end", json_integer((json_int_t)res->invalid_past_end));
    json_object_set_new(inv, "no_decodable_frame", json_integer((json_int_t)res->invalid_no_frame));
    json_object_set_new(root, "invalid_segments", inv);
    json_object_set_new(root, "identical_video_embeddings", json_null());
    json_object_set_new(root, "tokens", json_integer((json_int_t)res->tokens));
    json_object_set_new(root, "token_coverage", json_real(res->tokens ? (double)res->known_tokens / (double)res->tokens : 1.0));
    json_object_set_new(root, "num_frames", json_integer(cfg->data.num_frames));
    json_object_set_new(root, "fps", json_real(cfg->data.fps));
    json_object_set_new(root, "size", json_integer(cfg->data.size));
    json_object_set_new(root, "t2v", json_null());
    json_object_set_new(root, "v2t", json_null());
    json_object_set_new(root, "chance", json_null());
    milnce_eval_score_json(root, res, official);
    int thumbs = o->thumbnails;
    if (thumbs && o->num_examples >= 0) {
        char td[MILNCE_PATH_MAX];
        milnce_error e = {0};
        if (milnce_path(td, sizeof td, &e, "%s/thumbs", res->out_dir) < 0 || milnce_mkdirs(td, &e) < 0) {
            milnce_log(o->lg, MILNCE_LOG_WARN, "thumbnails: %s", e.msg);
            thumbs = 0;
        }
    }
    thumb_ctx tc = {m, s, res->out_dir, o->lg};
    json_object_set_new(root, "examples", milnce_eval_examples_json(res, o->num_examples, o->top, thumbs ? thumb_of : NULL, &tc, o->lg));
    return root;
}

int milnce_eval_run(milnce_eval_model *m, const milnce_eval_opts *o, milnce_eval_result *res, milnce_error *err) {
    memset(res, 0, sizeof *res);
    const milnce_config *cfg = &m->cfg;
    if (!m->model->video || !m->model->text)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "eval needs both encoders (load with with_video and with_text)");
    milnce_eval_set s = {0};
    json_t *root = NULL;
    snprintf(res->format, sizeof res->format, "%s", cfg->eval.format);
    snprintf(res->dataset, sizeof res->dataset, "%s", cfg->eval.csv);
    int ret = milnce_path(res->out_dir, sizeof res->out_dir, err, "%s", o->out_dir && o->out_dir[0] ? o->out_dir : m->run_dir);
    if (ret < 0 || (ret = embed_set(m, o, &s, res, err)) < 0) goto end;
    /* ---- score the set ---- */
    int official = strcmp(cfg->eval.ties, "official") == 0;
    char what[MILNCE_PATH_MAX + 16];
    snprintf(what, sizeof what, "checkpoint %s", m->checkpoint);
    if ((ret = milnce_eval_score(res, official, what, o->lg, err)) < 0) goto end;
    /* ---- outputs ---- */
    if ((ret = milnce_mkdirs(res->out_dir, err)) < 0) goto end;
    root = run_json(m, o, &s, res, official);
    if ((ret = milnce_eval_write_json(root, res, err)) < 0) goto end;
    if (o->save_embeddings) ret = milnce_eval_save_embeddings(res, err);
end:
    if (ret < 0) milnce_eval_result_free(res);
    json_decref(root);
    milnce_eval_set_free(&s);
    return ret;
}
