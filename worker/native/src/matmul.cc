// Batched matmul with broadcast batches, optional bias and fused activation, on OpenBLAS sgemm.
#include <cblas.h>

#include <algorithm>

#include "common.h"
#include "gemm.h"

namespace flot {
namespace {

// batchMatMul(a, b, out, [batchA, batchB, M, N, K, transA, transB], bias|null, act, alpha)
Napi::Value BatchMatMul(const Napi::CallbackInfo& info) {
  Need(info, 5, "batchMatMul");
  const float* a = F32(info[0], "a");
  const float* b = F32(info[1], "b");
  float* out = F32(info[2], "out");
  std::vector<int64_t> p = Ints(info[3], "matmul shape");
  if (p.size() != 7) throw Napi::TypeError::New(info.Env(), "matmul shape needs 7 numbers");
  const int64_t batchA = p[0], batchB = p[1], M = p[2], N = p[3], K = p[4];
  const bool ta = p[5] != 0, tb = p[6] != 0;
  const float* bias = info[4].IsNull() || info[4].IsUndefined() ? nullptr : F32(info[4], "bias");
  const int act = info.Length() > 5 ? static_cast<int>(Int(info[5], "activation")) : kLinear;
  const float alpha = info.Length() > 6 ? static_cast<float>(Num(info[6], "alpha")) : 0.f;
  const int64_t batch = std::max(batchA, batchB);
  const int64_t lda = ta ? M : K, ldb = tb ? K : N;
  if (batchB == 1 && !ta && batch > 1) {
    // Every batch of A meets the same B: one tall gemm instead of many short ones.
    GemmRows(tb, batch * M, N, K, a, lda, b, ldb, 0.f, out, N);
  } else if (batch == 1 && !ta) {
    GemmRows(tb, M, N, K, a, lda, b, ldb, 0.f, out, N);
  } else {
#pragma omp parallel for schedule(static) if (batch > 1 && batch * M * N * K > kGemmParallelMin)
    for (int64_t i = 0; i < batch; ++i) {
      cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.f,
                  a + (i % batchA) * M * K, lda, b + (i % batchB) * K * N, ldb, 0.f, out + i * M * N, N);
    }
  }
  if (bias != nullptr || act != kLinear) ApplyBiasAct(out, batch * M, N, bias, act, alpha);
  return info.Env().Undefined();
}

// sgemm(a, b, c, M, N, K): c = a·b, row-major, split over the team as the kernels split theirs;
// the machine rate the benchmark compares the convs with.
Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  Need(info, 6, "sgemm");
  const int64_t M = Int(info[3], "M"), N = Int(info[4], "N"), K = Int(info[5], "K");
  GemmRows(false, M, N, K, F32(info[0], "a"), K, F32(info[1], "b"), N, 0.f, F32(info[2], "c"), N);
  return info.Env().Undefined();
}

}  // namespace

void InitMatmul(Napi::Env env, Napi::Object exports) {
  exports.Set("batchMatMul", Napi::Function::New(env, BatchMatMul, "batchMatMul"));
  exports.Set("sgemm", Napi::Function::New(env, Sgemm, "sgemm"));
}

}  // namespace flot
