// Test plugins the loader must refuse (built as plain MODULE libraries, one per definition):
// AMRS_TEST_BAD_STAMP: a stamp of another library version; AMRS_TEST_TAKEN_NAME: the agent name
// "random", already registered; neither: no stamp at all. Each also registers an agent, which
// must not appear in the registry.
#include "amrs/agents/agent.h"
#include "amrs/agents/plugin.h"

namespace {

class NothingAgent : public amrs::agents::Agent {
 public:
  std::string Name() const override { return "nothing"; }
  void Reset(std::uint64_t) override {}
  amrs::env::Decision Act(const amrs::env::ObservationBatch& b, std::int32_t) override {
    amrs::env::Decision d;
    d.actions.assign(b.size(), 0);
    return d;
  }
};

#if defined(AMRS_TEST_TAKEN_NAME)
AMRS_REGISTER_AGENT("random", "a second 'random'", [](const amrs::agents::AgentContext&) {
  return std::make_unique<NothingAgent>();
});
#else
AMRS_REGISTER_AGENT("test-refused-agent", "must not be registered", [](const amrs::agents::AgentContext&) {
  return std::make_unique<NothingAgent>();
});
#endif

}  // namespace

#if defined(AMRS_TEST_BAD_STAMP)
extern "C" __attribute__((visibility("default"))) const char* amrs_plugin_abi() {
  return "amrs 0.0.1; c++ abi 0; cxx11 strings 1; sizes 0000000000000000";
}
#elif defined(AMRS_TEST_TAKEN_NAME)
AMRS_PLUGIN()
#endif
