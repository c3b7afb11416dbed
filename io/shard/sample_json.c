#include "sample_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "cues.h"

/* Where the parse is. depth counts open containers: 1 = the top-level object, 2 = the
 * "sentences" array, 3 = a sentence object, 4 = its "tokens" array. A value nobody wants (any
 * other member, at any depth) is skipped: skip counts the containers open inside it. */
enum { K_OTHER, K_DURATION, K_SENTENCES, K_START, K_END, K_TOKENS };

typedef struct parse_state {
    milnce_sample_sentences *s;
    int depth, skip;
    int key;                   /* the key whose value comes next, at this depth */
    size_t cap, tcap;
    size_t *tok_at;            /* (cap) first token of each sentence in s->tokens */
    unsigned char have;        /* of the current sentence: 1 start, 2 end, 4 tokens */
    milnce_error err;
    int failed;
} parse_state;

static int fail(parse_state *p, int code, const char *msg) {
    if (!p->failed) {
        p->failed = 1;
        milnce_error_set(&p->err, code, "%s", msg);
    }
    return 0;
}

static int key_of(const unsigned char *k, size_t n, int depth) {
#define IS(lit) (n == sizeof lit - 1 && memcmp(k, lit, n) == 0)
    if (depth == 1) return IS("duration") ? K_DURATION : IS("sentences") ? K_SENTENCES : K_OTHER;
    if (depth == 3) return IS("start") ? K_START : IS("end") ? K_END : IS("tokens") ? K_TOKENS : K_OTHER;
#undef IS
    return K_OTHER;
}

static int cb_key(void *ctx, const unsigned char *k, size_t n) {
    parse_state *p = ctx;
    if (!p->skip) p->key = key_of(k, n, p->depth);
    return 1;
}

/* What the value at the current position must be, and the message when it is not. */
enum { WANT_ANY, WANT_NUMBER, WANT_OBJECT, WANT_ARRAY };

static int wanted(const parse_state *p, const char **msg) {
    switch (p->depth) {
    case 0: *msg = "not a JSON object"; return WANT_OBJECT;
    case 1:
        if (p->key == K_DURATION) { *msg = "\"duration\" is not a number"; return WANT_NUMBER; }
        if (p->key == K_SENTENCES) { *msg = "\"sentences\" is not an array"; return WANT_ARRAY; }
        return WANT_ANY;
    case 2: *msg = "\"sentences\" holds a non-object"; return WANT_OBJECT;
    case 3:
        if (p->key == K_START || p->key == K_END) { *msg = "a sentence's start or end is not a number"; return WANT_NUMBER; }
        if (p->key == K_TOKENS) { *msg = "a sentence's \"tokens\" is not an array"; return WANT_ARRAY; }
        return WANT_ANY;
    default: *msg = "a token id is not an integer"; return WANT_NUMBER;
    }
}

/* A value that is neither a number nor a container (null, true/false, a string). */
static int scalar(parse_state *p) {
    const char *msg;
    if (p->skip || wanted(p, &msg) == WANT_ANY) return 1;
    return fail(p, MILNCE_ERR_FORMAT, msg);
}

static int cb_null(void *ctx) { return scalar(ctx); }
static int cb_bool(void *ctx, int b) { (void)b; return scalar(ctx); }
static int cb_string(void *ctx, const unsigned char *v, size_t n) {
    (void)v; (void)n;
    return scalar(ctx);
}

static int cb_number(void *ctx, const char *v, size_t n) {
    parse_state *p = ctx;
    const char *msg;
    if (p->skip) return 1;
    int w = wanted(p, &msg);
    if (w == WANT_ANY) return 1;
    if (w != WANT_NUMBER) return fail(p, MILNCE_ERR_FORMAT, msg);
    char buf[64];
    if (n >= sizeof buf) n = sizeof buf - 1; /* longer numbers are out of any range here anyway */
    memcpy(buf, v, n);
    buf[n] = '\0';
    milnce_sample_sentences *s = p->s;
    if (p->depth == 1) {
        s->duration = strtod(buf, NULL);
        if (!milnce_cue_time_ok(s->duration)) return fail(p, MILNCE_ERR_FORMAT, "\"duration\" outside 0 to 1e7 s");
    } else if (p->depth == 3) {
        double t = strtod(buf, NULL);
        if (!milnce_cue_time_ok(t)) return fail(p, MILNCE_ERR_FORMAT, "a sentence's start or end outside 0 to 1e7 s");
        (p->key == K_START ? s->start : s->end)[s->n - 1] = t;
        p->have |= p->key == K_START ? 1 : 2;
    } else {
        char *e;
        long long t = strtoll(buf, &e, 10);
        if (*e || t < 0 || t > INT32_MAX) return fail(p, MILNCE_ERR_FORMAT, "a token id is not an integer in [0, 2^31)");
        if (s->ntokens == p->tcap) {
            size_t nc = p->tcap ? 2 * p->tcap : 256;
            int32_t *nt = realloc(s->tokens, nc * sizeof *nt);
            if (!nt) return fail(p, MILNCE_ERR_NOMEM, "out of memory");
            s->tokens = nt;
            p->tcap = nc;
        }
        s->tokens[s->ntokens++] = (int32_t)t;
    }
    return 1;
}

/* Room for one more sentence. */
static int grow_sentences(parse_state *p) {
    milnce_sample_sentences *s = p->s;
    if (s->n < p->cap) return 1;
    size_t nc = p->cap ? 2 * p->cap : 64;
    double *a = realloc(s->start, nc * sizeof *a);
    if (a) s->start = a;
    double *b = a ? realloc(s->end, nc * sizeof *b) : NULL;
    if (b) s->end = b;
    size_t *c = b ? realloc(p->tok_at, nc * sizeof *c) : NULL;
    if (c) p->tok_at = c;
    int *d = c ? realloc(s->ntok, nc * sizeof *d) : NULL;
    if (d) s->ntok = d;
    if (!d) return fail(p, MILNCE_ERR_NOMEM, "out of memory");
    p->cap = nc;
    return 1;
}

static int open_container(parse_state *p, int is_map) {
    const char *msg;
    if (p->skip) { p->skip++; return 1; }
    int w = wanted(p, &msg);
    if (w == WANT_ANY) { p->skip = 1; return 1; }
    if (w != (is_map ? WANT_OBJECT : WANT_ARRAY)) return fail(p, MILNCE_ERR_FORMAT, msg);
    milnce_sample_sentences *s = p->s;
    if (p->depth == 2) { /* a new sentence */
        if (!grow_sentences(p)) return 0;
        s->start[s->n] = s->end[s->n] = 0;
        p->tok_at[s->n] = s->ntokens;
        s->ntok[s->n] = 0;
        s->n++;
        p->have = 0;
    } else if (p->depth == 3) {
        p->have |= 4;
    }
    p->depth++;
    p->key = K_OTHER;
    return 1;
}

static int close_container(parse_state *p) {
    if (p->skip) { p->skip--; return 1; }
    milnce_sample_sentences *s = p->s;
    if (p->depth == 3 && (p->have & 7) != 7) {
        char msg[96];
        snprintf(msg, sizeof msg, "sentence %zu lacks %s", s->n - 1,
                 !(p->have & 1) ? "\"start\"" : !(p->have & 2) ? "\"end\"" : "\"tokens\"");
        return fail(p, MILNCE_ERR_FORMAT, msg);
    }
    if (p->depth == 4) s->ntok[s->n - 1] = (int)(s->ntokens - p->tok_at[s->n - 1]);
    p->depth--;
    /* Back in a container whose key was consumed by the value just closed. */
    p->key = K_OTHER;
    return 1;
}

static int cb_start_map(void *ctx) { return open_container(ctx, 1); }
static int cb_start_array(void *ctx) { return open_container(ctx, 0); }
static int cb_end(void *ctx) { return close_container(ctx); }

static const yajl_callbacks k_cb = {cb_null, cb_bool, NULL, NULL, cb_number, cb_string,
                                    cb_start_map, cb_key, cb_end, cb_start_array, cb_end};

void milnce_sample_sentences_free(milnce_sample_sentences *s) {
    free(s->start);
    free(s->end);
    free(s->tok);
    free(s->ntok);
    free(s->tokens);
    memset(s, 0, sizeof *s);
}

int milnce_sample_sentences_parse(const uint8_t *data, size_t size, const char *name,
                                  milnce_sample_sentences *s, milnce_error *err) {
    memset(s, 0, sizeof *s);
    parse_state p = {.s = s};
    yajl_handle h = yajl_alloc(&k_cb, NULL, &p);
    if (!h) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: JSON parser", name);
    yajl_status st = yajl_parse(h, data, size);
    if (st == yajl_status_ok) st = yajl_complete_parse(h);
    int ret = 0;
    if (p.failed) {
        ret = milnce_error_set(err, p.err.code, "%s: %s (byte %zu)", name, p.err.msg, yajl_get_bytes_consumed(h));
    } else if (st != yajl_status_ok) {
        unsigned char *m = yajl_get_error(h, 0, data, size);
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: %s", name, m ? (const char *)m : "invalid JSON");
        if (m) yajl_free_error(h, m);
    } else if (s->n == 0) {
        ret = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s: no sentences", name);
    } else if (!(s->tok = malloc(s->n * sizeof *s->tok)) || (!s->tokens && !(s->tokens = malloc(sizeof *s->tokens)))) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: out of memory", name);
    } else {
        /* The token block is final now: point each sentence into it. */
        for (size_t i = 0; i < s->n; i++) s->tok[i] = s->tokens ? s->tokens + p.tok_at[i] : NULL;
    }
    yajl_free(h);
    free(p.tok_at);
    if (ret < 0) milnce_sample_sentences_free(s);
    return ret;
}
