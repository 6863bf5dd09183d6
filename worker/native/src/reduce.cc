// Reductions over the middle axis of an [outer, R, inner] view: sum, mean, max, min, prod.
// Sums accumulate in double, as the JS kernels do.
#include <algorithm>
#include <cmath>
#include <limits>

#include "common.h"

namespace flot {
namespace {

enum RedOp : int { kSum = 0, kMean, kMax, kMin, kProd };

double Init(int op) {
  switch (op) {
    case kMax: return -std::numeric_limits<double>::infinity();
    case kMin: return std::numeric_limits<double>::infinity();
    case kProd: return 1.0;
    default: return 0.0;
  }
}

// Folds rows [r0, r1) of one [R, inner] slab into acc.
void Fold(const float* x, int64_t r0, int64_t r1, int64_t inner, int op, double* acc) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* row = x + r * inner;
    switch (op) {
      case kMax:
        for (int64_t i = 0; i < inner; ++i) acc[i] = (row[i] > acc[i] || std::isnan(row[i])) ? row[i] : acc[i];
        break;
      case kMin:
        for (int64_t i = 0; i < inner; ++i) acc[i] = (row[i] < acc[i] || std::isnan(row[i])) ? row[i] : acc[i];
        break;
      case kProd:
        for (int64_t i = 0; i < inner; ++i) acc[i] *= row[i];
        break;
      default:
        for (int64_t i = 0; i < inner; ++i) acc[i] += row[i];
        break;
    }
  }
}

double SumRun(const float* x, int64_t n) {
  double s = 0.0;
  for (int64_t j = 0; j < n; ++j) s += x[j];
  return s;
}

void Combine(double* acc, const double* part, int64_t inner, int op) {
  for (int64_t i = 0; i < inner; ++i) {
    switch (op) {
      case kMax: acc[i] = (part[i] > acc[i] || std::isnan(part[i])) ? part[i] : acc[i]; break;
      case kMin: acc[i] = (part[i] < acc[i] || std::isnan(part[i])) ? part[i] : acc[i]; break;
      case kProd: acc[i] *= part[i]; break;
      default: acc[i] += part[i]; break;
    }
  }
}

void Finish(const double* acc, float* o, int64_t inner, int op, int64_t R) {
  for (int64_t i = 0; i < inner; ++i) o[i] = static_cast<float>(op == kMean ? acc[i] / static_cast<double>(R) : acc[i]);
}

// reduce(x, out, outer, R, inner, op)
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  Need(info, 6, "reduce");
  const float* x = F32(info[0], "x");
  float* o = F32(info[1], "out");
  const int64_t outer = Int(info[2], "outer"), R = Int(info[3], "R"), inner = Int(info[4], "inner");
  const int op = static_cast<int>(Int(info[5], "op"));
  if (op < kSum || op > kProd) throw Napi::RangeError::New(info.Env(), "reduce: unknown op");
  const int nt = omp_get_max_threads();
  const bool big = outer * R * inner > kParallelMin;
  if (outer >= 2 * nt || !big) {
#pragma omp parallel if (big)
    {
      std::vector<double> acc(inner);
#pragma omp for schedule(static)
      for (int64_t q = 0; q < outer; ++q) {
        const float* slab = x + q * R * inner;
        if (inner == 1 && (op == kSum || op == kMean)) {
          acc[0] = SumRun(slab, R);
        } else {
          std::fill(acc.begin(), acc.end(), Init(op));
          Fold(slab, 0, R, inner, op, acc.data());
        }
        Finish(acc.data(), o + q * inner, inner, op, R);
      }
    }
    return info.Env().Undefined();
  }
  // Few outputs, long reductions: each thread folds a band of rows, then the bands combine.
  std::vector<double> parts(static_cast<size_t>(nt) * inner);
  for (int64_t q = 0; q < outer; ++q) {
    const float* slab = x + q * R * inner;
    std::fill(parts.begin(), parts.end(), Init(op));
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num(), n = omp_get_num_threads();
      const int64_t r0 = R * t / n, r1 = R * (t + 1) / n;
      double* acc = parts.data() + static_cast<size_t>(t) * inner;
      if (inner == 1 && (op == kSum || op == kMean)) {
        acc[0] = SumRun(slab + r0, r1 - r0);
      } else {
        Fold(slab, r0, r1, inner, op, acc);
      }
    }
    for (int t = 1; t < nt; ++t) Combine(parts.data(), parts.data() + static_cast<size_t>(t) * inner, inner, op);
    Finish(parts.data(), o + q * inner, inner, op, R);
  }
  return info.Env().Undefined();
}

}  // namespace

void InitReduce(Napi::Env env, Napi::Object exports) {
  exports.Set("reduce", Napi::Function::New(env, Reduce, "reduce"));
}

}  // namespace flot
