#include "amrs/run/check_agent.h"

#include <tbb/global_control.h>

#include <cmath>
#include <functional>
#include <set>
#include <sstream>

#include "amrs/core/error.h"
#include "amrs/data/synthetic.h"
#include "amrs/worldmodel/world_model.h"

namespace amrs::run {
namespace {

// A problem found by a check (its message is the check's failure message).
struct Failed {
  std::string message;
};

// The first difference of two runs of the same block, "" when they are the same.
std::string FirstDifference(const env::EpisodeBlock& a, const env::EpisodeBlock& b) {
  if (a.actions != b.actions) return "actions";
  if (a.ranked != b.ranked) return "top-k lists";
  if (a.reward != b.reward) return "rewards";
  if (a.valence != b.valence || a.arousal != b.arousal || a.rating != b.rating || a.engagement != b.engagement)
    return "feedback";
  if (a.user != b.user || a.window_start != b.window_start || a.episode_seed != b.episode_seed) return "episodes";
  return "";
}

std::string At(std::int32_t episode, std::int32_t step) {
  return "episode " + std::to_string(episode) + ", step " + std::to_string(step);
}

void CheckActions(const env::EpisodeBlock& b, std::int32_t songs) {
  for (std::int32_t e = 0; e < b.episodes(); ++e)
    for (std::int32_t t = 0; t < b.horizon; ++t) {
      const auto x = b.actions[static_cast<std::size_t>(e) * b.horizon + t];
      if (x < 0 || x >= songs)
        throw Failed{At(e, t) + ": action " + std::to_string(x) + " is outside the catalogue [0, " +
                     std::to_string(songs) + ")"};
    }
}

void CheckRanked(const env::EpisodeBlock& b, std::int32_t songs, std::int32_t k) {
  if (b.topk != k) throw Failed{"the lists have " + std::to_string(b.topk) + " entries, asked for " + std::to_string(k)};
  for (std::int32_t e = 0; e < b.episodes(); ++e)
    for (std::int32_t t = 0; t < b.horizon; ++t) {
      std::set<std::int32_t> seen;
      for (std::int32_t r = 0; r < k; ++r) {
        const auto s = b.ranked[(static_cast<std::size_t>(e) * b.horizon + t) * k + r];
        if (s < 0 || s >= songs)
          throw Failed{At(e, t) + ": entry " + std::to_string(r) + " (" + std::to_string(s) +
                       ") is outside the catalogue [0, " + std::to_string(songs) + ")"};
        if (!seen.insert(s).second)
          throw Failed{At(e, t) + ": song " + std::to_string(s) + " is listed twice"};
      }
    }
}

void CheckRewards(const env::EpisodeBlock& b, const Utility& u) {
  for (std::size_t i = 0; i < b.reward.size(); ++i) {
    const double want = u({b.engagement[i], b.rating[i], b.valence[i], b.arousal[i]});
    if (!(std::abs(b.reward[i] - want) <= 1e-5 * (1 + std::abs(want))))
      throw Failed{"step " + std::to_string(i) + ": reward " + std::to_string(b.reward[i]) +
                   " is not the utility of its feedback (" + std::to_string(want) + ")"};
  }
}

// Throws Failed unless `f` throws ArgumentError.
void ExpectArgumentError(const std::function<void()>& f, const std::string& what) {
  try {
    f();
  } catch (const ArgumentError&) {
    return;
  }
  throw Failed{what + " was accepted"};
}

// One episode of a single env driven by the agent (k = 0), and the env's misuse errors.
void CheckSingleEnv(const Runner& runner, const std::string& agent, std::uint64_t seed) {
  const auto ctx = runner.context();
  const auto horizon = ctx->config().horizon;
  env::RecEnv env(ctx);
  ExpectArgumentError([&] { env.Step(0); }, "a step before reset");
  auto a = runner.MakeAgent(agent, runner.AgentContextFor(seed));
  a->Reset(seed);
  env::ResetOptions o;
  o.no_replay = env::NoReplay::kOff;  // the env refuses banned actions; CheckNoReplay checks the rule
  env.Reset(seed, o);
  ExpectArgumentError([&] { env.Step(ctx->world().num_songs()); }, "an action outside the catalogue");
  for (std::int32_t t = 0; t < horizon; ++t) {
    const auto d = a->Act(env.Batch(), 0);
    if (d.actions.size() != 1)
      throw Failed{"step " + std::to_string(t) + ": " + std::to_string(d.actions.size()) + " actions for 1 env"};
    if (!d.ranked.empty()) throw Failed{"step " + std::to_string(t) + ": a top-k list for k = 0"};
    const auto r = env.Step(d.actions[0]);
    if (r.truncated != (t + 1 == horizon) || r.terminated || r.info.step != t + 1)
      throw Failed{"step " + std::to_string(t) + ": truncated/terminated/step is " + std::to_string(r.truncated) +
                   "/" + std::to_string(r.terminated) + "/" + std::to_string(r.info.step)};
  }
  ExpectArgumentError([&] { env.Step(0); }, "a step after the end of the episode");
}

// The agent's own decisions (before the runner enforces the rule) under each no-replay rule: no
// action and no top-k entry may be a song the batch bans (ObservationBatch::banned).
void CheckNoReplay(const Runner& runner, const std::string& agent, std::uint64_t seed, std::int32_t k) {
  const auto ctx = runner.context();
  for (const auto rule : {env::NoReplay::kSession, env::NoReplay::kEpisode}) {
    const std::string name = env::NoReplayName(rule);
    env::VectorEnv env(ctx, 3);
    env::ResetOptions o;
    o.part = runner.spec().parts.at(0);
    o.utility = runner.spec().utility;
    o.no_replay = rule;
    auto a = runner.MakeAgent(agent, runner.AgentContextFor(seed));
    a->Reset(seed);
    env.Reset(seed, o);
    std::size_t banned = 0;
    for (std::int32_t t = 0; t < ctx->config().horizon; ++t) {
      const auto batch = env.Batch();
      const auto d = a->Act(batch, k);
      if (d.actions.size() != batch.size())
        throw Failed{name + ": step " + std::to_string(t) + ": " + std::to_string(d.actions.size()) + " actions for " +
                     std::to_string(batch.size()) + " envs"};
      for (std::size_t i = 0; i < batch.size(); ++i) {
        banned += batch.banned[i].size();
        const std::string where = name + ": step " + std::to_string(t) + ", env " + std::to_string(i) + ": ";
        if (batch.Banned(i, d.actions[i]))
          throw Failed{where + "action " + std::to_string(d.actions[i]) + " is a song the rule bans"};
        if (i < d.ranked.size())
          for (auto s : d.ranked[i])
            if (batch.Banned(i, s)) throw Failed{where + "the top-k list holds song " + std::to_string(s) + ", which the rule bans"};
      }
      env.Step(d.actions);
    }
    if (banned == 0) throw Failed{name + ": no song was ever banned (the check tested nothing)"};
  }
}

}  // namespace

std::shared_ptr<const data::Dataset> CheckDataset() {
  data::GeneratorConfig c;
  c.seed = 11;
  c.num_users = 40;
  c.num_sessions = 200;
  c.num_interactions = 1300;
  c.num_songs = 150;
  c.embedding_dim = 16;
  c.num_splits = 2;
  return std::make_shared<const data::Dataset>(data::Generate(c));
}

std::vector<CheckWorld> CheckWorlds(std::shared_ptr<const data::Dataset> dataset, const std::string& world) {
  std::vector<CheckWorld> worlds;
  if (world.empty()) {
    worldmodel::ModelConfig m;  // small: the checks are about the agent, not the model
    m.d_model = 16;
    m.heads = 2;
    m.layers = 1;
    m.ff = 32;
    m.head_hidden = 16;
    worlds.push_back({"learned (untrained)",
                      env::MakeLearnedWorld(worldmodel::WorldModel::CreateUntrained(m, *dataset, 1))});
  } else {
    auto w = env::LoadWorld(world, dataset);
    worlds.push_back({w->Name(), std::move(w)});
  }
  if (dataset->oracle && worlds.front().world->Name().rfind("oracle", 0) != 0)
    worlds.push_back({"oracle", env::MakeOracleWorld(dataset)});
  return worlds;
}

std::vector<AgentCheck> CheckAgent(const std::string& agent, std::shared_ptr<const data::Dataset> dataset,
                                   const std::vector<CheckWorld>& worlds, const CheckAgentOptions& options) {
  std::vector<AgentCheck> checks;
  for (const auto& w : worlds) {
    // Each check runs `f`; a failure stops this world's remaining checks.
    bool ok = true;
    const auto check = [&](const std::string& name, const std::function<void()>& f) {
      if (!ok) return;
      AgentCheck c{w.name + ": " + name, true, ""};
      try {
        f();
      } catch (const Failed& e) {
        c.passed = false, c.message = e.message;
      } catch (const std::exception& e) {
        c.passed = false, c.message = e.what();
      }
      ok = c.passed;
      checks.push_back(std::move(c));
    };
    RunSpec spec;
    spec.agents = {agent};
    spec.params = options.params;
    spec.seeds = {options.seed};
    spec.split = options.split;
    spec.horizon = options.horizon;
    spec.topk = options.topk;
    spec.batch = options.batch;
    spec.max_users = options.max_users;
    std::unique_ptr<Runner> runner;
    check("created with its parameters", [&] { runner = std::make_unique<Runner>(spec, Inputs{dataset, w.world, nullptr}); });
    env::EpisodeBlock block;
    check("rolls out", [&] {
      block = runner->Run().parts.at(0).blocks.at(0);
      if (block.episodes() == 0) throw Failed{"no episodes"};
    });
    check("deterministic at 1 and 2 threads", [&] {
      for (const int threads : {1, 2}) {
        const tbb::global_control gc(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads));
        const auto diff = FirstDifference(block, runner->Run().parts.at(0).blocks.at(0));
        if (!diff.empty())
          throw Failed{"the " + diff + " differ between a run at " + std::to_string(threads) +
                       " thread(s) and one at the default count, under the same seed"};
      }
    });
    const auto songs = w.world->num_songs();
    check("valid actions", [&] { CheckActions(block, songs); });
    check("valid top-" + std::to_string(options.topk) + " lists", [&] { CheckRanked(block, songs, options.topk); });
    check("rewards are the utility of the feedback", [&] { CheckRewards(block, spec.utility); });
    check("single env: truncation at the horizon and misuse errors",
          [&] { CheckSingleEnv(*runner, agent, options.seed); });
    check("respects the no-replay rules (session, episode) in its actions and top-" + std::to_string(options.topk),
          [&] { CheckNoReplay(*runner, agent, options.seed, options.topk); });
  }
  return checks;
}

bool AllPassed(const std::vector<AgentCheck>& checks) {
  for (const auto& c : checks)
    if (!c.passed) return false;
  return !checks.empty();
}

std::string FormatChecks(const std::vector<AgentCheck>& checks) {
  std::ostringstream os;
  for (const auto& c : checks) os << (c.passed ? "PASS " : "FAIL ") << c.name << (c.passed ? "" : ": " + c.message) << "\n";
  return os.str();
}

}  // namespace amrs::run
