#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "amrs/core/error.h"
#include "amrs/metrics/regression.h"

using namespace amrs::metrics;

TEST_CASE("MSE and R^2 against hand-computed values") {
  // target mean 2, SST = 2; SSE = 0.25 + 0 + 0.25 = 0.5
  const std::vector<double> t{1, 2, 3}, p{1.5, 2, 2.5};
  CHECK(Mse(p, t) == doctest::Approx(0.5 / 3));
  CHECK(R2(p, t) == doctest::Approx(1 - 0.5 / 2));
  CHECK(R2(std::vector<double>{2, 2, 2}, t) == doctest::Approx(0.0));  // the mean predictor
  CHECK(R2(std::vector<double>{3, 2, 1}, t) == doctest::Approx(-3.0));
  CHECK_THROWS_AS(R2(p, std::vector<double>{1, 1, 1}), amrs::ArgumentError);
  CHECK_THROWS_AS(Mse({}, {}), amrs::ArgumentError);
  CHECK_THROWS_AS(Mse({1.0}, {1.0, 2.0}), amrs::ArgumentError);
}

TEST_CASE("ROC AUC counts ties as one half") {
  // positives {0.8, 0.4}, negatives {0.4, 0.1}: pairs (0.8>0.4)=1 (0.8>0.1)=1 (0.4=0.4)=0.5 (0.4>0.1)=1
  CHECK(RocAuc({0.8, 0.4, 0.4, 0.1}, {1, 1, 0, 0}) == doctest::Approx(3.5 / 4));
  CHECK(RocAuc({0.5, 0.5, 0.5}, {1, 0, 1}) == doctest::Approx(0.5));
  CHECK(RocAuc({0.1, 0.9}, {1, 0}) == doctest::Approx(0.0));
  CHECK_THROWS_AS(RocAuc({0.1, 0.9}, {1, 1}), amrs::ArgumentError);
}

TEST_CASE("Spearman uses average ranks") {
  CHECK(Ranks({10, 20, 20, 5}) == std::vector<double>{2, 3.5, 3.5, 1});
  CHECK(Spearman({1, 2, 3, 4}, {10, 20, 30, 400}) == doctest::Approx(1.0));
  CHECK(Spearman({1, 2, 3, 4}, {4, 3, 2, 1}) == doctest::Approx(-1.0));
  CHECK_THROWS_AS(Spearman({1, 1}, {1, 2}), amrs::ArgumentError);
}

#include "amrs/metrics/stats.h"
#include "amrs/metrics/tables.h"
#include "amrs/metrics/world.h"

TEST_CASE("Mean, SD and the paired t-test against hand-computed values") {
  CHECK(Mean({1, 2, 3, 4}) == doctest::Approx(2.5));
  CHECK(Sd({1, 2, 3, 4}) == doctest::Approx(1.2909944));
  CHECK(Sd({5}) == 0.0);
  CHECK_THROWS_AS(Mean({}), amrs::ArgumentError);
  // differences {1, 2, 3}: mean 2, sd 1, t = 2 / (1 / sqrt 3) = 3.4641, df 2 -> p = 0.07418
  CHECK(PairedTTestP({2, 4, 6}, {1, 2, 3}) == doctest::Approx(0.07418).epsilon(1e-3));
  CHECK(PairedTTestP({1, 2, 3}, {1, 2, 3}) == 1.0);
  // An undefined score on one split (NaN) makes the test undefined, not an exception.
  CHECK(std::isnan(PairedTTestP({2, std::nan(""), 6}, {1, 2, 3})));
  CHECK(std::isnan(PairedTTestP({2, 4, 6}, {1, std::numeric_limits<double>::infinity(), 3})));
  CHECK(Stars(std::nan("")).empty());
  CHECK(PairedTTestP({2, 3, 4}, {1, 2, 3}) == 0.0);  // constant non-zero difference
  CHECK_THROWS_AS(PairedTTestP({1}, {2}), amrs::ArgumentError);
  CHECK(Stars(0.0005) == "***");
  CHECK(Stars(0.005) == "**");
  CHECK(Stars(0.03) == "*");
  CHECK(Stars(0.2) == "");
}

TEST_CASE("Tables: mean (SD), bold best, stars against the reference, average rank") {
  RowData rows;
  rows["a"]["mse"] = {0.10, 0.11, 0.12};
  rows["a"]["auc"] = {0.70, 0.72, 0.74};
  rows["b"]["mse"] = {0.20, 0.21, 0.22};
  rows["b"]["auc"] = {0.80, 0.82, 0.84};
  rows["c"]["mse"] = {0.30, 0.30, 0.31};
  rows["c"]["auc"] = {0.60, 0.61, 0.62};
  const std::vector<Column> cols{{"mse", "MSE", false, 1, 2, true}, {"auc", "AUC", true, 100, 1, true}};
  const auto t = MakeTable({"a", "b", "c"}, rows, cols, "a");
  CHECK(t.average_rank.at("a") == doctest::Approx(1.5));  // mse rank 1, auc rank 2
  CHECK(t.average_rank.at("b") == doctest::Approx(1.5));
  CHECK(t.average_rank.at("c") == doctest::Approx(3.0));
  CHECK(t.chosen == "a");  // ties keep the first in order
  CHECK(t.markdown.find("**0.11 (0.01)**") != std::string::npos);
  CHECK(t.markdown.find("**82.0 (2.0)**") != std::string::npos);
  CHECK(t.markdown.find("0.21 (0.01)<sup>") != std::string::npos);  // b differs from a by a constant
  CHECK(t.markdown.find("| a †") != std::string::npos);
}

TEST_CASE("Tables: a score undefined on some split prints n/a and takes no rank") {
  RowData rows;
  rows["a"]["mse"] = {0.10, 0.11};
  rows["a"]["auc"] = {0.70, std::nan("")};  // one split's AUC undefined (one class)
  rows["b"]["mse"] = {0.20, 0.21};
  rows["b"]["auc"] = {0.60, 0.61};
  const std::vector<Column> cols{{"mse", "MSE", false, 1, 2, true}, {"auc", "AUC", true, 100, 1, true}};
  const auto t = MakeTable({"a", "b"}, rows, cols, "b");
  CHECK(t.average_rank.at("a") == doctest::Approx(1.0));  // ranked on MSE only
  CHECK(t.average_rank.at("b") == doctest::Approx(1.5));  // MSE 2, AUC 1 (the only defined one)
  CHECK(t.chosen == "a");
  CHECK(t.markdown.find("nan") == std::string::npos);
  CHECK(t.markdown.find("**60.5 (0.7)**") != std::string::npos);  // b's AUC: the best defined one
  CHECK(t.markdown.find(" n/a |") != std::string::npos);
}

TEST_CASE("ScoreFeedback scores each signal only where observed") {
  using amrs::Token;
  using amrs::Feedback;
  const auto m = amrs::SessionMode::kNone;
  amrs::History h{Token::Boundary(0.5f, 0.5f, m), Token::Song(0, {1.f, 1.f, 0.f, 0.f}, true, false, m),
                  Token::Song(1, {0.f, 0.f, 0.2f, 0.4f}, true, true, m),
                  Token::Song(2, {0.5f, 0.f, 0.6f, 0.8f}, false, true, m)};
  std::vector<Feedback> p{{}, {0.9f, 0.8f, 0.f, 0.f}, {0.1f, 0.3f, 0.3f, 0.5f}, {0.5f, 0.9f, 0.5f, 0.7f}};
  const auto s = ScoreFeedback({h}, {p});
  CHECK(s.n_engagement == 3);
  CHECK(s.n_rating == 2);
  CHECK(s.n_affect == 2);
  CHECK(s.engagement_mse == doctest::Approx((0.01 + 0.01 + 0.0) / 3));
  CHECK(s.rating_auc == doctest::Approx(1.0));  // the unrated token's 0.9 is ignored
  CHECK(s.valence_mse == doctest::Approx(0.01));
  CHECK(s.arousal_r2 == doctest::Approx(1 - 0.02 / 0.08));
  CHECK_THROWS_AS(ScoreFeedback({h}, {}), amrs::ArgumentError);
}

#include <cmath>

#include "amrs/metrics/recommender.h"

TEST_CASE("Coverage, normalized entropy and Gini against hand-computed values") {
  // Catalogue of 4; recommended {0, 0, 1, 2}: counts {2, 1, 1, 0}.
  const std::vector<std::int32_t> rec{0, 0, 1, 2};
  CHECK(Coverage(rec, 4) == doctest::Approx(0.75));
  const double h = -(0.5 * std::log(0.5) + 2 * 0.25 * std::log(0.25));
  CHECK(NormalizedEntropy(rec, 4) == doctest::Approx(h / std::log(4.0)));
  // sorted counts {0, 1, 1, 2}: sum (2i - n - 1) c_i = -3*0 - 1*1 + 1*1 + 3*2 = 6; / (4 * 4)
  CHECK(Gini(rec, 4) == doctest::Approx(6.0 / 16.0));
  // All identical: one song throughout.
  const std::vector<std::int32_t> same{3, 3, 3};
  CHECK(Coverage(same, 4) == doctest::Approx(0.25));
  CHECK(NormalizedEntropy(same, 4) == doctest::Approx(0.0));
  CHECK(Gini(same, 4) == doctest::Approx(0.75));  // (3*3) / (4*3)
  // Uniform over the catalogue.
  CHECK(NormalizedEntropy({0, 1, 2, 3}, 4) == doctest::Approx(1.0));
  CHECK(Gini({0, 1, 2, 3}, 4) == doctest::Approx(0.0));
  // One item catalogue.
  CHECK(NormalizedEntropy({0}, 1) == 0.0);
  CHECK_THROWS_AS(Coverage({}, 4), amrs::ArgumentError);
  CHECK_THROWS_WITH_AS(Gini({5}, 4), doctest::Contains("song index 5"), amrs::ArgumentError);
}

TEST_CASE("ILD is normalized by the catalogue's mean pairwise cosine distance") {
  // Three songs in 2-d: e0 = (1,0), e1 = (0,1), e2 = (1,0) (same direction as e0).
  const std::vector<float> e{1, 0, 0, 1, 2, 0};
  // pairs: (0,1) d=1, (0,2) d=0, (1,2) d=1 -> mean 2/3
  CHECK(CatalogueMeanCosineDistance(e, 2) == doctest::Approx(2.0 / 3.0));
  // rollout {0,1}: 1; rollout {0,2}: 0; mean 0.5, normalized 0.5 / (2/3) = 0.75
  CHECK(IntraListDiversity({{0, 1}, {0, 2}}, e, 2) == doctest::Approx(0.75));
  CHECK(IntraListDiversity({{0, 0, 0}}, e, 2) == doctest::Approx(0.0));  // all identical
  CHECK_THROWS_AS(IntraListDiversity({{1}}, e, 2), amrs::ArgumentError);  // no pair
  CHECK_THROWS_AS(CatalogueMeanCosineDistance({1, 0}, 2), amrs::ArgumentError);
}

TEST_CASE("Hit@k, MRR and NDCG@k with binary relevance") {
  // Relevant {3, 7}; ranking [5, 3, 9, 7]: hits at ranks 2 and 4.
  const auto s = ScoreRanking({5, 3, 9, 7}, {3, 7}, 10);
  CHECK(s.hit == 1.0);
  CHECK(s.mrr == doctest::Approx(0.5));
  const double dcg = 1 / std::log2(3.0) + 1 / std::log2(5.0), idcg = 1 + 1 / std::log2(3.0);
  CHECK(s.ndcg == doctest::Approx(dcg / idcg));
  // Cutoff: with k = 1 nothing relevant is in the top 1.
  const auto s1 = ScoreRanking({5, 3, 9, 7}, {3, 7}, 1);
  CHECK(s1.hit == 0.0);
  CHECK(s1.ndcg == 0.0);
  // Nothing relevant at all.
  const auto s0 = ScoreRanking({1, 2}, {}, 10);
  CHECK(s0.hit == 0.0);
  CHECK(s0.mrr == 0.0);
  CHECK(s0.ndcg == 0.0);
  // Perfect single relevant item (Level 3 style).
  CHECK(ScoreRanking({4, 1}, {4}, 10).ndcg == doctest::Approx(1.0));
  CHECK_THROWS_AS(ScoreRanking({}, {1}, 10), amrs::ArgumentError);
}

TEST_CASE("ScoreFeedback: an undefined score is NaN, not an exception") {
  using amrs::Token;
  const auto m = amrs::SessionMode::kNone;
  // No ratings, constant engagement, one affect report (constant valence and arousal).
  amrs::History h{Token::Boundary(0.5f, 0.5f, m), Token::Song(0, {0.5f, 0.f, 0.f, 0.f}, false, false, m),
                  Token::Song(1, {0.5f, 0.f, 0.2f, 0.4f}, false, true, m)};
  std::vector<amrs::Feedback> p{{}, {0.4f, 0.9f, 0.f, 0.f}, {0.7f, 0.1f, 0.3f, 0.5f}};
  const auto s = amrs::ScoreFeedback({h}, {p});
  CHECK(s.n_rating == 0);
  CHECK(std::isnan(s.rating_auc));
  CHECK(s.engagement_mse == doctest::Approx((0.01 + 0.04) / 2));  // defined
  CHECK(std::isnan(s.engagement_r2));                              // constant target
  CHECK(s.valence_mse == doctest::Approx(0.01));
  CHECK(std::isnan(s.valence_r2));
  // Ratings of one class: AUC undefined.
  amrs::History liked{Token::Song(0, {0.5f, 1.f, 0.f, 0.f}, true, false, m),
                      Token::Song(1, {0.9f, 1.f, 0.f, 0.f}, true, false, m)};
  const auto one = amrs::ScoreFeedback({liked}, {{{0.5f, 0.2f, 0.f, 0.f}, {0.6f, 0.8f, 0.f, 0.f}}});
  CHECK(one.n_rating == 2);
  CHECK(std::isnan(one.rating_auc));
  CHECK(std::isnan(one.valence_mse));  // no affect report at all
  CHECK(std::isfinite(one.engagement_r2));
}
