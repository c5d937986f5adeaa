// The history transforms of a scenario and the env options they become (scenario.h).
#include <algorithm>
#include <cmath>

#include "amrs/core/error.h"
#include "amrs/core/rng.h"
#include "amrs/scenarios/scenario.h"

namespace amrs::scenarios {

HistoryTransform KeepLast(std::int32_t k) {
  if (k < 1) throw ArgumentError("history transform keep_last: k must be at least 1, got " + std::to_string(k));
  return [k](History& h, std::uint64_t) {
    if (static_cast<std::int32_t>(h.size()) > k) h.erase(h.begin(), h.end() - k);
  };
}

HistoryTransform DropSignals(bool engagement, bool rating, bool affect) {
  return [=](History& h, std::uint64_t) {
    for (auto& t : h) {
      if (engagement && !t.IsBoundary()) t.has_engagement = false, t.engagement = 0.f;
      if (rating) t.has_rating = false, t.rating = 0.f;
      if (affect) t.has_affect = false, t.valence = 0.f, t.arousal = 0.f;
    }
  };
}

HistoryTransform SetSession(std::optional<float> v, std::optional<float> a, std::optional<SessionMode> mode) {
  for (auto x : {v, a})
    if (x && (!std::isfinite(*x) || *x < 0.f || *x > 1.f))
      throw ArgumentError("history transform: pre-session values must be in [0, 1]");
  return [=](History& h, std::uint64_t) {
    auto it = std::find_if(h.rbegin(), h.rend(), [](const Token& t) { return t.IsBoundary(); });
    std::size_t b;
    if (it == h.rend()) {
      const SessionMode m = h.empty() ? SessionMode::kNone : h.front().mode;
      h.insert(h.begin(), Token::Boundary(0.5f, 0.5f, m, false));
      b = 0;
    } else {
      b = static_cast<std::size_t>(h.rend() - it - 1);
    }
    Token& boundary = h[b];
    if (v || a) {
      if (!boundary.has_affect) boundary.valence = boundary.arousal = 0.5f;
      if (v) boundary.valence = *v;
      if (a) boundary.arousal = *a;
      boundary.has_affect = true;
    }
    if (mode)
      for (std::size_t i = b; i < h.size(); ++i) h[i].mode = *mode;
  };
}

HistoryTransform DislikeStreak(std::int32_t n, float engagement, std::int32_t num_songs) {
  if (n < 0 || num_songs < 1 || !(engagement >= 0.f && engagement <= 1.f))
    throw ArgumentError("history transform dislike_streak: needs n >= 0, songs >= 1 and engagement in [0, 1]");
  return [=](History& h, std::uint64_t seed) {
    Rng rng(seed, "dislike-streak");
    const SessionMode mode = h.empty() ? SessionMode::kNone : h.back().mode;
    Feedback fb;
    fb.engagement = engagement;
    fb.rating = 0.f;
    for (std::int32_t i = 0; i < n; ++i) {
      const auto song = static_cast<std::int32_t>(rng.UniformInt(static_cast<std::uint64_t>(num_songs)));
      h.push_back(Token::Song(song, fb, /*has_rating=*/true, /*has_affect=*/false, mode));
    }
  };
}

HistoryTransform Compose(std::vector<HistoryTransform> ts) {
  ts.erase(std::remove_if(ts.begin(), ts.end(), [](const HistoryTransform& t) { return !t; }), ts.end());
  if (ts.empty()) return {};
  if (ts.size() == 1) return ts.front();
  return [ts = std::move(ts)](History& h, std::uint64_t seed) {
    for (const auto& t : ts) t(h, seed);
  };
}

env::ResetOptions MakeResetOptions(const Scenario& s, std::int32_t num_songs) {
  env::ResetOptions o;
  o.no_replay = s.no_replay;
  o.part = s.part;
  o.utility = s.utility;
  const auto& h = s.history;
  std::vector<HistoryTransform> ts;
  if (h.keep_last > 0) ts.push_back(KeepLast(h.keep_last));
  if (h.drop_engagement || h.drop_rating || h.drop_affect)
    ts.push_back(DropSignals(h.drop_engagement, h.drop_rating, h.drop_affect));
  if (h.new_session) {
    o.new_session = true;
    o.pre_valence = h.pre_valence;
    o.pre_arousal = h.pre_arousal;
    o.mode = h.mode;
  } else if (h.pre_valence || h.pre_arousal || h.mode) {
    ts.push_back(SetSession(h.pre_valence, h.pre_arousal, h.mode));
  }
  if (h.dislike_streak > 0) ts.push_back(DislikeStreak(h.dislike_streak, h.dislike_engagement, num_songs));
  o.transform = Compose(std::move(ts));
  return o;
}

}  // namespace amrs::scenarios
