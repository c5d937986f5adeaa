#include "amrs/data/summary.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <unordered_set>

#include "amrs/data/tokens.h"

namespace amrs::data {

Summary Summarize(const Dataset& d) {
  Summary s;
  s.users = d.num_users();
  s.sessions = static_cast<std::int64_t>(d.sessions.size());
  s.interactions = static_cast<std::int64_t>(d.interactions.size());
  s.catalogue = d.num_songs();
  std::vector<std::uint8_t> played(static_cast<std::size_t>(d.num_songs()), 0);
  double eng = 0;
  std::int64_t skips = 0, full = 0;
  for (std::size_t i = 0; i < d.interactions.size(); ++i) {
    played[d.interactions.song[i]] = 1;
    if (d.interactions.has_rating[i]) (d.interactions.rating[i] ? s.positive_ratings : s.negative_ratings)++;
    if (d.interactions.has_song_affect()) s.song_reports += d.interactions.has_affect[i];
    const float e = d.interactions.engagement[i];
    eng += e;
    skips += e < 0.3f;
    full += e >= 0.999f;
  }
  s.songs_played = std::count(played.begin(), played.end(), 1);
  if (s.interactions > 0) {
    s.mean_engagement = eng / s.interactions;
    s.early_skip_share = double(skips) / s.interactions;
    s.full_play_share = double(full) / s.interactions;
  }
  s.pre_reports = s.sessions;
  for (std::size_t k = 0; k < d.sessions.size(); ++k) {
    s.post_reports += d.sessions.has_post[k];
    s.sessions_with_mode += d.sessions.mode[k] >= 0;
  }
  const UserIndex index(d);
  for (std::int32_t u = 0; u < d.num_users(); ++u) {
    const std::int64_t n = (index.session_end[u] - index.session_begin[u]) +
                           (index.interaction_end[u] - index.interaction_begin[u]);
    s.tokens += n;
    s.longest_history = std::max(s.longest_history, n);
  }
  return s;
}

namespace {

// The paper's Table 1 (counts the generator's sizes reproduce exactly are not listed).
struct PaperCount {
  const char* name;
  std::int64_t Summary::*field;
  std::int64_t paper;
};
constexpr PaperCount kSampledCounts[] = {{"Unique songs played", &Summary::songs_played, 5992},
                                         {"Positive ratings", &Summary::positive_ratings, 16927},
                                         {"Negative ratings", &Summary::negative_ratings, 2561},
                                         {"Post-session valence/arousal", &Summary::post_reports, 5319}};

// The oracle ceilings' calibration bands (docs/synthetic.md).
struct Band {
  const char* name;
  double SignalScores::*field;
  double lo, hi;
};
constexpr Band kBands[] = {{"engagement R^2", &SignalScores::engagement_r2, 0.20, 0.50},
                           {"rating AUC", &SignalScores::rating_auc, 0.75, 0.90},
                           {"valence R^2", &SignalScores::valence_r2, 0.45, 0.75},
                           {"arousal R^2", &SignalScores::arousal_r2, 0.45, 0.75}};
const char* InBand(double v, double lo, double hi) { return (v >= lo && v <= hi) ? "inside" : "OUTSIDE"; }

}  // namespace

std::vector<std::string> CalibrationFailures(const Summary& s, const Ceiling& c) {
  std::vector<std::string> out;
  for (const auto& b : kBands) {
    const double v = c.*b.field;
    if (!(v >= b.lo && v <= b.hi)) {
      std::ostringstream os;
      os << std::fixed << std::setprecision(1) << "oracle " << b.name << " " << 100 * v << "% is outside its band "
         << 100 * b.lo << "-" << 100 * b.hi << "%";
      out.push_back(os.str());
    }
  }
  if (s.users == 939 && s.sessions == 8784 && s.interactions == 57822 && s.catalogue == 6988)
    for (const auto& p : kSampledCounts) {
      const double rel = (double(s.*p.field) - p.paper) / p.paper;
      if (!(std::fabs(rel) <= 0.03)) {
        std::ostringstream os;
        os << std::fixed << std::setprecision(1) << p.name << " " << s.*p.field << " differs from the paper's "
           << p.paper << " by " << 100 * rel << "% (band: within 3%)";
        out.push_back(os.str());
      }
    }
  return out;
}

std::string FormatSummary(const Dataset& d, const Summary& s, const std::optional<Ceiling>& c) {
  std::ostringstream os;
  auto row = [&](const char* name, std::int64_t v, std::int64_t paper) {
    os << "  " << std::left << std::setw(30) << name << std::right << std::setw(10) << v;
    if (paper > 0)
      os << std::setw(12) << paper << std::setw(9) << std::fixed << std::setprecision(1)
         << 100.0 * (double(v) - paper) / paper << "%";
    os << "\n";
  };
  os << "Dataset summary (Table 1 of the paper for comparison)\n";
  os << "  " << std::left << std::setw(30) << "statistic" << std::right << std::setw(10) << "count"
     << std::setw(12) << "paper" << std::setw(10) << "diff" << "\n";
  row("Unique users", s.users, 939);
  row("Unique sessions", s.sessions, 8784);
  row("User-song interactions", s.interactions, 57822);
  row("Unique songs played", s.songs_played, 5992);
  row("Song catalogue size", s.catalogue, 6988);
  row("Positive ratings", s.positive_ratings, 16927);
  row("Negative ratings", s.negative_ratings, 2561);
  row("Pre-session valence/arousal", s.pre_reports, 8784);
  row("Post-session valence/arousal", s.post_reports, 5319);
  if (d.interactions.has_song_affect()) row("Per-song valence/arousal", s.song_reports, 0);
  os << std::fixed << std::setprecision(3);
  os << "Engagement: mean " << s.mean_engagement << ", early skips (<0.3) " << s.early_skip_share
     << ", full plays " << s.full_play_share << "\n";
  os << "Sessions with a mode: " << s.sessions_with_mode << "; tokens: " << s.tokens
     << "; longest user history: " << s.longest_history << " tokens\n";
  os << "Embedding families:";
  for (const auto& f : d.families) os << " " << f.name << " (" << f.dim << "-d)";
  os << "\n";
  if (!d.splits.empty())
    os << "MCCV splits: " << d.splits.size() << " (seed " << d.split_seed << "), users per split "
       << d.splits[0].train.size() << "/" << d.splits[0].val.size() << "/" << d.splits[0].test.size()
       << " train/val/test\n";
  else
    os << "MCCV splits: none stored (run `amrs split`)\n";
  for (const auto& [k, v] : d.attributes) os << "Provenance " << k << ": " << v << "\n";
  if (c) {
    os << "Oracle ceilings (the generator's expected feedback vs the sampled observations):\n";
    const std::int64_t n[] = {c->n_engagement, c->n_rating, c->n_affect, c->n_affect};
    const double mse[] = {c->engagement_mse, 0, c->valence_mse, c->arousal_mse};
    for (std::size_t i = 0; i < std::size(kBands); ++i) {
      const auto& b = kBands[i];
      const std::string name = b.name;  // "engagement R^2": signal, then the score's name
      const auto space = name.find(' ');
      os << std::fixed << std::setprecision(1) << "  " << std::left << std::setw(11) << name.substr(0, space)
         << " " << std::setw(3) << name.substr(space + 1) << std::right << " " << std::setw(5) << 100 * (*c).*b.field
         << "%";
      if (i != 1) os << "  MSE " << std::setprecision(4) << mse[i] << std::setprecision(1);
      os << "  (band " << std::setprecision(0) << 100 * b.lo << "-" << 100 * b.hi
         << "%: " << InBand((*c).*b.field, b.lo, b.hi) << ", n=" << n[i] << ")\n";
    }
  }
  return os.str();
}

}  // namespace amrs::data
