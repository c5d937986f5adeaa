#include "amrs/scenarios/stress.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "amrs/agents/agent.h"
#include "amrs/agents/guarded.h"
#include "amrs/core/atomic_file.h"
#include "amrs/core/error.h"
#include "amrs/data/dataset.h"
#include "amrs/env/world.h"
#include "amrs/metrics/recommender.h"
#include "amrs/metrics/rollouts.h"
#include "amrs/run/run.h"
#include "episode_block_h5.h"
#include "h5util.h"

namespace amrs::scenarios {

namespace h5 = amrs::data::h5;

namespace {

// Per-unit value and location of one guardrail; `worse(a, b)` is true when a is worse than b.
struct Unit {
  WorstCase at;
  bool violates = false;
};

bool Worse(GuardrailKind k, double a, double b) {
  return (k == GuardrailKind::kMinValence || k == GuardrailKind::kMinCoverage) ? a < b : a > b;
}

std::string Fmt(double x, int digits = 4) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

}  // namespace

GuardrailResult CheckGuardrail(const GuardrailSpec& spec, const std::vector<env::EpisodeBlock>& blocks,
                               std::int32_t num_songs, std::int32_t worst_cases,
                               const std::vector<std::int64_t>& user_ids) {
  GuardrailResult r;
  r.spec = spec;
  std::vector<Unit> units;
  const double th = spec.threshold;
  for (const auto& b : blocks) {
    const std::int32_t L = b.horizon;
    if (spec.kind == GuardrailKind::kMinCoverage) {
      Unit u;
      u.at.seed = b.seed;
      u.at.value = b.actions.empty() ? 0.0 : metrics::Coverage(b.actions, num_songs);
      u.violates = u.at.value < th;
      units.push_back(u);
      continue;
    }
    for (std::int32_t e = 0; e < b.episodes(); ++e) {
      Unit u;
      u.at.seed = b.seed;
      u.at.user = b.user[static_cast<std::size_t>(e)];
      u.at.user_id = u.at.user >= 0 && u.at.user < static_cast<std::int32_t>(user_ids.size())
                         ? user_ids[static_cast<std::size_t>(u.at.user)] : -1;
      u.at.window = b.window_index[static_cast<std::size_t>(e)];
      const std::size_t row = static_cast<std::size_t>(e) * static_cast<std::size_t>(L);
      const float* a = b.arousal.data() + row;
      const float* v = b.valence.data() + row;
      const std::int32_t* act = b.actions.data() + row;
      switch (spec.kind) {
        case GuardrailKind::kMaxArousalStep:
          u.at.value = 0, u.at.step = L > 1 ? 1 : 0;
          for (std::int32_t t = 1; t < L; ++t) {
            const double d = std::fabs(static_cast<double>(a[t]) - a[t - 1]);
            if (d > u.at.value) u.at.value = d, u.at.step = t;
          }
          u.violates = u.at.value > th;
          break;
        case GuardrailKind::kMaxRepeats: {
          std::map<std::int32_t, std::int32_t> count;
          u.at.value = 0, u.at.step = 0;
          for (std::int32_t t = 0; t < L; ++t) {
            const auto c = ++count[act[t]];
            if (c > u.at.value) u.at.value = c, u.at.step = t;
          }
          u.violates = u.at.value > th;
          break;
        }
        case GuardrailKind::kMinValence:
          u.at.value = v[0], u.at.step = 0;
          for (std::int32_t t = 1; t < L; ++t)
            if (v[t] < u.at.value) u.at.value = v[t], u.at.step = t;
          u.violates = u.at.value < th;
          break;
        case GuardrailKind::kArousalDown:
          u.at.value = static_cast<double>(a[L - 1]) - a[0];
          u.at.step = L - 1;
          u.violates = u.at.value > -th;
          break;
        case GuardrailKind::kMaxDisagreement: {
          if (b.disagreement.empty())
            throw InputError("guardrail max_disagreement: the world is not an ensemble (no disagreement to check)");
          const float* dis = b.disagreement.data() + row;
          u.at.value = dis[0], u.at.step = 0;
          for (std::int32_t t = 1; t < L; ++t)
            if (dis[t] > u.at.value) u.at.value = dis[t], u.at.step = t;
          u.violates = u.at.value > th;
          break;
        }
        case GuardrailKind::kMinCoverage:
          break;
      }
      units.push_back(u);
    }
  }
  r.units = static_cast<std::int64_t>(units.size());
  double sum = 0;
  for (const auto& u : units) r.violations += u.violates, sum += u.at.value;
  r.rate = units.empty() ? 0.0 : static_cast<double>(r.violations) / static_cast<double>(units.size());
  r.mean_value = units.empty() ? 0.0 : sum / static_cast<double>(units.size());
  r.passed = r.rate <= spec.max_violation_rate;
  // Worst first; ties keep the rollout order (seed, episode), so the list is deterministic.
  std::stable_sort(units.begin(), units.end(),
                   [&](const Unit& x, const Unit& y) { return Worse(spec.kind, x.at.value, y.at.value); });
  for (std::size_t i = 0; i < units.size() && static_cast<std::int32_t>(i) < worst_cases; ++i)
    r.worst.push_back(units[i].at);
  return r;
}

bool StressReport::RequiredFailed() const {
  for (const auto& s : scenarios)
    for (const auto& a : s.agents)
      for (const auto& g : a.guardrails)
        if (g.spec.required && !g.passed) return true;
  return false;
}

agents::GuardOptions GuardOptionsOf(const Scenario& s) {
  agents::GuardOptions o;
  for (const auto& g : s.guardrails) {
    if (g.kind == GuardrailKind::kMaxRepeats) o.max_repeats = static_cast<std::int32_t>(g.threshold);
    if (g.kind == GuardrailKind::kMaxArousalStep) o.max_arousal_step = static_cast<float>(g.threshold);
    if (g.kind == GuardrailKind::kMinValence) o.min_valence = static_cast<float>(g.threshold);
    if (g.kind == GuardrailKind::kArousalDown)  // the total drop spread over the L - 1 transitions
      o.min_arousal_drop = static_cast<float>(g.threshold / std::max(1, s.horizon - 1));
  }
  return o;
}

std::map<std::string, std::string> AgentParams(const Scenario& s) {
  std::map<std::string, std::string> p;
  for (const auto& g : s.guardrails) {
    if (g.kind == GuardrailKind::kMaxRepeats) p["guard.max_repeats"] = std::to_string(static_cast<std::int64_t>(g.threshold));
    if (g.kind == GuardrailKind::kMaxArousalStep) p["guard.max_arousal_step"] = Fmt(g.threshold, 6);
    if (g.kind == GuardrailKind::kMinValence) p["guard.min_valence"] = Fmt(g.threshold, 6);
    if (g.kind == GuardrailKind::kArousalDown)  // the total drop spread over the L - 1 transitions
      p["guard.min_arousal_drop"] = Fmt(g.threshold / std::max(1, s.horizon - 1), 6);
  }
  for (const auto& [k, v] : s.params) p[k] = v;
  return p;
}

run::RunSpec ToRunSpec(const Scenario& s, const env::EnvContext& context) {
  run::RunSpec r;
  r.data = s.data;
  r.world = s.world;
  r.agents = s.agents;
  r.params = s.params;
  r.guard = GuardOptionsOf(s);
  r.seeds = s.seeds;
  r.split = s.split;
  r.parts = {s.part};
  r.horizon = s.horizon;
  r.topk = s.topk;
  r.utility = s.utility;
  r.batch = s.batch;
  r.max_users = s.max_users;
  r.window_seed = s.window_seed;
  if (!s.seed_scope.empty()) r.seed_scope = run::ParseSeedScope(s.seed_scope);
  r.no_replay = s.no_replay;
  r.scenario = s.name;
  const auto& d = context.dataset();
  const auto& part_users = context.Users(s.part);
  for (auto id : s.user_ids) {
    auto it = std::find(d.user_ids.begin(), d.user_ids.end(), id);
    const auto idx = static_cast<std::int32_t>(it - d.user_ids.begin());
    if (it == d.user_ids.end() || !std::binary_search(part_users.begin(), part_users.end(), idx))
      throw InputError(s.Where("users.ids") + ": user id " + std::to_string(id) +
                       (it == d.user_ids.end() ? " is not in the dataset" : " is not in this part of the split"));
    r.users.push_back(idx);
  }
  const auto reset = MakeResetOptions(s, context.world().num_songs());
  r.new_session = reset.new_session;
  r.pre_valence = reset.pre_valence;
  r.pre_arousal = reset.pre_arousal;
  r.mode = reset.mode;
  r.transform = reset.transform;
  return r;
}

StressReport RunStress(const std::vector<Scenario>& scenarios, const StressProgress& progress,
                       const std::map<std::string, run::ExternalAgent>& external) {
  std::map<std::string, std::shared_ptr<const data::Dataset>> datasets;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<const env::World>> worlds;
  std::vector<std::unique_ptr<run::Runner>> runners;
  std::map<std::string, std::string> names;
  // Everything that can fail on bad input fails here, before the first rollout.
  for (const auto& s : scenarios) {
    if (!names.emplace(s.name, s.file).second)
      throw InputError(s.Where("name") + ": scenario name '" + s.name + "' is also used by " + names[s.name]);
    CheckFiles(s);
    auto& d = datasets[s.data];
    auto rethrow = [&](const std::string& key, const Error& e) -> void {
      throw InputError(s.Where(key) + ": " + e.what());
    };
    try {
      if (!d) d = std::make_shared<const data::Dataset>(data::ReadDataset(s.data));
    } catch (const Error& e) {
      rethrow("data", e);
    }
    auto& w = worlds[{s.world, s.data}];
    try {
      if (!w) w = env::LoadWorld(s.world, d);
    } catch (const Error& e) {
      rethrow("world", e);
    }
    std::shared_ptr<const env::EnvContext> ctx;
    env::EnvConfig cfg;
    cfg.split = s.split;
    cfg.horizon = s.horizon;
    cfg.window_seed = s.window_seed;
    try {
      ctx = env::EnvContext::Create(d, w, cfg);
    } catch (const Error& e) {
      rethrow("users.split", e);
    }
    if (ctx->Users(s.part).empty()) throw InputError(s.Where("users.part") + ": the part of the split has no users");
    for (const auto& g : s.guardrails)
      if (g.kind == GuardrailKind::kMaxDisagreement && w->members() < 2)
        throw InputError(s.Where("guardrails.max_disagreement") + ": needs an ensemble world (PATH.ensemble.json); '" +
                         s.world + "' is a single world");
    auto spec = ToRunSpec(s, *ctx);
    std::vector<std::string> registered;  // external agents take no params
    for (const auto& a : spec.agents) {
      const auto ext = external.find(a);
      if (ext == external.end()) registered.push_back(a);
      else spec.external.insert(*ext);
    }
    try {
      agents::ValidateParams(registered, spec.params);
    } catch (const Error& e) {
      rethrow("params", e);
    }
    try {
      runners.push_back(std::make_unique<run::Runner>(std::move(spec), run::Inputs{d, w, ctx}));
    } catch (const Error& e) {
      rethrow("agents", e);
    }
  }

  StressReport report;
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    const Scenario& s = scenarios[i];
    const run::Runner& runner = *runners[i];
    const auto& ctx = *runner.context();
    ScenarioResult sr;
    sr.scenario = s;
    sr.world_name = ctx.world().Name();
    sr.world_id = ctx.world().Id();
    sr.dataset_fingerprint = ctx.dataset_fingerprint();
    sr.num_songs = ctx.world().num_songs();
    run::RunHooks hooks;
    if (progress)
      hooks.progress = [&](const run::RunProgress& p) {
        progress(s.name + " / " + p.agent + " / seed " + std::to_string(p.seed), p.done, p.total);
      };
    auto blocks = std::move(runner.Run(hooks).parts.front().blocks);
    // The report's per-seed evaluation (metrics::EvaluateSeed), then the mean over seeds.
    const auto& cat = ctx.world().catalogue();
    const metrics::EvalContext eval{cat.size(), cat.embedding, cat.dim, nullptr, 10};
    for (const auto& a : s.agents) {
      AgentResult ar;
      ar.agent = a;
      for (auto& block : blocks) {
        if (block.agent != a) continue;
        for (const auto& [key, value] : metrics::EvaluateSeed(block, eval)) ar.metrics[key] += value;
        ar.blocks.push_back(std::move(block));
      }
      for (auto& [key, value] : ar.metrics) value /= static_cast<double>(ar.blocks.size());
      // EvaluateSeed's per-seed mean disagreement (ensemble worlds only), averaged like the rest.
      if (const auto it = ar.metrics.find(metrics::key::kDisagreement); it != ar.metrics.end()) ar.disagreement = it->second;
      ar.reward = ar.metrics[metrics::key::kReward], ar.valence = ar.metrics[metrics::key::kValence];
      ar.arousal = ar.metrics[metrics::key::kArousal], ar.rating = ar.metrics[metrics::key::kRating];
      ar.engagement = ar.metrics[metrics::key::kEngagement], ar.coverage = ar.metrics[metrics::key::kCoverage];
      for (const auto& g : s.guardrails)
        ar.guardrails.push_back(CheckGuardrail(g, ar.blocks, sr.num_songs, s.worst_cases, ctx.dataset().user_ids));
      sr.agents.push_back(std::move(ar));
    }
    report.scenarios.push_back(std::move(sr));
  }
  return report;
}

void WriteStressHdf5(const StressReport& report, const std::string& path, const std::string& version) {
  AtomicFile tmp(path);
  {
    auto f = h5::File::Create(tmp.temp());
    f.WriteScalarAttr<std::int32_t>("/", "stress_version", 1);
    f.WriteStringAttr("/", "created_by", "amrs-sim");
    f.WriteStringAttr("/", "version", version);
    f.WriteScalarAttr<std::int32_t>("/", "required_failed", report.RequiredFailed() ? 1 : 0);
    f.Group("/scenarios");
    for (const auto& sr : report.scenarios) {
      const auto& s = sr.scenario;
      const std::string g = "/scenarios/" + s.name;
      f.Group(g);
      f.WriteStringAttr(g, "description", s.description);
      f.WriteStringAttr(g, "file", s.file);
      f.WriteStringAttr(g, "data", s.data);
      f.WriteStringAttr(g, "world", sr.world_name);
      f.WriteStringAttr(g, "world_spec", s.world);
      f.WriteStringAttr(g, "world_id", sr.world_id);
      f.WriteStringAttr(g, "dataset_fingerprint", sr.dataset_fingerprint);
      f.WriteStringAttr(g, "part", s.part == data::Part::kTrain ? "train" : s.part == data::Part::kVal ? "val" : "test");
      f.WriteScalarAttr<std::int32_t>(g, "split", s.split);
      f.WriteScalarAttr<std::int32_t>(g, "horizon", s.horizon);
      f.WriteScalarAttr<std::int32_t>(g, "topk", s.topk);
      f.WriteScalarAttr<std::int32_t>(g, "num_songs", sr.num_songs);
      f.WriteStringAttr(g, "utility_preset", s.utility_preset);
      f.WriteScalarAttr<float>(g, "utility_rating", s.utility.rating);
      f.WriteScalarAttr<float>(g, "utility_engagement", s.utility.engagement);
      f.WriteScalarAttr<float>(g, "utility_valence", s.utility.valence);
      f.WriteScalarAttr<float>(g, "utility_arousal", s.utility.arousal);
      if (s.utility.penalty != 0.f) f.WriteScalarAttr<float>(g, "utility_penalty", s.utility.penalty);
      f.WriteStringAttr(g, "params", nlohmann::json(AgentParams(s)).dump());
      f.WriteStrings(g + "/agents", s.agents);
      for (const auto& ar : sr.agents) {
        const std::string sg = g + "/summary/" + ar.agent;
        f.Group(sg);
        for (const auto& [name, x] : ar.metrics) f.WriteScalarAttr<double>(sg, name, x);
        if (ar.disagreement) f.WriteScalarAttr<double>(sg, "disagreement", *ar.disagreement);
        for (const auto& b : ar.blocks)
          env::WriteEpisodeBlockH5(f, g + "/runs/" + ar.agent + "/seed-" + std::to_string(b.seed), b);
        for (const auto& gr : ar.guardrails) {
          const std::string gg = g + "/guardrails/" + ar.agent + "/" + std::string(GuardrailName(gr.spec.kind));
          f.Group(gg);
          f.WriteScalarAttr<double>(gg, "threshold", gr.spec.threshold);
          f.WriteScalarAttr<double>(gg, "max_violation_rate", gr.spec.max_violation_rate);
          f.WriteScalarAttr<std::int32_t>(gg, "required", gr.spec.required ? 1 : 0);
          f.WriteScalarAttr<std::int64_t>(gg, "units", gr.units);
          f.WriteScalarAttr<std::int64_t>(gg, "violations", gr.violations);
          f.WriteScalarAttr<double>(gg, "rate", gr.rate);
          f.WriteScalarAttr<double>(gg, "mean_value", gr.mean_value);
          f.WriteScalarAttr<std::int32_t>(gg, "passed", gr.passed ? 1 : 0);
          std::vector<std::uint64_t> seed;
          std::vector<std::int32_t> user, window, step;
          std::vector<std::int64_t> user_id;
          std::vector<double> value;
          for (const auto& w : gr.worst) {
            seed.push_back(w.seed), user.push_back(w.user), user_id.push_back(w.user_id);
            window.push_back(w.window), step.push_back(w.step), value.push_back(w.value);
          }
          f.Write(gg + "/worst_seed", seed);
          f.Write(gg + "/worst_user", user);
          f.Write(gg + "/worst_user_id", user_id);
          f.Write(gg + "/worst_window", window);
          f.Write(gg + "/worst_step", step);
          f.Write(gg + "/worst_value", value);
        }
      }
    }
    f.Close();
  }
  tmp.Commit();
}

namespace {

std::string GuardCell(const GuardrailResult& g) {
  std::string s = Fmt(100.0 * g.rate, 1) + "%";
  if (!g.passed) s += g.spec.required ? " FAIL" : " warn";
  return s;
}

std::string GuardHeader(const GuardrailSpec& g) {
  const std::string op = g.kind == GuardrailKind::kMinCoverage || g.kind == GuardrailKind::kMinValence ? ">=" : "<=";
  std::string h = std::string(GuardrailName(g.kind));
  if (g.kind == GuardrailKind::kArousalDown) h += " (drop >= " + Fmt(g.threshold, 2) + ")";
  else if (g.kind == GuardrailKind::kMaxRepeats) h += " (" + op + " " + std::to_string(static_cast<int>(g.threshold)) + ")";
  else h += " (" + op + " " + Fmt(g.threshold, 2) + ")";
  if (!g.required) h += ", optional";
  return h;
}

}  // namespace

std::string StressMarkdown(const StressReport& report) {
  std::ostringstream os;
  for (const auto& sr : report.scenarios) {
    const auto& s = sr.scenario;
    os << "### Scenario `" << s.name << "`\n\n";
    if (!s.description.empty()) os << s.description << "\n\n";
    os << "World `" << sr.world_name << "`, " << s.seeds.size() << " seeds, L = " << s.horizon
       << ", utility " << (s.utility_preset.empty() ? s.utility.ToString() : s.utility_preset + " (" + s.utility.ToString() + ")")
       << ". Guardrail cells: violation rate (episodes, or seeds for min_coverage); FAIL marks a required guardrail "
          "over its allowed rate.\n\n";
    const bool unsure = !sr.agents.empty() && sr.agents.front().disagreement.has_value();
    os << "| agent | reward | valence | arousal | coverage |" << (unsure ? " disagreement |" : "");
    for (const auto& g : s.guardrails) os << " " << GuardHeader(g) << " |";
    os << "\n|---|---:|---:|---:|---:|" << (unsure ? "---:|" : "");
    for (std::size_t i = 0; i < s.guardrails.size(); ++i) os << "---:|";
    os << "\n";
    for (const auto& ar : sr.agents) {
      os << "| " << ar.agent << " | " << Fmt(ar.reward) << " | " << Fmt(ar.valence) << " | " << Fmt(ar.arousal) << " | "
         << Fmt(ar.coverage) << " |";
      if (unsure) os << " " << (ar.disagreement ? Fmt(*ar.disagreement) : std::string("n/a")) << " |";
      for (const auto& g : ar.guardrails) os << " " << GuardCell(g) << " |";
      os << "\n";
    }
    os << "\n";
  }
  os << (report.RequiredFailed() ? "**Result: a required guardrail failed.**\n" : "**Result: every required guardrail passed.**\n");
  return os.str();
}

std::string StressTable(const StressReport& report) {
  std::ostringstream os;
  for (const auto& sr : report.scenarios) {
    const auto& s = sr.scenario;
    os << "scenario " << s.name << " (world " << sr.world_name << ", " << s.seeds.size() << " seeds, L = " << s.horizon << ")\n";
    char buf[256];
    const bool unsure = !sr.agents.empty() && sr.agents.front().disagreement.has_value();
    std::snprintf(buf, sizeof buf, "  %-22s %9s %9s %9s %9s", "agent", "reward", "valence", "arousal", "coverage");
    os << buf;
    if (unsure) os << "  disagree";
    for (const auto& g : s.guardrails) {
      std::snprintf(buf, sizeof buf, " %18s", std::string(GuardrailName(g.kind)).c_str());
      os << buf;
    }
    os << "\n";
    for (const auto& ar : sr.agents) {
      std::snprintf(buf, sizeof buf, "  %-22s %9.4f %9.4f %9.4f %9.4f", ar.agent.c_str(), ar.reward, ar.valence,
                    ar.arousal, ar.coverage);
      os << buf;
      if (unsure) {
        std::snprintf(buf, sizeof buf, " %9.4f", ar.disagreement.value_or(0.0));
        os << buf;
      }
      for (const auto& g : ar.guardrails) {
        std::snprintf(buf, sizeof buf, " %18s", GuardCell(g).c_str());
        os << buf;
      }
      os << "\n";
      for (const auto& g : ar.guardrails)
        if (!g.passed && !g.worst.empty()) {
          const auto& w = g.worst.front();
          os << "      " << GuardrailName(g.spec.kind) << " worst: seed " << w.seed;
          if (w.user >= 0) os << ", user " << w.user_id << " (index " << w.user << "), window " << w.window << ", step " << w.step;
          os << ", value " << Fmt(w.value) << "\n";
        }
    }
  }
  return os.str();
}

}  // namespace amrs::scenarios
