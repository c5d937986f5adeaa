// The manifest of a world-model ensemble (docs/ensembles.md): a small JSON file listing the member
// checkpoints, paths relative to the manifest's folder. `amrs train-world --members K` writes
// <out>/<configuration>/split-<k>.ensemble.json; `--world` accepts it (env::LoadEnsembleWorld).
#pragma once

#include <string>
#include <vector>

namespace amrs::worldmodel {

inline constexpr int kEnsembleManifestVersion = 1;
inline constexpr int kMaxEnsembleMembers = 64;

// Writes the manifest atomically; member paths are stored relative to the manifest's folder.
void WriteEnsembleManifest(const std::string& manifest, const std::vector<std::string>& member_checkpoints);
// The member checkpoint paths (resolved against the manifest's folder). InputError naming the
// manifest and the key when the file is unreadable, not a manifest of this version, or lists fewer
// than 2 (or more than kMaxEnsembleMembers) members.
std::vector<std::string> ReadEnsembleManifest(const std::string& manifest);

}  // namespace amrs::worldmodel
