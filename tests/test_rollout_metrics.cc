// Known answers for the rollout metrics (feedback means, Level 2/3 adherence, per-seed
// evaluation) and the report's cross-seed aggregation (stars, bold, gains); the rendering of the
// aggregates is tested in test_report_render.cc.
#include <doctest/doctest.h>

#include <cmath>

#include "aggregate_fixtures.h"
#include "amrs/core/error.h"
#include "amrs/metrics/aggregate.h"
#include "amrs/metrics/recommender.h"
#include "amrs/metrics/rollouts.h"

using namespace amrs::metrics;
using amrs::testing::ThreeAgents;

namespace {

// user 0: [B, 5, 6, B, 7, 8]; user 1: [B, 2, B, 3] (B = session boundary)
const LoggedSongs kLogged{{-1, 5, 6, -1, 7, 8}, {-1, 2, -1, 3}};

// 2 episodes x 2 steps x top-3. Episode 0: user 0, window [0, 2) -> next songs 6, 7.
// Episode 1: user 1, window [1, 2) -> next song 3 only (its step 1 has no logged song).
RolloutArrays Fixture() {
  RolloutArrays r;
  r.horizon = 2, r.topk = 3;
  r.user = {0, 1}, r.window_start = {0, 1}, r.window_length = {2, 1};
  r.actions = {7, 7, 3, 2};
  r.ranked = {7, 6, 0, /**/ 7, 2, 6, /**/ 3, 0, 1, /**/ 0, 1, 4};
  r.valence = {0.1f, 0.2f, 0.3f, 0.4f};
  r.arousal = {0.5f, 0.5f, 0.5f, 0.9f};
  r.rating = {1, 0, 0, 0};
  r.engagement = {0.2f, 0.2f, 0.2f, 0.2f};
  r.reward = {0.3f, 0.35f, 0.4f, 0.65f};
  return r;
}

double Dcg(int rank) { return 1.0 / std::log2(rank + 1.0); }  // rank is 1-based

}  // namespace

TEST_CASE("Rollout feedback means and per-step means") {
  const auto r = Fixture();
  const auto m = RolloutMeans(r);
  CHECK(m.valence == doctest::Approx(0.25));
  CHECK(m.arousal == doctest::Approx(0.6));
  CHECK(m.rating == doctest::Approx(0.25));
  CHECK(m.engagement == doctest::Approx(0.2));
  REQUIRE(m.reward);
  CHECK(*m.reward == doctest::Approx(0.425));
  auto no_reward = r;
  no_reward.reward.clear();
  CHECK_FALSE(RolloutMeans(no_reward).reward);
  const auto s = StepMeans(r, r.valence);
  REQUIRE(s.size() == 2);
  CHECK(s[0] == doctest::Approx(0.2));  // (0.1 + 0.3) / 2
  CHECK(s[1] == doctest::Approx(0.3));  // (0.2 + 0.4) / 2
}

TEST_CASE("Rollout arrays: empty, misshapen and NaN input fail naming the field") {
  RolloutArrays empty;
  empty.horizon = 2;
  CHECK_THROWS_AS(RolloutMeans(empty), amrs::ArgumentError);  // no episodes
  auto r = Fixture();
  r.valence[2] = std::nanf("");
  CHECK_THROWS_WITH_AS(RolloutMeans(r), doctest::Contains("'valence'"), amrs::ArgumentError);
  r = Fixture();
  r.ranked.pop_back();
  CHECK_THROWS_WITH_AS(RolloutMeans(r), doctest::Contains("'topk'"), amrs::ArgumentError);
  r = Fixture();
  r.user[1] = 5;  // no such logged user
  CHECK_THROWS_AS(UserWiseAdherence(r, kLogged), amrs::ArgumentError);
}

TEST_CASE("Level 2: every step's list against the user's whole logged history") {
  const auto a = UserWiseAdherence(Fixture(), kLogged);
  CHECK(a.lists == 4);
  // lists: {7,6,0} hits at 1, 2; {7,2,6} at 1, 3; {3,0,1} at 1 (user 1: {2,3}); {0,1,4} none
  CHECK(a.hit == doctest::Approx(3.0 / 4));
  CHECK(a.mrr == doctest::Approx(3.0 / 4));
  const double ideal4 = Dcg(1) + Dcg(2) + Dcg(3) + Dcg(4), ideal2 = Dcg(1) + Dcg(2);
  const double ndcg = ((Dcg(1) + Dcg(2)) / ideal4 + (Dcg(1) + Dcg(3)) / ideal4 + Dcg(1) / ideal2 + 0) / 4;
  CHECK(a.ndcg == doctest::Approx(ndcg));
  // Nothing relevant: a user whose history has no song.
  auto r = Fixture();
  r.user = {0, 0};
  const auto none = UserWiseAdherence(r, LoggedSongs{{-1}});
  CHECK(none.hit == 0);
  CHECK(none.mrr == 0);
  CHECK(none.ndcg == 0);
  r.topk = 0, r.ranked.clear();
  CHECK_THROWS_AS(UserWiseAdherence(r, kLogged), amrs::ArgumentError);
}

TEST_CASE("Level 3: the logged song at the same step after the window, boundaries skipped") {
  const auto a = TimeStepAdherence(Fixture(), kLogged);
  CHECK(a.lists == 3);  // episode 1 step 1 has no logged song after its window
  // targets: e0 -> 6, 7; e1 -> 3. Actions 7, 7, 3: right at e0t1 and e1t0.
  CHECK(a.accuracy == doctest::Approx(2.0 / 3));
  CHECK(a.hit == doctest::Approx(1.0));
  CHECK(a.mrr == doctest::Approx((0.5 + 1 + 1) / 3));
  CHECK(a.ndcg == doctest::Approx((Dcg(2) + 1 + 1) / 3));
  // No logged song after any window: nothing scored.
  auto r = Fixture();
  r.window_start = {4, 2}, r.window_length = {2, 2};
  const auto none = TimeStepAdherence(r, kLogged);
  CHECK(none.lists == 0);
  CHECK(none.accuracy == 0);
  // Without top-k lists only accuracy is defined.
  r = Fixture();
  r.topk = 0, r.ranked.clear();
  const auto acc = TimeStepAdherence(r, kLogged);
  CHECK(acc.lists == 3);
  CHECK(acc.accuracy == doctest::Approx(2.0 / 3));
  CHECK(acc.hit == 0);
}

TEST_CASE("EvaluateSeed: every metric of one (agent, seed) block") {
  // 10 songs in 2-d; songs 2 and 3 orthogonal, the rest along (1, 1).
  std::vector<float> emb;
  for (int i = 0; i < 10; ++i) {
    emb.push_back(i == 3 ? 0.f : 1.f);
    emb.push_back(i == 2 ? 0.f : 1.f);
  }
  const EvalContext c{10, emb, 2, &kLogged, 10};
  const auto m = EvaluateSeed(Fixture(), c);
  CHECK(m.at(key::kValence) == doctest::Approx(0.25));
  CHECK(m.at(key::kReward) == doctest::Approx(0.425));
  CHECK(m.at(key::kCoverage) == doctest::Approx(0.3));  // songs 7, 3, 2
  // counts 2, 1, 1 of 4: H = 1.5 ln 2
  CHECK(m.at(key::kEntropy) == doctest::Approx(1.5 * std::log(2.0) / std::log(10.0)));
  // sorted counts 0 x7, 1, 1, 2: (5 * 1 + 7 * 1 + 9 * 2) / (10 * 4)
  CHECK(m.at(key::kGini) == doctest::Approx(0.75));
  // episode 0 {7, 7}: 0; episode 1 {3, 2}: orthogonal, distance 1
  CHECK(m.at(key::kIld) == doctest::Approx(0.5 / CatalogueMeanCosineDistance(emb, 2)));
  CHECK(m.at(key::kL2Hit) == doctest::Approx(0.75));
  CHECK(m.at(key::kL3Accuracy) == doctest::Approx(2.0 / 3));
  CHECK(m.at(key::kL3Mrr) == doctest::Approx(2.5 / 3));
  // No logged histories: no adherence keys. No step after any window: no Level 3 keys.
  CHECK(EvaluateSeed(Fixture(), EvalContext{10, emb, 2, nullptr, 10}).count(key::kL2Hit) == 0);
  auto r = Fixture();
  r.window_start = {4, 2}, r.window_length = {2, 2};
  const auto no_l3 = EvaluateSeed(r, c);
  CHECK(no_l3.count(key::kL3Accuracy) == 0);
  CHECK(no_l3.count(key::kL2Hit) == 1);
}

TEST_CASE("EvaluateSeed: one item, all identical") {
  const std::vector<float> emb{1, 0, 0, 1, 1, 1};
  const LoggedSongs logged{{-1, 1}};
  RolloutArrays one;
  one.horizon = 1, one.topk = 1;
  one.user = {0}, one.window_start = {0}, one.window_length = {1};
  one.actions = {1}, one.ranked = {1};
  one.valence = one.arousal = one.rating = one.engagement = {0.5f};
  const auto m = EvaluateSeed(one, EvalContext{3, emb, 2, &logged, 10});
  CHECK(m.at(key::kCoverage) == doctest::Approx(1.0 / 3));
  CHECK(m.at(key::kEntropy) == doctest::Approx(0.0));
  CHECK(m.count(key::kIld) == 0);  // one song per episode: no pair
  CHECK(m.at(key::kL2Hit) == 1);
  CHECK(m.at(key::kL3Accuracy) == 1);  // the song after the window is 1
  RolloutArrays same = one;
  same.horizon = 3, same.topk = 0, same.ranked.clear();
  same.actions = {2, 2, 2};
  same.valence = same.arousal = same.rating = same.engagement = {0.5f, 0.5f, 0.5f};
  const auto s = EvaluateSeed(same, EvalContext{3, emb, 2, &logged, 10});
  CHECK(s.at(key::kIld) == doctest::Approx(0.0));
  CHECK(s.at(key::kGini) == doctest::Approx(2.0 / 3));  // (n - 1) / n
  CHECK(s.at(key::kL3Accuracy) == 0);
  CHECK(s.count(key::kL2Hit) == 0);
}

TEST_CASE("Table 4 aggregation: order, SD, paired stars against dpo, bold among learned policies") {
  const auto t = Table4(ThreeAgents(true));
  CHECK(t.agents == std::vector<std::string>{"copycat", "dpo", "random", "alpha", "zeta"});
  CHECK(t.reference == "dpo");
  const auto& cv = t.cells.at("copycat").at(key::kValence);
  CHECK(cv.mean == doctest::Approx(0.45));
  CHECK(cv.sd == doctest::Approx(0.05));
  // differences 0.10, 0.15, 0.20: t = 0.15 / (0.05 / sqrt 3) = sqrt 27, df 2: p = 1 - sqrt(27 / 29)
  CHECK(cv.p == doctest::Approx(1 - std::sqrt(27.0 / 29.0)));
  CHECK(cv.stars == "*");
  CHECK(std::isnan(t.cells.at("dpo").at(key::kValence).p));
  CHECK(t.cells.at("random").at(key::kGini).stars == "***");  // constant difference: p = 0
  // Bold only among copycat and dpo: random's higher valence and alpha's lower Gini do not count.
  CHECK(t.cells.at("dpo").at(key::kValence).bold);
  CHECK_FALSE(t.cells.at("random").at(key::kValence).bold);
  CHECK(t.cells.at("copycat").at(key::kGini).bold);  // lower is better
  CHECK_FALSE(t.cells.at("alpha").at(key::kGini).bold);
  // Without dpo: no stars, no bold (no learned policy besides copycat -> copycat bold).
  const auto n = Table4(ThreeAgents(false));
  CHECK(n.reference.empty());
  CHECK(n.cells.at("copycat").at(key::kValence).stars.empty());
  CHECK(n.cells.at("copycat").at(key::kValence).bold);
}

TEST_CASE("Table 5 aggregation: bold is the highest per row") {
  AgentRuns runs;
  runs["random"].Add(0, {{key::kL2Hit, 0.1}});
  runs["random"].Add(1, {{key::kL2Hit, 0.3}});
  runs["greedy"].Add(0, {{key::kL2Hit, 0.2}});
  runs["greedy"].Add(1, {{key::kL2Hit, 0.1}});
  const auto t = Table5Part(runs);
  CHECK(t.cells.at("random").at(key::kL2Hit).bold);
  CHECK_FALSE(t.cells.at("greedy").at(key::kL2Hit).bold);
}

TEST_CASE("SeedRuns rejects repeated seeds, changing keys and NaN") {
  SeedRuns s;
  s.Add(0, {{"a", 1.0}});
  CHECK_THROWS_AS(s.Add(0, {{"a", 1.0}}), amrs::ArgumentError);
  CHECK_THROWS_AS(s.Add(1, {{"b", 1.0}}), amrs::ArgumentError);
  CHECK_THROWS_AS(s.Add(2, {{"a", std::nan("")}}), amrs::ArgumentError);
}

TEST_CASE("Oracle comparison: learned gain, oracle gain and the exploitation gap") {
  auto [learned, oracle] = amrs::testing::LearnedAndOracle();
  const auto c = CompareWithOracle(learned, oracle);
  CHECK(c.agents == std::vector<std::string>{"copycat", "dpo"});
  CHECK(c.skipped == std::vector<std::string>{"random"});
  CHECK(c.affect.at("dpo").at(key::kValence).first == doctest::Approx(0.6));
  CHECK(c.affect.at("dpo").at(key::kValence).second == doctest::Approx(0.47));
  REQUIRE(c.gains.size() == 2);
  const auto& v = c.gains[0];
  CHECK(v.key == key::kValence);
  CHECK(v.learned.gain == doctest::Approx(0.15));
  CHECK(v.learned.relative == doctest::Approx(0.15 / 0.45));
  CHECK(v.learned.p == doctest::Approx(1 - std::sqrt(27.0 / 29.0)));
  CHECK(v.oracle.gain == doctest::Approx(0.02));
  CHECK(v.oracle.p < 1e-6);  // differences constant up to rounding
  CHECK(v.gap == doctest::Approx(0.13));
  CHECK(c.gains[1].learned.gain == doctest::Approx(0.0));
  CHECK(c.gains[1].learned.p == 1.0);  // identical: no difference at all
}
