// Configuration of a world model (paper 3.3, Tables 2 and 3). Plain data, no torch.
#pragma once

#include <cstdint>
#include <string>

namespace amrs::worldmodel {

enum class Arch : std::uint8_t {
  kFactorized = 0,  // BOS + causal transformer -> z_i; MLP head on [z_i ; s_{i+1}] (deployed)
  kStandard = 1,    // causal transformer over tokens with right-shifted feedback
};
std::string ArchName(Arch a);      // "factorized" | "standard"
Arch ParseArch(const std::string&);  // throws ArgumentError

// Leave-one-feature-out switches of Table 3, applied in training and at test (factorized only).
struct Ablation {
  bool no_user_history = false;    // z sees only the BOS token
  bool no_feedback = false;        // engagement, rating, valence, arousal and masks zeroed
  bool no_history_songs = false;   // song embeddings of history tokens zeroed
  std::int32_t max_lookback = 0;   // attend to at most N previous tokens (+ BOS); 0 = unlimited
  bool no_candidate_song = false;  // the head sees zeros instead of the candidate song
  bool Any() const {
    return no_user_history || no_feedback || no_history_songs || max_lookback > 0 ||
           no_candidate_song;
  }
  // "base", "-user-history", "-feedback", "-history-songs", "-lookback-10", "-candidate-song"
  std::string Name() const;
  static Ablation Parse(const std::string& name);  // inverse of Name; throws ArgumentError
};

struct ModelConfig {
  Arch arch = Arch::kFactorized;
  std::string family = "mert";  // embedding family of the dataset
  bool rope = true;             // rotary positional encoding (+PE); on by default: it wins on
                                // the synthetic data (docs/world-model.md)
  std::int32_t d_model = 64;    // transformer width
  std::int32_t heads = 4;
  std::int32_t layers = 2;
  std::int32_t ff = 128;          // feed-forward width
  std::int32_t head_hidden = 64;  // prediction-head hidden width
  float dropout = 0.2f;
  // Songs enter the network through the top principal components of the catalogue's embedding
  // family (computed once per catalogue, stored in the checkpoint); 0 = the raw embedding.
  std::int32_t song_components = 32;
  // Song prior (docs/own-data.md): each song's input also carries, per signal, its shrunk mean
  // (sum + k * global mean) / (n + k) and log(1 + n) over the training split's users (n their
  // targets of that song), computed at training and stored in the checkpoint. Off by default;
  // the small preset turns it on. Name() gets "+prior".
  bool song_prior = false;
  float song_prior_k = 5.f;  // the shrinkage k (pseudo-count of the global mean), >= 0
  // Prior offset (needs song_prior; docs/own-data.md): each signal's output logit is the network's
  // output plus the logit of the candidate song's shrunk train mean, and the output layer starts at
  // zero, so training starts from the per-song mean and learns the user's departure from it. Off
  // by default; the small preset turns it on. Name() gets "+offset".
  bool prior_offset = false;
  // Session features (needs prior_offset; docs/own-data.md): engagement's and rating's logits get a
  // linear term in the candidate's position in the session, its plays among the last 30 songs and
  // the user's shrunk mean departure from the per-song means so far, its 4 weights per signal
  // fitted on the training users before the network and stored in the checkpoint. Off by
  // default; the small preset turns it on. Name() gets "+session".
  bool session_features = false;
  Ablation ablation;

  // "factorized-mert", "standard-clamp3+pe", "factorized-mert-lookback-10", ...
  std::string Name() const;
  // Upper bounds: d_model, head_hidden and song_components 4096, heads 64, ff 16384, layers 16, and
  // the training footprint (16 bytes per parameter) at most this machine's physical memory.
  static constexpr std::int32_t kMaxWidth = 4096, kMaxHeads = 64, kMaxFeedForward = 16384;
  // Throws ArgumentError naming the first invalid field.
  void Validate() const;
  // Approximate trainable parameter count (for the memory check).
  double EstimatedParameters() const;
  std::string ToJson() const;
  static ModelConfig FromJson(const std::string& json);  // throws InputError
  bool operator==(const ModelConfig& o) const { return ToJson() == o.ToJson(); }
};

// The four predicted signals, in the order of Feedback.
constexpr int kNumSignals = 4;
constexpr const char* kSignalNames[kNumSignals] = {"engagement", "rating", "valence", "arousal"};

}  // namespace amrs::worldmodel
