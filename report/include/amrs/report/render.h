// Rendering of the comparative benchmark report (docs/report.md): the aggregated tables of
// amrs/metrics/aggregate.h as the paper's Tables 4 and 5, the oracle comparison, the whole
// report.md and a JSON summary of every number. Plain data in, strings out; reading logs and
// writing files is RunReport's job (amrs/report/report.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "amrs/metrics/aggregate.h"

namespace amrs::report {

// One episode log's identity, as the report shows it.
struct RunInfo {
  std::string file, world, part, utility, fingerprint, scenario;
  std::string seed_scope = "policy";  // what the seeds vary (/meta seed_scope; older logs: policy)
  std::string no_replay;  // the run's no-replay rule; "" (shown "unknown") for older logs
  std::int32_t split = 0, horizon = 0, topk = 0;
  std::vector<std::string> agents;
  std::vector<std::uint64_t> seeds;
  bool oracle = false;  // world is the ground truth
};

// One `amrs tune` table (tune-<kind>.json, docs/tuning.md), as the report shows it.
struct TunePointInfo {
  std::vector<std::pair<std::string, std::string>> values;  // grid key -> value (the file's key order)
  double mean = 0, sd = 0;       // validation reward over seeds
  double valence = 0, arousal = 0;
};
struct TuneInfo {
  std::string file, kind, dataset_fingerprint, world_id;
  std::vector<std::uint64_t> seeds;
  std::vector<TunePointInfo> points;
  std::size_t chosen = 0;
};

struct ReportData {
  std::vector<RunInfo> runs;
  std::string tables_world = "learned";        // world of Tables 4/5 ("oracle" when no learned log)
  std::optional<metrics::AgentRuns> table4;             // test part
  std::map<std::string, metrics::AgentRuns> table5;     // part -> runs
  std::optional<metrics::OracleComparison> oracle;
  // --world-results: file -> rendered Tables 2/3 (Markdown) and row -> metric -> per-split values
  std::vector<std::pair<std::string, std::string>> world_tables;
  std::map<std::string, std::map<std::string, std::map<std::string, std::vector<double>>>> world_results;
  std::vector<TuneInfo> tuning;                // --tune tables (section Tuning, Table 4's caption)
  std::vector<std::string> notes;              // shown at the top of the report
};

struct Figure {
  std::string file, caption;  // file relative to the report
};

// What the seeds of a seed scope ("policy", "policy+windows", "policy+windows+world") vary, as a
// caption sentence.
std::string SeedScopeCaption(const std::string& scope);

// The no-replay rule every agent of a log ran under ("session", "episode", "off"; "" = not
// recorded), as a caption sentence.
std::string NoReplayCaption(const std::string& rule);
// How the policies' hyperparameters were chosen, as Table 4's caption sentence: by `amrs tune` on
// validation users (the kinds of `tuning`), or "not recorded" when `tuning` is empty.
std::string TuningCaption(const std::vector<TuneInfo>& tuning);
// The section "Tuning (validation users)": per table its kind, seeds, grid (chosen row bold) and choice.
std::string TuningMarkdown(const std::vector<TuneInfo>& tuning);

std::string Table4Markdown(const metrics::Aggregate& t);
// parts: "train", "val", "test" (those present); Level 3 from "test".
std::string Table5Markdown(const std::map<std::string, metrics::AgentRuns>& parts);
std::string OracleMarkdown(const metrics::OracleComparison& c);
std::string ReportMarkdown(const ReportData& d, const std::vector<Figure>& figures, const std::string& figures_note);
// Every number of the tables (and per-seed values and per-step trajectories) as JSON.
std::string ReportJson(const ReportData& d);

}  // namespace amrs::report
