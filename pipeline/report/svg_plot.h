/* Line plots as inline SVG for the HTML report, appended to a milnce_buf. */
#ifndef MILNCE_SVG_PLOT_H
#define MILNCE_SVG_PLOT_H

#include <stddef.h>

#include "buf.h"

/* One curve: n points (x[i], y[i]) in data units, drawn as a polyline of `width` px (and dots
 * when dots, or when it has one point), named `label` in the legend. */
typedef struct milnce_svg_series {
    double *x, *y;
    size_t n;
    const char *color, *label;
    double width;
    int dots;
} milnce_svg_series;

/* Reduces (x, y) of n points to at most max points, in place (min and max of each of max/2
 * buckets, so spikes survive). Returns the new count. */
size_t milnce_svg_downsample(double *x, double *y, size_t n, size_t max);

/* A 530 x 300 plot of ns series with a title and axis labels; yzero: the y axis includes 0. */
void milnce_svg_line_plot(milnce_buf *b, const char *title, const char *xlabel, const char *ylabel,
                          const milnce_svg_series *s, int ns, int yzero);

/* Grouped bars of recall: v[d][k] in percent for d = text -> video, video -> text, chance and
 * K = 1, 5, 10 (NaN shown as n/a). */
void milnce_svg_recall_bars(milnce_buf *b, const double v[3][3]);

/* A recall percentage: one decimal, or two significant digits below 1 (chance is often 0.03). */
void milnce_svg_put_pct(milnce_buf *b, double v);

#endif
