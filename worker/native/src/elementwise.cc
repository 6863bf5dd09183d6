// Broadcasting binary arithmetic, unary maps and AddN. Shapes arrive already collapsed by the JS
// side (adjacent dims merged where both operands broadcast alike), with strides of 0 for
// broadcast dims.
#include <algorithm>
#include <cmath>

#include "common.h"
#include "fast_math.h"

namespace flot {
namespace {

enum BinOp : int { kAdd = 0, kSub, kMul, kDiv, kMax, kMin, kSqDiff, kPow };

struct Strided {
  std::vector<int64_t> shape, sa, sb;
};

template <typename F>
void BinaryLoop(const float* a, const float* b, float* o, const Strided& st, F f) {
  const int rank = static_cast<int>(st.shape.size());
  const int64_t inner = st.shape[rank - 1], ia = st.sa[rank - 1], ib = st.sb[rank - 1];
  int64_t outer = 1;
  for (int d = 0; d < rank - 1; ++d) outer *= st.shape[d];
  // Few long rows are cut into blocks so both threads get work.
  const int64_t blocks = outer >= 16 ? 1 : std::max<int64_t>(1, std::min<int64_t>(16, inner / 4096));
  const int64_t blk = (inner + blocks - 1) / blocks;
  const int64_t tasks = outer * blocks;
#pragma omp parallel for schedule(static) if (outer * inner > kParallelMin)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t row = t / blocks, j0 = (t % blocks) * blk, j1 = std::min(inner, j0 + blk);
    int64_t oa = 0, ob = 0, rem = row;
    for (int d = rank - 2; d >= 0; --d) {
      const int64_t i = rem % st.shape[d];
      rem /= st.shape[d];
      oa += i * st.sa[d];
      ob += i * st.sb[d];
    }
    const float* pa = a + oa;
    const float* pb = b + ob;
    float* po = o + row * inner;
    if (ia == 1 && ib == 1) {
      for (int64_t j = j0; j < j1; ++j) po[j] = f(pa[j], pb[j]);
    } else if (ia == 1) {
      const float vb = pb[0];
      for (int64_t j = j0; j < j1; ++j) po[j] = f(pa[j], vb);
    } else if (ib == 1) {
      const float va = pa[0];
      for (int64_t j = j0; j < j1; ++j) po[j] = f(va, pb[j]);
    } else {
      const float v = f(pa[0], pb[0]);
      for (int64_t j = j0; j < j1; ++j) po[j] = v;
    }
  }
}

// binary(a, b, out, shape, stridesA, stridesB, op)
Napi::Value Binary(const Napi::CallbackInfo& info) {
  Need(info, 7, "binary");
  const float* a = F32(info[0], "a");
  const float* b = F32(info[1], "b");
  float* o = F32(info[2], "out");
  Strided st{Ints(info[3], "shape"), Ints(info[4], "stridesA"), Ints(info[5], "stridesB")};
  if (st.shape.empty() || st.sa.size() != st.shape.size() || st.sb.size() != st.shape.size()) {
    throw Napi::TypeError::New(info.Env(), "binary: shape and strides must have the same nonzero rank");
  }
  for (int64_t d : st.shape) if (d == 0) return info.Env().Undefined();
  switch (static_cast<int>(Int(info[6], "op"))) {
    case kAdd: BinaryLoop(a, b, o, st, [](float x, float y) { return x + y; }); break;
    case kSub: BinaryLoop(a, b, o, st, [](float x, float y) { return x - y; }); break;
    case kMul: BinaryLoop(a, b, o, st, [](float x, float y) { return x * y; }); break;
    case kDiv: BinaryLoop(a, b, o, st, [](float x, float y) { return x / y; }); break;
    case kMax: BinaryLoop(a, b, o, st, [](float x, float y) { return std::isnan(x) || std::isnan(y) ? NAN : (x > y ? x : y); }); break;
    case kMin: BinaryLoop(a, b, o, st, [](float x, float y) { return std::isnan(x) || std::isnan(y) ? NAN : (x < y ? x : y); }); break;
    case kSqDiff: BinaryLoop(a, b, o, st, [](float x, float y) { return (x - y) * (x - y); }); break;
    case kPow: BinaryLoop(a, b, o, st, [](float x, float y) { return static_cast<float>(std::pow(static_cast<double>(x), static_cast<double>(y))); }); break;
    default: throw Napi::RangeError::New(info.Env(), "binary: unknown op");
  }
  return info.Env().Undefined();
}

enum UnOp : int {
  kNeg = 0, kExp, kLog, kSigmoid, kRelu, kRelu6, kSqrt, kRsqrt, kSquare, kAbs, kTanh, kSoftplus, kReciprocal,
  kAtan, kLog1p, kExpm1, kElu, kStep, kLeakyRelu, kSign, kFloor, kCeil, kClip, kSin, kCos
};

template <typename F>
void UnaryLoop(const float* x, float* o, int64_t n, F f) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
}

float Softplus(float x) {
  // The thresholds of tfjs's cpu kernel, so that the two agree on the tails.
  const float threshold = std::log(1.1920928955078125e-7f) + 2.f;
  if (x < threshold) return std::exp(x);
  if (x > -threshold) return x;
  return std::log1p(std::exp(x));
}

// unary(x, out, op, p0, p1)
Napi::Value Unary(const Napi::CallbackInfo& info) {
  Need(info, 3, "unary");
  const float* x = F32(info[0], "x");
  float* o = F32(info[1], "out");
  const int64_t n = static_cast<int64_t>(std::min(Len(info[0]), Len(info[1])));
  const float p0 = info.Length() > 3 ? static_cast<float>(Num(info[3], "p0")) : 0.f;
  const float p1 = info.Length() > 4 ? static_cast<float>(Num(info[4], "p1")) : 0.f;
  switch (static_cast<int>(Int(info[2], "op"))) {
    case kNeg: UnaryLoop(x, o, n, [](float v) { return -v; }); break;
    case kExp: UnaryLoop(x, o, n, [](float v) { return v > 88.7f ? INFINITY : FastExp(v); }); break;
    case kLog: UnaryLoop(x, o, n, [](float v) { return std::log(v); }); break;
    case kSigmoid: UnaryLoop(x, o, n, [](float v) { return FastSigmoid(v); }); break;
    case kRelu: UnaryLoop(x, o, n, [](float v) { return v < 0.f ? 0.f : v; }); break;
    case kRelu6: UnaryLoop(x, o, n, [](float v) { return std::min(6.f, std::max(0.f, v)); }); break;
    case kSqrt: UnaryLoop(x, o, n, [](float v) { return std::sqrt(v); }); break;
    case kRsqrt: UnaryLoop(x, o, n, [](float v) { return static_cast<float>(1.0 / std::sqrt(static_cast<double>(v))); }); break;
    case kSquare: UnaryLoop(x, o, n, [](float v) { return v * v; }); break;
    case kAbs: UnaryLoop(x, o, n, [](float v) { return std::fabs(v); }); break;
    case kTanh: UnaryLoop(x, o, n, [](float v) { return std::tanh(v); }); break;
    case kSoftplus: UnaryLoop(x, o, n, Softplus); break;
    case kReciprocal: UnaryLoop(x, o, n, [](float v) { return 1.f / v; }); break;
    case kAtan: UnaryLoop(x, o, n, [](float v) { return std::atan(v); }); break;
    case kLog1p: UnaryLoop(x, o, n, [](float v) { return std::log1p(v); }); break;
    case kExpm1: UnaryLoop(x, o, n, [](float v) { return std::expm1(v); }); break;
    case kElu: UnaryLoop(x, o, n, [](float v) { return v >= 0.f ? v : std::expm1(v); }); break;
    case kStep: UnaryLoop(x, o, n, [p0](float v) { return std::isnan(v) ? NAN : (v > 0.f ? 1.f : p0); }); break;
    case kLeakyRelu: UnaryLoop(x, o, n, [p0](float v) { return v < 0.f ? p0 * v : v; }); break;
    case kSign: UnaryLoop(x, o, n, [](float v) { return v > 0.f ? 1.f : (v < 0.f ? -1.f : v); }); break;
    case kFloor: UnaryLoop(x, o, n, [](float v) { return std::floor(v); }); break;
    case kCeil: UnaryLoop(x, o, n, [](float v) { return std::ceil(v); }); break;
    case kClip: UnaryLoop(x, o, n, [p0, p1](float v) { return v > p1 ? p1 : (v < p0 ? p0 : v); }); break;
    case kSin: UnaryLoop(x, o, n, [](float v) { return std::sin(v); }); break;
    case kCos: UnaryLoop(x, o, n, [](float v) { return std::cos(v); }); break;
    default: throw Napi::RangeError::New(info.Env(), "unary: unknown op");
  }
  return info.Env().Undefined();
}

// addN([x0, x1, ...], out): summed left to right, as the JS kernel does.
Napi::Value AddN(const Napi::CallbackInfo& info) {
  Need(info, 2, "addN");
  std::vector<float*> xs = F32s(info[0], "inputs");
  float* o = F32(info[1], "out");
  const int64_t n = static_cast<int64_t>(Len(info[1]));
  const int64_t k = static_cast<int64_t>(xs.size());
#pragma omp parallel for schedule(static) if (n * k > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    float s = 0.f;
    for (int64_t j = 0; j < k; ++j) s += xs[j][i];
    o[i] = s;
  }
  return info.Env().Undefined();
}

}  // namespace

void InitElementwise(Napi::Env env, Napi::Object exports) {
  exports.Set("binary", Napi::Function::New(env, Binary, "binary"));
  exports.Set("unary", Napi::Function::New(env, Unary, "unary"));
  exports.Set("addN", Napi::Function::New(env, AddN, "addN"));
}

}  // namespace flot
