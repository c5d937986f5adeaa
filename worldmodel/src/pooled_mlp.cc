// The pooled-MLP baseline: training (moved from validate.cc unchanged), checkpoints, and the
// incremental state that lets it serve as a world.
#include "amrs/worldmodel/pooled_mlp.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "amrs/core/error.h"
#include "amrs/core/rng.h"
#include "amrs/data/tokens.h"
#include "archive.h"
#include "net.h"

namespace amrs::worldmodel {

using torch::Tensor;

namespace {

constexpr const char* kFormat = "amrs-pooled-mlp";

// Features of every song token: [mean of earlier token features ; log count ; candidate song].
struct PooledData {
  Tensor x, y, mask;
};

// The running part of the features: sums of the earlier tokens' features and their count.
struct Pool {
  std::vector<double> sum;
  double count = 0;
  explicit Pool(int f_tok = 0) : sum(static_cast<std::size_t>(f_tok), 0.0) {}
  // Appends the input row of candidate `song` to x.
  void Row(int song, const at::TensorAccessor<float, 2>& acc, int k, std::vector<float>& x) const {
    for (double s : sum) x.push_back(count > 0 ? static_cast<float>(s / count) : 0.f);
    x.push_back(static_cast<float>(std::log1p(count) / 5.0));
    for (int i = 0; i < k; ++i) x.push_back(acc[song][i]);
  }
  void Add(const Token& t, const at::TensorAccessor<float, 2>& acc, int k) {
    float small[kSmallFeatures];
    FeedbackFeatures(t, false, small);
    TypeFeatures(t, small + kFeedbackFeatures);
    for (int i = 0; i < kSmallFeatures; ++i) sum[i] += small[i];
    if (!t.IsBoundary())
      for (int i = 0; i < k; ++i) sum[kSmallFeatures + i] += acc[t.song][i];
    count += 1;
  }
};

PooledData PooledFeatures(const std::vector<const History*>& hs, const Tensor& songs, int k) {
  const int f_tok = kSmallFeatures + k;
  const int f_in = f_tok + 1 + k;
  std::vector<float> x, y, m;
  const auto acc = songs.accessor<float, 2>();
  for (const History* h : hs) {
    Pool pool(f_tok);
    for (const Token& t : *h) {
      if (!t.IsBoundary()) {
        pool.Row(t.song, acc, k, x);
        const float yy[4] = {t.engagement, t.rating, t.valence, t.arousal};
        const float mm[4] = {t.has_engagement ? 1.f : 0.f, t.has_rating ? 1.f : 0.f, t.has_affect ? 1.f : 0.f,
                             t.has_affect ? 1.f : 0.f};
        y.insert(y.end(), yy, yy + 4);
        m.insert(m.end(), mm, mm + 4);
      }
      pool.Add(t, acc, k);
    }
  }
  const int64_t n = static_cast<int64_t>(y.size() / 4);
  PooledData d;
  d.x = torch::from_blob(x.data(), {n, f_in}, torch::kFloat).clone();
  d.y = torch::from_blob(y.data(), {n, 4}, torch::kFloat).clone();
  d.mask = torch::from_blob(m.data(), {n, 4}, torch::kFloat).clone();
  return d;
}

Tensor PooledLoss(const Tensor& logits, const Tensor& y, const Tensor& mask) {
  const Tensor p = torch::sigmoid(logits);
  const Tensor se = (p - y).pow(2);
  const Tensor bce = torch::binary_cross_entropy_with_logits(logits.select(1, 1), y.select(1, 1), {}, {},
                                                             at::Reduction::None);
  const Tensor per = torch::stack({se.select(1, 0), bce, se.select(1, 2), se.select(1, 3)}, 1);
  return (per * mask).sum(0) / mask.sum(0).clamp_min(1.0);
}

torch::nn::Sequential MakeMlp(int f_in, int hidden) {
  return torch::nn::Sequential(torch::nn::Linear(f_in, hidden), torch::nn::ReLU(), torch::nn::Linear(hidden, hidden),
                               torch::nn::ReLU(), torch::nn::Linear(hidden, 4));
}

std::string InfoJson(const PooledMlpInfo& i) {
  nlohmann::json j;
  j["format"] = kFormat;
  j["version"] = 1;
  j["dataset_fingerprint"] = i.dataset_fingerprint;
  j["split_seed"] = i.split_seed;
  j["split"] = i.split;
  j["family"] = i.family;
  j["components"] = i.components;
  j["hidden"] = i.hidden;
  j["song_dim"] = i.song_dim;
  j["num_songs"] = i.num_songs;
  j["epochs"] = i.epochs;
  j["best_epoch"] = i.best_epoch;
  j["best_val_loss"] = i.best_val_loss;
  j["seed"] = i.seed;
  return j.dump();
}

PooledMlpInfo InfoFrom(const std::string& s, const std::string& path) {
  try {
    const auto j = nlohmann::json::parse(s);
    if (j.value("format", "") != kFormat) throw InputError(path + ": not a pooled-MLP checkpoint");
    if (j.at("version").get<int>() != 1)
      throw InputError(path + ": unsupported pooled-MLP checkpoint version " + j.at("version").dump());
    PooledMlpInfo i;
    i.dataset_fingerprint = j.at("dataset_fingerprint").get<std::string>();
    i.split_seed = j.at("split_seed").get<std::uint64_t>();
    i.split = j.at("split").get<std::int32_t>();
    i.family = j.at("family").get<std::string>();
    i.components = j.at("components").get<std::int32_t>();
    i.hidden = j.at("hidden").get<std::int32_t>();
    i.song_dim = j.at("song_dim").get<std::int32_t>();
    i.num_songs = j.at("num_songs").get<std::int32_t>();
    i.epochs = j.at("epochs").get<std::int32_t>();
    i.best_epoch = j.at("best_epoch").get<std::int32_t>();
    i.best_val_loss = j.at("best_val_loss").get<double>();
    i.seed = j.at("seed").get<std::uint64_t>();
    if (i.components < 0 || i.hidden < 1 || i.hidden > ModelConfig::kMaxWidth)
      throw InputError(path + ": bad pooled-MLP metadata (components " + std::to_string(i.components) +
                       ", hidden " + std::to_string(i.hidden) + ")");
    return i;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": bad pooled-MLP checkpoint metadata: " + e.what());
  }
}

}  // namespace

struct PooledMlp::Impl {
  PooledMlpInfo info;
  Catalogue catalogue;
  SongReduction reduction;
  Tensor songs;  // [N+1, k]
  int k = 0;
  mutable torch::nn::Sequential mlp{nullptr};  // forward is not const in torch; used read-only

  int FTok() const { return kSmallFeatures + k; }
  int FIn() const { return FTok() + 1 + k; }
  // sigmoid(mlp(x)) for rows of x (n x FIn) as Feedback.
  std::vector<Feedback> Forward(std::vector<float>& x) const {
    c10::InferenceMode g;
    const int64_t n = static_cast<int64_t>(x.size()) / FIn();
    std::vector<Feedback> out(static_cast<std::size_t>(n));
    if (n == 0) return out;
    const Tensor p = torch::sigmoid(mlp->forward(torch::from_blob(x.data(), {n, FIn()}, torch::kFloat))).contiguous();
    const auto acc = p.accessor<float, 2>();
    for (int64_t r = 0; r < n; ++r) out[r] = Feedback{acc[r][0], acc[r][1], acc[r][2], acc[r][3]};
    return out;
  }
  void CheckSong(std::int32_t s) const {
    if (s < 0 || s >= catalogue.size())
      throw ArgumentError("pooled-MLP world: song index " + std::to_string(s) + " is outside [0, " +
                          std::to_string(catalogue.size()) + ")");
  }
};

struct PooledMlp::State::Impl {
  std::vector<Pool> rows;
};

PooledMlp::State::State(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PooledMlp::State::~State() = default;
std::int32_t PooledMlp::State::size() const { return static_cast<std::int32_t>(impl_->rows.size()); }

PooledMlp::PooledMlp(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PooledMlp::~PooledMlp() = default;
const PooledMlpInfo& PooledMlp::info() const { return impl_->info; }
const Catalogue& PooledMlp::catalogue() const { return impl_->catalogue; }
std::string PooledMlp::Id() const {
  return "pooled-mlp:" + impl_->info.dataset_fingerprint.substr(0, 12) + ":split-" + std::to_string(impl_->info.split);
}

std::shared_ptr<const PooledMlp> PooledMlp::Train(const data::Dataset& d, const data::Split& split,
                                                  std::int32_t split_index, const MlpBaselineOptions& o) {
  if (o.epochs < 1 || o.hidden < 1 || o.components < 0)
    throw ArgumentError("pooled MLP: epochs and hidden must be >= 1, components >= 0");
  auto impl = std::make_unique<Impl>();
  const data::TokenView view(d);
  impl->catalogue = d.MakeCatalogue(o.family);
  impl->reduction = FitReduction(impl->catalogue, o.components);
  impl->songs = SongInputs(impl->catalogue, impl->reduction);
  impl->k = static_cast<int>(impl->songs.size(1));
  const Tensor& songs = impl->songs;
  const int k = impl->k;
  auto collect = [&](const std::vector<std::int32_t>& users) {
    std::vector<const History*> v;
    for (auto u : users) v.push_back(&view.User(u));
    return PooledFeatures(v, songs, k);
  };
  const PooledData train = collect(split.train), val = collect(split.val);
  const int f_in = static_cast<int>(train.x.size(1));
  torch::nn::Sequential mlp = MakeMlp(f_in, o.hidden);
  {  // deterministic init from our own RNG
    torch::NoGradGuard g;
    for (auto& p : mlp->named_parameters()) {
      std::vector<float> v(static_cast<std::size_t>(p.value().numel()));
      Rng rng(o.seed, "pooled-mlp-init/" + p.key());
      const bool bias = p.value().dim() == 1;
      const double b = bias ? 0.0 : 1.0 / std::sqrt(static_cast<double>(p.value().size(1)));
      for (auto& x : v) x = bias ? 0.f : static_cast<float>(rng.Uniform(-b, b));
      p.value().copy_(torch::from_blob(v.data(), p.value().sizes(), torch::kFloat));
    }
  }
  // Same loss weighting as the world model (variance-normalized MSE, plain BCE).
  Tensor w = torch::ones({4});
  for (int s : {0, 2, 3}) {
    const Tensor m = train.mask.select(1, s) > 0;
    const Tensor ys = train.y.select(1, s).masked_select(m);
    if (ys.numel() > 1) w[s] = 0.25 / std::max(1e-4, ys.var().item<double>());
  }
  torch::optim::AdamW opt(mlp->parameters(), torch::optim::AdamWOptions(1e-3).weight_decay(0.01));
  std::vector<Tensor> best;
  double best_val = std::numeric_limits<double>::infinity();
  int best_epoch = 0;
  const int64_t n = train.x.size(0), bs = 512;
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    mlp->train();
    Rng rng(o.seed, "pooled-mlp-order", static_cast<std::uint64_t>(epoch));
    std::vector<int64_t> perm(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) perm[i] = i;
    for (int64_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.UniformInt(static_cast<std::uint64_t>(i + 1))]);
    const Tensor idx_all = torch::tensor(perm, torch::kLong);
    for (int64_t b0 = 0; b0 < n; b0 += bs) {
      const Tensor idx = idx_all.narrow(0, b0, std::min(bs, n - b0));
      const Tensor loss = (PooledLoss(mlp->forward(train.x.index_select(0, idx)), train.y.index_select(0, idx),
                                      train.mask.index_select(0, idx)) * w).sum();
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
    torch::NoGradGuard g;
    mlp->eval();
    const double v = (PooledLoss(mlp->forward(val.x), val.y, val.mask) * w).sum().item<double>();
    if (v < best_val || best.empty()) {  // the first epoch when the validation loss is undefined
      if (v < best_val) best_val = v;
      best_epoch = epoch + 1;
      best.clear();
      for (const auto& p : mlp->parameters()) best.push_back(p.detach().clone());
    }
  }
  {
    torch::NoGradGuard g;
    auto params = mlp->parameters();
    for (std::size_t i = 0; i < params.size(); ++i) params[i].copy_(best[i]);
  }
  mlp->eval();
  impl->mlp = mlp;
  auto& info = impl->info;
  info.dataset_fingerprint = data::Fingerprint(d);
  info.split_seed = d.split_seed;
  info.split = split_index;
  info.family = o.family;
  info.components = k;
  info.hidden = o.hidden;
  info.song_dim = impl->catalogue.dim;
  info.num_songs = impl->catalogue.size();
  info.epochs = o.epochs;
  info.best_epoch = best_epoch;
  info.best_val_loss = best_val;
  info.seed = o.seed;
  return std::shared_ptr<const PooledMlp>(new PooledMlp(std::move(impl)));
}

void PooledMlp::Save(const std::string& path) const {
  torch::serialize::OutputArchive a;
  a.write("meta", c10::IValue(InfoJson(impl_->info)));
  if (impl_->reduction.active()) {
    a.write("song_pca_mean", impl_->reduction.mean);
    a.write("song_pca_basis", impl_->reduction.basis);
  }
  WriteParams(a, "mlp", *impl_->mlp);
  SaveArchive(a, path, "pooled-MLP checkpoint");
}

bool PooledMlp::IsCheckpoint(const std::string& path) {
  try {
    auto a = OpenArchive(path, "pooled-MLP checkpoint");
    c10::IValue meta;
    if (!a.try_read("meta", meta) || !meta.isString()) return false;
    return nlohmann::json::parse(meta.toStringRef()).value("format", "") == kFormat;
  } catch (const std::exception&) {
    return false;
  }
}

std::shared_ptr<const PooledMlp> PooledMlp::Load(const std::string& path, const data::Dataset& d) {
  auto a = OpenArchive(path, "pooled-MLP checkpoint");
  const std::string meta = ReadMeta(a, path, "not a pooled-MLP checkpoint");
  auto impl = std::make_unique<Impl>();
  impl->info = InfoFrom(meta, path);
  const auto& info = impl->info;
  data::CheckTrainedOn(d, "pooled MLP " + path, info.dataset_fingerprint, info.split_seed);
  try {
    impl->catalogue = d.MakeCatalogue(info.family);
  } catch (const ArgumentError& e) {
    throw InputError(path + ": " + e.what());
  }
  const auto& cat = impl->catalogue;
  if (cat.dim != info.song_dim || cat.size() != info.num_songs)
    throw InputError(path + ": expects " + std::to_string(info.num_songs) + " songs of dimension " +
                     std::to_string(info.song_dim) + " ('" + info.family + "'), the dataset has " +
                     std::to_string(cat.size()) + " of dimension " + std::to_string(cat.dim));
  if (info.components != cat.dim) {
    Tensor mean, basis;
    if (!a.try_read("song_pca_mean", mean) || !a.try_read("song_pca_basis", basis))
      throw InputError(path + ": the song reduction (song_pca_mean/basis) is missing");
    if (mean.dim() != 1 || mean.size(0) != cat.dim || basis.dim() != 2 || basis.size(0) != cat.dim ||
        basis.size(1) != info.components)
      throw InputError(path + ": the song reduction does not match " + std::to_string(cat.dim) + "-d embeddings and " +
                       std::to_string(info.components) + " components");
    impl->reduction.mean = mean.to(torch::kFloat);
    impl->reduction.basis = basis.to(torch::kFloat);
  }
  impl->songs = SongInputs(cat, impl->reduction);
  impl->k = static_cast<int>(impl->songs.size(1));
  impl->mlp = MakeMlp(impl->FIn(), info.hidden);
  ReadParams(a, "mlp", *impl->mlp, path);
  impl->mlp->eval();
  return std::shared_ptr<const PooledMlp>(new PooledMlp(std::move(impl)));
}

std::vector<std::vector<Feedback>> PooledMlp::PredictSequences(const std::vector<History>& hs) const {
  std::vector<const History*> ptrs;
  for (const auto& h : hs) ptrs.push_back(&h);
  PooledData td = PooledFeatures(ptrs, impl_->songs, impl_->k);
  c10::InferenceMode g;
  const Tensor p = torch::sigmoid(impl_->mlp->forward(td.x)).contiguous();
  const auto acc = p.accessor<float, 2>();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<std::vector<Feedback>> out(hs.size());
  int64_t r = 0;
  for (std::size_t u = 0; u < hs.size(); ++u) {
    out[u].assign(hs[u].size(), Feedback{nan, nan, nan, nan});
    for (std::size_t t = 0; t < hs[u].size(); ++t)
      if (!hs[u][t].IsBoundary()) {
        out[u][t] = Feedback{acc[r][0], acc[r][1], acc[r][2], acc[r][3]};
        ++r;
      }
  }
  return out;
}

std::unique_ptr<PooledMlp::State> PooledMlp::Encode(const std::vector<History>& hs) const {
  auto st = std::make_unique<State::Impl>();
  const auto acc = impl_->songs.accessor<float, 2>();
  for (const auto& h : hs) {
    Pool p(impl_->FTok());
    for (const Token& t : h) {
      if (!t.IsBoundary()) impl_->CheckSong(t.song);
      p.Add(t, acc, impl_->k);
    }
    st->rows.push_back(std::move(p));
  }
  return std::unique_ptr<State>(new State(std::move(st)));
}

void PooledMlp::Append(State& s, const std::vector<Token>& tokens) const {
  auto& rows = s.impl_->rows;
  if (tokens.size() != rows.size())
    throw ArgumentError("pooled-MLP world: Append got " + std::to_string(tokens.size()) + " tokens for " +
                        std::to_string(rows.size()) + " histories");
  const auto acc = impl_->songs.accessor<float, 2>();
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (!tokens[i].IsBoundary()) impl_->CheckSong(tokens[i].song);
    rows[i].Add(tokens[i], acc, impl_->k);
  }
}

std::vector<Feedback> PooledMlp::Predict(const State& s, const std::vector<std::int32_t>& songs) const {
  const auto& rows = s.impl_->rows;
  if (songs.size() != rows.size())
    throw ArgumentError("pooled-MLP world: Predict got " + std::to_string(songs.size()) + " songs for " +
                        std::to_string(rows.size()) + " histories");
  const auto acc = impl_->songs.accessor<float, 2>();
  std::vector<float> x;
  for (std::size_t i = 0; i < songs.size(); ++i) {
    impl_->CheckSong(songs[i]);
    rows[i].Row(songs[i], acc, impl_->k, x);
  }
  return impl_->Forward(x);
}

std::vector<Feedback> PooledMlp::ScoreCatalogue(const State& s) const {
  const auto& rows = s.impl_->rows;
  const auto acc = impl_->songs.accessor<float, 2>();
  std::vector<float> x;
  for (const auto& r : rows)
    for (std::int32_t j = 0; j < impl_->catalogue.size(); ++j) r.Row(j, acc, impl_->k, x);
  return impl_->Forward(x);
}

}  // namespace amrs::worldmodel
