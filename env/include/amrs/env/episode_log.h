// Episode logs (HDF5, docs/log-format.md): run metadata and, per agent and seed, the episodes of
// a rollout. Written by one writer, one block at a time, into a temporary file that Finalize
// renames into place; readable from h5py.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "amrs/core/types.h"
#include "amrs/env/rollout.h"

namespace amrs::env {

constexpr int kLogVersion = 1;

struct RunMetadata {
  std::string config;               // free-form JSON of the run's options
  std::string world;                // World::Name()
  std::string world_id;             // World::Id()
  std::string dataset_fingerprint;
  std::string scenario;             // "" for plain rollouts
  // What the seeds vary (run::SeedScope's name); logs written before it was recorded read as
  // "policy" (the only behaviour then).
  std::string seed_scope = "policy";
  std::string part;                 // "train" | "val" | "test"
  std::int32_t split = 0;
  std::int32_t horizon = 0, topk = 0;
  Utility utility;
  std::string version;              // amrs version
  // The run's no-replay rule (env::NoReplayName); "" in logs written before the rule was a run
  // option (then Copycat and DPO skipped the session's songs and Random and Greedy did not).
  std::string no_replay;
};

// Not thread-safe: one writer per file.
class EpisodeLogWriter {
 public:
  EpisodeLogWriter(const std::string& path, const RunMetadata& meta);
  ~EpisodeLogWriter();  // removes the temporary file unless Finalize succeeded
  EpisodeLogWriter(const EpisodeLogWriter&) = delete;
  EpisodeLogWriter& operator=(const EpisodeLogWriter&) = delete;
  // Writes /runs/<agent>/seed-<seed>; a block of the same agent and seed may not repeat.
  void Write(const EpisodeBlock& block);
  void Finalize();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct EpisodeLog {
  RunMetadata meta;
  std::vector<EpisodeBlock> blocks;  // ordered by agent name, then seed
};

// Reads and checks a log (shapes, versions); errors name the file and the dataset.
EpisodeLog ReadEpisodeLog(const std::string& path);

}  // namespace amrs::env
