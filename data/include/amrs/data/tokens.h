// The token view of paper section 3.2: one shared implementation used by the world model,
// the policies and the env.
#pragma once

#include <cstdint>
#include <vector>

#include "amrs/core/types.h"
#include "amrs/data/dataset.h"

namespace amrs::data {

// A user's whole logged history as tokens: for each session a boundary token carrying the
// pre-session valence/arousal and the mode, then one song token per interaction with its
// engagement, optional rating and presence masks. Affect targets (has_affect) of song tokens:
//  - a per-song report (Interactions::has_affect) is that song token's valence/arousal;
//  - the post-session valence/arousal, where reported, is attached to the last song token of its
//    session, unless that song has its own per-song report: then the per-song report wins and
//    the post-session report is not used by the token view (both describe the listener's state
//    after the last song; the per-song one is tied to the song, as on every other token).
// Song indices are catalogue indices.
History UserHistory(const Dataset& d, const UserIndex& index, std::int32_t user);

// Per-token numeric features shared by the world model and the policies: 7 feedback features
// (engagement, rating, valence, arousal, then the three presence masks) and 7 type features
// (boundary, song, then the session mode one-hot over none/energize/focus/calm/sleep).
constexpr int kFeedbackFeatures = 7;
constexpr int kTypeFeatures = 7;
constexpr int kSmallFeatures = kFeedbackFeatures + kTypeFeatures;
// Writes kFeedbackFeatures floats (all zero if zero_feedback: the "-feedback" ablation).
void FeedbackFeatures(const Token& t, bool zero_feedback, float* out);
// Writes kTypeFeatures floats.
void TypeFeatures(const Token& t, float* out);

// All users' histories, built once. Immutable: safe to share between threads.
class TokenView {
 public:
  explicit TokenView(const Dataset& d);
  std::int32_t num_users() const { return static_cast<std::int32_t>(histories_.size()); }
  const History& User(std::int32_t user) const { return histories_.at(user); }
  std::int64_t TotalTokens() const;

 private:
  std::vector<History> histories_;
};

}  // namespace amrs::data
