#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

milnce_optim_config milnce_optim_defaults(void) {
    milnce_optim_config c;
    memset(&c, 0, sizeof c);
    c.kind = MILNCE_OPTIM_ADAM;
    c.lr = 1e-3;
    c.beta1 = 0.9;
    c.beta2 = 0.999;
    c.eps = 1e-8;
    c.num_cycles = 0.5;
    return c;
}

static float *alloc_moment(size_t n) {
    size_t bytes = ((n ? n : 1) * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

int milnce_optim_init(milnce_optim *o, const milnce_optim_config *cfg, size_t n, milnce_error *err) {
    memset(o, 0, sizeof *o);
    if (cfg->kind != MILNCE_OPTIM_ADAM && cfg->kind != MILNCE_OPTIM_ADAMW && cfg->kind != MILNCE_OPTIM_SGD)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "optimizer: unknown kind %d", (int)cfg->kind);
    if (!(cfg->lr >= 0) || !(cfg->weight_decay >= 0) || !(cfg->num_cycles >= 0) || cfg->warmup_steps < 0)
        return milnce_error_set(err, MILNCE_ERR_RANGE,
                                "optimizer: lr (%g), weight_decay (%g), num_cycles (%g) and "
                                "warmup_steps (%lld) must be >= 0",
                                cfg->lr, cfg->weight_decay, cfg->num_cycles, (long long)cfg->warmup_steps);
    if (cfg->kind != MILNCE_OPTIM_SGD &&
        (!(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1) || !(cfg->eps >= 0)))
        return milnce_error_set(err, MILNCE_ERR_RANGE,
                                "optimizer: Adam betas (%g, %g) must be in [0, 1) and eps (%g) >= 0",
                                cfg->beta1, cfg->beta2, cfg->eps);
    if (cfg->kind == MILNCE_OPTIM_SGD && (!(cfg->momentum >= 0) || (cfg->nesterov && cfg->momentum <= 0)))
        return milnce_error_set(err, MILNCE_ERR_RANGE,
                                "optimizer: SGD momentum %g must be >= 0 (and > 0 with nesterov)",
                                cfg->momentum);
    o->cfg = *cfg;
    o->n = n;
    int need_m = cfg->kind != MILNCE_OPTIM_SGD || cfg->momentum > 0;
    int need_v = cfg->kind != MILNCE_OPTIM_SGD;
    if ((need_m && !(o->m = alloc_moment(n))) || (need_v && !(o->v = alloc_moment(n)))) {
        milnce_optim_free(o);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "optimizer moments for %zu parameters", n);
    }
    return 0;
}

void milnce_optim_free(milnce_optim *o) {
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
    o->n = 0;
}

double milnce_lr_at(const milnce_optim_config *cfg, int64_t t) {
    int64_t W = cfg->warmup_steps;
    if (t < W) return cfg->lr * (double)t / (double)(W > 1 ? W : 1);
    if (cfg->total_steps <= 0) return cfg->lr;
    int64_t span = cfg->total_steps - W;
    double progress = (double)(t - W) / (double)(span > 1 ? span : 1);
    double f = 0.5 * (1.0 + cos(M_PI * cfg->num_cycles * 2.0 * progress));
    return cfg->lr * (f > 0 ? f : 0);
}

double milnce_grad_norm(const float *g, size_t n) {
    /* Fixed chunks summed in order: the result does not depend on the thread count or on the
     * order threads finish, so a resumed or re-run training clips identically. */
    enum { CHUNK = 1 << 16 };
    size_t nchunks = (n + CHUNK - 1) / CHUNK;
    double small[64], *part = nchunks <= 64 ? small : malloc(sizeof(double) * nchunks);
    if (!part) { /* out of memory: serial sum (may differ in the last bit) */
        double s = 0;
        for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
        return sqrt(s);
    }
#pragma omp parallel for schedule(static) if (nchunks > 1)
    for (size_t c = 0; c < nchunks; c++) {
        size_t end = (c + 1) * CHUNK < n ? (c + 1) * CHUNK : n;
        double s = 0;
        for (size_t i = c * CHUNK; i < end; i++) s += (double)g[i] * g[i];
        part[c] = s;
    }
    double s = 0;
    for (size_t c = 0; c < nchunks; c++) s += part[c];
    if (part != small) free(part);
    return sqrt(s);
}

double milnce_clip_grad_norm(float *g, size_t n, double max_norm) {
    double norm = milnce_grad_norm(g, n);
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
        float c = (float)coef;
#pragma omp parallel for schedule(static) if (n > (1u << 16))
        for (size_t i = 0; i < n; i++) g[i] *= c;
    }
    return norm;
}

int milnce_optim_step(milnce_optim *o, float *params, float *grads, double *lr_used,
                      double *grad_norm, milnce_error *err) {
    const milnce_optim_config *c = &o->cfg;
    const size_t n = o->n;
    double norm = milnce_grad_norm(grads, n);
    if (grad_norm) *grad_norm = norm;
    if (!isfinite(norm))
        return milnce_error_set(err, MILNCE_ERR_NUMERIC,
                                "optimizer step %lld: gradient norm is %g; parameters left unchanged",
                                (long long)o->step, norm);
    if (c->clip_norm > 0) {
        double coef = c->clip_norm / (norm + 1e-6);
        if (coef < 1.0) {
            float cf = (float)coef;
#pragma omp parallel for schedule(static) if (n > (1u << 16))
            for (size_t i = 0; i < n; i++) grads[i] *= cf;
        }
    }
    const double lr = milnce_lr_at(c, o->step);
    if (lr_used) *lr_used = lr;
    const float wd = (float)c->weight_decay;
    float *m = o->m, *v = o->v;

    /* The update runs over [0, n) minus the frozen range, as two plain loops. */
    size_t fb = o->frozen_begin < n ? o->frozen_begin : n, fe = o->frozen_end < n ? o->frozen_end : n;
    if (fe < fb) fe = fb;
    const size_t lo[2] = {0, fe}, hi[2] = {fb, n};
    for (int r = 0; r < 2; r++) {
        const size_t a = lo[r], b = hi[r];
        if (c->kind == MILNCE_OPTIM_SGD) {
            const float mu = (float)c->momentum, flr = (float)lr;
            const int first = o->step == 0, nest = c->nesterov;
#pragma omp parallel for schedule(static) if (b - a > (1u << 16))
            for (size_t i = a; i < b; i++) {
                float g = grads[i] + wd * params[i];
                if (m) {
                    m[i] = first ? g : mu * m[i] + g;
                    g = nest ? g + mu * m[i] : m[i];
                }
                params[i] -= flr * g;
            }
        } else {
            const int64_t t = o->step + 1;
            const float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->eps;
            const double bc1 = 1.0 - pow(c->beta1, (double)t), bc2 = 1.0 - pow(c->beta2, (double)t);
            const float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2);
            const float l2 = c->kind == MILNCE_OPTIM_ADAM ? wd : 0.0f;
            const float decay = c->kind == MILNCE_OPTIM_ADAMW ? (float)(1.0 - lr * c->weight_decay) : 1.0f;
#pragma omp parallel for schedule(static) if (b - a > (1u << 16))
            for (size_t i = a; i < b; i++) {
                float p = params[i] * decay;
                float g = grads[i] + l2 * p;
                m[i] = b1 * m[i] + (1.0f - b1) * g;
                v[i] = b2 * v[i] + (1.0f - b2) * g * g;
                float denom = sqrtf(v[i]) / bc2_sqrt + eps;
                params[i] = p - step_size * (m[i] / denom);
            }
        }
    }
    o->step++;
    return 0;
}

int milnce_optim_kind_from_name(const char *name) {
    if (!name) return -1;
    if (strcmp(name, "adam") == 0) return MILNCE_OPTIM_ADAM;
    if (strcmp(name, "adamw") == 0) return MILNCE_OPTIM_ADAMW;
    if (strcmp(name, "sgd") == 0) return MILNCE_OPTIM_SGD;
    return -1;
}

const char *milnce_optim_kind_name(milnce_optim_kind kind) {
    switch (kind) {
    case MILNCE_OPTIM_ADAM: return "adam";
    case MILNCE_OPTIM_ADAMW: return "adamw";
    case MILNCE_OPTIM_SGD: return "sgd";
    }
    return NULL;
}
