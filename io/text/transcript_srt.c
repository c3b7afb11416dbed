/* SubRip (.srt) and YouTube SBV (.sbv): blocks separated by blank lines.
 *   SRT: [index]\nHH:MM:SS,mmm --> HH:MM:SS,mmm [position junk]\ntext...
 *   SBV: H:MM:SS.mmm,H:MM:SS.mmm\ntext... */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "transcript_internal.h"

/* [H+:]MM:SS[,.]mmm; the fraction separator is ',' in SRT; strict mode refuses '.' there
 * (webvtt-py's invalid_timeframe.srt), lax mode takes either. Fractions of 1-3 digits. */
static const char *parse_ts(const char *s, char frac_sep, int lax, double *v) {
    long part[3];
    int np = 0;
    while (np < 3) {
        if (!isdigit((unsigned char)*s)) return NULL;
        long x = 0;
        int nd = 0;
        while (isdigit((unsigned char)*s) && nd < 10) { x = x * 10 + (*s - '0'); s++; nd++; }
        if (isdigit((unsigned char)*s)) return NULL;
        part[np++] = x;
        if (*s != ':') break;
        s++;
    }
    if (np < 2) return NULL;
    long h = np == 3 ? part[0] : 0, m = part[np - 2], sec = part[np - 1];
    if (m > 59 || sec > 59) return NULL;
    long ms = 0;
    if (*s == frac_sep || (lax && (*s == ',' || *s == '.'))) {
        s++;
        int nd = 0;
        while (isdigit((unsigned char)*s) && nd < 3) { ms = ms * 10 + (*s - '0'); s++; nd++; }
        if (nd == 0 || isdigit((unsigned char)*s)) return NULL;
        while (nd++ < 3) ms *= 10;
    } else if (!lax) {
        return NULL;
    }
    *v = (double)((h * 3600 + m * 60 + sec) * 1000 + ms) / 1000.0;
    return s;
}

/* Timing line -> start/end; 0 ok, -1 not a timing line at all, -2 looks like one but is bad. */
static int parse_timing(const char *line, int sbv, int lax, double *a, double *b) {
    const char *s = line;
    while (*s == ' ' || *s == '\t') s++;
    if (sbv) {
        const char *p = parse_ts(s, '.', lax, a);
        if (!p || *p != ',') return strchr(line, ',') && isdigit((unsigned char)*s) ? -2 : -1;
        p = parse_ts(p + 1, '.', lax, b);
        if (!p) return -2;
        while (*p == ' ' || *p == '\t') p++;
        return *p ? -2 : 0;
    }
    if (!strstr(line, "-->")) return -1;
    const char *p = parse_ts(s, ',', lax, a);
    if (!p) return -2;
    while (*p == ' ' || *p == '\t') p++;
    if (strncmp(p, "-->", 3) != 0) return -2;
    p += 3;
    while (*p == ' ' || *p == '\t') p++;
    p = parse_ts(p, ',', lax, b);
    if (!p) return -2;
    /* Anything after the end time (X1:.. Y1:.. coordinates) is ignored. */
    return (*p == '\0' || *p == ' ' || *p == '\t') ? 0 : -2;
}

static int all_digits(const char *s) {
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return 0;
    while (isdigit((unsigned char)*s)) s++;
    while (*s == ' ' || *s == '\t') s++;
    return *s == '\0';
}

static int blank(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\r') s++;
    return *s == '\0';
}

int milnce__parse_srt(const char *name, const char *text, size_t len, int sbv,
                      const milnce_transcript_opts *o, milnce_cues *out, const milnce_logger *lg,
                      milnce_error *err) {
    const char *fmt = sbv ? "SBV" : "SRT";
    const char *want = sbv ? "'H:MM:SS.mmm,H:MM:SS.mmm'" : "'HH:MM:SS,mmm --> HH:MM:SS,mmm'";
    /* Lines in a private copy so they can be NUL-terminated in place. */
    char *buf = malloc(len + 1);
    if (!buf) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: %zu bytes", name, len);
    memcpy(buf, text, len);
    buf[len] = '\0';
    size_t nlines = 1;
    for (size_t i = 0; i < len; i++) nlines += buf[i] == '\n';
    char **L = malloc(nlines * sizeof *L);
    if (!L) { free(buf); return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: lines", name); }
    size_t nl = 0;
    for (char *p = buf; p;) {
        char *e = strchr(p, '\n');
        if (e) *e = '\0';
        size_t l = strlen(p);
        if (l && p[l - 1] == '\r') p[l - 1] = '\0';
        L[nl++] = p;
        p = e ? e + 1 : NULL;
    }
    int rc = 0;
    char *acc = NULL;
    size_t i = 0;
    while (i < nl && rc == 0) {
        if (blank(L[i])) { i++; continue; }
        size_t b0 = i; /* block start */
        double a, b;
        int t = -1;
        size_t tl = i;
        if (!sbv && all_digits(L[i]) && i + 1 < nl) tl = i + 1; /* index line */
        t = parse_timing(L[tl], sbv, !o->strict, &a, &b);
        if (t == -1 && tl != i) { tl = i; t = parse_timing(L[i], sbv, !o->strict, &a, &b); }
        if (t == 0 && (!milnce_cue_time_ok(a) || !milnce_cue_time_ok(b))) {
            if (o->strict) {
                rc = milnce_error_set(err, MILNCE_ERR_RANGE, "%s:%zu: %s: cue time %g --> %g s beyond the limit of %g s",
                                      name, tl + 1, fmt, a, b, MILNCE_CUE_TIME_MAX);
                break;
            }
            milnce_log(lg, MILNCE_LOG_WARN, "%s:%zu: cue time beyond %g s, block skipped", name, tl + 1,
                       MILNCE_CUE_TIME_MAX);
            i = tl + 1;
            while (i < nl && !blank(L[i])) i++;
            continue;
        }
        if (t == 0 && b < a) {
            /* webvtt-py's sample.sbv has one; the words are still good, the time is a point. */
            milnce_log(lg, MILNCE_LOG_WARN, "%s:%zu: cue ends before it starts; end set to start", name, tl + 1);
            b = a;
        }
        if (t < 0) {
            const char *why = t == -1 ? "no timing line" : "bad timing";
            if (o->strict) {
                rc = milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:%zu: %s: %s (expected %s): '%.60s'",
                                      name, tl + 1, fmt, why, want, L[tl]);
                break;
            }
            milnce_log(lg, MILNCE_LOG_WARN, "%s:%zu: %s, block skipped", name, b0 + 1, why);
            while (i < nl && !blank(L[i])) i++;
            continue;
        }
        /* Text: the lines up to the next blank line. */
        i = tl + 1;
        size_t n = 0, t0 = i;
        while (i < nl && !blank(L[i])) n += strlen(L[i++]) + 1;
        free(acc);
        acc = malloc(n + 1);
        if (!acc) { rc = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: cue", name); break; }
        size_t k = 0;
        for (size_t j = t0; j < i; j++) {
            if (k) acc[k++] = '\n';
            size_t l = strlen(L[j]);
            memcpy(acc + k, L[j], l);
            k += l;
        }
        acc[k] = '\0';
        if (k == 0) milnce_log(lg, MILNCE_LOG_WARN, "%s:%zu: cue without text", name, tl + 1);
        rc = milnce_cues_push(out, a, b, acc, k, err);
    }
    free(acc);
    free(L);
    free(buf);
    return rc;
}
