// Private: world-model checkpoint files (torch archive + JSON metadata).
#pragma once

#include <array>
#include <string>

#include "amrs/worldmodel/world_model.h"
#include "net.h"

namespace amrs::worldmodel {

std::string InfoToJson(const CheckpointInfo& info);
CheckpointInfo InfoFromJson(const std::string& json, const std::string& source);

// Writes `nets[s]` as signal s's network, atomically (temporary file, then rename).
void SaveCheckpoint(const std::string& path, const CheckpointInfo& info,
                    const std::array<WorldNet, kNumSignals>& nets, const SongReduction& reduction);

// Reads the metadata of a checkpoint; throws InputError naming `path` if it is not one.
CheckpointInfo ReadCheckpointInfo(const std::string& path);

}  // namespace amrs::worldmodel
