/* The script of a synthetic narrated video, with a known answer.
 *
 * A video is a run of 3-6 s segments; in each, one object (shape x colour) does one action over a
 * moving textured background while 1-2 distractor objects (other shape, other colour) bob in
 * place. The narration says what happens in each segment with varied wording ("the red circle
 * slides left", "now move the red ball to the left"), mixed with filler lines that describe
 * nothing ("okay so"), and is misaligned like ASR in HowTo100M: each sentence's time is shifted by
 * up to +-max_shift segments (bell-shaped, standard deviation max_shift / 3: most narration is
 * said near what it describes, some far from it; with the defaults about half of the clips drawn
 * around a sentence show what it says, roughly the misalignment reported for HowTo100M), and
 * some sentences are dropped. The clean, aligned caption of each
 * segment ("the red circle slides left") is the evaluation ground truth.
 *
 * Pure: everything comes from (seed, split, index) through a local splitmix64 generator, so the
 * same inputs give the same script on every machine. Times are in seconds, rounded to 10 ms. */
#ifndef MILNCE_SYNTH_SCRIPT_H
#define MILNCE_SYNTH_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum { MILNCE_SYNTH_CIRCLE, MILNCE_SYNTH_SQUARE, MILNCE_SYNTH_TRIANGLE, MILNCE_SYNTH_STAR,
       MILNCE_SYNTH_DIAMOND, MILNCE_SYNTH_NSHAPES };
enum { MILNCE_SYNTH_RED, MILNCE_SYNTH_GREEN, MILNCE_SYNTH_BLUE, MILNCE_SYNTH_YELLOW,
       MILNCE_SYNTH_PURPLE, MILNCE_SYNTH_ORANGE, MILNCE_SYNTH_NCOLORS };
enum { MILNCE_SYNTH_LEFT, MILNCE_SYNTH_RIGHT, MILNCE_SYNTH_UP, MILNCE_SYNTH_DOWN,
       MILNCE_SYNTH_GROW, MILNCE_SYNTH_SHRINK, MILNCE_SYNTH_SPIN, MILNCE_SYNTH_NACTIONS };

enum { MILNCE_SYNTH_TRAIN = 0, MILNCE_SYNTH_EVAL = 1 };

typedef struct milnce_synth_object {
    int shape, color;
    float x, y;  /* centre, fraction of width / height (0..1, y down) */
    float size;  /* circumradius, fraction of min(width, height) */
    float angle; /* radians, clockwise on screen */
    float phase; /* distractors: bobbing phase, radians */
} milnce_synth_object;

typedef struct milnce_synth_segment {
    double start, end;       /* seconds */
    int action;              /* MILNCE_SYNTH_LEFT .. SPIN */
    float amount;            /* travel (fraction of the frame), scale change, or turns (radians) */
    milnce_synth_object obj; /* the actor at the segment's start */
    int ndistractors;        /* 1 or 2 */
    milnce_synth_object distractor[2];
} milnce_synth_segment;

#define MILNCE_SYNTH_TEXT_MAX 96

typedef struct milnce_synth_line {
    double start, end;           /* as narrated: shifted */
    double true_start, true_end; /* when it was said about its segment, before the shift */
    int segment;                 /* index into segments, or -1 for a filler line */
    char text[MILNCE_SYNTH_TEXT_MAX];
} milnce_synth_line;

typedef struct milnce_synth_params {
    uint64_t seed;
    double min_seconds, max_seconds; /* video length range; default 30 .. 90 */
    int width, height;               /* 0: each video picks 160x120 or 128x96 */
    int fps;                         /* 0: each video picks 10, 12 or 15 */
    double max_shift;                /* largest narration shift, in mean segment lengths; default 1.5 */
    double drop_prob;                /* probability a sentence is missing; default 0.15 */
    double filler_per_segment;       /* mean filler lines per segment; default 0.4 */
} milnce_synth_params;

void milnce_synth_params_init(milnce_synth_params *p);

typedef struct milnce_synth_video {
    int split, index;
    int width, height, fps;
    double duration; /* seconds, = end of the last segment */
    int nframes;     /* duration * fps */
    /* background: two colours striped along an angle and scrolling, plus slow blotches */
    uint8_t bg0[3], bg1[3];
    float bg_angle, bg_freq, bg_speed, blot_freq, blot_speed;
    milnce_synth_segment *seg; /* (nseg) */
    int nseg;
    milnce_synth_line *lines; /* (nlines) narration sorted by start */
    int nlines;
} milnce_synth_video;

/* Builds the script of video `index` of `split`. */
int milnce_synth_video_make(milnce_synth_video *v, const milnce_synth_params *p, int split,
                            int index, milnce_error *err);
void milnce_synth_video_free(milnce_synth_video *v);

/* Segment index at time t (seconds), clamped to the valid range. */
int milnce_synth_segment_at(const milnce_synth_video *v, double t);
/* The actor of segment s at time t (seconds; clamped into the segment). */
void milnce_synth_actor_at(const milnce_synth_segment *s, double t, milnce_synth_object *out);

/* The clean caption of a segment: "the red circle slides left". */
void milnce_synth_caption(char *buf, size_t cap, const milnce_synth_segment *s);

/* Vocabulary, for tests and reports: NULL-terminated word lists. */
const char *milnce_synth_color_name(int color);
const char *milnce_synth_shape_name(int shape);
const char *milnce_synth_action_name(int action);
const char *const *milnce_synth_shape_words(int shape);  /* nouns used for the shape */
const char *const *milnce_synth_action_cues(int action); /* words only this action's lines use */
const char *const *milnce_synth_fillers(void);

#endif
