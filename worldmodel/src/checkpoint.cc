// World-model checkpoint files: the JSON metadata and the torch archive of the per-signal networks.
#include "checkpoint.h"

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
  j["best_val_loss"] = i.best_val_loss;
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
    i.best_val_loss = j.at("best_val_loss").get<std::array<double, kNumSignals>>();
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
  for (int s = 0; s < kNumSignals; ++s) {
    WriteParams(a, std::string("net_") + kSignalNames[s], *nets[s]);
  }
  SaveArchive(a, path, "world-model checkpoint");
}

CheckpointInfo ReadCheckpointInfo(const std::string& path) {
  auto a = OpenArchive(path, "world-model checkpoint");
  c10::IValue meta;
  if (!a.try_read("meta", meta) || !meta.isString())
    throw InputError(path + ": not a world-model checkpoint (no metadata)");
  return InfoFromJson(meta.toStringRef(), path);
}

}  // namespace amrs::worldmodel
