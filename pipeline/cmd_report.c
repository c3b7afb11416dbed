/* milnce report RUN_DIR: write the self-contained HTML report of a run folder. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "report.h"

static void help(void) {
    printf("usage: milnce report RUN_DIR [--out FILE] [--title TEXT] [--max-points N] [--max-examples N] [-v]\n\n"
           "Writes RUN_DIR/report.html: one HTML file that opens offline (no scripts, no external fonts\n"
           "or images), with the loss, learning-rate, throughput, data-wait and gradient-norm curves\n"
           "from log.jsonl, recall@1/5/10 against chance and example retrievals with thumbnails from\n"
           "eval.json and thumbs/, and the resolved config.yaml. Missing or damaged parts are listed\n"
           "as notes at the top of the page and as warnings here.\n\n"
           "  --out FILE          write here instead of RUN_DIR/report.html\n"
           "  --title TEXT        page title (default: \"milnce run <folder name>\")\n"
           "  --max-points N      points per curve before min/max downsampling (default 2000, >= 4)\n"
           "  --max-examples N    example queries shown (default 20, 0 = none)\n"
           "  -v, --verbose       also print progress (e.g. how curves were downsampled)\n");
}

/* Warnings and errors to stderr; progress (info) only with --verbose. */
typedef struct log_filter {
    milnce_logger out;
    int verbose;
} log_filter;

static void filtered_log(void *user, int level, const char *msg) {
    log_filter *f = user;
    if (level <= MILNCE_LOG_WARN || f->verbose) f->out.fn(f->out.user, level, msg);
}

static int parse_int(const char *s, int lo, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > INT_MAX) return -1;
    *out = (int)v;
    return 0;
}

int milnce_cmd_report(int argc, char **argv) {
    if (milnce_wants_help(argc, argv)) {
        help();
        return MILNCE_EXIT_OK;
    }
    milnce_report_opts o = {0};
    const char *dir = NULL, *out = NULL;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (strcmp(a, "--out") == 0 && has) out = argv[++i];
        else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) verbose = 1;
        else if (strcmp(a, "--title") == 0 && has) o.title = argv[++i];
        else if (strcmp(a, "--max-points") == 0 && has) {
            if (parse_int(argv[++i], 4, &o.max_points) < 0) {
                fprintf(stderr, "milnce report: --max-points wants an integer >= 4, got '%s'\n", argv[i]);
                return MILNCE_EXIT_USAGE;
            }
        } else if (strcmp(a, "--max-examples") == 0 && has) {
            int n;
            if (parse_int(argv[++i], 0, &n) < 0) {
                fprintf(stderr, "milnce report: --max-examples wants an integer >= 0, got '%s'\n", argv[i]);
                return MILNCE_EXIT_USAGE;
            }
            o.max_examples = n == 0 ? -1 : n;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "milnce report: unknown option or missing value '%s' (see --help)\n", a);
            return MILNCE_EXIT_USAGE;
        } else if (!dir) dir = a;
        else {
            fprintf(stderr, "milnce report: unexpected argument '%s'\n", a);
            return MILNCE_EXIT_USAGE;
        }
    }
    if (!dir) {
        fprintf(stderr, "milnce report: missing RUN_DIR (see --help)\n");
        return MILNCE_EXIT_USAGE;
    }
    char def[4200];
    if (!out) {
        snprintf(def, sizeof def, "%s/report.html", dir);
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
