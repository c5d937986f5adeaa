// Private to the Python extension: the objects amrs.Dataset and amrs.World wrap (data_bindings.cc),
// shared by the env and run bindings. Both are immutable once made and safe to share between envs
// and threads (the dataset and world they hold are const).
#pragma once

#include <memory>
#include <string>

#include "amrs/data/dataset.h"
#include "amrs/env/world.h"

namespace amrs::python {

// amrs.Dataset: a dataset file read once.
struct PyDataset {
  std::shared_ptr<const data::Dataset> data;
  std::string path;  // the file it was read from (scenario files need it)
};

// amrs.World: a world loaded for one dataset (env::LoadWorld).
struct PyWorld {
  std::shared_ptr<const env::World> world;
  std::string spec;  // "oracle", "oracle:<family>" or a checkpoint path
  std::shared_ptr<PyDataset> dataset;
};

}  // namespace amrs::python
