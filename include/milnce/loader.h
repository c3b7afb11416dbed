/* milnce's training loader for other languages (Python's milnce.Loader goes through this).
 *
 * Legend: B clips per batch on this rank, K bag slots, T frames, S crop side, L words.
 *
 * A handle opens the shards of data.shards with the options of a milnce config (a YAML file
 * and/or "section.key=value" strings, as `milnce train --config F --set k=v`): data.* choose the
 * clips and bags, train.seed the randomness, train.batch_size the GLOBAL batch (this rank loads
 * train.batch_size / world clips of each, as `milnce train` on `world` ranks does),
 * data.workers/queue_batches the decoding threads. Batch n of the run is the same whatever the
 * number of threads, ranks or consumers: it depends on (seed, n) only, and epoch e is the global
 * batches [e * P, (e + 1) * P) with P = milnce_data_batches_per_epoch (every video once across
 * the ranks; the last partial global batch is dropped).
 *
 * A run covers `epochs` epochs from `epoch` (0 = without end), one after the other without a
 * pause: the global batches [epoch * P, (epoch + epochs) * P).
 *
 * Consumers: `consumer` c of `consumers` C (e.g. a DataLoader worker process) receives the
 * batches s + c, s + c + C, s + c + 2C, ... of the run (s = its first batch), so C consumers
 * together deliver every batch exactly once, and taking one batch from each in turn gives the
 * run's order.
 *
 * Errors: every function returning int gives 0 (or 1 = end of the epoch for
 * milnce_data_next) or a negative code, and fills the caller's struct milnce_error
 * ({int code; char msg[1024];}, src/base/error.h) with a message naming the file or key at fault.
 * Nothing is printed. */
#ifndef MILNCE_PUBLIC_LOADER_H
#define MILNCE_PUBLIC_LOADER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct milnce_error;

typedef struct milnce_data_loader milnce_data_loader;

typedef struct milnce_data_split {
    int rank, world;          /* data-parallel part of each global batch: 0, 1 alone */
    int consumer, consumers;  /* which of the batches: 0, 1 = all */
    int epoch;                /* the epoch to start with */
    int epochs;               /* epochs in a run: 0 = without end, 1 = one epoch, ... */
    int video_uint8;          /* 1: also fill video_u8 (pixels 0..255, = round(video * 255)) */
} milnce_data_split;

/* One batch; the pointers stay valid until the next milnce_data_next or milnce_data_close. */
typedef struct milnce_data_batch {
    int64_t index;             /* global batch number since epoch 0 */
    int64_t epoch;
    int64_t B, K, T, S, L;
    const float *video;        /* (B, 3, T, S, S) RGB in [0, 1], zero past the video's end */
    const uint8_t *video_u8;   /* (B, 3, T, S, S) when split.video_uint8, else NULL */
    const int64_t *text;       /* (B, K, L) word ids, 0 = padding (vocab.txt line numbers) */
    const uint8_t *mask;       /* (B, K) 1 = real candidate of the bag */
    const int32_t *video_idx;  /* (B) index of the video: milnce_data_key() gives its id */
    const int32_t *anchor;     /* (B) anchor sentence in the video's sentences */
    const double *clip_time;   /* (B, 2) clip start and end, seconds */
} milnce_data_batch;

int milnce_data_open(milnce_data_loader **out, const char *config, const char *const *sets, int nsets,
                     const milnce_data_split *split, struct milnce_error *err);

/* Restarts the run at this consumer's first batch of `epoch` (no-op when already there). */
int milnce_data_set_epoch(milnce_data_loader *d, int epoch, struct milnce_error *err);

/* The next batch of the run into *b: 0, or 1 when the run is over (then set_epoch). A clip
 * that cannot be decoded is replaced by another video (deterministically); only 8 failures in a
 * row fail the batch. */
int milnce_data_next(milnce_data_loader *d, milnce_data_batch *b, struct milnce_error *err);

/* Warnings of the loader threads (a damaged sample replaced, ...), oldest first: copies one into
 * buf (NUL-terminated, cut to cap) and returns 1, or 0 when none is left. The last 256 are kept;
 * *dropped (may be NULL) receives how many older ones were lost since the previous call. */
int milnce_data_pop_warning(milnce_data_loader *d, char *buf, size_t cap, uint64_t *dropped);

size_t milnce_data_videos(const milnce_data_loader *d);
int64_t milnce_data_batches_per_epoch(const milnce_data_loader *d); /* global batches */
int64_t milnce_data_consumer_batches(const milnce_data_loader *d);  /* this consumer's in a run
                                                                        (-1 without end) */
const char *milnce_data_key(const milnce_data_loader *d, size_t video_idx); /* NULL out of range */
/* The resolved configuration (YAML) the loader runs with; valid until close. */
const char *milnce_data_config_yaml(const milnce_data_loader *d);

void milnce_data_close(milnce_data_loader **d);

/* The resolved YAML of defaults + config file + sets, or an error naming the key: *yaml is
 * malloc'ed, free it with milnce_data_free. */
int milnce_data_resolve_config(const char *config, const char *const *sets, int nsets, char **yaml,
                               struct milnce_error *err);
void milnce_data_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
