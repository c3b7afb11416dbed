/* milnce import against files written by torch.save / np.save (tests/reference/import_ref.py):
 * the zip and legacy formats give the same tensors, the imported checkpoint embeds frames and
 * sentences as PyTorch does (<= 1e-4 relative) with nothing but the checkpoint, foreign or
 * truncated pickles and object arrays are refused with clear errors, non-finite weights are
 * named, and the word2vec form gives the files train reads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "eval.h"
#include "import.h"
#include "model.h"
#include "npy.h"
#include "safetensors.h"
#include "torch_load.h"
#include "torch_pickle.h"
#include "vocab_io.h"
#include "wordvec.h"
#include "testutil.h"

static const char *fx(const char *name) { return tu_fixture("import", name); }

static char ckpt[4400]; /* imported once per process (both test cases fork from it) */

static void import_once(void) {
    if (ckpt[0]) return;
    snprintf(ckpt, sizeof ckpt, "%s/s3d.safetensors", tu_tmpdir());
    milnce_import_opts o = {.weights = fx("s3d_howto100m.pth"), .dict = fx("s3d_dict.npy"), .out = ckpt};
    milnce_import_result r;
    milnce_error err = {0};
    ck_assert_msg(milnce_import_s3d_howto100m(&o, &r, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.words, 400);
    ck_assert_int_eq(r.legacy, 0);
}

START_TEST(test_zip_and_legacy_agree) {
    milnce_torch_file z, l, c;
    milnce_error err = {0};
    ck_assert_msg(milnce_torch_load(&z, fx("s3d_howto100m.pth"), &err) == 0, "%s", err.msg);
    ck_assert_msg(milnce_torch_load(&l, fx("s3d_howto100m_legacy.pth"), &err) == 0, "%s", err.msg);
    ck_assert_msg(milnce_torch_load(&c, fx("s3d_ckpt.pth"), &err) == 0, "%s", err.msg);
    ck_assert_int_eq(z.legacy, 0);
    ck_assert_int_eq(l.legacy, 1);
    ck_assert_str_eq(c.container, "state_dict");
    ck_assert_uint_eq(c.skipped, 2); /* epoch, lr */
    ck_assert_uint_eq(z.n, l.n);
    ck_assert_uint_eq(z.n, c.n);
    size_t floats = 0;
    for (size_t i = 0; i < z.n; i++) {
        const milnce_torch_tensor *a = &z.t[i], *b = milnce_torch_find(&l, a->name), *d = milnce_torch_find(&c, a->name);
        ck_assert_msg(b && d, "%s missing from the legacy file or the wrapped checkpoint", a->name);
        ck_assert_int_eq(a->ndim, b->ndim);
        ck_assert_mem_eq(a->shape, b->shape, sizeof a->shape);
        ck_assert_int_eq(a->dtype, b->dtype);
        if (a->data) {
            ck_assert_mem_eq(a->data, b->data, a->count * sizeof(float));
            ck_assert_mem_eq(a->data, d->data, a->count * sizeof(float));
            floats++;
        }
    }
    const milnce_torch_tensor *c1 = milnce_torch_find(&z, "conv1.conv1.weight");
    ck_assert_ptr_nonnull(c1);
    int64_t want[5] = {64, 24, 2, 4, 4};
    ck_assert_mem_eq(c1->shape, want, sizeof want);
    const milnce_torch_tensor *nb = milnce_torch_find(&z, "conv1.bn1.num_batches_tracked");
    ck_assert_msg(nb && nb->dtype == MILNCE_TORCH_I64 && !nb->data, "num_batches_tracked kept as an int64 without data");
    ck_assert_uint_gt(floats, 400);
    milnce_torch_free(&z);
    milnce_torch_free(&l);
    milnce_torch_free(&c);
}
END_TEST

static float *load_f32(const char *name, int64_t *shape) {
    float *d = NULL;
    int nd;
    milnce_error err = {0};
    ck_assert_msg(milnce_npy_read_f32(fx(name), &d, &nd, shape, &err) == 0, "%s", err.msg);
    return d;
}

START_TEST(test_embeddings_equal_pytorch) {
    import_once();
    /* from another folder, with the checkpoint alone; the frames are 16 x 64 x 64, so the
     * evaluation keys set the protocol */
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(tu_tmpdir()), 0);
    const char *sets[] = {"eval.num_frames=16", "eval.size=64", "eval.batch_size=2"};
    milnce_eval_load_opts lo = {.checkpoint = ckpt, .sets = sets, .nsets = 3, .with_video = 1, .with_text = 1};
    milnce_eval_model *m = NULL;
    milnce_error err = {0};
    ck_assert_msg(milnce_eval_model_load(&m, &lo, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_int_eq(m->cfg.model.space_to_depth, 1);
    ck_assert_int_eq(m->cfg.eval.max_words, 16);
    ck_assert_uint_eq(m->vocab.n, 400);
    ck_assert_str_eq(milnce_vocab_word(&m->vocab, 8), "café");
    int64_t sf[8], se[8], sm[8], st[8];
    float *frames = load_f32("frames.npy", sf), *emb_ref = load_f32("video_emb.npy", se), *mix_ref = load_f32("mixed5c.npy", sm);
    float *text_ref = load_f32("text_emb.npy", st);
    ck_assert_int_eq(sf[2], 16);
    ck_assert_int_eq(sf[3], 64);
    const float *emb, *mix;
    ck_assert_msg(milnce_model_video_forward(m->model, frames, (int)sf[0], 0, &emb, &mix, &err) == 0, "%s", err.msg);
    double ev = tu_rel_err(emb, emb_ref, (size_t)(se[0] * se[1]), 1e-6), em = tu_rel_err(mix, mix_ref, (size_t)(sm[0] * sm[1]), 1e-6);
    ck_assert_msg(ev <= 1e-4 && em <= 1e-4, "video embedding rel err %g, mixed_5c %g (PyTorch)", ev, em);
    FILE *f = fopen(fx("sentences.txt"), "r");
    ck_assert_ptr_nonnull(f);
    char lines[8][1024];
    const char *texts[8];
    size_t n = 0;
    while (n < 8 && fgets(lines[n], sizeof lines[n], f)) {
        lines[n][strcspn(lines[n], "\n")] = '\0';
        texts[n] = lines[n];
        n++;
    }
    fclose(f);
    ck_assert_uint_eq(n, (size_t)st[0]);
    float *tout = malloc(n * (size_t)m->E * sizeof *tout);
    size_t empty = 0;
    ck_assert_msg(milnce_eval_embed_texts(m, texts, n, tout, &empty, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(empty, 1); /* "nothing known here" */
    double et = tu_rel_err(tout, text_ref, n * (size_t)m->E, 1e-6);
    ck_assert_msg(et <= 1e-4, "text embedding rel err %g (PyTorch)", et);
    free(tout);
    free(frames);
    free(emb_ref);
    free(mix_ref);
    free(text_ref);
    milnce_eval_model_free(&m);
}
END_TEST

START_TEST(test_checkpoint_is_self_contained) {
    import_once();
    milnce_safetensors st;
    milnce_error err = {0};
    ck_assert_msg(milnce_safetensors_open(&st, ckpt, &err) == 0, "%s", err.msg);
    const char *cfg = milnce_safetensors_meta(&st, "config"), *voc = milnce_safetensors_meta(&st, "vocab");
    ck_assert_ptr_nonnull(cfg);
    ck_assert_ptr_nonnull(voc);
    ck_assert_ptr_nonnull(strstr(cfg, "space_to_depth: true"));
    ck_assert_ptr_nonnull(strstr(cfg, "max_words: 16"));
    ck_assert_ptr_nonnull(milnce_safetensors_meta(&st, "source.weights"));
    milnce_vocab v = {0};
    ck_assert_msg(milnce_vocab_from_text(voc, strlen(voc), "vocab", &v, &err) == 0, "%s", err.msg);
    char **words = NULL;
    size_t nw = 0;
    ck_assert_msg(milnce_npy_read_strings(fx("s3d_dict.npy"), &words, &nw, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(v.n, nw);
    for (size_t i = 0; i < nw; i++) ck_assert_str_eq(milnce_vocab_word(&v, (int32_t)i + 1), words[i]);
    milnce_npy_strings_free(words, nw);
    milnce_vocab_free(&v);
    milnce_safetensors_close(&st);
}
END_TEST

static int import_err(const char *weights, const char *dict, milnce_error *err) {
    char out[4400];
    snprintf(out, sizeof out, "%s/x.safetensors", tu_tmpdir());
    milnce_import_opts o = {.weights = fx(weights), .dict = fx(dict), .out = out};
    milnce_import_result r;
    int ret = milnce_import_s3d_howto100m(&o, &r, err);
    ck_assert_msg(access(out, F_OK) != 0, "%s: a refused import left %s", weights, out);
    return ret;
}

START_TEST(test_refusals) {
    milnce_error err = {0};
    ck_assert_int_eq(import_err("evil_zip.pth", "s3d_dict.npy", &err), MILNCE_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "system") && strstr(err.msg, "never"), "%s", err.msg);
    ck_assert_int_eq(import_err("evil_legacy.pth", "s3d_dict.npy", &err), MILNCE_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "system"), "%s", err.msg);
    ck_assert_int_eq(import_err("truncated_zip.pth", "s3d_dict.npy", &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "truncated"), "%s", err.msg);
    ck_assert_int_eq(import_err("truncated_legacy.pth", "s3d_dict.npy", &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "truncated"), "%s", err.msg);
    ck_assert_int_eq(import_err("nonfinite.pth", "s3d_dict.npy", &err), MILNCE_ERR_NUMERIC);
    ck_assert_msg(strstr(err.msg, "fc.weight (1)"), "%s", err.msg);
    ck_assert_int_eq(import_err("s3d_howto100m.pth", "s3d_dict_object.npy", &err), MILNCE_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(err.msg, "object array"), "%s", err.msg);
    ck_assert_int_eq(import_err("word2vec.pth", "s3d_dict.npy", &err), MILNCE_ERR_FORMAT); /* not the model layout */
    ck_assert_int_eq(import_err("s3d_howto100m.pth", "frames.npy", &err), MILNCE_ERR_UNSUPPORTED);
}
END_TEST

/* Hand-made pickles: what torch.save never writes is refused, whatever it would do. */
START_TEST(test_pickle_reader_refuses) {
    static const struct { const char *bytes; size_t n; int code; const char *msg; } cases[] = {
#define P(lit) lit, sizeof(lit) - 1
        {P("\x80\x02" "cbuiltins\neval\n" "X\x03\x00\x00\x00" "1+1" "\x85R."), MILNCE_ERR_UNSUPPORTED, "builtins.eval"},
        {P("\x80\x04\x8c\x02os\x8c\x06system\x93."), MILNCE_ERR_UNSUPPORTED, "os.system"},
        {P("\x80\x02}q\x00"), MILNCE_ERR_FORMAT, "truncated"},
        {P("\x80\x02]\x81."), MILNCE_ERR_UNSUPPORTED, "0x81"}, /* NEWOBJ */
        {P("\x80\x02h\x05."), MILNCE_ERR_FORMAT, "never PUT"},  /* GET of nothing */
        {P("\x80\x02N."), 0, NULL},
        {P("\x80\x02X\xff\xff\x00\x00" "ab."), MILNCE_ERR_FORMAT, "longer than"},
        {P("\x80\x02(u."), MILNCE_ERR_FORMAT, "SETITEMS without"},
#undef P
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        milnce_pickle pk;
        milnce_error err = {0};
        int ret = milnce_pickle_load(&pk, (const uint8_t *)cases[i].bytes, cases[i].n, NULL, "t.pkl", &err);
        ck_assert_msg(ret == cases[i].code, "case %zu: %d (%s)", i, ret, err.msg);
        if (cases[i].msg) ck_assert_msg(strstr(err.msg, cases[i].msg), "case %zu: %s", i, err.msg);
        if (ret == 0) milnce_pickle_free(&pk);
    }
}
END_TEST

START_TEST(test_word2vec_form) {
    const char *dir = tu_tmpdir();
    char out[4400];
    snprintf(out, sizeof out, "%s/w2v", dir);
    milnce_import_opts o = {.weights = fx("word2vec.pth"), .dict = fx("dict.npy"), .out = out};
    milnce_import_result r;
    milnce_error err = {0};
    ck_assert_msg(milnce_import_howto100m_word2vec(&o, &r, &err) == 0, "%s", err.msg);
    milnce_wordvec wv;
    ck_assert_msg(milnce_wordvec_load(r.out2, MILNCE_WORDVEC_AUTO, 0, &wv, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(wv.format, MILNCE_WORDVEC_W2V_BIN);
    milnce_vocab v = {0};
    ck_assert_msg(milnce_vocab_load(r.out, &v, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(v.n, 400);
    ck_assert_uint_eq(wv.vocab.n, 400);
    int64_t sh[8];
    float *rows = load_f32("word2vec_rows.npy", sh);
    ck_assert_int_eq(sh[1], wv.dim);
    float *mat = NULL;
    size_t found = 0;
    ck_assert_msg(milnce_wordvec_matrix_for(&wv, &v, &mat, &found, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(found, 400);
    /* train's word table for vocab.txt is word2vec.pth row for row */
    ck_assert_mem_eq(mat + wv.dim, rows + wv.dim, (size_t)400 * (size_t)wv.dim * sizeof(float));
    free(mat);
    free(rows);
    milnce_vocab_free(&v);
    milnce_wordvec_free(&wv);
    /* a dictionary that does not belong to the vectors */
    o.dict = fx("frames.npy");
    ck_assert_int_eq(milnce_import_howto100m_word2vec(&o, &r, &err), MILNCE_ERR_UNSUPPORTED);
}
END_TEST

START_TEST(test_nonfinite_checkpoint_refused_on_load) {
    import_once();
    /* a copy of the imported checkpoint with one Inf weight in the text module */
    milnce_safetensors st;
    milnce_error err = {0};
    ck_assert_msg(milnce_safetensors_open(&st, ckpt, &err) == 0, "%s", err.msg);
    int i = milnce_safetensors_find(&st, "text_module.fc2.weight");
    ck_assert_int_ge(i, 0);
    float inf = INFINITY;
    memcpy((uint8_t *)st.data + st.e[i].begin + 4 * 7, &inf, 4);
    char bad[4400];
    snprintf(bad, sizeof bad, "%s/inf.safetensors", tu_tmpdir());
    FILE *f = fopen(bad, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(st.buf, 1, st.size, f), st.size);
    fclose(f);
    milnce_safetensors_close(&st);
    milnce_eval_load_opts lo = {.checkpoint = bad, .with_video = 0, .with_text = 1};
    milnce_eval_model *m = NULL;
    ck_assert_int_eq(milnce_eval_model_load(&m, &lo, &err), MILNCE_ERR_NUMERIC);
    ck_assert_msg(strstr(err.msg, bad) && strstr(err.msg, "text_module.fc2.weight"), "%s", err.msg);
}
END_TEST

int main(int argc, char **argv) {
    Suite *s = suite_create("import");
    TCase *tc = tcase_create("import");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_zip_and_legacy_agree);
    tcase_add_test(tc, test_embeddings_equal_pytorch);
    tcase_add_test(tc, test_checkpoint_is_self_contained);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_pickle_reader_refuses);
    tcase_add_test(tc, test_word2vec_form);
    tcase_add_test(tc, test_nonfinite_checkpoint_refused_on_load);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
