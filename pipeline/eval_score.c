/* Scoring of clip and text embeddings and eval.json (pipeline/eval_score.h). */
#include "eval_score.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileutil.h"
#include "npy.h"

#define IDENTICAL_WARN_FRACTION 0.02 /* clips sharing an embedding with a different clip */

static json_t *recall_json(const milnce_recall *r) {
    json_t *o = json_object();
    json_object_set_new(o, "r1", json_real(r->r1));
    json_object_set_new(o, "r5", json_real(r->r5));
    json_object_set_new(o, "r10", json_real(r->r10));
    json_object_set_new(o, "median_rank", json_real(r->median_rank));
    json_object_set_new(o, "mean_rank", json_real(r->mean_rank));
    return o;
}

static int cmp_rows(const void *a, const void *b, void *user) {
    const milnce_eval_result *r = user;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = memcmp(r->video + i * r->dim, r->video + j * r->dim, r->dim * sizeof(float));
    return c ? c : (i > j) - (i < j);
}

/* Kept clips whose video embedding equals, bit for bit, that of a clip with another video or span. */
static size_t identical_clips(const milnce_eval_result *r) {
    size_t n = r->n, *ord = malloc(n * sizeof *ord), count = 0;
    if (!ord) return 0;
    for (size_t i = 0; i < n; i++) ord[i] = i;
    qsort_r(ord, n, sizeof *ord, cmp_rows, (void *)r);
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && memcmp(r->video + ord[a] * r->dim, r->video + ord[b] * r->dim, r->dim * sizeof(float)) == 0) b++;
        /* a group: its members count unless they are all the same clip */
        int differ = 0;
        for (size_t k = a + 1; k < b && !differ; k++) {
            size_t x = ord[a], y = ord[k];
            differ = strcmp(r->video_ids[x], r->video_ids[y]) != 0 || r->start[x] != r->start[y] || r->end[x] != r->end[y];
        }
        if (differ) count += b - a;
        a = b;
    }
    free(ord);
    return count;
}

int milnce_eval_score(milnce_eval_result *r, int official, const char *what, const milnce_logger *lg,
                      milnce_error *err) {
    size_t n = r->n;
    int64_t *ties_t = NULL, *ties_v = NULL;
    int ret = 0;
    r->identical_video = identical_clips(r);
    if ((double)r->identical_video > IDENTICAL_WARN_FRACTION * (double)n)
        milnce_log(lg, MILNCE_LOG_WARN, "%zu of %zu clips (%.1f%%) have exactly the embedding of a different clip: their frames are probably "
                   "identical (blank, frozen or past the video's end); check the segments and the videos", r->identical_video, n,
                   100.0 * (double)r->identical_video / (double)n);
    ties_t = official ? malloc(n * sizeof *ties_t) : NULL;
    ties_v = official ? malloc(n * sizeof *ties_v) : NULL;
    if (official && (!ties_t || !ties_v)) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%zu tie counts", n); goto end; }
    if ((ret = milnce_ranks_blocked_ties(r->text, r->video, n, r->dim, 0, r->t2v_rank, r->v2t_rank, ties_t, ties_v, err)) < 0) {
        milnce_error_prefix(err, "%s", what);
        goto end;
    }
    if (official) {
        if (milnce_recall_official(r->t2v_rank, ties_t, n, &r->t2v) < 0 || milnce_recall_official(r->v2t_rank, ties_v, n, &r->v2t) < 0) {
            ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%zu tie counts", n);
            goto end;
        }
    } else {
        milnce_recall_from_ranks(r->t2v_rank, n, &r->t2v);
        milnce_recall_from_ranks(r->v2t_rank, n, &r->v2t);
    }
    r->chance_r1 = 100.0 / n;
    r->chance_r5 = 100.0 * (n < 5 ? n : 5) / n;
    r->chance_r10 = 100.0 * (n < 10 ? n : 10) / n;
end:
    free(ties_t);
    free(ties_v);
    return ret;
}

void milnce_eval_score_json(json_t *root, const milnce_eval_result *r, int official) {
    size_t n = r->n;
    json_object_set_new(root, "n", json_integer((json_int_t)n));
    json_object_set_new(root, "dim", json_integer((json_int_t)r->dim));
    json_object_set_new(root, "ties", json_string(official ? "official" : "optimistic"));
    json_object_set_new(root, "tie_rule", json_string(official ? MILNCE_EVAL_TIE_RULE_OFFICIAL : MILNCE_EVAL_TIE_RULE));
    json_object_set_new(root, "identical_video_embeddings", json_integer((json_int_t)r->identical_video));
    json_object_set_new(root, "t2v", recall_json(&r->t2v));
    json_object_set_new(root, "v2t", recall_json(&r->v2t));
    json_t *ch = json_object();
    json_object_set_new(ch, "r1", json_real(r->chance_r1));
    json_object_set_new(ch, "r5", json_real(r->chance_r5));
    json_object_set_new(ch, "r10", json_real(r->chance_r10));
    json_object_set_new(ch, "median_rank", json_real((n + 1) / 2.0));
    json_object_set_new(ch, "mean_rank", json_real((n + 1) / 2.0));
    json_object_set_new(root, "chance", ch);
}

/* One example: query q with its top videos by score sc (n). */
static json_t *example_json(const milnce_eval_result *r, size_t q, int top, const float *sc, uint8_t *taken, char **thumb,
                            uint8_t *failed, milnce_eval_thumb_fn thumb_fn, void *user, const milnce_logger *lg) {
    size_t n = r->n;
    memset(taken, 0, n);
    json_t *ex = json_object(), *tops = json_array();
    json_object_set_new(ex, "query", json_string(r->queries[q]));
    json_object_set_new(ex, "gt_video", json_string(r->video_ids[q]));
    json_object_set_new(ex, "gt_start", json_real(r->start[q]));
    json_object_set_new(ex, "gt_end", json_real(r->end[q]));
    json_object_set_new(ex, "rank", json_integer(r->t2v_rank[q]));
    for (int t = 0; t < top; t++) {
        size_t best = n;
        for (size_t j = 0; j < n; j++)
            if (!taken[j] && (best == n || sc[j] > sc[best])) best = j;
        taken[best] = 1;
        json_t *e = json_object();
        json_object_set_new(e, "video_id", json_string(r->video_ids[best]));
        json_object_set_new(e, "start", json_real(r->start[best]));
        json_object_set_new(e, "end", json_real(r->end[best]));
        json_object_set_new(e, "score", json_real(isfinite(sc[best]) ? sc[best] : 0));
        json_object_set_new(e, "correct", json_boolean(best == q));
        if (thumb_fn && !thumb[best] && !failed[best]) {
            char rel[256];
            milnce_error e2 = {0};
            int got = thumb_fn(user, best, rel, sizeof rel, &e2);
            if (got < 0) milnce_log(lg, MILNCE_LOG_WARN, "thumbnail of %s: %s", r->video_ids[best], e2.msg);
            if (got == 0) thumb[best] = strdup(rel);
            else failed[best] = 1;
        }
        if (thumb[best]) json_object_set_new(e, "thumbnail", json_string(thumb[best]));
        json_array_append_new(tops, e);
    }
    json_object_set_new(ex, "top", tops);
    return ex;
}

json_t *milnce_eval_examples_json(const milnce_eval_result *r, int num_examples, int top, milnce_eval_thumb_fn thumb_fn,
                                  void *user, const milnce_logger *lg) {
    json_t *arr = json_array();
    int ne = num_examples == 0 ? 5 : num_examples;
    top = top > 0 ? top : 5;
    if (ne <= 0) return arr;
    size_t n = r->n, D = r->dim;
    if ((size_t)ne > n) ne = (int)n;
    if ((size_t)top > n) top = (int)n;
    float *sc = malloc(n * sizeof *sc);
    uint8_t *taken = malloc(n);
    char **thumb = calloc(n, sizeof *thumb); /* written thumbnails, by item */
    uint8_t *failed = calloc(n, 1);
    if (!sc || !taken || !thumb || !failed) goto end;
    for (int k = 0; k < ne; k++) {
        size_t q = (size_t)k * n / (size_t)ne;
        for (size_t j = 0; j < n; j++) {
            double d = 0;
            for (size_t c = 0; c < D; c++) d += (double)r->text[q * D + c] * r->video[j * D + c];
            sc[j] = (float)d;
        }
        json_array_append_new(arr, example_json(r, q, top, sc, taken, thumb, failed, thumb_fn, user, lg));
    }
end:
    if (thumb)
        for (size_t j = 0; j < n; j++) free(thumb[j]);
    free(thumb);
    free(failed);
    free(sc);
    free(taken);
    return arr;
}

int milnce_eval_write_json(json_t *root, milnce_eval_result *r, milnce_error *err) {
    int ret = milnce_mkdirs(r->out_dir, err);
    if (ret < 0) return ret;
    char *js = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(12));
    if (!js) return milnce_error_set(err, MILNCE_ERR_NOMEM, "eval.json");
    milnce_atomic_file af;
    if ((ret = milnce_path(r->json_path, sizeof r->json_path, err, "%s/eval.json", r->out_dir)) < 0 ||
        (ret = milnce_atomic_open(&af, r->json_path, err)) < 0)
        goto end;
    if ((ret = milnce_atomic_write(&af, js, strlen(js), err)) < 0 || (ret = milnce_atomic_write(&af, "\n", 1, err)) < 0) {
        milnce_atomic_abort(&af);
        goto end;
    }
    ret = milnce_atomic_commit(&af, err);
end:
    free(js);
    return ret;
}

static int write_ids(const char *path, char *const *ids, const double *st, const double *en, char *const *q,
                     size_t n, milnce_error *err) {
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s", path);
    for (size_t i = 0; i < n; i++) {
        fprintf(mem, "%s\t%.3f\t%.3f\t", ids[i], st[i], en[i]);
        for (const char *c = q[i]; *c; c++) fputc(*c == '\n' || *c == '\r' || *c == '\t' ? ' ' : *c, mem);
        fputc('\n', mem);
    }
    fclose(mem);
    int ret = milnce_write_file_atomic(path, buf, len, err);
    free(buf);
    return ret;
}

int milnce_eval_save_embeddings(const milnce_eval_result *r, milnce_error *err) {
    char p[MILNCE_PATH_MAX];
    int64_t shape[2] = {(int64_t)r->n, (int64_t)r->dim};
    int ret;
    if ((ret = milnce_path(p, sizeof p, err, "%s/eval_text.npy", r->out_dir)) < 0 ||
        (ret = milnce_npy_write(p, MILNCE_NPY_F32, 2, shape, r->text, err)) < 0)
        return ret;
    if ((ret = milnce_path(p, sizeof p, err, "%s/eval_video.npy", r->out_dir)) < 0 ||
        (ret = milnce_npy_write(p, MILNCE_NPY_F32, 2, shape, r->video, err)) < 0)
        return ret;
    if ((ret = milnce_path(p, sizeof p, err, "%s/eval_ids.txt", r->out_dir)) < 0) return ret;
    return write_ids(p, r->video_ids, r->start, r->end, r->queries, r->n, err);
}

void milnce_eval_result_free(milnce_eval_result *r) {
    if (r->video_ids)
        for (size_t i = 0; i < r->n; i++) free(r->video_ids[i]);
    if (r->queries)
        for (size_t i = 0; i < r->n; i++) free(r->queries[i]);
    free(r->video_ids); free(r->queries);
    free(r->text); free(r->video); free(r->t2v_rank); free(r->v2t_rank); free(r->start); free(r->end);
    memset(r, 0, sizeof *r);
}
