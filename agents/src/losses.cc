#include "losses.h"

#include "amrs/core/error.h"

namespace amrs::agents {

using torch::Tensor;

Tensor InfoNceLoss(const Tensor& pred, const Tensor& pos, const Tensor& neg, double tau) {
  if (!(tau > 0)) throw ArgumentError("InfoNCE: temperature must be positive");
  if (pred.dim() != 2 || pos.sizes() != pred.sizes() || neg.dim() != 3 || neg.size(0) != pred.size(0) ||
      neg.size(2) != pred.size(1))
    throw ArgumentError("InfoNCE: expected pred [B,D], pos [B,D], neg [B,K,D]");
  const Tensor p = torch::nn::functional::normalize(pred, torch::nn::functional::NormalizeFuncOptions().dim(-1));
  const Tensor sp = (p * torch::nn::functional::normalize(pos, torch::nn::functional::NormalizeFuncOptions().dim(-1)))
                        .sum(-1, true);                                                     // [B,1]
  const Tensor n = torch::nn::functional::normalize(neg, torch::nn::functional::NormalizeFuncOptions().dim(-1));
  const Tensor sn = torch::bmm(n, p.unsqueeze(-1)).squeeze(-1);                             // [B,K]
  return InfoNceFromSimilarities(sp.squeeze(1), sn, tau);
}

Tensor InfoNceFromSimilarities(const Tensor& pos_sim, const Tensor& neg_sim, double tau) {
  if (!(tau > 0)) throw ArgumentError("InfoNCE: temperature must be positive");
  if (pos_sim.dim() != 1 || neg_sim.dim() != 2 || neg_sim.size(0) != pos_sim.size(0))
    throw ArgumentError("InfoNCE: expected positive similarities [P] and negative similarities [P,K]");
  const Tensor logits = torch::cat({pos_sim.unsqueeze(1), neg_sim}, 1) / tau;
  return -torch::log_softmax(logits, 1).select(1, 0).mean();
}

Tensor InfoNceOverValid(const Tensor& pos_sim, const Tensor& neg_sim, const Tensor& valid, double tau) {
  if (pos_sim.dim() != 2 || neg_sim.dim() != 3 || valid.sizes() != pos_sim.sizes() ||
      neg_sim.size(0) != pos_sim.size(0) || neg_sim.size(1) != pos_sim.size(1))
    throw ArgumentError("InfoNCE: expected pos_sim [T,B], neg_sim [T,B,K] and valid [T,B]");
  const Tensor rows = valid.reshape({-1}).nonzero().squeeze(1);
  return InfoNceFromSimilarities(pos_sim.reshape({-1}).index_select(0, rows),
                                 neg_sim.reshape({-1, neg_sim.size(2)}).index_select(0, rows), tau);
}

Tensor PolicyLogProb(const Tensor& pred, const Tensor& catalogue, const Tensor& songs, double tau) {
  if (!(tau > 0)) throw ArgumentError("policy: temperature must be positive");
  const auto opts = torch::nn::functional::NormalizeFuncOptions().dim(-1);
  const Tensor p = torch::nn::functional::normalize(pred, opts);
  const Tensor c = torch::nn::functional::normalize(catalogue, opts);
  const Tensor logits = torch::matmul(p, c.t()) / tau;  // [B,N]
  return torch::log_softmax(logits, 1).gather(1, songs.view({-1, 1})).squeeze(1);
}

DpoOutput DpoLoss(const Tensor& logp_w, const Tensor& logp_l, const Tensor& ref_w, const Tensor& ref_l,
                  double beta) {
  if (!(beta > 0)) throw ArgumentError("DPO: beta must be positive");
  const Tensor margin = beta * ((logp_w - ref_w) - (logp_l - ref_l));
  DpoOutput o;
  o.loss = -torch::nn::functional::logsigmoid(margin).mean();
  o.reward_margin = margin.detach().mean();
  o.accuracy = (margin.detach() > 0).to(torch::kFloat).mean();
  return o;
}

}  // namespace amrs::agents
