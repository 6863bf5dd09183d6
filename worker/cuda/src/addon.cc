// N-API glue of the CUDA backend's addon: the same file for the CUDA build (flotilla_cuda.node)
// and the host variant (flotilla_cuda_host.node). Device addresses travel to JavaScript as
// numbers (exact below 2^53); every kernel call is enqueued, only download/sync wait.
#include <napi.h>

#include <functional>
#include <string>
#include <vector>

#include "api.h"

namespace {

using Napi::CallbackInfo;
using Napi::Value;

int64_t Int(const Value& v) {
  if (!v.IsNumber()) throw std::runtime_error("expected a number");
  return v.As<Napi::Number>().Int64Value();
}
double Num(const Value& v) {
  if (!v.IsNumber()) throw std::runtime_error("expected a number");
  return v.As<Napi::Number>().DoubleValue();
}
template <class T = void>
T* Ptr(const Value& v) {
  return reinterpret_cast<T*>(static_cast<uintptr_t>(Int(v)));
}
std::vector<int64_t> Ints(const Value& v) {
  if (!v.IsArray()) throw std::runtime_error("expected an array of numbers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out[i] = Int(a.Get(i));
  return out;
}
void* Bytes(const Value& v, size_t* n) {
  if (!v.IsTypedArray()) throw std::runtime_error("expected a typed array");
  auto t = v.As<Napi::TypedArray>();
  *n = t.ByteLength();
  return static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
}
void NeedShape(const std::vector<int64_t>& s, size_t n, const char* what) {
  if (s.size() != n) throw std::runtime_error(std::string(what) + " needs " + std::to_string(n) + " numbers");
}

// Wraps a body so that C++ exceptions (CUDA or cuBLAS errors, bad arguments) become JS errors.
Napi::Function Fn(Napi::Env env, const char* name, std::function<Value(const CallbackInfo&)> body) {
  return Napi::Function::New(
      env,
      [body, name](const CallbackInfo& info) -> Value {
        try {
          return body(info);
        } catch (const Napi::Error&) {
          throw;
        } catch (const std::exception& e) {
          throw Napi::Error::New(info.Env(), std::string(name) + ": " + e.what());
        }
      },
      name);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto U = [](const CallbackInfo& info) -> Value { return info.Env().Undefined(); };
  auto set = [&](const char* name, std::function<Value(const CallbackInfo&)> body) { exports.Set(name, Fn(env, name, body)); };

  set("init", [](const CallbackInfo& info) -> Value {
    std::string why;
    const bool ok = flc::Init(&why);
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("ok", ok);
    o.Set("reason", why);
    o.Set("device", ok ? flc::DeviceName() : std::string());
    o.Set("host", flc::IsHost());
    return o;
  });
  set("alloc", [](const CallbackInfo& info) -> Value {
    return Napi::Number::New(info.Env(), static_cast<double>(reinterpret_cast<uintptr_t>(flc::Alloc(Int(info[0])))));
  });
  set("free", [U](const CallbackInfo& info) { flc::Free(Ptr(info[0])); return U(info); });
  set("upload", [U](const CallbackInfo& info) {
    size_t n;
    void* src = Bytes(info[1], &n);
    if (n) flc::Upload(Ptr(info[0]), src, n);
    return U(info);
  });
  set("download", [U](const CallbackInfo& info) {
    size_t n;
    void* dst = Bytes(info[1], &n);
    if (n) flc::Download(dst, Ptr(info[0]), n);
    return U(info);
  });
  set("copy", [U](const CallbackInfo& info) { flc::CopyD2D(Ptr(info[0]), Ptr(info[1]), Int(info[2])); return U(info); });
  set("zero", [U](const CallbackInfo& info) { flc::Zero(Ptr(info[0]), Int(info[1])); return U(info); });
  set("sync", [U](const CallbackInfo& info) { flc::Sync(); return U(info); });
  set("trim", [U](const CallbackInfo& info) { flc::TrimPool(); return U(info); });
  set("setTf32", [U](const CallbackInfo& info) { flc::SetTf32(info[0].ToBoolean()); return U(info); });
  set("stats", [](const CallbackInfo& info) -> Value {
    const flc::MemStats s = flc::Stats();
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("live", static_cast<double>(s.live));
    o.Set("bytes", static_cast<double>(s.bytes));
    o.Set("peak", static_cast<double>(s.peak));
    o.Set("allocs", static_cast<double>(s.allocs));
    o.Set("uploads", static_cast<double>(s.uploads));
    o.Set("downloads", static_cast<double>(s.downloads));
    o.Set("uploadBytes", static_cast<double>(s.uploadBytes));
    o.Set("downloadBytes", static_cast<double>(s.downloadBytes));
    o.Set("tf32", flc::Tf32());
    return o;
  });

  // binary(a, b, out, shape, stridesA, stridesB, op, dtype)
  set("binary", [U](const CallbackInfo& info) {
    flc::Binary(Ptr(info[0]), Ptr(info[1]), Ptr(info[2]), Ints(info[3]), Ints(info[4]), Ints(info[5]),
                static_cast<int>(Int(info[6])), static_cast<int>(Int(info[7])));
    return U(info);
  });
  // binaryScalar(a, s, scalarLeft, out, n, op, dtype)
  set("binaryScalar", [U](const CallbackInfo& info) {
    flc::BinaryScalar(Ptr(info[0]), Num(info[1]), info[2].ToBoolean().Value(), Ptr(info[3]), Int(info[4]),
                      static_cast<int>(Int(info[5])), static_cast<int>(Int(info[6])));
    return U(info);
  });
  // unary(x, out, n, op, p0, p1)
  set("unary", [U](const CallbackInfo& info) {
    flc::Unary(Ptr<const float>(info[0]), Ptr<float>(info[1]), Int(info[2]), static_cast<int>(Int(info[3])),
               static_cast<float>(Num(info[4])), static_cast<float>(Num(info[5])));
    return U(info);
  });
  set("cast", [U](const CallbackInfo& info) {
    flc::Cast(Ptr(info[0]), Ptr(info[1]), Int(info[2]), static_cast<int>(Int(info[3])), static_cast<int>(Int(info[4])));
    return U(info);
  });
  // nesterov(p, g, v, pOut, vOut, begin, end, lr, wd, mu, first): lr, wd, mu point at the group's values
  set("nesterov", [U](const CallbackInfo& info) {
    flc::NesterovRange(Ptr<const float>(info[0]), Ptr<const float>(info[1]), Ptr<const float>(info[2]), Ptr<float>(info[3]),
                       Ptr<float>(info[4]), Int(info[5]), Int(info[6]), Ptr<const float>(info[7]), Ptr<const float>(info[8]),
                       Ptr<const float>(info[9]), info[10].ToBoolean().Value());
    return U(info);
  });
  // ema(e, m, d, od, out, n): out = e·d + od·m
  set("ema", [U](const CallbackInfo& info) {
    flc::FlatEma(Ptr<const float>(info[0]), Ptr<const float>(info[1]), Ptr<const float>(info[2]), Ptr<const float>(info[3]),
                 Ptr<float>(info[4]), Int(info[5]));
    return U(info);
  });
  // range(out, n, start, step, isInt)
  set("range", [U](const CallbackInfo& info) {
    flc::Range(Ptr(info[0]), Int(info[1]), Num(info[2]), Num(info[3]), info[4].ToBoolean().Value());
    return U(info);
  });
  // fill(out, n, bits): bits is the uint32 pattern of the value
  set("fill", [U](const CallbackInfo& info) {
    flc::Fill(Ptr(info[0]), Int(info[1]), static_cast<uint32_t>(Int(info[2])));
    return U(info);
  });
  set("oneHot", [U](const CallbackInfo& info) {
    flc::OneHot(Ptr<const int32_t>(info[0]), Ptr<uint32_t>(info[1]), Int(info[2]), Int(info[3]),
                static_cast<uint32_t>(Int(info[4])), static_cast<uint32_t>(Int(info[5])));
    return U(info);
  });
  set("select", [U](const CallbackInfo& info) {
    flc::Select(Ptr<const int32_t>(info[0]), Ptr(info[1]), Ptr(info[2]), Ptr(info[3]), Int(info[4]), Int(info[5]));
    return U(info);
  });
  // batchNorm(x, out, n, c, mean, lm, var, lv, offset, lo, scale, ls, eps); absent params are 0
  set("batchNorm", [U](const CallbackInfo& info) {
    flc::BatchNormEval(Ptr<const float>(info[0]), Ptr<float>(info[1]), Int(info[2]), Int(info[3]),
                       Ptr<const float>(info[4]), Int(info[5]), Ptr<const float>(info[6]), Int(info[7]),
                       Ptr<const float>(info[8]), Int(info[9]), Ptr<const float>(info[10]), Int(info[11]),
                       static_cast<float>(Num(info[12])));
    return U(info);
  });
  // stridedCopy(in, out, shape, outStride, inStride, inDim, before, tile, fillBits, inBase, outBase)
  set("stridedCopy", [U](const CallbackInfo& info) {
    flc::CopyDesc d;
    const auto shape = Ints(info[2]), os = Ints(info[3]), is = Ints(info[4]), id = Ints(info[5]), be = Ints(info[6]);
    if (shape.empty() || shape.size() > 8 || os.size() != shape.size() || is.size() != shape.size() ||
        id.size() != shape.size() || be.size() != shape.size()) {
      throw std::runtime_error("shape and strides must have the same rank, 1 to 8");
    }
    d.rank = static_cast<int>(shape.size());
    for (int i = 0; i < d.rank; ++i) {
      d.shape[i] = shape[i];
      d.outStride[i] = os[i];
      d.inStride[i] = is[i];
      d.inDim[i] = id[i];
      d.before[i] = be[i];
    }
    d.tile = info[7].ToBoolean();
    d.fill = static_cast<uint32_t>(Int(info[8]));
    d.inBase = Int(info[9]);
    d.outBase = Int(info[10]);
    flc::StridedCopy(Ptr(info[0]), Ptr(info[1]), d);
    return U(info);
  });
  set("reduce", [U](const CallbackInfo& info) {
    flc::Reduce(Ptr<const float>(info[0]), Ptr<float>(info[1]), Int(info[2]), Int(info[3]), Int(info[4]),
                static_cast<int>(Int(info[5])));
    return U(info);
  });
  set("argReduce", [U](const CallbackInfo& info) {
    flc::ArgReduce(Ptr<const float>(info[0]), Ptr<int32_t>(info[1]), Int(info[2]), Int(info[3]), Int(info[4]),
                   info[5].ToBoolean());
    return U(info);
  });
  // conv2d(x, w, out, shape15, bias|0, act, alpha)
  set("conv2d", [U](const CallbackInfo& info) {
    const auto s = Ints(info[3]);
    NeedShape(s, 15, "conv shape");
    flc::Conv2d(Ptr<const float>(info[0]), Ptr<const float>(info[1]), Ptr<float>(info[2]), s.data(),
                Ptr<const float>(info[4]), static_cast<int>(Int(info[5])), static_cast<float>(Num(info[6])));
    return U(info);
  });
  set("conv2dBackpropInput", [U](const CallbackInfo& info) {
    const auto s = Ints(info[3]);
    NeedShape(s, 15, "conv shape");
    flc::Conv2dBackpropInput(Ptr<const float>(info[0]), Ptr<const float>(info[1]), Ptr<float>(info[2]), s.data());
    return U(info);
  });
  set("conv2dBackpropFilter", [U](const CallbackInfo& info) {
    const auto s = Ints(info[3]);
    NeedShape(s, 15, "conv shape");
    flc::Conv2dBackpropFilter(Ptr<const float>(info[0]), Ptr<const float>(info[1]), Ptr<float>(info[2]), s.data());
    return U(info);
  });
  // matMul(a, b, out, batchA, batchB, M, N, K, transposeA, transposeB)
  set("matMul", [U](const CallbackInfo& info) {
    flc::MatMul(Ptr<const float>(info[0]), Ptr<const float>(info[1]), Ptr<float>(info[2]), Int(info[3]), Int(info[4]),
                Int(info[5]), Int(info[6]), Int(info[7]), info[8].ToBoolean(), info[9].ToBoolean());
    return U(info);
  });
  // bnActForward(x, gamma, beta, y, mean, variance, rows, C, eps, act)
  set("bnActForward", [U](const CallbackInfo& info) {
    flc::BnActForward(Ptr<const float>(info[0]), Ptr<const float>(info[1]), Ptr<const float>(info[2]), Ptr<float>(info[3]),
                      Ptr<float>(info[4]), Ptr<float>(info[5]), Int(info[6]), Int(info[7]),
                      static_cast<float>(Num(info[8])), static_cast<int>(Int(info[9])));
    return U(info);
  });
  // bnActBackward(dy, x, gamma, beta, mean, variance, dx, dgamma, dbeta, rows, C, eps, act)
  set("bnActBackward", [U](const CallbackInfo& info) {
    flc::BnActBackward(Ptr<const float>(info[0]), Ptr<const float>(info[1]), Ptr<const float>(info[2]),
                       Ptr<const float>(info[3]), Ptr<const float>(info[4]), Ptr<const float>(info[5]), Ptr<float>(info[6]),
                       Ptr<float>(info[7]), Ptr<float>(info[8]), Int(info[9]), Int(info[10]),
                       static_cast<float>(Num(info[11])), static_cast<int>(Int(info[12])));
    return U(info);
  });
  set("maxPool", [U](const CallbackInfo& info) {
    const auto s = Ints(info[2]);
    NeedShape(s, 12, "pool shape");
    flc::MaxPool(Ptr<const float>(info[0]), Ptr<float>(info[1]), s.data());
    return U(info);
  });
  set("maxPoolGrad", [U](const CallbackInfo& info) {
    const auto s = Ints(info[3]);
    NeedShape(s, 12, "pool shape");
    flc::MaxPoolGrad(Ptr<const float>(info[0]), Ptr<const float>(info[1]), Ptr<float>(info[2]), s.data());
    return U(info);
  });
  // resizeNearest(x, out, [n,h,w,c,oh,ow], rowMap Int32Array, colMap Int32Array)
  set("resizeNearest", [U](const CallbackInfo& info) {
    const auto s = Ints(info[2]);
    NeedShape(s, 6, "resize shape");
    size_t a, b;
    flc::ResizeNearest(Ptr<const float>(info[0]), Ptr<float>(info[1]), s.data(), static_cast<int32_t*>(Bytes(info[3], &a)),
                       static_cast<int32_t*>(Bytes(info[4], &b)));
    return U(info);
  });
  set("resizeNearestGrad", [U](const CallbackInfo& info) {
    const auto s = Ints(info[2]);
    NeedShape(s, 6, "resize shape");
    size_t a, b;
    flc::ResizeNearestGrad(Ptr<const float>(info[0]), Ptr<float>(info[1]), s.data(),
                           static_cast<int32_t*>(Bytes(info[3], &a)), static_cast<int32_t*>(Bytes(info[4], &b)));
    return U(info);
  });
  // gather(x, idx, out, outer, axisSize, nIdx, inner)
  set("gather", [U](const CallbackInfo& info) {
    flc::Gather(Ptr(info[0]), Ptr<const int32_t>(info[1]), Ptr(info[2]), Int(info[3]), Int(info[4]), Int(info[5]),
                Int(info[6]));
    return U(info);
  });
  // segmentSum(x, ids, out, n, inner, segments)
  set("segmentSum", [U](const CallbackInfo& info) {
    flc::SegmentSum(Ptr<const float>(info[0]), Ptr<const int32_t>(info[1]), Ptr<float>(info[2]), Int(info[3]),
                    Int(info[4]), Int(info[5]));
    return U(info);
  });
  // scatterNd(idx, updates, out, numUpdates, sliceRank, strides[], sliceSize, slices)
  set("scatterNd", [U](const CallbackInfo& info) {
    const auto strides = Ints(info[5]);
    flc::ScatterNd(Ptr<const int32_t>(info[0]), Ptr<const float>(info[1]), Ptr<float>(info[2]), Int(info[3]),
                   Int(info[4]), strides.data(), Int(info[6]), Int(info[7]));
    return U(info);
  });
  return exports;
}

}  // namespace

NODE_API_MODULE(flotilla_cuda, Init)
