// amrs agents, amrs worlds: the registered plugins, as the libraries describe them.
#include <iostream>

#include "amrs/agents/agent.h"
#include "amrs/env/world.h"
#include "common.h"

namespace amrs::cli {

int ListAgents(const std::vector<std::string>& args) {
  std::vector<std::string> plugins;
  po::options_description desc("amrs agents: every registered agent and wrapper with its description and parameters");
  AddPluginOption(desc, plugins);
  po::variables_map vm;
  if (!Parse("agents", args, desc, vm, nullptr, "[--plugin lib.so]")) return 0;
  LoadPlugins(plugins);
  std::cout << amrs::agents::DescribeAgents();
  return 0;
}

int ListWorlds(const std::vector<std::string>& args) {
  po::options_description desc("amrs worlds: the world kinds a --world spec can name");
  po::variables_map vm;
  if (!Parse("worlds", args, desc, vm, nullptr, "")) return 0;
  std::cout << amrs::env::DescribeWorlds();
  return 0;
}

}  // namespace amrs::cli
