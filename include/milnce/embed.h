/* Embeddings of a trained checkpoint for other languages (Python's milnce.Model).
 *
 * Legend: n clips or sentences, T = data.num_frames, S = data.size of the checkpoint's config,
 * E = model.embed_dim, F = 1024 * model.width (the pooled mixed_5c feature).
 *
 * The model is loaded as `milnce embed --checkpoint CKPT [--config F] [--set k=v]` loads it
 * (pipeline/eval.h: shapes from the checkpoint's stored config, eval.* and model.vocab from the
 * overrides, BatchNorm running statistics), so the embeddings equal `milnce embed`'s for the
 * same clips and sentences. Errors as in milnce/loader.h (struct milnce_error). */
#ifndef MILNCE_PUBLIC_EMBED_H
#define MILNCE_PUBLIC_EMBED_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct milnce_error;

typedef struct milnce_embedder milnce_embedder;

typedef struct milnce_embedder_info {
    int64_t T, S;       /* clip frames and side the video encoder expects */
    double fps;         /* frames per second of training clips (data.fps) */
    int64_t E, F;       /* embedding and mixed_5c widths (F = 0 without the video encoder) */
    int64_t max_words;  /* eval.max_words: tokens kept per sentence */
    int64_t step;       /* training steps of the checkpoint */
} milnce_embedder_info;

/* checkpoint: a .safetensors file or a run folder; config (may be NULL) and sets as `milnce
 * embed`'s --config/--set; with_video/with_text: the encoders to load (at least one). */
int milnce_embedder_open(milnce_embedder **out, const char *checkpoint, const char *config,
                         const char *const *sets, int nsets, int with_video, int with_text,
                         struct milnce_error *err);
void milnce_embedder_info_get(const milnce_embedder *m, milnce_embedder_info *info);

/* clips (n, 3, T, S, S) RGB in [0, 1] -> out (n, E), or (n, F) with mixed5c. */
int milnce_embedder_video(milnce_embedder *m, const float *clips, size_t n, int mixed5c, float *out,
                          struct milnce_error *err);

/* n UTF-8 sentences -> out (n, E); *empty (may be NULL): how many had no known word. */
int milnce_embedder_text(milnce_embedder *m, const char *const *texts, size_t n, float *out,
                         size_t *empty, struct milnce_error *err);

void milnce_embedder_close(milnce_embedder **m);

#ifdef __cplusplus
}
#endif

#endif
