/* Run configuration: YAML files of sections and keys, every key with a default.
 *
 * The schema is one table (io/formats/config.c) of {section.key, type, default, range, help} bound by
 * offsetof to the fields of milnce_config, so code reads typed fields (cfg.train.lr) while the
 * parser, the --set overrides, the resolved-config writer and `milnce config --help` all walk
 * the same table. An unknown key, a wrong type or an out-of-range value is an error naming the
 * file, the line and the key. */
#ifndef MILNCE_CONFIG_H
#define MILNCE_CONFIG_H

#include <stddef.h>

#include "error.h"

#define MILNCE_CONFIG_STR 1024

typedef struct milnce_config {
    struct {
        char shards[MILNCE_CONFIG_STR];     /* shard folder or glob for training */
        char video_list[MILNCE_CONFIG_STR]; /* preprocess input: CSV or folder */
        char captions[MILNCE_CONFIG_STR];   /* narration: folder, caption.json, or "embedded" */
        int num_frames;                     /* frames per clip */
        double fps;                         /* frames per second sampled */
        int size;                           /* square crop side, pixels */
        int resize;                         /* short side of the preprocessed rendition, pixels */
        double min_time;                    /* seconds: clip span widened to at least this */
        char clip_start[16];                /* "second" (reference) | "any" */
        char window[16];                    /* "nearest" | "symmetric" */
        int num_candidates;                 /* K of the nearest rule */
        int window_k;                       /* +-k of the symmetric rule */
        double max_gap;                     /* seconds; 0 = no limit (symmetric rule) */
        int max_words;                      /* tokens per sentence, training */
        int crop_random;                    /* random crop + flip (train) vs centre crop */
        int workers;                        /* loader/preprocess threads */
        int queue_batches;                  /* ready batches kept by the loader */
        int dedupe;                         /* de-duplicate rolling caption lines */
    } data;
    struct {
        char video[32];        /* "s3dg" */
        double width;          /* channel width multiplier */
        int space_to_depth;    /* released-model stem */
        int blocks3, blocks4, blocks5; /* Inception blocks per stage (full: 2, 5, 2) */
        int embed_dim;         /* joint embedding size */
        int word_dim;          /* word vector size */
        int text_hidden;       /* text encoder hidden size */
        char vocab[MILNCE_CONFIG_STR];    /* vocabulary file ("" = build from data) */
        char word2vec[MILNCE_CONFIG_STR]; /* word vectors ("" = random init) */
        int freeze_words;      /* keep word vectors fixed */
        int vocab_max;         /* words kept when building a vocabulary */
        int vocab_min_count;   /* occurrences needed to enter the vocabulary */
    } model;
    struct {
        char out_dir[MILNCE_CONFIG_STR];
        int batch_size;
        int epochs;
        int max_steps;          /* 0 = epochs decide */
        char optimizer[16];     /* "adam" | "sgd" */
        double lr;
        double momentum;
        double weight_decay;
        int decoupled_wd;       /* AdamW-style decay */
        int warmup_steps;
        double grad_clip;       /* global norm; 0 = off */
        double temperature;     /* scores divided by this */
        int normalize;          /* L2-normalise embeddings before scoring */
        int seed;
        int checkpoint_every;   /* steps */
        int keep_last;          /* checkpoints kept */
        int log_every;          /* steps */
        int sync_bn;            /* synchronise BatchNorm statistics across MPI ranks */
        int freeze_bn;          /* BatchNorm uses (and keeps) its running statistics */
        int masked_words;       /* text max-pool over real words only (reference: padding too) */
        char loss[16];          /* bag rule: "milnce" | "max" | "cat" (src/nn/loss.h, src/nn/bag_concat.h) */
        char precision[8];      /* "fp32" | "bf16" | "auto" (include/milnce/context.h) */
    } train;
    struct {
        char csv[MILNCE_CONFIG_STR];        /* YouCook2 or MSR-VTT layout */
        char video_root[MILNCE_CONFIG_STR];
        char format[16];                    /* "youcook2" | "msrvtt" | "shards" */
        int num_windows;                    /* evenly spaced windows per clip */
        int max_words;                      /* tokens per sentence, evaluation */
        int normalize;
        int batch_size;
        int num_frames;                     /* frames per window; 0 = data.num_frames */
        double fps;                         /* 0 = data.fps */
        int size;                           /* crop side; 0 = data.size */
        char ties[16];                      /* "optimistic" | "official" (reference metrics) */
        char precision[8];                  /* "fp32" | "bf16" | "auto", as train.precision */
    } eval;
} milnce_config;

typedef enum { MILNCE_CFG_INT, MILNCE_CFG_FLOAT, MILNCE_CFG_BOOL, MILNCE_CFG_STRING, MILNCE_CFG_ENUM } milnce_config_type;

typedef struct milnce_config_key {
    const char *name; /* "section.key" */
    milnce_config_type type;
    size_t offset;    /* into milnce_config */
    size_t size;      /* bytes of a string field */
    const char *dflt; /* default, as it would be written in YAML */
    double min, max;  /* for numbers */
    const char *choices; /* for enums: "a|b|c" */
    const char *help;
} milnce_config_key;

/* The schema, terminated by a {NULL} entry. */
const milnce_config_key *milnce_config_schema(void);

/* All defaults. */
void milnce_config_defaults(milnce_config *cfg);

/* Applies a YAML file (mapping of sections to mappings of keys) on top of cfg. */
int milnce_config_load(milnce_config *cfg, const char *path, milnce_error *err);

/* The same for YAML text in memory (a checkpoint's stored config, a built-in config); messages
 * name `name` where they would name the file. */
int milnce_config_load_string(milnce_config *cfg, const char *text, const char *name, milnce_error *err);

/* Applies "section.key=value" (from --set). */
int milnce_config_set(milnce_config *cfg, const char *assignment, milnce_error *err);

/* Checks relations between keys (e.g. window choice vs K). */
int milnce_config_validate(const milnce_config *cfg, milnce_error *err);

/* YAML text of every key with its resolved value (malloc'ed, NUL-terminated). */
char *milnce_config_to_yaml(const milnce_config *cfg);

/* Writes milnce_config_to_yaml atomically. */
int milnce_config_write(const milnce_config *cfg, const char *path, milnce_error *err);

#endif
