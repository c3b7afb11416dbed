/* eval and embed on a tiny model checkpoint and real test videos under YouCook2 / MSR-VTT
 * layouts: eval.json structure, metrics against ranks recomputed from the returned embeddings,
 * missing videos counted, window averaging, thumbnails, config resolution, and embed's .npy read
 * back by numpy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "checkpoint.h"
#include "eval.h"
#include "fileutil.h"
#include "image_write.h"
#include "model.h"
#include "npy.h"
#include "run_model.h"
#include "video.h"
#include "vocab_io.h"
#include "testutil.h"

static char root[4200], run_dir[4400], csv_path[4400], vid_root[4400], msr_csv[4400];
static char warnings[16384];

static void capture(void *user, int level, const char *msg) {
    (void)user;
    if (level <= MILNCE_LOG_WARN && strlen(warnings) + strlen(msg) + 2 < sizeof warnings) {
        strcat(warnings, msg);
        strcat(warnings, "\n");
    }
}
static milnce_logger lg = {capture, NULL};

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void link_video(const char *name, const char *dst) {
    char src[512];
    snprintf(src, sizeof src, "videos/%s", name);
    ck_assert_int_eq(symlink(tu_testdata(src), dst), 0);
}

static void tiny_config(milnce_config *cfg, const char *vocab) {
    milnce_config_defaults(cfg);
    static const char *sets[] = {"model.width=0.125", "model.blocks3=1", "model.blocks4=1", "model.blocks5=1",
                                 "model.embed_dim=16", "model.word_dim=8", "model.text_hidden=24",
                                 "data.num_frames=8", "data.fps=4", "data.size=32", "data.resize=32",
                                 "eval.num_windows=3", "eval.batch_size=4", "eval.max_words=8", NULL};
    milnce_error err = {0};
    for (int i = 0; sets[i]; i++) ck_assert_msg(milnce_config_set(cfg, sets[i], &err) == 0, "%s", err.msg);
    ck_assert_int_eq(milnce_path(cfg->model.vocab, sizeof cfg->model.vocab, NULL, "%s", vocab), 0);
}

/* A run folder with one checkpoint of a tiny model, videos under ids, a YouCook2 CSV with one
 * missing video (two rows) and an MSR-VTT CSV. */
static void setup(void) {
    if (root[0]) return;
    snprintf(root, sizeof root, "%s", tu_tmpdir());
    char p[4600], vocab[4400];
    snprintf(vocab, sizeof vocab, "%s/vocab.txt", root);
    write_text(vocab, "add\nthe\nonion\npan\nflip\npancake\nwater\ncar\nman\nwalks\nfire\nflower\n");
    milnce_config cfg;
    tiny_config(&cfg, vocab);
    milnce_vocab v = {0};
    milnce_error err = {0};
    ck_assert_msg(milnce_vocab_load(vocab, &v, &err) == 0, "%s", err.msg);
    milnce_model_cfg mc;
    milnce_model_cfg_from_config(&cfg, (int)v.n + 1, 2, &mc);
    milnce_vocab_free(&v);
    milnce_model *m;
    ck_assert_msg(milnce_model_create(&m, &mc, &err) == 0, "%s", err.msg);
    milnce_model_init(m, 7);
    snprintf(run_dir, sizeof run_dir, "%s/run", root);
    mkdir(run_dir, 0755);
    snprintf(p, sizeof p, "%s/checkpoints", run_dir);
    mkdir(p, 0755);
    char *yaml = milnce_config_to_yaml(&cfg);
    milnce_checkpoint ck = {.params = &m->ptab, .param_block = m->params, .buffers = &m->btab,
                            .buffer_block = m->buffers, .step = 5, .config = yaml};
    snprintf(p, sizeof p, "%s/checkpoints/step-00000005.safetensors", run_dir);
    ck_assert_msg(milnce_checkpoint_save(p, &ck, NULL, 0, &err) == 0, "%s", err.msg);
    free(yaml);
    milnce_model_free(&m);
    snprintf(p, sizeof p, "%s/checkpoints/latest", run_dir);
    write_text(p, "step-00000005.safetensors\n");

    snprintf(vid_root, sizeof vid_root, "%s/videos", root);
    mkdir(vid_root, 0755);
    snprintf(p, sizeof p, "%s/pancakes", vid_root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/vidA.mp4", vid_root);
    link_video("chaplin.mp4", p);
    snprintf(p, sizeof p, "%s/vidB.mp4", vid_root);
    link_video("kinetics_clip.mp4", p);
    snprintf(p, sizeof p, "%s/pancakes/vidC.mkv", vid_root); /* <root>/<task>/<id>.<ext> */
    link_video("flipping_a_pancake.mkv", p);
    snprintf(p, sizeof p, "%s/vidD.webm", vid_root);
    link_video("stream-of-water.webm", p);
    snprintf(csv_path, sizeof csv_path, "%s/youcook2_val.csv", root);
    write_text(csv_path,
               "end,start,task,text,video_id\n"
               "3.5,0.5,chaplin,a man walks,vidA\n"
               "9.0,5.0,chaplin,the man and the car,vidA\n"
               "4.0,1.0,kinetics,fire in the pan,vidB\n"
               "9.5,6.0,kinetics,\"add water, then onion\",vidB\n"
               "4.0,0.0,pancakes,flip the pancake,vidC\n"
               "10.0,6.5,pancakes,the pancake in the pan,vidC\n"
               "3.0,0.0,water,water,vidD\n"
               "5.0,1.0,gone,add the onion,vidMissing\n"
               "9.0,6.0,gone,onion,vidMissing\n");
    snprintf(msr_csv, sizeof msr_csv, "%s/msrvtt_test.csv", root);
    write_text(msr_csv,
               "key,vid_key,video_id,sentence\n"
               "ret0,msr0,vidA,a man walks\n"
               "ret1,msr1,vidB,fire\n"
               "ret2,msr2,vidD,water\n");
}

static milnce_eval_model *load(const char *const *sets, int nsets, int video, int text) {
    milnce_eval_load_opts o = {.checkpoint = run_dir, .sets = sets, .nsets = nsets, .with_video = video,
                               .with_text = text, .lg = &lg};
    milnce_eval_model *m = NULL;
    milnce_error err = {0};
    ck_assert_msg(milnce_eval_model_load(&m, &o, &err) == 0, "%s", err.msg);
    return m;
}

/* rank = 1 + number of items scoring strictly higher, by a plain double loop. */
static void naive_ranks(const float *t, const float *v, size_t n, size_t d, int64_t *t2v, int64_t *v2t) {
    double *S = malloc(n * n * sizeof *S);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t k = 0; k < d; k++) s += (double)t[i * d + k] * v[j * d + k];
            S[i * n + j] = s;
        }
    for (size_t i = 0; i < n; i++) {
        t2v[i] = v2t[i] = 1;
        for (size_t j = 0; j < n; j++) {
            double tol = 1e-5 * fabs(S[i * n + i]) + 1e-9;
            if (S[i * n + j] > S[i * n + i] + tol) t2v[i]++;
            if (S[j * n + i] > S[i * n + i] + tol) v2t[i]++;
        }
    }
    free(S);
}

static double jnum(json_t *o, const char *a, const char *b) {
    json_t *x = json_object_get(o, a);
    if (b) x = json_object_get(x, b);
    ck_assert_msg(json_is_number(x), "eval.json lacks %s.%s", a, b ? b : "");
    return json_number_value(x);
}

static void check_recall_json(json_t *root, const char *dir, const int64_t *ranks, size_t n) {
    double r1 = 0, r5 = 0, r10 = 0, mean = 0;
    for (size_t i = 0; i < n; i++) {
        r1 += ranks[i] <= 1;
        r5 += ranks[i] <= 5;
        r10 += ranks[i] <= 10;
        mean += (double)ranks[i];
    }
    ck_assert_double_eq_tol(jnum(root, dir, "r1"), 100 * r1 / n, 1e-6);
    ck_assert_double_eq_tol(jnum(root, dir, "r5"), 100 * r5 / n, 1e-6);
    ck_assert_double_eq_tol(jnum(root, dir, "r10"), 100 * r10 / n, 1e-6);
    ck_assert_double_eq_tol(jnum(root, dir, "mean_rank"), mean / n, 1e-6);
    ck_assert(jnum(root, dir, "median_rank") >= 1);
}

START_TEST(test_eval_youcook2) {
    setup();
    char sets_buf[3][4600];
    snprintf(sets_buf[0], sizeof sets_buf[0], "eval.csv=%s", csv_path);
    snprintf(sets_buf[1], sizeof sets_buf[1], "eval.video_root=%s", vid_root);
    snprintf(sets_buf[2], sizeof sets_buf[2], "eval.format=youcook2");
    const char *sets[] = {sets_buf[0], sets_buf[1], sets_buf[2]};
    warnings[0] = '\0';
    milnce_eval_model *m = load(sets, 3, 1, 1);
    ck_assert_int_eq(m->cfg.eval.num_windows, 3);
    ck_assert_int_eq(m->step, 5);
    ck_assert_str_eq(m->run_dir, run_dir);
    char out[4600];
    snprintf(out, sizeof out, "%s/out_yc", root);
    milnce_eval_opts o = {.out_dir = out, .thumbnails = 1, .save_embeddings = 1, .lg = &lg};
    milnce_eval_result r;
    milnce_error err = {0};
    ck_assert_msg(milnce_eval_run(m, &o, &r, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.rows, 9);
    ck_assert_uint_eq(r.n, 7);
    ck_assert_uint_eq(r.missing_videos, 1);
    ck_assert_uint_eq(r.dropped_queries, 2);
    ck_assert_uint_eq(r.dim, 16);
    ck_assert_msg(strstr(warnings, "vidMissing") != NULL, "no warning for the missing video: %s", warnings);
    /* one warning for the missing video, not one per row */
    int lines = 0;
    for (const char *l = warnings; *l; l = strchr(l, '\n') + 1) {
        const char *nl = strchr(l, '\n'), *hit = strstr(l, "vidMissing");
        lines += hit && hit < nl;
    }
    ck_assert_int_eq(lines, 1);

    /* ranks and metrics against a plain recomputation from the returned embeddings */
    int64_t t2v[16], v2t[16];
    naive_ranks(r.text, r.video, r.n, r.dim, t2v, v2t);
    for (size_t i = 0; i < r.n; i++) {
        ck_assert_int_eq(r.t2v_rank[i], t2v[i]);
        ck_assert_int_eq(r.v2t_rank[i], v2t[i]);
    }
    json_error_t je;
    json_t *root_j = json_load_file(r.json_path, 0, &je);
    ck_assert_msg(root_j != NULL, "%s: %s", r.json_path, je.text);
    ck_assert_str_eq(json_string_value(json_object_get(root_j, "dataset")), csv_path);
    ck_assert_int_eq(json_integer_value(json_object_get(root_j, "n")), 7);
    ck_assert_int_eq(json_integer_value(json_object_get(root_j, "missing_videos")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(root_j, "dropped_queries")), 2);
    ck_assert(json_string_length(json_object_get(root_j, "tie_rule")) > 10);
    check_recall_json(root_j, "t2v", t2v, r.n);
    check_recall_json(root_j, "v2t", v2t, r.n);
    ck_assert_double_eq_tol(jnum(root_j, "chance", "r1"), 100.0 / 7, 1e-8);
    ck_assert_double_eq_tol(jnum(root_j, "chance", "r5"), 500.0 / 7, 1e-8);
    ck_assert_double_eq_tol(jnum(root_j, "chance", "r10"), 100.0, 1e-9);
    json_t *ex = json_object_get(root_j, "examples");
    ck_assert_uint_eq(json_array_size(ex), 5);
    for (size_t k = 0; k < json_array_size(ex); k++) {
        json_t *e = json_array_get(ex, k), *top = json_object_get(e, "top");
        ck_assert(json_is_string(json_object_get(e, "query")));
        ck_assert(json_is_string(json_object_get(e, "gt_video")));
        ck_assert_uint_eq(json_array_size(top), 5);
        double prev = INFINITY;
        int correct = 0;
        for (size_t t = 0; t < 5; t++) {
            json_t *c = json_array_get(top, t);
            double sc = json_number_value(json_object_get(c, "score"));
            ck_assert(sc <= prev);
            prev = sc;
            correct += json_is_true(json_object_get(c, "correct"));
            const char *th = json_string_value(json_object_get(c, "thumbnail"));
            ck_assert_msg(th && strncmp(th, "thumbs/", 7) == 0, "example %zu top %zu has no thumbnail", k, t);
            char tp[4800];
            snprintf(tp, sizeof tp, "%s/%s", out, th);
            FILE *f = fopen(tp, "rb");
            ck_assert_msg(f != NULL, "%s", tp);
            uint8_t head[8];
            ck_assert_uint_eq(fread(head, 1, 8, f), 8);
            fclose(f);
            ck_assert_int_eq(milnce_image_format_sniff(head, 8), MILNCE_IMAGE_JPEG);
        }
        /* the ground truth is in the top 5 exactly when its rank is <= 5 */
        ck_assert_int_eq(correct, json_integer_value(json_object_get(e, "rank")) <= 5);
    }
    json_decref(root_j);

    /* a clip embedding is the mean of its windows' embeddings (row 1: vidA, [5, 9]) */
    ck_assert_str_eq(r.video_ids[1], "vidA");
    milnce_decoder *dec;
    char vp[4600];
    snprintf(vp, sizeof vp, "%s/vidA.mp4", vid_root);
    ck_assert_msg(milnce_decoder_open(&dec, vp, NULL, &err) == 0, "%s", err.msg);
    double starts[3];
    milnce_eval_window_starts(5.0, 9.0, 2.0, 3, starts);
    ck_assert_double_eq_tol(starts[0], 5.0, 1e-12);
    ck_assert_double_eq_tol(starts[1], 6.0, 1e-12);
    ck_assert_double_eq_tol(starts[2], 7.0, 1e-12);
    float one[3][16], avg[16];
    for (int w = 0; w < 3; w++) ck_assert_int_eq(milnce_eval_embed_windows(m, dec, &starts[w], 1, 0, 0, one[w], NULL, &err), 0);
    for (int d = 0; d < 16; d++) {
        float mean = (one[0][d] + one[1][d] + one[2][d]) / 3;
        ck_assert_float_eq_tol(r.video[16 + d], mean, 1e-4f * (1 + fabsf(mean)));
    }
    ck_assert_int_eq(milnce_eval_embed_windows(m, dec, starts, 3, 0, 1, avg, NULL, &err), 0);
    ck_assert_mem_eq(avg, r.video + 16, sizeof avg);
    /* the windows differ (the video moves), so the average is not one window */
    double diff = 0;
    for (int d = 0; d < 16; d++) diff += fabs(one[0][d] - one[2][d]);
    ck_assert(diff > 1e-6);
    milnce_decoder_free(&dec);

    /* saved embeddings: numpy reads the shapes */
    char cmd[10000];
    snprintf(cmd, sizeof cmd, "%s -c \"import numpy as np; t=np.load('%s/eval_text.npy'); v=np.load('%s/eval_video.npy'); "
             "print(t.shape[0], t.shape[1], v.shape[0], v.shape[1], t.dtype)\"", tu_python(), out, out);
    FILE *pp = popen(cmd, "r");
    char line[256] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, pp));
    ck_assert_int_eq(pclose(pp), 0);
    ck_assert_str_eq(line, "7 16 7 16 float32\n");
    milnce_eval_result_free(&r);
    milnce_eval_model_free(&m);
}
END_TEST

/* Windows that all start at the same time (a clip shorter than one window): the same content,
 * so N windows average to the one-window embedding; and the constant content survives batching. */
START_TEST(test_windows_constant_content) {
    setup();
    milnce_eval_model *m = load(NULL, 0, 1, 0);
    double starts[5];
    milnce_eval_window_starts(2.0, 3.0, 2.0, 5, starts); /* end - start < window: all at 2.0 */
    for (int i = 0; i < 5; i++) ck_assert_double_eq(starts[i], 2.0);
    milnce_eval_window_starts(1.0, 9.0, 2.0, 1, starts);
    ck_assert_double_eq(starts[0], 1.0);
    milnce_decoder *dec;
    milnce_error err = {0};
    char vp[4600];
    snprintf(vp, sizeof vp, "%s/vidB.mp4", vid_root);
    ck_assert_msg(milnce_decoder_open(&dec, vp, NULL, &err) == 0, "%s", err.msg);
    double same[5] = {2, 2, 2, 2, 2};
    float e1[16], e5[16], per[5][16];
    ck_assert_int_eq(milnce_eval_embed_windows(m, dec, same, 1, 0, 1, e1, NULL, &err), 0);
    ck_assert_int_eq(milnce_eval_embed_windows(m, dec, same, 5, 0, 1, e5, NULL, &err), 0); /* batches of 4 + 1 */
    ck_assert_int_eq(milnce_eval_embed_windows(m, dec, same, 5, 0, 0, per[0], NULL, &err), 0);
    for (int d = 0; d < 16; d++) {
        ck_assert_float_eq_tol(e5[d], e1[d], 1e-4f * (1 + fabsf(e1[d])));
        for (int w = 0; w < 5; w++) ck_assert_float_eq_tol(per[w][d], e1[d], 1e-4f * (1 + fabsf(e1[d])));
    }
    /* mixed_5c: 1024 * 0.125 features */
    ck_assert_int_eq(m->F, 128);
    float f1[128];
    ck_assert_int_eq(milnce_eval_embed_windows(m, dec, same, 1, 1, 1, f1, NULL, &err), 0);
    milnce_decoder_free(&dec);
    milnce_eval_model_free(&m);
}
END_TEST

START_TEST(test_eval_msrvtt_whole_videos) {
    setup();
    char s0[4600], s1[4600];
    snprintf(s0, sizeof s0, "eval.csv=%s", msr_csv);
    snprintf(s1, sizeof s1, "eval.video_root=%s", vid_root);
    const char *sets[] = {s0, s1, "eval.format=msrvtt", "eval.num_windows=2", "eval.normalize=true"};
    milnce_eval_model *m = load(sets, 5, 1, 1);
    char out[4600];
    snprintf(out, sizeof out, "%s/out_msr", root);
    milnce_eval_opts o = {.out_dir = out, .num_examples = -1, .lg = &lg};
    milnce_eval_result r;
    milnce_error err = {0};
    ck_assert_msg(milnce_eval_run(m, &o, &r, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.n, 3);
    ck_assert_uint_eq(r.missing_videos, 0);
    ck_assert_double_eq_tol(r.end[0], 9.64, 0.05); /* whole chaplin.mp4 */
    for (size_t i = 0; i < r.n; i++) {
        double a = 0, b = 0;
        for (size_t d = 0; d < r.dim; d++) {
            a += (double)r.text[i * r.dim + d] * r.text[i * r.dim + d];
            b += (double)r.video[i * r.dim + d] * r.video[i * r.dim + d];
        }
        ck_assert_double_eq_tol(a, 1.0, 1e-5);
        ck_assert_double_eq_tol(b, 1.0, 1e-5);
    }
    ck_assert_double_eq_tol(r.chance_r1, 100.0 / 3, 1e-9);
    milnce_eval_result_free(&r);
    milnce_eval_model_free(&m);
}
END_TEST

START_TEST(test_config_resolution_and_errors) {
    setup();
    milnce_error err = {0};
    milnce_eval_model *m = NULL;
    /* model keys from --set are ignored with a warning: the shapes are the checkpoint's */
    warnings[0] = '\0';
    const char *sets[] = {"model.width=0.5", "eval.max_words=5"};
    m = load(sets, 2, 0, 1);
    ck_assert_double_eq(m->cfg.model.width, 0.125);
    ck_assert_int_eq(m->cfg.eval.max_words, 5);
    ck_assert_msg(strstr(warnings, "model.width") != NULL, "%s", warnings);
    milnce_eval_model_free(&m);
    /* the checkpoint file itself: run folder = parent of checkpoints/ */
    char ck[4600];
    snprintf(ck, sizeof ck, "%s/checkpoints/step-00000005.safetensors", run_dir);
    milnce_eval_load_opts o = {.checkpoint = ck, .with_video = 1, .with_text = 1, .lg = &lg};
    ck_assert_msg(milnce_eval_model_load(&m, &o, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(m->run_dir, run_dir);
    milnce_eval_model_free(&m);
    /* no vocabulary: the error names the key */
    const char *novocab[] = {"model.vocab="};
    o.sets = novocab;
    o.nsets = 1;
    ck_assert_int_lt(milnce_eval_model_load(&m, &o, &err), 0);
    ck_assert_msg(strstr(err.msg, "model.vocab") != NULL, "%s", err.msg);
    ck_assert_ptr_null(m);
    /* a vocabulary of the wrong size */
    char small[4600];
    snprintf(small, sizeof small, "%s/small_vocab.txt", root);
    write_text(small, "add\nthe\n");
    char sv[4700];
    snprintf(sv, sizeof sv, "model.vocab=%s", small);
    const char *wrong[] = {sv};
    o.sets = wrong;
    ck_assert_int_lt(milnce_eval_model_load(&m, &o, &err), 0);
    ck_assert_msg(strstr(err.msg, "model.vocab") != NULL, "%s", err.msg);
    /* a folder without checkpoints */
    o.checkpoint = root;
    o.nsets = 0;
    ck_assert_int_eq(milnce_eval_model_load(&m, &o, &err), MILNCE_ERR_NOTFOUND);
    /* eval needs a CSV; all rows missing is an error */
    m = load(NULL, 0, 1, 1);
    milnce_eval_opts eo = {.out_dir = root, .lg = &lg};
    milnce_eval_result r;
    ck_assert_int_eq(milnce_eval_run(m, &eo, &r, &err), MILNCE_ERR_INVALID);
    ck_assert_msg(strstr(err.msg, "eval.csv") != NULL, "%s", err.msg);
    char csv[4600];
    snprintf(csv, sizeof csv, "%s/none.csv", root);
    write_text(csv, "end,start,task,text,video_id\n2,1,x,onion,nothere\n");
    ck_assert_int_eq(milnce_path(m->cfg.eval.csv, sizeof m->cfg.eval.csv, NULL, "%s", csv), 0);
    ck_assert_int_eq(milnce_eval_run(m, &eo, &r, &err), MILNCE_ERR_NOTFOUND);
    write_text(csv, "end,start,text\n2,1,onion\n");
    ck_assert_int_eq(milnce_eval_run(m, &eo, &r, &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "video_id") != NULL, "%s", err.msg);
    write_text(csv, "end,start,task,text,video_id\nsoon,1,x,onion,vidA\n");
    ck_assert_int_eq(milnce_eval_run(m, &eo, &r, &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, ":2:") != NULL, "%s", err.msg);
    /* an id that would leave the video root is treated as missing */
    write_text(csv, "end,start,task,text,video_id\n2,1,x,onion,../videos/vidA\n3,0,x,car,vidA\n");
    ck_assert_int_eq(milnce_path(m->cfg.eval.video_root, sizeof m->cfg.eval.video_root, NULL, "%s", vid_root), 0);
    ck_assert_msg(milnce_eval_run(m, &eo, &r, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_uint_eq(r.missing_videos, 1);
    milnce_eval_result_free(&r);
    milnce_eval_model_free(&m);
}
END_TEST

static void numpy_shape(const char *npy, long *rows, long *cols) {
    char cmd[9000], line[256] = "";
    snprintf(cmd, sizeof cmd, "%s -c \"import numpy as np; a=np.load('%s'); assert a.dtype==np.float32 and a.ndim==2; "
             "assert np.isfinite(a).all(); print(a.shape[0], a.shape[1])\"", tu_python(), npy);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_int_eq(sscanf(line, "%ld %ld", rows, cols), 2);
}

static size_t count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = 0;
    int c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

START_TEST(test_embed_npy) {
    setup();
    char list[4600], prefix[4600], p[4800];
    snprintf(list, sizeof list, "%s/embed_videos", root);
    mkdir(list, 0755);
    snprintf(p, sizeof p, "%s/a.mp4", list);
    link_video("chaplin.mp4", p); /* 9.64 s: windows of 2 s every 2 s -> 4 */
    snprintf(p, sizeof p, "%s/b.mp4", list);
    link_video("stream-of-water.mp4", p); /* 3.16 s -> 1 */
    milnce_eval_model *m = load(NULL, 0, 1, 0);
    milnce_embed_opts o = {.videos = list, .lg = &lg};
    snprintf(prefix, sizeof prefix, "%s/emb_windows", root);
    o.out_prefix = prefix;
    milnce_embed_result r;
    milnce_error err = {0};
    ck_assert_msg(milnce_embed_run(m, &o, &r, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.rows, 5);
    ck_assert_uint_eq(r.dim, 16);
    long rows, cols;
    numpy_shape(r.npy_path, &rows, &cols);
    ck_assert_int_eq(rows, 5);
    ck_assert_int_eq(cols, 16);
    ck_assert_uint_eq(count_lines(r.ids_path), 5);
    FILE *f = fopen(r.ids_path, "r");
    char line[256];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "a\t0.000\n");
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "a\t2.000\n");
    fclose(f);
    /* averaged mixed_5c, 3 evenly spaced windows */
    o.mixed5c = 1;
    o.average = 1;
    o.num_windows = 3;
    snprintf(prefix, sizeof prefix, "%s/emb_mix", root);
    ck_assert_msg(milnce_embed_run(m, &o, &r, &err) == 0, "%s", err.msg);
    numpy_shape(r.npy_path, &rows, &cols);
    ck_assert_int_eq(rows, 2);
    ck_assert_int_eq(cols, 128);
    ck_assert_uint_eq(count_lines(r.ids_path), 2);
    milnce_eval_model_free(&m);
    /* sentences */
    m = load(NULL, 0, 0, 1);
    char sent[4600];
    snprintf(sent, sizeof sent, "%s/sentences.txt", root);
    write_text(sent, "add the onion\nflip the pancake\n\nzzz unknown words\n");
    milnce_embed_opts so = {.sentences = sent, .out_prefix = prefix, .lg = &lg};
    snprintf(prefix, sizeof prefix, "%s/emb_text", root);
    ck_assert_msg(milnce_embed_run(m, &so, &r, &err) == 0, "%s", err.msg);
    numpy_shape(r.npy_path, &rows, &cols);
    ck_assert_int_eq(rows, 4);
    ck_assert_int_eq(cols, 16);
    ck_assert_uint_eq(count_lines(r.ids_path), 4);
    /* the text rows equal milnce_eval_embed_texts */
    float want[2][16];
    const char *texts[] = {"add the onion", "flip the pancake"};
    ck_assert_int_eq(milnce_eval_embed_texts(m, texts, 2, want[0], NULL, &err), 0);
    float *got;
    int nd;
    int64_t shape[8];
    ck_assert_int_eq(milnce_npy_read_f32(r.npy_path, &got, &nd, shape, &err), 0);
    /* batches of 4 (embed) and 2 (here) may round differently in the last bits */
    ck_assert_double_le(tu_rel_err(got, want[0], 32, 1e-3), 1e-5);
    free(got);
    /* a video-only model cannot embed text */
    milnce_eval_model_free(&m);
    m = load(NULL, 0, 1, 0);
    ck_assert_int_eq(milnce_embed_run(m, &so, &r, &err), MILNCE_ERR_INVALID);
    milnce_eval_model_free(&m);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("eval");
    TCase *tc = tcase_create("eval");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_eval_youcook2);
    tcase_add_test(tc, test_windows_constant_content);
    tcase_add_test(tc, test_eval_msrvtt_whole_videos);
    tcase_add_test(tc, test_config_resolution_and_errors);
    tcase_add_test(tc, test_embed_npy);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv) {
    tu_need_py("numpy");
    return tu_run(suite(), argc, argv);
}
