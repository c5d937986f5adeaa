// Private to agents/: the policy network (torch), its inputs and its checkpoint files.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "amrs/agents/policy.h"
#include "amrs/core/types.h"

namespace amrs::agents {

// Version 2: positions count from the history's first kept token (PolicyInputs::position).
inline constexpr int kPolicyCheckpointVersion = 2;

// Pre-norm causal transformer block (sequence-first layout, as torch::nn::MultiheadAttention).
class PolicyBlockImpl : public torch::nn::Module {
 public:
  PolicyBlockImpl(int d_model, int heads, int ff);
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& causal_mask);  // x [T,B,d]

 private:
  torch::nn::LayerNorm ln1_{nullptr}, ln2_{nullptr};
  torch::nn::MultiheadAttention attn_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(PolicyBlock);

// Inputs of a batch of histories, right-padded; the last max_context tokens of each are kept.
struct PolicyInputs {
  torch::Tensor song;      // [T,B] int64 catalogue index (num_songs = boundary or padding)
  torch::Tensor small;     // [T,B,kSmallFeatures]
  // [T,B] int64 index of the token from the row's first kept token (padding: 0). Causal: a token's
  // encoding does not depend on later tokens, so the prediction after token p of a training span is
  // the one the agent makes when its history ends at p (version 1 used the distance from the
  // span's end: training saw distances > 0, the agent always queried distance 0).
  torch::Tensor position;
  std::vector<std::int64_t> lengths;
  std::vector<std::int64_t> offsets;  // first kept token of each span
};
PolicyInputs MakePolicyInputs(const std::vector<std::pair<const Token*, std::int64_t>>& spans, std::int32_t num_songs,
                              std::int32_t max_context);

class PolicyNetImpl : public torch::nn::Module {
 public:
  PolicyNetImpl(const PolicyConfig& config, int song_dim);
  const PolicyConfig& config() const { return config_; }
  // Deterministic initialization from `seed` (independent of torch's global generator).
  void Initialize(std::uint64_t seed);
  // Predicted next-song embeddings at every position [T,B,song_dim]; songs: [N+1, song_dim] unit
  // rows with a trailing zero row.
  torch::Tensor forward(const PolicyInputs& in, const torch::Tensor& songs);
  // The prediction after each row's last token [B, song_dim].
  torch::Tensor Last(const PolicyInputs& in, const torch::Tensor& songs);
  // Last for acting (the agents): only the last positions go through the output head; forward's
  // rows within float rounding (tested: OpenBLAS may multiply a few rows with another kernel).
  // Training keeps Last: the head's weight gradients summed over fewer rows round differently
  // and would move trained checkpoints.
  torch::Tensor LastOnly(const PolicyInputs& in, const torch::Tensor& songs);

 private:
  torch::Tensor Hidden(const PolicyInputs& in, const torch::Tensor& songs);  // before the head [T,B,d]
  torch::Tensor Head(const torch::Tensor& h);
  PolicyConfig config_;
  torch::nn::Linear in_song_{nullptr}, in_small_{nullptr};
  torch::nn::Embedding pos_{nullptr};
  torch::nn::ModuleList blocks_;
  torch::nn::LayerNorm ln_f_{nullptr};
  torch::nn::Linear head1_{nullptr}, head2_{nullptr};
};
TORCH_MODULE(PolicyNet);

// Unit-normalized catalogue embeddings of `family`, [N+1, D] with a trailing zero row.
torch::Tensor UnitCatalogue(const Catalogue& catalogue);
// Cosine similarity / tau of predictions [B,D] to every song [B,N] (songs: UnitCatalogue).
torch::Tensor CatalogueLogits(const torch::Tensor& pred, const torch::Tensor& songs, double tau);

void SavePolicy(const std::string& path, const PolicyInfo& info, PolicyNet& net);
// Loads parameters into a new network after checking the metadata and every parameter shape.
PolicyNet LoadPolicyNet(const std::string& path, PolicyInfo* info);
std::string PolicyInfoToJson(const PolicyInfo& info);

// A checkpoint loaded for inference, checked against a catalogue; shared read-only by agents.
struct LoadedPolicy {
  PolicyInfo info;
  PolicyNet net{nullptr};
  torch::Tensor songs;  // UnitCatalogue
};
// Cached by path, modification time and dataset fingerprint (a hit was checked against this
// dataset); throws InputError naming the file on a kind, dataset (data::CheckTrainedOn),
// catalogue or shape mismatch. `fingerprint` is data::Fingerprint(dataset), passed in because
// agents are created per rollout batch and EnvContext computes it once.
std::shared_ptr<const LoadedPolicy> LoadPolicyFor(const std::string& path, const std::string& kind,
                                                  const data::Dataset& dataset, const std::string& fingerprint);

}  // namespace amrs::agents
