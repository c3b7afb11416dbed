/* Direct Conv3d for stems (src/nn/conv3d_direct.c), used by src/nn/conv3d.c; not a public API.
 * Shapes and argument order as milnce_conv3d_forward / _backward (src/nn/layers.h). */
#ifndef MILNCE_CONV3D_DIRECT_H
#define MILNCE_CONV3D_DIRECT_H

#include <stddef.h>

#include "layers.h"

/* Nonzero when the direct algorithm beats vol2col + sgemm for this layer: few input channels
 * and a large spatial kernel (S3D-G's conv1, 3x7x7 over 3 channels). */
int milnce_conv3d_direct_suits(const milnce_conv3d_cfg *c);

/* Floats of scratch for forward and the weight gradient (the same number serves both). */
size_t milnce_conv3d_direct_workspace_floats(const milnce_conv3d_cfg *c, int B, int T, int H,
                                             int W);

/* out (B, c_out, To, Ho, Wo) written; in (B, c_in, T, H, W); w (c_out, c_in, kt, kh, kw);
 * bias (c_out) or NULL. */
int milnce_conv3d_direct_forward(float *out, const float *in, const float *w, const float *bias,
                                 float *ws, const milnce_conv3d_cfg *c, int B, int T, int H,
                                 int W);

/* dw (c_out, c_in, kt, kh, kw) += the weight gradient for dout (B, c_out, To, Ho, Wo). */
int milnce_conv3d_direct_backward_weight(float *dw, const float *dout, const float *in, float *ws,
                                         const milnce_conv3d_cfg *c, int B, int T, int H, int W);

#endif
