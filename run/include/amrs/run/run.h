// The run API (docs/run.md): one description of an experiment run and the one runner that
// `amrs rollout`, `amrs evaluate`, `amrs stress` (and, later, Python and distributed runs) share.
// A run is: a dataset and a world, agents with their parameters, paired seeds, one or more parts
// of one MCCV split, and the episode options (horizon, top-k, utility, batch, windows, new
// session, scenario transforms, user filter). The runner checks everything that can fail on
// bad input before the first episode, then rolls out every (part, agent, seed) block in that
// order, optionally logging each part to an HDF5 episode log.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "amrs/agents/agent.h"
#include "amrs/agents/guarded.h"
#include "amrs/core/types.h"
#include "amrs/data/dataset.h"
#include "amrs/data/splits.h"
#include "amrs/env/env.h"
#include "amrs/env/rollout.h"
#include "amrs/env/world.h"

namespace amrs::run {

// Agent parameters, KEY=VALUE as on the command line and in scenario files. "{seed}" in a value
// stands for the seed of the run (e.g. copycat=out/policy/copycat-seed-{seed}.pt).
using Params = std::map<std::string, std::string>;

// Bounds of the count options (the same everywhere: CLI, scenario files, Python).
inline constexpr std::int32_t kMaxSeeds = 1000;
inline constexpr std::int32_t kMaxHorizon = 1000;
inline constexpr std::int32_t kMaxTopK = 1000;
inline constexpr std::int32_t kMaxBatch = 65536;

// An agent from outside the registry (a Python object, a test double), named in RunSpec::agents.
// It takes no `params` (configure it where it is made).
struct ExternalAgent {
  std::function<std::unique_ptr<agents::Agent>(const agents::AgentContext&)> make;
  // Not safe to run in several workers at once (e.g. one shared Python object): its blocks run on
  // one thread, batch after batch in a fixed order, so results stay the same for any thread count.
  bool serial = false;
};

// What the paired seeds vary (docs/metrics.md, "What the seeds vary"). Every scope varies the
// agents' seed (policy training: the checkpoints "{seed}" names; random choices of the agents).
enum class SeedScope {
  kPolicy,   // "policy": only that; every seed sees the same windows and the same world
  kWindows,  // "policy+windows": also the users' evaluation windows, drawn per seed (SeedWindowSeed)
  kWorld,    // "policy+windows+world": also the world: "{seed}" in the world spec names one per seed
};
inline constexpr SeedScope kDefaultSeedScope = SeedScope::kWindows;  // the paper's protocol (docs/metrics.md)
// "policy" | "policy+windows" | "policy+windows+world"; ArgumentError otherwise.
SeedScope ParseSeedScope(const std::string& name);
const char* SeedScopeName(SeedScope scope);
// The window seed of run seed `seed` under the scopes that draw windows per seed: a hash of
// (window_seed, seed), so the windows of different seeds are independent draws.
std::uint64_t SeedWindowSeed(std::uint64_t window_seed, std::uint64_t seed);

struct RunSpec {
  std::string data;                           // dataset (.h5); unused when Inputs give one
  std::string world = "oracle";               // world spec: 'oracle[:family]' or a checkpoint path
  std::vector<std::string> agents{"random", "greedy"};  // registered names, wrappers 'w(agent)'
  Params params;                              // given to every agent (declared by some selected agent)
  std::optional<agents::GuardOptions> guard;  // typed options of guarded(...) agents (scenarios)
  std::vector<std::uint64_t> seeds{0, 1, 2, 3, 4};      // paired: every agent runs every seed
  std::int32_t split = 0;                     // MCCV split
  std::vector<data::Part> parts{data::Part::kTest};
  std::int32_t horizon = 5;                   // L, steps per episode
  std::int32_t topk = 10;                     // logged top-k list length (0: none)
  Utility utility;                            // reward weights (eq. 3)
  std::int32_t batch = 64;                    // envs per batch (one TBB task)
  std::int32_t max_users = 0;                 // first N users of each part (0: all)
  std::vector<std::int32_t> users;            // only these dataset user indices (empty: all)
  std::uint64_t window_seed = 0;              // seed of the users' windows (per seed: SeedWindowSeed)
  SeedScope seed_scope = kDefaultSeedScope;   // what the seeds vary (world scope: "{seed}" in `world`)
  bool new_session = false;                   // open a new session before the first step
  std::optional<float> pre_valence, pre_arousal;  // the new session's boundary report
  std::optional<SessionMode> mode;                // the new session's mode
  // Songs no agent may recommend (action or top-k), applied by the rollout engine to every agent
  // alike (docs/run.md): session (the default, the logged production policy's rule) | episode | off.
  env::NoReplay no_replay = env::NoReplay::kSession;
  // Scenario edit of each initial history (env::ResetOptions::transform); must be deterministic
  // and thread-safe.
  std::function<void(History& history, std::uint64_t episode_seed)> transform;
  std::string scenario;                       // recorded in the log ("" for plain runs)
  // Under an ensemble world on synthetic data: replay each block's episodes in the oracle and log
  // the per-step error of the prediction against it (EpisodeBlock::oracle_error; docs/ensembles.md).
  // Nothing happens under other worlds or without an oracle.
  bool oracle_error = true;
  std::map<std::string, ExternalAgent> external;  // agents by name that the registry does not hold

  // Throws ArgumentError naming the field of the first bad value (counts against the bounds
  // above, an empty agent list, a repeated agent, seed or part).
  void Validate() const;
  // The description as JSON (the episode log's /meta config); the transform is not serializable
  // and is recorded only by `scenario`.
  std::string ToJson() const;
};

// The loaded dataset and world of a run (and optionally its env context, whose split, horizon
// and window seed must then be the spec's). Runs with the same data and world can share them.
struct Inputs {
  std::shared_ptr<const data::Dataset> dataset;
  std::shared_ptr<const env::World> world;
  std::shared_ptr<const env::EnvContext> context;
};
// Loads what `spec` names and `given` does not hold (taking dataset and world from a given context).
Inputs LoadInputs(const RunSpec& spec, Inputs given = {});

struct RunProgress {
  data::Part part = data::Part::kTest;
  std::string agent;
  std::uint64_t seed = 0;
  std::int64_t done = 0, total = 0;  // episodes of this block
};

struct RunHooks {
  // Episode log per part: "{part}" is replaced by the part name (required when the run has
  // several parts). "" writes no log. Written to a temporary file, renamed at the end of the part.
  std::string log;
  std::string version;  // recorded in the log
  bool keep_blocks = true;  // false: blocks go only to `on_block` and the log (saves memory)
  // Called from worker threads (must be thread-safe).
  std::function<void(const RunProgress&)> progress;
  // Called in run order as each part starts, with the world's name.
  std::function<void(data::Part part, const std::string& world)> on_part;
  // Called in run order after each (part, agent, seed) block.
  std::function<void(data::Part part, const env::EpisodeBlock& block)> on_block;
};

struct PartResult {
  data::Part part = data::Part::kTest;
  std::string log;                        // the log written ("" when none)
  std::vector<env::EpisodeBlock> blocks;  // agent by agent (spec order), seeds in spec order
};

struct RunResult {
  std::string world_name, world_id, dataset_fingerprint;
  std::vector<PartResult> parts;          // in spec order
};

class Runner {
 public:
  // Loads the inputs (unless given) and checks everything that can fail on bad input: the spec,
  // the split, the parts' users, the agents and their parameters (each agent is created once per
  // seed). Throws ArgumentError (options) or InputError (files) before any episode runs.
  explicit Runner(RunSpec spec, Inputs inputs = {});
  const RunSpec& spec() const { return spec_; }
  const Inputs& inputs() const { return inputs_; }
  // The context of the spec's window seed (and, under SeedScope::kWorld, the first seed's world).
  std::shared_ptr<const env::EnvContext> context() const { return ctx_; }
  // The context the blocks of `seed` run in: context() under SeedScope::kPolicy, else one with
  // that seed's windows (and world). `seed` must be one of the spec's.
  std::shared_ptr<const env::EnvContext> ContextFor(std::uint64_t seed) const;
  // The rollout options of one part (what the engine gets).
  env::RolloutOptions Options(data::Part part) const;
  RunResult Run(const RunHooks& hooks = {}) const;
  // What each agent instance of `seed` is created with.
  agents::AgentContext AgentContextFor(std::uint64_t seed) const;
  // One instance of agent `name` (external agents first, then the registry).
  std::unique_ptr<agents::Agent> MakeAgent(const std::string& name, const agents::AgentContext& context) const;

 private:
  RunSpec spec_;
  Inputs inputs_;
  std::shared_ptr<const env::EnvContext> ctx_;
  std::map<std::uint64_t, std::shared_ptr<const env::EnvContext>> seed_ctx_;  // empty under kPolicy
  // Per seed, the oracle's context of the same configuration (RunSpec::oracle_error); seeds whose
  // world is not an ensemble, or datasets without an oracle, have none.
  std::map<std::uint64_t, std::shared_ptr<const env::EnvContext>> oracle_ctx_;
};

// Runner(spec, inputs).Run(hooks).
RunResult Run(const RunSpec& spec, const RunHooks& hooks = {}, Inputs inputs = {});

// Per-agent means over seeds of each block's means, in spec order of the agents (what the CLI
// prints after a run).
struct AgentSummary {
  std::string agent;
  std::size_t seeds = 0;
  double reward = 0, valence = 0, arousal = 0, rating = 0, engagement = 0;
};
std::vector<AgentSummary> Summarize(const std::vector<env::EpisodeBlock>& blocks);

// Seeds 0..n-1; ArgumentError naming `what` unless 1 <= n <= kMaxSeeds.
std::vector<std::uint64_t> SeedRange(std::int32_t n, const char* what = "seeds");

}  // namespace amrs::run
