#include "caption_clean.h"

#include "buf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int put_utf8(milnce_buf *b, unsigned long cp) {
    char u[4];
    size_t k;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    if (cp < 0x80) { u[0] = (char)cp; k = 1; }
    else if (cp < 0x800) { u[0] = (char)(0xC0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3F)); k = 2; }
    else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12)); u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F)); k = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18)); u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); u[3] = (char)(0x80 | (cp & 0x3F)); k = 4;
    }
    return milnce_buf_put(b, u, k);
}

/* Named entities worth knowing in captions; anything else stays as written. */
static const struct { const char *name; unsigned long cp; } k_entities[] = {
    {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''},
    {"nbsp", ' '}, {"lrm", 0}, {"rlm", 0}, {"hellip", 0x2026}, {"mdash", 0x2014},
    {"ndash", 0x2013}, {"rsquo", 0x2019}, {"lsquo", 0x2018}, {"ldquo", 0x201C},
    {"rdquo", 0x201D},
};

/* Decodes the entity at s[0] == '&'; returns bytes consumed (0: not an entity). */
static size_t entity(const char *s, size_t n, milnce_buf *b, int *fail) {
    size_t i = 1;
    if (i < n && s[i] == '#') {
        int hex = 0;
        i++;
        if (i < n && (s[i] == 'x' || s[i] == 'X')) { hex = 1; i++; }
        unsigned long cp = 0;
        size_t d0 = i;
        while (i < n && (hex ? isxdigit((unsigned char)s[i]) : isdigit((unsigned char)s[i])) &&
               i - d0 < 8) {
            int c = (unsigned char)s[i];
            cp = cp * (hex ? 16 : 10) + (unsigned long)(isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10));
            i++;
        }
        if (i == d0 || i >= n || s[i] != ';') return 0;
        if (put_utf8(b, cp) < 0) *fail = 1;
        return i + 1;
    }
    for (size_t k = 0; k < sizeof k_entities / sizeof k_entities[0]; k++) {
        size_t L = strlen(k_entities[k].name);
        if (1 + L < n && memcmp(s + 1, k_entities[k].name, L) == 0 && s[1 + L] == ';') {
            if (k_entities[k].cp && put_utf8(b, k_entities[k].cp) < 0) *fail = 1;
            return L + 2;
        }
    }
    return 0;
}

/* Tag names that are markup outside WebVTT: SRT's (b i u s font), common HTML ones, and WebVTT's
 * (c v lang ruby rt) that converted files carry. Anything else between '<' and '>' is text. */
static const char *const k_known_tags[] = {"b", "i", "u", "s", "font", "em", "strong", "span", "br",
                                           "p", "sub", "sup", "c", "v", "lang", "ruby", "rt"};

/* <[h+:]mm:ss.ttt> as in WebVTT and YouTube captions; returns the length through '>' or 0. */
static size_t timestamp_tag_len(const char *s, size_t n) {
    size_t i = 1, groups = 0;
    for (;;) {
        size_t d = i;
        while (i < n && isdigit((unsigned char)s[i])) i++;
        if (i == d) return 0;
        groups++;
        if (i < n && s[i] == ':' && groups < 3) { i++; continue; }
        break;
    }
    if (groups < 2 || i >= n || s[i] != '.') return 0;
    size_t d = ++i;
    while (i < n && isdigit((unsigned char)s[i])) i++;
    if (i == d || i >= n || s[i] != '>') return 0;
    return i + 1;
}

/* Outside WebVTT: a '<' opens a tag when a known tag name (or a timestamp) follows, then '>' on
 * the same line. *line_break is set for <br>. */
static size_t tag_len_known(const char *s, size_t n, int *line_break) {
    *line_break = 0;
    size_t t = timestamp_tag_len(s, n);
    if (t) return t;
    size_t i = 1;
    if (i < n && s[i] == '/') i++;
    size_t b = i;
    while (i < n && isalpha((unsigned char)s[i])) i++;
    size_t L = i - b;
    if (L == 0 || i >= n || !(s[i] == '>' || s[i] == ' ' || s[i] == '\t' || s[i] == '.' || s[i] == '/'))
        return 0;
    int known = 0;
    for (size_t k = 0; k < sizeof k_known_tags / sizeof k_known_tags[0] && !known; k++)
        known = strlen(k_known_tags[k]) == L && strncasecmp(s + b, k_known_tags[k], L) == 0;
    if (!known) return 0;
    for (; i < n; i++) {
        if (s[i] == '\n' || s[i] == '<') return 0;
        if (s[i] == '>') {
            *line_break = L == 2 && strncasecmp(s + b, "br", 2) == 0;
            return i + 1;
        }
    }
    return 0;
}

/* WebVTT cue text (the W3C cue-text tokenizer): a '<' always begins a tag token, which runs to
 * the next '>' (line breaks included) or to the end of the text. Tags, known or not, and
 * timestamps carry no text; so "<v It's a blue apple tree!" and "</c awesome!" leave nothing
 * and "a < b" leaves "a " (a literal '<' in WebVTT is written &lt;). */
static size_t tag_len_webvtt(const char *s, size_t n) {
    const char *gt = memchr(s, '>', n);
    return gt ? (size_t)(gt - s) + 1 : n;
}

/* "{\...}" ASS override block. */
static size_t ass_len(const char *s, size_t n) {
    if (n < 3 || s[1] != '\\') return 0;
    for (size_t i = 2; i < n; i++) {
        if (s[i] == '\n') return 0;
        if (s[i] == '}') return i + 1;
    }
    return 0;
}

int milnce_caption_clean_text(const char *in, size_t n, char **out, milnce_error *err) {
    return milnce_caption_clean_markup(in, n, MILNCE_MARKUP_KNOWN_TAGS, out, err);
}

int milnce_caption_clean_markup(const char *in, size_t n, int markup, char **out, milnce_error *err) {
    milnce_buf raw = {0}, res = {0};
    int fail = 0;
    *out = NULL;
    /* Pass 1: markup out, entities decoded; line breaks kept. */
    for (size_t i = 0; i < n && !fail;) {
        char c = in[i];
        size_t k;
        if (c == '<' && markup == MILNCE_MARKUP_WEBVTT) { i += tag_len_webvtt(in + i, n - i); continue; }
        int br;
        if (c == '<' && (k = tag_len_known(in + i, n - i, &br))) {
            if (br) fail |= milnce_buf_putc(&raw, '\n') < 0;
            i += k;
            continue;
        }
        if (c == '{' && (k = ass_len(in + i, n - i))) { i += k; continue; }
        if (c == '&' && (k = entity(in + i, n - i, &raw, &fail))) { i += k; continue; }
        if (c == '\\' && i + 1 < n && (in[i + 1] == 'N' || in[i + 1] == 'n')) {
            fail |= milnce_buf_putc(&raw, '\n') < 0; i += 2; continue;
        }
        if (c == '\\' && i + 1 < n && in[i + 1] == 'h') { fail |= milnce_buf_putc(&raw, ' ') < 0; i += 2; continue; }
        /* U+00A0 NBSP -> space; U+200E/U+200F direction marks -> nothing. */
        if ((unsigned char)c == 0xC2 && i + 1 < n && (unsigned char)in[i + 1] == 0xA0) {
            fail |= milnce_buf_putc(&raw, ' ') < 0; i += 2; continue;
        }
        if ((unsigned char)c == 0xE2 && i + 2 < n && (unsigned char)in[i + 1] == 0x80 &&
            ((unsigned char)in[i + 2] == 0x8E || (unsigned char)in[i + 2] == 0x8F)) { i += 3; continue; }
        if (c == '\r') { i++; continue; }
        fail |= milnce_buf_putc(&raw, c == '\t' || c == '\f' || c == '\v' ? ' ' : c) < 0;
        i++;
    }
    /* Pass 2: per line, collapse blanks and trim; drop empty lines. */
    for (size_t i = 0; i < raw.n && !fail;) {
        size_t e = i;
        while (e < raw.n && raw.p[e] != '\n') e++;
        size_t line0 = res.n;
        int pending_space = 0;
        for (size_t j = i; j < e && !fail; j++) {
            if (raw.p[j] == ' ') { pending_space = res.n > line0; continue; }
            if (pending_space) { fail |= milnce_buf_putc(&res, ' ') < 0; pending_space = 0; }
            fail |= milnce_buf_putc(&res, raw.p[j]) < 0;
        }
        if (res.n > line0 && e < raw.n) {
            /* Tentative line break; removed below if nothing follows. */
            fail |= milnce_buf_putc(&res, '\n') < 0;
        }
        i = e + 1;
    }
    while (res.n && res.p[res.n - 1] == '\n') res.p[--res.n] = '\0';
    free(raw.p);
    if (fail) {
        free(res.p);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "caption text of %zu bytes", n);
    }
    if (!res.p && milnce_buf_put(&res, "", 0) < 0)
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "caption text");
    *out = res.p;
    return 0;
}

static int has_inline_timestamp(const char *s) {
    for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
        if (strncmp(p, "<c>", 3) == 0 || strncmp(p, "<c.", 3) == 0) return 1;
        /* <00:00:01.000> or <00:01.000> */
        const char *q = p + 1;
        int digits = 0, colons = 0;
        while (isdigit((unsigned char)*q) || *q == ':' || *q == '.') {
            digits += isdigit((unsigned char)*q) != 0;
            colons += *q == ':';
            q++;
        }
        if (*q == '>' && colons >= 1 && digits >= 6) return 1;
    }
    return 0;
}

int milnce_caption_is_rolling(const milnce_cues *raw) {
    for (size_t i = 0; i < raw->n; i++)
        if (has_inline_timestamp(raw->v[i].text)) return 1;
    return 0;
}

/* Is line (len bytes) one of the '\n'-separated lines of text? */
static int has_line(const char *text, const char *line, size_t len) {
    for (const char *p = text; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == len && memcmp(p, line, len) == 0) return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

int milnce_caption_dedupe_rolling(milnce_cues *c, int bridge_times, milnce_error *err) {
    milnce_cues out = {0};
    const char *prev = ""; /* text of the previous input cue (still owned by c) */
    int rc = 0;
    for (size_t i = 0; i < c->n && rc == 0; i++) {
        milnce_cue *q = &c->v[i];
        int bridge = q->end - q->start < 0.05;
        for (const char *p = q->text; p && *p && rc == 0;) {
            const char *e = strchr(p, '\n');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            int repeat = has_line(prev, p, l);
            /* Also a repeat of the last line emitted (a rolling cue may follow a blank one). */
            if (!repeat && out.n && strlen(out.v[out.n - 1].text) == l &&
                memcmp(out.v[out.n - 1].text, p, l) == 0)
                repeat = 1;
            if (!repeat) {
                rc = milnce_cues_push(&out, q->start, q->end, p, l, err);
            } else if (bridge_times && bridge) {
                for (size_t k = out.n; k-- > 0 && k + 3 > out.n;) {
                    if (strlen(out.v[k].text) == l && memcmp(out.v[k].text, p, l) == 0) {
                        out.v[k].start = q->start;
                        out.v[k].end = q->end;
                        break;
                    }
                }
            }
            p = e ? e + 1 : NULL;
        }
        prev = q->text;
    }
    if (rc < 0) {
        milnce_cues_free(&out);
        return rc;
    }
    milnce_cues_free(c);
    *c = out;
    return 0;
}

/* Word spans of a line: offsets of space-separated words. */
typedef struct {
    size_t *off, *len;
    size_t n;
} words;

static int split_words(const char *s, words *w) {
    size_t cap = 8, n = 0;
    size_t *off = malloc(cap * sizeof *off), *len = malloc(cap * sizeof *len);
    if (!off || !len) { free(off); free(len); return -1; }
    for (size_t i = 0; s[i];) {
        while (s[i] && isspace((unsigned char)s[i])) i++;
        if (!s[i]) break;
        size_t b = i;
        while (s[i] && !isspace((unsigned char)s[i])) i++;
        if (n == cap) {
            cap *= 2;
            size_t *o2 = realloc(off, cap * sizeof *o2);
            if (!o2) { free(off); free(len); return -1; }
            off = o2;
            size_t *l2 = realloc(len, cap * sizeof *l2);
            if (!l2) { free(off); free(len); return -1; }
            len = l2;
        }
        off[n] = b;
        len[n] = i - b;
        n++;
    }
    w->off = off; w->len = len; w->n = n;
    return 0;
}

static int word_eq(const char *a, const words *wa, size_t i, const char *b, const words *wb, size_t j) {
    return wa->len[i] == wb->len[j] && memcmp(a + wa->off[i], b + wb->off[j], wa->len[i]) == 0;
}

/* Is b's word list a contiguous run inside a's? */
static int contained(const char *a, const words *wa, const char *b, const words *wb) {
    if (wb->n == 0) return 1;
    for (size_t s = 0; s + wb->n <= wa->n; s++) {
        size_t k = 0;
        while (k < wb->n && word_eq(a, wa, s + k, b, wb, k)) k++;
        if (k == wb->n) return 1;
    }
    return 0;
}

int milnce_caption_dedupe_overlap(milnce_cues *c, int trim, milnce_error *err) {
    size_t kept = 0;
    int dropped = 0;
    for (size_t i = 0; i < c->n; i++) {
        milnce_cue *q = &c->v[i];
        if (kept > 0) {
            milnce_cue *p = &c->v[kept - 1];
            words wp, wq;
            if (split_words(p->text, &wp) < 0)
                return milnce_error_set(err, MILNCE_ERR_NOMEM, "caption words");
            if (split_words(q->text, &wq) < 0) {
                free(wp.off); free(wp.len);
                return milnce_error_set(err, MILNCE_ERR_NOMEM, "caption words");
            }
            size_t cut = 0;
            int inside = contained(p->text, &wp, q->text, &wq);
            if (!inside) {
                /* Longest k: first k words of q == last k words of p. */
                for (size_t k = wq.n < wp.n ? wq.n : wp.n; k > 0; k--) {
                    size_t j = 0;
                    while (j < k && word_eq(q->text, &wq, j, p->text, &wp, wp.n - k + j)) j++;
                    if (j == k) { cut = k; break; }
                }
            }
            if (inside) {
                free(q->text);
                q->text = NULL;
            } else if (cut > 0) {
                size_t from = wq.off[cut];
                memmove(q->text, q->text + from, strlen(q->text + from) + 1);
            }
            free(wp.off); free(wp.len); free(wq.off); free(wq.len);
            if (!q->text) {
                /* The repeat extends the previous line's span to cover it. */
                if (q->end > p->end) p->end = q->end;
                dropped++;
                continue;
            }
        }
        c->v[kept++] = *q;
    }
    c->n = kept;
    if (trim)
        for (size_t i = 0; i + 1 < c->n; i++)
            if (c->v[i].end > c->v[i + 1].start)
                c->v[i].end = c->v[i + 1].start > c->v[i].start ? c->v[i + 1].start : c->v[i].start;
    return dropped;
}

int milnce_caption_join(const milnce_cues *c, char **out, milnce_error *err) {
    milnce_buf b = {0};
    int fail = milnce_buf_put(&b, "", 0) < 0;
    for (size_t i = 0; i < c->n && !fail; i++) {
        const char *t = c->v[i].text;
        if (!*t) continue;
        if (b.n) fail |= milnce_buf_putc(&b, ' ') < 0;
        for (; *t && !fail; t++) fail |= milnce_buf_putc(&b, *t == '\n' ? ' ' : *t) < 0;
    }
    if (fail) {
        free(b.p);
        *out = NULL;
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "joined transcript");
    }
    *out = b.p;
    return 0;
}
