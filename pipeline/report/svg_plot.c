/* Line plots as inline SVG: "nice" axes (1, 2, 5 x 10^k ticks), series as polylines, a legend. */
#include "svg_plot.h"

#include <math.h>
#include <stdio.h>

#include "html_text.h"

/* Reduces (x, y) of n points to at most max points: the min and the max of each of max/2
 * consecutive buckets, in x order, so spikes survive. Returns the new count (in place). */
size_t milnce_svg_downsample(double *x, double *y, size_t n, size_t max) {
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

void milnce_svg_line_plot(milnce_buf *b, const char *title, const char *xlabel, const char *ylabel, const milnce_svg_series *s,
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
    milnce_buf_printf(b, "<svg class=\"plot\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\">", PW, PH, PW, PH);
    milnce_buf_puts(b, "<title>");
    milnce_html_puts_escaped(b, title);
    milnce_buf_puts(b, "</title>");
    milnce_buf_printf(b, "<text class=\"ttl\" x=\"%d\" y=\"20\">", ML);
    milnce_html_puts_escaped(b, title);
    milnce_buf_puts(b, "</text>");
    char lab[64];
    for (int i = 0;; i++) { /* y grid and ticks */
        double v = ay.lo + i * ay.step;
        if (v > ay.hi + ay.step * 1e-6) break;
        double y = SY(v);
        tick_label(lab, sizeof lab, &ay, v);
        milnce_buf_printf(b, "<line class=\"grid\" x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", ML, ML + w, y, y);
        milnce_buf_printf(b, "<text class=\"tk\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>", ML - 6, y + 4, lab);
    }
    for (int i = 0;; i++) { /* x grid and ticks */
        double v = ax.lo + i * ax.step;
        if (v > ax.hi + ax.step * 1e-6) break;
        double x = SX(v);
        tick_label(lab, sizeof lab, &ax, v);
        milnce_buf_printf(b, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%.1f\"/>", x, x, MT, MT + h);
        milnce_buf_printf(b, "<text class=\"tk\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", x, MT + h + 16, lab);
    }
    milnce_buf_printf(b, "<path class=\"axis\" d=\"M%d %d V%.1f H%.1f\"/>", ML, MT, MT + h, ML + w);
    milnce_buf_printf(b, "<text class=\"lbl\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", ML + w / 2, PH - 8);
    milnce_html_puts_escaped(b, xlabel);
    milnce_buf_printf(b, "</text><text class=\"lbl\" transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">",
              MT + h / 2);
    milnce_html_puts_escaped(b, ylabel);
    milnce_buf_puts(b, "</text>");
    for (int k = 0; k < ns; k++) {
        if (s[k].n > 1) {
            milnce_buf_printf(b, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" "
                         "stroke-linejoin=\"round\" points=\"", s[k].color, s[k].width);
            for (size_t i = 0; i < s[k].n; i++)
                milnce_buf_printf(b, "%s%.1f,%.1f", i ? " " : "", SX(s[k].x[i]), SY(s[k].y[i]));
            milnce_buf_puts(b, "\"/>");
        }
        if (s[k].dots || s[k].n == 1)
            for (size_t i = 0; i < s[k].n; i++)
                milnce_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", SX(s[k].x[i]), SY(s[k].y[i]),
                          s[k].color);
    }
    if (ns > 1)
        for (int k = 0; k < ns; k++) { /* legend, top right */
            double y = MT + 12 + 16 * k, x = ML + w - 190;
            milnce_buf_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>", x,
                      x + 18, y - 4, y - 4, s[k].color);
            milnce_buf_printf(b, "<text class=\"tk\" x=\"%.1f\" y=\"%.1f\">", x + 24, y);
            milnce_html_puts_escaped(b, s[k].label);
            milnce_buf_puts(b, "</text>");
        }
    milnce_buf_puts(b, "</svg>\n");
#undef SX
#undef SY
}

/* A recall percentage: one decimal, or two significant digits below 1 (chance is often 0.03). */
void milnce_svg_put_pct(milnce_buf *b, double v) {
    if (!isfinite(v)) milnce_buf_puts(b, "n/a");
    else if (fabs(v) < 1 && v != 0) milnce_buf_printf(b, "%.2g", v);
    else milnce_buf_printf(b, "%.1f", v);
}

/* v[d][k]: recall (%) of direction d (text -> video, video -> text, chance) at K = 1, 5, 10. */
void milnce_svg_recall_bars(milnce_buf *b, const double v[3][3]) {
    static const char *kl[3] = {"R@1", "R@5", "R@10"};
    static const char *names[3] = {"text \xe2\x86\x92 video", "video \xe2\x86\x92 text", "chance"};
    static const char *colors[3] = {"#2563c9", "#d9730d", "#a3a9b3"};
    double mx = 0;
    for (int d = 0; d < 3; d++)
        for (int k = 0; k < 3; k++)
            if (isfinite(v[d][k]) && v[d][k] > mx) mx = v[d][k];
    axis ay;
    make_axis(&ay, 0, fmin(100, fmax(1, mx * 1.12)), 0, 6);
    const double w = PW - ML - MR, h = PH - MT - MB;
#define SY(val) (MT + h - ((val) - ay.lo) / (ay.hi - ay.lo) * h)
    milnce_buf_printf(b, "<svg class=\"plot\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\">", PW, PH, PW, PH);
    milnce_buf_printf(b, "<title>Recall at K</title><text class=\"ttl\" x=\"%d\" y=\"20\">Recall@K (%%)</text>", ML);
    char lab[64];
    for (int i = 0;; i++) {
        double val = ay.lo + i * ay.step;
        if (val > ay.hi + ay.step * 1e-6) break;
        tick_label(lab, sizeof lab, &ay, val);
        milnce_buf_printf(b, "<line class=\"grid\" x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", ML, ML + w, SY(val), SY(val));
        milnce_buf_printf(b, "<text class=\"tk\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>", ML - 6, SY(val) + 4, lab);
    }
    const double gw = w / 3, bw = gw * 0.8 / 3;
    for (int k = 0; k < 3; k++) {
        double gx = ML + gw * k + gw * 0.1;
        for (int d = 0; d < 3; d++) {
            double x = gx + bw * d;
            if (!isfinite(v[d][k])) {
                milnce_buf_printf(b, "<text class=\"tk\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">n/a</text>", x + bw / 2, MT + h - 4);
                continue;
            }
            double val = fmin(fmax(v[d][k], 0), ay.hi);
            milnce_buf_printf(b, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>", x + 1,
                      SY(val), bw - 2, MT + h - SY(val), colors[d]);
            milnce_buf_printf(b, "<text class=\"val\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x + bw / 2, SY(val) - 4);
            milnce_svg_put_pct(b, v[d][k]);
            milnce_buf_puts(b, "</text>");
        }
        milnce_buf_printf(b, "<text class=\"lbl\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", ML + gw * k + gw / 2,
                  MT + h + 18, kl[k]);
    }
    milnce_buf_printf(b, "<path class=\"axis\" d=\"M%d %d V%.1f H%.1f\"/>", ML, MT, MT + h, ML + w);
    milnce_buf_printf(b, "<text class=\"lbl\" transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">"
                 "queries with the match in the top K (%%)</text>", MT + h / 2);
    for (int d = 0; d < 3; d++) {
        double x = ML + 12 + 150 * d;
        milnce_buf_printf(b, "<rect x=\"%.1f\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>", x, PH - 20, colors[d]);
        milnce_buf_printf(b, "<text class=\"tk\" x=\"%.1f\" y=\"%d\">%s</text>", x + 17, PH - 10, names[d]);
    }
    milnce_buf_puts(b, "</svg>\n");
#undef SY
}
