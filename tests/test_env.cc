// Env and agent conformance: every registered agent on both worlds.
#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include <cmath>
#include <set>

#include "amrs/agents/agent.h"
#include "amrs/core/error.h"
#include "amrs/data/synthetic.h"
#include "amrs/env/env.h"
#include "amrs/env/episode_log.h"
#include "amrs/env/rollout.h"
#include "amrs/env/world.h"
#include "amrs/worldmodel/world_model.h"
#include "policy_util.h"
#include "test_util.h"

using namespace amrs;

namespace {

std::shared_ptr<const data::Dataset> Data() {
  static std::shared_ptr<const data::Dataset> d =
      std::make_shared<const data::Dataset>(data::Generate(testing::SmallConfig(11, 40, 200, 1300, 150, 16, 2)));
  return d;
}

std::vector<std::pair<std::string, std::shared_ptr<const env::World>>> Worlds() {
  worldmodel::ModelConfig m;
  m.d_model = 16;
  m.heads = 2;
  m.layers = 1;
  m.ff = 32;
  m.head_hidden = 16;
  return {{"learned", env::MakeLearnedWorld(worldmodel::WorldModel::CreateUntrained(m, *Data(), 1))},
          {"oracle", env::MakeOracleWorld(Data())}};
}

env::RolloutOptions SmallRollout() {
  env::RolloutOptions o;
  o.batch = 7;  // several batches, one ragged
  o.topk = 5;
  o.max_users = 4;
  return o;
}

bool SameBlock(const env::EpisodeBlock& a, const env::EpisodeBlock& b) {
  return a.actions == b.actions && a.ranked == b.ranked && a.reward == b.reward && a.valence == b.valence &&
         a.user == b.user && a.window_start == b.window_start && a.episode_seed == b.episode_seed;
}

}  // namespace

TEST_CASE("Conformance: every registered agent on both worlds") {
  auto names = agents::AgentRegistry::Names();
  REQUIRE(std::find(names.begin(), names.end(), "random") != names.end());
  for (const auto& w : agents::AgentRegistry::WrapperNames()) names.push_back(w + "(random)");
  REQUIRE(std::find(names.begin(), names.end(), "greedy") != names.end());
  REQUIRE(std::find(names.begin(), names.end(), "copycat") != names.end());
  REQUIRE(std::find(names.begin(), names.end(), "dpo") != names.end());
  // Checkpointed agents get tiny policies trained here (DPO pairs scored by the oracle).
  const testing::TempDir dir;
  const auto params =
      testing::TrainTinyPolicies(env::EnvContext::Create(Data(), env::MakeOracleWorld(Data())), dir);
  for (const auto& [wname, world] : Worlds()) {
    env::EnvConfig cfg;
    cfg.horizon = 4;
    const auto ctx = env::EnvContext::Create(Data(), world, cfg);
    for (const auto& name : names) {
      CAPTURE(wname);
      CAPTURE(name);
      agents::AgentContext ac{ctx, params, 0};
      if (!agents::AgentRegistry::Create(name, ac)) continue;
      const auto factory = [&] { return agents::AgentRegistry::Create(name, ac); };
      const auto o = SmallRollout();
      const auto a = env::RunRollouts(ctx, factory, name, 3, o);
      // Determinism under a seed, whatever the thread count.
      env::EpisodeBlock b1, b2;
      {
        tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
        b1 = env::RunRollouts(ctx, factory, name, 3, o);
      }
      {
        tbb::global_control two(tbb::global_control::max_allowed_parallelism, 2);
        b2 = env::RunRollouts(ctx, factory, name, 3, o);
      }
      CHECK(SameBlock(a, b1));
      CHECK(SameBlock(a, b2));
      REQUIRE(a.episodes() == 4 * 5);  // users x windows
      // Valid actions only; top-k lists distinct and valid.
      for (auto x : a.actions) {
        REQUIRE(x >= 0);
        REQUIRE(x < world->num_songs());
      }
      for (std::int32_t e = 0; e < a.episodes(); ++e)
        for (std::int32_t t = 0; t < a.horizon; ++t) {
          std::set<std::int32_t> seen;
          for (std::int32_t r = 0; r < a.topk; ++r) {
            const auto s = a.ranked[(static_cast<std::size_t>(e) * a.horizon + t) * a.topk + r];
            REQUIRE(s >= 0);
            REQUIRE(s < world->num_songs());
            seen.insert(s);
          }
          CHECK(seen.size() == static_cast<std::size_t>(a.topk));
        }
      // Reward is the utility of the predicted feedback.
      const Utility u;
      for (std::size_t i = 0; i < a.reward.size(); ++i)
        REQUIRE(a.reward[i] == doctest::Approx(u({a.engagement[i], a.rating[i], a.valence[i], a.arousal[i]})));
      // Truncation at L and errors on misuse through a single env driven by the agent.
      env::RecEnv env(ctx);
      auto agent = agents::AgentRegistry::Create(name, ac);
      agent->Reset(5);
      env.Reset(9);
      for (int t = 0; t < cfg.horizon; ++t) {
        const auto act = agent->Act(env.Batch(), 0).actions;
        REQUIRE(act.size() == 1);
        const auto r = env.Step(act[0]);
        CHECK(r.truncated == (t + 1 == cfg.horizon));
        CHECK_FALSE(r.terminated);
        CHECK(r.info.step == t + 1);
      }
      CHECK_THROWS_WITH_AS(env.Step(0), doctest::Contains("episode is over"), ArgumentError);
    }
  }
}

TEST_CASE("Greedy takes the best predicted utility; it beats Random on the oracle") {
  const auto worlds = Worlds();
  const auto ctx = env::EnvContext::Create(Data(), worlds[1].second);
  agents::AgentContext ac{ctx, {}, 0};
  env::RecEnv env(ctx);
  env.Reset(4);
  const auto batch = env.Batch();
  const auto scores = batch.world->ScoreCatalogue(*batch.state);
  const auto act = agents::AgentRegistry::Create("greedy", ac)->Act(batch, 0).actions[0];
  float best = -1e9f;
  for (const auto& f : scores) best = std::max(best, Utility{}(f));
  CHECK(Utility{}(scores[static_cast<std::size_t>(act)]) == best);
  const auto o = SmallRollout();
  auto mean = [](const std::vector<float>& v) {
    double m = 0;
    for (float x : v) m += x;
    return m / v.size();
  };
  const auto g = env::RunRollouts(ctx, [&] { return agents::AgentRegistry::Create("greedy", ac); }, "greedy", 0, o);
  const auto r = env::RunRollouts(ctx, [&] { return agents::AgentRegistry::Create("random", ac); }, "random", 0, o);
  CHECK(mean(g.reward) > mean(r.reward));
}

TEST_CASE("Reset follows Gymnasium: seeds, options and their errors") {
  const auto ctx = env::EnvContext::Create(Data(), Worlds()[1].second);
  env::VectorEnv v(ctx, 3);
  CHECK_THROWS_WITH_AS(v.Step({0, 0, 0}), doctest::Contains("before Reset"), ArgumentError);
  const auto a = v.Reset(100);
  env::VectorEnv one(ctx, 1);
  const auto b = one.Reset(101);  // env 1 of the vector env is seeded with seed + 1
  CHECK(a[1].second.user == b[0].second.user);
  CHECK(a[1].second.window.start == b[0].second.window.start);
  for (const auto& [obs, info] : a) {
    CHECK(obs.history->size() == static_cast<std::size_t>(info.window.length));
    CHECK(info.window.length >= std::min<std::int32_t>(10, static_cast<std::int32_t>(ctx->UserHistory(info.user).size())));
    CHECK(info.window.length <= 100);
    CHECK(std::binary_search(ctx->Users(data::Part::kTest).begin(), ctx->Users(data::Part::kTest).end(), info.user));
  }
  CHECK_THROWS_WITH_AS(v.Step({0, 150, 0}), doctest::Contains("action 150 of env 1"), ArgumentError);
  CHECK_THROWS_WITH_AS(v.Step({0, -1, 0}), doctest::Contains("outside the catalogue"), ArgumentError);
  CHECK_THROWS_AS(v.Step({0}), ArgumentError);

  env::ResetOptions o;
  o.new_session = true;
  o.pre_valence = 0.1f;
  o.pre_arousal = 0.9f;
  o.mode = SessionMode::kSleep;
  const auto c = one.Reset(5, o);
  const Token& last = c[0].first.history->back();
  CHECK(last.IsBoundary());
  CHECK(last.valence == doctest::Approx(0.1f));
  CHECK(last.arousal == doctest::Approx(0.9f));
  CHECK(last.mode == SessionMode::kSleep);
  const auto step = one.Step({3})[0];
  CHECK(step.observation.history->back().song == 3);
  CHECK(step.observation.history->back().mode == SessionMode::kSleep);
  CHECK(step.observation.history->back().has_engagement);
  CHECK_FALSE(step.observation.history->back().has_affect);

  env::ResetOptions bad;
  bad.utility.valence = 2.f;
  CHECK_THROWS_WITH_AS(one.Reset(1, bad), doctest::Contains("valence"), ArgumentError);
  bad = {};
  bad.window = 9;
  CHECK_THROWS_WITH_AS(one.Reset(1, bad), doctest::Contains("'window'"), ArgumentError);
  bad = {};
  bad.user = ctx->Users(data::Part::kTrain)[0];
  CHECK_THROWS_WITH_AS(one.Reset(1, bad), doctest::Contains("'user'"), ArgumentError);
  bad = {};
  bad.pre_valence = 0.5f;
  CHECK_THROWS_WITH_AS(one.Reset(1, bad), doctest::Contains("need new_session"), ArgumentError);
  bad.new_session = true;
  bad.pre_valence = 1.5f;
  CHECK_THROWS_WITH_AS(one.Reset(1, bad), doctest::Contains("pre_valence"), ArgumentError);
  CHECK_THROWS_WITH_AS(env::VectorEnv(ctx, 0), doctest::Contains("at least one env"), ArgumentError);
}

TEST_CASE("Unknown agents list the known ones") {
  const auto ctx = env::EnvContext::Create(Data(), Worlds()[1].second);
  CHECK_THROWS_WITH_AS(agents::AgentRegistry::Create("nope", {ctx, {}, 0}), doctest::Contains("known: "),
                       ArgumentError);
  CHECK_THROWS_WITH_AS(agents::AgentRegistry::Create("nope", {ctx, {}, 0}), doctest::Contains("greedy"),
                       ArgumentError);
}

TEST_CASE("Episode logs round-trip and a failed run leaves no file") {
  testing::TempDir tmp;
  const auto ctx = env::EnvContext::Create(Data(), Worlds()[1].second);
  agents::AgentContext ac{ctx, {}, 0};
  const auto block = env::RunRollouts(ctx, [&] { return agents::AgentRegistry::Create("random", ac); }, "random", 2,
                                      SmallRollout());
  env::RunMetadata m;
  m.world = "oracle";
  m.horizon = ctx->config().horizon;
  m.topk = 5;
  m.part = "test";
  {
    env::EpisodeLogWriter w(tmp.File("run.h5"), m);
    w.Write(block);
    CHECK_THROWS_AS(w.Write(block), ArgumentError);  // same agent and seed twice
    w.Finalize();
  }
  const auto log = env::ReadEpisodeLog(tmp.File("run.h5"));
  REQUIRE(log.blocks.size() == 1);
  CHECK(SameBlock(log.blocks[0], block));
  CHECK(log.meta.world == "oracle");
  {
    env::EpisodeLogWriter w(tmp.File("abandoned.h5"), m);
    w.Write(block);
  }  // destroyed without Finalize
  CHECK_FALSE(std::filesystem::exists(tmp.File("abandoned.h5")));
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) files += !e.path().empty();
  CHECK(files == 1);
}

TEST_CASE("PredictMany equals one Predict per candidate column, on both worlds") {
  for (const auto& [wname, world] : Worlds()) {
    CAPTURE(wname);
    const auto ctx = env::EnvContext::Create(Data(), world);
    const auto& users = ctx->Users(data::Part::kTrain);
    std::vector<std::int32_t> rows = {users.at(0), users.at(1)};
    std::vector<History> hist = {ctx->UserHistory(rows[0]), ctx->UserHistory(rows[1])};
    hist[0].resize(std::min<std::size_t>(hist[0].size(), 12));
    const auto state = world->Encode(rows, hist);
    const std::vector<std::int32_t> songs = {3, 9, 0, 7, 7, 1};  // 2 rows x 3 candidates
    const auto many = world->PredictMany(*state, songs, 3);
    REQUIRE(many.size() == 6);
    for (int j = 0; j < 3; ++j) {
      const auto one = world->Predict(*state, {songs[j], songs[3 + j]});
      CHECK(many[j].valence == one[0].valence);
      CHECK(many[3 + j].arousal == one[1].arousal);
      CHECK(many[3 + j].engagement == one[1].engagement);
    }
    CHECK_THROWS_WITH_AS(world->PredictMany(*state, songs, 4), doctest::Contains("2 rows x 4"), ArgumentError);
  }
}

TEST_CASE("ResetOptions::transform edits the window before the boundary and the encoding") {
  const auto ctx = env::EnvContext::Create(Data(), Worlds()[1].second);
  env::VectorEnv v(ctx, 2);
  std::vector<std::pair<std::size_t, std::uint64_t>> seen(2);
  env::ResetOptions o;
  o.new_session = true;
  o.pre_valence = 0.3f;
  o.transform = [&](History& h, std::uint64_t seed) {
    seen[seed - 40] = {h.size(), seed};
    h.erase(h.begin(), h.end() - 2);  // keep the last two tokens
  };
  const auto r = v.Reset(40, o);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(seen[i].first == static_cast<std::size_t>(r[i].second.window.length));  // saw the cut window
    CHECK(seen[i].second == 40 + i);                                              // and the episode seed
    REQUIRE(r[i].first.history->size() == 3);                                     // 2 kept + the boundary
    CHECK(r[i].first.history->back().IsBoundary());
    CHECK(r[i].first.history->back().valence == doctest::Approx(0.3f));
  }
  // The world encodes the edited history: the same as resetting to that history directly.
  const auto batch = v.Batch();
  const auto enc = ctx->world().Encode({r[0].second.user}, {*r[0].first.history});
  CHECK(ctx->world().Predict(*batch.state, {5, 5})[0].valence == doctest::Approx(ctx->world().Predict(*enc, {5})[0].valence));

  env::RolloutOptions ro = SmallRollout();
  const auto users = ctx->Users(data::Part::kTest);
  REQUIRE(users.size() >= 3);
  ro.users = {users[2], users[0]};
  ro.reset.transform = [](History& h, std::uint64_t) { h.resize(std::min<std::size_t>(h.size(), 1)); };
  agents::AgentContext ac{ctx, {}, 0};
  const auto b = env::RunRollouts(ctx, [&] { return agents::AgentRegistry::Create("random", ac); }, "random", 0, ro);
  REQUIRE(b.episodes() == 10);
  CHECK(b.user[0] == users[2]);
  CHECK(b.user[5] == users[0]);
  ro.users = {users[0], ctx->Users(data::Part::kTrain)[0]};
  CHECK_THROWS_WITH_AS(env::RunRollouts(ctx, [&] { return agents::AgentRegistry::Create("random", ac); }, "random", 0, ro),
                       doctest::Contains("'users'"), ArgumentError);
}
