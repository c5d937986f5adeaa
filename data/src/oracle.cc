#include "amrs/data/oracle.h"

#include <boost/math/distributions/normal.hpp>
#include <algorithm>
#include <cmath>

#include "amrs/core/error.h"
#include "amrs/data/dataset.h"
#include "amrs/data/tokens.h"

namespace amrs::data {
namespace {

const boost::math::normal_distribution<double> kStdNormal(0.0, 1.0);

double Phi(double x) { return boost::math::cdf(kStdNormal, x); }
double PhiDensity(double x) { return boost::math::pdf(kStdNormal, x); }

// E[clip(X, 0, 1)] for X ~ N(m, s^2).
double ExpectedClipped(double m, double s) {
  if (s <= 0) return std::clamp(m, 0.0, 1.0);
  const double a = (0.0 - m) / s, b = (1.0 - m) / s;
  return m * (Phi(b) - Phi(a)) + s * (PhiDensity(a) - PhiDensity(b)) + (1.0 - Phi(b));
}

}  // namespace

float OracleParams::MoodSd() const {
  return mood_drift_sd / std::sqrt(std::max(1e-6f, 1.f - mood_phi * mood_phi));
}

Oracle::Oracle(std::shared_ptr<const OracleParams> params) : p_(std::move(params)) {
  if (!p_) throw ArgumentError("Oracle needs parameters");
  skip_mean_ = p_->skip_a / (p_->skip_a + p_->skip_b);
  partial_mean_ = p_->partial_a / (p_->partial_a + p_->partial_b);
}

OracleState Oracle::Start(std::int32_t user) const {
  if (user < 0 || user >= p_->num_users())
    throw ArgumentError("oracle: user index " + std::to_string(user) + " is out of range [0, " +
                        std::to_string(p_->num_users()) + ")");
  OracleState s;
  s.user = user;
  s.valence = p_->user_mood_valence[user];
  s.arousal = p_->user_mood_arousal[user];
  return s;
}

std::pair<float, float> Oracle::StartAffect(std::int32_t user, float pre_v, float pre_a) const {
  // Posterior mean of the mood given the report, with the stationary mood prior.
  const float m2 = p_->MoodSd() * p_->MoodSd();
  const float w = m2 / (m2 + p_->pre_report_sd * p_->pre_report_sd);
  const float bv = p_->user_mood_valence[user], ba = p_->user_mood_arousal[user];
  return {bv + w * (pre_v - bv), ba + w * (pre_a - ba)};
}

float Oracle::Liking(const OracleState& s, std::int32_t song) const {
  const auto& p = *p_;
  if (song < 0 || song >= p.num_songs())
    throw ArgumentError("oracle: song index " + std::to_string(song) + " is out of range [0, " +
                        std::to_string(p.num_songs()) + ")");
  const std::size_t d = static_cast<std::size_t>(p.style_dim);
  const float* t = p.user_taste.data() + static_cast<std::size_t>(s.user) * d;
  const float* st = p.song_style.data() + static_cast<std::size_t>(song) * d;
  float cos = 0.f;
  for (std::size_t k = 0; k < d; ++k) cos += t[k] * st[k];
  float tv = p.user_mood_valence[s.user], ta = p.user_mood_arousal[s.user];
  if (s.mode != SessionMode::kNone) {
    tv = p.mode_target[static_cast<int>(s.mode)][0];
    ta = p.mode_target[static_cast<int>(s.mode)][1];
  }
  const float dv = p.song_valence[song] - tv, da = p.song_arousal[song] - ta;
  const float fit = 1.f - 2.f * std::sqrt(dv * dv + da * da);
  const auto repeats = std::count(s.recent.begin(), s.recent.end(), song);
  return p.like_intercept + p.user_bias[s.user] + p.like_taste * cos +
         p.like_quality * p.song_quality[song] + p.like_fit * fit -
         p.like_fatigue * static_cast<float>(s.position) -
         p.like_repeat * static_cast<float>(repeats);
}

float Oracle::ExpectedEngagement(float mu) const {
  const double play = Phi(mu);
  return static_cast<float>((1.0 - play) * skip_mean_ +
                            play * (p_->full_play + (1.0 - p_->full_play) * partial_mean_));
}

float Oracle::LikeProbability(float mu) const {
  return static_cast<float>(
      Phi((mu - p_->like_threshold) / std::sqrt(1.0 + p_->like_noise_sd * p_->like_noise_sd)));
}

std::pair<float, float> Oracle::StepAffect(const OracleState& s, std::int32_t song,
                                           float e) const {
  const auto& p = *p_;
  const float rho = p.user_responsiveness[s.user];
  const float v = s.valence + rho * (p.eta_v * (p.song_valence[song] - s.valence) +
                                     p.kappa_v * (e - 0.5f));
  const float a = s.arousal + rho * (p.eta_a * (p.song_arousal[song] - s.arousal) +
                                     p.kappa_a * (e - 0.5f));
  return {std::clamp(v, 0.f, 1.f), std::clamp(a, 0.f, 1.f)};
}

void Oracle::Append(OracleState& s, const Token& t) const {
  if (t.IsBoundary()) {
    if (t.has_affect) {
      auto [v, a] = StartAffect(s.user, t.valence, t.arousal);
      s.valence = v, s.arousal = a;
    } else {
      s.valence = p_->user_mood_valence[s.user];
      s.arousal = p_->user_mood_arousal[s.user];
    }
    s.position = 0;
    s.session_tokens = 0;
    s.mode = t.mode;
    return;
  }
  if (s.mode == SessionMode::kNone) s.mode = t.mode;
  const float e = t.has_engagement ? t.engagement : ExpectedEngagement(Liking(s, t.song));
  auto [v, a] = StepAffect(s, t.song, e);
  s.valence = v, s.arousal = a;
  ++s.position;
  ++s.session_tokens;
  s.recent.push_back(t.song);
  if (static_cast<std::int32_t>(s.recent.size()) > p_->repeat_window) s.recent.erase(s.recent.begin());
}

OracleState Oracle::Encode(std::int32_t user, const History& h) const {
  OracleState s = Start(user);
  for (const auto& t : h) Append(s, t);
  return s;
}

Feedback Oracle::Predict(const OracleState& s, std::int32_t song) const {
  const float mu = Liking(s, song);
  Feedback f;
  f.engagement = ExpectedEngagement(mu);
  f.rating = LikeProbability(mu);
  auto [v, a] = StepAffect(s, song, f.engagement);
  // The report adds noise around the (uncertain) state and is clipped to [0, 1].
  const double m2 = p_->MoodSd() * p_->MoodSd(), r2 = p_->pre_report_sd * p_->pre_report_sd;
  const double var = p_->post_report_sd * p_->post_report_sd + m2 * r2 / (m2 + r2) +
                     (s.session_tokens + 1) * p_->process_sd * p_->process_sd;
  f.valence = static_cast<float>(ExpectedClipped(v, std::sqrt(var)));
  f.arousal = static_cast<float>(ExpectedClipped(a, std::sqrt(var)));
  return f;
}

Ceiling EvaluateOracle(const Dataset& d, const std::vector<std::int32_t>& users_in) {
  if (!d.oracle) throw InputError("dataset has no oracle (only synthetic data has ground truth)");
  const Oracle oracle(d.oracle);
  const UserIndex index(d);
  std::vector<std::int32_t> users = users_in;
  if (users.empty())
    for (std::int32_t u = 0; u < d.num_users(); ++u) users.push_back(u);
  std::vector<History> histories;
  std::vector<std::vector<Feedback>> predictions;
  for (auto u : users) {
    histories.push_back(UserHistory(d, index, u));
    auto& pred = predictions.emplace_back(histories.back().size());
    OracleState s = oracle.Start(u);
    for (std::size_t i = 0; i < histories.back().size(); ++i) {
      const Token& t = histories.back()[i];
      if (!t.IsBoundary()) pred[i] = oracle.Predict(s, t.song);
      oracle.Append(s, t);
    }
  }
  return ScoreFeedback(histories, predictions);
}

}  // namespace amrs::data
