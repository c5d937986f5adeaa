#include "amrs/run/evaluate.h"

#include <algorithm>

#include "amrs/core/error.h"

namespace amrs::run {

OracleMode ParseOracleMode(const std::string& name) {
  if (name == "auto") return OracleMode::kAuto;
  if (name == "yes") return OracleMode::kYes;
  if (name == "no") return OracleMode::kNo;
  throw ArgumentError("oracle mode must be auto, yes or no, got '" + name + "'");
}

Params DefaultPolicyParams(const std::vector<std::string>& agents, const std::string& policy_dir) {
  Params p;
  for (const char* kind : {"copycat", "dpo"})
    if (std::find(agents.begin(), agents.end(), kind) != agents.end())
      p[kind] = policy_dir + "/" + kind + "-seed-{seed}.pt";
  return p;
}

Evaluation::Evaluation(const EvaluateSpec& spec) : spec_(spec) {
  learned_ = std::make_unique<Runner>(spec_.run);
  const auto& d = learned_->inputs().dataset;
  const bool with_oracle = spec_.oracle == OracleMode::kYes ||
                           (spec_.oracle == OracleMode::kAuto && d->oracle && spec_.run.world != "oracle");
  if (with_oracle) {
    RunSpec truth = spec_.run;
    truth.world = "oracle";
    if (truth.seed_scope == SeedScope::kWorld) truth.seed_scope = SeedScope::kWindows;  // one ground truth
    truth.parts = {data::Part::kTest};
    oracle_ = std::make_unique<Runner>(truth, Inputs{d, nullptr, nullptr});
  }
}

std::vector<std::string> Evaluation::Logs() const {
  std::vector<std::string> logs;
  for (const auto p : spec_.run.parts) logs.push_back(spec_.out_dir + "/" + data::PartName(p) + ".h5");
  if (oracle_) logs.push_back(spec_.out_dir + "/test-oracle.h5");
  return logs;
}

EvaluateResult Evaluation::Run(const RunHooks& hooks) const {
  EvaluateResult r;
  RunHooks h = hooks;
  h.log = spec_.out_dir + "/{part}.h5";
  r.learned = learned_->Run(h);
  if (oracle_) {
    h.log = spec_.out_dir + "/test-oracle.h5";
    r.oracle = oracle_->Run(h);
    r.with_oracle = true;
  }
  r.logs = Logs();
  return r;
}

}  // namespace amrs::run
