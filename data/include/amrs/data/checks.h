// Data checks before work (docs/data-format.md, "Data checks"): what each signal and each part of
// an MCCV split needs before a world model or a policy is trained on it. `amrs summarize` prints
// the findings; train-world, sweep-world, train-policy and tune refuse to start on an error and
// print the warnings. A signal that cannot be learned from a split's train users (no ratings,
// ratings of one class, constant engagement, no affect reports) is a warning: world-model training
// skips it (loss weight 0) and the checkpoint records it.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "amrs/data/dataset.h"
#include "amrs/data/splits.h"
#include "amrs/data/tokens.h"

namespace amrs::data {

// The thresholds (documented in docs/data-format.md).
// Every part (train, val, test) of a split needs this many users (error below).
constexpr std::int64_t kMinUsersPerPart = 2;
// The test part needs this many song interactions to be scored (error below).
constexpr std::int64_t kMinTestInteractions = 20;
// A rating signal needs at least this many likes and this many dislikes (warning below: the
// signal is skipped in training, or not scored on val/test users).
constexpr std::int64_t kMinRatingsPerClass = 1;
// Affect reports (post-session or per-song, on song tokens) below this count in a part are few
// (warning); none at all makes valence and arousal unusable there.
constexpr std::int64_t kMinAffectReports = 10;
// Engagement, valence or arousal whose variance over a part is at most this is constant.
constexpr double kMinTargetVariance = 1e-6;

// The four per-token signals, in the world model's order (worldmodel/config.h kSignalNames).
constexpr int kCheckedSignals = 4;
constexpr const char* kCheckedSignalNames[kCheckedSignals] = {"engagement", "rating", "valence", "arousal"};

// Per-signal counts over the song tokens of some users' histories (TokenView, so any target the
// token view carries, e.g. per-song affect reports, is counted).
struct SignalCounts {
  std::int64_t users = 0, song_tokens = 0;
  std::int64_t likes = 0, dislikes = 0;
  // Per signal (kCheckedSignalNames order): observed targets, their sum and sum of squares.
  std::int64_t n[kCheckedSignals] = {0, 0, 0, 0};
  double sum[kCheckedSignals] = {0, 0, 0, 0}, sum_sq[kCheckedSignals] = {0, 0, 0, 0};
  double Mean(int signal) const;      // NaN without observations
  double Variance(int signal) const;  // population variance, sum_sq/n - mean^2; NaN without observations
};
SignalCounts CountSignals(const TokenView& view, const std::vector<std::int32_t>& users);

// Why `signal` cannot be learned (or scored) from these counts, e.g. "no ratings",
// "ratings of one class (12 likes, 0 dislikes)", "constant engagement (variance 0 over 40
// interactions)", "no affect reports"; empty when it can.
std::string UnusableReason(const SignalCounts& counts, int signal);

enum class Severity { kError, kWarning };
const char* SeverityName(Severity s);  // "error" | "warning"

struct Finding {
  Severity severity = Severity::kWarning;
  std::string signal;            // "rating", "engagement", "valence", "arousal", "affect",
                                 // "users", "test interactions", "song components", "splits"
  std::int32_t split = -1;       // split index; -1 for a finding about the whole dataset
  std::optional<Part> part;      // unset for a finding about the whole dataset
  std::int64_t count = 0;        // what was found
  std::int64_t threshold = 0;    // what is needed
  std::string message;           // names the signal, the split and the count
};

struct CheckOptions {
  std::vector<std::int32_t> splits;  // splits to check; empty = every split of the dataset
  std::int32_t song_components = 0;  // the world model's --song-components (0: not checked)
};

// Checks the dataset's splits. Throws ArgumentError for a split index the dataset lacks. A
// dataset without splits gives one error finding ("splits").
std::vector<Finding> CheckData(const Dataset& d, const CheckOptions& options = {});

// "Data checks" section: one line per finding, or a line saying every check passed.
std::string FormatFindings(const std::vector<Finding>& findings);

// For the training commands: writes each warning to `warnings` (when non-null) as
// "<command>: warning: <message>", then throws InputError "<command>: data checks failed: <each
// error message>; ..." when there is an error finding.
void RequireChecks(const std::vector<Finding>& findings, const std::string& command, std::ostream* warnings);

}  // namespace amrs::data
