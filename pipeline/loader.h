/* The training loader: shards -> batches of (clip, bag of sentences), ready before they are asked.
 *
 * Legend: B clips per batch on this rank, K bag slots, T frames, S crop side, L max_words.
 *
 * Epochs follow the reference: an epoch visits every video once, in an order shuffled by
 * (seed, epoch); a batch is B consecutive videos of that order (the last partial batch is
 * dropped). Under data parallelism the global batch of B·R videos is split into R consecutive
 * parts, rank r taking part r. Every random choice for a sample (anchor sentence, clip start,
 * crop, flip) comes from an RNG stream keyed by (seed, epoch, position in the epoch), so the
 * batches do not depend on the number of workers or ranks or on timing: given the seed, batch
 * n is always the same.
 *
 * Per sample: the video's sentences (from its .json member) sorted by start; an anchor drawn
 * uniformly; the bag by the window rule (nearest: K = num_candidates; symmetric: K = 2k+1 with
 * a mask); the clip span = the anchor's [start, end] widened to min_time; T frames at fps from
 * a start drawn uniformly from the span's whole seconds (the reference's rule, see
 * milnce_clip_start_range; renditions have a key frame on each) or, with whole_seconds = 0,
 * from anywhere in it, decoded in memory from the .mp4 member, resized to short side `resize`
 * when the rendition's differs, random S x S
 * crop + horizontal flip with p = 1/2 (train) or centre crop, zero-padded to T frames when the
 * video ends first (as the reference), as float RGB in [0, 1].
 *
 * Each worker thread keeps one decoder and points it at the next sample's member
 * (milnce_decoder_reuse_memory: no stream-info probing for the H.264 renditions, the codec kept
 * when the parameters are identical), converts only the crop region of each frame and writes it
 * straight into the batch (milnce_decoder_clip_planar); the pixels are those of a fresh decoder's
 * milnce_decoder_clip / 255 (tests/check_loader.c compares them exactly). */
#ifndef MILNCE_LOADER_H
#define MILNCE_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "window.h"

typedef struct milnce_loader_opts {
    const char *shards;      /* folder of <prefix>-NNNNNN.tar (+ .idx.json) or one .tar */
    int batch_size;          /* B: clips per batch on this rank */
    int num_frames;          /* T */
    double fps;
    int size;                /* S */
    int resize;              /* short side the frames are resized to before the S x S crop
                              * (the reference's loader scales to 256, then crops 224): > 0 and
                              * not the rendition's short side = resized; 0 = the rendition as
                              * it is (resized up to S only when its short side is below S) */
    double min_time;         /* seconds */
    int whole_seconds;       /* 1: clip starts on whole seconds (the reference); 0: anywhere */
    milnce_window_spec window;
    int max_words;           /* L */
    int train;               /* 1: random crop + flip; 0: centre crop */
    int workers;             /* decoding threads (>= 1) */
    int queue;               /* ready batches kept ahead (>= 1) */
    uint64_t seed;
    int rank, world;         /* data-parallel split of the global batch; 0, 1 alone */
    int64_t start_batch;     /* first global batch index to produce (resume) */
    int64_t vocab_words;     /* > 0: a sample with a token id above it (ids 1..vocab_words, 0 =
                                padding) is bad and replaced, warning with shard and key */
    const char *vocab_name;  /* the vocabulary file, for those warnings */
    int64_t batch_stride;    /* produce start_batch, start_batch + stride, ...: one of `stride`
                              * consumers sharing the batches (Python DataLoader workers);
                              * 0 or 1 = every batch */
    int64_t end_batch;       /* > 0: no batch index >= this is produced (milnce_loader_next
                              * then fails instead of waiting); 0 = no end */
    const struct milnce_logger *lg;
} milnce_loader_opts;

void milnce_loader_opts_default(milnce_loader_opts *o);

/* The short side a rendition of short side short_side is resized to (milnce_clip_spec.size;
 * 0 = kept as it is), by the rule of o->resize above. */
int milnce_loader_resize_for(const milnce_loader_opts *o, int short_side);
/* Defaults, then the data.* keys of cfg and train.seed (as `milnce train` loads); the caller
 * sets batch_size (per rank), rank/world, start_batch and the logger. cfg must outlive o
 * (o->shards points into it). */
struct milnce_config;
void milnce_loader_opts_from_config(milnce_loader_opts *o, const struct milnce_config *cfg);

typedef struct milnce_batch {
    int64_t index;      /* global batch number since epoch 0 */
    int epoch;
    int B, K, T, S, L;
    float *video;       /* (B, 3, T, S, S) */
    int32_t *text;      /* (B, K, L) word ids, 0 = padding */
    uint8_t *mask;      /* (B, K) 1 = real candidate */
    int32_t *video_idx; /* (B) index of the video in the loader's list */
    int32_t *anchor;    /* (B) anchor sentence */
    double *clip_start; /* (B) seconds */
} milnce_batch;

typedef struct milnce_loader milnce_loader;

int milnce_loader_open(milnce_loader **l, const milnce_loader_opts *o, milnce_error *err);
/* Videos found and batches per epoch (global). */
size_t milnce_loader_videos(const milnce_loader *l);
int64_t milnce_loader_batches_per_epoch(const milnce_loader *l);
/* Key (video id) of video i. */
const char *milnce_loader_key(const milnce_loader *l, size_t i);

/* The .json member of video i (zero copy, valid until close). */
int milnce_loader_sample_json(const milnce_loader *l, size_t i, const uint8_t **data, size_t *size,
                              milnce_error *err);

/* Blocks until the next batch is ready; *b stays valid until milnce_loader_release(l, *b).
 * Batches are released in the order they were received (a slot is refilled after that).
 * A sample that fails to decode is replaced by the next video of the epoch order (logged). */
int milnce_loader_next(milnce_loader *l, milnce_batch **b, milnce_error *err);
void milnce_loader_release(milnce_loader *l, milnce_batch *b);

/* Fraction of the consumer's time spent waiting in milnce_loader_next since open (0..1). */
double milnce_loader_wait_fraction(const milnce_loader *l);

/* Builds one batch synchronously (no threads), for tests and for evaluation of a fixed batch. */
int milnce_loader_make_batch(milnce_loader *l, int64_t index, milnce_batch *b, milnce_error *err);
int milnce_batch_alloc(milnce_batch *b, int B, int K, int T, int S, int L, milnce_error *err);
void milnce_batch_free(milnce_batch *b);

void milnce_loader_close(milnce_loader **l);

#endif
