#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "amrs/core/episodes.h"
#include "amrs/core/error.h"
#include "amrs/core/rng.h"
#include "amrs/core/types.h"

using namespace amrs;

TEST_CASE("Rng streams are deterministic and separated by purpose and index") {
  Rng a(7, "windows", 3), b(7, "windows", 3), c(7, "windows", 4), d(7, "splits", 3), e(8, "windows", 3);
  std::set<std::uint64_t> firsts;
  for (Rng* r : {&c, &d, &e}) firsts.insert(r->NextU64());
  const auto x = a.NextU64();
  CHECK(x == b.NextU64());
  CHECK(firsts.count(x) == 0);
  CHECK(firsts.size() == 3);
}

TEST_CASE("Rng distributions stay in range and have the right moments") {
  Rng r(1, "moments");
  double s = 0, s2 = 0, bs = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const double u = r.Uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    const double z = r.Normal();
    s += z, s2 += z * z;
    const double b = r.Beta(2, 6);
    REQUIRE(b > 0.0);
    REQUIRE(b < 1.0);
    bs += b;
    const auto k = r.UniformIntInclusive(-2, 2);
    REQUIRE(k >= -2);
    REQUIRE(k <= 2);
  }
  CHECK(std::abs(s / n) < 0.03);
  CHECK(std::abs(s2 / n - 1.0) < 0.05);
  CHECK(std::abs(bs / n - 0.25) < 0.01);
}

TEST_CASE("Utility is eq. 3 and rejects weights outside [-1, 1]") {
  Utility u;  // affect-only default
  Feedback f{0.9f, 0.8f, 0.6f, 0.4f};
  CHECK(u(f) == doctest::Approx(0.5));
  Utility w{1.f, -1.f, 0.f, 0.5f};
  CHECK(w(f) == doctest::Approx(0.8 - 0.9 + 0.2));
  w.engagement = 1.5f;
  CHECK_THROWS_WITH_AS(w.Validate(), doctest::Contains("engagement"), ArgumentError);
  w.engagement = NAN;
  CHECK_THROWS_AS(w.Validate(), ArgumentError);
}

TEST_CASE("Session modes parse by name and unknown names are listed") {
  CHECK(ParseMode("sleep") == SessionMode::kSleep);
  CHECK(ParseMode("") == SessionMode::kNone);
  CHECK(ModeName(SessionMode::kCalm) == "calm");
  CHECK_THROWS_WITH_AS(ParseMode("nap"), doctest::Contains("energize, focus, calm, sleep"), ArgumentError);
}

TEST_CASE("Tokens carry presence masks") {
  const Token b = Token::Boundary(0.2f, 0.9f, SessionMode::kCalm);
  CHECK(b.IsBoundary());
  CHECK(b.song == -1);
  CHECK(b.has_affect);
  CHECK_FALSE(b.has_engagement);
  const Token s = Token::Song(5, {0.4f, 1.f, 0.7f, 0.3f}, false, false, SessionMode::kCalm);
  CHECK_FALSE(s.IsBoundary());
  CHECK(s.has_engagement);
  CHECK_FALSE(s.has_rating);
  CHECK(s.rating == 0.f);   // unobserved values are zeroed, not leaked
  CHECK(s.valence == 0.f);
}

TEST_CASE("EpisodeBlock::Validate names the field whose size or values are wrong") {
  EpisodeBlock b;
  b.horizon = 2, b.topk = 1;
  b.user = {0}, b.window_start = {0}, b.window_length = {1};
  b.actions = {1, 2}, b.ranked = {1, 2};
  b.engagement = b.rating = b.valence = b.arousal = {0.5f, 0.5f};
  CHECK_NOTHROW(b.Validate());
  CHECK(b.episodes() == 1);
  auto bad = b;
  bad.episode_seed = {1, 2};  // optional, but one per episode when given
  CHECK_THROWS_WITH_AS(bad.Validate(), doctest::Contains("'episode_seed'"), ArgumentError);
  bad = b;
  bad.window_index = {0, 0};
  CHECK_THROWS_WITH_AS(bad.Validate(), doctest::Contains("'window_index'"), ArgumentError);
  bad = b;
  bad.window_length.clear();
  CHECK_THROWS_WITH_AS(bad.Validate(), doctest::Contains("'window_length'"), ArgumentError);
  bad = b;
  bad.reward = {0.1f};  // optional, but E x L when given
  CHECK_THROWS_WITH_AS(bad.Validate(), doctest::Contains("'reward'"), ArgumentError);
  bad = b;
  bad.arousal[1] = std::nanf("");
  CHECK_THROWS_WITH_AS(bad.Validate(), doctest::Contains("'arousal' is not finite at index 1"), ArgumentError);
  bad = b;
  bad.horizon = 0;
  CHECK_THROWS_WITH_AS(bad.Validate(), doctest::Contains("horizon"), ArgumentError);
}
