#include "amrs/run/train_policies.h"

#include <tbb/parallel_for.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "amrs/core/paths.h"
#include "amrs/core/error.h"
#include "amrs/distributed/distributed.h"
#include "amrs/data/dataset.h"
#include "amrs/env/env.h"
#include "amrs/env/world.h"
#include "amrs/run/run.h"
#include "amrs/worldmodel/world_model.h"

namespace amrs::run {
namespace {

// An ostream that forwards each complete line to `out` under one lock (parallel seeds).
class LineStream : public std::ostream {
 public:
  explicit LineStream(std::ostream* out) : std::ostream(&buf_), buf_(out) {}

 private:
  struct Buf : std::stringbuf {
    explicit Buf(std::ostream* o) : out(o) {}
    int sync() override {
      static std::mutex mu;
      if (out) {
        std::lock_guard<std::mutex> lock(mu);
        *out << str() << std::flush;
      }
      str("");
      return 0;
    }
    std::ostream* out;
  } buf_;
};

}  // namespace

void PolicyTrainingSpec::Validate() const {
  if (kind != "copycat" && kind != "dpo") throw ArgumentError("train-policy: kind must be copycat or dpo, got '" + kind + "'");
  if (data.empty()) throw ArgumentError("train-policy: no dataset");
  if (kind == "dpo" && world.empty()) throw ArgumentError("train-policy: kind dpo needs a world (checkpoint or 'oracle')");
  if (seeds.empty() || seeds.size() > static_cast<std::size_t>(kMaxSeeds))
    throw ArgumentError("train-policy: between 1 and " + std::to_string(kMaxSeeds) + " seeds, got " +
                        std::to_string(seeds.size()));
  if (std::set<std::uint64_t>(seeds.begin(), seeds.end()).size() != seeds.size())
    throw ArgumentError("train-policy: a seed is listed twice");
  if (out_dir.empty()) throw ArgumentError("train-policy: empty output folder");
  auto cc = copycat;
  cc.out = Checkpoint(seeds.front());
  cc.Validate();
  if (kind == "dpo") {
    dpo.pairs.Validate();
    dpo.utility.Validate();
  }
}

std::string PolicyTrainingSpec::Checkpoint(std::uint64_t seed) const {
  return out_dir + "/" + kind + "-seed-" + std::to_string(seed) + ".pt";
}

std::string PolicyTrainingSpec::Reference(std::uint64_t seed) const {
  if (kind != "dpo") return "";
  return agents::ExpandSeed(reference.empty() ? out_dir + "/copycat-seed-{seed}.pt" : reference, seed);
}

std::string PolicyStaleReason(const std::string& path, const PolicyTrainingSpec& spec, std::uint64_t seed,
                              const std::string& fingerprint, const std::string& world_id) {
  if (!std::filesystem::exists(path)) return "no checkpoint";
  std::map<std::string, std::string> want;
  agents::PolicyInfo i;
  try {
    i = agents::ReadPolicyInfo(path);
    if (spec.kind == "copycat") {
      auto o = spec.copycat;
      o.seed = seed;
      want = agents::CopycatTrainingOptions(o);
    } else {
      auto o = spec.dpo;
      o.seed = seed;
      o.reference = spec.Reference(seed);
      want = agents::DpoTrainingOptions(o, world_id, agents::ReadPolicyInfo(o.reference).options);
    }
  } catch (const Error& e) {
    return std::string("unreadable (") + e.what() + ")";
  }
  if (i.kind != spec.kind) return "it is a '" + i.kind + "' checkpoint";
  if (i.seed != seed) return "it was trained with seed " + std::to_string(i.seed);
  if (i.dataset_fingerprint != fingerprint) return "it was trained on another dataset (fingerprint " + i.dataset_fingerprint + ")";
  if (i.options.empty()) return "it does not record its training options (an older checkpoint)";
  for (const auto& [key, value] : want) {
    const auto it = i.options.find(key);
    if (it == i.options.end()) return "option '" + key + "' is not recorded in it";
    if (it->second != value) return "option '" + key + "' was " + it->second + ", now " + value;
  }
  for (const auto& [key, value] : i.options)
    if (!want.count(key)) return "it records option '" + key + "' that this run does not set";
  return "";
}

bool PolicyUpToDate(const std::string& path, const PolicyTrainingSpec& spec, std::uint64_t seed,
                    const std::string& fingerprint, const std::string& world_id) {
  return PolicyStaleReason(path, spec, seed, fingerprint, world_id).empty();
}

std::vector<PolicySeedResult> TrainPolicies(const PolicyTrainingSpec& spec, std::ostream* log) {
  spec.Validate();
  for (const auto s : spec.seeds) {  // no checkpoint may replace an input (e.g. --reference in --out-dir)
    std::vector<std::string> inputs{spec.data};
    if (spec.kind == "dpo") inputs.push_back(spec.Reference(s)), inputs.push_back(spec.world);
    CheckOutputFile(spec.Checkpoint(s), inputs, "--out-dir");
  }
  worldmodel::SetTorchThreads(1);  // seeds run in parallel, each on one torch thread
  auto d = std::make_shared<const data::Dataset>(data::ReadDataset(spec.data));
  const std::string fp = data::Fingerprint(*d);
  std::shared_ptr<const env::EnvContext> ctx;
  if (spec.kind == "dpo") {
    env::EnvConfig cfg;
    cfg.split = spec.copycat.split;
    cfg.window_seed = spec.copycat.window_seed;
    ctx = env::EnvContext::Create(d, env::LoadWorld(spec.world, d), cfg);
    for (const auto s : spec.seeds) agents::ReadPolicyInfo(spec.Reference(s));  // fail before any training
  }
  const std::string world_id = ctx ? ctx->world().Id() : std::string();
  std::filesystem::create_directories(spec.out_dir);
  if (log)
    *log << "train-policy: " << spec.kind << " for " << spec.seeds.size() << " seeds on split " << spec.copycat.split
         << (spec.kind == "dpo"
                 ? ", pairs scored by " + ctx->world().Name() + " with utility " + spec.dpo.utility.ToString()
                 : std::string())
         << "\n";
  std::vector<PolicySeedResult> results(spec.seeds.size());
  auto train_seed = [&](std::size_t i) {
    PolicySeedResult& r = results[i];
    r.seed = spec.seeds[i];
    r.checkpoint = spec.Checkpoint(r.seed);
    LineStream lines(log);
    if (!spec.force) {
      const std::string stale = PolicyStaleReason(r.checkpoint, spec, r.seed, fp, world_id);
      if (stale.empty()) {
        lines << spec.kind << " seed " << r.seed << ": " << r.checkpoint << " is up to date (use --force to retrain)"
              << std::endl;
        r.up_to_date = true;
        return;
      }
      if (std::filesystem::exists(r.checkpoint))
        lines << spec.kind << " seed " << r.seed << ": retraining " << r.checkpoint << ": " << stale << std::endl;
    }
    if (spec.kind == "copycat") {
      auto o = spec.copycat;
      o.seed = r.seed;
      o.out = r.checkpoint;
      r.outcome = agents::TrainCopycat(*d, o, &lines);
    } else {
      auto o = spec.dpo;
      o.seed = r.seed;
      o.reference = spec.Reference(r.seed);
      o.out = r.checkpoint;
      r.outcome = agents::TrainDpo(ctx, o, &lines);
    }
  };
  // Under a distributed launch every seed is trained data-parallel by all ranks, one seed after
  // another (their collectives must come in the same order on every rank); else seeds in parallel.
  if (distributed::Current().size() > 1) {
    for (std::size_t i = 0; i < spec.seeds.size(); ++i) train_seed(i);
  } else {
    tbb::parallel_for(std::size_t(0), spec.seeds.size(), train_seed);
  }
  return results;
}

}  // namespace amrs::run
