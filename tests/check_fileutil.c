/* io/fileutil: whole-file reads (limits, truncation, missing, folders), mkdir -p, and paths that
 * report a truncation instead of naming another file. Expected values are written by hand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileutil.h"
#include "testutil.h"

static void put(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_path_fits_or_fails) {
    char b[8];
    milnce_error err = {0};
    ck_assert_int_eq(milnce_path(b, sizeof b, &err, "%s/%s", "ab", "cdef"), 0); /* 7 bytes + NUL */
    ck_assert_str_eq(b, "ab/cdef");
    ck_assert_int_eq(milnce_path(b, sizeof b, &err, "%s/%s", "ab", "cdefg"), MILNCE_ERR_RANGE);
    ck_assert_str_eq(b, ""); /* never a cut path */
    ck_assert_msg(strstr(err.msg, "path too long") && strstr(err.msg, "ab/cdef"), "%s", err.msg);
    ck_assert_int_eq(milnce_path(b, sizeof b, NULL, "%s", "0123456789"), MILNCE_ERR_RANGE);
}
END_TEST

START_TEST(test_read_file) {
    const char *d = tu_tmpdir();
    char p[MILNCE_PATH_MAX], q[MILNCE_PATH_MAX];
    ck_assert_int_eq(milnce_path(p, sizeof p, NULL, "%s/a.txt", d), 0);
    put(p, "hello world");
    char *data;
    size_t n;
    int cut;
    milnce_error err = {0};
    ck_assert_int_eq(milnce_read_file(p, 0, &data, &n, NULL, &err), 0);
    ck_assert_uint_eq(n, 11);
    ck_assert_str_eq(data, "hello world"); /* NUL-terminated */
    free(data);
    ck_assert_int_eq(milnce_read_file(p, 11, &data, &n, NULL, &err), 0); /* exactly the limit */
    free(data);
    ck_assert_int_eq(milnce_read_file(p, 5, &data, &n, NULL, &err), MILNCE_ERR_RANGE);
    ck_assert_ptr_null(data);
    ck_assert_msg(strstr(err.msg, "a.txt") && strstr(err.msg, "larger than 5"), "%s", err.msg);
    ck_assert_int_eq(milnce_read_file(p, 5, &data, &n, &cut, &err), 0);
    ck_assert_int_eq(cut, 1);
    ck_assert_uint_eq(n, 5);
    ck_assert_str_eq(data, "hello");
    free(data);
    ck_assert_int_eq(milnce_path(q, sizeof q, NULL, "%s/empty", d), 0);
    put(q, "");
    ck_assert_int_eq(milnce_read_file(q, 0, &data, &n, &cut, &err), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(cut, 0);
    ck_assert_str_eq(data, "");
    free(data);
    ck_assert_int_eq(milnce_path(q, sizeof q, NULL, "%s/none", d), 0);
    ck_assert_int_eq(milnce_read_file(q, 0, &data, &n, NULL, &err), MILNCE_ERR_NOTFOUND);
    ck_assert_msg(strstr(err.msg, "none"), "%s", err.msg);
    ck_assert_int_eq(milnce_read_file(d, 0, &data, &n, NULL, &err), MILNCE_ERR_IO);
    ck_assert_msg(strstr(err.msg, "directory"), "%s", err.msg);
}
END_TEST

START_TEST(test_mkdirs_and_atomic_write) {
    const char *d = tu_tmpdir();
    char p[MILNCE_PATH_MAX], f[MILNCE_PATH_MAX];
    milnce_error err = {0};
    ck_assert_int_eq(milnce_path(p, sizeof p, NULL, "%s/x/y/z", d), 0);
    ck_assert_int_eq(milnce_mkdirs(p, &err), 0);
    ck_assert_int_eq(milnce_mkdirs(p, &err), 0); /* already there: fine */
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(milnce_path(f, sizeof f, NULL, "%s/file", p), 0);
    ck_assert_int_eq(milnce_write_file_atomic(f, "abc", 3, &err), 0);
    ck_assert_int_eq(milnce_update_file_atomic(f, "abc", 3, &err), 1); /* same bytes: left alone */
    ck_assert_int_eq(milnce_update_file_atomic(f, "abcd", 4, &err), 0);
    char *data;
    size_t n;
    ck_assert_int_eq(milnce_read_file(f, 0, &data, &n, NULL, &err), 0);
    ck_assert_str_eq(data, "abcd");
    free(data);
    /* a folder under a file cannot be made: the message names the path */
    ck_assert_int_eq(milnce_path(p, sizeof p, NULL, "%s/sub", f), 0);
    ck_assert_int_eq(milnce_mkdirs(p, &err), MILNCE_ERR_IO);
    ck_assert_msg(strstr(err.msg, "file"), "%s", err.msg);
}
END_TEST

int main(int argc, char **argv) {
    Suite *s = suite_create("fileutil");
    TCase *tc = tcase_create("by_hand");
    tcase_add_test(tc, test_path_fits_or_fails);
    tcase_add_test(tc, test_read_file);
    tcase_add_test(tc, test_mkdirs_and_atomic_write);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
