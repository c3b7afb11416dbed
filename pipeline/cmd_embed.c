/* milnce embed: videos or sentences -> PREFIX.npy + PREFIX.ids.txt (see pipeline/eval.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "eval.h"

static void help(void) {
    printf("usage: milnce embed --checkpoint CKPT (--videos LIST | --sentences FILE) --out PREFIX\n"
           "                    [--feature embedding|mixed_5c] [--num-windows N] [--window-seconds S]\n"
           "                    [--average] [--config FILE] [--set section.key=value ...]\n\n"
           "Embeds with the model of CKPT (a checkpoint file or a run folder) in eval mode.\n"
           "  --videos LIST      CSV (video_path, or video_id [+ task] beside the CSV) or a folder;\n"
           "                     each video is cut into windows of data.num_frames frames at data.fps\n"
           "                     (short side data.size, centre crop): consecutive windows every\n"
           "                     --window-seconds (default: one window length) that fit in the video,\n"
           "                     or --num-windows N evenly spaced over it; one row per window, or\n"
           "                     their mean with --average.\n"
           "  --sentences FILE   one sentence per line (eval.max_words tokens).\n"
           "  --feature          embedding (the joint space, model.embed_dim) or mixed_5c (the pooled\n"
           "                     1024*model.width video feature).\n"
           "Writes PREFIX.npy (float32, rows x dim) and PREFIX.ids.txt (one line per row: \"<id>\\t<start s>\"\n"
           "for windows, \"<id>\" with --average, the 1-based line number for sentences).\n"
           "Exit: 0 ok, 1 error, 2 usage.\n");
}

int milnce_cmd_embed(int argc, char **argv) {
    if (milnce_wants_help(argc, argv)) {
        help();
        return MILNCE_EXIT_OK;
    }
    const char *ckpt = NULL, *config = NULL;
    const char **sets = calloc((size_t)argc, sizeof *sets);
    int nsets = 0;
    milnce_embed_opts eo = {0};
    if (!sets) return MILNCE_EXIT_ERROR;
    int usage = 0;
    for (int i = 1; i < argc && !usage; i++) {
        char *end;
        if (strcmp(argv[i], "--checkpoint") == 0 && i + 1 < argc) ckpt = argv[++i];
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) config = argv[++i];
        else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) sets[nsets++] = argv[++i];
        else if (strcmp(argv[i], "--videos") == 0 && i + 1 < argc) eo.videos = argv[++i];
        else if (strcmp(argv[i], "--sentences") == 0 && i + 1 < argc) eo.sentences = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) eo.out_prefix = argv[++i];
        else if (strcmp(argv[i], "--average") == 0) eo.average = 1;
        else if (strcmp(argv[i], "--feature") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "mixed_5c") == 0) eo.mixed5c = 1;
            else if (strcmp(argv[i], "embedding") != 0) {
                fprintf(stderr, "milnce embed: --feature is embedding or mixed_5c, got '%s'\n", argv[i]);
                usage = 1;
            }
        } else if (strcmp(argv[i], "--num-windows") == 0 && i + 1 < argc) {
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 100000) {
                fprintf(stderr, "milnce embed: --num-windows wants a count >= 1, got '%s'\n", argv[i]);
                usage = 1;
            }
            eo.num_windows = (int)v;
        } else if (strcmp(argv[i], "--window-seconds") == 0 && i + 1 < argc) {
            double v = strtod(argv[++i], &end);
            if (*end || !isfinite(v) || v <= 0) {
                fprintf(stderr, "milnce embed: --window-seconds wants seconds > 0, got '%s'\n", argv[i]);
                usage = 1;
            }
            eo.window_seconds = v;
        } else {
            fprintf(stderr, "milnce embed: unexpected argument '%s' (see --help)\n", argv[i]);
            usage = 1;
        }
    }
    if (!usage && (!ckpt || !eo.out_prefix || !eo.videos == !eo.sentences)) {
        fprintf(stderr, "milnce embed: needs --checkpoint, --out and one of --videos / --sentences (see --help)\n");
        usage = 1;
    }
    if (!usage && eo.sentences && (eo.mixed5c || eo.num_windows || eo.window_seconds > 0 || eo.average)) {
        fprintf(stderr, "milnce embed: --feature mixed_5c and the window options are for --videos\n");
        usage = 1;
    }
    if (usage) {
        free(sets);
        return MILNCE_EXIT_USAGE;
    }
    milnce_logger lg = milnce_stderr_logger("embed");
    milnce_error err = {0};
    milnce_eval_load_opts lo = {.checkpoint = ckpt, .config = config, .sets = sets, .nsets = nsets,
                                .with_video = eo.videos != NULL, .with_text = eo.sentences != NULL, .lg = &lg};
    milnce_eval_model *m = NULL;
    if (milnce_cmd_check_config("embed", config, sets, nsets) < 0) {
        free(sets);
        return MILNCE_EXIT_USAGE;
    }
    int ret = milnce_eval_model_load(&m, &lo, &err);
    free(sets);
    if (ret < 0) { /* the checkpoint, its stored config, the vocabulary: file content */
        fprintf(stderr, "milnce embed: %s\n", err.msg);
        return MILNCE_EXIT_ERROR;
    }
    eo.lg = &lg;
    milnce_embed_result r;
    ret = milnce_embed_run(m, &eo, &r, &err);
    milnce_eval_model_free(&m);
    if (ret < 0) {
        fprintf(stderr, "milnce embed: %s\n", err.msg);
        return MILNCE_EXIT_ERROR;
    }
    printf("embed: %zu rows x %zu from %zu %s (%zu skipped): %s, %s\n", r.rows, r.dim, r.items,
           eo.videos ? "videos" : "sentences", r.skipped, r.npy_path, r.ids_path);
    return MILNCE_EXIT_OK;
}
