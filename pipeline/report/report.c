/* The self-contained HTML report of a run folder (contract in report.h). */
#include "report.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "fileutil.h"
#include "image_write.h"

#define THUMB_MAX_BYTES (4u << 20)
#define CONFIG_MAX_BYTES (1u << 20)
#define NOTES_PER_KIND 10 /* individual warnings of one kind before a summary line */

/* ---------------------------------------------------------------- growing string buffer */

typedef struct sb {
    char *p;
    size_t n, cap;
    int oom;
} sb;

static void sb_put(sb *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_puts(sb *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_vprintf(sb *b, const char *fmt, va_list ap) {
    char tmp[1024];
    va_list ap2;
    va_copy(ap2, ap);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    if (k < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)k < sizeof tmp) {
        sb_put(b, tmp, (size_t)k);
    } else {
        char *big = malloc((size_t)k + 1);
        if (big) {
            vsnprintf(big, (size_t)k + 1, fmt, ap2);
            sb_put(b, big, (size_t)k);
            free(big);
        } else {
            b->oom = 1;
        }
    }
    va_end(ap2);
}

static void sb_printf(sb *b, const char *fmt, ...) MILNCE_PRINTF(2, 3);
static void sb_printf(sb *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(b, fmt, ap);
    va_end(ap);
}

/* Length of a valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else
        return 0;
    if (n < len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return len;
}

static void sb_esc(sb *b, const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0; /* run: bytes at s[i-run..i) to copy verbatim */
    while (i < n) {
        unsigned c = s[i];
        const char *rep = NULL;
        size_t adv = 1;
        if (c < 0x80) {
            switch (c) {
            case '&': rep = "&amp;"; break;
            case '<': rep = "&lt;"; break;
            case '>': rep = "&gt;"; break;
            case '"': rep = "&quot;"; break;
            case '\'': rep = "&#39;"; break;
            case '\n': case '\t': break;
            case '\r': rep = ""; break;
            default:
                if (c < 0x20 || c == 0x7f) rep = "\xef\xbf\xbd";
            }
        } else {
            adv = utf8_len(s + i, n - i);
            if (!adv) {
                rep = "\xef\xbf\xbd";
                adv = 1;
            }
        }
        if (rep) {
            sb_put(b, (const char *)s + i - run, run);
            run = 0;
            sb_puts(b, rep);
        } else {
            run += adv;
        }
        i += adv;
    }
    sb_put(b, (const char *)s + n - run, run);
}

static void sb_escs(sb *b, const char *s) { sb_esc(b, s, strlen(s)); }

static void sb_b64(sb *b, const uint8_t *d, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char out[4 * 256];
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16;
        if (i + 1 < n) v |= (uint32_t)d[i + 1] << 8;
        if (i + 2 < n) v |= d[i + 2];
        out[k++] = tab[(v >> 18) & 63];
        out[k++] = tab[(v >> 12) & 63];
        out[k++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[k++] = i + 2 < n ? tab[v & 63] : '=';
        if (k == sizeof out) {
            sb_put(b, out, k);
            k = 0;
        }
    }
    sb_put(b, out, k);
}

char *milnce_html_escape(const char *s, size_t n) {
    sb b = {0};
    sb_put(&b, "", 0);
    sb_esc(&b, s ? s : "", s ? n : 0);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---------------------------------------------------------------- context and notes */

typedef struct rctx {
    const char *dir;
    milnce_report_opts o;
    const milnce_logger *lg;
    milnce_report_stats st;
    sb notes; /* <li> items */
} rctx;

static void note(rctx *c, const char *fmt, ...) MILNCE_PRINTF(2, 3);
static void note(rctx *c, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    milnce_log(c->lg, MILNCE_LOG_WARN, "%s", msg);
    sb_puts(&c->notes, "<li>");
    sb_escs(&c->notes, msg);
    sb_puts(&c->notes, "</li>\n");
    c->st.warnings++;
}

/* Reads a whole file of at most max bytes. 1 = read, 0 = absent, -2 = larger than max (unless
 * truncated is given: then its first max bytes and *truncated = 1), -1 = unreadable. */
static int slurp(const char *path, size_t max, uint8_t **data, size_t *size, int *truncated) {
    char *d = NULL;
    int ret = milnce_read_file(path, max, &d, size, truncated, NULL);
    *data = (uint8_t *)d;
    return ret == 0 ? 1 : ret == MILNCE_ERR_NOTFOUND ? 0 : ret == MILNCE_ERR_RANGE ? -2 : -1;
}

/* ---------------------------------------------------------------- log.jsonl */

enum { F_LOSS, F_LR, F_CPS, F_WAIT, F_GNORM, F_COUNT };

static const struct {
    const char *key, *title, *ylabel;
    double scale;     /* display = value * scale */
    int zero;         /* y axis includes 0 */
    const char *color;
} FIELDS[F_COUNT] = {
    {"loss", "Training loss (MIL-NCE)", "loss", 1, 0, "#2563c9"},
    {"lr", "Learning rate", "learning rate", 1, 1, "#8a44c2"},
    {"clips_per_s", "Throughput", "clips / s", 1, 1, "#1a9e46"},
    {"data_wait", "Time waiting for data", "% of step time", 100, 1, "#d9730d"},
    {"grad_norm", "Gradient norm", "global L2 norm", 1, 0, "#c23b3b"},
};

typedef struct logrow {
    long long step;
    size_t line;
    double v[F_COUNT]; /* NaN = absent or skipped */
} logrow;

typedef struct logdata {
    logrow *rows;
    size_t n, cap;
    size_t present[F_COUNT], nonfinite[F_COUNT], wrongtype[F_COUNT];
    long long epoch_last;
    int has_epoch;
} logdata;

/* Rewrites non-finite number tokens outside strings (NaN, Infinity, -inf, nan, ...) to null, so
 * that a strict JSON parser accepts what Python's json and printf write. */
static void sanitize_nonfinite(const char *in, char *out) {
    int instr = 0;
    while (*in) {
        char ch = *in;
        if (instr) {
            *out++ = *in++;
            if (ch == '\\' && *in) *out++ = *in++;
            else if (ch == '"') instr = 0;
            continue;
        }
        if (ch == '"') {
            instr = 1;
            *out++ = *in++;
            continue;
        }
        const char *w = in;
        if ((ch == '-' || ch == '+') && ((in[1] | 32) >= 'a' && (in[1] | 32) <= 'z')) w++;
        if ((*w | 32) >= 'a' && (*w | 32) <= 'z') {
            const char *e = w;
            while (((*e | 32) >= 'a' && (*e | 32) <= 'z')) e++;
            size_t len = (size_t)(e - w);
            if ((len == 3 && (strncasecmp(w, "nan", 3) == 0 || strncasecmp(w, "inf", 3) == 0)) ||
                (len == 8 && strncasecmp(w, "infinity", 8) == 0)) {
                memcpy(out, "null", 4);
                out += 4;
            } else {
                memcpy(out, in, (size_t)(e - in));
                out += e - in;
            }
            in = e;
            continue;
        }
        *out++ = *in++;
    }
    *out = 0;
}

static int cmp_row(const void *a, const void *b) {
    const logrow *x = a, *y = b;
    if (x->step != y->step) return x->step < y->step ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* 1 = read, 0 = absent, < 0 = out of memory. */
static int read_log(rctx *c, logdata *L) {
    char path[MILNCE_PATH_MAX];
    if (milnce_path(path, sizeof path, NULL, "%s/log.jsonl", c->dir) < 0) return 0; /* absent: noted by the caller */
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *line = NULL, *clean = NULL;
    size_t lcap = 0, ccap = 0, lineno = 0, bad = 0;
    ssize_t k;
    int ret = 1;
    while ((k = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)k;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = 0;
        size_t lead = strspn(line, " \t");
        if (lead == len) continue;
        c->st.log_lines++;
        /* Every token replaced grows at most from 3 to 4 bytes. */
        if (ccap < 2 * len + 8) {
            ccap = 2 * len + 8;
            char *t = realloc(clean, ccap);
            if (!t) {
                ret = -1;
                break;
            }
            clean = t;
        }
        sanitize_nonfinite(line, clean);
        json_error_t je;
        json_t *o = json_loads(clean, JSON_REJECT_DUPLICATES, &je);
        const char *why = NULL;
        char whybuf[300];
        json_t *js = o ? json_object_get(o, "step") : NULL;
        if (!o) {
            snprintf(whybuf, sizeof whybuf, "not JSON (%s, column %d)", je.text, je.column);
            why = whybuf;
        } else if (!json_is_object(o)) why = "not a JSON object";
        else if (!js) why = "no \"step\"";
        else if (!json_is_integer(js) && !(json_is_real(js) && json_real_value(js) == floor(json_real_value(js)) &&
                                           fabs(json_real_value(js)) < 9e15))
            why = "\"step\" is not an integer";
        if (why) {
            bad++;
            if (bad <= NOTES_PER_KIND) note(c, "log.jsonl:%zu: %s; line skipped", lineno, why);
            json_decref(o);
            continue;
        }
        if (L->n == L->cap) {
            size_t cap = L->cap ? 2 * L->cap : 1024;
            logrow *r = realloc(L->rows, cap * sizeof *r);
            if (!r) {
                json_decref(o);
                ret = -1;
                break;
            }
            L->rows = r;
            L->cap = cap;
        }
        logrow *r = &L->rows[L->n++];
        r->step = json_is_integer(js) ? (long long)json_integer_value(js) : (long long)json_real_value(js);
        r->line = lineno;
        for (int i = 0; i < F_COUNT; i++) {
            r->v[i] = NAN;
            json_t *v = json_object_get(o, FIELDS[i].key);
            if (!v) continue;
            L->present[i]++;
            if (json_is_null(v)) L->nonfinite[i]++;
            else if (!json_is_number(v)) L->wrongtype[i]++;
            else if (!isfinite(json_number_value(v))) L->nonfinite[i]++;
            else r->v[i] = json_number_value(v);
        }
        json_t *ep = json_object_get(o, "epoch");
        if (json_is_integer(ep)) {
            L->epoch_last = (long long)json_integer_value(ep);
            L->has_epoch = 1;
        }
        json_decref(o);
    }
    free(line);
    free(clean);
    fclose(f);
    c->st.log_bad_lines = bad;
    if (bad > NOTES_PER_KIND) note(c, "log.jsonl: %zu more malformed lines skipped (%zu in all)", bad - NOTES_PER_KIND, bad);
    if (ret < 0) return ret;
    /* Steps in order; a step logged twice (a resumed run re-logs) keeps its last line. */
    if (L->n) qsort(L->rows, L->n, sizeof *L->rows, cmp_row);
    size_t w = 0, dup = 0;
    for (size_t i = 0; i < L->n; i++) {
        if (w && L->rows[w - 1].step == L->rows[i].step) {
            L->rows[w - 1] = L->rows[i];
            dup++;
        } else {
            L->rows[w++] = L->rows[i];
        }
    }
    L->n = w;
    if (dup) note(c, "log.jsonl: %zu steps logged more than once (a resumed run?); the last line of each is shown", dup);
    for (int i = 0; i < F_COUNT; i++) {
        c->st.log_nonfinite += L->nonfinite[i];
        if (L->nonfinite[i])
            note(c, "log.jsonl: %zu non-finite \"%s\" values (NaN/Inf) skipped", L->nonfinite[i], FIELDS[i].key);
        if (L->wrongtype[i])
            note(c, "log.jsonl: %zu \"%s\" values are not numbers; skipped", L->wrongtype[i], FIELDS[i].key);
    }
    c->st.steps = L->n;
    return 1;
}

/* ---------------------------------------------------------------- SVG plots */

typedef struct series {
    double *x, *y;
    size_t n;
    const char *color, *label;
    double width;
    int dots;
} series;

/* Reduces (x, y) of n points to at most max points: the min and the max of each of max/2
 * consecutive buckets, in x order, so spikes survive. Returns the new count (in place). */
static size_t downsample(double *x, double *y, size_t n, size_t max) {
    if (n <= max) return n;
    size_t buckets = max / 2, w = 0;
    for (size_t b = 0; b < buckets; b++) {
        size_t lo = b * n / buckets, hi = (b + 1) * n / buckets;
        if (hi <= lo) continue;
        size_t imin = lo, imax = lo;
        for (size_t i = lo + 1; i < hi; i++) {
            if (y[i] < y[imin]) imin = i;
            if (y[i] > y[imax]) imax = i;
        }
        size_t a = imin < imax ? imin : imax, z = imin < imax ? imax : imin;
        double xa = x[a], ya = y[a], xz = x[z], yz = y[z];
        x[w] = xa;
        y[w++] = ya;
        if (z != a) {
            x[w] = xz;
            y[w++] = yz;
        }
    }
    return w;
}

/* A "nice" number near v: 1, 2 or 5 times a power of ten. */
static double nicenum(double v, int round) {
    double e = floor(log10(v)), p = pow(10, e), f = v / p, nf;
    if (round) nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    else nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return nf * p;
}

typedef struct axis {
    double lo, hi, step;
    int sig; /* significant digits of a tick label */
} axis;

static void make_axis(axis *a, double mn, double mx, int integer, int ticks) {
    if (!(mx > mn)) {
        double pad = integer ? 1 : (fabs(mn) > 0 ? fabs(mn) * 0.1 : 1);
        mn -= pad;
        mx += pad;
    }
    double step = nicenum(nicenum(mx - mn, 0) / (ticks - 1), 1);
    if (integer && step < 1) step = 1;
    a->step = step;
    a->lo = floor(mn / step) * step;
    a->hi = ceil(mx / step) * step;
    double big = fmax(fabs(a->lo), fabs(a->hi));
    int sig = (int)(floor(log10(big > 0 ? big : step)) - floor(log10(step))) + 1;
    a->sig = sig < 1 ? 1 : sig > 10 ? 10 : sig;
}

static void tick_label(char *buf, size_t n, const axis *a, double v) {
    if (fabs(v) < a->step * 1e-9) v = 0;
    if (a->step >= 1 && fabs(v) < 1e15 && v == floor(v)) snprintf(buf, n, "%.0f", v); /* 50000, not 5e+04 */
    else snprintf(buf, n, "%.*g", a->sig, v);
}

enum { PW = 530, PH = 300, ML = 74, MR = 18, MT = 34, MB = 48 };

static void svg_line_plot(sb *b, const char *title, const char *xlabel, const char *ylabel, const series *s,
                          int ns, int yzero) {
    double xmn = INFINITY, xmx = -INFINITY, ymn = INFINITY, ymx = -INFINITY;
    for (int k = 0; k < ns; k++)
        for (size_t i = 0; i < s[k].n; i++) {
            xmn = fmin(xmn, s[k].x[i]);
            xmx = fmax(xmx, s[k].x[i]);
            ymn = fmin(ymn, s[k].y[i]);
            ymx = fmax(ymx, s[k].y[i]);
        }
    if (yzero) {
        ymn = fmin(ymn, 0);
        ymx = fmax(ymx, 0);
    }
    axis ax, ay;
    make_axis(&ax, xmn, xmx, 1, 6);
    make_axis(&ay, ymn, ymx, 0, 6);
    const double w = PW - ML - MR, h = PH - MT - MB;
#define SX(v) (ML + ((v) - ax.lo) / (ax.hi - ax.lo) * w)
#define SY(v) (MT + h - ((v) - ay.lo) / (ay.hi - ay.lo) * h)
    sb_printf(b, "<svg class=\"plot\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\">", PW, PH, PW, PH);
    sb_puts(b, "<title>");
    sb_escs(b, title);
    sb_puts(b, "</title>");
    sb_printf(b, "<text class=\"ttl\" x=\"%d\" y=\"20\">", ML);
    sb_escs(b, title);
    sb_puts(b, "</text>");
    char lab[64];
    for (int i = 0;; i++) { /* y grid and ticks */
        double v = ay.lo + i * ay.step;
        if (v > ay.hi + ay.step * 1e-6) break;
        double y = SY(v);
        tick_label(lab, sizeof lab, &ay, v);
        sb_printf(b, "<line class=\"grid\" x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", ML, ML + w, y, y);
        sb_printf(b, "<text class=\"tk\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>", ML - 6, y + 4, lab);
    }
    for (int i = 0;; i++) { /* x grid and ticks */
        double v = ax.lo + i * ax.step;
        if (v > ax.hi + ax.step * 1e-6) break;
        double x = SX(v);
        tick_label(lab, sizeof lab, &ax, v);
        sb_printf(b, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%.1f\"/>", x, x, MT, MT + h);
        sb_printf(b, "<text class=\"tk\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", x, MT + h + 16, lab);
    }
    sb_printf(b, "<path class=\"axis\" d=\"M%d %d V%.1f H%.1f\"/>", ML, MT, MT + h, ML + w);
    sb_printf(b, "<text class=\"lbl\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", ML + w / 2, PH - 8);
    sb_escs(b, xlabel);
    sb_printf(b, "</text><text class=\"lbl\" transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">",
              MT + h / 2);
    sb_escs(b, ylabel);
    sb_puts(b, "</text>");
    for (int k = 0; k < ns; k++) {
        if (s[k].n > 1) {
            sb_printf(b, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" "
                         "stroke-linejoin=\"round\" points=\"", s[k].color, s[k].width);
            for (size_t i = 0; i < s[k].n; i++)
                sb_printf(b, "%s%.1f,%.1f", i ? " " : "", SX(s[k].x[i]), SY(s[k].y[i]));
            sb_puts(b, "\"/>");
        }
        if (s[k].dots || s[k].n == 1)
            for (size_t i = 0; i < s[k].n; i++)
                sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", SX(s[k].x[i]), SY(s[k].y[i]),
                          s[k].color);
    }
    if (ns > 1)
        for (int k = 0; k < ns; k++) { /* legend, top right */
            double y = MT + 12 + 16 * k, x = ML + w - 190;
            sb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>", x,
                      x + 18, y - 4, y - 4, s[k].color);
            sb_printf(b, "<text class=\"tk\" x=\"%.1f\" y=\"%.1f\">", x + 24, y);
            sb_escs(b, s[k].label);
            sb_puts(b, "</text>");
        }
    sb_puts(b, "</svg>\n");
#undef SX
#undef SY
}

/* Trailing moving average of y over win points (prefix sums). */
static void moving_average(const double *y, size_t n, size_t win, double *out) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += y[i];
        if (i >= win) sum -= y[i - win];
        out[i] = sum / (double)(i + 1 < win ? i + 1 : win);
    }
}

static int render_training(rctx *c, sb *b, const logdata *L) {
    size_t maxp = (size_t)c->o.max_points;
    double *x = malloc((L->n + 1) * sizeof *x), *y = malloc((L->n + 1) * sizeof *y);
    double *x2 = malloc((L->n + 1) * sizeof *x2), *y2 = malloc((L->n + 1) * sizeof *y2);
    if (!x || !y || !x2 || !y2) {
        free(x), free(y), free(x2), free(y2);
        return -1;
    }
    size_t most = 0; /* largest curve that was downsampled */
    sb_puts(b, "<div class=\"plots\">\n");
    for (int f = 0; f < F_COUNT; f++) {
        size_t n = 0;
        for (size_t i = 0; i < L->n; i++)
            if (!isnan(L->rows[i].v[f])) {
                x[n] = (double)L->rows[i].step;
                y[n++] = L->rows[i].v[f] * FIELDS[f].scale;
            }
        if (n == 0) {
            if (L->present[f] == 0) note(c, "log.jsonl has no \"%s\" field: the %s plot is omitted", FIELDS[f].key, FIELDS[f].title);
            else note(c, "log.jsonl: no finite \"%s\" value: the %s plot is omitted", FIELDS[f].key, FIELDS[f].title);
            continue;
        }
        series s[2] = {{x, y, n, FIELDS[f].color, FIELDS[f].key, 1.6, n <= 60}};
        int ns = 1;
        char malabel[64];
        if (f == F_LOSS && n >= 20) { /* the raw loss is noisy: overlay a moving average */
            size_t win = n / 40 < 5 ? 5 : n / 40 > 1000 ? 1000 : n / 40;
            moving_average(y, n, win, y2);
            memcpy(x2, x, n * sizeof *x);
            snprintf(malabel, sizeof malabel, "moving average (%zu points)", win);
            s[0].color = "#9db8e6";
            s[0].width = 1.2;
            s[1] = (series){x2, y2, n, "#17407f", malabel, 2.2, 0};
            ns = 2;
        }
        for (int k = 0; k < ns; k++) {
            size_t m = downsample(s[k].x, s[k].y, s[k].n, maxp);
            if (k == 0 && m < n) { /* not a warning: said once under the plots */
                milnce_log(c->lg, MILNCE_LOG_INFO, "%s: %zu points drawn as %zu", FIELDS[f].key, n, m);
                if (n > most) most = n;
            }
            s[k].n = m;
        }
        svg_line_plot(b, FIELDS[f].title, "step", FIELDS[f].ylabel, s, ns, FIELDS[f].zero);
    }
    sb_puts(b, "</div>\n");
    if (most)
        sb_printf(b, "<p class=\"muted\">Curves of more than %zu points (up to %zu) are drawn as the minimum and "
                     "maximum of each of %zu step ranges, so spikes stay visible.</p>\n", maxp, most, maxp / 2);
    free(x), free(y), free(x2), free(y2);
    return 0;
}

/* Summary cards of the training log. */
static void render_train_summary(sb *b, const logdata *L) {
    if (!L->n) return;
    const logrow *last = &L->rows[L->n - 1];
    sb_puts(b, "<div class=\"cards\">");
    sb_printf(b, "<div class=\"card\"><div class=\"k\">last step</div><div class=\"v\">%lld</div></div>", last->step);
    if (L->has_epoch) sb_printf(b, "<div class=\"card\"><div class=\"k\">epoch</div><div class=\"v\">%lld</div></div>", L->epoch_last);
    double sum[F_COUNT] = {0}, mn = INFINITY, lastv[F_COUNT];
    size_t cnt[F_COUNT] = {0};
    for (int f = 0; f < F_COUNT; f++) lastv[f] = NAN;
    for (size_t i = 0; i < L->n; i++)
        for (int f = 0; f < F_COUNT; f++) {
            double v = L->rows[i].v[f];
            if (isnan(v)) continue;
            sum[f] += v;
            cnt[f]++;
            lastv[f] = v;
            if (f == F_LOSS && v < mn) mn = v;
        }
    if (cnt[F_LOSS]) {
        sb_printf(b, "<div class=\"card\"><div class=\"k\">last loss</div><div class=\"v\">%.4g</div></div>", lastv[F_LOSS]);
        sb_printf(b, "<div class=\"card\"><div class=\"k\">lowest loss</div><div class=\"v\">%.4g</div></div>", mn);
    }
    if (cnt[F_LR]) sb_printf(b, "<div class=\"card\"><div class=\"k\">last lr</div><div class=\"v\">%.3g</div></div>", lastv[F_LR]);
    if (cnt[F_CPS])
        sb_printf(b, "<div class=\"card\"><div class=\"k\">mean clips/s</div><div class=\"v\">%.1f</div></div>",
                  sum[F_CPS] / (double)cnt[F_CPS]);
    if (cnt[F_WAIT])
        sb_printf(b, "<div class=\"card\"><div class=\"k\">mean data wait</div><div class=\"v\">%.1f%%</div></div>",
                  100 * sum[F_WAIT] / (double)cnt[F_WAIT]);
    sb_puts(b, "</div>\n");
}

/* ---------------------------------------------------------------- eval.json */

static double jnum(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void put_num(sb *b, double v, const char *fmt) {
    if (isfinite(v)) sb_printf(b, fmt, v);
    else sb_puts(b, "n/a");
}

/* A recall percentage: one decimal, or two significant digits below 1 (chance is often 0.03). */
static void put_pct(sb *b, double v) {
    if (!isfinite(v)) sb_puts(b, "n/a");
    else if (fabs(v) < 1 && v != 0) sb_printf(b, "%.2g", v);
    else sb_printf(b, "%.1f", v);
}

static void put_jstr(sb *b, json_t *v) {
    if (json_is_string(v)) sb_esc(b, json_string_value(v), json_string_length(v));
    else if (json_is_integer(v)) sb_printf(b, "%lld", (long long)json_integer_value(v));
    else sb_puts(b, "n/a");
}

static void svg_recall_bars(sb *b, json_t *ev) {
    static const char *ks[3] = {"r1", "r5", "r10"}, *kl[3] = {"R@1", "R@5", "R@10"};
    static const char *dirs[3] = {"t2v", "v2t", "chance"};
    static const char *names[3] = {"text \xe2\x86\x92 video", "video \xe2\x86\x92 text", "chance"};
    static const char *colors[3] = {"#2563c9", "#d9730d", "#a3a9b3"};
    double v[3][3], mx = 0;
    for (int d = 0; d < 3; d++)
        for (int k = 0; k < 3; k++) {
            v[d][k] = jnum(json_object_get(ev, dirs[d]), ks[k]);
            if (isfinite(v[d][k]) && v[d][k] > mx) mx = v[d][k];
        }
    axis ay;
    make_axis(&ay, 0, fmin(100, fmax(1, mx * 1.12)), 0, 6);
    const double w = PW - ML - MR, h = PH - MT - MB;
#define SY(val) (MT + h - ((val) - ay.lo) / (ay.hi - ay.lo) * h)
    sb_printf(b, "<svg class=\"plot\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\">", PW, PH, PW, PH);
    sb_printf(b, "<title>Recall at K</title><text class=\"ttl\" x=\"%d\" y=\"20\">Recall@K (%%)</text>", ML);
    char lab[64];
    for (int i = 0;; i++) {
        double val = ay.lo + i * ay.step;
        if (val > ay.hi + ay.step * 1e-6) break;
        tick_label(lab, sizeof lab, &ay, val);
        sb_printf(b, "<line class=\"grid\" x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", ML, ML + w, SY(val), SY(val));
        sb_printf(b, "<text class=\"tk\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>", ML - 6, SY(val) + 4, lab);
    }
    const double gw = w / 3, bw = gw * 0.8 / 3;
    for (int k = 0; k < 3; k++) {
        double gx = ML + gw * k + gw * 0.1;
        for (int d = 0; d < 3; d++) {
            double x = gx + bw * d;
            if (!isfinite(v[d][k])) {
                sb_printf(b, "<text class=\"tk\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">n/a</text>", x + bw / 2, MT + h - 4);
                continue;
            }
            double val = fmin(fmax(v[d][k], 0), ay.hi);
            sb_printf(b, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>", x + 1,
                      SY(val), bw - 2, MT + h - SY(val), colors[d]);
            sb_printf(b, "<text class=\"val\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x + bw / 2, SY(val) - 4);
            put_pct(b, v[d][k]);
            sb_puts(b, "</text>");
        }
        sb_printf(b, "<text class=\"lbl\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", ML + gw * k + gw / 2,
                  MT + h + 18, kl[k]);
    }
    sb_printf(b, "<path class=\"axis\" d=\"M%d %d V%.1f H%.1f\"/>", ML, MT, MT + h, ML + w);
    sb_printf(b, "<text class=\"lbl\" transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">"
                 "queries with the match in the top K (%%)</text>", MT + h / 2);
    for (int d = 0; d < 3; d++) {
        double x = ML + 12 + 150 * d;
        sb_printf(b, "<rect x=\"%.1f\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>", x, PH - 20, colors[d]);
        sb_printf(b, "<text class=\"tk\" x=\"%.1f\" y=\"%d\">%s</text>", x + 17, PH - 10, names[d]);
    }
    sb_puts(b, "</svg>\n");
#undef SY
}

static void render_eval_table(sb *b, json_t *ev) {
    sb_puts(b, "<div class=\"cards\">");
    static const char *keys[4] = {"dataset", "n", "missing_videos", "tie_rule"};
    static const char *lab[4] = {"dataset", "queries", "missing videos", "tie rule"};
    for (int i = 0; i < 4; i++) {
        sb_printf(b, "<div class=\"card\"><div class=\"k\">%s</div><div class=\"v%s\">", lab[i], i == 3 ? " small" : "");
        put_jstr(b, json_object_get(ev, keys[i]));
        sb_puts(b, "</div></div>");
    }
    sb_puts(b, "</div>\n<div class=\"plots\"><table class=\"metrics\"><thead><tr><th>direction</th><th>R@1</th><th>R@5</th><th>R@10</th>"
               "<th>median rank</th><th>mean rank</th></tr></thead><tbody>\n");
    static const char *dirs[3] = {"t2v", "v2t", "chance"};
    static const char *names[3] = {"text &rarr; video", "video &rarr; text", "chance"};
    for (int d = 0; d < 3; d++) {
        json_t *o = json_object_get(ev, dirs[d]);
        if (!o && d == 2) continue;
        sb_printf(b, "<tr%s><td>%s</td>", d == 2 ? " class=\"chance\"" : "", names[d]);
        static const char *ks[5] = {"r1", "r5", "r10", "median_rank", "mean_rank"};
        for (int k = 0; k < 5; k++) {
            sb_puts(b, "<td>");
            if (d == 2 && k >= 3) sb_puts(b, "");
            else if (k < 3) put_pct(b, jnum(o, ks[k]));
            else put_num(b, jnum(o, ks[k]), k == 3 ? "%g" : "%.1f");
            sb_puts(b, "</td>");
        }
        sb_puts(b, "</tr>\n");
    }
    sb_puts(b, "</tbody></table>\n");
}

/* Embeds thumbnail rel (relative to the run folder) as a data URI <img>, or a placeholder. */
static void render_thumb(rctx *c, sb *b, json_t *jt, const char *alt, size_t alt_n) {
    const char *rel = json_string_value(jt);
    const char *why = NULL;
    uint8_t *data = NULL;
    size_t n = 0;
    char path[MILNCE_PATH_MAX], *real_dir = NULL, *real_file = NULL;
    milnce_image_format fmt = MILNCE_IMAGE_AUTO;
    if (!rel || !*rel) why = "no thumbnail";
    else if (rel[0] == '/' || strstr(rel, "..") || strlen(rel) > 1024 || strlen(rel) != json_string_length(jt))
        why = "refused (outside the run folder)";
    else if (milnce_path(path, sizeof path, NULL, "%s/%s", c->dir, rel) < 0)
        why = "path too long";
    else {
        real_dir = realpath(c->dir, NULL);
        real_file = realpath(path, NULL);
        size_t dl = real_dir ? strlen(real_dir) : 0;
        if (!real_file) why = "missing";
        else if (!real_dir || strncmp(real_file, real_dir, dl) != 0 || real_file[dl] != '/')
            why = "refused (outside the run folder)";
        else {
            int r = slurp(real_file, THUMB_MAX_BYTES, &data, &n, NULL);
            if (r == 0) why = "missing";
            else if (r == -2) why = "refused (larger than 4 MiB)";
            else if (r < 0) why = "unreadable";
            else if ((fmt = milnce_image_format_sniff(data, n)) == MILNCE_IMAGE_AUTO) why = "not a JPEG or PNG";
        }
    }
    free(real_dir);
    free(real_file);
    if (why) {
        c->st.thumbnails_missing++;
        if (rel && *rel && c->st.thumbnails_missing <= NOTES_PER_KIND)
            note(c, "thumbnail %s: %s", rel, why);
        sb_puts(b, "<div class=\"noimg\">");
        sb_escs(b, why);
        sb_puts(b, "</div>");
    } else {
        c->st.thumbnails++;
        sb_printf(b, "<img alt=\"");
        sb_esc(b, alt, alt_n);
        sb_printf(b, "\" src=\"data:image/%s;base64,", fmt == MILNCE_IMAGE_PNG ? "png" : "jpeg");
        sb_b64(b, data, n);
        sb_puts(b, "\">");
    }
    free(data);
}

static void render_examples(rctx *c, sb *b, json_t *ex) {
    size_t total = json_array_size(ex), shown = 0;
    size_t maxe = c->o.max_examples < 0 ? 0 : (size_t)c->o.max_examples;
    sb_puts(b, "<div class=\"examples\">\n");
    for (size_t i = 0; i < total && shown < maxe; i++) {
        json_t *e = json_array_get(ex, i);
        if (!json_is_object(e)) {
            note(c, "eval.json: examples[%zu] is not an object; skipped", i);
            continue;
        }
        shown++;
        sb_printf(b, "<div class=\"ex\"><p class=\"q\"><span class=\"qn\">%zu</span> ", i + 1);
        put_jstr(b, json_object_get(e, "query"));
        sb_puts(b, "</p><p class=\"gt\">ground truth: <code>");
        put_jstr(b, json_object_get(e, "gt_video"));
        sb_puts(b, "</code></p><ol class=\"top\">");
        json_t *top = json_object_get(e, "top");
        size_t nt = json_array_size(top);
        int any = 0;
        for (size_t r = 0; r < nt && r < (size_t)c->o.max_top; r++) {
            json_t *t = json_array_get(top, r);
            if (!json_is_object(t)) continue;
            int hit = json_is_true(json_object_get(t, "correct"));
            any |= hit;
            json_t *vid = json_object_get(t, "video_id");
            sb_printf(b, "<li class=\"%s\">", hit ? "hit" : "miss");
            render_thumb(c, b, json_object_get(t, "thumbnail"), json_is_string(vid) ? json_string_value(vid) : "",
                         json_is_string(vid) ? json_string_length(vid) : 0);
            if (hit) sb_puts(b, "<span class=\"mark\" title=\"correct\">&#10003; match</span>");
            sb_printf(b, "<div class=\"cap\"><b>%zu.</b> <code>", r + 1);
            put_jstr(b, vid);
            sb_puts(b, "</code><br>");
            put_num(b, jnum(t, "start"), "%.1f");
            sb_puts(b, "&ndash;");
            put_num(b, jnum(t, "end"), "%.1f");
            sb_puts(b, " s &middot; score ");
            put_num(b, jnum(t, "score"), "%.3g");
            sb_puts(b, "</div></li>");
        }
        if (nt == 0) sb_puts(b, "<li class=\"miss\"><div class=\"noimg\">no retrieved clips</div></li>");
        sb_printf(b, "</ol>%s</div>\n", nt && !any ? "<p class=\"nomatch\">ground truth not in the shown results</p>" : "");
    }
    sb_puts(b, "</div>\n");
    if (c->st.thumbnails_missing > NOTES_PER_KIND)
        note(c, "%zu thumbnails in all are missing or refused", c->st.thumbnails_missing);
    if (total > shown && shown == maxe && maxe > 0) note(c, "eval.json: %zu of %zu example queries shown", shown, total);
    c->st.examples = shown;
}

/* ---------------------------------------------------------------- the page */

static const char *CSS =
    "*{box-sizing:border-box}"
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;margin:0;"
    "background:#f4f5f8;color:#1d2330;font-size:15px;line-height:1.45}"
    "header{background:#1d2330;color:#fff;padding:18px 32px}"
    "header h1{margin:0;font-size:22px;font-weight:600}header p{margin:4px 0 0;color:#b9c0cc;font-size:13px}"
    "main{max-width:1200px;margin:0 auto;padding:8px 24px 40px}"
    "section{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:14px 20px 18px;margin:18px 0}"
    "h2{font-size:17px;margin:2px 0 12px;font-weight:600}"
    ".notes{border-color:#f0c36d;background:#fffaf0}.notes li{color:#7a4f00;font-size:13px}"
    ".plots{display:flex;flex-wrap:wrap;gap:14px}"
    "svg.plot{background:#fff;border:1px solid #eceef2;border-radius:6px;max-width:100%;height:auto;"
    "font-family:inherit}"
    "svg .ttl{font-size:14px;font-weight:600;fill:#1d2330}svg .tk{font-size:11px;fill:#555d6b}"
    "svg .lbl{font-size:12px;fill:#333a46}svg .val{font-size:11px;fill:#1d2330}"
    "svg .grid{stroke:#e6e8ec;stroke-width:1}svg .axis{stroke:#69717e;stroke-width:1;fill:none}"
    ".cards{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:12px}"
    ".card{background:#f4f6fa;border-radius:6px;padding:8px 14px;min-width:120px}"
    ".card .k{font-size:12px;color:#5b6372}.card .v{font-size:19px;font-weight:600}.card .v.small{font-size:13px;"
    "font-weight:400;max-width:420px}"
    "table.metrics{border-collapse:collapse;margin:8px 12px 14px 0;align-self:flex-start}"
    "table.metrics th,table.metrics td{padding:5px 9px;border-bottom:1px solid #e3e6eb;text-align:right}"
    "table.metrics th:first-child,table.metrics td:first-child{text-align:left}"
    "table.metrics tr.chance td{color:#7b828e}"
    ".ex{border-top:1px solid #eceef2;padding:10px 0}.ex:first-child{border-top:0}"
    ".ex .q{font-size:16px;margin:0 0 2px;font-weight:500}"
    ".ex .qn{display:inline-block;background:#1d2330;color:#fff;border-radius:10px;font-size:12px;"
    "padding:0 8px;margin-right:6px;vertical-align:2px}"
    ".ex .gt{margin:0 0 8px;font-size:13px;color:#5b6372}.ex .nomatch{margin:4px 0 0;font-size:13px;color:#b03030}"
    "ol.top{display:flex;flex-wrap:wrap;gap:10px;list-style:none;padding:0;margin:0}"
    "ol.top li{width:176px;border:3px solid #e3e6eb;border-radius:7px;padding:3px;position:relative;background:#fff}"
    "ol.top li.hit{border-color:#1a9e46;background:#effaf2}"
    "ol.top img{display:block;width:164px;height:auto;border-radius:4px;background:#ddd}"
    ".noimg{width:164px;height:92px;display:flex;align-items:center;justify-content:center;background:#eceef2;"
    "color:#7b828e;font-size:12px;border-radius:4px;text-align:center}"
    ".mark{position:absolute;top:8px;left:8px;background:#1a9e46;color:#fff;border-radius:10px;padding:0 8px;"
    "font-size:12px;font-weight:700}"
    ".cap{font-size:12px;margin-top:4px;color:#333a46;overflow-wrap:anywhere}"
    "pre{background:#f0f2f5;padding:12px 14px;overflow:auto;max-height:520px;font-size:12px;border-radius:6px;"
    "margin:0}"
    "code{font-size:12px}"
    ".muted{color:#7b828e;font-size:13px}";

static void opts_fill(milnce_report_opts *o, const milnce_report_opts *in) {
    memset(o, 0, sizeof *o);
    if (in) *o = *in;
    if (o->max_points == 0) o->max_points = 2000;
    if (o->max_points < 4) o->max_points = 4;
    if (o->max_examples == 0) o->max_examples = 20;
    if (o->max_top <= 0) o->max_top = 5;
}

int milnce_report_build(const char *run_dir, const milnce_report_opts *o, char **html, size_t *len,
                        milnce_report_stats *stats, const milnce_logger *lg, milnce_error *err) {
    if (!html) return milnce_error_set(err, MILNCE_ERR_INVALID, "report: no output pointer");
    *html = NULL;
    if (len) *len = 0;
    struct stat stt;
    if (!run_dir || stat(run_dir, &stt) != 0 || !S_ISDIR(stt.st_mode))
        return milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: not a run folder", run_dir ? run_dir : "(null)");
    rctx c = {0};
    c.dir = run_dir;
    c.lg = lg;
    opts_fill(&c.o, o);
    sb page = {0}, body = {0};
    logdata L = {0};
    json_t *ev = NULL;
    uint8_t *cfg = NULL;
    size_t cfg_n = 0;
    int ret = 0, cfg_trunc = 0;
    char path[MILNCE_PATH_MAX];

    /* Inputs. */
    if ((ret = milnce_path(path, sizeof path, err, "%s/config.yaml", run_dir)) < 0) goto end;
    int rc = slurp(path, CONFIG_MAX_BYTES, &cfg, &cfg_n, &cfg_trunc);
    if (rc < 0) note(&c, "config.yaml: could not be read");
    c.st.has_config = rc > 0;
    if (cfg_trunc) note(&c, "config.yaml: longer than 1 MiB; the first 1 MiB is shown");
    rc = read_log(&c, &L);
    if (rc < 0) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "%s/log.jsonl: out of memory", run_dir);
        goto end;
    }
    c.st.has_log = rc > 0;
    if ((ret = milnce_path(path, sizeof path, err, "%s/eval.json", run_dir)) < 0) goto end;
    FILE *ef = fopen(path, "r");
    if (ef) {
        fclose(ef);
        json_error_t je;
        ev = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!ev) note(&c, "eval.json:%d: %s; evaluation omitted", je.line, je.text);
        else if (!json_is_object(ev)) {
            note(&c, "eval.json: not a JSON object; evaluation omitted");
            json_decref(ev);
            ev = NULL;
        }
        c.st.has_eval = 1;
    }
    if (!c.st.has_config && !c.st.has_log && !c.st.has_eval) {
        ret = milnce_error_set(err, MILNCE_ERR_NOTFOUND, "%s: no config.yaml, log.jsonl or eval.json: nothing to report",
                               run_dir);
        goto end;
    }

    /* Body sections (they add notes, which the page shows first). */
    sb_puts(&body, "<section id=\"training\"><h2>Training</h2>\n");
    if (!c.st.has_log) {
        note(&c, "no log.jsonl: training plots omitted");
        sb_puts(&body, "<p class=\"muted\">No training log in this run folder.</p>\n");
    } else if (L.n == 0) {
        note(&c, "log.jsonl holds no usable step: training plots omitted");
        sb_puts(&body, "<p class=\"muted\">The training log holds no usable step.</p>\n");
    } else {
        render_train_summary(&body, &L);
        if (render_training(&c, &body, &L) < 0) {
            ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "report: out of memory");
            goto end;
        }
    }
    sb_puts(&body, "</section>\n<section id=\"retrieval\"><h2>Retrieval</h2>\n");
    if (!ev) {
        if (!c.st.has_eval) note(&c, "no eval.json: retrieval results omitted");
        sb_puts(&body, "<p class=\"muted\">No evaluation in this run folder.</p>\n");
    } else {
        render_eval_table(&body, ev);
        svg_recall_bars(&body, ev);
        sb_puts(&body, "</div>\n");
        sb_puts(&body, "</section>\n<section id=\"examples\"><h2>Example retrievals (text &rarr; video, top ");
        sb_printf(&body, "%d)</h2>\n", c.o.max_top);
        json_t *ex = json_object_get(ev, "examples");
        if (json_is_array(ex) && json_array_size(ex) > 0 && c.o.max_examples > 0) render_examples(&c, &body, ex);
        else sb_puts(&body, "<p class=\"muted\">No example queries in eval.json.</p>\n");
    }
    sb_puts(&body, "</section>\n<section id=\"config\"><h2>Configuration</h2>\n");
    if (cfg) {
        sb_puts(&body, "<pre>");
        sb_esc(&body, (const char *)cfg, cfg_n);
        sb_puts(&body, "</pre>\n");
    } else {
        if (!c.st.has_config) note(&c, "no config.yaml: configuration omitted");
        sb_puts(&body, "<p class=\"muted\">No config.yaml in this run folder.</p>\n");
    }
    sb_puts(&body, "</section>\n");

    /* The page. */
    const char *base = strrchr(run_dir, '/');
    base = base && base[1] ? base + 1 : run_dir;
    sb_puts(&page, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                   "<meta name=\"generator\" content=\"milnce " MILNCE_VERSION "\">\n<title>");
    if (c.o.title) sb_escs(&page, c.o.title);
    else {
        sb_puts(&page, "milnce run ");
        sb_escs(&page, base);
    }
    sb_printf(&page, "</title>\n<style>%s</style>\n</head>\n<body>\n<header><h1>", CSS);
    if (c.o.title) sb_escs(&page, c.o.title);
    else {
        sb_puts(&page, "milnce run <code>");
        sb_escs(&page, base);
        sb_puts(&page, "</code>");
    }
    sb_puts(&page, "</h1><p>");
    sb_escs(&page, run_dir);
    sb_puts(&page, " &middot; MIL-NCE video&ndash;text embedding &middot; report by milnce " MILNCE_VERSION
                   "</p></header>\n<main>\n");
    if (c.notes.n) {
        sb_puts(&page, "<section class=\"notes\" id=\"notes\"><h2>Notes</h2><ul>\n");
        sb_put(&page, c.notes.p, c.notes.n);
        sb_puts(&page, "</ul></section>\n");
    }
    sb_put(&page, body.p ? body.p : "", body.n);
    sb_puts(&page, "</main>\n</body>\n</html>\n");
    if (page.oom || body.oom || c.notes.oom) {
        ret = milnce_error_set(err, MILNCE_ERR_NOMEM, "report: out of memory");
        goto end;
    }
    *html = page.p;
    if (len) *len = page.n;
    page.p = NULL;
end:
    if (stats) *stats = c.st;
    free(page.p);
    free(body.p);
    free(c.notes.p);
    free(L.rows);
    free(cfg);
    json_decref(ev);
    return ret;
}

int milnce_report_write(const char *run_dir, const char *out_path, const milnce_report_opts *o,
                        milnce_report_stats *stats, const milnce_logger *lg, milnce_error *err) {
    char def[MILNCE_PATH_MAX];
    if (!out_path) {
        if (!run_dir) return milnce_error_set(err, MILNCE_ERR_INVALID, "report: no run folder");
        int ret = milnce_path(def, sizeof def, err, "%s/report.html", run_dir);
        if (ret < 0) return ret;
        out_path = def;
    }
    char *html = NULL;
    size_t n = 0;
    int ret = milnce_report_build(run_dir, o, &html, &n, stats, lg, err);
    if (ret < 0) return ret;
    ret = milnce_write_file_atomic(out_path, html, n, err);
    free(html);
    return ret;
}
