// amrs stress: scenario files through the stress runner (amrs/scenarios/stress.h).
#include <tbb/global_control.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>

#include "amrs/core/atomic_file.h"
#include "amrs/core/error.h"
#include "amrs/core/paths.h"
#include "amrs/scenarios/scenario.h"
#include "amrs/scenarios/stress.h"
#include "amrs/worldmodel/world_model.h"
#include "amrs/distributed/distributed.h"
#include "common.h"

namespace amrs::cli {

// Exit status (the rule of every command, cli/main.cc): 0 every required guardrail passed,
// 3 one failed; 1 bad input, 2 bad options (then nothing is written).
int Stress(const std::vector<std::string>& args) {
  std::vector<std::string> files, params_s, plugins;
  std::string out, data, world, agents, seed_scope, no_replay;
  std::int32_t threads = 0;
  bool quiet = false;
  po::options_description desc("amrs stress: run scenario files (agents x seeds) and check their guardrails");
  desc.add_options()
    ("scenario", po::value(&files)->composing(), "scenario files (.toml), also as positional arguments")
    ("out,o", po::value(&out)->default_value("out/stress.h5"), "results (.h5); the Markdown table goes next to it (.md)")
    ("data", po::value(&data)->default_value(""), "dataset (.h5) for every scenario, instead of the files' 'data'")
    ("world", po::value(&world)->default_value(""), "world checkpoint or 'oracle' for every scenario, instead of 'world'")
    ("agents", po::value(&agents)->default_value(""), "comma-separated agents for every scenario, instead of 'agents'")
    ("param", po::value(&params_s)->composing(), "agent parameters KEY=VALUE[,KEY=VALUE...] over the files' [params]")
    ("seed-scope", po::value(&seed_scope)->default_value(""),
     "what the seeds vary, for every scenario, instead of the files' 'seed_scope': policy | policy+windows | "
     "policy+windows+world")
    ("no-replay", po::value(&no_replay)->default_value(""),
     "session | episode | off for every scenario, instead of the files' 'no_replay' (default session)")
    ("threads", po::value(&threads)->default_value(0), "TBB worker threads (0: all cores)")
    ("quiet,q", po::bool_switch(&quiet), "no progress bar");
  AddPluginOption(desc, plugins);
  po::positional_options_description pos;
  pos.add("scenario", -1);
  po::variables_map vm;
  if (!Parse("stress", args, desc, vm, &pos, "SCENARIO.toml... [--out stress.h5] [--data D.h5] [--world W.pt|oracle] [--agents a,b]"))
    return 0;
  if (files.empty()) throw ArgumentError("no scenario files given");
  if (threads < 0) throw ArgumentError("--threads must be >= 0");
  std::filesystem::path md = out;
  md.replace_extension(".md");
  for (const auto& f : files) CheckInputFile(f, "--scenario");
  if (!data.empty()) CheckInputFile(data, "--data");
  CheckWorldSpec(world);
  CheckOutputFile(out, {}, "--out");
  LoadPlugins(plugins);
  std::unique_ptr<tbb::global_control> gc;
  if (threads > 0) gc = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, threads);
  worldmodel::SetTorchThreads(1);
  scenarios::Overrides o;
  o.data = data;
  o.world = world;
  if (!agents.empty()) o.agents = SplitCommas(agents);
  o.params = ParseParams(params_s);
  if (!seed_scope.empty()) o.seed_scope = run::SeedScopeName(run::ParseSeedScope(seed_scope));
  if (!no_replay.empty()) {
    try {
      o.no_replay = env::ParseNoReplay(no_replay);
    } catch (const ArgumentError& e) {
      throw ArgumentError(std::string("--no-replay: ") + e.what());
    }
  }
  std::vector<scenarios::Scenario> scenarios;
  for (const auto& f : files) scenarios.push_back(scenarios::ParseScenario(f, o));
  std::vector<std::string> inputs = files;  // every file read, the scenarios' own data and worlds too
  for (const auto& s : scenarios) inputs.insert(inputs.end(), {s.data, s.world});
  CheckOutputFile(out, inputs, "--out");
  CheckOutputFile(md.string(), inputs, "--out (its .md)");
  std::cerr << "stress: " << scenarios.size() << " scenario(s)\n";
  std::unique_ptr<ProgressBar> bar;
  std::string label;
  std::mutex mu;
  const auto report = scenarios::RunStress(scenarios, [&](const std::string& l, std::int64_t done, std::int64_t total) {
    if (quiet) return;
    std::lock_guard<std::mutex> lock(mu);
    if (l != label) bar = std::make_unique<ProgressBar>(l), label = l;
    bar->Update(done, total);
  });
  bar.reset();
  if (distributed::Current().root()) {  // every rank holds the whole report; rank 0 writes it
    scenarios::WriteStressHdf5(report, out, kVersion);
    WriteFileAtomically(md.string(), scenarios::StressMarkdown(report));
  }
  std::cout << scenarios::StressTable(report);
  const bool failed = report.RequiredFailed();
  std::cout << (failed ? "stress: FAILED: a required guardrail is violated above its allowed rate\n"
                       : "stress: every required guardrail passed\n");
  std::cerr << "stress: wrote " << out << " and " << md.string() << "\n";
  return failed ? kVerdictFailed : 0;
}

}  // namespace amrs::cli
