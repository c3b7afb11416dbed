/* The embedding C API (include/milnce/embed.h) over the eval model of pipeline/eval_model.c:
 * the same loading and forward passes as `milnce embed`, on the caller's clips. */
#include "milnce/embed.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "eval.h"
#include "model.h"

struct milnce_embedder {
    milnce_eval_model *m;
};

int milnce_embedder_open(milnce_embedder **out, const char *checkpoint, const char *config,
                         const char *const *sets, int nsets, int with_video, int with_text, milnce_error *err) {
    *out = NULL;
    milnce_embedder *e = calloc(1, sizeof *e);
    if (!e) return milnce_error_set(err, MILNCE_ERR_NOMEM, "embedder");
    milnce_eval_load_opts lo = {.checkpoint = checkpoint, .config = config && config[0] ? config : NULL,
                                .sets = sets, .nsets = nsets, .with_video = with_video, .with_text = with_text};
    int ret = milnce_eval_model_load(&e->m, &lo, err);
    if (ret < 0) {
        free(e);
        return ret;
    }
    *out = e;
    return 0;
}

void milnce_embedder_info_get(const milnce_embedder *e, milnce_embedder_info *info) {
    const milnce_eval_model *m = e->m;
    *info = (milnce_embedder_info){.T = m->cfg.data.num_frames, .S = m->cfg.data.size, .fps = m->cfg.data.fps,
                                   .E = m->E, .F = m->F, .max_words = m->cfg.eval.max_words, .step = m->step};
}

int milnce_embedder_video(milnce_embedder *e, const float *clips, size_t n, int mixed5c, float *out, milnce_error *err) {
    milnce_eval_model *m = e->m;
    if (!m->model->video) return milnce_error_set(err, MILNCE_ERR_INVALID, "the model was loaded without its video encoder");
    size_t clip = (size_t)3 * m->cfg.data.num_frames * m->cfg.data.size * m->cfg.data.size;
    size_t D = (size_t)(mixed5c ? m->F : m->E);
    /* In the model's batches, as milnce_eval_embed_windows runs them. */
    for (size_t i0 = 0; i0 < n; i0 += (size_t)m->batch) {
        int B = n - i0 < (size_t)m->batch ? (int)(n - i0) : m->batch;
        const float *emb, *mix;
        int ret = milnce_model_video_forward(m->model, clips + i0 * clip, B, 0, &emb, &mix, err);
        if (ret < 0) return ret;
        memcpy(out + i0 * D, mixed5c ? mix : emb, sizeof *out * (size_t)B * D);
    }
    return 0;
}

int milnce_embedder_text(milnce_embedder *e, const char *const *texts, size_t n, float *out, size_t *empty,
                         milnce_error *err) {
    return milnce_eval_embed_texts(e->m, texts, n, out, empty, err);
}

void milnce_embedder_close(milnce_embedder **ep) {
    milnce_embedder *e = *ep;
    if (!e) return;
    milnce_eval_model_free(&e->m);
    free(e);
    *ep = NULL;
}
