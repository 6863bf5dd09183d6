// Loops of the optimizer over the flat parameter vector (accumulate, clip, Nesterov SGD, EMA),
// rounded to float32 after every operation in the same order as the JavaScript versions in
// worker/native/flat-math.ts, so both give bit-identical results. No contraction into FMAs:
// a fused multiply-add rounds once where the JavaScript rounds twice.
#pragma GCC optimize("fp-contract=off")
#include "common.h"

namespace flot {
namespace {

// flatAccumulate(acc, g): acc += g
Napi::Value Accumulate(const Napi::CallbackInfo& info) {
  Need(info, 2, "flatAccumulate");
  float* acc = F32(info[0], "acc");
  const float* g = F32(info[1], "g");
  const int64_t n = static_cast<int64_t>(std::min(Len(info[0]), Len(info[1])));
  for (int64_t i = 0; i < n; ++i) acc[i] = acc[i] + g[i];
  return info.Env().Undefined();
}

// flatSumSquares(g): Σ g² in double, in index order
Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  Need(info, 1, "flatSumSquares");
  const float* g = F32(info[0], "g");
  const int64_t n = static_cast<int64_t>(Len(info[0]));
  double sq = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = g[i];
    sq += v * v;
  }
  return Napi::Number::New(info.Env(), sq);
}

// flatScale(g, c): g *= c
Napi::Value Scale(const Napi::CallbackInfo& info) {
  Need(info, 2, "flatScale");
  float* g = F32(info[0], "g");
  const float c = static_cast<float>(Num(info[1], "c"));
  const int64_t n = static_cast<int64_t>(Len(info[0]));
  for (int64_t i = 0; i < n; ++i) g[i] = g[i] * c;
  return info.Env().Undefined();
}

// flatNesterov(p, g, v, begin, end, lr, wd, mu, first): torch.optim.SGD(nesterov=True) on [begin, end)
Napi::Value Nesterov(const Napi::CallbackInfo& info) {
  Need(info, 9, "flatNesterov");
  float* p = F32(info[0], "params");
  const float* g = F32(info[1], "grads");
  float* v = F32(info[2], "velocity");
  const int64_t begin = Int(info[3], "begin"), end = Int(info[4], "end");
  const float lr = static_cast<float>(Num(info[5], "lr")), wd = static_cast<float>(Num(info[6], "wd"));
  const float mu = static_cast<float>(Num(info[7], "mu"));
  const bool first = info[8].ToBoolean().Value();
  const int64_t n = static_cast<int64_t>(std::min({Len(info[0]), Len(info[1]), Len(info[2])}));
  if (begin < 0 || end > n || begin > end) throw Napi::RangeError::New(info.Env(), "flatNesterov: bad range");
  for (int64_t i = begin; i < end; ++i) {
    const float pi = p[i];
    float gi = g[i];
    if (wd != 0.f) gi = gi + wd * pi;
    const float vi = first ? gi : mu * v[i] + gi;
    v[i] = vi;
    const float d = gi + mu * vi;
    p[i] = pi - lr * d;
  }
  return info.Env().Undefined();
}

// flatEma(e, m, d, od): e = e·d + od·m
Napi::Value Ema(const Napi::CallbackInfo& info) {
  Need(info, 4, "flatEma");
  float* e = F32(info[0], "ema");
  const float* m = F32(info[1], "model");
  const float d = static_cast<float>(Num(info[2], "decay")), od = static_cast<float>(Num(info[3], "oneMinusDecay"));
  const int64_t n = static_cast<int64_t>(std::min(Len(info[0]), Len(info[1])));
  for (int64_t i = 0; i < n; ++i) e[i] = e[i] * d + od * m[i];
  return info.Env().Undefined();
}

}  // namespace

void InitFlat(Napi::Env env, Napi::Object exports) {
  exports.Set("flatAccumulate", Napi::Function::New(env, Accumulate, "flatAccumulate"));
  exports.Set("flatSumSquares", Napi::Function::New(env, SumSquares, "flatSumSquares"));
  exports.Set("flatScale", Napi::Function::New(env, Scale, "flatScale"));
  exports.Set("flatNesterov", Napi::Function::New(env, Nesterov, "flatNesterov"));
  exports.Set("flatEma", Napi::Function::New(env, Ema, "flatEma"));
}

}  // namespace flot
