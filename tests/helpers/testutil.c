#include "testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "blas_select.h"
#include "npy.h"

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
    snprintf(b, 4096, "%s/%s", envor("MILNCE_TESTDATA", "tests/data"), rel);
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

void tu_skip(tu_need_kind kind, const char *fmt, ...) {
    const char *ci = getenv("CI");
    int fail = kind == TU_NEED_TOOL && ci && strcmp(ci, "true") == 0;
    va_list ap;
    va_start(ap, fmt);
    printf(fail ? "FAIL (CI=true: every tool is installed there): cannot run: " : "SKIP: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    exit(fail ? EXIT_FAILURE : 77);
}

/* Runs a shell command with its output discarded; 1 when it exits 0. */
static int quietly(const char *cmd) {
    char full[8400];
    snprintf(full, sizeof full, "%s >/dev/null 2>&1", cmd);
    return system(full) == 0;
}

void tu_need_cmd(const char *prog, const char *why) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "command -v '%s'", prog);
    if (!quietly(cmd)) tu_skip(TU_NEED_TOOL, "%s not found (%s); scripts/setup.sh installs it", prog, why);
}

void tu_need_py(const char *modules) {
    const char *py = tu_python();
    tu_need_cmd(py, "Python 3 runs the reference checks");
    char mods[512], cmd[5000];
    snprintf(mods, sizeof mods, "%s", modules);
    for (char *save = NULL, *m = strtok_r(mods, " ", &save); m; m = strtok_r(NULL, " ", &save)) {
        snprintf(cmd, sizeof cmd, "'%s' -c 'import %s'", py, m);
        if (!quietly(cmd))
            tu_skip(TU_NEED_TOOL, "%s cannot import %s (Debian package python3-%s; scripts/setup.sh installs it)",
                    py, m, m);
    }
}

void tu_need_fixtures(const char *mod) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", envor("MILNCE_FIXTURES", "build/fixtures"), mod);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        tu_skip(TU_NEED_TOOL, "no reference fixtures in %s: tests/reference/%s_ref.py did not write them "
                "(it needs python3-torch and python3-numpy)", dir, mod);
}

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

float *tu_fixture_f32(const char *mod, const char *rel, size_t *n) {
    float *d = NULL;
    int nd = 0;
    int64_t shape[MILNCE_NPY_MAX_DIMS];
    milnce_error err = {0};
    int ret = milnce_npy_read_f32(tu_fixture(mod, rel), &d, &nd, shape, &err);
    ck_assert_msg(ret == 0, "fixture %s/%s: %s (run tests/reference/%s_ref.py)", mod, rel, err.msg,
                  mod);
    *n = 1;
    for (int i = 0; i < nd; i++) *n *= (size_t)shape[i];
    return d;
}
