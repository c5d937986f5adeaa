// World-model ensembles (issue 17, docs/ensembles.md): train-world's members and manifest, the
// ensemble as a World (mean and per-signal SD of its members, K x one member's work), the manifest
// checks. Torch before doctest (glog's CHECK).
#include <torch/torch.h>

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "amrs/core/error.h"
#include "amrs/data/synthetic.h"
#include "amrs/data/tokens.h"
#include "amrs/env/world.h"
#include "amrs/worldmodel/ensemble_manifest.h"
#include "amrs/worldmodel/train.h"
#include "test_util.h"
#include "world_util.h"

using namespace amrs;
using namespace amrs::worldmodel;

namespace {

std::shared_ptr<const data::Dataset> Data() {
  static auto d = std::make_shared<const data::Dataset>(data::Generate(testing::SmallConfig(4, 30, 150, 900, 40, 12, 2)));
  return d;
}

TrainOptions Tiny() { return testing::TinyTrainOptions(); }

// Trains a 3-member ensemble on split 0 once per test binary.
struct Trained {
  testing::TempDir dir;
  SplitRun run;
  Trained() {
    auto o = Tiny();
    o.members = 3;
    run = TrainAndTest(*Data(), o, {0}, dir.path().string(), nullptr, {}, false).at(0);
  }
};
const Trained& Ensemble() {
  static const Trained t;
  return t;
}

std::vector<History> Histories(std::int32_t n) {
  const auto& d = *Data();
  const data::UserIndex index(d);
  std::vector<History> hs;
  for (std::int32_t u = 0; u < n; ++u) {
    auto h = data::UserHistory(d, index, u);
    h.resize(std::min<std::size_t>(h.size(), 6));
    hs.push_back(h);
  }
  return hs;
}

}  // namespace

TEST_CASE("train-world --members: members with their own seeds, a manifest, the ensemble's test scores") {
  const auto& t = Ensemble();
  REQUIRE_FALSE(t.run.ensemble_manifest.empty());
  const auto members = ReadEnsembleManifest(t.run.ensemble_manifest);
  REQUIRE(members.size() == 3);
  CHECK(members[0] == t.run.checkpoint);
  for (const auto& m : members) CHECK(std::filesystem::is_regular_file(m));
  REQUIRE(t.run.ensemble_test.has_value());
  CHECK(std::isfinite(t.run.ensemble_test->engagement_r2));
  // Different seeds: the members are different models.
  const auto w0 = env::LoadWorld(members[0], Data()), w1 = env::LoadWorld(members[1], Data());
  CHECK(w0->Id() != w1->Id());
}

TEST_CASE("the ensemble world predicts its members' mean and knows their SD") {
  const auto& t = Ensemble();
  const auto ens = env::LoadWorld(t.run.ensemble_manifest, Data());
  CHECK(ens->members() == 3);
  CHECK(ens->Name().rfind("ensemble:3x", 0) == 0);
  std::vector<std::shared_ptr<const env::World>> members;
  for (const auto& m : ReadEnsembleManifest(t.run.ensemble_manifest)) members.push_back(env::LoadWorld(m, Data()));

  const auto hs = Histories(4);
  std::vector<std::int32_t> users{0, 1, 2, 3};
  auto es = ens->Encode(users, hs);
  std::vector<std::unique_ptr<env::WorldState>> ms;
  for (const auto& m : members) ms.push_back(m->Encode(users, hs));
  // One step appended everywhere, so the members' caches are exercised too.
  std::vector<Token> step(4);
  for (int i = 0; i < 4; ++i) step[i].song = 3 + i, step[i].engagement = 0.5f, step[i].has_engagement = true;
  ens->Append(*es, step);
  for (std::size_t m = 0; m < members.size(); ++m) members[m]->Append(*ms[m], step);

  std::vector<Feedback> sd;
  const auto mean = ens->ScoreCatalogueSpread(*es, sd);
  const auto plain = ens->ScoreCatalogue(*es);
  REQUIRE(mean.size() == sd.size());
  std::vector<std::vector<Feedback>> per;
  for (std::size_t m = 0; m < members.size(); ++m) per.push_back(members[m]->ScoreCatalogue(*ms[m]));
  double max_err = 0, max_sd = 0;
  for (std::size_t i = 0; i < mean.size(); ++i) {
    const float* got = &mean[i].engagement;
    const float* got_sd = &sd[i].engagement;
    for (int s = 0; s < 4; ++s) {
      double mu = 0, ss = 0;
      for (const auto& p : per) mu += (&p[i].engagement)[s];
      mu /= 3;
      for (const auto& p : per) ss += ((&p[i].engagement)[s] - mu) * ((&p[i].engagement)[s] - mu);
      max_err = std::max<double>({max_err, std::abs(got[s] - mu), std::abs(got_sd[s] - std::sqrt(ss / 3)),
                                  static_cast<double>(std::abs((&plain[i].engagement)[s] - got[s]))});
      max_sd = std::max<double>(max_sd, got_sd[s]);
    }
  }
  CHECK(max_err < 1e-6);
  CHECK(max_sd > 1e-4);  // the members disagree somewhere
  // One candidate per row: the catalogue's column.
  std::vector<std::int32_t> songs{5, 0, 7, 11};
  std::vector<Feedback> sd1;
  const auto one = ens->PredictSpread(*es, songs, sd1);
  const std::int32_t n = ens->num_songs();
  for (int r = 0; r < 4; ++r) {
    CHECK(one[r].rating == doctest::Approx(mean[r * n + songs[r]].rating).epsilon(1e-5));
    CHECK(sd1[r].valence == doctest::Approx(sd[r * n + songs[r]].valence).epsilon(1e-4));
  }
  // A single model: no spread.
  std::vector<Feedback> sd0;
  members[0]->PredictSpread(*ms[0], songs, sd0);
  for (const auto& f : sd0) CHECK((f.engagement == 0 && f.rating == 0 && f.valence == 0 && f.arousal == 0));
  CHECK(members[0]->members() == 1);
}

TEST_CASE("ensemble manifests: located errors") {
  const auto& t = Ensemble();
  testing::TempDir tmp;
  const auto members = ReadEnsembleManifest(t.run.ensemble_manifest);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(tmp.File(name)) << text;
    return tmp.File(name);
  };
  auto error_of = [&](const std::string& path) {
    try {
      env::LoadWorld(path, Data());
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(error_of(write("a.ensemble.json", "{")).find("not a JSON ensemble manifest") != std::string::npos);
  CHECK(error_of(write("b.ensemble.json", R"({"members": []})")).find("'amrs_ensemble'") != std::string::npos);
  CHECK(error_of(write("c.ensemble.json", R"({"amrs_ensemble": 1, "members": ["x.pt"]})")).find("between 2 and") !=
        std::string::npos);
  // A missing member, named with its index.
  WriteEnsembleManifest(tmp.File("d.ensemble.json"), {members[0], tmp.File("gone.pt")});
  const auto e = error_of(tmp.File("d.ensemble.json"));
  CHECK(e.find("members[1]") != std::string::npos);
  CHECK(e.find("gone.pt") != std::string::npos);
  // A member of another configuration.
  auto o = Tiny();
  o.model.d_model = 8;
  o.model.heads = 1;
  o.out = tmp.File("other.pt");
  TrainWorldModel(*Data(), o, nullptr);
  WriteEnsembleManifest(tmp.File("e.ensemble.json"), {members[0], members[1], tmp.File("other.pt")});
  CHECK(error_of(tmp.File("e.ensemble.json")).find("members[2]") != std::string::npos);
  CHECK(error_of(tmp.File("e.ensemble.json")).find("another configuration") != std::string::npos);
  // Relative paths: the manifest moves with its members' folder.
  WriteEnsembleManifest(tmp.File("f.ensemble.json"), {members[0], members[1]});
  CHECK(error_of(tmp.File("f.ensemble.json")).empty());
  CHECK_THROWS_AS(env::MakeEnsembleWorld({env::LoadWorld(members[0], Data())}), ArgumentError);
  CHECK_THROWS_AS(TrainAndTest(*Data(), [] { auto x = Tiny(); x.members = 0; return x; }(), {0}, tmp.path().string(), nullptr),
                  ArgumentError);
}
