// Recommender metrics (paper 4.2, docs/metrics.md): diversity of what a policy recommends and its
// adherence to the logged production policy. Pure functions; empty input throws ArgumentError.
#pragma once

#include <cstdint>
#include <vector>

namespace amrs::metrics {

// Fraction of the catalogue (num_songs) recommended at least once.
double Coverage(const std::vector<std::int32_t>& recommended, std::int32_t num_songs);
// Entropy of the recommendation distribution divided by log(num_songs) (0 for one song
// recommended throughout, 1 for a uniform spread over the whole catalogue).
double NormalizedEntropy(const std::vector<std::int32_t>& recommended, std::int32_t num_songs);
// Gini coefficient of the recommendation counts over the whole catalogue, never-recommended
// songs included (0: perfectly even, near 1: everything on one song).
double Gini(const std::vector<std::int32_t>& recommended, std::int32_t num_songs);

// Mean pairwise cosine distance (1 - cos) over all pairs of distinct catalogue songs, computed
// exactly in O(N D) from the sum of unit vectors. embedding: num_songs x dim, row-major.
double CatalogueMeanCosineDistance(const std::vector<float>& embedding, std::int32_t dim);
// ILD: the mean over rollouts of the mean pairwise cosine distance of the songs within each
// rollout (rollouts[r] = its songs), divided by the catalogue's mean pairwise cosine distance.
// Rollouts with fewer than two songs are skipped; throws if none has two.
double IntraListDiversity(const std::vector<std::vector<std::int32_t>>& rollouts,
                          const std::vector<float>& embedding, std::int32_t dim);

// Ranking quality of one ranked list against a set of relevant songs (binary relevance).
struct RankScores {
  double hit = 0;   // 1 if a relevant song is in the first k
  double mrr = 0;   // 1 / rank of the first relevant song in the first k (0 if none)
  double ndcg = 0;  // DCG@k / ideal DCG over min(|relevant|, k) positions (0 if nothing relevant)
};
// `relevant` must be sorted ascending (binary search).
RankScores ScoreRanking(const std::vector<std::int32_t>& ranked, const std::vector<std::int32_t>& relevant,
                        std::int32_t k = 10);

}  // namespace amrs::metrics
