/* milnce train: one machine, or many under mpirun/srun (see pipeline/train.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "dist.h"
#include "train.h"


static void help(void) {
    printf("usage: milnce train --config FILE [--set section.key=value ...] [--resume | --overwrite] [--stop-at STEP]\n\n"
           "Trains the video and text encoders with MIL-NCE on the shards of data.shards.\n"
           "Writes train.out_dir/{config.yaml, log.jsonl, checkpoints/}. SIGINT/SIGTERM save a\n"
           "checkpoint and stop; --resume continues from the latest one exactly.\n"
           "A folder that already holds a run is refused unless --resume (continue it) or\n"
           "--overwrite (move its config.yaml, log.jsonl and checkpoints/ to OUT_DIR.old-N).\n"
           "--stop-at STEP checkpoints and stops once global step STEP is done (a job's time\n"
           "limit); the lr schedule still spans the whole run and --resume continues it.\n"
           "Under mpirun -np R, each rank loads train.batch_size / R clips of every global batch.\n");
}

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

int milnce_cmd_train(int argc, char **argv) {
    if (milnce_wants_help(argc, argv)) {
        help();
        return MILNCE_EXIT_OK;
    }
    milnce_config cfg;
    milnce_error err = {0};
    milnce_config_defaults(&cfg);
    const char *config = NULL;
    int resume = 0, overwrite = 0;
    long long stop_at = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) config = argv[++i];
        else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) i++;
        else if (strcmp(argv[i], "--resume") == 0) resume = 1;
        else if (strcmp(argv[i], "--overwrite") == 0) overwrite = 1;
        else if (strcmp(argv[i], "--stop-at") == 0 && i + 1 < argc) {
            char *e;
            stop_at = strtoll(argv[++i], &e, 10);
            if (*e || stop_at < 1) {
                fprintf(stderr, "milnce train: --stop-at wants a step >= 1, not '%s'\n", argv[i]);
                return MILNCE_EXIT_USAGE;
            }
        }
        else {
            fprintf(stderr, "milnce train: unexpected argument '%s' (see --help)\n", argv[i]);
            return MILNCE_EXIT_USAGE;
        }
    }
    if (resume && overwrite) {
        fprintf(stderr, "milnce train: --resume continues the run in the folder, --overwrite moves it aside: give one\n");
        return MILNCE_EXIT_USAGE;
    }
    if (config && milnce_config_load(&cfg, config, &err) < 0) {
        fprintf(stderr, "milnce train: %s\n", err.msg);
        return MILNCE_EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && milnce_config_set(&cfg, argv[++i], &err) < 0) {
            fprintf(stderr, "milnce train: %s\n", err.msg);
            return MILNCE_EXIT_USAGE;
        }
    milnce_dist d;
    if (milnce_dist_init(&d, &argc, &argv, &err) < 0) {
        fprintf(stderr, "milnce train: %s\n", err.msg);
        return MILNCE_EXIT_ERROR;
    }
    milnce_logger lg = milnce_rank_logger("train", d.rank);
    prog ps = {isatty(2), -1e9};
    milnce_train_opts o = {.cfg = &cfg, .dist = &d, .resume = resume, .overwrite = overwrite, .stop_at = stop_at, .cancel = milnce_stop_on_signals(), .lg = &lg,
                           .progress = d.rank == 0 ? progress : NULL, .progress_user = &ps};
    const char *nan_step = getenv("MILNCE_TEST_NAN_STEP"); /* for the test of the NaN stop */
    if (nan_step) o.inject_nan_step = atoll(nan_step);
    milnce_train_result r;
    int ret = milnce_train_run(&o, &r, &err);
    milnce_dist_finalize(&d);
    if (ret < 0) {
        fprintf(stderr, "milnce train: %s\n", err.msg);
        return ret == MILNCE_ERR_INVALID || ret == MILNCE_ERR_RANGE ? MILNCE_EXIT_USAGE : MILNCE_EXIT_ERROR;
    }
    if (d.rank == 0)
        printf("train: %lld steps, loss %.4f -> %.4f, %.1f clips/s, data wait %.0f%%, checkpoint %s\n",
               (long long)r.steps, r.first_loss, r.last_loss, r.clips_per_s, 100 * r.data_wait, r.checkpoint);
    return MILNCE_EXIT_OK;
}
