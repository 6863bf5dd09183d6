// Direct convolution (conv_direct.h). Each thread takes whole images: it copies one into a
// zero-padded scratch image, then computes P output pixels of a row at a time with all output
// channels held in vector registers: for every tap (ky, kx, c) it loads the filter row once and
// multiply-adds it into the P pixels' accumulators. No column buffer is written or packed.
#include "conv_direct.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "gemm.h"

namespace flot {
namespace {

typedef float V16 __attribute__((vector_size(64)));

inline V16 Load(const float* p) {
  V16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void Store(float* p, const V16& v) { std::memcpy(p, &v, sizeof v); }

// Pixels per block: enough accumulators to hide the multiply-add latency, few enough to stay
// in registers (32 vector registers with AVX-512, 16 half-width ones otherwise).
#if defined(__AVX512F__)
constexpr int kPixels16 = 16, kPixels32 = 8, kPixels64 = 6;
#else
constexpr int kPixels16 = 6, kPixels32 = 3, kPixels64 = 1;
#endif

// P output pixels (consecutive in a row) × 16·V channels. `xp` is the padded image at the
// window origin of the first pixel; pixels are `step` floats apart, image rows `rowStride`.
template <int P, int V>
inline void Block(const float* xp, int64_t rowStride, int64_t step, const float* w, const ConvShape& s, float* out) {
  V16 acc[P][V];
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < V; ++v) acc[p][v] = V16{};
  const int64_t c = s.c, oc = s.oc;
  for (int64_t ky = 0; ky < s.kh; ++ky) {
    const float* xr = xp + ky * rowStride;
    const float* wr = w + ky * s.kw * c * oc;
    for (int64_t kc = 0; kc < s.kw * c; ++kc) {  // (kx, c) are contiguous in both x and w
      V16 wv[V];
      for (int v = 0; v < V; ++v) wv[v] = Load(wr + kc * oc + 16 * v);
      for (int p = 0; p < P; ++p) {
        const float xs = xr[p * step + kc];
        for (int v = 0; v < V; ++v) acc[p][v] += xs * wv[v];
      }
    }
  }
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < V; ++v) Store(out + p * oc + 16 * v, acc[p][v]);
}

template <int P, int V>
void Image(const float* x, const float* w, float* y, const ConvShape& s, float* pad, int64_t ph, int64_t pw) {
  const int64_t c = s.c, rowStride = pw * c;
  // zero-padded copy: row r, column q of `pad` is input row r - pt, column q - pl
  std::fill(pad, pad + ph * pw * c, 0.f);
  for (int64_t iy = 0; iy < s.h; ++iy) {
    const int64_t r = iy + s.pt;
    if (r < 0 || r >= ph) continue;
    const int64_t q0 = std::max<int64_t>(0, s.pl), ix0 = q0 - s.pl;
    const int64_t n = std::min<int64_t>(s.w - ix0, pw - q0);
    if (n > 0) std::memcpy(pad + (r * pw + q0) * c, x + (iy * s.w + ix0) * c, sizeof(float) * n * c);
  }
  const int64_t step = s.sw * c;
  for (int64_t oy = 0; oy < s.oh; ++oy) {
    const float* xrow = pad + oy * s.sh * rowStride;
    float* yrow = y + oy * s.ow * s.oc;
    int64_t ox = 0;
    for (; ox + P <= s.ow; ox += P) Block<P, V>(xrow + ox * step, rowStride, step, w, s, yrow + ox * s.oc);
    for (; ox < s.ow; ++ox) Block<1, V>(xrow + ox * step, rowStride, step, w, s, yrow + ox * s.oc);
  }
}

std::atomic<int64_t> calls{0};

}  // namespace

int64_t DirectConvCalls() { return calls.load(); }

bool DirectConvForward(const float* x, const float* w, float* y, const ConvShape& s) {
#if !defined(__AVX512F__)
  // With 16 half-width registers the blocks are too small to beat im2col + sgemm.
  return false;
#endif
  if ((s.oc != 16 && s.oc != 32 && s.oc != 64) || s.dh != 1 || s.dw != 1 || s.Pointwise()) return false;
  if (s.K() > 640 || s.n < omp_get_max_threads() || s.pt < 0 || s.pl < 0) return false;
  // the padded image covers every window: (o - 1)·stride + k rows and columns
  const int64_t ph = (s.oh - 1) * s.sh + s.kh, pw = (s.ow - 1) * s.sw + s.kw;
  calls.fetch_add(1);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < s.n; ++n) {
    float* pad = Scratch(ph * pw * s.c, 3);
    const float* xi = x + n * s.h * s.w * s.c;
    float* yi = y + n * s.Rows() * s.oc;
    if (s.oc == 16) {
      Image<kPixels16, 1>(xi, w, yi, s, pad, ph, pw);
    } else if (s.oc == 32) {
      Image<kPixels32, 2>(xi, w, yi, s, pad, ph, pw);
    } else {
      Image<kPixels64, 4>(xi, w, yi, s, pad, ph, pw);
    }
  }
  return true;
}

}  // namespace flot
