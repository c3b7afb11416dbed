/* Pixels of a synthetic video: draws frame i of a script into an RGB24 buffer. Pure (no I/O),
 * deterministic, and cheap (separable background, objects drawn in their bounding boxes). */
#ifndef MILNCE_SYNTH_RENDER_H
#define MILNCE_SYNTH_RENDER_H

#include <stdint.h>

#include "synth_script.h"

/* RGB of a palette colour (MILNCE_SYNTH_RED ..). */
void milnce_synth_color_rgb(int color, uint8_t rgb[3]);

/* Scratch space a renderer needs: 4 * (width + height) floats. */
#define MILNCE_SYNTH_SCRATCH(w, h) (4 * ((size_t)(w) + (size_t)(h)))

/* Draws frame `frame` (time frame / fps) of v into rgb: (height, width, 3) with rows `stride`
 * bytes apart. scratch holds MILNCE_SYNTH_SCRATCH(width, height) floats. */
void milnce_synth_render(uint8_t *rgb, int stride, const milnce_synth_video *v, int frame,
                         float *scratch);

/* True when (u, v), in units of the circumradius and in the object's frame, is inside shape. */
int milnce_synth_inside(int shape, float u, float v);

#endif
