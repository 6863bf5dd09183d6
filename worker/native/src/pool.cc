// NHWC max pooling and its gradient; nearest-neighbour resize and its gradient.
#include <algorithm>
#include <cmath>
#include <limits>

#include "common.h"

namespace flot {
namespace {

struct PoolShape {
  int64_t n, h, w, c, oh, ow, kh, kw, sh, sw, pt, pl;
};

PoolShape ParsePool(const Napi::Value& v) {
  auto p = Ints(v, "pool shape");
  if (p.size() != 12) throw Napi::TypeError::New(v.Env(), "pool shape needs 12 numbers");
  return PoolShape{p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11]};
}

// For output pixel (n, oy, ox), the first strictly largest input per channel, scanned
// row-major through the window (the order tfjs uses, so ties resolve alike).
void WindowMax(const float* img, const PoolShape& s, int64_t oy, int64_t ox, float* best, int32_t* arg) {
  std::fill(best, best + s.c, -std::numeric_limits<float>::infinity());
  std::fill(arg, arg + s.c, -1);
  const int64_t y0 = oy * s.sh - s.pt, x0 = ox * s.sw - s.pl;
  for (int64_t iy = std::max<int64_t>(0, y0); iy < std::min(s.h, y0 + s.kh); ++iy) {
    for (int64_t ix = std::max<int64_t>(0, x0); ix < std::min(s.w, x0 + s.kw); ++ix) {
      const int32_t pos = static_cast<int32_t>(iy * s.w + ix);
      const float* px = img + pos * s.c;
      for (int64_t c = 0; c < s.c; ++c) {
        if (px[c] > best[c] || std::isnan(best[c])) {
          best[c] = px[c];
          arg[c] = pos;
        }
      }
    }
  }
}

// maxPool(x, out, shape)
Napi::Value MaxPool(const Napi::CallbackInfo& info) {
  Need(info, 3, "maxPool");
  const float* x = F32(info[0], "x");
  float* o = F32(info[1], "out");
  const PoolShape s = ParsePool(info[2]);
  const int64_t total = s.n * s.oh * s.ow;
#pragma omp parallel if (total * s.c * s.kh * s.kw > kParallelMin)
  {
    std::vector<int32_t> arg(s.c);
#pragma omp for schedule(static)
    for (int64_t q = 0; q < total; ++q) {
      const int64_t n = q / (s.oh * s.ow), pix = q % (s.oh * s.ow);
      WindowMax(x + n * s.h * s.w * s.c, s, pix / s.ow, pix % s.ow, o + q * s.c, arg.data());
    }
  }
  return info.Env().Undefined();
}

// maxPoolGrad(dy, x, dx, shape): dy goes to the input that won each window.
Napi::Value MaxPoolGrad(const Napi::CallbackInfo& info) {
  Need(info, 4, "maxPoolGrad");
  const float* dy = F32(info[0], "dy");
  const float* x = F32(info[1], "x");
  float* dx = F32(info[2], "out");
  const PoolShape s = ParsePool(info[3]);
  std::fill(dx, dx + s.n * s.h * s.w * s.c, 0.f);
#pragma omp parallel if (s.n * s.oh * s.ow * s.c * s.kh * s.kw > kParallelMin)
  {
    std::vector<float> best(s.c);
    std::vector<int32_t> arg(s.c);
    // Whole images per thread: windows overlap only inside an image.
#pragma omp for schedule(static)
    for (int64_t n = 0; n < s.n; ++n) {
      const float* img = x + n * s.h * s.w * s.c;
      float* dimg = dx + n * s.h * s.w * s.c;
      for (int64_t pix = 0; pix < s.oh * s.ow; ++pix) {
        WindowMax(img, s, pix / s.ow, pix % s.ow, best.data(), arg.data());
        const float* g = dy + (n * s.oh * s.ow + pix) * s.c;
        for (int64_t c = 0; c < s.c; ++c) {
          if (arg[c] >= 0) dimg[arg[c] * s.c + c] += g[c];
        }
      }
    }
  }
  return info.Env().Undefined();
}

// resizeNearest(x, out, [n, h, w, c, oh, ow], rowMap, colMap): out pixel (r, q) reads
// input pixel (rowMap[r], colMap[q]).
Napi::Value ResizeNearest(const Napi::CallbackInfo& info) {
  Need(info, 5, "resizeNearest");
  const float* x = F32(info[0], "x");
  float* o = F32(info[1], "out");
  auto p = Ints(info[2], "resize shape");
  const int32_t* rm = I32(info[3], "rowMap");
  const int32_t* cm = I32(info[4], "colMap");
  if (p.size() != 6) throw Napi::TypeError::New(info.Env(), "resize shape needs 6 numbers");
  const int64_t n = p[0], h = p[1], w = p[2], c = p[3], oh = p[4], ow = p[5];
  const int64_t rows = n * oh;
#pragma omp parallel for schedule(static) if (rows * ow * c > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t b = r / oh, y = r % oh;
    const float* src = x + (b * h + rm[y]) * w * c;
    float* dst = o + r * ow * c;
    for (int64_t q = 0; q < ow; ++q) std::copy(src + cm[q] * c, src + cm[q] * c + c, dst + q * c);
  }
  return info.Env().Undefined();
}

// resizeNearestGrad(dy, dx, [n, h, w, c, oh, ow], rowMap, colMap): the adjoint of resizeNearest.
Napi::Value ResizeNearestGrad(const Napi::CallbackInfo& info) {
  Need(info, 5, "resizeNearestGrad");
  const float* dy = F32(info[0], "dy");
  float* dx = F32(info[1], "out");
  auto p = Ints(info[2], "resize shape");
  const int32_t* rm = I32(info[3], "rowMap");
  const int32_t* cm = I32(info[4], "colMap");
  if (p.size() != 6) throw Napi::TypeError::New(info.Env(), "resize shape needs 6 numbers");
  const int64_t n = p[0], h = p[1], w = p[2], c = p[3], oh = p[4], ow = p[5];
  std::fill(dx, dx + n * h * w * c, 0.f);
#pragma omp parallel for schedule(static) if (n * oh * ow * c > kParallelMin)
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t y = 0; y < oh; ++y) {
      const float* g = dy + (b * oh + y) * ow * c;
      float* drow = dx + (b * h + rm[y]) * w * c;
      for (int64_t q = 0; q < ow; ++q) {
        float* d = drow + cm[q] * c;
        for (int64_t k = 0; k < c; ++k) d[k] += g[q * c + k];
      }
    }
  }
  return info.Env().Undefined();
}

}  // namespace

void InitPool(Napi::Env env, Napi::Object exports) {
  exports.Set("maxPool", Napi::Function::New(env, MaxPool, "maxPool"));
  exports.Set("maxPoolGrad", Napi::Function::New(env, MaxPoolGrad, "maxPoolGrad"));
  exports.Set("resizeNearest", Napi::Function::New(env, ResizeNearest, "resizeNearest"));
  exports.Set("resizeNearestGrad", Napi::Function::New(env, ResizeNearestGrad, "resizeNearestGrad"));
}

}  // namespace flot
