#include "policy_net.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <sstream>
#include <map>
#include <mutex>

#include "amrs/core/error.h"
#include "amrs/core/memory.h"
#include "amrs/core/rng.h"
#include "amrs/data/dataset.h"
#include "amrs/data/tokens.h"
#include "archive.h"

namespace amrs::agents {

using torch::Tensor;

void PolicyConfig::Validate() const {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw ArgumentError("policy config: " + what);
  };
  need(!family.empty(), "'family' is empty");
  need(d_model >= 4 && heads >= 1 && d_model % heads == 0, "'d_model' must be a positive multiple of 'heads'");
  need(layers >= 1 && layers <= 16, "'layers' must be in [1, 16]");
  need(ff >= 1, "'ff' must be >= 1");
  need(d_model <= kMaxWidth, "'d_model' must be at most " + std::to_string(kMaxWidth));
  need(heads <= kMaxHeads, "'heads' must be at most " + std::to_string(kMaxHeads));
  need(ff <= kMaxFeedForward, "'ff' must be at most " + std::to_string(kMaxFeedForward));
  // Weights, gradients, AdamW's two moments (and DPO's frozen reference): 4 bytes each, x 5.
  const double d = d_model, params = layers * (4 * d * d + 2 * d * ff + 9 * d + ff) + 2 * 1024 * d + 16 * d;
  CheckMemoryEstimate("a policy with d_model " + std::to_string(d_model) + ", ff " + std::to_string(ff) + " and " +
                          std::to_string(layers) + " layers",
                      20.0 * params);
  need(max_context >= 2 && max_context <= 4096, "'max_context' must be in [2, 4096]");
  need(std::isfinite(tau) && tau > 0 && tau <= 10, "'tau' must be in (0, 10]");
}

std::string PolicyConfig::ToJson() const {
  nlohmann::json j;
  j["family"] = family, j["d_model"] = d_model, j["heads"] = heads, j["layers"] = layers, j["ff"] = ff;
  j["max_context"] = max_context, j["tau"] = tau;
  return j.dump();
}

PolicyConfig PolicyConfig::FromJson(const std::string& s, const std::string& source) {
  try {
    const auto j = nlohmann::json::parse(s);
    PolicyConfig c;
    c.family = j.at("family").get<std::string>();
    c.d_model = j.at("d_model").get<std::int32_t>();
    c.heads = j.at("heads").get<std::int32_t>();
    c.layers = j.at("layers").get<std::int32_t>();
    c.ff = j.at("ff").get<std::int32_t>();
    c.max_context = j.at("max_context").get<std::int32_t>();
    c.tau = j.at("tau").get<double>();
    c.Validate();
    return c;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(source + ": bad policy configuration: " + e.what());
  } catch (const ArgumentError& e) {
    throw InputError(source + ": " + e.what());
  }
}

std::string PolicyInfoToJson(const PolicyInfo& i) {
  nlohmann::json j;
  j["format"] = "amrs-policy";
  j["version"] = kPolicyCheckpointVersion;
  j["kind"] = i.kind;
  j["config"] = nlohmann::json::parse(i.config.ToJson());
  j["dataset_fingerprint"] = i.dataset_fingerprint;
  j["split_seed"] = i.split_seed;
  j["num_songs"] = i.num_songs, j["song_dim"] = i.song_dim, j["split"] = i.split;
  j["window_seed"] = i.window_seed, j["seed"] = i.seed, j["epochs"] = i.epochs, j["best_epoch"] = i.best_epoch;
  j["best_val_loss"] = i.best_val_loss;
  j["reference"] = i.reference, j["world"] = i.world, j["utility"] = i.utility.ToString();
  j["beta"] = i.beta, j["pairs"] = i.pairs;
  if (!i.options.empty()) j["options"] = i.options;
  return j.dump();
}

namespace {

std::string Exact(double v) {
  std::ostringstream os;
  os << std::setprecision(17) << v;
  return os.str();
}

}  // namespace

std::map<std::string, std::string> CopycatTrainingOptions(const CopycatOptions& o) {
  return {{"model", o.model.ToJson()},
          {"split", std::to_string(o.split)},
          {"window_seed", std::to_string(o.window_seed)},
          {"seed", std::to_string(o.seed)},
          {"epochs", std::to_string(o.epochs)},
          {"batch", std::to_string(o.batch)},
          {"negatives", std::to_string(o.negatives)},
          {"lr", Exact(o.lr)},
          {"weight_decay", Exact(o.weight_decay)},
          {"max_train_users", std::to_string(o.max_train_users)}};
}

std::map<std::string, std::string> DpoTrainingOptions(const DpoOptions& o, const std::string& world_id,
                                                      const std::map<std::string, std::string>& reference_options) {
  std::map<std::string, std::string> m = {{"reference", o.reference},
                                          {"world", world_id},
                                          {"utility", o.utility.ToString()},
                                          {"beta", Exact(o.beta)},
                                          {"epochs", std::to_string(o.epochs)},
                                          {"batch", std::to_string(o.batch)},
                                          {"lr", Exact(o.lr)},
                                          {"seed", std::to_string(o.seed)},
                                          {"pool", std::to_string(o.pairs.pool)},
                                          {"engagement_threshold", Exact(o.pairs.engagement_threshold)},
                                          {"max_pairs", std::to_string(o.pairs.max_pairs)},
                                          {"require_better", o.pairs.require_better ? "1" : "0"}};
  for (const auto& [k, v] : reference_options) m["reference." + k] = v;
  return m;
}

namespace {

PolicyInfo InfoFromJson(const std::string& s, const std::string& source) {
  try {
    const auto j = nlohmann::json::parse(s);
    if (j.value("format", "") != "amrs-policy") throw InputError(source + ": not an AMRS policy checkpoint");
    if (j.at("version").get<int>() == 1)
      throw InputError(source + ": policy checkpoint version 1 encodes positions as the distance from the history's "
                                "end (trained at distances > 0, queried at 0); retrain it with this amrs "
                                "(amrs train-policy, docs/policies.md)");
    if (j.at("version").get<int>() != kPolicyCheckpointVersion)
      throw InputError(source + ": unsupported policy checkpoint version " + j.at("version").dump());
    PolicyInfo i;
    i.kind = j.at("kind").get<std::string>();
    i.config = PolicyConfig::FromJson(j.at("config").dump(), source);
    i.dataset_fingerprint = j.at("dataset_fingerprint").get<std::string>();
    i.split_seed = j.value("split_seed", std::uint64_t{0});  // absent before split seeds were recorded
    i.num_songs = j.at("num_songs").get<std::int32_t>();
    i.song_dim = j.at("song_dim").get<std::int32_t>();
    i.split = j.at("split").get<std::int32_t>();
    i.window_seed = j.at("window_seed").get<std::uint64_t>();
    i.seed = j.at("seed").get<std::uint64_t>();
    i.epochs = j.at("epochs").get<std::int32_t>();
    i.best_epoch = j.at("best_epoch").get<std::int32_t>();
    i.best_val_loss = j.at("best_val_loss").get<double>();
    i.reference = j.at("reference").get<std::string>();
    i.world = j.at("world").get<std::string>();
    i.utility = Utility::Parse(j.at("utility").get<std::string>());
    i.beta = j.at("beta").get<double>();
    i.pairs = j.at("pairs").get<std::int64_t>();
    if (j.contains("options"))  // absent before the training options were recorded
      i.options = j.at("options").get<std::map<std::string, std::string>>();
    return i;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(source + ": bad policy checkpoint metadata: " + e.what());
  }
}

PolicyInfo ReadInfo(torch::serialize::InputArchive& a, const std::string& path) {
  const std::string meta = worldmodel::ReadMeta(a, path, "not an AMRS policy checkpoint");
  return InfoFromJson(meta, path);
}

}  // namespace

PolicyInfo ReadPolicyInfo(const std::string& path) {
  auto a = worldmodel::OpenArchive(path, "policy checkpoint");
  return ReadInfo(a, path);
}

// ---------------------------------------------------------------------------------------------

PolicyBlockImpl::PolicyBlockImpl(int d, int heads, int ff) {
  ln1_ = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  ln2_ = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  attn_ = register_module("attn", torch::nn::MultiheadAttention(torch::nn::MultiheadAttentionOptions(d, heads)));
  fc1_ = register_module("fc1", torch::nn::Linear(d, ff));
  fc2_ = register_module("fc2", torch::nn::Linear(ff, d));
}

Tensor PolicyBlockImpl::forward(Tensor x, const Tensor& mask) {
  const Tensor h = ln1_(x);
  x = x + std::get<0>(attn_->forward(h, h, h, Tensor(), /*need_weights=*/false, mask));
  return x + fc2_(torch::gelu(fc1_(ln2_(x))));
}

PolicyNetImpl::PolicyNetImpl(const PolicyConfig& c, int song_dim) : config_(c) {
  c.Validate();
  in_song_ = register_module("in_song", torch::nn::Linear(song_dim, c.d_model));
  in_small_ = register_module("in_small", torch::nn::Linear(data::kSmallFeatures, c.d_model));
  pos_ = register_module("pos", torch::nn::Embedding(c.max_context, c.d_model));
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int l = 0; l < c.layers; ++l) blocks_->push_back(PolicyBlock(c.d_model, c.heads, c.ff));
  ln_f_ = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d_model})));
  head1_ = register_module("head1", torch::nn::Linear(c.d_model, c.d_model));
  head2_ = register_module("head2", torch::nn::Linear(c.d_model, song_dim));
}

void PolicyNetImpl::Initialize(std::uint64_t seed) {
  torch::NoGradGuard guard;
  for (auto& item : named_parameters()) {
    const std::string& name = item.key();
    Tensor& p = item.value();
    std::vector<float> v(static_cast<std::size_t>(p.numel()));
    Rng rng(seed, "policy-init/" + name);
    const bool is_bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    if (is_bias) {
      std::fill(v.begin(), v.end(), 0.f);
    } else if (name.find("ln") != std::string::npos) {
      std::fill(v.begin(), v.end(), 1.f);
    } else if (name.rfind("pos", 0) == 0) {
      for (auto& x : v) x = static_cast<float>(rng.Normal(0, 0.02));
    } else {
      const double bound = 1.0 / std::sqrt(static_cast<double>(p.size(1)));
      for (auto& x : v) x = static_cast<float>(rng.Uniform(-bound, bound));
    }
    p.copy_(torch::from_blob(v.data(), p.sizes(), torch::kFloat));
  }
}

Tensor PolicyNetImpl::Hidden(const PolicyInputs& in, const Tensor& songs) {
  const std::int64_t t = in.song.size(0);
  Tensor x = in_song_(songs.index_select(0, in.song.reshape({-1})).reshape({t, in.song.size(1), -1})) +
             in_small_(in.small) + pos_(in.position);
  const Tensor mask = torch::triu(torch::full({t, t}, -std::numeric_limits<float>::infinity()), 1);
  for (const auto& b : *blocks_) x = b->as<PolicyBlock>()->forward(x, mask);
  return ln_f_(x);
}

Tensor PolicyNetImpl::Head(const Tensor& h) { return head2_(torch::gelu(head1_(h))); }

Tensor PolicyNetImpl::forward(const PolicyInputs& in, const Tensor& songs) { return Head(Hidden(in, songs)); }

namespace {
// Index tensors {position, row} of each row's last token.
std::pair<Tensor, Tensor> LastPositions(const PolicyInputs& in) {
  std::vector<std::int64_t> last(in.lengths.size());
  for (std::size_t b = 0; b < last.size(); ++b) last[b] = in.lengths[b] - 1;
  return {torch::tensor(last, torch::kLong), torch::arange(static_cast<std::int64_t>(last.size()), torch::kLong)};
}
}  // namespace

Tensor PolicyNetImpl::Last(const PolicyInputs& in, const Tensor& songs) {
  const auto [idx, rows] = LastPositions(in);
  return forward(in, songs).index({idx, rows});
}

Tensor PolicyNetImpl::LastOnly(const PolicyInputs& in, const Tensor& songs) {
  const auto [idx, rows] = LastPositions(in);
  return Head(Hidden(in, songs).index({idx, rows}));
}

PolicyInputs MakePolicyInputs(const std::vector<std::pair<const Token*, std::int64_t>>& spans, std::int32_t num_songs,
                              std::int32_t max_context) {
  PolicyInputs in;
  const std::int64_t b = static_cast<std::int64_t>(spans.size());
  if (b == 0) throw ArgumentError("policy: empty batch");
  std::int64_t t = 1;
  for (const auto& [tok, n] : spans) {
    if (n < 1) throw ArgumentError("policy: a history is empty (the policy needs at least one token)");
    const std::int64_t kept = std::min<std::int64_t>(n, max_context);
    in.lengths.push_back(kept);
    in.offsets.push_back(n - kept);
    t = std::max(t, kept);
  }
  std::vector<std::int64_t> song(static_cast<std::size_t>(t * b), num_songs), pos(static_cast<std::size_t>(t * b), 0);
  std::vector<float> small(static_cast<std::size_t>(t * b * data::kSmallFeatures), 0.f);
  for (std::int64_t r = 0; r < b; ++r) {
    const Token* tok = spans[r].first + in.offsets[r];
    const std::int64_t n = in.lengths[r];
    for (std::int64_t i = 0; i < n; ++i) {
      const std::size_t at = static_cast<std::size_t>(i * b + r);
      if (!tok[i].IsBoundary()) song[at] = tok[i].song;
      pos[at] = i;  // from the span's first kept token: causal, so every prefix is encoded as when it is queried
      float* f = small.data() + at * data::kSmallFeatures;
      data::FeedbackFeatures(tok[i], false, f);
      data::TypeFeatures(tok[i], f + data::kFeedbackFeatures);
    }
  }
  in.song = torch::tensor(song, torch::kLong).reshape({t, b});
  in.position = torch::tensor(pos, torch::kLong).reshape({t, b});
  in.small = torch::from_blob(small.data(), {t, b, data::kSmallFeatures}, torch::kFloat).clone();
  return in;
}

Tensor UnitCatalogue(const Catalogue& c) {
  const std::int64_t n = c.size(), d = c.dim;
  Tensor e = torch::zeros({n + 1, d});
  e.narrow(0, 0, n).copy_(torch::from_blob(const_cast<float*>(c.embedding.data()), {n, d}, torch::kFloat));
  const Tensor norm = e.narrow(0, 0, n).norm(2, 1, true).clamp_min(1e-8);
  e.narrow(0, 0, n).div_(norm);
  return e;
}

Tensor CatalogueLogits(const Tensor& pred, const Tensor& songs, double tau) {
  const Tensor unit = pred / pred.norm(2, -1, true).clamp_min(1e-8);
  return torch::matmul(unit, songs.narrow(0, 0, songs.size(0) - 1).t()) / tau;
}

// ---------------------------------------------------------------------------------------------

void SavePolicy(const std::string& path, const PolicyInfo& info, PolicyNet& net) {
  torch::serialize::OutputArchive a;
  a.write("meta", c10::IValue(PolicyInfoToJson(info)));
  worldmodel::WriteParams(a, "net", *net);
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  worldmodel::SaveArchive(a, path, "policy checkpoint");
}

PolicyNet LoadPolicyNet(const std::string& path, PolicyInfo* info) {
  auto a = worldmodel::OpenArchive(path, "policy checkpoint");
  const PolicyInfo i = ReadInfo(a, path);
  if (i.song_dim < 1 || i.num_songs < 1) throw InputError(path + ": bad catalogue size in the policy metadata");
  PolicyNet net(i.config, i.song_dim);
  worldmodel::ReadParams(a, "net", *net, path);
  net->eval();
  if (info) *info = i;
  return net;
}

std::shared_ptr<const LoadedPolicy> LoadPolicyFor(const std::string& path, const std::string& kind,
                                                  const data::Dataset& dataset, const std::string& fingerprint) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const LoadedPolicy>> cache;
  std::lock_guard<std::mutex> lock(mu);
  const std::string key = kind + "\n" + path + "\n" + std::to_string(std::filesystem::exists(path)
                                                                         ? std::filesystem::last_write_time(path).time_since_epoch().count()
                                                                         : 0) +
                          "\n" + fingerprint;
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  auto p = std::make_shared<LoadedPolicy>();
  p->net = LoadPolicyNet(path, &p->info);
  const auto& i = p->info;
  if (i.kind != kind)
    throw InputError(path + ": is a '" + i.kind + "' policy checkpoint, the '" + kind + "' agent needs a '" + kind +
                     "' one");
  if (i.dataset_fingerprint != fingerprint) {
    data::CheckTrainedOn(dataset, "policy " + path, i.dataset_fingerprint, i.split_seed);  // says what changed
    throw Error("policy " + path + ": the fingerprint passed for the dataset is not its fingerprint");
  }
  const Catalogue c = dataset.MakeCatalogue(i.config.family);
  if (i.num_songs != c.size() || i.song_dim != c.dim)
    throw InputError(path + ": trained for " + std::to_string(i.num_songs) + " songs of dimension " +
                     std::to_string(i.song_dim) + ", the dataset has " + std::to_string(c.size()) + " of dimension " +
                     std::to_string(c.dim));
  p->songs = UnitCatalogue(c);
  cache[key] = p;
  return p;
}

std::string ExpandSeed(std::string pattern, std::uint64_t seed) {
  for (std::size_t p; (p = pattern.find("{seed}")) != std::string::npos;) pattern.replace(p, 6, std::to_string(seed));
  return pattern;
}

}  // namespace amrs::agents
