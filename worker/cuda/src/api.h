// The plain C++ interface of the kernel sources (src/*.cu), called by the N-API glue (addon.cc).
// Pointers are device addresses in the CUDA build and host addresses in the host variant; every
// call is enqueued on one stream, and only Download (and Sync) wait for it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace flc {

// ---- memory.cu: device memory (stream-ordered pool) or the host stand-in
struct MemStats {
  int64_t live = 0, bytes = 0, peak = 0, allocs = 0, uploads = 0, downloads = 0, uploadBytes = 0, downloadBytes = 0;
};
bool Init(std::string* why);  // false (and why) when no device or cuBLAS
std::string DeviceName();
bool IsHost();
void* Alloc(size_t bytes);
void Free(void* p);
void Upload(void* dst, const void* src, size_t bytes);
void Download(void* dst, const void* src, size_t bytes);  // waits for the stream
void CopyD2D(void* dst, const void* src, size_t bytes);
void Zero(void* p, size_t bytes);
void Sync();
MemStats Stats();
void TrimPool();

// Scratch memory freed (stream-ordered) at the end of a scope.
struct Scratch {
  void* p;
  explicit Scratch(size_t bytes) : p(bytes ? Alloc(bytes) : nullptr) {}
  ~Scratch() { if (p) Free(p); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  float* f() const { return static_cast<float*>(p); }
};

// ---- gemm.cu: row-major C[M,N] = alpha·op(A)·op(B) + beta·C (cuBLAS; OpenBLAS in the host variant)
void Gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc);
void SetTf32(bool on);
bool Tf32();

// ---- elementwise.cu (dtype codes: 0 float32, 1 int32, 2 bool stored as int32)
void Binary(const void* a, const void* b, void* out, const std::vector<int64_t>& shape, const std::vector<int64_t>& sa,
            const std::vector<int64_t>& sb, int op, int dtype);
// a op s (or s op a when scalarLeft) over n elements, s a value (float32 or int32 by dtype)
void BinaryScalar(const void* a, double s, bool scalarLeft, void* out, int64_t n, int op, int dtype);
void Unary(const float* x, float* out, int64_t n, int op, float p0, float p1);
void Cast(const void* x, void* out, int64_t n, int from, int to);
void Fill(void* out, int64_t n, uint32_t bits);
void OneHot(const int32_t* idx, uint32_t* out, int64_t n, int64_t depth, uint32_t on, uint32_t off);
void Select(const int32_t* cond, const void* a, const void* b, void* out, int64_t n, int64_t inner);
void BiasAct(float* y, int64_t rows, int64_t cols, const float* bias, int act, float alpha);
void BatchNormEval(const float* x, float* out, int64_t n, int64_t c, const float* mean, int64_t lm, const float* var,
                   int64_t lv, const float* offset, int64_t lo, const float* scale, int64_t ls, float eps);

// ---- copy.cu: one strided copy of 4-byte elements covers the layout ops
struct CopyDesc {
  int rank = 0;
  int64_t shape[8] = {0};      // the box written
  int64_t outStride[8] = {0};  // of the output, per box dim
  int64_t inStride[8] = {0};   // of the input, per box dim
  int64_t inDim[8] = {0};      // input extent per box dim (padding and tiling)
  int64_t before[8] = {0};     // padding before, per box dim
  bool tile = false;           // input coordinate taken modulo inDim
  uint32_t fill = 0;           // bits written where the input coordinate falls outside
  int64_t inBase = 0, outBase = 0;
};
void StridedCopy(const void* in, void* out, const CopyDesc& d);

// ---- reduce.cu: x viewed as [outer, r, inner] reduced over r (op: 0 sum, 1 mean, 2 max, 3 min, 4 prod)
void Reduce(const float* x, float* out, int64_t outer, int64_t r, int64_t inner, int op);
void ArgReduce(const float* x, int32_t* out, int64_t outer, int64_t r, int64_t inner, bool max);

// ---- conv.cu: NHWC convolution on GEMM; s = [n,h,w,c, oh,ow,oc, kh,kw, sh,sw, dh,dw, padTop,padLeft]
void Conv2d(const float* x, const float* w, float* out, const int64_t* s, const float* bias, int act, float alpha);
void Conv2dBackpropInput(const float* dy, const float* w, float* dx, const int64_t* s);
void Conv2dBackpropFilter(const float* x, const float* dy, float* dw, const int64_t* s);
void MatMul(const float* a, const float* b, float* out, int64_t batchA, int64_t batchB, int64_t M, int64_t N, int64_t K,
            bool ta, bool tb);

// ---- bn.cu: training BatchNorm (+SiLU when act is 1), rows × C, channels last
void BnActForward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* var,
                  int64_t rows, int64_t C, float eps, int act);
void BnActBackward(const float* dy, const float* x, const float* gamma, const float* beta, const float* mean,
                   const float* var, float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t C, float eps, int act);

// ---- pool.cu: s = [n,h,w,c, oh,ow, kh,kw, sh,sw, padTop,padLeft]
void MaxPool(const float* x, float* out, const int64_t* s);
void MaxPoolGrad(const float* dy, const float* x, float* dx, const int64_t* s);
void ResizeNearest(const float* x, float* out, const int64_t* s, const int32_t* rowMap, const int32_t* colMap);
void ResizeNearestGrad(const float* dy, float* dx, const int64_t* s, const int32_t* rowMap, const int32_t* colMap);

// ---- gather.cu (4-byte elements)
void Gather(const void* x, const int32_t* idx, void* out, int64_t outer, int64_t axis, int64_t nIdx, int64_t inner);
void SegmentSum(const float* x, const int32_t* ids, float* out, int64_t n, int64_t inner, int64_t segments);
void ScatterNd(const int32_t* idx, const float* upd, float* out, int64_t numUpd, int64_t sliceRank, const int64_t* strides,
               int64_t sliceSize, int64_t slices);

// ---- flat.cu: the optimizer's flat updates (per group range; lr, wd, mu, d, od are 1-element device values), Range
void NesterovRange(const float* p, const float* g, const float* v, float* po, float* vo, int64_t begin, int64_t end,
                   const float* lr, const float* wd, const float* mu, bool first);
void FlatEma(const float* e, const float* m, const float* d, const float* od, float* out, int64_t n);
void Range(void* out, int64_t n, double start, double step, bool isInt);  // start + i·step (exact for integer steps)

}  // namespace flc
