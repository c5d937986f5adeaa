#include "amrs/data/checks.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <ostream>
#include <sstream>

#include "amrs/core/error.h"

namespace amrs::data {

double SignalCounts::Mean(int s) const {
  return n[s] > 0 ? sum[s] / static_cast<double>(n[s]) : std::numeric_limits<double>::quiet_NaN();
}

double SignalCounts::Variance(int s) const {
  const double mean = Mean(s);
  return sum_sq[s] / static_cast<double>(n[s]) - mean * mean;
}

SignalCounts CountSignals(const TokenView& view, const std::vector<std::int32_t>& users) {
  SignalCounts c;
  for (auto u : users) {
    ++c.users;
    for (const Token& t : view.User(u)) {
      if (t.IsBoundary()) continue;
      ++c.song_tokens;
      const float v[kCheckedSignals] = {t.engagement, t.rating, t.valence, t.arousal};
      const bool m[kCheckedSignals] = {t.has_engagement, t.has_rating, t.has_affect, t.has_affect};
      for (int s = 0; s < kCheckedSignals; ++s)
        if (m[s]) c.sum[s] += v[s], c.sum_sq[s] += double(v[s]) * v[s], c.n[s] += 1;
      if (t.has_rating) ++(t.rating > 0.5f ? c.likes : c.dislikes);
    }
  }
  return c;
}

std::string UnusableReason(const SignalCounts& c, int s) {
  const auto count = [](std::int64_t n, const char* what) { return std::to_string(n) + " " + what; };
  switch (s) {
    case 1:
      if (c.n[1] == 0) return "no ratings";
      if (c.likes < kMinRatingsPerClass || c.dislikes < kMinRatingsPerClass)
        return "ratings of one class (" + count(c.likes, "likes") + ", " + count(c.dislikes, "dislikes") + ")";
      return "";
    case 0:
    case 2:
    case 3: {
      if (c.n[s] == 0) return s == 0 ? "no engagement" : "no affect reports";
      const double var = c.Variance(s);
      if (var <= kMinTargetVariance) {
        std::ostringstream os;
        os << "constant " << kCheckedSignalNames[s] << " (variance " << std::max(0.0, var) << " over " << c.n[s]
           << (s == 0 ? " interactions)" : " affect reports)");
        return os.str();
      }
      return "";
    }
    default:
      throw ArgumentError("UnusableReason: no signal " + std::to_string(s));
  }
}

const char* SeverityName(Severity s) { return s == Severity::kError ? "error" : "warning"; }

namespace {

std::string Where(std::int32_t split, Part part) {
  return "split " + std::to_string(split) + " " + PartName(part);
}

void CheckPart(const Dataset& d, const TokenView& view, std::int32_t k, Part part, std::vector<Finding>& out) {
  const SignalCounts c = CountSignals(view, Users(d.splits[static_cast<std::size_t>(k)], part));
  const std::string where = Where(k, part);
  const auto add = [&](Severity sev, const std::string& signal, std::int64_t count, std::int64_t threshold,
                       const std::string& message) {
    out.push_back({sev, signal, k, part, count, threshold, signal + ": " + where + ": " + message});
  };
  if (c.users < kMinUsersPerPart)
    add(Severity::kError, "users", c.users, kMinUsersPerPart,
        std::to_string(c.users) + " user(s), need at least " + std::to_string(kMinUsersPerPart) +
            " (make fewer splits of more users, or import more users)");
  if (part == Part::kTest && c.song_tokens < kMinTestInteractions)
    add(Severity::kError, "test interactions", c.song_tokens, kMinTestInteractions,
        std::to_string(c.song_tokens) + " interactions, need at least " + std::to_string(kMinTestInteractions) +
            " to score a model");
  const bool train = part == Part::kTrain;
  const auto consequence = [&](const std::string& what) {
    return train ? "; world-model training skips " + what + " (loss weight 0)"
                 : "; " + what + ": scored n/a on these users";
  };
  int unusable = 0;
  for (int s = 0; s < kCheckedSignals; ++s) {
    const std::string reason = UnusableReason(c, s);
    if (reason.empty()) continue;
    ++unusable;
    if (s == 3 && c.n[s] == 0) continue;  // one "affect" finding for valence and arousal
    const std::string signal = (s >= 2 && c.n[s] == 0) ? "affect" : kCheckedSignalNames[s];
    const std::int64_t count = s == 1 ? std::min(c.likes, c.dislikes) : c.n[s];
    const std::int64_t threshold = s == 1 ? kMinRatingsPerClass : (c.n[s] == 0 ? 1 : 0);
    add(Severity::kWarning, signal, count, threshold,
        reason + " in " + std::to_string(c.song_tokens) + " interactions" +
            consequence(signal == "affect" ? "valence and arousal" : kCheckedSignalNames[s]));
  }
  if (c.n[2] > 0 && c.n[2] < kMinAffectReports)
    add(Severity::kWarning, "affect", c.n[2], kMinAffectReports,
        std::to_string(c.n[2]) + " affect reports (post-session or per-song), fewer than " +
            std::to_string(kMinAffectReports) + ": valence and arousal " +
            (train ? "are learned from very little" : "scores are noisy"));
  if (train && unusable == kCheckedSignals)
    add(Severity::kError, "signals", 0, 1, "no signal can be learned (every signal is unusable): nothing to train");
}

}  // namespace

std::vector<Finding> CheckData(const Dataset& d, const CheckOptions& o) {
  std::vector<Finding> out;
  if (o.song_components > d.num_songs())
    out.push_back({Severity::kWarning, "song components", -1, std::nullopt, o.song_components, d.num_songs(),
                   "song components: " + std::to_string(o.song_components) + " requested but the catalogue has " +
                       std::to_string(d.num_songs()) +
                       " songs: at most num_songs - 1 principal components carry information "
                       "(lower --song-components)"});
  if (d.splits.empty()) {
    out.push_back({Severity::kError, "splits", -1, std::nullopt, 0, 1,
                   "splits: the dataset has no MCCV splits (run `amrs split`)"});
    return out;
  }
  std::vector<std::int32_t> splits = o.splits;
  if (splits.empty())
    for (std::int32_t k = 0; k < static_cast<std::int32_t>(d.splits.size()); ++k) splits.push_back(k);
  for (auto k : splits)
    if (k < 0 || k >= static_cast<std::int32_t>(d.splits.size()))
      throw ArgumentError("split " + std::to_string(k) + " does not exist (the dataset has " +
                          std::to_string(d.splits.size()) + ")");
  const TokenView view(d);
  for (auto k : splits)
    for (Part p : {Part::kTrain, Part::kVal, Part::kTest}) CheckPart(d, view, k, p, out);
  return out;
}

std::string FormatFindings(const std::vector<Finding>& findings) {
  std::ostringstream os;
  os << "Data checks\n";
  if (findings.empty()) os << "  every check passed\n";
  for (const auto& f : findings) os << "  " << SeverityName(f.severity) << ": " << f.message << "\n";
  return os.str();
}

void RequireChecks(const std::vector<Finding>& findings, const std::string& command, std::ostream* warnings) {
  std::string errors;
  for (const auto& f : findings) {
    if (f.severity == Severity::kError) {
      errors += (errors.empty() ? "" : "; ") + f.message;
    } else if (warnings) {
      *warnings << command << ": warning: " << f.message << "\n";
    }
  }
  if (!errors.empty()) throw InputError(command + ": data checks failed: " + errors);
}

}  // namespace amrs::data
