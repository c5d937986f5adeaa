#include "amrs/run/run.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>
#include <tbb/task_arena.h>

#include "amrs/agents/agent.h"
#include "amrs/agents/policy.h"
#include "amrs/core/error.h"
#include "amrs/core/rng.h"
#include "amrs/distributed/distributed.h"
#include "amrs/env/episode_log.h"
#include "amrs/metrics/rollouts.h"

namespace amrs::run {
namespace {

void CheckCount(std::int64_t value, std::int64_t lo, std::int64_t hi, const char* field) {
  if (value < lo || value > hi)
    throw ArgumentError(std::string("run: '") + field + "' must be in [" + std::to_string(lo) + ", " +
                        std::to_string(hi) + "], got " + std::to_string(value));
}

std::string ReplacePart(std::string pattern, data::Part part) {
  const std::string key = "{part}", name = data::PartName(part);
  for (auto pos = pattern.find(key); pos != std::string::npos; pos = pattern.find(key, pos + name.size()))
    pattern.replace(pos, key.size(), name);
  return pattern;
}

}  // namespace

SeedScope ParseSeedScope(const std::string& name) {
  for (auto s : {SeedScope::kPolicy, SeedScope::kWindows, SeedScope::kWorld})
    if (name == SeedScopeName(s)) return s;
  throw ArgumentError("seed scope must be policy, policy+windows or policy+windows+world, got '" + name + "'");
}

const char* SeedScopeName(SeedScope scope) {
  switch (scope) {
    case SeedScope::kPolicy: return "policy";
    case SeedScope::kWindows: return "policy+windows";
    case SeedScope::kWorld: return "policy+windows+world";
  }
  return "?";
}

std::uint64_t SeedWindowSeed(std::uint64_t window_seed, std::uint64_t seed) {
  return Rng(window_seed, "seed-windows", seed).NextU64();
}

void RunSpec::Validate() const {
  if (agents.empty()) throw ArgumentError("run: 'agents' is empty");
  for (std::size_t i = 0; i < agents.size(); ++i) {
    if (agents[i].empty()) throw ArgumentError("run: 'agents' has an empty name");
    if (std::find(agents.begin(), agents.begin() + static_cast<std::ptrdiff_t>(i), agents[i]) !=
        agents.begin() + static_cast<std::ptrdiff_t>(i))
      throw ArgumentError("run: agent '" + agents[i] + "' is listed twice");
  }
  CheckCount(static_cast<std::int64_t>(seeds.size()), 1, kMaxSeeds, "seeds (count)");
  if (std::set<std::uint64_t>(seeds.begin(), seeds.end()).size() != seeds.size())
    throw ArgumentError("run: 'seeds' lists a seed twice");
  if (parts.empty()) throw ArgumentError("run: 'parts' is empty");
  if (std::set<data::Part>(parts.begin(), parts.end()).size() != parts.size())
    throw ArgumentError("run: 'parts' lists a part twice");
  CheckCount(split, 0, std::numeric_limits<std::int32_t>::max(), "split");
  CheckCount(horizon, 1, kMaxHorizon, "horizon");
  CheckCount(topk, 0, kMaxTopK, "topk");
  CheckCount(batch, 1, kMaxBatch, "batch");
  CheckCount(max_users, 0, std::numeric_limits<std::int32_t>::max(), "max_users");
  for (auto u : users) CheckCount(u, 0, std::numeric_limits<std::int32_t>::max(), "users");
  for (auto [v, field] : {std::pair{pre_valence, "pre_valence"}, {pre_arousal, "pre_arousal"}})
    if (v && !(*v >= 0.f && *v <= 1.f))
      throw ArgumentError(std::string("run: '") + field + "' must be in [0, 1], got " + std::to_string(*v));
  utility.Validate();
  const bool templated = world.find("{seed}") != std::string::npos;
  if (seed_scope == SeedScope::kWorld && !templated)
    throw ArgumentError("run: seed scope " + std::string(SeedScopeName(seed_scope)) + " needs '{seed}' in the world ('" +
                        world + "'), e.g. out/world/seed-{seed}.pt");
  if (seed_scope != SeedScope::kWorld && templated)
    throw ArgumentError("run: the world '" + world + "' names one per seed ('{seed}'): use seed scope " +
                        SeedScopeName(SeedScope::kWorld));
}

std::string RunSpec::ToJson() const {
  nlohmann::json j;
  j["data"] = data;
  j["world"] = world;
  j["agents"] = agents;
  for (const auto& [name, a] : external) j["external_agents"].push_back(name);
  j["params"] = params;
  j["seeds"] = seeds;
  j["split"] = split;
  std::vector<std::string> part_names;
  for (auto p : parts) part_names.push_back(data::PartName(p));
  j["parts"] = part_names;
  j["horizon"] = horizon;
  j["topk"] = topk;
  j["utility"] = utility.ToString();
  j["batch"] = batch;
  j["max_users"] = max_users;
  j["users"] = users;
  j["window_seed"] = window_seed;
  j["seed_scope"] = SeedScopeName(seed_scope);
  j["new_session"] = new_session;
  j["no_replay"] = env::NoReplayName(no_replay);
  if (pre_valence) j["pre_valence"] = *pre_valence;
  if (pre_arousal) j["pre_arousal"] = *pre_arousal;
  if (mode) j["mode"] = static_cast<int>(*mode);
  if (guard) {
    j["guard"] = {{"k", guard->k}, {"max_repeats", guard->max_repeats}, {"coverage_penalty", guard->coverage_penalty}};
    if (std::isfinite(guard->max_arousal_step)) j["guard"]["max_arousal_step"] = guard->max_arousal_step;
    if (std::isfinite(guard->min_valence)) j["guard"]["min_valence"] = guard->min_valence;
    if (guard->min_arousal_drop) j["guard"]["min_arousal_drop"] = *guard->min_arousal_drop;
  }
  j["scenario"] = scenario;
  j["transform"] = static_cast<bool>(transform);
  return j.dump();
}

Inputs LoadInputs(const RunSpec& spec, Inputs given) {
  if (given.context) {
    given.dataset = given.context->dataset_ptr();
    given.world = given.context->world_ptr();
  }
  if (!given.dataset) {
    if (spec.data.empty()) throw ArgumentError("run: no dataset ('data' is empty)");
    given.dataset = std::make_shared<const data::Dataset>(data::ReadDataset(spec.data));
  }
  if (!given.world)
    given.world = env::LoadWorld(
        spec.seed_scope == SeedScope::kWorld ? agents::ExpandSeed(spec.world, spec.seeds.front()) : spec.world,
        given.dataset);
  return given;
}

Runner::Runner(RunSpec spec, Inputs inputs) : spec_(std::move(spec)) {
  spec_.Validate();
  inputs_ = LoadInputs(spec_, std::move(inputs));
  if (inputs_.context) {
    const auto& c = inputs_.context->config();
    if (c.split != spec_.split || c.horizon != spec_.horizon || c.window_seed != spec_.window_seed)
      throw ArgumentError("run: the given env context has split " + std::to_string(c.split) + ", horizon " +
                          std::to_string(c.horizon) + ", window seed " + std::to_string(c.window_seed) +
                          "; the run asks for " + std::to_string(spec_.split) + ", " + std::to_string(spec_.horizon) +
                          ", " + std::to_string(spec_.window_seed));
  } else {
    env::EnvConfig cfg;
    cfg.split = spec_.split;
    cfg.horizon = spec_.horizon;
    cfg.window_seed = spec_.window_seed;
    inputs_.context = env::EnvContext::Create(inputs_.dataset, inputs_.world, cfg);
  }
  ctx_ = inputs_.context;
  if (spec_.seed_scope != SeedScope::kPolicy) {
    // Built in seed order on this thread: the same contexts for any thread count.
    for (const auto seed : spec_.seeds) {
      env::EnvConfig cfg = ctx_->config();
      cfg.window_seed = SeedWindowSeed(spec_.window_seed, seed);
      auto world = ctx_->world_ptr();
      if (spec_.seed_scope == SeedScope::kWorld && seed != spec_.seeds.front()) {
        const std::string path = agents::ExpandSeed(spec_.world, seed);
        try {
          world = env::LoadWorld(path, inputs_.dataset);
        } catch (const InputError& e) {
          throw InputError("run: the world of seed " + std::to_string(seed) + ": " + e.what());
        }
      }
      seed_ctx_[seed] = env::EnvContext::Create(inputs_.dataset, world, cfg);
    }
  }
  if (spec_.oracle_error && inputs_.dataset->oracle) {
    // One oracle context per distinct configuration (under kPolicy: one for every seed).
    std::map<std::uint64_t, std::shared_ptr<const env::EnvContext>> by_window_seed;
    std::shared_ptr<const env::World> oracle;
    for (const auto seed : spec_.seeds) {
      const auto ctx = ContextFor(seed);
      if (ctx->world().members() < 2) continue;
      if (!oracle) oracle = env::MakeOracleWorld(inputs_.dataset, ctx->world().catalogue().family);
      auto& o = by_window_seed[ctx->config().window_seed];
      if (!o) o = env::EnvContext::Create(inputs_.dataset, oracle, ctx->config());
      oracle_ctx_[seed] = o;
    }
  }
  if (spec_.topk > inputs_.dataset->num_songs())
    throw ArgumentError("run: 'topk' is " + std::to_string(spec_.topk) + ", more than the catalogue's " +
                        std::to_string(inputs_.dataset->num_songs()) + " songs");
  for (const auto part : spec_.parts) {
    Options(part).Validate();
    const auto& part_users = ctx_->Users(part);
    if (part_users.empty())
      throw InputError("run: the " + std::string(data::PartName(part)) + " part of split " + std::to_string(spec_.split) +
                       " has no users");
    for (auto u : spec_.users)
      if (!std::binary_search(part_users.begin(), part_users.end(), u))
        throw ArgumentError("run: 'users': user index " + std::to_string(u) + " is not in the " +
                            std::string(data::PartName(part)) + " part of split " + std::to_string(spec_.split));
  }
  // Every agent for every seed, so that a missing checkpoint or a bad parameter fails now.
  std::vector<std::string> registered;
  for (const auto& name : spec_.agents) {
    const auto ext = spec_.external.find(name);
    if (ext != spec_.external.end()) {
      if (!ext->second.make) throw ArgumentError("run: external agent '" + name + "' has no factory");
      continue;
    }
    if (!agents::AgentRegistry::Has(name)) agents::AgentRegistry::Create(name, {});  // throws, listing names
    registered.push_back(name);
  }
  agents::ValidateParams(registered, spec_.params);
  for (const auto& name : spec_.agents) {
    for (const auto seed : spec_.seeds) {
      try {
        if (!MakeAgent(name, AgentContextFor(seed))) throw ArgumentError("the factory made no agent");
      } catch (const InputError& e) {
        throw InputError("agent '" + name + "' (seed " + std::to_string(seed) + "): " + e.what());
      } catch (const ArgumentError& e) {
        throw ArgumentError("agent '" + name + "' (seed " + std::to_string(seed) + "): " + e.what());
      }
    }
  }
}

std::shared_ptr<const env::EnvContext> Runner::ContextFor(std::uint64_t seed) const {
  if (spec_.seed_scope == SeedScope::kPolicy) return ctx_;
  const auto it = seed_ctx_.find(seed);
  if (it == seed_ctx_.end()) throw ArgumentError("run: seed " + std::to_string(seed) + " is not one of the run's");
  return it->second;
}

agents::AgentContext Runner::AgentContextFor(std::uint64_t seed) const {
  return {ContextFor(seed), spec_.params, seed, spec_.guard};
}

std::unique_ptr<agents::Agent> Runner::MakeAgent(const std::string& name, const agents::AgentContext& context) const {
  const auto ext = spec_.external.find(name);
  if (ext != spec_.external.end()) return ext->second.make(context);
  return agents::AgentRegistry::Create(name, context);
}

env::RolloutOptions Runner::Options(data::Part part) const {
  env::RolloutOptions o;
  o.part = part;
  o.batch = spec_.batch;
  o.topk = spec_.topk;
  o.max_users = spec_.max_users;
  o.users = spec_.users;
  o.reset.part = part;
  o.reset.utility = spec_.utility;
  o.reset.new_session = spec_.new_session;
  o.reset.pre_valence = spec_.pre_valence;
  o.reset.pre_arousal = spec_.pre_arousal;
  o.reset.mode = spec_.mode;
  o.reset.transform = spec_.transform;
  o.reset.no_replay = spec_.no_replay;
  return o;
}

RunResult Runner::Run(const RunHooks& hooks) const {
  if (!hooks.log.empty() && spec_.parts.size() > 1 && hooks.log.find("{part}") == std::string::npos)
    throw ArgumentError("run: the log path '" + hooks.log + "' needs '{part}' for a run over several parts");
  const auto& world = ctx_->world();
  RunResult result;
  result.world_name = world.Name();
  result.world_id = world.Id();
  result.dataset_fingerprint = ctx_->dataset_fingerprint();  // computed once per context
  const std::string config = spec_.ToJson();
  // Sharded over the ranks of a distributed launch (docs/distributed.md): each rank runs the
  // batches bi % size == rank of every block, all ranks gather the blocks (so every rank returns
  // the same result), rank 0 alone writes the logs.
  auto& comm = distributed::Current();
  const bool sharded = comm.size() > 1;
  if (sharded)
    distributed::CheckSame(comm, "run (dataset fingerprint, world, options)",
                           result.dataset_fingerprint + " " + result.world_id + " " + config);
  for (const auto part : spec_.parts) {
    auto options = Options(part);
    options.shard_rank = comm.rank(), options.shard_count = comm.size();
    PartResult pr;
    pr.part = part;
    if (hooks.on_part) hooks.on_part(part, result.world_name);
    std::unique_ptr<env::EpisodeLogWriter> writer;
    if (!hooks.log.empty()) pr.log = ReplacePart(hooks.log, part);
    if (!hooks.log.empty() && comm.root()) {
      env::RunMetadata meta;
      meta.config = config;
      meta.world = result.world_name;
      meta.world_id = result.world_id;
      meta.dataset_fingerprint = result.dataset_fingerprint;
      meta.scenario = spec_.scenario;
      meta.seed_scope = SeedScopeName(spec_.seed_scope);
      meta.part = data::PartName(part);
      meta.split = spec_.split;
      meta.horizon = spec_.horizon;
      meta.topk = spec_.topk;
      meta.no_replay = env::NoReplayName(spec_.no_replay);
      meta.utility = spec_.utility;
      meta.version = hooks.version;
      writer = std::make_unique<env::EpisodeLogWriter>(pr.log, meta);
    }
    for (const auto& name : spec_.agents)
      for (const auto seed : spec_.seeds) {
        const agents::AgentContext ac = AgentContextFor(seed);
        env::RolloutProgress progress;
        if (hooks.progress)
          progress = [&](std::int64_t done, std::int64_t total) { hooks.progress({part, name, seed, done, total}); };
        const auto ext = spec_.external.find(name);
        auto rollouts = [&] {
          return env::RunRollouts(ac.env, [&] { return MakeAgent(name, ac); }, name, seed, options, progress);
        };
        env::EpisodeBlock block;
        if (ext != spec_.external.end() && ext->second.serial) {
          tbb::task_arena one(1);
          block = one.execute(rollouts);
        } else {
          block = rollouts();
        }
        if (const auto o = oracle_ctx_.find(seed); o != oracle_ctx_.end()) {
          auto replay = env::ReplayInOracle(o->second, block, options);
          block.oracle_error = std::move(replay.error);
          block.oracle_feedback = std::move(replay.feedback);
        }
        if (sharded)
          env::MergeShards(block,
                           comm.AllGather(env::PackShard(block, options.batch, comm.rank(), comm.size()),
                                          std::string("rollouts of '") + name + "', seed " + std::to_string(seed) +
                                              ", " + data::PartName(part) + " part: gathering the episodes"),
                           options.batch);
        if (writer) writer->Write(block);
        if (hooks.on_block) hooks.on_block(part, block);
        if (hooks.keep_blocks) pr.blocks.push_back(std::move(block));
      }
    if (writer) writer->Finalize();
    result.parts.push_back(std::move(pr));
  }
  return result;
}

RunResult Run(const RunSpec& spec, const RunHooks& hooks, Inputs inputs) {
  return Runner(spec, std::move(inputs)).Run(hooks);
}

std::vector<AgentSummary> Summarize(const std::vector<env::EpisodeBlock>& blocks) {
  std::vector<AgentSummary> out;
  for (const auto& b : blocks) {
    auto it = std::find_if(out.begin(), out.end(), [&](const AgentSummary& s) { return s.agent == b.agent; });
    if (it == out.end()) it = out.insert(out.end(), AgentSummary{b.agent});
    const auto m = metrics::RolloutMeans(b);
    it->seeds += 1;
    it->reward += m.reward.value_or(0.0), it->valence += m.valence, it->arousal += m.arousal;
    it->rating += m.rating, it->engagement += m.engagement;
  }
  for (auto& s : out) {
    const double n = static_cast<double>(s.seeds);
    s.reward /= n, s.valence /= n, s.arousal /= n, s.rating /= n, s.engagement /= n;
  }
  return out;
}

std::vector<std::uint64_t> SeedRange(std::int32_t n, const char* what) {
  CheckCount(n, 1, kMaxSeeds, what);
  std::vector<std::uint64_t> seeds;
  for (std::int32_t s = 0; s < n; ++s) seeds.push_back(static_cast<std::uint64_t>(s));
  return seeds;
}

}  // namespace amrs::run
