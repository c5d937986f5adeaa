// Per-seed policy training (docs/policies.md): Copycat (InfoNCE behaviour cloning) or DPO
// (fine-tuning a Copycat on world-scored preference pairs) for a list of seeds, the seeds in
// parallel on TBB workers (one torch thread each), skipping seeds whose checkpoint is up to date.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "amrs/agents/policy.h"

namespace amrs::run {

struct PolicyTrainingSpec {
  std::string kind;                  // "copycat" | "dpo"
  std::string data;                  // dataset (.h5)
  std::string world;                 // dpo: the world that scores the pairs ('oracle' or a checkpoint)
  std::string reference;             // dpo: Copycat pattern with {seed}; "" = <out_dir>/copycat-seed-{seed}.pt
  std::vector<std::uint64_t> seeds{0, 1, 2, 3, 4};
  std::string out_dir = "out/policy";  // writes <kind>-seed-<seed>.pt
  bool force = false;                // retrain seeds whose checkpoint is up to date
  agents::CopycatOptions copycat;    // split and window_seed apply to both kinds; seed/out are set per seed
  agents::DpoOptions dpo;            // seed/reference/out are set per seed
  void Validate() const;             // ArgumentError naming the field
  std::string Checkpoint(std::uint64_t seed) const;  // <out_dir>/<kind>-seed-<seed>.pt
  std::string Reference(std::uint64_t seed) const;   // dpo: the expanded reference ("" for copycat)
};

struct PolicySeedResult {
  std::uint64_t seed = 0;
  std::string checkpoint;
  bool up_to_date = false;           // skipped: the checkpoint was already what this run makes
  agents::TrainOutcome outcome;      // when trained
};

// Why `path` does not hold the checkpoint this spec would produce for `seed` on the dataset with
// `fingerprint` ("" when it does): missing or unreadable file, other kind or dataset, or the first
// training option that differs ("option 'lr' was 0.001, now 0.002"; agents::CopycatTrainingOptions,
// DpoTrainingOptions: model size, split, windows, seed, epochs, batch, lr, ...; for dpo also the
// world (`world_id`, its World::Id()), utility, beta, pair pool and the reference and its options).
// A checkpoint that records no options (older ones) is never up to date.
std::string PolicyStaleReason(const std::string& path, const PolicyTrainingSpec& spec, std::uint64_t seed,
                              const std::string& fingerprint, const std::string& world_id = "");
// PolicyStaleReason(...).empty().
bool PolicyUpToDate(const std::string& path, const PolicyTrainingSpec& spec, std::uint64_t seed,
                    const std::string& fingerprint, const std::string& world_id = "");

// Checks the spec and its inputs (dataset, world, every dpo reference) before training any seed,
// then trains the seeds that are not up to date. `log` gets whole lines (safe from parallel
// seeds); may be null. Results are in the order of spec.seeds.
std::vector<PolicySeedResult> TrainPolicies(const PolicyTrainingSpec& spec, std::ostream* log);

}  // namespace amrs::run
