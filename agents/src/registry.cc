#include "amrs/agents/agent.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>
#include <sstream>

#include "amrs/core/error.h"
#include "registry_internal.h"

namespace amrs::agents {
namespace {

// Splits "w(inner)" into {"w", "inner"}; false for a plain name.
bool SplitWrapped(const std::string& name, std::string* wrapper, std::string* inner) {
  const auto open = name.find('(');
  if (open == std::string::npos || open == 0 || name.size() < open + 3 || name.back() != ')') return false;
  *wrapper = name.substr(0, open);
  *inner = name.substr(open + 1, name.size() - open - 2);
  return true;
}

}  // namespace

std::vector<detail::PendingRegistration>*& detail::PendingRegistrations() {
  static std::vector<PendingRegistration>* pending = nullptr;
  return pending;
}

std::map<std::string, AgentRegistry::Entry>& AgentRegistry::Map() {
  static std::map<std::string, Entry> m;
  return m;
}

std::map<std::string, AgentRegistry::WrapperEntry>& AgentRegistry::Wrappers() {
  static std::map<std::string, WrapperEntry> m;
  return m;
}

bool AgentRegistry::Register(const std::string& name, const std::string& description, AgentFactory factory,
                             std::vector<ParamSpec> params) {
  if (name.empty() || !factory) throw ArgumentError("agent registry: empty name or factory");
  if (name.find_first_of("(),") != std::string::npos)
    throw ArgumentError("agent registry: '" + name + "' may not contain '(', ')' or ','");
  if (auto* pending = detail::PendingRegistrations()) {
    pending->push_back({name, false, [name, description, factory, params] {
                          Register(name, description, factory, params);
                        }});
    return true;
  }
  if (!Map().emplace(name, Entry{description, std::move(factory), std::move(params)}).second)
    throw ArgumentError("agent registry: '" + name + "' is registered twice");
  return true;
}

bool AgentRegistry::RegisterWrapper(const std::string& name, const std::string& description, WrapperFactory factory,
                                    std::vector<ParamSpec> params) {
  if (name.empty() || !factory) throw ArgumentError("agent registry: empty wrapper name or factory");
  if (name.find_first_of("(),") != std::string::npos)
    throw ArgumentError("agent registry: wrapper '" + name + "' may not contain '(', ')' or ','");
  if (auto* pending = detail::PendingRegistrations()) {
    pending->push_back({name, true, [name, description, factory, params] {
                          RegisterWrapper(name, description, factory, params);
                        }});
    return true;
  }
  if (!Wrappers().emplace(name, WrapperEntry{description, std::move(factory), std::move(params)}).second)
    throw ArgumentError("agent registry: wrapper '" + name + "' is registered twice");
  return true;
}

std::vector<std::string> AgentRegistry::Names() {
  std::vector<std::string> v;
  for (const auto& [k, e] : Map()) v.push_back(k);
  return v;
}

std::vector<std::string> AgentRegistry::WrapperNames() {
  std::vector<std::string> v;
  for (const auto& [k, e] : Wrappers()) v.push_back(k);
  return v;
}

bool AgentRegistry::Has(const std::string& name) {
  std::string wrapper, inner;
  if (SplitWrapped(name, &wrapper, &inner)) return Wrappers().count(wrapper) > 0 && Has(inner);
  return Map().count(name) > 0;
}

std::string AgentRegistry::Description(const std::string& name) {
  std::string wrapper, inner;
  if (SplitWrapped(name, &wrapper, &inner)) {
    auto it = Wrappers().find(wrapper);
    return it == Wrappers().end() || !Has(inner) ? "" : it->second.description + ", around " + inner;
  }
  auto it = Map().find(name);
  if (it != Map().end()) return it->second.description;
  auto w = Wrappers().find(name);
  return w == Wrappers().end() ? "" : w->second.description;
}

std::vector<ParamSpec> AgentRegistry::Params(const std::string& name) {
  if (Map().count(name) == 0 && Wrappers().count(name)) return Wrappers().at(name).params;
  if (!Has(name)) Create(name, {});  // throws, naming the unknown agent
  std::string wrapper, inner;
  if (!SplitWrapped(name, &wrapper, &inner)) return Map().at(name).params;
  auto out = Wrappers().at(wrapper).params;
  for (auto& p : Params(inner)) out.push_back(std::move(p));
  return out;
}

std::unique_ptr<Agent> AgentRegistry::Create(const std::string& name, const AgentContext& context) {
  std::string wrapper, inner;
  const bool wrapped = SplitWrapped(name, &wrapper, &inner);
  const bool known = wrapped ? Wrappers().count(wrapper) > 0 : Map().count(name) > 0;
  if (!known) {
    std::string list;
    for (const auto& n : Names()) list += (list.empty() ? "" : ", ") + n;
    std::string wrappers;
    for (const auto& n : WrapperNames()) wrappers += (wrappers.empty() ? "" : ", ") + n + "(<agent>)";
    throw ArgumentError("unknown agent '" + (wrapped ? wrapper + "(...)" : name) + "' (known: " + list +
                        (wrappers.empty() ? "" : "; wrappers: " + wrappers) + ")");
  }
  if (wrapped && !Has(inner)) return Create(inner, context);  // throws, naming the unknown inner agent
  if (!context.env) throw ArgumentError("agent '" + name + "': the context has no env");
  auto agent = wrapped ? Wrappers().at(wrapper).factory(Create(inner, context), context) : Map().at(name).factory(context);
  if (!agent) throw Error("agent '" + name + "': its factory returned no agent");
  return agent;
}

std::string ParamTypeName(ParamType type) {
  switch (type) {
    case ParamType::kString: return "string";
    case ParamType::kInt: return "int";
    case ParamType::kNumber: return "number";
    case ParamType::kYesNo: return "yes|no";
  }
  return "?";
}

namespace {

bool HasType(const std::string& v, ParamType type) {
  if (type == ParamType::kString) return true;
  if (type == ParamType::kYesNo) return v == "yes" || v == "no";
  std::size_t used = 0;
  double x = 0;
  try {
    x = std::stod(v, &used);
  } catch (const std::exception&) {
    return false;
  }
  if (v.empty() || used != v.size() || std::isnan(x)) return false;
  return type == ParamType::kNumber || (std::isfinite(x) && x == std::floor(x));
}

std::string NamesOf(const std::vector<ParamSpec>& specs) {
  std::string out;
  for (const auto& p : specs) out += (out.empty() ? "" : ", ") + p.name;
  return out.empty() ? "none" : out;
}

}  // namespace

void ValidateParams(const std::vector<std::string>& agent_names, const std::map<std::string, std::string>& params) {
  std::vector<std::pair<std::string, std::vector<ParamSpec>>> declared;
  for (const auto& a : agent_names) declared.emplace_back(a, AgentRegistry::Params(a));
  for (const auto& [key, value] : params) {
    bool found = false;
    for (const auto& [agent, specs] : declared)
      for (const auto& p : specs) {
        if (p.name != key) continue;
        found = true;
        if (!HasType(value, p.type))
          throw ArgumentError("parameter '" + key + "' of agent '" + agent + "' is a " + ParamTypeName(p.type) +
                              ", got '" + value + "'");
      }
    if (found) continue;
    std::string known;
    for (const auto& [agent, specs] : declared) known += (known.empty() ? "" : "; ") + agent + ": " + NamesOf(specs);
    throw ArgumentError("unknown parameter '" + key + "': no selected agent declares it (" + known +
                        "; `amrs agents` lists every agent's parameters)");
  }
}

std::string DescribeAgents() {
  std::ostringstream os;
  auto params = [&os](const std::vector<ParamSpec>& specs) {
    for (const auto& p : specs)
      os << "      " << p.name << " (" << ParamTypeName(p.type)
         << (p.default_value.empty() ? "" : ", default " + p.default_value) << "): " << p.help << "\n";
  };
  os << "agents:\n";
  for (const auto& n : AgentRegistry::Names()) {
    os << "  " << n << ": " << AgentRegistry::Description(n) << "\n";
    params(AgentRegistry::Params(n));
  }
  os << "wrappers (use as name(<agent>); they also take the inner agent's parameters):\n";
  for (const auto& n : AgentRegistry::WrapperNames()) {
    os << "  " << n << "(<agent>): " << AgentRegistry::Description(n) << "\n";
    params(AgentRegistry::Params(n));
  }
  return os.str();
}

std::vector<std::int32_t> BestPerRow(const std::vector<float>& scores, std::size_t rows, std::int32_t num_songs) {
  std::vector<std::int32_t> out(rows);
  for (std::size_t i = 0; i < rows; ++i) {
    const float* row = scores.data() + i * static_cast<std::size_t>(num_songs);
    out[i] = static_cast<std::int32_t>(std::max_element(row, row + num_songs) - row);
  }
  return out;
}

void MaskBanned(std::vector<float>& scores, const env::ObservationBatch& batch, std::int32_t num_songs) {
  for (std::size_t i = 0; i < batch.banned.size() && i < batch.size(); ++i)
    for (auto s : batch.banned[i])
      scores[i * static_cast<std::size_t>(num_songs) + static_cast<std::size_t>(s)] =
          -std::numeric_limits<float>::infinity();
}

std::vector<std::vector<std::int32_t>> TopKPerRow(const std::vector<float>& scores, std::size_t rows,
                                                  std::int32_t num_songs, std::int32_t k) {
  const std::int32_t kk = std::max(0, std::min(k, num_songs));
  std::vector<std::vector<std::int32_t>> out(rows);
  std::vector<std::int32_t> idx(static_cast<std::size_t>(num_songs));
  for (std::size_t i = 0; i < rows; ++i) {
    const float* row = scores.data() + i * static_cast<std::size_t>(num_songs);
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + kk, idx.end(), [row](std::int32_t a, std::int32_t b) {
      return row[a] > row[b] || (row[a] == row[b] && a < b);
    });
    out[i].assign(idx.begin(), idx.begin() + kk);
  }
  return out;
}

}  // namespace amrs::agents
