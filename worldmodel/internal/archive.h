// Internal: torch archive helpers shared by the world-model and policy checkpoints (CMake target
// amrs_torch_archive, linked privately by worldmodel and agents). Not installed.
#pragma once

#include <torch/torch.h>

#include <string>

#include "zip_check.h"

namespace amrs::worldmodel {

// Opens a torch archive after CheckTorchZip; InputError naming `path` if it is missing, corrupt
// or not an archive. `what`
// names the expected kind in the message ("world-model checkpoint").
torch::serialize::InputArchive OpenArchive(const std::string& path, const std::string& what);

// The archive's "meta" string (JSON); InputError "<path>: <not_what> (no metadata)" without one,
// e.g. not_what = "not a world-model checkpoint".
std::string ReadMeta(torch::serialize::InputArchive& a, const std::string& path, const std::string& not_what);

// Saves atomically: a temporary file beside `path`, then a rename; nothing is left behind on error.
void SaveArchive(torch::serialize::OutputArchive& a, const std::string& path, const std::string& what);

// A module's parameters under `prefix` ('.' in names becomes '__'): prefix__name.
void WriteParams(torch::serialize::OutputArchive& a, const std::string& prefix, const torch::nn::Module& m);
// Reads them back; InputError naming `source` and the parameter if one is missing or has
// another shape (torch::load would not notice).
void ReadParams(torch::serialize::InputArchive& a, const std::string& prefix, torch::nn::Module& m,
                const std::string& source);

}  // namespace amrs::worldmodel
