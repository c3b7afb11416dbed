#include "train.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "fileutil.h"
#include "loader.h"
#include "layers.h"
#include "loss.h"
#include "model.h"
#include "optim.h"
#include "run_lock.h"
#include "run_model.h"
#include "train_step.h"
#include "vocab.h"
#include "vocab_io.h"
#include "wordvec.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Keeps the newest keep checkpoints (names sort by step), and always the one `latest` names
 * (keep_name), whatever its age. */
static void prune(const char *dir, int keep, const char *keep_name, const milnce_logger *lg) {
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
        if (strcmp(names[i], keep_name) == 0) continue;
        char p[MILNCE_PATH_MAX];
        if (milnce_path(p, sizeof p, NULL, "%s/%s", dir, names[i]) < 0) continue; /* dir was built to fit */
        if (unlink(p) < 0) milnce_log(lg, MILNCE_LOG_WARN, "cannot remove old checkpoint %s: %s", p, strerror(errno));
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

static int save_checkpoint(const milnce_config *cfg, milnce_model *m, milnce_optim *opt, const milnce_vocab *vocab,
                           int64_t step, const char *yaml, char *written, size_t cap, const milnce_logger *lg, milnce_error *err) {
    char dir[MILNCE_PATH_MAX], path[MILNCE_PATH_MAX], latest[MILNCE_PATH_MAX], name[64];
    int ret;
    if ((ret = milnce_path(dir, sizeof dir, err, "%s/checkpoints", cfg->train.out_dir)) < 0) return ret;
    if ((ret = milnce_mkdirs(dir, err)) < 0) return ret;
    snprintf(name, sizeof name, "step-%08lld.safetensors", (long long)step);
    if ((ret = milnce_path(path, sizeof path, err, "%s/%s", dir, name)) < 0) return ret;
    milnce_checkpoint ck = {.params = &m->ptab, .param_block = m->params, .buffers = &m->btab,
                            .buffer_block = m->buffers, .optim = opt, .step = step, .config = yaml,
                            .vocab = vocab};
    if ((ret = milnce_checkpoint_save(path, &ck, NULL, 0, err)) < 0) return ret;
    char line[80];
    snprintf(line, sizeof line, "%s\n", name);
    if ((ret = milnce_path(latest, sizeof latest, err, "%s/latest", dir)) < 0) return ret;
    if ((ret = milnce_write_file_atomic(latest, line, strlen(line), err)) < 0) return ret;
    if ((ret = milnce_path(written, cap, err, "%s", path)) < 0) return ret;
    prune(dir, cfg->train.keep_last, name, lg);
    return 0;
}

/* Keeps the log lines of steps <= step (a resumed run rewrites what came after) and drops a
 * torn last line (no newline: the write of a killed or failed run). */
static int trim_log(const char *path, int64_t step, const milnce_logger *lg, milnce_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *buf = NULL, *line = NULL;
    size_t len = 0, cap = 0;
    FILE *mem = open_memstream(&buf, &len);
    ssize_t got;
    while ((got = getline(&line, &cap, f)) > 0) {
        if (line[got - 1] != '\n') {
            milnce_log(lg, MILNCE_LOG_WARN, "%s: dropped a torn last line (%zd bytes) left by an earlier run", path, got);
            continue;
        }
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

/* vocab.txt beside the shards: in the folder, or beside the one .tar given. */
static int shards_vocab_path(const char *shards, char *out, size_t cap, milnce_error *err) {
    if (milnce_is_dir(shards)) return milnce_path(out, cap, err, "%s/vocab.txt", shards);
    const char *slash = strrchr(shards, '/');
    return milnce_path(out, cap, err, "%.*svocab.txt", slash ? (int)(slash + 1 - shards) : 0, shards);
}

/* What a run writes into its folder: a folder with any of these holds a run. */
static const char *const run_entries[] = {"config.yaml", "log.jsonl", "checkpoints"};
enum { NRUN_ENTRIES = sizeof run_entries / sizeof run_entries[0] };

static int holds_run(const char *dir) {
    for (int i = 0; i < NRUN_ENTRIES; i++) {
        char p[MILNCE_PATH_MAX];
        struct stat st;
        if (milnce_path(p, sizeof p, NULL, "%s/%s", dir, run_entries[i]) == 0 && lstat(p, &st) == 0) return 1;
    }
    return 0;
}

/* Moves the run's entries of dir into <dir>.old-N (N = 1, 2, ... the first free name), so a new
 * run starts clean and nothing of the old one is lost. Other files (a demo's corpus, eval
 * output) stay where they are. */
static int move_run_aside(const char *dir, char *moved, size_t cap, milnce_error *err) {
    char base[MILNCE_PATH_MAX];
    int ret = milnce_path(base, sizeof base, err, "%s", dir);
    if (ret < 0) return ret;
    for (size_t n = strlen(base); n > 1 && base[n - 1] == '/'; n--) base[n - 1] = '\0';
    for (int n = 1;; n++) {
        if ((ret = milnce_path(moved, cap, err, "%s.old-%d", base, n)) < 0) return ret;
        if (mkdir(moved, 0755) == 0) break;
        if (errno != EEXIST || n >= 1000000)
            return milnce_error_set(err, MILNCE_ERR_IO, "moving the earlier run aside: %s: %s", moved, strerror(errno));
    }
    for (int i = 0; i < NRUN_ENTRIES; i++) {
        char from[MILNCE_PATH_MAX], to[MILNCE_PATH_MAX];
        struct stat st;
        if ((ret = milnce_path(from, sizeof from, err, "%s/%s", base, run_entries[i])) < 0 ||
            (ret = milnce_path(to, sizeof to, err, "%s/%s", moved, run_entries[i])) < 0)
            return ret;
        if (lstat(from, &st) < 0) continue;
        if (rename(from, to) < 0)
            return milnce_error_set(err, MILNCE_ERR_IO, "moving the earlier run aside: %s -> %s: %s", from, to, strerror(errno));
    }
    return 0;
}

/* Rank 0: locks the run folder for the run's lifetime, then refuses a folder holding a run
 * unless it is resumed or moved aside. */
static int claim_out_dir(const milnce_train_opts *o, milnce_run_lock *lock, milnce_error *err) {
    const char *dir = o->cfg->train.out_dir;
    int ret = milnce_run_lock_take(lock, dir, ".lock", err);
    if (ret < 0) return milnce_error_prefix(err, "key train.out_dir");
    if (o->resume || !holds_run(dir)) return 0;
    if (!o->overwrite)
        return milnce_error_set(err, MILNCE_ERR_INVALID,
                                "key train.out_dir: %s already holds a run (config.yaml, log.jsonl or checkpoints/): "
                                "--resume continues it, --overwrite moves it aside to %s.old-N (nothing is deleted)",
                                dir, dir);
    char moved[MILNCE_PATH_MAX];
    if ((ret = move_run_aside(dir, moved, sizeof moved, err)) < 0) return ret;
    milnce_log(o->lg, MILNCE_LOG_INFO, "moved the earlier run in %s to %s", dir, moved);
    return 0;
}

/* Appends one whole line to the log (fd opened O_APPEND, *size its length): one write(); a
 * failed or short write is cut back to the last whole line, so the file never ends torn. */
static int log_append(int fd, off_t *size, const char *path, const char *line, size_t n, milnce_error *err) {
    size_t done = 0;
    int e = 0;
    while (done < n) { /* a short write is retried once more for the reason it stopped */
        ssize_t k = write(fd, line + done, n - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) { e = k < 0 ? errno : EIO; break; }
        done += (size_t)k;
    }
    if (done == n) {
        *size += (off_t)n;
        return 0;
    }
    if (done > 0 && ftruncate(fd, *size) < 0) { /* the next resume drops the torn line */ }
    return milnce_error_set(err, MILNCE_ERR_IO, "%s: cannot append a log line: %s", path, strerror(e));
}

/* Ranks agree on stopping: the sum over ranks of each flag (a signal seen, rank 0's log failed). */
static int agree_stop(const milnce_dist *d, int cancel, int failed, int *any_cancel, int *any_failed, milnce_error *err) {
    double f[2] = {cancel, failed};
    int ret = milnce_dist_allreduce_sum_f64(d, f, 2, err);
    *any_cancel = f[0] > 0;
    *any_failed = f[1] > 0;
    return ret;
}

/* train.sync_bn: BatchNorm's batch statistics summed over the ranks (layers.h). */
static int bn_allreduce(void *user, double *buf, size_t n) {
    return milnce_dist_allreduce_sum_f64(user, buf, n, NULL);
}

static int load_vocab(const milnce_config *cfg, milnce_vocab *v, char *used, size_t cap, milnce_error *err) {
    int ret = cfg->model.vocab[0] ? milnce_path(used, cap, err, "%s", cfg->model.vocab)
                                  : shards_vocab_path(cfg->data.shards, used, cap, err);
    if (ret == 0) ret = milnce_vocab_load(used, v, err);
    if (ret < 0) return milnce_error_prefix(err, "vocabulary (model.vocab, or vocab.txt beside the shards)");
    if (v->n == 0)
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "vocabulary %s is empty (one word per line expected)", used);
    /* A given vocabulary must keep the ids of the one the shards were made with (vocab.txt
     * beside them): the same words first, in the same order. */
    if (!cfg->model.vocab[0]) return 0;
    char theirs[MILNCE_PATH_MAX];
    if ((ret = shards_vocab_path(cfg->data.shards, theirs, sizeof theirs, err)) < 0) return ret;
    struct stat a, b;
    if (stat(theirs, &b) < 0 || (stat(used, &a) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)) return 0;
    milnce_vocab sv = {0};
    if ((ret = milnce_vocab_load(theirs, &sv, err)) < 0) return milnce_error_prefix(err, "the shards' vocabulary");
    size_t bad = 0;
    if (sv.n > v->n) bad = v->n + 1;
    for (size_t id = 1; id <= sv.n && id <= v->n && !bad; id++)
        if (sv.lens[id] != v->lens[id] || memcmp(sv.words[id], v->words[id], sv.lens[id]) != 0) bad = id;
    if (bad)
        ret = milnce_error_set(err, MILNCE_ERR_INVALID, "key model.vocab: %s (%zu words) does not keep the ids of the "
                               "shards' vocabulary %s (%zu words): id %zu is '%.64s' there and '%.64s' here",
                               used, v->n, theirs, sv.n, bad, bad <= sv.n ? sv.words[bad] : "",
                               bad <= v->n ? v->words[bad] : "(none)");
    milnce_vocab_free(&sv);
    return ret;
}

/* Everything a run holds from its setup to its end. */
typedef struct train_run {
    const milnce_train_opts *o;
    const milnce_config *cfg;
    const milnce_dist *d;
    milnce_dist solo;
    milnce_run_lock lock;
    milnce_vocab vocab;
    char vocab_path[MILNCE_PATH_MAX];
    milnce_loader_opts lo;
    milnce_loader *ld;
    milnce_model *m;
    milnce_bn_sync bn_sync; /* the model points at it (train.sync_bn) */
    milnce_optim opt;
    milnce_train_stepper st;
    int B, K, cat, frozen;  /* clips per rank, sentences per bag, train.loss cat, frozen words */
    int64_t total;          /* steps of the whole run */
    char *yaml;             /* the resolved config, stored in checkpoints */
    int logfd;
    off_t logsize;
    char logpath[MILNCE_PATH_MAX];
    int log_failed;
    milnce_error log_err;
    int64_t last_saved;     /* step of the newest checkpoint on disk, -1 none */
    double t_start, t_last;
    int64_t clips;
} train_run;

/* Everything that can be wrong with the config or the data, before any work. */
static int check_config(const milnce_config *cfg, const milnce_dist *d, milnce_error *err) {
    int ret = milnce_config_validate(cfg, err);
    if (ret < 0) return ret;
    if (!cfg->data.shards[0]) return milnce_error_set(err, MILNCE_ERR_INVALID, "key data.shards: no training shards given");
    if (cfg->train.batch_size % d->world != 0)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "key train.batch_size: %d is not divisible by the %d ranks", cfg->train.batch_size, d->world);
    struct stat sst;
    if (stat(cfg->data.shards, &sst) < 0)
        return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "key data.shards: %s: %s", cfg->data.shards, strerror(errno));
    return 0;
}

/* The run folder: locked and checked by rank 0 before any work; every rank learns the verdict. */
static int claim_run_folder(train_run *r, milnce_error *err) {
    const milnce_dist *d = r->d;
    int bad = d->rank == 0 ? claim_out_dir(r->o, &r->lock, err) < 0 : 0, any_bad = bad, dummy, ret;
    if (d->world > 1) {
        milnce_error e2 = {0};
        if ((ret = agree_stop(d, 0, bad, &dummy, &any_bad, &e2)) < 0) return milnce_error_set(err, ret, "%s", e2.msg);
    }
    if (any_bad)
        return bad ? err->code : milnce_error_set(err, MILNCE_ERR_IO, "rank 0 could not claim the run folder %s", r->cfg->train.out_dir);
    return 0;
}

static void loader_opts(train_run *r) {
    const milnce_config *cfg = r->cfg;
    milnce_loader_opts *lo = &r->lo;
    milnce_loader_opts_from_config(lo, cfg);
    lo->batch_size = r->B;
    if (r->d->rank == 0 && 2 * cfg->data.size <= cfg->data.resize)
        milnce_log(r->o->lg, MILNCE_LOG_WARN, "data.size %d crops %.0f%% of frames resized to data.resize = %d; a data.resize "
                   "near data.size shows the whole picture", cfg->data.size,
                   100.0 * cfg->data.size * cfg->data.size / ((double)cfg->data.resize * cfg->data.resize), cfg->data.resize);
    lo->rank = r->d->rank;
    lo->world = r->d->world;
    lo->lg = r->o->lg;
    lo->vocab_words = (int64_t)r->vocab.n;
    lo->vocab_name = r->vocab_path;
    lo->start_batch = 0;
}

/* model.word2vec: the word embedding table from the vectors of the vocabulary's words. */
static int load_word_vectors(train_run *r, milnce_error *err) {
    const milnce_config *cfg = r->cfg;
    milnce_wordvec wv;
    float *mat = NULL;
    size_t found = 0, nv = r->vocab.n;
    int ret = milnce_wordvec_load(cfg->model.word2vec, MILNCE_WORDVEC_AUTO, 0, &wv, err);
    if (ret < 0) return milnce_error_prefix(err, "key model.word2vec");
    if (wv.dim != cfg->model.word_dim) {
        ret = milnce_error_set(err, MILNCE_ERR_INVALID, "key model.word_dim: %d, but %s has %d-d vectors",
                               cfg->model.word_dim, cfg->model.word2vec, wv.dim);
        milnce_wordvec_free(&wv);
        return ret;
    }
    ret = milnce_wordvec_matrix_for(&wv, &r->vocab, &mat, &found, err);
    milnce_wordvec_free(&wv);
    if (ret < 0) return ret;
    const milnce_tensor_desc *td;
    float *w = milnce_model_tensor(r->m, "text_module.word_embd.weight", &td);
    memcpy(w, mat, td->count * sizeof *w);
    free(mat);
    /* fewer than 90%: most likely a vocabulary/vector mismatch (case, tokenisation), worth a warning */
    int low = found < (size_t)(0.9 * (double)nv);
    milnce_log(r->o->lg, low ? MILNCE_LOG_WARN : MILNCE_LOG_INFO, "word vectors for %zu of %zu words (%.1f%%) from %s%s", found, nv,
               nv ? 100.0 * (double)found / (double)nv : 0.0, cfg->model.word2vec, low ? ": the others keep random vectors" : "");
    return 0;
}

/* Both encoders, initialised from train.seed (and model.word2vec). */
static int build_model(train_run *r, milnce_error *err) {
    const milnce_config *cfg = r->cfg;
    int B = r->B, K = r->K;
    /* train.loss = cat: each bag's sentences are joined into one of K * max_words words (never
     * truncated), embedded once, and scored as a bag of one (Kl = 1). Otherwise Kl = K. */
    r->cat = strcmp(cfg->train.loss, "cat") == 0 && K > 1;
    const int Kl = r->cat ? 1 : K;
    milnce_model_cfg mc;
    milnce_model_cfg_from_config(cfg, (int)r->vocab.n + 1, B * Kl > B ? B * Kl : B, &mc);
    if (r->cat) mc.text.max_words = K * cfg->data.max_words;
    mc.video.max_batch = B;
    r->frozen = mc.text.frozen;
    const char *note;
    int ret = milnce_precision_choose("train.precision", cfg->train.precision,
                                      milnce_bf16_supported(), &mc.ctx.precision, &note, err);
    if (ret < 0) return ret;
    if (note) milnce_log(r->o->lg, MILNCE_LOG_WARN, "train.precision auto: %s", note);
    ret = milnce_model_create(&r->m, &mc, err);
    if (ret < 0) {
        /* The clip's shape comes from the config: say which keys make it too small. */
        if (ret == MILNCE_ERR_INVALID)
            milnce_error_prefix(err, "keys data.num_frames = %d and data.size = %d give a clip the video encoder cannot take",
                                cfg->data.num_frames, cfg->data.size);
        return ret;
    }
    r->bn_sync = (milnce_bn_sync){bn_allreduce, (void *)r->d};
    if (cfg->train.sync_bn && r->d->world > 1 && r->m->video) milnce_s3dg_set_bn_sync(r->m->video, &r->bn_sync);
    milnce_model_init(r->m, (uint64_t)cfg->train.seed);
    return cfg->model.word2vec[0] ? load_word_vectors(r, err) : 0;
}

/* The optimizer of train.*, over a schedule spanning the run's real length: warmup and cosine
 * decay span exactly the steps that will run (max_steps when set), so the lr reaches 0 at the
 * last step and never climbs again. A resumed run derives the same horizon from the same
 * config. Opens the loader (the length depends on its batches per epoch). */
static int build_optim(train_run *r, milnce_error *err) {
    const milnce_config *cfg = r->cfg;
    milnce_optim_config oc = milnce_optim_defaults();
    oc.kind = strcmp(cfg->train.optimizer, "sgd") == 0 ? MILNCE_OPTIM_SGD
            : cfg->train.decoupled_wd ? MILNCE_OPTIM_ADAMW : MILNCE_OPTIM_ADAM;
    oc.lr = cfg->train.lr;
    oc.weight_decay = cfg->train.weight_decay;
    oc.momentum = oc.kind == MILNCE_OPTIM_SGD ? cfg->train.momentum : 0;
    oc.clip_norm = cfg->train.grad_clip;
    oc.warmup_steps = cfg->train.warmup_steps;
    int ret = milnce_loader_open(&r->ld, &r->lo, err);
    if (ret < 0) return ret;
    int64_t per_epoch = milnce_loader_batches_per_epoch(r->ld);
    r->total = cfg->train.max_steps > 0 ? cfg->train.max_steps : per_epoch * cfg->train.epochs;
    oc.total_steps = r->total;
    milnce_model *m = r->m;
    if ((ret = milnce_optim_init(&r->opt, &oc, m->ptab.total, err)) < 0) return ret;
    if (r->frozen) { /* word vectors from word2vec stay as loaded, weight decay included */
        int ti = milnce_params_find(&m->ptab, "text_module.word_embd.weight");
        if (ti >= 0) {
            r->opt.frozen_begin = m->ptab.t[ti].offset;
            r->opt.frozen_end = m->ptab.t[ti].offset + m->ptab.t[ti].count;
        }
    }
    return 0;
}

/* --resume: weights, moments and step from `latest`; the loader restarts at that step's batch. */
static int resume(train_run *r, milnce_error *err) {
    const milnce_config *cfg = r->cfg;
    char ckpath[MILNCE_PATH_MAX] = "";
    int ret = milnce_run_latest_checkpoint(cfg->train.out_dir, ckpath, sizeof ckpath);
    if (ret < 0) return milnce_error_set(err, ret, "%s: checkpoint path too long", cfg->train.out_dir);
    if (!ckpath[0]) {
        milnce_log(r->o->lg, MILNCE_LOG_INFO, "no checkpoint in %s/checkpoints: starting from scratch", cfg->train.out_dir);
        return 0;
    }
    milnce_model *m = r->m;
    milnce_checkpoint ck = {.params = &m->ptab, .param_block = m->params, .buffers = &m->btab,
                            .buffer_block = m->buffers, .optim = &r->opt};
    if ((ret = milnce_checkpoint_load(ckpath, &ck, NULL, NULL, err)) < 0) return ret;
    r->opt.step = ck.step;
    milnce_log(r->o->lg, MILNCE_LOG_INFO, "resuming from %s (step %lld)", ckpath, (long long)ck.step);
    milnce_loader_close(&r->ld);
    r->lo.start_batch = ck.step;
    return milnce_loader_open(&r->ld, &r->lo, err);
}

/* Rank 0: config.yaml, and log.jsonl opened for appending (trimmed to the resumed step). */
static int open_outputs(train_run *r, milnce_error *err) {
    const milnce_config *cfg = r->cfg;
    int ret = milnce_path(r->logpath, sizeof r->logpath, err, "%s/log.jsonl", cfg->train.out_dir);
    if (ret < 0 || r->d->rank != 0) return ret;
    if ((ret = milnce_mkdirs(cfg->train.out_dir, err)) < 0) return ret;
    char p[MILNCE_PATH_MAX];
    if ((ret = milnce_path(p, sizeof p, err, "%s/config.yaml", cfg->train.out_dir)) < 0) return ret;
    if ((ret = milnce_config_write(cfg, p, err)) < 0) return ret;
    if (r->o->resume && (ret = trim_log(r->logpath, r->opt.step, r->o->lg, err)) < 0) return ret;
    r->logfd = open(r->logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    struct stat lst;
    if (r->logfd < 0 || fstat(r->logfd, &lst) < 0) return milnce_error_set(err, MILNCE_ERR_IO, "%s: %s", r->logpath, strerror(errno));
    r->logsize = lst.st_size;
    return 0;
}

/* Setup: config checks, run folder claim, vocabulary, loader, model, optimizer, resume, the
 * step's buffers and the outputs. */
static int setup(train_run *r, milnce_error *err) {
    const milnce_config *cfg = r->cfg;
    int ret;
    if ((ret = check_config(cfg, r->d, err)) < 0) return ret;
    r->B = cfg->train.batch_size / r->d->world;
    if ((ret = claim_run_folder(r, err)) < 0) return ret;
    if ((ret = load_vocab(cfg, &r->vocab, r->vocab_path, sizeof r->vocab_path, err)) < 0) return ret;
    loader_opts(r);
    r->K = milnce_window_bag_size(&r->lo.window);
    if ((ret = build_model(r, err)) < 0 || (ret = build_optim(r, err)) < 0) return ret;
    if (r->o->resume && (ret = resume(r, err)) < 0) return ret;
    /* Every rank starts from rank 0's weights (identical anyway for the same seed). */
    if ((ret = milnce_dist_bcast_f32(r->d, r->m->params, r->m->ptab.total, err)) < 0) return ret;
    milnce_loss_opts lopt = milnce_train_loss_opts(cfg->train.loss, cfg->train.temperature, cfg->train.normalize);
    if ((ret = milnce_train_stepper_init(&r->st, r->m, &r->opt, r->d, r->B, r->K, cfg->data.max_words, r->cat,
                                         !cfg->train.freeze_bn, &lopt, err)) < 0)
        return ret;
    if ((ret = open_outputs(r, err)) < 0) return ret;
    if (!(r->yaml = milnce_config_to_yaml(cfg))) return milnce_error_set(err, MILNCE_ERR_NOMEM, "config");
    r->last_saved = r->opt.step > 0 ? r->opt.step : -1;
    return 0;
}

/* Before step `step` (0-based): stop here on a signal, a failed log write or --stop-at (a
 * checkpoint of the steps done, then out); all ranks decide together so that none waits in a
 * collective alone. Returns 1 to stop cleanly (also at the end of the run), 0 to go on, < 0. */
static int stop_check(train_run *r, int64_t step, milnce_train_result *res, milnce_error *err) {
    const milnce_dist *d = r->d;
    const milnce_train_opts *o = r->o;
    int ret, sig = o->cancel && *o->cancel, any_sig = sig, any_fail = r->log_failed;
    if (d->world > 1 && (ret = agree_stop(d, sig, r->log_failed, &any_sig, &any_fail, err)) < 0) return ret;
    int stop_asked = o->stop_at > 0 && step >= o->stop_at && step < r->total;
    if (step == r->total) return 1;
    if (!any_sig && !any_fail && !stop_asked) return 0;
    milnce_error ce = {0};
    int saved = 0;
    if (d->rank == 0) {
        if (r->last_saved == step) saved = 1;
        else saved = save_checkpoint(r->cfg, r->m, &r->opt, &r->vocab, step, r->yaml, res->checkpoint, sizeof res->checkpoint,
                                     o->lg, any_fail ? &ce : err) == 0;
        if (!saved && !any_fail) return err->code;
    }
    if (any_fail) {
        if (d->rank != 0)
            return milnce_error_set(err, MILNCE_ERR_IO, "rank 0 could not write its log; stopped at step %lld", (long long)step);
        if (saved)
            return milnce_error_set(err, MILNCE_ERR_IO, "%s; stopped after step %lld (checkpoint %s; --resume continues)",
                                    r->log_err.msg, (long long)step, res->checkpoint);
        return milnce_error_set(err, MILNCE_ERR_IO, "%s; stopped after step %lld; the checkpoint failed too: %s",
                                r->log_err.msg, (long long)step, ce.msg);
    }
    if (any_sig)
        return milnce_error_set(err, MILNCE_ERR_INTERRUPTED, "stopped by a signal at step %lld; checkpoint %s",
                                (long long)step, res->checkpoint);
    milnce_log(o->lg, MILNCE_LOG_INFO, "stopped after step %lld of %lld as asked; --resume continues",
               (long long)step, (long long)r->total);
    return 1;
}

/* After step `step` (0-based): the result, log.jsonl (every train.log_every steps and the
 * last), the progress callback, a checkpoint (every train.checkpoint_every and the last). */
static int after_step(train_run *r, int64_t step, int epoch, float loss, double lr, double gnorm,
                      milnce_train_result *res, milnce_error *err) {
    const milnce_config *cfg = r->cfg;
    int Bg = r->st.Bg;
    int64_t done = step + 1;
    r->clips += Bg;
    double t = now_s();
    double cps = Bg / (t - r->t_last > 1e-9 ? t - r->t_last : 1e-9);
    r->t_last = t;
    if (res->steps == 0) res->first_loss = loss;
    res->last_loss = loss;
    res->steps++;
    double wait = milnce_loader_wait_fraction(r->ld);
    if (r->d->rank == 0 && (done % cfg->train.log_every == 0 || done == r->total)) {
        char line[512];
        int n = snprintf(line, sizeof line,
                         "{\"step\":%lld,\"epoch\":%d,\"loss\":%.9g,\"lr\":%.9g,\"clips_per_s\":%.4g,\"data_wait\":%.4f,\"grad_norm\":%.6g,\"time\":%.3f}\n",
                         (long long)done, epoch, loss, lr, cps, wait, gnorm, t - r->t_start);
        if (log_append(r->logfd, &r->logsize, r->logpath, line, (size_t)n, &r->log_err) < 0) r->log_failed = 1;
    }
    if (r->o->progress) {
        milnce_train_progress p = {done, r->total, epoch, loss, lr, cps, wait, t - r->t_start};
        r->o->progress(r->o->progress_user, &p);
    }
    if (r->d->rank == 0 && (done % cfg->train.checkpoint_every == 0 || done == r->total)) {
        int ret = save_checkpoint(cfg, r->m, &r->opt, &r->vocab, done, r->yaml, res->checkpoint, sizeof res->checkpoint, r->o->lg, err);
        if (ret < 0) return ret;
        r->last_saved = done;
    }
    return 0;
}

/* The loop: steps from the resumed one to the run's end (or a stop). */
static int loop(train_run *r, milnce_train_result *res, milnce_error *err) {
    r->t_start = r->t_last = now_s();
    for (int64_t step = r->opt.step; step <= r->total; step++) {
        int ret = stop_check(r, step, res, err);
        if (ret < 0) return ret;
        if (ret > 0) break;
        milnce_batch *b;
        if ((ret = milnce_loader_next(r->ld, &b, err)) < 0) return ret;
        float loss;
        double lr, gnorm;
        int epoch = b->epoch;
        ret = milnce_train_step(&r->st, b, step, r->o->inject_nan_step == step + 1, &loss, &lr, &gnorm, err);
        milnce_loader_release(r->ld, b);
        if (ret < 0 || (ret = after_step(r, step, epoch, loss, lr, gnorm, res, err)) < 0) return ret;
    }
    if (r->log_failed) /* at the last step: its checkpoint is written */
        return milnce_error_set(err, MILNCE_ERR_IO, "%s; the run's last checkpoint is %s", r->log_err.msg, res->checkpoint);
    double el = now_s() - r->t_start;
    res->clips_per_s = el > 0 ? r->clips / el : 0;
    res->data_wait = milnce_loader_wait_fraction(r->ld);
    if (!res->checkpoint[0]) milnce_run_latest_checkpoint(r->cfg->train.out_dir, res->checkpoint, sizeof res->checkpoint);
    return 0;
}

int milnce_train_run(const milnce_train_opts *o, milnce_train_result *res, milnce_error *err) {
    memset(res, 0, sizeof *res);
    train_run *r = calloc(1, sizeof *r);
    if (!r) return milnce_error_set(err, MILNCE_ERR_NOMEM, "train");
    r->o = o;
    r->cfg = o->cfg;
    r->solo = (milnce_dist){0, 1, 0};
    r->d = o->dist ? o->dist : &r->solo;
    r->lock.fd = -1;
    r->logfd = -1;
    int ret = setup(r, err);
    if (ret == 0) ret = loop(r, res, err);
    if (r->logfd >= 0) close(r->logfd);
    milnce_run_lock_release(&r->lock);
    free(r->yaml);
    milnce_train_stepper_free(&r->st);
    milnce_loader_close(&r->ld);
    milnce_optim_free(&r->opt);
    milnce_model_free(&r->m);
    milnce_vocab_free(&r->vocab);
    free(r);
    return ret;
}
