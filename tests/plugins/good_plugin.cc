// A test plugin built with amrs_add_agent_plugin: one agent (the lowest-index song not yet in
// the episode's history) and one wrapper.
#include <algorithm>

#include "amrs/agents/agent.h"

namespace {

class FreshSongAgent : public amrs::agents::Agent {
 public:
  std::string Name() const override { return "test-plugin-fresh"; }
  void Reset(std::uint64_t) override {}
  amrs::env::Decision Act(const amrs::env::ObservationBatch& b, std::int32_t k) override {
    amrs::env::Decision d;
    const auto n = b.world->num_songs();
    for (const auto& o : b.obs) {
      std::vector<char> played(static_cast<std::size_t>(n), 0);
      for (const auto& t : *o.history)
        if (t.song >= 0 && t.song < n) played[static_cast<std::size_t>(t.song)] = 1;
      std::vector<std::int32_t> list;
      for (std::int32_t s = 0; s < n && static_cast<std::int32_t>(list.size()) < std::max(k, 1); ++s)
        if (!played[static_cast<std::size_t>(s)]) list.push_back(s);
      for (std::int32_t s = 0; static_cast<std::int32_t>(list.size()) < std::max(k, 1); ++s)
        if (std::find(list.begin(), list.end(), s) == list.end()) list.push_back(s);
      d.actions.push_back(list[0]);
      if (k > 0) d.ranked.push_back(list);
    }
    return d;
  }
};

// Passes the inner agent's decisions through unchanged.
class SameAgent : public amrs::agents::Agent {
 public:
  explicit SameAgent(std::unique_ptr<amrs::agents::Agent> inner) : inner_(std::move(inner)) {}
  std::string Name() const override { return "test-plugin-same(" + inner_->Name() + ")"; }
  void Reset(std::uint64_t seed) override { inner_->Reset(seed); }
  amrs::env::Decision Act(const amrs::env::ObservationBatch& b, std::int32_t k) override { return inner_->Act(b, k); }

 private:
  std::unique_ptr<amrs::agents::Agent> inner_;
};

AMRS_REGISTER_AGENT("test-plugin-fresh", "a plugin agent: the first song the episode has not played",
                    [](const amrs::agents::AgentContext&) { return std::make_unique<FreshSongAgent>(); });
AMRS_REGISTER_AGENT_WRAPPER("test-plugin-same", "a plugin wrapper that changes nothing",
                            [](std::unique_ptr<amrs::agents::Agent> inner, const amrs::agents::AgentContext&) {
                              return std::make_unique<SameAgent>(std::move(inner));
                            });

}  // namespace
