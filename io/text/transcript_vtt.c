/* WebVTT: the W3C "WebVTT file parsing" algorithm (https://www.w3.org/TR/webvtt1/#file-parsing),
 * step for step, with cue settings and regions, so the web-platform-tests cases pass; then the
 * cues as milnce_cues. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "transcript_internal.h"
#include "buf.h"

typedef struct {
    const char *s; /* normalised input: NUL -> U+FFFD done by the caller, CRLF/CR -> LF */
    size_t n, pos;
    size_t line;   /* 1-based line of s[pos] */
} vin;

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }

/* Next line (without LF) as [*b, *e); advances past the LF. */
static void collect_line(vin *in, size_t *b, size_t *e) {
    *b = in->pos;
    while (in->pos < in->n && in->s[in->pos] != '\n') in->pos++;
    *e = in->pos;
}

static char *dup_range(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) { memcpy(d, s, n); d[n] = '\0'; }
    return d;
}

/* "parse a percentage string": ^[0-9]+(\.[0-9]+)?%$, value in [0, 100]. */
static int parse_percent(const char *s, size_t n, double *v) {
    size_t i = 0;
    if (n < 2 || s[n - 1] != '%') return -1;
    n--;
    size_t d0 = i;
    while (i < n && isdigit((unsigned char)s[i])) i++;
    if (i == d0) return -1;
    if (i < n && s[i] == '.') {
        i++;
        size_t d1 = i;
        while (i < n && isdigit((unsigned char)s[i])) i++;
        if (i == d1) return -1;
    }
    if (i != n) return -1;
    char tmp[64];
    if (n >= sizeof tmp) {
        /* Long digit strings: still a number, just above 100 unless all leading zeros. */
        char *t = dup_range(s, n);
        if (!t) return -1;
        *v = strtod(t, NULL);
        free(t);
    } else {
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        *v = strtod(tmp, NULL);
    }
    return (*v < 0 || *v > 100) ? -1 : 0;
}

static double strtod_range(const char *s, size_t n) {
    char *t = dup_range(s, n);
    if (!t) return NAN;
    double v = strtod(t, NULL);
    free(t);
    return v;
}

/* "collect a WebVTT timestamp" from s[*p..n). */
static int collect_ts(const char *s, size_t n, size_t *p, double *out) {
    size_t i = *p;
    int hours_unit = 0;
    if (i >= n || !isdigit((unsigned char)s[i])) return -1;
    size_t b = i;
    while (i < n && isdigit((unsigned char)s[i])) i++;
    double v1 = strtod_range(s + b, i - b);
    if (i - b != 2 || v1 > 59) hours_unit = 1;
    if (i >= n || s[i] != ':') return -1;
    i++;
    b = i;
    while (i < n && isdigit((unsigned char)s[i])) i++;
    if (i - b != 2) return -1;
    double v2 = strtod_range(s + b, 2), v3, v4;
    if (hours_unit || (i < n && s[i] == ':')) {
        if (i >= n || s[i] != ':') return -1;
        i++;
        b = i;
        while (i < n && isdigit((unsigned char)s[i])) i++;
        if (i - b != 2) return -1;
        v3 = strtod_range(s + b, 2);
    } else {
        v3 = v2;
        v2 = v1;
        v1 = 0;
    }
    if (i >= n || s[i] != '.') return -1;
    i++;
    b = i;
    while (i < n && isdigit((unsigned char)s[i])) i++;
    if (i - b != 3) return -1;
    v4 = strtod_range(s + b, 3);
    if (v2 > 59 || v3 > 59) return -1;
    /* Whole milliseconds divided once, so 59.999 is the double nearest 59.999. */
    *out = (v1 * 3600000.0 + v2 * 60000.0 + v3 * 1000.0 + v4) / 1000.0;
    *p = i;
    return 0;
}

static void cue_defaults(milnce_vtt_cue *c) {
    memset(c, 0, sizeof *c);
    c->region = -1;
    c->snap_to_lines = 1;
    c->line_auto = 1;
    c->line_align = MILNCE_VTT_LINE_START;
    c->position_auto = 1;
    c->position_align = MILNCE_VTT_POS_AUTO;
    c->size = 100;
    c->align = MILNCE_VTT_ALIGN_CENTER;
}

static int eq(const char *s, size_t n, const char *lit) { return strlen(lit) == n && memcmp(s, lit, n) == 0; }

static void cue_settings(const char *s, size_t n, milnce_vtt *v, milnce_vtt_cue *c) {
    size_t i = 0;
    while (i < n) {
        while (i < n && is_ws(s[i])) i++;
        size_t b = i;
        while (i < n && !is_ws(s[i])) i++;
        if (i == b) break;
        const char *set = s + b;
        size_t sn = i - b;
        const char *colon = memchr(set, ':', sn);
        if (!colon || colon == set || colon == set + sn - 1) continue;
        size_t nn = (size_t)(colon - set);
        const char *val = colon + 1;
        size_t vn = sn - nn - 1;
        if (eq(set, nn, "region")) {
            c->region = -1;
            for (size_t r = v->nregions; r-- > 0;)
                if (eq(val, vn, v->regions[r].id)) { c->region = (int)r; break; }
        } else if (eq(set, nn, "vertical")) {
            if (eq(val, vn, "rl")) c->vertical = 1;
            else if (eq(val, vn, "lr")) c->vertical = 2;
        } else if (eq(set, nn, "line")) {
            const char *comma = memchr(val, ',', vn);
            size_t pn = comma ? (size_t)(comma - val) : vn;
            const char *al = comma ? comma + 1 : NULL;
            size_t an = comma ? vn - pn - 1 : 0;
            int digit = 0;
            for (size_t k = 0; k < pn; k++) digit |= isdigit((unsigned char)val[k]) != 0;
            if (!digit) continue;
            double num;
            int snap;
            if (val[pn - 1] == '%') {
                if (parse_percent(val, pn, &num) < 0) continue;
                snap = 0;
            } else {
                int bad = 0, dots = 0;
                for (size_t k = 0; k < pn; k++) {
                    char ch = val[k];
                    if (!(isdigit((unsigned char)ch) || ch == '-' || ch == '.')) bad = 1;
                    if (ch == '-' && k != 0) bad = 1;
                    if (ch == '.') {
                        dots++;
                        if (k == 0 || k == pn - 1 || !isdigit((unsigned char)val[k - 1]) ||
                            !isdigit((unsigned char)val[k + 1]))
                            bad = 1;
                    }
                }
                if (bad || dots > 1) continue;
                num = strtod_range(val, pn);
                /* Beyond the double range is no number; -0 is 0 (as the W3C cases expect). */
                if (!isfinite(num)) continue;
                if (num == 0) num = 0;
                snap = 1;
            }
            int la = MILNCE_VTT_LINE_START;
            if (al) {
                if (eq(al, an, "start")) la = MILNCE_VTT_LINE_START;
                else if (eq(al, an, "center")) la = MILNCE_VTT_LINE_CENTER;
                else if (eq(al, an, "end")) la = MILNCE_VTT_LINE_END;
                else continue;
            }
            c->line_auto = 0;
            c->line = num;
            c->snap_to_lines = snap;
            c->line_align = la;
        } else if (eq(set, nn, "position")) {
            const char *comma = memchr(val, ',', vn);
            size_t pn = comma ? (size_t)(comma - val) : vn;
            const char *al = comma ? comma + 1 : NULL;
            size_t an = comma ? vn - pn - 1 : 0;
            double num;
            if (parse_percent(val, pn, &num) < 0) continue;
            int pa = MILNCE_VTT_POS_AUTO;
            if (al) {
                if (eq(al, an, "line-left")) pa = MILNCE_VTT_POS_LINE_LEFT;
                else if (eq(al, an, "center")) pa = MILNCE_VTT_POS_CENTER;
                else if (eq(al, an, "line-right")) pa = MILNCE_VTT_POS_LINE_RIGHT;
                else continue;
            }
            c->position_auto = 0;
            c->position = num;
            c->position_align = pa;
        } else if (eq(set, nn, "size")) {
            double num;
            if (parse_percent(val, vn, &num) == 0) c->size = num;
        } else if (eq(set, nn, "align")) {
            if (eq(val, vn, "start")) c->align = MILNCE_VTT_ALIGN_START;
            else if (eq(val, vn, "center")) c->align = MILNCE_VTT_ALIGN_CENTER;
            else if (eq(val, vn, "end")) c->align = MILNCE_VTT_ALIGN_END;
            else if (eq(val, vn, "left")) c->align = MILNCE_VTT_ALIGN_LEFT;
            else if (eq(val, vn, "right")) c->align = MILNCE_VTT_ALIGN_RIGHT;
        }
    }
}

/* "collect WebVTT cue timings and settings" from one line. */
static int cue_timings(const char *s, size_t n, milnce_vtt *v, milnce_vtt_cue *c) {
    size_t i = 0;
    while (i < n && is_ws(s[i])) i++;
    if (collect_ts(s, n, &i, &c->start) < 0) return -1;
    while (i < n && is_ws(s[i])) i++;
    if (n - i < 3 || memcmp(s + i, "-->", 3) != 0) return -1;
    i += 3;
    while (i < n && is_ws(s[i])) i++;
    if (collect_ts(s, n, &i, &c->end) < 0) return -1;
    cue_settings(s + i, n - i, v, c);
    return 0;
}

static void region_settings(const char *s, size_t n, milnce_vtt_region *r) {
    size_t i = 0;
    while (i < n) {
        while (i < n && is_ws(s[i])) i++;
        size_t b = i;
        while (i < n && !is_ws(s[i])) i++;
        if (i == b) break;
        const char *set = s + b;
        size_t sn = i - b;
        const char *colon = memchr(set, ':', sn);
        if (!colon || colon == set || colon == set + sn - 1) continue;
        size_t nn = (size_t)(colon - set);
        const char *val = colon + 1;
        size_t vn = sn - nn - 1;
        if (eq(set, nn, "id")) {
            char *id = dup_range(val, vn);
            if (id) { free(r->id); r->id = id; }
        } else if (eq(set, nn, "width")) {
            double w;
            if (parse_percent(val, vn, &w) == 0) r->width = w;
        } else if (eq(set, nn, "lines")) {
            int ok = vn > 0;
            for (size_t k = 0; k < vn; k++) ok &= isdigit((unsigned char)val[k]) != 0;
            if (ok) r->lines = strtod_range(val, vn);
        } else if (eq(set, nn, "regionanchor") || eq(set, nn, "viewportanchor")) {
            const char *comma = memchr(val, ',', vn);
            if (!comma) continue;
            double x, y;
            size_t xn = (size_t)(comma - val);
            if (parse_percent(val, xn, &x) < 0 || parse_percent(comma + 1, vn - xn - 1, &y) < 0) continue;
            if (set[0] == 'r') { r->anchor_x = x; r->anchor_y = y; }
            else { r->viewport_x = x; r->viewport_y = y; }
        } else if (eq(set, nn, "scroll")) {
            if (eq(val, vn, "up")) r->scroll_up = 1;
        }
    }
}

static int starts_kw(const char *s, size_t n, const char *kw) {
    size_t k = strlen(kw);
    if (n < k || memcmp(s, kw, k) != 0) return 0;
    for (size_t i = k; i < n; i++)
        if (!is_ws(s[i])) return 0;
    return 1;
}

enum { BLK_NONE, BLK_CUE, BLK_STYLE, BLK_REGION };

/* "collect a WebVTT block". Returns BLK_* or <0 (out of memory); a cue goes into *cue, a region
 * into *reg (owned by the caller afterwards). */
static int collect_block(vin *in, int in_header, milnce_vtt *v, milnce_vtt_cue *cue,
                         milnce_vtt_region *reg, int *dropped_line) {
    size_t line_count = 0, prev_pos = in->pos, prev_line = in->line;
    milnce_buf buf = {0};
    int seen_cue = 0, seen_arrow = 0, have_cue = 0, kind = BLK_NONE, ended_by_arrow = 0;
    size_t first_line = in->line;
    cue->id = NULL; /* owned here until BLK_CUE hands it over with the text */
    if (milnce_buf_put(&buf, "", 0) < 0) goto nomem;
    for (;;) {
        size_t b, e;
        size_t this_line = in->line;
        collect_line(in, &b, &e);
        line_count++;
        int eof = in->pos >= in->n;
        if (!eof) { in->pos++; in->line++; }
        const char *L = in->s + b;
        size_t n = e - b;
        if (n >= 3 && memmem(L, n, "-->", 3)) {
            if (!in_header && (line_count == 1 || (line_count == 2 && !seen_arrow))) {
                seen_arrow = 1;
                prev_pos = in->pos;
                prev_line = in->line;
                cue_defaults(cue);
                cue->id = buf.p;
                buf.p = NULL; buf.n = buf.cap = 0;
                if (milnce_buf_put(&buf, "", 0) < 0) goto nomem;
                cue->line_no = (int)this_line;
                if (cue_timings(L, n, v, cue) < 0) {
                    free(cue->id);
                    cue->id = NULL;
                    have_cue = 0;
                    if (!*dropped_line) *dropped_line = (int)this_line;
                    v->dropped++;
                } else {
                    have_cue = 1;
                    seen_cue = 1;
                }
            } else {
                in->pos = prev_pos;
                in->line = prev_line;
                ended_by_arrow = 1;
                break;
            }
        } else if (n == 0) {
            break;
        } else {
            if (!in_header && line_count == 2) {
                if (!seen_cue && starts_kw(buf.p, buf.n, "STYLE")) {
                    kind = BLK_STYLE;
                    buf.n = 0; buf.p[0] = '\0';
                } else if (!seen_cue && starts_kw(buf.p, buf.n, "REGION")) {
                    kind = BLK_REGION;
                    buf.n = 0; buf.p[0] = '\0';
                }
            }
            if (buf.n && milnce_buf_put(&buf, "\n", 1) < 0) goto nomem;
            if (milnce_buf_put(&buf, L, n) < 0) goto nomem;
            prev_pos = in->pos;
            prev_line = in->line;
        }
        if (eof) break;
    }
    if (have_cue) {
        cue->text = buf.p;
        return BLK_CUE;
    }
    if (kind == BLK_REGION) {
        memset(reg, 0, sizeof *reg);
        reg->width = 100;
        reg->lines = 3;
        reg->anchor_x = 0; reg->anchor_y = 100;
        reg->viewport_x = 0; reg->viewport_y = 100;
        region_settings(buf.p, buf.n, reg);
        free(buf.p);
        if (!reg->id && !(reg->id = dup_range("", 0))) return -1;
        return BLK_REGION;
    }
    /* A non-empty block that is no cue, style, region or NOTE: text without a timing line. A
     * block cut short by a timing line (an id after a stray line) loses no text. */
    int blank_block = 1;
    for (size_t i = 0; i < buf.n && blank_block; i++) blank_block = is_ws(buf.p[i]);
    if (!in_header && !seen_arrow && kind == BLK_NONE && !blank_block && !ended_by_arrow &&
        !(buf.n >= 4 && memcmp(buf.p, "NOTE", 4) == 0 && (buf.n == 4 || is_ws(buf.p[4])))) {
        if (!*dropped_line) *dropped_line = (int)first_line;
        v->dropped++;
    }
    free(buf.p);
    return kind == BLK_STYLE ? BLK_STYLE : BLK_NONE;
nomem:
    free(buf.p);
    free(cue->id);
    cue->id = NULL;
    return -1;
}

void milnce_vtt_free(milnce_vtt *v) {
    for (size_t i = 0; i < v->n; i++) { free(v->cues[i].id); free(v->cues[i].text); }
    for (size_t i = 0; i < v->nregions; i++) free(v->regions[i].id);
    free(v->cues);
    free(v->regions);
    memset(v, 0, sizeof *v);
}

/* NUL -> U+FFFD, CRLF and CR -> LF. */
static char *normalise(const char *t, size_t len, size_t *out_n) {
    char *o = malloc(len * 3 + 1);
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        char c = t[i];
        if (c == '\0') { o[k++] = (char)0xEF; o[k++] = (char)0xBF; o[k++] = (char)0xBD; }
        else if (c == '\r') { o[k++] = '\n'; if (i + 1 < len && t[i + 1] == '\n') i++; }
        else o[k++] = c;
    }
    o[k] = '\0';
    *out_n = k;
    return o;
}

int milnce_vtt_parse(const char *name, const char *text, size_t len, milnce_vtt *out,
                     milnce_error *err) {
    memset(out, 0, sizeof *out);
    size_t n;
    char *s = normalise(text, len, &n);
    if (!s) return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: %zu bytes", name, len);
    vin in = {s, n, 0, 1};
    int rc = 0;
    if (n >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF)
        in.pos = 3;
    /* Signature: "WEBVTT" then end, space, tab or LF. */
    if (n - in.pos < 6 || memcmp(s + in.pos, "WEBVTT", 6) != 0 ||
        (n - in.pos > 6 && s[in.pos + 6] != ' ' && s[in.pos + 6] != '\t' && s[in.pos + 6] != '\n')) {
        free(s);
        return milnce_error_set(err, MILNCE_ERR_FORMAT, "%s:1: not WebVTT (no 'WEBVTT' signature)", name);
    }
    size_t b, e;
    collect_line(&in, &b, &e);
    if (in.pos >= n) goto done;
    in.pos++; /* the LF */
    in.line++;
    milnce_vtt_cue cue;
    milnce_vtt_region reg;
    int dl = 0;
    if (in.pos < n && s[in.pos] != '\n') {
        int k = collect_block(&in, 1, out, &cue, &reg, &dl);
        if (k < 0) { rc = -1; goto done; }
        if (k == BLK_CUE) { free(cue.id); free(cue.text); }
        if (k == BLK_REGION) free(reg.id);
    } else if (in.pos < n) {
        in.pos++;
        in.line++;
    }
    while (in.pos < n && s[in.pos] == '\n') { in.pos++; in.line++; }
    while (in.pos < n) {
        int k = collect_block(&in, 0, out, &cue, &reg, &dl);
        if (k < 0) { rc = -1; break; }
        if (k == BLK_CUE) {
            if (out->n == out->cap) {
                size_t cap = out->cap ? out->cap * 2 : 16;
                milnce_vtt_cue *nc = realloc(out->cues, cap * sizeof *nc);
                if (!nc) { free(cue.id); free(cue.text); rc = -1; break; }
                out->cues = nc;
                out->cap = cap;
            }
            out->cues[out->n++] = cue;
        } else if (k == BLK_REGION) {
            if (out->nregions == out->capr) {
                size_t cap = out->capr ? out->capr * 2 : 4;
                milnce_vtt_region *nr = realloc(out->regions, cap * sizeof *nr);
                if (!nr) { free(reg.id); rc = -1; break; }
                out->regions = nr;
                out->capr = cap;
            }
            out->regions[out->nregions++] = reg;
        }
        while (in.pos < n && s[in.pos] == '\n') { in.pos++; in.line++; }
    }
    out->first_dropped_line = dl;
done:
    free(s);
    if (rc < 0) {
        milnce_vtt_free(out);
        return milnce_error_set(err, MILNCE_ERR_NOMEM, "%s: parsing WebVTT", name);
    }
    return 0;
}

int milnce__parse_vtt(const char *name, const char *text, size_t len,
                      const milnce_transcript_opts *o, milnce_cues *out, const milnce_logger *lg,
                      milnce_error *err) {
    /* An empty file is zero cues, not a missing signature. */
    size_t i = 0;
    while (i < len && is_ws(text[i])) i++;
    if (i == len) return 0;
    milnce_vtt v;
    int rc = milnce_vtt_parse(name, text, len, &v, err);
    if (rc < 0) return rc;
    if (v.dropped) {
        if (o->strict) {
            rc = milnce_error_set(err, MILNCE_ERR_FORMAT,
                                  "%s:%d: WebVTT block without valid cue timing "
                                  "'hh:mm:ss.ttt --> hh:mm:ss.ttt' (%d such blocks)",
                                  name, v.first_dropped_line, v.dropped);
            milnce_vtt_free(&v);
            return rc;
        }
        milnce_log(lg, MILNCE_LOG_WARN, "%s:%d: %d WebVTT blocks without valid timing skipped",
                   name, v.first_dropped_line, v.dropped);
    }
    for (size_t k = 0; k < v.n && rc == 0; k++) {
        milnce_vtt_cue *c = &v.cues[k];
        double end = c->end;
        if (!milnce_cue_time_ok(c->start) || !milnce_cue_time_ok(end)) {
            /* Legal WebVTT (hours have no upper bound) but no video is that long. */
            if (o->strict) {
                rc = milnce_error_set(err, MILNCE_ERR_RANGE, "%s:%d: cue time %g --> %g s beyond the limit of %g s",
                                      name, c->line_no, c->start, end, MILNCE_CUE_TIME_MAX);
                break;
            }
            milnce_log(lg, MILNCE_LOG_WARN, "%s:%d: cue time beyond %g s, cue skipped", name, c->line_no,
                       MILNCE_CUE_TIME_MAX);
            continue;
        }
        if (end < c->start) {
            /* Legal WebVTT (the W3C timings-negative case); a point in time for milnce_cues. */
            milnce_log(lg, MILNCE_LOG_WARN, "%s:%d: cue ends before it starts; end set to start",
                       name, c->line_no);
            end = c->start;
        }
        rc = milnce_cues_push(out, c->start, end, c->text, (size_t)-1, err);
    }
    milnce_vtt_free(&v);
    return rc;
}
