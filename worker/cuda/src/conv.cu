// NHWC convolution on GEMM. Filters are HWIO ([kh, kw, C, OC], tfjs's layout), so a filter is a
// [kh·kw·C, OC] matrix. A 1×1, stride-1, unpadded conv is one GEMM over the input itself;
// others go through im2col (forward, filter gradient) or col2im (input gradient), a chunk of
// images at a time so the column buffer stays bounded. col2im gathers per input element (no
// atomics), so every gradient is deterministic.
#include <algorithm>

#include "api.h"
#include "common.cuh"

namespace flc {
namespace {

struct ConvShape {
  int64_t n, h, w, c, oh, ow, oc, kh, kw, sh, sw, dh, dw, pt, pl;
  int64_t K() const { return kh * kw * c; }
  bool Pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && oh == h && ow == w; }
};

ConvShape Parse(const int64_t* s) {
  return ConvShape{s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13], s[14]};
}

// col[(p·K) + (ky·kw + kx)·C + c] for output pixel p of the chunk starting at image n0.
struct Im2colK {
  const float* x;
  float* col;
  ConvShape s;
  int64_t n0;
  FL_HD void operator()(int64_t i) const {
    const int64_t K = s.kh * s.kw * s.c;
    const int64_t p = i / K, k = i % K;
    const int64_t c = k % s.c, tap = k / s.c, kx = tap % s.kw, ky = tap / s.kw;
    const int64_t ox = p % s.ow, oy = (p / s.ow) % s.oh, n = n0 + p / (s.ow * s.oh);
    const int64_t iy = oy * s.sh - s.pt + ky * s.dh, ix = ox * s.sw - s.pl + kx * s.dw;
    col[i] = iy >= 0 && iy < s.h && ix >= 0 && ix < s.w ? x[((n * s.h + iy) * s.w + ix) * s.c + c] : 0.f;
  }
};

// dx[n0 + ...] element i: the sum of the column entries that im2col copied it into.
struct Col2imK {
  const float* dcol;
  float* dx;
  ConvShape s;
  int64_t n0;
  FL_HD void operator()(int64_t i) const {
    const int64_t K = s.kh * s.kw * s.c;
    const int64_t c = i % s.c, ix = (i / s.c) % s.w, iy = (i / (s.c * s.w)) % s.h, nl = i / (s.c * s.w * s.h);
    float acc = 0.f;
    for (int64_t ky = 0; ky < s.kh; ++ky) {
      const int64_t ty = iy + s.pt - ky * s.dh;
      if (ty < 0 || ty % s.sh != 0) continue;
      const int64_t oy = ty / s.sh;
      if (oy >= s.oh) continue;
      for (int64_t kx = 0; kx < s.kw; ++kx) {
        const int64_t tx = ix + s.pl - kx * s.dw;
        if (tx < 0 || tx % s.sw != 0) continue;
        const int64_t ox = tx / s.sw;
        if (ox >= s.ow) continue;
        acc += dcol[((nl * s.oh + oy) * s.ow + ox) * K + (ky * s.kw + kx) * s.c + c];
      }
    }
    dx[n0 * s.h * s.w * s.c + i] = acc;
  }
};

// Images per chunk: the column buffer of a chunk stays under ~256 MiB (64 MiB on the host).
int64_t ChunkImages(const ConvShape& s) {
  const int64_t budget = (IsHost() ? 64 : 256) * (int64_t{1} << 20) / 4;
  const int64_t perImage = std::max<int64_t>(1, s.oh * s.ow * s.K());
  return std::max<int64_t>(1, std::min<int64_t>(s.n, budget / perImage));
}

}  // namespace

void Conv2d(const float* x, const float* w, float* out, const int64_t* shape, const float* bias, int act, float alpha) {
  const ConvShape s = Parse(shape);
  const int64_t K = s.K(), P = s.oh * s.ow;
  if (s.Pointwise()) {
    Gemm(false, false, s.n * P, s.oc, K, 1.f, x, K, w, s.oc, 0.f, out, s.oc);
  } else {
    const int64_t chunk = ChunkImages(s);
    Scratch col(static_cast<size_t>(chunk * P * K) * sizeof(float));
    for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
      const int64_t nb = std::min(chunk, s.n - n0);
      Launch(nb * P * K, Im2colK{x, col.f(), s, n0});
      Gemm(false, false, nb * P, s.oc, K, 1.f, col.f(), K, w, s.oc, 0.f, out + n0 * P * s.oc, s.oc);
    }
  }
  BiasAct(out, s.n * P, s.oc, bias, act, alpha);
}

void Conv2dBackpropInput(const float* dy, const float* w, float* dx, const int64_t* shape) {
  const ConvShape s = Parse(shape);
  const int64_t K = s.K(), P = s.oh * s.ow;
  if (s.Pointwise()) {
    // dx[N·P, C] = dy[N·P, OC] · wᵀ
    Gemm(false, true, s.n * P, K, s.oc, 1.f, dy, s.oc, w, s.oc, 0.f, dx, K);
    return;
  }
  const int64_t chunk = ChunkImages(s);
  Scratch dcol(static_cast<size_t>(chunk * P * K) * sizeof(float));
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, s.n - n0);
    Gemm(false, true, nb * P, K, s.oc, 1.f, dy + n0 * P * s.oc, s.oc, w, s.oc, 0.f, dcol.f(), K);
    Launch(nb * s.h * s.w * s.c, Col2imK{dcol.f(), dx, s, n0});
  }
}

void Conv2dBackpropFilter(const float* x, const float* dy, float* dw, const int64_t* shape) {
  const ConvShape s = Parse(shape);
  const int64_t K = s.K(), P = s.oh * s.ow;
  if (s.Pointwise()) {
    // dw[C, OC] = xᵀ[C, N·P] · dy[N·P, OC]
    Gemm(true, false, K, s.oc, s.n * P, 1.f, x, K, dy, s.oc, 0.f, dw, s.oc);
    return;
  }
  const int64_t chunk = ChunkImages(s);
  Scratch col(static_cast<size_t>(chunk * P * K) * sizeof(float));
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, s.n - n0);
    Launch(nb * P * K, Im2colK{x, col.f(), s, n0});
    Gemm(true, false, K, s.oc, nb * P, 1.f, col.f(), K, dy + n0 * P * s.oc, s.oc, n0 == 0 ? 0.f : 1.f, dw, s.oc);
  }
}

void MatMul(const float* a, const float* b, float* out, int64_t batchA, int64_t batchB, int64_t M, int64_t N, int64_t K,
            bool ta, bool tb) {
  const int64_t batch = std::max(batchA, batchB);
  for (int64_t i = 0; i < batch; ++i) {
    const float* pa = a + (batchA == 1 ? 0 : i) * M * K;
    const float* pb = b + (batchB == 1 ? 0 : i) * K * N;
    Gemm(ta, tb, M, N, K, 1.f, pa, ta ? M : K, pb, tb ? K : N, 0.f, out + i * M * N, N);
  }
}

}  // namespace flc
