// DPO fine-tuning of Copycat (paper 3.4, eq. 2) on preference pairs from negative history
// sampling, scored by a world's utility.
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstring>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <numeric>
#include <ostream>

#include "amrs/agents/policy.h"
#include "amrs/core/error.h"
#include <nlohmann/json.hpp>

#include "amrs/distributed/gradients.h"
#include "amrs/core/rng.h"
#include "losses.h"
#include "policy_net.h"

namespace amrs::agents {

using torch::Tensor;

void PairOptions::Validate() const {
  if (pool < 2 || pool % 2 || pool > kMaxPool)
    throw ArgumentError("DPO pairs: the pool size M must be even and in [2, " + std::to_string(kMaxPool) + "], got " +
                        std::to_string(pool));
  if (!(engagement_threshold >= 0 && engagement_threshold <= 1))
    throw ArgumentError("DPO pairs: the engagement threshold must be in [0, 1]");
  if (max_pairs < 0 || max_pairs > kMaxPairs)
    throw ArgumentError("DPO pairs: 'max_pairs' must be in [0, " + std::to_string(kMaxPairs) + "]");
  if (batch < 1 || batch > kMaxBatch) throw ArgumentError("DPO pairs: 'batch' must be in [1, " + std::to_string(kMaxBatch) + "]");
}

void DpoOptions::Validate() const {
  pairs.Validate();
  utility.Validate();
  if (reference.empty()) throw ArgumentError("dpo: a reference Copycat checkpoint is required (--reference)");
  if (out.empty()) throw ArgumentError("dpo: an output checkpoint path is required");
  if (!(std::isfinite(beta) && beta > 0)) throw ArgumentError("dpo: 'beta' must be positive");
  if (epochs < 1 || epochs > kMaxEpochs) throw ArgumentError("dpo: 'epochs' must be in [1, " + std::to_string(kMaxEpochs) + "]");
  if (batch < 1 || batch > kMaxBatch) throw ArgumentError("dpo: 'batch' must be in [1, " + std::to_string(kMaxBatch) + "]");
  if (!(std::isfinite(lr) && lr > 0)) throw ArgumentError("dpo: 'lr' must be positive");
}

namespace {

std::vector<float> UnitRows(const Catalogue& c) {
  std::vector<float> u(c.embedding);
  for (std::int32_t i = 0; i < c.size(); ++i) {
    float* r = u.data() + static_cast<std::size_t>(i) * c.dim;
    double n = 0;
    for (std::int32_t k = 0; k < c.dim; ++k) n += double(r[k]) * r[k];
    const float inv = n > 0 ? static_cast<float>(1.0 / std::sqrt(n)) : 0.f;
    for (std::int32_t k = 0; k < c.dim; ++k) r[k] *= inv;
  }
  return u;
}

// Top `count` of `sim` (one row over the catalogue) excluding `song`: highest first, ties by index.
std::vector<std::int32_t> TopExcluding(const float* sim, std::int32_t n, std::int32_t song, std::int32_t count) {
  std::vector<std::int32_t> idx;
  idx.reserve(static_cast<std::size_t>(n));
  for (std::int32_t j = 0; j < n; ++j)
    if (j != song) idx.push_back(j);
  const auto k = std::min<std::size_t>(static_cast<std::size_t>(count), idx.size());
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [sim](std::int32_t a, std::int32_t b) { return sim[a] > sim[b] || (sim[a] == sim[b] && a < b); });
  idx.resize(k);
  return idx;
}

bool IsNegative(const Token& t, double threshold) {
  if (t.IsBoundary()) return false;
  return (t.has_rating && t.rating < 0.5f) || (t.has_engagement && t.engagement < threshold);
}

}  // namespace

std::vector<std::int32_t> NearestNeighbours(const Catalogue& c, std::int32_t song, std::int32_t count) {
  if (song < 0 || song >= c.size())
    throw ArgumentError("nearest neighbours: song " + std::to_string(song) + " is not in the catalogue (" +
                        std::to_string(c.size()) + " songs)");
  const auto u = UnitRows(c);
  std::vector<float> sim(static_cast<std::size_t>(c.size()));
  const float* q = u.data() + static_cast<std::size_t>(song) * c.dim;
  for (std::int32_t j = 0; j < c.size(); ++j) {
    const float* r = u.data() + static_cast<std::size_t>(j) * c.dim;
    float s = 0;
    for (std::int32_t k = 0; k < c.dim; ++k) s += q[k] * r[k];
    sim[j] = s;
  }
  return TopExcluding(sim.data(), c.size(), song, count);
}

std::vector<PreferencePair> BuildPreferencePairs(const env::EnvContext& ctx, const std::vector<std::int32_t>& users,
                                                 const Utility& utility, const PairOptions& o, PairStats* stats) {
  o.Validate();
  utility.Validate();
  const env::World& world = ctx.world();
  const Catalogue& cat = world.catalogue();
  const std::int32_t n = cat.size();
  const std::int32_t half = o.pool / 2;
  if (o.pool + 1 > n) throw ArgumentError("DPO pairs: the pool size M is larger than the catalogue");
  // Negative logged steps inside the users' windows: state = the window's tokens before the step.
  std::vector<PreferencePair> pairs;
  for (const std::int32_t u : users) {
    const History& h = ctx.UserHistory(u);
    for (const auto& w : ctx.Windows(u))
      for (std::int32_t p = 1; p < w.length; ++p)
        if (IsNegative(h[static_cast<std::size_t>(w.start + p)], o.engagement_threshold)) {
          PreferencePair pp;
          pp.user = u, pp.start = w.start, pp.length = p, pp.loser = h[static_cast<std::size_t>(w.start + p)].song;
          pairs.push_back(std::move(pp));
        }
  }
  PairStats st;
  st.negative_steps = static_cast<std::int64_t>(pairs.size());
  if (o.max_pairs > 0 && static_cast<std::int32_t>(pairs.size()) > o.max_pairs) {
    std::vector<std::size_t> idx(pairs.size());
    std::iota(idx.begin(), idx.end(), 0);
    Rng rng(o.seed, "dpo-pair-sample");
    for (std::size_t i = 0; i < static_cast<std::size_t>(o.max_pairs); ++i)
      std::swap(idx[i], idx[i + rng.UniformInt(idx.size() - i)]);
    idx.resize(static_cast<std::size_t>(o.max_pairs));
    std::sort(idx.begin(), idx.end());
    std::vector<PreferencePair> kept;
    for (const auto i : idx) kept.push_back(std::move(pairs[i]));
    pairs.swap(kept);
  }
  st.sampled = static_cast<std::int64_t>(pairs.size());
  // Candidate pools: corrective half (nearest neighbours of the logged song, torch matmul for the
  // similarities) then exploratory half (uniform over the rest).
  {
    const Tensor unit = UnitCatalogue(cat).narrow(0, 0, n);
    for (std::size_t at = 0; at < pairs.size(); at += 512) {
      const std::size_t end = std::min(pairs.size(), at + 512);
      std::vector<std::int64_t> q;
      for (std::size_t i = at; i < end; ++i) q.push_back(pairs[i].loser);
      const Tensor sim = torch::matmul(unit.index_select(0, torch::tensor(q, torch::kLong)), unit.t()).contiguous();
      const float* s = sim.data_ptr<float>();
      for (std::size_t i = at; i < end; ++i) {
        auto& pp = pairs[i];
        pp.pool = TopExcluding(s + (i - at) * static_cast<std::size_t>(n), n, pp.loser, half);
        std::vector<std::int32_t> taken(pp.pool);
        taken.push_back(pp.loser);
        std::sort(taken.begin(), taken.end());
        Rng rng(o.seed, "dpo-explore", i);
        while (static_cast<std::int32_t>(pp.pool.size()) < o.pool) {
          const auto c = static_cast<std::int32_t>(rng.UniformInt(static_cast<std::uint64_t>(n)));
          if (std::binary_search(taken.begin(), taken.end(), c)) continue;
          pp.pool.push_back(c);
          taken.insert(std::upper_bound(taken.begin(), taken.end(), c), c);
        }
      }
    }
  }
  // Score every candidate and the logged song from the same history, batch by batch (under a
  // distributed launch each rank scores the batches b % size == rank, then all gather the results).
  const std::size_t nb = (pairs.size() + o.batch - 1) / static_cast<std::size_t>(o.batch);
  auto& comm = distributed::Current();
  tbb::parallel_for(std::size_t(0), nb, [&](std::size_t b) {
    if (!distributed::Owns(comm, b)) return;
    const std::size_t at = b * static_cast<std::size_t>(o.batch), end = std::min(pairs.size(), at + o.batch);
    std::vector<std::int32_t> us;
    std::vector<History> hs;
    std::vector<std::int32_t> songs;
    for (std::size_t i = at; i < end; ++i) {
      const auto& pp = pairs[i];
      const History& h = ctx.UserHistory(pp.user);
      us.push_back(pp.user);
      hs.emplace_back(h.begin() + pp.start, h.begin() + pp.start + pp.length);
      songs.insert(songs.end(), pp.pool.begin(), pp.pool.end());
      songs.push_back(pp.loser);
    }
    const auto state = world.Encode(us, hs);
    // Under an ensemble world the candidates are scored by the penalized reward (docs/ensembles.md).
    const bool spread = world.members() > 1;
    std::vector<Feedback> sd;
    const auto fb = spread ? world.PredictManySpread(*state, songs, o.pool + 1, sd) : world.PredictMany(*state, songs, o.pool + 1);
    for (std::size_t i = at; i < end; ++i) {
      auto& pp = pairs[i];
      const std::size_t row = (i - at) * static_cast<std::size_t>(o.pool + 1);
      const Feedback* f = fb.data() + row;
      auto score = [&](std::int32_t j) { return spread ? utility.Penalized(f[j], sd[row + j]) : utility(f[j]); };
      std::int32_t best = 0;
      for (std::int32_t j = 1; j < o.pool; ++j)
        if (score(j) > score(best)) best = j;
      pp.winner = pp.pool[best];
      pp.winner_utility = score(best);
      pp.loser_utility = score(o.pool);
    }
  });
  if (comm.size() > 1) {
    struct Scored {
      std::int32_t winner;
      float winner_utility, loser_utility;
    };
    std::string mine;
    for (std::size_t i = 0; i < pairs.size(); ++i)
      if (distributed::Owns(comm, i / static_cast<std::size_t>(o.batch))) {
        const Scored sc{pairs[i].winner, pairs[i].winner_utility, pairs[i].loser_utility};
        mine.append(reinterpret_cast<const char*>(&sc), sizeof sc);
      }
    const auto all = comm.AllGather(mine, "DPO pairs (seed " + std::to_string(o.seed) + "): gathering the scores");
    std::vector<std::size_t> at(all.size(), 0);
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      const std::size_t r = (i / static_cast<std::size_t>(o.batch)) % all.size();
      if (at[r] + sizeof(Scored) > all[r].size()) throw distributed::Failure("DPO pairs: rank " + std::to_string(r) + " sent too few scores");
      Scored sc;
      std::memcpy(&sc, all[r].data() + at[r], sizeof sc);
      at[r] += sizeof sc;
      pairs[i].winner = sc.winner, pairs[i].winner_utility = sc.winner_utility, pairs[i].loser_utility = sc.loser_utility;
    }
  }
  if (o.require_better)
    pairs.erase(std::remove_if(pairs.begin(), pairs.end(),
                               [](const PreferencePair& p) { return !(p.winner_utility > p.loser_utility); }),
                pairs.end());
  st.kept = static_cast<std::int64_t>(pairs.size());
  if (stats) *stats = st;
  return pairs;
}

namespace {

struct PairBatch {
  PolicyInputs in;
  Tensor winner, loser;
};

PairBatch MakePairBatch(const env::EnvContext& ctx, const std::vector<PreferencePair>& pairs,
                        const std::vector<std::size_t>& idx, std::int32_t num_songs, std::int32_t max_context) {
  std::vector<std::pair<const Token*, std::int64_t>> spans;
  std::vector<std::int64_t> w, l;
  for (const auto i : idx) {
    const auto& p = pairs[i];
    spans.emplace_back(ctx.UserHistory(p.user).data() + p.start, p.length);
    w.push_back(p.winner), l.push_back(p.loser);
  }
  return {MakePolicyInputs(spans, num_songs, max_context), torch::tensor(w, torch::kLong), torch::tensor(l, torch::kLong)};
}

struct DpoBatch {
  DpoOutput out;
  Tensor kl;
};

DpoBatch DpoStep(PolicyNet& net, PolicyNet& ref, const PairBatch& b, const Tensor& songs, double tau, double beta) {
  Tensor ref_logp;
  {
    torch::NoGradGuard g;
    ref_logp = torch::log_softmax(CatalogueLogits(ref->Last(b.in, songs), songs, tau), 1);
  }
  const Tensor logp = torch::log_softmax(CatalogueLogits(net->Last(b.in, songs), songs, tau), 1);
  DpoBatch r;
  r.out = DpoLoss(logp.gather(1, b.winner.view({-1, 1})).squeeze(1), logp.gather(1, b.loser.view({-1, 1})).squeeze(1),
                  ref_logp.gather(1, b.winner.view({-1, 1})).squeeze(1),
                  ref_logp.gather(1, b.loser.view({-1, 1})).squeeze(1), beta);
  const Tensor lp = logp.detach();
  r.kl = (lp.exp() * (lp - ref_logp)).sum(1).mean();
  return r;
}

}  // namespace

TrainOutcome TrainDpo(std::shared_ptr<const env::EnvContext> ctx, const DpoOptions& o, std::ostream* progress) {
  o.Validate();
  if (!ctx) throw ArgumentError("dpo: no env context");
  const auto t0 = std::chrono::steady_clock::now();
  PolicyInfo ref_info;
  PolicyNet ref = LoadPolicyNet(o.reference, &ref_info);
  PolicyNet net = LoadPolicyNet(o.reference, nullptr);
  const auto& d = ctx->dataset();
  if (ref_info.kind != "copycat")
    throw InputError(o.reference + ": is a '" + ref_info.kind + "' checkpoint; DPO starts from a 'copycat' one");
  data::CheckTrainedOn(d, "reference policy " + o.reference, ref_info.dataset_fingerprint, ref_info.split_seed);
  if (ref_info.split != ctx->config().split || ref_info.window_seed != ctx->config().window_seed)
    throw InputError(o.reference + ": trained on split " + std::to_string(ref_info.split) + " with window seed " +
                     std::to_string(ref_info.window_seed) + ", the env uses split " +
                     std::to_string(ctx->config().split) + " and window seed " +
                     std::to_string(ctx->config().window_seed));
  const Catalogue cat = d.MakeCatalogue(ref_info.config.family);
  if (cat.size() != ref_info.num_songs || cat.dim != ref_info.song_dim)
    throw InputError(o.reference + ": catalogue size or embedding dimension differs from the dataset's");
  const Tensor songs = UnitCatalogue(cat);
  const double tau = ref_info.config.tau;

  PairStats ts, vs;
  PairOptions po = o.pairs;
  po.seed = o.seed;
  const auto train = BuildPreferencePairs(*ctx, ctx->Users(data::Part::kTrain), o.utility, po, &ts);
  PairOptions pv = po;
  pv.max_pairs = po.max_pairs > 0 ? std::max(1, po.max_pairs / 4) : 0;
  const auto val = BuildPreferencePairs(*ctx, ctx->Users(data::Part::kVal), o.utility, pv, &vs);
  if (train.empty()) throw InputError("dpo: no preference pairs (no negative logged steps with a better candidate)");
  if (progress)
    *progress << "dpo seed " << o.seed << ": " << ts.negative_steps << " negative logged steps in train windows, "
              << ts.sampled << " sampled, " << ts.kept << " pairs where the best of M = " << po.pool
              << " candidates beats the logged song; " << val.size() << " validation pairs ("
              << std::fixed << std::setprecision(1)
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s)" << std::endl;

  TrainOutcome result;
  PolicyInfo& info = result.info;
  info = ref_info;
  info.kind = "dpo";
  info.seed = o.seed;
  info.epochs = o.epochs;
  info.reference = o.reference;
  info.world = ctx->world().Id();
  info.utility = o.utility;
  info.beta = o.beta;
  info.pairs = static_cast<std::int64_t>(train.size());
  info.options = DpoTrainingOptions(o, info.world, ref_info.options);
  ref->eval();
  torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(o.lr).weight_decay(0.0));
  // Data-parallel under a distributed launch (docs/distributed.md): the pairs i % size == rank of
  // each global batch run here; each rank's loss is its share of the batch mean (n_rank / n), the
  // gradients are summed over the ranks; validation batches are sharded; rank 0 writes.
  auto& comm = distributed::Current();
  const bool dp = comm.size() > 1;
  if (dp)
    distributed::CheckSame(comm, "dpo seed " + std::to_string(o.seed) + " start (options, pairs, weights)",
                           nlohmann::json(info.options).dump() + " " + std::to_string(train.size()) + " " + std::to_string(val.size()) + " " +
                               distributed::ParameterDigest(net->parameters()));
  for (std::int32_t epoch = 1; epoch <= o.epochs; ++epoch) {
    const auto te = std::chrono::steady_clock::now();
    net->train();
    std::vector<std::size_t> order(train.size());
    std::iota(order.begin(), order.end(), 0);
    Rng shuffle(o.seed, "dpo-order", static_cast<std::uint64_t>(epoch));
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[shuffle.UniformInt(i)]);
    double loss = 0, margin = 0, acc = 0, kl = 0;
    std::size_t seen = 0;
    std::int64_t epoch_tokens = 0;  // history tokens this process encoded for its training pairs
    auto count = [&](const PairBatch& b) {
      for (const auto l : b.in.lengths) epoch_tokens += l;
    };
    for (std::size_t at = 0; at < order.size(); at += static_cast<std::size_t>(o.batch)) {
      const std::vector<std::size_t> idx(order.begin() + at,
                                         order.begin() + std::min(order.size(), at + static_cast<std::size_t>(o.batch)));
      if (dp) {
        const std::vector<std::size_t> mine = distributed::Owned(comm, idx);
        opt.zero_grad();
        std::vector<float> local(4, 0.f);  // summed loss, margin, accuracy, KL of this rank's pairs
        if (!mine.empty()) {
          const auto b = MakePairBatch(*ctx, train, mine, cat.size(), ref_info.config.max_context);
          count(b);
          auto r = DpoStep(net, ref, b, songs, tau, o.beta);
          const double n = static_cast<double>(mine.size());
          (r.out.loss * (n / static_cast<double>(idx.size()))).backward();
          local = {static_cast<float>(r.out.loss.item<double>() * n), static_cast<float>(r.out.reward_margin.item<double>() * n),
                   static_cast<float>(r.out.accuracy.item<double>() * n), static_cast<float>(r.kl.item<double>() * n)};
        }
        const auto g = distributed::AllReduceGradients(
            net->parameters(), local, comm,
            "dpo seed " + std::to_string(o.seed) + " epoch " + std::to_string(epoch) + " batch " +
                std::to_string(at / static_cast<std::size_t>(o.batch) + 1) + ": gradients");
        torch::nn::utils::clip_grad_norm_(net->parameters(), 1.0);
        opt.step();
        loss += g[0], margin += g[1], acc += g[2], kl += g[3];
        seen += idx.size();
        continue;
      }
      const auto b = MakePairBatch(*ctx, train, idx, cat.size(), ref_info.config.max_context);
      count(b);
      auto r = DpoStep(net, ref, b, songs, tau, o.beta);
      opt.zero_grad();
      r.out.loss.backward();
      torch::nn::utils::clip_grad_norm_(net->parameters(), 1.0);
      opt.step();
      const double w = static_cast<double>(idx.size());
      loss += r.out.loss.item<double>() * w, margin += r.out.reward_margin.item<double>() * w;
      acc += r.out.accuracy.item<double>() * w, kl += r.kl.item<double>() * w;
      seen += idx.size();
    }
    const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - te).count();
    net->eval();
    double vloss = 0, vacc = 0;
    {
      torch::NoGradGuard g;
      for (std::size_t at = 0; at < val.size(); at += 128) {
        if (!distributed::Owns(comm, at / 128)) continue;  // sharded under a distributed launch
        std::vector<std::size_t> idx;
        for (std::size_t i = at; i < std::min(val.size(), at + 128); ++i) idx.push_back(i);
        const auto r = DpoStep(net, ref, MakePairBatch(*ctx, val, idx, cat.size(), ref_info.config.max_context), songs,
                               tau, o.beta);
        vloss += r.out.loss.item<double>() * idx.size(), vacc += r.out.accuracy.item<double>() * idx.size();
      }
    }
    if (dp) {
      double sums[2] = {vloss, vacc};
      comm.AllReduceSum(sums, 2, "dpo seed " + std::to_string(o.seed) + " epoch " + std::to_string(epoch) + ": validation");
      vloss = sums[0], vacc = sums[1];
    }
    EpochLog log;
    log.epoch = epoch;
    log.train_loss = loss / seen, log.reward_margin = margin / seen, log.accuracy = acc / seen, log.kl = kl / seen;
    log.val_loss = val.empty() ? 0 : vloss / val.size();
    log.val_accuracy = val.empty() ? 0 : vacc / val.size();
    log.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - te).count();
    log.train_tokens_per_second = train_seconds > 0 ? static_cast<double>(epoch_tokens) / train_seconds : 0;
    if (!std::isfinite(log.train_loss))
      throw std::runtime_error("dpo seed " + std::to_string(o.seed) + ": the loss became NaN at epoch " +
                               std::to_string(epoch) + " (try a smaller --lr or larger --beta)");
    result.epochs.push_back(log);
    if (progress)
      *progress << "dpo seed " << o.seed << " epoch " << epoch << "/" << o.epochs << ": loss " << std::fixed
                << std::setprecision(4) << log.train_loss << ", reward margin " << log.reward_margin
                << ", preference accuracy " << std::setprecision(3) << log.accuracy << " (val " << log.val_accuracy
                << "), KL to reference " << std::setprecision(4) << log.kl << " (" << std::setprecision(1)
                << log.seconds << " s; training " << std::setprecision(0) << log.train_tokens_per_second
                << " tokens/s)" << std::endl;
  }
  info.best_epoch = o.epochs;
  info.best_val_loss = result.epochs.back().val_loss;
  if (comm.root()) SavePolicy(o.out, info, net);
  if (dp) comm.Barrier("dpo seed " + std::to_string(o.seed) + ": rank 0 writes " + o.out);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace amrs::agents
