#include "amrs/worldmodel/ensemble_manifest.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "amrs/core/atomic_file.h"
#include "amrs/core/error.h"

namespace amrs::worldmodel {

void WriteEnsembleManifest(const std::string& manifest, const std::vector<std::string>& member_checkpoints) {
  const auto dir = std::filesystem::path(manifest).parent_path();
  nlohmann::json j;
  j["amrs_ensemble"] = kEnsembleManifestVersion;
  j["members"] = nlohmann::json::array();
  for (const auto& m : member_checkpoints)
    j["members"].push_back(std::filesystem::path(m).lexically_relative(dir.empty() ? std::filesystem::path(".") : dir).string());
  WriteFileAtomically(manifest, j.dump(2) + "\n");
}

std::vector<std::string> ReadEnsembleManifest(const std::string& manifest) {
  std::ifstream in(manifest);
  if (!in) throw InputError(manifest + ": cannot open the ensemble manifest");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const std::exception& e) {
    throw InputError(manifest + ": not a JSON ensemble manifest (" + std::string(e.what()) + ")");
  }
  if (!j.is_object() || !j.contains("amrs_ensemble") || j["amrs_ensemble"] != kEnsembleManifestVersion)
    throw InputError(manifest + ": not an AMRS ensemble manifest (key 'amrs_ensemble' must be " +
                     std::to_string(kEnsembleManifestVersion) + ")");
  const auto& m = j.contains("members") ? j["members"] : nlohmann::json();
  if (!m.is_array() || m.size() < 2 || m.size() > static_cast<std::size_t>(kMaxEnsembleMembers))
    throw InputError(manifest + ": key 'members' must list between 2 and " + std::to_string(kMaxEnsembleMembers) +
                     " member checkpoints");
  const auto dir = std::filesystem::path(manifest).parent_path();
  std::vector<std::string> out;
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (!m[i].is_string() || m[i].get<std::string>().empty())
      throw InputError(manifest + ": members[" + std::to_string(i) + "] is not a path");
    out.push_back((dir / m[i].get<std::string>()).string());
  }
  return out;
}

}  // namespace amrs::worldmodel
