// Private: the world-model networks (torch). Included only by worldmodel/src/*.cc.
#pragma once

#include <torch/torch.h>

#include <array>
#include <optional>
#include <vector>

#include "amrs/core/types.h"
#include "amrs/data/tokens.h"
#include "amrs/worldmodel/config.h"

namespace amrs::worldmodel {

using data::FeedbackFeatures;
using data::kFeedbackFeatures;
using data::kSmallFeatures;
using data::kTypeFeatures;
using data::TypeFeatures;

// Key/value cache of one network for a batch of sequences.
struct KvCache {
  std::vector<torch::Tensor> k, v;  // per layer [B, heads, capacity, head_dim]
  std::vector<std::int64_t> length;  // sequence positions filled per row (BOS included)
  std::int64_t capacity = 0;
};

// Attention of one new query per (row, head) over keys[b] (cache positions; -1 = the row's own
// new key, read from qkv). qkv holds per row [q | k | v] (stride floats apart). commit (or null):
// each row's new key/value is first written into the cache [B,H,cap,D] at position commit[b].
void StepAttention(const float* qkv, std::int64_t stride, float* kc, float* vc, std::int64_t cap, std::int64_t B,
                   std::int64_t H, std::int64_t D, const std::vector<std::vector<std::int32_t>>& keys,
                   const std::int64_t* commit, float* out);

// Inference-path elementwise kernels (rows x d, row-major, contiguous).
void LayerNormRows(const float* x, const float* w, const float* b, float* out, std::int64_t rows, std::int64_t d,
                   float eps);
void GeluInPlace(float* x, std::int64_t n);
void AddInPlace(float* x, const float* y, std::int64_t n);
// The factorized head over a whole catalogue, fused: for each of `rows` rows a [rows, h]
// (head_z of the row's state) and each song j of the songs' head projection S [n, h], packed by
// PackHeadSongs, probs[(row * n + j) * 4 + s] = sigmoid(b[s] + sum_k w[s * h + k] relu(a[k] +
// S[j, k]) + offset[j * 4 + s]) (offset may be null), for the signals s of the bit mask `signals`
// (bits 0-3; the other entries are left as they are). The sum runs over k in order, one fused
// multiply-add a step on AVX2+FMA, whatever the rows and signals asked for (so the numbers do not
// depend on how rows are batched); within float rounding of the torch head (exp to ~1e-7).
void FactorizedHead(const float* a, std::int64_t rows, const float* packed, std::int64_t n, std::int64_t h,
                    const float* w, const float* b, const float* offset, unsigned signals, float* probs);
// The packed layout of FactorizedHead: panels of 16 songs, each [h][16] contiguous (the last
// panel zero-padded), from the projection transposed, songs_t [h, n].
std::vector<float> PackHeadSongs(const float* songs_t, std::int64_t h, std::int64_t n);
// LayerNorm of a [B, d] tensor through the inference kernel.
torch::Tensor LayerNormStep(const torch::nn::LayerNorm& ln, const torch::Tensor& x);

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int d_model, int heads, bool rope);
  // Full causal pass: x [B,T,d], additive mask [T,T]. Returns [B,T,d]; k/v [B,T,H,dh] if asked.
  torch::Tensor Full(const torch::Tensor& x, const torch::Tensor& mask, torch::Tensor* k_out,
                     torch::Tensor* v_out);
  // One new token per row at position pos[b], attending keys[b] (cache positions; -1 = the new
  // token's own key when it is not committed). commit: the new key/value are first written into
  // the cache at pos[b]; otherwise the cache is untouched.
  torch::Tensor Step(const torch::Tensor& x, const torch::Tensor& pos, torch::Tensor& kc,
                     torch::Tensor& vc, const std::vector<std::vector<std::int32_t>>& keys, bool commit);

 private:
  torch::Tensor Rotate(const torch::Tensor& x, const torch::Tensor& pos) const;  // x [B,T,H,dh]
  int heads_, head_dim_;
  bool rope_;
  torch::Tensor rope_cos_, rope_sin_;  // [4096, head_dim/2]
  torch::nn::Linear qkv_{nullptr}, out_{nullptr};
};
TORCH_MODULE(Attention);

class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(int d_model, int heads, int ff, bool rope);
  torch::Tensor Full(torch::Tensor x, const torch::Tensor& mask, torch::Tensor* k, torch::Tensor* v,
                     const std::function<torch::Tensor(torch::Tensor)>& dropout);
  torch::Tensor Step(torch::Tensor x, const torch::Tensor& pos, torch::Tensor& kc, torch::Tensor& vc,
                     const std::vector<std::vector<std::int32_t>>& keys, bool commit);

 private:
  torch::nn::LayerNorm ln1_{nullptr}, ln2_{nullptr};
  Attention attn_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(Block);

// Token inputs of a batch: song indices (num_songs = zero row) and small features.
struct TokenInputs {
  torch::Tensor song;   // [B,T] int64
  torch::Tensor small;  // [B,T,kSmallFeatures]
};

class WorldNetImpl : public torch::nn::Module {
 public:
  WorldNetImpl(const ModelConfig& config, int song_dim);
  const ModelConfig& config() const { return config_; }

  // Deterministic initialization from (seed), independent of torch's global RNG.
  void Initialize(std::uint64_t seed);
  // Dropout draws from this generator (training only); null disables dropout.
  void SetGenerator(std::optional<at::Generator> gen) { gen_ = std::move(gen); }

  // Token embeddings [B,T,d] from inputs and the catalogue (with a trailing zero row).
  torch::Tensor Embed(const TokenInputs& in, const torch::Tensor& catalogue);
  // Embeddings of projected songs: catalogue_proj [N+1, d] from ProjectSongs.
  torch::Tensor EmbedProjected(const TokenInputs& in, const torch::Tensor& catalogue_proj);
  torch::Tensor ProjectSongs(const torch::Tensor& catalogue);  // [N+1, d]

  // An empty cache (zeros, lengths unset) for `rows` sequences of up to `capacity` positions.
  KvCache EmptyCache(std::int64_t rows, std::int64_t capacity) const;
  // Prepends BOS and runs the causal stack on x [B,T,d]: returns z [B,T+1,d]. With a cache (from
  // EmptyCache), writes the keys/values of cache rows `rows` (int64 [B]; undefined: rows 0..B-1)
  // at positions [0, T+1).
  torch::Tensor Encode(const torch::Tensor& x, KvCache* cache = nullptr, const torch::Tensor& rows = {});
  // Appends one embedded token per row ([B,1,d]) after cache.length[b] positions.
  // commit=false leaves the cache untouched (used to score a candidate in the standard arch).
  torch::Tensor StepEncode(const torch::Tensor& x, KvCache& cache, bool commit);

  // Head: factorized uses z and the candidate's head projection; standard uses z only.
  // song_head: [.., H] from HeadSongs (ignored by the standard arch). Returns logits [.., 4].
  torch::Tensor Head(const torch::Tensor& z, const torch::Tensor& song_head);
  torch::Tensor HeadSongs(const torch::Tensor& songs);  // raw embeddings [.., D] -> [.., H]
  // The parts of the factorized head, for the fused catalogue kernel: head_z(z) [.., H] and the
  // output layer (weight [4, H], bias [4]). Fusable: factorized and the candidate song not ablated.
  torch::Tensor HeadZ(const torch::Tensor& z) { return head_z_(z); }
  const torch::nn::Linear& HeadOut() const { return head_out_; }
  bool HeadFusable() const;

  // Additive causal mask [S,S] over BOS + tokens honouring the lookback ablations.
  torch::Tensor Mask(std::int64_t s) const;

 private:
  torch::Tensor Dropout(torch::Tensor x) const;
  ModelConfig config_;
  int song_dim_;
  torch::nn::Linear in_song_{nullptr}, in_small_{nullptr};
  torch::Tensor bos_;
  torch::nn::ModuleList blocks_;
  torch::nn::LayerNorm ln_f_{nullptr};
  torch::nn::Linear head_z_{nullptr}, head_s_{nullptr}, head_out_{nullptr};
  std::optional<at::Generator> gen_;
};
TORCH_MODULE(WorldNet);

// Builds TokenInputs and targets for a batch of token spans (right-padded to the longest).
// Factorized: inputs are the tokens themselves; the prediction for token t comes from z[t-1]
// and the candidate song = token t. Standard: token t's input carries token t-1's feedback.
struct SequenceBatch {
  TokenInputs inputs;
  torch::Tensor candidates;  // [B,T] int64 song index of token t (num_songs for boundaries)
  torch::Tensor targets;     // [B,T,4]
  torch::Tensor mask;        // [B,T,4] 1 where the target is observed
  torch::Tensor session;     // [B,T,kSessionFeatures] (SessionStats) or undefined
  std::vector<std::int64_t> lengths;
};
// With `song_means` (the song prior's means, SongMeans; config.session_features), the batch also
// carries each token's session features (SessionStats, from the span's earlier tokens).
SequenceBatch MakeSequenceBatch(const std::vector<std::pair<const Token*, std::int64_t>>& spans,
                                const ModelConfig& config, std::int32_t num_songs,
                                const std::vector<float>* song_means = nullptr);

// Session features (ModelConfig::session_features; docs/own-data.md), per candidate song after a
// history: [0] the song tokens since the history's last boundary (the position in the session),
// [1] the candidate's plays among the last kRepeatWindow song tokens, [2 + s] the user's shrunk
// mean residual of signal s, sum(y - song mean) / (n + kResidualK) over the earlier tokens with
// that target. Signal s's logit gets w[s][0] f[0] + w[s][1] f[1] + w[s][2] f[2 + s] + w[s][3].
constexpr int kSessionFeatures = 2 + kNumSignals;
constexpr int kSessionWeights = 4;  // per signal
constexpr int kSessionSignals = 2;  // the term is fitted for engagement and rating; 0 for affect
struct SessionStats {
  static constexpr int kRepeatWindow = 30;
  static constexpr float kResidualK = 5.f;
  std::int32_t position = 0;
  std::vector<std::int32_t> recent;  // last kRepeatWindow songs, oldest first
  std::array<double, kNumSignals> sum{}, n{};
  // Adds a history token; song_means [N, 4] row-major (the song prior's means).
  void Add(const Token& t, const float* song_means);
  void Features(std::int32_t song, float* f) const;  // f [kSessionFeatures]
  // The term added to the logits of `song` ([4]) with weights w [4 * kSessionWeights].
  void Logits(std::int32_t song, const float* w, float* out) const;
  // The song-independent part (position, residual, constant) and the repeat weights (Logits =
  // base + w[s][1] * plays(song)), for scoring a whole catalogue.
  void BaseLogits(const float* w, float* out) const;
  std::int32_t Plays(std::int32_t song) const;
};
// The song prior's means [N * 4] row-major (columns 2s of the prior table).
std::vector<float> SongMeans(const torch::Tensor& prior);
// The session term [.., 4] from features [.., kSessionFeatures] and weights [4, kSessionWeights].
torch::Tensor SessionLogits(const torch::Tensor& features, const torch::Tensor& w);

// Predictions [B,T,4] (logits) for a batch, teacher-forced; with `offset` [N+1,4] (PriorOffset)
// each token's candidate song's row is added, with `session_w` (and b.session) the session term.
torch::Tensor ForwardBatch(WorldNet& net, const SequenceBatch& b, const torch::Tensor& catalogue,
                           const torch::Tensor& offset = {}, const torch::Tensor& session_w = {});

// Per-signal masked losses [4] (MSE on sigmoid(e,v,a), BCE-with-logits on rating) and counts.
std::pair<torch::Tensor, torch::Tensor> MaskedLosses(const torch::Tensor& logits,
                                                     const SequenceBatch& b);

// Catalogue tensor [N+1, D] with a trailing zero row.
torch::Tensor CatalogueTensor(const Catalogue& c);

// Principal-component reduction of song embeddings: x -> (x - mean) basis.
// With the song prior (ModelConfig::song_prior), `prior` [N, kSongPriorColumns] is appended to
// every song's (reduced) input, each column standardized over the songs (SongInputs).
struct SongReduction {
  torch::Tensor mean;   // [D]
  torch::Tensor basis;  // [D, k]
  torch::Tensor prior;  // [N, kSongPriorColumns] or undefined
  // The session features' weights [4, kSessionWeights] (ModelConfig::session_features), fitted on
  // the training users before the network (FitSessionWeights), or undefined.
  torch::Tensor session_w;
  bool active() const { return basis.defined(); }
};
// Per signal: the shrunk mean and log(1 + count) of its targets on the song.
constexpr int kSongPriorColumns = 2 * kNumSignals;
// The song prior table [N, kSongPriorColumns] from the song tokens of `users` only: column 2s is
// signal s's (sum + k * global) / (n + k) (global: the signal's mean over all those tokens, 0.5
// without any), column 2s+1 is log(1 + n).
torch::Tensor ComputeSongPrior(const data::TokenView& view, const std::vector<std::int32_t>& users,
                               std::int32_t num_songs, float k);
// The prior offset (ModelConfig::prior_offset), logits [N+1, 4]: per song, logit of each signal's
// shrunk train mean (the prior table's columns 2s, clamped to [1e-3, 1 - 1e-3]), and a trailing
// zero row (padding); undefined without the prior table. Computed once per model.
torch::Tensor PriorOffset(const SongReduction& r);
// The session weights [4, kSessionWeights] (rows kSessionSignals.. zero) that minimize the training losses (MaskedLosses) of
// the prior offset plus the session term alone, over the tokens of `spans` (a few hundred
// full-batch Adam steps from zero; deterministic).
torch::Tensor FitSessionWeights(const std::vector<std::pair<const Token*, std::int64_t>>& spans,
                                const ModelConfig& config, std::int32_t num_songs, const SongReduction& r);
// Top-k principal components of the catalogue (k = 0 or k >= D: no reduction).
SongReduction FitReduction(const Catalogue& c, int k);
// The network's song input [N+1, k] (trailing zero row kept at zero).
torch::Tensor SongInputs(const Catalogue& c, const SongReduction& r);
// Columns of the embedding part (components or the raw dimension), and of the whole song input
// (the embedding part plus kSongPriorColumns with the song prior).
int ReducedSongDim(const Catalogue& c, const ModelConfig& m);
int SongInputDim(const Catalogue& c, const ModelConfig& m);

}  // namespace amrs::worldmodel
