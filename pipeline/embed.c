/* `milnce embed`: videos (every window, or their mean) or sentences -> <prefix>.npy + .ids.txt.
 * See pipeline/eval.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "fileutil.h"
#include "npy.h"
#include "video_list.h"

typedef struct rows {
    float *v;      /* (n, D) */
    size_t n, cap, D;
} rows;

static float *rows_add(rows *r, size_t k, milnce_error *err) {
    if (r->n + k > r->cap) {
        size_t cap = r->cap ? r->cap : 64;
        while (cap < r->n + k) cap *= 2;
        float *v = realloc(r->v, cap * r->D * sizeof *v);
        if (!v) {
            milnce_error_set(err, MILNCE_ERR_NOMEM, "%zu embeddings", cap);
            return NULL;
        }
        r->v = v;
        r->cap = cap;
    }
    float *p = r->v + r->n * r->D;
    r->n += k;
    return p;
}

/* Window starts of a whole video: n evenly spaced, or every stride seconds for the windows that
 * fit entirely (a video shorter than one window gives one, zero-padded, at 0). */
static int video_windows(double duration, double clip_len, int n, double stride, double **out, int *count) {
    int k;
    if (n > 0) k = n;
    else if (duration <= clip_len) k = 1;
    else k = 1 + (int)floor((duration - clip_len) / stride + 1e-9);
    double *s = malloc((size_t)k * sizeof *s);
    if (!s) return -1;
    if (n > 0) milnce_eval_window_starts(0, duration, clip_len, k, s);
    else
        for (int i = 0; i < k; i++) s[i] = i * stride;
    *out = s;
    *count = k;
    return 0;
}

static int embed_videos(milnce_eval_model *m, const milnce_embed_opts *o, rows *r, FILE *ids,
                        milnce_embed_result *res, milnce_error *err) {
    milnce_video_list list = {0};
    int ret = milnce_video_list_read(o->videos, NULL, &list, err);
    if (ret < 0) return ret;
    double clip_len = m->cfg.data.num_frames / m->cfg.data.fps;
    double stride = o->window_seconds > 0 ? o->window_seconds : clip_len;
    for (size_t i = 0; i < list.n; i++) {
        const milnce_video_entry *e = &list.v[i];
        res->items++;
        if (e->error || !e->path) {
            milnce_log(o->lg, MILNCE_LOG_WARN, "%s: %s; skipped", e->id, e->error ? e->error : "video not found");
            res->skipped++;
            continue;
        }
        milnce_decoder *dec = NULL;
        milnce_error e2 = {0};
        double *starts = NULL;
        int k = 0, r2;
        if ((r2 = milnce_decoder_open(&dec, e->path, o->lg, &e2)) == 0 &&
            (r2 = milnce_video_check_usable(e->path, milnce_decoder_info(dec), &e2)) == 0) {
            const milnce_video_info *vi = milnce_decoder_info(dec);
            if (video_windows(vi->duration > 0 ? vi->duration : 0, clip_len, o->num_windows, stride, &starts, &k) < 0) {
                milnce_decoder_free(&dec);
                ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "windows");
                goto end;
            }
            size_t before = r->n;
            float *dst = rows_add(r, o->average ? 1 : (size_t)k, err);
            if (!dst) { free(starts); milnce_decoder_free(&dec); ret = MILNCE_ERR_NOMEM; goto end; }
            r2 = milnce_eval_embed_windows(m, dec, starts, k, o->mixed5c, o->average, dst, NULL, &e2);
            if (r2 < 0) r->n = before;
        }
        milnce_decoder_free(&dec);
        if (r2 == MILNCE_ERR_NOMEM || r2 == MILNCE_ERR_INVALID || r2 == MILNCE_ERR_NUMERIC) {
            free(starts);
            ret = milnce_error_set(err, r2, "%s: %s", e->id, e2.msg);
            goto end;
        }
        if (r2 < 0) {
            milnce_log(o->lg, MILNCE_LOG_WARN, "%s (%s): %s; skipped", e->id, e->path, e2.msg);
            res->skipped++;
        } else if (o->average) {
            fprintf(ids, "%s\n", e->id);
        } else {
            for (int w = 0; w < k; w++) fprintf(ids, "%s\t%.3f\n", e->id, starts[w]);
        }
        free(starts);
    }
    if (r->n == 0) ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: no video could be embedded (%zu skipped)", o->videos, res->skipped);
end:
    milnce_video_list_free(&list);
    return ret;
}

static int embed_sentences(milnce_eval_model *m, const milnce_embed_opts *o, rows *r, FILE *ids,
                           milnce_embed_result *res, milnce_error *err) {
    FILE *f = fopen(o->sentences, "rb");
    if (!f) return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: %s", o->sentences, strerror(errno));
    char **lines = NULL, *line = NULL;
    size_t n = 0, cap = 0, lcap = 0;
    ssize_t len;
    int ret = 0;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            char **nl = realloc(lines, cap * sizeof *nl);
            if (!nl) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s", o->sentences); goto end; }
            lines = nl;
        }
        if (!(lines[n] = strdup(line))) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s", o->sentences); goto end; }
        n++;
    }
    if (n == 0) { ret = milnce_error_set(err, MILNCE_ERR_INVALID, "%s: no sentence", o->sentences); goto end; }
    res->items = n;
    float *dst = rows_add(r, n, err);
    if (!dst) { ret = MILNCE_ERR_NOMEM; goto end; }
    size_t empty = 0;
    if ((ret = milnce_eval_embed_texts(m, (const char *const *)lines, n, dst, &empty, err)) < 0) goto end;
    if (empty) milnce_log(o->lg, MILNCE_LOG_WARN, "%zu of %zu sentences have no word in the vocabulary", empty, n);
    for (size_t i = 0; i < n; i++) fprintf(ids, "%zu\n", i + 1);
end:
    for (size_t i = 0; i < n; i++) free(lines[i]);
    free(lines);
    free(line);
    fclose(f);
    return ret;
}

int milnce_embed_run(milnce_eval_model *m, const milnce_embed_opts *o, milnce_embed_result *res, milnce_error *err) {
    memset(res, 0, sizeof *res);
    if (!o->out_prefix || !o->out_prefix[0]) return milnce_error_set(err, MILNCE_ERR_INVALID, "no output prefix");
    if (!o->videos == !o->sentences) return milnce_error_set(err, MILNCE_ERR_INVALID, "give videos or sentences (exactly one)");
    if (o->sentences && o->mixed5c) return milnce_error_set(err, MILNCE_ERR_INVALID, "mixed_5c is a video feature");
    if (o->num_windows < 0 || o->window_seconds < 0 || (o->window_seconds > 0 && !isfinite(o->window_seconds)))
        return milnce_error_set(err, MILNCE_ERR_RANGE, "bad window count or length");
    rows r = {0};
    r.D = (size_t)(o->mixed5c ? m->F : m->E);
    char *idbuf = NULL;
    size_t idlen = 0;
    FILE *ids = open_memstream(&idbuf, &idlen);
    if (!ids) return milnce_error_set(err, MILNCE_ERR_NOMEM, "ids");
    int ret = o->videos ? embed_videos(m, o, &r, ids, res, err) : embed_sentences(m, o, &r, ids, res, err);
    fclose(ids);
    if (ret < 0) goto end;
    res->rows = r.n;
    res->dim = r.D;
    if ((ret = milnce_path(res->npy_path, sizeof res->npy_path, err, "%s.npy", o->out_prefix)) < 0 ||
        (ret = milnce_path(res->ids_path, sizeof res->ids_path, err, "%s.ids.txt", o->out_prefix)) < 0)
        goto end;
    int64_t shape[2] = {(int64_t)r.n, (int64_t)r.D};
    char dir[MILNCE_PATH_MAX];
    if ((ret = milnce_path(dir, sizeof dir, err, "%s", o->out_prefix)) < 0) goto end;
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) { /* --out DIR/prefix: DIR is made */
        *slash = '\0';
        if ((ret = milnce_mkdirs(dir, err)) < 0) goto end;
    }
    if ((ret = milnce_npy_write(res->npy_path, MILNCE_NPY_F32, 2, shape, r.v, err)) < 0) goto end;
    ret = milnce_write_file_atomic(res->ids_path, idbuf, idlen, err);
end:
    free(idbuf);
    free(r.v);
    return ret;
}
