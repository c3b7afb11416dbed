/* milnce train: one machine, or many under mpirun/srun (see pipeline/train.h). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas_select.h"
#include "cmd_opts.h"
#include "commands.h"
#include "config.h"
#include "milnce/context.h"
#include "dist.h"
#include "run_model.h"
#include "train.h"


typedef struct train_args {
    int resume, overwrite;
    long long stop_at;
} train_args;

static int parse_step(const char *v, void *field, milnce_error *err) {
    char *e;
    errno = 0;
    long long s = strtoll(v, &e, 10);
    if (e == v || *e || errno || s < 1) return milnce_error_set(err, MILNCE_ERR_INVALID, "wants a step >= 1, not '%s'", v);
    *(long long *)field = s;
    return 0;
}

#define A(f) offsetof(train_args, f)
static const milnce_opt train_opts[] = {
    {.name = "config", .type = MILNCE_OPT_CONFIG, .meta = "FILE", .help = "YAML configuration file"},
    {.name = "set", .type = MILNCE_OPT_SET, .meta = "section.key=value", .help = "override a key (repeatable)"},
    {.name = "resume", .type = MILNCE_OPT_FLAG, .off = A(resume), .help = "continue from the latest checkpoint of train.out_dir, exactly"},
    {.name = "overwrite", .type = MILNCE_OPT_FLAG, .off = A(overwrite), .help = "move a run already in train.out_dir (config.yaml, log.jsonl,\ncheckpoints/) to OUT_DIR.old-N first, never deleting it"},
    {.name = "stop-at", .type = MILNCE_OPT_CUSTOM, .off = A(stop_at), .meta = "STEP", .parse = parse_step, .help = "checkpoint and stop once global step STEP is done (a job's time\nlimit); the lr schedule still spans the whole run and --resume continues it"},
    {0}};

const milnce_cmd_spec milnce_cmd_train_spec = {
    "train",
    "Trains the video and text encoders with MIL-NCE on the shards of data.shards.\n"
    "Writes train.out_dir/{config.yaml, log.jsonl, checkpoints/}. SIGINT/SIGTERM save a\n"
    "checkpoint and stop; --resume continues from the latest one exactly.\n"
    "A folder that already holds a run is refused unless --resume or --overwrite is given.\n"
    "Under mpirun -np R, each rank loads train.batch_size / R clips of every global batch.",
    train_opts, sizeof(train_args)};

typedef struct prog { int tty; double last; } prog;

static void progress(void *user, const milnce_train_progress *p) {
    prog *s = user;
    double eta = p->step > 0 ? p->elapsed / (double)p->step * (double)(p->total - p->step) : 0;
    if (s->tty) {
        int w = 24, fill = p->total ? (int)(w * p->step / p->total) : w;
        fprintf(stderr, "\r[%.*s%*s] step %lld/%lld  loss %.4f  lr %.2e  %.1f clips/s  wait %.0f%%  ETA %d:%02d ",
                fill, "########################", w - fill, "", (long long)p->step, (long long)p->total, p->loss,
                p->lr, p->clips_per_s, 100 * p->data_wait, (int)(eta / 60), (int)eta % 60);
        if (p->step == p->total) fputc('\n', stderr);
    } else if (p->elapsed - s->last >= 10 || p->step == p->total || p->step == 1) {
        s->last = p->elapsed;
        fprintf(stderr, "train: step %lld/%lld epoch %d loss %.4f lr %.2e %.1f clips/s data wait %.0f%% ETA %.0f s\n",
                (long long)p->step, (long long)p->total, p->epoch, p->loss, p->lr, p->clips_per_s, 100 * p->data_wait, eta);
    }
}

int milnce_cmd_train(int argc, char **argv) { return milnce_cmd_train_hooked(argc, argv, NULL); }

int milnce_cmd_train_hooked(int argc, char **argv, const milnce_train_test_hooks *hooks) {
    train_args a = {0};
    milnce_cli cli;
    int rc = milnce_cli_parse(&milnce_cmd_train_spec, &a, argc, argv, &cli);
    if (rc != MILNCE_CLI_RUN) return rc;
    milnce_config cfg;
    milnce_error err = {0};
    milnce_config_defaults(&cfg);
    int ret = milnce_cli_apply_config(&cli, &cfg, &err);
    milnce_cli_free(&cli);
    if (ret < 0) {
        fprintf(stderr, "milnce train: %s\n", err.msg);
        return MILNCE_EXIT_USAGE;
    }
    int resume = a.resume, overwrite = a.overwrite;
    long long stop_at = a.stop_at;
    if (resume && overwrite) {
        fprintf(stderr, "milnce train: --resume continues the run in the folder, --overwrite moves it aside: give one\n");
        return MILNCE_EXIT_USAGE;
    }
    if (milnce_config_validate(&cfg, &err) < 0) {
        fprintf(stderr, "milnce train: %s\n", err.msg);
        return MILNCE_EXIT_USAGE;
    }
    milnce_dist d;
    if (milnce_dist_init(&d, &argc, &argv, &err) < 0) {
        fprintf(stderr, "milnce train: %s\n", err.msg);
        return MILNCE_EXIT_ERROR;
    }
    milnce_logger lg = milnce_rank_logger("train", d.rank);
    /* First line: the arithmetic and GEMM kernel the run will use (and a pinned slower one) */
    int prec;
    const char *note;
    if (milnce_precision_choose("train.precision", cfg.train.precision, milnce_bf16_supported(),
                                &prec, &note, &err) < 0) {
        fprintf(stderr, "milnce train: %s\n", err.msg);
        milnce_dist_finalize(&d);
        return MILNCE_EXIT_USAGE;
    }
    milnce_log(&lg, MILNCE_LOG_INFO, "precision %s (train.precision %s), GEMMs: %s",
               prec == MILNCE_PREC_BF16 ? "bf16" : "fp32", cfg.train.precision,
               prec == MILNCE_PREC_BF16 ? "milnce AVX512_BF16 kernel" : milnce_blas_core());
    if (milnce_blas_pinned_note()) milnce_log(&lg, MILNCE_LOG_WARN, "%s", milnce_blas_pinned_note());
    prog ps = {isatty(2), -1e9};
    milnce_train_opts o = {.cfg = &cfg, .dist = &d, .resume = resume, .overwrite = overwrite, .stop_at = stop_at, .cancel = milnce_stop_on_signals(), .lg = &lg,
                           .progress = d.rank == 0 ? progress : NULL, .progress_user = &ps};
    if (hooks) o.inject_nan_step = hooks->nan_step;
    milnce_train_result r;
    ret = milnce_train_run(&o, &r, &err);
    milnce_dist_finalize(&d);
    if (ret < 0) {
        fprintf(stderr, "milnce train: %s\n", err.msg);
        return MILNCE_EXIT_ERROR; /* the command line was checked above: this is the data's or the run's */
    }
    if (d.rank == 0)
        printf("train: %lld steps, loss %.4f -> %.4f, %.1f clips/s, data wait %.0f%%, checkpoint %s\n",
               (long long)r.steps, r.first_loss, r.last_loss, r.clips_per_s, 100 * r.data_wait, r.checkpoint);
    return MILNCE_EXIT_OK;
}
