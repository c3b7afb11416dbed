/* milnce report RUN_DIR: write the self-contained HTML report of a run folder. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_opts.h"
#include "commands.h"
#include "fileutil.h"
#include "report.h"

typedef struct report_args {
    const char *dir, *out;
    int verbose, max_examples;
    milnce_report_opts o;
} report_args;

#define A(f) offsetof(report_args, f)
static const milnce_opt report_opts[] = {
    {.name = "RUN_DIR", .type = MILNCE_OPT_ARG, .off = A(dir), .flags = MILNCE_OPT_REQUIRED, .help = "the run folder"},
    {.name = "out", .type = MILNCE_OPT_STRING, .off = A(out), .meta = "FILE", .dflt = "RUN_DIR/report.html", .help = "write here"},
    {.name = "title", .type = MILNCE_OPT_STRING, .off = A(o.title), .meta = "TEXT", .dflt = "\"milnce run <folder name>\"", .help = "page title"},
    {.name = "max-points", .type = MILNCE_OPT_INT, .off = A(o.max_points), .meta = "N", .lo = 4, .hi = 1e9, .dflt = "2000", .help = "points per curve before min/max downsampling"},
    {.name = "max-examples", .type = MILNCE_OPT_INT, .off = A(max_examples), .meta = "N", .lo = 0, .hi = 1e9, .dflt = "20", .help = "example queries shown (0 = none)"},
    {.name = "verbose", .short_name = 'v', .type = MILNCE_OPT_FLAG, .off = A(verbose), .help = "also print progress (e.g. how curves were downsampled)"},
    {0}};

const milnce_cmd_spec milnce_cmd_report_spec = {
    "report",
    "Writes RUN_DIR/report.html: one HTML file that opens offline (no scripts, no external fonts\n"
    "or images), with the loss, learning-rate, throughput, data-wait and gradient-norm curves\n"
    "from log.jsonl, recall@1/5/10 against chance and example retrievals with thumbnails from\n"
    "eval.json and thumbs/, and the resolved config.yaml. Missing or damaged parts are listed\n"
    "as notes at the top of the page and as warnings here.",
    report_opts, sizeof(report_args)};

/* Warnings and errors to stderr; progress (info) only with --verbose. */
typedef struct log_filter {
    milnce_logger out;
    int verbose;
} log_filter;

static void filtered_log(void *user, int level, const char *msg) {
    log_filter *f = user;
    if (level <= MILNCE_LOG_WARN || f->verbose) f->out.fn(f->out.user, level, msg);
}

int milnce_cmd_report(int argc, char **argv) {
    report_args a = {.max_examples = -1}; /* -1: not given, the library's default */
    milnce_cli cli;
    int rc = milnce_cli_parse(&milnce_cmd_report_spec, &a, argc, argv, &cli);
    if (rc != MILNCE_CLI_RUN) return rc;
    milnce_cli_free(&cli);
    milnce_report_opts o = a.o;
    if (a.max_examples >= 0) o.max_examples = a.max_examples == 0 ? -1 : a.max_examples;
    const char *dir = a.dir, *out = a.out;
    int verbose = a.verbose;
    char def[MILNCE_PATH_MAX];
    if (!out) {
        if (milnce_path(def, sizeof def, NULL, "%s/report.html", dir) < 0) {
            fprintf(stderr, "milnce report: RUN_DIR path too long\n");
            return MILNCE_EXIT_USAGE;
        }
        out = def;
    }
    log_filter filter = {milnce_stderr_logger("report"), verbose};
    milnce_logger lg = {filtered_log, &filter};
    milnce_error err = {0};
    milnce_report_stats st;
    if (milnce_report_write(dir, out, &o, &st, &lg, &err) < 0) {
        fprintf(stderr, "milnce report: %s\n", err.msg);
        return MILNCE_EXIT_ERROR;
    }
    printf("wrote %s: %zu steps, %zu examples, %zu thumbnails, %zu notes\n", out, st.steps, st.examples,
           st.thumbnails, st.warnings);
    return MILNCE_EXIT_OK;
}
