// amrs rollout, evaluate: runs through the library's run API (amrs/run/run.h, evaluate.h).
#include <tbb/global_control.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "amrs/core/error.h"
#include "amrs/core/paths.h"
#include "amrs/metrics/rollouts.h"
#include "amrs/run/evaluate.h"
#include "amrs/run/run.h"
#include "amrs/worldmodel/world_model.h"
#include "common.h"

namespace amrs::cli {
namespace {

// The options every run command shares, bound to a RunSpec.
struct RunOptions {
  std::string agents, utility = "affect", params, seeds_list, part = "test", no_replay = "session";
  float penalty = 0.f;
  std::string seed_scope = run::SeedScopeName(run::kDefaultSeedScope);
  std::int32_t seeds = 5, threads = 0;
  bool new_session = false, no_oracle_error = false;
  std::vector<std::string> plugins;
};

void AddRunOptions(po::options_description& desc, run::RunSpec& s, RunOptions& o) {
  desc.add_options()
    ("split", po::value(&s.split)->default_value(s.split), "MCCV split")
    ("seeds", po::value(&o.seeds)->default_value(o.seeds), "seeds 0..N-1, shared by all agents (paired)")
    ("seed-list", po::value(&o.seeds_list)->default_value(""), "explicit comma-separated seeds (overrides --seeds)")
    ("horizon,L", po::value(&s.horizon)->default_value(s.horizon), "steps per episode (L)")
    ("topk", po::value(&s.topk)->default_value(s.topk), "length of the logged top-k lists (adherence uses 10)")
    ("batch", po::value(&s.batch)->default_value(s.batch), "envs per batch (one TBB task)")
    ("max-users", po::value(&s.max_users)->default_value(0), "limit the users of each part (0: all)")
    ("utility", po::value(&o.utility)->default_value(o.utility), "reward weights, e.g. valence=0.5,arousal=0.5")
    ("penalty", po::value(&o.penalty)->default_value(0.f, "0"),
     "lambda of the penalized reward under an ensemble world: utility of the mean minus lambda x the members' "
     "utility-weighted disagreement (docs/ensembles.md)")
    ("window-seed", po::value(&s.window_seed)->default_value(0), "seed of the users' windows")
    ("seed-scope", po::value(&o.seed_scope)->default_value(o.seed_scope),
     "what the seeds vary: policy | policy+windows (windows drawn per seed) | policy+windows+world ('{seed}' in "
     "--world names one world per seed); docs/metrics.md")
    ("no-replay", po::value(&o.no_replay)->default_value(o.no_replay),
     "songs no agent may recommend: session (of the current session) | episode (of this episode) | off")
    ("no-oracle-error", po::bool_switch(&o.no_oracle_error),
     "under an ensemble world on synthetic data, do not replay the episodes in the oracle to log the error of "
     "the predictions (oracle_error; docs/ensembles.md)")
    ("threads", po::value(&o.threads)->default_value(0), "TBB worker threads (0: all cores)");
  AddPluginOption(desc, o.plugins);
}

void ApplyRunOptions(run::RunSpec& s, const RunOptions& o) {
  CheckInputFile(s.data, "--data");
  CheckWorldSpec(s.world);
  LoadPlugins(o.plugins);
  s.agents = SplitCommas(o.agents);
  s.params = ParseParams({o.params});
  s.seeds = SeedsOption(o.seeds_list, o.seeds, "seeds");
  s.utility = Utility::Parse(o.utility);
  if (o.penalty != 0.f) s.utility.penalty = o.penalty;
  s.utility.Validate();
  s.new_session = o.new_session;
  s.oracle_error = !o.no_oracle_error;
  s.seed_scope = run::ParseSeedScope(o.seed_scope);
  try {
    s.no_replay = env::ParseNoReplay(o.no_replay);
  } catch (const ArgumentError& e) {
    throw ArgumentError(std::string("--no-replay: ") + e.what());
  }
}

std::unique_ptr<tbb::global_control> Threads(std::int32_t threads) {
  if (threads < 0) throw ArgumentError("--threads must be >= 0");
  worldmodel::SetTorchThreads(1);
  if (threads == 0) return nullptr;
  return std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, threads);
}

// Progress bars and the per-agent table of a run (what `rollout` and `evaluate` print).
class RunPrinter {
 public:
  explicit RunPrinter(const run::RunSpec& spec) : spec_(spec), seeds_(spec.seeds.size()) {}
  run::RunHooks Hooks(std::string log) {
    run::RunHooks h;
    h.log = std::move(log);
    h.version = kVersion;
    h.progress = [this](const run::RunProgress& p) {
      std::lock_guard<std::mutex> lock(mu_);
      const std::string label = p.agent + " " + data::PartName(p.part) + " seed " + std::to_string(p.seed);
      if (label != label_) bar_ = std::make_unique<ProgressBar>(label), label_ = label;
      bar_->Update(p.done, p.total);
    };
    h.on_block = [this](data::Part part, const env::EpisodeBlock& b) { OnBlock(part, b); };
    h.on_part = [this](data::Part part, const std::string& world) {
      std::cerr << "rollout: " << spec_.agents.size() << " agents x " << spec_.seeds.size() << " seeds on "
                << data::PartName(part) << " users of split " << spec_.split << ", world " << world
                << ", L = " << spec_.horizon << "\n";
      std::printf("%-12s %-6s %6s %10s %10s %10s %10s %10s\n", "agent", "part", "seeds", "reward", "valence",
                  "arousal", "rating", "engagement");
    };
    h.keep_blocks = false;
    return h;
  }

 private:
  void OnBlock(data::Part part, const env::EpisodeBlock& b) {
    if (!agent_blocks_.empty() && agent_blocks_.front().agent != b.agent) agent_blocks_.clear();
    agent_blocks_.push_back(b);
    if (agent_blocks_.size() < seeds_) return;
    for (const auto& a : run::Summarize(agent_blocks_))
      std::printf("%-12s %-6s %6zu %10.4f %10.4f %10.4f %10.4f %10.4f\n", a.agent.c_str(), data::PartName(part),
                  a.seeds, a.reward, a.valence, a.arousal, a.rating, a.engagement);
    PrintUncertainty();
    std::fflush(stdout);
    agent_blocks_.clear();
  }
  // Under an ensemble world: the members' mean disagreement on the agent's actions and, on
  // synthetic data, the error against the oracle and their Spearman correlation (means over seeds).
  void PrintUncertainty() const {
    double d = 0, err = 0, rho = 0;
    std::size_t nd = 0, ne = 0, nr = 0;
    for (const auto& b : agent_blocks_) {
      if (b.disagreement.empty()) continue;
      const auto m = metrics::UncertaintyMetrics(b);
      if (const auto it = m.find(metrics::key::kDisagreement); it != m.end()) d += it->second, ++nd;
      if (const auto it = m.find(metrics::key::kOracleError); it != m.end()) err += it->second, ++ne;
      if (const auto it = m.find(metrics::key::kDisagreementErrorSpearman); it != m.end()) rho += it->second, ++nr;
    }
    if (nd == 0) return;
    std::printf("%-12s %-6s disagreement %.4f", "", "", d / static_cast<double>(nd));
    if (ne > 0) std::printf(", error against the oracle %.4f", err / static_cast<double>(ne));
    if (nr > 0) std::printf(", Spearman(disagreement, error) %+.3f", rho / static_cast<double>(nr));
    std::printf("\n");
  }
  const run::RunSpec& spec_;
  std::size_t seeds_;
  std::vector<env::EpisodeBlock> agent_blocks_;
  std::mutex mu_;
  std::string label_;
  std::unique_ptr<ProgressBar> bar_;
};

}  // namespace

int Rollout(const std::vector<std::string>& args) {
  run::RunSpec spec;
  RunOptions o;
  o.agents = "random,greedy";
  std::string out;
  po::options_description desc("amrs rollout: run agents in the env and log every episode (HDF5)");
  desc.add_options()
    ("data", po::value(&spec.data)->required(), "dataset (.h5)")
    ("world", po::value(&spec.world)->required(), "world-model checkpoint, or 'oracle' (synthetic data)")
    ("agents", po::value(&o.agents)->default_value(o.agents), "comma-separated registered agents")
    ("part", po::value(&o.part)->default_value(o.part), "train | val | test")
    ("new-session", po::bool_switch(&o.new_session), "open a new session (boundary token) before the first step")
    ("param", po::value(&o.params)->default_value(""),
     "agent parameters KEY=VALUE,... e.g. copycat=out/policy/copycat-seed-{seed}.pt")
    ("out,o", po::value(&out)->default_value("out/run.h5"), "episode log (.h5)");
  AddRunOptions(desc, spec, o);
  po::variables_map vm;
  if (!Parse("rollout", args, desc, vm, nullptr, "--data D.h5 --world W.pt|oracle [--agents random,greedy]")) return 0;
  const auto threads = Threads(o.threads);
  ApplyRunOptions(spec, o);
  CheckOutputFile(out, {spec.data, spec.world}, "--out");
  spec.parts = {data::ParsePart(o.part)};
  const run::Runner runner(spec);
  RunPrinter printer(runner.spec());
  runner.Run(printer.Hooks(out));
  std::cerr << "rollout: wrote " << out << "\n";
  return 0;
}

// The paper's evaluation protocol (4.5, 4.6): every agent on the train, validation and test users
// of one split under the learned world, plus the test users under the oracle (ground truth).
int Evaluate(const std::vector<std::string>& args) {
  run::EvaluateSpec spec;
  RunOptions o;
  o.agents = "copycat,dpo,random,greedy";
  std::string parts, oracle;
  po::options_description desc(
      "amrs evaluate: roll out every agent on each part under the learned world (and the test part under the "
      "oracle), one episode log per part");
  desc.add_options()
    ("data", po::value(&spec.run.data)->required(), "dataset (.h5)")
    ("world", po::value(&spec.run.world)->required(), "world-model checkpoint (or 'oracle')")
    ("agents", po::value(&o.agents)->default_value(o.agents), "comma-separated registered agents")
    ("param", po::value(&o.params),
     "agent parameters KEY=VALUE,...; default: copycat=out/policy/copycat-seed-{seed}.pt and "
     "dpo=out/policy/dpo-seed-{seed}.pt for those selected")
    ("parts", po::value(&parts)->default_value("test,val,train"), "parts to evaluate")
    ("oracle", po::value(&oracle)->default_value("auto"),
     "also score the test part under the oracle: auto (if the dataset has one) | yes | no")
    ("out-dir,o", po::value(&spec.out_dir)->default_value(spec.out_dir), "writes <part>.h5 and test-oracle.h5 here");
  AddRunOptions(desc, spec.run, o);
  po::variables_map vm;
  if (!Parse("evaluate", args, desc, vm, nullptr, "--data D.h5 --world W.pt [--agents ...] [--param ...]")) return 0;
  const auto threads = Threads(o.threads);
  ApplyRunOptions(spec.run, o);
  CheckOutputDir(spec.out_dir, "--out-dir");
  for (const auto* log : {"test", "val", "train", "test-oracle"})  // the logs it may write there
    CheckOutputFile(spec.out_dir + "/" + log + ".h5", {spec.run.data, spec.run.world}, "--out-dir");
  if (!vm.count("param")) spec.run.params = run::DefaultPolicyParams(spec.run.agents);
  spec.oracle = run::ParseOracleMode(oracle);
  spec.run.parts.clear();
  for (const auto& p : SplitCommas(parts)) spec.run.parts.push_back(data::ParsePart(p));
  const auto t0 = std::chrono::steady_clock::now();
  const run::Evaluation evaluation(spec);
  RunPrinter printer(evaluation.spec().run);
  const auto r = evaluation.Run(printer.Hooks(""));
  for (const auto& l : r.logs) std::cerr << "evaluate: wrote " << l << "\n";
  std::printf("evaluate: %zu agents x %zu seeds in %.1f s; logs in %s/\n", spec.run.agents.size(),
              spec.run.seeds.size(), Seconds(t0), spec.out_dir.c_str());
  return 0;
}

}  // namespace amrs::cli
