// Entry point of the Flotilla native CPU kernels addon.
#include <cblas.h>

#include "common.h"

extern "C" {
char* openblas_get_corename(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);
}

namespace flot {
namespace {

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("blasCore", Napi::String::New(info.Env(), openblas_get_corename()));
  o.Set("blasThreads", Napi::Number::New(info.Env(), openblas_get_num_threads()));
  o.Set("ompThreads", Napi::Number::New(info.Env(), omp_get_max_threads()));
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Need(info, 1, "setThreads");
  const int n = static_cast<int>(Int(info[0], "threads"));
  if (n < 1) throw Napi::RangeError::New(info.Env(), "threads must be >= 1");
  // OpenBLAS stays on the calling thread: the kernels split their gemms over the OpenMP team
  // (gemm.h), so there is one pool of threads, not two taking turns at the cores.
  openblas_set_num_threads(1);
  omp_set_num_threads(n);

  return info.Env().Undefined();
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  InitConv(env, exports);
  InitMatmul(env, exports);
  InitElementwise(env, exports);
  InitReduce(env, exports);
  InitLayout(env, exports);
  InitPool(env, exports);
  InitNorm(env, exports);
  InitGather(env, exports);
  InitBnAct(env, exports);
  InitFlat(env, exports);
  return exports;
}

}  // namespace flot

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return flot::Init(env, exports); }

NODE_API_MODULE(flotilla_native, InitAddon)
