// Linked against a static archive of the agents' objects (tests/CMakeLists.txt), not the agents
// library: every built-in agent and wrapper must still be registered, as in a static build.
#include <algorithm>

#include "amrs/agents/agent.h"

#include <doctest/doctest.h>

using namespace amrs;

TEST_CASE("a static link keeps every agent's registration") {
  const auto names = agents::AgentRegistry::Names();
  for (const char* n : {"random", "greedy", "copycat", "dpo"})
    CHECK_MESSAGE(std::count(names.begin(), names.end(), n) == 1, "missing agent ", n);
  const auto wrappers = agents::AgentRegistry::WrapperNames();
  CHECK(std::count(wrappers.begin(), wrappers.end(), "guarded") == 1);
  CHECK(agents::AgentRegistry::Has("guarded(dpo)"));
}
