/* The loader's C API for other languages (include/milnce/loader.h) over pipeline/loader.c:
 * config -> loader options as `milnce train` maps them, consumers as a batch stride, epochs as
 * [start, end) batch ranges, and the int32 word ids / pixels widened for the caller. */
#include "milnce/loader.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "error.h"
#include "loader.h"

enum { NWARN = 256 };

/* The loader's logger: warnings kept for the caller to read (no printing in the library). */
typedef struct warn_ring {
    pthread_mutex_t mu;
    char *msg[NWARN];
    uint64_t head, tail; /* messages [tail, head) are kept, at index % NWARN */
    uint64_t dropped;
} warn_ring;

struct milnce_data_loader {
    warn_ring warn;
    milnce_logger lg;
    milnce_config cfg;
    char *yaml;             /* resolved config */
    milnce_data_split split;
    milnce_loader_opts lo;
    milnce_loader *l;       /* running from batch `pos` */
    milnce_batch *held;     /* delivered, released at the next call */
    size_t nvideos;
    char **keys;            /* (nvideos) video ids */
    int64_t per_epoch;      /* global batches per epoch */
    int epoch;
    int64_t pos;            /* next global batch index to deliver */
    int64_t *text;          /* (B, K, L) */
    uint8_t *u8;            /* (B, 3, T, S, S) */
    double *times;          /* (B, 2) */
};

static void ring_log(void *user, int level, const char *msg) {
    warn_ring *w = user;
    if (level > MILNCE_LOG_WARN) return;
    char *m = strdup(msg);
    pthread_mutex_lock(&w->mu);
    if (w->head - w->tail == NWARN) {
        free(w->msg[w->tail % NWARN]);
        w->msg[w->tail++ % NWARN] = NULL;
        w->dropped++;
    }
    w->msg[w->head++ % NWARN] = m; /* NULL when out of memory: popped as an empty message */
    pthread_mutex_unlock(&w->mu);
}

int milnce_data_pop_warning(milnce_data_loader *d, char *buf, size_t cap, uint64_t *dropped) {
    warn_ring *w = &d->warn;
    pthread_mutex_lock(&w->mu);
    if (dropped) *dropped = w->dropped;
    w->dropped = 0;
    int got = w->tail < w->head;
    if (got) {
        char *m = w->msg[w->tail % NWARN];
        w->msg[w->tail++ % NWARN] = NULL;
        if (cap) snprintf(buf, cap, "%s", m ? m : "");
        free(m);
    }
    pthread_mutex_unlock(&w->mu);
    return got;
}

static int resolve(milnce_config *cfg, const char *config, const char *const *sets, int nsets, milnce_error *err) {
    milnce_config_defaults(cfg);
    int ret;
    if (config && config[0] && (ret = milnce_config_load(cfg, config, err)) < 0) return ret;
    for (int i = 0; i < nsets; i++)
        if (sets[i] && (ret = milnce_config_set(cfg, sets[i], err)) < 0) return ret;
    return milnce_config_validate(cfg, err);
}

int milnce_data_resolve_config(const char *config, const char *const *sets, int nsets, char **yaml,
                               milnce_error *err) {
    *yaml = NULL;
    milnce_config *cfg = malloc(sizeof *cfg);
    if (!cfg) return milnce_error_set(err, MILNCE_ERR_NOMEM, "config");
    int ret = resolve(cfg, config, sets, nsets, err);
    if (ret == 0 && !(*yaml = milnce_config_to_yaml(cfg))) ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "config");
    free(cfg);
    return ret;
}

void milnce_data_free(void *p) { free(p); }

/* (Re)starts the loader at this consumer's first batch of epoch e; the run ends after
 * split.epochs epochs (0: no end). */
static int start_epoch(milnce_data_loader *d, int epoch, milnce_error *err) {
    if (d->held) {
        milnce_loader_release(d->l, d->held);
        d->held = NULL;
    }
    milnce_loader_close(&d->l);
    d->epoch = epoch;
    d->pos = (int64_t)epoch * d->per_epoch + d->split.consumer;
    d->lo.start_batch = d->pos;
    d->lo.batch_stride = d->split.consumers;
    d->lo.end_batch = d->split.epochs > 0 ? ((int64_t)epoch + d->split.epochs) * d->per_epoch : 0;
    if (d->lo.end_batch && d->pos >= d->lo.end_batch) return 0; /* more consumers than batches: none here */
    return milnce_loader_open(&d->l, &d->lo, err);
}

int milnce_data_open(milnce_data_loader **out, const char *config, const char *const *sets, int nsets,
                     const milnce_data_split *split, milnce_error *err) {
    *out = NULL;
    milnce_data_split sp = split ? *split : (milnce_data_split){.world = 1, .consumers = 1, .epochs = 1};
    if (sp.world < 1 || sp.rank < 0 || sp.rank >= sp.world)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "rank %d of world %d", sp.rank, sp.world);
    if (sp.consumers < 1 || sp.consumer < 0 || sp.consumer >= sp.consumers)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "consumer %d of %d", sp.consumer, sp.consumers);
    if (sp.epoch < 0 || sp.epochs < 0) return milnce_error_set(err, MILNCE_ERR_INVALID, "epoch %d, epochs %d", sp.epoch, sp.epochs);
    milnce_data_loader *d = calloc(1, sizeof *d);
    if (!d) return milnce_error_set(err, MILNCE_ERR_NOMEM, "loader");
    d->split = sp;
    pthread_mutex_init(&d->warn.mu, NULL);
    d->lg = (milnce_logger){ring_log, &d->warn};
    const milnce_config *cfg = &d->cfg;
    int ret = resolve(&d->cfg, config, sets, nsets, err);
    if (ret < 0) goto fail;
    if (!cfg->data.shards[0]) { ret = milnce_error_set(err, MILNCE_ERR_INVALID, "key data.shards: no shards given"); goto fail; }
    struct stat st;
    if (stat(cfg->data.shards, &st) < 0) {
        ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "key data.shards: %s: %s", cfg->data.shards, strerror(errno));
        goto fail;
    }
    if (cfg->train.batch_size % sp.world != 0) {
        ret = milnce_error_set(err, MILNCE_ERR_INVALID, "key train.batch_size: %d is not divisible by the %d ranks",
                               cfg->train.batch_size, sp.world);
        goto fail;
    }
    if (!(d->yaml = milnce_config_to_yaml(cfg))) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "config"); goto fail; }
    /* As `milnce train` maps the config. */
    milnce_loader_opts *lo = &d->lo;
    milnce_loader_opts_from_config(lo, cfg);
    lo->batch_size = cfg->train.batch_size / sp.world;
    lo->rank = sp.rank;
    lo->world = sp.world;
    lo->lg = &d->lg;
    /* A first open finds the videos, their ids and the epoch length with nothing to decode
     * (start = end: the one thread has no batch to make); then the run's own open. */
    lo->workers = 1;
    lo->queue = 1;
    lo->start_batch = lo->end_batch = 1;
    if ((ret = milnce_loader_open(&d->l, lo, err)) < 0) goto fail;
    d->nvideos = milnce_loader_videos(d->l);
    d->per_epoch = milnce_loader_batches_per_epoch(d->l);
    if (!(d->keys = calloc(d->nvideos, sizeof *d->keys))) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "video ids"); goto fail; }
    for (size_t i = 0; i < d->nvideos; i++)
        if (!(d->keys[i] = strdup(milnce_loader_key(d->l, i)))) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "video ids"); goto fail; }
    milnce_loader_close(&d->l);
    lo->workers = cfg->data.workers;
    lo->queue = cfg->data.queue_batches;
    int K = milnce_window_bag_size(&lo->window);
    size_t B = (size_t)lo->batch_size, clip = (size_t)3 * lo->num_frames * lo->size * lo->size;
    d->text = malloc(B * K * lo->max_words * sizeof *d->text);
    d->times = malloc(B * 2 * sizeof *d->times);
    if (sp.video_uint8) d->u8 = malloc(B * clip);
    if (!d->text || !d->times || (sp.video_uint8 && !d->u8)) { ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "batch of %zu clips", B); goto fail; }
    if ((ret = start_epoch(d, sp.epoch, err)) < 0) goto fail;
    *out = d;
    return 0;
fail:
    milnce_data_close(&d);
    return ret;
}

int milnce_data_set_epoch(milnce_data_loader *d, int epoch, milnce_error *err) {
    if (epoch < 0) return milnce_error_set(err, MILNCE_ERR_INVALID, "epoch %d", epoch);
    if (epoch == d->epoch && d->pos == (int64_t)epoch * d->per_epoch + d->split.consumer && !d->held) return 0;
    return start_epoch(d, epoch, err);
}

int milnce_data_next(milnce_data_loader *d, milnce_data_batch *out, milnce_error *err) {
    memset(out, 0, sizeof *out);
    if (d->held) {
        milnce_loader_release(d->l, d->held);
        d->held = NULL;
    }
    if (!d->l || (d->lo.end_batch && d->pos >= d->lo.end_batch)) return 1;
    milnce_batch *b;
    int ret = milnce_loader_next(d->l, &b, err);
    if (ret < 0) {
        /* The loader went past the failed batch: the next call gives the one after it. */
        d->pos += d->split.consumers;
        return ret;
    }
    d->held = b;
    d->pos = b->index + d->split.consumers;
    size_t n = (size_t)b->B * b->K * b->L;
    for (size_t i = 0; i < n; i++) d->text[i] = b->text[i];
    double len = b->T / d->lo.fps;
    for (int i = 0; i < b->B; i++) {
        d->times[2 * i] = b->clip_start[i];
        d->times[2 * i + 1] = b->clip_start[i] + len;
    }
    if (d->u8) {
        size_t m = (size_t)b->B * 3 * b->T * b->S * b->S;
        for (size_t i = 0; i < m; i++) d->u8[i] = (uint8_t)lrintf(b->video[i] * 255.0f);
    }
    *out = (milnce_data_batch){.index = b->index, .epoch = b->epoch, .B = b->B, .K = b->K, .T = b->T,
                               .S = b->S, .L = b->L, .video = b->video, .video_u8 = d->u8, .text = d->text,
                               .mask = b->mask, .video_idx = b->video_idx, .anchor = b->anchor,
                               .clip_time = d->times};
    return 0;
}

size_t milnce_data_videos(const milnce_data_loader *d) { return d->nvideos; }
int64_t milnce_data_batches_per_epoch(const milnce_data_loader *d) { return d->per_epoch; }
int64_t milnce_data_consumer_batches(const milnce_data_loader *d) {
    if (d->split.epochs == 0) return -1;
    int64_t n = d->split.epochs * d->per_epoch, c = d->split.consumer, C = d->split.consumers;
    return n > c ? (n - c + C - 1) / C : 0;
}
const char *milnce_data_key(const milnce_data_loader *d, size_t i) {
    return i < d->nvideos ? d->keys[i] : NULL;
}
const char *milnce_data_config_yaml(const milnce_data_loader *d) { return d->yaml; }

void milnce_data_close(milnce_data_loader **dp) {
    milnce_data_loader *d = *dp;
    if (!d) return;
    if (d->held) milnce_loader_release(d->l, d->held);
    milnce_loader_close(&d->l);
    for (size_t i = 0; d->keys && i < d->nvideos; i++) free(d->keys[i]);
    free(d->keys);
    free(d->yaml);
    free(d->text);
    free(d->u8);
    free(d->times);
    for (int i = 0; i < NWARN; i++) free(d->warn.msg[i]);
    pthread_mutex_destroy(&d->warn.mu);
    free(d);
    *dp = NULL;
}
