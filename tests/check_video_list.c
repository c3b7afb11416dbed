/* Video lists: CSV (video_path / video_id [+ task]) and folders; unsafe ids refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "video_list.h"

static void touch(const char *dir, const char *name) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("x", f);
    fclose(f);
}

static const char *write_file(const char *dir, const char *name, const char *text) {
    static char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return p;
}

START_TEST(test_csv_paths_and_ids) {
    const char *d = tu_tmpdir();
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/cooking", d);
    mkdir(sub, 0755);
    touch(d, "abc_12-X.mp4");
    touch(d, "second.webm");
    touch(sub, "vid3.mkv");
    const char *csv = write_file(d, "list.csv",
        "\xEF\xBB\xBFvideo_path,comment\r\n"
        "abc_12-X.mp4,\"hello, \"\"world\"\"\nsecond line\"\r\n"
        "second.webm,plain\n"
        "missing.mp4,x\n");
    milnce_video_list l;
    milnce_error err = {0};
    ck_assert_msg(milnce_video_list_read(csv, NULL, &l, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(l.n, 3);
    ck_assert_str_eq(l.v[0].id, "abc_12-X");
    ck_assert_ptr_null(l.v[0].error);
    ck_assert_str_eq(l.v[1].id, "second");
    ck_assert_uint_eq(l.v[1].line, 4); /* the quoted field spanned lines 2-3 */
    ck_assert_str_eq(l.v[2].id, "missing"); /* path given: existence is checked when opened */
    milnce_video_list_free(&l);

    csv = write_file(d, "ids.csv", "task,video_id\ncooking,vid3\n,abc_12-X\n,nothere\n");
    ck_assert_msg(milnce_video_list_read(csv, d, &l, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(l.n, 3);
    ck_assert_ptr_nonnull(strstr(l.v[0].path, "cooking/vid3.mkv"));
    ck_assert_ptr_nonnull(strstr(l.v[1].path, "abc_12-X.mp4"));
    ck_assert_ptr_null(l.v[2].path);
    ck_assert_ptr_nonnull(l.v[2].error);
    milnce_video_list_free(&l);
}
END_TEST

START_TEST(test_unsafe_ids_refused) {
    const char *d = tu_tmpdir();
    const char *csv = write_file(d, "bad.csv",
        "video_id\n../../etc/passwd\n/abs/path\na.b\nok_id\n\x01\x02\n");
    milnce_video_list l;
    milnce_error err = {0};
    ck_assert_msg(milnce_video_list_read(csv, d, &l, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(l.n, 5);
    for (size_t i = 0; i < l.n; i++) {
        ck_assert_ptr_nonnull(l.v[i].error); /* ok_id has no file: also skipped, with a reason */
        ck_assert_int_eq(milnce_video_id_check(l.v[i].id, NULL), 0); /* placeholder ids are safe */
        ck_assert_ptr_null(strchr(l.v[i].id, '/'));
    }
    ck_assert_ptr_nonnull(strstr(l.v[0].error, "separator"));
    ck_assert_ptr_nonnull(strstr(l.v[2].error, "'.'"));
    ck_assert_ptr_nonnull(strstr(l.v[4].error, "control"));
    /* errors.log groups them by category: refused ids are "unsafe id", not "missing video" */
    ck_assert_str_eq(l.v[0].category, MILNCE_VIDEO_UNSAFE_ID);
    ck_assert_str_eq(l.v[2].category, MILNCE_VIDEO_UNSAFE_ID);
    ck_assert_str_eq(l.v[3].category, MILNCE_VIDEO_MISSING);
    milnce_video_list_free(&l);
    ck_assert_int_lt(milnce_video_id_check("", NULL), 0);
    ck_assert_int_lt(milnce_video_id_check("..", NULL), 0);
    ck_assert_int_eq(milnce_video_id_check("Yy96Xn5HEbo", NULL), 0);
}
END_TEST

START_TEST(test_folder_and_errors) {
    const char *d = tu_tmpdir();
    touch(d, "b.mp4");
    touch(d, "a.MKV");
    touch(d, "notes.txt");
    touch(d, ".hidden.mp4");
    milnce_video_list l;
    milnce_error err = {0};
    ck_assert_msg(milnce_video_list_read(d, NULL, &l, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(l.n, 2);
    ck_assert_str_eq(l.v[0].id, "a");
    ck_assert_str_eq(l.v[1].id, "b");
    milnce_video_list_free(&l);

    const char *csv = write_file(d, "nohdr.csv", "path,x\nfoo.mp4,1\n");
    ck_assert_int_eq(milnce_video_list_read(csv, NULL, &l, &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "nohdr.csv:1"), "%s", err.msg);
    csv = write_file(d, "quote.csv", "video_path\n\"unterminated.mp4\n");
    ck_assert_int_eq(milnce_video_list_read(csv, NULL, &l, &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "quote.csv:2"), "%s", err.msg);
    ck_assert_int_lt(milnce_video_list_read("/nonexistent/list.csv", NULL, &l, &err), 0);
}
END_TEST

/* One id twice (flower.mp4 + flower.webm, or two rows): the first is kept, the later one refused
 * naming the first; both would otherwise be samples under one shard key. */
START_TEST(test_duplicate_ids_refused) {
    const char *d = tu_tmpdir();
    touch(d, "flower.mp4");
    touch(d, "flower.webm");
    touch(d, "other.mkv");
    milnce_video_list l;
    milnce_error err = {0};
    ck_assert_msg(milnce_video_list_read(d, NULL, &l, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(l.n, 3);
    ck_assert_str_eq(l.v[0].id, "flower");
    ck_assert_ptr_null(l.v[0].error);
    ck_assert_str_eq(l.v[1].id, "flower");
    ck_assert_ptr_nonnull(l.v[1].error);
    ck_assert_str_eq(l.v[1].category, MILNCE_VIDEO_DUPLICATE);
    ck_assert_msg(strstr(l.v[1].error, "duplicate id 'flower'") && strstr(l.v[1].error, "flower.mp4"), "%s", l.v[1].error);
    ck_assert_ptr_null(l.v[2].error);
    milnce_video_list_free(&l);

    const char *csv = write_file(d, "dups.csv", "video_path,video_id\nflower.mp4,\nflower.webm,\nother.mkv,flower\nother.mkv,\n");
    ck_assert_msg(milnce_video_list_read(csv, NULL, &l, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(l.n, 4);
    ck_assert_ptr_null(l.v[0].error);
    for (int i = 1; i < 3; i++) {
        ck_assert_ptr_nonnull(l.v[i].error);
        ck_assert_str_eq(l.v[i].category, MILNCE_VIDEO_DUPLICATE);
        ck_assert_msg(strstr(l.v[i].error, "line 2 has it already"), "%s", l.v[i].error);
    }
    ck_assert_msg(strstr(l.v[2].error, "dups.csv:4:"), "%s", l.v[2].error);
    ck_assert_ptr_null(l.v[3].error); /* id "other" */
    milnce_video_list_free(&l);
}
END_TEST

int main(int argc, char **argv) {
    Suite *s = suite_create("video_list");
    TCase *tc = tcase_create("video_list");
    tcase_add_test(tc, test_csv_paths_and_ids);
    tcase_add_test(tc, test_unsafe_ids_refused);
    tcase_add_test(tc, test_duplicate_ids_refused);
    tcase_add_test(tc, test_folder_and_errors);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
