#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include <cmath>

#include "amrs/core/error.h"
#include "amrs/data/dataset.h"
#include "amrs/data/oracle.h"
#include "amrs/data/summary.h"
#include "amrs/data/synthetic.h"
#include "amrs/data/tokens.h"
#include "test_util.h"

using namespace amrs;

namespace {

data::GeneratorConfig Small(std::uint64_t seed = 3) { return testing::SmallConfig(seed, 40, 300, 2000, 300, 16, 3); }

}  // namespace

TEST_CASE("The generator produces exactly the requested sizes and a valid dataset") {
  const auto d = data::Generate(Small());
  const auto s = data::Summarize(d);
  CHECK(s.users == 40);
  CHECK(s.sessions == 300);
  CHECK(s.interactions == 2000);
  CHECK(s.catalogue == 300);
  CHECK(s.pre_reports == 300);
  CHECK(s.post_reports > 0);
  CHECK(s.post_reports < 300);
  CHECK(s.positive_ratings > s.negative_ratings);  // sparse and mostly positive
  CHECK(s.positive_ratings + s.negative_ratings < 2000);
  CHECK(s.songs_played < 300);  // exposure bias: untagged songs are never played
  REQUIRE(d.families.size() == 2);
  CHECK(d.families[0].name == "mert");
  CHECK(d.families[1].name == "clamp3");
  CHECK(d.splits.size() == 3);
  REQUIRE(d.oracle);
  CHECK_NOTHROW(data::Validate(d));
  CHECK(s.early_skip_share > 0.05);  // a mass of early skips
  CHECK(s.full_play_share > 0.3);    // and many full plays
}

TEST_CASE("Same seed, same data, whatever the thread count") {
  std::string f1, f2;
  {
    tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
    f1 = data::Fingerprint(data::Generate(Small(9)));
  }
  {
    tbb::global_control two(tbb::global_control::max_allowed_parallelism, 2);
    f2 = data::Fingerprint(data::Generate(Small(9)));
  }
  CHECK(f1 == f2);
  CHECK(data::Fingerprint(data::Generate(Small(10))) != f1);
}

TEST_CASE("A generated dataset keeps its fingerprint when written and read back") {
  // The generator creates its embedding families in one order; a file lists them by name.
  const auto d = data::Generate(Small(9));
  REQUIRE(d.families.size() >= 2);
  testing::TempDir tmp;
  const auto path = tmp.File("g.h5");
  data::WriteDataset(d, path);
  const auto r = data::ReadDataset(path);
  CHECK(data::Fingerprint(r) == data::Fingerprint(d));
}

TEST_CASE("Bad generator options are rejected by name") {
  auto c = Small();
  c.num_sessions = 10;  // fewer than users
  CHECK_THROWS_WITH_AS(data::Generate(c), doctest::Contains("'sessions'"), ArgumentError);
  c = Small();
  c.tagged_fraction = 0.f;
  CHECK_THROWS_WITH_AS(data::Generate(c), doctest::Contains("'tagged-fraction'"), ArgumentError);
}

TEST_CASE("The oracle's expected feedback differs across songs for one history") {
  const auto d = data::Generate(Small());
  const data::Oracle oracle(d.oracle);
  const data::TokenView view(d);
  const auto state = oracle.Encode(0, view.User(0));
  float emin = 1, emax = 0, vmin = 1, vmax = 0, rmin = 1, rmax = 0;
  for (std::int32_t j = 0; j < d.num_songs(); ++j) {
    const auto f = oracle.Predict(state, j);
    REQUIRE(f.engagement >= 0.f);
    REQUIRE(f.engagement <= 1.f);
    REQUIRE(f.rating >= 0.f);
    REQUIRE(f.rating <= 1.f);
    emin = std::min(emin, f.engagement), emax = std::max(emax, f.engagement);
    rmin = std::min(rmin, f.rating), rmax = std::max(rmax, f.rating);
    vmin = std::min(vmin, f.valence), vmax = std::max(vmax, f.valence);
  }
  CHECK(emax - emin > 0.2f);
  CHECK(rmax - rmin > 0.2f);
  CHECK(vmax - vmin > 0.02f);
  CHECK_THROWS_AS(oracle.Predict(state, d.num_songs()), ArgumentError);
  CHECK_THROWS_AS(oracle.Start(d.num_users()), ArgumentError);
}

TEST_CASE("Post-session valence depends on the order of the same songs") {
  const auto d = data::Generate(Small());
  const data::Oracle oracle(d.oracle);
  const auto& p = *d.oracle;
  // The happiest and the saddest song of the catalogue.
  std::int32_t hi = 0, lo = 0;
  for (std::int32_t j = 0; j < d.num_songs(); ++j) {
    if (p.song_valence[j] > p.song_valence[hi]) hi = j;
    if (p.song_valence[j] < p.song_valence[lo]) lo = j;
  }
  const Feedback full{1.f, 0.f, 0.f, 0.f};
  const auto mode = SessionMode::kNone;
  History a{Token::Boundary(0.5f, 0.5f, mode), Token::Song(hi, full, false, false, mode),
            Token::Song(lo, full, false, false, mode)};
  History b{Token::Boundary(0.5f, 0.5f, mode), Token::Song(lo, full, false, false, mode),
            Token::Song(hi, full, false, false, mode)};
  const std::int32_t user = 0;
  const std::int32_t next = (hi + lo + 1) % d.num_songs() == hi ? 2 : (hi + lo + 1) % d.num_songs();
  const auto fa = oracle.Predict(oracle.Encode(user, a), next);
  const auto fb = oracle.Predict(oracle.Encode(user, b), next);
  // Recency: ending on the happy song leaves the listener happier.
  CHECK(fb.valence > fa.valence + 0.005f);
  // Same songs, same engagement: behavioural predictions for the next song agree.
  CHECK(fa.engagement == doctest::Approx(fb.engagement));
}

TEST_CASE("Oracle parameters survive the dataset file, and the ceilings are reproducible") {
  testing::TempDir tmp;
  const auto d = data::Generate(Small());
  data::WriteDataset(d, tmp.File("s.h5"));
  const auto r = data::ReadDataset(tmp.File("s.h5"));
  REQUIRE(r.oracle);
  CHECK(r.oracle->song_style == d.oracle->song_style);
  CHECK(r.oracle->user_taste == d.oracle->user_taste);
  CHECK(r.oracle->like_threshold == d.oracle->like_threshold);
  const auto c1 = data::EvaluateOracle(d), c2 = data::EvaluateOracle(r);
  CHECK(c1.valence_r2 == doctest::Approx(c2.valence_r2));
  CHECK(c1.rating_auc == doctest::Approx(c2.rating_auc));
  CHECK(c1.n_engagement == 2000);
  CHECK_THROWS_AS(data::EvaluateOracle(testing::TinyDataset()), InputError);
}
