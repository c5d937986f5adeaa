// Scenario files (TOML, docs/scenarios.md): which world, data, users, history perturbations,
// utility, agents, seeds and guardrails a stress test runs. A scenario only configures the env
// (ResetOptions, including its history-transform hook) and the agents; it adds no env logic.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "amrs/core/types.h"
#include "amrs/data/splits.h"
#include "amrs/env/env.h"
#include "amrs/env/rollout.h"

namespace amrs::scenarios {

enum class GuardrailKind { kMaxArousalStep, kMinCoverage, kMaxRepeats, kMinValence, kArousalDown, kMaxDisagreement };
// "max_arousal_step" | "min_coverage" | "max_repeats" | "min_valence" | "arousal_down" |
// "max_disagreement" (an ensemble world's utility-weighted disagreement on any step of an episode:
// the simulator must not be out of its depth; docs/ensembles.md)
std::string_view GuardrailName(GuardrailKind kind);

struct GuardrailSpec {
  GuardrailKind kind = GuardrailKind::kMaxArousalStep;
  double threshold = 0;           // the bound (meaning per kind: docs/scenarios.md)
  double max_violation_rate = 0;  // allowed fraction of violating units (episodes, or seeds)
  bool required = true;           // a failing required guardrail makes `amrs stress` exit 1
};

// Edits of the initial history, applied in this order: keep_last, drop, pre-session values and
// mode (on the window's last session, unless new_session), dislike streak.
struct HistorySpec {
  bool new_session = false;                        // open a new session before the first step
  std::optional<float> pre_valence, pre_arousal;   // pre-session report, [0, 1]
  std::optional<SessionMode> mode;                 // session mode
  std::int32_t keep_last = 0;                      // cold start: keep the last k tokens (0: all)
  bool drop_engagement = false, drop_rating = false, drop_affect = false;  // hide logged signals
  std::int32_t dislike_streak = 0;                 // append n disliked songs (rated 0, skipped)
  float dislike_engagement = 0.05f;                // engagement of each injected dislike
};

struct Scenario {
  std::string file;  // the file it was read from ("" when built in code)
  std::string name, description;
  std::string world = "oracle";  // checkpoint path or "oracle"
  std::string data;              // dataset path
  std::int32_t split = 0;
  data::Part part = data::Part::kTest;
  std::int32_t max_users = 0;          // 0: all users of the part
  std::vector<std::int64_t> user_ids;  // dataset user ids; empty: all
  std::int32_t horizon = 5;            // L
  std::vector<std::uint64_t> seeds{0, 1, 2};
  std::uint64_t window_seed = 0;
  std::string seed_scope;              // run::SeedScope name; "" = the run's default (docs/metrics.md)
  std::int32_t batch = 64, topk = 10;
  std::int32_t worst_cases = 5;        // worst cases kept per guardrail and agent
  env::NoReplay no_replay = env::NoReplay::kSession;  // the run's rule for every agent (key no_replay)
  std::vector<std::string> agents;
  std::map<std::string, std::string> params;  // passed to every agent (AgentContext::params)
  std::string utility_preset;                 // "" or a preset name
  Utility utility;
  HistorySpec history;
  std::vector<GuardrailSpec> guardrails;
  std::map<std::string, std::int32_t> lines;  // dotted key -> line in `file`

  // "file:line: key 'k'" (or "key 'k'" when the key has no line).
  std::string Where(const std::string& key) const;
};

// What the command line may replace after parsing (empty: keep the file's value).
struct Overrides {
  std::string data, world;
  std::vector<std::string> agents;
  std::map<std::string, std::string> params;  // merged over the file's [params]
  std::string seed_scope;                     // run::SeedScope name
  // Agents from outside the registry (RunStress's `external`, e.g. Python agents): agent lists
  // may name them.
  std::vector<std::string> external;
  std::optional<env::NoReplay> no_replay;  // replaces every file's no_replay (--no-replay)
};

// Reads, checks and applies overrides. Every error is an InputError naming file, line and key:
// TOML syntax, unknown keys, wrong types, values out of range, unknown presets, modes, guardrails
// and (after overrides) unknown agents. Files named in the scenario are checked by CheckFiles.
Scenario ParseScenario(const std::string& path, const Overrides& overrides = {});
Scenario ParseScenarioText(const std::string& text, const std::string& source, const Overrides& overrides = {});
// Throws InputError naming the key if the data file or the world checkpoint does not exist.
void CheckFiles(const Scenario& scenario);

// Utility presets (docs/scenarios.md): affect, energize, focus, calm, sleep.
Utility UtilityPreset(std::string_view name);  // throws ArgumentError listing the presets
std::vector<std::string> UtilityPresetNames();

// History transforms: each returns an env::ResetOptions::transform hook.
using HistoryTransform = std::function<void(History&, std::uint64_t episode_seed)>;
HistoryTransform KeepLast(std::int32_t k);
HistoryTransform DropSignals(bool engagement, bool rating, bool affect);
// Sets the pre-session report and/or mode of the history's last session: its boundary token
// (one is inserted at the front, carrying the first token's mode, if the window has none) and,
// for the mode, every song token after it.
HistoryTransform SetSession(std::optional<float> pre_valence, std::optional<float> pre_arousal,
                            std::optional<SessionMode> mode);
// Appends n song tokens drawn uniformly from [0, num_songs) with the episode seed, each rated
// "dislike" (0) with the given engagement, in the mode of the history's last token.
HistoryTransform DislikeStreak(std::int32_t n, float engagement, std::int32_t num_songs);
HistoryTransform Compose(std::vector<HistoryTransform> transforms);  // empty: none

// The env options of the scenario: new-session values go to ResetOptions, the rest to its
// transform hook.
env::ResetOptions MakeResetOptions(const Scenario& scenario, std::int32_t num_songs);

}  // namespace amrs::scenarios
