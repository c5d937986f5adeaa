// World-model speed benchmark (`amrs bench --world-only`): cached append vs full re-encode,
// whole-catalogue scoring, training throughput. Numbers are measured, never asserted in tests.
#pragma once

#include <cstdint>
#include <string>

#include "amrs/data/dataset.h"
#include "amrs/worldmodel/config.h"

namespace amrs::worldmodel {

struct WorldBenchOptions {
  ModelConfig model;                // architecture to time (weights: untrained, same cost)
  std::string checkpoint;           // optional: time this trained model instead
  std::int32_t batch = 32;
  std::int32_t history = 100;       // tokens per history
  std::int32_t appends = 50;        // successive cached appends timed
  std::int32_t train_users = 200;   // users in the timed training epoch
};

struct WorldBench {
  double append_ms = 0;        // one cached append for the whole batch
  double reencode_ms = 0;      // re-encoding the whole batch of (history + 1)-token sequences
  double speedup = 0;          // reencode_ms / append_ms
  double catalogue_ms_b1 = 0;  // ScoreCatalogue for one history (all songs)
  double catalogue_ms_per_history_b32 = 0;
  std::int32_t catalogue_songs = 0;
  double train_tokens_per_second = 0;
  double train_gflops = 0;  // estimated work of the training batches / their time (TrainingBatchFlops)
  double matmul_gflops = 0;  // MatmulGflops, measured in the same run right after the training epoch
  std::int32_t torch_threads = 0;
};

WorldBench RunWorldBench(const data::Dataset& d, const WorldBenchOptions& o);

// This machine's single-precision matrix-multiply throughput through torch (n x n, GFLOP/s).
double MatmulGflops(std::int32_t n = 1024);

}  // namespace amrs::worldmodel
