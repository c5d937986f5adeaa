// amrs agents, amrs worlds: the registered plugins, as the libraries describe them.
#include <iostream>

#include "amrs/agents/agent.h"
#include "amrs/env/world.h"
#include "common.h"

namespace amrs::cli {
namespace {

// Neither command takes options; "--help" prints what it lists.
int List(const std::vector<std::string>& args, const char* command, const char* what, const std::string& text) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << "usage: amrs " << command << "\n  lists " << what << "\n";
    return 0;
  }
  if (!args.empty()) {
    std::cerr << "amrs " << command << ": error: unexpected argument '" << args[0] << "'\n";
    return 2;
  }
  std::cout << text;
  return 0;
}

}  // namespace

int ListAgents(const std::vector<std::string>& args) {
  return List(args, "agents", "every registered agent and wrapper with its description and parameters",
              amrs::agents::DescribeAgents());
}

int ListWorlds(const std::vector<std::string>& args) {
  return List(args, "worlds", "the world kinds a --world spec can name", amrs::env::DescribeWorlds());
}

}  // namespace amrs::cli
