// Shared helpers for the Flotilla native kernels: argument unpacking and threading knobs.
#pragma once
#include <napi.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace flot {

// Elementwise loops below this many elements run on one thread: a parallel region costs more.
constexpr int64_t kParallelMin = 1 << 15;

inline float* F32(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a Float32Array");
  }
  return v.As<Napi::Float32Array>().Data();
}

inline int32_t* I32(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an Int32Array");
  }
  return v.As<Napi::Int32Array>().Data();
}

inline size_t Len(const Napi::Value& v) { return v.As<Napi::TypedArray>().ElementLength(); }

inline int64_t Int(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a number");
  return v.As<Napi::Number>().Int64Value();
}

inline double Num(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

inline std::vector<int64_t> Ints(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an array");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out[i] = Int(a.Get(i), what);
  return out;
}

inline std::vector<float*> F32s(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an array");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<float*> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out[i] = F32(a.Get(i), what);
  return out;
}

inline void Need(const Napi::CallbackInfo& info, size_t n, const char* fn) {
  if (info.Length() < n) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": expected " + std::to_string(n) + " arguments");
  }
}

// Fused activations, numbered as worker/native/kernels/activation.ts numbers them.
enum Act : int { kLinear = 0, kRelu = 1, kRelu6 = 2, kLeaky = 3, kSigmoid = 4, kElu = 5 };

void ApplyBiasAct(float* y, int64_t rows, int64_t cols, const float* bias, int act, float alpha);

void InitConv(Napi::Env env, Napi::Object exports);
void InitMatmul(Napi::Env env, Napi::Object exports);
void InitElementwise(Napi::Env env, Napi::Object exports);
void InitReduce(Napi::Env env, Napi::Object exports);
void InitLayout(Napi::Env env, Napi::Object exports);
void InitPool(Napi::Env env, Napi::Object exports);
void InitNorm(Napi::Env env, Napi::Object exports);
void InitGather(Napi::Env env, Napi::Object exports);
void InitBnAct(Napi::Env env, Napi::Object exports);
void InitFlat(Napi::Env env, Napi::Object exports);

}  // namespace flot
