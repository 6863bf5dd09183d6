// 2-D convolution in NHWC with filters in HWIO: im2col + OpenBLAS sgemm, and both gradients.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common.h"
#include "fast_math.h"
#include "conv_direct.h"
#include "conv_shape.h"
#include "gemm.h"

namespace flot {
namespace {

ConvShape ParseShape(const Napi::Value& v) {
  std::vector<int64_t> p = Ints(v, "conv shape");
  if (p.size() != 15) throw Napi::TypeError::New(v.Env(), "conv shape needs 15 numbers");
  return ConvShape{p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14]};
}

// Column rows per chunk of one thread: its column buffer stays near 512 KB, inside the core's
// L2, so sgemm reads what im2col just wrote from there.
int64_t RowsPerChunk(const ConvShape& s) {
  return std::max<int64_t>(32, (int64_t{1} << 17) / s.K());
}

// Whether a conv of this size is worth the team.
bool Parallel(const ConvShape& s) { return s.n * s.Rows() * s.K() * s.oc > kGemmParallelMin; }

// Column rows [r0, r0 + nr) of the whole batch (row = image, output y, output x), laid out
// (kh, kw, c) to match the HWIO filter viewed as a [K, OC] matrix; runs on the calling thread.
void Im2Col(const float* x, const ConvShape& s, int64_t r0, int64_t nr, float* col) {
  const int64_t K = s.K(), rows = s.Rows();
  for (int64_t r = 0; r < nr; ++r) {
    const int64_t g = r0 + r, n = g / rows, pix = g % rows, oy = pix / s.ow, ox = pix % s.ow;
    float* dst = col + r * K;
    const float* img = x + n * s.h * s.w * s.c;
    for (int64_t ky = 0; ky < s.kh; ++ky) {
      const int64_t iy = oy * s.sh - s.pt + ky * s.dh;
      float* d = dst + ky * s.kw * s.c;
      if (iy < 0 || iy >= s.h) {
        std::memset(d, 0, sizeof(float) * s.kw * s.c);
        continue;
      }
      const float* src = img + iy * s.w * s.c;
      const int64_t ix0 = ox * s.sw - s.pl;
      if (s.dw == 1 && ix0 >= 0 && ix0 + s.kw <= s.w) {
        std::memcpy(d, src + ix0 * s.c, sizeof(float) * s.kw * s.c);  // the whole window row at once
        continue;
      }
      for (int64_t kx = 0; kx < s.kw; ++kx) {
        const int64_t ix = ix0 + kx * s.dw;
        if (ix < 0 || ix >= s.w) {
          std::memset(d + kx * s.c, 0, sizeof(float) * s.c);
        } else {
          std::memcpy(d + kx * s.c, src + ix * s.c, sizeof(float) * s.c);
        }
      }
    }
  }
}

// Adds column gradients of batch rows [r0, r0 + nr) back into dx, on the calling thread.
void Col2Im(const float* col, const ConvShape& s, int64_t r0, int64_t nr, float* dx) {
  const int64_t K = s.K(), rows = s.Rows();
  for (int64_t r = 0; r < nr; ++r) {
    const int64_t g = r0 + r, n = g / rows, pix = g % rows, oy = pix / s.ow, ox = pix % s.ow;
    float* img = dx + n * s.h * s.w * s.c;
    const float* src = col + r * K;
    for (int64_t ky = 0; ky < s.kh; ++ky) {
      const int64_t iy = oy * s.sh - s.pt + ky * s.dh;
      if (iy < 0 || iy >= s.h) continue;
      for (int64_t kx = 0; kx < s.kw; ++kx) {
        const int64_t ix = ox * s.sw - s.pl + kx * s.dw;
        if (ix < 0 || ix >= s.w) continue;
        float* d = img + (iy * s.w + ix) * s.c;
        const float* gsrc = src + (ky * s.kw + kx) * s.c;
        for (int64_t c = 0; c < s.c; ++c) d[c] += gsrc[c];
      }
    }
  }
}

// y = conv(x, w) for any shape: a plain sgemm for pointwise convs, im2col chunks otherwise;
// each thread of the team takes a contiguous block of output rows.
void ConvForward(const float* x, const float* w, float* y, const ConvShape& s) {
  const int64_t K = s.K(), total = s.n * s.Rows();
  if (s.Pointwise()) {
    GemmRows(false, total, s.oc, K, x, K, w, s.oc, 0.f, y, s.oc);
    return;
  }
  if (DirectConvForward(x, w, y, s)) return;
  const int64_t chunk = RowsPerChunk(s);
#pragma omp parallel if (Parallel(s))
  {
    int64_t lo, hi;
    Split(total, omp_get_num_threads(), omp_get_thread_num(), &lo, &hi);
    float* col = Scratch(chunk * K, 0);
    for (int64_t r0 = lo; r0 < hi; r0 += chunk) {
      const int64_t nr = std::min(chunk, hi - r0);
      Im2Col(x, s, r0, nr, col);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, s.oc, K, 1.f, col, K, w, s.oc, 0.f, y + r0 * s.oc,
                  s.oc);
    }
  }
}

Napi::Value Conv2D(const Napi::CallbackInfo& info) {
  Need(info, 6, "conv2d");
  const float* x = F32(info[0], "x");
  const float* w = F32(info[1], "filter");
  float* y = F32(info[2], "out");
  const ConvShape s = ParseShape(info[3]);
  const float* bias = info[4].IsNull() || info[4].IsUndefined() ? nullptr : F32(info[4], "bias");
  const int act = static_cast<int>(Int(info[5], "activation"));
  const float alpha = info.Length() > 6 ? static_cast<float>(Num(info[6], "alpha")) : 0.f;
  ConvForward(x, w, y, s);
  if (bias != nullptr || act != kLinear) ApplyBiasAct(y, s.n * s.Rows(), s.oc, bias, act, alpha);
  return info.Env().Undefined();
}

Napi::Value Conv2DBackpropInput(const Napi::CallbackInfo& info) {
  Need(info, 4, "conv2dBackpropInput");
  const float* dy = F32(info[0], "dy");
  const float* w = F32(info[1], "filter");
  float* dx = F32(info[2], "out");
  const ConvShape s = ParseShape(info[3]);
  const int64_t K = s.K(), rows = s.Rows();
  if (s.Pointwise()) {
    GemmRows(true, s.n * rows, K, s.oc, dy, s.oc, w, s.oc, 0.f, dx, K);
    return info.Env().Undefined();
  }
  if (s.sh == 1 && s.sw == 1) {
    // Stride 1: dx is the forward conv of dy with the filter flipped in space and its channel
    // axes swapped, padded by (k - 1)·d - pad; no column buffer to scatter back.
    float* wt = Scratch(K * s.oc, 1);
    for (int64_t ky = 0; ky < s.kh; ++ky)
      for (int64_t kx = 0; kx < s.kw; ++kx)
        for (int64_t c = 0; c < s.c; ++c)
          for (int64_t o = 0; o < s.oc; ++o)
            wt[(((s.kh - 1 - ky) * s.kw + (s.kw - 1 - kx)) * s.oc + o) * s.c + c] = w[((ky * s.kw + kx) * s.c + c) * s.oc + o];
    const ConvShape t{s.n, s.oh, s.ow, s.oc, s.h, s.w, s.c, s.kh, s.kw, 1, 1, s.dh, s.dw,
                      (s.kh - 1) * s.dh - s.pt, (s.kw - 1) * s.dw - s.pl};
    ConvForward(dy, wt, dx, t);
    return info.Env().Undefined();
  }
  if (DirectConvBackpropInput(dy, w, dx, s)) return info.Env().Undefined();
  // Strided: columns = dy · wᵀ, scattered back. Each thread owns whole images, so no two
  // threads add into the same pixel.
  const int64_t chunk = RowsPerChunk(s), image = s.h * s.w * s.c;
#pragma omp parallel if (Parallel(s) && s.n > 1)
  {
    int64_t n0, n1;
    Split(s.n, omp_get_num_threads(), omp_get_thread_num(), &n0, &n1);
    std::fill(dx + n0 * image, dx + n1 * image, 0.f);
    float* col = Scratch(chunk * K, 0);
    for (int64_t r0 = n0 * rows; r0 < n1 * rows; r0 += chunk) {
      const int64_t nr = std::min(chunk, n1 * rows - r0);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, K, s.oc, 1.f, dy + r0 * s.oc, s.oc, w, s.oc, 0.f, col,
                  K);
      Col2Im(col, s, r0, nr, dx);
    }
  }
  return info.Env().Undefined();
}

Napi::Value Conv2DBackpropFilter(const Napi::CallbackInfo& info) {
  Need(info, 4, "conv2dBackpropFilter");
  const float* x = F32(info[0], "x");
  const float* dy = F32(info[1], "dy");
  float* dw = F32(info[2], "out");
  const ConvShape s = ParseShape(info[3]);
  if (DirectConvFilter(x, dy, dw, s)) return info.Env().Undefined();
  const int64_t K = s.K(), total = s.n * s.Rows(), size = K * s.oc;
  const int64_t chunk = s.Pointwise() ? total : RowsPerChunk(s);
  // Each thread sums its block of rows into its own [K, OC] partial (thread 0 into dw itself);
  // the partials are then added into dw.
  std::vector<float*> parts(static_cast<size_t>(omp_get_max_threads()), nullptr);
#pragma omp parallel if (Parallel(s))
  {
    const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
    int64_t lo, hi;
    Split(total, nt, tid, &lo, &hi);
    float* acc = tid == 0 ? dw : Scratch(size, 2);
    float* col = s.Pointwise() ? nullptr : Scratch(chunk * K, 0);
    if (hi <= lo) std::fill(acc, acc + size, 0.f);
    for (int64_t r0 = lo; r0 < hi; r0 += chunk) {
      const int64_t nr = std::min(chunk, hi - r0);
      const float* a = x + r0 * K;
      if (col != nullptr) {
        Im2Col(x, s, r0, nr, col);
        a = col;
      }
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, s.oc, nr, 1.f, a, K, dy + r0 * s.oc, s.oc,
                  r0 == lo ? 0.f : 1.f, acc, s.oc);
    }
    parts[tid] = acc;
    SumPartials(dw, parts, nt, size);
  }
  return info.Env().Undefined();
}

}  // namespace

void ApplyBiasAct(float* y, int64_t rows, int64_t cols, const float* bias, int act, float alpha) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    float* row = y + r * cols;
    if (bias != nullptr) {
      for (int64_t c = 0; c < cols; ++c) row[c] += bias[c];
    }
    switch (act) {
      case kRelu:
        for (int64_t c = 0; c < cols; ++c) row[c] = row[c] < 0.f ? 0.f : row[c];
        break;
      case kRelu6:
        for (int64_t c = 0; c < cols; ++c) row[c] = std::min(6.f, std::max(0.f, row[c]));
        break;
      case kLeaky:
        for (int64_t c = 0; c < cols; ++c) row[c] = row[c] < 0.f ? alpha * row[c] : row[c];
        break;
      case kSigmoid:
        for (int64_t c = 0; c < cols; ++c) row[c] = FastSigmoid(row[c]);
        break;
      case kElu:
        for (int64_t c = 0; c < cols; ++c) row[c] = row[c] >= 0.f ? row[c] : std::expm1(row[c]);
        break;
      default:
        break;
    }
  }
}

void InitConv(Napi::Env env, Napi::Object exports) {
  exports.Set("directConvCalls", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Value(Napi::Number::New(info.Env(), static_cast<double>(DirectConvCalls())));
  }, "directConvCalls"));
  exports.Set("conv2d", Napi::Function::New(env, Conv2D, "conv2d"));
  exports.Set("conv2dBackpropInput", Napi::Function::New(env, Conv2DBackpropInput, "conv2dBackpropInput"));
  exports.Set("conv2dBackpropFilter", Napi::Function::New(env, Conv2DBackpropFilter, "conv2dBackpropFilter"));
}

}  // namespace flot
