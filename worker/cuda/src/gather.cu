// GatherV2 (4-byte elements; an index out of range gives zeros, as there is no host check on
// the device), UnsortedSegmentSum and ScatterNd (sums by atomics into zeroed outputs).
#include "api.h"
#include "common.cuh"

namespace flc {
namespace {

struct GatherK {
  const uint32_t* x;
  const int32_t* idx;
  uint32_t* out;
  int64_t axis, nIdx, inner;
  FL_HD void operator()(int64_t i) const {
    const int64_t k = i % inner, j = (i / inner) % nIdx, o = i / (inner * nIdx);
    const int64_t a = idx[j];
    out[i] = a >= 0 && a < axis ? x[(o * axis + a) * inner + k] : 0u;
  }
};

struct SegmentSumK {
  const float* x;
  const int32_t* ids;
  float* out;
  int64_t inner, segments;
  FL_HD void operator()(int64_t i) const {
    const int64_t seg = ids[i / inner];
    if (seg >= 0 && seg < segments) AtomicAdd(out + seg * inner + i % inner, x[i]);
  }
};

struct ScatterK {
  const int32_t* idx;
  const float* upd;
  float* out;
  int64_t sliceRank, sliceSize, slices;
  Dims strides;
  FL_HD void operator()(int64_t i) const {
    const int64_t u = i / sliceSize, k = i % sliceSize;
    int64_t flat = 0;
    for (int64_t j = 0; j < sliceRank; ++j) flat += idx[u * sliceRank + j] * strides[static_cast<int>(j)];
    if (flat >= 0 && flat < slices) AtomicAdd(out + flat * sliceSize + k, upd[i]);
  }
};

}  // namespace

void Gather(const void* x, const int32_t* idx, void* out, int64_t outer, int64_t axis, int64_t nIdx, int64_t inner) {
  Launch(outer * nIdx * inner, GatherK{static_cast<const uint32_t*>(x), idx, static_cast<uint32_t*>(out), axis, nIdx, inner});
}

void SegmentSum(const float* x, const int32_t* ids, float* out, int64_t n, int64_t inner, int64_t segments) {
  Zero(out, static_cast<size_t>(segments * inner) * sizeof(float));
  Launch(n * inner, SegmentSumK{x, ids, out, inner, segments});
}

void ScatterNd(const int32_t* idx, const float* upd, float* out, int64_t numUpd, int64_t sliceRank, const int64_t* strides,
               int64_t sliceSize, int64_t slices) {
  if (sliceRank > kMaxRank) throw std::runtime_error("scatterNd: index depth above 8");
  Zero(out, static_cast<size_t>(slices * sliceSize) * sizeof(float));
  ScatterK k{idx, upd, out, sliceRank, sliceSize, slices, {}};
  for (int64_t j = 0; j < sliceRank; ++j) k.strides[static_cast<int>(j)] = strides[j];
  Launch(numUpd * sliceSize, k);
}

}  // namespace flc
