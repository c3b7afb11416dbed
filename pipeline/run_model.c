/* The model of a config and the newest checkpoint of a run folder (pipeline/run_model.h). */
#include "run_model.h"

#include <stdio.h>
#include <string.h>

#include "fileutil.h"
#include "model.h"

void milnce_model_cfg_from_config(const milnce_config *cfg, int vocab, int batch, milnce_model_cfg *m) {
    *m = milnce_model_default_cfg();
    /* Training and evaluation run one model per process: OpenBLAS single-threaded during its
     * passes only, as in earlier versions (same numerics; include/milnce/context.h). */
    m->ctx.blas_single_passes = 1;
    m->with_video = m->with_text = 1;
    m->video.width = (float)cfg->model.width;
    m->video.space_to_depth = cfg->model.space_to_depth;
    m->video.n3 = cfg->model.blocks3;
    m->video.n4 = cfg->model.blocks4;
    m->video.n5 = cfg->model.blocks5;
    m->video.emb_dim = cfg->model.embed_dim;
    m->video.T = cfg->data.num_frames;
    m->video.H = m->video.W = cfg->data.size;
    m->video.max_batch = batch;
    m->text.vocab = vocab;
    m->text.word_dim = cfg->model.word_dim;
    m->text.hidden = cfg->model.text_hidden;
    m->text.emb_dim = cfg->model.embed_dim;
    m->text.max_words = cfg->data.max_words;
    m->text.max_batch = batch;
    m->text.frozen = cfg->model.word2vec[0] && cfg->model.freeze_words;
    m->text.masked = cfg->train.masked_words;
}

int milnce_precision_choose(const char *key, const char *value, int cpu_bf16, int *prec,
                            const char **note, milnce_error *err) {
    *note = NULL;
    if (strcmp(value, "fp32") == 0) {
        *prec = MILNCE_PREC_FP32;
        return 0;
    }
    if (strcmp(value, "auto") == 0) {
        *prec = cpu_bf16 ? MILNCE_PREC_BF16 : MILNCE_PREC_FP32;
        if (!cpu_bf16) *note = "this CPU has no AVX512_BF16: fp32";
        return 0;
    }
    if (strcmp(value, "bf16") == 0) {
        if (!cpu_bf16)
            return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED,
                                    "key %s: bf16 needs a CPU with AVX512_BF16 (AMD Zen 4 or later, "
                                    "Intel Cooper Lake, Sapphire Rapids or later) and this one has "
                                    "none: set %s to fp32, or auto to use bf16 only where it runs",
                                    key, key);
        *prec = MILNCE_PREC_BF16;
        return 0;
    }
    return milnce_error_set(err, MILNCE_ERR_INVALID, "key %s: '%s' is not fp32, bf16 or auto", key,
                            value);
}

int milnce_run_latest_checkpoint(const char *out_dir, char *path, size_t cap) {
    char p[MILNCE_PATH_MAX], name[512] = "";
    path[0] = '\0';
    int ret = milnce_path(p, sizeof p, NULL, "%s/checkpoints/latest", out_dir);
    if (ret < 0) return ret;
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    if (fgets(name, sizeof name, f)) {
        name[strcspn(name, "\r\n")] = '\0';
        if (name[0] && !strchr(name, '/')) ret = milnce_path(path, cap, NULL, "%s/checkpoints/%s", out_dir, name);
    }
    fclose(f);
    return ret;
}
