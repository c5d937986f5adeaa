// Field-by-field equality of episode blocks (every field, so that a round trip or a determinism
// check that drops one field fails).
#pragma once

#include "amrs/core/episodes.h"

namespace amrs::testing {

inline bool SameBlock(const EpisodeBlock& a, const EpisodeBlock& b) {
  return a.agent == b.agent && a.seed == b.seed && a.horizon == b.horizon && a.topk == b.topk &&
         a.episode_seed == b.episode_seed && a.user == b.user && a.window_index == b.window_index &&
         a.window_start == b.window_start && a.window_length == b.window_length && a.actions == b.actions &&
         a.ranked == b.ranked && a.engagement == b.engagement && a.rating == b.rating && a.valence == b.valence &&
         a.arousal == b.arousal && a.reward == b.reward;
}

}  // namespace amrs::testing
