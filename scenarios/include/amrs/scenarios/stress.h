// Stress tests (docs/scenarios.md): every scenario x agent x seed through the rollout engine,
// guardrail checks on the rollouts, and the results as HDF5, Markdown and a printed table.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "amrs/agents/guarded.h"
#include "amrs/env/rollout.h"
#include "amrs/run/run.h"
#include "amrs/scenarios/scenario.h"

namespace amrs::scenarios {

// One violating (or, for passing guardrails, closest-to-violating) unit.
struct WorstCase {
  std::uint64_t seed = 0;
  std::int32_t user = -1;     // dataset user index (-1 for per-seed guardrails)
  std::int64_t user_id = -1;  // the dataset's user id (-1 if unknown)
  std::int32_t window = -1;   // window index
  std::int32_t step = -1;     // step where the value is reached
  double value = 0;
};

struct GuardrailResult {
  GuardrailSpec spec;
  std::int64_t units = 0;       // episodes (seeds for min_coverage)
  std::int64_t violations = 0;
  double rate = 0;              // violations / units
  double mean_value = 0;        // mean of the per-unit value
  bool passed = true;           // rate <= spec.max_violation_rate
  std::vector<WorstCase> worst; // worst first, at most `worst_cases`
};

// The per-unit value of one guardrail and whether it violates (docs/scenarios.md):
//  max_arousal_step: per episode, max over t >= 1 of |a_t - a_{t-1}|; violates if > threshold.
//  max_repeats: per episode, the most times one song is recommended; violates if > threshold.
//  min_valence: per episode, min over t of v_t; violates if < threshold.
//  arousal_down: per episode, a_{L-1} - a_0; violates if > -threshold (must drop by threshold).
//  min_coverage: per seed, distinct songs recommended / catalogue size; violates if < threshold.
// `blocks` are the seeds of one agent; `num_songs` the catalogue size; `user_ids` maps dataset
// user index to id (may be empty).
GuardrailResult CheckGuardrail(const GuardrailSpec& spec, const std::vector<env::EpisodeBlock>& blocks,
                               std::int32_t num_songs, std::int32_t worst_cases,
                               const std::vector<std::int64_t>& user_ids = {});

struct AgentResult {
  std::string agent;
  double reward = 0, valence = 0, arousal = 0, rating = 0, engagement = 0;  // means over steps and seeds
  double coverage = 0;                                                      // mean over seeds
  // Under an ensemble world: the mean utility-weighted disagreement of its members on the agent's
  // actions, over steps and seeds (docs/ensembles.md); empty otherwise.
  std::optional<double> disagreement;
  std::map<std::string, double> metrics;  // every metrics::EvaluateSeed key, mean over seeds
  std::vector<GuardrailResult> guardrails;                                  // in scenario order
  std::vector<env::EpisodeBlock> blocks;                                    // one per seed
};

struct ScenarioResult {
  Scenario scenario;
  std::string world_name, world_id, dataset_fingerprint;
  std::int32_t num_songs = 0;
  std::vector<AgentResult> agents;
};

struct StressReport {
  std::vector<ScenarioResult> scenarios;
  bool RequiredFailed() const;  // some required guardrail of some scenario and agent failed
};

using StressProgress = std::function<void(const std::string& label, std::int64_t done, std::int64_t total)>;

// Checks every scenario's inputs (files, world, dataset, agents for every seed) before running
// any of them, then runs them. Throws InputError/ArgumentError on bad input. `external` holds
// agents from outside the registry (run::RunSpec::external, e.g. Python agents) that the
// scenarios' agent lists may name.
StressReport RunStress(const std::vector<Scenario>& scenarios, const StressProgress& progress = {},
                       const std::map<std::string, run::ExternalAgent>& external = {});

// The run a scenario describes (amrs/run/run.h), for its env context (user ids are resolved to
// indices; InputError naming 'users.ids' for an id outside the part).
run::RunSpec ToRunSpec(const Scenario& scenario, const env::EnvContext& context);

// The typed options guarded(...) agents get from a scenario's guardrails (AgentContext::guard);
// "guard.*" entries of its [params] override single fields.
agents::GuardOptions GuardOptionsOf(const Scenario& scenario);
// The agent params of a scenario as recorded in stress.h5: guard.* from its guardrails (6
// digits), then its [params]. Agents get [params] and GuardOptionsOf instead.
std::map<std::string, std::string> AgentParams(const Scenario& scenario);

// stress.h5 (docs/scenarios.md), written to a temporary file and renamed into place.
void WriteStressHdf5(const StressReport& report, const std::string& path, const std::string& version);
// The Markdown tables (one per scenario), and the same as a plain-text table.
std::string StressMarkdown(const StressReport& report);
std::string StressTable(const StressReport& report);

}  // namespace amrs::scenarios
