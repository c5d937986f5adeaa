// The scenario TOML reader (docs/scenarios.md) and the utility presets.
#include "amrs/scenarios/scenario.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "amrs/agents/agent.h"
#include "amrs/core/error.h"
#include "amrs/run/run.h"

namespace amrs::scenarios {

std::string_view GuardrailName(GuardrailKind kind) {
  switch (kind) {
    case GuardrailKind::kMaxArousalStep: return "max_arousal_step";
    case GuardrailKind::kMinCoverage: return "min_coverage";
    case GuardrailKind::kMaxRepeats: return "max_repeats";
    case GuardrailKind::kMinValence: return "min_valence";
    case GuardrailKind::kArousalDown: return "arousal_down";
    case GuardrailKind::kMaxDisagreement: return "max_disagreement";
  }
  return "?";
}

namespace {

constexpr GuardrailKind kAllGuardrails[] = {GuardrailKind::kMaxArousalStep, GuardrailKind::kMinCoverage,
                                            GuardrailKind::kMaxRepeats, GuardrailKind::kMinValence,
                                            GuardrailKind::kArousalDown, GuardrailKind::kMaxDisagreement};

const char* TypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date or time";
  }
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

std::string Fmt(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

// Reads one scenario document, naming file, line and dotted key in every error.
class Reader {
 public:
  Reader(std::string file, Scenario* s) : file_(std::move(file)), s_(s) {}

  [[noreturn]] void Fail(const std::string& key, std::int32_t line, const std::string& msg) const {
    throw InputError(file_ + (line > 0 ? ":" + std::to_string(line) : "") + ": key '" + key + "': " + msg);
  }

  // Checks that `table` has only `allowed` keys and records every key's line.
  void Keys(const toml::table& table, const std::string& prefix, const std::vector<std::string>& allowed) {
    for (auto&& [k, node] : table) {
      const std::string key = prefix + std::string(k.str());
      const auto line = Line(k, node);
      s_->lines[key] = line;
      if (std::find(allowed.begin(), allowed.end(), std::string(k.str())) == allowed.end())
        Fail(key, line, "unknown key (allowed" + (prefix.empty() ? std::string() : " in [" + prefix.substr(0, prefix.size() - 1) + "]") +
                            ": " + Join(allowed) + ")");
    }
  }

  static std::int32_t Line(const toml::key& k, const toml::node& n) {
    if (k.source().begin.line > 0) return static_cast<std::int32_t>(k.source().begin.line);
    return static_cast<std::int32_t>(n.source().begin.line);
  }
  std::int32_t LineOf(const std::string& key) const {
    auto it = s_->lines.find(key);
    return it == s_->lines.end() ? 0 : it->second;
  }

  const toml::table* Table(const toml::table& t, const std::string& name, const std::string& prefix = "") {
    const toml::node* n = t.get(name);
    if (!n) return nullptr;
    if (!n->is_table()) Fail(prefix + name, LineOf(prefix + name), std::string("expected a table, got ") + TypeName(*n));
    return n->as_table();
  }

  std::optional<std::string> String(const toml::table& t, const std::string& name, const std::string& prefix) {
    const toml::node* n = t.get(name);
    if (!n) return std::nullopt;
    if (!n->is_string()) Fail(prefix + name, LineOf(prefix + name), std::string("expected a string, got ") + TypeName(*n));
    return n->as_string()->get();
  }
  std::optional<bool> Bool(const toml::table& t, const std::string& name, const std::string& prefix) {
    const toml::node* n = t.get(name);
    if (!n) return std::nullopt;
    if (!n->is_boolean()) Fail(prefix + name, LineOf(prefix + name), std::string("expected true or false, got ") + TypeName(*n));
    return n->as_boolean()->get();
  }
  std::optional<std::int64_t> Int(const toml::table& t, const std::string& name, const std::string& prefix,
                                  std::int64_t lo, std::int64_t hi) {
    const toml::node* n = t.get(name);
    if (!n) return std::nullopt;
    const std::string key = prefix + name;
    if (!n->is_integer()) Fail(key, LineOf(key), std::string("expected an integer, got ") + TypeName(*n));
    const auto v = n->as_integer()->get();
    if (v < lo || v > hi)
      Fail(key, LineOf(key), std::to_string(v) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return v;
  }
  std::optional<double> Number(const toml::table& t, const std::string& name, const std::string& prefix, double lo,
                               double hi) {
    const toml::node* n = t.get(name);
    if (!n) return std::nullopt;
    const std::string key = prefix + name;
    double v = 0;
    if (n->is_integer()) v = static_cast<double>(n->as_integer()->get());
    else if (n->is_floating_point()) v = n->as_floating_point()->get();
    else Fail(key, LineOf(key), std::string("expected a number, got ") + TypeName(*n));
    if (!std::isfinite(v) || v < lo || v > hi)
      Fail(key, LineOf(key), Fmt(v) + " is out of range [" + Fmt(lo) + ", " + Fmt(hi) + "]");
    return v;
  }
  std::optional<std::vector<std::string>> Strings(const toml::table& t, const std::string& name, const std::string& prefix) {
    const toml::node* n = t.get(name);
    if (!n) return std::nullopt;
    const std::string key = prefix + name;
    if (!n->is_array()) Fail(key, LineOf(key), std::string("expected an array of strings, got ") + TypeName(*n));
    std::vector<std::string> out;
    for (const auto& e : *n->as_array()) {
      if (!e.is_string()) Fail(key, LineOf(key), std::string("expected an array of strings, found ") + TypeName(e));
      out.push_back(e.as_string()->get());
    }
    return out;
  }
  std::optional<std::vector<std::int64_t>> Ints(const toml::table& t, const std::string& name, const std::string& prefix,
                                                std::int64_t lo) {
    const toml::node* n = t.get(name);
    if (!n) return std::nullopt;
    const std::string key = prefix + name;
    if (!n->is_array()) Fail(key, LineOf(key), std::string("expected an array of integers, got ") + TypeName(*n));
    std::vector<std::int64_t> out;
    for (const auto& e : *n->as_array()) {
      if (!e.is_integer()) Fail(key, LineOf(key), std::string("expected an array of integers, found ") + TypeName(e));
      const auto v = e.as_integer()->get();
      if (v < lo) Fail(key, LineOf(key), std::to_string(v) + " is out of range (must be >= " + std::to_string(lo) + ")");
      out.push_back(v);
    }
    return out;
  }

  void Read(const toml::table& root) {
    Scenario& s = *s_;
    Keys(root, "", {"name", "description", "world", "data", "agents", "seeds", "horizon", "window_seed", "seed_scope", "batch", "topk",
                    "worst_cases", "no_replay", "users", "history", "utility", "params", "guardrails"});
    const auto name = String(root, "name", "");
    if (!name) Fail("name", 0, "missing (every scenario needs a name)");
    if (name->empty() || name->find_first_of("/ \t") != std::string::npos)
      Fail("name", LineOf("name"), "'" + *name + "' must be non-empty without '/' or spaces (it names an HDF5 group)");
    s.name = *name;
    if (auto v = String(root, "description", "")) s.description = *v;
    if (auto v = String(root, "world", "")) s.world = *v;
    if (auto v = String(root, "data", "")) s.data = *v;
    if (auto v = Strings(root, "agents", "")) s.agents = *v;
    if (const toml::node* n = root.get("seeds")) {
      if (n->is_integer()) {
        const auto c = *Int(root, "seeds", "", 1, 10000);
        s.seeds.clear();
        for (std::int64_t i = 0; i < c; ++i) s.seeds.push_back(static_cast<std::uint64_t>(i));
      } else {
        const auto v = Ints(root, "seeds", "", 0);
        if (!n->is_array()) Fail("seeds", LineOf("seeds"), "expected a count or an array of seeds");
        if (v->empty()) Fail("seeds", LineOf("seeds"), "needs at least one seed");
        s.seeds.assign(v->begin(), v->end());
        if (std::set<std::uint64_t>(s.seeds.begin(), s.seeds.end()).size() != s.seeds.size())
          Fail("seeds", LineOf("seeds"), "seeds repeat");
      }
    }
    if (auto v = Int(root, "horizon", "", 1, 1000)) s.horizon = static_cast<std::int32_t>(*v);
    if (auto v = Int(root, "window_seed", "", 0, INT64_MAX)) s.window_seed = static_cast<std::uint64_t>(*v);
    if (auto v = String(root, "seed_scope", "")) {
      try {
        s.seed_scope = run::SeedScopeName(run::ParseSeedScope(*v));
      } catch (const ArgumentError& e) {
        Fail("seed_scope", LineOf("seed_scope"), e.what());
      }
    }
    if (auto v = Int(root, "batch", "", 1, 100000)) s.batch = static_cast<std::int32_t>(*v);
    if (auto v = Int(root, "topk", "", 0, 1000)) s.topk = static_cast<std::int32_t>(*v);
    if (auto v = Int(root, "worst_cases", "", 0, 1000)) s.worst_cases = static_cast<std::int32_t>(*v);
    if (auto v = String(root, "no_replay", "")) {
      try {
        s.no_replay = env::ParseNoReplay(*v);
      } catch (const ArgumentError&) {
        Fail("no_replay", LineOf("no_replay"), "'" + *v + "' is not one of session, episode, off");
      }
    }

    if (const auto* u = Table(root, "users")) {
      Keys(*u, "users.", {"split", "part", "max_users", "ids"});
      if (auto v = Int(*u, "split", "users.", 0, 1000)) s.split = static_cast<std::int32_t>(*v);
      if (auto v = String(*u, "part", "users.")) {
        try {
          s.part = data::ParsePart(*v);
        } catch (const ArgumentError&) {
          Fail("users.part", LineOf("users.part"), "'" + *v + "' is not one of train, val, test");
        }
      }
      if (auto v = Int(*u, "max_users", "users.", 0, INT32_MAX)) s.max_users = static_cast<std::int32_t>(*v);
      if (auto v = Ints(*u, "ids", "users.", INT64_MIN)) s.user_ids = *v;
    }

    if (const auto* h = Table(root, "history")) {
      const std::string p = "history.";
      Keys(*h, p, {"new_session", "pre_valence", "pre_arousal", "mode", "keep_last", "drop", "dislike_streak",
                   "dislike_engagement"});
      auto& hs = s.history;
      if (auto v = Bool(*h, "new_session", p)) hs.new_session = *v;
      if (auto v = Number(*h, "pre_valence", p, 0, 1)) hs.pre_valence = static_cast<float>(*v);
      if (auto v = Number(*h, "pre_arousal", p, 0, 1)) hs.pre_arousal = static_cast<float>(*v);
      if (auto v = String(*h, "mode", p)) {
        try {
          hs.mode = ParseMode(*v);
        } catch (const ArgumentError&) {
          Fail(p + "mode", LineOf(p + "mode"), "'" + *v + "' is not one of energize, focus, calm, sleep, none");
        }
      }
      if (auto v = Int(*h, "keep_last", p, 1, INT32_MAX)) hs.keep_last = static_cast<std::int32_t>(*v);
      if (auto v = Strings(*h, "drop", p))
        for (const auto& x : *v) {
          if (x == "engagement") hs.drop_engagement = true;
          else if (x == "rating") hs.drop_rating = true;
          else if (x == "affect") hs.drop_affect = true;
          else Fail(p + "drop", LineOf(p + "drop"), "'" + x + "' is not one of engagement, rating, affect");
        }
      if (auto v = Int(*h, "dislike_streak", p, 0, 1000)) hs.dislike_streak = static_cast<std::int32_t>(*v);
      if (auto v = Number(*h, "dislike_engagement", p, 0, 1)) hs.dislike_engagement = static_cast<float>(*v);
    }

    if (const auto* u = Table(root, "utility")) {
      const std::string p = "utility.";
      Keys(*u, p, {"preset", "rating", "engagement", "valence", "arousal", "penalty"});
      if (auto v = String(*u, "preset", p)) {
        try {
          s.utility = UtilityPreset(*v);
        } catch (const ArgumentError&) {
          Fail(p + "preset", LineOf(p + "preset"), "unknown preset '" + *v + "' (known: " + Join(UtilityPresetNames()) + ")");
        }
        s.utility_preset = *v;
      }
      if (auto v = Number(*u, "rating", p, -1, 1)) s.utility.rating = static_cast<float>(*v);
      if (auto v = Number(*u, "engagement", p, -1, 1)) s.utility.engagement = static_cast<float>(*v);
      if (auto v = Number(*u, "valence", p, -1, 1)) s.utility.valence = static_cast<float>(*v);
      if (auto v = Number(*u, "arousal", p, -1, 1)) s.utility.arousal = static_cast<float>(*v);
      if (auto v = Number(*u, "penalty", p, 0, 100)) s.utility.penalty = static_cast<float>(*v);
    }

    if (const auto* pt = Table(root, "params")) {
      for (auto&& [k, node] : *pt) {
        const std::string key = "params." + std::string(k.str());
        s.lines[key] = Line(k, node);
        std::string value;
        if (node.is_string()) value = node.as_string()->get();
        else if (node.is_integer()) value = std::to_string(node.as_integer()->get());
        else if (node.is_floating_point()) value = Fmt(node.as_floating_point()->get());
        else if (node.is_boolean()) value = node.as_boolean()->get() ? "true" : "false";
        else Fail(key, LineOf(key), std::string("expected a string, number or boolean, got ") + TypeName(node));
        s.params[std::string(k.str())] = value;
      }
    }

    if (const auto* g = Table(root, "guardrails")) {
      std::vector<std::string> kinds;
      for (auto k : kAllGuardrails) kinds.emplace_back(GuardrailName(k));
      Keys(*g, "guardrails.", kinds);
      for (auto kind : kAllGuardrails) {
        const std::string gname(GuardrailName(kind));
        const std::string p = "guardrails." + gname + ".";
        const auto* t = Table(*g, gname, "guardrails.");
        if (!t) continue;
        Keys(*t, p, {"threshold", "max_violation_rate", "required"});
        GuardrailSpec spec;
        spec.kind = kind;
        std::optional<double> th;
        if (kind == GuardrailKind::kMaxRepeats) {
          if (auto v = Int(*t, "threshold", p, 1, 1000)) th = static_cast<double>(*v);
        } else {
          th = Number(*t, "threshold", p, 0, 1);
        }
        if (!th && kind != GuardrailKind::kArousalDown)
          Fail(p + "threshold", LineOf("guardrails." + gname), "missing (the guardrail needs a threshold)");
        spec.threshold = th.value_or(0.0);
        if (auto v = Number(*t, "max_violation_rate", p, 0, 1)) spec.max_violation_rate = *v;
        if (auto v = Bool(*t, "required", p)) spec.required = *v;
        s.guardrails.push_back(spec);
      }
      // In file order (toml++ tables iterate by key).
      std::stable_sort(s.guardrails.begin(), s.guardrails.end(), [&](const GuardrailSpec& a, const GuardrailSpec& b) {
        return LineOf("guardrails." + std::string(GuardrailName(a.kind))) <
               LineOf("guardrails." + std::string(GuardrailName(b.kind)));
      });
    }

    // Cross-key checks.
    for (const auto& gr : s.guardrails)
      if (gr.kind == GuardrailKind::kArousalDown && s.horizon < 2)
        Fail("guardrails.arousal_down", LineOf("guardrails.arousal_down"), "needs horizon >= 2 (arousal over the rollout)");
  }

 private:
  std::string file_;
  Scenario* s_;
};

void Finish(Scenario& s, const Overrides& o) {
  if (!o.data.empty()) s.data = o.data, s.lines.erase("data");
  if (!o.world.empty()) s.world = o.world, s.lines.erase("world");
  if (!o.agents.empty()) {
    s.agents = o.agents, s.lines.erase("agents");
    // The file's [params] configure the file's agents: keep only those some chosen agent declares.
    for (auto it = s.params.begin(); it != s.params.end();) {
      const bool declared = std::any_of(s.agents.begin(), s.agents.end(), [&](const std::string& a) {
        if (!agents::AgentRegistry::Has(a)) return false;
        const auto specs = agents::AgentRegistry::Params(a);
        return std::any_of(specs.begin(), specs.end(), [&](const agents::ParamSpec& p) { return p.name == it->first; });
      });
      it = declared ? std::next(it) : s.params.erase(it);
    }
  }
  for (const auto& [k, v] : o.params) s.params[k] = v, s.lines.erase("params." + k);
  if (!o.seed_scope.empty()) s.seed_scope = o.seed_scope, s.lines.erase("seed_scope");
  if (o.no_replay) s.no_replay = *o.no_replay, s.lines.erase("no_replay");
  auto fail = [&](const std::string& key, const std::string& flag, const std::string& msg) {
    throw InputError((s.lines.count(key) ? s.Where(key) : s.file + ": " + flag) + ": " + msg);
  };
  if (s.data.empty()) fail("data", "key 'data' (or --data)", "missing: the dataset path");
  if (s.world.empty()) fail("world", "key 'world' (or --world)", "missing: a checkpoint path or \"oracle\"");
  if (s.agents.empty()) fail("agents", "key 'agents' (or --agents)", "missing: at least one agent");
  std::set<std::string> seen;
  for (const auto& a : s.agents) {
    if (!seen.insert(a).second) fail("agents", "--agents", "agent '" + a + "' is listed twice");
    const bool external = std::find(o.external.begin(), o.external.end(), a) != o.external.end();
    if (!external && !agents::AgentRegistry::Has(a)) {
      std::string known = Join(agents::AgentRegistry::Names());
      for (const auto& w : agents::AgentRegistry::WrapperNames()) known += "; wrapper " + w + "(<agent>)";
      fail("agents", "--agents", "unknown agent '" + a + "' (known: " + known + ")");
    }
  }
}

}  // namespace

std::string Scenario::Where(const std::string& key) const {
  auto it = lines.find(key);
  if (it == lines.end() || it->second <= 0) return (file.empty() ? "" : file + ": ") + "key '" + key + "'";
  return file + ":" + std::to_string(it->second) + ": key '" + key + "'";
}

Scenario ParseScenarioText(const std::string& text, const std::string& source, const Overrides& overrides) {
  Scenario s;
  s.file = source;
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw InputError(source + ":" + std::to_string(e.source().begin.line) + ":" + std::to_string(e.source().begin.column) +
                     ": TOML syntax error: " + std::string(e.description()));
  }
  Reader(source, &s).Read(root);
  Finish(s, overrides);
  return s;
}

Scenario ParseScenario(const std::string& path, const Overrides& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open the scenario file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseScenarioText(ss.str(), path, overrides);
}

void CheckFiles(const Scenario& s) {
  namespace fs = std::filesystem;
  auto where = [&](const std::string& key, const std::string& flag) {
    return s.lines.count(key) ? s.Where(key) : (s.file.empty() ? "" : s.file + ": ") + flag;
  };
  if (!fs::is_regular_file(s.data))
    throw InputError(where("data", "--data") + ": dataset '" + s.data + "' does not exist");
  if (s.world.rfind("oracle", 0) != 0 && !fs::is_regular_file(s.world))
    throw InputError(where("world", "--world") + ": world checkpoint '" + s.world + "' does not exist");
}

Utility UtilityPreset(std::string_view name) {
  Utility u;
  u.rating = u.engagement = u.valence = u.arousal = 0.f;
  if (name == "affect") u.valence = 0.5f, u.arousal = 0.5f;
  else if (name == "energize") u.valence = 0.4f, u.arousal = 0.6f;
  else if (name == "focus") u.engagement = 0.5f, u.valence = 0.3f, u.arousal = 0.2f;
  else if (name == "calm") u.valence = 0.6f, u.arousal = -0.4f;
  else if (name == "sleep") u.valence = 0.3f, u.arousal = -0.7f;
  else throw ArgumentError("unknown utility preset '" + std::string(name) + "' (known: " + Join(UtilityPresetNames()) + ")");
  return u;
}

std::vector<std::string> UtilityPresetNames() { return {"affect", "calm", "energize", "focus", "sleep"}; }

}  // namespace amrs::scenarios
