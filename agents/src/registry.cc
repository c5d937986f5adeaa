#include "amrs/agents/agent.h"

#include "amrs/core/error.h"

namespace amrs::agents {

std::map<std::string, AgentRegistry::Entry>& AgentRegistry::Map() {
  static std::map<std::string, Entry> m;
  return m;
}

bool AgentRegistry::Register(const std::string& name, const std::string& description, AgentFactory factory) {
  if (name.empty() || !factory) throw ArgumentError("agent registry: empty name or factory");
  if (!Map().emplace(name, Entry{description, std::move(factory)}).second)
    throw ArgumentError("agent registry: '" + name + "' is registered twice");
  return true;
}

std::vector<std::string> AgentRegistry::Names() {
  std::vector<std::string> v;
  for (const auto& [k, e] : Map()) v.push_back(k);
  return v;
}

bool AgentRegistry::Has(const std::string& name) { return Map().count(name) > 0; }

std::string AgentRegistry::Description(const std::string& name) {
  auto it = Map().find(name);
  return it == Map().end() ? "" : it->second.description;
}

std::unique_ptr<Agent> AgentRegistry::Create(const std::string& name, const AgentContext& context) {
  auto it = Map().find(name);
  if (it == Map().end()) {
    std::string known;
    for (const auto& n : Names()) known += (known.empty() ? "" : ", ") + n;
    throw ArgumentError("unknown agent '" + name + "' (known: " + known + ")");
  }
  if (!context.env) throw ArgumentError("agent '" + name + "': the context has no env");
  return it->second.factory(context);
}

}  // namespace amrs::agents
