#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "amrs/core/error.h"
#include "amrs/data/splits.h"
#include "amrs/data/tokens.h"
#include "test_util.h"

using namespace amrs;

TEST_CASE("Token view: boundary tokens, song tokens, masks and post-session targets") {
  const auto d = testing::TinyDataset();
  const data::TokenView view(d);
  REQUIRE(view.num_users() == 3);
  CHECK(view.TotalTokens() == 4 + 7);
  const History& h = view.User(0);  // sessions 1000 (2 songs, post) and 1001 (1 song, no post)
  REQUIRE(h.size() == 5);
  CHECK(h[0].IsBoundary());
  CHECK(h[0].valence == 0.5f);
  CHECK(h[0].mode == SessionMode::kEnergize);
  CHECK(h[1].song == 0);
  CHECK(h[1].has_rating);
  CHECK(h[1].rating == 1.f);
  CHECK_FALSE(h[1].has_affect);  // not the last song of the session
  CHECK(h[2].song == 1);
  CHECK(h[2].has_affect);        // last song carries the post-session report as its target
  CHECK(h[2].valence == doctest::Approx(0.6f));
  CHECK(h[2].arousal == doctest::Approx(0.4f));
  CHECK(h[3].IsBoundary());
  CHECK(h[3].mode == SessionMode::kNone);
  CHECK(h[4].song == 2);
  CHECK_FALSE(h[4].has_rating);
  CHECK_FALSE(h[4].has_affect);  // session 1001 has no post-session report
  CHECK(h[4].engagement == 0.5f);
}

TEST_CASE("Token view: per-song affect reports are song targets, and win over the post-session report") {
  auto d = testing::TinyDataset();
  // Interaction 0: first song of session 1000; 1: its last song (the session has a post report);
  // 2: session 1001's only song, no report of either kind.
  d.interactions.valence = {0.1f, 0.2f, 0.f, 0.f, 0.f, 0.f, 0.f};
  d.interactions.arousal = {0.9f, 0.8f, 0.f, 0.f, 0.f, 0.f, 0.f};
  d.interactions.has_affect = {1, 1, 0, 0, 0, 0, 0};
  const data::TokenView view(d);
  const History& h = view.User(0);
  REQUIRE(h.size() == 5);
  CHECK(h[1].has_affect);  // a per-song report on a song that is not the session's last
  CHECK(h[1].valence == doctest::Approx(0.1f));
  CHECK(h[1].arousal == doctest::Approx(0.9f));
  CHECK(h[2].has_affect);  // both reports: the per-song one (0.2, 0.8), not the post (0.6, 0.4)
  CHECK(h[2].valence == doctest::Approx(0.2f));
  CHECK(h[2].arousal == doctest::Approx(0.8f));
  CHECK_FALSE(h[4].has_affect);
  // User 1's session 1002 has no per-song reports: its post-session report stays the last song's.
  const History& g = view.User(1);
  REQUIRE(g.size() == 3);
  CHECK_FALSE(g[1].has_affect);
  CHECK(g[2].has_affect);
  CHECK(g[2].valence == doctest::Approx(0.7f));
  // The presence feature follows the mask.
  float fb[data::kFeedbackFeatures];
  data::FeedbackFeatures(h[1], false, fb);
  CHECK(fb[2] == doctest::Approx(0.1f));
  CHECK(fb[6] == 1.f);
}

TEST_CASE("MCCV splits are 80/10/10 by user, disjoint, and reproducible") {
  const auto a = data::MakeSplits(939, 10, 5);
  const auto b = data::MakeSplits(939, 10, 5);
  REQUIRE(a.size() == 10);
  for (std::size_t k = 0; k < a.size(); ++k) {
    CHECK(a[k].train == b[k].train);
    CHECK(a[k].test == b[k].test);
    CHECK(a[k].val.size() == 94);
    CHECK(a[k].test.size() == 94);
    CHECK(a[k].train.size() == 751);
    std::set<std::int32_t> all(a[k].train.begin(), a[k].train.end());
    all.insert(a[k].val.begin(), a[k].val.end());
    all.insert(a[k].test.begin(), a[k].test.end());
    CHECK(all.size() == 939);  // disjoint and covering
  }
  CHECK(a[0].test != a[1].test);
  CHECK(data::MakeSplits(939, 10, 6)[0].test != a[0].test);
  CHECK_THROWS_AS(data::MakeSplits(2, 1, 0), ArgumentError);
  CHECK(data::ParsePart("val") == data::Part::kVal);
  CHECK_THROWS_WITH_AS(data::ParsePart("dev"), doctest::Contains("train, val, test"), ArgumentError);
}

TEST_CASE("Windows are deterministic in (seed, purpose, user) and within bounds") {
  const auto spec = data::WindowSpec::Rollout();
  const auto w1 = data::SampleWindows(300, spec, 1, "rollout", 7);
  const auto w2 = data::SampleWindows(300, spec, 1, "rollout", 7);
  const auto w3 = data::SampleWindows(300, spec, 1, "rollout", 8);
  const auto w4 = data::SampleWindows(300, spec, 1, "world-train/epoch-1", 7);
  REQUIRE(w1.size() == 5);
  bool differs_user = false, differs_purpose = false;
  for (std::size_t i = 0; i < w1.size(); ++i) {
    CHECK(w1[i].start == w2[i].start);
    CHECK(w1[i].length == w2[i].length);
    CHECK(w1[i].length >= 10);
    CHECK(w1[i].length <= 100);
    CHECK(w1[i].start >= 0);
    CHECK(w1[i].start + w1[i].length <= 300);
    differs_user |= w1[i].start != w3[i].start || w1[i].length != w3[i].length;
    differs_purpose |= w1[i].start != w4[i].start || w1[i].length != w4[i].length;
  }
  CHECK(differs_user);
  CHECK(differs_purpose);
  const auto wm = data::SampleWindows(2000, data::WindowSpec::WorldModel(), 1, "x", 0);
  for (const auto& w : wm) {
    CHECK(w.length >= 50);
    CHECK(w.length <= 1000);
  }
  // A sequence shorter than the minimum is used whole.
  for (const auto& w : data::SampleWindows(6, spec, 1, "rollout", 0)) {
    CHECK(w.start == 0);
    CHECK(w.length == 6);
  }
}
