// Team-split sgemm and per-thread scratch (gemm.h).
#include "gemm.h"

#include <omp.h>

#include <algorithm>

namespace flot {

float* Scratch(int64_t n, int slot) {
  thread_local std::vector<float> bufs[4];
  std::vector<float>& b = bufs[slot & 3];
  if (static_cast<int64_t>(b.size()) < n) b.resize(static_cast<size_t>(n));
  return b.data();
}

void GemmRows(bool transB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
              int64_t ldb, float beta, float* C, int64_t ldc) {
  const CBLAS_TRANSPOSE tb = transB ? CblasTrans : CblasNoTrans;
  const bool par = M * N * K > kGemmParallelMin && M >= 2 * omp_get_max_threads();
#pragma omp parallel if (par)
  {
    int64_t lo, hi;
    Split(M, omp_get_num_threads(), omp_get_thread_num(), &lo, &hi);
    if (hi > lo) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, hi - lo, N, K, 1.f, A + lo * lda, lda, B, ldb, beta, C + lo * ldc,
                  ldc);
    }
  }
}

}  // namespace flot
