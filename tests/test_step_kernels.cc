// The cached-step kernels of the world model (worldmodel/src/step_kernel_*.cc), compiled here from
// the same sources with the same flags: the baseline x86-64 build and the AVX2+FMA build against
// each other and against a double-precision reference, on the same inputs. The library picks one
// at run time (step_kernel.cc); this test runs both. Torch-free: the kernels are plain loops.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "amrs/core/rng.h"

namespace amrs::worldmodel {
#define AMRS_DECLARE_KERNELS                                                                                  \
  void StepAttention(const float*, std::int64_t, float*, float*, std::int64_t, std::int64_t, std::int64_t, \
                     std::int64_t, const std::vector<std::vector<std::int32_t>>&, const std::int64_t*, float*); \
  void LayerNormRows(const float*, const float*, const float*, float*, std::int64_t, std::int64_t, float);   \
  void GeluInPlace(float*, std::int64_t);                                                                    \
  void AddInPlace(float*, const float*, std::int64_t);                                                     \
  void FactorizedHead(const float*, std::int64_t, const float*, std::int64_t, std::int64_t, const float*,    \
                      const float*, const float*, unsigned, float*);                                         \
  void FactorizedHeadLogits(const float*, std::int64_t, const float*, std::int64_t, std::int64_t, const float*, \
                            const float*, unsigned, float*);                                          \
  std::vector<float> PackHeadSongs(const float*, std::int64_t, std::int64_t);
namespace base {
AMRS_DECLARE_KERNELS
}
namespace avx2 {
AMRS_DECLARE_KERNELS
}
}  // namespace amrs::worldmodel

using namespace amrs;
namespace wm = amrs::worldmodel;

namespace {

std::vector<float> Random(Rng& rng, std::size_t n, double sd = 1.0) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(rng.Normal(0, sd));
  return v;
}

float MaxAbsDiff(const std::vector<float>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return static_cast<float>(m);
}

bool HasAvx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

}  // namespace

TEST_CASE("Step attention: AVX2 and scalar kernels agree with each other and with a reference") {
  REQUIRE_MESSAGE(HasAvx2(), "this machine has no AVX2+FMA: the AVX2 kernel cannot be compared");
  const std::int64_t B = 3, H = 2, cap = 10;
  // Row 0: contiguous cache 0..4 then its own new key; row 1: a gap (lookback ablation); row 2:
  // contiguous and ending on the committed position (read back from the cache).
  const std::vector<std::vector<std::int32_t>> keys = {{0, 1, 2, 3, 4, -1}, {1, 3, 6, -1}, {0, 1, 2, 3}};
  const std::vector<std::int64_t> commit = {5, 7, 3};
  for (std::int64_t D : {8, 16, 32, 64, 12}) {
    CAPTURE(D);
    Rng rng(static_cast<std::uint64_t>(D), "step-kernels");
    const std::int64_t dm = H * D, stride = 3 * dm + 5;  // rows [q | k | v] plus padding
    const auto qkv = Random(rng, static_cast<std::size_t>(B * stride));
    const auto kc0 = Random(rng, static_cast<std::size_t>(B * H * cap * D)),
               vc0 = Random(rng, static_cast<std::size_t>(B * H * cap * D));
    // Reference in double: commit each row's new k/v at commit[b], then softmax(q.k / sqrt(D)) v.
    std::vector<double> ref(static_cast<std::size_t>(B * H * D));
    auto kr = kc0, vr = vc0;
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t h = 0; h < H; ++h)
        for (std::int64_t e = 0; e < D; ++e) {
          kr[((b * H + h) * cap + commit[b]) * D + e] = qkv[b * stride + dm + h * D + e];
          vr[((b * H + h) * cap + commit[b]) * D + e] = qkv[b * stride + 2 * dm + h * D + e];
        }
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t h = 0; h < H; ++h) {
        const float* q = qkv.data() + b * stride + h * D;
        std::vector<double> w;
        for (auto k : keys[b]) {
          const float* kj = k < 0 ? q + dm : kr.data() + ((b * H + h) * cap + k) * D;
          double s = 0;
          for (std::int64_t e = 0; e < D; ++e) s += double(q[e]) * kj[e];
          w.push_back(s / std::sqrt(double(D)));
        }
        const double mx = *std::max_element(w.begin(), w.end());
        double z = 0;
        for (auto& x : w) z += (x = std::exp(x - mx));
        for (std::size_t i = 0; i < w.size(); ++i) {
          const auto k = keys[b][i];
          const float* vj = k < 0 ? q + 2 * dm : vr.data() + ((b * H + h) * cap + k) * D;
          for (std::int64_t e = 0; e < D; ++e) ref[(b * H + h) * D + e] += w[i] / z * vj[e];
        }
      }
    std::vector<float> outs[2];
    int which = 0;
    for (auto kernel : {&wm::base::StepAttention, &wm::avx2::StepAttention}) {
      auto kc = kc0, vc = vc0;
      auto& out = outs[which++];
      out.assign(static_cast<std::size_t>(B * H * D), 0.f);
      kernel(qkv.data(), stride, kc.data(), vc.data(), cap, B, H, D, keys, commit.data(), out.data());
      CHECK(kc == kr);  // the commit is an exact copy
      CHECK(vc == vr);
      CHECK(MaxAbsDiff(out, ref) < 2e-5f);
    }
    std::vector<double> scalar(outs[0].begin(), outs[0].end());
    CHECK(MaxAbsDiff(outs[1], scalar) < 2e-5f);
  }
}

TEST_CASE("LayerNorm, GELU and add: AVX2 and scalar kernels agree with a reference") {
  REQUIRE_MESSAGE(HasAvx2(), "this machine has no AVX2+FMA: the AVX2 kernel cannot be compared");
  Rng rng(1, "step-kernels-rows");
  const std::int64_t rows = 5, d = 48;
  const auto x = Random(rng, rows * d, 2.0), w = Random(rng, d), b = Random(rng, d);
  std::vector<double> ln(rows * d), gelu(rows * d), add(rows * d);
  for (std::int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (std::int64_t i = 0; i < d; ++i) mean += x[r * d + i];
    mean /= d;
    for (std::int64_t i = 0; i < d; ++i) var += (x[r * d + i] - mean) * (x[r * d + i] - mean);
    var /= d;
    for (std::int64_t i = 0; i < d; ++i) ln[r * d + i] = (x[r * d + i] - mean) / std::sqrt(var + 1e-5) * w[i] + b[i];
  }
  for (std::size_t i = 0; i < x.size(); ++i) {
    gelu[i] = 0.5 * x[i] * (1 + std::erf(x[i] / std::sqrt(2.0)));
    add[i] = double(x[i]) + double(x[(i + 7) % x.size()]);
  }
  std::vector<float> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = x[(i + 7) % x.size()];
  std::vector<float> got[2][3];
  for (int k = 0; k < 2; ++k) {
    CAPTURE(k);
    auto& [l, g, a] = got[k];
    l.assign(x.size(), 0.f);
    (k ? wm::avx2::LayerNormRows : wm::base::LayerNormRows)(x.data(), w.data(), b.data(), l.data(), rows, d, 1e-5f);
    g = x;
    (k ? wm::avx2::GeluInPlace : wm::base::GeluInPlace)(g.data(), static_cast<std::int64_t>(g.size()));
    a = x;
    (k ? wm::avx2::AddInPlace : wm::base::AddInPlace)(a.data(), y.data(), static_cast<std::int64_t>(a.size()));
    CHECK(MaxAbsDiff(l, ln) < 1e-4f);
    CHECK(MaxAbsDiff(g, gelu) < 1e-5f);
    CHECK(MaxAbsDiff(a, add) < 1e-6f);
  }
  for (int j = 0; j < 3; ++j) {
    CAPTURE(j);
    CHECK(MaxAbsDiff(got[1][j], std::vector<double>(got[0][j].begin(), got[0][j].end())) < 2e-5f);
  }
}

TEST_CASE("Fused catalogue head: packed panels, exact fused sums on AVX2, the same for any grouping of rows") {
  REQUIRE_MESSAGE(HasAvx2(), "this machine has no AVX2+FMA: the AVX2 kernel cannot be compared");
  Rng rng(1, "step-kernels-head");
  const std::int64_t rows = 3, n = 37, h = 24, panel = 16;  // 37 songs: two full panels and a partial one
  const auto a = Random(rng, rows * h), songs = Random(rng, n * h), w = Random(rng, 4 * h, 0.5), b = Random(rng, 4);
  const auto offset = Random(rng, n * 4);
  // The packed layout (net.h): panels of 16 songs, each [h][16], the last one zero-padded.
  std::vector<float> songs_t(h * n);
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t k = 0; k < h; ++k) songs_t[k * n + j] = songs[j * h + k];
  const auto packed = wm::base::PackHeadSongs(songs_t.data(), h, n);
  REQUIRE(packed.size() == static_cast<std::size_t>((n + panel - 1) / panel * panel * h));
  CHECK(packed[1 * panel * h + 3 * panel + 5] == songs[(panel + 5) * h + 3]);  // song 21, unit 3
  CHECK(packed[2 * panel * h + 2 * panel + 15] == 0.f);                        // padding after song 36
  // Reference: b[s] + sum over k in order of w[s, k] relu(a[r, k] + songs[j, k]), one fused
  // multiply-add a step, as the AVX2 kernel does; the sigmoid in double.
  std::vector<float> fused(rows * n * 4);
  std::vector<double> probs(rows * n * 4), probs_offset(rows * n * 4);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < n; ++j)
      for (int s = 0; s < 4; ++s) {
        float acc = b[s];
        for (std::int64_t k = 0; k < h; ++k) acc = std::fma(w[s * h + k], std::max(a[r * h + k] + songs[j * h + k], 0.f), acc);
        const std::size_t at = (r * n + j) * 4 + s;
        fused[at] = acc;
        probs[at] = 1 / (1 + std::exp(-double(acc)));
        probs_offset[at] = 1 / (1 + std::exp(-(double(acc) + offset[j * 4 + s])));
      }
  std::vector<float> logits(rows * n * 4), p(rows * n * 4);
  wm::avx2::FactorizedHeadLogits(a.data(), rows, packed.data(), n, h, w.data(), b.data(), 15u, logits.data());
  CHECK(logits == fused);  // bit for bit
  wm::base::FactorizedHeadLogits(a.data(), rows, packed.data(), n, h, w.data(), b.data(), 15u, logits.data());
  CHECK(MaxAbsDiff(logits, std::vector<double>(fused.begin(), fused.end())) < 1e-4f);
  for (int k = 0; k < 2; ++k) {
    CAPTURE(k);
    const auto head = k ? wm::avx2::FactorizedHead : wm::base::FactorizedHead;
    head(a.data(), rows, packed.data(), n, h, w.data(), b.data(), nullptr, 15u, p.data());
    CHECK(MaxAbsDiff(p, probs) < 1e-5f);
    head(a.data(), rows, packed.data(), n, h, w.data(), b.data(), offset.data(), 15u, p.data());
    CHECK(MaxAbsDiff(p, probs_offset) < 1e-5f);
    // One row at a time gives the same bits as the rows together.
    std::vector<float> one(n * 4);
    for (std::int64_t r = 0; r < rows; ++r) {
      head(a.data() + r * h, 1, packed.data(), n, h, w.data(), b.data(), offset.data(), 15u, one.data());
      CHECK(std::equal(one.begin(), one.end(), p.begin() + r * n * 4));
    }
    // A subset of the signals (a net behind some of them): those entries get the same bits, the
    // others are left as they were.
    for (unsigned mask : {1u, 6u, 9u, 14u}) {
      CAPTURE(mask);
      std::vector<float> part(rows * n * 4, -7.f);
      head(a.data(), rows, packed.data(), n, h, w.data(), b.data(), offset.data(), mask, part.data());
      bool same = true;
      for (std::size_t i = 0; i < part.size(); ++i)
        same = same && (mask & (1u << (i % 4)) ? part[i] == p[i] : part[i] == -7.f);
      CHECK(same);
    }
  }
}
