#include "amrs/data/tokens.h"

#include <algorithm>

namespace amrs::data {

History UserHistory(const Dataset& d, const UserIndex& index, std::int32_t user) {
  History h;
  const auto& s = d.sessions;
  const auto& it = d.interactions;
  h.reserve(static_cast<std::size_t>(index.session_end[user] - index.session_begin[user] +
                                     index.interaction_end[user] - index.interaction_begin[user]));
  for (std::int32_t k = index.session_begin[user]; k < index.session_end[user]; ++k) {
    const auto mode = static_cast<SessionMode>(s.mode[k]);
    h.push_back(Token::Boundary(s.pre_valence[k], s.pre_arousal[k], mode));
    const auto b = index.session_interaction_begin[k], e = index.session_interaction_end[k];
    for (std::int32_t i = b; i < e; ++i) {
      Feedback fb{it.engagement[i], static_cast<float>(it.rating[i]), 0.f, 0.f};
      bool affect = false;
      if (it.has_song_affect() && it.has_affect[i]) {  // the per-song report wins
        fb.valence = it.valence[i], fb.arousal = it.arousal[i], affect = true;
      } else if (i + 1 == e && s.has_post[k]) {
        fb.valence = s.post_valence[k], fb.arousal = s.post_arousal[k], affect = true;
      }
      h.push_back(Token::Song(it.song[i], fb, it.has_rating[i] != 0, affect, mode));
    }
  }
  return h;
}

TokenView::TokenView(const Dataset& d) {
  const UserIndex index(d);
  histories_.resize(static_cast<std::size_t>(d.num_users()));
  for (std::int32_t u = 0; u < d.num_users(); ++u) histories_[u] = UserHistory(d, index, u);
}

std::int64_t TokenView::TotalTokens() const {
  std::int64_t n = 0;
  for (const auto& h : histories_) n += static_cast<std::int64_t>(h.size());
  return n;
}

void FeedbackFeatures(const Token& t, bool zero_feedback, float* o) {
  std::fill(o, o + kFeedbackFeatures, 0.f);
  if (zero_feedback) return;
  if (t.has_engagement) o[0] = t.engagement, o[4] = 1.f;
  if (t.has_rating) o[1] = t.rating, o[5] = 1.f;
  if (t.has_affect) o[2] = t.valence, o[3] = t.arousal, o[6] = 1.f;
}

void TypeFeatures(const Token& t, float* o) {
  std::fill(o, o + kTypeFeatures, 0.f);
  o[t.IsBoundary() ? 0 : 1] = 1.f;
  o[2 + (static_cast<int>(t.mode) + 1)] = 1.f;
}

}  // namespace amrs::data
