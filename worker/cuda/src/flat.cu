// The optimizer's flat updates (worker/native/flat-step.ts defines the kernels FlotillaNesterov
// and FlotillaEma) and Range. The step's scalars (lr and weight decay per group, momentum, EMA
// decay) are read from device memory, so a step reads nothing back. Every operation is rounded
// to float32 in the order of worker/native/src/flat.cc, never contracted into an FMA (the CPU
// kernels round twice), so the CUDA step gives the native CPU step's bits.
#ifndef __CUDACC__
#pragma GCC optimize("fp-contract=off")
#endif
#include "api.h"
#include "common.cuh"

namespace flc {
namespace {

FL_HD inline float Mul(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

FL_HD inline float Add(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

FL_HD inline float Sub(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

struct NesterovK {
  const float *p, *g, *v;
  float *po, *vo;
  const float *lr, *wd, *mu;
  int64_t begin;
  bool first;
  FL_HD void operator()(int64_t k) const {
    const int64_t i = begin + k;
    const float w = *wd, m = *mu;
    const float pi = p[i];
    float gi = g[i];
    if (w != 0.f) gi = Add(gi, Mul(w, pi));
    const float vi = first ? gi : Add(Mul(m, v[i]), gi);
    vo[i] = vi;
    po[i] = Sub(pi, Mul(*lr, Add(gi, Mul(m, vi))));
  }
};

struct EmaK {
  const float *e, *m, *d, *od;
  float* out;
  FL_HD void operator()(int64_t i) const { out[i] = Add(Mul(e[i], *d), Mul(*od, m[i])); }
};

struct RangeK {
  void* out;
  double start, step;
  bool isInt;
  FL_HD void operator()(int64_t i) const {
    const double v = start + static_cast<double>(i) * step;
    if (isInt) static_cast<int32_t*>(out)[i] = static_cast<int32_t>(v);
    else static_cast<float*>(out)[i] = static_cast<float>(v);
  }
};

}  // namespace

void NesterovRange(const float* p, const float* g, const float* v, float* po, float* vo, int64_t begin, int64_t end,
                   const float* lr, const float* wd, const float* mu, bool first) {
  Launch(end - begin, NesterovK{p, g, v, po, vo, lr, wd, mu, begin, first});
}

void FlatEma(const float* e, const float* m, const float* d, const float* od, float* out, int64_t n) {
  Launch(n, EmaK{e, m, d, od, out});
}

void Range(void* out, int64_t n, double start, double step, bool isInt) { Launch(n, RangeK{out, start, step, isInt}); }

}  // namespace flc
