// Metrics of one (agent, seed) block of rollouts (paper 4.2, docs/metrics.md): predicted-feedback
// means, diversity and policy adherence (Level 2 user-wise, Level 3 time-step). The input is
// core's EpisodeBlock (the env's rollout output, the episode log's block), so metrics stays
// below data and env. Pure functions; empty or malformed input throws ArgumentError naming the
// field (EpisodeBlock::Validate).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "amrs/core/episodes.h"

namespace amrs::metrics {

// E episodes of L steps, row-major over (episode, step[, rank]); the name of the metrics inputs.
using RolloutArrays = amrs::EpisodeBlock;

// Per user, the logged token sequence as song indices, -1 for session-boundary tokens (the same
// token positions as the env's windows).
using LoggedSongs = std::vector<std::vector<std::int32_t>>;

struct FeedbackMeans {
  double engagement = 0, rating = 0, valence = 0, arousal = 0;
  std::optional<double> reward;  // when the block logs rewards
};
// Means of each predicted signal (and the reward) over all episodes and steps of one block.
FeedbackMeans RolloutMeans(const RolloutArrays& r);
// Mean over episodes of each step's signal: out[t] for t in [0, L).
std::vector<double> StepMeans(const RolloutArrays& r, const std::vector<float>& signal);

struct Adherence {
  double accuracy = 0;  // Level 3 only: fraction of scored steps whose action is the logged song
  double hit = 0, mrr = 0, ndcg = 0;
  std::int64_t lists = 0;  // (episode, step) lists scored
};
// Level 2: every (episode, step) top-k list against the set of songs in the user's whole logged
// history; Hit@k, MRR, NDCG@k averaged over all lists. Needs ranked lists (topk > 0).
Adherence UserWiseAdherence(const RolloutArrays& r, const LoggedSongs& logged, std::int32_t k = 10);
// Level 3: step t of an episode whose window is [start, start + length) is scored against the
// (t+1)-th song token at or after position start + length (boundaries skipped); steps without
// one are skipped. accuracy compares the action, Hit/MRR/NDCG the top-k list (when topk > 0).
// lists = 0 (all scores 0) when no step has a logged song after its window.
Adherence TimeStepAdherence(const RolloutArrays& r, const LoggedSongs& logged, std::int32_t k = 10);

// What a per-seed evaluation needs besides the rollouts.
struct EvalContext {
  std::int32_t num_songs = 0;
  std::vector<float> embedding;  // num_songs x dim, for ILD
  std::int32_t dim = 0;
  const LoggedSongs* logged = nullptr;  // null: no adherence
  std::int32_t k = 10;
};

// Metric keys of EvaluateSeed (also the keys of the report's JSON).
namespace key {
inline constexpr const char* kValence = "valence";
inline constexpr const char* kArousal = "arousal";
inline constexpr const char* kRating = "rating";
inline constexpr const char* kEngagement = "engagement";
inline constexpr const char* kReward = "reward";
// Under an ensemble world only: the mean utility-weighted disagreement of its members on the
// agent's actions (EpisodeBlock::disagreement; docs/ensembles.md).
inline constexpr const char* kDisagreement = "disagreement";
// Synthetic data under an ensemble world only (EpisodeBlock::oracle_error): the mean
// utility-weighted absolute error of the prediction against the oracle on the agent's actions, and
// the Spearman correlation over every step between the disagreement and that error (is the
// uncertainty informative?); the correlation is left out when either is constant.
inline constexpr const char* kOracleError = "oracle_error";
inline constexpr const char* kDisagreementErrorSpearman = "disagreement_error_spearman";
// With EpisodeBlock::oracle_feedback: the mean oracle valence and arousal of the agent's actions
// (their true effect, the episodes replayed in the oracle), to set against the predicted ones.
inline constexpr const char* kOracleValence = "oracle_valence";
inline constexpr const char* kOracleArousal = "oracle_arousal";
inline constexpr const char* kCoverage = "coverage";
inline constexpr const char* kEntropy = "norm_entropy";
inline constexpr const char* kIld = "ild";
inline constexpr const char* kGini = "gini";
inline constexpr const char* kL2Hit = "l2_hit";
inline constexpr const char* kL2Mrr = "l2_mrr";
inline constexpr const char* kL2Ndcg = "l2_ndcg";
inline constexpr const char* kL3Accuracy = "l3_accuracy";
inline constexpr const char* kL3Hit = "l3_hit";
inline constexpr const char* kL3Mrr = "l3_mrr";
inline constexpr const char* kL3Ndcg = "l3_ndcg";
}  // namespace key

// The uncertainty keys alone (kDisagreement, kOracleError, kDisagreementErrorSpearman): empty
// unless the block carries the disagreement (an ensemble world).
std::map<std::string, double> UncertaintyMetrics(const RolloutArrays& r);

// Every metric of one (agent, seed) block: feedback means (and reward when logged), coverage,
// normalized entropy and Gini over all actions, ILD over each episode's L actions, and - with
// `logged` - Level 2 (when topk > 0) and Level 3 adherence (Level 3 keys only when some step
// has a logged song after its window).
std::map<std::string, double> EvaluateSeed(const RolloutArrays& r, const EvalContext& c);

}  // namespace amrs::metrics
