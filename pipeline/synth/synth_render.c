#include "synth_render.h"

#include <math.h>
#include <stddef.h>

static const uint8_t palette[MILNCE_SYNTH_NCOLORS][3] = {
    {220, 40, 40},   /* red */
    {40, 190, 60},   /* green */
    {50, 90, 230},   /* blue */
    {240, 220, 40},  /* yellow */
    {150, 60, 200},  /* purple */
    {250, 140, 20},  /* orange */
};

void milnce_synth_color_rgb(int color, uint8_t rgb[3]) {
    for (int c = 0; c < 3; c++) rgb[c] = palette[color][c];
}

int milnce_synth_inside(int shape, float u, float v) {
    switch (shape) {
    case MILNCE_SYNTH_CIRCLE: return u * u + v * v <= 1.0f;
    case MILNCE_SYNTH_SQUARE: return fabsf(u) <= 0.72f && fabsf(v) <= 0.72f;
    case MILNCE_SYNTH_TRIANGLE: {
        /* equilateral, circumradius 1, apex up (v < 0): distance to each edge <= inradius 0.5 */
        const float c = 0.8660254f; /* cos 30 */
        return v <= 0.5f && (c * u - 0.5f * v) <= 0.5f && (-c * u - 0.5f * v) <= 0.5f;
    }
    case MILNCE_SYNTH_STAR: {
        float r = sqrtf(u * u + v * v);
        if (r > 1.0f) return 0;
        if (r < 0.42f) return 1;
        /* five points, one up; radius falls linearly from 1 at a point to 0.42 between points */
        float a = atan2f(u, -v); /* 0 at the top, clockwise */
        float sector = 2.0f * (float)M_PI / 5.0f;
        float k = fmodf(a + 2.0f * (float)M_PI + 0.5f * sector, sector) / sector; /* 0..1, 0.5 = point */
        float tri = 1.0f - 2.0f * fabsf(k - 0.5f);
        return r <= 0.42f + 0.58f * tri;
    }
    case MILNCE_SYNTH_DIAMOND: return fabsf(u) * 1.25f + fabsf(v) <= 1.0f;
    }
    return 0;
}

static inline uint8_t clamp8(float x) { return x <= 0 ? 0 : x >= 255 ? 255 : (uint8_t)(x + 0.5f); }

/* Object o at pixel scale: filled colour, dark rim, and a light dot that shows its rotation. */
static void draw_object(uint8_t *rgb, int stride, int W, int H, const milnce_synth_object *o) {
    float m = (float)(W < H ? W : H);
    float R = o->size * m, cx = o->x * (float)W, cy = o->y * (float)H;
    if (R < 1.0f) R = 1.0f;
    int x0 = (int)floorf(cx - R - 1), x1 = (int)ceilf(cx + R + 1);
    int y0 = (int)floorf(cy - R - 1), y1 = (int)ceilf(cy + R + 1);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > W - 1) x1 = W - 1;
    if (y1 > H - 1) y1 = H - 1;
    float ca = cosf(o->angle), sa = sinf(o->angle), inv = 1.0f / R;
    const uint8_t *col = palette[o->color];
    uint8_t rim[3] = {(uint8_t)(col[0] * 0.45f), (uint8_t)(col[1] * 0.45f), (uint8_t)(col[2] * 0.45f)};
    float rim_scale = 1.0f + 1.6f / R; /* about 1.5 px of rim whatever the size */
    for (int y = y0; y <= y1; y++) {
        uint8_t *row = rgb + (size_t)y * (size_t)stride;
        for (int x = x0; x <= x1; x++) {
            float dx = ((float)x + 0.5f - cx) * inv, dy = ((float)y + 0.5f - cy) * inv;
            /* into the object's frame (rotate by -angle) */
            float u = ca * dx + sa * dy, v = -sa * dx + ca * dy;
            if (!milnce_synth_inside(o->shape, u, v)) continue;
            uint8_t *p = row + 3 * x;
            const uint8_t *c = col;
            if (!milnce_synth_inside(o->shape, u * rim_scale, v * rim_scale)) c = rim;
            else if ((u - 0.38f) * (u - 0.38f) + v * v < 0.04f) {
                p[0] = p[1] = p[2] = 245;
                continue;
            }
            p[0] = c[0];
            p[1] = c[1];
            p[2] = c[2];
        }
    }
}

void milnce_synth_render(uint8_t *rgb, int stride, const milnce_synth_video *v, int frame,
                         float *scratch) {
    int W = v->width, H = v->height;
    double t = (double)frame / v->fps;
    /* background = mix(bg0, bg1, 0.5 + 0.35 sin(a.x + b.y + s t) + 0.15 sin(f x + g t) sin(f y - g t)),
     * each term separable in x and y: sin(p + q) = sin p cos q + cos p sin q */
    float *sx = scratch, *cxs = sx + W, *bx = cxs + W, *unused = bx + W;
    float *sy = unused + W, *cy = sy + H, *by = cy + H;
    (void)unused;
    float ax = v->bg_freq * cosf(v->bg_angle), ay = v->bg_freq * sinf(v->bg_angle);
    float ph = (float)fmod(v->bg_speed * t, 2 * M_PI), bph = (float)fmod(v->blot_speed * t, 2 * M_PI);
    for (int x = 0; x < W; x++) {
        sx[x] = sinf(ax * (float)x);
        cxs[x] = cosf(ax * (float)x);
        bx[x] = sinf(v->blot_freq * (float)x + bph);
    }
    for (int y = 0; y < H; y++) {
        sy[y] = sinf(ay * (float)y + ph);
        cy[y] = cosf(ay * (float)y + ph);
        by[y] = sinf(v->blot_freq * (float)y - 0.7f * bph);
    }
    float d[3];
    for (int c = 0; c < 3; c++) d[c] = (float)v->bg1[c] - (float)v->bg0[c];
    for (int y = 0; y < H; y++) {
        uint8_t *row = rgb + (size_t)y * (size_t)stride;
        for (int x = 0; x < W; x++) {
            float mix = 0.5f + 0.35f * (sx[x] * cy[y] + cxs[x] * sy[y]) + 0.15f * bx[x] * by[y];
            for (int c = 0; c < 3; c++) row[3 * x + c] = clamp8((float)v->bg0[c] + d[c] * mix);
        }
    }
    if (v->nseg == 0) return;
    const milnce_synth_segment *s = &v->seg[milnce_synth_segment_at(v, t)];
    for (int k = 0; k < s->ndistractors; k++) {
        milnce_synth_object o = s->distractor[k];
        o.y += 0.02f * sinf((float)(2 * M_PI * t / 3.0) + o.phase); /* bob, never travel */
        draw_object(rgb, stride, W, H, &o);
    }
    milnce_synth_object actor;
    milnce_synth_actor_at(s, t, &actor);
    draw_object(rgb, stride, W, H, &actor);
}
