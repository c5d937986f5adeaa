// Tables 2 and 3 of the paper (the world-model study) and the validation section, rendered from
// a results file's "world" section. Torch-free (target amrs::worldmodel_config, with the model
// configuration), so that `amrs report` renders them without linking LibTorch.
#pragma once

#include <string>
#include <vector>

#include "amrs/data/results.h"
#include "amrs/worldmodel/config.h"

namespace amrs::worldmodel {

// The configurations of Table 2 and Table 3 (base = options.train.model with family mert).
std::vector<ModelConfig> Table2Configs(const ModelConfig& base);
std::vector<ModelConfig> Table3Configs(const ModelConfig& base);

struct WorldTables {
  std::string markdown;  // Tables 2 and 3 and the validation section
  std::string chosen;    // Table 2 configuration chosen by average rank
};

// Renders Tables 2/3 and the validation section from a results file's "world" section.
WorldTables RenderWorldTables(const data::ResultSection& world, const ModelConfig& base, bool table2, bool table3);

}  // namespace amrs::worldmodel
