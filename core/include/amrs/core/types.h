// Value types shared by every module: feedback, tokens, histories, catalogues, utility weights.
// Plain data, no torch and no HDF5; safe to copy and to share read-only between threads.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace amrs {

// Functional-listening mode of a session (paper section 1). kNone when the log has no mode.
enum class SessionMode : std::int8_t { kNone = -1, kEnergize = 0, kFocus = 1, kCalm = 2, kSleep = 3 };
constexpr int kNumModes = 4;
std::string_view ModeName(SessionMode mode);  // "none", "energize", ...
// Parses "energize" | "focus" | "calm" | "sleep" | "none" | "" (none); throws ArgumentError.
SessionMode ParseMode(std::string_view name);

// The four feedback signals of paper section 3.1. Rating is a probability of "like" when
// predicted, and 0/1 when observed.
struct Feedback {
  float engagement = 0.f;  // fraction of the song played, [0, 1]
  float rating = 0.f;      // P(like) or observed 0/1
  float valence = 0.f;     // valence reported after this song (per-song report, or post-session
                           // if the session ended after it); predicted: the expected report, [0, 1]
  float arousal = 0.f;     // arousal likewise, [0, 1]
};

// One element of a user's history token sequence (paper section 3.2).
//  - A session-boundary token opens each session. It carries the pre-session valence/arousal
//    report (has_affect) and the session mode; song = -1; it is never a prediction target.
//  - A song token carries the catalogue index of the song, its engagement, its optional rating
//    and, where a report exists, valence/arousal (has_affect): those values are that token's
//    affect *targets*. The report is the song's own per-song report when the log has one, else,
//    on the last song of a session, the post-session report (data/tokens.h: the per-song report
//    wins when both exist).
struct Token {
  enum class Kind : std::uint8_t { kBoundary = 0, kSong = 1 };
  Kind kind = Kind::kSong;
  std::int32_t song = -1;  // catalogue index for song tokens, -1 for boundaries
  float engagement = 0.f;
  float rating = 0.f;   // 0 or 1 when has_rating
  float valence = 0.f;  // pre-session (boundary), per-song or post-session (song) report
  float arousal = 0.f;
  bool has_engagement = false;
  bool has_rating = false;
  bool has_affect = false;
  SessionMode mode = SessionMode::kNone;  // the session's mode (boundary and song tokens)

  bool IsBoundary() const { return kind == Kind::kBoundary; }
  static Token Boundary(float pre_valence, float pre_arousal, SessionMode mode,
                        bool has_affect = true);
  static Token Song(std::int32_t song, const Feedback& fb, bool has_rating, bool has_affect,
                    SessionMode mode);
};

using History = std::vector<Token>;

// Utility weights of eq. 3: R = l_r r + l_e e + l_v v + l_a a, each weight in [-1, 1].
// The default is the paper's affect-only weighting.
struct Utility {
  float rating = 0.f;
  float engagement = 0.f;
  float valence = 0.5f;
  float arousal = 0.5f;

  // Pessimism under an uncertain world (docs/ensembles.md): lambda >= 0 of the penalized reward.
  float penalty = 0.f;

  float operator()(const Feedback& f) const {
    return rating * f.rating + engagement * f.engagement + valence * f.valence +
           arousal * f.arousal;
  }
  // The utility-weighted disagreement of a world's per-signal spread `sd` (an ensemble's members'
  // SD): |w_rating| sd_rating + |w_engagement| sd_engagement + |w_valence| sd_valence +
  // |w_arousal| sd_arousal (docs/ensembles.md).
  float Disagreement(const Feedback& sd) const;
  // The penalized reward: utility of the mean prediction minus penalty x Disagreement(sd).
  float Penalized(const Feedback& mean, const Feedback& sd) const { return (*this)(mean) - penalty * Disagreement(sd); }
  // Throws ArgumentError naming the weight that is outside [-1, 1] or not finite, or a penalty
  // outside [0, 100].
  void Validate() const;
  // "valence=0.5,arousal=0.5" (unnamed weights are 0; keys rating, engagement, valence,
  // arousal, penalty); "affect" is the paper's default. Throws ArgumentError naming a bad key or value.
  static Utility Parse(const std::string& spec);
  // The weights; ",penalty=<lambda>" follows only when the penalty is not 0.
  std::string ToString() const;
};

// Song ids plus one embedding family, row-major (size() x dim()). Immutable once built.
struct Catalogue {
  std::vector<std::int64_t> song_ids;
  std::string family;          // e.g. "mert"
  std::int32_t dim = 0;
  std::vector<float> embedding;  // size() * dim

  std::int32_t size() const { return static_cast<std::int32_t>(song_ids.size()); }
  const float* Row(std::int32_t i) const { return embedding.data() + std::size_t(i) * dim; }
};

}  // namespace amrs
