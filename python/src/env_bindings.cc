// amrs._VectorEnv: the core of amrs.VectorEnv / amrs.RecEnv (python/amrs/envs.py, docs/python.md
// "Environments") over env::VectorEnv. Arrays in and out, the GIL released around library calls,
// no per-env Python objects on the step path.
//
// The C++ VectorEnv resets and steps its envs together. The Gymnasium contract also lets envs
// be reset one by one (reset masks, next-step autoreset); this core does that by resetting every
// env, giving each env that keeps its episode its current history back through the reset's
// history transform (the world re-encodes it). Episode steps and truncation are counted here, and
// so is the no-replay rule's episode (the C++ env's own step count restarts at such a reset).
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <set>

#include "amrs/core/error.h"
#include "amrs/run/bench.h"
#include "amrs/scenarios/scenario.h"
#include "bindings.h"
#include "objects.h"
#include "observations.h"

namespace py = pybind11;

namespace amrs::python {

namespace {

Utility UtilityOf(const py::handle& value) {
  if (value.is_none()) return Utility();
  if (py::isinstance<py::str>(value)) {
    const auto spec = value.cast<std::string>();
    for (const auto& name : scenarios::UtilityPresetNames())
      if (spec == name) return scenarios::UtilityPreset(spec);
    return Utility::Parse(spec);
  }
  if (py::isinstance<py::dict>(value)) {
    Utility u;
    u.rating = u.engagement = u.valence = u.arousal = 0.f;
    for (auto [k, v] : value.cast<py::dict>()) {
      const auto key = py::str(k).cast<std::string>();
      float* w = key == "rating" ? &u.rating : key == "engagement" ? &u.engagement
               : key == "valence" ? &u.valence : key == "arousal" ? &u.arousal : nullptr;
      if (!w)
        throw ArgumentError("utility: unknown weight '" + key + "' (known: rating, engagement, valence, arousal)");
      *w = v.cast<float>();
    }
    u.Validate();
    return u;
  }
  throw ArgumentError("utility: expected a preset name, a 'valence=0.5,...' spec or a dict of weights");
}

SessionMode ModeOf(const py::handle& value) {
  if (py::isinstance<py::str>(value)) return ParseMode(value.cast<std::string>());
  const int m = value.cast<int>();
  if (m < -1 || m >= kNumModes) throw ArgumentError("mode " + std::to_string(m) + " is not in [-1, 3]");
  return static_cast<SessionMode>(m);
}

// An int option that may also be given per env (a sequence of num_envs ints).
std::int32_t PerEnvInt(const py::handle& value, const char* key, std::int32_t row, std::int32_t n) {
  if (py::isinstance<py::int_>(value) || py::isinstance<py::bool_>(value) || !py::hasattr(value, "__len__"))
    return value.cast<std::int32_t>();
  const auto seq = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(value);
  if (!seq || seq.ndim() != 1 || seq.size() != n)
    throw ArgumentError(std::string("reset option '") + key + "': expected an int or " + std::to_string(n) +
                        " ints (one per env)");
  return static_cast<std::int32_t>(seq.at(row));
}

const char* kKnownOptions =
    "part, user, window, new_session, pre_valence, pre_arousal, mode, utility, no_replay, scenario, reset_mask";

// A no-replay rule given as a string ("session" | "episode" | "off"); `what` names the option.
env::NoReplay NoReplayOf(const py::handle& value, const std::string& what) {
  if (!py::isinstance<py::str>(value))
    throw ArgumentError(what + ": expected \"session\", \"episode\" or \"off\", got " +
                        py::repr(value).cast<std::string>());
  const auto name = value.cast<std::string>();
  try {
    return env::ParseNoReplay(name);
  } catch (const ArgumentError&) {
    throw ArgumentError(what + ": '" + name + "' is not one of session, episode, off");
  }
}

class CoreEnv {
 public:
  CoreEnv(std::shared_ptr<PyWorld> world, std::int32_t n, std::int32_t split, std::int32_t horizon,
          std::uint64_t window_seed, const std::string& part, const py::object& utility, const std::string& autoreset,
          const py::object& no_replay)
      : world_(std::move(world)), horizon_(horizon) {
    if (!world_) throw ArgumentError("VectorEnv: a world is required");
    if (autoreset != "next_step" && autoreset != "disabled")
      throw ArgumentError("VectorEnv: autoreset_mode must be 'next_step' or 'disabled', got '" + autoreset + "'");
    next_step_ = autoreset == "next_step";
    if (horizon < 1) throw ArgumentError("VectorEnv: 'horizon' must be at least 1, got " + std::to_string(horizon));
    defaults_.part = data::ParsePart(part);
    defaults_.utility = UtilityOf(utility);
    defaults_.utility.Validate();
    defaults_.no_replay = NoReplayOf(no_replay, "VectorEnv: 'no_replay'");
    env::EnvConfig c;
    c.split = split;
    c.window_seed = window_seed;
    c.horizon = std::numeric_limits<std::int32_t>::max();  // truncation is counted here
    max_len_ = c.windows.max_length + horizon + 1;
    {
      py::gil_scoped_release release;
      ctx_ = env::EnvContext::Create(world_->dataset->data, world_->world, c);
      env_ = std::make_unique<env::VectorEnv>(ctx_, n);
    }
    slots_.resize(static_cast<std::size_t>(n));
  }

  std::int32_t size() const { return env_->size(); }
  std::int32_t horizon() const { return horizon_; }
  std::int32_t max_len() const { return max_len_; }
  std::int32_t num_songs() const { return ctx_->world().num_songs(); }
  std::string autoreset_mode() const { return next_step_ ? "next_step" : "disabled"; }
  std::shared_ptr<PyWorld> world() const { return world_; }

  // seeds: one per env, or None (each env's next seed: seed + i + k * num_envs for its k-th episode).
  py::tuple Reset(const std::optional<std::vector<std::uint64_t>>& seeds, const py::object& options) {
    const std::int32_t n = size();
    std::vector<char> mask(static_cast<std::size_t>(n), 1);
    py::dict opts = options.is_none() ? py::dict() : py::dict(options);
    if (opts.contains("reset_mask")) {
      const auto a = py::array::ensure(opts["reset_mask"]);
      if (!a || a.dtype().kind() != 'b' || a.ndim() != 1 || a.size() != n)
        throw ArgumentError("reset option 'reset_mask': expected a bool array of " + std::to_string(n));
      const auto b = py::array_t<bool>::ensure(a);
      for (std::int32_t i = 0; i < n; ++i) mask[i] = b.at(i);
      if (!ready_ && std::count(mask.begin(), mask.end(), 0))
        throw ArgumentError("reset option 'reset_mask': the envs have no episodes (first or failed reset): reset every env");
      PyDict_DelItemString(opts.ptr(), "reset_mask");
    }
    if (seeds && static_cast<std::int32_t>(seeds->size()) != n)
      throw ArgumentError("reset: expected " + std::to_string(n) + " seeds, got " + std::to_string(seeds->size()));
    if (!seeds && !seeded_) throw ArgumentError("reset: the first reset needs a seed");
    std::vector<env::ResetOptions> rows(static_cast<std::size_t>(n));
    const env::ResetOptions base = BaseOptions(opts);
    for (std::int32_t i = 0; i < n; ++i)
      if (mask[i]) {
        if (seeds) slots_[i].next_seed = (*seeds)[i];
        rows[i] = RowOptions(opts, base, i);
      }
    ResetRows(mask, rows);
    const auto batch = Batch();
    return py::make_tuple(ObservationDict(batch, max_len_), Infos(batch));
  }

  py::tuple Step(const py::handle& actions) {
    if (!ready_) throw ArgumentError("step: call reset first");
    const std::int32_t n = size(), songs = num_songs();
    const auto a = py::array::ensure(actions);
    if (!a || (a.dtype().kind() != 'i' && a.dtype().kind() != 'u'))
      throw ArgumentError("step: actions must be an integer array (catalogue indices)");
    if (a.ndim() != 1 || a.size() != n)
      throw ArgumentError("step: expected actions of shape (" + std::to_string(n) + ",), got " +
                          std::to_string(a.size()) + " values in " + std::to_string(a.ndim()) + " dimension(s)");
    const auto acts = py::array_t<std::int64_t, py::array::forcecast>::ensure(a);
    std::vector<std::int32_t> act(static_cast<std::size_t>(n), 0);
    std::vector<char> reset(static_cast<std::size_t>(n), 0);
    bool any_step = false, any_reset = false;
    for (std::int32_t i = 0; i < n; ++i) {
      Slot& s = slots_[i];
      if (s.steps >= horizon_ && next_step_) {
        reset[i] = any_reset = true;  // NEXT_STEP autoreset: the action is ignored
        continue;
      }
      if (s.steps >= horizon_)
        throw ArgumentError("step: env " + std::to_string(i) + " is truncated (" + std::to_string(horizon_) +
                            " steps); reset it, e.g. reset(options={'reset_mask': truncations})");
      const std::int64_t x = acts.at(i);
      if (x < 0 || x >= songs)
        throw py::index_error("step: action " + std::to_string(x) + " of env " + std::to_string(i) +
                              " is outside the catalogue [0, " + std::to_string(songs) + ")");
      act[i] = static_cast<std::int32_t>(x);
      any_step = true;
    }
    if (any_step) {  // the no-replay rule, checked here with this env's own episode steps
      const auto before = Batch();
      for (std::int32_t i = 0; i < n; ++i) {
        const auto& banned = before.banned[i];
        if (reset[i]) {  // stepped along and reset after: any song the rule allows
          while (std::binary_search(banned.begin(), banned.end(), act[i])) ++act[i];
        } else if (std::binary_search(banned.begin(), banned.end(), act[i])) {
          throw ArgumentError("step: " + env::BannedActionMessage(act[i], i, slots_[i].no_replay));
        }
      }
    }
    py::array_t<float> rewards(n);
    py::array_t<bool> terminated(n), truncated(n);
    std::fill_n(rewards.mutable_data(), n, 0.f);
    std::fill_n(terminated.mutable_data(), n, false);
    std::fill_n(truncated.mutable_data(), n, false);
    if (any_step) {
      std::vector<env::StepResult> out;
      {
        py::gil_scoped_release release;
        out = env_->Step(act);
      }
      for (std::int32_t i = 0; i < n; ++i) {
        if (reset[i]) continue;
        Slot& s = slots_[i];
        ++s.steps;
        s.predicted = out[i].info.predicted;
        rewards.mutable_at(i) = out[i].reward;
        truncated.mutable_at(i) = s.steps >= horizon_;
      }
    }
    if (any_reset) {
      std::vector<env::ResetOptions> rows(static_cast<std::size_t>(n));
      for (std::int32_t i = 0; i < n; ++i)
        if (reset[i]) rows[i] = defaults_;
      ResetRows(reset, rows);
    }
    const auto batch = Batch();
    return py::make_tuple(ObservationDict(batch, max_len_), rewards, terminated, truncated, Infos(batch));
  }

  // songs [n] -> [n, 4]; songs [n, m] -> [n, m, 4] (engagement, rating, valence, arousal).
  py::array_t<float> Predict(const py::handle& songs) const {
    const auto& state = State();
    const std::int32_t n = size();
    const auto a = py::array::ensure(songs);
    if (!a || (a.dtype().kind() != 'i' && a.dtype().kind() != 'u'))
      throw ArgumentError("predict: songs must be an integer array");
    if ((a.ndim() != 1 && a.ndim() != 2) || a.shape(0) != n)
      throw ArgumentError("predict: expected songs of shape (" + std::to_string(n) + ",) or (" + std::to_string(n) +
                          ", m)");
    const auto s = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
    const std::int64_t m = a.ndim() == 2 ? a.shape(1) : 1;
    std::vector<std::int32_t> flat(static_cast<std::size_t>(s.size()));
    for (std::size_t j = 0; j < flat.size(); ++j) {
      const std::int64_t x = s.data()[j];
      if (x < 0 || x >= num_songs())
        throw py::index_error("predict: song " + std::to_string(x) + " (row " + std::to_string(j / m) +
                              ") is outside the catalogue [0, " + std::to_string(num_songs()) + ")");
      flat[j] = static_cast<std::int32_t>(x);
    }
    std::vector<Feedback> fb;
    {
      py::gil_scoped_release release;
      fb = a.ndim() == 1 ? ctx_->world().Predict(state, flat)
                         : ctx_->world().PredictMany(state, flat, static_cast<std::int32_t>(m));
    }
    auto out = FeedbackArray(fb, n, m);
    if (a.ndim() == 1) return out.reshape({static_cast<py::ssize_t>(n), py::ssize_t{4}});
    return out;
  }

  py::array_t<float> ScoreCatalogue() const {
    const auto& state = State();
    std::vector<Feedback> fb;
    {
      py::gil_scoped_release release;
      fb = ctx_->world().ScoreCatalogue(state);
    }
    return FeedbackArray(fb, size(), num_songs());
  }

  // Reward weights per env in feedback order (engagement, rating, valence, arousal): the reward of
  // a prediction p is (p * w).sum(-1).
  py::array_t<float> Utilities() const {
    py::array_t<float> w({static_cast<py::ssize_t>(size()), py::ssize_t{4}});
    for (std::int32_t i = 0; i < size(); ++i) {
      const Utility& u = slots_[i].utility;
      w.mutable_at(i, 0) = u.engagement, w.mutable_at(i, 1) = u.rating;
      w.mutable_at(i, 2) = u.valence, w.mutable_at(i, 3) = u.arousal;
    }
    return w;
  }

  py::dict Observations() const { return ObservationDict(Batch(), max_len_); }

 private:
  struct Slot {
    std::uint64_t next_seed = 0;
    data::Part part = data::Part::kTest;
    Utility utility;
    env::NoReplay no_replay = env::NoReplay::kSession;
    env::Info info;  // of the reset that began the episode
    std::int32_t steps = 0;
    Feedback predicted;  // of the last step
  };

  // The C++ env's batch with this env's episode steps: obs[i].step and, under the episode rule,
  // banned[i] (the C++ env counts steps from its last reset, which also restarts kept episodes).
  env::ObservationBatch Batch() const {
    auto batch = env_->Batch();
    for (std::int32_t i = 0; i < size(); ++i) {
      const Slot& s = slots_[i];
      batch.obs[i].step = s.steps;
      if (s.no_replay == env::NoReplay::kEpisode)
        batch.banned[i] = env::BannedSongs(*batch.obs[i].history, s.steps, s.no_replay, num_songs());
    }
    return batch;
  }

  const env::WorldState& State() const {
    if (!ready_) throw ArgumentError("call reset first");
    return *env_->Batch().state;
  }

  // Options shared by every env of one reset call: the constructor's defaults, then the scenario
  // file's reset options, then the scalar options.
  env::ResetOptions BaseOptions(const py::dict& opts) const {
    env::ResetOptions o = defaults_;
    for (auto [k, v] : opts) {
      const auto key = py::str(k).cast<std::string>();
      if (!std::set<std::string>{"part", "user", "window", "new_session", "pre_valence", "pre_arousal", "mode",
                                 "utility", "no_replay", "scenario"}
               .count(key))
        throw ArgumentError("unknown reset option '" + key + "' (known: " + kKnownOptions + ")");
    }
    if (opts.contains("scenario")) {
      scenarios::Overrides ov;
      ov.data = world_->dataset->path;
      ov.world = world_->spec;
      const auto path = opts["scenario"].cast<std::string>();
      o = scenarios::MakeResetOptions(scenarios::ParseScenario(path, ov), num_songs());
    }
    auto get = [&opts](const char* key) -> std::optional<py::object> {
      if (!opts.contains(key) || opts[key].is_none()) return std::nullopt;
      return py::reinterpret_borrow<py::object>(opts[key]);
    };
    try {
      if (auto v = get("part")) o.part = data::ParsePart(v->cast<std::string>());
      if (auto v = get("new_session")) o.new_session = v->cast<bool>();
      if (auto v = get("pre_valence")) o.pre_valence = v->cast<float>();
      if (auto v = get("pre_arousal")) o.pre_arousal = v->cast<float>();
      if (auto v = get("mode")) o.mode = ModeOf(*v);
      if (opts.contains("utility")) o.utility = UtilityOf(opts["utility"]);
      if (auto v = get("no_replay")) o.no_replay = NoReplayOf(*v, "bad reset option 'no_replay'");
    } catch (const py::cast_error& e) {
      throw ArgumentError(std::string("bad reset option: ") + e.what());
    }
    return o;
  }

  env::ResetOptions RowOptions(const py::dict& opts, const env::ResetOptions& base, std::int32_t i) const {
    env::ResetOptions o = base;
    if (opts.contains("user") && !opts["user"].is_none()) o.user = PerEnvInt(opts["user"], "user", i, size());
    if (opts.contains("window") && !opts["window"].is_none())
      o.window = PerEnvInt(opts["window"], "window", i, size());
    return o;
  }

  // Resets the envs in `mask` with rows[i] and their next seeds; the others keep their episodes.
  void ResetRows(const std::vector<char>& mask, std::vector<env::ResetOptions>& rows) {
    const std::int32_t n = size();
    std::vector<std::uint64_t> seeds(static_cast<std::size_t>(n));
    if (ready_) {
      const auto batch = env_->Batch();
      for (std::int32_t i = 0; i < n; ++i) {
        if (mask[i]) continue;
        const Slot& s = slots_[i];
        env::ResetOptions& o = rows[i];
        o.part = s.part;
        o.utility = s.utility;
        o.no_replay = s.no_replay;
        o.user = s.info.user;
        o.window = s.info.window_index;
        auto keep = std::make_shared<const History>(*batch.obs[i].history);
        o.transform = [keep](History& h, std::uint64_t) { h = *keep; };
        seeds[i] = s.info.seed;
      }
    }
    for (std::int32_t i = 0; i < n; ++i)
      if (mask[i]) seeds[i] = slots_[i].next_seed;
    std::vector<std::pair<env::Observation, env::Info>> out;
    try {
      py::gil_scoped_release release;
      out = env_->Reset(seeds, rows);
    } catch (...) {
      ready_ = false;  // the C++ env is left without episodes: the next reset must reset every env
      throw;
    }
    ready_ = seeded_ = true;
    for (std::int32_t i = 0; i < n; ++i) {
      if (!mask[i]) continue;
      Slot& s = slots_[i];
      s.next_seed = seeds[i] + static_cast<std::uint64_t>(n);
      s.part = rows[i].part;
      s.utility = rows[i].utility;
      s.no_replay = rows[i].no_replay;
      s.info = out[i].second;
      s.steps = 0;
    }
  }

  py::dict Infos(const env::ObservationBatch& batch) const {
    const py::ssize_t n = size(), songs = num_songs();
    py::array_t<bool> banned({n, songs});
    std::fill_n(banned.mutable_data(), n * songs, false);
    for (py::ssize_t i = 0; i < n; ++i)
      for (auto s : batch.banned[static_cast<std::size_t>(i)]) banned.mutable_data()[i * songs + s] = true;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    py::array_t<float> predicted({n, py::ssize_t{4}});
    py::array_t<std::int32_t> user(n), window(n), start(n), length(n), step(n);
    py::array_t<std::uint64_t> seed(n);
    for (py::ssize_t i = 0; i < n; ++i) {
      const Slot& s = slots_[i];
      const Feedback& f = s.predicted;
      const bool none = s.steps == 0;
      predicted.mutable_at(i, 0) = none ? nan : f.engagement;
      predicted.mutable_at(i, 1) = none ? nan : f.rating;
      predicted.mutable_at(i, 2) = none ? nan : f.valence;
      predicted.mutable_at(i, 3) = none ? nan : f.arousal;
      user.mutable_at(i) = s.info.user;
      window.mutable_at(i) = s.info.window_index;
      start.mutable_at(i) = s.info.window.start;
      length.mutable_at(i) = s.info.window.length;
      step.mutable_at(i) = s.steps;
      seed.mutable_at(i) = s.info.seed;
    }
    py::dict d;
    d["predicted"] = predicted;
    d["user"] = user;
    d["window"] = window;
    d["window_start"] = start;
    d["window_length"] = length;
    d["step"] = step;
    d["seed"] = seed;
    d["banned"] = banned;
    return d;
  }

  std::shared_ptr<PyWorld> world_;
  std::int32_t horizon_;
  std::int32_t max_len_ = 0;
  bool next_step_ = true;
  bool ready_ = false, seeded_ = false;
  env::ResetOptions defaults_;
  std::shared_ptr<const env::EnvContext> ctx_;
  std::unique_ptr<env::VectorEnv> env_;
  std::vector<Slot> slots_;
};

}  // namespace

void InitEnv(py::module_& m) {
  py::class_<CoreEnv>(m, "_VectorEnv", "Core of amrs.VectorEnv (python/amrs/envs.py); use that instead.")
      .def(py::init<std::shared_ptr<PyWorld>, std::int32_t, std::int32_t, std::int32_t, std::uint64_t,
                    const std::string&, const py::object&, const std::string&, const py::object&>(),
           py::arg("world"), py::arg("num_envs"), py::arg("split") = 0, py::arg("horizon") = 5,
           py::arg("window_seed") = 0, py::arg("part") = "test", py::arg("utility") = py::none(),
           py::arg("autoreset_mode") = "next_step", py::arg("no_replay") = "session")
      .def_property_readonly("num_envs", &CoreEnv::size)
      .def_property_readonly("horizon", &CoreEnv::horizon)
      .def_property_readonly("max_len", &CoreEnv::max_len)
      .def_property_readonly("num_songs", &CoreEnv::num_songs)
      .def_property_readonly("autoreset_mode", &CoreEnv::autoreset_mode)
      .def_property_readonly("world", &CoreEnv::world)
      .def("reset", &CoreEnv::Reset, py::arg("seeds"), py::arg("options") = py::none())
      .def("step", &CoreEnv::Step, py::arg("actions"))
      .def("observations", &CoreEnv::Observations)
      .def("predict", &CoreEnv::Predict, py::arg("songs"))
      .def("score_catalogue", &CoreEnv::ScoreCatalogue)
      .def("utilities", &CoreEnv::Utilities);

  // For scripts/bench_python.py: env-steps per second of a built-in agent in the C++ VectorEnv
  // (run::TimeEnv), on the same dataset and world.
  m.def(
      "_bench_cpp_env",
      [](std::shared_ptr<PyWorld> world, std::int32_t num_envs, double seconds, const std::string& agent,
         std::int32_t split, std::int32_t horizon, std::uint64_t window_seed) {
        env::EnvConfig c;
        c.split = split;
        c.horizon = horizon;
        c.window_seed = window_seed;
        py::gil_scoped_release release;
        auto ctx = env::EnvContext::Create(world->dataset->data, world->world, c);
        return run::TimeEnv(ctx, agent, num_envs, seconds).steps_per_second;
      },
      py::arg("world"), py::arg("num_envs"), py::arg("seconds") = 3.0, py::arg("agent") = "random",
      py::arg("split") = 0, py::arg("horizon") = 5, py::arg("window_seed") = 0);
}

}  // namespace amrs::python
