/* `milnce preprocess`: videos + narration -> training shards.
 *
 * Work division. The video list (in its order) is cut into chunks of `videos_per_shard`;
 * chunk k becomes shard k (`<out>/train-%06d.tar` + `.idx.json`) holding the chunk's videos
 * that could be used, in list order. A part `shard_index` of `num_shards` makes the shards
 * k with k % num_shards == shard_index, so the union of the parts is exactly the single-process
 * output, file for file. Shard k is complete when `<out>/train-%06d.stats.json` exists: it is
 * written last, after the tar and the index (all three atomically), and records the shard's
 * counts, every skipped input with its reason, and the identity of its inputs ("inputs": a
 * digest of its list entries, their video and narration files by path, size and mtime, the
 * rendition and narration options and the vocabulary; io/fs/input_identity.h). A re-run keeps
 * complete shards whose inputs are unchanged and re-makes the others, byte-identical (the
 * encoder is single-threaded and every header deterministic); shards numbered beyond the
 * list's end (left by a longer list) are removed, since the loader reads every shard in the
 * folder.
 *
 * Narration: `captions` is a folder of per-video files `<id>.csv|.srt|.vtt|.sbv|.json`, a
 * HowTo100M caption.json (streamed once; only this part's entries are kept), or "embedded" (the
 * subtitle stream of each video). The vocabulary is `vocab_path` when given, else built once
 * from the narration of every video in the list (so every part builds the same one) and saved
 * as `<out>/vocab.txt` with the identity of its inputs in `<out>/vocab.inputs`; a re-run
 * reuses that file only when the identity still matches.
 *
 * Memory, whatever the videos' lengths: each worker holds a few decoded frames, the encoder's
 * look-ahead and the muxer's sample tables (~30 bytes per rendition frame); no rendition is held.
 * With one job the rendition is encoded straight into the shard being written (a streamed tar
 * member, rolled back when the video fails); with several, workers run ahead in list order (at
 * most 2 x jobs videos in flight), each encoding into an unlinked spool file in the output
 * folder, and the committing thread copies the spools into the shard in list order (64 KiB at
 * a time). Both give the same bytes. An error writing the output (a full disk) stops the run;
 * an error in a video skips it.
 *
 * Video and narration are separate inputs: each sample JSON records its rendition's identity
 * ("rendition": video file + rendition options) beside the sentences (raw text and token ids).
 * A shard remade because its narration or the vocabulary changed copies the .mp4 member of
 * every video whose rendition identity is unchanged from the shard it replaces, byte for byte,
 * and transcodes only the others. */
#ifndef MILNCE_PREPROCESS_H
#define MILNCE_PREPROCESS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct milnce_preprocess_progress {
    int64_t done, total;    /* videos of this part */
    int64_t skipped;        /* of done */
    double video_seconds;   /* source seconds transcoded so far */
    double elapsed;         /* wall seconds since start */
} milnce_preprocess_progress;

typedef struct milnce_preprocess_opts {
    const char *video_list;  /* CSV or folder */
    const char *video_root;  /* for video_id rows; NULL = the CSV's folder */
    const char *captions;    /* folder, caption.json, or "embedded" */
    const char *out_dir;
    const char *vocab_path;  /* NULL = build */
    int vocab_max, vocab_min_count;
    double fps;              /* rendition frame rate (whole number) */
    int size;                /* rendition short side */
    int crf;                 /* 0 = encoder default */
    double max_seconds;      /* per video, 0 = all */
    int videos_per_shard;
    int jobs;
    int shard_index, num_shards;
    int overlap;             /* MILNCE_OVERLAP_* for HowTo100M rolling lines */
    const char *encoding_fallbacks; /* iconv names tried for non-UTF-8 subtitles */
    int keep_complete;       /* keep complete shards whatever their recorded inputs */
    const volatile sig_atomic_t *cancel; /* set non-zero (e.g. by a signal) to stop after the shard in progress */
    const struct milnce_logger *lg;
    void (*progress)(void *user, const milnce_preprocess_progress *p);
    void *progress_user;
} milnce_preprocess_opts;

void milnce_preprocess_opts_default(milnce_preprocess_opts *o);

typedef struct milnce_preprocess_stats {
    int64_t videos;          /* written to shards (this part, all complete shards) */
    int64_t skipped;
    double seconds;          /* source seconds */
    int64_t sentences;       /* kept */
    int64_t after_end;       /* sentences starting after their video's end: dropped */
    int64_t ending_after;    /* sentences kept that end after their video's end */
    int64_t narration_warned; /* videos kept that lost more than half their narration that way */
    int64_t bytes;           /* tar bytes */
    int shards_written, shards_reused, shards_total;
    int shards_remade;       /* of shards_written: complete, but made from other inputs */
    int shards_removed;      /* numbered beyond the list's last shard, left by a longer list */
    int64_t renditions_encoded;  /* this run: videos transcoded */
    int64_t renditions_copied;   /* this run: .mp4 members copied from the shard being remade
                                    (same video and rendition options; narration or vocabulary changed) */
    int64_t bytes_encoded;       /* .mp4 bytes of the renditions transcoded by this run */
    int merged;              /* a part that found every part complete wrote stats.json/errors.log */
} milnce_preprocess_stats;

/* Runs the part; writes shards, vocab.txt, stats.json (this part's totals and skips by reason)
 * and errors.log (one line per skipped input: id, file, category, reason; and one per kept
 * video that lost more than half of its narration past its end, category "narration after the
 * video's end"). Narration past the end: see drop_after_end in preprocess.c (README). */
int milnce_preprocess_run(const milnce_preprocess_opts *o, milnce_preprocess_stats *st,
                          milnce_error *err);

/* Many parts (MPI ranks, --shard-index/--num-shards): each writes stats.partI-of-N.json and
 * errors.partI-of-N.log; the last part to finish (every shard of the list complete, from the
 * same inputs) also writes the merged stats.json and errors.log, byte-identical to a single
 * process's. This writes them from the shards' stats files found in out_dir (shards 0..n-1,
 * none missing), e.g. after parts that ran with different lists or options. */
int milnce_preprocess_merge_stats(const char *out_dir, milnce_preprocess_stats *st, milnce_error *err);

#endif
