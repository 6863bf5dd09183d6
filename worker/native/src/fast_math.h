// Branch-free expf and sigmoid that GCC vectorizes (libm's expf is a scalar call). Cephes'
// polynomial: relative error about 2e-7 over the clamped range.
#pragma once
#include <cstdint>

namespace flot {

inline float FastExp(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
  const float fx = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - fx * 0.693359375f;
  r = r + fx * 2.12194440e-4f;
  const float z = r * r;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * z + r + 1.f;
  // A bit cast, not memcpy: the copy through memory stops GCC from vectorizing the caller.
  const int32_t bits = (static_cast<int32_t>(fx) + 127) << 23;
  return y * __builtin_bit_cast(float, bits);
}

inline float FastSigmoid(float x) { return 1.f / (1.f + FastExp(-x)); }

}  // namespace flot
