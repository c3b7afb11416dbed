#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "fileutil.h"

#define YAML_BINARY_TAG "tag:yaml.org,2002:binary"

#define OFF(f) offsetof(milnce_config, f)
#define SZ(f) sizeof(((milnce_config *)0)->f)
#define INT(n, f, d, lo, hi, h) {n, MILNCE_CFG_INT, OFF(f), SZ(f), d, lo, hi, NULL, h}
#define FLT(n, f, d, lo, hi, h) {n, MILNCE_CFG_FLOAT, OFF(f), SZ(f), d, lo, hi, NULL, h}
#define BOOL(n, f, d, h) {n, MILNCE_CFG_BOOL, OFF(f), SZ(f), d, 0, 1, NULL, h}
#define STR(n, f, d, h) {n, MILNCE_CFG_STRING, OFF(f), SZ(f), d, 0, 0, NULL, h}
#define ENUM(n, f, d, c, h) {n, MILNCE_CFG_ENUM, OFF(f), SZ(f), d, 0, 0, c, h}

/* Defaults follow the reference (MIL-NCE_HowTo100M main_distributed.py) where it has one. */
static const milnce_config_key schema[] = {
    STR("data.shards", data.shards, "", "training shards: a folder of <prefix>-NNNNNN.tar or a glob"),
    STR("data.video_list", data.video_list, "", "preprocess input: CSV with video_path or video_id, or a folder"),
    STR("data.captions", data.captions, "", "narration: folder of per-video files, a caption.json, or 'embedded'"),
    INT("data.num_frames", data.num_frames, "16", 1, 512, "frames per training clip"),
    FLT("data.fps", data.fps, "5", 0.1, 120, "frames per second sampled from the video"),
    INT("data.size", data.size, "224", 8, 1024, "square crop side in pixels"),
    INT("data.resize", data.resize, "256", 8, 2048, "short side in pixels of the preprocessed rendition, and of training frames before the data.size crop"),
    FLT("data.min_time", data.min_time, "5", 0, 600, "seconds: a clip span shorter than this is widened around the anchor"),
    ENUM("data.clip_start", data.clip_start, "second", "second|any",
         "clip start: a whole second as the reference (on a key frame of the rendition), or any time in the span"),
    ENUM("data.window", data.window, "nearest", "nearest|symmetric", "positive bag rule"),
    INT("data.num_candidates", data.num_candidates, "4", 1, 64, "K: sentences in a nearest-rule bag"),
    INT("data.window_k", data.window_k, "2", 0, 32, "k: neighbours on each side in a symmetric bag"),
    FLT("data.max_gap", data.max_gap, "0", 0, 1e6, "seconds: symmetric neighbours further away are dropped (0 = keep all)"),
    INT("data.max_words", data.max_words, "20", 1, 256, "tokens per sentence in training"),
    BOOL("data.crop_random", data.crop_random, "true", "random crop and horizontal flip (else centre crop)"),
    INT("data.workers", data.workers, "2", 1, 256, "loader/preprocess worker threads"),
    INT("data.queue_batches", data.queue_batches, "4", 1, 256, "ready batches buffered by the loader"),
    BOOL("data.dedupe", data.dedupe, "false", "de-duplicate rolling (overlapping) caption lines"),

    ENUM("model.video", model.video, "s3dg", "s3dg", "video encoder family"),
    FLT("model.width", model.width, "1", 0.03125, 4, "channel width multiplier of the video encoder"),
    BOOL("model.space_to_depth", model.space_to_depth, "false", "space-to-depth stem of the released model"),
    INT("model.blocks3", model.blocks3, "2", 1, 2, "Inception blocks in stage 3 (full S3D-G: 2)"),
    INT("model.blocks4", model.blocks4, "5", 1, 5, "Inception blocks in stage 4 (full S3D-G: 5)"),
    INT("model.blocks5", model.blocks5, "2", 1, 2, "Inception blocks in stage 5 (full S3D-G: 2)"),
    INT("model.embed_dim", model.embed_dim, "512", 1, 8192, "joint embedding size"),
    INT("model.word_dim", model.word_dim, "300", 1, 4096, "word vector size"),
    INT("model.text_hidden", model.text_hidden, "2048", 1, 16384, "text encoder hidden size"),
    STR("model.vocab", model.vocab, "", "vocabulary file (one word per line; empty = build from the data)"),
    STR("model.word2vec", model.word2vec, "", "word vectors: word2vec binary/text or GloVe (empty = random)"),
    BOOL("model.freeze_words", model.freeze_words, "true", "keep word vectors fixed when loaded"),
    INT("model.vocab_max", model.vocab_max, "100000", 1, 100000000, "words kept when building a vocabulary"),
    INT("model.vocab_min_count", model.vocab_min_count, "1", 1, 1000000, "occurrences a word needs to enter a built vocabulary"),

    STR("train.out_dir", train.out_dir, "runs/train", "run folder: config, log, checkpoints"),
    INT("train.batch_size", train.batch_size, "256", 1, 1000000, "global batch (clips per step, all ranks)"),
    INT("train.epochs", train.epochs, "300", 1, 1000000, "epochs (an epoch visits every video once)"),
    INT("train.max_steps", train.max_steps, "0", 0, 1000000000, "stop after this many steps (0 = epochs decide)"),
    ENUM("train.optimizer", train.optimizer, "adam", "adam|sgd", "optimizer"),
    FLT("train.lr", train.lr, "0.001", 0, 10, "peak learning rate"),
    FLT("train.momentum", train.momentum, "0.9", 0, 1, "SGD momentum"),
    FLT("train.weight_decay", train.weight_decay, "0", 0, 1, "weight decay"),
    BOOL("train.decoupled_wd", train.decoupled_wd, "false", "decoupled (AdamW) weight decay"),
    INT("train.warmup_steps", train.warmup_steps, "5000", 0, 1000000000, "linear warmup steps before cosine decay"),
    FLT("train.grad_clip", train.grad_clip, "0", 0, 1e9, "clip the global gradient norm to this (0 = off)"),
    FLT("train.temperature", train.temperature, "1", 1e-4, 1e4, "scores are divided by this"),
    BOOL("train.normalize", train.normalize, "false", "L2-normalise embeddings before scoring"),
    INT("train.seed", train.seed, "1", 0, 2147483647, "random seed"),
    INT("train.checkpoint_every", train.checkpoint_every, "1000", 1, 1000000000, "steps between checkpoints"),
    INT("train.keep_last", train.keep_last, "3", 1, 1000000, "checkpoints kept"),
    INT("train.log_every", train.log_every, "1", 1, 1000000, "steps between log lines"),
    BOOL("train.sync_bn", train.sync_bn, "false", "synchronise BatchNorm statistics across MPI ranks"),
    BOOL("train.freeze_bn", train.freeze_bn, "false", "BatchNorm uses its running statistics and does not update them"),
    BOOL("train.masked_words", train.masked_words, "false", "text encoder max-pools over real words only (reference: padding included)"),
    ENUM("train.loss", train.loss, "milnce", "milnce|max|cat",
         "bag rule: milnce = MIL-NCE over the bag; max = the bag's best-scoring sentence only (Max+NCE); "
         "cat = the bag's sentences joined into one (Cat+NCE). A bag of one is NCE in every case"),
    ENUM("train.precision", train.precision, "fp32", "fp32|bf16|auto",
         "arithmetic of convolutions and linear layers: fp32; bf16 = bf16 operands, fp32 sums, fp32 weights, "
         "optimizer, BatchNorm and loss (needs AVX512_BF16); auto = bf16 where the CPU has it, else fp32"),

    STR("eval.csv", eval.csv, "", "evaluation captions: YouCook2 (end,start,task,text,video_id) or MSR-VTT layout"),
    STR("eval.video_root", eval.video_root, "", "folder holding the evaluation videos"),
    ENUM("eval.format", eval.format, "youcook2", "youcook2|msrvtt|shards", "evaluation input layout"),
    INT("eval.num_windows", eval.num_windows, "4", 1, 256, "evenly spaced windows per clip, embeddings averaged"),
    INT("eval.max_words", eval.max_words, "30", 1, 256, "tokens per sentence in evaluation"),
    BOOL("eval.normalize", eval.normalize, "false", "L2-normalise embeddings before scoring"),
    INT("eval.batch_size", eval.batch_size, "16", 1, 100000, "clips per forward pass"),
    INT("eval.num_frames", eval.num_frames, "0", 0, 512, "frames per evaluation window (0 = data.num_frames, the training value)"),
    FLT("eval.fps", eval.fps, "0", 0, 120, "frames per second of the evaluation windows (0 = data.fps)"),
    INT("eval.size", eval.size, "0", 0, 1024, "centre-crop side of the evaluation windows in pixels (0 = data.size)"),
    ENUM("eval.ties", eval.ties, "optimistic", "optimistic|official",
         "tied scores: optimistic (rank = 1 + strictly higher) or official (MIL-NCE_HowTo100M metrics.compute_metrics: every tied position counted)"),
    ENUM("eval.precision", eval.precision, "fp32", "fp32|bf16|auto",
         "arithmetic of the encoders in eval and embed, as train.precision"),
    {NULL, 0, 0, 0, NULL, 0, 0, NULL, NULL},
};

const milnce_config_key *milnce_config_schema(void) { return schema; }

static const milnce_config_key *find_key(const char *name) {
    for (const milnce_config_key *k = schema; k->name; k++)
        if (strcmp(k->name, name) == 0) return k;
    return NULL;
}

static int parse_bool(const char *s, int *out) {
    static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) { *out = 1; return 0; }
        if (strcasecmp(s, no[i]) == 0) { *out = 0; return 0; }
    }
    return -1;
}

/* Sets one key from its textual value; where = "file:line" or "--set". */
static int set_value(milnce_config *cfg, const milnce_config_key *k, const char *v, const char *where,
                     milnce_error *err) {
    char *base = (char *)cfg + k->offset;
    char *end;
    switch (k->type) {
    case MILNCE_CFG_INT: {
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (end == v || *end || errno)
            return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: key %s: expected an integer, got '%s'", where, k->name, v);
        if (x < k->min || x > k->max)
            return milnce_error_set(err, MILNCE_ERR_RANGE, "%s: key %s: %lld is outside [%g, %g]", where, k->name, x, k->min, k->max);
        *(int *)base = (int)x;
        return 0;
    }
    case MILNCE_CFG_FLOAT: {
        errno = 0;
        double x = strtod(v, &end);
        if (end == v || *end || errno || !isfinite(x))
            return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: key %s: expected a number, got '%s'", where, k->name, v);
        if (x < k->min || x > k->max)
            return milnce_error_set(err, MILNCE_ERR_RANGE, "%s: key %s: %g is outside [%g, %g]", where, k->name, x, k->min, k->max);
        *(double *)base = x;
        return 0;
    }
    case MILNCE_CFG_BOOL:
        if (parse_bool(v, (int *)base) < 0)
            return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: key %s: expected true or false, got '%s'", where, k->name, v);
        return 0;
    case MILNCE_CFG_ENUM: {
        size_t n = strlen(v);
        const char *c = k->choices;
        int ok = 0;
        while (*c) {
            const char *bar = strchr(c, '|');
            size_t len = bar ? (size_t)(bar - c) : strlen(c);
            if (len == n && strncmp(c, v, n) == 0) ok = 1;
            c += len + (bar ? 1 : 0);
        }
        if (!ok)
            return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: key %s: '%s' is not one of %s", where, k->name, v, k->choices);
    } /* fall through: stored as a string */
    /* FALLTHROUGH */
    case MILNCE_CFG_STRING:
        if (strlen(v) >= k->size)
            return milnce_error_set(err, MILNCE_ERR_RANGE, "%s: key %s: value longer than %zu bytes", where, k->name, k->size - 1);
        strcpy(base, v);
        return 0;
    }
    return milnce_error_set(err, MILNCE_ERR_INVALID, "%s: key %s: bad schema type", where, k->name);
}

void milnce_config_defaults(milnce_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    for (const milnce_config_key *k = schema; k->name; k++) {
        int ret = set_value(cfg, k, k->dflt, "default", NULL);
        (void)ret; /* the schema's defaults are checked by the test suite */
    }
}

int milnce_config_set(milnce_config *cfg, const char *assignment, milnce_error *err) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return milnce_error_set(err, MILNCE_ERR_INVALID, "--set %s: expected section.key=value", assignment);
    char name[128];
    size_t n = (size_t)(eq - assignment);
    if (n >= sizeof name) return milnce_error_set(err, MILNCE_ERR_INVALID, "--set: key too long");
    memcpy(name, assignment, n);
    name[n] = '\0';
    const milnce_config_key *k = find_key(name);
    if (!k) return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "--set: unknown key '%s'", name);
    return set_value(cfg, k, eq + 1, "--set", err);
}

static int base64_decode(const char *in, char *out, size_t cap);

/* The YAML layout is fixed at two levels: section -> key -> scalar. Parsing with libyaml's
 * event API keeps the line of every key for messages. */
static int parse_yaml(milnce_config *cfg, yaml_parser_t *p, const char *text, size_t len, const char *path,
                      milnce_error *err) {
    yaml_event_t ev;
    int ret = 0, have_ev = 0;
    char section[64] = "", where[4200];
    int depth = 0;      /* 0 outside, 1 in the root mapping, 2 in a section mapping */
    int expect_key = 1; /* next scalar at this depth is a key */
    char key[128] = "";
    for (;;) {
        if (!yaml_parser_parse(p, &ev)) {
            /* A reader error (bad UTF-8, a control character) has an offset, not a mark. */
            size_t line = p->problem_mark.line + 1;
            if (p->error == YAML_READER_ERROR) {
                line = 1;
                for (size_t i = 0; i < p->problem_offset && i < len; i++) line += text[i] == '\n';
            }
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%zu: YAML error: %s", path, line,
                                   p->problem ? p->problem : "unknown");
            goto end;
        }
        have_ev = 1;
        size_t line = ev.start_mark.line + 1;
        snprintf(where, sizeof where, "%s:%zu", path, line);
        switch (ev.type) {
        case YAML_STREAM_END_EVENT: goto end;
        case YAML_MAPPING_START_EVENT:
            if (depth == 0) { depth = 1; expect_key = 1; }
            else if (depth == 1 && !expect_key) { depth = 2; expect_key = 1; }
            else {
                ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: key %s.%s: expected a scalar value, got a mapping", where, section, key);
                goto end;
            }
            break;
        case YAML_MAPPING_END_EVENT:
            if (depth == 2) { depth = 1; expect_key = 1; }
            else depth = 0;
            break;
        case YAML_SEQUENCE_START_EVENT:
            if (depth == 0) {
                ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: the document is a list; a config file is a "
                                       "mapping of sections (data, model, train, eval)", where);
                goto end;
            }
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: %s%s%s: lists are not allowed here", where,
                                   section, depth == 2 ? "." : "", depth == 2 ? key : "");
            goto end;
        case YAML_ALIAS_EVENT:
            ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: YAML aliases are not supported", where);
            goto end;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)ev.data.scalar.value;
            if (depth == 0) {
                if (*v) { /* a bare scalar document */
                    ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: expected a mapping of sections", where);
                    goto end;
                }
            } else if (depth == 1 && expect_key) {
                int known = 0;
                size_t n = strlen(v);
                for (const milnce_config_key *k = schema; k->name; k++)
                    if (strncmp(k->name, v, n) == 0 && k->name[n] == '.') known = 1;
                if (!known || n >= sizeof section) {
                    ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: unknown section '%s' (sections: data, model, train, eval)", where, v);
                    goto end;
                }
                strcpy(section, v);
                expect_key = 0;
            } else if (depth == 1) { /* "section:" with an empty value */
                if (*v && strcmp(v, "~") != 0 && strcmp(v, "null") != 0) {
                    ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: section %s: expected a mapping of keys", where, section);
                    goto end;
                }
                expect_key = 1;
            } else if (expect_key) {
                snprintf(key, sizeof key, "%s", v);
                expect_key = 0;
            } else {
                char full[256];
                snprintf(full, sizeof full, "%s.%s", section, key);
                const milnce_config_key *k = find_key(full);
                if (!k) {
                    ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: unknown key '%s'", where, full);
                    goto end;
                }
                const char *tag = (const char *)ev.data.scalar.tag;
                if (tag && strcmp(tag, YAML_BINARY_TAG) == 0) {
                    /* A string that is not UTF-8, as milnce_config_to_yaml writes it. */
                    char bytes[MILNCE_CONFIG_STR + 4];
                    if (base64_decode(v, bytes, sizeof bytes) < 0) {
                        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: key %s: bad !!binary value (base64 of at most %d bytes, no NUL)",
                                               where, full, MILNCE_CONFIG_STR - 1);
                        goto end;
                    }
                    if ((ret = set_value(cfg, k, bytes, where, err)) < 0) goto end;
                } else if ((ret = set_value(cfg, k, v, where, err)) < 0) {
                    goto end;
                }
                expect_key = 1;
            }
            break;
        }
        default: break;
        }
        yaml_event_delete(&ev);
        have_ev = 0;
    }
end:
    if (have_ev) yaml_event_delete(&ev);
    return ret;
}

static int load_bytes(milnce_config *cfg, const char *text, size_t len, const char *name, milnce_error *err) {
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int ret = parse_yaml(cfg, &p, text, len, name, err);
    yaml_parser_delete(&p);
    return ret;
}

int milnce_config_load(milnce_config *cfg, const char *path, milnce_error *err) {
    /* Whole file in memory (configs are small): a reader error's byte offset becomes a line. */
    FILE *f = fopen(path, "rb");
    if (!f) return milnce_error_set(err, MILNCE_ERR_IO, "%s: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? 2 * cap : 16384;
            char *t = realloc(text, cap);
            if (!t) { free(text); fclose(f); return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: reading", path); }
            text = t;
        }
        size_t r = fread(text + len, 1, cap - len, f);
        len += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    int ret = bad ? milnce_error_set(err, MILNCE_ERR_IO, "%s: read error", path) : load_bytes(cfg, text, len, path, err);
    free(text);
    return ret;
}

int milnce_config_load_string(milnce_config *cfg, const char *text, const char *name, milnce_error *err) {
    return load_bytes(cfg, text, strlen(text), name, err);
}

int milnce_config_validate(const milnce_config *cfg, milnce_error *err) {
    if (cfg->data.size > cfg->data.resize)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "key data.size: crop %d is larger than the rendition's short side data.resize = %d",
                                cfg->data.size, cfg->data.resize);
    return 0;
}

static void append(char **buf, size_t *len, size_t *cap, const char *s) {
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        size_t c = (*cap ? *cap * 2 : 4096);
        while (c < *len + n + 1) c *= 2;
        char *b = realloc(*buf, c);
        if (!b) return;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
}

/* Length of the valid UTF-8 sequence at s that YAML may hold as is, or 0 when the bytes are not
 * valid UTF-8 (overlong, surrogate, > U+10FFFF, cut short); *cp receives the code point. */
static size_t utf8_seq(const unsigned char *s, unsigned long *cp) {
    unsigned char c = s[0];
    size_t k;
    unsigned long v, min;
    if (c < 0x80) { *cp = c; return 1; }
    if ((c & 0xE0) == 0xC0) { k = 2; v = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { k = 3; v = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { k = 4; v = c & 0x07; min = 0x10000; }
    else return 0;
    for (size_t j = 1; j < k; j++) {
        if ((s[j] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[j] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return k;
}

static const char k_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* base64 text (whitespace ignored, '=' padding) -> NUL-terminated bytes in out (cap bytes);
 * -1 when malformed, too long or holding a NUL. */
static int base64_decode(const char *in, char *out, size_t cap) {
    size_t n = 0;
    unsigned long acc = 0;
    int bits = 0, pad = 0;
    for (const char *p = in; *p; p++) {
        if (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') continue;
        if (*p == '=') { pad++; continue; }
        const char *q = strchr(k_b64, *p);
        if (!q || pad) return -1;
        acc = (acc << 6) | (unsigned long)(q - k_b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char c = (char)((acc >> bits) & 0xFF);
            if (c == '\0' || n + 1 >= cap) return -1;
            out[n++] = c;
        }
    }
    if (pad > 2) return -1;
    out[n] = '\0';
    return 0;
}

/* A string value as YAML that reads back to the same bytes: valid UTF-8 is double-quoted, with
 * '"', '\\' and every character YAML may not hold as is (C0 and C1 controls, DEL, U+FEFF,
 * U+FFFE/U+FFFF) or folds as a line break (U+0085, U+2028, U+2029) escaped; a string that is
 * not UTF-8 (a legal path on Linux) is written as !!binary base64. Returns malloc'ed text. */
static char *yaml_string(const char *v) {
    size_t n = strlen(v);
    int utf8 = 1;
    for (size_t i = 0; i < n && utf8;) {
        unsigned long cp;
        size_t k = utf8_seq((const unsigned char *)v + i, &cp);
        if (!k) utf8 = 0;
        i += k;
    }
    char *q = malloc(6 * n + 32);
    if (!q) return NULL;
    size_t j = 0;
    if (!utf8) {
        j += (size_t)sprintf(q, "!!binary \"");
        const unsigned char *s = (const unsigned char *)v;
        for (size_t i = 0; i < n; i += 3) {
            unsigned long w = (unsigned long)s[i] << 16 | (i + 1 < n ? (unsigned long)s[i + 1] << 8 : 0) |
                              (i + 2 < n ? s[i + 2] : 0);
            q[j++] = k_b64[(w >> 18) & 63];
            q[j++] = k_b64[(w >> 12) & 63];
            q[j++] = i + 1 < n ? k_b64[(w >> 6) & 63] : '=';
            q[j++] = i + 2 < n ? k_b64[w & 63] : '=';
        }
        q[j++] = '"';
        q[j] = '\0';
        return q;
    }
    q[j++] = '"';
    for (size_t i = 0; i < n;) {
        unsigned long cp;
        size_t k = utf8_seq((const unsigned char *)v + i, &cp);
        if (cp == '"' || cp == '\\') {
            q[j++] = '\\';
            q[j++] = (char)cp;
        } else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF ||
                   cp == 0x2028 || cp == 0x2029) {
            j += (size_t)sprintf(q + j, cp < 0x100 ? "\\x%02lX" : "\\u%04lX", cp);
        } else {
            memcpy(q + j, v + i, k);
            j += k;
        }
        i += k;
    }
    q[j++] = '"';
    q[j] = '\0';
    return q;
}

/* Every string is quoted or !!binary (yaml_string), so any value round-trips. */
char *milnce_config_to_yaml(const milnce_config *cfg) {
    char *buf = NULL, line[4096];
    size_t len = 0, cap = 0;
    char section[64] = "";
    append(&buf, &len, &cap, "# milnce resolved configuration: every key, with defaults filled in\n");
    for (const milnce_config_key *k = schema; k->name; k++) {
        const char *dot = strchr(k->name, '.');
        size_t sl = (size_t)(dot - k->name);
        if (strncmp(section, k->name, sl) != 0 || section[sl] != '\0') {
            memcpy(section, k->name, sl);
            section[sl] = '\0';
            snprintf(line, sizeof line, "%s:\n", section);
            append(&buf, &len, &cap, line);
        }
        const char *base = (const char *)cfg + k->offset;
        switch (k->type) {
        case MILNCE_CFG_INT: snprintf(line, sizeof line, "  %s: %d\n", dot + 1, *(const int *)base); break;
        case MILNCE_CFG_FLOAT: {
            /* Shortest text that reads back to the same double. */
            double x = *(const double *)base;
            char num[40];
            for (int prec = 6; prec <= 17; prec++) {
                snprintf(num, sizeof num, "%.*g", prec, x);
                if (strtod(num, NULL) == x) break;
            }
            snprintf(line, sizeof line, "  %s: %s\n", dot + 1, num);
            break;
        }
        case MILNCE_CFG_BOOL: snprintf(line, sizeof line, "  %s: %s\n", dot + 1, *(const int *)base ? "true" : "false"); break;
        case MILNCE_CFG_STRING:
        case MILNCE_CFG_ENUM: {
            char *q = yaml_string(base);
            if (!q) { free(buf); return NULL; }
            snprintf(line, sizeof line, "  %s: ", dot + 1);
            append(&buf, &len, &cap, line);
            append(&buf, &len, &cap, q);
            free(q);
            snprintf(line, sizeof line, "\n");
            break;
        }
        }
        append(&buf, &len, &cap, line);
    }
    return buf;
}

int milnce_config_write(const milnce_config *cfg, const char *path, milnce_error *err) {
    char *y = milnce_config_to_yaml(cfg);
    if (!y) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: config text", path);
    int ret = milnce_write_file_atomic(path, y, strlen(y), err);
    free(y);
    return ret;
}
