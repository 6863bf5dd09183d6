// Batch normalisation with per-channel (last-dim) or scalar parameters.
#include <cmath>

#include "common.h"

namespace flot {
namespace {

// batchNorm(x, out, channels, mean, variance, offset|null, scale|null, epsilon): each
// parameter has `channels` entries or one.
Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  Need(info, 8, "batchNorm");
  const float* x = F32(info[0], "x");
  float* o = F32(info[1], "out");
  const int64_t C = Int(info[2], "channels");
  const float* mean = F32(info[3], "mean");
  const float* var = F32(info[4], "variance");
  const bool hasOff = !(info[5].IsNull() || info[5].IsUndefined());
  const bool hasScale = !(info[6].IsNull() || info[6].IsUndefined());
  const float* off = hasOff ? F32(info[5], "offset") : nullptr;
  const float* scale = hasScale ? F32(info[6], "scale") : nullptr;
  const double eps = Num(info[7], "epsilon");
  const size_t n = Len(info[0]);
  if (C <= 0 || n % static_cast<size_t>(C) != 0) throw Napi::RangeError::New(info.Env(), "batchNorm: bad channels");
  auto at = [C](const Napi::Value& v, const float* p, int64_t c) { return Len(v) == 1 ? p[0] : p[c % C]; };
  // (x - mean) * scale / sqrt(var + eps) + offset, with the per-channel factors in double.
  std::vector<float> m(C), f(C), b(C);
  for (int64_t c = 0; c < C; ++c) {
    const double s = hasScale ? at(info[6], scale, c) : 1.0;
    m[c] = at(info[3], mean, c);
    f[c] = static_cast<float>(s / std::sqrt(static_cast<double>(at(info[4], var, c)) + eps));
    b[c] = hasOff ? at(info[5], off, c) : 0.f;
  }
  const int64_t rows = static_cast<int64_t>(n) / C;
#pragma omp parallel for schedule(static) if (static_cast<int64_t>(n) > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * C;
    float* orow = o + r * C;
    for (int64_t c = 0; c < C; ++c) orow[c] = (xr[c] - m[c]) * f[c] + b[c];
  }
  return info.Env().Undefined();
}

}  // namespace

void InitNorm(Napi::Env env, Napi::Object exports) {
  exports.Set("batchNorm", Napi::Function::New(env, BatchNorm, "batchNorm"));
}

}  // namespace flot
