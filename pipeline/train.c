#include "train.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "checkpoint.h"
#include "loader.h"
#include "loss.h"
#include "model.h"
#include "optim.h"
#include "vocab.h"
#include "vocab_io.h"
#include "wordvec.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

void milnce_train_model_cfg(const milnce_config *cfg, int vocab, int batch, milnce_model_cfg *m) {
    *m = milnce_model_default_cfg();
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

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int milnce_train_latest(const char *out_dir, char *path, size_t cap) {
    char p[4200], name[512] = "";
    snprintf(p, sizeof p, "%s/checkpoints/latest", out_dir);
    path[0] = '\0';
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    if (fgets(name, sizeof name, f)) {
        name[strcspn(name, "\r\n")] = '\0';
        if (name[0] && !strchr(name, '/')) snprintf(path, cap, "%s/checkpoints/%s", out_dir, name);
    }
    fclose(f);
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Keeps the newest keep checkpoints (names sort by step). */
static void prune(const char *dir, int keep, const milnce_logger *lg) {
    DIR *d = opendir(dir);
    if (!d) return;
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "step-", 5) != 0 || !strstr(de->d_name, ".safetensors") || strstr(de->d_name, ".tmp")) continue;
        char **nn = realloc(names, (n + 1) * sizeof *nn);
        if (!nn) break;
        names = nn;
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i + (size_t)keep < n; i++) {
        char p[4600];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (unlink(p) < 0) milnce_log(lg, MILNCE_LOG_WARN, "cannot remove old checkpoint %s: %s", p, strerror(errno));
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

static int save_checkpoint(const milnce_config *cfg, milnce_model *m, milnce_optim *opt, int64_t step,
                           const char *yaml, char *written, size_t cap, const milnce_logger *lg, milnce_error *err) {
    char dir[4200], path[4400], latest[4400], name[64];
    snprintf(dir, sizeof dir, "%s/checkpoints", cfg->train.out_dir);
    int ret = milnce_mkdirs(dir, err);
    if (ret < 0) return ret;
    snprintf(name, sizeof name, "step-%08lld.safetensors", (long long)step);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    milnce_checkpoint ck = {.params = &m->ptab, .param_block = m->params, .buffers = &m->btab,
                            .buffer_block = m->buffers, .optim = opt, .step = step, .config = yaml};
    if ((ret = milnce_checkpoint_save(path, &ck, NULL, 0, err)) < 0) return ret;
    char line[80];
    snprintf(line, sizeof line, "%s\n", name);
    snprintf(latest, sizeof latest, "%s/latest", dir);
    if ((ret = milnce_write_file_atomic(latest, line, strlen(line), err)) < 0) return ret;
    snprintf(written, cap, "%s", path);
    prune(dir, cfg->train.keep_last, lg);
    return 0;
}

/* Keeps the log lines of steps <= step (a resumed run rewrites what came after). */
static int trim_log(const char *path, int64_t step, milnce_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *buf = NULL, *line = NULL;
    size_t len = 0, cap = 0;
    FILE *mem = open_memstream(&buf, &len);
    while (getline(&line, &cap, f) > 0) {
        const char *s = strstr(line, "\"step\":");
        if (s && strtoll(s + 7, NULL, 10) > step) continue;
        fputs(line, mem);
    }
    free(line);
    fclose(f);
    fclose(mem);
    int ret = milnce_write_file_atomic(path, buf ? buf : "", len, err);
    free(buf);
    return ret;
}

static int load_vocab(const milnce_config *cfg, milnce_vocab *v, char *used, size_t cap, milnce_error *err) {
    if (cfg->model.vocab[0]) snprintf(used, cap, "%s", cfg->model.vocab);
    else if (is_dir(cfg->data.shards)) snprintf(used, cap, "%s/vocab.txt", cfg->data.shards);
    else {
        snprintf(used, cap, "%s", cfg->data.shards);
        char *slash = strrchr(used, '/');
        if (slash) strcpy(slash + 1, "vocab.txt");
        else snprintf(used, cap, "vocab.txt");
    }
    int ret = milnce_vocab_load(used, v, err);
    if (ret < 0) milnce_error_prefix(err, "vocabulary (model.vocab, or vocab.txt beside the shards)");
    return ret;
}

int milnce_train_run(const milnce_train_opts *o, milnce_train_result *res, milnce_error *err) {
    const milnce_config *cfg = o->cfg;
    milnce_dist solo = {0, 1, 0};
    const milnce_dist *d = o->dist ? o->dist : &solo;
    memset(res, 0, sizeof *res);
    int ret = 0;
    milnce_vocab vocab = {0};
    milnce_model *m = NULL;
    milnce_loader *ld = NULL;
    milnce_optim opt = {0};
    float *Vg = NULL, *Tg = NULL, *dV = NULL, *dT = NULL;
    uint8_t *maskg = NULL;
    char *yaml = NULL;
    FILE *log = NULL;
    char vocab_path[4200];

    /* ---- everything that can be wrong with the config or the data, before any work ---- */
    if ((ret = milnce_config_validate(cfg, err)) < 0) return ret;
    if (!cfg->data.shards[0]) return milnce_error_set(err, MILNCE_ERR_INVALID, "key data.shards: no training shards given");
    if (cfg->train.batch_size % d->world != 0)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "key train.batch_size: %d is not divisible by the %d ranks", cfg->train.batch_size, d->world);
    if (cfg->train.sync_bn && d->world > 1)
        return milnce_error_set(err, MILNCE_ERR_UNSUPPORTED, "key train.sync_bn: synchronised BatchNorm is not implemented; use train.freeze_bn or per-rank statistics");
    struct stat sst;
    if (stat(cfg->data.shards, &sst) < 0)
        return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "key data.shards: %s: %s", cfg->data.shards, strerror(errno));
    int B = cfg->train.batch_size / d->world, Bg = cfg->train.batch_size;
    if ((ret = load_vocab(cfg, &vocab, vocab_path, sizeof vocab_path, err)) < 0) goto end;
    milnce_loader_opts lo;
    milnce_loader_opts_from_config(&lo, cfg);
    lo.batch_size = B;
    lo.rank = d->rank;
    lo.world = d->world;
    lo.lg = o->lg;
    int K = milnce_window_bag_size(&lo.window);
    milnce_model_cfg mc;
    milnce_train_model_cfg(cfg, (int)vocab.n + 1, B * K > B ? B * K : B, &mc);
    mc.video.max_batch = B;
    if ((ret = milnce_model_create(&m, &mc, err)) < 0) goto end;
    milnce_model_init(m, (uint64_t)cfg->train.seed);
    if (cfg->model.word2vec[0]) {
        milnce_wordvec wv;
        float *mat = NULL;
        size_t found = 0;
        if ((ret = milnce_wordvec_load(cfg->model.word2vec, MILNCE_WORDVEC_AUTO, 0, &wv, err)) < 0) {
            milnce_error_prefix(err, "key model.word2vec");
            goto end;
        }
        if (wv.dim != cfg->model.word_dim) {
            ret = milnce_error_set(err, MILNCE_ERR_INVALID, "key model.word_dim: %d, but %s has %d-d vectors",
                                   cfg->model.word_dim, cfg->model.word2vec, wv.dim);
            milnce_wordvec_free(&wv);
            goto end;
        }
        ret = milnce_wordvec_matrix_for(&wv, &vocab, &mat, &found, err);
        milnce_wordvec_free(&wv);
        if (ret < 0) goto end;
        const milnce_tensor_desc *td;
        float *w = milnce_model_tensor(m, "text_module.word_embd.weight", &td);
        memcpy(w, mat, td->count * sizeof *w);
        free(mat);
        milnce_log(o->lg, MILNCE_LOG_INFO, "word vectors for %zu of %zu words from %s", found, vocab.n, cfg->model.word2vec);
    }
    lo.start_batch = 0;
    /* ---- resume ---- */
    char ckpath[4400] = "";
    milnce_optim_config oc = milnce_optim_defaults();
    oc.kind = strcmp(cfg->train.optimizer, "sgd") == 0 ? MILNCE_OPTIM_SGD
            : cfg->train.decoupled_wd ? MILNCE_OPTIM_ADAMW : MILNCE_OPTIM_ADAM;
    oc.lr = cfg->train.lr;
    oc.weight_decay = cfg->train.weight_decay;
    oc.momentum = oc.kind == MILNCE_OPTIM_SGD ? cfg->train.momentum : 0;
    oc.clip_norm = cfg->train.grad_clip;
    oc.warmup_steps = cfg->train.warmup_steps;
    if ((ret = milnce_loader_open(&ld, &lo, err)) < 0) goto end;
    int64_t per_epoch = milnce_loader_batches_per_epoch(ld);
    int64_t total = cfg->train.max_steps > 0 ? cfg->train.max_steps : per_epoch * cfg->train.epochs;
    oc.total_steps = per_epoch * cfg->train.epochs;
    if ((ret = milnce_optim_init(&opt, &oc, m->ptab.total, err)) < 0) goto end;
    if (mc.text.frozen) { /* word vectors from word2vec stay as loaded, weight decay included */
        int ti = milnce_params_find(&m->ptab, "text_module.word_embd.weight");
        if (ti >= 0) {
            opt.frozen_begin = m->ptab.t[ti].offset;
            opt.frozen_end = m->ptab.t[ti].offset + m->ptab.t[ti].count;
        }
    }
    if (o->resume) {
        milnce_train_latest(cfg->train.out_dir, ckpath, sizeof ckpath);
        if (ckpath[0]) {
            milnce_checkpoint ck = {.params = &m->ptab, .param_block = m->params, .buffers = &m->btab,
                                    .buffer_block = m->buffers, .optim = &opt};
            if ((ret = milnce_checkpoint_load(ckpath, &ck, NULL, NULL, err)) < 0) goto end;
            opt.step = ck.step;
            milnce_log(o->lg, MILNCE_LOG_INFO, "resuming from %s (step %lld)", ckpath, (long long)ck.step);
            /* The loader must start at the resumed batch: reopen it there. */
            milnce_loader_close(&ld);
            lo.start_batch = ck.step;
            if ((ret = milnce_loader_open(&ld, &lo, err)) < 0) goto end;
        } else {
            milnce_log(o->lg, MILNCE_LOG_INFO, "no checkpoint in %s/checkpoints: starting from scratch", cfg->train.out_dir);
        }
    }
    /* Every rank starts from rank 0's weights (identical anyway for the same seed). */
    if ((ret = milnce_dist_bcast_f32(d, m->params, m->ptab.total, err)) < 0) goto end;
    int E = cfg->model.embed_dim;
    Vg = malloc(sizeof *Vg * (size_t)Bg * E);
    Tg = malloc(sizeof *Tg * (size_t)Bg * K * E);
    dV = malloc(sizeof *dV * (size_t)B * E);
    dT = malloc(sizeof *dT * (size_t)B * K * E);
    maskg = malloc((size_t)Bg * K);
    if (!Vg || !Tg || !dV || !dT || !maskg) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "embeddings"); goto end; }
    /* ---- outputs ---- */
    char logpath[4200];
    snprintf(logpath, sizeof logpath, "%s/log.jsonl", cfg->train.out_dir);
    if (d->rank == 0) {
        if ((ret = milnce_mkdirs(cfg->train.out_dir, err)) < 0) goto end;
        char p[4200];
        snprintf(p, sizeof p, "%s/config.yaml", cfg->train.out_dir);
        if ((ret = milnce_config_write(cfg, p, err)) < 0) goto end;
        if (o->resume && (ret = trim_log(logpath, opt.step, err)) < 0) goto end;
        if (!o->resume) unlink(logpath);
        log = fopen(logpath, "a");
        if (!log) { ret = milnce_error_set(err, MILNCE_ERR_IO, "%s: %s", logpath, strerror(errno)); goto end; }
    }
    yaml = milnce_config_to_yaml(cfg);
    milnce_loss_opts lopt = {.temperature = (float)cfg->train.temperature, .normalize = cfg->train.normalize};
    double t_start = now_s(), t_last = t_start;
    int64_t clips = 0;
    for (int64_t step = opt.step; step < total; step++) {
        if (o->cancel && *o->cancel) {
            if (d->rank == 0 && (ret = save_checkpoint(cfg, m, &opt, step, yaml, res->checkpoint, sizeof res->checkpoint, o->lg, err)) < 0) goto end;
            ret = milnce_error_set(err, MILNCE_ERR_INTERRUPTED, "stopped by a signal at step %lld; checkpoint %s",
                                   (long long)step, res->checkpoint);
            goto end;
        }
        milnce_batch *b;
        if ((ret = milnce_loader_next(ld, &b, err)) < 0) goto end;
        milnce_model_zero_grad(m);
        const float *V, *T;
        int train_bn = !cfg->train.freeze_bn;
        if ((ret = milnce_model_video_forward(m, b->video, B, train_bn, &V, NULL, err)) < 0 ||
            (ret = milnce_model_text_forward(m, b->text, B * K, &T, err)) < 0 ||
            (ret = milnce_dist_allgather_f32(d, V, Vg, (size_t)B * E, err)) < 0 ||
            (ret = milnce_dist_allgather_f32(d, T, Tg, (size_t)B * K * E, err)) < 0 ||
            (ret = milnce_dist_allgather_u8(d, b->mask, maskg, (size_t)B * K, err)) < 0) {
            milnce_loader_release(ld, b);
            goto end;
        }
        int epoch = b->epoch;
        float loss;
        memset(dV, 0, sizeof *dV * (size_t)B * E);
        memset(dT, 0, sizeof *dT * (size_t)B * K * E);
        /* The batch stays ours until the backward pass is done: the encoders' backward reads
         * the clip and the word ids they were given (a released slot is refilled at once). */
        ret = milnce_loss_forward_backward(&loss, dV, dT, Vg, Tg, maskg, Bg, K, E, d->rank * B, B, &lopt, err);
        if (ret < 0) milnce_error_prefix(err, "step %lld", (long long)(step + 1));
        if (ret == 0 && o->inject_nan_step == step + 1) loss = NAN;
        if (ret == 0 && !isfinite(loss))
            ret = milnce_error_set(err, MILNCE_ERR_NUMERIC, "step %lld: loss is %g; stopping (the last good checkpoint is kept)", (long long)(step + 1), loss);
        if (ret == 0 && (ret = milnce_model_text_backward(m, dT, err)) == 0) ret = milnce_model_video_backward(m, dV, NULL, err);
        milnce_loader_release(ld, b);
        if (ret < 0) goto end;
        if ((ret = milnce_dist_allreduce_sum_f32(d, m->grads, m->ptab.total, err)) < 0) goto end;
        double lr, gnorm;
        if ((ret = milnce_optim_step(&opt, m->params, m->grads, &lr, &gnorm, err)) < 0) {
            milnce_error_prefix(err, "step %lld: non-finite gradient; stopping (the last good checkpoint is kept)", (long long)(step + 1));
            goto end;
        }
        clips += Bg;
        double t = now_s();
        double cps = Bg / (t - t_last > 1e-9 ? t - t_last : 1e-9);
        t_last = t;
        if (res->steps == 0) res->first_loss = loss;
        res->last_loss = loss;
        res->steps++;
        double wait = milnce_loader_wait_fraction(ld);
        if (d->rank == 0 && ((step + 1) % cfg->train.log_every == 0 || step + 1 == total)) {
            fprintf(log, "{\"step\":%lld,\"epoch\":%d,\"loss\":%.9g,\"lr\":%.9g,\"clips_per_s\":%.4g,\"data_wait\":%.4f,\"grad_norm\":%.6g,\"time\":%.3f}\n",
                    (long long)(step + 1), epoch, loss, lr, cps, wait, gnorm, t - t_start);
            fflush(log);
        }
        if (o->progress) {
            milnce_train_progress p = {step + 1, total, epoch, loss, lr, cps, wait, t - t_start};
            o->progress(o->progress_user, &p);
        }
        if (d->rank == 0 && ((step + 1) % cfg->train.checkpoint_every == 0 || step + 1 == total))
            if ((ret = save_checkpoint(cfg, m, &opt, step + 1, yaml, res->checkpoint, sizeof res->checkpoint, o->lg, err)) < 0) goto end;
    }
    double el = now_s() - t_start;
    res->clips_per_s = el > 0 ? clips / el : 0;
    res->data_wait = milnce_loader_wait_fraction(ld);
    if (!res->checkpoint[0]) milnce_train_latest(cfg->train.out_dir, res->checkpoint, sizeof res->checkpoint);
end:
    if (log) fclose(log);
    free(yaml);
    free(Vg); free(Tg); free(dV); free(dT); free(maskg);
    milnce_loader_close(&ld);
    milnce_optim_free(&opt);
    milnce_model_free(&m);
    milnce_vocab_free(&vocab);
    return ret;
}
