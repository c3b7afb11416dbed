#include "synth.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fileutil.h"
#include "shard.h"
#include "synth_render.h"
#include "video_encode.h"

void milnce_synth_opts_init(milnce_synth_opts *o) {
    memset(o, 0, sizeof *o);
    milnce_synth_params_init(&o->params);
    o->videos = 8;
    o->eval_videos = 4;
    o->threads = 2;
    o->crf = 23;
    o->shard_samples = 16;
}

/* ---- text building ---- */

typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) MILNCE_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->n;
        int k = vsnprintf(b->s ? b->s + b->n : NULL, room, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)k < room) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->n + (size_t)k + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

static void fmt_time(char *out, size_t cap, double t, char sep) {
    long long ms = llround(t * 1000.0);
    snprintf(out, cap, "%02lld:%02lld:%02lld%c%03lld", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60, sep,
             ms % 1000);
}

/* A CSV field, quoted when it holds a comma, quote or newline. */
static void sb_csv(sbuf *b, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        sb_printf(b, "%s", s);
        return;
    }
    sb_printf(b, "\"");
    for (const char *p = s; *p; p++) sb_printf(b, *p == '"' ? "\"\"" : "%c", *p);
    sb_printf(b, "\"");
}

int milnce_synth_narration(const milnce_synth_video *v, int fmt, char **text, size_t *len,
                           milnce_error *err) {
    sbuf b = {0};
    char t0[32], t1[32];
    if (fmt == MILNCE_SYNTH_FMT_CSV) sb_printf(&b, "start,end,text\n");
    if (fmt == MILNCE_SYNTH_FMT_VTT) sb_printf(&b, "WEBVTT\n\n");
    for (int i = 0; i < v->nlines; i++) {
        const milnce_synth_line *l = &v->lines[i];
        switch (fmt) {
        case MILNCE_SYNTH_FMT_CSV:
            sb_printf(&b, "%.2f,%.2f,", l->start, l->end);
            sb_csv(&b, l->text);
            sb_printf(&b, "\n");
            break;
        case MILNCE_SYNTH_FMT_SRT:
            fmt_time(t0, sizeof t0, l->start, ',');
            fmt_time(t1, sizeof t1, l->end, ',');
            sb_printf(&b, "%d\n%s --> %s\n%s\n\n", i + 1, t0, t1, l->text);
            break;
        case MILNCE_SYNTH_FMT_VTT:
            fmt_time(t0, sizeof t0, l->start, '.');
            fmt_time(t1, sizeof t1, l->end, '.');
            sb_printf(&b, "%s --> %s\n%s\n\n", t0, t1, l->text);
            break;
        default:
            free(b.s);
            return milnce_error_set(err, MILNCE_ERR_INVALID, "synth: caption format %d", fmt);
        }
    }
    if (b.oom || !b.s) {
        free(b.s);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "synth: out of memory");
    }
    *text = b.s;
    *len = b.n;
    return 0;
}

int milnce_synth_encode(const milnce_synth_video *v, int crf, uint8_t **data, size_t *size,
                        milnce_error *err) {
    int ret;
    milnce_encode_opts eo;
    milnce_encode_opts_init(&eo, v->width, v->height, v->fps);
    eo.crf = crf;
    milnce_video_encoder *enc = NULL;
    size_t stride = (size_t)v->width * 3;
    uint8_t *rgb = malloc(stride * (size_t)v->height);
    float *scratch = malloc(sizeof(float) * MILNCE_SYNTH_SCRATCH(v->width, v->height));
    if (!rgb || !scratch) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "synth: out of memory");
        goto end;
    }
    if ((ret = milnce_video_encoder_open_mem(&enc, &eo, err)) < 0) goto end;
    for (int f = 0; f < v->nframes; f++) {
        milnce_synth_render(rgb, (int)stride, v, f, scratch);
        if ((ret = milnce_video_encoder_write_rgb(enc, rgb, (int)stride, err)) < 0) goto end;
    }
    if ((ret = milnce_video_encoder_finish(enc, err)) < 0) goto end;
    ret = milnce_video_encoder_take(enc, data, size, err);
end:
    milnce_video_encoder_free(&enc);
    free(rgb);
    free(scratch);
    return ret;
}

/* ---- the run ---- */

static const char *const fmt_ext[3] = {"csv", "srt", "vtt"};

static void video_id(char *out, size_t cap, int split, int i) {
    snprintf(out, cap, "%s_%05d", split == MILNCE_SYNTH_EVAL ? "eval" : "vid", i);
}

typedef struct synth_ctx {
    const milnce_synth_opts *o;
    const milnce_logger *lg;
    atomic_int next;
    atomic_int failed;
    pthread_mutex_t lock;
    milnce_error err; /* first failure */
    int ret;
    milnce_synth_stats st;
} synth_ctx;

static int do_video(synth_ctx *c, int job, milnce_error *err) {
    const milnce_synth_opts *o = c->o;
    int split = job < o->videos ? MILNCE_SYNTH_TRAIN : MILNCE_SYNTH_EVAL;
    int i = split == MILNCE_SYNTH_TRAIN ? job : job - o->videos;
    const char *dir = split == MILNCE_SYNTH_TRAIN ? "train" : "eval";
    char id[32], path[MILNCE_PATH_MAX];
    milnce_synth_video v;
    uint8_t *mp4 = NULL;
    char *text = NULL;
    size_t n = 0, tn = 0;
    int ret;
    video_id(id, sizeof id, split, i);
    if ((ret = milnce_synth_video_make(&v, &o->params, split, i, err)) < 0) return ret;
    if ((ret = milnce_synth_encode(&v, o->crf, &mp4, &n, err)) < 0) goto end;
    if ((ret = milnce_path(path, sizeof path, err, "%s/%s/videos/%s.mp4", o->out, dir, id)) < 0) goto end;
    if ((ret = milnce_update_file_atomic(path, mp4, n, err)) < 0) goto end;
    if (split == MILNCE_SYNTH_TRAIN) {
        int fmt = i % 3;
        if ((ret = milnce_synth_narration(&v, fmt, &text, &tn, err)) < 0) goto end;
        if ((ret = milnce_path(path, sizeof path, err, "%s/train/captions/%s.%s", o->out, id, fmt_ext[fmt])) < 0) goto end;
        if ((ret = milnce_update_file_atomic(path, text, tn, err)) < 0) goto end;
    }
    pthread_mutex_lock(&c->lock);
    c->st.videos++;
    c->st.frames += v.nframes;
    c->st.bytes += (int64_t)n;
    c->st.seconds += v.duration;
    if (split == MILNCE_SYNTH_TRAIN) c->st.lines += v.nlines;
    pthread_mutex_unlock(&c->lock);
    milnce_log(c->lg, MILNCE_LOG_DEBUG, "%s: %dx%d %d fps %.0f s, %d segments, %d lines, %zu bytes", id,
               v.width, v.height, v.fps, v.duration, v.nseg, v.nlines, n);
end:
    if (ret < 0) milnce_error_prefix(err, "%s", id);
    free(mp4);
    free(text);
    milnce_synth_video_free(&v);
    return ret < 0 ? ret : 0; /* 1 = the file was already there */
}

static void *worker(void *arg) {
    synth_ctx *c = arg;
    int total = c->o->videos + c->o->eval_videos;
    for (;;) {
        if (atomic_load(&c->failed)) break;
        int job = atomic_fetch_add(&c->next, 1);
        if (job >= total) break;
        milnce_error err = {0};
        int ret = do_video(c, job, &err);
        if (ret < 0) {
            pthread_mutex_lock(&c->lock);
            if (!atomic_exchange(&c->failed, 1)) {
                c->err = err;
                c->ret = ret;
            }
            pthread_mutex_unlock(&c->lock);
            break;
        }
    }
    return NULL;
}

static json_t *truth_json(const milnce_synth_video *v, const char *id, int fmt) {
    json_t *segs = json_array(), *lines = json_array();
    char cap[128];
    for (int s = 0; s < v->nseg; s++) {
        const milnce_synth_segment *g = &v->seg[s];
        milnce_synth_caption(cap, sizeof cap, g);
        json_array_append_new(segs, json_pack("{s:f, s:f, s:s, s:s, s:s, s:s}", "start", g->start, "end",
                                              g->end, "shape", milnce_synth_shape_name(g->obj.shape), "color",
                                              milnce_synth_color_name(g->obj.color), "action",
                                              milnce_synth_action_name(g->action), "caption", cap));
    }
    for (int k = 0; k < v->nlines; k++) {
        const milnce_synth_line *l = &v->lines[k];
        json_array_append_new(lines, json_pack("{s:f, s:f, s:f, s:f, s:i, s:s}", "start", l->start, "end",
                                               l->end, "true_start", l->true_start, "true_end",
                                               l->true_end, "segment", l->segment, "text", l->text));
    }
    char vpath[64], cpath[64];
    snprintf(vpath, sizeof vpath, "videos/%s.mp4", id);
    snprintf(cpath, sizeof cpath, "captions/%s.%s", id, fmt >= 0 ? fmt_ext[fmt] : "");
    json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:i, s:f, s:i, s:o, s:o}", "video_id", id, "video_path", vpath,
                          "width", v->width, "height", v->height, "fps", v->fps, "duration", v->duration,
                          "frames", v->nframes, "segments", segs, "narration", lines);
    if (j && fmt >= 0) json_object_set_new(j, "caption_path", json_string(cpath));
    return j;
}

static int write_json(const char *path, json_t *j, milnce_error *err) {
    char *s = j ? json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) : NULL;
    if (!s) return milnce_error_set(err, MILNCE_ERR_NOMEM, "synth: out of memory");
    size_t n = strlen(s);
    s[n] = '\n';
    int ret = milnce_update_file_atomic(path, s, n + 1, err);
    free(s);
    return ret < 0 ? ret : 0;
}

/* The lists, the ground truth, the eval captions and (optionally) the shards: all from the
 * scripts, which are cheap to rebuild. */
static int write_indexes(const milnce_synth_opts *o, milnce_synth_stats *st, milnce_error *err) {
    int ret = 0;
    sbuf tl = {0}, el = {0}, yc = {0};
    json_t *ttruth = json_array(), *etruth = json_array(), *meta = NULL;
    milnce_shard_writer *w = NULL;
    char path[MILNCE_PATH_MAX], id[32];
    milnce_synth_video v;
    memset(&v, 0, sizeof v);
    sb_printf(&tl, "video_path\n");
    sb_printf(&el, "video_path\n");
    sb_printf(&yc, "end,start,task,text,video_id\n");
    if (o->shard) {
        char prefix[MILNCE_PATH_MAX];
        if ((ret = milnce_path(prefix, sizeof prefix, err, "%s/shards/train", o->out)) < 0) goto end;
        milnce_shard_writer_opts so = {.prefix = prefix, .max_samples = (size_t)o->shard_samples};
        if ((ret = milnce_shard_writer_open(&w, &so, err)) < 0) goto end;
    }
    for (int split = 0; split < 2; split++) {
        int count = split == MILNCE_SYNTH_TRAIN ? o->videos : o->eval_videos;
        for (int i = 0; i < count; i++) {
            video_id(id, sizeof id, split, i);
            if ((ret = milnce_synth_video_make(&v, &o->params, split, i, err)) < 0) goto end;
            sb_printf(split ? &el : &tl, "videos/%s.mp4\n", id);
            json_array_append_new(split ? etruth : ttruth, truth_json(&v, id, split ? -1 : i % 3));
            if (split == MILNCE_SYNTH_EVAL) {
                char cap[128];
                for (int s = 0; s < v.nseg; s++) {
                    milnce_synth_caption(cap, sizeof cap, &v.seg[s]);
                    sb_printf(&yc, "%.0f,%.0f,0,%s,%s\n", v.seg[s].end, v.seg[s].start, cap, id);
                }
            }
            if (w && split == MILNCE_SYNTH_TRAIN) {
                char *mp4 = NULL;
                size_t n = 0;
                if ((ret = milnce_path(path, sizeof path, err, "%s/train/videos/%s.mp4", o->out, id)) < 0) goto end;
                if ((ret = milnce_read_file(path, 0, &mp4, &n, NULL, err)) < 0) goto end;
                json_t *sent = json_array();
                for (int k = 0; k < v.nlines; k++)
                    json_array_append_new(sent, json_pack("{s:f, s:f, s:s}", "start", v.lines[k].start, "end",
                                                          v.lines[k].end, "text", v.lines[k].text));
                char src[64];
                snprintf(src, sizeof src, "videos/%s.mp4", id);
                json_t *meta_j = json_pack("{s:s, s:s, s:f, s:i, s:i, s:i, s:o}", "video_id", id, "source", src,
                                           "duration", v.duration, "fps", v.fps, "width", v.width, "height",
                                           v.height, "sentences", sent);
                char *js = meta_j ? json_dumps(meta_j, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                                           JSON_REAL_PRECISION(10)) : NULL;
                json_decref(meta_j);
                if (!js) {
                    free(mp4);
                    ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "synth: out of memory");
                    goto end;
                }
                milnce_shard_member m[2] = {{"mp4", mp4, n}, {"json", js, strlen(js)}};
                ret = milnce_shard_writer_add(w, id, m, 2, err);
                free(mp4);
                free(js);
                if (ret < 0) goto end;
            }
            milnce_synth_video_free(&v);
        }
    }
    if (tl.oom || el.oom || yc.oom) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "synth: out of memory");
        goto end;
    }
    if ((ret = milnce_path(path, sizeof path, err, "%s/train/videos.csv", o->out)) < 0) goto end;
    if ((ret = milnce_update_file_atomic(path, tl.s, tl.n, err)) < 0) goto end;
    if ((ret = milnce_path(path, sizeof path, err, "%s/eval/videos.csv", o->out)) < 0) goto end;
    if ((ret = milnce_update_file_atomic(path, el.s, el.n, err)) < 0) goto end;
    if ((ret = milnce_path(path, sizeof path, err, "%s/eval/youcook2_val.csv", o->out)) < 0) goto end;
    if ((ret = milnce_update_file_atomic(path, yc.s, yc.n, err)) < 0) goto end;
    if ((ret = milnce_path(path, sizeof path, err, "%s/train/truth.json", o->out)) < 0) goto end;
    if ((ret = write_json(path, ttruth, err)) < 0) goto end;
    if ((ret = milnce_path(path, sizeof path, err, "%s/eval/truth.json", o->out)) < 0) goto end;
    if ((ret = write_json(path, etruth, err)) < 0) goto end;
    if (w) {
        if ((ret = milnce_shard_writer_close(w, err)) < 0) goto end;
        st->shards = milnce_shard_writer_shards(w);
    }
    const milnce_synth_params *p = &o->params;
    meta = json_pack("{s:s, s:I, s:i, s:i, s:f, s:f, s:i, s:i, s:i, s:f, s:f, s:f, s:i}", "generator",
                     "milnce synth", "seed", (json_int_t)p->seed, "videos", o->videos, "eval_videos",
                     o->eval_videos, "min_seconds", p->min_seconds, "max_seconds", p->max_seconds, "width",
                     p->width, "height", p->height, "fps", p->fps, "max_shift", p->max_shift, "drop_prob",
                     p->drop_prob, "filler_per_segment", p->filler_per_segment, "crf", o->crf);
    if ((ret = milnce_path(path, sizeof path, err, "%s/synth.json", o->out)) < 0) goto end;
    ret = write_json(path, meta, err);
end:
    milnce_synth_video_free(&v);
    milnce_shard_writer_free(&w);
    json_decref(ttruth);
    json_decref(etruth);
    json_decref(meta);
    free(tl.s);
    free(el.s);
    free(yc.s);
    return ret;
}

int milnce_synth_run(const milnce_synth_opts *o, const milnce_logger *lg, milnce_synth_stats *st,
                     milnce_error *err) {
    int ret;
    char path[MILNCE_PATH_MAX];
    if (!o->out || !*o->out) return milnce_error_set(err, MILNCE_ERR_INVALID, "synth: no output folder");
    if (o->videos < 0 || o->eval_videos < 0 || o->videos > 99999 || o->eval_videos > 99999)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "synth: video counts must be in 0..99999");
    if (o->crf < 0 || o->crf > 51) return milnce_error_set(err, MILNCE_ERR_RANGE, "synth: crf %d", o->crf);
    if (o->shard && o->shard_samples < 1)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "synth: shard samples %d", o->shard_samples);
    /* fail on bad parameters before creating anything */
    milnce_synth_video probe;
    if ((ret = milnce_synth_video_make(&probe, &o->params, 0, 0, err)) < 0) return ret;
    milnce_synth_video_free(&probe);
    static const char *const dirs[] = {"", "/train/videos", "/train/captions", "/eval/videos", "/shards"};
    for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++) {
        if (d == 4 && !o->shard) continue;
        if ((ret = milnce_path(path, sizeof path, err, "%s%s", o->out, dirs[d])) < 0) return ret;
        if ((ret = milnce_mkdirs(path, err)) < 0) return ret;
    }
    synth_ctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.lg = lg;
    atomic_init(&c.next, 0);
    atomic_init(&c.failed, 0);
    pthread_mutex_init(&c.lock, NULL);
    int nt = o->threads < 1 ? 1 : o->threads > 64 ? 64 : o->threads;
    pthread_t th[64];
    int started = 0;
    for (int t = 1; t < nt; t++) {
        if (pthread_create(&th[started], NULL, worker, &c) != 0) break;
        started++;
    }
    worker(&c); /* the calling thread works too */
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    pthread_mutex_destroy(&c.lock);
    if (c.failed) {
        if (err) *err = c.err;
        return c.ret;
    }
    milnce_synth_stats s = c.st;
    if ((ret = write_indexes(o, &s, err)) < 0) return ret;
    if (st) *st = s;
    return 0;
}
