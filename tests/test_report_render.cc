// The rendering of the benchmark report (amrs/report/render.h): Tables 4 and 5, the oracle
// comparison, report.md and summary.json from known aggregates.
#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "aggregate_fixtures.h"
#include "amrs/metrics/rollouts.h"
#include "amrs/report/render.h"

using namespace amrs::metrics;
using amrs::testing::ThreeAgents;
using namespace amrs::report;

TEST_CASE("Table 4 Markdown: mean (SD), bold, stars, n/a and the baselines heading") {
  const auto md = Table4Markdown(Table4(ThreeAgents(true)));
  CHECK(md.find("| copycat | 0.450 (0.050)<sup>*</sup> | n/a | n/a | n/a | n/a | n/a | n/a | **0.500 (0.000)**<sup>***</sup> |\n") !=
        std::string::npos);
  CHECK(md.find("| dpo | **0.600 (0.100)** |") != std::string::npos);
  CHECK(md.find("| *Baselines and others:* | | | | | | | | |\n| random |") != std::string::npos);
}

TEST_CASE("Table 5 Markdown: bold is the highest per row, Level 3 only with a test part") {
  AgentRuns runs;
  runs["random"].Add(0, {{key::kL2Hit, 0.1}});
  runs["random"].Add(1, {{key::kL2Hit, 0.3}});
  runs["greedy"].Add(0, {{key::kL2Hit, 0.2}});
  runs["greedy"].Add(1, {{key::kL2Hit, 0.1}});
  const auto md = Table5Markdown({{"val", runs}});
  CHECK(md.find("| val | Hit@10 | **0.200** | 0.150 |") != std::string::npos);
  CHECK(md.find("Level 3") == std::string::npos);  // no test part
  CHECK(Table5Markdown({{"test", runs}}).find("Level 3 (time-step, test only)") != std::string::npos);
}

TEST_CASE("Oracle Markdown: gains with relative change and p, and the exploitation gap") {
  auto [learned, oracle] = amrs::testing::LearnedAndOracle();
  const auto md = OracleMarkdown(CompareWithOracle(learned, oracle));
  INFO(md);
  CHECK(md.find("| dpo | 0.600 | 0.470 | 0.500 | 0.400 |\n") != std::string::npos);
  CHECK(md.find("Not compared (missing from one log or run with other seeds): random.\n") != std::string::npos);
  CHECK(md.find("| valence | +0.1500 (+33.3%, p 0.035) | +0.0200 (+4.4%, p < 0.001) | +0.1300 |") != std::string::npos);
  learned.erase("dpo");
  CHECK(OracleMarkdown(CompareWithOracle(learned, oracle)).find("needs both agents in both logs") != std::string::npos);
}

TEST_CASE("Report JSON holds the table numbers; report.md holds the sections") {
  ReportData d;
  d.table4 = ThreeAgents(true);
  d.table5["test"] = ThreeAgents(true);
  d.world_results["w.h5"]["factorized-mert+pe"]["valence_r2"] = {0.2, 0.4};
  d.notes.push_back("A note.");
  const auto j = nlohmann::json::parse(ReportJson(d));
  const auto& cell = j["table4"]["rows"]["copycat"]["metrics"]["valence"];
  CHECK(cell["mean"].get<double>() == doctest::Approx(0.45));
  CHECK(cell["stars"] == "*");
  CHECK(cell["values"].size() == 3);
  CHECK(j["table4"]["rows"]["dpo"]["metrics"]["valence"]["p"].is_null());
  CHECK(j["table4"]["rows"]["dpo"]["metrics"]["valence"]["bold"] == true);
  CHECK(j["table4"]["reference"] == "dpo");
  CHECK(j["table5"]["test"]["agents"].size() == 5);
  CHECK(j["world"]["w.h5"]["factorized-mert+pe"]["valence_r2"]["mean"].get<double>() == doctest::Approx(0.3));
  CHECK(j["notes"][0] == "A note.");
  CHECK(j["tables_world"] == "learned");
  const auto md = ReportMarkdown(d, {{"fig.png", "A figure"}}, "Figures were not made: test.");
  CHECK(md.rfind("# AMRS-Sim benchmark report\n\n> A note.\n>\n\n## Runs\n", 0) == 0);
  CHECK(md.find("## Table 4") != std::string::npos);
  CHECK(md.find("## Table 5") != std::string::npos);
  CHECK(md.find("Figures were not made: test.\n\n![A figure](fig.png)\n\n*A figure*\n") != std::string::npos);
  CHECK(md.find("Seed scope policy") == std::string::npos);  // no runs: nothing to say about seeds

  // The run table shows each log's seed scope; the tables' captions say what the seeds vary.
  RunInfo run;
  run.file = "test.h5", run.world = "learned", run.part = "test", run.seed_scope = "policy+windows";
  d.runs = {run};
  const auto with_runs = ReportMarkdown(d, {}, "");
  CHECK(with_runs.find("| Seeds | Seed scope |") != std::string::npos);
  CHECK(with_runs.find(" | policy+windows |\n") != std::string::npos);
  const auto caption = SeedScopeCaption("policy+windows");
  CHECK(caption.find("evaluation windows") != std::string::npos);
  CHECK(with_runs.find("(* p < 0.05, ** p < 0.01, *** p < 0.001). " + caption) != std::string::npos);
  CHECK(with_runs.find("Bold: highest per row. " + caption) != std::string::npos);
  CHECK(nlohmann::json::parse(ReportJson(d))["runs"][0]["seed_scope"] == "policy+windows");
  CHECK(SeedScopeCaption("policy").find("SD 0") != std::string::npos);
}

TEST_CASE("The run table names each log's no-replay rule, unknown for older logs") {
  ReportData d;
  RunInfo a, b;
  a.file = "test.h5", a.world = "oracle", a.part = "test", a.no_replay = "session";
  b.file = "old.h5", b.world = "oracle", b.part = "val";  // no rule recorded
  d.runs = {a, b};
  const auto md = ReportMarkdown(d, {}, "");
  INFO(md);
  CHECK(md.find("| Top-k | No replay | Utility |") != std::string::npos);
  CHECK(md.find("| `test.h5` | oracle | test | 0 | 0 | 0 | session |") != std::string::npos);
  CHECK(md.find("| `old.h5` | oracle | val | 0 | 0 | 0 | unknown |") != std::string::npos);
  CHECK(nlohmann::json::parse(ReportJson(d))["runs"][0]["no_replay"] == "session");
}

TEST_CASE("Table 4, Table 5 and the oracle comparison's captions state the no-replay rule of their logs") {
  for (const std::string rule : {"session", "off", "episode", ""}) {
    CAPTURE(rule);
    ReportData d;
    d.table4 = ThreeAgents(true);
    d.table5["test"] = ThreeAgents(true);
    d.oracle = CompareWithOracle(amrs::testing::LearnedAndOracle().first, amrs::testing::LearnedAndOracle().second);
    RunInfo learned, oracle;
    learned.file = "test.h5", learned.world = "learned", learned.part = "test", learned.no_replay = rule;
    oracle = learned;
    oracle.file = "oracle.h5", oracle.world = "oracle", oracle.oracle = true;
    d.runs = {learned, oracle};
    const auto sentence = NoReplayCaption(rule);
    const auto md = ReportMarkdown(d, {}, "");
    INFO(md);
    // Table 4 (after the seed sentence), Table 5 and the oracle comparison: three times.
    const auto seeds = SeedScopeCaption("policy");
    CHECK(md.find(seeds + " " + sentence + " ") != std::string::npos);
    CHECK(md.find("Bold: highest per row. " + seeds + " " + sentence + "\n") != std::string::npos);
    CHECK(md.find("mean affect per agent. " + seeds + " " + sentence + "\n") != std::string::npos);
    std::size_t n = 0;
    for (auto at = md.find(sentence); at != std::string::npos; at = md.find(sentence, at + 1)) ++n;
    CHECK(n == 3);
  }
  CHECK(NoReplayCaption("session") ==
        "Every agent ran under the no-replay rule `session`: no agent may recommend a song of the current session "
        "(docs/run.md).");
  CHECK(NoReplayCaption("off").find("rule `off`: any agent may recommend any song") != std::string::npos);
  CHECK(NoReplayCaption("").find("was not recorded") != std::string::npos);
  // Logs of one table with different rules (different parts): the caption says so.
  ReportData d;
  d.table5["test"] = ThreeAgents(true);
  d.table5["val"] = ThreeAgents(true);
  RunInfo a, b;
  a.part = "test", a.no_replay = "session";
  b.part = "val", b.no_replay = "off";
  d.runs = {a, b};
  const auto md = ReportMarkdown(d, {}, "");
  CHECK(md.find("different no-replay rules (off, session; docs/run.md)") != std::string::npos);
  CHECK(md.find("Every agent ran under") == std::string::npos);
}

namespace {

TuneInfo TwoPointTable() {
  TuneInfo t;
  t.file = "tune-dpo.json", t.kind = "dpo", t.dataset_fingerprint = "0123456789abcdef", t.world_id = "w1";
  t.seeds = {0, 1};
  t.points = {{{{"epochs", "1"}, {"lr", "1e-5"}}, 0.1, 0.01, 0.2, 0.3},
              {{{"epochs", "2"}, {"lr", "1e-5"}}, 0.15, 0.02, 0.25, 0.35}};
  t.chosen = 1;
  return t;
}

}  // namespace

TEST_CASE("The Tuning section: grid table with the chosen row bold, and Table 4's caption says how tuning went") {
  ReportData d;
  d.table4 = ThreeAgents(true);
  const auto without = ReportMarkdown(d, {}, "");
  INFO(without);
  CHECK(without.find("*** p < 0.001). How the policies' hyperparameters were chosen is not recorded here (see "
                     "docs/tuning.md).\n") != std::string::npos);
  CHECK(without.find("## Tuning") == std::string::npos);
  CHECK(nlohmann::json::parse(ReportJson(d))["tuning"]["caption"] == TuningCaption({}));
  CHECK(nlohmann::json::parse(ReportJson(d))["tuning"]["tables"].empty());

  auto copycat = TwoPointTable();
  copycat.kind = "copycat", copycat.file = "tune-copycat.json", copycat.chosen = 0;
  d.tuning = {copycat, TwoPointTable()};
  const auto md = ReportMarkdown(d, {}, "");
  INFO(md);
  CHECK(md.find("*** p < 0.001). Hyperparameters of copycat and dpo: chosen on validation users with `amrs tune` "
                "(section Tuning); the test part is used for this table only.\n") != std::string::npos);
  CHECK(md.find("## Tuning (validation users)\n") < md.find("## Table 4"));
  CHECK(md.find("### dpo (`tune-dpo.json`)\n\nSeeds 0, 1; scored by world `w1`") != std::string::npos);
  CHECK(md.find("| epochs | lr | Val. reward (SD) | Valence | Arousal |\n|---|---|---|---|---|\n") != std::string::npos);
  // dpo: the second row bold; copycat: the first.
  CHECK(md.find("| 1 | 1e-5 | 0.1000 (0.0100) | 0.2000 | 0.3000 |\n| **2** | **1e-5** | **0.1500 (0.0200)** | "
                "**0.2500** | **0.3500** |\n\nChosen: epochs=2 lr=1e-5.") != std::string::npos);
  CHECK(md.find("| **1** | **1e-5** | **0.1000 (0.0100)** | **0.2000** | **0.3000** |\n| 2 | 1e-5 | 0.1500 (0.0200) "
                "|") != std::string::npos);
  const auto j = nlohmann::json::parse(ReportJson(d));
  CHECK(j["tuning"]["caption"] == TuningCaption(d.tuning));
  REQUIRE(j["tuning"]["tables"].size() == 2);
  CHECK(j["tuning"]["tables"][1]["kind"] == "dpo");
  CHECK(j["tuning"]["tables"][1]["chosen"] == 1);
  CHECK(j["tuning"]["tables"][1]["points"][1]["values"]["epochs"] == "2");
  CHECK(j["tuning"]["tables"][1]["points"][1]["val_reward"]["mean"].get<double>() == doctest::Approx(0.15));
  CHECK(TuningCaption({TwoPointTable()}).rfind("Hyperparameters of dpo: chosen", 0) == 0);
}

TEST_CASE("the simulator-uncertainty section: only when an ensemble world's logs carry disagreement") {
  ReportData d;
  d.table5["test"] = ThreeAgents(true);
  CHECK(ReportMarkdown(d, {}, "").find("Simulator uncertainty") == std::string::npos);
  AgentRuns unsure;
  unsure["greedy"].Add(0, {{key::kDisagreement, 0.08}});
  unsure["greedy"].Add(1, {{key::kDisagreement, 0.06}});
  unsure["random"].Add(0, {{key::kDisagreement, 0.05}});
  unsure["random"].Add(1, {{key::kDisagreement, 0.05}});
  d.table5["val"] = unsure;
  const auto md = ReportMarkdown(d, {}, "");
  INFO(md);
  CHECK(md.find("## Simulator uncertainty (ensemble world)") != std::string::npos);
  CHECK(md.find("| Agent | val |\n") != std::string::npos);  // the test part has none: no column
  CHECK(md.find("| greedy | 0.0700 (0.0141) |") != std::string::npos);
  CHECK(md.find("| random | 0.0500 (0.0000) |") != std::string::npos);
  const auto j = nlohmann::json::parse(ReportJson(d));
  CHECK(j["uncertainty"]["val"]["greedy"]["mean"].get<double>() == doctest::Approx(0.07));
  CHECK_FALSE(j["uncertainty"].contains("test"));
  CHECK(md.find("Is the disagreement informative?") == std::string::npos);  // no oracle error logged
}

TEST_CASE("the simulator-uncertainty section: the error against the oracle and its Spearman with the disagreement") {
  ReportData d;
  AgentRuns unsure;
  unsure["greedy"].Add(0, {{key::kDisagreement, 0.08}, {key::kOracleError, 0.10}, {key::kDisagreementErrorSpearman, 0.30},
                          {key::kValence, 0.70}, {key::kOracleValence, 0.65}, {key::kArousal, 0.60}, {key::kOracleArousal, 0.58}});
  unsure["greedy"].Add(1, {{key::kDisagreement, 0.06}, {key::kOracleError, 0.12}, {key::kDisagreementErrorSpearman, 0.20},
                          {key::kValence, 0.72}, {key::kOracleValence, 0.67}, {key::kArousal, 0.62}, {key::kOracleArousal, 0.60}});
  unsure["random"].Add(0, {{key::kDisagreement, 0.05}, {key::kOracleError, 0.04}});  // Spearman undefined
  unsure["random"].Add(1, {{key::kDisagreement, 0.05}, {key::kOracleError, 0.06}});
  d.table5["test"] = unsure;
  const auto md = ReportMarkdown(d, {}, "");
  INFO(md);
  CHECK(md.find("Is the disagreement informative?") != std::string::npos);
  CHECK(md.find("| Agent | test error | test Spearman |\n") != std::string::npos);
  CHECK(md.find("| greedy | 0.1100 (0.0141) | +0.250 (0.071) |") != std::string::npos);
  CHECK(md.find("| random | 0.0500 (0.0141) | n/a |") != std::string::npos);
  CHECK(md.find("| greedy | test | 0.710 | 0.660 | 0.610 | 0.590 |") != std::string::npos);
  CHECK(md.find("| random | test |") == std::string::npos);  // no replayed feedback logged
  const auto j = nlohmann::json::parse(ReportJson(d));
  CHECK(j["uncertainty"]["test"]["greedy"]["oracle_error"]["mean"].get<double>() == doctest::Approx(0.11));
  CHECK(j["uncertainty"]["test"]["greedy"]["disagreement_error_spearman"]["values"].size() == 2);
  CHECK_FALSE(j["uncertainty"]["test"]["random"].contains("disagreement_error_spearman"));
  CHECK(j["uncertainty"]["test"]["greedy"]["oracle_valence"]["mean"].get<double>() == doctest::Approx(0.66));
}
