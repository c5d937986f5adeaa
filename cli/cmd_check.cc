// amrs check-agent: the conformance checks (amrs/run/check_agent.h) on any registered agent.
#include <iostream>

#include "amrs/agents/agent.h"
#include "amrs/core/error.h"
#include "amrs/core/paths.h"
#include "amrs/data/dataset.h"
#include "amrs/run/check_agent.h"
#include "amrs/worldmodel/world_model.h"
#include "common.h"

namespace amrs::cli {

// Exit status (the rule of every command, cli/main.cc): 0 every check passed, 3 one failed; 1 bad
// input, 2 bad options (an unknown agent).
int CheckAgent(const std::vector<std::string>& args) {
  std::string agent, data, world, params;
  std::vector<std::string> plugins;
  run::CheckAgentOptions options;
  po::options_description desc(
      "amrs check-agent: conformance checks of an agent (determinism at 1 and 2 threads, valid actions and top-k "
      "lists, a learned world and the oracle, misuse errors)");
  desc.add_options()
    ("agent", po::value(&agent)->required(), "registered agent name, or wrapper(name) (also positional)")
    ("data", po::value(&data)->default_value(""), "dataset (.h5); default: a tiny synthetic one made in memory")
    ("world", po::value(&world)->default_value(""),
     "world-model checkpoint or 'oracle'; default: an untrained learned world (the oracle is checked too when the data has one)")
    ("param", po::value(&params)->default_value(""), "agent parameters KEY=VALUE,... ({seed} is the run seed)")
    ("seed", po::value(&options.seed)->default_value(options.seed), "run seed of the checked rollouts")
    ("split", po::value(&options.split)->default_value(options.split), "MCCV split");
  AddPluginOption(desc, plugins);
  po::positional_options_description pos;
  pos.add("agent", 1);
  po::variables_map vm;
  if (!Parse("check-agent", args, desc, vm, &pos, "NAME [--plugin lib.so] [--data D.h5] [--world W.pt|oracle]"))
    return 0;
  if (!data.empty()) CheckInputFile(data, "--data");
  CheckWorldSpec(world);
  LoadPlugins(plugins);
  if (!agents::AgentRegistry::Has(agent)) agents::AgentRegistry::Create(agent, {});  // throws, listing the names
  options.params = ParseParams({params});
  worldmodel::SetTorchThreads(1);
  const auto dataset = data.empty() ? run::CheckDataset()
                                    : std::make_shared<const data::Dataset>(data::ReadDataset(data));
  if (options.split < 0 || options.split >= static_cast<std::int32_t>(dataset->splits.size()))
    throw ArgumentError("--split " + std::to_string(options.split) + ": the dataset has " +
                        std::to_string(dataset->splits.size()) + " splits");  // a bad option, not a failed check
  const auto checks = run::CheckAgent(agent, dataset, run::CheckWorlds(dataset, world), options);
  std::cout << run::FormatChecks(checks);
  const bool passed = run::AllPassed(checks);
  std::cout << "check-agent: " << agent << (passed ? ": every check passed\n" : ": FAILED\n");
  return passed ? 0 : kVerdictFailed;
}

}  // namespace amrs::cli
