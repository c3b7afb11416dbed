#include "synth_script.h"

#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64 (milnce_splitmix64, the same function that seeds the training RNG): tiny, well
 * mixed, and the same everywhere. The corpus uses it directly, not xoshiro, so the corpus does
 * not change when the training RNG does. */
typedef struct rng64 {
    uint64_t s;
} rng64;

static uint64_t next64(rng64 *r) { return milnce_splitmix64(&r->s); }

static double uniform(rng64 *r) { return (double)(next64(r) >> 11) * (1.0 / 9007199254740992.0); }
static double urange(rng64 *r, double a, double b) { return a + (b - a) * uniform(r); }

/* A bell-shaped draw in [-lim, lim] with standard deviation about lim / 3: the Irwin-Hall sum of
 * four uniforms (a close approximation of a normal; plain arithmetic, so every machine draws the
 * same values), scaled, and redrawn in the rare case it falls outside the limit. */
static double bell(rng64 *r, double lim) {
    for (;;) {
        double z = (uniform(r) + uniform(r) + uniform(r) + uniform(r) - 2.0) * sqrt(3.0); /* sd 1 */
        if (fabs(z) <= 3.0) return z * lim / 3.0;
    }
}
static int irange(rng64 *r, int a, int b) { return a + (int)(next64(r) % (uint64_t)(b - a + 1)); }

static double round10ms(double t) { return floor(t * 100.0 + 0.5) / 100.0; }

static const char *const color_names[MILNCE_SYNTH_NCOLORS] = {"red", "green", "blue",
                                                              "yellow", "purple", "orange"};
static const char *const shape_names[MILNCE_SYNTH_NSHAPES] = {"circle", "square", "triangle", "star",
                                                              "diamond"};
/* The clean captions of the evaluation split. Their words are ones the narration templates use
 * too: zero-shot retrieval can only match words the text encoder saw in training (a caption word
 * outside the training vocabulary is dropped, as in the reference). */
static const char *const action_names[MILNCE_SYNTH_NACTIONS] = {
    "slides left", "slides right", "goes up", "goes down", "gets bigger", "gets smaller", "spins around"};

static const char *const shape_words[MILNCE_SYNTH_NSHAPES][5] = {
    {"circle", "ball", "round thing", "disc", NULL},
    {"square", "box", "block", NULL},
    {"triangle", "wedge", "triangle shape", NULL},
    {"star", "little star", "star shape", NULL},
    {"diamond", "rhombus", "diamond shape", NULL},
};

static const char *const action_cues[MILNCE_SYNTH_NACTIONS][6] = {
    {"left", NULL},
    {"right", NULL},
    {"up", "upwards", "rises", "lift", NULL},
    {"down", "downwards", "sinks", "drops", NULL},
    {"bigger", "grow", "growing", "enlarge", NULL},
    {"smaller", "shrink", "shrinking", "tiny", NULL},
    {"spins", "spinning", "rotate", "turn", NULL},
};

/* Every template takes the colour, then the shape word. */
#define NTPL 4
static const char *const templates[MILNCE_SYNTH_NACTIONS][NTPL] = {
    {"the %s %s slides left", "now move the %s %s to the left", "push the %s %s over to the left",
     "the %s %s is moving to the left"},
    {"the %s %s slides right", "now move the %s %s to the right", "push the %s %s over to the right",
     "the %s %s is moving to the right"},
    {"the %s %s rises up", "now lift the %s %s up", "move the %s %s upwards", "the %s %s goes up"},
    {"the %s %s drops down", "now bring the %s %s down", "move the %s %s downwards", "the %s %s sinks"},
    {"the %s %s gets bigger", "make the %s %s grow", "now the %s %s is growing", "we enlarge the %s %s"},
    {"the %s %s gets smaller", "make the %s %s shrink", "now the %s %s is shrinking",
     "we make the %s %s tiny"},
    {"the %s %s spins around", "now rotate the %s %s", "turn the %s %s around", "the %s %s is spinning"},
};

static const char *const fillers[] = {
    "okay so", "don't forget to subscribe", "alright let's get started", "um so yeah",
    "thanks for watching", "hi everyone welcome back", "let me know in the comments",
    "so that's it for this one", "hit the like button", "right", "you know what i mean",
    "and there we go", NULL};

static const char *const lead_ins[] = {"", "", "", "and ", "so ", "okay "};

const char *milnce_synth_color_name(int c) { return c >= 0 && c < MILNCE_SYNTH_NCOLORS ? color_names[c] : "?"; }
const char *milnce_synth_shape_name(int s) { return s >= 0 && s < MILNCE_SYNTH_NSHAPES ? shape_names[s] : "?"; }
const char *milnce_synth_action_name(int a) { return a >= 0 && a < MILNCE_SYNTH_NACTIONS ? action_names[a] : "?"; }
const char *const *milnce_synth_shape_words(int s) { return shape_words[s]; }
const char *const *milnce_synth_action_cues(int a) { return action_cues[a]; }
const char *const *milnce_synth_fillers(void) { return fillers; }

void milnce_synth_params_init(milnce_synth_params *p) {
    memset(p, 0, sizeof *p);
    p->seed = 1;
    p->min_seconds = 30;
    p->max_seconds = 90;
    p->max_shift = 1.5;
    p->drop_prob = 0.15;
    p->filler_per_segment = 0.4;
}

void milnce_synth_caption(char *buf, size_t cap, const milnce_synth_segment *s) {
    snprintf(buf, cap, "the %s %s %s", milnce_synth_color_name(s->obj.color),
             milnce_synth_shape_name(s->obj.shape), milnce_synth_action_name(s->action));
}

static double smooth(double f) {
    if (f < 0) f = 0;
    if (f > 1) f = 1;
    return f * f * (3 - 2 * f);
}

void milnce_synth_actor_at(const milnce_synth_segment *s, double t, milnce_synth_object *o) {
    *o = s->obj;
    double f = smooth((t - s->start) / (s->end - s->start));
    switch (s->action) {
    case MILNCE_SYNTH_LEFT: o->x = (float)(s->obj.x - s->amount * f); break;
    case MILNCE_SYNTH_RIGHT: o->x = (float)(s->obj.x + s->amount * f); break;
    case MILNCE_SYNTH_UP: o->y = (float)(s->obj.y - s->amount * f); break;
    case MILNCE_SYNTH_DOWN: o->y = (float)(s->obj.y + s->amount * f); break;
    case MILNCE_SYNTH_GROW:
    case MILNCE_SYNTH_SHRINK: o->size = (float)(s->obj.size * (1 + s->amount * f)); break;
    case MILNCE_SYNTH_SPIN: o->angle = (float)(s->obj.angle + s->amount * f); break;
    }
}

int milnce_synth_segment_at(const milnce_synth_video *v, double t) {
    int lo = 0, hi = v->nseg - 1;
    while (lo < hi) { /* first segment whose end is after t */
        int mid = (lo + hi) / 2;
        if (v->seg[mid].end > t) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

static void make_segment(rng64 *r, milnce_synth_segment *s) {
    s->action = irange(r, 0, MILNCE_SYNTH_NACTIONS - 1);
    milnce_synth_object *o = &s->obj;
    o->shape = irange(r, 0, MILNCE_SYNTH_NSHAPES - 1);
    o->color = irange(r, 0, MILNCE_SYNTH_NCOLORS - 1);
    o->size = (float)urange(r, 0.11, 0.16);
    o->angle = (float)urange(r, -0.4, 0.4);
    o->phase = 0;
    o->x = (float)urange(r, 0.3, 0.7);
    o->y = (float)urange(r, 0.3, 0.7);
    switch (s->action) { /* start where the motion stays inside the frame */
    case MILNCE_SYNTH_LEFT:
    case MILNCE_SYNTH_RIGHT:
        s->amount = (float)urange(r, 0.35, 0.5);
        o->x = (float)urange(r, 0.15 + s->amount, 0.85);
        if (s->action == MILNCE_SYNTH_RIGHT) o->x = 1.0f - o->x;
        break;
    case MILNCE_SYNTH_UP:
    case MILNCE_SYNTH_DOWN:
        s->amount = (float)urange(r, 0.35, 0.5);
        o->y = (float)urange(r, 0.18 + s->amount, 0.82);
        if (s->action == MILNCE_SYNTH_DOWN) o->y = 1.0f - o->y;
        break;
    case MILNCE_SYNTH_GROW:
        o->size = (float)urange(r, 0.08, 0.11);
        s->amount = (float)urange(r, 0.9, 1.3);
        break;
    case MILNCE_SYNTH_SHRINK:
        o->size = (float)urange(r, 0.2, 0.26);
        s->amount = -(float)urange(r, 0.55, 0.65);
        break;
    case MILNCE_SYNTH_SPIN:
        s->amount = (float)(urange(r, 1.0, 2.0) * 2 * M_PI * (uniform(r) < 0.5 ? -1 : 1));
        break;
    }
    s->ndistractors = irange(r, 1, 2);
    for (int k = 0; k < s->ndistractors; k++) {
        milnce_synth_object *d = &s->distractor[k];
        /* another shape and another colour, so the narration names only the actor */
        d->shape = (o->shape + irange(r, 1, MILNCE_SYNTH_NSHAPES - 1)) % MILNCE_SYNTH_NSHAPES;
        d->color = (o->color + irange(r, 1, MILNCE_SYNTH_NCOLORS - 1)) % MILNCE_SYNTH_NCOLORS;
        d->size = (float)urange(r, 0.06, 0.09);
        d->angle = (float)urange(r, -0.5, 0.5);
        d->phase = (float)urange(r, 0, 2 * M_PI);
        /* keep to a corner band away from the frame's middle, where the actor mostly is */
        d->x = (float)(uniform(r) < 0.5 ? urange(r, 0.08, 0.25) : urange(r, 0.75, 0.92));
        d->y = (float)(uniform(r) < 0.5 ? urange(r, 0.1, 0.25) : urange(r, 0.75, 0.9));
    }
}

static int cmp_lines(const void *a, const void *b) {
    const milnce_synth_line *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    if (x->true_start != y->true_start) return x->true_start < y->true_start ? -1 : 1;
    return strcmp(x->text, y->text);
}

void milnce_synth_video_free(milnce_synth_video *v) {
    free(v->seg);
    free(v->lines);
    memset(v, 0, sizeof *v);
}

int milnce_synth_video_make(milnce_synth_video *v, const milnce_synth_params *p, int split, int index,
                            milnce_error *err) {
    memset(v, 0, sizeof *v);
    if (!(p->min_seconds >= 3) || !(p->max_seconds >= p->min_seconds) || p->max_seconds > 36000)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "synth: video length %g..%g s (need 3 <= min <= max "
                                "<= 36000)", p->min_seconds, p->max_seconds);
    if ((p->width || p->height) && (p->width < 16 || p->height < 16 || (p->width & 1) || (p->height & 1) ||
                                    p->width > 4096 || p->height > 4096))
        return milnce_error_set(err, MILNCE_ERR_RANGE, "synth: size %dx%d (even, 16..4096)", p->width, p->height);
    if (p->fps < 0 || p->fps > 120)
        return milnce_error_set(err, MILNCE_ERR_RANGE, "synth: fps %d (1..120)", p->fps);
    if (index < 0) return milnce_error_set(err, MILNCE_ERR_RANGE, "synth: video index %d", index);

    rng64 r = {p->seed ^ (0x5851f42d4c957f2dULL * (uint64_t)(2 * (uint64_t)index + (uint64_t)split + 1))};
    next64(&r);
    v->split = split;
    v->index = index;
    static const int sizes[2][2] = {{160, 120}, {128, 96}};
    static const int rates[3] = {10, 12, 15};
    int si = irange(&r, 0, 1), fi = irange(&r, 0, 2);
    v->width = p->width ? p->width : sizes[si][0];
    v->height = p->height ? p->height : sizes[si][1];
    v->fps = p->fps ? p->fps : rates[fi];

    /* background: muted colours, distinct from the saturated object palette */
    for (int c = 0; c < 3; c++) {
        v->bg0[c] = (uint8_t)irange(&r, 40, 110);
        v->bg1[c] = (uint8_t)(v->bg0[c] + irange(&r, 25, 60));
    }
    v->bg_angle = (float)urange(&r, 0, M_PI);
    v->bg_freq = (float)urange(&r, 0.15, 0.35);  /* radians per pixel */
    v->bg_speed = (float)urange(&r, -3.0, 3.0);  /* radians per second */
    v->blot_freq = (float)urange(&r, 0.03, 0.06);
    v->blot_speed = (float)urange(&r, 0.3, 0.8);

    /* segments of 3..6 whole seconds until the drawn length is reached, never past max */
    double target = urange(&r, p->min_seconds, p->max_seconds), t = 0;
    int cap = (int)(p->max_seconds / 3) + 2;
    if (!(v->seg = calloc((size_t)cap, sizeof *v->seg))) goto nomem;
    while (t < target && v->nseg < cap) {
        int d = irange(&r, 3, 6);
        if (t + d > p->max_seconds) d = (int)floor(p->max_seconds - t);
        if (d < 3) break;
        milnce_synth_segment *s = &v->seg[v->nseg++];
        s->start = t;
        s->end = t + d;
        make_segment(&r, s);
        t += d;
    }
    if (v->nseg == 0) { /* max < 3 s after flooring: one short segment */
        milnce_synth_segment *s = &v->seg[v->nseg++];
        s->start = 0;
        s->end = floor(p->max_seconds);
        make_segment(&r, s);
        t = s->end;
    }
    v->duration = t;
    v->nframes = (int)floor(t * v->fps + 0.5);

    /* narration: one sentence per segment (some dropped) + fillers, shifted like ASR */
    int nfill_cap = (int)(v->nseg * (p->filler_per_segment * 3 + 1)) + 2;
    if (!(v->lines = calloc((size_t)(v->nseg + nfill_cap), sizeof *v->lines))) goto nomem;
    double mean_seg = v->duration / v->nseg;
    for (int i = 0; i < v->nseg; i++) {
        const milnce_synth_segment *s = &v->seg[i];
        double shift = bell(&r, p->max_shift) * mean_seg;
        double speak = urange(&r, 1.5, 3.5);
        double t0 = s->start + urange(&r, 0, 0.3) * (s->end - s->start);
        int tpl = irange(&r, 0, NTPL - 1);
        int word = 0;
        while (shape_words[s->obj.shape][word + 1] && uniform(&r) < 0.5) word++;
        const char *lead = lead_ins[irange(&r, 0, (int)(sizeof lead_ins / sizeof *lead_ins) - 1)];
        int drop = uniform(&r) < p->drop_prob;
        if (split == MILNCE_SYNTH_EVAL) { /* clean narration: aligned, all kept */
            shift = 0;
            drop = 0;
        }
        if (drop) continue;
        milnce_synth_line *l = &v->lines[v->nlines++];
        l->segment = i;
        l->true_start = round10ms(t0);
        l->true_end = round10ms(fmin(s->end, t0 + speak));
        double st = fmin(fmax(t0 + shift, 0), fmax(v->duration - 1, 0));
        l->start = round10ms(st);
        l->end = round10ms(fmin(st + (l->true_end - l->true_start), v->duration));
        if (l->end <= l->start) l->end = round10ms(fmin(l->start + 0.5, v->duration));
        char body[MILNCE_SYNTH_TEXT_MAX];
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#endif
        snprintf(body, sizeof body, templates[s->action][tpl], color_names[s->obj.color],
                 shape_words[s->obj.shape][word]);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
        snprintf(l->text, sizeof l->text, "%s%s", lead, body);
    }
    if (v->nlines == 0 && v->nseg > 0) { /* every sentence dropped: keep the first, unshifted */
        milnce_synth_line *l = &v->lines[v->nlines++];
        l->segment = 0;
        l->start = l->true_start = v->seg[0].start;
        l->end = l->true_end = round10ms(fmin(v->seg[0].end, v->seg[0].start + 2));
        milnce_synth_caption(l->text, sizeof l->text, &v->seg[0]);
    }
    if (split == MILNCE_SYNTH_TRAIN) {
        int nfill = (int)floor(urange(&r, 0.5, 1.5) * p->filler_per_segment * v->nseg + 0.5);
        int nf = 0;
        while (fillers[nf]) nf++;
        for (int k = 0; k < nfill && k < nfill_cap; k++) {
            milnce_synth_line *l = &v->lines[v->nlines++];
            l->segment = -1;
            double st = urange(&r, 0, fmax(v->duration - 1.5, 0));
            l->start = l->true_start = round10ms(st);
            l->end = l->true_end = round10ms(fmin(st + urange(&r, 0.8, 2.0), v->duration));
            snprintf(l->text, sizeof l->text, "%s", fillers[irange(&r, 0, nf - 1)]);
        }
    }
    qsort(v->lines, (size_t)v->nlines, sizeof *v->lines, cmp_lines);
    return 0;
nomem:
    milnce_synth_video_free(v);
    return milnce_error_set(err, MILNCE_ERR_NOMEM, "synth: out of memory");
}
