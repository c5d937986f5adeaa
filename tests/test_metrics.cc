#include <doctest/doctest.h>

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
