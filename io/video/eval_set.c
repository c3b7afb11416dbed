/* Evaluation sets: CSV rows or shard sentences -> queries with their videos (io/video/eval_set.h). */
#include "eval_set.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "fileutil.h"
#include "video_list.h"

void milnce_eval_set_free(milnce_eval_set *s) {
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].video_id);
        free(s->v[i].text);
        free(s->v[i].path);
    }
    free(s->v);
    for (size_t i = 0; i < s->nshards; i++) milnce_shard_close(&s->shards[i]);
    free(s->shards);
    memset(s, 0, sizeof *s);
}

static int eval_set_add(milnce_eval_set *s, const char *id, const char *text, double start, double end, char *path,
                   int shard, size_t sample, milnce_error *err) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        milnce_eval_item *v = realloc(s->v, cap * sizeof *v);
        if (!v) { free(path); return milnce_error_set(err, MILNCE_ERR_NOMEM, "eval items"); }
        s->v = v;
        s->cap = cap;
    }
    milnce_eval_item *it = &s->v[s->n];
    it->video_id = strdup(id);
    it->text = strdup(text);
    it->start = start;
    it->end = end;
    it->path = path;
    it->shard = shard;
    it->sample = sample;
    if (!it->video_id || !it->text) {
        free(it->video_id); free(it->text); free(path);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "eval items");
    }
    s->n++;
    return 0;
}

/* An id from a CSV names a file under the video root: the video list's id check (no separators,
 * no control characters, at most 255 bytes), except that dots are allowed (an id may carry its
 * extension) while "." and ".." are not, so it can never reach outside the root. */
static int id_unsafe(const char *id) {
    if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0) return 1;
    char tmp[256];
    size_t n = strlen(id);
    if (n >= sizeof tmp) return 1;
    for (size_t i = 0; i <= n; i++) tmp[i] = id[i] == '.' ? '_' : id[i];
    return milnce_video_id_check(tmp, NULL) < 0;
}

/* <root>/<id>.<ext>, <root>/<task>/<id>.<ext>, or <root>/<id> when the id carries its extension;
 * malloc'ed, or NULL when none exists. */
static char *resolve_video(const char *root, const char *task, const char *id) {
    char p[MILNCE_PATH_MAX]; /* a path too long to build is one that does not exist here */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && (!task || id_unsafe(task))) break;
        for (int e = 0; milnce_video_exts[e]; e++) {
            int ok = pass == 0 ? milnce_path(p, sizeof p, NULL, "%s/%s.%s", root, id, milnce_video_exts[e])
                               : milnce_path(p, sizeof p, NULL, "%s/%s/%s.%s", root, task, id, milnce_video_exts[e]);
            if (ok == 0 && milnce_is_file(p)) return strdup(p);
        }
    }
    if (milnce_path(p, sizeof p, NULL, "%s/%s", root, id) < 0) return NULL;
    return strchr(id, '.') && milnce_is_file(p) ? strdup(p) : NULL;
}

static int parse_seconds(const char *s, double *out) {
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    while (*end == ' ') end++;
    if (end == s || *end || errno || !isfinite(x) || x < 0) return -1;
    *out = x;
    return 0;
}

/* YouCook2 (end,start,task,text,video_id) or MSR-VTT (key,vid_key,video_id,sentence). */
int milnce_eval_set_read_csv(const milnce_config *cfg, int msrvtt, milnce_eval_set *s, milnce_error *err) {
    const char *path = cfg->eval.csv;
    char *buf = NULL, root[MILNCE_PATH_MAX];
    size_t n = 0;
    if (!path[0]) return milnce_error_set(err, MILNCE_ERR_INVALID, "key eval.csv: no evaluation CSV given");
    int ret = milnce_read_file(path, 0, &buf, &n, NULL, err);
    if (ret < 0) return milnce_error_prefix(err, "key eval.csv");
    if (cfg->eval.video_root[0]) ret = milnce_path(root, sizeof root, err, "%s", cfg->eval.video_root);
    else {
        ret = milnce_path(root, sizeof root, err, "%s", path);
        char *slash = strrchr(root, '/');
        if (slash) *slash = '\0';
        else strcpy(root, ".");
    }
    if (ret < 0) {
        free(buf);
        return ret;
    }
    milnce_csv c;
    milnce_csv_init(&c, buf, n);
    int col_id = -1, col_text = -1, col_start = -1, col_end = -1, col_task = -1;
    if ((ret = milnce_csv_next(&c, path, err)) <= 0) {
        if (ret == 0) ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: empty CSV (no header)", path);
        goto end;
    }
    for (size_t i = 0; i < c.nfields; i++) {
        const char *h = c.fields[i];
        if (strcmp(h, "video_id") == 0) col_id = (int)i;
        else if (strcmp(h, msrvtt ? "sentence" : "text") == 0) col_text = (int)i;
        else if (!msrvtt && strcmp(h, "start") == 0) col_start = (int)i;
        else if (!msrvtt && strcmp(h, "end") == 0) col_end = (int)i;
        else if (!msrvtt && strcmp(h, "task") == 0) col_task = (int)i;
    }
    if (col_id < 0 || col_text < 0 || (!msrvtt && (col_start < 0 || col_end < 0))) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:1: header lacks %s (eval.format %s expects %s)", path,
                               col_id < 0 ? "video_id" : col_text < 0 ? (msrvtt ? "sentence" : "text") : col_start < 0 ? "start" : "end",
                               msrvtt ? "msrvtt" : "youcook2", msrvtt ? "key,vid_key,video_id,sentence" : "end,start,task,text,video_id");
        goto end;
    }
    int need = col_id;
    if (col_text > need) need = col_text;
    if (col_start > need) need = col_start;
    if (col_end > need) need = col_end;
    while ((ret = milnce_csv_next(&c, path, err)) > 0) {
        if ((int)c.nfields <= need) {
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%zu: %zu fields, the header has more", path, c.record_line, c.nfields);
            goto end;
        }
        double st = 0, en = -1;
        if (!msrvtt) {
            if (parse_seconds(c.fields[col_start], &st) < 0 || parse_seconds(c.fields[col_end], &en) < 0) {
                ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%zu: bad start/end '%s', '%s' (seconds expected)", path,
                                       c.record_line, c.fields[col_start], c.fields[col_end]);
                goto end;
            }
            if (en < st) {
                ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%zu: end %g is before start %g", path, c.record_line, en, st);
                goto end;
            }
        }
        const char *id = c.fields[col_id];
        char *vp = id_unsafe(id) ? NULL : resolve_video(root, col_task >= 0 ? c.fields[col_task] : NULL, id);
        if ((ret = eval_set_add(s, id, c.fields[col_text], st, en, vp, -1, 0, err)) < 0) goto end;
    }
    if (ret == 0 && s->n == 0) ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: no rows after the header", path);
end:
    milnce_csv_free(&c);
    free(buf);
    return ret < 0 ? ret : 0;
}

/* Held-out shards: every sentence of every sample is a query. */
int milnce_eval_set_read_shards(const milnce_config *cfg, milnce_eval_set *s, const milnce_logger *lg, milnce_error *err) {
    const char *p = cfg->eval.csv;
    if (!p[0]) return milnce_error_set(err, MILNCE_ERR_INVALID, "key eval.csv: no shard folder given (eval.format shards)");
    char **names = NULL;
    size_t n = 0;
    int ret = milnce_shard_list(p, &names, &n, err);
    if (ret < 0) return milnce_error_prefix(err, "key eval.csv");
    if (!(s->shards = calloc(n, sizeof *s->shards))) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "shards"); goto end; }
    for (size_t i = 0; i < n; i++) {
        if ((ret = milnce_shard_open(&s->shards[s->nshards], names[i], NULL, err)) < 0) goto end;
        milnce_shard_reader *r = s->shards[s->nshards++];
        for (size_t k = 0; k < milnce_shard_count(r); k++) {
            const uint8_t *js, *mp4;
            size_t jn, mn;
            const char *key = milnce_shard_key(r, k);
            if (milnce_shard_get(r, k, "json", &js, &jn, NULL) < 0 || milnce_shard_get(r, k, "mp4", &mp4, &mn, NULL) < 0) {
                milnce_log(lg, MILNCE_LOG_WARN, "%s: sample %s lacks .mp4 or .json; ignored", names[i], key);
                continue;
            }
            json_error_t je;
            json_t *root = json_loadb((const char *)js, jn, 0, &je);
            json_t *arr = root ? json_object_get(root, "sentences") : NULL;
            if (!json_is_array(arr)) {
                milnce_log(lg, MILNCE_LOG_WARN, "%s: %s.json: %s; sample ignored", names[i], key, root ? "no sentences array" : je.text);
                json_decref(root);
                continue;
            }
            for (size_t j = 0; j < json_array_size(arr); j++) {
                json_t *e = json_array_get(arr, j);
                const char *text = json_string_value(json_object_get(e, "text"));
                double a = json_number_value(json_object_get(e, "start")), b = json_number_value(json_object_get(e, "end"));
                if (!text || !isfinite(a) || !isfinite(b) || b < a) continue;
                if ((ret = eval_set_add(s, key, text, a, b, NULL, (int)(s->nshards - 1), k, err)) < 0) {
                    json_decref(root);
                    goto end;
                }
            }
            json_decref(root);
        }
    }
    if (s->n == 0) ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "key eval.csv: %s: shards hold no sentence", p);
end:
    milnce_shard_list_free(names, n);
    return ret;
}

/* Opens the video of an item ("missing" when it has none). */
int milnce_eval_set_open_video(const milnce_eval_set *s, const milnce_eval_item *it, const milnce_logger *lg, milnce_decoder **dec, milnce_error *err) {
    if (it->shard >= 0) {
        const uint8_t *d;
        size_t sz;
        int ret = milnce_shard_get(s->shards[it->shard], it->sample, "mp4", &d, &sz, err);
        if (ret < 0) return ret;
        char name[300]; /* a name for messages only: a cut one is harmless */
        snprintf(name, sizeof name, "%.255s.mp4", it->video_id);
        return milnce_decoder_open_memory(dec, d, sz, name, lg, err);
    }
    if (!it->path)
        return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "no file <id>.<video extension> under eval.video_root (or its <task>/ folder)");
    return milnce_decoder_open(dec, it->path, lg, err);
}

int milnce_eval_item_same_video(const milnce_eval_item *a, const milnce_eval_item *b) {
    if (a->shard != b->shard) return 0;
    if (a->shard >= 0) return a->sample == b->sample;
    return strcmp(a->video_id, b->video_id) == 0;
}

