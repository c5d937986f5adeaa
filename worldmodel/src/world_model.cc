#include "amrs/worldmodel/world_model.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <nlohmann/json.hpp>

#include "amrs/core/error.h"
#include "archive.h"
#include "checkpoint.h"
#include "net.h"

namespace amrs::worldmodel {

using torch::Tensor;

// ---------------------------------------------------------------------------------------------
// The facade

struct WorldModel::Impl {
  CheckpointInfo info;
  Catalogue catalogue;
  SongReduction reduction;
  Tensor cat;  // [N+1, song inputs], trailing zero row
  std::vector<WorldNet> nets;  // distinct networks
  std::array<int, kNumSignals> net_of_signal{};
  std::vector<Tensor> proj;        // per net: projected songs [N+1, d]
  std::vector<Tensor> head_songs;  // per net (factorized): head projection of songs [N, H]
  // Per net, for the fused catalogue head (FactorizedHead; empty when not fusable): the songs'
  // head projection in FactorizedHead's packed layout (PackHeadSongs), the output layer's weight
  // [4, H] and bias [4].
  struct Fused {
    std::vector<float> packed, w, b;
    std::int64_t h = 0;
  };
  std::vector<Fused> fused;
  std::vector<float> offset_rows;  // offset [N, 4] (empty without the prior offset)
  Tensor offset;                   // prior_offset: logits added per candidate song [N+1, 4] (PriorOffset)
  // Session features (config.session_features): the weights [4 * kSessionWeights] and the song
  // prior's means [N * 4] (SongMeans); empty without.
  std::vector<float> session_w, song_means;
  bool session() const { return !session_w.empty(); }

  void Prepare() {
    c10::InferenceMode g;
    cat = SongInputs(catalogue, reduction);
    if (info.config.prior_offset) offset = PriorOffset(reduction);
    for (auto& n : nets) {
      n->eval();
      proj.push_back(n->ProjectSongs(cat));
      head_songs.push_back(n->config().arch == Arch::kFactorized
                               ? n->HeadSongs(cat.narrow(0, 0, catalogue.size()))
                               : Tensor());
      Fused f;
      if (n->HeadFusable()) {
        const Tensor t = head_songs.back().t().contiguous();
        f.h = t.size(0);
        f.packed = PackHeadSongs(t.data_ptr<float>(), f.h, t.size(1));
        const Tensor w = n->HeadOut()->weight.contiguous(), b = n->HeadOut()->bias.contiguous();
        f.w.assign(w.data_ptr<float>(), w.data_ptr<float>() + w.numel());
        f.b.assign(b.data_ptr<float>(), b.data_ptr<float>() + b.numel());
      }
      fused.push_back(std::move(f));
    }
    if (offset.defined()) {
      const Tensor o = offset.narrow(0, 0, catalogue.size()).contiguous();
      offset_rows.assign(o.data_ptr<float>(), o.data_ptr<float>() + o.numel());
    }
    if (reduction.session_w.defined()) {
      const Tensor w = reduction.session_w.contiguous();
      session_w.assign(w.data_ptr<float>(), w.data_ptr<float>() + w.numel());
      song_means = SongMeans(reduction.prior);
    }
  }
  // Offset logits [B,4] of candidate songs: the prior offset plus each row's session term
  // (undefined without either).
  Tensor Offsets(const std::vector<int64_t>& songs, const std::vector<SessionStats>& stats,
                 const std::vector<int64_t>& rows) const {
    Tensor o = Offsets(songs);
    if (!session()) return o;
    std::vector<float> t(songs.size() * kNumSignals);
    for (std::size_t i = 0; i < songs.size(); ++i)
      stats[static_cast<std::size_t>(rows[i])].Logits(static_cast<std::int32_t>(songs[i]), session_w.data(),
                                                      &t[i * kNumSignals]);
    const Tensor st = torch::from_blob(t.data(), {static_cast<int64_t>(songs.size()), kNumSignals}, torch::kFloat).clone();
    return o.defined() ? o + st : st;
  }
  // The offsets of every song [N * 4] for a row with session features: the prior offset (0
  // without) plus the row's session term, each sum as Offsets computes it for one candidate.
  void CatalogueOffsets(const SessionStats& st, float* out) const {
    const std::size_t N = static_cast<std::size_t>(catalogue.size());
    float base[kNumSignals];
    st.BaseLogits(session_w.data(), base);
    for (std::size_t j = 0; j < N; ++j)
      for (int s = 0; s < kNumSignals; ++s) out[j * kNumSignals + s] = base[s];
    for (const auto song : st.recent) {  // base + w[s][1] * plays, as Logits (a repeated song rewritten alike)
      const float plays = static_cast<float>(st.Plays(song));
      float* r = out + static_cast<std::size_t>(song) * kNumSignals;
      for (int s = 0; s < kNumSignals; ++s) r[s] = base[s] + session_w[static_cast<std::size_t>(s * kSessionWeights + 1)] * plays;
    }
    if (!offset_rows.empty())
      for (std::size_t i = 0; i < N * kNumSignals; ++i) out[i] = offset_rows[i] + out[i];
  }
  bool factorized() const { return info.config.arch == Arch::kFactorized; }
  // The network's probability for signal s, or the checkpoint's constant for a skipped signal.
  float Output(int s, float p) const { return info.skipped(s) ? info.skip_prediction[s] : p; }
  // Offset logits [B,4] of candidate songs (undefined without the prior offset).
  Tensor Offsets(const std::vector<int64_t>& songs) const {
    return offset.defined() ? offset.index_select(0, torch::tensor(songs, torch::kLong)) : Tensor();
  }
};

struct WorldModel::State::Impl {
  std::vector<KvCache> caches;  // per net
  std::vector<Tensor> z_last;   // per net [B, d]
  std::vector<Token> last;      // last token per row (standard arch: its feedback is shifted in)
  std::vector<bool> has_last;
  std::vector<SessionMode> mode;
  std::vector<SessionStats> stats;  // per row, with session features (empty without)
  std::int32_t rows = 0;
};

WorldModel::State::State(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WorldModel::State::~State() = default;
std::int32_t WorldModel::State::size() const { return impl_->rows; }

WorldModel::WorldModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WorldModel::~WorldModel() = default;
const CheckpointInfo& WorldModel::info() const { return impl_->info; }
const Catalogue& WorldModel::catalogue() const { return impl_->catalogue; }
std::int32_t WorldModel::num_songs() const { return impl_->catalogue.size(); }
std::int32_t WorldModel::num_networks() const { return static_cast<std::int32_t>(impl_->nets.size()); }

void WorldModel::Save(const std::string& path) const {
  std::array<WorldNet, kNumSignals> nets{WorldNet(nullptr), WorldNet(nullptr), WorldNet(nullptr), WorldNet(nullptr)};
  for (int s = 0; s < kNumSignals; ++s) nets[s] = impl_->nets[impl_->net_of_signal[s]];
  SaveCheckpoint(path, impl_->info, nets, impl_->reduction);
}

namespace {

// The checkpoint's song prior table: float [num_songs, kSongPriorColumns], finite (torch::load
// checks no shape, so a table of another catalogue would be read silently).
Tensor ReadSongPrior(torch::serialize::InputArchive& a, const std::string& path, std::int32_t num_songs) {
  Tensor prior;
  if (!a.try_read("song_prior", prior))
    throw InputError(path + ": the configuration has the song prior but the checkpoint has no song_prior table");
  if (prior.dim() != 2 || prior.size(0) != num_songs || prior.size(1) != kSongPriorColumns ||
      prior.scalar_type() != torch::kFloat)
    throw InputError(path + ": the song_prior table is " + (prior.dim() == 2 ? std::to_string(prior.size(0)) + "x" + std::to_string(prior.size(1)) : std::to_string(prior.dim()) + "-d") +
                     ", expected float " + std::to_string(num_songs) + "x" + std::to_string(kSongPriorColumns) +
                     " (songs x 2 per signal)");
  if (!torch::isfinite(prior).all().item<bool>())
    throw InputError(path + ": the song_prior table has non-finite values");
  return prior;
}

// The checkpoint's session weights: float [4, kSessionWeights], finite.
Tensor ReadSessionWeights(torch::serialize::InputArchive& a, const std::string& path) {
  Tensor w;
  if (!a.try_read("session_weights", w))
    throw InputError(path + ": the configuration has session features but the checkpoint has no session_weights");
  if (w.dim() != 2 || w.size(0) != kNumSignals || w.size(1) != kSessionWeights || w.scalar_type() != torch::kFloat)
    throw InputError(path + ": the session_weights are not float " + std::to_string(kNumSignals) + "x" +
                     std::to_string(kSessionWeights));
  if (!torch::isfinite(w).all().item<bool>()) throw InputError(path + ": the session_weights have non-finite values");
  return w.contiguous();
}

}  // namespace

CheckpointInfo WorldModel::ReadInfo(const std::string& path) { return ReadCheckpointInfo(path); }

std::shared_ptr<const WorldModel> WorldModel::Load(const std::string& path, const data::Dataset& d) {
  auto a = OpenArchive(path, "world-model checkpoint");
  const std::string meta = ReadMeta(a, path, "not a world-model checkpoint");
  auto impl = std::make_unique<Impl>();
  impl->info = InfoFromJson(meta, path);
  const auto& info = impl->info;
  data::CheckTrainedOn(d, "world model " + path, info.dataset_fingerprint, info.split_seed);
  try {
    impl->catalogue = d.MakeCatalogue(info.config.family);
  } catch (const ArgumentError& e) {
    throw InputError(path + ": " + e.what());
  }
  if (impl->catalogue.dim != info.song_dim || impl->catalogue.size() != info.num_songs)
    throw InputError(path + ": expects " + std::to_string(info.num_songs) + " songs of dimension " +
                     std::to_string(info.song_dim) + " ('" + info.config.family + "'), the dataset has " +
                     std::to_string(impl->catalogue.size()) + " of dimension " +
                     std::to_string(impl->catalogue.dim));
  const int in_dim = SongInputDim(impl->catalogue, info.config);
  const int reduced_dim = ReducedSongDim(impl->catalogue, info.config);
  if (reduced_dim != impl->catalogue.dim) {
    Tensor mean, basis;
    if (!a.try_read("song_pca_mean", mean) || !a.try_read("song_pca_basis", basis))
      throw InputError(path + ": the song reduction (song_pca_mean/basis) is missing");
    if (mean.dim() != 1 || mean.size(0) != impl->catalogue.dim || basis.dim() != 2 ||
        basis.size(0) != impl->catalogue.dim || basis.size(1) != reduced_dim)
      throw InputError(path + ": the song reduction does not match " + std::to_string(impl->catalogue.dim) +
                       "-d embeddings and " + std::to_string(reduced_dim) + " components");
    impl->reduction.mean = mean;
    impl->reduction.basis = basis;
  }
  if (info.config.song_prior) impl->reduction.prior = ReadSongPrior(a, path, impl->catalogue.size());
  if (info.config.session_features) impl->reduction.session_w = ReadSessionWeights(a, path);
  // Signals whose best epoch coincides share one network.
  for (int s = 0; s < kNumSignals; ++s) {
    int found = -1;
    for (int r = 0; r < s; ++r)
      if (info.best_epoch[r] == info.best_epoch[s]) found = impl->net_of_signal[r];
    if (found >= 0) {
      impl->net_of_signal[s] = found;
      continue;
    }
    WorldNet net(info.config, in_dim);
    ReadParams(a, std::string("net_") + kSignalNames[s], *net, path);
    impl->net_of_signal[s] = static_cast<int>(impl->nets.size());
    impl->nets.push_back(net);
  }
  impl->Prepare();
  return std::shared_ptr<const WorldModel>(new WorldModel(std::move(impl)));
}

std::shared_ptr<const WorldModel> WorldModel::CreateUntrained(const ModelConfig& config,
                                                              const data::Dataset& d,
                                                              std::uint64_t seed) {
  config.Validate();
  auto impl = std::make_unique<Impl>();
  impl->catalogue = d.MakeCatalogue(config.family);
  impl->info.config = config;
  impl->info.dataset_fingerprint = data::Fingerprint(d);
  impl->info.split_seed = d.split_seed;
  impl->info.song_dim = impl->catalogue.dim;
  impl->info.num_songs = impl->catalogue.size();
  impl->info.seed = seed;
  impl->reduction = FitReduction(impl->catalogue, config.song_components);
  if (config.song_prior) {  // from split 0's train users (all users without splits)
    std::vector<std::int32_t> users = d.splits.empty() ? std::vector<std::int32_t>() : d.splits[0].train;
    if (d.splits.empty())
      for (std::int32_t u = 0; u < d.num_users(); ++u) users.push_back(u);
    impl->reduction.prior = ComputeSongPrior(data::TokenView(d), users, impl->catalogue.size(), config.song_prior_k);
  }
  if (config.session_features) impl->reduction.session_w = torch::zeros({kNumSignals, kSessionWeights});
  WorldNet net(config, SongInputDim(impl->catalogue, config));
  net->Initialize(seed);
  impl->nets.push_back(net);
  impl->net_of_signal = {0, 0, 0, 0};
  impl->Prepare();
  return std::shared_ptr<const WorldModel>(new WorldModel(std::move(impl)));
}

namespace {

void CheckSong(std::int32_t song, std::int32_t n) {
  if (song < 0 || song >= n)
    throw ArgumentError("world model: song index " + std::to_string(song) + " is outside [0, " +
                        std::to_string(n) + ")");
}

}  // namespace

std::unique_ptr<WorldModel::State> WorldModel::Encode(const std::vector<History>& hs) const {
  c10::InferenceMode g;
  const auto& I = *impl_;
  const std::int32_t N = num_songs();
  auto st = std::make_unique<State::Impl>();
  st->rows = static_cast<std::int32_t>(hs.size());
  std::vector<std::pair<const Token*, int64_t>> spans;
  for (const auto& h : hs) {
    for (const auto& t : h)
      if (!t.IsBoundary()) CheckSong(t.song, N);
    spans.emplace_back(h.data(), static_cast<int64_t>(h.size()));
    st->has_last.push_back(!h.empty());
    st->last.push_back(h.empty() ? Token() : h.back());
    SessionMode m = SessionMode::kNone;
    for (auto it = h.rbegin(); it != h.rend(); ++it)
      if (it->mode != SessionMode::kNone || it->IsBoundary()) {
        m = it->mode;
        break;
      }
    st->mode.push_back(m);
    if (I.session()) {
      SessionStats ss;
      for (const auto& t : h) ss.Add(t, I.song_means.data());
      st->stats.push_back(std::move(ss));
    }
  }
  if (hs.empty()) return std::unique_ptr<State>(new State(std::move(st)));
  const SequenceBatch b = MakeSequenceBatch(spans, I.info.config, N);
  const int64_t B = static_cast<int64_t>(hs.size()), T = b.inputs.song.size(1);
  // Rows are encoded in chunks of similar length (sorted, stable): each chunk is padded only to
  // its own longest history, and the temporaries stay small enough to be reused from the heap
  // and the CPU caches instead of fresh pages. Every row is computed on its own (causal mask,
  // row-wise layers), so the chunking changes no result beyond float rounding.
  std::vector<int64_t> order(static_cast<std::size_t>(B));
  for (int64_t r = 0; r < B; ++r) order[r] = r;
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return spans[x].second < spans[y].second; });
  std::vector<std::pair<int64_t, int64_t>> ranges;  // [begin, end) into order
  for (int64_t i = 0; i < B;) {
    int64_t j = i + 1;
    const auto cost = [&](int64_t end) {  // attention floats of rows order[i..end) padded to the last one
      const int64_t s = std::max<int64_t>(1, spans[order[end - 1]].second) + 1;
      return (end - i) * s * s * I.info.config.heads;
    };
    while (j < B && j - i < 64 && cost(j + 1) <= (int64_t{1} << 20)) ++j;
    ranges.emplace_back(i, j);
    i = j;
  }
  bool in_order = ranges.size() == 1;
  for (int64_t r = 0; r < B && in_order; ++r) in_order = order[r] == r;
  // The chunks' inputs, shared by the networks. One chunk in the given order (small batches)
  // uses the batch as it is: no gathering, rows undefined.
  struct Chunk {
    Tensor rows;        // cache rows, int64 [R] (undefined: all, in order)
    TokenInputs in;     // [R, chunk length]
    Tensor pick_rows, pick_pos;  // z of each row's last token (BOS at 0: at the history's length)
  };
  std::vector<Chunk> chunks;
  for (const auto& [i, j] : ranges) {
    Chunk c;
    std::vector<int64_t> last;
    for (int64_t r = i; r < j; ++r) last.push_back(spans[order[r]].second);
    c.pick_rows = torch::arange(j - i, torch::kLong);
    c.pick_pos = torch::tensor(last, torch::kLong);
    if (in_order) {
      c.in = b.inputs;
    } else {
      const int64_t tc = std::max<int64_t>(1, last.back());
      c.rows = torch::tensor(std::vector<int64_t>(order.begin() + i, order.begin() + j), torch::kLong);
      c.in = {b.inputs.song.index_select(0, c.rows).narrow(1, 0, tc),
              b.inputs.small.index_select(0, c.rows).narrow(1, 0, tc)};
    }
    chunks.push_back(std::move(c));
  }
  for (std::size_t k = 0; k < I.nets.size(); ++k) {
    auto net = I.nets[k];
    KvCache cache = net->EmptyCache(B, T + 1 + 16);
    Tensor z_last = in_order ? Tensor() : torch::empty({B, I.info.config.d_model});
    for (const auto& c : chunks) {
      const Tensor z = net->Encode(net->EmbedProjected(c.in, I.proj[k]), &cache, c.rows);
      const Tensor zl = z.index({c.pick_rows, c.pick_pos});
      if (in_order) z_last = zl;
      else z_last.index_copy_(0, c.rows, zl);
    }
    for (const auto& s : spans) cache.length.push_back(s.second + 1);
    st->z_last.push_back(z_last);
    st->caches.push_back(std::move(cache));
  }
  return std::unique_ptr<State>(new State(std::move(st)));
}

void WorldModel::Append(State& state, const std::vector<Token>& tokens) const {
  c10::InferenceMode g;
  auto& st = *state.impl_;
  const auto& I = *impl_;
  const std::int32_t N = num_songs();
  if (static_cast<std::int32_t>(tokens.size()) != st.rows)
    throw ArgumentError("world model: Append got " + std::to_string(tokens.size()) + " tokens for " +
                        std::to_string(st.rows) + " histories");
  if (st.rows == 0) return;
  const int64_t B = st.rows;
  std::vector<int64_t> song(static_cast<std::size_t>(B));
  std::vector<float> small(static_cast<std::size_t>(B * kSmallFeatures), 0.f);
  const auto& cfg = I.info.config;
  for (int64_t b = 0; b < B; ++b) {
    const Token& t = tokens[b];
    if (!t.IsBoundary()) CheckSong(t.song, N);
    float* f = &small[static_cast<std::size_t>(b * kSmallFeatures)];
    if (I.factorized()) {
      song[b] = (t.IsBoundary() || cfg.ablation.no_history_songs) ? N : t.song;
      FeedbackFeatures(t, cfg.ablation.no_feedback, f);
    } else {
      song[b] = t.IsBoundary() ? N : t.song;
      if (st.has_last[b]) FeedbackFeatures(st.last[b], false, f);
    }
    TypeFeatures(t, f + kFeedbackFeatures);
  }
  TokenInputs in{torch::tensor(song, torch::kLong).view({B, 1}),
                 torch::from_blob(small.data(), {B, 1, kSmallFeatures}, torch::kFloat).clone()};
  for (std::size_t k = 0; k < I.nets.size(); ++k) {
    auto net = I.nets[k];
    const Tensor z = net->StepEncode(net->EmbedProjected(in, I.proj[k]), st.caches[k], true);
    st.z_last[k] = z.squeeze(1);
  }
  for (int64_t b = 0; b < B; ++b) {
    if (I.session()) st.stats[static_cast<std::size_t>(b)].Add(tokens[b], I.song_means.data());
    st.last[b] = tokens[b];
    st.has_last[b] = true;
    if (tokens[b].IsBoundary() || tokens[b].mode != SessionMode::kNone) st.mode[b] = tokens[b].mode;
  }
}

namespace {

// Logits [B,4] of the standard architecture for one candidate per row (cache not modified).
// `offset`: the prior offset's logits [B,4] (Impl::Offsets) or undefined.
Tensor StandardCandidates(WorldNet& net, const Tensor& proj, const Tensor& offset, KvCache& cache,
                          const WorldModel::State::Impl& st, const std::vector<int64_t>& rows,
                          const std::vector<int64_t>& songs) {
  const int64_t B = static_cast<int64_t>(rows.size());
  std::vector<float> small(static_cast<std::size_t>(B * kSmallFeatures), 0.f);
  for (int64_t i = 0; i < B; ++i) {
    const auto r = rows[i];
    float* f = &small[static_cast<std::size_t>(i * kSmallFeatures)];
    if (st.has_last[r]) FeedbackFeatures(st.last[r], false, f);
    Token cand;
    cand.mode = st.mode[r];
    TypeFeatures(cand, f + kFeedbackFeatures);
  }
  TokenInputs in{torch::tensor(songs, torch::kLong).view({B, 1}),
                 torch::from_blob(small.data(), {B, 1, kSmallFeatures}, torch::kFloat).clone()};
  const Tensor z = net->StepEncode(net->EmbedProjected(in, proj), cache, false);
  const Tensor logits = net->Head(z.squeeze(1), Tensor());
  return offset.defined() ? logits + offset : logits;
}

// A cache whose rows are `rows` of `c` (views, no copy when rows are repeated via expand).
KvCache SelectRows(const KvCache& c, int64_t row, int64_t count) {
  KvCache out;
  out.capacity = c.capacity;
  for (std::size_t l = 0; l < c.k.size(); ++l) {
    out.k.push_back(c.k[l].narrow(0, row, 1).expand({count, -1, -1, -1}));
    out.v.push_back(c.v[l].narrow(0, row, 1).expand({count, -1, -1, -1}));
  }
  out.length.assign(static_cast<std::size_t>(count), c.length[static_cast<std::size_t>(row)]);
  return out;
}

}  // namespace

std::vector<Feedback> WorldModel::Predict(const State& state, const std::vector<std::int32_t>& songs) const {
  c10::InferenceMode g;
  const auto& st = *state.impl_;
  const auto& I = *impl_;
  if (static_cast<std::int32_t>(songs.size()) != st.rows)
    throw ArgumentError("world model: Predict got " + std::to_string(songs.size()) + " songs for " +
                        std::to_string(st.rows) + " histories");
  std::vector<Feedback> out(songs.size());
  if (st.rows == 0) return out;
  std::vector<int64_t> idx(songs.begin(), songs.end()), rows(songs.size());
  for (std::size_t b = 0; b < songs.size(); ++b) CheckSong(songs[b], num_songs()), rows[b] = static_cast<int64_t>(b);
  std::vector<Tensor> probs;
  const Tensor offset = I.Offsets(idx, st.stats, rows);
  for (std::size_t k = 0; k < I.nets.size(); ++k) {
    auto net = I.nets[k];
    Tensor logits;
    if (I.factorized()) {
      logits = net->Head(st.z_last[k], I.head_songs[k].index_select(0, torch::tensor(idx, torch::kLong)));
      if (offset.defined()) logits = logits + offset;
    } else {
      auto& cache = const_cast<KvCache&>(st.caches[k]);  // not modified (commit = false)
      logits = StandardCandidates(net, I.proj[k], offset, cache, st, rows, idx);
    }
    probs.push_back(torch::sigmoid(logits).contiguous());
  }
  for (int s = 0; s < kNumSignals; ++s) {
    const auto acc = probs[I.net_of_signal[s]].accessor<float, 2>();
    for (std::size_t b = 0; b < songs.size(); ++b) {
      float* f = &out[b].engagement;
      f[s] = I.Output(s, acc[static_cast<int64_t>(b)][s]);
    }
  }
  return out;
}

std::vector<Feedback> WorldModel::ScoreCatalogue(const State& state) const {
  c10::InferenceMode g;
  const auto& st = *state.impl_;
  const auto& I = *impl_;
  const int64_t N = num_songs(), B = st.rows;
  std::vector<Feedback> out(static_cast<std::size_t>(B * N));
  for (std::size_t k = 0; k < I.nets.size(); ++k) {
    auto net = I.nets[k];
    std::vector<int> signals;
    for (int s = 0; s < kNumSignals; ++s)
      if (I.net_of_signal[s] == static_cast<int>(k)) signals.push_back(s);
    auto emit = [&](const Tensor& p, int64_t row0) {  // p [rows, N, 4] probabilities
      const auto acc = p.accessor<float, 3>();
      for (int64_t r = 0; r < p.size(0); ++r)
        for (int64_t j = 0; j < N; ++j) {
          float* f = &out[static_cast<std::size_t>((row0 + r) * N + j)].engagement;
          for (int s : signals) f[s] = I.Output(s, acc[r][j][s]);
        }
    };
    if (!I.fused[k].packed.empty()) {
      // The fused head (FactorizedHead) writes this net's signals straight into `out` (Feedback is
      // its [song][signal] layout); a skipped signal gets its constant instead. Rows are spread
      // over the TBB workers in groups of up to kGroup, each group passing over one panel of songs
      // while it is in cache; every (row, song, signal) sum is the same whatever the grouping, so
      // the same numbers for any thread count and batch.
      static_assert(sizeof(Feedback) == 4 * sizeof(float) && offsetof(Feedback, engagement) == 0 &&
                        offsetof(Feedback, rating) == sizeof(float) && offsetof(Feedback, valence) == 2 * sizeof(float) &&
                        offsetof(Feedback, arousal) == 3 * sizeof(float),
                    "Feedback is FactorizedHead's [song][signal] layout");
      constexpr int64_t kGroup = 8;
      const auto& f = I.fused[k];
      const Tensor a = net->HeadZ(st.z_last[k]).contiguous();  // [B, H]
      const float* ap = a.data_ptr<float>();
      const float* off = I.offset_rows.empty() ? nullptr : I.offset_rows.data();
      unsigned mask = 0;
      std::vector<int> skipped;
      for (int s : signals) {
        if (I.info.skipped(s)) skipped.push_back(s);
        else mask |= 1u << s;
      }
      float* o = &out[0].engagement;
      const int64_t groups = (B + kGroup - 1) / kGroup;
      tbb::parallel_for(tbb::blocked_range<int64_t>(0, groups), [&](const tbb::blocked_range<int64_t>& gs) {
        for (int64_t g = gs.begin(); g < gs.end(); ++g) {
          const int64_t r0 = g * kGroup, rc = std::min(kGroup, B - r0);
          if (mask && I.session()) {  // the offsets differ by row: one row at a time
            std::vector<float> row_off(static_cast<std::size_t>(N * 4));
            for (int64_t r = r0; r < r0 + rc; ++r) {
              I.CatalogueOffsets(st.stats[static_cast<std::size_t>(r)], row_off.data());
              FactorizedHead(ap + r * f.h, 1, f.packed.data(), N, f.h, f.w.data(), f.b.data(), row_off.data(), mask,
                             o + r * N * 4);
            }
          } else if (mask) {
            FactorizedHead(ap + r0 * f.h, rc, f.packed.data(), N, f.h, f.w.data(), f.b.data(), off, mask,
                           o + r0 * N * 4);
          }
          for (int s : skipped)
            for (int64_t i = r0 * N; i < (r0 + rc) * N; ++i) o[i * 4 + s] = I.info.skip_prediction[s];
        }
      });
    } else if (I.factorized()) {
      const int64_t chunk = std::max<int64_t>(1, 4'000'000 / std::max<int64_t>(1, N * I.info.config.head_hidden));
      for (int64_t r0 = 0; r0 < B; r0 += chunk) {
        const int64_t rc = std::min(chunk, B - r0);
        const Tensor z = st.z_last[k].narrow(0, r0, rc).unsqueeze(1);          // [rc,1,d]
        Tensor logits = net->Head(z, I.head_songs[k].unsqueeze(0));  // [rc,N,4]
        // Without the candidate song (the -candidate-song ablation) the head gives one row of
        // logits per state, the same for every song.
        if (logits.size(1) == 1) logits = logits.expand({rc, N, 4});
        if (I.session()) {
          Tensor off = torch::empty({rc, N, 4});
          for (int64_t r = 0; r < rc; ++r)
            I.CatalogueOffsets(st.stats[static_cast<std::size_t>(r0 + r)], off[r].data_ptr<float>());
          logits = logits + off;
        } else if (I.offset.defined()) {
          logits = logits + I.offset.narrow(0, 0, N).unsqueeze(0);
        }
        const Tensor p = torch::sigmoid(logits).contiguous();
        emit(p, r0);
      }
    } else {
      const int64_t chunk = 512;
      for (int64_t r = 0; r < B; ++r) {
        std::vector<Tensor> parts;
        for (int64_t j0 = 0; j0 < N; j0 += chunk) {
          const int64_t jc = std::min(chunk, N - j0);
          KvCache view = SelectRows(st.caches[k], r, jc);
          std::vector<int64_t> rows(static_cast<std::size_t>(jc), r), songs(static_cast<std::size_t>(jc));
          for (int64_t j = 0; j < jc; ++j) songs[j] = j0 + j;
          parts.push_back(torch::sigmoid(StandardCandidates(net, I.proj[k], I.Offsets(songs, st.stats, rows), view, st, rows, songs)));
        }
        emit(torch::cat(parts, 0).unsqueeze(0).contiguous(), r);
      }
    }
  }
  return out;
}

std::vector<std::vector<Feedback>> WorldModel::PredictSequences(const std::vector<History>& hs) const {
  c10::InferenceMode g;
  const auto& I = *impl_;
  const std::int32_t N = num_songs();
  std::vector<std::vector<Feedback>> out(hs.size());
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (std::size_t u = 0; u < hs.size(); ++u) {
    out[u].assign(hs[u].size(), Feedback{nan, nan, nan, nan});
    for (const auto& t : hs[u])
      if (!t.IsBoundary()) CheckSong(t.song, N);
  }
  // Batches of similar length, bounded in tokens and in attention size.
  std::vector<std::size_t> order(hs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return hs[a].size() < hs[b].size(); });
  std::size_t i = 0;
  while (i < order.size()) {
    std::vector<std::size_t> members;
    while (i < order.size()) {
      const int64_t t = std::max<int64_t>(1, static_cast<int64_t>(hs[order[i]].size()));
      const int64_t n = static_cast<int64_t>(members.size()) + 1;
      if (!members.empty() && (n * t > 16384 || n * (t + 1) * (t + 1) * I.info.config.heads > 40'000'000)) break;
      members.push_back(order[i++]);
    }
    std::vector<std::pair<const Token*, int64_t>> spans;
    for (auto m : members) spans.emplace_back(hs[m].data(), static_cast<int64_t>(hs[m].size()));
    const SequenceBatch b = MakeSequenceBatch(spans, I.info.config, N, I.session() ? &I.song_means : nullptr);
    std::vector<Tensor> probs;
    for (auto net : I.nets)
      probs.push_back(torch::sigmoid(ForwardBatch(net, b, I.cat, I.offset, I.reduction.session_w)).contiguous());
    for (int s = 0; s < kNumSignals; ++s) {
      const auto acc = probs[I.net_of_signal[s]].accessor<float, 3>();
      for (std::size_t r = 0; r < members.size(); ++r) {
        const auto& h = hs[members[r]];
        for (std::size_t t = 0; t < h.size(); ++t) {
          if (h[t].IsBoundary()) continue;
          (&out[members[r]][t].engagement)[s] = I.Output(s, acc[static_cast<int64_t>(r)][static_cast<int64_t>(t)][s]);
        }
      }
    }
  }
  return out;
}

void SetTorchThreads(int n) {
  if (n < 1) throw ArgumentError("torch threads must be >= 1");
  torch::set_num_threads(n);
}
int TorchThreads() { return torch::get_num_threads(); }

}  // namespace amrs::worldmodel
