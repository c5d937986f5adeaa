#include "amrs/agents/plugin.h"

#include <dlfcn.h>

#include <algorithm>
#include <set>

#include "amrs/core/error.h"
#include "registry_internal.h"

namespace amrs::agents {

std::string LibraryAbiStamp() { return plugin_detail::AbiStamp(); }

void CheckPluginAbi(const std::string& plugin_stamp, const std::string& path) {
  const auto own = LibraryAbiStamp();
  if (plugin_stamp != own)
    throw InputError("plugin " + path + " was built against another version of the amrs library: its stamp is '" +
                     plugin_stamp + "', this library's is '" + own +
                     "' (rebuild the plugin against this installation with amrs_add_agent_plugin)");
}

std::vector<std::string> LoadPlugin(const std::string& path) {
  // dlopen searches the library path for a name without '/': a plugin is always a file.
  const std::string file = path.find('/') == std::string::npos ? "./" + path : path;
  std::vector<detail::PendingRegistration> pending;
  detail::PendingRegistrations() = &pending;
  void* handle = nullptr;
  try {
    handle = dlopen(file.c_str(), RTLD_NOW | RTLD_GLOBAL);
  } catch (...) {  // a static initializer threw (e.g. a bad agent name)
    detail::PendingRegistrations() = nullptr;
    throw;
  }
  detail::PendingRegistrations() = nullptr;
  if (!handle) {
    const char* err = dlerror();
    throw InputError("plugin " + path + ": cannot load it: " + (err ? err : "unknown error"));
  }
  const auto refuse = [&](const std::string& why) {
    pending.clear();  // the factories are the plugin's code: drop them before unloading it
    dlclose(handle);
    throw InputError("plugin " + path + ": " + why);
  };
  dlerror();
  auto* stamp = reinterpret_cast<const char* (*)()>(dlsym(handle, "amrs_plugin_abi"));
  if (!stamp)
    refuse("no ABI stamp (the function amrs_plugin_abi): build it with the CMake helper amrs_add_agent_plugin, or "
           "put AMRS_PLUGIN() in one of its source files");
  try {
    CheckPluginAbi(stamp(), path);
  } catch (const InputError&) {
    pending.clear();
    dlclose(handle);
    throw;
  }
  std::set<std::string> seen;
  std::vector<std::string> names;
  const auto agents = AgentRegistry::Names(), wrappers = AgentRegistry::WrapperNames();
  for (const auto& p : pending) {
    const auto& known = p.wrapper ? wrappers : agents;
    if (std::find(known.begin(), known.end(), p.name) != known.end() || !seen.insert((p.wrapper ? "w:" : "a:") + p.name).second)
      refuse(std::string("it registers the ") + (p.wrapper ? "wrapper" : "agent") + " '" + p.name +
             "', a name already registered");
    names.push_back(p.wrapper ? p.name + "(<agent>)" : p.name);
  }
  for (const auto& p : pending) p.commit();
  return names;
}

}  // namespace amrs::agents
