// World-model checkpoint files: the JSON metadata and the torch archive of the per-signal networks.
#include "checkpoint.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "amrs/core/error.h"
#include "archive.h"

namespace amrs::worldmodel {

std::string InfoToJson(const CheckpointInfo& i) {
  nlohmann::json j;
  j["format"] = "amrs-world-model";
  j["version"] = 1;
  j["config"] = nlohmann::json::parse(i.config.ToJson());
  j["dataset_fingerprint"] = i.dataset_fingerprint;
  j["split_seed"] = i.split_seed;
  j["split"] = i.split;
  j["song_dim"] = i.song_dim;
  j["num_songs"] = i.num_songs;
  j["epochs"] = i.epochs;
  j["seed"] = i.seed;
  j["best_epoch"] = i.best_epoch;
  // No NaN or infinity in the metadata (JSON would write null): a signal without a validation
  // loss (skipped, or no validation targets) is written "n/a".
  j["best_val_loss"] = nlohmann::json::array();
  for (double v : i.best_val_loss) j["best_val_loss"].push_back(std::isfinite(v) ? nlohmann::json(v) : nlohmann::json("n/a"));
  j["skipped_signals"] = nlohmann::json::array();
  for (int s = 0; s < kNumSignals; ++s)
    if (i.skipped(s)) {
      j["skipped_signals"].push_back(kSignalNames[s]);
      j["skip_reasons"][kSignalNames[s]] = i.skip_reason[s];
      j["skip_predictions"][kSignalNames[s]] = i.skip_prediction[s];
    }
  if (!i.training.empty()) j["training"] = i.training;
  return j.dump();
}

CheckpointInfo InfoFromJson(const std::string& s, const std::string& source) {
  try {
    const auto j = nlohmann::json::parse(s);
    if (j.value("format", "") != "amrs-world-model")
      throw InputError(source + ": not an AMRS world-model checkpoint");
    if (j.at("version").get<int>() != 1)
      throw InputError(source + ": unsupported checkpoint version " + j.at("version").dump());
    CheckpointInfo i;
    i.config = ModelConfig::FromJson(j.at("config").dump());
    i.dataset_fingerprint = j.at("dataset_fingerprint").get<std::string>();
    i.split_seed = j.value("split_seed", std::uint64_t{0});  // absent before split seeds were recorded
    i.split = j.at("split").get<std::int32_t>();
    i.song_dim = j.at("song_dim").get<std::int32_t>();
    i.num_songs = j.at("num_songs").get<std::int32_t>();
    i.epochs = j.at("epochs").get<std::int32_t>();
    i.seed = j.at("seed").get<std::uint64_t>();
    i.best_epoch = j.at("best_epoch").get<std::array<std::int32_t, kNumSignals>>();
    const auto& losses = j.at("best_val_loss");
    if (!losses.is_array() || losses.size() != kNumSignals)
      throw InputError("'best_val_loss' must be an array of " + std::to_string(kNumSignals) + " numbers");
    for (int s = 0; s < kNumSignals; ++s)
      i.best_val_loss[s] = losses[s] == "n/a" ? std::numeric_limits<double>::quiet_NaN() : losses[s].get<double>();
    // Absent in checkpoints written before signals could be skipped.
    for (const auto& name : j.value("skipped_signals", nlohmann::json::array())) {
      const auto n = name.get<std::string>();
      int s = 0;
      while (s < kNumSignals && n != kSignalNames[s]) ++s;
      if (s == kNumSignals) throw InputError("'skipped_signals' names an unknown signal '" + n + "'");
      i.skip_reason[s] = j.at("skip_reasons").at(n).get<std::string>();
      if (i.skip_reason[s].empty()) i.skip_reason[s] = "skipped";
      i.skip_prediction[s] = j.at("skip_predictions").at(n).get<float>();
    }
    if (j.contains("training")) i.training = j.at("training").get<std::map<std::string, std::string>>();
    return i;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(source + ": bad checkpoint metadata: " + e.what());
  } catch (const InputError& e) {
    const std::string w = e.what();
    throw InputError(w.rfind(source, 0) == 0 ? w : source + ": " + w);
  }
}

void SaveCheckpoint(const std::string& path, const CheckpointInfo& info,
                    const std::array<WorldNet, kNumSignals>& nets, const SongReduction& reduction) {
  torch::serialize::OutputArchive a;
  a.write("meta", c10::IValue(InfoToJson(info)));
  if (reduction.active()) {
    a.write("song_pca_mean", reduction.mean);
    a.write("song_pca_basis", reduction.basis);
  }
  if (reduction.prior.defined()) a.write("song_prior", reduction.prior);
  if (reduction.session_w.defined()) a.write("session_weights", reduction.session_w);
  for (int s = 0; s < kNumSignals; ++s) {
    WriteParams(a, std::string("net_") + kSignalNames[s], *nets[s]);
  }
  SaveArchive(a, path, "world-model checkpoint");
}

CheckpointInfo ReadCheckpointInfo(const std::string& path) {
  auto a = OpenArchive(path, "world-model checkpoint");
  const std::string meta = ReadMeta(a, path, "not a world-model checkpoint");
  return InfoFromJson(meta, path);
}

}  // namespace amrs::worldmodel
