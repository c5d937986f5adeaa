// `amrs train-world` as a library call: train and test one configuration on several splits.
// No torch here: training and the model are reached through train.h and world_model.h.
#include <filesystem>
#include <ostream>

#include "amrs/core/error.h"
#include "amrs/data/oracle.h"
#include "amrs/worldmodel/train.h"
#include "amrs/worldmodel/world_model.h"

namespace amrs::worldmodel {

std::vector<SplitRun> TrainAndTest(const data::Dataset& d, TrainOptions o, const std::vector<std::int32_t>& splits,
                                   const std::string& out_dir, std::ostream* progress,
                                   const std::function<void(const SplitRun&)>& on_split) {
  o.model.Validate();
  d.Family(o.model.family);  // fail before creating anything for an unknown family
  if (splits.empty()) throw ArgumentError("train-world: no splits given");
  for (auto k : splits)
    if (k < 0 || k >= static_cast<std::int32_t>(d.splits.size()))
      throw ArgumentError("split " + std::to_string(k) + " does not exist (the dataset has " +
                          std::to_string(d.splits.size()) + ")");
  const std::string dir = out_dir + "/" + o.model.Name();
  std::filesystem::create_directories(dir);
  std::vector<SplitRun> runs;
  for (auto k : splits) {
    SplitRun r;
    r.split = o.split = k;
    r.checkpoint = o.out = dir + "/split-" + std::to_string(k) + ".pt";
    if (progress) *progress << "== train-world " << o.model.Name() << " split " << k << " -> " << o.out << "\n";
    r.train = TrainWorldModel(d, o, progress);
    const auto model = WorldModel::Load(o.out, d);
    const auto& test = d.splits.at(static_cast<std::size_t>(k)).test;
    r.test = Evaluate(*model, d, test);
    if (d.oracle) r.oracle = data::EvaluateOracle(d, test);
    if (on_split) on_split(r);
    runs.push_back(std::move(r));
  }
  return runs;
}

}  // namespace amrs::worldmodel
