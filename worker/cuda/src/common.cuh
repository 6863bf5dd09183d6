// Shared by every kernel source. Each kernel is a functor whose body is a __host__ __device__
// function of one index; Launch runs it over the index range: as a CUDA grid on the backend's
// stream when nvcc compiles the file, and as an (OpenMP) loop on the CPU when g++ compiles the
// same file for the host variant (FLOTILLA_BACKEND=cuda-host, the tests of this machine).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cmath>
#include <stdexcept>
#include <string>

#ifdef __CUDACC__
#include <cuda_runtime.h>
#define FL_HD __host__ __device__
#else
#define FL_HD
#endif

namespace flc {

// Most dims a strided copy or a broadcast op takes after collapsing adjacent dims.
constexpr int kMaxRank = 8;

#ifdef __CUDACC__
cudaStream_t Stream();
void CheckCuda(cudaError_t e, const char* what);

template <class F>
__global__ void GridKernel(int64_t n, F f) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) f(i);
}
#endif

// Runs f(i) for every i in [0, n).
template <class F>
void Launch(int64_t n, const F& f) {
  if (n <= 0) return;
#ifdef __CUDACC__
  constexpr int kThreads = 256;
  int64_t blocks = (n + kThreads - 1) / kThreads;
  if (blocks > (int64_t{1} << 20)) blocks = int64_t{1} << 20;  // the grid-stride loop covers the rest
  GridKernel<<<static_cast<unsigned>(blocks), kThreads, 0, Stream()>>>(n, f);
  CheckCuda(cudaGetLastError(), "kernel launch");
#else
#pragma omp parallel for schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) f(i);
#endif
}

FL_HD inline void AtomicAdd(float* p, float v) {
#ifdef __CUDA_ARCH__
  atomicAdd(p, v);
#else
#pragma omp atomic
  *p += v;
#endif
}

// A fixed-size array that travels by value into a kernel.
template <class T, int N>
struct Arr {
  T v[N];
  FL_HD T& operator[](int i) { return v[i]; }
  FL_HD const T& operator[](int i) const { return v[i]; }
};
using Dims = Arr<int64_t, kMaxRank>;

}  // namespace flc
