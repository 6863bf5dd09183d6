// Training-mode BatchNorm (batch statistics, biased variance) fused with an activation
// (identity or SiLU), forward and backward, NHWC with channels last. The composed tfjs version
// makes a dozen full-size passes over each activation map; these make two or three.
#include <algorithm>
#include <cmath>
#include <vector>

#include "common.h"
#include "fast_math.h"

namespace flot {
namespace {

enum BnAct : int { kBnLinear = 0, kBnSilu = 1 };

inline float Sigm(float u) { return FastSigmoid(u); }

// Per-channel sums over all rows of the two quantities f(r, a, b) adds into a and b. f adds in
// float over blocks of rows (so the loops vectorize); blocks are flushed into double sums.
template <typename F>
void ChannelSums(int64_t rows, int64_t C, std::vector<double>& s1, std::vector<double>& s2, F f) {
  constexpr int64_t kBlock = 64;
  s1.assign(C, 0.0);
  s2.assign(C, 0.0);
  const int64_t blocks = (rows + kBlock - 1) / kBlock;
#pragma omp parallel if (rows * C > kParallelMin)
  {
    std::vector<double> a(C, 0.0), b(C, 0.0);
    std::vector<float> fa(C), fb(C);
#pragma omp for schedule(static) nowait
    for (int64_t blk = 0; blk < blocks; ++blk) {
      std::fill(fa.begin(), fa.end(), 0.f);
      std::fill(fb.begin(), fb.end(), 0.f);
      const int64_t r1 = std::min(rows, (blk + 1) * kBlock);
      for (int64_t r = blk * kBlock; r < r1; ++r) f(r, fa.data(), fb.data());
      for (int64_t c = 0; c < C; ++c) {
        a[c] += fa[c];
        b[c] += fb[c];
      }
    }
#pragma omp critical
    for (int64_t c = 0; c < C; ++c) {
      s1[c] += a[c];
      s2[c] += b[c];
    }
  }
}

// bnActForward(x, gamma, beta, y, mean, variance, channels, eps, act)
Napi::Value Forward(const Napi::CallbackInfo& info) {
  Need(info, 9, "bnActForward");
  const float* x = F32(info[0], "x");
  const float* gamma = F32(info[1], "gamma");
  const float* beta = F32(info[2], "beta");
  float* y = F32(info[3], "y");
  float* mean = F32(info[4], "mean");
  float* var = F32(info[5], "variance");
  const int64_t C = Int(info[6], "channels");
  const double eps = Num(info[7], "eps");
  const int act = static_cast<int>(Int(info[8], "act"));
  const int64_t rows = static_cast<int64_t>(Len(info[0])) / C;
  std::vector<double> s1, s2;
  // Shifted by the first row, so E[x²] − E[x]² does not cancel when |mean| ≫ std.
  std::vector<float> x0(x, x + C);
  ChannelSums(rows, C, s1, s2, [&](int64_t r, float* a, float* b) {
    const float* xr = x + r * C;
    for (int64_t c = 0; c < C; ++c) {
      const float d = xr[c] - x0[c];
      a[c] += d;
      b[c] += d * d;
    }
  });
  std::vector<float> scale(C), shift(C);
  for (int64_t c = 0; c < C; ++c) {
    const double md = s1[c] / rows;
    const double v = std::max(0.0, s2[c] / rows - md * md);
    const double m = md + x0[c];
    mean[c] = static_cast<float>(m);
    var[c] = static_cast<float>(v);
    const double k = gamma[c] / std::sqrt(v + eps);
    scale[c] = static_cast<float>(k);
    shift[c] = static_cast<float>(beta[c] - m * k);
  }
  const float* sc = scale.data();
  const float* sh = shift.data();
#pragma omp parallel for schedule(static) if (rows * C > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    if (act == kBnSilu) {
      for (int64_t c = 0; c < C; ++c) {
        const float u = xr[c] * sc[c] + sh[c];
        yr[c] = u * Sigm(u);
      }
    } else {
      for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] * sc[c] + sh[c];
    }
  }
  return info.Env().Undefined();
}

// bnActBackward(dy, x, gamma, beta, mean, variance, dx, dgamma, dbeta, channels, eps, act)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  Need(info, 12, "bnActBackward");
  const float* dy = F32(info[0], "dy");
  const float* x = F32(info[1], "x");
  const float* gamma = F32(info[2], "gamma");
  const float* beta = F32(info[3], "beta");
  const float* mean = F32(info[4], "mean");
  const float* var = F32(info[5], "variance");
  float* dx = F32(info[6], "dx");
  float* dgamma = F32(info[7], "dgamma");
  float* dbeta = F32(info[8], "dbeta");
  const int64_t C = Int(info[9], "channels");
  const double eps = Num(info[10], "eps");
  const int act = static_cast<int>(Int(info[11], "act"));
  const int64_t rows = static_cast<int64_t>(Len(info[0])) / C;
  std::vector<float> rstd(C);
  for (int64_t c = 0; c < C; ++c) rstd[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var[c]) + eps));
  // Pass 1: g = dy·act'(u) into dx; Σg and Σg·z per channel, z the normalised input.
  std::vector<double> sg, sgz;
  ChannelSums(rows, C, sg, sgz, [&](int64_t r, float* a, float* b) {
    const float* xr = x + r * C;
    const float* dyr = dy + r * C;
    float* gr = dx + r * C;
    const float* rs = rstd.data();
    if (act == kBnSilu) {
      for (int64_t c = 0; c < C; ++c) {
        const float u = gamma[c] * ((xr[c] - mean[c]) * rs[c]) + beta[c];
        const float s = Sigm(u);
        gr[c] = dyr[c] * (s * (1.f + u * (1.f - s)));
      }
    } else {
      for (int64_t c = 0; c < C; ++c) gr[c] = dyr[c];
    }
    for (int64_t c = 0; c < C; ++c) {
      const float z = (xr[c] - mean[c]) * rs[c];
      a[c] += gr[c];
      b[c] += gr[c] * z;
    }
  });
  std::vector<float> k(C), mg(C), mgz(C);
  for (int64_t c = 0; c < C; ++c) {
    dbeta[c] = static_cast<float>(sg[c]);
    dgamma[c] = static_cast<float>(sgz[c]);
    k[c] = gamma[c] * rstd[c];
    mg[c] = static_cast<float>(sg[c] / rows);
    mgz[c] = static_cast<float>(sgz[c] / rows);
  }
  // Pass 2: dx = γ·rstd·(g − mean(g) − z·mean(g·z)).
#pragma omp parallel for schedule(static) if (rows * C > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * C;
    float* gr = dx + r * C;
    for (int64_t c = 0; c < C; ++c) {
      const float z = (xr[c] - mean[c]) * rstd[c];
      gr[c] = k[c] * (gr[c] - mg[c] - z * mgz[c]);
    }
  }
  return info.Env().Undefined();
}

}  // namespace

void InitBnAct(Napi::Env env, Napi::Object exports) {
  exports.Set("bnActForward", Napi::Function::New(env, Forward, "bnActForward"));
  exports.Set("bnActBackward", Napi::Function::New(env, Backward, "bnActBackward"));
}

}  // namespace flot
