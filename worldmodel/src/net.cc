#include "net.h"

#include <ATen/CPUGeneratorImpl.h>
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "amrs/core/error.h"
#include "amrs/core/rng.h"

namespace amrs::worldmodel {

using torch::Tensor;

// ---------------------------------------------------------------------------------------------

AttentionImpl::AttentionImpl(int d_model, int heads, bool rope)
    : heads_(heads), head_dim_(d_model / heads), rope_(rope) {
  if (rope) {  // angle table for positions [0, 4096): not parameters, not saved
    const int64_t half = head_dim_ / 2;
    const Tensor inv_freq =
        torch::exp(torch::arange(half, torch::kFloat) * (-std::log(10000.0) / static_cast<double>(half)));
    const Tensor ang = torch::arange(4096, torch::kFloat).unsqueeze(-1) * inv_freq;
    rope_cos_ = ang.cos();
    rope_sin_ = ang.sin();
  }
  qkv_ = register_module("qkv", torch::nn::Linear(d_model, 3 * d_model));
  out_ = register_module("out", torch::nn::Linear(d_model, d_model));
}

Tensor AttentionImpl::Rotate(const Tensor& x, const Tensor& pos) const {
  // Rotary encoding (Su et al.) on the two halves of each head: pos [T] or [B,T]. Angles come
  // from a table built at construction (positions beyond it are computed directly).
  const int64_t half = head_dim_ / 2;
  Tensor c, s;
  if (pos.numel() > 0 && pos.max().item<int64_t>() < rope_cos_.size(0)) {
    std::vector<int64_t> shape = pos.sizes().vec();
    shape.push_back(half);
    c = rope_cos_.index_select(0, pos.reshape({-1})).view(shape);
    s = rope_sin_.index_select(0, pos.reshape({-1})).view(shape);
  } else {
    const Tensor inv_freq =
        torch::exp(torch::arange(half, torch::kFloat) * (-std::log(10000.0) / static_cast<double>(half)));
    const Tensor ang = pos.to(torch::kFloat).unsqueeze(-1) * inv_freq;  // [..T, half]
    c = ang.cos();
    s = ang.sin();
  }
  if (c.dim() == 2) c = c.unsqueeze(0), s = s.unsqueeze(0);
  c = c.unsqueeze(2);  // [B|1, T, 1, half]
  s = s.unsqueeze(2);
  const Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  return torch::cat({x1 * c - x2 * s, x1 * s + x2 * c}, -1);
}

Tensor AttentionImpl::Full(const Tensor& x, const Tensor& mask, Tensor* k_out, Tensor* v_out) {
  const int64_t B = x.size(0), T = x.size(1);
  const Tensor qkv = qkv_(x).view({B, T, 3, heads_, head_dim_});
  Tensor q = qkv.select(2, 0), k = qkv.select(2, 1), v = qkv.select(2, 2);
  if (rope_) {
    const Tensor pos = torch::arange(T, torch::kLong);
    q = Rotate(q, pos);
    k = Rotate(k, pos);
  }
  if (k_out) *k_out = k.contiguous();
  if (v_out) *v_out = v.contiguous();
  Tensor att = torch::matmul(q.permute({0, 2, 1, 3}), k.permute({0, 2, 3, 1})) /
               std::sqrt(static_cast<double>(head_dim_));
  att = torch::softmax(att + mask, -1);
  const Tensor o = torch::matmul(att, v.permute({0, 2, 1, 3}));  // [B,H,T,dh]
  return out_(o.permute({0, 2, 1, 3}).reshape({B, T, heads_ * head_dim_}));
}

Tensor AttentionImpl::Step(const Tensor& x, const Tensor& pos, Tensor& kc, Tensor& vc,
                           const std::vector<std::vector<std::int32_t>>& keys, bool commit) {
  const int64_t B = x.size(0);
  if (!kc.is_contiguous() || !vc.is_contiguous()) {  // expanded views (standard-arch scoring)
    if (commit) throw Error("world model: cannot commit into a shared cache view");
    Tensor kk = kc.contiguous(), vv = vc.contiguous();
    return Step(x, pos, kk, vv, keys, false);
  }
  // Inference only: the projections are worked on in place as raw floats (RoPE, cache write,
  // attention over the allowed keys), which avoids dozens of small tensor operations per step.
  // 2-d inputs keep torch::linear on one addmm (a 3-d input goes through matmul plus an add).
  Tensor qkv = qkv_(x.reshape({B, x.size(-1)})).contiguous();
  const Tensor p = pos.contiguous();
  float* P = qkv.data_ptr<float>();
  const int64_t* pp = p.data_ptr<int64_t>();
  const int64_t d = heads_ * head_dim_;
  if (rope_) {
    const int64_t half = head_dim_ / 2;
    const float* tc = rope_cos_.data_ptr<float>();
    const float* ts = rope_sin_.data_ptr<float>();
    std::vector<float> cs(static_cast<std::size_t>(half)), sn(static_cast<std::size_t>(half));
    for (int64_t b = 0; b < B; ++b) {
      const int64_t at = pp[b];
      for (int64_t e = 0; e < half; ++e) {
        if (at < rope_cos_.size(0)) {
          cs[e] = tc[at * half + e], sn[e] = ts[at * half + e];
        } else {
          const double ang = static_cast<double>(at) * std::exp(-std::log(10000.0) * static_cast<double>(e) / half);
          cs[e] = static_cast<float>(std::cos(ang)), sn[e] = static_cast<float>(std::sin(ang));
        }
      }
      for (int part = 0; part < 2; ++part)  // q then k
        for (int64_t h = 0; h < heads_; ++h) {
          float* v = P + b * 3 * d + part * d + h * head_dim_;
          for (int64_t e = 0; e < half; ++e) {
            const float x1 = v[e], x2 = v[e + half];
            v[e] = x1 * cs[e] - x2 * sn[e];
            v[e + half] = x1 * sn[e] + x2 * cs[e];
          }
        }
    }
  }
  Tensor o = torch::empty({B, heads_, head_dim_});
  StepAttention(P, 3 * d, kc.data_ptr<float>(), vc.data_ptr<float>(), kc.size(2), B, heads_, head_dim_, keys,
                commit ? pp : nullptr, o.data_ptr<float>());
  return out_(o.view({B, d})).view({B, 1, d});
}

BlockImpl::BlockImpl(int d_model, int heads, int ff, bool rope) {
  ln1_ = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model})));
  attn_ = register_module("attn", Attention(d_model, heads, rope));
  ln2_ = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model})));
  fc1_ = register_module("fc1", torch::nn::Linear(d_model, ff));
  fc2_ = register_module("fc2", torch::nn::Linear(ff, d_model));
}

Tensor BlockImpl::Full(Tensor x, const Tensor& mask, Tensor* k, Tensor* v,
                       const std::function<Tensor(Tensor)>& dropout) {
  x = x + dropout(attn_->Full(ln1_(x), mask, k, v));
  return x + dropout(fc2_(torch::gelu(fc1_(ln2_(x)))));
}

Tensor LayerNormStep(const torch::nn::LayerNorm& ln, const Tensor& x) {
  const Tensor xc = x.contiguous();
  Tensor out = torch::empty_like(xc);
  const int64_t d = xc.size(-1);
  LayerNormRows(xc.data_ptr<float>(), ln->weight.data_ptr<float>(), ln->bias.data_ptr<float>(), out.data_ptr<float>(),
                xc.numel() / d, d, static_cast<float>(ln->options.eps()));
  return out;
}

Tensor BlockImpl::Step(Tensor x, const Tensor& pos, Tensor& kc, Tensor& vc,
                       const std::vector<std::vector<std::int32_t>>& keys, bool commit) {
  // Inference only: layer norms, GELU and residual adds run in the step kernels; the four
  // projections stay torch matrix products. Agrees with Full() within float rounding.
  const int64_t B = x.size(0), d = x.size(-1);
  Tensor r = x.reshape({B, d}).contiguous().clone();  // the residual stream, updated in place
  const Tensor a = attn_->Step(LayerNormStep(ln1_, r).view({B, 1, d}), pos, kc, vc, keys, commit).reshape({B, d}).contiguous();
  AddInPlace(r.data_ptr<float>(), a.data_ptr<float>(), B * d);
  Tensor f = fc1_(LayerNormStep(ln2_, r)).contiguous();
  GeluInPlace(f.data_ptr<float>(), f.numel());
  const Tensor g = fc2_(f).contiguous();
  AddInPlace(r.data_ptr<float>(), g.data_ptr<float>(), B * d);
  return r.view({B, 1, d});
}

// ---------------------------------------------------------------------------------------------

WorldNetImpl::WorldNetImpl(const ModelConfig& config, int song_dim)
    : config_(config), song_dim_(song_dim) {
  const int d = config.d_model;
  in_song_ = register_module("in_song", torch::nn::Linear(torch::nn::LinearOptions(song_dim, d).bias(false)));
  in_small_ = register_module("in_small", torch::nn::Linear(kSmallFeatures, d));
  bos_ = register_parameter("bos", torch::zeros({1, 1, d}));
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int l = 0; l < config.layers; ++l) blocks_->push_back(Block(d, config.heads, config.ff, config.rope));
  ln_f_ = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  head_z_ = register_module("head_z", torch::nn::Linear(d, config.head_hidden));
  if (config.arch == Arch::kFactorized)
    head_s_ = register_module(
        "head_s", torch::nn::Linear(torch::nn::LinearOptions(song_dim, config.head_hidden).bias(false)));
  head_out_ = register_module("head_out", torch::nn::Linear(config.head_hidden, 4));
}

void WorldNetImpl::Initialize(std::uint64_t seed) {
  torch::NoGradGuard guard;
  for (auto& item : named_parameters()) {
    const std::string& name = item.key();
    Tensor& p = item.value();
    std::vector<float> v(static_cast<std::size_t>(p.numel()));
    Rng rng(seed, "world-model-init/" + name);
    const bool is_bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    const bool is_norm = name.find("ln") != std::string::npos;
    if (is_bias) {
      std::fill(v.begin(), v.end(), 0.f);
    } else if (is_norm) {
      std::fill(v.begin(), v.end(), 1.f);
    } else if (name == "head_out.weight" && config_.prior_offset) {
      std::fill(v.begin(), v.end(), 0.f);  // the output starts at the prior offset: the per-song mean
    } else if (name == "bos") {
      for (auto& x : v) x = static_cast<float>(rng.Normal(0, 0.02));
    } else {
      const double bound = 1.0 / std::sqrt(static_cast<double>(p.size(1)));
      for (auto& x : v) x = static_cast<float>(rng.Uniform(-bound, bound));
    }
    p.copy_(torch::from_blob(v.data(), p.sizes(), torch::kFloat));
  }
}

Tensor WorldNetImpl::Dropout(Tensor x) const {
  const double p = config_.dropout;
  if (!is_training() || p <= 0 || !gen_) return x;
  const Tensor keep = torch::rand(x.sizes(), *gen_, torch::kFloat) >= p;
  return x * keep.to(torch::kFloat) / (1.0 - p);
}

Tensor WorldNetImpl::Embed(const TokenInputs& in, const Tensor& catalogue) {
  const int64_t B = in.song.size(0), T = in.song.size(1);
  const Tensor songs = catalogue.index_select(0, in.song.reshape({-1})).view({B, T, song_dim_});
  return in_song_(songs) + in_small_(in.small);
}

Tensor WorldNetImpl::ProjectSongs(const Tensor& catalogue) { return in_song_(catalogue); }

Tensor WorldNetImpl::EmbedProjected(const TokenInputs& in, const Tensor& proj) {
  const int64_t B = in.song.size(0), T = in.song.size(1);
  return proj.index_select(0, in.song.reshape({-1})).view({B, T, config_.d_model}) + in_small_(in.small);
}

Tensor WorldNetImpl::Mask(int64_t s) const {
  std::vector<float> m(static_cast<std::size_t>(s * s), -std::numeric_limits<float>::infinity());
  const auto& a = config_.ablation;
  for (int64_t i = 0; i < s; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      bool ok;
      if (a.no_user_history) ok = (j == 0);
      else if (a.max_lookback > 0) ok = (j == 0) || (i - j < a.max_lookback);
      else ok = true;
      if (ok) m[static_cast<std::size_t>(i * s + j)] = 0.f;
    }
  return torch::from_blob(m.data(), {s, s}, torch::kFloat).clone();
}

namespace {

// A zeroed float tensor for a key/value cache. Large caches are read in full at every step, so
// they are placed on 2 MiB-aligned memory the kernel may back with huge pages (fewer TLB misses;
// ignored where transparent huge pages are off).
Tensor CacheZeros(std::vector<int64_t> shape) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  const std::size_t bytes = static_cast<std::size_t>(n) * sizeof(float), huge = std::size_t{2} << 20;
  if (bytes < huge) return torch::zeros(shape);
  const std::size_t padded = (bytes + huge - 1) / huge * huge;
  void* p = std::aligned_alloc(huge, padded);
  if (!p) throw std::bad_alloc();
  ::madvise(p, padded, MADV_HUGEPAGE);
  std::memset(p, 0, bytes);
  return torch::from_blob(p, shape, [](void* q) { std::free(q); }, torch::kFloat);
}

}  // namespace

KvCache WorldNetImpl::EmptyCache(int64_t rows, int64_t capacity) const {
  KvCache c;
  c.capacity = capacity;
  const int64_t dh = config_.d_model / config_.heads;
  for (std::size_t l = 0; l < blocks_->size(); ++l) {
    c.k.push_back(CacheZeros({rows, config_.heads, capacity, dh}));
    c.v.push_back(CacheZeros({rows, config_.heads, capacity, dh}));
  }
  return c;
}

Tensor WorldNetImpl::Encode(const Tensor& x, KvCache* cache, const Tensor& rows) {
  const int64_t B = x.size(0), S = x.size(1) + 1;
  if (cache && S > cache->capacity) throw Error("world model: sequence longer than the cache");
  Tensor h = torch::cat({bos_.expand({B, 1, config_.d_model}), x}, 1);
  const Tensor mask = Mask(S);
  const auto drop = [this](Tensor t) { return Dropout(std::move(t)); };
  for (std::size_t l = 0; l < blocks_->size(); ++l) {
    Tensor k, v;
    h = blocks_[l]->as<BlockImpl>()->Full(h, mask, cache ? &k : nullptr, cache ? &v : nullptr, drop);
    if (!cache) continue;
    if (rows.defined()) {
      cache->k[l].narrow(2, 0, S).index_copy_(0, rows, k.permute({0, 2, 1, 3}));
      cache->v[l].narrow(2, 0, S).index_copy_(0, rows, v.permute({0, 2, 1, 3}));
    } else {
      cache->k[l].narrow(2, 0, S).copy_(k.permute({0, 2, 1, 3}));
      cache->v[l].narrow(2, 0, S).copy_(v.permute({0, 2, 1, 3}));
    }
  }
  return ln_f_(h);
}

Tensor WorldNetImpl::StepEncode(const Tensor& x, KvCache& cache, bool commit) {
  const int64_t B = x.size(0);
  if (static_cast<int64_t>(cache.length.size()) != B)
    throw ArgumentError("world model: cache has " + std::to_string(cache.length.size()) +
                        " rows, step has " + std::to_string(B));
  const int64_t span = *std::max_element(cache.length.begin(), cache.length.end());
  if (commit && span + 1 > cache.capacity) {
    const int64_t cap = std::max<int64_t>(2 * cache.capacity, span + 16);
    for (std::size_t l = 0; l < cache.k.size(); ++l) {
      auto grow = [&](Tensor& t) {
        Tensor n = CacheZeros({t.size(0), t.size(1), cap, t.size(3)});
        n.narrow(2, 0, cache.capacity).copy_(t);
        t = n;
      };
      grow(cache.k[l]);
      grow(cache.v[l]);
    }
    cache.capacity = cap;
  }
  // Allowed keys per row: cache positions before the new token (honouring the ablations), then
  // the token itself (its cache position when committing, -1 otherwise).
  const auto& a = config_.ablation;
  std::vector<std::vector<std::int32_t>> keys(static_cast<std::size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    const int64_t i = cache.length[b];  // the new token's position
    auto& ks = keys[static_cast<std::size_t>(b)];
    ks.reserve(static_cast<std::size_t>(i + 1));
    for (int64_t j = 0; j < i; ++j) {
      bool ok;
      if (a.no_user_history) ok = (j == 0);
      else if (a.max_lookback > 0) ok = (j == 0) || (i - j < a.max_lookback);
      else ok = true;
      if (ok) ks.push_back(static_cast<std::int32_t>(j));
    }
    if (!a.no_user_history) ks.push_back(commit ? static_cast<std::int32_t>(i) : -1);
  }
  (void)span;
  const Tensor pos = torch::tensor(cache.length, torch::kLong);
  Tensor h = x;
  for (std::size_t l = 0; l < blocks_->size(); ++l)
    h = blocks_[l]->as<BlockImpl>()->Step(h, pos, cache.k[l], cache.v[l], keys, commit);
  if (commit)
    for (auto& len : cache.length) ++len;
  return LayerNormStep(ln_f_, h);
}

Tensor WorldNetImpl::HeadSongs(const Tensor& songs) {
  if (!head_s_) throw Error("world model: the standard architecture has no song head");
  return head_s_(songs);
}

bool WorldNetImpl::HeadFusable() const {
  return config_.arch == Arch::kFactorized && !config_.ablation.no_candidate_song;
}

Tensor WorldNetImpl::Head(const Tensor& z, const Tensor& song_head) {
  Tensor h = head_z_(z);
  if (config_.arch == Arch::kFactorized && !config_.ablation.no_candidate_song) h = h + song_head;
  return head_out_(torch::relu(h));
}

// ---------------------------------------------------------------------------------------------

void SessionStats::Add(const Token& t, const float* song_means) {
  if (t.IsBoundary()) {
    position = 0;
    return;
  }
  ++position;
  recent.push_back(t.song);
  if (static_cast<int>(recent.size()) > kRepeatWindow) recent.erase(recent.begin());
  const float* m = song_means + static_cast<std::size_t>(t.song) * kNumSignals;
  const bool has[kNumSignals] = {t.has_engagement, t.has_rating, t.has_affect, t.has_affect};
  const float y[kNumSignals] = {t.engagement, t.rating, t.valence, t.arousal};
  for (int s = 0; s < kNumSignals; ++s)
    if (has[s]) sum[s] += static_cast<double>(y[s]) - m[s], n[s] += 1;
}

std::int32_t SessionStats::Plays(std::int32_t song) const {
  return static_cast<std::int32_t>(std::count(recent.begin(), recent.end(), song));
}

void SessionStats::Features(std::int32_t song, float* f) const {
  f[0] = static_cast<float>(position);
  f[1] = static_cast<float>(Plays(song));
  for (int s = 0; s < kNumSignals; ++s) f[2 + s] = static_cast<float>(sum[s] / (n[s] + kResidualK));
}

void SessionStats::BaseLogits(const float* w, float* out) const {
  const float pos = static_cast<float>(position);
  for (int s = 0; s < kNumSignals; ++s) {
    const float* ws = w + s * kSessionWeights;
    out[s] = ws[0] * pos + ws[2] * static_cast<float>(sum[s] / (n[s] + kResidualK)) + ws[3];
  }
}

void SessionStats::Logits(std::int32_t song, const float* w, float* out) const {
  BaseLogits(w, out);
  const float plays = static_cast<float>(Plays(song));
  for (int s = 0; s < kNumSignals; ++s) out[s] += w[s * kSessionWeights + 1] * plays;
}

namespace {
// The prior table's mean columns (2s) [N, 4].
Tensor MeanColumns(const Tensor& prior) {
  return prior.index_select(1, torch::tensor({0, 2, 4, 6}, torch::kLong)).contiguous();
}
}  // namespace

std::vector<float> SongMeans(const Tensor& prior) {
  const Tensor m = MeanColumns(prior);
  return std::vector<float>(m.data_ptr<float>(), m.data_ptr<float>() + m.numel());
}

Tensor SessionLogits(const Tensor& f, const Tensor& w) {
  return f.narrow(-1, 0, 1) * w.select(1, 0) + f.narrow(-1, 1, 1) * w.select(1, 1) +
         f.narrow(-1, 2, kNumSignals) * w.select(1, 2) + w.select(1, 3);
}

SequenceBatch MakeSequenceBatch(const std::vector<std::pair<const Token*, int64_t>>& spans,
                                const ModelConfig& config, std::int32_t num_songs,
                                const std::vector<float>* song_means) {
  const int64_t B = static_cast<int64_t>(spans.size());
  int64_t T = 1;
  for (const auto& s : spans) T = std::max(T, s.second);
  std::vector<int64_t> song(static_cast<std::size_t>(B * T), num_songs), cand(song);
  std::vector<float> small(static_cast<std::size_t>(B * T * kSmallFeatures), 0.f);
  std::vector<float> tgt(static_cast<std::size_t>(B * T * 4), 0.f), msk(tgt);
  const bool session = config.session_features && song_means;
  std::vector<float> sess(session ? static_cast<std::size_t>(B * T * kSessionFeatures) : 0, 0.f);
  const bool factorized = config.arch == Arch::kFactorized;
  const auto& a = config.ablation;
  SequenceBatch out;
  for (int64_t b = 0; b < B; ++b) {
    const Token* tok = spans[b].first;
    const int64_t len = spans[b].second;
    out.lengths.push_back(len);
    SessionStats stats;
    for (int64_t t = 0; t < len; ++t) {
      const Token& x = tok[t];
      const std::size_t i = static_cast<std::size_t>(b * T + t);
      float* f = &small[i * kSmallFeatures];
      if (factorized) {
        song[i] = (x.IsBoundary() || a.no_history_songs) ? num_songs : x.song;
        FeedbackFeatures(x, a.no_feedback, f);
      } else {
        song[i] = x.IsBoundary() ? num_songs : x.song;
        if (t > 0) FeedbackFeatures(tok[t - 1], false, f);
        else std::fill(f, f + kFeedbackFeatures, 0.f);
      }
      TypeFeatures(x, f + kFeedbackFeatures);
      if (!x.IsBoundary()) {
        cand[i] = x.song;
        float* y = &tgt[i * 4];
        float* m = &msk[i * 4];
        if (x.has_engagement) y[0] = x.engagement, m[0] = 1.f;
        if (x.has_rating) y[1] = x.rating, m[1] = 1.f;
        if (x.has_affect) y[2] = x.valence, y[3] = x.arousal, m[2] = m[3] = 1.f;
        if (session) stats.Features(x.song, &sess[i * kSessionFeatures]);
      }
      if (session) stats.Add(x, song_means->data());
    }
  }
  auto as = [](auto& v, std::vector<int64_t> shape, torch::ScalarType t) {
    return torch::from_blob(v.data(), shape, t).clone();
  };
  out.inputs.song = as(song, {B, T}, torch::kLong);
  out.inputs.small = as(small, {B, T, kSmallFeatures}, torch::kFloat);
  out.candidates = as(cand, {B, T}, torch::kLong);
  out.targets = as(tgt, {B, T, 4}, torch::kFloat);
  out.mask = as(msk, {B, T, 4}, torch::kFloat);
  if (session) out.session = as(sess, {B, T, kSessionFeatures}, torch::kFloat);
  return out;
}

Tensor ForwardBatch(WorldNet& net, const SequenceBatch& b, const Tensor& catalogue, const Tensor& offset,
                    const Tensor& session_w) {
  const int64_t B = b.inputs.song.size(0), T = b.inputs.song.size(1);
  const Tensor x = net->Embed(b.inputs, catalogue);
  const Tensor z = net->Encode(x, nullptr);  // [B,T+1,d]
  Tensor logits;
  if (net->config().arch == Arch::kFactorized) {
    const Tensor songs = catalogue.index_select(0, b.candidates.reshape({-1})).view({B, T, -1});
    logits = net->Head(z.narrow(1, 0, T), net->HeadSongs(songs));
  } else {
    logits = net->Head(z.narrow(1, 1, T), Tensor());
  }
  if (offset.defined()) logits = logits + offset.index_select(0, b.candidates.reshape({-1})).view({B, T, 4});
  if (session_w.defined() && b.session.defined()) logits = logits + SessionLogits(b.session, session_w);
  return logits;
}

std::pair<Tensor, Tensor> MaskedLosses(const Tensor& logits, const SequenceBatch& b) {
  const Tensor p = torch::sigmoid(logits);
  const Tensor se = (p - b.targets).pow(2);
  const Tensor bce = torch::binary_cross_entropy_with_logits(
      logits.select(-1, 1), b.targets.select(-1, 1), {}, {}, at::Reduction::None);
  const Tensor per = torch::stack({se.select(-1, 0), bce, se.select(-1, 2), se.select(-1, 3)}, -1);
  const Tensor counts = b.mask.sum(std::vector<int64_t>{0, 1});
  const Tensor sums = (per * b.mask).sum(std::vector<int64_t>{0, 1});
  return {sums / counts.clamp_min(1.0), counts};
}

Tensor CatalogueTensor(const Catalogue& c) {
  Tensor t = torch::from_blob(const_cast<float*>(c.embedding.data()), {c.size(), c.dim}, torch::kFloat);
  return torch::cat({t, torch::zeros({1, c.dim})}, 0);
}

SongReduction FitReduction(const Catalogue& c, int k) {
  SongReduction r;
  if (k <= 0 || k >= c.dim) return r;
  torch::NoGradGuard g;
  const Tensor x = torch::from_blob(const_cast<float*>(c.embedding.data()), {c.size(), c.dim}, torch::kFloat)
                       .to(torch::kDouble);
  const Tensor mean = x.mean(0);
  const Tensor xc = x - mean;
  const Tensor cov = torch::matmul(xc.t(), xc) / static_cast<double>(std::max(1, c.size() - 1));
  const auto [evals, evecs] = torch::linalg_eigh(cov);  // ascending
  Tensor basis = evecs.narrow(1, c.dim - k, k).flip({1});
  // Fix each component's sign (largest |entry| positive) so the basis is reproducible.
  const Tensor idx = basis.abs().argmax(0);
  const Tensor sign = torch::sign(basis.gather(0, idx.unsqueeze(0))).squeeze(0);
  basis = basis * torch::where(sign == 0, torch::ones_like(sign), sign);
  r.mean = mean.to(torch::kFloat);
  r.basis = basis.to(torch::kFloat).contiguous();
  return r;
}

Tensor SongInputs(const Catalogue& c, const SongReduction& r) {
  Tensor cat = CatalogueTensor(c);
  if (r.active()) {
    const Tensor raw = cat.narrow(0, 0, c.size());
    const Tensor red = torch::matmul(raw - r.mean, r.basis);
    cat = torch::cat({red, torch::zeros({1, r.basis.size(1)})}, 0);
  }
  if (!r.prior.defined()) return cat;
  // Each prior column standardized over the catalogue's songs (a constant column becomes 0), so
  // that the small spread of the per-song means is not lost beside the embedding components.
  const Tensor p = r.prior.to(torch::kDouble);
  const Tensor mean = p.mean(0), sd = p.numel() > p.size(1) ? p.std(0) : torch::zeros_like(mean);
  const Tensor z = ((p - mean) / torch::where(sd > 1e-9, sd, torch::ones_like(sd))).to(torch::kFloat);
  const Tensor prior = torch::cat({z, torch::zeros({1, r.prior.size(1)})}, 0);
  return torch::cat({cat, prior}, 1);
}

Tensor PriorOffset(const SongReduction& r) {
  if (!r.prior.defined()) return Tensor();
  const Tensor means = MeanColumns(r.prior);
  return torch::cat({torch::logit(means.clamp(1e-3, 1.0 - 1e-3)), torch::zeros({1, kNumSignals})}, 0).contiguous();
}

Tensor FitSessionWeights(const std::vector<std::pair<const Token*, int64_t>>& spans, const ModelConfig& config,
                         std::int32_t num_songs, const SongReduction& r) {
  const std::vector<float> means = SongMeans(r.prior);
  // The spans' tokens end to end in one row (no padding: a batch of all histories padded to the
  // longest would grow with users x longest history).
  SequenceBatch b;
  {
    std::vector<Tensor> cand, tgt, msk, sess;
    for (const auto& span : spans) {
      const SequenceBatch one = MakeSequenceBatch({span}, config, num_songs, &means);
      cand.push_back(one.candidates), tgt.push_back(one.targets), msk.push_back(one.mask), sess.push_back(one.session);
    }
    if (cand.empty()) return torch::zeros({kNumSignals, kSessionWeights}, torch::kFloat);
    b.candidates = torch::cat(cand, 1), b.targets = torch::cat(tgt, 1), b.mask = torch::cat(msk, 1);
    b.session = torch::cat(sess, 1);
  }
  const Tensor base = PriorOffset(r).index_select(0, b.candidates.reshape({-1})).view_as(b.targets);
  Tensor w = torch::zeros({kNumSignals, kSessionWeights}, torch::kFloat).set_requires_grad(true);
  torch::optim::Adam opt({w}, torch::optim::AdamOptions(0.05));
  for (int step = 0; step < 300; ++step) {
    opt.zero_grad();
    const Tensor loss = MaskedLosses(base + SessionLogits(b.session, w), b).first.sum();
    loss.backward();
    opt.step();
  }
  // Engagement and rating only: the network reads the user's affect from the history well
  // enough (with the affect rows fitted too, valence and arousal R^2 fell 4-5 points on s32/s50).
  Tensor out = w.detach().clone();
  out.narrow(0, kSessionSignals, kNumSignals - kSessionSignals).zero_();
  return out;
}

int ReducedSongDim(const Catalogue& c, const ModelConfig& m) {
  return (m.song_components > 0 && m.song_components < c.dim) ? m.song_components : c.dim;
}

int SongInputDim(const Catalogue& c, const ModelConfig& m) {
  return ReducedSongDim(c, m) + (m.song_prior ? kSongPriorColumns : 0);
}

Tensor ComputeSongPrior(const data::TokenView& view, const std::vector<std::int32_t>& users,
                        std::int32_t num_songs, float k) {
  const std::size_t N = static_cast<std::size_t>(std::max(0, num_songs));
  std::vector<double> sum(N * kNumSignals, 0.0), n(N * kNumSignals, 0.0);
  double gsum[kNumSignals] = {0, 0, 0, 0}, gn[kNumSignals] = {0, 0, 0, 0};
  for (auto u : users)
    for (const auto& t : view.User(u)) {
      if (t.IsBoundary() || t.song < 0 || t.song >= num_songs) continue;
      const bool has[kNumSignals] = {t.has_engagement, t.has_rating, t.has_affect, t.has_affect};
      const float y[kNumSignals] = {t.engagement, t.rating, t.valence, t.arousal};
      for (int s = 0; s < kNumSignals; ++s)
        if (has[s]) {
          sum[static_cast<std::size_t>(t.song) * kNumSignals + s] += y[s];
          n[static_cast<std::size_t>(t.song) * kNumSignals + s] += 1;
          gsum[s] += y[s];
          gn[s] += 1;
        }
    }
  Tensor out = torch::empty({static_cast<int64_t>(N), kSongPriorColumns}, torch::kFloat);
  auto acc = out.accessor<float, 2>();
  for (std::size_t j = 0; j < N; ++j)
    for (int s = 0; s < kNumSignals; ++s) {
      const double global = gn[s] > 0 ? gsum[s] / gn[s] : 0.5;
      const double c = n[j * kNumSignals + s], total = sum[j * kNumSignals + s];
      acc[static_cast<int64_t>(j)][2 * s] = static_cast<float>(c + k > 0 ? (total + k * global) / (c + k) : global);
      acc[static_cast<int64_t>(j)][2 * s + 1] = static_cast<float>(std::log1p(c));
    }
  return out;
}

}  // namespace amrs::worldmodel
