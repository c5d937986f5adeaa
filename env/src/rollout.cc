#include "amrs/env/rollout.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "amrs/core/error.h"
#include "amrs/core/rng.h"

namespace amrs::env {

void RolloutOptions::Validate() const {
  if (batch < 1) throw ArgumentError("rollout: 'batch' must be at least 1");
  if (topk < 0) throw ArgumentError("rollout: 'topk' must be >= 0");
  if (max_users < 0) throw ArgumentError("rollout: 'max_users' must be >= 0");
  if (shard_count < 1 || shard_rank < 0 || shard_rank >= shard_count)
    throw ArgumentError("rollout: shard " + std::to_string(shard_rank) + " of " + std::to_string(shard_count) +
                        " does not exist");
  reset.utility.Validate();
}

namespace {

// Resets `env` for episodes e0 .. e0 + env.size() - 1 of a block: episode e gets seed seed_of(e),
// user user_of(e) and window window_of(e), the other options from o.reset.
template <class Seed, class User, class Window>
std::vector<std::pair<Observation, Info>> ResetEpisodes(VectorEnv& env, const RolloutOptions& o, std::int32_t e0,
                                                        Seed&& seed_of, User&& user_of, Window&& window_of) {
  const std::int32_t n = env.size();
  std::vector<std::uint64_t> seeds(static_cast<std::size_t>(n));
  std::vector<ResetOptions> opts(static_cast<std::size_t>(n), o.reset);
  for (std::int32_t i = 0; i < n; ++i) {
    seeds[i] = seed_of(e0 + i);
    opts[i].part = o.part;
    opts[i].user = user_of(e0 + i);
    opts[i].window = window_of(e0 + i);
  }
  return env.Reset(seeds, opts);
}

}  // namespace

EpisodeBlock RunRollouts(std::shared_ptr<const EnvContext> ctx, const PolicyFactory& make_policy,
                         const std::string& agent, std::uint64_t seed, const RolloutOptions& o,
                         const RolloutProgress& progress) {
  o.Validate();
  if (!ctx) throw ArgumentError("rollout: no env context");
  auto users = ctx->Users(o.part);
  if (!o.users.empty()) {
    std::vector<std::int32_t> chosen;
    for (auto u : o.users) {
      if (!std::binary_search(users.begin(), users.end(), u))
        throw ArgumentError("rollout: 'users': user index " + std::to_string(u) +
                            " is not in this part of split " + std::to_string(ctx->config().split));
      if (std::find(chosen.begin(), chosen.end(), u) == chosen.end()) chosen.push_back(u);
    }
    users = std::move(chosen);
  }
  if (o.max_users > 0 && static_cast<std::int32_t>(users.size()) > o.max_users) users.resize(static_cast<std::size_t>(o.max_users));
  struct Episode {
    std::int32_t user, window;
  };
  std::vector<Episode> episodes;
  for (auto u : users)
    for (std::int32_t w = 0; w < static_cast<std::int32_t>(ctx->Windows(u).size()); ++w) episodes.push_back({u, w});
  const std::int32_t E = static_cast<std::int32_t>(episodes.size());
  const std::int32_t L = ctx->config().horizon, K = o.topk;
  EpisodeBlock b;
  b.agent = agent;
  b.seed = seed;
  b.horizon = L;
  b.topk = K;
  b.episode_seed.resize(static_cast<std::size_t>(E));
  b.user.resize(static_cast<std::size_t>(E));
  b.window_index.resize(static_cast<std::size_t>(E));
  b.window_start.resize(static_cast<std::size_t>(E));
  b.window_length.resize(static_cast<std::size_t>(E));
  b.actions.resize(static_cast<std::size_t>(E) * L);
  b.ranked.assign(static_cast<std::size_t>(E) * L * K, -1);
  for (auto* v : {&b.engagement, &b.rating, &b.valence, &b.arousal, &b.reward}) v->resize(static_cast<std::size_t>(E) * L);
  const bool ensemble = ctx->world().members() > 1;
  if (ensemble) b.disagreement.resize(static_cast<std::size_t>(E) * L);
  const std::int32_t n_batches = (E + o.batch - 1) / o.batch;
  const std::int32_t n_songs = ctx->world().num_songs();
  std::atomic<std::int64_t> done{0};
  std::int64_t mine = 0;  // episodes of this shard (the progress total)
  for (std::int32_t bi = o.shard_rank; bi < n_batches; bi += o.shard_count) mine += std::min(o.batch, E - bi * o.batch);
  tbb::parallel_for(0, n_batches, 1, [&](std::int32_t bi) {
    if (bi % o.shard_count != o.shard_rank) return;
    const std::int32_t e0 = bi * o.batch, n = std::min(o.batch, E - e0);
    VectorEnv env(ctx, n);
    const auto first = ResetEpisodes(
        env, o, e0, [&](std::int32_t e) { return seed + static_cast<std::uint64_t>(e); },
        [&](std::int32_t e) { return episodes[e].user; }, [&](std::int32_t e) { return episodes[e].window; });
    auto policy = make_policy();
    if (!policy) throw ArgumentError("rollouts of '" + agent + "': the policy factory returned no policy");
    policy->Reset(Mix64(seed ^ Mix64(0xa11ce5eedULL + static_cast<std::uint64_t>(bi))));
    for (std::int32_t i = 0; i < n; ++i) {
      const std::size_t e = static_cast<std::size_t>(e0 + i);
      b.episode_seed[e] = seed + static_cast<std::uint64_t>(e);
      b.user[e] = first[i].second.user;
      b.window_index[e] = first[i].second.window_index;
      b.window_start[e] = first[i].second.window.start;
      b.window_length[e] = first[i].second.window.length;
    }
    for (std::int32_t t = 0; t < L; ++t) {
      const ObservationBatch obs = env.Batch();
      Decision decision = policy->Act(obs, K);
      const auto& actions = decision.actions;
      if (static_cast<std::int32_t>(actions.size()) != n)
        throw Error("rollout: agent '" + agent + "' returned " + std::to_string(actions.size()) + " actions for " +
                    std::to_string(n) + " observations");
      EnforceNoReplay(obs, decision, n_songs);
      const auto& ranks = decision.ranked;
      for (std::int32_t i = 0; K > 0 && i < n && i < static_cast<std::int32_t>(ranks.size()); ++i)
        for (std::int32_t r = 0; r < K && r < static_cast<std::int32_t>(ranks[i].size()); ++r)
          b.ranked[(static_cast<std::size_t>(e0 + i) * L + t) * K + r] = ranks[i][r];
      const auto res = env.Step(actions);
      for (std::int32_t i = 0; i < n; ++i) {
        const std::size_t at = static_cast<std::size_t>(e0 + i) * L + t;
        b.actions[at] = actions[i];
        b.engagement[at] = res[i].info.predicted.engagement;
        b.rating[at] = res[i].info.predicted.rating;
        b.valence[at] = res[i].info.predicted.valence;
        b.arousal[at] = res[i].info.predicted.arousal;
        b.reward[at] = res[i].reward;
        if (ensemble) b.disagreement[at] = res[i].info.disagreement;
      }
    }
    const auto d = done += n;
    if (progress) progress(d, mine);
  });
  return b;
}

OracleReplay ReplayInOracle(std::shared_ptr<const EnvContext> ctx, const EpisodeBlock& b, const RolloutOptions& o) {
  o.Validate();
  if (!ctx || ctx->world().Name() != "oracle")
    throw ArgumentError("oracle replay: the context's world is not the oracle");
  const std::int32_t E = b.episodes(), L = b.horizon;
  if (L != ctx->config().horizon)
    throw ArgumentError("oracle replay: the block's horizon " + std::to_string(L) + " is not the context's " +
                        std::to_string(ctx->config().horizon));
  const std::size_t EL = static_cast<std::size_t>(E) * static_cast<std::size_t>(L);
  if (b.episode_seed.size() != static_cast<std::size_t>(E) || b.window_index.size() != static_cast<std::size_t>(E) ||
      b.actions.size() != EL || b.valence.size() != EL)
    throw ArgumentError("oracle replay: the block of '" + b.agent + "' lacks episode seeds, windows or steps");
  const Utility& w = o.reset.utility;
  OracleReplay r;
  r.error.assign(EL, 0.f);
  r.feedback.assign(EL * 4, 0.f);
  const std::int32_t n_batches = (E + o.batch - 1) / o.batch;
  tbb::parallel_for(0, n_batches, 1, [&](std::int32_t bi) {
    if (bi % o.shard_count != o.shard_rank) return;
    const std::int32_t e0 = bi * o.batch, n = std::min(o.batch, E - e0);
    VectorEnv env(ctx, n);
    const auto at = [](std::int32_t e) { return static_cast<std::size_t>(e); };
    ResetEpisodes(
        env, o, e0, [&](std::int32_t e) { return b.episode_seed[at(e)]; }, [&](std::int32_t e) { return b.user[at(e)]; },
        [&](std::int32_t e) { return b.window_index[at(e)]; });
    std::vector<std::int32_t> actions(static_cast<std::size_t>(n));
    for (std::int32_t t = 0; t < L; ++t) {
      for (std::int32_t i = 0; i < n; ++i) actions[i] = b.actions[static_cast<std::size_t>(e0 + i) * L + t];
      const auto res = env.Step(actions);
      for (std::int32_t i = 0; i < n; ++i) {
        const std::size_t at = static_cast<std::size_t>(e0 + i) * L + t;
        const Feedback& f = res[i].info.predicted;
        float* fb = r.feedback.data() + at * 4;
        fb[0] = f.engagement, fb[1] = f.rating, fb[2] = f.valence, fb[3] = f.arousal;
        r.error[at] = std::abs(w.rating) * std::abs(b.rating[at] - f.rating) +
                    std::abs(w.engagement) * std::abs(b.engagement[at] - f.engagement) +
                    std::abs(w.valence) * std::abs(b.valence[at] - f.valence) +
                    std::abs(w.arousal) * std::abs(b.arousal[at] - f.arousal);
      }
    }
  });
  return r;
}

namespace {

// Calls f(array, stride) for every per-episode array of `b` (stride: values per episode).
template <class Block, class F>
void ForEachArray(Block& b, F&& f) {
  const std::size_t L = static_cast<std::size_t>(b.horizon), K = static_cast<std::size_t>(b.topk);
  f(b.episode_seed, 1);
  f(b.user, 1), f(b.window_index, 1), f(b.window_start, 1), f(b.window_length, 1);
  f(b.actions, L);
  f(b.ranked, L * K);
  f(b.engagement, L), f(b.rating, L), f(b.valence, L), f(b.arousal, L), f(b.reward, L);
  if (!b.disagreement.empty()) f(b.disagreement, L);
  if (!b.oracle_error.empty()) f(b.oracle_error, L);
  if (!b.oracle_feedback.empty()) f(b.oracle_feedback, L * 4);
}

}  // namespace

std::string PackShard(const EpisodeBlock& b, std::int32_t batch, int rank, int count) {
  const std::int32_t E = b.episodes();
  std::string out;
  for (std::int32_t e0 = rank * batch; e0 < E; e0 += count * batch) {
    const std::size_t n = static_cast<std::size_t>(std::min(batch, E - e0));
    ForEachArray(b, [&](const auto& v, std::size_t stride) {
      const auto* p = v.data() + static_cast<std::size_t>(e0) * stride;
      out.append(reinterpret_cast<const char*>(p), n * stride * sizeof(*p));
    });
  }
  return out;
}

void MergeShards(EpisodeBlock& b, const std::vector<std::string>& shards, std::int32_t batch) {
  const std::int32_t E = b.episodes();
  const int count = static_cast<int>(shards.size());
  for (int rank = 0; rank < count; ++rank) {
    const std::string& bytes = shards[static_cast<std::size_t>(rank)];
    std::size_t at = 0;
    for (std::int32_t e0 = rank * batch; e0 < E; e0 += count * batch) {
      const std::size_t n = static_cast<std::size_t>(std::min(batch, E - e0));
      ForEachArray(b, [&](auto& v, std::size_t stride) {
        auto* p = v.data() + static_cast<std::size_t>(e0) * stride;
        const std::size_t len = n * stride * sizeof(*p);
        if (at + len > bytes.size())
          throw InputError("rollout: the episodes of shard " + std::to_string(rank) + " are shorter than the block");
        std::memcpy(p, bytes.data() + at, len);
        at += len;
      });
    }
    if (at != bytes.size())
      throw InputError("rollout: the episodes of shard " + std::to_string(rank) + " are longer than the block");
  }
}

std::int64_t EnforceNoReplay(const ObservationBatch& batch, Decision& d, std::int32_t num_songs) {
  std::int64_t replaced = 0;
  for (std::size_t i = 0; i < d.actions.size() && i < batch.banned.size(); ++i) {
    if (batch.banned[i].empty()) continue;
    const std::vector<std::int32_t> none;
    const auto& ranked = i < d.ranked.size() ? d.ranked[i] : none;
    std::int32_t& a = d.actions[i];
    if (batch.Banned(i, a)) {
      ++replaced;
      const auto it = std::find_if(ranked.begin(), ranked.end(), [&](std::int32_t s) {
        return s >= 0 && s < num_songs && !batch.Banned(i, s);
      });
      if (it != ranked.end()) {
        a = *it;
      } else {
        std::int32_t s = a;
        do s = (s + 1) % num_songs;
        while (batch.Banned(i, s) && s != a);
        a = s;
      }
    }
    if (i < d.ranked.size()) {
      auto& r = d.ranked[i];
      r.erase(std::remove_if(r.begin(), r.end(), [&](std::int32_t s) { return batch.Banned(i, s); }), r.end());
    }
  }
  return replaced;
}

}  // namespace amrs::env
