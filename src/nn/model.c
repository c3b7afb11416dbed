#include "model.h"

#include "rng.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "omp_scope.h"

milnce_model_cfg milnce_model_default_cfg(void) {
    milnce_model_cfg c = {.with_video = 1, .with_text = 1, .video = milnce_s3dg_default_cfg(),
                          .text = milnce_text_default_cfg(), .ctx = milnce_ctx_default()};
    return c;
}

int milnce_model_create(milnce_model **out, const milnce_model_cfg *cfg, milnce_error *err) {
    *out = NULL;
    milnce_model *m = calloc(1, sizeof *m);
    if (!m) return milnce_error_set(err, MILNCE_ERR_NOMEM, "model");
    m->cfg = *cfg;
    m->threads = m->cfg.video.threads = cfg->ctx.threads > 0 ? cfg->ctx.threads : omp_get_max_threads();
    m->cfg.video.blas_single = cfg->ctx.blas_single_passes;
    m->cfg.video.precision = m->cfg.text.precision = cfg->ctx.precision;
    if (cfg->ctx.precision != MILNCE_PREC_FP32 && cfg->ctx.precision != MILNCE_PREC_BF16) {
        free(m);
        return milnce_error_set(err, MILNCE_ERR_INVALID, "model: unknown precision %d",
                                cfg->ctx.precision);
    }
    if (cfg->ctx.precision == MILNCE_PREC_BF16 && !milnce_bf16_supported()) {
        free(m);
        return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED,
                                "model: bf16 precision needs a CPU with AVX512_BF16 (Zen 4 and "
                                "later, Cooper Lake, Sapphire Rapids); this one has none: use fp32");
    }
    int ret = 0;
    if (cfg->with_video)
        ret = milnce_s3dg_create(&m->video, &m->cfg.video, "", &m->ptab, &m->btab, err);
    if (ret >= 0 && cfg->with_text)
        ret = milnce_text_create(&m->text, &m->cfg.text, "text_module.", &m->ptab, err);
    if (ret >= 0) {
        m->params = milnce_params_alloc_block(&m->ptab, err);
        m->grads = m->params ? milnce_params_alloc_block(&m->ptab, err) : NULL;
        m->buffers = m->grads ? milnce_params_alloc_block(&m->btab, err) : NULL;
        if (!m->buffers) ret = MILNCE_ERR_NOMEM;
    }
    if (ret < 0) {
        milnce_model_free(&m);
        return ret;
    }
    *out = m;
    return 0;
}

void milnce_model_free(milnce_model **pm) {
    milnce_model *m = *pm;
    if (!m) return;
    milnce_s3dg_free(&m->video);
    milnce_text_free(&m->text);
    free(m->params);
    free(m->grads);
    free(m->buffers);
    milnce_params_free(&m->ptab);
    milnce_params_free(&m->btab);
    free(m);
    *pm = NULL;
}

/* ------------------------------------------------------------------------- initialisation */

static uint64_t fnv1a64(const char *s) {
    uint64_t h = 0xCBF29CE484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001B3ULL;
    }
    return h;
}

/* Element i in [0, 1) as a double (exactly k / 2^24). */
static double gen_u01(uint64_t key, size_t i) {
    uint64_t state = key + (uint64_t)i; /* stateless: element i never depends on i - 1 */
    return (double)(milnce_splitmix64(&state) >> 40) / 16777216.0;
}

static uint64_t gen_key(uint64_t seed, const char *name) {
    return (seed * 0x9E3779B97F4A7C15ULL) ^ fnv1a64(name);
}

void milnce_gen_uniform(uint64_t seed, const char *name, size_t n, float *out) {
    uint64_t key = gen_key(seed, name);
    for (size_t i = 0; i < n; i++) out[i] = (float)gen_u01(key, i);
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

void milnce_gen_tensor(uint64_t seed, const milnce_tensor_desc *d, float *out) {
    const char *name = d->name;
    const char *dot = strrchr(name, '.');
    const char *leaf = dot ? dot + 1 : name;
    /* parent component: between the previous dot (or the start) and the last dot */
    int is_bn = 0;
    if (dot) {
        const char *p = dot;
        while (p > name && p[-1] != '.') p--;
        is_bn = strncmp(p, "bn", 2) == 0;
    }
    int rule;
    double bound = 1.0;
    if (strcmp(leaf, "running_mean") == 0) rule = 0;
    else if (strcmp(leaf, "running_var") == 0) rule = 1;
    else if (is_bn && strcmp(leaf, "weight") == 0) rule = 2;
    else if (is_bn && strcmp(leaf, "bias") == 0) rule = 0;
    else if (ends_with(name, "word_embd.weight")) rule = 3, bound = 1.0;
    else if (d->ndim == 5) {
        double fan = (double)(d->shape[1] * d->shape[2] * d->shape[3] * d->shape[4]);
        rule = 3, bound = sqrt(6.0 / fan);
    } else if (d->ndim == 2) rule = 3, bound = 1.0 / sqrt((double)d->shape[1]);
    else rule = 3, bound = 1.0 / sqrt((double)d->shape[0]);
    uint64_t key = gen_key(seed, name);
    for (size_t i = 0; i < d->count; i++) {
        double u = 2.0 * gen_u01(key, i) - 1.0;
        double v = rule == 0 ? 0.1 * u : rule == 1 ? 1.0 + 0.5 * u : rule == 2 ? 1.0 + 0.1 * u
                                                                                : u * bound;
        out[i] = (float)v;
    }
}

void milnce_model_init(milnce_model *m, uint64_t seed) {
    for (size_t i = 0; i < m->ptab.n; i++)
        milnce_gen_tensor(seed, &m->ptab.t[i], m->params + m->ptab.t[i].offset);
    for (size_t i = 0; i < m->btab.n; i++)
        milnce_gen_tensor(seed, &m->btab.t[i], m->buffers + m->btab.t[i].offset);
}

/* ------------------------------------------------------------------------- access, running */

float *milnce_model_tensor(milnce_model *m, const char *name, const milnce_tensor_desc **desc) {
    int i = milnce_params_find(&m->ptab, name);
    if (i >= 0) {
        if (desc) *desc = &m->ptab.t[i];
        return m->params + m->ptab.t[i].offset;
    }
    i = milnce_params_find(&m->btab, name);
    if (i >= 0) {
        if (desc) *desc = &m->btab.t[i];
        return m->buffers + m->btab.t[i].offset;
    }
    return NULL;
}

float *milnce_model_grad(milnce_model *m, const char *name) {
    int i = milnce_params_find(&m->ptab, name);
    return i >= 0 ? m->grads + m->ptab.t[i].offset : NULL;
}

void milnce_model_zero_grad(milnce_model *m) {
    memset(m->grads, 0, sizeof(float) * m->ptab.total);
}

int milnce_model_video_forward(milnce_model *m, const float *clip, int B, int train,
                               const float **emb, const float **mix, milnce_error *err) {
    if (!m->video) return milnce_error_set(err, MILNCE_ERR_INVALID, "model has no video encoder");
    return milnce_s3dg_forward(m->video, m->params, m->buffers, clip, B, train, emb, mix, err);
}

int milnce_model_video_backward(milnce_model *m, const float *d_emb, const float *d_mix,
                                milnce_error *err) {
    if (!m->video) return milnce_error_set(err, MILNCE_ERR_INVALID, "model has no video encoder");
    return milnce_s3dg_backward(m->video, m->params, m->grads, d_emb, d_mix, err);
}

int milnce_model_text_forward(milnce_model *m, const int32_t *ids, int B, const float **out,
                              milnce_error *err) {
    if (!m->text) return milnce_error_set(err, MILNCE_ERR_INVALID, "model has no text encoder");
    const int prev = milnce_omp_scope_enter(m->threads);
    int ret = milnce_text_forward(m->text, m->params, ids, B, out, err);
    milnce_omp_scope_leave(prev);
    return ret;
}

int milnce_model_text_backward(milnce_model *m, const float *d_out, milnce_error *err) {
    if (!m->text) return milnce_error_set(err, MILNCE_ERR_INVALID, "model has no text encoder");
    const int prev = milnce_omp_scope_enter(m->threads);
    int ret = milnce_text_backward(m->text, m->params, m->grads, d_out, err);
    milnce_omp_scope_leave(prev);
    return ret;
}
