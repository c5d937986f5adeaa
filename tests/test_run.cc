// The run API (amrs/run): one runner for rollout, evaluate and stress; the evaluate protocol;
// per-seed policy training with the up-to-date check.
#include <hdf5.h>
#include <tbb/global_control.h>

#include <hdf5.h>

#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <chrono>
#include <filesystem>
#include <thread>
#include <fstream>
#include <nlohmann/json.hpp>

#include "amrs/agents/agent.h"
#include "amrs/core/atomic_file.h"
#include "amrs/core/error.h"
#include "amrs/core/memory.h"
#include "amrs/data/synthetic.h"
#include "amrs/env/episode_log.h"
#include "amrs/env/rollout.h"
#include "amrs/run/evaluate.h"
#include "amrs/run/run.h"
#include "amrs/run/train_policies.h"
#include "amrs/run/tune.h"
#include "amrs/worldmodel/train.h"
#include "amrs/worldmodel/world_model.h"
#include "policy_util.h"
#include "test_util.h"

using namespace amrs;
namespace fs = std::filesystem;

namespace {

const testing::TempDir& Dir() {
  static testing::TempDir dir;
  return dir;
}

// A small synthetic dataset with an oracle, written and read back as the CLI sees it.
const std::string& DataPath() {
  static const std::string path = [] {
    data::WriteDataset(data::Generate(testing::SmallConfig(5, 30, 150, 900, 60, 8, 1)), Dir().File("d.h5"));
    return Dir().File("d.h5");
  }();
  return path;
}

// An untrained learned world saved as a checkpoint (evaluate takes a world spec).
const std::string& WorldPath() {
  static const std::string path = [] {
    const auto d = data::ReadDataset(DataPath());
    worldmodel::ModelConfig m;
    m.d_model = 16, m.heads = 2, m.layers = 1, m.ff = 32, m.head_hidden = 16;
    worldmodel::WorldModel::CreateUntrained(m, d, 1)->Save(Dir().File("w.pt"));
    return Dir().File("w.pt");
  }();
  return path;
}

run::RunSpec SmallSpec() {
  run::RunSpec s;
  s.data = DataPath();
  s.world = "oracle";
  s.agents = {"random", "greedy"};
  s.seeds = {0, 3};
  s.parts = {data::Part::kTest, data::Part::kVal};
  s.horizon = 3;
  s.max_users = 2;
  s.batch = 4;
  return s;
}

void CheckSame(const env::EpisodeBlock& a, const env::EpisodeBlock& b) {
  CHECK(a.agent == b.agent);
  CHECK(a.seed == b.seed);
  CHECK(a.episode_seed == b.episode_seed);
  CHECK(a.user == b.user);
  CHECK(a.actions == b.actions);
  CHECK(a.ranked == b.ranked);
  CHECK(a.valence == b.valence);
  CHECK(a.reward == b.reward);
}

}  // namespace

TEST_CASE("run: blocks in spec order, equal to the rollout engine's, logged per part") {
  const auto spec = SmallSpec();
  run::RunHooks hooks;
  hooks.log = Dir().File("run-{part}.h5");
  hooks.version = "test";
  std::vector<std::pair<data::Part, std::string>> seen;
  std::vector<std::string> parts_started;
  hooks.on_block = [&](data::Part p, const env::EpisodeBlock& b) { seen.emplace_back(p, b.agent + "/" + std::to_string(b.seed)); };
  hooks.on_part = [&](data::Part p, const std::string& world) { parts_started.push_back(std::string(data::PartName(p)) + ":" + world); };
  const auto r = run::Run(spec, hooks);
  CHECK(parts_started == std::vector<std::string>{"test:oracle", "val:oracle"});
  REQUIRE(r.parts.size() == 2);
  CHECK(seen.size() == 8);
  CHECK(seen.front() == std::pair{data::Part::kTest, std::string("random/0")});
  CHECK(seen[3] == std::pair{data::Part::kTest, std::string("greedy/3")});
  CHECK(seen[4].first == data::Part::kVal);

  // The same blocks as the engine gives directly (the default seed scope: windows per seed).
  CHECK(spec.seed_scope == run::SeedScope::kWindows);
  const auto d = std::make_shared<const data::Dataset>(data::ReadDataset(DataPath()));
  const auto world = env::LoadWorld("oracle", d);
  for (std::size_t p = 0; p < 2; ++p) {
    const auto& part = r.parts[p];
    CHECK(part.part == spec.parts[p]);
    REQUIRE(part.blocks.size() == 4);
    std::size_t i = 0;
    for (const auto& name : spec.agents)
      for (const auto seed : spec.seeds) {
        env::RolloutOptions o;
        o.part = spec.parts[p];
        o.reset.part = spec.parts[p];
        o.max_users = 2, o.batch = 4;
        env::EnvConfig cfg;
        cfg.horizon = 3;
        cfg.window_seed = run::SeedWindowSeed(0, seed);
        const auto ctx = env::EnvContext::Create(d, world, cfg);
        const agents::AgentContext ac{ctx, {}, seed};
        const auto direct =
            env::RunRollouts(ctx, [&] { return agents::AgentRegistry::Create(name, ac); }, name, seed, o);
        CHECK(direct.episodes() > 0);
        CheckSame(part.blocks[i++], direct);
      }
    // The log holds the same blocks and the run's description.
    CHECK(part.log == Dir().File(std::string("run-") + data::PartName(spec.parts[p]) + ".h5"));
    const auto log = env::ReadEpisodeLog(part.log);
    CHECK(log.meta.part == data::PartName(spec.parts[p]));
    CHECK(log.meta.horizon == 3);
    CHECK(log.meta.version == "test");
    CHECK(log.meta.dataset_fingerprint == r.dataset_fingerprint);
    const auto config = nlohmann::json::parse(log.meta.config);
    CHECK(config.at("agents") == std::vector<std::string>{"random", "greedy"});
    CHECK(config.at("seeds") == std::vector<std::uint64_t>{0, 3});
    CHECK(config.at("seed_scope") == "policy+windows");
    CHECK(log.meta.seed_scope == "policy+windows");
    REQUIRE(log.blocks.size() == 4);
    for (const auto& b : log.blocks) {
      const auto it = std::find_if(part.blocks.begin(), part.blocks.end(),
                                   [&](const env::EpisodeBlock& x) { return x.agent == b.agent && x.seed == b.seed; });
      REQUIRE(it != part.blocks.end());
      CheckSame(*it, b);
    }
  }
}

TEST_CASE("run: the same blocks whatever the thread count") {
  auto spec = SmallSpec();
  spec.parts = {data::Part::kTest};
  spec.max_users = 0;
  spec.batch = 2;
  run::RunResult one, two;
  {
    tbb::global_control c(tbb::global_control::max_allowed_parallelism, 1);
    one = run::Run(spec);
  }
  {
    tbb::global_control c(tbb::global_control::max_allowed_parallelism, 2);
    two = run::Run(spec);
  }
  REQUIRE(one.parts.front().blocks.size() == two.parts.front().blocks.size());
  for (std::size_t i = 0; i < one.parts.front().blocks.size(); ++i)
    CheckSame(one.parts.front().blocks[i], two.parts.front().blocks[i]);
}

namespace {

// Per-seed mean reward of `agent`'s blocks, in seed order.
std::vector<double> SeedMeans(const run::RunResult& r, const std::string& agent) {
  std::vector<double> out;
  for (const auto& b : r.parts.front().blocks)
    if (b.agent == agent) {
      double sum = 0;
      for (float x : b.reward) sum += x;
      out.push_back(sum / static_cast<double>(b.reward.size()));
    }
  return out;
}

}  // namespace

TEST_CASE("run: the seed scope decides what the seeds vary; recorded in the log; any thread count") {
  auto spec = SmallSpec();
  spec.agents = {"greedy", "random"};
  spec.seeds = {0, 1, 2};
  spec.parts = {data::Part::kTest};
  spec.max_users = 0;
  spec.batch = 3;
  spec.seed_scope = run::SeedScope::kPolicy;
  const auto policy = run::Run(spec);
  const auto g = SeedMeans(policy, "greedy");
  REQUIRE(g.size() == 3);
  CHECK(g[0] == g[1]);  // same windows, same world: a deterministic agent repeats itself
  CHECK(g[1] == g[2]);
  CHECK(policy.parts.front().blocks[0].window_start == policy.parts.front().blocks[1].window_start);

  spec.seed_scope = run::SeedScope::kWindows;
  run::RunHooks hooks;
  hooks.log = Dir().File("scope.h5");
  run::RunResult one, two;
  {
    tbb::global_control c(tbb::global_control::max_allowed_parallelism, 1);
    one = run::Run(spec, hooks);
  }
  {
    tbb::global_control c(tbb::global_control::max_allowed_parallelism, 2);
    two = run::Run(spec);
  }
  const auto w = SeedMeans(one, "greedy");
  REQUIRE(w.size() == 3);
  CHECK(w[0] != w[1]);
  CHECK(w[1] != w[2]);
  CHECK(one.parts.front().blocks[0].window_start != one.parts.front().blocks[1].window_start);
  REQUIRE(one.parts.front().blocks.size() == two.parts.front().blocks.size());
  for (std::size_t i = 0; i < one.parts.front().blocks.size(); ++i)
    CheckSame(one.parts.front().blocks[i], two.parts.front().blocks[i]);
  // Paired: every agent of one seed sees the same windows.
  CHECK(one.parts.front().blocks[1].window_start == one.parts.front().blocks[4].window_start);
  const auto log = env::ReadEpisodeLog(Dir().File("scope.h5"));
  CHECK(log.meta.seed_scope == "policy+windows");
  CHECK(nlohmann::json::parse(log.meta.config).at("seed_scope") == "policy+windows");
  {  // A log written before the scope was recorded (no /meta seed_scope) reads as "policy".
    fs::copy_file(Dir().File("scope.h5"), Dir().File("old.h5"));
    const hid_t f = H5Fopen(Dir().File("old.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(f >= 0);
    CHECK(H5Adelete_by_name(f, "/meta", "seed_scope", H5P_DEFAULT) >= 0);
    H5Fclose(f);
    const auto old = env::ReadEpisodeLog(Dir().File("old.h5"));
    CHECK(old.meta.seed_scope == "policy");
    CHECK(old.blocks.size() == log.blocks.size());
  }

  CHECK(run::ParseSeedScope("policy") == run::SeedScope::kPolicy);
  CHECK(run::ParseSeedScope("policy+windows+world") == run::SeedScope::kWorld);
  CHECK_THROWS_AS(run::ParseSeedScope("windows"), ArgumentError);
}

TEST_CASE("run: seed scope policy+windows+world loads the world '{seed}' names for each seed") {
  const auto d = data::ReadDataset(DataPath());
  worldmodel::ModelConfig m;
  m.d_model = 16, m.heads = 2, m.layers = 1, m.ff = 32, m.head_hidden = 16;
  for (std::uint64_t seed : {0, 1})
    worldmodel::WorldModel::CreateUntrained(m, d, seed + 7)->Save(Dir().File("wseed-" + std::to_string(seed) + ".pt"));
  auto spec = SmallSpec();
  spec.agents = {"greedy"};
  spec.seeds = {0, 1};
  spec.parts = {data::Part::kTest};
  spec.world = Dir().File("wseed-{seed}.pt");
  spec.seed_scope = run::SeedScope::kWorld;
  const auto r = run::Run(spec);
  // Each seed's block is what policy+windows gives under that seed's world alone.
  for (std::uint64_t seed : {0, 1}) {
    auto one = spec;
    one.world = Dir().File("wseed-" + std::to_string(seed) + ".pt");
    one.seed_scope = run::SeedScope::kWindows;
    const auto alone = run::Run(one);
    CheckSame(r.parts.front().blocks[seed], alone.parts.front().blocks[seed]);
  }
  const run::Runner runner(spec);
  CHECK(runner.ContextFor(0)->world().Id() != runner.ContextFor(1)->world().Id());
  // A world per seed needs the scope, and the scope needs a world per seed.
  auto bad = spec;
  bad.seed_scope = run::SeedScope::kWindows;
  CHECK_THROWS_WITH_AS(run::Runner{bad}, doctest::Contains("use seed scope policy+windows+world"), ArgumentError);
  bad = spec;
  bad.world = Dir().File("wseed-0.pt");
  CHECK_THROWS_WITH_AS(run::Runner{bad}, doctest::Contains("needs '{seed}' in the world"), ArgumentError);
  bad = spec;
  bad.seeds = {0, 1, 2};  // no wseed-2.pt
  CHECK_THROWS_WITH_AS(run::Runner{bad}, doctest::Contains("the world of seed 2"), InputError);
  // The evaluate protocol scores the oracle (one ground truth) with windows per seed.
  run::EvaluateSpec e;
  e.run = spec;
  e.oracle = run::OracleMode::kYes;
  e.out_dir = Dir().File("eval-world");
  fs::create_directories(e.out_dir);
  const auto er = run::Evaluation(e).Run();
  CHECK(env::ReadEpisodeLog(e.out_dir + "/test-oracle.h5").meta.seed_scope == "policy+windows");
  CHECK(env::ReadEpisodeLog(e.out_dir + "/test.h5").meta.seed_scope == "policy+windows+world");
}

TEST_CASE("run: bad descriptions fail before any episode or file, naming the field") {
  auto expect = [](run::RunSpec s, const char* needle) {
    CHECK_THROWS_WITH_AS(run::Runner{s}, doctest::Contains(needle), ArgumentError);
  };
  auto s = SmallSpec();
  s.agents = {};
  expect(s, "'agents' is empty");
  s = SmallSpec();
  s.agents = {"random", "random"};
  expect(s, "agent 'random' is listed twice");
  s = SmallSpec();
  s.seeds = {1, 1};
  expect(s, "'seeds' lists a seed twice");
  s = SmallSpec();
  s.seeds.assign(run::kMaxSeeds + 1, 0);
  for (std::size_t i = 0; i < s.seeds.size(); ++i) s.seeds[i] = i;
  expect(s, "'seeds (count)' must be in [1, 1000]");
  s = SmallSpec();
  s.horizon = 0;
  expect(s, "'horizon' must be in [1, 1000]");
  s = SmallSpec();
  s.batch = 0;
  expect(s, "'batch'");
  s = SmallSpec();
  s.parts = {data::Part::kTest, data::Part::kTest};
  expect(s, "'parts' lists a part twice");
  s = SmallSpec();
  s.pre_valence = 1.5f;
  expect(s, "'pre_valence' must be in [0, 1]");
  s = SmallSpec();
  s.agents = {"random", "nope"};
  expect(s, "unknown agent 'nope'");
  s = SmallSpec();
  s.users = {100000};
  expect(s, "user index 100000 is not in the test part");
  // An agent whose checkpoint is missing fails at construction, for the seed it names.
  s = SmallSpec();
  s.agents = {"random", "copycat"};
  s.params = {{"copycat", Dir().File("missing-seed-{seed}.pt")}};
  CHECK_THROWS_WITH_AS(run::Runner{s}, doctest::Contains("agent 'copycat' (seed 0)"), InputError);
  // A missing dataset names its file.
  s = SmallSpec();
  s.data = Dir().File("none.h5");
  CHECK_THROWS_WITH_AS(run::Runner{s}, doctest::Contains("none.h5"), InputError);
  // Several parts need '{part}' in the log path; nothing is written.
  const run::Runner ok(SmallSpec());
  run::RunHooks h;
  h.log = Dir().File("one-log.h5");
  CHECK_THROWS_WITH_AS(ok.Run(h), doctest::Contains("needs '{part}'"), ArgumentError);
  CHECK_FALSE(fs::exists(h.log));
}

TEST_CASE("evaluate: the learned world on every part, the oracle on the test part, checked before running") {
  run::EvaluateSpec e;
  e.run = SmallSpec();
  e.run.world = WorldPath();
  e.run.parts = {data::Part::kTest, data::Part::kVal, data::Part::kTrain};
  e.out_dir = Dir().File("eval");
  const run::Evaluation ev(e);
  CHECK(ev.with_oracle());
  const std::vector<std::string> expected{e.out_dir + "/test.h5", e.out_dir + "/val.h5", e.out_dir + "/train.h5",
                                          e.out_dir + "/test-oracle.h5"};
  CHECK(ev.Logs() == expected);
  CHECK_FALSE(fs::exists(e.out_dir));  // nothing runs or is written before Run
  const auto r = ev.Run();
  CHECK(r.logs == expected);
  REQUIRE(r.with_oracle);
  CHECK(r.learned.parts.size() == 3);
  REQUIRE(r.oracle.parts.size() == 1);
  CHECK(r.oracle.parts.front().part == data::Part::kTest);
  for (const auto& path : expected) {
    const auto log = env::ReadEpisodeLog(path);
    const bool oracle = path == expected.back();
    CHECK(log.meta.world == (oracle ? "oracle" : r.learned.world_name));
    CHECK(log.meta.world.rfind(oracle ? "oracle" : "learned:", 0) == 0);
    CHECK(log.blocks.size() == 4);
  }
  // Paired seeds: the oracle's test episodes are the learned world's (same users, windows, seeds).
  const auto& lt = r.learned.parts.front().blocks.front();
  const auto& ot = r.oracle.parts.front().blocks.front();
  CHECK(lt.user == ot.user);
  CHECK(lt.window_start == ot.window_start);
  CHECK(lt.episode_seed == ot.episode_seed);

  // No oracle run when asked not to, or when the world already is the oracle.
  e.oracle = run::OracleMode::kNo;
  CHECK_FALSE(run::Evaluation(e).with_oracle());
  e.oracle = run::OracleMode::kAuto;
  e.run.world = "oracle";
  CHECK_FALSE(run::Evaluation(e).with_oracle());
  CHECK_THROWS_AS(run::ParseOracleMode("maybe"), ArgumentError);
  // Default parameters: the quickstart's checkpoints, only for the policy agents selected.
  CHECK(run::DefaultPolicyParams({"random", "dpo"}) == run::Params{{"dpo", "out/policy/dpo-seed-{seed}.pt"}});
  CHECK(run::DefaultPolicyParams({"greedy"}, "p").empty());
  CHECK(run::DefaultPolicyParams({"copycat"}, "p").at("copycat") == "p/copycat-seed-{seed}.pt");

  // A bad agent parameter fails before either run writes anything.
  e.run.world = WorldPath();
  e.out_dir = Dir().File("eval-bad");
  e.run.agents = {"random", "dpo"};
  e.run.params = {{"dpo", Dir().File("none-{seed}.pt")}};
  CHECK_THROWS_AS(run::Evaluation{e}, InputError);
  CHECK_FALSE(fs::exists(e.out_dir));
}

TEST_CASE("train policies: per seed, skips up-to-date checkpoints, checks dpo references first") {
  run::PolicyTrainingSpec s;
  s.kind = "copycat";
  s.data = DataPath();
  s.seeds = {0, 1};
  s.out_dir = Dir().File("policy");
  s.copycat = testing::TinyCopycat("");
  s.copycat.epochs = 1;
  const auto first = run::TrainPolicies(s, nullptr);
  REQUIRE(first.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(first[i].seed == s.seeds[i]);
    CHECK_FALSE(first[i].up_to_date);
    CHECK(first[i].checkpoint == s.out_dir + "/copycat-seed-" + std::to_string(i) + ".pt");
    const auto info = agents::ReadPolicyInfo(first[i].checkpoint);
    CHECK(info.seed == s.seeds[i]);
    CHECK(info.epochs == 1);
  }
  const auto fp = data::Fingerprint(data::ReadDataset(DataPath()));
  CHECK(run::PolicyUpToDate(first[0].checkpoint, s, 0, fp));
  CHECK_FALSE(run::PolicyUpToDate(first[0].checkpoint, s, 1, fp));          // another seed's file
  CHECK_FALSE(run::PolicyUpToDate(first[0].checkpoint, s, 0, "other"));     // another dataset
  auto more = s;
  more.copycat.epochs = 2;
  CHECK_FALSE(run::PolicyUpToDate(first[0].checkpoint, more, 0, fp));       // other epochs
  const auto again = run::TrainPolicies(s, nullptr);
  CHECK(again[0].up_to_date);
  CHECK(again[1].up_to_date);
  s.force = true;
  CHECK_FALSE(run::TrainPolicies(s, nullptr)[0].up_to_date);

  // DPO: a missing reference for any seed fails before any seed is trained.
  run::PolicyTrainingSpec d;
  d.kind = "dpo";
  d.data = DataPath();
  d.world = "oracle";
  d.seeds = {0, 7};
  d.out_dir = s.out_dir;
  d.dpo = testing::TinyDpo("", "");
  CHECK(d.Reference(7) == s.out_dir + "/copycat-seed-7.pt");
  CHECK_THROWS_WITH_AS(run::TrainPolicies(d, nullptr), doctest::Contains("copycat-seed-7.pt"), InputError);
  CHECK_FALSE(fs::exists(s.out_dir + "/dpo-seed-0.pt"));
  d.kind = "ppo";
  CHECK_THROWS_WITH_AS(run::TrainPolicies(d, nullptr), doctest::Contains("kind must be copycat or dpo"), ArgumentError);
}

TEST_CASE("atomic files: in place only on commit, nothing left behind otherwise") {
  const std::string target = Dir().File("atomic/sub/out.txt");
  {
    AtomicFile f(target);
    CHECK(fs::path(f.temp()).parent_path() == fs::path(target).parent_path());
    std::ofstream(f.temp()) << "half";
    CHECK_FALSE(fs::exists(target));
  }  // abandoned: the temporary is removed
  CHECK(fs::is_empty(fs::path(target).parent_path()));
  WriteFileAtomically(target, "whole");
  std::ifstream in(target);
  std::string s;
  in >> s;
  CHECK(s == "whole");
  CHECK(std::distance(fs::directory_iterator(fs::path(target).parent_path()), fs::directory_iterator{}) == 1);
  CHECK_THROWS_AS(WriteFileAtomically(Dir().File("atomic/sub/out.txt/x"), "x"), InputError);
}

namespace {

// An outside agent whose instances share one counter (as one Python object shared by every
// worker would): its actions depend on the order in which batches call it.
std::atomic<int> in_flight{0}, max_in_flight{0};

class SharedCounterAgent : public agents::Agent {
 public:
  SharedCounterAgent(std::shared_ptr<std::int64_t> calls, std::int32_t songs) : calls_(std::move(calls)), songs_(songs) {}
  std::string Name() const override { return "counter"; }
  void Reset(std::uint64_t) override {}
  env::Decision Act(const env::ObservationBatch& batch, std::int32_t k) override {
    // Calls at once across instances; the pause lets a second worker take a batch meanwhile.
    const int now = ++in_flight;
    max_in_flight = std::max(max_in_flight.load(), now);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    --in_flight;
    env::Decision d;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto a = static_cast<std::int32_t>((*calls_)++ % songs_);
      d.actions.push_back(a);
      if (k > 0) d.ranked.push_back(std::vector<std::int32_t>(static_cast<std::size_t>(k), a));
    }
    return d;
  }

 private:
  std::shared_ptr<std::int64_t> calls_;
  std::int32_t songs_;
};

run::RunResult RunCounter(int threads) {
  auto spec = SmallSpec();
  spec.parts = {data::Part::kTest};
  spec.max_users = 0;
  spec.batch = 2;
  spec.agents = {"counter", "random"};
  auto calls = std::make_shared<std::int64_t>(0);
  spec.external["counter"] = {[calls](const agents::AgentContext& c) {
                                return std::make_unique<SharedCounterAgent>(calls, c.env->world().num_songs());
                              },
                              true};
  tbb::global_control gc(tbb::global_control::max_allowed_parallelism, threads);
  return run::Run(spec);
}

}  // namespace

TEST_CASE("run: outside agents by name next to registered ones; serial ones run batch after batch") {
  max_in_flight = 0;
  const auto one = RunCounter(1), two = RunCounter(2);
  CHECK(max_in_flight == 1);  // never two calls at once, even with two threads
  const auto& a = one.parts.front().blocks;
  const auto& b = two.parts.front().blocks;
  REQUIRE(a.size() == 4);
  CHECK(a.front().agent == "counter");
  CHECK(a.back().agent == "random");
  for (std::size_t i = 0; i < a.size(); ++i) CheckSame(a[i], b[i]);
  // Seed 0 starts the shared counter at 0: the first batch's first action is song 0.
  CHECK(a.front().actions.front() == 0);
  auto spec = SmallSpec();
  spec.agents = {"nobody"};
  spec.external["nobody"] = {};
  CHECK_THROWS_WITH_AS(run::Runner{spec}, doctest::Contains("external agent 'nobody' has no factory"), ArgumentError);
}

TEST_CASE("train policies: every option that shapes a policy decides whether a checkpoint is up to date") {
  run::PolicyTrainingSpec s;
  s.kind = "copycat";
  s.data = DataPath();
  s.seeds = {0};
  s.out_dir = Dir().File("policy-options");
  s.copycat = testing::TinyCopycat("");
  s.copycat.epochs = 1;
  const auto trained = run::TrainPolicies(s, nullptr);
  const auto cc = trained.at(0).checkpoint;
  const auto fp = data::Fingerprint(data::ReadDataset(DataPath()));
  CHECK(run::PolicyStaleReason(cc, s, 0, fp) == "");
  auto stale = [&](const run::PolicyTrainingSpec& other, const std::string& world_id = "") {
    return run::PolicyStaleReason(cc, other, 0, fp, world_id);
  };
  auto lr = s;
  lr.copycat.lr *= 2;
  CHECK(stale(lr).find("option 'lr' was 0.001") == 0);
  auto size = s;
  size.copycat.model.d_model = 16;
  CHECK(stale(size).find("option 'model'") == 0);
  CHECK_FALSE(run::PolicyUpToDate(cc, size, 0, fp));
  auto users = s;
  users.copycat.max_train_users = 5;
  CHECK(stale(users).find("option 'max_train_users' was 12, now 5") == 0);
  auto negatives = s;
  negatives.copycat.negatives = 4;
  CHECK(stale(negatives).find("option 'negatives'") == 0);

  // A changed option retrains, saying which option differs; the same spec then skips again.
  std::ostringstream log;
  const auto re = run::TrainPolicies(lr, &log);
  CHECK_FALSE(re[0].up_to_date);
  CHECK(log.str().find("retraining " + cc + ": option 'lr' was 0.001, now 0.002") != std::string::npos);
  CHECK(run::PolicyUpToDate(cc, lr, 0, fp));
  CHECK(run::TrainPolicies(lr, nullptr)[0].up_to_date);

  // DPO: world, utility, beta, lr, pool and the reference's own options count.
  run::PolicyTrainingSpec d;
  d.kind = "dpo";
  d.data = DataPath();
  d.world = "oracle";
  d.seeds = {0};
  d.out_dir = s.out_dir;
  d.copycat = s.copycat;
  d.dpo = testing::TinyDpo("", "");
  d.dpo.epochs = 1;
  std::ostringstream dlog;
  const auto dp = run::TrainPolicies(d, &dlog).at(0).checkpoint;
  const auto data = std::make_shared<const data::Dataset>(data::ReadDataset(DataPath()));
  const std::string oracle_id = env::LoadWorld("oracle", data)->Id();
  const std::string learned_id = env::LoadWorld(WorldPath(), data)->Id();
  auto dstale = [&](const run::PolicyTrainingSpec& other, const std::string& world_id) {
    return run::PolicyStaleReason(dp, other, 0, fp, world_id);
  };
  CHECK(dstale(d, oracle_id) == "");
  CHECK(dstale(d, learned_id).find("option 'world' was oracle@") == 0);  // another world
  auto beta = d;
  beta.dpo.beta = 0.2;
  CHECK(dstale(beta, oracle_id).find("option 'beta' was 0.10000000000000001, now 0.20000000000000001") == 0);
  auto dlr = d;
  dlr.dpo.lr = 1e-4;
  CHECK(dstale(dlr, oracle_id).find("option 'lr'") == 0);
  auto pool = d;
  pool.dpo.pairs.pool = 8;
  CHECK(dstale(pool, oracle_id).find("option 'pool' was 6, now 8") == 0);
  auto util = d;
  util.dpo.utility.engagement = 0.5f;
  CHECK(dstale(util, oracle_id).find("option 'utility'") == 0);
  CHECK(run::TrainPolicies(d, nullptr)[0].up_to_date);
  // Retraining the reference Copycat with other options makes the DPO policy stale too.
  run::TrainPolicies(size, nullptr);
  CHECK(dstale(d, oracle_id).find("option 'reference.") == 0);  // lr and model of the reference
  d.world = WorldPath();
  std::ostringstream wlog;
  CHECK_FALSE(run::TrainPolicies(d, &wlog)[0].up_to_date);
  CHECK(wlog.str().find("retraining " + dp + ": option 'reference.") != std::string::npos);
  CHECK(dstale(d, learned_id) == "");  // retrained on the learned world: up to date for it
}

TEST_CASE("model and training sizes have upper bounds and a memory check, before any allocation") {
  // `edit` applied to a valid `config` makes Validate throw an ArgumentError containing `message`.
  auto refused = [](auto config, auto edit, const char* message) {
    CHECK_NOTHROW(config.Validate());
    edit(config);
    CHECK_THROWS_WITH_AS(config.Validate(), doctest::Contains(message), ArgumentError);
  };
  using M = worldmodel::ModelConfig;
  const M m;
  refused(m, [](M& c) { c.d_model = 1 << 20; }, "'d_model' must be at most 4096");
  refused(m, [](M& c) { c.ff = 1 << 20; }, "'ff' must be at most 16384");
  refused(m, [](M& c) { c.layers = 17; }, "'layers'");
  refused(m, [](M& c) { c.song_components = 5000; }, "'song_components' must be at most 4096");
  // The largest allowed model: refused exactly when its training footprint exceeds this machine.
  auto big = m;
  big.d_model = 4096, big.heads = 64, big.ff = 16384, big.layers = 16;
  CHECK(big.EstimatedParameters() > 16 * (4.0 * 4096 * 4096 + 2.0 * 4096 * 16384));
  if (16 * big.EstimatedParameters() > PhysicalMemoryBytes())
    CHECK_THROWS_WITH_AS(big.Validate(), doctest::Contains("would need about"), ArgumentError);
  else
    CHECK_NOTHROW(big.Validate());
  CHECK(big.EstimatedParameters() > m.EstimatedParameters());

  using P = agents::PolicyConfig;
  refused(P{}, [](P& c) { c.d_model = 1 << 20; }, "'d_model' must be at most 4096");
  refused(P{}, [](P& c) { c.heads = 128, c.d_model = 1024; }, "'heads' must be at most 64");
  refused(P{}, [](P& c) { c.ff = 1 << 20; }, "'ff' must be at most 16384");
  using C = agents::CopycatOptions;
  refused(testing::TinyCopycat("x.pt"), [](C& c) { c.negatives = 1'000'000; }, "'negatives' must be in [1, 100000]");
  refused(testing::TinyCopycat("x.pt"), [](C& c) { c.epochs = 10001; }, "'epochs'");
  refused(testing::TinyCopycat("x.pt"), [](C& c) { c.batch = 1 << 20; }, "'batch'");
  using D = agents::DpoOptions;
  const auto dpo = testing::TinyDpo("r.pt", "x.pt");
  refused(dpo, [](D& c) { c.pairs.pool = 20000; }, "pool size M must be even and in [2, 10000]");
  refused(dpo, [](D& c) { c.pairs.max_pairs = 20'000'000; }, "'max_pairs'");
  refused(dpo, [](D& c) { c.batch = 1 << 20; }, "'batch'");
  refused(dpo, [](D& c) { c.epochs = 20000; }, "'epochs'");
  using T = worldmodel::TrainOptions;
  T t;
  t.out = "x.pt";
  refused(t, [](T& c) { c.batch_tokens = 1 << 30; }, "'batch-tokens' must be in [64, 1048576]");
  refused(t, [](T& c) { c.epochs = 10001; }, "'epochs' must be in [1, 10000]");
}

namespace {

// The small dataset, and a copy whose test users (split 0) have extreme, wrong logs: other songs,
// engagement and ratings flipped, session affect at the bounds. Anything that reads them moves.
std::pair<std::string, std::string> CleanAndPoisoned() {
  static const std::pair<std::string, std::string> paths = [] {
    auto d = data::ReadDataset(DataPath());
    const auto& test = d.splits.at(0).test;
    const auto is_test = [&](std::int32_t u) { return std::binary_search(test.begin(), test.end(), u); };
    auto& in = d.interactions;
    std::size_t poisoned = 0;
    for (std::size_t i = 0; i < in.user.size(); ++i)
      if (is_test(in.user[i])) {
        in.song[i] = (in.song[i] + 17) % d.num_songs();
        in.engagement[i] = in.engagement[i] < 0.5f ? 1.f : 0.f;
        if (in.has_rating[i]) in.rating[i] = static_cast<std::int8_t>(1 - in.rating[i]);
        ++poisoned;
      }
    auto& se = d.sessions;
    for (std::size_t s = 0; s < se.user.size(); ++s)
      if (is_test(se.user[s])) {
        se.pre_valence[s] = 0.f, se.pre_arousal[s] = 1.f;
        if (se.has_post[s]) se.post_valence[s] = 1.f, se.post_arousal[s] = 0.f;
      }
    REQUIRE(poisoned > 0);
    data::WriteDataset(d, Dir().File("poisoned.h5"));
    return std::pair{DataPath(), Dir().File("poisoned.h5")};
  }();
  return paths;
}

run::TuneSpec TinyTune(const std::string& kind, const std::string& data, const std::string& out) {
  run::TuneSpec t;
  t.train.kind = kind;
  t.train.data = data;
  t.train.world = "oracle";
  t.train.seeds = {0, 1};
  t.train.copycat = testing::TinyCopycat("");
  t.train.copycat.epochs = 1;
  t.train.dpo = testing::TinyDpo("", "");
  t.train.dpo.epochs = 1;
  t.world = "oracle";
  t.horizon = 3;
  t.batch = 4;
  t.out_dir = out;
  return t;
}

}  // namespace

TEST_CASE("tune: trains on train users, scores validation users, never reads the test users") {
  // (plain names, not a structured binding: C++17 lambdas cannot capture those; clang refuses)
  const auto both = CleanAndPoisoned();
  const auto& clean = std::get<0>(both);
  const auto& poisoned = std::get<1>(both);
  auto tune_both = [&](const std::string& kind, const std::string& grid) {
    std::vector<run::TuneResult> out;
    for (const auto& [data, name] : {std::pair{clean, "clean"}, {poisoned, "poisoned"}}) {
      const auto dir = Dir().File(std::string("tune-") + kind + "-" + name);
      auto t = TinyTune(kind, data, dir);
      t.grid = run::ParseTuneGrid({grid}, kind);
      if (kind == "dpo") {  // its own Copycat references on that dataset (train users only)
        auto cc = t.train;
        cc.kind = "copycat";
        cc.out_dir = dir + "/ref";
        run::TrainPolicies(cc, nullptr);
        t.train.reference = dir + "/ref/copycat-seed-{seed}.pt";
      }
      out.push_back(run::Tune(t, nullptr));
      // The table, written atomically beside the checkpoints.
      const auto json = nlohmann::json::parse(std::ifstream(dir + "/tune-" + kind + ".json"));
      CHECK(json.at("chosen") == out.back().chosen);
      CHECK(json.at("part") == "val");
      // What the report checks a tune table against: the dataset tuned on, and the scoring world.
      CHECK(json.at("dataset_fingerprint") == data::Fingerprint(data::ReadDataset(data)));
      CHECK(json.at("world_id") == out.back().world_id);
      CHECK_FALSE(out.back().world_id.empty());
      std::ifstream csv(dir + "/tune-" + kind + ".csv");
      std::string header;
      std::getline(csv, header);
      CHECK(header.rfind("point,", 0) == 0);
    }
    return out;
  };
  for (const auto& [kind, grid, points] : {std::tuple{"copycat", "tau=0.1,0.3;epochs=1", 2},
                                           std::tuple{"dpo", "lr=1e-3,1e-2", 2}}) {
    const std::string kind_name = kind;
    CAPTURE(kind_name);
    const auto r = tune_both(kind, grid);
    REQUIRE(r[0].points.size() == static_cast<std::size_t>(points));
    REQUIRE(r[1].points.size() == r[0].points.size());
    CHECK(r[0].chosen == r[1].chosen);
    for (std::size_t i = 0; i < r[0].points.size(); ++i) {
      CHECK(r[0].points[i].reward.size() == 2);
      CHECK(r[0].points[i].reward == r[1].points[i].reward);  // bit for bit: the test users changed nothing
      CHECK(r[0].points[i].valence == r[1].points[i].valence);
    }
    // The chosen point has the highest mean (ties: the first).
    for (std::size_t i = 0; i < r[0].points.size(); ++i) {
      CHECK(r[0].points[i].mean <= r[0].points[r[0].chosen].mean);
      if (i < r[0].chosen) CHECK(r[0].points[i].mean < r[0].points[r[0].chosen].mean);
    }
  }
  // The validation users do move the result: poisoning them changes the table.
  {
    auto d = data::ReadDataset(DataPath());
    const auto& val = d.splits.at(0).val;
    auto& se = d.sessions;
    for (std::size_t s = 0; s < se.user.size(); ++s)
      if (std::binary_search(val.begin(), val.end(), se.user[s])) se.pre_valence[s] = 0.f, se.pre_arousal[s] = 1.f;
    data::WriteDataset(d, Dir().File("poisoned-val.h5"));
    auto t = TinyTune("copycat", Dir().File("poisoned-val.h5"), Dir().File("tune-val"));
    t.grid = run::ParseTuneGrid({"tau=0.1,0.3;epochs=1"}, "copycat");
    const auto moved = run::Tune(t, nullptr);
    auto c = TinyTune("copycat", DataPath(), Dir().File("tune-copycat-clean"));
    c.grid = t.grid;
    CHECK(moved.points[0].reward != run::Tune(c, nullptr).points[0].reward);
  }
}

TEST_CASE("tune: grid syntax and bad grids, naming the key") {
  const auto g = run::ParseTuneGrid({"lr=1e-5,3e-5;epochs=1,2", "beta=0.1"}, "dpo");
  REQUIRE(g.size() == 3);
  CHECK(g[0].key == "lr");
  CHECK(g[0].values == std::vector<std::string>{"1e-5", "3e-5"});
  CHECK(g[1].values == std::vector<std::string>{"1", "2"});
  CHECK(g[2].key == "beta");
  auto bad = [](const std::string& grid, const std::string& kind, const char* needle) {
    CAPTURE(grid);
    CHECK_THROWS_WITH_AS(run::ParseTuneGrid({grid}, kind), doctest::Contains(needle), ArgumentError);
  };
  bad("tau=0.1", "dpo", "grid key 'tau' is not an option of dpo (allowed: lr, epochs, beta, pool)");
  bad("beta=0.1", "copycat", "grid key 'beta' is not an option of copycat");
  bad("lr=abc", "dpo", "grid key 'lr': value 'abc' is not a number");
  bad("lr=-1", "dpo", "must be > 0");
  bad("epochs=1.5", "dpo", "grid key 'epochs': value '1.5' must be an integer");
  bad("lr=1e-5;lr=2e-5", "dpo", "grid key 'lr' is given twice");
  bad("lr=1e-5,1e-5", "dpo", "value '1e-5' is given twice");
  bad("lr", "dpo", "is not KEY=V1,V2");
  bad("", "dpo", "the grid is empty");
  bad("lr=1e-5", "bc", "kind must be copycat or dpo");
  // An odd pool fails for its point before any training.
  auto t = TinyTune("dpo", DataPath(), Dir().File("tune-bad"));
  t.train.reference = "x-{seed}.pt";
  t.grid = run::ParseTuneGrid({"pool=3"}, "dpo");
  CHECK_THROWS_AS(run::Tune(t, nullptr), ArgumentError);
  CHECK_FALSE(fs::exists(Dir().File("tune-bad")));
}

namespace {
// The songs after the last boundary token of `h` (the current session's songs).
std::set<std::int32_t> SessionSongs(const History& h) {
  std::set<std::int32_t> out;
  for (std::size_t t = h.size(); t-- > 0 && !h[t].IsBoundary();) out.insert(h[t].song);
  return out;
}
}  // namespace

TEST_CASE("run: the no-replay rule is the run's, applied to every agent's actions and top-k, and logged") {
  auto spec = SmallSpec();
  spec.agents = {"random", "greedy", "guarded(greedy)"};
  spec.parts = {data::Part::kTest};
  spec.seeds = {0, 1};
  const run::Runner runner(spec);
  const auto ctx = runner.context();
  std::int64_t session_checked = 0, greedy_repeats_off = 0;
  for (const auto rule : {env::NoReplay::kSession, env::NoReplay::kEpisode, env::NoReplay::kOff}) {
    const std::string name = env::NoReplayName(rule);
    CAPTURE(name);
    spec.no_replay = rule;
    run::RunHooks hooks;
    hooks.log = Dir().File("no-replay-" + name + ".h5");
    const auto r = run::Run(spec, hooks);
    const auto log = env::ReadEpisodeLog(r.parts.at(0).log);
    CHECK(log.meta.no_replay == name);
    CHECK(nlohmann::json::parse(log.meta.config).at("no_replay") == name);
    for (const auto& b : r.parts.at(0).blocks) {
      CAPTURE(b.agent);
      for (std::int32_t e = 0; e < b.episodes(); ++e) {
        const auto& full = ctx->UserHistory(b.user[e]);
        History h(full.begin() + b.window_start[e], full.begin() + b.window_start[e] + b.window_length[e]);
        std::set<std::int32_t> episode;
        for (std::int32_t t = 0; t < b.horizon; ++t) {
          const std::size_t at = static_cast<std::size_t>(e) * b.horizon + t;
          const auto banned = rule == env::NoReplay::kSession   ? SessionSongs(h)
                              : rule == env::NoReplay::kEpisode ? episode
                                                                : std::set<std::int32_t>();
          if (rule == env::NoReplay::kSession) session_checked += static_cast<std::int64_t>(banned.size());
          CHECK(banned.count(b.actions[at]) == 0);
          for (std::int32_t k = 0; k < b.topk; ++k) {
            const auto s = b.ranked[at * b.topk + k];
            CHECK(s >= 0);  // the built-in agents rank allowed songs only: full lists
            CHECK(banned.count(s) == 0);
          }
          if (rule == env::NoReplay::kOff && b.agent == "greedy" && episode.count(b.actions[at])) ++greedy_repeats_off;
          episode.insert(b.actions[at]);
          h.push_back(Token::Song(b.actions[at], Feedback{}, false, false, SessionMode::kNone));
        }
      }
    }
  }
  CHECK(session_checked > 0);      // the session rule banned something
  CHECK(greedy_repeats_off > 0);   // off: the old behaviour, greedy replays its best song
  CHECK_THROWS_WITH_AS(env::ParseNoReplay("sometimes"), doctest::Contains("known: session, episode, off"), ArgumentError);
}

TEST_CASE("episode logs without the no-replay attribute (older logs) read as unknown") {
  const auto path = Dir().File("no-replay-old.h5");
  {
    auto spec = SmallSpec();
    spec.parts = {data::Part::kTest};
    spec.seeds = {0};
    run::RunHooks hooks;
    hooks.log = path;
    run::Run(spec, hooks);
  }
  CHECK(env::ReadEpisodeLog(path).meta.no_replay == "session");
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(f >= 0);
  CHECK(H5Adelete_by_name(f, "/meta", "no_replay", H5P_DEFAULT) >= 0);
  H5Fclose(f);
  CHECK(env::ReadEpisodeLog(path).meta.no_replay == "");
}
