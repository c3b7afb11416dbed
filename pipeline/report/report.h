/* The HTML report of a run folder: one self-contained file that opens offline.
 *
 * ## The run folder (written by train, eval and demo; read here)
 *   config.yaml   the resolved config (YAML text), shown verbatim in a <pre> block.
 *   log.jsonl     one JSON object per line, one line per logged training step:
 *                   {"step": int, "epoch": int, "loss": float, "lr": float,
 *                    "clips_per_s": float, "data_wait": float (fraction 0..1 of the step time
 *                    spent waiting for data), "grad_norm": float}
 *                 Every field is optional: a field missing from every line omits its plot (with a
 *                 note). Non-finite values (NaN/Infinity/-Infinity/nan/inf tokens as Python's
 *                 json or printf write them, or null) are skipped with a note. A malformed line,
 *                 or one without an integer "step", is a warning naming its line number and is
 *                 skipped. A step logged twice (a resumed run) keeps its last line.
 *   eval.json     {"dataset": str, "n": int, "missing_videos": int, "tie_rule": str,
 *                  "t2v":    {"r1", "r5", "r10", "median_rank", "mean_rank"},  text -> video
 *                  "v2t":    {"r1", "r5", "r10", "median_rank", "mean_rank"},  video -> text
 *                  "chance": {"r1", "r5", "r10"},
 *                  "examples": [{"query": str, "gt_video": str,
 *                                "top": [{"video_id": str, "start": s, "end": s, "score": float,
 *                                         "correct": bool, "thumbnail": "thumbs/<file>.jpg"}]}]}
 *                 Recalls are percentages (0..100), as milnce_recall; ranks are 1-based.
 *                 Missing fields show as "n/a"; a malformed eval.json is a warning and its
 *                 sections are omitted.
 *   thumbs/       JPEG or PNG thumbnails (io/video/image_write.h), referenced by relative paths inside
 *                 the run folder. Absolute paths, paths containing "..", paths that resolve
 *                 (symlinks) outside the folder, files over 4 MiB and files that are neither JPEG
 *                 nor PNG are refused (a placeholder is shown, with a note).
 * At least one of config.yaml, log.jsonl, eval.json must exist.
 *
 * ## The report
 * Plain HTML + CSS with system fonts; plots are inline SVG made here (loss with a moving
 * average, learning rate, clips/s, data-wait percent, gradient norm, each vs step; recall@1/5/10
 * bars for both directions next to chance); thumbnails are base64 data URIs. No script, no
 * external reference of any kind. Every string from the inputs is HTML-escaped (invalid UTF-8
 * and control characters become U+FFFD). A curve with more than max_points points is reduced to
 * the min and max of each of max_points/2 step buckets, so spikes stay visible. */
#ifndef MILNCE_REPORT_H
#define MILNCE_REPORT_H

#include <stddef.h>

#include "error.h"
#include "html_text.h" /* milnce_html_escape */

typedef struct milnce_report_opts {
    const char *title; /* page title; NULL = "milnce run <folder name>" */
    int max_points;    /* per curve, >= 4; 0 = 2000 */
    int max_examples;  /* example queries shown; 0 = 20, < 0 = none */
    int max_top;       /* clips shown per example; 0 = 5 */
} milnce_report_opts;

typedef struct milnce_report_stats {
    size_t log_lines;      /* lines read from log.jsonl (blank lines not counted) */
    size_t log_bad_lines;  /* malformed lines skipped */
    size_t log_nonfinite;  /* non-finite values skipped (all fields) */
    size_t steps;          /* distinct steps kept */
    int has_config, has_log, has_eval;
    size_t examples;       /* example queries rendered */
    size_t thumbnails;     /* thumbnails embedded */
    size_t thumbnails_missing; /* referenced but missing or refused */
    size_t warnings;       /* notes shown in the report (also sent to the logger) */
} milnce_report_stats;

/* Builds the report HTML of run_dir into *html (malloc'ed, NUL-terminated, *len bytes without the
 * NUL). o and stats may be NULL. Warnings go to lg (may be NULL) and into the page. Errors:
 * MILNCE_ERR_NOTFOUND when run_dir is missing or holds none of the three files. */
int milnce_report_build(const char *run_dir, const milnce_report_opts *o, char **html, size_t *len,
                        milnce_report_stats *stats, const milnce_logger *lg, milnce_error *err);

/* Builds and writes atomically to out_path (NULL = "<run_dir>/report.html"). */
int milnce_report_write(const char *run_dir, const char *out_path, const milnce_report_opts *o,
                        milnce_report_stats *stats, const milnce_logger *lg, milnce_error *err);


#endif
