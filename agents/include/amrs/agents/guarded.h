// The guardrail re-ranker behind the wrapper agent `guarded(<agent>)` (docs/scenarios.md): it
// takes the inner agent's top-k and re-orders it so that the chosen song respects the deployment
// guardrails of paper section 5.1 (repeat limit, per-step arousal bound, valence floor) and
// spreads exposure (coverage floor). The ordering is a pure function, exposed for tests.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace amrs::agents {

// Guard parameters: AgentContext::guard (typed; the stress runner derives it from the scenario's
// guardrails), each field overridden by the AgentContext param "guard.<field>" if given.
struct GuardOptions {
  std::int32_t k = 50;             // guard.k: candidates taken from the inner agent's ranking
  std::int32_t max_repeats = 1;    // guard.max_repeats: plays of one song per episode (0: no limit)
  float max_arousal_step = std::numeric_limits<float>::infinity();  // guard.max_arousal_step
  float min_valence = -std::numeric_limits<float>::infinity();      // guard.min_valence
  // guard.min_arousal_drop: if set, each step's predicted arousal must be at least this much
  // below the previous step's (0: must not rise), which makes arousal go down over the rollout.
  std::optional<float> min_arousal_drop;
  // guard.coverage_penalty: rank positions a candidate loses per earlier pick of it by this
  // agent instance (across episodes); 0 turns the coverage floor off.
  float coverage_penalty = 5.f;
  // `base` with the "guard.*" entries of `params` applied. Throws ArgumentError naming the bad
  // "guard.*" parameter.
  static GuardOptions FromParams(const std::map<std::string, std::string>& params);
  static GuardOptions FromParams(const std::map<std::string, std::string>& params, const GuardOptions& base);
};

// One candidate of one observation, in the inner agent's order (rank = its index).
struct GuardCandidate {
  std::int32_t song = -1;
  std::int32_t plays_in_episode = 0;  // times already recommended in this episode
  float arousal = 0.f, valence = 0.f;  // the world's predicted feedback of the song
  std::int64_t picks = 0;             // times this agent instance already recommended it
};

// Indices into `candidates`, best first. Candidates that satisfy every guard come first, ordered
// by rank + coverage_penalty * picks (ties: inner rank). The others follow, least violating first:
// fewest guards broken, then smallest total excess (each excess divided by its bound: repeats
// over the limit / limit, |arousal step| - bound over bound, floor - valence over the floor,
// missing arousal drop over the required drop; bounds of 0 count the raw excess), then the
// same adjusted rank. `prev_arousal` is the
// predicted arousal of the previous step's song (none at the first step: no arousal guard).
std::vector<std::int32_t> GuardOrder(const std::vector<GuardCandidate>& candidates,
                                     std::optional<float> prev_arousal, const GuardOptions& options);

}  // namespace amrs::agents
