// NHWC max pooling and its gradient (the gradient gathers per input element: deterministic);
// nearest-neighbour resize and its gradient (atomics).
#include "api.h"
#include "common.cuh"

namespace flc {
namespace {

struct PoolShape {
  int64_t n, h, w, c, oh, ow, kh, kw, sh, sw, pt, pl;
};

// The first strictly largest input of window (n, oy, ox) in channel c, scanned row-major (the
// order tfjs uses, so ties resolve alike); its flat pixel index, or -1 for an empty window.
FL_HD inline int64_t WindowArg(const float* x, const PoolShape& s, int64_t n, int64_t oy, int64_t ox, int64_t c,
                               float* best) {
  float b = -INFINITY;
  int64_t arg = -1;
  const int64_t y0 = oy * s.sh - s.pt, x0 = ox * s.sw - s.pl;
  for (int64_t iy = y0 < 0 ? 0 : y0; iy < y0 + s.kh && iy < s.h; ++iy) {
    for (int64_t ix = x0 < 0 ? 0 : x0; ix < x0 + s.kw && ix < s.w; ++ix) {
      const float v = x[((n * s.h + iy) * s.w + ix) * s.c + c];
      if (v > b || b != b) {
        b = v;
        arg = iy * s.w + ix;
      }
    }
  }
  *best = b;
  return arg;
}

struct MaxPoolK {
  const float* x;
  float* out;
  PoolShape s;
  FL_HD void operator()(int64_t i) const {
    const int64_t c = i % s.c, ox = (i / s.c) % s.ow, oy = (i / (s.c * s.ow)) % s.oh, n = i / (s.c * s.ow * s.oh);
    float b;
    WindowArg(x, s, n, oy, ox, c, &b);
    out[i] = b;
  }
};

struct MaxPoolGradK {
  const float *dy, *x;
  float* dx;
  PoolShape s;
  FL_HD void operator()(int64_t i) const {
    const int64_t c = i % s.c, ix = (i / s.c) % s.w, iy = (i / (s.c * s.w)) % s.h, n = i / (s.c * s.w * s.h);
    const int64_t self = iy * s.w + ix;
    // output rows whose window covers iy: oy·sh − pt ≤ iy < oy·sh − pt + kh
    int64_t oy0 = iy + s.pt - s.kh + 1;
    oy0 = oy0 <= 0 ? 0 : (oy0 + s.sh - 1) / s.sh;
    int64_t ox0 = ix + s.pl - s.kw + 1;
    ox0 = ox0 <= 0 ? 0 : (ox0 + s.sw - 1) / s.sw;
    float acc = 0.f;
    for (int64_t oy = oy0; oy < s.oh && oy * s.sh - s.pt <= iy; ++oy) {
      for (int64_t ox = ox0; ox < s.ow && ox * s.sw - s.pl <= ix; ++ox) {
        float b;
        if (WindowArg(x, s, n, oy, ox, c, &b) == self) acc += dy[((n * s.oh + oy) * s.ow + ox) * s.c + c];
      }
    }
    dx[i] = acc;
  }
};

struct ResizeK {
  const float* x;
  float* out;
  const int32_t *rm, *cm;
  int64_t h, w, c, oh, ow;
  FL_HD void operator()(int64_t i) const {
    const int64_t k = i % c, q = (i / c) % ow, y = (i / (c * ow)) % oh, n = i / (c * ow * oh);
    out[i] = x[((n * h + rm[y]) * w + cm[q]) * c + k];
  }
};

struct ResizeGradK {
  const float* dy;
  float* dx;
  const int32_t *rm, *cm;
  int64_t h, w, c, oh, ow;
  FL_HD void operator()(int64_t i) const {
    const int64_t k = i % c, q = (i / c) % ow, y = (i / (c * ow)) % oh, n = i / (c * ow * oh);
    AtomicAdd(dx + ((n * h + rm[y]) * w + cm[q]) * c + k, dy[i]);
  }
};

PoolShape Parse(const int64_t* p) {
  return PoolShape{p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11]};
}

}  // namespace

void MaxPool(const float* x, float* out, const int64_t* shape) {
  const PoolShape s = Parse(shape);
  Launch(s.n * s.oh * s.ow * s.c, MaxPoolK{x, out, s});
}

void MaxPoolGrad(const float* dy, const float* x, float* dx, const int64_t* shape) {
  const PoolShape s = Parse(shape);
  Launch(s.n * s.h * s.w * s.c, MaxPoolGradK{dy, x, dx, s});
}

// s = [n, h, w, c, oh, ow]; the maps (host arrays) are uploaded to scratch.
void ResizeNearest(const float* x, float* out, const int64_t* s, const int32_t* rowMap, const int32_t* colMap) {
  Scratch maps(static_cast<size_t>(s[4] + s[5]) * sizeof(int32_t));
  int32_t* m = static_cast<int32_t*>(maps.p);
  Upload(m, rowMap, s[4] * sizeof(int32_t));
  Upload(m + s[4], colMap, s[5] * sizeof(int32_t));
  Launch(s[0] * s[4] * s[5] * s[3], ResizeK{x, out, m, m + s[4], s[1], s[2], s[3], s[4], s[5]});
}

void ResizeNearestGrad(const float* dy, float* dx, const int64_t* s, const int32_t* rowMap, const int32_t* colMap) {
  Scratch maps(static_cast<size_t>(s[4] + s[5]) * sizeof(int32_t));
  int32_t* m = static_cast<int32_t*>(maps.p);
  Upload(m, rowMap, s[4] * sizeof(int32_t));
  Upload(m + s[4], colMap, s[5] * sizeof(int32_t));
  Zero(dx, static_cast<size_t>(s[0] * s[1] * s[2] * s[3]) * sizeof(float));
  Launch(s[0] * s[4] * s[5] * s[3], ResizeGradK{dy, dx, m, m + s[4], s[1], s[2], s[3], s[4], s[5]});
}

}  // namespace flc
