// Private to agents/: the policy losses of paper 3.4 (torch). Copycat: InfoNCE (eq. 1); DPO
// (eq. 2) over the policy pi(y|x) = softmax over the catalogue of cos(s_hat, e_y) / tau.
#pragma once

#include <torch/torch.h>

namespace amrs::agents {

// Eq. 1. pred [B,D] predicted next-song embeddings, pos [B,D] the true next songs, neg [B,K,D]
// sampled unplayed songs; cosine similarities divided by tau. Mean over the batch.
torch::Tensor InfoNceLoss(const torch::Tensor& pred, const torch::Tensor& pos, const torch::Tensor& neg,
                          double tau);

// Eq. 1 from precomputed cosine similarities: pos_sim [P], neg_sim [P,K]. Mean over P.
torch::Tensor InfoNceFromSimilarities(const torch::Tensor& pos_sim, const torch::Tensor& neg_sim, double tau);
// InfoNCE over the positions where `valid` [T,B] is true, from similarities at every position:
// pos_sim [T,B], neg_sim [T,B,K] (any strides). The valid rows are gathered with index_select:
// LibTorch 1.13's masked_select misplaces gradients of a large non-contiguous input under a
// broadcast mask (tests/test_policy_losses.cc), which made Copycat's gradients wrong before.
torch::Tensor InfoNceOverValid(const torch::Tensor& pos_sim, const torch::Tensor& neg_sim, const torch::Tensor& valid,
                               double tau);

// log pi(y|x) for songs[b] given pred[b]: cos(pred, e_y)/tau - logsumexp_j cos(pred, e_j)/tau
// over the catalogue [N,D].
torch::Tensor PolicyLogProb(const torch::Tensor& pred, const torch::Tensor& catalogue, const torch::Tensor& songs,
                            double tau);

struct DpoOutput {
  torch::Tensor loss;            // scalar: mean of -log sigma(beta * margin)
  torch::Tensor reward_margin;   // scalar: mean implicit reward margin beta * (dw - dl)
  torch::Tensor accuracy;        // scalar: fraction of pairs with a positive margin
};

// Eq. 2 from log-probabilities of the winner and loser under the policy and the frozen reference.
DpoOutput DpoLoss(const torch::Tensor& logp_w, const torch::Tensor& logp_l, const torch::Tensor& ref_w,
                  const torch::Tensor& ref_l, double beta);

}  // namespace amrs::agents
