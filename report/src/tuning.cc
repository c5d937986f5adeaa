// --tune: the tune-<kind>.json tables of `amrs tune`, read and checked against the report's dataset
// (report.h).
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "amrs/core/error.h"
#include "amrs/report/report.h"

namespace amrs::report {
namespace {

using nlohmann::json;

// Typed access to the keys of one file; errors name the file and the key path.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  const json& At(const json& j, const std::string& path, const std::string& key) const {
    const std::string full = path.empty() ? key : path + "." + key;
    if (!j.is_object() || !j.contains(key)) throw Bad(full, "is missing (rerun `amrs tune`)");
    return j.at(key);
  }
  template <class T>
  T Get(const json& j, const std::string& path, const std::string& key, const char* type) const {
    const auto& v = At(j, path, key);
    try {
      return v.get<T>();
    } catch (const json::exception&) {
      throw Bad(path.empty() ? key : path + "." + key, std::string("is not ") + type);
    }
  }
  InputError Bad(const std::string& key, const std::string& why) const {
    return InputError(file_ + ": key '" + key + "' " + why);
  }

 private:
  std::string file_;
};

}  // namespace

TuneInfo ReadTuneTable(const std::string& file, const std::string& data_fingerprint) {
  std::ifstream in(file);
  if (!in) throw InputError(file + ": no such tune table (the tune-<kind>.json that `amrs tune` writes)");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw InputError(file + ": not a JSON tune table (" + e.what() + ")");
  }
  const Reader r(file);
  if (!j.is_object()) throw InputError(file + ": not a JSON tune table (not an object)");
  TuneInfo t;
  t.file = file;
  t.kind = r.Get<std::string>(j, "", "kind", "a string");
  t.dataset_fingerprint = r.Get<std::string>(j, "", "dataset_fingerprint", "a string");
  if (t.dataset_fingerprint != data_fingerprint)
    throw InputError(file + ": tuned on dataset fingerprint " + t.dataset_fingerprint + ", the report's data has " +
                     data_fingerprint);
  t.world_id = r.Get<std::string>(j, "", "world_id", "a string");
  const auto part = r.Get<std::string>(j, "", "part", "a string");
  if (part != "val") throw r.Bad("part", "is '" + part + "', expected 'val' (tuning scores validation users only)");
  t.seeds = r.Get<std::vector<std::uint64_t>>(j, "", "seeds", "a list of seeds");
  t.chosen = r.Get<std::size_t>(j, "", "chosen", "a point index");
  const auto& points = r.At(j, "", "points");
  if (!points.is_array() || points.empty()) throw r.Bad("points", "is not a non-empty list");
  for (std::size_t i = 0; i < points.size(); ++i) {
    const std::string at = "points[" + std::to_string(i) + "]";
    TunePointInfo p;
    const auto& values = r.At(points[i], at, "values");
    if (!values.is_object() || values.empty()) throw r.Bad(at + ".values", "is not an object of grid values");
    for (const auto& [k, v] : values.items())
      p.values.emplace_back(k, r.Get<std::string>(values, at + ".values", k, "a string"));
    if (i > 0) {
      std::vector<std::string> a, b;
      for (const auto& kv : p.values) a.push_back(kv.first);
      for (const auto& kv : t.points.front().values) b.push_back(kv.first);
      if (a != b) throw r.Bad(at + ".values", "has other grid keys than points[0].values");
    }
    const auto& reward = r.At(points[i], at, "val_reward");
    p.mean = r.Get<double>(reward, at + ".val_reward", "mean", "a number");
    p.sd = r.Get<double>(reward, at + ".val_reward", "sd", "a number");
    p.valence = r.Get<double>(points[i], at, "val_valence", "a number");
    p.arousal = r.Get<double>(points[i], at, "val_arousal", "a number");
    t.points.push_back(std::move(p));
  }
  if (t.chosen >= t.points.size())
    throw r.Bad("chosen", "is " + std::to_string(t.chosen) + ", but there are " + std::to_string(t.points.size()) +
                              " points");
  return t;
}

}  // namespace amrs::report
