// An agent plugin built against the installed package with amrs_add_agent_plugin: `amrs
// evaluate|stress|check-agent --plugin libpkg_agents.so` can then name "first-unplayed".
#include "amrs/agents/agent.h"

namespace {

// The lowest-index songs the episode has not played yet (its history holds the user's window
// and every step of this episode so far).
class FirstUnplayedAgent : public amrs::agents::Agent {
 public:
  std::string Name() const override { return "first-unplayed"; }
  void Reset(std::uint64_t) override {}
  amrs::env::Decision Act(const amrs::env::ObservationBatch& b, std::int32_t k) override {
    amrs::env::Decision d;
    const std::int32_t n = b.world->num_songs(), want = k > 0 ? k : 1;
    for (const auto& o : b.obs) {
      std::vector<bool> played(static_cast<std::size_t>(n), false);
      for (const auto& t : *o.history)
        if (t.song >= 0) played[static_cast<std::size_t>(t.song)] = true;
      std::vector<std::int32_t> list;
      for (std::int32_t s = 0; s < n && static_cast<std::int32_t>(list.size()) < want; ++s)
        if (!played[static_cast<std::size_t>(s)]) list.push_back(s);
      for (std::int32_t s = 0; static_cast<std::int32_t>(list.size()) < want; ++s)
        if (played[static_cast<std::size_t>(s)]) list.push_back(s);  // everything played: repeat
      d.actions.push_back(list[0]);
      if (k > 0) d.ranked.push_back(list);
    }
    return d;
  }
};

AMRS_REGISTER_AGENT("first-unplayed", "the lowest-index songs the episode has not played",
                    [](const amrs::agents::AgentContext&) { return std::make_unique<FirstUnplayedAgent>(); });

}  // namespace
