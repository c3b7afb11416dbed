/* milnce embed: videos or sentences -> PREFIX.npy + PREFIX.ids.txt (see pipeline/eval.h). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_opts.h"
#include "commands.h"
#include "eval.h"

typedef struct embed_args {
    const char *ckpt;
    milnce_embed_opts eo;
} embed_args;

#define A(f) offsetof(embed_args, f)
static const milnce_opt embed_opts[] = {
    {.name = "checkpoint", .type = MILNCE_OPT_STRING, .off = A(ckpt), .meta = "CKPT", .flags = MILNCE_OPT_REQUIRED, .help = "a checkpoint file or a run folder"},
    {.name = "videos", .type = MILNCE_OPT_STRING, .off = A(eo.videos), .meta = "LIST", .help = "CSV (video_path, or video_id [+ task] beside the CSV) or a folder;\neach video is cut into windows of data.num_frames frames at data.fps\n(short side data.size, centre crop)"},
    {.name = "sentences", .type = MILNCE_OPT_STRING, .off = A(eo.sentences), .meta = "FILE", .help = "one sentence per line (eval.max_words tokens)"},
    {.name = "out", .type = MILNCE_OPT_STRING, .off = A(eo.out_prefix), .meta = "PREFIX", .flags = MILNCE_OPT_REQUIRED, .help = "writes PREFIX.npy and PREFIX.ids.txt"},
    {.name = "feature", .type = MILNCE_OPT_CHOICE, .off = A(eo.mixed5c), .meta = "embedding|mixed_5c", .choices = "embedding|mixed_5c", .help = "the joint space (model.embed_dim) or the pooled 1024*model.width\nvideo feature"},
    {.name = "num-windows", .type = MILNCE_OPT_INT, .off = A(eo.num_windows), .meta = "N", .lo = 1, .hi = 100000, .dflt = "consecutive windows", .help = "N windows evenly spaced over each video"},
    {.name = "window-seconds", .type = MILNCE_OPT_DOUBLE, .off = A(eo.window_seconds), .meta = "S", .lo = 1e-9, .hi = 1e9, .dflt = "one window length", .help = "stride of consecutive windows that fit in the video"},
    {.name = "average", .type = MILNCE_OPT_FLAG, .off = A(eo.average), .help = "one row per video: the mean of its windows"},
    {.name = "config", .type = MILNCE_OPT_CONFIG, .meta = "FILE", .help = "eval.* keys (the model's keys come from the checkpoint)"},
    {.name = "set", .type = MILNCE_OPT_SET, .meta = "section.key=value", .help = "override a key (repeatable)"},
    {0}};

const milnce_cmd_spec milnce_cmd_embed_spec = {
    "embed",
    "Embeds videos (one of --videos / --sentences) with the model of CKPT in eval mode.\n"
    "Writes PREFIX.npy (float32, rows x dim) and PREFIX.ids.txt (one line per row: \"<id>\\t<start s>\"\n"
    "for windows, \"<id>\" with --average, the 1-based line number for sentences).\n"
    "Exit: 0 ok, 1 error, 2 usage.",
    embed_opts, sizeof(embed_args)};

int milnce_cmd_embed(int argc, char **argv) {
    embed_args a = {0};
    milnce_cli cli;
    int rc = milnce_cli_parse(&milnce_cmd_embed_spec, &a, argc, argv, &cli);
    if (rc != MILNCE_CLI_RUN) return rc;
    const char *ckpt = a.ckpt;
    milnce_embed_opts eo = a.eo;
    int usage = 0;
    if (!eo.videos == !eo.sentences) {
        fprintf(stderr, "milnce embed: needs one of --videos / --sentences (see --help)\n");
        usage = 1;
    }
    if (!usage && eo.sentences && (eo.mixed5c || eo.num_windows || eo.window_seconds > 0 || eo.average)) {
        fprintf(stderr, "milnce embed: --feature mixed_5c and the window options are for --videos\n");
        usage = 1;
    }
    if (usage) {
        milnce_cli_free(&cli);
        return MILNCE_EXIT_USAGE;
    }
    milnce_logger lg = milnce_stderr_logger("embed");
    milnce_error err = {0};
    milnce_eval_load_opts lo = {.checkpoint = ckpt, .config = cli.config, .sets = cli.sets, .nsets = cli.nsets,
                                .with_video = eo.videos != NULL, .with_text = eo.sentences != NULL, .lg = &lg};
    milnce_eval_model *m = NULL;
    if (milnce_cmd_check_config("embed", &cli) < 0) {
        milnce_cli_free(&cli);
        return MILNCE_EXIT_USAGE;
    }
    int ret = milnce_eval_model_load(&m, &lo, &err);
    milnce_cli_free(&cli);
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
