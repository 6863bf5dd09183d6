// Device memory: one CUDA stream, allocations from the device's stream-ordered memory pool
// (cudaMallocAsync / cudaFreeAsync, the pool keeps freed memory instead of returning it to the
// driver). In the host variant the same calls use malloc/free and plain copies.
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "api.h"
#include "common.cuh"

namespace flc {
namespace {
std::unordered_map<void*, size_t> g_sizes;
MemStats g_stats;
bool g_ready = false;

void Track(void* p, size_t bytes) {
  g_sizes[p] = bytes;
  g_stats.live++;
  g_stats.allocs++;
  g_stats.bytes += static_cast<int64_t>(bytes);
  if (g_stats.bytes > g_stats.peak) g_stats.peak = g_stats.bytes;
}
void Untrack(void* p) {
  auto it = g_sizes.find(p);
  if (it == g_sizes.end()) throw std::runtime_error("free of memory this backend did not allocate");
  g_stats.live--;
  g_stats.bytes -= static_cast<int64_t>(it->second);
  g_sizes.erase(it);
}
}  // namespace

bool InitGemm(std::string* why);  // gemm.cu

#ifdef __CUDACC__
namespace {
cudaStream_t g_stream = nullptr;
cudaMemPool_t g_pool = nullptr;
std::string g_name;
}  // namespace

void CheckCuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA ") + what + ": " + cudaGetErrorString(e));
}
cudaStream_t Stream() { return g_stream; }

bool Init(std::string* why) {
  if (g_ready) return true;
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    *why = e != cudaSuccess ? std::string("no CUDA device: ") + cudaGetErrorString(e) : "no CUDA device";
    return false;
  }
  int dev = 0;
  cudaDeviceProp prop;
  if ((e = cudaSetDevice(dev)) != cudaSuccess || (e = cudaGetDeviceProperties(&prop, dev)) != cudaSuccess) {
    *why = std::string("CUDA device 0: ") + cudaGetErrorString(e);
    return false;
  }
  int pools = 0;
  cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, dev);
  if (!pools) {
    *why = "the device or driver has no stream-ordered memory pools (cudaMallocAsync)";
    return false;
  }
  if ((e = cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking)) != cudaSuccess ||
      (e = cudaDeviceGetDefaultMemPool(&g_pool, dev)) != cudaSuccess) {
    *why = std::string("CUDA stream/pool: ") + cudaGetErrorString(e);
    return false;
  }
  // Keep freed blocks in the pool (as PyTorch's caching allocator does) instead of returning
  // them to the driver at every synchronisation.
  uint64_t keep = UINT64_MAX;
  cudaMemPoolSetAttribute(g_pool, cudaMemPoolAttrReleaseThreshold, &keep);
  if (!InitGemm(why)) return false;
  g_name = std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ", " +
           std::to_string(prop.totalGlobalMem >> 20) + " MiB)";
  g_ready = true;
  return true;
}
std::string DeviceName() { return g_name; }
bool IsHost() { return false; }

void* Alloc(size_t bytes) {
  void* p = nullptr;
  CheckCuda(cudaMallocAsync(&p, bytes ? bytes : 4, g_stream), "cudaMallocAsync");
  Track(p, bytes);
  return p;
}
void Free(void* p) {
  Untrack(p);
  CheckCuda(cudaFreeAsync(p, g_stream), "cudaFreeAsync");
}
void Upload(void* dst, const void* src, size_t bytes) {
  g_stats.uploads++;
  g_stats.uploadBytes += static_cast<int64_t>(bytes);
  // From pageable memory: returns once the source has been staged, so the caller may reuse it.
  CheckCuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, g_stream), "upload");
}
void Download(void* dst, const void* src, size_t bytes) {
  g_stats.downloads++;
  g_stats.downloadBytes += static_cast<int64_t>(bytes);
  CheckCuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, g_stream), "download");
  CheckCuda(cudaStreamSynchronize(g_stream), "download (stream)");
}
void CopyD2D(void* dst, const void* src, size_t bytes) {
  CheckCuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, g_stream), "device copy");
}
void Zero(void* p, size_t bytes) { CheckCuda(cudaMemsetAsync(p, 0, bytes, g_stream), "memset"); }
void Sync() { CheckCuda(cudaStreamSynchronize(g_stream), "synchronize"); }
void TrimPool() {
  Sync();
  cudaMemPoolTrimTo(g_pool, 0);
}
#else
bool Init(std::string* why) {
  if (g_ready) return true;
  if (!InitGemm(why)) return false;
  g_ready = true;
  return true;
}
std::string DeviceName() { return "host stand-in (kernel bodies on the CPU)"; }
bool IsHost() { return true; }
void* Alloc(size_t bytes) {
  void* p = std::aligned_alloc(64, ((bytes ? bytes : 4) + 63) / 64 * 64);
  if (!p) throw std::runtime_error("host stand-in: out of memory");
  Track(p, bytes);
  return p;
}
void Free(void* p) {
  Untrack(p);
  std::free(p);
}
void Upload(void* dst, const void* src, size_t bytes) {
  g_stats.uploads++;
  g_stats.uploadBytes += static_cast<int64_t>(bytes);
  std::memcpy(dst, src, bytes);
}
void Download(void* dst, const void* src, size_t bytes) {
  g_stats.downloads++;
  g_stats.downloadBytes += static_cast<int64_t>(bytes);
  std::memcpy(dst, src, bytes);
}
void CopyD2D(void* dst, const void* src, size_t bytes) { std::memmove(dst, src, bytes); }
void Zero(void* p, size_t bytes) { std::memset(p, 0, bytes); }
void Sync() {}
void TrimPool() {}
#endif

MemStats Stats() { return g_stats; }

}  // namespace flc
