// Runtime dispatch of the cached-step kernels: AVX2+FMA where the CPU has them (same results up
// to float rounding), the baseline x86-64 build otherwise.
#include <cstdint>
#include <vector>

#include "net.h"

namespace amrs::worldmodel {
namespace base {
void FactorizedHead(const float*, std::int64_t, const float*, std::int64_t, std::int64_t, const float*, const float*,
                    const float*, unsigned, float*);
std::vector<float> PackHeadSongs(const float*, std::int64_t, std::int64_t);
void StepAttention(const float*, std::int64_t, float*, float*, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                   const std::vector<std::vector<std::int32_t>>&, const std::int64_t*, float*);
void LayerNormRows(const float*, const float*, const float*, float*, std::int64_t, std::int64_t, float);
void GeluInPlace(float*, std::int64_t);
void AddInPlace(float*, const float*, std::int64_t);
}
namespace avx2 {
void FactorizedHead(const float*, std::int64_t, const float*, std::int64_t, std::int64_t, const float*, const float*,
                    const float*, unsigned, float*);
std::vector<float> PackHeadSongs(const float*, std::int64_t, std::int64_t);
void StepAttention(const float*, std::int64_t, float*, float*, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                   const std::vector<std::vector<std::int32_t>>&, const std::int64_t*, float*);
void LayerNormRows(const float*, const float*, const float*, float*, std::int64_t, std::int64_t, float);
void GeluInPlace(float*, std::int64_t);
void AddInPlace(float*, const float*, std::int64_t);
}

namespace {
bool HasAvx2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}
}  // namespace

void StepAttention(const float* qkv, std::int64_t stride, float* kc, float* vc, std::int64_t cap, std::int64_t B,
                   std::int64_t H, std::int64_t D, const std::vector<std::vector<std::int32_t>>& keys,
                   const std::int64_t* commit, float* out) {
  if (HasAvx2()) return avx2::StepAttention(qkv, stride, kc, vc, cap, B, H, D, keys, commit, out);
  return base::StepAttention(qkv, stride, kc, vc, cap, B, H, D, keys, commit, out);
}

void LayerNormRows(const float* x, const float* w, const float* b, float* out, std::int64_t rows, std::int64_t d,
                   float eps) {
  if (HasAvx2()) return avx2::LayerNormRows(x, w, b, out, rows, d, eps);
  return base::LayerNormRows(x, w, b, out, rows, d, eps);
}

void GeluInPlace(float* x, std::int64_t n) {
  if (HasAvx2()) return avx2::GeluInPlace(x, n);
  return base::GeluInPlace(x, n);
}

void AddInPlace(float* x, const float* y, std::int64_t n) {
  if (HasAvx2()) return avx2::AddInPlace(x, y, n);
  return base::AddInPlace(x, y, n);
}

void FactorizedHead(const float* a, std::int64_t rows, const float* packed, std::int64_t n, std::int64_t h,
                    const float* w, const float* b, const float* offset, unsigned signals, float* probs) {
  if (HasAvx2()) return avx2::FactorizedHead(a, rows, packed, n, h, w, b, offset, signals, probs);
  return base::FactorizedHead(a, rows, packed, n, h, w, b, offset, signals, probs);
}

std::vector<float> PackHeadSongs(const float* songs_t, std::int64_t h, std::int64_t n) {
  return base::PackHeadSongs(songs_t, h, n);  // a layout only: the same in both builds
}

}  // namespace amrs::worldmodel
