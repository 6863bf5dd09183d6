// sgemm split across the OpenMP team by the kernels themselves: OpenBLAS runs single-threaded
// inside each thread, so the whole addon has one thread pool (libgomp's) instead of two that
// wake, spin and sleep in turn, and each thread's operands stay in its own core's cache.
#pragma once
#include <cblas.h>

#include <cstdint>
#include <vector>

namespace flot {

// Work (in multiply-adds) below which a gemm runs on the calling thread alone.
constexpr int64_t kGemmParallelMin = int64_t{1} << 21;

// [lo, hi) of `total` items for thread `tid` of `nt`, in contiguous near-equal blocks.
inline void Split(int64_t total, int nt, int tid, int64_t* lo, int64_t* hi) {
  const int64_t base = total / nt, extra = total % nt;
  *lo = tid * base + (tid < extra ? tid : extra);
  *hi = *lo + base + (tid < extra ? 1 : 0);
}

// A per-thread scratch buffer of at least n floats, kept between calls (slot picks one of a few).
float* Scratch(int64_t n, int slot);

// C[M, N] = A[M, K] · op(B) (+ beta·C), row-major; rows of A and C split across the team.
void GemmRows(bool transB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
              int64_t ldb, float beta, float* C, int64_t ldc);

// Inside a parallel region, after each thread stored its partial in parts[tid] (parts[0] is
// dst itself): dst += parts[1..team). Waits for the whole team first.
inline void SumPartials(float* dst, const std::vector<float*>& parts, int team, int64_t size) {
#pragma omp barrier
#pragma omp for schedule(static)
  for (int64_t i = 0; i < size; ++i) {
    float v = dst[i];
    for (int t = 1; t < team; ++t) v += parts[t][i];
    dst[i] = v;
  }
}

}  // namespace flot
