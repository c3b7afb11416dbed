/* Shared helpers of the Check suites. */
#ifndef MILNCE_TESTUTIL_H
#define MILNCE_TESTUTIL_H

#include <check.h>
#include <stddef.h>

/* Path of a file under ../shared/testdata (env MILNCE_TESTDATA), in a static rotating buffer. */
const char *tu_testdata(const char *rel);
/* Path of a fixture written by tests/reference/<mod>_ref.py (env MILNCE_FIXTURES/<mod>/<name>). */
const char *tu_fixture(const char *mod, const char *name);
/* A fresh empty temporary folder (removed by nothing: under /tmp, unique per call). */
const char *tu_tmpdir(void);
/* Path of the built milnce command (env MILNCE_BIN). */
const char *tu_bin(void);
/* Path of Debian's python3 with torch and numpy (env MILNCE_PYTHON). */
const char *tu_python(void);

/* Max relative error max|a-b| / max(max|b|, floor) over n values. */
double tu_rel_err(const float *a, const float *b, size_t n, double floor);

/* Selects the BLAS kernel like the command does, runs the suite (CK_RUN_SUITE/CK_RUN_CASE honoured),
 * and returns the process exit code: 0 when every test passed. */
int tu_run(Suite *s, int argc, char **argv);

#endif
