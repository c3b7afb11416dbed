#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "blas_select.h"

static char bufs[8][4096];
static int next_buf;

static char *rot(void) {
    char *b = bufs[next_buf];
    next_buf = (next_buf + 1) % 8;
    return b;
}

static const char *envor(const char *name, const char *dflt) {
    const char *v = getenv(name);
    return (v && *v) ? v : dflt;
}

const char *tu_testdata(const char *rel) {
    char *b = rot();
    snprintf(b, 4096, "%s/%s", envor("MILNCE_TESTDATA", "../shared/testdata"), rel);
    return b;
}

const char *tu_fixture(const char *mod, const char *name) {
    char *b = rot();
    snprintf(b, 4096, "%s/%s/%s", envor("MILNCE_FIXTURES", "build/fixtures"), mod, name);
    return b;
}

const char *tu_tmpdir(void) {
    char *b = rot();
    snprintf(b, 4096, "/tmp/milnce-test-XXXXXX");
    if (!mkdtemp(b)) ck_abort_msg("mkdtemp failed");
    return b;
}

const char *tu_bin(void) { return envor("MILNCE_BIN", "build/milnce"); }
const char *tu_python(void) { return envor("MILNCE_PYTHON", "/usr/bin/python3"); }

double tu_rel_err(const float *a, const float *b, size_t n, double floor) {
    double maxd = 0, maxb = floor;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= maxd)) maxd = d; /* NaN propagates as failure */
        if (fabs((double)b[i]) > maxb) maxb = fabs((double)b[i]);
    }
    return maxd / maxb;
}

int tu_run(Suite *s, int argc, char **argv) {
    milnce_blas_select_kernel(argc, argv);
    if (!getenv("MILNCE_FFMPEG_LOG")) av_log_set_level(AV_LOG_ERROR); /* as the command does */
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
