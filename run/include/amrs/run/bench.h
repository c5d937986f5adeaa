// The env part of `amrs bench` (docs/env.md): env-steps per second of agents in the env, the
// learned world's FLOPs per step, and the batched cached step against re-encoding every step.
// Measured numbers only; nothing here is asserted in tests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "amrs/data/dataset.h"
#include "amrs/env/env.h"
#include "amrs/env/world.h"

namespace amrs::run {

struct EnvBench {
  double steps_per_second = 0;
  double mean_history = 0;
};

// Env-steps per second of `agent` in a VectorEnv of `batch` envs, timing Act and Step only, for
// at least `min_seconds`.
EnvBench TimeEnv(std::shared_ptr<const env::EnvContext> ctx, const std::string& agent, std::int32_t batch,
                 double min_seconds);
// Steps per second of the uncached alternatives: every step re-encodes each env's whole history,
// one env at a time (`batched` false: the naive loop) or all envs in one batched pass.
double ReencodeStepsPerSecond(std::shared_ptr<const env::EnvContext> ctx, std::int32_t batch, bool batched,
                              double min_seconds);

struct EnvBenchRow {
  std::string world, agent;
  std::int32_t batch = 0;
  double steps_per_second = 0;
};

// Catalogue scoring alone (World::ScoreCatalogue), one thread, rows of test-user histories.
struct CatalogueBench {
  std::string world;
  double rows_per_second = 0;
  double flops_per_row = 0, bytes_per_row = 0;  // 0: unknown
  double bound_rows_per_second = 0;             // the oracle's transcendental bound (0: none)
};

struct EnvBenchReport {
  std::vector<EnvBenchRow> rows;  // learned then oracle; random, greedy; batch 1, 256
  bool learned = false;           // the rest is about the learned world
  double flops_per_step = 0, mean_history = 0, achieved_gflops = 0;
  double matmul_gflops = 0;       // this machine's 1024^3 matrix multiply (torch)
  std::int32_t torch_threads = 0;
  double naive_steps_per_second = 0, batched_reencode_steps_per_second = 0;
  double cached_steps_per_second = 0;  // learned, random, batch 256
  std::vector<CatalogueBench> catalogue;  // learned then oracle
  double memory_read_gbs = 0;            // this machine's sequential read, one thread
};

// The whole env benchmark; `learned` or `oracle` may be null (skipped).
EnvBenchReport RunEnvBench(std::shared_ptr<const data::Dataset> d, std::shared_ptr<const env::World> learned,
                           std::shared_ptr<const env::World> oracle, double min_seconds);

}  // namespace amrs::run
