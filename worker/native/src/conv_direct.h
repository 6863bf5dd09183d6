// Direct convolution for layers with few channels (16, 32 or 64), where im2col + sgemm spends
// more time writing and packing columns than multiplying: the 6x6 stem on RGB and the narrow
// layers of YOLOv5n at high resolution. Built for AVX-512 only; elsewhere every entry point
// returns false and the im2col path runs.
#pragma once
#include "conv_shape.h"

namespace flot {

// y = conv(x, w) when the shape suits the direct kernel (built for AVX-512; oc 16, 32 or 64,
// no dilation, K = kh·kw·c ≤ 640, at least as many images as threads); returns false and
// writes nothing otherwise.
bool DirectConvForward(const float* x, const float* w, float* y, const ConvShape& s);

// dw = the filter gradient of conv(x, w) given dy, on the direct path's terms (and TapBlock:
// kw·c a multiple of 4, 6, 8, 12, 16, 18 or 24); returns false and writes nothing otherwise.
bool DirectConvFilter(const float* x, const float* dy, float* dw, const ConvShape& s);

// dx = the input gradient of a strided conv (stride ≥ 2) with 16, 32 or 64 input channels,
// pixel by pixel without a column buffer or scatter; returns false and writes nothing otherwise.
bool DirectConvBackpropInput(const float* dy, const float* w, float* dx, const ConvShape& s);

// Calls that took the direct path since the addon loaded (tests check the path is used).
int64_t DirectConvCalls();

}  // namespace flot
