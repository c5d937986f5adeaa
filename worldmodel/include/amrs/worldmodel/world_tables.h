// Tables 2 and 3 of the paper (the world-model study) and the validation section, rendered from
// a results file's "world" section. Torch-free (target amrs::worldmodel_config, with the model
// configuration), so that `amrs report` renders them without linking LibTorch.
#pragma once

#include <string>
#include <vector>

#include "amrs/data/results.h"
#include "amrs/worldmodel/config.h"

namespace amrs::worldmodel {

// The configurations of Table 2 (standard/factorized x `families` x with/without PE, families in
// the given order) and Table 3 (ablations of the factorized configuration of base.family).
std::vector<ModelConfig> Table2Configs(const ModelConfig& base,
                                       const std::vector<std::string>& families = {"clamp3", "mert"});
std::vector<ModelConfig> Table3Configs(const ModelConfig& base);

// The baseline rows a sweep may choose (the oracle is a ceiling, never chosen).
constexpr const char* kChoosableBaselines[] = {"baseline-song-mean", "baseline-user-mean", "baseline-pooled-mlp"};

// The validation row of an ensemble of `members` members of configuration `model` (sweep-world
// --members): "<model>.ensemble-<members>".
std::string EnsembleRowName(const std::string& model, int members);

// The row of configuration `model` trained at transformer width `d_model` (sweep-world --sizes;
// feed-forward 2 d_model, head d_model): "<model>.d<d_model>".
std::string SizeRowName(const std::string& model, int d_model);
// The width of `row` when it is a size row of `model` (SizeRowName), else 0.
int SizeRowWidth(const std::string& row, const std::string& model);

struct WorldTables {
  std::string markdown;       // Tables 2 and 3, the model sizes and the validation section
  std::string table2_chosen;  // Table 2 configuration chosen by average rank
  // The model that meets the baselines: table2_chosen, or one of its size rows that ranks
  // strictly better among them (a tie keeps table2_chosen).
  std::string chosen_model;
  // The chosen world: chosen_model, or a baseline whose average rank over the same primary
  // metrics, among chosen_model and the baselines (validation table), is strictly better.
  std::string chosen;
};

// The embedding families of a "world" section's model rows (their `config` attributes), sorted;
// {"clamp3", "mert"} when no row says.
std::vector<std::string> SectionFamilies(const data::ResultSection& world);
// The Table-2/3 base of a "world" section: ModelConfig's defaults with the song prior and prior
// offset settings of its model rows (a sweep on small data runs the small preset: its rows are
// named "...+prior+offset"); the defaults when no row says.
ModelConfig SectionBase(const data::ResultSection& world);

// Renders Tables 2/3 and the validation section from a results file's "world" section. Table 2
// shows the families of the section's rows (sorted by name).
WorldTables RenderWorldTables(const data::ResultSection& world, const ModelConfig& base, bool table2, bool table3);

}  // namespace amrs::worldmodel
