// A signal that cannot be learned is skipped with a warning instead of crashing (issue #18):
// training finishes, the checkpoint records the skipped signal without NaN, loads, and the
// world predicts the documented constant for it. Torch is included before doctest.
#include <torch/torch.h>

#include "../worldmodel/src/checkpoint.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "amrs/core/error.h"
#include "amrs/data/synthetic.h"
#include "amrs/data/tokens.h"
#include "amrs/worldmodel/train.h"
#include "amrs/worldmodel/world_model.h"
#include "test_util.h"

using namespace amrs;
using namespace amrs::worldmodel;

namespace {

TrainOptions TinyTraining(const std::string& out) {
  TrainOptions o;
  o.model.d_model = 8;
  o.model.heads = 1;
  o.model.layers = 1;
  o.model.ff = 16;
  o.model.head_hidden = 8;
  o.model.song_components = 0;
  o.epochs = 2;
  o.batch_tokens = 512;
  o.max_train_users = 10;
  o.out = out;
  return o;
}

}  // namespace

TEST_CASE("World-model training skips a signal without ratings, records it, and the checkpoint loads") {
  testing::TempDir tmp;
  auto d = data::Generate(testing::SmallConfig(4, 30, 150, 900, 120, 12, 1));
  for (auto& h : d.interactions.has_rating) h = 0;
  for (auto& r : d.interactions.rating) r = 0;
  const auto o = TinyTraining(tmp.File("w.pt"));
  std::ostringstream log;
  const auto r = TrainWorldModel(d, o, &log);
  REQUIRE(r.finished);
  CHECK(log.str().find("train-world: warning: skipping the rating signal: no ratings in split 0 (train users)") !=
        std::string::npos);
  CHECK(log.str().find("nan") == std::string::npos);
  CHECK(r.info.skipped(1));
  CHECK(r.info.skip_reason[1] == "no ratings in split 0 (train users)");
  CHECK(r.info.skip_prediction[1] == 0.5f);
  CHECK(std::isnan(r.info.best_val_loss[1]));
  for (int s : {0, 2, 3}) {
    CHECK_FALSE(r.info.skipped(s));
    CHECK(std::isfinite(r.info.best_val_loss[s]));
  }
  // The metadata holds no NaN (JSON would write null) and names the skipped signal.
  const std::string json = InfoToJson(r.info);
  CHECK(json.find("null") == std::string::npos);
  CHECK(json.find("\"skipped_signals\":[\"rating\"]") != std::string::npos);
  const auto info = WorldModel::ReadInfo(o.out);
  CHECK(info.skipped(1));
  CHECK(info.skip_reason[1] == r.info.skip_reason[1]);
  CHECK(std::isnan(info.best_val_loss[1]));
  CHECK_FALSE(info.skipped(0));

  const auto model = WorldModel::Load(o.out, d);
  const data::TokenView view(d);
  const auto preds = model->PredictSequences({view.User(d.splits[0].test.front())});
  int songs = 0;
  for (std::size_t t = 0; t < preds[0].size(); ++t) {
    if (view.User(d.splits[0].test.front())[t].IsBoundary()) continue;
    ++songs;
    CHECK(preds[0][t].rating == 0.5f);
    CHECK(std::isfinite(preds[0][t].engagement));
  }
  CHECK(songs > 0);
  auto state = model->Encode({view.User(0)});
  CHECK(model->Predict(*state, {3})[0].rating == 0.5f);
  CHECK(model->ScoreCatalogue(*state)[7].rating == 0.5f);
  // Test scores: the rating AUC is undefined (no ratings), the others are numbers.
  const auto scores = Evaluate(*model, d, d.splits[0].test);
  CHECK(scores.n_rating == 0);
  CHECK(std::isnan(scores.rating_auc));
  CHECK(std::isfinite(scores.engagement_r2));
}

TEST_CASE("Constant engagement is skipped and predicted as its training mean") {
  testing::TempDir tmp;
  auto d = data::Generate(testing::SmallConfig(5, 30, 150, 900, 120, 12, 1));
  for (auto& e : d.interactions.engagement) e = 0.75f;
  const auto o = TinyTraining(tmp.File("c.pt"));
  const auto r = TrainWorldModel(d, o, nullptr);
  CHECK(r.info.skipped(0));
  CHECK(r.info.skip_reason[0].find("constant engagement") == 0);
  CHECK(r.info.skip_reason[0].find("in split 0") != std::string::npos);
  CHECK(r.info.skip_prediction[0] == doctest::Approx(0.75f));
  CHECK_FALSE(r.info.skipped(1));
  const auto model = WorldModel::Load(o.out, d);
  const auto scores = Evaluate(*model, d, d.splits[0].test);
  CHECK(std::isnan(scores.engagement_r2));  // the target is constant: R^2 undefined, no exception
  CHECK(scores.engagement_mse == doctest::Approx(0.0).epsilon(1e-6));
}

TEST_CASE("Checkpoint metadata: a missing validation loss is written n/a and read back as NaN") {
  CheckpointInfo i;
  i.best_val_loss = {0.1, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(), 0.2};
  i.skip_reason[2] = "no affect reports in split 3 (train users)";
  i.skip_prediction[2] = 0.5f;
  const auto json = InfoToJson(i);
  CHECK(json.find("null") == std::string::npos);
  const auto back = InfoFromJson(json, "x.pt");
  CHECK(back.best_val_loss[0] == doctest::Approx(0.1));
  CHECK(std::isnan(back.best_val_loss[1]));
  CHECK(std::isnan(back.best_val_loss[2]));
  CHECK(back.skip_reason[2] == i.skip_reason[2]);
  CHECK_FALSE(back.skipped(0));
  // Written before signals could be skipped: no skipped_signals key.
  auto old = nlohmann::json::parse(json);
  old.erase("skipped_signals");
  old["best_val_loss"] = {0.1, 0.2, 0.3, 0.4};
  const auto o = InfoFromJson(old.dump(), "old.pt");
  for (int s = 0; s < kNumSignals; ++s) CHECK_FALSE(o.skipped(s));
  old["skipped_signals"] = {"loudness"};
  CHECK_THROWS_WITH_AS(InfoFromJson(old.dump(), "bad.pt"), doctest::Contains("unknown signal 'loudness'"), InputError);
}
