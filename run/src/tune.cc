#include "amrs/run/tune.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <ostream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "amrs/core/atomic_file.h"
#include "amrs/core/error.h"
#include "amrs/metrics/rollouts.h"

namespace amrs::run {
namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  if (!s.empty() && s.back() == sep) out.emplace_back();
  return out;
}

bool IsIntKey(const std::string& key) { return key == "epochs" || key == "pool"; }

// The value as a number of the key's type and range; ArgumentError naming both otherwise.
double Number(const std::string& key, const std::string& value) {
  const auto bad = [&](const std::string& why) {
    return ArgumentError("tune: grid key '" + key + "': value '" + value + "' " + why);
  };
  std::size_t used = 0;
  double x = 0;
  try {
    x = std::stod(value, &used);
  } catch (const std::exception&) {
    throw bad("is not a number");
  }
  if (used != value.size() || !std::isfinite(x)) throw bad("is not a number");
  if (IsIntKey(key) && (x != std::floor(x) || x < 1 || x > 10000)) throw bad("must be an integer in [1, 10000]");
  if (!IsIntKey(key) && !(x > 0)) throw bad("must be > 0");
  return x;
}

void Apply(PolicyTrainingSpec& s, const std::string& key, const std::string& value) {
  const double x = Number(key, value);
  const auto n = static_cast<std::int32_t>(x);
  if (s.kind == "dpo") {
    if (key == "lr") s.dpo.lr = x;
    else if (key == "epochs") s.dpo.epochs = n;
    else if (key == "beta") s.dpo.beta = x;
    else if (key == "pool") s.dpo.pairs.pool = n;
  } else {
    if (key == "lr") s.copycat.lr = x;
    else if (key == "epochs") s.copycat.epochs = n;
    else if (key == "tau") s.copycat.model.tau = x;
  }
}

std::string Csv(const std::string& s) {
  return s.find_first_of(",\"\n") == std::string::npos ? s : "\"" + s + "\"";
}

}  // namespace

std::vector<std::string> TuneKeys(const std::string& kind) {
  if (kind == "dpo") return {"lr", "epochs", "beta", "pool"};
  if (kind == "copycat") return {"tau", "epochs", "lr"};
  throw ArgumentError("tune: kind must be copycat or dpo, got '" + kind + "'");
}

std::vector<TuneAxis> ParseTuneGrid(const std::vector<std::string>& texts, const std::string& kind) {
  const auto keys = TuneKeys(kind);
  std::vector<TuneAxis> grid;
  for (const auto& text : texts)
    for (const auto& item : Split(text, ';')) {
      if (item.empty()) continue;
      const auto eq = item.find('=');
      if (eq == std::string::npos) throw ArgumentError("tune: grid item '" + item + "' is not KEY=V1,V2,...");
      TuneAxis a{item.substr(0, eq), Split(item.substr(eq + 1), ',')};
      if (std::find(keys.begin(), keys.end(), a.key) == keys.end()) {
        std::string allowed;
        for (const auto& k : keys) allowed += (allowed.empty() ? "" : ", ") + k;
        throw ArgumentError("tune: grid key '" + a.key + "' is not an option of " + kind + " (allowed: " + allowed + ")");
      }
      for (const auto& b : grid)
        if (b.key == a.key) throw ArgumentError("tune: grid key '" + a.key + "' is given twice");
      if (a.values.empty()) throw ArgumentError("tune: grid key '" + a.key + "' has no values");
      std::set<double> seen;
      for (const auto& v : a.values)
        if (!seen.insert(Number(a.key, v)).second)
          throw ArgumentError("tune: grid key '" + a.key + "': value '" + v + "' is given twice");
      grid.push_back(std::move(a));
    }
  if (grid.empty()) throw ArgumentError("tune: the grid is empty (e.g. --grid 'lr=1e-5,3e-5;epochs=1,2')");
  return grid;
}

void TuneSpec::Validate() const {
  train.Validate();
  if (train.kind == "dpo" && train.reference.empty())
    throw ArgumentError("tune: kind dpo needs the Copycat references (e.g. out/policy/copycat-seed-{seed}.pt)");
  if (world.empty()) throw ArgumentError("tune: no world to score the validation users");
  if (out_dir.empty()) throw ArgumentError("tune: empty output folder");
  if (grid.empty()) throw ArgumentError("tune: the grid is empty");
  std::size_t points = 1;
  for (const auto& a : grid) {
    const auto keys = TuneKeys(train.kind);
    if (std::find(keys.begin(), keys.end(), a.key) == keys.end())
      throw ArgumentError("tune: grid key '" + a.key + "' is not an option of " + train.kind);
    if (a.values.empty()) throw ArgumentError("tune: grid key '" + a.key + "' has no values");
    for (const auto& v : a.values) Number(a.key, v);
    points *= a.values.size();
    if (points > 1000) throw ArgumentError("tune: the grid has more than 1000 points");
  }
}

TuneResult Tune(const TuneSpec& spec, std::ostream* log) {
  spec.Validate();
  TuneResult r;
  r.kind = spec.train.kind;
  r.seeds = spec.train.seeds;
  // The points, last axis fastest; every one is checked before any training.
  std::vector<std::size_t> index(spec.grid.size(), 0);
  std::vector<PolicyTrainingSpec> trains;
  for (bool more = true; more;) {
    TunePoint p;
    PolicyTrainingSpec t = spec.train;
    for (std::size_t a = 0; a < spec.grid.size(); ++a) {
      p.values.emplace_back(spec.grid[a].key, spec.grid[a].values[index[a]]);
      Apply(t, spec.grid[a].key, spec.grid[a].values[index[a]]);
    }
    t.out_dir = spec.out_dir + "/point-" + std::to_string(r.points.size());
    t.Validate();
    p.checkpoints = t.out_dir + "/" + t.kind + "-seed-{seed}.pt";
    r.points.push_back(std::move(p));
    trains.push_back(std::move(t));
    more = false;
    for (std::size_t a = spec.grid.size(); a-- > 0;) {
      if (++index[a] < spec.grid[a].values.size()) {
        more = true;
        break;
      }
      index[a] = 0;
    }
  }
  RunSpec eval;
  eval.data = spec.train.data;
  eval.world = spec.world;
  eval.agents = {spec.train.kind};
  eval.seeds = spec.train.seeds;
  eval.split = spec.train.copycat.split;
  eval.window_seed = spec.train.copycat.window_seed;
  eval.parts = {data::Part::kVal};  // never the test users
  eval.horizon = spec.horizon;
  eval.utility = spec.utility;
  eval.batch = spec.batch;
  eval.max_users = spec.max_users;
  eval.seed_scope = spec.seed_scope;
  eval.Validate();
  const Inputs inputs = LoadInputs(eval);
  std::filesystem::create_directories(spec.out_dir);
  for (std::size_t i = 0; i < r.points.size(); ++i) {
    auto& p = r.points[i];
    if (log) {
      *log << "tune: point " << i + 1 << "/" << r.points.size() << ":";
      for (const auto& [k, v] : p.values) *log << " " << k << "=" << v;
      *log << "\n";
    }
    TrainPolicies(trains[i], log);
    RunSpec s = eval;
    s.params = {{spec.train.kind, p.checkpoints}};
    const auto run = Run(s, {}, inputs);
    r.dataset_fingerprint = run.dataset_fingerprint, r.world_id = run.world_id;
    const auto& blocks = run.parts.front().blocks;
    for (const auto& b : blocks) p.reward.push_back(metrics::RolloutMeans(b).reward.value_or(0.0));
    const auto summary = Summarize(blocks).front();
    p.mean = summary.reward, p.valence = summary.valence, p.arousal = summary.arousal;
    p.rating = summary.rating, p.engagement = summary.engagement;
    if (p.reward.size() > 1) {
      double ss = 0;
      for (double x : p.reward) ss += (x - p.mean) * (x - p.mean);
      p.sd = std::sqrt(ss / static_cast<double>(p.reward.size() - 1));
    }
    if (p.mean > r.points[r.chosen].mean) r.chosen = i;  // ties keep the earlier point
  }
  WriteFileAtomically(spec.out_dir + "/tune-" + r.kind + ".csv", TuneCsv(r));
  WriteFileAtomically(spec.out_dir + "/tune-" + r.kind + ".json", TuneJson(r));
  return r;
}

std::string TuneCsv(const TuneResult& r) {
  std::ostringstream os;
  os.precision(17);
  os << "point";
  if (!r.points.empty())
    for (const auto& [k, v] : r.points.front().values) os << "," << Csv(k);
  os << ",val_reward_mean,val_reward_sd,val_valence,val_arousal,val_rating,val_engagement";
  for (auto s : r.seeds) os << ",val_reward_seed_" << s;
  os << ",chosen\n";
  for (std::size_t i = 0; i < r.points.size(); ++i) {
    const auto& p = r.points[i];
    os << i;
    for (const auto& [k, v] : p.values) os << "," << Csv(v);
    os << "," << p.mean << "," << p.sd << "," << p.valence << "," << p.arousal << "," << p.rating << "," << p.engagement;
    for (double x : p.reward) os << "," << x;
    os << "," << (i == r.chosen ? 1 : 0) << "\n";
  }
  return os.str();
}

std::string TuneJson(const TuneResult& r) {
  nlohmann::json j;
  j["kind"] = r.kind;
  j["seeds"] = r.seeds;
  j["part"] = "val";
  j["dataset_fingerprint"] = r.dataset_fingerprint;
  j["world_id"] = r.world_id;
  j["chosen"] = r.chosen;
  j["points"] = nlohmann::json::array();
  for (const auto& p : r.points) {
    nlohmann::json q;
    for (const auto& [k, v] : p.values) q["values"][k] = v;
    q["checkpoints"] = p.checkpoints;
    q["val_reward"] = {{"mean", p.mean}, {"sd", p.sd}, {"per_seed", p.reward}};
    q["val_valence"] = p.valence, q["val_arousal"] = p.arousal;
    q["val_rating"] = p.rating, q["val_engagement"] = p.engagement;
    j["points"].push_back(q);
  }
  return j.dump(2) + "\n";
}

std::string TuneTable(const TuneResult& r) {
  std::ostringstream os;
  char buf[160];
  os << "  #";
  if (!r.points.empty())
    for (const auto& [k, v] : r.points.front().values) {
      std::snprintf(buf, sizeof buf, " %10s", k.c_str());
      os << buf;
    }
  os << "   val reward (SD)    valence    arousal\n";
  for (std::size_t i = 0; i < r.points.size(); ++i) {
    const auto& p = r.points[i];
    std::snprintf(buf, sizeof buf, "%3zu", i);
    os << buf;
    for (const auto& [k, v] : p.values) {
      std::snprintf(buf, sizeof buf, " %10s", v.c_str());
      os << buf;
    }
    std::snprintf(buf, sizeof buf, "  %.4f (%.4f) %10.4f %10.4f%s\n", p.mean, p.sd, p.valence, p.arousal,
                  i == r.chosen ? "  <- chosen" : "");
    os << buf;
  }
  if (!r.points.empty()) {
    os << "tune: chosen point " << r.chosen << ":";
    for (const auto& [k, v] : r.points[r.chosen].values) os << " " << k << "=" << v;
    os << " (highest mean validation reward over " << r.seeds.size() << " seeds; ties: the first in grid order)\n";
  }
  return os.str();
}

}  // namespace amrs::run
