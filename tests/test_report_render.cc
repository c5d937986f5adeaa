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
