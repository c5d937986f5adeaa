// Typed, discoverable plugins: declared agent parameters and their validation, the listings,
// the world registry, and per-row utilities.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "amrs/agents/agent.h"
#include "amrs/agents/guarded.h"
#include "amrs/agents/plugin.h"
#include "amrs/core/error.h"
#include "amrs/data/synthetic.h"
#include "amrs/env/env.h"
#include "amrs/env/world.h"
#include "amrs/run/check_agent.h"
#include "test_util.h"

using namespace amrs;

namespace {

std::shared_ptr<const data::Dataset> SmallData() {
  static auto d =
      std::make_shared<const data::Dataset>(data::Generate(testing::SmallConfig(5, 12, 40, 240, 60, 8, 1)));
  return d;
}

}  // namespace

TEST_CASE("ValidateParams accepts declared keys of the selected agents and rejects the rest") {
  using agents::ValidateParams;
  CHECK_NOTHROW(ValidateParams({"copycat", "dpo"}, {{"copycat", "c-{seed}.pt"}, {"dpo.repeats", "yes"}}));
  CHECK_NOTHROW(ValidateParams({"random", "guarded(greedy)"}, {{"guard.k", "20"}, {"guard.min_valence", "-inf"}}));
  // A typo names the selected agents and what they declare.
  CHECK_THROWS_WITH_AS(ValidateParams({"copycat", "random"}, {{"copycta", "c.pt"}}),
                       doctest::Contains("unknown parameter 'copycta'"), ArgumentError);
  CHECK_THROWS_WITH_AS(ValidateParams({"copycat", "random"}, {{"copycta", "c.pt"}}),
                       doctest::Contains("copycat: copycat, copycat.repeats; random: none"), ArgumentError);
  // guard.* belongs to the wrapper: without a guarded agent it is unknown.
  CHECK_THROWS_WITH_AS(ValidateParams({"greedy"}, {{"guard.k", "20"}}), doctest::Contains("'guard.k'"),
                       ArgumentError);
  // Nested names declare the wrapper's and the inner agent's parameters.
  CHECK_NOTHROW(ValidateParams({"guarded(dpo)"}, {{"dpo", "d.pt"}, {"guard.max_repeats", "2"}}));
  // Wrong types name the parameter, its type and the agent.
  CHECK_THROWS_WITH_AS(ValidateParams({"guarded(greedy)"}, {{"guard.k", "2.5"}}),
                       doctest::Contains("parameter 'guard.k' of agent 'guarded(greedy)' is a int, got '2.5'"),
                       ArgumentError);
  CHECK_THROWS_WITH_AS(ValidateParams({"guarded(greedy)"}, {{"guard.max_arousal_step", "0.1x"}}),
                       doctest::Contains("is a number"), ArgumentError);
  CHECK_THROWS_WITH_AS(ValidateParams({"copycat"}, {{"copycat.repeats", "maybe"}}), doctest::Contains("yes|no"),
                       ArgumentError);
  CHECK_THROWS_WITH_AS(ValidateParams({"nope"}, {}), doctest::Contains("unknown agent 'nope'"), ArgumentError);
}

TEST_CASE("DescribeAgents lists every agent and wrapper with its parameters") {
  const auto text = agents::DescribeAgents();
  for (const auto& n : agents::AgentRegistry::Names())
    CHECK_MESSAGE(text.find("  " + n + ": " + agents::AgentRegistry::Description(n)) != std::string::npos, n);
  CHECK(text.find("guarded(<agent>): re-ranks") != std::string::npos);
  CHECK(text.find("guard.k (int, default 50): ") != std::string::npos);
  CHECK(text.find("copycat.repeats (yes|no): removed") != std::string::npos);
  CHECK(agents::AgentRegistry::Params("guarded(copycat)").size() ==
        agents::AgentRegistry::Params("guarded").size() + agents::AgentRegistry::Params("copycat").size());
}

TEST_CASE("GuardOptions: typed options with guard.* params over them") {
  agents::GuardOptions base;
  base.max_arousal_step = 0.1f;
  base.min_arousal_drop = 0.025f;
  const auto o = agents::GuardOptions::FromParams({{"guard.k", "8"}}, base);
  CHECK(o.k == 8);
  CHECK(o.max_arousal_step == 0.1f);
  REQUIRE(o.min_arousal_drop.has_value());
  CHECK(*o.min_arousal_drop == 0.025f);
  CHECK(agents::GuardOptions::FromParams({{"guard.max_arousal_step", "0.3"}}, base).max_arousal_step == 0.3f);
  CHECK_THROWS_WITH_AS(agents::GuardOptions::FromParams({{"guard.k", "0"}}, base), doctest::Contains("'guard.k'"),
                       ArgumentError);
}

TEST_CASE("World registry: built-in kinds, unknown specs and a registered kind") {
  const auto d = SmallData();
  CHECK(env::LoadWorld("oracle", d)->Name() == "oracle");
  CHECK(env::LoadWorld("oracle:mert", d)->catalogue().family == "mert");
  CHECK_THROWS_WITH_AS(env::LoadWorld("orcale", d), doctest::Contains("unknown world 'orcale' (kinds: oracle: "),
                       ArgumentError);
  CHECK_THROWS_WITH_AS(env::LoadWorld("orcale", d), doctest::Contains("learned: PATH.pt"), ArgumentError);
  env::WorldKind k{"test-kind", "test-world", "the oracle under another name",
                   [](const std::string& s) { return s == "test-world"; },
                   [](const std::string&, std::shared_ptr<const data::Dataset> ds) {
                     return env::MakeOracleWorld(std::move(ds));
                   }};
  if (env::WorldRegistry::Kinds().back().name != "test-kind") CHECK(env::WorldRegistry::Register(k));
  CHECK_THROWS_WITH_AS(env::WorldRegistry::Register(k), doctest::Contains("registered twice"), ArgumentError);
  CHECK(env::LoadWorld("test-world", d)->Name() == "oracle");
  const auto text = env::DescribeWorlds();
  for (const auto& kind : env::WorldRegistry::Kinds())
    CHECK(text.find("  " + kind.name + ": " + kind.spec + "\n      " + kind.description) != std::string::npos);
}

TEST_CASE("Greedy scores each row under its own env's utility") {
  const auto d = SmallData();
  const auto ctx = env::EnvContext::Create(d, env::MakeOracleWorld(d));
  env::VectorEnv v(ctx, 2);
  std::vector<env::ResetOptions> opts(2);
  opts[0].part = opts[1].part = data::Part::kTrain;
  opts[0].user = opts[1].user = ctx->Users(data::Part::kTrain).front();
  opts[0].window = opts[1].window = 0;
  opts[0].utility = Utility{0.f, 0.f, 0.f, 1.f};   // raise arousal
  opts[1].utility = Utility{0.f, 0.f, 0.f, -1.f};  // lower it
  v.Reset({1, 1}, opts);
  const auto batch = v.Batch();
  REQUIRE(batch.utility.size() == 2);
  const auto scores = batch.world->ScoreCatalogue(*batch.state);
  const auto n = static_cast<std::size_t>(ctx->world().num_songs());
  agents::AgentContext ac{ctx, {}, 0};
  const auto decision = agents::AgentRegistry::Create("greedy", ac)->Act(batch, 3);
  for (std::size_t i = 0; i < 2; ++i) {
    std::vector<float> u(n);
    for (std::size_t j = 0; j < n; ++j) u[j] = opts[i].utility(scores[i * n + j]);
    const auto best = std::max_element(u.begin(), u.end()) - u.begin();
    CHECK(decision.actions[i] == best);
    REQUIRE(decision.ranked.at(i).size() == 3);
    CHECK(decision.ranked[i][0] == best);
  }
  CHECK(decision.actions[0] != decision.actions[1]);  // the rows' objectives really differ
}

TEST_CASE("guarded(x) takes typed options from the context; guard.* params override them") {
  const auto d = SmallData();
  const auto ctx = env::EnvContext::Create(d, env::MakeOracleWorld(d));
  agents::GuardOptions one;
  one.k = 1;  // only the inner agent's first choice: guarded(greedy) acts as greedy
  agents::AgentContext typed{ctx, {}, 0, one};
  agents::AgentContext overridden{ctx, {{"guard.k", "50"}}, 0, one};
  auto greedy = agents::AgentRegistry::Create("greedy", typed);
  auto g1 = agents::AgentRegistry::Create("guarded(greedy)", typed);
  auto g50 = agents::AgentRegistry::Create("guarded(greedy)", overridden);
  env::VectorEnv v(ctx, 4);
  v.Reset(2);
  bool differs = false;
  for (int t = 0; t < 4; ++t) {
    const auto batch = v.Batch();
    const auto a = greedy->Act(batch, 0).actions;
    CHECK(g1->Act(batch, 0).actions == a);
    differs |= g50->Act(batch, 0).actions != a;  // guard.max_repeats = 1 forbids greedy's repeats
    v.Step(a);
  }
  CHECK(differs);
}

#ifdef AMRS_TEST_PLUGIN  // plugins need the shared build
TEST_CASE("Plugins: a plugin's agents are usable by name and in wrappers; bad plugins register nothing") {
  // Refused: another library version, no stamp, a name already taken, a missing file. Each names
  // the file, and none of their agents appears.
  const std::string refused = std::string("plugin ") + AMRS_TEST_PLUGIN_BAD_STAMP +
                              " was built against another version of the amrs library: its stamp is 'amrs 0.0.1;";
  CHECK_THROWS_WITH_AS(agents::LoadPlugin(AMRS_TEST_PLUGIN_BAD_STAMP), doctest::Contains(refused.c_str()), InputError);
  CHECK_THROWS_WITH_AS(agents::LoadPlugin(AMRS_TEST_PLUGIN_NO_STAMP), doctest::Contains("no ABI stamp"), InputError);
  CHECK_FALSE(agents::AgentRegistry::Has("test-refused-agent"));
  const auto random_description = agents::AgentRegistry::Description("random");
  CHECK_THROWS_WITH_AS(agents::LoadPlugin(AMRS_TEST_PLUGIN_TAKEN_NAME),
                       doctest::Contains("registers the agent 'random', a name already registered"), InputError);
  CHECK(agents::AgentRegistry::Description("random") == random_description);
  CHECK_THROWS_WITH_AS(agents::LoadPlugin("no-such-plugin.so"),
                       doctest::Contains("plugin no-such-plugin.so: cannot load it: ./no-such-plugin.so"), InputError);
  // The stamp comparison itself.
  CHECK_NOTHROW(agents::CheckPluginAbi(agents::LibraryAbiStamp(), "x.so"));
  CHECK(agents::LibraryAbiStamp().rfind(std::string("amrs ") + AMRS_VERSION_STRING + "; c++ abi ", 0) == 0);
  CHECK_THROWS_WITH_AS(agents::CheckPluginAbi(agents::LibraryAbiStamp() + "x", "x.so"),
                       doctest::Contains("plugin x.so was built against another version"), InputError);

  // Accepted: its agent and wrapper register, once.
  CHECK_FALSE(agents::AgentRegistry::Has("test-plugin-fresh"));
  CHECK(agents::LoadPlugin(AMRS_TEST_PLUGIN) ==
        std::vector<std::string>{"test-plugin-stuck", "test-plugin-fresh", "test-plugin-same(<agent>)"});
  CHECK(agents::LoadPlugin(AMRS_TEST_PLUGIN).empty());
  const auto ctx = env::EnvContext::Create(SmallData(), env::MakeOracleWorld(SmallData()));
  const agents::AgentContext ac{ctx, {}, 0};
  for (const std::string name : {"test-plugin-fresh", "guarded(test-plugin-fresh)", "test-plugin-same(greedy)"}) {
    CAPTURE(name);
    auto a = agents::AgentRegistry::Create(name, ac);
    REQUIRE(a);
    env::RecEnv e(ctx);
    e.Reset(1);
    a->Reset(1);
    const auto d = a->Act(e.Batch(), 3);
    REQUIRE(d.actions.size() == 1);
    CHECK(d.ranked.at(0).size() == 3);
  }
  // The plugin agent recommends the first song its episode has not played.
  env::RecEnv e(ctx);
  e.Reset(2);
  auto fresh = agents::AgentRegistry::Create("test-plugin-fresh", ac);
  std::set<std::int32_t> played;
  for (const auto& t : *e.Batch().obs[0].history) played.insert(t.song);
  std::int32_t first = 0;
  while (played.count(first)) ++first;
  CHECK(fresh->Act(e.Batch(), 0).actions[0] == first);
  CHECK(agents::DescribeAgents().find("test-plugin-fresh: a plugin agent") != std::string::npos);
  // It passes the conformance checks (as `amrs check-agent test-plugin-fresh --plugin ...`).
  const auto checks = run::CheckAgent("test-plugin-fresh", SmallData(), run::CheckWorlds(SmallData()));
  CHECK_MESSAGE(run::AllPassed(checks), run::FormatChecks(checks));
  // Its rule breaker does not (cli_test.py: `amrs check-agent test-plugin-stuck` exits 3).
  CHECK_FALSE(run::AllPassed(run::CheckAgent("test-plugin-stuck", SmallData(), run::CheckWorlds(SmallData()))));
}
#endif
