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
