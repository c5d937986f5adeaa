// Private to the CLI: env benchmark helpers.
#pragma once

#include <memory>
#include <string>

#include "amrs/data/dataset.h"
#include "amrs/env/env.h"
#include "amrs/env/world.h"

namespace amrs::cli {

struct EnvBench {
  double steps_per_second = 0;
  double mean_history = 0;
};

EnvBench TimeEnv(std::shared_ptr<const env::EnvContext> ctx, const std::string& agent, std::int32_t batch,
                 double min_seconds);
double ReencodeStepsPerSecond(std::shared_ptr<const env::EnvContext> ctx, std::int32_t batch, bool batched,
                              double min_seconds);
void PrintEnvBench(std::shared_ptr<const data::Dataset> d, std::shared_ptr<const env::World> learned,
                   std::shared_ptr<const env::World> oracle, double min_seconds);

}  // namespace amrs::cli
