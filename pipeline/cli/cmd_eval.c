/* milnce eval: clip<->text retrieval of a checkpoint on a YouCook2 / MSR-VTT style set or on
 * held-out shards (see pipeline/eval.h). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_opts.h"
#include "commands.h"
#include "eval.h"

typedef struct eval_args {
    const char *ckpt, *out, *embeddings;
    int examples, no_thumbs, save;
} eval_args;

#define A(f) offsetof(eval_args, f)
static const milnce_opt eval_opts[] = {
    {.name = "checkpoint", .type = MILNCE_OPT_STRING, .off = A(ckpt), .meta = "CKPT", .help = "a checkpoint file or a run folder (its checkpoints/latest);\nthis or --embeddings"},
    {.name = "embeddings", .type = MILNCE_OPT_STRING, .off = A(embeddings), .meta = "DIR", .help = "score what --save-embeddings wrote to DIR again, without a\ncheckpoint or videos (only eval.ties is read from --config/--set)"},
    {.name = "config", .type = MILNCE_OPT_CONFIG, .meta = "FILE", .help = "eval.* keys (the model's keys come from the checkpoint)"},
    {.name = "set", .type = MILNCE_OPT_SET, .meta = "section.key=value", .help = "override a key (repeatable)"},
    {.name = "out", .type = MILNCE_OPT_STRING, .off = A(out), .meta = "DIR", .dflt = "the checkpoint's run folder; with --embeddings, DIR", .help = "where eval.json and thumbs/ go"},
    {.name = "examples", .type = MILNCE_OPT_INT, .off = A(examples), .meta = "N", .lo = 0, .hi = 1000, .dflt = "the library's", .help = "example queries in eval.json (0 = none)"},
    {.name = "no-thumbnails", .type = MILNCE_OPT_FLAG, .off = A(no_thumbs), .help = "write no thumbnails"},
    {.name = "save-embeddings", .type = MILNCE_OPT_FLAG, .off = A(save), .help = "also write DIR/eval_text.npy, eval_video.npy, eval_ids.txt"},
    {0}};

const milnce_cmd_spec milnce_cmd_eval_spec = {
    "eval",
    "Clip<->text retrieval (R@1/5/10, median and mean rank, both directions, next to chance).\n"
    "The model and data.num_frames/fps/size come from the checkpoint's stored config; eval.* from it,\n"
    "overridden by --config / --set:\n"
    "  eval.format       youcook2 (CSV end,start,task,text,video_id), msrvtt (CSV\n"
    "                    key,vid_key,video_id,sentence; whole videos) or shards (eval.csv =\n"
    "                    folder of held-out shards)\n"
    "  eval.csv, eval.video_root (videos <root>/<id>.<ext> or <root>/<task>/<id>.<ext>)\n"
    "  eval.num_windows  windows per clip, embeddings averaged (reference protocol)\n"
    "  eval.max_words, eval.normalize, eval.batch_size\n"
    "Rows whose video is missing are dropped and counted (warning per video).\n"
    "Writes DIR/eval.json and DIR/thumbs/. With --embeddings DIR, scores DIR/eval_text.npy,\n"
    "eval_video.npy and eval_ids.txt (from --save-embeddings) and rewrites the score fields of\n"
    "eval.json (the others are carried over from DIR/eval.json). Exit: 0 ok, 1 error, 2 usage.",
    eval_opts, sizeof(eval_args)};

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

static void print_result(const milnce_eval_result *r) {
    printf("eval: %s (%s): %zu queries", r->dataset, r->format, r->n);
    if (r->dropped_queries) printf(", %zu dropped (%zu missing or unreadable videos)", r->dropped_queries, r->missing_videos);
    printf("\n%-12s %7s %7s %7s %8s %8s\n", "", "R@1", "R@5", "R@10", "MedR", "MeanR");
    row("text->video", &r->t2v);
    row("video->text", &r->v2t);
    printf("%-12s %7.2f %7.2f %7.2f %8.1f %8.1f\n", "chance", r->chance_r1, r->chance_r5, r->chance_r10,
           (r->n + 1) / 2.0, (r->n + 1) / 2.0);
    printf("ranks: 1 + items scoring strictly higher (ties in the query's favour); recalls in %%\n");
    printf("wrote %s\n", r->json_path);
}

/* --embeddings DIR: eval.ties from --config / --set when they name it, else DIR/eval.json's rule. */
static int eval_saved(const eval_args *a, milnce_cli *cli, int examples) {
    milnce_config cfg, dflt;
    milnce_config_defaults(&cfg);
    milnce_config_defaults(&dflt);
    milnce_error err = {0};
    if (milnce_cli_apply_config(cli, &cfg, &err) < 0) {
        fprintf(stderr, "milnce eval: %s\n", err.msg);
        milnce_cli_free(cli);
        return MILNCE_EXIT_USAGE;
    }
    int ties_set = strcmp(cfg.eval.ties, dflt.eval.ties) != 0;
    for (int i = 0; i < cli->nsets; i++) ties_set |= strncmp(cli->sets[i], "eval.ties=", 10) == 0;
    milnce_cli_free(cli);
    milnce_logger lg = milnce_stderr_logger("eval");
    milnce_eval_saved_opts so = {.dir = a->embeddings, .out_dir = a->out, .ties = ties_set ? cfg.eval.ties : NULL,
                                 .num_examples = examples, .lg = &lg};
    milnce_eval_result r;
    if (milnce_eval_score_saved(&so, &r, &err) < 0) {
        fprintf(stderr, "milnce eval: %s\n", err.msg);
        return MILNCE_EXIT_ERROR;
    }
    print_result(&r);
    milnce_eval_result_free(&r);
    return MILNCE_EXIT_OK;
}

int milnce_cmd_eval(int argc, char **argv) {
    eval_args a = {.examples = -1};
    milnce_cli cli;
    int rc = milnce_cli_parse(&milnce_cmd_eval_spec, &a, argc, argv, &cli);
    if (rc != MILNCE_CLI_RUN) return rc;
    int examples = a.examples < 0 ? 0 : a.examples == 0 ? -1 : a.examples; /* 0 asks the library's default */
    if (!a.ckpt == !a.embeddings || (a.embeddings && a.save)) {
        fprintf(stderr, "milnce eval: %s (see milnce eval --help)\n",
                a.embeddings && a.save ? "--save-embeddings goes with --checkpoint, not --embeddings"
                : a.ckpt ? "--checkpoint and --embeddings exclude each other" : "--checkpoint CKPT or --embeddings DIR is required");
        milnce_cli_free(&cli);
        return MILNCE_EXIT_USAGE;
    }
    if (a.embeddings) return eval_saved(&a, &cli, examples);
    milnce_logger lg = milnce_stderr_logger("eval");
    milnce_error err = {0};
    milnce_eval_load_opts lo = {.checkpoint = a.ckpt, .config = cli.config, .sets = cli.sets, .nsets = cli.nsets,
                                .with_video = 1, .with_text = 1, .lg = &lg};
    milnce_eval_model *m = NULL;
    if (milnce_cmd_check_config("eval", &cli) < 0) {
        milnce_cli_free(&cli);
        return MILNCE_EXIT_USAGE;
    }
    int ret = milnce_eval_model_load(&m, &lo, &err);
    milnce_cli_free(&cli);
    if (ret < 0) { /* the checkpoint, its stored config, the vocabulary: file content */
        fprintf(stderr, "milnce eval: %s\n", err.msg);
        return MILNCE_EXIT_ERROR;
    }
    prog ps = {isatty(2)};
    milnce_eval_opts eo = {.out_dir = a.out, .num_examples = examples, .thumbnails = !a.no_thumbs, .save_embeddings = a.save,
                           .lg = &lg, .progress = progress, .progress_user = &ps};
    milnce_eval_result r;
    ret = milnce_eval_run(m, &eo, &r, &err);
    milnce_eval_model_free(&m);
    if (ret < 0) {
        fprintf(stderr, "milnce eval: %s\n", err.msg);
        return MILNCE_EXIT_ERROR;
    }
    print_result(&r);
    milnce_eval_result_free(&r);
    return MILNCE_EXIT_OK;
}
