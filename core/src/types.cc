#include "amrs/core/types.h"

#include <cmath>
#include <cstdio>

#include "amrs/core/error.h"

namespace amrs {

std::string_view ModeName(SessionMode mode) {
  switch (mode) {
    case SessionMode::kEnergize: return "energize";
    case SessionMode::kFocus: return "focus";
    case SessionMode::kCalm: return "calm";
    case SessionMode::kSleep: return "sleep";
    case SessionMode::kNone: break;
  }
  return "none";
}

SessionMode ParseMode(std::string_view name) {
  if (name.empty() || name == "none") return SessionMode::kNone;
  if (name == "energize") return SessionMode::kEnergize;
  if (name == "focus") return SessionMode::kFocus;
  if (name == "calm") return SessionMode::kCalm;
  if (name == "sleep") return SessionMode::kSleep;
  throw ArgumentError("unknown session mode '" + std::string(name) +
                      "' (known: energize, focus, calm, sleep, none)");
}

Token Token::Boundary(float pre_valence, float pre_arousal, SessionMode mode, bool has_affect) {
  Token t;
  t.kind = Kind::kBoundary;
  t.song = -1;
  t.valence = has_affect ? pre_valence : 0.f;
  t.arousal = has_affect ? pre_arousal : 0.f;
  t.has_affect = has_affect;
  t.mode = mode;
  return t;
}

Token Token::Song(std::int32_t song, const Feedback& fb, bool has_rating, bool has_affect,
                  SessionMode mode) {
  Token t;
  t.kind = Kind::kSong;
  t.song = song;
  t.engagement = fb.engagement;
  t.has_engagement = true;
  t.rating = has_rating ? fb.rating : 0.f;
  t.has_rating = has_rating;
  t.valence = has_affect ? fb.valence : 0.f;
  t.arousal = has_affect ? fb.arousal : 0.f;
  t.has_affect = has_affect;
  t.mode = mode;
  return t;
}

void Utility::Validate() const {
  const std::pair<const char*, float> w[] = {
      {"rating", rating}, {"engagement", engagement}, {"valence", valence}, {"arousal", arousal}};
  for (const auto& [name, v] : w) {
    if (!std::isfinite(v) || v < -1.f || v > 1.f)
      throw ArgumentError(std::string("utility weight '") + name + "' = " + std::to_string(v) +
                          " is outside [-1, 1]");
  }
  if (!std::isfinite(penalty) || penalty < 0.f || penalty > 100.f)
    throw ArgumentError("utility penalty = " + std::to_string(penalty) + " is outside [0, 100]");
}

float Utility::Disagreement(const Feedback& sd) const {
  return std::abs(rating) * sd.rating + std::abs(engagement) * sd.engagement + std::abs(valence) * sd.valence +
         std::abs(arousal) * sd.arousal;
}

Utility Utility::Parse(const std::string& spec) {
  if (spec == "affect" || spec.empty()) return Utility{};
  Utility u{0.f, 0.f, 0.f, 0.f};
  bool weights = false;  // only a penalty given: the affect weights
  std::size_t pos = 0;
  while (pos < spec.size()) {
    const auto comma = spec.find(',', pos);
    const std::string item = spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    const auto eq = item.find('=');
    if (eq == std::string::npos) throw ArgumentError("utility '" + spec + "': '" + item + "' is not KEY=VALUE");
    const std::string key = item.substr(0, eq), val = item.substr(eq + 1);
    float v = 0.f;
    try {
      std::size_t used = 0;
      v = std::stof(val, &used);
      if (used != val.size()) throw std::invalid_argument(val);
    } catch (const std::exception&) {
      throw ArgumentError("utility '" + spec + "': weight of '" + key + "' is not a number: '" + val + "'");
    }
    if (key == "rating") u.rating = v;
    else if (key == "engagement") u.engagement = v;
    else if (key == "valence") u.valence = v;
    else if (key == "arousal") u.arousal = v;
    else if (key == "penalty") u.penalty = v;
    else throw ArgumentError("utility '" + spec + "': unknown key '" + key + "' (known: rating, engagement, valence, arousal, penalty)");
    if (key != "penalty") weights = true;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  if (!weights) {
    const float lambda = u.penalty;
    u = Utility{};
    u.penalty = lambda;
  }
  u.Validate();
  return u;
}

std::string Utility::ToString() const {
  char buf[160];
  std::snprintf(buf, sizeof buf, "rating=%g,engagement=%g,valence=%g,arousal=%g", rating, engagement, valence, arousal);
  std::string out = buf;
  if (penalty != 0.f) {
    std::snprintf(buf, sizeof buf, ",penalty=%g", penalty);
    out += buf;
  }
  return out;
}

}  // namespace amrs
