// Gather along one axis and its adjoint, the unsorted segment sum.
#include <cstring>

#include "common.h"

namespace flot {
namespace {

// gather(x, indices, out, outer, axisSize, inner) -> false when an index is out of range
// (the caller then lets the JS kernel raise its error).
Napi::Value Gather(const Napi::CallbackInfo& info) {
  Need(info, 6, "gather");
  const float* x = F32(info[0], "x");
  const int32_t* idx = I32(info[1], "indices");
  float* o = F32(info[2], "out");
  const int64_t outer = Int(info[3], "outer"), axis = Int(info[4], "axisSize"), inner = Int(info[5], "inner");
  const int64_t n = static_cast<int64_t>(Len(info[1]));
  for (int64_t i = 0; i < n; ++i) {
    if (idx[i] < 0 || idx[i] >= axis) return Napi::Boolean::New(info.Env(), false);
  }
#pragma omp parallel for schedule(static) if (outer * n * inner > kParallelMin)
  for (int64_t r = 0; r < outer * n; ++r) {
    const int64_t q = r / n, i = r % n;
    std::memcpy(o + r * inner, x + (q * axis + idx[i]) * inner, sizeof(float) * inner);
  }
  return Napi::Boolean::New(info.Env(), true);
}

// segmentSum(x, ids, out, inner): out[ids[i]] += x[i] over rows of `inner` floats; ids outside
// [0, rows of out) are dropped, as the JS kernel drops them. Sums accumulate in double.
Napi::Value SegmentSum(const Napi::CallbackInfo& info) {
  Need(info, 4, "segmentSum");
  const float* x = F32(info[0], "x");
  const int32_t* ids = I32(info[1], "segmentIds");
  float* o = F32(info[2], "out");
  const int64_t inner = Int(info[3], "inner");
  const int64_t n = static_cast<int64_t>(Len(info[1]));
  const int64_t segs = inner > 0 ? static_cast<int64_t>(Len(info[2])) / inner : 0;
  std::vector<double> acc(static_cast<size_t>(segs * inner), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t s = ids[i];
    if (s < 0 || s >= segs) continue;
    double* a = acc.data() + s * inner;
    const float* xr = x + i * inner;
    for (int64_t k = 0; k < inner; ++k) a[k] += xr[k];
  }
  for (int64_t k = 0; k < segs * inner; ++k) o[k] = static_cast<float>(acc[k]);
  return info.Env().Undefined();
}

// scatterAdd(updates, ids, out, inner): out[ids[i]] += updates[i] over rows of `inner` floats,
// in float and in update order, as tfjs's ScatterNd sums; out holds zeros (or a base) already.
// Ids were range-checked by the caller. Only the touched rows are visited, so scattering a
// few hundred target rows into a whole prediction map costs what the rows cost.
Napi::Value ScatterAdd(const Napi::CallbackInfo& info) {
  Need(info, 4, "scatterAdd");
  const float* u = F32(info[0], "updates");
  const int32_t* ids = I32(info[1], "ids");
  float* o = F32(info[2], "out");
  const int64_t inner = Int(info[3], "inner");
  const int64_t n = static_cast<int64_t>(Len(info[1]));
  for (int64_t i = 0; i < n; ++i) {
    float* d = o + static_cast<int64_t>(ids[i]) * inner;
    const float* ur = u + i * inner;
    for (int64_t k = 0; k < inner; ++k) d[k] += ur[k];
  }
  return info.Env().Undefined();
}

}  // namespace

void InitGather(Napi::Env env, Napi::Object exports) {
  exports.Set("gather", Napi::Function::New(env, Gather, "gather"));
  exports.Set("segmentSum", Napi::Function::New(env, SegmentSum, "segmentSum"));
  exports.Set("scatterAdd", Napi::Function::New(env, ScatterAdd, "scatterAdd"));
}

}  // namespace flot
