// Reductions of x viewed as [outer, r, inner] over r, in two passes: partial results over
// chunks of r (enough of them to fill the device), then over the chunks (sums in double).
#include <cfloat>

#include "api.h"
#include "common.cuh"

namespace flc {
namespace {

enum : int { kSum = 0, kMean, kMax, kMin, kProd };

FL_HD inline double Start(int op) {
  return op == kMax ? -INFINITY : op == kMin ? INFINITY : op == kProd ? 1.0 : 0.0;
}
FL_HD inline double Combine(int op, double acc, double v) {
  switch (op) {
    case kMax: return v != v || acc != acc ? NAN : (v > acc ? v : acc);
    case kMin: return v != v || acc != acc ? NAN : (v < acc ? v : acc);
    case kProd: return acc * v;
    default: return acc + v;
  }
}

// partial[(o·chunks + k)·inner + j] over r in [k·len, (k+1)·len)
struct PartialK {
  const float* x;
  float* partial;
  int64_t r, inner, chunks, len;
  int op;
  FL_HD void operator()(int64_t i) const {
    const int64_t j = i % inner, k = (i / inner) % chunks, o = i / (inner * chunks);
    const int64_t r0 = k * len, r1 = r0 + len < r ? r0 + len : r;
    const float* p = x + o * r * inner + j;
    if (op == kSum || op == kMean) {
      float acc = 0.f;
      for (int64_t q = r0; q < r1; ++q) acc += p[q * inner];
      partial[i] = acc;
    } else {
      double acc = Start(op);
      for (int64_t q = r0; q < r1; ++q) acc = Combine(op, acc, p[q * inner]);
      partial[i] = static_cast<float>(acc);
    }
  }
};

struct FinalK {
  const float* partial;
  float* out;
  int64_t chunks, inner, r;
  int op;
  FL_HD void operator()(int64_t i) const {
    const int64_t j = i % inner, o = i / inner;
    double acc = Start(op);
    for (int64_t k = 0; k < chunks; ++k) acc = Combine(op == kMean ? kSum : op, acc, partial[(o * chunks + k) * inner + j]);
    out[i] = static_cast<float>(op == kMean ? acc / static_cast<double>(r) : acc);
  }
};

struct ArgK {
  const float* x;
  int32_t* out;
  int64_t r, inner;
  bool max;
  FL_HD void operator()(int64_t i) const {
    const int64_t j = i % inner, o = i / inner;
    const float* p = x + o * r * inner + j;
    float best = p[0];
    int32_t arg = 0;
    for (int64_t q = 1; q < r; ++q) {
      const float v = p[q * inner];
      if (max ? v > best : v < best) {
        best = v;
        arg = static_cast<int32_t>(q);
      }
    }
    out[i] = arg;
  }
};

}  // namespace

void Reduce(const float* x, float* out, int64_t outer, int64_t r, int64_t inner, int op) {
  const int64_t outs = outer * inner;
  if (outs == 0) return;
  // Chunks of r so that there are ~64K partial results, each of at least 64 elements.
  int64_t chunks = 1;
  if (r > 128 && outs < 65536) {
    chunks = (65536 + outs - 1) / outs;
    const int64_t most = (r + 63) / 64;
    if (chunks > most) chunks = most;
  }
  const int64_t len = (r + chunks - 1) / chunks;
  chunks = r == 0 ? 1 : (r + len - 1) / len;
  Scratch partial(static_cast<size_t>(outs * chunks) * sizeof(float));
  Launch(outs * chunks, PartialK{x, partial.f(), r, inner, chunks, len == 0 ? 1 : len, op});
  Launch(outs, FinalK{partial.f(), out, chunks, inner, r, op});
}

void ArgReduce(const float* x, int32_t* out, int64_t outer, int64_t r, int64_t inner, bool max) {
  Launch(outer * inner, ArgK{x, out, r, inner, max});
}

}  // namespace flc
