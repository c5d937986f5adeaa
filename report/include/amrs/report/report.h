// `amrs report`: reads episode logs (and world-model results), checks them against the dataset,
// evaluates every (agent, seed) block and writes report.md, summary.json and figures (docs/report.md).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "amrs/core/episodes.h"
#include "amrs/data/dataset.h"
#include "amrs/metrics/aggregate.h"
#include "amrs/metrics/rollouts.h"
#include "amrs/report/render.h"

namespace amrs::report {

struct ReportOptions {
  // Episode logs (.h5). Several logs of one world kind and part (e.g. the built-in agents' and a
  // later one of a new agent) are merged when they describe the same experiment (RunReport).
  std::vector<std::string> logs;
  std::vector<std::string> world_results;  // results files of `amrs sweep-world` (optional)
  std::string data;                        // the dataset every log must come from
  std::string out_dir = "out/report";      // report.md, summary.json, fig-*.png
  std::string family = "mert";             // embeddings for ILD (falls back to the first family)
  std::int32_t k = 10;                     // cut-off of Hit/MRR/NDCG
  std::string python = "/usr/bin/python3"; // runs figures_script; missing: no figures, a warning
  std::string figures_script;              // scripts/figures.py; "" skips the figures
  std::vector<std::string> stress_tables;  // stress.md files of `amrs stress`, appended as they are
  // tune-<kind>.json files of `amrs tune` (section Tuning; Table 4's caption says how the
  // hyperparameters were chosen). Each must be of --data's dataset; one per kind.
  std::vector<std::string> tune_tables;
};

struct ReportResult {
  std::string markdown_path, json_path;
  std::vector<std::string> figures;  // paths of the PNGs made
  std::string figures_note;          // why figures are missing ("" when all were made)
  ReportData data;
};

// The whole report. Logs of the same world kind (learned or oracle) and part are merged when
// their dataset, world id, split, horizon, top-k, utility, scenario, seeds and episodes (users,
// windows, episode seeds per seed) agree and no agent is in two of them. Throws InputError naming
// the file (and field) for a missing or unreadable log or tune table (ReadTuneTable; two of one kind), a dataset fingerprint mismatch, logs of
// one world kind and part that differ (naming the field) or share an agent, or bad values;
// files are written to temporaries and renamed, so a failure leaves no half-written report.
ReportResult RunReport(const ReportOptions& o, std::ostream* log);

// One tune-<kind>.json of `amrs tune`. Throws InputError naming `file` (and the key) when it is
// missing, not JSON, lacks a key or has one of the wrong type, is not of the validation part, or
// was tuned on another dataset than `data_fingerprint` ("<file>: tuned on dataset fingerprint X,
// the report's data has Y").
TuneInfo ReadTuneTable(const std::string& file, const std::string& data_fingerprint);

// The logged song sequences of every user of the dataset, as the metrics take them.
metrics::LoggedSongs LoggedSongsOf(const data::Dataset& d);
// Every metric of every block of a log, per agent (errors name `file`, agent and seed).
metrics::AgentRuns EvaluateBlocks(const std::vector<EpisodeBlock>& blocks, const metrics::EvalContext& c,
                                  const std::string& file);

}  // namespace amrs::report
