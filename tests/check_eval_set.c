/* io/video/eval_set.c: YouCook2 / MSR-VTT CSV rows -> queries with their video files; which ids may
 * name a file under the video root (the video list's check, dots allowed), where a video is
 * looked for, and the errors naming the file and line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "eval_set.h"
#include "fileutil.h"
#include "testutil.h"

static char dir[4096];

static void write_text(const char *rel, const char *text) {
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void setup(void) {
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    char p[4400];
    snprintf(p, sizeof p, "%s/v", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/v/task1", dir);
    mkdir(p, 0755);
    write_text("v/vidA.mp4", "x");
    write_text("v/task1/vidB.mkv", "x");
    write_text("v/clip.webm", "x");
    write_text("v/vidC.txt", "x"); /* not a video extension */
}

static int read_csv(const char *csv, int msrvtt, milnce_eval_set *s, milnce_error *err) {
    milnce_config cfg;
    milnce_config_defaults(&cfg);
    write_text("set.csv", csv);
    ck_assert_int_eq(milnce_path(cfg.eval.csv, sizeof cfg.eval.csv, NULL, "%s/set.csv", dir), 0);
    ck_assert_int_eq(milnce_path(cfg.eval.video_root, sizeof cfg.eval.video_root, NULL, "%s/v", dir), 0);
    memset(s, 0, sizeof *s);
    return milnce_eval_set_read_csv(&cfg, msrvtt, s, err);
}

/* The path found for row i relative to the root, or "-" for none. */
static const char *found(const milnce_eval_set *s, size_t i) {
    static char rel[4400];
    const char *p = s->v[i].path;
    if (!p) return "-";
    size_t n = strlen(dir) + 3;
    ck_assert_msg(strncmp(p, dir, strlen(dir)) == 0 && strlen(p) > n, "%s", p);
    snprintf(rel, sizeof rel, "%s", p + n);
    return rel;
}

START_TEST(youcook2_rows_and_lookup) {
    setup();
    milnce_eval_set s;
    milnce_error err = {0};
    int ret = read_csv("end,start,task,text,video_id,extra\n"
                       "2,1,x,a,vidA,e\n"            /* <root>/<id>.mp4 */
                       "3,1,task1,b,vidB,e\n"        /* <root>/<task>/<id>.mkv */
                       "4,1,x,c,clip.webm,e\n"       /* an id carrying its extension */
                       "4,1,x,d,..,e\n"              /* never the root's parent */
                       "4,1,x,e,../v/vidA,e\n"       /* a separator */
                       "4,1,x,f,\"vid\x01A\",e\n"    /* a control character */
                       "4,1,../v/task1,g,vidB,e\n"   /* an unsafe task folder */
                       "4,1,x,h,vidC,e\n"            /* no file with a video extension */
                       "4.5,0.25,x,i,nothere,e\n",
                       0, &s, &err);
    ck_assert_msg(ret == 0, "%s", err.msg);
    ck_assert_uint_eq(s.n, 9);
    const char *want[] = {"vidA.mp4", "task1/vidB.mkv", "clip.webm", "-", "-", "-", "-", "-", "-"};
    for (size_t i = 0; i < s.n; i++) ck_assert_msg(strcmp(found(&s, i), want[i]) == 0, "row %zu: %s, want %s", i, found(&s, i), want[i]);
    ck_assert_str_eq(s.v[1].text, "b");
    ck_assert_str_eq(s.v[2].video_id, "clip.webm");
    ck_assert(s.v[8].start == 0.25 && s.v[8].end == 4.5);
    ck_assert_int_eq(s.v[0].shard, -1);
    ck_assert(!milnce_eval_item_same_video(&s.v[0], &s.v[1]));
    milnce_eval_set_free(&s);
}
END_TEST

START_TEST(msrvtt_whole_videos) {
    setup();
    milnce_eval_set s;
    milnce_error err = {0};
    ck_assert_msg(read_csv("key,vid_key,video_id,sentence\nr0,m0,vidA,a man\nr1,m1,vidA,again\n", 1, &s, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(s.n, 2);
    ck_assert(s.v[0].start == 0 && s.v[0].end < 0); /* the whole video: its end once opened */
    ck_assert_str_eq(found(&s, 1), "vidA.mp4");
    ck_assert(milnce_eval_item_same_video(&s.v[0], &s.v[1]));
    milnce_eval_set_free(&s);
}
END_TEST

START_TEST(errors_name_file_and_line) {
    setup();
    milnce_eval_set s;
    milnce_error err = {0};
    ck_assert_int_eq(read_csv("end,start,task,text,video_id\n2,1,x,a,vidA\n2,x,x,b,vidA\n", 0, &s, &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "set.csv:3: bad start/end") != NULL, "%s", err.msg);
    milnce_eval_set_free(&s);
    milnce_error_clear(&err);
    ck_assert_int_eq(read_csv("end,start,task,text,video_id\n1,2,x,a,vidA\n", 0, &s, &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "set.csv:2: end 1 is before start 2") != NULL, "%s", err.msg);
    milnce_eval_set_free(&s);
    milnce_error_clear(&err);
    ck_assert_int_eq(read_csv("end,start,video_id\n2,1,vidA\n", 0, &s, &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "set.csv:1: header lacks text") != NULL, "%s", err.msg);
    milnce_eval_set_free(&s);
    milnce_error_clear(&err);
    ck_assert_int_eq(read_csv("key,vid_key,video_id,sentence\n", 1, &s, &err), MILNCE_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "no rows after the header") != NULL, "%s", err.msg);
    milnce_eval_set_free(&s);
}
END_TEST

int main(int argc, char **argv) {
    Suite *s = suite_create("eval_set");
    TCase *tc = tcase_create("csv");
    tcase_add_test(tc, youcook2_rows_and_lookup);
    tcase_add_test(tc, msrvtt_whole_videos);
    tcase_add_test(tc, errors_name_file_and_line);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
