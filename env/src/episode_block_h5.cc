#include "episode_block_h5.h"

namespace amrs::env {

using data::h5::File;

void WriteEpisodeBlockH5(File& f, const std::string& g, const EpisodeBlock& b) {
  const hsize_t E = static_cast<hsize_t>(b.episodes()), L = static_cast<hsize_t>(b.horizon),
                K = static_cast<hsize_t>(b.topk);
  f.Group(g);
  f.WriteScalarAttr<std::uint64_t>(g, "seed", b.seed);
  f.WriteStringAttr(g, "agent", b.agent);
  f.Write(g + "/episode_seed", b.episode_seed);
  f.Write(g + "/user", b.user);
  f.Write(g + "/window_index", b.window_index);
  f.Write(g + "/window_start", b.window_start);
  f.Write(g + "/window_length", b.window_length);
  f.Write(g + "/actions", b.actions, {E, L});
  if (K > 0) f.Write(g + "/topk", b.ranked, {E, L, K});
  f.Write(g + "/engagement", b.engagement, {E, L});
  f.Write(g + "/rating", b.rating, {E, L});
  f.Write(g + "/valence", b.valence, {E, L});
  f.Write(g + "/arousal", b.arousal, {E, L});
  f.Write(g + "/reward", b.reward, {E, L});
  if (!b.disagreement.empty()) f.Write(g + "/disagreement", b.disagreement, {E, L});
  if (!b.oracle_error.empty()) f.Write(g + "/oracle_error", b.oracle_error, {E, L});
  if (!b.oracle_feedback.empty()) f.Write(g + "/oracle_feedback", b.oracle_feedback, {E, L, 4});
}

}  // namespace amrs::env
