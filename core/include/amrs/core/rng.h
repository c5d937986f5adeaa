// Explicit, seeded random streams. There is no global RNG: every stream is derived from
// (seed, purpose, index), so results do not depend on thread count or call order elsewhere.
// The generator (xoshiro256**) and the distributions below are implemented here, so a given
// stream produces the same numbers on every platform and standard library.
#pragma once

#include <cstdint>
#include <string_view>

namespace amrs {

// 64-bit mixing hash (splitmix64 finaliser).
std::uint64_t Mix64(std::uint64_t x);
// Stable 64-bit hash of a string (FNV-1a followed by Mix64).
std::uint64_t HashString(std::string_view s);

// A random stream. Not thread-safe; cheap to create, so make one per task.
class Rng {
 public:
  // Stream for (seed, purpose, index): e.g. Rng(seed, "windows", user).
  Rng(std::uint64_t seed, std::string_view purpose, std::uint64_t index = 0);
  explicit Rng(std::uint64_t raw_seed);

  std::uint64_t NextU64();
  // Uniform in [0, 1).
  double Uniform();
  // Uniform in [lo, hi).
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Uniform integer in [0, n); n > 0.
  std::uint64_t UniformInt(std::uint64_t n);
  // Uniform integer in [lo, hi] (inclusive).
  std::int64_t UniformIntInclusive(std::int64_t lo, std::int64_t hi);
  double Normal(double mean = 0.0, double sd = 1.0);
  double Gamma(double shape);  // scale 1
  double Beta(double a, double b);
  bool Bernoulli(double p) { return Uniform() < p; }
  // Poisson with small to moderate mean (inversion by multiplication; mean < 500).
  int Poisson(double mean);

 private:
  std::uint64_t s_[4];
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace amrs
