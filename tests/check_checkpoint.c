/* safetensors reader/writer, model and training checkpoints, the reference converter, RNG. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "fileutil.h"
#include "npy.h"
#include "optim.h"
#include "params.h"
#include "rng.h"
#include "safetensors.h"
#include "testutil.h"

/* ---- helpers ---- */

/* A safetensors image: u64 length + header text + data_len bytes (value i & 0xff). */
static uint8_t *mk(const char *json, size_t data_len, size_t *n) {
    size_t hl = strlen(json);
    *n = 8 + hl + data_len;
    uint8_t *b = malloc(*n);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, json, hl);
    for (size_t i = 0; i < data_len; i++) b[8 + hl + i] = (uint8_t)i;
    return b;
}

static int parse_json(const char *json, size_t data_len, milnce_safetensors *st, milnce_error *err) {
    size_t n;
    uint8_t *b = mk(json, data_len, &n);
    int rc = milnce_safetensors_parse(st, b, n, "t.safetensors", err);
    free(b);
    return rc;
}

static void expect_parse_error(const char *json, size_t data_len, int code, const char *needle) {
    milnce_safetensors st;
    milnce_error err = {0};
    int rc = parse_json(json, data_len, &st, &err);
    ck_assert_msg(rc == code, "%s: got %d (%s), expected %d", json, rc, err.msg, code);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "message \"%s\" lacks \"%s\"", err.msg, needle);
    ck_assert_msg(strstr(err.msg, "t.safetensors") != NULL, "message \"%s\" does not name the file", err.msg);
}

typedef struct {
    milnce_param_table params, buffers;
    float *p, *b;
} model;

static void model_init(model *m) {
    memset(m, 0, sizeof *m);
    ck_assert_int_ge(milnce_params_add(&m->params, "conv1.conv1.weight", 5, (int64_t[]){4, 3, 2, 2, 2}, NULL), 0);
    ck_assert_int_ge(milnce_params_add(&m->params, "conv1.bn1.weight", 1, (int64_t[]){4}, NULL), 0);
    ck_assert_int_ge(milnce_params_add(&m->params, "text_module.fc1.weight", 2, (int64_t[]){5, 3}, NULL), 0);
    ck_assert_int_ge(milnce_params_add(&m->buffers, "conv1.bn1.running_mean", 1, (int64_t[]){4}, NULL), 0);
    ck_assert_int_ge(milnce_params_add(&m->buffers, "conv1.bn1.running_var", 1, (int64_t[]){4}, NULL), 0);
    m->p = milnce_params_alloc_block(&m->params, NULL);
    m->b = milnce_params_alloc_block(&m->buffers, NULL);
}

static void model_fill(model *m, uint64_t seed) {
    milnce_rng r;
    milnce_rng_seed(&r, seed);
    for (size_t t = 0; t < m->params.n; t++)
        for (size_t i = 0; i < m->params.t[t].count; i++) m->p[m->params.t[t].offset + i] = (float)milnce_rng_normal(&r);
    for (size_t t = 0; t < m->buffers.n; t++)
        for (size_t i = 0; i < m->buffers.t[t].count; i++) m->b[m->buffers.t[t].offset + i] = milnce_rng_uniformf(&r);
}

static void model_free(model *m) {
    free(m->p);
    free(m->b);
    milnce_params_free(&m->params);
    milnce_params_free(&m->buffers);
}

static char *path_in(const char *dir, const char *name) {
    static char buf[4][MILNCE_PATH_MAX];
    static int k;
    char tmp[MILNCE_PATH_MAX];
    ck_assert_int_eq(milnce_path(tmp, sizeof tmp, NULL, "%s/%s", dir, name), 0); /* dir may be an earlier result */
    k = (k + 1) % 4;
    memcpy(buf[k], tmp, sizeof tmp);
    return buf[k];
}

/* A few Adam steps on fake gradients so the moments are not zero. */
static void train_steps(milnce_optim *o, model *m, milnce_rng *r, int steps) {
    float *g = milnce_params_alloc_block(&m->params, NULL);
    for (int s = 0; s < steps; s++) {
        for (size_t t = 0; t < m->params.n; t++)
            for (size_t i = 0; i < m->params.t[t].count; i++) {
                size_t k = m->params.t[t].offset + i;
                g[k] = m->p[k] * 0.5f + 0.1f * (float)milnce_rng_normal(r);
            }
        ck_assert_int_eq(milnce_optim_step(o, m->p, g, NULL, NULL, NULL), 0);
    }
    free(g);
}

/* ---- tests ---- */

START_TEST(test_round_trip_training) {
    const char *dir = tu_tmpdir();
    model a, b;
    model_init(&a);
    model_init(&b);
    model_fill(&a, 1);
    milnce_optim_config c = milnce_optim_defaults();
    c.warmup_steps = 2;
    c.total_steps = 10;
    milnce_optim oa, ob;
    ck_assert_int_eq(milnce_optim_init(&oa, &c, a.params.total, NULL), 0);
    ck_assert_int_eq(milnce_optim_init(&ob, &c, b.params.total, NULL), 0);
    milnce_rng ra[2], rb[2];
    milnce_rng_seed_stream(&ra[0], 9, 0);
    milnce_rng_seed_stream(&ra[1], 9, 1);
    train_steps(&oa, &a, &ra[0], 3);
    milnce_rng_u64(&ra[1]);
    milnce_checkpoint ck = {&a.params, a.p, &a.buffers, a.b, &oa, ra, 2, 3, "model:\n  width: 0.25\n", NULL};
    milnce_st_meta extra[] = {{"loader.epoch", "2"}, {"loader.cursor", "12345"}};
    milnce_error err = {0};
    const char *f = path_in(dir, "train.safetensors");
    ck_assert_msg(milnce_checkpoint_save(f, &ck, extra, 2, &err) == 0, "%s", err.msg);

    milnce_checkpoint cb = {&b.params, b.p, &b.buffers, b.b, &ob, rb, 2, 0, NULL, NULL};
    milnce_safetensors st;
    ck_assert_msg(milnce_checkpoint_load(f, &cb, NULL, &st, &err) == 0, "%s", err.msg);
    ck_assert_mem_eq(a.p, b.p, a.params.total * sizeof(float));
    ck_assert_mem_eq(a.b, b.b, a.buffers.total * sizeof(float));
    ck_assert_mem_eq(oa.m, ob.m, a.params.total * sizeof(float));
    ck_assert_mem_eq(oa.v, ob.v, a.params.total * sizeof(float));
    ck_assert_int_eq(cb.step, 3);
    ck_assert_int_eq(ob.step, 3);
    ck_assert_mem_eq(ra, rb, sizeof ra);
    ck_assert_str_eq(milnce_safetensors_meta(&st, "config"), "model:\n  width: 0.25\n");
    ck_assert_str_eq(milnce_safetensors_meta(&st, "loader.cursor"), "12345");
    ck_assert_int_ge(milnce_safetensors_find(&st, "optim.m.conv1.conv1.weight"), 0);
    ck_assert_int_ge(milnce_safetensors_find(&st, "optim.v.text_module.fc1.weight"), 0);
    ck_assert_uint_eq((8 + (st.data - st.buf - 8)) % 8, 0); /* data section 8-byte aligned */
    milnce_safetensors_close(&st);

    /* The model alone loads from a training checkpoint (optim.* ignored). */
    model m;
    model_init(&m);
    milnce_checkpoint cm = {&m.params, m.p, &m.buffers, m.b, NULL, NULL, 0, 0, NULL, NULL};
    ck_assert_msg(milnce_checkpoint_load(f, &cm, NULL, NULL, &err) == 0, "%s", err.msg);
    ck_assert_mem_eq(a.p, m.p, a.params.total * sizeof(float));

    /* A training run cannot resume from a model checkpoint; an SGD run not from Adam state. */
    const char *fm = path_in(dir, "model.safetensors");
    ck_assert_int_eq(milnce_checkpoint_save(fm, &cm, NULL, 0, &err), 0);
    ck_assert_int_eq(milnce_checkpoint_load(fm, &cb, NULL, NULL, &err), MILNCE_ERR_NOTFOUND);
    milnce_optim os;
    milnce_optim_config sc = milnce_optim_defaults();
    sc.kind = MILNCE_OPTIM_SGD;
    sc.momentum = 0.9;
    ck_assert_int_eq(milnce_optim_init(&os, &sc, b.params.total, NULL), 0);
    milnce_checkpoint cs = {&b.params, b.p, &b.buffers, b.b, &os, NULL, 0, 0, NULL, NULL};
    ck_assert_int_eq(milnce_checkpoint_load(f, &cs, NULL, NULL, &err), MILNCE_ERR_INVALID);
    ck_assert_msg(strstr(err.msg, "adam") != NULL, "%s", err.msg);
    /* Reserved metadata keys are refused. */
    milnce_st_meta bad[] = {{"step", "7"}};
    ck_assert_int_eq(milnce_checkpoint_save(fm, &cm, bad, 1, &err), MILNCE_ERR_INVALID);

    milnce_optim_free(&oa); milnce_optim_free(&ob); milnce_optim_free(&os);
    model_free(&a); model_free(&b); model_free(&m);
}
END_TEST

/* Stopping after k steps, saving, loading into a fresh process state and going on gives the
 * same parameters, bit for bit, as the uninterrupted run. */
START_TEST(test_resume_is_exact) {
    const char *dir = tu_tmpdir();
    milnce_optim_config c = milnce_optim_defaults();
    c.kind = MILNCE_OPTIM_ADAMW;
    c.weight_decay = 0.01;
    c.clip_norm = 1.0;
    c.warmup_steps = 2;
    c.total_steps = 8;
    model u, r1, r2;
    model_init(&u); model_init(&r1); model_init(&r2);
    model_fill(&u, 4); model_fill(&r1, 4);
    milnce_optim ou, o1, o2;
    milnce_optim_init(&ou, &c, u.params.total, NULL);
    milnce_optim_init(&o1, &c, u.params.total, NULL);
    milnce_optim_init(&o2, &c, u.params.total, NULL);
    milnce_rng gu, g1, g2;
    milnce_rng_seed(&gu, 77);
    milnce_rng_seed(&g1, 77);
    milnce_rng_seed(&g2, 1); /* overwritten by the load */
    train_steps(&ou, &u, &gu, 8);
    train_steps(&o1, &r1, &g1, 3);
    milnce_checkpoint ck = {&r1.params, r1.p, &r1.buffers, r1.b, &o1, &g1, 1, 3, NULL, NULL};
    const char *f = path_in(dir, "resume.safetensors");
    milnce_error err = {0};
    ck_assert_int_eq(milnce_checkpoint_save(f, &ck, NULL, 0, &err), 0);
    milnce_checkpoint cl = {&r2.params, r2.p, &r2.buffers, r2.b, &o2, &g2, 1, 0, NULL, NULL};
    ck_assert_msg(milnce_checkpoint_load(f, &cl, NULL, NULL, &err) == 0, "%s", err.msg);
    train_steps(&o2, &r2, &g2, 5);
    ck_assert_mem_eq(u.p, r2.p, u.params.total * sizeof(float));
    ck_assert_mem_eq(ou.v, o2.v, u.params.total * sizeof(float));
    milnce_optim_free(&ou); milnce_optim_free(&o1); milnce_optim_free(&o2);
    model_free(&u); model_free(&r1); model_free(&r2);
}
END_TEST

/* Python (struct + json + numpy, no safetensors package) reads our file identically. */
START_TEST(test_python_reads_our_file) {
    const char *dir = tu_tmpdir();
    model a;
    model_init(&a);
    model_fill(&a, 3);
    milnce_rng r;
    milnce_rng_seed(&r, 5);
    milnce_checkpoint ck = {&a.params, a.p, &a.buffers, a.b, NULL, &r, 1, 42, "a: \"quoted\" \\ é", NULL};
    const char *f = path_in(dir, "m.safetensors");
    ck_assert_int_eq(milnce_checkpoint_save(f, &ck, NULL, 0, NULL), 0);
    char cmd[8192];
    char out[4096];
    snprintf(out, sizeof out, "%s/npy", dir);
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/reference/convert_state_dict.py' --to-npy '%s' '%s' > /dev/null",
             tu_python(), getenv("MILNCE_SOURCE_DIR") ? getenv("MILNCE_SOURCE_DIR") : ".", f, out);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
    const milnce_param_table *tabs[2] = {&a.params, &a.buffers};
    const float *blocks[2] = {a.p, a.b};
    for (int k = 0; k < 2; k++)
        for (size_t t = 0; t < tabs[k]->n; t++) {
            char fn[512];
            snprintf(fn, sizeof fn, "%s.npy", tabs[k]->t[t].name);
            milnce_npy arr;
            milnce_error err = {0};
            ck_assert_msg(milnce_npy_read(path_in(out, fn), &arr, &err) == 0, "%s", err.msg);
            ck_assert_int_eq(arr.dtype, MILNCE_NPY_F32);
            ck_assert_int_eq(arr.ndim, tabs[k]->t[t].ndim);
            for (int d = 0; d < arr.ndim; d++) ck_assert_int_eq(arr.shape[d], tabs[k]->t[t].shape[d]);
            ck_assert_mem_eq(arr.data, blocks[k] + tabs[k]->t[t].offset, tabs[k]->t[t].count * sizeof(float));
            milnce_npy_free(&arr);
        }
    FILE *mf = fopen(path_in(out, "__metadata__.json"), "r");
    ck_assert_ptr_nonnull(mf);
    char meta[4096] = {0};
    size_t got = fread(meta, 1, sizeof meta - 1, mf);
    fclose(mf);
    ck_assert_uint_gt(got, 0);
    char rs[MILNCE_RNG_STATE_CHARS];
    milnce_rng_to_string(&r, rs);
    ck_assert_msg(strstr(meta, "\"step\": \"42\"") && strstr(meta, rs) && strstr(meta, "\\\"quoted\\\""),
                  "metadata as Python reads it: %s", meta);
    model_free(&a);
}
END_TEST

/* A reference-style state_dict (DataParallel-wrapped, num_batches_tracked, F64 and F16 tensors,
 * the space-to-depth stem) converted by convert_state_dict.py loads with the strict loader. */
START_TEST(test_converted_reference_loads) {
    FILE *f = fopen(tu_fixture("checkpoint", "tensors.txt"), "r");
    ck_assert_msg(f != NULL, "no fixture %s (run through ctest)", tu_fixture("checkpoint", "tensors.txt"));
    milnce_param_table P = {0}, Bf = {0};
    char name[256], kind[16];
    int ndim;
    while (fscanf(f, "%255s %15s %d", name, kind, &ndim) == 3) {
        int64_t shape[8];
        for (int d = 0; d < ndim; d++) ck_assert_int_eq(fscanf(f, "%ld", &shape[d]), 1);
        ck_assert_int_ge(milnce_params_add(strcmp(kind, "buffer") ? &P : &Bf, name, ndim, shape, NULL), 0);
    }
    fclose(f);
    ck_assert_int_ge(milnce_params_find(&P, "conv1.conv1.weight"), 0);
    ck_assert_int_eq(P.t[milnce_params_find(&P, "conv1.conv1.weight")].shape[1], 24);
    float *p = milnce_params_alloc_block(&P, NULL), *b = milnce_params_alloc_block(&Bf, NULL);
    milnce_checkpoint ck = {&P, p, &Bf, b, NULL, NULL, 0, -1, NULL, NULL};
    milnce_error err = {0};
    ck_assert_msg(milnce_checkpoint_load(tu_fixture("checkpoint", "ref_model.safetensors"), &ck, NULL, NULL, &err) == 0,
                  "%s", err.msg);
    ck_assert_int_eq(ck.step, 0);
    for (int k = 0; k < 2; k++) {
        milnce_param_table *tab = k ? &Bf : &P;
        for (size_t t = 0; t < tab->n; t++) {
            char fn[512];
            snprintf(fn, sizeof fn, "expected/%s.npy", tab->t[t].name);
            float *want = NULL;
            int nd;
            int64_t sh[8];
            ck_assert_int_eq(milnce_npy_read_f32(tu_fixture("checkpoint", fn), &want, &nd, sh, &err), 0);
            ck_assert_mem_eq(want, (k ? b : p) + tab->t[t].offset, tab->t[t].count * sizeof(float));
            free(want);
        }
    }
    free(p); free(b);
    milnce_params_free(&P);
    milnce_params_free(&Bf);
}
END_TEST

START_TEST(test_corrupt_files) {
    milnce_safetensors st;
    milnce_error err = {0};
    /* Too short, header length beyond the file, not JSON. */
    ck_assert_int_eq(milnce_safetensors_parse(&st, "abc", 3, "t.safetensors", &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "too short"), "%s", err.msg);
    uint8_t big[12] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
    ck_assert_int_eq(milnce_safetensors_parse(&st, big, 12, "t.safetensors", &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "beyond the end"), "%s", err.msg);
    expect_parse_error("PK\x03\x04 zip", 0, MILNCE_ERR_FORMAT, "does not start with '{'");
    expect_parse_error("{\"a\": ", 0, MILNCE_ERR_FORMAT, "bad JSON");
    expect_parse_error("{} x", 0, MILNCE_ERR_FORMAT, "bad JSON");
    expect_parse_error("{\"a\": 1}", 0, MILNCE_ERR_FORMAT, "tensor a: header entry is not an object");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, MILNCE_ERR_FORMAT, "bad JSON");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, MILNCE_ERR_FORMAT,
                       "outside the data section");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 16, MILNCE_ERR_FORMAT,
                       "need 12");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 16, MILNCE_ERR_FORMAT,
                       "outside");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 16, MILNCE_ERR_FORMAT,
                       "overlap");
    expect_parse_error("{\"a\":{\"dtype\":\"F8_E5M2\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2,
                       MILNCE_ERR_UNSUPPORTED, "F8_E5M2");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, MILNCE_ERR_FORMAT,
                       "shape[0]");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,8]}}", 8,
                       MILNCE_ERR_FORMAT, "larger than the file");
    expect_parse_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, MILNCE_ERR_FORMAT, "data_offsets");
    expect_parse_error("{\"__metadata__\":{\"step\":3}}", 0, MILNCE_ERR_FORMAT, "not a string");
    /* Valid: empty file with metadata, a zero-size tensor, trailing header spaces. */
    ck_assert_int_eq(parse_json("{\"__metadata__\":{\"k\":\"v\"},\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],"
                                "\"data_offsets\":[0,0]}}   ", 0, &st, &err), 0);
    ck_assert_str_eq(milnce_safetensors_meta(&st, "k"), "v");
    milnce_safetensors_close(&st);
    /* Missing files. */
    ck_assert_int_eq(milnce_safetensors_open(&st, "/nonexistent/x.safetensors", &err), MILNCE_ERR_NOTFOUND);
    ck_assert_int_eq(milnce_safetensors_open(&st, "/tmp", &err), MILNCE_ERR_IO);
}
END_TEST

static void collect(void *user, int level, const char *msg) {
    (void)level;
    strncat((char *)user, msg, 1000);
}

START_TEST(test_load_against_table) {
    milnce_param_table tab = {0};
    milnce_params_add(&tab, "w", 1, (int64_t[]){2}, NULL);
    milnce_params_add(&tab, "h", 1, (int64_t[]){2}, NULL);
    float *blk = milnce_params_alloc_block(&tab, NULL);
    milnce_st_group g = {&tab, blk, NULL};
    milnce_safetensors st;
    milnce_error err = {0};
    /* F64 w = [1.5, -2], BF16 h = [1, -0.5] (0x3f80, 0xbf00), an I64 counter to skip. */
    uint8_t data[16 + 4 + 8];
    double w[2] = {1.5, -2};
    memcpy(data, w, 16);
    uint8_t h[4] = {0x80, 0x3f, 0x00, 0xbf};
    memcpy(data + 16, h, 4);
    int64_t cnt = 7;
    memcpy(data + 20, &cnt, 8);
    const char *hdr = "{\"w\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                      "\"h\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[16,20]},"
                      "\"bn.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[20,28]}}";
    size_t n;
    uint8_t *img = mk(hdr, 0, &n);
    img = realloc(img, n + sizeof data);
    memcpy(img + n, data, sizeof data);
    ck_assert_int_eq(milnce_safetensors_parse(&st, img, n + sizeof data, "t.safetensors", &err), 0);
    char notes[2048] = "";
    milnce_logger lg = {collect, notes};
    milnce_st_load_opts o = {0, 0, NULL, &lg};
    ck_assert_msg(milnce_safetensors_load(&st, &g, 1, &o, &err) == 0, "%s", err.msg);
    ck_assert_float_eq(blk[0], 1.5f);
    ck_assert_float_eq(blk[1], -2.0f);
    ck_assert_float_eq(blk[tab.t[1].offset], 1.0f);
    ck_assert_float_eq(blk[tab.t[1].offset + 1], -0.5f);
    ck_assert_msg(strstr(notes, "skipping I64 tensor bn.num_batches_tracked"), "%s", notes);
    milnce_safetensors_close(&st);
    free(img);

    /* F16: 1.0 = 0x3c00, -2.5 = 0xc100, smallest subnormal 0x0001 = 2^-24, inf 0x7c00. */
    uint8_t f16[8] = {0x00, 0x3c, 0x00, 0xc1, 0x01, 0x00, 0x00, 0x7c};
    img = mk("{\"w\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}", 0, &n);
    img = realloc(img, n + 8);
    memcpy(img + n, f16, 8);
    ck_assert_int_eq(milnce_safetensors_parse(&st, img, n + 8, "t.safetensors", &err), 0);
    float v[4];
    ck_assert_int_eq(milnce_safetensors_get_f32(&st, 0, v, &err), 0);
    ck_assert_float_eq(v[0], 1.0f);
    ck_assert_float_eq(v[1], -2.5f);
    ck_assert_float_eq(v[2], ldexpf(1.0f, -24));
    ck_assert(isinf(v[3]));
    milnce_safetensors_close(&st);
    free(img);

    blk[0] = 42;
    /* Missing, wrong shape, unexpected, wrong dtype: errors, block untouched. */
    ck_assert_int_eq(parse_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, &st, &err), 0);
    ck_assert_int_eq(milnce_safetensors_load(&st, &g, 1, NULL, &err), MILNCE_ERR_NOTFOUND);
    ck_assert_msg(strstr(err.msg, "missing tensor h"), "%s", err.msg);
    milnce_st_load_opts allow = {1, 0, NULL, NULL};
    ck_assert_int_eq(milnce_safetensors_load(&st, &g, 1, &allow, &err), 0);
    ck_assert_float_ne(blk[0], 42.0f);
    milnce_safetensors_close(&st);
    blk[0] = 42;
    ck_assert_int_eq(parse_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]},"
                                "\"h\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, &st, &err), 0);
    ck_assert_int_eq(milnce_safetensors_load(&st, &g, 1, NULL, &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "tensor w has shape (1, 2), the model expects (2)"), "%s", err.msg);
    milnce_safetensors_close(&st);
    ck_assert_int_eq(parse_json("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                "\"h\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                                "\"extra\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[16,20]}}", 20, &st, &err), 0);
    ck_assert_int_eq(milnce_safetensors_load(&st, &g, 1, NULL, &err), MILNCE_ERR_INVALID);
    ck_assert_msg(strstr(err.msg, "unexpected tensor extra"), "%s", err.msg);
    ck_assert_float_eq(blk[0], 42.0f);
    milnce_safetensors_close(&st);
    ck_assert_int_eq(parse_json("{\"w\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                "\"h\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, &st, &err), 0);
    ck_assert_int_eq(milnce_safetensors_load(&st, &g, 1, NULL, &err), MILNCE_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "tensor w has dtype I32"), "%s", err.msg);
    milnce_safetensors_close(&st);
    ck_assert_float_eq(blk[0], 42.0f);

    /* A newer format version is refused with advice. */
    const char *dir = tu_tmpdir();
    milnce_st_meta mv[] = {{"format_version", "2"}};
    ck_assert_int_eq(milnce_safetensors_write(path_in(dir, "v2.safetensors"), &g, 1, mv, 1, &err), 0);
    milnce_checkpoint ck = {&tab, blk, NULL, NULL, NULL, NULL, 0, 0, NULL, NULL};
    ck_assert_int_eq(milnce_checkpoint_load(path_in(dir, "v2.safetensors"), &ck, NULL, NULL, &err),
                     MILNCE_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "format_version 2"), "%s", err.msg);
    /* Two groups writing the same name. */
    milnce_st_group twice[2] = {g, g};
    ck_assert_int_eq(milnce_safetensors_write(path_in(dir, "dup.safetensors"), twice, 2, NULL, 0, &err),
                     MILNCE_ERR_INVALID);
    free(blk);
    milnce_params_free(&tab);
}
END_TEST

/* Random truncations and byte changes of a valid file: every outcome is 0 or an error code,
 * never a crash (run under ASan/valgrind). */
START_TEST(test_fuzz) {
    const char *dir = tu_tmpdir();
    model a;
    model_init(&a);
    model_fill(&a, 8);
    milnce_checkpoint ck = {&a.params, a.p, &a.buffers, a.b, NULL, NULL, 0, 1, "cfg", NULL};
    const char *f = path_in(dir, "fuzz.safetensors");
    ck_assert_int_eq(milnce_checkpoint_save(f, &ck, NULL, 0, NULL), 0);
    milnce_safetensors base;
    ck_assert_int_eq(milnce_safetensors_open(&base, f, NULL), 0);
    size_t n = base.size, hl = (size_t)(base.data - base.buf);
    uint8_t *img = malloc(n);
    milnce_rng r;
    milnce_rng_seed(&r, 2024);
    int ok = 0, bad = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(img, base.buf, n);
        size_t len = n;
        int mode = (int)milnce_rng_below(&r, 3);
        if (mode == 0) len = (size_t)milnce_rng_below(&r, n + 1);
        int flips = 1 + (int)milnce_rng_below(&r, 4);
        for (int k = 0; mode && k < flips; k++) {
            /* mostly inside the header, where the structure is */
            size_t at = milnce_rng_below(&r, 4) ? (size_t)milnce_rng_below(&r, hl) : (size_t)milnce_rng_below(&r, n);
            img[at] = mode == 1 ? (uint8_t)milnce_rng_below(&r, 256)
                                : (uint8_t)"{}[],:\"0123456789 -eE\\"[milnce_rng_below(&r, 22)];
        }
        milnce_safetensors st;
        milnce_error err = {0};
        int rc = milnce_safetensors_parse(&st, img, len, "fuzz", &err);
        if (rc == 0) {
            milnce_st_load_opts o = {1, 1, NULL, NULL};
            milnce_st_group g[2] = {{&a.params, a.p, NULL}, {&a.buffers, a.b, NULL}};
            rc = milnce_safetensors_load(&st, g, 2, &o, &err);
            milnce_safetensors_close(&st);
        }
        ck_assert_msg(rc <= 0 && (rc == 0 || err.msg[0]), "iteration %d: rc %d without message", it, rc);
        rc == 0 ? ok++ : bad++;
    }
    printf("fuzz: 3000 corrupted images, %d parsed, %d rejected with a message\n", ok, bad);
    free(img);
    milnce_safetensors_close(&base);
    model_free(&a);
}
END_TEST

START_TEST(test_rng) {
    milnce_rng a, b;
    milnce_rng_seed(&a, 1);
    milnce_rng_seed(&b, 1);
    for (int i = 0; i < 100; i++) ck_assert_uint_eq(milnce_rng_u64(&a), milnce_rng_u64(&b));
    char s[MILNCE_RNG_STATE_CHARS];
    milnce_rng_to_string(&a, s);
    ck_assert_uint_eq(strlen(s), 64);
    milnce_rng c;
    ck_assert_int_eq(milnce_rng_from_string(&c, s, NULL), 0);
    for (int i = 0; i < 100; i++) ck_assert_uint_eq(milnce_rng_u64(&a), milnce_rng_u64(&c));
    milnce_error err = {0};
    ck_assert_int_eq(milnce_rng_from_string(&c, "12", &err), MILNCE_ERR_FORMAT);
    char z[65];
    memset(z, '0', 64);
    z[64] = 0;
    ck_assert_int_eq(milnce_rng_from_string(&c, z, &err), MILNCE_ERR_FORMAT);
    z[3] = 'g';
    ck_assert_int_eq(milnce_rng_from_string(&c, z, &err), MILNCE_ERR_FORMAT);
    /* Known answer: xoshiro256** from state {1, 2, 3, 4} gives 11520 then 0 then 1509978240. */
    milnce_rng k = {{1, 2, 3, 4}};
    ck_assert_uint_eq(milnce_rng_u64(&k), 11520);
    ck_assert_uint_eq(milnce_rng_u64(&k), 0);
    ck_assert_uint_eq(milnce_rng_u64(&k), 1509978240);
    /* Streams and jumps differ; ranges hold; below is roughly uniform. */
    milnce_rng s0, s1;
    milnce_rng_seed_stream(&s0, 5, 0);
    milnce_rng_seed_stream(&s1, 5, 1);
    ck_assert_uint_ne(milnce_rng_u64(&s0), milnce_rng_u64(&s1));
    b = a;
    milnce_rng_jump(&b);
    ck_assert_uint_ne(milnce_rng_u64(&a), milnce_rng_u64(&b));
    int hist[10] = {0};
    double sum = 0, sq = 0;
    for (int i = 0; i < 100000; i++) {
        double u = milnce_rng_uniform(&a);
        float uf = milnce_rng_uniformf(&a);
        ck_assert(u >= 0 && u < 1 && uf >= 0 && uf < 1);
        hist[milnce_rng_below(&a, 10)]++;
        double g = milnce_rng_normal(&a);
        sum += g;
        sq += g * g;
    }
    for (int i = 0; i < 10; i++) ck_assert_msg(hist[i] > 9500 && hist[i] < 10500, "bucket %d: %d", i, hist[i]);
    ck_assert_double_eq_tol(sum / 100000, 0, 0.02);
    ck_assert_double_eq_tol(sq / 100000, 1, 0.02);
    ck_assert_uint_eq(milnce_rng_below(&a, 0), 0);
    int p[8] = {0, 1, 2, 3, 4, 5, 6, 7}, seen = 0;
    milnce_rng_shuffle_int(&a, p, 8);
    for (int i = 0; i < 8; i++) seen |= 1 << p[i];
    ck_assert_int_eq(seen, 255);
}
END_TEST

int main(int argc, char **argv) {
    tu_need_fixtures("checkpoint");
    tu_need_py("numpy torch"); /* convert_state_dict.py */
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("safetensors");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_round_trip_training);
    tcase_add_test(tc, test_resume_is_exact);
    tcase_add_test(tc, test_python_reads_our_file);
    tcase_add_test(tc, test_converted_reference_loads);
    tcase_add_test(tc, test_corrupt_files);
    tcase_add_test(tc, test_load_against_table);
    tcase_add_test(tc, test_fuzz);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("rng");
    tcase_add_test(tr, test_rng);
    suite_add_tcase(s, tr);
    return tu_run(s, argc, argv);
}
