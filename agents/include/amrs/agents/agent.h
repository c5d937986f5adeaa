// The Agent plugin interface and the registry by name (docs/adding-an-agent.md). An agent is
// one source file plus one AMRS_REGISTER_AGENT line; an unknown name fails with the list of
// known names.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "amrs/agents/guarded.h"
#include "amrs/core/types.h"
#include "amrs/env/env.h"
#include "amrs/env/policy.h"

namespace amrs::agents {

// What an agent may use when it is created. Shared, read-only. The objective (eq. 3) is not
// here: each observation row carries its env's utility (env::ObservationBatch::utility).
struct AgentContext {
  std::shared_ptr<const env::EnvContext> env;  // dataset, world, windows, split
  // Agent-specific options by declared name (ParamSpec), e.g. {"copycat": "out/copycat-seed-{seed}.pt"}.
  std::map<std::string, std::string> params;
  std::uint64_t seed = 0;                      // training seed of checkpointed agents
  // Typed guardrail options for guarded(...) (the stress runner derives them from a scenario's
  // guardrails); "guard.*" params override single fields. Unset: GuardOptions defaults.
  std::optional<GuardOptions> guard = std::nullopt;
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

// Sets the score of every song the batch's no-replay rule bans (ObservationBatch::banned) to
// -infinity, so that BestPerRow and TopKPerRow choose among allowed songs.
void MaskBanned(std::vector<float>& scores, const env::ObservationBatch& batch, std::int32_t num_songs);

// A parameter an agent or wrapper reads from AgentContext::params, declared at registration.
enum class ParamType {
  kString,  // any text (e.g. a checkpoint path; "{seed}" becomes the seed)
  kInt,     // a whole number
  kNumber,  // a number (inf and -inf allowed)
  kYesNo,   // "yes" or "no"
};
std::string ParamTypeName(ParamType type);  // "string", "int", "number", "yes|no"
struct ParamSpec {
  std::string name;           // the key, e.g. "copycat.repeats" or "guard.k"
  ParamType type = ParamType::kString;
  std::string default_value;  // as text; "" means none (required or unset, as the help says)
  std::string help;           // one line
};

using AgentFactory = std::function<std::unique_ptr<Agent>(const AgentContext&)>;
// A wrapper `w` makes the agent `w(x)` out of an instance of the agent x (e.g. guarded(greedy)).
using WrapperFactory = std::function<std::unique_ptr<Agent>(std::unique_ptr<Agent> inner, const AgentContext&)>;

class AgentRegistry {
 public:
  // Registers `name` with the parameters it reads; returns true (so it can initialize a
  // static). A duplicate name throws.
  static bool Register(const std::string& name, const std::string& description, AgentFactory factory,
                       std::vector<ParamSpec> params = {});
  // Registers the wrapper `name`, usable as "name(<agent>)" for any agent name the registry
  // accepts (wrappers nest). A duplicate name throws.
  static bool RegisterWrapper(const std::string& name, const std::string& description, WrapperFactory factory,
                              std::vector<ParamSpec> params = {});
  // Accepts registered names and "wrapper(inner)". Throws ArgumentError "unknown agent 'x'
  // (known: a, b, ...; wrappers: w(<agent>))" for an unknown name, inner name or wrapper.
  static std::unique_ptr<Agent> Create(const std::string& name, const AgentContext& context);
  static bool Has(const std::string& name);
  static std::vector<std::string> Names();         // registered agents, sorted (no wrappers)
  static std::vector<std::string> WrapperNames();  // sorted
  static std::string Description(const std::string& name);  // also of a bare wrapper name
  // The parameters `name` declares; for "w(inner)" the wrapper's, then the inner agent's; for a
  // bare wrapper name "w" the wrapper's own.
  // Throws ArgumentError (as Create does) for an unknown name.
  static std::vector<ParamSpec> Params(const std::string& name);

 private:
  struct Entry {
    std::string description;
    AgentFactory factory;
    std::vector<ParamSpec> params;
  };
  struct WrapperEntry {
    std::string description;
    WrapperFactory factory;
    std::vector<ParamSpec> params;
  };
  static std::map<std::string, Entry>& Map();  // function-local static: no init-order trouble
  static std::map<std::string, WrapperEntry>& Wrappers();
};

#define AMRS_AGENT_CONCAT_INNER(a, b) a##b
#define AMRS_AGENT_CONCAT(a, b) AMRS_AGENT_CONCAT_INNER(a, b)
// Registers an agent at static-initialization time:
//   AMRS_REGISTER_AGENT(name, description, factory[, {ParamSpec, ...}])
#define AMRS_REGISTER_AGENT(name, description, ...)                                          \
  static const bool AMRS_AGENT_CONCAT(amrs_agent_registered_, __LINE__) [[maybe_unused]] = \
      ::amrs::agents::AgentRegistry::Register(name, description, __VA_ARGS__)
// Registers a wrapper (used as "name(<agent>)"):
//   AMRS_REGISTER_AGENT_WRAPPER(name, description, factory[, {ParamSpec, ...}])
#define AMRS_REGISTER_AGENT_WRAPPER(name, description, ...)                                          \
  static const bool AMRS_AGENT_CONCAT(amrs_agent_wrapper_registered_, __LINE__) [[maybe_unused]] = \
      ::amrs::agents::AgentRegistry::RegisterWrapper(name, description, __VA_ARGS__)

// Checks `params` against what the selected agents (wrappers included) declare, before any
// work: throws ArgumentError for a key no selected agent declares, naming the agents and their
// known parameters, and for a value of the wrong type, naming the parameter, its type and the
// agent. Unknown agent names throw as AgentRegistry::Create does.
void ValidateParams(const std::vector<std::string>& agent_names, const std::map<std::string, std::string>& params);
// Every agent and wrapper with its description and parameters (what `amrs agents` prints).
std::string DescribeAgents();

}  // namespace amrs::agents
