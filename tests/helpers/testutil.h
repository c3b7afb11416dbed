/* Shared helpers of the Check suites. */
#ifndef MILNCE_TESTUTIL_H
#define MILNCE_TESTUTIL_H

#include <check.h>
#include <stddef.h>

/* Path of a real test file under tests/data (env MILNCE_TESTDATA), in a static rotating buffer. */
const char *tu_testdata(const char *rel);
/* Path of a fixture written by tests/reference/<mod>_ref.py (env MILNCE_FIXTURES/<mod>/<name>). */
const char *tu_fixture(const char *mod, const char *name);
/* A fresh empty temporary folder (removed by nothing: under /tmp, unique per call). */
const char *tu_tmpdir(void);
/* Path of the built milnce command (env MILNCE_BIN). */
const char *tu_bin(void);
/* Path of Debian's python3 with torch and numpy (env MILNCE_PYTHON). */
const char *tu_python(void);

/* Honest skips. A suite that cannot run here calls these from main(), before tu_run(): they
 * print the reason and exit 77 (CTest's SKIP_RETURN_CODE, set for every test). A missing tool
 * or package (TU_NEED_TOOL) is a failure (exit 1) under CI=true, where scripts/setup.sh installed
 * everything; a missing CPU feature (TU_NEED_HARDWARE) stays a skip. */
typedef enum { TU_NEED_TOOL, TU_NEED_HARDWARE } tu_need_kind;
void tu_skip(tu_need_kind kind, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
/* Skips unless the program is on PATH (or is an executable path); why = what it is needed for. */
void tu_need_cmd(const char *prog, const char *why);
/* Skips unless tu_python() imports each of the space-separated modules (e.g. "numpy torch"). */
void tu_need_py(const char *modules);
/* Skips unless tests/reference/<mod>_ref.py wrote its fixtures (it skips itself without torch). */
void tu_need_fixtures(const char *mod);

/* A float fixture (any numeric .npy, as float32) of tests/reference/<mod>_ref.py: its values
 * (malloc'd) and count in *n; the test fails naming the file and the script when it is missing. */
float *tu_fixture_f32(const char *mod, const char *rel, size_t *n);

/* Max relative error max|a-b| / max(max|b|, floor) over n values. */
double tu_rel_err(const float *a, const float *b, size_t n, double floor);

/* Selects the BLAS kernel like the command does, runs the suite (CK_RUN_SUITE/CK_RUN_CASE honoured),
 * and returns the process exit code: 0 when every test passed. */
int tu_run(Suite *s, int argc, char **argv);

#endif
