// One strided copy of 4-byte elements for every layout op: Slice, Concat, SplitV, Pack, Unpack,
// Transpose (strides permuted), PadV2 (a fill value outside the input), Tile (coordinates
// modulo the input's extent). The TypeScript side describes each op as boxes (kernels/layout.ts).
#include "api.h"
#include "common.cuh"

namespace flc {
namespace {

struct CopyK {
  const uint32_t* in;
  uint32_t* out;
  int rank;
  bool tile;
  uint32_t fill;
  int64_t inBase, outBase;
  Dims shape, outStride, inStride, inDim, before;
  FL_HD void operator()(int64_t i) const {
    int64_t rem = i, oo = outBase, io = inBase;
    bool inside = true;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t c = rem % shape[d];
      rem /= shape[d];
      oo += c * outStride[d];
      int64_t ci = c - before[d];
      if (tile) ci %= inDim[d];
      if (ci < 0 || ci >= inDim[d]) inside = false;
      io += ci * inStride[d];
    }
    out[oo] = inside ? in[io] : fill;
  }
};

}  // namespace

void StridedCopy(const void* in, void* out, const CopyDesc& d) {
  if (d.rank < 1 || d.rank > kMaxRank) throw std::runtime_error("strided copy: rank must be 1 to 8");
  CopyK k{static_cast<const uint32_t*>(in), static_cast<uint32_t*>(out), d.rank, d.tile, d.fill, d.inBase, d.outBase,
          {}, {}, {}, {}, {}};
  int64_t n = 1;
  for (int i = 0; i < d.rank; ++i) {
    k.shape[i] = d.shape[i];
    k.outStride[i] = d.outStride[i];
    k.inStride[i] = d.inStride[i];
    k.inDim[i] = d.inDim[i];
    k.before[i] = d.before[i];
    n *= d.shape[i];
  }
  Launch(n, k);
}

}  // namespace flc
