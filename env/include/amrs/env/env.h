// RecEnv and VectorEnv: the Gymnasium reset/step contract in C++ over history windows of logged
// users (docs/env.md). An immutable EnvContext (dataset, world, windows) is shared by all envs;
// each env is a mutable episode, one per worker.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "amrs/core/types.h"
#include "amrs/data/dataset.h"
#include "amrs/data/splits.h"
#include "amrs/env/world.h"

namespace amrs::env {

struct EnvConfig {
  std::int32_t split = 0;                                  // MCCV split that defines the parts
  data::WindowSpec windows = data::WindowSpec::Rollout();  // 5 windows per user, [10, 100] tokens
  std::uint64_t window_seed = 0;  // fixes every user's windows (shared by training and evaluation)
  std::int32_t horizon = 5;       // L: steps before `truncated`
  // The appended token always carries the predicted engagement. Predicted ratings and affect are
  // appended only if asked: the logs have ratings on a third of songs and affect reports only at
  // session ends, so appending them on every step would be out of distribution for the model.
  // On data with affect after every song (Interactions::has_song_affect) EnvContext turns
  // append_affect on: there every logged song token carries a report.
  bool append_rating = false;
  bool append_affect = false;
  void Validate() const;
};

// Immutable description shared by every env (safe for concurrent use).
class EnvContext {
 public:
  static std::shared_ptr<const EnvContext> Create(std::shared_ptr<const data::Dataset> dataset,
                                                  std::shared_ptr<const World> world,
                                                  const EnvConfig& config = {});
  const data::Dataset& dataset() const { return *dataset_; }
  std::shared_ptr<const data::Dataset> dataset_ptr() const { return dataset_; }
  const World& world() const { return *world_; }
  std::shared_ptr<const World> world_ptr() const { return world_; }
  const EnvConfig& config() const { return config_; }
  // data::Fingerprint(dataset()), computed once, on first use (thread-safe).
  const std::string& dataset_fingerprint() const;
  const History& UserHistory(std::int32_t user) const { return histories_.at(static_cast<std::size_t>(user)); }
  const std::vector<data::Window>& Windows(std::int32_t user) const { return windows_.at(static_cast<std::size_t>(user)); }
  const std::vector<std::int32_t>& Users(data::Part part) const;
  // The session the window's last token belongs to, and the one after it (-1 if none).
  std::pair<std::int32_t, std::int32_t> SessionsAround(std::int32_t user, const data::Window& w) const;

 private:
  EnvContext() = default;
  std::shared_ptr<const data::Dataset> dataset_;
  std::shared_ptr<const World> world_;
  EnvConfig config_;
  std::vector<History> histories_;
  std::vector<std::vector<std::int32_t>> token_session_;  // per user, session index of each token
  std::vector<std::vector<data::Window>> windows_;
  mutable std::once_flag fingerprint_once_;
  mutable std::string fingerprint_;
};

// The no-replay rule of a run (docs/run.md): which songs no agent may recommend (as its action or
// in its top-k list) at a step. The rollout engine passes them to agents (ObservationBatch::banned)
// and enforces the rule on whatever an agent returns (EnforceNoReplay, env/policy.h).
enum class NoReplay {
  kOff,      // no rule: any song at any step
  kSession,  // not a song of the current session: a song token after the history's last boundary
             // token (the window's tail of the current logged session, plus this episode's songs)
  kEpisode,  // not a song this episode already recommended (the episode's own steps only)
};
std::string NoReplayName(NoReplay rule);        // "off" | "session" | "episode"
NoReplay ParseNoReplay(const std::string& name);  // throws ArgumentError naming the valid values
// The songs `rule` bans after `history`, whose last `episode_steps` tokens are the episode's own
// steps: sorted ascending, distinct; empty under kOff and when the rule would ban the whole
// catalogue of `num_songs` (then nothing is banned). VectorEnv::Batch() fills
// ObservationBatch::banned with it and VectorEnv::Step refuses an action in it.
std::vector<std::int32_t> BannedSongs(const History& history, std::int32_t episode_steps, NoReplay rule,
                                      std::int32_t num_songs);
// Why a step refuses `action` at `row`: "action 7 at row 1 is banned by no_replay=session (a song
// of the current session)".
std::string BannedActionMessage(std::int32_t action, std::int32_t row, NoReplay rule);

// Options of one Reset. Unset choices are drawn from the reset seed.
struct ResetOptions {
  data::Part part = data::Part::kTest;
  std::int32_t user = -1;    // dataset user index (must be in `part`); -1: drawn
  std::int32_t window = -1;  // window index in [0, windows.count); -1: drawn
  bool new_session = false;  // open a new session (boundary token) before the first step
  std::optional<float> pre_valence, pre_arousal;  // boundary report; default: from the log
  std::optional<SessionMode> mode;                // boundary mode; default: from the log
  Utility utility;                                // reward weights (eq. 3)
  NoReplay no_replay = NoReplay::kSession;        // songs banned at each step (see NoReplay)
  // Optional edit of the initial history: called with the window's tokens (after the window is
  // cut, before the new-session boundary is added and before the world encodes it) and the
  // episode's seed. Must be deterministic in its arguments and safe to call from several
  // threads at once (the rollout engine shares it between workers). Scenarios build these.
  std::function<void(History& history, std::uint64_t episode_seed)> transform;
};

struct Observation {
  std::int32_t user = -1;
  const History* history = nullptr;  // the episode's history so far; valid until the next Step
  std::int32_t step = 0;             // steps taken
  data::Window window;
};

struct Info {
  Feedback predicted;  // the world's predicted feedback of the action (after Step)
  // Under an ensemble world: the members' per-signal SD of `predicted` and its utility-weighted
  // sum (Utility::Disagreement); zeros otherwise. The reward is Utility::Penalized (docs/ensembles.md).
  Feedback spread;
  float disagreement = 0.f;
  std::int32_t user = -1;
  std::int32_t window_index = -1;
  data::Window window;
  std::int32_t step = 0;
  std::uint64_t seed = 0;
};

struct StepResult {
  Observation observation;
  float reward = 0.f;
  bool terminated = false;  // never: listening has no terminal state
  bool truncated = false;   // after `horizon` steps
  Info info;
};

// What an agent sees for a batch of envs: the observations plus the world and its state, whose
// rows are aligned with `obs` (agents may score the catalogue in one call).
struct ObservationBatch {
  std::vector<Observation> obs;
  const World* world = nullptr;
  const WorldState* state = nullptr;
  std::vector<Utility> utility;  // per row: the reward weights its env was reset with
  // Per row: the songs the row's no-replay rule bans at this step, sorted ascending, distinct
  // (empty under NoReplay::kOff, and when the rule would ban the whole catalogue).
  std::vector<std::vector<std::int32_t>> banned;
  std::size_t size() const { return obs.size(); }
  bool Banned(std::size_t row, std::int32_t song) const;
};

// n envs stepped in lockstep with one batched world call per step. Not thread-safe; one per
// worker. Env i of Reset(seed, ...) is seeded with seed + i.
class VectorEnv {
 public:
  VectorEnv(std::shared_ptr<const EnvContext> context, std::int32_t n);
  VectorEnv(const VectorEnv&) = delete;
  VectorEnv& operator=(const VectorEnv&) = delete;

  std::int32_t size() const { return n_; }
  std::vector<std::pair<Observation, Info>> Reset(std::uint64_t seed, const ResetOptions& options = {});
  // One seed and one option set per env.
  std::vector<std::pair<Observation, Info>> Reset(const std::vector<std::uint64_t>& seeds,
                                                  const std::vector<ResetOptions>& options);
  // actions[i] is a catalogue index for env i. Throws ArgumentError on a bad action (outside the
  // catalogue, or banned by env i's no-replay rule: a song of Batch().banned[i]) or a step after
  // truncation (reset first); a refused Step changes no env.
  std::vector<StepResult> Step(const std::vector<std::int32_t>& actions);
  ObservationBatch Batch() const;
  const EnvContext& context() const { return *ctx_; }

 private:
  std::vector<std::pair<Observation, Info>> DoReset(const std::vector<std::uint64_t>& seeds,
                                                    const std::vector<ResetOptions>& options);
  Observation ObservationOf(std::int32_t i) const;
  std::shared_ptr<const EnvContext> ctx_;
  std::int32_t n_;
  bool ready_ = false;
  std::vector<History> history_;
  std::vector<Info> info_;
  std::vector<Utility> utility_;
  std::vector<NoReplay> no_replay_;
  std::unique_ptr<WorldState> state_;
};

// A single env (a VectorEnv of one).
class RecEnv {
 public:
  explicit RecEnv(std::shared_ptr<const EnvContext> context) : v_(std::move(context), 1) {}
  std::pair<Observation, Info> Reset(std::uint64_t seed, const ResetOptions& options = {}) {
    return v_.Reset(seed, options).front();
  }
  StepResult Step(std::int32_t action) { return v_.Step({action}).front(); }
  ObservationBatch Batch() const { return v_.Batch(); }

 private:
  VectorEnv v_;
};

}  // namespace amrs::env
