// The 15 numbers that describe a 2-D convolution (NHWC input, HWIO filter), shared by the
// im2col + sgemm path (conv.cc) and the direct path (conv_direct.cc).
#pragma once
#include <cstdint>

namespace flot {

struct ConvShape {
  int64_t n, h, w, c, oh, ow, oc, kh, kw, sh, sw, dh, dw, pt, pl;
  int64_t K() const { return kh * kw * c; }
  int64_t Rows() const { return oh * ow; }
  // A 1x1 stride-1 unpadded conv is a plain matmul on the input: no im2col needed.
  bool Pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && oh == h && ow == w; }
};


}  // namespace flot
