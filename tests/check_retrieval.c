/* Retrieval metrics against the independent numpy implementation (tests/reference/retrieval_ref.py),
 * including tied scores, and the blocked path against the full-matrix path. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "retrieval.h"
#include "testutil.h"

static void load(const char *name, milnce_npy *a) {
    milnce_error err = {0};
    ck_assert_msg(milnce_npy_read(tu_fixture("retrieval", name), a, &err) == 0, "%s", err.msg);
}

static void check_metrics(const milnce_recall *r, json_t *exp, const char *what) {
    static const char *keys[] = {"r1", "r5", "r10", "median_rank", "mean_rank"};
    double got[] = {r->r1, r->r5, r->r10, r->median_rank, r->mean_rank};
    for (int i = 0; i < 5; i++) {
        double e = json_real_value(json_object_get(exp, keys[i]));
        if (json_is_integer(json_object_get(exp, keys[i])))
            e = (double)json_integer_value(json_object_get(exp, keys[i]));
        ck_assert_msg(fabs(got[i] - e) < 1e-9, "%s %s: C %g numpy %g", what, keys[i], got[i], e);
    }
}

START_TEST(test_scores_match_numpy) {
    static const char *cases[] = {"random1", "random2", "random37", "random100", "ties", "const"};
    json_error_t je;
    json_t *all = json_load_file(tu_fixture("retrieval", "metrics.json"), 0, &je);
    ck_assert_msg(all != NULL, "%s", je.text);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char name[64];
        milnce_npy S, t2v, v2t;
        snprintf(name, sizeof name, "%s.npy", cases[c]);
        load(name, &S);
        snprintf(name, sizeof name, "%s_t2v.npy", cases[c]);
        load(name, &t2v);
        snprintf(name, sizeof name, "%s_v2t.npy", cases[c]);
        load(name, &v2t);
        size_t n = (size_t)S.shape[0];
        int64_t *rt = malloc(n * sizeof *rt), *rv = malloc(n * sizeof *rv);
        milnce_ranks_from_scores(S.data, n, rt, rv);
        ck_assert_mem_eq(rt, t2v.data, n * sizeof *rt);
        ck_assert_mem_eq(rv, v2t.data, n * sizeof *rv);
        milnce_recall r;
        json_t *exp = json_object_get(all, cases[c]);
        milnce_recall_from_ranks(rt, n, &r);
        check_metrics(&r, json_object_get(exp, "t2v"), cases[c]);
        milnce_recall_from_ranks(rv, n, &r);
        check_metrics(&r, json_object_get(exp, "v2t"), cases[c]);
        free(rt);
        free(rv);
        milnce_npy_free(&S);
        milnce_npy_free(&t2v);
        milnce_npy_free(&v2t);
    }
    json_decref(all);
}
END_TEST

START_TEST(test_blocked_matches_numpy_with_ties) {
    milnce_npy T, V, et, ev;
    load("emb_text.npy", &T);
    load("emb_video.npy", &V);
    load("emb_t2v.npy", &et);
    load("emb_v2t.npy", &ev);
    size_t n = (size_t)T.shape[0], d = (size_t)T.shape[1];
    int64_t *rt = malloc(n * sizeof *rt), *rv = malloc(n * sizeof *rv);
    /* Blocks that divide n, that do not, and one block holding everything. */
    static const size_t blocks[] = {1, 7, 64, 300, 1000};
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        milnce_error err = {0};
        ck_assert_int_eq(milnce_ranks_blocked(T.data, V.data, n, d, blocks[b], rt, rv, &err), 0);
        for (size_t i = 0; i < n; i++) {
            ck_assert_msg(rt[i] == ((int64_t *)et.data)[i], "block %zu t2v[%zu] %lld vs %lld", blocks[b], i,
                          (long long)rt[i], (long long)((int64_t *)et.data)[i]);
            ck_assert_msg(rv[i] == ((int64_t *)ev.data)[i], "block %zu v2t[%zu]", blocks[b], i);
        }
    }
    free(rt);
    free(rv);
    milnce_npy_free(&T);
    milnce_npy_free(&V);
    milnce_npy_free(&et);
    milnce_npy_free(&ev);
}
END_TEST

/* ground-truth rank and ties of every row of S (n x n), directly */
static void row_ranks(const float *S, size_t n, int transpose, int64_t *rank, int64_t *ties) {
    for (size_t i = 0; i < n; i++) {
        float gt = S[i * n + i];
        rank[i] = 1;
        ties[i] = 0;
        for (size_t j = 0; j < n; j++) {
            float x = transpose ? S[j * n + i] : S[i * n + j];
            if (x > gt) rank[i]++;
            if (x == gt && j != i) ties[i]++;
        }
    }
}

START_TEST(test_official_ties_match_numpy) {
    static const char *cases[] = {"random37", "random100", "ties", "const"};
    json_error_t je;
    json_t *all = json_load_file(tu_fixture("retrieval", "metrics.json"), 0, &je);
    ck_assert_msg(all != NULL, "%s", je.text);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char name[64];
        milnce_npy S;
        snprintf(name, sizeof name, "%s.npy", cases[c]);
        load(name, &S);
        size_t n = (size_t)S.shape[0];
        int64_t *rk = malloc(n * sizeof *rk), *ti = malloc(n * sizeof *ti);
        json_t *exp = json_object_get(all, cases[c]);
        milnce_recall r;
        for (int dir = 0; dir < 2; dir++) {
            row_ranks(S.data, n, dir, rk, ti);
            ck_assert_int_eq(milnce_recall_official(rk, ti, n, &r), 0);
            snprintf(name, sizeof name, "%s official %s", cases[c], dir ? "v2t" : "t2v");
            check_metrics(&r, json_object_get(exp, dir ? "v2t_official" : "t2v_official"), name);
        }
        free(rk);
        free(ti);
        milnce_npy_free(&S);
    }
    /* the blocked path's tie counts give the same figures */
    milnce_npy T, V;
    load("emb_text.npy", &T);
    load("emb_video.npy", &V);
    size_t n = (size_t)T.shape[0], d = (size_t)T.shape[1];
    int64_t *rt = malloc(n * sizeof *rt), *rv = malloc(n * sizeof *rv), *tt = malloc(n * sizeof *tt), *tv = malloc(n * sizeof *tv);
    static const size_t blocks[] = {7, 1000};
    for (size_t b = 0; b < 2; b++) {
        milnce_error err = {0};
        ck_assert_int_eq(milnce_ranks_blocked_ties(T.data, V.data, n, d, blocks[b], rt, rv, tt, tv, &err), 0);
        milnce_recall r;
        json_t *exp = json_object_get(json_object_get(all, "emb"), "t2v_official");
        ck_assert_int_eq(milnce_recall_official(rt, tt, n, &r), 0);
        check_metrics(&r, exp, "emb official t2v");
        ck_assert_int_eq(milnce_recall_official(rv, tv, n, &r), 0);
        check_metrics(&r, json_object_get(json_object_get(all, "emb"), "v2t_official"), "emb official v2t");
    }
    int64_t anyties = 0;
    for (size_t i = 0; i < n; i++) anyties += tt[i] + tv[i];
    ck_assert_msg(anyties > 0, "fixture without ties: the official rule is not exercised");
    free(rt); free(rv); free(tt); free(tv);
    milnce_npy_free(&T);
    milnce_npy_free(&V);
    json_decref(all);
}
END_TEST

START_TEST(test_nonfinite_scores_are_an_error) {
    float T[4 * 2] = {1, 0, 0, 1, 1, 1, 0.5f, 0.5f}, V[4 * 2] = {1, 0, 0, 1, 1, 1, 0.5f, 0.5f};
    int64_t rt[4], rv[4];
    milnce_error err = {0};
    ck_assert_int_eq(milnce_ranks_blocked(T, V, 4, 2, 0, rt, rv, &err), 0);
    V[5] = INFINITY; /* item 2 */
    ck_assert_int_eq(milnce_ranks_blocked(T, V, 4, 2, 0, rt, rv, &err), MILNCE_ERR_NUMERIC);
    V[5] = 1;
    T[0] = NAN; /* query 0 against every item */
    ck_assert_int_eq(milnce_ranks_blocked(T, V, 4, 2, 2, rt, rv, &err), MILNCE_ERR_NUMERIC);
    ck_assert_msg(strstr(err.msg, "non-finite") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_empty_and_perfect) {
    milnce_recall r;
    milnce_recall_from_ranks(NULL, 0, &r);
    ck_assert_uint_eq(r.n, 0);
    int64_t ranks[] = {1, 1, 1, 12};
    milnce_recall_from_ranks(ranks, 4, &r);
    ck_assert_double_eq(r.r1, 75.0);
    ck_assert_double_eq(r.r10, 75.0);
    ck_assert_double_eq(r.median_rank, 1.0);
    ck_assert_double_eq(r.mean_rank, 15.0 / 4);
}
END_TEST

int main(int argc, char **argv) {
    tu_need_fixtures("retrieval");
    Suite *s = suite_create("retrieval");
    TCase *tc = tcase_create("retrieval");
    tcase_add_test(tc, test_scores_match_numpy);
    tcase_add_test(tc, test_blocked_matches_numpy_with_ties);
    tcase_add_test(tc, test_empty_and_perfect);
    tcase_add_test(tc, test_official_ties_match_numpy);
    tcase_add_test(tc, test_nonfinite_scores_are_an_error);
    suite_add_tcase(s, tc);
    return tu_run(s, argc, argv);
}
