// Python agents in the benchmark (docs/python.md): an agents::Agent adapter around a Python
// object with reset(seed), act(batch) and optionally rank(batch, k), and rollout / evaluate / stress
// through the run API (run::Runner, run::Evaluation, scenarios::RunStress; no second copy of the
// protocol). Python agents are serial external agents (run::ExternalAgent): their batches run one
// after another on the calling thread, so results are the same for any thread count. The C++ work
// runs without the GIL; the adapter takes it for each call into Python.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <tbb/global_control.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "amrs/agents/agent.h"
#include "amrs/core/atomic_file.h"
#include "amrs/core/error.h"
#include "amrs/run/evaluate.h"
#include "amrs/run/run.h"
#include "amrs/scenarios/scenario.h"
#include "amrs/scenarios/stress.h"
#include "amrs/worldmodel/world_model.h"
#include "bindings.h"
#include "observations.h"

namespace py = pybind11;

namespace amrs::python {
namespace {

// One Python agent in one call of rollout / evaluate / stress, shared by its adapter instances
// (one per batch of envs). Made and destroyed with the GIL held, by the binding's frame, which
// outlives the run.
struct PyAgentEntry {
  std::string name;
  py::object agent;
  bool has_reset = false, has_rank = false;
  py::object embedding;  // the catalogue embeddings [songs, dim], made on first use
};

// Token slots of the observation arrays: the longest window, the episode's steps and a
// new-session boundary.
std::int32_t ObservationLength(const env::EnvConfig& c) { return c.windows.max_length + c.horizon + 1; }

std::string ShapeText(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// `out` as catalogue indices of the given shape, each in [lo, num_songs); TypeError or ValueError
// naming the agent, the method and the first bad value otherwise.
std::vector<std::int32_t> Indices(const py::object& out, const std::string& what, const std::vector<py::ssize_t>& shape,
                                  std::int32_t lo, std::int32_t num_songs) {
  if (out.is_none()) throw py::type_error(what + " returned None; expected an integer numpy array");
  const py::array a = py::module_::import("numpy").attr("asarray")(out);
  const char kind = a.dtype().kind();
  if (kind != 'i' && kind != 'u')
    throw py::type_error(what + " returned an array of " + std::string(py::str(a.dtype())) +
                         "; expected integers (catalogue indices)");
  bool same = a.ndim() == static_cast<py::ssize_t>(shape.size());
  for (std::size_t i = 0; same && i < shape.size(); ++i) same = a.shape(static_cast<py::ssize_t>(i)) == shape[i];
  if (!same) {
    std::string want = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) want += (i ? ", " : "") + std::to_string(shape[i]);
    throw py::value_error(what + " returned shape " + ShapeText(a) + "; expected " + want +
                          (shape.size() == 1 ? ",)" : ")") + " (one row per observation)");
  }
  const auto flat = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
  std::vector<std::int32_t> v(static_cast<std::size_t>(flat.size()));
  const std::int64_t* p = flat.data();
  const py::ssize_t cols = shape.size() > 1 ? shape[1] : 1;
  for (py::ssize_t i = 0; i < flat.size(); ++i) {
    if (p[i] < lo || p[i] >= num_songs)
      throw py::value_error(what + " returned " + std::to_string(p[i]) + " at row " + std::to_string(i / cols) +
                            (cols > 1 ? ", rank " + std::to_string(i % cols) : "") + "; expected a song index in 0.." +
                            std::to_string(num_songs - 1) + (lo < 0 ? " or -1" : ""));
    v[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(p[i]);
  }
  return v;
}

// What a Python agent's act and rank get: the observations of one batch of envs plus the world on
// their current state. Valid only during the call that received it.
class AgentBatch {
 public:
  AgentBatch(const env::ObservationBatch& batch, PyAgentEntry& entry, std::int32_t max_len, std::uint64_t run_seed)
      : batch_(&batch), entry_(&entry), max_len_(max_len), run_seed_(run_seed) {}
  void Close() { batch_ = nullptr; }

  py::ssize_t size() const { return static_cast<py::ssize_t>(Get().size()); }
  std::int32_t num_songs() const { return World().num_songs(); }
  std::uint64_t run_seed() const { return run_seed_; }
  py::object obs() {
    if (obs_.is_none()) obs_ = ObservationDict(Get(), max_len_);
    return obs_;
  }
  // [rows, 4]: engagement, rating, valence, arousal (the order of the feedback arrays).
  py::array_t<float> utility() const {
    const auto& b = Get();
    py::array_t<float> u({static_cast<py::ssize_t>(b.size()), py::ssize_t{4}});
    auto w = u.mutable_unchecked<2>();
    for (std::size_t i = 0; i < b.size(); ++i) {
      const Utility x = i < b.utility.size() ? b.utility[i] : Utility{};
      const auto r = static_cast<py::ssize_t>(i);
      w(r, 0) = x.engagement, w(r, 1) = x.rating, w(r, 2) = x.valence, w(r, 3) = x.arousal;
    }
    return u;
  }
  // [rows, songs] bool: true where the run's no-replay rule bans the song (ObservationBatch::banned).
  py::array_t<bool> banned() const {
    const auto& b = Get();
    const auto songs = static_cast<py::ssize_t>(num_songs());
    py::array_t<bool> out({static_cast<py::ssize_t>(b.size()), songs});
    std::fill_n(out.mutable_data(), out.size(), false);
    for (std::size_t i = 0; i < b.banned.size(); ++i)
      for (auto s : b.banned[i]) out.mutable_data()[static_cast<py::ssize_t>(i) * songs + s] = true;
    return out;
  }
  // [rows, songs, 4], computed once per batch and read-only (act and rank share it).
  py::object score_catalogue() {
    if (scores_.is_none()) {
      const auto& b = Get();
      std::vector<Feedback> f;
      {
        py::gil_scoped_release release;
        f = b.world->ScoreCatalogue(*b.state);
      }
      py::array_t<float> a = FeedbackArray(f, static_cast<std::int64_t>(b.size()), World().num_songs());
      a.attr("setflags")(py::arg("write") = false);
      scores_ = a;
    }
    return scores_;
  }
  // As VectorEnv.predict: songs [rows] (one per row) -> [rows, 4]; [rows, m] -> [rows, m, 4].
  py::array_t<float> predict(const py::object& songs) {
    const auto& b = Get();
    const py::array a = py::module_::import("numpy").attr("asarray")(songs);
    const auto rows = static_cast<py::ssize_t>(b.size());
    if (a.ndim() != 1 && a.ndim() != 2)
      throw py::value_error("batch.predict: songs must be [rows] or [rows, m], got shape " + ShapeText(a));
    const py::ssize_t m = a.ndim() == 2 ? a.shape(1) : 1;
    std::vector<py::ssize_t> shape{rows};
    if (a.ndim() == 2) shape = {rows, m};
    const auto idx = Indices(songs, "batch.predict: songs", shape, 0, World().num_songs());
    std::vector<Feedback> f;
    {
      py::gil_scoped_release release;
      f = b.world->PredictMany(*b.state, idx, static_cast<std::int32_t>(m));
    }
    auto out = FeedbackArray(f, rows, m);
    if (a.ndim() == 1) out = out.reshape({rows, static_cast<py::ssize_t>(4)});
    return out;
  }
  // [songs, dim] float32, read-only, shared by every batch of the run.
  py::object embedding() {
    if (entry_->embedding.is_none()) {
      const auto& cat = World().catalogue();
      py::array_t<float> e({static_cast<py::ssize_t>(cat.size()), static_cast<py::ssize_t>(cat.dim)});
      std::copy(cat.embedding.begin(), cat.embedding.end(), e.mutable_data());
      e.attr("setflags")(py::arg("write") = false);
      entry_->embedding = e;
    }
    return entry_->embedding;
  }

 private:
  const env::ObservationBatch& Get() const {
    if (!batch_) throw py::value_error("this batch is no longer valid: use it only inside the act/rank call that got it");
    if (!batch_->world || !batch_->state) throw py::value_error("the observation batch has no world state");
    return *batch_;
  }
  const env::World& World() const { return *Get().world; }
  const env::ObservationBatch* batch_;
  PyAgentEntry* entry_;
  std::int32_t max_len_;
  std::uint64_t run_seed_;
  py::object obs_ = py::none(), scores_ = py::none();
};

// The adapter: an agents::Agent whose decisions come from the Python object.
class PythonAgent : public agents::Agent {
 public:
  PythonAgent(PyAgentEntry* entry, const agents::AgentContext& ctx)
      : entry_(entry), max_len_(ObservationLength(ctx.env->config())), num_songs_(ctx.env->world().num_songs()),
        run_seed_(ctx.seed) {}
  std::string Name() const override { return entry_->name; }

  void Reset(std::uint64_t seed) override {
    py::gil_scoped_acquire gil;
    if (entry_->has_reset) Call("reset", [&] { return entry_->agent.attr("reset")(seed); });
  }

  env::Decision Act(const env::ObservationBatch& batch, std::int32_t k) override {
    py::gil_scoped_acquire gil;
    py::object holder = py::cast(AgentBatch(batch, *entry_, max_len_, run_seed_));
    struct Closer {
      AgentBatch& b;
      ~Closer() { b.Close(); }
    } closer{holder.cast<AgentBatch&>()};
    const auto rows = static_cast<py::ssize_t>(batch.size());
    env::Decision d;
    d.actions = Indices(Call("act", [&] { return entry_->agent.attr("act")(holder); }), What("act"), {rows}, 0,
                        num_songs_);
    if (k <= 0) return d;
    if (entry_->has_rank) {
      const auto flat = Indices(Call("rank", [&] { return entry_->agent.attr("rank")(holder, k); }), What("rank"),
                                {rows, k}, -1, num_songs_);
      for (py::ssize_t i = 0; i < rows; ++i)
        d.ranked.emplace_back(flat.begin() + i * k, flat.begin() + (i + 1) * k);
    } else {  // no rank: the list is the action alone (documented), padded with -1
      for (const auto a : d.actions) {
        d.ranked.emplace_back(static_cast<std::size_t>(k), -1);
        d.ranked.back()[0] = a;
      }
    }
    return d;
  }

 private:
  std::string What(const char* method) const { return "Python agent '" + entry_->name + "': " + method; }
  // Calls into Python; an exception raised there keeps its type and gets a note naming the agent.
  template <class F>
  py::object Call(const char* method, F&& f) {
    try {
      return f();
    } catch (py::error_already_set& e) {
      if (py::hasattr(e.value(), "add_note"))
        e.value().attr("add_note")("raised in " + std::string(method) + " of Python agent '" + entry_->name + "'");
      throw;
    }
  }
  PyAgentEntry* entry_;
  std::int32_t max_len_, num_songs_;
  std::uint64_t run_seed_;
};

// The agents argument: (name, None) for a registered agent, (name, object) for a Python agent.
struct AgentList {
  std::vector<std::string> names;
  std::vector<std::unique_ptr<PyAgentEntry>> entries;  // the Python agents
  std::map<std::string, run::ExternalAgent> external;
};

AgentList MakeAgents(const std::vector<std::pair<std::string, py::object>>& list) {
  AgentList out;
  for (const auto& [name, obj] : list) {
    out.names.push_back(name);
    if (obj.is_none()) continue;
    if (agents::AgentRegistry::Has(name))
      throw py::value_error("Python agent '" + name + "': the name is a registered agent's; give it another name");
    if (name.empty() || name.find_first_of("/,()") != std::string::npos)
      throw py::value_error("Python agent '" + name + "': a name must be non-empty without '/', ',' or parentheses");
    if (!py::hasattr(obj, "act")) throw py::type_error("Python agent '" + name + "' has no act(batch) method");
    auto e = std::make_unique<PyAgentEntry>();
    e->name = name;
    e->agent = obj;
    e->has_reset = py::hasattr(obj, "reset");
    e->has_rank = py::hasattr(obj, "rank");
    e->embedding = py::none();
    PyAgentEntry* entry = e.get();
    out.external[name] = run::ExternalAgent{
        [entry](const agents::AgentContext& ctx) { return std::make_unique<PythonAgent>(entry, ctx); }, true};
    out.entries.push_back(std::move(e));
  }
  return out;
}

// Thread count for one call (0: TBB's default); torch single-threaded per worker, as the CLI.
std::unique_ptr<tbb::global_control> Threads(std::int32_t threads) {
  if (threads < 0) throw py::value_error("threads must be >= 0");
  worldmodel::SetTorchThreads(1);
  if (threads == 0) return nullptr;
  return std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, threads);
}

// The run options (python/amrs/agents.py builds this dict; every key is read).
run::RunSpec SpecOf(const py::dict& o, const AgentList& agents) {
  run::RunSpec s;
  s.data = o["data"].cast<std::string>();
  s.world = o["world"].cast<std::string>();
  s.agents = agents.names;
  s.external = agents.external;
  s.params = o["params"].cast<run::Params>();
  s.seeds = o["seeds"].cast<std::vector<std::uint64_t>>();
  s.split = o["split"].cast<std::int32_t>();
  s.parts.clear();
  for (const auto& p : o["parts"].cast<std::vector<std::string>>()) s.parts.push_back(data::ParsePart(p));
  s.horizon = o["horizon"].cast<std::int32_t>();
  s.topk = o["topk"].cast<std::int32_t>();
  s.utility = Utility::Parse(o["utility"].cast<std::string>());
  s.batch = o["batch"].cast<std::int32_t>();
  s.max_users = o["max_users"].cast<std::int32_t>();
  s.users = o["users"].cast<std::vector<std::int32_t>>();
  s.window_seed = o["window_seed"].cast<std::uint64_t>();
  s.new_session = o["new_session"].cast<bool>();
  const auto scope = o["seed_scope"].cast<std::string>();  // "": the default
  if (!scope.empty()) s.seed_scope = run::ParseSeedScope(scope);
  if (o.contains("no_replay")) s.no_replay = env::ParseNoReplay(o["no_replay"].cast<std::string>());
  if (o.contains("oracle_error")) s.oracle_error = o["oracle_error"].cast<bool>();
  return s;
}

template <class T>
py::array_t<T> Array(const std::vector<T>& v, std::vector<py::ssize_t> shape) {
  py::array_t<T> a(shape);
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

py::dict BlockDict(const env::EpisodeBlock& b) {
  const py::ssize_t E = b.episodes(), L = b.horizon, K = b.topk;
  py::dict d;
  d["agent"] = b.agent, d["seed"] = b.seed, d["horizon"] = b.horizon, d["topk"] = b.topk;
  d["episode_seed"] = Array(b.episode_seed, {E});
  d["user"] = Array(b.user, {E}), d["window_index"] = Array(b.window_index, {E});
  d["window_start"] = Array(b.window_start, {E}), d["window_length"] = Array(b.window_length, {E});
  d["actions"] = Array(b.actions, {E, L}), d["ranked"] = Array(b.ranked, {E, L, K});
  d["reward"] = Array(b.reward, {E, L}), d["valence"] = Array(b.valence, {E, L});
  d["arousal"] = Array(b.arousal, {E, L}), d["rating"] = Array(b.rating, {E, L});
  d["engagement"] = Array(b.engagement, {E, L});
  if (!b.disagreement.empty()) d["disagreement"] = Array(b.disagreement, {E, L});  // ensemble worlds only
  if (!b.oracle_error.empty()) d["oracle_error"] = Array(b.oracle_error, {E, L});  // and synthetic data
  if (!b.oracle_feedback.empty()) d["oracle_feedback"] = Array(b.oracle_feedback, {E, L, 4});
  return d;
}

py::dict SummaryDict(const run::AgentSummary& a) {
  py::dict d;
  d["seeds"] = a.seeds, d["reward"] = a.reward, d["valence"] = a.valence, d["arousal"] = a.arousal;
  d["rating"] = a.rating, d["engagement"] = a.engagement;
  return d;
}

// {"world", "world_id", "dataset_fingerprint", "logs": {part: path}, "parts": {part: {agent:
// {seed: arrays}}}, "summary": {part: {agent: means over seeds}}}
py::dict ResultDict(const run::RunResult& r) {
  py::dict d, logs, parts, summary;
  d["world"] = r.world_name, d["world_id"] = r.world_id, d["dataset_fingerprint"] = r.dataset_fingerprint;
  for (const auto& p : r.parts) {
    const std::string part = data::PartName(p.part);
    if (!p.log.empty()) logs[part.c_str()] = p.log;
    py::dict agents, means;
    for (const auto& b : p.blocks) {
      if (!agents.contains(b.agent)) agents[b.agent.c_str()] = py::dict();
      agents[b.agent.c_str()].cast<py::dict>()[py::int_(b.seed)] = BlockDict(b);
    }
    for (const auto& a : run::Summarize(p.blocks)) means[a.agent.c_str()] = SummaryDict(a);
    parts[part.c_str()] = agents, summary[part.c_str()] = means;
  }
  d["logs"] = logs, d["parts"] = parts, d["summary"] = summary;
  return d;
}

py::dict StressDict(const scenarios::StressReport& report) {
  py::dict d, all;
  d["required_failed"] = report.RequiredFailed();
  for (const auto& sr : report.scenarios) {
    py::dict s, agents;
    s["world"] = sr.world_name, s["num_songs"] = sr.num_songs;
    for (const auto& ar : sr.agents) {
      py::dict a, guards;
      a["reward"] = ar.reward, a["valence"] = ar.valence, a["arousal"] = ar.arousal, a["rating"] = ar.rating;
      a["engagement"] = ar.engagement, a["coverage"] = ar.coverage, a["metrics"] = ar.metrics;
      for (const auto& g : ar.guardrails) {
        py::dict x;
        x["threshold"] = g.spec.threshold, x["required"] = g.spec.required, x["units"] = g.units;
        x["violations"] = g.violations, x["rate"] = g.rate, x["mean_value"] = g.mean_value, x["passed"] = g.passed;
        guards[std::string(scenarios::GuardrailName(g.spec.kind)).c_str()] = x;
      }
      a["guardrails"] = guards;
      agents[ar.agent.c_str()] = a;
    }
    s["agents"] = agents;
    all[sr.scenario.name.c_str()] = s;
  }
  d["scenarios"] = all;
  d["table"] = scenarios::StressTable(report);
  d["markdown"] = scenarios::StressMarkdown(report);
  return d;
}

using AgentPairs = std::vector<std::pair<std::string, py::object>>;

py::dict Rollout(const AgentPairs& agent_list, const py::dict& options, const std::string& out, std::int32_t threads) {
  const AgentList agents = MakeAgents(agent_list);
  const run::RunSpec spec = SpecOf(options, agents);
  run::RunHooks hooks;
  hooks.log = out;
  hooks.version = AMRS_VERSION;
  run::RunResult result;
  {
    const auto control = Threads(threads);
    py::gil_scoped_release release;
    result = run::Runner(spec).Run(hooks);
  }
  return ResultDict(result);
}

py::dict Evaluate(const AgentPairs& agent_list, const py::dict& options, const std::string& out_dir,
                  const std::string& oracle, std::int32_t threads) {
  const AgentList agents = MakeAgents(agent_list);
  run::EvaluateSpec spec;
  spec.run = SpecOf(options, agents);
  spec.out_dir = out_dir;
  spec.oracle = run::ParseOracleMode(oracle);
  run::EvaluateResult r;
  {
    const auto control = Threads(threads);
    py::gil_scoped_release release;
    run::RunHooks hooks;
    hooks.version = AMRS_VERSION;
    r = run::Evaluation(spec).Run(hooks);
  }
  py::dict d;
  d["logs"] = r.logs;
  d["learned"] = ResultDict(r.learned);
  d["oracle"] = r.with_oracle ? py::object(ResultDict(r.oracle)) : py::object(py::none());
  return d;
}

py::dict Stress(const std::vector<std::string>& files, const py::object& agent_list, const AgentPairs& external_list,
                const std::string& data, const std::string& world, const run::Params& params, const std::string& out,
                std::int32_t threads) {
  AgentPairs all = external_list;
  const bool override_agents = !agent_list.is_none();
  if (override_agents)
    for (const auto& p : agent_list.cast<AgentPairs>()) all.push_back(p);
  const AgentList agents = MakeAgents(all);
  scenarios::Overrides o;
  o.data = data;
  o.world = world;
  o.params = params;
  if (override_agents)
    for (const auto& p : agent_list.cast<AgentPairs>()) o.agents.push_back(p.first);
  for (const auto& [name, ext] : agents.external) o.external.push_back(name);
  scenarios::StressReport report;
  std::string md;
  {
    const auto control = Threads(threads);
    py::gil_scoped_release release;
    std::vector<scenarios::Scenario> list;
    for (const auto& f : files) list.push_back(scenarios::ParseScenario(f, o));
    report = scenarios::RunStress(list, {}, agents.external);
    md = std::filesystem::path(out).replace_extension(".md").string();  // as `amrs stress`
    scenarios::WriteStressHdf5(report, out, AMRS_VERSION);
    WriteFileAtomically(md, scenarios::StressMarkdown(report));
  }
  py::dict d = StressDict(report);
  d["out"] = out, d["markdown_file"] = md;
  return d;
}

}  // namespace

void InitRun(py::module_& m) {
  py::class_<AgentBatch>(m, "AgentBatch",
                         "What a Python agent's act(batch) and rank(batch, k) get: one batch of envs' observations "
                         "and the world on their current state. Valid only during that call.")
      .def_property_readonly("obs", &AgentBatch::obs, "observation arrays (docs/python.md), rows = batch.size")
      .def_property_readonly("size", &AgentBatch::size, "rows (envs) in the batch")
      .def("__len__", &AgentBatch::size)
      .def_property_readonly("num_songs", &AgentBatch::num_songs, "catalogue size")
      .def_property_readonly("run_seed", &AgentBatch::run_seed, "the run seed of this episode block")
      .def_property_readonly("utility", &AgentBatch::utility,
                             "float32 [rows, 4] reward weights per row: engagement, rating, valence, arousal")
      .def_property_readonly("banned", &AgentBatch::banned,
                             "bool [rows, songs]: songs the run's no-replay rule bans at this step (docs/run.md); "
                             "the runner drops them from rankings and replaces a banned action")
      .def_property_readonly("embedding", &AgentBatch::embedding, "float32 [songs, dim] catalogue embeddings (read-only)")
      .def("score_catalogue", &AgentBatch::score_catalogue,
           "float32 [rows, songs, 4] predicted engagement, rating, valence, arousal of every song (read-only, "
           "computed once per batch)")
      .def("predict", &AgentBatch::predict, py::arg("songs"),
           "predicted feedback as VectorEnv.predict: songs [rows] (one per row) -> float32 [rows, 4]; "
           "[rows, m] -> [rows, m, 4]");
  m.def("_rollout", &Rollout, py::arg("agents"), py::arg("options"), py::arg("out"), py::arg("threads"),
        "amrs.rollout (python/amrs/agents.py) through run::Runner");
  m.def("_evaluate", &Evaluate, py::arg("agents"), py::arg("options"), py::arg("out_dir"), py::arg("oracle"),
        py::arg("threads"), "amrs.evaluate (python/amrs/agents.py) through run::Evaluation");
  m.def("_default_policy_params", [](const std::vector<std::string>& agents) { return run::DefaultPolicyParams(agents); },
        py::arg("agents"), "run::DefaultPolicyParams: the quickstart's copycat/dpo checkpoints for those among agents");
  m.def("_stress", &Stress, py::arg("files"), py::arg("agents"), py::arg("external"), py::arg("data"),
        py::arg("world"), py::arg("params"), py::arg("out"), py::arg("threads"),
        "amrs.stress (python/amrs/agents.py) through scenarios::RunStress");
}

}  // namespace amrs::python
