// Direct convolution (conv_direct.h). Each thread takes whole images: it copies one into a
// zero-padded scratch image, then computes P output pixels of a row at a time with all output
// channels held in vector registers: for every tap (ky, kx, c) it loads the filter row once and
// multiply-adds it into the P pixels' accumulators. No column buffer is written or packed.
#include "conv_direct.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "gemm.h"

namespace flot {
namespace {

std::atomic<int64_t> calls{0};

}  // namespace

int64_t DirectConvCalls() { return calls.load(); }

#if defined(__AVX512F__)
namespace {

typedef float V16 __attribute__((vector_size(64)));

inline V16 Load(const float* p) {
  V16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void Store(float* p, const V16& v) { std::memcpy(p, &v, sizeof v); }

// Pixels per block: enough accumulators to hide the multiply-add latency, few enough to stay
// in AVX-512's 32 vector registers.
constexpr int kPixels16 = 16, kPixels32 = 8, kPixels64 = 6;

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

// Zero-padded copy of one image: row r, column q of `pad` is input row r − pt, column q − pl.
void PadImage(const float* x, const ConvShape& s, float* pad, int64_t ph, int64_t pw) {
  const int64_t c = s.c;
  std::fill(pad, pad + ph * pw * c, 0.f);
  for (int64_t iy = 0; iy < s.h; ++iy) {
    const int64_t r = iy + s.pt;
    if (r < 0 || r >= ph) continue;
    const int64_t q0 = std::max<int64_t>(0, s.pl), ix0 = q0 - s.pl;
    const int64_t n = std::min<int64_t>(s.w - ix0, pw - q0);
    if (n > 0) std::memcpy(pad + (r * pw + q0) * c, x + (iy * s.w + ix0) * c, sizeof(float) * n * c);
  }
}

template <int P, int V>
void Image(const float* x, const float* w, float* y, const ConvShape& s, float* pad, int64_t ph, int64_t pw) {
  const int64_t c = s.c, rowStride = pw * c;
  PadImage(x, s, pad, ph, pw);
  const int64_t step = s.sw * c;
  for (int64_t oy = 0; oy < s.oh; ++oy) {
    const float* xrow = pad + oy * s.sh * rowStride;
    float* yrow = y + oy * s.ow * s.oc;
    int64_t ox = 0;
    for (; ox + P <= s.ow; ox += P) Block<P, V>(xrow + ox * step, rowStride, step, w, s, yrow + ox * s.oc);
    for (; ox < s.ow; ++ox) Block<1, V>(xrow + ox * step, rowStride, step, w, s, yrow + ox * s.oc);
  }
}

// Filter gradient of one image, added into acc [K, oc]: for each output row and filter row
// ky, T consecutive (kx, c) taps × all channels stay in registers across the row's pixels.
template <int T, int V>
void FilterRowBlock(const float* xr, int64_t step, const float* dyr, int64_t ow, int64_t oc, float* acc) {
  V16 a[T][V];
  for (int t = 0; t < T; ++t)
    for (int v = 0; v < V; ++v) a[t][v] = V16{};
  for (int64_t ox = 0; ox < ow; ++ox) {
    V16 g[V];
    for (int v = 0; v < V; ++v) g[v] = Load(dyr + ox * oc + 16 * v);
    const float* xp = xr + ox * step;
    for (int t = 0; t < T; ++t) {
      const float xs = xp[t];
      for (int v = 0; v < V; ++v) a[t][v] += xs * g[v];
    }
  }
  for (int t = 0; t < T; ++t)
    for (int v = 0; v < V; ++v) Store(acc + t * oc + 16 * v, Load(acc + t * oc + 16 * v) + a[t][v]);
}

template <int T, int V>
void FilterImage(const float* x, const float* dy, const ConvShape& s, float* pad, int64_t ph, int64_t pw, float* acc) {
  const int64_t c = s.c, rowStride = pw * c, step = s.sw * c, taps = s.kw * c;
  PadImage(x, s, pad, ph, pw);
  for (int64_t oy = 0; oy < s.oh; ++oy) {
    const float* dyr = dy + oy * s.ow * s.oc;
    for (int64_t ky = 0; ky < s.kh; ++ky) {
      const float* xr = pad + (oy * s.sh + ky) * rowStride;
      float* ak = acc + ky * taps * s.oc;
      for (int64_t kc = 0; kc < taps; kc += T) FilterRowBlock<T, V>(xr + kc, step, dyr, s.ow, s.oc, ak + kc * s.oc);
    }
  }
}

// Taps per register block: a divisor of kw·c, at most 24 / V accumulators' worth. Every value
// it can return for V = 1, 2, 4 has an instantiation in FilterDispatch.
int TapBlock(int64_t taps, int v) {
  const int cap = 24 / v;
  for (int t : {24, 18, 16, 12, 8, 6, 4})
    if (t <= cap && taps % t == 0) return t;
  return 0;
}

template <int V>
bool FilterDispatch(int t, const float* x, const float* dy, const ConvShape& s, float* pad, int64_t ph, int64_t pw, float* acc) {
  switch (t) {
    case 24: if constexpr (V == 1) { FilterImage<24, V>(x, dy, s, pad, ph, pw, acc); return true; } return false;
    case 18: if constexpr (V == 1) { FilterImage<18, V>(x, dy, s, pad, ph, pw, acc); return true; } return false;
    case 16: if constexpr (V == 1) { FilterImage<16, V>(x, dy, s, pad, ph, pw, acc); return true; } return false;
    case 12: if constexpr (V <= 2) { FilterImage<12, V>(x, dy, s, pad, ph, pw, acc); return true; } return false;
    case 8: if constexpr (V <= 2) { FilterImage<8, V>(x, dy, s, pad, ph, pw, acc); return true; } return false;
    case 6: FilterImage<6, V>(x, dy, s, pad, ph, pw, acc); return true;
    case 4: FilterImage<4, V>(x, dy, s, pad, ph, pw, acc); return true;
    default: return false;
  }
}


// Input gradient of a strided conv, for one block of P input pixels of one row that share a
// phase: pixels ix, ix + s, ... meet the same filter columns kx, at consecutive dy columns.
// taps: (dy offset in floats of the first pixel, filter tap index) for the row's valid (ky, kx).
template <int P, int V>
inline void StridedBlock(const float* dyp, const int64_t* offs, const int64_t* taps, int ntaps, const float* wt,
                         int64_t oc, int64_t c, float* out, int64_t outStep) {
  V16 acc[P][V];
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < V; ++v) acc[p][v] = V16{};
  for (int t = 0; t < ntaps; ++t) {
    const float* d = dyp + offs[t];
    const float* wk = wt + taps[t] * oc * c;
    for (int64_t o = 0; o < oc; ++o) {
      V16 wv[V];
      for (int v = 0; v < V; ++v) wv[v] = Load(wk + o * c + 16 * v);
      for (int p = 0; p < P; ++p) {
        const float g = d[p * oc + o];
        for (int v = 0; v < V; ++v) acc[p][v] += g * wv[v];
      }
    }
  }
  for (int p = 0; p < P; ++p)
    for (int v = 0; v < V; ++v) Store(out + p * outStep + 16 * v, acc[p][v]);
}

template <int P, int V>
void StridedImage(const float* dy, const float* wt, float* dx, const ConvShape& s, float* pad, int64_t pT, int64_t pL) {
  const int64_t oc = s.oc, c = s.c, pw = s.ow + 2 * pL, ph = s.oh + 2 * pT;
  // dy with pT zero rows above and below and pL zero columns each side
  std::fill(pad, pad + ph * pw * oc, 0.f);
  for (int64_t oy = 0; oy < s.oh; ++oy) std::memcpy(pad + ((oy + pT) * pw + pL) * oc, dy + oy * s.ow * oc, sizeof(float) * s.ow * oc);
  int64_t offs[64], taps[64];
  for (int64_t iy = 0; iy < s.h; ++iy) {
    for (int64_t r = 0; r < s.sw && r < s.w; ++r) {  // pixels ix = r, r + sw, ...
      // the valid taps of this row and phase, and where the first pixel (ix = r) finds its dy
      int nt = 0;
      for (int64_t ky = 0; ky < s.kh; ++ky) {
        if ((iy + s.pt - ky) % s.sh != 0) continue;
        const int64_t oy = (iy + s.pt - ky) / s.sh;
        for (int64_t kx = 0; kx < s.kw; ++kx) {
          if ((r + s.pl - kx) % s.sw != 0) continue;
          const int64_t ox = (r + s.pl - kx) / s.sw;
          offs[nt] = ((oy + pT) * pw + ox + pL) * oc;
          taps[nt] = ky * s.kw + kx;
          ++nt;
        }
      }
      const int64_t count = (s.w - r + s.sw - 1) / s.sw, outStep = s.sw * c;
      float* out = dx + (iy * s.w + r) * c;
      int64_t j = 0;
      for (; j + P <= count; j += P) StridedBlock<P, V>(pad + j * oc, offs, taps, nt, wt, oc, c, out + j * outStep, outStep);
      for (; j < count; ++j) StridedBlock<1, V>(pad + j * oc, offs, taps, nt, wt, oc, c, out + j * outStep, outStep);
    }
  }
}

// What every direct entry point needs: `channels` (the ones held in registers) 16, 32 or 64,
// no dilation, non-negative padding, and at least one image per thread (the work is split by image).
bool Suits(const ConvShape& s, int64_t channels) {
  return (channels == 16 || channels == 32 || channels == 64) && s.dh == 1 && s.dw == 1 && s.pt >= 0 && s.pl >= 0 &&
         s.n >= omp_get_max_threads();
}

}  // namespace

bool DirectConvForward(const float* x, const float* w, float* y, const ConvShape& s) {
  if (!Suits(s, s.oc) || s.Pointwise() || s.K() > 640) return false;
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

bool DirectConvFilter(const float* x, const float* dy, float* dw, const ConvShape& s) {
  if (!Suits(s, s.oc) || s.Pointwise()) return false;
  const int nt = omp_get_max_threads();
  const int v = static_cast<int>(s.oc / 16), t = TapBlock(s.kw * s.c, v);
  if (t == 0 || s.K() > 640) return false;
  const int64_t ph = (s.oh - 1) * s.sh + s.kh, pw = (s.ow - 1) * s.sw + s.kw, size = s.K() * s.oc;
  calls.fetch_add(1);
  std::vector<float*> parts(static_cast<size_t>(nt), nullptr);
#pragma omp parallel
  {
    const int tid = omp_get_thread_num(), team = omp_get_num_threads();
    float* acc = tid == 0 ? dw : Scratch(size, 2);
    std::fill(acc, acc + size, 0.f);
    float* pad = Scratch(ph * pw * s.c, 3);
    int64_t n0, n1;
    Split(s.n, team, tid, &n0, &n1);
    for (int64_t n = n0; n < n1; ++n) {
      const float* xi = x + n * s.h * s.w * s.c;
      const float* dyi = dy + n * s.Rows() * s.oc;
      if (v == 1) FilterDispatch<1>(t, xi, dyi, s, pad, ph, pw, acc);
      else if (v == 2) FilterDispatch<2>(t, xi, dyi, s, pad, ph, pw, acc);
      else FilterDispatch<4>(t, xi, dyi, s, pad, ph, pw, acc);
    }
    parts[tid] = acc;
    SumPartials(dw, parts, team, size);
  }
  return true;
}

bool DirectConvBackpropInput(const float* dy, const float* w, float* dx, const ConvShape& s) {
  if (!Suits(s, s.c) || s.sh < 2 || s.sw < 2 || s.kh * s.kw > 64 || s.oc > 1024) return false;
  // every oy = (iy + pt − ky) / sh lies in [−(kh − 1) / sh, oh − 1 + (kh − 1) / sh] (and alike for ox)
  const int64_t pT = (s.kh - 1) / s.sh + 1, pL = (s.kw - 1) / s.sw + 1;
  calls.fetch_add(1);
  // wt[ky][kx][o][ci]: each tap's [oc, c] block, so a dy value meets a row of channels
  float* wt = Scratch(s.kh * s.kw * s.oc * s.c, 1);
  for (int64_t k = 0; k < s.kh * s.kw; ++k)
    for (int64_t ci = 0; ci < s.c; ++ci)
      for (int64_t o = 0; o < s.oc; ++o) wt[(k * s.oc + o) * s.c + ci] = w[(k * s.c + ci) * s.oc + o];
  const int64_t padSize = (s.oh + 2 * pT) * (s.ow + 2 * pL) * s.oc;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < s.n; ++n) {
    float* pad = Scratch(padSize, 3);
    const float* dyi = dy + n * s.Rows() * s.oc;
    float* dxi = dx + n * s.h * s.w * s.c;
    if (s.c == 16) {
      StridedImage<kPixels16, 1>(dyi, wt, dxi, s, pad, pT, pL);
    } else if (s.c == 32) {
      StridedImage<kPixels32, 2>(dyi, wt, dxi, s, pad, pT, pL);
    } else {
      StridedImage<kPixels64, 4>(dyi, wt, dxi, s, pad, pT, pL);
    }
  }
  return true;
}

#else
// Without AVX-512's 32 registers the blocks are too small to beat im2col + sgemm.
bool DirectConvForward(const float*, const float*, float*, const ConvShape&) { return false; }
bool DirectConvFilter(const float*, const float*, float*, const ConvShape&) { return false; }
bool DirectConvBackpropInput(const float*, const float*, float*, const ConvShape&) { return false; }
#endif

}  // namespace flot
