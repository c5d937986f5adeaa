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
#include "amrs/agents/agent.h"
#include "amrs/env/env.h"
#include "amrs/env/episode_log.h"
#include "amrs/env/rollout.h"
#include "amrs/env/world.h"
#include "amrs/metrics/regression.h"
#include "amrs/metrics/rollouts.h"
#include "amrs/run/run.h"
#include "amrs/scenarios/scenario.h"
#include "amrs/scenarios/stress.h"
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

TEST_CASE("the penalty: parsed, validated, printed only when set") {
  CHECK(Utility::Parse("affect").ToString() == "rating=0,engagement=0,valence=0.5,arousal=0.5");
  const auto u = Utility::Parse("penalty=1.5");  // only a penalty: the affect weights
  CHECK(u.valence == 0.5f);
  CHECK(u.penalty == 1.5f);
  CHECK(u.ToString() == "rating=0,engagement=0,valence=0.5,arousal=0.5,penalty=1.5");
  CHECK(Utility::Parse("valence=1,penalty=2").valence == 1.f);
  CHECK_THROWS_WITH_AS(Utility::Parse("penalty=-1"), doctest::Contains("penalty"), ArgumentError);
  Feedback sd;
  sd.rating = 0.1f, sd.engagement = 0.2f, sd.valence = 0.3f, sd.arousal = 0.4f;
  Utility w{-1.f, 0.5f, 0.f, 0.25f};
  w.penalty = 2.f;
  CHECK(w.Disagreement(sd) == doctest::Approx(0.1 + 0.1 + 0.1));  // |weights| x SD
  Feedback mean;
  mean.rating = 0.5f, mean.engagement = 0.4f, mean.arousal = 0.8f;
  CHECK(w.Penalized(mean, sd) == doctest::Approx(w(mean) - 2 * 0.3));
}

TEST_CASE("under an ensemble world: penalized rewards, logged disagreement, greedy on the penalized reward") {
  const auto& t = Ensemble();
  const auto d = Data();
  const auto ens = env::LoadWorld(t.run.ensemble_manifest, d);
  env::EnvConfig cfg;
  const auto ctx = env::EnvContext::Create(d, ens, cfg);
  env::VectorEnv v(ctx, 3);
  env::ResetOptions ro;
  ro.utility.penalty = 3.f;
  v.Reset(11, ro);
  std::vector<std::int32_t> actions(3);
  {
    const auto first = v.Batch();
    for (std::size_t i = 0; i < 3; ++i)  // an allowed song of each row (no-replay: session)
      while (first.Banned(i, actions[i])) ++actions[i];
  }
  std::vector<Feedback> sd;
  const auto expect = ens->PredictSpread(*v.Batch().state, actions, sd);
  const auto res = v.Step(actions);
  for (int i = 0; i < 3; ++i) {
    CHECK(res[i].reward == doctest::Approx(ro.utility.Penalized(expect[i], sd[i])));
    CHECK(res[i].info.disagreement == doctest::Approx(ro.utility.Disagreement(sd[i])));
    CHECK(res[i].info.disagreement > 0.f);
  }
  // Greedy takes the argmax of the penalized reward over the catalogue.
  agents::AgentContext ac{ctx, {}, 0};
  auto greedy = agents::AgentRegistry::Create("greedy", ac);
  const auto obs = v.Batch();
  const auto act = greedy->Act(obs, 0).actions;
  std::vector<Feedback> csd;
  const auto scores = ens->ScoreCatalogueSpread(*obs.state, csd);
  const std::int32_t n = ens->num_songs();
  for (int r = 0; r < 3; ++r) {
    float best = -1e9f;
    for (std::int32_t s = 0; s < n; ++s)
      if (!obs.Banned(static_cast<std::size_t>(r), s))
        best = std::max(best, ro.utility.Penalized(scores[r * n + s], csd[r * n + s]));
    CHECK(ro.utility.Penalized(scores[r * n + act[r]], csd[r * n + act[r]]) == best);
  }
  // Rollout blocks carry the disagreement under an ensemble, not under a single model.
  env::RolloutOptions o;
  o.max_users = 3;
  o.reset = ro;
  const auto block = env::RunRollouts(ctx, [&] { return agents::AgentRegistry::Create("random", ac); }, "random", 0, o);
  CHECK(block.disagreement.size() == block.reward.size());
  const auto single_ctx = env::EnvContext::Create(d, env::LoadWorld(t.run.checkpoint, d), cfg);
  agents::AgentContext sac{single_ctx, {}, 0};
  const auto single =
      env::RunRollouts(single_ctx, [&] { return agents::AgentRegistry::Create("random", sac); }, "random", 0, o);
  CHECK(single.disagreement.empty());
  // The episode log keeps both.
  testing::TempDir tmp;
  env::RunMetadata meta;
  meta.utility = ro.utility;
  meta.horizon = block.horizon;
  meta.topk = block.topk;
  {
    env::EpisodeLogWriter w(tmp.File("log.h5"), meta);
    w.Write(block);
    w.Finalize();
  }
  const auto log = env::ReadEpisodeLog(tmp.File("log.h5"));
  CHECK(log.meta.utility.penalty == 3.f);
  REQUIRE(log.blocks.size() == 1);
  CHECK(log.blocks[0].disagreement == block.disagreement);
}

TEST_CASE("stress under an ensemble: the mean disagreement per agent and the max_disagreement guardrail") {
  const auto& t = Ensemble();
  testing::TempDir tmp;
  const std::string data_path = tmp.File("d.h5");
  data::WriteDataset(*Data(), data_path);
  auto scenario = [&](const std::string& world, double threshold) {
    return "name = \"unsure-" + std::to_string(static_cast<int>(threshold * 100)) + "\"\nworld = \"" + world + "\"\ndata = \"" + data_path +
           "\"\nagents = [\"random\", \"greedy\"]\nseeds = [0]\nhorizon = 3\n[users]\nsplit = 0\npart = \"test\"\n"
           "[utility]\npreset = \"affect\"\npenalty = 1.0\n[guardrails.max_disagreement]\nthreshold = " +
           std::to_string(threshold) + "\nmax_violation_rate = 0.0\n";
  };
  const auto strict = scenarios::ParseScenarioText(scenario(t.run.ensemble_manifest, 0.0), "strict.toml");
  const auto loose = scenarios::ParseScenarioText(scenario(t.run.ensemble_manifest, 1.0), "loose.toml");
  const auto report = scenarios::RunStress({strict, loose});
  REQUIRE(report.scenarios.size() == 2);
  for (const auto& a : report.scenarios[0].agents) {
    REQUIRE(a.disagreement.has_value());
    CHECK(*a.disagreement > 0);
    REQUIRE(a.guardrails.size() == 1);
    CHECK_FALSE(a.guardrails[0].passed);  // every episode disagrees a little: above 0
  }
  for (const auto& a : report.scenarios[1].agents) CHECK(a.guardrails[0].passed);  // never above 1
  CHECK(report.RequiredFailed());
  CHECK(scenarios::StressMarkdown(report).find("disagreement") != std::string::npos);
  // The guardrail needs an ensemble: refused before any rollout under a single model.
  const auto single = scenarios::ParseScenarioText(scenario(t.run.checkpoint, 0.5), "single.toml");
  CHECK_THROWS_WITH_AS(scenarios::RunStress({single}), doctest::Contains("needs an ensemble world"), InputError);
}

TEST_CASE("the error against the oracle: every episode replayed there, logged per step, ranked against the disagreement") {
  const auto& t = Ensemble();
  run::RunSpec spec;
  spec.world = t.run.ensemble_manifest;
  spec.agents = {"random", "greedy"};
  spec.seeds = {0, 1};
  spec.max_users = 4;
  spec.batch = 3;  // several batches per block
  spec.utility = Utility::Parse("rating=0.2,engagement=-0.3,valence=0.25,arousal=0.25");
  testing::TempDir tmp;
  const run::Runner runner(spec, run::Inputs{Data(), nullptr, nullptr});
  run::RunHooks hooks;
  hooks.log = tmp.File("ens.h5");
  const auto result = runner.Run(hooks);
  const auto& blocks = result.parts.at(0).blocks;
  REQUIRE(blocks.size() == 4);
  const auto oracle = env::MakeOracleWorld(Data(), Data()->families[0].name);
  for (const auto& b : blocks) {
    const std::size_t EL = static_cast<std::size_t>(b.episodes()) * static_cast<std::size_t>(b.horizon);
    REQUIRE(b.oracle_error.size() == EL);
    // Episode by episode, the same actions in an oracle env of the run's configuration: the logged
    // error is sum |w_s| |logged_s - oracle_s|.
    const auto octx = env::EnvContext::Create(Data(), oracle, runner.ContextFor(b.seed)->config());
    double largest = 0;
    for (std::int32_t e = 0; e < b.episodes(); ++e) {
      env::RecEnv r(octx);
      auto ro = runner.Options(data::Part::kTest).reset;
      ro.user = b.user[static_cast<std::size_t>(e)];
      ro.window = b.window_index[static_cast<std::size_t>(e)];
      r.Reset(b.episode_seed[static_cast<std::size_t>(e)], ro);
      for (std::int32_t s = 0; s < b.horizon; ++s) {
        const std::size_t at = static_cast<std::size_t>(e) * b.horizon + s;
        const auto f = r.Step(b.actions[at]).info.predicted;
        const double want = 0.2 * std::abs(b.rating[at] - f.rating) + 0.3 * std::abs(b.engagement[at] - f.engagement) +
                            0.25 * std::abs(b.valence[at] - f.valence) + 0.25 * std::abs(b.arousal[at] - f.arousal);
        CHECK(b.oracle_error[at] == doctest::Approx(want).epsilon(1e-5));
        REQUIRE(b.oracle_feedback.size() == 4 * EL);
        CHECK(b.oracle_feedback[4 * at + 0] == f.engagement);
        CHECK(b.oracle_feedback[4 * at + 1] == f.rating);
        CHECK(b.oracle_feedback[4 * at + 2] == f.valence);
        CHECK(b.oracle_feedback[4 * at + 3] == f.arousal);
        largest = std::max(largest, want);
      }
    }
    CHECK(largest > 0);
    // The metrics: the mean error and the Spearman correlation with the disagreement.
    const auto m = metrics::UncertaintyMetrics(b);
    double sum = 0;
    for (float x : b.oracle_error) sum += x;
    CHECK(m.at(metrics::key::kOracleError) == doctest::Approx(sum / static_cast<double>(EL)));
    const std::vector<double> dv(b.disagreement.begin(), b.disagreement.end()), ev(b.oracle_error.begin(), b.oracle_error.end());
    CHECK(m.at(metrics::key::kDisagreementErrorSpearman) == doctest::Approx(Spearman(dv, ev)));
    double v = 0;
    for (std::size_t i = 0; i < EL; ++i) v += b.oracle_feedback[4 * i + 2];
    CHECK(m.at(metrics::key::kOracleValence) == doctest::Approx(v / static_cast<double>(EL)));
  }
  // The log keeps it; sharded blocks carry it through PackShard/MergeShards.
  const auto log = env::ReadEpisodeLog(tmp.File("ens.h5"));
  REQUIRE(log.blocks.size() == 4);
  for (const auto& lb : log.blocks) {
    const auto it = std::find_if(blocks.begin(), blocks.end(),
                                 [&](const env::EpisodeBlock& b) { return b.agent == lb.agent && b.seed == lb.seed; });
    REQUIRE(it != blocks.end());
    CHECK(lb.oracle_error == it->oracle_error);
    CHECK(lb.oracle_feedback == it->oracle_feedback);
  }
  env::EpisodeBlock merged = blocks[0];
  std::fill(merged.oracle_error.begin(), merged.oracle_error.end(), -1.f);
  std::fill(merged.oracle_feedback.begin(), merged.oracle_feedback.end(), -1.f);
  env::MergeShards(merged, {env::PackShard(blocks[0], 3, 0, 2), env::PackShard(blocks[0], 3, 1, 2)}, 3);
  CHECK(merged.oracle_error == blocks[0].oracle_error);
  CHECK(merged.oracle_feedback == blocks[0].oracle_feedback);
  // Off on request, and absent under a single model.
  spec.oracle_error = false;
  CHECK(run::Run(spec, {}, run::Inputs{Data(), nullptr, nullptr}).parts.at(0).blocks.at(0).oracle_error.empty());
  spec.oracle_error = true;
  spec.world = t.run.checkpoint;
  CHECK(run::Run(spec, {}, run::Inputs{Data(), nullptr, nullptr}).parts.at(0).blocks.at(0).oracle_error.empty());
}

TEST_CASE("members trained side by side: the same checkpoints as one after another") {
  const auto& t = Ensemble();  // trained with member_jobs 0 (as many as cores)
  testing::TempDir dir;
  auto o = Tiny();
  o.members = 3;
  o.member_jobs = 1;
  const auto serial = TrainAndTest(*Data(), o, {0}, dir.path().string(), nullptr, {}, false).at(0);
  const auto a = ReadEnsembleManifest(t.run.ensemble_manifest), b = ReadEnsembleManifest(serial.ensemble_manifest);
  REQUIRE(a.size() == 3);
  REQUIRE(b.size() == 3);
  const auto hs = Histories(4);
  // Bit for bit (NaN where a token has no prediction, e.g. a session boundary).
  auto same = [](float x, float y) { return (std::isnan(x) && std::isnan(y)) || x == y; };
  std::size_t compared = 0;
  for (std::size_t m = 0; m < 3; ++m) {
    const auto pa = WorldModel::Load(a[m], *Data())->PredictSequences(hs);
    const auto pb = WorldModel::Load(b[m], *Data())->PredictSequences(hs);
    REQUIRE(pa.size() == pb.size());
    for (std::size_t u = 0; u < pa.size(); ++u)
      for (std::size_t i = 0; i < pa[u].size(); ++i) {
        CHECK(same(pa[u][i].engagement, pb[u][i].engagement));
        CHECK(same(pa[u][i].valence, pb[u][i].valence));
        CHECK(same(pa[u][i].arousal, pb[u][i].arousal));
        CHECK(same(pa[u][i].rating, pb[u][i].rating));
        compared += std::isnan(pa[u][i].engagement) ? 0 : 1;
      }
  }
  CHECK(compared > 10);
  CHECK(serial.ensemble_test->valence_r2 == t.run.ensemble_test->valence_r2);
  o.member_jobs = -1;
  CHECK_THROWS_AS(TrainAndTest(*Data(), o, {0}, dir.path().string(), nullptr, {}, false), ArgumentError);
}
