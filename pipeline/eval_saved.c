/* `milnce eval --embeddings DIR`: the embeddings an earlier `eval --save-embeddings` wrote,
 * scored again without a checkpoint or videos (pipeline/eval.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eval_score.h"
#include "fileutil.h"
#include "npy.h"

/* DIR/name: float32 (rows, cols), or an error naming the file. */
static int read_matrix(const char *dir, const char *name, float **out, int64_t *rows, int64_t *cols, milnce_error *err) {
    char p[MILNCE_PATH_MAX];
    int64_t shape[8] = {0};
    int ndim = 0, ret = milnce_path(p, sizeof p, err, "%s/%s", dir, name);
    if (ret < 0 || (ret = milnce_npy_read_f32(p, out, &ndim, shape, err)) < 0) return ret;
    if (ndim != 2 || shape[0] < 1 || shape[1] < 1) {
        free(*out);
        *out = NULL;
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: %d-d array, (N, D) expected", p, ndim);
    }
    *rows = shape[0];
    *cols = shape[1];
    return 0;
}

static int parse_span(const char *s, double *out) {
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return end == s || *end || errno ? -1 : 0;
}

/* DIR/eval_ids.txt: n lines "<video id>\t<start>\t<end>\t<query>" into r's ids, spans, queries. */
static int read_ids(const char *dir, milnce_eval_result *r, milnce_error *err) {
    char p[MILNCE_PATH_MAX], *buf = NULL;
    size_t len = 0, n = r->n, i = 0, line = 0;
    int ret = milnce_path(p, sizeof p, err, "%s/eval_ids.txt", dir);
    if (ret < 0 || (ret = milnce_read_file(p, 0, &buf, &len, NULL, err)) < 0) return ret;
    for (char *s = buf, *nl; s < buf + len; s = nl + 1) {
        line++;
        nl = memchr(s, '\n', (size_t)(buf + len - s));
        if (!nl) { ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%zu: last line has no line end", p, line); break; }
        *nl = '\0';
        char *f[4] = {s, NULL, NULL, NULL};
        for (int k = 1; k < 4 && f[k - 1]; k++) {
            char *tab = strchr(f[k - 1], '\t');
            if (tab) { *tab = '\0'; f[k] = tab + 1; }
        }
        if (i >= n) { ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%zu: more rows than the %zu embeddings", p, line, n); break; }
        if (!f[3] || parse_span(f[1], &r->start[i]) < 0 || parse_span(f[2], &r->end[i]) < 0) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%zu: \"<video id>\\t<start>\\t<end>\\t<query>\" expected", p, line);
            break;
        }
        r->video_ids[i] = strdup(f[0]);
        r->queries[i] = strdup(f[3]);
        if (!r->video_ids[i] || !r->queries[i]) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s", p); break; }
        i++;
    }
    if (ret == 0 && i != n) ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: %zu rows for %zu embeddings", p, i, n);
    free(buf);
    return ret;
}

/* The embeddings and their rows into r (n, dim, text, video, ids, spans, rank buffers). */
static int load_saved(const char *dir, milnce_eval_result *r, milnce_error *err) {
    int64_t tn, td, vn, vd;
    int ret;
    if ((ret = read_matrix(dir, "eval_text.npy", &r->text, &tn, &td, err)) < 0 ||
        (ret = read_matrix(dir, "eval_video.npy", &r->video, &vn, &vd, err)) < 0)
        return ret;
    if (tn != vn || td != vd)
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: eval_text.npy is (%lld, %lld), eval_video.npy (%lld, %lld): one shape expected",
                                dir, (long long)tn, (long long)td, (long long)vn, (long long)vd);
    r->n = r->rows = (size_t)tn;
    r->dim = (size_t)td;
    size_t n = r->n;
    r->t2v_rank = malloc(n * sizeof *r->t2v_rank);
    r->v2t_rank = malloc(n * sizeof *r->v2t_rank);
    r->video_ids = calloc(n, sizeof *r->video_ids);
    r->queries = calloc(n, sizeof *r->queries);
    r->start = malloc(n * sizeof *r->start);
    r->end = malloc(n * sizeof *r->end);
    if (!r->t2v_rank || !r->v2t_rank || !r->video_ids || !r->queries || !r->start || !r->end)
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "%zu queries", n);
    return read_ids(dir, r, err);
}

/* DIR/eval.json of the run that saved the embeddings, or a new object when there is none. */
static json_t *base_json(const char *dir, const milnce_logger *lg) {
    char p[MILNCE_PATH_MAX];
    struct stat st;
    if (milnce_path(p, sizeof p, NULL, "%s/eval.json", dir) < 0 || stat(p, &st) < 0) return json_object();
    json_error_t je;
    json_t *root = json_load_file(p, 0, &je);
    if (json_is_object(root)) return root;
    milnce_log(lg, MILNCE_LOG_WARN, "%s: %s; its fields are not carried over", p, root ? "not a JSON object" : je.text);
    json_decref(root);
    return json_object();
}

typedef struct thumb_seen { const char *out_dir; } thumb_seen;

/* A thumbnail the earlier run wrote for item j (same rows, same order), if it is there. */
static int existing_thumb(void *user, size_t j, char *rel, size_t cap, milnce_error *err) {
    const thumb_seen *t = user;
    char p[MILNCE_PATH_MAX];
    struct stat st;
    (void)err;
    if (milnce_path(rel, cap, NULL, "thumbs/item-%06zu.jpg", j) < 0 || milnce_path(p, sizeof p, NULL, "%s/%s", t->out_dir, rel) < 0)
        return 1;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) ? 0 : 1;
}

int milnce_eval_score_saved(const milnce_eval_saved_opts *o, milnce_eval_result *res, milnce_error *err) {
    memset(res, 0, sizeof *res);
    json_t *root = NULL;
    int ret = milnce_path(res->out_dir, sizeof res->out_dir, err, "%s", o->out_dir && o->out_dir[0] ? o->out_dir : o->dir);
    if (ret < 0 || (ret = load_saved(o->dir, res, err)) < 0) goto end;
    root = base_json(o->dir, o->lg);
    const char *ties = o->ties ? o->ties : json_string_value(json_object_get(root, "ties"));
    int official = ties && strcmp(ties, "official") == 0;
    snprintf(res->dataset, sizeof res->dataset, "%s", json_string_value(json_object_get(root, "dataset")) ? json_string_value(json_object_get(root, "dataset")) : o->dir);
    snprintf(res->format, sizeof res->format, "%s", json_string_value(json_object_get(root, "format")) ? json_string_value(json_object_get(root, "format")) : "embeddings");
    if ((ret = milnce_eval_score(res, official, o->dir, o->lg, err)) < 0) goto end;
    milnce_eval_score_json(root, res, official);
    thumb_seen ts = {res->out_dir};
    json_object_set_new(root, "examples", milnce_eval_examples_json(res, o->num_examples, o->top, existing_thumb, &ts, o->lg));
    json_object_set_new(root, "embeddings", json_string(o->dir));
    ret = milnce_eval_write_json(root, res, err);
end:
    json_decref(root);
    if (ret < 0) milnce_eval_result_free(res);
    return ret;
}
