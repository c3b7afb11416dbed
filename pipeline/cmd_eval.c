/* milnce eval: clip<->text retrieval of a checkpoint on a YouCook2 / MSR-VTT style set or on
 * held-out shards (see pipeline/eval.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "eval.h"

static void help(void) {
    printf("usage: milnce eval --checkpoint CKPT [--config FILE] [--set section.key=value ...] [--out DIR]\n"
           "                   [--examples N] [--no-thumbnails] [--save-embeddings]\n\n"
           "Clip<->text retrieval (R@1/5/10, median and mean rank, both directions, next to chance).\n"
           "CKPT is a checkpoint file or a run folder (its checkpoints/latest). The model and\n"
           "data.num_frames/fps/size come from the checkpoint's stored config; eval.* from it,\n"
           "overridden by --config / --set:\n"
           "  eval.format       youcook2 (CSV end,start,task,text,video_id), msrvtt (CSV\n"
           "                    key,vid_key,video_id,sentence; whole videos) or shards (eval.csv =\n"
           "                    folder of held-out shards)\n"
           "  eval.csv, eval.video_root (videos <root>/<id>.<ext> or <root>/<task>/<id>.<ext>)\n"
           "  eval.num_windows  windows per clip, embeddings averaged (reference protocol)\n"
           "  eval.max_words, eval.normalize, eval.batch_size\n"
           "Rows whose video is missing are dropped and counted (warning per video).\n"
           "Writes DIR/eval.json and DIR/thumbs/ (DIR defaults to the checkpoint's run folder);\n"
           "--save-embeddings adds DIR/eval_text.npy, eval_video.npy, eval_ids.txt.\n"
           "Exit: 0 ok, 1 error, 2 usage.\n");
}

typedef struct prog { int tty; } prog;

static void progress(void *user, size_t done, size_t total) {
    prog *p = user;
    if (p->tty && (done % 8 == 0 || done == total)) {
        fprintf(stderr, "\reval: clips %zu/%zu", done, total);
        if (done == total) fputc('\n', stderr);
    }
}

static void row(const char *name, const milnce_recall *r) {
    printf("%-12s %7.2f %7.2f %7.2f %8.1f %8.1f\n", name, r->r1, r->r5, r->r10, r->median_rank, r->mean_rank);
}

int milnce_cmd_eval(int argc, char **argv) {
    if (milnce_wants_help(argc, argv)) {
        help();
        return MILNCE_EXIT_OK;
    }
    const char *ckpt = NULL, *config = NULL, *out = NULL;
    const char **sets = calloc((size_t)argc, sizeof *sets);
    int nsets = 0, examples = 0, thumbs = 1, save = 0;
    if (!sets) return MILNCE_EXIT_ERROR;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--checkpoint") == 0 && i + 1 < argc) ckpt = argv[++i];
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) config = argv[++i];
        else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) sets[nsets++] = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) out = argv[++i];
        else if (strcmp(argv[i], "--examples") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 0 || v > 1000) {
                fprintf(stderr, "milnce eval: --examples wants a count in [0, 1000], got '%s'\n", argv[i]);
                free(sets);
                return MILNCE_EXIT_USAGE;
            }
            examples = v == 0 ? -1 : (int)v;
        } else if (strcmp(argv[i], "--no-thumbnails") == 0) thumbs = 0;
        else if (strcmp(argv[i], "--save-embeddings") == 0) save = 1;
        else {
            fprintf(stderr, "milnce eval: unexpected argument '%s' (see --help)\n", argv[i]);
            free(sets);
            return MILNCE_EXIT_USAGE;
        }
    }
    if (!ckpt) {
        fprintf(stderr, "milnce eval: --checkpoint is required (see --help)\n");
        free(sets);
        return MILNCE_EXIT_USAGE;
    }
    milnce_logger lg = milnce_stderr_logger("eval");
    milnce_error err = {0};
    milnce_eval_load_opts lo = {.checkpoint = ckpt, .config = config, .sets = sets, .nsets = nsets,
                                .with_video = 1, .with_text = 1, .lg = &lg};
    milnce_eval_model *m = NULL;
    if (milnce_cmd_check_config("eval", config, sets, nsets) < 0) {
        free(sets);
        return MILNCE_EXIT_USAGE;
    }
    int ret = milnce_eval_model_load(&m, &lo, &err);
    free(sets);
    if (ret < 0) { /* the checkpoint, its stored config, the vocabulary: file content */
        fprintf(stderr, "milnce eval: %s\n", err.msg);
        return MILNCE_EXIT_ERROR;
    }
    prog ps = {isatty(2)};
    milnce_eval_opts eo = {.out_dir = out, .num_examples = examples, .thumbnails = thumbs, .save_embeddings = save,
                           .lg = &lg, .progress = progress, .progress_user = &ps};
    milnce_eval_result r;
    ret = milnce_eval_run(m, &eo, &r, &err);
    milnce_eval_model_free(&m);
    if (ret < 0) {
        fprintf(stderr, "milnce eval: %s\n", err.msg);
        return MILNCE_EXIT_ERROR;
    }
    printf("eval: %s (%s): %zu queries", r.dataset, r.format, r.n);
    if (r.dropped_queries) printf(", %zu dropped (%zu missing or unreadable videos)", r.dropped_queries, r.missing_videos);
    printf("\n%-12s %7s %7s %7s %8s %8s\n", "", "R@1", "R@5", "R@10", "MedR", "MeanR");
    row("text->video", &r.t2v);
    row("video->text", &r.v2t);
    printf("%-12s %7.2f %7.2f %7.2f %8.1f %8.1f\n", "chance", r.chance_r1, r.chance_r5, r.chance_r10,
           (r.n + 1) / 2.0, (r.n + 1) / 2.0);
    printf("ranks: 1 + items scoring strictly higher (ties in the query's favour); recalls in %%\n");
    printf("wrote %s\n", r.json_path);
    milnce_eval_result_free(&r);
    return MILNCE_EXIT_OK;
}
