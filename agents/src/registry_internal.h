// Private to the agents module: registrations held back while a plugin loads (plugin.cc).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace amrs::agents::detail {

struct PendingRegistration {
  std::string name;
  bool wrapper = false;
  std::function<void()> commit;  // adds it to the registry
};

// Non-null while a plugin loads: AgentRegistry::Register and RegisterWrapper append here instead
// of registering, so that a refused plugin registers nothing.
std::vector<PendingRegistration>*& PendingRegistrations();

}  // namespace amrs::agents::detail
