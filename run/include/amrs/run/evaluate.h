// The evaluation protocol of the paper (4.5, 4.6; docs/report.md): every agent, paired seeds, on
// the train, validation and test users of one split under the learned world, plus the test users
// under the oracle (ground truth) when the dataset has one. One episode log per (world, part):
// <out_dir>/<part>.h5 and <out_dir>/test-oracle.h5, which `amrs report` reads.
#pragma once

#include <string>
#include <vector>

#include "amrs/run/run.h"

namespace amrs::run {

enum class OracleMode { kAuto, kYes, kNo };
// "auto" | "yes" | "no"; ArgumentError otherwise.
OracleMode ParseOracleMode(const std::string& name);

struct EvaluateSpec {
  RunSpec run;                      // world: the learned world; parts: those to evaluate
  OracleMode oracle = OracleMode::kAuto;  // auto: when the dataset has an oracle and the world is not it
  std::string out_dir = "out/eval";
  EvaluateSpec() { run.parts = {data::Part::kTest, data::Part::kVal, data::Part::kTrain}; }
};

struct EvaluateResult {
  std::vector<std::string> logs;  // written, in run order
  RunResult learned;              // the parts under spec.run.world
  bool with_oracle = false;
  RunResult oracle;               // the test part under the oracle (when with_oracle)
};

// The parameters `amrs evaluate` uses when none are given: the quickstart's checkpoints
// (<policy_dir>/<kind>-seed-{seed}.pt) for the copycat and dpo agents among `agents`.
Params DefaultPolicyParams(const std::vector<std::string>& agents, const std::string& policy_dir = "out/policy");

// The protocol, prepared: both runs are checked (inputs, agents, parameters) before either runs.
class Evaluation {
 public:
  explicit Evaluation(const EvaluateSpec& spec);
  const EvaluateSpec& spec() const { return spec_; }
  bool with_oracle() const { return oracle_ != nullptr; }
  // The logs it will write, in run order.
  std::vector<std::string> Logs() const;
  // hooks.log is ignored (the protocol names the logs); progress and on_block see both runs.
  EvaluateResult Run(const RunHooks& hooks = {}) const;

 private:
  EvaluateSpec spec_;
  std::unique_ptr<Runner> learned_, oracle_;
};

}  // namespace amrs::run
