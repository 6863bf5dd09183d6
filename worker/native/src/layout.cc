// Data movement: slice, pad (place + fill), concat, split, tile, transpose. Every routine walks
// rows of the last dim so the innermost copy is one memcpy.
#include <algorithm>
#include <cstring>

#include "common.h"

namespace flot {
namespace {

std::vector<int64_t> Strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d) s[d] = s[d + 1] * shape[d + 1];
  return s;
}

int64_t Rows(const std::vector<int64_t>& shape) {
  int64_t r = 1;
  for (size_t d = 0; d + 1 < shape.size(); ++d) r *= shape[d];
  return r;
}

// Offset of row `row` of `iter` (all dims but the last) inside a tensor with `strides`,
// shifted by `begin` per dim.
int64_t RowOffset(int64_t row, const std::vector<int64_t>& iter, const std::vector<int64_t>& strides,
                  const std::vector<int64_t>& begin) {
  int64_t off = 0;
  for (int d = static_cast<int>(iter.size()) - 2; d >= 0; --d) {
    const int64_t i = row % iter[d];
    row /= iter[d];
    off += (begin[d] + i) * strides[d];
  }
  return off + begin.back() * strides.back();
}

void CheckRank(const Napi::Env& env, size_t a, size_t b, const char* fn) {
  if (a == 0 || a != b) throw Napi::TypeError::New(env, std::string(fn) + ": ranks differ or are zero");
}

// slice(x, xShape, begin, out, size)
Napi::Value Slice(const Napi::CallbackInfo& info) {
  Need(info, 5, "slice");
  const float* x = F32(info[0], "x");
  const auto shape = Ints(info[1], "shape"), begin = Ints(info[2], "begin"), size = Ints(info[4], "size");
  float* o = F32(info[3], "out");
  CheckRank(info.Env(), shape.size(), begin.size(), "slice");
  CheckRank(info.Env(), shape.size(), size.size(), "slice");
  const auto xs = Strides(shape);
  const int64_t rows = Rows(size), inner = size.back();
  if (inner == 0) return info.Env().Undefined();
#pragma omp parallel for schedule(static) if (rows * inner > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(o + r * inner, x + RowOffset(r, size, xs, begin), sizeof(float) * inner);
  }
  return info.Env().Undefined();
}

// pad(x, xShape, before, out, outShape, value)
Napi::Value Pad(const Napi::CallbackInfo& info) {
  Need(info, 6, "pad");
  const float* x = F32(info[0], "x");
  const auto shape = Ints(info[1], "shape"), before = Ints(info[2], "before"), oshape = Ints(info[4], "outShape");
  float* o = F32(info[3], "out");
  const float value = static_cast<float>(Num(info[5], "value"));
  CheckRank(info.Env(), shape.size(), before.size(), "pad");
  CheckRank(info.Env(), shape.size(), oshape.size(), "pad");
  const int64_t total = Rows(oshape) * oshape.back();
  std::fill(o, o + total, value);
  const auto os = Strides(oshape);
  const int64_t rows = Rows(shape), inner = shape.back();
  if (inner == 0) return info.Env().Undefined();
#pragma omp parallel for schedule(static) if (rows * inner > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(o + RowOffset(r, shape, os, before), x + r * inner, sizeof(float) * inner);
  }
  return info.Env().Undefined();
}

// concat([x0, ...], [inner0, ...], out, outer): inputs viewed as [outer, inner_i].
Napi::Value Concat(const Napi::CallbackInfo& info) {
  Need(info, 4, "concat");
  const auto xs = F32s(info[0], "inputs");
  const auto inners = Ints(info[1], "inners");
  float* o = F32(info[2], "out");
  const int64_t outer = Int(info[3], "outer");
  if (xs.size() != inners.size()) throw Napi::TypeError::New(info.Env(), "concat: inputs and inners differ");
  int64_t width = 0;
  for (int64_t w : inners) width += w;
#pragma omp parallel for schedule(static) if (outer * width > kParallelMin)
  for (int64_t r = 0; r < outer; ++r) {
    float* dst = o + r * width;
    for (size_t i = 0; i < xs.size(); ++i) {
      std::memcpy(dst, xs[i] + r * inners[i], sizeof(float) * inners[i]);
      dst += inners[i];
    }
  }
  return info.Env().Undefined();
}

// split(x, outer, [out0, ...], [inner0, ...]): the inverse of concat.
Napi::Value Split(const Napi::CallbackInfo& info) {
  Need(info, 4, "split");
  const float* x = F32(info[0], "x");
  const int64_t outer = Int(info[1], "outer");
  const auto os = F32s(info[2], "outputs");
  const auto inners = Ints(info[3], "inners");
  if (os.size() != inners.size()) throw Napi::TypeError::New(info.Env(), "split: outputs and inners differ");
  int64_t width = 0;
  for (int64_t w : inners) width += w;
#pragma omp parallel for schedule(static) if (outer * width > kParallelMin)
  for (int64_t r = 0; r < outer; ++r) {
    const float* src = x + r * width;
    for (size_t i = 0; i < os.size(); ++i) {
      std::memcpy(os[i] + r * inners[i], src, sizeof(float) * inners[i]);
      src += inners[i];
    }
  }
  return info.Env().Undefined();
}

// tile(x, xShape, reps, out)
Napi::Value Tile(const Napi::CallbackInfo& info) {
  Need(info, 4, "tile");
  const float* x = F32(info[0], "x");
  const auto shape = Ints(info[1], "shape"), reps = Ints(info[2], "reps");
  float* o = F32(info[3], "out");
  CheckRank(info.Env(), shape.size(), reps.size(), "tile");
  const int rank = static_cast<int>(shape.size());
  std::vector<int64_t> oshape(rank);
  for (int d = 0; d < rank; ++d) oshape[d] = shape[d] * reps[d];
  const auto xs = Strides(shape);
  const int64_t rows = Rows(oshape), inner = shape.back(), width = oshape.back();
  if (width == 0) return info.Env().Undefined();
#pragma omp parallel for schedule(static) if (rows * width > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, off = 0;
    for (int d = rank - 2; d >= 0; --d) {
      off += ((rem % oshape[d]) % shape[d]) * xs[d];
      rem /= oshape[d];
    }
    float* dst = o + r * width;
    for (int64_t k = 0; k < reps.back(); ++k) std::memcpy(dst + k * inner, x + off, sizeof(float) * inner);
  }
  return info.Env().Undefined();
}

// transpose(x, xShape, perm, out)
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  Need(info, 4, "transpose");
  const float* x = F32(info[0], "x");
  const auto shape = Ints(info[1], "shape"), perm = Ints(info[2], "perm");
  float* o = F32(info[3], "out");
  CheckRank(info.Env(), shape.size(), perm.size(), "transpose");
  const int rank = static_cast<int>(shape.size());
  const auto xs = Strides(shape);
  std::vector<int64_t> oshape(rank), ps(rank);
  for (int d = 0; d < rank; ++d) {
    oshape[d] = shape[perm[d]];
    ps[d] = xs[perm[d]];
  }
  const int64_t rows = Rows(oshape), inner = oshape.back(), step = ps.back();
  if (inner == 0) return info.Env().Undefined();
#pragma omp parallel for schedule(static) if (rows * inner > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, off = 0;
    for (int d = rank - 2; d >= 0; --d) {
      off += (rem % oshape[d]) * ps[d];
      rem /= oshape[d];
    }
    float* dst = o + r * inner;
    if (step == 1) {
      std::memcpy(dst, x + off, sizeof(float) * inner);
    } else {
      for (int64_t j = 0; j < inner; ++j) dst[j] = x[off + j * step];
    }
  }
  return info.Env().Undefined();
}

}  // namespace

void InitLayout(Napi::Env env, Napi::Object exports) {
  exports.Set("slice", Napi::Function::New(env, Slice, "slice"));
  exports.Set("pad", Napi::Function::New(env, Pad, "pad"));
  exports.Set("concat", Napi::Function::New(env, Concat, "concat"));
  exports.Set("split", Napi::Function::New(env, Split, "split"));
  exports.Set("tile", Napi::Function::New(env, Tile, "tile"));
  exports.Set("transpose", Napi::Function::New(env, Transpose, "transpose"));
}

}  // namespace flot
