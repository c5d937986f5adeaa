#include "amrs/core/episodes.h"

#include <cmath>
#include <string>
#include <utility>

#include "amrs/core/error.h"

namespace amrs {
namespace {

template <typename T>
void CheckSize(const std::vector<T>& v, std::size_t n, const char* field) {
  if (v.size() != n)
    throw ArgumentError(std::string("rollouts: field '") + field + "' has " + std::to_string(v.size()) +
                        " values, expected " + std::to_string(n));
}

void CheckFinite(const std::vector<float>& v, const char* field) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      throw ArgumentError(std::string("rollouts: field '") + field + "' is not finite at index " + std::to_string(i));
}

}  // namespace

void EpisodeBlock::Validate() const {
  if (horizon <= 0) throw ArgumentError("rollouts: horizon must be positive");
  if (topk < 0) throw ArgumentError("rollouts: topk must not be negative");
  if (user.empty()) throw ArgumentError("rollouts: no episodes");
  const std::size_t E = user.size(), EL = E * static_cast<std::size_t>(horizon);
  if (!episode_seed.empty()) CheckSize(episode_seed, E, "episode_seed");
  if (!window_index.empty()) CheckSize(window_index, E, "window_index");
  CheckSize(window_start, E, "window_start");
  CheckSize(window_length, E, "window_length");
  CheckSize(actions, EL, "actions");
  CheckSize(ranked, EL * static_cast<std::size_t>(topk), "topk");
  CheckSize(engagement, EL, "engagement");
  CheckSize(rating, EL, "rating");
  CheckSize(valence, EL, "valence");
  CheckSize(arousal, EL, "arousal");
  if (!reward.empty()) CheckSize(reward, EL, "reward");
  if (!disagreement.empty()) CheckSize(disagreement, EL, "disagreement");
  if (!oracle_error.empty()) CheckSize(oracle_error, EL, "oracle_error");
  if (!oracle_feedback.empty()) CheckSize(oracle_feedback, EL * 4, "oracle_feedback");
  const std::pair<const std::vector<float>*, const char*> signals[] = {
      {&engagement, "engagement"}, {&rating, "rating"}, {&valence, "valence"}, {&arousal, "arousal"}, {&reward, "reward"},
      {&disagreement, "disagreement"}, {&oracle_error, "oracle_error"}, {&oracle_feedback, "oracle_feedback"}};
  for (const auto& [v, name] : signals) CheckFinite(*v, name);
}

}  // namespace amrs
