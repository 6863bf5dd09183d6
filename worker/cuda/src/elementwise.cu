// Broadcasting binary ops (float32 / int32, comparisons giving bool), unary maps, casts, fills,
// one-hot, select, bias + activation and inference BatchNorm.
#include <vector>

#include "api.h"
#include "common.cuh"

namespace flc {
namespace {

// Binary op codes: 0..7 as worker/native (Add, Sub, Multiply, RealDiv, Maximum, Minimum,
// SquaredDifference, Pow), then comparisons and logic, whose results are bool (0/1 in int32).
enum : int {
  kAdd = 0, kSub, kMul, kDiv, kMax, kMin, kSqDiff, kPow,
  kLess = 8, kLessEqual, kGreater, kGreaterEqual, kEqual, kNotEqual, kLogicalAnd, kLogicalOr, kFloorDiv
};

template <class T>
FL_HD inline T ApplyArith(int op, T x, T y) {
  switch (op) {
    case kAdd: return x + y;
    case kSub: return x - y;
    case kMul: return x * y;
    case kDiv: return x / y;
    case kMax: return x != x || y != y ? x + y : (x > y ? x : y);  // NaN propagates
    case kMin: return x != x || y != y ? x + y : (x < y ? x : y);
    case kSqDiff: return (x - y) * (x - y);
    default: return x;
  }
}

template <class T>
FL_HD inline int32_t ApplyCompare(int op, T x, T y) {
  switch (op) {
    case kLess: return x < y;
    case kLessEqual: return x <= y;
    case kGreater: return x > y;
    case kGreaterEqual: return x >= y;
    case kEqual: return x == y;
    case kNotEqual: return x != y;
    case kLogicalAnd: return (x != 0) && (y != 0);
    case kLogicalOr: return (x != 0) || (y != 0);
    default: return 0;
  }
}

template <class T, class O>
FL_HD inline O Apply(int op, T x, T y) {
  if (op >= kLess && op <= kLogicalOr) return static_cast<O>(ApplyCompare<T>(op, x, y));
  if (op == kPow) return static_cast<O>(::pow(static_cast<double>(x), static_cast<double>(y)));
  if (op == kFloorDiv) return static_cast<O>(::floor(static_cast<double>(x) / static_cast<double>(y)));
  return static_cast<O>(ApplyArith<T>(op, x, y));
}

template <class T, class O>
struct BinaryK {
  const T* a;
  const T* b;
  O* out;
  int rank, op;
  Dims shape, sa, sb;
  FL_HD void operator()(int64_t i) const {
    int64_t rem = i, oa = 0, ob = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t c = rem % shape[d];
      rem /= shape[d];
      oa += c * sa[d];
      ob += c * sb[d];
    }
    out[i] = Apply<T, O>(op, a[oa], b[ob]);
  }
};

// One operand a 1-element value passed by value (a constant written from JavaScript: no upload).
template <class T, class O>
struct BinaryScalarK {
  const T* a;
  T s;
  O* out;
  int op;
  bool scalarLeft;
  FL_HD void operator()(int64_t i) const { out[i] = scalarLeft ? Apply<T, O>(op, s, a[i]) : Apply<T, O>(op, a[i], s); }
};

// Unary op codes as worker/native/kernels/elementwise.ts UNARY_OPS numbers them.
enum : int {
  kNeg = 0, kExp, kLog, kSigmoid, kRelu, kRelu6, kSqrt, kRsqrt, kSquare, kAbs, kTanh, kSoftplus, kReciprocal,
  kAtan, kLog1p, kExpm1, kElu, kStep, kLeakyRelu, kSign, kFloor, kCeil, kClip, kSin, kCos
};

FL_HD inline float Softplus(float x) {
  // tfjs's thresholds, so the tails agree with its kernels: log(float eps) + 2.
  const float threshold = -13.942385152878742f;
  if (x < threshold) return ::expf(x);
  if (x > -threshold) return x;
  return ::log1pf(::expf(x));
}

FL_HD inline float UnaryOp(int op, float v, float p0, float p1) {
  switch (op) {
    case kNeg: return -v;
    case kExp: return ::expf(v);
    case kLog: return ::logf(v);
    case kSigmoid: return 1.f / (1.f + ::expf(-v));
    case kRelu: return v < 0.f ? 0.f : v;
    case kRelu6: return v < 0.f ? 0.f : (v > 6.f ? 6.f : v);
    case kSqrt: return ::sqrtf(v);
    case kRsqrt: return 1.f / ::sqrtf(v);
    case kSquare: return v * v;
    case kAbs: return ::fabsf(v);
    case kTanh: return ::tanhf(v);
    case kSoftplus: return Softplus(v);
    case kReciprocal: return 1.f / v;
    case kAtan: return ::atanf(v);
    case kLog1p: return ::log1pf(v);
    case kExpm1: return ::expm1f(v);
    case kElu: return v >= 0.f ? v : ::expm1f(v);
    case kStep: return v != v ? v : (v > 0.f ? 1.f : p0);
    case kLeakyRelu: return v < 0.f ? p0 * v : v;
    case kSign: return v > 0.f ? 1.f : (v < 0.f ? -1.f : v);
    case kFloor: return ::floorf(v);
    case kCeil: return ::ceilf(v);
    case kClip: return v > p1 ? p1 : (v < p0 ? p0 : v);
    case kSin: return ::sinf(v);
    case kCos: return ::cosf(v);
    default: return v;
  }
}

struct UnaryK {
  const float* x;
  float* out;
  int op;
  float p0, p1;
  FL_HD void operator()(int64_t i) const { out[i] = UnaryOp(op, x[i], p0, p1); }
};

// dtype codes: 0 float32, 1 int32, 2 bool (0/1 in an int32)
struct CastK {
  const void* x;
  void* out;
  int from, to;
  FL_HD void operator()(int64_t i) const {
    const double v = from == 0 ? static_cast<const float*>(x)[i] : static_cast<const int32_t*>(x)[i];
    if (to == 0) {
      static_cast<float*>(out)[i] = static_cast<float>(v);
    } else if (to == 1) {
      static_cast<int32_t*>(out)[i] = static_cast<int32_t>(v);  // truncates toward zero, as tfjs does
    } else {
      static_cast<int32_t*>(out)[i] = v != 0.0;
    }
  }
};

struct FillK {
  uint32_t* out;
  uint32_t bits;
  FL_HD void operator()(int64_t i) const { out[i] = bits; }
};

struct OneHotK {
  const int32_t* idx;
  uint32_t* out;
  int64_t depth;
  uint32_t on, off;  // bit patterns of the output dtype
  FL_HD void operator()(int64_t i) const { out[i] = idx[i / depth] == i % depth ? on : off; }
};

struct SelectK {
  const int32_t* cond;
  const uint32_t* a;
  const uint32_t* b;
  uint32_t* out;
  int64_t inner;
  FL_HD void operator()(int64_t i) const { out[i] = cond[i / inner] ? a[i] : b[i]; }
};

// Activation codes as worker/native/kernels/activation.ts: linear, relu, relu6, leakyrelu, sigmoid, elu.
FL_HD inline float Activate(int act, float v, float alpha) {
  switch (act) {
    case 1: return v < 0.f ? 0.f : v;
    case 2: return v < 0.f ? 0.f : (v > 6.f ? 6.f : v);
    case 3: return v < 0.f ? alpha * v : v;
    case 4: return 1.f / (1.f + ::expf(-v));
    case 5: return v >= 0.f ? v : ::expm1f(v);
    default: return v;
  }
}

struct BiasActK {
  float* y;
  const float* bias;
  int64_t cols;
  int act;
  float alpha;
  FL_HD void operator()(int64_t i) const {
    float v = y[i];
    if (bias) v += bias[i % cols];
    y[i] = Activate(act, v, alpha);
  }
};

struct BatchNormK {
  const float* x;
  float* out;
  int64_t c;
  const float *mean, *var, *offset, *scale;
  int64_t lm, lv, lo, ls;
  float eps;
  FL_HD void operator()(int64_t i) const {
    const int64_t ch = i % c;
    const float m = mean[lm == 1 ? 0 : ch], v = var[lv == 1 ? 0 : ch];
    const float o = offset ? offset[lo == 1 ? 0 : ch] : 0.f;
    const float s = scale ? scale[ls == 1 ? 0 : ch] : 1.f;
    out[i] = o + (x[i] - m) * s / ::sqrtf(v + eps);
  }
};

template <class T, class O>
void RunBinary(const void* a, const void* b, void* out, const std::vector<int64_t>& shape,
               const std::vector<int64_t>& sa, const std::vector<int64_t>& sb, int op) {
  BinaryK<T, O> k{static_cast<const T*>(a), static_cast<const T*>(b), static_cast<O*>(out),
                  static_cast<int>(shape.size()), op, {}, {}, {}};
  int64_t n = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    k.shape[d] = shape[d];
    k.sa[d] = sa[d];
    k.sb[d] = sb[d];
    n *= shape[d];
  }
  Launch(n, k);
}

}  // namespace

void Binary(const void* a, const void* b, void* out, const std::vector<int64_t>& shape, const std::vector<int64_t>& sa,
            const std::vector<int64_t>& sb, int op, int dtype) {
  if (shape.empty() || shape.size() > kMaxRank || sa.size() != shape.size() || sb.size() != shape.size()) {
    throw std::runtime_error("binary: shape and strides must have the same rank, 1 to 8");
  }
  const bool compare = op >= kLess && op <= kLogicalOr;
  if (dtype == 0) {
    if (compare) RunBinary<float, int32_t>(a, b, out, shape, sa, sb, op);
    else RunBinary<float, float>(a, b, out, shape, sa, sb, op);
  } else {
    RunBinary<int32_t, int32_t>(a, b, out, shape, sa, sb, op);
  }
}

void BinaryScalar(const void* a, double s, bool scalarLeft, void* out, int64_t n, int op, int dtype) {
  const bool compare = op >= kLess && op <= kLogicalOr;
  if (dtype == 0) {
    const float v = static_cast<float>(s);
    if (compare) Launch(n, BinaryScalarK<float, int32_t>{static_cast<const float*>(a), v, static_cast<int32_t*>(out), op, scalarLeft});
    else Launch(n, BinaryScalarK<float, float>{static_cast<const float*>(a), v, static_cast<float*>(out), op, scalarLeft});
  } else {
    Launch(n, BinaryScalarK<int32_t, int32_t>{static_cast<const int32_t*>(a), static_cast<int32_t>(s), static_cast<int32_t*>(out), op,
                                              scalarLeft});
  }
}

void Unary(const float* x, float* out, int64_t n, int op, float p0, float p1) { Launch(n, UnaryK{x, out, op, p0, p1}); }

void Cast(const void* x, void* out, int64_t n, int from, int to) { Launch(n, CastK{x, out, from, to}); }

void Fill(void* out, int64_t n, uint32_t bits) { Launch(n, FillK{static_cast<uint32_t*>(out), bits}); }

void OneHot(const int32_t* idx, uint32_t* out, int64_t n, int64_t depth, uint32_t on, uint32_t off) {
  Launch(n * depth, OneHotK{idx, out, depth, on, off});
}

void Select(const int32_t* cond, const void* a, const void* b, void* out, int64_t n, int64_t inner) {
  Launch(n, SelectK{cond, static_cast<const uint32_t*>(a), static_cast<const uint32_t*>(b), static_cast<uint32_t*>(out),
                    inner});
}

void BiasAct(float* y, int64_t rows, int64_t cols, const float* bias, int act, float alpha) {
  if (!bias && act == 0) return;
  Launch(rows * cols, BiasActK{y, bias, cols, act, alpha});
}

void BatchNormEval(const float* x, float* out, int64_t n, int64_t c, const float* mean, int64_t lm, const float* var,
                   int64_t lv, const float* offset, int64_t lo, const float* scale, int64_t ls, float eps) {
  Launch(n, BatchNormK{x, out, c, mean, var, offset, scale, lm, lv, lo, ls, eps});
}

}  // namespace flc
