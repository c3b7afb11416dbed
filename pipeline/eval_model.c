/* The model of a checkpoint, ready to embed: config resolution, vocabulary, weights, and the
 * window / text embedding blocks shared by eval and embed (pipeline/eval.h). */
#include "eval.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "fileutil.h"
#include "model.h"
#include "safetensors.h"
#include "tokenizer.h"
#include "run_model.h"
#include "vocab_io.h"

/* Applies YAML text (the checkpoint's stored config) on top of cfg. */
static int config_from_text(milnce_config *cfg, const char *text, const char *ckpt, milnce_error *err) {
    char name[MILNCE_PATH_MAX + 32];
    snprintf(name, sizeof name, "checkpoint %.*s: stored config", MILNCE_PATH_MAX - 1, ckpt);
    return milnce_config_load_string(cfg, text, name, err);
}

static int key_differs(const milnce_config *a, const milnce_config *b, const milnce_config_key *k) {
    const char *pa = (const char *)a + k->offset, *pb = (const char *)b + k->offset;
    if (k->type == MILNCE_CFG_STRING || k->type == MILNCE_CFG_ENUM) return strcmp(pa, pb) != 0;
    return memcmp(pa, pb, k->size) != 0;
}

/* eval.num_frames / fps / size set the clips the model sees (0: the training values in data.*):
 * the S3D-G encoder is fully convolutional, so the evaluation protocol may differ from training. */
static void apply_eval_protocol(milnce_config *cfg) {
    if (cfg->eval.num_frames > 0) cfg->data.num_frames = cfg->eval.num_frames;
    if (cfg->eval.fps > 0) cfg->data.fps = cfg->eval.fps;
    if (cfg->eval.size > 0) cfg->data.size = cfg->eval.size;
}

/* cfg = the checkpoint's config with eval.* (and the file locations model.vocab, data.shards)
 * from the overrides. */
static int resolve_config(milnce_eval_model *em, const milnce_eval_load_opts *o, const char *stored,
                          milnce_error *err) {
    milnce_config base, user;
    int ret;
    milnce_config_defaults(&base);
    if (stored && (ret = config_from_text(&base, stored, em->checkpoint, err)) < 0) return ret;
    user = base;
    if (o->config && (ret = milnce_config_load(&user, o->config, err)) < 0) return ret;
    for (int i = 0; i < o->nsets; i++)
        if ((ret = milnce_config_set(&user, o->sets[i], err)) < 0) return ret;
    if (!stored) {
        milnce_log(o->lg, MILNCE_LOG_WARN, "checkpoint %s holds no config: model.* and data.* come from --config/--set and the defaults",
                   em->checkpoint);
        em->cfg = user;
        apply_eval_protocol(&em->cfg);
        return 0;
    }
    em->cfg = base;
    em->cfg.eval = user.eval;
    apply_eval_protocol(&em->cfg);
    memcpy(em->cfg.model.vocab, user.model.vocab, sizeof user.model.vocab);
    memcpy(em->cfg.data.shards, user.data.shards, sizeof user.data.shards);
    for (const milnce_config_key *k = milnce_config_schema(); k->name; k++) {
        if (strncmp(k->name, "eval.", 5) == 0 || strcmp(k->name, "model.vocab") == 0 || strcmp(k->name, "data.shards") == 0)
            continue;
        if (key_differs(&base, &user, k))
            milnce_log(o->lg, MILNCE_LOG_WARN, "key %s from --config/--set is ignored: it comes from the checkpoint's config", k->name);
    }
    return 0;
}

/* The vocabulary: the checkpoint's own (metadata "vocab"), else -- a checkpoint of an older milnce
 * -- model.vocab or vocab.txt beside data.shards, with a note. */
static int load_vocab(milnce_eval_model *em, const char *stored, milnce_error *err) {
    const milnce_config *cfg = &em->cfg;
    char used[MILNCE_PATH_MAX];
    int ret;
    if (stored) {
        ret = milnce_vocab_from_text(stored, strlen(stored), "vocabulary", &em->vocab, err);
        if (ret < 0) milnce_error_prefix(err, "checkpoint %s", em->checkpoint);
        return ret;
    }
    if (cfg->model.vocab[0]) ret = milnce_path(used, sizeof used, err, "%s", cfg->model.vocab);
    else if (!cfg->data.shards[0])
        return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "key model.vocab: no vocabulary given (set model.vocab, or data.shards with vocab.txt beside the shards)");
    else if (milnce_is_dir(cfg->data.shards)) ret = milnce_path(used, sizeof used, err, "%s/vocab.txt", cfg->data.shards);
    else {
        const char *slash = strrchr(cfg->data.shards, '/');
        ret = milnce_path(used, sizeof used, err, "%.*svocab.txt", slash ? (int)(slash + 1 - cfg->data.shards) : 0,
                          cfg->data.shards);
    }
    if (ret == 0) ret = milnce_vocab_load(used, &em->vocab, err);
    if (ret < 0) return milnce_error_prefix(err, "key model.vocab: checkpoint %s carries no vocabulary (written by an older milnce); "
                                            "looked for model.vocab, or vocab.txt beside data.shards", em->checkpoint);
    milnce_log(em->lg, MILNCE_LOG_INFO, "checkpoint %s carries no vocabulary (an older milnce wrote it): using %s", em->checkpoint, used);
    return ret;
}

/* p -> its folder, in place ("x" -> ".", "/x" -> "/"). */
static void parent_dir(char *p) {
    char *slash = strrchr(p, '/');
    if (!slash) strcpy(p, ".");
    else if (slash == p) p[1] = '\0';
    else *slash = '\0';
}

static void set_run_dir(milnce_eval_model *em) {
    char d[sizeof em->checkpoint];
    strcpy(d, em->checkpoint); /* fits: same size */
    parent_dir(d);
    const char *last = strrchr(d, '/');
    if (strcmp(last ? last + 1 : d, "checkpoints") == 0) parent_dir(d);
    snprintf(em->run_dir, sizeof em->run_dir, "%s", d);
}

int milnce_eval_model_load(milnce_eval_model **out, const milnce_eval_load_opts *o, milnce_error *err) {
    *out = NULL;
    if (!o->checkpoint || !o->checkpoint[0]) return milnce_error_set(err, MILNCE_ERR_INVALID, "no checkpoint given");
    if (!o->with_video && !o->with_text) return milnce_error_set(err, MILNCE_ERR_INVALID, "neither encoder asked for");
    milnce_eval_model *em = calloc(1, sizeof *em);
    if (!em) return milnce_error_set(err, MILNCE_ERR_NOMEM, "eval model");
    em->lg = o->lg;
    milnce_safetensors st;
    int have_st = 0, ret = 0;
    if (milnce_is_dir(o->checkpoint)) {
        if ((ret = milnce_run_latest_checkpoint(o->checkpoint, em->checkpoint, sizeof em->checkpoint)) < 0) {
            milnce_error_set(err, ret, "%s: checkpoint path too long", o->checkpoint);
            goto end;
        }
        if (!em->checkpoint[0]) {
            ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: no checkpoints/latest (not a run folder with a checkpoint)", o->checkpoint);
            goto end;
        }
        if ((ret = milnce_path(em->run_dir, sizeof em->run_dir, err, "%s", o->checkpoint)) < 0) goto end;
    } else {
        if ((ret = milnce_path(em->checkpoint, sizeof em->checkpoint, err, "%s", o->checkpoint)) < 0) goto end;
        set_run_dir(em);
    }
    if ((ret = milnce_safetensors_open(&st, em->checkpoint, err)) < 0) goto end;
    have_st = 1;
    /* a NaN/Inf weight would give NaN scores that never rank below the truth: every query first */
    if ((ret = milnce_checkpoint_check_file_finite(&st, err)) < 0) goto end;
    const char *ver = milnce_safetensors_meta(&st, "format_version");
    if (ver && atoi(ver) > 1) {
        ret = milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "%s: checkpoint format_version %.20s; this milnce reads version 1 (upgrade milnce)",
                               em->checkpoint, ver);
        goto end;
    }
    const char *step = milnce_safetensors_meta(&st, "step");
    em->step = step ? strtoll(step, NULL, 10) : 0;
    if ((ret = resolve_config(em, o, milnce_safetensors_meta(&st, "config"), err)) < 0) goto end;
    if ((ret = milnce_config_validate(&em->cfg, err)) < 0) goto end;
    if (o->with_text && (ret = load_vocab(em, milnce_safetensors_meta(&st, "vocab"), err)) < 0) goto end;
    em->batch = o->batch > 0 ? o->batch : em->cfg.eval.batch_size;
    milnce_model_cfg mc;
    milnce_model_cfg_from_config(&em->cfg, (int)em->vocab.n + 1, em->batch, &mc);
    mc.with_video = o->with_video;
    mc.with_text = o->with_text;
    mc.video.max_batch = em->batch;
    mc.text.max_batch = em->batch;
    mc.text.max_words = em->cfg.eval.max_words;
    const char *note;
    if ((ret = milnce_precision_choose("eval.precision", em->cfg.eval.precision,
                                       milnce_bf16_supported(), &mc.ctx.precision, &note, err)) < 0)
        goto end;
    em->precision = mc.ctx.precision;
    if (note) milnce_log(em->lg, MILNCE_LOG_WARN, "eval.precision auto: %s", note);
    if (o->with_text) {
        int i = milnce_safetensors_find(&st, "text_module.word_embd.weight");
        if (i >= 0 && st.e[i].ndim == 2 && st.e[i].shape[0] != (int64_t)em->vocab.n + 1) {
            ret = milnce_error_set(err, MILNCE_ERR_INVALID, "key model.vocab: the vocabulary has %zu words (+ padding) but the checkpoint's word table has %lld rows",
                                   em->vocab.n, (long long)st.e[i].shape[0]);
            goto end;
        }
    }
    if ((ret = milnce_model_create(&em->model, &mc, err)) < 0) {
        if (ret == MILNCE_ERR_INVALID)
            milnce_error_prefix(err, "keys data.num_frames = %d and data.size = %d give a clip the video encoder cannot take",
                                em->cfg.data.num_frames, em->cfg.data.size);
        goto end;
    }
    milnce_st_group groups[2] = {{&em->model->ptab, em->model->params, NULL}, {&em->model->btab, em->model->buffers, NULL}};
    milnce_st_load_opts lo = {.allow_missing = 0, .allow_unexpected = !(o->with_video && o->with_text),
                              .ignore_prefix = "optim.", .log = NULL};
    if ((ret = milnce_safetensors_load(&st, groups, em->model->btab.n ? 2 : 1, &lo, err)) < 0) {
        milnce_error_prefix(err, "%s", em->checkpoint);
        goto end;
    }
    if ((ret = milnce_checkpoint_check_finite(em->checkpoint, groups, em->model->btab.n ? 2 : 1, err)) < 0) goto end; /* F16/BF16 files */
    em->E = em->cfg.model.embed_dim;
    if (o->with_video) {
        em->F = milnce_s3dg_feat_dim(em->model->video);
        size_t S = (size_t)em->cfg.data.size;
        em->clip_buf = malloc(sizeof *em->clip_buf * (size_t)em->batch * 3 * em->cfg.data.num_frames * S * S);
        if (!em->clip_buf) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "clip buffer of %d clips", em->batch); goto end; }
    }
end:
    if (have_st) milnce_safetensors_close(&st);
    if (ret < 0) milnce_eval_model_free(&em);
    *out = em;
    return ret;
}

void milnce_eval_model_free(milnce_eval_model **pm) {
    milnce_eval_model *m = *pm;
    if (!m) return;
    milnce_model_free(&m->model);
    milnce_vocab_free(&m->vocab);
    milnce_frames_free(&m->frames);
    free(m->clip_buf);
    free(m);
    *pm = NULL;
}

void milnce_eval_window_starts(double start, double end, double clip_len, int n, double *starts) {
    double last = end - clip_len > start ? end - clip_len : start;
    for (int i = 0; i < n; i++) starts[i] = n > 1 ? start + (last - start) * i / (n - 1) : start;
}

/* Decodes the window at t0 into slot b of m->clip_buf: (3, T, S, S) floats in [0, 1]. */
static int decode_window(milnce_eval_model *m, milnce_decoder *dec, double t0, int b, milnce_error *err) {
    int T = m->cfg.data.num_frames, S = m->cfg.data.size;
    double fps = m->cfg.data.fps;
    milnce_clip_spec spec = {.start = t0, .end = t0 + (T + 0.5) / fps, .fps = fps, .size = S,
                             .crop = MILNCE_CROP_CENTER, .crop_size = S, .max_frames = T};
    size_t floats = (size_t)3 * T * S * S;
    int ret = milnce_decoder_clip_planar(dec, &spec, 0, m->clip_buf + (size_t)b * floats, floats, &m->frames, err);
    if (ret < 0) return ret;
    const milnce_frames *f = &m->frames;
    if (f->t > 0 && (f->h != S || f->w != S))
        return milnce_error_set(err, MILNCE_ERR_DECODE, "crop gave %dx%d, expected %dx%d", f->w, f->h, S, S);
    return 0;
}

int milnce_eval_embed_windows(milnce_eval_model *m, milnce_decoder *dec, const double *starts, int n,
                              int mixed5c, int average, float *out, int *empty, milnce_error *err) {
    if (!m->model->video) return milnce_error_set(err, MILNCE_ERR_INVALID, "the model was loaded without its video encoder");
    if (empty) *empty = 0;
    int D = mixed5c ? m->F : m->E;
    if (average) memset(out, 0, sizeof *out * (size_t)D);
    for (int w0 = 0; w0 < n; w0 += m->batch) {
        int B = n - w0 < m->batch ? n - w0 : m->batch;
        int ret;
        for (int b = 0; b < B; b++)
            if ((ret = decode_window(m, dec, starts[w0 + b], b, err)) < 0) {
                milnce_error_prefix(err, "window at %.3f s", starts[w0 + b]);
                return ret;
            } else if (empty && m->frames.t == 0) {
                (*empty)++;
            }
        const float *emb, *mix;
        if ((ret = milnce_model_video_forward(m->model, m->clip_buf, B, 0, &emb, &mix, err)) < 0) return ret;
        const float *src = mixed5c ? mix : emb;
        for (size_t k = 0; k < (size_t)B * D; k++)
            if (!isfinite(src[k]))
                return milnce_error_set(err, MILNCE_ERR_NUMERIC, "checkpoint %s gives a non-finite %s for the window at %.3f s",
                                        m->checkpoint, mixed5c ? "mixed_5c feature" : "video embedding", starts[w0 + k / (size_t)D]);
        if (average) {
            for (int b = 0; b < B; b++)
                for (int d = 0; d < D; d++) out[d] += src[(size_t)b * D + d];
        } else {
            memcpy(out + (size_t)w0 * D, src, sizeof *out * (size_t)B * D);
        }
    }
    if (average && n > 0)
        for (int d = 0; d < D; d++) out[d] /= (float)n;
    return 0;
}

int milnce_eval_embed_texts(milnce_eval_model *m, const char *const *texts, size_t n, float *out,
                            size_t *empty, milnce_error *err) {
    if (!m->model->text) return milnce_error_set(err, MILNCE_ERR_INVALID, "the model was loaded without its text encoder");
    int L = m->cfg.eval.max_words, E = m->E;
    int32_t *ids = malloc(sizeof *ids * (size_t)m->batch * L);
    milnce_tokens tok = {0};
    int ret = 0;
    if (empty) *empty = 0;
    if (!ids) return milnce_error_set(err, MILNCE_ERR_NOMEM, "token ids");
    for (size_t i0 = 0; i0 < n; i0 += (size_t)m->batch) {
        int B = n - i0 < (size_t)m->batch ? (int)(n - i0) : m->batch;
        for (int b = 0; b < B; b++) {
            milnce_tokens_clear(&tok);
            const char *t = texts[i0 + b] ? texts[i0 + b] : "";
            if ((ret = milnce_tokenize(t, (size_t)-1, 0, &tok, err)) < 0) goto end;
            if ((ret = milnce_vocab_encode(&m->vocab, &tok, L, ids + (size_t)b * L, err)) < 0) goto end;
            if (ret == 0 && empty) (*empty)++;
        }
        const float *emb;
        if ((ret = milnce_model_text_forward(m->model, ids, B, &emb, err)) < 0) goto end;
        for (size_t k = 0; k < (size_t)B * E; k++)
            if (!isfinite(emb[k])) {
                ret = milnce_error_set(err, MILNCE_ERR_NUMERIC, "checkpoint %s gives a non-finite text embedding for sentence %zu",
                                       m->checkpoint, i0 + k / (size_t)E + 1);
                goto end;
            }
        memcpy(out + i0 * E, emb, sizeof *out * (size_t)B * E);
    }
    ret = 0;
end:
    milnce_tokens_free(&tok);
    free(ids);
    return ret;
}
