// Row-major GEMM. The CUDA build calls cuBLAS, loaded with dlopen when the device starts
// (FLOTILLA_CUBLAS, the library the build found, then libcublas.so.13/.12/.11 from the loader's
// path or /usr/local/cuda; worker/cuda/addon.ts points FLOTILLA_CUBLAS at the `nvidia` pip
// package's when it finds one), so building needs only nvcc and the CUDA runtime; TF32 stays off unless
// asked for (FP32 results comparable with the CPU kernels). The host variant calls OpenBLAS.
#include "api.h"
#include "common.cuh"

#ifdef __CUDACC__
#include <dlfcn.h>

#include <cstdlib>
#include <vector>
#else
#include <cblas.h>
#endif

namespace flc {
namespace {
bool g_tf32 = false;
}

#ifdef __CUDACC__
namespace {
// The few entry points used, declared from cuBLAS's public C API (cublas_api.h).
using Handle = void*;
enum { kOpN = 0, kOpT = 1 };
enum { kDefaultMath = 0, kTf32Math = 3 };
using CreateFn = int (*)(Handle*);
using SetStreamFn = int (*)(Handle, cudaStream_t);
using SetMathModeFn = int (*)(Handle, int);
using SgemmFn = int (*)(Handle, int, int, int, int, int, const float*, const float*, int, const float*, int, const float*,
                        float*, int);
Handle g_handle = nullptr;
SetMathModeFn g_setMath = nullptr;
SgemmFn g_sgemm = nullptr;

void* OpenCublas(std::string* tried) {
  std::vector<std::string> names;
  if (const char* p = std::getenv("FLOTILLA_CUBLAS")) names.push_back(p);
#ifdef FLOTILLA_CUBLAS_HINT
  names.push_back(FLOTILLA_CUBLAS_HINT);  // the library the build found
#endif
  // The loader's path first, then the toolkit's usual places (not always in ld.so.conf).
  for (const char* dir : {"", "/usr/local/cuda/lib64/", "/usr/local/cuda/targets/x86_64-linux/lib/"}) {
    for (const char* v : {"13", "12", "11"}) names.push_back(std::string(dir) + "libcublas.so." + v);
  }
  names.push_back("libcublas.so");
  for (const auto& n : names) {
    if (void* h = dlopen(n.c_str(), RTLD_NOW | RTLD_GLOBAL)) return h;
    *tried += (tried->empty() ? "" : ", ") + n;
  }
  return nullptr;
}
}  // namespace

bool InitGemm(std::string* why) {
  std::string tried;
  void* lib = OpenCublas(&tried);
  if (!lib) {
    *why = "cuBLAS not found (tried " + tried + "; set FLOTILLA_CUBLAS to libcublas.so.N)";
    return false;
  }
  auto create = reinterpret_cast<CreateFn>(dlsym(lib, "cublasCreate_v2"));
  auto setStream = reinterpret_cast<SetStreamFn>(dlsym(lib, "cublasSetStream_v2"));
  g_setMath = reinterpret_cast<SetMathModeFn>(dlsym(lib, "cublasSetMathMode"));
  g_sgemm = reinterpret_cast<SgemmFn>(dlsym(lib, "cublasSgemm_v2"));
  if (!create || !setStream || !g_setMath || !g_sgemm) {
    *why = "the cuBLAS library found lacks cublasCreate_v2/cublasSgemm_v2";
    return false;
  }
  if (create(&g_handle) != 0 || setStream(g_handle, Stream()) != 0) {
    *why = "cublasCreate failed";
    return false;
  }
  const char* tf32 = std::getenv("FLOTILLA_CUDA_TF32");
  SetTf32(tf32 && std::string(tf32) == "1");
  return true;
}

void SetTf32(bool on) {
  g_tf32 = on;
  if (g_handle) g_setMath(g_handle, on ? kTf32Math : kDefaultMath);
}

void Gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: swap the operands.
  const int st = g_sgemm(g_handle, tb ? kOpT : kOpN, ta ? kOpT : kOpN, static_cast<int>(N), static_cast<int>(M),
                         static_cast<int>(K), &alpha, B, static_cast<int>(ldb), A, static_cast<int>(lda), &beta, C,
                         static_cast<int>(ldc));
  if (st != 0) throw std::runtime_error("cublasSgemm failed with status " + std::to_string(st));
}
#else
bool InitGemm(std::string*) { return true; }
void SetTf32(bool on) { g_tf32 = on; }  // no TF32 on the CPU; remembered for the report
void Gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {  // cblas leaves C untouched only when beta is 1
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<int>(M),
              static_cast<int>(N), static_cast<int>(K), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta,
              C, static_cast<int>(ldc));
}
#endif

bool Tf32() { return g_tf32; }

}  // namespace flc
