#include "text_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"

struct milnce_text {
    milnce_text_cfg cfg;
    size_t o_embd, o_w1, o_b1, o_w2, o_b2; /* offsets in the parameter block */
    int32_t *ids;    /* (max_batch, L) copy of the last input */
    uint8_t *mask;   /* (max_batch, L) id != 0 */
    float *e;        /* (max_batch * L, D) looked-up words */
    float *h;        /* (max_batch * L, Hd) ReLU(fc1) */
    float *m;        /* (max_batch, Hd) max over words */
    int32_t *arg;    /* (max_batch, Hd) winning word */
    float *out;      /* (max_batch, E) */
    float *dm, *dh, *dh_pre, *de; /* gradients, as m, h, h, e */
    int last_B;
};

milnce_text_cfg milnce_text_default_cfg(void) {
    milnce_text_cfg c = {.vocab = 66250, .word_dim = 300, .hidden = 2048, .emb_dim = 512,
                         .max_words = 16, .max_batch = 1, .frozen = 1, .masked = 0};
    return c;
}

static int decl(milnce_param_table *tab, const char *prefix, const char *name, int ndim,
                int64_t d0, int64_t d1, size_t *off, milnce_error *err) {
    char full[MILNCE_NAME_MAX + 64];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    int64_t shape[2] = {d0, d1};
    int i = milnce_params_add(tab, full, ndim, shape, err);
    if (i < 0) return i;
    *off = tab->t[i].offset;
    return 0;
}

int milnce_text_create(milnce_text **out, const milnce_text_cfg *cfg, const char *prefix,
                       milnce_param_table *params, milnce_error *err) {
    *out = NULL;
    if (cfg->vocab < 1 || cfg->word_dim < 1 || cfg->hidden < 1 || cfg->emb_dim < 1 ||
        cfg->max_words < 1 || cfg->max_batch < 1)
        return milnce_error_set(err, MILNCE_ERR_INVALID,
                                "text model: bad sizes (V %d, D %d, hidden %d, E %d, L %d, B %d)",
                                cfg->vocab, cfg->word_dim, cfg->hidden, cfg->emb_dim,
                                cfg->max_words, cfg->max_batch);
    if (!prefix) prefix = "";
    milnce_text *t = calloc(1, sizeof *t);
    if (!t) return milnce_error_set(err, MILNCE_ERR_NOMEM, "text model");
    t->cfg = *cfg;
    int ret;
    if ((ret = decl(params, prefix, "word_embd.weight", 2, cfg->vocab, cfg->word_dim, &t->o_embd,
                    err)) < 0 ||
        (ret = decl(params, prefix, "fc1.weight", 2, cfg->hidden, cfg->word_dim, &t->o_w1, err)) <
            0 ||
        (ret = decl(params, prefix, "fc1.bias", 1, cfg->hidden, 0, &t->o_b1, err)) < 0 ||
        (ret = decl(params, prefix, "fc2.weight", 2, cfg->emb_dim, cfg->hidden, &t->o_w2, err)) <
            0 ||
        (ret = decl(params, prefix, "fc2.bias", 1, cfg->emb_dim, 0, &t->o_b2, err)) < 0) {
        free(t);
        return ret;
    }
    size_t B = (size_t)cfg->max_batch, L = (size_t)cfg->max_words;
    t->ids = malloc(sizeof(int32_t) * B * L);
    t->mask = malloc(B * L);
    t->e = malloc(sizeof(float) * B * L * cfg->word_dim);
    t->h = malloc(sizeof(float) * B * L * cfg->hidden);
    t->m = malloc(sizeof(float) * B * cfg->hidden);
    t->arg = malloc(sizeof(int32_t) * B * cfg->hidden);
    t->out = malloc(sizeof(float) * B * cfg->emb_dim);
    t->dm = malloc(sizeof(float) * B * cfg->hidden);
    t->dh = malloc(sizeof(float) * B * L * cfg->hidden);
    t->dh_pre = malloc(sizeof(float) * B * L * cfg->hidden);
    t->de = cfg->frozen ? NULL : malloc(sizeof(float) * B * L * cfg->word_dim);
    if (!t->ids || !t->mask || !t->e || !t->h || !t->m || !t->arg || !t->out || !t->dm ||
        !t->dh || !t->dh_pre || (!cfg->frozen && !t->de)) {
        milnce_text_free(&t);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "text model activations");
    }
    t->last_B = 0;
    *out = t;
    return 0;
}

void milnce_text_free(milnce_text **pt) {
    milnce_text *t = *pt;
    if (!t) return;
    free(t->ids);
    free(t->mask);
    free(t->e);
    free(t->h);
    free(t->m);
    free(t->arg);
    free(t->out);
    free(t->dm);
    free(t->dh);
    free(t->dh_pre);
    free(t->de);
    free(t);
    *pt = NULL;
}

const milnce_text_cfg *milnce_text_get_cfg(const milnce_text *t) { return &t->cfg; }

int milnce_text_forward(milnce_text *t, const float *params, const int32_t *ids, int B,
                        const float **out, milnce_error *err) {
    const milnce_text_cfg *c = &t->cfg;
    if (B < 1 || B > c->max_batch)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "text model: batch %d not in 1..%d", B,
                                c->max_batch);
    const int N = B * c->max_words;
    for (int i = 0; i < N; i++) {
        if (ids[i] < 0 || ids[i] >= c->vocab)
            return milnce_error_set(err, MILNCE_ERR_RANGE,
                                    "text model: word id %d at %d not in 0..%d", (int)ids[i], i,
                                    c->vocab - 1);
        t->ids[i] = ids[i];
        t->mask[i] = ids[i] != 0;
    }
    t->last_B = 0;
    int ret = milnce_embedding_forward(t->e, t->ids, params + t->o_embd, N, c->vocab, c->word_dim);
    if (ret < 0) return milnce_error_set(err, ret, "text model: embedding");
    if ((ret = milnce_linear_forward(t->h, t->e, params + t->o_w1, params + t->o_b1, N,
                                     c->word_dim, c->hidden, c->precision)) < 0)
        return milnce_error_set(err, ret, "text model: fc1: %s", milnce_strerror(ret));
    milnce_relu_forward(t->h, t->h, (size_t)N * c->hidden);
    milnce_maxwords_forward(t->m, t->arg, t->h, c->masked ? t->mask : NULL, B, c->max_words,
                            c->hidden);
    if ((ret = milnce_linear_forward(t->out, t->m, params + t->o_w2, params + t->o_b2, B,
                                     c->hidden, c->emb_dim, c->precision)) < 0)
        return milnce_error_set(err, ret, "text model: fc2: %s", milnce_strerror(ret));
    t->last_B = B;
    if (out) *out = t->out;
    return 0;
}

int milnce_text_backward(milnce_text *t, const float *params, float *grads, const float *d_out,
                         milnce_error *err) {
    const milnce_text_cfg *c = &t->cfg;
    const int B = t->last_B, N = B * c->max_words;
    if (B < 1) return milnce_error_set(err, MILNCE_ERR_INVALID, "text backward without forward");
    memset(t->dm, 0, sizeof(float) * (size_t)B * c->hidden);
    int ret = milnce_linear_backward(t->dm, grads + t->o_w2, grads + t->o_b2, d_out, t->m,
                                     params + t->o_w2, B, c->hidden, c->emb_dim, c->precision);
    if (ret < 0) return milnce_error_set(err, ret, "text backward: fc2: %s", milnce_strerror(ret));
    memset(t->dh, 0, sizeof(float) * (size_t)N * c->hidden);
    milnce_maxwords_backward(t->dh, t->dm, t->arg, B, c->max_words, c->hidden);
    memset(t->dh_pre, 0, sizeof(float) * (size_t)N * c->hidden);
    milnce_relu_backward(t->dh_pre, t->dh, t->h, (size_t)N * c->hidden);
    if (t->de) memset(t->de, 0, sizeof(float) * (size_t)N * c->word_dim);
    ret = milnce_linear_backward(t->de, grads + t->o_w1, grads + t->o_b1, t->dh_pre, t->e,
                                 params + t->o_w1, N, c->word_dim, c->hidden, c->precision);
    if (ret < 0) return milnce_error_set(err, ret, "text backward: fc1: %s", milnce_strerror(ret));
    if (t->de)
        milnce_embedding_backward(grads + t->o_embd, t->de, t->ids, -1, N, c->vocab, c->word_dim);
    return 0;
}
