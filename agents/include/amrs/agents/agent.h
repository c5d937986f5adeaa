// The Agent plugin interface and the registry by name (docs/adding-an-agent.md). An agent is
// one source file plus one AMRS_REGISTER_AGENT line; an unknown name fails with the list of
// known names.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "amrs/core/types.h"
#include "amrs/env/env.h"
#include "amrs/env/policy.h"

namespace amrs::agents {

// What an agent may use when it is created. Shared, read-only.
struct AgentContext {
  std::shared_ptr<const env::EnvContext> env;  // dataset, world, windows, split
  Utility utility;                             // the objective (eq. 3)
  // Agent-specific options, e.g. {"checkpoint": "out/policy/copycat-seed-0.pt"}.
  std::map<std::string, std::string> params;
  std::uint64_t seed = 0;                      // training seed of checkpointed agents
  std::string Param(const std::string& key, const std::string& fallback = "") const {
    auto it = params.find(key);
    return it == params.end() ? fallback : it->second;
  }
};

// A recommender. Required methods are pure virtual. Not thread-safe: the rollout engine makes
// one per worker through the registry.
class Agent : public env::Policy {
 public:
  virtual std::string Name() const = 0;
};

// Helpers for agents that score every song: scores are row-major rows x num_songs.
// The best song per row (ties: the lower index).
std::vector<std::int32_t> BestPerRow(const std::vector<float>& scores, std::size_t rows, std::int32_t num_songs);
// The top-k songs per row, best first (ties: the lower index).
std::vector<std::vector<std::int32_t>> TopKPerRow(const std::vector<float>& scores, std::size_t rows,
                                                  std::int32_t num_songs, std::int32_t k);

using AgentFactory = std::function<std::unique_ptr<Agent>(const AgentContext&)>;
// A wrapper `w` makes the agent `w(x)` out of an instance of the agent x (e.g. guarded(greedy)).
using WrapperFactory = std::function<std::unique_ptr<Agent>(std::unique_ptr<Agent> inner, const AgentContext&)>;

class AgentRegistry {
 public:
  // Registers `name`; returns true (so it can initialize a static). A duplicate name throws.
  static bool Register(const std::string& name, const std::string& description, AgentFactory factory);
  // Registers the wrapper `name`, usable as "name(<agent>)" for any agent name the registry
  // accepts (wrappers nest). A duplicate name throws.
  static bool RegisterWrapper(const std::string& name, const std::string& description, WrapperFactory factory);
  // Accepts registered names and "wrapper(inner)". Throws ArgumentError "unknown agent 'x'
  // (known: a, b, ...; wrappers: w(<agent>))" for an unknown name, inner name or wrapper.
  static std::unique_ptr<Agent> Create(const std::string& name, const AgentContext& context);
  static bool Has(const std::string& name);
  static std::vector<std::string> Names();         // registered agents, sorted (no wrappers)
  static std::vector<std::string> WrapperNames();  // sorted
  static std::string Description(const std::string& name);

 private:
  struct Entry {
    std::string description;
    AgentFactory factory;
  };
  struct WrapperEntry {
    std::string description;
    WrapperFactory factory;
  };
  static std::map<std::string, Entry>& Map();  // function-local static: no init-order trouble
  static std::map<std::string, WrapperEntry>& Wrappers();
};

#define AMRS_AGENT_CONCAT_INNER(a, b) a##b
#define AMRS_AGENT_CONCAT(a, b) AMRS_AGENT_CONCAT_INNER(a, b)
// Registers an agent factory under `name` at static-initialization time.
#define AMRS_REGISTER_AGENT(name, description, factory)                                     \
  static const bool AMRS_AGENT_CONCAT(amrs_agent_registered_, __LINE__) [[maybe_unused]] = \
      ::amrs::agents::AgentRegistry::Register(name, description, factory)
// Registers a wrapper factory under `name` (used as "name(<agent>)").
#define AMRS_REGISTER_AGENT_WRAPPER(name, description, factory)                                     \
  static const bool AMRS_AGENT_CONCAT(amrs_agent_wrapper_registered_, __LINE__) [[maybe_unused]] = \
      ::amrs::agents::AgentRegistry::RegisterWrapper(name, description, factory)

}  // namespace amrs::agents
