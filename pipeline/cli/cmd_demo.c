/* milnce demo: synth -> preprocess -> train -> eval -> report, on a built-in configuration. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd_opts.h"
#include "commands.h"
#include "demo.h"
#include "train.h"


typedef struct demo_args {
    milnce_demo_opts o;
    int print_config;
} demo_args;

#define A(f) offsetof(demo_args, f)
static const milnce_opt demo_opts[] = {
    {.name = "out", .type = MILNCE_OPT_STRING, .off = A(o.out_dir), .meta = "DIR", .help = "output folder"},
    {.name = "config", .type = MILNCE_OPT_CONFIG, .meta = "FILE", .help = "YAML applied over the built-in configuration"},
    {.name = "set", .type = MILNCE_OPT_SET, .meta = "section.key=value", .help = "override a key (repeatable)"},
    {.name = "train-videos", .type = MILNCE_OPT_INT, .off = A(o.train_videos), .meta = "N", .lo = 2, .hi = 99999, .help = "training videos, 15-20 s each"},
    {.name = "eval-videos", .type = MILNCE_OPT_INT, .off = A(o.eval_videos), .meta = "N", .lo = 1, .hi = 99999, .help = "evaluation videos with aligned captions"},
    {.name = "seed", .type = MILNCE_OPT_INT, .off = A(o.seed), .meta = "S", .lo = 0, .hi = 2147483647, .help = "corpus seed"},
    {.name = "print-config", .type = MILNCE_OPT_FLAG, .off = A(print_config), .help = "print the built-in configuration and exit"},
    {0}};

const milnce_cmd_spec milnce_cmd_demo_spec = {
    "demo",
    "Generates a narrated corpus (shapes doing actions, ASR-like misaligned narration),\n"
    "preprocesses it into shards, trains with MIL-NCE, evaluates text<->video retrieval on\n"
    "an aligned split and writes DIR/report.html.",
    demo_opts, sizeof(demo_args)};

static void on_stage(void *user, const char *name, double s) {
    (void)user;
    fprintf(stderr, "demo: %-10s done in %5.1f s\n", name, s);
}

typedef struct prog { int tty; double last; } prog;

static void on_train(void *user, const milnce_train_progress *p) {
    prog *s = user;
    if (s->tty) {
        fprintf(stderr, "\rdemo: train step %lld/%lld  loss %.3f  %.1f clips/s  data wait %.0f%%   ",
                (long long)p->step, (long long)p->total, p->loss, p->clips_per_s, 100 * p->data_wait);
        if (p->step == p->total) fputc('\n', stderr);
    } else if (p->elapsed - s->last >= 15 || p->step == p->total) {
        s->last = p->elapsed;
        fprintf(stderr, "demo: train step %lld/%lld loss %.3f %.1f clips/s\n", (long long)p->step,
                (long long)p->total, p->loss, p->clips_per_s);
    }
}

int milnce_cmd_demo(int argc, char **argv) {
    demo_args a = {.o = {.out_dir = "out/demo", .train_videos = 480, .eval_videos = 24, .min_seconds = 15,
                         .max_seconds = 20, .seed = 1}};
    milnce_cli cli;
    int rc = milnce_cli_parse(&milnce_cmd_demo_spec, &a, argc, argv, &cli);
    if (rc != MILNCE_CLI_RUN) return rc;
    if (a.print_config) {
        milnce_cli_free(&cli);
        fputs(milnce_demo_config_yaml(), stdout);
        return MILNCE_EXIT_OK;
    }
    milnce_config cfg;
    milnce_error err = {0};
    if (milnce_demo_config(&cfg, &err) < 0) {
        milnce_cli_free(&cli);
        fprintf(stderr, "milnce demo: %s\n", err.msg);
        return MILNCE_EXIT_ERROR;
    }
    int ret = milnce_cli_apply_config(&cli, &cfg, &err);
    milnce_cli_free(&cli);
    if (ret < 0) {
        fprintf(stderr, "milnce demo: %s\n", err.msg);
        return MILNCE_EXIT_USAGE;
    }
    milnce_demo_opts o = a.o;
    milnce_logger lg = milnce_stderr_logger("demo");
    prog ps = {isatty(2), -1e9};
    o.cfg = &cfg;
    o.lg = &lg;
    o.stage = on_stage;
    o.cancel = milnce_stop_on_signals();
    o.train_progress = on_train;
    o.train_progress_user = &ps;
    milnce_demo_result r;
    if (milnce_demo_run(&o, &r, &err) < 0) {
        fprintf(stderr, "milnce demo: %s\n", err.msg);
        return MILNCE_EXIT_ERROR;
    }
    printf("\nmilnce demo: %d training videos, %lld steps (loss %.3f -> %.3f, %.1f clips/s), %.0f s in all\n",
           o.train_videos, (long long)r.steps, r.first_loss, r.last_loss, r.clips_per_s, r.seconds);
    printf("retrieval on the aligned evaluation split, %zu queries (recall in %%):\n\n", r.queries);
    printf("  %-14s %7s %7s %7s %9s %9s\n", "", "R@1", "R@5", "R@10", "MedR", "MeanR");
    printf("  %-14s %7.1f %7.1f %7.1f %9.1f %9.1f\n", "text -> video", r.t2v.r1, r.t2v.r5, r.t2v.r10, r.t2v.median_rank, r.t2v.mean_rank);
    printf("  %-14s %7.1f %7.1f %7.1f %9.1f %9.1f\n", "video -> text", r.v2t.r1, r.v2t.r5, r.v2t.r10, r.v2t.median_rank, r.v2t.mean_rank);
    printf("  %-14s %7.1f %7.1f %7.1f %9.1f %9s\n", "chance", r.chance_r1, r.chance_r5, r.chance_r10,
           (r.queries + 1) / 2.0, "");
    printf("\n  text -> video R@5 is %.1fx chance. Report: %s\n", r.chance_r5 > 0 ? r.t2v.r5 / r.chance_r5 : 0, r.report);
    return MILNCE_EXIT_OK;
}
