#include "amrs/env/env.h"

#include <algorithm>
#include <cmath>

#include "amrs/core/error.h"
#include "amrs/core/rng.h"
#include "amrs/data/tokens.h"

namespace amrs::env {

std::string NoReplayName(NoReplay rule) {
  switch (rule) {
    case NoReplay::kOff: return "off";
    case NoReplay::kSession: return "session";
    case NoReplay::kEpisode: return "episode";
  }
  return "?";
}

NoReplay ParseNoReplay(const std::string& name) {
  for (auto r : {NoReplay::kSession, NoReplay::kEpisode, NoReplay::kOff})
    if (name == NoReplayName(r)) return r;
  throw ArgumentError("bad no-replay rule '" + name + "' (known: session, episode, off)");
}

bool ObservationBatch::Banned(std::size_t row, std::int32_t song) const {
  if (row >= banned.size()) return false;
  const auto& b = banned[row];
  return std::binary_search(b.begin(), b.end(), song);
}

namespace {
// Calls f(song) for each song token `rule` looks at, newest first: the last `steps` tokens
// (kEpisode) or the tokens after the last boundary token (kSession); none under kOff.
template <class F>
void ForEachRuleSong(const History& history, std::int32_t steps, NoReplay rule, F&& f) {
  if (rule == NoReplay::kOff) return;
  const std::size_t n = history.size();
  const std::size_t from = rule == NoReplay::kEpisode ? n - std::min<std::size_t>(n, static_cast<std::size_t>(std::max(0, steps))) : 0;
  for (std::size_t t = n; t-- > from;) {
    if (history[t].IsBoundary()) {
      if (rule == NoReplay::kSession) break;
      continue;
    }
    f(history[t].song);
  }
}

// Whether `song` is in BannedSongs(history, steps, rule, num_songs), without building the list in
// the common case.
bool IsBanned(const History& history, std::int32_t steps, NoReplay rule, std::int32_t num_songs, std::int32_t song) {
  bool found = false;
  std::int64_t songs = 0;
  ForEachRuleSong(history, steps, rule, [&](std::int32_t s) { ++songs, found |= s == song; });
  if (!found) return false;
  if (songs < num_songs) return true;  // too few songs to ban the whole catalogue
  return !BannedSongs(history, steps, rule, num_songs).empty();
}
}  // namespace

std::vector<std::int32_t> BannedSongs(const History& history, std::int32_t steps, NoReplay rule,
                                      std::int32_t num_songs) {
  std::vector<std::int32_t> out;
  ForEachRuleSong(history, steps, rule, [&](std::int32_t s) { out.push_back(s); });
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (static_cast<std::int32_t>(out.size()) >= num_songs) out.clear();  // nothing left to play: no rule
  return out;
}

std::string BannedActionMessage(std::int32_t action, std::int32_t row, NoReplay rule) {
  return "action " + std::to_string(action) + " at row " + std::to_string(row) + " is banned by no_replay=" +
         NoReplayName(rule) +
         (rule == NoReplay::kEpisode ? " (a song this episode already recommended)" : " (a song of the current session)");
}

void EnvConfig::Validate() const {
  if (horizon < 1) throw ArgumentError("env: 'horizon' (L) must be at least 1, got " + std::to_string(horizon));
  if (windows.count < 1 || windows.min_length < 1 || windows.max_length < windows.min_length)
    throw ArgumentError("env: window spec needs count >= 1 and 1 <= min_length <= max_length");
  if (split < 0) throw ArgumentError("env: 'split' must be >= 0");
}

std::shared_ptr<const EnvContext> EnvContext::Create(std::shared_ptr<const data::Dataset> d,
                                                     std::shared_ptr<const World> w, const EnvConfig& c) {
  if (!d || !w) throw ArgumentError("env: a dataset and a world are required");
  c.Validate();
  if (d->splits.empty()) throw InputError("env: the dataset has no MCCV splits (run `amrs split`)");
  if (c.split >= static_cast<std::int32_t>(d->splits.size()))
    throw ArgumentError("env: split " + std::to_string(c.split) + " does not exist (the dataset has " +
                        std::to_string(d->splits.size()) + ")");
  if (w->num_songs() != d->num_songs())
    throw ArgumentError("env: the world has " + std::to_string(w->num_songs()) + " songs, the dataset " +
                        std::to_string(d->num_songs()));
  std::shared_ptr<EnvContext> ctx(new EnvContext());
  ctx->dataset_ = d;
  ctx->world_ = w;
  ctx->config_ = c;
  // Data with a report after every song (Interactions::has_song_affect): logged song tokens carry
  // affect, so simulated ones carry their predicted affect too (EnvConfig::append_affect turned on).
  ctx->config_.append_affect = c.append_affect || d->interactions.has_song_affect();
  const data::UserIndex index(*d);
  ctx->histories_.resize(static_cast<std::size_t>(d->num_users()));
  ctx->token_session_.resize(ctx->histories_.size());
  ctx->windows_.resize(ctx->histories_.size());
  for (std::int32_t u = 0; u < d->num_users(); ++u) {
    ctx->histories_[u] = data::UserHistory(*d, index, u);
    auto& ts = ctx->token_session_[u];
    for (std::int32_t s = index.session_begin[u]; s < index.session_end[u]; ++s) {
      ts.push_back(s);  // boundary
      for (std::int32_t i = index.session_interaction_begin[s]; i < index.session_interaction_end[s]; ++i) ts.push_back(s);
    }
    ctx->windows_[u] = data::SampleWindows(static_cast<std::int32_t>(ctx->histories_[u].size()), c.windows,
                                           c.window_seed, "rollout", u);
  }
  return ctx;
}

const std::vector<std::int32_t>& EnvContext::Users(data::Part part) const {
  return data::Users(dataset_->splits[static_cast<std::size_t>(config_.split)], part);
}

const std::string& EnvContext::dataset_fingerprint() const {
  std::call_once(fingerprint_once_, [this] { fingerprint_ = data::Fingerprint(*dataset_); });
  return fingerprint_;
}

std::pair<std::int32_t, std::int32_t> EnvContext::SessionsAround(std::int32_t user, const data::Window& w) const {
  const auto& ts = token_session_.at(static_cast<std::size_t>(user));
  if (ts.empty()) return {-1, -1};
  const std::int32_t last = ts[static_cast<std::size_t>(std::max(0, w.start + w.length - 1))];
  const auto& s = dataset_->sessions;
  const std::int32_t next = (last + 1 < static_cast<std::int32_t>(s.size()) && s.user[last + 1] == user) ? last + 1 : -1;
  return {last, next};
}

VectorEnv::VectorEnv(std::shared_ptr<const EnvContext> context, std::int32_t n) : ctx_(std::move(context)), n_(n) {
  if (!ctx_) throw ArgumentError("env: no context");
  if (n < 1) throw ArgumentError("env: a vector env needs at least one env, got " + std::to_string(n));
}

std::vector<std::pair<Observation, Info>> VectorEnv::Reset(std::uint64_t seed, const ResetOptions& options) {
  std::vector<std::uint64_t> seeds(static_cast<std::size_t>(n_));
  for (std::int32_t i = 0; i < n_; ++i) seeds[i] = seed + static_cast<std::uint64_t>(i);
  return DoReset(seeds, std::vector<ResetOptions>(static_cast<std::size_t>(n_), options));
}

std::vector<std::pair<Observation, Info>> VectorEnv::Reset(const std::vector<std::uint64_t>& seeds,
                                                           const std::vector<ResetOptions>& options) {
  if (static_cast<std::int32_t>(seeds.size()) != n_ || static_cast<std::int32_t>(options.size()) != n_)
    throw ArgumentError("env: Reset needs one seed and one option set per env (" + std::to_string(n_) + ")");
  return DoReset(seeds, options);
}

std::vector<std::pair<Observation, Info>> VectorEnv::DoReset(const std::vector<std::uint64_t>& seeds,
                                                             const std::vector<ResetOptions>& options) {
  ready_ = false;
  const auto& d = ctx_->dataset();
  history_.assign(static_cast<std::size_t>(n_), History());
  info_.assign(static_cast<std::size_t>(n_), Info());
  utility_.assign(static_cast<std::size_t>(n_), Utility());
  no_replay_.assign(static_cast<std::size_t>(n_), NoReplay::kOff);
  std::vector<std::int32_t> users(static_cast<std::size_t>(n_));
  for (std::int32_t i = 0; i < n_; ++i) {
    const ResetOptions& o = options[i];
    try {
      o.utility.Validate();
    } catch (const ArgumentError& e) {
      throw ArgumentError(std::string("env: bad reset option: ") + e.what());
    }
    // Only -1 means "draw"; any other negative index is a caller's mistake, not a request.
    if (o.user < -1)
      throw ArgumentError("env: bad reset option 'user': " + std::to_string(o.user) +
                          " is not a user index (>= 0) or -1 (drawn)");
    if (o.window < -1)
      throw ArgumentError("env: bad reset option 'window': " + std::to_string(o.window) +
                          " is not a window index (>= 0) or -1 (drawn)");
    const auto& part_users = ctx_->Users(o.part);
    if (part_users.empty()) throw ArgumentError("env: the requested part of the split has no users");
    Rng rng(seeds[i], "env-reset");
    std::int32_t user = o.user;
    if (user >= 0) {
      if (!std::binary_search(part_users.begin(), part_users.end(), user))
        throw ArgumentError("env: bad reset option 'user': user index " + std::to_string(user) +
                            " is not in this part of split " + std::to_string(ctx_->config().split));
    } else {
      user = part_users[rng.UniformInt(part_users.size())];
    }
    const auto& windows = ctx_->Windows(user);
    std::int32_t widx = o.window;
    if (widx >= static_cast<std::int32_t>(windows.size()))
      throw ArgumentError("env: bad reset option 'window': " + std::to_string(widx) + " is not in [0, " +
                          std::to_string(windows.size()) + ")");
    if (widx < 0) widx = static_cast<std::int32_t>(rng.UniformInt(windows.size()));
    const data::Window w = windows[static_cast<std::size_t>(widx)];
    const History& full = ctx_->UserHistory(user);
    History h(full.begin() + w.start, full.begin() + w.start + w.length);
    if (o.transform) o.transform(h, seeds[i]);
    if (o.new_session) {
      const auto [last, next] = ctx_->SessionsAround(user, w);
      const std::int32_t src = next >= 0 ? next : last;
      float v = src >= 0 ? d.sessions.pre_valence[src] : 0.5f;
      float a = src >= 0 ? d.sessions.pre_arousal[src] : 0.5f;
      SessionMode m = src >= 0 ? static_cast<SessionMode>(d.sessions.mode[src]) : SessionMode::kNone;
      if (o.pre_valence) v = *o.pre_valence;
      if (o.pre_arousal) a = *o.pre_arousal;
      if (o.mode) m = *o.mode;
      for (auto [name, x] : {std::pair{"pre_valence", v}, std::pair{"pre_arousal", a}})
        if (!std::isfinite(x) || x < 0.f || x > 1.f)
          throw ArgumentError(std::string("env: bad reset option '") + name + "': " + std::to_string(x) +
                              " is outside [0, 1]");
      h.push_back(Token::Boundary(v, a, m));
    } else if (o.pre_valence || o.pre_arousal || o.mode) {
      throw ArgumentError("env: bad reset options: pre_valence, pre_arousal and mode need new_session");
    }
    history_[i] = std::move(h);
    users[i] = user;
    utility_[i] = o.utility;
    no_replay_[i] = o.no_replay;
    info_[i].user = user;
    info_[i].window_index = widx;
    info_[i].window = w;
    info_[i].seed = seeds[i];
  }
  state_ = ctx_->world().Encode(users, history_);
  ready_ = true;
  std::vector<std::pair<Observation, Info>> out;
  for (std::int32_t i = 0; i < n_; ++i) out.emplace_back(ObservationOf(i), info_[i]);
  return out;
}

Observation VectorEnv::ObservationOf(std::int32_t i) const {
  Observation o;
  o.user = info_[i].user;
  o.history = &history_[i];
  o.step = info_[i].step;
  o.window = info_[i].window;
  return o;
}

ObservationBatch VectorEnv::Batch() const {
  if (!ready_) throw ArgumentError("env: call Reset before asking for observations");
  ObservationBatch b;
  for (std::int32_t i = 0; i < n_; ++i) b.obs.push_back(ObservationOf(i));
  b.world = &ctx_->world();
  b.state = state_.get();
  b.utility = utility_;
  const std::int32_t n_songs = ctx_->world().num_songs();
  for (std::int32_t i = 0; i < n_; ++i)
    b.banned.push_back(BannedSongs(history_[i], info_[i].step, no_replay_[i], n_songs));
  return b;
}

std::vector<StepResult> VectorEnv::Step(const std::vector<std::int32_t>& actions) {
  if (!ready_) throw ArgumentError("env: Step before Reset");
  if (static_cast<std::int32_t>(actions.size()) != n_)
    throw ArgumentError("env: Step got " + std::to_string(actions.size()) + " actions for " + std::to_string(n_) +
                        " envs");
  const auto& cfg = ctx_->config();
  if (info_[0].step >= cfg.horizon)
    throw ArgumentError("env: the episode is over (truncated after " + std::to_string(cfg.horizon) +
                        " steps); call Reset");
  const std::int32_t n_songs = ctx_->world().num_songs();
  for (std::int32_t i = 0; i < n_; ++i)
    if (actions[i] < 0 || actions[i] >= n_songs)
      throw ArgumentError("env: action " + std::to_string(actions[i]) + " of env " + std::to_string(i) +
                          " is outside the catalogue [0, " + std::to_string(n_songs) + ")");
  for (std::int32_t i = 0; i < n_; ++i)
    if (IsBanned(history_[i], info_[i].step, no_replay_[i], n_songs, actions[i]))
      throw ArgumentError("env: " + BannedActionMessage(actions[i], i, no_replay_[i]));
  // An ensemble world also gives its members' spread: the reward is then penalized by it.
  const bool spread = ctx_->world().members() > 1;
  std::vector<Feedback> sd;
  const auto fb = spread ? ctx_->world().PredictSpread(*state_, actions, sd) : ctx_->world().Predict(*state_, actions);
  std::vector<Token> tokens(static_cast<std::size_t>(n_));
  std::vector<StepResult> out(static_cast<std::size_t>(n_));
  for (std::int32_t i = 0; i < n_; ++i) {
    const SessionMode mode = history_[i].empty() ? SessionMode::kNone : history_[i].back().mode;
    tokens[i] = Token::Song(actions[i], fb[i], cfg.append_rating, cfg.append_affect, mode);
    out[i].reward = spread ? utility_[i].Penalized(fb[i], sd[i]) : utility_[i](fb[i]);
    info_[i].spread = spread ? sd[i] : Feedback{};
    info_[i].disagreement = spread ? utility_[i].Disagreement(sd[i]) : 0.f;
  }
  ctx_->world().Append(*state_, tokens);
  for (std::int32_t i = 0; i < n_; ++i) {
    history_[i].push_back(tokens[i]);
    ++info_[i].step;
    info_[i].predicted = fb[i];
    out[i].truncated = info_[i].step >= cfg.horizon;
    out[i].terminated = false;
    out[i].info = info_[i];
    out[i].observation = ObservationOf(i);
  }
  return out;
}

}  // namespace amrs::env
