/* Windowing against tests/reference/window_ref.py, a Python transcription of the reference's
 * _find_nearest_candidates and of the design's symmetric rule, on every anchor of the 40 real
 * HowTo100M caption files read here with milnce_transcript_read. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "transcript.h"
#include "window.h"

static json_t *bags;

static void setup(void) {
    json_error_t je;
    const char *path = tu_fixture("window", "bags.json");
    bags = json_load_file(path, 0, &je);
    ck_assert_msg(bags != NULL, "%s:%d: %s", path, je.line, je.text);
}

static void teardown(void) {
    json_decref(bags);
    bags = NULL;
}

/* The sentences of one fixture file, read by the C transcript reader: start/end (n). */
static size_t read_times(const char *name, double **start, double **end) {
    char rel[512];
    snprintf(rel, sizeof rel, "howto100m/captions/%s", name);
    milnce_transcript_opts o;
    milnce_transcript_opts_default(&o);
    o.keep_empty = 1; /* the reference indexes every row */
    milnce_cues c = {0};
    milnce_error err = {0};
    int ret = milnce_transcript_read(tu_testdata(rel), MILNCE_CAPTIONS_CSV, &o, &c, NULL, &err);
    ck_assert_msg(ret == 0, "%s", err.msg);
    *start = malloc((c.n ? c.n : 1) * sizeof **start);
    *end = malloc((c.n ? c.n : 1) * sizeof **end);
    for (size_t i = 0; i < c.n; i++) {
        (*start)[i] = c.v[i].start;
        (*end)[i] = c.v[i].end;
    }
    size_t n = c.n;
    milnce_cues_free(&c);
    return n;
}

/* Compares the bag with the fixture list (the kept indices). */
static int same_bag(const int64_t *bag, const uint8_t *mask, int count, int slots, json_t *want) {
    if ((size_t)count != json_array_size(want)) return 0;
    for (int i = 0; i < slots; i++) {
        if (i < count) {
            if (!mask[i] || bag[i] != json_integer_value(json_array_get(want, (size_t)i))) return 0;
        } else if (mask[i]) {
            return 0;
        }
    }
    return 1;
}

START_TEST(test_bags_match_reference) {
    json_t *files = json_object_get(bags, "files");
    ck_assert_int_eq(json_array_size(files), 40);
    size_t fi;
    json_t *rec;
    long checked = 0;
    json_array_foreach(files, fi, rec) {
        const char *name = json_string_value(json_object_get(rec, "name"));
        double *st, *en;
        size_t n = read_times(name, &st, &en);
        ck_assert_msg(n == (size_t)json_integer_value(json_object_get(rec, "n")), "%s: %zu sentences, reference %lld",
                      name, n, (long long)json_integer_value(json_object_get(rec, "n")));
        json_t *js = json_object_get(rec, "start"), *je = json_object_get(rec, "end");
        for (size_t a = 0; a < n; a++) {
            ck_assert_msg(st[a] == json_real_value(json_array_get(js, a)), "%s row %zu start", name, a);
            ck_assert_msg(en[a] == json_real_value(json_array_get(je, a)), "%s row %zu end", name, a);
        }
        int64_t bag[16];
        uint8_t mask[16];
        int count;
        milnce_error err = {0};
        const char *key;
        json_t *per_anchor;
        json_object_foreach(json_object_get(rec, "nearest"), key, per_anchor) {
            milnce_window_spec spec = {MILNCE_WINDOW_NEAREST, atoi(key), -1};
            for (size_t a = 0; a < n; a++) {
                ck_assert_int_eq(milnce_window_bag(bag, mask, &count, &spec, st, en, n, a, &err), 0);
                ck_assert_msg(same_bag(bag, mask, count, spec.k, json_array_get(per_anchor, a)),
                              "%s anchor %zu nearest K=%d: first %lld", name, a, spec.k, (long long)bag[0]);
                checked++;
            }
        }
        for (int gap = 0; gap < 2; gap++) {
            json_object_foreach(json_object_get(rec, gap ? "symmetric_gap" : "symmetric"), key, per_anchor) {
                milnce_window_spec spec;
                char s[64];
                snprintf(s, sizeof s, "symmetric:%s", key);
                ck_assert_int_eq(milnce_window_spec_parse(s, &spec, &err), 0);
                ck_assert(gap ? spec.max_gap >= 0 : spec.max_gap < 0);
                for (size_t a = 0; a < n; a++) {
                    ck_assert_int_eq(milnce_window_bag(bag, mask, &count, &spec, st, en, n, a, &err), 0);
                    ck_assert_msg(same_bag(bag, mask, count, 2 * spec.k + 1, json_array_get(per_anchor, a)),
                                  "%s anchor %zu %s: count %d", name, a, s, count);
                    for (int i = count; i < 2 * spec.k + 1; i++) ck_assert_int_eq(bag[i], (int64_t)a);
                    checked++;
                }
            }
        }
        json_t *spans = json_object_get(rec, "span");
        for (size_t a = 0; a < n; a++) {
            double s, e;
            milnce_clip_span(&s, &e, st[a], en[a], 5.0);
            json_t *w = json_array_get(spans, a);
            ck_assert_double_eq_tol(s, json_real_value(json_array_get(w, 0)), 1e-12);
            ck_assert_double_eq_tol(e, json_real_value(json_array_get(w, 1)), 1e-12);
            for (int c = 0; c < 2; c++) { /* whole-second clip starts, 16 and 8 frames at 5 fps */
                double len = c ? 1.6 : 3.2;
                json_t *r = json_array_get(json_object_get(json_object_get(rec, "start_range"), c ? "1.6" : "3.2"), a);
                int64_t lo, hi;
                milnce_clip_start_range(s, e, len, &lo, &hi);
                ck_assert_int_eq(lo, json_integer_value(json_array_get(r, 0)));
                ck_assert_int_eq(hi, json_integer_value(json_array_get(r, 1)));
                ck_assert_int_le(lo, hi);
            }
        }
        free(st);
        free(en);
    }
    ck_assert_int_gt(checked, 40000);
}
END_TEST

/* Hand-worked cases of the reference rule, independent of the fixture. */
START_TEST(test_nearest_by_hand) {
    /* Sentences at 0-1, 1-2, 10-11, 11.5-12, 12-13. */
    const double st[] = {0, 1, 10, 11.5, 12}, en[] = {1, 2, 11, 12, 13};
    int64_t bag[8];
    /* Anchor 2, K=3: left span 11-1=10, right 12-10=2 -> right (e=3); then left 12-1=11 vs
     * right 13-10=3 -> right: 2,3,4. */
    ck_assert_int_eq(milnce_window_nearest(bag, st, en, 5, 2, 3, NULL), 0);
    ck_assert_int_eq(bag[0], 2); ck_assert_int_eq(bag[1], 3); ck_assert_int_eq(bag[2], 4);
    /* Anchor 3, K=4: right (13-11.5 < 12-10)... left 12-10=2 vs right 13-11.5=1.5 -> right, e=4
     * is last: start 3 - (4-2) = 1: 1,2,3,4. */
    ck_assert_int_eq(milnce_window_nearest(bag, st, en, 5, 3, 4, NULL), 0);
    ck_assert_int_eq(bag[0], 1); ck_assert_int_eq(bag[3], 4);
    /* Anchor 1: left 2-0=2 vs right 11-1=10 -> left to 0, then "starts at 0": 0,1,2. */
    ck_assert_int_eq(milnce_window_nearest(bag, st, en, 5, 1, 3, NULL), 0);
    ck_assert_int_eq(bag[0], 0); ck_assert_int_eq(bag[2], 2);
    /* Fewer sentences than K: the window starts at 1 - 3 = -2, clamped: 0,0,0,1. */
    ck_assert_int_eq(milnce_window_nearest(bag, st, en, 2, 1, 4, NULL), 0);
    ck_assert_int_eq(bag[0], 0); ck_assert_int_eq(bag[1], 0); ck_assert_int_eq(bag[2], 0); ck_assert_int_eq(bag[3], 1);
    ck_assert_int_eq(milnce_window_nearest(bag, st, en, 1, 0, 3, NULL), 0);
    ck_assert_int_eq(bag[0], 0); ck_assert_int_eq(bag[2], 0);
    /* Ties extend right. */
    const double ts[] = {0, 2, 4}, te[] = {2, 4, 6};
    ck_assert_int_eq(milnce_window_nearest(bag, ts, te, 3, 1, 2, NULL), 0);
    ck_assert_int_eq(bag[0], 1); ck_assert_int_eq(bag[1], 2);
    milnce_error err = {0};
    ck_assert_int_eq(milnce_window_nearest(bag, st, en, 5, 5, 3, &err), MILNCE_ERR_INVALID);
    ck_assert_int_eq(milnce_window_nearest(bag, st, en, 0, 0, 3, &err), MILNCE_ERR_INVALID);
    ck_assert_int_eq(milnce_window_nearest(bag, st, en, 5, 0, 0, &err), MILNCE_ERR_INVALID);
}
END_TEST

START_TEST(test_symmetric_and_span_by_hand) {
    const double st[] = {0, 1, 10, 11.5, 12}, en[] = {1, 2, 11, 12, 13};
    int64_t bag[8];
    uint8_t mask[8];
    int count;
    /* Anchor 2, k=2, max_gap 3: left gap 10-2=8 > 3 -> none; right 11.5-11, 12-11 kept. */
    ck_assert_int_eq(milnce_window_symmetric(bag, mask, &count, st, en, 5, 2, 2, 3.0, NULL), 0);
    ck_assert_int_eq(count, 3);
    ck_assert_int_eq(bag[0], 2); ck_assert_int_eq(bag[2], 4);
    ck_assert_int_eq(mask[2], 1); ck_assert_int_eq(mask[3], 0); ck_assert_int_eq(bag[3], 2);
    /* No limit: 0..4. */
    ck_assert_int_eq(milnce_window_symmetric(bag, mask, &count, st, en, 5, 2, 2, -1, NULL), 0);
    ck_assert_int_eq(count, 5);
    ck_assert_int_eq(bag[0], 0); ck_assert_int_eq(bag[4], 4);
    /* k = 0: the anchor alone. */
    ck_assert_int_eq(milnce_window_symmetric(bag, mask, &count, st, en, 5, 4, 0, -1, NULL), 0);
    ck_assert_int_eq(count, 1); ck_assert_int_eq(bag[0], 4);
    double s, e;
    milnce_clip_span(&s, &e, 10, 12, 5); /* 3 s missing: 8.5 .. 13.5 */
    ck_assert_double_eq(s, 8.5); ck_assert_double_eq(e, 13.5);
    milnce_clip_span(&s, &e, 1, 2, 5); /* would start at -1: 0 .. 5 */
    ck_assert_double_eq(s, 0); ck_assert_double_eq(e, 5);
    milnce_clip_span(&s, &e, 3, 20, 5);
    ck_assert_double_eq(s, 3); ck_assert_double_eq(e, 20);
    milnce_window_spec spec;
    milnce_error err = {0};
    ck_assert_int_eq(milnce_window_spec_parse("nearest:5", &spec, &err), 0);
    ck_assert_int_eq(milnce_window_bag_size(&spec), 5);
    ck_assert_int_eq(milnce_window_spec_parse("symmetric:2:1.5", &spec, &err), 0);
    ck_assert_int_eq(milnce_window_bag_size(&spec), 5);
    ck_assert_double_eq(spec.max_gap, 1.5);
    const char *bad[] = {"nearest:0", "nearest", "nearest:2:1", "symmetric:-1", "wide:3", "symmetric:1:x", "nearest:3x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(milnce_window_spec_parse(bad[i], &spec, &err), MILNCE_ERR_INVALID);
        ck_assert_msg(strstr(err.msg, bad[i]), "%s", err.msg);
    }
}
END_TEST

/* Spans beyond any video (a corrupt or hostile time) are clamped before the int64 casts: no
 * undefined behaviour (the sanitizer build checks float-cast-overflow), a usable range. */
START_TEST(test_start_range_huge_times) {
    int64_t lo = -1, hi = -1;
    milnce_clip_start_range(3.6e23, 3.6e23 + 5, 1.6, &lo, &hi);
    ck_assert_int_eq(lo, 10000000);
    ck_assert_int_eq(hi, 10000000);
    milnce_clip_start_range(NAN, INFINITY, 1.6, &lo, &hi);
    ck_assert_int_eq(lo, 0);
    ck_assert_int_eq(hi, 9999998);
    milnce_clip_start_range(-1e30, 4, 1.6, &lo, &hi);
    ck_assert_int_eq(lo, 0);
    ck_assert_int_eq(hi, 2);
}
END_TEST

int main(int argc, char **argv) {
    tu_need_fixtures("window");
    Suite *s = suite_create("window");
    TCase *tc = tcase_create("reference");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_bags_match_reference);
    suite_add_tcase(s, tc);
    TCase *th = tcase_create("by_hand");
    tcase_add_test(th, test_nearest_by_hand);
    tcase_add_test(th, test_symmetric_and_span_by_hand);
    tcase_add_test(th, test_start_range_huge_times);
    suite_add_tcase(s, th);
    return tu_run(s, argc, argv);
}
