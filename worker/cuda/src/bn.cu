// Training-mode BatchNorm (batch statistics, biased variance) fused with identity or SiLU,
// forward and backward, over rows × C (channels last). Per-channel sums are taken in two
// passes: float partials over blocks of rows, then a double sum over the blocks, in a fixed
// order (deterministic, no atomics).
#include "api.h"
#include "common.cuh"

namespace flc {
namespace {

constexpr int kSilu = 1;

FL_HD inline float Sigm(float u) { return 1.f / (1.f + ::expf(-u)); }

// Rows per block so that blocks × C is ~64K (each block at least 32 rows).
int64_t RowBlock(int64_t rows, int64_t C) {
  int64_t blocks = (65536 + C - 1) / C;
  const int64_t most = (rows + 31) / 32;
  if (blocks > most) blocks = most;
  if (blocks < 1) blocks = 1;
  return (rows + blocks - 1) / blocks;
}

struct StatsPartialK {  // sums of d and d² with d = x − x[0, c] (shifted: no cancellation when |mean| ≫ std)
  const float* x;
  float *p1, *p2;
  int64_t rows, C, len;
  FL_HD void operator()(int64_t i) const {
    const int64_t c = i % C, b = i / C;
    const int64_t r0 = b * len, r1 = r0 + len < rows ? r0 + len : rows;
    const float x0 = x[c];
    float a = 0.f, q = 0.f;
    for (int64_t r = r0; r < r1; ++r) {
      const float d = x[r * C + c] - x0;
      a += d;
      q += d * d;
    }
    p1[i] = a;
    p2[i] = q;
  }
};

struct StatsFinalK {
  const float *x, *p1, *p2, *gamma, *beta;
  float *mean, *var, *scale, *shift;
  int64_t rows, C, blocks;
  float eps;
  FL_HD void operator()(int64_t c) const {
    double s1 = 0.0, s2 = 0.0;
    for (int64_t b = 0; b < blocks; ++b) {
      s1 += p1[b * C + c];
      s2 += p2[b * C + c];
    }
    const double md = s1 / rows;
    double v = s2 / rows - md * md;
    if (v < 0.0) v = 0.0;
    const double m = md + x[c];
    mean[c] = static_cast<float>(m);
    var[c] = static_cast<float>(v);
    const double k = gamma[c] / ::sqrt(v + eps);
    scale[c] = static_cast<float>(k);
    shift[c] = static_cast<float>(beta[c] - m * k);
  }
};

struct ApplyK {
  const float *x, *scale, *shift;
  float* y;
  int64_t C;
  int act;
  FL_HD void operator()(int64_t i) const {
    const int64_t c = i % C;
    const float u = x[i] * scale[c] + shift[c];
    y[i] = act == kSilu ? u * Sigm(u) : u;
  }
};

// g = dy·act'(u) into dx; partial sums of g and g·z per block, z the normalised input.
struct GradPartialK {
  const float *dy, *x, *gamma, *beta, *mean, *var;
  float *g, *p1, *p2;
  int64_t rows, C, len;
  float eps;
  int act;
  FL_HD void operator()(int64_t i) const {
    const int64_t c = i % C, b = i / C;
    const int64_t r0 = b * len, r1 = r0 + len < rows ? r0 + len : rows;
    const float rs = static_cast<float>(1.0 / ::sqrt(static_cast<double>(var[c]) + eps));
    const float m = mean[c], ga = gamma[c], be = beta[c];
    float a = 0.f, q = 0.f;
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t e = r * C + c;
      const float z = (x[e] - m) * rs;
      float gr = dy[e];
      if (act == kSilu) {
        const float u = ga * z + be;
        const float s = Sigm(u);
        gr *= s * (1.f + u * (1.f - s));
      }
      g[e] = gr;
      a += gr;
      q += gr * z;
    }
    p1[i] = a;
    p2[i] = q;
  }
};

struct GradFinalK {
  const float *p1, *p2;
  float *dgamma, *dbeta, *mg, *mgz;
  int64_t rows, C, blocks;
  FL_HD void operator()(int64_t c) const {
    double s1 = 0.0, s2 = 0.0;
    for (int64_t b = 0; b < blocks; ++b) {
      s1 += p1[b * C + c];
      s2 += p2[b * C + c];
    }
    dbeta[c] = static_cast<float>(s1);
    dgamma[c] = static_cast<float>(s2);
    mg[c] = static_cast<float>(s1 / rows);
    mgz[c] = static_cast<float>(s2 / rows);
  }
};

struct GradApplyK {  // dx = γ·rstd·(g − mean(g) − z·mean(g·z))
  const float *x, *gamma, *mean, *var, *mg, *mgz;
  float* dx;
  int64_t C;
  float eps;
  FL_HD void operator()(int64_t i) const {
    const int64_t c = i % C;
    const float rs = static_cast<float>(1.0 / ::sqrt(static_cast<double>(var[c]) + eps));
    const float z = (x[i] - mean[c]) * rs;
    dx[i] = gamma[c] * rs * (dx[i] - mg[c] - z * mgz[c]);
  }
};

}  // namespace

void BnActForward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* var,
                  int64_t rows, int64_t C, float eps, int act) {
  if (rows == 0 || C == 0) return;
  const int64_t len = RowBlock(rows, C), blocks = (rows + len - 1) / len;
  Scratch p(static_cast<size_t>(2 * blocks * C + 2 * C) * sizeof(float));
  float* p1 = p.f();
  float* p2 = p1 + blocks * C;
  float* scale = p2 + blocks * C;
  float* shift = scale + C;
  Launch(blocks * C, StatsPartialK{x, p1, p2, rows, C, len});
  Launch(C, StatsFinalK{x, p1, p2, gamma, beta, mean, var, scale, shift, rows, C, blocks, eps});
  Launch(rows * C, ApplyK{x, scale, shift, y, C, act});
}

void BnActBackward(const float* dy, const float* x, const float* gamma, const float* beta, const float* mean,
                   const float* var, float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t C, float eps, int act) {
  if (rows == 0 || C == 0) return;
  const int64_t len = RowBlock(rows, C), blocks = (rows + len - 1) / len;
  Scratch p(static_cast<size_t>(2 * blocks * C + 2 * C) * sizeof(float));
  float* p1 = p.f();
  float* p2 = p1 + blocks * C;
  float* mg = p2 + blocks * C;
  float* mgz = mg + C;
  Launch(blocks * C, GradPartialK{dy, x, gamma, beta, mean, var, dx, p1, p2, rows, C, len, eps, act});
  Launch(C, GradFinalK{p1, p2, dgamma, dbeta, mg, mgz, rows, C, blocks});
  Launch(rows * C, GradApplyK{x, gamma, mean, var, mg, mgz, dx, C, eps});
}

}  // namespace flc
