/* S3D-G as a list of nodes over activation tensors, built once from the config.
 *
 * A node reads tensors made by earlier nodes and writes one new tensor, so forward runs the list
 * in order and backward in reverse; gradients of an activation read by several nodes (the input
 * of an Inception block feeds four branches) add up because every layer backward accumulates. */
#include "s3dg.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "layers.h"
#include "omp_scope.h"

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f

enum { OP_UNIT, OP_POOL, OP_GATE, OP_CONCAT, OP_S2D, OP_CROP, OP_GAP, OP_FC };
enum { K_CONV, K_BN, K_POOL, K_GATE, K_OTHER, K_COUNT };
static const char *const kind_names[K_COUNT] = {"conv", "bn_relu", "pool", "gate", "other"};

/* An activation (max_batch, C, T, H, W). */
typedef struct tensor {
    int C, T, H, W;
    size_t per_clip;  /* C*T*H*W */
    float *x;         /* (max_batch, C, T, H, W); the input tensor borrows the caller's clip */
    float *dx;        /* gradient, same shape, or NULL (no gradient / shared scratch) */
    int kind;         /* TK_* */
} tensor;
/* INPUT: the caller's clip; ACT: an activation with a gradient; PRE: a conv output before BN,
 * whose gradient is shared scratch; CONST: an activation that needs no gradient. */
enum { TK_INPUT, TK_ACT, TK_PRE, TK_CONST };

typedef struct node {
    int op;
    int in[4], n_in; /* tensor ids */
    int out;         /* tensor id */
    int pre;         /* UNIT: conv output before BN */
    milnce_conv3d_cfg conv;
    milnce_pool3d_cfg pool;
    size_t w, g, b;  /* parameter offsets: conv/linear weight, BN gamma, BN beta or linear bias */
    size_t rm, rv;   /* buffer offsets: BN running mean / var */
    float *s1, *s2;  /* UNIT: batch mean, invstd (C); GATE: mean, gate (max_batch, C) */
    int32_t *argmax; /* POOL: (max_batch, C, To, Ho, Wo) */
    double gflop;    /* per clip, forward */
} node;

struct milnce_s3dg {
    milnce_s3dg_cfg cfg;
    node *nodes;
    int n_nodes, cap_nodes;
    tensor *tens;
    int n_tens, cap_tens;
    int t_in, t_mix, t_emb, feat;
    float *ws;   /* conv workspace */
    size_t ws_n;
    float *gws;  /* self-gating backward workspace */
    size_t gws_n;
    float *dpre; /* gradient of a PRE tensor, reused by every unit */
    size_t dpre_n;
    int grads_ready;
    int last_B, last_train, have_forward;
    const milnce_bn_sync *bn_sync; /* train-mode BatchNorm statistics over every rank; NULL = this batch's */
    double t_fwd[K_COUNT], t_bwd[K_COUNT], gflop[K_COUNT];
    /* while building */
    const char *prefix;
    milnce_param_table *params, *buffers;
    milnce_error *err;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *alloc_floats(size_t n) {
    size_t bytes = ((n ? n : 1) * sizeof(float) + 63) & ~(size_t)63;
    return aligned_alloc(64, bytes);
}

milnce_s3dg_cfg milnce_s3dg_default_cfg(void) {
    milnce_s3dg_cfg c = {.width = 1.0f, .space_to_depth = 0, .n3 = 2, .n4 = 5, .n5 = 2,
                         .emb_dim = 512, .T = 16, .H = 224, .W = 224, .max_batch = 1};
    return c;
}

static int wmul(const milnce_s3dg *s, int c) {
    int v = (int)floor((double)c * (double)s->cfg.width + 0.5);
    return v < 1 ? 1 : v;
}

/* ------------------------------------------------------------------------------ building */

static int new_tensor(milnce_s3dg *s, int C, int T, int H, int W, int kind) {
    if (s->n_tens == s->cap_tens) {
        int cap = s->cap_tens ? 2 * s->cap_tens : 64;
        tensor *t = realloc(s->tens, (size_t)cap * sizeof *t);
        if (!t) return milnce_error_set(s->err, MILNCE_ERR_NOMEM, "s3dg tensors");
        s->tens = t;
        s->cap_tens = cap;
    }
    tensor *t = &s->tens[s->n_tens];
    memset(t, 0, sizeof *t);
    t->C = C, t->T = T, t->H = H, t->W = W, t->kind = kind;
    t->per_clip = (size_t)C * T * H * W;
    if (kind != TK_INPUT) {
        t->x = alloc_floats(t->per_clip * (size_t)s->cfg.max_batch);
        if (!t->x) return milnce_error_set(s->err, MILNCE_ERR_NOMEM, "s3dg activation");
    }
    return s->n_tens++;
}

static node *new_node(milnce_s3dg *s, int op) {
    if (s->n_nodes == s->cap_nodes) {
        int cap = s->cap_nodes ? 2 * s->cap_nodes : 64;
        node *n = realloc(s->nodes, (size_t)cap * sizeof *n);
        if (!n) {
            milnce_error_set(s->err, MILNCE_ERR_NOMEM, "s3dg nodes");
            return NULL;
        }
        s->nodes = n;
        s->cap_nodes = cap;
    }
    node *n = &s->nodes[s->n_nodes++];
    memset(n, 0, sizeof *n);
    n->op = op;
    return n;
}

/* Declares prefix+name into tab; *off = its offset in the block. */
static int declare(milnce_s3dg *s, milnce_param_table *tab, const char *name, int ndim,
                   const int64_t *shape, size_t *off) {
    char full[MILNCE_NAME_MAX + 64];
    snprintf(full, sizeof full, "%s%s", s->prefix, name);
    int i = milnce_params_add(tab, full, ndim, shape, s->err);
    if (i < 0) return i;
    *off = tab->t[i].offset;
    return 0;
}

/* Conv3d (no bias) -> BatchNorm3d -> ReLU, tensors `<name>.conv<idx>.weight`, `<name>.bn<idx>.*`.
 * Returns the output tensor id or a negative error. */
static int add_unit(milnce_s3dg *s, const char *name, int idx, int in, int cout, int kt, int kh,
                    int kw, int st, int sh, int sw, int pt, int ph, int pw) {
    const tensor *ti = &s->tens[in];
    milnce_conv3d_cfg cc = {.c_in = ti->C, .c_out = cout, .kt = kt, .kh = kh, .kw = kw,
                            .st = st, .sh = sh, .sw = sw, .pt = pt, .ph = ph, .pw = pw,
                            .prec = s->cfg.precision};
    int To, Ho, Wo, ret;
    if ((ret = milnce_conv3d_out_dims(&cc, ti->T, ti->H, ti->W, &To, &Ho, &Wo)) < 0)
        return milnce_error_set(s->err, ret, "%s%s.conv%d: input %dx%dx%d too small", s->prefix,
                                name, idx, ti->T, ti->H, ti->W);
    size_t wsn = milnce_conv3d_workspace_floats(&cc, s->cfg.max_batch, ti->T, ti->H, ti->W);
    if (wsn > s->ws_n) s->ws_n = wsn;
    int pre = new_tensor(s, cout, To, Ho, Wo, TK_PRE);
    if (pre < 0) return pre;
    int out = new_tensor(s, cout, To, Ho, Wo, TK_ACT);
    if (out < 0) return out;
    size_t np = s->tens[pre].per_clip * (size_t)s->cfg.max_batch;
    if (np > s->dpre_n) s->dpre_n = np;
    node *n = new_node(s, OP_UNIT);
    if (!n) return MILNCE_ERR_NOMEM;
    n->in[0] = in, n->n_in = 1, n->out = out, n->pre = pre, n->conv = cc;
    n->gflop = 2e-9 * (double)s->tens[out].per_clip * cc.c_in * kt * kh * kw;
    char nm[MILNCE_NAME_MAX];
    int64_t wshape[5] = {cout, cc.c_in, kt, kh, kw}, cshape[1] = {cout};
    snprintf(nm, sizeof nm, "%s.conv%d.weight", name, idx);
    if ((ret = declare(s, s->params, nm, 5, wshape, &n->w)) < 0) return ret;
    snprintf(nm, sizeof nm, "%s.bn%d.weight", name, idx);
    if ((ret = declare(s, s->params, nm, 1, cshape, &n->g)) < 0) return ret;
    snprintf(nm, sizeof nm, "%s.bn%d.bias", name, idx);
    if ((ret = declare(s, s->params, nm, 1, cshape, &n->b)) < 0) return ret;
    snprintf(nm, sizeof nm, "%s.bn%d.running_mean", name, idx);
    if ((ret = declare(s, s->buffers, nm, 1, cshape, &n->rm)) < 0) return ret;
    snprintf(nm, sizeof nm, "%s.bn%d.running_var", name, idx);
    if ((ret = declare(s, s->buffers, nm, 1, cshape, &n->rv)) < 0) return ret;
    n->s1 = alloc_floats((size_t)cout);
    n->s2 = alloc_floats((size_t)cout);
    if (!n->s1 || !n->s2) return milnce_error_set(s->err, MILNCE_ERR_NOMEM, "bn stats");
    return out;
}

/* STConv of the reference: one unit, or for separable (1,k,k) then (k,1,1). */
static int add_stconv(milnce_s3dg *s, const char *name, int in, int cout, int kt, int kh, int kw,
                      int st, int sh, int sw, int pt, int ph, int pw, int separable) {
    if (!separable)
        return add_unit(s, name, 1, in, cout, kt, kh, kw, st, sh, sw, pt, ph, pw);
    int mid = add_unit(s, name, 1, in, cout, 1, kh, kw, 1, sh, sw, 0, ph, pw);
    if (mid < 0) return mid;
    return add_unit(s, name, 2, mid, cout, kt, 1, 1, st, 1, 1, pt, 0, 0);
}

static int add_pool(milnce_s3dg *s, milnce_pool3d_cfg pc, int in) {
    const tensor *ti = &s->tens[in];
    int To, Ho, Wo, ret;
    if ((ret = milnce_pool3d_out_dims(&pc, ti->T, ti->H, ti->W, &To, &Ho, &Wo)) < 0)
        return milnce_error_set(s->err, ret, "max pool: input %dx%dx%d too small", ti->T, ti->H,
                                ti->W);
    int out = new_tensor(s, ti->C, To, Ho, Wo, TK_ACT);
    if (out < 0) return out;
    node *n = new_node(s, OP_POOL);
    if (!n) return MILNCE_ERR_NOMEM;
    n->in[0] = in, n->n_in = 1, n->out = out, n->pool = pc;
    n->argmax = malloc(sizeof(int32_t) * s->tens[out].per_clip * (size_t)s->cfg.max_batch);
    if (!n->argmax) return milnce_error_set(s->err, MILNCE_ERR_NOMEM, "pool indices");
    return out;
}

/* Linear (`<name>.weight`, `<name>.bias`) parameters of a gate or the head. */
static int declare_linear(milnce_s3dg *s, node *n, const char *name, int in_f, int out_f) {
    char nm[MILNCE_NAME_MAX];
    int64_t wshape[2] = {out_f, in_f}, bshape[1] = {out_f};
    int ret;
    snprintf(nm, sizeof nm, "%s.weight", name);
    if ((ret = declare(s, s->params, nm, 2, wshape, &n->w)) < 0) return ret;
    snprintf(nm, sizeof nm, "%s.bias", name);
    return declare(s, s->params, nm, 1, bshape, &n->b);
}

static int add_gate(milnce_s3dg *s, const char *name, int in) {
    const tensor *ti = &s->tens[in];
    int out = new_tensor(s, ti->C, ti->T, ti->H, ti->W, TK_ACT);
    if (out < 0) return out;
    node *n = new_node(s, OP_GATE);
    if (!n) return MILNCE_ERR_NOMEM;
    n->in[0] = in, n->n_in = 1, n->out = out;
    char nm[MILNCE_NAME_MAX];
    snprintf(nm, sizeof nm, "%s.fc", name);
    int ret = declare_linear(s, n, nm, ti->C, ti->C);
    if (ret < 0) return ret;
    size_t bc = (size_t)s->cfg.max_batch * ti->C;
    n->s1 = alloc_floats(bc);
    n->s2 = alloc_floats(bc);
    if (!n->s1 || !n->s2) return milnce_error_set(s->err, MILNCE_ERR_NOMEM, "gate stats");
    size_t g = milnce_selfgating_workspace_floats(s->cfg.max_batch, ti->C);
    if (g > s->gws_n) s->gws_n = g;
    return out;
}

/* Inception(a; b1->b2; c1->c2; d), each branch self-gated, concatenated on channels. */
static int add_inception(milnce_s3dg *s, const char *name, int in, int a, int b1, int b2, int c1,
                         int c2, int d) {
    char nm[MILNCE_NAME_MAX];
    int br[4], t;
#define SUB(str) (snprintf(nm, sizeof nm, "%s.%s", name, str), nm)
    if ((t = add_stconv(s, SUB("conv_b0"), in, wmul(s, a), 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)) < 0)
        return t;
    br[0] = t;
    if ((t = add_stconv(s, SUB("conv_b1_a"), in, wmul(s, b1), 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)) < 0)
        return t;
    if ((t = add_stconv(s, SUB("conv_b1_b"), t, wmul(s, b2), 3, 3, 3, 1, 1, 1, 1, 1, 1, 1)) < 0)
        return t;
    br[1] = t;
    if ((t = add_stconv(s, SUB("conv_b2_a"), in, wmul(s, c1), 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)) < 0)
        return t;
    if ((t = add_stconv(s, SUB("conv_b2_b"), t, wmul(s, c2), 3, 3, 3, 1, 1, 1, 1, 1, 1, 1)) < 0)
        return t;
    br[2] = t;
    if ((t = add_pool(s, milnce_pool3d_plain(3, 3, 3, 1, 1, 1, 1, 1, 1), in)) < 0) return t;
    if ((t = add_stconv(s, SUB("conv_b3_b"), t, wmul(s, d), 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)) < 0)
        return t;
    br[3] = t;
    static const char *const gates[4] = {"gating_b0", "gating_b1", "gating_b2", "gating_b3"};
    for (int i = 0; i < 4; i++)
        if ((br[i] = add_gate(s, SUB(gates[i]), br[i])) < 0) return br[i];
#undef SUB
    int C = 0;
    for (int i = 0; i < 4; i++) C += s->tens[br[i]].C;
    const tensor *t0 = &s->tens[br[0]];
    int out = new_tensor(s, C, t0->T, t0->H, t0->W, TK_ACT);
    if (out < 0) return out;
    node *n = new_node(s, OP_CONCAT);
    if (!n) return MILNCE_ERR_NOMEM;
    memcpy(n->in, br, sizeof br);
    n->n_in = 4, n->out = out;
    return out;
}

/* The Inception table of the reference (S3D_HowTo100M s3dg.py): name, a, b1, b2, c1, c2, d. */
static const struct {
    const char *name;
    int a, b1, b2, c1, c2, d;
} inception_table[] = {
    {"mixed_3b", 64, 96, 128, 16, 32, 32},     {"mixed_3c", 128, 128, 192, 32, 96, 64},
    {"mixed_4b", 192, 96, 208, 16, 48, 64},    {"mixed_4c", 160, 112, 224, 24, 64, 64},
    {"mixed_4d", 128, 128, 256, 24, 64, 64},   {"mixed_4e", 112, 144, 288, 32, 64, 64},
    {"mixed_4f", 256, 160, 320, 32, 128, 128}, {"mixed_5b", 256, 160, 320, 32, 128, 128},
    {"mixed_5c", 384, 192, 384, 48, 128, 128},
};

static int add_stage(milnce_s3dg *s, int in, int first, int count, int n) {
    for (int i = 0; i < count; i++) {
        if (i >= n - 1 && i != count - 1) continue; /* first n-1 and the last */
        int k = first + i;
        in = add_inception(s, inception_table[k].name, in, inception_table[k].a,
                           inception_table[k].b1, inception_table[k].b2, inception_table[k].c1,
                           inception_table[k].c2, inception_table[k].d);
        if (in < 0) return in;
    }
    return in;
}

static int build(milnce_s3dg *s) {
    const milnce_s3dg_cfg *c = &s->cfg;
    int t = s->t_in = new_tensor(s, 3, c->T, c->H, c->W, TK_INPUT);
    if (t < 0) return t;
    if (c->space_to_depth) {
        int out = new_tensor(s, 24, c->T / 2, c->H / 2, c->W / 2, TK_CONST);
        if (out < 0) return out;
        node *n = new_node(s, OP_S2D);
        if (!n) return MILNCE_ERR_NOMEM;
        n->in[0] = t, n->n_in = 1, n->out = out;
        if ((t = add_unit(s, "conv1", 1, out, wmul(s, 64), 2, 4, 4, 1, 1, 1, 1, 2, 2)) < 0)
            return t;
        const tensor *tc = &s->tens[t];
        out = new_tensor(s, tc->C, tc->T - 1, tc->H - 1, tc->W - 1, TK_ACT);
        if (out < 0) return out;
        if (!(n = new_node(s, OP_CROP))) return MILNCE_ERR_NOMEM;
        n->in[0] = t, n->n_in = 1, n->out = out;
        t = out;
    } else {
        if ((t = add_unit(s, "conv1", 1, t, wmul(s, 64), 3, 7, 7, 2, 2, 2, 1, 3, 3)) < 0)
            return t;
    }
    if ((t = add_pool(s, milnce_pool3d_same(1, 3, 3, 1, 2, 2), t)) < 0) return t;
    if ((t = add_stconv(s, "conv_2b", t, wmul(s, 64), 1, 1, 1, 1, 1, 1, 0, 0, 0, 0)) < 0) return t;
    if ((t = add_stconv(s, "conv_2c", t, wmul(s, 192), 3, 3, 3, 1, 1, 1, 1, 1, 1, 1)) < 0)
        return t;
    if ((t = add_gate(s, "gating", t)) < 0) return t;
    if ((t = add_pool(s, milnce_pool3d_same(1, 3, 3, 1, 2, 2), t)) < 0) return t;
    if ((t = add_stage(s, t, 0, 2, c->n3)) < 0) return t;
    if ((t = add_pool(s, milnce_pool3d_same(3, 3, 3, 2, 2, 2), t)) < 0) return t;
    if ((t = add_stage(s, t, 2, 5, c->n4)) < 0) return t;
    if ((t = add_pool(s, milnce_pool3d_same(2, 2, 2, 2, 2, 2), t)) < 0) return t;
    if ((t = add_stage(s, t, 7, 2, c->n5)) < 0) return t;
    s->feat = s->tens[t].C;
    int mix = s->t_mix = new_tensor(s, s->feat, 1, 1, 1, TK_ACT);
    if (mix < 0) return mix;
    node *n = new_node(s, OP_GAP);
    if (!n) return MILNCE_ERR_NOMEM;
    n->in[0] = t, n->n_in = 1, n->out = mix;
    int emb = s->t_emb = new_tensor(s, c->emb_dim, 1, 1, 1, TK_ACT);
    if (emb < 0) return emb;
    if (!(n = new_node(s, OP_FC))) return MILNCE_ERR_NOMEM;
    n->in[0] = mix, n->n_in = 1, n->out = emb;
    return declare_linear(s, n, "fc", s->feat, c->emb_dim);
}

int milnce_s3dg_create(milnce_s3dg **out, const milnce_s3dg_cfg *cfg, const char *prefix,
                       milnce_param_table *params, milnce_param_table *buffers, milnce_error *err) {
    *out = NULL;
    if (!(cfg->width > 0.0f && cfg->width <= 8.0f))
        return milnce_error_set(err, MILNCE_ERR_INVALID, "s3dg: width %g not in (0, 8]",
                                (double)cfg->width);
    if (cfg->n3 < 1 || cfg->n3 > 2 || cfg->n4 < 1 || cfg->n4 > 5 || cfg->n5 < 1 || cfg->n5 > 2)
        return milnce_error_set(err, MILNCE_ERR_INVALID,
                                "s3dg: blocks per stage %d,%d,%d not within 1..2, 1..5, 1..2",
                                cfg->n3, cfg->n4, cfg->n5);
    if (cfg->emb_dim < 1 || cfg->max_batch < 1 || cfg->T < 1 || cfg->H < 1 || cfg->W < 1)
        return milnce_error_set(err, MILNCE_ERR_INVALID,
                                "s3dg: bad sizes (emb %d, batch %d, clip %dx%dx%d)", cfg->emb_dim,
                                cfg->max_batch, cfg->T, cfg->H, cfg->W);
    if (cfg->space_to_depth && (cfg->T % 2 || cfg->H % 2 || cfg->W % 2))
        return milnce_error_set(err, MILNCE_ERR_INVALID,
                                "s3dg: space-to-depth needs even T, H, W (got %dx%dx%d)", cfg->T,
                                cfg->H, cfg->W);
    milnce_s3dg *s = calloc(1, sizeof *s);
    if (!s) return milnce_error_set(err, MILNCE_ERR_NOMEM, "s3dg");
    s->cfg = *cfg;
    s->prefix = prefix ? prefix : "";
    s->params = params, s->buffers = buffers, s->err = err;
    /* The workspaces are sized for the pass's thread count. */
    const int omp_prev = milnce_omp_scope_enter(cfg->threads);
    s->cfg.threads = omp_get_max_threads();
    int ret = build(s);
    milnce_omp_scope_leave(omp_prev);
    if (ret >= 0) {
        s->ws = alloc_floats(s->ws_n);
        s->gws = alloc_floats(s->gws_n);
        if (!s->ws || !s->gws) ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "s3dg workspace");
    }
    s->prefix = NULL, s->params = s->buffers = NULL, s->err = NULL;
    if (ret < 0) {
        milnce_s3dg_free(&s);
        return ret;
    }
    for (int i = 0; i < s->n_nodes; i++)
        if (s->nodes[i].op == OP_UNIT) s->gflop[K_CONV] += s->nodes[i].gflop;
    *out = s;
    return 0;
}

void milnce_s3dg_free(milnce_s3dg **ps) {
    milnce_s3dg *s = *ps;
    if (!s) return;
    for (int i = 0; i < s->n_tens; i++) {
        if (s->tens[i].kind != TK_INPUT) free(s->tens[i].x);
        free(s->tens[i].dx);
    }
    for (int i = 0; i < s->n_nodes; i++) {
        free(s->nodes[i].s1);
        free(s->nodes[i].s2);
        free(s->nodes[i].argmax);
    }
    free(s->tens);
    free(s->nodes);
    free(s->ws);
    free(s->gws);
    free(s->dpre);
    free(s);
    *ps = NULL;
}

void milnce_s3dg_set_bn_sync(milnce_s3dg *s, const milnce_bn_sync *sync) { s->bn_sync = sync; }

const milnce_s3dg_cfg *milnce_s3dg_get_cfg(const milnce_s3dg *s) { return &s->cfg; }
int milnce_s3dg_feat_dim(const milnce_s3dg *s) { return s->feat; }

size_t milnce_s3dg_activation_floats(const milnce_s3dg *s) {
    size_t n = 0;
    for (int i = 0; i < s->n_tens; i++) {
        const tensor *t = &s->tens[i];
        if (t->kind == TK_INPUT) continue;
        n += t->per_clip * (size_t)s->cfg.max_batch * (t->dx ? 2 : 1);
    }
    return n;
}

/* ------------------------------------------------------------------------------ running */

static int P_of(const tensor *t) { return t->T * t->H * t->W; }

/* The layers parallelise their own work units on s->cfg.threads OpenMP threads, each with
 * single-threaded GEMMs (src/nn/conv3d.c): the encoder's GEMMs are small. The count is the calling
 * thread's OpenMP setting for the duration of a pass (src/base/omp_scope.h). OpenBLAS's thread count
 * is process-wide: left alone, unless the caller asked (cfg.blas_single) for it to be 1 during
 * the pass and restored after. Returns the count to restore (0: nothing to restore). */
static int blas_single_begin(const milnce_s3dg *s) {
    if (!s->cfg.blas_single) return 0;
    const int n = openblas_get_num_threads();
    if (n <= 1 || s->cfg.threads <= 1) return 0;
    openblas_set_num_threads(1);
    return n;
}

static void blas_single_end(int n) {
    if (n > 1) openblas_set_num_threads(n);
}

int milnce_s3dg_forward(milnce_s3dg *s, const float *params, float *buffers, const float *clip,
                        int B, int train, const float **emb, const float **mix,
                        milnce_error *err) {
    if (B < 1 || B > s->cfg.max_batch)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "s3dg: batch %d not in 1..%d", B,
                                s->cfg.max_batch);
    s->tens[s->t_in].x = (float *)(uintptr_t)clip; /* read only: the input gets no gradient */
    s->have_forward = 0;
    for (int k = 0; k < K_COUNT; k++) s->t_fwd[k] = 0;
    int ret = 0;
    const int omp_prev = milnce_omp_scope_enter(s->cfg.threads);
    const int blas_threads = blas_single_begin(s);
    for (int i = 0; i < s->n_nodes && ret >= 0; i++) {
        node *n = &s->nodes[i];
        const tensor *ti = &s->tens[n->in[0]];
        tensor *to = &s->tens[n->out];
        double t0 = now_s();
        int kind = K_OTHER;
        switch (n->op) {
        case OP_UNIT: {
            tensor *tp = &s->tens[n->pre];
            ret = milnce_conv3d_forward(tp->x, ti->x, params + n->w, NULL, s->ws, &n->conv, B,
                                        ti->T, ti->H, ti->W);
            double t1 = now_s();
            s->t_fwd[K_CONV] += t1 - t0;
            t0 = t1;
            if (s->bn_sync && train && ret >= 0)
                ret = milnce_bnrelu3d_forward_sync(to->x, n->s1, n->s2, buffers + n->rm, buffers + n->rv, tp->x,
                                                   params + n->g, params + n->b, BN_MOMENTUM, BN_EPS, B,
                                                   to->C, P_of(to), s->bn_sync);
            else
                milnce_bnrelu3d_forward(to->x, n->s1, n->s2, buffers + n->rm, buffers + n->rv, tp->x,
                                        params + n->g, params + n->b, train, BN_MOMENTUM, BN_EPS, B,
                                        to->C, P_of(to));
            kind = K_BN;
            break;
        }
        case OP_POOL:
            ret = milnce_maxpool3d_forward(to->x, n->argmax, ti->x, &n->pool, B, ti->C, ti->T,
                                           ti->H, ti->W);
            kind = K_POOL;
            break;
        case OP_GATE:
            milnce_selfgating_forward(to->x, n->s1, n->s2, ti->x, params + n->w, params + n->b,
                                      B, ti->C, P_of(ti));
            kind = K_GATE;
            break;
        case OP_CONCAT: {
            const float *ins[4];
            int cs[4];
            for (int k = 0; k < 4; k++) ins[k] = s->tens[n->in[k]].x, cs[k] = s->tens[n->in[k]].C;
            milnce_concat_channels_forward(to->x, ins, cs, 4, B, P_of(to));
            break;
        }
        case OP_S2D:
            ret = milnce_space_to_depth_forward(to->x, ti->x, B, ti->C, ti->T, ti->H, ti->W);
            break;
        case OP_CROP:
            ret = milnce_crop3d_forward(to->x, ti->x, B, ti->C, ti->T, ti->H, ti->W, 1, 1, 1,
                                        to->T, to->H, to->W);
            break;
        case OP_GAP:
            milnce_gap3d_forward(to->x, ti->x, B, ti->C, P_of(ti));
            break;
        case OP_FC:
            ret = milnce_linear_forward(to->x, ti->x, params + n->w, params + n->b, B, ti->C,
                                        to->C, s->cfg.precision);
            break;
        }
        s->t_fwd[kind] += now_s() - t0;
    }
    blas_single_end(blas_threads);
    milnce_omp_scope_leave(omp_prev);
    if (ret < 0) return milnce_error_set(err, ret, "s3dg forward: %s", milnce_strerror(ret));
    s->last_B = B, s->last_train = train, s->have_forward = 1;
    if (emb) *emb = s->tens[s->t_emb].x;
    if (mix) *mix = s->tens[s->t_mix].x;
    return 0;
}

static int alloc_grads(milnce_s3dg *s, milnce_error *err) {
    for (int i = 0; i < s->n_tens; i++) {
        tensor *t = &s->tens[i];
        if (t->kind != TK_ACT || t->dx) continue;
        if (!(t->dx = alloc_floats(t->per_clip * (size_t)s->cfg.max_batch)))
            return milnce_error_set(err, MILNCE_ERR_NOMEM, "s3dg activation gradients");
    }
    if (!s->dpre && !(s->dpre = alloc_floats(s->dpre_n)))
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "s3dg activation gradients");
    s->grads_ready = 1;
    return 0;
}

int milnce_s3dg_backward(milnce_s3dg *s, const float *params, float *grads, const float *d_emb,
                         const float *d_mix, milnce_error *err) {
    if (!s->have_forward)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "s3dg backward without a forward");
    int ret;
    if (!s->grads_ready && (ret = alloc_grads(s, err)) < 0) return ret;
    const int B = s->last_B, train = s->last_train;
    for (int k = 0; k < K_COUNT; k++) s->t_bwd[k] = 0;
    double t0 = now_s();
    for (int i = 0; i < s->n_tens; i++)
        if (s->tens[i].dx) memset(s->tens[i].dx, 0, sizeof(float) * s->tens[i].per_clip * B);
    if (d_emb) memcpy(s->tens[s->t_emb].dx, d_emb, sizeof(float) * (size_t)B * s->cfg.emb_dim);
    if (d_mix) memcpy(s->tens[s->t_mix].dx, d_mix, sizeof(float) * (size_t)B * s->feat);
    s->t_bwd[K_OTHER] += now_s() - t0;
    ret = 0;
    const int omp_prev = milnce_omp_scope_enter(s->cfg.threads);
    const int blas_threads = blas_single_begin(s);
    for (int i = s->n_nodes - 1; i >= 0 && ret >= 0; i--) {
        node *n = &s->nodes[i];
        tensor *ti = &s->tens[n->in[0]];
        const tensor *to = &s->tens[n->out];
        t0 = now_s();
        int kind = K_OTHER;
        switch (n->op) {
        case OP_UNIT: {
            const tensor *tp = &s->tens[n->pre];
            size_t np = tp->per_clip * (size_t)B;
            memset(s->dpre, 0, sizeof(float) * np);
            int bret = 0;
            if (s->bn_sync && train)
                bret = milnce_bnrelu3d_backward_sync(s->dpre, grads + n->g, grads + n->b, to->dx, tp->x, to->x,
                                                     n->s1, n->s2, params + n->g, B, to->C, P_of(to), s->bn_sync);
            else
                milnce_bnrelu3d_backward(s->dpre, grads + n->g, grads + n->b, to->dx, tp->x, to->x,
                                         n->s1, n->s2, params + n->g, train, B, to->C, P_of(to));
            if (bret < 0) {
                ret = bret;
                break;
            }
            double t1 = now_s();
            s->t_bwd[K_BN] += t1 - t0;
            t0 = t1;
            ret = milnce_conv3d_backward(ti->dx, grads + n->w, NULL, s->dpre, ti->x, params + n->w,
                                         s->ws, &n->conv, B, ti->T, ti->H, ti->W);
            kind = K_CONV;
            break;
        }
        case OP_POOL:
            milnce_maxpool3d_backward(ti->dx, to->dx, n->argmax, B, ti->C, to->T, to->H, to->W,
                                      ti->T, ti->H, ti->W);
            kind = K_POOL;
            break;
        case OP_GATE:
            milnce_selfgating_backward(ti->dx, grads + n->w, grads + n->b, to->dx, ti->x, n->s1,
                                       n->s2, params + n->w, s->gws, B, ti->C, P_of(ti));
            kind = K_GATE;
            break;
        case OP_CONCAT: {
            float *dins[4];
            int cs[4];
            for (int k = 0; k < 4; k++)
                dins[k] = s->tens[n->in[k]].dx, cs[k] = s->tens[n->in[k]].C;
            milnce_concat_channels_backward(dins, to->dx, cs, 4, B, P_of(to));
            break;
        }
        case OP_S2D:
            break; /* the clip gets no gradient */
        case OP_CROP:
            ret = milnce_crop3d_backward(ti->dx, to->dx, B, ti->C, ti->T, ti->H, ti->W, 1, 1, 1,
                                         to->T, to->H, to->W);
            break;
        case OP_GAP:
            milnce_gap3d_backward(ti->dx, to->dx, B, ti->C, P_of(ti));
            break;
        case OP_FC:
            ret = milnce_linear_backward(ti->dx, grads + n->w, grads + n->b, to->dx, ti->x,
                                         params + n->w, B, ti->C, to->C, s->cfg.precision);
            break;
        }
        s->t_bwd[kind] += now_s() - t0;
    }
    blas_single_end(blas_threads);
    milnce_omp_scope_leave(omp_prev);
    if (ret < 0) return milnce_error_set(err, ret, "s3dg backward: %s", milnce_strerror(ret));
    return 0;
}

int milnce_s3dg_timings(const milnce_s3dg *s, milnce_s3dg_timing *out, int max) {
    int n = 0;
    for (int k = 0; k < K_COUNT && n < max; k++, n++) {
        out[n].kind = kind_names[k];
        out[n].fwd_s = s->t_fwd[k];
        out[n].bwd_s = s->t_bwd[k];
        out[n].gflop = s->gflop[k] * (s->have_forward ? s->last_B : 0);
    }
    return n;
}
