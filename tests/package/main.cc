// An outside project using the installed package: it registers its own agent, then runs it in
// the env on a tiny synthetic population through the registry.
#include <iostream>

#include "amrs/agents/agent.h"
#include "amrs/data/summary.h"
#include "amrs/data/synthetic.h"
#include "amrs/env/rollout.h"
#include "amrs/env/world.h"

namespace {

// Always recommends the first song of the catalogue.
class FirstSongAgent : public amrs::agents::Agent {
 public:
  std::string Name() const override { return "first-song"; }
  void Reset(std::uint64_t) override {}
  amrs::env::Decision Act(const amrs::env::ObservationBatch& b, std::int32_t k) override {
    amrs::env::Decision d;
    d.actions.assign(b.size(), 0);
    std::vector<std::int32_t> top;
    for (std::int32_t i = 0; i < k; ++i) top.push_back(i);
    if (k > 0) d.ranked.assign(b.size(), top);
    return d;
  }
};

AMRS_REGISTER_AGENT("first-song", "an outside agent",
                    [](const amrs::agents::AgentContext&) { return std::make_unique<FirstSongAgent>(); });

}  // namespace

int main() {
  amrs::data::GeneratorConfig c;
  c.num_users = 10;
  c.num_sessions = 30;
  c.num_interactions = 120;
  c.num_songs = 50;
  c.embedding_dim = 8;
  c.num_splits = 1;
  auto d = std::make_shared<const amrs::data::Dataset>(amrs::data::Generate(c));
  const auto s = amrs::data::Summarize(*d);
  std::cout << "consumer: " << s.users << " users, " << s.interactions << " interactions\n";
  const auto ctx = amrs::env::EnvContext::Create(d, amrs::env::MakeOracleWorld(d));
  amrs::agents::AgentContext ac{ctx, {}, 0};
  amrs::env::RolloutOptions options;
  options.reset.no_replay = amrs::env::NoReplay::kOff;  // the agent's own choice, never replaced
  const auto block = amrs::env::RunRollouts(
      ctx, [&] { return amrs::agents::AgentRegistry::Create("first-song", ac); }, "first-song", 0, options);
  bool all_first = !block.actions.empty();
  for (auto a : block.actions) all_first = all_first && a == 0;
  std::cout << "consumer agent: " << block.episodes() << " episodes, " << (all_first ? "all actions 0" : "WRONG")
            << "\n";
  return (s.users == 10 && all_first) ? 0 : 1;
}
