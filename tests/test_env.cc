// Env and agent conformance: every registered agent on both worlds.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>

#include <tbb/global_control.h>

#include "amrs/agents/agent.h"
#include "amrs/core/error.h"
#include "amrs/data/synthetic.h"
#include "amrs/env/env.h"
#include "amrs/env/episode_log.h"
#include "amrs/env/rollout.h"
#include "amrs/env/world.h"
#include "amrs/run/check_agent.h"
#include "amrs/worldmodel/pooled_mlp.h"
#include "amrs/worldmodel/world_model.h"
#include "block_util.h"
#include "policy_util.h"
#include "test_util.h"

using namespace amrs;
using testing::SameBlock;

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
  worldmodel::MlpBaselineOptions mlp;  // the pooled-MLP baseline as a world (issue 18)
  mlp.epochs = 2;
  mlp.hidden = 16;
  mlp.components = 8;
  return {{"learned", env::MakeLearnedWorld(worldmodel::WorldModel::CreateUntrained(m, *Data(), 1))},
          {"oracle", env::MakeOracleWorld(Data())},
          {"pooled-mlp", env::MakePooledMlpWorld(worldmodel::PooledMlp::Train(*Data(), Data()->splits[0], 0, mlp))}};
}

env::RolloutOptions SmallRollout() {
  env::RolloutOptions o;
  o.batch = 7;  // several batches, one ragged
  o.topk = 5;
  o.max_users = 4;
  return o;
}

}  // namespace

// The conformance suite is run::CheckAgent, what `amrs check-agent` runs on outside agents.
TEST_CASE("Conformance: every registered agent on every world") {
  auto names = agents::AgentRegistry::Names();
  names.erase(std::remove_if(names.begin(), names.end(),
                             [](const std::string& n) { return n.rfind("test-broken-", 0) == 0; }),
              names.end());
  REQUIRE(std::find(names.begin(), names.end(), "random") != names.end());
  for (const auto& w : agents::AgentRegistry::WrapperNames()) names.push_back(w + "(random)");
  REQUIRE(std::find(names.begin(), names.end(), "greedy") != names.end());
  REQUIRE(std::find(names.begin(), names.end(), "copycat") != names.end());
  REQUIRE(std::find(names.begin(), names.end(), "dpo") != names.end());
  // Checkpointed agents get tiny policies trained here (DPO pairs scored by the oracle).
  const testing::TempDir dir;
  const auto params =
      testing::TrainTinyPolicies(env::EnvContext::Create(Data(), env::MakeOracleWorld(Data())), dir);
  std::vector<run::CheckWorld> worlds;
  for (const auto& [name, world] : Worlds()) worlds.push_back({name, world});
  for (const auto& name : names) {
    CAPTURE(name);
    run::CheckAgentOptions options;
    options.seed = 0;  // the seed the tiny policies were trained for
    for (const auto& p : agents::AgentRegistry::Params(name))
      if (params.count(p.name)) options.params[p.name] = params.at(p.name);
    const auto checks = run::CheckAgent(name, Data(), worlds, options);
    CHECK_MESSAGE(run::AllPassed(checks), run::FormatChecks(checks));
    CHECK(checks.size() == worlds.size() * 8);  // eight checks on each world (learned, oracle, pooled MLP)
  }
}

namespace {

// Agents that break one rule each: run::CheckAgent must say which.
class BrokenAgent : public agents::Agent {
 public:
  explicit BrokenAgent(std::string how) : how_(std::move(how)) {}
  std::string Name() const override { return "test-broken-" + how_; }
  void Reset(std::uint64_t seed) override { seed_ = seed; }
  env::Decision Act(const env::ObservationBatch& b, std::int32_t k) override {
    static std::atomic<std::int32_t> calls{0};
    env::Decision d;
    const auto n = b.world->num_songs();
    for (std::size_t i = 0; i < b.size(); ++i) {
      std::int32_t a = static_cast<std::int32_t>((seed_ + i) % static_cast<std::uint64_t>(n));
      if (how_ == "range") a = n;
      if (how_ == "nondeterministic") a = calls++ % n;
      if (how_ == "replay" && !b.obs[i].history->back().IsBoundary()) a = b.obs[i].history->back().song;
      d.actions.push_back(a);
      std::vector<std::int32_t> list;
      for (std::int32_t r = 0; static_cast<std::int32_t>(list.size()) < k; ++r)
        if (how_ != "replay" || !b.Banned(i, r)) list.push_back(how_ == "duplicates" ? 0 : r);
      if (k > 0) d.ranked.push_back(list);
    }
    return d;
  }

 private:
  std::string how_;
  std::uint64_t seed_ = 0;
};

bool registered_broken[] = {
    agents::AgentRegistry::Register("test-broken-range", "test", [](const agents::AgentContext&) {
      return std::make_unique<BrokenAgent>("range");
    }),
    agents::AgentRegistry::Register("test-broken-duplicates", "test", [](const agents::AgentContext&) {
      return std::make_unique<BrokenAgent>("duplicates");
    }),
    agents::AgentRegistry::Register("test-broken-nondeterministic", "test", [](const agents::AgentContext&) {
      return std::make_unique<BrokenAgent>("nondeterministic");
    }),
    agents::AgentRegistry::Register("test-broken-replay", "test", [](const agents::AgentContext&) {
      return std::make_unique<BrokenAgent>("replay");  // plays the history's last song again
    }),
    agents::AgentRegistry::Register("test-broken-null", "test", [](const agents::AgentContext&) {
      return std::unique_ptr<agents::Agent>();
    })};

// The first failed check of `checks` as "name: message" ("" when all passed).
std::string FirstFailure(const std::vector<run::AgentCheck>& checks) {
  for (const auto& c : checks)
    if (!c.passed) return c.name + ": " + c.message;
  return "";
}

}  // namespace

TEST_CASE("An agent factory that returns no agent is an error, never a skipped agent") {
  const auto ctx = env::EnvContext::Create(Data(), env::MakeOracleWorld(Data()));
  const agents::AgentContext ac{ctx, {}, 0};
  CHECK_THROWS_WITH_AS(agents::AgentRegistry::Create("test-broken-null", ac),
                       doctest::Contains("agent 'test-broken-null': its factory returned no agent"), Error);
  CHECK_THROWS_WITH_AS(agents::AgentRegistry::Create("guarded(test-broken-null)", ac),
                       doctest::Contains("'test-broken-null'"), Error);
  CHECK_THROWS_WITH_AS(env::RunRollouts(ctx, [] { return std::unique_ptr<agents::Agent>(); }, "none", 0, SmallRollout()),
                       doctest::Contains("rollouts of 'none': the policy factory returned no policy"), ArgumentError);
  const auto checks = run::CheckAgent("test-broken-null", Data(), {{"oracle", ctx->world_ptr()}});
  CHECK(FirstFailure(checks).rfind("oracle: created with its parameters: ", 0) == 0);
}

TEST_CASE("Conformance checks fail on the rule an agent breaks, naming it") {
  const auto oracle = std::vector<run::CheckWorld>{{"oracle", env::MakeOracleWorld(Data())}};
  CHECK(FirstFailure(run::CheckAgent("test-broken-range", Data(), oracle)) ==
        "oracle: rolls out: env: action 150 of env 0 is outside the catalogue [0, 150)");
  CHECK(FirstFailure(run::CheckAgent("test-broken-duplicates", Data(), oracle)) ==
        "oracle: valid top-5 lists: episode 0, step 0: song 0 is listed twice");
  CHECK(FirstFailure(run::CheckAgent("test-broken-nondeterministic", Data(), oracle))
            .rfind("oracle: deterministic at 1 and 2 threads: the actions differ", 0) == 0);
  // Only the agent's own choice breaks the rule (the runner replaced it): the last check says so.
  CHECK(FirstFailure(run::CheckAgent("test-broken-replay", Data(), oracle))
            .rfind("oracle: respects the no-replay rules (session, episode) in its actions and top-5: session: step 0, "
                   "env 0: action ", 0) == 0);
  // A checkpointed agent without its checkpoint fails the first check, naming the parameter.
  const auto copycat = run::CheckAgent("copycat", Data(), oracle);
  REQUIRE(copycat.size() == 1);
  CHECK(copycat[0].message.find("copycat") != std::string::npos);
  CHECK_FALSE(run::AllPassed(copycat));
  CHECK(run::FormatChecks(copycat).rfind("FAIL oracle: created with its parameters: ", 0) == 0);
  // Worlds: an untrained learned world, plus the oracle when the data has one and none was named.
  const auto worlds = run::CheckWorlds(Data());
  REQUIRE(worlds.size() == 2);
  CHECK(worlds[0].name == "learned (untrained)");
  CHECK(worlds[1].name == "oracle");
  CHECK(run::CheckWorlds(Data(), "oracle").size() == 1);
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

TEST_CASE("On data with affect after every song, simulated songs carry their predicted affect too") {
  // Logged song tokens of such data carry a report each (data-format.md): the env appends the
  // predicted valence/arousal the same way, so the world sees in simulation what it saw in training.
  auto with = std::make_shared<data::Dataset>(*Data());
  const auto n = with->interactions.size();
  with->interactions.valence.assign(n, 0.4f);
  with->interactions.arousal.assign(n, 0.6f);
  with->interactions.has_affect.assign(n, 1);
  for (const auto& named : Worlds()) {
    const std::string name = named.first;  // (not a structured binding: clang cannot capture one)
    const auto& world = named.second;
    CAPTURE(name);
    for (const bool per_song : {false, true}) {
      CAPTURE(per_song);
      const auto ctx = env::EnvContext::Create(per_song ? with : Data(), world);
      CHECK(ctx->config().append_affect == per_song);
      env::VectorEnv one(ctx, 1);
      one.Reset(7);
      const auto step = one.Step({2})[0];
      const Token& last = step.observation.history->back();
      CHECK(last.song == 2);
      CHECK(last.has_affect == per_song);
      if (per_song) {
        CHECK(last.valence == doctest::Approx(step.info.predicted.valence));
        CHECK(last.arousal == doctest::Approx(step.info.predicted.arousal));
      }
    }
  }
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
  for (const auto& named : Worlds()) {
    const auto& [wname, world] = named;
    CAPTURE(named.first);
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

TEST_CASE("Reset draws the user and window only for -1; other negatives are refused") {
  const auto ctx = env::EnvContext::Create(Data(), env::MakeOracleWorld(Data()));
  env::VectorEnv one(ctx, 1);
  env::ResetOptions o;
  o.user = -1;
  o.window = -1;
  CHECK_NOTHROW(one.Reset(3, o));  // -1: drawn
  for (const std::int32_t bad : {-2, -7, INT32_MIN}) {
    CAPTURE(bad);
    env::ResetOptions u;
    u.user = bad;
    const std::string user_msg = "'user': " + std::to_string(bad), window_msg = "'window': " + std::to_string(bad);
    CHECK_THROWS_WITH_AS(one.Reset(3, u), doctest::Contains(user_msg.c_str()), ArgumentError);
    env::ResetOptions w;
    w.window = bad;
    CHECK_THROWS_WITH_AS(one.Reset(3, w), doctest::Contains(window_msg.c_str()), ArgumentError);
  }
  // An explicit, valid user and window are still taken as given.
  env::ResetOptions ok;
  ok.user = ctx->Users(data::Part::kTest)[0];
  ok.window = 0;
  const auto r = one.Reset(3, ok);
  CHECK(r[0].second.user == ok.user);
  CHECK(r[0].second.window.start == ctx->Windows(ok.user)[0].start);
}

namespace {
// Sorted, distinct songs after the history's last boundary token (the current session's).
std::vector<std::int32_t> SessionTail(const History& h) {
  std::vector<std::int32_t> out;
  for (std::size_t t = h.size(); t-- > 0 && !h[t].IsBoundary();) out.push_back(h[t].song);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::int32_t LastSong(const History& h) {
  for (auto t = h.rbegin(); t != h.rend(); ++t)
    if (!t->IsBoundary()) return t->song;
  return 0;
}

// Replays the history's last song (the current session's, and from step 1 the episode's) and ranks
// the songs after it: the rollout engine must replace its banned choices before the env steps.
class ReplayLast : public env::Policy {
 public:
  explicit ReplayLast(std::int32_t songs) : songs_(songs) {}
  void Reset(std::uint64_t) override {}
  env::Decision Act(const env::ObservationBatch& b, std::int32_t k) override {
    env::Decision d;
    for (const auto& o : b.obs) {
      const std::int32_t last = LastSong(*o.history);
      d.actions.push_back(last);
      std::vector<std::int32_t> r;
      for (std::int32_t j = 0; j < k; ++j) r.push_back((last + j) % songs_);
      d.ranked.push_back(r);
    }
    return d;
  }

 private:
  std::int32_t songs_;
};
}  // namespace

TEST_CASE("Hand-stepped envs: Batch().banned is the no-replay rule; Step refuses a banned action, stepping no env") {
  const auto ctx = env::EnvContext::Create(Data(), env::MakeOracleWorld(Data()));
  const std::int32_t songs = ctx->world().num_songs(), n = 4;
  for (const auto rule : {env::NoReplay::kSession, env::NoReplay::kEpisode, env::NoReplay::kOff}) {
    const std::string name = env::NoReplayName(rule);
    CAPTURE(name);
    env::VectorEnv v(ctx, n);
    env::ResetOptions o;
    o.no_replay = rule;
    v.Reset(21, o);
    std::vector<std::vector<std::int32_t>> played(static_cast<std::size_t>(n));
    std::int64_t refused = 0, replays = 0;
    for (std::int32_t t = 0; t < ctx->config().horizon; ++t) {
      const auto b = v.Batch();
      REQUIRE(b.banned.size() == static_cast<std::size_t>(n));
      std::vector<std::int32_t> allowed(static_cast<std::size_t>(n)), last(static_cast<std::size_t>(n));
      for (std::int32_t i = 0; i < n; ++i) {
        std::vector<std::int32_t> want;
        if (rule == env::NoReplay::kSession) want = SessionTail(*b.obs[i].history);
        if (rule == env::NoReplay::kEpisode) {
          want = played[i];
          std::sort(want.begin(), want.end());
          want.erase(std::unique(want.begin(), want.end()), want.end());
        }
        CHECK(b.banned[i] == want);
        std::int32_t s = (t * 31 + i * 17) % songs;
        while (std::binary_search(want.begin(), want.end(), s)) s = (s + 1) % songs;
        allowed[i] = s;
        last[i] = LastSong(*b.obs[i].history);
      }
      for (std::int32_t i = 0; i < n; ++i) {
        if (!b.Banned(static_cast<std::size_t>(i), last[i])) continue;
        auto acts = allowed;
        acts[i] = last[i];
        const std::string msg = "env: action " + std::to_string(last[i]) + " at row " + std::to_string(i) +
                                " is banned by no_replay=" + name +
                                (rule == env::NoReplay::kSession ? " (a song of the current session)"
                                                                 : " (a song this episode already recommended)");
        CHECK_THROWS_WITH_AS(v.Step(acts), msg.c_str(), ArgumentError);
        ++refused;
        const auto after = v.Batch();  // nothing stepped
        for (std::int32_t j = 0; j < n; ++j) {
          CHECK(after.obs[j].step == t);
          CHECK(after.obs[j].history->size() == b.obs[j].history->size());
        }
      }
      // Under off, a replay of the last song (from step 1 the episode's own) is a valid step.
      const auto& acts = rule == env::NoReplay::kOff ? last : allowed;
      if (rule == env::NoReplay::kOff && t > 0) replays += n;
      const auto res = v.Step(acts);
      for (std::int32_t i = 0; i < n; ++i) {
        CHECK(res[i].observation.history->back().song == acts[i]);
        played[i].push_back(acts[i]);
      }
    }
    if (rule == env::NoReplay::kOff) {
      CHECK(refused == 0);
      CHECK(replays > 0);
    } else {
      CHECK(refused >= n);  // from step 1 on every row's last song is the episode's own
    }
  }
}

TEST_CASE("No-replay: a rule that would ban the whole catalogue bans nothing, and Step accepts any song") {
  // The function itself, on a hand-made history: [boundary, 3, 5, boundary, 5, 7, 7].
  History h{Token::Boundary(0.5f, 0.5f, SessionMode::kNone)};
  for (auto s : {3, 5}) h.push_back(Token::Song(s, Feedback{}, false, false, SessionMode::kNone));
  h.push_back(Token::Boundary(0.5f, 0.5f, SessionMode::kNone));
  for (auto s : {5, 7, 7}) h.push_back(Token::Song(s, Feedback{}, false, false, SessionMode::kNone));
  using V = std::vector<std::int32_t>;
  CHECK(env::BannedSongs(h, 2, env::NoReplay::kSession, 10) == V{5, 7});
  CHECK(env::BannedSongs(h, 2, env::NoReplay::kEpisode, 10) == V{7});
  CHECK(env::BannedSongs(h, 4, env::NoReplay::kEpisode, 10) == V{5, 7});  // across the boundary
  CHECK(env::BannedSongs(h, 6, env::NoReplay::kEpisode, 10) == V{3, 5, 7});
  CHECK(env::BannedSongs(h, 6, env::NoReplay::kOff, 10).empty());
  CHECK(env::BannedSongs(h, 2, env::NoReplay::kSession, 2).empty());  // {5, 7} is the whole catalogue

  // Through an env whose episode plays the whole catalogue: after songs 0..148 (all banned), the
  // last distinct song leaves nothing banned, so any song may follow.
  env::EnvConfig c;
  c.horizon = 160;
  const auto ctx = env::EnvContext::Create(Data(), env::MakeOracleWorld(Data()), c);
  const std::int32_t songs = ctx->world().num_songs();
  env::RecEnv e(ctx);
  env::ResetOptions o;
  o.no_replay = env::NoReplay::kEpisode;
  e.Reset(1, o);
  V want;
  for (std::int32_t s = 0; s + 1 < songs; ++s) e.Step(s), want.push_back(s);
  CHECK(e.Batch().banned.at(0) == want);
  CHECK_THROWS_WITH_AS(e.Step(songs - 2), doctest::Contains("is banned by no_replay=episode"), ArgumentError);
  e.Step(songs - 1);
  CHECK(e.Batch().banned.at(0).empty());
  CHECK_NOTHROW(e.Step(0));
}

TEST_CASE("Rollouts enforce the rule before stepping: an agent that replays never trips Step; 1 and 2 threads agree") {
  const auto ctx = env::EnvContext::Create(Data(), env::MakeOracleWorld(Data()));
  const std::int32_t songs = ctx->world().num_songs();
  for (const auto rule : {env::NoReplay::kSession, env::NoReplay::kEpisode, env::NoReplay::kOff}) {
    CAPTURE(env::NoReplayName(rule));
    auto o = SmallRollout();
    o.reset.no_replay = rule;
    const auto make = [&] { return std::make_unique<ReplayLast>(songs); };
    env::EpisodeBlock one, two;
    {
      tbb::global_control c(tbb::global_control::max_allowed_parallelism, 1);
      one = env::RunRollouts(ctx, make, "replay-last", 3, o);
    }
    {
      tbb::global_control c(tbb::global_control::max_allowed_parallelism, 2);
      two = env::RunRollouts(ctx, make, "replay-last", 3, o);
    }
    CHECK(SameBlock(one, two));
    // The engine replaced the replays the rule bans: under off the agent replays its first
    // choice every step, under episode never.
    std::int64_t repeats = 0;
    for (std::int32_t e = 0; e < one.episodes(); ++e)
      for (std::int32_t t = 1; t < one.horizon; ++t) {
        const std::size_t at = static_cast<std::size_t>(e) * one.horizon + t;
        repeats += one.actions[at] == one.actions[at - 1];
      }
    if (rule == env::NoReplay::kOff) CHECK(repeats == one.episodes() * (one.horizon - 1));
    else CHECK(repeats == 0);
  }
}
