// A test plugin built with amrs_add_agent_plugin: one agent (the lowest-index song not yet in
// the episode's history), one wrapper, and one agent that breaks the run's rules on purpose (song
// 0 every step, banned or not: `amrs check-agent` must fail it with exit 3).
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

// Song 0 at every step and as its whole list: ignores the no-replay rule (and repeats itself).
class StuckAgent : public amrs::agents::Agent {
 public:
  std::string Name() const override { return "test-plugin-stuck"; }
  void Reset(std::uint64_t) override {}
  amrs::env::Decision Act(const amrs::env::ObservationBatch& b, std::int32_t k) override {
    amrs::env::Decision d;
    for (std::size_t i = 0; i < b.obs.size(); ++i) {
      d.actions.push_back(0);
      if (k > 0) {
        std::vector<std::int32_t> list;
        for (std::int32_t s = 0; s < k; ++s) list.push_back(s);
        d.ranked.push_back(list);
      }
    }
    return d;
  }
};

AMRS_REGISTER_AGENT("test-plugin-stuck", "a plugin agent that breaks the no-replay rule (song 0 every step)",
                    [](const amrs::agents::AgentContext&) { return std::make_unique<StuckAgent>(); });
AMRS_REGISTER_AGENT("test-plugin-fresh", "a plugin agent: the first song the episode has not played",
                    [](const amrs::agents::AgentContext&) { return std::make_unique<FreshSongAgent>(); });
AMRS_REGISTER_AGENT_WRAPPER("test-plugin-same", "a plugin wrapper that changes nothing",
                            [](std::unique_ptr<amrs::agents::Agent> inner, const amrs::agents::AgentContext&) {
                              return std::make_unique<SameAgent>(std::move(inner));
                            });

}  // namespace
