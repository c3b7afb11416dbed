/* milnce captions: read a narration file and print, as JSON, what training sees of it: the cues,
 * their tokens (and vocabulary ids), and with --window the candidate bag and clip span of every
 * anchor sentence. */
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "cmd_opts.h"
#include "commands.h"
#include "tokenizer.h"
#include "transcript.h"
#include "vocab.h"
#include "vocab_io.h"
#include "window.h"

typedef struct window_opt {
    milnce_window_spec spec;
    int given;
} window_opt;

typedef struct captions_args {
    const char *path, *vocab_path, *video_id, *encoding, *encodings;
    milnce_caption_format fmt;
    window_opt window;
    int dedupe, keep_case, max_words;
    double min_time;
} captions_args;

static int parse_format(const char *v, void *field, milnce_error *err) {
    return milnce_caption_format_parse(v, field, err);
}

static int parse_window(const char *v, void *field, milnce_error *err) {
    window_opt *w = field;
    int ret = milnce_window_spec_parse(v, &w->spec, err);
    w->given = ret == 0;
    return ret;
}

#define A(f) offsetof(captions_args, f)
static const milnce_opt captions_opts[] = {
    {.name = "FILE", .type = MILNCE_OPT_ARG, .off = A(path), .flags = MILNCE_OPT_REQUIRED, .help = "narration file"},
    {.name = "format", .type = MILNCE_OPT_CUSTOM, .off = A(fmt), .meta = "auto|csv|json|srt|vtt|sbv|embedded", .parse = parse_format, .dflt = "from the extension, then the content", .help = "caption format"},
    {.name = "dedupe", .type = MILNCE_OPT_FLAG, .off = A(dedupe), .help = "drop words that repeat the end of the previous line (HowTo100M ASR\nwindows overlap); YouTube rolling captions are always de-duplicated"},
    {.name = "window", .type = MILNCE_OPT_CUSTOM, .off = A(window), .meta = "W", .parse = parse_window, .help = "add the bag of every anchor: nearest:K (the reference rule, K\ncandidates) or symmetric:k[:max_gap] (anchor +-k, optional gap limit, s)"},
    {.name = "min-time", .type = MILNCE_OPT_DOUBLE, .off = A(min_time), .meta = "S", .lo = 0, .hi = 999999, .help = "clip span of each anchor at least S seconds"},
    {.name = "vocab", .type = MILNCE_OPT_STRING, .off = A(vocab_path), .meta = "FILE", .help = "vocabulary (one word per line, id = line number): adds \"ids\""},
    {.name = "max-words", .type = MILNCE_OPT_INT, .off = A(max_words), .meta = "N", .lo = 1, .hi = 100000, .help = "ids per sentence, padded with 0"},
    {.name = "keep-case", .type = MILNCE_OPT_FLAG, .off = A(keep_case), .help = "do not lower-case before tokenizing"},
    {.name = "video-id", .type = MILNCE_OPT_STRING, .off = A(video_id), .meta = "ID", .dflt = "the first", .help = "entry of a HowTo100M caption.json"},
    {.name = "encoding", .type = MILNCE_OPT_STRING, .off = A(encoding), .meta = "ENC", .help = "the file's encoding (iconv name, e.g. GB18030); a byte-order mark wins"},
    {.name = "encodings", .type = MILNCE_OPT_STRING, .off = A(encodings), .meta = "LIST", .help = "iconv encodings tried in order when the file is not UTF-8 (e.g.\nGB18030,CP1252), as preprocess --encodings"},
    {0}};

const milnce_cmd_spec milnce_cmd_captions_spec = {
    "captions", "Prints the cues of FILE as JSON: {start, end, text, tokens} each, sorted by start.", captions_opts,
    sizeof(captions_args)};

/* A JSON string of UTF-8 text, invalid bytes replaced by U+FFFD (jansson refuses them). */
static json_t *jstr(const char *s, size_t n) {
    json_t *j = json_stringn(s, n);
    if (j) return j;
    char *b = malloc(3 * n + 1);
    if (!b) return NULL;
    size_t k = 0, i = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (r <= 0 || cp == 0) {
            memcpy(b + k, "\xef\xbf\xbd", 3);
            k += 3;
            i++;
        } else {
            memcpy(b + k, s + i, (size_t)r);
            k += (size_t)r;
            i += (size_t)r;
        }
    }
    j = json_stringn(b, k);
    free(b);
    return j;
}

int milnce_cmd_captions(int argc, char **argv) {
    captions_args a = {.fmt = MILNCE_CAPTIONS_AUTO, .max_words = 20, .min_time = 5.0};
    milnce_cli cli;
    int rc = milnce_cli_parse(&milnce_cmd_captions_spec, &a, argc, argv, &cli);
    if (rc != MILNCE_CLI_RUN) return rc;
    milnce_cli_free(&cli);
    const char *path = a.path, *vocab_path = a.vocab_path;
    milnce_caption_format fmt = a.fmt;
    milnce_transcript_opts opts;
    milnce_transcript_opts_default(&opts);
    if (a.dedupe) opts.overlap = MILNCE_OVERLAP_DEDUPE;
    if (a.video_id) opts.video_id = a.video_id;
    if (a.encoding) opts.encoding = a.encoding;
    if (a.encodings) opts.fallback_encodings = a.encodings;
    milnce_window_spec win = a.window.spec;
    int have_window = a.window.given, flags = a.keep_case ? MILNCE_TOKENIZE_KEEP_CASE : 0;
    long max_words = a.max_words;
    double min_time = a.min_time;
    milnce_error err = {0};

    rc = MILNCE_EXIT_ERROR;
    milnce_cues cues = {0};
    milnce_vocab vocab = {0};
    milnce_tokens tok = {0};
    double *st = NULL, *en = NULL;
    int32_t *ids = NULL;
    int64_t *bag = NULL;
    uint8_t *mask = NULL;
    json_t *root = NULL;
    milnce_logger lg = milnce_stderr_logger("captions");
    if (vocab_path && milnce_vocab_load(vocab_path, &vocab, &err) < 0) goto fail;
    if (milnce_transcript_read(path, fmt, &opts, &cues, &lg, &err) < 0) goto fail;

    root = json_object();
    json_t *jcues = json_array();
    json_object_set_new(root, "file", jstr(path, strlen(path)));
    json_object_set_new(root, "format", json_string(milnce_caption_format_name(
                                            fmt == MILNCE_CAPTIONS_AUTO ? milnce_caption_format_guess(path) : fmt)));
    json_object_set_new(root, "n", json_integer((json_int_t)cues.n));
    json_object_set_new(root, "cues", jcues);
    if (vocab_path) {
        json_object_set_new(root, "vocab_size", json_integer((json_int_t)vocab.n));
        json_object_set_new(root, "max_words", json_integer(max_words));
        ids = malloc((size_t)max_words * sizeof *ids);
        if (!ids) { milnce_error_set(&err, MILNCE_ERR_NOMEM, "ids"); goto fail; }
    }
    st = malloc((cues.n ? cues.n : 1) * sizeof *st);
    en = malloc((cues.n ? cues.n : 1) * sizeof *en);
    if (!st || !en) { milnce_error_set(&err, MILNCE_ERR_NOMEM, "%zu cues", cues.n); goto fail; }
    for (size_t i = 0; i < cues.n; i++) {
        const milnce_cue *c = &cues.v[i];
        st[i] = c->start;
        en[i] = c->end;
        json_t *jc = json_object();
        json_object_set_new(jc, "start", json_real(c->start));
        json_object_set_new(jc, "end", json_real(c->end));
        json_object_set_new(jc, "text", jstr(c->text, strlen(c->text)));
        milnce_tokens_clear(&tok);
        if (milnce_tokenize(c->text, (size_t)-1, flags, &tok, &err) < 0) goto fail;
        json_t *jt = json_array();
        for (size_t k = 0; k < tok.n; k++) json_array_append_new(jt, jstr(milnce_tokens_word(&tok, k), tok.len[k]));
        json_object_set_new(jc, "tokens", jt);
        if (vocab_path) {
            int kept = milnce_vocab_encode(&vocab, &tok, (int)max_words, ids, &err);
            if (kept < 0) goto fail;
            json_t *ji = json_array();
            for (long k = 0; k < max_words; k++) json_array_append_new(ji, json_integer(ids[k]));
            json_object_set_new(jc, "ids", ji);
        }
        json_array_append_new(jcues, jc);
    }
    if (have_window) {
        int slots = milnce_window_bag_size(&win);
        json_t *jw = json_object();
        json_object_set_new(jw, "rule", json_string(win.kind == MILNCE_WINDOW_NEAREST ? "nearest" : "symmetric"));
        json_object_set_new(jw, "k", json_integer(win.k));
        if (win.kind == MILNCE_WINDOW_SYMMETRIC)
            json_object_set_new(jw, "max_gap", win.max_gap >= 0 ? json_real(win.max_gap) : json_null());
        json_object_set_new(jw, "min_time", json_real(min_time));
        json_object_set_new(root, "window", jw);
        bag = malloc((size_t)slots * sizeof *bag);
        mask = malloc((size_t)slots);
        if (!bag || !mask) { milnce_error_set(&err, MILNCE_ERR_NOMEM, "bag of %d", slots); goto fail; }
        json_t *jb = json_array();
        json_object_set_new(root, "bags", jb);
        for (size_t a = 0; a < cues.n; a++) {
            int count;
            if (milnce_window_bag(bag, mask, &count, &win, st, en, cues.n, a, &err) < 0) goto fail;
            json_t *one = json_object(), *idx = json_array(), *span = json_array();
            for (int k = 0; k < count; k++) json_array_append_new(idx, json_integer(bag[k]));
            double s, e;
            milnce_clip_span(&s, &e, st[a], en[a], min_time);
            json_array_append_new(span, json_real(s));
            json_array_append_new(span, json_real(e));
            json_object_set_new(one, "anchor", json_integer((json_int_t)a));
            json_object_set_new(one, "indices", idx);
            json_object_set_new(one, "clip", span);
            json_array_append_new(jb, one);
        }
    }
    if (json_dumpf(root, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER) < 0 || fputc('\n', stdout) == EOF ||
        fflush(stdout) != 0) {
        milnce_error_set(&err, MILNCE_ERR_IO, "writing the output");
        goto fail;
    }
    rc = MILNCE_EXIT_OK;
    goto end;
fail:
    fprintf(stderr, "milnce captions: %s\n", err.msg[0] ? err.msg : milnce_strerror(err.code));
end:
    json_decref(root);
    milnce_cues_free(&cues);
    milnce_vocab_free(&vocab);
    milnce_tokens_free(&tok);
    free(st);
    free(en);
    free(ids);
    free(bag);
    free(mask);
    return rc;
}
