// The agent conformance checks (`amrs check-agent`, and tests/test_env.cc for every registered
// agent): one implementation for the repository's test suite and for outside agents.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "amrs/data/dataset.h"
#include "amrs/env/world.h"
#include "amrs/run/run.h"

namespace amrs::run {

struct AgentCheck {
  std::string name;     // e.g. "oracle: deterministic at 1 and 2 threads"
  bool passed = false;
  std::string message;  // why it failed (the first problem), "" when passed
};

struct CheckWorld {
  std::string name;  // as printed, e.g. "oracle", "learned (untrained)"
  std::shared_ptr<const env::World> world;
};

struct CheckAgentOptions {
  Params params;           // agent parameters ("{seed}" as in runs)
  std::uint64_t seed = 3;  // run seed of the checked rollouts
  std::int32_t split = 0;
  std::int32_t horizon = 4, topk = 5, max_users = 4;
  std::int32_t batch = 7;  // small: several batches per seed, one ragged
};

// The tiny synthetic dataset check-agent uses without --data (40 users, 150 songs, 2 splits;
// generated in memory in well under a second).
std::shared_ptr<const data::Dataset> CheckDataset();
// The worlds to check on: `world` ("" = an untrained learned world model of the dataset; else a
// --world spec), plus the oracle when the dataset has one and `world` is not it.
std::vector<CheckWorld> CheckWorlds(std::shared_ptr<const data::Dataset> dataset, const std::string& world = "");

// Runs the conformance checks of `agent` (a registered name or "wrapper(name)") on each world,
// through run::Runner: it is created for the run seed with `options.params`; the same seed gives
// the same episodes at 1 and 2 TBB threads (and the default); every action is a catalogue index;
// every top-k list has k distinct catalogue indices; rewards are the utility of the feedback; a
// single env driven by the agent truncates at the horizon and refuses misuse (a step before
// reset, an action outside the catalogue, a step after the end); driven by envs under the
// no-replay rules session and episode, its own actions and top-k lists (before the runner
// enforces the rule) hold no banned song (ObservationBatch::banned). A check that cannot run
// because an earlier one failed is not listed. Never throws for a failing agent.
std::vector<AgentCheck> CheckAgent(const std::string& agent, std::shared_ptr<const data::Dataset> dataset,
                                   const std::vector<CheckWorld>& worlds, const CheckAgentOptions& options = {});
bool AllPassed(const std::vector<AgentCheck>& checks);
// One line per check: "PASS name" or "FAIL name: message".
std::string FormatChecks(const std::vector<AgentCheck>& checks);

}  // namespace amrs::run
