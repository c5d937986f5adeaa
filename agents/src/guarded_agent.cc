// guarded(<agent>): re-ranks the inner agent's top-k so the recommendation respects the
// deployment guardrails (docs/scenarios.md). The ordering itself is GuardOrder (guarded.h).
#include "amrs/agents/guarded.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>

#include "amrs/agents/agent.h"
#include "amrs/core/error.h"

namespace amrs::agents {

GuardOptions GuardOptions::FromParams(const std::map<std::string, std::string>& params) {
  return FromParams(params, GuardOptions());
}

GuardOptions GuardOptions::FromParams(const std::map<std::string, std::string>& params, const GuardOptions& base) {
  GuardOptions o = base;
  auto number = [&](const char* key, double lo, double hi, double* out) {
    auto it = params.find(key);
    if (it == params.end()) return;
    std::size_t used = 0;
    double x = 0;
    try {
      x = std::stod(it->second, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != it->second.size() || it->second.empty() || std::isnan(x) || x < lo || x > hi)
      throw ArgumentError(std::string("guarded: parameter '") + key + "' = '" + it->second + "' is not a number in [" +
                          std::to_string(lo) + ", " + std::to_string(hi) + "]");
    *out = x;
  };
  double k = o.k, reps = o.max_repeats, step = o.max_arousal_step, val = o.min_valence, pen = o.coverage_penalty;
  const double inf = std::numeric_limits<double>::infinity();
  number("guard.k", 1, 1e6, &k);
  number("guard.max_repeats", 0, 1e6, &reps);
  number("guard.max_arousal_step", 0, inf, &step);
  number("guard.min_valence", -inf, 1, &val);
  number("guard.coverage_penalty", 0, 1e6, &pen);
  if (params.count("guard.min_arousal_drop")) {  // else as in `base`
    double drop = 0;
    number("guard.min_arousal_drop", 0, 1, &drop);
    o.min_arousal_drop = static_cast<float>(drop);
  }
  if (k != std::floor(k) || reps != std::floor(reps))
    throw ArgumentError("guarded: parameters 'guard.k' and 'guard.max_repeats' must be whole numbers");
  o.k = static_cast<std::int32_t>(k);
  o.max_repeats = static_cast<std::int32_t>(reps);
  o.max_arousal_step = static_cast<float>(step);
  o.min_valence = static_cast<float>(val);
  o.coverage_penalty = static_cast<float>(pen);
  return o;
}

std::vector<std::int32_t> GuardOrder(const std::vector<GuardCandidate>& c, std::optional<float> prev_arousal,
                                     const GuardOptions& o) {
  const std::size_t n = c.size();
  std::vector<std::int32_t> broken(n, 0);
  std::vector<double> excess(n, 0.0), adjusted(n, 0.0);
  auto add = [&](std::size_t i, double over, double bound) {
    if (over <= 0) return;
    ++broken[i];
    excess[i] += bound > 0 ? over / bound : over;
  };
  for (std::size_t i = 0; i < n; ++i) {
    if (o.max_repeats > 0) add(i, c[i].plays_in_episode + 1 - o.max_repeats, o.max_repeats);
    if (prev_arousal && std::isfinite(o.max_arousal_step))
      add(i, std::fabs(c[i].arousal - *prev_arousal) - o.max_arousal_step, o.max_arousal_step);
    if (prev_arousal && o.min_arousal_drop)
      add(i, c[i].arousal - (*prev_arousal - *o.min_arousal_drop), *o.min_arousal_drop);
    if (std::isfinite(o.min_valence)) add(i, o.min_valence - c[i].valence, std::fabs(o.min_valence));
    adjusted[i] = static_cast<double>(i) + static_cast<double>(o.coverage_penalty) * static_cast<double>(c[i].picks);
  }
  std::vector<std::int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
    return std::tie(broken[a], excess[a], adjusted[a]) < std::tie(broken[b], excess[b], adjusted[b]);
  });
  return order;
}

namespace {

class GuardedAgent : public Agent {
 public:
  GuardedAgent(std::unique_ptr<Agent> inner, const AgentContext& ctx)
      : inner_(std::move(inner)),
        options_(GuardOptions::FromParams(ctx.params, ctx.guard.value_or(GuardOptions()))),
        picks_(static_cast<std::size_t>(ctx.env->world().num_songs()), 0) {}

  std::string Name() const override { return "guarded(" + inner_->Name() + ")"; }

  // Pick counts (the coverage floor) persist across episodes and Resets of this instance.
  void Reset(std::uint64_t seed) override {
    inner_->Reset(seed);
    prev_key_ = {};
  }

  // The choice is the first of the guarded order of the inner agent's top guard.k. The ranking is
  // that order too; a longer one than guard.k is the guarded order of the inner top-k, computed
  // with the pick counts as they were before this call.
  env::Decision Act(const env::ObservationBatch& batch, std::int32_t k) override {
    const auto prev = PreviousArousal(batch);
    const auto before = k > options_.k ? picks_ : std::vector<std::int64_t>();
    auto ranked = Order(batch, options_.k, prev);  // counts each row's choice as a pick
    env::Decision d;
    d.actions.resize(batch.size());
    prev_arousal_.assign(batch.size(), 0.f);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      d.actions[i] = ranked.songs[i].at(0);
      prev_arousal_[i] = ranked.arousal[i].at(0);
    }
    prev_key_ = KeyOf(batch);
    if (k <= 0) return d;
    if (k > options_.k) {
      const auto after = picks_;
      picks_ = before;
      ranked.songs = Order(batch, k, prev).songs;
      picks_ = after;
    }
    d.ranked = std::move(ranked.songs);
    for (auto& r : d.ranked) r.resize(std::min<std::size_t>(r.size(), static_cast<std::size_t>(k)));
    return d;
  }

 private:
  struct Key {
    const env::WorldState* state = nullptr;
    std::int32_t step = -1;
    std::size_t rows = 0;
    bool operator==(const Key& o) const { return state == o.state && step == o.step && rows == o.rows; }
  };
  struct Ranked {
    std::vector<std::vector<std::int32_t>> songs;
    std::vector<std::vector<float>> arousal;
  };

  static Key KeyOf(const env::ObservationBatch& b) {
    return {b.state, b.size() ? b.obs[0].step : -1, b.size()};
  }

  // The previous step's predicted arousal per row, if this batch continues the one of the last Act.
  std::vector<std::optional<float>> PreviousArousal(const env::ObservationBatch& b) const {
    std::vector<std::optional<float>> out(b.size());
    const Key k = KeyOf(b);
    if (k.step <= 0 || prev_key_.state != k.state || prev_key_.step != k.step - 1 || prev_key_.rows != k.rows ||
        prev_arousal_.size() != b.size())
      return out;
    for (std::size_t i = 0; i < b.size(); ++i) out[i] = prev_arousal_[i];
    return out;
  }

  // The guarded ranking of every row; counts each row's first song as a pick.
  Ranked Order(const env::ObservationBatch& batch, std::int32_t k, const std::vector<std::optional<float>>& prev) {
    if (!batch.world || !batch.state) throw ArgumentError("guarded: the observation batch has no world state");
    const auto inner = inner_->Act(batch, k).ranked;
    if (inner.size() != batch.size())
      throw Error("guarded: the inner agent '" + inner_->Name() + "' ranked " + std::to_string(inner.size()) +
                  " rows for " + std::to_string(batch.size()));
    // Distinct candidates per row, padded to a common width for one PredictMany call.
    std::vector<std::vector<std::int32_t>> cand(batch.size());
    std::size_t m = 1;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      for (auto s : inner[i])  // the run's no-replay rule: an inner agent's banned songs are no candidates
        if (!batch.Banned(i, s) && std::find(cand[i].begin(), cand[i].end(), s) == cand[i].end()) cand[i].push_back(s);
      if (cand[i].empty()) throw Error("guarded: the inner agent '" + inner_->Name() + "' ranked no songs");
      m = std::max(m, cand[i].size());
    }
    std::vector<std::int32_t> flat(batch.size() * m);
    for (std::size_t i = 0; i < batch.size(); ++i)
      for (std::size_t j = 0; j < m; ++j) flat[i * m + j] = cand[i][std::min(j, cand[i].size() - 1)];
    const auto fb = batch.world->PredictMany(*batch.state, flat, static_cast<std::int32_t>(m));
    Ranked out;
    out.songs.resize(batch.size());
    out.arousal.resize(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto& obs = batch.obs[i];
      const History& h = *obs.history;
      const std::size_t episode_begin = h.size() - std::min<std::size_t>(h.size(), static_cast<std::size_t>(obs.step));
      std::vector<GuardCandidate> gc(cand[i].size());
      for (std::size_t j = 0; j < cand[i].size(); ++j) {
        gc[j].song = cand[i][j];
        gc[j].plays_in_episode = static_cast<std::int32_t>(
            std::count_if(h.begin() + static_cast<std::ptrdiff_t>(episode_begin), h.end(),
                          [&](const Token& t) { return !t.IsBoundary() && t.song == cand[i][j]; }));
        gc[j].arousal = fb[i * m + j].arousal;
        gc[j].valence = fb[i * m + j].valence;
        gc[j].picks = picks_[static_cast<std::size_t>(cand[i][j])];
      }
      for (auto j : GuardOrder(gc, prev[i], options_)) {
        out.songs[i].push_back(gc[static_cast<std::size_t>(j)].song);
        out.arousal[i].push_back(gc[static_cast<std::size_t>(j)].arousal);
      }
      // Rows are served in order, so the next row already sees this row's pick (else all rows
      // of a batch would pile onto the same songs within one step).
      ++picks_[static_cast<std::size_t>(out.songs[i].front())];
    }
    return out;
  }

  std::unique_ptr<Agent> inner_;
  GuardOptions options_;
  std::vector<std::int64_t> picks_;  // per song: times this instance recommended it
  Key prev_key_;  // the batch of the last Act: the next step's batch continues it
  std::vector<float> prev_arousal_;
};

}  // namespace

AMRS_REGISTER_AGENT_WRAPPER("guarded",
                            "re-ranks the inner agent's top-k to respect repeat, arousal-step, valence and "
                            "coverage guardrails",
                            [](std::unique_ptr<Agent> inner, const AgentContext& ctx) -> std::unique_ptr<Agent> {
                              return std::make_unique<GuardedAgent>(std::move(inner), ctx);
                            },
                            {{"guard.k", ParamType::kInt, "50", "candidates taken from the inner agent's ranking"},
                             {"guard.max_repeats", ParamType::kInt, "1", "plays of one song per episode (0: no limit)"},
                             {"guard.max_arousal_step", ParamType::kNumber, "inf",
                              "bound on the predicted arousal change per step"},
                             {"guard.min_valence", ParamType::kNumber, "-inf", "floor on the predicted valence"},
                             {"guard.min_arousal_drop", ParamType::kNumber, "",
                              "if set: each step's predicted arousal at least this much below the previous one"},
                             {"guard.coverage_penalty", ParamType::kNumber, "5",
                              "rank positions lost per earlier pick of a song (0: no coverage floor)"}});

}  // namespace amrs::agents
