/* The training log of a run folder (log.jsonl: one JSON object per line with an integer "step"
 * and numeric fields), read for the report: rows sorted by step, a step logged twice (a resumed
 * run re-logs) keeping its last line; malformed lines, non-finite and non-numeric values
 * skipped, each kind counted and described through a note callback. */
#ifndef MILNCE_RUN_LOG_H
#define MILNCE_RUN_LOG_H

#include <stddef.h>

/* The fields read, in this order (milnce_run_log_keys gives their JSON keys). */
enum { MILNCE_LOG_F_LOSS, MILNCE_LOG_F_LR, MILNCE_LOG_F_CPS, MILNCE_LOG_F_WAIT, MILNCE_LOG_F_GNORM, MILNCE_LOG_F_COUNT };
extern const char *const milnce_run_log_keys[MILNCE_LOG_F_COUNT];

typedef struct milnce_log_row {
    long long step;
    size_t line;                   /* 1-based line of log.jsonl */
    double v[MILNCE_LOG_F_COUNT]; /* NaN = absent or skipped */
} milnce_log_row;

typedef struct milnce_run_log {
    milnce_log_row *rows; /* (n) by step, distinct steps */
    size_t n, cap;
    size_t present[MILNCE_LOG_F_COUNT], nonfinite[MILNCE_LOG_F_COUNT], wrongtype[MILNCE_LOG_F_COUNT];
    size_t lines;         /* non-blank lines read */
    size_t bad_lines;     /* malformed lines skipped */
    size_t nonfinite_all; /* non-finite values skipped, all fields */
    long long epoch_last;
    int has_epoch;
} milnce_run_log;

/* A note on what was skipped, e.g. "log.jsonl:7: not a JSON object; line skipped". */
typedef void (*milnce_run_log_note)(void *user, const char *msg);

/* Reads path into *L (zeroed first; free with milnce_run_log_free). 1 = read, 0 = absent or
 * unreadable, < 0 = out of memory. note_fn may be NULL. */
int milnce_run_log_read(const char *path, milnce_run_log *L, milnce_run_log_note note_fn, void *user);
void milnce_run_log_free(milnce_run_log *L);

#endif
