// Agent plugins: shared libraries built against the installed package whose AMRS_REGISTER_AGENT
// lines register agents when they are loaded (`--plugin lib.so`, docs/adding-an-agent.md).
// A plugin exports the ABI stamp of the headers it was compiled with (AMRS_PLUGIN(), added by
// the CMake helper amrs_add_agent_plugin); LoadPlugin refuses a plugin whose stamp differs from
// the library's, or that has none.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "amrs/agents/agent.h"
#include "amrs/agents/version.h"

namespace amrs::agents {

namespace plugin_detail {
// The stamp of the headers this translation unit sees: version, C++ ABI and a hash of the sizes
// of the structs an agent exchanges with the library. Internal linkage on purpose: a plugin's
// copy must not be bound to the library's at load time.
[[maybe_unused]] static std::string AbiStamp() {
  const std::uint64_t sizes[] = {sizeof(AgentContext),          sizeof(Agent),
                                 sizeof(ParamSpec),             sizeof(GuardOptions),
                                 sizeof(env::Observation),      sizeof(env::ObservationBatch),
                                 sizeof(env::Decision),         sizeof(env::EnvConfig),
                                 sizeof(History),               sizeof(Token),
                                 sizeof(Feedback),              sizeof(Utility),
                                 sizeof(std::string),           sizeof(std::function<void()>),
                                 sizeof(std::vector<int>),      sizeof(std::shared_ptr<int>)};
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a over the sizes
  for (auto s : sizes) h = (h ^ s) * 1099511628211ull;
  static const char* hex = "0123456789abcdef";
  std::string digest;
  for (int i = 15; i >= 0; --i) digest += hex[(h >> (4 * i)) & 15];
#ifdef __GXX_ABI_VERSION
  const std::string cxx_abi = std::to_string(__GXX_ABI_VERSION);
#else
  const std::string cxx_abi = "unknown";
#endif
#ifdef _GLIBCXX_USE_CXX11_ABI
  const std::string string_abi = std::to_string(_GLIBCXX_USE_CXX11_ABI);
#else
  const std::string string_abi = "none";
#endif
  return std::string("amrs ") + AMRS_VERSION_STRING + "; c++ abi " + cxx_abi + "; cxx11 strings " + string_abi +
         "; sizes " + digest;
}
}  // namespace plugin_detail

// The stamp of the loaded library (what every plugin must match).
std::string LibraryAbiStamp();
// Throws InputError naming `path` and both stamps when `plugin_stamp` is not the library's.
void CheckPluginAbi(const std::string& plugin_stamp, const std::string& path);

// Loads a plugin: dlopen(RTLD_NOW | RTLD_GLOBAL), checks its stamp (amrs_plugin_abi) and only
// then registers the agents and wrappers its static initializers declared (they are held back
// while it loads). Returns the names it registered, wrappers as "w(<agent>)". Loading the same
// file again registers nothing and returns the empty list. Throws InputError naming the file
// when it cannot be loaded (with dlerror's message), has no stamp or a different one, or
// registers a name that is already taken; then nothing of it is registered and it is unloaded.
std::vector<std::string> LoadPlugin(const std::string& path);

}  // namespace amrs::agents

// Defines the plugin's stamp. Put it in exactly one source file of a plugin (the CMake helper
// amrs_add_agent_plugin adds it for you).
#define AMRS_PLUGIN()                                                                       \
  extern "C" __attribute__((visibility("default"))) const char* amrs_plugin_abi() {         \
    static const std::string stamp = ::amrs::agents::plugin_detail::AbiStamp();             \
    return stamp.c_str();                                                                   \
  }
