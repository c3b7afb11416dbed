#include "loader.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h"
#include "rng.h"
#include "sample_json.h"
#include "shard.h"
#include "video.h"

void milnce_loader_opts_default(milnce_loader_opts *o) {
    memset(o, 0, sizeof *o);
    o->batch_size = 8;
    o->num_frames = 16;
    o->fps = 5;
    o->size = 224;
    o->min_time = 5;
    o->whole_seconds = 1;
    o->window.kind = MILNCE_WINDOW_NEAREST;
    o->window.k = 4;
    o->window.max_gap = -1;
    o->max_words = 20;
    o->train = 1;
    o->workers = 2;
    o->queue = 4;
    o->seed = 1;
    o->world = 1;
}

void milnce_loader_opts_from_config(milnce_loader_opts *o, const milnce_config *cfg) {
    milnce_loader_opts_default(o);
    o->shards = cfg->data.shards;
    o->num_frames = cfg->data.num_frames;
    o->fps = cfg->data.fps;
    o->size = cfg->data.size;
    o->resize = cfg->data.resize;
    o->min_time = cfg->data.min_time;
    o->whole_seconds = strcmp(cfg->data.clip_start, "second") == 0;
    o->window.kind = strcmp(cfg->data.window, "symmetric") == 0 ? MILNCE_WINDOW_SYMMETRIC : MILNCE_WINDOW_NEAREST;
    o->window.k = o->window.kind == MILNCE_WINDOW_NEAREST ? cfg->data.num_candidates : cfg->data.window_k;
    o->window.max_gap = cfg->data.max_gap > 0 ? cfg->data.max_gap : -1;
    o->max_words = cfg->data.max_words;
    o->train = cfg->data.crop_random;
    o->workers = cfg->data.workers;
    o->queue = cfg->data.queue_batches;
    o->seed = (uint64_t)cfg->train.seed;
}

typedef struct video_ref {
    int shard;
    size_t sample;
} video_ref;

enum { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_INUSE };

typedef struct slot {
    milnce_batch b;
    int64_t seq;   /* position in the sequence of batches this loader produces */
    int state;
    int ret;
    milnce_error err;
} slot;

typedef struct worker_state {
    milnce_frames frames; /* clip metadata (the pixels go straight into the batch) */
    milnce_decoder *dec;  /* kept across samples: reopened light for another video, as is for
                           * the same one (see milnce_decoder_reuse_memory) */
    milnce_sample_sentences sent; /* of video sent_video (-1 = none) */
    int64_t sent_video;
    int *perm;       /* (N) order of the epoch below */
    int perm_epoch;  /* -1 = none */
} worker_state;

struct milnce_loader {
    milnce_loader_opts o;
    milnce_shard_reader **shards;
    int nshards;
    video_ref *videos;
    size_t nvideos;
    int K;
    int64_t per_epoch;
    /* threads */
    pthread_t *threads;
    worker_state *ws;
    slot *slots;
    int nslots;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Positions in the produced sequence; position q is global batch start_batch + q * stride. */
    int64_t next_claim, next_deliver, released;
    int64_t stride, nseq; /* nseq: positions before end_batch (INT64_MAX without an end) */
    int stop;
    int64_t replaced; /* bad samples replaced so far (atomic) */
    /* wait accounting */
    double t_open, waited;
    worker_state sync_ws; /* for milnce_loader_make_batch */
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int milnce_batch_alloc(milnce_batch *b, int B, int K, int T, int S, int L, milnce_error *err) {
    memset(b, 0, sizeof *b);
    b->B = B; b->K = K; b->T = T; b->S = S; b->L = L;
    b->video = aligned_alloc(64, ((size_t)B * 3 * T * S * S * sizeof(float) + 63) & ~(size_t)63);
    b->text = calloc((size_t)B * K * L, sizeof *b->text);
    b->mask = calloc((size_t)B * K, 1);
    b->video_idx = calloc((size_t)B, sizeof *b->video_idx);
    b->anchor = calloc((size_t)B, sizeof *b->anchor);
    b->clip_start = calloc((size_t)B, sizeof *b->clip_start);
    if (!b->video || !b->text || !b->mask || !b->video_idx || !b->anchor || !b->clip_start) {
        milnce_batch_free(b);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "batch of %d clips %dx%dx%d", B, T, S, S);
    }
    return 0;
}

void milnce_batch_free(milnce_batch *b) {
    free(b->video); free(b->text); free(b->mask); free(b->video_idx); free(b->anchor); free(b->clip_start);
    memset(b, 0, sizeof *b);
}

int milnce_loader_resize_for(const milnce_loader_opts *o, int short_side) {
    if (o->resize > 0) return short_side == o->resize ? 0 : o->resize;
    return short_side < o->size ? o->size : 0;
}

static int open_shards(milnce_loader *l, milnce_error *err) {
    const char *p = l->o.shards;
    char **names = NULL;
    size_t n = 0;
    int ret = milnce_shard_list(p, &names, &n, err);
    if (ret < 0) return ret;
    l->shards = calloc(n, sizeof *l->shards);
    for (size_t i = 0; i < n; i++) {
        if ((ret = milnce_shard_open(&l->shards[l->nshards], names[i], NULL, err)) < 0) goto end;
        milnce_shard_reader *r = l->shards[l->nshards++];
        size_t cnt = milnce_shard_count(r);
        video_ref *v = realloc(l->videos, (l->nvideos + cnt + 1) * sizeof *v);
        if (!v) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "video list"); goto end; }
        l->videos = v;
        for (size_t s = 0; s < cnt; s++) {
            const uint8_t *d;
            size_t sz;
            if (milnce_shard_get(r, s, "mp4", &d, &sz, NULL) < 0 || milnce_shard_get(r, s, "json", &d, &sz, NULL) < 0) {
                milnce_log(l->o.lg, MILNCE_LOG_WARN, "%s: sample %s lacks .mp4 or .json; ignored", names[i], milnce_shard_key(r, s));
                continue;
            }
            l->videos[l->nvideos++] = (video_ref){l->nshards - 1, s};
        }
    }
    if (l->nvideos == 0) ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: shards hold no usable sample", p);
end:
    milnce_shard_list_free(names, n);
    return ret;
}

static const int *epoch_perm(milnce_loader *l, worker_state *w, int epoch) {
    if (w->perm_epoch != epoch) {
        for (size_t i = 0; i < l->nvideos; i++) w->perm[i] = (int)i;
        milnce_rng r;
        milnce_rng_seed_stream(&r, l->o.seed, 0x45504f4348ULL + (uint64_t)epoch); /* "EPOCH" + e */
        milnce_rng_shuffle_int(&r, w->perm, l->nvideos);
        w->perm_epoch = epoch;
    }
    return w->perm;
}

/* Fills slot b of the batch with video v, randomness from r. */
/* Token ids the text model cannot look up: a bad sample (replaced), not the end of the run. */
static int check_tokens(const milnce_loader *l, const milnce_shard_reader *sh, const char *key,
                        const milnce_sample_sentences *s, milnce_error *err) {
    if (l->o.vocab_words <= 0) return 0;
    for (size_t i = 0; i < s->n; i++)
        for (int k = 0; k < s->ntok[i]; k++)
            if (s->tok[i][k] > l->o.vocab_words)
                return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: sample %s: sentence %zu: token id %d beyond the "
                                        "vocabulary %s (%lld words)", milnce_shard_reader_path(sh), key, i,
                                        (int)s->tok[i][k], l->o.vocab_name ? l->o.vocab_name : "",
                                        (long long)l->o.vocab_words);
    return 0;
}

static int make_sample(milnce_loader *l, worker_state *w, milnce_batch *bt, int b, size_t v, milnce_rng *r,
                       milnce_error *err) {
    const milnce_loader_opts *o = &l->o;
    milnce_shard_reader *sh = l->shards[l->videos[v].shard];
    size_t si = l->videos[v].sample;
    const char *key = milnce_shard_key(sh, si);
    const uint8_t *mp4, *js;
    size_t mp4_size, js_size;
    int ret;
    if ((ret = milnce_shard_get(sh, si, "mp4", &mp4, &mp4_size, err)) < 0 ||
        (ret = milnce_shard_get(sh, si, "json", &js, &js_size, err)) < 0)
        return ret;
    if (w->sent_video != (int64_t)v) {
        milnce_sample_sentences_free(&w->sent);
        w->sent_video = -1;
        char name[300];
        snprintf(name, sizeof name, "%s.json", key);
        if ((ret = milnce_sample_sentences_parse(js, js_size, name, &w->sent, err)) < 0 ||
            (ret = check_tokens(l, sh, key, &w->sent, err)) < 0) {
            milnce_sample_sentences_free(&w->sent);
            return ret;
        }
        w->sent_video = (int64_t)v;
    }
    const milnce_sample_sentences s = w->sent;
    size_t anchor = (size_t)milnce_rng_below(r, s.n);
    int64_t bag[64];
    uint8_t mask[64];
    int count;
    if ((ret = milnce_window_bag(bag, mask, &count, &o->window, s.start, s.end, s.n, anchor, err)) < 0) return ret;
    for (int k = 0; k < l->K; k++) {
        int32_t *dst = bt->text + ((size_t)b * l->K + k) * o->max_words;
        memset(dst, 0, sizeof *dst * (size_t)o->max_words);
        bt->mask[b * l->K + k] = mask[k];
        if (!mask[k]) continue;
        int nt = s.ntok[bag[k]] < o->max_words ? s.ntok[bag[k]] : o->max_words;
        memcpy(dst, s.tok[bag[k]], sizeof *dst * (size_t)nt);
    }
    double span0, span1, clip_len = o->num_frames / o->fps;
    milnce_clip_span(&span0, &span1, s.start[anchor], s.end[anchor], o->min_time);
    double t0;
    if (o->whole_seconds) {
        int64_t lo, hi;
        milnce_clip_start_range(span0, span1, clip_len, &lo, &hi);
        t0 = (double)(lo + (int64_t)milnce_rng_below(r, (uint64_t)(hi - lo + 1)));
    } else {
        double room = span1 - span0 - clip_len;
        t0 = span0 + (room > 0 ? room * milnce_rng_uniform(r) : 0);
    }
    /* Not past the end (the reference would pad instead); still on a whole second if asked. */
    if (s.duration > 0 && t0 + clip_len > s.duration) {
        t0 = s.duration > clip_len ? s.duration - clip_len : 0;
        if (o->whole_seconds) t0 = floor(t0);
    }
    double cx = milnce_rng_uniform(r), cy = milnce_rng_uniform(r);
    int flip = o->train && milnce_rng_uniform(r) < 0.5;
    char name[300];
    snprintf(name, sizeof name, "%s.mp4", key);
    if ((ret = milnce_decoder_reuse_memory(&w->dec, mp4, mp4_size, name, o->lg, err)) < 0) return ret;
    const milnce_video_info *vi = milnce_decoder_info(w->dec);
    int vw = vi->display_width ? vi->display_width : vi->width, vh = vi->display_height ? vi->display_height : vi->height;
    int short_side = vw < vh ? vw : vh;
    milnce_clip_spec spec = {.start = t0, .end = t0 + (o->num_frames + 0.5) / o->fps,
                             .fps = o->fps, .size = milnce_loader_resize_for(o, short_side),
                             .crop = o->train ? MILNCE_CROP_OFFSET : MILNCE_CROP_CENTER, .crop_size = o->size,
                             .crop_x = cx, .crop_y = cy, .max_frames = o->num_frames};
    /* Straight into the batch as (c, t, y, x) float in [0, 1], mirrored when flipping; frames
     * past the end of the video are zero (as the reference pads). */
    int S = o->size;
    size_t floats = (size_t)3 * o->num_frames * S * S;
    if ((ret = milnce_decoder_clip_planar(w->dec, &spec, flip, bt->video + (size_t)b * floats, floats, &w->frames, err)) < 0)
        return ret;
    const milnce_frames *f = &w->frames;
    if (f->t > 0 && (f->h != S || f->w != S))
        return milnce_error_set(err, MILNCE_ERR_DECODE, "%s: crop gave %dx%d, expected %dx%d", name, f->w, f->h, S, S);
    bt->video_idx[b] = (int32_t)v;
    bt->anchor[b] = (int32_t)anchor;
    bt->clip_start[b] = t0;
    return 0;
}

static int build_batch(milnce_loader *l, worker_state *w, int64_t index, milnce_batch *bt, milnce_error *err) {
    const milnce_loader_opts *o = &l->o;
    int epoch = (int)(index / l->per_epoch);
    int64_t in_epoch = index % l->per_epoch;
    const int *perm = epoch_perm(l, w, epoch);
    bt->index = index;
    bt->epoch = epoch;
    for (int b = 0; b < o->batch_size; b++) {
        size_t pos = (size_t)(in_epoch * o->batch_size * o->world + (int64_t)o->rank * o->batch_size + b);
        int ret = -1;
        milnce_error e2 = {0};
        /* A damaged sample is replaced by a later video of the same order (deterministically). */
        for (size_t attempt = 0; attempt < 8 && ret < 0; attempt++) {
            milnce_rng r;
            milnce_rng_seed_stream(&r, o->seed, ((uint64_t)epoch << 40) ^ ((uint64_t)pos << 3) ^ attempt);
            size_t v = (size_t)perm[(pos + attempt * 7919) % l->nvideos];
            ret = make_sample(l, w, bt, b, v, &r, &e2);
            if (ret < 0)
                milnce_log(o->lg, MILNCE_LOG_WARN, "sample replaced (%lld so far): %s",
                           (long long)__atomic_add_fetch(&l->replaced, 1, __ATOMIC_RELAXED), e2.msg);
        }
        if (ret < 0) return milnce_error_set(err, ret, "batch %lld: 8 samples in a row failed; last: %s", (long long)index, e2.msg);
    }
    return 0;
}

static void *worker_main(void *arg) {
    void **a = arg;
    milnce_loader *l = a[0];
    worker_state *w = a[1];
    free(a);
    for (;;) {
        pthread_mutex_lock(&l->mu);
        while (!l->stop && (l->next_claim >= l->released + l->nslots || l->next_claim >= l->nseq))
            pthread_cond_wait(&l->cv, &l->mu);
        if (l->stop) {
            pthread_mutex_unlock(&l->mu);
            return NULL;
        }
        int64_t seq = l->next_claim++;
        int64_t idx = l->o.start_batch + seq * l->stride;
        slot *s = &l->slots[seq % l->nslots];
        s->seq = seq;
        s->state = SLOT_FILLING;
        pthread_mutex_unlock(&l->mu);
        milnce_error_clear(&s->err);
        int ret = build_batch(l, w, idx, &s->b, &s->err);
        pthread_mutex_lock(&l->mu);
        s->ret = ret;
        s->state = SLOT_READY;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
    }
}

static int ws_init(milnce_loader *l, worker_state *w, milnce_error *err) {
    memset(w, 0, sizeof *w);
    w->perm_epoch = -1;
    w->sent_video = -1;
    w->perm = malloc((l->nvideos + 1) * sizeof *w->perm);
    return w->perm ? 0 : milnce_error_set(err, MILNCE_ERR_NOMEM, "epoch order");
}

static void ws_free(worker_state *w) {
    free(w->perm);
    milnce_frames_free(&w->frames);
    milnce_decoder_free(&w->dec);
    milnce_sample_sentences_free(&w->sent);
}

int milnce_loader_open(milnce_loader **out, const milnce_loader_opts *o, milnce_error *err) {
    *out = NULL;
    if (o->resize > 0 && o->resize < o->size)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "loader: crop %d is larger than the resized short side %d", o->size, o->resize);
    if (o->batch_size < 1 || o->num_frames < 1 || o->size < 1 || o->max_words < 1 || o->world < 1 ||
        o->rank < 0 || o->rank >= o->world || o->fps <= 0)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "loader: bad sizes (batch %d, frames %d, size %d, rank %d of %d)",
                                o->batch_size, o->num_frames, o->size, o->rank, o->world);
    int K = milnce_window_bag_size(&o->window);
    if (K < 1 || K > 64) return milnce_error_set(err, MILNCE_ERR_RANGE, "loader: bag of %d sentences (1..64)", K);
    milnce_loader *l = calloc(1, sizeof *l);
    if (!l) return milnce_error_set(err, MILNCE_ERR_NOMEM, "loader");
    l->o = *o;
    if (l->o.workers < 1) l->o.workers = 1;
    if (l->o.queue < 1) l->o.queue = 1;
    l->K = K;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    int ret = open_shards(l, err);
    if (ret < 0) goto fail;
    l->per_epoch = (int64_t)(l->nvideos / ((size_t)o->batch_size * o->world));
    if (l->per_epoch < 1) {
        ret = milnce_error_set(err, MILNCE_ERR_RANGE, "%s: %zu videos cannot fill one global batch of %d",
                               o->shards, l->nvideos, o->batch_size * o->world);
        goto fail;
    }
    if ((ret = ws_init(l, &l->sync_ws, err)) < 0) goto fail;
    l->nslots = l->o.queue + l->o.workers;
    l->slots = calloc((size_t)l->nslots, sizeof *l->slots);
    l->ws = calloc((size_t)l->o.workers, sizeof *l->ws);
    l->threads = calloc((size_t)l->o.workers, sizeof *l->threads);
    if (!l->slots || !l->ws || !l->threads) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "loader"); goto fail; }
    for (int i = 0; i < l->nslots; i++)
        if ((ret = milnce_batch_alloc(&l->slots[i].b, o->batch_size, K, o->num_frames, o->size, o->max_words, err)) < 0) goto fail;
    l->next_claim = l->next_deliver = l->released = 0;
    l->stride = o->batch_stride > 1 ? o->batch_stride : 1;
    l->nseq = INT64_MAX;
    if (o->end_batch > 0)
        l->nseq = o->end_batch > o->start_batch ? (o->end_batch - o->start_batch + l->stride - 1) / l->stride : 0;
    l->t_open = now_s();
    for (int i = 0; i < l->o.workers; i++) {
        if ((ret = ws_init(l, &l->ws[i], err)) < 0) goto fail;
        void **a = malloc(2 * sizeof *a);
        a[0] = l;
        a[1] = &l->ws[i];
        pthread_create(&l->threads[i], NULL, worker_main, a);
    }
    *out = l;
    return 0;
fail:
    milnce_loader_close(&l);
    return ret;
}

size_t milnce_loader_videos(const milnce_loader *l) { return l->nvideos; }
int64_t milnce_loader_batches_per_epoch(const milnce_loader *l) { return l->per_epoch; }
const char *milnce_loader_key(const milnce_loader *l, size_t i) {
    return milnce_shard_key(l->shards[l->videos[i].shard], l->videos[i].sample);
}

int milnce_loader_sample_json(const milnce_loader *l, size_t i, const uint8_t **data, size_t *size,
                              milnce_error *err) {
    if (i >= l->nvideos) return milnce_error_set(err, MILNCE_ERR_RANGE, "video %zu of %zu", i, l->nvideos);
    return milnce_shard_get(l->shards[l->videos[i].shard], l->videos[i].sample, "json", data, size, err);
}

int milnce_loader_next(milnce_loader *l, milnce_batch **b, milnce_error *err) {
    double t = now_s();
    pthread_mutex_lock(&l->mu);
    if (l->next_deliver >= l->nseq) {
        pthread_mutex_unlock(&l->mu);
        return milnce_error_set(err, MILNCE_ERR_RANGE, "loader: no batch after %lld (end_batch)", (long long)l->o.end_batch);
    }
    slot *s = &l->slots[l->next_deliver % l->nslots];
    while (!(s->state == SLOT_READY && s->seq == l->next_deliver)) pthread_cond_wait(&l->cv, &l->mu);
    s->state = SLOT_INUSE;
    l->next_deliver++;
    pthread_mutex_unlock(&l->mu);
    l->waited += now_s() - t;
    if (s->ret < 0) {
        milnce_error_set(err, s->ret, "%s", s->err.msg);
        milnce_loader_release(l, &s->b);
        return s->ret;
    }
    *b = &s->b;
    return 0;
}

void milnce_loader_release(milnce_loader *l, milnce_batch *b) {
    pthread_mutex_lock(&l->mu);
    int64_t seq = (b->index - l->o.start_batch) / l->stride;
    slot *s = &l->slots[seq % l->nslots];
    s->state = SLOT_FREE;
    l->released = seq + 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

double milnce_loader_wait_fraction(const milnce_loader *l) {
    double total = now_s() - l->t_open;
    return total > 0 ? l->waited / total : 0;
}

int milnce_loader_make_batch(milnce_loader *l, int64_t index, milnce_batch *b, milnce_error *err) {
    return build_batch(l, &l->sync_ws, index, b, err);
}

void milnce_loader_close(milnce_loader **lp) {
    milnce_loader *l = *lp;
    if (!l) return;
    if (l->threads) {
        pthread_mutex_lock(&l->mu);
        l->stop = 1;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        for (int i = 0; i < l->o.workers; i++)
            if (l->threads[i]) pthread_join(l->threads[i], NULL);
    }
    for (int i = 0; l->slots && i < l->nslots; i++) milnce_batch_free(&l->slots[i].b);
    for (int i = 0; l->ws && i < l->o.workers; i++) ws_free(&l->ws[i]);
    ws_free(&l->sync_ws);
    for (int i = 0; i < l->nshards; i++) milnce_shard_close(&l->shards[i]);
    free(l->shards); free(l->videos); free(l->slots); free(l->ws); free(l->threads);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
    *lp = NULL;
}
