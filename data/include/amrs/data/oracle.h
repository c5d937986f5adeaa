// Ground truth of the synthetic listener population (docs/synthetic.md). The generator samples
// logs from this model; the Oracle answers, for any user and history, the expected feedback of
// any candidate song: the same question the world model answers, so it serves as the "true
// world" behind the env and as the ceiling against which the world model is judged.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "amrs/core/types.h"
#include "amrs/core/signal_scores.h"

namespace amrs::data {

struct Dataset;

// Every parameter of the generative model. Saved with the dataset (group /oracle).
struct OracleParams {
  // --- scalar model constants ---
  std::int32_t num_genres = 12;
  std::int32_t style_dim = 16;
  // Liking score mu = intercept + user_bias + taste*cos(taste, style) + quality*q
  //                   + fit*(1 - 2*dist(song affect, target)) - fatigue*position
  //                   - repeat*plays of the song in the last repeat_window song tokens.
  float like_intercept = 0.5f;
  float like_taste = 1.9f;
  float like_quality = 0.6f;
  float like_fit = 0.6f;
  float like_fatigue = 0.05f;
  float like_repeat = 0.8f;
  std::int32_t repeat_window = 30;
  // Engagement: y = mu + N(0,1); skip if y < 0 with e ~ Beta(skip_a, skip_b); otherwise a full
  // play (e = 1) with probability full_play, else e ~ Beta(partial_a, partial_b).
  float skip_a = 1.2f, skip_b = 7.f;
  float full_play = 0.7f;
  float partial_a = 6.f, partial_b = 2.f;
  // Rating: rated with probability rate_prob; like iff y + N(0, like_noise_sd) > like_threshold.
  float rate_prob = 0.337f;
  float like_threshold = -0.77f;
  float like_noise_sd = 0.7f;
  // Affect dynamics per song: v += rho*(eta_v*(song_v - v) + kappa_v*(e - 0.5)) + N(0, process_sd)
  float eta_v = 0.25f, eta_a = 0.3f;
  float kappa_v = 0.12f, kappa_a = 0.05f;
  float process_sd = 0.02f;
  // Reports: pre = clip(mood + N(0, pre_report_sd)), post = clip(state + N(0, post_report_sd)).
  float pre_report_sd = 0.04f;
  float post_report_sd = 0.08f;
  // Mood between sessions: AR(1) around the user's baseline.
  float mood_phi = 0.6f;
  float mood_drift_sd = 0.1f;
  float post_report_prob = 0.606f;
  // Mode targets (valence, arousal) for energize, focus, calm, sleep.
  std::array<std::array<float, 2>, kNumModes> mode_target{
      {{0.75f, 0.80f}, {0.60f, 0.50f}, {0.65f, 0.30f}, {0.50f, 0.15f}}};

  // --- per song ---
  std::vector<std::int32_t> song_genre;
  std::vector<float> song_style;  // num_songs x style_dim, unit rows
  std::vector<float> song_valence, song_arousal, song_quality;
  std::vector<std::uint8_t> song_tagged;  // in the production policy's pool
  std::vector<float> tag_valence, tag_arousal;  // the production policy's global affect tags

  // --- per user ---
  std::vector<float> user_taste;  // num_users x style_dim, unit rows
  std::vector<float> user_bias, user_mood_valence, user_mood_arousal, user_responsiveness;

  std::int32_t num_songs() const { return static_cast<std::int32_t>(song_genre.size()); }
  std::int32_t num_users() const { return static_cast<std::int32_t>(user_bias.size()); }
  float MoodSd() const;  // stationary SD of the mood process
};

// Checks every constant and per-entity array for finiteness and range (docs/data-format.md,
// group /oracle): coefficients finite; SDs, repeat_window >= 0; Beta shapes > 0; probabilities,
// affect values and mode targets in [0, 1]; |mood_phi| < 1; genres in range; flags 0 or 1; per-song
// and per-user arrays of consistent lengths. Throws InputError "<source>: oracle/<field>[ row i]:
// <what>" for the first problem.
void ValidateOracleParams(const OracleParams& p, const std::string& source);

// The oracle's summary of a history: what it needs to predict the next song's feedback.
struct OracleState {
  std::int32_t user = 0;
  float valence = 0.5f, arousal = 0.5f;  // expected current affect state
  std::int32_t position = 0;             // songs played so far in the current session
  std::int32_t session_tokens = 0;       // tokens since the last boundary (for variance)
  SessionMode mode = SessionMode::kNone;
  std::vector<std::int32_t> recent;      // last repeat_window songs, oldest first
};

// Stateless and immutable: safe for concurrent use from several threads.
class Oracle {
 public:
  explicit Oracle(std::shared_ptr<const OracleParams> params);

  const OracleParams& params() const { return *p_; }
  // State at the start of a user's history, before any token.
  OracleState Start(std::int32_t user) const;
  // Advances the state by one observed token (boundary or song).
  void Append(OracleState& s, const Token& t) const;
  OracleState Encode(std::int32_t user, const History& h) const;
  // Expected feedback of `song` played next: E[engagement], P(like | rated), and the expected
  // post-session valence/arousal report if the session ended after it.
  Feedback Predict(const OracleState& s, std::int32_t song) const;
  // Predict for every song of the catalogue at once: out[song], num_songs() values. The same
  // numbers as Predict song by song, computed over the songs in structure-of-arrays loops with
  // what depends only on the state computed once (the catalogue scoring of greedy agents and
  // guardrails under the oracle).
  void PredictCatalogue(const OracleState& s, Feedback* out) const;
  // The deterministic liking score mu (exposed for tests and the generator).
  float Liking(const OracleState& s, std::int32_t song) const;
  // Expected affect state after playing `song` with engagement e (no noise, no report).
  std::pair<float, float> StepAffect(const OracleState& s, std::int32_t song, float e) const;
  // Posterior mean of the true mood given a pre-session report.
  std::pair<float, float> StartAffect(std::int32_t user, float pre_v, float pre_a) const;
  float ExpectedEngagement(float mu) const;
  float LikeProbability(float mu) const;

 private:
  // Feedback of n songs (songs[i], or i when songs is null) from their liking scores mu.
  void FromLiking(const OracleState& s, const float* mu, std::size_t n, double report_sd, Feedback* out,
                  const std::int32_t* songs) const;
  double ReportSd(const OracleState& s) const;
  std::shared_ptr<const OracleParams> p_;
  float skip_mean_, partial_mean_;
  std::vector<float> style_t_;  // song_style transposed: style_dim x num_songs
};

// Seconds to compute the normal CDFs and densities the oracle needs for `songs` predictions (six
// CDFs and four densities a song, through the same vector-math calls as PredictCatalogue): the
// bound of its catalogue scoring, for `amrs bench`.
double OracleTranscendentalSeconds(std::int64_t songs);

// The oracle's own fit to the logged observations it generated: the achievable ceiling, in the
// same form as any world model's scores (scored by the same ScoreFeedback).
using Ceiling = SignalScores;

// Replays each listed user's logged history through the oracle and scores its predictions
// against the observations (all users when `users` is empty). Throws InputError if the dataset
// has no oracle.
Ceiling EvaluateOracle(const Dataset& d, const std::vector<std::int32_t>& users = {});

}  // namespace amrs::data
